//! `.debug_frame` for rewritten code: call frame information (CFI) that follows the
//! rewrite, so that a debugger's backtraces inside rewritten functions are right.
//!
//! An FDE (frame description entry) covers one function: its start address, its length,
//! and rows that say how to find the caller's frame from each instruction on, each row
//! starting a number of bytes after the previous one (`DW_CFA_advance_loc`). Rewriting
//! moves and grows code, so both the lengths and the advances of the input are stale
//! (relocating alone fixes only the start). For every object this module reads its
//! `.debug_frame`, or its `.eh_frame` when it has none and was compiled with `-g` (gcc's
//! default unwind tables; `.eh_frame` is not loaded into a nexe, nothing unwinds at run
//! time), with gimli,
//! translates each FDE's start, end and every row's address through the offset maps, and
//! writes all FDEs into one new `.debug_frame` (identical CIEs shared). A row starts at
//! the output address of the input instruction it started at, so at the same instruction.
//!
//! Best effort, as for the other debug sections: an FDE whose function was not linked is
//! left out, and when some object's frame information cannot be read, [`rebuild`]
//! returns `None` and the input `.debug_frame` sections are relocated and kept as they
//! were (starts right, lengths and advances the input's).

use std::collections::HashMap;

use gimli::write::{self, Address, CallFrameInstruction as Out, CieId, EndianVec, Expression, FrameTable};
use gimli::{CallFrameInstruction as In, EndianSlice, LittleEndian, UnwindSection};
use object::elf;
use rayon::prelude::*;

use crate::debuginfo::has_info;
use crate::debugline::{relocated, virtual_address, Translator};
use crate::inputs::{Class, SymDef};
use crate::layout::Layout;
use crate::relocate::Addresses;
use crate::resolve::Resolved;

type Slice<'d> = EndianSlice<'d, LittleEndian>;

/// One object's frame entries, translated: its CIEs (by their offset in the object's
/// section) and its FDEs (CIE offset, FDE).
struct ObjectFrames {
    cies: Vec<(usize, write::CommonInformationEntry)>,
    fdes: Vec<(usize, write::FrameDescriptionEntry)>,
}

/// An instruction of the output: offsets are made actual (unfactored) with the CIE's
/// factors, as gimli's writer expects them; `None` for advances and padding, which the
/// caller handles.
fn convert<'d, S: UnwindSection<Slice<'d>>>(
    ins: In<usize>,
    cie: &gimli::CommonInformationEntry<Slice<'d>>,
    frame: &S,
) -> Option<Out> {
    let daf = cie.data_alignment_factor();
    let expr = |e: gimli::UnwindExpression<usize>| -> Option<Expression> {
        let bytes = e.get(frame).ok()?;
        Some(Expression::raw(bytes.0.slice().to_vec()))
    };
    // gimli's writer divides offsets by the data alignment factor: i32::MIN / -1 would
    // overflow.
    let off = |v: i64| i32::try_from(v).ok().filter(|&x| x != i32::MIN);
    Some(match ins {
        In::SetLoc { .. } | In::AdvanceLoc { .. } | In::Nop => return None,
        In::DefCfa { register, offset } => Out::Cfa(register, off(offset as i64)?),
        In::DefCfaSf { register, factored_offset } => Out::Cfa(register, off(factored_offset.checked_mul(daf)?)?),
        In::DefCfaRegister { register } => Out::CfaRegister(register),
        In::DefCfaOffset { offset } => Out::CfaOffset(off(offset as i64)?),
        In::DefCfaOffsetSf { factored_offset } => Out::CfaOffset(off(factored_offset.checked_mul(daf)?)?),
        In::DefCfaExpression { expression } => Out::CfaExpression(expr(expression)?),
        In::Undefined { register } => Out::Undefined(register),
        In::SameValue { register } => Out::SameValue(register),
        In::Offset { register, factored_offset } => {
            Out::Offset(register, off((factored_offset as i64).checked_mul(daf)?)?)
        }
        In::OffsetExtendedSf { register, factored_offset } => {
            Out::Offset(register, off(factored_offset.checked_mul(daf)?)?)
        }
        In::ValOffset { register, factored_offset } => {
            Out::ValOffset(register, off((factored_offset as i64).checked_mul(daf)?)?)
        }
        In::ValOffsetSf { register, factored_offset } => {
            Out::ValOffset(register, off(factored_offset.checked_mul(daf)?)?)
        }
        In::Register { dest_register, src_register } => Out::Register(dest_register, src_register),
        In::Expression { register, expression } => Out::Expression(register, expr(expression)?),
        In::ValExpression { register, expression } => Out::ValExpression(register, expr(expression)?),
        In::Restore { register } => Out::Restore(register),
        In::RememberState => Out::RememberState,
        In::RestoreState => Out::RestoreState,
        In::ArgsSize { size } => Out::ArgsSize(u32::try_from(size).ok()?),
        In::NegateRaState => Out::NegateRaState,
    })
}

