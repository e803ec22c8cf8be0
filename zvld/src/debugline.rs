//! `.debug_line` remapping (TOOLCHAIN.md section 2, debug information): the line
//! programs of the inputs are read with gimli, every row's address is translated through
//! the rewritten section's old-to-new offset map, and a new opcode stream is written
//! behind each program's original header, so `addr2line`, `gdb` and the verifier's
//! diagnostics show source lines for rewritten code. The `DW_AT_stmt_list` offsets in
//! `.debug_info` are redirected through [`Line::offset_of`]. Objects whose line programs
//! gimli cannot read keep no line table (debug information is best effort; it never
//! fails a link).

use std::collections::HashMap;

use gimli::LittleEndian;
use object::elf;
use rayon::prelude::*;

use crate::inputs::{Class, Object, SymDef};
use crate::layout::Layout;
use crate::relocate::Addresses;
use crate::resolve::{Def, Resolved};

/// The regenerated `.debug_line` and where each input program went.
pub struct Line {
    /// The new section.
    pub bytes: Vec<u8>,
    /// (object, old offset in its `.debug_line`) to new offset.
    offsets: HashMap<(u32, u64), u64>,
}

impl Line {
    /// The new offset of the program that started at `old` in object `obj`'s section.
    pub fn offset_of(&self, obj: u32, old: u64) -> u64 {
        self.offsets.get(&(obj, old)).copied().unwrap_or(0)
    }
}

/// A code address of the input, encoded as (code section index + 1) << 32 | offset.
pub(crate) fn virtual_address(ci: usize, off: u64) -> u64 {
    ((ci as u64 + 1) << 32) | (off & 0xFFFF_FFFF)
}

/// The object's `.debug_line` with relocations applied in input terms: code addresses as
/// [`virtual_address`], string offsets local to the object's own string sections.
pub(crate) fn relocated(o: &Object<'_>, oi: u32, sec: usize, lay: &Layout) -> Vec<u8> {
    relocated_except(o, oi, sec, lay, &[])
}

/// [`relocated`], leaving out the relocations into the sections named in `skip` (whose
/// fields the caller never reads: `.debug_info`'s many string and location-list offsets
/// when only its addresses and range offsets are read).
pub(crate) fn relocated_except(o: &Object<'_>, oi: u32, sec: usize, lay: &Layout, skip: &[&str]) -> Vec<u8> {
    let s = &o.sections[sec];
    let mut bytes = s.data.to_vec();
    // Which sections are skipped, looked up once per section rather than once per
    // relocation (sqlite3's `.debug_info` has 112,000).
    let skipped: Vec<bool> = o.sections.iter().map(|t| skip.contains(&t.name)).collect();
    for r in &s.relocs {
        let sym = &o.symbols[r.sym as usize];
        let (tsec, value) = match sym.def {
            SymDef::Section { sec, value } => (sec as usize, value),
            _ => continue,
        };
        if skipped.get(tsec).copied().unwrap_or(false) {
            continue;
        }
        let target = value.wrapping_add(r.addend as u64);
        let v = match lay.code_index[oi as usize].get(tsec).copied().flatten() {
            Some(ci) => virtual_address(ci, target),
            None => target,
        };
        let width = match r.r_type {
            elf::R_X86_64_64 => 8,
            elf::R_X86_64_32 => 4,
            _ => continue,
        };
        if let Some(dst) = bytes.get_mut(r.offset as usize..r.offset as usize + width) {
            dst.copy_from_slice(&v.to_le_bytes()[..width]);
        }
    }
    bytes
}

/// The output address of a [`virtual_address`].
pub(crate) fn translate(a: &Addresses<'_, '_>, code: &[(u32, u32)], v: u64) -> Option<u64> {
    let ci = (v >> 32).checked_sub(1)? as usize;
    let &(obj, s) = code.get(ci)?;
    a.addr(Def::Section { obj, sec: s, value: v & 0xFFFF_FFFF }, 0, false)
}

