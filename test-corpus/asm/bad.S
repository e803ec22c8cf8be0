/* Violations on known source lines, for the diagnostics tests: line 12 (C3), line 13
   (C5), line 14 (C9). */
#include "zvnote.inc"
	.text
	.globl _start
	.type _start, @function
	.balign 32
_start:
	nop
	nop
	nop
	syscall
	mov (%rax), %rax
	jmp *%rax
	.size _start, .-_start
