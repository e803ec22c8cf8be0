//! Phase 5, relocation: computes symbol addresses from the layout and patches every
//! field. A symbol in a code section is translated through that section's old-to-new
//! offset map; for a PC-relative field the *target* (symbol + addend + the distance from
//! the field to the end of its instruction) is what is translated, so references into
//! rewritten code land on the rewritten instruction. GOT-relative forms use the GOT that
//! the layout placed in read-only data, unless the instruction is relaxed as GNU ld
//! relaxes it in a static executable ([`got_relaxation`]: `mov` to `lea`, REX.W ALU
//! operations and initial-exec TLS loads to immediates); TLS forms relax to local-exec
//! offsets from the thread pointer (R_X86_64_DTPOFF32 in code too: the rewriter relaxed
//! the local-dynamic sequence that computed its base to a load of the thread pointer).

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
        elf::R_X86_64_NONE => "R_X86_64_NONE",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
        elf::R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
        elf::R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
        elf::R_X86_64_GOTPCREL64 => "R_X86_64_GOTPCREL64",
        elf::R_X86_64_GOTPC64 => "R_X86_64_GOTPC64",
        elf::R_X86_64_GOT64 => "R_X86_64_GOT64",
        elf::R_X86_64_GOTPLT64 => "R_X86_64_GOTPLT64",
        elf::R_X86_64_PLTOFF64 => "R_X86_64_PLTOFF64",
        elf::R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        elf::R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        elf::R_X86_64_RELATIVE64 => "R_X86_64_RELATIVE64",
        // Not named by the object crate's constants: numbers from the x86-64 psABI.
        43 => "R_X86_64_CODE_4_GOTPCRELX",
        44 => "R_X86_64_CODE_4_GOTTPOFF",
        45 => "R_X86_64_CODE_4_GOTPC32_TLSDESC",
        _ => return format!("type {t}"),
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

    /// Whether `def` is thread-local (see [`is_tls`]).
    pub fn is_tls(&self, def: Def) -> bool {
        is_tls(self.res, def)
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

/// Whether `def` is thread-local: defined in `.tdata`/`.tbss` (or an undefined weak
/// symbol, which is 0 in every sense).
pub fn is_tls(res: &Resolved<'_>, def: Def) -> bool {
    match def {
        Def::Section { obj, sec, .. } => res
            .objects
            .get(obj as usize)
            .and_then(|o| o.sections.get(sec as usize))
            .is_some_and(|s| matches!(s.class, Class::TData | Class::TBss)),
        Def::Common(i) => res.commons.get(i as usize).is_some_and(|c| c.3),
        Def::UndefinedWeak => true,
        _ => false,
    }
}

/// How a GOT-reading instruction in code is relaxed so that it needs no GOT slot (a
/// static link has every address and thread-pointer offset at hand), as GNU ld relaxes
/// them in a static executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GotRelax {
    /// `mov x@GOTPCREL(%rip),%reg` (8b, also the `mov mem,%r11` the rewriter makes of
    /// `call *x@GOTPCREL(%rip)`/`jmp *...`) becomes `lea x(%rip),%reg` (8d): the field is
    /// then PC-relative to the symbol.
    Lea,
    /// A REX.W `add/or/adc/sbb/and/sub/xor/cmp x@GOTPCREL(%rip),%reg` or `test` (from
    /// R_X86_64_REX_GOTPCRELX) becomes the same operation with the address as a 32-bit
    /// immediate (81 /digit, f7 /0), and R_X86_64_GOTTPOFF's `mov`/`add` becomes `mov`/`add`
    /// of the thread-pointer offset (c7 /0, 81 /0): the three bytes before the field are
    /// the new REX prefix, opcode and ModRM.
    Imm([u8; 3]),
}

