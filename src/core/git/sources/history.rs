//! All of history as a scan source: every blob reachable from every ref (with the commit
//! and path that introduced it), streamed out in batches while the walk goes on, and every
//! commit and tag message; with `all_objects`, every other object in the database too.

use super::{BlobRef, MessageRef, BLOB_BATCH};
use crate::core::git::error::GitError;
use crate::core::git::tips::ref_tips;
use git2::{ObjectType, Oid, Repository, Sort, Tree};
use std::collections::HashSet;

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
/// Blobs go to `on_blobs` in batches while the walk runs.
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
        .map_err(|e| GitError::libgit2("cannot walk history", e))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(|e| GitError::libgit2("cannot walk history", e))?;
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
            .map_err(|e| GitError::missing_tip(&name, start, e))?;
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
                .map_err(|e| GitError::missing_tip(&name, tag.target_id(), e))?;
        }
        match object.kind() {
            Some(ObjectType::Commit) => walk
                .push(object.id())
                .map_err(|e| GitError::libgit2("cannot walk history", e))?,
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
        let oid = oid.map_err(|e| GitError::libgit2("cannot walk history", e))?;
        let commit = repo
            .find_commit(oid)
            .map_err(|e| GitError::corrupt(oid, e))?;
        inventory.commits += 1;
        inventory.messages.push(MessageRef {
            object: oid,
            message: commit.message_raw_bytes().to_vec(),
        });
        let tree = commit.tree().map_err(|e| GitError::corrupt(oid, e))?;
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
        let tree = repo.find_tree(oid).map_err(|e| GitError::corrupt(oid, e))?;
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
                    .map_err(|e| GitError::corrupt(entry.id(), e))?;
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
        .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
    for oid in all_object_ids(&odb)? {
        if seen_blobs.contains(&oid) || seen_commits.contains(&oid) || seen_tags.contains(&oid) {
            continue;
        }
        let (_, kind) = odb
            .read_header(oid)
            .map_err(|e| GitError::corrupt(oid, e))?;
        match kind {
            ObjectType::Blob => blobs.push(BlobRef {
                oid,
                commit: None,
                path: None,
            }),
            ObjectType::Commit => {
                let commit = repo
                    .find_commit(oid)
                    .map_err(|e| GitError::corrupt(oid, e))?;
                inventory.messages.push(MessageRef {
                    object: oid,
                    message: commit.message_raw_bytes().to_vec(),
                });
            }
            ObjectType::Tag => {
                let tag = repo.find_tag(oid).map_err(|e| GitError::corrupt(oid, e))?;
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
    .map_err(|e| GitError::libgit2("cannot list the object database", e))?;
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;

    #[test]
    fn every_blob_once_attributed_to_the_oldest_commit_and_path_holding_it() {
        let t = TestRepo::new();
        t.write("a.txt", "same\n");
        let first = t.commit_all("first");
        t.write("dir/copy.txt", "same\n");
        t.write("b.txt", "new\n");
        let second = t.commit_all("second");
        let dangling = t.repo.blob(b"written but never committed\n").expect("blob");
        let mut blobs: Vec<BlobRef> = Vec::new();
        let inventory =
            history_inventory(&t.repo, false, &mut |batch| blobs.extend(batch)).expect("walk");
        assert_eq!((inventory.commits, inventory.blobs), (2, 2));
        let find = |content: &[u8]| {
            let oid = t.repo.blob(content).expect("hash");
            blobs.iter().find(|b| b.oid == oid).cloned()
        };
        let same = find(b"same\n").expect("listed once");
        assert_eq!(
            (same.commit, same.path.as_deref()),
            (Some(first), Some("a.txt"))
        );
        let new = find(b"new\n").expect("listed");
        assert_eq!(
            (new.commit, new.path.as_deref()),
            (Some(second), Some("b.txt"))
        );
        assert!(blobs.iter().all(|b| b.oid != dangling));
        let messages: Vec<&[u8]> = inventory
            .messages
            .iter()
            .map(|m| m.message.as_slice())
            .collect();
        assert_eq!(messages, [&b"first"[..], b"second"]);

        // Every object: the dangling blob too, with no commit and no path.
        let mut all: Vec<BlobRef> = Vec::new();
        let inventory =
            history_inventory(&t.repo, true, &mut |batch| all.extend(batch)).expect("walk");
        assert_eq!(inventory.blobs, 3);
        let lost = all.iter().find(|b| b.oid == dangling).expect("listed");
        assert_eq!((lost.commit, lost.path.as_deref()), (None, None));
    }
}
