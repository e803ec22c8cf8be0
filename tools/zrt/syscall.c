/* syscall.c: zrt's Linux system-call layer, first part (RUNTIME.md section 8).
 *
 * zvld rewrites every `syscall` instruction into a call of __zv_syscall (trap.S), which
 * saves the registers the kernel would keep and calls __zv_syscall_c with the words
 * [nr, a1, ..., a6]. The calls a static musl program makes on its way through a printf
 * hello world are answered here on top of the six calls (zvm.h): write/writev/read/readv
 * on channels, exit/exit_group through Exit, arch_prctl(ARCH_SET_FS) into __zv_tp, and
 * harmless answers for set_tid_address, ioctl, signals and process ids. Anonymous mmap
 * hands out pages from the manifest's heap. Everything else returns -ENOSYS, never a
 * crash. The full layer (files, time, randomness) is the zrt issue.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "zvm.h"

/* arch_prctl codes (from the kernel's asm/prctl.h, which musl does not install). */
#define ZRT_ARCH_SET_FS 0x1002
#define ZRT_ARCH_GET_FS 0x1003
/* ioctl asking for the terminal window size: channels are never terminals. */
#define ZRT_TIOCGWINSZ 0x5413
#define ZRT_PAGE 4096u

uint64_t __zv_tp;

/* The anonymous-mmap arena: [arena_next, arena_end) of the manifest's heap is free. */
static uintptr_t arena_next, arena_end;

static void arena_init(void) {
  if (arena_end != 0) return;
  const struct UserManifest *m = MANIFEST;
  uintptr_t start = (uintptr_t)m->heap_ptr;
  arena_next = (start + ZRT_PAGE - 1) & ~(uintptr_t)(ZRT_PAGE - 1);
  arena_end = start + m->heap_size;
  if (arena_next > arena_end) arena_next = arena_end;
}

static long do_mmap(long addr, long len, long prot, long flags, long fd, long off) {
  (void)prot;
  (void)off;
  if (!(flags & MAP_ANONYMOUS) || fd != -1) return -ENODEV;
  if (addr != 0 && (flags & MAP_FIXED)) return -ENOMEM;
  if (len <= 0) return -EINVAL;
  arena_init();
  uintptr_t size = ((uintptr_t)len + ZRT_PAGE - 1) & ~(uintptr_t)(ZRT_PAGE - 1);
  if (size > arena_end - arena_next) return -ENOMEM;
  uintptr_t p = arena_next;
  arena_next += size;
  /* Fresh heap pages are zero (the runtime maps them so); pages are never reused except
   * by an munmap of the most recent mapping, which is cleared below before it returns. */
  return (long)p;
}

static long do_munmap(long addr, long len) {
  uintptr_t size = ((uintptr_t)len + ZRT_PAGE - 1) & ~(uintptr_t)(ZRT_PAGE - 1);
  if ((uintptr_t)addr + size == arena_next && size != 0) {
    /* Give back the top of the arena, zeroed so that the next mmap sees zero pages. */
    volatile uint64_t *q = (volatile uint64_t *)(uintptr_t)addr;
    for (uintptr_t i = 0; i < size / 8; i++) q[i] = 0;
    arena_next = (uintptr_t)addr;
  }
  return 0;
}

static long do_writev(long ch, const struct iovec *iov, long n) {
  long total = 0;
  for (long i = 0; i < n; i++) {
    if (iov[i].iov_len == 0) continue;
    int64_t r = zvm_pwrite((int)ch, iov[i].iov_base, (int64_t)iov[i].iov_len, 0);
    if (r < 0) return total ? total : r;
    total += r;
    if ((size_t)r < iov[i].iov_len) break;
  }
  return total;
}

static long do_readv(long ch, const struct iovec *iov, long n) {
  long total = 0;
  for (long i = 0; i < n; i++) {
    if (iov[i].iov_len == 0) continue;
    int64_t r = zvm_pread((int)ch, iov[i].iov_base, (int64_t)iov[i].iov_len, 0);
    if (r < 0) return total ? total : r;
    total += r;
    if ((size_t)r < iov[i].iov_len) break;
  }
  return total;
}

long __zv_syscall_c(const long *w);

long __zv_syscall_c(const long *w) {
  long a1 = w[1], a2 = w[2], a3 = w[3], a4 = w[4], a5 = w[5], a6 = w[6];
  switch (w[0]) {
    case SYS_write:
      return zvm_pwrite((int)a1, (const void *)a2, a3, 0);
    case SYS_pwrite64:
      return zvm_pwrite((int)a1, (const void *)a2, a3, a4);
    case SYS_writev:
      return do_writev(a1, (const struct iovec *)a2, a3);
    case SYS_read:
      return zvm_pread((int)a1, (void *)a2, a3, 0);
    case SYS_pread64:
      return zvm_pread((int)a1, (void *)a2, a3, a4);
    case SYS_readv:
      return do_readv(a1, (const struct iovec *)a2, a3);
    case SYS_exit:
    case SYS_exit_group:
      zvm_exit(a1);
    case SYS_arch_prctl:
      if (a1 == ZRT_ARCH_SET_FS) {
        __zv_tp = (uint64_t)a2;
        return 0;
      }
      if (a1 == ZRT_ARCH_GET_FS) {
        *(uint64_t *)a2 = __zv_tp;
        return 0;
      }
      return -EINVAL;
    case SYS_set_tid_address:
    case SYS_gettid:
    case SYS_getpid:
      return 1;
    case SYS_ioctl:
      (void)a2;
      return -ENOTTY;
    case SYS_lseek:
      return -ESPIPE;
    case SYS_close:
      return 0;
    case SYS_clock_gettime:
      /* A fixed clock (the epoch) until the manifest's time reaches the guest (zrt issue). */
      if (a2) {
        ((long *)a2)[0] = 0;
        ((long *)a2)[1] = 0;
      }
      return 0;
    case SYS_brk:
      return -ENOMEM;
    case SYS_mmap:
      return do_mmap(a1, a2, a3, a4, a5, a6);
    case SYS_munmap:
      return do_munmap(a1, a2);
    case SYS_mremap:
      return -ENOMEM;
    case SYS_madvise:
    case SYS_mprotect:
    case SYS_rt_sigprocmask:
    case SYS_rt_sigaction:
      return 0;
    default:
      return -ENOSYS;
  }
}
