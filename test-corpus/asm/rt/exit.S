/* Exits with the 64-bit code 0x100000102: status 2, the report keeps it whole. */
#include "zv.inc"
	.text
	.globl _start
_start:
	movabs $0x100000102, %rax
	ZV ID_EXIT, %rax
	hlt
