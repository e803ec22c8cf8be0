/* Spins forever (for the timeout test). */
#include "zv.inc"
	.text
	.globl _start
_start:
1:	jmp 1b
