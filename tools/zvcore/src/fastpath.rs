//! The verifier's fast path: a table-driven decoder for the instruction forms compilers
//! emit most, each of which breaks no rule of the form.
//!
//! [`decode`] answers for one instruction either "this is a complete instruction of `len`
//! bytes inside its bundle that every rule admits (and, for a direct branch, its
//! displacement)" or "not mine" (`None`), and `verify::scan` then decodes that
//! instruction with iced-x86 and checks it in full, as it checks everything when the fast
//! path is off. So the fast path never produces a diagnostic and never decides a
//! rejection: it may only skip iced for instructions iced would accept without a word.
//! Whatever could break a rule is "not mine": any prefix beyond one 0x66, one 0x67 and
//! the one mandatory 0xF2/0xF3 of an SSE form (no segment, lock or repeated prefixes,
//! except the 0x66s and one 0x2e of a padding `nop`), a REX not right before the opcode,
//! a register operand numbered 4 (the stack pointer family: the C6 checks are iced's,
//! except for `add`/`sub $imm,%esp`, `lea m,%esp` and `mov %rsp,r`, which C6 admits), a
//! memory operand that is not M1 (0x67), M2 or M3 (except in `lea` and `nop`, which
//! access no memory), a branch with any prefix, a call that does not end its bundle,
//! anything that crosses a bundle, anything that could be the first half of P1 or P2
//! (`and` with an immediate on memory, `and $-32` on a register), and every opcode not in
//! the tables
//! below: indirect branches, `ret`, system and string instructions, VEX and EVEX forms.
//!
//! [`decode_input`] reads the same tables for zvld's rewriter, whose input is compiler
//! output before the rewrite: it also claims memory operands that need the 0x67 prefix
//! (saying so), refuses RIP-relative ones, and lets a call end anywhere. Its claims only
//! spare the rewriter iced; the rewritten code is verified as all code is.
//!
//! Scope and safety: the tables cover only opcodes whose every listed form is on the C3
//! allow-list; `fastpath_agrees_with_iced_on_every_form_it_claims` (verify_tests.rs)
//! enumerates the claimed forms with prefixes, every REX byte, every ModRM and several
//! SIB and immediate bytes, at a bundle's start and end, and requires iced to decode the
//! same length, to see no branch in a plain claim and no P1/P2 first half, and the full
//! check to accept it; and the fuzzers verify every input with the fast path on and off
//! and require the same violations and instruction starts.

/// What [`decode`] proved about one instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fast {
    /// An instruction of this many bytes that every rule admits and that is not a branch.
    Plain(u8),
    /// A direct near branch (`jmp`, `jcc`, `call`) of `len` bytes whose target is the next
    /// instruction's address plus `rel`; a call among them ends its bundle (C8).
    Branch {
        /// The instruction's length.
        len: u8,
        /// The sign-extended displacement.
        rel: i64,
    },
}

/// Immediate operand size.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Imm {
    None,
    /// One byte.
    B,
    /// Two bytes with 0x66, else four (a 64-bit operation sign-extends four).
    Z,
}

/// How an opcode's ModRM reg field is used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reg {
    /// A general register operand (never the stack pointer).
    Gpr,
    /// An XMM register.
    Xmm,
    /// An opcode extension: any of the values whose bit is set (0xFF: any).
    Ext(u8),
}

/// The r/m operand when it is a register (mod = 3).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rm {
    /// A general register (never the stack pointer).
    Gpr,
    Xmm,
    /// Only a memory operand is valid.
    MemOnly,
}

/// Mandatory-prefix classes of the 0F map's forms: which of none, 66, F3, F2 each may
/// carry (0x66 on a general-register form is an operand size).
const P_NONE: u8 = 1;
const P_66: u8 = 2;
const P_F3: u8 = 4;
const P_F2: u8 = 8;
const ALL: u8 = P_NONE | P_66 | P_F3 | P_F2;
const PS_PD: u8 = P_NONE | P_66;

/// [`Desc`]'s bit for [`Desc::special`].
const SPECIAL: u32 = 1 << 20;

/// One opcode's ModRM form, packed into a word so that table lookups stay in registers:
/// bit 0 valid; bits 1-2 the reg kind (0 Gpr, 1 Xmm, 2 extension); bits 3-4 the rm kind
/// (0 Gpr, 1 Xmm, 2 memory only); bits 5-6 the immediate (0 none, 1 byte, 2 Z); bit 7
/// "accesses no memory" (`lea`, `nop`: C5 does not apply); bits 8-15 the allowed
/// extension values; bits 16-19 the allowed prefix classes; bit 20 [`Desc::special`].
#[derive(Clone, Copy)]
struct Desc(u32);

