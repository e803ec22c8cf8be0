//! Phase 1, inputs: reading ELF64 x86-64 relocatable objects and `ar` archives.
//!
//! Objects are trusted compiler output, but a malformed one is still an error with its
//! name, never a panic. Every object becomes an [`Object`]: its sections (classified by
//! what the layout does with them), its symbol table and its relocations, indexed exactly
//! as in the ELF file so that relocations and symbols can refer to each other by index.
//! Archives are indexed by their symbol table (GNU or BSD; members without a table are
//! scanned) and members are parsed only when resolution pulls them in.

use std::path::Path;

use object::elf;
use object::read::archive::ArchiveFile;
use object::read::elf::{FileHeader, Rela, SectionHeader, Sym};
use object::LittleEndian as LE;
use rayon::prelude::*;

use crate::error::{LinkError, Result};
use zvcore::form;

/// What the layout does with a section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Executable: rewritten and placed in the code segment.
    Code,
    /// Read-only data.
    RoData,
    /// Writable data with file bytes.
    Data,
    /// Writable zero-initialised data (SHT_NOBITS).
    Bss,
    /// TLS initialised data (`.tdata`).
    TData,
    /// TLS zero data (`.tbss`).
    TBss,
    /// `.preinit_array`.
    PreinitArray,
    /// `.init_array`.
    InitArray,
    /// `.fini_array`.
    FiniArray,
    /// A DWARF section (`.debug_*`), kept and relocated.
    Debug,
    /// Not part of the output (`.eh_frame`, notes, groups, `.comment`, symbol tables...).
    Drop,
}

/// One section of an object.
#[derive(Debug)]
pub struct Section<'a> {
    /// The section name.
    pub name: &'a str,
    /// What the layout does with it.
    pub class: Class,
    /// The file bytes (empty for NOBITS).
    pub data: &'a [u8],
    /// Size in memory.
    pub size: u64,
    /// Alignment (at least 1).
    pub align: u64,
    /// The relocations that apply to this section, sorted by offset.
    pub relocs: Vec<Reloc>,
    /// Discarded because its COMDAT group was already taken from an earlier object.
    pub discarded: bool,
}

/// One relocation (RELA) of a section.
#[derive(Clone, Copy, Debug)]
pub struct Reloc {
    /// Offset of the field in the section.
    pub offset: u64,
    /// The ELF relocation type (R_X86_64_*).
    pub r_type: u32,
    /// Index of the symbol in the object's symbol table; 0 means "no symbol" (value 0).
    pub sym: u32,
    /// The addend.
    pub addend: i64,
}

/// Where a symbol is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymDef {
    /// Not defined here.
    Undefined,
    /// In section `sec` at `value`.
    Section {
        /// Section index in the object.
        sec: u32,
        /// Offset in that section.
        value: u64,
    },
    /// An absolute value.
    Absolute(u64),
    /// A common symbol to be allocated in bss.
    Common {
        /// Size.
        size: u64,
        /// Alignment.
        align: u64,
    },
}

/// One symbol of an object.
#[derive(Clone, Debug)]
pub struct Symbol<'a> {
    /// The name (empty for section symbols).
    pub name: &'a str,
    /// Where it is defined.
    pub def: SymDef,
    /// Binding is global or weak (visible to other objects).
    pub global: bool,
    /// Binding is weak.
    pub weak: bool,
    /// ELF symbol type (STT_*).
    pub kind: u8,
    /// st_size.
    pub size: u64,
}

impl Symbol<'_> {
    /// Whether this is a section symbol.
    pub fn is_section(&self) -> bool {
        self.kind == elf::STT_SECTION
    }
}

/// A parsed relocatable object.
#[derive(Debug)]
pub struct Object<'a> {
    /// `path` or `archive.a(member.o)`.
    pub name: String,
    /// Sections by ELF index (index 0 is the null section, class Drop).
    pub sections: Vec<Section<'a>>,
    /// Symbols by ELF index (index 0 is the null symbol).
    pub symbols: Vec<Symbol<'a>>,
    /// COMDAT groups: signature and member section indexes.
    pub comdats: Vec<(&'a str, Vec<u32>)>,
    /// The object's `.note.GNU-stack` is executable: its code expects an executable stack
    /// (gcc's trampolines for nested functions whose address is taken), which the
    /// sandbox never gives (no memory is ever writable and executable).
    pub exec_stack: bool,
    /// Allocated sections that are both writable and executable (`"awx"`): zvld puts them
    /// in the code, which is never writable, so writes to them fault (a warning says so).
    pub writable_code: Vec<String>,
}

