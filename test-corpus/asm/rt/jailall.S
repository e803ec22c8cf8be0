/* Jails the whole heap (its zero bytes do not verify, and the verifier scans it all to
   the end): a long verification that the session's timeout must be able to end. Exits
   with Jail's result. */
#include "zv.inc"
	.text
	.globl _start
_start:
	mov $MANIFEST_PTR, %edx
	mov (%edx), %eax
	mov (%eax), %r12            /* heap_ptr */
	mov 8(%eax), %r13d          /* heap_size */
	ZV ID_JAIL, %r12, %r13
	EXIT %rax
