/* pipes.c: pipes, poll, select and the CPU count inside one process, one line per check.
 *
 * Without arguments: what a single-threaded program sees of a pipe when nothing ever
 * waits (round trip, EOF, EPIPE, O_NONBLOCK and EAGAIN, a full pipe, dup2 over stdout,
 * readv/writev, fstat, fcntl, FIONREAD, poll and select readiness, many pipes made and
 * closed); the same lines natively (pipes.expected) and under zvrun. Expects
 * data/input.bin (a file natively, a read-only channel under zvrun).
 *
 * `blocking`: what zrt answers where Linux would block forever (docs/zrt.md, "Pipes"):
 * run only under zvrun. `cpus`: sched_getaffinity, sysconf and sched_getcpu (one CPU
 * under zvrun, the host's natively). `sigpipe`: a write to a pipe without a read end
 * with SIGPIPE at its default disposition (the process dies of SIGPIPE); with
 * `sigpipe-blocked` the signal is blocked and the write fails with EPIPE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ESPIPE: return "ESPIPE";
    case EFAULT: return "EFAULT";
    case ENODEV: return "ENODEV";
    default: return "other";
  }
}

/* "N" for a success, "-1 ENAME" for a failure. */
static const char *res(long r) {
  static char buf[8][32];
  static int k;
  char *b = buf[k++ % 8];
  if (r < 0) snprintf(b, 32, "-1 %s", ename(errno));
  else snprintf(b, 32, "%ld", r);
  return b;
}

static short revents(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  int r = poll(&p, 1, 0);
  return r < 0 ? -1 : p.revents;
}

static int unread(int fd) {
  int n = -1;
  return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n;
}

static unsigned char big[80000], back[80000];

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i * 131 + seed) >> 3);
}

static void basics(void) {
  int p[2];
  int r = pipe(p);
  printf("pipe: %d fds %d %d\n", r, p[0], p[1]);
  printf("write: %s\n", res(write(p[1], "hello, pipe", 11)));
  int u0 = unread(p[0]);
  int u1 = unread(p[1]);
  printf("FIONREAD: %d %d\n", u0, u1);
  char buf[64] = {0};
  ssize_t n = read(p[0], buf, sizeof buf);
  printf("read: %zd [%s]\n", n, buf);
  struct stat a, b;
  fstat(p[0], &a);
  fstat(p[1], &b);
  printf("fstat: fifo %d %d mode %o %o size %lld same inode %d\n", S_ISFIFO(a.st_mode), S_ISFIFO(b.st_mode),
         (unsigned)(a.st_mode & 0777), (unsigned)(b.st_mode & 0777), (long long)a.st_size, a.st_ino == b.st_ino);
  printf("lseek: %s\n", res(lseek(p[0], 0, SEEK_CUR)));
  printf("pread: %s\n", res(pread(p[0], buf, 1, 0)));
  printf("pwrite: %s\n", res(pwrite(p[1], "x", 1, 0)));
  printf("fsync: %s\n", res(fsync(p[1])));
  printf("read write end: %s\n", res(read(p[1], buf, 1)));
  printf("write read end: %s\n", res(write(p[0], "x", 1)));
  printf("F_GETFL: %o %o\n", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL));
  printf("F_GETFD: %d %d\n", fcntl(p[0], F_GETFD), fcntl(p[1], F_GETFD));
  printf("F_GETPIPE_SZ: %s\n", res(fcntl(p[1], F_GETPIPE_SZ)));
  printf("FIONREAD empty: %d\n", unread(p[0]));
  errno = 0;
  void *m = mmap(0, 4096, PROT_READ, MAP_PRIVATE, p[0], 0);
  printf("mmap: %s\n", m == MAP_FAILED ? res(-1) : "mapped");
  close(p[0]);
  close(p[1]);

  r = pipe2(p, O_CLOEXEC | O_NONBLOCK);
  printf("pipe2 cloexec nonblock: %d\n", r);
  printf("pipe2 F_GETFL: %o %o\n", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL));
  printf("pipe2 F_GETFD: %d %d\n", fcntl(p[0], F_GETFD), fcntl(p[1], F_GETFD));
  close(p[0]);
  close(p[1]);
  int q[2] = {-1, -1};
  printf("pipe2 O_APPEND: %s fds %d %d\n", res(pipe2(q, O_APPEND)), q[0], q[1]);
}

