//! A bounds-checked reader for nexe files (RUNTIME.md section 1), written for hostile
//! input: every read goes through checked helpers, every size and offset is checked
//! against the file before use, and nothing here can panic or allocate more than a small
//! multiple of the input. The object crate trusts its input, so it is deliberately not
//! used on this path.
//!
//! [`Nexe::parse`] rejects files that are not well-formed ELF nexes with a [`NexeError`]
//! (rule `ELF`), and records layout problems that FORM.md names (C1, C10) as
//! [`LayoutViolation`]s so the verifier can report them together with the code's
//! violations.

use crate::form::{self, Rule};

/// Most bytes of headers and segments read to check one nexe (whose headers place more
/// in the file fail): the readers that load only [`parsed_prefix`] (zvverify, zvpack's
/// image check) stop there.
pub const MAX_LOADED: u64 = 1 << 30;
/// Largest nexe those readers read whole when its headers point outside it (the parser
/// then names the problem).
pub const MAX_READ_WHOLE: u64 = 256 << 20;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const PT_TLS: u32 = 7;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const SHDR_SIZE: usize = 64;
const SYM_SIZE: usize = 24;
/// A nexe may have at most this many program headers; more is treated as hostile.
pub const MAX_PHNUM: usize = 64;
/// A nexe may have at most this many section headers.
pub const MAX_SHNUM: usize = 65_280;

/// Why a file is not a well-formed nexe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NexeError {
    /// File offset the problem was found at, when there is one.
    pub offset: Option<u64>,
    /// What is wrong, in one line.
    pub message: String,
}

impl NexeError {
    fn at(offset: u64, message: impl Into<String>) -> Self {
        NexeError { offset: Some(offset), message: message.into() }
    }
    fn new(message: impl Into<String>) -> Self {
        NexeError { offset: None, message: message.into() }
    }
    /// The rule id reported for this error (always `ELF`).
    pub fn rule(&self) -> Rule {
        Rule::Elf
    }
}

impl std::fmt::Display for NexeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(f, "not a valid nexe: {} (at file offset {:#x})", self.message, o),
            None => write!(f, "not a valid nexe: {}", self.message),
        }
    }
}

impl std::error::Error for NexeError {}

/// A layout rule broken by the program headers (C1 or C10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutViolation {
    /// C1 or C10.
    pub rule: Rule,
    /// The guest address concerned (segment start or entry point).
    pub addr: u64,
    /// One-line reason.
    pub message: String,
}

/// Permissions of a PT_LOAD segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentFlags(u32);

impl SegmentFlags {
    /// Readable.
    pub fn r(self) -> bool {
        self.0 & PF_R != 0
    }
    /// Writable.
    pub fn w(self) -> bool {
        self.0 & PF_W != 0
    }
    /// Executable.
    pub fn x(self) -> bool {
        self.0 & PF_X != 0
    }
}

impl std::fmt::Display for SegmentFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = |b: bool, ch: char| if b { ch } else { '-' };
        write!(f, "{}{}{}", c(self.r(), 'R'), c(self.w(), 'W'), c(self.x(), 'X'))
    }
}

/// A PT_LOAD (or PT_TLS) segment whose file bytes are known to lie inside the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Guest address of the first byte.
    pub vaddr: u64,
    /// Size in memory.
    pub memsz: u64,
    /// Size in the file (never more than `memsz` for a valid nexe).
    pub filesz: u64,
    /// File offset of the first byte.
    pub offset: u64,
    /// Permissions.
    pub flags: SegmentFlags,
}

impl Segment {
    /// One past the last guest address (checked at parse time not to overflow).
    pub fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

/// A symbol from the (untrusted, optional) symbol table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Symbol name.
    pub name: String,
    /// Address.
    pub addr: u64,
    /// Size in bytes (0 when unknown).
    pub size: u64,
    /// Whether the symbol is a function.
    pub is_func: bool,
}

