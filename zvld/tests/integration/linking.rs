//! The *Linking* paragraph of TOOLCHAIN.md section 2, promise by promise, on small
//! hand-written inputs: archive member selection (GNU and BSD symbol tables, duplicate
//! member names, thin archives), weak, undefined weak and common symbols, COMDAT groups,
//! the init/fini arrays and their priorities, PT_TLS, the linker-defined symbols, the
//! relocation list (GOT and initial-exec TLS relaxed), the link errors (each naming
//! object, section, offset and symbol), the layout of the segments, and malformed
//! inputs. Each input is assembled by gcc, linked by zvld and checked in the nexe
//! (symbols, program headers, bytes at an address) or run under zvrun.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

const CODE_START: u64 = 0x2_0000;
const GNU_STACK: &str = "\n.section .note.GNU-stack,\"\",@progbits\n";

/// Writes `dir/name` (an assembly or C source) and compiles it with `gcc -c`: zvcc's
/// code-generation flags for C, none for assembly.
fn object(dir: &Path, name: &str, text: &str) -> PathBuf {
    let src = dir.join(name);
    let is_c = name.ends_with(".c");
    std::fs::write(&src, if is_c { text.to_string() } else { format!("{text}{GNU_STACK}") }).unwrap();
    let obj = src.with_extension("o");
    let mut c = if is_c { zvcc() } else { Command::new("gcc") };
    c.arg("-c").arg(&src).arg("-o").arg(&obj);
    if is_c {
        c.arg("-O2");
    }
    run_ok(c, &format!("compiling {name}"));
    obj
}

/// `ar` with `args` making `dir/name` from `members`.
fn archive(dir: &Path, name: &str, args: &str, members: &[&Path]) -> PathBuf {
    let a = dir.join(name);
    let _ = std::fs::remove_file(&a);
    let mut c = Command::new("ar");
    c.arg(args).arg(&a).args(members);
    run_ok(c, &format!("ar {args} {name}"));
    a
}

/// Runs zvld on `inputs` (then `extra` arguments) into `dir/out`.
fn zvld_run(dir: &Path, out: &str, inputs: &[&Path], extra: &[&str]) -> (Output, PathBuf) {
    let nexe = dir.join(out);
    let mut c = zvld();
    c.args(inputs).args(extra).arg("-o").arg(&nexe);
    (c.output().expect("run zvld"), nexe)
}

/// Links and verifies; returns the nexe's bytes and path.
fn link_ok(dir: &Path, out: &str, inputs: &[&Path]) -> (Vec<u8>, PathBuf) {
    let (o, nexe) = zvld_run(dir, out, inputs, &[]);
    assert!(o.status.success(), "zvld {out} failed ({}):\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    verify(&nexe);
    (std::fs::read(&nexe).unwrap(), nexe)
}

/// Links expecting failure with exit status 1; returns stderr (never a panic).
fn link_err(dir: &Path, out: &str, inputs: &[&Path]) -> String {
    let (o, nexe) = zvld_run(dir, out, inputs, &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "zvld {out}: exit status 1 expected:\n{err}");
    assert!(!err.contains("panicked"), "zvld {out} panicked:\n{err}");
    assert!(err.starts_with("zvld: error: "), "{err}");
    assert!(!nexe.exists(), "{out}: no output after a failed link");
    err
}

/// A program header: type, flags, offset, vaddr, filesz, memsz, align.
#[derive(Clone, Copy, Debug)]
struct Phdr {
    kind: u64,
    flags: u64,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

const PT_LOAD: u64 = 1;
const PT_TLS: u64 = 7;

fn phdrs(file: &[u8]) -> Vec<Phdr> {
    let (phoff, phnum) = (u64_at(file, 32) as usize, u16_at(file, 56) as usize);
    (0..phnum)
        .map(|i| {
            let o = phoff + 56 * i;
            Phdr {
                kind: u32_at(file, o),
                flags: u32_at(file, o + 4),
                offset: u64_at(file, o + 8),
                vaddr: u64_at(file, o + 16),
                filesz: u64_at(file, o + 32),
                memsz: u64_at(file, o + 40),
                align: u64_at(file, o + 48),
            }
        })
        .collect()
}

/// The last PT_LOAD: data and bss.
fn last_load(file: &[u8]) -> Phdr {
    phdrs(file).into_iter().rfind(|p| p.kind == PT_LOAD).expect("a PT_LOAD")
}

/// `len` bytes of the loaded image at guest address `addr` (zero past a segment's file
/// bytes).
fn bytes_at(file: &[u8], addr: u64, len: usize) -> Vec<u8> {
    let p = phdrs(file)
        .into_iter()
        .find(|p| p.kind == PT_LOAD && p.vaddr <= addr && addr + len as u64 <= p.vaddr + p.memsz)
        .unwrap_or_else(|| panic!("no segment holds {addr:#x}+{len}"));
    (0..len as u64)
        .map(|i| {
            let rel = addr + i - p.vaddr;
            if rel < p.filesz {
                file[(p.offset + rel) as usize]
            } else {
                0
            }
        })
        .collect()
}

fn quad_at(file: &[u8], addr: u64) -> u64 {
    u64::from_le_bytes(bytes_at(file, addr, 8).try_into().unwrap())
}

fn long_at(file: &[u8], addr: u64) -> u32 {
    u32::from_le_bytes(bytes_at(file, addr, 4).try_into().unwrap())
}

/// The nexe's symbols by name (`nm`).
fn symbols(nexe: &Path) -> HashMap<String, u64> {
    let mut c = Command::new("nm");
    c.arg(nexe);
    let out = run_ok(c, "nm");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (v, _, n) = (f.next()?, f.next()?, f.next()?);
            Some((n.to_string(), u64::from_str_radix(v, 16).ok()?))
        })
        .collect()
}

fn sym(syms: &HashMap<String, u64>, name: &str) -> u64 {
    *syms.get(name).unwrap_or_else(|| panic!("no symbol {name} in {syms:?}"))
}

fn disassemble(nexe: &Path) -> String {
    let mut c = Command::new("objdump");
    c.arg("-d").arg(nexe);
    String::from_utf8_lossy(&run_ok(c, "objdump -d").stdout).into_owned()
}

/// Builds a C program with zvcc from `sources` ((name, text) pairs; `extra` objects too)
/// and runs it under zvrun; returns its standard output.
fn run_c(dir: &Path, name: &str, sources: &[(&str, &str)], extra: &[&Path]) -> String {
    let mut c = zvcc();
    c.arg("-O2");
    for (n, text) in sources {
        let p = dir.join(n);
        std::fs::write(&p, text).unwrap();
        c.arg(p);
    }
    let nexe = dir.join(format!("{name}.nexe"));
    c.args(extra).arg("-o").arg(&nexe);
    run_ok(c, &format!("zvcc {name}"));
    verify(&nexe);
    let mut r = Command::new(sibling_binary("zvrun"));
    r.arg("--timeout").arg("60").arg(&nexe);
    String::from_utf8_lossy(&run_ok(r, &format!("zvrun {name}")).stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// Archives.

/// `_start` calls `a`; `a` calls `b`; `b` calls `c`; `c` returns. In the archive the
/// members come in the order c, b, a, so each pass over the symbol table can only find
/// the member that a member pulled by the previous pass needs.
fn chain(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let start = object(dir, "start.s", ".text\n.globl _start\n_start:\n  call a\n  hlt\n");
    let members = vec![
        object(dir, "c.s", ".text\n.globl c\nc:\n  ret\n"),
        object(dir, "b.s", ".text\n.globl b\nb:\n  call c\n  ret\n"),
        object(dir, "a.s", ".text\n.globl a\na:\n  call b\n  ret\n"),
        object(dir, "unused.s", ".text\n.globl unused\nunused:\n  ret\n"),
    ];
    (start, members)
}

fn assert_chain_linked(nexe: &Path) {
    let syms = symbols(nexe);
    for s in ["a", "b", "c"] {
        assert!(syms.contains_key(s), "member defining {s} was not pulled in: {syms:?}");
    }
    assert!(!syms.contains_key("unused"), "a member nothing needs was pulled in: {syms:?}");
}

#[test]
fn archive_members_are_pulled_until_nothing_more_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, m) = chain(d);
    let members: Vec<&Path> = m.iter().map(|p| p.as_path()).collect();
    let lib = archive(d, "libchain.a", "rcs", &members);
    link_ok(d, "gnu.nexe", &[&start, &lib]);
    assert_chain_linked(&d.join("gnu.nexe"));
    // Without a symbol table (`ar rcS`) the members are scanned instead.
    let lib = archive(d, "libnoindex.a", "rcS", &members);
    link_ok(d, "noindex.nexe", &[&start, &lib]);
    assert_chain_linked(&d.join("noindex.nexe"));
}

/// The map says, as GNU ld's does, which reference pulled each archive member in: the
/// chain's members, each named with the object and symbol that needed it, and a `-u`
/// name as the command line's (QA finding: the map listed the members' sections but not
/// why they were there, which is what a map is read for when an archive gives a surprise).
#[test]
fn the_map_names_the_reference_that_pulled_each_member() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, m) = chain(d);
    let members: Vec<&Path> = m.iter().map(|p| p.as_path()).collect();
    let lib = archive(d, "libchain.a", "rcs", &members);
    let map = d.join("chain.map");
    let (o, _) = zvld_run(d, "chain.nexe", &[&start, &lib], &["-u", "unused", "-Map", map.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&map).unwrap();
    let lib = lib.display();
    let start = start.display();
    for (member, by) in [
        (format!("{lib}(a.o)"), format!("{start} (a)")),
        (format!("{lib}(b.o)"), format!("{lib}(a.o) (b)")),
        (format!("{lib}(c.o)"), format!("{lib}(b.o) (c)")),
        (format!("{lib}(unused.o)"), "(command line: -u, --require-defined or the entry point) (unused)".to_string()),
    ] {
        assert!(text.contains(&format!("\n  {member}\n      {by}\n")), "{member} pulled by {by}:\n{text}");
    }
}

/// Without `-o` the output is `a.out` in the current directory, as GNU ld's.
#[test]
fn the_default_output_is_a_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, m) = chain(d);
    let mut c = zvld();
    c.current_dir(d).arg(&start).args(&m);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    verify(&d.join("a.out"));
}

