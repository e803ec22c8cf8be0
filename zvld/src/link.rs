//! The link pipeline: runs the phases in order (inputs → resolution → rewrite → layout →
//! relocation → write), verifies the result with zvcore's verifier, and only then writes
//! the nexe (and the `-Map` file). Each phase borrows the results of the earlier ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use object::elf;
use rayon::prelude::*;

use crate::error::{LinkError, Location, Result};
use crate::inputs::{self, Class, Object, SymDef};
use crate::layout::{self, GotSlot, Layout};
use crate::relocate::{self, Addresses, Fix};
use crate::resolve::{self, Def, Input, Resolved};
use crate::rewrite::{self, Decoded, RelSym, Rewritten, SectionCtx};
use crate::write::{self, OutSymbol};
use crate::{debuginfo, debugline};

/// One input on the command line.
#[derive(Clone, Debug)]
pub enum InputArg {
    /// A file: object or archive.
    Path(PathBuf),
    /// `-lname`: `libname.a` on the search path.
    Lib(String),
}

/// What to link.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Inputs in order.
    pub inputs: Vec<InputArg>,
    /// Names to show for some input paths in messages: zvcc's temporary objects are
    /// named as `gcc -c` would name them, after the sources they were compiled from.
    pub input_names: Vec<(PathBuf, String)>,
    /// `-L` directories.
    pub lib_paths: Vec<PathBuf>,
    /// Output file.
    pub output: PathBuf,
    /// `-Map` file.
    pub map: Option<PathBuf>,
    /// `--dependency-file` (GNU ld 2.35's): after a link, the output's make rule listing
    /// every input file read (archives and `-l` libraries as found), each also a target
    /// of its own with no rule, as `gcc -MP` writes them.
    pub dependency_file: Option<PathBuf>,
    /// `-t`/`--trace`: print each input file's path on standard output, as GNU ld does.
    pub trace: bool,
    /// Entry symbol (default `_start`).
    pub entry: Option<String>,
    /// `-u` symbols: they pull archive members that define them; one that stays
    /// undefined is not an error unless a kept section uses it (as with GNU ld).
    pub undefined: Vec<String>,
    /// `--require-defined` symbols: like `-u`, and an error when nothing defines them.
    pub require_defined: Vec<String>,
    /// Drop DWARF sections (`-S`/`--strip-debug`, and `-s`).
    pub strip_debug: bool,
    /// Drop the symbol table too (`-s`/`--strip-all`, as GNU ld; the map still lists
    /// the symbols).
    pub strip_all: bool,
    /// Rewrite `cpuid` and `xgetbv` into calls of zrt's `__zv_cpuid` and `__zv_xgetbv`
    /// instead of rejecting them.
    pub emulate_cpuid: bool,
    /// `--version`/`-v`/`-V` among the linker options: print [`version_line`] and link
    /// nothing, as GNU ld does (build systems identify the linker this way, through
    /// `cc -Wl,--version`).
    pub print_version: bool,
}

/// What `zvld --version` and `zvcc -Wl,--version` print. It says "GNU ld compatible" because
/// zvld takes GNU ld's options, and build systems (Meson) pick a linker's option syntax
/// by looking for "GNU" in this line.
pub fn version_line() -> String {
    format!(
        "zvld {} (GNU ld compatible options; links zv nexes, form version {})",
        env!("CARGO_PKG_VERSION"),
        zvcore::form::FORM_VERSION
    )
}

/// Numbers about a link, for `--stats` and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Objects linked (including archive members pulled in).
    pub objects: usize,
    /// Code sections rewritten.
    pub code_sections: usize,
    /// Input code bytes.
    pub code_in: u64,
    /// Rewritten code bytes (without the HLT sled).
    pub code_out: u64,
    /// Size of the file written.
    pub file_size: u64,
    /// Time per phase in milliseconds: read+resolve, rewrite, layout+relocate, verify, write.
    pub phase_ms: Vec<(&'static str, f64)>,
    /// The file's code is the code verified while data and DWARF were being built, so the
    /// final verification checked the file's structure and layout without decoding the
    /// code again.
    pub code_verified_early: bool,
    /// Warnings for the user (the link succeeded): zvld and zvcc print them.
    pub warnings: Vec<String>,
}

/// Maps an input file (object or archive; told apart later by their magic).
fn open(path: &Path) -> Result<crate::sys::Mapped> {
    let io = |error| LinkError::Io { path: path.display().to_string(), error };
    let f = std::fs::File::open(path).map_err(io)?;
    crate::sys::Mapped::new(&f).map_err(io)
}

fn find_lib(cfg: &Config, name: &str) -> Result<PathBuf> {
    // `-l:FILE` searches for FILE itself (GNU ld), `-lNAME` for libNAME.a (a nexe is
    // static: shared libraries are never used).
    let file = match name.strip_prefix(':') {
        Some(f) => f.to_string(),
        None => format!("lib{name}.a"),
    };
    for d in &cfg.lib_paths {
        let p = d.join(&file);
        if p.is_file() {
            return Ok(p);
        }
    }
    let shared = if name.starts_with(':') {
        None
    } else {
        cfg.lib_paths.iter().map(|d| d.join(format!("lib{name}.so"))).find(|p| p.exists())
    };
    Err(LinkError::LibraryNotFound {
        name: name.to_string(),
        searched: cfg.lib_paths.iter().map(|p| p.display().to_string()).collect(),
        shared_only: shared.map(|p| p.display().to_string()),
    })
}

/// Links according to `cfg`, writing the nexe only if it verifies. When the link fails,
/// an older file at the output path is removed (as GNU ld leaves none), so that a script
/// that ignores the status cannot run a stale program; an output path that is also an
/// input, or not a regular file, is left alone.
pub fn link(cfg: &Config) -> Result<Stats> {
    // As GNU ld: writing the output would destroy an input.
    if let Some(p) = cfg.inputs.iter().find_map(|i| match i {
        InputArg::Path(p) if same_file(p, &cfg.output) => Some(p),
        _ => None,
    }) {
        return Err(LinkError::Usage(format!("input file '{}' is the same as output file", p.display())));
    }
    // The link runs on one of rayon's threads, not beside them: its serial steps then
    // take that thread's core, while an idle thread waiting for work spins on its own
    // core, instead of three threads sharing two cores.
    // Meanwhile a spare thread prepares the decoders (zvcore::warm_up), which would
    // otherwise be done by the first decode while the other threads wait for it. With
    // one thread there is none to spare: the first decode does it, as before.
    let r = rayon::scope(|s| {
        if rayon::current_num_threads() > 1 {
            s.spawn(|_| zvcore::warm_up());
        }
        link_files(cfg)
    });
    if r.is_err() {
        let is_input = cfg.inputs.iter().any(|i| matches!(i, InputArg::Path(p) if same_file(p, &cfg.output)));
        let regular = std::fs::symlink_metadata(&cfg.output).is_ok_and(|m| m.file_type().is_file());
        if regular && !is_input {
            let _ = std::fs::remove_file(&cfg.output);
        }
    }
    r
}

/// Whether two paths name the same existing file (device and inode).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => a == b,
    }
}

fn link_files(cfg: &Config) -> Result<Stats> {
    let t0 = Instant::now();
    let mut paths = Vec::new();
    for i in &cfg.inputs {
        paths.push(match i {
            InputArg::Path(p) => p.clone(),
            InputArg::Lib(n) => find_lib(cfg, n)?,
        });
    }
    if cfg.trace {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for p in &paths {
            let _ = writeln!(out, "{}", p.display());
        }
    }
    let stats = link_paths(cfg, &paths, t0)?;
    if let Some(d) = &cfg.dependency_file {
        std::fs::write(d, dependency_rule(&cfg.output, &paths))
            .map_err(|error| LinkError::Write { path: d.display().to_string(), error })?;
    }
    Ok(stats)
}

