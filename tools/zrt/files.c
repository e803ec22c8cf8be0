/* files.c: zrt's file descriptors over channels (RUNTIME.md sections 4, 5 and 8).
 *
 * Files are the session's channels, named by their aliases (`/dev/stdin`, any manifest
 * alias, `/` + path for an image's data files). An fd refers to an open file description
 * (shared by dup, dup2, dup3 and F_DUPFD, as in Linux) holding the channel, the access
 * mode and status flags, and a position. fds 0, 1 and 2 start on channels 0, 1 and 2.
 *
 * - open/openat resolve the path against the working directory `/` (`data/x`, `./data/x`
 *   and `/data/x` all name the alias `/data/x`), find the channel with that alias (-ENOENT
 *   when none does) and check the access mode against the channel's limits: O_RDONLY needs
 *   a readable channel (gets and get_size > 0), O_WRONLY a writable one (puts and put_size
 *   > 0), O_RDWR both, else -EACCES. Proper prefixes of aliases (`/`, `/dev`, `/data`)
 *   are read-only directories; /dev/null, /dev/zero, /dev/full, /dev/random and
 *   /dev/urandom exist even when no channel has their alias (K_DEV).
 * - A random side of a channel (reads on types 1 and 3, writes on types 2 and 3) reads or
 *   writes at the fd's position and advances it; lseek moves it (Linux rules: any
 *   non-negative position, SEEK_END from the channel size). A fd whose directions are all
 *   sequential gives -ESPIPE on lseek, pread and pwrite, like a pipe.
 * - fstat/stat/statx: S_IFREG with st_size = the channel size for channels with a random
 *   side, S_IFCHR for sequential channels (the standard streams), S_IFDIR for directories;
 *   permission bits from the limits; every time is the manifest's fixed time; inode
 *   numbers follow the channel index. No answer depends on the host.
 * - fcntl: F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL; record locks
 *   always succeed (there is one process); the owner and signal of signal-driven I/O are
 *   none and leases are never held (no signal is delivered, no other process opens the
 *   file). ioctl: -ENOTTY (channels are never terminals). lseek also answers SEEK_DATA
 *   and SEEK_HOLE (no holes). An O_PATH descriptor is EBADF for I/O, as Linux.
 * - Directories list the next components of the aliases below them (getdents64).
 * - The working directory starts at `/`; chdir and fchdir move it to another directory;
 *   there are no symbolic links (readlink: -EINVAL on any existing path).
 * - Paths are walked component by component as the kernel does: a name followed by `/`
 *   must be a directory (-ENOTDIR through a file, -ENOENT through a missing name).
 * - The names are fixed: mkdir, unlink, rmdir, rename, link, symlink, mknod give Linux's
 *   lookup errors, EEXIST, EISDIR, ENOTDIR, ENOTEMPTY, else -EROFS. ftruncate/truncate
 *   shrink or grow (with zeros) a writable channel with a random write side.
 * - pipe and pipe2 make two descriptions of kind K_PIPE (read end O_RDONLY, write end
 *   O_WRONLY) over a buffer of pipe.c; they read and write through it, answer -ESPIPE to
 *   lseek, pread and pwrite, fstat as S_IFIFO, FIONREAD and F_GETPIPE_SZ. Closing the last
 *   fd of a description closes that end (pipe.c frees the buffer when both are closed).
 * - zrt_fd_events tells poll.c what poll would see on a fd: pipes from their buffer,
 *   everything else always ready for reading and writing, as Linux's regular files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zrt.h"

#define ZRT_MAX_OFD 256
#define ZRT_PATH_MAX 1024
/* Directory paths (open directories, the working directory) as long as any path. */
#define ZRT_DIR_PATH ZRT_PATH_MAX
#define ZRT_DEV 0x5a56
#define ZRT_UID 1000
/* ioctls setting and clearing close-on-exec (asm-generic/ioctls.h). */
#define ZRT_FIONCLEX 0x5450
#define ZRT_FIOCLEX 0x5451
/* Inode numbers of pipes: this plus the pipe's index (apart from channels and dirs). */
#define ZRT_PIPE_INO (1ull << 41)

/* K_DEV: one of the built-in devices below (its index in `ch`). */
enum { K_FREE = 0, K_CHANNEL, K_DIR, K_DEV, K_PIPE };

/* The memory devices Linux has on every system (drivers/char/mem.c, random.c), which
 * exist even when no channel has their name: /dev/null (reads 0 bytes, takes every
 * write), /dev/zero (reads zeros, takes every write, maps as anonymous memory),
 * /dev/full (reads zeros, writes -ENOSPC), /dev/random and /dev/urandom (read the
 * session's getrandom stream, so they follow the seed; take every write). Character
 * devices 1:3, 1:5, 1:7, 1:8, 1:9, as on Linux. A channel with one of these aliases
 * takes its place. */
enum { DEV_NULL, DEV_ZERO, DEV_FULL, DEV_RANDOM, DEV_URANDOM, DEV_COUNT };
static const char *const dev_names[DEV_COUNT] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                                 "/dev/urandom"};
static const unsigned char dev_minor[DEV_COUNT] = {3, 5, 7, 8, 9};

/* The built-in device this canonical path names, or -1. */
static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

static int find_device(const char *path) {
  for (int i = 0; i < DEV_COUNT; i++)
    if (same(path, dev_names[i])) return i;
  return -1;
}

struct ofd {
  int refs;
  int kind;
  int ch;         /* the channel; for K_PIPE the pipe's index in pipe.c */
  int flags;      /* access mode and status flags, as F_GETFL reports them */
  int64_t pos;    /* position of the random side(s) */
  int64_t extent; /* highest offset written through this description (random writes) */
  char *path;     /* directories: the canonical path (in ofd_paths) */
};

static struct ofd ofds[ZRT_MAX_OFD];
/* The descriptions' directory paths, apart from them so that the table stays small (its
 * slots are touched only for directories). */
static char ofd_paths[ZRT_MAX_OFD][ZRT_DIR_PATH];
static int fd_ofd[ZRT_MAX_FD]; /* ofd index + 1; 0: the fd is free */
static unsigned char fd_cloexec[ZRT_MAX_FD];
static int fds_ready;
/* The working directory: `/` until chdir moves it to another directory. */
static char cwd[ZRT_DIR_PATH] = "/";

static const struct ZVMChannel *channel(int ch) { return &MANIFEST->channels[ch]; }
static int channels_count(void) { return MANIFEST->channels_count; }
static int ch_readable(int ch) { return channel(ch)->limits[GetsLimit] > 0 && channel(ch)->limits[GetSizeLimit] > 0; }
static int ch_writable(int ch) { return channel(ch)->limits[PutsLimit] > 0 && channel(ch)->limits[PutSizeLimit] > 0; }
static int read_random(int ch) { return channel(ch)->type == RGetSPut || channel(ch)->type == RGetRPut; }
static int write_random(int ch) { return channel(ch)->type == SGetRPut || channel(ch)->type == RGetRPut; }

/* A directory's inode number: 2 for `/`, else an FNV-1a hash of its canonical path (the
 * first `len` bytes of `a`, then `/` and `b` when `b` is given), the same in stat and in
 * a parent's getdents64 entries. */
static uint64_t dir_ino(const char *a, size_t len, const char *b, size_t blen) {
  if (!b && len <= 1) return 2;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
  if (b) {
    if (len > 1) h = (h ^ (unsigned char)'/') * 1099511628211ull;
    for (size_t i = 0; i < blen; i++) h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
  }
  return h | (1ull << 40);
}

static int new_ofd(int kind, int ch, int flags) {
  for (int i = 0; i < ZRT_MAX_OFD; i++) {
    if (ofds[i].refs == 0) {
      ofds[i].refs = 1;
      ofds[i].kind = kind;
      ofds[i].ch = ch;
      ofds[i].flags = flags;
      ofds[i].pos = 0;
      ofds[i].extent = 0;
      ofds[i].path = ofd_paths[i];
      if (kind == K_DIR) ofds[i].path[0] = 0;
      return i;
    }
  }
  return -ENFILE;
}

static void init_fds(void) {
  if (fds_ready) return;
  fds_ready = 1;
  for (int i = 0; i < 3 && i < channels_count(); i++) {
    int acc;
    if (ch_readable(i) && ch_writable(i))
      acc = O_RDWR;
    else if (ch_readable(i))
      acc = O_RDONLY;
    else if (ch_writable(i))
      acc = O_WRONLY;
    else
      acc = i == 0 ? O_RDONLY : O_WRONLY;
    int o = new_ofd(K_CHANNEL, i, acc);
    fd_ofd[i] = o + 1;
  }
}

static struct ofd *get(long fd) {
  init_fds();
  if (fd < 0 || fd >= ZRT_MAX_FD || fd_ofd[fd] == 0) return 0;
  return &ofds[fd_ofd[fd] - 1];
}

