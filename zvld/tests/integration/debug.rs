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

/// zvld verifies the code while it builds the rest of the file (with DWARF, while it
/// rebuilds that); the final check of the file then finds exactly those bytes (compared
/// byte for byte) and does not decode them again. Without DWARF it does the same.
/// An object whose `.debug_line` cannot be read (its version field corrupted) keeps it
/// as it is, so that its compilation unit's `DW_AT_stmt_list` does not land on another
/// object's program: the other object's functions keep their source lines (audit
/// finding: the unreadable program was dropped, the unit's offset 0 then named the
/// other object's program, and addr2line answered `??:?` for it).
#[test]
fn an_unreadable_line_program_does_not_take_another_objects_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("main.c"), "int other_fn(int);\nint main(void) { return other_fn(3) == 9 ? 0 : 1; }\n")
        .unwrap();
    std::fs::write(d.join("other.c"), "int other_fn(int x)\n{\n  return x * x;\n}\n").unwrap();
    for f in ["main", "other"] {
        let mut c = zvcc();
        c.current_dir(d).args(["-O2", "-g", "-c", &format!("{f}.c")]);
        run_ok(c, "zvcc -c");
    }
    // main.o's line program gets version 9, which no reader knows.
    let mut c = Command::new("objcopy");
    c.current_dir(d).args(["--dump-section", ".debug_line=dl.bin", "main.o"]);
    run_ok(c, "objcopy --dump-section");
    let mut dl = std::fs::read(d.join("dl.bin")).unwrap();
    dl[4..6].copy_from_slice(&9u16.to_le_bytes());
    std::fs::write(d.join("dl.bin"), &dl).unwrap();
    let mut c = Command::new("objcopy");
    c.current_dir(d).args(["--update-section", ".debug_line=dl.bin", "main.o"]);
    run_ok(c, "objcopy --update-section");
    let nexe = d.join("app.nexe");
    let mut c = zvcc();
    c.current_dir(d).args(["main.o", "other.o", "-o"]).arg(&nexe);
    run_ok(c, "zvcc link");
    let at = symbols(&nexe).into_iter().find(|(n, _)| n == "other_fn").expect("other_fn").1;
    let got = addr2line(&nexe, at);
    assert!(got.starts_with("other.c:"), "addr2line for other_fn: {got}");
}

/// The inputs' STT_FILE symbols are kept, before each object's locals: addr2line names
/// the source file of a static function compiled without DWARF (as musl's code is) from
/// them, where it said `??` (audit finding).
#[test]
fn file_symbols_name_the_source_of_code_without_dwarf() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("nodebug.c"),
        "__attribute__((noinline)) static int twice(int x) { return 2 * x; }\nint api(int x) { return twice(x) + 1; }\n",
    )
    .unwrap();
    std::fs::write(d.join("m.c"), "int api(int);\nint main(void) { return api(3) == 7 ? 0 : 1; }\n").unwrap();
    let nexe = d.join("f.nexe");
    let mut c = zvcc();
    c.current_dir(d).args(["-O2", "nodebug.c", "m.c", "-o"]).arg(&nexe);
    run_ok(c, "zvcc");
    let at = symbols(&nexe).into_iter().find(|(n, _)| n == "twice").expect("twice").1;
    let mut c = Command::new("addr2line");
    c.arg("-e").arg(&nexe).arg(format!("{at:#x}"));
    let out = String::from_utf8_lossy(&run_ok(c, "addr2line").stdout).trim().to_string();
    assert_eq!(out, "nodebug.c:?", "addr2line for a static function without DWARF");
}

#[test]
fn code_is_verified_during_the_dwarf_work_and_the_file_check_finds_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("switch.o");
    let mut c = zvcc();
    c.arg("-O2").arg("-g").arg("-c").arg(repo().join("test-corpus/c/switch_table.c")).arg("-o").arg(&obj);
    run_ok(c, "zvcc -g -c");
    let lib = sysroot().join("lib");
    let libgcc = tool_says("gcc", "-print-libgcc-file-name");
    let link = |extra: &[&str]| {
        let mut c = zvld();
        c.args(extra).arg("--stats").arg("-o").arg(dir.path().join("switch.nexe"));
        c.arg(lib.join("crt1.o")).arg(lib.join("crti.o")).arg(&obj).arg(lib.join("libzrt.a")).arg(lib.join("libc.a"));
        c.arg(&libgcc).arg(lib.join("crtn.o")).args(["-u", "__zv_syscall", "-u", "__zv_tp"]);
        String::from_utf8_lossy(&run_ok(c, "zvld --stats").stderr).into_owned()
    };
    let with_dwarf = link(&[]);
    assert!(with_dwarf.contains("code verified during layout"), "{with_dwarf}");
    let stripped = link(&["--strip-debug"]);
    assert!(stripped.contains("zvld:   verify") && stripped.contains("code verified during layout"), "{stripped}");
}

