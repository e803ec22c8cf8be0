//! Link errors: each names the object, section, function and offset (or the symbol) and
//! says what to do; and zvld never writes an output it could not link or verify.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn gcc_c(dir: &Path, src: &Path, flags: &[&str]) -> std::path::PathBuf {
    let obj = dir.join(format!("{}.o", src.file_stem().unwrap().to_string_lossy()));
    let mut c = Command::new("gcc");
    c.args(flags).arg("-c").arg(src).arg("-o").arg(&obj);
    run_ok(c, "gcc -c");
    obj
}

#[test]
fn undefined_symbol_names_symbol_and_referencing_object() {
    let dir = tempfile::tempdir().unwrap();
    let src =
        write(dir.path(), "undef.c", "int missing_function(int);\nint main(void) { return missing_function(3); }\n");
    let out = dir.path().join("undef.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg("-o").arg(&out);
    let err = run_err(c, "zvcc undef.c");
    assert!(err.contains("undefined symbol `missing_function`"), "{err}");
    assert!(err.contains("undef.o(.text"), "names the object and section: {err}");
    // As `gcc -c` would name it, not zvcc's temporary object.
    assert!(!err.contains("zvcc-") && !err.contains("0-undef.o"), "{err}");
    assert!(!out.exists(), "no output is written");
}

/// Options that make gcc call a runtime zv does not provide (sanitizers, gprof's
/// `mcount`) end in undefined symbols: the message says which option they come from
/// (found building real projects with `CC=zvcc`).
#[test]
fn undefined_runtime_symbols_name_the_option_that_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "san.c", "int main(int argc, char **argv) { return argv[argc - 1][0] == 'x'; }\n");
    for (flag, says) in [("-fsanitize=address", "AddressSanitizer's runtime"), ("-pg", "gprof's profiling runtime")] {
        let mut c = zvcc();
        c.arg(flag).arg(&src).arg("-o").arg(dir.path().join("san.nexe"));
        let err = run_err(c, &format!("zvcc {flag}"));
        assert!(err.contains(says) && err.contains("build without that option"), "{flag}: {err}");
    }
}

/// gcc marks an object whose nested functions run trampolines on the stack with an
/// executable `.note.GNU-stack`. The sandbox never makes the stack executable, so zvcc
/// and zvld say so when linking (GNU ld warns too) instead of leaving it to a SIGSEGV at
/// run time; the link succeeds and the nexe verifies (QA finding).
#[test]
fn objects_that_need_an_executable_stack_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "nested.c",
        "__attribute__((noinline)) int apply(int (*f)(int), int x) { return f(x); }\n\
         int main(void) { int k = 3; int add(int x) { return x + k; } return apply(add, 4) == 7 ? 0 : 1; }\n",
    );
    let out = dir.path().join("nested.nexe");
    let mut c = zvcc();
    c.arg("-O0").arg(&src).arg("-o").arg(&out);
    let o = run_ok(c, "zvcc nested.c");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("zvcc: warning: ") && err.contains("nested.o needs an executable stack"), "{err}");
    verify(&out);
    // Linking the object compiled separately: zvld names it by its path.
    let obj = dir.path().join("nested.o");
    let mut c = zvcc();
    c.arg("-O0").arg("-c").arg(&src).arg("-o").arg(&obj);
    run_ok(c, "zvcc -c nested.c");
    let mut c = zvcc();
    c.arg(&obj).arg("-o").arg(dir.path().join("nested2.nexe"));
    let o = run_ok(c, "zvcc nested.o");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{} needs an executable stack", obj.display())), "{err}");
    let plain = write(dir.path(), "plain.c", "int main(void) { return 0; }\n");
    let mut c = zvcc();
    c.arg(&plain).arg("-o").arg(dir.path().join("plain.nexe"));
    let o = run_ok(c, "zvcc plain.c");
    assert!(o.stderr.is_empty(), "no warning without nested functions: {}", String::from_utf8_lossy(&o.stderr));
    // A section that is both writable and executable ("awx") lands in the read-only code:
    // said when linking (QA finding: silent, then SIGSEGV at run time).
    let wx = write(
        dir.path(),
        "wx.S",
        ".section .wx,\"awx\",@progbits\n.globl patch\npatch:\n  ret\n.text\n.globl main\nmain:\n  xor %eax, %eax\n  ret\n\
         .section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.arg(&wx).arg("-o").arg(dir.path().join("wx.nexe"));
    let o = run_ok(c, "zvcc wx.S");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("section .wx is writable and executable") && err.contains("SIGSEGV"), "{err}");
}

/// A data word holding a code address minus a constant that puts it before its section:
/// the message gives the offset as a signed number (it printed
/// `0xffffffffffffffffffffffff00000000`, the 128-bit two's complement, before).
#[test]
fn code_address_before_its_section_is_named_with_a_signed_offset() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "before.s",
        ".text\n.globl main\nmain:\n  xor %eax,%eax\n  ret\n.data\n  .quad main - 0x100000000\n\
         .section .note.GNU-stack,\"\",@progbits\n",
    );
    let out = dir.path().join("before.nexe");
    let mut c = zvcc();
    c.arg(&src).arg("-o").arg(&out);
    let err = run_err(c, "zvcc before.s");
    assert!(err.contains("offset -0x100000000 from the start of code section .text"), "{err}");
    assert!(!err.contains("0xffffffff"), "{err}");
}

#[test]
fn duplicate_definition_names_both_objects() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "first.c", "int twice(int x) { return 2 * x; }\nint main(void) { return twice(1); }\n");
    let b = write(dir.path(), "second.c", "int twice(int x) { return x + x; }\n");
    let mut c = zvcc();
    c.arg(&a).arg(&b).arg("-o").arg(dir.path().join("dup.nexe"));
    let err = run_err(c, "zvcc duplicate");
    assert!(err.contains("duplicate definition of `twice`"), "{err}");
    assert!(err.contains("first.o") && err.contains("second.o"), "{err}");
    // TOOLCHAIN.md: the error names object, section and offset of both definitions.
    assert!(err.contains("first.o(.text+0x0)") && err.contains("second.o(.text+0x0)"), "{err}");
}

/// Every duplicate definition of a link is named, not only the first (as GNU ld lists
/// them): two clashing functions and a clashing variable, between command-line objects
/// and with an archive member.
#[test]
fn every_duplicate_definition_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "one.c",
        "int shared_v = 1;\nint f1(void) { return 1; }\nint f2(void) { return 2; }\nint g(void);\n\
         int main(void) { return f1() + f2() + g() + shared_v; }\n",
    );
    let b = write(dir.path(), "two.c", "int f1(void) { return 10; }\nint f2(void) { return 20; }\n");
    let m = write(dir.path(), "member.c", "int shared_v = 3;\nint g(void) { return 5; }\n");
    let mo = dir.path().join("member.o");
    let mut c = zvcc();
    c.arg("-c").arg(&m).arg("-o").arg(&mo);
    run_ok(c, "zvcc -c member.c");
    let lib = dir.path().join("libm1.a");
    let mut ar = Command::new("ar");
    ar.arg("rcs").arg(&lib).arg(&mo);
    run_ok(ar, "ar");
    let mut c = zvcc();
    c.arg(&a).arg(&b).arg(&lib).arg("-o").arg(dir.path().join("dups.nexe"));
    let err = run_err(c, "zvcc with three duplicates");
    for (sym, second) in [("f1", "two.o"), ("f2", "two.o"), ("shared_v", "member.o")] {
        assert!(
            err.contains(&format!("duplicate definition of `{sym}`: in ")) && err.contains(second),
            "`{sym}` is named: {err}"
        );
    }
    assert!(err.contains("3 errors"), "{err}");
    assert!(!dir.path().join("dups.nexe").exists(), "no output is written");
}

