//! What a scan reads out of git: inventories of blobs (with the commit and path that
//! introduced each) and of commit and tag messages, the changes of a commit range or of the
//! staged index, and a parallel blob reader with one repository handle per thread.

use super::GitError;
use git2::{Delta, DiffOptions, ObjectType, Oid, Repository, Sort, Tree};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::Path;

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

/// What a history walk found besides the blobs it streamed out.
#[derive(Debug, Default)]
pub struct Inventory {
    pub messages: Vec<MessageRef>,
    pub commits: usize,
    pub blobs: usize,
}

/// Hands blobs to the caller in batches as the walk finds them, so that reading and
/// scanning run while the walk goes on.
struct BlobBatcher<'a> {
    batch: Vec<BlobRef>,
    sink: &'a mut dyn FnMut(Vec<BlobRef>),
    total: usize,
}

const BLOB_BATCH: usize = 256;

impl BlobBatcher<'_> {
    fn push(&mut self, blob: BlobRef) {
        self.total += 1;
        self.batch.push(blob);
        if self.batch.len() >= BLOB_BATCH {
            (self.sink)(std::mem::take(&mut self.batch));
        }
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            (self.sink)(std::mem::take(&mut self.batch));
        }
    }
}

/// Every blob reachable from every ref (and `HEAD`, and the stash's reflog), each once,
/// attributed to the oldest commit (in topological order) and path holding it; and every
/// commit and annotated tag message. With `all_objects`, also every other object in the
/// object database: dangling blobs (no commit, no path) and unreachable commits and tags.
/// Blobs go to `on_blobs` in batches while the walk runs. A tip that cannot be read (its
/// object is missing or corrupt) is an error naming the ref.
pub fn history_inventory(
    repo: &Repository,
    all_objects: bool,
    on_blobs: &mut dyn FnMut(Vec<BlobRef>),
) -> Result<Inventory, GitError> {
    let mut blobs = BlobBatcher {
        batch: Vec::with_capacity(BLOB_BATCH),
        sink: on_blobs,
        total: 0,
    };
    let mut walk = repo
        .revwalk()
        .map_err(|e| GitError::other("cannot walk history", e))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(|e| GitError::other("cannot walk history", e))?;
    let mut inventory = Inventory::default();
    let mut seen_trees: HashSet<Oid> = HashSet::new();
    let mut seen_blobs: HashSet<Oid> = HashSet::new();
    let mut seen_tags: HashSet<Oid> = HashSet::new();
    let mut loose_trees: Vec<Oid> = Vec::new();
    // Every tip must be readable: a ref whose commit is gone (or sits in a truncated pack)
    // hides all the history behind it, and a scan that skipped it would call that history
    // clean.
    let mut starts: Vec<(String, Oid)> = ref_tips(repo)?
        .into_iter()
        .filter_map(|tip| Some((tip.name, tip.target?)))
        .collect();
    if let Ok(reflog) = repo.reflog("refs/stash") {
        for (index, entry) in reflog.iter().enumerate() {
            starts.push((format!("stash@{{{index}}}"), entry.id_new()));
        }
    }
    if let Ok(head) = repo.head() {
        if let Some(target) = head.target() {
            starts.push(("HEAD".to_string(), target));
        }
    }
    for (name, start) in starts {
        let mut object = repo
            .find_object(start, None)
            .map_err(|e| missing_tip(start, &name, e))?;
        // Peel tags, scanning each tag's message on the way.
        while object.kind() == Some(ObjectType::Tag) {
            let tag = object.as_tag().expect("kind checked").clone();
            if seen_tags.insert(tag.id()) {
                inventory.messages.push(MessageRef {
                    object: tag.id(),
                    message: tag.message_bytes().unwrap_or_default().to_vec(),
                });
            }
            object = tag
                .target()
                .map_err(|e| missing_tip(tag.target_id(), &name, e))?;
        }
        match object.kind() {
            Some(ObjectType::Commit) => walk
                .push(object.id())
                .map_err(|e| GitError::other("cannot walk history", e))?,
            Some(ObjectType::Tree) => loose_trees.push(object.id()),
            Some(ObjectType::Blob) if seen_blobs.insert(object.id()) => {
                blobs.push(BlobRef {
                    oid: object.id(),
                    commit: None,
                    path: None,
                });
            }
            _ => {}
        }
    }
    for oid in walk {
        let oid = oid.map_err(|e| GitError::other("cannot walk history", e))?;
        let commit = repo.find_commit(oid).map_err(|e| corrupt(oid, e))?;
        inventory.commits += 1;
        inventory.messages.push(MessageRef {
            object: oid,
            message: commit.message_raw_bytes().to_vec(),
        });
        let tree = commit.tree().map_err(|e| corrupt(oid, e))?;
        collect_tree(
            repo,
            &tree,
            "",
            Some(oid),
            &mut seen_trees,
            &mut seen_blobs,
            &mut blobs,
        )?;
    }
    for oid in loose_trees {
        let tree = repo.find_tree(oid).map_err(|e| corrupt(oid, e))?;
        collect_tree(
            repo,
            &tree,
            "",
            None,
            &mut seen_trees,
            &mut seen_blobs,
            &mut blobs,
        )?;
    }
    if all_objects {
        add_unreachable(repo, &mut inventory, &mut blobs, &seen_blobs, &seen_tags)?;
    }
    blobs.flush();
    inventory.blobs = blobs.total;
    Ok(inventory)
}

