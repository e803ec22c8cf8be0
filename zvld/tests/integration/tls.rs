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

/// Compiles `src` to an object with gcc, zvcc's flags but `-fPIC`, and `model` flags
/// (after zvcc's, so they may override them).
fn pic_object(dir: &Path, src: &Path, model: &[&str]) -> PathBuf {
    let obj = dir.join("pic.o");
    let mut c = Command::new("gcc");
    c.arg("-O2").arg("-fPIC").args(ZV_FLAGS_BUT_PIC).args(model);
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

/// Stock gcc's initial-exec TLS (`-mtls-direct-seg-refs`, gcc's default, not zvcc's):
/// `mov x@gottpoff(%rip),%r12; mov %fs:(%r12),%eax`. TOOLCHAIN.md rebases every `%fs:`
/// operand on r11; one with a base register used to be refused ("%fs: operand with a
/// base register").
#[test]
fn initial_exec_with_direct_seg_refs_is_rebased() {
    pic_program(&["-ftls-model=initial-exec", "-mtls-direct-seg-refs"], &["R_X86_64_GOTTPOFF", "%fs:(%r"]);
}

/// Every shape of a `%fs:` operand with a base register, in hand-written assembly (base
/// alone, with disp8 and disp32, base and index, r8-r15 and rbp/r13 bases, an immediate
/// after the displacement, an 0F-map SSE load, a store, a compare whose flags are read),
/// run natively and under zvrun with the same result.
#[test]
fn fs_operands_with_base_registers_run_as_natively() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let asm = d.join("fs_forms.s");
    std::fs::write(&asm, FS_FORMS).unwrap();
    let main = d.join("main.c");
    std::fs::write(
        &main,
        "#include <stdio.h>\nint fs_forms(void);\nint main(void) { printf(\"%d\\n\", fs_forms()); return 0; }\n",
    )
    .unwrap();
    let nexe = d.join("fs.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg(&main).arg(&asm).arg("-o").arg(&nexe);
    run_ok(c, "zvcc fs_forms.s");
    verify(&nexe);
    let native = d.join("fs.native");
    let mut g = native_gcc();
    g.arg("-O2").arg("-static").arg(&main).arg(&asm).arg("-o").arg(&native);
    run_ok(g, "native gcc fs_forms.s");
    let want = String::from_utf8_lossy(&run_ok(Command::new(&native), "native fs_forms").stdout).into_owned();
    assert_same_text("native fs_forms", "1103\n", &want);
    let mut run = Command::new(sibling_binary("zvrun"));
    run.arg("--timeout").arg("60").arg(&nexe);
    let got = run_ok(run, "zvrun fs_forms");
    assert_same_text("fs_forms: zvrun vs native", &want, &String::from_utf8_lossy(&got.stdout));
}

const FS_FORMS: &str = r#"
.text
.globl fs_forms
.type fs_forms,@function
fs_forms:
  push %rbx
  push %rbp
  push %r12
  push %r13
  push %r14
  mov $tarr@tpoff, %rax
  mov $tarr@tpoff, %r13
  mov $tarr@tpoff, %rbp
  mov $tarr@tpoff, %r9
  mov $2, %ecx
  mov $3, %r12
  xor %edx, %edx
  add %fs:(%rax), %edx          # tarr[0] = 1
  add %fs:8(%rax), %edx         # disp8: tarr[2] = 3
  add %fs:0x100(%rax), %edx     # disp32: tarr[64] = 65
  add %fs:(%rax,%rcx,4), %edx   # base and index: tarr[2] = 3
  add %fs:4(%r13,%r12,4), %edx  # r13 base, r12 index: tarr[4] = 5
  add %fs:(%rbp), %edx          # rbp base (mod 01, disp8 0): 1
  add %fs:12(%r9), %edx         # r9 base: tarr[3] = 4
  addl $1000, %fs:16(%rax)      # an immediate after the displacement: tarr[4] = 1005
  add %fs:16(%rax), %edx        # 1005
  movl $7, %fs:tarr@tpoff+20    # no base: tarr[5] = 7
  add %fs:20(%rax), %edx        # 7
  mov %fs:0, %r14               # the thread pointer itself
  add (%r14,%rax), %edx         # tarr[0] = 1
  movq %fs:24(%rax), %xmm0      # f3 0f 7e: tarr[6] = 7
  movd %xmm0, %ebx
  add %ebx, %edx                # 7
  cmpl $3, %fs:8(%rax)          # flags of a compare on a %fs: operand
  sete %bl
  movzbl %bl, %ebx
  add %ebx, %edx                # 1
  mov %edx, %eax
  pop %r14
  pop %r13
  pop %r12
  pop %rbp
  pop %rbx
  ret
.size fs_forms,.-fs_forms
.section .tdata,"awT",@progbits
.globl tarr
.align 4
tarr:
  .long 1,2,3,4,5,6,7,8
  .rept 56
  .long 0
  .endr
  .long 65
.section .note.GNU-stack,"",@progbits
"#;

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

/// A `%fs:` operand that also carries another segment override (the last one, %fs,
/// counts) or xrelease on a store is rebased without those prefixes, as other
/// instructions lose them. QA finding: they were kept and the output failed C4/C3.
#[test]
fn fs_operands_lose_prefixes_without_effect() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("fsp.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n__thread int tv = 5;\n\
         __attribute__((noinline)) int get(void) { int r;\n\
           __asm__ volatile(\".byte 0x3e\\n\\tmovl %%fs:tv@tpoff, %0\" : \"=r\"(r)); return r; }\n\
         __attribute__((noinline)) void put(int v) {\n\
           __asm__ volatile(\".byte 0xf3\\n\\tmovl %0, %%fs:tv@tpoff\" :: \"r\"(v) : \"memory\"); }\n\
         int main(void) { int a = get(); put(9); printf(\"%d %d %d\\n\", a, get(), tv); return 0; }\n",
    )
    .unwrap();
    let nexe = dir.path().join("fsp.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg("-o").arg(&nexe);
    run_ok(c, "zvcc fsp.c");
    verify(&nexe);
    let mut r = Command::new(sibling_binary("zvrun"));
    r.arg(&nexe);
    let out = String::from_utf8(run_ok(r, "zvrun fsp.nexe").stdout).unwrap();
    assert_same_text("prefixed %fs: operands", "5 9 9\n", &out);
}

/// A `%fs:` operand relative to %rip (`%fs:x(%rip)`, which no compiler emits: a
/// thread-local address is `%fs:` plus an offset) is refused naming that shape; the message
/// said its base was "not a 64-bit register", which sent readers looking for a 32-bit base.
#[test]
fn a_rip_relative_fs_operand_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("fsrip.c");
    std::fs::write(
        &src,
        "int g = 3;\n\
         int main(void) { int r; __asm__ volatile(\"movl %%fs:g(%%rip), %0\" : \"=r\"(r)); return r; }\n",
    )
    .unwrap();
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg("-o").arg(dir.path().join("fsrip.nexe"));
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "linked: {err}");
    assert!(err.contains("relative to %rip") && err.contains("main"), "{err}");
}