#[test]
fn cpuid_in_user_code_is_rejected_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "cpu.c",
        "int main(void) { unsigned a, b, c, d;\n  __asm__ volatile(\"cpuid\" : \"=a\"(a), \"=b\"(b), \"=c\"(c), \"=d\"(d) : \"a\"(0));\n  return (int)(a + b + c + d); }\n",
    );
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg("-o").arg(dir.path().join("cpu.nexe"));
    let err = run_err(c, "zvcc cpuid");
    assert!(err.contains("cpuid"), "{err}");
    assert!(err.contains("in function main+0x"), "names the function and offset: {err}");
    assert!(err.contains("C3"), "names the rule: {err}");
    assert!(err.contains("cpu.o(.text"), "names object and section: {err}");
}

/// General-dynamic TLS is relaxed to local-exec only in the psABI's sequence (see
/// tests/integration/tls.rs); a TLSGD `lea` followed by anything but the call of
/// `__tls_get_addr` is an error that names the place and the sequence expected.
#[test]
fn general_dynamic_tls_outside_its_sequence_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "tlsbad.s",
        ".text\n.globl _start\n_start:\n  .byte 0x66\n  leaq tval@tlsgd(%rip), %rdi\n  call other\n  ret\nother:\n  ret\n\
         .section .tbss,\"awT\",@nobits\ntval:\n  .zero 4\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    let obj = gcc_c(dir.path(), &s, &[]);
    let out = dir.path().join("tlsbad.nexe");
    let mut c = zvld();
    c.arg(&obj).arg("-o").arg(&out);
    let err = run_err(c, "zvld with a broken TLSGD sequence");
    assert!(err.contains("R_X86_64_TLSGD against `tval`"), "{err}");
    assert!(err.contains("tlsbad.o(.text+0x8) in function _start+0x8"), "names the call's place: {err}");
    assert!(err.contains("not followed by a call of __tls_get_addr"), "{err}");
    assert!(err.contains("66 66 48 e8") && err.contains("66 48 ff 15"), "names the sequence expected: {err}");
    assert!(err.contains("-fno-pic"), "says what to do: {err}");
    assert!(!out.exists(), "no output is written");
}

#[test]
fn pic_jump_table_is_rejected_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("test-corpus/c/switch_table.c");
    let obj = gcc_c(dir.path(), &src, &["-O2", "-fPIC", "-fno-plt"]);
    let mut c = zvcc();
    c.arg(&obj).arg("-o").arg(dir.path().join("pic.nexe"));
    let err = run_err(c, "zvcc with a PIC jump table");
    assert!(err.contains("PIC jump table"), "{err}");
    assert!(err.contains("switch_table.o(.rodata"), "{err}");
    assert!(err.contains("-fno-pic"), "{err}");
    // The dispatching function is named (QA finding: only the table's section was).
    assert!(err.contains("it points into function classify"), "{err}");
}

#[test]
fn r11_live_where_a_rewrite_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "r11.s",
        ".text\n.globl _start\n_start:\n  mov %rdi,%r11\n  add %r11,%rsi\n  jmp *(%rsi)\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    let obj = gcc_c(dir.path(), &s, &[]);
    let mut c = zvld();
    c.arg(&obj).arg("-o").arg(dir.path().join("r11.nexe"));
    let err = run_err(c, "zvld r11");
    assert!(err.contains("needs %r11 as scratch, but this function uses %r11"), "{err}");
    assert!(err.contains("in function _start+0x"), "{err}");
    assert!(err.contains("-ffixed-r11"), "says what to do: {err}");
}

/// A plain label inside a function (assembly's `dispatch:`, a symbol but not STT_FUNC)
/// does not end it for the r11 rule: r11 set before the label is live after it. Audit
/// finding: the function was cut at the label, its `jmp *mem` rewrite took r11 as scratch
/// and the program computed a wrong result with no error.
#[test]
fn r11_live_across_a_plain_label_inside_a_function() {
    let dir = tempfile::tempdir().unwrap();
    let asm = |reg: &str| {
        format!(
            ".text\n.globl main\n.type main,@function\nmain:\n  movq $5,{reg}\n  leaq tab(%rip),%rax\n\
             dispatch:\n  jmp *(%rax)\n.size main,.-main\n.type f,@function\nf:\n  movq {reg},%rax\n  ret\n\
             .size f,.-f\n.data\ntab: .quad f\n.section .note.GNU-stack,\"\",@progbits\n"
        )
    };
    let s = write(dir.path(), "r11.s", &asm("%r11"));
    let mut c = zvcc();
    c.arg(&s).arg("-o").arg(dir.path().join("r11.nexe"));
    let err = run_err(c, "r11 live across a label");
    assert!(err.contains("needs %r11 as scratch, but this function uses %r11"), "{err}");
    // With rdx instead, the same code links and exits with 5.
    let s = write(dir.path(), "rdx.s", &asm("%rdx"));
    let exe = dir.path().join("rdx.nexe");
    let mut c = zvcc();
    c.arg(&s).arg("-o").arg(&exe);
    run_ok(c, "rdx");
    let out = Command::new(sibling_binary("zvrun")).arg(&exe).output().expect("zvrun runs");
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A function gcc split into `f` and `f.cold` (the cold part in `.text.unlikely`) is one
/// function for the r11 rule: r11 set in one part and read in the other is live across
/// the jump between them, so a rewrite that needs r11 in either part is refused (it was
/// silently clobbered); without r11 in either part, the same code links and runs as
/// natively.
#[test]
fn r11_live_across_the_hot_and_cold_parts_of_a_function() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "m.c",
        "#include <stdio.h>\nlong f(long);\nint main(void) { printf(\"%ld %ld\\n\", f(-2), f(-1)); return 0; }\n",
    );
    // f: r (r11 or rdx) = 5; for a negative argument, jump to f.cold, which dispatches
    // through a table back into f, where r is read.
    let part = |hot_reg: &str| {
        format!(
            ".text\n.globl f\n.type f,@function\nf:\n  movq $5, {hot_reg}\n  testq %rdi, %rdi\n  js f.cold\n  xor %eax,%eax\n  ret\n\
             .La: leaq 100({hot_reg}), %rax\n  ret\n.Lb: leaq 200({hot_reg}), %rax\n  ret\n.size f,.-f\n\
             .section .text.unlikely,\"ax\",@progbits\n.type f.cold,@function\nf.cold:\n  addq $2, %rdi\n\
             jmp *tbl(,%rdi,8)\n.size f.cold,.-f.cold\n.section .rodata\ntbl: .quad .La, .Lb\n\
             .section .note.GNU-stack,\"\",@progbits\n"
        )
    };
    let build = |name: &str, asm: String| {
        let s = write(dir.path(), &format!("{name}.s"), &asm);
        let mut c = zvcc();
        c.arg(&main).arg(&s).arg("-o").arg(dir.path().join(format!("{name}.nexe")));
        c
    };
    // r11 set in the hot part, read back there after the cold part's `jmp *mem`.
    let err = run_err(build("hot", part("%r11")), "r11 in the hot part");
    assert!(err.contains("needs %r11 as scratch, but this function uses %r11"), "{err}");
    assert!(err.contains("in function f.cold+0x"), "names the cold part: {err}");
    assert!(err.contains("-ffixed-r11") && err.contains("f.cold"), "says what to do: {err}");
    // The same with rdx: links, verifies and runs as natively (105 205).
    let exe = dir.path().join("rdx.nexe");
    run_ok(build("rdx", part("%rdx")), "rdx instead of r11");
    verify(&exe);
    let mut r = Command::new(sibling_binary("zvrun"));
    r.arg(&exe);
    assert_eq!(String::from_utf8(run_ok(r, "zvrun").stdout).unwrap(), "105 205\n");
    // r11 read only in the cold part, and the `jmp *mem` in the hot part: refused as well.
    let asm = ".text\n.globl f\n.type f,@function\nf:\n  testq %rdi, %rdi\n  js f.cold\n  xor %eax,%eax\n  ret\n\
               .Lback: jmp *tbl(,%rdi,8)\n.La: leaq 100(%rcx), %rax\n  ret\n.Lb: leaq 200(%rcx), %rax\n  ret\n\
               .size f,.-f\n.section .text.unlikely,\"ax\",@progbits\n.type f.cold,@function\nf.cold:\n\
               movq %r11, %rcx\n  addq $2, %rdi\n  jmp .Lback\n.size f.cold,.-f.cold\n\
               .section .rodata\ntbl: .quad .La, .Lb\n.section .note.GNU-stack,\"\",@progbits\n";
    let err = run_err(build("cold", asm.to_string()), "r11 in the cold part");
    assert!(err.contains("needs %r11 as scratch, but this function uses %r11"), "{err}");
    assert!(err.contains("in function f+0x"), "names the hot part: {err}");
    // The same with an alias `_f` of `f` (the name zvld keeps for that address): the
    // parts are found by address, not by the name kept (review finding).
    let aliased = asm.replace("f:\n  testq", "_f:\nf:\n  testq").replace(".globl f\n", ".globl f\n.globl _f\n");
    assert!(aliased.contains("_f:"), "{aliased}");
    let err = run_err(build("alias", aliased), "r11 in the cold part of an aliased function");
    assert!(err.contains("needs %r11 as scratch, but this function uses %r11"), "{err}");
    assert!(err.contains("in function _f+0x"), "names the hot part by its alias: {err}");
}