/// `--dependency-file` writes the output's make rule over every input file (archives
/// as found), each also a target without a rule, as GNU ld does; `-t` names each input
/// on standard output (audit finding: both were accepted and did nothing). A path with
/// a space is escaped as make reads it.
#[test]
fn dependency_file_and_trace_list_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("sp ace");
    std::fs::create_dir(&d).unwrap();
    let (start, m) = chain(&d);
    let members: Vec<&Path> = m.iter().map(|p| p.as_path()).collect();
    let lib = archive(&d, "libchain.a", "rcs", &members);
    let dep = d.join("chain.d");
    let (o, nexe) = zvld_run(&d, "chain.nexe", &[&start, &lib], &["-t", "--dependency-file", dep.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let esc = |p: &Path| p.display().to_string().replace(' ', "\\ ");
    let want =
        format!("{}: \\\n  {} \\\n  {}\n\n{}:\n\n{}:\n", esc(&nexe), esc(&start), esc(&lib), esc(&start), esc(&lib));
    assert_eq!(std::fs::read_to_string(&dep).unwrap(), want);
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{}\n{}\n", start.display(), lib.display()));
}

/// A BSD archive (`!<arch>`, `#1/N` long names stored before the member's bytes, a
/// `__.SYMDEF` table of 32-bit ranlib entries) written by hand: binutils' `ar` cannot
/// write one. `index` adds the symbol table.
fn bsd_archive(path: &Path, members: &[(&str, Vec<u8>, &[&str])], index: bool) {
    fn header(out: &mut Vec<u8>, name: &str, size: usize) {
        let name = name.as_bytes();
        let h = format!("#1/{:<13}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", name.len(), 0, 0, 0, 644, size + name.len());
        assert_eq!(h.len(), 60);
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(name);
    }
    let pad = |v: &mut Vec<u8>| {
        if v.len() % 2 == 1 {
            v.push(b'\n');
        }
    };
    // The table's size does not depend on the offsets it holds: lay it out first.
    let mut strtab = Vec::new();
    let mut entries: Vec<(u32, usize)> = Vec::new();
    for (k, (_, _, defs)) in members.iter().enumerate() {
        for d in *defs {
            entries.push((strtab.len() as u32, k));
            strtab.extend_from_slice(d.as_bytes());
            strtab.push(0);
        }
    }
    while strtab.len() % 4 != 0 {
        strtab.push(0);
    }
    let symdef_name = "__.SYMDEF\0\0\0";
    let table_len = 4 + 8 * entries.len() + 4 + strtab.len();
    let mut offsets = Vec::new();
    let mut at = 8 + if index { 60 + symdef_name.len() + table_len } else { 0 };
    at += at % 2;
    for (name, bytes, _) in members {
        offsets.push(at as u32);
        at += 60 + name.len() + bytes.len();
        at += at % 2;
    }
    let mut out = b"!<arch>\n".to_vec();
    if index {
        header(&mut out, symdef_name, table_len);
        out.extend_from_slice(&(8 * entries.len() as u32).to_le_bytes());
        for (strx, k) in &entries {
            out.extend_from_slice(&strx.to_le_bytes());
            out.extend_from_slice(&offsets[*k].to_le_bytes());
        }
        out.extend_from_slice(&(strtab.len() as u32).to_le_bytes());
        out.extend_from_slice(&strtab);
        pad(&mut out);
    }
    for (k, (name, bytes, _)) in members.iter().enumerate() {
        assert_eq!(out.len(), offsets[k] as usize);
        header(&mut out, name, bytes.len());
        out.extend_from_slice(bytes);
        pad(&mut out);
    }
    std::fs::write(path, out).unwrap();
}

/// Regression: in an archive without a symbol table, each member was located by its data
/// offset minus 60, which for a BSD member (its `#1/N` name between header and data) is
/// not its header: "bad archive member ...: Invalid archive terminator".
#[test]
fn bsd_archives_with_and_without_a_symbol_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, m) = chain(d);
    let read = |p: &PathBuf| std::fs::read(p).unwrap();
    let members: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("c_member_with_a_long_name.o", read(&m[0]), &["c"]),
        ("b.o", read(&m[1]), &["b"]),
        ("a_member.o", read(&m[2]), &["a"]),
        ("unused.o", read(&m[3]), &["unused"]),
    ];
    for index in [true, false] {
        let lib = d.join(format!("libbsd{index}.a"));
        bsd_archive(&lib, &members, index);
        let out = format!("bsd{index}.nexe");
        link_ok(d, &out, &[&start, &lib]);
        assert_chain_linked(&d.join(out));
    }
}

/// Two members named `x.o` (`ar q`): each is found by its own offset.
#[test]
fn duplicate_member_names_in_one_archive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, m) = chain(d);
    for (k, sub) in ["one", "two", "three"].iter().enumerate() {
        std::fs::create_dir(d.join(sub)).unwrap();
        std::fs::copy(&m[2 - k], d.join(sub).join("x.o")).unwrap();
    }
    let (one, two, three) = (d.join("one/x.o"), d.join("two/x.o"), d.join("three/x.o"));
    let lib = archive(d, "libdup.a", "qcs", &[&one, &two, &three]);
    let mut t = Command::new("ar");
    t.arg("t").arg(&lib);
    assert_eq!(String::from_utf8_lossy(&run_ok(t, "ar t").stdout), "x.o\nx.o\nx.o\n");
    link_ok(d, "dup.nexe", &[&start, &lib]);
    assert_chain_linked(&d.join("dup.nexe"));
}

/// Thin archives (`ar rcsT`, Meson's default for its internal static libraries) name
/// their members' files, relative to the archive's directory, as GNU ld reads them; a
/// member file that is missing is an error naming it. Regression: thin archives were
/// refused (QA finding: Meson builds failed).
#[test]
fn thin_archives_read_their_members_from_the_files_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, m) = chain(d);
    let members: Vec<&Path> = m.iter().map(|p| p.as_path()).collect();
    let lib = archive(d, "libthin.a", "rcsT", &members);
    assert!(std::fs::read(&lib).unwrap().starts_with(b"!<thin>\n"));
    link_ok(d, "thin.nexe", &[&start, &lib]);
    assert_chain_linked(&d.join("thin.nexe"));
    std::fs::remove_file(members[0]).unwrap();
    let err = link_err(d, "thin2.nexe", &[&start, &lib]);
    let gone = members[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.contains("libthin.a: thin archive member") && err.contains(&gone), "{err}");
}

/// An archive member that is pulled in and is not a valid object is named as
/// `archive(member)`; an archive cut short is named too.
#[test]
fn corrupt_archive_members_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (start, m) = chain(d);
    let members: Vec<&Path> = m.iter().map(|p| p.as_path()).collect();
    let lib = archive(d, "libok.a", "rcs", &members);
    let mut bytes = std::fs::read(&lib).unwrap();
    // b.o's section header offset (e_shoff) points far past its end.
    let b_at = {
        let mut t = Command::new("ar");
        t.arg("tvO").arg(&lib);
        let list = String::from_utf8_lossy(&run_ok(t, "ar tvO").stdout).into_owned();
        let line = list.lines().find(|l| l.contains(" b.o ")).unwrap_or_else(|| panic!("{list}"));
        let off = line.rsplit("0x").next().unwrap().trim();
        usize::from_str_radix(off, 16).unwrap()
    };
    assert_eq!(&bytes[b_at..b_at + 4], b"\x7fELF");
    bytes[b_at + 0x28..b_at + 0x30].copy_from_slice(&0xff_ffffu64.to_le_bytes());
    let bad = d.join("libbad.a");
    std::fs::write(&bad, &bytes).unwrap();
    let err = link_err(d, "bad.nexe", &[&start, &bad]);
    assert!(err.contains("libbad.a(b.o)"), "names archive and member: {err}");
    let cut = d.join("libcut.a");
    std::fs::write(&cut, &std::fs::read(&lib).unwrap()[..b_at + 100]).unwrap();
    let err = link_err(d, "cut.nexe", &[&start, &cut]);
    assert!(err.contains("libcut.a"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Weak, undefined weak, common.

#[test]
fn weak_and_strong_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let main =
        object(d, "main.s", ".text\n.globl _start\n_start:\n  hlt\n.data\n.globl table\ntable:\n  .quad v1, v2, v3\n");
    // v1: weak then strong; v2: strong then weak; v3: weak twice (the first wins).
    let first =
        object(d, "first.s", ".data\n.weak v1\nv1: .quad 11\n.globl v2\nv2: .quad 21\n.weak v3\nv3: .quad 31\n");
    let second =
        object(d, "second.s", ".data\n.globl v1\nv1: .quad 12\n.weak v2\nv2: .quad 22\n.weak v3\nv3: .quad 32\n");
    let (file, nexe) = link_ok(d, "weak.nexe", &[&main, &first, &second]);
    let syms = symbols(&nexe);
    let table = sym(&syms, "table");
    let values: Vec<u64> = (0..3).map(|i| quad_at(&file, quad_at(&file, table + 8 * i))).collect();
    assert_eq!(values, [12, 21, 31], "strong beats weak; the first of two weak definitions wins");
    // A weak definition does not pull an archive member that defines it strongly.
    let strong = object(d, "strong.s", ".data\n.globl v3\nv3: .quad 33\n.globl marker\nmarker: .quad 0\n");
    let lib = archive(d, "libstrong.a", "rcs", &[&strong]);
    let (_, nexe) = link_ok(d, "weak2.nexe", &[&main, &first, &second, &lib]);
    assert!(!symbols(&nexe).contains_key("marker"), "the member was pulled for a weakly defined symbol");
}

/// An undefined weak symbol is 0 through every relocation that names it: R_X86_64_64 in
/// data, PC32 and 32S in code, a call (PLT32) that a null check guards; and it does not
/// pull an archive member that defines it.
#[test]
fn undefined_weak_symbols_are_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(
        d,
        "w.s",
        ".text\n.globl _start\n_start:\n  movq $wfunc, %rax\n  testq %rax, %rax\n  je 1f\n  call wfunc\n1:\n  leaq wvar(%rip), %rcx\n  hlt\n\
         .weak wfunc\n.weak wvar\n.data\n.globl ptrs\nptrs:\n  .quad wvar\n  .quad wfunc+8\n",
    );
    let def = object(d, "def.s", ".data\n.globl wvar\nwvar: .quad 5\n");
    let lib = archive(d, "libw.a", "rcs", &[&def]);
    let (file, nexe) = link_ok(d, "w.nexe", &[&s, &lib]);
    let syms = symbols(&nexe);
    assert!(!syms.contains_key("wvar"), "a weak reference pulled an archive member");
    let ptrs = sym(&syms, "ptrs");
    assert_eq!((quad_at(&file, ptrs), quad_at(&file, ptrs + 8)), (0, 8), "R_X86_64_64: 0 (+ addend)");
    let text = disassemble(&nexe);
    assert!(text.contains("mov    $0x0,%rax"), "R_X86_64_32S to 0:\n{text}");
    // `lea wvar(%rip),%rcx` computes 0: its displacement is minus the address after it.
    let lea =
        text.lines().find(|l| l.contains("lea ") && l.contains("(%rip),%rcx")).unwrap_or_else(|| panic!("{text}"));
    assert!(lea.contains("# 0 <"), "PC32 to an undefined weak symbol must give address 0: {lea}");
    // At run time: the call is skipped, the addresses are null.
    let out = run_c(
        d,
        "weakrun",
        &[(
            "weakrun.c",
            "#include <stdio.h>\nextern void maybe(void) __attribute__((weak));\nextern int wv __attribute__((weak));\n\
             int *in_data = &wv;\n\
             int main(void) {\n  void *pc;\n  __asm__(\"lea wv(%%rip), %0\" : \"=r\"(pc));\n  if (maybe) maybe(); else puts(\"skipped\");\n\
             \x20 printf(\"%d %d %d\\n\", in_data == 0, pc == 0, &wv == 0);\n  return 0;\n}\n",
        )],
        &[],
    );
    assert_same_text("weak run", "skipped\n1 1 1\n", &out);
}

