/* Deep recursion: 200000 frames with locals (a few MB of the 16 MiB stack), and the
 * Ackermann function. */
#include <stdio.h>

__attribute__((noinline)) static long down(long n, volatile char *prev) {
  volatile char frame[16];
  frame[0] = (char)n;
  frame[15] = prev ? prev[0] : 0;
  if (n == 0) return frame[15];
  return down(n - 1, frame) + (frame[0] & 1);
}

static int ack(int m, int n) {
  if (m == 0) return n + 1;
  if (n == 0) return ack(m - 1, 1);
  return ack(m - 1, ack(m, n - 1));
}

static unsigned long fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(void) {
  printf("down %ld\n", down(200000, 0));
  printf("ack(2,3)=%d ack(3,5)=%d\n", ack(2, 3), ack(3, 5));
  printf("fib(27)=%lu\n", fib(27));
  return 0;
}
