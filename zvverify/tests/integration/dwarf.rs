//! Programs assembled and linked by real GNU as and ld (test-corpus/asm): the valid one
//! passes, and violations in the other are located by symbol and DWARF source line.

use std::path::Path;
use std::process::Command;

use crate::{json_report, repo, run};

fn build(dir: &Path, name: &str) -> std::path::PathBuf {
    let asm = repo().join("test-corpus/asm");
    let obj = dir.join(format!("{name}.o"));
    let nexe = dir.join(format!("{name}.nexe"));
    let st = Command::new("gcc")
        .args(["-g", "-c", "-o"])
        .arg(&obj)
        .arg(asm.join(format!("{name}.S")))
        .status()
        .expect("gcc runs (install gcc and binutils)");
    assert!(st.success(), "assembling {name}.S");
    let st =
        Command::new("ld").arg("-T").arg(asm.join("nexe.ld")).arg("-o").arg(&nexe).arg(&obj).status().expect("ld runs");
    assert!(st.success(), "linking {name}");
    nexe
}

#[test]
fn gnu_built_valid_program_passes() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = build(t.path(), "good");
    let out = run(&[nexe.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn violations_are_located_by_symbol_and_source_line() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = build(t.path(), "bad");
    let out = run(&["--format", "json", nexe.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let r = json_report(&out);
    let v = r["files"][0]["violations"].as_array().expect("violations");
    let got: Vec<(String, String, String)> = v
        .iter()
        .map(|v| {
            (
                v["rule"].as_str().expect("rule").to_string(),
                v["symbol"].as_str().unwrap_or("").to_string(),
                v["source"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("C3".into(), "_start+0x3".into(), "bad.S:12".into()),
            ("C5".into(), "_start+0x5".into(), "bad.S:13".into()),
            ("C9".into(), "_start+0x8".into(), "bad.S:14".into()),
        ]
    );
    assert_eq!(v[0]["instruction"], "syscall");
    assert_eq!(v[1]["instruction"], "mov (%rax),%rax");
    // SARIF points at the source line.
    let s = json_report(&run(&["--format", "sarif", nexe.to_str().expect("utf8")]));
    let loc = &s["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert!(loc["artifactLocation"]["uri"].as_str().expect("uri").ends_with("bad.S"));
    assert_eq!(loc["region"]["startLine"], 12);
}