/// A CIE of the input as the writer's: the same encoding, factors, return-address
/// register and initial instructions (which never advance).
fn convert_cie<'d, S: UnwindSection<Slice<'d>>>(
    cie: &gimli::CommonInformationEntry<Slice<'d>>,
    frame: &S,
) -> Option<write::CommonInformationEntry> {
    // Zero factors (malformed input) would divide by zero in gimli's writer.
    let caf = u8::try_from(cie.code_alignment_factor()).ok().filter(|&f| f != 0)?;
    let daf = i8::try_from(cie.data_alignment_factor()).ok().filter(|&f| f != 0)?;
    let mut out = write::CommonInformationEntry::new(cie.encoding(), caf, daf, cie.return_address_register());
    let bases = gimli::BaseAddresses::default();
    let mut it = cie.instructions(frame, &bases);
    while let Some(ins) = it.next().ok()? {
        match ins {
            In::SetLoc { .. } | In::AdvanceLoc { .. } => return None,
            other => {
                if let Some(i) = convert(other, cie, frame) {
                    out.add_instruction(i);
                }
            }
        }
    }
    Some(out)
}

/// The frame entries of one section (`.debug_frame` or `.eh_frame`), translated: `at`
/// gives the input address ([`virtual_address`]) of the code `delta` bytes after an FDE's
/// start address as the section reads it (see [`object_frames`]), which is translated to
/// the output's with a cursor per piece (an FDE's rows go forward). The entries are read
/// in one pass (each CIE parsed once), then translated in parallel pieces (a large object
/// has thousands).
fn frames<'d, S: UnwindSection<Slice<'d>> + Sync>(
    frame: &S,
    bases: &gimli::BaseAddresses,
    at: &(dyn Fn(u64, u64) -> Option<u64> + Sync),
    a: &Addresses<'_, '_>,
    code: &[(u32, u32)],
) -> Option<ObjectFrames> {
    let mut parsed: HashMap<usize, gimli::CommonInformationEntry<Slice<'d>>> = HashMap::new();
    let mut fdes = Vec::new();
    let mut entries = frame.entries(bases);
    while let Some(entry) = entries.next().ok()? {
        let gimli::CieOrFde::Fde(partial) = entry else { continue };
        let fde = partial
            .parse(|section: &S, bases, offset| {
                let key: usize = gimli::UnwindOffset::into(offset);
                if let Some(cie) = parsed.get(&key) {
                    return Ok(cie.clone());
                }
                let cie = section.cie_from_offset(bases, offset)?;
                parsed.insert(key, cie.clone());
                Ok(cie)
            })
            .ok()?;
        fdes.push(fde);
    }
    let mut cies = Vec::with_capacity(parsed.len());
    for (off, cie) in &parsed {
        cies.push((*off, convert_cie(cie, frame)?));
    }
    cies.sort_by_key(|&(off, _)| off);
    let pieces: Vec<Option<Vec<(usize, write::FrameDescriptionEntry)>>> = fdes
        .par_chunks(128)
        .map(|chunk| {
            let mut out = Vec::with_capacity(chunk.len());
            let mut tr = Translator::new(a, code);
            let mut to_out = |start: u64, delta: u64| tr.get(at(start, delta)?);
            for fde in chunk {
                if let Some(w) = translate_fde(fde, frame, bases, &mut to_out)? {
                    out.push((fde.cie().offset(), w));
                }
            }
            Some(out)
        })
        .collect();
    let mut out = ObjectFrames { cies, fdes: Vec::with_capacity(fdes.len()) };
    for p in pieces {
        out.fdes.extend(p?);
    }
    Some(out)
}

