/* Channel types and the size zrt knows (tools/zrt/files.c, docs/zrt.md "Files"): appending,
 * truncating then reading back, and an offset past the largest file offset, on a file
 * given as argv[2]. Run natively on a real file and under zvrun on channels of types 1,
 * 2 and 3; the zrt test compares them. Usage: chantypes MODE PATH. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
  else printf("%s: %ld\n", what, r);
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  const char *mode = argv[1], *path = argv[2];
  struct stat st;
  char buf[64] = {0};
  if (!strcmp(mode, "append")) {
    int fd = open(path, O_WRONLY | O_APPEND);
    show("open O_APPEND", fd);
    if (fd >= 0) {
      show("write", write(fd, "appended\n", 9));
      show("SEEK_END", lseek(fd, 0, SEEK_END));
      close(fd);
    }
    fd = open(path, O_RDWR);
    show("open O_RDWR", fd);
    show("lseek SEEK_END", lseek(fd, 0, SEEK_END));
    show("fcntl F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
    FILE *f = fopen(path, "a");
    printf("fopen a: %s\n", f ? "ok" : strerror(errno));
    if (f) {
      fputs("stdio append\n", f);
      fclose(f);
    }
  } else if (!strcmp(mode, "trunc-write-read")) {
    int fd = open(path, O_RDWR | O_TRUNC);
    show("open O_TRUNC", fd);
    show("write", write(fd, "new\n", 4));
    show("fstat size", fstat(fd, &st) < 0 ? -1 : (long)st.st_size);
    long n = pread(fd, buf, sizeof buf - 1, 0);
    show("pread", n);
    if (n > 0) printf("pread bytes: [%.*s]\n", (int)n - 1, buf);
  } else if (!strcmp(mode, "trunc-read")) {
    int fd = open(path, O_RDWR | O_TRUNC);
    show("open O_TRUNC", fd);
    show("fstat size", fstat(fd, &st) < 0 ? -1 : (long)st.st_size);
    show("read", read(fd, buf, sizeof buf - 1));
  } else if (!strcmp(mode, "overflow")) {
    int fd = open(path, O_RDWR);
    show("pwrite at INT64_MAX - 5", pwrite(fd, "0123456789", 10, INT64_MAX - 5));
  } else {
    return 2;
  }
  return 0;
}