/// Common symbols merge to the largest size and strictest alignment and go to bss; a
/// strong definition beats them.
#[test]
fn common_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = object(
        d,
        "ca.s",
        ".text\n.globl _start\n_start:\n  hlt\n.data\n.quad c1, c2, c3\n.comm c1, 4, 4\n.comm c2, 8, 8\n.comm c3, 8, 8\n",
    );
    let b = object(
        d,
        "cb.s",
        ".comm c1, 64, 64\n.comm c2, 2, 2\n.data\n.globl c3\n.type c3,@object\nc3: .quad 7\n.size c3, 8\n",
    );
    let c = object(d, "cc.s", ".comm c2, 32, 4\n");
    let (file, nexe) = link_ok(d, "common.nexe", &[&a, &b, &c]);
    let syms = symbols(&nexe);
    let (c1, c2, c3) = (sym(&syms, "c1"), sym(&syms, "c2"), sym(&syms, "c3"));
    assert_eq!(c1 % 64, 0, "c1 aligned to 64: {c1:#x}");
    assert_eq!(c2 % 8, 0, "c2 aligned to 8: {c2:#x}");
    assert_eq!(quad_at(&file, c3), 7, "the strong definition of c3 wins");
    let data = last_load(&file);
    for (name, addr, size) in [("c1", c1, 64), ("c2", c2, 32)] {
        assert!(addr >= data.vaddr + data.filesz, "{name} is in bss");
        assert!(addr + size <= data.vaddr + data.memsz, "{name} has its largest size {size}");
    }
    assert!(c1 + 64 <= c2 || c2 + 32 <= c1, "commons overlap: c1 {c1:#x}, c2 {c2:#x}");
}

/// A common symbol pulls the archive member that defines it (strongly, not as another
/// common), as GNU ld does: old code declares `int x;` (a common with `-fcommon`) and a
/// library initialises it. Members with only a common or a weak definition are left out.
/// QA finding: zvld pulled members only for undefined symbols, and the program read 0.
#[test]
fn a_common_symbol_pulls_the_member_that_defines_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let start = object(d, "cs.s", ".text\n.globl _start\n_start:\n  hlt\n.data\n.quad lv, cm, wk\n.comm lv, 4, 4\n.comm cm, 4, 4\n.comm wk, 4, 4\n");
    let lv = object(
        d,
        "lv.s",
        ".data\n.globl lv\n.type lv,@object\nlv: .long 7\n.size lv, 4\n.globl lv_member\nlv_member:\n",
    );
    let cm = object(d, "cm.s", ".comm cm, 16, 16\n.data\n.globl cm_member\ncm_member: .long 1\n");
    let wk = object(d, "wk.s", ".data\n.weak wk\nwk: .long 9\n.globl wk_member\nwk_member:\n");
    let lib = archive(d, "libc1.a", "rcs", &[&cm, &wk]);
    let lib2 = archive(d, "libc2.a", "rcs", &[&lv]);
    let (file, nexe) = link_ok(d, "common-pull.nexe", &[&start, &lib, &lib2]);
    let syms = symbols(&nexe);
    assert!(syms.contains_key("lv_member"), "the member defining lv was not pulled in: {syms:?}");
    assert_eq!(long_at(&file, sym(&syms, "lv")), 7, "lv is the archive's initialised definition");
    assert!(!syms.contains_key("cm_member"), "a member with only a common was pulled in: {syms:?}");
    assert!(!syms.contains_key("wk_member"), "a member with only a weak definition was pulled in: {syms:?}");
    let out = run_c(
        d,
        "common-c",
        &[("main.c", "#include <stdio.h>\nint answer __attribute__((common));\nint main(void) { printf(\"%d\\n\", answer); return 0; }\n")],
        &[&archive(d, "libanswer.a", "rcs", &[&object(d, "answer.c", "int answer = 42;\n")])],
    );
    assert_same_text("common pulled from an archive", "42\n", &out);
}

/// Hardware Lock Elision prefixes (`xacquire`/`xrelease`, which gcc emits for
/// `__ATOMIC_HLE_ACQUIRE`/`__ATOMIC_HLE_RELEASE` whatever its flags) are TSX, which C3
/// rejects; they are hints, so zvld drops them and the program does the same. QA finding:
/// zvld kept them and refused its own output as "a zvld bug".
#[test]
fn lock_elision_prefixes_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let src = "#include <stdio.h>\n\
        int l, n; long c[4];\n\
        __attribute__((noinline)) void add(long *p, long v) {\n\
          __asm__ volatile(\"xacquire lock addq %1,(%0)\\n\\txrelease lock subq $1,(%0)\" :: \"r\"(p), \"r\"(v) : \"memory\"); }\n\
        __attribute__((noinline)) int swap(int *p, int v) {\n\
          __asm__ volatile(\"xacquire xchg %0,(%1)\" : \"+r\"(v) : \"r\"(p) : \"memory\"); return v; }\n\
        int main(void) {\n\
          for (int i = 0; i < 5; i++) {\n\
            while (__atomic_exchange_n(&l, 1, __ATOMIC_ACQUIRE | __ATOMIC_HLE_ACQUIRE)) ;\n\
            n++;\n\
            __atomic_store_n(&l, 0, __ATOMIC_RELEASE | __ATOMIC_HLE_RELEASE);\n\
          }\n\
          add(&c[2], 10); int x = 3; int old = swap(&x, 9);\n\
          printf(\"%d %d %ld %d %d\\n\", n, l, c[2], old, x);\n\
          return 0; }\n";
    let out = run_c(dir.path(), "hle", &[("hle.c", src)], &[]);
    assert_same_text("HLE program", "5 0 9 3 9\n", &out);
    let dis = disassemble(&dir.path().join("hle.nexe"));
    assert!(!dis.contains("xacquire") && !dis.contains("xrelease"), "{dis}");
}

/// A thread-local common symbol (`.tls_common`, STT_TLS in SHN_COMMON) is allocated in
/// the TLS block after `.tbss`, as GNU ld allocates it, and merges with other thread-local
/// commons; a common that is thread-local in one object and not in another is an error
/// naming both kinds. QA finding: it went to the ordinary bss, and its first access failed
/// with "the declarations of the variable disagree about _Thread_local".
#[test]
fn thread_local_common_symbols_go_to_the_tls_block() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tc = object(d, "tc.s", ".tls_common tcz, 16, 8\n.tls_common tcw, 4, 4\n");
    let tc2 = object(d, "tc2.s", ".tls_common tcz, 32, 32\n");
    let out = run_c(
        d,
        "tls-common",
        &[(
            "main.c",
            "#include <stdio.h>\nextern __thread long tcz[4]; extern __thread int tcw;\n\
             __thread int after = 5;\n\
             int main(void) { tcz[3] = 7; tcw = 2; printf(\"%ld %ld %d %d %d\\n\", tcz[0], tcz[3], tcw, after,\n\
               (int)((unsigned long)&tcz % 32)); return 0; }\n",
        )],
        &[&tc, &tc2],
    );
    assert_same_text("thread-local commons", "0 7 2 5 0\n", &out);
    let plain = object(d, "plain.s", ".comm tcz, 8, 8\n.text\n.globl _start\n_start:\n  hlt\n");
    let err = link_err(d, "mixed.nexe", &[&plain, &tc]);
    assert!(err.contains("tcz") && err.contains("thread-local"), "{err}");
}

/// `__start_NAME`/`__stop_NAME` bound a code section with a C-identifier name too
/// (`__attribute__((section("mycode")))` on functions), as GNU ld bounds any such section:
/// its pieces are grouped after the other code, before `.fini`. QA finding: they were
/// undefined symbols for code sections (only data sections had them).
#[test]
fn section_bounds_of_a_code_section() {
    let dir = tempfile::tempdir().unwrap();
    let src = "#include <stdio.h>\n\
        __attribute__((section(\"mycode\"), noinline)) int f1(int x) { return x * 3; }\n\
        __attribute__((noinline)) int between(int x) { return x ^ 1; }\n\
        __attribute__((section(\"mycode\"), noinline)) int f2(int x) { return x + 100; }\n\
        extern char __start_mycode[], __stop_mycode[];\n\
        int main(void) {\n\
          char *f[] = { (char *)f1, (char *)f2, (char *)between, (char *)main };\n\
          for (int i = 0; i < 4; i++) printf(\"%d\", f[i] >= __start_mycode && f[i] < __stop_mycode);\n\
          printf(\" %d %d\\n\", f1(5), f2(between(4)));\n\
          return 0; }\n";
    let other = "__attribute__((section(\"mycode\"), noinline)) int f3(int x) { return x; }\n";
    let out = run_c(dir.path(), "code-bounds", &[("main.c", src), ("other.c", other)], &[]);
    assert_same_text("code section bounds", "1100 15 105\n", &out);
}

// ---------------------------------------------------------------------------------------
// COMDAT.

const GROUP: &str = ".section .text.inl,\"axG\",@progbits,inl,comdat\n.weak inl\n.type inl,@function\ninl:\n";