/// The relaxation of a GOT-reading relocation at `at` in the rewritten `code`, if the
/// instruction there is one that can be relaxed: the field must end the instruction
/// (addend -4), and an address must fit a sign-extended 32-bit field (everything in a
/// nexe does; an absolute symbol may not). Only the instruction's own bytes are read, so
/// the answer is the same before and after other relocations of the section are applied:
/// [`crate::layout`] drops the GOT slots that no unrelaxed instruction reads, and
/// [`apply`] relaxes the same instructions.
#[allow(clippy::too_many_arguments)]
pub fn got_relaxation(
    res: &Resolved<'_>,
    code: &[u8],
    at: usize,
    head: u8,
    r_type: u32,
    addend: i64,
    bias: i64,
    def: Def,
) -> Option<GotRelax> {
    // `head` bytes of the instruction precede the field: the opcode and ModRM (and the
    // REX byte, for the immediate forms) must be among them, not bytes of the
    // instruction before (a 32-bit GOTTPOFF load has no REX; the byte before its opcode
    // may look like one).
    if addend != -4 || bias != 4 || at < 3 || at + 4 > code.len() || head < 2 {
        return None;
    }
    let (rex, op, modrm) = (code[at - 3], code[at - 2], code[at - 1]);
    // ModRM with mod = 00 and r/m = 101: disp32(%rip).
    if modrm & 0xc7 != 0x05 {
        return None;
    }
    let reg = (modrm >> 3) & 7;
    let rex_w = head >= 3 && rex & 0xf8 == 0x48;
    // REX.R moves to REX.B when the register moves from ModRM.reg to ModRM.r/m.
    let rex_rm = (rex & !0x04) | ((rex >> 2) & 1);
    // A 64-bit write of %rsp (C6) is left to the verifier, unrelaxed.
    let writes_rsp = |writes: bool| writes && reg == 4 && rex & 0x04 == 0;
    match r_type {
        elf::R_X86_64_GOTTPOFF => {
            if !rex_w || !is_tls(res, def) {
                return None;
            }
            match op {
                0x8b if !writes_rsp(true) => Some(GotRelax::Imm([rex_rm, 0xc7, 0xc0 | reg])),
                0x03 if !writes_rsp(true) => Some(GotRelax::Imm([rex_rm, 0x81, 0xc0 | reg])),
                _ => None,
            }
        }
        elf::R_X86_64_GOTPCREL | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => {
            let fits = match def {
                Def::Absolute(v) => v < zvcore::form::CODE_LIMIT,
                _ => true,
            };
            if !fits || r_type == elf::R_X86_64_GOTPCREL {
                return None;
            }
            match op {
                // ModRM.reg 4 is %rsp/%esp or %r12 depending on a REX prefix that a
                // 32-bit form does not have; such loads keep their GOT slot.
                0x8b if reg != 4 => Some(GotRelax::Lea),
                0x85 if rex_w && r_type == elf::R_X86_64_REX_GOTPCRELX => {
                    Some(GotRelax::Imm([rex_rm, 0xf7, 0xc0 | reg]))
                }
                // add, or, adc, sbb, and, sub, xor, cmp (r64, r/m64): 03, 0b, ..., 3b.
                op if op & 0xc7 == 0x03 && rex_w && r_type == elf::R_X86_64_REX_GOTPCRELX => {
                    let digit = op >> 3;
                    (!writes_rsp(digit != 7)).then_some(GotRelax::Imm([rex_rm, 0x81, 0xc0 | (digit << 3) | reg]))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The error for a relocation whose target has no address: a section of a discarded
/// COMDAT group, or a place that is not an instruction start in rewritten code.
fn unmapped(a: &Addresses<'_, '_>, f: &Fix<'_>) -> LinkError {
    if let Def::Section { obj, sec, .. } = f.def {
        if let Some(o) = a.res.objects.get(obj as usize) {
            if let Some(s) = o.sections.get(sec as usize).filter(|s| s.discarded) {
                let group = o.comdats.iter().find(|(_, secs)| secs.contains(&sec)).map_or("", |g| g.0);
                return LinkError::Discarded {
                    at: (f.at)(),
                    symbol: (f.symbol)(),
                    section: format!("{}({})", o.name, s.name),
                    group: group.to_string(),
                };
            }
        }
    }
    // A target past the end of its code section (a constant added to a function's
    // address) is said as such: not "the middle of an instruction".
    if let Def::Section { obj, sec, value } = f.def {
        if let Some(s) = a.res.objects.get(obj as usize).and_then(|o| o.sections.get(sec as usize)) {
            let bias = if crate::link::is_pcrel(f.r_type) { f.bias } else { 0 };
            let target = i128::from(value) + i128::from(f.addend) + i128::from(bias);
            if target < 0 || target > i128::from(s.size) {
                return LinkError::UnsupportedRelocation {
                    at: (f.at)(),
                    kind: reloc_name(f.r_type),
                    symbol: (f.symbol)(),
                    hint: format!(
                        "its target, offset {} from the start of code section {} ({:#x} bytes), lies \
                         outside that section; zvld moves code as it rewrites it, so only addresses of \
                         instructions in code can be translated",
                        signed_hex(target),
                        s.name,
                        s.size
                    ),
                };
            }
        }
    }
    LinkError::UnsupportedRelocation {
        at: (f.at)(),
        kind: reloc_name(f.r_type),
        symbol: (f.symbol)(),
        hint: "its target is not the start of an instruction in the rewritten code (a reference into the middle of an \
               instruction cannot be translated: rewriting moves and changes instructions); refer to an instruction \
               start, such as a label on the instruction, or keep data that code addresses point into out of code \
               sections"
            .into(),
    }
}

/// `-0x10` for -16: `{:#x}` of a negative i128 prints its 128-bit two's complement.
fn signed_hex(v: i128) -> String {
    if v < 0 {
        format!("-{:#x}", v.unsigned_abs())
    } else {
        format!("{v:#x}")
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
    /// Bytes of its instruction before the field, in code (0: unknown or not code).
    pub head: u8,
}

/// Applies one relocation to `buf` at `off`.
pub fn apply(a: &Addresses<'_, '_>, buf: &mut [u8], off: usize, f: &Fix<'_>) -> Result<()> {
    let exact = !f.debug;
    let unmapped = || unmapped(a, f);
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
    // The other direction: an ordinary reference (an address, a PC-relative or GOT
    // access) to a thread-local symbol would read or write its initial value in the TLS
    // template, not the thread's variable. GNU ld refuses it ("TLS definition ...
    // mismatches non-TLS reference"). DWARF names TLS variables with DTPOFF, which is
    // not in this list; R_X86_64_SIZE* only reads the size. An undefined weak symbol
    // (address 0) counts as thread-local for TLS accesses only.
    let plain = matches!(
        f.r_type,
        elf::R_X86_64_64
            | elf::R_X86_64_32
            | elf::R_X86_64_32S
            | elf::R_X86_64_PC32
            | elf::R_X86_64_PLT32
            | elf::R_X86_64_PC64
            | elf::R_X86_64_GOTPCREL
            | elf::R_X86_64_GOTPCRELX
            | elf::R_X86_64_REX_GOTPCRELX
            | elf::R_X86_64_GOTOFF64
    );
    if plain && !f.debug && !matches!(f.def, Def::UndefinedWeak) && a.is_tls(f.def) {
        return Err(LinkError::UnsupportedRelocation {
            at: (f.at)(),
            kind: reloc_name(f.r_type),
            symbol: (f.symbol)(),
            hint: "an ordinary access to a thread-local symbol (defined in .tdata/.tbss) would reach its initial \
                   value, not the thread's variable: the declarations of the variable disagree about _Thread_local"
                .into(),
        });
    }
    let p = f.place as i64;
    let relax = if got_kind(f.r_type).is_some() && !f.debug && a.in_code(f.place) {
        got_relaxation(a.res, buf, off, f.head, f.r_type, f.addend, f.bias, f.def)
    } else {
        None
    };
    let (value, width, signed): (i64, usize, Option<bool>) = match (relax, f.r_type) {
        (Some(GotRelax::Lea), _) => {
            buf[off - 2] = 0x8d;
            let t = a.addr(f.def, 0, exact).ok_or_else(unmapped)? as i64;
            (t.wrapping_add(f.addend).wrapping_sub(p), 4, Some(true))
        }
        (Some(GotRelax::Imm(head)), t) => {
            buf[off - 3..off].copy_from_slice(&head);
            let v = if t == elf::R_X86_64_GOTTPOFF {
                a.tpoff(f.def, 0).ok_or_else(unmapped)?
            } else {
                a.addr(f.def, 0, exact).ok_or_else(unmapped)? as i64
            };
            (v, 4, Some(true))
        }
        (None, r_type) => match r_type {
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
                let slot =
                    if f.r_type == elf::R_X86_64_GOTTPOFF { GotSlot::TpOff(f.def) } else { GotSlot::Address(f.def) };
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
        },
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

/// The definition a rewritten section's relocation refers to. A global that zvld's own
/// rewrite introduced (`__zv_syscall`, `__zv_tp`) may be undefined: the error names it
/// and `at`, the input instruction whose rewrite refers to it.
pub fn out_def(res: &Resolved<'_>, obj: u32, sym: RelSym, at: &dyn Fn() -> Location) -> Result<Def> {
    match sym {
        RelSym::Obj(i) => Ok(res.def(obj, i)),
        RelSym::Global(n) => res
            .global(n)
            .ok_or_else(|| LinkError::Undefined { symbols: vec![(n.to_string(), at())], lto_archives: Vec::new() }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Resolved<'static> {
        Resolved {
            objects: Vec::new(),
            globals: Default::default(),
            commons: Vec::new(),
            linker_used: Vec::new(),
            section_bounds: Vec::new(),
            pulled_by: Vec::new(),
        }
    }

    fn relax(code: &[u8], r_type: u32, def: Def) -> Option<GotRelax> {
        // The field is the last four bytes.
        got_relaxation(&empty(), code, code.len() - 4, 3, r_type, -4, 4, def)
    }

    #[test]
    fn got_reading_instructions_relax_as_gnu_ld_relaxes_them() {
        let d = Def::Absolute(0x1234);
        let f = [0u8; 4];
        let with = |head: &[u8]| [head, &f[..]].concat();
        // mov x@GOTPCREL(%rip),%rax / %eax / %r11 → lea.
        assert_eq!(relax(&with(&[0x48, 0x8b, 0x05]), elf::R_X86_64_REX_GOTPCRELX, d), Some(GotRelax::Lea));
        assert_eq!(relax(&with(&[0x90, 0x8b, 0x05]), elf::R_X86_64_GOTPCRELX, d), Some(GotRelax::Lea));
        assert_eq!(relax(&with(&[0x4c, 0x8b, 0x1d]), elf::R_X86_64_GOTPCRELX, d), Some(GotRelax::Lea));
        // add x@GOTPCREL(%rip),%r9 → add $x,%r9; cmp; test.
        let imm = |head: &[u8]| relax(&with(head), elf::R_X86_64_REX_GOTPCRELX, d);
        assert_eq!(imm(&[0x4c, 0x03, 0x0d]), Some(GotRelax::Imm([0x49, 0x81, 0xc1])));
        assert_eq!(imm(&[0x48, 0x3b, 0x05]), Some(GotRelax::Imm([0x48, 0x81, 0xf8])));
        assert_eq!(imm(&[0x48, 0x85, 0x35]), Some(GotRelax::Imm([0x48, 0xf7, 0xc6])));
        // Not relaxed: plain GOTPCREL, an address that does not fit, a register
        // operand, another opcode, a write of %rsp, an addend that is not -4.
        assert_eq!(relax(&with(&[0x48, 0x8b, 0x05]), elf::R_X86_64_GOTPCREL, d), None);
        let far = Def::Absolute(0x1_0000_0000);
        assert_eq!(relax(&with(&[0x48, 0x8b, 0x05]), elf::R_X86_64_REX_GOTPCRELX, far), None);
        assert_eq!(imm(&[0x48, 0x8b, 0xc0]), None);
        assert_eq!(imm(&[0x48, 0x8a, 0x05]), None);
        assert_eq!(imm(&[0x48, 0x03, 0x25]), None);
        assert_eq!(imm(&[0x48, 0x3b, 0x25]), Some(GotRelax::Imm([0x48, 0x81, 0xfc])), "cmp does not write");
        let res = empty();
        let code = with(&[0x48, 0x8b, 0x05]);
        assert_eq!(got_relaxation(&res, &code, 3, 3, elf::R_X86_64_REX_GOTPCRELX, 0, 4, d), None);
        // Initial-exec TLS → local-exec: mov x@gottpoff(%rip),%r12 → mov $off,%r12;
        // add → add $off; not for a symbol that is not thread-local.
        let tls = Def::UndefinedWeak;
        let ie = |head: &[u8], def| relax(&with(head), elf::R_X86_64_GOTTPOFF, def);
        assert_eq!(ie(&[0x4c, 0x8b, 0x25], tls), Some(GotRelax::Imm([0x49, 0xc7, 0xc4])));
        assert_eq!(ie(&[0x48, 0x03, 0x05], tls), Some(GotRelax::Imm([0x48, 0x81, 0xc0])));
        assert_eq!(ie(&[0x48, 0x8b, 0x05], d), None);
        // A 32-bit `movl x@gottpoff(%rip),%eax` (8b 05, two bytes before the field) after
        // an instruction ending in 0x48: that byte is not this instruction's REX, so
        // nothing is relaxed (the previous instruction's last byte was overwritten).
        let code = with(&[0x48, 0x8b, 0x05]);
        assert_eq!(got_relaxation(&empty(), &code, 3, 2, elf::R_X86_64_GOTTPOFF, -4, 4, tls), None);
        // With two bytes before the field, `mov` → `lea` still applies (it changes only the opcode).
        assert_eq!(got_relaxation(&empty(), &code, 3, 2, elf::R_X86_64_GOTPCRELX, -4, 4, d), Some(GotRelax::Lea));
    }
}
