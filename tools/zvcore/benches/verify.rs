//! Engine micro-benchmark: single-thread verification throughput, with the fast path
//! (the default) and with iced alone, side by side in the same run, on generated code
//! and on real compiler output when one is at hand (the sqlite3 nexe that
//! `scripts/build-real-programs sqlite3` leaves in target/zv-real, or `ZV_BENCH_NEXE`).
//! The full comparison with objdump and the corpus run live in `cargo bench -p zvverify`.

use std::time::Instant;
use zvcore::{form, testgen, verify_region_with, Decoding, Options, RegionKind};

/// Best of `runs` single-thread verifications of `code`, in MB/s.
fn rate(base: u64, code: &[u8], decoding: Decoding, threads: usize, runs: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let r = verify_region_with(base, code, RegionKind::CodeSegment, Options::default(), threads, decoding);
        assert!(r.is_ok());
        best = best.min(t.elapsed().as_secs_f64());
    }
    code.len() as f64 / best / 1e6
}

fn compare(what: &str, base: u64, code: &[u8], runs: usize) {
    let fast = rate(base, code, Decoding::Fast, 1, runs);
    let iced = rate(base, code, Decoding::IcedOnly, 1, runs);
    println!(
        "{what} ({:.1} MiB): fast path {fast:.1} MB/s, iced only {iced:.1} MB/s, {:.2}x (1 thread, best of {runs})",
        code.len() as f64 / (1 << 20) as f64,
        fast / iced
    );
}

fn main() {
    let size = 64 << 20;
    let code = testgen::valid_code(1, size, form::CODE_START);
    compare("generated code", form::CODE_START, &code, 3);
    let two = rate(form::CODE_START, &code, Decoding::Fast, 2, 3);
    println!("generated code, 2 threads, fast path: {two:.1} MB/s");
    let t = Instant::now();
    let n = decode_only(&code);
    println!("iced decode only (no checks): {:.1} MB/s", n as f64 / t.elapsed().as_secs_f64() / 1e6);

    let real = std::env::var("ZV_BENCH_NEXE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/zv-real/out/zv/sqlite-driver.nexe").to_string()
    });
    match std::fs::read(&real) {
        Ok(data) => match zvcore::nexe::Nexe::parse(&data) {
            Ok(n) => match n.code_segment() {
                Some(seg) => compare(&format!("real code, {real}"), seg.vaddr, n.segment_bytes(&seg), 20),
                None => println!("{real}: no code segment"),
            },
            Err(e) => println!("{real}: {e}"),
        },
        Err(_) => println!("(no real nexe at {real}: run scripts/build-real-programs sqlite3 for that row)"),
    }
}

fn decode_only(code: &[u8]) -> usize {
    let mut d = iced_x86::Decoder::with_ip(64, code, form::CODE_START, 0);
    let mut i = iced_x86::Instruction::default();
    let mut n = 0;
    while d.can_decode() {
        d.decode_out(&mut i);
        n += i.len();
    }
    n
}
