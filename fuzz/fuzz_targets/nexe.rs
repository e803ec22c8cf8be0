//! Fuzz target `nexe`: arbitrary bytes as a nexe file. Parses it, reads its symbols,
//! sections and `.debug_line`, verifies the whole file, and checks accepted code with the
//! independent oracle. The body is `zvcore::oracle::exercise_nexe`, which the corpus
//! replay test (`tools/zvcore/tests/integration/fuzz_replay.rs`) calls too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zvcore::oracle::exercise_nexe(data);
});
