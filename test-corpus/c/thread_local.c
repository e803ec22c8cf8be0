/* _Thread_local variables: initialised (.tdata), zero (.tbss), arrays, and their
 * addresses, through the thread pointer (musl's TLS set up over arch_prctl). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

_Thread_local int counter = 41;
_Thread_local long zeroed;
_Thread_local char name[32] = "tls-template";
_Thread_local double table[8] = {1.5, 2.5, 3.5};
static _Thread_local int hidden = -7;

__attribute__((noinline)) static int *counter_addr(void) { return &counter; }

int main(void) {
  counter++;
  zeroed += 5;
  hidden *= 3;
  strcat(name, "+1");
  double s = 0;
  for (int i = 0; i < 8; i++) s += table[i];
  printf("counter %d zeroed %ld hidden %d name %s table-sum %.1f\n", counter, zeroed, hidden, name, s);
  *counter_addr() = 100;
  printf("through pointer: %d, aligned: %d\n", counter, (int)(((uintptr_t)table) % _Alignof(double) == 0));
  return 0;
}
