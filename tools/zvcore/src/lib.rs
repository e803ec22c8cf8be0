//! zvcore: the one library every zv tool shares.
//!
//! It owns the ZV64 form: its constants ([`form`]), a bounds-checked reader for nexe
//! files written for hostile input ([`nexe`]), the verifier engine that proves code is in
//! the form and is the only constructor of [`verify::VerifiedCode`] ([`verify`]), a small
//! nexe writer used by tests, corpora and benchmarks ([`writer`]), generators of valid
//! and hostile code shared by tests, fuzzers and benchmarks ([`testgen`]), and an
//! independent oracle that re-checks accepted code for tests and fuzzers ([`oracle`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod abi;
pub mod attacks;
mod automaton;
#[cfg(test)]
mod automaton_gen;
pub mod display;
mod fastpath;
pub mod form;
pub mod image;
pub mod manifest;
pub mod names;
pub mod nexe;
mod opcodes;
pub mod oracle;
pub mod output;
pub mod testgen;
pub mod verify;
pub mod writer;

pub use automaton::decode_input_run;
pub use fastpath::{decode_input, InputForm};
pub use form::Rule;
pub use verify::{
    verify_nexe, verify_nexe_cached, verify_nexe_cached_until, verify_nexe_known, verify_nexe_parallel, verify_region,
    verify_region_in_place, verify_region_parallel, verify_region_until, verify_region_with, CacheUse, CodeKey,
    CodeRecord, Decoding, Options, RegionKind, Rejected, VerdictCache, VerifiedCode, VerifiedNexe, Violation,
};

/// Prepares, ahead of time, what the first decode would otherwise prepare while others
/// wait: iced builds its decoder tables on first use (~1 ms, once per process, behind a
/// lock every decoding thread waits on), and the automata's tables (2 MiB) are pages of
/// the program mapped on first touch. zvld calls this on a spare thread while it reads
/// its inputs; calling it is never needed for correctness.
pub fn warm_up() {
    let mut d = iced_x86::Decoder::with_ip(64, &[0x90], 0, iced_x86::DecoderOptions::NONE);
    std::hint::black_box(d.decode());
    std::hint::black_box(automaton::touch_tables());
}
