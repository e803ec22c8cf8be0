/* fork.c: zrt's part of the Fork call (RUNTIME.md section 7; zvm_fork in zvm.h). A file
 * of its own so that only programs that call zvm_fork link musl's stdio for it.
 *
 * Before Fork, the C library's buffered output is written out: in daemon mode the warm
 * guest's pending output then goes out once, from the daemon, instead of once more from
 * every forked session (each of which would otherwise flush its copy of the buffer).
 */
#include <stdio.h>

#include "zvm.h"

void __zrt_fork_prepare(void) { fflush(NULL); }
