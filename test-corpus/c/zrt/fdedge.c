/* fdedge.c: descriptor calls with answers a program relies on (audit findings, eleventh
 * session): fcntl's signal-driven I/O owner and signal and its leases (zrt answered
 * EINVAL, which musl's F_GETOWN turned into the owner "process group 22"), lseek's
 * SEEK_DATA and SEEK_HOLE (a file without holes) and an offset overflow (EINVAL, not
 * EOVERFLOW), an O_PATH descriptor (fstat and F_GETFL work, I/O is EBADF), and a file
 * mapping's last page (the file's bytes past the length asked for, zeros past its end).
 * Usage: fdedge FILE, a regular file of 12 bytes read-only (natively) or a type-1
 * channel on one (under zvrun); compared line by line with the native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-44s %ld %s\n", what, r, errno ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_RDONLY);
  E(fd >= 0);
  E(fcntl(fd, F_GETOWN));
  struct f_owner_ex ex = {F_OWNER_PGRP, 77};
  E(fcntl(fd, F_GETOWN_EX, &ex)); /* no owner set: type F_OWNER_TID, pid 0 */
  printf("owner_ex type %d pid %d\n", ex.type, ex.pid);
  E(fcntl(fd, F_SETOWN, 0));
  E(fcntl(fd, F_GETSIG));
  E(fcntl(fd, F_SETSIG, 1000));
  E(fcntl(fd, F_GETLEASE) == F_UNLCK);
  E(fcntl(fd, F_SETLEASE, F_RDLCK));
  E(fcntl(fd, F_SETLEASE, F_UNLCK));
  E(fcntl(fd, F_SETLEASE, 42));
  E(lseek(fd, 0, SEEK_DATA));
  E(lseek(fd, 5, SEEK_DATA));
  E(lseek(fd, 0, SEEK_HOLE));
  E(lseek(fd, 11, SEEK_HOLE));
  E(lseek(fd, 12, SEEK_DATA));
  E(lseek(fd, 100, SEEK_HOLE));
  E(lseek(fd, -1, SEEK_DATA));
  E(lseek(fd, 1, SEEK_SET));
  E(lseek(fd, INT64_MAX, SEEK_CUR));
  E(lseek(fd, 0, SEEK_CUR));
  E(lseek(fd, -2, SEEK_SET));
  E(close(fd));
  int p = open(argv[1], O_PATH);
  E(p >= 0);
  struct stat st;
  E(fstat(p, &st));
  printf("O_PATH size %ld\n", (long)st.st_size);
  E((fcntl(p, F_GETFL) & O_PATH) != 0);
  E(fcntl(p, F_GETOWN));
  E(fcntl(p, F_SETFL, O_NONBLOCK));
  E(fcntl(p, F_GETFD));
  E(open("missing-file", O_PATH | O_CREAT, 0644));
  char buf[4];
  E(read(p, buf, sizeof buf));
  E(pread(p, buf, sizeof buf, 0));
  E(lseek(p, 0, SEEK_SET));
  E(write(p, "x", 1));
  int d = dup(p);
  E(d >= 0);
  E(read(d, buf, sizeof buf));
  E(close(d));
  E(close(p));
  int m = open(argv[1], O_RDONLY);
  const char *q = mmap(0, 5, PROT_READ, MAP_PRIVATE, m, 0);
  E(q != MAP_FAILED);
  printf("mapped 5 bytes: [4] %c, [7] %c, [11] %c, [12] %d, [4095] %d\n", q[4], q[7], q[11], q[12], q[4095]);
  E(munmap((void *)q, 5));
  E(close(m));
  return 0;
}
