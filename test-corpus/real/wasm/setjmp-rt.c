/* longjmp for the wasm32-wasi build of Lua: not available (see setjmp.h here), so it
 * says so and aborts instead of returning into a frame that no setjmp saved. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

_Noreturn void longjmp(jmp_buf env, int val) {
    (void)env;
    fprintf(stderr, "lua (wasm32-wasi build): longjmp(%d) is not available: Lua errors and "
                    "coroutine yields abort in this build\n", val);
    abort();
}
