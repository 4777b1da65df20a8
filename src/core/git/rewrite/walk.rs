//! Passes 1 and 2: where the walk starts (every tip peeled to a commit, or a loose tree or
//! blob), the commits in parents-first order, and one walk over them recording the tree
//! graph while worker threads search each newly found blob for the secrets.

use super::{Dirt, Engine, Node, BLOB_BIT};
use crate::core::git::error::{first_failure, GitError};
use crate::core::git::oid::OidSet;
use crate::core::git::raw::{parse_tree, split_object, EntryKind};
use crate::core::git::repo::open_at;
use crate::core::git::sources::{packed, read_blobs_parallel, BlobRead, BLOB_BATCH};
use crate::core::git::tips::{Tips, WorktreeHead};
use crate::core::progress::Progress;
use crate::core::scrub::Scrubber;
use git2::{ObjectType, Odb, Oid, Repository, Sort};
use std::sync::{mpsc, Mutex};

/// Where the walk starts, every tip peeled through its tags.
pub(super) struct Starts {
    main: Vec<Oid>,
    /// Tips of `refs/notes/*`: walked after every other commit, because their file names
    /// are the ids of the commits they annotate, renamed once those are rewritten.
    notes: Vec<Oid>,
    /// Tips that are trees or blobs, in the order found.
    pub(super) loose: Vec<(Oid, ObjectType)>,
}

/// A commit to read in pass 1, in parents-first order.
pub(super) struct CommitToRead {
    oid: Oid,
    /// It belongs to a notes ref.
    notes: bool,
}

/// A commit as pass 1 read it, for pass 3.
pub(super) struct RawCommit {
    pub(super) oid: Oid,
    pub(super) data: Vec<u8>,
    pub(super) notes: bool,
}

/// What passes 1 and 2 found besides the tree graph.
pub(super) struct Walked {
    pub(super) commits: Vec<RawCommit>,
    /// The blobs that hold a secret.
    pub(super) hits: Vec<Oid>,
}

impl Starts {
    /// Peels every ref, worktree tip and stash entry of `tips` through its tags.
    pub(super) fn peel(repo: &Repository, odb: &Odb<'_>, tips: &Tips) -> Result<Self, GitError> {
        let mut starts = Starts {
            main: Vec::new(),
            notes: Vec::new(),
            loose: Vec::new(),
        };
        for (name, oid) in &tips.refs {
            starts.peel_into(repo, odb, *oid, name.starts_with("refs/notes/"))?;
        }
        for (_, oid) in tips.heads.iter().flat_map(WorktreeHead::tips) {
            starts.peel_into(repo, odb, oid, false)?;
        }
        for entry in &tips.stash {
            starts.peel_into(repo, odb, entry.oid, false)?;
        }
        Ok(starts)
    }

    fn peel_into(
        &mut self,
        repo: &Repository,
        odb: &Odb<'_>,
        oid: Oid,
        notes: bool,
    ) -> Result<(), GitError> {
        let mut oid = oid;
        loop {
            let (_, kind) = odb
                .read_header(oid)
                .map_err(|e| GitError::corrupt(oid, e))?;
            match kind {
                ObjectType::Tag => {
                    let tag = repo.find_tag(oid).map_err(|e| GitError::corrupt(oid, e))?;
                    oid = tag.target_id();
                    continue;
                }
                ObjectType::Commit if notes => self.notes.push(oid),
                ObjectType::Commit => self.main.push(oid),
                other => self.loose.push((oid, other)),
            }
            return Ok(());
        }
    }

    /// Every commit reachable from the starts, each once, parents first; notes last.
    pub(super) fn commit_order(&self, repo: &Repository) -> Result<Vec<CommitToRead>, GitError> {
        let mut order = Vec::new();
        let mut seen = OidSet::default();
        for (starts, notes) in [(&self.main, false), (&self.notes, true)] {
            if starts.is_empty() {
                continue;
            }
            let mut walk = repo
                .revwalk()
                .map_err(|e| GitError::libgit2("cannot walk history", e))?;
            walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
                .map_err(|e| GitError::libgit2("cannot walk history", e))?;
            for oid in starts {
                walk.push(*oid).map_err(|e| GitError::corrupt(*oid, e))?;
            }
            for oid in walk {
                let oid = oid.map_err(|e| GitError::libgit2("cannot walk history", e))?;
                if seen.insert(oid) {
                    order.push(CommitToRead { oid, notes });
                }
            }
        }
        Ok(order)
    }
}

