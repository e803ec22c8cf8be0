//! Phase 6, write: assembles the nexe file (RUNTIME.md section 1): ELF header, program
//! headers (one PT_LOAD per non-empty segment, PT_TLS, the PT_NOTE with the `ZV` form
//! note, PT_GNU_STACK), the segment bytes at file offsets congruent to their addresses,
//! and section headers, a symbol table and the DWARF sections for debuggers and
//! `addr2line`. The bytes are returned, not written: the linker verifies them first.
//!
//! When the program references `__ehdr_start`, the headers are loaded as GNU ld loads
//! them: the read-only segment is mapped from file offset 0, where the ELF header and
//! the program headers open it (the layout left room for them), and its other bytes
//! follow in the file; the code segment then comes after it in the file (still first
//! among the program headers and in memory, as FORM.md's C1 requires).

use std::borrow::Cow;

use zvcore::form;

/// A symbol of the output.
#[derive(Clone, Debug)]
pub struct OutSymbol {
    /// Name.
    pub name: String,
    /// Address.
    pub value: u64,
    /// Size.
    pub size: u64,
    /// Global (else local).
    pub global: bool,
    /// STT_* type.
    pub kind: u8,
    /// Which output section: 1 code, 2 rodata, 3 data, 4 bss, 0 absolute.
    pub section: u16,
}