/// The make rule of `--dependency-file`: `output: input...`, then each input as a
/// target without a rule (so that make does not fail when an input goes away), with
/// spaces, `#` and `$` escaped as make reads them.
fn dependency_rule(output: &Path, inputs: &[PathBuf]) -> String {
    let esc = |p: &Path| {
        let mut s = String::new();
        for c in p.display().to_string().chars() {
            match c {
                ' ' | '#' | '\\' => {
                    s.push('\\');
                    s.push(c);
                }
                '$' => s.push_str("$$"),
                c => s.push(c),
            }
        }
        s
    };
    let mut seen: Vec<&PathBuf> = Vec::new();
    for p in inputs {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    let mut text = format!("{}:", esc(output));
    for p in &seen {
        text.push_str(" \\\n  ");
        text.push_str(&esc(p));
    }
    text.push('\n');
    for p in &seen {
        text.push_str(&format!("\n{}:\n", esc(p)));
    }
    text
}

fn link_paths(cfg: &Config, paths: &[PathBuf], t0: Instant) -> Result<Stats> {
    // Inputs are mapped, not read: only the pages a link touches are faulted in (an
    // archive's symbol table and the members pulled in).
    let mapped: Vec<crate::sys::Mapped> = paths.iter().map(|p| open(p)).collect::<Result<_>>()?;
    // A thin archive names its members' files instead of holding them: it becomes an
    // ordinary archive of those files in memory.
    let thin: Vec<Option<Vec<u8>>> = paths
        .iter()
        .zip(&mapped)
        .map(|(p, m)| {
            m.bytes().starts_with(b"!<thin>\n").then(|| crate::inputs::thin_to_regular(p, m.bytes())).transpose()
        })
        .collect::<Result<_>>()?;
    let shown = |p: &PathBuf| match cfg.input_names.iter().find(|(q, _)| q == p) {
        Some((_, name)) => name.clone(),
        None => p.display().to_string(),
    };
    let named: Vec<(String, &[u8])> =
        paths.iter().zip(&mapped).zip(&thin).map(|((p, m), t)| (shown(p), t.as_deref().unwrap_or(m.bytes()))).collect();
    let r = link_inputs(cfg, &named, t0);
    if EXIT_AFTER_LINK.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(named);
        std::mem::forget(thin);
        std::mem::forget(mapped);
    }
    r
}

/// Set by the zvld and zvcc programs, which exit right after their one link ([`exit_after_link`]).
static EXIT_AFTER_LINK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that the process exits right after its link: the link's large structures (the
/// loaded objects, the mapped inputs) are then left for the kernel to reclaim at exit
/// rather than freed and unmapped one by one (~1 ms of a link of sqlite3; lld does the
/// same). For the programs only: a process that links many times must not call it.
pub fn exit_after_link() {
    EXIT_AFTER_LINK.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Links inputs already in memory, (name, bytes) of objects and archives (told apart by
/// their magic), as [`link`] does after mapping the files of `cfg.inputs` (which are not
/// read): the fuzzer drives the whole pipeline through it.
pub fn link_bytes(cfg: &Config, inputs: &[(String, &[u8])]) -> Result<Stats> {
    link_inputs(cfg, inputs, Instant::now())
}

fn link_inputs(cfg: &Config, named: &[(String, &[u8])], t0: Instant) -> Result<Stats> {
    let mut ins = Vec::with_capacity(named.len());
    for (name, bytes) in named {
        if inputs::is_archive(bytes) {
            ins.push(Input::Archive(name.clone(), bytes));
        } else {
            ins.push(Input::Object(name.clone(), bytes));
        }
    }
    let entry = cfg.entry.clone().unwrap_or_else(|| "_start".to_string());
    // GNU ld reads an entry that is no symbol as an address; zvld moves code as it
    // rewrites, so an input address means nothing in the output.
    if entry.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(LinkError::Usage(format!(
            "-e {entry}: a numeric entry address is not supported (zvld moves code when it rewrites it); \
             name the entry function instead"
        )));
    }
    let mut required = vec![entry.clone()];
    required.extend(cfg.require_defined.iter().cloned());
    // The symbols zvld's own rewrites call or load (a `syscall` becomes a call of
    // __zv_syscall, `%fs:` operands load __zv_tp, an emulated cpuid calls __zv_cpuid) are
    // wanted from the start, so the archive that defines them (libzrt.a) gives its
    // members on demand wherever it stands on the command line. Like `-u`, they may stay
    // undefined; a rewrite that uses one then fails naming it.
    let mut wanted = cfg.undefined.clone();
    wanted.extend(["__zv_syscall", "__zv_tp"].map(String::from));
    if cfg.emulate_cpuid {
        wanted.push("__zv_cpuid".into());
        wanted.push("__zv_xgetbv".into());
    }
    // Code is decoded as soon as its object is loaded, while the archives are searched:
    // decoding a section needs only its own object.
    let emulate_cpuid = cfg.emulate_cpuid;
    let (res, early) =
        resolve::resolve_with(ins, &required, &wanted, |objects, first| decode_code(objects, first, emulate_cpuid))?;
    let early: EarlyDecoded<'_> = early.into_iter().flatten().collect();
    let mut stats = Stats { objects: res.objects.len(), ..Default::default() };
    // GNU ld warns the same way ("requires executable stack"); here the stack can never be
    // executable, so the code that needs it faults when it runs.
    for o in res.objects.iter().filter(|o| o.exec_stack) {
        stats.warnings.push(format!(
            "{} needs an executable stack (its .note.GNU-stack is executable: gcc nested functions whose address \
             is taken run trampolines on the stack); a nexe's stack is never executable, so calling such a \
             function faults with SIGSEGV: make the nested functions ordinary functions",
            o.name
        ));
    }
    for o in &res.objects {
        for sec in &o.writable_code {
            stats.warnings.push(format!(
                "{}: section {sec} is writable and executable (\"awx\"); a nexe's code is never writable (C10), \
                 so zvld puts it in the read-only code and writes to it fault with SIGSEGV: make it either code \
                 or data",
                o.name
            ));
        }
    }
    stats.phase_ms.push(("read+resolve", t0.elapsed().as_secs_f64() * 1e3));
    let r = link_resolved(cfg, &res, &entry, stats, t0, early);
    if EXIT_AFTER_LINK.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(res);
    }
    r
}

/// One section's defined symbols, (offset, name) sorted by offset with one name per
/// offset, and the sorted starts of its STT_FUNC symbols.
type OneSection<'a> = (Vec<(u64, &'a str)>, Vec<u64>);
/// [`OneSection`] per object and section.
type SectionSymbols<'a> = Vec<Vec<OneSection<'a>>>;

fn section_symbols<'a>(objects: &[Object<'a>]) -> SectionSymbols<'a> {
    objects
        .par_iter()
        .map(|o| {
            let mut per: Vec<OneSection<'a>> = vec![(Vec::new(), Vec::new()); o.sections.len()];
            // Per section, the offsets of its global symbols, for sections without
            // STT_FUNC symbols.
            let mut globals: Vec<Vec<u64>> = vec![Vec::new(); o.sections.len()];
            for s in &o.symbols {
                if s.name.is_empty() || s.is_section() || s.kind == elf::STT_FILE {
                    continue;
                }
                if let SymDef::Section { sec, value } = s.def {
                    if let Some((v, f)) = per.get_mut(sec as usize) {
                        v.push((value, s.name));
                        if s.kind == elf::STT_FUNC {
                            f.push(value);
                        }
                        if s.global {
                            globals[sec as usize].push(value);
                        }
                    }
                }
            }
            for ((v, f), g) in per.iter_mut().zip(globals) {
                v.sort_unstable();
                v.dedup_by_key(|x| x.0);
                // A section without STT_FUNC symbols (hand-written assembly that types
                // none): its global symbols start functions (`SectionCtx::functions`),
                // and with none the section is one function. Its local labels do not:
                // `next:` or `done:` inside a routine are where a loop or a dispatch
                // goes, and cutting there let the r11 rule and the flag analysis see only
                // pieces of the routine, with r11 or the flags live across the cut
                // (audit finding: an interpreter keeping its accumulator in r11 computed
                // a wrong result, linked and verified without a word).
                if f.is_empty() {
                    f.extend(g);
                }
                f.sort_unstable();
                f.dedup();
            }
            per
        })
        .collect()
}

