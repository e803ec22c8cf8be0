//! Objects from clang (TOOLCHAIN.md section 2: "ELF64 x86-64 relocatable objects ... from
//! gcc or clang"): test-corpus programs compiled by clang with zvcc's code-generation
//! flags (all but `-ffixed-r11`, which clang does not have), linked by zvcc, verified and
//! run under zvrun, give the output of the same clang objects linked natively (GNU ld,
//! the same musl). Where clang's code uses r11 in a function that needs it as zvld's
//! scratch, the link is refused as for any such code.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// clang: `clang-19`, else `clang` (scripts/bootstrap installs clang-19 when neither is
/// there). Panics, saying so, when there is none.
fn clang() -> String {
    for c in ["clang-19", "clang"] {
        if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return c.to_string();
        }
    }
    panic!("no clang (clang-19 or clang): run scripts/bootstrap, which installs it for these tests");
}

/// Compiles `src` with clang, zvcc's flags (no -ffixed-r11) and `extra` into `dir`.
fn clang_c(dir: &Path, src: &Path, extra: &[String]) -> PathBuf {
    let cc = clang();
    let resource = tool_says(&cc, "-print-resource-dir");
    let obj = dir.join(format!("{}.o", src.file_stem().unwrap().to_string_lossy()));
    let mut c = Command::new(&cc);
    c.args(["-O2", "-g", "-fno-pic", "-fno-pie", "-mno-tls-direct-seg-refs", "-fcf-protection=none", "-nostdinc"])
        .arg("-isystem")
        .arg(sysroot().join("include"))
        .arg("-isystem")
        .arg(Path::new(&resource).join("include"))
        .args(extra)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&obj);
    run_ok(c, &format!("{cc} -c {}", src.display()));
    obj
}

/// The clang object linked natively and statically against the same musl, and its output.
fn native_output(dir: &Path, obj: &Path, libs: &[&str]) -> Vec<u8> {
    let lib = sysroot().join("lib");
    let exe = dir.join(format!("{}.native", obj.file_stem().unwrap().to_string_lossy()));
    let libgcc = tool_says("gcc", "-print-libgcc-file-name");
    let mut ld = Command::new("ld");
    ld.arg("-static").arg("-o").arg(&exe).arg(lib.join("crt1.o")).arg(lib.join("crti.o")).arg(obj);
    ld.arg("--start-group");
    for l in libs {
        ld.arg(format!("-l{l}"));
    }
    ld.arg("-L").arg(&lib).arg(lib.join("libc.a")).arg(&libgcc).arg("--end-group").arg(lib.join("crtn.o"));
    run_ok(ld, "ld -static");
    run_ok(Command::new(&exe), "the native program").stdout
}

#[test]
fn clang_objects_link_verify_and_run_as_natively() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = Vec::new();
    let mut refused = Vec::new();
    let mut srcs: Vec<PathBuf> = std::fs::read_dir(repo().join("test-corpus/c"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    srcs.sort();
    for src in &srcs {
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        // The program's own flags: compile flags to clang, libraries to both links.
        let flags = crate::corpus::zv_cflags(src);
        let (libs, cflags): (Vec<String>, Vec<String>) = flags.into_iter().partition(|f| f.starts_with("-l"));
        let mut libs: Vec<String> = libs.iter().map(|l| l[2..].to_string()).collect();
        libs.push("m".into());
        let libs: Vec<&str> = libs.iter().map(String::as_str).collect();
        let obj = clang_c(dir.path(), src, &cflags);
        let nexe = dir.path().join(format!("{name}.nexe"));
        let mut c = zvcc();
        c.arg(&obj).arg("-o").arg(&nexe);
        for l in &libs {
            c.arg(format!("-l{l}"));
        }
        let o = c.output().unwrap();
        if !o.status.success() {
            // The refusals allowed: the r11 rule's (clang has no -ffixed-r11) and a
            // jump-table dispatch with live flags set in a way zvld does not replay.
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("needs %r11 as scratch, but this function uses %r11")
                    || err.contains("the status flags are live across this jump-table dispatch"),
                "{name} (clang): {err}"
            );
            refused.push(name);
            continue;
        }
        verify(&nexe);
        let want = native_output(dir.path(), &obj, &libs);
        let mut r = Command::new(sibling_binary("zvrun"));
        r.arg("--timeout").arg("60").arg(&nexe);
        let got = run_ok(r, &format!("zvrun {name} (clang)")).stdout;
        assert_same_text(&format!("{name} (clang)"), &String::from_utf8_lossy(&want), &String::from_utf8_lossy(&got));
        ran.push(name);
    }
    assert!(ran.len() >= 20 && ran.len() + refused.len() == srcs.len(), "ran {ran:?}, refused {refused:?}");
}

