//! Files the index tracks, and taking some of them out of the index while leaving them on
//! disk (`git rm --cached`), for `.env` files that should never have been committed.

use super::error::GitError;
use git2::Repository;
use std::path::Path;

fn index_error(repo: &Repository, action: &'static str, e: git2::Error) -> GitError {
    GitError::Index {
        action,
        path: repo.path().join("index"),
        source: e.into(),
    }
}

/// Every path in the index (stage 0 and conflict stages alike), with `/` separators.
pub fn tracked_paths(repo: &Repository) -> Result<Vec<String>, GitError> {
    let index = repo.index().map_err(|e| index_error(repo, "read", e))?;
    let mut paths: Vec<String> = index
        .iter()
        .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
        .collect();
    paths.dedup();
    Ok(paths)
}

/// Removes `paths` from the index; the files stay in the working tree.
pub fn untrack(repo: &Repository, paths: &[String]) -> Result<(), GitError> {
    let mut index = repo.index().map_err(|e| index_error(repo, "read", e))?;
    for path in paths {
        index
            .remove_path(Path::new(path))
            .map_err(|e| index_error(repo, "update", e))?;
    }
    index.write().map_err(|e| index_error(repo, "update", e))
}
