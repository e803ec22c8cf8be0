//! A small writer of nexe files (RUNTIME.md section 1), for tests, the attack corpus,
//! generated benchmark inputs and assembly-built test programs. It writes exactly what it
//! is told, including layouts the verifier must reject, so attacks on the layout rules can
//! be built with it. zvld has its own, fuller writer.

use crate::form;

/// A PT_LOAD segment to write.
#[derive(Clone, Debug)]
pub struct SegmentSpec {
    /// Guest address.
    pub vaddr: u64,
    /// Flags: 1 = X, 2 = W, 4 = R.
    pub flags: u32,
    /// The file bytes.
    pub bytes: Vec<u8>,
    /// Memory size (at least `bytes.len()` for a valid nexe).
    pub memsz: u64,
}

/// Builds a nexe image in memory.
#[derive(Clone, Debug)]
pub struct NexeWriter {
    /// Segments in program-header order.
    pub segments: Vec<SegmentSpec>,
    /// Entry point.
    pub entry: u64,
    /// Form version written in the `ZV` note (`None` omits the note).
    pub form_version: Option<u32>,
    /// Function symbols (name, address, size) written to `.symtab`.
    pub symbols: Vec<(String, u64, u64)>,
    /// Extra non-alloc sections (name, bytes), e.g. `.debug_line`.
    pub extra_sections: Vec<(String, Vec<u8>)>,
}

/// Flags of the code segment.
pub const RX: u32 = 5;
/// Flags of a read-only data segment.
pub const R: u32 = 4;
/// Flags of a data segment.
pub const RW: u32 = 6;

impl NexeWriter {
    /// A nexe with one code segment at CODE_START holding `code`, entry at its start.
    pub fn with_code(code: Vec<u8>) -> Self {
        let memsz = code.len() as u64;
        NexeWriter {
            segments: vec![SegmentSpec { vaddr: form::CODE_START, flags: RX, bytes: code, memsz }],
            entry: form::CODE_START,
            form_version: Some(form::FORM_VERSION),
            symbols: Vec::new(),
            extra_sections: Vec::new(),
        }
    }

    /// Adds a segment after the existing ones.
    pub fn segment(mut self, vaddr: u64, flags: u32, bytes: Vec<u8>, memsz: u64) -> Self {
        self.segments.push(SegmentSpec { vaddr, flags, bytes, memsz });
        self
    }

    /// Adds a function symbol.
    pub fn symbol(mut self, name: &str, addr: u64, size: u64) -> Self {
        self.symbols.push((name.to_string(), addr, size));
        self
    }