impl<'a> Engine<'a> {
    /// Passes 1 and 2: walks `order` (and the `loose` trees and blobs) recording the tree
    /// graph, while worker threads search the blobs it finds; afterwards the engine is
    /// ready for pass 3.
    pub(super) fn walk_and_search(
        &mut self,
        repo: &Repository,
        odb: &Odb<'_>,
        order: &[CommitToRead],
        loose: &[(Oid, ObjectType)],
        progress: &dyn Progress,
    ) -> Result<Walked, GitError> {
        let opts = self.opts;
        // Pass 2 runs alongside pass 1: each batch of newly found blobs goes to worker threads
        // (one repository handle each) while the trees are walked. Without blobs to search, the
        // walk itself is split in two halves of the commits, walked at once and merged:
        // consecutive commits share almost all their trees, so the halves overlap by little more
        // than one snapshot. With a search, one walker is faster (measured: 2.9 s against 3.7 s
        // on the 30 000-commit benchmark): the searchers keep the cores busy, and two walkers
        // only contend for libgit2's pack locks.
        progress.phase("reading history", order.len() as u64);
        // With pack files, the searchers are the pack decoder: every packed blob is decoded
        // once, in pack order, while the walk goes on; what it did not produce (loose
        // objects) is searched by id afterwards. Without packs, worker threads search the
        // blobs by id as the walk finds them.
        let packs = packed::Packs::of(repo);
        let searched: Mutex<OidSet> = Mutex::new(OidSet::default());
        let hits: Mutex<Vec<Oid>> = Mutex::new(Vec::new());
        let failures: Mutex<Vec<GitError>> = Mutex::new(Vec::new());
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (sender, receiver) = mpsc::channel::<Vec<Oid>>();
        let receiver = Mutex::new(receiver);
        let split = if opts.scrubber.is_some() {
            order.len()
        } else {
            order.len() / 2
        };
        let (first, second) = order.split_at(split);
        let git_dir = repo.path();
        let walked: Result<Vec<RawCommit>, GitError> = std::thread::scope(|scope| {
            // Owned here so that it is dropped on every way out, error or not: the workers stop
            // when every sender is gone, and the scope waits for them.
            let sender = sender;
            match opts.scrubber {
                Some(scrubber) if !packs.is_empty() => {
                    let (packs, searched, hits) = (&packs, &searched, &hits);
                    scope.spawn(move || {
                        packs.decode_blobs(u64::MAX, &|oid, read| {
                            if let BlobRead::Data(data) = read {
                                let hit = scrubber.is_match(data);
                                searched.lock().expect("searched lock").insert(oid);
                                if hit {
                                    hits.lock().expect("hits lock").push(oid);
                                }
                            }
                        });
                    });
                }
                Some(scrubber) => {
                    for _ in 0..workers {
                        let (receiver, hits, failures) = (&receiver, &hits, &failures);
                        scope.spawn(move || {
                            search_blobs(git_dir, receiver, scrubber, hits, failures)
                        });
                    }
                }
                None => {}
            }
            let other_sender = sender.clone();
            let other = scope.spawn(move || -> Result<_, GitError> {
                let repo = open_at(git_dir)?;
                let odb = repo
                    .odb()
                    .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
                let mut half = Engine::new(opts);
                let commits = half.walk_commits(&odb, second, &other_sender, progress)?;
                Ok((half, commits))
            });
            let mut commits = self.walk_commits(odb, first, &sender, progress)?;
            let walked_blobs = self.blobs.len();
            for (oid, kind) in loose {
                match kind {
                    ObjectType::Tree => {
                        self.visit_tree(odb, *oid)?;
                    }
                    ObjectType::Blob => {
                        self.blob_idx(*oid);
                    }
                    _ => {}
                }
            }
            self.dispatch_from(walked_blobs, &sender, 1);
            drop(sender);
            let (half, more) = other.join().map_err(|_| GitError::WorkerFailed {
                what: "reading history",
            })??;
            self.merge(half);
            commits.extend(more);
            progress.phase("searching blobs", 0);
            Ok(commits)
        });
        let commits = walked?;
        if let (Some(scrubber), false) = (opts.scrubber, packs.is_empty()) {
            // What the walk found that no pack produced.
            let searched = searched.into_inner().expect("searched lock");
            let rest: Vec<Oid> = receiver
                .into_inner()
                .expect("receiver lock")
                .try_iter()
                .flatten()
                .filter(|oid| !searched.contains(oid))
                .collect();
            read_blobs_parallel(
                git_dir,
                &rest,
                |oid| *oid,
                u64::MAX,
                |oid, read| match read {
                    BlobRead::Data(data) => {
                        if scrubber.is_match(data) {
                            hits.lock().expect("hits lock").push(*oid);
                        }
                    }
                    BlobRead::TooLarge(_) => {}
                    BlobRead::Failed(e) => failures.lock().expect("failures lock").push(e),
                },
            )?;
        }
        first_failure(failures)?;
        self.out.commits_total = commits.len();
        self.out.blobs_total = self.blobs.len();
        self.dirty = vec![Dirt::Unknown; self.nodes.len()];
        self.blob_new = vec![None; self.blobs.len()];
        Ok(Walked {
            commits,
            hits: hits
                .into_inner()
                .expect("a searcher panicked while holding the hits lock"),
        })
    }

