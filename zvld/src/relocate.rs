//! Phase 5, relocation: computes symbol addresses from the layout and patches every
//! field. A symbol in a code section is translated through that section's old-to-new
//! offset map; for a PC-relative field the *target* (symbol + addend + the distance from
//! the field to the end of its instruction) is what is translated, so references into
//! rewritten code land on the rewritten instruction. GOT-relative forms use the GOT that
//! the layout placed in read-only data; TLS forms relax to local-exec offsets from the
//! thread pointer (R_X86_64_DTPOFF32 in code too: the rewriter relaxed the local-dynamic
//! sequence that computed its base to a load of the thread pointer).

use object::elf;

use crate::error::{LinkError, Location, Result};
use crate::inputs::Class;
use crate::layout::{GotSlot, Layout};
use crate::resolve::{Def, Resolved};
use crate::rewrite::{RelSym, Rewritten};

/// Everything needed to compute addresses.
pub struct Addresses<'r, 'a> {
    /// Resolution.
    pub res: &'r Resolved<'a>,
    /// Layout.
    pub layout: &'r Layout,
    /// Rewritten code sections.
    pub code: &'r [Rewritten],
}

/// Name of a relocation type for messages.
pub fn reloc_name(t: u32) -> String {
    let n = match t {
        elf::R_X86_64_64 => "R_X86_64_64",
        elf::R_X86_64_PC32 => "R_X86_64_PC32",
        elf::R_X86_64_GOT32 => "R_X86_64_GOT32",
        elf::R_X86_64_PLT32 => "R_X86_64_PLT32",
        elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
        elf::R_X86_64_32 => "R_X86_64_32",
        elf::R_X86_64_32S => "R_X86_64_32S",
        elf::R_X86_64_16 => "R_X86_64_16",
        elf::R_X86_64_PC16 => "R_X86_64_PC16",
        elf::R_X86_64_8 => "R_X86_64_8",
        elf::R_X86_64_PC8 => "R_X86_64_PC8",
        elf::R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        elf::R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        elf::R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        elf::R_X86_64_TLSGD => "R_X86_64_TLSGD",
        elf::R_X86_64_TLSLD => "R_X86_64_TLSLD",
        elf::R_X86_64_DTPOFF32 => "R_X86_64_DTPOFF32",
        elf::R_X86_64_GOTTPOFF => "R_X86_64_GOTTPOFF",
        elf::R_X86_64_TPOFF32 => "R_X86_64_TPOFF32",
        elf::R_X86_64_PC64 => "R_X86_64_PC64",
        elf::R_X86_64_GOTOFF64 => "R_X86_64_GOTOFF64",
        elf::R_X86_64_GOTPC32 => "R_X86_64_GOTPC32",
        elf::R_X86_64_SIZE32 => "R_X86_64_SIZE32",
        elf::R_X86_64_SIZE64 => "R_X86_64_SIZE64",
        elf::R_X86_64_GOTPC32_TLSDESC => "R_X86_64_GOTPC32_TLSDESC",
        elf::R_X86_64_TLSDESC_CALL => "R_X86_64_TLSDESC_CALL",
        elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX",
        elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX",
        _ => return format!("relocation type {t}"),
    };
    n.to_string()
}

/// Whether a relocation type reads a GOT slot, and which kind.
pub fn got_kind(t: u32) -> Option<bool> {
    match t {
        elf::R_X86_64_GOTPCREL | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => Some(false),
        elf::R_X86_64_GOTTPOFF => Some(true),
        _ => None,
    }
}

impl Addresses<'_, '_> {
    /// The output address of `def` plus `extra` (added before translation through a code
    /// map). `exact` demands that a code target is an instruction start; debug
    /// information asks for the nearest instruction instead.
    pub fn addr(&self, def: Def, extra: i64, exact: bool) -> Option<u64> {
        match def {
            Def::Section { obj, sec, value } => {
                let off = value.wrapping_add(extra as u64);
                if let Some(ci) = self.layout.code_index[obj as usize][sec as usize] {
                    let base = self.layout.addr[obj as usize][sec as usize]?;
                    let rw = &self.code[ci];
                    if exact {
                        rw.lookup(off).map(|o| base + o)
                    } else {
                        rw.lookup_nearest(off).map(|o| base + o)
                    }
                } else {
                    // Sections that are not placed (dropped) resolve to 0 for debug info.
                    let base = self.layout.addr[obj as usize][sec as usize];
                    match base {
                        Some(b) => Some(b.wrapping_add(off)),
                        None if !exact => Some(0),
                        None => None,
                    }
                }
            }
            Def::Absolute(v) => Some(v.wrapping_add(extra as u64)),
            Def::Common(i) => Some(self.layout.commons[i as usize].wrapping_add(extra as u64)),
            Def::Linker(i) => Some(self.layout.linker[i as usize].wrapping_add(extra as u64)),
            Def::UndefinedWeak => Some(extra as u64),
        }
    }

