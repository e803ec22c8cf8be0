//! Address ranges in `.debug_info` and `.debug_rnglists` for rewritten code.
//!
//! Rewriting changes function lengths, so lengths stored as constants go stale: the
//! `DW_AT_high_pc` offsets from `DW_AT_low_pc`, and the offset pairs and lengths of range
//! lists. For every object this module reads its DWARF with gimli (in input terms:
//! code addresses are encoded as section index and offset), recomputes each
//! `DW_AT_high_pc` constant as new(low + length) - new(low) (a patch applied to the
//! output `.debug_info` in place, same width), and rewrites every DWARF 5 range list that
//! a `DW_AT_ranges` names as `DW_RLE_start_end` pairs of new addresses in a new
//! `.debug_rnglists`, redirecting the `DW_AT_ranges` offsets. DWARF 4 lists
//! (`.debug_ranges`, fixed 16-byte entries relative to a base address) are patched in
//! place instead, entry for entry, so their offsets do not change, and so are the lengths
//! of `.debug_aranges` (which gdb and llvm-symbolizer use to find a unit by address).
//! Location lists are kept
//! as they are (their offset pairs may be stale; variables' locations in gdb can be off
//! inside rewritten functions). Best effort: never fails a link.

use std::borrow::Cow;
use std::collections::HashMap;

use gimli::{constants, AttributeValue, EndianSlice, LittleEndian};
use rayon::prelude::*;

use crate::debugline::{relocated_except, translate};

use crate::inputs::Class;
use crate::layout::Layout;
use crate::relocate::Addresses;
use crate::resolve::Resolved;

/// The sections whose offsets in `.debug_info` [`fix_object`] never reads (it skips the
/// attributes that hold them, and the strings a unit's header names need not be right).
const UNREAD: [&str; 5] = [".debug_str", ".debug_line_str", ".debug_loclists", ".debug_loc", ".debug_str_offsets"];

/// The new `.debug_rnglists` and the in-place patches of `.debug_info`.
pub struct InfoFix {
    /// The new `.debug_rnglists`.
    pub rnglists: Vec<u8>,
    offsets: HashMap<(u32, u64), u64>,
    /// Per object: (offset in that object's `.debug_info`, width, value).
    pub patches: HashMap<u32, Vec<(u64, usize, u64)>>,
    /// Per object: (offset in that object's `.debug_ranges`, width, value): DWARF 4 range
    /// lists patched in place.
    pub range_patches: HashMap<u32, Vec<(u64, usize, u64)>>,
    /// Per object: (offset in that object's `.debug_aranges`, width, value): the lengths
    /// of its address ranges, patched in place.
    pub aranges_patches: HashMap<u32, Vec<(u64, usize, u64)>>,
}

impl InfoFix {
    /// The new offset of the range list that started at `old` in object `obj`.
    pub fn offset_of(&self, obj: u32, old: u64) -> u64 {
        self.offsets.get(&(obj, old)).copied().unwrap_or(0)
    }
}

struct ObjectFix {
    lists: Vec<u8>,
    offsets: Vec<(u64, u64)>,
    patches: Vec<(u64, usize, u64)>,
    range_patches: Vec<(u64, usize, u64)>,
    aranges_patches: Vec<(u64, usize, u64)>,
}

/// The length patches of one object's `.debug_aranges` (`data`, relocated in input
/// terms): each set of ranges is a header (unit length, version, `.debug_info` offset,
/// address size, segment selector size, padding to twice the address size) and
/// (address, length) pairs up to a (0, 0) pair. The addresses are relocated like any
/// other; the lengths are the input's and become new(address + length) - new(address),
/// as for `DW_AT_high_pc`, so that gdb and llvm-symbolizer, which look a unit up by its
/// address ranges, find the code that grew. A set this does not understand (another
/// address size, a segment selector) is left as it is.
fn fix_aranges(data: &[u8], tr: &dyn Fn(u64) -> Option<u64>, out: &mut Vec<(u64, usize, u64)>) {
    let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let u64_at = |o: usize| data.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let mut at = 0usize;
    while let Some(len32) = u32_at(at) {
        // 32- or 64-bit DWARF: the unit length, then where the header's fields start.
        let (unit_len, fields, offset_size) = if len32 == 0xFFFF_FFFF {
            let Some(l) = u64_at(at + 4) else { return };
            (l, at + 12, 8)
        } else {
            (u64::from(len32), at + 4, 4)
        };
        let Some(end) = usize::try_from(unit_len).ok().and_then(|l| fields.checked_add(l)) else { return };
        if end > data.len() || end <= fields {
            return;
        }
        let address_size = data.get(fields + 2 + offset_size).copied();
        let segment_size = data.get(fields + 3 + offset_size).copied();
        if address_size == Some(8) && segment_size == Some(0) {
            // The pairs start at the first multiple of 16 from the set's start.
            let mut p = (fields + 4 + offset_size - at).next_multiple_of(16) + at;
            while p + 16 <= end {
                let (Some(addr), Some(len)) = (u64_at(p), u64_at(p + 8)) else { break };
                if addr == 0 && len == 0 {
                    break;
                }
                if let (Some(b), Some(e)) = (tr(addr), tr(addr.wrapping_add(len))) {
                    out.push(((p + 8) as u64, 8, e.saturating_sub(b)));
                }
                p += 16;
            }
        }
        at = end;
    }
}