/// `.gnu.linkonce.*` sections (COMDAT before section groups, still written by hand and by
/// older tools) are kept once per name, the first one, as GNU ld keeps them; the global
/// symbols of the dropped copies resolve to the kept one. QA finding: two copies were a
/// duplicate definition.
#[test]
fn gnu_linkonce_sections_are_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let once = |n: u32| {
        format!(
            ".section .gnu.linkonce.t.foo,\"ax\",@progbits\n.globl foo\n.type foo,@function\nfoo:\n  mov ${n},%eax\n  ret\n\
             .section .gnu.linkonce.r.tbl,\"a\",@progbits\n.globl tbl\ntbl: .long {n}\n"
        )
    };
    let a = object(d, "once1.s", &once(1));
    let b = object(d, "once2.s", &once(2));
    let out = run_c(
        d,
        "linkonce",
        &[("main.c", "#include <stdio.h>\nint foo(void); extern int tbl;\nint main(void) { printf(\"%d %d\\n\", foo(), tbl); return 0; }\n")],
        &[&a, &b],
    );
    assert_same_text("linkonce", "1 1\n", &out);
}

/// Two objects with the same group: the first is kept; the second's sections, their
/// relocations (here one against a symbol nothing defines) and their symbols are
/// dropped; the second object's other sections still refer to the kept copy.
/// Regression: an undefined symbol referenced only from the discarded copy was an error
/// (GNU ld never looks at relocations of discarded sections).
#[test]
fn comdat_groups_keep_the_first_copy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one = object(
        d,
        "one.s",
        &format!(".text\n.globl _start\n_start:\n  call inl\n  call two\n  hlt\n{GROUP}  movl $1, %eax\n  ret\n.section .data.inl,\"awG\",@progbits,inl,comdat\n.globl inl_data\ninl_data: .quad 1\n"),
    );
    let two = object(
        d,
        "two.s",
        &format!("{GROUP}  movl $2, %eax\n  call only_in_the_discarded_copy\n  ret\n.section .data.inl,\"awG\",@progbits,inl,comdat\n.globl inl_data\ninl_data: .quad 2\n\
                  .text\n.globl two\ntwo:\n  call inl\n  ret\n.data\n.globl ptr\nptr: .quad inl_data\n"),
    );
    let (file, nexe) = link_ok(d, "comdat.nexe", &[&one, &two]);
    let syms = symbols(&nexe);
    let inl = sym(&syms, "inl");
    assert_eq!(bytes_at(&file, inl, 5), [0xb8, 1, 0, 0, 0], "inl is the first object's copy");
    assert_eq!(quad_at(&file, quad_at(&file, sym(&syms, "ptr"))), 1, "inl_data is the first object's copy");
    let text = disassemble(&nexe);
    assert_eq!(text.matches("mov    $0x2,%eax").count(), 0, "the second copy's code was kept:\n{text}");
    let calls = text.lines().filter(|l| l.contains("call") && l.contains("<inl>")).count();
    assert_eq!(calls, 2, "both objects call the kept copy:\n{text}");
}

/// An archive member pulled in with a copy of a group already loaded: its copy is
/// discarded and never rewritten, even though zvld decodes a member's code as soon as it
/// is parsed (while the archives are searched). Here the discarded copy holds `cpuid`,
/// which zvld refuses to rewrite: the link must succeed with the first copy.
#[test]
fn a_members_copy_of_a_loaded_group_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one = object(
        d,
        "one.s",
        &format!(".text\n.globl _start\n_start:\n  call inl\n  call two\n  hlt\n{GROUP}  movl $1, %eax\n  ret\n"),
    );
    let two = object(d, "two.s", &format!("{GROUP}  cpuid\n  ret\n.text\n.globl two\ntwo:\n  call inl\n  ret\n"));
    let lib = archive(d, "libtwo.a", "rcs", &[&two]);
    let (file, nexe) = link_ok(d, "member-comdat.nexe", &[&one, &lib]);
    let syms = symbols(&nexe);
    assert_eq!(bytes_at(&file, sym(&syms, "inl"), 5), [0xb8, 1, 0, 0, 0], "inl is the first object's copy");
    assert!(syms.iter().any(|(n, _)| n == "two"), "the member was pulled in");
    // The same member alone (its group not loaded before) is rewritten and refused.
    let (o, _) = zvld_run(
        d,
        "member-alone.nexe",
        &[&object(d, "start.s", ".text\n.globl _start\n_start:\n  call two\n  hlt\n"), &lib],
        &[],
    );
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("cpuid"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A duplicate definition found when an archive member is pulled in names both places:
/// a command-line object's and the member's, or two members' (in the order they were
/// loaded); and a common symbol declared `_Thread_local` in one and not in the other
/// names the first object. (Members are numbered after the command-line objects while
/// the archives are searched; a wrong number named the wrong object.)
#[test]
fn clashes_with_archive_members_name_the_right_objects() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let start = object(d, "start.s", ".text\n.globl _start\n_start:\n  call twice\n  call pulled\n  hlt\n");
    let mine = object(d, "mine.s", ".text\n  nop\n.globl twice\ntwice:\n  ret\n");
    let member = object(d, "member.s", ".text\n.globl pulled\npulled:\n  ret\n.globl twice\ntwice:\n  ret\n");
    let lib = archive(d, "libm1.a", "rcs", &[&member]);
    let (o, _) = zvld_run(d, "clash1.nexe", &[&start, &mine, &lib], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("duplicate definition of `twice`"), "{err}");
    assert!(err.contains("mine.o(.text+0x1)") && err.contains("libm1.a(member.o)(.text+0x1)"), "{err}");
    // Two members: `first` pulls x.o (defining `twice`), whose reference to `later`
    // pulls y.o, which defines `twice` again.
    let first = object(d, "first.s", ".text\n.globl _start\n_start:\n  call twice\n  hlt\n");
    let x = object(d, "x.s", ".text\n.globl twice\ntwice:\n  call later\n  ret\n");
    let y = object(d, "y.s", ".text\n  nop\n  nop\n.globl later\nlater:\n  ret\n.globl twice\ntwice:\n  ret\n");
    let lib2 = archive(d, "libm2.a", "rcs", &[&x, &y]);
    let (o, _) = zvld_run(d, "clash2.nexe", &[&first, &lib2], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("libm2.a(x.o)(.text+0x0)") && err.contains("libm2.a(y.o)(.text+0x3)"), "{err}");
    // A common symbol, thread-local on the command line, ordinary in a member.
    let tls = object(d, "tls.s", ".text\n.globl _start\n_start:\n  call pulls\n  hlt\n.tls_common counter,4,4\n");
    let plain = object(d, "plain.s", ".text\n.globl pulls\npulls:\n  ret\n.comm counter,4,4\n");
    let lib3 = archive(d, "libm3.a", "rcs", &[&plain]);
    let (o, _) = zvld_run(d, "clash3.nexe", &[&tls, &lib3], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("a thread-local one in") && err.contains("tls.o"), "{err}");
}

/// A kept section that refers to a discarded group's section through a local label is
/// an error naming the place, the discarded section and the group (as GNU ld's
/// "defined in discarded section"), not a message about instruction boundaries.
#[test]
fn a_reference_into_a_discarded_group_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one = object(d, "keep.s", &format!(".text\n.globl _start\n_start:\n  call inl\n  hlt\n{GROUP}  ret\n"));
    let two = object(
        d,
        "drop.s",
        &format!(
            "{GROUP}.Linside:\n  movl $2, %eax\n  ret\n.text\n.globl user\nuser:\n  leaq .Linside(%rip), %rax\n  ret\n"
        ),
    );
    let err = link_err(d, "discarded.nexe", &[&one, &two]);
    assert!(err.contains("is defined in discarded section ") && err.contains("drop.o(.text.inl)"), "{err}");
    assert!(err.contains("COMDAT group `inl`"), "{err}");
    // The place of a relocation in code is its field's offset, as GNU ld gives it.
    assert!(err.contains("drop.o(.text+0x3) in function user+0x3"), "names the place: {err}");
}

// ---------------------------------------------------------------------------------------
// Arrays, .init/.fini.

/// The arrays in the order GNU ld's default script gives them: `.init_array.N` and
/// `.ctors.(65535-N)` sorted by priority, then the unsorted `.init_array` and `.ctors`
/// sections in input order (likewise `.fini_array`/`.dtors`). Regression: `.ctors`/`.dtors`
/// were placed in plain data and never run (musl runs only the arrays).
#[test]
fn init_and_fini_arrays_in_priority_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = "#include <stdio.h>\n\
        static void i150(void) { puts(\"init_array.00150\"); }\n\
        static void c100(void) { puts(\"ctors.65435 (priority 100)\"); }\n\
        static void c_plain(void) { puts(\"ctors\"); }\n\
        static void d_plain(void) { puts(\"dtors\"); }\n\
        static void f200(void) { puts(\"fini_array.00200\"); }\n\
        static void d300(void) { puts(\"dtors.65235 (priority 300)\"); }\n\
        #define AT(s) __attribute__((section(s), used))\n\
        AT(\".init_array.00150\") static void (*p1)(void) = i150;\n\
        AT(\".ctors.65435\") static void (*p2)(void) = c100;\n\
        AT(\".ctors\") static void (*p3)(void) = c_plain;\n\
        AT(\".dtors\") static void (*p5)(void) = d_plain;\n\
        AT(\".fini_array.00200\") static void (*p6)(void) = f200;\n\
        AT(\".dtors.65235\") static void (*p7)(void) = d300;\n\
        int main(void) { puts(\"main\"); return 0; }\n";
    let second = "#include <stdio.h>\n\
        __attribute__((constructor(120))) static void c120(void) { puts(\"constructor(120)\"); }\n\
        __attribute__((constructor)) static void c(void) { puts(\"constructor\"); }\n\
        __attribute__((destructor)) static void f(void) { puts(\"destructor\"); }\n";
    let third = "#include <stdio.h>\n\
        static void i_plain(void) { puts(\"init_array\"); }\n\
        __attribute__((section(\".init_array\"), used)) static void (*p)(void) = i_plain;\n";
    let out = run_c(d, "arrays", &[("arrays1.c", first), ("arrays2.c", second), ("arrays3.c", third)], &[]);
    // musl runs `.fini_array` from its end: destructors of lower priority run last.
    let want = "ctors.65435 (priority 100)\nconstructor(120)\ninit_array.00150\nctors\nconstructor\ninit_array\nmain\n\
                destructor\ndtors\ndtors.65235 (priority 300)\nfini_array.00200\n";
    assert_same_text("constructor and destructor order", want, &out);
}

