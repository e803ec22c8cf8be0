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
    // (LIBRARY_PATH's directories are in `-print-search-dirs`.)
    c.env_remove("LIBRARY_PATH").args(args);
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
    assert_eq!(o.status.code(), Some(1), "gcc's status");
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

    // A response file that names itself is an error saying so (QA finding: it was
    // reported as a missing file).
    write(d, "self.rsp", "@self.rsp\n");
    let mut c = zvcc();
    c.current_dir(d).args(["@self.rsp", "helper.c"]);
    let err = run_err(c, "zvcc @self.rsp");
    assert!(err.contains("self.rsp") && err.contains("nested more than 16 deep"), "{err}");

    // gcc ignores -shared when it only compiles (build systems pass link flags to every
    // step); linking with it is refused.
    let mut c = zvcc();
    c.current_dir(d).args(["-shared", "-DHELPER_VALUE=2", "-c", "helper.c", "-o", "shared-flag.o"]);
    run_ok(c, "zvcc -shared -c");
    assert!(d.join("shared-flag.o").is_file());
    let mut c = zvcc();
    c.current_dir(d).args(["-shared", "shared-flag.o", "-o", "lib.so"]);
    let err = run_err(c, "zvcc -shared (link)");
    assert!(err.contains("-shared is not supported"), "{err}");
    assert!(err.contains("ar rcs libNAME.a"), "says what to do instead: {err}");

    // A split-stack link is refused naming the option (it failed on an undefined
    // `_Unwind_Resume` that named no cause; a QA round's note).
    let mut c = zvcc();
    c.current_dir(d).args(["-fsplit-stack", "helper.c", "-o", "split.nexe"]);
    let err = run_err(c, "zvcc -fsplit-stack (link)");
    assert!(err.contains("-fsplit-stack is not supported"), "{err}");
}

/// The entry address and whether a symbol is defined, read from a linked nexe.
fn entry_and_symbol(path: &Path, name: &str) -> (u64, Option<u64>) {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(path).unwrap();
    let f = object::File::parse(&*data).unwrap();
    let sym = f.symbols().find(|s| s.name() == Ok(name)).map(|s| s.address());
    (f.entry(), sym)
}

/// Linker options reach zvld in every spelling gcc and GNU ld accept, and change the link
/// as they would with ld: `-u`, `-e`, `-l`, `-L`, `-Map` separate or joined, long or
/// short (`-Wl,-ualt`, `-Wl,--undefined=alt`, `-u alt`, `-e main`, `-Wl,--entry=main`,
/// `-Wl,-L,DIR,-l,alt`, `-Xlinker -Map -Xlinker FILE`, `-Wl,-Map -Wl,FILE`). These
/// were ignored (joined `-Wl,` forms) or broke the compile (`-u SYM` handed `-u -c` to
/// gcc). `--wrap`/`--defsym` with a separate argument are refused as their `=` forms
/// are, ld's single-dash long options are not read as `-e`/`-u` (`-Wl,-export-dynamic`),
/// and an option missing its argument is an error.
#[test]
fn zvcc_gives_linker_options_to_zvld_in_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.c", "int main(void) { return 0; }\n");
    write(d, "alt.c", "int alt(void) { return 7; }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["-c", "alt.c", "-o", "alt.o"]);
    run_ok(c, "zvcc -c alt.c");
    std::fs::create_dir(d.join("libdir")).unwrap();
    let mut c = Command::new("ar");
    c.current_dir(d).args(["rcs", "libdir/libalt.a", "alt.o"]);
    run_ok(c, "ar");

    // Each line: arguments; whether `alt` (only reachable through -u) is linked; whether
    // the entry is `main` (not `_start`).
    let cases: &[(&[&str], bool, bool)] = &[
        (&["-Llibdir", "-lalt"], false, false),
        (&["-u", "alt", "-Llibdir", "-lalt"], true, false),
        (&["-ualt", "-Llibdir", "-lalt"], true, false),
        (&["-Wl,-ualt", "-Llibdir", "-lalt"], true, false),
        (&["-Wl,-u,alt", "-Wl,-Llibdir,-lalt"], true, false),
        (&["-Wl,--undefined=alt", "-Wl,--library-path=libdir", "-Wl,--library=alt"], true, false),
        (&["-Wl,--require-defined=alt", "-Wl,-L,libdir,-l,alt"], true, false),
        (&["-Xlinker", "--undefined", "-Xlinker", "alt", "-Xlinker", "-Llibdir", "-Xlinker", "-lalt"], true, false),
        (&["-e", "main"], false, true),
        (&["-Wl,-emain"], false, true),
        (&["-Wl,--entry=main"], false, true),
        (&["-Wl,--entry", "-Wl,main"], false, true),
        (&["--entry=main"], false, true),
        (&["-Wl,-entry=main"], false, true),
        (&["-Wl,-library-path=libdir,-lalt,-ualt"], true, false),
        // As with GNU ld, a `-u` name nothing defines (or uses) is not an error.
        (&["-u", "nosuch"], false, false),
        (&["-Wl,-unosuch"], false, false),
        (&["-Wl,-export-dynamic,-eh-frame-hdr,-z,now,-rpath,/x,-soname,y", "-z", "relro", "-znow"], false, false),
    ];
    for (k, (args, alt, at_main)) in cases.iter().enumerate() {
        let out = format!("p{k}.nexe");
        let mut c = zvcc();
        c.current_dir(d).arg("main.c").args(*args).args(["-o", &out]);
        run_ok(c, &format!("zvcc {args:?}"));
        let (entry, alt_addr) = entry_and_symbol(&d.join(&out), "alt");
        let (_, main_addr) = entry_and_symbol(&d.join(&out), "main");
        assert_eq!(alt_addr.is_some(), *alt, "{args:?}: `alt` linked");
        assert_eq!(Some(entry) == main_addr, *at_main, "{args:?}: entry at main");
    }

    for args in [&["-Xlinker", "-Map", "-Xlinker", "x.map"][..], &["-Wl,-Map", "-Wl,y.map"]] {
        let mut c = zvcc();
        c.current_dir(d).arg("main.c").args(args).args(["-o", "m.nexe"]);
        run_ok(c, &format!("zvcc {args:?}"));
    }
    assert!(d.join("x.map").is_file() && d.join("y.map").is_file(), "-Map FILE in two pieces writes FILE");

    for (args, says) in [
        (&["-Wl,--wrap,malloc"][..], "-Wl,--wrap"),
        (&["-Wl,--defsym", "-Wl,a=1"], "-Wl,--defsym"),
        (&["-Xlinker", "--wrap", "-Xlinker", "malloc"], "-Xlinker --wrap"),
        (&["-T", "x.ld"], "-T"),
        (&["-Wl,-Map"], "needs an argument"),
        (&["-Wl,--require-defined=nosuch"], "undefined symbol `nosuch`"),
        (&["-Wl,--require-defined,nosuch"], "undefined symbol `nosuch`"),
        // One dash and a word that is not ld's `--entry`: `-e ntry_main`, as with ld.
        (&["-Wl,-entry_main"], "undefined symbol `ntry_main`"),
    ] {
        let mut c = zvcc();
        c.current_dir(d).arg("main.c").args(args).args(["-o", "bad.nexe"]);
        let err = run_err(c, &format!("zvcc {args:?}"));
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// zvld's `-M` is GNU ld's: the map on standard output, with no argument (it took the
/// next argument as the map file, so `zvld -M x.o` wrote the map over the input).
#[test]
fn zvld_dash_m_prints_the_map_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "start.c", "void _start(void) { for (;;) {} }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["-c", "start.c", "-o", "start.o"]);
    run_ok(c, "zvcc -c start.c");
    let before = std::fs::read(d.join("start.o")).unwrap();
    let mut c = zvld();
    c.current_dir(d).args(["-M", "start.o", "-o", "start.nexe"]);
    let out = run_ok(c, "zvld -M start.o");
    assert!(String::from_utf8_lossy(&out.stdout).contains("_start"), "the map is on stdout");
    assert_eq!(std::fs::read(d.join("start.o")).unwrap(), before, "the input is untouched");
    assert!(verify(&d.join("start.nexe")) > 0);
}

/// zvld itself reads GNU ld's command line with the parser zvcc's `-Wl,` options go
/// through (`zvld::ldopts`): it refused `-uSYM`, `--undefined=SYM`, `-eSYM` and
/// `--library=NAME` that zvcc accepted. An unknown option is still an error (status 2)
/// for zvld, as for ld; a file named in `-Wl,` is an input at its place (zvcc dropped it),
/// and `-Wl,-M` prints the map (zvcc ignored it).
#[test]
fn zvld_reads_the_linker_options_zvcc_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "start.c", "void _start(void) { for (;;) {} }\n");
    write(d, "alt.c", "int alt(void) { return 7; }\n");
    write(d, "main.c", "int main(void) { return 0; }\n");
    for f in ["start", "alt"] {
        let mut c = zvcc();
        c.current_dir(d).args(["-c", &format!("{f}.c"), "-o", &format!("{f}.o")]);
        run_ok(c, "zvcc -c");
    }
    std::fs::create_dir(d.join("libdir")).unwrap();
    let mut c = Command::new("ar");
    c.current_dir(d).args(["rcs", "libdir/libalt.a", "alt.o"]);
    run_ok(c, "ar");
    let cases: &[(&[&str], bool)] = &[
        (&["-Llibdir", "-lalt"], false),
        (&["-ualt", "-Llibdir", "-lalt"], true),
        (&["--undefined=alt", "--library-path=libdir", "--library=alt"], true),
        (&["--undefined", "alt", "-L", "libdir", "-l", "alt"], true),
        (&["-Map=z.map", "-ualt", "-Llibdir", "-lalt", "--gc-sections", "-O1"], true),
    ];
    for (k, (args, alt)) in cases.iter().enumerate() {
        let out = format!("z{k}.nexe");
        let mut c = zvld();
        c.current_dir(d).arg("start.o").args(*args).args(["-e_start", "--output", &out, "-static", "-znoexecstack"]);
        run_ok(c, &format!("zvld {args:?}"));
        let (entry, alt_addr) = entry_and_symbol(&d.join(&out), "alt");
        let (_, start) = entry_and_symbol(&d.join(&out), "_start");
        assert_eq!(alt_addr.is_some(), *alt, "{args:?}: `alt` linked");
        assert_eq!(Some(entry), start, "{args:?}: -e_start");
    }
    assert!(d.join("z.map").is_file(), "-Map=FILE");
    for (args, says) in [
        (&["--frobnicate"][..], "unknown option --frobnicate"),
        (&["--wrap=malloc"], "does not support"),
        (&["-m", "elf_i386"], "x86-64 only"),
        (&["-u"], "needs an argument"),
    ] {
        let mut c = zvld();
        c.current_dir(d).args(["start.o", "-o", "bad.nexe"]).args(args);
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "zvld {args:?}: a usage error");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!d.join("bad.nexe").exists());
    }
    // zvcc: a file among -Wl, arguments is linked; -Wl,-M prints the map.
    let mut c = zvcc();
    c.current_dir(d).args(["main.c", "-Wl,alt.o", "-o", "w.nexe"]);
    run_ok(c, "zvcc -Wl,alt.o");
    assert!(entry_and_symbol(&d.join("w.nexe"), "alt").1.is_some(), "-Wl,alt.o links alt.o");
    let mut c = zvcc();
    c.current_dir(d).args(["main.c", "-Wl,-M", "-o", "m.nexe"]);
    let out = run_ok(c, "zvcc -Wl,-M");
    assert!(String::from_utf8_lossy(&out.stdout).contains("main"), "-Wl,-M prints the map");
}

