/* A small valid form-1 program: a call, P1 and P2. Exits by trapping. */
#include "zvnote.inc"
	.text
	.globl _start
	.type _start, @function
	.balign 32
_start:
	sub $16, %esp
	mov $0x1234, %eax
	movl %eax, 8(%rsp)
	.balign 32
	.skip 27, 0x90
	call helper
	lea helper(%rip), %rcx
	and $-32, %ecx
	jmp *%rcx
	.size _start, .-_start

	.type helper, @function
	.balign 32
helper:
	addr32 mov (%edi), %eax
	andq $0x7fffffe0, (%rsp)
	ret
	.size helper, .-helper

	.data
counter:
	.quad 1
