//! The one module of zvld with `unsafe` code (STYLE.md): input files are mapped into
//! memory read-only instead of read (TOOLCHAIN.md section 2, "Speed"), so the kernel
//! hands zvld the page cache's pages and only the pages a link touches are faulted in
//! (a large archive contributes a few members; a stripped link never touches DWARF).
//! Also the allocator's tuning ([`tune_allocator`]) and zvcc's signal handling
//! ([`interrupt`]).

use std::fs::File;
use std::io;

/// The bytes of an input file: mapped read-only for the duration of the link when it is
/// a regular file, read into memory otherwise (a pipe, `<(...)`, a character device).
pub enum Mapped {
    /// A mapping (`None` for an empty file: mmap refuses length 0).
    Map(Option<memmap2::Mmap>),
    /// Bytes read from a file that cannot be mapped.
    Read(Vec<u8>),
}

/// The most zvld reads from an input that is not a regular file.
const MAX_STREAMED: u64 = 4 << 30;

/// Up to eight bytes as hex, for a message.
fn hex_prefix(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

impl Mapped {
    /// The bytes of `file`: mapped when it is a regular file, read otherwise; a directory
    /// is an error that says so.
    pub fn new(file: &File) -> io::Result<Mapped> {
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "is a directory, not an object or archive"));
        }
        if !meta.is_file() {
            use std::io::Read;
            let mut v = Vec::new();
            // A device or a pipe is read only when it starts as an object, an archive or
            // text would: `/dev/zero` was read until memory ran out (audit finding). The first
            // bytes decide, as GNU ld's format check does; the parser then reports
            // anything else about them.
            file.take(8).read_to_end(&mut v)?;
            let starts_well = |magic: &[u8]| v.starts_with(magic);
            // Text (a linker script, which the parser names as such) is read too.
            let text = v.iter().all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
            if !text && ![&b"\x7fELF"[..], b"!<arch>\n", b"!<thin>\n"].iter().any(|m| starts_well(m)) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not an object or archive (a device or pipe starting with {})", hex_prefix(&v)),
                ));
            }
            file.take(MAX_STREAMED + 1 - v.len() as u64).read_to_end(&mut v)?;
            if v.len() as u64 > MAX_STREAMED {
                return Err(io::Error::other(format!("longer than {MAX_STREAMED} bytes")));
            }
            return Ok(Mapped::Read(v));
        }
        if meta.len() == 0 {
            return Ok(Mapped::Map(None));
        }
        // SAFETY: memmap2 maps the file MAP_SHARED and read-only; the mapping lives as
        // long as every slice borrowed from it (`bytes` borrows `self`). Rust's aliasing
        // rules hold only if no other process writes to or truncates the file while zvld
        // runs. A linker's inputs are not modified during the link (GNU gold, lld and mold
        // map their inputs under the same assumption); if one is truncated anyway, a read
        // past the new end ends zvld with SIGBUS (status 135, documented) rather than
        // reading freed memory, and a concurrent write can only make the output wrong,
        // never unverified: the output is verified from zvld's own buffer.
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(Mapped::Map(Some(map)))
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Mapped::Map(m) => m.as_deref().unwrap_or(&[]),
            Mapped::Read(v) => v,
        }
    }
}

/// Tunes the C allocator for one link, before any large allocation: a link allocates
/// tens of megabytes in buffers of a few hundred kilobytes to a few megabytes, frees many
/// of them between phases and allocates others of similar sizes. By default glibc serves
/// each of those with its own mmap and returns it with munmap when freed, so every phase
/// faults in fresh zeroed pages (a third of zvld's CPU time went to page faults). With
/// the mmap threshold and the trim threshold raised, freed buffers stay in the heap and
/// the next phase reuses their pages. The memory goes back to the system at exit, a few
/// milliseconds later.
///
/// The heap is also backed by transparent huge pages where the kernel offers them
/// (`/sys/kernel/mm/transparent_hugepage/enabled` set to `always` or `madvise`, the
/// usual default): every thread allocates from the one main arena, which is grown once by
/// [`HEAP_RESERVE`] of address space (untouched until used) and marked `MADV_HUGEPAGE`.
/// A link of sqlite3 then takes ~1,000 page faults instead of ~4,500; on a virtual
/// machine, where each fault of a 4 KiB page costs microseconds, that was a quarter of
/// zvld's CPU time (zvld/README.md, "Speed"). Under a data-size limit the reserve is a
/// quarter of the limit, under strict overcommit there is none ([`heap_reserve`]); when
/// the heap cannot grow (something mapped above the break), glibc falls back to mapped
/// memory and nothing is marked: the link is the same, only slower. Without glibc (musl),
/// nothing is tuned.
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: mallopt only sets allocator parameters; it is called at the start of
        // main, before zvld starts threads. 32 MiB is glibc's largest mmap threshold on
        // 64-bit (larger values are refused); buffers beyond it are still mapped.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
        huge_heap();
    }
}

/// Address space added to the heap at start (see [`tune_allocator`]): more than a link
/// of sqlite3 with DWARF uses at its peak. Only the pages a link touches are backed.
#[cfg(target_env = "gnu")]
const HEAP_RESERVE: usize = 256 << 20;