/// `-gz` (compressed debug sections, SHF_COMPRESSED): zvld read the compressed bytes as
/// DWARF and failed with "relocation at offset ... lies past the section's end". zvcc
/// now compiles with `-gz=none` after the build's flags, so `CFLAGS=-gz` links with its
/// debug information; an object compressed elsewhere is refused with a message that says
/// what it is and what to do.
#[test]
fn compressed_debug_sections_are_undone_by_zvcc_and_named_by_zvld() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "gz.c", "#include <stdio.h>\nint main(void) { puts(\"gz\"); return 0; }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["-O2", "-g", "-gz", "gz.c", "-o", "gz.nexe"]);
    run_ok(c, "zvcc -g -gz");
    assert!(verify(&d.join("gz.nexe")) > 0);
    {
        use object::{Object, ObjectSection};
        let data = std::fs::read(d.join("gz.nexe")).unwrap();
        let f = object::File::parse(&*data).unwrap();
        f.section_by_name(".debug_info").expect("the nexe keeps its DWARF");
        // What zvcc compiles with -gz is not compressed (zvld writes every section of
        // its own output uncompressed, so the object is where this can fail).
        let mut c = zvcc();
        c.current_dir(d).args(["-O2", "-g", "-gz", "-c", "gz.c", "-o", "gz.o"]);
        run_ok(c, "zvcc -g -gz -c");
        let data = std::fs::read(d.join("gz.o")).unwrap();
        let f = object::File::parse(&*data).unwrap();
        let info = f.section_by_name(".debug_info").expect("the object has DWARF");
        assert!(
            matches!(info.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_COMPRESSED) == 0)
        );
    }

    let mut g = native_gcc();
    g.current_dir(d).args(["-O2", "-g", "-gz", "-fno-pic", "-ffixed-r11", "-c", "gz.c", "-o", "gz.o"]);
    run_ok(g, "gcc -g -gz -c");
    let mut c = zvcc();
    c.current_dir(d).args(["gz.o", "-o", "gz2.nexe"]);
    let err = run_err(c, "zvcc with a -gz object");
    assert!(err.contains("gz.o: section .debug_") && err.contains("is compressed"), "{err}");
    assert!(err.contains("rebuild without -gz"), "{err}");
}

/// gcc's help queries (`--help`, `--target-help`, `-Q --help=target`, `-dumpspecs`) are
/// answered by gcc, and `-Q --help=target` shows the options as zvcc compiles (AVX-512
/// off even with `-march=native`, TLS through the thread pointer read). They failed with
/// "no input files".
#[test]
fn zvcc_answers_help_queries_as_gcc_with_its_flags() {
    for args in [&["--help"][..], &["--target-help"], &["-dumpspecs"], &["-Q", "--help=target"]] {
        assert!(!stdout_of(args).is_empty(), "zvcc {args:?} prints gcc's answer");
    }
    let target = stdout_of(&["-march=native", "-Q", "--help=target"]);
    let state =
        |opt: &str| target.lines().find(|l| l.split_whitespace().next() == Some(opt)).map(|l| l.contains("[enabled]"));
    assert_eq!(state("-mavx512f"), Some(false), "{target}");
    assert_eq!(state("-mtls-direct-seg-refs"), Some(false), "{target}");
}