/// A range list inside a function: (function start, function end, the list's ranges).
type NestedRanges = (u64, u64, Vec<(u64, u64)>);

/// Every DWARF range list that a DIE inside a function names, in the unit whose name ends
/// with `unit_name`: (function start, function end, the list's ranges), read with gimli
/// (DWARF 4 `.debug_ranges` and DWARF 5 `.debug_rnglists` alike), in DIE order.
fn nested_ranges(exe: &Path, unit_name: &str) -> Vec<NestedRanges> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(exe).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let load = |id: gimli::SectionId| -> Result<gimli::EndianSlice<'_, gimli::LittleEndian>, gimli::Error> {
        let bytes = file.section_by_name(id.name()).and_then(|s| s.data().ok()).unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(bytes, gimli::LittleEndian))
    };
    let dwarf = gimli::Dwarf::load(load).unwrap();
    let mut out = Vec::new();
    let mut units = dwarf.units();
    while let Some(h) = units.next().unwrap() {
        let unit = dwarf.unit(h).unwrap();
        if !unit.name.is_some_and(|n| n.to_string_lossy().ends_with(unit_name)) {
            continue;
        }
        let mut entries = unit.entries();
        // The innermost enclosing function: (depth, low, high).
        let mut func: Option<(isize, u64, u64)> = None;
        while let Some(e) = entries.next_dfs().unwrap() {
            let depth = e.depth();
            if func.is_some_and(|(d, _, _)| depth <= d) {
                func = None;
            }
            if e.tag() == gimli::DW_TAG_subprogram {
                let mut r = dwarf.die_ranges(&unit, e).unwrap();
                if let Some(first) = r.next().unwrap() {
                    func = Some((depth, first.begin, first.end));
                }
                continue;
            }
            let Some((_, lo, hi)) = func else { continue };
            if e.attr_value(gimli::DW_AT_ranges).is_some() {
                let mut r = dwarf.die_ranges(&unit, e).unwrap();
                let mut list = Vec::new();
                while let Some(x) = r.next().unwrap() {
                    list.push((x.begin, x.end));
                }
                out.push((lo, hi, list));
            }
        }
    }
    out
}

