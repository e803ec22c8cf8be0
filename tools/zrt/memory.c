/* memory.c: brk, mmap, munmap, mremap, madvise and mprotect inside the manifest's heap.
 *
 * The heap [heap_ptr, heap_ptr + heap_size) is the only memory a guest can be given
 * (RUNTIME.md section 6), so zrt manages it as a page arena: a bitmap of 4 KiB pages,
 * kept in the first pages of the heap itself, says which pages are mapped. mmap takes
 * a run of free pages that fits, munmap frees pages (any part of any mapping), mremap
 * shrinks in place, grows in place when the pages after the mapping are free and
 * otherwise, with MREMAP_MAYMOVE, allocates, copies and frees (what musl's realloc
 * expects), or fails with -ENOMEM.
 *
 * Placement keeps the free space in one piece as far as it can, since the heap is small
 * next to a Linux address space: a run of ZRT_LARGE_RUN pages or more (musl's malloc maps
 * every allocation over 128 KiB on its own) takes the lowest free run that fits (first
 * fit), and can then grow upwards in place; a smaller one (musl's groups of small
 * objects and their metadata, pipe buffers) takes the highest (last fit). So small
 * objects made while a large buffer was live do not sit just above it: once it is freed,
 * a larger one fits where it was (a program that frees 150 MiB and asks for 200 MiB in
 * a 256 MiB session gets it, as on Linux).
 *
 * Fresh pages are zero: the runtime maps the heap zeroed, and the pages between two
 * marks, [clean_lo, clean_hi), were never handed out; the others are cleared when they
 * are handed out again.
 *
 * brk never moves (Linux's answer when the break cannot grow: the current break), so
 * musl's malloc uses mmap. Private file mappings of random-read channels are read into
 * fresh pages (there is no write-back). Nothing here is host-dependent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "zrt.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static uintptr_t arena_base; /* page-aligned start of the arena (page 0) */
static size_t arena_pages;   /* pages in the arena */
static size_t first_page;    /* first page after the bitmap's own pages */
static size_t lowest_free;   /* no free page below this index */
static size_t top_free;      /* no free page at or above this index */
static size_t clean_lo;      /* pages in [clean_lo, clean_hi) were never handed out */
static size_t clean_hi;
static uint64_t *bitmap;     /* bit i set: page i is mapped */

/* Runs this long or longer are placed from the bottom, shorter ones from the top. */
#define ZRT_LARGE_RUN 256

static int arena_init(void) {
  if (bitmap) return 0;
  const struct UserManifest *m = MANIFEST;
  uintptr_t start = (uintptr_t)m->heap_ptr;
  uintptr_t end = start + m->heap_size;
  arena_base = (start + ZRT_PAGE - 1) & ~(uintptr_t)(ZRT_PAGE - 1);
  if (arena_base >= end) return -ENOMEM;
  arena_pages = (end - arena_base) / ZRT_PAGE;
  size_t words = (arena_pages + 63) / 64;
  size_t bitmap_pages = (words * 8 + ZRT_PAGE - 1) / ZRT_PAGE;
  if (bitmap_pages >= arena_pages) return -ENOMEM;
  bitmap = (uint64_t *)arena_base;
  first_page = bitmap_pages;
  for (size_t i = 0; i < bitmap_pages; i++) bitmap[i / 64] |= 1ull << (i % 64);
  lowest_free = clean_lo = first_page;
  top_free = clean_hi = arena_pages;
  return 0;
}

static int page_used(size_t i) { return (bitmap[i / 64] >> (i % 64)) & 1; }

static void mark(size_t i, size_t n, int used) {
  size_t end = i + n;
  while (i < end) {
    if (i % 64 == 0 && end - i >= 64) {
      bitmap[i / 64] = used ? ~0ull : 0;
      i += 64;
      continue;
    }
    if (used)
      bitmap[i / 64] |= 1ull << (i % 64);
    else
      bitmap[i / 64] &= ~(1ull << (i % 64));
    i++;
  }
}

