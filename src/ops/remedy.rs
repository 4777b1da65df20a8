//! The commands that fix a blocked commit or push, chosen for the operation in progress and
//! with the real names filled in, so that each works when typed exactly as shown:
//!
//! - a plain `git commit` takes a file out with `git restore --staged FILE` — or, before
//!   the first commit (there is no `HEAD` to restore from), `git rm --cached FILE`;
//! - `git commit -a` commits a temporary index, so un-staging changes nothing there: the
//!   way out is to commit the other changes without `-a` (env files: stop tracking them);
//! - `git commit PATH…`: commit the other paths;
//! - the baseline command records what this commit holds (`scan --staged` sees only the
//!   real index, so for `-a` and `PATH…` it scans the files themselves);
//! - a push fixes the last commit with `--amend`, older ones with an interactive rebase
//!   from the parent of the first commit to fix (`--root` when it has none), never from an
//!   upstream that a first push does not have;
//! - "move the value into `.env`" says git ignores `.env` only when it does.
//!
//! Paths are relative to the top of the work tree; when the person works in a
//! subdirectory (`GIT_PREFIX`), every command carries `-C <up>`. Commands are argv lists;
//! `output` writes them for the shell.

use crate::core::envfiles::EnvFilePolicy;
use crate::core::git::push::{self, PushLine};
use crate::core::git::Change;
use crate::core::hooks::invocation::{CommitMode, Here};
use crate::core::scan::Finding;
use git2::{Oid, Repository};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One command as its words.
pub type Argv = Vec<String>;

/// Commands to run one after the other (each only if the one before succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commands(pub Vec<Argv>);

/// How to fix what a hook blocked.
#[derive(Debug, Clone)]
pub enum Remedy {
    Commit(CommitRemedy),
    Push(PushRemedy),
}

#[derive(Debug, Clone)]
pub struct CommitRemedy {
    pub mode: CommitMode,
    pub env: EnvAdvice,
    /// Takes the blocked files out of this commit, when anything else is left to commit.
    pub take_out: Option<TakeOut>,
    /// Records the blocked keys as accepted (test fixtures, examples).
    pub baseline: Option<Commands>,
}

/// What `.gitignore` does for env files, for the advice to move a value into `.env`.
#[derive(Debug, Clone, Default)]
pub struct EnvAdvice {
    /// git ignores `.env`, so a value moved there stays out of git.
    pub dot_env_ignored: bool,
    /// Blocked env files git does not ignore yet.
    pub unignored: Vec<String>,
    /// Makes git ignore `.env` and the unignored env files, when the `.gitignore` block
    /// covers their names (`keywarden install --gitignore-only --yes`).
    pub ignore_command: Option<Commands>,
}

#[derive(Debug, Clone)]
pub struct TakeOut {
    /// The files taken out, as the person names them.
    pub files: Vec<String>,
    pub then: AfterTakeOut,
    pub commands: Commands,
}

/// What the person does after the take-out commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterTakeOut {
    /// Run the same `git commit` again.
    CommitAgain,
    /// Nothing: the commands end with the commit itself (without `-a`, or of the other
    /// paths).
    Committed,
}

#[derive(Debug, Clone)]
pub struct PushRemedy {
    pub env: EnvAdvice,
    pub fixes: Vec<PushFix>,
    /// Records the blocked keys as accepted; only when one pushed ref holds them all (each
    /// run of the command replaces the baseline file).
    pub baseline: Option<Commands>,
}

#[derive(Debug, Clone)]
pub enum PushFix {
    /// The only commit to fix is the last one of the checked-out branch.
    Amend {
        commit: String,
        /// Files to remove the key from before running the commands.
        edit_files: Vec<String>,
        /// A key is in the commit message: the commands open the editor on it.
        edit_message: bool,
        commands: Commands,
    },
    /// Older commits: an interactive rebase from the parent of `first`.
    Rebase { first: String, commands: Commands },
}

fn words(parts: &[&str]) -> Argv {
    parts.iter().map(|p| p.to_string()).collect()
}

/// `program [-C up] args…`.
fn command(program: &str, here: &Here, args: impl IntoIterator<Item = String>) -> Argv {
    let mut argv = vec![program.to_string()];
    if !here.is_top() {
        argv.push("-C".into());
        argv.push(here.up.clone());
    }
    argv.extend(args);
    argv
}