fn bad(object: &str, reason: impl Into<String>) -> LinkError {
    LinkError::BadInput { object: object.to_string(), reason: reason.into() }
}

fn classify(name: &str, sh_type: u32, flags: u64) -> Class {
    let alloc = flags & u64::from(elf::SHF_ALLOC) != 0;
    if !alloc {
        return if name.starts_with(".debug_") && sh_type == elf::SHT_PROGBITS { Class::Debug } else { Class::Drop };
    }
    if sh_type == elf::SHT_NOTE || sh_type == elf::SHT_GROUP || name == ".eh_frame" || name.starts_with(".note") {
        return Class::Drop;
    }
    let write = flags & u64::from(elf::SHF_WRITE) != 0;
    let exec = flags & u64::from(elf::SHF_EXECINSTR) != 0;
    let tls = flags & u64::from(elf::SHF_TLS) != 0;
    let nobits = sh_type == elf::SHT_NOBITS;
    match () {
        _ if exec => Class::Code,
        _ if tls && nobits => Class::TBss,
        _ if tls => Class::TData,
        _ if sh_type == elf::SHT_PREINIT_ARRAY || name.starts_with(".preinit_array") => Class::PreinitArray,
        // `.ctors`/`.dtors` (older compilers, `-fno-use-init-array`) join the arrays as
        // GNU ld's default script puts them there (musl runs no `.ctors` of its own);
        // layout::init_priority orders `.ctors.N` among `.init_array.N`.
        _ if sh_type == elf::SHT_INIT_ARRAY || name.starts_with(".init_array") || is_ctors(name, ".ctors") => {
            Class::InitArray
        }
        _ if sh_type == elf::SHT_FINI_ARRAY || name.starts_with(".fini_array") || is_ctors(name, ".dtors") => {
            Class::FiniArray
        }
        _ if nobits => Class::Bss,
        _ if write => Class::Data,
        _ => Class::RoData,
    }
}

