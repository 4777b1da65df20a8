//! Every blob of the repository's pack files, decoded in pack (delta-tree) order, the way
//! `git index-pack` reads a pack: each pack's index gives every entry's offset, the entry
//! headers say which entry is a delta of which, and each blob that is stored whole is
//! inflated once and then every delta built on it is applied once, from its base, walking
//! down the tree of deltas. No blob is inflated twice and no delta chain is resolved again
//! for each object, as reading by id does. Trees, commits and tags are not touched.
//!
//! Memory stays bounded: a walk down one delta tree holds one object per level, and the
//! trees are shared out between the worker threads. A delta whose base is not in the same
//! pack (a thin pack completed in place) and anything that cannot be decoded are left out:
//! the caller reads what was not produced here by id, which also reports any damage.

use super::BlobRead;
use crate::core::git::error::GitError;
use crate::core::git::pack::delta;
use flate2::{Decompress, FlushDecompress, Status};
use git2::Oid;
use rayon::prelude::*;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The pack files of a repository's own object database (not its alternates'), each with
/// its `.idx`.
pub struct Packs(Vec<PathBuf>);

impl Packs {
    pub fn of(repo: &git2::Repository) -> Self {
        Packs(pack_files(&repo.commondir().join("objects")))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `decode_blobs` on every pack. A pack that cannot be decoded is passed over: its blobs
    /// are not visited, and the caller reads what was not visited by id, which says what is
    /// wrong with it.
    pub fn decode_blobs(&self, max_size: u64, visit: &(dyn Fn(Oid, BlobRead<'_>) + Sync)) {
        for pack in &self.0 {
            let _ = decode_blobs(pack, max_size, visit);
        }
    }
}

/// The `.pack` files of the object database at `objects` (`.git/objects`), each with its
/// `.idx`.
fn pack_files(objects: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(objects.join("pack")) else {
        return Vec::new();
    };
    let mut packs: Vec<PathBuf> = dir
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "pack"))
        .filter(|path| path.with_extension("idx").is_file())
        .collect();
    packs.sort();
    packs
}

/// One entry of a pack, as its header says.
#[derive(Debug, Clone, Copy)]
struct Entry {
    oid: Oid,
    offset: u64,
    /// Where the next entry (or the pack's checksum) starts.
    end: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Stored whole, with git's type number (1 commit, 2 tree, 3 blob, 4 tag).
    Whole(u8),
    /// A delta against the entry with this index.
    Delta(usize),
    /// A delta whose base is not in this pack.
    Orphan,
}

/// Decodes every blob of the pack at `pack` (with its `.idx` beside it) and calls `visit`
/// with each (its content, or only its size when it is over `max_size`), on the worker
/// threads. A blob stored whole over `max_size` is not inflated, and the deltas built on it
/// are left out. Returns how many blobs were visited. A pack that cannot
/// be read at all is an error; an entry that cannot be decoded is skipped with what depends
/// on it.
fn decode_blobs(
    pack: &Path,
    max_size: u64,
    visit: &(dyn Fn(Oid, BlobRead<'_>) + Sync),
) -> Result<usize, GitError> {
    let index = pack.with_extension("idx");
    let idx = std::fs::read(&index).map_err(|e| GitError::io("cannot read", &index, e))?;
    let file = File::open(pack).map_err(|e| GitError::io("cannot open", pack, e))?;
    let pack_len = file
        .metadata()
        .map_err(|e| GitError::io("cannot read", pack, e))?
        .len();
    let damaged = |what: &str| {
        GitError::io(
            "cannot read",
            pack,
            std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string()),
        )
    };
    let entries =
        read_index(&idx, pack_len).ok_or_else(|| damaged("an index that does not fit"))?;
    let reader = PackReader { file: &file };
    let mut by_oid: Vec<(Oid, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.oid, i))
        .collect();
    by_oid.sort_unstable();
    let kinds: Vec<Kind> = entries
        .par_iter()
        .map(|entry| {
            reader
                .kind(entry, &entries, &by_oid)
                .unwrap_or(Kind::Orphan)
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    for (child, kind) in kinds.iter().enumerate() {
        if let Kind::Delta(base) = kind {
            children[*base].push(child);
        }
    }
    let roots: Vec<usize> = (0..entries.len())
        .filter(|&i| kinds[i] == Kind::Whole(BLOB))
        .collect();
    let visited: usize = roots
        .par_iter()
        .map(|&root| {
            let mut visited = 0;
            // A blob over the limit is not inflated at all: its size is in its header. The
            // versions built on it are left to be read by id, which sizes them the same way.
            if let Some(size) = reader.size(&entries[root]).filter(|&size| size > max_size) {
                visit(entries[root].oid, BlobRead::TooLarge(size));
                return 1;
            }
            let Some(data) = reader.inflate(&entries[root]) else {
                return 0;
            };
            // Down the tree of deltas, one object per level held at a time.
            let mut stack: Vec<(usize, std::rc::Rc<Vec<u8>>)> = Vec::new();
            let data = std::rc::Rc::new(data);
            visited += show(entries[root].oid, &data, max_size, visit);
            stack.extend(children[root].iter().map(|&c| (c, data.clone())));
            drop(data);
            while let Some((child, base)) = stack.pop() {
                let Some(delta_data) = reader.inflate(&entries[child]) else {
                    continue;
                };
                let Ok(object) = delta::apply(&base, &delta_data) else {
                    continue;
                };
                drop(base);
                visited += show(entries[child].oid, &object, max_size, visit);
                if !children[child].is_empty() {
                    let object = std::rc::Rc::new(object);
                    stack.extend(children[child].iter().map(|&c| (c, object.clone())));
                }
            }
            visited
        })
        .sum();
    Ok(visited)
}

const BLOB: u8 = 3;
const OFS_DELTA: u8 = 6;
const REF_DELTA: u8 = 7;

fn show(oid: Oid, data: &[u8], max_size: u64, visit: &(dyn Fn(Oid, BlobRead<'_>) + Sync)) -> usize {
    let size = data.len() as u64;
    if size > max_size {
        visit(oid, BlobRead::TooLarge(size));
    } else {
        visit(oid, BlobRead::Data(data));
    }
    1
}

/// The entries of a version 2 pack index, in pack order.
fn read_index(idx: &[u8], pack_len: u64) -> Option<Vec<Entry>> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(idx.get(at..at + 4)?.try_into().ok()?))
    };
    if idx.get(0..4)? != b"\xfftOc" || u32_at(4)? != 2 {
        return None;
    }
    let count = u32_at(8 + 255 * 4)? as usize;
    let oids = 8 + 256 * 4;
    let crcs = oids + count * 20;
    let offsets = crcs + count * 4;
    let large = offsets + count * 4;
    let mut entries = Vec::with_capacity(count);
    for i in 0..count {
        let oid = Oid::from_bytes(idx.get(oids + i * 20..oids + (i + 1) * 20)?).ok()?;
        let small = u32_at(offsets + i * 4)?;
        let offset = if small & 0x8000_0000 == 0 {
            u64::from(small)
        } else {
            let at = large + (small & 0x7fff_ffff) as usize * 8;
            u64::from_be_bytes(idx.get(at..at + 8)?.try_into().ok()?)
        };
        entries.push(Entry {
            oid,
            offset,
            end: 0,
        });
    }
    entries.sort_unstable_by_key(|e| e.offset);
    // The pack ends with a 20-byte checksum.
    let data_end = pack_len.checked_sub(20)?;
    let mut next = data_end;
    for entry in entries.iter_mut().rev() {
        if entry.offset >= next {
            return None;
        }
        entry.end = next;
        next = entry.offset;
    }
    Some(entries)
}

/// Reads entries of one pack file by offset.
struct PackReader<'f> {
    file: &'f File,
}

/// The most a header takes: the type and size (up to 10 bytes) and a base (20 bytes).
const HEADER_MAX: usize = 32;

impl PackReader<'_> {
    fn read(&self, from: u64, to: u64) -> Option<Vec<u8>> {
        let mut buf = vec![0; usize::try_from(to.checked_sub(from)?).ok()?];
        self.file.read_exact_at(&mut buf, from).ok()?;
        Some(buf)
    }