/// [`translate`] for a stream of addresses that mostly grow, such as a line program's
/// rows: the same answers, but it remembers the section and the place in its offset map
/// of the previous address, so the next is usually a step or two further on instead of
/// a new lookup.
pub(crate) struct Translator<'t, 'r, 'a> {
    a: &'t Addresses<'r, 'a>,
    code: &'t [(u32, u32)],
    /// The code section of the last address (index into `code`), its output address and
    /// the partition point of the last offset in its map.
    last: Option<(usize, u64, usize)>,
}

impl<'t, 'r, 'a> Translator<'t, 'r, 'a> {
    pub(crate) fn new(a: &'t Addresses<'r, 'a>, code: &'t [(u32, u32)]) -> Self {
        Translator { a, code, last: None }
    }

    /// The output address of a [`virtual_address`], as [`translate`] gives it.
    pub(crate) fn get(&mut self, v: u64) -> Option<u64> {
        let ci = (v >> 32).checked_sub(1)? as usize;
        let off = v & 0xFFFF_FFFF;
        let (base, hint) = match self.last {
            Some((c, base, k)) if c == ci => (base, Some(k)),
            _ => {
                // A new section: the cursor applies only to a placed code section whose
                // map `Addresses::addr` would search (anything else is asked directly).
                let &(obj, s) = self.code.get(ci)?;
                let lay = self.a.layout;
                let placed = lay.code_index[obj as usize][s as usize] == Some(ci);
                match lay.addr[obj as usize][s as usize] {
                    Some(base) if placed => (base, None),
                    _ => {
                        self.last = None;
                        return translate(self.a, self.code, v);
                    }
                }
            }
        };
        let map = &self.a.code[ci].map;
        let k = nearest_from(map, hint, off as u32);
        self.last = Some((ci, base, k));
        let (i, o) = map[k.checked_sub(1)?];
        Some(base + u64::from(o) + (off - u64::from(i)))
    }
}

/// The partition point of `off` in `map` (the number of entries whose input offset is at
/// most `off`), found by stepping from `hint` (the partition point of a nearby offset)
/// when it is close, else by bisection.
fn nearest_from(map: &[(u32, u32)], hint: Option<usize>, off: u32) -> usize {
    if let Some(mut k) = hint.filter(|&k| k <= map.len()) {
        for _ in 0..16 {
            if k < map.len() && map[k].0 <= off {
                k += 1;
            } else if k > 0 && map[k - 1].0 > off {
                k -= 1;
            } else {
                return k;
            }
        }
    }
    map.partition_point(|&(i, _)| i <= off)
}

/// One row of a line program's matrix: the registers the rebuild reads, as gimli's
/// `LineRow` holds them when it returns a row (`line` 0 for gimli's `None`, `column` 0
/// for its left edge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    address: u64,
    file: u64,
    line: u64,
    column: u64,
    is_stmt: bool,
    basic_block: bool,
    end_sequence: bool,
    prologue_end: bool,
    epilogue_begin: bool,
    discriminator: u64,
}

impl Row {
    fn from_gimli(r: &gimli::LineRow) -> Row {
        Row {
            address: r.address(),
            file: r.file_index(),
            line: r.line().map_or(0, |l| l.get()),
            column: match r.column() {
                gimli::ColumnType::LeftEdge => 0,
                gimli::ColumnType::Column(c) => c.get(),
            },
            is_stmt: r.is_stmt(),
            basic_block: r.basic_block(),
            end_sequence: r.end_sequence(),
            prologue_end: r.prologue_end(),
            epilogue_begin: r.epilogue_begin(),
            discriminator: r.discriminator(),
        }
    }
}

/// What the opcodes of a program need from its header.
struct Params<'h> {
    version: u16,
    min_inst: u8,
    default_is_stmt: bool,
    line_base: i8,
    line_range: u8,
    opcode_base: u8,
    /// The operand counts of standard opcodes 1 .. opcode_base - 1.
    std_lengths: &'h [u8],
}

