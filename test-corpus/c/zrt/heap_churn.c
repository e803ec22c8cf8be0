/* heap_churn.c: the allocator over zrt's heap arena, with output identical natively and
 * under zvrun.
 *
 * Large blocks (served by mmap in musl's malloc) are allocated, filled, checked and freed
 * many times, more in total than the session's memory (tools/zrt/tests runs it with
 * --memory 96M), so munmapped pages must be reused; realloc grows a block step by step to
 * 48 MiB (mremap in place or moving) and shrinks it, keeping its contents; small blocks
 * interleave with the large ones; mmap, mremap without MREMAP_MAYMOVE, MAP_FIXED and
 * MADV_DONTNEED are used directly; a large block freed while small ones made after it
 * stay leaves room for a larger one. Every page handed out again must read as zero. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint32_t rng = 2024;
static uint32_t next(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

static int all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 512)
    if (p[i]) return 0;
  return p[n - 1] == 0;
}

int main(void) {
  uint64_t sum = 0;
  /* 1. churn: 40 rounds of up to 3 large blocks of 1-16 MiB (about 1 GiB in total) */
  int zero_ok = 1;
  for (int round = 0; round < 40; round++) {
    unsigned char *b[3];
    size_t sz[3];
    for (int k = 0; k < 3; k++) {
      sz[k] = ((size_t)(next() % 16) + 1) << 20;
      b[k] = calloc(sz[k], 1);
      if (!b[k]) {
        printf("round %d: calloc %zu failed\n", round, sz[k]);
        return 1;
      }
      zero_ok &= all_zero(b[k], sz[k]);
      memset(b[k], round + k, sz[k]);
    }
    for (int k = 0; k < 3; k++) {
      sum += b[k][sz[k] / 2] + sz[k];
      free(b[k]);
    }
  }
  printf("churn: sum %llu calloc zero %d\n", (unsigned long long)sum, zero_ok);

  /* 2. realloc growth to 48 MiB and back, contents kept */
  size_t cap = 4096;
  unsigned char *g = malloc(cap);
  for (size_t i = 0; i < cap; i++) g[i] = (unsigned char)i;
  void *small[64] = {0};
  int moves = 0, kept = 1;
  for (int step = 0; cap < (48u << 20); step++) {
    small[step % 64] = malloc(100 + step);
    size_t ncap = cap + cap / 2 + 4096;
    unsigned char *n = realloc(g, ncap);
    if (!n) {
      printf("realloc to %zu failed\n", ncap);
      return 1;
    }
    moves += n != g;
    for (size_t i = 0; i < cap; i += 4093) kept &= n[i] == (unsigned char)i;
    for (size_t i = cap; i < ncap; i++) n[i] = (unsigned char)i;
    g = n;
    cap = ncap;
  }
  g = realloc(g, 1 << 20);
  for (size_t i = 0; i < (1 << 20); i += 4093) kept &= g[i] == (unsigned char)i;
  printf("realloc: final %zu contents kept %d\n", cap, kept);
  (void)moves;
  free(g);
  for (int i = 0; i < 64; i++) free(small[i]);

  /* 3. mmap directly */
  size_t len = 8 << 20;
  unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap: %d zero %d\n", m != MAP_FAILED, all_zero(m, len));
  memset(m, 7, len);
  printf("munmap middle: %d\n", munmap(m + (2 << 20), 1 << 20));
  unsigned char *f = mmap(m + (2 << 20), 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("MAP_FIXED into the hole: %d zero %d neighbours %d %d\n", f == m + (2 << 20), all_zero(f, 1 << 20),
         m[(2 << 20) - 1], m[3 << 20]);
  printf("madvise DONTNEED: %d\n", madvise(m, 1 << 20, MADV_DONTNEED));
  printf("zero after DONTNEED: %d rest %d\n", all_zero(m, 1 << 20), m[1 << 20]);
  printf("mremap shrink: %d\n", mremap(m, len, len / 2, 0) == m);
  printf("munmap: %d\n", munmap(m, len / 2));
  unsigned char *big = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(big, 9, 1 << 20);
  unsigned char *grown = mremap(big, 1 << 20, 2 << 20, MREMAP_MAYMOVE);
  printf("mremap grow: %d kept %d new zero %d\n", grown != MAP_FAILED, grown[(1 << 20) - 1] == 9,
         all_zero(grown + (1 << 20), 1 << 20));
  munmap(grown, 2 << 20);

  /* 4. The free space stays in one piece: small blocks made while a large one is live do
     not stop a larger one from fitting once it is freed (40 + 60 MiB do not fit at once
     in the session's heap of under 80 MiB). */
  unsigned char *first = malloc(40 << 20);
  memset(first, 1, 40 << 20);
  void *meanwhile[300];
  for (int i = 0; i < 300; i++) meanwhile[i] = malloc(16 + (next() % 6000));
  free(first);
  unsigned char *larger = malloc(60 << 20);
  printf("60 MiB after freeing 40 MiB with small blocks made meanwhile: %d", larger != NULL);
  if (larger) {
    printf(" zero %d", all_zero(larger, 60 << 20));
    memset(larger, 2, 60 << 20);
    /* ... and it can grow in place into the space above it. */
    unsigned char *more = realloc(larger, 70 << 20);
    printf(" grown to 70 MiB %d kept %d", more != NULL, more && more[(60 << 20) - 1] == 2);
    free(more ? more : larger);
  }
  printf("\n");
  for (int i = 0; i < 300; i++) free(meanwhile[i]);
  return 0;
}
