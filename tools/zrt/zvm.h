/* zvm.h: the guest side of the zv runtime ABI (RUNTIME.md sections 3 and 4).
 *
 * The six calls reach the runtime through `call 0x10000` (the trap entry, slot 0 of the
 * trampoline page) with %rdi pointing to an array of u64 words: the call id, a reserved
 * zero word, then the arguments. The result comes back in %rax (a count, 0 or -errno).
 * The API is source-compatible with ZeroVM's zvm.h (zvm_pread, zvm_pwrite, zvm_jail,
 * zvm_unjail, zvm_exit, zvm_fork, MANIFEST); the user manifest layout is defined here and
 * once more in the core crate (zvcore). Part of zrt, installed into the sysroot.
 */
#ifndef ZVM_H
#define ZVM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Guest address of the trap entry. */
#define ZVM_TRAP_ENTRY 0x10000u
/* Guest address of the u32 holding the address of the user manifest. */
#define ZVM_MANIFEST_PTR 0xFEFFFFFCu

/* Call ids: four ASCII bytes read as a little-endian u32. Unjail uses ZeroVM's value
 * (its bytes read "Unjl"; RUNTIME.md's spelling "Unja" disagrees with its own hex). */
enum ZVMCall {
  ZVM_CALL_READ = 0x64616552,   /* "Read" */
  ZVM_CALL_WRITE = 0x74697257,  /* "Writ" */
  ZVM_CALL_JAIL = 0x6c69614a,   /* "Jail" */
  ZVM_CALL_UNJAIL = 0x6c6a6e55, /* ZeroVM's Unjail */
  ZVM_CALL_EXIT = 0x74697845,   /* "Exit" */
  ZVM_CALL_FORK = 0x6b726f46    /* "Fork" */
};

/* Channel access types (RUNTIME.md section 5). */
enum ZVMAccessType {
  SGetSPut = 0, /* sequential read, sequential write */
  RGetSPut = 1, /* random read, sequential (append) write */
  SGetRPut = 2, /* sequential read, random write */
  RGetRPut = 3  /* random read, random write */
};

/* Indexes into ZVMChannel.limits. */
enum ZVMIOLimits { GetsLimit = 0, GetSizeLimit = 1, PutsLimit = 2, PutSizeLimit = 3, IOLimitsCount = 4 };

/* One channel of the session. Channels 0, 1, 2 are stdin, stdout, stderr. */
struct ZVMChannel {
  int64_t limits[IOLimitsCount]; /* gets, get_size, puts, put_size */
  int64_t size;                  /* size for random-read channels, else 0 */
  uint32_t type;                 /* enum ZVMAccessType */
  uint32_t pad;
  const char *name;              /* the channel's alias */
};

/* The read-only user manifest the runtime maps for the guest. */
struct UserManifest {
  void *heap_ptr;      /* the heap is [heap_ptr, heap_ptr + heap_size) */
  uint32_t heap_size;
  uint32_t stack_size;
  int32_t channels_count;
  uint32_t pad;
  struct ZVMChannel *channels;
};

/* The user manifest of this session. */
#define MANIFEST \
  ((const struct UserManifest *)(uintptr_t)(*(const volatile uint32_t *)(uintptr_t)ZVM_MANIFEST_PTR))

/* The trap stub (trap.S): `call 0x10000` with %rdi = words. */
int64_t __zv_trap(uint64_t *words);

/* The thread pointer: what %fs:0 reads in a native program. zvld rewrites
 * `mov %fs:0,%reg` into a load of this variable; arch_prctl(ARCH_SET_FS) sets it. */
extern uint64_t __zv_tp;

/* Read up to size bytes from channel ch at offset (ignored on sequential channels). */
static inline int64_t zvm_pread(int ch, void *buf, int64_t size, int64_t offset) {
  uint64_t w[6] = {ZVM_CALL_READ, 0, (uint64_t)(int64_t)ch, (uint64_t)(uintptr_t)buf, (uint64_t)size,
                   (uint64_t)offset};
  return __zv_trap(w);
}

/* Write up to size bytes to channel ch at offset (ignored on sequential channels). */
static inline int64_t zvm_pwrite(int ch, const void *buf, int64_t size, int64_t offset) {
  uint64_t w[6] = {ZVM_CALL_WRITE, 0, (uint64_t)(int64_t)ch, (uint64_t)(uintptr_t)buf, (uint64_t)size,
                   (uint64_t)offset};
  return __zv_trap(w);
}

/* Verify [addr, addr + size) of the heap and make it executable (64 KiB granules). */
static inline int64_t zvm_jail(const void *addr, int64_t size) {
  uint64_t w[4] = {ZVM_CALL_JAIL, 0, (uint64_t)(uintptr_t)addr, (uint64_t)size};
  return __zv_trap(w);
}

/* Make a jailed region writable again and no longer executable. */
static inline int64_t zvm_unjail(void *addr, int64_t size) {
  uint64_t w[4] = {ZVM_CALL_UNJAIL, 0, (uint64_t)(uintptr_t)addr, (uint64_t)size};
  return __zv_trap(w);
}

/* End the session with this exit code. Never returns. */
static inline __attribute__((noreturn)) void zvm_exit(int64_t code) {
  uint64_t w[3] = {ZVM_CALL_EXIT, 0, (uint64_t)code};
  for (;;) __zv_trap(w);
}

/* zrt's part of Fork: the C library's buffered output is written out first, so that what
   the warm guest printed goes out once (in the daemon) and not again in every forked
   session. */
void __zrt_fork_prepare(void);

/* Daemon-mode fork (RUNTIME.md section 7, docs/zvrun.md "Daemon mode"): 0 outside daemon
   mode; with a job socket it returns 0 in each forked session, with that request's
   channels, and never in the daemon itself (which serves until it is stopped). Read stdin and open channel files after it, not before (a forked session's
   host channels are new files, the image's files the same ones; input stdio buffered
   before Fork would be read again by every forked session). */
static inline int64_t zvm_fork(void) {
  uint64_t w[2] = {ZVM_CALL_FORK, 0};
  __zrt_fork_prepare();
  return __zv_trap(w);
}

#ifdef __cplusplus
}
#endif
#endif /* ZVM_H */
