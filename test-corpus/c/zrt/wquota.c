/* wquota.c: a random write past what the channel's put_size quota still allows is
 * EFBIG (the file cannot grow that far), not EFAULT: the buffer is good (audit finding:
 * zrt turned the runtime's offset refusal into "Bad address"). argv[1]: a random-write
 * channel with a put_size of 1000 bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) return 3;
  long r = pwrite(fd, "x", 1, 10);
  printf("pwrite at 10: %ld\n", r);
  r = pwrite(fd, "x", 1, 100000);
  printf("pwrite at 100000: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  lseek(fd, 100000, SEEK_SET);
  r = write(fd, "x", 1);
  printf("write at 100000: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  return 0;
}
