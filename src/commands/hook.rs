//! `keywarden hook <name>`: what the installed shims run. pre-commit checks exactly what is
//! being committed (the index git names in GIT_INDEX_FILE), pre-push the commits being
//! pushed; post-checkout and post-merge remind of keys due for rotation (once a day, never
//! failing) and run a chained hook. A hook that was installed before keywarden (chained)
//! runs after keywarden's own check passes, with the same arguments and input, and its exit
//! code counts. This is the hot path of every commit: it opens the repository once and reads
//! only the blobs that changed.

use super::{Context, Outcome};
use crate::cli::HookArgs;
use crate::core::config::{AlreadyCommitted, Config};
use crate::core::git::{self, push, Change, ChangeKind};
use crate::core::hooks::{self, HookName};
use crate::core::scan::baseline::Baseline;
use crate::core::scan::Finding;
use crate::ops::scan::{scan_changes, ScanSetup};
use crate::ops::Reporter;
use crate::output::hook::{render_already_committed, render_blocked, Guarded, HookReport};
use anyhow::{bail, Context as _};
use git2::Repository;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const DEFAULT_BASELINE: &str = ".keywarden-baseline.json";

pub fn run(ctx: &Context, args: HookArgs) -> anyhow::Result<Outcome> {
    let hook = HookName::parse(&args.name)?;
    let repo = git::open(&ctx.cwd);
    if matches!(hook, HookName::PostCheckout | HookName::PostMerge) {
        let repo = repo.ok();
        // >>> rotation reminder (ops::due::reminder): at most one line a day per
        // repository, on stderr; nothing of it can fail a checkout or a merge.
        if let (Some(repo), Ok(home)) = (&repo, ctx.data_home()) {
            let policy = |root: &Path| ctx.policy(Some(root)).unwrap_or_default();
            let now = ctx.clock.now();
            if let Some(attention) = crate::ops::due::reminder(repo, &home, now, policy) {
                if let Some(line) = crate::output::rotate::reminder(&attention, now) {
                    ctx.ui.status(&line);
                }
            }
        }
        // <<< rotation reminder
        return run_chained(ctx, repo.as_ref(), hook, &args.args, None);
    }
    let repo = repo?;
    // git hands pre-push the ref updates on stdin; a chained hook needs them too.
    let input = if hook == HookName::PrePush {
        let mut buf = String::new();
        // Run by hand on a terminal, there is nothing to wait for.
        if !ctx.ui.stdin_is_terminal() {
            std::io::stdin()
                .read_to_string(&mut buf)
                .context("cannot read the ref updates git passes on stdin")?;
        }
        if buf.trim().is_empty() {
            buf = pre_commit_framework_updates(&repo).unwrap_or_default();
        }
        Some(buf)
    } else {
        None
    };
    let outcome = match hook {
        HookName::PreCommit => pre_commit(ctx, &repo)?,
        HookName::PrePush => pre_push(ctx, &repo, input.as_deref().unwrap_or(""))?,
        // Returned above.
        HookName::PostCheckout | HookName::PostMerge => Outcome::Clean,
    };
    if outcome != Outcome::Clean {
        return Ok(outcome);
    }
    run_chained(ctx, Some(&repo), hook, &args.args, input.as_deref())
}

/// Runs the hooks keywarden displaced: the one renamed next to the shim, and — for a
/// global install — the repository's own hook, which git no longer runs by itself.
fn run_chained(
    ctx: &Context,
    repo: Option<&Repository>,
    hook: HookName,
    args: &[String],
    input: Option<&str>,
) -> anyhow::Result<Outcome> {
    let Some(shim) = ctx.env.hook_shim() else {
        return Ok(Outcome::Clean);
    };
    let mut chained = vec![hooks::chained_path(&shim)];
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
    for path in chained {
        if !is_executable(&path) {
            continue;
        }
        let mut child = Command::new(&path)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .with_context(|| format!("cannot run the chained hook {}", path.display()))?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            // A hook that exits without reading its input is not an error.
            let _ = stdin.write_all(data.as_bytes());
        }
        let status = child
            .wait()
            .with_context(|| format!("cannot run the chained hook {}", path.display()))?;
        if !status.success() {
            ctx.ui.status(&format!(
                "the chained hook {} failed ({status})",
                path.display()
            ));
            return Ok(Outcome::Findings);
        }
    }
    Ok(Outcome::Clean)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The configuration and engine a hook runs with.
struct HookSetup {
    config: Config,
    setup: ScanSetup,
    baseline: Option<Baseline>,
}

impl HookSetup {
    fn new(ctx: &Context, repo: &Repository) -> anyhow::Result<Self> {
        let root = git::root_dir(repo);
        let config = ctx.load_config(&root)?;
        let setup = ScanSetup::new(&config, &[], &[], None)?;
        let baseline_path = match &config.hooks.baseline {
            Some(path) => Some(root.join(path)),
            None => Some(root.join(DEFAULT_BASELINE)).filter(|p| p.is_file()),
        };
        let baseline = baseline_path.map(|p| Baseline::load(&p)).transpose()?;
        Ok(HookSetup {
            config,
            setup,
            baseline,
        })
    }