/// Whether `name` is `base` (`.ctors`, `.dtors`) or `base.SUFFIX` (a priority).
fn is_ctors(name: &str, base: &str) -> bool {
    name.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Checks the identification bytes before anything else is read, so that an ELF file of
/// the wrong kind is named for what it is (the `object` crate reads the header fields of
/// a big-endian file as little-endian ones and accepts it).
fn check_ident(name: &str, data: &[u8]) -> Result<()> {
    // e_ident: magic, EI_CLASS at 4, EI_DATA at 5, 16 bytes in all.
    if is_llvm_bitcode(data) {
        return Err(bad(
            name,
            "LLVM bitcode (clang -flto or -emit-llvm), not machine code: zvld links ELF64 x86-64 objects; rebuild it \
             without -flto",
        ));
    }
    if looks_like_linker_script(data) {
        return Err(bad(
            name,
            "a GNU ld linker script (GROUP, INPUT, OUTPUT_FORMAT ...), which zvld does not read (a nexe's layout is \
             fixed): name the objects and archives it lists on the command line instead",
        ));
    }
    if data.len() < 16 || data[..4] != elf::ELFMAG {
        return Err(bad(name, "not an ELF64 object or ar archive (zvld links ELF64 x86-64 .o files and .a archives)"));
    }
    match data[4] {
        elf::ELFCLASS64 => {}
        elf::ELFCLASS32 => {
            return Err(bad(name, "an ELF32 object (gcc -m32 or -mx32?); zvld links ELF64 x86-64 objects"))
        }
        c => return Err(bad(name, format!("unknown ELF class {c}; zvld links ELF64 x86-64 objects"))),
    }
    match data[5] {
        elf::ELFDATA2LSB => Ok(()),
        elf::ELFDATA2MSB => Err(bad(name, "a big-endian ELF object; zvld links little-endian x86-64 objects")),
        d => Err(bad(name, format!("unknown ELF data encoding {d}; zvld links little-endian x86-64 objects"))),
    }
}

/// The symbol GCC puts in an object that holds only LTO bytecode.
pub const LTO_SLIM: &str = "__gnu_lto_slim";

/// Parses one relocatable object.
pub fn parse_object<'a>(name: String, data: &'a [u8]) -> Result<Object<'a>> {
    let e = LE;
    check_ident(&name, data)?;
    let hdr = elf::FileHeader64::<LE>::parse(data).map_err(|err| bad(&name, format!("not an ELF64 object: {err}")))?;
    if hdr.e_machine(e) != elf::EM_X86_64 {
        return Err(bad(&name, "not an x86-64 object"));
    }
    if hdr.e_type(e) != elf::ET_REL {
        return Err(bad(&name, "not a relocatable object (ET_REL); zvld links .o files and archives"));
    }
    let sections = hdr.sections(e, data).map_err(|err| bad(&name, format!("bad section table: {err}")))?;
    // Every relocatable object has a section table (its null entry and the section-name
    // table at least): one with none (e_shoff or e_shnum 0) is damaged, not empty, and
    // was linked as an object contributing nothing (audit finding).
    if sections.is_empty() {
        return Err(bad(
            &name,
            format!(
                "no section table (e_shoff {:#x}, e_shnum {}): the object is damaged or truncated",
                hdr.e_shoff(e),
                hdr.e_shnum(e)
            ),
        ));
    }
    let symtab =
        sections.symbols(e, data, elf::SHT_SYMTAB).map_err(|err| bad(&name, format!("bad symbol table: {err}")))?;

    let mut out_secs = Vec::with_capacity(sections.len());
    let mut comdats = Vec::new();
    let mut exec_stack = false;
    let mut writable_code = Vec::new();
    for (i, sh) in sections.iter().enumerate() {
        let sname = sections.section_name(e, sh).unwrap_or(b"");
        let sname = std::str::from_utf8(sname).map_err(|_| bad(&name, format!("section {i} has a non-UTF-8 name")))?;
        let sh_type = sh.sh_type(e);
        let flags = sh.sh_flags(e);
        exec_stack |= sname == ".note.GNU-stack" && flags & u64::from(elf::SHF_EXECINSTR) != 0;
        let class = if i == 0 { Class::Drop } else { classify(sname, sh_type, flags) };
        if class == Class::Code && flags & u64::from(elf::SHF_WRITE) != 0 {
            writable_code.push(sname.to_string());
        }
        if class == Class::Debug && flags & u64::from(elf::SHF_COMPRESSED) != 0 {
            // Read as they are, the compressed bytes would be relocated and rewritten as
            // DWARF (relocations then lie past the compressed size).
            return Err(bad(
                &name,
                format!(
                    "section {sname} is compressed (SHF_COMPRESSED: gcc -gz, or as/ld --compress-debug-sections); \
                     zvld links uncompressed debug information only: rebuild without -gz (zvcc compiles with -gz=none)"
                ),
            ));
        }
        if class == Class::Code && sh_type == elf::SHT_NOBITS && sh.sh_size(e) > 0 {
            // Executable and without contents: there is no code to decode and rewrite
            // (the fuzzer found the empty decode of its size a panic).
            return Err(bad(
                &name,
                format!("section {sname} is executable but has no contents (SHT_NOBITS): there is no code to link"),
            ));
        }
        let bytes = if sh_type == elf::SHT_NOBITS {
            &[][..]
        } else {
            sh.data(e, data).map_err(|err| bad(&name, format!("section {sname}: {err}")))?
        };
        if sh_type == elf::SHT_GROUP {
            let words: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            if words.first().copied().unwrap_or(0) & elf::GRP_COMDAT != 0 {
                let sig = symtab
                    .symbol(object::SymbolIndex(sh.sh_info(e) as usize))
                    .ok()
                    .and_then(|s| symtab.symbol_name(e, s).ok())
                    .and_then(|n| std::str::from_utf8(n).ok())
                    .unwrap_or("");
                comdats.push((sig, words[1..].to_vec()));
            }
        }
        // Bounds every later address computation: no section can be larger than the
        // guest's 2 GiB image or aligned more strictly than it.
        let (size, align) = (sh.sh_size(e), sh.sh_addralign(e).max(1));
        if class != Class::Drop && size > form::CODE_LIMIT {
            return Err(bad(&name, format!("section {sname}: size {size:#x} is larger than a nexe can hold")));
        }
        if align > form::CODE_LIMIT || !align.is_power_of_two() {
            return Err(bad(
                &name,
                format!("section {sname}: alignment {align:#x} is not a power of two a nexe can honour"),
            ));
        }
        out_secs.push(Section { name: sname, class, data: bytes, size, align, relocs: Vec::new(), discarded: false });
    }
    // Relocations, section by section in parallel (debug sections of a large object
    // carry hundreds of thousands).
    let mut tables = Vec::new();
    let mut relocated = vec![false; out_secs.len()];
    for (i, sh) in sections.iter().enumerate() {
        if sh.sh_type(e) == elf::SHT_REL {
            return Err(bad(&name, "SHT_REL relocations (x86-64 objects use RELA)"));
        }
        if let Some((relas, _)) = sh.rela(e, data).map_err(|err| bad(&name, format!("bad relocations: {err}")))? {
            let target = sh.sh_info(e) as usize;
            let rname = out_secs.get(i).map_or("", |s| s.name);
            if target >= out_secs.len() {
                return Err(bad(&name, format!("relocation section {rname} for missing section {target}")));
            }
            // The target must be a section with contents: not the null section, not the
            // relocation section itself, not a symbol, string, group or relocation table
            // (their relocations were dropped without a word: audit finding). GNU ld
            // refuses these objects too.
            let ttype = sections.section(object::SectionIndex(target)).map_or(elf::SHT_NULL, |t| t.sh_type(e));
            if target == 0
                || target == i
                || matches!(
                    ttype,
                    elf::SHT_NULL
                        | elf::SHT_SYMTAB
                        | elf::SHT_STRTAB
                        | elf::SHT_RELA
                        | elf::SHT_REL
                        | elf::SHT_GROUP
                        | elf::SHT_SYMTAB_SHNDX
                        | elf::SHT_DYNSYM
                )
            {
                return Err(bad(
                    &name,
                    format!(
                        "relocation section {rname} applies to section {target} ({}), which holds nothing to relocate",
                        out_secs[target].name
                    ),
                ));
            }
            if std::mem::replace(&mut relocated[target], true) {
                return Err(bad(
                    &name,
                    format!("section {} has more than one relocation section", out_secs[target].name),
                ));
            }
            tables.push((target, relas));
        }
    }
    let parsed: Vec<(usize, Vec<Reloc>)> = tables
        .into_par_iter()
        .map(|(target, relas)| {
            // A large table (a debug section's) is itself parsed in parallel pieces,
            // written in place in order; R_X86_64_NONE entries (rare) are dropped after.
            let mut relocs: Vec<Reloc> = relas
                .par_iter()
                .with_min_len(8192)
                .map(|r| Reloc {
                    offset: r.r_offset(e),
                    r_type: r.r_type(e, false),
                    sym: r.r_sym(e, false),
                    addend: r.r_addend(e),
                })
                .collect();
            if relocs.iter().any(|r| r.r_type == elf::R_X86_64_NONE) {
                relocs.retain(|r| r.r_type != elf::R_X86_64_NONE);
            }
            if !relocs.is_sorted_by_key(|r| r.offset) {
                relocs.sort_by_key(|r| r.offset);
            }
            (target, relocs)
        })
        .collect();
    for (target, relocs) in parsed {
        // A relocation must point into its section (the rewrite maps code fields by
        // instruction, and one past the end of any section would otherwise be dropped or
        // write out of bounds). They are sorted by offset: the first past the end, if
        // any, is found by bisection (debug sections hold hundreds of thousands).
        let sec = &out_secs[target];
        if sec.class != Class::Drop {
            if let Some(r) = relocs.get(relocs.partition_point(|r| r.offset < sec.size)) {
                return Err(bad(
                    &name,
                    format!(
                        "section {}: relocation at offset {:#x} lies past the section's end ({:#x} bytes)",
                        sec.name, r.offset, sec.size
                    ),
                ));
            }
        }
        out_secs[target].relocs = relocs;
    }
    // Symbols.
    let mut syms = Vec::with_capacity(symtab.len());
    for (i, s) in symtab.symbols().iter().enumerate() {
        // A name offset outside the string table is a malformed object (it read as an
        // empty name: audit finding), as GNU ld says ("invalid string offset").
        let sname = symtab
            .symbol_name(e, s)
            .map_err(|err| bad(&name, format!("symbol {i}: its name is outside the string table ({err})")))?;
        let sname = std::str::from_utf8(sname).map_err(|_| bad(&name, format!("symbol {i} has a non-UTF-8 name")))?;
        let shndx = s.st_shndx(e);
        let def = match shndx {
            elf::SHN_UNDEF => SymDef::Undefined,
            elf::SHN_ABS => SymDef::Absolute(s.st_value(e)),
            elf::SHN_COMMON => {
                let (size, align) = (s.st_size(e), s.st_value(e).max(1));
                if size > form::CODE_LIMIT || align > form::CODE_LIMIT || !align.is_power_of_two() {
                    return Err(bad(&name, format!("common symbol {sname}: size {size:#x} or alignment {align:#x} is larger than a nexe can hold")));
                }
                SymDef::Common { size, align }
            }
            elf::SHN_XINDEX => {
                let idx = symtab
                    .shndx(e, object::SymbolIndex(i))
                    .ok_or_else(|| bad(&name, format!("symbol {sname}: missing extended section index")))?;
                SymDef::Section { sec: idx, value: s.st_value(e) }
            }
            n if n >= elf::SHN_LORESERVE => {
                return Err(bad(&name, format!("symbol {sname}: unknown section index {n:#x}")))
            }
            n => SymDef::Section { sec: u32::from(n), value: s.st_value(e) },
        };
        if let SymDef::Section { sec, .. } = def {
            if sec as usize >= out_secs.len() {
                return Err(bad(
                    &name,
                    format!(
                        "symbol {sname}: section index {sec} is past the section table ({} sections)",
                        out_secs.len()
                    ),
                ));
            }
        }
        // An ifunc is called through the address its resolver returns at start-up, which
        // the dynamic loader or glibc's static start code (IRELATIVE relocations) asks for;
        // musl has no such step and neither has a nexe, so linking it as the plain function
        // it looks like would call the resolver instead (audit finding: `f()` returned
        // the implementation's address). Refused where it is defined.
        if s.st_type() == elf::STT_GNU_IFUNC && !matches!(def, SymDef::Undefined) {
            let sec = match def {
                SymDef::Section { sec, .. } => out_secs.get(sec as usize).map_or("?", |x| x.name),
                _ => "(absolute)",
            };
            return Err(bad(
                &name,
                format!(
                    "symbol `{sname}` in section {sec} is an ifunc (STT_GNU_IFUNC, `__attribute__((ifunc))` or \
                     `.type {sname}, @gnu_indirect_function`): a nexe has no start-up step that runs ifunc resolvers \
                     (musl has none either); define `{sname}` as an ordinary function that picks its implementation"
                ),
            ));
        }
        // Symbol versions (`.symver impl, name@@V2`): in a static link the default
        // version `name@@V2` is the definition of `name`, as GNU ld binds it; a
        // non-default `name@V1` keeps its full name and binds only references that name it.
        let sname = match default_version_of(sname) {
            Some(base) if !matches!(def, SymDef::Undefined) => base,
            _ => sname,
        };
        let bind = s.st_bind();
        syms.push(Symbol {
            name: sname,
            def,
            global: bind == elf::STB_GLOBAL || bind == elf::STB_WEAK || bind == elf::STB_GNU_UNIQUE,
            weak: bind == elf::STB_WEAK,
            kind: s.st_type(),
            size: s.st_size(e),
        });
    }
    // GCC marks an object that holds only LTO bytecode (`-flto` without
    // `-ffat-lto-objects`) with this symbol: it has no machine code to link (audit
    // finding: its symbols were reported as undefined, "add the object that defines it").
    if syms.iter().any(|s| s.name == LTO_SLIM) {
        return Err(bad(
            &name,
            "holds only GCC LTO bytecode (compiled with -flto, without -ffat-lto-objects): zvld links machine \
             code; rebuild it without -flto (zvcc compiles with -fno-lto), or with -ffat-lto-objects",
        ));
    }
    if syms.is_empty() {
        syms.push(Symbol { name: "", def: SymDef::Undefined, global: false, weak: false, kind: 0, size: 0 });
    }
    for sec in &out_secs {
        for r in &sec.relocs {
            if r.sym as usize >= syms.len() {
                return Err(bad(
                    &name,
                    format!("relocation in {} refers to symbol {} past the table", sec.name, r.sym),
                ));
            }
        }
    }
    Ok(Object { name, sections: out_secs, symbols: syms, comdats, exec_stack, writable_code })
}

