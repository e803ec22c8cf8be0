/* A call driver for conformance tests: reads records of six u64 words (the argument
   array of one call: id, 0, a, b, c, d) from channel 0, makes the call and writes its
   result (%rax, 8 bytes) to channel 1; at the end of channel 0 it exits 0. Argument
   words tagged in their top 16 bits are rebased on addresses the test cannot know:
     0x4845 "HE": heap_ptr + low 48 bits     0x454E "EN": heap end - low 48 bits
     0x524F "RO": read-only data + low 48     0x5354 "ST": 4 GiB - low 48 bits
     0x4D46 "MF": the user manifest + low 48
   Pseudo-ids: 1 executes hlt (a fault), 2 spins forever (the timeout), 3 points %rdi
   at the record + word 2 (an argument array anywhere). A Read of channel 0 in a record
   reads the bytes after that record (data for the guest). */
#include "zv.inc"
	.section .rodata
	.balign 64
ro:	.ascii "read-only bytes!"
	.bss
	.balign 64
rec:	.skip 48
res:	.skip 8
heap:	.skip 8
heapend: .skip 8
mf:	.skip 8
	.text
	.globl _start
_start:
	mov $MANIFEST_PTR, %edx
	mov (%edx), %eax
	mov %rax, mf(%rip)
	mov (%eax), %rcx            /* heap_ptr */
	mov %rcx, heap(%rip)
	mov 8(%eax), %edx           /* heap_size */
	add %rdx, %rcx
	mov %rcx, heapend(%rip)
next:
	xor %r12d, %r12d
1:	cmp $48, %r12
	jae 2f
	lea rec(%r12), %rbx
	mov $48, %r13
	sub %r12, %r13
	ZV ID_READ, $0, %rbx, %r13, $0
	test %rax, %rax
	jle done
	add %rax, %r12
	jmp 1b
2:	mov $rec, %ebx
	mov $2, %r14d
3:	cmp $6, %r14d
	jae 9f
	mov (%ebx,%r14d,8), %rax
	mov %rax, %rcx
	shr $48, %rcx
	mov %rax, %rdx
	shl $16, %rdx
	shr $16, %rdx
	cmp $0x4845, %ecx
	jne 4f
	add heap(%rip), %rdx
	jmp 8f
4:	cmp $0x454E, %ecx
	jne 5f
	mov heapend(%rip), %rax
	sub %rdx, %rax
	mov %rax, %rdx
	jmp 8f
5:	cmp $0x524F, %ecx
	jne 6f
	add $ro, %rdx
	jmp 8f
6:	cmp $0x5354, %ecx
	jne 7f
	movabs $0x100000000, %rax
	sub %rdx, %rax
	mov %rax, %rdx
	jmp 8f
7:	cmp $0x4D46, %ecx
	jne 10f
	add mf(%rip), %rdx
8:	mov %rdx, (%ebx,%r14d,8)
10:	inc %r14d
	jmp 3b
9:	mov (%ebx), %rax
	cmp $1, %rax
	jne 11f
	hlt
11:	cmp $2, %rax
	jne 12f
13:	jmp 13b
12:	mov $rec, %edi
	cmp $3, %rax
	jne 14f
	mov 16(%ebx), %rdi
14:	TRAP
	mov %rax, res(%rip)
	ZV ID_WRITE, $1, $res, $8, $0
	jmp next
done:
	EXIT $0