/* EOF once the write end is closed (every fd of it: a dup keeps it open). */
static void eof(void) {
  int p[2];
  pipe2(p, O_NONBLOCK);
  int w2 = dup(p[1]);
  write(p[1], "abc", 3);
  close(p[1]);
  char buf[8];
  printf("eof: read %s\n", res(read(p[0], buf, sizeof buf)));
  printf("eof: read %s with a dup of the write end open\n", res(read(p[0], buf, sizeof buf)));
  write(w2, "de", 2);
  printf("eof: poll read end %#x before the last close\n", revents(p[0], POLLIN));
  close(w2);
  printf("eof: poll read end %#x after it\n", revents(p[0], POLLIN));
  printf("eof: read %s\n", res(read(p[0], buf, sizeof buf)));
  printf("eof: read %s at the end\n", res(read(p[0], buf, sizeof buf)));
  printf("eof: poll read end %#x at the end\n", revents(p[0], POLLIN));
  close(p[0]);
}

/* EPIPE with SIGPIPE ignored; the write end then polls POLLERR. */
static void epipe(void) {
  signal(SIGPIPE, SIG_IGN);
  int p[2];
  pipe(p);
  close(p[0]);
  printf("epipe: write %s\n", res(write(p[1], "x", 1)));
  printf("epipe: empty write %s\n", res(write(p[1], "", 0)));
  printf("epipe: poll write end %#x\n", revents(p[1], POLLOUT));
  close(p[1]);
  signal(SIGPIPE, SIG_DFL);
}

/* O_NONBLOCK: EAGAIN on an empty pipe and a full one; 64 KiB of capacity. */
static void nonblocking(void) {
  int p[2];
  pipe(p);
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
  char c;
  printf("nonblock: F_GETFL %o %o\n", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL));
  printf("nonblock: read empty %s\n", res(read(p[0], &c, 1)));
  printf("nonblock: poll empty %#x %#x\n", revents(p[0], POLLIN | POLLOUT), revents(p[1], POLLIN | POLLOUT));
  fill(big, sizeof big, 7);
  printf("fill: write %s\n", res(write(p[1], big, 70000)));
  printf("full: write %s\n", res(write(p[1], "x", 1)));
  printf("full: FIONREAD %d\n", unread(p[0]));
  printf("full: poll %#x %#x\n", revents(p[0], POLLIN | POLLOUT), revents(p[1], POLLIN | POLLOUT));
  printf("drain: read %s\n", res(read(p[0], back, 8192)));
  printf("drain: write 4096 %s\n", res(write(p[1], big + 65536, 4096)));
  printf("drain: write 4096 %s\n", res(write(p[1], big + 69632, 4096)));
  printf("drain: write 1 %s\n", res(write(p[1], "x", 1)));
  size_t got = 8192;
  for (;;) {
    ssize_t n = read(p[0], back + got, sizeof back - got);
    if (n <= 0) {
      printf("drained: %zu bytes, last read %s, same bytes %d\n", got, res(n), memcmp(back, big, got) == 0);
      break;
    }
    got += (size_t)n;
  }
  printf("empty again: poll %#x %#x\n", revents(p[0], POLLIN | POLLOUT), revents(p[1], POLLIN | POLLOUT));
  close(p[0]);
  close(p[1]);
}

