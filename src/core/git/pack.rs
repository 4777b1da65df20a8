//! Where a history rewrite puts the objects it creates: one new pack file, streamed to disk
//! as objects are made (no thousands of loose files, no memory that grows with the
//! history), indexed by `git index-pack` at the end. A dry run only hashes, so it computes
//! the same object ids and writes nothing.

use super::GitError;
use flate2::{Compress, Compression, FlushCompress, Status};
use git2::{ObjectType, Oid};
use sha1::{Digest, Sha1};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Receives the new objects of a rewrite.
pub struct ObjectSink {
    pack: Option<PackStream>,
    written: super::rewrite::OidSet,
}

struct PackStream {
    dir: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    count: u32,
    // One compressor, reset per object: setting one up costs more than compressing a commit.
    compress: Compress,
    buf: Vec<u8>,
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

fn io_err(context: &str, path: &Path, err: std::io::Error) -> GitError {
    GitError::Other {
        context: format!("{context} {}", path.display()),
        message: err.to_string(),
    }
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
            .map_err(|e| io_err("cannot create", &tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        // The object count is patched in when the pack is finished.
        out.write_all(b"PACK\0\0\0\x02\0\0\0\0")
            .map_err(|e| io_err("cannot write", &tmp, e))?;
        Ok(ObjectSink {
            pack: Some(PackStream {
                dir,
                tmp,
                out,
                count: 0,
                // Fast compression: `git gc` right after the rewrite repacks anyway.
                compress: Compress::new(Compression::fast(), true),
                buf: Vec::new(),
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
        let oid = object_id(kind, data);
        if !self.written.insert(oid) {
            return Ok(oid);
        }
        if let Some(pack) = &mut self.pack {
            pack.append(kind, data)
                .map_err(|e| io_err("cannot write", &pack.tmp, e))?;
        }
        Ok(oid)
    }

    /// Completes the pack and indexes it, after which its objects are in the repository.
    /// Returns the pack's path (none for a dry run or when nothing was written).
    pub fn finish(self) -> Result<Option<PathBuf>, GitError> {
        let Some(pack) = self.pack else {
            return Ok(None);
        };
        pack.finish()
    }

    /// Removes the unfinished pack (after an error).
    pub fn abandon(self) {
        if let Some(pack) = self.pack {
            drop(pack.out);
            let _ = std::fs::remove_file(&pack.tmp);
        }
    }
}

impl PackStream {
    fn append(&mut self, kind: ObjectType, data: &[u8]) -> std::io::Result<()> {
        let type_bits: u8 = match kind {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            ObjectType::Blob => 3,
            ObjectType::Tag => 4,
            _ => return Err(std::io::Error::other("not a storable object type")),
        };
        // Object header: type and size, little-endian base-128 with the type in the first byte.
        let mut size = data.len() as u64;
        let mut header = Vec::with_capacity(10);
        let mut byte = (type_bits << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            header.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        header.push(byte);
        self.out.write_all(&header)?;
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
        self.out.write_all(&self.buf)?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<Option<PathBuf>, GitError> {
        let PackStream {
            dir,
            tmp,
            out,
            count,
            ..
        } = self;
        let result = (|| -> std::io::Result<Option<PathBuf>> {
            let mut file = out.into_inner().map_err(|e| e.into_error())?;
            if count == 0 {
                return Ok(None);
            }
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
            let digest = hasher.finalize();
            file.seek(SeekFrom::End(0))?;
            file.write_all(&digest)?;
            file.sync_all()?;
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let path = dir.join(format!("pack-{hex}.pack"));
            std::fs::rename(&tmp, &path)?;
            Ok(Some(path))
        })();
        let path = match result {
            Ok(Some(path)) => path,
            Ok(None) => {
                let _ = std::fs::remove_file(&tmp);
                return Ok(None);
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(io_err("cannot finish the pack", &tmp, e));
            }
        };
        // git's indexer is multi-threaded and also writes the reverse index git expects.
        let output = Command::new("git")
            .arg("index-pack")
            .arg(&path)
            .current_dir(&dir)
            .output()
            .map_err(|e| io_err("cannot run git index-pack on", &path, e))?;
        if !output.status.success() {
            let _ = std::fs::remove_file(&path);
            return Err(GitError::Other {
                context: format!("git index-pack {}", path.display()),
                message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(Some(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
