/* Standard streams whose channels allow no reading (stdin) or no writing (stdout): read
 * and write are EBADF, as Linux answers for a descriptor not open that way (zrt said
 * EFAULT: audit finding). Reports on stderr. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *name(int e) { return e == EBADF ? "EBADF" : e == EFAULT ? "EFAULT" : strerror(e); }

int main(void) {
  char b[4];
  errno = 0;
  ssize_t r = read(0, b, sizeof b);
  int re = errno;
  errno = 0;
  ssize_t w = write(1, "x", 1);
  int we = errno;
  dprintf(2, "read stdin: %zd %s\nwrite stdout: %zd %s\n", r, r < 0 ? name(re) : "", w, w < 0 ? name(we) : "");
  return 0;
}
