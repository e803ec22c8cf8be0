//! Builds the bundle automaton's transition table (see [`crate::automaton`]) from the
//! opcode tables ([`crate::opcodes`]). Run by the build script, which includes this file
//! and writes the table into the crate; nothing here may refer to the rest of the crate
//! but `opcodes`.
//!
//! The automaton reads a bundle one byte at a time. Its states are what the table
//! decoder ([`crate::fastpath::decode`]) knows part-way through an instruction of a
//! fast form (the prefixes and REX seen, the opcode's operand rules, the bytes still to
//! come), plus the two pseudo-instructions of FORM.md (P1, P2), whose halves it tracks
//! as the full check does. Every byte sequence the table decoder does not claim, and
//! every stack-pointer form it claims only after a closer look, leads to the absorbing
//! state [`St::Fail`]: the verifier then checks that bundle the old way. So the automaton
//! claims a subset of what the table decoder and iced accept, never more; the tests in
//! `verify_tests.rs` compare the two on every bundle of real and generated code.
//!
//! State numbers: the states between instructions come first (see `END_*`), so that "an
//! instruction ended at this byte" is one comparison.

use crate::opcodes::*;
use std::collections::HashMap;

/// What the instruction that just ended asks of the verifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Ended {
    /// Nothing: an instruction every rule admits, not a branch.
    Plain = 0,
    /// A `jmp`/`jcc` rel8 (2 bytes, the displacement in the last byte).
    Br8 = 1,
    /// A `jmp` rel32 (5 bytes) or `jcc` rel32 (6): the displacement in the last 4 bytes.
    Br32 = 2,
    /// A `call` rel32 (5 bytes), which must end the bundle (C8).
    Call = 3,
    /// P1's `jmp *%rR` without REX (2 bytes): a second half.
    P1Jmp2 = 4,
    /// P1's `jmp *%rR` with REX.B (3 bytes).
    P1Jmp3 = 5,
    /// P1's `call *%rR` without REX (2 bytes), which must end the bundle.
    P1Call2 = 6,
    /// P1's `call *%rR` with REX.B (3 bytes), which must end the bundle.
    P1Call3 = 7,
    /// P2's `ret` (1 byte): a second half.
    P2Ret = 8,
    /// (Input automaton only) an instruction whose memory operand is not M1, M2 or M3:
    /// the rewriter puts 0x67 before it.
    Addr32 = 9,
}

/// The first halves of the pseudo-instructions, pending at an instruction boundary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Pending {
    None,
    /// `and $-32,%eR` (exact, R != rsp) just ended: a `jmp`/`call *%rR` next is P1's.
    P1(u8),
    /// `andq $0x7fffffe0,(%rsp)` just ended: a `c3` next is P2's.
    P2,
}

/// The legacy prefixes seen, as the table decoder counts them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub(crate) struct Pre {
    /// Number of 0x66 bytes (more than one only on a padding nop).
    c66: u8,
    p67: bool,
    /// 0, 0xF2 or 0xF3.
    rep: u8,
    /// 0x2e (only on a padding nop).
    cs: bool,
    /// Bytes so far (prefixes and REX).
    n: u8,
}

impl Pre {
    fn nopish(self) -> bool {
        self.c66 > 1 || self.cs
    }
    fn any(self) -> bool {
        self.c66 > 0 || self.p67 || self.rep != 0 || self.cs
    }
}

/// How ModRM.reg is checked.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum RegCheck {
    /// Any value (an XMM register, or a general one with REX.R).
    Any,
    /// A general register without REX.R: not 4 (the stack pointer).
    NotSp,
    /// An opcode extension: the allowed values' bits.
    Ext(u8),
}

/// How ModRM.rm is checked when it names a register (mod = 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum RmCheck {
    Any,
    /// A general register without REX.B: not 4.
    NotSp,
    /// Only a memory operand is valid.
    MemOnly,
}

/// How a memory operand is checked.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum MemCheck {
    /// Any shape: 0x67 (M1), or an instruction that accesses no memory (`lea`, `nop`).
    Any,
    /// M2 or M3 only, with these REX.X and REX.B bits.
    Strict { x: bool, b: bool },
}

