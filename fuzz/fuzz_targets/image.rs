//! Fuzz target: the image (tar) reader (`zvcore::oracle::exercise_image`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zvcore::oracle::exercise_image(data));
