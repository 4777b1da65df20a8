//! Finding and opening the repository, and the libgit2 settings for reading all of it.

use super::error::GitError;
use git2::{ErrorCode, Repository, RepositoryOpenFlags};
use std::path::{Path, PathBuf};

/// Opens the repository that contains `start` (or the one named by `GIT_DIR`, as inside a
/// hook). A repository that belongs to another user is refused as git refuses it, with
/// git's `safe.directory` advice.
pub fn open(start: &Path) -> Result<Repository, GitError> {
    let opened = if std::env::var_os("GIT_DIR").is_some() {
        Repository::open_from_env()
    } else {
        let ceilings: Vec<PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default();
        Repository::open_ext(start, RepositoryOpenFlags::empty(), ceilings)
    };
    opened.map_err(|e| match e.code() {
        ErrorCode::Owner => GitError::opening(start, e),
        _ => GitError::NotARepo {
            path: start.to_path_buf(),
        },
    })
}

/// Opens the repository whose git dir (or work tree) is `path` exactly, as worker threads
/// and aftercare steps do with a path the main handle gave them.
pub fn open_at(path: &Path) -> Result<Repository, GitError> {
    Repository::open(path).map_err(|e| GitError::opening(path, e))
}

/// Settings for reading many objects once each: skip re-hashing every object (about 3×
/// faster; integrity is git's job, fsck's) and switch off the object cache — every object
/// is read once, so caching only grows memory (620 MB instead of 185 MB on the 30 000-commit
/// benchmark). Process-wide, so called once by a command that reads history.
pub fn tune_for_bulk_reads() {
    git2::opts::strict_hash_verification(false);
    git2::opts::enable_caching(false);
    // libgit2 maps up to 8 GiB of pack at a time by default, and every page a walk touches
    // stays in the process's memory; a few smaller windows keep that bounded on large
    // histories (a history scan of git/git: 430 MB peak with the defaults). Nothing is read
    // twice in bulk, so the object cache would only grow memory.
    // SAFETY: these set libgit2's global options; they are called before any thread that
    // reads objects is started, and the values are plain sizes.
    unsafe {
        let _ = git2::opts::set_mwindow_size(MWINDOW_SIZE);
        let _ = git2::opts::set_mwindow_mapped_limit(MWINDOW_MAPPED_LIMIT);
    }
}

/// The size of one libgit2 pack window, and the most mapped at once.
const MWINDOW_SIZE: usize = 64 << 20;
const MWINDOW_MAPPED_LIMIT: usize = 160 << 20;

/// The remotes a partial clone promises missing objects from (`remote.<name>.promisor`).
pub fn promisor_remotes(repo: &Repository) -> Vec<String> {
    let Ok(remotes) = repo.remotes() else {
        return Vec::new();
    };
    let Ok(config) = repo.config() else {
        return Vec::new();
    };
    remotes
        .iter()
        .flatten()
        .filter(|name| {
            config
                .get_bool(&format!("remote.{name}.promisor"))
                .unwrap_or(false)
        })
        .map(str::to_string)
        .collect()
}

/// The directory scanned paths are shown relative to: the work tree, or the git dir of a
/// bare repository.
pub fn root_dir(repo: &Repository) -> PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf()
}
