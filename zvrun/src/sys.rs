//! Everything unsafe in zvrun, in one place (STYLE.md): the address-space reservation,
//! page permissions, the guest-memory view, the world switch into and out of the guest
//! (entry, trap entry, exit path, in assembly), signal handling, the timeout timer and
//! the seccomp filter. Every `unsafe` block has a SAFETY comment.
//!
//! Guest addresses are host addresses: the guest owns [0, 4 GiB) of this process and the
//! runtime reserves [0x10000, 8 GiB) so that nothing of its own is ever mapped there.
//! Host code touches guest memory only through [`GuestMemory`], which checks every range
//! against the permissions it set itself, so the runtime never faults on a guest pointer.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, Ordering};

use zvcore::form;
use zvcore::VerifiedCode;

/// Read permission.
pub const PROT_R: u8 = 1;
/// Write permission.
pub const PROT_W: u8 = 2;
/// Execute permission.
pub const PROT_X: u8 = 4;

/// Page size.
pub const PAGE: u64 = form::PAGE;

fn prot_bits(p: u8) -> libc::c_int {
    let mut b = libc::PROT_NONE;
    if p & PROT_R != 0 {
        b |= libc::PROT_READ;
    }
    if p & PROT_W != 0 {
        b |= libc::PROT_WRITE;
    }
    if p & PROT_X != 0 {
        b |= libc::PROT_EXEC;
    }
    b
}

/// Why the reservation failed, in words a user can act on.
pub fn explain_reservation_failure(err: &io::Error) -> String {
    let mut why =
        format!("cannot reserve guest address space [{:#x}, {:#x}): {err}", form::NULL_GUARD_END, form::GUARD_END);
    match err.raw_os_error() {
        Some(libc::EEXIST) => {
            let below: Vec<String> = mappings_below(form::GUARD_END).into_iter().take(4).collect();
            why.push_str("; something is already mapped there");
            if !below.is_empty() {
                why.push_str(&format!(": {}", below.join("; ")));
            }
        }
        Some(libc::ENOMEM) => {
            let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: getrlimit writes one rlimit to a valid, exclusively borrowed struct.
            let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0;
            if ok && lim.rlim_cur != libc::RLIM_INFINITY {
                why.push_str(&format!(
                    "; RLIMIT_AS is {} bytes, too small for the 8 GiB reservation (raise it with `ulimit -v unlimited`)",
                    lim.rlim_cur
                ));
            } else {
                let policy = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
                why.push_str(&format!("; the kernel refused the mapping (vm.overcommit_memory = {})", policy.trim()));
            }
        }
        Some(libc::EPERM) | Some(libc::EACCES) => {
            let min = std::fs::read_to_string("/proc/sys/vm/mmap_min_addr").unwrap_or_default();
            why.push_str(&format!("; vm.mmap_min_addr is {} (it must be at most 65536)", min.trim()));
        }
        _ => {}
    }
    why
}

/// Mappings of this process that start below `limit`, as /proc/self/maps lines.
pub fn mappings_below(limit: u64) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter(|l| {
            l.split('-').next().and_then(|s| u64::from_str_radix(s, 16).ok()).is_some_and(|start| start < limit)
        })
        .map(str::to_string)
        .collect()
}

/// The guest's address space: the reservation and the permissions set in it.
pub struct GuestMemory {
    /// Non-overlapping page ranges with permissions, sorted by start.
    regions: Vec<(u64, u64, u8)>,
}

