//! The attack catalogue: every attack of FORM.md section 5 (and a few more) as a complete
//! nexe with the exact set of rule ids the verifier must report. One table serves the
//! engine's unit tests, the generated `test-corpus/attacks/` files and the zvverify
//! integration test, so the three can never drift apart.

use crate::form::{self, Rule};
use crate::testgen::{p1_bytes, Asm};
use crate::writer::{NexeWriter, RW, RX};

/// One attack: a file and the rules it must trip.
#[derive(Clone, Debug)]
pub struct Attack {
    /// File stem, also the test name.
    pub name: &'static str,
    /// What the attack tries.
    pub what: &'static str,
    /// The complete nexe.
    pub nexe: Vec<u8>,
    /// The exact set of rule ids the verifier must report.
    pub rules: Vec<Rule>,
}

/// A nexe whose code is built by `f` (then padded and given the HLT sled).
pub fn code_nexe(f: impl FnOnce(&mut Asm)) -> Vec<u8> {
    let mut a = Asm::new();
    f(&mut a);
    let code = a.finish();
    let len = code.len() as u64;
    NexeWriter::with_code(code).symbol("_start", form::CODE_START, len).build()
}

/// A nexe whose code is `bytes` at offset 0 (then padded and given the HLT sled).
pub fn bytes_nexe(bytes: &[u8]) -> Vec<u8> {
    code_nexe(|a| {
        a.raw(bytes);
    })
}

fn rel32(from_end: usize, to: usize) -> [u8; 4] {
    ((to as i64 - from_end as i64) as i32).to_le_bytes()
}

fn jmp_to(a: &mut Asm, target: usize) {
    let at = a.pos();
    let mut v = vec![0xE9];
    v.extend_from_slice(&rel32(at + 5, target));
    a.emit(&v);
}