    /// Splits changes into env files the policy blocks (added or modified) and the rest,
    /// which are scanned for keys.
    fn split_env_files(&self, changes: Vec<Change>) -> anyhow::Result<(Vec<Change>, Vec<Change>)> {
        let policy = self.config.env_file_policy()?;
        Ok(changes
            .into_iter()
            .partition(|c| c.kind != ChangeKind::Deleted && policy.is_blocked(&c.path)))
    }

    fn not_in_baseline(&self, findings: &mut Vec<Finding>) {
        if let Some(baseline) = &self.baseline {
            findings.retain(|f| !baseline.contains(f));
        }
    }
}

fn pre_commit(ctx: &Context, repo: &Repository) -> anyhow::Result<Outcome> {
    let changes = git::staged_tree::staged_changes_fast(repo)?;
    if changes.iter().all(|c| c.kind == ChangeKind::Deleted) {
        // Nothing added: no key or env file can come in (and compiling rules is the
        // expensive part of this hook).
        return Ok(Outcome::Clean);
    }
    let hs = HookSetup::new(ctx, repo)?;
    let (env_changes, changes) = hs.split_env_files(changes)?;
    let env_files: Vec<String> = env_changes.into_iter().map(|c| c.path).collect();
    let scan = scan_changes(repo.path(), &hs.setup, &changes)?;
    fail_on_unreadable(&scan.failures)?;
    let mut keys = scan.introduced;
    let mut already = scan.preexisting;
    move_merged_in(repo, &hs.setup, &mut keys, &mut already);
    hs.not_in_baseline(&mut keys);
    hs.not_in_baseline(&mut already);
    decide(ctx, Guarded::Commit, &hs, env_files, keys, already)
}

fn pre_push(ctx: &Context, repo: &Repository, input: &str) -> anyhow::Result<Outcome> {
    let updates = push::parse_ref_updates(input)?;
    let commits = push::pushed_commits(repo, &updates)?;
    if commits.is_empty() {
        return Ok(Outcome::Clean);
    }
    let hs = HookSetup::new(ctx, repo)?;
    let mut changes = Vec::new();
    let mut messages = Vec::new();
    for commit in commits {
        let (c, m) = push::commit_changes(repo, commit)?;
        changes.extend(c);
        messages.extend(m);
    }
    let (env_changes, changes) = hs.split_env_files(changes)?;
    let env_files: Vec<String> = env_changes
        .into_iter()
        .map(|c| match c.commit {
            Some(commit) => format!("{} (commit {})", c.path, &commit.to_string()[..10]),
            None => c.path,
        })
        .collect();
    let scan = scan_changes(repo.path(), &hs.setup, &changes)?;
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
    decide(ctx, Guarded::Push, &hs, env_files, keys, Vec::new())
}

/// The pre-commit framework runs pre-push hooks without git's stdin, and names the range
/// in `PRE_COMMIT_FROM_REF` / `PRE_COMMIT_TO_REF` instead; this turns them into the one
/// ref-update line git would have sent.
fn pre_commit_framework_updates(repo: &Repository) -> Option<String> {
    let to = std::env::var("PRE_COMMIT_TO_REF").ok()?;
    let to = repo.revparse_single(&to).ok()?.peel_to_commit().ok()?.id();
    let from = std::env::var("PRE_COMMIT_FROM_REF")
        .ok()
        .and_then(|r| repo.revparse_single(&r).ok())
        .and_then(|o| o.peel_to_commit().ok())
        .map(|c| c.id())
        .unwrap_or_else(git2::Oid::zero);
    let remote_branch =
        std::env::var("PRE_COMMIT_REMOTE_BRANCH").unwrap_or_else(|_| "HEAD".to_string());
    Some(format!("HEAD {to} {remote_branch} {from}\n"))
}

fn fail_on_unreadable(failures: &[String]) -> anyhow::Result<()> {
    if let Some(first) = failures.first() {
        // Fail closed: an object we cannot read might hold a key.
        bail!(
            "cannot read {} object(s) to check them ({first}); run `git fsck`",
            failures.len()
        );
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

fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.path, &a.commit, a.line, a.column).cmp(&(&b.path, &b.commit, b.line, b.column))
    });
}

fn decide(
    ctx: &Context,
    guarded: Guarded,
    hs: &HookSetup,
    mut env_files: Vec<String>,
    mut keys: Vec<Finding>,
    mut already: Vec<Finding>,
) -> anyhow::Result<Outcome> {
    env_files.sort();
    sort(&mut keys);
    sort(&mut already);
    let style = ctx.ui.err_style();
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let already_blocks = hs.config.hooks.already_committed == AlreadyCommitted::Block;
    if !already.is_empty() {
        render_already_committed(&already, already_blocks, &mut err, &style)?;
        writeln!(err)?;
    }
    if env_files.is_empty() && keys.is_empty() {
        return Ok(if already_blocks && !already.is_empty() {
            Outcome::Findings
        } else {
            Outcome::Clean
        });
    }
    render_blocked(
        &HookReport {
            guarded,
            env_files: &env_files,
            keys: &keys,
        },
        &mut err,
        &style,
    )?;
    Ok(Outcome::Findings)
}
