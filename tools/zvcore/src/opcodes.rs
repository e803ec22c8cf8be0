//! The opcode tables of the fast forms: which one-byte and 0F-map opcodes the table
//! decoder ([`crate::fastpath`]) claims and in which shapes, written once as `const fn`s.
//! The build script includes this file too (`build.rs`), to compile the same entries
//! into the bundle automaton ([`crate::automaton`]), so that the two fast paths cannot
//! disagree about an opcode. Nothing here may refer to the rest of the crate.

/// Immediate operand size.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Imm {
    None,
    /// One byte.
    B,
    /// Two bytes with 0x66, else four (a 64-bit operation sign-extends four).
    Z,
}

/// How an opcode's ModRM reg field is used.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reg {
    /// A general register operand (never the stack pointer).
    Gpr,
    /// An XMM register.
    Xmm,
    /// An opcode extension: any of the values whose bit is set (0xFF: any).
    Ext(u8),
}

/// The r/m operand when it is a register (mod = 3).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rm {
    /// A general register (never the stack pointer).
    Gpr,
    Xmm,
    /// Only a memory operand is valid.
    MemOnly,
}

/// Mandatory-prefix classes of the 0F map's forms: which of none, 66, F3, F2 each may
/// carry (0x66 on a general-register form is an operand size).
pub(crate) const P_NONE: u8 = 1;
pub(crate) const P_66: u8 = 2;
pub(crate) const P_F3: u8 = 4;
pub(crate) const P_F2: u8 = 8;
pub(crate) const ALL: u8 = P_NONE | P_66 | P_F3 | P_F2;
pub(crate) const PS_PD: u8 = P_NONE | P_66;

/// [`Desc`]'s bit for [`Desc::special`].
pub(crate) const SPECIAL: u32 = 1 << 20;

/// One opcode's ModRM form, packed into a word so that table lookups stay in registers:
/// bit 0 valid; bits 1-2 the reg kind (0 Gpr, 1 Xmm, 2 extension); bits 3-4 the rm kind
/// (0 Gpr, 1 Xmm, 2 memory only); bits 5-6 the immediate (0 none, 1 byte, 2 Z); bit 7
/// "accesses no memory" (`lea`, `nop`: C5 does not apply); bits 8-15 the allowed
/// extension values; bits 16-19 the allowed prefix classes; bit 20 [`Desc::special`].
#[derive(Clone, Copy)]
pub(crate) struct Desc(pub(crate) u32);

impl Desc {
    pub(crate) const NONE: Desc = Desc(0);
    pub(crate) const fn new(reg: Reg, rm: Rm, imm: Imm, no_access: bool, prefixes: u8) -> Desc {
        let (rk, mask) = match reg {
            Reg::Gpr => (0, 0),
            Reg::Xmm => (1, 0),
            Reg::Ext(m) => (2, m),
        };
        let rmk = match rm {
            Rm::Gpr => 0,
            Rm::Xmm => 1,
            Rm::MemOnly => 2,
        };
        let ik = match imm {
            Imm::None => 0,
            Imm::B => 1,
            Imm::Z => 2,
        };
        Desc(1 | rk << 1 | rmk << 3 | ik << 5 | (no_access as u32) << 7 | (mask as u32) << 8 | (prefixes as u32) << 16)
    }
    pub(crate) fn valid(self) -> bool {
        self.0 & 1 != 0
    }
    pub(crate) fn reg_kind(self) -> u32 {
        (self.0 >> 1) & 3
    }
    pub(crate) fn rm_kind(self) -> u32 {
        (self.0 >> 3) & 3
    }
    pub(crate) fn imm_kind(self) -> u32 {
        (self.0 >> 5) & 3
    }
    pub(crate) fn no_access(self) -> bool {
        self.0 & 0x80 != 0
    }
    pub(crate) fn ext_mask(self) -> u32 {
        (self.0 >> 8) & 0xFF
    }
    pub(crate) fn prefixes(self) -> u8 {
        (self.0 >> 16) as u8 & 0xF
    }
    /// A one-byte-map opcode with forms the decoder looks at before the table's general
    /// rule (see `decode_as`): 81, 83, 89, 8D, F6, F7.
    pub(crate) fn special(self) -> bool {
        self.0 & SPECIAL != 0
    }
}

pub(crate) const fn op(reg: Reg, rm: Rm, imm: Imm) -> Desc {
    Desc::new(reg, rm, imm, false, PS_PD)
}