/* Are pages [i, i + n) all free? */
static int run_free(size_t i, size_t n) {
  if (i + n > arena_pages || i + n < i) return 0;
  size_t end = i + n;
  while (i < end) {
    if (i % 64 == 0 && end - i >= 64) {
      if (bitmap[i / 64]) return 0;
      i += 64;
      continue;
    }
    if (page_used(i)) return 0;
    i++;
  }
  return 1;
}

/* Are pages [i, i + n) all mapped? */
static int run_used(size_t i, size_t n) {
  if (i < first_page || i + n > arena_pages || i + n < i) return 0;
  for (size_t k = i; k < i + n; k++)
    if (!page_used(k)) return 0;
  return 1;
}

/* [i, i + n) has been handed out: the clean pages shrink to the larger side of the
   two the run leaves (the pages of the other side only cost a clearing later). */
static void dirtied(size_t i, size_t n) {
  size_t end = i + n;
  if (end <= clean_lo || i >= clean_hi) return;
  size_t above = end < clean_hi ? clean_hi - (end > clean_lo ? end : clean_lo) : 0;
  size_t below = i > clean_lo ? i - clean_lo : 0;
  if (above >= below)
    clean_lo = end < clean_hi ? end : clean_hi;
  else
    clean_hi = i;
}

/* Marks [i, i + n) mapped and makes it read as zero. */
static void take(size_t i, size_t n) {
  size_t end = i + n;
  mark(i, n, 1);
  size_t lo = i > clean_lo ? i : clean_lo, hi = end < clean_hi ? end : clean_hi;
  if (lo >= hi) {
    zrt_zero((void *)(arena_base + i * ZRT_PAGE), n * ZRT_PAGE);
  } else {
    zrt_zero((void *)(arena_base + i * ZRT_PAGE), (lo - i) * ZRT_PAGE);
    zrt_zero((void *)(arena_base + hi * ZRT_PAGE), (end - hi) * ZRT_PAGE);
  }
  dirtied(i, n);
  if (i == lowest_free) lowest_free = end;
  if (end == top_free) top_free = i;
}

static void give_back(size_t i, size_t n) {
  mark(i, n, 0);
  if (i < lowest_free) lowest_free = i;
  if (i + n > top_free) top_free = i + n;
}

/* First fit: the lowest free run of n pages, or arena_pages when there is none. */
static size_t find_run_up(size_t n) {
  size_t i = lowest_free;
  while (i + n <= arena_pages) {
    if (i % 64 == 0 && bitmap[i / 64] == ~0ull) {
      i += 64;
      continue;
    }
    if (page_used(i)) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < i + n && !page_used(j)) {
      if (j % 64 == 0 && bitmap[j / 64] == 0 && j + 64 <= i + n)
        j += 64;
      else
        j++;
    }
    if (j == i + n) return i;
    i = j + 1;
  }
  return arena_pages;
}

/* Last fit: the highest free run of n pages, or arena_pages when there is none. */
static size_t find_run_down(size_t n) {
  size_t end = top_free; /* the end of the run being tried */
  while (end >= first_page + n) {
    if (page_used(end - 1)) {
      end -= end % 64 == 0 && bitmap[(end - 1) / 64] == ~0ull ? 64 : 1;
      continue;
    }
    size_t j = end; /* [j, end) is free */
    while (j > end - n && !page_used(j - 1)) {
      if (j % 64 == 0 && bitmap[(j - 1) / 64] == 0 && j - 64 >= end - n)
        j -= 64;
      else
        j--;
    }
    if (j == end - n) return j;
    end = j - 1; /* page j - 1 is mapped */
  }
  return arena_pages;
}

/* Where a new run of n pages goes (see the top of this file). */
static size_t find_run(size_t n) { return n >= ZRT_LARGE_RUN ? find_run_up(n) : find_run_down(n); }