/// Patches one DWARF 4 range list in place: each entry is two 8-byte words (begin, end)
/// relative to the current base (the unit's `DW_AT_low_pc`, or the address of the last
/// base-address selection entry), so every entry is rewritten with the new addresses
/// relative to the new base, and every base-selection address is translated. An entry
/// whose addresses do not translate becomes an empty range (never the (0, 0) that ends a
/// list). gcc writes the offsets of ranges inside a function as label differences that
/// the assembler resolves, with no relocation, so without this they would keep the
/// input's offsets.
fn fix_ranges_v4(
    dwarf: &gimli::Dwarf<EndianSlice<'_, LittleEndian>>,
    unit: &gimli::Unit<EndianSlice<'_, LittleEndian>>,
    off: gimli::RangeListsOffset,
    tr: &dyn Fn(u64) -> Option<u64>,
    out: &mut Vec<(u64, usize, u64)>,
) {
    let Ok(mut it) = dwarf.raw_ranges(unit, off) else { return };
    // Addresses in input terms (code as section index and offset) and in output terms.
    let new_of = |v: u64| if v == 0 { Some(0) } else { tr(v) };
    let (mut base_in, mut base_out) = (unit.low_pc, new_of(unit.low_pc));
    let mut at = off.0 as u64;
    while let Ok(Some(e)) = it.next() {
        match e {
            gimli::RawRngListEntry::BaseAddress { addr } => {
                base_in = addr;
                base_out = new_of(addr);
                if let Some(b) = base_out {
                    out.push((at + 8, 8, b));
                }
            }
            gimli::RawRngListEntry::AddressOrOffsetPair { begin, end } => {
                let new = |x: u64| tr(base_in.wrapping_add(x)).zip(base_out).map(|(a, b)| a.wrapping_sub(b));
                let (b, e) = match (new(begin), new(end)) {
                    (Some(b), Some(e)) if (b, e) != (0, 0) => (b, e),
                    _ => (1, 1),
                };
                out.push((at, 8, b));
                out.push((at + 8, 8, e));
            }
            _ => return,
        }
        at += 16;
    }
}

/// A unit as gimli's `Unit::new` builds it, without its line program (which this module
/// never reads): for a unit whose program cannot be parsed.
fn unit_without_lines<R: gimli::Reader>(
    dwarf: &gimli::Dwarf<R>,
    header: gimli::UnitHeader<R>,
) -> gimli::Result<gimli::Unit<R>> {
    let abbreviations = dwarf.abbreviations(&header)?;
    let enc = header.encoding();
    let mut str_offsets_base = gimli::DebugStrOffsetsBase::default_for_encoding_and_file(enc, dwarf.file_type);
    let mut addr_base = gimli::DebugAddrBase(<R::Offset as gimli::ReaderOffset>::from_u8(0));
    let mut loclists_base = gimli::DebugLocListsBase::default_for_encoding_and_file(enc, dwarf.file_type);
    let mut rnglists_base = gimli::DebugRngListsBase::default_for_encoding_and_file(enc, dwarf.file_type);
    let mut low_pc_attr = None;
    {
        let mut cursor = header.entries(&abbreviations);
        cursor.next_dfs()?;
        let root = cursor.current().ok_or(gimli::Error::MissingUnitDie)?;
        for attr in root.attrs() {
            match (attr.name(), attr.value()) {
                (constants::DW_AT_str_offsets_base, AttributeValue::DebugStrOffsetsBase(b)) => str_offsets_base = b,
                (constants::DW_AT_addr_base | constants::DW_AT_GNU_addr_base, AttributeValue::DebugAddrBase(b)) => {
                    addr_base = b
                }
                (constants::DW_AT_loclists_base, AttributeValue::DebugLocListsBase(b)) => loclists_base = b,
                (
                    constants::DW_AT_rnglists_base | constants::DW_AT_GNU_ranges_base,
                    AttributeValue::DebugRngListsBase(b),
                ) => rnglists_base = b,
                (constants::DW_AT_low_pc, v) => low_pc_attr = Some(v),
                _ => {}
            }
        }
    }
    let mut unit = gimli::Unit {
        abbreviations,
        name: None,
        comp_dir: None,
        low_pc: 0,
        str_offsets_base,
        addr_base,
        loclists_base,
        rnglists_base,
        line_program: None,
        dwo_id: None,
        header,
    };
    if let Some(v) = low_pc_attr {
        if let Some(addr) = dwarf.attr_address(&unit, v)? {
            unit.low_pc = addr;
        }
    }
    Ok(unit)
}