/// The bytes of an archive (mapped: only the symbol table, the member-name table and
/// the members that resolution pulls in are ever touched).
pub type ArchiveData = [u8];

/// An `ar` archive indexed by the symbols its members define.
#[derive(Debug)]
pub struct Archive<'a> {
    /// The archive path.
    pub path: String,
    /// The archive, parsed.
    file: ArchiveFile<'a>,
    /// The archive bytes.
    pub data: &'a ArchiveData,
    /// Symbol name to member offset (first definition wins, as with GNU ld).
    pub index: crate::fxhash::FxHashMap<&'a str, u64>,
}

/// The name a default symbol version defines: `foo` for `foo@@V2`.
fn default_version_of(name: &str) -> Option<&str> {
    // Most names have no `@`: one memchr says so, where a substring search is set up
    // for every name (thousands per archive index).
    if !name.contains('@') {
        return None;
    }
    name.find("@@").filter(|&at| at > 0).map(|at| &name[..at])
}

/// Whether a file reads as a GNU ld linker script given as an input (as glibc's
/// `libc.so` is): text that starts, after blanks and comments, with one of the commands
/// such scripts use.
fn looks_like_linker_script(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(&data[..data.len().min(4096)]) else { return false };
    let mut rest = text.trim_start();
    while let Some(r) = rest.strip_prefix("/*") {
        match r.find("*/") {
            Some(end) => rest = r[end + 2..].trim_start(),
            None => return false,
        }
    }
    ["GROUP", "INPUT", "OUTPUT_FORMAT", "OUTPUT_ARCH", "SEARCH_DIR", "SECTIONS", "ENTRY", "OUTPUT"].iter().any(|k| {
        rest.strip_prefix(k).is_some_and(|r| r.trim_start().starts_with('(') || r.trim_start().starts_with('{'))
    })
}

