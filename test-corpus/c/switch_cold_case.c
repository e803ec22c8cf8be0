/* gcc -O2 splits a function into hot and cold parts: `default: abort()` goes to
 * `f.cold` in `.text.unlikely`, so an entry of the jump table points into another
 * section. zvld's flag analysis (zvld/src/flags.rs) stopped reading the table at that
 * entry, so the cases after it (8, 9, 10, whose block starts with a `je` on the flags of
 * the range check `cmp $10,...`) were never checked: no replay stub was made, P1's mask
 * changed ZF, and the program printed "98 39 39" instead of "98 0 0", silently. Entries
 * into the cold part are now skipped over (and their code checked for flag reads).
 * Shape from gnulib's quotearg (quotearg_buffer_restyled).
 */
#include <stdio.h>
#include <stdlib.h>
__attribute__((noipa)) const char *q(const char *m, int s) { return s & 1 ? m : "'"; }
__attribute__((noipa)) long mb(void) { return 1; }
long f(char *buf, long a, long b, long c, int style, int flags) {
  const char *l = "", *r = "";
  long n = mb();
  int bs = flags & 2;
  switch (style) {
    case 0: n += a; break;
    case 1: n += b; buf[0] = 'a'; break;
    case 2: if (!bs) buf[0] = '"'; n += c; break;
    case 3: n += a * b; break;
    case 4: n += b * c; buf[1] = 'x'; break;
    case 5: n += a * c; break;
    case 8: case 9: case 10:
      if (style != 10) { l = q("`", style); r = q("'", style); }
      buf[0] = l[0]; buf[1] = r[0]; n += a + b + c;
      break;
    default: abort();
  }
  return n + bs + a + b + c + (long)buf;
}
int main(int argc, char **argv) {
  (void)argv;
  char b[4] = {0};
  long t = 0;
  for (int s = 0; s <= 10; s++)
    if (s < 6 || s > 7) t += f(b, argc, 2, 3, s, argc) - (long)b;
  printf("%ld %d %d\n", t, b[0], b[1]);
  return 0;
}
