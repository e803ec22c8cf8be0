//! zrt's integration tests: programs from test-corpus/c/zrt built natively and with zvcc,
//! run on the host and under zvrun, one module per area.
//!
//! - [`files`]: stdio and raw file calls on a random-read input (a host file channel, and
//!   a data file of an image), a sequential output channel and stdin, byte-identical to
//!   the native build;
//! - [`memory`]: musl's allocator over zrt's heap arena (reuse, mremap, MAP_FIXED,
//!   MADV_DONTNEED) in a small memory limit, identical to native;
//! - [`session`]: what a guest sees of its session: the manifest's fixed time, seeded
//!   getrandom, uname, getcwd, -ENOSYS, ESPIPE, ENOTTY, EACCES, stat of channels;
//! - [`pipes`]: pipes inside the guest, poll and select, identical to native where Linux
//!   answers at once; zrt's answers where Linux would block; SIGPIPE; one CPU;
//! - [`daemon`]: daemon mode through zvm_fork (stdio written out once, before Fork);
//! - [`determinism`]: two runs with the same inputs give identical outputs and etags.

mod daemon;
mod determinism;
mod files;
mod memory;
mod pipes;
mod session;
