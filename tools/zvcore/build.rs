//! Build script: derives `ZV_VERIFIER_ID`, an identity of this exact verifier: zvcore's
//! sources, its manifest, the workspace manifest (which sets iced-x86's features) and
//! iced-x86's whole entry in Cargo.lock (version and checksum). Verdict-cache keys include
//! it, so a cached "accepted" from one verifier is never trusted by another, not even by a
//! development build whose sources changed without a version bump. Any input that cannot
//! be read fails the build rather than silently dropping out of the identity.
//!
//! It also writes `names.rs` (see `src/names.rs`): the names of iced-x86's mnemonics,
//! registers and CPUID features as one string and a table of end offsets each, tables
//! without pointers. iced's own `Debug` tables are arrays of `&str`, about 2,500 pointers a
//! position-independent runtime relocates (and copies the pages of) at every start.
//!
//! And `automaton.rs`: the bundle automaton's transition table (`src/automaton.rs`),
//! built by `src/automaton_gen.rs` from the opcode tables in `src/opcodes.rs`.

use std::path::Path;

// The opcode tables and the automaton's builder, shared with the crate (they refer to
// nothing else in it).
#[allow(dead_code)]
#[path = "src/automaton_gen.rs"]
mod automaton_gen;
#[allow(dead_code, unused_imports)]
#[path = "src/opcodes.rs"]
mod opcodes;

fn fnv(seed: u64, bytes: &[u8], mut h: u64) -> u64 {
    h ^= seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("zvcore build.rs: cannot read {}: {e}", p.display()))
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&dir);
    let src = dir.join("src");
    println!("cargo:rerun-if-changed=src");
    let mut files: Vec<_> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("zvcore build.rs: cannot list {}: {e}", src.display()))
        .map(|e| e.expect("zvcore build.rs: directory entry").path())
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("verify.rs")), "zvcore build.rs: no src/verify.rs");
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64);
    let mut feed = |bytes: &[u8]| {
        a = fnv(0x5a56, bytes, a);
        b = fnv(0x7a76, bytes, b);
    };
    for f in &files {
        feed(f.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
        feed(&read(f));
    }
    feed(std::env::var("CARGO_PKG_VERSION").unwrap_or_default().as_bytes());
    for m in [dir.join("Cargo.toml"), dir.join("../../Cargo.toml")] {
        println!("cargo:rerun-if-changed={}", m.display());
        feed(&read(&m));
    }
    // The decoder is part of the verifier: its exact version and checksum.
    let lock = dir.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = String::from_utf8(read(&lock)).expect("zvcore build.rs: Cargo.lock is not UTF-8");
    let entry = text
        .split("[[package]]")
        .find(|p| p.contains("name = \"iced-x86\""))
        .expect("zvcore build.rs: iced-x86 is not in Cargo.lock");
    feed(entry.as_bytes());
    println!("cargo:rustc-env=ZV_VERIFIER_ID={a:016x}{b:016x}");
    write_names();
    write_automaton();
}

/// The automata's tables (`src/automaton.rs` includes them): the verifier's (`NEXT`) and
/// the rewriter's (`INPUT_NEXT`).
fn write_automaton() {
    let mut code = String::new();
    for (input, prefix) in [(false, ""), (true, "INPUT_")] {
        let mut built = automaton_gen::build(input);
        // A power-of-two length, so that a mask keeps every index in bounds without a
        // check (the padding is never reached: every entry names a real state).
        built.next.resize(built.next.len().next_power_of_two(), built.fail);
        // Each entry is the next state's row offset (its number times 256), so that the
        // reader's chain of loads is one add and one load a byte.
        let next: Vec<u32> = built.next.iter().map(|&n| u32::from(n) * 256).collect();
        code += &format!(
            "/// The number of states.\n#[cfg_attr(not(test), allow(dead_code))]\npub(crate) const {prefix}STATES: usize = {};\n\
             /// The absorbing state of bytes that are not a fast form.\n#[cfg_attr(not(test), allow(dead_code))]\n\
             pub(crate) const {prefix}FAIL: u16 = {};\n\
             /// The transitions: `NEXT[state * 256 + byte]` is the next state times 256.\npub(crate) static {prefix}NEXT: [u32; {}] = {:?};\n",
            built.states.len(),
            built.fail,
            next.len(),
            next
        );
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let path = Path::new(&out).join("automaton.rs");
    std::fs::write(&path, code).unwrap_or_else(|e| panic!("zvcore build.rs: cannot write {}: {e}", path.display()));
}

/// One pointer-free name table: `NAME_TEXT` holds every name back to back and
/// `NAME_ENDS[i]` is where the name of value `i` ends.
fn name_table<T: std::fmt::Debug>(prefix: &str, values: impl Iterator<Item = T>, lower: bool) -> String {
    let (mut text, mut ends) = (String::new(), Vec::new());
    for v in values {
        let name = format!("{v:?}");
        text.push_str(&if lower { name.to_ascii_lowercase() } else { name });
        ends.push(u16::try_from(text.len()).expect("zvcore build.rs: name table larger than 64 KiB"));
    }
    format!(
        "pub(crate) static {prefix}_TEXT: &str = {text:?};\npub(crate) static {prefix}_ENDS: [u16; {}] = {ends:?};\n",
        ends.len()
    )
}

fn write_names() {
    use iced_x86::{CpuidFeature, Mnemonic, Register};
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let code = [
        name_table("MNEMONIC", Mnemonic::values(), true),
        name_table("REGISTER", Register::values(), true),
        name_table("CPUID_FEATURE", CpuidFeature::values(), false),
    ]
    .concat();
    let path = Path::new(&out).join("names.rs");
    std::fs::write(&path, code).unwrap_or_else(|e| panic!("zvcore build.rs: cannot write {}: {e}", path.display()));
}