/// A constant table typed as data in `.text` (as hand-written assembly such as OpenSSL's
/// perlasm marks `K256`) is refused, even when its bytes happen to decode: zvld would
/// rewrite them (it gave the program different constants).
#[test]
fn a_data_object_in_a_code_section_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "tab.s",
        ".text\n.globl getk\n.type getk,@function\ngetk: leaq ktab(%rip), %rax\n  movl (%rax,%rdi,4), %eax\n  ret\n\
         .size getk,.-getk\n.type ktab,@object\nktab: .long 0x90c3008b, 0x90909090, 0x90c3d889\n.size ktab,12\n\
         .section .note.GNU-stack,\"\",@progbits\n",
    );
    let m = write(dir.path(), "m.c", "int getk(long);\nint main(void) { return getk(1) == 0x90909090 ? 0 : 1; }\n");
    let mut c = zvcc();
    c.arg(&m).arg(&s).arg("-o").arg(dir.path().join("tab.nexe"));
    let err = run_err(c, "zvcc with data in .text");
    assert!(err.contains("symbol `ktab` is data (STT_OBJECT) in a code section"), "{err}");
    assert!(err.contains("tab.o(.text+0xb)"), "names the place: {err}");
    assert!(err.contains(".rodata"), "says what to do: {err}");
    assert!(!dir.path().join("tab.nexe").exists(), "no output is written");
}

/// Untyped data in `.text` read through a RIP-relative operand (a local label, no
/// relocation; or a section symbol, through a relocation) is refused: its bytes decoded
/// (`mov 0x8(%rsp),%rax; ret`), the `ret` was rewritten and the program read a
/// different constant with no error (audit finding). Taking the address with `lea` is
/// how code addresses are taken, and stays allowed.
#[test]
fn a_load_from_a_code_section_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(dir.path(), "m.c", "long getv(void);\nint main(void) { return getv() == 0xc30824448b48 ? 0 : 1; }\n");
    for (name, head) in [
        ("local", ".text\n"),
        // The table in another code section of the object: reached through a relocation.
        ("reloc", ".section .text.other,\"ax\",@progbits\n.Lt0:\n.text\n"),
    ] {
        let table = if name == "local" { "" } else { ".section .text.other,\"ax\",@progbits\n" };
        let s = write(
            dir.path(),
            &format!("{name}.s"),
            &format!(
                "{head}.globl getv\n.type getv,@function\ngetv:\n  movq .Ltbl(%rip), %rax\n  ret\n.size getv,.-getv\n\
                 {table}.p2align 3\n.Ltbl: .quad 0x0000c30824448b48\n.section .note.GNU-stack,\"\",@progbits\n"
            ),
        );
        let mut c = zvcc();
        c.arg(&m).arg(&s).arg("-o").arg(dir.path().join(format!("{name}.nexe")));
        let err = run_err(c, name);
        assert!(err.contains("data in a code section is an error"), "{name}: {err}");
        assert!(err.contains(&format!("{name}.o(.text+0x0) in function getv+0x0")), "{name}: names the place: {err}");
        assert!(err.contains("to .rodata or .data"), "{name}: says what to do: {err}");
    }
}

/// An object of GCC LTO bytecode alone (`gcc -flto -c`, without `-ffat-lto-objects`) has
/// no machine code: the error says so and what to do, given as an object or in an
/// archive (audit finding: its symbols were reported undefined, "add the object").
#[test]
fn an_lto_bytecode_object_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lf = write(d, "lf.c", "int f(void) { return 42; }\n");
    let m = write(d, "m.c", "int f(void);\nint main(void) { return f() == 42 ? 0 : 1; }\n");
    let mut g = Command::new("gcc");
    g.arg("-O2").arg("-flto").arg("-c").arg(&lf).arg("-o").arg(d.join("lf.o"));
    run_ok(g, "gcc -flto -c");
    let mut a = Command::new("ar");
    a.current_dir(d).args(["rcs", "liblf.a", "lf.o"]);
    run_ok(a, "ar");
    for extra in [&["lf.o"][..], &["-L.", "-llf"][..]] {
        let mut c = zvcc();
        c.current_dir(d).arg(&m).args(extra).arg("-o").arg(d.join("l.nexe"));
        let err = run_err(c, "zvcc with an LTO object");
        assert!(
            err.contains("holds only GCC LTO bytecode") || err.contains("holds LTO objects (GCC LTO bytecode"),
            "{extra:?}: {err}"
        );
        assert!(err.contains("-ffat-lto-objects"), "{extra:?}: says what to do: {err}");
    }
}

/// A data reference into the middle of an instruction (`.quad main+1`) is an error that
/// names the place and says what to do (audit finding: it said only why).
#[test]
fn a_reference_into_the_middle_of_an_instruction_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "mid.s",
        ".text\n.globl _start\n.type _start,@function\n_start:\n  xor %eax,%eax\n  hlt\n.size _start,.-_start\n\
         .data\n.quad _start+1\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    let obj = gcc_c(dir.path(), &s, &[]);
    let mut c = zvld();
    c.arg(&obj).arg("-o").arg(dir.path().join("mid.nexe"));
    let err = run_err(c, "zvld mid");
    assert!(err.contains("mid.o(.data+0x0)") && err.contains("is not the start of an instruction"), "{err}");
    assert!(err.contains("refer to an instruction start"), "says what to do: {err}");
}