/// What the relocations of the data sections say before any code is decoded: the GOT
/// slots they name, in order, and the code addresses they take (code section, input
/// offset), which must be indirect-branch targets.
struct DataTargets {
    got: Vec<GotSlot>,
    targets: Vec<(usize, u32)>,
}

fn data_targets(res: &Resolved<'_>, code_of: &(dyn Fn(u32, u32) -> Option<usize> + Sync)) -> Result<DataTargets> {
    // Each object's data sections in parallel, merged in object order (the GOT's order,
    // and the first error in input order).
    let per_object: Vec<Result<DataTargets>> =
        (0..res.objects.len()).into_par_iter().map(|oi| object_data_targets(res, oi, code_of)).collect();
    let mut out = DataTargets { got: Vec::new(), targets: Vec::new() };
    for o in per_object {
        let o = o?;
        out.got.extend(o.got);
        out.targets.extend(o.targets);
    }
    Ok(out)
}

/// [`data_targets`] of one object.
fn object_data_targets(
    res: &Resolved<'_>,
    oi: usize,
    code_of: &(dyn Fn(u32, u32) -> Option<usize> + Sync),
) -> Result<DataTargets> {
    let mut out = DataTargets { got: Vec::new(), targets: Vec::new() };
    let o = &res.objects[oi];
    for s in &o.sections {
        if s.discarded || matches!(s.class, Class::Code | Class::Drop | Class::Debug) {
            continue;
        }
        for r in &s.relocs {
            let def = res.def(oi as u32, r.sym);
            if let Some(tp) = relocate::got_kind(r.r_type) {
                out.got.push(if tp { GotSlot::TpOff(def) } else { GotSlot::Address(def) });
            }
            if let Def::Section { obj: o2, sec: s2, value } = def {
                if let Some(k) = code_of(o2, s2) {
                    if is_pcrel(r.r_type) {
                        // Name the function the data points into (a PIC jump table's
                        // dispatching function), not only the section.
                        let (o2r, s2r) = (&res.objects[o2 as usize], &res.objects[o2 as usize].sections[s2 as usize]);
                        let func = crate::resolve::enclosing_function(o2r, s2r, value.wrapping_add(r.addend as u64));
                        let into =
                            func.as_ref().map_or(String::new(), |(f, _)| format!(" (it points into function {f})"));
                        // libgcc's CPU probe is built as PIC and cannot be rebuilt by the
                        // user: say what pulled it in instead of "compile with -fno-pic".
                        let hint = if func.as_ref().is_some_and(|(f, _)| f.starts_with("__cpu_indicator_init")) {
                            "libgcc's CPU probe (__cpu_indicator_init, behind __builtin_cpu_supports, __builtin_cpu_is \
                             and target_clones) is compiled as PIC, with PC-relative jump tables zvld does not rewrite: \
                             it cannot be linked into a nexe; the sandbox shows every program the same baseline CPU \
                             (SSE2), so choose the baseline code path without the probe"
                                .to_string()
                        } else {
                            format!(
                                "a PC-relative reference from data into code{into}, as in a PIC jump table, cannot be \
                                 rewritten; compile with -fno-pic (zvcc does)"
                            )
                        };
                        return Err(LinkError::UnsupportedRelocation {
                            at: Location {
                                object: o.name.clone(),
                                section: s.name.to_string(),
                                offset: r.offset,
                                function: crate::resolve::enclosing_function(o, s, r.offset),
                                in_data: true,
                            },
                            kind: relocate::reloc_name(r.r_type),
                            symbol: s2r.name.to_string(),
                            hint,
                        });
                    }
                    out.targets.push((k, value.wrapping_add(r.addend as u64) as u32));
                }
            }
        }
    }
    Ok(out)
}

pub(crate) fn is_pcrel(t: u32) -> bool {
    matches!(t, elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 | elf::R_X86_64_PC64 | elf::R_X86_64_PC16 | elf::R_X86_64_PC8)
}

/// Whether a section is code zvld rewrites and places.
fn is_placed_code(s: &crate::inputs::Section<'_>) -> bool {
    s.class == Class::Code && !s.discarded && s.size > 0
}

/// The code sections of some objects, keyed by (object, section): each one's symbols
/// and its decoding.
type EarlyDecoded<'a> = HashMap<(u32, u32), (OneSection<'a>, Result<Decoded>)>;

/// Decodes the code sections of `objects` (numbered from `first`), in parallel
/// ([`rewrite::decode`]).
fn decode_code<'a>(objects: &[Object<'a>], first: u32, emulate_cpuid: bool) -> EarlyDecoded<'a> {
    let mut syms = section_symbols(objects);
    let mut ctxs = Vec::new();
    for (oi, o) in objects.iter().enumerate() {
        for (si, s) in o.sections.iter().enumerate() {
            if is_placed_code(s) {
                let (symbols, functions) = std::mem::take(&mut syms[oi][si]);
                let ctx =
                    SectionCtx { obj: o, sec: s, symbols, functions, emulate_cpuid, cold_parts: Default::default() };
                ctxs.push(((first + oi as u32, si as u32), ctx));
            }
        }
    }
    ctxs.into_par_iter()
        .with_max_len(1)
        .map(|(k, c)| {
            let d = rewrite::decode(&c);
            (k, ((c.symbols, c.functions), d))
        })
        .collect()
}

