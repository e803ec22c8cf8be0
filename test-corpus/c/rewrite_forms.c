/* zv-cflags: -fstack-protector-all -fno-omit-frame-pointer
 *
 * Exercises the rows of zvld's rewrite table (TOOLCHAIN.md section 2) at run time, each
 * checked against the native build: string instructions with and without rep (0x67),
 * xlat, `ret $n`, `leave` and 64-bit writes to %rsp (alloca and VLAs), `call *mem` and
 * `jmp *mem` through tables, `syscall` with the red zone in use, `%fs:0` and the stack
 * protector's `%fs:0x28`, and a dropped `endbr64`. */
#include <alloca.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static long strings(void) {
  char src[64], dst[64];
  long n = 40, found;
  memset(src, 'a', sizeof src);
  src[37] = 'z';
  char *dp = dst, *sp = src;
  __asm__ volatile("rep movsb" : "+D"(dp), "+S"(sp), "+c"(n)::"memory");
  char *p = dst;
  long c = 64;
  __asm__ volatile("repne scasb" : "+D"(p), "+c"(c) : "a"('z') : "memory", "cc");
  found = 64 - c;
  unsigned char al = 3;
  static const unsigned char table[8] = {10, 11, 12, 13, 14, 15, 16, 17};
  const unsigned char *t = table;
  __asm__("xlat" : "+a"(al) : "b"(t));
  char buf[16];
  char *d = buf;
  long k = 15;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(k) : "a"('q') : "memory");
  buf[15] = 0;
  char one;
  const char *s = "L";
  __asm__ volatile("lodsb" : "=a"(one), "+S"(s));
  return found * 1000 + al * 10 + (long)strlen(buf) + (one == 'L');
}

/* A callee that pops its stack argument: `ret $8`. */
long pop_arg(long);
__asm__(".text\n.globl pop_arg\n.type pop_arg,@function\npop_arg:\n  endbr64\n  mov 8(%rsp),%rax\n  add %rdi,%rax\n  ret $8\n");

static long call_pop_arg(long a, long b) {
  long r;
  __asm__ volatile("push %2\n\tcall pop_arg" : "=a"(r), "+D"(a) : "r"(b) : "memory", "rsi", "rdx", "rcx", "r8", "r9", "r10", "cc");
  return r;
}

__attribute__((noinline)) static long vla_sum(int n) {
  long v[n];
  for (int i = 0; i < n; i++) v[i] = i * 3;
  long *extra = alloca(n * sizeof(long) + 1);
  long s = 0;
  for (int i = 0; i < n; i++) s += v[i] + (extra[i] = i);
  return s;
}

static long f0(long x) { return x + 1; }
static long f1(long x) { return x * 2; }
static long f2(long x) { return x - 3; }
static long f3(long x) { return x ^ 5; }
static long (*const ops[4])(long) = {f0, f1, f2, f3};

__attribute__((noinline)) static long through_table(int i, long x) { return ops[i & 3](x); }
__attribute__((noinline)) static long tail_table(int i, long x) { return ops[(i + 1) & 3](x) ; }

static long raw_write(const char *s, long n) {
  long r;
  char redzone[8] = "redzone";
  __asm__ volatile("syscall" : "=a"(r) : "a"(1L), "D"(1L), "S"(s), "d"(n) : "rcx", "r11", "memory");
  return r + (long)strlen(redzone);
}

static _Thread_local long tls_counter = 5;

int main(void) {
  printf("strings %ld\n", strings());
  printf("ret imm %ld\n", call_pop_arg(20, 22));
  printf("vla %ld %ld\n", vla_sum(10), vla_sum(1000));
  long acc = 0;
  for (int i = 0; i < 100; i++) acc = through_table(i, acc) + tail_table(i, i);
  printf("tables %ld\n", acc);
  fflush(stdout);
  printf("syscall %ld\n", raw_write("direct write\n", 13));
  tls_counter *= 3;
  printf("tls %ld\n", tls_counter);
  return 0;
}
