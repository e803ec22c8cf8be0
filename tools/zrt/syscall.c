/* syscall.c: zrt's Linux system-call dispatcher (RUNTIME.md section 8).
 *
 * zvld rewrites every `syscall` instruction into a call of __zv_syscall (trap.S), which
 * saves the registers the kernel would keep and calls __zv_syscall_c with the words
 * [nr, a1, ..., a6]. This file maps each system call an unmodified musl program makes to
 * its answer on top of the six calls (zvm.h):
 *
 * - files and channels (files.c): read, write, readv, writev, pread64, pwrite64, lseek,
 *   open, openat, creat, close, dup, dup2, dup3, fstat, stat, lstat, newfstatat, statx,
 *   fcntl, ioctl, access, faccessat, faccessat2, getcwd, chdir, fchdir, getdents64,
 *   readlink, readlinkat, fsync, fdatasync, syncfs, flock, fadvise64, fallocate,
 *   truncate, ftruncate; the fixed name space
 *   (mkdir, mkdirat, mknod, mknodat, symlink, symlinkat, unlink, unlinkat, rmdir, rename,
 *   renameat, renameat2, link, linkat: Linux's lookup errors, EEXIST, else EROFS);
 * - pipes inside the guest (files.c, pipe.c): pipe, pipe2; poll, ppoll, select and
 *   pselect6 over every fd (poll.c), which never wait;
 * - memory inside the heap (memory.c): brk, mmap, munmap, mremap, madvise, mprotect;
 * - time, randomness, identity and limits (misc.c): clock_gettime, clock_getres,
 *   gettimeofday, time, getrandom, uname, prlimit64, getrlimit, setrlimit, sysinfo,
 *   sched_getaffinity, sched_setaffinity and getcpu (one CPU); times and getrusage report
 *   that no CPU time was used;
 * - here: exit and exit_group (Exit), arch_prctl (the thread pointer in __zv_tp),
 *   set_tid_address, the process, group, session and user ids, signal dispositions, the
 *   alternate signal stack and the signal mask
 *   (recorded and reported back, never delivered; a self-sent signal or SIGPIPE whose
 *   default is to terminate ends the guest), rt_sigtimedwait (takes pending signals),
 *   setitimer and getitimer (recorded; they never expire), sched_yield, umask (recorded); nanosleep
 *   and clock_nanosleep (misc.c: nothing advances, 0 once the arguments are valid).
 *
 * Everything else returns -ENOSYS, never a crash. No answer depends on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include "zrt.h"

/* arch_prctl codes (from the kernel's asm/prctl.h, which musl does not install). */
#define ZRT_ARCH_SET_FS 0x1002
#define ZRT_ARCH_GET_FS 0x1003
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
/* The process, thread and user ids every session sees. */
#define ZRT_PID 1
#define ZRT_UID 1000

uint64_t __zv_tp;

/* Signal dispositions as the kernel's struct k_sigaction (handler, flags, restorer,
 * mask), remembered so that rt_sigaction reports back what was set. */
#define ZRT_NSIG 65
struct zrt_sigaction {
  uint64_t handler, flags, restorer, mask;
};
static struct zrt_sigaction sigactions[ZRT_NSIG];
static uint64_t sigmask;
/* Signals sent while blocked (bit = sig - 1): delivered when unblocked, as Linux does.
 * Linux keeps two queues and takes from the thread's before the process's: [0] holds the
 * signals sent to the thread (tkill, tgkill: raise; SIGPIPE), [1] those sent to the
 * process (kill). rt_sigpending shows both. */
static uint64_t sigpending_set[2];
static int pending_code[2][ZRT_NSIG]; /* si_code of each pending signal (sigtimedwait) */
static long deliver(long sig);

/* The alternate signal stack (stack_t: sp, flags, size), recorded and reported back; no
 * handler ever runs on it (signals are never delivered asynchronously). */
struct zrt_stack {
  uint64_t sp;
  int32_t flags, pad;
  uint64_t size;
};
#define ZRT_SS_DISABLE 2
#define ZRT_SS_AUTODISARM (1u << 31)
#define ZRT_MINSIGSTKSZ 2048
static struct zrt_stack altstack = {0, ZRT_SS_DISABLE, 0, 0};

static long do_sigaltstack(const struct zrt_stack *ss, struct zrt_stack *old) {
  struct zrt_stack prev = altstack;
  if (ss) {
    uint32_t mode = (uint32_t)ss->flags & ~ZRT_SS_AUTODISARM;
    if (mode != 0 && mode != ZRT_SS_DISABLE && mode != 1 /* SS_ONSTACK, accepted as 0 */) return -EINVAL;
    /* As Linux: a request for exactly the current stack changes nothing and succeeds
     * before the size is checked; a disabled stack keeps the SS_AUTODISARM bit it was
     * given, which the next call reports (fuzzing findings). */
    if (ss->sp == altstack.sp && ss->size == altstack.size && ss->flags == altstack.flags) {
      if (old) *old = prev;
      return 0;
    }
    if (mode == ZRT_SS_DISABLE) {
      altstack = (struct zrt_stack){0, (int32_t)(ZRT_SS_DISABLE | ((uint32_t)ss->flags & ZRT_SS_AUTODISARM)), 0, 0};
    } else {
      if (ss->size < ZRT_MINSIGSTKSZ) return -ENOMEM;
      altstack = (struct zrt_stack){ss->sp, (int32_t)((uint32_t)ss->flags & ZRT_SS_AUTODISARM), 0, ss->size};
    }
  }
  if (old) *old = prev;
  return 0;
}