    /// The entry's type number and its size, and where its data (or its base) starts.
    fn header(bytes: &[u8]) -> Option<(u8, u64, usize)> {
        let mut byte = *bytes.first()?;
        let kind = (byte >> 4) & 7;
        let mut size = u64::from(byte & 15);
        let (mut shift, mut at) = (4, 1);
        while byte & 0x80 != 0 {
            byte = *bytes.get(at)?;
            at += 1;
            if shift > 57 {
                return None;
            }
            size |= u64::from(byte & 0x7f) << shift;
            shift += 7;
        }
        Some((kind, size, at))
    }

    fn kind(&self, entry: &Entry, entries: &[Entry], by_oid: &[(Oid, usize)]) -> Option<Kind> {
        let head = self.read(
            entry.offset,
            entry.end.min(entry.offset + HEADER_MAX as u64),
        )?;
        let (kind, _, at) = Self::header(&head)?;
        match kind {
            1..=4 => Some(Kind::Whole(kind)),
            OFS_DELTA => {
                let mut byte = *head.get(at)?;
                let mut distance = u64::from(byte & 0x7f);
                let mut pos = at + 1;
                while byte & 0x80 != 0 {
                    byte = *head.get(pos)?;
                    pos += 1;
                    distance = ((distance + 1) << 7) | u64::from(byte & 0x7f);
                }
                let base = entry.offset.checked_sub(distance)?;
                let found = entries.binary_search_by_key(&base, |e| e.offset).ok()?;
                Some(Kind::Delta(found))
            }
            REF_DELTA => {
                let base = Oid::from_bytes(head.get(at..at + 20)?).ok()?;
                let found = by_oid.binary_search_by_key(&base, |(oid, _)| *oid).ok();
                Some(found.map_or(Kind::Orphan, |at| Kind::Delta(by_oid[at].1)))
            }
            _ => None,
        }
    }