#[test]
fn array_bounds_and_the_other_linker_defined_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(
        d,
        "ls.s",
        ".text\n.globl _start\n_start:\n  hlt\nf1: ret\nf2: ret\nf3: ret\nf4: ret\n\
         .section .rodata\n.quad 5\n\
         .data\n.globl syms\nsyms:\n\
         .quad __preinit_array_start, __preinit_array_end, __init_array_start, __init_array_end\n\
         .quad __fini_array_start, __fini_array_end, _end, end, _etext, etext, _edata, edata, __bss_start, __ehdr_start\n\
         .section .init_array,\"aw\",@init_array\n.quad f1\n\
         .section .init_array.00100,\"aw\",@init_array\n.quad f2\n\
         .section .fini_array,\"aw\",@fini_array\n.quad f3\n\
         .section .preinit_array,\"aw\",@preinit_array\n.quad f4\n\
         .bss\n.zero 100\n",
    );
    let (file, nexe) = link_ok(d, "ls.nexe", &[&s]);
    let syms = symbols(&nexe);
    let base = sym(&syms, "syms");
    let v: Vec<u64> = (0..14).map(|i| quad_at(&file, base + 8 * i)).collect();
    let [pre0, pre1, init0, init1, fini0, fini1, end_, end2, etext, etext2, edata, edata2, bss, ehdr] = v[..] else {
        unreachable!()
    };
    let (f1, f2, f3, f4) = (sym(&syms, "f1"), sym(&syms, "f2"), sym(&syms, "f3"), sym(&syms, "f4"));
    let words = |a: u64, b: u64| (a..b).step_by(8).map(|x| quad_at(&file, x)).collect::<Vec<_>>();
    assert_eq!(words(pre0, pre1), [f4], "__preinit_array_start/end");
    assert_eq!(words(init0, init1), [f2, f1], "__init_array_start/end, .init_array.00100 first");
    assert_eq!(words(fini0, fini1), [f3], "__fini_array_start/end");
    assert_eq!((end_, etext, edata), (end2, etext2, edata2), "end, etext, edata equal _end, _etext, _edata");
    let loads: Vec<Phdr> = phdrs(&file).into_iter().filter(|p| p.kind == PT_LOAD).collect();
    let (code, data) = (loads[0], loads[loads.len() - 1]);
    assert!(etext > f4 && etext <= code.vaddr + code.memsz, "_etext {etext:#x} ends the linked code");
    assert_eq!(edata, data.vaddr + data.filesz, "_edata ends the data's file bytes");
    assert_eq!(bss, edata, "__bss_start");
    assert_eq!(end_, data.vaddr + data.memsz, "_end ends bss");
    assert_eq!(&bytes_at(&file, ehdr, 4), b"\x7fELF", "__ehdr_start is the loaded ELF header");
    // The symbol table lists the referenced ones at their values, as GNU ld's does.
    for (name, value) in [("_end", end_), ("__init_array_start", init0), ("_etext", etext), ("__bss_start", bss)] {
        assert_eq!(syms.get(name), Some(&value), "{name} in the nexe's symbol table");
    }
    assert!(!syms.contains_key("__executable_start"), "an unreferenced linker symbol is not listed");
}

/// A program's own definition of a name the linker would define wins (GNU ld's
/// PROVIDE): `end` and `etext` are ordinary names in C.
#[test]
fn a_program_may_define_linker_symbol_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(
        d,
        "own.s",
        ".text\n.globl _start\n_start:\n  hlt\n.data\n.globl end\nend: .quad 77\n.globl etext\netext: .quad 78\n.globl refs\nrefs: .quad end, etext, _end\n",
    );
    let (file, nexe) = link_ok(d, "own.nexe", &[&s]);
    let syms = symbols(&nexe);
    let refs = sym(&syms, "refs");
    assert_eq!(quad_at(&file, quad_at(&file, refs)), 77);
    assert_eq!(quad_at(&file, quad_at(&file, refs + 8)), 78);
    let data = last_load(&file);
    assert_eq!(quad_at(&file, refs + 16), data.vaddr + data.memsz, "_end is still the linker's");
}

/// crti.o's `.init` prologue, the program's fragments and crtn.o's epilogue are placed
/// together in input order so they fall through into each other.
#[test]
fn init_and_fini_fragments_fall_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run_c(
        d,
        "initfrag",
        &[(
            "initfrag.c",
            "#include <stdio.h>\nint counter;\nvoid bump(void) { counter = counter * 10 + 1; }\n\
             __asm__(\".section .init,\\\"ax\\\",@progbits\\n call bump\\n .text\");\n\
             int main(void) { printf(\"%d\\n\", counter); return 0; }\n",
        )],
        &[],
    );
    assert_same_text(".init fragment ran once", "1\n", &out);
}

// ---------------------------------------------------------------------------------------
// TLS.

/// PT_TLS: alignment above 16, a `.tbss`-only and a `.tdata`-only template; offsets from
/// the thread pointer as GNU ld computes them (variant II: the block ends at the thread
/// pointer, rounded up to its alignment).
#[test]
fn thread_local_templates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let code = ".text\n.globl _start\n_start:\n  movq %fs:0, %rax\n  movl a@tpoff(%rax), %ecx\n  movl b@tpoff(%rax), %ecx\n  hlt\n\
                .data\n.globl __zv_tp\n__zv_tp: .quad 0\n";
    // (sections, filesz, memsz, align, tpoff of a, tpoff of b)
    let cases: [(&str, &str, u64, u64, u64, i64, i64); 3] = [
        (
            "mixed",
            ".section .tdata,\"awT\",@progbits\n.p2align 6\na: .long 1\n.section .tbss,\"awT\",@nobits\n.p2align 5\nb: .zero 4\n",
            4,
            0x24,
            64,
            -0x40,
            -0x20,
        ),
        (
            "tbss",
            ".section .tbss,\"awT\",@nobits\n.p2align 5\na: .zero 4\n.section .tbss.b,\"awT\",@nobits\n.p2align 7\nb: .zero 8\n",
            0,
            0x88,
            128,
            -0x100,
            -0x80,
        ),
        (
            "tdata",
            ".section .tdata,\"awT\",@progbits\n.p2align 5\na: .long 7\n.section .tdata.b,\"awT\",@progbits\n.p2align 7\nb: .quad 8\n",
            0x88,
            0x88,
            128,
            -0x100,
            -0x80,
        ),
    ];
    for (name, tls, filesz, memsz, align, ta, tb) in cases {
        let obj = object(d, &format!("{name}.s"), &format!("{code}{tls}"));
        let (file, nexe) = link_ok(d, &format!("{name}.nexe"), &[&obj]);
        let t = phdrs(&file).into_iter().find(|p| p.kind == PT_TLS).unwrap_or_else(|| panic!("{name}: no PT_TLS"));
        assert_eq!((t.filesz, t.memsz, t.align), (filesz, memsz, align), "{name}: PT_TLS {t:?}");
        assert_eq!(t.vaddr % align, 0, "{name}: template aligned");
        let data = last_load(&file);
        assert!(t.vaddr >= data.vaddr && t.vaddr + t.filesz <= data.vaddr + data.filesz, "{name}: in the data segment");
        if name == "tdata" {
            assert_eq!(long_at(&file, t.vaddr), 7, "{name}: template bytes");
            assert_eq!(quad_at(&file, t.vaddr + 0x80), 8, "{name}: template bytes");
        }
        let text = disassemble(&nexe);
        for (v, want) in [("a", ta), ("b", tb)] {
            let disp = format!("-{:#x}(%", -want);
            assert!(text.contains(&disp), "{name}: {v}@tpoff should be {want:#x}:\n{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Relocations.

/// Each relocation type of the list, checked in the nexe against the symbols' addresses.
#[test]
fn relocation_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(
        d,
        "r.s",
        ".text\n.globl _start\n.type _start,@function\n_start:\n  movq $gv, %rax\n  movl $gv, %eax\n  leaq gv(%rip), %rax\n  call fn\n  call fn@PLT\n  movabsq $gv+2, %rax\n  hlt\n\
         .size _start, .-_start\n.globl fn\n.type fn,@function\nfn: ret\n.size fn, .-fn\n\
         .data\n.globl gv\n.type gv,@object\ngv: .quad 0x1122\n.size gv, 24\n.zero 16\n\
         .globl d\nd:\n  .quad gv+1\n  .long gv+3\n  .long gv - .\n  .quad gv - .\n  .long gv@SIZE\n  .quad gv@SIZE+3\n  .long fn@SIZE\n",
    );
    let (file, nexe) = link_ok(d, "r.nexe", &[&s]);
    let syms = symbols(&nexe);
    let (gv, fnv, dd) = (sym(&syms, "gv"), sym(&syms, "fn"), sym(&syms, "d"));
    assert_eq!(quad_at(&file, dd), gv + 1, "R_X86_64_64");
    assert_eq!(u64::from(long_at(&file, dd + 8)), gv + 3, "R_X86_64_32");
    assert_eq!(i64::from(long_at(&file, dd + 12) as i32), gv as i64 - (dd + 12) as i64, "R_X86_64_PC32");
    assert_eq!(quad_at(&file, dd + 16) as i64, gv as i64 - (dd + 16) as i64, "R_X86_64_PC64");
    assert_eq!(long_at(&file, dd + 24), 24, "R_X86_64_SIZE32");
    assert_eq!(quad_at(&file, dd + 28), 27, "R_X86_64_SIZE64");
    assert_eq!(long_at(&file, dd + 36), 1, "R_X86_64_SIZE32 of a function");
    let text = disassemble(&nexe);
    for want in [
        format!("mov    ${gv:#x},%rax"),
        format!("mov    ${gv:#x},%eax"),
        format!("# {gv:x} <gv>"),
        format!("call   {fnv:x} <fn>"),
        format!("${:#x},%rax", gv + 2),
    ] {
        assert!(text.contains(&want), "missing `{want}`:\n{text}");
    }
}

/// GOTPCRELX and REX_GOTPCRELX are relaxed as GNU ld relaxes them in a static
/// executable (`mov` → `lea`; `call *`, whose rewrite loads r11, → `lea` into r11; a
/// REX.W `add`/`cmp`/`test` → its immediate form) and initial-exec GOTTPOFF loads become
/// local-exec immediates: no GOT remains. Regression: every such reference read a GOT
/// slot in read-only data.
#[test]
fn got_references_are_relaxed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(
        d,
        "got.s",
        ".text\n.globl _start\n_start:\n  movq gv@GOTPCREL(%rip), %rax\n  movl gv@GOTPCREL(%rip), %edx\n  call *fn@GOTPCREL(%rip)\n\
         \x20 addq gv@GOTPCREL(%rip), %rbx\n  cmpq gv@GOTPCREL(%rip), %r9\n  testq %rsi, gv@GOTPCREL(%rip)\n\
         \x20 movq %fs:0, %r8\n  movq tv@gottpoff(%rip), %r12\n  addq tv@gottpoff(%rip), %r8\n  hlt\n\
         .globl fn\nfn: ret\n.data\n.globl gv\ngv: .quad 1\n.globl __zv_tp\n__zv_tp: .quad 0\n\
         .section .tbss,\"awT\",@nobits\n.p2align 4\ntv: .zero 16\n",
    );
    let mut dump = Command::new("objdump");
    dump.arg("-dr").arg(&s);
    let relocs = String::from_utf8_lossy(&run_ok(dump, "objdump -dr").stdout).into_owned();
    for r in ["R_X86_64_REX_GOTPCRELX", "R_X86_64_GOTPCRELX", "R_X86_64_GOTTPOFF"] {
        assert!(relocs.contains(r), "as emitted no {r}:\n{relocs}");
    }
    let (file, nexe) = link_ok(d, "got.nexe", &[&s]);
    let syms = symbols(&nexe);
    let (gv, fnv) = (sym(&syms, "gv"), sym(&syms, "fn"));
    let text = disassemble(&nexe);
    let lines: Vec<&str> = text.lines().collect();
    let has = |pat: &[&str]| lines.iter().any(|l| pat.iter().all(|p| l.contains(p)));
    // (objdump may name the address `_GLOBAL_OFFSET_TABLE_`, which gas references and
    // which is listed at the same place when no GOT slot is left.)
    assert!(has(&["lea ", "(%rip),%rax", &format!("# {gv:x} <")]), "mov → lea:\n{text}");
    assert!(has(&["lea ", "(%rip),%edx", &format!("# {gv:x} <")]), "32-bit mov → lea:\n{text}");
    assert!(has(&["lea ", "(%rip),%r11", &format!("# {fnv:x} <fn>")]), "call * → lea into r11:\n{text}");
    assert!(has(&["add ", &format!("${gv:#x},%rbx")]), "add → add $imm:\n{text}");
    assert!(has(&["cmp ", &format!("${gv:#x},%r9")]), "cmp → cmp $imm:\n{text}");
    assert!(has(&["test ", &format!("${gv:#x},%rsi")]), "test → test $imm:\n{text}");
    assert!(has(&["mov ", "$0xfffffffffffffff0,%r12"]), "GOTTPOFF mov → mov $tpoff:\n{text}");
    assert!(has(&["add ", "$0xfffffffffffffff0,%r8"]), "GOTTPOFF add → add $tpoff:\n{text}");
    assert!(
        !text.contains("(%rip)") || lines.iter().filter(|l| l.contains("(%rip)")).all(|l| l.contains("lea ")),
        "an instruction still reads memory through the GOT:\n{text}"
    );
    // No GOT: the read-only segment (here only the GOT would be there) is gone.
    let loads = phdrs(&file).into_iter().filter(|p| p.kind == PT_LOAD && p.flags == 4).count();
    assert_eq!(loads, 0, "a read-only segment (the GOT) remains");
}

/// The same at run time, from C compiled `-fPIC` (GOTPCRELX) and an `extern __thread`
/// variable (initial-exec GOTTPOFF even without `-fPIC`).
#[test]
fn relaxed_got_references_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = "int counter = 40;\n__thread int tls_counter = 2;\nint add(int x) { return counter + x; }\n";
    let libo = object(d, "gotlib.c", lib);
    // -fPIC code: compiled by gcc with zvcc's flags but -fPIC (zvcc forces -fno-pic).
    let src = d.join("gotuse.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nextern int counter;\nextern __thread int tls_counter;\nint add(int);\n\
         int (*volatile fp)(int) = 0;\n\
         int main(void) { fp = add; counter += tls_counter; tls_counter += 5;\n\
         printf(\"%d %d %d\\n\", add(0), fp(1), tls_counter); return 0; }\n",
    )
    .unwrap();
    let obj = d.join("gotuse.o");
    let mut c = Command::new("gcc");
    c.args(["-O2", "-fPIC", "-fno-plt", "-ffixed-r11", "-mno-tls-direct-seg-refs", "-fcf-protection=none"]);
    c.arg("-ftls-model=initial-exec").arg("-nostdinc").arg("-isystem").arg(sysroot().join("include"));
    let inc = run_ok(
        {
            let mut g = Command::new("gcc");
            g.arg("-print-file-name=include");
            g
        },
        "gcc -print-file-name",
    );
    c.arg("-isystem").arg(String::from_utf8_lossy(&inc.stdout).trim());
    c.arg("-c").arg(&src).arg("-o").arg(&obj);
    run_ok(c, "gcc -fPIC -c gotuse.c");
    let mut dump = Command::new("objdump");
    dump.arg("-dr").arg(&obj);
    let relocs = String::from_utf8_lossy(&run_ok(dump, "objdump -dr").stdout).into_owned();
    assert!(relocs.contains("GOTPCRELX") && relocs.contains("R_X86_64_GOTTPOFF"), "{relocs}");
    let out = run_c(d, "gotrun", &[], &[&obj, &libo]);
    assert_same_text("relaxed GOT at run time", "42 43 7\n", &out);
}

