//! zvcore's integration tests, in one test binary so they link once.
//!
//! - [`fuzz_replay`]: replays the committed fuzz corpora (`fuzz/corpus/{nexe,verify}`)
//!   through the exact calls the fuzz targets make, so every input the fuzzers kept is a
//!   regression test on stable `cargo test`, without cargo-fuzz or nightly.
//! - [`props`]: proptest properties of the verifier on random and mutated inputs: it never
//!   panics, whatever it accepts passes the independent oracle (`zvcore::oracle`), and
//!   forbidden instructions planted in valid code are rejected with the right rule.
//! - [`memory`]: what verifying hostile code costs in memory (a counting allocator).

mod fuzz_replay;
mod memory;
mod props;