/// The immediate after the operand.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum ImmLen {
    Fixed(u8),
    /// `test` in group 3: this many bytes when ModRM.reg is 0, else none.
    Test(u8),
}

/// What the ModRM byte of opcodes 81, 83, 89 and 8D may start besides the general
/// rules, when it names register 4 (the table decoder's closer look, `special_form`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Special {
    None,
    Op {
        op: u8,
        /// REX.W or 0x66 (the stack-pointer forms want neither).
        wide_or_16: bool,
        /// No legacy prefix and no REX but 0x41: `83 /4` may be P1's mask.
        p1: bool,
        /// `48 81` with no legacy prefix: may be P2's mask.
        p2: bool,
    },
}

/// What is known before an opcode's ModRM byte: the rules its fields must keep, the
/// immediate after the operand, the bytes left of 15 from the ModRM on (`budget`), the
/// stack-pointer and mask forms of 81/83/89/8D, and P1's pending register (with its
/// REX.B) when the opcode is the `ff` right after P1's mask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Operand {
    reg: RegCheck,
    rm: RmCheck,
    mem: MemCheck,
    imm: ImmLen,
    budget: u8,
    special: Special,
    p1: Option<(u8, bool)>,
}

/// One state of the automaton.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum St {
    /// Between instructions.
    Start(Ended, Pending),
    /// Legacy prefixes seen (at least one).
    Prefix(Pre),
    /// A REX seen (after `pre`); `p1`: the pending P1 register when nothing but this REX
    /// came since the mask.
    Rex(Pre, u8, Option<u8>),
    /// 0x0F seen, with the prefixes and REX before it.
    Op0F(Pre, u8),
    /// The ModRM byte is next.
    Modrm(Operand),
    /// The SIB byte is next (after a ModRM with this mod).
    Sib { md: u8, mem: MemCheck, imm: ImmLen, budget: u8 },
    /// P1's mask: the immediate byte of `83 /4` on register `r` is next; `exact` when the
    /// instruction has exactly the bytes P1 allows (else an immediate of 0xE0 fails).
    AndImm { r: u8, exact: bool },
    /// P2's mask: `48 81 24` seen; the rest of `24 e0 ff ff 7f` is next (this many bytes
    /// matched of it).
    P2Tail(u8),
    /// This many bytes of the instruction remain, then it ends as `Ended` says.
    Skip(u8, Ended),
    /// Not a fast form: the bundle goes to the full check.
    Fail,
}

const P2_TAIL: [u8; 5] = [0x24, 0xE0, 0xFF, 0xFF, 0x7F];

fn is_prefix(b: u8) -> bool {
    matches!(b, 0x66 | 0x67 | 0xF2 | 0xF3 | 0x2E)
}

/// The state after `n` more bytes, ending as `e`.
fn skip(n: u8, e: Ended) -> St {
    if n == 0 {
        St::Start(e, Pending::None)
    } else {
        St::Skip(n, e)
    }
}

/// One transition: of the verifier's automaton, or with `input` of the rewriter's, which
/// reads compiler output before the rewrite as [`crate::fastpath::decode_input`] does: a
/// memory operand that needs 0x67 ends as [`Ended::Addr32`] instead of failing, a
/// RIP-relative one fails (the rewriter needs iced's field offsets), and P1 and P2 are
/// not looked for (their masks fail, as `and` forms do in the table decoder).
pub(crate) fn step(input: bool, s: St, b: u8) -> St {
    match s {
        St::Fail => St::Fail,
        St::Start(_, pending) => {
            match pending {
                Pending::P2 if b == 0xC3 => return St::Start(Ended::P2Ret, Pending::None),
                Pending::P1(r) if r >= 8 && b == 0x41 => return St::Rex(Pre::default(), b, Some(r)),
                Pending::P1(r) if r < 8 && b == 0xFF => return ff_p1(r, false),
                _ => {}
            }
            after_prefixes(Pre::default(), b)
        }
        St::Prefix(pre) => after_prefixes(pre, b),
        St::Rex(pre, rex, p1) => {
            if let Some(r) = p1 {
                if b == 0xFF {
                    return ff_p1(r, true);
                }
            }
            opcode(pre, rex, b)
        }
        St::Op0F(pre, rex) => opcode_0f(pre, rex, b),
        St::Modrm(op) => modrm(input, op, b),
        St::Sib { md, mem, imm, budget } => {
            let base = b & 7;
            let no_base = base == 5 && md == 0;
            let ok = match mem {
                MemCheck::Any => true,
                MemCheck::Strict { x, b: rex_b } => {
                    let no_index = (b >> 3) & 7 == 4 && !x;
                    no_index && (no_base || (base == 4 && !rex_b))
                }
            };
            let disp = [0u8, 1, 4, 0][usize::from(md)] + if no_base { 4 } else { 0 };
            let rest = disp + imm_len(imm, None);
            operand_end(input, ok, 2, rest, budget)
        }
        St::AndImm { r, exact } => match (b, exact && !input) {
            (0xE0, true) => St::Start(Ended::Plain, Pending::P1(r)),
            (0xE0, false) => St::Fail,
            _ => St::Start(Ended::Plain, Pending::None),
        },
        St::P2Tail(k) => {
            if b != P2_TAIL[usize::from(k)] {
                St::Fail
            } else if usize::from(k) + 1 == P2_TAIL.len() {
                St::Start(Ended::Plain, Pending::P2)
            } else {
                St::P2Tail(k + 1)
            }
        }
        St::Skip(n, e) => skip(n - 1, e),
    }
}