/* Signals whose default action is to do nothing: CHLD, CONT, URG, WINCH (Linux's
 * sig_kernel_ignore). */
static int ignored_by_default(long sig) { return sig == 17 || sig == 18 || sig == 23 || sig == 28; }

static long do_sigaction(long sig, const struct zrt_sigaction *act, struct zrt_sigaction *old, long setsize) {
  if (setsize != 8 || sig < 1 || sig >= ZRT_NSIG) return -EINVAL;
  if (act && (sig == 9 || sig == 19)) return -EINVAL; /* SIGKILL, SIGSTOP */
  struct zrt_sigaction prev = sigactions[sig];
  if (act) {
    sigactions[sig] = *act;
    /* An action that ignores the signal discards it when it is pending (POSIX; Linux's
     * do_sigaction flushes it): unblocking it later does nothing. */
    if (act->handler == 1 /* SIG_IGN */ || (act->handler == 0 && ignored_by_default(sig)))
      sigpending_set[0] &= ~(1ull << (sig - 1)), sigpending_set[1] &= ~(1ull << (sig - 1));
  }
  if (old) *old = prev;
  return 0;
}

/* The signal Linux's dequeue_signal takes next among the pending ones in `set`: from the
 * thread's queue before the process's; within one, the synchronous signals (SEGV, BUS,
 * ILL, TRAP, FPE, SYS) first, else the lowest. Removes it (its si_code in *code when
 * asked); 0 when none is pending. */
static long take_pending(uint64_t set, int *code) {
  const uint64_t synchronous = (1ull << 10) | (1ull << 6) | (1ull << 3) | (1ull << 4) | (1ull << 7) | (1ull << 30);
  for (int q = 0; q < 2; q++) {
    uint64_t ready = sigpending_set[q] & set;
    if (!ready) continue;
    if (ready & synchronous) ready &= synchronous;
    long sig = 1;
    while (!(ready & 1)) ready >>= 1, sig++;
    sigpending_set[q] &= ~(1ull << (sig - 1));
    if (code) *code = pending_code[q][sig];
    return sig;
  }
  return 0;
}

static long do_sigprocmask(long how, const uint64_t *set, uint64_t *old, long setsize) {
  if (setsize != 8) return -EINVAL;
  uint64_t prev = sigmask;
  if (set) {
    uint64_t unblockable = (1ull << 8) | (1ull << 18); /* SIGKILL, SIGSTOP (bit = sig - 1) */
    switch (how) {
      case 0: sigmask |= *set; break;  /* SIG_BLOCK */
      case 1: sigmask &= ~*set; break; /* SIG_UNBLOCK */
      case 2: sigmask = *set; break;   /* SIG_SETMASK */
      default: return -EINVAL;
    }
    sigmask &= ~unblockable;
  }
  if (old) *old = prev;
  /* Pending signals the new mask lets through take effect now, in the order Linux
   * takes them (take_pending). */
  long sig;
  while ((sig = take_pending(~sigmask, 0)) > 0) deliver(sig);
  return 0;
}

/* A signal the process sends itself (raise, abort, kill(getpid())). No signal is ever
 * delivered (there is no asynchronous entry into a guest); but when the signal's
 * disposition is the default one and that default terminates the process, the guest ends
 * as it would: Exit with 128 + the signal (abort: 134, the status a native run's shell
 * reports). Signals ignored, caught by a handler, or whose default is to ignore or stop
 * return 0 and do nothing. Other targets do not exist (-ESRCH). */
/* si_code of a pending signal, for sigtimedwait's siginfo: SI_USER (kill, and SIGPIPE,
 * which Linux sends without information) or SI_TKILL (tkill, tgkill: raise). */
#define ZRT_SI_USER 0
#define ZRT_SI_TKILL (-6)

/* `thread`: sent to the thread (tkill, tgkill, SIGPIPE) rather than the process (kill). */
static long signal_self(long sig, int code, int thread) {
  if (sig < 0 || sig >= ZRT_NSIG) return -EINVAL;
  if (sig == 0) return 0;
  /* A blocked signal stays pending (SIGKILL and SIGSTOP cannot be blocked); a second
   * one of the same kind is merged into it (its siginfo is the first's). */
  if (sig != 9 && sig != 19 && (sigmask & (1ull << (sig - 1)))) {
    int q = thread ? 0 : 1;
    if (!(sigpending_set[q] & (1ull << (sig - 1)))) pending_code[q][sig] = code;
    sigpending_set[q] |= 1ull << (sig - 1);
    return 0;
  }
  return deliver(sig);
}

/* A signal's effect when it reaches the process (see signal_self). */
static long deliver(long sig) {
  int stops = sig >= 19 && sig <= 22; /* STOP TSTP TTIN TTOU */
  uint64_t handler = sigactions[sig].handler;
  if (sig == 9 || (handler == 0 && !ignored_by_default(sig) && !stops)) zvm_exit(128 + sig);
  return 0;
}

/* SIGPIPE for a write to a pipe with no read end (pipe.c): as signal_self (a blocked
 * SIGPIPE stays pending until unblocked). The write then returns -EPIPE. */
void zrt_sigpipe(void) { signal_self(13, ZRT_SI_USER, 1); }

