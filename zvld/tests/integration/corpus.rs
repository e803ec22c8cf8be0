//! The C corpus (test-corpus/c): build with zvcc, verify, compare the native build with
//! the expected output, run under zvrun and compare again.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn corpus_dir() -> PathBuf {
    repo().join("test-corpus/c")
}

/// Builds `src` (relative to the corpus) with zvcc and natively into `dir`; returns the
/// nexe and the native executable.
/// Extra compiler flags a corpus program asks for on a line `zv-cflags: ...`.
pub fn zv_cflags(src: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(src).unwrap_or_default();
    text.lines()
        .find_map(|l| l.split_once("zv-cflags:").map(|(_, f)| f.split_whitespace().map(String::from).collect()))
        .unwrap_or_default()
}

fn build_both(dir: &Path, name: &str, srcs: &[&str], extra: &[&str]) -> (PathBuf, PathBuf) {
    let nexe = dir.join(format!("{name}.nexe"));
    let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    for s in srcs {
        extra.extend(zv_cflags(&corpus_dir().join(s)));
    }
    let native = dir.join(format!("{name}.native"));
    let mut c = zvcc();
    c.arg("-O2").arg("-g").args(srcs.iter().map(|s| corpus_dir().join(s))).args(&extra).arg("-o").arg(&nexe).arg("-lm");
    run_ok(c, &format!("zvcc {name}"));
    let mut g = native_gcc();
    g.arg("-O2")
        .arg("-static")
        .args(srcs.iter().map(|s| corpus_dir().join(s)))
        .args(&extra)
        .arg("-o")
        .arg(&native)
        .arg("-lm");
    run_ok(g, &format!("native gcc {name}"));
    (nexe, native)
}

fn check(name: &str, nexe: &Path, native: &Path, expected_file: &Path) {
    let code = verify(nexe);
    assert!(code > 0);
    let expected = std::fs::read_to_string(expected_file)
        .unwrap_or_else(|e| panic!("{}: {e} (regenerate with scripts/corpus-expected)", expected_file.display()));
    let out = run_ok(Command::new(native), &format!("native {name}"));
    assert_same_text(
        &format!("{name} (native build vs {})", expected_file.display()),
        &expected,
        &String::from_utf8_lossy(&out.stdout),
    );
    let mut run = Command::new(sibling_binary("zvrun"));
    run.arg("--timeout").arg("60").arg(nexe);
    let out = run_ok(run, &format!("zvrun {name}"));
    assert_same_text(&format!("{name} (zvrun vs native)"), &expected, &String::from_utf8_lossy(&out.stdout));
}

fn corpus_program(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let src = format!("{name}.c");
    let (nexe, native) = build_both(dir.path(), name, &[&src], &[]);
    check(name, &nexe, &native, &corpus_dir().join(format!("{name}.expected")));
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { corpus_program(stringify!($name)); })*

        /// Every .c file of the corpus has a test above.
        #[test]
        fn every_program_has_a_test() {
            let listed = [$(stringify!($name)),*];
            let mut missing = Vec::new();
            for e in std::fs::read_dir(corpus_dir()).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "c") {
                    let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                    if !listed.contains(&stem.as_str()) {
                        missing.push(stem);
                    }
                }
            }
            assert!(missing.is_empty(), "corpus programs without a test: {missing:?}");
            assert!(listed.len() >= 15);
        }
    };
}

corpus_tests!(
    atomics_wide,
    ctors_dtors,
    deep_recursion,
    ehdr_start,
    fenv_rounding,
    int128,
    malloc_scale,
    parse_numbers,
    printf_floats,
    printf_ints,
    qsort_fnptr,
    rewrite_forms,
    section_bounds,
    setjmp_longjmp,
    string_ops,
    size_relocs,
    stack_clash,
    structs_bits,
    switch_cold_case,
    switch_flags,
    switch_flags_mem,
    switch_range_flags,
    switch_tail_call,
    switch_table,
    thread_local,
    tls_dynamic,
    varargs,
);

