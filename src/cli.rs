//! The command-line surface (clap derive structs only). Doc comments are the help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Keeps API keys out of git, and handles the aftermath when one gets in.
#[derive(Debug, Parser)]
#[command(name = "keywarden", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Never use colour (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Read settings from this file instead of .keywarden.toml at the repository root.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Run as if keywarden was started in DIR (as `git -C DIR`): repositories, relative
    /// paths and the files it writes are all taken from there.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Never prompt: answer yes to every confirmation (optional offers, such as opening a
    /// page, are declined).
    #[arg(long, short, global = true)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan the working tree, the staged index, a commit range or all history for keys.
    Scan(ScanArgs),
    /// Install the git hooks (pre-commit, pre-push, post-checkout, post-merge) in this
    /// repository and make .gitignore cover local env files.
    Install(InstallArgs),
    /// Remove exactly what `keywarden install` added, putting chained hooks back.
    Uninstall(UninstallArgs),
    /// Show whether the hooks are installed and where, chained hooks, .gitignore coverage
    /// and tracked env files.
    Status,
    /// Run one hook: what the installed shims call (pre-commit, pre-push, post-checkout,
    /// post-merge).
    Hook(HookArgs),
    /// Remove secrets (and files) from all of history: every branch, tag, note, stash entry
    /// and worktree, with a backup first and a check afterwards.
    Purge(PurgeArgs),
    /// The key registry and the OS keyring: add, list, check, forget and revoke keys.
    Keys(KeysArgs),
    /// Run a command with the stored keys in its environment (`keywarden run -- CMD ARGS…`).
    Run(RunArgs),
    /// Rotate keys: a new key (through the provider's API where it can), every file that
    /// holds the old one edited at once, the keyring updated, the old key revoked. Also
    /// lists keys due for rotation (`--check`, for cron and CI) and prints a schedule for it.
    Rotate(RotateArgs),
    /// After a leak: where the key is and whether it is public (and, with an admin key,
    /// whether it was used), then revoke it, replace it, purge it from history and write a
    /// report — resumable at every step (`keywarden incident` again goes on).
    Incident(IncidentArgs),
    /// Print a completion script for a shell (bash, zsh, fish, powershell or elvish).
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout, or write one page per command to a
    /// directory with --output.
    Man(ManArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Grouped by file, for people.
    Human,
    /// One JSON document: findings, skipped files, summary.
    Json,
    /// One JSON object per finding and line.
    Jsonl,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitLab's secret-detection report (gl-secret-detection-report.json).
    Gitlab,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (default: the current directory). With --history,
    /// --all-objects, --range, --staged or --ci: the repository to scan (one PATH, default
    /// the one around the current directory), as `gitleaks git PATH` takes it.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Scan what this CI run brings, read from the CI's environment: on GitHub Actions the
    /// pushed commits (`before..after` of the push) or the pull request's
    /// (`base..head`); on GitLab CI the merge request's
    /// (`CI_MERGE_REQUEST_DIFF_BASE_SHA..CI_COMMIT_SHA`) or the pushed ones
    /// (`CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA`); all history of the commit on a new
    /// branch's first push. With --range, that range. Needs the history in the clone
    /// (fetch-depth: 0 / GIT_DEPTH: 0).
    #[arg(long, conflicts_with_all = ["staged", "history", "all_objects"])]
    pub ci: bool,

    /// Scan what the next commit would record (the index; honours GIT_INDEX_FILE).
    #[arg(long, conflicts_with_all = ["range", "history", "all_objects"])]
    pub staged: bool,

    /// Scan what the commits of a range introduced (`A..B`, `A...B`, or `REV` for all of
    /// its history); each finding names the commit that introduced it.
    #[arg(long, value_name = "A..B", conflicts_with_all = ["history", "all_objects"])]
    pub range: Option<String>,

    /// Scan every blob reachable from every ref, and every commit and tag message.
    #[arg(long)]
    pub history: bool,

    /// Like --history, and also every other object in the object database (dangling
    /// blobs, unreachable commits).
    #[arg(long)]
    pub all_objects: bool,

    /// Include files that .gitignore excludes (working-tree scans).
    #[arg(long)]
    pub no_ignore: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the full keys. Without this flag keys are only ever shown redacted.
    #[arg(long)]
    pub show_secrets: bool,

    /// Do not report findings recorded in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Record the current findings in FILE as the baseline (and exit 0).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Only run these rules (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,

    /// Switch off these rules (repeatable).
    #[arg(long = "disable-rule", value_name = "ID")]
    pub disabled_rules: Vec<String>,

    /// Skip files larger than this many bytes (default 10 MiB, or scan.max_file_size).
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,

    /// List every skipped file, not only the counts.
    #[arg(long, short)]
    pub verbose: bool,

    /// Ask each key's provider whether it still works (contacts the provider over the
    /// network; each distinct key is checked once).
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write keywarden.1 and one page per command (keywarden-scan.1, …) into DIR instead
    /// of printing the main page.
    #[arg(long, short, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Store a key in the keyring and record it in the registry. The key is read from a
    /// hidden prompt, or from stdin when stdin is not a terminal — never from the command
    /// line. A whole `NAME=value` line (as in a .env file) is taken for its value.
    Add(KeysAddArgs),
    /// List the registered keys: name, provider, variable, redacted key, age, where used.
    List(KeysListArgs),
    /// Ask the key's provider now whether it still works: exit 0 dead, 1 live, 2 unknown.
    Check(KeysCheckArgs),
    /// Remove a key from the keyring and the registry (it stays valid at the provider).
    Forget(KeysForgetArgs),
    /// Revoke a key at its provider: through the API where the provider allows it (OpenAI
    /// with an admin key, GitHub, Slack), else the exact manual steps; then check until the
    /// key is dead. The key: a registered NAME, --secret-stdin, or --finding FINGERPRINT.
    Revoke(KeysRevokeArgs),
    /// Register the keys found in env files (default: every env file of this repository,
    /// also ignored ones) — one record per key, with every file and variable it is in — so
    /// their ages are tracked and rotation finds them. Keys stay where they are unless
    /// --move.
    Import(KeysImportArgs),
}

