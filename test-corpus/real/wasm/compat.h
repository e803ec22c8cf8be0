/* Force-included (-include) into wasm32-wasi builds of the real programs (scripts/
 * build-real-programs --flavor wasm): what Debian's wasi-libc (2022) leaves out and the
 * programs only use on named files or temporary files, never on stdin/stdout, which is
 * all the benchmarks use. Each stub fails the way an unsupported call would. Also
 * includes <stdio.h>, which zstd's programs/util.h uses without including. */
#ifndef ZV_WASM_COMPAT_H
#define ZV_WASM_COMPAT_H
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
static inline int zv_wasm_chown(const char *p, uid_t u, gid_t g) { (void)p; (void)u; (void)g; errno = ENOSYS; return -1; }
static inline int zv_wasm_fchown(int fd, uid_t u, gid_t g) { (void)fd; (void)u; (void)g; errno = ENOSYS; return -1; }
static inline int zv_wasm_chmod(const char *p, mode_t m) { (void)p; (void)m; errno = ENOSYS; return -1; }
static inline int zv_wasm_fchmod(int fd, mode_t m) { (void)fd; (void)m; errno = ENOSYS; return -1; }
static inline FILE *zv_wasm_tmpfile(void) { errno = ENOSYS; return NULL; }
static inline char *zv_wasm_tmpnam(char *s) { (void)s; errno = ENOSYS; return NULL; }
static inline int zv_wasm_system(const char *c) { (void)c; errno = ENOSYS; return c ? -1 : 0; }
#define chown zv_wasm_chown
#define fchown zv_wasm_fchown
#define chmod zv_wasm_chmod
#define fchmod zv_wasm_fchmod
#define tmpfile zv_wasm_tmpfile
#define tmpnam zv_wasm_tmpnam
#define system zv_wasm_system
#ifndef L_tmpnam
#define L_tmpnam 20
#endif
#endif