/* rt_sigtimedwait (sigwait, sigwaitinfo, sigtimedwait): takes a pending signal of the
 * set out of the pending set (the one take_pending chooses) and returns it, with its
 * siginfo (signal, code, the sender's pid and uid: the guest itself). Nothing else can
 * ever make a signal pending while the guest waits (one thread, no asynchronous
 * delivery), so with none pending the call returns -EAGAIN at once, what Linux answers
 * when the timeout expires, whatever the timeout (none, which would wait forever,
 * included); an invalid timeout and a set size other than 8 are -EINVAL, as Linux. */
static long do_sigtimedwait(const uint64_t *set, int32_t *info, const int64_t *ts, long setsize) {
  if (setsize != 8) return -EINVAL;
  if (!set) return -EFAULT;
  uint64_t want = *set & ~((1ull << 8) | (1ull << 18)); /* never SIGKILL, SIGSTOP */
  if (ts && (ts[0] < 0 || ts[1] < 0 || ts[1] > 999999999)) return -EINVAL;
  int code = 0;
  long sig = take_pending(want, &code);
  if (!sig) return -EAGAIN;
  if (info) {
    zrt_zero(info, 128); /* siginfo_t: signo, errno, code, pad, then si_pid, si_uid */
    info[0] = (int32_t)sig;
    info[2] = code;
    info[4] = ZRT_PID;
    info[5] = ZRT_UID;
  }
  return sig;
}

/* Interval timers (setitimer, getitimer; musl's alarm is setitimer(ITIMER_REAL)):
 * recorded and reported back, as the kernel reports a timer's remaining time. Time never
 * advances in a session (misc.c), so an armed timer never expires and its signal never
 * comes: getitimer and the old value show the time set, undiminished. Linux's checks: a
 * `which` other than ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF and a tv_usec outside
 * [0, 999999] or negative tv_sec are -EINVAL; a zero value disarms (ITIMER_REAL's
 * interval becomes 0 too, the CPU-time timers keep theirs, as in Linux). */
struct zrt_itimerval {
  int64_t interval_sec, interval_usec, value_sec, value_usec;
};
static struct zrt_itimerval itimers[3];

static long do_getitimer(long which, struct zrt_itimerval *cur) {
  if (which < 0 || which > 2) return -EINVAL;
  if (!cur) return -EFAULT;
  *cur = itimers[which];
  return 0;
}

static long do_setitimer(long which, const struct zrt_itimerval *val, struct zrt_itimerval *old) {
  struct zrt_itimerval v = {0, 0, 0, 0};
  if (val) {
    v = *val;
    if (v.interval_sec < 0 || v.interval_usec < 0 || v.interval_usec > 999999 || v.value_sec < 0 ||
        v.value_usec < 0 || v.value_usec > 999999)
      return -EINVAL;
  }
  if (which < 0 || which > 2) return -EINVAL;
  if (which == 0 && v.value_sec == 0 && v.value_usec == 0) v.interval_sec = v.interval_usec = 0;
  if (old) *old = itimers[which];
  itimers[which] = v;
  return 0;
}

/* Whether the pointer arguments of call w lie in guest memory with the access the
 * kernel would make (zrt_mem_ok), for the calls whose kernel answer to a bad pointer is
 * -EFAULT: zrt then answers -EFAULT too instead of faulting on it (audit finding: fstat,
 * clock_gettime and some thirty others ended the guest with SIGSEGV). A null pointer
 * where the call takes one as "none" is allowed (OPT). Sizes are those of the kernel's
 * structures on x86-64. */
