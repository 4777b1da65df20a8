//! Where a history rewrite puts the objects it creates: one new pack file and its index,
//! both written here. Objects are compressed and streamed to disk by a writer thread while
//! the rewrite goes on (no thousands of loose files, no memory that grows with the history);
//! the index (version 2) is written from the offsets and checksums recorded on the way, so
//! nothing has to read the pack back but for its final checksum. Like git fast-import, an
//! object that is the next version of an earlier one (a directory in the next commit) is
//! stored as a delta against it: `git gc` keeps objects it finds whole in a pack whole, so
//! without this a rewrite that touches most trees would double the repository's size. A dry
//! run only hashes, so it computes the same object ids and writes nothing.

pub(crate) mod delta;

use super::error::GitError;
use super::oid::OidSet;
use flate2::{Compress, Compression, FlushCompress, Status};
use git2::{ObjectType, Oid};
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

/// Receives the new objects of a rewrite.
pub struct ObjectSink {
    pack: Option<PackStream>,
    written: OidSet,
}

/// Objects handed to the writer thread but not yet written; bounds the memory they take.
const QUEUE_LEN: usize = 1024;

/// An object on its way to the writer thread.
struct Queued {
    oid: Oid,
    type_bits: u8,
    data: Vec<u8>,
    /// What the object is a version of (for a tree, its path), if anything.
    lineage: Option<Vec<u8>>,
}

/// Longest delta chain written, git's default `pack.depth`.
const MAX_DELTA_DEPTH: u32 = 50;

struct PackStream {
    dir: PathBuf,
    tmp: PathBuf,
    sender: Option<SyncSender<Queued>>,
    writer: Option<JoinHandle<std::io::Result<Written>>>,
}

/// What the writer thread made: the pack without its object count and checksum, and where
/// each object is in it.
struct Written {
    file: File,
    entries: Vec<IndexEntry>,
}

struct IndexEntry {
    oid: Oid,
    offset: u64,
    /// CRC-32 of the entry as stored (header and compressed data), which `git gc` checks
    /// before it copies the entry into a new pack.
    crc: u32,
}

/// The git object id of `data` as an object of `kind`.
pub fn object_id(kind: ObjectType, data: &[u8]) -> Oid {
    let mut hasher = Sha1::new();
    hasher.update(kind.str().as_bytes());
    hasher.update(b" ");
    hasher.update(data.len().to_string().as_bytes());
    hasher.update([0u8]);
    hasher.update(data);
    Oid::from_bytes(&hasher.finalize()).expect("a SHA-1 digest is 20 bytes")
}

/// The pack entry type of a delta against an object earlier in the same pack.
const OFS_DELTA: u8 = 6;