/* An O_PATH descriptor names a file without opening it for I/O: reading, writing,
 * seeking and listing it are EBADF, as Linux answers. */
static int is_path_only(const struct ofd *o) { return (o->flags & O_PATH) != 0; }
/* A description reads (writes) when its access mode says so and, for a channel, the
 * channel's limits allow that direction: a standard stream whose channel allows neither
 * is opened read-only (0) or write-only (1, 2), and its I/O is -EBADF, as Linux answers
 * for a descriptor not open that way (it was -EFAULT, from the runtime's -EINVAL: audit
 * finding). */
static int can_read(const struct ofd *o) {
  return !is_path_only(o) && (o->flags & O_ACCMODE) != O_WRONLY && (o->kind != K_CHANNEL || ch_readable(o->ch));
}
static int can_write(const struct ofd *o) {
  return !is_path_only(o) && (o->flags & O_ACCMODE) != O_RDONLY && (o->kind != K_CHANNEL || ch_writable(o->ch));
}

/* Does this description move by its position (one of its directions is random)? */
static int seekable(const struct ofd *o) {
  if (o->kind != K_CHANNEL) return 1;
  return (can_read(o) && read_random(o->ch)) || (can_write(o) && write_random(o->ch));
}

/* A channel's size as the guest sees it, shared by every description of the channel:
 * the size at start-up (the user manifest) until the guest writes past it or truncates
 * it (O_TRUNC). The host file never shrinks (no call can shorten it): after O_TRUNC the
 * guest reads only what it wrote since. Channels beyond ZRT_MAX_CH keep the manifest's
 * size plus each description's own extent. */
#define ZRT_MAX_CH 1024
static int64_t ch_size_now[ZRT_MAX_CH];
static unsigned char ch_size_known[ZRT_MAX_CH];

static int64_t ch_size(int ch) {
  if (ch < 0 || ch >= ZRT_MAX_CH) return channel(ch)->size;
  if (!ch_size_known[ch]) {
    ch_size_known[ch] = 1;
    ch_size_now[ch] = channel(ch)->size;
  }
  return ch_size_now[ch];
}

static void ch_set_size(int ch, int64_t size) {
  if (ch < 0 || ch >= ZRT_MAX_CH) return;
  ch_size_known[ch] = 1;
  ch_size_now[ch] = size;
}

/* Bytes written up to `end`: the channel is at least that long. */
static void ch_grow(int ch, int64_t end) {
  if (end > ch_size(ch)) ch_set_size(ch, end);
}

/* What the guest's truncation of a channel changes beyond its size (O_TRUNC):
 * - a random-read, sequential-write channel (type 1) appends its writes at the host
 *   file's end, so after a truncation the guest's offset 0 is where the host file ended
 *   then: reads are shifted by ch_read_base;
 * - a sequential-read channel is read where the runtime's position is (ch_seq_read
 *   counts what it delivered): once the guest truncated it, reads stop at the size. */
static int64_t ch_read_base[ZRT_MAX_CH];
static int64_t ch_seq_read[ZRT_MAX_CH];
static unsigned char ch_truncated[ZRT_MAX_CH];

static int in_table(int ch) { return ch >= 0 && ch < ZRT_MAX_CH; }
static int64_t read_base(int ch) { return in_table(ch) ? ch_read_base[ch] : 0; }

/* Empties the channel as the guest sees it (O_TRUNC, or a truncate to 0 bytes). */
static void ch_truncate(int ch) {
  if (in_table(ch)) {
    if (read_random(ch) && !write_random(ch)) ch_read_base[ch] += ch_size(ch);
    ch_truncated[ch] = 1;
  }
  ch_set_size(ch, 0);
}

/* Whether zrt knows the channel's size: the user manifest gives it for a random-read
 * channel (RUNTIME.md section 4), zvrun empties a write-only one at start-up, and a
 * truncation sets it. A readable channel with a sequential read side and a random write
 * side (type 2) starts with a size zrt cannot know: O_APPEND and SEEK_END on it are
 * refused (-EINVAL) instead of writing over the file from offset 0. */
static int size_known(int ch) {
  if (read_random(ch) || !ch_readable(ch) || !write_random(ch)) return 1;
  return in_table(ch) && ch_truncated[ch];
}

static int64_t ofd_size(const struct ofd *o) {
  int64_t s = ch_size(o->ch);
  if (o->ch >= 0 && o->ch < ZRT_MAX_CH) return s;
  return o->extent > s ? o->extent : s;
}

/* The runtime's -EINVAL for a valid channel and offset means a bad buffer: -EFAULT. */
static long truncate_channel(int ch, long len);

static long io_result(int64_t r) { return r == -EINVAL ? -EFAULT : (long)r; }

/* A random write's -EINVAL: its buffer was checked before the call (the dispatcher's
 * args_ok), so the runtime refused the offset: past the channel's size plus what its
 * put_size quota still allows (docs/zvrun.md). The file cannot grow that far: -EFBIG, as
 * Linux answers a write past the largest file size allowed (it was -EFAULT, "Bad
 * address", for a good buffer: audit finding). */
static long random_write_result(int64_t r) { return r == -EINVAL ? -EFBIG : (long)r; }

static int lowest_free_fd(int from) {
  for (int i = from; i < ZRT_MAX_FD; i++)
    if (fd_ofd[i] == 0) return i;
  return -EMFILE;
}

/* ---- paths ------------------------------------------------------------------------- */

static int find_channel(const char *path);
static int is_dir(const char *path, size_t len);

/* Linux looks a path up one component at a time: a name followed by `/` (more
 * components, `.`, `..` or a trailing slash) must be a directory. -ENOTDIR when the
 * canonical prefix out[0..len) is a file (a channel or /dev/null), -ENOENT when it names
 * nothing. */
static long need_dir(char *out, size_t len) {
  if (len == 0) return 0; /* `/` */
  out[len] = 0;
  if (is_dir(out, len)) return 0;
  if (find_channel(out) >= 0 || find_device(out) >= 0) return -ENOTDIR;
  return -ENOENT;
}

/* Canonical absolute form of path relative to base (itself canonical): no `.`, `..`,
 * repeated or trailing slashes. With check, each component followed by a slash must be
 * a directory (need_dir) and names longer than NAME_MAX are -ENAMETOOLONG, as in a
 * kernel path walk; without, `..` is purely textual (for aliases). Returns the length,
 * or -ENAMETOOLONG/-ENOTDIR/-ENOENT. */
static long canon(const char *base, const char *path, char *out, size_t cap, int check) {
  size_t len = 0;
  if (path[0] != '/') {
    size_t bl = zrt_strlen(base);
    if (bl + 1 > cap) return -ENAMETOOLONG;
    if (bl > 1) {
      zrt_copy(out, base, bl);
      len = bl;
    }
  }
  const char *p = path;
  int pending = 0; /* out ends with a name not yet known to be a directory */
  while (*p) {
    int slash = *p == '/';
    while (*p == '/') p++;
    if (pending && slash && check) {
      long r = need_dir(out, len);
      if (r < 0) return r;
      pending = 0;
    }
    if (!*p) break;
    const char *s = p;
    while (*p && *p != '/') p++;
    size_t n = (size_t)(p - s);
    if (n == 1 && s[0] == '.') continue;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--;
      continue;
    }
    if (check && n > 255) return -ENAMETOOLONG;
    if (len + 1 + n + 1 > cap) return -ENAMETOOLONG;
    out[len++] = '/';
    zrt_copy(out + len, s, n);
    len += n;
    pending = 1;
  }
  if (len == 0) out[len++] = '/';
  out[len] = 0;
  return (long)len;
}

/* The channel whose alias names this canonical path, or -1. */
static int find_channel(const char *path) {
  char alias[ZRT_PATH_MAX];
  for (int i = 0; i < channels_count(); i++) {
    const char *name = channel(i)->name;
    if (!name) continue;
    if (same(name, path)) return i;
    if (canon("/", name, alias, sizeof alias, 0) > 0 && same(alias, path)) return i;
  }
  return -1;
}

/* Is this canonical path `/`, `/dev` (which holds /dev/null) or a proper prefix
 * directory of some alias? */
static int is_dir(const char *path, size_t len) {
  if (len == 1) return 1;
  if (len == 4 && path[1] == 'd' && path[2] == 'e' && path[3] == 'v') return 1;
  char alias[ZRT_PATH_MAX];
  for (int i = 0; i < channels_count(); i++) {
    const char *name = channel(i)->name;
    if (!name || canon("/", name, alias, sizeof alias, 0) < 0) continue;
    size_t k = 0;
    while (k < len && alias[k] == path[k]) k++;
    if (k == len && alias[k] == '/') return 1;
  }
  return 0;
}

/* What a path or fd names, for open and the stat family. */
struct target {
  int kind;
  int ch;
  char path[ZRT_PATH_MAX];
  long len;
};

