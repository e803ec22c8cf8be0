//! Fuzz target: daemon mode's wire format, the requests a forked session reads from a
//! client and the responses a client reads (`zvrun::daemon::exercise_wire`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zvrun::daemon::exercise_wire(data));
