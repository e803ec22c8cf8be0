//! The six calls (RUNTIME.md section 3), dispatched from the trap: argument checks in
//! the documented order, channel I/O with quotas, Jail/Unjail through the verifier, Exit
//! and Fork. Plain safe code over [`GuestMemory`]; the runtime never faults on a guest
//! pointer because every range is checked against the permissions it set.

use zvcore::abi::{EDQUOT, EFAULT, EINVAL, EPERM};
use zvcore::form::{self, call};

use crate::channel::Channel;
use crate::session::Ending;
use crate::sys::{GuestMemory, TrapHandler, TrapOutcome, PROT_R, PROT_W};

/// The host side of the six calls for one session.
pub struct Calls {
    /// Guest memory.
    pub mem: GuestMemory,
    /// Channels in guest order.
    pub channels: Vec<Channel>,
    heap: (u64, u64),
    /// The regions Jail accepted and Unjail has not released, `(start, end)`, sorted and
    /// disjoint. Each was verified as one unit (C7 admits a direct branch to any
    /// instruction start inside it), so it is released only whole, and no new region may
    /// overlap it: otherwise part of it could be rewritten and jailed again while the
    /// rest still branches into it (an escape a security review found).
    jailed: Vec<(u64, u64)>,
    /// A Jail or Unjail left memory in an unknown state: the trap ends the session.
    fatal: bool,
    /// Set when the session ends from host code (Exit or a host I/O error).
    pub ending: Option<Ending>,
    /// The job socket, until the guest's first Fork turns the session into a daemon
    /// ([`crate::daemon`]).
    pub job: Option<crate::daemon::Job>,
    /// The last byte the guest wrote to the file that is zvrun's stderr was not a newline
    /// (zvrun then starts its own message on a new line).
    pub stderr_line_open: bool,
}

impl Calls {
    /// A handler over loaded memory, open channels and the heap [start, end).
    pub fn new(mem: GuestMemory, channels: Vec<Channel>, heap_start: u64, heap_end: u64) -> Calls {
        Calls {
            mem,
            channels,
            heap: (heap_start, heap_end),
            jailed: Vec::new(),
            fatal: false,
            ending: None,
            job: None,
            stderr_line_open: false,
        }
    }

    /// The first `N` words of the guest's argument block (no allocation: this runs on
    /// every trap).
    fn words<const N: usize>(&self, at: u64) -> Option<[u64; N]> {
        let b = self.mem.read(at, N as u64 * 8)?;
        let mut w = [0u64; N];
        for (x, c) in w.iter_mut().zip(b.chunks_exact(8)) {
            *x = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        }
        Some(w)
    }

