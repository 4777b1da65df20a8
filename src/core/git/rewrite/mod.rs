//! The history rewrite behind `keywarden purge`: every commit reachable from every ref (and
//! the stash's reflog, and every worktree's HEAD) is recreated with its secrets replaced and
//! its `--delete-path` files dropped. Each unique tree and blob is read once and rewritten at
//! most once (memoised); authors, committers, dates, modes (exec bit, symlinks), gitlinks,
//! empty commits, extra headers and the merge structure are kept byte for byte, annotated
//! tags are recreated, and signatures that no longer match are dropped. Nothing here moves a
//! ref: the result says which refs would move where, and `apply_ref_updates` moves them.
//!
//! Three passes, the first two at the same time and on every core: (1) walk the commits
//! and their trees once (two halves of the history on two threads, then merged), recording
//! the tree graph compactly; (2) search every unique blob for the secrets on worker threads
//! as the walk finds them; (3) rewrite, descending only into trees that hold something to
//! change.
//!
//! The engine's state is `Engine` (here), and each pass is a module of its own: `walk`
//! (passes 1 and 2), `trees` and `commits` (pass 3), `notes` (notes trees, whose file names
//! are commit ids), and `refs` (moving the refs afterwards).

mod commits;
mod notes;
mod refs;
mod trees;
mod walk;

pub use refs::{
    move_refs, move_worktree_refs, ref_safe_name, ref_target, remove_stale_locks, repoint_heads,
    RefMove, RefsMoved, LOCK_FAULT,
};

use super::delete_paths::DeletePaths;
use super::error::GitError;
use super::oid::{OidMap, OidSet};
use super::pack::ObjectSink;
use super::tips::{StashEntry, Tips};
use crate::core::progress::Progress;
use crate::core::scrub::Scrubber;
use git2::{ObjectType, Odb, Oid, Repository};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// What to remove.
pub struct RewriteOptions<'a> {
    /// Secrets to replace in blobs and in commit and tag messages.
    pub scrubber: Option<&'a Scrubber>,
    /// Paths (relative to the repository root) to drop from every commit.
    pub delete_paths: Option<&'a DeletePaths>,
    /// Also rewrite `refs/remotes/*`.
    pub include_remotes: bool,
}

/// A ref that moves (or, when its name held a secret, is renamed too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub name: String,
    pub old: Oid,
    pub new: Oid,
    /// The ref's new name, when its name held a secret: `new` is written under it and
    /// `name` deleted. The old name is the secret itself: never show it (see
    /// [`Scrubber::redact`]).
    pub renamed: Option<String>,
}

impl RefUpdate {
    /// The name the ref has after the purge.
    pub fn final_name(&self) -> &str {
        self.renamed.as_deref().unwrap_or(&self.name)
    }
}

/// A ref that lives in one worktree's own git dir — its detached `HEAD`, or a per-worktree
/// ref such as `refs/bisect/bad` — and where it moves.
#[derive(Debug, Clone)]
pub struct WorktreeRefUpdate {
    /// The worktree's own git dir (where its `HEAD` file lives).
    pub git_dir: PathBuf,
    /// `HEAD` or the ref's full name.
    pub name: String,
    pub old: Oid,
    pub new: Oid,
}

/// What the rewrite did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Rewrite {
    pub commits_total: usize,
    /// Old commit -> new commit, for the commits that changed.
    pub commit_map: OidMap<Oid>,
    /// Every commit rewritten, in the order processed (parents first).
    pub commit_order: Vec<Oid>,
    /// The oldest changed commits: changed commits none of whose parents changed. Hosting
    /// providers need these to purge their caches.
    pub first_changed: Vec<Oid>,
    pub blobs_total: usize,
    pub blobs_scrubbed: usize,
    pub files_scrubbed: BTreeSet<String>,
    pub files_deleted: BTreeSet<String>,
    /// Files and directories whose name held a secret, by their new (scrubbed) path.
    pub files_renamed: BTreeSet<String>,
    pub messages_scrubbed: usize,
    pub signatures_dropped: usize,
    pub ref_updates: Vec<RefUpdate>,
    /// Refs not rewritten because they are remote-tracking refs.
    pub remote_refs_skipped: Vec<String>,
    pub worktree_updates: Vec<WorktreeRefUpdate>,
    /// The stash reflog as it must be after the rewrite (oldest first), when there is one.
    pub stash_reflog: Vec<StashEntry>,
    pub stash_changed: bool,
    pub objects_written: usize,
    /// Objects whose full content was searched during the rewrite and holds no secret.
    /// Object ids name content, so these need not be read again to verify.
    pub checked_clean: OidSet,
}

