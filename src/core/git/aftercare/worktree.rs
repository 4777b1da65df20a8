//! After the refs moved: every worktree brought to its new HEAD (index reset, only changed
//! tracked files rewritten, untracked files left alone), and the message files git keeps
//! in its git dirs scrubbed.

use crate::core::git::command::GitCommand;
use crate::core::git::tips::{worktrees, Worktree};
use crate::core::git::{open_at, GitError};
use crate::core::scrub::Scrubber;
use git2::Repository;
use std::path::{Path, PathBuf};

/// Brings a worktree to its (new) HEAD: the index is reset to HEAD's tree and only tracked
/// files whose content changed are rewritten. Untracked files, including files the purge
/// dropped from history (such as a `.env`), stay on disk as they are. Returns how many
/// files were rewritten.
///
/// With `renamed`, tracked files whose path holds a secret were renamed by the rewrite: the
/// file under its new name is checked out and the old one removed (it was tracked and
/// unmodified, since a purge refuses a dirty worktree) — unless the purge dropped it.
pub fn update_worktree(
    wt: &Worktree,
    renamed: Option<Renamed<'_>>,
) -> Result<WorktreeUpdate, GitError> {
    let tracked_paths = |dir: &Path| -> Result<Vec<Vec<u8>>, GitError> {
        let index = open_at(dir)?
            .index()
            .map_err(|e| GitError::libgit2("cannot read the index", e))?;
        Ok(index.iter().map(|entry| entry.path).collect())
    };
    let old_names: Vec<Vec<u8>> = match renamed {
        Some(Renamed { scrubber, dropped }) => tracked_paths(&wt.workdir)?
            .into_iter()
            .filter(|path| {
                scrubber
                    .replace(path)
                    .is_some_and(|new| !dropped.contains(String::from_utf8_lossy(&new).as_ref()))
            })
            .collect(),
        None => Vec::new(),
    };
    GitCommand::in_dir(&wt.workdir)
        .args(["reset", "--quiet"])
        .run("git reset")?;
    let changed = GitCommand::in_dir(&wt.workdir)
        .args([
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--ignore-submodules",
            // Modified, and missing: renamed files under their new names.
            "--diff-filter=MD",
        ])
        .run("git diff")?;
    let count = changed.split(|b| *b == 0).filter(|p| !p.is_empty()).count();
    if count > 0 {
        GitCommand::in_dir(&wt.workdir)
            .args(["checkout-index", "--force", "-z", "--stdin"])
            .input(changed)
            .run(&format!("git checkout-index in {}", wt.workdir.display()))?;
    }
    let mut removed = 0;
    if !old_names.is_empty() {
        let still_tracked: std::collections::HashSet<Vec<u8>> =
            tracked_paths(&wt.workdir)?.into_iter().collect();
        for old in old_names.iter().filter(|p| !still_tracked.contains(*p)) {
            let Some(path) = std::str::from_utf8(old).ok().map(|p| wt.workdir.join(p)) else {
                continue;
            };
            if std::fs::symlink_metadata(&path).is_ok() {
                std::fs::remove_file(&path)
                    .map_err(|e| GitError::io("cannot remove the old file", &wt.workdir, e))?;
                removed += 1;
                // Directories left empty go too, as git would remove them.
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != wt.workdir && d.starts_with(&wt.workdir)) {
                    if std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
        }
    }
    Ok(WorktreeUpdate {
        updated: count,
        old_names_removed: removed,
    })
}

/// How the rewrite renamed files: by replacing the secrets in their paths, except for the
/// files it dropped (by their new path), which stay on disk.
#[derive(Clone, Copy)]
pub struct Renamed<'a> {
    pub scrubber: &'a Scrubber,
    pub dropped: &'a std::collections::BTreeSet<String>,
}

/// What updating a worktree changed on disk.
pub struct WorktreeUpdate {
    /// Files written with their new content (or under their new name).
    pub updated: usize,
    /// Files removed because their old name held a secret.
    pub old_names_removed: usize,
}

/// Replaces secrets in the files git keeps a last commit message in (`COMMIT_EDITMSG` and
/// friends), which are not objects but would still show the secret.
pub fn scrub_message_files(repo: &Repository, scrubber: &Scrubber) -> Vec<PathBuf> {
    let mut dirs = vec![repo.commondir().to_path_buf()];
    dirs.extend(worktrees(repo).into_iter().map(|w| w.git_dir));
    dirs.sort();
    dirs.dedup();
    let mut scrubbed = Vec::new();
    for dir in dirs {
        for name in ["COMMIT_EDITMSG", "MERGE_MSG", "SQUASH_MSG", "TAG_EDITMSG"] {
            let path = dir.join(name);
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            if let Some(new) = scrubber.replace(&data) {
                if std::fs::write(&path, new).is_ok() {
                    scrubbed.push(path);
                }
            }
        }
    }
    scrubbed
}