fn git(here: &Here, args: &[&str], paths: &[String]) -> Argv {
    // `--` only where a path could be read as an option.
    let separator = paths.iter().any(|p| p.starts_with('-'));
    command(
        "git",
        here,
        args.iter()
            .map(|a| a.to_string())
            .chain(separator.then(|| "--".to_string()))
            .chain(paths.iter().cloned()),
    )
}

/// How `.gitignore` treats `.env` and the blocked env files.
pub fn env_advice(repo: &Repository, here: &Here, blocked_env_files: &[String]) -> EnvAdvice {
    if repo.is_bare() {
        return EnvAdvice::default();
    }
    let ignored = |path: &str| repo.is_path_ignored(path).unwrap_or(false);
    let dot_env_ignored = ignored(".env");
    let unignored: Vec<String> = blocked_env_files
        .iter()
        .filter(|p| !ignored(p))
        .cloned()
        .collect();
    // The `.gitignore` block holds exactly the default env-file names.
    let template = EnvFilePolicy::default();
    let block_covers = unignored.iter().all(|p| template.is_blocked(p));
    let ignore_command = ((!dot_env_ignored || !unignored.is_empty()) && block_covers).then(|| {
        Commands(vec![command(
            "keywarden",
            here,
            words(&["install", "--gitignore-only", "--yes"]),
        )])
    });
    EnvAdvice {
        dot_env_ignored,
        unignored,
        ignore_command,
    }
}

/// Whether `git rm --cached` would refuse `path` without `-f`: its index entry differs
/// both from `HEAD` (or there is no `HEAD`) and from the file on disk.
fn rm_needs_force(repo: &Repository, head: Option<&git2::Tree<'_>>, path: &str) -> bool {
    let Ok(index) = repo.index() else {
        return false;
    };
    let Some(entry) = index.get_path(Path::new(path), 0) else {
        return false;
    };
    let in_head = head
        .and_then(|tree| tree.get_path(Path::new(path)).ok())
        .map(|e| e.id());
    let staged_changes = in_head != Some(entry.id);
    let on_disk = repo
        .workdir()
        .and_then(|dir| Oid::hash_file(git2::ObjectType::Blob, dir.join(path)).ok());
    staged_changes && on_disk != Some(entry.id)
}

/// `git rm --cached [-f] paths`: out of the index, still on disk.
fn rm_cached(
    repo: &Repository,
    head: Option<&git2::Tree<'_>>,
    here: &Here,
    paths: &[String],
) -> Argv {
    let force = paths.iter().any(|p| rm_needs_force(repo, head, p));
    let args: &[&str] = if force {
        &["rm", "--cached", "-f"]
    } else {
        &["rm", "--cached"]
    };
    git(here, args, paths)
}

/// Takes the staged changes of `paths` out of the index: back to `HEAD`'s version, or —
/// before the first commit, when there is no `HEAD` to restore from — out of the index.
fn unstage(
    repo: &Repository,
    head: Option<&git2::Tree<'_>>,
    here: &Here,
    paths: &[String],
) -> Argv {
    match head {
        Some(_) => git(here, &["restore", "--staged"], paths),
        None => rm_cached(repo, None, here, paths),
    }
}

/// Takes files that were staged but never committed back out of the index, leaving them
/// on disk.
pub fn unstage_new_files(repo: &Repository, here: &Here, paths: &[String]) -> Commands {
    Commands(vec![rm_cached(repo, head_tree(repo).as_ref(), here, paths)])
}

/// Paths in the repository's own index whose entry differs from `HEAD`.
fn staged_in_index(
    repo: &Repository,
    head: Option<&git2::Tree<'_>>,
    paths: &[String],
) -> Vec<String> {
    let Ok(index) = repo.index() else {
        return Vec::new();
    };
    paths
        .iter()
        .filter(|path| {
            let staged = index.get_path(Path::new(path.as_str()), 0).map(|e| e.id);
            let committed = head
                .and_then(|t| t.get_path(Path::new(path.as_str())).ok())
                .map(|e| e.id());
            staged.is_some() && staged != committed
        })
        .cloned()
        .collect()
}