#[test]
fn output_that_fails_verification_is_not_written() {
    // A direct jump to an absolute address inside the code that is no instruction start
    // (CODE_START + 3, inside the jump itself): zvld cannot know what the input meant
    // there, so the verifier (C7) must refuse the output. (A jump to an absolute address
    // outside the code, `jmp 0x12345`, is refused by zvld itself before the verifier:
    // relocations_that_cannot_be_right_are_refused_by_name.)
    let dir = tempfile::tempdir().unwrap();
    let s = write(
        dir.path(),
        "abs.s",
        ".text\n.globl _start\n_start:\n  nop\n  jmp 0x20003\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    // With -g the code is first verified while DWARF is rebuilt (that rejection is not
    // kept) and then the file in full: the same error either way.
    for flags in [&[][..], &["-g"][..]] {
        let obj = gcc_c(dir.path(), &s, flags);
        let out = dir.path().join("abs.nexe");
        let mut c = zvld();
        c.arg(&obj).arg("-o").arg(&out);
        let err = run_err(c, "zvld abs");
        assert!(err.contains("fails verification"), "{err}");
        assert!(err.contains("C7"), "names the rule: {err}");
        assert!(err.contains("abs.o(.text+0x1) in function _start+0x1"), "names the input location: {err}");
        assert!(!out.exists(), "the output must not be written");
    }
}

#[test]
fn missing_library_lists_search_path() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "m.c", "int main(void) { return 0; }\n");
    let mut c = zvcc();
    c.arg(&src).arg("-lnosuchlib").arg("-o").arg(dir.path().join("m.nexe"));
    let err = run_err(c, "zvcc -lnosuchlib");
    assert!(err.contains("cannot find -lnosuchlib"), "{err}");
    // zvld alone, with no -L: the message says no directory was given rather than
    // listing an empty search path (audit finding).
    let obj = gcc_c(dir.path(), &write(dir.path(), "s.s", ".text\n.globl _start\n_start: hlt\n"), &[]);
    let mut c = zvld();
    c.arg(&obj).arg("-lnosuchlib").arg("-o").arg(dir.path().join("s.nexe"));
    let err = run_err(c, "zvld -lnosuchlib");
    assert!(
        err.contains("cannot find -lnosuchlib (no library directory was given); add its directory with -L"),
        "{err}"
    );
}

/// zvld's own link line around one object (what zvcc passes it).
fn zvld_link(obj: &Path, out: &Path) -> Command {
    let lib = sysroot().join("lib");
    let libgcc = String::from_utf8(Command::new("gcc").arg("-print-libgcc-file-name").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let mut c = zvld();
    c.arg("-o").arg(out).arg(lib.join("crt1.o")).arg(lib.join("crti.o")).arg(obj);
    c.arg(lib.join("libzrt.a")).arg(lib.join("libc.a")).arg(libgcc).arg(lib.join("crtn.o"));
    c.args(["-u", "__zv_syscall", "-u", "__zv_tp"]);
    c
}

fn zvcc_obj(dir: &Path) -> std::path::PathBuf {
    let obj = dir.join("p.o");
    let mut c = zvcc();
    c.arg("-O2").arg("-c").arg(repo().join("test-corpus/c/printf_ints.c")).arg("-o").arg(&obj);
    run_ok(c, "zvcc -c");
    obj
}

/// Inputs that cannot be mapped (a FIFO, as `<(...)` gives) are read instead; a
/// directory is an error that says so.
#[test]
fn a_fifo_input_links_and_a_directory_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let obj = zvcc_obj(d);
    let fifo = d.join("obj.fifo");
    run_ok(
        {
            let mut c = Command::new("mkfifo");
            c.arg(&fifo);
            c
        },
        "mkfifo",
    );
    let bytes = std::fs::read(&obj).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, bytes))
    };
    let out = d.join("fifo.nexe");
    run_ok(zvld_link(&fifo, &out), "zvld with a FIFO input");
    writer.join().unwrap().unwrap();
    assert!(verify(&out) > 0);
    let err = run_err(zvld_link(d, &d.join("dir.nexe")), "zvld with a directory input");
    assert!(err.contains("is a directory"), "{err}");
}

/// A relocation of a code section that points past the section's end is an error, not
/// silently dropped.
#[test]
fn a_code_relocation_past_the_section_end_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let obj = zvcc_obj(d);
    let mut b = std::fs::read(&obj).unwrap();
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(&b, 0x28), u16_at(&b, 0x3c), u16_at(&b, 0x3e));
    let sh = |i: usize| shoff + i * 64;
    let strtab = u64_at(&b, sh(shstrndx) + 0x18);
    let name = |b: &[u8], i: usize| {
        let at = strtab + u32::from_le_bytes(b[sh(i)..sh(i) + 4].try_into().unwrap()) as usize;
        let end = b[at..].iter().position(|&c| c == 0).unwrap();
        String::from_utf8_lossy(&b[at..at + end]).to_string()
    };
    let rela = (0..shnum).find(|&i| name(&b, i).starts_with(".rela.text")).expect("a .rela.text section");
    let first = u64_at(&b, sh(rela) + 0x18);
    b[first..first + 8].copy_from_slice(&0xffff_fff0u64.to_le_bytes());
    let bad = d.join("bad.o");
    std::fs::write(&bad, &b).unwrap();
    let err = run_err(zvld_link(&bad, &d.join("bad.nexe")), "zvld with a relocation past the end");
    assert!(err.contains("bad.o") && err.contains("past the section's end"), "{err}");
}

/// Output errors say "write" (not "read") and name the output.
#[test]
fn output_errors_say_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let obj = zvcc_obj(d);
    let err = run_err(zvld_link(&obj, &d.join("no/such/dir/app.nexe")), "zvld into a missing directory");
    assert!(err.contains("cannot write") && err.contains("app.nexe"), "{err}");
}

/// The queries build systems make of `$CC`: files of the sysroot come from the sysroot
/// (not the host's C library); other queries go to gcc; 32-bit and shared outputs are
/// refused with one clear message.
#[test]
fn zvcc_answers_build_system_queries_from_its_sysroot() {
    let root = sysroot();
    let out = |args: &[&str]| {
        let mut c = zvcc();
        c.args(args);
        String::from_utf8(run_ok(c, "zvcc query").stdout).unwrap().trim().to_string()
    };
    assert_eq!(Path::new(&out(&["-print-file-name=libc.a"])), root.join("lib/libc.a"));
    assert_eq!(Path::new(&out(&["-print-file-name=crt1.o"])), root.join("lib/crt1.o"));
    assert_eq!(Path::new(&out(&["-print-sysroot"])), root);
    // One multilib: -m32 and -mx32 are refused, so gcc's `32;@m32` lines are not given.
    assert_eq!(out(&["-print-multi-lib"]), ".;");
    // Not in the sysroot: gcc's answer (its libgcc), as gcc itself would give it.
    let libgcc = out(&["-print-file-name=libgcc.a"]);
    assert!(libgcc.ends_with("libgcc.a") && Path::new(&libgcc).is_file(), "{libgcc}");
    // A library only the host has (glibc's libanl.a, from libc6-dev, which gcc needs) is
    // not named: a nexe never links it, so the name comes back alone, gcc's "not found"
    // (QA finding: the host's path was printed).
    assert_eq!(out(&["-print-file-name=libanl.a"]), "libanl.a");
    assert!(out(&["-dumpversion"]).chars().next().is_some_and(|c| c.is_ascii_digit()));
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "x.c", "int main(void) { return 0; }\n");
    for (flag, want) in [("-m32", "-m32: a nexe is x86-64 code"), ("-shared", "-shared is not supported")] {
        let mut c = zvcc();
        c.arg(flag).arg(&src).arg("-o").arg(dir.path().join("x.out"));
        let err = run_err(c, flag);
        assert!(err.starts_with("zvcc: error: ") && err.contains(want) && !err.contains("zvcc: error: zvcc:"), "{err}");
    }
}

