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
