/* memcpy, memmove, memset, strlen, strcmp, memchr, strstr on large buffers (musl's
 * assembly memcpy/memset use `rep movs`/`rep stos`, rewritten with 0x67). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG (3 << 20)

static uint32_t fnv(const unsigned char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

int main(void) {
  unsigned char *a = malloc(BIG), *b = malloc(BIG);
  if (!a || !b) return 1;
  for (size_t i = 0; i < BIG; i++) a[i] = (unsigned char)(i * 7 + (i >> 9));
  memcpy(b, a, BIG);
  printf("memcpy equal: %d hash %08x\n", memcmp(a, b, BIG) == 0, fnv(b, BIG));
  memmove(b + 1000, b, BIG - 1000);
  printf("memmove hash %08x\n", fnv(b, BIG));
  memmove(b, b + 333, BIG - 333);
  printf("memmove back hash %08x\n", fnv(b, BIG));
  memset(a, 'x', BIG - 1);
  a[BIG - 1] = 0;
  printf("strlen %zu\n", strlen((char *)a));
  a[BIG / 2] = 'y';
  printf("memchr offset %td\n", (unsigned char *)memchr(a, 'y', BIG) - a);
  printf("strcmp %d\n", strcmp((char *)a, (char *)a + 1) < 0);
  char hay[] = "the bundle is thirty-two bytes; the bundle is aligned";
  printf("strstr %td\n", strstr(hay, "aligned") - hay);
  for (int k = 0; k < 64; k++) memset(a + k, k, (size_t)k * 1000 + 1);
  printf("memset hash %08x\n", fnv(a, 70000));
  free(a);
  free(b);
  return 0;
}