/// How much to add to the heap at start: [`HEAP_RESERVE`], less under a data-size limit
/// (a quarter of it: the reserve counts against `RLIMIT_DATA` as soon as the break
/// moves), and nothing under strict overcommit (`vm.overcommit_memory` = 2, where it
/// would be committed memory) or when a quarter of the limit is under 8 MiB.
#[cfg(target_env = "gnu")]
fn heap_reserve() -> usize {
    if std::fs::read_to_string("/proc/sys/vm/overcommit_memory").is_ok_and(|v| v.trim() == "2") {
        return 0;
    }
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the limit into `lim`, which lives for the call.
    let limited = unsafe { libc::getrlimit(libc::RLIMIT_DATA, &mut lim) } == 0 && lim.rlim_cur != libc::RLIM_INFINITY;
    if !limited {
        return HEAP_RESERVE;
    }
    let quarter = usize::try_from(lim.rlim_cur / 4).unwrap_or(usize::MAX);
    if quarter < 8 << 20 {
        0
    } else {
        quarter.min(HEAP_RESERVE)
    }
}

/// Grows the main arena by [`heap_reserve`] and marks the new part for huge pages.
#[cfg(target_env = "gnu")]
fn huge_heap() {
    const HUGE: usize = 2 << 20;
    let reserve = heap_reserve();
    if reserve == 0 {
        return;
    }
    // SAFETY: sbrk(0) only reads the current break. malloc/free are glibc's own; the
    // block is freed at once (it merges into the top of the heap, kept there by the trim
    // threshold above). madvise(MADV_HUGEPAGE) changes no content and no permission:
    // it is a hint about how to back pages, and it is applied only to [before, after),
    // the address space the heap gained by this very growth (checked below), which no
    // other mapping can occupy. When the break cannot move, glibc serves the block from
    // a mapping instead, nothing is marked, and the pad is set back below.
    unsafe {
        let before = libc::sbrk(0) as usize;
        libc::mallopt(libc::M_TOP_PAD, reserve as libc::c_int);
        let p = libc::malloc(1 << 20);
        let after = libc::sbrk(0) as usize;
        libc::free(p);
        // glibc's default pad again: later growth (a link larger than the reserve) asks
        // for what it needs, as before.
        libc::mallopt(libc::M_TOP_PAD, 128 << 10);
        let grew = before != usize::MAX && after != usize::MAX && after >= before + reserve;
        // The block starts in the old top of the heap, below `before`, and the heap
        // grew past it: it came from the heap, not from a mapping glibc fell back to.
        let from_heap = !p.is_null() && (p as usize) < before && (p as usize) + (1 << 20) <= after;
        if !grew || !from_heap {
            return;
        }
        let start = before.next_multiple_of(HUGE);
        let end = after & !(HUGE - 1);
        if end > start {
            // A refusal (THP compiled out, a kernel too old) leaves ordinary pages.
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

/// zvcc's answer to SIGINT, SIGTERM and SIGHUP while it compiles and links, as gcc's
/// driver does: the gcc it is waiting for gets the same signal (a SIGTERM sent to zvcc
/// alone, by `timeout` or a build tool, would leave it running), and zvcc itself does not
/// die on the spot: the signal is recorded, the driver removes its temporary directory
/// when the child has ended ([`interrupted`]), and then ends the same way
/// ([`die_of`]). Only async-signal-safe work happens in the handler (an atomic load,
/// `kill`, an atomic store).
pub mod interrupt {
    use std::sync::atomic::{AtomicI32, Ordering};

    static CHILD: AtomicI32 = AtomicI32::new(0);
    static SIGNAL: AtomicI32 = AtomicI32::new(0);
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    extern "C" fn on_signal(sig: libc::c_int) {
        SIGNAL.store(sig, Ordering::SeqCst);
        let child = CHILD.load(Ordering::SeqCst);
        if child > 0 {
            // SAFETY: kill is async-signal-safe; the pid is a child zvcc has not waited
            // for yet (it is cleared after the wait), so it cannot name another process.
            unsafe {
                libc::kill(child, sig);
            }
        }
    }

    /// Installs the handlers (for signals that were not ignored when zvcc started, as a
    /// shell's `&` ignores SIGINT).
    pub fn install() {
        for sig in SIGNALS {
            // SAFETY: a plain handler that only touches atomics and calls kill; the
            // previous disposition is read first so an ignored signal stays ignored.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 || old.sa_sigaction == libc::SIG_IGN {
                    continue;
                }
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    }

    /// The child zvcc is about to wait for (0: none).
    pub fn set_child(pid: u32) {
        CHILD.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
    }

    /// The signal that arrived, if any.
    pub fn interrupted() -> Option<i32> {
        Some(SIGNAL.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// Ends the process by `sig` with its default action (the status a shell reports as
    /// killed by it), after the caller has cleaned up.
    pub fn die_of(sig: i32) -> ! {
        // SAFETY: restoring the default action and raising the signal ends the process;
        // exit is the fallback if it somehow returns.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        std::process::exit(128 + sig)
    }
}