/* Page index range of [addr, addr + len) inside the arena; 0 when it is not all inside. */
static int to_pages(uintptr_t addr, size_t len, size_t *first, size_t *count) {
  if (addr < arena_base + first_page * ZRT_PAGE) return 0;
  size_t n = (len + ZRT_PAGE - 1) / ZRT_PAGE;
  size_t i = (addr - arena_base) / ZRT_PAGE;
  if (i >= arena_pages || n > arena_pages - i) return 0;
  *first = i;
  *count = n;
  return 1;
}

uint64_t zrt_free_heap_bytes(void) {
  if (arena_init() < 0) return 0;
  uint64_t used = 0;
  for (size_t w = 0; w < (arena_pages + 63) / 64; w++) used += (uint64_t)__builtin_popcountll(bitmap[w]);
  return (arena_pages - used) * ZRT_PAGE;
}

long zrt_brk(long addr) {
  (void)addr;
  const struct UserManifest *m = MANIFEST;
  return (long)(uintptr_t)m->heap_ptr;
}

long zrt_mmap(long addr, long len, long prot, long flags, long fd, long off) {
  if (len <= 0 || (off & (ZRT_PAGE - 1)) || off < 0) return -EINVAL;
  /* Exactly one of MAP_SHARED, MAP_PRIVATE (or MAP_SHARED_VALIDATE), as Linux requires. */
  if ((flags & 3) == 0) return -EINVAL;
  if (prot & PROT_EXEC) return -EACCES; /* only Jail makes memory executable */
  if (arena_init() < 0) return -ENOMEM;
  if ((size_t)len > arena_pages * (size_t)ZRT_PAGE) return -ENOMEM;
  size_t n = ((size_t)len + ZRT_PAGE - 1) / ZRT_PAGE;
  /* A mapping of /dev/zero is anonymous memory (with one process, shared or not). */
  int anonymous = (flags & MAP_ANONYMOUS) != 0 || zrt_fd_is_dev_zero(fd);
  /* A shared writable mapping of a file needs it open for writing (-EACCES, Linux's
   * answer, first); zrt has no shared file mappings at all (-ENODEV). */
  if (!anonymous && (flags & MAP_SHARED) && (prot & PROT_WRITE))
    return zrt_fd_writable(fd) ? -ENODEV : -EACCES;
  size_t i;
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    if ((uintptr_t)addr & (ZRT_PAGE - 1)) return -EINVAL;
    size_t cnt;
    if (!to_pages((uintptr_t)addr, (size_t)len, &i, &cnt)) return -ENOMEM;
    /* NOREPLACE refuses an occupied range even beside MAP_FIXED, as Linux does (audit
     * finding: with both, live memory was replaced by zeros). */
    if ((flags & MAP_FIXED_NOREPLACE) && !run_free(i, n)) return -EEXIST;
    /* A fixed mapping replaces what was there with fresh zero pages. */
    mark(i, n, 1);
    zrt_zero((void *)(arena_base + i * ZRT_PAGE), n * ZRT_PAGE);
    dirtied(i, n);
  } else {
    i = find_run(n);
    if (i >= arena_pages) return -ENOMEM;
    take(i, n);
  }
  void *p = (void *)(arena_base + i * ZRT_PAGE);
  if (!anonymous) {
    long r = zrt_fd_pread_all(fd, p, (size_t)len, off);
    /* The rest of the last page shows the file's bytes past `len`, as Linux maps whole
     * pages (zeros past the file's end); best effort: a quota that allows only `len`
     * bytes leaves zeros there rather than failing the mapping. */
    if (r == len && (size_t)len < n * ZRT_PAGE)
      (void)zrt_fd_pread_all(fd, (char *)p + len, n * ZRT_PAGE - (size_t)len, off + len);
    if (r < 0) {
      zrt_zero(p, n * ZRT_PAGE);
      give_back(i, n);
      return r;
    }
  }
  return (long)(uintptr_t)p;
}

long zrt_munmap(long addr, long len) {
  if (((uintptr_t)addr & (ZRT_PAGE - 1)) || len <= 0) return -EINVAL;
  if (arena_init() < 0) return 0;
  size_t i, n;
  /* Outside the arena nothing was ever mapped by mmap: Linux says 0 for unmapped ranges. */
  if (!to_pages((uintptr_t)addr, (size_t)len, &i, &n)) return 0;
  give_back(i, n);
  return 0;
}

