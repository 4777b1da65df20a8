//! Pass 3 for notes trees (`refs/notes/*`). A note's path is the id of the commit it
//! annotates, split into fan-out directories (`ab/cdef…`) in larger notes trees: each note
//! moves to the new id of its commit at the same fan-out depth, with its content scrubbed.

use super::Engine;
use crate::core::git::error::GitError;
use crate::core::git::pack::ObjectSink;
use crate::core::git::raw::{parse_tree, EntryKind, TreeEntry, TreeEntryRef, TREE_MODE};
use git2::{Odb, Oid};
use std::collections::BTreeMap;

/// A file of a notes tree, already moved and scrubbed.
struct NoteFile {
    /// Its directories and its name.
    path: Vec<Vec<u8>>,
    mode: Vec<u8>,
    /// Its new id.
    oid: Oid,
}

/// A directory of a notes tree being rebuilt.
#[derive(Default)]
struct NotesDir {
    entries: Vec<TreeEntry>,
    dirs: BTreeMap<Vec<u8>, NotesDir>,
}

impl Engine<'_> {
    /// The tree of a notes commit. A note's path is the id of the commit it annotates, split
    /// into fan-out directories (`ab/cdef…`) in larger notes trees; each note moves to the
    /// new id of its commit at the same fan-out depth, with its content scrubbed. Other
    /// files in the notes tree stay where they are.
    pub(super) fn rewrite_notes_tree(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        idx: u32,
    ) -> Result<Oid, GitError> {
        if let Some(&memo) = self.notes_memo.get(&idx) {
            return Ok(memo);
        }
        let mut items = Vec::new();
        self.collect_notes(
            odb,
            sink,
            idx,
            &mut Vec::new(),
            &mut String::new(),
            &mut items,
        )?;
        let mut root = NotesDir::default();
        for NoteFile { path, mode, oid } in items {
            let mut dir = &mut root;
            for part in &path[..path.len() - 1] {
                dir = dir.dirs.entry(part.clone()).or_default();
            }
            let name = path.last().expect("a path has a file name").clone();
            dir.entries.push(TreeEntry { mode, name, oid });
        }
        let new = self.write_notes_dir(sink, root, "\0notes")?;
        self.notes_memo.insert(idx, new);
        Ok(new)
    }

    /// Flattens a notes tree into its files, notes already moved.
    fn collect_notes(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        idx: u32,
        dirs: &mut Vec<Vec<u8>>,
        hex_prefix: &mut String,
        items: &mut Vec<NoteFile>,
    ) -> Result<(), GitError> {
        let oid = self.nodes[idx as usize].oid;
        let object = odb.read(oid).map_err(|e| GitError::corrupt(oid, e))?;
        let entries: Vec<TreeEntry> = parse_tree(oid, object.data())?
            .iter()
            .map(TreeEntryRef::to_owned)
            .collect();
        drop(object);
        for entry in entries {
            let kind = entry.kind();
            let TreeEntry {
                mode,
                name,
                oid: entry_oid,
            } = entry;
            let hex = std::str::from_utf8(&name)
                .ok()
                .filter(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
            let full_hex = hex.map(|h| format!("{hex_prefix}{h}"));
            match kind {
                EntryKind::Tree if hex.is_some_and(|h| h.len() == 2) && hex_prefix.len() < 38 => {
                    let child = self.tree_node(entry_oid);
                    let before = hex_prefix.len();
                    hex_prefix.push_str(hex.expect("checked above"));
                    dirs.push(name);
                    self.collect_notes(odb, sink, child, dirs, hex_prefix, items)?;
                    dirs.pop();
                    hex_prefix.truncate(before);
                }
                EntryKind::Blob => {
                    let b = self.blob_node(entry_oid);
                    let content = self.blob_new[b as usize].unwrap_or(entry_oid);
                    let annotated = full_hex
                        .filter(|h| h.len() == 40)
                        .and_then(|h| Oid::from_str(&h).ok());
                    let moved = annotated.and_then(|a| self.out.commit_map.get(&a).copied());
                    let mut path = dirs.clone();
                    match moved {
                        Some(new_commit) => {
                            // The same fan-out: as many two-digit directories as before.
                            let new_hex = new_commit.to_string();
                            path.clear();
                            for level in 0..dirs.len() {
                                path.push(new_hex.as_bytes()[level * 2..level * 2 + 2].to_vec());
                            }
                            path.push(new_hex.as_bytes()[dirs.len() * 2..].to_vec());
                        }
                        None => path.push(name),
                    }
                    items.push(NoteFile {
                        path,
                        mode,
                        oid: content,
                    });
                }
                EntryKind::Tree => {
                    let child = self.tree_node(entry_oid);
                    let shown = String::from_utf8_lossy(&name).into_owned();
                    let (new, empty) = self.rewrite_tree(odb, sink, child, &shown)?;
                    if !(empty && new != entry_oid) {
                        let mut path = dirs.clone();
                        path.push(name);
                        items.push(NoteFile {
                            path,
                            mode,
                            oid: new,
                        });
                    }
                }
                EntryKind::Gitlink => {
                    let mut path = dirs.clone();
                    path.push(name);
                    items.push(NoteFile {
                        path,
                        mode,
                        oid: entry_oid,
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes a rebuilt notes directory and its subdirectories, deepest first.
    fn write_notes_dir(
        &mut self,
        sink: &mut ObjectSink,
        dir: NotesDir,
        path: &str,
    ) -> Result<Oid, GitError> {
        let NotesDir { mut entries, dirs } = dir;
        for (name, sub) in dirs {
            let sub_path = format!("{path}/{}", String::from_utf8_lossy(&name));
            let oid = self.write_notes_dir(sink, sub, &sub_path)?;
            entries.push(TreeEntry {
                mode: TREE_MODE.to_vec(),
                name,
                oid,
            });
        }
        self.write_tree(sink, entries, true, None, path)
    }
}
