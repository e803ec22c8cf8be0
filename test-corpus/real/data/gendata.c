/* Deterministic test data for the real-program checks and benchmarks: a mix of
 * English-like text, CSV-like records, little-endian binary tables, runs of repeated
 * bytes and short stretches of incompressible bytes, so that every compressor sees
 * both easy and hard input. Same bytes on every machine (xorshift64*, no libc rand).
 *
 * Usage: gendata MEGABYTES [SEED] > file      (built natively with the host cc)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s = 0x9E3779B97F4A7C15u;
static uint64_t next(void) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Du;
}
static unsigned below(unsigned n) { return (unsigned)((next() >> 33) % n); }

static const char *words[] = {
    "the", "sandbox", "verifier", "bundle", "channel", "of", "and", "a", "runtime",
    "compress", "native", "client", "zero", "virtual", "machine", "to", "in", "is",
    "program", "memory", "trap", "call", "jump", "aligned", "instruction", "x86-64",
    "musl", "library", "function", "return", "stack", "heap", "read", "write", "exit",
    "deterministic", "output", "input", "byte", "identical", "Lua", "SQLite", "zstd",
    "lz4", "bzip2", "zlib", "table", "index", "join", "select", "from", "where",
};
#define NWORDS (sizeof words / sizeof words[0])

static unsigned char buf[1 << 16];
static size_t len;
static uint64_t produced, total;
static void put(const void *p, size_t n) {
    if (produced + n > total) n = (size_t)(total - produced); /* exact size */
    produced += n;
    if (len + n > sizeof buf) {
        fwrite(buf, 1, len, stdout);
        len = 0;
    }
    memcpy(buf + len, p, n);
    len += n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gendata MEGABYTES [SEED]\n");
        return 2;
    }
    total = (uint64_t)(atof(argv[1]) * 1048576.0);
    if (argc > 2) s ^= strtoull(argv[2], 0, 0) * 0x100000001B3u;
    uint64_t line = 0;
    while (produced < total) {
        unsigned kind = below(100);
        char tmp[256];
        if (kind < 55) { /* a paragraph of text */
            unsigned n = 20 + below(80);
            for (unsigned i = 0; i < n; i++) {
                const char *w = words[below(NWORDS) * below(NWORDS) / NWORDS]; /* skewed */
                put(w, strlen(w));
                const char *sep = i + 1 == n ? ".\n" : below(12) ? " " : ", ";
                put(sep, strlen(sep));
            }
        } else if (kind < 80) { /* CSV records */
            unsigned n = 5 + below(40);
            for (unsigned i = 0; i < n; i++) {
                int k = snprintf(tmp, sizeof tmp, "%llu,%s,%u.%02u,%d\n", (unsigned long long)++line,
                                 words[below(NWORDS)], below(100000), below(100), (int)below(2000) - 1000);
                put(tmp, (size_t)k);
            }
        } else if (kind < 92) { /* binary table of little-endian structs */
            unsigned n = 16 + below(256);
            uint32_t base = (uint32_t)next();
            for (unsigned i = 0; i < n; i++) {
                uint32_t rec[4] = {base + i * 7, (uint32_t)below(65536), 0, (uint32_t)(next() & 0xFF00FF)};
                put(rec, sizeof rec);
            }
        } else if (kind < 96) { /* a run */
            unsigned n = 64 + below(4096);
            unsigned char c = (unsigned char)next();
            for (unsigned i = 0; i < n; i++) put(&c, 1);
        } else { /* incompressible */
            unsigned n = 256 + below(8192);
            for (unsigned i = 0; i < n; i += 8) {
                uint64_t r = next();
                put(&r, 8);
            }
        }
    }
    fwrite(buf, 1, len, stdout);
    return 0;
}
