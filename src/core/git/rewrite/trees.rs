//! Pass 3 for trees: a tree is rewritten only when something under it changes (a scrubbed
//! blob, a renamed or dropped entry), once per tree (or, with `--delete-path`, once per
//! tree and path), and written as a delta against its previous version at the same path.

use super::{Dirt, Engine, BLOB_BIT};
use crate::core::git::error::GitError;
use crate::core::git::pack::ObjectSink;
use crate::core::git::raw::{
    disambiguate, encode_tree, parse_tree, safe_name, tree_order, EntryKind, TreeEntry,
};
use git2::{ObjectType, Odb, Oid};

impl Engine<'_> {
    /// Whether anything under the tree changes (only meaningful without `--delete-path`).
    fn is_dirty(&mut self, idx: u32) -> bool {
        match self.dirty[idx as usize] {
            Dirt::Clean => return false,
            Dirt::Dirty => return true,
            Dirt::Unknown => {}
        }
        let node = &self.nodes[idx as usize];
        let (start, len) = (node.start as usize, node.len as usize);
        let mut dirty = node.names_change;
        for k in start..start + len {
            if dirty {
                break;
            }
            let child = self.children[k];
            dirty = if child & BLOB_BIT != 0 {
                self.blob_new[(child & !BLOB_BIT) as usize].is_some()
            } else {
                self.is_dirty(child)
            };
        }
        self.dirty[idx as usize] = if dirty { Dirt::Dirty } else { Dirt::Clean };
        dirty
    }

    /// The rewritten tree at `path` (`""` for a root), and whether it ended up empty.
    pub(super) fn rewrite_tree(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        idx: u32,
        path: &str,
    ) -> Result<(Oid, bool), GitError> {
        let oid = self.nodes[idx as usize].oid;
        let globs = self.opts.delete_paths;
        // What is dropped depends on the path, so without a check on names every tree is
        // looked at; with one, a tree is untouched unless something under it may change.
        if globs.is_none_or(|g| g.checks_names()) && !self.is_dirty(idx) {
            return Ok((oid, false));
        }
        let memo = match globs {
            None => self.tree_memo.get(&idx),
            Some(_) => self.path_memo.get(&(idx, path.to_string())),
        };
        if let Some(&memo) = memo {
            return Ok(memo);
        }
        let object = odb.read(oid).map_err(|e| GitError::corrupt(oid, e))?;
        let data = object.data();
        let entries = parse_tree(oid, data)?;
        let mut new_entries: Vec<TreeEntry> = Vec::with_capacity(entries.len());
        let mut renamed = false;
        let names_change = self.nodes[idx as usize].names_change;
        for entry in &entries {
            let mut name = entry.name.to_vec();
            if names_change {
                if let Some(new) = self.opts.scrubber.and_then(|s| s.replace(entry.name)) {
                    name = safe_name(new);
                    renamed = true;
                }
            }
            // Most entries of a rewritten tree stay as they are: keep them without building
            // their path (which big directories would pay for in every version).
            let unchanged = name == entry.name
                && !globs.is_some_and(|g| g.may_match_name(entry.name))
                && match entry.kind() {
                    EntryKind::Tree => {
                        let child = self.tree_node(entry.oid);
                        globs.is_none_or(|g| g.checks_names()) && !self.is_dirty(child)
                    }
                    EntryKind::Blob => {
                        let b = self.blob_node(entry.oid);
                        self.blob_new[b as usize].is_none()
                    }
                    EntryKind::Gitlink => true,
                };
            if unchanged {
                new_entries.push(TreeEntry {
                    mode: entry.mode.to_vec(),
                    name,
                    oid: entry.oid,
                });
                continue;
            }
            let shown = String::from_utf8_lossy(&name);
            let full = if path.is_empty() {
                shown.into_owned()
            } else {
                format!("{path}/{shown}")
            };
            if name != entry.name {
                self.out.files_renamed.insert(full.clone());
            }
            if globs.is_some_and(|g| g.is_match(&full)) {
                self.out.files_deleted.insert(full);
                continue;
            }
            let new_oid = match entry.kind() {
                EntryKind::Tree => {
                    let child = self.tree_node(entry.oid);
                    let (new, empty) = self.rewrite_tree(odb, sink, child, &full)?;
                    if empty && new != entry.oid {
                        // git records no empty directories; one emptied by deletion goes.
                        continue;
                    }
                    new
                }
                EntryKind::Blob => {
                    let b = self.blob_node(entry.oid);
                    match self.blob_new[b as usize] {
                        Some(new) => {
                            self.out.files_scrubbed.insert(full);
                            new
                        }
                        None => entry.oid,
                    }
                }
                EntryKind::Gitlink => entry.oid,
            };
            new_entries.push(TreeEntry {
                mode: entry.mode.to_vec(),
                name,
                oid: new_oid,
            });
        }
        if renamed {
            disambiguate(&mut new_entries);
        }
        let empty = new_entries.is_empty();
        let new = self.write_tree(sink, new_entries, renamed, Some((oid, data)), path)?;
        drop(object);
        let result = (new, empty);
        if globs.is_none() {
            self.tree_memo.insert(idx, result);
        } else {
            self.path_memo.insert((idx, path.to_string()), result);
        }
        Ok(result)
    }

    /// Writes a tree of `entries` (sorted into git's order first when `unsorted`); when it
    /// comes out identical to `old`, that is returned and nothing is written. Trees written
    /// at the same `path` are versions of each other, stored as deltas.
    pub(super) fn write_tree(
        &mut self,
        sink: &mut ObjectSink,
        mut entries: Vec<TreeEntry>,
        unsorted: bool,
        old: Option<(Oid, &[u8])>,
        path: &str,
    ) -> Result<Oid, GitError> {
        if unsorted {
            entries.sort_by(tree_order);
        }
        let raw = encode_tree(&entries);
        if let Some((oid, data)) = old {
            if raw == data {
                return Ok(oid);
            }
        }
        let new = sink.write_version(ObjectType::Tree, &raw, path.as_bytes())?;
        self.record_if_clean(new, &raw);
        Ok(new)
    }
}