fn imm_len(imm: ImmLen, reg: Option<u8>) -> u8 {
    match imm {
        ImmLen::Fixed(n) => n,
        ImmLen::Test(n) => {
            if reg == Some(0) {
                n
            } else {
                0
            }
        }
    }
}

/// `ff` right after P1's mask on register `r` (with its REX.B when `rex`): P1's branch
/// when the ModRM names r, else `ff`'s general forms.
fn ff_p1(r: u8, rex: bool) -> St {
    match opcode(Pre::default(), if rex { 0x41 } else { 0 }, 0xFF) {
        St::Modrm(op) => St::Modrm(Operand { p1: Some((r, rex)), ..op }),
        other => other,
    }
}

/// A byte after the prefixes seen so far (none at an instruction's start).
fn after_prefixes(mut pre: Pre, b: u8) -> St {
    if is_prefix(b) {
        match b {
            0x66 => pre.c66 += 1,
            0x67 if !pre.p67 => pre.p67 = true,
            0xF2 | 0xF3 if pre.rep == 0 => pre.rep = b,
            0x2E if !pre.cs => pre.cs = true,
            _ => return St::Fail,
        }
        pre.n += 1;
        // More than 12 prefixes leave no room for the shortest form that allows them
        // (`0f 1f 00`) within 15 bytes; the cap also keeps every budget positive.
        return if pre.n > 12 { St::Fail } else { St::Prefix(pre) };
    }
    if b & 0xF0 == 0x40 {
        if pre.nopish() {
            return St::Fail; // a padding nop's prefixes come right before 0F 1F
        }
        let mut pre = pre;
        pre.n += 1;
        return St::Rex(pre, b, None);
    }
    opcode(pre, 0, b)
}

/// The opcode byte `op` of the one-byte map (or 0x0F).
fn opcode(pre: Pre, rex: u8, op: u8) -> St {
    let n = pre.n + 1; // bytes including this one
    if op == 0x0F {
        return St::Op0F(pre, rex);
    }
    if pre.nopish() || pre.rep != 0 {
        return St::Fail; // only 0F 1F may carry those; F2/F3 only SSE's
    }
    let w = rex & 8 != 0;
    let iz = if pre.c66 > 0 && !w { 2 } else { 4 };
    let fx = fixed_entry(op);
    if fx != 0 {
        if fx & 3 == FX_PLAIN {
            let not_sp = (op & 7 | (rex & 1) << 3) != 4;
            let bad = (fx & NEED_NO_PREFIX != 0 && pre.any())
                || (fx & NEED_NO_REX != 0 && rex != 0)
                || (fx & NEED_NO_67 != 0 && pre.p67)
                || (fx & NEED_NOT_SP != 0 && !not_sp);
            if bad {
                return St::Fail;
            }
            let imm = fixed_imm(fx, iz, w);
            return if n + imm > 15 { St::Fail } else { skip(imm, Ended::Plain) };
        }
        if pre.any() || rex != 0 {
            return St::Fail;
        }
        return match (fx & 3, fx & FX_REL32 != 0) {
            (FX_CALL, _) => St::Skip(4, Ended::Call),
            (_, true) => St::Skip(4, Ended::Br32),
            _ => St::Skip(1, Ended::Br8),
        };
    }
    let d = one_byte_entry(op);
    if !d.valid() {
        return St::Fail;
    }
    let imm = match op {
        0xF6 => ImmLen::Test(1),
        0xF7 => ImmLen::Test(iz),
        _ => ImmLen::Fixed(match d.imm_kind() {
            0 => 0,
            1 => 1,
            _ => iz,
        }),
    };
    let special = match op {
        0x81 | 0x83 | 0x89 | 0x8D => Special::Op {
            op,
            wide_or_16: w || pre.c66 > 0,
            p1: op == 0x83 && !pre.any() && (rex == 0 || rex == 0x41),
            p2: op == 0x81 && !pre.any() && rex == 0x48,
        },
        _ => Special::None,
    };
    modrm_state(d, pre, rex, imm, n, special)
}