/// An overflowing 32-bit field is an error naming object, section, offset, function,
/// symbol, type and value.
#[test]
fn overflowing_fields_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let abs = ".globl big\n.set big, 0x180000000\n.globl neg\n.set neg, -5\n";
    let code = object(d, "ovf32.s", &format!(".text\n.globl _start\n_start:\n  nop\n  movl $big, %eax\n  hlt\n{abs}"));
    let err = link_err(d, "ovf32.nexe", &[&code]);
    assert!(err.contains("relocation R_X86_64_32 against `big`"), "{err}");
    // The place of a relocation in code is its field's offset, as GNU ld gives it (the
    // instruction's offset was given: audit finding), and its function.
    assert!(err.contains("ovf32.o(.text+0x2) in function _start+0x2"), "{err}");
    assert!(err.contains("does not fit the field's width"), "says what to check: {err}");
    assert!(err.contains("overflows") && err.contains("0x180000000"), "{err}");
    let code = object(d, "ovf32s.s", &format!(".text\n.globl _start\n_start:\n  movq $big, %rax\n  hlt\n{abs}"));
    let err = link_err(d, "ovf32s.nexe", &[&code]);
    assert!(err.contains("R_X86_64_32S against `big`") && err.contains("ovf32s.o(.text+0x3)"), "{err}");
    let data =
        object(d, "ovfdata.s", &format!(".text\n.globl _start\n_start:\n  hlt\n.data\n.quad 0\n.long neg\n{abs}"));
    let err = link_err(d, "ovfdata.nexe", &[&data]);
    assert!(
        err.contains("R_X86_64_32 against `neg` at ")
            && err.contains("ovfdata.o(.data+0x8)")
            && err.contains("overflows"),
        "{err}"
    );
}

/// A relocation type zvld does not handle is an error naming it, its place and symbol.
#[test]
fn unsupported_relocations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(d, "r16.s", ".text\n.globl _start\n_start:\n  hlt\n.data\n.quad 0\n.word _start\n");
    let err = link_err(d, "r16.nexe", &[&s]);
    assert!(
        err.contains("unsupported relocation R_X86_64_16 against `_start` at ") && err.contains("r16.o(.data+0x8)"),
        "{err}"
    );
    let s =
        object(d, "copy.s", ".text\n.globl _start\n_start:\n  hlt\n.data\n.reloc ., R_X86_64_COPY, _start\n.quad 0\n");
    let err = link_err(d, "copy.nexe", &[&s]);
    assert!(err.contains("unsupported relocation R_X86_64_COPY against") && err.contains("copy.o(.data+0x0)"), "{err}");
    // The large code model's relocations are named too (they were given by number).
    let s = object(
        d,
        "gp64.s",
        ".text\n.globl _start\n_start:\n  hlt\n.data\n.reloc ., R_X86_64_GOTPC64, _start\n.quad 0\n",
    );
    let err = link_err(d, "gp64.nexe", &[&s]);
    assert!(err.contains("unsupported relocation R_X86_64_GOTPC64 against `_start`"), "{err}");
}

/// Every undefined symbol is reported (sorted), each with the first place that refers to
/// it (object, section, offset, function). A name in a symbol table that nothing
/// relocates against is not an error (GNU ld). Regression: it was reported as undefined.
#[test]
fn undefined_symbols_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(
        d,
        "undef.s",
        ".text\n.globl _start\n_start:\n  call m2\n  call m1\n  hlt\n.globl other\nother:\n  call m1\n  movq $m3, %rax\n  ret\n",
    );
    let err = link_err(d, "undef.nexe", &[&s]);
    assert!(err.contains("3 undefined symbol(s)"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("undefined symbol `")).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].contains("`m1`, referenced from ") && lines[0].contains("undef.o(.text+0x6) in function _start+0x6"),
        "{err}"
    );
    assert!(
        lines[1].contains("`m2`, referenced from ") && lines[1].contains("undef.o(.text+0x1) in function _start+0x1"),
        "{err}"
    );
    assert!(
        lines[2].contains("`m3`, referenced from ") && lines[2].contains("undef.o(.text+0x13) in function other+0x8"),
        "{err}"
    );
    let s = object(d, "declared.s", ".text\n.globl _start\n_start:\n  hlt\n.globl declared_only\n");
    link_ok(d, "declared.nexe", &[&s]);
}

