//! zvverify's integration tests: run the real binary on real files (the attack corpus,
//! generated valid nexes, GNU as/ld-built programs with DWARF) and check verdicts,
//! reports, shards, exit statuses and robustness.

mod attacks;
mod cli;
mod dwarf;
mod hostile;
mod images;
mod names;
mod shards;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The zvverify binary under test.
pub fn zvverify() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zvverify"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Runs zvverify with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    zvverify().args(args).output().expect("zvverify runs")
}

/// Parses stdout as a JSON report.
pub fn json_report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)))
}

/// Asserts no panic message reached stderr.
pub fn no_panic(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "zvverify panicked:\n{err}");
}

/// Writes `n` valid generated nexes (and one text file) into `dir`.
pub fn valid_tree(dir: &Path, n: u64) {
    std::fs::create_dir_all(dir.join("sub/deeper")).expect("mkdir");
    for i in 0..n {
        let sub = match i % 3 {
            0 => dir.to_path_buf(),
            1 => dir.join("sub"),
            _ => dir.join("sub/deeper"),
        };
        std::fs::write(sub.join(format!("p{i:03}.nexe")), zvcore::testgen::valid_nexe(i, 4096 + 512 * i as usize))
            .expect("write");
    }
    std::fs::write(dir.join("README.txt"), "not a nexe\n").expect("write");
}
