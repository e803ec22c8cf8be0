/* vecio.c: the vector-and-positioned and copying file calls, and the memory, name and
 * file-system queries programs make in passing (an audit found them ENOSYS under zrt
 * where natively they work): preadv/pwritev and preadv2/pwritev2 (with an offset and
 * with -1, the file position), sendfile and copy_file_range (with and without offset
 * pointers), close_range, readahead, sync_file_range, statvfs/fstatvfs, msync, mlock,
 * munlock, mlockall, mincore, prctl's name and getpriority/setpriority, each with
 * Linux's argument errors. Usage: vecio FILE, a read-write regular file (natively) or a
 * type-3 channel (under zvrun); compared line by line with the native run
 * (vecio.expected) and the file afterwards with the native one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-60s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_RDWR | O_TRUNC);
  E(fd >= 0);
  E(write(fd, "0123456789abcdefghijklmnopqrstuvwxyz", 36));
  char a[5] = {0}, b[7] = {0};
  struct iovec in[2] = {{a, 4}, {b, 6}};
  E(preadv(fd, in, 2, 3));
  printf("preadv read [%s][%s]\n", a, b);
  E(lseek(fd, 0, SEEK_CUR));
  struct iovec out[2] = {{"AB", 2}, {"CDE", 3}};
  E(pwritev(fd, out, 2, 40));
  E(lseek(fd, 0, SEEK_CUR));
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  E(syscall(SYS_preadv2, fd, in, 2, 38L, 0L, 0));
  printf("preadv2 read [%s][%s]\n", a, b);
  E(lseek(fd, 30, SEEK_SET));
  E(syscall(SYS_preadv2, fd, in, 2, -1L, 0L, 0));
  printf("preadv2 at the position read [%s][%s]\n", a, b);
  E(lseek(fd, 0, SEEK_CUR));
  E(syscall(SYS_pwritev2, fd, out, 2, 50L, 0L, 2L /* RWF_DSYNC */));
  E(preadv(fd, in, 2, -1));
  E(syscall(SYS_preadv2, fd, in, 2, 0L, 0L, 0x1000));
  E(preadv(-1, in, 2, 0));

  int fd2 = open(argv[1], O_RDWR);
  E(fd2 >= 0);
  E(lseek(fd2, 60, SEEK_SET));
  off_t off = 10;
  E(sendfile(fd2, fd, &off, 6));
  printf("sendfile offset now %ld\n", (long)off);
  E(lseek(fd2, 0, SEEK_CUR));
  E(lseek(fd, 20, SEEK_SET));
  E(sendfile(fd2, fd, NULL, 4));
  E(lseek(fd, 0, SEEK_CUR));
  loff_t in_off = 0, out_off = 80;
  E(copy_file_range(fd, &in_off, fd2, &out_off, 5, 0));
  printf("copy_file_range offsets now %ld %ld\n", (long)in_off, (long)out_off);
  E(copy_file_range(fd, &in_off, fd2, &out_off, 5, 1));
  char all[128] = {0};
  long n = pread(fd, all, sizeof all - 1, 0);
  printf("file: %ld bytes:", n);
  for (long i = 0; i < n; i++) putchar(all[i] ? all[i] : '.');
  putchar('\n');

  E(copy_file_range(fd, &in_off, fd2, &in_off, 5, 0));
  loff_t near = 7;
  E(copy_file_range(fd, &in_off, fd2, &near, 5, 0));
  E(syscall(SYS_pwritev2, fd, out, 2, -1L, 0L, 0x10L /* RWF_APPEND */));
  E(lseek(fd, 0, SEEK_END));
  int app = open(argv[1], O_WRONLY | O_APPEND);
  E(sendfile(app, fd, &off, 1));
  E(copy_file_range(fd, NULL, app, NULL, 1, 0));
  close(app);

  int p[2];
  E(pipe(p));
  E(preadv(p[0], in, 2, 0));
  E(preadv(p[0], in, 2, -1));
  E(preadv(99, in, 2, -1));
  E(write(p[1], "abc", 3));
  E(copy_file_range(fd, NULL, p[1], NULL, 3, 0));
  E(sync_file_range(fd, 0x7fffffffffffffffL, 10, 0));
  int null = open("/dev/null", O_RDWR);
  E(sync_file_range(null, 0, 0, 0));
  E(readahead(fd, 0, 100));
  E(readahead(p[0], 0, 100));
  E(sync_file_range(fd, 0, 0, 0));
  E(sync_file_range(fd, -1, 0, 0));
  E(sync_file_range(p[1], 0, 0, 0));
  E(fd2 < 10);
  E(syscall(SYS_close_range, 3L, 2L, 0L));
  E(syscall(SYS_close_range, (long)p[0], (long)p[1], 0L));
  E(write(p[1], "x", 1));

  struct statvfs sv;
  E(statvfs(argv[1], &sv));
  printf("namelen %lu\n", (unsigned long)sv.f_namemax);
  E(fstatvfs(fd, &sv));
  E(fstatvfs(-1, &sv));
  E(statvfs("no such file", &sv));

  char *m = mmap(0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  E(m != MAP_FAILED);
  memset(m, 1, 65536);
  unsigned char vec[16];
  E(mincore(m, 65536, vec));
  int resident = 0;
  for (int i = 0; i < 16; i++) resident += vec[i] & 1;
  printf("resident pages %d\n", resident);
  E(mincore(m + 1, 4096, vec));
  E(msync(m, 4096, MS_SYNC));
  E(msync(m, 4096, MS_SYNC | MS_ASYNC));
  E(msync(m + 1, 4096, MS_SYNC));
  E(mlock(m, 4096));
  E(munlock(m, 4096));
  E(mlockall(0));
  E(mlockall(4 /* MCL_ONFAULT alone */));
  E(mlock(m + 4095, 2));
  E(munlockall());

  char name[16] = {0};
  E(prctl(PR_SET_NAME, "renamed-program-x"));
  E(prctl(PR_GET_NAME, name));
  printf("name [%s]\n", name);
  /* A name with bytes after its NUL: the kernel copies up to the NUL and zero-fills the
   * rest, so none of the X bytes may come back. */
  E(prctl(PR_SET_NAME, "ab\0XXXXXXXXXXXX"));
  memset(name, 'z', sizeof name);
  E(prctl(PR_GET_NAME, name));
  printf("name bytes:");
  for (int i = 0; i < 16; i++) printf(" %02x", (unsigned char)name[i]);
  printf("\n");
  E(getpriority(PRIO_PROCESS, 0));
  E(setpriority(PRIO_PROCESS, 0, 5));
  E(getpriority(PRIO_PROCESS, 0));
  E(getpriority(7, 0));
  return 0;
}
