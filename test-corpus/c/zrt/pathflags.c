/* pathflags.c: open flags and *at flags as Linux checks them (an audit of file calls in
 * images found these different): O_PATH on a directory (usable as a dirfd and for
 * fchdir), O_TRUNC asking for write access (EISDIR on a directory), creating `name/`
 * (EISDIR), O_TMPFILE without write access (EINVAL), unknown flags of fstatat, statx,
 * faccessat2 and linkat (EINVAL), faccessat's AT_EMPTY_PATH, a shared writable mapping
 * of a read-only descriptor (EACCES), and st_blocks in whole 4 KiB blocks. Usage:
 * pathflags FILE, a regular file (natively) or a type-3 channel (under zvrun); compared
 * line by line with the native run (pathflags.expected). Nothing is created or changed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-64s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  struct stat st;
  int d = open(".", O_PATH | O_DIRECTORY);
  E(d >= 0);
  E(fstat(d, &st) == 0 && S_ISDIR(st.st_mode));
  E(fstatat(d, ".", &st, 0) == 0 && S_ISDIR(st.st_mode));
  E(fchdir(d));
  E(close(d));
  E(open(".", O_RDONLY | O_TRUNC));
  E(open("no-such-dir/", O_CREAT | O_WRONLY, 0644));
  E(open(argv[1], O_RDONLY | O_TMPFILE));
  E(fstatat(AT_FDCWD, argv[1], &st, 0x8000));
  E(fstatat(AT_FDCWD, argv[1], &st, 0x1));
  E(fstatat(AT_FDCWD, argv[1], &st, AT_SYMLINK_NOFOLLOW));
  char sx[256];
  E(syscall(SYS_statx, AT_FDCWD, argv[1], 0x6000 /* FORCE_SYNC | DONT_SYNC */, 0x7ffu, sx));
  E(syscall(SYS_statx, AT_FDCWD, argv[1], 0x2000 /* AT_STATX_FORCE_SYNC */, 0x7ffu, sx));
  E(syscall(SYS_faccessat2, AT_FDCWD, argv[1], R_OK, 0x8000));
  E(syscall(SYS_faccessat2, AT_FDCWD, argv[1], R_OK, AT_EACCESS));
  E(linkat(AT_FDCWD, argv[1], AT_FDCWD, "no-such-link", 0x1));
  int fd = open(argv[1], O_RDWR | O_TRUNC);
  E(fd >= 0);
  E(write(fd, "123456", 6));
  E(faccessat(fd, "", R_OK, AT_EMPTY_PATH));
  E(fstat(fd, &st));
  printf("size %ld blocks %ld\n", (long)st.st_size, (long)st.st_blocks);
  int ro = open(argv[1], O_RDONLY);
  E(ro >= 0);
  void *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
  E(m == MAP_FAILED ? -1 : 0);
  return 0;
}