/// The 0F map's opcode byte `op`.
fn opcode_0f(pre: Pre, rex: u8, op: u8) -> St {
    let n = pre.n + 2;
    if pre.nopish() {
        // Only `66.. [2e] 0f 1f /0` (nop r/m) with no other prefix and no REX.
        if pre.p67 || pre.rep != 0 || rex != 0 || op != 0x1F {
            return St::Fail;
        }
    }
    if (0x80..=0x8F).contains(&op) {
        return if pre.any() || rex != 0 { St::Fail } else { St::Skip(4, Ended::Br32) };
    }
    let p66 = pre.c66 > 0;
    if (0xC8..=0xCF).contains(&op) {
        let r = op & 7 | (rex & 1) << 3;
        return if p66 || pre.rep != 0 || r == 4 { St::Fail } else { St::Start(Ended::Plain, Pending::None) };
    }
    let class = match (p66, pre.rep) {
        (false, 0) => P_NONE,
        (true, 0) => P_66,
        (false, 0xF3) => P_F3,
        (false, 0xF2) => P_F2,
        _ => return St::Fail,
    };
    let d = if op == 0x7E {
        match class {
            P_66 => Desc::new(Reg::Xmm, Rm::Gpr, Imm::None, false, P_66),
            P_F3 => Desc::new(Reg::Xmm, Rm::Xmm, Imm::None, false, P_F3),
            _ => return St::Fail,
        }
    } else {
        two_byte_entry(op)
    };
    if !d.valid() || d.prefixes() & class == 0 {
        return St::Fail;
    }
    let imm = ImmLen::Fixed(u8::from(d.imm_kind() == 1));
    modrm_state(d, pre, rex, imm, n, Special::None)
}

/// The state before the ModRM byte of an opcode with descriptor `d`, `n` bytes in.
fn modrm_state(d: Desc, pre: Pre, rex: u8, imm: ImmLen, n: u8, special: Special) -> St {
    let (rex_r, rex_x, rex_b) = (rex & 4 != 0, rex & 2 != 0, rex & 1 != 0);
    let reg = match d.reg_kind() {
        0 if !rex_r => RegCheck::NotSp,
        2 => RegCheck::Ext(d.ext_mask() as u8),
        _ => RegCheck::Any,
    };
    let rm = match d.rm_kind() {
        0 if !rex_b => RmCheck::NotSp,
        2 => RmCheck::MemOnly,
        _ => RmCheck::Any,
    };
    let mem = if pre.p67 || d.no_access() { MemCheck::Any } else { MemCheck::Strict { x: rex_x, b: rex_b } };
    // The ModRM byte and everything after it are at most 1 + 1 + 4 + 4 bytes, and the
    // rewriter's 0x67 one more: a budget of 11 or more never refuses anything, so it is
    // kept as 11 (fewer states).
    let budget = (15 - n).min(11);
    St::Modrm(Operand { reg, rm, mem, imm, budget, special, p1: None })
}

