/* Faults in the way argv[1] says: ud2 (SIGILL), hlt (SIGSEGV), int3 (SIGTRAP),
   div (SIGFPE), null (SIGSEGV at 0x100), guard (SIGSEGV past 4 GiB through
   disp32(%rsp)), jailw (SIGSEGV writing the code segment), zero (SIGSEGV jumping to
   address 0), kstack (SIGSEGV jumping onto the stack). */
#include "zv.inc"
	.text
	.globl _start
_start:
	mov 16(%rsp), %rbx          /* argv[1] */
	movzbl (%ebx), %eax
	movzbl 1(%ebx), %ecx
	cmp $'u', %eax
	jne 1f
	ud2
1:	cmp $'h', %eax
	jne 2f
	hlt
2:	cmp $'i', %eax
	jne 3f
	int3
3:	cmp $'d', %eax
	jne 4f
	xor %edx, %edx
	xor %ecx, %ecx
	div %ecx
4:	cmp $'n', %eax
	jne 5f
	mov $0x100, %edx
	movl $1, (%edx)
5:	cmp $'g', %eax
	jne 6f
	/* rsp is just below 4 GiB: this store lands near 6 GiB, in the guard. */
	movq %rax, 0x7fffff00(%rsp)
6:	cmp $'j', %eax
	jne 7f
	movl $0, _start(%rip)
7:	cmp $'z', %eax
	jne 8f
	/* A call through a null function pointer: pc 0, in the never-mapped null guard. */
	xor %edx, %edx
	.bundle_lock
	and $-32, %edx
	jmp *%rdx
	.bundle_unlock
8:	cmp $'k', %eax
	jne 9f
	/* A jump onto the stack (readable and writable, never executable). */
	mov %esp, %edx
	.bundle_lock
	and $-32, %edx
	jmp *%rdx
	.bundle_unlock
9:	EXIT $0
