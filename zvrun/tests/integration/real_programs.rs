//! The real-program checks of issue 5 as a cargo test: runs scripts/check-real-programs,
//! which builds zlib, lz4, zstd, bzip2, lua5.4 and sqlite3 from their Debian source
//! packages natively (gcc -static, same musl) and with zvcc, then requires byte-identical
//! results between the native builds and zvrun (test-corpus/real/check).
//!
//! From a cold cache it takes about 3.5 minutes on 2 cores (Debian source downloads,
//! sqlite's amalgamation, two builds of each program); warm, about 35 seconds. CI runs
//! it (scripts/bootstrap installs tclsh and the sysroot, whose script adds a deb-src
//! entry). Alone: `cargo test -p zvrun --test integration real_programs`.

use std::path::Path;
use std::process::Command;

#[test]
fn real_programs_identical_native_and_zvrun() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let out = Command::new(repo.join("scripts/check-real-programs"))
        .current_dir(repo)
        .output()
        .expect("scripts/check-real-programs runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scripts/check-real-programs failed ({}):\n{stdout}\n{stderr}", out.status);
    // Every check ran: 8 compressor round trips, one line per Lua script and SQL script.
    let lua = std::fs::read_dir(repo.join("test-corpus/real/lua"))
        .expect("lua dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "lua")))
        .count();
    let sql = std::fs::read_dir(repo.join("test-corpus/real/sqlite"))
        .expect("sqlite dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql")))
        .count();
    let want = format!("check: {} passed, 0 failed", 8 + lua + sql);
    assert!(stdout.contains(&want), "expected \"{want}\" in:\n{stdout}");
}
