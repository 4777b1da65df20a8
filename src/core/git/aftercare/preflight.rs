//! Before a rewrite: every worktree must be clean (tracked files as committed) and free of
//! an operation in progress, or the rewrite would lose work or strand the operation.

use crate::core::git::error::{GitError, Operation};
use crate::core::git::repo::open_at;
use crate::core::git::tips::worktrees;
use git2::{Repository, RepositoryState, StatusOptions};

/// Refuses when any worktree has uncommitted changes to tracked files or an operation in
/// progress: the rewrite would lose that work or leave the operation pointing at history
/// that no longer exists. Untracked files are fine (they are never touched).
pub fn preflight(repo: &Repository) -> Result<(), GitError> {
    for wt in worktrees(repo) {
        let r = open_at(&wt.git_dir)?;
        let operation = match r.state() {
            RepositoryState::Clean => None,
            RepositoryState::Merge => Some(Operation::Merge),
            RepositoryState::Revert | RepositoryState::RevertSequence => Some(Operation::Revert),
            RepositoryState::CherryPick | RepositoryState::CherryPickSequence => {
                Some(Operation::CherryPick)
            }
            RepositoryState::Bisect => Some(Operation::Bisect),
            RepositoryState::Rebase
            | RepositoryState::RebaseInteractive
            | RepositoryState::RebaseMerge => Some(Operation::Rebase),
            RepositoryState::ApplyMailbox | RepositoryState::ApplyMailboxOrRebase => {
                Some(Operation::ApplyMailbox)
            }
        };
        if let Some(op) = operation {
            return Err(GitError::OperationInProgress {
                path: wt.workdir.clone(),
                op,
            });
        }
        let mut opts = StatusOptions::new();
        // Writing back refreshed stat data (as `git status` does) changes no content and
        // spares git from hashing every file again when the worktree is reset afterwards.
        opts.include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(true)
            .update_index(true);
        let statuses = match r.statuses(Some(&mut opts)) {
            Ok(statuses) => statuses,
            // Writing the refreshed index back is only a speed-up: a read-only index (or
            // one another process holds) must not read as "cannot read the status".
            Err(_) => {
                opts.update_index(false);
                r.statuses(Some(&mut opts))
                    .map_err(|e| GitError::libgit2("cannot read the status", e))?
            }
        };
        let dirty: Vec<String> = statuses
            .iter()
            .filter(|s| !s.status().is_empty() && !s.status().is_ignored())
            .map(|s| String::from_utf8_lossy(s.path_bytes()).into_owned())
            .collect();
        if !dirty.is_empty() {
            unreadable_head_objects(&r, &dirty)?;
        }
        if let Some(first) = dirty.first() {
            return Err(GitError::DirtyWorktree {
                path: wt.workdir.clone(),
                first: first.clone(),
                more: dirty.len() - 1,
            });
        }
    }
    Ok(())
}

/// A file reads as changed when what HEAD has for it cannot be read (a truncated pack):
/// that is damage, not uncommitted work, and is named as such.
fn unreadable_head_objects(repo: &Repository, dirty: &[String]) -> Result<(), GitError> {
    let Ok(head) = repo.head() else {
        return Ok(());
    };
    let Some(commit_id) = head.target() else {
        return Ok(());
    };
    let odb = repo
        .odb()
        .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
    let commit = repo
        .find_commit(commit_id)
        .map_err(|e| GitError::corrupt(commit_id, e))?;
    let tree = commit
        .tree()
        .map_err(|e| GitError::corrupt(commit.tree_id(), e))?;
    for path in dirty.iter().take(100) {
        let Ok(entry) = tree.get_path(std::path::Path::new(path)) else {
            continue;
        };
        if let Err(e) = odb.read(entry.id()) {
            return Err(GitError::corrupt(entry.id(), e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::error::ErrorKind;
    use crate::core::git::test_repo::TestRepo;

    #[test]
    fn a_clean_worktree_passes_and_untracked_files_do_not_count() {
        let t = TestRepo::new();
        t.write("a.txt", "a\n");
        t.commit_all("a");
        t.write("new.txt", "untracked\n");
        preflight(&t.repo).expect("clean enough");
    }

    #[test]
    fn uncommitted_changes_are_refused_naming_the_first() {
        let t = TestRepo::new();
        for name in ["a.txt", "b.txt", "c.txt"] {
            t.write(name, "old\n");
        }
        t.commit_all("three");
        t.write("a.txt", "new\n");
        t.write("c.txt", "new\n");
        let err = preflight(&t.repo).expect_err("dirty");
        let GitError::DirtyWorktree { path, first, more } = &err else {
            panic!("expected DirtyWorktree, got {err:?}");
        };
        assert_eq!(path, &t.root.join(""));
        assert_eq!((first.as_str(), *more), ("a.txt", 1));
        assert_eq!(err.kind(), ErrorKind::Refused);
        assert!(err.to_string().contains("(a.txt and 1 more)"), "{err}");
    }

    #[test]
    fn an_operation_in_progress_is_refused() {
        let t = TestRepo::new();
        t.write("a.txt", "a\n");
        let head = t.commit_all("a");
        std::fs::write(t.root.join(".git/MERGE_HEAD"), format!("{head}\n")).expect("write");
        let err = preflight(&t.repo).expect_err("mid-merge");
        assert!(
            matches!(
                err,
                GitError::OperationInProgress {
                    op: Operation::Merge,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Refused);
    }
}
