/* atomics_wide.c: C11 atomics gcc cannot inline, through -latomic (the sysroot's
 * libatomic.a, tools/zrt/libatomic): a 24-byte _Atomic struct (load, store, exchange,
 * compare-exchange, generic), 16-byte integers (fetch ops), and compound assignment to an
 * _Atomic double (a compare-exchange loop that raises the operation's exceptions).
 * zv-cflags: -latomic
 */
#include <fenv.h>
#include <stdatomic.h>
#include <stdio.h>

struct big {
  long a, b, c;
};

static _Atomic struct big shared;
static _Atomic unsigned __int128 wide;
static _Atomic double acc;

static void show(const char *what, struct big v) { printf("%s: %ld %ld %ld\n", what, v.a, v.b, v.c); }

int main(void) {
  struct big one = {1, 2, 3}, two = {10, 20, 30};
  atomic_store(&shared, one);
  show("load", atomic_load(&shared));
  show("exchange returned", atomic_exchange(&shared, two));
  show("after exchange", atomic_load(&shared));
  struct big expect = one;
  int ok = atomic_compare_exchange_strong(&shared, &expect, one);
  printf("cas with a stale expectation: %d\n", ok);
  show("expectation updated to", expect);
  ok = atomic_compare_exchange_strong(&shared, &expect, one);
  printf("cas again: %d\n", ok);
  show("after cas", atomic_load(&shared));
  printf("lock free: big %d\n", atomic_is_lock_free(&shared) ? 1 : 0);

  atomic_store(&wide, (unsigned __int128)1 << 100);
  unsigned __int128 old = atomic_fetch_add(&wide, 5);
  unsigned __int128 now = atomic_load(&wide);
  printf("wide: old high %llu, now high %llu low %llu\n", (unsigned long long)(old >> 64),
         (unsigned long long)(now >> 64), (unsigned long long)now);
  atomic_fetch_sub(&wide, 6);
  atomic_fetch_or(&wide, 0xF0);
  atomic_fetch_and(&wide, ~(unsigned __int128)0x10);
  atomic_fetch_xor(&wide, 1);
  now = atomic_load(&wide);
  printf("wide after sub/or/and/xor: high %llu low %#llx\n", (unsigned long long)(now >> 64),
         (unsigned long long)now);

  feclearexcept(FE_ALL_EXCEPT);
  acc = 1.0;
  acc += 0.5;
  acc /= 7.0;
  printf("double: %.17g inexact %d\n", (double)acc, fetestexcept(FE_INEXACT) != 0);
  return 0;
}
