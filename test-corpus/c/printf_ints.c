/* printf with integers of every width, sign and base. */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

int main(void) {
  printf("%d %i %u %x %X %o\n", -42, 42, 42u, 0xbeef, 0xbeef, 0755);
  printf("[%8d] [%-8d] [%08d] [%+d] [% d]\n", 123, 123, 123, 123, 123);
  printf("%hhd %hd %ld %lld\n", (signed char)-5, (short)-300, -1234567890L, -123456789012345LL);
  printf("%" PRId64 " %" PRIu64 " %" PRIx64 "\n", INT64_MIN, UINT64_MAX, (uint64_t)0xdeadbeefcafef00dULL);
  printf("%d %d %u\n", INT_MIN, INT_MAX, UINT_MAX);
  printf("%zu %td %p\n", sizeof(long double), (ptrdiff_t)-7, (void *)0);
  printf("%c%c%c %s %.3s %10.4s|\n", 'z', 'v', '!', "sandbox", "abcdef", "wxyz12");
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%05d-%x", 77, 255);
  printf("%s (%d)\n", buf, n);
  long total = 0;
  for (int i = 0; i < 1000; i++) total += i * (long)i;
  printf("sum of squares below 1000: %ld\n", total);
  return 0;
}