impl Desc {
    const NONE: Desc = Desc(0);
    const fn new(reg: Reg, rm: Rm, imm: Imm, no_access: bool, prefixes: u8) -> Desc {
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
    fn valid(self) -> bool {
        self.0 & 1 != 0
    }
    fn reg_kind(self) -> u32 {
        (self.0 >> 1) & 3
    }
    fn rm_kind(self) -> u32 {
        (self.0 >> 3) & 3
    }
    fn imm_kind(self) -> u32 {
        (self.0 >> 5) & 3
    }
    fn no_access(self) -> bool {
        self.0 & 0x80 != 0
    }
    fn ext_mask(self) -> u32 {
        (self.0 >> 8) & 0xFF
    }
    fn prefixes(self) -> u8 {
        (self.0 >> 16) as u8 & 0xF
    }
    /// A one-byte-map opcode with forms the decoder looks at before the table's general
    /// rule (see `decode_as`): 81, 83, 89, 8D, F6, F7.
    fn special(self) -> bool {
        self.0 & SPECIAL != 0
    }
}

const fn op(reg: Reg, rm: Rm, imm: Imm) -> Desc {
    Desc::new(reg, rm, imm, false, PS_PD)
}

/// A one-byte-map opcode with a ModRM byte.
const fn one_byte_entry(o: u8) -> Desc {
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
const fn two_byte_entry(o: u8) -> Desc {
    use Imm::*;
    use Reg::*;
    const fn sse(p: u8) -> Desc {
        Desc::new(Xmm, Rm::Xmm, None, false, p)
    }
    const fn with(reg: Reg, rm: Rm, imm: Imm, p: u8) -> Desc {
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

/// The tables, built at compile time from the entries above.
const fn build(two_byte: bool) -> [Desc; 256] {
    let mut t = [Desc::NONE; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if two_byte { two_byte_entry(i as u8) } else { one_byte_entry(i as u8) };
        if !two_byte && matches!(i, 0x81 | 0x83 | 0x89 | 0x8D | 0xF6 | 0xF7) {
            t[i].0 |= SPECIAL;
        }
        i += 1;
    }
    t
}
static ONE_BYTE: [Desc; 256] = build(false);
static TWO_BYTE: [Desc; 256] = build(true);

/// Decodes the instruction at `pos` if it is one of the fast forms (see the module
/// documentation); `bundle_end` is the end of its bundle.
pub(crate) fn decode(code: &[u8], pos: usize, bundle_end: usize) -> Option<Fast> {
    decode_as::<false>(code, pos, bundle_end).map(|(f, _)| f)
}

/// What [`decode_input`] proved about one instruction of compiler output, for the
/// rewriter (zvld): the length agrees with iced, and so does the rewrite the form needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputForm {
    /// Not a branch, no RIP-relative operand, and every operand admissible as it is:
    /// the rewriter keeps its `len` bytes unchanged.
    Keep(u8),
    /// Like [`InputForm::Keep`], except that it accesses memory through an operand that
    /// is not M1, M2 or M3 and has no 0x67 prefix: the rewriter puts 0x67 before its
    /// `len` bytes (M1), which stays within 15 bytes.
    Addr32(u8),
    /// A direct near `jmp`, `jcc` (rel8 or rel32) or `call` (rel32) without any prefix or
    /// REX, of `len` bytes, whose target is the next instruction's offset plus `rel`.
    Branch {
        /// The instruction's length.
        len: u8,
        /// The sign-extended displacement.
        rel: i64,
    },
}

impl InputForm {
    /// The instruction's length in the input.
    pub fn length(self) -> usize {
        match self {
            InputForm::Keep(l) | InputForm::Addr32(l) | InputForm::Branch { len: l, .. } => usize::from(l),
        }
    }
}

/// The same tables for the rewriter's input (compiler output, before the rewrite): the
/// instruction at `pos`, which must end by `end`, if it is a fast form. Differences from
/// the verifier's [`decode`]: a memory operand that needs the 0x67 prefix is claimed as
/// [`InputForm::Addr32`] instead of refused, a RIP-relative operand is refused (its
/// target needs iced's field offsets), and a call need not end a bundle. Whatever the
/// verifier's path refuses for other reasons (prefixes, the stack pointer, P1/P2 halves,
/// opcodes outside the tables) is refused here too, and goes to iced.
/// zvld's test `the_fast_decoder_rewrites_every_form_it_claims_as_iced_does` rewrites
/// every claimed form both ways and requires the same result.
pub fn decode_input(code: &[u8], pos: usize, end: usize) -> Option<InputForm> {
    let (f, addr32) = decode_as::<true>(code, pos, end)?;
    Some(match f {
        Fast::Plain(len) if addr32 => {
            if len >= 15 {
                return None;
            }
            InputForm::Addr32(len)
        }
        Fast::Plain(len) => InputForm::Keep(len),
        Fast::Branch { len, rel } => InputForm::Branch { len, rel },
    })
}

/// The one-byte map's forms without a ModRM byte, one entry per opcode (0: none; the
/// ModRM forms are in [`ONE_BYTE`]), so that the decoder tells them apart with one load
/// instead of a match: bits 0-1 the kind (`FX_PLAIN`, `FX_BRANCH`, `FX_CALL`); for a
/// plain form, bits 2-4 the immediate (`IMM_*`) and bits 5-9 the conditions (`NEED_*`);
/// for a branch, bit 2 a 32-bit displacement (else 8-bit).
static FIXED: [u16; 256] = build_fixed();

const FX_PLAIN: u16 = 1;
const FX_BRANCH: u16 = 2;
const FX_CALL: u16 = 3;
const FX_REL32: u16 = 1 << 2;
/// Immediates of plain forms (bits 2-4): none, one byte, Z (2 with 0x66, else 4), four,
/// and `mov $imm, %reg`'s (8 with REX.W, else Z).
const IMM_B: u16 = 1 << 2;
const IMM_Z: u16 = 2 << 2;
const IMM_4: u16 = 3 << 2;
const IMM_MOV: u16 = 4 << 2;
/// No F2/F3 prefix.
const NEED_NO_REP: u16 = 1 << 5;
/// No legacy prefix at all.
const NEED_NO_PREFIX: u16 = 1 << 6;
/// No REX.
const NEED_NO_REX: u16 = 1 << 7;
/// No 0x67.
const NEED_NO_67: u16 = 1 << 8;
/// The register in the opcode's low bits (with REX.B) is not the stack pointer.
const NEED_NOT_SP: u16 = 1 << 9;

const fn fixed_entry(o: u8) -> u16 {
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

const fn build_fixed() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = fixed_entry(i as u8);
        i += 1;
    }
    t
}

/// Whether a byte is a legacy prefix the decoder looks at (0x66, 0x67, 0xF2, 0xF3, 0x2E).
fn is_prefix(x: u8) -> bool {
    matches!(x, 0x66 | 0x67 | 0xF2 | 0xF3 | 0x2E)
}

/// [`decode`] (`INPUT` false) or [`decode_input`] (true); the flag says that a memory
/// operand needs 0x67 (only ever set with `INPUT`). Written for few unpredictable
/// branches (it runs for most instructions a link rewrites and every verifier scans):
/// the prefix loop only when the first byte is a prefix, one table load to tell the
/// forms without a ModRM byte from the others, the ModRM operand's length and
/// admissibility computed without branching on its shape.
#[inline(always)]
fn decode_as<const INPUT: bool>(code: &[u8], pos: usize, bundle_end: usize) -> Option<(Fast, bool)> {
    let b = code.get(pos..bundle_end.min(code.len()))?;
    let mut i = 0;
    let (mut p66, mut p67, mut rep) = (false, false, 0u8);
    if is_prefix(*b.first()?) {
        // Padding NOPs carry repeated 0x66 and one 0x2e (C4 allows 0x2e on a nop only).
        let (mut extra66, mut cs) = (false, false);
        loop {
            match *b.get(i)? {
                0x66 if !p66 => p66 = true,
                0x66 => extra66 = true,
                0x2E if !cs => cs = true,
                0x67 if !p67 => p67 = true,
                x @ (0xF2 | 0xF3) if rep == 0 => rep = x,
                _ => break,
            }
            i += 1;
        }
        if extra66 || cs {
            // Only `66.. [2e] 0f 1f /0` (nop r/m) with no other prefix.
            let nop = !p67 && rep == 0 && b.get(i) == Some(&0x0F) && b.get(i + 1) == Some(&0x1F);
            if !nop {
                return None;
            }
        }
    }
    let prefixed = i > 0;
    let mut rex = 0u8;
    let mut op = *b.get(i)?;
    if op & 0xF0 == 0x40 {
        rex = op;
        i += 1;
        op = *b.get(i)?;
    }
    i += 1;
    let w = rex & 8 != 0;
    let iz = if p66 && !w { 2 } else { 4 };
    if op == 0x0F {
        return two_byte::<INPUT>(b, i, p66, p67, rep, rex);
    }

    // Forms without a ModRM byte.
    let fx = FIXED[usize::from(op)];
    if fx != 0 {
        if fx & 3 == FX_PLAIN {
            let not_sp = (op & 7 | (rex & 1) << 3) != 4;
            let bad = (fx & NEED_NO_REP != 0) & (rep != 0)
                | (fx & NEED_NO_PREFIX != 0) & prefixed
                | (fx & NEED_NO_REX != 0) & (rex != 0)
                | (fx & NEED_NO_67 != 0) & p67
                | (fx & NEED_NOT_SP != 0) & !not_sp;
            if bad {
                return None;
            }
            let imm = match fx & (7 << 2) {
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
            };
            let len = i + imm;
            return (len <= 15 && len <= b.len()).then_some((Fast::Plain(len as u8), false));
        }
        if prefixed || rex != 0 {
            return None; // C4 (and REX on a branch is not worth the fast path)
        }
        let (total, rel) = if fx & FX_REL32 != 0 {
            let d = b.get(i..i + 4)?;
            (i + 4, i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]])))
        } else {
            (i + 1, i64::from(*b.get(i)? as i8))
        };
        if fx & 3 == FX_CALL && pos + total != bundle_end && !INPUT {
            return None; // C8: iced reports it
        }
        return Some((Fast::Branch { len: total as u8, rel }, false));
    }
    if rep != 0 {
        return None; // F2/F3 only as SSE mandatory prefixes
    }
    let m = ONE_BYTE[usize::from(op)];
    if !m.valid() {
        return None;
    }
    let modrm = *b.get(i)?;
    let reg = (modrm >> 3) & 7;
    if m.special() {
        // The stack-pointer forms (81, 83, 89, 8D naming register 4), `and` (81 /4, 83 /4)
        // and `test` (F6 /0, F7 /0), each rare enough to branch on.
        if matches!(op, 0x81 | 0x83 | 0x89 | 0x8D) && (reg == 4 || modrm & 0xC7 == 0xC4) {
            if let Some(f) = esp_form::<INPUT>(b, i, op, p66, p67, rex) {
                return Some(f);
            }
        }
        if matches!(op, 0x81 | 0x83) && reg == 4 {
            // `and`: never the first half of P1 (`and $-32` on a register: 83 /4 ... e0) or
            // of P2 (`andq $imm32, mem`), which only iced marks as such.
            if modrm >> 6 != 3 || (op == 0x83 && b.get(i + 1) == Some(&0xE0)) {
                return None;
            }
        }
        // test r/m, imm is /0 of F6/F7; the others of the group have no immediate.
        if op == 0xF6 {
            return modrm_form::<INPUT>(b, i, m, usize::from(reg == 0), p67, rex);
        }
        if op == 0xF7 {
            return modrm_form::<INPUT>(b, i, m, usize::from(reg == 0) * iz, p67, rex);
        }
    }
    let imm = match m.imm_kind() {
        0 => 0,
        1 => 1,
        _ => iz,
    };
    modrm_form::<INPUT>(b, i, m, imm, p67, rex)
}