impl<'h> Params<'h> {
    /// The parameters of `header` when [`for_each_row`] reads its programs: 8-byte
    /// addresses, one operation per instruction (not VLIW) and a usable line range;
    /// `None` otherwise (gimli's reader then reads them).
    fn of<R: gimli::Reader<Offset = usize>>(header: &'h gimli::LineProgramHeader<R>, std: &'h [u8]) -> Option<Self> {
        let e = header.line_encoding();
        let plain = header.address_size() == 8 && e.maximum_operations_per_instruction == 1 && e.line_range != 0;
        plain.then_some(Params {
            version: header.version(),
            min_inst: e.minimum_instruction_length,
            default_is_stmt: e.default_is_stmt,
            line_base: e.line_base,
            line_range: e.line_range,
            opcode_base: header.opcode_base(),
            std_lengths: std,
        })
    }
}

/// A cursor over a program's opcodes; every read fails (`None`) past the end.
struct Ops<'b> {
    b: &'b [u8],
    at: usize,
}

impl Ops<'_> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    /// ULEB128 as gimli reads it (an error past 64 bits).
    fn uleb(&mut self) -> Option<u64> {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let byte = self.u8()?;
            if shift == 63 && byte != 0 && byte != 1 {
                return None;
            }
            v |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
        }
    }
    /// SLEB128 as gimli reads it.
    fn sleb(&mut self) -> Option<i64> {
        let (mut v, mut shift) = (0i64, 0u32);
        loop {
            let byte = self.u8()?;
            if shift == 63 && byte != 0 && byte != 0x7F {
                return None;
            }
            v |= i64::from(byte & 0x7F) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    v |= !0 << shift;
                }
                return Some(v);
            }
        }
    }
}

