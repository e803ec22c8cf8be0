/* Native counterpart of trapbench.S: N one-byte write(2) calls to stdout (/dev/null
   in the benchmark), N from argv[1]. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char c = 'x';
    for (long i = 0; i < n; i++) {
        if (write(1, &c, 1) != 1) return 1;
    }
    return 0;
}
