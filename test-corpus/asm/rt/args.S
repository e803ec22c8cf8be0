/* Writes argv[1] and a newline to stdout, then exits with argc. Checks the auxv has
   AT_PAGESZ = 4096 and AT_RANDOM (exit 100/101 otherwise). */
#include "zv.inc"
	.section .rodata
nl:	.ascii "\n"
	.text
	.globl _start
_start:
	mov (%rsp), %r12            /* argc */
	cmp $2, %r12
	jb 9f
	mov 16(%rsp), %r13          /* argv[1] */
	xor %ecx, %ecx
2:	cmpb $0, (%r13d,%ecx)
	je 3f
	inc %ecx
	jmp 2b
3:	mov %ecx, %ecx
	ZV ID_WRITE, $1, %r13, %rcx, $0
	ZV ID_WRITE, $1, $nl, $1, $0
9:	/* find auxv: skip argv and envp */
	lea 8(%rsp,%r12,8), %rbx    /* &argv[argc] (NULL) */
	lea 8(%rbx), %rbx           /* envp */
4:	cmpq $0, (%ebx)
	lea 8(%rbx), %rbx
	jne 4b
	xor %r14d, %r14d            /* found AT_PAGESZ */
	xor %r15d, %r15d            /* found AT_RANDOM */
5:	mov (%ebx), %rax
	test %rax, %rax
	je 6f
	cmp $6, %rax
	jne 7f
	cmpq $4096, 8(%ebx)
	jne 7f
	mov $1, %r14d
7:	cmp $25, %rax
	jne 8f
	mov $1, %r15d
8:	lea 16(%rbx), %rbx
	jmp 5b
6:	test %r14d, %r14d
	jne 10f
	EXIT $100
10:	test %r15d, %r15d
	jne 11f
	EXIT $101
11:	ZV ID_EXIT, %r12
	hlt