/// DWARF 4 range lists inside a function hold offsets from the unit's base address that
/// gcc computes as label differences, with no relocation; zvld rewrites them with the
/// new addresses, so every range of a lexical block or an inlined call still lies inside
/// its function (as in the native build, checked first so the test proves something).
#[test]
fn dwarf4_range_lists_inside_functions_follow_the_rewritten_code() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.c");
    std::fs::write(
        &w,
        "static inline int mix(int a, int b) { if (a & 1) { int t = a * 3 + b; return t ^ (t >> 3); } return a + b * 7; }\n\
         static inline int step(int *v, int n, int k) { int s = 0; for (int i = 0; i < n; i++) { if (v[i] > k) s += mix(v[i], k); else s -= mix(k, v[i]); } return s; }\n\
         int work(int *v, int n) { int acc = 0; for (int k = 0; k < 50; k++) { acc += step(v, n, k); if (acc > 100000) acc %= 9973; } return acc; }\n",
    )
    .unwrap();
    let m = dir.path().join("m.c");
    std::fs::write(&m, "int work(int *, int);\nint v[64];\nint main(void) { return work(v, 64) & 1; }\n").unwrap();
    let mut lines = Vec::new();
    for (flavour, exe) in [("native", dir.path().join("w.native")), ("zv", dir.path().join("w.nexe"))] {
        let mut c = if flavour == "native" {
            let mut g = native_gcc();
            g.arg("-static").arg("-fno-pic");
            g
        } else {
            zvcc()
        };
        // No main in w.c: its unit has one .text, a DW_AT_low_pc, and offset-based lists.
        c.arg("-O2").arg("-gdwarf-4").arg(&w).arg(&m).arg("-o").arg(&exe);
        run_ok(c, flavour);
        let lists = nested_ranges(&exe, "w.c");
        // (gcc can start a DWARF 4 list with a (0, 0) pair, an empty list, in both builds.)
        let nonempty = lists.iter().filter(|(_, _, l)| !l.is_empty()).count();
        assert!(nonempty >= 3, "{flavour}: the program has nested range lists ({nonempty})");
        for (lo, hi, list) in &lists {
            for &(b, e) in list {
                assert!(
                    *lo <= b && b <= e && e <= *hi,
                    "{flavour}: range {b:#x}..{e:#x} outside its function {lo:#x}..{hi:#x}"
                );
            }
        }
        // The source line at the start of every range, through each build's own line table.
        let mut a2l = Command::new("addr2line");
        a2l.arg("-e").arg(&exe);
        for (_, _, list) in &lists {
            for &(b, _) in list {
                a2l.arg(format!("{b:#x}"));
            }
        }
        let out = String::from_utf8_lossy(&run_ok(a2l, "addr2line").stdout).into_owned();
        let at: Vec<String> = out
            .lines()
            .map(|l| l.split(" (discriminator").next().unwrap_or("").rsplit('/').next().unwrap_or("").to_string())
            .collect();
        lines.push((lists.iter().map(|(_, _, l)| l.len()).collect::<Vec<_>>(), at));
    }
    assert_eq!(lines[0].0, lines[1].0, "the same lists with the same number of ranges");
    assert_eq!(lines[0].1, lines[1].1, "each range starts at the same source line in both builds");
    assert!(lines[0].1.iter().filter(|l| l.starts_with("w.c:")).count() >= 5, "{:?}", lines[0].1);
}

/// `.debug_aranges` (each unit's address ranges, which gdb and llvm-symbolizer use to
/// find the unit of an address) follows the rewritten code: every function of every unit
/// lies inside its unit's ranges. The lengths in the input are the native code's, which is
/// shorter, so without zvld's patch a second unit's later functions fall outside (gdb then
/// finds no line for them).
#[test]
fn debug_aranges_cover_every_rewritten_function() {
    use object::{Object, ObjectSection};
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.c");
    std::fs::write(
        &a,
        "#include <stdio.h>\n\
         int apply(int (*f)(int), int x);\n\
         static int sq(int x) { return x * x; }\n\
         int main(int argc, char **argv) { int s = 0; for (int i = 0; i < argc * 50; i++) s += apply(sq, i) % 7;\n\
           printf(\"%d %s\\n\", s, argv[0]); return 0; }\n",
    )
    .unwrap();
    let b = dir.path().join("b.c");
    std::fs::write(
        &b,
        "__attribute__((noinline)) int table(int k) { switch (k) { case 0: return 3; case 1: return 5; case 2: return 8; case 3: return 13;\n\
           case 4: return 21; case 5: return 34; default: return k; } }\n\
         __attribute__((noinline)) int walk(int *v, int n) { int s = 0; for (int i = 0; i < n; i++) s += table(v[i] & 7); return s; }\n\
         int apply(int (*f)(int), int x) { int v[4] = { x, x + 1, x + 2, x + 3 }; return f(x) + walk(v, 4); }\n",
    )
    .unwrap();
    let exe = dir.path().join("p.nexe");
    let mut c = zvcc();
    c.arg("-O2").arg("-g").arg(&a).arg(&b).arg("-o").arg(&exe);
    run_ok(c, "zvcc -g");
    let data = std::fs::read(&exe).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let load = |id: gimli::SectionId| -> Result<gimli::EndianSlice<'_, gimli::LittleEndian>, gimli::Error> {
        let bytes = file.section_by_name(id.name()).and_then(|s| s.data().ok()).unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(bytes, gimli::LittleEndian))
    };
    let dwarf = gimli::Dwarf::load(load).unwrap();
    // Each unit's address ranges, by the unit's offset in .debug_info.
    let mut aranges: std::collections::HashMap<usize, Vec<(u64, u64)>> = Default::default();
    let mut headers = dwarf.debug_aranges.headers();
    while let Some(h) = headers.next().unwrap() {
        let mut entries = h.entries();
        while let Some(e) = entries.next().unwrap() {
            aranges.entry(h.debug_info_offset().0).or_default().push((e.range().begin, e.range().end));
        }
    }
    let mut checked = Vec::new();
    let mut units = dwarf.units();
    while let Some(h) = units.next().unwrap() {
        let off = h.offset().0;
        let unit = dwarf.unit(h).unwrap();
        let name = unit.name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !(name.ends_with("a.c") || name.ends_with("b.c")) {
            continue;
        }
        let ranges = aranges.get(&off).unwrap_or_else(|| panic!("{name}: no .debug_aranges set"));
        let mut entries = unit.entries();
        while let Some(e) = entries.next_dfs().unwrap() {
            if e.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            let mut r = dwarf.die_ranges(&unit, e).unwrap();
            while let Some(x) = r.next().unwrap() {
                let f = e
                    .attr_value(gimli::DW_AT_name)
                    .and_then(|v| dwarf.attr_string(&unit, v).ok())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                assert!(
                    ranges.iter().any(|&(b, end)| b <= x.begin && x.end <= end),
                    "{name}: {f} at {:#x}..{:#x} lies outside the unit's .debug_aranges {ranges:x?}",
                    x.begin,
                    x.end
                );
                checked.push(f);
            }
        }
    }
    for f in ["main", "table", "walk", "apply"] {
        assert!(checked.iter().any(|c| c == f), "{f} was not checked: {checked:?}");
    }
}

