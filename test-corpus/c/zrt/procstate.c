/* procstate.c: argument checks of the calls zrt answers without a host (QA findings):
 * nanosleep and clock_nanosleep check the timespec and the clock as Linux does (they
 * returned 0 for anything), umask reports the previous mask (it always said 022),
 * setrlimit refuses a soft limit above the hard one, getcwd(NULL, 0) is ERANGE,
 * sigaltstack records the stack and reports it back (it was ENOSYS), the group and
 * session ids and getresuid answer (ENOSYS), an invalid CPU-time clock id is EINVAL
 * (it was accepted). Compared line by line with a native run
 * (procstate.expected). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-44s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))

int main(void) {
  struct timespec ts = {0, 0};
  E(nanosleep(&(struct timespec){0, 1000000000}, NULL));
  E(nanosleep(&(struct timespec){0, -1}, NULL));
  E(nanosleep(&(struct timespec){-1, 0}, NULL));
  E(nanosleep(&(struct timespec){0, 999999999}, NULL));
  /* clock_nanosleep returns the error number. */
  E(clock_nanosleep(CLOCK_REALTIME, 0, &(struct timespec){0, -5}, NULL));
  E(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &(struct timespec){0, 0}, NULL));
  E(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &(struct timespec){-1, 0}, NULL));
  E(syscall(SYS_clock_nanosleep, 99, 0, &ts, NULL));
  E(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, &ts, NULL));
  E(syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &ts, NULL));
  E(syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, 0, &ts, NULL));
  E(syscall(SYS_clock_nanosleep, 99, 0, &(struct timespec){0, -1}, NULL));

  umask(022);
  E(umask(077));
  E(umask(0));
  E(umask(01777));
  E(umask(022));

  E(setrlimit(RLIMIT_NOFILE, &(struct rlimit){10, 5}));
  E(setrlimit(RLIMIT_NOFILE, &(struct rlimit){5, 10}));
  E(syscall(SYS_getcwd, NULL, 0));
  E(syscall(SYS_getcwd, NULL, 1));

  stack_t o, n = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
  E(sigaltstack(NULL, &o));
  printf("flags %d size %zu\n", o.ss_flags, o.ss_size);
  E(sigaltstack(&n, NULL));
  E(sigaltstack(NULL, &o));
  printf("flags %d size %zu same sp %d\n", o.ss_flags, o.ss_size, o.ss_sp == n.ss_sp);
  n.ss_size = 100;
  E(sigaltstack(&n, NULL));
  n.ss_flags = 77;
  E(sigaltstack(&n, NULL));
  n.ss_flags = SS_DISABLE;
  E(sigaltstack(&n, &o));
  printf("flags %d size %zu\n", o.ss_flags, o.ss_size);
  E(sigaltstack(NULL, &o));
  printf("flags %d size %zu\n", o.ss_flags, o.ss_size);
  /* Disabled with SS_AUTODISARM: the bit is reported back; asking again for exactly
   * the current state succeeds before any size check. */
  n.ss_flags = SS_DISABLE | SS_AUTODISARM;
  E(sigaltstack(&n, NULL));
  E(sigaltstack(NULL, &o));
  printf("flags %#x size %zu\n", (unsigned)o.ss_flags, o.ss_size);
  E(sigaltstack(&(stack_t){.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE | SS_AUTODISARM}, NULL));

  uid_t r, e, s;
  E(getresuid(&r, &e, &s));
  printf("getresuid agrees with getuid/geteuid: %d\n", r == getuid() && e == geteuid() && s == e);
  gid_t gr, ge, gs;
  E(getresgid(&gr, &ge, &gs));
  printf("getresgid agrees with getgid/getegid: %d\n", gr == getgid() && ge == getegid() && gs == ge);
  printf("getpgrp == getpgid(0): %d\n", getpgrp() == getpgid(0));
  printf("getpgid(getpid()) == getpgid(0): %d\n", getpgid(getpid()) == getpgid(0));
  printf("getsid(getpid()) == getsid(0): %d\n", getsid(getpid()) == getsid(0));
  E(getpgid(-1));
  E(getsid(-1));
  E(setpgid(0, -1));
  /* CPU-time clock ids: ~pid << 3 | thread << 2 | which; which 3 is a clock named by an
   * fd, and 99999999 no process (QA finding: every negative id was accepted). */
  clockid_t cpu;
  E(clock_getcpuclockid(0, &cpu));
  E(clock_gettime(cpu, &ts));
  E(syscall(SYS_clock_gettime, -6, &ts)); /* the caller's process CPU time */
  E(syscall(SYS_clock_gettime, -2, &ts)); /* the calling thread's */
  E(syscall(SYS_clock_gettime, -1, &ts));
  E(syscall(SYS_clock_gettime, -5, &ts));
  E(syscall(SYS_clock_getres, -1, &ts));
  E(syscall(SYS_clock_gettime, (~99999999 << 3) | 2, &ts));
  return 0;
}