/// A section header whose data lies inside the file (SHT_NOBITS sections have no data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Name from the section-name string table ("" when unreadable).
    pub name: String,
    /// sh_type.
    pub kind: u32,
    /// sh_addr.
    pub addr: u64,
    /// File offset.
    pub offset: u64,
    /// Size of the data in the file.
    pub size: u64,
    /// sh_link.
    pub link: u32,
}

/// A parsed nexe borrowing the file's bytes.
#[derive(Clone, Debug)]
pub struct Nexe<'a> {
    data: &'a [u8],
    /// Entry point.
    pub entry: u64,
    /// The PT_LOAD segments in file order.
    pub segments: Vec<Segment>,
    /// Index in `segments` of the code segment (the first executable one), if any.
    pub code_index: Option<usize>,
    /// The PT_TLS segment, if any.
    pub tls: Option<Segment>,
    /// The form version from the `ZV` note.
    pub form_version: u32,
    /// Program-header table offset, count (for the runtime's AT_PHDR copy).
    pub phdrs: (u64, u16),
    /// Layout rules broken by the program headers.
    pub layout_violations: Vec<LayoutViolation>,
    shoff: u64,
    shnum: u16,
    shstrndx: u16,
}

fn rd<const N: usize>(data: &[u8], off: u64) -> Option<[u8; N]> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(N)?;
    data.get(start..end)?.try_into().ok()
}
fn u16_at(data: &[u8], off: u64) -> Option<u16> {
    rd::<2>(data, off).map(u16::from_le_bytes)
}
fn u32_at(data: &[u8], off: u64) -> Option<u32> {
    rd::<4>(data, off).map(u32::from_le_bytes)
}
fn u64_at(data: &[u8], off: u64) -> Option<u64> {
    rd::<8>(data, off).map(u64::from_le_bytes)
}
/// The bytes [off, off+len) of `data`, or None when any part lies outside.
pub fn slice_at(data: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    data.get(start..start.checked_add(len)?)
}
fn cstr_at(data: &[u8], off: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let rest = data.get(start..)?;
    let n = rest.iter().take(4096).position(|&b| b == 0)?;
    rest.get(..n)
}

/// Whether `data` starts with the ELF magic (used to skip non-ELF files in trees).
pub fn looks_like_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// How many leading bytes of a file of `len` bytes [`Nexe::parse`] reads, from its first
/// bytes `head` (at least `min(len, 64)` of them; a page is typical): `Ok(Some(n))` when
/// everything the parser reads (the ELF header, the program-header table, the bytes of
/// PT_LOAD, PT_TLS and PT_NOTE segments up to the first PT_INTERP or PT_DYNAMIC, which it
/// refuses) lies in `[0, n)`, so that parsing those `n` bytes decides as parsing the
/// whole file; `Ok(None)` when the table or a segment lies outside the file (parsing
/// fails, with a message that names the file's size, so the caller reads it whole).
/// `read_table(offset, len)` reads the program-header table when it lies past `head`.
/// zvrun and zvverify read nexes through this, so neither reads debug sections or
/// garbage it does not need.
pub fn parsed_prefix<E>(
    head: &[u8],
    len: u64,
    read_table: impl FnOnce(u64, u64) -> Result<Vec<u8>, E>,
) -> Result<Option<u64>, E> {
    const EHDR: u64 = EHDR_SIZE as u64;
    const PHDR: u64 = PHDR_SIZE as u64;
    if head.len() as u64 >= len {
        return Ok(Some(len));
    }
    if (head.len() as u64) < EHDR || !looks_like_elf(head) {
        return Ok(Some(EHDR.min(len)));
    }
    let field16 = |o: u64| u16_at(head, o).unwrap_or(0);
    let (e_type, machine) = (field16(16), field16(18));
    let (phentsize, phnum, shentsize, shnum) = (field16(54), field16(56), field16(58), field16(60));
    // Checks the parser makes on the ELF header alone, before any size check: when one
    // fails, it stops there on any prefix of at least the header.
    let header_fails = head[4] != 2
        || head[5] != 1
        || head[6] != 1
        || e_type != 2
        || machine != 62
        || phnum == 0
        || usize::from(phentsize) != PHDR_SIZE
        || usize::from(phnum) > MAX_PHNUM
        || (shnum != 0 && usize::from(shentsize) != SHDR_SIZE);
    if header_fails {
        return Ok(Some(EHDR));
    }
    let phoff = u64_at(head, 32).unwrap_or(u64::MAX);
    let table_len = u64::from(phnum) * PHDR;
    let Some(table_end) = phoff.checked_add(table_len).filter(|&e| e <= len) else {
        return Ok(None);
    };
    let far;
    let table: &[u8] = if table_end <= head.len() as u64 {
        &head[phoff as usize..table_end as usize]
    } else {
        far = read_table(phoff, table_len)?;
        &far
    };
    let mut end = table_end.max(EHDR);
    for ph in table.chunks_exact(PHDR_SIZE) {
        match u32_at(ph, 0).unwrap_or(0) {
            // PT_DYNAMIC, PT_INTERP: the parser refuses the file here.
            2 | 3 => return Ok(Some(end)),
            // PT_LOAD, PT_NOTE, PT_TLS: their bytes must lie in the file.
            1 | 4 | 7 => {
                let (offset, filesz) = (u64_at(ph, 8).unwrap_or(u64::MAX), u64_at(ph, 32).unwrap_or(u64::MAX));
                match offset.checked_add(filesz).filter(|&e| e <= len) {
                    Some(e) => end = end.max(e),
                    None => return Ok(None),
                }
            }
            _ => {}
        }
    }
    Ok(Some(end))
}

