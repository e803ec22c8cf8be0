/* sysinfo.c: what a guest learns about its world, one `key: value` line each.
 *
 * Natively the values are the host's; under zvrun they come from the session (the
 * manifest's fixed time and seed) or are zrt's constants. tools/zrt/tests checks the
 * zvrun output line by line against the options it ran with (--time, --seed, channels)
 * and that the native build runs too. Expects stdin to be a pipe or a sequential
 * channel, and, under zvrun, a read-only channel /data/input.bin. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void hex(const char *key, const unsigned char *p, size_t n) {
  printf("%s: ", key);
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

static void on_signal(int s) { (void)s; }

int main(void) {
  time_t t = time(NULL);
  printf("time: %lld\n", (long long)t);
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  printf("clock_gettime realtime: %d %lld %ld\n", r, (long long)ts.tv_sec, ts.tv_nsec);
  struct timeval tv;
  r = gettimeofday(&tv, NULL);
  printf("gettimeofday: %d %lld %ld\n", r, (long long)tv.tv_sec, (long)tv.tv_usec);
  r = clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("clock_gettime monotonic: %d\n", r);
  struct timespec nap = {0, 1000000};
  printf("nanosleep: %d\n", nanosleep(&nap, NULL));

  unsigned char a[32], b[16];
  ssize_t n1 = getrandom(a, sizeof a, 0);
  ssize_t n2 = getrandom(b, sizeof b, 0);
  printf("getrandom sizes: %zd %zd\n", n1, n2);
  hex("getrandom 32", a, sizeof a);
  hex("getrandom 16", b, sizeof b);

  struct utsname u;
  r = uname(&u);
  printf("uname: %d %s %s\n", r, u.sysname, u.machine);
  char cwd[256];
  printf("getcwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : "(null)");
  printf("getpid: %d\n", getpid() > 0);

  errno = 0;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  printf("socket: %d %s\n", s, errno == ENOSYS ? "ENOSYS" : "other");
  errno = 0;
  long rr = syscall(999);
  printf("syscall 999: %ld %s\n", rr, errno == ENOSYS ? "ENOSYS" : "other");
  /* The names are the manifest's: what would change them is EROFS. */
  errno = 0;
  r = unlink("/data/input.bin");
  printf("unlink channel: %d %s\n", r, errno == EROFS ? "EROFS" : "other");
  errno = 0;
  r = mkdir("/data/new", 0755);
  printf("mkdir new: %d %s\n", r, errno == EROFS ? "EROFS" : "other");
  errno = 0;
  r = open("/data/created.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
  printf("create new: %d %s\n", r, errno == EROFS ? "EROFS" : "other");
  errno = 0;
  r = open("/data/missing.txt", O_RDONLY);
  printf("open missing: %d %s\n", r, errno == ENOENT ? "ENOENT" : "other");
  errno = 0;
  r = rename("/data/input.bin", "/data/moved.bin");
  printf("rename channel: %d %s\n", r, errno == EROFS ? "EROFS" : "other");
  errno = 0;
  r = truncate("/data/input.bin", 0);
  printf("truncate read-only channel: %d %s\n", r, errno == EACCES ? "EACCES" : "other");

  errno = 0;
  long o = (long)lseek(0, 0, SEEK_CUR);
  printf("lseek stdin: %ld %s\n", o, errno == ESPIPE ? "ESPIPE" : "other");
  struct winsize ws;
  errno = 0;
  r = ioctl(1, TIOCGWINSZ, &ws);
  printf("ioctl TIOCGWINSZ: %d %s\n", r, errno == ENOTTY ? "ENOTTY" : "other");
  struct stat st;
  r = fstat(1, &st);
  printf("fstat stdout: %d chr %d\n", r, S_ISCHR(st.st_mode));

  r = stat("/", &st);
  printf("stat /: %d dir %d\n", r, S_ISDIR(st.st_mode));
  r = stat("/data/input.bin", &st);
  printf("stat /data/input.bin: %d size %lld\n", r, (long long)st.st_size);
  /* statx has no wrapper in musl 1.2.3: the raw call, reading stx_mode and stx_size */
  unsigned char sx[256];
  long sxr = syscall(SYS_statx, AT_FDCWD, "/data/input.bin", 0, 0x7ff, sx);
  unsigned short sx_mode;
  unsigned long long sx_size;
  memcpy(&sx_mode, sx + 28, sizeof sx_mode);
  memcpy(&sx_size, sx + 40, sizeof sx_size);
  printf("statx /data/input.bin: %ld regular %d size %llu\n", sxr, S_ISREG(sx_mode), sx_size);
  errno = 0;
  int fd = open("/data/input.bin", O_WRONLY);
  printf("open read-only channel for writing: %d %s\n", fd, errno == EACCES ? "EACCES" : "other");
  fd = open("/data/input.bin", O_RDONLY);
  printf("open /data/input.bin: %d\n", fd);
  errno = 0;
  r = access("/data/input.bin", W_OK);
  printf("access W_OK: %d %s\n", r, errno == EACCES ? "EACCES" : "other");
  char link[64];
  errno = 0;
  ssize_t lk = readlink("/data/input.bin", link, sizeof link);
  printf("readlink: %zd %s\n", lk, errno == EINVAL ? "EINVAL" : "other");
  r = chdir("/data");
  int in_data = open("input.bin", O_RDONLY);
  printf("chdir /data: %d getcwd %s open input.bin %d\n", r, getcwd(cwd, sizeof cwd) ? cwd : "(null)", in_data >= 0);
  errno = 0;
  r = chdir("/data/input.bin");
  printf("chdir to a file: %d %s\n", r, errno == ENOTDIR ? "ENOTDIR" : "other");
  chdir("/");
  const char *dirs[] = {"/", "/data"};
  for (int i = 0; i < 2; i++) {
    DIR *d = opendir(dirs[i]);
    printf("readdir %s: [", dirs[i]);
    struct dirent *e;
    for (int k = 0; d && (e = readdir(d)); k++) printf("%s%s%s", k ? " " : "", e->d_name, e->d_type == DT_DIR ? "/" : "");
    printf("]\n");
    if (d) closedir(d);
  }
  int nul = open("/dev/null", O_WRONLY);
  printf("write /dev/null: %zd\n", write(nul, "x", 1));

  void (*prev)(int) = signal(SIGINT, on_signal);
  void (*again)(int) = signal(SIGINT, SIG_DFL);
  printf("signal: first %d second %d\n", prev == SIG_DFL, again == on_signal);
  struct rlimit rl;
  r = getrlimit(RLIMIT_NOFILE, &rl);
  printf("getrlimit: %d\n", r);

  /* anonymous memory: zero-filled, remappable, zero again after reuse */
  size_t len = 1 << 20;
  unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int zero = 1;
  for (size_t i = 0; i < len; i++) zero &= m[i] == 0;
  memset(m, 0xab, len);
  unsigned char *m2 = mremap(m, len, 4 * len, MREMAP_MAYMOVE);
  int kept = m2 != MAP_FAILED && m2[len - 1] == 0xab && m2[4 * len - 1] == 0;
  printf("mmap zero: %d mremap kept: %d munmap: %d\n", zero, kept, munmap(m2, 4 * len));
  m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  zero = 1;
  for (size_t i = 0; i < len; i++) zero &= m[i] == 0;
  printf("mmap after munmap zero: %d\n", zero);

  /* The main thread's stack as musl measures it: pthread_getattr_np walks down with
   * mremap while it fails with ENOMEM (zrt said EFAULT and musl found 4 KiB: audit
   * finding). And mprotect on static data, accepted read-write as on Linux. */
  pthread_attr_t at;
  void *sa = 0;
  size_t ss = 0;
  int here = 0;
  int ga = pthread_getattr_np(pthread_self(), &at);
  if (ga == 0) pthread_attr_getstack(&at, &sa, &ss);
  printf("stack: %d holds a local %d at least 1 MiB %d\n", ga,
         (char *)&here >= (char *)sa && (char *)&here < (char *)sa + ss, ss >= (1u << 20));
  static char table[8192] __attribute__((aligned(4096)));
  table[0] = 1;
  printf("mprotect data: %d\n", mprotect(table, 4096, PROT_READ | PROT_WRITE));

  /* close frees the fd: the lowest free fd is taken next */
  int c0 = close(0);
  int again0 = open("/data/input.bin", O_RDONLY);
  printf("close 0 then open: %d %d\n", c0, again0);
  return 0;
}