static int args_ok(const long *w) {
#define R(i, n) zrt_mem_ok((const void *)w[i], (size_t)(n), 0)
#define W(i, n) zrt_mem_ok((const void *)w[i], (size_t)(n), 1)
#define S(i) zrt_str_ok((const char *)w[i])
#define OPT(i, x) (w[i] == 0 || (x))
  /* A negative count is a huge size_t, which no buffer holds: -EFAULT, as Linux's
   * access_ok answers (it was taken as 0, and the call then wrote past the buffer). */
  unsigned long n3 = (unsigned long)w[3];
  switch (w[0]) {
    case SYS_read:
    case SYS_pread64: return W(2, n3);
    case SYS_write:
    case SYS_pwrite64: return R(2, n3);
    case SYS_readv:
    case SYS_writev:
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_preadv2:
    case SYS_pwritev2: {
      if (w[3] < 0 || w[3] > 1024) return 1; /* -EINVAL, from the call itself */
      if (!R(2, w[3] * 16)) return 0;
      const long *iov = (const long *)w[2];
      int into = w[0] == SYS_readv || w[0] == SYS_preadv || w[0] == SYS_preadv2;
      for (long i = 0; i < w[3]; i++)
        if (!zrt_mem_ok((const void *)iov[2 * i], (size_t)iov[2 * i + 1], into)) return 0;
      return 1;
    }
    case SYS_fstat: return W(2, 144);
    case SYS_statfs: return S(1) && W(2, 120);
    case SYS_fstatfs: return W(2, 120);
    case SYS_sendfile: return OPT(3, W(3, 8));
    case SYS_copy_file_range: return OPT(2, W(2, 8)) && OPT(4, W(4, 8));
    case SYS_mincore: return W(3, ((w[2] < 0 ? 0 : w[2]) + ZRT_PAGE - 1) / ZRT_PAGE);
    case SYS_stat:
    case SYS_lstat: return S(1) && W(2, 144);
    case SYS_newfstatat: return S(2) && W(3, 144);
    case SYS_statx: return S(2) && W(5, 256);
    case SYS_open:
    case SYS_creat:
    case SYS_access:
    case SYS_chdir:
    case SYS_truncate:
    case SYS_mkdir:
    case SYS_rmdir:
    case SYS_unlink: return S(1);
    case SYS_openat:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_mkdirat:
    case SYS_unlinkat: return S(2);
    /* There are no symbolic links: readlink never writes its buffer (the lookup's error,
     * or EINVAL for a path that is not a link, come first, as on Linux). */
    case SYS_rename:
    case SYS_link:
    case SYS_symlink: return S(1) && S(2);
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_linkat: return S(2) && S(4);
    case SYS_symlinkat: return S(1) && S(3);
    case SYS_mknod: return S(1);
    case SYS_mknodat: return S(2);
    case SYS_readlink: return S(1);
    case SYS_readlinkat: return S(2);
    case SYS_getdents64: return W(2, n3);
    case SYS_pipe:
    case SYS_pipe2: return W(1, 8);
    case SYS_poll: return w[2] < 0 || w[2] > 4096 || W(1, w[2] * 8);
    case SYS_ppoll: return (w[2] < 0 || w[2] > 4096 || W(1, w[2] * 8)) && OPT(3, R(3, 16)) && OPT(4, R(4, 8));
    case SYS_select:
    case SYS_pselect6: {
      /* The sets hold the fds below nfds that the table can hold (select_once reads no
       * more, as Linux reads none past its table). */
      long fds = w[1] > ZRT_MAX_FD ? ZRT_MAX_FD : w[1];
      long bytes = fds <= 0 ? 0 : (fds + 63) / 64 * 8;
      if (!(OPT(2, W(2, bytes)) && OPT(3, W(3, bytes)) && OPT(4, W(4, bytes)) && OPT(5, W(5, 16)))) return 0;
      /* pselect6's sixth argument: { const sigset_t *set; size_t size }, and the set. */
      if (w[0] != SYS_pselect6 || !w[6]) return 1;
      if (!R(6, 16)) return 0;
      const long *sig = (const long *)w[6];
      return !sig[0] || zrt_mem_ok((const void *)sig[0], 8, 0);
    }
    case SYS_clock_gettime: return W(2, 16);
    case SYS_clock_getres: return OPT(2, W(2, 16));
    case SYS_gettimeofday: return OPT(1, W(1, 16)) && OPT(2, W(2, 8));
    case SYS_time: return OPT(1, W(1, 8));
    /* The remainder is written only when a signal interrupts the sleep, which never
     * happens here, so it is not checked (Linux answers 0 with a bad one). */
    case SYS_nanosleep: return R(1, 16);
    case SYS_clock_nanosleep: return R(3, 16);
    /* Linux writes at most 33554431 bytes a call (zrt_getrandom too). */
    case SYS_getrandom: return W(1, (unsigned long)w[2] > 33554431 ? 33554431 : (unsigned long)w[2]);
    case SYS_getcpu: return OPT(1, W(1, 4)) && OPT(2, W(2, 4));
    case SYS_uname: return W(1, 390);
    case SYS_sysinfo: return W(1, 112);
    case SYS_getrlimit: return W(2, 16);
    case SYS_setrlimit: return R(2, 16);
    case SYS_prlimit64: return OPT(3, R(3, 16)) && OPT(4, W(4, 16));
    case SYS_times: return OPT(1, W(1, 32));
    case SYS_getrusage: return W(2, 144);
    case SYS_sched_getaffinity: return W(3, w[2] < 0 ? 0 : w[2]);
    case SYS_sched_setaffinity: return R(3, w[2] < 0 ? 0 : w[2]);
    case SYS_getresuid:
    case SYS_getresgid: return W(1, 4) && W(2, 4) && W(3, 4);
    case SYS_arch_prctl: return w[1] != ZRT_ARCH_GET_FS || W(2, 8);
    case SYS_rt_sigaction: return OPT(2, R(2, 32)) && OPT(3, W(3, 32));
    case SYS_rt_sigprocmask: return OPT(2, R(2, 8)) && OPT(3, W(3, 8));
    case SYS_rt_sigpending: return (unsigned long)w[2] > 8 || W(1, w[2]);
    case SYS_rt_sigtimedwait: return R(1, 8) && OPT(2, W(2, 128)) && OPT(3, R(3, 16));
    case SYS_sigaltstack: return OPT(1, R(1, 24)) && OPT(2, W(2, 24));
    case SYS_setitimer: return OPT(2, R(2, 32)) && OPT(3, W(3, 32));
    case SYS_getitimer: return W(2, 32);
    case SYS_futex: return W(1, 4) && (!((w[2] & 127) == 0 || (w[2] & 127) == 9) || OPT(4, R(4, 16)));
    default: return 1;
  }
#undef R
#undef W
#undef S
#undef OPT
}

/* futex(2) in a guest with one thread: nothing else can change a futex word or wake a
 * waiter. A wait whose word differs is -EAGAIN, as in Linux; one with a timeout runs to
 * its deadline, which it reaches at once (-ETIMEDOUT: the guest's clock does not move,
 * so musl's timed waits would otherwise retry for ever: audit finding, sem_timedwait,
 * pthread_cond_timedwait and pthread_mutex_timedlock spun until the session's timeout);
 * one without a timeout can never be woken, as on Linux, where it would block for ever:
 * -EINTR, after which musl waits again. Wakes and requeues find no waiter (0). */
