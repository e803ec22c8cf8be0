/* badptr.c: calls given a pointer outside the process's memory answer EFAULT, as the
 * kernel does, instead of faulting (audit finding: zrt dereferenced them and the guest
 * ended with SIGSEGV); timed waits on locks, condition variables and semaphores time
 * out (audit finding: they spun for ever, the guest's clock never reaching the
 * deadline); a futex wait on a changed word is EAGAIN, a wake finds nobody; a process
 * without children waits with ECHILD (it was ENOSYS). Compared line by line with a
 * native run (badptr.expected). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-52s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))
/* For calls that return an error number instead of setting errno. */
static void shown(const char *what, int r) { printf("%-52s %s\n", what, r ? strerror(r) : "0"); }
#define N(x) shown(#x, (x))

#define BAD ((void *)0x10)
/* <linux/futex.h>'s numbers (the sysroot has no kernel headers). */
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE 1
#define FUTEX_WAKE_PRIVATE 129

static struct timespec soon(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 10 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
  return ts;
}

static int word0;

int main(void) {
  E(syscall(SYS_fstat, 1, BAD));
  E(syscall(SYS_stat, BAD, BAD));
  E(syscall(SYS_stat, "/dev/null", BAD));
  E(syscall(SYS_open, BAD, 0));
  E(syscall(SYS_access, BAD, 0));
  E(syscall(SYS_chdir, BAD));
  E(syscall(SYS_clock_gettime, CLOCK_REALTIME, BAD));
  E(syscall(SYS_clock_getres, CLOCK_REALTIME, BAD));
  E(syscall(SYS_gettimeofday, BAD, 0));
  E(syscall(SYS_uname, BAD));
  E(syscall(SYS_pipe, BAD));
  E(syscall(SYS_getrandom, BAD, 8, 0));
  E(syscall(SYS_nanosleep, BAD, 0));
  E(syscall(SYS_rt_sigprocmask, SIG_BLOCK, BAD, 0, 8));
  E(syscall(SYS_sysinfo, BAD));
  E(syscall(SYS_getrlimit, RLIMIT_STACK, BAD));
  E(syscall(SYS_write, 1, BAD, 5));
  E(syscall(SYS_writev, 1, BAD, 1));
  E(syscall(SYS_getcwd, BAD, 64));
  E(syscall(SYS_readlink, "/x", BAD, 8));
  E(syscall(SYS_futex, BAD, FUTEX_WAKE, 1, 0, 0, 0));
  /* Path pairs, getcpu into read-only memory, a negative count, select's sets beyond
   * 1024 fds and pselect6's signal argument (audit findings: these faulted). */
  E(syscall(SYS_rename, BAD, "/tmp/x"));
  E(syscall(SYS_rename, "/nonexistent-a", BAD));
  E(syscall(SYS_renameat, AT_FDCWD, "/nonexistent-a", AT_FDCWD, BAD));
  E(syscall(SYS_renameat2, AT_FDCWD, BAD, AT_FDCWD, "/tmp/x", 0));
  E(syscall(SYS_link, BAD, "/tmp/x"));
  E(syscall(SYS_linkat, AT_FDCWD, "/dev/null", AT_FDCWD, BAD, 0));
  E(syscall(SYS_symlink, "/nonexistent-a", BAD));
  E(syscall(SYS_symlinkat, BAD, AT_FDCWD, "/tmp/x"));
  E(syscall(SYS_mknod, BAD, 0600, 0));
  E(syscall(SYS_mknodat, AT_FDCWD, BAD, 0600, 0));
  E(syscall(SYS_getcpu, (void *)main, 0, 0));
  E(syscall(SYS_getrandom, (void *)main, (size_t)-1, 0));
  E(syscall(SYS_read, 0, &word0, (size_t)-1));
  E(syscall(SYS_select, 2000, BAD, 0, 0, 0));
  long sigdata[2] = {(long)BAD, 8};
  E(syscall(SYS_pselect6, 0, 0, 0, 0, 0, BAD));
  E(syscall(SYS_pselect6, 0, 0, 0, 0, 0, sigdata));
  /* fcntl's lock and owner structures and ioctl's FIONREAD result are checked as the
   * kernel copies them (audit finding: these faulted), after the checks it makes first. */
  E(syscall(SYS_fcntl, 0, F_GETLK, BAD));
  E(syscall(SYS_fcntl, 0, F_OFD_GETLK, BAD));
  E(syscall(SYS_fcntl, 0, F_SETLK, BAD));
  E(syscall(SYS_fcntl, 0, F_GETOWN_EX, BAD));
  E(syscall(SYS_fcntl, 0, F_SETOWN_EX, BAD));
  struct flock unlocked = {.l_type = F_UNLCK};
  E(syscall(SYS_fcntl, 0, F_GETLK, &unlocked));
  int p[2];
  if (pipe(p) == 0) {
    E(syscall(SYS_ioctl, p[0], FIONREAD, BAD));
    close(p[0]);
    close(p[1]);
  }
  int one = 1;
  E(syscall(SYS_ioctl, 0, FIONBIO, &one));
  /* A sleep's remainder is written only when a signal interrupts it; a sigset of fewer
   * than 8 bytes is fine; a whence past SEEK_HOLE is EINVAL everywhere; rmdir of `.`. */
  struct timespec zero = {0, 0};
  E(syscall(SYS_nanosleep, &zero, BAD));
  uint64_t pending = 0;
  E(syscall(SYS_rt_sigpending, &pending, 4));
  E(syscall(SYS_lseek, 0, 0, 5));
  E(syscall(SYS_rmdir, "."));
  /* 32-bit arguments are read as 32 bits: a count of 1 << 32 is 0. MAP_FIXED_NOREPLACE
   * beside MAP_FIXED refuses an occupied range and keeps its bytes. */
  struct pollfd pfd = {.fd = 0, .events = POLLIN};
  E(syscall(SYS_poll, &pfd, 1L << 32, 0));
  char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page != MAP_FAILED) {
    strcpy(page, "kept");
    void *again = mmap(page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE, -1, 0);
    printf("%-52s %s, %s\n", "MAP_FIXED|MAP_FIXED_NOREPLACE on a mapping", again == MAP_FAILED ? strerror(errno) : "mapped", page);
    errno = 0;
  }
  /* madvise's advice and mprotect's bits as Linux checks them; madvise outside the
   * process's memory is ENOMEM. */
  if (page != MAP_FAILED) {
    E(madvise(page, 4096, 12345));
    E(mprotect(page, 4096, PROT_READ | PROT_WRITE | 0x10));
    E(mprotect(page, 4096, PROT_READ | PROT_WRITE | PROT_GROWSDOWN));
    E(madvise(page, 4096, MADV_WILLNEED));
  }
  E(madvise((void *)0x50000000, 4096, MADV_WILLNEED));
  /* Paths past PATH_MAX and names past NAME_MAX. */
  static char longpath[5000], longname[300];
  for (int i = 0; i < 4998; i += 2) longpath[i] = '.', longpath[i + 1] = '/';
  longpath[4998] = 'x';
  memset(longname, 'n', 299);
  E(open(longpath, O_RDONLY));
  E(open(longname, O_RDONLY));
  E(access(longname, F_OK));
  /* A descriptor that is not open comes before a bad pointer. */
  E(syscall(SYS_fstat, 255, BAD));
  E(syscall(SYS_read, 255, BAD, 8));
  E(syscall(SYS_getdents64, 255, BAD, 64));
  /* File descriptors are ints: the kernel reads the low 32 bits of their registers. */
  E(syscall(SYS_faccessat, (unsigned long)(unsigned)AT_FDCWD, "/dev/null", F_OK, 0));
  fflush(stdout);
  E(syscall(SYS_write, 1L << 32 | 1, "fd (1 << 32) | 1 is fd 1\n", 25));
  fflush(stdout);

  int word = 7;
  struct timespec rel = {0, 10 * 1000 * 1000};
  E(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 8, &rel, 0, 0));
  E(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 7, &rel, 0, 0));
  E(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0));

  sem_t s;
  sem_init(&s, 0, 0);
  struct timespec t = soon();
  E(sem_timedwait(&s, &t));
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t c = PTHREAD_COND_INITIALIZER;
  pthread_mutex_lock(&m);
  t = soon();
  N(pthread_cond_timedwait(&c, &m, &t));
  t = soon();
  N(pthread_mutex_timedlock(&m, &t));
  pthread_mutex_unlock(&m);
  mtx_t mt;
  mtx_init(&mt, mtx_timed);
  mtx_lock(&mt);
  t = soon();
  E(mtx_timedlock(&mt, &t) == thrd_timedout);

  E(waitpid(-1, NULL, WNOHANG));
  E(wait(NULL));
  return 0;
}
