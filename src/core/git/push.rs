//! What a `git push` sends: the ref updates git hands the pre-push hook on stdin, the
//! commits they add to the remote (for a new branch, those no remote-tracking ref already
//! has; deletions add nothing), and the changes each of those commits introduces.

use super::error::GitError;
use super::sources::{range_changes, RangeChanges};
use git2::{Oid, Repository, Sort};
use std::collections::HashSet;

/// One line of pre-push input: `<local ref> <local oid> <remote ref> <remote oid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushLine {
    pub local_ref: String,
    pub local: Oid,
    pub remote_ref: String,
    pub remote: Oid,
}

impl PushLine {
    pub fn is_deletion(&self) -> bool {
        self.local.is_zero()
    }
}

/// Parses git's pre-push input; malformed lines are an error rather than silently
/// scanning nothing.
pub fn parse_push_lines(input: &str) -> Result<Vec<PushLine>, GitError> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let bad = || GitError::BadPushLine {
                line: line.to_string(),
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [local_ref, local, remote_ref, remote] = fields[..] else {
                return Err(bad());
            };
            Ok(PushLine {
                local_ref: local_ref.to_string(),
                local: Oid::from_str(local).map_err(|_| bad())?,
                remote_ref: remote_ref.to_string(),
                remote: Oid::from_str(remote).map_err(|_| bad())?,
            })
        })
        .collect()
}

/// The commits `updates` send, oldest first, each once.
pub fn pushed_commits(repo: &Repository, updates: &[PushLine]) -> Result<Vec<Oid>, GitError> {
    let walk_err = |e: git2::Error| GitError::libgit2("cannot walk the commits being pushed", e);
    let mut seen = HashSet::new();
    let mut commits = Vec::new();
    for update in updates.iter().filter(|u| !u.is_deletion()) {
        // A pushed annotated tag names a tag object; a tag of a tree or blob adds no commit.
        let Some(local) = repo
            .find_object(update.local, None)
            .and_then(|o| o.peel_to_commit())
            .ok()
            .map(|c| c.id())
        else {
            continue;
        };
        let mut walk = repo.revwalk().map_err(walk_err)?;
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
            .map_err(walk_err)?;
        walk.push(local).map_err(walk_err)?;
        let known_remote = !update.remote.is_zero() && repo.find_commit(update.remote).is_ok();
        if known_remote {
            walk.hide(update.remote).map_err(walk_err)?;
        } else {
            // A new branch (or a remote tip we never fetched): everything that no
            // remote-tracking ref already has.
            let refs = repo
                .references_glob("refs/remotes/*")
                .map_err(|e| GitError::libgit2("cannot list remote-tracking refs", e))?;
            for reference in refs.flatten() {
                if let Ok(commit) = reference.peel_to_commit() {
                    walk.hide(commit.id()).map_err(walk_err)?;
                }
            }
        }
        for oid in walk {
            let oid = oid.map_err(walk_err)?;
            if seen.insert(oid) {
                commits.push(oid);
            }
        }
    }
    Ok(commits)
}

/// The changes `commit` introduces (against its first parent; for a merge, only what
/// differs from every parent) and its message.
pub fn commit_changes(repo: &Repository, commit: Oid) -> Result<RangeChanges, GitError> {
    let parent = repo
        .find_commit(commit)
        .map_err(|e| GitError::corrupt(commit, e))?
        .parent_id(0)
        .ok();
    // `P..C` also lists the commits a merge brings in from its other parents; only C's own
    // changes are kept.
    let spec = match parent {
        Some(parent) => format!("{parent}..{commit}"),
        None => commit.to_string(),
    };
    let RangeChanges { changes, messages } = range_changes(repo, &spec)?;
    Ok(RangeChanges {
        changes: changes
            .into_iter()
            .filter(|c| c.commit == Some(commit))
            .collect(),
        messages: messages
            .into_iter()
            .filter(|m| m.object == commit)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ref_lines_and_rejects_garbage() {
        let zero = "0".repeat(40);
        let one = "1".repeat(40);
        let updates =
            parse_push_lines(&format!("refs/heads/a {one} refs/heads/a {zero}\n\n")).expect("ok");
        assert_eq!(updates.len(), 1);
        assert!(!updates[0].is_deletion());
        assert!(updates[0].remote.is_zero());
        assert!(parse_push_lines("refs/heads/a 123\n").is_err());
    }
}
