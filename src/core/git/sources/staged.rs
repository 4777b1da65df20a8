//! The changes staged in the index, as a scan source (what a commit would record, against
//! `HEAD`), by two paths with the same result. The fast one: the tree the commit would
//! record comes from the index's cache-tree (complete during `git commit`), or else from
//! writing the index as a tree into an in-memory object store (nothing reaches the
//! repository); it is compared with `HEAD` descending only into directories whose ids
//! differ. libgit2's tree-to-index diff, the slow path and the fallback when the index
//! cannot be written as a tree (conflicts), loads and checksums the whole index and reads
//! every tree of `HEAD`: tens of milliseconds on a 5 000-file tree.

use super::changes::{delta_change, diff_options, Change, ChangeKind};
use crate::core::git::cache_tree;
use crate::core::git::error::GitError;
use git2::{Oid, Repository, Tree};
use std::collections::HashMap;
use std::path::PathBuf;

/// The changes a commit would record (the index named by `GIT_INDEX_FILE` when set),
/// against `HEAD` or against nothing before the first commit: the fast path, falling back
/// to [`staged_changes`] when the index cannot be written as a tree.
pub fn staged_changes_fast(repo: &Repository) -> Result<Vec<Change>, GitError> {
    let cached = cache_tree::root_tree(&index_path(repo)).and_then(|id| repo.find_tree(id).ok());
    let new_tree = match cached {
        Some(tree) => tree,
        None => match index_as_tree(repo)? {
            Some(tree) => tree,
            None => return staged_changes(repo),
        },
    };
    let head_tree = head_tree(repo)?;
    let mut changes = Vec::new();
    diff_trees(repo, head_tree.as_ref(), Some(&new_tree), "", &mut changes)?;
    Ok(changes)
}

/// The changes in the index that a commit would record, against `HEAD` (or against
/// nothing, before the first commit), through libgit2's diff: the slow path. Reads the index file named by `GIT_INDEX_FILE` when
/// set, as git does during `git commit -a` and `git commit PATH` — libgit2 ignores it.
pub fn staged_changes(repo: &Repository) -> Result<Vec<Change>, GitError> {
    let mut index = open_index(repo)?;
    // An index opened by path has no repository; diffing needs the odb through `repo`.
    let head_tree = head_tree(repo)?;
    let _ = index.read(false);
    let diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut diff_options()))
        .map_err(|e| GitError::libgit2("cannot compare the index with HEAD", e))?;
    Ok(diff
        .deltas()
        .filter_map(|d| delta_change(&d, None))
        .collect())
}

/// The tree a commit would be compared with: `HEAD`'s, none before the first commit.
fn head_tree(repo: &Repository) -> Result<Option<Tree<'_>>, GitError> {
    match repo.head() {
        Ok(head) => head
            .peel_to_tree()
            .map(Some)
            .map_err(|e| GitError::libgit2("cannot read HEAD", e)),
        Err(_) => Ok(None),
    }
}

/// The index written as a tree into an in-memory object store; `None` when it cannot be
/// (unresolved conflicts).
fn index_as_tree(repo: &Repository) -> Result<Option<Tree<'_>>, GitError> {
    let mut index = open_index(repo)?;
    if index.has_conflicts() {
        return Ok(None);
    }
    let odb = repo
        .odb()
        .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
    // Highest priority: new tree objects land in memory, never on disk.
    odb.add_new_mempack_backend(1000)
        .map_err(|e| GitError::libgit2("cannot add an in-memory object store", e))?;
    let Ok(tree_id) = index.write_tree_to(repo) else {
        return Ok(None);
    };
    repo.find_tree(tree_id)
        .map(Some)
        .map_err(|e| GitError::libgit2("cannot read the staged tree", e))
}

fn is_blob_mode(mode: i32) -> bool {
    // Regular, executable, symlink; not trees (0o040000) or gitlinks (0o160000).
    matches!(mode, 0o100644 | 0o100755 | 0o120000 | 0o100664)
}

fn is_tree_mode(mode: i32) -> bool {
    mode == 0o040000
}

/// Compares two trees, descending only into subtrees whose ids differ — the work is
/// proportional to what changed, not to the size of the tree.
fn diff_trees(
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: Option<&Tree<'_>>,
    prefix: &str,
    out: &mut Vec<Change>,
) -> Result<(), GitError> {
    let entries = |tree: Option<&Tree<'_>>| -> HashMap<Vec<u8>, (Oid, i32)> {
        tree.map(|t| {
            t.iter()
                .map(|e| (e.name_bytes().to_vec(), (e.id(), e.filemode())))
                .collect()
        })
        .unwrap_or_default()
    };
    let olds = entries(old);
    let news = entries(new);
    let mut names: Vec<&Vec<u8>> = olds.keys().chain(news.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let path = if prefix.is_empty() {
            String::from_utf8_lossy(name).into_owned()
        } else {
            format!("{prefix}/{}", String::from_utf8_lossy(name))
        };
        let (o, n) = (olds.get(name).copied(), news.get(name).copied());
        if o == n {
            continue;
        }
        let subtree = |side: Option<(Oid, i32)>| -> Result<Option<Tree<'_>>, GitError> {
            match side {
                Some((id, mode)) if is_tree_mode(mode) => repo
                    .find_tree(id)
                    .map(Some)
                    .map_err(|e| GitError::corrupt(id, e)),
                _ => Ok(None),
            }
        };
        let (old_tree, new_tree) = (subtree(o)?, subtree(n)?);
        if old_tree.is_some() || new_tree.is_some() {
            diff_trees(repo, old_tree.as_ref(), new_tree.as_ref(), &path, out)?;
        }
        let old_blob = o.filter(|(_, m)| is_blob_mode(*m)).map(|(id, _)| id);
        let new_blob = n.filter(|(_, m)| is_blob_mode(*m)).map(|(id, _)| id);
        let kind = match (old_blob, new_blob) {
            (None, None) => continue,
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Deleted,
            (Some(_), Some(_)) => ChangeKind::Modified,
        };
        out.push(Change {
            commit: None,
            path,
            kind,
            new: new_blob,
            old: if kind == ChangeKind::Modified {
                old_blob
            } else {
                None
            },
        });
    }
    Ok(())
}

/// The index file a commit uses: `GIT_INDEX_FILE` (relative to the current directory, as
/// git sets it for hooks), else the repository's.
fn index_path(repo: &Repository) -> PathBuf {
    match std::env::var_os("GIT_INDEX_FILE") {
        Some(path) => {
            let path = PathBuf::from(path);
            if path.is_relative() {
                std::env::current_dir()
                    .map(|d| d.join(&path))
                    .unwrap_or(path)
            } else {
                path
            }
        }
        None => repo.path().join("index"),
    }
}

fn open_index(repo: &Repository) -> Result<git2::Index, GitError> {
    let path = index_path(repo);
    git2::Index::open(&path).map_err(|e| GitError::Index {
        action: "read",
        path: path.clone(),
        source: e.into(),
    })
}