/// One unwind rule set: the CFA's register and offset, and where each callee-saved
/// register (rbx, rbp, r12-r15) is saved (`None`: unchanged).
type Rules = ((u16, i64), Vec<Option<i64>>);

/// The unwind rules at `addr` from a frame section (`.debug_frame` or `.eh_frame`).
fn rules_at<S: gimli::UnwindSection<gimli::EndianSlice<'static, gimli::LittleEndian>>>(
    frame: &S,
    bases: &gimli::BaseAddresses,
    addr: u64,
) -> Rules {
    let mut ctx = Box::new(gimli::UnwindContext::new());
    let row = frame
        .unwind_info_for_address(bases, &mut ctx, addr, S::cie_from_offset)
        .unwrap_or_else(|e| panic!("no unwind row for {addr:#x}: {e}"));
    let cfa = match row.cfa() {
        gimli::CfaRule::RegisterAndOffset { register, offset } => (register.0, *offset),
        other => panic!("CFA rule at {addr:#x} is an expression: {other:?}"),
    };
    let saved = [3u16, 6, 12, 13, 14, 15]
        .iter()
        .map(|&r| match row.register(gimli::Register(r)) {
            Some(gimli::RegisterRule::Offset(o)) => Some(o),
            _ => None,
        })
        .collect();
    (cfa, saved)
}

/// A function's instructions (address and mnemonic), from its symbol's address and size.
fn instructions(data: &[u8], file: &object::File<'_>, name: &str) -> Vec<(u64, iced_x86::Instruction)> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let sym = file.symbols().find(|s| s.name() == Ok(name)).unwrap_or_else(|| panic!("no symbol {name}"));
    let sec = file.section_by_index(sym.section_index().unwrap()).unwrap();
    let (off, _) = sec.file_range().unwrap();
    let start = (off + sym.address() - sec.address()) as usize;
    let bytes = &data[start..start + sym.size() as usize];
    let mut d = iced_x86::Decoder::with_ip(64, bytes, sym.address(), iced_x86::DecoderOptions::NONE);
    d.iter().map(|i| (i.ip(), i)).collect()
}

/// The rewrite's own instructions, which have no input counterpart: padding NOPs and the
/// first halves of P1 (`and $-32,%reg`) and P2 (`andq $0x7fffffe0,(%rsp)`).
fn added_by_the_rewrite(i: &iced_x86::Instruction) -> bool {
    use iced_x86::{Mnemonic, OpKind};
    match i.mnemonic() {
        Mnemonic::Nop => true,
        Mnemonic::And => {
            (i.op0_kind() == OpKind::Memory && i.memory_base() == iced_x86::Register::RSP)
                || (i.op0_kind() == OpKind::Register && i.immediate(1) as i64 == -32)
        }
        _ => false,
    }
}

