/* Directory entries and stat agree (docs/zrt.md "Directories"): for each entry of the
 * directory argv[1] (and of argv[1]/.. ), d_ino equals the st_ino that stat gives for
 * the same name; then the directory is opened, listed and entered by its full path,
 * however long. Prints the entry names sorted and the number of mismatches. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int check(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    printf("opendir %zu-byte path: %s\n", strlen(dir), strerror(errno));
    return 1;
  }
  char *names[64];
  int n = 0, bad = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (stat(p, &st) != 0 || st.st_ino != e->d_ino) bad++;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp);
  printf("%zu-byte path:", strlen(dir));
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char up[4096];
  snprintf(up, sizeof up, "%s/..", argv[1]);
  int bad = check(argv[1]) + check(up);
  printf("d_ino mismatches: %d\n", bad);
  int dfd = open(argv[1], O_RDONLY);
  printf("F_GETFL of a directory: %o\n", dfd < 0 ? -1 : fcntl(dfd, F_GETFL));
  DIR *dd = opendir(argv[1]);
  printf("F_GETFL of an opendir: %o\n", dd ? fcntl(dirfd(dd), F_GETFL) : -1);
  printf("chdir: %s\n", chdir(argv[1]) == 0 ? "ok" : strerror(errno));
  char cwd[4096];
  printf("getcwd length: %zu\n", getcwd(cwd, sizeof cwd) ? strlen(cwd) : (size_t)0);
  return 0;
}
