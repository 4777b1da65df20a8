//! Reading blobs for a scan: many at once on every core (one repository handle per worker),
//! or a batch in order on this thread; blobs over a size limit are reported, not inflated.

use crate::core::git::error::GitError;
use git2::Oid;
use rayon::prelude::*;
use std::path::Path;

const SMALL_READ: usize = 32;

/// The result of reading one blob for a scan.
pub enum BlobRead<'a> {
    Data(&'a [u8]),
    TooLarge(u64),
    Failed(GitError),
}

/// Reads `items` in parallel (one repository handle per worker), handing each blob's bytes
/// to `visit`; blobs over `max_size` are reported as `TooLarge` without being inflated.
pub fn read_blobs_parallel<T, F>(
    git_dir: &Path,
    items: &[T],
    oid_of: fn(&T) -> Oid,
    max_size: u64,
    visit: F,
) -> Result<(), GitError>
where
    T: Sync,
    F: Fn(&T, BlobRead<'_>) + Sync,
{
    // A handful of blobs (a pre-commit) is read with one handle: opening a repository per
    // worker costs more than the reads.
    if items.len() <= SMALL_READ {
        return read_blobs(git_dir, items, oid_of, max_size, &visit);
    }
    // Small chunks keep both cores busy when a few blobs are large.
    let chunk = (items.len() / (rayon::current_num_threads() * 16)).clamp(1, 512);
    items
        .par_chunks(chunk)
        .try_for_each(|chunk| read_blobs(git_dir, chunk, oid_of, max_size, &visit))
}

/// Reads `items` in order on this thread with a repository handle of its own.
pub fn read_blobs<T, F>(
    git_dir: &Path,
    items: &[T],
    oid_of: fn(&T) -> Oid,
    max_size: u64,
    visit: &F,
) -> Result<(), GitError>
where
    F: Fn(&T, BlobRead<'_>),
{
    let repo = crate::core::git::repo::open_at(git_dir)?;
    let odb = repo
        .odb()
        .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
    for item in items {
        let oid = oid_of(item);
        match odb.read_header(oid) {
            Ok((size, _)) if size as u64 > max_size => visit(item, BlobRead::TooLarge(size as u64)),
            Ok(_) => match odb.read(oid) {
                Ok(object) => visit(item, BlobRead::Data(object.data())),
                Err(e) => visit(item, BlobRead::Failed(GitError::corrupt(oid, e))),
            },
            Err(e) => visit(item, BlobRead::Failed(GitError::corrupt(oid, e))),
        }
    }
    Ok(())
}
