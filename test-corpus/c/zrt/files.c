/* files.c: stdio and raw file calls on a random-read input file, a sequential output
 * file, a file written at positions and stdin, with output identical natively and under
 * zvrun.
 *
 * Run natively in a directory holding data/input.bin and out/, with stdin a pipe; under
 * zvrun with channels /data/input.bin (random read), /out/result.txt (sequential write)
 * and /out/random.bin (random write), or from an image whose data file is data/input.bin
 * (tools/zrt/tests). The program opens "data/input.bin" relative to the working
 * directory, which zrt resolves against its working directory "/" to the channel alias. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static const char *err(int e) {
  switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case ESPIPE: return "ESPIPE";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    default: return "other";
  }
}

int main(void) {
  static unsigned char buf[70000];
  /* stdio on the input file */
  FILE *f = fopen("data/input.bin", "rb");
  if (!f) {
    printf("fopen data/input.bin: %s\n", strerror(errno));
    return 1;
  }
  size_t n = fread(buf, 1, 1000, f);
  printf("fread 1000: %zu fnv %016llx ftell %ld\n", n, (unsigned long long)fnv(1469598103934665603ull, buf, n), ftell(f));
  int sk = fseek(f, 5000, SEEK_SET);
  int c = fgetc(f);
  printf("fseek 5000: %d fgetc %d ftell %ld\n", sk, c, ftell(f));
  sk = fseek(f, -10, SEEK_CUR);
  c = fgetc(f);
  printf("fseek -10 cur: %d fgetc %d ftell %ld\n", sk, c, ftell(f));
  c = fgetc(f);
  int u = ungetc(c ^ 0x55, f);
  printf("ungetc: %d fgetc %d\n", u, fgetc(f));
  printf("fseek -10 end: %d\n", fseek(f, -10, SEEK_END));
  n = fread(buf, 1, 100, f);
  printf("fread at end-10: %zu feof %d ftell %ld\n", n, feof(f), ftell(f));
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  printf("size by ftell: %ld\n", size);
  rewind(f);
  uint64_t h = 1469598103934665603ull;
  size_t total = 0;
  while ((n = fread(buf, 1, 4096, f)) > 0) {
    h = fnv(h, buf, n);
    total += n;
  }
  printf("whole file: %zu bytes fnv %016llx\n", total, (unsigned long long)h);
  printf("fclose: %d\n", fclose(f));

  /* raw calls */
  int fd = open("./data/input.bin", O_RDONLY);
  printf("open: fd >= 3: %d\n", fd >= 3);
  struct stat st;
  int sr = fstat(fd, &st);
  printf("fstat: %d regular %d size %lld\n", sr, S_ISREG(st.st_mode), (long long)st.st_size);
  printf("fcntl F_GETFL accmode: %d\n", fcntl(fd, F_GETFL) & O_ACCMODE);
  printf("lseek 100 set: %ld\n", (long)lseek(fd, 100, SEEK_SET));
  ssize_t r = read(fd, buf, 16);
  printf("read 16: %zd fnv %016llx\n", r, (unsigned long long)fnv(1469598103934665603ull, buf, 16));
  r = pread(fd, buf, 16, 50000);
  printf("pread 16 at 50000: %zd fnv %016llx\n", r, (unsigned long long)fnv(1469598103934665603ull, buf, 16));
  printf("position after pread: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
  printf("lseek -1 cur: %ld\n", (long)lseek(fd, -1, SEEK_CUR));
  printf("lseek end: %ld\n", (long)lseek(fd, 0, SEEK_END));
  printf("read at end: %zd\n", read(fd, buf, 16));
  long pos = (long)lseek(fd, size + 100, SEEK_SET);
  printf("lseek past end: %ld read %zd\n", pos, read(fd, buf, 16));
  errno = 0;
  long bad = (long)lseek(fd, -5, SEEK_SET);
  printf("lseek negative: %ld %s\n", bad, err(errno));
  int fd2 = dup(fd);
  lseek(fd, 10, SEEK_SET);
  printf("dup shares the position: %ld\n", (long)lseek(fd2, 0, SEEK_CUR));
  int fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  printf("fcntl F_DUPFD_CLOEXEC: >= 10: %d cloexec %d\n", fd3 >= 10, fcntl(fd3, F_GETFD) & FD_CLOEXEC);
  int c1 = close(fd), c2 = close(fd2), c3 = close(fd3);
  printf("close: %d %d %d\n", c1, c2, c3);
  errno = 0;
  r = read(fd, buf, 1);
  printf("read after close: %zd %s\n", r, err(errno));

  /* stat by path, missing files */
  sr = stat("data/input.bin", &st);
  printf("stat: %d size %lld\n", sr, (long long)st.st_size);
  errno = 0;
  sr = stat("data/missing.bin", &st);
  printf("stat missing: %d %s\n", sr, err(errno));
  errno = 0;
  fd = open("data/missing.bin", O_RDONLY);
  printf("open missing: %d %s\n", fd, err(errno));
  errno = 0;
  FILE *missing = fopen("data/missing.bin", "r");
  printf("fopen missing: %s %s\n", missing ? "opened" : "NULL", err(errno));
  printf("access R_OK: %d\n", access("data/input.bin", R_OK));

  /* stdin is a pipe natively and a sequential channel under zvrun */
  errno = 0;
  long o = (long)lseek(0, 0, SEEK_CUR);
  printf("lseek stdin: %ld %s\n", o, err(errno));
  char line[128];
  while (fgets(line, sizeof line, stdin)) printf("stdin: %s", line);
  printf("isatty(1): %d\n", isatty(1));

  /* the standard streams by name: /dev/stdout is channel 1 under zvrun */
  fflush(stdout);
  FILE *so = fopen("/dev/stdout", "w");
  if (so) {
    fprintf(so, "via /dev/stdout\n");
    fclose(so);
  } else {
    printf("fopen /dev/stdout: %s\n", strerror(errno));
  }

  /* the output file */
  FILE *out = fopen("out/result.txt", "w");
  if (!out) {
    printf("fopen out/result.txt: %s\n", strerror(errno));
    return 1;
  }
  printf("output fd accmode: %d\n", fcntl(fileno(out), F_GETFL) & O_ACCMODE);
  fprintf(out, "result of files.c: %zu bytes, fnv %016llx\n", total, (unsigned long long)h);
  for (size_t i = 0; i < 20000; i++) buf[i] = (unsigned char)('a' + i % 26);
  printf("fwrite: %zu\n", fwrite(buf, 1, 20000, out));
  fputc('\n', out);
  printf("fclose out: %d\n", fclose(out));

  /* a file written at positions: sequential read / random write under zvrun (type 2) */
  int w = open("out/random.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (w < 0) {
    printf("open out/random.bin: %s\n", strerror(errno));
    return 1;
  }
  ssize_t w1 = write(w, "AAAA", 4);
  long p1 = (long)lseek(w, 100, SEEK_SET);
  ssize_t w2 = write(w, "B", 1);
  ssize_t w3 = pwrite(w, "CC", 2, 50);
  long p2 = (long)lseek(w, 0, SEEK_CUR);
  printf("random writes: %zd %ld %zd %zd position %ld\n", w1, p1, w2, w3, p2);
  sr = fstat(w, &st);
  long end = (long)lseek(w, 0, SEEK_END);
  printf("fstat written file: %d size %lld end %ld\n", sr, (long long)st.st_size, end);
  lseek(w, 2, SEEK_SET);
  ssize_t w4 = write(w, "DD", 2);
  printf("overwrite: %zd close %d\n", w4, close(w));
  return 0;
}
