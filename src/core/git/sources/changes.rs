//! The changes a commit range introduces, commit by commit, as a scan source: each file a
//! commit adds or modifies, with the blob it replaces (to tell keys it introduces from keys
//! that were already there), and the messages of those commits.

use super::MessageRef;
use crate::core::git::error::GitError;
use git2::{Delta, DiffOptions, Oid, Repository, Sort, Tree};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// A file a commit (or the index) changes: the new blob, and the blob it replaces at the
/// same path, if any (to tell keys it introduces from keys that were already there).
#[derive(Debug, Clone)]
pub struct Change {
    pub commit: Option<Oid>,
    pub path: String,
    pub kind: ChangeKind,
    /// `None` for a deletion.
    pub new: Option<Oid>,
    pub old: Option<Oid>,
}

/// What a range of commits introduces: the changes, oldest first, and the commits'
/// messages.
#[derive(Debug, Default)]
pub struct RangeChanges {
    pub changes: Vec<Change>,
    pub messages: Vec<MessageRef>,
}

/// The changes introduced by each commit of `spec` (`A..B`, `A...B`, or `REV` for all
/// history reachable from it), oldest first, with the messages of those commits. A merge
/// introduces only what differs from every parent.
pub fn range_changes(repo: &Repository, spec: &str) -> Result<RangeChanges, GitError> {
    let bad = |e: git2::Error| GitError::BadRange {
        spec: spec.to_string(),
        source: e.into(),
    };
    let revspec = repo.revparse(spec).map_err(bad)?;
    let mut walk = repo
        .revwalk()
        .map_err(|e| GitError::libgit2("cannot walk history", e))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(bad)?;
    let peel = |o: &git2::Object<'_>| o.peel_to_commit().map(|c| c.id()).map_err(bad);
    match (revspec.from(), revspec.to()) {
        (Some(from), Some(to)) => {
            let (from, to) = (peel(from)?, peel(to)?);
            walk.push(to).map_err(bad)?;
            if revspec.mode().contains(git2::RevparseMode::MERGE_BASE) {
                walk.push(from).map_err(bad)?;
                let base = repo.merge_base(from, to).map_err(bad)?;
                walk.hide(base).map_err(bad)?;
            } else {
                walk.hide(from).map_err(bad)?;
            }
        }
        (Some(only), None) | (None, Some(only)) => walk.push(peel(only)?).map_err(bad)?,
        (None, None) => return Err(GitError::EmptyRange { spec: spec.into() }),
    }
    let mut changes = Vec::new();
    let mut messages = Vec::new();
    for oid in walk {
        let oid = oid.map_err(bad)?;
        let commit = repo
            .find_commit(oid)
            .map_err(|e| GitError::corrupt(oid, e))?;
        messages.push(MessageRef {
            object: oid,
            message: commit.message_raw_bytes().to_vec(),
        });
        let tree = commit.tree().map_err(|e| GitError::corrupt(oid, e))?;
        let parents: Vec<Tree<'_>> = commit
            .parents()
            .map(|p| p.tree())
            .collect::<Result<_, _>>()
            .map_err(|e| GitError::corrupt(oid, e))?;
        let first = parents.first();
        let diff = repo
            .diff_tree_to_tree(first, Some(&tree), Some(&mut diff_options()))
            .map_err(|e| GitError::corrupt(oid, e))?;
        for delta in diff.deltas() {
            let Some(change) = delta_change(&delta, Some(oid)) else {
                continue;
            };
            let in_other_parent = change.new.is_some_and(|new| {
                parents.iter().skip(1).any(|p| {
                    p.get_path(Path::new(&change.path))
                        .map(|e| e.id() == new)
                        .unwrap_or(false)
                })
            });
            if !in_other_parent {
                changes.push(change);
            }
        }
    }
    Ok(RangeChanges { changes, messages })
}

pub(super) fn diff_options() -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.skip_binary_check(true)
        .include_typechange(true)
        .ignore_submodules(true);
    opts
}

pub(super) fn delta_change(delta: &git2::DiffDelta<'_>, commit: Option<Oid>) -> Option<Change> {
    let kind = match delta.status() {
        Delta::Added | Delta::Copied => ChangeKind::Added,
        Delta::Modified | Delta::Renamed | Delta::Typechange => ChangeKind::Modified,
        Delta::Deleted => ChangeKind::Deleted,
        _ => return None,
    };
    let file = if kind == ChangeKind::Deleted {
        delta.old_file()
    } else {
        delta.new_file()
    };
    let is_blob = |f: &git2::DiffFile<'_>| {
        matches!(
            f.mode(),
            git2::FileMode::Blob | git2::FileMode::BlobExecutable | git2::FileMode::Link
        )
    };
    if !is_blob(&file) {
        return None;
    }
    let path = String::from_utf8_lossy(file.path_bytes()?).replace('\\', "/");
    let old = (kind == ChangeKind::Modified
        && is_blob(&delta.old_file())
        && !delta.old_file().id().is_zero())
    .then(|| delta.old_file().id());
    let new = (kind != ChangeKind::Deleted).then(|| delta.new_file().id());
    Some(Change {
        commit,
        path,
        kind,
        new,
        old,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;

    #[test]
    fn a_range_lists_each_commits_changes_with_the_blob_they_replace() {
        let t = TestRepo::new();
        t.write("a.txt", "one\n");
        t.write("gone.txt", "bye\n");
        let first = t.commit_all("first");
        t.write("a.txt", "two\n");
        t.write("b.txt", "new\n");
        std::fs::remove_file(t.root.join("gone.txt")).expect("remove");
        let mut index = t.repo.index().expect("index");
        index
            .remove_path(std::path::Path::new("gone.txt"))
            .expect("unstage");
        index.write().expect("write");
        let second = t.commit_all("second");
        let RangeChanges { changes, messages } =
            range_changes(&t.repo, &format!("{first}..{second}")).expect("range");
        let mut rows: Vec<(String, ChangeKind, bool)> = changes
            .iter()
            .map(|c| (c.path.clone(), c.kind, c.old.is_some()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            rows,
            [
                ("a.txt".to_string(), ChangeKind::Modified, true),
                ("b.txt".to_string(), ChangeKind::Added, false),
                ("gone.txt".to_string(), ChangeKind::Deleted, false),
            ]
        );
        assert!(changes.iter().all(|c| c.commit == Some(second)));
        assert_eq!(messages.len(), 1);
        // A single revision is all the history reachable from it.
        let all = range_changes(&t.repo, &second.to_string()).expect("range");
        assert_eq!(all.messages.len(), 2);
        // A range that names nothing is refused, naming the range.
        let err = range_changes(&t.repo, "no-such-ref..HEAD").expect_err("bad range");
        assert!(matches!(err, GitError::BadRange { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-ref..HEAD"), "{err}");
    }
}
