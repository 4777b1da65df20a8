//! After the refs moved: every worktree brought to its new HEAD (index reset, only changed
//! tracked files rewritten, untracked files left alone), and the message files git keeps
//! in its git dirs scrubbed.

use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::repo::open_at;
use crate::core::git::tips::{worktrees, Worktree};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;
    use std::collections::BTreeSet;

    const SECRET: &str = "hunter2hunter2";

    fn main_worktree(t: &TestRepo) -> Worktree {
        worktrees(&t.repo)
            .into_iter()
            .next()
            .expect("the main worktree")
    }

    #[test]
    fn a_worktree_follows_its_rewritten_head_and_keeps_untracked_files() {
        let t = TestRepo::new();
        t.write("app.cfg", format!("token={SECRET}\n"));
        t.write("same.txt", "same\n");
        t.commit_all("add");
        t.write("notes.local", "untracked\n");
        t.rewrite_head(&[("app.cfg", "token=***REMOVED***\n"), ("same.txt", "same\n")]);
        let update = update_worktree(&main_worktree(&t), None).expect("updated");
        assert_eq!(update.updated, 1);
        assert_eq!(update.old_names_removed, 0);
        let read = |p: &str| std::fs::read_to_string(t.root.join(p)).expect("read");
        assert_eq!(read("app.cfg"), "token=***REMOVED***\n");
        assert_eq!(read("same.txt"), "same\n");
        assert_eq!(read("notes.local"), "untracked\n");
        let statuses = t.repo.statuses(None).expect("status");
        let dirty: Vec<String> = statuses
            .iter()
            .filter(|s| !s.status().is_wt_new())
            .filter_map(|s| s.path().map(str::to_string))
            .collect();
        assert!(dirty.is_empty(), "clean against the new HEAD: {dirty:?}");
    }

    #[test]
    fn a_file_whose_name_held_a_secret_is_checked_out_under_its_new_name() {
        let t = TestRepo::new();
        let old_name = format!("keys/{SECRET}.txt");
        t.write(&old_name, "x\n");
        t.write("dropped.env", "A=1\n");
        t.commit_all("add");
        t.rewrite_head(&[("keys/***REMOVED***.txt", "x\n")]);
        let scrubber = Scrubber::from_lines(SECRET, "***REMOVED***").expect("scrubber");
        let dropped: BTreeSet<String> = ["dropped.env".to_string()].into();
        let renamed = Renamed {
            scrubber: &scrubber,
            dropped: &dropped,
        };
        let update = update_worktree(&main_worktree(&t), Some(renamed)).expect("updated");
        assert_eq!(update.old_names_removed, 1);
        assert!(!t.root.join(&old_name).exists());
        assert!(t.root.join("keys/***REMOVED***.txt").exists());
        // A file the purge dropped from history stays on disk, untracked.
        assert_eq!(
            std::fs::read_to_string(t.root.join("dropped.env")).expect("kept"),
            "A=1\n"
        );
    }

    #[test]
    fn message_files_lose_the_secret() {
        let t = TestRepo::new();
        t.write("a.txt", "a\n");
        t.commit_all("a");
        let git_dir = t.root.join(".git");
        std::fs::write(git_dir.join("COMMIT_EDITMSG"), format!("add {SECRET}\n")).expect("write");
        std::fs::write(git_dir.join("MERGE_MSG"), "nothing here\n").expect("write");
        let scrubber = Scrubber::from_lines(SECRET, "***REMOVED***").expect("scrubber");
        let scrubbed = scrub_message_files(&t.repo, &scrubber);
        assert_eq!(scrubbed, [git_dir.join("COMMIT_EDITMSG")]);
        assert_eq!(
            std::fs::read_to_string(git_dir.join("COMMIT_EDITMSG")).expect("read"),
            "add ***REMOVED***\n"
        );
        assert_eq!(
            std::fs::read_to_string(git_dir.join("MERGE_MSG")).expect("read"),
            "nothing here\n"
        );
    }
}
