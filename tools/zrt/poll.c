/* poll.c: poll, ppoll, select and pselect6 over zrt's descriptors (docs/zrt.md, "Pipes").
 *
 * What each fd is ready for comes from files.c (zrt_fd_events): a pipe end from its
 * buffer (pipe.c: readable with bytes or once the write end is closed, writable while a
 * PIPE_BUF write fits, POLLHUP/POLLERR as Linux), every other fd (channels, directories,
 * /dev/null) always readable and writable, as Linux's regular files.
 *
 * The guest is one thread and nothing outside it can change a pipe, so there is nothing
 * to wait for: every call looks once and returns. With nothing ready the answer is 0, as
 * when a timeout expires, whatever the timeout (a negative or absent one included, where
 * Linux would wait forever); the remaining time written back is then 0. Argument errors
 * are Linux's: a bad timeout or signal-set size -EINVAL, more pollfds than RLIMIT_NOFILE
 * (256) -EINVAL, an fd that is not open POLLNVAL (poll) or -EBADF (select).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>

#include "zrt.h"

/* The kernel's struct pollfd. */
struct kernel_pollfd {
  int fd;
  short events, revents;
};

/* What select's three sets ask about, as Linux's POLLIN_SET, POLLOUT_SET, POLLEX_SET. */
#define ZRT_IN_SET (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define ZRT_OUT_SET (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define ZRT_EX_SET (POLLPRI)

static long poll_once(struct kernel_pollfd *fds, long nfds) {
  if ((unsigned long)nfds > 256) return -EINVAL; /* RLIMIT_NOFILE (misc.c) */
  if (nfds > 0 && !fds) return -EFAULT;
  long ready = 0;
  for (long i = 0; i < nfds; i++) {
    short got = 0;
    if (fds[i].fd >= 0) { /* negative fds are skipped, revents 0 */
      int ev = zrt_fd_events(fds[i].fd);
      got = ev < 0 ? POLLNVAL : (short)(ev & ((unsigned short)fds[i].events | POLLERR | POLLHUP));
    }
    fds[i].revents = got;
    if (got) ready++;
  }
  return ready;
}

long zrt_poll(void *fds, long nfds, long timeout_ms) {
  (void)timeout_ms; /* nothing could become ready while waiting */
  return poll_once(fds, nfds);
}

/* A timespec Linux accepts: seconds >= 0, nanoseconds in [0, 1e9). */
static int valid_timespec(const long *ts) { return ts[0] >= 0 && ts[1] >= 0 && ts[1] < 1000000000L; }

long zrt_ppoll(void *fds, long nfds, const void *tsp, const void *sigmask, long sigsetsize) {
  long *ts = (long *)tsp;
  if (ts && !valid_timespec(ts)) return -EINVAL;
  if (sigmask && sigsetsize != 8) return -EINVAL;
  long r = poll_once(fds, nfds);
  if (r == 0 && ts) ts[0] = ts[1] = 0; /* the timeout has run out */
  return r;
}

/* select over fds [0, n): -EBADF when a set holds an fd that is not open; else each set
 * keeps the fds ready for what it asks, and the answer counts the bits left. */
static long select_once(long n, uint64_t *rfds, uint64_t *wfds, uint64_t *efds) {
  if (n < 0) return -EINVAL;
  if (n > ZRT_MAX_FD) n = ZRT_MAX_FD; /* as Linux: no fd beyond the table */
  uint64_t *sets[3] = {rfds, wfds, efds};
  const int wants[3] = {ZRT_IN_SET, ZRT_OUT_SET, ZRT_EX_SET};
  uint64_t out[3][ZRT_MAX_FD / 64];
  zrt_zero(out, sizeof out);
  long ready = 0;
  for (long fd = 0; fd < n; fd++) {
    uint64_t bit = 1ull << (fd % 64);
    int asked = 0;
    for (int s = 0; s < 3; s++) asked |= sets[s] && (sets[s][fd / 64] & bit);
    if (!asked) continue;
    int ev = zrt_fd_events(fd);
    if (ev < 0) return -EBADF;
    for (int s = 0; s < 3; s++) {
      if (sets[s] && (sets[s][fd / 64] & bit) && (ev & wants[s])) {
        out[s][fd / 64] |= bit;
        ready++;
      }
    }
  }
  long words = (n + 63) / 64;
  for (int s = 0; s < 3; s++)
    if (sets[s]) zrt_copy(sets[s], out[s], (size_t)words * sizeof(uint64_t));
  return ready;
}

long zrt_select(long n, void *rfds, void *wfds, void *efds, void *tvp) {
  long *tv = tvp; /* struct timeval: seconds, microseconds (Linux normalises >= 1e6) */
  if (tv && (tv[0] < 0 || tv[1] < 0)) return -EINVAL;
  long r = select_once(n, rfds, wfds, efds);
  if (r == 0 && tv) tv[0] = tv[1] = 0;
  return r;
}

long zrt_pselect6(long n, void *rfds, void *wfds, void *efds, void *tsp, const void *sigdata) {
  long *ts = tsp;
  if (ts && !valid_timespec(ts)) return -EINVAL;
  if (sigdata) {
    const long *d = sigdata; /* { const sigset_t *set; size_t size } */
    if (d[0] && d[1] != 8) return -EINVAL;
  }
  long r = select_once(n, rfds, wfds, efds);
  if (r == 0 && ts) ts[0] = ts[1] = 0;
  return r;
}