/// Review findings on TLS: `__tls_get_addr` is exempt from "undefined" only when every
/// reference is the call of a relaxed sequence (not when `--require-defined` or the entry
/// names it);
/// a thread-local access to a variable that is not thread-local is an error (as in GNU
/// ld), not wrong code, and so is an ordinary access to a thread-local one; a symbol on the call that relaxation removes is an error.
#[test]
fn tls_sequences_are_checked_against_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    // Links the objects assembled from `bodies` (one per file); returns zvld's error.
    let link = |name: &str, bodies: &[&str], extra: &[&str]| {
        let mut c = zvld();
        for (i, body) in bodies.iter().enumerate() {
            let text = format!("{body}\n.section .note.GNU-stack,\"\",@progbits\n");
            let s = write(dir.path(), &format!("{name}{i}.s"), &text);
            c.arg(gcc_c(dir.path(), &s, &[]));
        }
        let out = dir.path().join(format!("{name}.nexe"));
        c.arg("-o").arg(&out).args(extra);
        let err = run_err(c, name);
        assert!(!out.exists(), "{name}: no output");
        err
    };
    let start = ".text\n.globl _start\n_start:\n  hlt\n";
    let err = link("tgaddr", &[start], &["--require-defined", "__tls_get_addr"]);
    assert!(err.contains("undefined") && err.contains("__tls_get_addr"), "{err}");
    let gd = ".text\n.globl _start\n_start:\n  .byte 0x66\n  leaq v@tlsgd(%rip), %rdi\n  .value 0x6666\n  rex64 call __tls_get_addr@PLT\n  hlt\n";
    let data_v = ".data\n.globl v\nv: .quad 1\n.globl __zv_tp\n__zv_tp: .quad 0\n";
    let err = link("notls", &[gd, data_v], &[]);
    assert!(err.contains("not thread-local"), "{err}");
    let ie = ".text\n.globl _start\n_start:\n  movq %fs:0, %rax\n  movq v@gottpoff(%rip), %rcx\n  movl (%rax,%rcx), %eax\n  hlt\n";
    let err = link("tpoff", &[ie, data_v], &[]);
    assert!(err.contains("R_X86_64_GOTTPOFF") && err.contains("not thread-local"), "{err}");
    // The other direction: an ordinary access (from code or from data) to a variable
    // defined thread-local would reach its initial value in the TLS template.
    let tbss_v = ".section .tbss,\"awT\",@nobits\n.globl v\nv: .zero 4\n.data\n.globl __zv_tp\n__zv_tp: .quad 0\n";
    let plain = ".text\n.globl _start\n_start:\n  movl v(%rip), %eax\n  hlt\n";
    let err = link("plaintls", &[plain, tbss_v], &[]);
    assert!(err.contains("R_X86_64_PC32") && err.contains("ordinary access to a thread-local symbol"), "{err}");
    let pointer = ".text\n.globl _start\n_start:\n  hlt\n.data\np: .quad v\n";
    let err = link("pointertls", &[pointer, tbss_v], &[]);
    assert!(err.contains("R_X86_64_64") && err.contains("ordinary access to a thread-local symbol"), "{err}");
    let marked = ".text\n.globl _start\n_start:\n  .byte 0x66\n  leaq v@tlsgd(%rip), %rdi\n.globl mid\nmid:\n  .value 0x6666\n  rex64 call __tls_get_addr@PLT\n  hlt\n.section .tbss,\"awT\",@nobits\nv: .zero 4\n.data\n__zv_tp: .quad 0\n";
    let err = link("marked", &[marked], &[]);
    assert!(err.contains("symbol `mid` marks the call"), "{err}");
}

/// zvcc as a gcc stand-in (QA findings): linker options that would change the result and
/// that zvld does not implement are refused, harmless ones accepted; `-flto` and
/// AVX-512 code generation are turned off (zvld reads machine code; FORM.md's C3 never
/// allows AVX-512), so such builds still give verified nexes; a failed link leaves no
/// older output behind.
#[test]
fn zvcc_refuses_what_it_cannot_honour_and_leaves_no_stale_output() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "v.c",
        "float a[256], b[256];\nint main(void) { for (int i = 0; i < 256; i++) a[i] = a[i] * 2.0f + b[i]; return (int)a[7]; }\n",
    );
    let out = dir.path().join("v.nexe");
    for flag in ["-Wl,--whole-archive", "-Wl,--wrap=puts", "-Wl,--defsym=foo=0x1234", "-Wl,-T,script.ld"] {
        let mut c = zvcc();
        c.arg(&src).arg(flag).arg("-o").arg(&out);
        let err = run_err(c, flag);
        assert!(err.contains("zvld does not support this linker option"), "{flag}: {err}");
    }
    for flags in [
        &["-Wl,--as-needed", "-Wl,-O1", "-Wl,-z,relro", "-Wl,--gc-sections"][..],
        &["-O2", "-flto"][..],
        &["-O3", "-mavx512f"][..],
    ] {
        let mut c = zvcc();
        c.arg(&src).args(flags).arg("-o").arg(&out);
        run_ok(c, &format!("zvcc {flags:?}"));
        assert!(verify(&out) > 0, "{flags:?}: the nexe verifies");
    }
    // A failed link removes the older output.
    assert!(out.exists());
    let bad = write(dir.path(), "bad.c", "int missing(void);\nint main(void) { return missing(); }\n");
    let mut c = zvcc();
    c.arg(&bad).arg("-o").arg(&out);
    let err = run_err(c, "undefined");
    assert!(err.contains("undefined"), "{err}");
    assert!(!out.exists(), "the older nexe was removed");
}

/// zvld called directly, as a user would after reading TOOLCHAIN.md: libzrt.a anywhere
/// on the line is enough (the symbols zvld's rewrites introduce pull its members on
/// demand, without zvcc's `-u` flags); without it, the error names the input instruction
/// whose rewrite needs `__zv_syscall` (QA finding: libzrt.a after libc.a failed, and the
/// message gave no section or function).
#[test]
fn zvld_pulls_what_its_rewrites_need_from_libzrt_wherever_it_stands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let obj = zvcc_obj(d);
    let lib = sysroot().join("lib");
    let libgcc = String::from_utf8(Command::new("gcc").arg("-print-libgcc-file-name").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let head = [lib.join("crt1.o"), lib.join("crti.o"), obj.clone()];
    let orders: [&[&str]; 3] =
        [&["libzrt.a", "libc.a", "gcc"], &["libc.a", "gcc", "libzrt.a"], &["libc.a", "libzrt.a", "gcc"]];
    for (i, order) in orders.iter().enumerate() {
        let out = d.join(format!("o{i}.nexe"));
        let mut c = zvld();
        c.arg("-o").arg(&out).args(&head);
        for a in *order {
            if *a == "gcc" {
                c.arg(&libgcc);
            } else {
                c.arg(lib.join(a));
            }
        }
        c.arg(lib.join("crtn.o"));
        run_ok(c, &format!("zvld with {order:?}"));
        let ran = Command::new(sibling_binary("zvrun")).arg(&out).output().unwrap();
        assert_eq!(ran.status.code(), Some(0), "{order:?}: {}", String::from_utf8_lossy(&ran.stderr));
        assert!(!ran.stdout.is_empty(), "{order:?}: no output");
    }
    let mut c = zvld();
    c.arg("-o").arg(d.join("no-zrt.nexe")).args(&head).arg(lib.join("libc.a")).arg(&libgcc).arg(lib.join("crtn.o"));
    let err = run_err(c, "zvld without libzrt.a");
    assert!(err.contains("undefined symbol `__zv_syscall`"), "{err}");
    assert!(err.contains("libc.a(") && err.contains("(.text") && err.contains(" in function "), "{err}");
    assert!(err.contains("libzrt.a"), "no advice: {err}");
    // libc's many `syscall`s make one list naming the symbol once, with the advice once
    // (audit finding: a block per reference).
    assert_eq!(err.matches("undefined symbol `__zv_syscall`").count(), 1, "{err}");
    assert_eq!(err.matches("undefined symbol(s):").count(), 1, "{err}");
    assert_eq!(err.matches("link the sysroot's libzrt.a").count(), 1, "{err}");
}

