//! Phase 4, layout: assigns every kept section its guest address (RUNTIME.md section 1,
//! FORM.md section 2). Code starts at CODE_START as one R+X segment, each rewritten
//! section on a bundle boundary and NOP-padded between sections (so `.init`/`.fini`
//! fragments fall through), ending in a HLT sled up to the next 64 KiB boundary; then
//! read-only data (the ELF header and program headers when `__ehdr_start` is referenced,
//! then the GOT, holding only the slots of references that relocation cannot relax);
//! then data and bss, each segment 4 KiB aligned. TLS sections (`.tdata`, `.tbss`)
//! open the data segment and are described by PT_TLS.
//! Debug sections get offsets inside their concatenated output section.

use std::collections::{HashMap, HashSet};

use crate::error::{LinkError, Result};
use crate::inputs::Class;
use crate::relocate;
use crate::resolve::{Def, Resolved, LINKER_SYMBOLS};
use crate::rewrite::Rewritten;
use crate::write;
use zvcore::form;

/// One placed input section.
#[derive(Clone, Copy, Debug)]
pub struct Piece {
    /// Object index.
    pub obj: u32,
    /// Section index.
    pub sec: u32,
    /// Guest address (or offset within the debug section for debug pieces).
    pub addr: u64,
    /// Size in the output.
    pub size: u64,
}

/// A loadable segment being built.
#[derive(Debug, Default)]
pub struct Segment {
    /// Guest address.
    pub vaddr: u64,
    /// Bytes present in the file.
    pub filesz: u64,
    /// Bytes in memory (filesz plus bss).
    pub memsz: u64,
    /// Input sections in address order.
    pub pieces: Vec<Piece>,
}

/// The thread-local storage template.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tls {
    /// Guest address of the template.
    pub vaddr: u64,
    /// Initialised bytes.
    pub filesz: u64,
    /// Whole size.
    pub memsz: u64,
    /// Alignment.
    pub align: u64,
}

impl Tls {
    /// Offset of the thread pointer from the template start (x86-64 variant II: the
    /// block lies just below the thread pointer).
    pub fn tp_offset(&self) -> u64 {
        self.memsz.next_multiple_of(self.align.max(1))
    }
}

/// A GOT slot: what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GotSlot {
    /// The address of a symbol.
    Address(Def),
    /// The TLS offset (from the thread pointer) of a TLS symbol.
    TpOff(Def),
}

/// The whole layout.
#[derive(Debug, Default)]
pub struct Layout {
    /// Code pieces with the index of their rewritten section.
    pub code: Vec<(Piece, usize)>,
    /// End of the code that was linked (before the HLT sled).
    pub code_content_end: u64,
    /// Size of the code segment including the sled.
    pub code_size: u64,
    /// Read-only data.
    pub rodata: Segment,
    /// Data and bss.
    pub data: Segment,
    /// TLS template, if any TLS section exists.
    pub tls: Option<Tls>,
    /// The `.tbss` sections in the template, after `.tdata` (addresses in the template's
    /// memory only: they take no room in the data segment's bytes), for the map.
    pub tbss: Vec<Piece>,
    /// GOT slots in order, at `got_addr`.
    pub got: Vec<GotSlot>,
    /// Index of each GOT slot.
    pub got_index: HashMap<GotSlot, u32>,
    /// Guest address of the GOT.
    pub got_addr: u64,
    /// Addresses of common symbols.
    pub commons: Vec<u64>,
    /// Values of linker-defined symbols.
    pub linker: Vec<u64>,
    /// Debug sections by name: pieces (addr is the offset) and total size.
    pub debug: Vec<(String, Vec<Piece>, u64)>,
    /// Per object, per section: the address (or debug offset) of placed sections.
    pub addr: Vec<Vec<Option<u64>>>,
    /// Per object, per section: index into the rewritten sections, for code.
    pub code_index: Vec<Vec<Option<usize>>>,
    /// Start of bss in the data segment.
    pub bss_start: u64,
    /// `__ehdr_start` is referenced: the read-only segment opens with
    /// [`write::HEADERS_ROOM`] bytes that the writer fills with the ELF header and the
    /// program headers (and maps from file offset 0), and `__ehdr_start` is its address.
    pub headers: bool,
}