/* Looks path up relative to dirfd into t: 0 (t->kind K_FREE when the last component
 * names nothing in an existing directory), or -ENOENT/-ENOTDIR/-ENAMETOOLONG for the
 * directories on the way, -EBADF/-EFAULT. */
static long lookup(long dirfd, const char *path, struct target *t) {
  if (!path) return -EFAULT;
  /* Linux's limits, checked as it copies the path in and walks it: 4096 bytes with the
   * NUL (PATH_MAX), 255 a name (NAME_MAX); -ENAMETOOLONG past them (fuzzing finding: a
   * 5000-byte path was ENOENT). */
  size_t len = 0, name = 0;
  for (; path[len]; len++) {
    if (len + 1 >= 4096) return -ENAMETOOLONG;
    name = path[len] == '/' ? 0 : name + 1;
    if (name > 255) return -ENAMETOOLONG;
  }
  if (!len) return -ENOENT;
  const char *base = cwd;
  if (path[0] != '/' && dirfd != AT_FDCWD) {
    struct ofd *d = get(dirfd);
    if (!d) return -EBADF;
    if (d->kind != K_DIR) return -ENOTDIR;
    base = d->path;
  }
  t->len = canon(base, path, t->path, sizeof t->path, 1);
  if (t->len < 0) return t->len;
  t->ch = find_channel(t->path);
  if (t->ch >= 0)
    t->kind = K_CHANNEL;
  else if ((t->ch = find_device(t->path)) >= 0)
    t->kind = K_DEV;
  else if (is_dir(t->path, (size_t)t->len))
    t->kind = K_DIR;
  else
    t->kind = K_FREE;
  return 0;
}

/* Resolves path relative to dirfd into t: 0, or -ENOENT/-ENOTDIR/-EBADF/-EFAULT. */
static long resolve(long dirfd, const char *path, struct target *t) {
  long r = lookup(dirfd, path, t);
  if (r < 0) return r;
  return t->kind == K_FREE ? -ENOENT : 0;
}

/* ---- open, close, dup ---------------------------------------------------------------- */

long zrt_openat(long dirfd, const char *path, long flags, long mode) {
  (void)mode;
  struct target t;
  long r = lookup(dirfd, path, &t);
  if (r == -ENOENT && (flags & O_CREAT) && !(flags & O_PATH)) {
    /* Creating `name/` would create a directory, which open cannot: Linux answers EISDIR
     * when only the last name is missing. */
    size_t n = zrt_strlen(path);
    char name[4096];
    if (n > 1 && n < sizeof name && path[n - 1] == '/') {
      while (n > 1 && path[n - 1] == '/') n--;
      zrt_copy(name, path, n);
      name[n] = 0;
      struct target missing;
      if (lookup(dirfd, name, &missing) == 0 && missing.kind == K_FREE) return -EISDIR;
    }
  }
  if (r < 0) return r;
  /* A missing name: creating it is what a read-only file system refuses (EROFS, as
   * mkdir and the other file-name calls answer); opening it is ENOENT. */
  /* O_PATH: only O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW count (Linux ignores the rest,
   * O_CREAT included). */
  if (flags & O_PATH) flags &= O_PATH | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW;
  if (t.kind == K_FREE) return (flags & O_CREAT) ? -EROFS : -ENOENT;
  /* The kernel's access mode is the low two bits (musl's O_ACCMODE also holds
   * O_SEARCH, which is O_PATH: an audit found every O_PATH open of a directory EISDIR). */
  int acc = (int)(flags & 3);
  if (acc == 3) return -EINVAL;
  if ((flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;
  /* O_TMPFILE (an unnamed file in a directory): it needs write access (-EINVAL without),
   * a directory (-ENOTDIR), and a file system that can create files (-EROFS). */
  if ((flags & O_TMPFILE) == O_TMPFILE && !(flags & O_PATH)) {
    if (acc == O_RDONLY) return -EINVAL;
    return t.kind == K_DIR ? -EROFS : -ENOTDIR;
  }
  if (t.kind == K_DIR) {
    /* O_TRUNC asks for write access too (Linux: EISDIR). */
    if (!(flags & O_PATH) && (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))) return -EISDIR;
    if (t.len >= ZRT_DIR_PATH) return -ENAMETOOLONG;
  } else if (flags & O_DIRECTORY) {
    return -ENOTDIR;
  }
  if (t.kind == K_CHANNEL && !(flags & O_PATH)) {
    if (acc != O_WRONLY && !ch_readable(t.ch)) return -EACCES;
    /* O_TRUNC needs write permission whatever the access mode (Linux: EACCES). */
    if ((acc != O_RDONLY || (flags & O_TRUNC)) && !ch_writable(t.ch)) return -EACCES;
  }
  /* O_TRUNC empties the channel as the guest sees it (see ch_size); a sequential-only
   * channel has no size to reset. */
  int truncate = t.kind == K_CHANNEL && (flags & O_TRUNC) && acc != O_RDONLY &&
                 (read_random(t.ch) || write_random(t.ch));
  if (t.kind == K_CHANNEL && (flags & O_APPEND) && acc != O_RDONLY && !truncate && !size_known(t.ch)) return -EINVAL;
  init_fds();
  int fd = lowest_free_fd(0);
  if (fd < 0) return fd;
  int status = (int)(flags & (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME | O_DSYNC | O_SYNC));
  /* The kernel sets O_LARGEFILE on every file a 64-bit process opens. */
  /* ... and O_DIRECTORY as asked for on a directory (F_GETFL shows it, as Linux). */
  int fl = (flags & O_PATH) ? O_PATH : acc | status | O_LARGEFILE;
  int o = new_ofd(t.kind, t.ch, fl | (t.kind == K_DIR ? (int)(flags & O_DIRECTORY) : 0));
  if (o < 0) return o;
  if (truncate) ch_truncate(t.ch);
  if (t.kind == K_DIR) zrt_copy(ofds[o].path, t.path, (size_t)t.len + 1);
  fd_ofd[fd] = o + 1;
  fd_cloexec[fd] = (flags & O_CLOEXEC) != 0;
  return fd;
}

long zrt_close(long fd) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  o->refs--;
  if (o->refs == 0 && o->kind == K_PIPE) zrt_pipe_release(o->ch, can_write(o));
  fd_ofd[fd] = 0;
  fd_cloexec[fd] = 0;
  return 0;
}

/* dup3 (and dup2 when dup2_semantics: the same fd twice is fine and flags are 0).
 * newfd < 0 means dup: the lowest free fd. */
long zrt_dup3(long oldfd, long newfd, long flags, int dup2_semantics) {
  struct ofd *o = get(oldfd);
  if (!o) return -EBADF;
  if (flags & ~(long)O_CLOEXEC) return -EINVAL;
  if (newfd < 0) {
    int fd = lowest_free_fd(0);
    if (fd < 0) return fd;
    newfd = fd;
  } else {
    if (newfd >= ZRT_MAX_FD) return -EBADF;
    if (newfd == oldfd) return dup2_semantics ? newfd : -EINVAL;
    if (fd_ofd[newfd]) zrt_close(newfd);
  }
  o->refs++;
  fd_ofd[newfd] = fd_ofd[oldfd];
  fd_cloexec[newfd] = (flags & O_CLOEXEC) != 0;
  return newfd;
}

/* ---- pipes and poll ------------------------------------------------------------------ */

/* pipe2: the lowest two free fds, fds[0] the read end and fds[1] the write end, each its
 * own description; O_CLOEXEC and O_NONBLOCK are accepted (O_NONBLOCK is reported by
 * F_GETFL; no call ever waits, pipe.c), other flags -EINVAL. */
long zrt_pipe2(int *fds, long flags) {
  if (flags & ~(long)(O_CLOEXEC | O_NONBLOCK)) return -EINVAL;
  if (!fds) return -EFAULT;
  init_fds();
  int rfd = lowest_free_fd(0);
  if (rfd < 0) return rfd;
  int wfd = lowest_free_fd(rfd + 1);
  if (wfd < 0) return wfd;
  int status = (int)(flags & O_NONBLOCK);
  int r = new_ofd(K_PIPE, 0, O_RDONLY | status);
  if (r < 0) return r;
  int w = new_ofd(K_PIPE, 0, O_WRONLY | status);
  if (w < 0) {
    ofds[r].refs = 0;
    return w;
  }
  int p = zrt_pipe_new();
  if (p < 0) {
    ofds[r].refs = ofds[w].refs = 0;
    return p;
  }
  ofds[r].ch = ofds[w].ch = p;
  fd_ofd[rfd] = r + 1;
  fd_ofd[wfd] = w + 1;
  fd_cloexec[rfd] = fd_cloexec[wfd] = (flags & O_CLOEXEC) != 0;
  fds[0] = rfd;
  fds[1] = wfd;
  return 0;
}

