/* A file the program writes and reads back through one read-write channel (argv[1]):
 * its size grows for every open description (stat, SEEK_END), "a" appends at the end,
 * "w" (O_TRUNC) empties it as the program sees it, ftruncate shortens it, truncate
 * grows it with zeros, and abort() ends with status 134.
 * Prints what it sees; the same lines natively on a real file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long size_of(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void show(const char *p, const char *when) {
  FILE *f = fopen(p, "r");
  if (!f) { printf("%s: cannot open\n", when); return; }
  fseek(f, 0, SEEK_END);
  long end = ftell(f);
  rewind(f);
  char buf[256] = {0};
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  for (size_t i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = '|'; else if (buf[i] == 0) buf[i] = '0';
  printf("%s: stat %ld, SEEK_END %ld, read %zu [%s]\n", when, size_of(p), end, n, buf);
}

int main(int argc, char **argv) {
  const char *p = argc > 1 ? argv[1] : "grow.txt";
  FILE *f = fopen(p, "w");
  for (int i = 1; i <= 5; i++) fprintf(f, "line %d\n", i);
  fclose(f);
  show(p, "written");
  f = fopen(p, "a");
  fputs("appended\n", f);
  fclose(f);
  show(p, "appended");
  f = fopen(p, "r+");
  fputs("LINE", f);
  fclose(f);
  show(p, "overwritten");
  f = fopen(p, "w");
  fputs("hi\n", f);
  fclose(f);
  show(p, "truncated");
  f = fopen(p, "r+");
  printf("ftruncate 2: %d\n", ftruncate(fileno(f), 2));
  fclose(f);
  show(p, "ftruncated");
  printf("truncate 6: %d\n", truncate(p, 6));
  show(p, "grown by truncate");
  fflush(stdout);
  if (argc > 2 && strcmp(argv[2], "abort") == 0) abort();
  return 0;
}