/// A one-step build leaves gcc's auxiliary outputs where gcc leaves them (`OUT-STEM.EXT`
/// beside the output, `a-STEM.EXT` without `-o`): they were written next to zvcc's
/// temporary objects and deleted with them. `--coverage` links libgcov, as gcc's link
/// spec does (it failed with "undefined symbol `__gcov_init`").
#[test]
fn one_step_builds_keep_auxiliary_outputs_and_link_libgcov() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "h.c", "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["--coverage", "-save-temps", "h.c", "-o", "cov.nexe"]);
    run_ok(c, "zvcc --coverage -save-temps");
    for f in ["cov.nexe-h.gcno", "cov.nexe-h.i", "cov.nexe-h.s", "cov.nexe-h.o"] {
        assert!(d.join(f).is_file(), "{f} is left as gcc leaves it");
    }
    assert!(verify(&d.join("cov.nexe")) > 0);
    let out = Command::new(sibling_binary("zvrun")).arg(d.join("cov.nexe")).output().unwrap();
    assert_eq!(out.stdout, b"hi\n", "{}", String::from_utf8_lossy(&out.stderr));
    let mut c = zvcc();
    c.current_dir(d).args(["-g", "-gsplit-dwarf", "h.c"]);
    run_ok(c, "zvcc -gsplit-dwarf");
    assert!(d.join("a-h.dwo").is_file() && d.join("a.out").is_file(), "a-h.dwo without -o");
}

/// Build-system findings (QA of zvcc as CC for make, autoconf, CMake and Meson), each as
/// gcc behaves:
/// - an output that is one of the inputs is refused and the input left alone (zvcc
///   overwrote `x.c` with the nexe; zvld an object named twice);
/// - a header on the link line (`$(CC) -o $@ $^` with `two.h` among the prerequisites) is
///   compiled and not linked, and headers alone make the precompiled header;
/// - `-Wl,--version` prints a version line naming GNU ld compatibility and links nothing
///   (Meson identifies the linker so);
/// - `-r` is refused, not turned into a nexe named `ab.o`;
/// - `-lgcc`, `-lgcc_eh` and `-l:FILE` are found; `-nodefaultlibs -lc -lgcc` links (zrt
///   is kept, like crt1.o);
/// - `-lNAME` with only `libNAME.so` there says so.
#[test]
fn zvcc_behaves_as_gcc_for_build_systems() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "m.c", "#include \"two.h\"\nint main(void) { return two(); }\n");
    write(d, "two.h", "int two(void);\n");
    write(d, "two.c", "int two(void) { return 2; }\n");
    let zvcc_in = |args: &[&str]| {
        let mut c = zvcc();
        c.current_dir(d).args(args);
        c.output().expect("zvcc")
    };
    let err_of = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // Output == input.
    let before = std::fs::read(d.join("two.c")).unwrap();
    let o = zvcc_in(&["m.c", "two.c", "-o", "two.c"]);
    assert_eq!(o.status.code(), Some(1), "{}", err_of(&o));
    assert!(err_of(&o).contains("input file 'two.c' is the same as output file"), "{}", err_of(&o));
    assert_eq!(std::fs::read(d.join("two.c")).unwrap(), before, "the source is untouched");
    run_ok(
        {
            let mut c = zvcc();
            c.current_dir(d).args(["-c", "two.c"]);
            c
        },
        "zvcc -c two.c",
    );
    let obj = std::fs::read(d.join("two.o")).unwrap();
    let o = zvcc_in(&["m.c", "two.o", "-o", "two.o"]);
    assert_eq!(o.status.code(), Some(1), "{}", err_of(&o));
    assert_eq!(std::fs::read(d.join("two.o")).unwrap(), obj);
    let mut c = zvld();
    c.current_dir(d).args(["two.o", "-o", "two.o"]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(err_of(&o).contains("is the same as output file"), "{}", err_of(&o));
    assert_eq!(std::fs::read(d.join("two.o")).unwrap(), obj);

    // A header among the inputs.
    let o = zvcc_in(&["-o", "prog.nexe", "m.c", "two.c", "two.h"]);
    assert!(o.status.success(), "{}", err_of(&o));
    verify(&d.join("prog.nexe"));
    let mut run = Command::new(sibling_binary("zvrun"));
    run.arg(d.join("prog.nexe"));
    assert_eq!(run.output().unwrap().status.code(), Some(2));
    let o = zvcc_in(&["-x", "c-header", "two.h", "-o", "two.h.gch"]);
    assert!(o.status.success() && d.join("two.h.gch").is_file(), "{}", err_of(&o));

    // -Wl,--version.
    let o = zvcc_in(&["-Wl,--version"]);
    assert!(o.status.success(), "{}", err_of(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("GNU ld compatible") && out.starts_with("zvld "), "{out}");
    assert!(!d.join("a.out").exists(), "nothing linked");

    // -r.
    let o = zvcc_in(&["-r", "two.o", "-o", "ab.o"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err_of(&o).contains("partial link") && !d.join("ab.o").exists(), "{}", err_of(&o));

    // gcc's libraries, -l:FILE, -nodefaultlibs.
    let mut ar = Command::new("ar");
    ar.current_dir(d).args(["rcs", "libfoo.a", "two.o"]);
    run_ok(ar, "ar");
    for args in [
        &["m.c", "-L.", "-l:libfoo.a", "-o", "p1.nexe"][..],
        &["m.c", "two.c", "-lgcc", "-lgcc_eh", "-o", "p2.nexe"],
        &["-nodefaultlibs", "m.c", "two.c", "-lc", "-lgcc", "-o", "p3.nexe"],
    ] {
        let o = zvcc_in(args);
        assert!(o.status.success(), "{args:?}: {}", err_of(&o));
        let out = d.join(args.last().unwrap());
        verify(&out);
        let mut run = Command::new(sibling_binary("zvrun"));
        run.arg(&out);
        assert_eq!(run.output().unwrap().status.code(), Some(2), "{args:?}");
    }
    std::fs::copy(d.join("libfoo.a"), d.join("libbar.so")).unwrap();
    let o = zvcc_in(&["m.c", "-L.", "-lbar", "-o", "p4.nexe"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err_of(&o).contains("only the shared library ./libbar.so"), "{}", err_of(&o));
}

/// SIGTERM to zvcc alone (as `timeout` or a build tool sends it) stops the gcc it is
/// waiting for and removes zvcc's temporary directory, and zvcc ends by that signal, as
/// gcc's driver does (QA finding: the directory stayed and gcc ran on).
#[test]
fn a_terminated_zvcc_stops_gcc_and_leaves_no_temporary_files() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Several seconds of gcc -O3.
    let src = write(
        d,
        "slow_zvcc_term.c",
        "#define A(x) x x x x x x x x\nint f(void) { volatile int s = 0; A(A(A(A(A(s++;))))) return s; }\n\
         int main(void) { return f(); }\n",
    );
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut c = zvcc();
    c.env("TMPDIR", &tmp).arg("-O3").arg(&src).arg("-o").arg(d.join("slow.nexe"));
    let mut child = c.spawn().unwrap();
    // Wait until gcc is running (zvcc has made its temporary directory).
    let start = std::time::Instant::now();
    while std::fs::read_dir(&tmp).unwrap().next().is_none() && start.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id() as i32;
    // The shell's own `kill` (procps, which ships the binary, is not essential in Debian).
    let term = Command::new("sh").arg("-c").arg(format!("kill -TERM {pid}")).status().unwrap();
    assert_eq!(term.code(), Some(0));
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(15), "zvcc ends by SIGTERM: {status:?}");
    assert!(std::fs::read_dir(&tmp).unwrap().next().is_none(), "the temporary directory is removed");
    // The gcc driver zvcc waited for is gone. (Its cc1, which gcc's driver itself does not
    // stop when it alone is sent SIGTERM, may run on to its end; a signal to the whole
    // process group, as `timeout` and a terminal send, reaches it directly. It is stopped
    // here so the test leaves nothing behind.)
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut driver_left = false;
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).into_owned();
        if !cmd.contains("slow_zvcc_term") {
            continue;
        }
        let argv0 = cmd.split('\0').next().unwrap_or("");
        if argv0.ends_with("cc1") {
            let _ =
                Command::new("sh").arg("-c").arg(format!("kill -KILL {}", e.file_name().to_string_lossy())).status();
        } else if argv0.ends_with("gcc") {
            driver_left = true;
        }
    }
    assert!(!driver_left, "the gcc driver was stopped");
    assert!(!d.join("slow.nexe").exists());
}

