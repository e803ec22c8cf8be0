/* zrt.h: declarations shared by zrt's C files (not installed into the sysroot).
 *
 * syscall.c dispatches the Linux system calls that zvld routes to __zv_syscall; files.c
 * (the fd table over channels), memory.c (the heap arena) and misc.c (time, randomness,
 * identity, limits) answer them. Every function returns what the kernel would: a value
 * or -errno. zrt is compiled with -mgeneral-regs-only and must not call into musl code
 * that may use vector registers, so copying and clearing go through zrt_copy/zrt_zero.
 */
#ifndef ZRT_H
#define ZRT_H

#include <stddef.h>
#include <stdint.h>

#include "zvm.h"

#define ZRT_PAGE 4096u
/* Linux's largest single transfer (MAX_RW_COUNT). */
#define ZRT_MAX_RW 0x7ffff000L
/* A pipe's capacity (Linux's default) and PIPE_BUF, the largest write that is atomic. */
#define ZRT_PIPE_CAP 65536u
#define ZRT_PIPE_BUF 4096u

struct iovec;

/* Memory (memory.c). */
long zrt_brk(long addr);
long zrt_mmap(long addr, long len, long prot, long flags, long fd, long off);
long zrt_munmap(long addr, long len);
long zrt_mremap(long old, long old_len, long new_len, long flags, long new_addr);
long zrt_madvise(long addr, long len, long advice);
long zrt_mprotect(long addr, long len, long prot);
/* Whether [p, p + n) is guest memory the guest can read (write: and write), and whether
 * s is a readable NUL-terminated string: where the kernel answers -EFAULT. */
int zrt_mem_ok(const void *p, size_t n, int write);
int zrt_str_ok(const char *s);

/* Files (files.c). */
long zrt_read(long fd, void *buf, size_t n);
long zrt_write(long fd, const void *buf, size_t n);
long zrt_readv(long fd, const void *iov, long n);
long zrt_writev(long fd, const void *iov, long n);
long zrt_pread(long fd, void *buf, size_t n, long off);
long zrt_pwrite(long fd, const void *buf, size_t n, long off);
long zrt_lseek(long fd, long off, long whence);
long zrt_openat(long dirfd, const char *path, long flags, long mode);
long zrt_close(long fd);
long zrt_dup3(long oldfd, long newfd, long flags, int dup2_semantics);
long zrt_fstat(long fd, void *st);
long zrt_fstatat(long dirfd, const char *path, void *st, long flags);
long zrt_statx(long dirfd, const char *path, long flags, long mask, void *stx);
long zrt_fcntl(long fd, long cmd, long arg);
long zrt_ioctl(long fd, long req, long arg);
long zrt_faccessat(long dirfd, const char *path, long mode, long flags);
long zrt_getcwd(char *buf, size_t size);
long zrt_chdir(const char *path);
long zrt_getdents64(long fd, void *buf, size_t size);
long zrt_fchdir(long fd);
long zrt_readlinkat(long dirfd, const char *path, char *buf, size_t size);
long zrt_fsync(long fd);
long zrt_pvector(long fd, const void *iov, long n, long off, long flags, int write, int v2);
long zrt_copy_range(long in, long *in_off, long out, long *out_off, size_t count, int cfr);
long zrt_close_range(unsigned long first, unsigned long last, long flags);
long zrt_readahead(long fd);
long zrt_sync_file_range(long fd, long off, long len, long flags);
long zrt_statfs(long fd, const char *path, void *buf);
long zrt_flock(long fd, long op);
long zrt_syncfs(long fd);
long zrt_fadvise(long fd, long off, long len, long advice);
long zrt_fallocate(long fd, long mode, long off, long len);
/* The fixed name space: what mkdir/unlink/rmdir (op) and rename/link answer. */
#define ZRT_NS_CREATE 0
#define ZRT_NS_UNLINK 1
#define ZRT_NS_RMDIR 2
long zrt_name_op(long dirfd, const char *path, int op);
long zrt_rename(long olddirfd, const char *old, long newdirfd, const char *new, int link);
long zrt_ftruncate(long fd, long len);
long zrt_truncate(const char *path, long len);
/* Reads a random-read channel of fd at off into buf (for file mmap); -errno. */
long zrt_fd_pread_all(long fd, void *buf, size_t n, long off);
/* Is fd open on /dev/zero (whose mappings are anonymous memory, shared or not)? */
/* Whether fd is open for writing. */
int zrt_fd_writable(long fd);
int zrt_fd_is_dev_zero(long fd);
long zrt_pipe2(int *fds, long flags);
/* What poll would report for fd (POLLIN, POLLOUT, POLLHUP, POLLERR...), or -EBADF. */
int zrt_fd_events(long fd);
/* The number of fds poll and select look at (the size of the fd table). */
#define ZRT_MAX_FD 256

/* Pipes (pipe.c): i is the pipe's index, write_end 0 for the read end, 1 for the write
 * end; files.c checks the descriptor's access mode before calling. */
int zrt_pipe_new(void);
void zrt_pipe_release(int i, int write_end);
long zrt_pipe_read(int i, const struct iovec *iov, long n);
long zrt_pipe_write(int i, const struct iovec *iov, long n);
int zrt_pipe_events(int i, int write_end);
long zrt_pipe_unread(int i);

/* poll and select (poll.c). */
long zrt_poll(void *fds, long nfds, long timeout_ms);
long zrt_ppoll(void *fds, long nfds, const void *ts, const void *sigmask, long sigsetsize);
long zrt_select(long n, void *rfds, void *wfds, void *efds, void *tv);
long zrt_pselect6(long n, void *rfds, void *wfds, void *efds, void *ts, const void *sigdata);

/* Time, randomness, identity (misc.c). */
int64_t zrt_fixed_time(void);
long zrt_clock_gettime(long clk, void *ts);
long zrt_clock_getres(long clk, void *ts);
long zrt_gettimeofday(void *tv, void *tz);
long zrt_time(long *t);
long zrt_nanosleep(const void *req, void *rem);
long zrt_clock_nanosleep(long clk, long flags, const void *req, void *rem);
long zrt_getrandom(void *buf, size_t n, long flags);
long zrt_uname(void *u);
long zrt_prlimit(long pid, long res, const void *new_lim, void *old_lim);
long zrt_sysinfo(void *info);
long zrt_sched_getaffinity(long pid, long len, void *mask);
long zrt_sched_setaffinity(long pid, long len, const void *mask);
long zrt_getcpu(unsigned *cpu, unsigned *node);

/* Signals (syscall.c): SIGPIPE for a write to a pipe without a read end; ends the guest
 * with status 141 when SIGPIPE has its default disposition and is not blocked. */
void zrt_sigpipe(void);
/* Bytes of the heap arena not mapped (memory.c). */
uint64_t zrt_free_heap_bytes(void);

/* Byte helpers that never touch vector registers (rep movsb / rep stosb). */
static inline void zrt_copy(void *dst, const void *src, size_t n) {
  __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}
static inline void zrt_zero(void *dst, size_t n) {
  __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0) : "memory");
}
static inline size_t zrt_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

#endif /* ZRT_H */
