//! Hash maps and sets keyed by object id, with a hasher that takes an id's leading bytes as
//! they are: ids are already uniformly distributed, so SipHash over all twenty bytes only
//! costs time (the rewrite does hundreds of thousands of lookups).

use git2::Oid;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

/// Hashes an object id by its leading bytes.
#[derive(Default, Clone, Copy)]
pub struct OidHasher(u64);

impl std::hash::Hasher for OidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
    }
}

pub type OidMap<V> = HashMap<Oid, V, BuildHasherDefault<OidHasher>>;
pub type OidSet = HashSet<Oid, BuildHasherDefault<OidHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_maps_keep_ids_apart() {
        let ids: Vec<Oid> = (0..1000u32)
            .map(|i| {
                let mut bytes = [0u8; 20];
                bytes[16..].copy_from_slice(&i.to_be_bytes());
                Oid::from_bytes(&bytes).expect("20 bytes")
            })
            .collect();
        let set: OidSet = ids.iter().copied().collect();
        assert_eq!(set.len(), ids.len());
        let map: OidMap<usize> = ids.iter().enumerate().map(|(i, o)| (*o, i)).collect();
        assert!(ids.iter().enumerate().all(|(i, o)| map[o] == i));
    }
}