/// The 0F map: `i` is the offset of the byte after 0x0F.
fn two_byte<const INPUT: bool>(b: &[u8], i: usize, p66: bool, p67: bool, rep: u8, rex: u8) -> Option<(Fast, bool)> {
    let op = *b.get(i)?;
    let i = i + 1;
    if (0x80..=0x8F).contains(&op) {
        // jcc rel32
        if p66 || p67 || rep != 0 || rex != 0 || i != 2 {
            return None;
        }
        let d = b.get(i..i + 4)?;
        let rel = i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]]));
        return Some((Fast::Branch { len: (i + 4) as u8, rel }, false));
    }
    if (0xC8..=0xCF).contains(&op) {
        // bswap of a register other than the stack pointer
        let r = op & 7 | (rex & 1) << 3;
        return (!p66 && rep == 0 && r != 4 && i <= b.len()).then_some((Fast::Plain(i as u8), false));
    }
    let class = match (p66, rep) {
        (false, 0) => P_NONE,
        (true, 0) => P_66,
        (false, 0xF3) => P_F3,
        (false, 0xF2) => P_F2,
        _ => return None, // 0x66 with F2/F3: not mine
    };
    let m = if op == 0x7E {
        // 66 0F 7E: movd/movq r/m, xmm (a general register destination); F3 0F 7E: movq xmm, xmm/m64.
        match class {
            P_66 => Desc::new(Reg::Xmm, Rm::Gpr, Imm::None, false, P_66),
            P_F3 => Desc::new(Reg::Xmm, Rm::Xmm, Imm::None, false, P_F3),
            _ => return None,
        }
    } else {
        TWO_BYTE[usize::from(op)]
    };
    if !m.valid() || m.prefixes() & class == 0 {
        return None;
    }
    let imm = usize::from(m.imm_kind() == 1);
    modrm_form::<INPUT>(b, i, m, imm, p67, rex)
}

