/* Entering the trap by `jmp 0x10000` (a direct branch to a bundle start, which C7
   admits) with no return address pushed, and the stack pointer on read-only data
   (default) or at 0 (argument `g`): the trap's return path reads and masks the return
   address at rsp, which the runtime must check rather than fault in host code. The
   session ends as a guest fault, SIGSEGV at rsp, with its report. (A security review
   crashed zvrun with it: status 139 and no report.) */
#include "zv.inc"
	.section .rodata
	.balign 16
ro:	.quad 0x20040, 0
	.data
args:	.quad ID_FORK, 0
	.text
	.globl _start
_start:
	mov (%rsp), %rax
	cmp $2, %rax
	jb 1f
	mov 16(%rsp), %rax
	cmpb $'g', (%eax)
	je 2f
1:	lea args(%rip), %rdi
	lea ro(%rip), %rax
	mov %eax, %esp
	jmp 0x10000
2:	lea args(%rip), %rdi
	xor %esp, %esp
	jmp 0x10000