int zrt_fd_events(long fd) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (o->kind == K_PIPE) return zrt_pipe_events(o->ch, can_write(o));
  /* Channels, directories and /dev/null never make anyone wait (Linux's DEFAULT_POLLMASK). */
  return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
}

/* ---- read and write ------------------------------------------------------------------ */

/* How many of `n` bytes a random read at `off` may return: none at or past the channel's
   size, else at most up to it. */
static size_t clamp_to_size(const struct ofd *o, int64_t off, size_t n) {
  int64_t end = ofd_size(o);
  if (off >= end) return 0;
  return (int64_t)n > end - off ? (size_t)(end - off) : n;
}

/* A read of a built-in device: nothing from /dev/null, zeros from /dev/zero and
 * /dev/full, the getrandom stream from /dev/random and /dev/urandom. */
static long dev_read(int dev, void *buf, size_t n) {
  if (dev == DEV_NULL || n == 0) return 0;
  if (n > (size_t)ZRT_MAX_RW) n = ZRT_MAX_RW;
  if (dev == DEV_RANDOM || dev == DEV_URANDOM) return zrt_getrandom(buf, n, 0);
  zrt_zero(buf, n);
  return (long)n;
}

/* A write to a built-in device: /dev/full has no space (even for 0 bytes, as Linux's
 * write_full), the others take everything. */
static long dev_write(int dev, size_t n) {
  if (dev == DEV_FULL) return -ENOSPC;
  return (long)(n > (size_t)ZRT_MAX_RW ? (size_t)ZRT_MAX_RW : n);
}

/* A transfer on a pipe end (pipe.c), after the checks read/write/readv/writev make. */
static long pipe_io(const struct ofd *o, const struct iovec *iov, long n, int write) {
  if (n < 0 || n > 1024) return -EINVAL;
  if (write ? !can_write(o) : !can_read(o)) return -EBADF;
  return write ? zrt_pipe_write(o->ch, iov, n) : zrt_pipe_read(o->ch, iov, n);
}

long zrt_read(long fd, void *buf, size_t n) {
  struct ofd *o = get(fd);
  if (o && o->kind == K_PIPE) {
    struct iovec v = {buf, n};
    return pipe_io(o, &v, 1, 0);
  }
  if (!o || !can_read(o)) return -EBADF;
  if (o->kind == K_DIR) return -EISDIR;
  if (o->kind == K_DEV) return dev_read(o->ch, buf, n);
  if (n == 0) return 0;
  if (n > (size_t)ZRT_MAX_RW) n = ZRT_MAX_RW;
  if (!read_random(o->ch)) {
    int ch = o->ch;
    if (in_table(ch) && ch_truncated[ch]) {
      int64_t left = ch_size(ch) - ch_seq_read[ch];
      if (left <= 0) return 0;
      if ((int64_t)n > left) n = (size_t)left;
    }
    int64_t r = zvm_pread(ch, buf, (int64_t)n, 0);
    if (r > 0 && in_table(ch)) ch_seq_read[ch] += r;
    return io_result(r);
  }
  n = clamp_to_size(o, o->pos, n);
  if (n == 0) return 0;
  int64_t r = zvm_pread(o->ch, buf, (int64_t)n, read_base(o->ch) + o->pos);
  if (r > 0) o->pos += r;
  return io_result(r);
}

long zrt_write(long fd, const void *buf, size_t n) {
  struct ofd *o = get(fd);
  if (o && o->kind == K_PIPE) {
    struct iovec v = {(void *)buf, n};
    return pipe_io(o, &v, 1, 1);
  }
  if (!o || !can_write(o)) return -EBADF;
  if (o->kind == K_DEV) return dev_write(o->ch, n);
  if (o->kind != K_CHANNEL) return -EBADF;
  if (n == 0) return 0;
  if (n > (size_t)ZRT_MAX_RW) n = ZRT_MAX_RW;
  if (!write_random(o->ch)) {
    /* Sequential writes append (zvrun opens a read-write file at its end). */
    int64_t r = zvm_pwrite(o->ch, buf, (int64_t)n, 0);
    if (r > 0) ch_grow(o->ch, ch_size(o->ch) + r);
    return io_result(r);
  }
  if (o->flags & O_APPEND) o->pos = ofd_size(o);
  if (o->pos > INT64_MAX - (int64_t)n) return -EINVAL; /* past the largest offset, as Linux */
  int64_t r = zvm_pwrite(o->ch, buf, (int64_t)n, o->pos);
  if (r > 0) {
    o->pos += r;
    if (o->pos > o->extent) o->extent = o->pos;
    ch_grow(o->ch, o->pos);
  }
  return random_write_result(r);
}

/* readv/writev: one call per non-empty buffer until a short transfer or an error. */
static long vector_io(long fd, const void *iovp, long n, long (*op)(long, void *, size_t)) {
  const struct iovec *iov = iovp;
  if (n < 0 || n > 1024) return -EINVAL;
  if (!get(fd)) return -EBADF;
  long total = 0;
  for (long i = 0; i < n; i++) {
    if (iov[i].iov_len == 0) continue;
    long r = op(fd, iov[i].iov_base, iov[i].iov_len);
    if (r < 0) return total ? total : r;
    total += r;
    if ((size_t)r < iov[i].iov_len) break;
  }
  return total;
}

static long write_op(long fd, void *buf, size_t n) { return zrt_write(fd, buf, n); }

/* A pipe takes the whole vector at once: its atomic writes count the total length. */
long zrt_readv(long fd, const void *iovp, long n) {
  struct ofd *o = get(fd);
  if (o && o->kind == K_PIPE) return pipe_io(o, iovp, n, 0);
  return vector_io(fd, iovp, n, zrt_read);
}

long zrt_writev(long fd, const void *iovp, long n) {
  struct ofd *o = get(fd);
  if (o && o->kind == K_PIPE) return pipe_io(o, iovp, n, 1);
  return vector_io(fd, iovp, n, write_op);
}

long zrt_pread(long fd, void *buf, size_t n, long off) {
  struct ofd *o = get(fd);
  if (o && o->kind == K_PIPE) return -ESPIPE;
  if (!o || !can_read(o)) return -EBADF;
  if (off < 0) return -EINVAL;
  if (o->kind == K_DIR) return -EISDIR;
  if (o->kind == K_DEV) return dev_read(o->ch, buf, n);
  if (n == 0) return 0;
  if (!read_random(o->ch)) return -ESPIPE;
  if (n > (size_t)ZRT_MAX_RW) n = ZRT_MAX_RW;
  n = clamp_to_size(o, off, n);
  if (n == 0) return 0;
  return io_result(zvm_pread(o->ch, buf, (int64_t)n, read_base(o->ch) + off));
}

long zrt_pwrite(long fd, const void *buf, size_t n, long off) {
  struct ofd *o = get(fd);
  if (o && o->kind == K_PIPE) return -ESPIPE;
  if (!o || !can_write(o)) return -EBADF;
  if (off < 0) return -EINVAL;
  if (o->kind == K_DEV) return dev_write(o->ch, n);
  if (o->kind != K_CHANNEL) return -EBADF;
  if (!write_random(o->ch)) return -ESPIPE;
  if (n == 0) return 0;
  if (n > (size_t)ZRT_MAX_RW) n = ZRT_MAX_RW;
  if (off > INT64_MAX - (int64_t)n) return -EINVAL; /* past the largest offset, as Linux */
  int64_t r = zvm_pwrite(o->ch, buf, (int64_t)n, off);
  if (r > 0 && off + r > o->extent) o->extent = off + r;
  if (r > 0) ch_grow(o->ch, off + r);
  return random_write_result(r);
}

/* preadv/pwritev (and preadv2/pwritev2 with an offset): one positioned call per
 * non-empty buffer, at the offset plus what came before, until a short transfer or an
 * error, as readv/writev go. preadv2/pwritev2 with offset -1 (`v2`) are readv/writev at
 * the file position. Linux's order of checks: a negative offset -EINVAL, the fd -EBADF,
 * a pipe -ESPIPE, the count -EINVAL, then the flags: 0, the hints RWF_HIPRI, RWF_DSYNC
 * and RWF_SYNC (nothing to wait for: writes reach the host at once) and, for a write,
 * RWF_APPEND (at the end of the file, as O_APPEND); RWF_NOWAIT and unknown bits
 * -EOPNOTSUPP. */
long zrt_pvector(long fd, const void *iovp, long n, long off, long flags, int write, int v2) {
  const struct iovec *iov = iovp;
  if (off < 0 && !(v2 && off == -1)) return -EINVAL;
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  long append = write ? 0x10 : 0;
  if (off == -1) {
    if (flags & ~(7L | append)) return -EOPNOTSUPP;
    if (!(flags & append)) return write ? zrt_writev(fd, iovp, n) : zrt_readv(fd, iovp, n);
  }
  if (o->kind == K_PIPE) return -ESPIPE;
  if (n < 0 || n > 1024) return -EINVAL;
  if (flags & ~(7L | append)) return -EOPNOTSUPP;
  if (flags & append) off = ofd_size(o);
  long total = 0;
  for (long i = 0; i < n; i++) {
    if (iov[i].iov_len == 0) continue;
    long r = write ? zrt_pwrite(fd, iov[i].iov_base, iov[i].iov_len, off + total)
                   : zrt_pread(fd, iov[i].iov_base, iov[i].iov_len, off + total);
    if (r < 0) return total ? total : r;
    total += r;
    if ((size_t)r < iov[i].iov_len) break;
  }
  return total;
}

