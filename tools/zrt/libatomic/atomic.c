/* atomic.c: libatomic for guests (`-latomic`), installed as the sysroot's libatomic.a.
 *
 * gcc calls these for atomics it cannot inline: objects of sizes other than 1, 2, 4 and 8
 * bytes (an `_Atomic struct` of 24 bytes), and 16-byte ones without -mcx16. gcc's own
 * libatomic.a cannot be linked into a nexe: it is position-independent (PIC jump tables)
 * and probes the CPU with cpuid. A guest has one thread and no signal handlers, so
 * nothing can observe an operation half done: plain loads and stores are atomic here.
 * The compiler barriers keep gcc from moving memory accesses across the calls, as the
 * memory-order arguments ask. The names and signatures are libatomic's ABI (gcc's
 * libatomic/libatomic.map; the sized compare-exchange has no `weak` argument). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BARRIER() __asm__ volatile("" ::: "memory")

/* Generic (any size, by pointer). */
void zrt_atomic_load(size_t n, void *mem, void *ret, int model) __asm__("__atomic_load");
void zrt_atomic_load(size_t n, void *mem, void *ret, int model) {
  (void)model;
  BARRIER();
  memcpy(ret, mem, n);
  BARRIER();
}

void zrt_atomic_store(size_t n, void *mem, void *val, int model) __asm__("__atomic_store");
void zrt_atomic_store(size_t n, void *mem, void *val, int model) {
  (void)model;
  BARRIER();
  memcpy(mem, val, n);
  BARRIER();
}

void zrt_atomic_exchange(size_t n, void *mem, void *val, void *ret, int model) __asm__("__atomic_exchange");
void zrt_atomic_exchange(size_t n, void *mem, void *val, void *ret, int model) {
  (void)model;
  BARRIER();
  /* val and ret may be the same object. */
  unsigned char tmp[256];
  unsigned char *t = tmp;
  for (size_t done = 0; done < n; done += sizeof tmp) {
    size_t k = n - done < sizeof tmp ? n - done : sizeof tmp;
    memcpy(t, (unsigned char *)mem + done, k);
    memcpy((unsigned char *)mem + done, (unsigned char *)val + done, k);
    memcpy((unsigned char *)ret + done, t, k);
  }
  BARRIER();
}

bool zrt_atomic_compare_exchange(size_t n, void *mem, void *expected, void *desired, int s, int f)
    __asm__("__atomic_compare_exchange");
bool zrt_atomic_compare_exchange(size_t n, void *mem, void *expected, void *desired, int s, int f) {
  (void)s;
  (void)f;
  BARRIER();
  bool same = memcmp(mem, expected, n) == 0;
  if (same)
    memcpy(mem, desired, n);
  else
    memcpy(expected, mem, n);
  BARRIER();
  return same;
}

bool zrt_atomic_is_lock_free(size_t n, const volatile void *p) __asm__("__atomic_is_lock_free");
bool zrt_atomic_is_lock_free(size_t n, const volatile void *p) {
  return (n == 1 || n == 2 || n == 4 || n == 8) && ((uintptr_t)p & (n - 1)) == 0;
}

void zrt_atomic_feraiseexcept(int e) __asm__("__atomic_feraiseexcept");
void zrt_atomic_feraiseexcept(int e) {
  /* C11 atomic compound assignment on floating types raises the exceptions the
     operation would have: do that arithmetic again (FE_INVALID 1, FE_DIVBYZERO 4,
     FE_OVERFLOW 8, FE_UNDERFLOW 16, FE_INEXACT 32 on x86). */
  volatile double zero = 0.0, one = 1.0, big = 1e308, tiny = 1e-308;
  volatile double r;
  if (e & 1) r = zero / zero;
  if (e & 4) r = one / zero;
  if (e & 8) r = big * big;
  if (e & 16) r = tiny * tiny;
  if (e & 32) r = one / 3.0;
  (void)r;
}

/* Sized: N = 1, 2, 4, 8, 16 with T the unsigned type of that size. */
#define SIZED(N, T)                                                                                     \
  T zrt_load_##N(const volatile void *mem, int m) __asm__("__atomic_load_" #N);                       \
  T zrt_load_##N(const volatile void *mem, int m) {                                                   \
    (void)m;                                                                                          \
    BARRIER();                                                                                        \
    T v = *(const volatile T *)mem;                                                                   \
    BARRIER();                                                                                        \
    return v;                                                                                         \
  }                                                                                                   \
  void zrt_store_##N(volatile void *mem, T v, int m) __asm__("__atomic_store_" #N);                  \
  void zrt_store_##N(volatile void *mem, T v, int m) {                                               \
    (void)m;                                                                                          \
    BARRIER();                                                                                        \
    *(volatile T *)mem = v;                                                                           \
    BARRIER();                                                                                        \
  }                                                                                                   \
  RMW_OLD(exchange, N, T, v)                                                                          \
  bool zrt_cas_##N(volatile void *mem, void *expected, T desired, int s, int f)                       \
      __asm__("__atomic_compare_exchange_" #N);                                                       \
  bool zrt_cas_##N(volatile void *mem, void *expected, T desired, int s, int f) {                     \
    (void)s;                                                                                          \
    (void)f;                                                                                          \
    BARRIER();                                                                                        \
    T cur = *(volatile T *)mem;                                                                       \
    bool same = cur == *(T *)expected;                                                                \
    if (same)                                                                                         \
      *(volatile T *)mem = desired;                                                                   \
    else                                                                                              \
      *(T *)expected = cur;                                                                           \
    BARRIER();                                                                                        \
    return same;                                                                                      \
  }                                                                                                   \
  FETCH(N, T, add, old + v)                                                                           \
  FETCH(N, T, sub, old - v)                                                                           \
  FETCH(N, T, and, old &v)                                                                            \
  FETCH(N, T, or, old | v)                                                                            \
  FETCH(N, T, xor, old ^ v)                                                                           \
  FETCH(N, T, nand, (T) ~(old & v))

/* A read-modify-write named __atomic_NAME_N that stores EXPR (of `old` and `v`) and
   returns the old value (RMW_OLD) or the new one (RMW_NEW). */
#define RMW_OLD(NAME, N, T, EXPR) RMW(NAME, N, T, EXPR, old)
#define RMW_NEW(NAME, N, T, EXPR) RMW(NAME, N, T, EXPR, now)
#define RMW(NAME, N, T, EXPR, RESULT)                                                                   \
  T zrt_##NAME##_##N(volatile void *mem, T v, int m) __asm__("__atomic_" #NAME "_" #N);               \
  T zrt_##NAME##_##N(volatile void *mem, T v, int m) {                                                \
    (void)m;                                                                                          \
    BARRIER();                                                                                        \
    T old = *(volatile T *)mem;                                                                       \
    T now = (T)(EXPR);                                                                                \
    *(volatile T *)mem = now;                                                                         \
    BARRIER();                                                                                        \
    (void)old;                                                                                        \
    (void)now;                                                                                        \
    return RESULT;                                                                                    \
  }

/* __atomic_fetch_OP_N returns the old value, __atomic_OP_fetch_N the new one. */
#define FETCH(N, T, OP, EXPR) RMW_OLD(fetch_##OP, N, T, EXPR) RMW_NEW(OP##_fetch, N, T, EXPR)

SIZED(1, uint8_t)
SIZED(2, uint16_t)
SIZED(4, uint32_t)
SIZED(8, uint64_t)
SIZED(16, unsigned __int128)