impl GuestMemory {
    /// Reserves [0x10000, 8 GiB) PROT_NONE with MAP_FIXED_NOREPLACE.
    pub fn reserve() -> Result<GuestMemory, String> {
        // The runtime must live above 8 GiB. Its code and stack are checked here; that
        // nothing else of it (heap, libraries, other mappings) lies in [0x10000, 8 GiB) is
        // proven by the MAP_FIXED_NOREPLACE reservation below succeeding, and below
        // 0x10000 the kernel maps nothing (vm.mmap_min_addr). /proc/self/maps is read
        // only to explain a failure.
        let probe = 0u8;
        let here = [Self::reserve as *const () as u64, &probe as *const u8 as u64];
        if here.iter().any(|&a| a < form::GUARD_END) {
            return Err(format!(
                "the runtime must live above 8 GiB, but its code or stack is at {:#x}/{:#x} (build zvrun as a PIE)",
                here[0], here[1]
            ));
        }
        let len = (form::GUARD_END - form::NULL_GUARD_END) as usize;
        // SAFETY: a fresh anonymous PROT_NONE mapping at a fixed address with
        // MAP_FIXED_NOREPLACE never replaces an existing mapping; the result is checked.
        let p = unsafe {
            libc::mmap(
                form::NULL_GUARD_END as *mut libc::c_void,
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(explain_reservation_failure(&io::Error::last_os_error()));
        }
        if p as u64 != form::NULL_GUARD_END {
            // Old kernels without MAP_FIXED_NOREPLACE treat it as a hint.
            // SAFETY: unmapping exactly the mapping just created.
            unsafe { libc::munmap(p, len) };
            return Err("the kernel placed the reservation elsewhere (MAP_FIXED_NOREPLACE unsupported?)".into());
        }
        Ok(GuestMemory { regions: Vec::new() })
    }

    /// Sets the permissions of [start, start+len) (page-aligned, inside guest memory).
    /// Never W+X (C10).
    pub fn protect(&mut self, start: u64, len: u64, prot: u8) -> io::Result<()> {
        self.set(start, len, prot, false)
    }

    /// Replaces [start, start+len) (page-aligned, inside guest memory) with fresh
    /// inaccessible memory: its old contents are gone, and pages made accessible later
    /// read as zero.
    pub fn discard(&mut self, start: u64, len: u64) -> io::Result<()> {
        self.set(start, len, 0, true)
    }

    /// Makes [start, start+len) fresh, zeroed, readable and writable memory with every
    /// page already allocated: for ranges that are about to be written whole (code, data,
    /// the trampoline), one system call instead of a page fault per page.
    pub fn populate_rw(&mut self, start: u64, len: u64) -> io::Result<()> {
        self.set(start, len, PROT_R | PROT_W, true)
    }

    fn set(&mut self, start: u64, len: u64, prot: u8, populate: bool) -> io::Result<()> {
        assert!(prot & (PROT_W | PROT_X) != (PROT_W | PROT_X), "C10: W+X requested");
        let end = start.checked_add(len).filter(|&e| e <= form::GUEST_END);
        let ok =
            start.is_multiple_of(PAGE) && len.is_multiple_of(PAGE) && start >= form::NULL_GUARD_END && end.is_some();
        if !ok {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad guest range {start:#x}+{len:#x}")));
        }
        if len == 0 {
            return Ok(());
        }
        if populate {
            // SAFETY: the range is page-aligned and lies inside the reservation made by
            // `reserve`, which nothing else in the process uses, so MAP_FIXED replaces
            // only guest memory; the result is checked.
            let p = unsafe {
                libc::mmap(
                    start as *mut libc::c_void,
                    len as usize,
                    prot_bits(prot),
                    libc::MAP_PRIVATE
                        | libc::MAP_ANONYMOUS
                        | libc::MAP_FIXED
                        | if prot == 0 { libc::MAP_NORESERVE } else { libc::MAP_POPULATE },
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
        } else {
            // SAFETY: as above; mprotect changes only permissions.
            let r = unsafe { libc::mprotect(start as *mut libc::c_void, len as usize, prot_bits(prot)) };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let end = start + len;
        let mut out = Vec::with_capacity(self.regions.len() + 2);
        for &(s, e, p) in &self.regions {
            if e <= start || s >= end {
                out.push((s, e, p));
            } else {
                if s < start {
                    out.push((s, start, p));
                }
                if e > end {
                    out.push((end, e, p));
                }
            }
        }
        if prot != 0 {
            out.push((start, end, prot));
        }
        out.sort_unstable();
        self.regions = out;
        Ok(())
    }

    /// Whether every byte of [addr, addr+len) has all permissions in `need`.
    pub fn check(&self, addr: u64, len: u64, need: u8) -> bool {
        let Some(end) = addr.checked_add(len) else { return false };
        if end > form::GUEST_END {
            return false;
        }
        if len == 0 {
            return true;
        }
        let mut at = addr;
        for &(s, e, p) in &self.regions {
            if e <= at {
                continue;
            }
            if s > at || p & need != need {
                return false;
            }
            at = e;
            if at >= end {
                return true;
            }
        }
        false
    }

    /// The guest bytes [addr, addr+len), if all readable.
    pub fn read(&self, addr: u64, len: u64) -> Option<&[u8]> {
        if !self.check(addr, len, PROT_R) {
            return None;
        }
        if len == 0 {
            return Some(&[]);
        }
        // SAFETY: `check` proved the range is mapped readable in the reservation, and
        // guest addresses are host addresses. The guest is not running while the host
        // holds this borrow (one guest thread, stopped in a trap), so nothing writes it.
        Some(unsafe { std::slice::from_raw_parts(addr as *const u8, len as usize) })
    }

    /// The guest bytes [addr, addr+len) for writing, if all writable.
    pub fn write(&mut self, addr: u64, len: u64) -> Option<&mut [u8]> {
        if !self.check(addr, len, PROT_W) {
            return None;
        }
        if len == 0 {
            return Some(&mut []);
        }
        // SAFETY: as in `read`, with write permission checked; `&mut self` makes the
        // borrow exclusive among host views.
        Some(unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len as usize) })
    }

    /// Fills [start, start+len) (page-aligned) with `bytes` then `fill`, and leaves it
    /// with permissions `prot`. The pages are writable (never executable) while filled.
    pub fn load(&mut self, start: u64, len: u64, bytes: &[u8], prot: u8) -> io::Result<()> {
        // Pages that receive bytes are populated; the rest (bss) stay lazily allocated.
        let filled = (bytes.len() as u64).next_multiple_of(PAGE).min(len);
        self.populate_rw(start, filled)?;
        self.protect(start + filled, len - filled, PROT_R | PROT_W)?;
        let dst = self
            .write(start, len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "load range not writable"))?;
        let n = bytes.len().min(dst.len());
        dst[..n].copy_from_slice(&bytes[..n]);
        if prot == PROT_R | PROT_W {
            return Ok(());
        }
        self.protect(start, len, prot)
    }

    /// Reads `len` bytes of `f` at `file_off` straight into fresh guest memory at `at`
    /// (page-aligned), `head` being the first of them, already read. The pages become
    /// readable and writable (never executable) and hold exactly the file's bytes; the
    /// result is the runtime's private copy to verify and load in place (RUNTIME.md
    /// section 2: what was verified is what runs), see [`GuestMemory::load_program`].
    pub fn stage(&mut self, f: &std::fs::File, file_off: u64, at: u64, len: u64, head: &[u8]) -> io::Result<Staged> {
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, format!("bad staging range {at:#x}+{len:#x}"));
        let n = usize::try_from(len).map_err(|_| bad())?;
        if head.len() > n || at < form::TRAMPOLINE_START || at.checked_add(len).is_none_or(|e| e > form::CODE_LIMIT) {
            return Err(bad());
        }
        self.populate_rw(at, len.next_multiple_of(PAGE))?;
        let dst = self.write(at, len).ok_or_else(bad)?;
        dst[..head.len()].copy_from_slice(head);
        let off = file_off.checked_add(head.len() as u64).ok_or_else(bad)?;
        std::os::unix::fs::FileExt::read_exact_at(f, &mut dst[head.len()..], off)?;
        Ok(Staged { addr: at, len: n, loaded: std::cell::Cell::new(false) })
    }

    /// Loads a program: the trampoline, the verified code and the other segments
    /// (`(start, len, file bytes, final permissions)`, page-aligned, non-overlapping).
    /// Everything that receives bytes is mapped R+W and populated with as few calls as
    /// the layout allows (one, for the usual contiguous trampoline, code, rodata and data),
    /// bss stays lazily allocated, and then the trampoline and the code become R+X (one
    /// call when adjacent) and read-only segments R. Nothing is ever W+X, and only
    /// [`VerifiedCode`] (and the runtime's trampoline) becomes executable.
    ///
    /// With `staged` (the file read into guest memory by [`GuestMemory::stage`] and
    /// verified there), the code and every segment's bytes must already lie at their own
    /// addresses inside it: they are not copied, and their pages are not mapped again
    /// (that would replace the verified bytes). Everything else staged is overwritten
    /// (the trampoline, HLT after the code, zeros after each segment's file bytes) or
    /// made inaccessible, so the guest sees exactly what a copy would give it.
    pub fn load_program(
        &mut self,
        code: &VerifiedCode,
        segments: &[(u64, u64, &[u8], u8)],
        staged: Option<&Staged>,
    ) -> io::Result<()> {
        map_trap_stub()?;
        let (tramp, tramp_len) = (form::TRAMPOLINE_START, form::TRAMPOLINE_END - form::TRAMPOLINE_START);
        let code_len = (code.len() as u64).next_multiple_of(PAGE);
        let filled = |len: u64, bytes: &[u8]| (bytes.len() as u64).next_multiple_of(PAGE).min(len);
        // The verifier's layout rules (C1, C10) already exclude overlaps; checked again
        // here because a segment written over the code would put unverified bytes in it.
        let mut taken = vec![(tramp, tramp + tramp_len), (code.base(), code.base() + code_len)];
        for &(start, len, _, _) in segments {
            let end = start.checked_add(len).ok_or_else(|| io::Error::other("segment wraps"))?;
            if start < tramp + tramp_len || taken.iter().any(|&(a, b)| start < b && a < end) {
                return Err(io::Error::other(format!(
                    "segment {start:#x}+{len:#x} overlaps the code or another segment"
                )));
            }
            taken.push((start, end));
        }
        let mut runs: Vec<(u64, u64)> = vec![(tramp, tramp + tramp_len), (code.base(), code.base() + code_len)];
        runs.extend(segments.iter().map(|&(start, len, bytes, _)| (start, start + filled(len, bytes))));
        runs.retain(|r| r.1 > r.0);
        runs.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(runs.len());
        for (s0, e0) in runs {
            match merged.last_mut() {
                Some(last) if s0 <= last.1 => last.1 = last.1.max(e0),
                _ => merged.push((s0, e0)),
            }
        }
        if let Some(st) = staged {
            st.loaded.set(true);
        }
        let staged_range = staged.map(|st| (st.addr, st.addr + (st.len as u64).next_multiple_of(PAGE)));
        let inside = |bytes: &[u8], at: u64| {
            staged_range.is_some_and(|(a, b)| bytes.as_ptr() as u64 == at && at >= a && at + bytes.len() as u64 <= b)
        };
        if staged_range.is_some()
            && (!inside(code.bytes(), code.base())
                || segments.iter().any(|&(start, _, bytes, _)| !bytes.is_empty() && !inside(bytes, start)))
        {
            return Err(io::Error::other("a staged program's segments are not in place"));
        }
        for &(s0, e0) in &merged {
            for (a, b) in minus((s0, e0), staged_range) {
                self.populate_rw(a, b - a)?;
            }
        }
        // Staged pages no segment covers (a gap between segments, an empty PT_LOAD's
        // offset): replaced by fresh inaccessible memory, so that no file byte survives
        // where the guest may later get pages (the heap is made accessible with mprotect).
        if let Some(range) = staged_range {
            let mut rest = vec![range];
            for &run in &merged {
                rest = rest.into_iter().flat_map(|r| minus(r, Some(run))).collect();
            }
            for (a, b) in rest {
                self.discard(a, b - a)?;
            }
        }
        for &(start, len, bytes, _) in segments {
            let f = filled(len, bytes);
            self.protect(start + f, len - f, PROT_R | PROT_W)?;
        }
        let not_writable = || io::Error::new(io::ErrorKind::InvalidInput, "load range not writable");
        let t = self.write(tramp, tramp_len).ok_or_else(not_writable)?;
        t.fill(form::HLT);
        let slot = jump_via_r11(TRAP_STUB);
        t[..slot.len()].copy_from_slice(&slot);
        let tail = code.len() as u64;
        if !inside(code.bytes(), code.base()) {
            let dst = self.write(code.base(), tail).ok_or_else(not_writable)?;
            dst.copy_from_slice(code.bytes());
        }
        // Only the bytes after the code: in place, the code itself stays untouched.
        self.write(code.base() + tail, code_len - tail).ok_or_else(not_writable)?.fill(form::HLT);
        for &(start, len, bytes, _) in segments {
            let n = (bytes.len() as u64).min(len);
            if !inside(bytes, start) {
                let dst = self.write(start, n).ok_or_else(not_writable)?;
                dst.copy_from_slice(&bytes[..n as usize]);
            }
            // After the file bytes, zeros: the rest of their last page, and whatever
            // else of the segment the staged file covered.
            let dirty = (start + n).next_multiple_of(PAGE).max(staged_range.map_or(0, |r| r.1)).min(start + len);
            if dirty > start + n {
                self.write(start + n, dirty - (start + n)).ok_or_else(not_writable)?.fill(0);
            }
        }
        if tramp + tramp_len == code.base() {
            self.protect(tramp, tramp_len + code_len, PROT_R | PROT_X)?;
        } else {
            self.protect(tramp, tramp_len, PROT_R | PROT_X)?;
            self.protect(code.base(), code_len, PROT_R | PROT_X)?;
        }
        for &(start, len, _, prot) in segments {
            if prot != PROT_R | PROT_W {
                self.protect(start, len, prot)?;
            }
        }
        Ok(())
    }

    /// Makes verified code that already lies in guest memory (a jailed heap region)
    /// executable and no longer writable.
    pub fn make_executable(&mut self, code: &VerifiedCode) -> io::Result<()> {
        let now = self.read(code.base(), code.len() as u64);
        if now != Some(code.bytes()) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "jailed bytes changed after verification"));
        }
        self.protect(code.base(), code.len() as u64, PROT_R | PROT_X)
    }
}

/// A nexe's first bytes read into guest memory by [`GuestMemory::stage`], to be verified
/// and loaded where they lie.
#[derive(Debug)]
pub struct Staged {
    addr: u64,
    len: usize,
    /// Set by `load_program`: from then on the pages are the guest's (written by it, or
    /// inaccessible), and `bytes` refuses to hand out new views of them.
    loaded: std::cell::Cell<bool>,
}

impl Staged {
    /// The staged bytes, for verification. Only before [`GuestMemory::load_program`] has
    /// loaded them (views taken before, such as the verified code and the segments, stay
    /// valid: those bytes are never written or unmapped); after it, a bug: panics.
    pub fn bytes(&self) -> &[u8] {
        assert!(!self.loaded.get(), "staged bytes read after loading");
        // SAFETY: `stage` mapped [addr, addr+len) readable and writable inside the
        // reservation and filled it; the reservation is never unmapped while the process
        // runs, and nothing maps over these pages again (`load_program` leaves staged
        // ranges alone). The guest does not run until the program is loaded, and
        // `load_program` writes only bytes of the staged range that no borrow it is given
        // covers (the trampoline, after the code, after each segment's file bytes).
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }
}

/// `r` without `cut` (zero, one or two ranges).
fn minus(r: (u64, u64), cut: Option<(u64, u64)>) -> Vec<(u64, u64)> {
    let Some((a, b)) = cut.filter(|&(a, b)| a < r.1 && r.0 < b) else { return vec![r] };
    [(r.0, a.max(r.0)), (b.min(r.1), r.1)].into_iter().filter(|&(x, y)| x < y).collect()
}