#[derive(Debug, Args)]
pub struct KeysImportArgs {
    /// The files to read (default: `.env`, `.env.*`, `*.env` and `.envrc` in every work
    /// tree of this repository).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Also put each key into the keyring and empty its value in the files (after showing
    /// the change and asking), so that `keywarden run -- CMD` supplies it and no plaintext
    /// file holds it.
    #[arg(long = "move")]
    pub move_into_keyring: bool,
}

#[derive(Debug, Args)]
pub struct KeysAddArgs {
    /// A name for the key (letters, digits, `-`, `_`, `.`), e.g. `openai-prod`.
    pub name: String,

    /// The provider: openai, anthropic, github, gitlab, aws, stripe, slack, google,
    /// huggingface, private-key or generic (default: told by the key's prefix, such as
    /// `sk-proj-` or `ghp_`; a prefix that contradicts it is refused).
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,

    /// The environment variable `keywarden run` puts the key in (default: the variable of
    /// a `NAME=value` line given as the key, else the provider's usual one, e.g.
    /// OPENAI_API_KEY).
    #[arg(long, value_name = "VAR")]
    pub env_var: Option<String>,

    /// A file the key is used in, e.g. `api/.env` (repeatable; recorded with its absolute
    /// path, the variable and its repository).
    #[arg(long = "used-in", value_name = "FILE")]
    pub used_in: Vec<String>,

    /// Read the key from stdin even when it is a terminal.
    #[arg(long)]
    pub secret_stdin: bool,

    /// Store the key without asking its provider whether it works.
    #[arg(long)]
    pub no_verify: bool,

    /// Replace a key that is already registered under this name.
    #[arg(long)]
    pub replace: bool,

    /// Refused: keys are never taken from the command line (see --secret-stdin).
    #[arg(hide = true, value_name = "KEY")]
    pub stray: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct KeysListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

/// Which key a `keys check` or `keys revoke` acts on: a registered name, a key on stdin,
/// or a finding of a scan of this repository.
#[derive(Debug, Args)]
pub struct KeyChoiceArgs {
    /// The key's name in the registry.
    pub name: Option<String>,

    /// A key that is not registered, read from stdin (a bare key or a `NAME=value` line).
    #[arg(long, conflicts_with_all = ["name", "finding"])]
    pub secret_stdin: bool,

    /// A key found by `keywarden scan`, by the fingerprint it printed (`sha256:…`): this
    /// repository's history and working tree are searched for it.
    #[arg(long, value_name = "FINGERPRINT", conflicts_with = "name")]
    pub finding: Option<String>,

    /// The provider of a key from stdin (default: told by its prefix).
    #[arg(long, value_name = "PROVIDER", requires = "secret_stdin")]
    pub provider: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeysCheckArgs {
    #[command(flatten)]
    pub key: KeyChoiceArgs,
}

#[derive(Debug, Args)]
pub struct KeysForgetArgs {
    /// The key's name in the registry.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct KeysRevokeArgs {
    #[command(flatten)]
    pub key: KeyChoiceArgs,

