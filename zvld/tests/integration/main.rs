//! zvld's integration tests: one test binary, one module per area.
//!
//! - [`clang`]: clang's objects (without -ffixed-r11) linked, verified and run as natively;
//! - [`corpus`]: every C program in test-corpus/c built with zvcc, verified in-process
//!   with zvcore, its native build (gcc -static against the same musl) checked against
//!   the committed expected output, and the nexe run under zvrun with the same output;
//! - [`errors`]: the link errors users meet, each naming object, section, function and
//!   offset (or symbol) and saying what to do;
//! - [`debug`]: `addr2line` on a rewritten nexe finds the right source lines;
//! - [`rewrites`]: each row of the rewrite table appears in a linked nexe;
//! - [`tls`]: general- and local-dynamic TLS from `-fPIC` code, relaxed to local-exec;
//! - [`ehdr`]: `__ehdr_start` reads the nexe's own ELF and program headers;
//! - [`linking`]: TOOLCHAIN.md's *Linking* paragraph promise by promise (archives, weak,
//!   common, COMDAT, arrays, TLS, linker symbols, relocations, errors, layout, bad inputs);
//! - [`zvcc`]: the driver as build systems probe it (`-v`, `-dumpmachine`, `-###`,
//!   conftest builds), sources from stdin, per-source `-x`, one-step `-MD` files,
//!   response files, `-fsyntax-only`.
//!
//! Tests that need the musl + zrt sysroot fail (never skip) with a message saying to run
//! scripts/build-sysroot.

mod clang;
mod common;
mod corpus;
mod debug;
mod ehdr;
mod errors;
mod fuzz_replay;
mod linking;
mod rewrites;
mod tls;
mod zvcc;
