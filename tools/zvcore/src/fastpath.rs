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

use crate::opcodes::*;

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

/// The one-byte map's forms without a ModRM byte ([`fixed_entry`]), one entry per
/// opcode (0: none; the ModRM forms are in [`ONE_BYTE`]), so that the decoder tells them
/// apart with one load instead of a match.
static FIXED: [u16; 256] = build_fixed();

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
            let imm = usize::from(fixed_imm(fx, iz as u8, w));
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
