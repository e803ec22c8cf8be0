//! Engine micro-benchmark: single-thread verification throughput of generated code.
//! The full comparison with objdump and the corpus run live in `cargo bench -p zvverify`.

use std::time::Instant;
use zvcore::{form, testgen, verify_region, Options, RegionKind};

fn main() {
    let size = 64 << 20;
    let code = testgen::valid_code(1, size, form::CODE_START);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let r = verify_region(form::CODE_START, &code, RegionKind::CodeSegment, Options::default());
        assert!(r.is_ok());
        best = best.min(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let n = decode_only(&code);
    println!("iced decode only: {:.1} MB/s", n as f64 / t.elapsed().as_secs_f64() / 1e6);
    let mut best2 = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let r = zvcore::verify_region_parallel(form::CODE_START, &code, RegionKind::CodeSegment, Options::default(), 2);
        assert!(r.is_ok());
        best2 = best2.min(t.elapsed().as_secs_f64());
    }
    println!("zvcore verify_region_parallel, 2 threads: {:.1} MB/s (best of 3)", code.len() as f64 / best2 / 1e6);
    println!(
        "zvcore verify_region: {} MiB in {:.3} s = {:.1} MB/s (best of 3)",
        size >> 20,
        best,
        code.len() as f64 / best / 1e6
    );
}

#[allow(dead_code)]
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
