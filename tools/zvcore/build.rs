//! Build script: derives `ZV_VERIFIER_ID`, an identity of this exact verifier (its
//! sources, the crate version and the iced-x86 version in Cargo.lock). Verdict-cache keys
//! include it, so a cached "accepted" from one verifier is never trusted by another, not
//! even by a development build whose sources changed without a version bump.

use std::path::Path;

fn fnv(seed: u64, bytes: &[u8], mut h: u64) -> u64 {
    h ^= seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let src = Path::new(&dir).join("src");
    println!("cargo:rerun-if-changed=src");
    let mut files: Vec<_> =
        std::fs::read_dir(&src).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.sort();
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64);
    let mut feed = |bytes: &[u8]| {
        a = fnv(0x5a56, bytes, a);
        b = fnv(0x7a76, bytes, b);
    };
    for f in &files {
        feed(f.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
        feed(&std::fs::read(f).unwrap_or_default());
    }
    feed(std::env::var("CARGO_PKG_VERSION").unwrap_or_default().as_bytes());
    // The decoder is part of the verifier: its exact version too.
    let lock = Path::new(&dir).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    if let Ok(text) = std::fs::read_to_string(&lock) {
        if let Some(i) = text.find("name = \"iced-x86\"") {
            feed(text[i..].lines().nth(1).unwrap_or_default().as_bytes());
        }
    }
    println!("cargo:rustc-env=ZV_VERIFIER_ID={a:016x}{b:016x}");
}
