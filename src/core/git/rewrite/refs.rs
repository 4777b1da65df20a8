//! Moving the refs after a rewrite: every shared ref in one transaction (all or nothing,
//! and refused when one moved meanwhile), then each worktree's detached HEAD and own refs.

use super::Rewrite;
use crate::core::git::error::GitError;
use crate::core::git::repo::open_at;
use git2::{Repository, Signature};

/// Moves every ref in one transaction (all or nothing), then each detached worktree HEAD.
pub fn apply_ref_updates(repo: &Repository, rewrite: &Rewrite) -> Result<(), GitError> {
    let signature = Signature::now("keywarden", "keywarden@localhost")
        .map_err(|e| GitError::libgit2("cannot make a reflog signature", e))?;
    let mut tx = repo
        .transaction()
        .map_err(|e| GitError::libgit2("cannot start a ref transaction", e))?;
    for update in &rewrite.ref_updates {
        tx.lock_ref(&update.name)
            .map_err(|e| GitError::libgit2(format!("cannot lock {}", update.name), e))?;
    }
    for update in &rewrite.ref_updates {
        // Refuse if someone moved the ref while we were rewriting.
        let current = repo
            .refname_to_id(&update.name)
            .map_err(|e| GitError::libgit2(format!("cannot read {}", update.name), e))?;
        if current != update.old {
            return Err(GitError::RefMoved {
                name: update.name.clone(),
            });
        }
        tx.set_target(
            &update.name,
            update.new,
            Some(&signature),
            "keywarden purge",
        )
        .map_err(|e| GitError::libgit2(format!("cannot update {}", update.name), e))?;
    }
    tx.commit()
        .map_err(|e| GitError::libgit2("cannot update the refs", e))?;
    for update in &rewrite.worktree_updates {
        let wt = open_at(&update.git_dir)?;
        let what = format!("{} of {}", update.name, update.git_dir.display());
        let moved = if update.name == "HEAD" {
            wt.set_head_detached(update.new)
        } else {
            wt.reference_matching(
                &update.name,
                update.new,
                true,
                update.old,
                "keywarden purge",
            )
            .map(|_| ())
        };
        moved.map_err(|e| GitError::libgit2(format!("cannot move {what}"), e))?;
    }
    Ok(())
}
