/* Daemon mode (RUNTIME.md section 7). Warms up (writes "warm\n" on stderr and sets the
   byte `tag` to 'W'), then calls Fork. After Fork (in each forked session of a daemon,
   or at once without a job socket) it writes `tag` and then changes it (each forked
   session has its own copy), the 8-byte size of channel 3 from the user manifest when
   there is a channel 3, copies stdin to stdout, and exits with the number of bytes
   copied. Fork returning anything but 0 exits 9. */
#include "zv.inc"
	.data
tag:	.byte 'w'
	.section .rodata
warm:	.ascii "warm\n"
	.bss
	.balign 4096
buf:	.skip 4096
	.text
	.globl _start
_start:
	ZV ID_WRITE, $2, $warm, $5, $0
	movb $'W', tag(%rip)
	ZV ID_FORK
	EXPECT $0, 9
	ZV ID_WRITE, $1, $tag, $1, $0
	incb tag(%rip)
	mov $MANIFEST_PTR, %edx
	mov (%edx), %eax
	cmpl $4, 16(%eax)
	jb 1f
	mov 24(%eax), %ecx
	add $200, %ecx              /* channels[3].size: 3 * 56 + 32 */
	ZV ID_WRITE, $1, %rcx, $8, $0
1:	xor %r13d, %r13d
2:	ZV ID_READ, $0, $buf, $4096, $0
	test %rax, %rax
	jle 3f
	add %rax, %r13
	mov %rax, %r12
	ZV ID_WRITE, $1, $buf, %r12, $0
	jmp 2b
3:	ZV ID_EXIT, %r13
	hlt