/// A one-byte-map opcode with a ModRM byte.
pub(crate) const fn one_byte_entry(o: u8) -> Desc {
    use Imm::*;
    use Reg::*;
    match o {
        // add, or, adc, sbb, and, sub, xor, cmp: r/m,r and r,r/m (byte and full size).
        0x00..=0x03
        | 0x08..=0x0B
        | 0x10..=0x13
        | 0x18..=0x1B
        | 0x20..=0x23
        | 0x28..=0x2B
        | 0x30..=0x33
        | 0x38..=0x3B => op(Gpr, Rm::Gpr, None),
        0x63 => op(Gpr, Rm::Gpr, None),                         // movsxd
        0x69 => op(Gpr, Rm::Gpr, Z),                            // imul r, r/m, imm
        0x6B => op(Gpr, Rm::Gpr, B),                            // imul r, r/m, imm8
        0x80 | 0x83 => op(Ext(0xFF), Rm::Gpr, B),               // group 1 with imm8 (`and`: see decode)
        0x81 => op(Ext(0xFF), Rm::Gpr, Z),                      // group 1 with imm
        0x84 | 0x85 => op(Gpr, Rm::Gpr, None),                  // test
        0x88..=0x8B => op(Gpr, Rm::Gpr, None),                  // mov
        0x8D => Desc::new(Gpr, Rm::MemOnly, None, true, PS_PD), // lea
        0xC0 | 0xC1 => op(Ext(0xBF), Rm::Gpr, B),               // shifts by imm8, not /6
        0xD0..=0xD3 => op(Ext(0xBF), Rm::Gpr, None),            // shifts by 1 and by %cl, not /6
        0xC6 => op(Ext(0x01), Rm::Gpr, B),                      // mov r/m8, imm8
        0xC7 => op(Ext(0x01), Rm::Gpr, Z),                      // mov r/m, imm
        0xF6 | 0xF7 => op(Ext(0xFD), Rm::Gpr, None), // test (imm: see decode), not, neg, mul, imul, div, idiv; not /1
        0xFE | 0xFF => op(Ext(0x03), Rm::Gpr, None), // inc, dec
        _ => Desc::NONE,
    }
}

/// A 0F-map opcode with a ModRM byte, with the prefix classes it may carry.
pub(crate) const fn two_byte_entry(o: u8) -> Desc {
    use Imm::*;
    use Reg::*;
    pub(crate) const fn sse(p: u8) -> Desc {
        Desc::new(Xmm, Rm::Xmm, None, false, p)
    }
    pub(crate) const fn with(reg: Reg, rm: Rm, imm: Imm, p: u8) -> Desc {
        Desc::new(reg, rm, imm, false, p)
    }
    match o {
        0x1F => Desc::new(Ext(0x01), Rm::Gpr, None, true, PS_PD), // nop r/m
        0x10 | 0x11 => sse(ALL),                                  // movups/movupd/movss/movsd
        0x14 | 0x15 => sse(PS_PD),                                // unpcklps/unpckhps(pd)
        0x28 | 0x29 => sse(PS_PD),                                // movaps/movapd
        0x2A => with(Xmm, Rm::Gpr, None, P_F3 | P_F2),            // cvtsi2ss/sd
        0x2C | 0x2D => with(Gpr, Rm::Xmm, None, P_F3 | P_F2),     // cvt(t)ss/sd2si
        0x2E | 0x2F => sse(PS_PD),                                // (u)comiss/sd
        0x40..=0x4F => with(Gpr, Rm::Gpr, None, PS_PD),           // cmovcc
        0x51 | 0x58 | 0x59 | 0x5A | 0x5C..=0x5F => sse(ALL),      // sqrt, add, mul, cvt, sub, min, div, max
        0x54..=0x57 => sse(PS_PD),                                // and, andn, or, xor
        0x5B => sse(P_NONE | P_66 | P_F3),                        // cvtdq2ps, cvtps2dq, cvttps2dq
        0x60..=0x62 | 0x64..=0x66 | 0x68..=0x6A | 0x6C | 0x6D | 0x74..=0x76 => sse(P_66), // punpck*, pcmpgt*, pcmpeq*
        0x6E => with(Xmm, Rm::Gpr, None, P_66),                   // movd/movq xmm, r/m
        0x6F | 0x7F => sse(P_66 | P_F3),                          // movdqa/movdqu
        0x70 => with(Xmm, Rm::Xmm, B, P_66 | P_F3 | P_F2),        // pshufd/pshufhw/pshuflw
        0x90..=0x9F => with(Ext(0x01), Rm::Gpr, None, P_NONE),    // setcc r/m8
        0xA4 | 0xAC => with(Gpr, Rm::Gpr, B, PS_PD),              // shld/shrd imm8
        0xA5 | 0xAD => with(Gpr, Rm::Gpr, None, PS_PD),           // shld/shrd %cl
        0xAF => with(Gpr, Rm::Gpr, None, PS_PD),                  // imul r, r/m
        0xB6 | 0xB7 | 0xBE | 0xBF => with(Gpr, Rm::Gpr, None, PS_PD), // movzx/movsx
        0xB8 => with(Gpr, Rm::Gpr, None, P_F3),                   // popcnt
        0xBC | 0xBD => with(Gpr, Rm::Gpr, None, P_NONE | P_66 | P_F3), // bsf/bsr, tzcnt/lzcnt
        0xC6 => with(Xmm, Rm::Xmm, B, PS_PD),                     // shufps/shufpd
        0xD4 | 0xD6 | 0xDB | 0xDF | 0xEB | 0xEF | 0xF8..=0xFE => sse(P_66), // paddq, movq, pand, pandn, por, pxor, psub*, padd*
        _ => Desc::NONE,
    }
}