/// A pack entry's header: the type and the size, little-endian base-128 with the type in
/// the first byte.
fn entry_header(type_bits: u8, len: usize) -> Vec<u8> {
    let mut size = len as u64;
    let mut header = Vec::with_capacity(16);
    let mut byte = (type_bits << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        header.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    header.push(byte);
    header
}

/// How far back an offset delta's base is: big-endian base-128 in which each continuation
/// also adds one, so that every distance has exactly one encoding.
fn ofs_distance(distance: u64) -> Vec<u8> {
    let mut encoded = vec![(distance & 0x7f) as u8];
    let mut rest = distance >> 7;
    while rest > 0 {
        rest -= 1;
        encoded.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    encoded.reverse();
    encoded
}

impl ObjectSink {
    /// Hashes objects without storing them.
    pub fn dry_run() -> Self {
        ObjectSink {
            pack: None,
            written: Default::default(),
        }
    }

    /// Streams objects into a new pack in `objects_dir/pack`.
    pub fn pack(objects_dir: &Path) -> Result<Self, GitError> {
        let dir = objects_dir.join("pack");
        let tmp = dir.join(format!("tmp_keywarden_{}.pack", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| GitError::io("cannot create", &tmp, e))?;
        let (sender, receiver) = sync_channel::<Queued>(QUEUE_LEN);
        let writer = std::thread::spawn(move || -> std::io::Result<Written> {
            let mut out = EntryWriter::new(file)?;
            for queued in receiver {
                out.append(queued)?;
            }
            out.finish()
        });
        Ok(ObjectSink {
            pack: Some(PackStream {
                dir,
                tmp,
                sender: Some(sender),
                writer: Some(writer),
            }),
            written: Default::default(),
        })
    }

    pub fn is_dry_run(&self) -> bool {
        self.pack.is_none()
    }

    /// How many distinct objects were written (or, in a dry run, would be).
    pub fn count(&self) -> usize {
        self.written.len()
    }

    pub fn write(&mut self, kind: ObjectType, data: &[u8]) -> Result<Oid, GitError> {
        self.store(kind, data, None)
    }

    /// Writes `data` as the next version in `lineage` (for a tree, its path), stored as a
    /// delta against the previous version when that is much smaller.
    pub fn write_version(
        &mut self,
        kind: ObjectType,
        data: &[u8],
        lineage: &[u8],
    ) -> Result<Oid, GitError> {
        self.store(kind, data, Some(lineage))
    }

    fn store(
        &mut self,
        kind: ObjectType,
        data: &[u8],
        lineage: Option<&[u8]>,
    ) -> Result<Oid, GitError> {
        let oid = object_id(kind, data);
        if !self.written.insert(oid) {
            return Ok(oid);
        }
        if let Some(pack) = &mut self.pack {
            pack.send(oid, kind, data, lineage)?;
        }
        Ok(oid)
    }

    /// Completes the pack and writes its index, after which its objects are in the
    /// repository. Returns the pack's path (none for a dry run or when nothing was written).
    pub fn finish(self) -> Result<Option<PathBuf>, GitError> {
        let Some(pack) = self.pack else {
            return Ok(None);
        };
        pack.finish()
    }

    /// Removes the unfinished pack (after an error).
    pub fn abandon(self) {
        if let Some(mut pack) = self.pack {
            let _ = pack.wait();
            let _ = std::fs::remove_file(&pack.tmp);
        }
    }
}

impl PackStream {
    fn send(
        &mut self,
        oid: Oid,
        kind: ObjectType,
        data: &[u8],
        lineage: Option<&[u8]>,
    ) -> Result<(), GitError> {
        let type_bits: u8 = match kind {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            ObjectType::Blob => 3,
            ObjectType::Tag => 4,
            _ => return Err(GitError::Unstorable { oid }),
        };
        let sent = self.sender.as_ref().is_some_and(|sender| {
            let queued = Queued {
                oid,
                type_bits,
                data: data.to_vec(),
                lineage: lineage.map(<[u8]>::to_vec),
            };
            sender.send(queued).is_ok()
        });
        if sent {
            return Ok(());
        }
        // The writer only stops early on an error, which joining it returns.
        match self.wait() {
            Err(e) => Err(GitError::io("cannot write", &self.tmp, e)),
            Ok(_) => Err(GitError::io(
                "cannot write",
                &self.tmp,
                std::io::Error::other("the pack writer stopped"),
            )),
        }
    }

    /// Stops the writer thread (once every queued object is written) and takes its result.
    fn wait(&mut self) -> std::io::Result<Written> {
        self.sender = None;
        match self.writer.take() {
            Some(writer) => writer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the pack writer panicked"))),
            None => Err(std::io::Error::other("the pack writer stopped")),
        }
    }

    fn finish(mut self) -> Result<Option<PathBuf>, GitError> {
        let written = self.wait();
        let result = written.and_then(|written| complete(&self.dir, &self.tmp, written));
        if !matches!(result, Ok(Some(_))) {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result.map_err(|e| GitError::io("cannot finish the pack", &self.tmp, e))
    }
}

/// Patches in the object count, appends the checksum, moves the pack into place and writes
/// its index next to it (after the pack: git finds packs by their index).
fn complete(dir: &Path, tmp: &Path, written: Written) -> std::io::Result<Option<PathBuf>> {
    let Written { mut file, entries } = written;
    if entries.is_empty() {
        return Ok(None);
    }
    let count = u32::try_from(entries.len())
        .map_err(|_| std::io::Error::other("too many objects for one pack"))?;
    file.seek(SeekFrom::Start(8))?;
    file.write_all(&count.to_be_bytes())?;
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let checksum: [u8; 20] = hasher.finalize().into();
    file.seek(SeekFrom::End(0))?;
    file.write_all(&checksum)?;
    file.sync_all()?;
    drop(file);
    let hex: String = checksum.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("pack-{hex}.pack"));
    std::fs::rename(tmp, &path)?;
    let index = index_v2(entries, &checksum);
    let index_tmp = dir.join(format!("tmp_keywarden_{}.idx", std::process::id()));
    let index_path = path.with_extension("idx");
    let written = (|| {
        let mut out = File::create(&index_tmp)?;
        out.write_all(&index)?;
        out.sync_all()?;
        std::fs::rename(&index_tmp, &index_path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&index_tmp);
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(Some(path))
}

/// A pack index, version 2: fan-out table, sorted ids, CRC-32s, offsets (with a table of
/// 64-bit ones for packs over 2 GiB), the pack's checksum and the index's own.
fn index_v2(mut entries: Vec<IndexEntry>, pack_checksum: &[u8; 20]) -> Vec<u8> {
    entries.sort_by(|a, b| a.oid.as_bytes().cmp(b.oid.as_bytes()));
    let mut out = Vec::with_capacity(1072 + entries.len() * 28 + 40);
    out.extend_from_slice(b"\xfftOc");
    out.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for entry in &entries {
        fanout[entry.oid.as_bytes()[0] as usize] += 1;
    }
    let mut total = 0u32;
    for slot in fanout {
        total += slot;
        out.extend_from_slice(&total.to_be_bytes());
    }
    for entry in &entries {
        out.extend_from_slice(entry.oid.as_bytes());
    }
    for entry in &entries {
        out.extend_from_slice(&entry.crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for entry in &entries {
        let small = match u32::try_from(entry.offset) {
            Ok(offset) if offset < 0x8000_0000 => offset,
            _ => {
                large.push(entry.offset);
                0x8000_0000 | (large.len() as u32 - 1)
            }
        };
        out.extend_from_slice(&small.to_be_bytes());
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack_checksum);
    let own: [u8; 20] = Sha1::digest(&out).into();
    out.extend_from_slice(&own);
    out
}

/// Appends compressed objects to the pack file and records where each one went.
struct EntryWriter {
    out: BufWriter<File>,
    offset: u64,
    entries: Vec<IndexEntry>,
    /// The newest object of each lineage: where it is, its content, its delta depth.
    lineages: HashMap<Vec<u8>, (u64, Vec<u8>, u32)>,
    // One compressor, reset per object: setting one up costs more than compressing a commit.
    compress: Compress,
    buf: Vec<u8>,
}

impl EntryWriter {
    fn new(file: File) -> std::io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        // The object count is patched in when the pack is complete.
        out.write_all(b"PACK\0\0\0\x02\0\0\0\0")?;
        Ok(EntryWriter {
            out,
            offset: 12,
            entries: Vec::new(),
            lineages: HashMap::new(),
            // Fast compression: `git gc` right after the rewrite repacks anyway.
            compress: Compress::new(Compression::fast(), true),
            buf: Vec::new(),
        })
    }

    fn append(&mut self, queued: Queued) -> std::io::Result<()> {
        let Queued {
            oid,
            type_bits,
            data,
            lineage,
        } = queued;
        let offset = self.offset;
        let Some(lineage) = lineage else {
            return self.write_entry(oid, entry_header(type_bits, data.len()), &data);
        };
        let delta = self
            .lineages
            .get(&lineage)
            .filter(|(_, _, depth)| *depth < MAX_DELTA_DEPTH)
            .map(|(base_offset, base, depth)| (*base_offset, delta::encode(base, &data), *depth))
            .filter(|(_, delta, _)| delta.len() < data.len() / 2);
        let depth = match delta {
            Some((base_offset, delta, depth)) => {
                let mut header = entry_header(OFS_DELTA, delta.len());
                header.extend_from_slice(&ofs_distance(offset - base_offset));
                self.write_entry(oid, header, &delta)?;
                depth + 1
            }
            None => {
                self.write_entry(oid, entry_header(type_bits, data.len()), &data)?;
                0
            }
        };
        self.lineages.insert(lineage, (offset, data, depth));
        Ok(())
    }

    fn write_entry(&mut self, oid: Oid, header: Vec<u8>, data: &[u8]) -> std::io::Result<()> {
        self.compress.reset();
        self.buf.clear();
        self.buf.reserve(data.len() / 2 + 64);
        loop {
            let consumed = self.compress.total_in() as usize;
            let status = self
                .compress
                .compress_vec(&data[consumed..], &mut self.buf, FlushCompress::Finish)
                .map_err(std::io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
            let more = self.buf.capacity().max(4096);
            self.buf.reserve(more);
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(&self.buf);
        self.out.write_all(&header)?;
        self.out.write_all(&self.buf)?;
        self.entries.push(IndexEntry {
            oid,
            offset: self.offset,
            crc: crc.finalize(),
        });
        self.offset += (header.len() + self.buf.len()) as u64;
        Ok(())
    }

    fn finish(self) -> std::io::Result<Written> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(Written {
            file,
            entries: self.entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn written_pack_and_index_are_what_git_expects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init_bare(dir.path()).expect("init");
        let mut sink = ObjectSink::pack(&dir.path().join("objects")).expect("sink");
        let mut ids = Vec::new();
        for i in 0..300u32 {
            let data = format!("blob number {i}\n").repeat(i as usize % 7 + 1);
            ids.push((
                sink.write(ObjectType::Blob, data.as_bytes())
                    .expect("write"),
                data,
            ));
        }
        // Larger than one compression buffer, and barely compressible.
        let big: String = (0..3_000_000u64)
            .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 7) as u8 % 26))
            .collect();
        ids.push((
            sink.write(ObjectType::Blob, big.as_bytes()).expect("write"),
            big,
        ));
        // Versions of one object: stored as deltas, chains cut at the depth limit.
        let mut version = String::new();
        for i in 0..120 {
            version.push_str(&format!("line {i} of a growing file\n"));
            let data = version.clone();
            let oid = sink
                .write_version(ObjectType::Blob, data.as_bytes(), b"file")
                .expect("write");
            ids.push((oid, data));
        }
        // A second copy of an object is written once.
        sink.write(ObjectType::Blob, ids[0].1.as_bytes())
            .expect("write");
        assert_eq!(sink.count(), 421);
        let pack = sink.finish().expect("finish").expect("a pack");
        let output = Command::new("git")
            .args(["verify-pack", "-v"])
            .arg(pack.with_extension("idx"))
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let listing = String::from_utf8_lossy(&output.stdout);
        let deltas = listing
            .lines()
            .filter(|l| l.contains(" blob ") && l.split_whitespace().count() >= 7)
            .count();
        assert!(deltas >= 110, "{deltas} of 120 versions stored as deltas");
        assert!(listing.contains("chain length = 50"), "{listing}");
        assert!(!listing.contains("chain length = 51"), "{listing}");
        let odb = repo.odb().expect("odb");
        for (oid, data) in &ids {
            assert_eq!(odb.read(*oid).expect("readable").data(), data.as_bytes());
        }
    }

    #[test]
    fn an_empty_rewrite_leaves_no_pack() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("pack")).expect("mkdir");
        let sink = ObjectSink::pack(dir.path()).expect("sink");
        assert_eq!(sink.finish().expect("finish"), None);
        let left = std::fs::read_dir(dir.path().join("pack"))
            .expect("list")
            .count();
        assert_eq!(left, 0);
    }

    #[test]
    fn object_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            object_id(ObjectType::Blob, b"hello\n").to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty tree.
        assert_eq!(
            object_id(ObjectType::Tree, b"").to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }
}
