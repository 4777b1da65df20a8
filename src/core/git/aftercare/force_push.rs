//! Pushing the rewritten refs to a remote, which still has the old history until then.

use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::rewrite::Rewrite;
use git2::Repository;

/// The refs a remote needs force-pushed: rewritten branches, tags and notes.
pub fn refs_to_push(rewrite: &Rewrite) -> Vec<String> {
    rewrite
        .ref_updates
        .iter()
        .map(|u| u.name.clone())
        .filter(|n| {
            n.starts_with("refs/heads/")
                || n.starts_with("refs/tags/")
                || n.starts_with("refs/notes/")
        })
        .collect()
}

/// `git push --force REMOTE ref:ref…` for the rewritten refs. git's messages go to our
/// stderr, where its own progress and credential prompts belong.
pub fn force_push(repo: &Repository, remote: &str, refs: &[String]) -> Result<(), GitError> {
    if refs.is_empty() {
        return Ok(());
    }
    let output = GitCommand::in_dir(repo.commondir())
        .args(["push", "--force", "--porcelain", remote])
        .args(refs.iter().map(|name| format!("{name}:{name}")))
        .show_stderr()
        .output("git push")?;
    if !output.status.success() {
        return Err(GitError::PushFailed {
            remote: remote.to_string(),
        });
    }
    Ok(())
}
