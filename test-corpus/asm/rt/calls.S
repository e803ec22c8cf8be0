/* Self-checking test of the six calls' error paths and register promises. Exits 0 when
   every check passes, else with the number of the first failing check. With argv[1]
   "w" it then writes into a jailed region (must fault); with "b" it blocks reading
   stdin while a region is jailed (for inspecting /proc/PID/maps), then exits 0. */
#include "zv.inc"
	.section .rodata
ro:	.quad 0
	.data
badid:	.quad 0x12345678, 0
hiid:	.quad 0x164616552, 0, 1, 0, 0, 0
	.bss
	.balign 64
buf:	.skip 64
	.text
	.globl _start
_start:
	mov (%rsp), %rax
	mov %rax, argc(%rip)
	mov 16(%rsp), %rax
	mov %rax, argv1(%rip)
	/* 1: unknown id */
	lea badid(%rip), %rdi
	TRAP
	EXPECT $-1, 1
	/* 2: id with upper bits set */
	lea hiid(%rip), %rdi
	TRAP
	EXPECT $-1, 2
	/* 3: bad channel */
	ZV ID_WRITE, $99, $buf, $1, $0
	EXPECT $-22, 3
	/* 4: negative size */
	ZV ID_WRITE, $1, $buf, $-1, $0
	EXPECT $-14, 4
	/* 5: negative offset */
	ZV ID_WRITE, $1, $buf, $1, $-5
	EXPECT $-22, 5
	/* 6: buffer not mapped */
	ZV ID_WRITE, $1, $0x50000000, $8, $0
	EXPECT $-22, 6
	/* 7: Read into read-only memory */
	ZV ID_READ, $0, $ro, $8, $0
	EXPECT $-22, 7
	/* 8: Read from a write-only channel */
	ZV ID_READ, $1, $buf, $8, $0
	EXPECT $-22, 8
	/* 9: argument array not readable */
	mov $0x50000000, %edi
	TRAP
	EXPECT $-14, 9
	/* 10: Fork outside daemon mode */
	ZV ID_FORK
	EXPECT $0, 10
	/* 11, 12, 13: callee-saved registers kept, the others zeroed */
	mov $1, %ebx
	mov $2, %ebp
	mov $3, %r12d
	mov $4, %r13d
	mov $5, %r14d
	mov $6, %r15d
	mov $7, %ecx
	mov $7, %edx
	mov $7, %esi
	mov $7, %r8d
	mov $7, %r9d
	mov $7, %r10d
	mov $7, %r11d
	movq %rcx, %xmm0
	movq %rcx, %xmm15
	ZV ID_FORK
	cmp $1, %rbx
	jne 11f
	cmp $2, %rbp
	jne 11f
	cmp $3, %r12
	jne 11f
	cmp $4, %r13
	jne 11f
	cmp $5, %r14
	jne 11f
	cmp $6, %r15
	jne 11f
	or %rcx, %rdx
	or %rsi, %rdx
	or %r8, %rdx
	or %r9, %rdx
	or %r10, %rdx
	or %r11, %rdx
	jne 12f
	movq %xmm0, %rax
	movq %xmm15, %rcx
	or %rcx, %rax
	jne 13f
	/* 21: the x87 stack survives a trap (a value pushed before, added to after). */
	fld1
	ZV ID_FORK
	fld1
	faddp
	fistpl x87out(%rip)
	cmpl $2, x87out(%rip)
	je 20f
	EXIT $21
11:	EXIT $11
12:	EXIT $12
13:	EXIT $13
20:	/* The heap from the user manifest. */
	mov $MANIFEST_PTR, %edx
	mov (%edx), %eax
	mov (%eax), %r12
	mov %r12, heap(%rip)
	/* Fill two 64 KiB regions with HLT. */
	mov %r12d, %edi
	mov $0xf4, %al
	mov $0x20000, %ecx
	rep stosb %al, (%edi)
	/* Region 0: mov $7,%eax; P2. */
	movabs $0x24814800000007b8, %rax
	mov %rax, (%r12d)
	movabs $0xf4f4c37fffffe024, %rax
	mov %rax, 8(%r12d)
	/* 14: Jail it and call it. */
	ZV ID_JAIL, %r12, $0x10000
	EXPECT $0, 14
	mov %r12, %rcx
	PCALL %rcx, %ecx
	EXPECT $7, 15
	/* 16: region 1 holds a syscall: Jail refuses it. */
	movw $0x050f, 0x10000(%r12d)
	lea 0x10000(%r12), %rbx
	ZV ID_JAIL, %rbx, $0x10000
	EXPECT $-1, 16
	/* 17: unaligned address */
	lea 32(%r12), %rbx
	ZV ID_JAIL, %rbx, $0x10000
	EXPECT $-22, 17
	/* 18: outside the heap (the code segment) */
	ZV ID_JAIL, $0x20000, $0x10000
	EXPECT $-22, 18
	/* 19: size 0 */
	ZV ID_JAIL, %r12, $0
	EXPECT $-22, 19
	/* Modes. */
	mov argc(%rip), %rax
	cmp $2, %rax
	jb 30f
	mov argv1(%rip), %rax
	movzbl (%eax), %eax
	cmp $'w', %eax
	jne 21f
	mov heap(%rip), %r12
	movb $0x90, (%r12d)
	EXIT $98
21:	cmp $'b', %eax
	jne 30f
	ZV ID_READ, $0, $buf, $1, $0
30:	/* 20: Unjail, then the region is writable again. */
	mov heap(%rip), %r12
	ZV ID_UNJAIL, %r12, $0x10000
	EXPECT $0, 20
	movb $0x90, (%r12d)
	/* 21: Fork whose reserved word lies past the end of the heap (unmapped): -EFAULT */
	mov $MANIFEST_PTR, %edx
	mov (%edx), %eax
	mov (%eax), %edi            /* heap_ptr (below 4 GiB) */
	mov 8(%eax), %ecx           /* heap_size */
	lea -8(%rdi,%rcx), %edi
	movq $ID_FORK, (%edi)
	TRAP
	EXPECT $-14, 21
	/* 22, 23: Unjail by RUNTIME.md's spelling of its id, "Unja" (0x616a6e55), works too */
	mov heap(%rip), %r12
	mov %r12d, %edi
	mov $0xf4, %al
	mov $0x10000, %ecx
	rep stosb %al, (%edi)
	ZV ID_JAIL, %r12, $0x10000
	EXPECT $0, 22
	ZV 0x616a6e55, %r12, $0x10000
	EXPECT $0, 23
	movb $0x90, (%r12d)
	EXIT $0
	.data
argc:	.quad 0
argv1:	.quad 0
heap:	.quad 0
x87out:	.long 0