/* stdout (fd 1) on a pipe's write end: printf goes into the pipe. */
static void stdout_into_pipe(void) {
  int p[2];
  pipe(p);
  fflush(stdout);
  int saved = dup(1);
  int r = dup2(p[1], 1);
  struct stat st;
  fstat(1, &st);
  int fifo = S_ISFIFO(st.st_mode);
  printf("through the pipe: %d\n", 42);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  close(p[1]);
  char buf[128] = {0};
  ssize_t n = read(p[0], buf, sizeof buf - 1);
  for (ssize_t i = 0; i < n; i++)
    if (buf[i] == '\n') buf[i] = '|';
  printf("dup2 over stdout: %d fifo %d, read back %zd [%s], then %s\n", r, fifo, n, buf, res(read(p[0], buf, 1)));
  close(p[0]);
}

static void vectors(void) {
  int p[2];
  pipe(p);
  struct iovec out[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
  char x[4] = {0}, y[8] = {0};
  struct iovec in[2] = {{x, sizeof x}, {y, sizeof y}};
  printf("writev: %s\n", res(writev(p[1], out, 3)));
  printf("readv: %s [%.4s] [%s]\n", res(readv(p[0], in, 2)), x, y);
  close(p[0]);
  close(p[1]);
}

static void polling(void) {
  int p[2];
  pipe(p);
  int file = open("data/input.bin", O_RDONLY);
  int devnull = open("/dev/null", O_WRONLY);
  struct pollfd f[6] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {file, POLLIN | POLLOUT, 0},
                        {devnull, POLLIN | POLLOUT, 0}, {200, POLLIN, 0}, {-5, POLLIN, 0}};
  int r = poll(f, 6, 0);
  printf("poll before a write: %d [%#x %#x %#x %#x %#x %#x]\n", r, f[0].revents, f[1].revents, f[2].revents,
         f[3].revents, f[4].revents, f[5].revents);
  write(p[1], "z", 1);
  r = poll(f, 2, 5);
  printf("poll after a write: %d [%#x %#x]\n", r, f[0].revents, f[1].revents);
  f[1].events = 0;
  r = poll(f, 2, 5);
  printf("poll, write end asks nothing: %d [%#x %#x]\n", r, f[0].revents, f[1].revents);
  char c;
  read(p[0], &c, 1);
  f[1].fd = -1;
  r = poll(f, 2, 5);
  printf("poll with a 5 ms timeout, nothing ready: %d [%#x]\n", r, f[0].revents);
  struct timespec ts = {0, 1000000};
  r = ppoll(f, 1, &ts, NULL);
  printf("ppoll, nothing ready: %d\n", r);
  struct timespec bad = {0, 1000000000};
  printf("ppoll bad timeout: %s\n", res(ppoll(f, 1, &bad, NULL)));

  fd_set rd, wr, ex;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_ZERO(&ex);
  FD_SET(p[0], &rd);
  FD_SET(p[1], &wr);
  FD_SET(p[0], &ex);
  struct timeval tv = {0, 0};
  r = select(p[1] + 1, &rd, &wr, &ex, &tv);
  printf("select empty: %d read %d write %d except %d\n", r, FD_ISSET(p[0], &rd), FD_ISSET(p[1], &wr),
         FD_ISSET(p[0], &ex));
  write(p[1], "zz", 2);
  FD_SET(p[0], &rd);
  FD_SET(p[1], &wr);
  FD_SET(file, &rd);
  tv.tv_usec = 5000;
  r = select(file + 1, &rd, &wr, NULL, &tv);
  printf("select after a write: %d read %d write %d file %d\n", r, FD_ISSET(p[0], &rd), FD_ISSET(p[1], &wr),
         FD_ISSET(file, &rd));
  read(p[0], &c, 1);
  read(p[0], &c, 1);
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  tv.tv_sec = 0;
  tv.tv_usec = 5000;
  r = select(p[0] + 1, &rd, NULL, NULL, &tv);
  printf("select with a 5 ms timeout, nothing ready: %d read %d\n", r, FD_ISSET(p[0], &rd));
  /* A low descriptor just closed: Linux ignores set bits beyond the size of the process's descriptor table, and
     that size depends on what the parent had open, so a high number such as 200 is EBADF only on some machines. */
  int closed = dup(file);
  close(closed);
  FD_SET(closed, &rd);
  printf("select on a closed fd: %s\n", res(select(closed + 1, &rd, NULL, NULL, &tv)));
  close(p[1]);
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  struct timespec zero = {0, 0};
  sigset_t mask;
  sigemptyset(&mask);
  r = pselect(p[0] + 1, &rd, NULL, NULL, &zero, &mask);
  printf("pselect after the write end closed: %d read %d\n", r, FD_ISSET(p[0], &rd));
  close(p[0]);
  close(file);
  close(devnull);
}

