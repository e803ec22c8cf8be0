/* Structs passed and returned by value, bitfields, unions, and struct copies with
 * memcpy (SSE moves through sandboxed memory operands). */
#include <stdio.h>
#include <string.h>

struct big { long a[12]; char tag[10]; };
struct small { float x, y; };
struct flags { unsigned a : 3, b : 7, c : 1; int d : 12; };
union num { double d; unsigned long long u; };

__attribute__((noinline)) static struct big make(long seed) {
  struct big b;
  for (int i = 0; i < 12; i++) b.a[i] = seed * (i + 1);
  strcpy(b.tag, "bigstruct");
  return b;
}

__attribute__((noinline)) static struct small scale(struct small s, float k) {
  s.x *= k;
  s.y *= k;
  return s;
}

__attribute__((noinline)) static long total(struct big b) {
  long t = 0;
  for (int i = 0; i < 12; i++) t += b.a[i];
  return t;
}

int main(void) {
  struct big b = make(3);
  struct big c;
  memcpy(&c, &b, sizeof b);
  c.a[11] = -1;
  printf("total %ld %ld tag %s\n", total(b), total(c), c.tag);
  struct small s = scale((struct small){1.5f, -2.25f}, 4.0f);
  printf("scaled %.2f %.2f\n", s.x, s.y);
  struct flags f = {5, 100, 1, -1000};
  f.b += 27;
  printf("bits %u %u %u %d size %zu\n", f.a, f.b, f.c, f.d, sizeof f);
  union num n = {.d = -0.15625};
  printf("double bits %016llx\n", n.u);
  return 0;
}
