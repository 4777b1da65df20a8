//! Making the old objects go: every reflog expired (the stash's put back, rewritten), then
//! `git gc --prune=now`, with per-worktree refs held so gc keeps what only they reach.

use crate::core::git::command::GitCommand;
use crate::core::git::rewrite::Rewrite;
use crate::core::git::tips::{StashEntry, Tips};
use crate::core::git::GitError;
use git2::{Repository, Signature, Time};

/// Drops every reflog entry (they still point at the old commits), then puts back the
/// stash's reflog — which is the list of stashes — with the rewritten entries.
pub fn expire_reflogs(repo: &Repository, stash: &[StashEntry]) -> Result<(), GitError> {
    GitCommand::in_dir(repo.commondir())
        .args([
            "reflog",
            "expire",
            "--expire=now",
            "--expire-unreachable=now",
            "--all",
        ])
        .run("git reflog expire")?;
    if stash.is_empty() {
        return Ok(());
    }
    let mut reflog = repo
        .reflog("refs/stash")
        .map_err(|e| GitError::libgit2("cannot read the stash reflog", e))?;
    while !reflog.is_empty() {
        reflog
            .remove(0, false)
            .map_err(|e| GitError::libgit2("cannot rewrite the stash reflog", e))?;
    }
    for entry in stash {
        let committer = Signature::new(
            &entry.name,
            &entry.email,
            &Time::new(entry.time, entry.offset_minutes),
        )
        .map_err(|e| GitError::libgit2("cannot rewrite the stash reflog", e))?;
        reflog
            .append(entry.oid, &committer, Some(&entry.message))
            .map_err(|e| GitError::libgit2("cannot rewrite the stash reflog", e))?;
    }
    reflog
        .write()
        .map_err(|e| GitError::libgit2("cannot write the stash reflog", e))
}

/// `git gc --prune=now`: repacks what is reachable and deletes everything else.
///
/// git's gc does not count the per-worktree refs of linked worktrees (`refs/worktree/*`…)
/// as reachable and would delete what only they point at, so those targets are held by
/// temporary refs while it runs.
pub fn gc(repo: &Repository, tips: &Tips, rewrite: &Rewrite) -> Result<(), GitError> {
    let mut held = Vec::new();
    let mut result = Ok(Vec::new());
    'hold: for (i, head) in tips.heads.iter().enumerate() {
        for (name, old) in head.own_refs.iter() {
            let now = rewrite
                .worktree_updates
                .iter()
                .find(|u| u.git_dir == head.git_dir && u.name == *name)
                .map_or(*old, |u| u.new);
            let hold = format!("refs/keywarden-gc-hold/{i}/{}", held.len());
            if let Err(e) = repo.reference(&hold, now, true, "keywarden purge: held during gc") {
                result = Err(GitError::libgit2(
                    format!("cannot protect {name} during gc"),
                    e,
                ));
                break 'hold;
            }
            held.push(hold);
        }
    }
    if result.is_ok() {
        result = GitCommand::in_dir(repo.commondir())
            .args(["gc", "--prune=now", "--quiet"])
            .run("git gc --prune=now");
    }
    for hold in held {
        if let Ok(mut r) = repo.find_reference(&hold) {
            let _ = r.delete();
        }
    }
    result.map(|_| ())
}