/// What the writer needs.
pub struct Image<'x> {
    /// Entry point.
    pub entry: u64,
    /// Code segment bytes (starting at CODE_START).
    pub code: &'x [u8],
    /// Read-only data: address and bytes.
    pub rodata: (u64, &'x [u8]),
    /// Data: address, file bytes, memory size.
    pub data: (u64, &'x [u8], u64),
    /// PT_TLS: address, file size, memory size, alignment.
    pub tls: Option<(u64, u64, u64, u64)>,
    /// Symbols.
    pub symbols: Vec<OutSymbol>,
    /// Non-alloc sections (DWARF).
    pub extra: Vec<(String, Vec<u8>)>,
    /// The read-only segment opens with [`HEADERS_ROOM`] bytes (left zero by the caller)
    /// for the ELF header and program headers, which are written there; the segment is
    /// then mapped from file offset 0, so the guest reads the file's own headers at its
    /// address (`__ehdr_start`).
    pub headers: bool,
    /// Write `.symtab` and `.strtab` (false for `-s`/`--strip-all`).
    pub symbol_table: bool,
}

/// The most program headers a nexe from zvld has: code, read-only data, data, PT_TLS,
/// PT_NOTE, PT_GNU_STACK.
pub const MAX_PHDRS: u64 = 6;

/// Bytes reserved at the start of the read-only segment for the ELF header and the
/// program headers when they are loaded (`__ehdr_start` is referenced).
pub const HEADERS_ROOM: u64 = 64 + 56 * MAX_PHDRS;

fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

struct Shdr {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    off: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

/// Builds the file.
pub fn write(img: &Image<'_>) -> Vec<u8> {
    const PT_LOAD: u32 = 1;
    const PT_NOTE: u32 = 4;
    const PT_TLS: u32 = 7;
    const PT_GNU_STACK: u32 = 0x6474_e551;
    let mut phdrs: Vec<[u64; 7]> = Vec::new(); // type|flags<<32, off, vaddr, filesz, memsz, align, (unused)
    let has_ro = !img.rodata.1.is_empty();
    let has_data = img.data.2 > 0;
    let phnum = 1 + usize::from(has_ro) + usize::from(has_data) + usize::from(img.tls.is_some()) + 2;
    // The file is laid out first (`len` is its length so far; `parts` are the bytes to
    // copy and their file offsets), then allocated zeroed at its final size and filled in
    // parallel: no byte is copied twice, and the pages are faulted in by all threads.
    let head_len = 64 + 56 * phnum;
    let mut len = head_len as u64;
    let mut parts: Vec<(u64, Cow<'_, [u8]>)> = Vec::with_capacity(img.extra.len() + 12);
    // Loaded headers: the read-only segment starts at file offset 0 with the headers, its
    // bytes after them follow in place (the file offset stays congruent to the address:
    // the segment starts on a 64 KiB boundary).
    let headers = img.headers && img.rodata.1.len() as u64 >= HEADERS_ROOM;
    assert!(!img.headers || headers, "the read-only segment lacks the room for the ELF headers");
    assert!(head_len as u64 <= HEADERS_ROOM, "more than MAX_PHDRS program headers");
    if headers {
        parts.push((len, Cow::Borrowed(&img.rodata.1[head_len..])));
        len = (img.rodata.1.len() as u64).next_multiple_of(8);
    }
    let note_off = len;
    let mut note = Vec::with_capacity(20);
    note.extend_from_slice(&3u32.to_le_bytes());
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&form::NOTE_TYPE_FORM.to_le_bytes());
    note.extend_from_slice(b"ZV\0\0");
    note.extend_from_slice(&form::FORM_VERSION.to_le_bytes());
    len += note.len() as u64;
    parts.push((note_off, Cow::Owned(note)));

    fn place<'x>(len: &mut u64, parts: &mut Vec<(u64, Cow<'x, [u8]>)>, vaddr: u64, bytes: &'x [u8]) -> u64 {
        let want = vaddr % form::PAGE;
        let mut off = len.next_multiple_of(form::PAGE) + want;
        if off < *len {
            off += form::PAGE;
        }
        *len = off + bytes.len() as u64;
        parts.push((off, Cow::Borrowed(bytes)));
        off
    }
    let code_off = place(&mut len, &mut parts, form::CODE_START, img.code);
    phdrs.push([
        u64::from(PT_LOAD) | (5 << 32),
        code_off,
        form::CODE_START,
        img.code.len() as u64,
        img.code.len() as u64,
        form::PAGE,
        0,
    ]);
    let mut ro_off = 0;
    if has_ro {
        if !headers {
            ro_off = place(&mut len, &mut parts, img.rodata.0, img.rodata.1);
        }
        let n = img.rodata.1.len() as u64;
        phdrs.push([u64::from(PT_LOAD) | (4 << 32), ro_off, img.rodata.0, n, n, form::PAGE, 0]);
    }
    let mut data_off = 0;
    if has_data {
        data_off = place(&mut len, &mut parts, img.data.0, img.data.1);
        phdrs.push([
            u64::from(PT_LOAD) | (6 << 32),
            data_off,
            img.data.0,
            img.data.1.len() as u64,
            img.data.2,
            form::PAGE,
            0,
        ]);
    }
    if let Some((vaddr, filesz, memsz, align)) = img.tls {
        let off = data_off + (vaddr - img.data.0);
        phdrs.push([u64::from(PT_TLS) | (4 << 32), off, vaddr, filesz, memsz, align, 0]);
    }
    phdrs.push([u64::from(PT_NOTE) | (4 << 32), note_off, 0, 20, 20, 4, 0]);
    phdrs.push([u64::from(PT_GNU_STACK) | (6 << 32), 0, 0, 0, 0, 16, 0]);

    // Section headers.
    let mut shstr = vec![0u8];
    let mut name = |n: &str| {
        let o = shstr.len() as u32;
        shstr.extend_from_slice(n.as_bytes());
        shstr.push(0);
        o
    };
    let mut sh: Vec<Shdr> =
        vec![Shdr { name: 0, kind: 0, flags: 0, addr: 0, off: 0, size: 0, link: 0, info: 0, align: 0, entsize: 0 }];
    let text_i = sh.len();
    sh.push(Shdr {
        name: name(".text"),
        kind: 1,
        flags: 6,
        addr: form::CODE_START,
        off: code_off,
        size: img.code.len() as u64,
        link: 0,
        info: 0,
        align: 32,
        entsize: 0,
    });
    let mut ro_i = 0;
    if has_ro {
        // The loaded headers are in no section.
        let skip = if headers { HEADERS_ROOM } else { 0 };
        ro_i = sh.len();
        sh.push(Shdr {
            name: name(".rodata"),
            kind: 1,
            flags: 2,
            addr: img.rodata.0 + skip,
            off: ro_off + skip,
            size: img.rodata.1.len() as u64 - skip,
            link: 0,
            info: 0,
            align: 8,
            entsize: 0,
        });
    }
    let (mut data_i, mut bss_i) = (0, 0);
    if has_data {
        data_i = sh.len();
        sh.push(Shdr {
            name: name(".data"),
            kind: 1,
            flags: 3,
            addr: img.data.0,
            off: data_off,
            size: img.data.1.len() as u64,
            link: 0,
            info: 0,
            align: 8,
            entsize: 0,
        });
        let bss = img.data.2 - img.data.1.len() as u64;
        if bss > 0 {
            bss_i = sh.len();
            sh.push(Shdr {
                name: name(".bss"),
                kind: 8,
                flags: 3,
                addr: img.data.0 + img.data.1.len() as u64,
                off: data_off + img.data.1.len() as u64,
                size: bss,
                link: 0,
                info: 0,
                align: 8,
                entsize: 0,
            });
        }
    }
    sh.push(Shdr {
        name: name(".note.zv"),
        kind: 7,
        flags: 0,
        addr: 0,
        off: note_off,
        size: 20,
        link: 0,
        info: 0,
        align: 4,
        entsize: 0,
    });
    for (n, bytes) in &img.extra {
        let off = len;
        len += bytes.len() as u64;
        parts.push((off, Cow::Borrowed(&bytes[..])));
        sh.push(Shdr {
            name: name(n),
            kind: 1,
            flags: 0,
            addr: 0,
            off,
            size: bytes.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        });
    }
    // Symbols: locals first (none for `-s`).
    if img.symbol_table {
        let mut syms: Vec<&OutSymbol> = img.symbols.iter().collect();
        syms.sort_by_key(|s| s.global);
        let nlocal = 1 + syms.iter().filter(|s| !s.global).count();
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        for s in &syms {
            let mut e = [0u8; 24];
            put32(&mut e, 0, strtab.len() as u32);
            strtab.extend_from_slice(s.name.as_bytes());
            strtab.push(0);
            e[4] = (u8::from(s.global) << 4) | s.kind;
            let shndx = match s.section {
                1 => text_i,
                2 => ro_i,
                3 => data_i,
                4 if bss_i != 0 => bss_i,
                4 => data_i,
                _ => 0xFFF1,
            };
            put16(&mut e, 6, shndx as u16);
            put64(&mut e, 8, s.value);
            put64(&mut e, 16, s.size);
            symtab.extend_from_slice(&e);
        }
        len = len.next_multiple_of(8);
        let symoff = len;
        len += symtab.len() as u64;
        let stroff = len;
        len += strtab.len() as u64;
        let (symtab_len, strtab_len) = (symtab.len() as u64, strtab.len() as u64);
        parts.push((symoff, Cow::Owned(symtab)));
        parts.push((stroff, Cow::Owned(strtab)));
        let strndx = sh.len() as u32 + 1;
        sh.push(Shdr {
            name: name(".symtab"),
            kind: 2,
            flags: 0,
            addr: 0,
            off: symoff,
            size: symtab_len,
            link: strndx,
            info: nlocal as u32,
            align: 8,
            entsize: 24,
        });
        sh.push(Shdr {
            name: name(".strtab"),
            kind: 3,
            flags: 0,
            addr: 0,
            off: stroff,
            size: strtab_len,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        });
    }
    let shstrndx = sh.len();
    let n = name(".shstrtab");
    let shstroff = len;
    let shstr_len = shstr.len() as u64;
    len += shstr_len;
    parts.push((shstroff, Cow::Owned(shstr)));
    sh.push(Shdr {
        name: n,
        kind: 3,
        flags: 0,
        addr: 0,
        off: shstroff,
        size: shstr_len,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });
    len = len.next_multiple_of(8);
    let shoff = len;
    let mut shdrs = Vec::with_capacity(64 * sh.len());
    for h in &sh {
        let mut e = [0u8; 64];
        put32(&mut e, 0, h.name);
        put32(&mut e, 4, h.kind);
        put64(&mut e, 8, h.flags);
        put64(&mut e, 16, h.addr);
        put64(&mut e, 24, h.off);
        put64(&mut e, 32, h.size);
        put32(&mut e, 40, h.link);
        put32(&mut e, 44, h.info);
        put64(&mut e, 48, h.align);
        put64(&mut e, 56, h.entsize);
        shdrs.extend_from_slice(&e);
    }
    len += shdrs.len() as u64;
    parts.push((shoff, Cow::Owned(shdrs)));

    let mut head = vec![0u8; head_len];
    let h = &mut head[..64];
    h[0..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    put16(h, 16, 2);
    put16(h, 18, 62);
    put32(h, 20, 1);
    put64(h, 24, img.entry);
    put64(h, 32, 64);
    put64(h, 40, shoff);
    put16(h, 52, 64);
    put16(h, 54, 56);
    put16(h, 56, phdrs.len() as u16);
    put16(h, 58, 64);
    put16(h, 60, sh.len() as u16);
    put16(h, 62, shstrndx as u16);
    for (i, p) in phdrs.iter().enumerate() {
        let o = 64 + 56 * i;
        put32(&mut head, o, p[0] as u32);
        put32(&mut head, o + 4, (p[0] >> 32) as u32);
        put64(&mut head, o + 8, p[1]);
        put64(&mut head, o + 16, p[2]);
        put64(&mut head, o + 24, p[2]);
        put64(&mut head, o + 32, p[3]);
        put64(&mut head, o + 40, p[4]);
        put64(&mut head, o + 48, p[5]);
    }
    parts.push((0, Cow::Owned(head)));
    fill(len as usize, parts)
}

/// The file: every part at its offset, zeros in the gaps. Parts must not overlap. Each
/// byte is written once, in order (a zeroed buffer copied over in parallel wrote the
/// file twice, and clearing it took longer than the copies).
fn fill(len: usize, mut parts: Vec<(u64, Cow<'_, [u8]>)>) -> Vec<u8> {
    parts.sort_by_key(|(off, _)| *off);
    let mut out = Vec::with_capacity(len);
    for (off, bytes) in &parts {
        assert!(*off as usize >= out.len(), "overlapping parts of the file (a zvld bug)");
        out.resize(*off as usize, 0);
        out.extend_from_slice(bytes);
    }
    out.resize(len, 0);
    out
}