/// Call frame information follows the rewritten code (zvld/README.md, "Debug
/// information"): the inputs' `.eh_frame` (gcc's default unwind tables) or `.debug_frame`
/// becomes `.debug_frame` entries with translated starts, lengths and rows. At every instruction
/// of the rewritten functions, paired one for one with the native build's (padding and
/// the rewrite's masks left out, `leave` as its `mov` and `pop`), the unwind rules (the CFA
/// and the saved callee-saved registers) are the native build's at that instruction.
fn frames_follow_the_rewritten_code(unwind_tables: bool) {
    use iced_x86::Mnemonic;
    use object::{Object, ObjectSection};
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("frames.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n\
         #include <string.h>\n\
         __attribute__((noinline)) int leaf(int x) { if (x > 3) printf(\"%d\\n\", x); return x * 2; }\n\
         __attribute__((noinline)) int sum(int n) { int s = 0; for (int i = 0; i < n; i++) s += leaf(i); return s; }\n\
         __attribute__((noinline)) long framed(const char *p) { char buf[200]; strncpy(buf, p, sizeof buf - 1);\n\
           buf[199] = 0; long h = 0; for (char *q = buf; *q; q++) h = h * 31 + *q + sum(*q & 3); return h; }\n\
         __attribute__((noinline, optimize(\"O0\"))) int plain(int a, int b) { int v[8]; for (int i = 0; i < 8; i++) v[i] = a * i + b;\n\
           return v[a & 7] + leaf(v[3]); }\n\
         int main(int argc, char **argv) { printf(\"%ld %d\\n\", framed(argv[0]), plain(argc, 4) + sum(argc + 5)); return 0; }\n",
    )
    .unwrap();
    let nexe = dir.path().join("frames.nexe");
    let native = dir.path().join("frames.native");
    // gcc writes `.eh_frame` by default, `.debug_frame` with -g and no unwind tables (as
    // the sysroot's zrt is built).
    let tables = if unwind_tables { "-fasynchronous-unwind-tables" } else { "-fno-asynchronous-unwind-tables" };
    let mut c = zvcc();
    c.arg("-O2").arg("-g").arg(tables).arg(&src).arg("-o").arg(&nexe);
    run_ok(c, "zvcc -g");
    // Natively with zvcc's code-generation flags (TOOLCHAIN.md section 1), so that both
    // builds compile the same instructions.
    let mut g = native_gcc();
    g.args(["-O2", "-g", "-static", "-fno-pic", "-fno-pie", "-ffixed-r11", "-mno-tls-direct-seg-refs"])
        .args(["-fcf-protection=none", tables])
        .arg(&src)
        .arg("-o")
        .arg(&native);
    run_ok(g, "gcc -g");
    let zdata: &'static [u8] = Box::leak(std::fs::read(&nexe).unwrap().into_boxed_slice());
    let ndata: &'static [u8] = Box::leak(std::fs::read(&native).unwrap().into_boxed_slice());
    let zfile = object::File::parse(zdata).unwrap();
    let nfile = object::File::parse(ndata).unwrap();
    let zsec = zfile.section_by_name(".debug_frame").expect("the nexe has a .debug_frame");
    let mut zframe = gimli::DebugFrame::new(zsec.data().unwrap(), gimli::LittleEndian);
    zframe.set_address_size(8);
    // The native build's rules come from its `.eh_frame` or its `.debug_frame`.
    let (neh, ndebug) = if unwind_tables {
        let nsec = nfile.section_by_name(".eh_frame").expect("the native build has an .eh_frame");
        let bases = gimli::BaseAddresses::default().set_eh_frame(nsec.address());
        (Some((gimli::EhFrame::new(nsec.data().unwrap(), gimli::LittleEndian), bases)), None)
    } else {
        let nsec = nfile.section_by_name(".debug_frame").expect("the native build has a .debug_frame");
        let mut f = gimli::DebugFrame::new(nsec.data().unwrap(), gimli::LittleEndian);
        f.set_address_size(8);
        (None, Some(f))
    };
    let native_rules = |addr: u64| match (&neh, &ndebug) {
        (Some((f, b)), _) => rules_at(f, b, addr),
        (_, Some(f)) => rules_at(f, &gimli::BaseAddresses::default(), addr),
        _ => unreachable!(),
    };
    let zbases = gimli::BaseAddresses::default();
    let mut compared = 0;
    for f in ["leaf", "sum", "framed", "plain", "main"] {
        let zi: Vec<_> = instructions(zdata, &zfile, f).into_iter().filter(|(_, i)| !added_by_the_rewrite(i)).collect();
        // Alignment padding of the native build (`.p2align` before loops) has no
        // counterpart either.
        let ni: Vec<_> =
            instructions(ndata, &nfile, f).into_iter().filter(|(_, i)| i.mnemonic() != Mnemonic::Nop).collect();
        let mut z = zi.iter();
        for (na, n) in &ni {
            let want = native_rules(*na);
            // `leave` is rewritten as `mov %ebp,%esp; pop %rbp`: both keep its rules.
            let expect: &[Mnemonic] =
                if n.mnemonic() == Mnemonic::Leave { &[Mnemonic::Mov, Mnemonic::Pop] } else { &[n.mnemonic()] };
            for m in expect {
                let (za, zins) =
                    z.next().unwrap_or_else(|| panic!("{f}: the nexe has fewer instructions than the native build"));
                assert_eq!(zins.mnemonic(), *m, "{f}: native {na:#x} {n} pairs with nexe {za:#x} {zins}");
                let got = rules_at(&zframe, &zbases, *za);
                assert_eq!(got, want, "{f}: unwind rules at nexe {za:#x} ({zins}) differ from native {na:#x} ({n})");
                compared += 1;
            }
        }
        assert!(z.next().is_none(), "{f}: the nexe has more instructions than the native build");
    }
    assert!(compared > 80, "only {compared} instructions compared");
}

