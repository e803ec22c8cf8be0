/* A switch whose cases all test the same condition: gcc hoists that comparison above the
 * jump-table dispatch, so the status flags are live across `jmp *T(,%reg,8)`. P1's mask
 * (`and $-32`) would clobber them; zvld replays the comparison in per-case stubs
 * (zvld/src/flags.rs). Found in zstd's ZSTD_DCtx_setParameter. */
#include <stdio.h>
struct ctx { int a, b, c, d, e; long w; };
__attribute__((noinline)) static long set_param(struct ctx *x, int p, int v) {
  if (x->e) return -60;
  switch (p) {
    case 100: if (v == 0) { x->w = 1 << 27; return 0; } if (v < 10 || v > 31) return -42; x->w = 1L << v; return 0;
    case 1000: if ((unsigned)v > 1) return -42; x->a = v; return 0;
    case 1001: if ((unsigned)v > 1) return -42; x->b = v; return 0;
    case 1002: if ((unsigned)v > 1) return -42; x->c = v; return 0;
    case 1003: if ((unsigned)v > 1) return -42; x->d = v; return 0;
    case 1004: if ((unsigned)v > 1) return -42; x->a += v; return 0;
    default: return -40;
  }
}
int main(void) {
  struct ctx x = {0};
  long r = 0;
  for (int p = 999; p < 1006; p++)
    for (int v = -1; v < 4; v++) r = r * 3 + set_param(&x, p, v);
  printf("%ld %d %d %d %d %ld\n", r, x.a, x.b, x.c, x.d, x.w);
  return 0;
}
