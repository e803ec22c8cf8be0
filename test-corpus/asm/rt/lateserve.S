/* Daemon mode: a warm-up that waits for its stdin (one Read of channel 0, until a byte
   or end of file), then Fork; each forked session writes "served\n" and exits 0. Tests
   hold the daemon's stdin open to keep it from serving. */
#include "zv.inc"
	.section .rodata
msg:	.ascii "served\n"
	.bss
	.balign 4096
buf:	.skip 4096
	.text
	.globl _start
_start:
	ZV ID_READ, $0, $buf, $1, $0
	ZV ID_FORK
	EXPECT $0, 9
	ZV ID_WRITE, $1, $msg, $7, $0
	EXIT $0