/// Runs a line program's opcodes (`ops`, 8-byte addresses) and hands each row of its
/// matrix to `each`: the rows gimli's `LineRows` gives for the same program, in order,
/// ending where gimli's iteration ends (the end of the opcodes, or the first malformed or
/// overflowing one). The rebuild of sqlite3's line table (200,000 rows) took 7-9 ms in
/// gimli's row iterator; this is a plain loop over the opcodes. Tests compare the two on
/// generated and mutated programs.
fn for_each_row(ops: &[u8], p: &Params<'_>, mut each: impl FnMut(&Row)) {
    let fresh = Row {
        address: 0,
        file: 1,
        line: 1,
        column: 0,
        is_stmt: p.default_is_stmt,
        basic_block: false,
        end_sequence: false,
        prologue_end: false,
        epilogue_begin: false,
        discriminator: 0,
    };
    const MIN_TOMBSTONE: u64 = -2i64 as u64;
    let mut r = fresh;
    let mut tombstone = false;
    let mut o = Ops { b: ops, at: 0 };
    let line_advance = |r: &mut Row, inc: i64| {
        if inc < 0 {
            r.line = r.line.saturating_sub(inc.unsigned_abs());
        } else {
            r.line = r.line.wrapping_add(inc as u64);
        }
    };
    // Step 2 of DWARF 5 section 6.2.5.1 with one operation per instruction; `None` on
    // overflow (gimli's AddressOverflow, which ends its iteration).
    let advance = |r: &mut Row, tombstone: bool, ops: u64| -> Option<()> {
        if !tombstone {
            r.address = r.address.checked_add(u64::from(p.min_inst).wrapping_mul(ops))?;
        }
        Some(())
    };
    while o.at < o.b.len() {
        let Some(op) = o.u8() else { return };
        let row = if op == 0 {
            let Some(len) = o.uleb() else { return };
            let Some(end) = usize::try_from(len).ok().and_then(|l| o.at.checked_add(l)).filter(|&e| e <= o.b.len())
            else {
                return;
            };
            let mut sub = Ops { b: &o.b[..end], at: o.at };
            o.at = end;
            let Some(code) = sub.u8() else { return };
            match code {
                1 => {
                    r.end_sequence = true;
                    true
                }
                2 => {
                    let Some(a) = sub.b.get(sub.at..sub.at + 8) else { return };
                    let a = u64::from_le_bytes(a.try_into().expect("8 bytes"));
                    tombstone = a < r.address || a >= MIN_TOMBSTONE;
                    if !tombstone {
                        r.address = a;
                    }
                    false
                }
                // DW_LNE_define_file (DWARF 2-4): gimli parses it and adds a file entry,
                // which the rows do not show; a malformed one ends its iteration.
                3 if p.version <= 4 => {
                    let Some(nul) = sub.b[sub.at..].iter().position(|&c| c == 0) else { return };
                    sub.at += nul + 1;
                    if sub.uleb().is_none() || sub.uleb().is_none() || sub.uleb().is_none() {
                        return;
                    }
                    false
                }
                4 => {
                    let Some(d) = sub.uleb() else { return };
                    r.discriminator = d;
                    false
                }
                _ => false,
            }
        } else if op >= p.opcode_base {
            let adjusted = op - p.opcode_base;
            line_advance(&mut r, i64::from(p.line_base) + i64::from(adjusted % p.line_range));
            if advance(&mut r, tombstone, u64::from(adjusted / p.line_range)).is_none() {
                return;
            }
            true
        } else {
            match op {
                1 => true,
                2 => {
                    let Some(n) = o.uleb() else { return };
                    if advance(&mut r, tombstone, n).is_none() {
                        return;
                    }
                    false
                }
                3 => {
                    let Some(n) = o.sleb() else { return };
                    line_advance(&mut r, n);
                    false
                }
                4 => {
                    let Some(n) = o.uleb() else { return };
                    r.file = n;
                    false
                }
                5 => {
                    let Some(n) = o.uleb() else { return };
                    r.column = n;
                    false
                }
                6 => {
                    r.is_stmt = !r.is_stmt;
                    false
                }
                7 => {
                    r.basic_block = true;
                    false
                }
                8 => {
                    if advance(&mut r, tombstone, u64::from((255 - p.opcode_base) / p.line_range)).is_none() {
                        return;
                    }
                    false
                }
                9 => {
                    let Some(b) = o.b.get(o.at..o.at + 2) else { return };
                    o.at += 2;
                    if !tombstone {
                        let Some(a) = r.address.checked_add(u64::from(u16::from_le_bytes([b[0], b[1]]))) else {
                            return;
                        };
                        r.address = a;
                    }
                    false
                }
                10 => {
                    r.prologue_end = true;
                    false
                }
                11 => {
                    r.epilogue_begin = true;
                    false
                }
                12 => {
                    if o.uleb().is_none() {
                        return;
                    }
                    false
                }
                _ => {
                    // An opcode this reader does not know: skipped with its operands.
                    let Some(&n) = p.std_lengths.get(usize::from(op) - 1) else { return };
                    for _ in 0..n {
                        if o.uleb().is_none() {
                            return;
                        }
                    }
                    false
                }
            }
        };
        if row {
            if !tombstone {
                each(&r);
            }
            if r.end_sequence {
                r = fresh;
                tombstone = false;
            } else {
                r.discriminator = 0;
                r.basic_block = false;
                r.prologue_end = false;
                r.epilogue_begin = false;
            }
        }
    }
}

/// The opcodes of one row, put together before they are appended to the program: at most
/// 11 bytes for the address, 11 for each of file, line and column, 13 for a
/// discriminator and 5 single bytes.
struct RowBytes {
    b: [u8; 64],
    n: usize,
}

impl Default for RowBytes {
    fn default() -> Self {
        RowBytes { b: [0; 64], n: 0 }
    }
}

impl RowBytes {
    fn push(&mut self, x: u8) {
        self.b[self.n] = x;
        self.n += 1;
    }
    fn extend(&mut self, x: &[u8]) {
        self.b[self.n..self.n + x.len()].copy_from_slice(x);
        self.n += x.len();
    }
    fn uleb(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                self.push(b);
                return;
            }
            self.push(b | 0x80);
        }
    }
    fn sleb(&mut self, mut v: i64) {
        loop {
            let b = (v & 0x7F) as u8;
            v >>= 7;
            let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
            self.push(if done { b } else { b | 0x80 });
            if done {
                return;
            }
        }
    }
    fn bytes(&self) -> &[u8] {
        &self.b[..self.n]
    }
}