/// Where a loader can read a nexe's first bytes so that every PT_LOAD segment's file
/// bytes land at the segment's own address: `Some((bias, load_end))` when the
/// program-header table lies in `head` and every PT_LOAD has the same page-aligned
/// `p_vaddr - p_offset` (`bias`; the layout linkers produce, zvld's among them), with
/// `load_end` the highest `p_vaddr + p_memsz`. `None` otherwise (no PT_LOAD, segments
/// that disagree, fields that overflow). A placement hint only: it decides nothing about
/// the file, which [`Nexe::parse`] still checks in full.
pub fn congruent_load_bias(head: &[u8]) -> Option<(u64, u64)> {
    const PT_LOAD: u32 = 1;
    let (phoff, phnum) = (u64_at(head, 32)?, u64::from(u16_at(head, 56)?));
    if !looks_like_elf(head) || usize::from(u16_at(head, 54)?) != PHDR_SIZE {
        return None;
    }
    let end = phoff.checked_add(phnum.checked_mul(PHDR_SIZE as u64)?)?;
    let table = head.get(usize::try_from(phoff).ok()?..usize::try_from(end).ok()?)?;
    let mut found: Option<(u64, u64)> = None;
    for ph in table.chunks_exact(PHDR_SIZE) {
        if u32_at(ph, 0)? != PT_LOAD {
            continue;
        }
        let (offset, vaddr, memsz) = (u64_at(ph, 8)?, u64_at(ph, 16)?, u64_at(ph, 40)?);
        if memsz == 0 {
            continue; // the parser ignores empty PT_LOADs: they load nothing
        }
        let bias = vaddr.checked_sub(offset).filter(|b| b % crate::form::PAGE == 0)?;
        let seg_end = vaddr.checked_add(memsz)?;
        found = match found {
            None => Some((bias, seg_end)),
            Some((b, e)) if b == bias => Some((b, e.max(seg_end))),
            Some(_) => return None,
        };
    }
    found
}