/// An argument that is not valid UTF-8 (a file name in another encoding) is a usage
/// error naming it, for zvld and zvcc alike: status 2 for zvld (ld's), 1 for zvcc
/// (gcc's), never a panic (argument fuzzing found both binaries panicking in
/// std::env::args).
#[test]
fn arguments_that_are_not_utf8_are_usage_errors() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.o");
    for (mut c, status) in [(zvld(), 2), (zvcc(), 1)] {
        let out = c.arg("-o").arg("x.nexe").arg(bad).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{err}");
        assert!(err.contains("argument 3 is not valid UTF-8: caf\u{fffd}.o") && !err.contains("panicked"), "{err}");
    }
}

/// The queries in gcc's other spelling (`--print-X`) and with other arguments on the line
/// (`$(CC) $(CFLAGS) -print-file-name=...`; Meson asks `zvcc FILE -o OUT -c ... --print-search-dirs`)
/// get the sysroot's answers, not the host's: gcc answers the query and compiles nothing.
/// `-print-search-dirs` lists the sysroot's library directory only (Meson's and libtool's
/// library search read it: a host's glibc-built `libz.a` was found and linked), and
/// `-print-multiarch` is empty, as for a gcc built for musl (it named the host's
/// `x86_64-linux-gnu`). (QA finding: `--print-file-name=libc.a` said "no input files",
/// `-O2 -print-file-name=libc.a` named glibc's libc.a.)
#[test]
fn zvcc_answers_queries_in_every_spelling_from_its_sysroot() {
    let root = sysroot();
    let libc = root.join("lib/libc.a").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "t.c", "int main(void) { return 0; }\n");
    let src = src.to_str().unwrap();
    for args in [
        &["--print-file-name=libc.a"][..],
        &["-O2", "-g", "-print-file-name=libc.a"],
        &["-O2", "--print-file-name", "libc.a"],
    ] {
        assert_eq!(stdout_of(args).trim(), libc, "zvcc {args:?}");
    }
    for args in [&["--print-sysroot"][..], &["-O2", "-print-sysroot"]] {
        assert_eq!(stdout_of(args).trim(), root.display().to_string(), "zvcc {args:?}");
    }
    for args in [&["-print-multiarch"][..], &["--print-multiarch"]] {
        assert_eq!(stdout_of(args).trim(), "", "zvcc {args:?}");
    }
    // Meson's library search: the compile line with the query added; nothing is compiled.
    let obj = dir.path().join("output.obj");
    let obj_s = obj.to_str().unwrap();
    for q in ["--print-search-dirs", "-print-search-dirs"] {
        let dirs = stdout_of(&[src, "-o", obj_s, "-c", "-D_FILE_OFFSET_BITS=64", "-O0", q]);
        let libs: Vec<&str> = dirs.lines().filter(|l| l.starts_with("libraries:")).collect();
        assert_eq!(libs, [format!("libraries: ={}/", root.join("lib").display())], "{q}: {dirs}");
        assert!(dirs.lines().any(|l| l.starts_with("programs: =")), "{q}: gcc's programs line: {dirs}");
        assert!(!obj.exists(), "{q}: nothing is compiled");
    }
    // gcc's own answers are still gcc's, in both spellings.
    for q in ["-print-libgcc-file-name", "--print-libgcc-file-name", "--print-prog-name=cc1"] {
        let a = stdout_of(&["-O2", q]);
        assert!(Path::new(a.trim()).is_file(), "zvcc {q}: {a}");
    }
}

/// The names of a nexe's sections, read from its section headers.
fn section_names(nexe: &Path) -> Vec<String> {
    let b = std::fs::read(nexe).unwrap();
    let (shoff, shnum, shstrndx) = (u64_at(&b, 0x28) as usize, u16_at(&b, 0x3c) as usize, u16_at(&b, 0x3e) as usize);
    let sh = |i: usize| shoff + i * 64;
    let strings = u64_at(&b, sh(shstrndx) + 24) as usize;
    (0..shnum)
        .map(|i| {
            let at = strings + u32_at(&b, sh(i)) as usize;
            let end = at + b[at..].iter().position(|&c| c == 0).unwrap();
            String::from_utf8_lossy(&b[at..end]).into_owned()
        })
        .collect()
}

/// `-s`/`--strip-all` drops the symbol table with the DWARF, as GNU ld and `gcc -s` do;
/// `-S`/`--strip-debug` drops only the DWARF (QA finding: `-s` kept `.symtab`).
#[test]
fn dash_s_strips_all_symbols_and_dash_capital_s_only_debug_information() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "s.c", "int main(void) { return 0; }\n");
    let sections = |flags: &[&str]| {
        let out = dir.path().join("s.nexe");
        let mut c = zvcc();
        c.arg("-g").args(flags).arg(&src).arg("-o").arg(&out);
        run_ok(c, &format!("zvcc {flags:?}"));
        verify(&out);
        section_names(&out)
    };
    let has = |names: &[String], n: &str| names.iter().any(|x| x == n);
    let full = sections(&[]);
    assert!(has(&full, ".symtab") && has(&full, ".debug_info"), "{full:?}");
    for flags in [&["-s"][..], &["-Wl,-s"], &["-Wl,--strip-all"]] {
        let names = sections(flags);
        assert!(!has(&names, ".symtab") && !has(&names, ".strtab"), "{flags:?}: {names:?}");
        assert!(!names.iter().any(|n| n.starts_with(".debug")), "{flags:?}: {names:?}");
    }
    for flags in [&["-Wl,-S"][..], &["-Wl,--strip-debug"]] {
        let names = sections(flags);
        assert!(has(&names, ".symtab") && has(&names, ".strtab"), "{flags:?}: {names:?}");
        assert!(!names.iter().any(|n| n.starts_with(".debug")), "{flags:?}: {names:?}");
    }
}