/// The one-byte map's forms without a ModRM byte: bits 0-1 the kind (`FX_PLAIN`,
/// `FX_BRANCH`, `FX_CALL`); for a plain form, bits 2-4 the immediate (`IMM_*`) and bits
/// 5-9 the conditions (`NEED_*`); for a branch, bit 2 a 32-bit displacement (else 8-bit).
pub(crate) const FX_PLAIN: u16 = 1;
pub(crate) const FX_BRANCH: u16 = 2;
pub(crate) const FX_CALL: u16 = 3;
pub(crate) const FX_REL32: u16 = 1 << 2;
/// Immediates of plain forms (bits 2-4): none, one byte, Z (2 with 0x66, else 4), four,
/// and `mov $imm, %reg`'s (8 with REX.W, else Z).
pub(crate) const IMM_B: u16 = 1 << 2;
pub(crate) const IMM_Z: u16 = 2 << 2;
pub(crate) const IMM_4: u16 = 3 << 2;
pub(crate) const IMM_MOV: u16 = 4 << 2;
/// No F2/F3 prefix.
pub(crate) const NEED_NO_REP: u16 = 1 << 5;
/// No legacy prefix at all.
pub(crate) const NEED_NO_PREFIX: u16 = 1 << 6;
/// No REX.
pub(crate) const NEED_NO_REX: u16 = 1 << 7;
/// No 0x67.
pub(crate) const NEED_NO_67: u16 = 1 << 8;
/// The register in the opcode's low bits (with REX.B) is not the stack pointer.
pub(crate) const NEED_NOT_SP: u16 = 1 << 9;

pub(crate) const fn fixed_entry(o: u8) -> u16 {
    match o {
        // ALU with %al/%eax and an immediate.
        0x04 | 0x0C | 0x14 | 0x1C | 0x24 | 0x2C | 0x34 | 0x3C | 0xA8 => FX_PLAIN | IMM_B | NEED_NO_REP,
        0x05 | 0x0D | 0x15 | 0x1D | 0x25 | 0x2D | 0x35 | 0x3D | 0xA9 => FX_PLAIN | IMM_Z | NEED_NO_REP,
        // push/pop of a register other than the stack pointer.
        0x50..=0x5F => FX_PLAIN | NEED_NO_PREFIX | NEED_NOT_SP,
        0x68 => FX_PLAIN | IMM_4 | NEED_NO_PREFIX,
        0x6A => FX_PLAIN | IMM_B | NEED_NO_PREFIX,
        0x70..=0x7F | 0xEB => FX_BRANCH,
        // nop, and 66 90 (xchg %ax,%ax)
        0x90 => FX_PLAIN | NEED_NO_REX | NEED_NO_67 | NEED_NO_REP,
        0x98 | 0x99 => FX_PLAIN | NEED_NO_REP, // cbw/cwde/cdqe, cwd/cdq/cqo
        // mov of an immediate to a register other than the stack pointer.
        0xB0..=0xB7 => FX_PLAIN | IMM_B | NEED_NO_REP | NEED_NOT_SP,
        0xB8..=0xBF => FX_PLAIN | IMM_MOV | NEED_NO_REP | NEED_NOT_SP,
        0xE8 => FX_CALL | FX_REL32,
        0xE9 => FX_BRANCH | FX_REL32,
        0xF4 => FX_PLAIN | NEED_NO_PREFIX | NEED_NO_REX, // hlt
        _ => 0,
    }
}

/// The immediate's length of a plain form of [`fixed_entry`] (`fx`), with `iz` the Z
/// size (2 with 0x66, else 4) and `w` REX.W.
pub(crate) const fn fixed_imm(fx: u16, iz: u8, w: bool) -> u8 {
    match fx & (7 << 2) {
        0 => 0,
        IMM_B => 1,
        IMM_Z => iz,
        IMM_4 => 4,
        _ => {
            if w {
                8
            } else {
                iz
            }
        }
    }
}