    /// Pass 1 over `order`: reads each commit and records its trees, sending newly found
    /// blobs to the searchers in batches. Returns the raw commits, in order.
    fn walk_commits(
        &mut self,
        odb: &Odb<'_>,
        order: &[CommitToRead],
        sender: &mpsc::Sender<Vec<Oid>>,
        progress: &dyn Progress,
    ) -> Result<Vec<RawCommit>, GitError> {
        let mut commits = Vec::with_capacity(order.len());
        let mut sent = 0;
        for &CommitToRead { oid, notes } in order {
            let object = odb.read(oid).map_err(|e| GitError::corrupt(oid, e))?;
            let raw = object.data().to_vec();
            drop(object);
            let tree = split_object(&raw)
                .leading_oid(b"tree ")
                .ok_or_else(|| GitError::malformed(oid, "commit"))?;
            self.visit_tree(odb, tree)?;
            self.record_if_clean(oid, &raw);
            commits.push(RawCommit {
                oid,
                data: raw,
                notes,
            });
            sent = self.dispatch_from(sent, sender, BLOB_BATCH);
            progress.inc(1);
        }
        self.dispatch_from(sent, sender, 1);
        Ok(commits)
    }

    /// Sends the blobs found since `sent` to the searchers once there are at least `min`
    /// of them; returns the new count sent.
    fn dispatch_from(&self, sent: usize, sender: &mpsc::Sender<Vec<Oid>>, min: usize) -> usize {
        let pending = self.blobs.len() - sent;
        if self.opts.scrubber.is_none() || pending == 0 || pending < min {
            return sent;
        }
        // The searchers only stop once every sender is dropped, so this cannot fail.
        let _ = sender.send(self.blobs[sent..].to_vec());
        self.blobs.len()
    }

