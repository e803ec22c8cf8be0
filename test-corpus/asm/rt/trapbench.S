/* Trap round-trip benchmark: 1,000,000 Writes of one byte to channel 1, or none with
   argv[1] "0" (for the baseline). */
#include "zv.inc"
	.section .rodata
x:	.ascii "x"
	.text
	.globl _start
_start:
	mov $1000000, %r12d
	cmpq $2, (%rsp)
	jb 1f
	mov 16(%rsp), %rax
	cmpb $'0', (%eax)
	jne 1f
	xor %r12d, %r12d
1:	test %r12, %r12
	je 2f
	ZV ID_WRITE, $1, $x, $1, $0
	dec %r12
	jmp 1b
2:	EXIT $0