/// One object's new programs and (old offset, new offset) of each.
type Rebuilt = (Vec<u8>, Vec<(u64, u64)>);

/// The line-number state machine registers the writer has last emitted.
struct State {
    file: u64,
    line: u64,
    column: u64,
    is_stmt: bool,
    addr: u64,
}

/// Rewrites the line programs of one object; returns the new bytes (to be placed at
/// some offset) and (old offset, new offset relative to the start of these bytes).
///
/// Each program keeps its header byte for byte (so file and directory numbers, which
/// `.debug_info` also uses in DW_AT_decl_file and DW_AT_call_file, stay valid; string
/// offsets in it are relocated like any other debug field), and gets a new opcode
/// stream: one DW_LNE_set_address per sequence, then standard opcodes per row.
fn rebuild_object(
    res: &Resolved<'_>,
    oi: u32,
    sec: usize,
    lay: &Layout,
    a: &Addresses<'_, '_>,
    code: &[(u32, u32)],
) -> Option<Rebuilt> {
    let o = &res.objects[oi as usize];
    let data = relocated(o, oi, sec, lay);
    let dl = gimli::DebugLine::new(&data, LittleEndian);
    // The new programs are about as long as the old ones (one set_address per sequence,
    // then standard opcodes).
    let mut out: Vec<u8> = Vec::with_capacity(data.len() + data.len() / 4);
    let mut offsets = Vec::new();
    let relocs = &o.sections[sec].relocs;
    let mut off = 0usize;
    while off + 4 <= data.len() {
        let unit_len = u32::from_le_bytes(data[off..off + 4].try_into().ok()?) as usize;
        if unit_len == 0xFFFF_FFFF || unit_len == 0 || off + 4 + unit_len > data.len() {
            break;
        }
        let next = off + 4 + unit_len;
        let program = dl.program(gimli::DebugLineOffset(off), 8, None, None).ok()?;
        let header = program.header();
        let prog_start = next - header.raw_program_buf().len();
        let default_stmt = header.line_encoding().default_is_stmt;
        let new_off = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&o.sections[sec].data[off + 4..prog_start]);
        // Relocate the header's fields (string offsets) into the output sections.
        for r in relocs.iter().filter(|r| (r.offset as usize) >= off + 4 && (r.offset as usize) < prog_start) {
            let def = res.def(oi, r.sym);
            let at = || crate::error::Location::default();
            let f = crate::relocate::Fix {
                at: &at,
                r_type: r.r_type,
                def,
                symbol: &String::new,
                size: &|| res.sym_size(oi, r.sym),
                addend: r.addend,
                bias: 4,
                place: 0,
                debug: true,
                head: 0,
            };
            let pos = new_off + (r.offset as usize - off);
            let _ = crate::relocate::apply(a, &mut out, pos, &f);
        }
        let fresh = || State { file: 1, line: 1, column: 0, is_stmt: default_stmt, addr: 0 };
        let mut st = fresh();
        let mut in_seq = false;
        let mut skip = false;
        let mut tr = Translator::new(a, code);
        // Each row's opcodes are put together in a small buffer (one for all rows, not
        // cleared) and appended at once.
        let mut w = RowBytes::default();
        let mut row_out = |row: &Row| {
            if skip {
                skip = !row.end_sequence;
                return;
            }
            w.n = 0;
            let Some(addr) = tr.get(row.address) else {
                if in_seq {
                    out.extend_from_slice(&[0, 1, 1]);
                    in_seq = false;
                    st = fresh();
                }
                skip = !row.end_sequence;
                return;
            };
            if !in_seq {
                w.extend(&[0, 9, 2]);
                w.extend(&addr.to_le_bytes());
                st.addr = addr;
                in_seq = true;
            } else if addr > st.addr {
                w.push(2);
                w.uleb(addr - st.addr);
                st.addr = addr;
            }
            if row.end_sequence {
                w.extend(&[0, 1, 1]);
                out.extend_from_slice(w.bytes());
                in_seq = false;
                st = fresh();
                return;
            }
            if row.file != st.file {
                w.push(4);
                w.uleb(row.file);
                st.file = row.file;
            }
            if row.line != st.line {
                w.push(3);
                w.sleb(row.line.wrapping_sub(st.line) as i64);
                st.line = row.line;
            }
            if row.column != st.column {
                w.push(5);
                w.uleb(row.column);
                st.column = row.column;
            }
            if row.is_stmt != st.is_stmt {
                w.push(6);
                st.is_stmt = row.is_stmt;
            }
            if row.discriminator != 0 {
                let mut d = RowBytes::default();
                d.uleb(row.discriminator);
                w.extend(&[0, 1 + d.n as u8, 4]);
                w.extend(d.bytes());
            }
            if row.basic_block {
                w.push(7);
            }
            if row.prologue_end {
                w.push(10);
            }
            if row.epilogue_begin {
                w.push(11);
            }
            w.push(1);
            out.extend_from_slice(w.bytes());
        };
        let std_lengths = header.standard_opcode_lengths().slice();
        match Params::of(header, std_lengths) {
            Some(p) => for_each_row(header.raw_program_buf().slice(), &p, &mut row_out),
            None => {
                let mut rows = program.clone().rows();
                while let Ok(Some((_, row))) = rows.next_row() {
                    row_out(&Row::from_gimli(row));
                }
            }
        }
        if in_seq {
            out.extend_from_slice(&[0, 1, 1]);
        }
        let len = (out.len() - new_off - 4) as u32;
        out[new_off..new_off + 4].copy_from_slice(&len.to_le_bytes());
        offsets.push((off as u64, new_off as u64));
        off = next;
    }
    Some((out, offsets))
}