impl<'a> Nexe<'a> {
    /// Parses and structurally checks a nexe. Never panics.
    pub fn parse(data: &'a [u8]) -> Result<Nexe<'a>, NexeError> {
        if data.len() < 4 || !looks_like_elf(data) {
            return Err(NexeError::at(0, "missing ELF magic \\x7fELF"));
        }
        if data.len() < EHDR_SIZE {
            return Err(NexeError::at(
                data.len() as u64,
                format!("truncated ELF header: {} of {} bytes", data.len(), EHDR_SIZE),
            ));
        }
        let ident = &data[..16];
        if ident[4] != 2 {
            return Err(NexeError::at(4, "not ELFCLASS64"));
        }
        if ident[5] != 1 {
            return Err(NexeError::at(5, "not little-endian"));
        }
        if ident[6] != 1 {
            return Err(NexeError::at(6, "unknown ELF version"));
        }
        let e = |off: u64, what: &str| NexeError::at(off, format!("cannot read {what}"));
        let e_type = u16_at(data, 16).ok_or_else(|| e(16, "e_type"))?;
        if e_type != 2 {
            return Err(NexeError::at(16, format!("e_type is {e_type}, not ET_EXEC (2)")));
        }
        let machine = u16_at(data, 18).ok_or_else(|| e(18, "e_machine"))?;
        if machine != 62 {
            return Err(NexeError::at(18, format!("e_machine is {machine}, not x86-64 (62)")));
        }
        let entry = u64_at(data, 24).ok_or_else(|| e(24, "e_entry"))?;
        let phoff = u64_at(data, 32).ok_or_else(|| e(32, "e_phoff"))?;
        let shoff = u64_at(data, 40).ok_or_else(|| e(40, "e_shoff"))?;
        let phentsize = u16_at(data, 54).ok_or_else(|| e(54, "e_phentsize"))?;
        let phnum = u16_at(data, 56).ok_or_else(|| e(56, "e_phnum"))?;
        let shentsize = u16_at(data, 58).ok_or_else(|| e(58, "e_shentsize"))?;
        let shnum = u16_at(data, 60).ok_or_else(|| e(60, "e_shnum"))?;
        let shstrndx = u16_at(data, 62).ok_or_else(|| e(62, "e_shstrndx"))?;
        if phnum == 0 {
            return Err(NexeError::at(56, "no program headers"));
        }
        if usize::from(phentsize) != PHDR_SIZE {
            return Err(NexeError::at(54, format!("e_phentsize is {phentsize}, not {PHDR_SIZE}")));
        }
        if usize::from(phnum) > MAX_PHNUM {
            return Err(NexeError::at(56, format!("{phnum} program headers (limit {MAX_PHNUM})")));
        }
        if shnum != 0 && usize::from(shentsize) != SHDR_SIZE {
            return Err(NexeError::at(58, format!("e_shentsize is {shentsize}, not {SHDR_SIZE}")));
        }
        let table_len = u64::from(phnum) * PHDR_SIZE as u64;
        if slice_at(data, phoff, table_len).is_none() {
            return Err(NexeError::at(
                phoff,
                format!("program header table ({phnum} entries) runs past the end of the file"),
            ));
        }

        let mut segments = Vec::new();
        let mut tls = None;
        // Layout violations found while the headers are read (empty or TLS segments).
        let mut early: Vec<LayoutViolation> = Vec::new();
        let mut form_version = None;
        for i in 0..u64::from(phnum) {
            let ph = phoff + i * PHDR_SIZE as u64;
            // The whole table was bounds-checked above; these cannot fail, but stay checked.
            let p_type = u32_at(data, ph).ok_or_else(|| e(ph, "p_type"))?;
            let flags = u32_at(data, ph + 4).ok_or_else(|| e(ph + 4, "p_flags"))?;
            let offset = u64_at(data, ph + 8).ok_or_else(|| e(ph + 8, "p_offset"))?;
            let vaddr = u64_at(data, ph + 16).ok_or_else(|| e(ph + 16, "p_vaddr"))?;
            let filesz = u64_at(data, ph + 32).ok_or_else(|| e(ph + 32, "p_filesz"))?;
            let memsz = u64_at(data, ph + 40).ok_or_else(|| e(ph + 40, "p_memsz"))?;
            let seg = Segment { vaddr, memsz, filesz, offset, flags: SegmentFlags(flags) };
            match p_type {
                PT_INTERP => return Err(NexeError::at(ph, "has PT_INTERP (a nexe is static)")),
                PT_DYNAMIC => return Err(NexeError::at(ph, "has PT_DYNAMIC (a nexe is static)")),
                PT_LOAD | PT_TLS | PT_NOTE => {
                    if slice_at(data, offset, filesz).is_none() {
                        return Err(NexeError::at(
                            ph,
                            format!(
                                "segment {i} file bytes [{offset:#x}, +{filesz:#x}) lie outside the {}-byte file",
                                data.len()
                            ),
                        ));
                    }
                    if filesz > memsz && p_type != PT_NOTE {
                        return Err(NexeError::at(ph, format!("segment {i} has p_filesz > p_memsz")));
                    }
                    if vaddr.checked_add(memsz).is_none() {
                        return Err(NexeError::at(ph, format!("segment {i} wraps the address space")));
                    }
                    match p_type {
                        // An empty PT_LOAD maps nothing (GNU ld emits one for an empty
                        // data segment); it takes no part in the layout rules, except
                        // that it may not ask for execution (C10: nothing but the
                        // verified code is executable, and FORM.md refuses any W+X or
                        // second executable segment, empty or not).
                        PT_LOAD if memsz == 0 => {
                            if seg.flags.x() {
                                early.push(LayoutViolation {
                                    rule: Rule::C10,
                                    addr: vaddr,
                                    message: format!(
                                        "program header {i} is an empty PT_LOAD at {vaddr:#x} with permissions {}: \
                                         only the code segment may be executable",
                                        seg.flags
                                    ),
                                });
                            }
                        }
                        PT_LOAD => segments.push(seg),
                        PT_TLS => {
                            // The TLS template is data, never code (C10).
                            if seg.flags.x() {
                                early.push(LayoutViolation {
                                    rule: Rule::C10,
                                    addr: vaddr,
                                    message: format!(
                                        "the PT_TLS segment at {vaddr:#x} has permissions {}: a TLS template is \
                                         data and may not be executable",
                                        seg.flags
                                    ),
                                });
                            }
                            if tls.replace(seg).is_some() {
                                return Err(NexeError::at(ph, "more than one PT_TLS"));
                            }
                        }
                        _ => {
                            for v in form_notes(slice_at(data, offset, filesz).unwrap_or(&[])) {
                                match form_version {
                                    Some(seen) if seen != v => {
                                        return Err(NexeError::at(
                                            ph,
                                            format!("conflicting ZV form-version notes ({seen} and {v})"),
                                        ))
                                    }
                                    _ => form_version = Some(v),
                                }
                            }
                        }
                    }
                }
                _ => {} // PT_PHDR, PT_GNU_STACK and others carry nothing the runtime maps.
            }
        }
        let form_version = form_version.ok_or_else(|| NexeError::new("no PT_NOTE with the ZV form-version note"))?;
        if form_version != form::FORM_VERSION {
            return Err(NexeError::new(format!(
                "unknown form version {form_version} (this verifier knows version {})",
                form::FORM_VERSION
            )));
        }
        // No PT_LOAD at all is a layout violation (C1: no code segment), like any other
        // missing or misplaced code segment, not a malformed file.
        let mut nexe = Nexe {
            data,
            entry,
            segments,
            code_index: None,
            tls,
            form_version,
            phdrs: (phoff, phnum),
            layout_violations: Vec::new(),
            shoff,
            shnum,
            shstrndx,
        };
        nexe.check_layout();
        nexe.layout_violations.extend(early);
        Ok(nexe)
    }

    fn check_layout(&mut self) {
        let mut v = Vec::new();
        let mut code_index = None;
        let mut prev_end: Option<u64> = None;
        for (i, s) in self.segments.iter().enumerate() {
            if s.flags.w() && s.flags.x() {
                v.push(LayoutViolation {
                    rule: Rule::C10,
                    addr: s.vaddr,
                    message: format!("segment {i} at {:#x} is writable and executable", s.vaddr),
                });
            }
            if s.flags.x() {
                if code_index.is_some() {
                    // Both rules are broken: the code is not "the one executable segment"
                    // (C1), and memory outside the verified code would be executable (C10).
                    v.push(LayoutViolation {
                        rule: Rule::C1,
                        addr: s.vaddr,
                        message: format!("segment {i} at {:#x} is a second executable segment", s.vaddr),
                    });
                    v.push(LayoutViolation {
                        rule: Rule::C10,
                        addr: s.vaddr,
                        message: format!(
                            "segment {i} at {:#x} would be executable without being the verified code segment",
                            s.vaddr
                        ),
                    });
                } else {
                    code_index = Some(i);
                    if i != 0 {
                        v.push(LayoutViolation {
                            rule: Rule::C1,
                            addr: s.vaddr,
                            message: "the code segment is not the first PT_LOAD segment".into(),
                        });
                    }
                    if s.vaddr != form::CODE_START {
                        v.push(LayoutViolation {
                            rule: Rule::C1,
                            addr: s.vaddr,
                            message: format!(
                                "code segment starts at {:#x}, not at CODE_START {:#x}",
                                s.vaddr,
                                form::CODE_START
                            ),
                        });
                    }
                    if s.filesz != s.memsz {
                        v.push(LayoutViolation {
                            rule: Rule::C1,
                            addr: s.vaddr,
                            message: "code segment has bytes that are not in the file (p_filesz != p_memsz)".into(),
                        });
                    }
                    if s.memsz == 0 || s.memsz % form::BUNDLE != 0 {
                        v.push(LayoutViolation {
                            rule: Rule::C1,
                            addr: s.vaddr,
                            message: format!("code size {:#x} is not a positive multiple of 32", s.memsz),
                        });
                    }
                }
            }
            if !s.flags.r() {
                v.push(LayoutViolation {
                    rule: Rule::C1,
                    addr: s.vaddr,
                    message: format!(
                        "segment {i} at {:#x} has permissions {}; segments are R+X (code), R or R+W",
                        s.vaddr, s.flags
                    ),
                });
            }
            if !s.vaddr.is_multiple_of(form::PAGE) {
                v.push(LayoutViolation {
                    rule: Rule::C1,
                    addr: s.vaddr,
                    message: format!("segment {i} at {:#x} is not 4 KiB-aligned", s.vaddr),
                });
            }
            if s.vaddr < form::CODE_START || s.end() > form::CODE_LIMIT {
                v.push(LayoutViolation {
                    rule: Rule::C1,
                    addr: s.vaddr,
                    message: format!(
                        "segment {i} [{:#x}, {:#x}) lies outside [CODE_START, CODE_LIMIT) = [{:#x}, {:#x})",
                        s.vaddr,
                        s.end(),
                        form::CODE_START,
                        form::CODE_LIMIT
                    ),
                });
            }
            if let Some(pe) = prev_end {
                if s.vaddr < pe {
                    v.push(LayoutViolation {
                        rule: Rule::C1,
                        addr: s.vaddr,
                        message: format!(
                            "segment {i} at {:#x} overlaps or precedes the page of the segment before it (ends {:#x}); \
                             PT_LOAD segments must come in ascending address order (as ELF requires), each starting on a page after the end of the one before it",
                            s.vaddr, pe
                        ),
                    });
                }
            }
            prev_end = Some(s.end().saturating_add(form::PAGE - 1) & !(form::PAGE - 1));
        }
        match code_index {
            None => v.push(LayoutViolation {
                rule: Rule::C1,
                addr: self.segments.first().map_or(0, |s| s.vaddr),
                message: if self.segments.is_empty() {
                    "no code segment: the file has no PT_LOAD segment with contents".into()
                } else {
                    "no executable segment".into()
                },
            }),
            Some(ci) => {
                let c = self.segments[ci];
                if self.entry < c.vaddr || self.entry >= c.end() || !self.entry.is_multiple_of(form::BUNDLE) {
                    v.push(LayoutViolation {
                        rule: Rule::C1,
                        addr: self.entry,
                        message: format!("entry point {:#x} is not a bundle start in the code segment", self.entry),
                    });
                }
            }
        }
        self.code_index = code_index;
        self.layout_violations = v;
    }

    /// The whole file.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The bytes the guest's data and bss take: every segment but the executable one,
    /// each rounded up to whole pages. With the stack this is the least memory a session
    /// needs (zvrun lays the session out from it; zvpack refuses an image below it).
    pub fn data_bytes(&self) -> u64 {
        self.segments.iter().filter(|s| !s.flags.x()).map(|s| s.memsz.div_ceil(form::PAGE) * form::PAGE).sum()
    }

    /// The code segment, if there is one.
    pub fn code_segment(&self) -> Option<Segment> {
        self.code_index.and_then(|i| self.segments.get(i).copied())
    }

    /// The file bytes of a segment (checked at parse time to lie inside the file).
    pub fn segment_bytes(&self, s: &Segment) -> &'a [u8] {
        slice_at(self.data, s.offset, s.filesz).unwrap_or(&[])
    }