fn link_resolved(
    cfg: &Config,
    res: &Resolved<'_>,
    entry: &str,
    mut stats: Stats,
    t0: Instant,
    mut early: EarlyDecoded<'_>,
) -> Result<Stats> {
    let t1 = Instant::now();
    // Data typed as such in a code section: one pass over each object's symbols.
    LinkError::collect(res.objects.par_iter().map(|o| crate::rewrite::data_objects_in_code(o)).collect::<Vec<_>>())?;
    // Code sections in input order.
    // `.init` and `.fini` fragments (crti.o ... crtn.o) must be contiguous, in input
    // order, so that they fall through into each other: .init first, then all other
    // code, then .fini, as GNU ld's default script does.
    let mut code: Vec<(u32, u32)> = Vec::new();
    for (oi, o) in res.objects.iter().enumerate() {
        for (si, s) in o.sections.iter().enumerate() {
            if is_placed_code(s) {
                code.push((oi as u32, si as u32));
            }
        }
    }
    // Sections with C-identifier names go after the other code, grouped by name (in order
    // of first appearance), so that `__start_NAME`/`__stop_NAME` bound them, as GNU ld
    // does (the same rule as for data, in `layout`).
    let name = |&(o, s): &(u32, u32)| res.objects[o as usize].sections[s as usize].name;
    let mut named: Vec<&str> = Vec::new();
    for p in &code {
        if resolve::is_c_identifier(name(p)) && !named.contains(&name(p)) {
            named.push(name(p));
        }
    }
    let group = |p: &(u32, u32)| match name(p) {
        ".init" => (0, 0),
        ".fini" => (2, 0),
        n => (1, named.iter().position(|x| *x == n).map_or(0, |i| i + 1)),
    };
    code.sort_by_key(group);
    let mut code_index: Vec<Vec<Option<usize>>> = res.objects.iter().map(|o| vec![None; o.sections.len()]).collect();
    for (i, &(o, s)) in code.iter().enumerate() {
        code_index[o as usize][s as usize] = Some(i);
    }
    let code_of = |o: u32, s: u32| code_index[o as usize][s as usize];
    // Every object's code was decoded while resolving (`decode_code`): its symbol lists
    // and decoding are taken from there (a section missing there is done here).
    let (ctxs, early): (Vec<SectionCtx<'_, '_>>, Vec<Option<Result<Decoded>>>) = code
        .iter()
        .map(|&(o, s)| {
            let obj = &res.objects[o as usize];
            let ((symbols, functions), decoded) = match early.remove(&(o, s)) {
                Some((lists, d)) => (lists, Some(d)),
                None => (std::mem::take(&mut section_symbols(std::slice::from_ref(obj))[0][s as usize]), None),
            };
            let ctx = SectionCtx {
                obj,
                sec: &obj.sections[s as usize],
                symbols,
                functions,
                emulate_cpuid: cfg.emulate_cpuid,
                cold_parts: Default::default(),
            };
            (ctx, decoded)
        })
        .unzip();
    // Every section's errors, not only the first's. The relocations of the data sections
    // (which code addresses they take) need no decoding: read while the code decodes.
    let (decoded, from_data) = rayon::join(
        || {
            LinkError::collect(
                early
                    .into_par_iter()
                    .zip(ctxs.par_iter())
                    .map(|(e, c)| e.unwrap_or_else(|| rewrite::decode(c)))
                    .collect::<Vec<Result<_>>>(),
            )
        },
        || data_targets(res, &code_of),
    );
    let decoded: Vec<Decoded> = decoded?;
    let from_data = from_data?;
    let t_dec = t1.elapsed().as_secs_f64() * 1e3;
    // Indirect-branch targets: symbols, and every code address a relocation takes.
    let mut align: Vec<Vec<u32>> = ctxs.iter().map(|c| c.symbols.iter().map(|&(o, _)| o as u32).collect()).collect();
    let mut got: Vec<GotSlot> = Vec::new();
    let mut got_seen: HashMap<GotSlot, ()> = HashMap::new();
    let mut add_got = |slot: GotSlot| {
        if got_seen.insert(slot, ()).is_none() {
            got.push(slot);
        }
    };
    // Each section's relocations are read in parallel: the GOT slots they name, in order,
    // and the code addresses they take (code section, input offset); then merged in
    // section order, so the GOT's order is the relocations' order.
    type Taken = (Vec<GotSlot>, Vec<(usize, u32)>);
    let per_section: Vec<Taken> = decoded
        .par_iter()
        .enumerate()
        .map(|(ci, d)| {
            let (obj, _) = code[ci];
            let (mut slots, mut at) = (Vec::new(), Vec::new());
            for r in d.relocs() {
                // An undefined global (a rewrite's __zv_* without libzrt.a) is reported
                // when the relocation is applied below, where the input instruction is
                // known.
                let Ok(def) = relocate::out_def(res, obj, r.sym, &Location::default) else { continue };
                if let Some(tp) = relocate::got_kind(r.r_type) {
                    slots.push(if tp { GotSlot::TpOff(def) } else { GotSlot::Address(def) });
                    if let Def::Section { obj: o2, sec: s2, value } = def {
                        if let Some(k) = code_of(o2, s2) {
                            at.push((k, value as u32));
                        }
                    }
                    continue;
                }
                if r.branch {
                    continue;
                }
                if let Def::Section { obj: o2, sec: s2, value } = def {
                    if let Some(k) = code_of(o2, s2) {
                        let extra = r.addend.wrapping_add(if is_pcrel(r.r_type) { i64::from(r.bias) } else { 0 });
                        at.push((k, value.wrapping_add(extra as u64) as u32));
                    }
                }
            }
            at.extend(d.local_address_targets().map(|t| (ci, t)));
            (slots, at)
        })
        .collect();
    for (slots, at) in per_section {
        slots.into_iter().for_each(&mut add_got);
        for (k, t) in at {
            align[k].push(t);
        }
    }
    for slot in from_data.got {
        add_got(slot);
    }
    for (k, at) in from_data.targets {
        align[k].push(at);
    }
    align.par_iter_mut().for_each(|a| {
        a.sort_unstable();
        a.dedup();
    });
    let t_align = t1.elapsed().as_secs_f64() * 1e3;
    let rewritten: Vec<Rewritten> = ctxs
        .par_iter()
        .zip(decoded.par_iter())
        .zip(align.par_iter())
        .map(|((c, d), a)| rewrite::emit(c, d, a))
        .collect::<Vec<Result<_>>>()
        .into_iter()
        .collect::<Result<_>>()?;
    let t_emit = t1.elapsed().as_secs_f64() * 1e3;
    // Freed now: the memory is reused by the phases that follow.
    drop(decoded);
    stats.code_sections = code.len();
    stats.code_in = ctxs.iter().map(|c| c.sec.size).sum();
    stats.phase_ms.push(("  decode", t_dec));
    stats.phase_ms.push(("  +targets", t_align));
    stats.phase_ms.push(("  +emit", t_emit));
    stats.phase_ms.push(("rewrite", t1.elapsed().as_secs_f64() * 1e3));

    // Layout and relocation.
    let t2 = Instant::now();
    let lay = layout::layout(res, &code, &rewritten, got)?;
    stats.code_out = lay.code_content_end - zvcore::form::CODE_START;
    let a = Addresses { res, layout: &lay, code: &rewritten };
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    stats.phase_ms.push(("  layout", ms(t2)));
    let code_bytes = match build_code(res, &lay, &rewritten, &a, &ctxs) {
        Ok(b) => b,
        // The data's relocation errors are named with the code's, as GNU ld names every
        // relocation it cannot apply (an audit found only the first reported).
        Err(e) => {
            return Err(LinkError::combine(
                vec![e].into_iter().chain(fill_data(res, &lay, &a, &rewritten, &code).err()).collect(),
            ))
        }
    };
    stats.phase_ms.push(("  +code", ms(t2)));
    // The code is final: verify it while the rest of the file is built (with DWARF to
    // rebuild, work with a long serial tail on one core). The verdict counts only for
    // these exact bytes: the file is verified below knowing it, and its code segment is
    // compared byte for byte with the code verified here, so a mismatch (or a rejection
    // here) means a full verification of the file.
    let threads = rayon::current_num_threads();
    let opts = zvcore::Options { max_violations: 50 };
    let early = || {
        let base = zvcore::form::CODE_START;
        let kind = zvcore::verify::RegionKind::CodeSegment;
        zvcore::verify_region_in_place(base, &code_bytes, kind, opts, threads, zvcore::Decoding::Fast).ok()
    };
    // The file's parts, as `write` takes them.
    fn image<'x>(
        cfg: &Config,
        lay: &Layout,
        code: &'x [u8],
        (entry, rodata, data): (u64, &'x [u8], &'x [u8]),
        symbols: Vec<write::OutSymbol>,
        extra: Vec<(String, Vec<u8>)>,
    ) -> write::Image<'x> {
        write::Image {
            entry,
            code,
            rodata: (lay.rodata.vaddr, rodata),
            data: (lay.data.vaddr, data, lay.data.memsz),
            tls: lay.tls.map(|t| (t.vaddr, t.filesz, t.memsz, t.align)),
            symbols,
            extra,
            headers: lay.headers,
            symbol_table: !cfg.strip_all,
        }
    }
    let rest = || -> Result<_> {
        let mut phases = Vec::new();
        let (rodata, data) = fill_data(res, &lay, &a, &rewritten, &code)?;
        phases.push(("  +data", ms(t2)));
        let extra = if cfg.strip_debug { Vec::new() } else { debug_sections(res, &lay, &a, &code)? };
        phases.push(("  +debug", ms(t2)));
        let entry_addr = match res.global(entry) {
            Some(d) => a.addr(d, 0, true).unwrap_or(0),
            None => 0,
        };
        // A data symbol given as the entry is the user's mistake, not an output that
        // fails verification (C1: the entry is a bundle start in the code).
        if !(zvcore::form::CODE_START..lay.code_content_end).contains(&entry_addr) {
            return Err(LinkError::Usage(format!(
                "the entry symbol `{entry}` is at {entry_addr:#x}, outside the code \
                 ([{:#x}, {:#x})): the entry must be a function (give -e/--entry a function's name)",
                zvcore::form::CODE_START,
                lay.code_content_end
            )));
        }
        let symbols = out_symbols(res, &lay, &a);
        // The file is built here too, while the code is verified (the headers, the
        // segments and the symbol table are ~1 ms of copying for sqlite3).
        let img = image(cfg, &lay, &code_bytes, (entry_addr, &rodata, &data), symbols, extra);
        let file = write::write(&img);
        let write::Image { symbols, extra, .. } = img;
        phases.push(("  +file", ms(t2)));
        Ok((rodata, data, extra, entry_addr, symbols, phases, file))
    };
    // The verification runs on a thread of its own (which scans too, beside scan threads
    // of its own), not on one of rayon's: rayon's threads all stay free for the jobs of
    // `rest` (which builds the file meanwhile), so neither waits for the other to
    // release a thread.
    let (accepted, rest) = std::thread::scope(|s| {
        let verifying = std::thread::Builder::new().spawn_scoped(s, early);
        let rest = rest();
        let accepted = match verifying {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            // No thread (a process limit): verified here, after the rest.
            Err(_) => early(),
        };
        (accepted, rest)
    });
    let (rodata, data, extra, entry_addr, symbols, phases, file) = rest?;
    stats.phase_ms.extend(phases);
    let img = image(cfg, &lay, &code_bytes, (entry_addr, &rodata, &data), symbols, extra);
    stats.phase_ms.push(("layout+relocate", t2.elapsed().as_secs_f64() * 1e3));

    // Verify the file before writing it: its structure and layout every time, its code
    // again unless it is exactly the code accepted above. The verifier splits code at
    // bundle boundaries across threads; its verdict and violations are exactly those of
    // one thread (zvcore::verify_nexe_parallel).
    let t3 = Instant::now();
    let verdict = match accepted {
        Some(known) => zvcore::verify_nexe_known(&file, opts, threads, &known).map(|(_, used)| used),
        None => zvcore::verify_nexe_parallel(&file, opts, threads).map(|_| zvcore::CacheUse::Miss),
    };
    stats.code_verified_early = matches!(verdict, Ok(zvcore::CacheUse::Hit));
    if let Err(rej) = verdict {
        let violations = rej
            .violations
            .iter()
            .map(|v| match code_location(&lay, &rewritten, &ctxs, v.addr) {
                Some(loc) => format!("{v} (from {loc})"),
                None => v.to_string(),
            })
            .collect();
        return Err(LinkError::Verify { violations, count: rej.violation_count });
    }
    stats.phase_ms.push(("verify", t3.elapsed().as_secs_f64() * 1e3));
    let t4 = Instant::now();
    // The map is made before anything is written: the output may replace an input, whose
    // mapped bytes the map still reads.
    let map_text = cfg.map.as_ref().map(|_| map_file(res, &lay, &img, entry));
    write_output(&cfg.output, &file)?;
    if let (Some(m), Some(text)) = (&cfg.map, map_text) {
        std::fs::write(m, text).map_err(|error| LinkError::Write { path: m.display().to_string(), error })?;
    }
    stats.file_size = file.len() as u64;
    stats.phase_ms.push(("write", t4.elapsed().as_secs_f64() * 1e3));
    stats.phase_ms.push(("total", t0.elapsed().as_secs_f64() * 1e3));
    // The programs exit right after: their large buffers are left to the kernel
    // (`exit_after_link`) instead of being freed one by one.
    let write::Image { symbols, extra, .. } = img;
    let buffers = (file, rewritten, code_bytes, rodata, data, symbols, extra, lay);
    if EXIT_AFTER_LINK.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget((buffers, ctxs));
        return Ok(stats);
    }
    // A library caller gets no thread left behind: everything is freed before returning.
    drop((buffers, ctxs));
    Ok(stats)
}