    /// Open the provider's page in the browser when the revocation is manual.
    #[arg(long)]
    pub open: bool,

    /// Also replace the key under its name: through the provider where it can (OpenAI with
    /// an admin key: a new key for the same service account, or a new service account in
    /// the same project), else a key you create at the provider, typed at a hidden prompt
    /// or given with --new-key-stdin. Needs a registered NAME.
    #[arg(long, requires = "name")]
    pub replace: bool,

    /// With --replace: read the new key from stdin.
    #[arg(long, requires = "replace")]
    pub new_key_stdin: bool,

    /// Do not check the key afterwards.
    #[arg(long)]
    pub no_wait: bool,

    /// Stop checking after this many checks (default: until dead or Enter is pressed on a
    /// terminal; 60 checks otherwise).
    #[arg(long, value_name = "N")]
    pub max_checks: Option<u32>,
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// The leaked key, by its registered name.
    #[arg(value_name = "NAME", conflicts_with_all = ["secret_stdin", "finding", "from_scan", "status", "abort"])]
    pub name: Option<String>,

    /// Read the leaked key from stdin (a bare key or a `NAME=value` line); with
    /// --new-key-stdin the first line is the leaked key and the second the new one.
    #[arg(long, conflicts_with_all = ["finding", "from_scan", "status", "abort"])]
    pub secret_stdin: bool,

    /// The leaked key is the finding of `keywarden scan` with this fingerprint (`sha256:…`).
    #[arg(long, value_name = "FINGERPRINT", conflicts_with_all = ["from_scan", "status", "abort"])]
    pub finding: Option<String>,

    /// Scan all history and choose the leaked key among the findings.
    #[arg(long, conflicts_with_all = ["status", "abort"])]
    pub from_scan: bool,

    /// The provider of a key from stdin (default: told by its prefix).
    #[arg(long, value_name = "PROVIDER", conflicts_with_all = ["status", "abort"])]
    pub provider: Option<String>,

    /// Read the new key from stdin (one you created at the provider) instead of having the
    /// provider's API make it or a hidden prompt ask for it.
    #[arg(long, conflicts_with_all = ["status", "abort"])]
    pub new_key_stdin: bool,

    /// Do not revoke the key (only check whether it still works); the incident is not
    /// resolved while it does.
    #[arg(long, conflicts_with_all = ["status", "abort"])]
    pub skip_revoke: bool,

    /// Do not rewrite history (the report says how to purge later).
    #[arg(long, conflicts_with_all = ["status", "abort"])]
    pub skip_purge: bool,

    /// Force-push the purged history to REMOTE.
    #[arg(long, value_name = "REMOTE", conflicts_with_all = ["skip_purge", "status", "abort"])]
    pub push: Option<String>,

    /// Write the report (report.md, report.json) to DIR instead of the incident's own
    /// directory under .git/keywarden/incidents.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["status", "abort"])]
    pub report: Option<PathBuf>,

    /// Show the exposure and what each step would do; change nothing.
    #[arg(long, conflicts_with_all = ["status", "abort"])]
    pub dry_run: bool,

    /// List this repository's incidents, open and closed.
    #[arg(long, conflicts_with = "abort")]
    pub status: bool,

    /// Stop the open incident: an unfinished purge and an unfinished replacement are
    /// undone (a revocation cannot be).
    #[arg(long)]
    pub abort: bool,

    /// Open the provider's page in the browser when the key is revoked by hand.
    #[arg(long, conflicts_with_all = ["status", "abort"])]
    pub open: bool,

    /// After a revocation, check at most N times whether the key is dead.
    #[arg(long, value_name = "N", conflicts_with_all = ["status", "abort"])]
    pub max_checks: Option<u32>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The key to rotate (its registered name).
    #[arg(value_name = "NAME", required_unless_present_any = ["due", "all", "check", "schedule"])]
    pub name: Option<String>,

    /// Rotate every key that is due, and revoke the old keys whose grace period is over.
    #[arg(long, conflicts_with_all = ["name", "all", "check", "schedule"])]
    pub due: bool,

    /// Rotate every registered key that is not revoked.
    #[arg(long, conflicts_with_all = ["name", "check", "schedule"])]
    pub all: bool,

    /// List the keys due for rotation and the old keys still to be revoked; exit 1 when
    /// any is due (for cron and CI).
    #[arg(long, conflicts_with_all = ["name", "schedule"])]
    pub check: bool,

    /// Output format of --check.
    #[arg(long, value_enum, default_value_t = ListFormat::Human, requires = "check")]
    pub format: ListFormat,

