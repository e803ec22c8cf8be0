//! Fuzz target `link`: arbitrary bytes as the one object file of a zvld link. The body
//! is `zvld::fuzzing::exercise_object`, which the corpus replay test
//! (`zvld/tests/integration/fuzz_replay.rs`) calls too: the link succeeds with an output
//! the verifier accepts, or fails with a message and no output; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zvld::fuzzing::exercise_object(data);
});