/// The ModRM byte `b` of an instruction whose operand rules are `op`.
fn modrm(input: bool, op: Operand, b: u8) -> St {
    let Operand { reg, rm, mem, imm, budget, special, p1 } = op;
    let (md, r, m) = (b >> 6, (b >> 3) & 7, b & 7);
    if let Some((pr, rex)) = p1 {
        if md == 3 && m == pr & 7 && (r == 4 || r == 2) {
            return St::Start(
                match (r == 4, rex) {
                    (true, false) => Ended::P1Jmp2,
                    (true, true) => Ended::P1Jmp3,
                    (false, false) => Ended::P1Call2,
                    (false, true) => Ended::P1Call3,
                },
                Pending::None,
            );
        }
    }
    // 81, 83, 89, 8D naming register 4: the table decoder's closer look (`special_form`):
    // the stack-pointer forms it admits, `and`, and here P1's and P2's masks.
    if let Special::Op { op, wide_or_16, p1, p2 } = special {
        if r == 4 || b & 0xC7 == 0xC4 {
            let rex_r = reg == RegCheck::Any; // 89 and 8D: a general reg without REX.R is NotSp
            let rex_b = rm == RmCheck::Any; // 81, 83, 89: a general rm without REX.B is NotSp
            match op {
                // add/sub $imm, %esp
                0x81 | 0x83 if md == 3 && m == 4 && !rex_b && !wide_or_16 && (r == 0 || r == 5) => {
                    let imm = if op == 0x83 { 1 } else { 4 };
                    return if 1 + imm > budget { St::Fail } else { skip(imm, Ended::Plain) };
                }
                // lea m, %esp: any memory shape (lea accesses no memory).
                0x8D if md != 3 && r == 4 && !rex_r && !wide_or_16 => {
                    return memory(input, md, m, MemCheck::Any, 0, budget);
                }
                // mov %rsp/%esp/%sp, r (a register destination other than the stack pointer)
                0x89 if md == 3 && r == 4 && !rex_r && (m != 4 || rex_b) => {
                    return St::Start(Ended::Plain, Pending::None)
                }
                _ => {}
            }
            if matches!(op, 0x81 | 0x83) && r == 4 {
                // `and`: P2's mask (exact), else never on memory; on a register the
                // general rules, except an immediate of 0xe0 (P1's mask, exact or not).
                if md != 3 {
                    return if p2 && b == 0x24 && !input { St::P2Tail(0) } else { St::Fail };
                }
                if m == 4 && !rex_b {
                    return St::Fail;
                }
                if op == 0x83 {
                    return if 2 > budget { St::Fail } else { St::AndImm { r: m | u8::from(rex_b) << 3, exact: p1 } };
                }
            }
        }
    }
    let reg_bad = match reg {
        RegCheck::Any => false,
        RegCheck::NotSp => r == 4,
        RegCheck::Ext(mask) => mask & (1 << r) == 0,
    };
    if reg_bad {
        return St::Fail;
    }
    let imm = imm_len(imm, Some(r));
    if md == 3 {
        let rm_bad = match rm {
            RmCheck::Any => false,
            RmCheck::NotSp => m == 4,
            RmCheck::MemOnly => true,
        };
        if rm_bad || 1 + imm > budget {
            return St::Fail;
        }
        // `and $imm8, %eR` (83 /4) is P1's mask when the immediate is 0xe0: handled above
        // for the exact forms; any other 83 /4 on a register ends here unless its
        // immediate is 0xe0 (which only iced marks as such).
        return skip(imm, Ended::Plain);
    }
    memory(input, md, m, mem, imm, budget)
}

/// A memory operand's ModRM (mod `md`, rm `m`) just read: the SIB byte next, or the
/// displacement and `imm` bytes of immediate.
fn memory(input: bool, md: u8, m: u8, mem: MemCheck, imm: u8, budget: u8) -> St {
    if m == 4 {
        return St::Sib { md, mem, imm: ImmLen::Fixed(imm), budget };
    }
    let rip = md == 0 && m == 5;
    if rip && input {
        return St::Fail;
    }
    let ok = matches!(mem, MemCheck::Any) || rip;
    let disp = [0u8, 1, 4, 0][usize::from(md)] + if rip { 4 } else { 0 };
    operand_end(input, ok, 1, disp + imm, budget)
}

