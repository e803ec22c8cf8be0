/* Signals a guest sends itself while they are blocked (docs/zrt.md "Signals"): they stay
 * pending, sigpending shows them, and unblocking delivers them (SIGTERM's default ends
 * the process: 143). `killall` (zvrun only: natively it would signal every process the
 * user may signal) checks that kill(-1, sig) leaves the caller out, as Linux does, so
 * with no other process it fails with ESRCH. Usage: sigpending blocked|killall. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  if (!strcmp(argv[1], "killall")) {
    int r = kill(-1, SIGTERM);
    printf("kill(-1): %d %s\n", r, r ? strerror(errno) : "");
    return 0;
  }
  sigset_t s, p;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigprocmask(SIG_BLOCK, &s, 0);
  printf("raise: %d\n", raise(SIGTERM));
  sigpending(&p);
  printf("pending SIGTERM: %d, SIGINT: %d\n", sigismember(&p, SIGTERM), sigismember(&p, SIGINT));
  printf("unblocking\n");
  fflush(stdout);
  sigprocmask(SIG_UNBLOCK, &s, 0);
  printf("still running after unblock\n");
  return 0;
}