fn line_section(o: &Object<'_>) -> Option<usize> {
    o.sections.iter().position(|s| s.name == ".debug_line" && s.class == Class::Debug && !s.discarded)
}

/// Whether some input has a `.debug_line` (then [`rebuild`] returns `Some`).
pub fn has_input(res: &Resolved<'_>) -> bool {
    res.objects.iter().any(|o| line_section(o).is_some())
}

/// An object's `.debug_line` that cannot be read, kept as it is: a section of its own in
/// the output, so that its compilation units' `DW_AT_stmt_list` still point at their own
/// (unreadable) programs. Dropping it made them point at whatever program came to lie
/// at their offset, another object's (audit finding: a corrupt header in one object
/// took the source lines of another). Every unit start that its lengths reach is mapped.
fn kept_as_is(o: &Object<'_>, oi: u32, sec: usize, lay: &Layout) -> Rebuilt {
    let data = relocated(o, oi, sec, lay);
    let mut offsets = vec![(0, 0)];
    let mut off = 0usize;
    while off + 4 <= data.len() {
        let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
        if len == 0 || len >= 0xFFFF_FFF0 || off + 4 + len > data.len() {
            break;
        }
        off += 4 + len;
        if off < data.len() {
            offsets.push((off as u64, off as u64));
        }
    }
    (data, offsets)
}

/// Rebuilds `.debug_line`; `None` when no input has one. Objects whose programs cannot
/// be read are kept as they are ([`kept_as_is`]).
pub fn rebuild(res: &Resolved<'_>, lay: &Layout, a: &Addresses<'_, '_>, code: &[(u32, u32)]) -> Option<Line> {
    let inputs: Vec<(u32, usize)> =
        res.objects.iter().enumerate().filter_map(|(oi, o)| line_section(o).map(|si| (oi as u32, si))).collect();
    if inputs.is_empty() {
        return None;
    }
    let parts: Vec<Rebuilt> = inputs
        .par_iter()
        .map(|&(oi, si)| {
            rebuild_object(res, oi, si, lay, a, code)
                .unwrap_or_else(|| kept_as_is(&res.objects[oi as usize], oi, si, lay))
        })
        .collect();
    let mut bytes = Vec::with_capacity(parts.iter().map(|(b, _)| b.len()).sum());
    let mut offsets = HashMap::new();
    for ((oi, _), (b, offs)) in inputs.iter().zip(parts) {
        let base = bytes.len() as u64;
        for (old, new) in offs {
            offsets.insert((*oi, old), base + new);
        }
        bytes.extend_from_slice(&b);
    }
    Some(Line { bytes, offsets })
}