    /// Writes the file.
    pub fn build(&self) -> Vec<u8> {
        let phnum = self.segments.len() + usize::from(self.form_version.is_some());
        let mut out = vec![0u8; 64 + phnum * 56];
        // The note.
        let note_off = out.len();
        if let Some(v) = self.form_version {
            out.extend_from_slice(&3u32.to_le_bytes());
            out.extend_from_slice(&4u32.to_le_bytes());
            out.extend_from_slice(&form::NOTE_TYPE_FORM.to_le_bytes());
            out.extend_from_slice(b"ZV\0\0");
            out.extend_from_slice(&v.to_le_bytes());
        }
        let note_len = out.len() - note_off;
        // Segment bytes, each at a file offset congruent to its address modulo the page.
        let mut offsets = Vec::new();
        for s in &self.segments {
            let want = (s.vaddr % form::PAGE) as usize;
            let mut off = out.len().next_multiple_of(form::PAGE as usize) + want;
            if off < out.len() {
                off += form::PAGE as usize;
            }
            out.resize(off, 0);
            offsets.push(off as u64);
            out.extend_from_slice(&s.bytes);
        }
        // Sections: null, .symtab, .strtab, extras, .shstrtab.
        let mut shstr = vec![0u8];
        let name = |n: &str, shstr: &mut Vec<u8>| {
            let o = shstr.len() as u32;
            shstr.extend_from_slice(n.as_bytes());
            shstr.push(0);
            o
        };
        let mut shdrs: Vec<[u64; 8]> = vec![[0; 8]]; // name,type,flags,addr,off,size,link|info<<32,entsize
        if !self.symbols.is_empty() {
            let mut strtab = vec![0u8];
            let mut symtab = vec![0u8; 24];
            for (n, a, sz) in &self.symbols {
                let so = strtab.len() as u32;
                strtab.extend_from_slice(n.as_bytes());
                strtab.push(0);
                let mut e = [0u8; 24];
                e[0..4].copy_from_slice(&so.to_le_bytes());
                e[4] = 0x12; // GLOBAL FUNC
                e[6..8].copy_from_slice(&1u16.to_le_bytes());
                e[8..16].copy_from_slice(&a.to_le_bytes());
                e[16..24].copy_from_slice(&sz.to_le_bytes());
                symtab.extend_from_slice(&e);
            }
            out.resize(out.len().next_multiple_of(8), 0);
            let symoff = out.len() as u64;
            out.extend_from_slice(&symtab);
            let stroff = out.len() as u64;
            out.extend_from_slice(&strtab);
            let n1 = name(".symtab", &mut shstr);
            let n2 = name(".strtab", &mut shstr);
            let strndx = shdrs.len() as u64 + 1;
            shdrs.push([n1 as u64, 2, 0, 0, symoff, symtab.len() as u64, strndx | (1 << 32), 24]);
            shdrs.push([n2 as u64, 3, 0, 0, stroff, strtab.len() as u64, 0, 0]);
        }
        for (n, bytes) in &self.extra_sections {
            let off = out.len() as u64;
            out.extend_from_slice(bytes);
            let ni = name(n, &mut shstr);
            shdrs.push([ni as u64, 1, 0, 0, off, bytes.len() as u64, 0, 0]);
        }
        let shstrndx = shdrs.len();
        let ni = name(".shstrtab", &mut shstr);
        let shstroff = out.len() as u64;
        out.extend_from_slice(&shstr);
        shdrs.push([ni as u64, 3, 0, 0, shstroff, shstr.len() as u64, 0, 0]);
        out.resize(out.len().next_multiple_of(8), 0);
        let shoff = out.len() as u64;
        for h in &shdrs {
            let mut e = [0u8; 64];
            e[0..4].copy_from_slice(&(h[0] as u32).to_le_bytes());
            e[4..8].copy_from_slice(&(h[1] as u32).to_le_bytes());
            e[8..16].copy_from_slice(&h[2].to_le_bytes());
            e[16..24].copy_from_slice(&h[3].to_le_bytes());
            e[24..32].copy_from_slice(&h[4].to_le_bytes());
            e[32..40].copy_from_slice(&h[5].to_le_bytes());
            e[40..44].copy_from_slice(&(h[6] as u32).to_le_bytes());
            e[44..48].copy_from_slice(&((h[6] >> 32) as u32).to_le_bytes());
            e[48..56].copy_from_slice(&1u64.to_le_bytes());
            e[56..64].copy_from_slice(&h[7].to_le_bytes());
            out.extend_from_slice(&e);
        }

        // ELF header.
        let h = &mut out[..64];
        h[0..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[6] = 1;
        h[16..18].copy_from_slice(&2u16.to_le_bytes());
        h[18..20].copy_from_slice(&62u16.to_le_bytes());
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h[24..32].copy_from_slice(&self.entry.to_le_bytes());
        h[32..40].copy_from_slice(&64u64.to_le_bytes());
        h[40..48].copy_from_slice(&shoff.to_le_bytes());
        h[52..54].copy_from_slice(&64u16.to_le_bytes());
        h[54..56].copy_from_slice(&56u16.to_le_bytes());
        h[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        h[58..60].copy_from_slice(&64u16.to_le_bytes());
        h[60..62].copy_from_slice(&(shdrs.len() as u16).to_le_bytes());
        h[62..64].copy_from_slice(&(shstrndx as u16).to_le_bytes());
        // Program headers.
        let mut ph = 64;
        for (s, off) in self.segments.iter().zip(&offsets) {
            let e = &mut out[ph..ph + 56];
            e[0..4].copy_from_slice(&1u32.to_le_bytes());
            e[4..8].copy_from_slice(&s.flags.to_le_bytes());
            e[8..16].copy_from_slice(&off.to_le_bytes());
            e[16..24].copy_from_slice(&s.vaddr.to_le_bytes());
            e[24..32].copy_from_slice(&s.vaddr.to_le_bytes());
            e[32..40].copy_from_slice(&(s.bytes.len() as u64).to_le_bytes());
            e[40..48].copy_from_slice(&s.memsz.to_le_bytes());
            e[48..56].copy_from_slice(&form::PAGE.to_le_bytes());
            ph += 56;
        }
        if self.form_version.is_some() {
            let e = &mut out[ph..ph + 56];
            e[0..4].copy_from_slice(&4u32.to_le_bytes());
            e[4..8].copy_from_slice(&4u32.to_le_bytes());
            e[8..16].copy_from_slice(&(note_off as u64).to_le_bytes());
            e[32..40].copy_from_slice(&(note_len as u64).to_le_bytes());
            e[40..48].copy_from_slice(&(note_len as u64).to_le_bytes());
            e[48..56].copy_from_slice(&4u64.to_le_bytes());
        }
        out
    }
}
