//! The harness of zrt's integration tests: where the sysroot, the workspace's binaries
//! and the test programs (test-corpus/c/zrt) are, building a program both natively (gcc
//! against the same musl, `-static`) and with zvcc, running commands, and readable
//! expected-versus-got failures.
//!
//! zrt itself is C (tools/zrt/*.c, built into the sysroot by scripts/build-sysroot); this
//! crate only tests it from outside, through zvcc, zvpack and zvrun. Tests that need the
//! sysroot fail (never skip) with a message saying to run scripts/build-sysroot.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// The musl + zrt sysroot; panics with what to do when it is missing.
pub fn sysroot() -> PathBuf {
    let p = std::env::var_os("ZV_SYSROOT").map_or_else(|| repo().join("target/zv-sysroot"), PathBuf::from);
    assert!(
        p.join("lib/libc.a").is_file() && p.join("lib/libzrt.a").is_file(),
        "the musl + zrt sysroot is missing at {}: run scripts/build-sysroot",
        p.display()
    );
    // The sysroot's zrt must be the one in the tree: scripts/build-sysroot touches its
    // stamp whenever it finds (or makes) libzrt.a up to date, so a source edited later
    // means these tests would run the old library.
    if let Ok(stamp) = std::fs::metadata(p.join(".zrt-stamp")).and_then(|m| m.modified()) {
        let zrt = repo().join("tools/zrt");
        for e in std::fs::read_dir(&zrt).expect("tools/zrt").flatten() {
            let path = e.path();
            let source = path.extension().is_some_and(|x| x == "c" || x == "h" || x == "S");
            if source && e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t > stamp) {
                panic!("{} changed after the sysroot's libzrt.a was built: run scripts/build-sysroot", path.display());
            }
        }
    }
    p
}

/// A workspace binary (zvcc, zvrun, zvpack) built next to the running test executable.
pub fn tool(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/integration-<hash> -> target/<profile>/<name>
    let p = exe.parent().and_then(Path::parent).expect("target directory").join(name);
    assert!(
        p.is_file(),
        "{} is not built; run `cargo build --workspace` (cargo test --workspace builds it)",
        p.display()
    );
    p
}

/// A file of the zrt test corpus.
pub fn corpus(file: &str) -> PathBuf {
    repo().join("test-corpus/c/zrt").join(file)
}

/// A program built twice from test-corpus/c/zrt/NAME.c.
pub struct Built {
    /// Built by zvcc (verified by zvld while linking).
    pub nexe: PathBuf,
    /// Built by gcc against the same musl, static, for the host.
    pub native: PathBuf,
}

/// Builds test-corpus/c/zrt/NAME.c with zvcc and natively into dir.
pub fn build(dir: &Path, name: &str) -> Built {
    let src = corpus(&format!("{name}.c"));
    let nexe = dir.join(format!("{name}.nexe"));
    let native = dir.join(format!("{name}.native"));
    let mut c = Command::new(tool("zvcc"));
    c.env("ZV_SYSROOT", sysroot()).arg("-O2").arg(&src).arg("-o").arg(&nexe);
    run_ok(c, &format!("zvcc {name}.c"));
    let mut g = Command::new("gcc");
    g.arg("-specs")
        .arg(sysroot().join("lib/musl-gcc.specs"))
        .arg("-O2")
        .arg("-static")
        .arg(&src)
        .arg("-o")
        .arg(&native);
    run_ok(g, &format!("native gcc {name}.c"));
    Built { nexe, native }
}

/// The 100000 bytes of data/input.bin: a fixed pseudo-random sequence (an LCG).
pub fn input_bytes() -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..100_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

/// What the programs read from stdin.
pub const STDIN: &[u8] = b"line one\nline two\n";

/// Runs a command with `stdin` written to a pipe on its standard input; returns the output.
pub fn run_with_stdin(mut c: Command, stdin: &[u8], what: &str) -> Output {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("{what}: cannot run {c:?}: {e}"));
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin pipe");
        // A program that does not read its input may exit before it is written (a broken
        // pipe); that is its business, and its output and status are what is checked.
        match input.write_all(stdin) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("{what}: writing stdin: {e}"),
            _ => {}
        }
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Panics with the command's output unless it exited with status 0.
pub fn check_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs a command with an empty stdin pipe; panics with its output when it fails.
pub fn run_ok(c: Command, what: &str) -> Output {
    let o = run_with_stdin(c, b"", what);
    check_ok(&o, what);
    o
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

/// The committed expected output test-corpus/c/zrt/NAME.expected, produced by the native
/// build; with `ZRT_BLESS=1` in the environment it is rewritten from `native` first.
pub fn expected(name: &str, native: &str) -> String {
    let path = corpus(&format!("{name}.expected"));
    if std::env::var_os("ZRT_BLESS").is_some() {
        std::fs::write(&path, native).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (regenerate from the native build with ZRT_BLESS=1)", path.display()))
}