/// `-march=` values that enable extensions FORM.md's C3 rejects still give code that
/// links and verifies: zvcc turns those extensions off after the build's flags and keeps
/// the ones form 1 allows. QA finding: `-O3 -march=native` on an Alder Lake or Sapphire
/// Rapids machine vectorized dot products with AVX-VNNI (`vpdpwssd`), which zvld refused.
#[test]
fn march_values_with_extensions_outside_form_1_still_link() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(
        dir.path(),
        "dot.c",
        "#include <stdio.h>\n#include <stdint.h>\n\
         __attribute__((noinline)) int dot16(const int16_t *a, const int16_t *b, int n) {\n\
           int s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n\
         __attribute__((noinline)) int dot8(const uint8_t *a, const int8_t *b, int n) {\n\
           int s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n\
         __attribute__((noinline)) void rot(uint32_t *a, int n) {\n\
           for (int i = 0; i < n; i++) a[i] = (a[i] << 7 | a[i] >> 25) ^ (a[i] & ~(a[i] >> 3)); }\n\
         int main(void) {\n\
           int16_t a[1000], b[1000]; uint8_t c[1000]; int8_t d[1000]; uint32_t r[1000];\n\
           for (int i = 0; i < 1000; i++) { a[i] = i % 300 - 150; b[i] = (i * 7) % 200 - 100;\n\
             c[i] = i * 13; d[i] = (i * 5) % 250 - 125; r[i] = i * 2654435761u; }\n\
           rot(r, 1000);\n\
           printf(\"%d %d %u\\n\", dot16(a, b, 1000), dot8(c, d, 1000), r[999] ^ r[3]);\n\
           return 0; }\n",
    );
    let native = dir.path().join("dot-native");
    let mut g = native_gcc();
    g.arg("-static").arg("-O2").arg(&src).arg("-o").arg(&native);
    run_ok(g, "native gcc");
    let expected = String::from_utf8(run_ok(Command::new(&native), "native dot").stdout).unwrap();
    for march in ["-march=alderlake", "-march=sapphirerapids", "-march=bdver2"] {
        let out = dir.path().join("dot.nexe");
        let mut c = zvcc();
        c.arg("-O3").arg(march).arg(&src).arg("-o").arg(&out);
        run_ok(c, &format!("zvcc -O3 {march}"));
        verify(&out);
        let mut r = Command::new(sibling_binary("zvrun"));
        r.arg(&out);
        let got = String::from_utf8(run_ok(r, &format!("zvrun ({march})")).stdout).unwrap();
        assert_same_text(march, &expected, &got);
    }
    // The feature macros follow: portable code takes its fallback instead of intrinsics
    // zvld would refuse; what form 1 allows stays on.
    let macros = stdout_of(&["-march=sapphirerapids", "-dM", "-E", "-x", "c", "/dev/null"]);
    for off in
        ["__AVXVNNI__", "__AVX512F__", "__RDRND__", "__RDSEED__", "__VAES__", "__GFNI__", "__RTM__", "__CLFLUSHOPT__"]
    {
        assert!(!macros.contains(&format!("#define {off} ")), "{off} is defined");
    }
    for on in ["__AVX2__", "__FMA__", "__BMI2__", "__SHA__", "__AES__", "__F16C__", "__MOVBE__", "__ADX__"] {
        assert!(macros.contains(&format!("#define {on} ")), "{on} is not defined");
    }
}

/// zvcc takes gcc's path answers (libgcc's file, gcc's include directory) from the record
/// scripts/build-sysroot keeps in the sysroot (`gcc-paths`) instead of starting gcc to ask
/// on every link and compile, but only when it runs the gcc the record names and the
/// recorded file exists: a record naming a marked copy of libgcc is used, and ignored
/// under `ZVCC_GCC`, for another gcc, and when the file is gone.
#[test]
fn zvcc_takes_gcc_paths_from_the_sysroot_record_only_for_the_same_gcc() {
    let dir = tempfile::tempdir().unwrap();
    let real = sysroot();
    // A sysroot that is the real one but for its record.
    let sr = dir.path().join("sysroot");
    std::fs::create_dir(&sr).unwrap();
    for d in ["include", "lib"] {
        std::os::unix::fs::symlink(real.join(d), sr.join(d)).unwrap();
    }
    // gcc's libgcc plus a marker function (zrt needs libgcc's own functions too).
    let marker = write(dir.path(), "marker.c", "int zv_marker(void) { return 42; }\n");
    let obj = dir.path().join("marker.o");
    let mut c = zvcc();
    c.arg("-O2").arg("-c").arg(&marker).arg("-o").arg(&obj);
    run_ok(c, "zvcc -c marker.c");
    let marked = dir.path().join("libgcc-marked.a");
    std::fs::copy(tool_says("gcc", "-print-libgcc-file-name"), &marked).unwrap();
    let mut a = Command::new("ar");
    a.arg("rs").arg(&marked).arg(&obj);
    run_ok(a, "ar rs");
    let main =
        write(dir.path(), "main.c", "int zv_marker(void);\nint main(void) { return zv_marker() == 42 ? 0 : 1; }\n");
    let gcc = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("gcc"))
        .find(|g| g.is_file())
        .map(|g| std::fs::canonicalize(g).unwrap())
        .expect("gcc on PATH");
    let include = tool_says("gcc", "-print-file-name=include");
    let record = |gcc: &Path, libgcc: &Path| {
        let text = format!(
            "gcc={}\n-print-libgcc-file-name={}\n-print-file-name=include={include}\n",
            gcc.display(),
            libgcc.display()
        );
        std::fs::write(sr.join("gcc-paths"), text).unwrap();
    };
    let link = |src: &Path, gcc_env: Option<&str>| {
        let mut c = zvcc();
        c.env("ZV_SYSROOT", &sr).env_remove("ZVCC_GCC").arg(src).arg("-o").arg(dir.path().join("m.nexe"));
        if let Some(g) = gcc_env {
            c.env("ZVCC_GCC", g);
        }
        let o = c.output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    // The record names this gcc and the marked libgcc: zv_marker resolves.
    record(&gcc, &marked);
    let (ok, err) = link(&main, None);
    assert!(ok, "the record was not used: {err}");
    verify(&dir.path().join("m.nexe"));
    // Under ZVCC_GCC zvcc asks that gcc: its libgcc has no zv_marker.
    let (ok, err) = link(&main, Some("gcc"));
    assert!(!ok && err.contains("undefined symbol `zv_marker`"), "ZVCC_GCC: {err}");
    // Another gcc's record is ignored.
    record(Path::new("/nonexistent/gcc"), &marked);
    let (ok, err) = link(&main, None);
    assert!(!ok && err.contains("undefined symbol `zv_marker`"), "another gcc's record: {err}");
    // A recorded file that is gone: gcc's own answer (a program without the marker links).
    record(&gcc, &dir.path().join("gone/libgcc.a"));
    let plain = write(dir.path(), "plain.c", "int main(void) { return 0; }\n");
    let (ok, err) = link(&plain, None);
    assert!(ok, "a stale record: {err}");
}

