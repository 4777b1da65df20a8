//! The hooks' workflows. pre-commit checks exactly what is being committed (the index git
//! names in `GIT_INDEX_FILE`), pre-push the commits being pushed; each returns a
//! `HookVerdict`: env files the policy blocks, keys a change introduces, keys earlier
//! commits already hold (a merge bringing in a branch's key counts as already committed),
//! what could not be checked, and — when the verdict blocks — the commands that fix this
//! very commit or push (`ops::remedy`). Hooks keywarden displaced run after its own check
//! passes (`run_chained`). This is the hot path of every commit: the repository is opened
//! once and only the blobs that changed are read. Never prints.

use crate::core::config::{AlreadyCommitted, Config};
use crate::core::git::{self, push, Change, ChangeKind};
use crate::core::hooks::invocation::HookInvocation;
use crate::core::hooks::{self, HookName};
use crate::core::scan::baseline::Baseline;
use crate::core::scan::{Finding, Skipped};
use crate::ops::remedy::{self, Remedy};
use crate::ops::scan::{scan_changes, sort_findings, ScanSetup};
use anyhow::{bail, Context as _};
use git2::Repository;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The baseline the hooks read when the configuration names none (and it exists).
pub const DEFAULT_BASELINE: &str = ".keywarden-baseline.json";

/// The hooks read every changed file up to this size, whatever `scan.max_file_size` says
/// (a size limit must not be a way into history); larger files are named as not checked.
/// GitHub refuses files over 100 MiB, so nothing larger is pushed there anyway.
pub const HOOK_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

/// Which operation a hook guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    Commit,
    Push,
}

/// An env file a commit adds or changes (for a push: in which commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedEnvFile {
    pub path: String,
    pub commit: Option<String>,
}

/// Commits of a history a purge replaced, on their way back out through a push (a stale
/// clone's work merged or fetched in): pushing them would bring the purged key back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldHistory {
    /// The ref being pushed, as git passed it (`refs/heads/main`).
    pub local_ref: String,
    /// How many of the pushed commits are old ones.
    pub commits: usize,
    /// The newest old commit the ref reaches, and what the purge made of it: the base to
    /// move the ref's own commits from and onto.
    pub old: git2::Oid,
    pub new: git2::Oid,
}

impl OldHistory {
    /// The branch to rebase, as `git rebase` takes it (`HEAD` for anything but a branch).
    pub fn branch(&self) -> &str {
        self.local_ref.strip_prefix("refs/heads/").unwrap_or("HEAD")
    }
}

/// What a hook decided, and why.
#[derive(Debug)]
pub struct HookVerdict {
    pub guarded: Guarded,
    /// Env files being committed or pushed, by path.
    pub env_files: Vec<BlockedEnvFile>,
    /// Keys the change introduces: they block.
    pub keys: Vec<Finding>,
    /// Keys an earlier commit already holds (already leaked).
    pub already_committed: Vec<Finding>,
    /// `hooks.already_committed = "block"`: those block too.
    pub already_committed_blocks: bool,
    /// Changed files that were not checked (over `HOOK_MAX_FILE_SIZE`).
    pub not_checked: Vec<Skipped>,
    /// How to fix it, when env files or keys block.
    pub remedy: Option<Remedy>,
    /// Pushed commits of a purged history (pre-push only): they block.
    pub old_history: Vec<OldHistory>,
}

impl HookVerdict {
    fn passed(guarded: Guarded) -> Self {
        HookVerdict::new(
            guarded,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            false,
            Vec::new(),
        )
    }

    /// Whether the commit or push must not go ahead.
    pub fn blocks(&self) -> bool {
        self.has_new_problems()
            || !self.old_history.is_empty()
            || (self.already_committed_blocks && !self.already_committed.is_empty())
    }

    /// Env files or keys this operation brings in.
    pub fn has_new_problems(&self) -> bool {
        !self.env_files.is_empty() || !self.keys.is_empty()
    }

    fn new(
        guarded: Guarded,
        env_changes: Vec<Change>,
        keys: Vec<Finding>,
        already_committed: Vec<Finding>,
        already_committed_blocks: bool,
        not_checked: Vec<Skipped>,
    ) -> Self {
        let mut verdict = HookVerdict {
            guarded,
            env_files: env_changes
                .into_iter()
                .map(|c| BlockedEnvFile {
                    path: c.path,
                    commit: c.commit.map(|o| o.to_string()),
                })
                .collect(),
            keys,
            already_committed,
            already_committed_blocks,
            not_checked,
            remedy: None,
            old_history: Vec::new(),
        };
        verdict.sort();
        verdict
    }

