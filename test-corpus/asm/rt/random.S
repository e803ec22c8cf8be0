/* Random access on channel 3 (the first channel after the standard ones): reads 5
   bytes at offset 10 and writes them to stdout; a read at offset 1000000 (past the
   end) must return 0 (else exit 2); writes "XY" at offset 4 of channel 4 when it exists
   (exit 3 on error). */
#include "zv.inc"
	.section .rodata
xy:	.ascii "XY"
	.bss
buf:	.skip 16
	.text
	.globl _start
_start:
	ZV ID_READ, $3, $buf, $5, $10
	EXPECT $5, 1
	ZV ID_WRITE, $1, $buf, $5, $0
	ZV ID_READ, $3, $buf, $5, $1000000
	EXPECT $0, 2
	mov $MANIFEST_PTR, %edx
	mov (%edx), %eax
	cmpl $5, 16(%eax)            /* channels_count */
	jb 9f
	ZV ID_WRITE, $4, $xy, $2, $4
	EXPECT $2, 3
9:	EXIT $0
