//! git, through libgit2 and raw objects. This file only declares the modules and
//! re-exports what callers use most; each module imports what it needs from the module
//! that defines it, and the modules form no cycle.
//!
//! - `repo`: finding and opening the repository; `error`: `GitError` and its `kind()`.
//! - `sources`: what a scan reads (all history, a range's changes, the staged changes,
//!   blobs in parallel); `push`: what a `git push` sends, for the pre-push hook.
//! - `tips`: refs, worktree HEADs, stash entries, worktrees, remotes.
//! - `raw`: the object codec; `oid`: id-keyed maps and sets; `pack`: the pack writer;
//!   `delete_paths`: `--delete-path` patterns.
//! - `rewrite`: the history rewrite engine; `aftercare`: everything around it (preflight,
//!   backup, records, worktrees, gc, push, verification).
//! - `command`: the one place `git` itself is run; `tracked`, `cache_tree`: index helpers.

pub mod aftercare;
pub mod cache_tree;
pub mod command;
pub mod delete_paths;
pub mod error;
pub mod oid;
pub mod pack;
pub mod push;
pub mod raw;
pub mod repo;
pub mod rewrite;
pub mod sources;
#[cfg(test)]
mod test_repo;
pub mod tips;
pub mod tracked;

pub use sources::{
    history_inventory, packed, range_changes, read_blobs, read_blobs_parallel, staged_changes,
    staged_changes_fast, BlobRead, BlobRef, Change, ChangeKind, Inventory, MessageRef,
    RangeChanges,
};
pub use tips::{ref_tips, RefTip};

pub use error::{Damage, ErrorKind, GitError, Libgit2Error, Operation};

pub use repo::{open, open_at, promisor_remotes, root_dir, tune_for_bulk_reads};
