//! DWARF: `.debug_line` of a rewritten nexe maps its addresses to the same source lines
//! as the native build of the same program (checked with binutils' addr2line).

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// Function name to address, from `nm`.
fn symbols(exe: &Path) -> Vec<(String, u64)> {
    let mut c = Command::new("nm");
    c.arg(exe);
    let out = run_ok(c, "nm");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let addr = u64::from_str_radix(it.next()?, 16).ok()?;
            let kind = it.next()?;
            let name = it.next()?;
            matches!(kind, "t" | "T").then(|| (name.to_string(), addr))
        })
        .collect()
}

fn addr2line(exe: &Path, addr: u64) -> String {
    let mut c = Command::new("addr2line");
    c.arg("-e").arg(exe).arg(format!("{addr:#x}"));
    let out = run_ok(c, "addr2line");
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Keep file name and line: "/path/switch_table.c:5" -> "switch_table.c:5".
    let s = s.split(" (discriminator").next().unwrap_or("").to_string();
    s.rsplit('/').next().unwrap_or("").to_string()
}

#[test]
fn addr2line_finds_function_lines_in_a_rewritten_nexe() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("test-corpus/c/switch_table.c");
    let nexe = dir.path().join("switch.nexe");
    let native = dir.path().join("switch.native");
    let mut c = zvcc();
    c.arg("-O2").arg("-g").arg(&src).arg("-o").arg(&nexe);
    run_ok(c, "zvcc -g");
    let mut g = native_gcc();
    g.arg("-O2").arg("-g").arg("-static").arg(&src).arg("-o").arg(&native);
    run_ok(g, "gcc -g");
    let zs = symbols(&nexe);
    let ns = symbols(&native);
    let mut checked = 0;
    for f in ["classify", "interp", "main"] {
        let za = zs.iter().find(|(n, _)| n == f).unwrap_or_else(|| panic!("{f} not in the nexe's symbols")).1;
        let na = ns.iter().find(|(n, _)| n == f).unwrap_or_else(|| panic!("{f} not in the native symbols")).1;
        let want = addr2line(&native, na);
        let got = addr2line(&nexe, za);
        assert!(want.starts_with("switch_table.c:"), "native addr2line for {f}: {want}");
        assert_eq!(got, want, "addr2line for {f} at {za:#x} in the nexe (native {na:#x})");
        checked += 1;
    }
    assert_eq!(checked, 3);
    // Inside rewritten functions too: the last byte of each function (rewriting made
    // them longer, so stale lengths in .debug_info or .debug_rnglists would lose it)
    // still belongs to switch_table.c, and addr2line reports no DWARF error.
    let mut c = Command::new("nm");
    c.arg("-S").arg(&nexe);
    let out = run_ok(c, "nm -S");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 4 && ["classify", "interp", "main"].contains(&f[3]) {
            let start = u64::from_str_radix(f[0], 16).unwrap();
            let size = u64::from_str_radix(f[1], 16).unwrap();
            let mut c = Command::new("addr2line");
            c.arg("-e").arg(&nexe).arg(format!("{:#x}", start + size - 1));
            let o = run_ok(c, "addr2line");
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("switch_table.c:"), "{} end: {text}", f[3]);
            assert!(o.stderr.is_empty(), "addr2line complained: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
}

/// With DWARF to rebuild, zvld verifies the code while it does that; the final check of
/// the file then finds exactly those bytes and does not decode them again. Without
/// DWARF the file is verified in one pass after it is built.
#[test]
fn code_is_verified_during_the_dwarf_work_and_the_file_check_finds_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("switch.o");
    let mut c = zvcc();
    c.arg("-O2").arg("-g").arg("-c").arg(repo().join("test-corpus/c/switch_table.c")).arg("-o").arg(&obj);
    run_ok(c, "zvcc -g -c");
    let lib = sysroot().join("lib");
    let libgcc = String::from_utf8(
        run_ok(
            {
                let mut g = Command::new("gcc");
                g.arg("-print-libgcc-file-name");
                g
            },
            "gcc -print-libgcc-file-name",
        )
        .stdout,
    )
    .unwrap();
    let link = |extra: &[&str]| {
        let mut c = zvld();
        c.args(extra).arg("--stats").arg("-o").arg(dir.path().join("switch.nexe"));
        c.arg(lib.join("crt1.o")).arg(lib.join("crti.o")).arg(&obj).arg(lib.join("libzrt.a")).arg(lib.join("libc.a"));
        c.arg(libgcc.trim()).arg(lib.join("crtn.o")).args(["-u", "__zv_syscall", "-u", "__zv_tp"]);
        String::from_utf8_lossy(&run_ok(c, "zvld --stats").stderr).into_owned()
    };
    let with_dwarf = link(&[]);
    assert!(with_dwarf.contains("code verified during layout"), "{with_dwarf}");
    let stripped = link(&["--strip-debug"]);
    assert!(stripped.contains("zvld:   verify") && !stripped.contains("code verified during layout"), "{stripped}");
}
