//! Phase 2, symbol resolution: loads the command-line objects, pulls archive members on
//! demand until no undefined symbol can be resolved from them (and, as GNU ld, for a
//! common symbol a member defines with global binding), settles COMDAT groups
//! (first group of a signature wins), and builds the global symbol table with ELF's
//! rules: a strong definition beats weak and common ones, two strong ones are an error,
//! commons merge to the largest, and an undefined weak reference resolves to 0. A
//! symbol nothing defines is an error only where a kept section relocates against it
//! (all of them are reported, each with its first such place), as with GNU ld. The
//! linker-defined symbols ([`LINKER_SYMBOLS`]) are defined when referenced, and
//! `__tls_get_addr` may stay undefined when only relaxed TLS sequences call it.
//!
//! The result, [`Resolved`], answers "what does symbol `i` of object `o` refer to?" as a
//! [`Def`] that the later phases turn into an address.

use std::collections::{HashMap, HashSet};

use object::elf;

use crate::error::{LinkError, Location, Result};
use crate::inputs::{self, Archive, Class, Object, SymDef};

/// What a symbol reference resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Def {
    /// A location in an input section.
    Section {
        /// Object index.
        obj: u32,
        /// Section index in that object.
        sec: u32,
        /// Offset in the section.
        value: u64,
    },
    /// An absolute value.
    Absolute(u64),
    /// A common symbol, allocated in bss by the layout (index into [`Resolved::commons`]).
    Common(u32),
    /// A symbol the linker defines (index into [`LINKER_SYMBOLS`]).
    Linker(u32),
    /// An undefined weak reference: 0.
    UndefinedWeak,
}

/// Symbols the linker defines when they are referenced and not defined by an input.
pub const LINKER_SYMBOLS: &[&str] = &[
    "__preinit_array_start",
    "__preinit_array_end",
    "__init_array_start",
    "__init_array_end",
    "__fini_array_start",
    "__fini_array_end",
    "_etext",
    "etext",
    "__etext",
    "_edata",
    "edata",
    "__bss_start",
    "_end",
    "end",
    "_GLOBAL_OFFSET_TABLE_",
    "__executable_start",
    // The ELF header, which the layout then maps at the start of the read-only segment.
    "__ehdr_start",
];

/// The function a general- or local-dynamic TLS sequence calls. zvld relaxes those
/// sequences (see [`crate::rewrite`]), so a reference from them alone does not need a
/// definition.
pub const TLS_GET_ADDR: &str = "__tls_get_addr";

/// A global symbol's current state during resolution.
#[derive(Clone, Copy, Debug)]
struct Entry {
    obj: u32,
    sym: u32,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Undefined {
        weak: bool,
    },
    Weak,
    /// `tls`: a thread-local common (`.tls_common`), allocated in the TLS block.
    Common {
        size: u64,
        align: u64,
        tls: bool,
    },
    Strong,
}

/// The outcome of resolution: the objects that take part in the link and the global table.
pub struct Resolved<'a> {
    /// Every object in the link, command-line objects first, then archive members in the
    /// order they were pulled in.
    pub objects: Vec<Object<'a>>,
    /// Global name to its definition.
    pub globals: crate::fxhash::FxHashMap<&'a str, Def>,
    /// Common symbols to allocate: name, size, alignment, and whether it is thread-local
    /// (`.tls_common`: allocated in the TLS block after `.tbss`, as GNU ld does).
    pub commons: Vec<(&'a str, u64, u64, bool)>,
    /// Linker-defined symbols that are referenced.
    pub linker_used: Vec<bool>,
    /// Sections with C-identifier names whose `__start_NAME`/`__stop_NAME` are referenced
    /// (GNU ld's section bounds). `Def::Linker(LINKER_SYMBOLS.len() + 2k)` is the start of
    /// the k-th, `+ 2k + 1` its end.
    pub section_bounds: Vec<String>,
    /// Why each object is in the link, by object index: `None` for a command-line object;
    /// for an archive member, the object whose reference pulled it in ([`COMMAND_LINE`] for
    /// `-u`, `--require-defined` and the entry) and the symbol (the map's "archive members
    /// included", as GNU ld's "to satisfy reference by file (symbol)").
    pub pulled_by: Vec<Option<(u32, &'a str)>>,
}

/// The "object" of a reference made on the command line (`-u`, the entry point).
pub const COMMAND_LINE: u32 = u32::MAX;

/// Whether `s` is a C identifier (sections named so get `__start_`/`__stop_` symbols).
pub fn is_c_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f == '_' || f.is_ascii_alphabetic()) && c.all(|x| x == '_' || x.is_ascii_alphanumeric())
}