/// Every instruction that cannot be rewritten is named in one link (QA finding: only the
/// first was), each with its rule id and what to do.
#[test]
fn every_instruction_that_cannot_be_rewritten_is_named_with_its_rule_and_a_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "many.S",
        ".text\n.globl main\nmain:\n  cpuid\n  rdtsc\n  pushf\n  pop %rsp\n  jmp *%rsp\n  bt %eax,0x12AB(%rdi)\n  ret\n\
         .section .text.other,\"ax\",@progbits\n.globl f2\nf2:\n  mov %gs:0,%rax\n  enter $8,$0\n  ret\n\
         .section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.arg(&src).arg("-o").arg(dir.path().join("many.nexe"));
    let err = run_err(c, "zvcc many.S");
    assert!(err.contains("8 errors:"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("cannot rewrite ")).collect();
    assert_eq!(lines.len(), 8, "{err}");
    let expect = [
        ("`cpuid`", "(C3)", "--emulate-cpuid"),
        ("`rdtsc`", "(C3)", "clock_gettime"),
        ("`pushf`", "(C3)", "lahf/sahf"),
        ("`pop %rsp`", "(C6)", "pop into another register"),
        ("`jmp *%rsp`", "(C9", "another register"),
        // Lowercase hex, as objdump writes it (QA finding: iced's default was uppercase).
        ("`bt %eax,0x12ab(%rdi)`", "(C3", "2^31"),
        ("`mov %gs:0,%rax`", "(C4)", "%fs:"),
        ("`enter $8,$0`", "(C3)", "push %rbp"),
    ];
    for (line, (insn, rule, remedy)) in lines.iter().zip(expect) {
        assert!(line.contains(insn) && line.contains(rule) && line.contains(remedy), "{insn}: {line}");
        assert!(line.contains("many.o(.text") && line.contains(" in function "), "{line}");
    }
}

/// Far indirect branches through memory (`ljmp *(%rax)`, `lcall *8(%rdi)`, `ff /5` and
/// `ff /3`) are refused by C3 like any far transfer (QA finding: zvld rewrote them as near
/// `mov mem,%r11` + P1, a silently different branch), and `sysenter` is named as a system
/// call, not as a far branch.
#[test]
fn far_indirect_branches_and_sysenter_are_refused_not_made_near() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "far.S",
        ".text\n.globl main\nmain:\n  ljmp *(%rax)\n  lcall *8(%rdi)\n  rex.W ljmp *(%rsp)\n  sysenter\n  ret\n\
         .section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.arg(&src).arg("-o").arg(dir.path().join("far.nexe"));
    let err = run_err(c, "zvcc far.S");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("cannot rewrite ")).collect();
    assert_eq!(lines.len(), 4, "{err}");
    let expect = [
        ("far.o(.text+0x0) in function main+0x0", "far indirect branch (C3)"),
        ("far.o(.text+0x2) in function main+0x2", "far indirect branch (C3)"),
        ("far.o(.text+0x5) in function main+0x5", "far indirect branch (C3)"),
        ("`sysenter`", "system calls reach the runtime only through zrt"),
    ];
    for (line, (place, why)) in lines.iter().zip(expect) {
        assert!(line.contains(place) && line.contains(why), "expected {place} / {why}: {line}");
    }
    assert!(!dir.path().join("far.nexe").exists());
}

/// TLS descriptors (`-fPIC -mtls-dialect=gnu2`) are refused with advice in both shapes:
/// global-dynamic (a TLSDESC relocation against the variable) and local-dynamic (against
/// `_TLS_MODULE_BASE_`, a symbol only a linker that implements descriptors defines, so
/// the link stops at it as undefined: the message says what it is).
#[test]
fn tls_descriptors_are_refused_with_advice_in_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let gd = write(
        dir.path(),
        "gd.c",
        "extern _Thread_local int tv;\nint get(void) { return tv; }\n_Thread_local int tv = 3;\nint main(void) { return get(); }\n",
    );
    let ld = write(
        dir.path(),
        "ld.c",
        "static _Thread_local int a = 1, b = 2;\n\
         __attribute__((noinline)) int bump(void) { a++; b += a; return a + b; }\n\
         int main(void) { return bump() + bump(); }\n",
    );
    for (src, what) in [(&gd, "global-dynamic"), (&ld, "local-dynamic")] {
        let obj = gcc_c(dir.path(), src, &["-O2", "-fPIC", "-mtls-dialect=gnu2"]);
        let mut c = zvcc();
        c.arg(&obj).arg("-o").arg(dir.path().join("tls.nexe"));
        let err = run_err(c, &format!("zvcc with {what} TLS descriptors"));
        assert!(err.contains("-mtls-dialect=gnu2") && err.contains("-fno-pic"), "{what}: {err}");
    }
}

/// An ifunc (`__attribute__((ifunc))`, STT_GNU_IFUNC) is refused naming the symbol: a
/// nexe has no start-up step that runs resolvers, and linked as a plain function a call
/// of it called the resolver (an audit's program printed the implementation's address
/// and exited 0).
#[test]
fn ifunc_symbols_are_refused_naming_the_symbol() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "ifn.c",
        "static int impl1(void) { return 1; }\n\
         static int (*resolve(void))(void) { return impl1; }\n\
         int f(void) __attribute__((ifunc(\"resolve\")));\n\
         int main(void) { return f(); }\n",
    );
    let out = dir.path().join("ifn.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg("-o").arg(&out);
    let err = run_err(c, "zvcc ifn.c");
    assert!(err.contains("ifn.o") && err.contains("`f`") && err.contains("ifunc"), "{err}");
    assert!(err.contains("STT_GNU_IFUNC"), "{err}");
    assert!(!out.exists(), "no output is written");
}

/// `xgetbv` (read beside `cpuid` by CPU-feature probes) is refused like `cpuid`, with the
/// same remedy, and under `--emulate-cpuid` becomes a call of zrt's fixed answer (XCR0 =
/// x87 and SSE), which agrees with the emulated cpuid (an audit found the emulation
/// stopped at the probe's `xgetbv`, whose message pointed at clock_gettime).
#[test]
fn xgetbv_is_emulated_with_cpuid_and_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "probe.c",
        "#include <stdio.h>\nint main(void) { unsigned a, b, c, d, lo, hi;\n\
         __asm__ volatile(\"cpuid\" : \"=a\"(a), \"=b\"(b), \"=c\"(c), \"=d\"(d) : \"a\"(1), \"c\"(0));\n\
         __asm__ volatile(\"xgetbv\" : \"=a\"(lo), \"=d\"(hi) : \"c\"(0));\n\
         printf(\"%x %x %x %x\\n\", c, d, lo, hi); return 0; }\n",
    );
    let out = dir.path().join("probe.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg("-o").arg(&out);
    let err = run_err(c, "zvcc probe.c");
    let line = err.lines().find(|l| l.contains("`xgetbv`")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("(C3)") && line.contains("--emulate-cpuid"), "{line}");
    let mut c = zvcc();
    c.arg("-O2").arg(&src).arg("-Wl,--emulate-cpuid").arg("-o").arg(&out);
    run_ok(c, "zvcc -Wl,--emulate-cpuid probe.c");
    let ran = Command::new(sibling_binary("zvrun")).arg("--no-cache").arg(&out).output().unwrap();
    assert_eq!(ran.status.code(), Some(0), "{}", String::from_utf8_lossy(&ran.stderr));
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "0 7808001 3 0\n");
}

