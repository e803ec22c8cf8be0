/* trap.S: zrt's two assembly entry points.
 *
 * __zv_trap: the one way into the runtime (RUNTIME.md section 3), a direct call to the
 * trap entry at 0x10000 with %rdi already pointing at the call's words.
 *
 * __zv_syscall: where zvld sends every `syscall` instruction (TOOLCHAIN.md rewrite table:
 * `lea -128(%rsp),%esp; call __zv_syscall; lea 128(%rsp),%esp`). It receives a Linux
 * system call (number in %rax, arguments in %rdi, %rsi, %rdx, %r10, %r8, %r9) and, like
 * the kernel, preserves every register except %rax, %rcx and %r11, including %xmm0-15
 * (the trap zeroes vector registers; the C half is built with -mgeneral-regs-only).
 * The words are handed to __zv_syscall_c (syscall.c) as an array [nr, a1..a6].
 *
 * This file is ordinary gcc/gas output as far as zvld is concerned: it is rewritten and
 * bundle-aligned like any other object, never trusted.
 */
	.text
	.globl __zv_trap
	.type __zv_trap,@function
__zv_trap:
	call 0x10000
	ret
	.size __zv_trap, .-__zv_trap

	.globl __zv_syscall
	.type __zv_syscall,@function
__zv_syscall:
	push %rbp
	mov %rsp,%rbp
	push %rdi
	push %rsi
	push %rdx
	push %r8
	push %r9
	push %r10
	/* the argument words, lowest address first: nr, a1, a2, a3, a4, a5, a6 */
	push %r9
	push %r8
	push %r10
	push %rdx
	push %rsi
	push %rdi
	push %rax
	mov %rsp,%rdi
	and $-16,%rsp
	sub $256,%rsp
	movdqu %xmm0,0(%rsp)
	movdqu %xmm1,16(%rsp)
	movdqu %xmm2,32(%rsp)
	movdqu %xmm3,48(%rsp)
	movdqu %xmm4,64(%rsp)
	movdqu %xmm5,80(%rsp)
	movdqu %xmm6,96(%rsp)
	movdqu %xmm7,112(%rsp)
	movdqu %xmm8,128(%rsp)
	movdqu %xmm9,144(%rsp)
	movdqu %xmm10,160(%rsp)
	movdqu %xmm11,176(%rsp)
	movdqu %xmm12,192(%rsp)
	movdqu %xmm13,208(%rsp)
	movdqu %xmm14,224(%rsp)
	movdqu %xmm15,240(%rsp)
	call __zv_syscall_c
	movdqu 0(%rsp),%xmm0
	movdqu 16(%rsp),%xmm1
	movdqu 32(%rsp),%xmm2
	movdqu 48(%rsp),%xmm3
	movdqu 64(%rsp),%xmm4
	movdqu 80(%rsp),%xmm5
	movdqu 96(%rsp),%xmm6
	movdqu 112(%rsp),%xmm7
	movdqu 128(%rsp),%xmm8
	movdqu 144(%rsp),%xmm9
	movdqu 160(%rsp),%xmm10
	movdqu 176(%rsp),%xmm11
	movdqu 192(%rsp),%xmm12
	movdqu 208(%rsp),%xmm13
	movdqu 224(%rsp),%xmm14
	movdqu 240(%rsp),%xmm15
	lea -48(%rbp),%rsp
	pop %r10
	pop %r9
	pop %r8
	pop %rdx
	pop %rsi
	pop %rdi
	pop %rbp
	ret
	.size __zv_syscall, .-__zv_syscall

	.section .note.GNU-stack,"",@progbits
