/* Writes "hello, world" to stdout and exits 0. */
#include "zv.inc"
	.section .rodata
msg:	.ascii "hello, world\n"
	.text
	.globl _start
_start:
	ZV ID_WRITE, $1, $msg, $13, $0
	EXPECT $13, 1
	EXIT $0