    fn sort(&mut self) {
        self.env_files
            .sort_by(|a, b| (&a.path, &a.commit).cmp(&(&b.path, &b.commit)));
        sort_findings(&mut self.keys);
        sort_findings(&mut self.already_committed);
        self.not_checked.sort_by(|a, b| a.what.cmp(&b.what));
    }
}

/// Reads the configuration; called only once there is something to check, so that a
/// commit that only deletes files never depends on it.
pub type ConfigLoader<'a> = &'a dyn Fn() -> anyhow::Result<Config>;

/// The configuration and engine a hook runs with.
struct HookSetup {
    config: Config,
    setup: ScanSetup,
    baseline: Option<Baseline>,
    /// The baseline file, relative to the top of the work tree.
    baseline_path: String,
}

impl HookSetup {
    fn new(repo: &Repository, load_config: ConfigLoader<'_>) -> anyhow::Result<Self> {
        let config = load_config()?;
        let root = git::root_dir(repo);
        let mut setup = ScanSetup::new(&config, &[], &[], None)?;
        setup.max_file_size = setup.max_file_size.max(HOOK_MAX_FILE_SIZE);
        setup.scan_binary = true;
        let configured = config.hooks.baseline.clone();
        let baseline_path = configured
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_BASELINE));
        let file = root.join(&baseline_path);
        // The configured baseline must exist; the default one is read when it does.
        let baseline = if configured.is_some() || file.is_file() {
            Some(Baseline::load(&file)?)
        } else {
            None
        };
        Ok(HookSetup {
            config,
            setup,
            baseline,
            baseline_path: baseline_path.to_string_lossy().replace('\\', "/"),
        })
    }

    /// Splits changes into env files the policy blocks (added or modified) and the rest,
    /// which are scanned for keys.
    fn split_env_files(&self, changes: &[Change]) -> anyhow::Result<(Vec<Change>, Vec<Change>)> {
        let policy = self.config.env_file_policy()?;
        Ok(changes
            .iter()
            .cloned()
            .partition(|c| c.kind != ChangeKind::Deleted && policy.is_blocked(&c.path)))
    }

    fn not_in_baseline(&self, findings: &mut Vec<Finding>) {
        if let Some(baseline) = &self.baseline {
            findings.retain(|f| !baseline.contains(f));
        }
    }

    fn already_committed_blocks(&self) -> bool {
        self.config.hooks.already_committed == AlreadyCommitted::Block
    }
}

/// The pre-commit check of what `repo`'s next commit records.
pub fn pre_commit(
    repo: &Repository,
    load_config: ConfigLoader<'_>,
    invocation: &HookInvocation,
) -> anyhow::Result<HookVerdict> {
    let changes = git::staged_changes_fast(repo)?;
    if changes.iter().all(|c| c.kind == ChangeKind::Deleted) {
        // Nothing added: no key or env file can come in (and compiling rules is the
        // expensive part of this hook).
        return Ok(HookVerdict::passed(Guarded::Commit));
    }
    let hs = HookSetup::new(repo, load_config)?;
    let (env_changes, scanned) = hs.split_env_files(&changes)?;
    let scan = scan_changes(repo.path(), &hs.setup, &scanned)?;
    fail_on_unreadable(&scan.failures)?;
    let mut keys = scan.introduced;
    let mut already = scan.preexisting;
    move_merged_in(repo, &hs.setup, &mut keys, &mut already);
    hs.not_in_baseline(&mut keys);
    hs.not_in_baseline(&mut already);
    let mut verdict = HookVerdict::new(
        Guarded::Commit,
        env_changes,
        keys,
        already,
        hs.already_committed_blocks(),
        scan.skipped,
    );
    if verdict.has_new_problems() {
        let env_files: Vec<String> = verdict.env_files.iter().map(|e| e.path.clone()).collect();
        verdict.remedy = Some(Remedy::Commit(remedy::for_commit(
            repo,
            invocation.commit_mode(),
            &invocation.here,
            &changes,
            &env_files,
            &verdict.keys,
            &hs.baseline_path,
        )));
    }
    Ok(verdict)
}

/// The ref updates a pre-push hook checks: git's stdin, or — under the pre-commit
/// framework, which passes none — the one update its range variables describe.
pub fn push_updates(repo: &Repository, stdin: &str, invocation: &HookInvocation) -> String {
    if !stdin.trim().is_empty() {
        return stdin.to_string();
    }
    framework_update(repo, invocation).unwrap_or_default()
}

fn framework_update(repo: &Repository, invocation: &HookInvocation) -> Option<String> {
    let to = invocation.framework_to.as_deref()?;
    let to = repo.revparse_single(to).ok()?.peel_to_commit().ok()?.id();
    let from = invocation
        .framework_from
        .as_deref()
        .and_then(|r| repo.revparse_single(r).ok())
        .and_then(|o| o.peel_to_commit().ok())
        .map(|c| c.id())
        .unwrap_or_else(git2::Oid::zero);
    let remote_branch = invocation
        .framework_remote_branch
        .as_deref()
        .unwrap_or("HEAD");
    Some(format!("HEAD {to} {remote_branch} {from}\n"))
}