/// The sort key of an array section, as GNU ld's `SORT_BY_INIT_PRIORITY`: `.init_array.N`
/// (and `.fini_array.N`, `.preinit_array.N`) is N, `.ctors.N`/`.dtors.N` is 65535 - N
/// (they run from the end), and sections without a priority come after all of them, in
/// input order (the sort is stable).
fn init_priority(name: &str) -> u32 {
    let Some((base, n)) = name.rsplit_once('.') else { return 65536 };
    let Ok(n) = n.parse::<u32>() else { return 65536 };
    if base == ".ctors" || base == ".dtors" {
        65535u32.saturating_sub(n)
    } else {
        n
    }
}

/// The GOT slots some instruction still reads: `got` (every slot a GOT-reading
/// relocation names) without those whose every reader [`relocate::got_relaxation`]
/// relaxes, in the same order. A GOT-reading relocation outside code is never relaxed.
/// Runs only when the link has GOT-reading relocations at all (PIC input).
fn unrelaxed_slots(
    res: &Resolved<'_>,
    code: &[(u32, u32)],
    rewritten: &[Rewritten],
    got: Vec<GotSlot>,
) -> Vec<GotSlot> {
    use rayon::prelude::*;
    let slot = |tp: bool, def: Def| if tp { GotSlot::TpOff(def) } else { GotSlot::Address(def) };
    let in_code: Vec<GotSlot> = rewritten
        .par_iter()
        .zip(code.par_iter())
        .flat_map_iter(|(rw, &(obj, _))| {
            rw.relocs.iter().filter_map(move |x| {
                let tp = relocate::got_kind(x.r_type)?;
                // An unresolvable symbol is reported when the code is relocated.
                let def = relocate::out_def(res, obj, x.sym, &crate::error::Location::default).ok()?;
                let relaxed = relocate::got_relaxation(
                    res,
                    &rw.bytes,
                    x.at as usize,
                    x.head,
                    x.r_type,
                    x.addend,
                    i64::from(x.bias),
                    def,
                );
                relaxed.is_none().then_some(slot(tp, def))
            })
        })
        .collect();
    let mut needed: HashSet<GotSlot> = in_code.into_iter().collect();
    for (oi, o) in res.objects.iter().enumerate() {
        for s in &o.sections {
            if s.discarded || matches!(s.class, Class::Code | Class::Drop | Class::Debug) {
                continue;
            }
            for r in &s.relocs {
                if let Some(tp) = relocate::got_kind(r.r_type) {
                    needed.insert(slot(tp, res.def(oi as u32, r.sym)));
                }
            }
        }
    }
    got.into_iter().filter(|g| needed.contains(g)).collect()
}

/// The three largest sections and common symbols of the data and read-only data, for the
/// message of an image that does not fit: object, section or symbol, and size (audit
/// finding: `char big[0x80000000];` was reported with no name).
fn largest_parts(res: &Resolved<'_>, l: &Layout) -> String {
    let mut parts: Vec<(u64, String)> = l
        .rodata
        .pieces
        .iter()
        .chain(&l.data.pieces)
        .map(|p| {
            let o = &res.objects[p.obj as usize];
            (p.size, format!("{}({})", o.name, o.sections[p.sec as usize].name))
        })
        .chain(res.commons.iter().filter(|c| !c.3).map(|c| (c.1, format!("common symbol `{}`", c.0))))
        .collect();
    parts.sort_by_key(|p| std::cmp::Reverse(p.0));
    parts.iter().take(3).map(|(size, what)| format!("{what} {size:#x} bytes")).collect::<Vec<_>>().join(", ")
}