/// [`frames_follow_the_rewritten_code`] for objects with `.eh_frame` (gcc's default).
#[test]
fn call_frame_information_from_eh_frame_follows_the_rewritten_code() {
    frames_follow_the_rewritten_code(true);
}

/// [`frames_follow_the_rewritten_code`] for objects with `.debug_frame` (`-g` without
/// unwind tables, as zrt and musl are built).
#[test]
fn call_frame_information_from_debug_frame_follows_the_rewritten_code() {
    frames_follow_the_rewritten_code(false);
}

/// A debug field that names a global defined in another object, in a section whose index
/// is that of this object's `.debug_line`: relocated to the global's address, not taken
/// for a line-table offset (a review found the section index read in the referring
/// object's table: the field became 0).
#[test]
fn a_debug_reference_to_another_objects_global_is_not_a_line_table_offset() {
    use object::{Object, ObjectSection, ObjectSymbol};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("main.c"), "int main(void) { return 0; }\n").unwrap();
    std::fs::write(
        d.join("pa.s"),
        "\t.text\n\t.globl pa_f\npa_f:\tret\n\t.section .debug_foo,\"\",@progbits\n\t.quad bglob\n\t.quad bglob\n\
         \t.section .debug_line,\"\",@progbits\n\t.zero 16\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pb.s"),
        "\t.text\n\t.globl pb_f\npb_f:\tret\n\t.section .debug_x1,\"\",@progbits\n\t.byte 0\n\
         \t.section .debug_x2,\"\",@progbits\n\t.byte 0\n\t.section .data.b,\"aw\",@progbits\n\
         \t.globl bglob\n\t.quad 0\nbglob:\t.quad 0x1234\n",
    )
    .unwrap();
    for f in ["main.c", "pa.s", "pb.s"] {
        let mut c = zvcc();
        c.current_dir(d).args(["-c", f]);
        run_ok(c, "zvcc -c");
    }
    // The case needs bglob's section in pb.o at the index of .debug_line in pa.o.
    let index = |file: &str, name: &str| {
        let data = std::fs::read(d.join(file)).unwrap();
        let o = object::File::parse(&*data).unwrap();
        o.section_by_name(name).expect("section").index().0
    };
    assert_eq!(index("pa.o", ".debug_line"), index("pb.o", ".data.b"), "the inputs' section layout");
    let nexe = d.join("app.nexe");
    let mut c = zvcc();
    c.current_dir(d).args(["main.o", "pa.o", "pb.o", "-o"]).arg(&nexe);
    run_ok(c, "zvcc link");
    let data = std::fs::read(&nexe).unwrap();
    let o = object::File::parse(&*data).unwrap();
    let bglob = o.symbols().find(|s| s.name() == Ok("bglob")).expect("bglob").address();
    let foo = o.section_by_name(".debug_foo").expect(".debug_foo").data().unwrap().to_vec();
    assert_eq!(foo, [bglob.to_le_bytes(), bglob.to_le_bytes()].concat(), "bglob at {bglob:#x}");
}