/* sendfile and copy_file_range (`cfr`): copied through a buffer, by zrt's own read and
 * write (or pread/pwrite where an offset pointer is given, which is then advanced and
 * the file position left alone, as Linux does), until `count` bytes, the end of the
 * input or a short write. Linux's refusals: a pipe as the input (and for
 * copy_file_range as the output too) -EINVAL; an O_APPEND output -EINVAL for sendfile,
 * -EBADF for copy_file_range; for copy_file_range overlapping ranges of one file
 * -EINVAL (copy_file_range's flags are checked by the caller). */
long zrt_copy_range(long in, long *in_off, long out, long *out_off, size_t count, int cfr) {
  static char buf[65536];
  struct ofd *i = get(in), *o = get(out);
  if (!i || !o) return -EBADF;
  if (!can_read(i) || !can_write(o)) return -EBADF;
  if (i->kind == K_PIPE || (cfr && o->kind == K_PIPE)) return -EINVAL;
  if (o->flags & O_APPEND) return cfr ? -EBADF : -EINVAL;
  if ((in_off && *in_off < 0) || (out_off && *out_off < 0)) return -EINVAL;
  if (cfr && i->kind == K_CHANNEL && o->kind == K_CHANNEL && i->ch == o->ch && count > 0) {
    int64_t a = in_off ? *in_off : i->pos, b = out_off ? *out_off : o->pos;
    if (a < b + (int64_t)count && b < a + (int64_t)count) return -EINVAL;
  }
  long total = 0;
  while ((size_t)total < count) {
    size_t want = count - (size_t)total < sizeof buf ? count - (size_t)total : sizeof buf;
    long r = in_off ? zrt_pread(in, buf, want, *in_off) : zrt_read(in, buf, want);
    if (r <= 0) return total ? total : r;
    long w = out_off ? zrt_pwrite(out, buf, (size_t)r, *out_off) : zrt_write(out, buf, (size_t)r);
    if (w < 0) {
      /* The bytes read and not written are given back where the input has a position. */
      if (!in_off) zrt_lseek(in, -r, 1);
      return total ? total : w;
    }
    if (in_off) *in_off += w;
    if (out_off) *out_off += w;
    total += w;
    if (w < r) {
      if (!in_off) zrt_lseek(in, w - r, 1);
      break;
    }
  }
  return total;
}

/* close_range: every open fd in [first, last] closed, or with CLOSE_RANGE_CLOEXEC (4)
 * marked close-on-exec; CLOSE_RANGE_UNSHARE (2) changes nothing (one process). Linux's
 * checks: first > last or unknown flags -EINVAL. */
long zrt_close_range(unsigned long first, unsigned long last, long flags) {
  if (first > last || (flags & ~6L)) return -EINVAL;
  for (unsigned long fd = first; fd <= last && fd < ZRT_MAX_FD; fd++) {
    if (!get((long)fd)) continue;
    if (flags & 4)
      fd_cloexec[fd] = 1;
    else
      zrt_close((long)fd);
  }
  return 0;
}

/* readahead and sync_file_range: advice, accepted after Linux's checks (a bad fd -EBADF;
 * for readahead a fd not open for reading -EBADF and a pipe or device -EINVAL; for
 * sync_file_range a negative or overflowing offset and length or unknown flags -EINVAL
 * and a pipe or device -ESPIPE). */
long zrt_readahead(long fd) {
  struct ofd *o = get(fd);
  if (!o || !can_read(o)) return -EBADF;
  return o->kind == K_CHANNEL ? 0 : -EINVAL;
}

long zrt_sync_file_range(long fd, long off, long len, long flags) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (off < 0 || len < 0 || off > INT64_MAX - len || (flags & ~7L)) return -EINVAL;
  return (o->kind == K_PIPE || o->kind == K_DEV) ? -ESPIPE : 0;
}

/* statfs/fstatfs (statvfs): one fixed description of the guest's file system, the same
 * on every host: 4 KiB blocks, no block or inode counts (none is the host's to show),
 * names up to 255 bytes, flags ST_VALID only. A path must name a file (-ENOENT else), a
 * fd be open. */
long zrt_statfs(long fd, const char *path, void *buf) {
  if (path) {
    char st[144];
    long r = zrt_fstatat(AT_FDCWD, path, st, 0);
    if (r < 0) return r;
  } else if (!get(fd)) {
    return -EBADF;
  }
  long *f = buf;
  zrt_zero(buf, 120);
  f[0] = 0x5a56; /* f_type: "ZV", no kernel file system's magic */
  f[1] = 4096;   /* f_bsize */
  f[8] = 255;    /* f_namelen */
  f[9] = 4096;   /* f_frsize */
  f[10] = 0x20;  /* f_flags: ST_VALID */
  return 0;
}

int zrt_fd_writable(long fd) {
  struct ofd *o = get(fd);
  return o && can_write(o);
}

int zrt_fd_is_dev_zero(long fd) {
  struct ofd *o = get(fd);
  return o && o->kind == K_DEV && o->ch == DEV_ZERO && can_read(o);
}

long zrt_fd_pread_all(long fd, void *buf, size_t n, long off) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (!can_read(o)) return -EACCES;
  if (o->kind == K_DEV && o->ch == DEV_ZERO) return 0; /* the pages are zero already */
  if (o->kind != K_CHANNEL || !read_random(o->ch)) return -ENODEV;
  n = clamp_to_size(o, off, n);
  if (n == 0) return 0;
  size_t done = 0;
  while (done < n) {
    size_t want = n - done > (size_t)ZRT_MAX_RW ? (size_t)ZRT_MAX_RW : n - done;
    int64_t r = zvm_pread(o->ch, (char *)buf + done, (int64_t)want, read_base(o->ch) + off + (int64_t)done);
    if (r < 0) return io_result(r);
    if (r == 0) break; /* past the end: the rest of the mapping stays zero */
    done += (size_t)r;
  }
  return (long)done;
}

long zrt_lseek(long fd, long off, long whence) {
  struct ofd *o = get(fd);
  if (!o || is_path_only(o)) return -EBADF;
  /* Linux refuses a whence past SEEK_HOLE for every file (a device too). */
  if ((unsigned long)(unsigned int)whence > SEEK_HOLE) return -EINVAL;
  if (o->kind == K_DIR) {
    /* A directory's position is getdents64's cursor (rewinddir, seekdir, telldir). */
    if (whence == SEEK_SET && off >= 0) o->pos = off;
    else if (!(whence == SEEK_CUR && off == 0)) return -EINVAL;
    return (long)o->pos;
  }
  if (o->kind == K_PIPE) return -ESPIPE;
  if (o->kind != K_CHANNEL) return 0;
  if (!seekable(o)) return -ESPIPE;
  int64_t base;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = o->pos; break;
    case SEEK_END:
      if (!size_known(o->ch)) return -EINVAL;
      base = ofd_size(o);
      break;
    case SEEK_DATA:
    case SEEK_HOLE: {
      /* No holes: data runs from 0 to the size, and the one hole is at the end; an
       * offset at or past the end is ENXIO (as Linux's generic_file_llseek). */
      if (!size_known(o->ch)) return -EINVAL;
      int64_t size = ofd_size(o);
      if (off < 0 || off >= size) return -ENXIO;
      o->pos = whence == SEEK_DATA ? off : size;
      return (long)o->pos;
    }
    default: return -EINVAL;
  }
  /* An offset past the largest or below zero is EINVAL (Linux: EOVERFLOW only for an
   * offset a 32-bit off_t cannot hold). */
  if ((off > 0 && base > INT64_MAX - off)) return -EINVAL;
  int64_t p = base + off;
  if (p < 0) return -EINVAL;
  o->pos = p;
  return (long)p;
}

/* fsync/fdatasync: nothing to flush (writes reach the host at once); a pipe cannot be
 * synced (-EINVAL, as Linux). */
long zrt_fsync(long fd) {
  struct ofd *o = get(fd);
  if (!o || is_path_only(o)) return -EBADF;
  return o->kind == K_PIPE ? -EINVAL : 0;
}

/* flock: one process, so no lock is ever held by anyone else; the operation is checked
 * (LOCK_SH, LOCK_EX or LOCK_UN, optionally with LOCK_NB: else -EINVAL, as Linux). */
