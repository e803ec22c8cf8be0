//! Hostile inputs through the whole binary: truncated and mutated files, garbage with an
//! ELF magic, huge declared sizes. zvverify must report, never panic or hang.

use crate::{json_report, no_panic, run};

#[test]
fn mutated_and_truncated_files_are_reported_not_crashed() {
    let t = tempfile::tempdir().expect("tmp");
    let base = zvcore::testgen::valid_nexe(3, 8192);
    let mut rng = zvcore::testgen::Rng::new(42);
    let mut n = 0;
    for i in 0..150 {
        let mut f = base.clone();
        match i % 3 {
            0 => f.truncate(rng.below(f.len() as u64) as usize),
            1 => {
                // Corrupt the headers (first 512 bytes) heavily.
                for _ in 0..8 {
                    let at = rng.below(512) as usize;
                    f[at] = rng.byte();
                }
            }
            _ => {
                for _ in 0..64 {
                    let at = rng.below(f.len() as u64) as usize;
                    f[at] = rng.byte();
                }
            }
        }
        std::fs::write(t.path().join(format!("m{i:03}.nexe")), &f).expect("write");
        n += 1;
    }
    // ELF magic followed by garbage, and a header claiming enormous tables.
    let mut g = b"\x7fELF\x02\x01\x01".to_vec();
    g.resize(64, 0xFF);
    std::fs::write(t.path().join("garbage.nexe"), &g).expect("write");
    let mut h = base.clone();
    h[56] = 0xFF; // e_phnum
    h[57] = 0xFF;
    h[32..40].copy_from_slice(&u64::MAX.to_le_bytes()); // e_phoff
    std::fs::write(t.path().join("huge.nexe"), &h).expect("write");
    n += 2;
    let out = run(&["--format", "json", "--quiet", t.path().to_str().expect("utf8")]);
    no_panic(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "status {:?}", out.status);
    let r = json_report(&out);
    let files =
        r["files"].as_array().expect("files").len() + r["totals"]["skipped"].as_u64().expect("skipped") as usize;
    assert_eq!(files, n);
    assert!(r["totals"]["failed"].as_u64().expect("failed") > 100);
}

/// Runs zvverify with one thread under a 1 GiB address-space limit (`ulimit -v`), so a
/// run that reads a multi-GiB file into memory fails instead of passing.
#[cfg(unix)]
fn run_in_1gib(args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" -j 1 \"$@\"")
        .arg(env!("CARGO_BIN_EXE_zvverify"))
        .args(args)
        .output()
        .expect("sh runs")
}

/// A sparse file of `len` bytes starting with `head`.
fn sparse(path: &std::path::Path, head: &[u8], len: u64) {
    let f = std::fs::File::create(path).expect("create");
    std::io::Write::write_all(&mut &f, head).expect("write");
    f.set_len(len).expect("set_len");
}

/// Regression: zvverify read the whole file before looking at its header, so a 3 GiB
/// sparse file of garbage cost 3 GB of memory. The header is read first: garbage is
/// decided from it, a nexe is verified from its loaded prefix (headers and segments),
/// and nothing here needs more than a few MB.
#[cfg(unix)]
#[test]
fn regress_huge_files_are_verified_in_bounded_memory() {
    const HUGE: u64 = 3 << 30;
    let t = tempfile::tempdir().expect("tmp");
    let dir = t.path().join("tree");
    std::fs::create_dir(&dir).expect("mkdir");
    let s = |p: &std::path::Path| p.to_str().expect("utf8").to_string();
    // Bad ELF header (ELFCLASS32), no ELF magic at all, headers pointing past the end.
    let bad_class = t.path().join("bad-class.nexe");
    sparse(&bad_class, b"\x7fELF\x01\x01\x01", HUGE);
    let no_magic = t.path().join("zeros.nexe");
    sparse(&no_magic, b"", HUGE);
    sparse(&dir.join("zeros.bin"), b"", HUGE);
    let mut outside = zvcore::testgen::valid_nexe(1, 4096);
    outside[32..40].copy_from_slice(&(HUGE + 4096).to_le_bytes()); // e_phoff past the end
    let outside_p = t.path().join("outside.nexe");
    sparse(&outside_p, &outside, HUGE);
    // A valid nexe followed by 3 GiB of other bytes (as if debug info) still passes, and
    // a failing one is still located.
    let valid = t.path().join("valid.nexe");
    sparse(&valid, &zvcore::testgen::valid_nexe(2, 8192), HUGE);
    let bad = t.path().join("syscall.nexe");
    sparse(&bad, &zvcore::attacks::bytes_nexe(&[0x0F, 0x05]), HUGE);
    let args = ["--format", "json", "--quiet"];
    let report = |p: &str| {
        let out = run_in_1gib(&[&args[..], &[p]].concat());
        no_panic(&out);
        (out.status.code(), json_report(&out))
    };
    for (p, want) in [(&bad_class, "not ELFCLASS64"), (&no_magic, "missing ELF magic"), (&outside_p, "outside")] {
        let (code, r) = report(&s(p));
        assert_eq!(code, Some(1), "{}: {r}", p.display());
        let v = &r["files"][0]["violations"][0];
        assert_eq!(v["rule"], "ELF", "{}", p.display());
        assert!(v["message"].as_str().expect("message").contains(want), "{}: {v}", p.display());
    }
    let (code, r) = report(&s(&valid));
    assert_eq!(code, Some(0), "{r}");
    let (code, r) = report(&s(&bad));
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(r["files"][0]["violations"][0]["rule"], "C3");
    let (code, r) = report(&s(&dir));
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["totals"]["skipped"], 1);
}