/// The map lists the TLS template's `.tbss` sections with their addresses, after the
/// `.tdata` ones, marked as template memory only (audit finding: only `.tdata` was
/// listed, although the template's memsz counts `.tbss`).
#[test]
fn the_map_lists_tbss_in_the_tls_template() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("t.c");
    std::fs::write(
        &src,
        "_Thread_local int tinit = 7;\n_Thread_local char tzero[135];\n\
         int main(void) { tzero[3] = (char)tinit; return tzero[3] - 7; }\n",
    )
    .unwrap();
    let map = d.join("t.map");
    let nexe = d.join("t.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg(format!("-Wl,-Map,{}", map.display())).arg("-o").arg(&nexe);
    run_ok(c, "zvcc with -Map");
    verify(&nexe);
    let text = std::fs::read_to_string(&map).unwrap();
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let template = text.lines().find(|l| l.contains("TLS template")).unwrap_or_else(|| panic!("{text}"));
    let w: Vec<&str> = template.split_whitespace().collect();
    let (vaddr, filesz, memsz) = (hex(w[2]), hex(w[4]), hex(w[6]));
    let tbss = text.lines().find(|l| l.contains("t.o(.tbss)")).unwrap_or_else(|| panic!("no .tbss in\n{text}"));
    assert!(tbss.ends_with("(TLS template only)"), "{tbss}");
    let w: Vec<&str> = tbss.split_whitespace().collect();
    let (addr, size) = (hex(w[0]), hex(w[1]));
    assert_eq!(size, 135, "{tbss}");
    assert!(addr >= vaddr + filesz && addr + size <= vaddr + memsz, "{template}\n{tbss}");
    let ran = Command::new(sibling_binary("zvrun")).arg(&nexe).output().unwrap();
    assert_eq!(ran.status.code(), Some(0), "{}", String::from_utf8_lossy(&ran.stderr));
}