static long do_futex(int32_t *addr, long op, long val, long timeout, long val3) {
  switch (op & ~(128L | 256L)) { /* FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME */
    case 0:                      /* FUTEX_WAIT */
    case 9:                      /* FUTEX_WAIT_BITSET */
      if (*(volatile int32_t *)addr != (int32_t)val) return -EAGAIN;
      return timeout ? -ETIMEDOUT : -EINTR;
    case 1:  /* FUTEX_WAKE */
    case 10: /* FUTEX_WAKE_BITSET */
    case 3:  /* FUTEX_REQUEUE */
      return 0;
    case 4: /* FUTEX_CMP_REQUEUE */
      return *(volatile int32_t *)addr != (int32_t)val3 ? -EAGAIN : 0;
    default: return -ENOSYS;
  }
}

/* The arguments of call nr that are file descriptors or other 32-bit integers (bit i:
 * argument i). The kernel's prototypes make them `int` or `unsigned int`, so Linux reads
 * only their low 32 bits:
 * AT_FDCWD passed as an int through syscall(2) arrives zero-extended (0xffffff9c) and is
 * still AT_FDCWD, and fd 1 << 32 is fd 0 (audit finding: zrt compared all 64 bits and
 * answered -EBADF). close_range's bounds are unsigned: truncated at its call. */
static unsigned fd_args(long nr) {
  switch (nr) {
    case SYS_read:
    case SYS_write:
    case SYS_close:
    case SYS_fstat:
    case SYS_lseek:
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_readv:
    case SYS_writev:
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_preadv2:
    case SYS_pwritev2:
    case SYS_ioctl:
    case SYS_fcntl:
    case SYS_flock:
    case SYS_fsync:
    case SYS_fdatasync:
    case SYS_syncfs:
    case SYS_ftruncate:
    case SYS_fallocate:
    case SYS_fadvise64:
    case SYS_readahead:
    case SYS_sync_file_range:
    case SYS_getdents64:
    case SYS_fchdir:
    case SYS_fstatfs:
    case SYS_dup:
    case SYS_openat:
    case SYS_newfstatat:
    case SYS_statx:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_mkdirat:
    case SYS_mknodat:
    case SYS_unlinkat:
    case SYS_readlinkat: return 1u << 1;
    case SYS_dup2:
    case SYS_dup3:
    case SYS_sendfile: return 1u << 1 | 1u << 2;
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_linkat:
    case SYS_copy_file_range: return 1u << 1 | 1u << 3;
    case SYS_symlinkat: return 1u << 2;
    case SYS_mmap: return 1u << 5;
    /* Other `int` and `unsigned int` arguments, read as 32 bits the same way (fuzzing
     * finding: poll's nfds of 1 << 32 was EINVAL, Linux reads 0): signal numbers, `how`,
     * clock ids, resources, poll's count and timeout, getrandom's flags. */
    case SYS_poll: return 1u << 2 | 1u << 3;
    case SYS_ppoll: return 1u << 2;
    case SYS_rt_sigaction:
    case SYS_rt_sigprocmask:
    case SYS_clock_gettime:
    case SYS_clock_getres:
    case SYS_getrlimit:
    case SYS_setrlimit: return 1u << 1;
    case SYS_clock_nanosleep: return 1u << 1 | 1u << 2;
    case SYS_prlimit64:
    case SYS_kill:
    case SYS_tkill: return 1u << 2;
    case SYS_tgkill: return 1u << 3;
    case SYS_getrandom: return 1u << 3;
    default: return 0;
  }
}

long __zv_syscall_c(const long *raw);