/// The stack-pointer forms C6 admits that compilers emit most, each exactly: `add` or
/// `sub` of an immediate to %esp and `lea ...,%esp` (32-bit writes, which zero-extend
/// into range), and `mov` from the stack pointer to another register (a read). Anything
/// else naming register 4 is left to iced.
fn esp_form<const INPUT: bool>(b: &[u8], i: usize, op: u8, p66: bool, p67: bool, rex: u8) -> Option<(Fast, bool)> {
    let modrm = *b.get(i)?;
    let (md, reg, rm) = (modrm >> 6, (modrm >> 3) & 7, modrm & 7);
    let (rex_r, rex_b, w) = ((rex >> 2) & 1, rex & 1, rex & 8 != 0);
    match op {
        // add/sub $imm, %esp
        0x81 | 0x83 if md == 3 && rm == 4 && rex_b == 0 && !w && !p66 && (reg == 0 || reg == 5) => {
            let len = i + 1 + if op == 0x83 { 1 } else { 4 };
            (len <= 15 && len <= b.len()).then_some((Fast::Plain(len as u8), false))
        }
        // lea m, %esp
        0x8D if md != 3 && reg == 4 && rex_r == 0 && !w && !p66 => {
            let m = Desc::new(Reg::Ext(0xFF), Rm::MemOnly, Imm::None, true, PS_PD);
            modrm_form::<INPUT>(b, i, m, 0, p67, rex)
        }
        // mov %rsp/%esp/%sp, r (register destination other than the stack pointer)
        0x89 if md == 3 && reg == 4 && rex_r == 0 && (rm | rex_b << 3) != 4 => {
            let len = i + 1;
            (len <= b.len()).then_some((Fast::Plain(len as u8), false))
        }
        _ => None,
    }
}

