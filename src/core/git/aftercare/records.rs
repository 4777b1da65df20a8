//! The record of what a rewrite changed, kept in `.git/keywarden/`: the old→new commit
//! map, the first changed commits (what a hosting provider needs to purge its caches) and
//! the refs that moved.

use super::{private_file, state_dir};
use crate::core::git::rewrite::Rewrite;
use crate::core::git::GitError;
use git2::Repository;
use std::io::Write;
use std::path::PathBuf;

/// What `write_records` wrote.
#[derive(Debug)]
pub struct Records {
    pub commit_map: PathBuf,
    pub first_changed: PathBuf,
    pub ref_map: PathBuf,
}

/// Records the old→new commit map (every rewritten commit, unchanged ones too, as
/// `git filter-repo` does), the first changed commits and the moved refs.
pub fn write_records(
    repo: &Repository,
    rewrite: &Rewrite,
    stamp: &str,
) -> Result<Records, GitError> {
    let dir = state_dir(repo)?;
    let write = |name: &str, text: String| -> Result<PathBuf, GitError> {
        let path = dir.join(format!("{name}-{stamp}.txt"));
        let mut file = private_file(&path)?;
        file.write_all(text.as_bytes())
            .map_err(|e| GitError::io("cannot write", &path, e))?;
        Ok(path)
    };
    let mut map = String::from("old new\n");
    for old in &rewrite.commit_order {
        let new = rewrite.commit_map.get(old).unwrap_or(old);
        map.push_str(&format!("{old} {new}\n"));
    }
    let first: String = rewrite
        .first_changed
        .iter()
        .map(|oid| format!("{oid}\n"))
        .collect();
    let refs: String = rewrite
        .ref_updates
        .iter()
        .map(|u| format!("{} {} {}\n", u.old, u.new, u.name))
        .collect();
    Ok(Records {
        commit_map: write("commit-map", map)?,
        first_changed: write("first-changed", first)?,
        ref_map: write("ref-map", refs)?,
    })
}
