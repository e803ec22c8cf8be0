/* gcc's -fstack-clash-protection (the default of some distributions' gcc) probes a large
 * fixed frame in the prologue with a loop that uses %r11 as scratch even under
 * -ffixed-r11 (`lea -N(%rsp),%r11; L: sub $4096,%rsp; orq $0,(%rsp); cmp %r11,%rsp;
 * jne L`). zvld refused every such function that also needed r11 as its own scratch
 * (the stack protector's `mov %fs:0x28`, a thread-local variable, `jmp *T(,%reg,8)`):
 * "a %fs: operand needs %r11 as scratch, but this function uses %r11". Found building
 * jq with hardening flags. Also: variable-length arrays and alloca, whose probes use
 * other registers.
 * zv-cflags: -fstack-clash-protection -fstack-protector-strong -fno-inline
 */
#include <alloca.h>
#include <stdio.h>
#include <string.h>

static __thread int tls_counter = 5;

__attribute__((noinline)) static void touch(volatile char *p, int n) { p[n] ^= 1; }

/* A 20000-byte frame (the probe loop), the canary and a thread-local variable (%fs:
 * operands), and a dense switch (a jump table: `jmp *T(,%reg,8)`). */
__attribute__((noinline)) static int big_frame(int n, int op) {
  char buf[20000];
  memset(buf, n, sizeof buf);
  touch(buf, n % 20000);
  tls_counter += buf[n % 20000];
  int r;
  switch (op) {
    case 0: r = buf[0] + 1; break;
    case 1: r = buf[100] * 3; break;
    case 2: r = buf[19999] - 7; break;
    case 3: r = tls_counter * 2; break;
    case 4: r = buf[n] ^ 0x55; break;
    case 5: r = (buf[1] << 2) + tls_counter; break;
    case 6: r = buf[2] | 0x100; break;
    case 7: r = -buf[3]; break;
    default: r = 0; break;
  }
  return r + buf[1234] + tls_counter;
}

/* A 300 KB frame: the loop runs 73 times. */
__attribute__((noinline)) static long huge_frame(int n) {
  char buf[300000];
  memset(buf, n & 0x7f, sizeof buf);
  touch(buf, n);
  long s = 0;
  for (int i = 0; i < (int)sizeof buf; i += 4096) s += buf[i];
  return s + tls_counter;
}

__attribute__((noinline)) static int vla(int n) {
  char v[n];
  memset(v, 3, n);
  touch(v, n - 1);
  return v[n - 1] + v[0] + tls_counter;
}

__attribute__((noinline)) static int with_alloca(int n) {
  char *p = alloca(n);
  memset(p, 5, n);
  touch(p, n / 2);
  return p[n / 2] + p[n - 1] + tls_counter;
}

int main(void) {
  for (int op = 0; op < 9; op++) printf("big_frame(%d, %d) = %d\n", 7 + op, op, big_frame(7 + op, op));
  printf("huge_frame = %ld\n", huge_frame(12345));
  printf("vla(100000) = %d\n", vla(100000));
  printf("vla(10) = %d\n", vla(10));
  printf("alloca(70000) = %d\n", with_alloca(70000));
  printf("tls_counter = %d\n", tls_counter);
  return 0;
}
