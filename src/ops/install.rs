//! Installing keywarden in a repository: what it finds there that needs attention.

use crate::core::envfiles::EnvFilePolicy;
use crate::core::git::tracked;
use git2::Repository;

/// Tracked files whose name the env-file policy blocks.
pub fn tracked_env_files(repo: &Repository, policy: &EnvFilePolicy) -> anyhow::Result<Vec<String>> {
    if repo.is_bare() {
        return Ok(Vec::new());
    }
    Ok(tracked::tracked_paths(repo)?
        .into_iter()
        .filter(|p| policy.is_blocked(p))
        .collect())
}