/// As with GNU ld: `-u SYM` pulls the archive member defining SYM, and a SYM nothing
/// defines is not an error while no kept section uses it; `--require-defined` and the
/// entry point must be defined. Regression: `-u` of a missing name stopped the link.
#[test]
fn dash_u_pulls_members_and_only_require_defined_insists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let start = object(d, "ustart.s", ".text\n.globl _start\n_start:\n  hlt\n");
    let member = object(d, "umember.s", ".text\n.globl pulled\npulled:\n  ret\n");
    let lib = archive(d, "libu.a", "rcs", &[&member]);
    let (o, nexe) = zvld_run(d, "u.nexe", &[&start, &lib], &["-u", "pulled", "-u", "nowhere"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    verify(&nexe);
    let nm = Command::new("nm").arg(&nexe).output().unwrap();
    let syms = String::from_utf8_lossy(&nm.stdout);
    assert!(syms.lines().any(|l| l.ends_with(" T pulled")), "-u pulled the member:\n{syms}");
    let (o, _) = zvld_run(d, "u2.nexe", &[&start, &lib], &[]);
    assert!(o.status.success());
    let nm = Command::new("nm").arg(d.join("u2.nexe")).output().unwrap();
    assert!(!String::from_utf8_lossy(&nm.stdout).contains("pulled"), "without -u the member stays out");
    for extra in [&["--require-defined", "nowhere"][..], &["--require-defined=nowhere"], &["-e", "nowhere"]] {
        let (o, nexe) = zvld_run(d, "req.nexe", &[&start, &lib], extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
        assert!(
            err.contains("undefined symbol `nowhere`") && err.contains("the entry point or --require-defined"),
            "{err}"
        );
        assert!(!nexe.exists());
    }
}

/// Two strong definitions: both objects, sections and offsets are named.
#[test]
fn duplicate_strong_definitions_name_both() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = object(d, "dup1.s", ".text\n.globl _start\n_start:\n  hlt\n.data\n.quad 0\n.globl twice\ntwice: .quad 1\n");
    let b = object(d, "dup2.s", ".data\n.globl twice\ntwice: .quad 2\n");
    let err = link_err(d, "dup.nexe", &[&a, &b]);
    assert!(
        err.contains("duplicate definition of `twice`: in ")
            && err.contains("dup1.o(.data+0x8) and in ")
            && err.contains("dup2.o(.data+0x0)"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Layout and malformed inputs.

/// Code at CODE_START in one R+X segment padded with HLT to a 64 KiB boundary (at least
/// 32 bytes of sled, even when the code ends just short of a boundary), then read-only
/// data, then data and bss, each 4 KiB aligned and in that order.
#[test]
fn segments_are_laid_out_as_promised() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Code of 0x10000 - 0x10 bytes (NOPs then hlt): fewer than 32 bytes remain before the
    // boundary, so the sled must reach the next one.
    let s = object(
        d,
        "lay.s",
        ".text\n.globl _start\n_start:\n  .fill 0xffef, 1, 0x90\n  hlt\n.section .rodata\nro: .quad 1\n.data\ndv: .quad 2\n.bss\nbv: .zero 64\n",
    );
    let (file, nexe) = link_ok(d, "lay.nexe", &[&s]);
    let loads: Vec<Phdr> = phdrs(&file).into_iter().filter(|p| p.kind == PT_LOAD).collect();
    assert_eq!(loads.len(), 3, "{loads:?}");
    let (code, ro, data) = (loads[0], loads[1], loads[2]);
    assert_eq!((code.vaddr, code.flags), (CODE_START, 5), "code at CODE_START, R+X: {code:?}");
    assert_eq!(code.memsz % 0x1_0000, 0, "code padded to 64 KiB: {code:?}");
    assert_eq!(code.filesz, code.memsz);
    let text = &file[code.offset as usize..(code.offset + code.filesz) as usize];
    let sled = text.iter().rev().take_while(|&&b| b == 0xf4).count();
    assert!(sled >= 32, "HLT sled of {sled} bytes");
    assert!(code.memsz >= 0x2_0000, "the code ends less than 32 bytes before 64 KiB: the sled crosses it");
    assert_eq!(ro.flags, 4, "read-only data: {ro:?}");
    assert_eq!(data.flags, 6, "data: {data:?}");
    for p in &loads {
        assert_eq!(p.vaddr % 0x1000, 0, "4 KiB aligned: {p:?}");
        assert_eq!(p.offset % 0x1000, p.vaddr % 0x1000, "file offset congruent: {p:?}");
        assert_eq!(p.align, 0x1000);
    }
    assert!(
        ro.vaddr >= code.vaddr + code.memsz && data.vaddr >= ro.vaddr + ro.memsz,
        "order and no overlap: {loads:?}"
    );
    let syms = symbols(&nexe);
    assert!((ro.vaddr..ro.vaddr + ro.memsz).contains(&sym(&syms, "ro")));
    assert!((data.vaddr..data.vaddr + data.filesz).contains(&sym(&syms, "dv")));
    assert!((data.vaddr + data.filesz..data.vaddr + data.memsz).contains(&sym(&syms, "bv")));
}

/// Malformed inputs: a clear error naming the file and exit status 1, never a panic.
/// Regression: a big-endian object (EI_DATA = 2) was read as a little-endian one and
/// linked; an ELF32 object was "Unsupported ELF header".
#[test]
fn malformed_inputs_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good =
        object(d, "good.s", ".text\n.globl _start\n_start:\n  call f\n  hlt\n.globl f\nf: ret\n.data\n.quad f\n");
    let bytes = std::fs::read(&good).unwrap();
    let case = |name: &str, content: &[u8], want: &str| {
        let p = d.join(name);
        std::fs::write(&p, content).unwrap();
        let err = link_err(d, &format!("{name}.nexe"), &[&p]);
        assert!(err.contains(name) && err.contains(want), "{name}: expected `{want}`:\n{err}");
    };
    case("empty.o", b"", "not an ELF64 object");
    case("text.o", b"int main(void) { return 0; }\n", "not an ELF64 object");
    case("header_only.o", &bytes[..64], "");
    case("truncated.o", &bytes[..bytes.len() - 100], "");
    let mut big = bytes.clone();
    big[5] = 2;
    case("big_endian.o", &big, "big-endian");
    let mut elf32 = bytes.clone();
    elf32[4] = 1;
    case("elf32.o", &elf32, "ELF32");
    let mut exec = bytes.clone();
    exec[16] = 2;
    case("exec.o", &exec, "not a relocatable object");
    let mut arm = bytes.clone();
    arm[18] = 183;
    case("aarch64.o", &arm, "not an x86-64 object");
    // A section whose data lies past the end of the file.
    let shoff = u64_at(&bytes, 0x28) as usize;
    let mut past = bytes.clone();
    let text_sh = shoff + 64; // section 1
    past[text_sh + 0x18..text_sh + 0x20].copy_from_slice(&0x10_0000u64.to_le_bytes());
    case("past_end.o", &past, "");
    // Relocation sections that apply to the null section, to themselves or to the symbol
    // table, and a symbol name outside the string table: their relocations and names
    // were dropped without a word (audit finding); GNU ld refuses them too.
    let shnum = usize::from(u16::from_le_bytes([bytes[0x3c], bytes[0x3d]]));
    let sh = |i: usize| shoff + 64 * i;
    let sh_type = |i: usize| u32::from_le_bytes(bytes[sh(i) + 4..sh(i) + 8].try_into().unwrap());
    let rela = (0..shnum).find(|&i| sh_type(i) == 4).expect("a .rela section");
    let symtab = (0..shnum).find(|&i| sh_type(i) == 2).expect("a .symtab");
    for (name, target, want) in [
        ("rela_null.o", 0, "holds nothing to relocate"),
        ("rela_self.o", rela, "holds nothing to relocate"),
        ("rela_symtab.o", symtab, "holds nothing to relocate"),
    ] {
        let mut b = bytes.clone();
        b[sh(rela) + 0x2c..sh(rela) + 0x30].copy_from_slice(&(target as u32).to_le_bytes());
        case(name, &b, want);
    }
    let symoff = u64_at(&bytes, sh(symtab) + 0x18) as usize;
    let mut b = bytes.clone();
    b[symoff + 24..symoff + 28].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    case("sym_name.o", &b, "outside the string table");
    // A real 32-bit object from gcc -m32, when gcc can make one.
    let src = d.join("e32.c");
    std::fs::write(&src, "int x = 1;\n").unwrap();
    let mut c = Command::new("gcc");
    c.arg("-m32").arg("-c").arg(&src).arg("-o").arg(d.join("e32.o"));
    if c.output().is_ok_and(|o| o.status.success()) {
        let err = link_err(d, "e32.nexe", &[&d.join("e32.o")]);
        assert!(err.contains("e32.o: an ELF32 object"), "{err}");
    }
}

/// A jump-table dispatch whose range check compares memory through a base register
/// (`cmpl $3,8(%rdi)`, as gcc -Os writes for a switch on a field) with a case that reads
/// the flags of that comparison: zvld replays the comparison in a stub per live case, in
/// the form (with the 0x67 prefix the rewriter gives the original), so case 3 sees ZF
/// set. zvld refused memory comparisons ("not a register/immediate `cmp`"); without a
/// replay P1's mask would clear ZF and case 3 would answer 555.
#[test]
fn a_memory_comparison_is_replayed_for_cases_that_read_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let asm = ".text\n.globl pick\n.type pick,@function\npick:\n  cmpl $3, 8(%rdi)\n  ja .Ldef\n  movl 8(%rdi), %eax\n\
               \x20 jmp *.Ltab(,%rax,8)\n.Lc0:\n  je .Lbad\n  movl $100, %eax\n  ret\n.Lbad:\n  movl $999, %eax\n  ret\n\
               .Lc1:\n  movl $1, %eax\n  ret\n.Lc2:\n  movl $2, %eax\n  ret\n.Lc3:\n  je .Lthree\n  movl $555, %eax\n  ret\n\
               .Lthree:\n  movl $3, %eax\n  ret\n.Ldef:\n  movl $-1, %eax\n  ret\n.size pick, .-pick\n\
               .section .rodata\n.align 8\n.Ltab:\n  .quad .Lc0, .Lc1, .Lc2, .Lc3\n";
    let main = "#include <stdio.h>\nstruct s { long pad; int v; };\nint pick(struct s *);\n\
                int main(void) { for (int i = 0; i < 6; i++) { struct s x = { 0, i }; printf(\"%d \", pick(&x)); } puts(\"\"); return 0; }\n";
    let out = run_c(d, "memcmp", &[("pick.s", asm), ("main.c", main)], &[]);
    assert_eq!(out, "100 1 2 3 -1 -1 \n");
    let text = disassemble(&d.join("memcmp.nexe"));
    let replays = text.lines().filter(|l| l.contains("cmpl   $0x3,0x8(%edi)")).count();
    assert!(replays >= 3, "the comparison (with 0x67) in pick and in the stubs of cases 0 and 3:\n{text}");
}

/// A plain (not STT_FUNC) symbol inside a function is not a function boundary: a case
/// that jumps to it is followed, not taken for a tail call. Here both cases jump to
/// `shared`, whose `sbb` reads CF from the dispatch's comparison; zvld took the jump for a
/// tail call (flags dead), made no replay stub, and f(0) was 0 instead of -1.
#[test]
fn a_jump_to_a_plain_label_inside_the_function_is_not_a_tail_call() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let asm = ".text\n.globl f\n.type f,@function\nf:\n  cmpl $1, %edi\n  ja .Ldefault\n  movl %edi, %edi\n\
               \x20 jmp *.Ltable(,%rdi,8)\n.Lcase0:\n  jmp shared\n.Lcase1:\n  jmp shared\n.Ldefault:\n  movl $7, %eax\n  ret\n\
               shared:\n  sbbl %eax, %eax\n  ret\n.size f, .-f\n.section .rodata\n.align 8\n.Ltable:\n  .quad .Lcase0, .Lcase1\n";
    let main =
        "#include <stdio.h>\nint f(int);\nint main(void) { printf(\"%d %d %d\\n\", f(0), f(1), f(2)); return 0; }\n";
    assert_eq!(run_c(d, "label", &[("f.s", asm), ("main.c", main)], &[]), "-1 0 7\n");
}

