/* SQL script runner for the real-program checks and benchmarks: reads a whole SQL script
 * from stdin, runs it statement by statement on an in-memory database and prints every
 * result row as `v1|v2|...` (NULL as "NULL", blobs as hex). A failing statement prints
 * "error: <message>" and the script goes on, so constraint violations and rollbacks are
 * part of the checked output. Needs only read/write on stdin/stdout (no files opened).
 * The same source is built natively, with zvcc and for wasm32-wasi.
 *
 * Usage: driver < script.sql     Exit status: 0, or 1 when the database cannot open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

static char *read_all(FILE *f) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 + 1 > cap) buf = realloc(buf, cap *= 2);
        if (!buf) return NULL;
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0) break;
        len += n;
    }
    buf[len] = 0;
    return buf;
}

static void print_value(sqlite3_stmt *st, int i) {
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: fputs("NULL", stdout); break;
    case SQLITE_BLOB: {
        const unsigned char *b = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        fputs("x'", stdout);
        for (int k = 0; k < n; k++) printf("%02x", b[k]);
        fputc('\'', stdout);
        break;
    }
    default: fputs((const char *)sqlite3_column_text(st, i), stdout); break;
    }
}

int main(void) {
    char *sql = read_all(stdin);
    sqlite3 *db;
    if (!sql || sqlite3_open(":memory:", &db) != SQLITE_OK) {
        fprintf(stderr, "driver: cannot open an in-memory database\n");
        return 1;
    }
    const char *tail = sql;
    long statements = 0, rows = 0;
    while (*tail) {
        sqlite3_stmt *st = NULL;
        const char *next;
        if (sqlite3_prepare_v2(db, tail, -1, &st, &next) != SQLITE_OK) {
            printf("error: %s\n", sqlite3_errmsg(db));
            /* skip to after the next ';' and go on */
            const char *semi = strchr(tail, ';');
            if (!semi) break;
            tail = semi + 1;
            continue;
        }
        tail = next;
        if (!st) continue; /* whitespace or a comment */
        statements++;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int n = sqlite3_column_count(st);
            for (int i = 0; i < n; i++) {
                if (i) fputc('|', stdout);
                print_value(st, i);
            }
            fputc('\n', stdout);
            rows++;
        }
        if (rc != SQLITE_DONE) printf("error: %s\n", sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    printf("-- %ld statements, %ld rows, changes %d\n", statements, rows, sqlite3_total_changes(db));
    sqlite3_close(db);
    free(sql);
    return 0;
}