fn fix_object(
    res: &Resolved<'_>,
    oi: u32,
    lay: &Layout,
    a: &Addresses<'_, '_>,
    code: &[(u32, u32)],
) -> Option<ObjectFix> {
    let o = &res.objects[oi as usize];
    // Only the sections whose relocated values this module reads (addresses, and the
    // offsets of range lists and line programs in `.debug_info`) are copied and
    // relocated; the others (strings, line programs, location lists) are read, if at all,
    // only while gimli parses a unit's header, and are borrowed as they are.
    let mut store: HashMap<&str, Cow<'_, [u8]>> = HashMap::new();
    for (si, s) in o.sections.iter().enumerate() {
        if s.class == Class::Debug && !s.discarded {
            let needs_relocation = !s.relocs.is_empty()
                && matches!(
                    s.name,
                    ".debug_info" | ".debug_rnglists" | ".debug_ranges" | ".debug_addr" | ".debug_aranges"
                );
            // In `.debug_info`, the offsets into the string and location-list sections
            // (two thirds of sqlite3's 112,000 relocations) are never read here.
            let skip: &[&str] = if s.name == ".debug_info" { &UNREAD } else { &[] };
            let bytes = if needs_relocation {
                Cow::Owned(relocated_except(o, oi, si, lay, skip))
            } else {
                Cow::Borrowed(s.data)
            };
            store.insert(s.name, bytes);
        }
    }
    let dwarf = gimli::Dwarf::load(|id| -> Result<EndianSlice<'_, LittleEndian>, gimli::Error> {
        Ok(EndianSlice::new(store.get(id.name()).map_or(&[][..], |b| &b[..]), LittleEndian))
    })
    .ok()?;
    let tr = |v: u64| translate(a, code, v);
    let mut fix = ObjectFix {
        lists: Vec::new(),
        offsets: Vec::new(),
        patches: Vec::new(),
        range_patches: Vec::new(),
        aranges_patches: Vec::new(),
    };
    if let Some(aranges) = store.get(".debug_aranges") {
        fix_aranges(aranges, &tr, &mut fix.aranges_patches);
    }
    let mut done: HashMap<u64, ()> = HashMap::new();
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let unit_off = header.offset();
        // A unit whose line program cannot be read (gimli's `Unit` parses it) is still
        // fixed: its ranges must get their new offsets like any other's, or its
        // DW_AT_ranges would name another object's list (audit finding, with a corrupt
        // `.debug_line` header).
        let Ok(unit) = dwarf.unit(header).or_else(|_| unit_without_lines(&dwarf, header)) else { continue };
        let Ok(mut raw) = unit.entries_raw(None) else { continue };
        // Per abbreviation code: 0 not seen yet, 1 has low_pc, high_pc or ranges, 2 none.
        let mut kinds: Vec<u8> = Vec::new();
        while !raw.is_empty() {
            let abbrev = match raw.read_abbreviation() {
                Ok(Some(ab)) => ab,
                Ok(None) => continue,
                Err(_) => break,
            };
            // Most entries (variables, parameters, types) have none of the attributes
            // this reads: their attributes are skipped, not parsed (an error ends the
            // unit either way). Abbreviation codes are small and dense: cached by code.
            let code = abbrev.code() as usize;
            let interesting = match kinds.get(code).copied().unwrap_or(0) {
                0 => {
                    let yes = abbrev.attributes().iter().any(|s| {
                        matches!(s.name(), constants::DW_AT_low_pc | constants::DW_AT_high_pc | constants::DW_AT_ranges)
                    });
                    if code < 1 << 16 {
                        if kinds.len() <= code {
                            kinds.resize(code + 1, 0);
                        }
                        kinds[code] = if yes { 1 } else { 2 };
                    }
                    yes
                }
                v => v == 1,
            };
            if !interesting {
                if raw.skip_attributes(abbrev.attributes()).is_err() {
                    break;
                }
                continue;
            }
            let mut low = None;
            let mut high = None;
            let mut ok = true;
            for spec in abbrev.attributes() {
                let pos = raw.next_offset().0 as u64;
                let Ok(attr) = raw.read_attribute(*spec) else {
                    ok = false;
                    break;
                };
                match attr.name() {
                    constants::DW_AT_low_pc => {
                        if let AttributeValue::Addr(v) = attr.value() {
                            low = Some(v);
                        }
                    }
                    constants::DW_AT_high_pc => {
                        let width = match spec.form() {
                            constants::DW_FORM_data1 => 1,
                            constants::DW_FORM_data2 => 2,
                            constants::DW_FORM_data4 => 4,
                            constants::DW_FORM_data8 => 8,
                            _ => 0,
                        };
                        if let (true, Some(v)) = (width > 0, attr.udata_value()) {
                            high = Some((pos, width, v));
                        }
                    }
                    constants::DW_AT_ranges => {
                        let Ok(Some(off)) = dwarf.attr_ranges_offset(&unit, attr.value()) else { continue };
                        if done.insert(off.0 as u64, ()).is_some() {
                            continue;
                        }
                        if unit.header.version() <= 4 {
                            // DWARF 4: the list stays where it is in `.debug_ranges`
                            // (no offset changes); its entries are patched in place.
                            fix_ranges_v4(&dwarf, &unit, off, &tr, &mut fix.range_patches);
                            continue;
                        }
                        let Ok(mut it) = dwarf.ranges(&unit, off) else { continue };
                        fix.offsets.push((off.0 as u64, fix.lists.len() as u64));
                        while let Ok(Some(r)) = it.next() {
                            let (Some(b), Some(e)) = (tr(r.begin), tr(r.end)) else { continue };
                            fix.lists.push(constants::DW_RLE_start_end.0);
                            fix.lists.extend_from_slice(&b.to_le_bytes());
                            fix.lists.extend_from_slice(&e.to_le_bytes());
                        }
                        fix.lists.push(constants::DW_RLE_end_of_list.0);
                    }
                    _ => {}
                }
            }
            if !ok {
                break;
            }
            if let (Some(lo), Some((pos, width, len))) = (low, high) {
                if let (Some(b), Some(e)) = (tr(lo), tr(lo.wrapping_add(len))) {
                    let v = e.saturating_sub(b);
                    if width == 8 || v < (1u64 << (8 * width)) {
                        fix.patches.push((unit_off.0 as u64 + pos, width, v));
                    }
                }
            }
        }
    }
    Some(fix)
}