    /// Whether `def` is thread-local: defined in `.tdata`/`.tbss` (or an undefined weak
    /// symbol, which is 0 in every sense).
    pub fn is_tls(&self, def: Def) -> bool {
        match def {
            Def::Section { obj, sec, .. } => self
                .res
                .objects
                .get(obj as usize)
                .and_then(|o| o.sections.get(sec as usize))
                .is_some_and(|s| matches!(s.class, Class::TData | Class::TBss)),
            Def::UndefinedWeak => true,
            _ => false,
        }
    }

    /// The thread-pointer offset of a TLS symbol.
    pub fn tpoff(&self, def: Def, extra: i64) -> Option<i64> {
        let tls = self.layout.tls?;
        let a = self.addr(def, extra, true)?;
        Some((a as i64).wrapping_sub(tls.vaddr.wrapping_add(tls.tp_offset()) as i64))
    }

    /// Whether a guest address lies in the code segment.
    pub fn in_code(&self, addr: u64) -> bool {
        (zvcore::form::CODE_START..zvcore::form::CODE_START + self.layout.code_size).contains(&addr)
    }

    /// The value a GOT slot holds.
    pub fn got_value(&self, slot: GotSlot) -> Option<u64> {
        match slot {
            GotSlot::Address(d) => self.addr(d, 0, true),
            GotSlot::TpOff(d) => self.tpoff(d, 0).map(|v| v as u64),
        }
    }

    fn got_addr(&self, slot: GotSlot) -> Option<u64> {
        self.layout.got_index.get(&slot).map(|&i| self.layout.got_addr + 8 * u64::from(i))
    }
}

/// One relocation to apply.
pub struct Fix<'x> {
    /// Where, for messages.
    pub at: &'x dyn Fn() -> Location,
    /// Type.
    pub r_type: u32,
    /// Target.
    pub def: Def,
    /// Symbol name for messages (computed only when there is one to print).
    pub symbol: &'x dyn Fn() -> String,
    /// The target symbol's size, for R_X86_64_SIZE32/64 (computed only for those).
    pub size: &'x dyn Fn() -> u64,
    /// Addend.
    pub addend: i64,
    /// Distance from the field to the end of its instruction (PC-relative forms).
    pub bias: i64,
    /// Guest address of the field (or offset, in debug sections).
    pub place: u64,
    /// The field is in a debug section: translate code addresses to the nearest
    /// instruction and never fail on an unmapped target.
    pub debug: bool,
}

