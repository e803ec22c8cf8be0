//! What verification costs in memory, measured by a counting allocator (this binary's
//! global allocator) on the verifying thread: verification must not cost many times the
//! code it reads, whatever the code, since a guest's Jail hands the runtime code of its
//! own choosing. Code of two-byte jumps once cost 12 bytes per code byte (every direct
//! branch kept as an entry until C7).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use zvcore::{form, verify_region, Options, RegionKind, Rule};

/// The system allocator, counting this thread's live bytes and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + n;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded to `System` with the caller's arguments unchanged; the
// counters are plain thread-locals that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: `ptr` came from `System` with this layout (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        shrank(layout.size());
        grew(new_size);
        // SAFETY: as for `dealloc`; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The peak of this thread's live allocations while `f` runs, above what was live
/// before it.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let r = f();
    (r, PEAK.with(Cell::get) - before)
}

const BASE: u64 = form::CODE_START + (64 << 20);

#[test]
fn verifying_dense_branches_costs_less_than_the_code() {
    // 16 MiB of `jmp .+2` (eb 00): a valid region, one direct branch per two bytes.
    let code: Vec<u8> = [0xEB, 0x00].repeat(8 << 20);
    let (r, peak) = peak_of(|| verify_region(BASE, &code, RegionKind::Jail, Options::default()).map(|_| ()));
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.violations[0].to_string()));
    // The verified copy it returns (the code the caller may run: one code size) and at
    // most four bitmaps of one bit per code byte (starts, second halves, targets, bad
    // targets) before it.
    let bound = code.len() + code.len() / 2;
    assert!(peak <= bound, "verifying {} bytes of jumps allocated {peak} bytes", code.len());
}

#[test]
fn rejecting_dense_bad_branches_costs_less_than_the_code_and_counts_them_all() {
    // 16 MiB of `jmp .+1` (eb ff): every branch lands on its own second byte (C7).
    let code: Vec<u8> = [0xEB, 0xFF].repeat(8 << 20);
    let (r, peak) = peak_of(|| verify_region(BASE, &code, RegionKind::Jail, Options { max_violations: 10 }));
    let e = r.expect_err("every branch is bad");
    assert_eq!(e.violation_count, 8 << 20, "one C7 violation per branch");
    assert_eq!(e.violations.len(), 10);
    // The first ten, in order of the branches.
    for (k, v) in e.violations.iter().enumerate() {
        assert_eq!((v.rule, v.addr), (Rule::C7, BASE + 2 * k as u64), "{v}");
        assert!(v.reason.contains("is not an instruction start"), "{v}");
    }
    // No copy on rejection: the bitmaps alone.
    assert!(peak <= code.len() / 2, "rejecting {} bytes of jumps allocated {peak} bytes", code.len());
}