impl Rewrite {
    pub fn changed(&self) -> bool {
        !self.ref_updates.is_empty() || !self.worktree_updates.is_empty() || self.stash_changed
    }
}

const BLOB_BIT: u32 = 1 << 31;

struct Node {
    oid: Oid,
    start: u32,
    len: u32,
    /// An entry's name changes or may: it holds a secret (renamed), or it may match a
    /// `--delete-path` pattern (dropped).
    names_change: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dirt {
    Unknown,
    Clean,
    Dirty,
}

/// The state of one rewrite: the tree graph pass 1 records (trees as nodes, their entries
/// as indices into `children`, blobs tagged with [`BLOB_BIT`]), what pass 2 and 3a decide
/// about blobs, the memos of pass 3, and the result being built.
struct Engine<'a> {
    opts: &'a RewriteOptions<'a>,
    node_index: OidMap<u32>,
    nodes: Vec<Node>,
    children: Vec<u32>,
    dirty: Vec<Dirt>,
    blob_index: OidMap<u32>,
    blobs: Vec<Oid>,
    blob_new: Vec<Option<Oid>>,
    tree_memo: HashMap<u32, (Oid, bool)>,
    path_memo: HashMap<(u32, String), (Oid, bool)>,
    notes_memo: HashMap<u32, Oid>,
    tag_memo: OidMap<Oid>,
    out: Rewrite,
}

/// Rewrites history from `tips`, writing new objects to `sink`.
pub fn rewrite(
    repo: &Repository,
    tips: &Tips,
    opts: &RewriteOptions<'_>,
    sink: &mut ObjectSink,
    progress: &dyn Progress,
) -> Result<Rewrite, GitError> {
    let odb = repo
        .odb()
        .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
    let mut engine = Engine::new(opts);
    engine.out.remote_refs_skipped = tips.remote_refs.clone();
    let starts = walk::Starts::peel(repo, &odb, tips)?;
    let order = starts.commit_order(repo)?;
    let walked = engine.walk_and_search(repo, &odb, &order, &starts.loose, progress)?;
    drop(order);
    engine.scrub_blobs(&odb, sink, &walked.hits)?;
    engine.rewrite_commits(&odb, sink, walked.commits, progress)?;
    engine.move_tips(&odb, sink, tips)?;
    engine.out.objects_written = sink.count();
    Ok(engine.out)
}

impl<'a> Engine<'a> {
    fn new(opts: &'a RewriteOptions<'a>) -> Self {
        Engine {
            opts,
            node_index: OidMap::default(),
            nodes: Vec::new(),
            children: Vec::new(),
            dirty: Vec::new(),
            blob_index: OidMap::default(),
            blobs: Vec::new(),
            blob_new: Vec::new(),
            tree_memo: HashMap::new(),
            path_memo: HashMap::new(),
            notes_memo: HashMap::new(),
            tag_memo: OidMap::default(),
            out: Rewrite::default(),
        }
    }

    /// The index of a tree that pass 1 recorded (every tree reachable from a rewritten
    /// commit was).
    fn tree_node(&self, oid: Oid) -> u32 {
        *self
            .node_index
            .get(&oid)
            .expect("every tree was visited in pass 1")
    }

