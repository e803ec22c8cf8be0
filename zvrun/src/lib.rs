//! zvrun as a library: run verified nexes in the zv sandbox (RUNTIME.md). The binary
//! parses the command line into a [`session::SessionConfig`], runs it, writes the report
//! and maps the [`session::Outcome`] to the exit status.
#![deny(missing_docs)]

pub mod cache;
pub mod channel;
pub mod cli;
pub mod daemon;
pub mod filter;
pub mod image;
pub mod report;
pub mod session;
pub mod sys;
pub mod trap;

/// System calls the runtime may make once the guest is loaded (the seccomp allow-list).
///
/// Derived from what the trap dispatcher and reporting need, then checked by running the
/// whole integration suite under the filter (any other call kills the process with
/// SIGSYS, which the tests would see): channel I/O (read, write, pread64, pwrite64,
/// readv, writev, lseek), Jail/Unjail (mprotect, filtered so W+X is impossible), the
/// allocator (brk, munmap, mremap, madvise; mmap is allowed only without PROT_EXEC, a
/// rule of its own in [`filter`]), signals and the timeout (rt_sigreturn,
/// rt_sigprocmask, rt_sigaction, sigaltstack, setitimer, tgkill, getpid, gettid), std's
/// locks (futex), clocks (clock_gettime), closing channels (close, fsync, and fcntl F_GETFD only) and
/// ending (exit, exit_group).
pub const ALLOWED_SYSCALLS: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_lseek,
    libc::SYS_brk,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigaction,
    libc::SYS_sigaltstack,
    libc::SYS_setitimer,
    libc::SYS_tgkill,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_futex,
    libc::SYS_clock_gettime,
    libc::SYS_close,
    libc::SYS_fsync,
    libc::SYS_exit,
    libc::SYS_exit_group,
];