/// The pre-push check of the commits `updates` (git's pre-push input) send.
pub fn pre_push(
    repo: &Repository,
    load_config: ConfigLoader<'_>,
    updates: &str,
    invocation: &HookInvocation,
) -> anyhow::Result<HookVerdict> {
    let updates = push::parse_push_lines(updates)?;
    let commits = push::pushed_commits(repo, &updates)?;
    if commits.is_empty() {
        return Ok(HookVerdict::passed(Guarded::Push));
    }
    let old_history = old_history(repo, &updates, &commits)?;
    if !old_history.is_empty() {
        // Refused whatever they hold: the purge took them out for a reason.
        let mut verdict = HookVerdict::passed(Guarded::Push);
        verdict.old_history = old_history;
        return Ok(verdict);
    }
    let hs = HookSetup::new(repo, load_config)?;
    let mut changes = Vec::new();
    let mut messages = Vec::new();
    for commit in commits {
        let git::RangeChanges {
            changes: c,
            messages: m,
        } = push::commit_changes(repo, commit)?;
        changes.extend(c);
        messages.extend(m);
    }
    let (env_changes, scanned) = hs.split_env_files(&changes)?;
    let scan = scan_changes(repo.path(), &hs.setup, &scanned)?;
    fail_on_unreadable(&scan.failures)?;
    // Keys the pushed commits only carried along were introduced by an earlier commit:
    // blocking on them would block every push of that file.
    let mut keys = scan.introduced;
    for message in &messages {
        for mut finding in hs.setup.scanner.scan(&message.message) {
            finding.commit = Some(message.object.to_string());
            keys.push(finding);
        }
    }
    hs.not_in_baseline(&mut keys);
    let mut verdict = HookVerdict::new(
        Guarded::Push,
        env_changes,
        keys,
        Vec::new(),
        false,
        scan.skipped,
    );
    if verdict.has_new_problems() {
        let env_files: Vec<(String, Option<String>)> = verdict
            .env_files
            .iter()
            .map(|e| (e.path.clone(), e.commit.clone()))
            .collect();
        verdict.remedy = Some(Remedy::Push(remedy::for_push(
            repo,
            &invocation.here,
            &updates,
            &env_files,
            &verdict.keys,
            &hs.baseline_path,
        )));
    }
    Ok(verdict)
}

