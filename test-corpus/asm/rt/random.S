/* Random access on channel 3 (the first channel after the standard ones): reads 5
   bytes at offset 10 and writes them to stdout; a read at offset 1000000 (past the
   end) must return 0 (else exit 2); writes "XY" at offset 4 of channel 4 when it exists
   (exit 3 on error), and on a type-3 channel 4 reads back "XY" written past its
   initial size (exit 4). */
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
	/* A type-3 channel reads back what was written past its first size: write at 20,
	   read it back (exit 4 otherwise; types without random reads skip this). */
	ZV ID_WRITE, $4, $xy, $2, $20
	ZV ID_READ, $4, $buf, $2, $20
	cmp $2, %rax
	je 9f
	cmp $-22, %rax              /* channel 4 not readable at random: nothing to check */
	je 9f
	mov $MANIFEST_PTR, %edx
	mov (%edx), %eax
	mov 24(%eax), %rax          /* channels */
	cmpl $3, 4*56+40(%eax)      /* channel 4's type */
	jne 9f
	EXIT $4
9:	EXIT $0
