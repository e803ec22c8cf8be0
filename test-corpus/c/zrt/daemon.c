/* Daemon mode through zrt (RUNTIME.md section 7): an expensive start (a table, built in
 * argv[1] rounds, default 1), output printed before zvm_fork() and left in stdio's
 * buffer, then one request per forked
 * session: the numbers on stdin, one per line, answered with the sum of their table
 * entries. The warm-up's output is a partial line, which stdio keeps in its buffer;
 * zvm_fork flushes stdio first, so it is written once, by the daemon, and no forked
 * session repeats it. Not built natively (zvm.h is zrt's). */
#include <stdio.h>
#include <stdlib.h>
#include <zvm.h>

#define N 65536
static unsigned long table[N];

int main(int argc, char **argv) {
  /* argv[1]: rounds of building the table (scripts/bench-daemon makes the start
     expensive with many); with one, table[i] = (i * i + 7) % 65521. */
  long rounds = argc > 1 ? strtol(argv[1], 0, 10) : 1;
  for (long r = 0; r < rounds; r++)
    for (unsigned long i = 0; i < N; i++) table[i] = (table[i] + i * i + 7) % 65521;
  printf("warm up done, ");
  if (zvm_fork() != 0) return 9;
  char line[64];
  unsigned long sum = 0;
  int n = 0;
  while (fgets(line, sizeof line, stdin)) {
    sum += table[strtoul(line, 0, 10) % N];
    n++;
  }
  printf("%d numbers, sum %lu\n", n, sum);
  table[0] = 12345; /* changes only this session's copy */
  return n;
}
