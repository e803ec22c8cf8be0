/* Writes the first 64 bytes of the trampoline page (0x10000, readable by the guest) to
 * stdout and exits 0: the bytes must be the same in every run (no host address). */
#include "zv.inc"
	.text
	.globl _start
_start:
	ZV ID_WRITE, $1, $0x10000, $64, $0
	EXPECT $64, 1
	EXIT $0