/// Whether a file is LLVM bitcode (raw, or in its wrapper header), as clang -flto writes
/// objects.
pub fn is_llvm_bitcode(data: &[u8]) -> bool {
    data.starts_with(b"BC\xC0\xDE") || data.starts_with(&[0xDE, 0xC0, 0x17, 0x0B])
}

impl Archive<'_> {
    /// Whether a member is LLVM bitcode (clang -flto): `ar` without LLVM's plugin does not
    /// index its symbols, so a link that needs them stops at undefined symbols, whose
    /// message then names the archive (looked at only then).
    pub fn has_llvm_bitcode(&self) -> bool {
        self.file.members().filter_map(|m| m.ok()).any(|m| m.data(self.data).is_ok_and(is_llvm_bitcode))
    }
}

/// Whether the bytes are an `ar` archive.
pub fn is_archive(data: &[u8]) -> bool {
    data.starts_with(b"!<arch>\n") || data.starts_with(b"!<thin>\n")
}

/// A thin archive (`ar rcsT`, Meson's default for internal libraries) as an ordinary
/// archive: each member's file, named relative to the archive's directory as GNU ld
/// reads them, copied in with its name in a long-name table. No symbol table is written
/// (the members are scanned, as for any archive without one).
pub fn thin_to_regular(path: &Path, data: &[u8]) -> Result<Vec<u8>> {
    let shown = path.display().to_string();
    let ar = ArchiveFile::parse(data).map_err(|err| bad(&shown, format!("bad thin archive: {err}")))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut members: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for m in ar.members() {
        let m = m.map_err(|err| bad(&shown, format!("bad thin archive member: {err}")))?;
        let name = m.name().to_vec();
        let rel = std::str::from_utf8(&name).map_err(|_| {
            bad(&shown, format!("thin archive member name {} is not UTF-8", String::from_utf8_lossy(&name)))
        })?;
        let file = dir.join(rel);
        let bytes = std::fs::read(&file)
            .map_err(|e| bad(&shown, format!("thin archive member {}: cannot read {}: {e}", rel, file.display())))?;
        if is_archive(&bytes) {
            return Err(bad(
                &shown,
                format!("thin archive member {rel} is itself an archive, which zvld does not read"),
            ));
        }
        members.push((name, bytes));
    }
    let mut names = Vec::new();
    let mut offsets = Vec::new();
    for (n, _) in &members {
        offsets.push(names.len());
        names.extend_from_slice(n);
        names.extend_from_slice(b"/\n");
    }
    let header = |out: &mut Vec<u8>, name: &str, size: usize| {
        out.extend_from_slice(format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n", 0, 0, 0, 644).as_bytes());
    };
    let mut out = b"!<arch>\n".to_vec();
    header(&mut out, "//", names.len());
    out.extend_from_slice(&names);
    if names.len() % 2 == 1 {
        out.push(b'\n');
    }
    for ((_, bytes), off) in members.iter().zip(offsets) {
        header(&mut out, &format!("/{off}"), bytes.len());
        out.extend_from_slice(bytes);
        if bytes.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    Ok(out)
}

/// Indexes an archive.
pub fn parse_archive<'a>(path: &str, data: &'a ArchiveData) -> Result<Archive<'a>> {
    let ar = ArchiveFile::parse(data).map_err(|err| bad(path, format!("bad archive: {err}")))?;
    if ar.is_thin() {
        return Err(bad(path, "thin archives are not supported; build it with `ar rcs` (not `ar rcsT`)"));
    }
    let mut index = crate::fxhash::FxHashMap::default();
    match ar.symbols().map_err(|err| bad(path, format!("bad archive symbol table: {err}")))? {
        Some(syms) => {
            for s in syms {
                let s = s.map_err(|err| bad(path, format!("bad archive symbol table: {err}")))?;
                if let Ok(n) = std::str::from_utf8(s.name()) {
                    index.entry(n).or_insert(s.offset().0);
                    // A default symbol version (`foo@@V2`) defines `foo` (parse_object
                    // names it so), and GNU ld finds it by that name in the index too.
                    if let Some(base) = default_version_of(n) {
                        index.entry(base).or_insert(s.offset().0);
                    }
                }
            }
        }
        None => {
            // No symbol table (`ar rc` without `s`): scan every member's defined globals.
            for m in ar.members() {
                let m = m.map_err(|err| bad(path, format!("bad archive member: {err}")))?;
                let mdata = m.data(data).map_err(|err| bad(path, format!("bad archive member: {err}")))?;
                let mname = format!("{path}({})", String::from_utf8_lossy(m.name()));
                let Ok(obj) = parse_object(mname, mdata) else { continue };
                // The member's header offset (what the symbol table would hold): a BSD
                // member's long name (`#1/N`) lies between its header and its data, so
                // the data offset minus the header size is not it.
                let Some(off) =
                    m.header().map(|h| (h as *const _ as usize).wrapping_sub(data.as_ptr() as usize) as u64)
                else {
                    continue;
                };
                for s in &obj.symbols {
                    if s.global && s.def != SymDef::Undefined {
                        index.entry(s.name).or_insert(off);
                    }
                }
            }
        }
    }
    Ok(Archive { path: path.to_string(), file: ar, data, index })
}

/// Reads the member of `ar` whose header is at `offset`: its name for messages
/// (`archive(member)`) and its bytes.
pub fn archive_member_bytes<'a>(ar: &Archive<'a>, offset: u64) -> Result<(String, &'a [u8])> {
    let m = ar
        .file
        .member(object::read::archive::ArchiveOffset(offset))
        .map_err(|err| bad(&ar.path, format!("bad archive member at {offset:#x}: {err}")))?;
    let mdata = m.data(ar.data).map_err(|err| bad(&ar.path, format!("bad archive member: {err}")))?;
    Ok((format!("{}({})", ar.path, String::from_utf8_lossy(m.name())), mdata))
}

/// Parses the member of `ar` whose header is at `offset`.
pub fn archive_member<'a>(ar: &Archive<'a>, offset: u64) -> Result<Object<'a>> {
    let (name, data) = archive_member_bytes(ar, offset)?;
    parse_object(name, data)
}

/// Indexes an archive (the name under which resolution calls [`parse_archive`]).
pub fn archive_path_index<'a>(path: &str, data: &'a ArchiveData) -> Result<Archive<'a>> {
    parse_archive(path, data)
}