/// Writes the output as a new file, like GNU ld: an existing regular file (or a symlink
/// to one, or a dangling one) at the path is removed first rather than truncated and
/// rewritten. Truncating a file that was just written makes ext4 flush it (its
/// `auto_da_alloc` heuristic for files replaced by truncation), which cost ~20 ms per link
/// of sqlite3 when relinking in place. When the old file cannot be removed (a read-only
/// directory), it is overwritten in place. A new file is executable (0777 minus the
/// umask); other outputs (`/dev/null`, a FIFO) are written and left as they are, and so
/// is a symlink to one or a symlink in `/dev` or `/proc`: `-o /dev/stdout` writes to the
/// standard output whatever it is (GNU ld, and zvld before, removed the `/dev/stdout`
/// symlink and left a regular file in its place, for every later program).
fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |error| LinkError::Write { path: path.display().to_string(), error };
    // A symlink to a directory is not replaced either: writing to it fails, as before.
    let replaceable = std::fs::symlink_metadata(path).is_ok_and(|m| {
        let t = m.file_type();
        t.is_file()
            || (t.is_symlink()
                && !zvcore::output::is_stream(path)
                && !std::fs::metadata(path).is_ok_and(|m| m.is_dir()))
    });
    let removed = replaceable && std::fs::remove_file(path).is_ok();
    let mut f = if removed || !replaceable {
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o777).open(path) {
            Ok(f) => f,
            // Something is there that is not ours to remove (a device, a FIFO), or
            // appeared meanwhile: write to it as it is.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::OpenOptions::new().write(true).truncate(true).open(path).map_err(err)?
            }
            Err(e) => return Err(err(e)),
        }
    } else {
        let f = std::fs::OpenOptions::new().write(true).truncate(true).open(path).map_err(err)?;
        set_executable(&f);
        f
    };
    f.write_all(bytes).map_err(err)
}

/// Adds the execute bits to an existing regular file being overwritten.
fn set_executable(f: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = f.metadata() {
        if m.is_file() {
            let mut perm = m.permissions();
            perm.set_mode(perm.mode() | 0o111);
            let _ = f.set_permissions(perm);
        }
    }
}

fn code_location(lay: &Layout, rw: &[Rewritten], ctxs: &[SectionCtx<'_, '_>], addr: u64) -> Option<Location> {
    let k = lay.code.partition_point(|(p, _)| p.addr <= addr).checked_sub(1)?;
    let (p, ci) = lay.code[k];
    if addr >= p.addr + p.size {
        return None;
    }
    let off = rw[ci].reverse(addr - p.addr)?;
    Some(ctxs[ci].location(off))
}

fn build_code(
    res: &Resolved<'_>,
    lay: &Layout,
    rw: &[Rewritten],
    a: &Addresses<'_, '_>,
    ctxs: &[SectionCtx<'_, '_>],
) -> Result<Vec<u8>> {
    // The segment is put together once, in order: each section's bytes, NOPs in the gaps
    // between sections, HLT after the last (written once each, not cleared first); then
    // the sections are relocated in place, in parallel.
    let mut out: Vec<u8> = Vec::with_capacity(lay.code_size as usize);
    for &(p, ci) in &lay.code {
        let want = (p.addr - zvcore::form::CODE_START) as usize;
        // The buffer starts at CODE_START, a bundle start: pad_nops keeps the NOPs
        // inside bundles by its length.
        let gap = want.checked_sub(out.len()).expect("code sections laid out in address order");
        rewrite::pad_nops(&mut out, gap);
        out.extend_from_slice(&rw[ci].bytes);
    }
    out.resize(lay.code_size as usize, zvcore::form::HLT);
    let mut jobs: Vec<(layout::Piece, usize, &mut [u8])> = Vec::with_capacity(lay.code.len());
    let mut rest: &mut [u8] = &mut out;
    let mut at = 0usize;
    for &(p, ci) in &lay.code {
        let want = (p.addr - zvcore::form::CODE_START) as usize;
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(want - at);
        let (dst, tail) = tail.split_at_mut(rw[ci].bytes.len());
        rest = tail;
        at = want + dst.len();
        jobs.push((p, ci, dst));
    }
    all_errors(jobs.into_par_iter().map(|(p, ci, bytes)| -> Result<()> {
        let r = &rw[ci];
        let mut errors = Vec::new();
        for x in &r.relocs {
            let name = || relocate::sym_label(res, p.obj, x.sym);
            // The input relocation's own offset (the field's), not its instruction's.
            let at = || ctxs[ci].location(u64::from(x.input));
            let def = match relocate::out_def(res, p.obj, x.sym, &at) {
                Ok(d) => d,
                Err(e) => {
                    note(&mut errors, e);
                    continue;
                }
            };
            let f = Fix {
                at: &at,
                r_type: x.r_type,
                def,
                symbol: &name,
                size: &|| match x.sym {
                    RelSym::Obj(i) => res.sym_size(p.obj, i),
                    RelSym::Global(_) => 0,
                },
                addend: x.addend,
                bias: i64::from(x.bias),
                place: p.addr + u64::from(x.at),
                debug: false,
                head: x.head,
            };
            // A direct call or jump must land where C7 allows: in code, or on a bundle
            // start below CODE_LIMIT (the trampoline zrt's trap stub calls). One to a
            // symbol in data would fail verification and read as a zvld bug (audit
            // finding). An undefined weak function is called at address 0, as GNU ld
            // makes it (a fault when it runs), which the form allows.
            if x.branch && !matches!(def, Def::UndefinedWeak) {
                let target = a.addr(def, x.addend.wrapping_add(i64::from(x.bias)), true);
                let allowed =
                    |t: u64| a.in_code(t) || (t < zvcore::form::CODE_LIMIT && t.is_multiple_of(zvcore::form::BUNDLE));
                if let Some(t) = target.filter(|&t| !allowed(t)) {
                    let sym = name();
                    let shown = if sym.is_empty() { format!("address {t:#x}") } else { format!("`{sym}`") };
                    let what = match def {
                        Def::Section { obj, sec, .. } => format!(
                            "defined in section {} of {}, which is not code",
                            res.objects[obj as usize].sections[sec as usize].name, res.objects[obj as usize].name
                        ),
                        Def::Absolute(_) => "an absolute address outside the code".to_string(),
                        _ => format!("at {t:#x}, outside the code"),
                    };
                    note(
                        &mut errors,
                        LinkError::UnsupportedRelocation {
                            at: at(),
                            kind: relocate::reloc_name(x.r_type),
                            symbol: sym,
                            hint: format!(
                                "a direct call or jump to {shown}, {what}: C7 allows only instruction starts in \
                                 the code and bundle starts below CODE_LIMIT, and a nexe executes only its code"
                            ),
                        },
                    );
                    continue;
                }
            }
            if let Err(e) = relocate::apply(a, bytes, x.at as usize, &f) {
                note(&mut errors, e);
            }
        }
        errors_or_ok(errors)
    }))?;
    Ok(out)
}