/// Whether the object has a `.debug_info` that is linked (it was compiled with `-g`).
pub(crate) fn has_info(o: &crate::inputs::Object<'_>) -> bool {
    o.sections.iter().any(|s| s.name == ".debug_info" && s.class == Class::Debug && !s.discarded)
}

/// Whether some input has a `.debug_info` (then [`rebuild`] returns `Some`).
pub fn has_input(res: &Resolved<'_>) -> bool {
    res.objects.iter().any(has_info)
}

/// Rebuilds `.debug_rnglists` and computes the `.debug_info` patches; `None` when no
/// input has `.debug_info`.
pub fn rebuild(res: &Resolved<'_>, lay: &Layout, a: &Addresses<'_, '_>, code: &[(u32, u32)]) -> Option<InfoFix> {
    let objs: Vec<u32> = res.objects.iter().enumerate().filter(|(_, o)| has_info(o)).map(|(i, _)| i as u32).collect();
    if objs.is_empty() {
        return None;
    }
    let fixes: Vec<Option<ObjectFix>> = objs.par_iter().map(|&oi| fix_object(res, oi, lay, a, code)).collect();
    let mut out = InfoFix {
        rnglists: Vec::new(),
        offsets: HashMap::new(),
        patches: HashMap::new(),
        range_patches: HashMap::new(),
        aranges_patches: HashMap::new(),
    };
    for (oi, f) in objs.iter().zip(fixes) {
        let Some(f) = f else { continue };
        if !f.offsets.is_empty() {
            // One DWARF 5 range-list table per object.
            let body = 8 + f.lists.len() as u32;
            let base = out.rnglists.len() as u64 + 12;
            out.rnglists.extend_from_slice(&body.to_le_bytes());
            out.rnglists.extend_from_slice(&5u16.to_le_bytes());
            out.rnglists.push(8);
            out.rnglists.push(0);
            out.rnglists.extend_from_slice(&0u32.to_le_bytes());
            out.rnglists.extend_from_slice(&f.lists);
            for (old, new) in f.offsets {
                out.offsets.insert((*oi, old), base + new);
            }
        }
        out.patches.insert(*oi, f.patches);
        if !f.range_patches.is_empty() {
            out.range_patches.insert(*oi, f.range_patches);
        }
        if !f.aranges_patches.is_empty() {
            out.aranges_patches.insert(*oi, f.aranges_patches);
        }
    }
    Some(out)
}
