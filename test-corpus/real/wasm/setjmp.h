/* setjmp.h for the wasm32-wasi build of Lua (scripts/build-real-programs --flavor wasm).
 * Debian's wasi-libc (2022) has no setjmp/longjmp. LLVM 19 can lower them to Wasm
 * exception handling (-mllvm -wasm-enable-sjlj), but only to the legacy try/catch
 * encoding, which the wasmtime PyPI package rejects ("legacy_exceptions feature required
 * for try instruction"). So this build has a setjmp that only ever returns 0 and a
 * longjmp that aborts with a message: Lua code that raises no error (and yields no
 * coroutine, which also longjmps) runs normally; anything else stops the program. The
 * benchmark workload is such code; the checks do not use wasm. */
#ifndef ZV_WASM_SETJMP_H
#define ZV_WASM_SETJMP_H
typedef int jmp_buf[1];
#define setjmp(env) ((void)(env), 0)
_Noreturn void longjmp(jmp_buf env, int val);
#endif
