/* Constructors and destructors (.init_array/.fini_array, with priorities) and atexit,
 * in the order the C runtime promises. */
#include <stdio.h>
#include <stdlib.h>

static int trace[16];
static int ntrace;

__attribute__((constructor(200))) static void second(void) { trace[ntrace++] = 2; }
__attribute__((constructor(101))) static void first(void) { trace[ntrace++] = 1; }
__attribute__((constructor)) static void last(void) { trace[ntrace++] = 3; }

__attribute__((destructor)) static void bye(void) { printf("destructor runs after atexit handlers\n"); }
static void at1(void) { printf("atexit 1 (registered first, runs last)\n"); }
static void at2(void) { printf("atexit 2\n"); }

int main(void) {
  printf("constructors ran:");
  for (int i = 0; i < ntrace; i++) printf(" %d", trace[i]);
  printf("\n");
  atexit(at1);
  atexit(at2);
  return 0;
}
