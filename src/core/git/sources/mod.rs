//! What a scan reads out of git, by source: all of history ([`history`]), the changes of a
//! commit range ([`changes`]) or of the staged index ([`staged`]), and the blobs themselves:
//! by id, in parallel with one repository handle per thread ([`blobs`]), or every blob of
//! the pack files in pack order ([`packed`]).

pub mod blobs;
pub mod changes;
pub mod history;
pub mod packed;
pub mod staged;

pub use blobs::{read_blobs, read_blobs_parallel, BlobRead};
pub use changes::{range_changes, Change, ChangeKind, RangeChanges};
pub use history::{all_object_ids, history_inventory, Inventory};
pub use staged::{staged_changes, staged_changes_fast};

use git2::Oid;

/// How many blobs go to a reader at a time: enough to make handing them over cheap, few
/// enough to keep every core busy.
pub(crate) const BLOB_BATCH: usize = 256;

/// A blob to scan and where it was first seen.
#[derive(Debug, Clone)]
pub struct BlobRef {
    pub oid: Oid,
    pub commit: Option<Oid>,
    pub path: Option<String>,
}

/// A commit or annotated tag message to scan.
#[derive(Debug, Clone)]
pub struct MessageRef {
    /// The commit, or for a tag the tag object.
    pub object: Oid,
    pub message: Vec<u8>,
}
