//! Fuzz target: the ZeroVM text manifest parser and the image manifest parser
//! (`zvcore::oracle::exercise_manifests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zvcore::oracle::exercise_manifests(data));
