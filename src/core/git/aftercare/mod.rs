//! The safety net and the aftercare around a history rewrite, one step per module:
//! refusing to start on a dirty or mid-operation worktree (`preflight`), the backup bundle
//! (`backup`), the record of what changed (`records`, in `.git/keywarden/`), bringing every
//! worktree to its new HEAD without touching untracked files (`worktree`), expiring reflogs
//! and collecting garbage (`gc`: libgit2 has none, so git does it), pushing the rewritten
//! refs (`force_push`), and the final check that no object left holds a secret (`verify`).

mod backup;
mod force_push;
mod gc;
mod preflight;
mod records;
mod verify;
mod worktree;

pub use backup::{
    backup_bundle, backup_path, bundle_refs, check_bundle, clear_temporaries, is_temporary_ref,
};
pub use force_push::{force_push, is_pushable, refs_to_push, PushOutcome, PushResult, PushSpec};
pub use gc::{expire_reflogs, gc, restore_stash};
pub use preflight::preflight;
pub use records::{replaced_commits, write_records, Records};
pub use verify::{verify_odb, Leftover, OdbCheck};
pub use worktree::{
    reset_registration_index, scrub_message_files, update_worktree, Renamed, WorktreeUpdate,
};

use crate::core::git::error::GitError;
use git2::Repository;
use std::path::{Path, PathBuf};

/// `.git/keywarden/` (in the common git dir, shared by all worktrees), private to the user.
pub fn state_dir(repo: &Repository) -> Result<PathBuf, GitError> {
    let dir = repo.commondir().join("keywarden");
    std::fs::create_dir_all(&dir).map_err(|e| GitError::io("cannot create", &dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(dir)
}

/// Creates `path`, which must not exist yet, readable by the user only: the backup and the
/// records describe (and the backup holds) the history being purged.
fn private_file(path: &Path) -> Result<std::fs::File, GitError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| GitError::io("cannot create", path, e))
}