/// gcc's command-line spellings and link files that a build may use, each as gcc has
/// it (a build-systems audit): the `--long` option spellings with a separate argument
/// (`--output F`, `--sysroot D`, `--language c`, `--define-macro X`); `-Wl,@FILE`
/// response files (ld reads them; not UTF-8: an error) and `zvld @FILE`; an unknown
/// `-Wl,` option is named in a warning, inside a response file too; `-Xlinker`'s argument
/// is never one of gcc's long spellings; `--oformat` other than a nexe's is
/// refused; an unusable TMPDIR falls back to /tmp; `-ffast-math` and `-Ofast` link gcc's
/// crtfastmath.o (flush-to-zero set at start-up), `-Ofast -O2` does not.
#[test]
fn zvcc_takes_gccs_long_options_response_files_and_end_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "v.c", "int value(void) { return V; }\n");
    write(d, "m.c", "int value(void);\nint main(void) { return value(); }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["--define-macro", "V=7", "--sysroot", "/", "--language", "c", "v.c"]);
    c.args(["--language", "none", "m.c", "--output", "long.nexe"]);
    run_ok(c, "zvcc with gcc's long options");
    assert!(verify(&d.join("long.nexe")) > 0);
    let mut r = Command::new(sibling_binary("zvrun"));
    r.args(["--no-cache"]).arg(d.join("long.nexe"));
    assert_eq!(r.output().unwrap().status.code(), Some(7), "--define-macro V=7 reached the compile");

    // -Wl,@FILE and zvld @FILE.
    let mut c = zvcc();
    c.current_dir(d).args(["-c", "-DV=3", "v.c", "-o", "v.o"]);
    run_ok(c, "zvcc -c v.c");
    let st = Command::new("ar").current_dir(d).args(["rcs", "libv.a", "v.o"]).status().unwrap();
    assert!(st.success());
    write(d, "ld.rsp", "-L. -lv\n");
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "-Wl,@ld.rsp", "-o", "rsp.nexe"]);
    run_ok(c, "zvcc -Wl,@ld.rsp");
    assert!(verify(&d.join("rsp.nexe")) > 0);
    write(d, "bad.rsp", "-dT\n");
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "v.o", "-Wl,@bad.rsp", "-o", "warned.nexe"]);
    let out = run_ok(c, "zvcc -Wl,@bad.rsp");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-dT (from -Wl,@bad.rsp): linker option unknown to zvld, ignored"), "{err}");
    // A response file that is not UTF-8 text is an error saying so (a review found it
    // expanded again and again, to a stack overflow).
    std::fs::write(d.join("latin1.rsp"), b"-s \xff\n").unwrap();
    for via in ["-Wl,@latin1.rsp", "@latin1.rsp"] {
        let mut c = zvcc();
        c.current_dir(d).args(["m.c", "v.o", via, "-o", "latin1.nexe"]);
        let err = run_err(c, &format!("zvcc {via}"));
        assert!(err.contains("latin1.rsp is not UTF-8 text"), "{via}: {err}");
    }
    let mut c = zvld();
    c.current_dir(d).arg("@latin1.rsp");
    let err = run_err(c, "zvld @latin1.rsp");
    assert!(err.contains("latin1.rsp is not UTF-8 text"), "{err}");
    // The argument of -Xlinker is ld's, never one of gcc's long spellings (`--verbose`
    // is not gcc's -v, `--entry=main` not `-e`).
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "v.o", "-Xlinker", "--entry=main", "-Xlinker", "--no-warnings", "-o", "x.nexe"]);
    let out = run_ok(c, "zvcc -Xlinker --entry=main");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(verify(&d.join("x.nexe")) > 0);
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "v.o", "-Wl,-dT,x", "-o", "bad.nexe"]);
    let err = run_err(c, "zvcc -Wl,-dT,x");
    assert!(err.contains("-Wl,-dT: linker option unknown to zvld, ignored") && err.contains("cannot read x"), "{err}");
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "v.o", "-Wl,--push-state,--as-needed,--pop-state", "-o", "ok.nexe"]);
    let out = run_ok(c, "zvcc -Wl,--push-state,...");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "v.o", "-Wl,--oformat=binary", "-o", "bad.nexe"]);
    let err = run_err(c, "zvcc -Wl,--oformat=binary");
    assert!(err.contains("--oformat binary"), "{err}");
    let sys = sysroot().join("lib");
    let libgcc = tool_says("gcc", "-print-libgcc-file-name");
    write(
        d,
        "zvld.rsp",
        &format!(
            "-o zvld-rsp.nexe {crt1} {crti} m.o -L. -lv {libc} {libgcc} {zrt} {crtn} -u __zv_syscall -u __zv_tp\n",
            crt1 = sys.join("crt1.o").display(),
            crti = sys.join("crti.o").display(),
            libc = sys.join("libc.a").display(),
            zrt = sys.join("libzrt.a").display(),
            crtn = sys.join("crtn.o").display(),
        ),
    );
    let mut c = zvcc();
    c.current_dir(d).args(["-c", "m.c", "-o", "m.o"]);
    run_ok(c, "zvcc -c m.c");
    let mut c = zvld();
    c.current_dir(d).arg("@zvld.rsp");
    run_ok(c, "zvld @zvld.rsp");
    assert!(verify(&d.join("zvld-rsp.nexe")) > 0);

    // An unusable TMPDIR: /tmp instead, as gcc does.
    let mut c = zvcc();
    c.current_dir(d).env("TMPDIR", d.join("no such dir")).args(["-DV=0", "v.c", "m.c", "-o", "tmpdir.nexe"]);
    run_ok(c, "zvcc with a missing TMPDIR");

    // crtfastmath.o: the MXCSR's FTZ and DAZ bits (0x8040) are set before main.
    write(
        d,
        "fm.c",
        "#include <stdio.h>\nint main(void) { unsigned m; __asm__ volatile(\"stmxcsr %0\" : \"=m\"(m));\n\
         printf(\"%d\\n\", (m & 0x8040) == 0x8040); return 0; }\n",
    );
    for (flags, expect) in [
        (&["-O2"][..], "0\n"),
        (&["-ffast-math"][..], "1\n"),
        (&["--fast-math"][..], "1\n"),
        (&["-Ofast"][..], "1\n"),
        (&["-Ofast", "-O2"][..], "0\n"),
        (&["-ffast-math", "-fno-fast-math"][..], "0\n"),
    ] {
        let mut c = zvcc();
        c.current_dir(d).args(flags).args(["fm.c", "-o", "fm.nexe"]);
        run_ok(c, &format!("zvcc {flags:?} fm.c"));
        let mut r = Command::new(sibling_binary("zvrun"));
        r.args(["--no-cache"]).arg(d.join("fm.nexe"));
        let out = run_ok(r, &format!("zvrun fm.nexe ({flags:?})"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), expect, "{flags:?}");
    }
}

