//! git's object formats read and written as bytes, with nothing in between: tree entries
//! (mode, name, id, in git's tree order), commits and tags as header fields (with their
//! continuation lines: signatures, mergetags) and a message. Pure: no repository, no I/O.
//! The rewrite reads and writes every object through here, byte for byte what git would.

use super::error::GitError;
use git2::Oid;
use std::cmp::Ordering;
use std::collections::HashSet;

/// What a tree entry points at, by its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Tree,
    /// A file: regular, executable or a symlink.
    Blob,
    /// A submodule's commit, in another repository.
    Gitlink,
}

impl EntryKind {
    pub fn of_mode(mode: &[u8]) -> Self {
        match mode {
            b"40000" | b"040000" => EntryKind::Tree,
            b"160000" => EntryKind::Gitlink,
            _ => EntryKind::Blob,
        }
    }
}

/// The mode git writes for a directory.
pub const TREE_MODE: &[u8] = b"40000";

/// One entry of a tree, borrowed from the object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeEntryRef<'d> {
    pub mode: &'d [u8],
    pub name: &'d [u8],
    pub oid: Oid,
}

impl TreeEntryRef<'_> {
    pub fn kind(&self) -> EntryKind {
        EntryKind::of_mode(self.mode)
    }

    pub fn to_owned(&self) -> TreeEntry {
        TreeEntry {
            mode: self.mode.to_vec(),
            name: self.name.to_vec(),
            oid: self.oid,
        }
    }
}

/// One entry of a tree being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub mode: Vec<u8>,
    pub name: Vec<u8>,
    pub oid: Oid,
}

impl TreeEntry {
    pub fn kind(&self) -> EntryKind {
        EntryKind::of_mode(&self.mode)
    }
}

/// The entries of tree `oid` from its raw bytes, in stored order.
pub fn parse_tree(oid: Oid, data: &[u8]) -> Result<Vec<TreeEntryRef<'_>>, GitError> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = memchr::memchr(b' ', rest).ok_or_else(|| GitError::malformed(oid, "tree"))?;
        let nul = memchr::memchr(0, &rest[space..])
            .map(|i| i + space)
            .ok_or_else(|| GitError::malformed(oid, "tree"))?;
        if rest.len() < nul + 21 {
            return Err(GitError::malformed(oid, "tree"));
        }
        let id =
            Oid::from_bytes(&rest[nul + 1..nul + 21]).map_err(|e| GitError::corrupt(oid, e))?;
        entries.push(TreeEntryRef {
            mode: &rest[..space],
            name: &rest[space + 1..nul],
            oid: id,
        });
        rest = &rest[nul + 21..];
    }
    Ok(entries)
}

/// A tree's raw bytes, entries in the order given.
pub fn encode_tree(entries: &[TreeEntry]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(entries.len() * 48);
    for entry in entries {
        raw.extend_from_slice(&entry.mode);
        raw.push(b' ');
        raw.extend_from_slice(&entry.name);
        raw.push(0);
        raw.extend_from_slice(entry.oid.as_bytes());
    }
    raw
}

/// git's tree order: by name, as if a tree's name ended in `/`.
pub fn tree_order(a: &TreeEntry, b: &TreeEntry) -> Ordering {
    let key = |e: &TreeEntry| {
        let mut k = e.name.clone();
        if e.kind() == EntryKind::Tree {
            k.push(b'/');
        }
        k
    };
    key(a).cmp(&key(b))
}

/// A scrubbed name that is still a valid file name: no `/` or NUL, not empty, `.` or `..`.
pub fn safe_name(mut name: Vec<u8>) -> Vec<u8> {
    for byte in &mut name {
        if *byte == b'/' || *byte == 0 {
            *byte = b'_';
        }
    }
    if name.is_empty() || name == b"." || name == b".." {
        name.insert(0, b'_');
    }
    name
}

/// Two names that differed only in their secrets are the same once scrubbed; a tree must
/// not hold a name twice, so later ones get `~2`, `~3`… appended.
pub fn disambiguate(entries: &mut [TreeEntry]) {
    let mut taken: HashSet<Vec<u8>> = HashSet::new();
    for entry in entries.iter_mut() {
        let name = &mut entry.name;
        if taken.insert(name.clone()) {
            continue;
        }
        let mut n = 2;
        loop {
            let mut candidate = name.clone();
            candidate.extend_from_slice(format!("~{n}").as_bytes());
            if taken.insert(candidate.clone()) {
                *name = candidate;
                break;
            }
            n += 1;
        }
    }
}

/// A commit or tag split into its header fields (each with its continuation lines and its
/// final newline) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitObject<'d> {
    pub fields: Vec<&'d [u8]>,
    pub message: &'d [u8],
}

