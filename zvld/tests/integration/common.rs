//! Helpers shared by the integration tests: the sysroot, temporary directories, running
//! zvcc and gcc, and readable expected-versus-got failures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

/// The sysroot built by scripts/build-sysroot; panics with what to do when it is missing.
pub fn sysroot() -> PathBuf {
    let p = std::env::var_os("ZV_SYSROOT").map_or_else(|| repo().join("target/zv-sysroot"), PathBuf::from);
    assert!(
        p.join("lib/libc.a").is_file() && p.join("lib/libzrt.a").is_file(),
        "the musl + zrt sysroot is missing at {}: run scripts/build-sysroot (CI runs it from scripts/bootstrap)",
        p.display()
    );
    p
}

/// The zvcc binary of this crate.
pub fn zvcc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zvcc"));
    c.env("ZV_SYSROOT", sysroot());
    c
}

/// The zvld binary of this crate.
pub fn zvld() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zvld"))
}

/// A binary of another workspace crate built next to this crate's binaries.
pub fn sibling_binary(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_zvcc")).with_file_name(name);
    assert!(
        p.is_file(),
        "{} is not built; run `cargo build -p {name}` (cargo test --workspace builds it)",
        p.display()
    );
    p
}

/// gcc compiling natively against the same musl (the musl-gcc specs file).
pub fn native_gcc() -> Command {
    let mut c = Command::new("gcc");
    c.arg("-specs").arg(sysroot().join("lib/musl-gcc.specs"));
    c
}

/// What `program arg` prints (trimmed), e.g. gcc's `-print-libgcc-file-name`; panics with
/// its output when it fails.
pub fn tool_says(program: &str, arg: &str) -> String {
    let mut c = Command::new(program);
    c.arg(arg);
    String::from_utf8_lossy(&run_ok(c, &format!("{program} {arg}")).stdout).trim().to_string()
}

/// Runs a command, panicking with its output when it fails.
pub fn run_ok(mut c: Command, what: &str) -> Output {
    let o = c.output().unwrap_or_else(|e| panic!("{what}: cannot run {c:?}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs a command that must fail; returns its stderr.
pub fn run_err(mut c: Command, what: &str) -> String {
    let o = c.output().unwrap_or_else(|e| panic!("{what}: cannot run {c:?}: {e}"));
    assert!(!o.status.success(), "{what} unexpectedly succeeded:\n{}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A readable comparison of expected and actual text.
pub fn assert_same_text(what: &str, expected: &str, got: &str) {
    if expected == got {
        return;
    }
    let mut msg = format!("{what}: output differs\n");
    for (i, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        if e != g {
            msg.push_str(&format!("first difference at line {}:\n  expected: {e}\n  got:      {g}\n", i + 1));
            break;
        }
    }
    msg.push_str(&format!(
        "expected {} lines, got {} lines\n--- expected\n{expected}\n--- got\n{got}",
        expected.lines().count(),
        got.lines().count()
    ));
    panic!("{msg}");
}

/// Verifies a nexe with zvcore in-process; returns the code size.
pub fn verify(path: &Path) -> usize {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    match zvcore::verify_nexe(&data, zvcore::Options::default()) {
        Ok(v) => v.code.len(),
        Err(r) => panic!(
            "{} fails verification:\n{}",
            path.display(),
            r.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n")
        ),
    }
}

/// Little-endian fields of a file's bytes at offset `o`.
pub fn u16_at(b: &[u8], o: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[o], b[o + 1]]))
}
/// See [`u16_at`].
pub fn u32_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[o..o + 4].try_into().unwrap()))
}
/// See [`u16_at`].
pub fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