/// The pushed commits that a purge of this repository replaced, per pushed ref (from the
/// commit maps in `.git/keywarden/`).
fn old_history(
    repo: &Repository,
    updates: &[push::PushLine],
    pushed: &[git2::Oid],
) -> anyhow::Result<Vec<OldHistory>> {
    let replaced = git::aftercare::replaced_commits(repo)?;
    // Walked again per ref only when some pushed commit is an old one.
    if !pushed.iter().any(|c| replaced.contains_key(c)) {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for update in updates {
        let commits = push::pushed_commits(repo, std::slice::from_ref(update))?;
        // Oldest first: the last old one is the newest.
        let old: Vec<(git2::Oid, git2::Oid)> = commits
            .iter()
            .filter_map(|c| replaced.get(c).map(|new| (*c, *new)))
            .collect();
        if let Some(&(newest, new)) = old.last() {
            found.push(OldHistory {
                local_ref: update.local_ref.clone(),
                commits: old.len(),
                old: newest,
                new,
            });
        }
    }
    Ok(found)
}

fn fail_on_unreadable(failures: &[String]) -> anyhow::Result<()> {
    if let Some(first) = failures.first() {
        // Fail closed: an object we cannot read might hold a key.
        let (what, them) = match failures.len() {
            1 => ("1 object".to_string(), "it"),
            n => (format!("{n} objects"), "them"),
        };
        bail!("cannot read {what} to check {them} ({first}); run `git fsck`");
    }
    Ok(())
}

/// During a merge, a key the merged branch already committed is not introduced by the
/// merge commit: it moves to the already-committed list.
fn move_merged_in(
    repo: &Repository,
    setup: &ScanSetup,
    keys: &mut Vec<Finding>,
    already: &mut Vec<Finding>,
) {
    if keys.is_empty() {
        return;
    }
    let Ok(text) = std::fs::read_to_string(repo.path().join("MERGE_HEAD")) else {
        return;
    };
    let trees: Vec<git2::Tree<'_>> = text
        .lines()
        .filter_map(|l| git2::Oid::from_str(l.trim()).ok())
        .filter_map(|oid| repo.find_commit(oid).ok()?.tree().ok())
        .collect();
    let mut known: HashSet<(String, String, String)> = HashSet::new();
    let paths: HashSet<String> = keys.iter().filter_map(|f| f.path.clone()).collect();
    for tree in &trees {
        for path in &paths {
            let Some(blob) = tree
                .get_path(Path::new(path))
                .ok()
                .and_then(|e| repo.find_blob(e.id()).ok())
            else {
                continue;
            };
            for f in setup.scanner.scan(blob.content()) {
                known.insert((
                    path.clone(),
                    f.rule_id.to_string(),
                    f.secret.expose().to_string(),
                ));
            }
        }
    }
    let (merged, new): (Vec<_>, Vec<_>) = std::mem::take(keys).into_iter().partition(|f| {
        known.contains(&(
            f.path.clone().unwrap_or_default(),
            f.rule_id.to_string(),
            f.secret.expose().to_string(),
        ))
    });
    *keys = new;
    already.extend(merged);
}

/// How the hooks keywarden displaced ended.
#[derive(Debug)]
pub enum ChainedOutcome {
    /// All passed (or there were none).
    Passed,
    /// This one failed, and so the commit or push does not go ahead.
    Failed { hook: PathBuf, status: ExitStatus },
}

/// The hooks keywarden displaced: the one kept next to the shim (`shim` is the shim's
/// path, from `KEYWARDEN_SHIM`), and — for a global install — the repository's own hook,
/// which git no longer runs by itself.
pub fn chained_hooks(repo: Option<&Repository>, hook: HookName, shim: &Path) -> Vec<PathBuf> {
    let mut chained: Vec<PathBuf> = displaced_hook(shim).into_iter().collect();
    if let Some(own) = repo.map(|r| hooks::own_hooks_dir(r).join(hook.as_str())) {
        let same_dir = match (
            shim.parent().map(std::fs::canonicalize),
            own.parent().map(std::fs::canonicalize),
        ) {
            (Some(Ok(a)), Some(Ok(b))) => a == b,
            _ => false,
        };
        if !same_dir && std::fs::read(&own).is_ok_and(|b| !hooks::is_keywarden_shim(&b)) {
            chained.push(own);
        }
    }
    chained.iter().filter_map(|p| runnable(p)).collect()
}

/// `path` if it can be run; for a chained name that `uninstall` has just dropped, the hook
/// it put back at the shim's own path.
fn runnable(path: &Path) -> Option<PathBuf> {
    if is_executable(path) {
        return Some(path.to_path_buf());
    }
    let shim = hooks::shim_of_chained(path)?;
    let put_back = std::fs::read(&shim).is_ok_and(|b| !hooks::is_keywarden_shim(&b));
    (put_back && is_executable(&shim)).then_some(shim)
}

/// The hook the shim at `shim` displaced, even while `uninstall` is putting it back: it
/// first renames the hook over the shim and only then drops the chained name (and
/// `install` does the reverse), so a missing chained name means the shim's own path holds
/// the hook again. Checked twice, in case an install ran in between.
fn displaced_hook(shim: &Path) -> Option<PathBuf> {
    let chained = hooks::chained_path(shim);
    for _ in 0..2 {
        if chained.exists() {
            return Some(chained);
        }
        match std::fs::read(shim) {
            Ok(bytes) if !hooks::is_keywarden_shim(&bytes) => return Some(shim.to_path_buf()),
            // Still the shim, and nothing chained: there is no displaced hook, unless an
            // install kept one in the meantime.
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    chained.exists().then_some(chained)
}

/// Runs `hooks` in order with git's arguments and input; the first that fails decides.
pub fn run_chained(
    hooks: &[PathBuf],
    args: &[String],
    input: Option<&str>,
) -> anyhow::Result<ChainedOutcome> {
    for path in hooks {
        let spawn = |path: &Path| {
            Command::new(path)
                .args(args)
                .stdin(if input.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::inherit()
                })
                .spawn()
        };
        // `uninstall` may drop a chained name between the look-up and here; the hook is
        // then back at the shim's path, and it still runs.
        let spawned = match spawn(path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => match runnable(path) {
                Some(put_back) if put_back != *path => spawn(&put_back),
                _ => Err(err),
            },
            spawned => spawned,
        };
        let mut child =
            spawned.with_context(|| format!("cannot run the chained hook {}", path.display()))?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            // A hook that exits without reading its input is not an error.
            let _ = stdin.write_all(data.as_bytes());
        }
        let status = child
            .wait()
            .with_context(|| format!("cannot run the chained hook {}", path.display()))?;
        if !status.success() {
            return Ok(ChainedOutcome::Failed {
                hook: path.clone(),
                status,
            });
        }
    }
    Ok(ChainedOutcome::Passed)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