/// `LIBRARY_PATH` (audit finding: ignored) is searched for `-l` as gcc searches it: after
/// the `-L` directories and after the sysroot's `lib/` (gcc's own directories; `gcc
/// -static -lm` with a `libm.a` in LIBRARY_PATH links the system's), an empty element
/// being the current directory; `-print-search-dirs` lists it after the sysroot's
/// directory and `-print-file-name` finds files in it.
#[test]
fn library_path_is_searched_after_the_l_directories_and_the_sysroot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (sub, value) in [("la", 7), ("lb", 5)] {
        std::fs::create_dir(d.join(sub)).unwrap();
        write(d, &format!("{sub}/foo.c"), &format!("int foo(void) {{ return {value}; }}\n"));
        let mut c = zvcc();
        c.current_dir(d.join(sub)).args(["-c", "foo.c"]);
        run_ok(c, "zvcc -c foo.c");
        let mut ar = Command::new("ar");
        ar.current_dir(d.join(sub)).args(["rcs", "libfoo.a", "foo.o"]);
        run_ok(ar, "ar");
    }
    write(d, "u.c", "int foo(void);\nint main(void) { return foo(); }\n");
    let (la, lb) = (d.join("la").display().to_string(), d.join("lb").display().to_string());
    // The status of the linked program, or None when zvcc failed (with its stderr).
    let link = |cwd: &Path, library_path: Option<&str>, args: &[&str]| -> Result<i32, String> {
        let mut c = zvcc();
        c.current_dir(cwd).env_remove("LIBRARY_PATH").arg(d.join("u.c")).args(args).arg("-o").arg(d.join("u.nexe"));
        if let Some(v) = library_path {
            c.env("LIBRARY_PATH", v);
        }
        let o = c.output().unwrap();
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).into_owned());
        }
        let run = Command::new(sibling_binary("zvrun")).arg(d.join("u.nexe")).output().unwrap();
        Ok(run.status.code().unwrap())
    };
    let err = link(d, None, &["-lfoo"]).unwrap_err();
    assert!(err.contains("cannot find -lfoo"), "{err}");
    assert_eq!(link(d, Some(&la), &["-lfoo"]), Ok(7), "LIBRARY_PATH={la}");
    assert_eq!(link(d, Some(&format!("/nonexistent:{lb}:{la}")), &["-lfoo"]), Ok(5), "in order");
    assert_eq!(link(d, Some(&la), &["-L", &lb, "-lfoo"]), Ok(5), "-L comes first");
    // A linker option stays among the inputs, after gcc's `-L` options for LIBRARY_PATH
    // (`LIBRARY_PATH=la gcc u.c -Wl,-L -Wl,lb -lfoo` links la's: checked natively).
    assert_eq!(link(d, Some(&la), &["-Wl,-L", "-Wl,lb", "-lfoo"]), Ok(7), "-Wl,-L comes after LIBRARY_PATH");
    assert_eq!(link(&d.join("la"), Some("/nonexistent::"), &["-lfoo"]), Ok(7), "an empty element is .");
    assert_eq!(link(&d.join("lb"), Some(""), &["-lfoo"]), Ok(5), "an empty value is .");
    // The sysroot's libm.a comes before a libm.a in LIBRARY_PATH, as the system's does for gcc.
    write(d, "la/fake.c", "int only_in_fake_libm(void) { return 0; }\n");
    let mut c = zvcc();
    c.current_dir(d.join("la")).args(["-c", "fake.c"]);
    run_ok(c, "zvcc -c fake.c");
    let mut ar = Command::new("ar");
    ar.current_dir(d.join("la")).args(["rcs", "libm.a", "fake.o"]);
    run_ok(ar, "ar");
    write(d, "u.c", "int only_in_fake_libm(void);\nint main(void) { return only_in_fake_libm(); }\n");
    let err = link(d, Some(&la), &["-lm"]).unwrap_err();
    assert!(err.contains("undefined symbol `only_in_fake_libm`"), "{err}");

    let mut c = zvcc();
    c.env("LIBRARY_PATH", format!("{la}:")).arg("-print-search-dirs");
    let dirs = String::from_utf8(run_ok(c, "zvcc -print-search-dirs").stdout).unwrap();
    let libs: Vec<&str> = dirs.lines().filter(|l| l.starts_with("libraries:")).collect();
    assert_eq!(libs, [format!("libraries: ={}/:{la}/:./", sysroot().join("lib").display())], "{dirs}");
    let mut c = zvcc();
    c.env("LIBRARY_PATH", &lb).arg("-print-file-name=libfoo.a");
    let found = String::from_utf8(run_ok(c, "zvcc -print-file-name=libfoo.a").stdout).unwrap();
    assert_eq!(found.trim(), format!("{lb}/libfoo.a"));
}

/// A nexe links no sanitizer runtime, so every `-fsanitize=` that needs one is refused
/// naming the option, at compile and at link time, with status 1 (audit finding:
/// `-fsanitize=undefined` and `leak` linked `return 0;`, so configure's
/// AX_CHECK_LINK_FLAG enabled them and the real code failed on `__ubsan_*`).
/// `-fno-sanitize=` turns them off again, and UBSan made to trap
/// (`-fsanitize-undefined-trap-on-error`) needs no runtime: a failed check ends the
/// guest with SIGILL.
#[test]
fn sanitizers_that_need_a_runtime_are_refused_at_compile_and_link_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "m.c", "int main(void) { return 0; }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["-c", "m.c", "-o", "plain.o"]);
    run_ok(c, "zvcc -c m.c");
    for flag in [
        "-fsanitize=undefined",
        "-fsanitize=leak",
        "-fsanitize=bounds",
        "-fsanitize=shift",
        "-fsanitize=address",
        "-fsanitize=thread",
        "-fsanitize=signed-integer-overflow,float-cast-overflow",
    ] {
        for (args, made) in [
            (&["-c", "m.c", "-o", "m.o"][..], "m.o"),
            (&["m.c", "-o", "m.nexe"], "m.nexe"),
            (&["plain.o", "-o", "plain.nexe"], "plain.nexe"),
        ] {
            let mut c = zvcc();
            c.current_dir(d).arg(flag).args(args);
            let o = c.output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "zvcc {flag} {args:?}: {err}");
            assert!(err.contains(&format!("{flag} needs ")) && err.contains("which zv does not provide"), "{err}");
            assert!(!d.join(made).exists(), "zvcc {flag} {args:?} made {made}");
        }
    }
    let mut c = zvcc();
    c.current_dir(d).args(["-fsanitize=undefined", "m.c"]);
    let err = run_err(c, "zvcc -fsanitize=undefined");
    assert!(err.contains("UndefinedBehaviorSanitizer") && err.contains("-fsanitize-undefined-trap-on-error"), "{err}");
    for flags in [
        &["-fsanitize=undefined", "-fno-sanitize=undefined"][..],
        &["-fsanitize=address,leak", "-fno-sanitize=all"],
        &["-fno-sanitize=address"],
    ] {
        let mut c = zvcc();
        c.current_dir(d).args(flags).args(["m.c", "-o", "off.nexe"]);
        run_ok(c, &format!("zvcc {flags:?}"));
    }
    let mut c = zvcc();
    c.current_dir(d).args(["-fsanitize=undefined", "-fsanitize-undefined-trap-on-error", "-fno-sanitize=shift-base"]);
    c.args(["-fsanitize-undefined-trap-on-error", "-fno-sanitize-undefined-trap-on-error", "m.c"]);
    let err = run_err(c, "zvcc: the trap turned off again");
    assert!(err.contains("-fsanitize=undefined needs "), "{err}");

    // Trapping UBSan: an over-wide shift ends the guest with SIGILL, a good one runs.
    write(
        d,
        "shift.c",
        "int main(int argc, char **argv) { (void)argv; volatile int s = argc > 1 ? 40 : 3;\n\
         return (1 << s) == 8 ? 0 : 1; }\n",
    );
    let mut c = zvcc();
    c.current_dir(d).args(["-O0", "-fsanitize=undefined", "-fsanitize-undefined-trap-on-error", "shift.c"]);
    c.args(["-o", "shift.nexe"]);
    run_ok(c, "zvcc -fsanitize=undefined -fsanitize-undefined-trap-on-error");
    verify(&d.join("shift.nexe"));
    let run = |args: &[&str]| {
        let o = Command::new(sibling_binary("zvrun")).arg(d.join("shift.nexe")).args(args).output().unwrap();
        o.status.code()
    };
    assert_eq!(run(&[]), Some(0));
    assert_eq!(run(&["wide"]), Some(128 + 4), "SIGILL");
}