/// One FDE with its start, length and rows translated: `Some(None)` when its function
/// was not linked (a discarded COMDAT copy, an unused section), `None` when its
/// instructions do not read.
fn translate_fde<'d, S: UnwindSection<Slice<'d>>>(
    fde: &gimli::FrameDescriptionEntry<Slice<'d>>,
    frame: &S,
    bases: &gimli::BaseAddresses,
    at: &mut dyn FnMut(u64, u64) -> Option<u64>,
) -> Option<Option<write::FrameDescriptionEntry>> {
    let cie = fde.cie();
    let start = fde.initial_address();
    let (Some(new_start), Some(new_end)) = (at(start, 0), at(start, fde.len())) else { return Some(None) };
    let Some(length) = new_end.checked_sub(new_start).and_then(|l| u32::try_from(l).ok()) else { return Some(None) };
    let mut w = write::FrameDescriptionEntry::new(Address::Constant(new_start), length);
    let caf = cie.code_alignment_factor();
    let mut delta = 0u64;
    let mut last = 0u32;
    let mut it = fde.instructions(frame, bases);
    while let Some(ins) = it.next().ok()? {
        match ins {
            In::AdvanceLoc { delta: d } => delta = delta.wrapping_add(u64::from(d).wrapping_mul(caf)),
            In::SetLoc { address } => delta = address.wrapping_sub(start),
            other => {
                let Some(i) = convert(other, cie, frame) else { continue };
                // The row's output address: that of the input instruction it starts at
                // (rows only move forward: the rewrite keeps instruction order).
                let row = at(start, delta).and_then(|x| x.checked_sub(new_start)).and_then(|x| u32::try_from(x).ok());
                let row = row.unwrap_or(last).clamp(last, length);
                w.add_instruction(row, i);
                last = row;
            }
        }
    }
    Some(Some(w))
}

/// Where the side-table indices of [`object_frames`] start: above any offset in an
/// `.eh_frame`, and low enough that index minus offset fits a signed 32-bit field.
const INDEX_BASE: u64 = 1 << 30;