/// A ref and the object it points to: `None` for a symbolic ref whose target does not
/// exist (git ignores those too). The name can hold anything, a key included: show it
/// only through a redaction.
#[derive(Debug, Clone)]
pub struct RefTip {
    pub name: String,
    pub target: Option<Oid>,
}

/// Every ref (branches, tags, remote-tracking refs, notes, the stash, anything else under
/// `refs/`), in git's order. An unreadable ref is an error, not a ref left out.
pub fn ref_tips(repo: &Repository) -> Result<Vec<RefTip>, GitError> {
    let refs = repo
        .references()
        .map_err(|e| GitError::other("cannot list refs", e))?;
    let mut tips = Vec::new();
    for reference in refs {
        let reference = reference.map_err(|e| GitError::other("cannot read a ref", e))?;
        let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
        let target = reference.resolve().ok().and_then(|r| r.target());
        tips.push(RefTip { name, target });
    }
    Ok(tips)
}

fn missing_tip(oid: Oid, name: &str, err: git2::Error) -> GitError {
    GitError::Corrupt {
        oid: oid.to_string(),
        message: format!("{name} points to it ({})", err.message()),
    }
}

fn collect_tree(
    repo: &Repository,
    tree: &Tree<'_>,
    prefix: &str,
    commit: Option<Oid>,
    seen_trees: &mut HashSet<Oid>,
    seen_blobs: &mut HashSet<Oid>,
    blobs: &mut BlobBatcher<'_>,
) -> Result<(), GitError> {
    if !seen_trees.insert(tree.id()) {
        return Ok(());
    }
    // Paths are only built for entries not seen before: most of every tree is.
    let path_of = |name: &[u8]| {
        let name = String::from_utf8_lossy(name);
        if prefix.is_empty() {
            name.into_owned()
        } else {
            format!("{prefix}/{name}")
        }
    };
    for entry in tree.iter() {
        match entry.kind() {
            Some(ObjectType::Blob) if seen_blobs.insert(entry.id()) => {
                blobs.push(BlobRef {
                    oid: entry.id(),
                    commit,
                    path: Some(path_of(entry.name_bytes())),
                });
            }
            Some(ObjectType::Tree) if !seen_trees.contains(&entry.id()) => {
                let sub = repo
                    .find_tree(entry.id())
                    .map_err(|e| corrupt(entry.id(), e))?;
                let path = path_of(entry.name_bytes());
                collect_tree(repo, &sub, &path, commit, seen_trees, seen_blobs, blobs)?;
            }
            // Gitlinks (submodules) point into another repository.
            _ => {}
        }
    }
    Ok(())
}

