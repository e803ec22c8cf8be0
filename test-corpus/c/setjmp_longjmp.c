/* setjmp/longjmp across frames, nested, and with values that must survive. */
#include <setjmp.h>
#include <stdio.h>

static jmp_buf outer, inner;
static volatile int depth_reached;

__attribute__((noinline)) static void dive(int d) {
  depth_reached = d;
  if (d == 50) longjmp(inner, d);
  dive(d + 1);
}

__attribute__((noinline)) static void level2(int v) {
  if (setjmp(inner) == 0) {
    dive(0);
    printf("not reached\n");
  } else {
    printf("inner longjmp back from depth %d\n", depth_reached);
  }
  longjmp(outer, v * 2);
}

int main(void) {
  volatile int count = 0;
  int r = setjmp(outer);
  count++;
  printf("setjmp returned %d (count %d)\n", r, count);
  if (r == 0) level2(21);
  if (r == 42) longjmp(outer, 0); /* longjmp with 0 makes setjmp return 1 */
  printf("done: r=%d count=%d\n", r, count);
  return 0;
}