/// The read-only data (with the GOT) and the data segment's file bytes, relocated; every
/// relocation error of both is named.
fn fill_data(
    res: &Resolved<'_>,
    lay: &Layout,
    a: &Addresses<'_, '_>,
    rewritten: &[Rewritten],
    code: &[(u32, u32)],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut rodata = vec![0u8; lay.rodata.filesz as usize];
    let got = (lay.got_addr - lay.rodata.vaddr) as usize;
    for (i, slot) in lay.got.iter().enumerate() {
        let v = a.got_value(*slot).unwrap_or(0);
        rodata[got + 8 * i..got + 8 * i + 8].copy_from_slice(&v.to_le_bytes());
    }
    let mut redirects = Redirects::new();
    for (ci, rw) in rewritten.iter().enumerate() {
        let (obj, sec) = code[ci];
        let base = lay.addr[obj as usize][sec as usize].unwrap_or(0);
        for &(table_sec, reloc_off, out) in &rw.stubs {
            redirects.insert((obj, table_sec, reloc_off), base + u64::from(out));
        }
    }
    let in_rodata = fill_segment(res, a, &lay.rodata.pieces, lay.rodata.vaddr, &mut rodata, &redirects);
    let mut data = vec![0u8; lay.data.filesz as usize];
    let file_pieces: Vec<_> = lay
        .data
        .pieces
        .iter()
        .copied()
        .filter(|p| {
            p.addr < lay.data.vaddr + lay.data.filesz
                && res.objects[p.obj as usize].sections[p.sec as usize].class != Class::Bss
        })
        .collect();
    let in_data = fill_segment(res, a, &file_pieces, lay.data.vaddr, &mut data, &redirects);
    // Both segments' errors, in address order.
    LinkError::collect([in_rodata, in_data])?;
    Ok((rodata, data))
}

/// Jump-table entries redirected to flag-replay stubs: (object, table section, entry
/// relocation offset) to the stub's guest address.
type Redirects = HashMap<(u32, u32, u64), u64>;

fn fill_segment(
    res: &Resolved<'_>,
    a: &Addresses<'_, '_>,
    pieces: &[layout::Piece],
    base: u64,
    seg: &mut [u8],
    redirects: &Redirects,
) -> Result<()> {
    // Each piece is copied and relocated in place, in parallel, in disjoint slices.
    let mut order: Vec<&layout::Piece> = pieces.iter().collect();
    order.sort_by_key(|p| p.addr);
    let mut jobs: Vec<(&layout::Piece, &mut [u8])> = Vec::with_capacity(order.len());
    let mut rest: &mut [u8] = seg;
    let mut at = base;
    for p in order {
        let len = res.objects[p.obj as usize].sections[p.sec as usize].data.len();
        let tail = std::mem::take(&mut rest);
        let (_, tail) = tail.split_at_mut((p.addr - at) as usize);
        let (dst, tail) = tail.split_at_mut(len);
        rest = tail;
        at = p.addr + len as u64;
        jobs.push((p, dst));
    }
    all_errors(jobs.into_par_iter().map(|(p, bytes)| -> Result<()> {
        let o = &res.objects[p.obj as usize];
        let s = &o.sections[p.sec as usize];
        bytes.copy_from_slice(s.data);
        let mut errors = Vec::new();
        for r in &s.relocs {
            let (def, addend) = match redirects.get(&(p.obj, p.sec, r.offset)) {
                Some(&stub) => (Def::Absolute(stub), 0),
                None => (res.def(p.obj, r.sym), r.addend),
            };
            let name = || relocate::sym_label(res, p.obj, RelSym::Obj(r.sym));
            let at = || Location {
                object: o.name.clone(),
                section: s.name.to_string(),
                offset: r.offset,
                function: None,
                in_data: false,
            };
            let bias = match r.r_type {
                elf::R_X86_64_PC64 => 8,
                _ => 4,
            };
            let f = Fix {
                at: &at,
                r_type: r.r_type,
                def,
                symbol: &name,
                size: &|| res.sym_size(p.obj, r.sym),
                addend,
                bias,
                place: p.addr + r.offset,
                debug: false,
                head: 0,
            };
            if let Err(e) = relocate::apply(a, bytes, r.offset as usize, &f) {
                note(&mut errors, e);
            }
        }
        errors_or_ok(errors)
    }))
}

/// Runs fallible parallel jobs to the end and reports every job's errors, in job order
/// (so that a link always names them in the same order; each job lists up to
/// [`MAX_RELOC_ERRORS`]), as GNU ld names every relocation it cannot apply, not only the
/// first (an audit finding).
fn all_errors<I: rayon::iter::IndexedParallelIterator<Item = Result<()>>>(jobs: I) -> Result<()> {
    let results: Vec<Result<()>> = jobs.collect();
    LinkError::collect(results).map(|_| ())
}

/// The relocation errors one piece of the output reports at most.
const MAX_RELOC_ERRORS: usize = 100;

/// Records a relocation error of a piece: the first [`MAX_RELOC_ERRORS`] are kept, the
/// rest counted (in an [`LinkError::Omitted`] at the end).
fn note(errors: &mut Vec<LinkError>, e: LinkError) {
    if errors.len() < MAX_RELOC_ERRORS {
        errors.push(e);
        return;
    }
    let place = match &e {
        LinkError::UnsupportedRelocation { at, .. } | LinkError::Overflow { at, .. } => {
            format!(" in {}({})", at.object, at.section)
        }
        _ => String::new(),
    };
    match errors.last_mut() {
        Some(LinkError::Omitted { count, .. }) => *count += 1,
        _ => errors.push(LinkError::Omitted { count: 1, what: format!("relocation errors{place}") }),
    }
}

/// A piece's relocation errors, combined, or Ok.
fn errors_or_ok(errors: Vec<LinkError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LinkError::combine(errors))
    }
}