/// Splits a commit or tag into its header fields and message.
pub fn split_object(data: &[u8]) -> SplitObject<'_> {
    let (header, message) = match memchr::memmem::find(data, b"\n\n") {
        Some(i) => (&data[..i + 1], &data[i + 2..]),
        None => (data, &data[data.len()..]),
    };
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < header.len() {
        let end = memchr::memchr(b'\n', &header[i..]).map_or(header.len(), |j| i + j + 1);
        if end < header.len() && header[end] == b' ' {
            // The next line continues this field (a signature, a mergetag).
            i = end;
            continue;
        }
        fields.push(&header[start..end]);
        start = end;
        i = end;
    }
    SplitObject { fields, message }
}

impl SplitObject<'_> {
    /// The id in the first field when it is `prefix` (`tree ` of a commit, `object ` of a
    /// tag): git requires it first.
    pub fn leading_oid(&self, prefix: &[u8]) -> Option<Oid> {
        self.fields.first().and_then(|f| field_oid(f, prefix))
    }

    /// A commit's parents, in order.
    pub fn parents(&self) -> impl Iterator<Item = Oid> + '_ {
        self.fields.iter().filter_map(|f| field_oid(f, b"parent "))
    }
}

/// The id a `prefix` field (`parent `, `tree `…) names.
pub fn field_oid(field: &[u8], prefix: &[u8]) -> Option<Oid> {
    let rest = field.strip_prefix(prefix)?;
    let hex = rest.strip_suffix(b"\n").unwrap_or(rest);
    std::str::from_utf8(hex)
        .ok()
        .and_then(|h| Oid::from_str(h).ok())
}

fn is_signature_field(field: &[u8]) -> bool {
    field.starts_with(b"gpgsig ") || field.starts_with(b"gpgsig-sha256 ")
}

/// Where an annotated tag's signature starts in its message, if it has one.
pub fn tag_signature_start(message: &[u8]) -> Option<usize> {
    const MARKERS: [&[u8]; 3] = [
        b"-----BEGIN PGP SIGNATURE-----",
        b"-----BEGIN SSH SIGNATURE-----",
        b"-----BEGIN SIGNED MESSAGE-----",
    ];
    MARKERS
        .iter()
        .filter_map(|m| {
            memchr::memmem::rfind(message, m).filter(|&i| i == 0 || message[i - 1] == b'\n')
        })
        .min()
}

/// A commit or tag written anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub data: Vec<u8>,
    /// It was signed: the signature covered the old content and cannot match the new, so it
    /// was left out.
    pub signature_dropped: bool,
}

/// `commit` with a new tree, new parents (one for each `parent` field, in order) and a new
/// message; every other header (author, committer, encoding, extra headers) is kept byte
/// for byte. Signatures and mergetags (an embedded signed tag of a merged commit, which is
/// rewritten too) are dropped.
pub fn write_commit(
    commit: &SplitObject<'_>,
    tree: Oid,
    parents: &[Oid],
    message: &[u8],
) -> Encoded {
    let mut out = Vec::with_capacity(encoded_len(commit) + message.len());
    let mut parents = parents.iter();
    let mut signed = false;
    for field in &commit.fields {
        if field.starts_with(b"tree ") {
            push_oid_field(&mut out, b"tree ", tree);
        } else if field.starts_with(b"parent ") {
            let parent = parents.next().expect("one new parent per parent field");
            push_oid_field(&mut out, b"parent ", *parent);
        } else if is_signature_field(field) {
            signed = true;
        } else if field.starts_with(b"mergetag ") {
            // Not ours to sign again; the merged tag is rewritten on its own.
        } else {
            out.extend_from_slice(field);
        }
    }
    end_with_message(out, message, signed)
}

/// `tag` pointing at `target` with `message` (and, with `name_field`, that `tag NAME\n`
/// field in place of its own); a signature in the message or in a header is dropped.
pub fn write_tag(
    tag: &SplitObject<'_>,
    target: Oid,
    message: &[u8],
    name_field: Option<&[u8]>,
) -> Encoded {
    let mut signed = false;
    let message = match tag_signature_start(message) {
        Some(at) => {
            signed = true;
            &message[..at]
        }
        None => message,
    };
    let mut out = Vec::with_capacity(encoded_len(tag) + message.len());
    for field in &tag.fields {
        if field.starts_with(b"object ") {
            push_oid_field(&mut out, b"object ", target);
        } else if let Some(name) = name_field.filter(|_| field.starts_with(b"tag ")) {
            out.extend_from_slice(name);
        } else if is_signature_field(field) {
            signed = true;
        } else {
            out.extend_from_slice(field);
        }
    }
    end_with_message(out, message, signed)
}

