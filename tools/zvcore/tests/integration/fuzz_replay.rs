//! Replays every file of `fuzz/corpus/nexe` and `fuzz/corpus/verify` through
//! `zvcore::oracle::exercise_nexe` and `exercise_region`, the bodies of the `nexe` and
//! `verify` fuzz targets, so each corpus file runs exactly the calls it ran under the
//! fuzzer. A panic in the code under test or a broken oracle fails the test and names
//! the file. The seeds written by the `gen_fuzz_seeds` example are also checked against
//! what they are: `seed-attack-*` nexes must be rejected, `seed-valid-*` ones accepted.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use zvcore::oracle::{exercise_image, exercise_manifests, exercise_nexe, exercise_region};
use zvcore::{verify_nexe, Options};

/// The files of one corpus directory, sorted, without dotfiles (libFuzzer's temporaries).
fn corpus(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(name);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read the fuzz corpus {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the fuzz corpus {} is empty", dir.display());
    files
}

/// Runs `f` on every file of corpus `name`, collecting panics so that all failing files
/// are named at once.
fn replay(name: &str, f: fn(&[u8])) -> usize {
    let files = corpus(name);
    let mut failed = Vec::new();
    for p in &files {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        if catch_unwind(AssertUnwindSafe(|| f(&data))).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} files of fuzz/corpus/{name} fail (panic or broken oracle):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    files.len()
}

#[test]
fn nexe_corpus_replays_cleanly() {
    let n = replay("nexe", exercise_nexe);
    assert!(n > 0);
}

#[test]
fn verify_corpus_replays_cleanly() {
    let n = replay("verify", exercise_region);
    assert!(n > 0);
}

#[test]
fn nexe_seeds_are_what_their_names_say() {
    let mut attacks = 0;
    let mut valid = 0;
    for p in corpus("nexe") {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        let ok = verify_nexe(&data, Options::default()).is_ok();
        if name.starts_with("seed-attack-") {
            attacks += 1;
            assert!(!ok, "{name} is an attack seed but the verifier accepts it");
        } else if name.starts_with("seed-valid-") {
            valid += 1;
            assert!(ok, "{name} is a valid seed but the verifier rejects it");
        }
    }
    assert!(attacks > 0, "no attack seeds in fuzz/corpus/nexe");
    assert!(valid > 0, "no valid seeds in fuzz/corpus/nexe");
}

#[test]
fn manifest_corpus_replays_cleanly() {
    assert!(replay("manifest", exercise_manifests) > 0);
}

#[test]
fn image_corpus_replays_cleanly() {
    assert!(replay("image", exercise_image) > 0);
}
