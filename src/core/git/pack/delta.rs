//! git's delta format (copy and insert instructions against a base object): the reader, as
//! git implements it (patch-delta.c), and an encoder for objects that are small edits of
//! their base, such as the next version of a tree.

use std::collections::HashMap;

/// The match unit: a run of this many bytes that also occurs in the base (at a multiple of
/// it) starts a copy. A tree entry's id is 20 bytes, so an edited entry costs about one
/// block of literal bytes.
const BLOCK: usize = 16;
/// git reads copy sizes of up to three bytes; staying below 64 KiB keeps every reader happy.
const MAX_COPY: usize = 0xffff;
/// An insert instruction carries at most 127 literal bytes.
const MAX_INSERT: usize = 0x7f;

/// Why a delta cannot be applied: it does not fit its base, or it is cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a delta that does not fit its base ({0})")]
pub struct BadDelta(pub &'static str);

/// The object `delta` rebuilds from `base`.
pub fn apply(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, BadDelta> {
    let mut pos = 0;
    let read_size = |pos: &mut usize| -> Result<usize, BadDelta> {
        let (mut size, mut shift) = (0usize, 0u32);
        loop {
            let byte = *delta.get(*pos).ok_or(BadDelta("cut short in a size"))?;
            *pos += 1;
            if shift > 56 {
                return Err(BadDelta("a size too large"));
            }
            size |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                return Ok(size);
            }
        }
    };
    if read_size(&mut pos)? != base.len() {
        return Err(BadDelta("made for a base of another size"));
    }
    let target_len = read_size(&mut pos)?;
    let mut out = Vec::with_capacity(target_len);
    while pos < delta.len() {
        let command = delta[pos];
        pos += 1;
        if command & 0x80 != 0 {
            let (mut offset, mut size) = (0usize, 0usize);
            for i in 0..4 {
                if command & (1 << i) != 0 {
                    let byte = *delta.get(pos).ok_or(BadDelta("cut short in a copy"))?;
                    offset |= (byte as usize) << (8 * i);
                    pos += 1;
                }
            }
            for i in 0..3 {
                if command & (1 << (4 + i)) != 0 {
                    let byte = *delta.get(pos).ok_or(BadDelta("cut short in a copy"))?;
                    size |= (byte as usize) << (8 * i);
                    pos += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            let copied = offset
                .checked_add(size)
                .and_then(|end| base.get(offset..end))
                .ok_or(BadDelta("a copy outside the base"))?;
            out.extend_from_slice(copied);
        } else if command == 0 {
            return Err(BadDelta("the reserved instruction 0"));
        } else {
            let literal = delta
                .get(pos..pos + command as usize)
                .ok_or(BadDelta("cut short in an insert"))?;
            out.extend_from_slice(literal);
            pos += command as usize;
        }
        if out.len() > target_len {
            return Err(BadDelta("longer than it says"));
        }
    }
    if out.len() != target_len {
        return Err(BadDelta("shorter than it says"));
    }
    Ok(out)
}

/// The delta that rebuilds `target` from `base`.
pub fn encode(base: &[u8], target: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    push_size(&mut out, base.len());
    push_size(&mut out, target.len());
    let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(base.len() / BLOCK);
    for start in (0..base.len() / BLOCK).map(|i| i * BLOCK) {
        index.entry(&base[start..start + BLOCK]).or_insert(start);
    }
    let mut literal_from = 0;
    let mut pos = 0;
    while pos + BLOCK <= target.len() {
        let Some(&found) = index.get(&target[pos..pos + BLOCK]) else {
            pos += 1;
            continue;
        };
        // Grow the match both ways: back into the pending literal, forward to its end.
        let (mut from, mut base_from) = (pos, found);
        while from > literal_from && base_from > 0 && target[from - 1] == base[base_from - 1] {
            from -= 1;
            base_from -= 1;
        }
        let mut len = pos - from + BLOCK;
        while from + len < target.len()
            && base_from + len < base.len()
            && target[from + len] == base[base_from + len]
        {
            len += 1;
        }
        push_insert(&mut out, &target[literal_from..from]);
        push_copy(&mut out, base_from, len);
        pos = from + len;
        literal_from = pos;
    }
    push_insert(&mut out, &target[literal_from..]);
    out
}

/// A size in the delta header: little-endian base-128.
fn push_size(out: &mut Vec<u8>, mut size: usize) {
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn push_insert(out: &mut Vec<u8>, literal: &[u8]) {
    for chunk in literal.chunks(MAX_INSERT) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
}

/// Copy instructions: a command byte whose low seven bits say which offset bytes (4) and
/// size bytes (3) follow, zero bytes left out.
fn push_copy(out: &mut Vec<u8>, mut offset: usize, mut len: usize) {
    while len > 0 {
        let size = len.min(MAX_COPY);
        let command_at = out.len();
        let mut command = 0x80u8;
        out.push(0);
        for i in 0..4 {
            let byte = ((offset >> (8 * i)) & 0xff) as u8;
            if byte != 0 {
                command |= 1 << i;
                out.push(byte);
            }
        }
        for i in 0..3 {
            let byte = ((size >> (8 * i)) & 0xff) as u8;
            if byte != 0 {
                command |= 1 << (4 + i);
                out.push(byte);
            }
        }
        out[command_at] = command;
        offset += size;
        len -= size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(base: &[u8], delta: &[u8]) -> Vec<u8> {
        super::apply(base, delta).expect("a delta this encoder wrote")
    }

    fn tree(entries: &[(&str, u8)]) -> Vec<u8> {
        let mut raw = Vec::new();
        for (name, id) in entries {
            raw.extend_from_slice(format!("100644 {name}\0").as_bytes());
            raw.extend_from_slice(&[*id; 20]);
        }
        raw
    }

    #[test]
    fn one_changed_tree_entry_costs_little() {
        let names: Vec<String> = (0..40).map(|i| format!("file-{i:02}.rs")).collect();
        let base: Vec<(&str, u8)> = names.iter().map(|n| (n.as_str(), 1)).collect();
        let mut edited = base.clone();
        edited[17].1 = 2;
        let (base, target) = (tree(&base), tree(&edited));
        let delta = encode(&base, &target);
        assert_eq!(apply(&base, &delta), target);
        assert!(delta.len() < 60, "delta of {} bytes", delta.len());
    }

    #[test]
    fn round_trips_insertions_deletions_and_unrelated_content() {
        let base: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut target = base.clone();
        target.splice(100..100, b"inserted text".iter().copied());
        target.drain(3000..3400);
        target.extend_from_slice(&[9; 300]);
        for (base, target) in [
            (&base[..], &target[..]),
            (&target[..], &base[..]),
            (b"", b"all new"),
            (b"old", b""),
            (&base[..10], &base[..]),
            (&[0u8; 200_000][..], &[0u8; 150_000][..]),
        ] {
            assert_eq!(apply(base, &encode(base, target)), target);
        }
    }
}