/// Every attack of FORM.md section 5, with the rules each must report.
pub fn attacks() -> Vec<Attack> {
    use Rule::*;
    let mut v = Vec::new();
    let mut add = |name, what, nexe, rules: &[Rule]| v.push(Attack { name, what, nexe, rules: rules.to_vec() });

    add(
        "jump-into-p1",
        "direct jump to the branch of P1, skipping its mask",
        code_nexe(|a| {
            jmp_to(a, 35);
            a.align();
            a.raw(&p1_bytes(0, false));
        }),
        &[C7],
    );
    add(
        "jump-into-p2",
        "direct jump to the ret of P2, skipping its mask",
        code_nexe(|a| {
            jmp_to(a, 40);
            a.align();
            a.p2();
        }),
        &[C7],
    );
    add(
        "p1-straddles-bundle",
        "P1's mask at the end of one bundle and its jmp at the start of the next",
        code_nexe(|a| {
            a.nop_to(29);
            a.raw(&p1_bytes(0, false));
        }),
        &[C9],
    );
    add(
        "p2-straddles-bundle",
        "P2's mask at the end of one bundle and its ret at the start of the next",
        code_nexe(|a| {
            a.nop_to(24);
            a.raw(&form::P2_MASK_BYTES);
            a.raw(&[0xC3]);
        }),
        &[C9],
    );
    add(
        "instruction-straddles-bundle",
        "a 5-byte mov starting 2 bytes before a bundle boundary",
        code_nexe(|a| {
            a.nop_to(30);
            a.raw(&[0xB8, 0x90, 0x90, 0x90, 0x90]);
        }),
        &[C2],
    );
    add(
        "branch-into-instruction",
        "direct jump into the middle of a mov",
        code_nexe(|a| {
            jmp_to(a, 6);
            a.raw(&[0xB8, 0x0F, 0x05, 0x90, 0x90]);
        }),
        &[C7],
    );
    add(
        "branch-unaligned-outside",
        "direct jump to an unaligned address in the trampoline page",
        code_nexe(|a| {
            let rel = (form::TRAMPOLINE_START + 1).wrapping_sub(form::CODE_START + 5) as u32;
            let mut i = vec![0xE9];
            i.extend_from_slice(&rel.to_le_bytes());
            a.raw(&i);
        }),
        &[C7],
    );
    add(
        "branch-above-code-limit",
        "direct jump to a bundle start at CODE_LIMIT",
        code_nexe(|a| {
            let rel = form::CODE_LIMIT.wrapping_sub(form::CODE_START + 5) as u32;
            let mut i = vec![0xE9];
            i.extend_from_slice(&rel.to_le_bytes());
            a.raw(&i);
        }),
        &[C7],
    );
    add("unmasked-jmp-rax", "jmp *%rax with no mask", bytes_nexe(&[0xFF, 0xE0]), &[C9]);
    add(
        "unmasked-call-rax",
        "call *%rax with no mask, ending at a bundle",
        code_nexe(|a| {
            a.emit_at_bundle_end(&[0xFF, 0xD0]);
        }),
        &[C9],
    );
    add("jmp-mem", "jmp *(%rsp): indirect jump through memory", bytes_nexe(&[0xFF, 0x24, 0x24]), &[C9]);
    add("bare-ret", "ret without the P2 mask", bytes_nexe(&[0xC3]), &[C9]);
    add("ret-imm", "ret $8", bytes_nexe(&[0xC2, 0x08, 0x00]), &[C9]);
    add("p1-register-mismatch", "and $-32,%eax then jmp *%rbx", bytes_nexe(&[0x83, 0xE0, 0xE0, 0xFF, 0xE3]), &[C9]);
    add("p1-mask-16", "and $-16,%eax then jmp *%rax", bytes_nexe(&[0x83, 0xE0, 0xF0, 0xFF, 0xE0]), &[C9]);
    add(
        "p1-mask-64bit",
        "and $-32,%rax (keeps the upper half) then jmp *%rax",
        bytes_nexe(&[0x48, 0x83, 0xE0, 0xE0, 0xFF, 0xE0]),
        &[C9],
    );
    add(
        "p2-wrong-immediate",
        "andq $-32,(%rsp); ret (does not clear bit 31 and up)",
        bytes_nexe(&[0x48, 0x81, 0x24, 0x24, 0xE0, 0xFF, 0xFF, 0xFF, 0xC3]),
        &[C9],
    );
    add("syscall", "syscall", bytes_nexe(&[0x0F, 0x05]), &[C3]);
    add("int-0x80", "int $0x80", bytes_nexe(&[0xCD, 0x80]), &[C3]);
    add("sysenter", "sysenter", bytes_nexe(&[0x0F, 0x34]), &[C3]);
    add("wrfsbase", "wrfsbase %rax", bytes_nexe(&[0xF3, 0x48, 0x0F, 0xAE, 0xD0]), &[C3]);
    add("wrgsbase", "wrgsbase %rax", bytes_nexe(&[0xF3, 0x48, 0x0F, 0xAE, 0xD8]), &[C3]);
    add("mov-to-fs", "mov %ax,%fs", bytes_nexe(&[0x8E, 0xE0]), &[C3]);
    add("fs-memory-operand", "mov %fs:0,%rax", bytes_nexe(&[0x64, 0x48, 0x8B, 0x04, 0x25, 0, 0, 0, 0]), &[C4]);
    add("gs-memory-operand", "mov %gs:8,%eax", bytes_nexe(&[0x65, 0x8B, 0x04, 0x25, 8, 0, 0, 0]), &[C4]);
    add("cpuid", "cpuid", bytes_nexe(&[0x0F, 0xA2]), &[C3]);
    add("mpx-bndmov", "bndmov %bnd0,(%rsp) (MPX)", bytes_nexe(&[0x66, 0x0F, 0x1B, 0x04, 0x24]), &[C3]);
    add("bnd-jmp", "bnd jmp (the MPX bnd prefix on a branch)", bytes_nexe(&[0xF2, 0xE9, 0, 0, 0, 0]), &[C3]);
    add("rdtsc", "rdtsc", bytes_nexe(&[0x0F, 0x31]), &[C3]);
    add("mem-rax-no-67", "mov (%rax),%rax", bytes_nexe(&[0x48, 0x8B, 0x00]), &[C5]);
    add("mem-rsp-index-no-67", "mov (%rsp,%rax,1),%rax", bytes_nexe(&[0x48, 0x8B, 0x04, 0x04]), &[C5]);
    add("mem-rbp-no-67", "mov 0(%rbp),%rax", bytes_nexe(&[0x48, 0x8B, 0x45, 0x00]), &[C5]);
    add("moffs64-load", "movabs 0x100000000,%rax", bytes_nexe(&[0x48, 0xA1, 0, 0, 0, 0, 1, 0, 0, 0]), &[C5]);
    add(
        "gather-no-67",
        "vpgatherdd %xmm1,(%rax,%xmm2,4),%xmm0",
        bytes_nexe(&[0xC4, 0xE2, 0x71, 0x90, 0x04, 0x90]),
        &[C5],
    );
    add("rep-stos-no-67", "rep stos %rax,(%rdi)", bytes_nexe(&[0xF3, 0x48, 0xAB]), &[C5]);
    add("bts-reg-mem", "bts %rax,(%ebx)", bytes_nexe(&[0x67, 0x48, 0x0F, 0xAB, 0x03]), &[C3]);
    add("add-rsp", "add $8,%rsp", bytes_nexe(&[0x48, 0x83, 0xC4, 0x08]), &[C6]);
    add("mov-rsp", "mov %rax,%rsp", bytes_nexe(&[0x48, 0x89, 0xC4]), &[C6]);
    add("pop-rsp", "pop %rsp", bytes_nexe(&[0x5C]), &[C6]);
    add("leave", "leave", bytes_nexe(&[0xC9]), &[C3, C6]);
    add("xchg-rsp", "xchg %rax,%rsp", bytes_nexe(&[0x48, 0x94]), &[C6]);
    add("mulx-rsp", "mulx %rax,%rsp,%rcx (VEX.vvvv names rsp)", bytes_nexe(&[0xC4, 0xE2, 0xDB, 0xF6, 0xC8]), &[C6]);
    add("branch-66", "0x66-prefixed jcc", bytes_nexe(&[0x66, 0x0F, 0x84, 0x00, 0x00, 0x00, 0x00]), &[C4]);
    add("branch-67", "0x67-prefixed jmp (jecxz-style)", bytes_nexe(&[0x67, 0xE3, 0x00]), &[C4]);
    // lock on a branch is no instruction (#UD): undecodable, C2 (docs/zvverify.md).
    add("branch-lock", "lock-prefixed jmp rel8", bytes_nexe(&[0xF0, 0xEB, 0x00]), &[C2]);
    add("branch-notrack", "notrack P1 jmp (3e prefix)", bytes_nexe(&[0x83, 0xE0, 0xE0, 0x3E, 0xFF, 0xE0]), &[C4, C9]);
    add(
        "call-not-at-bundle-end",
        "call rel32 ending at offset 5",
        code_nexe(|a| {
            let mut i = vec![0xE8];
            i.extend_from_slice(&rel32(5, 64));
            a.raw(&i);
        }),
        &[C8],
    );
    add(
        "no-hlt-sled",
        "code that ends in NOPs instead of a HLT sled",
        NexeWriter::with_code(vec![0x90; 64]).build(),
        &[C1],
    );
    add("undecodable", "the byte 06 (push %es, invalid in 64-bit mode)", bytes_nexe(&[0x06]), &[C2]);
    add(
        "wx-code-segment",
        "a code segment that is writable and executable",
        {
            let mut w = NexeWriter::with_code(Asm::new().finish());
            w.segments[0].flags = RX | RW;
            w.build()
        },
        &[C10],
    );
    add(
        "second-exec-segment",
        "a second executable segment",
        NexeWriter::with_code(Asm::new().finish())
            .segment(form::CODE_START + 0x10000, RX, vec![form::HLT; 64], 64)
            .build(),
        &[C1, C10],
    );
    add(
        "empty-exec-segment",
        "an empty PT_LOAD (p_memsz 0) marked writable and executable",
        NexeWriter::with_code(Asm::new().finish()).segment(form::CODE_START + 0x10000, RX | RW, Vec::new(), 0).build(),
        &[C10],
    );
    add(
        "executable-tls",
        "a PT_TLS segment marked executable",
        {
            let mut f = NexeWriter::with_code(Asm::new().finish())
                .segment(form::CODE_START + 0x10000, RX, Vec::new(), 0)
                .build();
            // The second program header (the empty segment) becomes PT_TLS.
            f[64 + 56..64 + 56 + 4].copy_from_slice(&7u32.to_le_bytes());
            f
        },
        &[C10],
    );
    add(
        "write-only-data-segment",
        "a data segment that is writable but not readable",
        NexeWriter::with_code(Asm::new().finish()).segment(form::CODE_START + 0x1000, 2, vec![0; 16], 16).build(),
        &[C1],
    );
    add(
        "code-not-at-code-start",
        "a code segment at 0x30000",
        {
            let mut w = NexeWriter::with_code(Asm::new().finish());
            w.segments[0].vaddr = 0x30000;
            w.entry = 0x30000;
            w.build()
        },
        &[C1],
    );
    add(
        "truncated-elf",
        "an ELF file cut after 40 bytes",
        {
            let mut f = bytes_nexe(&[0x90]);
            f.truncate(40);
            f
        },
        &[Elf],
    );
    add("rdrand", "rdrand %rax (non-deterministic)", bytes_nexe(&[0x48, 0x0F, 0xC7, 0xF0]), &[C3]);
    add("cs-prefix-on-mov", "2e prefix on a mov (only nops may carry it)", bytes_nexe(&[0x2E, 0x89, 0xC0]), &[C4]);
    add("mov-to-cr0", "mov %rax,%cr0", bytes_nexe(&[0x0F, 0x22, 0xC0]), &[C3]);
    add("endbr64", "endbr64 (CET)", bytes_nexe(&[0xF3, 0x0F, 0x1E, 0xFA]), &[C3]);
    add("xbegin", "xbegin (TSX)", bytes_nexe(&[0xC7, 0xF8, 0, 0, 0, 0]), &[C3]);
    add("clflush", "clflush (%eax)", bytes_nexe(&[0x67, 0x0F, 0xAE, 0x38]), &[C3]);
    add("avx512", "vpaddd %zmm0,%zmm0,%zmm0", bytes_nexe(&[0x62, 0xF1, 0x7D, 0x48, 0xFE, 0xC0]), &[C3]);
    add("pushf", "pushfq", bytes_nexe(&[0x9C]), &[C3]);
    add("xlat-no-67", "xlat through %rbx", bytes_nexe(&[0xD7]), &[C5]);
    add("lea-to-rsp", "lea 8(%rsp),%rsp (64-bit write)", bytes_nexe(&[0x48, 0x8D, 0x64, 0x24, 0x08]), &[C6]);
    add("sub-sp16", "sub $8,%sp (16-bit write)", bytes_nexe(&[0x66, 0x83, 0xEC, 0x08]), &[C6]);
    v
}