    /// The raw program-header table.
    pub fn phdr_bytes(&self) -> &'a [u8] {
        slice_at(self.data, self.phdrs.0, u64::from(self.phdrs.1) * PHDR_SIZE as u64).unwrap_or(&[])
    }

    /// The section headers that can be read; malformed ones are skipped (sections are
    /// optional and never trusted).
    pub fn sections(&self) -> Vec<Section> {
        let n = usize::from(self.shnum).min(MAX_SHNUM);
        if n == 0 || slice_at(self.data, self.shoff, (n * SHDR_SIZE) as u64).is_none() {
            return Vec::new();
        }
        let hdr = |i: usize| self.shoff + (i * SHDR_SIZE) as u64;
        let strtab = {
            let h = hdr(usize::from(self.shstrndx));
            match (u64_at(self.data, h + 24), u64_at(self.data, h + 32)) {
                (Some(o), Some(s)) if usize::from(self.shstrndx) < n => slice_at(self.data, o, s),
                _ => None,
            }
        };
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let h = hdr(i);
            let (Some(name), Some(kind), Some(addr), Some(offset), Some(size), Some(link)) = (
                u32_at(self.data, h),
                u32_at(self.data, h + 4),
                u64_at(self.data, h + 16),
                u64_at(self.data, h + 24),
                u64_at(self.data, h + 32),
                u32_at(self.data, h + 40),
            ) else {
                continue;
            };
            let size = if kind == 8 || slice_at(self.data, offset, size).is_none() { 0 } else { size };
            let name = strtab
                .and_then(|t| cstr_at(t, u64::from(name)))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            out.push(Section { name, kind, addr, offset, size, link });
        }
        out
    }

    /// The data of the first section with this name.
    pub fn section_data(&self, name: &str) -> Option<&'a [u8]> {
        let s = self.sections().into_iter().find(|s| s.name == name)?;
        slice_at(self.data, s.offset, s.size)
    }

    /// Symbols from SHT_SYMTAB that have an address, sorted by address. Malformed
    /// entries are skipped.
    pub fn symbols(&self) -> Vec<Symbol> {
        let sections = self.sections();
        let mut out = Vec::new();
        for s in sections.iter().filter(|s| s.kind == SHT_SYMTAB) {
            let Some(strs) = sections.get(s.link as usize).and_then(|t| slice_at(self.data, t.offset, t.size)) else {
                continue;
            };
            let Some(table) = slice_at(self.data, s.offset, s.size) else {
                continue;
            };
            for ent in table.chunks_exact(SYM_SIZE) {
                let name = u32::from_le_bytes([ent[0], ent[1], ent[2], ent[3]]);
                let info = ent[4];
                let shndx = u16::from_le_bytes([ent[6], ent[7]]);
                let value = u64::from_le_bytes(ent[8..16].try_into().unwrap_or([0; 8]));
                let size = u64::from_le_bytes(ent[16..24].try_into().unwrap_or([0; 8]));
                let kind = info & 0xF;
                if shndx == 0 || !(kind == STT_FUNC || kind == 0 || kind == 1) {
                    continue;
                }
                let Some(n) = cstr_at(strs, u64::from(name)) else {
                    continue;
                };
                if n.is_empty() {
                    continue;
                }
                out.push(Symbol {
                    name: String::from_utf8_lossy(n).into_owned(),
                    addr: value,
                    size,
                    is_func: kind == STT_FUNC,
                });
            }
        }
        out.sort_by(|a, b| a.addr.cmp(&b.addr).then(b.is_func.cmp(&a.is_func)));
        out
    }
}

