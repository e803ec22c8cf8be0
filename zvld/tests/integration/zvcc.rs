//! zvcc as build systems and users drive it: the probes autoconf, libtool and Makefiles
//! make (`-v`, `--version`, `-dumpversion`, `-dumpmachine`, `-###`, compiling
//! `conftest.c` to `a.out`, `-c`, `-E`), sources from standard input (`-x c -`),
//! per-source `-x`, dependency files of a one-step build (`-MD`/`-MMD` without `-c`),
//! `@FILE` response files and `-fsyntax-only`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs zvcc in dir with args and `input` on its standard input.
fn zvcc_stdin(dir: &Path, args: &[&str], input: &str) -> std::process::Output {
    let mut c = zvcc();
    c.current_dir(dir).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("run zvcc");
    // zvcc may refuse its arguments before reading its input (a broken pipe).
    match child.stdin.take().unwrap().write_all(input.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing zvcc's stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let mut c = zvcc();
    c.args(args);
    String::from_utf8(run_ok(c, &format!("zvcc {args:?}")).stdout).unwrap()
}

/// `-v` alone prints zvcc's and gcc's versions on stderr and exits 0 (autoconf runs it
/// for config.log); `--version` and `-dumpversion` are gcc's; `-dumpmachine` names musl;
/// `-###` shows the commands and runs none.
#[test]
fn zvcc_answers_version_probes_like_gcc() {
    let mut c = zvcc();
    c.arg("-v");
    let o = run_ok(c, "zvcc -v");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("zvcc ") && err.contains("gcc version"), "{err}");
    assert!(o.stdout.is_empty());

    let version = stdout_of(&["--version"]);
    assert!(version.lines().next().is_some_and(|l| l.contains("gcc")), "{version}");
    assert!(stdout_of(&["-dumpversion"]).trim().chars().all(|c| c.is_ascii_digit() || c == '.'));
    assert_eq!(stdout_of(&["-dumpmachine"]).trim(), "x86_64-linux-musl");

    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "m.c", "int main(void) { return 0; }\n");
    let out = dir.path().join("m.nexe");
    let mut c = zvcc();
    c.arg("-###").arg(&src).arg("-o").arg(&out);
    let o = run_ok(c, "zvcc -###");
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"-c\""), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists(), "-### builds nothing");
}

/// What `CC=zvcc ./configure` tries first: `$CC conftest.c` gives `a.out`, `-c` gives
/// `conftest.o`, `-E` preprocesses, `-o conftest` names the program.
#[test]
fn zvcc_passes_configure_style_probes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "conftest.c", "#include <stdio.h>\nint main(void) { printf(\"ok\\n\"); return 0; }\n");
    for (args, made) in [
        (&["conftest.c"][..], "a.out"),
        (&["-c", "conftest.c"][..], "conftest.o"),
        (&["-g", "-O2", "-o", "conftest", "conftest.c", "-lm"][..], "conftest"),
    ] {
        let mut c = zvcc();
        c.current_dir(d).args(args);
        run_ok(c, &format!("zvcc {args:?}"));
        assert!(d.join(made).is_file(), "{args:?} makes {made}");
    }
    assert!(verify(&d.join("a.out")) > 0 && verify(&d.join("conftest")) > 0);
    let mut c = zvcc();
    c.current_dir(d).args(["-E", "conftest.c"]);
    assert!(String::from_utf8_lossy(&run_ok(c, "zvcc -E").stdout).contains("int main(void)"));
}