long __zv_syscall_c(const long *raw) {
  long w[7];
  unsigned fds = fd_args(raw[0]);
  for (int i = 0; i < 7; i++) w[i] = (fds >> i & 1) ? (long)(int)raw[i] : raw[i];
  long a1 = w[1], a2 = w[2], a3 = w[3], a4 = w[4], a5 = w[5], a6 = w[6];
  if (!args_ok(w)) {
    /* These calls look their descriptor up before they touch the caller's memory: a
     * descriptor that is not open is EBADF even with a bad pointer (fuzzing finding:
     * `fstat(255, bad)` was EFAULT). */
    switch (w[0]) {
      case SYS_read:
      case SYS_write:
      case SYS_pread64:
      case SYS_pwrite64:
      case SYS_readv:
      case SYS_writev:
      case SYS_preadv:
      case SYS_pwritev:
      case SYS_preadv2:
      case SYS_pwritev2:
      case SYS_fstat:
      case SYS_fstatfs:
      case SYS_getdents64:
        if (zrt_fd_events(a1) < 0) return -EBADF;
        break;
      default: break;
    }
    return -EFAULT;
  }
  switch (w[0]) {
    /* files */
    case SYS_read: return zrt_read(a1, (void *)a2, (size_t)a3);
    case SYS_write: return zrt_write(a1, (const void *)a2, (size_t)a3);
    case SYS_readv: return zrt_readv(a1, (const void *)a2, a3);
    case SYS_writev: return zrt_writev(a1, (const void *)a2, a3);
    case SYS_pread64: return zrt_pread(a1, (void *)a2, (size_t)a3, a4);
    /* The offset of preadv/pwritev is a4 on x86-64 (a5, its high half, is for 32-bit). */
    case SYS_preadv: return zrt_pvector(a1, (const void *)a2, a3, a4, 0, 0, 0);
    case SYS_pwritev: return zrt_pvector(a1, (const void *)a2, a3, a4, 0, 1, 0);
    case SYS_preadv2: return zrt_pvector(a1, (const void *)a2, a3, a4, a6, 0, 1);
    case SYS_pwritev2: return zrt_pvector(a1, (const void *)a2, a3, a4, a6, 1, 1);
    case SYS_sendfile: return zrt_copy_range(a2, (long *)a3, a1, 0, (size_t)a4, 0);
    case SYS_copy_file_range:
      return a6 ? -EINVAL : zrt_copy_range(a1, (long *)a2, a3, (long *)a4, (size_t)a5, 1);
    case SYS_close_range: return zrt_close_range((unsigned)a1, (unsigned)a2, a3);
    case SYS_readahead: return zrt_readahead(a1);
    case SYS_sync_file_range: return zrt_sync_file_range(a1, a2, a3, a4);
    case SYS_statfs: return zrt_statfs(-1, (const char *)a1, (void *)a2);
    case SYS_fstatfs: return zrt_statfs(a1, 0, (void *)a2);
    case SYS_pwrite64: return zrt_pwrite(a1, (const void *)a2, (size_t)a3, a4);
    case SYS_lseek: return zrt_lseek(a1, a2, a3);
    case SYS_open: return zrt_openat(AT_FDCWD, (const char *)a1, a2, a3);
    case SYS_creat: return zrt_openat(AT_FDCWD, (const char *)a1, O_CREAT | O_WRONLY | O_TRUNC, a2);
    case SYS_openat: return zrt_openat(a1, (const char *)a2, a3, a4);
    case SYS_close: return zrt_close(a1);
    case SYS_dup: return zrt_dup3(a1, -1, 0, 1);
    case SYS_dup2: return a2 < 0 ? -EBADF : zrt_dup3(a1, a2, 0, 1);
    case SYS_dup3: return a2 < 0 ? -EBADF : zrt_dup3(a1, a2, a3, 0);
    case SYS_fstat: return zrt_fstat(a1, (void *)a2);
    case SYS_stat:
    case SYS_lstat: return zrt_fstatat(AT_FDCWD, (const char *)a1, (void *)a2, 0);
    case SYS_newfstatat: return zrt_fstatat(a1, (const char *)a2, (void *)a3, a4);
    case SYS_statx: return zrt_statx(a1, (const char *)a2, a3, a4, (void *)a5);
    case SYS_fcntl: return zrt_fcntl(a1, a2, a3);
    case SYS_ioctl: return zrt_ioctl(a1, a2, a3);
    case SYS_access: return zrt_faccessat(AT_FDCWD, (const char *)a1, a2, 0);
    case SYS_faccessat: return zrt_faccessat(a1, (const char *)a2, a3, 0);
    case SYS_faccessat2: return zrt_faccessat(a1, (const char *)a2, a3, a4);
    case SYS_getcwd: return zrt_getcwd((char *)a1, (size_t)a2);
    case SYS_chdir: return zrt_chdir((const char *)a1);
    case SYS_fchdir: return zrt_fchdir(a1);
    case SYS_getdents64: return zrt_getdents64(a1, (void *)a2, (size_t)a3);
    case SYS_readlink: return zrt_readlinkat(AT_FDCWD, (const char *)a1, (char *)a2, (size_t)a3);
    case SYS_readlinkat: return zrt_readlinkat(a1, (const char *)a2, (char *)a3, (size_t)a4);
    case SYS_mkdir: return zrt_name_op(AT_FDCWD, (const char *)a1, ZRT_NS_CREATE);
    case SYS_mkdirat: return zrt_name_op(a1, (const char *)a2, ZRT_NS_CREATE);
    case SYS_mknod: return zrt_name_op(AT_FDCWD, (const char *)a1, ZRT_NS_CREATE);
    case SYS_mknodat: return zrt_name_op(a1, (const char *)a2, ZRT_NS_CREATE);
    case SYS_symlink: return a1 ? zrt_name_op(AT_FDCWD, (const char *)a2, ZRT_NS_CREATE) : -EFAULT;
    case SYS_symlinkat: return a1 ? zrt_name_op(a2, (const char *)a3, ZRT_NS_CREATE) : -EFAULT;
    case SYS_unlink: return zrt_name_op(AT_FDCWD, (const char *)a1, ZRT_NS_UNLINK);
    case SYS_rmdir: return zrt_name_op(AT_FDCWD, (const char *)a1, ZRT_NS_RMDIR);
    case SYS_unlinkat:
      if (a3 & ~(long)AT_REMOVEDIR) return -EINVAL;
      return zrt_name_op(a1, (const char *)a2, (a3 & AT_REMOVEDIR) ? ZRT_NS_RMDIR : ZRT_NS_UNLINK);
    case SYS_rename: return zrt_rename(AT_FDCWD, (const char *)a1, AT_FDCWD, (const char *)a2, 0);
    case SYS_renameat: return zrt_rename(a1, (const char *)a2, a3, (const char *)a4, 0);
    case SYS_renameat2: return a5 & ~7L ? -EINVAL : zrt_rename(a1, (const char *)a2, a3, (const char *)a4, 0);
    case SYS_link: return zrt_rename(AT_FDCWD, (const char *)a1, AT_FDCWD, (const char *)a2, 1);
    /* linkat's flags: AT_SYMLINK_FOLLOW (0x400) and AT_EMPTY_PATH; others -EINVAL. */
    case SYS_linkat: return (a5 & ~0x1400L) ? -EINVAL : zrt_rename(a1, (const char *)a2, a3, (const char *)a4, 1);
    case SYS_truncate: return zrt_truncate((const char *)a1, a2);
    case SYS_ftruncate: return zrt_ftruncate(a1, a2);
    case SYS_fsync:
    case SYS_fdatasync: return zrt_fsync(a1);
    case SYS_syncfs: return zrt_syncfs(a1);
    case SYS_flock: return zrt_flock(a1, a2);
    case SYS_fadvise64: return zrt_fadvise(a1, a2, a3, a4);
    case SYS_fallocate: return zrt_fallocate(a1, a2, a3, a4);
    case SYS_pipe: return zrt_pipe2((int *)a1, 0);
    case SYS_pipe2: return zrt_pipe2((int *)a1, a2);
    case SYS_poll: return zrt_poll((void *)a1, a2, a3);
    case SYS_ppoll: return zrt_ppoll((void *)a1, a2, (const void *)a3, (const void *)a4, a5);
    case SYS_select: return zrt_select(a1, (void *)a2, (void *)a3, (void *)a4, (void *)a5);
    case SYS_pselect6: return zrt_pselect6(a1, (void *)a2, (void *)a3, (void *)a4, (void *)a5, (const void *)a6);

    /* memory */
    case SYS_brk: return zrt_brk(a1);
    case SYS_mmap: return zrt_mmap(a1, a2, a3, a4, a5, a6);
    case SYS_munmap: return zrt_munmap(a1, a2);
    case SYS_mremap: return zrt_mremap(a1, a2, a3, a4, a5);
    case SYS_madvise: return zrt_madvise(a1, a2, a3);
    case SYS_mprotect: return zrt_mprotect(a1, a2, a3);
    /* Nothing is ever paged out or written back: locking is accepted and msync has
     * nothing to do, after Linux's checks (an unaligned address -EINVAL; msync's flags
     * MS_ASYNC 1, MS_INVALIDATE 2, MS_SYNC 4, not ASYNC and SYNC together). mincore says
     * every page of guest memory is resident (-ENOMEM outside it). */
    case SYS_msync:
      if (a1 & (ZRT_PAGE - 1) || (a3 & ~7L) || (a3 & 5) == 5) return -EINVAL;
      return zrt_mem_ok((const void *)a1, (size_t)a2, 0) ? 0 : -ENOMEM;
    case SYS_mlock2:
      if (a3 & ~1L) return -EINVAL;
      /* fall through */
    case SYS_mlock:
    case SYS_munlock: {
      /* The pages the range touches: from its first page's start to its last's end. */
      unsigned long start = (unsigned long)a1 & ~(unsigned long)(ZRT_PAGE - 1);
      unsigned long end = (unsigned long)a1 + (unsigned long)a2;
      if (end < (unsigned long)a1) return -ENOMEM;
      end = (end + ZRT_PAGE - 1) & ~(unsigned long)(ZRT_PAGE - 1);
      return zrt_mem_ok((const void *)start, end - start, 0) ? 0 : -ENOMEM;
    }
    /* MCL_CURRENT 1, MCL_FUTURE 2, MCL_ONFAULT 4 (only with one of the others). */
    case SYS_mlockall: return ((a1 & ~7L) || !(a1 & 3)) ? -EINVAL : 0;
    case SYS_munlockall: return 0;
    case SYS_mincore: {
      if (a1 & (ZRT_PAGE - 1)) return -EINVAL;
      if (a2 < 0 || !zrt_mem_ok((const void *)a1, (size_t)a2, 0)) return -ENOMEM;
      unsigned char *vec = (unsigned char *)a3;
      for (long i = 0; i < (a2 + (long)ZRT_PAGE - 1) / (long)ZRT_PAGE; i++) vec[i] = 1;
      return 0;
    }

    /* time, randomness, identity, limits */
    case SYS_clock_gettime: return zrt_clock_gettime(a1, (void *)a2);
    case SYS_clock_getres: return zrt_clock_getres(a1, (void *)a2);
    case SYS_gettimeofday: return zrt_gettimeofday((void *)a1, (void *)a2);
    case SYS_time: return zrt_time((long *)a1);
    case SYS_getrandom: return zrt_getrandom((void *)a1, (size_t)a2, a3);
    case SYS_uname: return zrt_uname((void *)a1);
    case SYS_prlimit64: return zrt_prlimit(a1, a2, (const void *)a3, (void *)a4);
    case SYS_getrlimit: return zrt_prlimit(0, a1, 0, (void *)a2);
    case SYS_setrlimit: return zrt_prlimit(0, a1, (const void *)a2, 0);
    case SYS_sysinfo: return zrt_sysinfo((void *)a1);
    case SYS_sched_getaffinity: return zrt_sched_getaffinity(a1, a2, (void *)a3);
    case SYS_sched_setaffinity: return zrt_sched_setaffinity(a1, a2, (const void *)a3);
    case SYS_getcpu: return zrt_getcpu((unsigned *)a1, (unsigned *)a2);
    case SYS_times:
      /* struct tms: no CPU time has passed; the clock-tick count is 0 too. */
      if (a1) zrt_zero((void *)a1, 4 * sizeof(long));
      return 0;
    case SYS_getrusage:
      if (a1 != 0 && a1 != -1 && a1 != 1) return -EINVAL; /* SELF, CHILDREN, THREAD */
      if (!a2) return -EFAULT;
      zrt_zero((void *)a2, 144); /* struct rusage: nothing used */
      return 0;

    /* the process */
    case SYS_exit:
    case SYS_exit_group: zvm_exit(a1);
    case SYS_arch_prctl:
      if (a1 == ZRT_ARCH_SET_FS) {
        __zv_tp = (uint64_t)a2;
        return 0;
      }
      if (a1 == ZRT_ARCH_GET_FS) {
        if (!a2) return -EFAULT;
        *(uint64_t *)a2 = __zv_tp;
        return 0;
      }
      return -EINVAL;
    case SYS_set_tid_address:
    case SYS_gettid:
    case SYS_getpid: return ZRT_PID;
    case SYS_getppid: return 0;
    /* The guest is the leader of its own process group and session. */
    case SYS_getpgrp: return ZRT_PID;
    case SYS_getpgid:
    case SYS_getsid: return (a1 == 0 || a1 == ZRT_PID) ? ZRT_PID : -ESRCH;
    case SYS_setpgid:
      if (a2 < 0) return -EINVAL;
      return (a1 == 0 || a1 == ZRT_PID) ? -EPERM : -ESRCH; /* a session leader's group is fixed */
    case SYS_setsid: return -EPERM;                         /* already a group leader */
    case SYS_getresuid:
    case SYS_getresgid:
      if (!a1 || !a2 || !a3) return -EFAULT;
      *(uint32_t *)a1 = *(uint32_t *)a2 = *(uint32_t *)a3 = ZRT_UID;
      return 0;
    case SYS_sigaltstack: return do_sigaltstack((const struct zrt_stack *)a1, (struct zrt_stack *)a2);
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid: return ZRT_UID;
    case SYS_umask: {
      /* Recorded and reported back, as Linux does (no file is ever created with it). */
      static long mask = 022;
      long old = mask;
      mask = a1 & 0777;
      return old;
    }
    case SYS_rt_sigaction:
      return do_sigaction(a1, (const struct zrt_sigaction *)a2, (struct zrt_sigaction *)a3, a4);
    case SYS_rt_sigprocmask: return do_sigprocmask(a1, (const uint64_t *)a2, (uint64_t *)a3, a4);
    /* kill(0) signals the caller's process group, which holds only the caller; kill(-1)
     * signals every process but the caller (Linux), and there are none. */
    case SYS_kill: return (a1 == ZRT_PID || a1 == 0) ? signal_self(a2, ZRT_SI_USER, 0) : -ESRCH;
    case SYS_rt_sigpending: {
      /* Linux takes any size up to its sigset's 8 bytes and writes that many. */
      if ((unsigned long)a2 > 8) return -EINVAL;
      uint64_t set = sigpending_set[0] | sigpending_set[1];
      zrt_copy((void *)a1, &set, (size_t)a2);
      return 0;
    }
    case SYS_tkill: return a1 == ZRT_PID ? signal_self(a2, ZRT_SI_TKILL, 1) : (a1 <= 0 ? -EINVAL : -ESRCH);
    case SYS_tgkill:
      return (a1 == ZRT_PID && a2 == ZRT_PID) ? signal_self(a3, ZRT_SI_TKILL, 1) : (a1 <= 0 || a2 <= 0 ? -EINVAL : -ESRCH);
    case SYS_rt_sigtimedwait: return do_sigtimedwait((const uint64_t *)a1, (int32_t *)a2, (const int64_t *)a3, a4);
    case SYS_setitimer:
      return do_setitimer(a1, (const struct zrt_itimerval *)a2, (struct zrt_itimerval *)a3);
    case SYS_getitimer: return do_getitimer(a1, (struct zrt_itimerval *)a2);
    case SYS_sched_yield: return 0;
    /* The guest's name (prctl PR_SET_NAME 15, PR_GET_NAME 16: 16 bytes, NUL-terminated)
     * is kept and given back; other prctl options -EINVAL. The priority is kept too
     * (getpriority answers 20 - nice, as the kernel does; PRIO_PROCESS 0, PRIO_PGRP 1,
     * PRIO_USER 2, the guest its only member). */
    case SYS_prctl: {
      static char name[16] = "main";
      if (a1 == 15) {
        /* Up to 15 bytes or the NUL, the rest zero (the kernel's strncpy_from_user). */
        const char *from = (const char *)a2;
        char next[16] = {0};
        for (int i = 0; i < 15; i++) {
          if (!zrt_mem_ok(from + i, 1, 0)) return -EFAULT;
          if ((next[i] = from[i]) == 0) break;
        }
        for (int i = 0; i < 16; i++) name[i] = next[i];
        return 0;
      }
      if (a1 == 16) {
        if (!zrt_mem_ok((const void *)a2, 16, 1)) return -EFAULT;
        for (int i = 0; i < 16; i++) ((char *)a2)[i] = name[i];
        return 0;
      }
      return -EINVAL;
    }
    case SYS_getpriority:
    case SYS_setpriority: {
      static long nice = 0;
      if (a1 < 0 || a1 > 2) return -EINVAL;
      if (!(a2 == 0 || a2 == (a1 == 2 ? ZRT_UID : ZRT_PID))) return -ESRCH;
      if (w[0] == SYS_getpriority) return 20 - nice;
      long v = a3 < -20 ? -20 : (a3 > 19 ? 19 : a3);
      if (v < nice) return -EACCES; /* raising priority needs a privilege the guest lacks */
      nice = v;
      return 0;
    }
    case SYS_futex: return do_futex((int32_t *)a1, a2, a3, a4, a6);
    /* The guest has no children. */
    case SYS_wait4:
    case SYS_waitid: return -ECHILD;
    case SYS_nanosleep: return zrt_nanosleep((const void *)a1, (void *)a2);
    case SYS_clock_nanosleep: return zrt_clock_nanosleep(a1, a2, (const void *)a3, (void *)a4);
    default: return -ENOSYS;
  }
}