/* Many pipes filled and closed: each close of both ends gives the buffer back. */
static void churn(void) {
  int ok = 0;
  for (int i = 0; i < 300; i++) {
    int p[2];
    if (pipe2(p, O_NONBLOCK) < 0) break;
    fill(big, 65536, (unsigned)i);
    ssize_t w = write(p[1], big, 65536);
    ssize_t r = read(p[0], back, 65536);
    close(p[1]);
    close(p[0]);
    if (w != 65536 || r != 65536 || memcmp(big, back, 65536) != 0) break;
    ok++;
  }
  int p[2];
  pipe(p);
  printf("churn: %d pipes of 64 KiB, then pipe fds %d %d\n", ok, p[0], p[1]);
  close(p[0]);
  close(p[1]);
}

/* zvrun only: where Linux would block forever, zrt answers at once. */
static void blocking(void) {
  struct sysinfo before, during, after;
  sysinfo(&before);
  int p[2];
  pipe(p);
  char c;
  printf("blocking read, empty: %s\n", res(read(p[0], &c, 1)));
  fill(big, sizeof big, 3);
  printf("blocking write 70000: %s\n", res(write(p[1], big, 70000)));
  printf("blocking write 4096 when full: %s\n", res(write(p[1], big, 4096)));
  printf("blocking write 1 when full: %s\n", res(write(p[1], "x", 1)));
  sysinfo(&during);
  struct pollfd f = {p[1], POLLOUT, 0};
  printf("poll forever, nothing ready: %d\n", poll(&f, 1, -1));
  fd_set wr;
  FD_ZERO(&wr);
  FD_SET(p[1], &wr);
  printf("select forever, nothing ready: %d\n", select(p[1] + 1, NULL, &wr, NULL, NULL));
  ssize_t n = read(p[0], back, sizeof back);
  printf("read back: %zd same %d\n", n, memcmp(back, big, 65536) == 0);
  close(p[0]);
  close(p[1]);
  sysinfo(&after);
  printf("buffer memory: %lu while full, %lu after close\n", (unsigned long)(before.freeram - during.freeram),
         (unsigned long)(before.freeram - after.freeram));
}

static void cpus(void) {
  cpu_set_t set;
  int r = sched_getaffinity(0, sizeof set, &set);
  printf("sched_getaffinity: %d count %d cpu0 %d\n", r, CPU_COUNT(&set), CPU_ISSET(0, &set) != 0);
  printf("sysconf: onln %ld conf %ld\n", sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_NPROCESSORS_CONF));
  printf("get_nprocs: %d\n", get_nprocs());
  printf("sched_getcpu: %d\n", sched_getcpu());
  printf("sched_setaffinity cpu0: %d\n", sched_setaffinity(0, sizeof set, &set));
}

/* With SIGPIPE blocked it stays pending and the write fails with EPIPE. */
static void sigpipe(int blocked) {
  if (blocked) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, NULL);
  }
  int p[2];
  pipe(p);
  close(p[0]);
  printf("before the write\n");
  fflush(stdout);
  ssize_t r = write(p[1], "x", 1);
  printf("after the write: %s\n", res(r));
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "blocking") == 0) {
    blocking();
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "cpus") == 0) {
    cpus();
    return 0;
  }
  if (argc > 1 && strncmp(argv[1], "sigpipe", 7) == 0) {
    sigpipe(strcmp(argv[1], "sigpipe-blocked") == 0);
    return 0;
  }
  basics();
  eof();
  epipe();
  nonblocking();
  stdout_into_pipe();
  vectors();
  polling();
  churn();
  return 0;
}