/// A case that jumps into the function's cold part (`.text.unlikely`, a relocated
/// branch) is not a tail call when the cold code reads the flags first: zvld checks the
/// code there and replays the comparison for that case. It took every relocated branch
/// for a tail call, so `sbb` in the cold part read P1's flags and f(0) was 0, not -1.
#[test]
fn a_case_continued_in_the_cold_part_keeps_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let asm = ".text\n.globl f\n.type f,@function\nf:\n  cmpl $1, %edi\n  ja .Ldefault\n  movl %edi, %edi\n\
               \x20 jmp *.Ltable(,%rdi,8)\n.Lcase0:\n  jmp .Lcold\n.Lcase1:\n  jmp .Lcold\n.Ldefault:\n  movl $7, %eax\n  ret\n\
               .size f, .-f\n.section .text.unlikely,\"ax\",@progbits\n.Lcold:\n  sbbl %eax, %eax\n  ret\n\
               .section .rodata\n.align 8\n.Ltable:\n  .quad .Lcase0, .Lcase1\n";
    let main =
        "#include <stdio.h>\nint f(int);\nint main(void) { printf(\"%d %d %d\\n\", f(0), f(1), f(2)); return 0; }\n";
    assert_eq!(run_c(d, "cold", &[("f.s", asm), ("main.c", main)], &[]), "-1 0 7\n");
}

/// The entry must be a function: a data symbol given to `-e` is named as the user's
/// mistake (it was reported as an output failing verification, "a zvld bug"), and a
/// numeric entry, which GNU ld reads as an address, is refused saying why.
#[test]
fn the_entry_must_name_a_function() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(d, "ent.s", ".text\n.globl _start\n_start:\n  hlt\n.data\n.globl g\ng:\n.quad 1\n");
    let (o, nexe) = zvld_run(d, "ent.nexe", &[&s], &["-e", "g"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && !nexe.exists(), "{err}");
    assert!(err.contains("entry symbol `g`") && err.contains("outside the code") && !err.contains("zvld bug"), "{err}");
    let (o, _) = zvld_run(d, "ent2.nexe", &[&s], &["-e", "0x20000"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("numeric entry address is not supported"), "{err}");
    link_ok(d, "ent3.nexe", &[&s]);
}

/// A reference from data names the data object that holds it, not a "function" (QA
/// finding: `void *ptr = &d1;` was reported "in function ptr+0x0").
#[test]
fn references_from_data_name_the_object_not_a_function() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(d, "u2.s", ".text\n.globl _start\n_start:\n  hlt\n.data\n.globl ptr\nptr:\n.quad d1\n");
    let err = link_err(d, "u2.nexe", &[&s]);
    assert!(err.contains("`d1`, referenced from ") && err.contains("u2.o(.data+0x0) in ptr+0x0"), "{err}");
    assert!(!err.contains("in function ptr"), "{err}");
}

/// An address computed past the end of a code section (a constant added to a function's
/// address) is named as such (QA finding: it was called a reference into the middle of
/// an instruction).
#[test]
fn a_code_address_past_its_section_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = object(d, "far.s", ".text\n.globl _start\n_start:\n  mov $_start+0x7ffff000, %rax\n  hlt\n");
    let err = link_err(d, "far.nexe", &[&s]);
    assert!(
        err.contains("offset 0x7ffff000 from the start of code section .text") && err.contains("lies outside"),
        "{err}"
    );
}

/// Symbol versions in objects (`.symver`): the default version `foo@@V2` defines `foo`,
/// as GNU ld binds it in a static link; a reference that names a version (`foo@V1`)
/// binds that one (an audit found `foo` undefined).
#[test]
fn symbol_versions_bind_the_default_and_named_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("sv.c"),
        "int foo_v1(void) { return 1; }\nint foo_v2(void) { return 2; }\n\
         __asm__(\".symver foo_v1,foo@V1\");\n__asm__(\".symver foo_v2,foo@@V2\");\n",
    )
    .unwrap();
    std::fs::write(d.join("m2.c"), "int foo(void);\nint main(void) { return foo(); }\n").unwrap();
    std::fs::write(
        d.join("m1.c"),
        "int old_foo(void);\n__asm__(\".symver old_foo,foo@V1\");\nint main(void) { return old_foo(); }\n",
    )
    .unwrap();
    // From an archive too: its index names `foo@@V2`, which a reference to `foo` finds
    // (a review found the member never pulled).
    let mut c = zvcc();
    c.current_dir(d).args(["-O2", "-c", "sv.c", "-o", "sv.o"]);
    run_ok(c, "zvcc -c sv.c");
    let mut a = Command::new("ar");
    a.current_dir(d).args(["rcs", "libsv.a", "sv.o"]);
    run_ok(a, "ar rcs libsv.a");
    // `foo` and the default version `foo@@V2` in one object are two definitions of `foo`,
    // as for GNU ld; both are named (the first was "(unknown)": it was not loaded yet).
    std::fs::write(
        d.join("dup.c"),
        "int foo_v2(void) { return 2; }\nint foo(void) { return 3; }\n__asm__(\".symver foo_v2,foo@@V2\");\n\
         int main(void) { return foo(); }\n",
    )
    .unwrap();
    let mut c = zvcc();
    c.current_dir(d).args(["dup.c", "-o", "dup.nexe"]);
    let err = run_err(c, "zvcc dup.c");
    assert!(err.contains("duplicate definition of `foo`") && err.matches("dup.o(.text").count() == 2, "{err}");
    for (main, input, status) in [("m2.c", "sv.c", 2), ("m1.c", "sv.c", 1), ("m2.c", "libsv.a", 2)] {
        let out = d.join(format!("{main}-{input}.nexe"));
        let mut c = zvcc();
        c.current_dir(d).args(["-O2", main, input, "-o"]).arg(&out);
        run_ok(c, &format!("zvcc {main} {input}"));
        let mut r = Command::new(sibling_binary("zvrun"));
        r.arg("--no-cache").arg(&out);
        assert_eq!(r.output().unwrap().status.code(), Some(status), "{main} {input}");
    }
}

/// Functions aligned above a bundle inside one section (`__attribute__((aligned(N)))`,
/// `-falign-functions=64`) keep their alignment, as with GNU ld (an audit found a
/// 64-aligned function at 32 mod 64 and a 1024-aligned one at 480 mod 1024: zvld lays
/// code out in 32-byte bundles and kept only the section's own alignment).
#[test]
fn functions_keep_alignments_above_a_bundle_inside_a_section() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("al.c"),
        "#include <stdio.h>\n#include <stdint.h>\nint f0(int x) { return x * 3; }\n\
         __attribute__((aligned(64))) int f64(int x) { return x + 1; }\n\
         __attribute__((aligned(128))) int f128(int x) { return x + 2; }\n\
         static __attribute__((aligned(1024), noinline)) int f1k(int x) { return x + 3; }\n\
         int main(void) { printf(\"%d %d %d %d\\n\", (int)((uintptr_t)f64 % 64), (int)((uintptr_t)f128 % 128),\n\
         (int)((uintptr_t)f1k % 1024), f0(1) + f64(1) + f128(1) + f1k(1)); return 0; }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("fa.c"),
        "#include <stdio.h>\n#include <stdint.h>\nint a(int x) { return x + 1; }\nint b(int x) { return x * 2; }\n\
         int c(int x) { return x - 1; }\nint main(void) { printf(\"%d %d %d\\n\", (int)((uintptr_t)a % 64),\n\
         (int)((uintptr_t)b % 64), (int)((uintptr_t)c % 64)); return a(1) + b(1) + c(1) - 4; }\n",
    )
    .unwrap();
    // A section of several parts (over 16 KiB, decoded and laid out in pieces) with an
    // aligned function in the middle: the part that holds it starts aligned (a review
    // found the multi-part path untested).
    let mut big = String::from("#include <stdio.h>\n#include <stdint.h>\nvolatile int vs;\n");
    for k in 0..300 {
        let attr = if k == 150 { "__attribute__((aligned(256))) " } else { "" };
        big.push_str(&format!(
            "{attr}__attribute__((noinline)) int fn{k}(int x) {{ for (int i = 0; i < 3; i++) {{ if (x > {k}) x = x * 3 + vs; \
             else x -= {k}; x ^= i; }} return x + {k}; }}\n"
        ));
    }
    big.push_str("int main(void) { int s = 0;\n");
    for k in 0..300 {
        big.push_str(&format!("s += fn{k}({k});\n"));
    }
    big.push_str("printf(\"%d %d\\n\", (int)((uintptr_t)fn150 % 256), s != 0); return 0; }\n");
    std::fs::write(d.join("big.c"), big).unwrap();
    // A label at the section's end after `.balign 64` (its offset is the section's size,
    // no instruction's): aligned too.
    std::fs::write(
        d.join("end.s"),
        "\t.text\n\t.globl g1\n\t.type g1,@function\n\t.p2align 6\ng1:\tmovl $1,%eax\n\tret\n\t.size g1,.-g1\n\
         \t.balign 64\n\t.globl endm\nendm:\n\t.section .note.GNU-stack,\"\",@progbits\n",
    )
    .unwrap();
    std::fs::write(
        d.join("end.c"),
        "#include <stdio.h>\n#include <stdint.h>\nint g1(void);\nextern char endm[];\n\
         int main(void) { printf(\"%d %d\\n\", (int)((uintptr_t)endm % 64), g1()); return 0; }\n",
    )
    .unwrap();
    for (src, flags, expect) in [
        ("al.c", &["-O0"][..], "0 0 0 12\n"),
        ("al.c", &["-O2"][..], "0 0 0 12\n"),
        ("fa.c", &["-O2", "-falign-functions=64"][..], "0 0 0\n"),
        ("big.c", &["-O2"][..], "0 1\n"),
        ("end.c", &["-O2", "end.s"][..], "0 1\n"),
    ] {
        let out = d.join(format!("{src}.nexe"));
        let mut c = zvcc();
        c.current_dir(d).args(flags).arg(src).arg("-o").arg(&out);
        run_ok(c, &format!("zvcc {flags:?} {src}"));
        assert!(verify(&out) > 0);
        let mut r = Command::new(sibling_binary("zvrun"));
        r.arg("--no-cache").arg(&out);
        let got = run_ok(r, &format!("zvrun {src}"));
        assert_eq!(String::from_utf8_lossy(&got.stdout), expect, "{src} {flags:?}");
    }
}
