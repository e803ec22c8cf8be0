/* qsort and bsearch with comparison functions passed by pointer, and a table of
 * function pointers called indirectly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}
static int cmp_int_desc(const void *a, const void *b) { return cmp_int(b, a); }
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef int (*op_fn)(int, int);
static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int mod(int a, int b) { return b ? a % b : 0; }
static op_fn ops[] = {add, sub, mul, mod};

int main(void) {
  int a[5000];
  unsigned s = 7;
  for (int i = 0; i < 5000; i++) {
    s = s * 1664525u + 1013904223u;
    a[i] = (int)(s >> 12) % 100000;
  }
  qsort(a, 5000, sizeof a[0], cmp_int);
  printf("asc: %d %d %d ... %d\n", a[0], a[1], a[2], a[4999]);
  int key = a[1234];
  int *hit = bsearch(&key, a, 5000, sizeof a[0], cmp_int);
  printf("bsearch found %d: %s\n", key, hit && *hit == key ? "yes" : "no");
  qsort(a, 5000, sizeof a[0], cmp_int_desc);
  printf("desc: %d %d %d ... %d\n", a[0], a[1], a[2], a[4999]);
  const char *words[] = {"zero", "vm", "sandbox", "bundle", "trampoline", "nexe", "manifest", "channel"};
  qsort(words, 8, sizeof words[0], cmp_str);
  for (int i = 0; i < 8; i++) printf("%s%c", words[i], i == 7 ? '\n' : ' ');
  int acc = 1;
  for (int i = 0; i < 100; i++) acc = ops[i % 4](acc + i, 7) & 0xffff;
  printf("ops: %d\n", acc);
  return 0;
}