/// Inputs and options a GNU toolchain user may pass, named for what they are (a
/// build-systems audit): a linker script given as an input (as glibc's libc.so is), an
/// `--end-group` with no group open, and a compiler zvcc cannot run (ZVCC_GCC).
#[test]
fn linker_scripts_unbalanced_groups_and_a_missing_compiler_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = write(d, "m.c", "int main(void) { return 0; }\n");
    write(d, "libscript.so", "/* GNU ld script */\nGROUP ( libc.a AS_NEEDED ( libm.a ) )\n");
    let mut c = zvcc();
    c.current_dir(d).arg(&src).args(["libscript.so", "-o", "s.nexe"]);
    let err = run_err(c, "zvcc with a linker script input");
    assert!(err.contains("libscript.so: a GNU ld linker script"), "{err}");
    let mut c = zvcc();
    c.current_dir(d).arg(&src).args(["-Wl,--end-group", "-o", "g.nexe"]);
    let err = run_err(c, "zvcc -Wl,--end-group");
    assert!(err.contains("group ended before it began"), "{err}");
    let mut c = zvcc();
    c.current_dir(d).arg(&src).args(["-Wl,--start-group", "-lc", "-Wl,--end-group", "-o", "g.nexe"]);
    run_ok(c, "zvcc with a balanced group");
    let mut c = zvcc();
    c.current_dir(d).env("ZVCC_GCC", d.join("no-such-gcc")).arg(&src).args(["-o", "n.nexe"]);
    let err = run_err(c, "zvcc with a missing ZVCC_GCC");
    assert!(err.contains("no-such-gcc"), "names the compiler it tried: {err}");
}

/// Every relocation that cannot be applied is named, in code and in data, as GNU ld names
/// them (an audit found only the first reported): two overflowing fields in `.text` and
/// one in `.rodata`, three errors, no output.
#[test]
fn every_overflowing_relocation_is_named_in_code_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "ov.s",
        "\t.data\n\t.globl ovd\novd: .long 0\n\t.text\n\t.globl ovf\n\t.type ovf,@function\novf:\n\
         \tmovl ovd+0x90000000, %edx\n\tmovl ovd+0xa0000000, %ecx\n\tret\n\t.size ovf,.-ovf\n\
         \t.section .rodata.x,\"a\"\n\t.long ovd + 0xfffff000\n\t.section .note.GNU-stack,\"\",@progbits\n",
    );
    write(d, "m.c", "int ovf(void);\nint main(void) { return ovf(); }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "ov.s", "-o", "ov.nexe"]);
    let err = run_err(c, "zvcc with overflowing relocations");
    assert!(err.contains("3 errors:"), "{err}");
    for place in ["ov.o(.text+0x3)", "ov.o(.text+0xa)", "ov.o(.rodata.x+0x0)"] {
        assert!(err.contains(place), "{place}: {err}");
    }
    assert!(!d.join("ov.nexe").exists());
}

/// A rewrite error shows the relocations of the instruction's fields as `objdump -dr`
/// does, since the operand's symbol is only there (an audit found `%fs:tv@tpoff` shown as
/// `%fs:0`): here a `%fs:` operand in a function that uses r11.
#[test]
fn rewrite_errors_show_the_symbols_of_relocated_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "fs.s",
        "\t.section .tbss,\"awT\",@nobits\n\t.globl tv\ntv: .zero 4\n\t.text\n\t.globl main\n\t.type main,@function\n\
         main:\n\tmov %rdi, %r11\n\tmovl %fs:tv@tpoff, %eax\n\tret\n\t.size main,.-main\n\
         \t.section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.current_dir(d).args(["fs.s", "-o", "fs.nexe"]);
    let err = run_err(c, "zvcc fs.s");
    assert!(err.contains("<R_X86_64_TPOFF32 tv>") && err.contains("needs %r11 as scratch"), "{err}");
}

/// Code that asks for AVX-512 itself (`#pragma GCC target`), which zvcc's `-mno-avx512f`
/// cannot reach, compiles and is refused at the link (C3) with advice that names the
/// pragma and the configure checks that enable such code (a package audit: libsodium).
#[test]
fn target_pragmas_past_zvccs_flags_are_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "pt.c",
        "#pragma GCC target(\"avx512f\")\n#include <immintrin.h>\n\
         void add16(const int *a, int *b) { _mm512_storeu_si512(b, _mm512_add_epi32(_mm512_loadu_si512(a), \
         _mm512_loadu_si512(b))); }\n",
    );
    write(d, "m.c", "void add16(const int *a, int *b);\nint main(void) { int a[16] = {0}, b[16] = {0}; add16(a, b); return b[0]; }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["-O2", "m.c", "pt.c", "-o", "pt.nexe"]);
    let err = run_err(c, "zvcc with an AVX-512 target pragma");
    assert!(
        err.contains("(C3)") && err.contains("#pragma GCC target") && err.contains("HAVE_AVX512FINTRIN_H"),
        "{err}"
    );
}

/// A damaged object is an error naming it, never linked as an empty one: an object whose
/// section table is gone (e_shoff or e_shnum 0) linked silently and the link failed
/// later on undefined symbols that did not name it; a device input such as /dev/zero was
/// read until memory ran out (audit findings). GNU ld refuses both by their format.
#[test]
fn damaged_objects_and_devices_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "m.c", "int helper(void) { return 4; }\n");
    let obj = gcc_c(dir.path(), &src, &["-O2", "-fno-pic", "-ffixed-r11"]);
    let good = std::fs::read(&obj).unwrap();
    // e_shoff (offset 0x28, 8 bytes) and e_shnum (offset 0x3c, 2 bytes) of an ELF64 header.
    for (what, at, len) in [("e_shoff", 0x28, 8), ("e_shnum", 0x3c, 2)] {
        let mut b = good.clone();
        b[at..at + len].fill(0);
        let bad = dir.path().join(format!("{what}.o"));
        std::fs::write(&bad, &b).unwrap();
        let mut c = zvld();
        c.arg("-o").arg(dir.path().join("x.nexe")).arg(&bad);
        let err = run_err(c, &format!("zvld with {what} 0"));
        assert!(err.contains(&format!("{what}.o")) && err.contains("no section table"), "{what}: {err}");
    }
    let mut c = zvld();
    c.arg("-o").arg(dir.path().join("x.nexe")).arg("/dev/zero");
    let err = run_err(c, "zvld /dev/zero");
    assert!(err.contains("/dev/zero") && err.contains("not an object or archive"), "{err}");
    assert!(!dir.path().join("x.nexe").exists());
}

/// A REX byte before a legacy prefix is ignored by the processor; zvld's rewrites drop or
/// add prefixes around it, so it refuses the encoding by name instead of emitting code
/// the verifier rejects as a zvld bug (audit finding: `48 3e 01 2b` kept its 0x3e).
#[test]
fn a_rex_byte_before_another_prefix_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "rexds.s",
        ".text\n.globl main\n.type main,@function\nmain:\n  xorl %eax,%eax\n  leaq -8(%rsp),%rbx\n\
         .byte 0x48,0x3e,0x01,0x2b\n  ret\n.size main,.-main\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    let out = dir.path().join("rexds.nexe");
    let mut c = zvcc();
    c.arg(&src).arg("-o").arg(&out);
    let err = run_err(c, "zvcc rexds.s");
    assert!(err.contains("main+0x7") && err.contains("a REX prefix before another prefix"), "{err}");
    assert!(!err.contains("zvld bug"), "{err}");
    assert!(!out.exists());
}

