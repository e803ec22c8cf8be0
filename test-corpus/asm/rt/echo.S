/* Copies channel 0 to channel 1 in 4 KiB reads until end of file or an error, then
   exits 0 (or 3 when a Read or Write returned an error, with the error's low byte in
   a last write). */
#include "zv.inc"
	.bss
	.balign 4096
buf:	.skip 4096
	.text
	.globl _start
_start:
1:	ZV ID_READ, $0, $buf, $4096, $0
	test %rax, %rax
	je 2f
	js 3f
	mov %rax, %r12
	ZV ID_WRITE, $1, $buf, %r12, $0
	test %rax, %rax
	js 3f
	jmp 1b
2:	EXIT $0
3:	neg %rax
	ZV ID_EXIT, %rax
	hlt
