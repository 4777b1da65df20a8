//! Pass 3 for commits and tags: a commit is written anew when its tree, a parent or its
//! message changes (signatures dropped, every other header kept), a tag when its target or
//! message does; anything a ref points at is mapped to what it became.

use super::{ref_safe_name, Engine};
use crate::core::git::error::GitError;
use crate::core::git::pack::ObjectSink;
use crate::core::git::raw::{split_object, write_commit, write_tag};
use git2::{ObjectType, Odb, Oid};

impl Engine<'_> {
    /// The new id of commit `oid` (raw bytes `raw`; `notes` for a commit of a notes ref),
    /// its parents already rewritten; its own id when nothing in it changes.
    pub(super) fn rewrite_commit(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        oid: Oid,
        raw: &[u8],
        notes: bool,
    ) -> Result<Oid, GitError> {
        let commit = split_object(raw);
        let old_tree = commit
            .leading_oid(b"tree ")
            .ok_or_else(|| GitError::malformed(oid, "commit"))?;
        let tree_idx = self.tree_node(old_tree);
        let new_tree = if notes {
            self.rewrite_notes_tree(odb, sink, tree_idx)?
        } else {
            self.rewrite_tree(odb, sink, tree_idx, "")?.0
        };
        let mut changed = new_tree != old_tree;
        let mut parents_changed = false;
        let mut new_parents = Vec::new();
        for parent in commit.parents() {
            let new = self.out.commit_map.get(&parent).copied().unwrap_or(parent);
            parents_changed |= new != parent;
            new_parents.push(new);
        }
        changed |= parents_changed;
        let new_message = self.opts.scrubber.and_then(|s| s.replace(commit.message));
        if new_message.is_some() {
            changed = true;
            self.out.messages_scrubbed += 1;
        }
        self.out.commit_order.push(oid);
        if !changed {
            return Ok(oid);
        }
        let message = new_message.as_deref().unwrap_or(commit.message);
        let written = write_commit(&commit, new_tree, &new_parents, message);
        let new = sink.write(ObjectType::Commit, &written.data)?;
        self.record_if_clean(new, &written.data);
        if written.signature_dropped {
            self.out.signatures_dropped += 1;
        }
        if !parents_changed {
            self.out.first_changed.push(oid);
        }
        self.out.commit_map.insert(oid, new);
        Ok(new)
    }

    /// What any object a ref points at became: a commit through the commit map, a tag
    /// recreated, a tree or blob rewritten.
    pub(super) fn rewrite_object(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        oid: Oid,
    ) -> Result<Oid, GitError> {
        let (_, kind) = odb
            .read_header(oid)
            .map_err(|e| GitError::corrupt(oid, e))?;
        Ok(match kind {
            ObjectType::Commit => self.out.commit_map.get(&oid).copied().unwrap_or(oid),
            ObjectType::Tag => self.rewrite_tag(odb, sink, oid)?,
            ObjectType::Tree => match self.node_index.get(&oid) {
                Some(&idx) => self.rewrite_tree(odb, sink, idx, "")?.0,
                None => oid,
            },
            ObjectType::Blob => self
                .blob_index
                .get(&oid)
                .and_then(|&b| self.blob_new[b as usize])
                .unwrap_or(oid),
            _ => oid,
        })
    }

    /// An annotated tag pointing at its target's new id, its message scrubbed; memoised.
    fn rewrite_tag(
        &mut self,
        odb: &Odb<'_>,
        sink: &mut ObjectSink,
        oid: Oid,
    ) -> Result<Oid, GitError> {
        if let Some(&new) = self.tag_memo.get(&oid) {
            return Ok(new);
        }
        let raw = odb
            .read(oid)
            .map_err(|e| GitError::corrupt(oid, e))?
            .data()
            .to_vec();
        let tag = split_object(&raw);
        let target = tag
            .leading_oid(b"object ")
            .ok_or_else(|| GitError::malformed(oid, "tag"))?;
        let new_target = self.rewrite_object(odb, sink, target)?;
        let scrubbed = self.opts.scrubber.and_then(|s| s.replace(tag.message));
        // A tag named after a secret is renamed (its ref, and the name it records).
        let renamed = self.opts.scrubber.and_then(|s| {
            let field = tag.fields.iter().find(|f| f.starts_with(b"tag "))?;
            let name = String::from_utf8_lossy(&field[4..]);
            let name = name.trim_end_matches('\n');
            let new = ref_safe_name(s, &format!("refs/tags/{name}"), &Default::default())?;
            Some(format!("tag {}\n", &new["refs/tags/".len()..]).into_bytes())
        });
        let new = if new_target == target && scrubbed.is_none() && renamed.is_none() {
            self.record_if_clean(oid, &raw);
            oid
        } else {
            if scrubbed.is_some() {
                self.out.messages_scrubbed += 1;
            }
            let message = scrubbed.as_deref().unwrap_or(tag.message);
            let written = write_tag(&tag, new_target, message, renamed.as_deref());
            if written.signature_dropped {
                self.out.signatures_dropped += 1;
            }
            let new = sink.write(ObjectType::Tag, &written.data)?;
            self.record_if_clean(new, &written.data);
            new
        };
        self.tag_memo.insert(oid, new);
        Ok(new)
    }
}
