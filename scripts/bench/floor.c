/* The start-up floor for scripts/bench-run (issue 4: "where the time goes"): a tiny
   freestanding program, no C library, that makes only the kernel requests every zvrun
   session of hello.nexe makes and that no user-space work can avoid, then writes hello:
     - reserve [0x10000, 8 GiB) PROT_NONE with MAP_FIXED_NOREPLACE (RUNTIME.md section 2);
     - fresh, populated memory for the pages hello's image occupies (35 pages: the
       trampoline region and the loaded prefix) and the user manifest page, and the
       protections of code, rodata, heap and stack;
     - a seccomp filter as long as zvrun's (37 instructions, starting with TAX as
       zvrun::filter::compact does, so the kernel's cache emulation stops at once).
   Built -nostdlib -static-pie, so it lives far above 8 GiB like zvrun. What zvrun costs
   beyond this program is its own work and its larger binary.
   -DSTEPS=N builds it with only the first N of those requests, in the order filter (1),
   reservation (2), populated pages (3), protections (4, the default: all), so that
   bench-run can say what each costs. */
#ifndef STEPS
#define STEPS 4
#endif
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

#define SYS_write 1
#define SYS_mmap 9
#define SYS_mprotect 10
#define SYS_prctl 157
#define SYS_exit_group 231
#define SYS_seccomp 317
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_NORESERVE 0x4000
#define MAP_POPULATE 0x8000
#define MAP_FIXED_NOREPLACE 0x100000
#define PR_SET_NO_NEW_PRIVS 38

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return r;
}

static void fail(int code) { sys6(SYS_exit_group, code, 0, 0, 0, 0, 0); }

void _start_c(void) {
  const long anon = MAP_PRIVATE | MAP_ANONYMOUS;
  (void)anon;
#if STEPS >= 2
  if (sys6(SYS_mmap, 0x10000, (8L << 30) - 0x10000, PROT_NONE, anon | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0)
      != 0x10000)
    fail(3);
#endif
#if STEPS >= 3
  /* 35 fresh pages for the trampoline region and the loaded prefix, as zvrun maps them. */
  if (sys6(SYS_mmap, 0x10000, 35 * 4096, PROT_READ | PROT_WRITE, anon | MAP_FIXED | MAP_POPULATE, -1, 0) != 0x10000)
    fail(4);
  volatile char *p = (volatile char *)0x10000;
  p[0] = (char)0xe8;
#endif
#if STEPS >= 4
  sys6(SYS_mprotect, 0x10000, 0x20000, PROT_READ | PROT_EXEC, 0, 0, 0);
  sys6(SYS_mprotect, 0x30000, 0x2000, PROT_READ, 0, 0, 0);
  sys6(SYS_mprotect, 0x50000, 0xefe0000, PROT_READ | PROT_WRITE, 0, 0, 0);
  sys6(SYS_mmap, 0xfefff000, 4096, PROT_READ | PROT_WRITE, anon | MAP_FIXED | MAP_POPULATE, -1, 0);
  sys6(SYS_mprotect, 0xfefff000, 4096, PROT_READ, 0, 0, 0);
  sys6(SYS_mprotect, 0xff000000, 16 << 20, PROT_READ | PROT_WRITE, 0, 0, 0);
#endif

#if STEPS >= 1
  struct sock_filter f[37];
  f[0] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
  for (int i = 1; i < 36; i++)
    f[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  f[36] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {37, f};
  if (sys6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) != 0) fail(5);
  if (sys6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0) != 0) fail(6);
#endif

  static const char msg[] = "hello, world\n";
  sys6(SYS_write, 1, (long)msg, sizeof msg - 1, 0, 0, 0);
  fail(0);
}

__asm__(".globl _start\n_start:\n\txor %ebp, %ebp\n\tand $-16, %rsp\n\tcall _start_c\n\thlt\n");
