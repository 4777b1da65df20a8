//! After the refs moved: every worktree brought to its new HEAD (index reset, only changed
//! tracked files rewritten, untracked files left alone), and the message files git keeps
//! in its git dirs scrubbed.

use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::repo::open_at;
use crate::core::git::tips::{worktrees, Worktree};
use crate::core::scrub::Scrubber;
use git2::{Oid, Repository};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Brings a worktree to its (new) HEAD: the index is reset to HEAD's tree and only tracked
/// files whose content changed are rewritten. Untracked files, including files the purge
/// dropped from history (such as a `.env`), stay on disk as they are. Returns how many
/// files were rewritten.
///
/// `old_head` is the commit the worktree had checked out before the purge. A file is only
/// rewritten when it is still as that commit had it: a file changed since (by the person,
/// between an interrupted purge and its resumption — a purge refuses to start on a dirty
/// worktree) is left as it is and listed in `kept`, and one an interrupted run already
/// rewrote needs nothing. So this can run again after a crash at any point, and it never
/// overwrites work.
///
/// With `renamed`, tracked files whose path holds a secret were renamed by the rewrite: the
/// file under its new name is checked out and the old one removed (when unchanged) — unless
/// the purge dropped it.
pub fn update_worktree(
    wt: &Worktree,
    old_head: Option<Oid>,
    renamed: Option<Renamed<'_>>,
) -> Result<WorktreeUpdate, GitError> {
    let tracked_paths = |dir: &Path| -> Result<Vec<Vec<u8>>, GitError> {
        let index = open_at(dir)?
            .index()
            .map_err(|e| GitError::libgit2("cannot read the index", e))?;
        Ok(index.iter().map(|entry| entry.path).collect())
    };
    let differing = |against: Option<String>, filter: &str| -> Result<Vec<Vec<u8>>, GitError> {
        let mut command = GitCommand::in_dir(&wt.workdir).args([
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--ignore-submodules",
            filter,
        ]);
        if let Some(commit) = against {
            command = command.arg(commit).arg("--");
        }
        let out = command.run("git diff")?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    };
    // Not as the old HEAD had them: changed since, or already rewritten.
    let not_as_before: HashSet<Vec<u8>> = match old_head {
        Some(commit) => differing(Some(commit.to_string()), "--diff-filter=ACDMRTUXB")?
            .into_iter()
            .collect(),
        None => HashSet::new(),
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
    // Modified, and missing: renamed files under their new names.
    let changed = differing(None, "--diff-filter=MD")?;
    let (kept, rewrite): (Vec<Vec<u8>>, Vec<Vec<u8>>) = changed
        .into_iter()
        .partition(|path| not_as_before.contains(path) && !is_missing(&wt.workdir, path));
    let count = rewrite.len();
    if count > 0 {
        let mut input = Vec::new();
        for path in &rewrite {
            input.extend_from_slice(path);
            input.push(0);
        }
        GitCommand::in_dir(&wt.workdir)
            .args(["checkout-index", "--force", "-z", "--stdin"])
            .input(input)
            .run(&format!("git checkout-index in {}", wt.workdir.display()))?;
    }
    let mut removed = 0;
    if !old_names.is_empty() {
        let still_tracked: HashSet<Vec<u8>> = tracked_paths(&wt.workdir)?.into_iter().collect();
        for old in old_names
            .iter()
            .filter(|p| !still_tracked.contains(*p) && !not_as_before.contains(*p))
        {
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
        kept: kept
            .into_iter()
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .collect(),
    })
}

fn is_missing(workdir: &Path, path: &[u8]) -> bool {
    std::str::from_utf8(path)
        .map(|p| std::fs::symlink_metadata(workdir.join(p)).is_err())
        .unwrap_or(false)
}

/// Resets the index of a worktree registration that belongs to another repository's worktree
/// (in a `cp -a` copy, see `tips::ForeignWorktree`) to its HEAD's tree: that index is this
/// repository's own file, which nothing uses, and it would keep the old blobs alive through
/// gc. The worktree on disk belongs to the original and is not touched.
pub fn reset_registration_index(registration: &Path) -> Result<(), GitError> {
    let repo = Repository::open_bare(registration)
        .map_err(|e| GitError::libgit2(format!("cannot open {}", registration.display()), e))?;
    let tree = match repo.head().and_then(|h| h.peel_to_tree()) {
        Ok(tree) => tree,
        // An unborn or unreadable HEAD: nothing to reset to.
        Err(_) => return Ok(()),
    };
    let mut index = repo.index().map_err(|e| GitError::Index {
        action: "read",
        path: registration.join("index"),
        source: e.into(),
    })?;
    index
        .read_tree(&tree)
        .and_then(|_| index.write())
        .map_err(|e| GitError::Index {
            action: "update",
            path: registration.join("index"),
            source: e.into(),
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
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorktreeUpdate {
    /// Files written with their new content (or under their new name).
    pub updated: usize,
    /// Files removed because their old name held a secret.
    pub old_names_removed: usize,
    /// Tracked files changed since the purge started, left as they are (they may still
    /// hold the secret).
    pub kept: Vec<String>,
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
        let update = update_worktree(&main_worktree(&t), None, None).expect("updated");
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
        let update = update_worktree(&main_worktree(&t), None, Some(renamed)).expect("updated");
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
    fn run_again_after_a_crash_it_finishes_and_keeps_what_the_person_changed() {
        let t = TestRepo::new();
        t.write("a.cfg", format!("token={SECRET}\n"));
        t.write("b.cfg", format!("other={SECRET}\n"));
        t.write("c.txt", "same\n");
        let old = t.commit_all("add");
        t.rewrite_head(&[
            ("a.cfg", "token=***REMOVED***\n"),
            ("b.cfg", "other=***REMOVED***\n"),
            ("c.txt", "same\n"),
        ]);
        // As after a kill half-way: a.cfg already rewritten; b.cfg edited by the person.
        t.write("a.cfg", "token=***REMOVED***\n");
        t.write("b.cfg", "edited by hand\n");
        let update = update_worktree(&main_worktree(&t), Some(old), None).expect("updated");
        assert_eq!(update.updated, 0, "{update:?}");
        assert_eq!(update.kept, ["b.cfg"]);
        let read = |p: &str| std::fs::read_to_string(t.root.join(p)).expect("read");
        assert_eq!(read("a.cfg"), "token=***REMOVED***\n");
        assert_eq!(read("b.cfg"), "edited by hand\n");
        // And from the very start, with the old HEAD given, it rewrites what is unchanged.
        let t = TestRepo::new();
        t.write("a.cfg", format!("token={SECRET}\n"));
        let old = t.commit_all("add");
        t.rewrite_head(&[("a.cfg", "token=***REMOVED***\n")]);
        let update = update_worktree(&main_worktree(&t), Some(old), None).expect("updated");
        assert_eq!((update.updated, update.kept.len()), (1, 0));
        assert_eq!(
            std::fs::read_to_string(t.root.join("a.cfg")).expect("read"),
            "token=***REMOVED***\n"
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