/// Applies one relocation to `buf` at `off`.
pub fn apply(a: &Addresses<'_, '_>, buf: &mut [u8], off: usize, f: &Fix<'_>) -> Result<()> {
    let exact = !f.debug;
    let unmapped = || {
        LinkError::UnsupportedRelocation {
        at: (f.at)(),
        kind: reloc_name(f.r_type),
        symbol: (f.symbol)(),
        hint: "its target is not the start of an instruction in the rewritten code (a reference into the middle of an instruction cannot be translated)".into(),
    }
    };
    let tls_code = !f.debug
        && (matches!(f.r_type, elf::R_X86_64_TPOFF32 | elf::R_X86_64_TPOFF64 | elf::R_X86_64_GOTTPOFF)
            || (matches!(f.r_type, elf::R_X86_64_DTPOFF32 | elf::R_X86_64_DTPOFF64) && a.in_code(f.place)));
    if tls_code && !a.is_tls(f.def) {
        return Err(LinkError::UnsupportedRelocation {
            at: (f.at)(),
            kind: reloc_name(f.r_type),
            symbol: (f.symbol)(),
            hint: "a thread-local access to a symbol that is not thread-local (defined outside .tdata/.tbss): the \
                   declarations of the variable disagree about _Thread_local"
                .into(),
        });
    }
    let p = f.place as i64;
    let (value, width, signed): (i64, usize, Option<bool>) = match f.r_type {
        elf::R_X86_64_NONE => return Ok(()),
        elf::R_X86_64_64 => (a.addr(f.def, f.addend, exact).ok_or_else(unmapped)? as i64, 8, None),
        elf::R_X86_64_32 => (a.addr(f.def, f.addend, exact).ok_or_else(unmapped)? as i64, 4, Some(false)),
        elf::R_X86_64_32S => (a.addr(f.def, f.addend, exact).ok_or_else(unmapped)? as i64, 4, Some(true)),
        elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 | elf::R_X86_64_PC64 => {
            let t = a.addr(f.def, f.addend.wrapping_add(f.bias), exact).ok_or_else(unmapped)? as i64;
            let v = t.wrapping_sub(p.wrapping_add(f.bias));
            if f.r_type == elf::R_X86_64_PC64 {
                (v, 8, None)
            } else {
                (v, 4, Some(true))
            }
        }
        elf::R_X86_64_GOTPCREL | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX | elf::R_X86_64_GOTTPOFF => {
            let slot = if f.r_type == elf::R_X86_64_GOTTPOFF { GotSlot::TpOff(f.def) } else { GotSlot::Address(f.def) };
            let g = a.got_addr(slot).ok_or_else(unmapped)? as i64;
            (g.wrapping_add(f.addend).wrapping_sub(p), 4, Some(true))
        }
        elf::R_X86_64_SIZE32 => (((f.size)() as i64).wrapping_add(f.addend), 4, Some(false)),
        elf::R_X86_64_SIZE64 => (((f.size)() as i64).wrapping_add(f.addend), 8, None),
        elf::R_X86_64_GOTPC32 => ((a.layout.got_addr as i64).wrapping_add(f.addend).wrapping_sub(p), 4, Some(true)),
        elf::R_X86_64_GOTOFF64 => {
            (a.addr(f.def, f.addend, exact).ok_or_else(unmapped)? as i64 - a.layout.got_addr as i64, 8, None)
        }
        elf::R_X86_64_TPOFF32 | elf::R_X86_64_TPOFF64 => {
            let v = a.tpoff(f.def, f.addend).ok_or_else(unmapped)?;
            if f.r_type == elf::R_X86_64_TPOFF64 {
                (v, 8, None)
            } else {
                (v, 4, Some(true))
            }
        }
        elf::R_X86_64_DTPOFF32 | elf::R_X86_64_DTPOFF64 => {
            // In code, a DTPOFF field is an offset from the base a local-dynamic sequence
            // computed, and the rewriter relaxed every such sequence to load the thread
            // pointer (local-exec): the field is the thread-pointer offset, as GNU ld
            // makes it in an executable. Elsewhere (DWARF locations) it stays the offset
            // in the TLS block.
            let v = if !f.debug && a.in_code(f.place) {
                a.tpoff(f.def, f.addend).ok_or_else(unmapped)?
            } else {
                let tls = a.layout.tls.map_or(0, |t| t.vaddr) as i64;
                (a.addr(f.def, f.addend, exact).ok_or_else(unmapped)? as i64).wrapping_sub(tls)
            };
            if f.r_type == elf::R_X86_64_DTPOFF64 {
                (v, 8, None)
            } else {
                (v, 4, Some(true))
            }
        }
        t => {
            let hint = match t {
                elf::R_X86_64_TLSGD | elf::R_X86_64_TLSLD => {
                    "general- and local-dynamic TLS is relaxed only in code, in the sequence that calls __tls_get_addr"
                }
                elf::R_X86_64_GOTPC32_TLSDESC | elf::R_X86_64_TLSDESC_CALL => {
                    "TLS descriptors come from -mtls-dialect=gnu2; compile without it, or with zvcc (-fno-pic)"
                }
                _ => "zvld does not implement it; compile with zvcc's flags",
            };
            return Err(LinkError::UnsupportedRelocation {
                at: (f.at)(),
                kind: reloc_name(t),
                symbol: (f.symbol)(),
                hint: hint.into(),
            });
        }
    };
    let fits = match signed {
        None => true,
        Some(true) => i32::try_from(value).is_ok(),
        Some(false) => u32::try_from(value).is_ok(),
    };
    if !fits && !f.debug {
        return Err(LinkError::Overflow { at: (f.at)(), kind: reloc_name(f.r_type), symbol: (f.symbol)(), value });
    }
    let Some(dst) = buf.get_mut(off..off + width) else {
        return Err(LinkError::UnsupportedRelocation {
            at: (f.at)(),
            kind: reloc_name(f.r_type),
            symbol: (f.symbol)(),
            hint: "the field lies outside its section".into(),
        });
    };
    dst.copy_from_slice(&value.to_le_bytes()[..width]);
    Ok(())
}

/// The definition a rewritten section's relocation refers to.
pub fn out_def(res: &Resolved<'_>, obj: u32, sym: RelSym) -> Result<Def> {
    match sym {
        RelSym::Obj(i) => Ok(res.def(obj, i)),
        RelSym::Global(n) => res.global(n).ok_or_else(|| LinkError::Undefined {
            symbols: vec![(
                n.to_string(),
                Location {
                    object: res.objects[obj as usize].name.clone(),
                    section: "(introduced by a zvld rewrite; link libzrt, which zvcc does)".into(),
                    ..Default::default()
                },
            )],
        }),
    }
}

/// The name of a relocation's symbol, for messages (a section symbol is named by its
/// section).
pub fn sym_label(res: &Resolved<'_>, obj: u32, sym: RelSym) -> String {
    match sym {
        RelSym::Global(n) => n.to_string(),
        RelSym::Obj(i) => {
            let o = &res.objects[obj as usize];
            let Some(s) = o.symbols.get(i as usize) else { return String::new() };
            if s.is_section() {
                match s.def {
                    crate::inputs::SymDef::Section { sec, .. } => {
                        o.sections.get(sec as usize).map_or("", |x| x.name).to_string()
                    }
                    _ => String::new(),
                }
            } else {
                s.name.to_string()
            }
        }
    }
}