    /// The index of a blob that pass 1 recorded.
    fn blob_node(&self, oid: Oid) -> u32 {
        *self
            .blob_index
            .get(&oid)
            .expect("every blob was visited in pass 1")
    }

    /// Records object `oid` as searched and clean when `data`, its whole content, holds no
    /// secret: verification need not read it again.
    fn record_if_clean(&mut self, oid: Oid, data: &[u8]) {
        if self.opts.scrubber.is_none_or(|s| !s.is_match(data)) {
            self.out.checked_clean.insert(oid);
        }
    }

    /// Pass 3a: the blobs that hold a secret (`hits`), scrubbed one at a time so memory
    /// stays bounded; every other blob was searched and is clean.
    fn scrub_blobs(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        hits: &[Oid],
    ) -> Result<(), GitError> {
        let Some(scrubber) = self.opts.scrubber else {
            return Ok(());
        };
        let hit_set: OidSet = hits.iter().copied().collect();
        let mut hits = Vec::new();
        for (i, oid) in self.blobs.iter().enumerate() {
            if hit_set.contains(oid) {
                hits.push(i as u32);
            } else {
                self.out.checked_clean.insert(*oid);
            }
        }
        for idx in hits {
            let oid = self.blobs[idx as usize];
            let object = odb.read(oid).map_err(|e| GitError::corrupt(oid, e))?;
            if let Some(new) = scrubber.replace(object.data()) {
                let new_oid = sink.write(ObjectType::Blob, &new)?;
                if !scrubber.is_match(&new) {
                    self.out.checked_clean.insert(new_oid);
                }
                self.blob_new[idx as usize] = Some(new_oid);
                self.out.blobs_scrubbed += 1;
            }
        }
        Ok(())
    }

    /// Pass 3b: trees and commits, parents first.
    fn rewrite_commits(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        commits: Vec<walk::RawCommit>,
        progress: &dyn Progress,
    ) -> Result<(), GitError> {
        progress.phase("rewriting commits", commits.len() as u64);
        for commit in &commits {
            self.rewrite_commit(odb, sink, commit.oid, &commit.data, commit.notes)?;
            progress.inc(1);
        }
        Ok(())
    }

    /// Where each ref, detached HEAD, per-worktree ref and stash entry moves.
    fn move_tips(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        tips: &Tips,
    ) -> Result<(), GitError> {
        let mut taken: std::collections::HashSet<String> =
            tips.refs.iter().map(|(name, _)| name.clone()).collect();
        taken.extend(tips.remote_refs.iter().cloned());
        for (name, old) in &tips.refs {
            let new = self.rewrite_object(odb, sink, *old)?;
            let renamed = self
                .opts
                .scrubber
                .and_then(|s| ref_safe_name(s, name, &taken));
            if let Some(renamed) = &renamed {
                taken.insert(renamed.clone());
            }
            if new != *old || renamed.is_some() {
                self.out.ref_updates.push(RefUpdate {
                    name: name.clone(),
                    old: *old,
                    new,
                    renamed,
                });
            }
        }
        for head in &tips.heads {
            for (name, old) in head.tips() {
                let new = self.rewrite_object(odb, sink, old)?;
                if new != old {
                    self.out.worktree_updates.push(WorktreeRefUpdate {
                        git_dir: head.git_dir.clone(),
                        name: name.to_string(),
                        old,
                        new,
                    });
                }
            }
        }
        for entry in &tips.stash {
            let new = self.rewrite_object(odb, sink, entry.oid)?;
            let message = match self.opts.scrubber {
                Some(s) => s
                    .replace(entry.message.as_bytes())
                    .map(|m| String::from_utf8_lossy(&m).into_owned())
                    .unwrap_or_else(|| entry.message.clone()),
                None => entry.message.clone(),
            };
            if new != entry.oid || message != entry.message {
                self.out.stash_changed = true;
            }
            self.out.stash_reflog.push(StashEntry {
                oid: new,
                message,
                ..entry.clone()
            });
        }
        Ok(())
    }
}
