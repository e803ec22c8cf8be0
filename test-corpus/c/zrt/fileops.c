/* fileops.c: file calls programs make in passing and expect to work on a regular file
 * (QA findings, all ENOSYS before): posix_fallocate grows a file (with zeros) and
 * FALLOC_FL_KEEP_SIZE leaves its size; posix_fadvise, flock and syncfs are accepted;
 * each checks its arguments as Linux does (EBADF, EINVAL, ESPIPE on a pipe, ENODEV on a
 * device). Usage: fileops FILE, a read-write regular file (natively) or a type-3 channel
 * (under zvrun); compared line by line with the native run (fileops.expected). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-52s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))
/* posix_fadvise and posix_fallocate return the error number. */
#define N(x) printf("%-52s %s\n", #x, strerror(x))

static long size(int fd) {
  struct stat st;
  return fstat(fd, &st) ? -1 : (long)st.st_size;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_RDWR | O_TRUNC);
  E(fd >= 0);
  E(write(fd, "abc", 3));
  N(posix_fallocate(fd, 0, 100));
  printf("size after posix_fallocate(0, 100): %ld\n", size(fd));
  N(posix_fallocate(fd, 10, 20));
  printf("size after posix_fallocate(10, 20): %ld\n", size(fd));
  char buf[128];
  long n = pread(fd, buf, sizeof buf, 0);
  int zero = 1;
  for (long i = 3; i < n; i++) zero &= buf[i] == 0;
  printf("pread: %ld, starts abc %d, then zeros %d\n", n, n >= 3 && !memcmp(buf, "abc", 3), zero);
  E(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1000));
  printf("size after KEEP_SIZE: %ld\n", size(fd));
  E(lseek(fd, 0, SEEK_END));
  E(write(fd, "end", 3));
  printf("size after a write at the end: %ld\n", size(fd));
  N(posix_fallocate(fd, -1, 10));
  N(posix_fallocate(fd, 0, 0));
  N(posix_fallocate(-1, 0, 10));
  N(posix_fallocate(99, 0, 10));

  N(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
  N(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
  N(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL));
  N(posix_fadvise(fd, 0, 0, 99));
  N(posix_fadvise(-1, 0, 0, POSIX_FADV_NORMAL));

  E(flock(fd, LOCK_EX));
  E(flock(fd, LOCK_SH | LOCK_NB));
  E(flock(fd, LOCK_UN));
  E(flock(fd, 0));
  E(flock(fd, LOCK_SH | LOCK_EX));
  E(flock(-1, LOCK_EX));
  E(syncfs(fd));
  E(syncfs(-1));

  int p[2];
  E(pipe(p));
  N(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL));
  N(posix_fallocate(p[1], 0, 10));
  N(posix_fallocate(p[0], 0, 10));
  E(flock(p[0], LOCK_EX));
  int null = open("/dev/null", O_RDWR);
  N(posix_fallocate(null, 0, 10));
  N(posix_fadvise(null, 0, 0, POSIX_FADV_NORMAL));
  int ro = open(argv[1], O_RDONLY);
  N(posix_fallocate(ro, 0, 10));
  E(close(fd));
  return 0;
}