/// Inputs that only the in-process verification stopped, with a message that blamed
/// zvld (audit findings), are refused by name: a relocation wider than the field it lies
/// on (an R_X86_64_64 on a 4-byte immediate), and a direct call to a symbol in data that
/// is not a bundle start (GNU ld links it; a nexe executes only its code).
#[test]
fn relocations_that_cannot_be_right_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let wide = write(
        dir.path(),
        "wide.s",
        ".text\n.globl main\n.type main,@function\nmain:\n  movl $0x12345678, %eax\n  xorl %eax, %eax\n  ret\n\
         .size main, .-main\n.reloc main+1, R_X86_64_64, main\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.arg(&wide).arg("-o").arg(dir.path().join("w.nexe"));
    let err = run_err(c, "zvcc wide.s");
    assert!(err.contains("R_X86_64_64") && err.contains("wide.o(.text+0x1)") && err.contains("8 bytes wide"), "{err}");
    assert!(!err.contains("zvld bug"), "{err}");
    // The same on a call's rel32 field.
    let call = write(
        dir.path(),
        "widecall.s",
        ".text\n.globl main\n.type main,@function\nmain:\n  nop\n  .byte 0xe8\n  .long 0\n  xorl %eax, %eax\n  ret\n\
         .size main, .-main\n.reloc main+2, R_X86_64_64, main\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.arg(&call).arg("-o").arg(dir.path().join("wc.nexe"));
    let err = run_err(c, "zvcc widecall.s");
    assert!(
        err.contains("R_X86_64_64") && err.contains("widecall.o(.text+0x2)") && err.contains("8 bytes wide"),
        "{err}"
    );
    assert!(!err.contains("zvld bug"), "{err}");

    let caller = write(dir.path(), "calldata.c", "extern void f(void);\nint main(void) { f(); return 0; }\n");
    let data = write(
        dir.path(),
        "fdata.s",
        ".data\n.byte 1\n.globl f\nf: .byte 0xc3\n.section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.arg("-O2").arg(&caller).arg(&data).arg("-o").arg(dir.path().join("cd.nexe"));
    let err = run_err(c, "zvcc calldata.c fdata.s");
    assert!(err.contains("`f`, defined in section .data of ") && err.contains("fdata.o, which is not code"), "{err}");
    assert!(!err.contains("zvld bug"), "{err}");

    // A jump to an absolute address outside the code (not a bundle start).
    let abs = write(
        dir.path(),
        "absjmp.s",
        ".text\n.globl main\n.type main,@function\nmain:\n  nop\n  jmp 0x12345\n.size main,.-main\n\
         .section .note.GNU-stack,\"\",@progbits\n",
    );
    let mut c = zvcc();
    c.arg(&abs).arg("-o").arg(dir.path().join("abs.nexe"));
    let err = run_err(c, "zvcc absjmp.s");
    assert!(
        err.contains("absjmp.o(.text+0x2) in function main+0x2") && err.contains("jump to address 0x12345"),
        "{err}"
    );
    assert!(!err.contains("against ``") && !err.contains("zvld bug"), "{err}");
}

/// An image that does not fit below CODE_LIMIT names its largest parts (audit finding:
/// `char big[0x80000000];` gave only the end address).
#[test]
fn an_image_too_large_names_its_largest_parts() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "big.c", "char big[0x80000000];\nint main(void) { big[5] = 1; return big[3]; }\n");
    let mut c = zvcc();
    c.arg("-fno-common").arg(&src).arg("-o").arg(dir.path().join("big.nexe"));
    let err = run_err(c, "zvcc big.c");
    assert!(err.contains("above CODE_LIMIT") && err.contains("big.o(.bss) 0x80000000 bytes"), "{err}");
}

/// A damaged alignment of a debug section (2^31) is honoured up to a page: the output's
/// debug sections are written with alignment 1, and the padding made a 2 GB file in 17
/// seconds (audit finding).
#[test]
fn a_huge_debug_section_alignment_does_not_pad_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.c", "int helper(void) { return 1; }\n");
    let m = write(dir.path(), "m.c", "int helper(void);\nint main(void) { return helper(); }\n");
    let ao = gcc_c(dir.path(), &a, &["-g", "-O2", "-fno-pic", "-ffixed-r11"]);
    let mo = gcc_c(dir.path(), &m, &["-g", "-O2", "-fno-pic", "-ffixed-r11"]);
    let mut b = std::fs::read(&ao).unwrap();
    let (shoff, shnum, shstrndx) = (u64_at(&b, 0x28) as usize, u16_at(&b, 0x3c) as usize, u16_at(&b, 0x3e) as usize);
    let names = u64_at(&b, shoff + shstrndx * 64 + 0x18) as usize;
    let mut patched = false;
    for i in 0..shnum {
        let h = shoff + i * 64;
        let n = names + u32_at(&b, h) as usize;
        if b[n..].starts_with(b".debug_info\0") {
            b[h + 0x30..h + 0x38].copy_from_slice(&(1u64 << 31).to_le_bytes());
            patched = true;
        }
    }
    assert!(patched, "a.o has a .debug_info");
    std::fs::write(&ao, &b).unwrap();
    let out = dir.path().join("m.nexe");
    let mut c = zvcc();
    c.arg(&mo).arg(&ao).arg("-o").arg(&out);
    run_ok(c, "zvcc with a 2^31-aligned .debug_info");
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(size < 16 << 20, "{size} bytes");
    verify(&out);
}

/// A closed stderr or stdout loses zvld's messages, never ends it with a Rust panic
/// (status 101; audit finding): the status stays the link's.
#[test]
fn a_closed_stderr_does_not_make_zvld_panic() {
    for (args, status) in [(&["--version"][..], 0), (&["-o", "/dev/null", "/dev/zero"][..], 1)] {
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let w2 = w.try_clone().unwrap();
        let st = zvld().args(args).stdout(w).stderr(w2).status().unwrap();
        assert_eq!(st.code(), Some(status), "zvld {args:?}: {st:?}");
    }
}

/// Hand-written assembly without `.type` and with plain labels (`next:`, `load:`,
/// `dispatch:`): the labels do not cut the routine into functions, so r11 or the flags
/// live across them make the rewrite an error naming the routine, where it was silently
/// wrong code (audit finding: an interpreter keeping its accumulator in r11 returned
/// 131360 instead of 50, linked and verified without a word).
#[test]
fn plain_labels_in_untyped_assembly_do_not_start_functions() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.c", "long run(const unsigned char *);\nint main(void) { return 0; }\n");
    let cases = [
        (
            "interp.s",
            ".text\n.globl run\nrun:\n  xor %r11d,%r11d\nnext:\n  movzbl (%rdi),%eax\n  inc %rdi\n  jmp *optab(,%rax,8)\n\
             op_halt:\n  mov %r11,%rax\n  ret\nop_add:\n  add $10,%r11\n  jmp next\n\
             .section .rodata\n.align 8\noptab: .quad op_halt, op_add\n.section .note.GNU-stack,\"\",@progbits\n",
            "in function run+0x9",
            "needs %r11 as scratch, but this function uses %r11",
        ),
        (
            "fs.s",
            ".text\n.globl g\ng:\n  mov $100,%r11\nload:\n  mov %fs:8,%rcx\ndone:\n  mov %r11,%rax\n  ret\n\
             .section .note.GNU-stack,\"\",@progbits\n",
            "in function g+0x7",
            "a %fs: operand needs %r11 as scratch",
        ),
        (
            "flags.s",
            ".text\n.globl f\nf:\n  mov %rdi,%rax\n  cmp $1,%rdi\ndispatch:\n  jmp *tab(,%rax,8)\n\
             case0: setb %al\n  movzbl %al,%eax\n  ret\ncase1: setb %al\n  ret\n\
             .section .rodata\n.align 8\ntab: .quad case0, case1\n.section .note.GNU-stack,\"\",@progbits\n",
            "in function f+0x7",
            "the status flags are live across this jump-table dispatch",
        ),
    ];
    for (name, text, at, why) in cases {
        let src = write(dir.path(), name, text);
        let out = dir.path().join("app.nexe");
        let mut c = zvcc();
        c.arg(&main).arg(&src).arg("-o").arg(&out);
        let err = run_err(c, name);
        assert!(err.contains(at) && err.contains(why), "{name}: {err}");
        assert!(!out.exists(), "{name}: no output");
    }
}
