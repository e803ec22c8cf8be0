/* Sections named like C identifiers get __start_NAME and __stop_NAME (as GNU ld gives
 * them): a registration table in a read-only section and a counter table in a writable
 * one, spread over the file and interleaved with ordinary data, then walked. */
#include <stdio.h>

struct command {
    const char *name;
    int (*run)(int);
};

static int twice(int x) { return 2 * x; }
static int square(int x) { return x * x; }
static int negate(int x) { return -x; }

#define REGISTER(n, f) \
    static const struct command cmd_##f __attribute__((section("zv_commands"), used, aligned(16))) = {n, f}

REGISTER("twice", twice);
static const char filler1[] = "ordinary read-only data between entries";
REGISTER("square", square);
int ordinary_counter = 5;
REGISTER("negate", negate);

static long hits_a __attribute__((section("zv_counters"), used)) = 10;
static long hits_b __attribute__((section("zv_counters"), used)) = 20;
long plain_global = 1;
static long hits_c __attribute__((section("zv_counters"), used)) = 30;

extern const struct command __start_zv_commands[], __stop_zv_commands[];
extern long __start_zv_counters[], __stop_zv_counters[];

int main(void) {
    int n = (int)(__stop_zv_commands - __start_zv_commands);
    printf("%d commands\n", n);
    for (const struct command *c = __start_zv_commands; c < __stop_zv_commands; c++)
        printf("%s(7) = %d\n", c->name, c->run(7));
    long sum = 0;
    for (long *p = __start_zv_counters; p < __stop_zv_counters; p++) {
        *p += 1;
        sum += *p;
    }
    printf("%d counters, sum %ld\n", (int)(__stop_zv_counters - __start_zv_counters), sum);
    printf("%s %d %ld %ld %ld %ld\n", filler1, ordinary_counter, plain_global, hits_a, hits_b, hits_c);
    return 0;
}
