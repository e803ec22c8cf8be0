/* 128-bit integer arithmetic: multiplication, division and remainder (libgcc's
 * __divti3/__udivti3/__modti3), shifts and printing. */
#include <stdio.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

static void print_u128(u128 v) {
  char buf[64];
  int i = 63;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  fputs(buf + i, stdout);
}

static void print_i128(i128 v) {
  if (v < 0) {
    putchar('-');
    print_u128((u128)0 - (u128)v);
  } else {
    print_u128((u128)v);
  }
}

int main(void) {
  u128 f = 1;
  for (int i = 1; i <= 33; i++) f *= (u128)i;
  printf("33! = ");
  print_u128(f);
  printf("\n");
  volatile u128 a = ((u128)0x0123456789abcdefULL << 64) | 0xfedcba9876543210ULL;
  volatile u128 b = 0x1000000000000007ULL;
  u128 q = a / b, r = a % b;
  printf("q = ");
  print_u128(q);
  printf(", r = ");
  print_u128(r);
  printf(", check %d\n", q * b + r == a);
  volatile i128 n = -(i128)f / 12345678901LL;
  printf("n = ");
  print_i128(n);
  printf(", n %% 97 = %d\n", (int)(n % 97));
  printf("hi %016llx lo %016llx\n", (unsigned long long)(a >> 64), (unsigned long long)a);
  return 0;
}