#[cfg(test)]
mod tests {
    use super::{for_each_row, nearest_from, Params, Row, RowBytes};
    use gimli::LittleEndian;

    /// A line program unit with a DWARF 2-4 header (`version`) and the opcodes `ops`.
    fn unit(version: u16, min_inst: u8, line_base: i8, line_range: u8, opcode_base: u8, ops: &[u8]) -> Vec<u8> {
        let mut h = vec![min_inst];
        if version >= 4 {
            h.push(1); // maximum_operations_per_instruction
        }
        h.extend_from_slice(&[1, line_base as u8, line_range, opcode_base]);
        let lengths = [0u8, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 2, 0, 3];
        h.extend((1..opcode_base).map(|op| lengths.get(usize::from(op) - 1).copied().unwrap_or(1)));
        h.extend_from_slice(b"dir\0\0a.c\0\x01\0\0b.c\0\x01\0\0\0");
        let mut u = Vec::new();
        u.extend_from_slice(&version.to_le_bytes());
        u.extend_from_slice(&(h.len() as u32).to_le_bytes());
        u.extend_from_slice(&h);
        u.extend_from_slice(ops);
        let mut out = (u.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&u);
        out
    }

    /// The rows gimli's iterator gives, and the rows `for_each_row` gives, of `bytes`.
    fn both(bytes: &[u8]) -> (Vec<Row>, Vec<Row>) {
        let dl = gimli::DebugLine::new(bytes, LittleEndian);
        let program = dl.program(gimli::DebugLineOffset(0), 8, None, None).expect("header parses");
        let header = program.header();
        let p = Params::of(header, header.standard_opcode_lengths().slice()).expect("plain encoding");
        let mut ours = Vec::new();
        for_each_row(header.raw_program_buf().slice(), &p, |r| ours.push(*r));
        let mut theirs = Vec::new();
        let mut rows = program.clone().rows();
        while let Ok(Some((_, row))) = rows.next_row() {
            theirs.push(Row::from_gimli(row));
        }
        (theirs, ours)
    }

    /// The LEB128 encodings of the rebuild's writer, appended to `out`.
    fn uleb(out: &mut Vec<u8>, v: u64) {
        let mut w = RowBytes::default();
        w.uleb(v);
        out.extend_from_slice(w.bytes());
    }

    fn sleb(out: &mut Vec<u8>, v: i64) {
        let mut w = RowBytes::default();
        w.sleb(v);
        out.extend_from_slice(w.bytes());
    }