/// `-x c -` compiles standard input, to an object (`-c`) or into a nexe; without `-x`,
/// gcc's error. `-x` applies to the sources after it only.
#[test]
fn zvcc_reads_sources_from_stdin_and_applies_x_per_source() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prog = "#include <stdio.h>\nint main(void) { puts(\"from stdin\"); return 3; }\n";
    let o = zvcc_stdin(d, &["-x", "c", "-", "-o", "app.nexe"], prog);
    assert!(o.status.success(), "zvcc -x c - -o app.nexe: {}", String::from_utf8_lossy(&o.stderr));
    assert!(verify(&d.join("app.nexe")) > 0);
    let run = Command::new(sibling_binary("zvrun")).arg(d.join("app.nexe")).output().unwrap();
    assert_eq!((run.status.code(), String::from_utf8_lossy(&run.stdout).as_ref()), (Some(3), "from stdin\n"));

    let o = zvcc_stdin(d, &["-x", "c", "-c", "-", "-o", "x.o"], "int f(void) { return 1; }\n");
    assert!(o.status.success(), "zvcc -x c -c -: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(&std::fs::read(d.join("x.o")).unwrap()[..4], b"\x7fELF");

    let o = zvcc_stdin(d, &["-", "-o", "no.nexe"], prog);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-x required when input is from standard input"));

    // A C file with another suffix, then (after `-x none`) a file known by its suffix.
    write(d, "main.txt", "int helper(void);\nint main(void) { return helper(); }\n");
    write(d, "helper.c", "int helper(void) { return 0; }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["-x", "c", "main.txt", "-x", "none", "helper.c", "-o", "mixed.nexe"]);
    run_ok(c, "zvcc -x c main.txt -x none helper.c");
    assert!(verify(&d.join("mixed.nexe")) > 0);
}

/// `-MD`/`-MMD` in a one-step build name and target the dependency file as gcc does:
/// `-o app.nexe` gives app.d with target app.nexe; no `-o`, a-main.d with target main.o;
/// `-MF`/`-MT` are the user's. Never the temporary object zvcc compiles into.
#[test]
fn zvcc_writes_dependency_files_of_a_one_step_build_as_gcc() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "h.h", "#define X 0\n");
    write(d, "main.c", "#include \"h.h\"\nint main(void) { return X; }\n");
    let deps = |args: &[&str], file: &str| {
        let mut c = zvcc();
        c.current_dir(d).args(args);
        run_ok(c, &format!("zvcc {args:?}"));
        std::fs::read_to_string(d.join(file)).unwrap_or_else(|e| panic!("{args:?}: {file}: {e}"))
    };
    let t = deps(&["-MD", "main.c", "-o", "app.nexe"], "app.d");
    assert!(t.starts_with("app.nexe: main.c") && t.contains("h.h"), "{t}");
    let t = deps(&["-MMD", "-MP", "main.c"], "a-main.d");
    assert!(t.starts_with("main.o: main.c h.h") && t.contains("\nh.h:"), "{t}");
    let t = deps(&["-MD", "-MF", "x.d", "-MT", "prog", "main.c", "-o", "app.nexe"], "x.d");
    assert!(t.starts_with("prog: main.c"), "{t}");
}

/// `@FILE` response files (CMake and Ninja use them for long link lines) are read in link
/// mode as gcc reads them (white space, quotes, nesting); `-fsyntax-only` only checks.
#[test]
fn zvcc_reads_response_files_and_checks_syntax_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "my main.c", "int helper(void);\nint main(void) { return helper(); }\n");
    write(d, "helper.c", "int helper(void) { return HELPER_VALUE; }\n");
    write(d, "inner.rsp", "-DHELPER_VALUE=0 helper.c\n");
    write(d, "link.rsp", "'my main.c' @inner.rsp\n  -o \"out dir.nexe\"\n");
    let mut c = zvcc();
    c.current_dir(d).arg("@link.rsp");
    run_ok(c, "zvcc @link.rsp");
    assert!(verify(&d.join("out dir.nexe")) > 0);

    let mut c = zvcc();
    c.current_dir(d).args(["-fsyntax-only", "helper.c", "-DHELPER_VALUE=1"]);
    run_ok(c, "zvcc -fsyntax-only");
    assert!(!d.join("a.out").exists(), "-fsyntax-only links nothing");
    let mut c = zvcc();
    c.current_dir(d).args(["-fsyntax-only", "helper.c"]);
    let err = run_err(c, "zvcc -fsyntax-only with an error");
    assert!(err.contains("HELPER_VALUE"), "{err}");
}
