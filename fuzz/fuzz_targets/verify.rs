//! Fuzz target `verify`: arbitrary bytes as a code region at CODE_START, verified as a
//! code segment, as a Jail region, and as a code segment padded with the HLT sled; every
//! accepted region is re-checked by the independent oracle (no `syscall`, `sysenter`,
//! `int`, `cpuid`, `rdtsc`, ...). The body is `zvcore::oracle::exercise_region`, which the
//! corpus replay test (`tools/zvcore/tests/integration/fuzz_replay.rs`) calls too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zvcore::oracle::exercise_region(data);
});
