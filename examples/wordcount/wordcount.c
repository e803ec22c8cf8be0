/* wordcount: the quick-start example. Counts lines, words and bytes of every file
 * shipped inside its image (each is a read-only channel whose alias is its path,
 * docs/images.md), reading them with the zvm.h API, and prints the most frequent word
 * of each with printf. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <zvm.h>

#define MAXW 4096

static char words[MAXW][32];
static int counts[MAXW];
static int nwords;

static void add_word(const char *w) {
  for (int i = 0; i < nwords; i++) {
    if (strcmp(words[i], w) == 0) {
      counts[i]++;
      return;
    }
  }
  if (nwords < MAXW) {
    strncpy(words[nwords], w, sizeof words[0] - 1);
    counts[nwords++] = 1;
  }
}

static void count(int ch, const char *name) {
  char buf[4096], word[32];
  long lines = 0, nw = 0, bytes = 0, off = 0;
  int len = 0;
  nwords = 0;
  for (;;) {
    long n = zvm_pread(ch, buf, sizeof buf, off);
    if (n <= 0) break;
    off += n;
    bytes += n;
    for (long i = 0; i <= n; i++) {
      int c = i < n ? (unsigned char)buf[i] : -1;
      if (c == -1) break;
      if (c == '\n') lines++;
      if (isalpha(c)) {
        if (len < (int)sizeof word - 1) word[len++] = (char)tolower(c);
      } else if (len > 0) {
        word[len] = 0;
        add_word(word);
        nw++;
        len = 0;
      }
    }
  }
  if (len > 0) {
    word[len] = 0;
    add_word(word);
    nw++;
  }
  int best = 0;
  for (int i = 1; i < nwords; i++)
    if (counts[i] > counts[best] || (counts[i] == counts[best] && strcmp(words[i], words[best]) < 0)) best = i;
  printf("%-28s %6ld lines %7ld words %8ld bytes   most frequent: \"%s\" (%d)\n", name, lines, nw, bytes,
         nwords ? words[best] : "", nwords ? counts[best] : 0);
}

int main(void) {
  const struct UserManifest *m = MANIFEST;
  int files = 0;
  for (int ch = 3; ch < m->channels_count; ch++) {
    const struct ZVMChannel *c = &m->channels[ch];
    if (c->type == RGetSPut && c->limits[GetsLimit] > 0 && c->limits[PutsLimit] == 0) {
      count(ch, c->name);
      files++;
    }
  }
  printf("%d file%s counted inside the sandbox\n", files, files == 1 ? "" : "s");
  return files > 0 ? 0 : 1;
}
