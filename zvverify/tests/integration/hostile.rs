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