impl<'a> Resolved<'a> {
    /// What symbol `sym` of object `obj` refers to.
    pub fn def(&self, obj: u32, sym: u32) -> Def {
        let o = &self.objects[obj as usize];
        let Some(s) = o.symbols.get(sym as usize) else { return Def::Absolute(0) };
        if sym == 0 {
            return Def::Absolute(0);
        }
        if !s.global || s.is_section() {
            return match s.def {
                SymDef::Section { sec, value } => Def::Section { obj, sec, value },
                SymDef::Absolute(v) => Def::Absolute(v),
                _ => Def::Absolute(0),
            };
        }
        self.globals.get(s.name).copied().unwrap_or(Def::UndefinedWeak)
    }

    /// The size (st_size) of what symbol `sym` of object `obj` refers to, for
    /// R_X86_64_SIZE32/64: the defining symbol's size for a global (0 when undefined
    /// weak or linker-defined), a common's allocated size.
    pub fn sym_size(&self, obj: u32, sym: u32) -> u64 {
        let o = &self.objects[obj as usize];
        let Some(s) = o.symbols.get(sym as usize) else { return 0 };
        if sym == 0 || !s.global || s.is_section() {
            return s.size;
        }
        match self.globals.get(s.name) {
            Some(Def::Section { obj: d, .. }) => self.objects[*d as usize]
                .symbols
                .iter()
                .find(|x| x.global && x.name == s.name && matches!(x.def, SymDef::Section { .. }))
                .map_or(0, |x| x.size),
            Some(Def::Common(i)) => self.commons.get(*i as usize).map_or(0, |c| c.1),
            Some(Def::Absolute(_)) => self
                .objects
                .iter()
                .flat_map(|o| o.symbols.iter())
                .find(|x| x.global && x.name == s.name && matches!(x.def, SymDef::Absolute(_)))
                .map_or(0, |x| x.size),
            _ => 0,
        }
    }

    /// Looks a global name up.
    pub fn global(&self, name: &str) -> Option<Def> {
        self.globals.get(name).copied()
    }
}

