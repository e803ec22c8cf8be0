/* A case of a jump-table dispatch that tail-calls a static function of the same section
 * (a direct `jmp` with no relocation) is a tail call: the flags are dead there, as after
 * a call. zvld's flag analysis (zvld/src/flags.rs) followed such a jump only when its
 * target lay in the same 16 KiB decode chunk; otherwise it counted the flags as read, and
 * with a range check it cannot replay (`cmpb $N,mem`) the link failed although no case
 * reads the flags. `big` below is over 16 KiB of code, so a chunk cut falls between it
 * and `tok`. Found in expat's xmltok.c (PREFIX(prologTok) -> PREFIX(scanLit)).
 */
#include <stdio.h>
struct enc { char pad[0x88]; unsigned char type[256]; };

#define STEP(i) acc = acc * (3 + 7 * (i)) + p[(i) & 63] * (acc >> (1 + (i) % 13));
#define R4(b) STEP(b) STEP((b) + 1) STEP((b) + 2) STEP((b) + 3)
#define R16(b) R4(b) R4((b) + 4) R4((b) + 8) R4((b) + 12)
#define R64(b) R16(b) R16((b) + 16) R16((b) + 32) R16((b) + 48)
#define R256(b) R64(b) R64((b) + 64) R64((b) + 128) R64((b) + 192)

/* A big static function placed first in .text (1,408 steps, well over 16 KiB). */
__attribute__((noinline)) static long big(const struct enc *e, const unsigned char *p, long acc) {
  R256(0) R256(256) R256(512) R256(768) R256(1024) R64(1280) R64(1344)
  return acc + e->pad[0];
}

__attribute__((noinline)) static long lit(const struct enc *e, const unsigned char *p, long acc) {
  return p[0] + e->type[p[1]] + acc;
}

long tok(const struct enc *e, const unsigned char *p, const unsigned char *end, const unsigned char **next) {
  if (p >= end) return -4;
  switch (e->type[*p]) {
    case 0: return big(e, p, 3);
    case 1: return lit(e, p, 5);
    case 2: *next = p + 2; return 12;
    case 3: if (p + 1 < end) return 13; return -1;
    case 4: *next = p + 1; return 14;
    case 5: return lit(e, p + 2, 7);
    case 6: *next = end; return 16;
    case 7: if (p[1] == 'x') return 17; break;
    case 8: return big(e, p + 2, 9);
    case 9: *next = p; return 19;
  }
  *next = p;
  return 0;
}

int main(void) {
  static struct enc e;
  static unsigned char buf[128] = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";
  const unsigned char *n;
  long t = 0;
  for (int i = 0; i < 256; i++) e.type[i] = i % 12;
  for (int i = 0; i < 40; i++) t += tok(&e, buf + i, buf + 80, &n);
  printf("%ld\n", t);
  return 0;
}
