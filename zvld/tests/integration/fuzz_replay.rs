//! Replays every file of `fuzz/corpus/link` through `zvld::fuzzing::exercise_object`,
//! the body of the `link` fuzz target: each corpus file links into a nexe the verifier
//! accepts or fails with a message and no output, and never panics. All failing files
//! are named at once.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::common::repo;

#[test]
fn link_corpus_replays_cleanly() {
    let dir = repo().join("fuzz/corpus/link");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the fuzz corpus {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the link corpus has its seeds");
    let mut failed = Vec::new();
    let mut linked = 0;
    for p in &files {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        match catch_unwind(AssertUnwindSafe(|| zvld::fuzzing::exercise_object(&data))) {
            Ok(()) => {}
            Err(_) => failed.push(p.display().to_string()),
        }
        // The seeds from test-corpus/asm/rt are complete programs: they must link.
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("seed-asm-") && name != "seed-asm-tls.o" {
            let out = tempfile::tempdir().unwrap();
            let cfg = zvld::Config { output: out.path().join("x.nexe"), ..Default::default() };
            let r = zvld::link_bytes(&cfg, &[(name.to_string(), &data)]);
            assert!(r.is_ok(), "{name} does not link: {}", r.err().map(|e| e.to_string()).unwrap_or_default());
            linked += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} files of fuzz/corpus/link fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    assert!(linked >= 8, "the seed programs were linked");
}
