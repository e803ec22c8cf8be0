/* sigwait.c: pending signals taken and discarded, and interval timers (QA findings,
 * docs/zrt.md "Time, randomness, identity"):
 * - sigtimedwait and sigwait take a blocked, pending signal out of the pending set and
 *   return it (they were ENOSYS, so a program that raises a signal and waits for it
 *   failed); with none pending and a zero timeout, EAGAIN;
 * - setting a pending signal's action to SIG_IGN discards it (POSIX; zrt kept it, and
 *   unblocking it after the action went back to SIG_DFL ended the guest with 140);
 * - setitimer and getitimer record the timers (ENOSYS, so alarm(0) never reported the
 *   seconds left of an earlier alarm(100)).
 * Compared line by line with a native run (sigwait.expected); timers are printed in whole
 * seconds rounded up, as alarm reports them, and disarmed long before they could expire.
 * A zero value disarms a timer; ITIMER_REAL's interval goes with it, the CPU-time
 * timers keep theirs (as Linux). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-52s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))

static long up(struct timeval tv) { return (long)tv.tv_sec + (tv.tv_usec > 0); }

static void pending(const char *when) {
  sigset_t p;
  sigpending(&p);
  printf("%s: pending USR1 %d USR2 %d TERM %d CHLD %d\n", when, sigismember(&p, SIGUSR1), sigismember(&p, SIGUSR2),
         sigismember(&p, SIGTERM), sigismember(&p, SIGCHLD));
}

int main(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  sigaddset(&s, SIGUSR2);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGCHLD);
  E(sigprocmask(SIG_BLOCK, &s, NULL));
  struct timespec zero = {0, 0};
  siginfo_t si;

  /* Taken by sigtimedwait: the lowest first, with its siginfo. */
  E(raise(SIGUSR2));
  E(kill(getpid(), SIGUSR1));
  pending("raised USR2, killed USR1");
  memset(&si, 0, sizeof si);
  E(sigtimedwait(&s, &si, &zero));
  printf("si_signo %d si_code %d si_pid is getpid %d si_uid is getuid %d\n", si.si_signo, si.si_code,
         si.si_pid == getpid(), si.si_uid == getuid());
  memset(&si, 0, sizeof si);
  E(sigtimedwait(&s, &si, &zero));
  printf("si_signo %d si_code %d\n", si.si_signo, si.si_code);
  pending("after two waits");
  E(sigtimedwait(&s, &si, &zero));
  E(sigtimedwait(&s, &si, &(struct timespec){0, 1000000000}));
  E(sigtimedwait(&s, &si, &(struct timespec){-1, 0}));
  E(syscall(SYS_rt_sigtimedwait, &s, &si, &zero, 4));

  /* sigwait and sigwaitinfo take what is pending. */
  E(raise(SIGTERM));
  int sig = 0;
  E(sigwait(&s, &sig));
  printf("sigwait: %d\n", sig);
  E(raise(SIGTERM));
  E(sigwaitinfo(&s, NULL));
  pending("after sigwait and sigwaitinfo");

  /* A pending signal whose action becomes SIG_IGN is discarded; one that stays pending
   * while ignored by default (SIGCHLD under SIG_DFL cannot be pending: raising it with
   * SIG_DFL and blocked keeps it, since blocked signals are never ignored). */
  E(raise(SIGUSR2));
  E(raise(SIGCHLD));
  pending("raised USR2 and CHLD");
  E(signal(SIGUSR2, SIG_IGN) == SIG_ERR);
  pending("after signal(SIGUSR2, SIG_IGN)");
  E(signal(SIGUSR2, SIG_DFL) == SIG_ERR);
  E(signal(SIGCHLD, SIG_DFL) == SIG_ERR);
  pending("after signal(SIGCHLD, SIG_DFL)");
  E(raise(SIGUSR1));
  struct sigaction sa = {0};
  sa.sa_handler = SIG_IGN;
  E(sigaction(SIGUSR1, &sa, NULL));
  pending("after sigaction(SIGUSR1, SIG_IGN)");
  sa.sa_handler = SIG_DFL;
  E(sigaction(SIGUSR1, &sa, NULL));
  E(sigprocmask(SIG_UNBLOCK, &s, NULL));
  printf("still running after unblocking\n");

  /* Interval timers: what was set is reported back. */
  E(alarm(100));
  E(alarm(0));
  E(alarm(0));
  struct itimerval it = {{2, 500000}, {100, 0}}, old;
  E(setitimer(ITIMER_REAL, &it, NULL));
  E(getitimer(ITIMER_REAL, &old));
  printf("real: value %ld interval %ld.%06ld\n", up(old.it_value), (long)old.it_interval.tv_sec,
         (long)old.it_interval.tv_usec);
  E(setitimer(ITIMER_VIRTUAL, &it, &old));
  printf("virtual before: value %ld\n", up(old.it_value));
  E(setitimer(ITIMER_PROF, &it, NULL));
  struct itimerval off = {{5, 0}, {0, 0}};
  E(setitimer(ITIMER_VIRTUAL, &off, &old));
  /* CPU-time timers count in the kernel's ticks: the value read back may be a tick more. */
  printf("virtual: value about 100 %d interval %ld\n", old.it_value.tv_sec >= 99 && old.it_value.tv_sec <= 100,
         (long)old.it_interval.tv_sec);
  E(getitimer(ITIMER_VIRTUAL, &old));
  printf("virtual disarmed: value %ld interval %ld\n", up(old.it_value), (long)old.it_interval.tv_sec);
  E(setitimer(ITIMER_PROF, &off, NULL));
  E(setitimer(ITIMER_REAL, &off, &old));
  printf("real before disarming: value %ld\n", up(old.it_value));
  E(setitimer(3, &it, NULL));
  E(getitimer(-1, &old));
  E(setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 1000000}}, NULL));
  E(setitimer(ITIMER_REAL, &(struct itimerval){{0, -1}, {1, 0}}, NULL));
  E(alarm(0));
  return 0;
}
