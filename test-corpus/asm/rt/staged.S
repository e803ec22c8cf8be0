/* What a loaded program sees around its segments' file bytes: HLT from the end of its
   code to the end of the code's last page and in the trampoline past slot 0, zeros from
   the end of its read-only data and of its data to the end of their pages, in all of
   .bss and in the first 256 KiB of the heap. Exits 0 when all hold, else the number of the first check that failed. zvrun's
   tests also run it with junk in the file's padding and the note moved after .data, which
   zvrun reads straight into guest memory: none of it may reach the guest. */
#include "zv.inc"
	.text
	.globl _start
/* Fails with the code in %ebx unless every byte in [%esi, %edi) equals %al. */
.macro EXPECT_FILL
.Lfill\@:
	cmp %edi, %esi
	jae .Lfilled\@
	cmpb %al, (%esi)
	jne fail
	inc %esi
	jmp .Lfill\@
.Lfilled\@:
.endm

_start:
	/* 1: code tail */
	mov $text_end, %esi
	mov %esi, %edi
	add $4095, %edi
	and $-4096, %edi
	mov $0xf4, %eax
	mov $1, %ebx
	EXPECT_FILL
	/* 2: trampoline past slot 0 */
	mov $0x10020, %esi
	mov $0x20000, %edi
	mov $2, %ebx
	EXPECT_FILL
	/* 3: read-only data tail */
	mov $rodata_end, %esi
	mov %esi, %edi
	add $4095, %edi
	and $-4096, %edi
	xor %eax, %eax
	mov $3, %ebx
	EXPECT_FILL
	/* 4: data tail and all of .bss */
	mov $data_end, %esi
	mov $bss_end, %edi
	mov $4, %ebx
	EXPECT_FILL
	/* 5: the data itself */
	mov $5, %ebx
	cmpl $0x5a5a5a5a, data_start
	jne fail
	/* 6: the first 256 KiB of the heap */
	mov $MANIFEST_PTR, %edx
	mov (%edx), %edx
	mov (%edx), %esi            /* heap_ptr */
	lea 0x40000(%esi), %edi
	mov $6, %ebx
	EXPECT_FILL
	xor %ebx, %ebx
fail:
	ZV ID_EXIT, %rbx
	hlt
text_end:

	.section .rodata
	.ascii "read-only bytes"
rodata_end:

	.data
data_start:
	.long 0x5a5a5a5a
	.ascii "data"
data_end:

	.bss
	.skip 3 * 4096 + 100
bss_end:
