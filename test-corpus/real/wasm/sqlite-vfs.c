/* The operating-system layer for wasm32-wasi builds of SQLite (compiled with
 * SQLITE_OS_OTHER=1, since the unix VFS needs file locking and fchown that wasi lacks):
 * a VFS that opens no files (test-corpus/real/sqlite/driver.c only uses ":memory:" with
 * SQLITE_TEMP_STORE=3), fills "random" bytes with zeros (the scripts avoid random()) and
 * reports a fixed time (they avoid time functions). */
#include <string.h>

#include "sqlite3.h"

static int no_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
    (void)v; (void)name; (void)flags; (void)out;
    f->pMethods = 0;
    return SQLITE_CANTOPEN;
}
static int no_delete(sqlite3_vfs *v, const char *name, int sync) { (void)v; (void)name; (void)sync; return SQLITE_IOERR_DELETE; }
static int no_access(sqlite3_vfs *v, const char *name, int flags, int *out) { (void)v; (void)name; (void)flags; *out = 0; return SQLITE_OK; }
static int full_path(sqlite3_vfs *v, const char *name, int n, char *out) {
    (void)v;
    sqlite3_snprintf(n, out, "%s", name);
    return SQLITE_OK;
}
static int randomness(sqlite3_vfs *v, int n, char *out) { (void)v; memset(out, 0, (size_t)n); return n; }
static int sleep_us(sqlite3_vfs *v, int us) { (void)v; return us; }
static int current_time(sqlite3_vfs *v, double *t) { (void)v; *t = 2440587.5; return SQLITE_OK; }
static int last_error(sqlite3_vfs *v, int n, char *s) { (void)v; (void)n; (void)s; return 0; }
static int current_time64(sqlite3_vfs *v, sqlite3_int64 *t) { (void)v; *t = (sqlite3_int64)2440587.5 * 86400000 + 43200000; return SQLITE_OK; }

static sqlite3_vfs vfs = {
    2, sizeof(sqlite3_file), 512, 0, "zv-wasm-none", 0,
    no_open, no_delete, no_access, full_path, 0, 0, 0, 0,
    randomness, sleep_us, current_time, last_error, current_time64,
    0, 0, 0,
};

int sqlite3_os_init(void) { return sqlite3_vfs_register(&vfs, 1); }
int sqlite3_os_end(void) { return SQLITE_OK; }