    /// Opcodes of every kind, compiler-like and not: special opcodes, every standard
    /// opcode with small and extreme operands, addresses that go back or are tombstones,
    /// sequences ending, DW_LNE_define_file, discriminators, unknown and truncated
    /// extended opcodes, unknown standard opcodes, overlong LEB128 and random bytes.
    fn program(seed: u64, opcode_base: u8) -> Vec<u8> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ops = Vec::new();
        let mut addr = 0x1_0000_0000u64;
        for _ in 0..400 {
            let r = next();
            match r % 24 {
                0..=7 => ops.push(opcode_base.wrapping_add((r >> 8) as u8 % (255 - opcode_base + 1))),
                8 => {
                    ops.push(2);
                    uleb(&mut ops, [(r >> 8) % 64, (r >> 8) % 100_000, u64::MAX >> (r % 3)][(r >> 40) as usize % 3]);
                }
                9 => {
                    ops.push(3);
                    sleb(
                        &mut ops,
                        [((r >> 8) % 200) as i64 - 100, -(1 << 40), i64::MIN + 1, i64::MAX][(r >> 40) as usize % 4],
                    );
                }
                10 => {
                    ops.push([4, 5, 12][(r >> 8) as usize % 3]);
                    uleb(&mut ops, (r >> 16) % [3, 300, u64::MAX][(r >> 40) as usize % 3].max(1));
                }
                11 => ops.push([1, 6, 7, 8, 10, 11][(r >> 8) as usize % 6]),
                12 => {
                    ops.push(9);
                    ops.extend_from_slice(&((r >> 8) as u16).to_le_bytes());
                }
                13 | 14 => {
                    addr = match (r >> 8) % 6 {
                        0 => addr.wrapping_sub((r >> 16) % 100),
                        1 => u64::MAX - (r >> 16) % 3,
                        2 => 0,
                        _ => addr.wrapping_add((r >> 16) % 4096),
                    };
                    ops.extend_from_slice(&[0, 9, 2]);
                    ops.extend_from_slice(&addr.to_le_bytes());
                }
                15 => ops.extend_from_slice(&[0, 1, 1]),
                16 => {
                    let mut d = Vec::new();
                    uleb(&mut d, (r >> 8) % 1000);
                    ops.extend_from_slice(&[0, 1 + d.len() as u8, 4]);
                    ops.extend_from_slice(&d);
                }
                17 => {
                    ops.extend_from_slice(&[0, 7, 3, b'x', b'.', b'c', 0, 1, 0, 0][..if r % 5 == 0 { 6 } else { 10 }])
                }
                18 => ops.extend_from_slice(&[0, 3, 0x80 | ((r >> 8) as u8 % 0x7F), 1, 2]),
                19 => ops.extend_from_slice(&[0, 5, 2, 1, 2]), // set_address cut short
                20 if opcode_base > 13 => {
                    ops.push(13);
                    uleb(&mut ops, r >> 20);
                    uleb(&mut ops, r >> 30);
                }
                21 => ops.extend_from_slice(
                    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02][..(r % 11) as usize],
                ),
                22 => ops.push((r >> 8) as u8),
                _ => ops.push(1),
            }
        }
        ops
    }

    /// The opcode reader gives exactly the rows of gimli's iterator, and stops where it
    /// stops, on generated programs under several headers (DWARF 2-4, opcode bases below
    /// and above the standard 13, instruction lengths 1 and 4) and on every prefix of
    /// some of them (a program cut anywhere).
    #[test]
    fn the_opcode_reader_gives_gimlis_rows() {
        let mut compared = 0;
        for (version, min_inst, line_base, line_range, opcode_base) in
            [(4, 1, -5, 14, 13), (3, 1, -3, 12, 10), (2, 4, -1, 4, 16), (4, 1, -10, 30, 14)]
        {
            for seed in 1..120u64 {
                let ops = program(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), opcode_base);
                let cuts: Vec<usize> = if seed % 20 == 0 { (0..=ops.len()).collect() } else { vec![ops.len()] };
                for cut in cuts {
                    let (theirs, ours) =
                        both(&unit(version, min_inst, line_base, line_range, opcode_base, &ops[..cut]));
                    assert_eq!(ours, theirs, "header v{version} base {opcode_base}, seed {seed}, cut {cut}");
                    compared += theirs.len();
                }
            }
        }
        assert!(compared > 100_000, "{compared} rows compared");
    }

    /// Stepping from any hint finds the partition point bisection finds.
    #[test]
    fn nearest_from_agrees_with_bisection() {
        let map: Vec<(u32, u32)> = (0..200u32).map(|k| (k * 3 + k % 3, k * 7)).collect();
        for hint in [None, Some(0), Some(1), Some(57), Some(199), Some(200), Some(500)] {
            for off in 0..700u32 {
                assert_eq!(nearest_from(&map, hint, off), map.partition_point(|&(i, _)| i <= off), "{hint:?} {off}");
            }
        }
        assert_eq!(nearest_from(&[], Some(0), 5), 0);
    }
}
