//! The bodies of zvld's fuzz targets (`fuzz/fuzz_targets/link.rs`), shared with the
//! corpus replay test (`zvld/tests/integration/fuzz_replay.rs`), so every corpus file
//! runs in CI exactly the calls it ran under the fuzzer.
//!
//! The property: whatever bytes an object file holds, zvld either links them into a
//! nexe that zvcore's verifier accepts, or fails with an error that says something and
//! writes nothing; it never panics or hangs.

use std::path::PathBuf;

/// A private output path for this process and thread (in one shared directory, so that
/// runs leave no directories behind; each output is removed after its check).
fn output() -> PathBuf {
    let dir = std::env::temp_dir().join("zvld-fuzz");
    let _ = std::fs::create_dir_all(&dir);
    let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_digit(), "");
    dir.join(format!("{}-{thread}.nexe", std::process::id()))
}

/// Links `data` as the only input object (entry `_start`), then checks the outcome as
/// described above. Panics when the property does not hold.
pub fn exercise_object(data: &[u8]) {
    let out = output();
    let _ = std::fs::remove_file(&out);
    let cfg = crate::Config { output: out.clone(), ..Default::default() };
    match crate::link_bytes(&cfg, &[("fuzz.o".to_string(), data)]) {
        Ok(_) => {
            let bytes = std::fs::read(&out).expect("a successful link writes its output");
            let _ = std::fs::remove_file(&out);
            if let Err(rej) = zvcore::verify_nexe(&bytes, zvcore::Options { max_violations: 5 }) {
                panic!("zvld wrote a nexe the verifier rejects: {:?}", rej.violations);
            }
        }
        Err(e) => {
            assert!(!e.to_string().trim().is_empty(), "an error without a message");
            assert!(!out.exists(), "a failed link wrote its output");
        }
    }
}