/// clang has no -ffixed-r11: a function whose code uses r11 (here through inline assembly,
/// so that every clang version does) and dispatches a switch through a jump table
/// (`jmp *T(,%reg,8)`, which needs r11 as scratch) is refused with the rule's message,
/// naming the place, as TOOLCHAIN.md says.
#[test]
fn clang_code_that_keeps_r11_where_zvld_needs_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("sw.c");
    std::fs::write(&src, "#include <stdio.h>\n__attribute__((noinline)) int a0(long v) { return v + 1; }\n__attribute__((noinline)) int a1(long v) { return v * 3; }\n__attribute__((noinline)) int a2(long v) { return v ^ 5; }\n__attribute__((noinline)) int a3(long v) { return v - 7; }\n__attribute__((noinline)) int a4(long v) { return v << 2; }\n__attribute__((noinline)) int pick(int k, long v) {\n  asm volatile(\"mov %0, %%r11\" :: \"r\"(v) : \"r11\");\n  int r;\n  switch (k) { case 0: r = a0(v) + 1; break; case 1: r = a1(v) * 2; break; case 2: r = a2(v) - 3; break;\n    case 3: r = a3(v) ^ 4; break; case 4: r = a4(v) + 9; break; default: r = -1; }\n  return r * 7;\n}\nint main(int argc, char **argv) { (void)argv; printf(\"%d\\n\", pick(argc, 5)); return 0; }\n")
    .unwrap();
    let obj = clang_c(dir.path(), &src, &[]);
    let mut c = zvcc();
    c.arg(&obj).arg("-o").arg(dir.path().join("sw.nexe"));
    let err = run_err(c, "zvcc sw.o (clang)");
    assert!(err.contains("needs %r11 as scratch, but this function uses %r11"), "{err}");
    assert!(err.contains("sw.o(.text+0x") && err.contains("in function pick+0x"), "{err}");
}

/// clang -flto writes LLVM bitcode, not machine code: named as such when given to zvld,
/// and named in the undefined-symbol error when it sits in an archive, whose index `ar`
/// cannot make without LLVM's plugin (an audit found the member silently skipped).
#[test]
fn llvm_bitcode_objects_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("two.c"), "int two(void) { return 2; }\n").unwrap();
    std::fs::write(d.join("m.c"), "int two(void);\nint main(void) { return two(); }\n").unwrap();
    let mut c = Command::new(clang());
    c.current_dir(d).args(["-O2", "-flto", "-c", "two.c", "-o", "two.o"]);
    run_ok(c, "clang -flto -c");
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "two.o", "-o", "m.nexe"]);
    let err = run_err(c, "zvcc with a bitcode object");
    assert!(err.contains("two.o") && err.contains("LLVM bitcode") && err.contains("-flto"), "{err}");
    let mut a = Command::new("ar");
    a.current_dir(d).args(["rcs", "libtwo.a", "two.o"]);
    run_ok(a, "ar rcs");
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "-L.", "-ltwo", "-o", "m.nexe"]);
    let err = run_err(c, "zvcc with a bitcode archive");
    assert!(err.contains("undefined symbol `two`") && err.contains("libtwo.a holds LTO objects"), "{err}");
    assert!(!d.join("m.nexe").exists());
}