fn head_tree(repo: &Repository) -> Option<git2::Tree<'_>> {
    repo.head().ok()?.peel_to_tree().ok()
}

/// What a blocked commit's message suggests. `changes` are every change of the commit;
/// `env_files` and `keys` what blocks it; `baseline` the baseline file the hooks read
/// (relative to the top of the work tree).
pub fn for_commit(
    repo: &Repository,
    mode: CommitMode,
    here: &Here,
    changes: &[Change],
    env_files: &[String],
    keys: &[Finding],
    baseline: &str,
) -> CommitRemedy {
    let head = head_tree(repo);
    let key_files: Vec<String> = keys
        .iter()
        .filter_map(|f| f.path.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|p| !env_files.contains(p))
        .collect();
    let blocked: BTreeSet<&String> = env_files.iter().chain(&key_files).collect();
    let others: Vec<String> = changes
        .iter()
        .map(|c| &c.path)
        .filter(|p| !blocked.contains(p))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let shown: Vec<String> = blocked.iter().map(|p| p.to_string()).collect();

    let take_out = match mode {
        CommitMode::Index => {
            let commands = if head.is_none() {
                vec![rm_cached(repo, None, here, &shown)]
            } else {
                let mut commands = Vec::new();
                if !env_files.is_empty() {
                    // An env file never belongs in git: stop tracking it, not just this change.
                    commands.push(rm_cached(repo, head.as_ref(), here, env_files));
                }
                if !key_files.is_empty() {
                    commands.push(unstage(repo, head.as_ref(), here, &key_files));
                }
                commands
            };
            Some(TakeOut {
                files: shown,
                then: AfterTakeOut::CommitAgain,
                commands: Commands(commands),
            })
        }
        CommitMode::All if key_files.is_empty() => Some(TakeOut {
            files: shown,
            then: AfterTakeOut::CommitAgain,
            commands: Commands(vec![rm_cached(repo, head.as_ref(), here, env_files)]),
        }),
        CommitMode::All if others.is_empty() => None,
        CommitMode::All => {
            let mut commands = Vec::new();
            if !env_files.is_empty() {
                commands.push(rm_cached(repo, head.as_ref(), here, env_files));
            }
            // `-a` adds to what is staged already: a key file staged before comes out too.
            let staged = staged_in_index(repo, head.as_ref(), &key_files);
            if !staged.is_empty() {
                commands.push(unstage(repo, head.as_ref(), here, &staged));
            }
            commands.push(git(here, &["add"], &others));
            commands.push(git(here, &["commit"], &[]));
            Some(TakeOut {
                files: shown,
                then: AfterTakeOut::Committed,
                commands: Commands(commands),
            })
        }
        CommitMode::Paths if others.is_empty() => None,
        CommitMode::Paths => Some(TakeOut {
            files: shown,
            then: AfterTakeOut::Committed,
            commands: Commands(vec![git(here, &["commit"], &others)]),
        }),
    };

    let baseline = (!keys.is_empty()).then(|| {
        let mut args = words(&["scan"]);
        match mode {
            CommitMode::Index => args.push("--staged".into()),
            // What `-a` and `PATH…` commit is what is on disk.
            CommitMode::All | CommitMode::Paths => {
                let with_keys: BTreeSet<String> =
                    keys.iter().filter_map(|f| f.path.clone()).collect();
                args.extend(with_keys);
            }
        }
        args.extend(["--write-baseline".to_string(), baseline.to_string()]);
        Commands(vec![command("keywarden", here, args)])
    });

    CommitRemedy {
        mode,
        env: env_advice(repo, here, env_files),
        take_out,
        baseline,
    }
}

/// What one pushed commit has that blocks.
#[derive(Default)]
struct Offence {
    env_files: BTreeSet<String>,
    key_files: BTreeSet<String>,
    in_message: bool,
}

fn short_id(repo: &Repository, oid: Oid) -> String {
    repo.find_object(oid, None)
        .ok()
        .and_then(|o| o.short_id().ok())
        .and_then(|b| b.as_str().map(str::to_string))
        .unwrap_or_else(|| oid.to_string()[..10].to_string())
}