/// A static library built with `ar` from objects compiled by `zvcc -c`, linked with `-l`.
#[test]
fn static_library_built_with_ar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for m in ["vec", "stats"] {
        let mut c = zvcc();
        c.arg("-O2")
            .arg("-c")
            .arg(corpus_dir().join(format!("staticlib/{m}.c")))
            .arg("-o")
            .arg(d.join(format!("{m}.o")));
        run_ok(c, &format!("zvcc -c {m}.c"));
        let mut g = native_gcc();
        g.arg("-O2")
            .arg("-c")
            .arg(corpus_dir().join(format!("staticlib/{m}.c")))
            .arg("-o")
            .arg(d.join(format!("{m}.native.o")));
        run_ok(g, &format!("gcc -c {m}.c"));
    }
    let zvlib = d.join("zv");
    let nativelib = d.join("native");
    std::fs::create_dir_all(&zvlib).unwrap();
    std::fs::create_dir_all(&nativelib).unwrap();
    let mut ar = Command::new("ar");
    ar.arg("rcs").arg(zvlib.join("libzvstat.a")).arg(d.join("vec.o")).arg(d.join("stats.o"));
    run_ok(ar, "ar");
    let mut ar = Command::new("ar");
    ar.arg("rcs").arg(nativelib.join("libzvstat.a")).arg(d.join("vec.native.o")).arg(d.join("stats.native.o"));
    run_ok(ar, "ar");
    let nexe = d.join("staticlib.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg(corpus_dir().join("staticlib/main.c")).arg("-L").arg(&zvlib).arg("-lzvstat").arg("-o").arg(&nexe);
    run_ok(c, "zvcc staticlib");
    let native = d.join("staticlib.native");
    let mut g = native_gcc();
    g.arg("-O2")
        .arg("-static")
        .arg(corpus_dir().join("staticlib/main.c"))
        .arg(format!("-L{}", nativelib.display()))
        .arg("-lzvstat")
        .arg("-o")
        .arg(&native);
    run_ok(g, "gcc staticlib");
    check("staticlib", &nexe, &native, &corpus_dir().join("staticlib/main.expected"));
    // Only the members that resolve a symbol are linked: vec_unused is in vec.o, which is
    // pulled in for vec_dot, so it is present; nothing from an unreferenced member is.
    let map = d.join("staticlib.map");
    let mut c = zvcc();
    c.arg("-O2")
        .arg(corpus_dir().join("staticlib/main.c"))
        .arg("-L")
        .arg(&zvlib)
        .arg("-lzvstat")
        .arg(format!("-Wl,-Map,{}", map.display()))
        .arg("-o")
        .arg(d.join("again.nexe"));
    run_ok(c, "zvcc staticlib with -Map");
    let text = std::fs::read_to_string(&map).unwrap();
    assert!(text.contains("libzvstat.a(vec.o)") && text.contains("libzvstat.a(stats.o)"), "map:\n{text}");
    assert!(text.contains("vec_unused"), "map:\n{text}");
}

/// `CC=zvcc make` works: a Makefile with separate compile and link steps.
#[test]
fn cc_zvcc_make() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.c"), "int twice(int x) { return 2 * x; }\n").unwrap();
    std::fs::write(
        d.join("b.c"),
        "#include <stdio.h>\nint twice(int);\nint main(void) { printf(\"%d\\n\", twice(21)); return 0; }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("Makefile"),
        "app.nexe: a.o b.o\n\t$(CC) $(CFLAGS) -o $@ a.o b.o\n%.o: %.c\n\t$(CC) $(CFLAGS) -c $< -o $@\n",
    )
    .unwrap();
    let mut make = Command::new("make");
    make.current_dir(d)
        .arg(format!("CC={}", env!("CARGO_BIN_EXE_zvcc")))
        .arg("CFLAGS=-O2 -DNDEBUG")
        .env("ZV_SYSROOT", sysroot());
    run_ok(make, "CC=zvcc make");
    verify(&d.join("app.nexe"));
    let mut run = Command::new(sibling_binary("zvrun"));
    run.arg(d.join("app.nexe"));
    let out = run_ok(run, "zvrun app.nexe");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
}

/// Relinking over an existing output replaces the file (a new inode, as GNU ld does)
/// instead of truncating and rewriting it in place: another name for the old output
/// keeps the old bytes, and a symlink at the output path is replaced, not followed.
#[test]
fn relinking_replaces_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("app.nexe");
    let link = |src: &str| {
        let mut c = zvcc();
        c.arg("-O2").arg(corpus_dir().join(src)).arg("-o").arg(&out);
        run_ok(c, &format!("zvcc {src}"));
    };
    link("printf_ints.c");
    let first = std::fs::read(&out).unwrap();
    std::fs::hard_link(&out, d.join("old.nexe")).unwrap();
    link("varargs.c");
    assert_eq!(std::fs::read(d.join("old.nexe")).unwrap(), first, "the old output was rewritten in place");
    assert_ne!(std::fs::read(&out).unwrap(), first);
    assert!(verify(&out) > 0);
    // A symlink at the output path: replaced by the output, its target untouched.
    let target = d.join("target.txt");
    std::fs::write(&target, b"keep me").unwrap();
    std::fs::remove_file(&out).unwrap();
    std::os::unix::fs::symlink(&target, &out).unwrap();
    link("varargs.c");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert!(!std::fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
}

/// A symlink at the output path that names something other than a regular file (here
/// the linker's own standard output, a pipe, as `/dev/stdout` does) is written through
/// and kept: replacing it would turn `/dev/stdout` into a regular file for every later
/// program (found when `zvld -o /dev/stdout` did that on a development machine).
#[test]
fn a_symlink_to_a_stream_is_written_through_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let obj = d.join("app.o");
    let mut c = zvcc();
    c.arg("-O2").arg("-c").arg(corpus_dir().join("printf_ints.c")).arg("-o").arg(&obj);
    run_ok(c, "zvcc -c printf_ints.c");
    let out = d.join("stdout-link");
    std::os::unix::fs::symlink("/proc/self/fd/1", &out).unwrap();
    let mut c = zvcc();
    c.arg(&obj).arg("-o").arg(&out);
    let o = run_ok(c, "zvcc app.o -o stdout-link");
    assert!(std::fs::symlink_metadata(&out).unwrap().file_type().is_symlink(), "the symlink was replaced");
    assert!(o.stdout.starts_with(b"\x7fELF"), "the nexe did not reach the standard output ({} bytes)", o.stdout.len());
    assert!(zvcore::nexe::Nexe::parse(&o.stdout).is_ok());
}
