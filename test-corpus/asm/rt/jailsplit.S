/* A jailed region is released whole and never overlapped (docs/zvrun.md "Jail"). Each
   region is verified as one unit (C7 admits a direct branch to any instruction start
   inside it), so releasing part of one and jailing that part again with other bytes
   would leave the rest branching into unverified code: a security review escaped the
   sandbox that way (jailescape.S). Exits 0, or the number of the step that failed. */
#include "zv.inc"
	.text
	.globl _start
_start:
	HEAP_HLT 0x40000
	lea 0x10000(%r12), %rbx     /* the second 64 KiB */
	ZV ID_JAIL, %r12, $0x20000
	EXPECT $0, 1
	ZV ID_UNJAIL, %rbx, $0x10000    /* half of it */
	EXPECT $-22, 2
	ZV ID_JAIL, %rbx, $0x10000      /* inside it */
	EXPECT $-22, 3
	ZV ID_JAIL, %rbx, $0x20000      /* overlapping its end */
	EXPECT $-22, 4
	ZV ID_JAIL, %r12, $0x20000      /* exactly it again */
	EXPECT $0, 5
	ZV ID_UNJAIL, %r12, $0x40000    /* it, and more */
	EXPECT $0, 6
	ZV ID_JAIL, %rbx, $0x10000      /* now free */
	EXPECT $0, 7
	ZV ID_JAIL, %r12, $0x10000      /* its neighbour */
	EXPECT $0, 8
	ZV ID_UNJAIL, %r12, $0x20000    /* both, whole */
	EXPECT $0, 9
	ZV ID_UNJAIL, %r12, $0x10000    /* nothing jailed there: as before, 0 */
	EXPECT $0, 10
	EXIT $0