/// Lays out the link. `code` lists the code sections in order with their rewritten form.
pub fn layout(res: &Resolved<'_>, code: &[(u32, u32)], rewritten: &[Rewritten], got: Vec<GotSlot>) -> Result<Layout> {
    let mut l = Layout {
        addr: res.objects.iter().map(|o| vec![None; o.sections.len()]).collect(),
        code_index: res.objects.iter().map(|o| vec![None; o.sections.len()]).collect(),
        ..Default::default()
    };
    // Code.
    let mut cur = form::CODE_START;
    for (i, &(obj, sec)) in code.iter().enumerate() {
        let s = &res.objects[obj as usize].sections[sec as usize];
        cur = cur.next_multiple_of(s.align.clamp(form::BUNDLE, form::PAGE));
        let size = rewritten[i].bytes.len() as u64;
        l.code.push((Piece { obj, sec, addr: cur, size }, i));
        l.addr[obj as usize][sec as usize] = Some(cur);
        l.code_index[obj as usize][sec as usize] = Some(i);
        cur += size;
    }
    l.code_content_end = cur;
    let code_end = (cur + form::HLT_SLED_MIN).next_multiple_of(form::JAIL_GRANULE);
    l.code_size = code_end - form::CODE_START;

    // Collect the other sections by class, in input order.
    let mut by_class: HashMap<Class, Vec<(u32, u32)>> = HashMap::new();
    let mut debug_names: Vec<String> = Vec::new();
    let mut debug: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
    for (oi, o) in res.objects.iter().enumerate() {
        for (si, s) in o.sections.iter().enumerate() {
            if s.discarded {
                continue;
            }
            match s.class {
                Class::Code | Class::Drop => {}
                Class::Debug => {
                    if !debug.contains_key(s.name) {
                        debug_names.push(s.name.to_string());
                    }
                    debug.entry(s.name.to_string()).or_default().push((oi as u32, si as u32));
                }
                c => by_class.entry(c).or_default().push((oi as u32, si as u32)),
            }
        }
    }
    let place = |l: &mut Layout, list: &[(u32, u32)], cur: &mut u64, seg_is_data: bool| {
        for &(obj, sec) in list {
            let s = &res.objects[obj as usize].sections[sec as usize];
            // Saturating: a damaged size or alignment ends as "above CODE_LIMIT" below.
            *cur = cur.checked_next_multiple_of(s.align.max(1)).unwrap_or(u64::MAX);
            l.addr[obj as usize][sec as usize] = Some(*cur);
            let p = Piece { obj, sec, addr: *cur, size: s.size };
            if seg_is_data {
                l.data.pieces.push(p);
            } else {
                l.rodata.pieces.push(p);
            }
            *cur = cur.saturating_add(s.size);
        }
    };
    // Sections with C-identifier names go after the others of their class, grouped by
    // name (in order of first appearance), so that `__start_NAME`/`__stop_NAME` bound
    // them all, as GNU ld does.
    let get = |c: Class| {
        let mut list = by_class.get(&c).cloned().unwrap_or_default();
        let name = |&(o, s): &(u32, u32)| res.objects[o as usize].sections[s as usize].name;
        let mut first: Vec<&str> = Vec::new();
        for p in &list {
            let n = name(p);
            if crate::resolve::is_c_identifier(n) && !first.contains(&n) {
                first.push(n);
            }
        }
        if !first.is_empty() {
            list.sort_by_key(|p| first.iter().position(|n| *n == name(p)).map_or(0, |i| i + 1));
        }
        list
    };

    // Read-only data: the ELF headers when `__ehdr_start` is referenced, the GOT, then
    // .rodata.
    l.rodata.vaddr = code_end;
    let mut cur = code_end;
    let ehdr = LINKER_SYMBOLS.iter().position(|n| *n == "__ehdr_start");
    l.headers = ehdr.is_some_and(|i| res.linker_used[i]);
    if l.headers {
        cur += write::HEADERS_ROOM;
    }
    l.got_addr = cur;
    let got = if got.is_empty() { got } else { unrelaxed_slots(res, code, rewritten, got) };
    l.got_index = got.iter().enumerate().map(|(i, g)| (*g, i as u32)).collect();
    cur += 8 * got.len() as u64;
    l.got = got;
    place(&mut l, &get(Class::RoData), &mut cur, false);
    l.rodata.filesz = cur - l.rodata.vaddr;
    l.rodata.memsz = l.rodata.filesz;

    // Data: TLS, arrays, data, then bss and commons.
    let data_start = cur.next_multiple_of(form::PAGE);
    l.data.vaddr = data_start;
    let mut cur = data_start;
    let tdata = get(Class::TData);
    let tbss = get(Class::TBss);
    l.commons = vec![0; res.commons.len()];
    let tls_commons = || res.commons.iter().enumerate().filter(|c| c.1 .3);
    if !tdata.is_empty() || !tbss.is_empty() || tls_commons().next().is_some() {
        let align = tdata
            .iter()
            .chain(tbss.iter())
            .map(|&(o, s)| res.objects[o as usize].sections[s as usize].align)
            .chain(tls_commons().map(|(_, c)| c.2))
            .max()
            .unwrap_or(1);
        cur = cur.next_multiple_of(align);
        let start = cur;
        place(&mut l, &tdata, &mut cur, true);
        let filesz = cur - start;
        // .tbss takes addresses after .tdata but no space in the image.
        let mut tcur = cur;
        for &(obj, sec) in &tbss {
            let s = &res.objects[obj as usize].sections[sec as usize];
            tcur = tcur.next_multiple_of(s.align);
            l.addr[obj as usize][sec as usize] = Some(tcur);
            l.tbss.push(Piece { obj, sec, addr: tcur, size: s.size });
            tcur += s.size;
        }
        // Thread-local commons after .tbss, as GNU ld places them.
        for (i, &(_, size, align, _)) in tls_commons() {
            tcur = tcur.next_multiple_of(align.max(1));
            l.commons[i] = tcur;
            tcur += size;
        }
        l.tls = Some(Tls { vaddr: start, filesz, memsz: tcur - start, align });
    }
    let arrays = |c: Class, cur: &mut u64, l: &mut Layout| -> (u64, u64) {
        let mut list = get(c);
        list.sort_by_key(|&(o, s)| init_priority(res.objects[o as usize].sections[s as usize].name));
        *cur = cur.next_multiple_of(8);
        let start = *cur;
        place(l, &list, cur, true);
        (start, *cur)
    };
    let pre = arrays(Class::PreinitArray, &mut cur, &mut l);
    let init = arrays(Class::InitArray, &mut cur, &mut l);
    let fini = arrays(Class::FiniArray, &mut cur, &mut l);
    place(&mut l, &get(Class::Data), &mut cur, true);
    let edata = cur;
    l.data.filesz = edata - data_start;
    l.bss_start = edata;
    place(&mut l, &get(Class::Bss), &mut cur, true);
    for (i, &(_, size, align, tls)) in res.commons.iter().enumerate() {
        if !tls {
            cur = cur.checked_next_multiple_of(align.max(1)).unwrap_or(u64::MAX);
            l.commons[i] = cur;
            cur = cur.saturating_add(size);
        }
    }
    let end = cur;
    if end > form::CODE_LIMIT {
        return Err(LinkError::Layout {
            reason: format!(
                "the image ends at {end:#x}, above CODE_LIMIT {:#x} (a nexe's code and data fit in 2 GiB); the \
                 largest parts: {}",
                form::CODE_LIMIT,
                largest_parts(res, &l)
            ),
        });
    }
    l.data.memsz = end - data_start;

    // Debug sections: offsets within each output section.
    for name in debug_names {
        let mut off = 0u64;
        let mut pieces = Vec::new();
        for &(obj, sec) in &debug[&name] {
            let s = &res.objects[obj as usize].sections[sec as usize];
            // At most a page: an output debug section is written with alignment 1, and a
            // damaged alignment of 2^31 made a 2 GB file of padding (audit finding).
            off = off.next_multiple_of(s.align.clamp(1, form::PAGE));
            l.addr[obj as usize][sec as usize] = Some(off);
            pieces.push(Piece { obj, sec, addr: off, size: s.size });
            off += s.size;
        }
        l.debug.push((name, pieces, off));
    }

    // Linker-defined symbols.
    l.linker = LINKER_SYMBOLS
        .iter()
        .map(|n| match *n {
            "__preinit_array_start" => pre.0,
            "__preinit_array_end" => pre.1,
            "__init_array_start" => init.0,
            "__init_array_end" => init.1,
            "__fini_array_start" => fini.0,
            "__fini_array_end" => fini.1,
            "_etext" | "etext" | "__etext" => l.code_content_end,
            "_edata" | "edata" => edata,
            "__bss_start" => edata,
            "_end" | "end" => end,
            "_GLOBAL_OFFSET_TABLE_" => l.got_addr,
            "__executable_start" => form::CODE_START,
            "__ehdr_start" if l.headers => l.rodata.vaddr,
            _ => 0,
        })
        .collect();
    for name in &res.section_bounds {
        let mut bounds: Option<(u64, u64)> = None;
        for p in l.code.iter().map(|(p, _)| p).chain(&l.rodata.pieces).chain(&l.data.pieces) {
            if res.objects[p.obj as usize].sections[p.sec as usize].name == name {
                let (a, b) = bounds.unwrap_or((p.addr, p.addr + p.size));
                bounds = Some((a.min(p.addr), b.max(p.addr + p.size)));
            }
        }
        let (a, b) = bounds.unwrap_or((0, 0));
        l.linker.extend([a, b]);
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::init_priority;

    /// GNU ld's SORT_BY_INIT_PRIORITY: `.ctors.N` is priority 65535 - N; sections without
    /// a number sort after every numbered one.
    #[test]
    fn array_sections_sort_by_init_priority() {
        let mut names = vec![".init_array", ".ctors", ".init_array.00200", ".ctors.65435", ".init_array.00101"];
        names.sort_by_key(|n| init_priority(n));
        assert_eq!(names, [".ctors.65435", ".init_array.00101", ".init_array.00200", ".init_array", ".ctors"]);
        assert_eq!(init_priority(".dtors.65235"), 300);
        assert_eq!(init_priority(".fini_array.00300"), 300);
    }
}