long zrt_flock(long fd, long op) {
  if (!get(fd)) return -EBADF;
  long cmd = op & ~(long)LOCK_NB;
  return (cmd == LOCK_SH || cmd == LOCK_EX || cmd == LOCK_UN) ? 0 : -EINVAL;
}

/* syncfs: as fsync, nothing is left to flush. */
long zrt_syncfs(long fd) { return get(fd) ? 0 : -EBADF; }

/* fadvise64: advice only, accepted after Linux's checks (a pipe -ESPIPE, an unknown
 * advice or a negative length -EINVAL). */
long zrt_fadvise(long fd, long off, long len, long advice) {
  (void)off;
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (o->kind == K_PIPE) return -ESPIPE;
  if (len < 0 || advice < 0 || advice > 5) return -EINVAL;
  return 0;
}

/* fallocate: mode 0 (posix_fallocate) makes a channel with a random write side at least
 * off + len bytes long (zeros, as ftruncate growing it); FALLOC_FL_KEEP_SIZE changes
 * nothing (space is not reserved on the host); other modes -EOPNOTSUPP. Linux's checks
 * first: a bad fd -EBADF, a negative offset or a length <= 0 -EINVAL, a fd not open for
 * writing -EBADF, a pipe -ESPIPE, a directory -EISDIR, a device (a sequential channel
 * included) -ENODEV; a channel without a random write side (appended to) -EOPNOTSUPP. */
long zrt_fallocate(long fd, long mode, long off, long len) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (off < 0 || len <= 0) return -EINVAL;
  if (!can_write(o)) return -EBADF;
  if (o->kind == K_PIPE) return -ESPIPE;
  if (o->kind == K_DIR) return -EISDIR;
  if (o->kind != K_CHANNEL || channel(o->ch)->type == SGetSPut) return -ENODEV;
  if (off > INT64_MAX - len) return -EFBIG;
  if (mode == 1 /* FALLOC_FL_KEEP_SIZE */) return 0;
  if (mode != 0) return -EOPNOTSUPP;
  if (!write_random(o->ch)) return -EOPNOTSUPP;
  if (off + len <= ofd_size(o)) return 0;
  return truncate_channel(o->ch, off + len);
}

/* ---- directories ------------------------------------------------------------------------ */

/* The entry that channel ch's alias gives directory dir (canonical, length dlen): the
 * next component of the alias below dir in name (length returned; 0 when the alias is
 * not below dir), and whether more components follow (a subdirectory). */
static size_t entry_of(int ch, const char *dir, size_t dlen, char *alias, char **name, int *subdir) {
  const char *n = channel(ch)->name;
  if (!n || canon("/", n, alias, ZRT_PATH_MAX, 0) < 0) return 0;
  size_t k = dlen == 1 ? 0 : dlen; /* `/` is the prefix of everything */
  for (size_t i = 0; i < k; i++)
    if (alias[i] != dir[i]) return 0;
  if (alias[k] != '/' || !alias[k + 1]) return 0;
  char *start = alias + k + 1;
  size_t len = 0;
  while (start[len] && start[len] != '/') len++;
  *name = start;
  *subdir = start[len] == '/';
  return len;
}

/* getdents64: `.`, `..`, then one entry per distinct name below the directory, in channel
 * order, and in `/dev` the built-in devices no channel replaces. The position counts: 0
 * `.`, 1 `..`, 2 + i channel i, 2 + channels + j device j. */
long zrt_getdents64(long fd, void *buf, size_t size) {
  struct ofd *o = get(fd);
  if (!o || is_path_only(o)) return -EBADF;
  if (o->kind != K_DIR) return -ENOTDIR;
  char alias[ZRT_PATH_MAX], other[ZRT_PATH_MAX];
  size_t dlen = zrt_strlen(o->path);
  size_t used = 0;
  int count = channels_count();
  int devs = same(o->path, "/dev") ? DEV_COUNT : 0;
  while (o->pos < 2 + (int64_t)count + devs) {
    const char *name;
    size_t len;
    unsigned char type;
    uint64_t ino;
    if (o->pos < 2) {
      name = o->pos == 0 ? "." : "..";
      len = (size_t)o->pos + 1;
      type = 4; /* DT_DIR */
      /* `.` is this directory, `..` its parent (`/` is its own). */
      size_t plen = dlen;
      if (o->pos == 1) {
        while (plen > 1 && o->path[plen - 1] != '/') plen--;
        if (plen > 1) plen--;
      }
      ino = dir_ino(o->path, plen, 0, 0);
    } else if (o->pos >= 2 + (int64_t)count) {
      int dev = (int)(o->pos - 2 - count);
      if (find_channel(dev_names[dev]) >= 0) {
        o->pos++;
        continue;
      }
      name = dev_names[dev] + 5; /* after "/dev/" */
      len = zrt_strlen(name);
      type = 2; /* DT_CHR */
      ino = 3 + (uint64_t)dev;
    } else {
      int ch = (int)(o->pos - 2);
      char *n;
      int subdir;
      len = entry_of(ch, o->path, dlen, alias, &n, &subdir);
      /* Skip names an earlier channel already gave. */
      for (int j = 0; len && j < ch; j++) {
        char *m;
        int sd;
        size_t l2 = entry_of(j, o->path, dlen, other, &m, &sd);
        size_t q = 0;
        while (q < len && l2 == len && m[q] == n[q]) q++;
        if (l2 == len && q == len) len = 0;
      }
      if (!len) {
        o->pos++;
        continue;
      }
      name = n;
      type = subdir ? 4 : (channel(ch)->type == SGetSPut ? 2 : 8); /* DT_DIR, DT_CHR, DT_REG */
      ino = subdir ? dir_ino(o->path, dlen, n, len) : 16 + (uint64_t)ch;
    }
    /* struct linux_dirent64: ino, off, reclen, type, name, NUL, padded to 8 bytes */
    size_t reclen = (19 + len + 1 + 7) & ~(size_t)7;
    if (used + reclen > size) {
      if (used == 0) return -EINVAL;
      break;
    }
    unsigned char *r = (unsigned char *)buf + used;
    zrt_zero(r, reclen);
    int64_t next = o->pos + 1;
    zrt_copy(r, &ino, 8);
    zrt_copy(r + 8, &next, 8);
    uint16_t rl = (uint16_t)reclen;
    zrt_copy(r + 16, &rl, 2);
    r[18] = type;
    zrt_copy(r + 19, name, len);
    used += reclen;
    o->pos = next;
  }
  return (long)used;
}

/* ---- stat ------------------------------------------------------------------------------ */

/* The x86-64 kernel's struct stat (what SYS_fstat/SYS_stat/SYS_newfstatat fill). */
struct kernel_stat {
  uint64_t st_dev, st_ino, st_nlink;
  uint32_t st_mode, st_uid, st_gid;
  int32_t pad0;
  uint64_t st_rdev;
  int64_t st_size, st_blksize, st_blocks;
  int64_t st_atime_sec, st_atime_nsec, st_mtime_sec, st_mtime_nsec, st_ctime_sec, st_ctime_nsec;
  int64_t unused[3];
};

/* The kernel's struct statx (uapi linux/stat.h; musl 1.2.3 does not define it). */
struct statx_ts {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t reserved;
};
struct kernel_statx {
  uint32_t stx_mask, stx_blksize;
  uint64_t stx_attributes;
  uint32_t stx_nlink, stx_uid, stx_gid;
  uint16_t stx_mode, spare0;
  uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
  struct statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
  uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
  uint64_t spare2[14];
};
_Static_assert(sizeof(struct kernel_stat) == 144, "struct stat layout");
_Static_assert(sizeof(struct kernel_statx) == 256, "struct statx layout");

/* The facts both stat layouts report. */
struct facts {
  uint32_t mode;
  uint64_t ino, nlink, rdev;
  int64_t size;
};