fn add_unreachable(
    repo: &Repository,
    inventory: &mut Inventory,
    blobs: &mut BlobBatcher<'_>,
    seen_blobs: &HashSet<Oid>,
    seen_tags: &HashSet<Oid>,
) -> Result<(), GitError> {
    let seen_commits: HashSet<Oid> = inventory.messages.iter().map(|m| m.object).collect();
    let odb = repo
        .odb()
        .map_err(|e| GitError::other("cannot open the object database", e))?;
    for oid in all_object_ids(&odb)? {
        if seen_blobs.contains(&oid) || seen_commits.contains(&oid) || seen_tags.contains(&oid) {
            continue;
        }
        let (_, kind) = odb.read_header(oid).map_err(|e| corrupt(oid, e))?;
        match kind {
            ObjectType::Blob => blobs.push(BlobRef {
                oid,
                commit: None,
                path: None,
            }),
            ObjectType::Commit => {
                let commit = repo.find_commit(oid).map_err(|e| corrupt(oid, e))?;
                inventory.messages.push(MessageRef {
                    object: oid,
                    message: commit.message_raw_bytes().to_vec(),
                });
            }
            ObjectType::Tag => {
                let tag = repo.find_tag(oid).map_err(|e| corrupt(oid, e))?;
                inventory.messages.push(MessageRef {
                    object: oid,
                    message: tag.message_bytes().unwrap_or_default().to_vec(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every object id in the object database (loose and packed, reachable or not), sorted,
/// each once.
pub fn all_object_ids(odb: &git2::Odb<'_>) -> Result<Vec<Oid>, GitError> {
    let mut all = Vec::new();
    odb.foreach(|oid| {
        all.push(*oid);
        true
    })
    .map_err(|e| GitError::other("cannot list the object database", e))?;
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

fn corrupt(oid: Oid, err: git2::Error) -> GitError {
    GitError::Corrupt {
        oid: oid.to_string(),
        message: err.message().to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// A file a commit (or the index) changes: the new blob, and the blob it replaces at the
/// same path, if any (to tell keys it introduces from keys that were already there).
#[derive(Debug, Clone)]
pub struct Change {
    pub commit: Option<Oid>,
    pub path: String,
    pub kind: ChangeKind,
    /// `None` for a deletion.
    pub new: Option<Oid>,
    pub old: Option<Oid>,
}

/// The changes introduced by each commit of `spec` (`A..B`, `A...B`, or `REV` for all
/// history reachable from it), oldest first, with the messages of those commits. A merge
/// introduces only what differs from every parent.
pub fn range_changes(
    repo: &Repository,
    spec: &str,
) -> Result<(Vec<Change>, Vec<MessageRef>), GitError> {
    let bad = |e: git2::Error| GitError::BadRange {
        spec: spec.to_string(),
        message: e.message().to_string(),
    };
    let revspec = repo.revparse(spec).map_err(bad)?;
    let mut walk = repo
        .revwalk()
        .map_err(|e| GitError::other("cannot walk history", e))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(bad)?;
    let peel = |o: &git2::Object<'_>| o.peel_to_commit().map(|c| c.id()).map_err(bad);
    match (revspec.from(), revspec.to()) {
        (Some(from), Some(to)) => {
            let (from, to) = (peel(from)?, peel(to)?);
            walk.push(to).map_err(bad)?;
            if revspec.mode().contains(git2::RevparseMode::MERGE_BASE) {
                walk.push(from).map_err(bad)?;
                let base = repo.merge_base(from, to).map_err(bad)?;
                walk.hide(base).map_err(bad)?;
            } else {
                walk.hide(from).map_err(bad)?;
            }
        }
        (Some(only), None) | (None, Some(only)) => walk.push(peel(only)?).map_err(bad)?,
        (None, None) => {
            return Err(GitError::BadRange {
                spec: spec.into(),
                message: "empty range".into(),
            })
        }
    }
    let mut changes = Vec::new();
    let mut messages = Vec::new();
    for oid in walk {
        let oid = oid.map_err(bad)?;
        let commit = repo.find_commit(oid).map_err(|e| corrupt(oid, e))?;
        messages.push(MessageRef {
            object: oid,
            message: commit.message_raw_bytes().to_vec(),
        });
        let tree = commit.tree().map_err(|e| corrupt(oid, e))?;
        let parents: Vec<Tree<'_>> = commit
            .parents()
            .map(|p| p.tree())
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(oid, e))?;
        let first = parents.first();
        let diff = repo
            .diff_tree_to_tree(first, Some(&tree), Some(&mut diff_options()))
            .map_err(|e| corrupt(oid, e))?;
        for delta in diff.deltas() {
            let Some(change) = delta_change(&delta, Some(oid)) else {
                continue;
            };
            let in_other_parent = change.new.is_some_and(|new| {
                parents.iter().skip(1).any(|p| {
                    p.get_path(Path::new(&change.path))
                        .map(|e| e.id() == new)
                        .unwrap_or(false)
                })
            });
            if !in_other_parent {
                changes.push(change);
            }
        }
    }
    Ok((changes, messages))
}

/// The changes in the index that a commit would record, against `HEAD` (or against
/// nothing, before the first commit). Reads the index file named by `GIT_INDEX_FILE` when
/// set, as git does during `git commit -a` and `git commit PATH` — libgit2 ignores it.
pub fn staged_changes(repo: &Repository) -> Result<Vec<Change>, GitError> {
    let mut index = super::staged_tree::open_index(repo)?;
    // An index opened by path has no repository; diffing needs the odb through `repo`.
    let head_tree = match repo.head() {
        Ok(head) => Some(
            head.peel_to_tree()
                .map_err(|e| GitError::other("cannot read HEAD", e))?,
        ),
        Err(_) => None,
    };
    let _ = index.read(false);
    let diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut diff_options()))
        .map_err(|e| GitError::other("cannot compare the index with HEAD", e))?;
    Ok(diff
        .deltas()
        .filter_map(|d| delta_change(&d, None))
        .collect())
}

fn diff_options() -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.skip_binary_check(true)
        .include_typechange(true)
        .ignore_submodules(true);
    opts
}

fn delta_change(delta: &git2::DiffDelta<'_>, commit: Option<Oid>) -> Option<Change> {
    let kind = match delta.status() {
        Delta::Added | Delta::Copied => ChangeKind::Added,
        Delta::Modified | Delta::Renamed | Delta::Typechange => ChangeKind::Modified,
        Delta::Deleted => ChangeKind::Deleted,
        _ => return None,
    };
    let file = if kind == ChangeKind::Deleted {
        delta.old_file()
    } else {
        delta.new_file()
    };
    let is_blob = |f: &git2::DiffFile<'_>| {
        matches!(
            f.mode(),
            git2::FileMode::Blob | git2::FileMode::BlobExecutable | git2::FileMode::Link
        )
    };
    if !is_blob(&file) {
        return None;
    }
    let path = String::from_utf8_lossy(file.path_bytes()?).replace('\\', "/");
    let old = (kind == ChangeKind::Modified
        && is_blob(&delta.old_file())
        && !delta.old_file().id().is_zero())
    .then(|| delta.old_file().id());
    let new = (kind != ChangeKind::Deleted).then(|| delta.new_file().id());
    Some(Change {
        commit,
        path,
        kind,
        new,
        old,
    })
}

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
    let repo = Repository::open(git_dir)
        .map_err(|e| GitError::other(format!("cannot open {}", git_dir.display()), e))?;
    let odb = repo
        .odb()
        .map_err(|e| GitError::other("cannot open the object database", e))?;
    for item in items {
        let oid = oid_of(item);
        match odb.read_header(oid) {
            Ok((size, _)) if size as u64 > max_size => visit(item, BlobRead::TooLarge(size as u64)),
            Ok(_) => match odb.read(oid) {
                Ok(object) => visit(item, BlobRead::Data(object.data())),
                Err(e) => visit(item, BlobRead::Failed(corrupt(oid, e))),
            },
            Err(e) => visit(item, BlobRead::Failed(corrupt(oid, e))),
        }
    }
    Ok(())
}