/// The ModRM byte at `i`, its SIB and displacement, then `imm` bytes: the instruction's
/// length, if every operand is admissible. With `INPUT`, a memory operand that is not
/// (it needs 0x67) is claimed with the flag set, and a RIP-relative one is refused. The
/// operand's shape (register, SIB, RIP-relative, displacement) is computed without
/// branches: a missing SIB byte reads as 0 and the length check refuses it.
#[inline(always)]
fn modrm_form<const INPUT: bool>(b: &[u8], i: usize, m: Desc, imm: usize, p67: bool, rex: u8) -> Option<(Fast, bool)> {
    let modrm = *b.get(i)?;
    let md = modrm >> 6;
    let reg = (modrm >> 3) & 7;
    let rm = modrm & 7;
    let (rex_r, rex_x, rex_b) = ((rex >> 2) & 1, (rex >> 1) & 1, rex & 1);
    let reg_bad = match m.reg_kind() {
        0 => reg | rex_r << 3 == 4,          // a general register: not the stack pointer
        2 => m.ext_mask() & (1 << reg) == 0, // an opcode extension
        _ => false,
    };
    let is_reg = md == 3;
    let rmk = m.rm_kind();
    // A register operand: not where only memory is valid, and a general register is not
    // the stack pointer.
    let rm_bad = is_reg & ((rmk == 2) | ((rmk == 0) & (rm | rex_b << 3 == 4)));
    // A memory operand: M1 (0x67, 32-bit registers), M2 (rsp or rip, no index), M3
    // (absolute disp32) or, for lea and nop, anything.
    let has_sib = !is_reg & (rm == 4);
    let rip = (md == 0) & (rm == 5);
    let sib = b.get(i + 1).copied().unwrap_or(0);
    let base = sib & 7;
    let no_index = ((sib >> 3) & 7 == 4) & (rex_x == 0);
    let no_base = has_sib & (base == 5) & (md == 0);
    let disp = [0, 1, 4, 0][usize::from(md)] + 4 * usize::from(rip | no_base);
    let admissible =
        is_reg | p67 | m.no_access() | rip | (has_sib & no_index & (no_base | ((base == 4) & (rex_b == 0))));
    if reg_bad | rm_bad | (INPUT & rip) | (!INPUT & !admissible) {
        // With INPUT, the rewriter needs iced's view of a RIP-relative operand.
        return None;
    }
    let len = i + 1 + usize::from(has_sib) + disp + imm;
    (len <= 15 && len <= b.len()).then_some((Fast::Plain(len as u8), INPUT & !admissible))
}
