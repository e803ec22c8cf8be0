//! zvrun's integration tests: real guest programs (form-1 assembly in
//! test-corpus/asm/rt, assembled and linked by GNU as and ld), run by the real zvrun
//! binary in real processes, with real files, pipes, FIFOs and signals.

mod cache;
mod calls;
mod channels;
mod conformance;
mod daemon;
mod faults;
mod images;
mod manifest;
mod memory;
mod real_programs;
mod reports;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Builds (once per test run) every program in test-corpus/asm/rt; returns its nexe.
pub fn program(name: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let src = repo().join("test-corpus/asm/rt");
        for ent in std::fs::read_dir(&src).expect("rt dir") {
            let p = ent.expect("entry").path();
            if p.extension().is_some_and(|e| e == "S") {
                let stem = p.file_stem().expect("stem").to_string_lossy().to_string();
                let obj = dir.path().join(format!("{stem}.o"));
                let st = Command::new("gcc").arg("-c").arg(&p).arg("-o").arg(&obj).status().expect("gcc runs");
                assert!(st.success(), "assembling {stem}.S");
                let st = Command::new("ld")
                    .arg("-T")
                    .arg(repo().join("test-corpus/asm/nexe.ld"))
                    .arg("-o")
                    .arg(dir.path().join(format!("{stem}.nexe")))
                    .arg(&obj)
                    .status()
                    .expect("ld runs");
                assert!(st.success(), "linking {stem}");
            }
        }
        dir
    });
    let p = dir.path().join(format!("{name}.nexe"));
    assert!(p.exists(), "no program {name}");
    p
}

/// A zvrun command.
pub fn zvrun() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zvrun"))
}

/// Runs zvrun with `args` and `stdin` bytes.
pub fn run_with(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = zvrun()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zvrun");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "zvrun panicked:\n{err}");
    out
}

/// Runs zvrun with `args` and empty stdin.
pub fn run(args: &[&str]) -> Output {
    run_with(args, b"")
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// The JSON report written with --report json --report-file.
pub fn json_report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("report is JSON")
}

/// Sends `sig` (a `kill` signal name) to a running zvrun, with the shell's built-in kill
/// (no procps needed).
pub fn signal(child: &std::process::Child, sig: &str) {
    let st = Command::new("sh").args(["-c", "kill -s \"$1\" \"$2\"", "sh", sig, &child.id().to_string()]).status();
    assert!(st.expect("sh runs").success(), "kill -s {sig}");
}

/// Waits for `child`; kills it and fails the test with `what` if it is still running
/// after `secs` seconds (a guard against a hang, not a timing assertion).
pub fn wait_or_fail(mut child: std::process::Child, secs: u64, what: &str) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("{what}: still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