    /// Adds what another engine walked (another part of the same history) to this one.
    fn merge(&mut self, other: Engine<'_>) {
        let blob_map: Vec<u32> = other.blobs.iter().map(|oid| self.blob_idx(*oid)).collect();
        let mut node_map = Vec::with_capacity(other.nodes.len());
        let mut fresh = Vec::new();
        for (i, node) in other.nodes.iter().enumerate() {
            match self.node_index.get(&node.oid) {
                Some(&known) => node_map.push(known),
                None => {
                    let idx = self.nodes.len() as u32;
                    self.nodes.push(Node {
                        oid: node.oid,
                        start: 0,
                        len: 0,
                        names_change: node.names_change,
                    });
                    self.node_index.insert(node.oid, idx);
                    node_map.push(idx);
                    fresh.push(i);
                }
            }
        }
        for i in fresh {
            let node = &other.nodes[i];
            let start = self.children.len() as u32;
            for k in node.start as usize..(node.start + node.len) as usize {
                let child = other.children[k];
                self.children.push(if child & BLOB_BIT != 0 {
                    blob_map[(child & !BLOB_BIT) as usize] | BLOB_BIT
                } else {
                    node_map[child as usize]
                });
            }
            let idx = node_map[i] as usize;
            self.nodes[idx].start = start;
            self.nodes[idx].len = node.len;
        }
        self.out.checked_clean.extend(other.out.checked_clean);
    }

    fn blob_idx(&mut self, oid: Oid) -> u32 {
        if let Some(&i) = self.blob_index.get(&oid) {
            return i;
        }
        let i = self.blobs.len() as u32;
        self.blobs.push(oid);
        self.blob_index.insert(oid, i);
        i
    }

    /// Records a tree and everything under it, reading each unique tree once.
    fn visit_tree(&mut self, odb: &Odb<'_>, oid: Oid) -> Result<u32, GitError> {
        if let Some(&i) = self.node_index.get(&oid) {
            return Ok(i);
        }
        let object = odb.read(oid).map_err(|e| GitError::corrupt(oid, e))?;
        let data = object.data();
        let mut names_change = false;
        let entries = parse_tree(oid, data)?;
        match self.opts.scrubber {
            // A tree's bytes are its entries' modes, names and ids; a match is in a name.
            Some(scrubber) if scrubber.is_match(data) => {
                names_change = entries.iter().any(|e| scrubber.is_match(e.name));
            }
            _ => {
                self.out.checked_clean.insert(oid);
            }
        }
        if let Some(paths) = self.opts.delete_paths {
            names_change |= entries.iter().any(|e| paths.may_match_name(e.name));
        }
        let idx = self.nodes.len() as u32;
        self.nodes.push(Node {
            oid,
            start: 0,
            len: 0,
            names_change,
        });
        self.node_index.insert(oid, idx);
        let mut kids = Vec::with_capacity(entries.len());
        for entry in &entries {
            match entry.kind() {
                EntryKind::Tree => kids.push(self.visit_tree(odb, entry.oid)?),
                EntryKind::Blob => kids.push(self.blob_idx(entry.oid) | BLOB_BIT),
                EntryKind::Gitlink => {}
            }
        }
        let node = &mut self.nodes[idx as usize];
        node.start = self.children.len() as u32;
        node.len = kids.len() as u32;
        self.children.extend(kids);
        Ok(idx)
    }
}

/// A worker of pass 2: reads each blob it is sent and records which hold a secret.
///
/// Plain threads fed through a channel rather than rayon: they must search while this
/// thread is still walking, take blobs as the walk finds them, and each keeps one
/// repository handle for the whole run.
fn search_blobs(
    git_dir: &std::path::Path,
    receiver: &Mutex<mpsc::Receiver<Vec<Oid>>>,
    scrubber: &Scrubber,
    hits: &Mutex<Vec<Oid>>,
    failures: &Mutex<Vec<GitError>>,
) {
    let fail = |e: GitError| failures.lock().expect("failures lock").push(e);
    let repo = match open_at(git_dir) {
        Ok(repo) => repo,
        Err(e) => return fail(e),
    };
    let odb = match repo.odb() {
        Ok(odb) => odb,
        Err(e) => return fail(GitError::libgit2("cannot open the object database", e)),
    };
    loop {
        // Hold the lock only to take the next batch.
        let batch = match receiver.lock().expect("receiver lock").recv() {
            Ok(batch) => batch,
            Err(_) => return,
        };
        for oid in batch {
            match odb.read(oid) {
                Ok(object) => {
                    if scrubber.is_match(object.data()) {
                        hits.lock().expect("hits lock").push(oid);
                    }
                }
                Err(e) => fail(GitError::corrupt(oid, e)),
            }
        }
    }
}