fn debug_sections(
    res: &Resolved<'_>,
    lay: &Layout,
    a: &Addresses<'_, '_>,
    code: &[(u32, u32)],
) -> Result<Vec<(String, Vec<u8>)>> {
    // .debug_line and .debug_rnglists are regenerated (see debugline, debuginfo), so their
    // input pieces are not copied at all; the offsets that .debug_info's DW_AT_stmt_list
    // and DW_AT_ranges hold change with them (those fields are patched once both are
    // known), and DW_AT_high_pc lengths are patched in place. The other sections are
    // copied once, straight into their output buffers, with relocations applied. The
    // three jobs run in parallel.
    let has_line = debugline::has_input(res);
    let has_info = debuginfo::has_input(res);
    let replaced = |name: &str| (name == ".debug_line" && has_line) || (name == ".debug_rnglists" && has_info);
    let copied: Vec<bool> = lay.debug.iter().map(|(name, _, _)| !replaced(name)).collect();
    let copied = &copied[..];
    // Every copied section, put together in order (its pieces' bytes, zeros in the gaps
    // and past a piece's data: each byte written once, sections in parallel), then
    // relocated in place.
    let build = |k: usize| -> Vec<u8> {
        let (_, list, size) = &lay.debug[k];
        if !copied[k] {
            return Vec::new();
        }
        let mut buf = Vec::with_capacity(*size as usize);
        for p in list {
            let data = res.objects[p.obj as usize].sections[p.sec as usize].data;
            buf.resize(p.addr as usize, 0);
            buf.extend_from_slice(&data[..data.len().min(p.size as usize)]);
            buf.resize((p.addr + p.size) as usize, 0);
        }
        buf.resize(*size as usize, 0);
        buf
    };
    // (section, object, offset in the output section, width, old offset, is .debug_line)
    // of fields to redirect later.
    type Deferred = Vec<(usize, u32, usize, usize, u64, bool)>;
    let relocate_pieces = move || -> (Vec<Vec<u8>>, Deferred) {
        let mut bufs: Vec<Vec<u8>> = (0..lay.debug.len()).into_par_iter().map(build).collect();
        // (section, piece, destination) for every piece that is copied.
        let mut pieces: Vec<(usize, &layout::Piece, &mut [u8])> = Vec::new();
        for (k, ((_, list, _), buf)) in lay.debug.iter().zip(bufs.iter_mut()).enumerate() {
            if !copied[k] {
                continue;
            }
            let mut rest: &mut [u8] = buf;
            let mut at = 0u64;
            for p in list {
                let tail = std::mem::take(&mut rest);
                let (_, tail) = tail.split_at_mut((p.addr - at) as usize);
                let (dst, tail) = tail.split_at_mut(p.size as usize);
                rest = tail;
                at = p.addr + p.size;
                pieces.push((k, p, dst));
            }
        }
        // A piece with many relocations (sqlite3's `.debug_info` has 112,000, its
        // `.debug_loclists` 34,000) is cut into parts at relocation offsets, relocated
        // in parallel: (section, piece, the part's first byte in the piece, its
        // destination, its relocations, which `inputs` sorted by offset).
        const PART_RELOCS: usize = 8192;
        type Part<'p> = (usize, &'p layout::Piece, usize, &'p mut [u8], &'p [crate::inputs::Reloc]);
        let mut jobs: Vec<Part<'_>> = Vec::new();
        for (k, p, dst) in pieces {
            let s = &res.objects[p.obj as usize].sections[p.sec as usize];
            let relocs = &s.relocs[..];
            let len = s.data.len().min(dst.len());
            let mut cuts: Vec<(usize, usize)> = vec![(0, 0)]; // (byte, relocation index)
            let mut i = PART_RELOCS;
            while i < relocs.len() {
                let at = relocs[i].offset as usize;
                // Relocations at the same offset stay in one part, and no field of the part
                // before runs past the cut.
                let i0 = relocs.partition_point(|r| (r.offset as usize) < at);
                let clear = i0 == 0 || (relocs[i0 - 1].offset as usize).saturating_add(8) <= at;
                if clear && at > cuts[cuts.len() - 1].0 && at < len {
                    cuts.push((at, i0));
                }
                i += PART_RELOCS;
            }
            cuts.push((dst.len(), relocs.len()));
            let mut rest: &mut [u8] = dst;
            for w in cuts.windows(2) {
                let ((from, r0), (to, r1)) = (w[0], w[1]);
                let (part, tail) = std::mem::take(&mut rest).split_at_mut(to - from);
                rest = tail;
                jobs.push((k, p, from, part, &relocs[r0..r1]));
            }
        }
        let deferred: Deferred = jobs
            .into_par_iter()
            .map(|(k, p, from, dst, relocs)| {
                let o = &res.objects[p.obj as usize];
                let mut deferred = Vec::new();
                // The object's sections whose offsets are redirected later (named once,
                // not per relocation).
                let redirected: Vec<Option<bool>> = o.sections.iter().map(|x| redirected_line(x.name)).collect();
                for r in relocs {
                    let def = res.def(p.obj, r.sym);
                    if let Def::Section { obj, sec, value } = def {
                        // The section is the defining object's: a global another object
                        // defines is looked up there (a review found its section index
                        // read in this object's table).
                        let target = if obj == p.obj {
                            redirected.get(sec as usize).copied().flatten()
                        } else {
                            res.objects[obj as usize].sections.get(sec as usize).and_then(|x| redirected_line(x.name))
                        };
                        if let Some(is_line) = target {
                            let width = if r.r_type == object::elf::R_X86_64_64 { 8 } else { 4 };
                            deferred.push((
                                k,
                                obj,
                                p.addr as usize + r.offset as usize,
                                width,
                                value.wrapping_add(r.addend as u64),
                                is_line,
                            ));
                            continue;
                        }
                    }
                    // Most fields are absolute addresses and section offsets (strings,
                    // location lists): written here as `relocate::apply` writes a debug
                    // field, without building its general request. A value that does not
                    // resolve leaves the field as it is; one wider than a 32-bit field is
                    // cut to it, as apply does for debug sections.
                    let width = match r.r_type {
                        object::elf::R_X86_64_64 => 8,
                        object::elf::R_X86_64_32 => 4,
                        _ => 0,
                    };
                    if width > 0 {
                        let field = (r.offset as usize).checked_sub(from).and_then(|o| dst.get_mut(o..o + width));
                        if let (Some(field), Some(v)) = (field, a.addr(def, r.addend, false)) {
                            field.copy_from_slice(&v.to_le_bytes()[..width]);
                        }
                        continue;
                    }
                    let at = Location::default;
                    let f = Fix {
                        at: &at,
                        r_type: r.r_type,
                        def,
                        symbol: &String::new,
                        size: &|| res.sym_size(p.obj, r.sym),
                        addend: r.addend,
                        bias: 4,
                        place: r.offset,
                        debug: true,
                        head: 0,
                    };
                    // Debug information is best effort: an unsupported field is left as is.
                    if let Some(off) = (r.offset as usize).checked_sub(from) {
                        let _ = relocate::apply(a, dst, off, &f);
                    }
                }
                deferred
            })
            .flatten_iter()
            .collect();
        (bufs, deferred)
    };
    // The longest job (.debug_info's walk, one unit at a time) starts at once on this
    // thread; the others, and the parts of the pieces, go to whichever thread is free
    // (rayon's idle threads take the outermost job first).
    let (info, (line, (frame, (mut bufs, deferred)))) = rayon::join(
        || debuginfo::rebuild(res, lay, a, code),
        || {
            rayon::join(
                || debugline::rebuild(res, lay, a, code),
                || rayon::join(|| crate::debugframe::rebuild(res, lay, a, code), relocate_pieces),
            )
        },
    );
    for (k, obj, off, width, old, is_line) in deferred {
        let v = match (is_line, &line, &info) {
            (true, Some(l), _) => l.offset_of(obj, old),
            (false, _, Some(i)) => i.offset_of(obj, old),
            _ => old,
        };
        if let Some(dst) = bufs[k].get_mut(off..off + width) {
            dst.copy_from_slice(&v.to_le_bytes()[..width]);
        }
    }
    if let Some(i) = &info {
        for ((name, pieces, _), buf) in lay.debug.iter().zip(bufs.iter_mut()) {
            let by_object = match name.as_str() {
                ".debug_info" => &i.patches,
                ".debug_ranges" => &i.range_patches,
                ".debug_aranges" => &i.aranges_patches,
                _ => continue,
            };
            for p in pieces {
                let Some(patches) = by_object.get(&p.obj) else { continue };
                let Some(bytes) = buf.get_mut(p.addr as usize..(p.addr + p.size) as usize) else { continue };
                for &(off, width, v) in patches {
                    if let Some(dst) = bytes.get_mut(off as usize..off as usize + width) {
                        dst.copy_from_slice(&v.to_le_bytes()[..width]);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut frame = frame;
    for ((name, _, _), buf) in lay.debug.iter().zip(bufs) {
        if (name == ".debug_line" && line.is_some()) || (name == ".debug_rnglists" && info.is_some()) {
            continue;
        }
        // `.debug_frame` in place of the relocated copy, when every input's frame
        // information read (see debugframe).
        let buf = if name == ".debug_frame" { frame.take().unwrap_or(buf) } else { buf };
        out.push((name.clone(), buf));
    }
    // Only `.eh_frame` inputs: the section is new.
    if let Some(f) = frame {
        out.push((".debug_frame".to_string(), f));
    }
    if let Some(l) = line {
        out.push((".debug_line".to_string(), l.bytes));
    }
    if let Some(i) = info {
        if !i.rnglists.is_empty() {
            out.push((".debug_rnglists".to_string(), i.rnglists));
        }
    }
    Ok(out)
}

/// Whether a debug field pointing into section `name` is redirected once the regenerated
/// sections are known: `Some(true)` into `.debug_line`, `Some(false)` into
/// `.debug_rnglists`, `None` for any other section.
fn redirected_line(name: &str) -> Option<bool> {
    match name {
        ".debug_line" => Some(true),
        ".debug_rnglists" => Some(false),
        _ => None,
    }
}

fn out_symbols(res: &Resolved<'_>, lay: &Layout, a: &Addresses<'_, '_>) -> Vec<OutSymbol> {
    let mut out = Vec::new();
    for (oi, o) in res.objects.iter().enumerate() {
        for s in &o.symbols {
            // The source file's name (STT_FILE, absolute, before the file's locals, as in
            // the input and as GNU ld keeps it): addr2line falls back to it for code
            // without DWARF (musl's), which it showed as `??` (audit finding).
            if s.kind == elf::STT_FILE && !s.name.is_empty() && !s.global {
                out.push(OutSymbol {
                    name: s.name.to_string(),
                    value: 0,
                    size: 0,
                    global: false,
                    kind: elf::STT_FILE,
                    section: 0,
                });
                continue;
            }
            if s.name.is_empty() || s.is_section() || s.kind == elf::STT_FILE {
                continue;
            }
            let SymDef::Section { sec, value } = s.def else { continue };
            let Some(sec_ref) = o.sections.get(sec as usize) else { continue };
            let class = sec_ref.class;
            if lay.addr[oi][sec as usize].is_none() || matches!(class, Class::Debug | Class::Drop) {
                continue;
            }
            let def = Def::Section { obj: oi as u32, sec, value };
            if s.global && res.global(s.name) != Some(def) {
                continue;
            }
            let Some(addr) = a.addr(def, 0, false) else { continue };
            let (section, size) = match class {
                Class::Code => {
                    let end = a.addr(def, s.size as i64, false).unwrap_or(addr);
                    (1, end.saturating_sub(addr))
                }
                Class::RoData => (2, s.size),
                Class::Bss => (4, s.size),
                Class::TData | Class::TBss => (3, s.size),
                _ => (3, s.size),
            };
            let kind = if class == Class::Code && s.kind == elf::STT_NOTYPE { elf::STT_FUNC } else { s.kind };
            out.push(OutSymbol { name: s.name.to_string(), value: addr, size, global: s.global, kind, section });
        }
    }
    for (i, (name, size, _, tls)) in res.commons.iter().enumerate() {
        out.push(OutSymbol {
            name: name.to_string(),
            value: lay.commons[i],
            size: *size,
            global: true,
            kind: if *tls { elf::STT_TLS } else { elf::STT_OBJECT },
            section: 4,
        });
    }
    // The linker-defined symbols a program referenced (`_end`, `__init_array_start`, ...),
    // as GNU ld lists them, so that debuggers and `nm` see them; absolute (section 0).
    for (i, name) in crate::resolve::LINKER_SYMBOLS.iter().enumerate() {
        if res.linker_used[i] && res.global(name) == Some(Def::Linker(i as u32)) {
            out.push(OutSymbol {
                name: name.to_string(),
                value: lay.linker[i],
                size: 0,
                global: true,
                kind: elf::STT_NOTYPE,
                section: 0,
            });
        }
    }
    out
}

fn map_file(res: &Resolved<'_>, lay: &Layout, img: &write::Image<'_>, entry: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "zvld link map (form version {})", zvcore::form::FORM_VERSION);
    let _ = writeln!(s, "entry {entry} = {:#x}\n", img.entry);
    // As GNU ld's map: each archive member and the reference that pulled it in.
    let pulled: Vec<_> = res.objects.iter().zip(&res.pulled_by).filter_map(|(o, p)| p.map(|p| (o, p))).collect();
    if !pulled.is_empty() {
        let _ = writeln!(s, "archive members included to satisfy a reference by file (symbol)");
        for (o, (by, name)) in pulled {
            let by = match res.objects.get(by as usize) {
                Some(b) => b.name.as_str(),
                None if matches!(name, "__zv_syscall" | "__zv_tp" | "__zv_cpuid" | "__zv_xgetbv") => {
                    "(zvld: its rewrites use it)"
                }
                None => "(command line: -u, --require-defined or the entry point)",
            };
            let _ = writeln!(s, "  {}\n      {by} ({name})", o.name);
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "segment code   {:#010x} size {:#x} (R+X; linked code ends {:#x}, HLT sled after)",
        zvcore::form::CODE_START,
        lay.code_size,
        lay.code_content_end
    );
    for (p, _) in &lay.code {
        let o = &res.objects[p.obj as usize];
        let sec = &o.sections[p.sec as usize];
        let _ = writeln!(s, "  {:#010x} {:#8x} (in {:#8x}) {}({})", p.addr, p.size, sec.size, o.name, sec.name);
    }
    let _ = writeln!(
        s,
        "segment rodata {:#010x} size {:#x} (R; GOT {} slots at {:#x})",
        lay.rodata.vaddr,
        lay.rodata.memsz,
        lay.got.len(),
        lay.got_addr
    );
    for p in &lay.rodata.pieces {
        let o = &res.objects[p.obj as usize];
        let _ = writeln!(s, "  {:#010x} {:#8x} {}({})", p.addr, p.size, o.name, o.sections[p.sec as usize].name);
    }
    let _ = writeln!(
        s,
        "segment data   {:#010x} filesz {:#x} memsz {:#x} (R+W)",
        lay.data.vaddr, lay.data.filesz, lay.data.memsz
    );
    if let Some(t) = lay.tls {
        let _ = writeln!(
            s,
            "  TLS template {:#010x} filesz {:#x} memsz {:#x} align {}",
            t.vaddr, t.filesz, t.memsz, t.align
        );
    }
    // The template's .tbss follows its .tdata (the first data pieces) in address order
    // but takes no bytes of the segment: listed after the last .tdata piece.
    let tdata_end = lay.tls.map_or(0, |t| t.vaddr + t.filesz);
    let piece = |s: &mut String, p: &crate::layout::Piece, note: &str| {
        let o = &res.objects[p.obj as usize];
        let _ = writeln!(s, "  {:#010x} {:#8x} {}({}){note}", p.addr, p.size, o.name, o.sections[p.sec as usize].name);
    };
    let mut tbss_listed = lay.tbss.is_empty();
    for p in &lay.data.pieces {
        if !tbss_listed && p.addr >= tdata_end {
            lay.tbss.iter().for_each(|t| piece(&mut s, t, " (TLS template only)"));
            tbss_listed = true;
        }
        piece(&mut s, p, "");
    }
    if !tbss_listed {
        lay.tbss.iter().for_each(|t| piece(&mut s, t, " (TLS template only)"));
    }
    let _ = writeln!(s, "\nsymbols");
    let mut syms: Vec<&OutSymbol> = img.symbols.iter().filter(|x| x.global).collect();
    syms.sort_by_key(|x| (x.value, x.name.clone()));
    for x in syms {
        let _ = writeln!(s, "  {:#010x} {:#8x} {}", x.value, x.size, x.name);
    }
    s
}
