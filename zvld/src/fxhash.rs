//! A fast hasher for the linker's lookup maps keyed by symbol names and small integers
//! (the global symbol table that every relocation against a global reads, an archive's
//! symbol index): the multiply-rotate hash of rustc's FxHasher, eight bytes a step,
//! instead of std's SipHash, which is built to resist collision attacks from untrusted
//! keys. A linker's keys come from the objects of the user who runs it; a crafted set
//! of names can at worst make its own link slower. Only maps that are looked up, never
//! iterated in an order that reaches the output, use it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// rustc's FxHasher (rustc-hash 1.x): `hash = (hash.rotl(5) ^ word) * K` per word.
#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some((w, rest)) = bytes.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*w));
            bytes = rest;
        }
        if let Some((w, rest)) = bytes.split_first_chunk::<4>() {
            self.add(u64::from(u32::from_le_bytes(*w)));
            bytes = rest;
        }
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_of_names_finds_every_name() {
        let names: Vec<String> = (0..10_000).map(|i| format!("sqlite3_fn_{i}")).collect();
        let mut m: FxHashMap<&str, usize> = FxHashMap::default();
        for (i, n) in names.iter().enumerate() {
            m.insert(n, i);
        }
        assert!(names.iter().enumerate().all(|(i, n)| m.get(n.as_str()) == Some(&i)));
        assert_eq!(m.get("sqlite3_fn_10000"), None);
    }
}