static uint64_t region_end(uint64_t a, int write);
static int in_manifest_pages(uint64_t a);

long zrt_mremap(long old, long old_len, long new_len, long flags, long new_addr) {
  (void)new_addr;
  if (((uintptr_t)old & (ZRT_PAGE - 1)) || new_len <= 0 || old_len <= 0) return -EINVAL;
  if (flags & ~(long)(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return -EINVAL;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) return -EINVAL; /* not supported */
  if (arena_init() < 0) return -EFAULT;
  size_t i, on;
  if (!to_pages((uintptr_t)old, (size_t)old_len, &i, &on)) {
    /* Guest memory outside the arena (the stack, the program's segments) is mapped but
     * never moves or grows: -ENOMEM, as Linux answers for a mapping that cannot grow in
     * place; -EFAULT only where nothing is mapped. musl measures the main thread's stack
     * (pthread_getattr_np) by walking down with mremap while it fails with -ENOMEM: it
     * found 4 KiB when every page answered -EFAULT (audit finding). The read-only
     * manifest pages below the stack answer -EFAULT, as the gap below a Linux stack. */
    uint64_t a = (uint64_t)(uintptr_t)old;
    return region_end(a, 0) && !in_manifest_pages(a) ? -ENOMEM : -EFAULT;
  }
  if (!run_used(i, on)) return -EFAULT;
  if ((size_t)new_len > arena_pages * (size_t)ZRT_PAGE) return -ENOMEM;
  size_t nn = ((size_t)new_len + ZRT_PAGE - 1) / ZRT_PAGE;
  if (nn <= on) {
    if (nn < on) give_back(i + nn, on - nn);
    return old;
  }
  if (run_free(i + on, nn - on)) {
    take(i + on, nn - on);
    return old;
  }
  if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
  size_t j = find_run(nn);
  if (j >= arena_pages) return -ENOMEM;
  take(j, nn);
  void *p = (void *)(arena_base + j * ZRT_PAGE);
  zrt_copy(p, (const void *)(uintptr_t)old, on * ZRT_PAGE);
  give_back(i, on);
  return (long)(uintptr_t)p;
}

/* Whether Linux knows `advice` (MADV_NORMAL 0 ... MADV_COLLAPSE 25, MADV_HWPOISON 100,
 * MADV_SOFT_OFFLINE 101, minus the unused 5-7). */
static int known_advice(long advice) {
  return (advice >= 0 && advice <= 4) || (advice >= 8 && advice <= 25) || advice == 100 || advice == 101;
}

long zrt_madvise(long addr, long len, long advice) {
  if (((uintptr_t)addr & (ZRT_PAGE - 1)) || len < 0 || !known_advice(advice)) return -EINVAL;
  if (len == 0) return 0;
  /* A range outside the guest's memory is not mapped: -ENOMEM, as Linux. */
  if (!zrt_mem_ok((const void *)(uintptr_t)addr, (size_t)len, 0)) return -ENOMEM;
  /* MADV_DONTNEED_LOCKED (24) drops pages as MADV_DONTNEED (4) does. */
  if ((advice == MADV_DONTNEED || advice == 24) && arena_init() == 0) {
    /* Linux: private anonymous pages read as zero after MADV_DONTNEED. */
    size_t i, n;
    if (to_pages((uintptr_t)addr, (size_t)len, &i, &n)) zrt_zero((void *)(uintptr_t)addr, n * ZRT_PAGE);
  }
  return 0;
}

long zrt_mprotect(long addr, long len, long prot) {
  /* Linux takes PROT_READ, PROT_WRITE, PROT_EXEC and PROT_SEM (0x8); PROT_GROWSDOWN and
   * PROT_GROWSUP only on a stack that grows, which no zrt mapping is: -EINVAL. */
  if (((uintptr_t)addr & (ZRT_PAGE - 1)) || len < 0 || (prot & ~0xFL)) return -EINVAL;
  if (prot & PROT_EXEC) return -EACCES; /* only Jail makes memory executable */
  if (len == 0) return 0;
  if (arena_init() < 0) return -ENOMEM;
  size_t i, n;
  /* Accepted (and without effect) inside the heap: the heap stays readable and writable. */
  if (to_pages((uintptr_t)addr, (size_t)len, &i, &n)) return 0;
  /* Elsewhere in the guest's memory (the program's data, the stack) the same: accepted
   * without effect, unless it asks to write where the memory is read-only (code,
   * read-only data, the manifest pages), which no call can change: -EACCES. Outside it,
   * nothing is mapped: -ENOMEM, as Linux (static data made read-only by mprotect was
   * -ENOMEM, "not mapped": audit finding). */
  if (!zrt_mem_ok((const void *)(uintptr_t)addr, (size_t)len, 0)) return -ENOMEM;
  if ((prot & PROT_WRITE) && !zrt_mem_ok((const void *)(uintptr_t)addr, (size_t)len, 1)) return -EACCES;
  return 0;
}

/* ---- guest pointers ----------------------------------------------------------------
 *
 * Where the kernel answers a bad pointer with -EFAULT, zrt must not dereference it (the
 * guest would fault instead). The guest's memory is known exactly (docs/zvrun.md,
 * "Address space"): the program's PT_LOAD segments with their permissions (read from
 * AT_PHDR), the heap (read-write as a whole: zrt's arena hands out pages inside it), the
 * read-only user manifest pages below the stack, and the stack [0xFF000000, 4 GiB).
 * Jailed heap regions (R+X, made so only by a guest's own Jail call) are not tracked. */

#define ZRT_STACK_LO 0xFF000000ull
#define ZRT_GUEST_END 0x100000000ull

/* Whether a lies in the read-only user manifest pages just below the stack. */
static int in_manifest_pages(uint64_t a) {
  uint64_t ms = (uint64_t)(uintptr_t)MANIFEST & ~(uint64_t)(ZRT_PAGE - 1);
  return a >= ms && a < ZRT_STACK_LO;
}

/* The end of the region holding address a with the access asked (write: read-write),
 * or 0 when none does. */
static uint64_t region_end(uint64_t a, int write) {
  if (a >= ZRT_STACK_LO && a < ZRT_GUEST_END) return ZRT_GUEST_END;
  const struct UserManifest *m = MANIFEST;
  uint64_t hs = (uint64_t)(uintptr_t)m->heap_ptr, he = hs + m->heap_size;
  if (a >= hs && a < he) return he;
  if (!write && in_manifest_pages(a)) return ZRT_STACK_LO;
  const unsigned char *ph = (const unsigned char *)getauxval(AT_PHDR);
  unsigned long n = getauxval(AT_PHNUM);
  for (unsigned long i = 0; ph && i < n; i++, ph += 56) {
    uint32_t type, flags;
    uint64_t vaddr, memsz;
    zrt_copy(&type, ph, 4);
    zrt_copy(&flags, ph + 4, 4);
    zrt_copy(&vaddr, ph + 16, 8);
    zrt_copy(&memsz, ph + 40, 8);
    if (type != 1 /* PT_LOAD */ || !(flags & 4) || (write && !(flags & 2))) continue;
    uint64_t end = (vaddr + memsz + ZRT_PAGE - 1) & ~(uint64_t)(ZRT_PAGE - 1);
    if (a >= vaddr && a < end) return end;
  }
  return 0;
}

int zrt_mem_ok(const void *p, size_t n, int write) {
  uint64_t a = (uint64_t)(uintptr_t)p;
  if (n == 0) return 1;
  uint64_t end = region_end(a, write);
  return end != 0 && n <= end - a;
}

int zrt_str_ok(const char *s) {
  uint64_t a = (uint64_t)(uintptr_t)s;
  uint64_t end = region_end(a, 0);
  if (!end) return 0;
  for (uint64_t p = a; p < end; p++)
    if (*(const char *)(uintptr_t)p == 0) return 1;
  return 0;
}
