/* Jails and unjails heap regions of HLT repeatedly: 3 MiB and 1 MiB alternately, twelve
   times. The runtime's verifier buffers for large regions and for many regions must come
   from an allocator that works after the seccomp lock-down and gives memory back. Exits 0,
   or 1 + 2*round (+1) when a Jail (an Unjail) fails. */
#include "zv.inc"
	.text
	.globl _start
_start:
	HEAP_HLT 0x300000
	xor %r13d, %r13d
9:	mov $0x300000, %r14d
	test $1, %r13d
	jz 8f
	mov $0x100000, %r14d
8:	ZV ID_JAIL, %r12, %r14
	test %rax, %rax
	jz 7f
	lea 1(%r13,%r13), %eax
	ZV ID_EXIT, %rax
7:	ZV ID_UNJAIL, %r12, %r14
	test %rax, %rax
	jz 6f
	lea 2(%r13,%r13), %eax
	ZV ID_EXIT, %rax
6:	inc %r13d
	cmp $12, %r13d
	jb 9b
	EXIT $0