/// What a blocked push's message suggests, per pushed ref holding something that blocks.
pub fn for_push(
    repo: &Repository,
    here: &Here,
    updates: &[PushLine],
    env_files: &[(String, Option<String>)],
    keys: &[Finding],
    baseline: &str,
) -> PushRemedy {
    let mut offences: BTreeMap<Oid, Offence> = BTreeMap::new();
    let oid = |c: &Option<String>| c.as_deref().and_then(|c| Oid::from_str(c).ok());
    for (path, commit) in env_files {
        if let Some(commit) = oid(commit) {
            offences
                .entry(commit)
                .or_default()
                .env_files
                .insert(path.clone());
        }
    }
    for key in keys {
        if let Some(commit) = oid(&key.commit) {
            let offence = offences.entry(commit).or_default();
            match &key.path {
                Some(path) => {
                    offence.key_files.insert(path.clone());
                }
                None => offence.in_message = true,
            }
        }
    }
    let head = repo.head().ok();
    let head_commit = head
        .as_ref()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id());
    let current_branch = head
        .as_ref()
        .filter(|h| h.is_branch())
        .and_then(|h| h.name().map(str::to_string));

    let mut fixes = Vec::new();
    let mut key_ranges = Vec::new();
    let mut seen_first = BTreeSet::new();
    for update in updates.iter().filter(|u| !u.is_deletion()) {
        let Ok(commits) = push::pushed_commits(repo, std::slice::from_ref(update)) else {
            continue;
        };
        let offending: Vec<Oid> = commits
            .iter()
            .copied()
            .filter(|c| offences.contains_key(c))
            .collect();
        let Some(&first) = offending.first() else {
            continue;
        };
        // Oldest first: the last one is the pushed tip.
        let Some(&tip) = commits.last() else {
            continue;
        };
        let parent = repo
            .find_commit(first)
            .ok()
            .and_then(|c| c.parent_id(0).ok());
        if offending.iter().any(|c| {
            offences
                .get(c)
                .is_some_and(|o| o.in_message || !o.key_files.is_empty())
        }) {
            key_ranges.push(match parent {
                Some(parent) => format!("{}..{}", short_id(repo, parent), short_id(repo, tip)),
                None => short_id(repo, tip),
            });
        }
        if !seen_first.insert(first) {
            continue;
        }
        let is_branch = update.local_ref.starts_with("refs/heads/");
        let last_commit_only = (offending == [tip] && head_commit == Some(tip))
            .then(|| offences.get(&tip))
            .flatten();
        if let Some(offence) = last_commit_only {
            let mut commands = Vec::new();
            let env: Vec<String> = offence.env_files.iter().cloned().collect();
            let edit: Vec<String> = offence
                .key_files
                .iter()
                .filter(|p| !offence.env_files.contains(*p))
                .cloned()
                .collect();
            if !env.is_empty() {
                commands.push(rm_cached(repo, head_tree(repo).as_ref(), here, &env));
            }
            if !edit.is_empty() {
                commands.push(git(here, &["add"], &edit));
            }
            commands.push(if offence.in_message {
                git(here, &["commit", "--amend"], &[])
            } else {
                git(here, &["commit", "--amend", "--no-edit"], &[])
            });
            fixes.push(PushFix::Amend {
                commit: short_id(repo, tip),
                edit_files: edit,
                edit_message: offence.in_message,
                commands: Commands(commands),
            });
        } else if is_branch {
            let mut args = vec!["rebase".to_string(), "-i".to_string()];
            args.push(match parent {
                Some(parent) => short_id(repo, parent),
                None => "--root".to_string(),
            });
            if current_branch.as_deref() != Some(update.local_ref.as_str()) {
                // `git rebase -i BASE BRANCH` checks the pushed branch out first.
                args.push(update.local_ref["refs/heads/".len()..].to_string());
            }
            fixes.push(PushFix::Rebase {
                first: short_id(repo, first),
                commands: Commands(vec![command("git", here, args)]),
            });
        }
    }
    let blocked_env: Vec<String> = env_files.iter().map(|(p, _)| p.clone()).collect();
    let baseline = match key_ranges.as_slice() {
        [range] => Some(Commands(vec![command(
            "keywarden",
            here,
            words(&["scan", "--range", range, "--write-baseline", baseline]),
        )])),
        _ => None,
    };
    PushRemedy {
        env: env_advice(repo, here, &blocked_env),
        fixes,
        baseline,
    }
}
