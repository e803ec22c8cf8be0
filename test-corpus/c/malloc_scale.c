/* malloc, realloc and free at scale, with a checksum over the contents. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 20000

static uint32_t rng = 12345;
static uint32_t next(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

int main(void) {
  static unsigned char *p[N];
  static size_t sz[N];
  uint64_t sum = 0;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < N; i++) {
      size_t s = 1 + next() % (i % 97 == 0 ? 20000 : 200);
      if (p[i] && next() % 3 == 0) {
        unsigned char *q = realloc(p[i], s);
        if (!q) return 1;
        p[i] = q;
        if (s > sz[i]) memset(p[i] + sz[i], (int)(i & 0xff), s - sz[i]);
        sz[i] = s;
      } else {
        free(p[i]);
        p[i] = malloc(s);
        if (!p[i]) {
          printf("malloc failed at %d\n", i);
          return 1;
        }
        memset(p[i], (int)((i + round) & 0xff), s);
        sz[i] = s;
      }
    }
    for (int i = 0; i < N; i += 2) {
      free(p[i]);
      p[i] = NULL;
      sz[i] = 0;
    }
  }
  for (int i = 0; i < N; i++)
    for (size_t k = 0; k < sz[i]; k++) sum = sum * 31 + p[i][k];
  for (int i = 0; i < N; i++) free(p[i]);
  int *big = calloc(1 << 20, sizeof(int));
  for (int i = 0; i < (1 << 20); i++) big[i] = i;
  long long bs = 0;
  for (int i = 0; i < (1 << 20); i++) bs += big[i];
  free(big);
  printf("checksum %llu big %lld\n", (unsigned long long)sum, bs);
  return 0;
}
