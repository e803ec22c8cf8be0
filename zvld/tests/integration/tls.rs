//! General- and local-dynamic TLS from real `-fPIC` code: test-corpus/c/tls_dynamic.c
//! compiled by gcc with zvcc's code-generation flags except `-fno-pic` (zvcc itself
//! forces `-fno-pic`), with `-ftls-model=global-dynamic` or `local-dynamic`, with and
//! without `-fno-plt`; linked by zvcc, verified, run under zvrun and compared with the
//! native build of the same flags (GNU ld relaxes the same sequences) and with the
//! committed expected output. The objects must really contain the sequences, and the
//! nexe must not call `__tls_get_addr`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// zvcc's code-generation flags without `-fno-pic -fno-pie` (see zvld/src/driver.rs).
const ZV_FLAGS_BUT_PIC: &[&str] = &["-ffixed-r11", "-mno-tls-direct-seg-refs", "-fcf-protection=none"];

fn gcc_include() -> String {
    let out = run_ok(
        {
            let mut c = Command::new("gcc");
            c.arg("-print-file-name=include");
            c
        },
        "gcc -print-file-name",
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Compiles `src` to an object with gcc, zvcc's flags but `-fPIC`, and `model` flags.
fn pic_object(dir: &Path, src: &Path, model: &[&str]) -> PathBuf {
    let obj = dir.join("pic.o");
    let mut c = Command::new("gcc");
    c.arg("-O2").arg("-fPIC").args(model).args(ZV_FLAGS_BUT_PIC);
    c.arg("-nostdinc").arg("-isystem").arg(sysroot().join("include")).arg("-isystem").arg(gcc_include());
    c.arg("-c").arg(src).arg("-o").arg(&obj);
    run_ok(c, "gcc -fPIC -c");
    obj
}

fn relocation_types(obj: &Path) -> String {
    let mut c = Command::new("objdump");
    c.arg("-dr").arg(obj);
    String::from_utf8_lossy(&run_ok(c, "objdump -dr").stdout).into_owned()
}

fn pic_program(model: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = repo().join("test-corpus/c/tls_dynamic.c");
    let obj = pic_object(d, &src, model);
    let relocs = relocation_types(&obj);
    for e in expect {
        assert!(relocs.contains(e), "gcc {model:?} emitted no {e}:\n{relocs}");
    }
    let nexe = d.join("tls.nexe");
    let mut c = zvcc();
    c.arg(&obj).arg("-o").arg(&nexe);
    run_ok(c, &format!("zvcc linking -fPIC {model:?}"));
    verify(&nexe);
    let mut dis = Command::new("objdump");
    dis.arg("-d").arg(&nexe);
    let text = String::from_utf8_lossy(&run_ok(dis, "objdump -d").stdout).into_owned();
    assert!(!calls_tls_get_addr(&text), "the relaxed nexe still calls __tls_get_addr");
    let native = d.join("tls.native");
    let mut g = native_gcc();
    g.arg("-O2").arg("-static").arg("-fPIC").args(model).arg(&src).arg("-o").arg(&native);
    run_ok(g, "native gcc -fPIC");
    let want = run_ok(Command::new(&native), "native tls_dynamic");
    let want = String::from_utf8_lossy(&want.stdout).into_owned();
    let expected = std::fs::read_to_string(repo().join("test-corpus/c/tls_dynamic.expected")).unwrap();
    assert_same_text("native -fPIC build vs tls_dynamic.expected", &expected, &want);
    let mut run = Command::new(sibling_binary("zvrun"));
    run.arg("--timeout").arg("60").arg(&nexe);
    let got = run_ok(run, "zvrun tls_dynamic (-fPIC)");
    assert_same_text(&format!("-fPIC {model:?}: zvrun vs native"), &want, &String::from_utf8_lossy(&got.stdout));
}

/// Whether a disassembly calls `__tls_get_addr` (the relaxed sequences must not).
fn calls_tls_get_addr(objdump: &str) -> bool {
    objdump.lines().any(|l| l.contains("call") && l.contains("<__tls_get_addr>"))
}

#[test]
fn general_dynamic_pic_is_relaxed_to_local_exec() {
    pic_program(&["-ftls-model=global-dynamic"], &["R_X86_64_TLSGD", "R_X86_64_TLSLD", "R_X86_64_DTPOFF32"]);
}

#[test]
fn local_dynamic_pic_is_relaxed_to_local_exec() {
    pic_program(&["-ftls-model=local-dynamic"], &["R_X86_64_TLSLD", "R_X86_64_DTPOFF32"]);
}

/// `-fno-plt`: the call is `call *__tls_get_addr@GOTPCREL(%rip)`.
#[test]
fn general_dynamic_no_plt_is_relaxed_to_local_exec() {
    pic_program(&["-ftls-model=global-dynamic", "-fno-plt"], &["R_X86_64_TLSGD", "R_X86_64_GOTPCRELX"]);
}

#[test]
fn local_dynamic_no_plt_is_relaxed_to_local_exec() {
    pic_program(&["-ftls-model=local-dynamic", "-fno-plt"], &["R_X86_64_TLSLD", "R_X86_64_GOTPCRELX"]);
}

/// `_start` with a general-dynamic sequence, `__zv_tp` defined beside it, no libc: the
/// relaxed sequence needs no `__tls_get_addr`; `extra` is more code for `_start`.
fn bare_gd_program(dir: &Path, extra: &str) -> PathBuf {
    let s = dir.join("bare.s");
    std::fs::write(
        &s,
        format!(
            ".text\n.globl _start\n_start:\n  .byte 0x66\n  leaq tval@tlsgd(%rip), %rdi\n  .word 0x6666\n  rex64\n\
             \x20 call __tls_get_addr@PLT\n  movl (%rax), %eax\n{extra}  hlt\n\
             .data\n.globl __zv_tp\n__zv_tp:\n  .quad 0\n.section .tbss,\"awT\",@nobits\ntval:\n  .zero 4\n\
             .section .note.GNU-stack,\"\",@progbits\n"
        ),
    )
    .unwrap();
    let obj = dir.join("bare.o");
    let mut c = Command::new("gcc");
    c.arg("-c").arg(&s).arg("-o").arg(&obj);
    run_ok(c, "gcc -c bare.s");
    obj
}

#[test]
fn tls_get_addr_need_not_exist_when_every_call_is_relaxed() {
    let dir = tempfile::tempdir().unwrap();
    let obj = bare_gd_program(dir.path(), "");
    let out = dir.path().join("bare.nexe");
    let mut c = zvld();
    c.arg(&obj).arg("-o").arg(&out);
    run_ok(c, "zvld without __tls_get_addr");
    verify(&out);
    // Another call of it still needs a definition.
    let obj = bare_gd_program(dir.path(), "  call __tls_get_addr@PLT\n");
    let mut c = zvld();
    c.arg(&obj).arg("-o").arg(dir.path().join("bare2.nexe"));
    let err = run_err(c, "zvld with a call of __tls_get_addr outside a sequence");
    assert!(err.contains("undefined symbol `__tls_get_addr`"), "{err}");
}