/// What to load: objects and archives in command-line order.
pub enum Input<'a> {
    /// A relocatable object.
    Object(String, &'a [u8]),
    /// An archive (members are parsed when they are pulled in).
    Archive(String, &'a inputs::ArchiveData),
}

/// Loads the inputs and resolves every symbol. `required` are names that must be
/// defined (the entry point, `--require-defined`); `wanted` (`-u`) pull archive members
/// that define them like any undefined reference, and may stay undefined when no kept
/// section uses them, as with GNU ld.
///
/// `early` runs on every object as soon as it is loaded, beside the search of the
/// archives: on the command-line objects (numbered from 0) while archive members are
/// being selected and parsed, and on each member (numbered from its place) in the
/// parallel job that parses it. What `early` computes may depend only on the objects it
/// is given: the COMDAT and `.gnu.linkonce` fates of their sections are not settled yet
/// for a member (a section `early` sees may end up discarded). Returns its results, the
/// command-line objects' first; when resolution fails they are dropped.
pub fn resolve_with<'a, P: Send>(
    inputs: Vec<Input<'a>>,
    required: &'a [String],
    wanted: &'a [String],
    early: impl Fn(&[Object<'a>], u32) -> P + Sync,
) -> Result<(Resolved<'a>, Vec<P>)> {
    let mut objects: Vec<Object<'a>> = Vec::new();
    let mut archives: Vec<Archive<'a>> = Vec::new();
    let mut pending = Vec::new();
    for inp in inputs {
        match inp {
            Input::Object(name, data) => pending.push((name, data)),
            Input::Archive(name, data) => archives.push(inputs::archive_path_index(&name, data)?),
        }
    }
    // Parse the command-line objects in parallel; order is kept.
    use rayon::prelude::*;
    let parsed: Vec<Result<Object<'a>>> = pending.into_par_iter().map(|(n, d)| inputs::parse_object(n, d)).collect();
    let mut table: HashMap<&'a str, Entry> = HashMap::new();
    let mut groups: HashSet<&'a str> = HashSet::new();
    // Duplicate definitions are collected, not the first returned, so that one link names
    // them all (as GNU ld does); the first definition stays in the table meanwhile.
    let mut dups: Vec<LinkError> = Vec::new();
    for o in parsed {
        let o = o?;
        add_object(&[], &mut objects, &mut table, &mut groups, &mut dups, o)?;
    }
    for r in required.iter().chain(wanted) {
        if !table.contains_key(r.as_str()) {
            table.insert(r.as_str(), Entry { obj: COMMAND_LINE, sym: 0, state: State::Undefined { weak: false } });
        }
    }
    // Pull archive members until nothing more resolves, while `early` looks at the
    // command-line objects.
    let command_line = std::mem::take(&mut objects);
    let base = command_line.len() as u32;
    let (pre, pulled) = rayon::join(
        || early(&command_line, 0),
        || -> Result<_> {
            let mut members: Vec<Object<'a>> = Vec::new();
            let mut pulled_by: Vec<Option<(u32, &'a str)>> = vec![None; base as usize];
            let results = pull_members(
                &archives,
                &mut table,
                &mut groups,
                &mut dups,
                &command_line,
                &mut members,
                &mut pulled_by,
                &early,
            )?;
            Ok((members, pulled_by, results))
        },
    );
    let (members, pulled_by, member_results) = pulled?;
    if !dups.is_empty() {
        return Err(LinkError::combine(dups));
    }
    objects = command_line;
    objects.extend(members);
    let mut results = vec![pre];
    results.extend(member_results);
    // An undefined symbol may be defined in an archive member of GCC LTO bytecode, which
    // `ar` indexes only by `__gnu_lto_slim`, or of LLVM bitcode, which it does not index:
    // the error says so (audit findings: it only said to add the library that was there).
    let resolved = finish(objects, table, required, pulled_by).map_err(|e| match e {
        LinkError::Undefined { symbols, .. } => LinkError::Undefined {
            symbols,
            lto_archives: archives
                .iter()
                .filter(|a| a.index.contains_key(inputs::LTO_SLIM) || a.has_llvm_bitcode())
                .map(|a| a.path.clone())
                .collect(),
        },
        e => e,
    })?;
    Ok((resolved, results))
}

/// Pulls archive members that define undefined (or common) symbols of `table` until
/// nothing more resolves; the members get object numbers after the `earlier` objects',
/// in the order they are added to `objects`.
#[allow(clippy::too_many_arguments)]
fn pull_members<'a, P: Send>(
    archives: &[Archive<'a>],
    table: &mut HashMap<&'a str, Entry>,
    groups: &mut HashSet<&'a str>,
    dups: &mut Vec<LinkError>,
    earlier: &[Object<'a>],
    objects: &mut Vec<Object<'a>>,
    pulled_by: &mut Vec<Option<(u32, &'a str)>>,
    early: &(dyn Fn(&[Object<'a>], u32) -> P + Sync),
) -> Result<Vec<P>> {
    let mut results = Vec::new();
    let base = earlier.len() as u32;
    use rayon::prelude::*;
    let mut loaded: HashSet<(usize, u64)> = HashSet::new();
    let mut not_defining: HashSet<(usize, u64, &'a str)> = HashSet::new();
    loop {
        let mut progress = false;
        // Sorted, so that the reference the map names for a member is the same every time.
        let mut undefined: Vec<(&'a str, u32)> = table
            .iter()
            .filter(|(_, e)| matches!(e.state, State::Undefined { weak: false }))
            .map(|(n, e)| (*n, e.obj))
            .collect();
        undefined.sort_unstable();
        let mut wanted: Vec<(usize, u64, u32, &'a str)> = Vec::new();
        for (name, by) in undefined {
            for (ai, ar) in archives.iter().enumerate() {
                if let Some(&off) = ar.index.get(name) {
                    if loaded.insert((ai, off)) {
                        wanted.push((ai, off, by, name));
                    }
                    break;
                }
            }
        }
        // A common symbol pulls a member that defines it as data with global binding (not
        // as another common, not weakly, not as a function), as GNU ld does
        // (`elf_link_is_defined_archive_symbol`): old code declares `int x;` in a header
        // and initialises it in a library. Members looked at and left out are remembered,
        // so each is parsed once for this.
        let mut commons: Vec<(&'a str, u32)> =
            table.iter().filter(|(_, e)| matches!(e.state, State::Common { .. })).map(|(n, e)| (*n, e.obj)).collect();
        commons.sort_unstable();
        for (name, by) in commons {
            for (ai, ar) in archives.iter().enumerate() {
                let Some(&off) = ar.index.get(name) else { continue };
                if loaded.contains(&(ai, off)) || !not_defining.insert((ai, off, name)) {
                    continue;
                }
                let (member, data) = inputs::archive_member_bytes(ar, off)?;
                let defines = inputs::parse_object(member, data)?.symbols.iter().any(|s| {
                    s.global
                        && !s.weak
                        && !matches!(s.kind, elf::STT_FUNC | elf::STT_GNU_IFUNC)
                        && s.name == name
                        && matches!(s.def, SymDef::Section { .. } | SymDef::Absolute(_))
                });
                if defines {
                    loaded.insert((ai, off));
                    wanted.push((ai, off, by, name));
                    break;
                }
            }
        }
        wanted.sort_unstable();
        // The members are located in order, then parsed in parallel.
        let bytes: Vec<(String, &'a [u8])> = wanted
            .iter()
            .map(|&(ai, off, ..)| inputs::archive_member_bytes(&archives[ai], off))
            .collect::<Result<_>>()?;
        // Each member's number: they are added in this order below.
        let first = base + objects.len() as u32;
        let members: Vec<Result<(Object<'a>, P)>> = bytes
            .into_par_iter()
            .enumerate()
            .map(|(i, (name, data))| {
                let mut o = inputs::parse_object(name, data)?;
                // Groups already loaded: their sections here are discarded (add_object
                // says so again below), and `early` need not look at them.
                discard_known_groups(&mut o, groups);
                let p = early(std::slice::from_ref(&o), first + i as u32);
                Ok((o, p))
            })
            .collect();
        for (m, &(_, _, by, name)) in members.into_iter().zip(&wanted) {
            let (m, p) = m?;
            add_object(earlier, objects, table, groups, dups, m)?;
            results.push(p);
            pulled_by.push(Some((by, name)));
            progress = true;
        }
        if !progress {
            return Ok(results);
        }
    }
}

/// Marks the sections of `o` that [`add_object`] will discard because their COMDAT
/// group (or `.gnu.linkonce` name) is among `groups` already.
fn discard_known_groups<'a>(o: &mut Object<'a>, groups: &HashSet<&'a str>) {
    for (sig, secs) in &o.comdats {
        if groups.contains(sig) {
            for &s in secs {
                if let Some(sec) = o.sections.get_mut(s as usize) {
                    sec.discarded = true;
                }
            }
        }
    }
    for sec in o.sections.iter_mut() {
        if sec.name.starts_with(".gnu.linkonce.") && groups.contains(sec.name) {
            sec.discarded = true;
        }
    }
}

/// The final table of a resolution, once every object is loaded.
fn finish<'a>(
    objects: Vec<Object<'a>>,
    table: HashMap<&'a str, Entry>,
    required: &'a [String],
    pulled_by: Vec<Option<(u32, &'a str)>>,
) -> Result<Resolved<'a>> {
    // Final table.
    let mut globals = crate::fxhash::FxHashMap::with_capacity_and_hasher(table.len(), Default::default());
    let mut commons = Vec::new();
    let mut linker_used = vec![false; LINKER_SYMBOLS.len()];
    let mut section_bounds: Vec<String> = Vec::new();
    let placed_section = |name: &str| {
        objects.iter().any(|o| {
            o.sections.iter().any(|s| {
                s.name == name
                    && !s.discarded
                    && matches!(
                        s.class,
                        crate::inputs::Class::Code
                            | crate::inputs::Class::RoData
                            | crate::inputs::Class::Data
                            | crate::inputs::Class::Bss
                    )
            })
        })
    };
    let mut undefined: Vec<&'a str> = Vec::new();
    for (name, e) in &table {
        let def = match e.state {
            State::Strong | State::Weak => {
                let o = &objects[e.obj as usize];
                match o.symbols[e.sym as usize].def {
                    SymDef::Section { sec, value } => Def::Section { obj: e.obj, sec, value },
                    SymDef::Absolute(v) => Def::Absolute(v),
                    _ => Def::UndefinedWeak,
                }
            }
            State::Common { size, align, tls } => {
                commons.push((*name, size, align, tls));
                Def::Common(commons.len() as u32 - 1)
            }
            State::Undefined { weak } => {
                let bound = name
                    .strip_prefix("__start_")
                    .map(|n| (n, 0))
                    .or_else(|| name.strip_prefix("__stop_").map(|n| (n, 1)))
                    .filter(|(n, _)| is_c_identifier(n) && placed_section(n));
                if let Some(i) = LINKER_SYMBOLS.iter().position(|s| s == name) {
                    linker_used[i] = true;
                    Def::Linker(i as u32)
                } else if let Some((sec, which)) = bound {
                    let k = match section_bounds.iter().position(|b| b == sec) {
                        Some(k) => k,
                        None => {
                            section_bounds.push(sec.to_string());
                            section_bounds.len() - 1
                        }
                    };
                    Def::Linker((LINKER_SYMBOLS.len() + 2 * k + which) as u32)
                } else if weak
                    || (*name == TLS_GET_ADDR
                        && !required.iter().any(|r| r == name)
                        && only_tls_sequence_calls(&objects, name))
                {
                    Def::UndefinedWeak
                } else {
                    undefined.push(*name);
                    continue;
                }
            }
        };
        globals.insert(*name, def);
    }
    if !undefined.is_empty() {
        // As with GNU ld, a symbol is missing only where a kept section relocates against
        // it; the names required on the command line (the entry, `--require-defined`)
        // always are, the ones `-u` names only when a kept section uses them. A
        // name only in a symbol table, or referenced only from a discarded COMDAT copy,
        // stays out of `globals`: an object's reference to it is 0 (`Resolved::def`),
        // and a reference that a rewrite introduces is still an error.
        let mut missing = kept_references(&objects, &undefined);
        for name in undefined {
            if required.iter().any(|r| r == name) && !missing.iter().any(|(n, _)| n == name) {
                let at = Location {
                    object: "(command line: the entry point or --require-defined)".into(),
                    ..Default::default()
                };
                missing.push((name.to_string(), at));
            }
        }
        if !missing.is_empty() {
            missing.sort_by(|a, b| a.0.cmp(&b.0));
            return Err(LinkError::Undefined { symbols: missing, lto_archives: Vec::new() });
        }
    }
    commons.sort();
    // Re-number commons after sorting so the layout is deterministic.
    for (i, (name, ..)) in commons.iter().enumerate() {
        globals.insert(name, Def::Common(i as u32));
    }
    Ok(Resolved { objects, globals, commons, linker_used, section_bounds, pulled_by })
}

/// Whether every relocation that names `name` (`__tls_get_addr`) is the call of a
/// general- or local-dynamic TLS sequence: it follows an R_X86_64_TLSGD/TLSLD within one
/// instruction. The rewriter relaxes those sequences and consumes the call, so the
/// function need not exist (musl's static libc has it, but a link need not include it);
/// the rewriter checks each sequence exactly and rejects the ones it cannot relax.
///
/// There must be at least one such call, and the name must not be required otherwise
/// (`-u`, the entry point): then it is an undefined symbol like any other.
fn only_tls_sequence_calls(objects: &[Object<'_>], name: &str) -> bool {
    let mut calls = 0usize;
    let all = objects.iter().all(|o| {
        let named = |i: u32| o.symbols.get(i as usize).is_some_and(|s| s.global && s.name == name);
        o.sections.iter().filter(|s| !matches!(s.class, Class::Drop | Class::Debug)).all(|s| {
            s.relocs.iter().enumerate().all(|(k, r)| {
                if !named(r.sym) {
                    return true;
                }
                calls += 1;
                k.checked_sub(1).map(|p| s.relocs[p]).is_some_and(|p| {
                    matches!(p.r_type, elf::R_X86_64_TLSGD | elf::R_X86_64_TLSLD)
                        && r.offset > p.offset
                        && r.offset - p.offset <= 8
                })
            })
        })
    });
    all && calls > 0
}

/// Where symbol `sym` of `o` is defined: its section and offset (`*ABS*` for an
/// absolute symbol).
fn definition_site(o: &Object<'_>, sym: u32) -> Location {
    let (section, offset) = match o.symbols.get(sym as usize).map(|s| s.def) {
        Some(SymDef::Section { sec, value }) => {
            (o.sections.get(sec as usize).map_or("?", |x| x.name).to_string(), value)
        }
        Some(SymDef::Absolute(v)) => ("*ABS*".to_string(), v),
        _ => ("?".to_string(), 0),
    };
    Location { object: o.name.clone(), section, offset, function: None, in_data: false }
}

/// For each of `names` (undefined globals) that a relocation of a kept section refers
/// to, the first such place (in link order: object, section, offset), with the function
/// around it. Runs only when a link has undefined symbols.
fn kept_references(objects: &[Object<'_>], names: &[&str]) -> Vec<(String, Location)> {
    let wanted: HashSet<&str> = names.iter().copied().collect();
    let mut found: HashMap<&str, Location> = HashMap::new();
    for o in objects {
        for s in &o.sections {
            if s.discarded || matches!(s.class, Class::Drop | Class::Debug) {
                continue;
            }
            for r in &s.relocs {
                let Some(sym) = o.symbols.get(r.sym as usize) else { continue };
                if !sym.global || sym.def != SymDef::Undefined || !wanted.contains(sym.name) {
                    continue;
                }
                found.entry(sym.name).or_insert_with(|| Location {
                    object: o.name.clone(),
                    section: s.name.to_string(),
                    offset: r.offset,
                    function: enclosing_function(o, s, r.offset),
                    in_data: s.class != inputs::Class::Code,
                });
            }
        }
    }
    found.into_iter().map(|(n, at)| (n.to_string(), at)).collect()
}

/// The symbol of `o` that starts at or before `offset` in section `s` and is closest to
/// it (a function, for code), with the distance from it.
pub(crate) fn enclosing_function(o: &Object<'_>, s: &inputs::Section<'_>, offset: u64) -> Option<(String, u64)> {
    let index = o.sections.iter().position(|x| std::ptr::eq(x, s))? as u32;
    let named: Vec<&inputs::Symbol<'_>> = o
        .symbols
        .iter()
        .filter(|x| !x.name.is_empty() && !x.is_section() && x.kind != elf::STT_FILE)
        .filter(|x| matches!(x.def, SymDef::Section { sec, .. } if sec == index))
        .collect();
    // The function, as the rewriter cuts them (`SectionCtx::functions`): the nearest
    // STT_FUNC symbol at or before `offset`, or in a section that types none the nearest
    // global one; a plain label inside a function (`next:` in assembly) is not named
    // (audit finding: errors said "in function next+0x6"). Else, and in data sections,
    // the nearest symbol.
    let typed = named.iter().any(|x| x.kind == elf::STT_FUNC);
    let code = s.class == inputs::Class::Code;
    let nearest = |keep: &dyn Fn(&inputs::Symbol<'_>) -> bool| {
        named
            .iter()
            .filter(|x| keep(x))
            .filter_map(|x| match x.def {
                SymDef::Section { value, .. } if value <= offset => Some((value, x.name)),
                _ => None,
            })
            .max_by_key(|&(value, name)| (value, std::cmp::Reverse(name)))
    };
    // In data (a table's relocation) the nearest symbol is the object it belongs to.
    let best = match (code, typed) {
        (false, _) => None,
        (true, true) => nearest(&|x| x.kind == elf::STT_FUNC),
        (true, false) => nearest(&|x| x.global),
    };
    best.or_else(|| nearest(&|_| true)).map(|(value, name)| (name.to_string(), offset - value))
}

/// The most duplicate definitions one link names.
const MAX_DUPLICATES: usize = 100;

fn add_object<'a>(
    earlier: &[Object<'a>],
    objects: &mut Vec<Object<'a>>,
    table: &mut HashMap<&'a str, Entry>,
    groups: &mut HashSet<&'a str>,
    dups: &mut Vec<LinkError>,
    mut o: Object<'a>,
) -> Result<()> {
    // Its number: `earlier` holds the objects numbered before `objects`' first.
    let base = earlier.len() as u32;
    let oi = base + objects.len() as u32;
    let loaded = |i: u32| if i < base { earlier.get(i as usize) } else { objects.get((i - base) as usize) };
    // COMDAT: the first group with a signature wins; later groups are discarded.
    let comdats = std::mem::take(&mut o.comdats);
    for (sig, secs) in &comdats {
        if !groups.insert(sig) {
            for &s in secs {
                if let Some(sec) = o.sections.get_mut(s as usize) {
                    sec.discarded = true;
                }
            }
        }
    }
    o.comdats = comdats;
    // `.gnu.linkonce.*`, COMDAT before section groups: the first section of a name wins,
    // as with GNU ld (the name is its own signature).
    for sec in o.sections.iter_mut() {
        if sec.name.starts_with(".gnu.linkonce.") && !sec.discarded && !groups.insert(sec.name) {
            sec.discarded = true;
        }
    }
    for (si, s) in o.symbols.iter().enumerate() {
        if !s.global || s.name.is_empty() || s.kind == elf::STT_FILE {
            continue;
        }
        let state = match s.def {
            SymDef::Undefined => State::Undefined { weak: s.weak },
            SymDef::Section { sec, .. } => {
                let discarded = o.sections.get(sec as usize).is_none_or(|x| x.discarded);
                if discarded {
                    State::Undefined { weak: s.weak }
                } else if s.weak {
                    State::Weak
                } else {
                    State::Strong
                }
            }
            SymDef::Absolute(_) => {
                if s.weak {
                    State::Weak
                } else {
                    State::Strong
                }
            }
            SymDef::Common { size, align } => State::Common { size, align, tls: s.kind == elf::STT_TLS },
        };
        let new = Entry { obj: oi, sym: si as u32, state };
        match table.get_mut(s.name) {
            None => {
                table.insert(s.name, new);
            }
            Some(old) => {
                let replace = match (old.state, state) {
                    (State::Undefined { weak: w1 }, State::Undefined { weak: w2 }) => {
                        // A strong reference anywhere makes the symbol required.
                        if w1 && !w2 {
                            old.state = State::Undefined { weak: false };
                        }
                        false
                    }
                    (State::Undefined { .. }, _) => true,
                    (_, State::Undefined { .. }) => false,
                    (State::Strong, State::Strong) => {
                        // Both may be in this object (`foo` and `foo@@V2`, the default
                        // version, which defines `foo` too): it is not loaded yet.
                        let first = if old.obj == oi {
                            definition_site(&o, old.sym)
                        } else {
                            loaded(old.obj).map_or_else(
                                || Location { object: "(unknown)".into(), ..Default::default() },
                                |x| definition_site(x, old.sym),
                            )
                        };
                        let second = definition_site(&o, si as u32);
                        // Every clash is named (up to a hundred); the first definition stays.
                        if dups.len() < MAX_DUPLICATES {
                            dups.push(LinkError::Duplicate { symbol: s.name.to_string(), first, second });
                        }
                        false
                    }
                    (State::Strong, _) => false,
                    (_, State::Strong) => true,
                    (State::Common { size: a, align: aa, tls: ta }, State::Common { size: b, align: ba, tls: tb }) => {
                        if ta != tb {
                            let first = loaded(old.obj).map_or("(unknown)", |x| x.name.as_str());
                            let kind = |t: bool| if t { "a thread-local" } else { "an ordinary" };
                            return Err(LinkError::BadInput {
                                object: o.name.clone(),
                                reason: format!(
                                    "common symbol `{}` is {} common here and {} one in {first}; the declarations \
                                     disagree about _Thread_local",
                                    s.name,
                                    kind(tb),
                                    kind(ta)
                                ),
                            });
                        }
                        old.state = State::Common { size: a.max(b), align: aa.max(ba), tls: ta };
                        false
                    }
                    (State::Weak, State::Common { .. }) => true,
                    (State::Common { .. }, State::Weak) => false,
                    (State::Weak, State::Weak) => false,
                };
                if replace {
                    *old = new;
                }
            }
        }
    }
    objects.push(o);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{Reloc, Section, Symbol};

    fn object(relocs: Vec<Reloc>) -> Object<'static> {
        let sym = |name, kind| Symbol { name, def: SymDef::Undefined, global: true, weak: false, kind, size: 0 };
        Object {
            exec_stack: false,
            writable_code: Vec::new(),
            name: "t.o".into(),
            sections: vec![Section {
                name: ".text",
                class: Class::Code,
                data: &[],
                size: 0,
                align: 16,
                relocs,
                discarded: false,
            }],
            symbols: vec![sym("", 0), sym("x", elf::STT_TLS), sym(TLS_GET_ADDR, 0)],
            comdats: Vec::new(),
        }
    }

    fn reloc(offset: u64, r_type: u32, sym: u32) -> Reloc {
        Reloc { offset, r_type, sym, addend: -4 }
    }

    #[test]
    fn tls_get_addr_called_only_from_tls_sequences() {
        let gd = object(vec![reloc(4, elf::R_X86_64_TLSGD, 1), reloc(12, elf::R_X86_64_PLT32, 2)]);
        let ld = object(vec![reloc(3, elf::R_X86_64_TLSLD, 1), reloc(9, elf::R_X86_64_GOTPCRELX, 2)]);
        assert!(only_tls_sequence_calls(&[gd, ld], TLS_GET_ADDR));
        let alone = object(vec![
            reloc(4, elf::R_X86_64_TLSGD, 1),
            reloc(12, elf::R_X86_64_PLT32, 2),
            reloc(20, elf::R_X86_64_PLT32, 2),
        ]);
        assert!(!only_tls_sequence_calls(&[alone], TLS_GET_ADDR), "a call of its own needs a definition");
        let far = object(vec![reloc(4, elf::R_X86_64_TLSGD, 1), reloc(30, elf::R_X86_64_PLT32, 2)]);
        assert!(!only_tls_sequence_calls(&[far], TLS_GET_ADDR));
    }
}
