/* The escape a security review found (see jailsplit.S): jail 128 KiB whose first half
   jumps to an instruction start in the second half, unjail the second half, hide
   `syscall` inside a movabs immediate there so that the jump lands on it, jail the second
   half again (it verifies alone), and let the first half run the hidden syscall: a raw
   write of the host's trap stub to stdout. Now the partial Unjail is refused (-EINVAL):
   exits 2 and writes nothing. */
#include "zv.inc"
	.text
	.globl _start
_start:
	HEAP_HLT 0x20000
	/* first half, bundle 0: jmp h+0x10003  (e9 rel32, rel = 0x10003 - 5 = 0xfffe) */
	movb $0xe9, (%r12d)
	movl $0xfffe, 1(%r12d)
	/* Jail the whole 128 KiB */
	ZV ID_JAIL, %r12, $0x20000
	EXPECT $0, 1
	/* Unjail only the second half */
	lea 0x10000(%r12), %rbx
	ZV ID_UNJAIL, %rbx, $0x10000
	EXPECT $0, 2
	/* second half: 48 b8 [xx 0f 05 eb 03 xx xx xx] ; andq $0x7fffffe0,(%rsp) ; ret */
	movabs $0xeb050f90b848, %rax   /* bytes: 48 b8 90 0f 05 eb 00 00 */
	mov %rax, 0x10000(%r12d)
	movb $0x03, 0x10006(%r12d)
	movw $0x9090, 0x10008(%r12d)
	movabs $0x7fffffe0242481, %rax  /* wrong order fixed below */
	/* write P2 bytes 48 81 24 24 e0 ff ff 7f c3 at +10 */
	movb $0x48, 0x1000a(%r12d)
	movb $0x81, 0x1000b(%r12d)
	movb $0x24, 0x1000c(%r12d)
	movb $0x24, 0x1000d(%r12d)
	movl $0x7fffffe0, 0x1000e(%r12d)
	movb $0xc3, 0x10012(%r12d)
	/* re-Jail the second half alone */
	ZV ID_JAIL, %rbx, $0x10000
	EXPECT $0, 3
	/* registers for the hidden write(1, 0x300000000, 16) */
	mov $1, %eax
	mov $1, %edi
	movabs $0x300000000, %rsi
	mov $16, %edx
	mov %r12, %rcx
	PCALL %rcx, %ecx
	/* rax = result of the raw syscall */
	ZV ID_EXIT, %rax
	hlt
