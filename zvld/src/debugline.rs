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
    let s = &o.sections[sec];
    let mut bytes = s.data.to_vec();
    for r in &s.relocs {
        let sym = &o.symbols[r.sym as usize];
        let (tsec, value) = match sym.def {
            SymDef::Section { sec, value } => (sec as usize, value),
            _ => continue,
        };
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

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7F) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        out.push(if done { b } else { b | 0x80 });
        if done {
            return;
        }
    }
}

/// The line-number state machine registers the writer has last emitted.
/// One object's new programs and (old offset, new offset) of each.
type Rebuilt = (Vec<u8>, Vec<(u64, u64)>);

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
        let mut rows = program.rows();
        let mut tr = Translator::new(a, code);
        while let Ok(Some((_, row))) = rows.next_row() {
            if skip {
                skip = !row.end_sequence();
                continue;
            }
            let Some(addr) = tr.get(row.address()) else {
                if in_seq {
                    out.extend_from_slice(&[0, 1, 1]);
                    in_seq = false;
                    st = fresh();
                }
                skip = !row.end_sequence();
                continue;
            };
            if !in_seq {
                out.extend_from_slice(&[0, 9, 2]);
                out.extend_from_slice(&addr.to_le_bytes());
                st.addr = addr;
                in_seq = true;
            } else if addr > st.addr {
                out.push(2);
                uleb(&mut out, addr - st.addr);
                st.addr = addr;
            }
            if row.end_sequence() {
                out.extend_from_slice(&[0, 1, 1]);
                in_seq = false;
                st = fresh();
                continue;
            }
            if row.file_index() != st.file {
                out.push(4);
                uleb(&mut out, row.file_index());
                st.file = row.file_index();
            }
            let line = row.line().map_or(0, |l| l.get());
            if line != st.line {
                out.push(3);
                sleb(&mut out, line as i64 - st.line as i64);
                st.line = line;
            }
            let column = match row.column() {
                gimli::ColumnType::LeftEdge => 0,
                gimli::ColumnType::Column(c) => c.get(),
            };
            if column != st.column {
                out.push(5);
                uleb(&mut out, column);
                st.column = column;
            }
            if row.is_stmt() != st.is_stmt {
                out.push(6);
                st.is_stmt = row.is_stmt();
            }
            if row.discriminator() != 0 {
                let mut d = Vec::new();
                uleb(&mut d, row.discriminator());
                out.extend_from_slice(&[0, 1 + d.len() as u8, 4]);
                out.extend_from_slice(&d);
            }
            if row.basic_block() {
                out.push(7);
            }
            if row.prologue_end() {
                out.push(10);
            }
            if row.epilogue_begin() {
                out.push(11);
            }
            out.push(1);
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
    use super::nearest_from;

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
