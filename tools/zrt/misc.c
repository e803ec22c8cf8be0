/* misc.c: the manifest's fixed time, deterministic random numbers, uname, limits and the
 * one CPU.
 *
 * The runtime passes the session's fixed time and seed in two zv-specific auxv entries
 * (docs/zvrun.md, start-up block): 0x5A560001 = seconds since the epoch, 0x5A560002 =
 * the seed; zrt reads them with musl's getauxval. Every clock of the realtime family
 * shows the fixed time, the monotonic and CPU-time clocks show 0 (the session has just
 * started), and nothing ever advances: two runs of the same program see the same values.
 * getrandom draws from xoshiro256** seeded through splitmix64 from the seed, so the same
 * seed gives the same bytes and another seed other bytes. uname, prlimit and sysinfo
 * answer constants and manifest values, never the host's. The guest runs one thread, so
 * it has one CPU: the affinity mask is CPU 0 (musl's sysconf(_SC_NPROCESSORS_ONLN) and
 * _CONF count its bits) and getcpu says 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <time.h>

#include "zrt.h"

#define ZRT_AT_TIME 0x5A560001ul
#define ZRT_AT_SEED 0x5A560002ul
#define ZRT_GRND_FLAGS 0x7 /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */

int64_t zrt_fixed_time(void) {
  static int ready;
  static int64_t t;
  if (!ready) {
    t = (int64_t)getauxval(ZRT_AT_TIME);
    ready = 1;
  }
  return t;
}

/* 1: realtime family (the fixed time); 0: monotonic and CPU clocks (zero); -1: invalid. */
static int clock_kind(long id) {
  int clk = (int)id; /* the kernel's clockid_t is an int: the upper bits are not looked at */
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case 8:  /* CLOCK_REALTIME_ALARM */
    case 11: /* CLOCK_TAI */
      return 1;
    case CLOCK_MONOTONIC:
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case 9: /* CLOCK_BOOTTIME_ALARM */
      return 0;
    default:
      /* Negative ids are the CPU-time clocks of processes and threads
       * (clock_getcpuclockid): ~pid << 3 | thread << 2 | which, with which 0-2 (3 names
       * a clock by fd, and there are none) and pid 0 (the caller) or the guest's own. */
      if (clk >= 0 || (clk & 3) == 3) return -1;
      int pid = ~(clk >> 3);
      return pid == 0 || pid == 1 ? 0 : -1;
  }
}

long zrt_clock_gettime(long clk, void *tsp) {
  int k = clock_kind(clk);
  if (k < 0) return -EINVAL;
  if (!tsp) return -EFAULT;
  struct timespec *ts = tsp;
  ts->tv_sec = k ? zrt_fixed_time() : 0;
  ts->tv_nsec = 0;
  return 0;
}

long zrt_clock_getres(long clk, void *tsp) {
  if (clock_kind(clk) < 0) return -EINVAL;
  if (tsp) {
    struct timespec *ts = tsp;
    ts->tv_sec = 0;
    ts->tv_nsec = 1;
  }
  return 0;
}

/* nanosleep and clock_nanosleep: nothing advances, so a valid request returns 0 at once;
 * Linux's argument checks stay (a tv_nsec outside [0, 999999999] or a negative tv_sec is
 * -EINVAL; for clock_nanosleep an unknown clock is -EINVAL and a clock that cannot sleep
 * (the coarse and raw ones, the thread's CPU clock) -EOPNOTSUPP, checked first). */
static long check_sleep(const void *tsp) {
  if (!tsp) return -EFAULT;
  const struct timespec *ts = tsp;
  if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec > 999999999) return -EINVAL;
  return 0;
}

long zrt_nanosleep(const void *req, void *rem) {
  (void)rem;
  return check_sleep(req);
}

long zrt_clock_nanosleep(long clk, long flags, const void *req, void *rem) {
  (void)flags;
  (void)rem;
  if (clock_kind(clk) < 0) return -EINVAL;
  clk = (int)clk;
  if (clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_RAW || clk == CLOCK_MONOTONIC_COARSE ||
      clk == CLOCK_THREAD_CPUTIME_ID)
    return -EOPNOTSUPP;
  return check_sleep(req);
}

long zrt_gettimeofday(void *tvp, void *tzp) {
  if (tvp) {
    long *tv = tvp; /* struct timeval: seconds, microseconds */
    tv[0] = zrt_fixed_time();
    tv[1] = 0;
  }
  if (tzp) {
    int *tz = tzp; /* struct timezone: minutes west, dst: UTC */
    tz[0] = 0;
    tz[1] = 0;
  }
  return 0;
}

long zrt_time(long *t) {
  long now = zrt_fixed_time();
  if (t) *t = now;
  return now;
}

/* ---- getrandom ------------------------------------------------------------------------ */