    /// The size the entry's header gives: the object's own, for an entry stored whole.
    fn size(&self, entry: &Entry) -> Option<u64> {
        let head = self.read(
            entry.offset,
            entry.end.min(entry.offset + HEADER_MAX as u64),
        )?;
        Self::header(&head).map(|(_, size, _)| size)
    }

    /// The entry's data, inflated: the object itself, or for a delta the delta.
    fn inflate(&self, entry: &Entry) -> Option<Vec<u8>> {
        let raw = self.read(entry.offset, entry.end)?;
        let (kind, size, mut at) = Self::header(&raw)?;
        match kind {
            OFS_DELTA => {
                while raw.get(at)? & 0x80 != 0 {
                    at += 1;
                }
                at += 1;
            }
            REF_DELTA => at += 20,
            _ => {}
        }
        // One byte to spare, so that zlib can say the stream ended.
        let mut out = Vec::with_capacity(usize::try_from(size).ok()?.checked_add(1)?);
        let mut inflater = Decompress::new(true);
        let status = inflater
            .decompress_vec(raw.get(at..)?, &mut out, FlushDecompress::Finish)
            .ok()?;
        (status == Status::StreamEnd && out.len() as u64 == size).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    fn repack(t: &TestRepo, args: &[&str]) {
        crate::core::git::command::GitCommand::in_dir(&t.root)
            .args(["repack", "-q"])
            .args(args)
            .run("git repack")
            .expect("repack");
    }

    fn decoded(t: &TestRepo, max_size: u64) -> BTreeMap<Oid, Option<Vec<u8>>> {
        let seen = Mutex::new(BTreeMap::new());
        let objects = t.repo.path().join("objects");
        for pack in pack_files(&objects) {
            decode_blobs(&pack, max_size, &|oid, blob| {
                let data = match blob {
                    BlobRead::Data(data) => Some(data.to_vec()),
                    BlobRead::TooLarge(_) => None,
                    BlobRead::Failed(err) => panic!("{oid}: {err}"),
                };
                let again = seen.lock().expect("lock").insert(oid, data);
                assert!(again.is_none(), "{oid} visited twice");
            })
            .expect("decode");
        }
        seen.into_inner().expect("lock")
    }

    #[test]
    fn every_blob_of_a_deltified_pack_comes_out_once_exactly_as_stored() {
        let t = TestRepo::new();
        let mut text = String::new();
        // Many versions of one file (long delta chains), a binary file, and an empty one.
        for version in 0..60 {
            text.push_str(&format!(
                "line {version}: {}\n",
                "x".repeat(version % 7 * 30)
            ));
            t.write("notes.txt", &text);
            t.write(
                "data.bin",
                (0..=255u8)
                    .cycle()
                    .take(3000 + version)
                    .collect::<Vec<u8>>(),
            );
            t.write("empty", "");
            t.commit_all(&format!("version {version}"));
        }
        repack(&t, &["-a", "-d", "-f", "--depth=50", "--window=50"]);
        let got = decoded(&t, u64::MAX);
        let odb = t.repo.odb().expect("odb");
        let mut blobs = 0;
        odb.foreach(|oid| {
            let object = odb.read(*oid).expect("read");
            if object.kind() == git2::ObjectType::Blob {
                blobs += 1;
                assert_eq!(got.get(oid), Some(&Some(object.data().to_vec())), "{oid}");
            }
            true
        })
        .expect("list");
        assert_eq!(got.len(), blobs, "only blobs, each once");
        assert!(blobs > 100, "{blobs}");
        // Over the limit: the size only. A whole blob over it is not inflated, and what is
        // built on it is left out (to be read by id); the rest comes out as before.
        let limited = decoded(&t, 3030);
        assert!(limited.values().any(Option::is_none));
        for (oid, data) in &limited {
            match data {
                Some(data) => {
                    assert!(data.len() <= 3030);
                    assert_eq!(got.get(oid), Some(&Some(data.clone())));
                }
                None => assert!(got[oid].as_ref().is_some_and(|d| d.len() > 3030)),
            }
        }
    }

    #[test]
    fn several_packs_are_each_read_and_a_damaged_index_is_an_error() {
        let t = TestRepo::new();
        t.write("a.txt", "first\n");
        t.commit_all("one");
        repack(&t, &["-d"]);
        t.write("a.txt", "second\n");
        t.commit_all("two");
        repack(&t, &["-d"]);
        let objects = t.repo.path().join("objects");
        assert_eq!(pack_files(&objects).len(), 2);
        assert_eq!(decoded(&t, u64::MAX).len(), 2);
        let pack = &pack_files(&objects)[0];
        std::fs::write(pack.with_extension("idx"), b"not an index").expect("write");
        assert!(decode_blobs(pack, u64::MAX, &|_, _| {}).is_err());
    }
}
