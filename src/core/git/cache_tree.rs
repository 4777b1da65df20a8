//! The tree a commit would record, read straight from the index's cache-tree (`TREE`
//! extension) without loading the index. `git commit` completes the cache-tree before it
//! runs pre-commit, so this is usually there; reading it costs a scan over the index
//! file instead of libgit2's full load, which verifies the whole file's SHA-1 (most of a
//! hook's budget on a large index). Any doubt — an unknown version, a split or sparse
//! index, an invalidated root — answers `None`, and the caller loads the index properly.

use git2::Oid;
use std::path::Path;

const OID_LEN: usize = 20;

/// The root tree id recorded in the index file at `path`, when the cache-tree is complete.
pub fn root_tree(path: &Path) -> Option<Oid> {
    let data = std::fs::read(path).ok()?;
    parse_root_tree(&data)
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

fn parse_root_tree(data: &[u8]) -> Option<Oid> {
    if data.get(..4)? != b"DIRC" {
        return None;
    }
    let version = be32(data, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = be32(data, 8)? as usize;
    let end = data.len().checked_sub(OID_LEN)?;
    let mut at = 12;
    // ctime, mtime, dev, ino, mode, uid, gid, size, oid, flags.
    const FIXED: usize = 40 + OID_LEN + 2;
    for _ in 0..count {
        let flags = u16::from_be_bytes(data.get(at + FIXED - 2..at + FIXED)?.try_into().ok()?);
        let extended = version >= 3 && flags & 0x4000 != 0;
        let header = FIXED + if extended { 2 } else { 0 };
        let mut path_at = at + header;
        if version == 4 {
            // A varint (bytes to strip from the previous path), then the NUL-terminated rest.
            while *data.get(path_at)? & 0x80 != 0 {
                path_at += 1;
            }
            path_at += 1;
        }
        let len = data.get(path_at..end)?.iter().position(|&b| b == 0)?;
        at = if version == 4 {
            path_at + len + 1
        } else {
            // Entries are padded with 1–8 NULs to a multiple of 8 bytes.
            at + ((header + len + 8) & !7)
        };
    }
    while at + 8 <= end {
        let signature = data.get(at..at + 4)?;
        let size = be32(data, at + 4)? as usize;
        let body = data.get(at + 8..(at + 8).checked_add(size)?)?;
        match signature {
            // A split index keeps entries elsewhere; a sparse index has tree entries.
            b"link" | b"sdir" => return None,
            b"TREE" => return root_of_tree_extension(body),
            _ => {}
        }
        at += 8 + size;
    }
    None
}

/// The first record of the `TREE` extension is the root: `"" NUL count SP subtrees LF oid`,
/// with a count of -1 when the root has been invalidated.
fn root_of_tree_extension(body: &[u8]) -> Option<Oid> {
    if *body.first()? != 0 {
        return None;
    }
    let newline = body.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&body[1..newline]).ok()?;
    let entries: i64 = header.split(' ').next()?.parse().ok()?;
    if entries < 0 {
        return None;
    }
    Oid::from_bytes(body.get(newline + 1..newline + 1 + OID_LEN)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert_eq!(parse_root_tree(b""), None);
        assert_eq!(parse_root_tree(b"DIRC\0\0\0\x02\0\0\0\x05short"), None);
        assert_eq!(parse_root_tree(&[0u8; 64]), None);
        let mut invalid_root = b"\0-1 0\n".to_vec();
        invalid_root.extend([0u8; 20]);
        assert_eq!(root_of_tree_extension(&invalid_root), None);
    }
}