    fn io(&mut self, args: u64, write: bool) -> TrapOutcome {
        let Some(w) = self.words::<6>(args) else { return TrapOutcome::Return(-EFAULT) };
        let (ch, buf, size, offset) = (w[2], w[3], w[4] as i64, w[5] as i64);
        let Some(c) = usize::try_from(ch).ok().filter(|&c| c < self.channels.len()) else {
            return TrapOutcome::Return(-EINVAL);
        };
        let limits = self.channels[c].limits();
        if (write && !limits.writable()) || (!write && !limits.readable()) {
            return TrapOutcome::Return(-EINVAL);
        }
        if size < 0 {
            return TrapOutcome::Return(-EFAULT);
        }
        if offset < 0 {
            return TrapOutcome::Return(-EINVAL);
        }
        let need = if write { PROT_R } else { PROT_W };
        if !self.mem.check(buf, size as u64, need) {
            return TrapOutcome::Return(-EINVAL);
        }
        let chan = &mut self.channels[c];
        let (count_i, bytes_i, max_count, max_bytes) =
            if write { (2, 3, limits.puts, limits.put_size) } else { (0, 1, limits.gets, limits.get_size) };
        if chan.used[count_i] >= max_count || chan.used[bytes_i] >= max_bytes {
            return TrapOutcome::Return(-EDQUOT);
        }
        let tail = (max_bytes - chan.used[bytes_i]) as u64;
        let n = (size as u64).min(tail);
        if write && chan.kind().random_write() && !chan.random_write_fits(offset as u64, n, tail) {
            return TrapOutcome::Return(-EINVAL);
        }
        chan.used[count_i] += 1;
        let mut last = None;
        let result = if write {
            match self.mem.read(buf, n) {
                Some(data) => {
                    let r = chan.write(data, offset as u64);
                    // The last byte that went out (a timeout can cut a write short).
                    if let Ok(done) = &r {
                        last = done.checked_sub(1).and_then(|i| data.get(i)).copied();
                    }
                    r
                }
                None => return TrapOutcome::Return(-EINVAL),
            }
        } else {
            match self.mem.write(buf, n) {
                Some(dst) => chan.read(dst, offset as u64),
                None => return TrapOutcome::Return(-EINVAL),
            }
        };
        // A write the host cut short (RLIMIT_FSIZE, the file system's largest file): the
        // bytes that went out count, and the session ends as for any host I/O error.
        let result = match (result, chan.take_cut_short()) {
            (Ok(done), Some(e)) => {
                chan.used[bytes_i] += done as i64;
                Err(e)
            }
            (r, _) => r,
        };
        match result {
            Ok(done) => {
                chan.used[bytes_i] += done as i64;
                if let (Some(b), true) = (last, chan.shares_stderr) {
                    self.stderr_line_open = b != b'\n';
                }
                TrapOutcome::Return(done as i64)
            }
            Err(e) => {
                // A host I/O error ends the session; the guest never sees host errors (nor
                // a host's file-size limit: EFBIG ends it too, RUNTIME.md section 3).
                if crate::sys::stopping() {
                    return TrapOutcome::Leave;
                }
                if write && e.raw_os_error() == Some(libc::EPIPE) {
                    // The reader of a pipe closed its end (`zvrun prog | head`): the
                    // session ends as a native program does, by SIGPIPE (status 141,
                    // quietly), not as a runtime failure (125).
                    self.ending = Some(Ending::Killed(libc::SIGPIPE));
                    return TrapOutcome::Leave;
                }
                let alias = chan.spec.alias.clone();
                self.ending = Some(Ending::Error(format!(
                    "channel {alias}: host I/O error during {}: {e}",
                    if write { "Write" } else { "Read" }
                )));
                TrapOutcome::Leave
            }
        }
    }

    /// Jail's and Unjail's region (RUNTIME.md section 3): 64 KiB-aligned, inside the heap,
    /// a positive multiple of 64 KiB; for Jail (`jail`) also below CODE_LIMIT, the end of
    /// executable memory. (Unjail of heap above it, which is never jailed, is 0 like any
    /// never-jailed memory; an audit found it -EINVAL, which RUNTIME.md lists for Jail only.)
    fn region(&self, args: u64, jail: bool) -> Result<(u64, u64), i64> {
        let w = self.words::<4>(args).ok_or(-EFAULT)?;
        let (addr, size) = (w[2], w[3]);
        let g = form::JAIL_GRANULE;
        let end = addr.checked_add(size).ok_or(-EINVAL)?;
        if size == 0
            || addr % g != 0
            || size % g != 0
            || addr < self.heap.0
            || end > self.heap.1
            || (jail && end > form::CODE_LIMIT)
        {
            return Err(-EINVAL);
        }
        Ok((addr, size))
    }

