/* The state a guest starts in (RUNTIME.md section 2, item 5), written to stdout for the
   test to check: the OR of every general register but rsp (8 bytes), the OR of
   xmm0-xmm15 (16), MXCSR (4), the x87 control word (4), the initial rsp (8), how far a
   string instruction moved %esi (8: 1 when DF is clear), CF, PF, ZF, SF and OF (a byte
   each, then 3 zero bytes), then every byte from
   the initial rsp to 4 GiB (the start-up block and its strings). */
#include "zv.inc"
	.data
	.balign 16
out:
gpr:	.quad 0
vec:	.quad 0, 0
mx:	.long 0
cw:	.long 0
sp0:	.quad 0
df:	.quad 0
fl:	.quad 0
end:
src:	.byte 1
dst:	.byte 0
	.text
	.globl _start
_start:
	setc fl(%rip)
	setp fl+1(%rip)
	setz fl+2(%rip)
	sets fl+3(%rip)
	seto fl+4(%rip)
	or %rbx, %rax
	or %rcx, %rax
	or %rdx, %rax
	or %rsi, %rax
	or %rdi, %rax
	or %rbp, %rax
	or %r8, %rax
	or %r9, %rax
	or %r10, %rax
	or %r11, %rax
	or %r12, %rax
	or %r13, %rax
	or %r14, %rax
	or %r15, %rax
	mov %rax, gpr(%rip)
	por %xmm1, %xmm0
	por %xmm2, %xmm0
	por %xmm3, %xmm0
	por %xmm4, %xmm0
	por %xmm5, %xmm0
	por %xmm6, %xmm0
	por %xmm7, %xmm0
	por %xmm8, %xmm0
	por %xmm9, %xmm0
	por %xmm10, %xmm0
	por %xmm11, %xmm0
	por %xmm12, %xmm0
	por %xmm13, %xmm0
	por %xmm14, %xmm0
	por %xmm15, %xmm0
	movdqu %xmm0, vec(%rip)
	stmxcsr mx(%rip)
	fnstcw cw(%rip)
	mov %rsp, sp0(%rip)
	mov $src, %esi
	mov $dst, %edi
	addr32 movsb
	sub $src, %esi
	mov %rsi, df(%rip)
	mov %rsp, %rbx
	ZV ID_WRITE, $1, $out, $end-out, $0
	movabs $0x100000000, %rcx
	sub %rbx, %rcx
	ZV ID_WRITE, $1, %rbx, %rcx, $0
	EXIT $0