/// The translated frame entries of object `oi`'s section `si`, a `.debug_frame` or an
/// `.eh_frame`; `None` when it does not read as CFI.
///
/// A `.debug_frame` is relocated in input terms ([`relocated`]). An `.eh_frame` holds
/// its addresses PC-relative (`R_X86_64_PC32` against the code), which input terms
/// cannot express in 32 bits: each such field is set to the index of its target in a
/// side table (plus [`INDEX_BASE`]), minus the field's offset, so that gimli, reading the
/// section as if it were at address 0, computes the index (offset + value) as the
/// address; absolute fields (`R_X86_64_64`, `_32`) hold the index itself. Targets outside
/// the code (personality routines, LSDAs) are index 0, which translates to nothing, and
/// so does a field no relocation set (it reads as its own offset, below the base).
fn object_frames(
    res: &Resolved<'_>,
    oi: u32,
    si: usize,
    lay: &Layout,
    a: &Addresses<'_, '_>,
    code: &[(u32, u32)],
) -> Option<ObjectFrames> {
    let o = &res.objects[oi as usize];
    if o.sections[si].name == ".debug_frame" {
        let bytes = relocated(o, oi, si, lay);
        let mut frame = gimli::DebugFrame::new(&bytes, LittleEndian);
        frame.set_address_size(8);
        let at = |start: u64, delta: u64| Some(start.wrapping_add(delta));
        return frames(&frame, &gimli::BaseAddresses::default(), &at, a, code);
    }
    let s = &o.sections[si];
    let mut bytes = s.data.to_vec();
    let mut targets: Vec<Option<u64>> = vec![None];
    for r in &s.relocs {
        let target = match o.symbols.get(r.sym as usize).map(|x| x.def) {
            Some(SymDef::Section { sec, value }) => lay.code_index[oi as usize]
                .get(sec as usize)
                .copied()
                .flatten()
                .map(|ci| virtual_address(ci, value.wrapping_add(r.addend as u64))),
            _ => None,
        };
        let index = INDEX_BASE
            + if target.is_some() {
                targets.push(target);
                targets.len() as u64 - 1
            } else {
                0
            };
        let (value, width) = match r.r_type {
            elf::R_X86_64_PC32 => (index.wrapping_sub(r.offset), 4),
            elf::R_X86_64_64 => (index, 8),
            elf::R_X86_64_32 => (index, 4),
            _ => continue,
        };
        let field = usize::try_from(r.offset).ok()?;
        if let Some(dst) = bytes.get_mut(field..field + width) {
            dst.copy_from_slice(&value.to_le_bytes()[..width]);
        }
    }
    let mut frame = gimli::EhFrame::new(&bytes, LittleEndian);
    frame.set_address_size(8);
    let at = |i: u64, delta: u64| {
        let k = usize::try_from(i.checked_sub(INDEX_BASE)?).ok()?;
        Some(targets.get(k).copied().flatten()?.wrapping_add(delta))
    };
    frames(&frame, &gimli::BaseAddresses::default().set_eh_frame(0), &at, a, code)
}

/// The new `.debug_frame`: every linked function's FDE with translated addresses, lengths
/// and rows; `None` when no input has a `.debug_frame` or one does not read (then the
/// relocated input sections are kept).
pub fn rebuild(res: &Resolved<'_>, lay: &Layout, a: &Addresses<'_, '_>, code: &[(u32, u32)]) -> Option<Vec<u8>> {
    let inputs: Vec<(u32, usize)> = res
        .objects
        .iter()
        .enumerate()
        .flat_map(|(oi, o)| {
            // An object's `.debug_frame` when it has one (gcc writes one or the other),
            // else its `.eh_frame`, which is not loaded (nothing in a nexe unwinds at run
            // time) but tells a debugger how to unwind the object's code: when the object
            // carries debug information (`-g`), as the rest of its unwind tables then
            // serve a debugger; an object built without gets none (its translation costs
            // a link without DWARF about 8%).
            let debug =
                |s: &crate::inputs::Section<'_>| s.name == ".debug_frame" && s.class == Class::Debug && !s.discarded;
            let has_debug = o.sections.iter().any(debug);
            let eh = has_info(o) && !has_debug;
            o.sections
                .iter()
                .enumerate()
                .filter(move |(_, s)| debug(s) || (eh && s.name == ".eh_frame" && !s.data.is_empty()))
                .map(move |(si, _)| (oi as u32, si))
        })
        .collect();
    if inputs.is_empty() {
        return None;
    }
    let per_object: Vec<Option<ObjectFrames>> =
        inputs.par_iter().map(|&(oi, si)| object_frames(res, oi, si, lay, a, code)).collect();
    let mut table = FrameTable::default();
    for frames in per_object {
        let frames = frames?;
        let ids: HashMap<usize, CieId> = frames.cies.into_iter().map(|(off, cie)| (off, table.add_cie(cie))).collect();
        for (cie, fde) in frames.fdes {
            table.add_fde(*ids.get(&cie)?, fde);
        }
    }
    let mut w = write::DebugFrame(EndianVec::new(LittleEndian));
    table.write_debug_frame(&mut w).ok()?;
    Some(w.0.into_vec())
}
