/* pipe.c: pipes inside the guest (docs/zrt.md, "Pipes").
 *
 * A guest is one process with one thread and the six calls have no pipe, so a pipe is a
 * buffer in zrt: pipe and pipe2 (files.c) make a read end and a write end, two open file
 * descriptions of K_PIPE in the fd table, whose `ch` is the index of the pipe here. This
 * file keeps the bytes and the count of open descriptions of each end:
 *
 * - the buffer is a ring of ZRT_PIPE_CAP bytes (64 KiB, Linux's default capacity), taken
 *   from the heap arena with zrt_mmap on the first write (a pipe never written costs no
 *   memory) and given back when the last description of both ends is closed;
 * - read returns what is there (up to the request); EOF (0) once the buffer is empty and
 *   no write end is open;
 * - write stores what fits; a write of at most PIPE_BUF (4096) bytes is atomic (all of
 *   it or nothing); with no read end open it is -EPIPE after SIGPIPE (zrt_sigpipe);
 * - nothing can ever wait: no other thread or process could empty or fill the buffer, so
 *   where Linux would block forever (read of an empty pipe whose write end is open, write
 *   to a full pipe) the answer is -EAGAIN, as for O_NONBLOCK, on every description. A
 *   blocking write larger than the free space writes what fits and returns that count.
 *
 * Every answer depends only on what the guest did; nothing reaches the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "zrt.h"

/* Each pipe holds two open file descriptions and files.c has 256 of them. */
#define ZRT_MAX_PIPES 128

struct pipe {
  int used;
  int readers, writers; /* open descriptions of the read end and of the write end */
  unsigned char *buf;   /* ZRT_PIPE_CAP bytes from the heap arena, or 0 before a write */
  uint32_t head;        /* offset of the oldest byte in buf */
  uint32_t count;       /* bytes in buf: [head, head + count) modulo ZRT_PIPE_CAP */
};

static struct pipe pipes[ZRT_MAX_PIPES];

int zrt_pipe_new(void) {
  for (int i = 0; i < ZRT_MAX_PIPES; i++) {
    struct pipe *p = &pipes[i];
    if (p->used) continue;
    p->used = 1;
    p->readers = p->writers = 1;
    p->buf = 0;
    p->head = p->count = 0;
    return i;
  }
  return -ENFILE;
}

void zrt_pipe_release(int i, int write_end) {
  struct pipe *p = &pipes[i];
  if (write_end)
    p->writers--;
  else
    p->readers--;
  if (p->readers > 0 || p->writers > 0) return;
  if (p->buf) zrt_munmap((long)(uintptr_t)p->buf, ZRT_PIPE_CAP);
  p->buf = 0;
  p->used = 0;
}

/* The bytes an iovec array asks for, saturated at Linux's largest transfer. */
static size_t iov_total(const struct iovec *iov, long n) {
  size_t total = 0;
  for (long k = 0; k < n; k++) {
    if (iov[k].iov_len > ZRT_MAX_RW - total) return ZRT_MAX_RW;
    total += iov[k].iov_len;
  }
  return total;
}

long zrt_pipe_read(int i, const struct iovec *iov, long n) {
  struct pipe *p = &pipes[i];
  size_t want = iov_total(iov, n);
  if (want == 0) return 0;
  if (p->count == 0) return p->writers > 0 ? -EAGAIN : 0; /* -EAGAIN: see the top */
  size_t left = want < p->count ? want : p->count;
  size_t done = 0;
  for (long k = 0; k < n && left > 0; k++) {
    size_t room = iov[k].iov_len < left ? iov[k].iov_len : left;
    unsigned char *dst = iov[k].iov_base;
    while (room > 0) {
      size_t run = ZRT_PIPE_CAP - p->head; /* contiguous bytes before the ring wraps */
      if (run > room) run = room;
      zrt_copy(dst, p->buf + p->head, run);
      p->head = (uint32_t)((p->head + run) % ZRT_PIPE_CAP);
      p->count -= (uint32_t)run;
      dst += run;
      room -= run;
      left -= run;
      done += run;
    }
  }
  if (p->count == 0) p->head = 0;
  return (long)done;
}

long zrt_pipe_write(int i, const struct iovec *iov, long n) {
  struct pipe *p = &pipes[i];
  size_t want = iov_total(iov, n);
  if (want == 0) return 0; /* an empty write succeeds even without a reader, as on Linux */
  if (p->readers == 0) {
    zrt_sigpipe();
    return -EPIPE;
  }
  if (!p->buf) {
    long a = zrt_mmap(0, ZRT_PIPE_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a < 0) return -ENOMEM;
    p->buf = (unsigned char *)(uintptr_t)a;
  }
  size_t space = ZRT_PIPE_CAP - p->count;
  if (space == 0 || (want <= ZRT_PIPE_BUF && space < want)) return -EAGAIN; /* see the top */
  size_t left = want < space ? want : space;
  size_t done = 0;
  for (long k = 0; k < n && left > 0; k++) {
    size_t room = iov[k].iov_len < left ? iov[k].iov_len : left;
    const unsigned char *src = iov[k].iov_base;
    while (room > 0) {
      size_t tail = (p->head + p->count) % ZRT_PIPE_CAP;
      size_t run = ZRT_PIPE_CAP - tail;
      if (run > room) run = room;
      zrt_copy(p->buf + tail, src, run);
      p->count += (uint32_t)run;
      src += run;
      room -= run;
      left -= run;
      done += run;
    }
  }
  return (long)done;
}

/* What poll sees on one end, as Linux's pipe_poll: the read end is readable with bytes
 * in the buffer and hung up once no write end is open; the write end is writable while
 * a PIPE_BUF write fits and in error once no read end is open. */
int zrt_pipe_events(int i, int write_end) {
  const struct pipe *p = &pipes[i];
  int ev = 0;
  if (!write_end) {
    if (p->count > 0) ev |= POLLIN | POLLRDNORM;
    if (p->writers == 0) ev |= POLLHUP;
  } else {
    if (ZRT_PIPE_CAP - p->count >= ZRT_PIPE_BUF) ev |= POLLOUT | POLLWRNORM;
    if (p->readers == 0) ev |= POLLERR;
  }
  return ev;
}

long zrt_pipe_unread(int i) { return (long)pipes[i].count; }