/// (device, inode) of the file zvrun's stderr (descriptor 2) writes to, if it is open.
pub fn stderr_file_id() -> Option<(u64, u64)> {
    // SAFETY: fstat writes one `struct stat` through a pointer to a live, zeroed local.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; descriptor 2 is only read.
    (unsafe { libc::fstat(2, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

/// The effective user id (for the verdict cache's ownership checks).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Opens `name` in the directory `dir` for reading, without following a link and
/// without blocking (a FIFO or a device under that name opens and is then refused by the
/// caller's checks on the open file). `None` when it cannot be opened.
pub fn open_at(dir: &std::fs::File, name: &str) -> Option<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let c = std::ffi::CString::new(name).ok()?;
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: `dir` is an open descriptor and `c` a NUL-terminated string; openat touches
    // no other memory.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just opened by us and is owned by nothing else.
    Some(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Where the trampoline's slot 0 jumps: a one-page host stub at a fixed address above the
/// guard region (12 GiB), which jumps on to `zv_trap_entry`. The trampoline, which the
/// guest can read, therefore holds the same bytes in every run and no host address
/// (FORM.md section 4's determinism; zvrun's own addresses are randomised). The guest
/// cannot address the stub itself: its addresses end below 4 GiB + the guard.
pub const TRAP_STUB: u64 = 0x3_0000_0000;
const _: () = assert!(TRAP_STUB >= form::GUARD_END);

/// `movabs $target, %r11; jmp *%r11`.
fn jump_via_r11(target: u64) -> [u8; 13] {
    let mut b = [0u8; 13];
    b[..2].copy_from_slice(&[0x49, 0xBB]);
    b[2..10].copy_from_slice(&target.to_le_bytes());
    b[10..13].copy_from_slice(&[0x41, 0xFF, 0xE3]);
    b
}

/// Maps the host stub at [`TRAP_STUB`] (once per process): written while R+W, then R+X.
fn map_trap_stub() -> io::Result<()> {
    static MAPPED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let r = MAPPED.get_or_init(|| {
        let len = PAGE as usize;
        // SAFETY: a fresh anonymous mapping at a fixed address with MAP_FIXED_NOREPLACE,
        // which never replaces an existing mapping; the result is checked.
        let p = unsafe {
            libc::mmap(
                TRAP_STUB as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED || p as u64 != TRAP_STUB {
            return Err(format!(
                "cannot map the trap stub at {TRAP_STUB:#x}: {}",
                if p == libc::MAP_FAILED { io::Error::last_os_error().to_string() } else { "placed elsewhere".into() }
            ));
        }
        let code = jump_via_r11(zv_trap_entry as *const () as usize as u64);
        // SAFETY: the page was just mapped readable and writable, `len` bytes long, and
        // nothing else refers to it.
        let page = unsafe { std::slice::from_raw_parts_mut(p as *mut u8, len) };
        page.fill(form::HLT);
        page[..code.len()].copy_from_slice(&code);
        // SAFETY: the same page; from now on readable and executable, never writable.
        if unsafe { libc::mprotect(p, len, libc::PROT_READ | libc::PROT_EXEC) } != 0 {
            return Err(format!("cannot protect the trap stub: {}", io::Error::last_os_error()));
        }
        Ok(())
    });
    r.clone().map_err(io::Error::other)
}

// ---- the world switch ----

/// Slots of [`CTX`], shared with the assembly below (offsets are slot * 8).
#[allow(dead_code)] // some slots are used only by the assembly
mod slot {
    const _: () = assert!((COUNT - GUEST_X87) * 8 >= 512, "room for fxsave's 512 bytes");
    const _: () = assert!((GUEST_X87 * 8).is_multiple_of(16), "fxsave needs 16-byte alignment");
    pub const HOST_RSP: usize = 0;
    pub const HOST_MXCSR: usize = 1;
    pub const HOST_FCW: usize = 2;
    pub const GUEST_RSP: usize = 3;
    pub const GUEST_RBX: usize = 4;
    pub const GUEST_MXCSR: usize = 10;
    pub const GUEST_FCW: usize = 11;
    pub const ENTRY: usize = 12;
    pub const EXIT_FLAG: usize = 13;
    pub const HAS_AVX: usize = 14;
    pub const START_RSP: usize = 15;
    pub const START_MXCSR: usize = 16;
    /// 512-byte fxsave area for the guest's x87/MMX state (slots 20..84, 16-aligned).
    pub const GUEST_X87: usize = 20;
    pub const COUNT: usize = 84;
}

#[repr(C, align(16))]
struct Ctx([AtomicU64; slot::COUNT]);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static CTX: Ctx = Ctx([ZERO; slot::COUNT]);

fn ctx(i: usize) -> &'static AtomicU64 {
    &CTX.0[i]
}

std::arch::global_asm!(
    ".text",
    // Zeroes every vector register: vzeroall when the AVX flag at `avx` is set, else pxor
    // on xmm0-15.
    ".macro zv_zero_vectors avx",
    "cmpq $0, \\avx",
    "je 1f",
    "vzeroall",
    "jmp 2f",
    "1:",
    "pxor %xmm0, %xmm0", "pxor %xmm1, %xmm1", "pxor %xmm2, %xmm2", "pxor %xmm3, %xmm3",
    "pxor %xmm4, %xmm4", "pxor %xmm5, %xmm5", "pxor %xmm6, %xmm6", "pxor %xmm7, %xmm7",
    "pxor %xmm8, %xmm8", "pxor %xmm9, %xmm9", "pxor %xmm10, %xmm10", "pxor %xmm11, %xmm11",
    "pxor %xmm12, %xmm12", "pxor %xmm13, %xmm13", "pxor %xmm14, %xmm14", "pxor %xmm15, %xmm15",
    "2:",
    ".endm",
    ".p2align 4",
    ".globl zv_enter_guest",
    "zv_enter_guest:",
    "push %rbx", "push %rbp", "push %r12", "push %r13", "push %r14", "push %r15",
    "sub $8, %rsp",
    "lea {ctx}(%rip), %rax",
    "mov %rsp, 0(%rax)",
    "stmxcsr 8(%rax)",
    "fnstcw 16(%rax)",
    "mov 120(%rax), %rsp",
    "fninit",
    "ldmxcsr 128(%rax)",
    "cld",
    "zv_zero_vectors 112(%rax)",
    "xor %ebx, %ebx", "xor %ecx, %ecx", "xor %edx, %edx", "xor %esi, %esi", "xor %edi, %edi",
    "xor %ebp, %ebp", "xor %r8d, %r8d", "xor %r9d, %r9d", "xor %r10d, %r10d", "xor %r11d, %r11d",
    "xor %r12d, %r12d", "xor %r13d, %r13d", "xor %r14d, %r14d", "xor %r15d, %r15d",
    "xor %eax, %eax",
    // A stop that came while the host was loading (the handler set the flag in host
    // code): never run the guest. A stop after this test is the trap return's case: the
    // handler's 10 ms timer finds the guest.
    "cmpq $0, ({ctx}+104)(%rip)",
    "jne zv_exit_path",
    // The guest starts with its status flags clear, as a native process does (the
    // comparison above left ZF and PF set: audit finding). popfq reads the word pushed on
    // the guest's stack, below the start-up block; the word is zeroed again (mov changes
    // no flag), so the stack below rsp is all zeros as before.
    "pushq $0x202",
    "popfq",
    "movq $0, -8(%rsp)",
    "jmp *({ctx}+96)(%rip)",
    "",
    ".p2align 4",
    ".globl zv_trap_entry",
    "zv_trap_entry:",
    "mov %rsp, ({ctx}+24)(%rip)",
    "mov %rbx, ({ctx}+32)(%rip)",
    "mov %rbp, ({ctx}+40)(%rip)",
    "mov %r12, ({ctx}+48)(%rip)",
    "mov %r13, ({ctx}+56)(%rip)",
    "mov %r14, ({ctx}+64)(%rip)",
    "mov %r15, ({ctx}+72)(%rip)",
    "stmxcsr ({ctx}+80)(%rip)",
    // The guest's whole x87/MMX state (fxsave is much cheaper than fnsave), then a clean
    // FPU for the host.
    "fxsave ({ctx}+160)(%rip)",
    "fninit",
    "mov ({ctx}+0)(%rip), %rsp",
    "cld",
    "ldmxcsr ({ctx}+8)(%rip)",
    "fldcw ({ctx}+16)(%rip)",
    "call {dispatch}",
    "cmpq $0, ({ctx}+104)(%rip)",
    "jne zv_exit_path",
    // Back to the guest: exactly its x87/MMX state and MXCSR (so no host value can
    // remain there), its callee-saved registers, every other register zero.
    // fxrstor also reloads the guest's MXCSR and xmm registers from trap entry; the
    // MXCSR is the guest's anyway and the vector registers are zeroed below.
    "fxrstor ({ctx}+160)(%rip)",
    "ldmxcsr ({ctx}+80)(%rip)",
    "mov ({ctx}+32)(%rip), %rbx",
    "mov ({ctx}+40)(%rip), %rbp",
    "mov ({ctx}+48)(%rip), %r12",
    "mov ({ctx}+56)(%rip), %r13",
    "mov ({ctx}+64)(%rip), %r14",
    "mov ({ctx}+72)(%rip), %r15",
    "mov ({ctx}+24)(%rip), %rsp",
    "zv_zero_vectors ({ctx}+112)(%rip)",
    "xor %ecx, %ecx", "xor %edx, %edx", "xor %esi, %esi", "xor %edi, %edi",
    "xor %r8d, %r8d", "xor %r9d, %r9d", "xor %r10d, %r10d", "xor %r11d, %r11d",
    "andq $0x7fffffe0, (%rsp)",
    "ret",
    "",
    ".p2align 4",
    ".globl zv_exit_path",
    "zv_exit_path:",
    "mov ({ctx}+0)(%rip), %rsp",
    "cld",
    "fninit",
    "fldcw ({ctx}+16)(%rip)",
    "ldmxcsr ({ctx}+8)(%rip)",
    "add $8, %rsp",
    "pop %r15", "pop %r14", "pop %r13", "pop %r12", "pop %rbp", "pop %rbx",
    "ret",
    ctx = sym CTX,
    dispatch = sym zv_dispatch,
    options(att_syntax),
);

extern "C" {
    fn zv_enter_guest();
    fn zv_trap_entry();
    fn zv_exit_path();
}

/// What a trap handler tells the world switch.
pub enum TrapOutcome {
    /// Return this value to the guest in %rax.
    Return(i64),
    /// End the session (Exit, or a host error, or a timeout seen in host code).
    Leave,
}

/// The host side of the six calls.
pub trait TrapHandler {
    /// Handles one call; `args` is the guest's %rdi.
    fn trap(&mut self, args: u64) -> TrapOutcome;
    /// Whether the 8 bytes at the guest's stack pointer `rsp` are readable and writable
    /// guest memory, where the return to the guest reads and masks its return address.
    fn can_return(&self, rsp: u64) -> bool;
}

thread_local! {
    static HANDLER: std::cell::Cell<Option<*mut (dyn TrapHandler + 'static)>> = const { std::cell::Cell::new(None) };
}

extern "C" fn zv_dispatch(args: u64) -> u64 {
    let h = HANDLER.with(|h| h.get());
    let Some(h) = h else {
        ctx(slot::EXIT_FLAG).store(1, Ordering::SeqCst);
        return 0;
    };
    // SAFETY: the pointer was set by `run_guest` from a `&mut dyn TrapHandler` that
    // outlives the guest's run, and only this (single) thread dereferences it, while the
    // guest is stopped in the trap.
    let out = unsafe { (*h).trap(args) };
    if STOPPING.load(Ordering::SeqCst) {
        ctx(slot::EXIT_FLAG).store(1, Ordering::SeqCst);
    }
    match out {
        TrapOutcome::Return(v) => {
            // The return path reads and masks the return address at the guest's rsp
            // (`andq $mask,(%rsp); ret`). A guest can reach the trap with `jmp 0x10000`
            // and any rsp below 4 GiB, or make its stack page executable with Jail during
            // the call: host code must not fault there (RUNTIME.md section 3). It is the
            // guest's fault, reported as a `ret` there would be: SIGSEGV at rsp.
            let rsp = ctx(slot::GUEST_RSP).load(Ordering::SeqCst);
            // SAFETY: as above; `can_return` only reads the handler's memory map.
            if ctx(slot::EXIT_FLAG).load(Ordering::SeqCst) == 0 && !unsafe { (*h).can_return(rsp) } {
                FAULT_ADDR.store(rsp, Ordering::SeqCst);
                FAULT_PC.store(form::TRAMPOLINE_START, Ordering::SeqCst);
                FAULT_SIG.store(libc::SIGSEGV, Ordering::SeqCst);
                ctx(slot::EXIT_FLAG).store(1, Ordering::SeqCst);
                return 0;
            }
            v as u64
        }
        TrapOutcome::Leave => {
            ctx(slot::EXIT_FLAG).store(1, Ordering::SeqCst);
            0
        }
    }
}

/// How the guest's run ended, from the world switch's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The handler asked to leave (Exit or a host-side error).
    Left,
    /// The session is stopping ([`stop_reason`]: SIGALRM for the timeout, else the
    /// termination signal).
    Stopped(i32),
    /// A guest fault.
    Fault {
        /// Signal number.
        signal: i32,
        /// Faulting data address (si_addr), or the faulting instruction's address when
        /// the kernel gives none (SI_KERNEL: `hlt` and other general-protection faults,
        /// `int3`).
        addr: u64,
        /// Guest instruction address.
        pc: u64,
    },
}

static FAULT_SIG: AtomicI32 = AtomicI32::new(0);
static FAULT_ADDR: AtomicU64 = AtomicU64::new(0);
static FAULT_PC: AtomicU64 = AtomicU64::new(0);
/// Set when the session must stop: the timeout expired or a termination signal came.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Why: SIGALRM for the timeout, else the termination signal; the first one wins.
static STOP_REASON: AtomicI32 = AtomicI32::new(0);
/// Set when a termination signal (one of [`TERMINATING`]) arrived, whether or not it was
/// the first reason to stop: zvrun's own output after the session then gives up rather
/// than block (see [`terminated`]).
static TERMINATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The signals that end a session as its user asked (`kill`, Ctrl-C, a closed terminal),
/// with the report written and channels closed, instead of killing zvrun outright.
pub const TERMINATING: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Holds (`hold`) or releases the termination signals of the calling thread. The process
/// entry holds them first thing, before the command line is read, and `main` releases
/// them once their handlers are installed (or, for a run that prints help or fails its
/// usage, without handlers): one sent meanwhile is delivered when it can end the session
/// with its report. The release also unblocks them when zvrun's parent had left them
/// blocked (a mask inherited through exec): zvrun handles them, and a signal pending
/// since before it started ends its session as soon as it can. A signal that arrives
/// before the process entry runs (while the dynamic loader maps the libraries, ~1 ms)
/// still ends zvrun by its default action, with no report (docs/zvrun.md).
pub fn hold_termination(hold: bool) {
    // SAFETY: a zeroed sigset is a valid argument for sigemptyset; sigprocmask reads the
    // local set and writes no old mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in TERMINATING {
            libc::sigaddset(&mut set, sig);
        }
        let how = if hold { libc::SIG_BLOCK } else { libc::SIG_UNBLOCK };
        libc::sigprocmask(how, &set, std::ptr::null_mut());
    }
}

/// Whether the session is stopping (host code checks this after blocking I/O).
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Why the session is stopping, once it is: `SIGALRM` when the timeout expired, else the
/// termination signal that arrived first.
pub fn stop_reason() -> Option<i32> {
    Some(STOP_REASON.load(Ordering::SeqCst)).filter(|_| stopping())
}

/// Whether a termination signal arrived (at any point, even after the session ended).
/// zvrun's writes of its own message and report then stop at the first interruption
/// ([`interrupt_soon`] makes sure one comes) instead of blocking for good on a full pipe:
/// zvrun catches these signals so as to report, and must still end when sent one.
pub fn terminated() -> bool {
    TERMINATED.load(Ordering::SeqCst)
}

/// Interrupts whatever blocking call the process makes next within 10 ms (SIGALRM; the
/// handler keeps firing it every 10 ms once the session is stopping).
pub fn interrupt_soon() {
    arm_timer_ms(10);
}

/// Opens `path` (`read`, `write`, created with mode 0666 minus the umask when `create`),
/// close-on-exec. Unlike std's `OpenOptions::open`, which retries an open interrupted by a
/// signal for ever, an open that blocks (a FIFO with no other end, a device waiting for a
/// line) ends with `Interrupted` once the session is stopping: the timeout and the
/// termination signals cover opening channels too.
pub fn open_stoppable(path: &std::path::Path, read: bool, write: bool, create: bool) -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut flags = libc::O_CLOEXEC
        | match (read, write) {
            (_, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (true, true) => libc::O_RDWR,
        };
    if create && write {
        flags |= libc::O_CREAT;
    }
    loop {
        // SAFETY: `c` is a NUL-terminated path; open touches no other memory of ours.
        let fd = unsafe { libc::open(c.as_ptr(), flags, 0o666 as libc::c_uint) };
        if fd >= 0 {
            // SAFETY: `fd` was just opened by us and is owned by nothing else.
            return Ok(unsafe { std::fs::File::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted || stopping() {
            return Err(e);
        }
    }
}

/// The flag the timeout and the termination signals set, for work that should stop
/// then (verification at load, Jail's verification: [`zvcore::verify_region_until`]).
pub fn stop_flag() -> &'static std::sync::atomic::AtomicBool {
    &STOPPING
}

/// Whether a signal interrupted the guest. The runtime lives above 8 GiB (checked when
/// the address space is reserved), so any pc below it is the guest's: its code, or
/// anywhere a masked indirect branch or a P2 return can reach ([0, 4 GiB)) when the guest
/// jumps where nothing is executable (a null function pointer, its stack, its heap).
fn is_guest_pc(pc: u64) -> bool {
    pc < form::GUARD_END
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext_t for SA_SIGINFO handlers.
    let uc = unsafe { &mut *(uc as *mut libc::ucontext_t) };
    let pc = uc.uc_mcontext.gregs[libc::REG_RIP as usize] as u64;
    if sig == libc::SIGALRM || TERMINATING.contains(&sig) {
        // A SIGALRM after a termination signal only interrupts again (below).
        let _ = STOP_REASON.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
        if sig != libc::SIGALRM {
            TERMINATED.store(true, Ordering::SeqCst);
        }
        STOPPING.store(true, Ordering::SeqCst);
        if is_guest_pc(pc) {
            uc.uc_mcontext.gregs[libc::REG_RIP as usize] = zv_exit_path as *const () as usize as i64;
        } else {
            // In host code: the trap's return path checks the flag; fire again soon in
            // case the flag was checked just before it was set (a blocking read that
            // began then is interrupted by the next SIGALRM).
            ctx(slot::EXIT_FLAG).store(1, Ordering::SeqCst);
            arm_timer_ms(10);
        }
        return;
    }
    // SAFETY: info is valid for SA_SIGINFO handlers.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as u64) };
    if is_guest_pc(pc) && code > 0 {
        // The kernel gives no address for a general-protection fault (`hlt`, a
        // privileged instruction: SIGSEGV) or a breakpoint (`int3`: SIGTRAP), both
        // SI_KERNEL with si_addr 0, which would read as a null access: the guest address
        // of such a fault is its instruction's, the pc, or for `int3` (a trap, after
        // which the pc is the next instruction) the byte before it.
        let addr = match (code, sig) {
            (libc::SI_KERNEL, libc::SIGTRAP) => pc.wrapping_sub(1),
            (libc::SI_KERNEL, _) => pc,
            _ => addr,
        };
        FAULT_SIG.store(sig, Ordering::SeqCst);
        FAULT_ADDR.store(addr, Ordering::SeqCst);
        FAULT_PC.store(pc, Ordering::SeqCst);
        uc.uc_mcontext.gregs[libc::REG_RIP as usize] = zv_exit_path as *const () as usize as i64;
        return;
    }
    // A fault in host code is a runtime bug, never a guest fault: die of it.
    // SAFETY: restoring the default action and returning re-executes the faulting
    // instruction (or re-delivers the signal), which then terminates the process.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        if code <= 0 {
            raise_here(sig);
        }
    }
}

const ALT_STACK: usize = 256 * 1024;

/// The alternate signal stack. A static in .bss rather than an allocation: no system call
/// at start-up or exit, and only the pages a handler touches are ever faulted in.
struct AltStack(std::cell::UnsafeCell<[u8; ALT_STACK]>);
// SAFETY: Rust code never reads or writes the array; only the kernel does, when it
// delivers a signal on it (one handler at a time: the handlers run on the one thread
// that enters the guest).
unsafe impl Sync for AltStack {}
static ALT: AltStack = AltStack(std::cell::UnsafeCell::new([0; ALT_STACK]));

/// Installs the fault, timer and termination handlers on an alternate stack (the guest's
/// stack is guest memory and never used by the host). A termination signal that zvrun
/// was started with ignored (`nohup`, a shell's background job) stays ignored. Only the
/// first call installs them (zvrun's `main` installs them before it reads the manifest,
/// the session again for library users); later calls do nothing.
pub fn install_signal_handlers() -> io::Result<()> {
    static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if INSTALLED.load(Ordering::SeqCst) {
        return Ok(());
    }
    install_signal_handlers_now()?;
    INSTALLED.store(true, Ordering::SeqCst);
    Ok(())
}

fn install_signal_handlers_now() -> io::Result<()> {
    let ss = libc::stack_t { ss_sp: ALT.0.get().cast::<libc::c_void>(), ss_flags: 0, ss_size: ALT_STACK };
    // SAFETY: the stack is a static, so it lives as long as the process.
    if unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let faults = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGTRAP, libc::SIGALRM];
    for sig in faults.into_iter().chain(TERMINATING) {
        // SAFETY: a zeroed sigaction is a valid starting point; the handler has the
        // SA_SIGINFO signature.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as usize;
        // The stop signals (the timer's and the termination signals) are blocked while
        // any handler runs, so they never nest: with SA_NODEFER a storm of them (kill in a
        // loop) nested handler frames until they overflowed the alternate stack and the
        // kernel killed zvrun with SIGSEGV, with no report (security review). One that
        // comes meanwhile is delivered when the handler returns. A fault signal keeps
        // SA_NODEFER: a fault in a handler is a runtime bug and ends the process.
        let stop = sig == libc::SIGALRM || TERMINATING.contains(&sig);
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | if stop { 0 } else { libc::SA_NODEFER };
        // SAFETY: sa_mask is a valid sigset inside sa; the signals added are valid.
        unsafe {
            libc::sigemptyset(&mut sa.sa_mask);
            for s in TERMINATING.into_iter().chain([libc::SIGALRM]) {
                libc::sigaddset(&mut sa.sa_mask, s);
            }
        }
        // SAFETY: a zeroed sigaction is a valid buffer for the old action.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: installing a handler for a valid signal number; `old` is writable.
        if unsafe { libc::sigaction(sig, &sa, &mut old) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if TERMINATING.contains(&sig) && old.sa_sigaction == libc::SIG_IGN {
            // SAFETY: putting back the action the kernel just returned.
            if unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

fn arm_timer_ms(ms: u64) {
    let it = libc::itimerval {
        it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
        it_value: libc::timeval { tv_sec: (ms / 1000) as _, tv_usec: ((ms % 1000) * 1000) as _ },
    };
    // SAFETY: setitimer reads a valid itimerval.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}

/// Set once the wall-clock timeout is running ([`arm_timeout`]).
static TIMEOUT_ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Starts the wall-clock timeout, unless it is running already: zvrun's `main` starts a
/// `--timeout` before it reads the manifest and opens the program (FIFOs that may block),
/// and the session, which arms it again, must not restart it.
pub fn arm_timeout(seconds: u64) {
    if !TIMEOUT_ARMED.swap(true, Ordering::SeqCst) {
        arm_timer_ms(seconds.saturating_mul(1000));
    }
}

/// [`arm_timeout`] in milliseconds (a daemon's forked session: what is left of its
/// request's timeout after the time it waited in the socket's queue).
pub fn arm_timeout_ms(ms: u64) {
    if !TIMEOUT_ARMED.swap(true, Ordering::SeqCst) {
        arm_timer_ms(ms.max(1));
    }
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine (a
/// daemon-mode client stamps its request with it).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec, which lives for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// Stops the timeout.
pub fn disarm_timeout() {
    arm_timer_ms(0);
    TIMEOUT_ARMED.store(false, Ordering::SeqCst);
}

/// Whether the ymm registers exist (and must be zeroed with `vzeroall`): 0 not known
/// yet, 1 no, 2 yes. Set by [`probe_vector_state`] before the seccomp filter.
static AVX_STATE: AtomicU8 = AtomicU8::new(0);

/// Asks the kernel which register state it saves for user space (one arch_prctl,
/// ARCH_GET_XCOMP_SUPP, Linux 5.16+), so that start-up needs no CPUID: CPUID traps to the
/// hypervisor in virtual machines (10.8 us each on the benchmark machine). Call before
/// the seccomp filter (which does not allow arch_prctl); falls back to CPUID.
pub fn probe_vector_state() {
    const ARCH_GET_XCOMP_SUPP: libc::c_int = 0x1021;
    let mut mask: u64 = 0;
    // SAFETY: arch_prctl(ARCH_GET_XCOMP_SUPP, &u64) writes one u64 through the pointer,
    // which points to a live local.
    let r = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_GET_XCOMP_SUPP, &mut mask as *mut u64) };
    // x87 and SSE state (bits 0 and 1) are always there: an answer without them is not
    // the kernel's (an emulator, a filter returning 0), so CPUID decides instead.
    let avx = if r == 0 && mask & 0b11 == 0b11 { mask & 0b110 == 0b110 } else { cpuid_avx() };
    AVX_STATE.store(if avx { 2 } else { 1 }, Ordering::SeqCst);
}

/// Whether the CPU and the OS support AVX, from CPUID leaf 1 and XGETBV.
fn cpuid_avx() -> bool {
    let ecx = std::arch::x86_64::__cpuid(1).ecx;
    let (osxsave, avx) = (ecx & (1 << 27) != 0, ecx & (1 << 28) != 0);
    if !(osxsave && avx) {
        return false;
    }
    let (lo, _hi): (u32, u32);
    // SAFETY: XGETBV with ECX=0 is valid when CPUID reports OSXSAVE (checked above); it
    // only writes edx:eax.
    unsafe { std::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") _hi, options(nomem, nostack)) };
    lo & 0b110 == 0b110
}

fn has_avx() -> bool {
    match AVX_STATE.load(Ordering::SeqCst) {
        1 => false,
        2 => true,
        // Not probed: CPUID is an instruction, not a system call, so it is allowed here.
        _ => cpuid_avx(),
    }
}

/// Runs the guest from `entry` with %rsp = `rsp` until it leaves, faults or times out.
pub fn run_guest(entry: u64, rsp: u64, handler: &mut dyn TrapHandler) -> RunEnd {
    ctx(slot::ENTRY).store(entry, Ordering::SeqCst);
    ctx(slot::START_RSP).store(rsp, Ordering::SeqCst);
    ctx(slot::START_MXCSR).store(0x1F80, Ordering::SeqCst);
    ctx(slot::HAS_AVX).store(u64::from(has_avx()), Ordering::SeqCst);
    FAULT_SIG.store(0, Ordering::SeqCst);
    // The session may already be stopping (a termination signal or the timeout while the
    // program was loaded): the guest must not run at all, not even until the handler's
    // next 10 ms interruption (a guest once wrote its output after "killed by SIGTERM").
    // The flag is cleared before `stopping` is read, so a stop between the two sets it
    // again, and zv_enter_guest tests it last.
    ctx(slot::EXIT_FLAG).store(0, Ordering::SeqCst);
    if stopping() {
        ctx(slot::EXIT_FLAG).store(1, Ordering::SeqCst);
    }
    // SAFETY: erasing the lifetime of the handler pointer is sound because it is cleared
    // below before `handler`'s borrow ends, and the guest cannot call into the runtime
    // after zv_enter_guest returns.
    let h: *mut (dyn TrapHandler + 'static) = unsafe { std::mem::transmute(handler as *mut dyn TrapHandler) };
    HANDLER.with(|c| c.set(Some(h)));
    // SAFETY: zv_enter_guest saves the host's callee-saved registers and stack pointer,
    // runs verified guest code (which can only reach the host through the trampoline,
    // i.e. zv_trap_entry, or through a signal redirected to zv_exit_path), and returns
    // here through zv_exit_path with those registers restored.
    unsafe { zv_enter_guest() };
    HANDLER.with(|c| c.set(None));
    let sig = FAULT_SIG.load(Ordering::SeqCst);
    if sig != 0 {
        RunEnd::Fault { signal: sig, addr: FAULT_ADDR.load(Ordering::SeqCst), pc: FAULT_PC.load(Ordering::SeqCst) }
    } else if let Some(reason) = stop_reason() {
        RunEnd::Stopped(reason)
    } else {
        RunEnd::Left
    }
}

/// Forbids gaining privileges and installs the seccomp filter that limits the runtime
/// to the system calls listed in `allowed` (mprotect additionally never with W+X; fcntl
/// only F_GETFD, and F_GETFL when `getfl`: daemon mode).
pub fn lock_down(allowed: &[i64], getfl: bool) -> Result<(), String> {
    let prog = crate::filter::compact_with(allowed, getfl)?;
    // apply_filter sets PR_SET_NO_NEW_PRIVS first, then installs the program.
    seccompiler::apply_filter(&prog).map_err(|e| format!("seccomp install: {e}"))
}

/// Process start-up for the `zvrun` binary, which has its own C `main` instead of Rust's
/// runtime start (`#![no_main]`): the parts of that start-up zvrun needs, without the
/// rest (a guard page and alternate stack for stack-overflow reports, probes of signal
/// dispositions: a dozen system calls, and zvrun installs its own handlers before it
/// enters a guest). Returns the arguments after argv[0].
///
/// - File descriptors 0, 1 and 2 that are closed are opened on /dev/null (as Rust's
///   start-up does), so no file zvrun opens later lands on a standard stream.
/// - SIGPIPE is ignored (as Rust's start-up does): a write to a closed pipe is an error
///   zvrun reports (a channel's, a report's), not the end of the runtime. So is SIGXFSZ:
///   a write past RLIMIT_FSIZE fails with EFBIG.
///
/// # Safety
///
/// `argv` must hold `argc` pointers to NUL-terminated strings that live as long as the
/// process: what the C start-up code passes to `main` (see [`crate::process_entry`]).
pub unsafe fn process_start(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    hold_termination(true);
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    // SAFETY: `fds` is a valid array of three pollfd structures for the duration of the call.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } >= 0;
    for p in fds {
        // When poll itself fails (RLIMIT_NOFILE below 3, no memory), ask each descriptor.
        let closed = if polled {
            p.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD reads a descriptor's flags and touches no memory.
            let r = unsafe { libc::fcntl(p.fd, libc::F_GETFD) };
            r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        };
        if closed {
            // SAFETY: a NUL-terminated path; open has no other memory effects. The
            // lowest free descriptor is the closed standard one.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd < 0 {
                std::process::abort();
            }
        }
    }
    // SAFETY: setting a signal to SIG_IGN touches no memory of ours.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // A guest's write past RLIMIT_FSIZE fails with EFBIG (a host I/O error, which ends
    // the session with a report) instead of killing zvrun before it reports.
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let n = usize::try_from(argc).unwrap_or(0);
    (1..n)
        .filter_map(|i| {
            // SAFETY: `argv` holds `argc` valid pointers (the caller's contract).
            let p = unsafe { *argv.add(i) };
            // SAFETY: `p` is a NUL-terminated string that lives as long as the process (the
            // caller's contract), checked for NULL first.
            (!p.is_null())
                .then(|| std::ffi::OsStr::from_bytes(unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()).into())
        })
        .collect()
}

/// The kernel-interface file systems a channel may not use (statfs magic numbers):
/// proc (a channel on /proc/self/mem would write zvrun's own memory, whatever its
/// protections) and the others that expose kernel state or control rather than data.
const KERNEL_FS: [(i64, &str); 17] = [
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0xcafe_4a11, "bpf"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0xf97c_ff8c, "selinuxfs"),
    (0x4341_5d53, "smackfs"),
    (0x6265_6570, "configfs"),
    (0xde5e_81e4, "efivarfs"),
    (0x6165_676c, "pstore"),
    (0x6573_5546, "fusectl"),
    (0x6e73_6673, "nsfs"),
    (0x5a3c_69f0, "aafs"),
];

/// The name of the kernel-interface file system `f` lives on, if it does (see
/// [`KERNEL_FS`]); `None` for ordinary files, devices and pipes. When statfs fails the
/// file is treated as one (refused: fail closed).
pub fn kernel_fs(f: &std::fs::File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `f` is an open descriptor and `st` a writable statfs buffer; fstatfs only
    // writes `st`.
    if unsafe { libc::fstatfs(f.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return Some("unknown (fstatfs failed)");
    }
    // SAFETY: fstatfs returned 0, so it filled `st`.
    // f_type is a signed long in glibc, an unsigned one in musl.
    #[allow(clippy::unnecessary_cast)]
    let magic = unsafe { st.assume_init() }.f_type as i64;
    KERNEL_FS.iter().find(|&&(m, _)| m == magic).map(|&(_, name)| name)
}

/// Sets the process's file-mode creation mask, returning the previous one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask only swaps the process's mask; it touches no memory.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// Ends the process with `status` at once (`_exit`): no Rust or C exit handlers and no
/// flushing of Rust's stdout buffer, which the caller must not have used unflushed.
pub fn exit_now(status: i32) -> ! {
    // SAFETY: _exit takes no pointers and does not return.
    unsafe { libc::_exit(status) }
}

/// Sends `sig` to the calling thread with tgkill, which the seccomp filter allows (musl's
/// `raise` uses tkill, which it does not: the process died of SIGSYS instead).
fn raise_here(sig: libc::c_int) {
    // SAFETY: tgkill, getpid and gettid take no pointers.
    unsafe {
        libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::syscall(libc::SYS_gettid), sig);
    }
}

/// Ends the process by termination signal `sig` with its default action, once the
/// session's report is written: its parent sees a process killed by `sig` (a shell's `$?`
/// is 128 + n, and a script's loop stops on Ctrl-C instead of going on to the next
/// command). The seccomp filter allows what this needs (rt_sigaction, rt_sigprocmask,
/// getpid, gettid, tgkill); `_exit(128 + sig)` if the signal somehow does not end the process.
pub fn die_of(sig: i32) -> ! {
    // SAFETY: a zeroed sigaction with SIG_DFL is a valid action; the signal set is a
    // local; raise sends `sig` to this thread, whose default action ends the process.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        raise_here(sig);
        libc::_exit(128 + sig)
    }
}

/// Defines the process entry of a binary (the C `main`, called by the C start-up code):
/// [`process_start`], then `$run` (which never returns) with the arguments after
/// argv[0]; a panic ends the process with status 125. The binary declares `#![no_main]`.
#[macro_export]
macro_rules! process_entry {
    ($run:path) => {
        /// The process entry (see `zvrun::process_entry`).
        #[no_mangle]
        extern "C" fn main(argc: ::std::ffi::c_int, argv: *const *const ::std::ffi::c_char) -> ::std::ffi::c_int {
            // SAFETY: the C start-up code calls `main` with the argc and argv the kernel
            // gave the process: `argc` NUL-terminated strings that live until exit.
            let args = unsafe { $crate::sys::process_start(argc, argv) };
            // A panic cannot unwind out of a C function: it ends the process with the
            // status of a session that could not run (125), after the panic message.
            match ::std::panic::catch_unwind(move || $run(args)) {
                Ok(never) => never,
                Err(_) => ::std::process::exit(125),
            }
        }
    };
}

/// Appends exactly `n` bytes of `f`, read at offset `at`, to `buf`, straight into its
/// spare capacity (no zero-filling first: that would touch every page twice). An end of
/// file before `n` bytes is `UnexpectedEof`.
pub fn pread_append(f: &std::fs::File, buf: &mut Vec<u8>, n: usize, mut at: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    buf.try_reserve_exact(n).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut left = n;
    while left > 0 {
        let spare = buf.spare_capacity_mut();
        let off = libc::off_t::try_from(at).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the kernel writes at most `left` bytes, and `left <= spare.len()` (the
        // capacity reserved above minus what was appended since).
        let r = unsafe { libc::pread(f.as_raw_fd(), spare.as_mut_ptr().cast(), left, off) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let r = r as usize;
        // SAFETY: the kernel initialised the `r` bytes after the current length.
        unsafe { buf.set_len(buf.len() + r) };
        left -= r;
        at += r as u64;
    }
    Ok(())
}

/// zvrun's memory allocator: bump allocation in a static arena, falling back to the C
/// library's allocator for large blocks and once the arena is used up.
///
/// A zvrun process makes a few hundred small allocations, almost all at start-up, and
/// exits. musl's allocator maps and unmaps a page for many of them (a dozen mmap/munmap
/// pairs per run, ~5% of a hello-world session); the arena is in .bss, so it costs no
/// system call and only the pages used are ever faulted in. Freed arena memory is
/// reused only when it is the most recent allocation (a vector growing or dropped right
/// after its use); the rest stays allocated until exit. That bounds what a long session
/// can waste to the arena's size: calls made while the guest runs do not allocate,
/// except Jail, whose verifier buffers come from the C allocator once the arena is full
/// (see [`prepare_c_allocator`]).
pub struct Arena;

/// Arena size. Blocks larger than a quarter of it go to the C allocator.
const ARENA: usize = 8 << 20;

struct ArenaBytes(std::cell::UnsafeCell<[u8; ARENA]>);
// SAFETY: the bytes are handed out in disjoint blocks (the bump pointer below is advanced
// atomically); each block is used only by its owner, as GlobalAlloc's contract requires.
unsafe impl Sync for ArenaBytes {}
static ARENA_BYTES: ArenaBytes = ArenaBytes(std::cell::UnsafeCell::new([0; ARENA]));
/// Offset of the first free byte of the arena.
static ARENA_NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Initialises the C allocator while every system call is still allowed (called before
/// the seccomp filter): the arena falls back to it for large blocks and once it is used
/// up, which can happen while the guest runs (Jail's verifier copies the region), and
/// glibc's first malloc asks for random bytes (getrandom), which the filter forbids.
/// musl's needs no such call (its secret comes from AT_RANDOM), and setting it up costs
/// ~20 us of brk and mmap, so the static musl build leaves it to its first use.
pub fn prepare_c_allocator() {
    #[cfg(not(target_env = "musl"))]
    // SAFETY: malloc and free of one small block, in the documented pairing. black_box
    // keeps the optimiser from removing the pair (it knows what malloc and free do).
    unsafe {
        libc::free(std::hint::black_box(libc::malloc(64)))
    };
}

impl Arena {
    fn base() -> usize {
        ARENA_BYTES.0.get() as usize
    }
    fn owns(p: *mut u8) -> bool {
        let p = p as usize;
        p >= Self::base() && p < Self::base() + ARENA
    }
    /// A block of `size` bytes aligned to `align` from the arena, if there is room.
    fn bump(size: usize, align: usize) -> Option<*mut u8> {
        if size > ARENA / 4 {
            return None;
        }
        let base = Self::base();
        let mut cur = ARENA_NEXT.load(Ordering::Acquire);
        loop {
            let start = (base + cur).checked_next_multiple_of(align)? - base;
            let end = start.checked_add(size).filter(|&e| e <= ARENA)?;
            match ARENA_NEXT.compare_exchange_weak(cur, end, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some((base + start) as *mut u8),
                Err(now) => cur = now,
            }
        }
    }
}

// SAFETY: blocks never overlap (the bump pointer only moves past a block once it is
// handed out, and moves back over a block only when that block is freed or resized and
// is the last one); alignment is honoured; blocks outside the arena are the C
// allocator's and go back to it.
unsafe impl std::alloc::GlobalAlloc for Arena {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        match Self::bump(l.size(), l.align()) {
            Some(p) => p,
            // SAFETY: the caller's layout contract is passed on unchanged.
            None => unsafe { std::alloc::System.alloc(l) },
        }
    }

    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        match Self::bump(l.size(), l.align()) {
            Some(p) => {
                // SAFETY: `p` is a fresh block of `l.size()` bytes (it may have been used
                // and given back before, so it is cleared).
                unsafe { p.write_bytes(0, l.size()) };
                p
            }
            // SAFETY: as in `alloc`; the C allocator's calloc gets fresh zero pages for
            // large blocks instead of clearing them.
            None => unsafe { std::alloc::System.alloc_zeroed(l) },
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        if Self::owns(p) {
            // The most recent block is given back; any other stays allocated.
            let off = p as usize - Self::base();
            let _ = ARENA_NEXT.compare_exchange(off + l.size(), off, Ordering::AcqRel, Ordering::Acquire);
        } else {
            // SAFETY: `p` came from the C allocator with this layout (the caller's contract).
            unsafe { std::alloc::System.dealloc(p, l) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if !Self::owns(p) {
            // SAFETY: `p` came from the C allocator with layout `l` (the caller's contract).
            return unsafe { std::alloc::System.realloc(p, l, new_size) };
        }
        let off = p as usize - Self::base();
        // The last block grows or shrinks in place while it fits.
        if off + new_size <= ARENA
            && ARENA_NEXT.compare_exchange(off + l.size(), off + new_size, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            return p;
        }
        if new_size <= l.size() {
            return p;
        }
        // SAFETY: `new_size` is non-zero (it exceeds the old size) and, rounded up to the
        // alignment, does not overflow (GlobalAlloc::realloc's contract).
        let n = unsafe { self.alloc(std::alloc::Layout::from_size_align_unchecked(new_size, l.align())) };
        if !n.is_null() {
            // SAFETY: both blocks are valid for the old size and do not overlap (the new
            // one was just handed out).
            unsafe {
                std::ptr::copy_nonoverlapping(p, n, l.size());
                self.dealloc(p, l);
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_answer_about_avx_matches_cpuid() {
        probe_vector_state();
        let probed = AVX_STATE.load(Ordering::SeqCst);
        assert_ne!(probed, 0);
        assert_eq!(probed == 2, cpuid_avx());
        assert_eq!(has_avx(), cpuid_avx());
    }

    #[test]
    fn slot_numbers_match_the_offsets_in_the_assembly() {
        let pairs = [
            (slot::HOST_RSP, 0),
            (slot::HOST_MXCSR, 8),
            (slot::HOST_FCW, 16),
            (slot::GUEST_RSP, 24),
            (slot::GUEST_RBX, 32),
            (slot::GUEST_MXCSR, 80),
            (slot::GUEST_FCW, 88),
            (slot::ENTRY, 96),
            (slot::EXIT_FLAG, 104),
            (slot::HAS_AVX, 112),
            (slot::START_RSP, 120),
            (slot::START_MXCSR, 128),
            (slot::GUEST_X87, 160),
        ];
        for (s, off) in pairs {
            assert_eq!(s * 8, off);
        }
    }

    /// A stop that came before the guest was entered (a termination signal or the
    /// timeout while the program was loaded) keeps the guest from running at all: it used
    /// to run until the handler's next 10 ms interruption, and a guest wrote its output
    /// after the session was reported killed. The entry here is address 0, never mapped:
    /// entering it would kill this test process.
    #[test]
    fn a_stopped_session_never_enters_the_guest() {
        struct NoCalls;
        impl TrapHandler for NoCalls {
            fn trap(&mut self, _: u64) -> TrapOutcome {
                TrapOutcome::Leave
            }
            fn can_return(&self, _: u64) -> bool {
                false
            }
        }
        // What the handler does for a SIGTERM in host code.
        STOP_REASON.store(libc::SIGTERM, Ordering::SeqCst);
        STOPPING.store(true, Ordering::SeqCst);
        ctx(slot::EXIT_FLAG).store(1, Ordering::SeqCst);
        let end = run_guest(0, 0, &mut NoCalls);
        STOPPING.store(false, Ordering::SeqCst);
        STOP_REASON.store(0, Ordering::SeqCst);
        assert_eq!(end, RunEnd::Stopped(libc::SIGTERM));
    }

    /// The arena is one per process: its tests take turns.
    static ARENA_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn the_arena_hands_out_disjoint_aligned_blocks_and_falls_back_when_full() {
        use std::alloc::{GlobalAlloc, Layout};
        let _turn = ARENA_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let a = Arena;
        let l = |n: usize, al: usize| Layout::from_size_align(n, al).unwrap();
        // SAFETY: every block is used within its layout and freed with it.
        unsafe {
            let p = a.alloc(l(10, 1));
            let q = a.alloc(l(64, 64));
            assert!(Arena::owns(p) && Arena::owns(q));
            assert_eq!(q as usize % 64, 0);
            assert!(q as usize >= p as usize + 10);
            p.write_bytes(0xAA, 10);
            // The last block grows in place; an earlier one moves and keeps its bytes.
            q.write_bytes(0x55, 64);
            assert_eq!(a.realloc(q, l(64, 64), 4096), q);
            let p2 = a.realloc(p, l(10, 1), 100);
            assert_ne!(p2, p);
            assert_eq!(std::slice::from_raw_parts(p2, 10), &[0xAA; 10]);
            assert_eq!(std::slice::from_raw_parts(q, 64), &[0x55; 64]);
            // Freeing the last block gives its bytes back.
            a.dealloc(p2, l(100, 1));
            let p3 = a.alloc(l(100, 1));
            assert_eq!(p3, p2);
            a.dealloc(p3, l(100, 1));
            a.dealloc(q, l(4096, 64));
            // Large blocks come from the C allocator, as do blocks once the arena is full.
            let big = a.alloc(l(ARENA / 2, 8));
            assert!(!big.is_null() && !Arena::owns(big));
            big.write_bytes(1, ARENA / 2);
            let grown = a.realloc(big, l(ARENA / 2, 8), ARENA);
            assert!(!grown.is_null() && !Arena::owns(grown));
            a.dealloc(grown, l(ARENA, 8));
            let mut held = Vec::new();
            let mut fell_back = false;
            for _ in 0..8 {
                let b = a.alloc(l(ARENA / 4, 4096));
                assert!(!b.is_null());
                fell_back |= !Arena::owns(b);
                held.push(b);
            }
            assert!(fell_back, "eight quarter-arena blocks cannot all fit");
            for b in held.into_iter().rev() {
                a.dealloc(b, l(ARENA / 4, 4096));
            }
        }
    }

    #[test]
    fn arena_blocks_from_many_threads_do_not_overlap() {
        use std::alloc::{GlobalAlloc, Layout};
        let _turn = ARENA_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let blocks: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|t| {
                    s.spawn(move || {
                        (0..500)
                            .map(|i| {
                                let n = 1 + (i * 7 + t) % 200;
                                // SAFETY: the block is filled within its size and kept (not freed).
                                let p = unsafe { Arena.alloc(Layout::from_size_align(n, 8).unwrap()) };
                                // SAFETY: as above.
                                unsafe { p.write_bytes(t as u8, n) };
                                (p as usize, n)
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<(usize, usize, usize)> =
            blocks.iter().enumerate().flat_map(|(t, v)| v.iter().map(move |&(p, n)| (p, n, t))).collect();
        all.sort_unstable();
        for w in all.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "overlap");
        }
        for &(p, n, t) in &all {
            // SAFETY: each block is still allocated and was filled above.
            assert!(unsafe { std::slice::from_raw_parts(p as *const u8, n) }.iter().all(|&b| b == t as u8));
        }
    }
}

/// Daemon mode's host calls (RUNTIME.md section 7, [`crate::daemon`]): the job socket (a
/// Unix `SOCK_SEQPACKET` socket: one request or response is one message, channel
/// descriptors travel with it as `SCM_RIGHTS`), the fork of a warm session, and the
/// stricter seccomp filter a forked session adds on top of the daemon's.
pub mod job {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
    use std::path::Path;

    /// The most descriptors one request carries (the kernel's SCM_MAX_FD).
    pub const MAX_FDS: usize = 253;

    fn address(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
        let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        a.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let b = path.as_os_str().as_bytes();
        if b.is_empty() || b.len() >= a.sun_path.len() || b.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a socket path must be 1 to {} bytes without NUL", a.sun_path.len() - 1),
            ));
        }
        for (d, &s) in a.sun_path.iter_mut().zip(b) {
            *d = s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sa_family_t>() + b.len() + 1;
        Ok((a, len as libc::socklen_t))
    }

    fn socket() -> io::Result<OwnedFd> {
        // SAFETY: socket takes no pointers; the descriptor it returns is owned here.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// A listening socket bound at `path` (created with mode 0600: only the daemon's user
    /// may send it requests).
    pub fn listen(path: &Path) -> io::Result<OwnedFd> {
        let (a, len) = address(path)?;
        let s = socket()?;
        let old = super::set_umask(0o177);
        // SAFETY: `a` is a valid sockaddr_un of `len` bytes for the duration of the call.
        let r = unsafe { libc::bind(s.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) };
        let err = io::Error::last_os_error();
        super::set_umask(old);
        if r != 0 {
            return Err(err);
        }
        // SAFETY: listen takes no pointers.
        if unsafe { libc::listen(s.as_raw_fd(), 128) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(s)
    }

    /// A connection to the socket at `path` (interrupted by a signal like any call: the
    /// caller decides whether to retry).
    pub fn connect(path: &Path) -> io::Result<OwnedFd> {
        let (a, len) = address(path)?;
        let s = socket()?;
        // SAFETY: `a` is a valid sockaddr_un of `len` bytes for the duration of the call.
        if unsafe { libc::connect(s.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(s)
    }

    /// The next connection on `l`. Not retried on EINTR (std's accept is): a termination
    /// signal must be able to end the daemon.
    pub fn accept(l: BorrowedFd<'_>) -> io::Result<OwnedFd> {
        // SAFETY: null address pointers ask for no peer address; the descriptor returned
        // is new and owned here.
        let fd =
            unsafe { libc::accept4(l.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Sends one message: `bytes`, with `fds` attached. Without descriptors it is one
    /// write (a record on this socket), the call a forked session's seccomp filter allows
    /// for its response.
    pub fn send(s: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
        if fds.len() > MAX_FDS {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("more than {MAX_FDS} descriptors")));
        }
        let space = if fds.is_empty() {
            0
        } else {
            // SAFETY: CMSG_SPACE only computes a size.
            unsafe { libc::CMSG_SPACE(std::mem::size_of_val(fds) as u32) as usize }
        };
        // u64 elements: the control buffer must be aligned for cmsghdr.
        let mut control = vec![0u64; space.div_ceil(8)];
        let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
        // SAFETY: msghdr is plain data; all zeroes is a valid (empty) value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if space > 0 {
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            // SAFETY: msg_control points to `space` writable, aligned bytes, enough for one
            // header and the descriptors (CMSG_SPACE above); CMSG_FIRSTHDR is then non-null
            // and CMSG_DATA lies inside the buffer.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(&msg);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
                std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast::<RawFd>(), fds.len());
            }
        }
        loop {
            let n = if fds.is_empty() {
                // SAFETY: `bytes` is readable for its length for the call. SIGPIPE is
                // ignored by zvrun (process_start): a closed peer is EPIPE.
                unsafe { libc::write(s.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) }
            } else {
                // SAFETY: `msg` points to `iov` (the caller's bytes, only read) and
                // `control`, both alive for the call.
                unsafe { libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) }
            };
            if n >= 0 {
                return if n as usize == bytes.len() {
                    Ok(())
                } else {
                    Err(io::Error::new(io::ErrorKind::WriteZero, "message cut short"))
                };
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted || super::stopping() {
                return Err(e);
            }
        }
    }

    /// Receives one message of at most `max` bytes and the descriptors attached to it
    /// (close-on-exec). A longer message or more descriptors than [`MAX_FDS`] is an
    /// error (what was attached is closed). `Ok` with no bytes: the peer closed.
    pub fn recv(s: BorrowedFd<'_>, max: usize) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
        // Not zeroed: only the bytes the kernel writes are kept (zeroing a 1 MiB buffer
        // was half of a forked session's time).
        let mut buf: Vec<u8> = Vec::with_capacity(max);
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) as usize };
        let mut control = vec![0u64; space.div_ceil(8)];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: max };
        // SAFETY: msghdr is plain data; all zeroes is a valid (empty) value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let n = loop {
            // SAFETY: `msg` points to `iov` over `buf` and to `control`, both writable
            // and alive for the call.
            let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted || super::stopping() {
                return Err(e);
            }
        };
        let mut fds = Vec::new();
        // SAFETY: recvmsg filled `control` and set msg_controllen; CMSG_FIRSTHDR and
        // CMSG_NXTHDR walk only the headers inside it, and each SCM_RIGHTS payload holds
        // (cmsg_len - CMSG_LEN(0)) / 4 descriptors the kernel just installed in this
        // process, which become owned here (so they are closed on every path).
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    let data = libc::CMSG_DATA(c).cast::<RawFd>();
                    for i in 0..bytes / std::mem::size_of::<RawFd>() {
                        fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if msg.msg_flags & libc::MSG_TRUNC != 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("message larger than {max} bytes")));
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("more than {MAX_FDS} descriptors")));
        }
        // SAFETY: recvmsg wrote `n` <= max bytes at the start of `buf`'s allocation
        // (MSG_TRUNC was not set, so n is what it wrote, not a longer message's length).
        unsafe { buf.set_len(n) };
        Ok((buf, fds))
    }

    /// Forks the process (the fork system call itself: a copy of this single-threaded
    /// process with copy-on-write memory, the guest's included). `None` in the child, the
    /// child's process id in the parent.
    pub fn fork() -> io::Result<Option<i32>> {
        // SAFETY: zvrun runs one thread while a guest runs (session.rs: verification's
        // threads are joined before any guest code is executable), so no lock is held by
        // a thread the child would lack; fork takes no pointers. glibc's caches that a
        // raw fork leaves stale (the thread id) are not used: zvrun asks the kernel
        // (getpid, gettid) where it needs them.
        let r = unsafe { libc::syscall(libc::SYS_fork) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((r != 0).then_some(r as i32))
    }

    /// SIGCHLD to its default action: a zvrun started with it ignored (a supervisor's
    /// setting, `env --ignore-signal=CHLD`) would have its forked sessions reaped by the
    /// kernel, and the daemon could not count them (a review finding).
    pub fn default_sigchld() -> io::Result<()> {
        // SAFETY: a zeroed sigaction with SIG_DFL and no flags is a valid disposition;
        // the old one is not asked for.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            if libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Whether `fd` was opened for reading and for writing (fcntl F_GETFL, which the
    /// daemon's filter allows); an O_PATH descriptor is neither.
    pub fn access_mode(fd: BorrowedFd<'_>) -> io::Result<(bool, bool)> {
        // SAFETY: F_GETFL takes no pointer argument.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        if fl < 0 {
            return Err(io::Error::last_os_error());
        }
        if fl & libc::O_PATH != 0 {
            return Ok((false, false));
        }
        Ok(match fl & libc::O_ACCMODE {
            libc::O_RDONLY => (true, false),
            libc::O_WRONLY => (false, true),
            _ => (true, true),
        })
    }

    /// A forked session starts a session of its own, with no controlling terminal, as
    /// soon as it is forked: a Ctrl-C meant for the daemon does not end the sessions it
    /// started, and a session reading a client's terminal is not stopped as a background
    /// process (SIGTTIN), which its timeout could not end (review findings). Later it
    /// lets go of the daemon's standard streams ([`close_daemon_streams`]).
    pub fn detach_from_daemon() {
        // SAFETY: setsid takes no pointers. A forked process is never a process-group
        // leader, so it succeeds.
        unsafe {
            libc::setsid();
        }
    }

    /// The second half of [`detach_from_daemon`], once the request's descriptors are in
    /// place: the daemon's standard streams are closed.
    pub fn close_daemon_streams() {
        // SAFETY: close takes no pointers. Descriptors 0-2 are the process's standard
        // streams, which nothing in a forked session uses (its channels hold their own
        // descriptors, and it reports on its connection).
        unsafe {
            for fd in 0..3 {
                libc::close(fd);
            }
        }
    }

    /// Whether the peer of connection `s` has closed it (nothing more to read and the
    /// end reached), without waiting.
    pub fn peer_closed(s: BorrowedFd<'_>) -> bool {
        // MSG_PEEK leaves any data queued, MSG_DONTWAIT never blocks. (recvmsg, not
        // recv: recvfrom is not in the daemon's filter.)
        let mut b = [0u8; 1];
        let mut iov = libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: 1 };
        // SAFETY: msghdr is plain data; all zeroes is a valid (empty) value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: `msg` points to `iov` over `b`, alive for the call.
        let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
        n == 0
    }

    /// What [`reap_child`] found.
    pub enum Reaped {
        /// A child that ended, by process id.
        Child(i32),
        /// None has ended yet (without waiting).
        NoneYet,
        /// There are no children.
        NoChildren,
    }

    /// Reaps one child that has ended. With `wait`, blocks until one ends; a signal
    /// interrupts it (EINTR), so a termination signal can end the daemon while it waits.
    pub fn reap_child(wait: bool) -> io::Result<Reaped> {
        let flags = if wait { 0 } else { libc::WNOHANG };
        // SAFETY: wait4 with null status and rusage pointers writes nothing.
        let r = unsafe { libc::wait4(-1, std::ptr::null_mut(), flags, std::ptr::null_mut()) };
        if r > 0 {
            return Ok(Reaped::Child(r));
        }
        if r == 0 {
            return Ok(Reaped::NoneYet);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ECHILD) {
            return Ok(Reaped::NoChildren);
        }
        Err(e)
    }

    /// Adds the filter for `allowed` on top of the ones installed (filters stack: a call
    /// must pass all of them). No-new-privileges is already set by [`super::lock_down`].
    pub fn add_filter(allowed: &[i64]) -> Result<(), String> {
        let prog = crate::filter::compact(allowed)?;
        let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
        // SAFETY: `fprog` points to `prog`, a valid BPF program alive for the call; the
        // kernel copies it.
        let r = unsafe {
            libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &fprog as *const libc::sock_fprog)
        };
        if r != 0 {
            return Err(format!("seccomp install: {}", io::Error::last_os_error()));
        }
        Ok(())
    }
}
