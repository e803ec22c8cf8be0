/* chanident.c: every channel is a file of its own to stat, as programs compare files
 * (diff and cmp take two character devices with one st_rdev, or two files with one
 * st_dev and st_ino, for the same file and skip reading them: an audit found two
 * sequential channels with st_rdev 0 compared equal). Usage: chanident PATH...; prints
 * each path's type (and a device's major:minor), each pair that would count as the same
 * file, then "distinct" when none does. */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

int main(int argc, char **argv) {
  struct stat st[16];
  int n = argc - 1 < 16 ? argc - 1 : 16;
  for (int i = 0; i < n; i++) {
    if (stat(argv[i + 1], &st[i])) {
      perror(argv[i + 1]);
      return 2;
    }
    printf("%s: %s", argv[i + 1], S_ISCHR(st[i].st_mode) ? "character device" : S_ISREG(st[i].st_mode) ? "file" : "other");
    if (S_ISCHR(st[i].st_mode)) printf(" %u:%u", major(st[i].st_rdev), minor(st[i].st_rdev));
    printf("\n");
  }
  int same = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      int chr = S_ISCHR(st[i].st_mode) && S_ISCHR(st[j].st_mode) && st[i].st_rdev == st[j].st_rdev;
      int ino = st[i].st_dev == st[j].st_dev && st[i].st_ino == st[j].st_ino;
      if (chr || ino) {
        printf("same: %s %s\n", argv[i + 1], argv[j + 1]);
        same = 1;
      }
    }
  if (!same) printf("distinct\n");
  return same;
}
