/* zv-cflags: -Os
 * At -Os gcc compares a switch value where it lies, on the stack, and keeps the flags of
 * that comparison live into a case: `cmpl $10,0x4(%rsp); ja default; mov 0x4(%rsp),%eax;
 * jmp *T(,%rax,8)`, and the block of cases 8-10 starts with a `je` on them. zvld refused
 * the link ("not a register/immediate `cmp` or `test`"); it now replays the memory
 * comparison in a stub per live case, since nothing between it and the jump writes memory
 * or %rsp. Found in gnulib's quotearg (sed and grep at -Os). The program is
 * switch_cold_case.c's, compiled with -Os.
 */
#include "switch_cold_case.c"
