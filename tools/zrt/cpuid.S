/* cpuid.S: __zv_cpuid, a fixed and deterministic answer to `cpuid`.
 *
 * FORM.md forbids `cpuid` (the sandbox hides the CPU's identity, and programs must
 * behave the same on every host). zvld rejects it by default; when a program cannot be
 * built without it (zstd's feature detection, for example), linking with
 * `-Wl,--emulate-cpuid` makes zvld rewrite each `cpuid` into
 * `lea -128(%rsp),%esp; call __zv_cpuid; lea 128(%rsp),%esp`. The answer describes a
 * baseline x86-64 CPU: vendor "ZeroVMZeroVM", highest leaf 1, leaf 1 with FPU, CMOV,
 * MMX, FXSR, SSE and SSE2 only; every other leaf is zero. Input %eax (leaf), output
 * %eax, %ebx, %ecx, %edx as the instruction; other registers are preserved.
 *
 * __zv_xgetbv answers `xgetbv` (rewritten the same way under --emulate-cpuid: CPU-feature
 * probes such as libgcc's `__cpu_indicator_init` read XCR0 beside cpuid): for XCR0
 * (%ecx = 0) x87 and SSE state enabled (%eax = 3), no AVX, which agrees with the emulated
 * cpuid (no OSXSAVE, so a correct probe never asks); 0 for any other register. Output
 * %edx:%eax; other registers are preserved.
 */
	.text
	.globl __zv_cpuid
	.type __zv_cpuid,@function
__zv_cpuid:
	cmp $1, %eax
	je 1f
	ja 2f
	mov $1, %eax
	mov $0x6f72655a, %ebx
	mov $0x655a4d56, %edx
	mov $0x4d566f72, %ecx
	ret
1:
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	mov $0x07808001, %edx
	ret
2:
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	ret
	.size __zv_cpuid, .-__zv_cpuid

	.globl __zv_xgetbv
	.type __zv_xgetbv,@function
__zv_xgetbv:
	xor %edx, %edx
	xor %eax, %eax
	test %ecx, %ecx
	jnz 1f
	mov $3, %eax
1:
	ret
	.size __zv_xgetbv, .-__zv_xgetbv

	.section .note.GNU-stack,"",@progbits