static void facts_of(int kind, int ch, const char *path, int64_t size, struct facts *f) {
  f->nlink = 1;
  f->rdev = 0;
  f->size = 0;
  if (kind == K_DIR) {
    /* A stable inode for a directory (dir_ino). */
    f->ino = dir_ino(path, zrt_strlen(path), 0, 0);
    f->mode = S_IFDIR | 0555;
    f->nlink = 2;
    f->size = 4096;
  } else if (kind == K_PIPE) {
    /* As Linux's pipefs: a FIFO readable and writable by its owner, size 0. */
    f->ino = ZRT_PIPE_INO + (uint64_t)ch;
    f->mode = S_IFIFO | 0600;
  } else if (kind == K_DEV) {
    f->ino = 3 + (uint64_t)ch; /* below the channels' 16 */
    f->mode = S_IFCHR | 0666;
    f->rdev = (1u << 8) | dev_minor[ch]; /* makedev(1, minor) */
  } else {
    const struct ZVMChannel *c = channel(ch);
    uint32_t perm = (ch_readable(ch) ? 0444u : 0u) | (ch_writable(ch) ? 0222u : 0u);
    f->ino = 16 + (uint64_t)ch;
    if (c->type == SGetSPut) {
      f->mode = S_IFCHR | perm;
      /* A device number of its own, as two terminals or two FIFOs differ: programs take
       * two character devices with one st_rdev for the same file (diff and cmp said two
       * different sequential channels were identical without reading them: audit
       * finding). Major 240 (local use in Linux's device list), minor 16 + the channel
       * index (as the inode), in the kernel's encoding of a 32-bit device number. Not the
       * index itself: /dev/stdin as 240:0 made coreutils (configured for a cross build,
       * DEV_FD_MIGHT_BE_CHR) take every major-240 device for /dev/fd/MINOR and fstat
       * the descriptor numbered like the minor, so `cp` from or to a channel failed with
       * EBADF (audit finding). */
      uint64_t minor = 16 + (uint64_t)ch;
      f->rdev = (minor & 0xff) | (240u << 8) | ((minor & ~0xffull) << 12);
    } else {
      f->mode = S_IFREG | perm;
      f->size = size;
    }
  }
}

static void fill_stat(const struct facts *f, struct kernel_stat *st) {
  zrt_zero(st, sizeof *st);
  int64_t t = zrt_fixed_time();
  st->st_dev = ZRT_DEV;
  st->st_ino = f->ino;
  st->st_nlink = f->nlink;
  st->st_mode = f->mode;
  st->st_uid = ZRT_UID;
  st->st_gid = ZRT_UID;
  st->st_rdev = f->rdev;
  st->st_size = f->size;
  st->st_blksize = 4096;
  /* Whole 4 KiB blocks, counted in 512-byte units, as a file system of st_blksize does. */
  st->st_blocks = (f->size + 4095) / 4096 * 8;
  st->st_atime_sec = st->st_mtime_sec = st->st_ctime_sec = t;
}

static void fill_statx(const struct facts *f, struct kernel_statx *sx) {
  zrt_zero(sx, sizeof *sx);
  int64_t t = zrt_fixed_time();
  sx->stx_mask = 0x7ff; /* STATX_BASIC_STATS */
  sx->stx_blksize = 4096;
  sx->stx_nlink = (uint32_t)f->nlink;
  sx->stx_uid = ZRT_UID;
  sx->stx_gid = ZRT_UID;
  sx->stx_mode = (uint16_t)f->mode;
  sx->stx_ino = f->ino;
  sx->stx_size = (uint64_t)f->size;
  sx->stx_blocks = (uint64_t)(f->size + 4095) / 4096 * 8;
  sx->stx_atime.tv_sec = sx->stx_btime.tv_sec = sx->stx_ctime.tv_sec = sx->stx_mtime.tv_sec = t;
  sx->stx_rdev_major = (uint32_t)(f->rdev >> 8);
  sx->stx_rdev_minor = (uint32_t)((f->rdev & 0xff) | ((f->rdev >> 12) & ~0xffull));
  sx->stx_dev_major = ZRT_DEV >> 8;
  sx->stx_dev_minor = ZRT_DEV & 0xff;
}

static void facts_of_fd(const struct ofd *o, struct facts *f) {
  facts_of(o->kind, o->ch, o->path, o->kind == K_CHANNEL ? ofd_size(o) : 0, f);
}

/* Facts for fstatat/statx: AT_EMPTY_PATH with "" means the fd itself. */
static long facts_at(long dirfd, const char *path, long flags, struct facts *f) {
  if (!path) return -EFAULT;
  if (!path[0] && (flags & AT_EMPTY_PATH)) {
    if (dirfd == AT_FDCWD) {
      facts_of(K_DIR, -1, cwd, 0, f);
      return 0;
    }
    struct ofd *o = get(dirfd);
    if (!o) return -EBADF;
    facts_of_fd(o, f);
    return 0;
  }
  struct target t;
  long r = resolve(dirfd, path, &t);
  if (r < 0) return r;
  facts_of(t.kind, t.ch, t.path, t.kind == K_CHANNEL ? ch_size(t.ch) : 0, f);
  return 0;
}

long zrt_fstat(long fd, void *st) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (!st) return -EFAULT;
  struct facts f;
  facts_of_fd(o, &f);
  fill_stat(&f, st);
  return 0;
}

long zrt_fstatat(long dirfd, const char *path, void *st, long flags) {
  if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH)) return -EINVAL;
  if (!st) return -EFAULT;
  struct facts f;
  long r = facts_at(dirfd, path, flags, &f);
  if (r < 0) return r;
  fill_stat(&f, st);
  return 0;
}

long zrt_statx(long dirfd, const char *path, long flags, long mask, void *stx) {
  (void)mask;
  /* AT_STATX_SYNC_TYPE (0x6000): the sync mode, both bits together is invalid. */
  if ((flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | 0x6000)) || (flags & 0x6000) == 0x6000)
    return -EINVAL;
  if (!stx) return -EFAULT;
  struct facts f;
  long r = facts_at(dirfd, path, flags, &f);
  if (r < 0) return r;
  fill_statx(&f, stx);
  return 0;
}

/* ---- fcntl, ioctl, access, getcwd ---------------------------------------------------- */

long zrt_fcntl(long fd, long cmd, long arg) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  /* An O_PATH descriptor answers only these (as Linux). */
  if (is_path_only(o) && cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC && cmd != F_GETFD && cmd != F_SETFD &&
      cmd != F_GETFL)
    return -EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (arg < 0 || arg >= ZRT_MAX_FD) return -EINVAL;
      int nfd = lowest_free_fd((int)arg);
      if (nfd < 0) return nfd;
      o->refs++;
      fd_ofd[nfd] = fd_ofd[fd];
      fd_cloexec[nfd] = cmd == F_DUPFD_CLOEXEC;
      return nfd;
    }
    case F_GETFD:
      return fd_cloexec[fd] ? FD_CLOEXEC : 0;
    case F_SETFD:
      fd_cloexec[fd] = (arg & FD_CLOEXEC) != 0;
      return 0;
    case F_GETFL:
      return o->flags;
    case F_GETPIPE_SZ:
      return o->kind == K_PIPE ? (long)ZRT_PIPE_CAP : -EBADF;
    case F_SETFL: {
      int settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
      if ((arg & O_APPEND) && o->kind == K_CHANNEL && can_write(o) && !size_known(o->ch)) return -EINVAL;
      o->flags = (o->flags & ~settable) | ((int)arg & settable);
      return 0;
    }
    /* Signal-driven I/O and leases: no signal is ever delivered and no other process
     * opens the file, so the owner is none (0), the signal the default (0), and no
     * lease is held (F_UNLCK); setting them is accepted, or EAGAIN for a lease that
     * Linux would refuse as well. (An error here was taken by musl's F_GETOWN for an
     * owner: process group 22.) */
    case F_GETOWN:
    case F_GETSIG:
    case F_SETOWN:
      return 0;
    case F_SETSIG:
      return arg < 0 || arg > 64 ? -EINVAL : 0;
    /* The structures these commands read or write are checked as the kernel's copies
     * check them: a bad pointer is -EFAULT, not a fault in the guest (audit finding). */
    case F_GETOWN_EX: {
      struct f_owner_ex *x = (struct f_owner_ex *)arg;
      if (!zrt_mem_ok(x, sizeof *x, 1)) return -EFAULT;
      x->type = F_OWNER_TID; /* Linux's answer when no owner is set */
      x->pid = 0;
      return 0;
    }
    case F_SETOWN_EX: {
      const struct f_owner_ex *x = (const struct f_owner_ex *)arg;
      if (!zrt_mem_ok(x, sizeof *x, 0)) return -EFAULT;
      return x->type == F_OWNER_TID || x->type == F_OWNER_PID || x->type == F_OWNER_PGRP ? 0 : -EINVAL;
    }
    case F_GETLEASE:
      return F_UNLCK;
    case F_SETLEASE:
      /* A read lease on a descriptor not open for writing is granted (nobody else can
       * open the file to break it); a write lease Linux grants only when no other
       * descriptor has the file open, which zrt does not track: EAGAIN. */
      if (arg == F_UNLCK) return 0;
      if (arg == F_RDLCK) return can_write(o) ? -EAGAIN : 0;
      return arg == F_WRLCK ? -EAGAIN : -EINVAL;
    case F_GETLK:
    case F_OFD_GETLK: {
      /* One process: nothing else ever holds a lock. As Linux: the request is read
       * first, its type must be a lock (F_UNLCK is EINVAL), then the answer written. */
      struct flock *l = (struct flock *)arg;
      if (!zrt_mem_ok(l, sizeof *l, 0)) return -EFAULT;
      if (l->l_type != F_RDLCK && l->l_type != F_WRLCK) return -EINVAL;
      if (!zrt_mem_ok(l, sizeof *l, 1)) return -EFAULT;
      l->l_type = F_UNLCK;
      return 0;
    }
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
      /* Granted (one process), after Linux's checks: the request readable, a known
       * type, a read lock on a descriptor open for reading, a write lock on one open
       * for writing (EBADF otherwise). */
      const struct flock *l = (const struct flock *)arg;
      if (!zrt_mem_ok(l, sizeof *l, 0)) return -EFAULT;
      if (l->l_type == F_RDLCK) return can_read(o) ? 0 : -EBADF;
      if (l->l_type == F_WRLCK) return can_write(o) ? 0 : -EBADF;
      return l->l_type == F_UNLCK ? 0 : -EINVAL;
    }
    default:
      return -EINVAL;
  }
}

