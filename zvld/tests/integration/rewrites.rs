//! The rewrite table of TOOLCHAIN.md section 2, row by row, in a linked nexe: the corpus
//! program rewrite_forms.c (whose run under zvrun the corpus tests compare with the
//! native build) must contain each rewritten form, seen through objdump.

use std::process::Command;

use crate::common::*;
use crate::corpus::zv_cflags;

fn disassemble_functions(nexe: &std::path::Path, functions: &[&str]) -> String {
    let mut c = Command::new("objdump");
    c.arg("-d").arg("--no-addresses").arg(nexe);
    let out = run_ok(c, "objdump -d");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut keep = String::new();
    let mut on = false;
    for line in text.lines() {
        if line.ends_with(">:") {
            on = functions.iter().any(|f| line.ends_with(&format!("<{f}>:")));
        }
        if on {
            keep.push_str(line);
            keep.push('\n');
        }
    }
    keep
}

#[test]
fn every_rewrite_of_the_table_appears_in_rewrite_forms() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("test-corpus/c/rewrite_forms.c");
    let nexe = dir.path().join("rewrite_forms.nexe");
    let mut c = zvcc();
    c.arg("-O2").args(zv_cflags(&src)).arg(&src).arg("-o").arg(&nexe);
    run_ok(c, "zvcc rewrite_forms.c");
    verify(&nexe);
    let asm = disassemble_functions(&nexe, &["main", "strings", "pop_arg", "vla_sum", "through_table", "tail_table"]);
    let rows: &[(&str, &str)] = &[
        ("string instruction with 0x67", "67 f3 a4"),
        ("xlat with 0x67", "67 d7"),
        ("memory operand with 0x67", "(%r11d,%eiz,1)"),
        ("ret $n: pop %r11", "pop    %r11"),
        ("ret $n: add $n,%esp", "add    $0x8,%esp"),
        ("P1 on r11", "and    $0xffffffe0,%r11d"),
        ("leave: mov %ebp,%esp", "mov    %ebp,%esp"),
        ("64-bit write to %rsp made 32-bit", ",%esp"),
        ("ret: P2", "andq   $0x7fffffe0,(%rsp)"),
        ("syscall: red zone kept", "lea    -0x80(%rsp),%esp"),
        ("syscall: back", "lea    0x80(%rsp),%esp"),
        ("%fs:0x28 rebased on r11 after mov __zv_tp,%r11", "0x28(%r11d"),
    ];
    let mut missing = Vec::new();
    for (what, pattern) in rows {
        if !asm.contains(pattern) {
            missing.push(format!("{what} (`{pattern}`)"));
        }
    }
    assert!(missing.is_empty(), "rewrites not found: {missing:?}\n{asm}");
    for forbidden in ["\tendbr64", "\tleave", "\tsyscall", "%fs:"] {
        assert!(!asm.contains(forbidden), "`{forbidden}` survived rewriting:\n{asm}");
    }
}

/// Segment overrides that mean nothing in 64-bit mode (0x26, 0x36, 0x3E) are dropped from
/// nops as from other instructions; 0x2E stays on a nop (C4 allows it for assemblers'
/// padding). QA finding: `ds nop` and `ss nopl (%rdi)` were kept, and zvld refused its
/// own output as a zvld bug.
#[test]
fn segment_prefixes_on_nops_are_dropped_except_cs() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("nops.s");
    std::fs::write(
        &src,
        ".text\n.globl _start\n.type _start,@function\n_start:\n\
         .byte 0x3e, 0x90\n.byte 0x36, 0x0f, 0x1f, 0x07\n.byte 0x26, 0x48, 0x90\n\
         .byte 0x3e, 0xf2, 0x0f, 0x1f, 0x07\n.byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0\n  hlt\n\
         .section .note.GNU-stack,\"\",@progbits\n",
    )
    .unwrap();
    let obj = dir.path().join("nops.o");
    let mut a = Command::new("as");
    a.arg(&src).arg("-o").arg(&obj);
    run_ok(a, "as nops.s");
    let nexe = dir.path().join("nops.nexe");
    let mut c = zvld();
    c.arg(&obj).arg("-o").arg(&nexe);
    run_ok(c, "zvld nops.o");
    verify(&nexe);
    let code = std::fs::read(&nexe).unwrap();
    let text = &code[0x1000..0x1000 + 32];
    let expected: &[u8] = &[
        0x90, 0x0f, 0x1f, 0x07, 0x48, 0x90, 0xf2, 0x0f, 0x1f, 0x07, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0, 0xf4,
    ];
    assert_eq!(&text[..expected.len()], expected, "the nops without their 0x26/0x36/0x3E prefixes");
}
