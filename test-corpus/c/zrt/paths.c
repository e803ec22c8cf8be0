/* paths.c: path lookup as the kernel walks it, with the same answers natively and under
 * zvrun: a name followed by `/` (more components, `.`, `..`, a trailing slash) must be a
 * directory, so a path through a file is ENOTDIR, and through a missing name ENOENT,
 * for open, fopen, stat, lstat, access, opendir, chdir and openat; and the errors of
 * mkdir, mkfifo, symlink, link, unlink, rmdir, rename and remove that come before any
 * change (EEXIST, ENOENT, ENOTDIR, EISDIR, ENOTEMPTY).
 *
 * Run natively in a directory holding data/input.bin, with stdin a pipe; under zvrun
 * with the channel /data/input.bin (tools/zrt/tests, files.rs). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *err(int r) {
  if (r >= 0) return "ok";
  switch (errno) {
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EACCES: return "EACCES";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case ENOTEMPTY: return "ENOTEMPTY";
    default: return strerror(errno);
  }
}

static void probe(const char *path) {
  struct stat st;
  errno = 0;
  int fd = open(path, O_RDONLY);
  const char *o = err(fd);
  if (fd >= 0) close(fd);
  errno = 0;
  const char *s = err(stat(path, &st));
  errno = 0;
  const char *l = err(lstat(path, &st));
  errno = 0;
  const char *a = err(access(path, F_OK));
  errno = 0;
  DIR *d = opendir(path);
  const char *dr = err(d ? 0 : -1);
  if (d) closedir(d);
  errno = 0;
  FILE *f = fopen(path, "r");
  const char *fo = err(f ? 0 : -1);
  if (f) fclose(f);
  printf("%-32s open %-8s stat %-8s lstat %-8s access %-8s opendir %-8s fopen %s\n", path, o, s, l, a, dr, fo);
}

int main(void) {
  static const char *paths[] = {
      "data/input.bin",
      "data/input.bin/x",
      "data/input.bin/",
      "data/input.bin/.",
      "data/input.bin/..",
      "data/input.bin/../input.bin",
      "data/input.bin//x/y",
      "./data/./input.bin",
      "data//input.bin",
      "data/",
      "data/.",
      "data/missing/x",
      "data/missing/../input.bin",
      "data/missing/",
      "/dev/stdin/x",
      "/dev/stdin/",
      "/dev/null/x",
      "/dev/null/",
      "/dev/null",
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) probe(paths[i]);

  /* a name longer than NAME_MAX (255) */
  char longname[400] = "data/";
  memset(longname + 5, 'n', 300);
  longname[305] = 0;
  struct stat st;
  errno = 0;
  printf("300-byte name: open %s", err(open(longname, O_RDONLY)));
  errno = 0;
  printf(" stat %s\n", err(stat(longname, &st)));

  errno = 0;
  printf("chdir data/input.bin: %s\n", err(chdir("data/input.bin")));
  errno = 0;
  printf("chdir data/input.bin/..: %s\n", err(chdir("data/input.bin/..")));
  int fd = open("data/input.bin", O_RDONLY);
  errno = 0;
  printf("openat(file fd, \"x\"): %s\n", err(openat(fd, "x", O_RDONLY)));
  errno = 0;
  printf("fstatat(file fd, \"x\"): %s\n", err(fstatat(fd, "x", &st, 0)));
  errno = 0;
  printf("fdopendir(file fd): %s\n", err(fdopendir(fd) ? 0 : -1));
  errno = 0;
  printf("open O_DIRECTORY file: %s\n", err(open("data/input.bin", O_RDONLY | O_DIRECTORY)));
  close(fd);
  errno = 0;
  printf("open O_WRONLY dir: %s\n", err(open("data", O_WRONLY)));
  errno = 0;
  printf("chdir data: %s", err(chdir("data")));
  errno = 0;
  printf(" then input.bin/x: %s", err(open("input.bin/x", O_RDONLY)));
  errno = 0;
  printf(" then ../data/input.bin: %s\n", err(open("../data/input.bin", O_RDONLY)));
  chdir("..");

  /* Calls that change names: the errors Linux checks before changing anything (under
   * zvrun, whatever would succeed is EROFS: the names are the manifest's). */
  static const char *existing[] = {"data", "data/input.bin", "data/input.bin/x", "data/missing/x"};
  for (size_t i = 0; i < sizeof existing / sizeof existing[0]; i++) {
    const char *p = existing[i];
    errno = 0;
    printf("%-18s mkdir %s", p, err(mkdir(p, 0755)));
    errno = 0;
    printf(" mkfifo %s", err(mkfifo(p, 0644)));
    errno = 0;
    printf(" symlink %s", err(symlink("target", p)));
    errno = 0;
    printf(" link %s\n", err(link("data/input.bin", p)));
  }
  static const char *removed[] = {"data/missing", "data/input.bin/x", "data/missing/x", "/dev/null/x"};
  for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
    const char *p = removed[i];
    errno = 0;
    printf("%-18s unlink %s", p, err(unlink(p)));
    errno = 0;
    printf(" rmdir %s", err(rmdir(p)));
    errno = 0;
    printf(" rename %s", err(rename(p, "data/renamed")));
    errno = 0;
    printf(" remove %s\n", err(remove(p)));
  }
  /* data holds input.bin: not removed natively either */
  errno = 0;
  printf("unlink data: %s", err(unlink("data")));
  errno = 0;
  printf(" rmdir data: %s", err(rmdir("data")));
  errno = 0;
  printf(" remove data: %s\n", err(remove("data")));
  errno = 0;
  printf("rmdir data/input.bin: %s", err(rmdir("data/input.bin")));
  errno = 0;
  printf(" rename to data/input.bin/x: %s", err(rename("data/input.bin", "data/input.bin/x")));
  errno = 0;
  printf(" to data/missing/x: %s\n", err(rename("data/input.bin", "data/missing/x")));
  return 0;
}