    fn jail(&mut self, args: u64) -> i64 {
        let (addr, size) = match self.region(args, true) {
            Ok(r) => r,
            Err(e) => return e,
        };
        let end = addr + size;
        // Jailed already, exactly: it is not writable, so its bytes are the ones verified.
        if self.jailed.contains(&(addr, end)) {
            return 0;
        }
        if self.jailed.iter().any(|&(s, e)| s < end && addr < e) {
            return -EINVAL;
        }
        let Some(bytes) = self.mem.read(addr, size) else { return -EINVAL };
        // Verified in pieces that stop when the session's time runs out (the trap then
        // ends the session with the timeout), however large the region.
        let opts = zvcore::Options { max_violations: 1 };
        match zvcore::verify_region_until(addr, bytes, zvcore::RegionKind::Jail, opts, crate::sys::stop_flag()) {
            Ok(code) => match self.mem.make_executable(&code) {
                Ok(()) => {
                    let at = self.jailed.partition_point(|&(s, _)| s < addr);
                    self.jailed.insert(at, (addr, end));
                    0
                }
                Err(e) => self.protect_failed("Jail", e),
            },
            Err(_) => -EPERM,
        }
    }

    /// An mprotect of Jail or Unjail that failed (out of kernel memory, a lowered
    /// vm.max_map_count): part of the range may have changed, so the recorded
    /// permissions no longer match the real ones. The session ends (never a guest run on
    /// memory in an unknown state).
    fn protect_failed(&mut self, what: &str, e: std::io::Error) -> i64 {
        self.ending = Some(Ending::Error(format!("{what}: the host could not change the region's protection: {e}")));
        self.fatal = true;
        -EINVAL
    }

    fn unjail(&mut self, args: u64) -> i64 {
        let (addr, size) = match self.region(args, false) {
            Ok(r) => r,
            Err(e) => return e,
        };
        let end = addr + size;
        // Every jailed region it touches must lie inside it: a region is released whole.
        if self.jailed.iter().any(|&(s, e)| s < end && addr < e && (s < addr || e > end)) {
            return -EINVAL;
        }
        match self.mem.protect(addr, size, PROT_R | PROT_W) {
            Ok(()) => {
                self.jailed.retain(|&(s, e)| !(s < end && addr < e));
                0
            }
            Err(e) => self.protect_failed("Unjail", e),
        }
    }

    /// Whether the trap can return to the guest: it reads the return address at the
    /// guest's stack pointer and masks it in place (P2), so those 8 bytes must be
    /// readable and writable guest memory.
    pub fn can_return(&self, rsp: u64) -> bool {
        self.mem.check(rsp, 8, PROT_R | PROT_W)
    }
}

impl TrapHandler for Calls {
    fn can_return(&self, rsp: u64) -> bool {
        Calls::can_return(self, rsp)
    }

    fn trap(&mut self, args: u64) -> TrapOutcome {
        let Some(id) = self.words::<1>(args).map(|w| w[0]) else { return TrapOutcome::Return(-EFAULT) };
        if id > u64::from(u32::MAX) {
            return TrapOutcome::Return(-EPERM);
        }
        match id as u32 {
            call::READ => self.io(args, false),
            call::WRITE => self.io(args, true),
            call::JAIL | call::UNJAIL | call::UNJAIL_AS_SPELLED => {
                let r = if id as u32 == call::JAIL { self.jail(args) } else { self.unjail(args) };
                if self.fatal {
                    TrapOutcome::Leave
                } else {
                    TrapOutcome::Return(r)
                }
            }
            call::EXIT => {
                let Some(w) = self.words::<3>(args) else { return TrapOutcome::Return(-EFAULT) };
                self.ending = Some(Ending::Exit(w[2] as i64));
                TrapOutcome::Leave
            }
            // Fork's array is the id and the reserved word: both must be readable.
            // Without a job socket (or in a forked session) Fork returns 0; with one, this
            // process becomes the daemon and only its forked sessions return from here.
            call::FORK => {
                if self.words::<2>(args).is_none() {
                    return TrapOutcome::Return(-EFAULT);
                }
                match self.job.take() {
                    None => TrapOutcome::Return(0),
                    Some(job) => match crate::daemon::serve(job, self) {
                        crate::daemon::Served::Child => TrapOutcome::Return(0),
                        crate::daemon::Served::Ended => TrapOutcome::Leave,
                    },
                }
            }
            _ => TrapOutcome::Return(-EPERM),
        }
    }
}
