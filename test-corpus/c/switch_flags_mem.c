/* zv-cflags: -Os
 * At -Os gcc compares a switch value where it lies, on the stack, and keeps the flags of
 * that comparison live into a case: `cmpl $10,0x4(%rsp); ja default; mov 0x4(%rsp),%eax;
 * jmp *T(,%rax,8)`, and the block of cases 8-10 starts with a `je` on them. zvld refused
 * the link ("not a register/immediate `cmp` or `test`"); it now replays the memory
 * comparison in a stub per live case, since nothing between it and the jump writes memory
 * or %rsp. Found in gnulib's quotearg (sed and grep at -Os).
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