static uint64_t rng[4];
static int rng_ready;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro256ss(void) {
  uint64_t result = rotl(rng[1] * 5, 7) * 9;
  uint64_t t = rng[1] << 17;
  rng[2] ^= rng[0];
  rng[3] ^= rng[1];
  rng[1] ^= rng[2];
  rng[0] ^= rng[3];
  rng[2] ^= t;
  rng[3] = rotl(rng[3], 45);
  return result;
}

long zrt_getrandom(void *buf, size_t n, long flags) {
  if (flags & ~(long)ZRT_GRND_FLAGS) return -EINVAL;
  if (n == 0) return 0;
  if (!buf) return -EFAULT;
  if (!rng_ready) {
    /* A domain constant keeps these bytes apart from AT_RANDOM's for the same seed. */
    uint64_t x = (uint64_t)getauxval(ZRT_AT_SEED) ^ 0x7a76206765747261ull; /* "zv getra" */
    for (int i = 0; i < 4; i++) rng[i] = splitmix64(&x);
    rng_ready = 1;
  }
  if (n > 33554431) n = 33554431; /* Linux's largest single getrandom */
  unsigned char *p = buf;
  size_t done = 0;
  while (done < n) {
    uint64_t v = xoshiro256ss();
    for (int i = 0; i < 8 && done < n; i++, done++) p[done] = (unsigned char)(v >> (8 * i));
  }
  return (long)n;
}

/* ---- uname, limits --------------------------------------------------------------------- */

static void put_field(char *f, const char *s) {
  size_t i = 0;
  for (; s[i] && i < 64; i++) f[i] = s[i];
  for (; i < 65; i++) f[i] = 0;
}

long zrt_uname(void *u) {
  if (!u) return -EFAULT;
  char *f = u; /* struct utsname: six fields of 65 bytes */
  put_field(f + 0 * 65, "Linux");
  put_field(f + 1 * 65, "zv");
  put_field(f + 2 * 65, "5.15.0-zv");
  put_field(f + 3 * 65, "#1 zv sandbox");
  put_field(f + 4 * 65, "x86_64");
  put_field(f + 5 * 65, "(none)");
  return 0;
}

long zrt_prlimit(long pid, long res, const void *new_lim, void *old_lim) {
  /* A new limit is checked as Linux does (soft above hard: -EINVAL), then ignored: there
   * is nothing to enforce it on. */
  if (pid != 0 && pid != 1) return -ESRCH;
  if (res < 0 || res >= RLIM_NLIMITS) return -EINVAL;
  if (new_lim && ((const uint64_t *)new_lim)[0] > ((const uint64_t *)new_lim)[1]) return -EINVAL;
  if (old_lim) {
    uint64_t *l = old_lim; /* struct rlimit: soft, hard */
    uint64_t v = RLIM_INFINITY;
    const struct UserManifest *m = MANIFEST;
    if (res == RLIMIT_STACK) v = m->stack_size;
    else if (res == RLIMIT_NOFILE) v = 256;
    else if (res == RLIMIT_CORE) v = 0;
    else if (res == RLIMIT_DATA || res == RLIMIT_AS) v = m->heap_size;
    l[0] = l[1] = v;
  }
  return 0;
}

long zrt_sysinfo(void *info) {
  if (!info) return -EFAULT;
  /* struct sysinfo (x86-64): uptime, loads[3], totalram, freeram, sharedram, bufferram,
   * totalswap, freeswap (longs), procs (u16), pad, totalhigh, freehigh, mem_unit (u32). */
  zrt_zero(info, 112);
  unsigned long *l = info;
  l[4] = MANIFEST->heap_size;     /* totalram */
  l[5] = zrt_free_heap_bytes();   /* freeram */
  *(uint16_t *)((char *)info + 80) = 1;      /* procs */
  *(uint32_t *)((char *)info + 104) = 1;     /* mem_unit */
  return 0;
}

/* ---- the one CPU ----------------------------------------------------------------------- */

/* The mask is CPU 0 in one long; as Linux with nr_cpu_ids = 1: the length must be a
 * multiple of 8 bytes (-EINVAL), the call copies 8 bytes and returns 8 (musl clears the
 * rest of the caller's set). */
long zrt_sched_getaffinity(long pid, long len, void *mask) {
  if (len <= 0 || (len & 7)) return -EINVAL;
  if (pid != 0 && pid != 1) return -ESRCH;
  if (!mask) return -EFAULT;
  uint64_t one = 1;
  zrt_copy(mask, &one, sizeof one);
  return (long)sizeof one;
}

/* Any mask that holds CPU 0 is accepted (nothing changes); one without it is -EINVAL. */
long zrt_sched_setaffinity(long pid, long len, const void *mask) {
  if (pid != 0 && pid != 1) return -ESRCH;
  if (len <= 0) return -EINVAL;
  if (!mask) return -EFAULT;
  return (*(const unsigned char *)mask & 1) ? 0 : -EINVAL;
}

long zrt_getcpu(unsigned *cpu, unsigned *node) {
  if (cpu) *cpu = 0;
  if (node) *node = 0;
  return 0;
}
