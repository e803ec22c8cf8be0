/* Times processes from C (posix_spawn + waitpid, CLOCK_MONOTONIC), so that the parent's
   own spawning cost is as small as it can be: scripts/bench-run prints this beside its
   Python-timed figures. Usage: spawn RUNS 'prog args...' ['prog args...' ...]; the
   commands run interleaved, rotating which goes first each round, stdout to /dev/null.
   Prints one line per command: its median in ms. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: spawn RUNS 'command' ...\n");
    return 2;
  }
  int n = atoi(argv[1]), k = argc - 2;
  if (n < 1) return 2;
  double *t = malloc(sizeof(double) * (size_t)n * (size_t)k);
  char *(*av)[16] = calloc((size_t)k, sizeof *av);
  if (!t || !av) return 1;
  for (int j = 0; j < k; j++) {
    int m = 0;
    for (char *p = strtok(argv[2 + j], " "); p && m < 15; p = strtok(NULL, " ")) av[j][m++] = p;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  for (int i = 0; i < n; i++) {
    for (int r = 0; r < k; r++) {
      int j = (r + i) % k, st;
      pid_t pid;
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      if (posix_spawn(&pid, av[j][0], &fa, NULL, av[j], environ) != 0) {
        perror(av[j][0]);
        return 1;
      }
      if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "spawn: %s failed\n", av[j][0]);
        return 1;
      }
      clock_gettime(CLOCK_MONOTONIC, &b);
      t[(size_t)j * n + i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    }
  }
  for (int j = 0; j < k; j++) {
    qsort(t + (size_t)j * n, (size_t)n, sizeof(double), cmp);
    printf("%.4f\n", t[(size_t)j * n + n / 2]);
  }
  return 0;
}