/// zvcc's usage errors end with status 1, as gcc's driver ends on its errors (audit
/// finding: zvcc said 2), and so does `-shared`, which gcc links and zvcc refuses.
/// `-lgcc_s` is not found, as with `gcc -static` (libgcc_s exists only as a shared
/// library).
#[test]
fn usage_errors_end_with_gccs_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "m.c", "int main(void) { return 0; }\n");
    let status = |mut c: Command, args: &[&str]| {
        c.current_dir(d).args(args).stdin(Stdio::null());
        let o = c.output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    // What gcc refuses too, with the same status.
    for args in [&[][..], &["-V"], &["-"], &["m.c", "-o"], &["-static", "m.c", "-lgcc_s", "-o", "gcc_s"]] {
        let (gcc, gcc_err) = status(Command::new("gcc"), args);
        let (zvcc, zvcc_err) = status(zvcc(), args);
        assert_eq!(gcc, Some(1), "gcc {args:?}: {gcc_err}");
        assert_eq!(zvcc, gcc, "zvcc {args:?}: {zvcc_err}");
        assert!(!zvcc_err.contains("panicked"), "{zvcc_err}");
    }
    let (_, err) = status(zvcc(), &["m.c", "-lgcc_s", "-o", "gcc_s"]);
    assert!(err.contains("cannot find -lgcc_s"), "{err}");
    let (_, err) = status(zvcc(), &["-V"]);
    assert!(err.contains("no input files"), "{err}");
    // What zvcc alone refuses.
    for args in [&["-shared", "m.c", "-o", "m.so"][..], &["-m32", "m.c"], &["-fsplit-stack", "m.c"], &["-r", "m.c"]] {
        let (code, err) = status(zvcc(), args);
        assert_eq!(code, Some(1), "zvcc {args:?}: {err}");
        assert!(err.starts_with("zvcc: error: "), "{err}");
    }
    // A missing sysroot too.
    let mut c = zvcc();
    c.env("ZV_SYSROOT", d.join("none"));
    let (code, err) = status(c, &["m.c"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no zv sysroot"), "{err}");
}

/// Runs zvcc with its standard output or error (`which`) a pipe whose reader has gone,
/// the other one captured: (zvcc's status, what it wrote on the other stream).
fn zvcc_with_closed(which: &str, dir: &Path, args: &[&str]) -> (i32, String) {
    let script = "import os, subprocess, sys\n\
                  r, w = os.pipe()\n\
                  os.close(r)\n\
                  which = sys.argv[1]\n\
                  other = 'stderr' if which == 'stdout' else 'stdout'\n\
                  p = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, **{which: w, other: subprocess.PIPE})\n\
                  sys.stdout.write(str(p.returncode) + '\\n' + getattr(p, other).decode('utf-8', 'replace'))\n";
    let o = Command::new("python3")
        .current_dir(dir)
        .env("ZV_SYSROOT", sysroot())
        .args(["-c", script, which, env!("CARGO_BIN_EXE_zvcc")])
        .args(args)
        .output()
        .expect("python3 runs");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (status, rest) = out.split_once('\n').unwrap_or_else(|| panic!("python3: {out}"));
    (status.parse().unwrap(), rest.to_string())
}

/// A closed pipe on zvcc's standard output or error (`zvcc -dumpmachine | true`) ends
/// nothing in a panic (audit finding: status 101 from `println!`): zvcc's own answers to
/// a reader that has gone count as given, status 0, as in zv's other tools; its messages
/// are dropped and the status is what it would have been.
#[test]
fn a_closed_pipe_never_makes_zvcc_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "m.c", "int main(void) { return 0; }\n");
    for args in [&["-dumpmachine"][..], &["-print-search-dirs"], &["-print-sysroot"], &["-Wl,--version"]] {
        let (status, err) = zvcc_with_closed("stdout", d, args);
        assert_eq!(status, 0, "zvcc {args:?} to a closed pipe: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // gcc answers --version itself, and dies of SIGPIPE: zvcc's status for that is 1.
    let (status, err) = zvcc_with_closed("stdout", d, &["--version"]);
    assert_eq!(status, 1, "{err}");
    for (args, expect) in [
        (&["-V"][..], 1),
        (&["-fsanitize=address", "m.c"], 1),
        (&["-###", "m.c"], 0),
        (&["-Wl,--no-such-zvld-option", "m.c", "-o", "warned.nexe"], 0),
    ] {
        let (status, out) = zvcc_with_closed("stderr", d, args);
        assert_eq!(status, expect, "zvcc {args:?} with a closed stderr: {out}");
    }
    assert!(d.join("warned.nexe").is_file(), "the link went on after its warning");
}

/// `-L` directories are searched before `-Wl,-L` ones whatever their order, as gcc puts
/// its own `-L` options first on ld's command line (audit finding: zvcc searched them in
/// command-line order and linked another library of the same name).
#[test]
fn driver_library_directories_come_before_linker_ones() {
    use object::{Object, ObjectSymbol};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for n in ["1", "2"] {
        std::fs::create_dir(d.join(format!("l{n}"))).unwrap();
        write(d, &format!("v{n}.c"), &format!("int from_l{n};\nint v(void) {{ return {n}; }}\n"));
        let mut c = zvcc();
        c.current_dir(d).args(["-c", &format!("v{n}.c")]);
        run_ok(c, "zvcc -c");
        let mut c = Command::new("ar");
        c.current_dir(d).args(["rcs", &format!("l{n}/libv.a"), &format!("v{n}.o")]);
        run_ok(c, "ar");
    }
    write(d, "m.c", "int v(void);\nint main(void) { return v(); }\n");
    let mut c = zvcc();
    c.current_dir(d).args(["m.c", "-Wl,-Ll1", "-Ll2", "-lv", "-o", "m.nexe"]);
    run_ok(c, "zvcc link");
    let data = std::fs::read(d.join("m.nexe")).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let names: Vec<&str> = file.symbols().filter_map(|s| s.name().ok()).collect();
    assert!(names.contains(&"from_l2") && !names.contains(&"from_l1"), "{names:?}");
}
