/* devices.c: the memory devices every Linux system has (QA finding: only /dev/null
 * existed, so reading /dev/urandom for a seed, mapping /dev/zero or testing a write
 * error on /dev/full failed with ENOENT). Opening, reading, writing, seeking, stat,
 * access, mmap of /dev/zero and the /dev listing, compared line by line with a native run
 * (devices.expected): random bytes are shown only as counts. With the argument `hex`
 * (zvrun only) it prints 16 bytes of /dev/urandom, which follow the session's seed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void show(const char *what, long r) {
  printf("%-52s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
  errno = 0;
}
#define E(x) show(#x, (long)(x))

static int zeros(const unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

int main(int argc, char **argv) {
  unsigned char b[64];
  if (argc == 2 && !strcmp(argv[1], "hex")) {
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(b, 1, 16, f) != 16) return 1;
    for (int i = 0; i < 16; i++) printf("%02x", b[i]);
    printf("\n");
    return 0;
  }
  static const char *names[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};
  for (int i = 0; i < 5; i++) {
    int fd = open(names[i], O_RDWR);
    printf("%s: open %s\n", names[i], fd >= 0 ? "ok" : strerror(errno));
    memset(b, 0xaa, sizeof b);
    long r = read(fd, b, 16);
    printf("  read 16: %ld, all zero %d\n", r, r > 0 ? zeros(b, (size_t)r) : -1);
    memset(b, 0xaa, sizeof b);
    r = pread(fd, b, 8, 4096);
    printf("  pread 8 at 4096: %ld, all zero %d\n", r, r > 0 ? zeros(b, (size_t)r) : -1);
    errno = 0;
    r = write(fd, "hello", 5);
    printf("  write 5: %ld %s\n", r, r < 0 ? strerror(errno) : "");
    errno = 0;
    r = write(fd, "", 0);
    printf("  write 0: %ld %s\n", r, r < 0 ? strerror(errno) : "");
    printf("  lseek 100: %ld\n", (long)lseek(fd, 100, SEEK_SET));
    struct stat st;
    fstat(fd, &st);
    printf("  fstat: chr %d perm %o rdev %u:%u size %ld\n", S_ISCHR(st.st_mode), st.st_mode & 0777,
           major(st.st_rdev), minor(st.st_rdev), (long)st.st_size);
    printf("  access rw: %d\n", access(names[i], R_OK | W_OK));
    close(fd);
  }

  /* stdio on /dev/urandom, as programs read a seed. */
  FILE *f = fopen("/dev/urandom", "rb");
  printf("fopen /dev/urandom: %s, fread 32: %zu\n", f ? "ok" : strerror(errno), f ? fread(b, 1, 32, f) : 0);
  printf("32 random bytes all zero: %d\n", zeros(b, 32));
  if (f) fclose(f);
  f = fopen("/dev/full", "w");
  fputs("x", f);
  errno = 0;
  int fr = fflush(f);
  printf("fflush /dev/full: %d %s\n", fr, strerror(errno));
  fclose(f);

  /* mmap of /dev/zero: anonymous memory, private or shared. */
  int z = open("/dev/zero", O_RDWR);
  char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
  printf("mmap /dev/zero private: %s", p == MAP_FAILED ? strerror(errno) : "ok");
  if (p != MAP_FAILED) {
    printf(", zero %d", zeros((unsigned char *)p, 8192));
    memset(p, 1, 8192);
    munmap(p, 8192);
  }
  p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
  printf("; shared: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 4096);
  close(z);

  /* Paths through a device, creating one that exists. */
  struct stat st;
  E(stat("/dev/zero/x", &st));
  E(open("/dev/urandom", O_RDONLY | O_DIRECTORY));
  E(open("/dev/null", O_WRONLY | O_CREAT | O_EXCL, 0600));
  E(open("/dev/nosuchdevice", O_RDONLY));

  /* The listing of /dev holds them. */
  int seen[5] = {0};
  DIR *d = opendir("/dev");
  struct dirent *e;
  while (d && (e = readdir(d)))
    for (int i = 0; i < 5; i++)
      if (!strcmp(e->d_name, names[i] + 5)) seen[i] = e->d_type == DT_CHR;
  if (d) closedir(d);
  printf("in /dev as character devices: null %d zero %d full %d random %d urandom %d\n", seen[0], seen[1], seen[2],
         seen[3], seen[4]);
  return 0;
}