long zrt_ioctl(long fd, long req, long arg) {
  struct ofd *o = get(fd);
  if (!o || is_path_only(o)) return -EBADF;
  if (req == ZRT_FIOCLEX || req == ZRT_FIONCLEX) {
    fd_cloexec[fd] = req == ZRT_FIOCLEX;
    return 0;
  }
  /* FIONBIO sets or clears O_NONBLOCK on any descriptor, as Linux's generic ioctl. */
  if (req == FIONBIO) {
    if (!zrt_mem_ok((const void *)arg, sizeof(int), 0)) return -EFAULT;
    if (*(const int *)arg) o->flags |= O_NONBLOCK;
    else o->flags &= ~O_NONBLOCK;
    return 0;
  }
  if (req == FIONREAD && o->kind == K_PIPE) {
    /* The bytes waiting in the pipe, on either end (as Linux's pipe_ioctl). */
    if (!zrt_mem_ok((const void *)arg, sizeof(int), 1)) return -EFAULT;
    *(int *)arg = (int)zrt_pipe_unread(o->ch);
    return 0;
  }
  if (req == FIONREAD && o->kind == K_CHANNEL && seekable(o) && size_known(o->ch)) {
    /* A file: the bytes from the offset to the end (Linux's file_ioctl). */
    if (!zrt_mem_ok((const void *)arg, sizeof(int), 1)) return -EFAULT;
    int64_t left = ofd_size(o) - o->pos;
    *(int *)arg = left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
    return 0;
  }
  return -ENOTTY; /* TIOCGWINSZ included: channels are never terminals */
}

/* faccessat/faccessat2: flags AT_EACCESS (one user: the same answer), AT_SYMLINK_NOFOLLOW
 * (no links) and AT_EMPTY_PATH (the file dirfd names, or the working directory); other
 * flags -EINVAL, as Linux. */
long zrt_faccessat(long dirfd, const char *path, long mode, long flags) {
  if (mode & ~(long)(R_OK | W_OK | X_OK)) return -EINVAL;
  if (flags & ~(long)(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  if (!path) return -EFAULT;
  int kind, ch;
  if (!path[0] && (flags & AT_EMPTY_PATH)) {
    if (dirfd == AT_FDCWD) {
      kind = K_DIR;
      ch = -1;
    } else {
      struct ofd *o = get(dirfd);
      if (!o) return -EBADF;
      kind = o->kind;
      ch = o->ch;
    }
  } else {
    struct target t;
    long r = resolve(dirfd, path, &t);
    if (r < 0) return r;
    kind = t.kind;
    ch = t.ch;
  }
  if (kind == K_CHANNEL) {
    if ((mode & R_OK) && !ch_readable(ch)) return -EACCES;
    if ((mode & W_OK) && !ch_writable(ch)) return -EACCES;
    if (mode & X_OK) return -EACCES;
  } else if (kind == K_DIR) {
    if (mode & W_OK) return -EACCES;
  } else if (mode & X_OK) {
    return -EACCES;
  }
  return 0;
}

long zrt_getcwd(char *buf, size_t size) {
  size_t n = zrt_strlen(cwd) + 1;
  if (size < n) return -ERANGE; /* checked first, as Linux does */
  if (!zrt_mem_ok(buf, n, 1)) return -EFAULT;
  zrt_copy(buf, cwd, n);
  return (long)n; /* the kernel returns the length including the NUL */
}

long zrt_chdir(const char *path) {
  struct target t;
  long r = resolve(AT_FDCWD, path, &t);
  if (r < 0) return r;
  if (t.kind != K_DIR) return -ENOTDIR;
  if (t.len >= ZRT_DIR_PATH) return -ENAMETOOLONG;
  zrt_copy(cwd, t.path, (size_t)t.len + 1);
  return 0;
}

long zrt_fchdir(long fd) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (o->kind != K_DIR) return -ENOTDIR;
  zrt_copy(cwd, o->path, zrt_strlen(o->path) + 1);
  return 0;
}

long zrt_readlinkat(long dirfd, const char *path, char *buf, size_t size) {
  (void)buf;
  if ((long)size <= 0) return -EINVAL;
  struct target t;
  long r = resolve(dirfd, path, &t);
  /* There are no symbolic links: an existing path is not one. */
  return r < 0 ? r : -EINVAL;
}

/* ---- the name space is fixed ---------------------------------------------------------- */

/* mkdir, mknod, symlink, link (the new name), unlink and rmdir: the names are the
 * manifest's channels and cannot change. The errors the kernel checks first are the
 * same as on Linux (the lookup's ENOENT/ENOTDIR, EEXIST for a name that exists,
 * ENOENT/EISDIR/ENOTDIR/ENOTEMPTY/EBUSY for what is removed); anything that would succeed
 * is -EROFS. */
long zrt_name_op(long dirfd, const char *path, int op) {
  struct target t;
  long r = lookup(dirfd, path, &t);
  if (r < 0) return r;
  switch (op) {
    case ZRT_NS_CREATE:
      return t.kind == K_FREE ? -EROFS : -EEXIST;
    case ZRT_NS_UNLINK:
      if (t.kind == K_FREE) return -ENOENT;
      return t.kind == K_DIR ? -EISDIR : -EROFS;
    default: { /* ZRT_NS_RMDIR */
      if (t.kind == K_FREE) return -ENOENT;
      if (t.kind != K_DIR) return -ENOTDIR;
      /* Linux looks at the last component first: `.` is EINVAL, `..` ENOTEMPTY. */
      size_t n = zrt_strlen(path);
      while (n > 1 && path[n - 1] == '/') n--;
      size_t b = n;
      while (b > 0 && path[b - 1] != '/') b--;
      if (n - b == 1 && path[b] == '.') return -EINVAL;
      if (n - b == 2 && path[b] == '.' && path[b + 1] == '.') return -ENOTEMPTY;
      return t.len == 1 ? -EBUSY : -ENOTEMPTY; /* every directory holds an alias */
    }
  }
}

/* rename and link: the old name must exist (-ENOENT), link's new one must not (-EEXIST);
 * the new name's directories are looked up; then -EROFS. */
long zrt_rename(long olddirfd, const char *old, long newdirfd, const char *new, int link) {
  struct target t;
  long r = resolve(olddirfd, old, &t);
  if (r < 0) return r;
  r = lookup(newdirfd, new, &t);
  if (r < 0) return r;
  if (link && t.kind != K_FREE) return -EEXIST;
  return -EROFS;
}

/* ftruncate and truncate on a writable channel with a random write side: shrinking sets
 * the size every description sees (as O_TRUNC does; the host file keeps its bytes),
 * growing writes zeros up to the new size. Other files: -EINVAL, as for a pipe; a
 * directory: -EISDIR (truncate) or -EINVAL. */
static long truncate_channel(int ch, long len) {
  if (len < 0) return -EINVAL;
  if (!write_random(ch)) return -EINVAL;
  int64_t size = ch_size(ch);
  if (len == 0) {
    ch_truncate(ch);
    return 0;
  }
  /* Shrinking or growing from a size zrt does not know could only guess. */
  if (!size_known(ch)) return -EINVAL;
  if (len <= size) {
    ch_set_size(ch, len);
    return 0;
  }
  static const char zeros[4096];
  while (size < len) {
    int64_t n = len - size > (int64_t)sizeof zeros ? (int64_t)sizeof zeros : len - size;
    int64_t w = zvm_pwrite(ch, zeros, n, size);
    if (w <= 0) return w < 0 ? io_result(w) : -EIO;
    size += w;
    ch_grow(ch, size);
  }
  return 0;
}

long zrt_ftruncate(long fd, long len) {
  struct ofd *o = get(fd);
  if (!o) return -EBADF;
  if (o->kind != K_CHANNEL || !can_write(o)) return -EINVAL;
  return truncate_channel(o->ch, len);
}

long zrt_truncate(const char *path, long len) {
  struct target t;
  long r = resolve(AT_FDCWD, path, &t);
  if (r < 0) return r;
  if (t.kind == K_DIR) return -EISDIR;
  if (t.kind == K_DEV) return -EINVAL;
  if (!ch_writable(t.ch)) return -EACCES;
  return truncate_channel(t.ch, len);
}