/// The rest of an instruction after its memory operand's ModRM and SIB (`read` bytes):
/// `rest` more, all within `budget` from the ModRM on; `ok` when the operand is M1, M2 or
/// M3 (or accesses no memory). The verifier's automaton fails an operand that is not;
/// the rewriter's claims it as [`Ended::Addr32`] when the instruction stays within 15
/// bytes with 0x67.
fn operand_end(input: bool, ok: bool, read: u8, rest: u8, budget: u8) -> St {
    match (ok, input) {
        (true, _) if read + rest <= budget => skip(rest, Ended::Plain),
        (false, true) if read + rest < budget => skip(rest, Ended::Addr32),
        _ => St::Fail,
    }
}

/// The automaton: `next[s * 256 + b]` is the state after byte `b` in state `s`; states
/// `0..END_COUNT` are between instructions (`Start`), numbered as [`start_id`] says.
pub(crate) struct Built {
    pub(crate) next: Vec<u16>,
    pub(crate) states: Vec<St>,
    pub(crate) fail: u16,
}

/// The verifier's states between instructions: `Ended` 0-8 with nothing pending, then
/// P1's pending registers (not 4), then P2's.
pub(crate) const END_COUNT: usize = 9 + 15 + 1;

/// The rewriter's states between instructions: after a plain instruction, an
/// [`Ended::Addr32`] one, a rel8 branch, a rel32 branch, a call.
pub(crate) const INPUT_END_COUNT: usize = 5;

/// The number of a `Start` state (of the rewriter's automaton with `input`).
pub(crate) fn start_id(input: bool, e: Ended, p: Pending) -> Option<usize> {
    if input {
        return match (e, p) {
            (Ended::Plain, Pending::None) => Some(0),
            (Ended::Addr32, Pending::None) => Some(1),
            (Ended::Br8, Pending::None) => Some(2),
            (Ended::Br32, Pending::None) => Some(3),
            (Ended::Call, Pending::None) => Some(4),
            _ => None,
        };
    }
    match p {
        Pending::None if e != Ended::Addr32 => Some(e as usize),
        Pending::P1(r) if e == Ended::Plain && r != 4 => Some(9 + usize::from(if r > 4 { r - 1 } else { r })),
        Pending::P2 if e == Ended::Plain => Some(24),
        _ => None,
    }
}

/// Explores every state reachable from an instruction's start (the verifier's, or the
/// rewriter's with `input`) and numbers it.
pub(crate) fn build(input: bool) -> Built {
    let count = if input { INPUT_END_COUNT } else { END_COUNT };
    let mut states: Vec<St> = vec![St::Fail; count];
    let mut ids: HashMap<St, usize> = HashMap::new();
    let ended: &[Ended] = if input {
        &[Ended::Plain, Ended::Addr32, Ended::Br8, Ended::Br32, Ended::Call]
    } else {
        &[
            Ended::Plain,
            Ended::Br8,
            Ended::Br32,
            Ended::Call,
            Ended::P1Jmp2,
            Ended::P1Jmp3,
            Ended::P1Call2,
            Ended::P1Call3,
            Ended::P2Ret,
        ]
    };
    let mut starts: Vec<St> = ended.iter().map(|&e| St::Start(e, Pending::None)).collect();
    if !input {
        starts.extend((0..16u8).filter(|&r| r != 4).map(|r| St::Start(Ended::Plain, Pending::P1(r))));
        starts.push(St::Start(Ended::Plain, Pending::P2));
    }
    for s in starts {
        let St::Start(e, p) = s else { unreachable!() };
        let id = start_id(input, e, p).expect("a start state");
        states[id] = s;
        ids.insert(s, id);
    }
    let mut next: Vec<u16> = Vec::new();
    let mut k = 0;
    while k < states.len() {
        let s = states[k];
        for b in 0..=255u8 {
            let t = step(input, s, b);
            let id = match ids.get(&t) {
                Some(&id) => id,
                None => {
                    if let St::Start(..) = t {
                        panic!("automaton: start state {t:?} has no number");
                    }
                    states.push(t);
                    ids.insert(t, states.len() - 1);
                    states.len() - 1
                }
            };
            next.push(u16::try_from(id).expect("fewer than 65536 states"));
        }
        k += 1;
    }
    let fail = *ids.get(&St::Fail).expect("some byte fails") as u16;
    Built { next, states, fail }
}