/// The versions in the `ZV` type-1 notes of a PT_NOTE segment, in order (a malformed
/// note ends the walk).
fn form_notes(notes: &[u8]) -> Vec<u32> {
    let mut found = Vec::new();
    let mut off = 0u64;
    let len = notes.len() as u64;
    let next_note = |off: u64| -> Option<(u64, Option<u32>)> {
        let namesz = u64::from(u32_at(notes, off)?);
        let descsz = u64::from(u32_at(notes, off + 4)?);
        let kind = u32_at(notes, off + 8)?;
        let name_off = off + 12;
        let desc_off = name_off.checked_add(namesz.checked_add(3)? & !3)?;
        let next = desc_off.checked_add(descsz.checked_add(3)? & !3)?;
        let name = slice_at(notes, name_off, namesz)?;
        let desc = slice_at(notes, desc_off, descsz)?;
        let name = name.strip_suffix(&[0]).unwrap_or(name);
        let ours = name == form::NOTE_NAME && kind == form::NOTE_TYPE_FORM && descsz == 4;
        Some((next, if ours { u32_at(desc, 0) } else { None }))
    };
    while off + 12 <= len {
        let Some((next, version)) = next_note(off) else { break };
        found.extend(version);
        off = next;
    }
    found
}

/// Symbolizes an address as `function+0xoff` with a sorted symbol list.
pub fn symbolize(symbols: &[Symbol], addr: u64) -> Option<String> {
    let idx = symbols.partition_point(|s| s.addr <= addr);
    let cands = symbols.get(..idx)?;
    // The function whose extent covers the address; else, as objdump and addr2line name
    // it, the nearest function before it (padding after a function, or code after a
    // symbol of unknown size). A sizeless symbol further back does not cover everything
    // after it (audit finding: padding after `main` was named `_start+0x251`).
    let s = cands
        .iter()
        .rev()
        .find(|s| s.is_func && s.size > 0 && addr < s.addr.saturating_add(s.size))
        .or_else(|| cands.iter().rev().find(|s| s.is_func))?;
    let off = addr - s.addr;
    Some(if off == 0 { s.name.clone() } else { format!("{}+{:#x}", s.name, off) })
}

#[cfg(test)]
mod tests {
    use super::{symbolize, Symbol};

    fn sym(name: &str, addr: u64, size: u64) -> Symbol {
        Symbol { name: name.into(), addr, size, is_func: true }
    }

    /// The covering function, else the nearest one before: padding after `main` is
    /// `main+...`, not a sizeless `_start`'s (audit finding: `_start+0x251`).
    #[test]
    fn an_address_is_named_after_the_function_that_covers_it_or_precedes_it() {
        let syms = [sym("_start", 0x20000, 0), sym("classify", 0x20040, 0x50), sym("main", 0x20120, 0x171)];
        assert_eq!(symbolize(&syms, 0x20004).as_deref(), Some("_start+0x4"));
        assert_eq!(symbolize(&syms, 0x20050).as_deref(), Some("classify+0x10"));
        assert_eq!(symbolize(&syms, 0x2009d).as_deref(), Some("classify+0x5d"));
        assert_eq!(symbolize(&syms, 0x20120).as_deref(), Some("main"));
        assert_eq!(symbolize(&syms, 0x20291).as_deref(), Some("main+0x171"));
        assert_eq!(symbolize(&syms, 0x1ffff), None);
    }
}