/// The headers in `out`, then the blank line and the message.
fn end_with_message(mut out: Vec<u8>, message: &[u8], signature_dropped: bool) -> Encoded {
    out.push(b'\n');
    out.extend_from_slice(message);
    Encoded {
        data: out,
        signature_dropped,
    }
}

fn encoded_len(object: &SplitObject<'_>) -> usize {
    object.fields.iter().map(|f| f.len()).sum::<usize>() + 1 + object.message.len()
}

fn push_oid_field(out: &mut Vec<u8>, prefix: &[u8], oid: Oid) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(oid.to_string().as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::pack::object_id;
    use git2::ObjectType;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    fn entry(mode: &str, name: &str, id: Oid) -> TreeEntry {
        TreeEntry {
            mode: mode.as_bytes().to_vec(),
            name: name.as_bytes().to_vec(),
            oid: id,
        }
    }

    #[test]
    fn trees_round_trip_and_hash_as_git_hashes_them() {
        let entries = vec![
            entry("100644", "a.txt", oid(1)),
            entry("100755", "run.sh", oid(2)),
            entry("120000", "link", oid(3)),
            entry("40000", "src", oid(4)),
            entry("160000", "vendor", oid(5)),
        ];
        let raw = encode_tree(&entries);
        let parsed = parse_tree(oid(9), &raw).expect("parses");
        let owned: Vec<TreeEntry> = parsed.iter().map(TreeEntryRef::to_owned).collect();
        assert_eq!(owned, entries);
        let kinds: Vec<EntryKind> = parsed.iter().map(TreeEntryRef::kind).collect();
        use EntryKind::*;
        assert_eq!(kinds, [Blob, Blob, Blob, Tree, Gitlink]);
        assert_eq!(EntryKind::of_mode(b"040000"), Tree);
        // The empty tree, as `git hash-object -t tree /dev/null` names it.
        assert_eq!(
            object_id(ObjectType::Tree, &encode_tree(&[])).to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn truncated_or_garbled_trees_are_malformed() {
        let raw = encode_tree(&[entry("100644", "a", oid(1))]);
        for bad in [
            &raw[..raw.len() - 1],
            &raw[..3],
            b"100644 no-nul".as_slice(),
        ] {
            let err = parse_tree(oid(7), bad).expect_err("malformed");
            assert!(
                matches!(err, GitError::Corrupt { oid: o, .. } if o == oid(7)),
                "{err:?}"
            );
            assert!(
                err.one_line().contains("malformed tree"),
                "{}",
                err.one_line()
            );
        }
        assert!(parse_tree(oid(7), b"").expect("empty").is_empty());
    }

    #[test]
    fn tree_order_sorts_directories_as_if_they_ended_in_a_slash() {
        let mut entries = [
            entry("100644", "a.b", oid(1)),
            entry("40000", "a", oid(2)),
            entry("100644", "a-", oid(3)),
            entry("100644", "a0", oid(4)),
            entry("100644", "B", oid(5)),
        ];
        entries.sort_by(tree_order);
        let names: Vec<&[u8]> = entries.iter().map(|e| e.name.as_slice()).collect();
        // `a/` sorts after `a-` and `a.b` ('/' is 0x2f) and before `a0`.
        assert_eq!(names, [&b"B"[..], b"a-", b"a.b", b"a", b"a0"]);
        // A file named `a` sorts before `a-` (a prefix first).
        let mut files = [entry("100644", "a-", oid(1)), entry("100644", "a", oid(2))];
        files.sort_by(tree_order);
        assert_eq!(files[0].name, b"a");
    }

    #[test]
    fn scrubbed_names_stay_valid_and_unique() {
        assert_eq!(safe_name(b"x/y\0z".to_vec()), b"x_y_z");
        assert_eq!(safe_name(Vec::new()), b"_");
        assert_eq!(safe_name(b".".to_vec()), b"_.");
        assert_eq!(safe_name(b"..".to_vec()), b"_..");
        assert_eq!(safe_name(b"keep.txt".to_vec()), b"keep.txt");
        let mut entries = vec![
            entry("100644", "k", oid(1)),
            entry("100644", "k", oid(2)),
            entry("100644", "k~2", oid(3)),
            entry("100644", "k", oid(4)),
        ];
        disambiguate(&mut entries);
        let names: Vec<&[u8]> = entries.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"k"[..], b"k~2", b"k~2~2", b"k~3"]);
    }

    #[test]
    fn splits_headers_with_continuation_lines() {
        let raw = b"tree a\nparent b\ngpgsig -----BEGIN\n line\n -----END\nauthor x\n\nmsg\n";
        let split = split_object(raw);
        assert_eq!(split.fields.len(), 4);
        assert_eq!(split.fields[2], b"gpgsig -----BEGIN\n line\n -----END\n");
        assert_eq!(split.message, b"msg\n");
        // No message at all: everything is header.
        let bare = split_object(b"object a\ntype commit\n");
        assert_eq!(bare.fields.len(), 2);
        assert!(bare.message.is_empty());
        // An empty message after the blank line.
        assert!(split_object(b"tree a\n\n").message.is_empty());
    }

    #[test]
    fn reads_the_ids_a_commit_names() {
        let raw = format!(
            "tree {}\nparent {}\nparent {}\nauthor A <a@x> 1 +0000\n\nm\n",
            oid(1),
            oid(2),
            oid(3)
        );
        let split = split_object(raw.as_bytes());
        assert_eq!(split.leading_oid(b"tree "), Some(oid(1)));
        assert_eq!(split.leading_oid(b"object "), None);
        assert_eq!(split.parents().collect::<Vec<_>>(), [oid(2), oid(3)]);
        assert_eq!(field_oid(b"parent zz\n", b"parent "), None);
        assert_eq!(
            field_oid(format!("tree {}", oid(4)).as_bytes(), b"tree "),
            Some(oid(4))
        );
    }

    #[test]
    fn finds_tag_signatures_at_line_starts_only() {
        let m = b"v1\n-----BEGIN PGP SIGNATURE-----\nabc\n";
        assert_eq!(tag_signature_start(m), Some(3));
        assert_eq!(
            tag_signature_start(b"quote -----BEGIN PGP SIGNATURE-----"),
            None
        );
        assert_eq!(
            tag_signature_start(b"-----BEGIN SSH SIGNATURE-----\n"),
            Some(0)
        );
        assert_eq!(tag_signature_start(b"plain message\n"), None);
    }

    #[test]
    fn a_commit_written_anew_keeps_every_other_header_byte_for_byte() {
        let raw = format!(
            "tree {}\nparent {}\nparent {}\nauthor A <a@x> 1 +0100\ncommitter C <c@x> 2 -0700\n\
             encoding ISO-8859-1\nmergetag object {}\n type commit\n tag v1\ngpgsig -----BEGIN\n \
             sig\n -----END\nx-extra kept\n\nsubject\n\nbody\n",
            oid(1),
            oid(2),
            oid(3),
            oid(4)
        );
        let split = split_object(raw.as_bytes());
        let written = write_commit(&split, oid(10), &[oid(20), oid(30)], b"new message\n");
        let expected = format!(
            "tree {}\nparent {}\nparent {}\nauthor A <a@x> 1 +0100\ncommitter C <c@x> 2 -0700\n\
             encoding ISO-8859-1\nx-extra kept\n\nnew message\n",
            oid(10),
            oid(20),
            oid(30)
        );
        assert_eq!(String::from_utf8_lossy(&written.data), expected);
        assert!(written.signature_dropped);
        // Unchanged ids and message give back the original bytes when nothing is dropped.
        let plain = format!("tree {}\nauthor A <a@x> 1 +0000\n\nm\n", oid(1));
        let split = split_object(plain.as_bytes());
        let same = write_commit(&split, oid(1), &[], split.message);
        assert_eq!(same.data, plain.as_bytes());
        assert!(!same.signature_dropped);
    }

    #[test]
    fn a_tag_written_anew_points_at_the_new_target_without_its_signature() {
        let raw = format!(
            "object {}\ntype commit\ntag v1\ntagger T <t@x> 3 +0000\n\nrelease\n\
             -----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n",
            oid(1)
        );
        let split = split_object(raw.as_bytes());
        let written = write_tag(&split, oid(2), split.message, None);
        let expected = format!(
            "object {}\ntype commit\ntag v1\ntagger T <t@x> 3 +0000\n\nrelease\n",
            oid(2)
        );
        assert_eq!(String::from_utf8_lossy(&written.data), expected);
        assert!(written.signature_dropped);
        let unsigned = format!("object {}\ntype blob\ntag b\n\nnote\n", oid(1));
        let split = split_object(unsigned.as_bytes());
        let written = write_tag(&split, oid(1), split.message, None);
        assert_eq!(written.data, unsigned.as_bytes());
        assert!(!written.signature_dropped);
        // A signature in a header (gpgsig on a tag, as newer git writes for SHA-256).
        let headed = format!(
            "object {}\ntype commit\ntag v2\ngpgsig-sha256 -----BEGIN\n x\n -----END\n\nm\n",
            oid(1)
        );
        let split = split_object(headed.as_bytes());
        let written = write_tag(&split, oid(1), split.message, None);
        assert!(written.signature_dropped);
        assert!(!String::from_utf8_lossy(&written.data).contains("gpgsig"));
    }
}
