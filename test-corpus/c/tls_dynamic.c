/* General- and local-dynamic TLS. gcc keeps a tls_model attribute even in zvcc's
 * -fno-pic code, so these accesses are the psABI's `lea x@tlsgd(%rip),%rdi; call
 * __tls_get_addr` and `lea x@tlsld(%rip),%rdi; call __tls_get_addr` + `x@dtpoff(%rax)`
 * sequences, which zvld (like GNU ld for the native build) relaxes to local-exec.
 * Variables: initialised (.tdata) and zero (.tbss), extern and static, scalars and
 * arrays, next to a default (local-exec) one; single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define GD __attribute__((tls_model("global-dynamic")))
#define LD __attribute__((tls_model("local-dynamic")))

extern GD _Thread_local int gd_extern;
GD _Thread_local int gd_init = 41;
GD _Thread_local long gd_zero;
GD _Thread_local char gd_name[24] = "general";
static LD _Thread_local int ld_init = 7;
static LD _Thread_local long ld_zero;
static LD _Thread_local double ld_table[4] = {0.5, 1.5, 2.5, 3.5};
_Thread_local int le_plain = 100;
GD _Thread_local int gd_extern = -3;

__attribute__((noinline)) int *gd_addr(void) { return &gd_init; }
__attribute__((noinline)) long *ld_addr(void) { return &ld_zero; }
__attribute__((noinline)) char *gd_name_addr(void) { return gd_name; }

/* Several local-dynamic variables from one base. */
__attribute__((noinline)) double ld_sum(int k) {
  ld_init += k;
  ld_zero += 2 * k;
  double s = ld_init + ld_zero;
  for (int i = 0; i < 4; i++) s += ld_table[i];
  return s;
}

__attribute__((noinline)) int gd_bump(int k) {
  gd_init += k;
  gd_zero -= k;
  gd_extern *= 2;
  return gd_init + (int)gd_zero + gd_extern;
}

int main(void) {
  printf("start: gd_init %d gd_zero %ld gd_extern %d ld_init %d ld_zero %ld le_plain %d\n", gd_init, gd_zero,
         gd_extern, ld_init, ld_zero, le_plain);
  int b1 = gd_bump(1);
  int b2 = gd_bump(10);
  printf("gd_bump %d %d\n", b1, b2);
  double s1 = ld_sum(1);
  double s2 = ld_sum(5);
  printf("ld_sum %.1f %.1f\n", s1, s2);
  *gd_addr() = 1000;
  *ld_addr() = -50;
  strcat(gd_name_addr(), "+dynamic");
  ld_table[2] *= 4;
  le_plain += gd_init + (int)ld_zero;
  printf("through pointers: gd_init %d ld_zero %ld name %s table[2] %.1f le_plain %d\n", gd_init, ld_zero, gd_name,
         ld_table[2], le_plain);
  /* x86-64 TLS is variant II: the block lies below the thread pointer. */
  char *tp = __builtin_thread_pointer();
  printf("same address: %d %d; below the thread pointer: %d %d %d; aligned: %d\n", gd_addr() == &gd_init,
         ld_addr() == &ld_zero, (char *)&gd_init < tp, (char *)&ld_table[3] < tp, (char *)&le_plain < tp,
         (int)((uintptr_t)ld_table % _Alignof(double) == 0));
  return 0;
}