    /// Print a crontab line and a systemd user timer (and on macOS a launchd agent) that
    /// run `keywarden rotate --check` every day.
    #[arg(long, conflicts_with = "name")]
    pub schedule: bool,

    /// Keep the old key working for DURATION (90m, 2h, 3d…) for a deploy window: its
    /// revocation is recorded, reminded by `rotate --check` and the hooks, and carried out
    /// by `keywarden rotate --finish NAME` (or `keywarden rotate NAME`).
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,

    /// Revoke the old key that an earlier rotation of NAME left (after --grace, or a
    /// revocation not confirmed yet).
    #[arg(long, requires = "name", conflicts_with_all = ["abort", "dry_run", "grace", "new_key_stdin"])]
    pub finish: bool,

    /// Undo an unfinished rotation of NAME (files back, the new key dropped from the
    /// keyring), or drop its pending revocation (the old key stays valid).
    #[arg(long, requires = "name", conflicts_with_all = ["dry_run", "grace", "new_key_stdin"])]
    pub abort: bool,

    /// Read the new key from stdin (a key you created at the provider).
    #[arg(long, requires = "name")]
    pub new_key_stdin: bool,

    /// Show the plan (every file edit, redacted) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Leave out registered files that no longer exist or cannot be written (missing ones
    /// are dropped from the registry).
    #[arg(long)]
    pub skip_missing: bool,

    /// Open the provider's page in the browser when the old key is revoked by hand.
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only these keys (by registry name; repeatable). Default: every registered key.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,

    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install for every repository of this user (the global core.hooksPath); each
    /// repository's own hooks still run.
    #[arg(long, conflicts_with_all = ["gitignore_only", "untrack"])]
    pub global: bool,

    /// Only fix .gitignore (and report tracked env files); install no hooks.
    #[arg(long)]
    pub gitignore_only: bool,

    /// Remove tracked env files from the index (the files stay on disk).
    #[arg(long)]
    pub untrack: bool,

    /// Do not offer to create .env.example from .env.
    #[arg(long)]
    pub no_env_example: bool,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Remove the hooks `install --global` added (and unset the global core.hooksPath if
    /// keywarden set it).
    #[arg(long)]
    pub global: bool,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// pre-commit, pre-push, post-checkout or post-merge.
    pub name: String,

    /// The arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Read the secrets to remove from stdin, one per line (never from the command line).
    #[arg(long)]
    pub secret_stdin: bool,

    /// Read the secrets to remove from FILE: one per line, taken literally, or
    /// `regex:PATTERN` for a pattern. Blank lines and `#` comments are ignored.
    #[arg(long, value_name = "FILE", conflicts_with = "secret_stdin")]
    pub secrets_file: Option<PathBuf>,

    /// Drop files whose path (from the repository root) matches GLOB from every commit
    /// (repeatable; `**/.env` matches at any depth). Files on disk are kept.
    #[arg(long = "delete-path", value_name = "GLOB")]
    pub delete_paths: Vec<String>,

    /// What each secret is replaced with.
    #[arg(long, value_name = "TEXT", default_value = "***REMOVED***")]
    pub replacement: String,

    /// Also rewrite remote-tracking refs (refs/remotes/*). Without it they keep the old
    /// history until the next fetch after a force-push.
    #[arg(long)]
    pub include_remotes: bool,

    /// Show what would change (commits, refs, files) and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// After the rewrite, force-push the rewritten branches, tags and notes to REMOTE.
    #[arg(long, value_name = "REMOTE")]
    pub push: Option<String>,

    /// Say how long each step took (on stderr).
    #[arg(long, short)]
    pub verbose: bool,

    /// Finish an unfinished purge (one that was killed, failed or interrupted), from where
    /// it stopped. Give the same secrets again (they are never stored).
    #[arg(long, conflicts_with_all = ["abort", "dry_run"])]
    pub resume: bool,

    /// Undo an unfinished purge: every ref back from its backup, the stash list and the
    /// worktrees as they were, what the run added removed. Needs no secret.
    #[arg(long, conflicts_with_all = ["secret_stdin", "secrets_file", "delete_paths", "dry_run", "from_scan", "finding", "push"])]
    pub abort: bool,

    /// Scan the history first and choose which of the keys found to purge (so the key need
    /// not be typed again).
    #[arg(long, conflicts_with_all = ["secret_stdin", "secrets_file", "finding"])]
    pub from_scan: bool,

    /// Purge the key of this finding (its `fingerprint`, as `keywarden scan --history`
    /// prints it); repeatable.
    #[arg(long, value_name = "FINGERPRINT", conflicts_with_all = ["secret_stdin", "secrets_file"])]
    pub finding: Vec<String>,
}
