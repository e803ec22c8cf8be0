//! Phase 3, rewrite: turns one code section of stock compiler output into ZV64 form
//! (TOOLCHAIN.md section 2, the rewrite table; FORM.md section 3, the rules it aims at).
//!
//! It works in two steps per section, so that sections can be processed in parallel and
//! the set of indirect-branch targets (which needs every section's relocations) can be
//! computed in between:
//!
//! 1. [`decode`] decodes the section linearly from its start (data in code is an error),
//!    rewrites each instruction into one or more *units* (a unit is the bytes that must
//!    stay inside one bundle: an instruction, or a pseudo-instruction P1/P2) and records
//!    *fixups*: relocations moved with their field, and section-local branches and
//!    RIP-relative references whose displacement must be recomputed after layout.
//! 2. [`emit`] lays the units out in 32-byte bundles: no unit crosses a bundle edge,
//!    every call ends at a bundle edge, every indirect-branch target starts a bundle.
//!    It yields the new bytes, the old-to-new offset map, and the moved relocations.
//!
//! One rewrite spans two input instructions: a general- or local-dynamic TLS sequence
//! (`lea x@tlsgd(%rip),%rdi` or `lea x@tlsld(%rip),%rdi`, then the call of
//! `__tls_get_addr`) is relaxed to local-exec as a whole, and the call disappears.
//!
//! zvld never trusts this module: the linked output is checked by `zvcore`'s verifier
//! before it is written.

use iced_x86::{
    Code, ConstantOffsets, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic,
    OpAccess, OpKind, Register,
};
use object::elf;

use crate::error::{LinkError, Location, Result};
use crate::inputs::{Class, Object, Reloc, Section, SymDef};
use crate::resolve::TLS_GET_ADDR;

/// Bundle size (FORM.md: BUNDLE).
const BUNDLE: u32 = zvcore::form::BUNDLE as u32;

/// What a moved relocation refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelSym {
    /// Symbol index in the section's own object (0: none, value 0).
    Obj(u32),
    /// A global symbol zvld's rewrites introduce (`__zv_syscall`, `__zv_tp`).
    Global(&'static str),
}

/// A relocation of the rewritten section.
#[derive(Clone, Copy, Debug)]
pub struct OutReloc {
    /// Offset of the field in the rewritten section.
    pub at: u32,
    /// ELF relocation type.
    pub r_type: u32,
    /// The symbol.
    pub sym: RelSym,
    /// The addend, unchanged from the input.
    pub addend: i64,
    /// Bytes from the field to the end of its instruction; a PC-relative field's value
    /// is relative to `at + bias` (the same in input and output).
    pub bias: u8,
    /// The field is the target of a direct branch (its target need not start a bundle).
    pub branch: bool,
    /// Bytes of its instruction before the field (0 when not known): GOT relaxation
    /// rewrites the opcode and ModRM (and REX) before the field only when they are there.
    pub head: u8,
    /// Where messages place it in the input section: the input relocation's offset, or
    /// for a relocation a rewrite introduces, its instruction's offset ([`NO_INPUT`]
    /// until [`Emitter::fix`] sets it).
    pub input: u32,
}

/// [`OutReloc::input`] not known yet.
const NO_INPUT: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
enum FixKind {
    Reloc(OutReloc),
    /// rel32 of a direct branch to `target` (input offset in this section).
    LocalBranch {
        target: u32,
    },
    /// disp32 of a RIP-relative operand that refers into this section without a
    /// relocation; relative to the field plus `bias`.
    LocalRip {
        target: u32,
        bias: u8,
    },
}

/// A fixup as stored: a moved relocation is kept in its part's `relocs` (by index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    Reloc(u32),
    LocalBranch { target: u32 },
    LocalRip { target: u32, bias: u8 },
}

/// A fixup in 12 bytes (one per relocation and local branch: tens of thousands per
/// link): the [`Stored`] kind packed beside the unit and field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fixup {
    unit: u32,
    /// The relocation index or the target, by `tag`.
    value: u32,
    at: u8,
    tag: u8,
    bias: u8,
}

impl Fixup {
    fn new(unit: u32, at: u8, kind: Stored) -> Fixup {
        let (tag, value, bias) = match kind {
            Stored::Reloc(i) => (0, i, 0),
            Stored::LocalBranch { target } => (1, target, 0),
            Stored::LocalRip { target, bias } => (2, target, bias),
        };
        Fixup { unit, value, at, tag, bias }
    }
    fn kind(&self) -> Stored {
        match self.tag {
            0 => Stored::Reloc(self.value),
            1 => Stored::LocalBranch { target: self.value },
            _ => Stored::LocalRip { target: self.value, bias: self.bias },
        }
    }
}

const _: () = assert!(std::mem::size_of::<Fixup>() == 12 && std::mem::size_of::<Unit>() == 8);

/// One output piece: an instruction, or one of the several an instruction becomes. 8
/// bytes (the three flags share a byte; a local branch's target is in its fixup): there
/// is one per input instruction and more, so their size is pages faulted in on every
/// link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Unit {
    in_off: u32,
    len: u8,
    /// The opcode of the rel8 form of a section-local `jmp`/`jcc` (rel32 in `bytes`,
    /// its target in the unit's `LocalBranch` fixup), used when the target is near
    /// enough after layout; 0 otherwise.
    short: u8,
    /// [`Unit::CALL`], [`Unit::FIRST`], [`Unit::ALIGN`].
    flags: u8,
}

impl Unit {
    /// A call: padded so that it ends on a bundle boundary.
    const CALL: u8 = 1;
    /// The first unit of an input instruction: the offset map points here.
    const FIRST: u8 = 2;
    /// Starts a bundle regardless of the offset map (flag-replay stubs).
    const ALIGN: u8 = 4;
    fn call(&self) -> bool {
        self.flags & Self::CALL != 0
    }
    fn first(&self) -> bool {
        self.flags & Self::FIRST != 0
    }
    fn align(&self) -> bool {
        self.flags & Self::ALIGN != 0
    }
}

/// A decoded and rewritten section, before bundle layout.
#[derive(Debug)]
pub struct Decoded {
    /// The chunks' code in order, then the chunks' flag-replay stubs (see
    /// [`crate::flags`]), which follow the section's own code. Units and fixups index
    /// within their part.
    parts: Vec<Emitter>,
    size: u32,
    /// Index of the first stub part.
    stubs_from: usize,
    /// Stubs: (part, unit in it, table section, entry relocation offset).
    stubs: Vec<(usize, Stub)>,
}

/// A flag-replay stub and the jump-table entry that must point at it.
#[derive(Clone, Copy, Debug)]
struct Stub {
    unit: u32,
    table_sec: u32,
    reloc_off: u64,
}

impl Decoded {
    /// Moved relocations and local references, as (field input offset is unknown here)
    /// targets for the indirect-target analysis: for each relocation of this section,
    /// its symbol, addend, bias and whether it is a branch field.
    pub fn relocs(&self) -> impl Iterator<Item = &OutReloc> {
        self.parts.iter().flat_map(|p| p.relocs.iter())
    }

    /// Input offsets in this section that are referenced as data (RIP-relative, no
    /// relocation), and so may be indirect-branch targets.
    pub fn local_address_targets(&self) -> impl Iterator<Item = u32> + '_ {
        self.parts.iter().flat_map(|p| p.fixups.iter()).filter_map(|f| match f.kind() {
            Stored::LocalRip { target, .. } => Some(target),
            _ => None,
        })
    }
}

/// Input bytes per lookup bucket of [`Rewritten`] (1 << BUCKET_SHIFT): a few
/// instructions, so that the many lookups of relocation and debug-information
/// processing are one load and a short scan.
const BUCKET_SHIFT: u32 = 5;

/// A section in ZV64 form, before its address is known.
#[derive(Debug, Default)]
pub struct Rewritten {
    /// The new bytes (a multiple of 32 long, NOP padded).
    pub bytes: Vec<u8>,
    /// Input instruction offset to output offset, sorted, including (input size, end).
    pub map: Vec<(u32, u32)>,
    /// Relocations of the new bytes.
    pub relocs: Vec<OutReloc>,
    /// Flag-replay stubs: (table section, offset of the entry's relocation, output
    /// offset of the stub). The table entry must point at the stub.
    pub stubs: Vec<(u32, u64, u32)>,
    /// For each `1 << BUCKET_SHIFT` input bytes, the index of the first map entry at or after
    /// them: a lookup is one bucket and a search among a few entries.
    buckets: Vec<u32>,
}

impl Rewritten {
    /// The output offset of the instruction that starts at input offset `off`.
    pub fn lookup(&self, off: u64) -> Option<u64> {
        let off = u32::try_from(off).ok()?;
        let (lo, hi) = self.bucket(off);
        let m = &self.map[lo..hi];
        m.binary_search_by_key(&off, |&(i, _)| i).ok().map(|k| u64::from(m[k].1))
    }

    /// The map entries that can hold input offset `off`.
    fn bucket(&self, off: u32) -> (usize, usize) {
        let b = (off >> BUCKET_SHIFT) as usize;
        match (self.buckets.get(b), self.buckets.get(b + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, (hi as usize + 1).min(self.map.len())),
            (Some(&lo), None) => (lo as usize, self.map.len()),
            _ => (self.map.len(), self.map.len()),
        }
    }

    /// The output offset of input offset `off`, or of the instruction containing it
    /// plus the distance into it (for debug information).
    pub fn lookup_nearest(&self, off: u64) -> Option<u64> {
        let o32 = u32::try_from(off).ok()?;
        let (lo, hi) = self.bucket(o32);
        let m = &self.map[..hi];
        let k = lo + m[lo..].partition_point(|&(i, _)| i <= o32);
        let (i, o) = self.map[k.checked_sub(1)?];
        Some(u64::from(o) + (off - u64::from(i)))
    }

    fn build_buckets(&mut self) {
        use rayon::prelude::*;
        let size = self.map.last().map_or(0, |&(i, _)| i);
        let n = (size >> BUCKET_SHIFT) as usize + 2;
        let mut buckets = vec![0u32; n];
        let map = &self.map;
        // Buckets [first, first + out.len()): a search for the first, then a walk.
        let fill = |first: usize, out: &mut [u32]| {
            let mut k = map.partition_point(|&(i, _)| i < (first as u32) << BUCKET_SHIFT);
            for (j, slot) in out.iter_mut().enumerate() {
                let start = ((first + j) as u32) << BUCKET_SHIFT;
                while k < map.len() && map[k].0 < start {
                    k += 1;
                }
                *slot = k as u32;
            }
        };
        const PIECE: usize = 4096;
        if n > 4 * PIECE {
            buckets.par_chunks_mut(PIECE).enumerate().for_each(|(c, out)| fill(c * PIECE, out));
        } else {
            fill(0, &mut buckets);
        }
        self.buckets = buckets;
    }

    /// The input offset of the instruction whose output covers `out` (for diagnostics).
    pub fn reverse(&self, out: u64) -> Option<u64> {
        let k = self.map.partition_point(|&(_, o)| u64::from(o) <= out);
        k.checked_sub(1).map(|k| u64::from(self.map[k].0))
    }
}

/// One code section with what the rewriter needs to know around it.
pub struct SectionCtx<'o, 'a> {
    /// The object.
    pub obj: &'o Object<'a>,
    /// The section.
    pub sec: &'o Section<'a>,
    /// Defined symbols in this section: (offset, name), sorted by offset.
    pub symbols: Vec<(u64, &'a str)>,
    /// Starts of the section's functions, sorted: its STT_FUNC symbols (a plain label
    /// inside a function, from assembly, is not one), or its global symbols when it has
    /// no STT_FUNC symbol (none: the section is one function). Chunks, the r11 rule and
    /// the flag analysis all cut here.
    pub functions: Vec<u64>,
    /// Rewrite `cpuid` and `xgetbv` into calls of zrt's `__zv_cpuid` and `__zv_xgetbv`
    /// (fixed, deterministic answers) instead of rejecting them (`--emulate-cpuid`; off
    /// by default).
    pub emulate_cpuid: bool,
    /// The parts of the object's functions that gcc split into `f` and `f.cold`
    /// (`f.cold.N`), found once when the r11 rule first asks ([`split_parts_use_r11`]).
    pub cold_parts: std::sync::OnceLock<SplitParts>,
}

impl SectionCtx<'_, '_> {
    /// A [`Location`] for an offset in this section.
    pub fn location(&self, off: u64) -> Location {
        // The function as the rewriter cuts them (`functions`), named by its symbol; a
        // plain label inside it (`next:` in assembly) is not (audit finding: errors said
        // "in function next+0x6"). Else the nearest symbol.
        let start = self.functions.partition_point(|&o| o <= off).checked_sub(1).map(|k| self.functions[k]);
        let named = |o: u64| self.symbols.binary_search_by_key(&o, |&(x, _)| x).ok().map(|k| self.symbols[k].1);
        let function = start.and_then(|o| named(o).map(|n| (n.to_string(), off - o))).or_else(|| {
            let k = self.symbols.partition_point(|&(o, _)| o <= off);
            k.checked_sub(1).map(|k| (self.symbols[k].1.to_string(), off - self.symbols[k].0))
        });
        Location {
            object: self.obj.name.clone(),
            section: self.sec.name.to_string(),
            offset: off,
            function,
            in_data: false,
        }
    }

    fn err(&self, off: u64, ins: &str, reason: impl Into<String>, hint: impl Into<String>) -> LinkError {
        LinkError::Rewrite {
            at: self.location(off),
            instruction: ins.to_string(),
            reason: reason.into(),
            hint: hint.into(),
        }
    }
}

/// The advice for input zvld cannot rewrite because of how it was compiled (a literal,
/// so that [`HINT_R11`] can extend it).
macro_rules! hint_flags {
    () => {
        "compile with zvcc (its flags: -fno-pic -fno-pie -ffixed-r11 -mno-tls-direct-seg-refs -fcf-protection=none)"
    };
}
const HINT_FLAGS: &str = hint_flags!();

/// The hint for a rewrite that needs r11 where the function uses it.
const HINT_R11: &str = concat!(
    hint_flags!(),
    ": -ffixed-r11 keeps compiled code off r11; in inline or hand-written assembly, keep r11 out of every \
     function (and every part of a function split into f and f.cold) that branches through memory or uses %fs: \
     operands"
);

#[derive(Debug)]
struct Emitter {
    bytes: Vec<u8>,
    units: Vec<Unit>,
    fixups: Vec<Fixup>,
    /// The moved relocations that `Stored::Reloc` fixups index.
    relocs: Vec<OutReloc>,
    in_off: u32,
    first: bool,
    /// Units that start an input instruction (entries of the offset map).
    firsts: u32,
}

impl Emitter {
    fn unit(&mut self, b: &[u8], call: bool) -> u32 {
        self.unit_with(b, call, false)
    }
    fn unit_with(&mut self, b: &[u8], call: bool, align: bool) -> u32 {
        let i = self.unit_bytes_later(b.len(), call, align);
        self.bytes.extend_from_slice(b);
        i
    }
    /// A unit of `len` bytes whose bytes the caller appends to `bytes` before the next
    /// unit's (a run of instructions kept byte for byte is copied with one move).
    fn unit_bytes_later(&mut self, len: usize, call: bool, align: bool) -> u32 {
        let i = self.units.len() as u32;
        let flags = if call { Unit::CALL } else { 0 }
            | if self.first { Unit::FIRST } else { 0 }
            | if align { Unit::ALIGN } else { 0 };
        self.units.push(Unit { in_off: self.in_off, len: len as u8, short: 0, flags });
        self.firsts += u32::from(self.first);
        self.first = false;
        i
    }
    fn fix(&mut self, unit: u32, at: usize, kind: FixKind) {
        let kind = match kind {
            FixKind::Reloc(mut r) => {
                if r.input == NO_INPUT {
                    r.input = self.in_off;
                }
                self.relocs.push(r);
                Stored::Reloc(self.relocs.len() as u32 - 1)
            }
            FixKind::LocalBranch { target } => Stored::LocalBranch { target },
            FixKind::LocalRip { target, bias } => Stored::LocalRip { target, bias },
        };
        self.fixups.push(Fixup::new(unit, at as u8, kind));
    }
}

/// A rewritten instruction being built (no allocation per instruction).
#[derive(Default)]
struct Buf {
    b: [u8; 32],
    n: usize,
}

impl Buf {
    fn push(&mut self, x: u8) {
        if self.n < self.b.len() {
            self.b[self.n] = x;
        }
        self.n += 1;
    }
    fn len(&self) -> usize {
        self.n
    }
    fn bytes(&self) -> &[u8] {
        &self.b[..self.n.min(self.b.len())]
    }
}

/// Layout of an instruction's prefix bytes.
#[derive(Default)]
struct Prefixes {
    /// Index of the opcode (after legacy prefixes and REX).
    op: usize,
    /// Index of the REX byte.
    rex: Option<usize>,
    seg: Option<u8>,
    p66: bool,
    p67: bool,
    /// A REX byte that is not immediately before the opcode (a legacy prefix follows it):
    /// the processor ignores it, and the rewrites, which drop or add prefixes, would make
    /// it count.
    stray_rex: bool,
}

fn prefixes(raw: &[u8]) -> Prefixes {
    let mut p = Prefixes::default();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 => p.seg = Some(raw[i]),
            0x66 => p.p66 = true,
            0x67 => p.p67 = true,
            0xF0 | 0xF2 | 0xF3 => {}
            0x40..=0x4F => {
                p.stray_rex |= p.rex.is_some();
                p.rex = Some(i);
            }
            _ => break,
        }
        i += 1;
    }
    // A REX prefix only counts when it is immediately before the opcode.
    if let Some(r) = p.rex {
        if r + 1 != i {
            p.rex = None;
            p.stray_rex = true;
        }
    }
    p.op = i;
    p
}

/// P2: `andq $0x7fffffe0,(%rsp); ret`.
fn p2() -> [u8; 9] {
    let mut b = [0xC3; 9];
    b[..8].copy_from_slice(&zvcore::form::P2_MASK_BYTES);
    b
}

/// P1 on 64-bit register number `n`: `and $-32,%eN; jmp/call *%rN`.
fn p1(n: u8, call: bool) -> Buf {
    let mut b = Buf::default();
    if n >= 8 {
        b.push(0x41);
    }
    for x in [0x83, 0xE0 | (n & 7), zvcore::form::P1_MASK_IMM8] {
        b.push(x);
    }
    if n >= 8 {
        b.push(0x41);
    }
    b.push(0xFF);
    b.push(if call { 0xD0 } else { 0xE0 } | (n & 7));
    b
}

fn gpr64_number(r: Register) -> Option<u8> {
    if r.is_gpr64() {
        Some((r as u32 - Register::RAX as u32) as u8)
    } else {
        None
    }
}

fn mentions_r11(ins: &Instruction) -> bool {
    for i in 0..ins.op_count() {
        match ins.op_kind(i) {
            OpKind::Register if ins.op_register(i).full_register() == Register::R11 => return true,
            OpKind::Memory
                if ins.memory_base().full_register() == Register::R11
                    || ins.memory_index().full_register() == Register::R11 =>
            {
                return true
            }
            _ => {}
        }
    }
    false
}

/// Whether an instruction's bytes can name %r11 in an operand: only a REX prefix with
/// its R, X or B bit set (the fourth bit of a register number), or a VEX, EVEX or XOP
/// prefix (which carry those bits, and whose `vvvv` names a general register in the BMI
/// instructions) can name r8-r15. Without one, every register operand is one of the
/// first eight. `false` is certain (the instruction does not mention r11); `true` means
/// iced has to look.
fn may_mention_r11(raw: &[u8]) -> bool {
    for &b in raw {
        match b {
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0x66 | 0x67 | 0xF0 | 0xF2 | 0xF3 => {}
            0x40..=0x4F if b & 7 == 0 => {}
            // REX.R, .X or .B; VEX (C4, C5), EVEX (62), XOP (8F, or `pop r/m`).
            0x41..=0x4F | 0xC4 | 0xC5 | 0x62 | 0x8F => return true,
            _ => return false,
        }
    }
    true
}

/// The name of the function a part named `name` belongs to: `f` for gcc's cold parts
/// `f.cold` and `f.cold.N`, else `name` itself.
fn split_function(name: &str) -> &str {
    // A byte scan: `str::find` sets up a substring searcher per call, which cost 4% of a
    // link when every symbol of sqlite3.o was looked at.
    let b = name.as_bytes();
    match b.windows(5).position(|w| w == b".cold") {
        Some(k) if b.len() == k + 5 || b[k + 5] == b'.' => &name[..k],
        _ => name,
    }
}

/// Whether another part of the function `name` belongs to (its hot part `f` or a cold part
/// `f.cold`, `f.cold.N`, defined in `obj`) mentions r11 (as [`Listing::function_uses_r11`]
/// reads a function). Rare: only functions gcc split and that need r11 as scratch get
/// here, so the parts are decoded here with iced. A part without a size, or outside its
/// section, counts as using r11 (zvld then says so rather than guess).
fn split_parts_use_r11(ctx: &SectionCtx<'_, '_>, lo: u64) -> bool {
    let obj = ctx.obj;
    let sp = ctx.cold_parts.get_or_init(|| SplitParts::of(ctx));
    // The functions with a part that starts here (found by position, so an alias of the
    // hot part at the same address, whatever its name, does not hide it), and their
    // other parts.
    let here = |p: &&Part| p.sec == sp.sec && p.start == lo;
    let groups: Vec<u32> = sp.parts.iter().filter(here).map(|p| p.group).collect();
    if groups.is_empty() {
        return false;
    }
    sp.parts.iter().filter(|p| groups.contains(&p.group) && !here(p)).any(|p| {
        let Some(bytes) = obj
            .sections
            .get(p.sec as usize)
            .and_then(|sec| sec.data.get(p.start as usize..p.start.checked_add(p.size)? as usize))
        else {
            return true;
        };
        if p.size == 0 {
            return true;
        }
        let mut d = Decoder::with_ip(64, bytes, p.start, DecoderOptions::NONE);
        let mut insns = Vec::new();
        while d.can_decode() {
            insns.push((d.decode(), ()));
        }
        function_uses_r11(&insns)
    })
}

/// One part of a split function: where it lies and which function (`group`) it is of.
#[derive(Debug)]
pub struct Part {
    sec: u32,
    start: u64,
    size: u64,
    group: u32,
}

/// Every part (hot and cold) of the functions gcc split in an object, and the index of
/// the section being decoded.
#[derive(Debug)]
pub struct SplitParts {
    sec: u32,
    parts: Vec<Part>,
}

impl SplitParts {
    fn of(ctx: &SectionCtx<'_, '_>) -> SplitParts {
        let obj = ctx.obj;
        let sec = obj.sections.iter().position(|s| std::ptr::eq(s, ctx.sec)).unwrap_or(usize::MAX) as u32;
        let mut bases: Vec<&str> = Vec::new();
        let mut parts = Vec::new();
        let mut part = |s: &crate::inputs::Symbol<'_>, group: usize| {
            if let SymDef::Section { sec, value } = s.def {
                parts.push(Part { sec, start: value, size: s.size, group: group as u32 });
            }
        };
        for s in &obj.symbols {
            let base = split_function(s.name);
            if base.len() < s.name.len() {
                let g = bases.iter().position(|b| *b == base).unwrap_or_else(|| {
                    bases.push(base);
                    bases.len() - 1
                });
                part(s, g);
            }
        }
        if !bases.is_empty() {
            for s in &obj.symbols {
                if let Some(g) = bases.iter().position(|b| *b == s.name) {
                    part(s, g);
                }
            }
        }
        SplitParts { sec, parts }
    }
}

/// Whether a function, every instruction decoded by iced, mentions r11 other than in
/// gcc's stack-clash probe loop: the reference for [`Listing::function_uses_r11`] (tests
/// compare the two), and the reading of another section's part of a split function.
fn function_uses_r11<T>(insns: &[(Instruction, T)]) -> bool {
    let mut j = 0;
    while j < insns.len() {
        if let Some([a, b, c, d, e]) = insns.get(j..j + 5) {
            if is_stack_clash_probe_loop([&a.0, &b.0, &c.0, &d.0, &e.0]) {
                j += 5;
                continue;
            }
        }
        if mentions_r11(&insns[j].0) {
            return true;
        }
        j += 1;
    }
    false
}

/// The five instructions of gcc's stack-clash probe loop (see [`Listing::function_uses_r11`]).
fn is_stack_clash_probe_loop([lea, sub, or, cmp, jne]: [&Instruction; 5]) -> bool {
    let rsp_mem = |i: &Instruction, op: u32| {
        i.op_kind(op) == OpKind::Memory
            && i.memory_base() == Register::RSP
            && i.memory_index() == Register::None
            && i.segment_prefix() == Register::None
    };
    let reg = |i: &Instruction, op: u32, r: Register| i.op_kind(op) == OpKind::Register && i.op_register(op) == r;
    let imm = |i: &Instruction, op: u32| matches!(i.op_kind(op), OpKind::Immediate8to64 | OpKind::Immediate32to64);
    lea.mnemonic() == Mnemonic::Lea
        && reg(lea, 0, Register::R11)
        && rsp_mem(lea, 1)
        && sub.mnemonic() == Mnemonic::Sub
        && reg(sub, 0, Register::RSP)
        && imm(sub, 1)
        && or.mnemonic() == Mnemonic::Or
        && rsp_mem(or, 0)
        && or.memory_displacement64() == 0
        && imm(or, 1)
        && or.immediate(1) == 0
        && cmp.mnemonic() == Mnemonic::Cmp
        && reg(cmp, 0, Register::RSP)
        && reg(cmp, 1, Register::R11)
        && jne.mnemonic() == Mnemonic::Jne
        && jne.near_branch_target() == sub.ip()
}

fn is_sp(r: Register) -> bool {
    matches!(r, Register::RSP | Register::ESP | Register::SP | Register::SPL)
}

fn is_moffs(code: Code) -> bool {
    matches!(
        code,
        Code::Mov_AL_moffs8
            | Code::Mov_AX_moffs16
            | Code::Mov_EAX_moffs32
            | Code::Mov_RAX_moffs64
            | Code::Mov_moffs8_AL
            | Code::Mov_moffs16_AX
            | Code::Mov_moffs32_EAX
            | Code::Mov_moffs64_RAX
    )
}

fn c5_exempt(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Lea
            | Mnemonic::Nop
            | Mnemonic::Prefetchnta
            | Mnemonic::Prefetcht0
            | Mnemonic::Prefetcht1
            | Mnemonic::Prefetcht2
            | Mnemonic::Prefetchw
            | Mnemonic::Prefetch
    )
}

/// [`text`] with the relocations of the instruction's fields, as `objdump -dr` shows
/// them (`mov %fs:0,%eax <R_X86_64_TPOFF32 tv>`: the operand's symbol is only in its
/// relocation; an audit found messages that showed `%fs:0` for `%fs:tv@tpoff`).
fn text_relocated(ctx: &SectionCtx<'_, '_>, ins: &Instruction, rs: &[Reloc]) -> String {
    let mut s = text(ins);
    for r in rs {
        let sym = ctx.obj.symbols.get(r.sym as usize);
        let name = match sym {
            Some(x) if !x.name.is_empty() => x.name,
            Some(x) => match x.def {
                SymDef::Section { sec, .. } => ctx.obj.sections.get(sec as usize).map_or("?", |s| s.name),
                _ => "?",
            },
            None => "?",
        };
        let addend = match r.addend {
            0 => String::new(),
            a if a < 0 => format!("-{:#x}", a.unsigned_abs()),
            a => format!("+{a:#x}"),
        };
        s.push_str(&format!(" <{} {name}{addend}>", crate::relocate::reloc_name(r.r_type)));
    }
    s
}

pub(crate) fn text(ins: &Instruction) -> String {
    // GAS syntax with lowercase hex, as objdump and the rest of zvld's messages write it.
    use iced_x86::Formatter as _;
    let mut f = iced_x86::GasFormatter::new();
    f.options_mut().set_uppercase_hex(false);
    let mut s = String::new();
    f.format(ins, &mut s);
    s
}

/// Sections larger than this are decoded in parallel chunks cut at symbols.
const CHUNK: u64 = 16 * 1024;

/// Step 1: decode and rewrite one code section into units and fixups.
///
/// Large sections are cut at symbol offsets (which must be instruction starts of the
/// linear decode) into chunks that are decoded and rewritten in parallel, then joined.
pub fn decode(ctx: &SectionCtx<'_, '_>) -> Result<Decoded> {
    decode_with(ctx, true)
}

/// [`decode`], with zvcore's fast decoder for compiler output (`fast`) or iced alone.
fn decode_with(ctx: &SectionCtx<'_, '_>, fast: bool) -> Result<Decoded> {
    use rayon::prelude::*;
    let data = ctx.sec.data;
    let size = u32::try_from(data.len()).map_err(|_| ctx.err(0, "", "code section larger than 4 GiB", ""))?;
    // Chunks start at functions, never at a plain label inside one: the r11 rule looks at
    // a function's instructions in its chunk, so a function must not be split across two.
    let mut cuts = vec![0u64];
    for &off in &ctx.functions {
        if off < u64::from(size) && off - cuts[cuts.len() - 1] >= CHUNK {
            cuts.push(off);
        }
    }
    cuts.push(u64::from(size));
    let parts: Vec<Result<(Emitter, Emitter, Vec<Stub>)>> =
        cuts.par_windows(2).with_max_len(1).map(|w| decode_range(ctx, w[0], w[1], size, fast)).collect();
    // Every chunk's errors, in input order, whichever thread hit them.
    let parts = LinkError::collect(parts)?;
    let mut main = Vec::with_capacity(parts.len());
    let mut stub_parts = Vec::new();
    let mut stubs = Vec::new();
    let stubs_from = parts.len();
    for (code, stub_code, list) in parts {
        main.push(code);
        stubs.extend(list.into_iter().map(|s| (stubs_from + stub_parts.len(), s)));
        stub_parts.push(stub_code);
    }
    main.extend(stub_parts);
    Ok(Decoded { parts: main, size, stubs_from, stubs })
}

/// Data in a code section is an error (TOOLCHAIN.md): zvld rewrites what it decodes, so a
/// table that happens to decode would change silently. Data that does not decode is
/// refused where the decode fails; a symbol typed as data (`.type K,@object`, as
/// hand-written assembly marks its constant tables) in a code section that is linked is
/// refused by this, one pass over the object's symbols before any decoding is used.
pub fn data_objects_in_code(obj: &Object<'_>) -> Result<()> {
    let found = obj.symbols.iter().find_map(|s| match s.def {
        SymDef::Section { sec, value } if s.kind == elf::STT_OBJECT => obj
            .sections
            .get(sec as usize)
            .filter(|x| x.class == crate::inputs::Class::Code && !x.discarded && x.size > 0)
            .map(|x| (x, s.name, value)),
        _ => None,
    });
    let Some((sec, name, value)) = found else { return Ok(()) };
    let ctx = SectionCtx {
        obj,
        sec,
        symbols: vec![(value, name)],
        functions: Vec::new(),
        emulate_cpuid: false,
        cold_parts: Default::default(),
    };
    Err(ctx.err(
        value,
        "",
        format!(
            "symbol `{name}` is data (STT_OBJECT) in a code section: zvld rewrites code, which would change its bytes"
        ),
        "move the data out of executable sections (into `.section .rodata`)",
    ))
}

/// Decodes and rewrites the instructions in [start, end) of a section; `start` is the
/// section start or a symbol, and the linear decode must end exactly at `end`.
fn decode_range(
    ctx: &SectionCtx<'_, '_>,
    start: u64,
    end: u64,
    size: u32,
    fast: bool,
) -> Result<(Emitter, Emitter, Vec<Stub>)> {
    let data = &ctx.sec.data[..end as usize];
    let n = (end - start) as usize;
    // The decoded instructions of a chunk live in per-thread buffers that are reused, so
    // chunks do not each allocate (and fault in) fresh memory.
    type Scratch = (Vec<Item>, Vec<(Instruction, ConstantOffsets)>);
    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }
    let (mut items, mut full) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    items.clear();
    full.clear();
    let result = decode_items(ctx, start, size, data, fast, &mut items, &mut full).and_then(|()| {
        decode_chunk(
            ctx,
            start,
            end,
            size,
            data,
            n,
            Listing {
                items: &items,
                full: &full,
                decoder: std::cell::RefCell::new(Decoder::with_ip(64, data, 0, DecoderOptions::NONE)),
            },
        )
    });
    SCRATCH.with(|s| *s.borrow_mut() = (items, full));
    result
}

/// How an instruction of a chunk was decoded: by iced ([`Form::Full`]), or by zvcore's
/// table-driven decoder for compiler output ([`zvcore::decode_input`]), which claims
/// only forms whose rewrite needs nothing iced knows beyond the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// Decoded by iced: `aux` indexes the chunk's full instructions.
    Full,
    /// Kept byte for byte.
    Keep,
    /// Kept with the 0x67 prefix before it.
    Addr32,
    /// A direct `jmp`, `jcc` or `call` without prefixes or relocation to `aux`, an
    /// offset inside the section.
    Branch,
}

/// One instruction of a chunk: 12 bytes, and iced's 48 only for those it decoded.
#[derive(Clone, Copy, Debug)]
struct Item {
    ip: u32,
    aux: u32,
    len: u8,
    form: Form,
}

/// A chunk's instructions in order, as [`decode_items`] left them; the ones the fast
/// decoder claimed are decoded by iced again when an analysis asks for them (the flag
/// analysis of a jump-table dispatch, the r11 check of a function).
pub(crate) struct Listing<'c> {
    items: &'c [Item],
    full: &'c [(Instruction, ConstantOffsets)],
    /// A decoder over the section's bytes up to the chunk's end, for the claimed items.
    decoder: std::cell::RefCell<Decoder<'c>>,
}

impl Listing<'_> {
    /// The number of instructions.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The instruction `k` (its offset in the section is its `ip`), with its field
    /// offsets when it has a relocation, a RIP-relative operand or is an indirect branch
    /// (the others never do when the fast decoder claimed them).
    pub(crate) fn get(&self, k: usize) -> Option<(Instruction, ConstantOffsets)> {
        let it = self.items.get(k)?;
        if it.form == Form::Full {
            return Some(self.full[it.aux as usize]);
        }
        let mut d = self.decoder.borrow_mut();
        d.set_position(it.ip as usize).ok()?;
        d.set_ip(u64::from(it.ip));
        Some((d.decode(), ConstantOffsets::default()))
    }

    /// The instruction `k` if iced decoded it in the first pass: every indirect branch,
    /// every instruction with a relocation or a RIP-relative operand, and others.
    pub(crate) fn decoded(&self, k: usize) -> Option<&(Instruction, ConstantOffsets)> {
        let it = self.items.get(k)?;
        (it.form == Form::Full).then(|| &self.full[it.aux as usize])
    }

    /// Does the function made of the instructions `range` (`data` the section's bytes)
    /// use %r11, apart from gcc's stack-clash probe loops? With
    /// `-fstack-clash-protection` (the default of some distributions' gcc) gcc probes a
    /// large fixed frame in its prologue with r11 as the loop's scratch register, even
    /// under `-ffixed-r11`:
    ///
    /// ```text
    ///     lea -N(%rsp),%r11
    /// L:  sub $4096,%rsp
    ///     orq $0,(%rsp)
    ///     cmp %r11,%rsp
    ///     jne L
    /// ```
    ///
    /// r11 is written before the loop and read only inside it, so it is dead everywhere
    /// else in the function, and no instruction of the loop needs zvld's scratch: zvld may
    /// use r11 for the function's other rewrites (`%fs:` operands, `jmp *mem`).
    ///
    /// iced decodes only the instructions whose bytes may name r11 ([`may_mention_r11`]),
    /// not the whole function (a fifth of sqlite3's code was decoded again for this).
    pub(crate) fn function_uses_r11(&self, data: &[u8], range: std::ops::Range<usize>) -> bool {
        let end = range.end;
        let mut j = range.start;
        while j < end {
            let it = self.items[j];
            let raw = &data[it.ip as usize..it.ip as usize + usize::from(it.len)];
            // An instruction that does not mention r11 cannot start a probe loop either
            // (its `lea` writes r11): both walks step over it alike.
            if !may_mention_r11(raw) || !self.get(j).is_some_and(|(i, _)| mentions_r11(&i)) {
                j += 1;
                continue;
            }
            let window: Vec<Instruction> = (j..(j + 5).min(end)).filter_map(|k| self.get(k).map(|(i, _)| i)).collect();
            match window[..] {
                [a, b, c, d, e] if is_stack_clash_probe_loop([&a, &b, &c, &d, &e]) => j += 5,
                _ => return true,
            }
        }
        false
    }

    /// The index of the instruction at offset `ip`.
    pub(crate) fn index(&self, ip: u64) -> Option<usize> {
        let ip = u32::try_from(ip).ok()?;
        self.items.binary_search_by_key(&ip, |it| it.ip).ok()
    }
}

/// The first pass over a chunk: each instruction's length and [`Form`], iced's decoding
/// kept only where the fast decoder does not claim the instruction (with `fast` off,
/// iced decodes every one: tests compare the two).
fn decode_items(
    ctx: &SectionCtx<'_, '_>,
    start: u64,
    size: u32,
    data: &[u8],
    fast: bool,
    items: &mut Vec<Item>,
    full: &mut Vec<(Instruction, ConstantOffsets)>,
) -> Result<()> {
    let mut decoder = Decoder::with_ip(64, data, 0, DecoderOptions::NONE);
    let relocs = &ctx.sec.relocs[..];
    let mut ri = relocs.partition_point(|r| r.offset < start);
    let mut pos = start as usize;
    // Whether the decoder stands at `pos`.
    let mut synced = false;
    // Whether the automaton has not yet been asked about the instruction at `pos`.
    let mut try_fast = fast;
    while pos < data.len() {
        while ri < relocs.len() && relocs[ri].offset < pos as u64 {
            ri += 1;
        }
        let next_reloc = relocs.get(ri).map_or(u64::MAX, |r| r.offset);
        if try_fast {
            // A run of instructions the automaton knows, up to the next relocation (an
            // instruction holding one goes to iced).
            let limit = usize::try_from(next_reloc).unwrap_or(usize::MAX);
            let stop = zvcore::decode_input_run(data, pos, limit, |at, f| match fast_item(at, f, size) {
                Some(it) => {
                    items.push(it);
                    true
                }
                None => false,
            });
            if stop != pos {
                pos = stop;
                synced = false;
                try_fast = false;
                continue;
            }
        }
        try_fast = fast;
        if !synced {
            decoder.set_position(pos).map_err(|_| ctx.err(pos as u64, "", "bad decode start", ""))?;
            decoder.set_ip(pos as u64);
            synced = true;
        }
        // Decoded in place in the buffer (no copy of the instruction).
        full.push((Instruction::default(), ConstantOffsets::default()));
        let slot = full.last_mut().expect("just pushed");
        decoder.decode_out(&mut slot.0);
        let ins = &slot.0;
        if ins.is_invalid() {
            let pos = ins.ip();
            let stop = (pos as usize + 8).min(ctx.sec.data.len());
            let reason = if decoder.position() >= data.len() && data.len() < size as usize {
                "an instruction runs into the next symbol (data or overlapping code in a code section?)"
            } else {
                "bytes do not decode as an x86-64 instruction (data in a code section?)"
            };
            return Err(ctx.err(
                pos,
                &zvcore::verify::hex(&ctx.sec.data[pos as usize..stop]),
                reason,
                "move data out of executable sections",
            ));
        }
        // The field offsets are read only for instructions that carry a relocation, a
        // RIP-relative operand or an indirect branch (jump tables); the others keep the
        // default (no fields), which nothing reads.
        let next = decoder.position() as u64;
        let has_reloc = next_reloc < next;
        if has_reloc
            || ins.is_ip_rel_memory_operand()
            || matches!(ins.flow_control(), FlowControl::IndirectBranch | FlowControl::IndirectCall)
        {
            slot.1 = decoder.get_constant_offsets(ins);
        }
        let len = ins.len() as u8;
        items.push(Item { ip: pos as u32, aux: full.len() as u32 - 1, len, form: Form::Full });
        pos = next as usize;
    }
    Ok(())
}

/// The instruction at `pos` as the fast decoder saw it (`f`); a branch only when its
/// target lies in the section (else iced's decoding reports it).
fn fast_item(pos: usize, f: zvcore::InputForm, size: u32) -> Option<Item> {
    let len = f.length();
    let (form, aux) = match f {
        zvcore::InputForm::Keep(_) => (Form::Keep, 0),
        zvcore::InputForm::Addr32(_) => (Form::Addr32, 0),
        zvcore::InputForm::Branch { rel, .. } => {
            let t = ((pos + len) as i64).checked_add(rel)?;
            if t < 0 || t > i64::from(size) {
                return None;
            }
            (Form::Branch, t as u32)
        }
    };
    Some(Item { ip: pos as u32, aux, len: len as u8, form })
}

#[allow(clippy::too_many_arguments)]
fn decode_chunk(
    ctx: &SectionCtx<'_, '_>,
    start: u64,
    end: u64,
    size: u32,
    data: &[u8],
    n: usize,
    insns: Listing<'_>,
) -> Result<(Emitter, Emitter, Vec<Stub>)> {
    // Symbols must start instructions (the decode path from the section start reaches them).
    let syms_lo = ctx.symbols.partition_point(|&(o, _)| o < start);
    let syms_hi = ctx.symbols.partition_point(|&(o, _)| o < end);
    let syms = &ctx.symbols[syms_lo..syms_hi];
    {
        let mut k = 0;
        let items = insns.items;
        for &(off, name) in syms {
            while k < items.len() && u64::from(items[k].ip) < off {
                k += 1;
            }
            if k == items.len() || u64::from(items[k].ip) != off {
                return Err(ctx.err(
                    off,
                    "",
                    format!("symbol `{name}` is not on an instruction boundary of the linear decode (data or overlapping code in a code section)"),
                    "move data out of executable sections",
                ));
            }
        }
    }
    // r11 use, per function (`SectionCtx::functions`). A plain label inside a function
    // (`dispatch:` in assembly) does not end it: r11 set before the label and read after it
    // is live across it (audit finding: a function split at such a label had r11 clobbered
    // by its `jmp *mem` rewrite).
    let f = &ctx.functions;
    let mut bounds: Vec<u64> = Vec::with_capacity(syms.len() + 1);
    bounds.push(start);
    let first_fn = f.partition_point(|&o| o <= start);
    bounds.extend(f[first_fn..f.partition_point(|&o| o < end).max(first_fn)].iter().copied());
    // Computed only for the (rare) rewrites that need r11 as scratch.
    let r11_used = std::cell::RefCell::new(vec![None::<bool>; bounds.len()]);
    let region = |ip: u64| bounds.partition_point(|&b| b <= ip) - 1;
    let r11_free_at = |ip: u64| -> bool {
        let r = region(ip);
        if let Some(used) = r11_used.borrow()[r] {
            return !used;
        }
        let lo = bounds[r];
        let hi = bounds.get(r + 1).copied().unwrap_or(end);
        let first = insns.items.partition_point(|it| u64::from(it.ip) < lo);
        let count = insns.items[first..].iter().take_while(|it| u64::from(it.ip) < hi).count();
        let mut used = insns.function_uses_r11(data, first..first + count);
        // A function gcc split into a hot and a cold part (`f` and `f.cold`, often in
        // another section) is one function: r11 live in one part may be read in the other.
        if !used {
            used = split_parts_use_r11(ctx, lo);
        }
        r11_used.borrow_mut()[r] = Some(used);
        !used
    };

    let all: &[Reloc] = &ctx.sec.relocs;
    let relocs = &all[all.partition_point(|r| r.offset < start)..all.partition_point(|r| r.offset < end)];
    let mut ri = 0;
    let mut e = Emitter {
        bytes: Vec::with_capacity(n + n / 4),
        // Some instructions become several units (ret, syscall, jmp *mem, ...); fixups
        // are the relocations plus the section-local branches.
        units: Vec::with_capacity(insns.len() + insns.len() / 8 + 16),
        fixups: Vec::with_capacity(relocs.len() + insns.len() / 6 + 16),
        relocs: Vec::with_capacity(relocs.len()),
        in_off: 0,
        first: true,
        firsts: 0,
    };
    let mut info = InstructionInfoFactory::new();
    let mut failed: Vec<LinkError> = Vec::new();
    // The input bytes of the units made so far whose bytes are not in `e.bytes` yet: a
    // run of instructions kept as they are (after a 0x67 or not), copied at once.
    let mut run = 0..0;
    let mut k = 0;
    while let Some(item) = insns.items.get(k) {
        k += 1;
        let pos = item.ip as usize;
        let len = usize::from(item.len);
        let raw = &data[pos..pos + len];
        if ri < relocs.len() && (relocs[ri].offset as usize) < pos {
            return Err(ctx.err(relocs[ri].offset, "", "relocation does not lie on an instruction field", ""));
        }
        // A run of instructions the fast decoder kept as they are: one unit each, their
        // bytes copied with the run. It claims no instruction that holds a relocation (a
        // claim stops at the next one), so none is looked for inside the run, only
        // checked after it.
        if item.form == Form::Keep {
            let items = insns.items;
            let mut end = pos + len;
            let mut n = 1;
            e.units.push(Unit { in_off: pos as u32, len: item.len, short: 0, flags: Unit::FIRST });
            while let Some(it) = items.get(k).filter(|it| it.form == Form::Keep) {
                e.units.push(Unit { in_off: it.ip, len: it.len, short: 0, flags: Unit::FIRST });
                end = it.ip as usize + usize::from(it.len);
                k += 1;
                n += 1;
            }
            e.firsts += n;
            e.first = false;
            if ri < relocs.len() && (relocs[ri].offset as usize) < end {
                return Err(ctx.err(
                    relocs[ri].offset,
                    "",
                    "internal error: a relocation inside a kept instruction",
                    "",
                ));
            }
            if run.end != pos {
                e.bytes.extend_from_slice(&data[run]);
                run = pos..pos;
            }
            run.end = end;
            continue;
        }
        let r0 = ri;
        while ri < relocs.len() && (relocs[ri].offset as usize) < pos + len {
            ri += 1;
        }
        let rs = &relocs[r0..ri];
        e.in_off = pos as u32;
        e.first = true;
        // The fast decoder's other forms (no relocation in them): what rewrite_one would
        // make.
        e.bytes.extend_from_slice(&data[run]);
        run = pos + len..pos + len;
        match item.form {
            Form::Keep => unreachable!("handled above"),
            Form::Addr32 => {
                e.unit_bytes_later(len + 1, false, false);
                e.bytes.push(0x67);
                run.start = pos;
                continue;
            }
            Form::Branch => {
                let (op, op2) = (raw[0], raw.get(1).copied().unwrap_or(0));
                let (bytes, n, field) = branch_form(op, op2).expect("the fast decoder claims only these branches");
                let u = e.unit(&bytes[..n], op == 0xE8);
                local_branch(&mut e, u, field, op, op2, item.aux);
                continue;
            }
            Form::Full => {}
        }
        let (ins, co) = &insns.full[item.aux as usize];
        if let Some(r) = rs.iter().find(|r| {
            matches!(
                r.r_type,
                elf::R_X86_64_TLSGD | elf::R_X86_64_TLSLD | elf::R_X86_64_GOTPC32_TLSDESC | elf::R_X86_64_TLSDESC_CALL
            )
        }) {
            if matches!(r.r_type, elf::R_X86_64_GOTPC32_TLSDESC | elf::R_X86_64_TLSDESC_CALL) {
                let s = &ctx.obj.symbols[r.sym as usize];
                return Err(LinkError::UnsupportedRelocation {
                    at: ctx.location(r.offset),
                    kind: crate::relocate::reloc_name(r.r_type),
                    symbol: s.name.to_string(),
                    hint: "TLS descriptors come from -mtls-dialect=gnu2; compile without it, or with zvcc (-fno-pic), which uses local-exec and initial-exec TLS".into(),
                });
            }
            // A general- or local-dynamic sequence: this `lea` and the call of
            // `__tls_get_addr` that follows it are relaxed together, and the call's
            // relocation is consumed with it.
            let next = insns.get(k);
            let call = next.as_ref().map(|(c, _)| {
                let (at, n) = (c.ip() as usize, c.len());
                let c0 = ri;
                while ri < relocs.len() && (relocs[ri].offset as usize) < at + n {
                    ri += 1;
                }
                (c, &data[at..at + n], &relocs[c0..ri])
            });
            k += 1;
            relax_tls(ctx, &mut e, ins, raw, rs, call)?;
            continue;
        }
        // An instruction that cannot be rewritten is recorded and the walk goes on, so
        // that one link names them all (up to 100 a chunk); the chunk then fails.
        match rewrite_one(ctx, &mut e, ins, co, raw, rs, &|| r11_free_at(pos as u64), size, &mut info) {
            Ok(()) => {}
            Err(err @ LinkError::Rewrite { .. }) if failed.len() < 100 => failed.push(err),
            Err(err) => {
                failed.push(err);
                return Err(LinkError::combine(failed));
            }
        }
    }
    e.bytes.extend_from_slice(&data[run]);
    if !failed.is_empty() {
        return Err(LinkError::combine(failed));
    }
    if let Some(r) = relocs.get(ri) {
        return Err(ctx.err(r.offset, "", "relocation past the last instruction", ""));
    }
    // Jump-table dispatches with live flags get replay stubs (see crate::flags). Only
    // `jmp *mem` can be a dispatch: without one the analysis has nothing to do.
    // Every `jmp *mem` was decoded by iced.
    let replays = if insns.full.iter().any(|(i, _)| i.code() == Code::Jmp_rm64 && i.op0_kind() == OpKind::Memory) {
        let mut labels = crate::flags::Labels::new(start, end);
        for &(o, _) in syms {
            labels.insert(o);
        }
        // A branch with a relocation leaves the section (`ja` to `.text.unlikely`, a
        // tail call): its encoded displacement is the addend, not a label here.
        let relocated = |i: &Instruction| {
            let k = relocs.partition_point(|r| r.offset < i.ip());
            relocs.get(k).is_some_and(|r| r.offset < i.next_ip())
        };
        for t in insns.items.iter().filter_map(|it| match it.form {
            Form::Branch => Some(u64::from(it.aux)),
            Form::Full => {
                let i = &insns.full[it.aux as usize].0;
                (i.op0_kind() == OpKind::NearBranch64 && !relocated(i)).then(|| i.near_branch_target())
            }
            Form::Keep | Form::Addr32 => None,
        }) {
            labels.insert(t);
        }
        crate::flags::analyse(ctx, &insns, relocs, &labels, &ctx.functions, (start, end))?
    } else {
        Vec::new()
    };
    let mut se = Emitter {
        bytes: Vec::new(),
        units: Vec::new(),
        fixups: Vec::new(),
        relocs: Vec::new(),
        in_off: start as u32,
        first: false,
        firsts: 0,
    };
    let mut stubs = Vec::new();
    for r in replays {
        for entry in r.entries {
            let u = se.unit_with(&r.compare, false, true);
            let b = se.unit(&[0xE9, 0, 0, 0, 0], false);
            se.fix(b, 1, FixKind::LocalBranch { target: entry.target as u32 });
            stubs.push(Stub { unit: u, table_sec: entry.table_sec, reloc_off: entry.reloc_off });
        }
    }
    Ok((e, se, stubs))
}

/// The rel32 form of a direct branch whose opcode is `op` (`op2` the next byte, for
/// 0x0F): its bytes, their length and the offset of the displacement.
fn branch_form(op: u8, op2: u8) -> Option<([u8; 9], usize, usize)> {
    Some(match op {
        0xE8 => ([0xE8, 0, 0, 0, 0, 0, 0, 0, 0], 5, 1),
        0xE9 | 0xEB => ([0xE9, 0, 0, 0, 0, 0, 0, 0, 0], 5, 1),
        0x70..=0x7F => ([0x0F, 0x80 | (op & 0xF), 0, 0, 0, 0, 0, 0, 0], 6, 2),
        0x0F => ([0x0F, op2, 0, 0, 0, 0, 0, 0, 0], 6, 2),
        // loop/loope/loopne/jrcxz have only rel8 forms: `op +2; jmp +5; jmp target`.
        0xE0..=0xE3 => ([op, 2, 0xEB, 5, 0xE9, 0, 0, 0, 0], 9, 5),
        _ => return None,
    })
}

/// The fixup of unit `u`, a direct branch (opcode `op`, then `op2`) to `target` in its
/// own section, and the rel8 form the layout may pick for `jmp` and `jcc`.
fn local_branch(e: &mut Emitter, u: u32, field: usize, op: u8, op2: u8, target: u32) {
    e.fix(u, field, FixKind::LocalBranch { target });
    let short = match op {
        0xE9 | 0xEB => 0xEB,
        0x70..=0x7F => op,
        0x0F => 0x70 | (op2 & 0xF),
        _ => 0,
    };
    e.units[u as usize].short = short;
}

/// The field of an instruction a relocation applies to, checked.
fn reloc_field(ctx: &SectionCtx<'_, '_>, ins: &Instruction, co: &ConstantOffsets, r: &Reloc) -> Result<usize> {
    let rel_off = (r.offset - ins.ip()) as usize;
    // The field's size, when the relocation is on one.
    let field = if co.has_displacement() && co.displacement_offset() == rel_off {
        Some(co.displacement_size())
    } else if co.has_immediate() && co.immediate_offset() == rel_off {
        Some(co.immediate_size())
    } else if co.has_immediate2() && co.immediate_offset2() == rel_off {
        Some(co.immediate_size2())
    } else if ins.op0_kind() == OpKind::NearBranch64 && rel_off + 4 == ins.len() {
        Some(4)
    } else {
        None
    };
    // A relocation wider than its field would write over the next instruction (audit
    // finding: an R_X86_64_64 on a 4-byte immediate left code the verifier rejected).
    let width = match r.r_type {
        elf::R_X86_64_64
        | elf::R_X86_64_PC64
        | elf::R_X86_64_SIZE64
        | elf::R_X86_64_GOTOFF64
        | elf::R_X86_64_GOTPC64
        | elf::R_X86_64_GOT64
        | elf::R_X86_64_GOTPCREL64
        | elf::R_X86_64_GOTPLT64
        | elf::R_X86_64_PLTOFF64
        | elf::R_X86_64_TPOFF64
        | elf::R_X86_64_DTPOFF64 => 8,
        elf::R_X86_64_16 | elf::R_X86_64_PC16 => 2,
        elf::R_X86_64_8 | elf::R_X86_64_PC8 => 1,
        _ => 4,
    };
    if let Some(size) = field.filter(|&size| width > size) {
        return Err(LinkError::UnsupportedRelocation {
            at: ctx.location(r.offset),
            kind: crate::relocate::reloc_name(r.r_type),
            symbol: ctx.obj.symbols.get(r.sym as usize).map_or_else(String::new, |s| s.name.to_string()),
            hint: format!(
                "it is {width} bytes wide, but the field of `{}` it lies on is {size} bytes: it would overwrite the \
                 next instruction",
                text(ins)
            ),
        });
    }
    if field.is_none() {
        return Err(ctx.err(
            r.offset,
            &text(ins),
            format!(
                "relocation {} is not on a displacement or immediate field of the instruction",
                crate::relocate::reloc_name(r.r_type)
            ),
            "",
        ));
    }
    Ok(rel_off)
}

#[allow(clippy::too_many_arguments)]
fn rewrite_one(
    ctx: &SectionCtx<'_, '_>,
    e: &mut Emitter,
    ins: &Instruction,
    co: &ConstantOffsets,
    raw: &[u8],
    rs: &[Reloc],
    r11_free: &dyn Fn() -> bool,
    size: u32,
    info: &mut InstructionInfoFactory,
) -> Result<()> {
    let code = ins.code();
    let pos = ins.ip();
    let len = ins.len();
    let pfx = prefixes(raw);
    let fail = |reason: String, hint: &str| Err(ctx.err(pos, &text_relocated(ctx, ins, rs), reason, hint.to_string()));
    if pfx.stray_rex {
        // Compilers and assemblers never emit one; hand-written bytes can (audit finding:
        // `48 3e 01 2b` kept its 0x3e, which the verifier then rejected as a zvld bug).
        return fail(
            "a REX prefix before another prefix (the processor ignores it) is an encoding zvld does not rewrite".into(),
            "write the instruction with its REX prefix last, or without it (let the assembler encode it)",
        );
    }

    // Dropped: CET markers.
    if matches!(code, Code::Endbr64 | Code::Endbr32) {
        e.unit(&[], false);
        return Ok(());
    }

    if code == Code::Syscall {
        // lea -128(%rsp),%esp; call __zv_syscall; lea 128(%rsp),%esp (keeps the red zone).
        call_past_red_zone(e, "__zv_syscall");
        return Ok(());
    }
    match ins.flow_control() {
        FlowControl::Return => {
            match code {
                Code::Retnq => {
                    e.unit(&p2(), false);
                }
                Code::Retnq_imm16 => {
                    // pop %r11; add $n,%esp; and $-32,%r11d; jmp *%r11 (r11 is dead at a return).
                    e.unit(&[0x41, 0x5B], false);
                    let n = u32::from(ins.immediate16()).to_le_bytes();
                    e.unit(&[0x81, 0xC4, n[0], n[1], n[2], n[3]], false);
                    e.unit(p1(11, false).bytes(), false);
                }
                _ => {
                    return fail(
                        "far or 16-bit return (C3)".into(),
                        "use a near `ret` (a flat sandbox has no far transfers)",
                    )
                }
            }
            return Ok(());
        }
        FlowControl::IndirectBranch | FlowControl::IndirectCall => {
            let call = ins.flow_control() == FlowControl::IndirectCall;
            if pfx.p66 {
                return fail(
                    "16-bit indirect branch (C4: no 0x66 prefix on a branch)".into(),
                    "branch through a 64-bit register or memory operand",
                );
            }
            // `ff /3` and `ff /5` (`lcall`/`ljmp *mem`) load a segment too: far transfers,
            // which C3 rejects; only `ff /2` and `ff /4` become P1.
            if !matches!(code, Code::Jmp_rm64 | Code::Call_rm64) {
                return fail("far indirect branch (C3)".into(), "use a near branch");
            }
            match ins.op0_kind() {
                OpKind::Register => {
                    let r = ins.op0_register();
                    let Some(n) = gpr64_number(r) else {
                        return fail(
                            "indirect branch through a register that is not 64-bit".into(),
                            "branch through a 64-bit general register",
                        );
                    };
                    if r == Register::RSP {
                        return fail(
                            "indirect branch through %rsp cannot be masked (C9: P1 excludes rsp)".into(),
                            "copy the target to another register first (`mov %rsp,%rax; jmp *%rax`)",
                        );
                    }
                    e.unit(p1(n, call).bytes(), call);
                }
                OpKind::Memory => {
                    // mov mem,%r11 (sandboxed operand), then P1 on r11.
                    if !call && !r11_free() {
                        return fail("`jmp *mem` needs %r11 as scratch, but this function uses %r11".into(), HINT_R11);
                    }
                    if pfx.seg.is_some_and(|s| s == 0x64 || s == 0x65) {
                        return fail(
                            "indirect branch through a %fs/%gs operand (C4)".into(),
                            "load the target into a register first (`mov %fs:X,%rax; jmp *%rax`: zvld rewrites %fs loads)",
                        );
                    }
                    let base = ins.memory_base();
                    let m2_or_m3 = ins.memory_index() == Register::None
                        && matches!(base, Register::RSP | Register::RIP | Register::None);
                    let need67 = !pfx.p67 && !m2_or_m3;
                    let mut b = Buf::default();
                    if pfx.p67 || need67 {
                        b.push(0x67);
                    }
                    let rex = pfx.rex.map_or(0, |i| raw[i]);
                    b.push(0x4C | (rex & 0x03));
                    b.push(0x8B);
                    let modrm = raw[pfx.op + 1];
                    b.push((modrm & 0xC7) | (3 << 3));
                    for &x in &raw[pfx.op + 2..] {
                        b.push(x);
                    }
                    // The bytes after the ModRM byte are copied unchanged, so every field
                    // moves by the difference in length.
                    let shift = (b.len() as isize) - (raw.len() as isize);
                    let u = e.unit(b.bytes(), false);
                    let mut local = None;
                    for r in rs {
                        let f = reloc_field(ctx, ins, co, r)?;
                        e.fix(
                            u,
                            (f as isize + shift) as usize,
                            FixKind::Reloc(out_reloc(r, (f as isize + shift) as usize, len - f, false)),
                        );
                    }
                    if base == Register::RIP && rs.is_empty() {
                        local = Some(rip_local(ctx, ins, co, size)?);
                    }
                    if let Some((target, f)) = local {
                        e.fix(u, (f as isize + shift) as usize, FixKind::LocalRip { target, bias: (len - f) as u8 });
                    }
                    e.unit(p1(11, call).bytes(), call);
                }
                _ => return fail("far indirect branch (C3)".into(), "use a near branch"),
            }
            return Ok(());
        }
        FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch | FlowControl::Call => {
            match ins.op0_kind() {
                OpKind::NearBranch64 => {}
                OpKind::FarBranch16 | OpKind::FarBranch32 => {
                    return fail("far branch (C3)".into(), "use a near branch");
                }
                // `sysenter`, `sysexit` and relatives: no branch operand.
                _ => {
                    return fail(
                        format!("`{}` is not on the form-1 allow-list (C3)", mnemonic_text(ins)),
                        allow_list_hint(code, ins.mnemonic()),
                    );
                }
            }
            if pfx.p66 || pfx.p67 {
                return fail(
                    "branch with an operand- or address-size prefix (C4)".into(),
                    "remove the 0x66/0x67 prefix (assemblers add it only when asked, with data16/addr32 or .byte)",
                );
            }
            let op = raw[pfx.op];
            let op2 = raw.get(pfx.op + 1).copied().unwrap_or(0);
            let call = ins.flow_control() == FlowControl::Call;
            let Some((bytes, n, field)) = branch_form(op, op2) else {
                return fail("unexpected branch encoding".into(), "");
            };
            let u = e.unit(&bytes[..n], call);
            match rs {
                [] => {
                    let t = ins.near_branch_target();
                    if t > u64::from(size) {
                        return fail(
                            format!("branch target {t:#x} lies outside its section and has no relocation"),
                            "",
                        );
                    }
                    local_branch(e, u, field, op, op2, t as u32);
                }
                [r] if (r.offset - pos) as usize + 4 == len => {
                    // The relocation's width against the rel32 field (an 8-byte one ran
                    // over the next instruction: review finding).
                    reloc_field(ctx, ins, co, r)?;
                    e.fix(u, field, FixKind::Reloc(out_reloc(r, field, 4, true)));
                }
                _ => {
                    return fail(
                        "relocation on a short branch".into(),
                        "assemble branches to other sections with rel32",
                    )
                }
            }
            return Ok(());
        }
        _ => {}
    }

    if code == Code::Leaveq {
        // mov %ebp,%esp; pop %rbp
        e.unit(&[0x89, 0xEC, 0x5D], false);
        return Ok(());
    }

    if code == Code::Cpuid && ctx.emulate_cpuid {
        // lea -128(%rsp),%esp; call __zv_cpuid; lea 128(%rsp),%esp, like `syscall`.
        call_past_red_zone(e, "__zv_cpuid");
        return Ok(());
    }
    if code == Code::Xgetbv && ctx.emulate_cpuid {
        // CPU-feature probes read XCR0 beside cpuid (libgcc's `__cpu_indicator_init`,
        // behind `__builtin_cpu_supports`): zrt's answer matches the emulated cpuid's
        // (x87 and SSE state only: no AVX).
        call_past_red_zone(e, "__zv_xgetbv");
        return Ok(());
    }
    if !zvcore::verify::code_is_allowed(code) {
        return fail(
            format!("`{}` is not on the form-1 allow-list (C3)", mnemonic_text(ins)),
            allow_list_hint(code, ins.mnemonic()),
        );
    }
    // One pass over the operands: system registers, the stack pointer, memory forms.
    let mut names_sp = false;
    let mut mem = false;
    let mut string_mem = false;
    for i in 0..ins.op_count() {
        match ins.op_kind(i) {
            OpKind::Register => {
                let r = ins.op_register(i);
                if r.is_segment_register() || r.is_cr() || r.is_dr() || r.is_tr() || r.is_bnd() || r.is_k() {
                    return fail(
                        format!("accesses the system register {r:?} (C3)"),
                        "segment, control, debug, bound and mask registers are not available in the sandbox: remove \
                         the instruction (thread-local storage is reached through %fs: operands, which zvld rewrites)",
                    );
                }
                names_sp |= is_sp(r);
            }
            OpKind::Memory => mem = true,
            OpKind::MemorySegRSI | OpKind::MemorySegRDI | OpKind::MemoryESRDI => string_mem = true,
            _ => {}
        }
    }
    let m = ins.mnemonic();
    if matches!(
        code,
        Code::Bt_rm16_r16
            | Code::Bt_rm32_r32
            | Code::Bt_rm64_r64
            | Code::Bts_rm16_r16
            | Code::Bts_rm32_r32
            | Code::Bts_rm64_r64
            | Code::Btr_rm16_r16
            | Code::Btr_rm32_r32
            | Code::Btr_rm64_r64
            | Code::Btc_rm16_r16
            | Code::Btc_rm32_r32
            | Code::Btc_rm64_r64
    ) && ins.op0_kind() == OpKind::Memory
    {
        let reach = match ins.op1_register().size() {
            2 => "2^15",
            4 => "2^31",
            _ => "2^63",
        };
        return fail(
            format!("bit test with a register bit offset on memory (C3: the offset reaches +-{reach} bits)"),
            "load the word into a register and test it there, or use an immediate bit offset",
        );
    }

    // %fs: operands (TLS).
    if pfx.seg == Some(0x65) {
        return fail(
            "%gs: memory operand (C4); zv has no %gs base".into(),
            "use %fs: (thread-local storage, which zvld rewrites) or an ordinary address",
        );
    }
    if pfx.seg == Some(0x64) {
        return rewrite_fs(ctx, e, ins, co, raw, rs, &pfx, r11_free());
    }

    // Writes to the stack pointer.
    let mut clear_w = false;
    if names_sp && !matches!(m, Mnemonic::Push | Mnemonic::Pop) {
        let inf = info.info(ins);
        let writes = inf.used_registers().iter().any(|u| {
            is_sp(u.register())
                && matches!(
                    u.access(),
                    OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
                )
        });
        if writes {
            let op0 = if ins.op0_kind() == OpKind::Register { ins.op0_register() } else { Register::None };
            let ok_kind = matches!(
                m,
                Mnemonic::Add | Mnemonic::Sub | Mnemonic::And | Mnemonic::Or | Mnemonic::Mov | Mnemonic::Lea
            );
            if op0 == Register::ESP && ok_kind {
                // Already the allowed 32-bit form.
            } else if op0 == Register::RSP
                && ok_kind
                && code != Code::Mov_r64_imm64
                && pfx.rex.is_some_and(|i| raw[i] & 8 != 0)
            {
                clear_w = true;
            } else {
                return fail(
                    "writes the stack pointer in a way that has no 32-bit equivalent (C6)".into(),
                    "compute the new stack pointer in another register, then move its 32-bit half to %esp \
                     (`mov %eax,%esp`, kept as it is)",
                );
            }
        }
    } else if m == Mnemonic::Pop && ins.op0_kind() == OpKind::Register && is_sp(ins.op0_register()) {
        return fail("pop into the stack pointer (C6)".into(), "pop into another register, then `mov %eXX,%esp`");
    } else if matches!(m, Mnemonic::Enter) {
        return fail(
            "enter (C3, C6)".into(),
            "build the frame with `push %rbp; mov %rsp,%rbp; sub $N,%rsp` (compilers do)",
        );
    }

    // Memory operands.
    let mut need67 = string_mem && !pfx.p67;
    let mut local_rip = None;
    if mem {
        let b = ins.memory_base();
        let x = ins.memory_index();
        if b == Register::RIP {
            let disp_reloc = rs.iter().find(|r| (r.offset - pos) as usize == co.displacement_offset());
            if disp_reloc.is_none() && m != Mnemonic::Nop {
                local_rip = Some(rip_local(ctx, ins, co, size)?);
            }
            // Data in a code section (TOOLCHAIN.md: an error): an operand that reads
            // memory in this object's code, its own section without a relocation or a
            // code section through a PC32 relocation, reads code bytes as data. zvld
            // rewrites code, so such data would change under the program (audit finding:
            // a table after a `ret` that decoded as `mov ...; ret` was rewritten and read
            // back wrong). `lea`, `nop` and prefetches access nothing; an access that
            // writes faults at run time (code is never writable), the same in every run,
            // so it is left to fault (the runtime's tests write into code on purpose).
            if !c5_exempt(m) {
                let into_code = match disp_reloc {
                    None => local_rip.is_some(),
                    Some(r) => {
                        r.r_type == elf::R_X86_64_PC32
                            && matches!(ctx.obj.symbols.get(r.sym as usize).map(|s| s.def),
                                Some(SymDef::Section { sec, .. })
                                    if ctx.obj.sections.get(sec as usize).is_some_and(|s| s.class == Class::Code))
                    }
                };
                // Asked only of the (rare) accesses into code: the factory is not cheap.
                let writes = |info: &mut InstructionInfoFactory| {
                    info.info(ins).used_memory().iter().any(|u| {
                        matches!(
                            u.access(),
                            OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
                        )
                    })
                };
                if into_code && !writes(info) {
                    return fail(
                        "its memory operand refers to an object's code section: data in a code section is an \
                         error (zvld rewrites code, so the bytes read there would not be the ones assembled)"
                            .into(),
                        "move the data out of executable sections (to .rodata or .data); take a code address \
                         with `lea`",
                    );
                }
            }
        } else if !(c5_exempt(m) || pfx.p67) {
            if is_moffs(code) {
                return rewrite_moffs(ctx, e, ins, raw, rs, &pfx);
            }
            if !(x == Register::None && matches!(b, Register::RSP | Register::None)) {
                need67 = true;
            }
        }
    }

    // Segment overrides are dropped: 0x26, 0x2E, 0x36 and 0x3E change nothing in 64-bit
    // mode, and an %fs/%gs one here is overridden by a later prefix (the last one counts;
    // when %fs or %gs is last, `rewrite_fs` or the error above took the instruction);
    // 0x2E stays on a nop, which C4 allows (assemblers' padding).
    let keep_cs = m == Mnemonic::Nop;
    let dropped_seg = |b: u8| matches!(b, 0x26 | 0x36 | 0x3E | 0x64 | 0x65) || (b == 0x2E && !keep_cs);
    let strip_seg = raw[..pfx.op].iter().any(|&b| dropped_seg(b));
    // xacquire/xrelease (F2/F3 on a lock-prefixed instruction, or on xchg or mov to
    // memory) are Hardware Lock Elision, TSX, which C3 rejects. They are hints (a CPU
    // without HLE ignores them and the instruction does the same), so they are dropped,
    // like `notrack`; gcc emits them for `__ATOMIC_HLE_*` whatever its flags.
    let lock_elidable =
        ins.has_lock_prefix() || (matches!(m, Mnemonic::Xchg | Mnemonic::Mov) && ins.op0_kind() == OpKind::Memory);
    let strip_hle = lock_elidable && raw[..pfx.op].iter().any(|b| matches!(b, 0xF2 | 0xF3));
    if !need67 && !clear_w && !strip_seg && !strip_hle {
        // The common case: the instruction is kept byte for byte.
        let u = e.unit(raw, false);
        for r in rs {
            let f = reloc_field(ctx, ins, co, r)?;
            e.fix(u, f, FixKind::Reloc(out_reloc(r, f, len - f, false)));
        }
        if let Some((target, f)) = local_rip {
            e.fix(u, f, FixKind::LocalRip { target, bias: (len - f) as u8 });
        }
        return Ok(());
    }
    let mut out = Buf::default();
    if need67 {
        out.push(0x67);
    }
    for (i, &b) in raw.iter().enumerate() {
        if i < pfx.op && dropped_seg(b) && Some(i) != pfx.rex {
            continue;
        }
        if i < pfx.op && strip_hle && matches!(b, 0xF2 | 0xF3) {
            continue;
        }
        // With REX.W, 0x66 meant nothing; without it, it would make the operation 16-bit.
        if clear_w && i < pfx.op && b == 0x66 {
            continue;
        }
        if clear_w && Some(i) == pfx.rex {
            let nb = b & !8;
            if nb != 0x40 {
                out.push(nb);
            }
            continue;
        }
        out.push(b);
    }
    if out.len() > 15 {
        return fail("instruction would exceed 15 bytes after adding the 0x67 prefix".into(), "");
    }
    let shift = out.len() as isize - raw.len() as isize;
    let u = e.unit(out.bytes(), false);
    for r in rs {
        let f = reloc_field(ctx, ins, co, r)?;
        e.fix(
            u,
            (f as isize + shift) as usize,
            FixKind::Reloc(out_reloc(r, (f as isize + shift) as usize, len - f, false)),
        );
    }
    if let Some((target, f)) = local_rip {
        e.fix(u, (f as isize + shift) as usize, FixKind::LocalRip { target, bias: (len - f) as u8 });
    }
    Ok(())
}

/// `lea -128(%rsp),%esp; call SYMBOL; lea 128(%rsp),%esp`: a call into zrt that keeps
/// the caller's red zone intact (the rewrite of `syscall`, and of `cpuid` when emulated).
fn call_past_red_zone(e: &mut Emitter, symbol: &'static str) {
    e.unit(&[0x8D, 0x64, 0x24, 0x80], false);
    let u = e.unit(&[0xE8, 0, 0, 0, 0], true);
    e.fix(
        u,
        1,
        FixKind::Reloc(OutReloc {
            at: 0,
            r_type: elf::R_X86_64_PLT32,
            sym: RelSym::Global(symbol),
            addend: -4,
            bias: 4,
            branch: true,
            head: 0,
            input: NO_INPUT,
        }),
    );
    e.unit(&[0x8D, 0xA4, 0x24, 0x80, 0, 0, 0], false);
}

/// A moved relocation: `head` bytes of the output instruction before the field, `bias`
/// after it.
fn out_reloc(r: &Reloc, head: usize, bias: usize, branch: bool) -> OutReloc {
    let head = head as u8;
    OutReloc {
        at: 0,
        r_type: r.r_type,
        sym: RelSym::Obj(r.sym),
        addend: r.addend,
        bias: bias as u8,
        branch,
        head,
        input: r.offset as u32,
    }
}

/// A RIP-relative operand without a relocation: its target (in this section) and the
/// displacement's offset in the instruction.
fn rip_local(ctx: &SectionCtx<'_, '_>, ins: &Instruction, co: &ConstantOffsets, size: u32) -> Result<(u32, usize)> {
    let target = ins.memory_displacement64();
    if target > u64::from(size) {
        return Err(ctx.err(ins.ip(), &text(ins), "RIP-relative operand outside its section without a relocation", ""));
    }
    Ok((target as u32, co.displacement_offset()))
}

/// An instruction's mnemonic as the messages write it (`cpuid`, `sysenter`).
fn mnemonic_text(ins: &Instruction) -> String {
    format!("{:?}", ins.mnemonic()).to_lowercase()
}

/// What to do about an instruction that is not on the form's allow-list (C3).
fn allow_list_hint(code: Code, m: Mnemonic) -> &'static str {
    use Mnemonic::*;
    match m {
        _ if code == Code::Cpuid => {
            "the sandbox hides the CPU's identity; remove it, or link with -Wl,--emulate-cpuid to get zrt's fixed \
             baseline answer (SSE2, no AVX)"
        }
        Xgetbv => {
            "it reads the CPU's enabled state (CPU-feature probes, as libgcc's behind __builtin_cpu_supports); the \
             sandbox hides the CPU: remove it, or link with -Wl,--emulate-cpuid to get zrt's fixed answer (x87 and \
             SSE, no AVX) with cpuid's"
        }
        Rdtsc | Rdtscp | Rdpmc | Rdrand | Rdseed | Rdpid => {
            "it is non-deterministic: use what zrt gives instead (clock_gettime, getrandom: fixed by --time and --seed)"
        }
        Enter => "build the frame with `push %rbp; mov %rsp,%rbp; sub $N,%rsp` (compilers do)",
        Pushf | Pushfq | Popf | Popfq => {
            "the flags register cannot be saved or loaded whole in the sandbox: use lahf/sahf or setcc for the flags \
             you need"
        }
        Syscall | Sysenter | Int | Int3 | Into | Iret | Iretd | Iretq => {
            "system calls reach the runtime only through zrt (a `syscall` in code zvld rewrites becomes a call of \
             __zv_syscall): call the C library instead"
        }
        _ => {
            "it is not in the instruction sets FORM.md C3 allows (general-purpose, x87, MMX, SSE to SSE4.2, AVX, \
             AVX2, FMA, F16C, BMI1/2, LZCNT, POPCNT, ADX, MOVBE, AES-NI, PCLMULQDQ, SHA): remove it, or compile \
             without the extension that emits it (zvcc turns the others off, but `#pragma GCC target` and \
             `__attribute__((target(...)))` in the source turn them back on for their functions: a configure check \
             that only compiles such code, as HAVE_AVX512FINTRIN_H, enables them; undefine it)"
        }
    }
}

/// `%fs:` operands: `mov %fs:0,%reg` becomes a load of `__zv_tp`; any other operand is
/// rebased on r11 after `mov __zv_tp,%r11` (TOOLCHAIN.md's table). An operand with a base
/// register (`%fs:(%rdx)`, what stock gcc emits for initial-exec TLS when it is not given
/// `-mno-tls-direct-seg-refs`) first gets the base added to r11 with
/// `lea (%base,%r11,1),%r11` (no flags written); the operand then becomes
/// `addr32 disp32(%r11d,%index,scale)`, which reaches the same guest address.
#[allow(clippy::too_many_arguments)]
fn rewrite_fs(
    ctx: &SectionCtx<'_, '_>,
    e: &mut Emitter,
    ins: &Instruction,
    co: &ConstantOffsets,
    raw: &[u8],
    rs: &[Reloc],
    pfx: &Prefixes,
    r11_free: bool,
) -> Result<()> {
    let pos = ins.ip();
    let fail =
        |reason: &str| Err(ctx.err(pos, &text_relocated(ctx, ins, rs), reason.to_string(), HINT_FLAGS.to_string()));
    let base = ins.memory_base();
    if !(0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory) {
        return fail("%fs: prefix on an instruction without an explicit memory operand");
    }
    if matches!(raw.get(pfx.op), Some(0xA0..=0xA3)) {
        return fail("unsupported %fs: operand encoding (a 64-bit moffs address)");
    }
    if ins.code() == Code::Mov_r64_rm64
        && base == Register::None
        && ins.memory_index() == Register::None
        && ins.memory_displacement64() == 0
        && rs.is_empty()
    {
        let Some(n) = gpr64_number(ins.op0_register()) else { return fail("unexpected %fs:0 load") };
        let b = [0x48 | if n >= 8 { 4 } else { 0 }, 0x8B, 0x04 | ((n & 7) << 3), 0x25, 0, 0, 0, 0];
        let u = e.unit(&b, false);
        e.fix(u, 4, tp_reloc());
        return Ok(());
    }
    if !r11_free {
        return Err(ctx.err(
            pos,
            &text_relocated(ctx, ins, rs),
            "a %fs: operand needs %r11 as scratch, but this function uses %r11".to_string(),
            HINT_R11.to_string(),
        ));
    }
    let modrm_i = pfx.op
        + if raw.get(pfx.op) == Some(&0x0F) {
            if matches!(raw.get(pfx.op + 1), Some(0x38 | 0x3A)) {
                3
            } else {
                2
            }
        } else {
            1
        };
    let base_n = match base {
        Register::None => None,
        b => match gpr64_number(b) {
            Some(n) => Some(n),
            // RIP-relative, or a 32-bit base under 0x67.
            None if b == Register::RIP => {
                return fail(
                    "unsupported %fs: operand relative to %rip (a thread-local address is %fs: plus an offset)",
                )
            }
            None => return fail("unsupported %fs: operand (its base is not a 64-bit register)"),
        },
    };
    let index_ok = ins.memory_index() == Register::None || ins.memory_index().is_gpr64();
    if matches!(raw.get(pfx.op), Some(0xC4 | 0xC5 | 0x62 | 0x8F)) || modrm_i >= raw.len() || pfx.p67 || !index_ok {
        return fail("unsupported %fs: operand encoding");
    }
    // The operand as encoded: ModRM, an optional SIB, a displacement of 0, 1 or 4 bytes.
    let modrm = raw[modrm_i];
    let (md, rm) = (modrm >> 6, modrm & 7);
    let sib = (rm == 4).then(|| raw.get(modrm_i + 1).copied()).flatten();
    if md == 3 || (rm == 4 && sib.is_none()) || (md == 0 && rm == 5) {
        return fail("unsupported %fs: operand encoding");
    }
    let disp_at = modrm_i + 1 + usize::from(sib.is_some());
    let disp_len = match md {
        1 => 1,
        2 => 4,
        _ if sib.is_some_and(|s| s & 7 == 5) => 4,
        _ => 0,
    };
    let tail_at = disp_at + disp_len;
    if tail_at > raw.len() || (co.has_displacement() && co.displacement_offset() != disp_at) {
        return fail("unsupported %fs: operand encoding");
    }
    // The displacement as a sign-extended 32-bit value (iced sign-extends it to 64 bits).
    let disp = ins.memory_displacement64() as u32;
    // mov __zv_tp,%r11
    let u = e.unit(&[0x4C, 0x8B, 0x1C, 0x25, 0, 0, 0, 0], false);
    e.fix(u, 4, tp_reloc());
    if let Some(n) = base_n {
        // lea 0(%base,%r11,1),%r11: REX.W, R (r11 in reg), X (r11 as index), B (base >= 8).
        e.unit(&[0x4E | (n >> 3), 0x8D, 0x5C, 0x18 | (n & 7), 0x00], false);
    }
    let mut out = vec![0x67];
    // Dropped with %fs itself: the other segment overrides (overridden by the last one,
    // %fs) and xacquire/xrelease on a store, as in `rewrite_one`.
    let lock_elidable = ins.has_lock_prefix()
        || (matches!(ins.mnemonic(), Mnemonic::Xchg | Mnemonic::Mov) && ins.op0_kind() == OpKind::Memory);
    for (i, &b) in raw[..modrm_i].iter().enumerate() {
        if i < pfx.op
            && (matches!(b, 0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65) || (lock_elidable && matches!(b, 0xF2 | 0xF3)))
        {
            continue;
        }
        if i == pfx.op && pfx.rex.is_none() {
            out.push(0x41);
        }
        // REX.B selects r11 as the new base; without a SIB byte in the input REX.X meant
        // nothing, and under the new SIB's "no index" it would name %r12.
        out.push(if Some(i) == pfx.rex { (b | 1) & if sib.is_some() { 0xFF } else { !2 } } else { b });
    }
    out.push(0x80 | (modrm & 0x38) | 4);
    out.push(match sib {
        Some(s) => (s & 0xF8) | 3,
        None => 0x20 | 3,
    });
    let new_disp_at = out.len();
    out.extend_from_slice(&disp.to_le_bytes());
    let new_tail_at = out.len();
    out.extend_from_slice(&raw[tail_at..]);
    if out.len() > 15 {
        return fail("instruction would exceed 15 bytes");
    }
    let u = e.unit(&out, false);
    for r in rs {
        let f = reloc_field(ctx, ins, co, r)?;
        let g = if f == disp_at && disp_len == 4 {
            new_disp_at
        } else if f >= tail_at {
            f - tail_at + new_tail_at
        } else {
            return fail("relocation on a short displacement of a %fs: operand");
        };
        e.fix(u, g, FixKind::Reloc(out_reloc(r, g, out.len() - g, false)));
    }
    Ok(())
}

/// `movabs addr64,%al/%ax/%eax/%rax` and the stores: the 0x67 form takes a 32-bit
/// address (M1), so the instruction shrinks by four bytes; an R_X86_64_64 on the address
/// becomes R_X86_64_32 (addresses are below 2 GiB).
fn rewrite_moffs(
    ctx: &SectionCtx<'_, '_>,
    e: &mut Emitter,
    ins: &Instruction,
    raw: &[u8],
    rs: &[Reloc],
    pfx: &Prefixes,
) -> Result<()> {
    let pos = ins.ip();
    let addr_at = pfx.op + 1;
    if raw.len() != addr_at + 8 || pfx.seg.is_some() {
        return Err(ctx.err(pos, &text(ins), "unexpected moffs encoding", ""));
    }
    let high = &raw[addr_at + 4..];
    let mut out = vec![0x67];
    // xacquire/xrelease on a store are dropped, as in `rewrite_one`.
    let store = ins.op0_kind() == OpKind::Memory;
    out.extend(raw[..pfx.op].iter().filter(|&&b| !(store && matches!(b, 0xF2 | 0xF3))));
    out.push(raw[pfx.op]);
    let field = out.len();
    out.extend_from_slice(&raw[addr_at..addr_at + 4]);
    let u = e.unit(&out, false);
    match rs {
        [] if high == [0, 0, 0, 0] => {}
        [r] if r.offset - pos == addr_at as u64 && r.r_type == elf::R_X86_64_64 => {
            let mut o = out_reloc(r, field, 4, false);
            o.r_type = elf::R_X86_64_32;
            e.fix(u, field, FixKind::Reloc(o));
        }
        _ => {
            return Err(ctx.err(
                pos,
                &text_relocated(ctx, ins, rs),
                "64-bit moffs address above 4 GiB",
                "use -mcmodel=small code (zvcc's default)",
            ))
        }
    }
    Ok(())
}

/// The call that ends a recognised general- or local-dynamic TLS sequence (the psABI's
/// code sequences, as GNU ld's `elf_x86_64_check_tls_transition` accepts them in 64-bit
/// code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TlsCall {
    /// Offset of the call's relocated field in the call instruction.
    field: usize,
    /// The call goes through the GOT (`call *__tls_get_addr@GOTPCREL(%rip)`, -fno-plt).
    indirect: bool,
}

/// The `lea` that opens a sequence: `data16 lea x@tlsgd(%rip),%rdi` (general dynamic)
/// or `lea x@tlsld(%rip),%rdi` (local dynamic), the relocation on its displacement.
fn tls_lea_ok(gd: bool, raw: &[u8]) -> bool {
    if gd {
        raw.len() == 8 && raw[..4] == [0x66, 0x48, 0x8D, 0x3D]
    } else {
        raw.len() == 7 && raw[..3] == [0x48, 0x8D, 0x3D]
    }
}

/// The call that ends a sequence, by its bytes:
///
/// - general dynamic: `data16 data16 rex.W call __tls_get_addr@PLT` (`66 66 48 e8`),
///   `data16 rex.W call *__tls_get_addr@GOTPCREL(%rip)` (`66 48 ff 15`, -fno-plt), or
///   that call relaxed by a linker to `data16 rex.W addr32 call` (`66 48 67 e8`);
/// - local dynamic: `call __tls_get_addr@PLT` (`e8`), `call *__tls_get_addr@GOTPCREL(%rip)`
///   (`ff 15`) or `addr32 call` (`67 e8`).
///
/// The large-model forms (`movabs $__tls_get_addr@PLTOFF,%rax; add %rbx,%rax; call
/// *%rax`) are not recognised: zvld links the small code model only.
fn tls_call_form(gd: bool, raw: &[u8]) -> Option<TlsCall> {
    let call = |field, indirect| Some(TlsCall { field, indirect });
    match (gd, raw) {
        (true, [0x66, 0x66, 0x48, 0xE8, _, _, _, _]) | (true, [0x66, 0x48, 0x67, 0xE8, _, _, _, _]) => call(4, false),
        (true, [0x66, 0x48, 0xFF, 0x15, _, _, _, _]) => call(4, true),
        (false, [0xE8, _, _, _, _]) => call(1, false),
        (false, [0x67, 0xE8, _, _, _, _]) => call(2, false),
        (false, [0xFF, 0x15, _, _, _, _]) => call(2, true),
        _ => None,
    }
}

/// General- and local-dynamic TLS relaxed to local-exec (TOOLCHAIN.md section 2), as GNU
/// ld relaxes them in an executable, in the form's terms (`mov %fs:0,%reg` is a load of
/// `__zv_tp`):
///
/// - general dynamic, `lea x@tlsgd(%rip),%rdi; call __tls_get_addr` (16 bytes) becomes
///   `mov __zv_tp,%rax; lea x@tpoff(%rax),%rax`: %rax holds the address of `x`, as the
///   call returned, and nothing else changes (the call clobbered every caller-saved
///   register and the flags; this clobbers only %rax);
/// - local dynamic, `lea x@tlsld(%rip),%rdi; call __tls_get_addr` becomes
///   `mov __zv_tp,%rax`: the base the `x@dtpoff` offsets that follow are added to is now
///   the thread pointer, and the relocation phase gives R_X86_64_DTPOFF32 in code the
///   thread-pointer offset ([`crate::relocate`]).
///
/// The call disappears (no call padding, no return site) and its relocation against
/// `__tls_get_addr` is consumed, so that function need not exist. A `lea` with a
/// TLSGD/TLSLD relocation that is not followed by a recognised call is an error.
fn relax_tls(
    ctx: &SectionCtx<'_, '_>,
    e: &mut Emitter,
    lea: &Instruction,
    raw: &[u8],
    rs: &[Reloc],
    call: Option<(&Instruction, &[u8], &[Reloc])>,
) -> Result<()> {
    let pos = lea.ip();
    let tls = rs.iter().find(|r| matches!(r.r_type, elf::R_X86_64_TLSGD | elf::R_X86_64_TLSLD)).copied();
    let Some(tls) = tls else { return Err(ctx.err(pos, &text(lea), "internal error: no TLS relocation", "")) };
    let gd = tls.r_type == elf::R_X86_64_TLSGD;
    let (model, expected) = if gd {
        (
            "general-dynamic",
            "`data16 lea x@tlsgd(%rip),%rdi` (66 48 8d 3d) immediately followed by `data16 data16 rex.W call __tls_get_addr@PLT` (66 66 48 e8) or `data16 rex.W call *__tls_get_addr@GOTPCREL(%rip)` (66 48 ff 15)",
        )
    } else {
        (
            "local-dynamic",
            "`lea x@tlsld(%rip),%rdi` (48 8d 3d) immediately followed by `call __tls_get_addr@PLT` (e8) or `call *__tls_get_addr@GOTPCREL(%rip)` (ff 15)",
        )
    };
    let symbol = ctx.obj.symbols.get(tls.sym as usize).map_or("", |s| s.name);
    let fail = |at: u64, ins: &Instruction, what: String| {
        Err(ctx.err(
            at,
            &text(ins),
            format!(
                "{} against `{symbol}`: {what}; zvld relaxes {model} TLS to local-exec only in the sequence {expected}",
                crate::relocate::reloc_name(tls.r_type)
            ),
            "compile with zvcc (-fno-pic: local-exec TLS), or with gcc's or clang's own -fPIC sequences unchanged",
        ))
    };
    let field = if gd { 4 } else { 3 };
    if !tls_lea_ok(gd, raw) || rs.len() != 1 || tls.offset != pos + field {
        return fail(pos, lea, "the instruction is not the sequence's `lea`".into());
    }
    let Some((ci, craw, crs)) = call.filter(|(c, _, _)| c.ip() == pos + raw.len() as u64) else {
        return fail(pos, lea, "no instruction follows it".into());
    };
    let Some(form) = tls_call_form(gd, craw) else {
        return fail(ci.ip(), ci, "it is not followed by a call of __tls_get_addr".into());
    };
    let types: &[u32] = if form.indirect {
        &[elf::R_X86_64_GOTPCREL, elf::R_X86_64_GOTPCRELX, elf::R_X86_64_REX_GOTPCRELX]
    } else {
        &[elf::R_X86_64_PC32, elf::R_X86_64_PLT32]
    };
    let target_ok = |r: &Reloc| {
        r.offset == ci.ip() + form.field as u64
            && types.contains(&r.r_type)
            && ctx.obj.symbols.get(r.sym as usize).is_some_and(|s| s.name == TLS_GET_ADDR)
    };
    if !matches!(crs, [r] if target_ok(r)) {
        return fail(ci.ip(), ci, "the call that follows it is not a call of __tls_get_addr".into());
    }
    // The call disappears: nothing may name it.
    if let Ok(k) = ctx.symbols.binary_search_by_key(&ci.ip(), |&(o, _)| o) {
        return fail(ci.ip(), ci, format!("symbol `{}` marks the call, which relaxation removes", ctx.symbols[k].1));
    }
    let Some(addend) = tls.addend.checked_add(4) else {
        return fail(pos, lea, format!("its addend {} is out of range", tls.addend));
    };
    // mov __zv_tp,%rax
    let u = e.unit(&[0x48, 0x8B, 0x04, 0x25, 0, 0, 0, 0], false);
    e.fix(u, 4, tp_reloc());
    if gd {
        // lea x@tpoff(%rax),%rax; the TLSGD addend is PC-relative (x - 4), the offset is
        // that of x itself.
        let u = e.unit(&[0x48, 0x8D, 0x80, 0, 0, 0, 0], false);
        e.fix(
            u,
            3,
            FixKind::Reloc(OutReloc {
                at: 0,
                r_type: elf::R_X86_64_TPOFF32,
                sym: RelSym::Obj(tls.sym),
                addend,
                bias: 4,
                branch: false,
                head: 0,
                input: NO_INPUT,
            }),
        );
    }
    Ok(())
}

fn tp_reloc() -> FixKind {
    FixKind::Reloc(OutReloc {
        at: 0,
        r_type: elf::R_X86_64_32S,
        sym: RelSym::Global("__zv_tp"),
        addend: 0,
        bias: 4,
        branch: false,
        head: 0,
        input: NO_INPUT,
    })
}

// Multi-byte NOPs of length 1..=9: the form's padding table, shared with zvcore.
use zvcore::testgen::NOPS;

/// Appends `n` bytes of NOPs, never letting one cross a bundle boundary.
pub fn pad_nops(out: &mut Vec<u8>, mut n: usize) {
    while n > 0 {
        let room = BUNDLE as usize - out.len() % BUNDLE as usize;
        let k = n.min(room).min(NOPS.len());
        out.extend_from_slice(NOPS[k - 1]);
        n -= k;
    }
}

/// Writes `n` bytes of NOPs into `buf` from index `at` (a buffer that starts on a bundle
/// boundary), exactly as [`pad_nops`] would append them at length `at`.
fn fill_nops(buf: &mut [u8], mut at: usize, mut n: usize) {
    while n > 0 {
        let room = BUNDLE as usize - at % BUNDLE as usize;
        let k = n.min(room).min(NOPS.len());
        buf[at..at + k].copy_from_slice(NOPS[k - 1]);
        at += k;
        n -= k;
    }
}

/// One part placed from a bundle boundary: unit offsets relative to the part's start (its
/// map entries, relative too, are in the slice of the section's map it was given), the
/// unpadded length and the length padded to a bundle (`emit` may give the part more NOPs
/// so that the next part starts at its alignment). The bytes are written later by
/// [`fill_part`], once, when relaxation has settled.
struct Laid {
    offs: Vec<u32>,
    unpadded: u32,
    size: u32,
    /// Units laid out in their rel8 form (empty: none).
    short: Vec<bool>,
}

/// Alignments above a bundle that a section's symbols keep: (input offset, alignment),
/// sorted by offset. A part is laid out from offset 0, so its base in the section is made
/// a multiple of the largest alignment among its symbols ([`part_need`]).
#[derive(Clone, Copy)]
struct Aligned<'b> {
    at: &'b [(u32, u32)],
}

/// The alignment a part's base needs: the largest of its symbols' (a bundle at least).
fn part_need(part: &Emitter, big: Aligned<'_>) -> u32 {
    let (Some(lo), Some(hi)) = (part.units.first(), part.units.last()) else { return BUNDLE };
    let from = big.at.partition_point(|&(o, _)| o < lo.in_off);
    let to = big.at.partition_point(|&(o, _)| o <= hi.in_off);
    big.at[from..to].iter().map(|&(_, a)| a).max().unwrap_or(BUNDLE).max(BUNDLE)
}

/// What [`layout_once`] does at a unit, one byte each, worked out once per part (the
/// alignment lists are searched here, not in every pass): [`M_ALIGN`] start a bundle,
/// [`M_BIG`] align to the unit's entry in the part's list of larger alignments,
/// [`M_FIRST`] an offset map entry, [`M_CALL`] end the bundle with it, [`M_SHORT`] laid
/// out in its rel8 form (set by [`layout_part`] between passes).
const M_ALIGN: u8 = 1;
const M_BIG: u8 = 2;
const M_FIRST: u8 = 4;
const M_CALL: u8 = 8;
const M_SHORT: u8 = 16;

/// The [`layout_once`] marks of a part's units and, in unit order, the alignments of the
/// units marked [`M_BIG`].
fn layout_marks(part: &Emitter, align: &[u32], big: Aligned<'_>) -> (Vec<u8>, Vec<u32>) {
    let mut marks = Vec::with_capacity(part.units.len());
    let mut bigs = Vec::new();
    let mut ai = part.units.first().map_or(0, |u| align.partition_point(|&a| a < u.in_off));
    let mut bi = part.units.first().map_or(0, |u| big.at.partition_point(|&(a, _)| a < u.in_off));
    for u in &part.units {
        let mut m = 0;
        if u.align() {
            m |= M_ALIGN;
        }
        if u.call() {
            m |= M_CALL;
        }
        if u.first() {
            m |= M_FIRST;
            while ai < align.len() && align[ai] < u.in_off {
                ai += 1;
            }
            if ai < align.len() && align[ai] == u.in_off {
                m |= M_ALIGN;
            }
            while bi < big.at.len() && big.at[bi].0 < u.in_off {
                bi += 1;
            }
            if bi < big.at.len() && big.at[bi].0 == u.in_off {
                m |= M_BIG;
                bigs.push(big.at[bi].1);
            }
        }
        marks.push(m);
    }
    (marks, bigs)
}

fn layout_part(part: &Emitter, align: &[u32], big: Aligned<'_>, map: &mut [(u32, u32)]) -> Laid {
    // Branch relaxation: start with the rel8 form for every local branch whose target
    // lies in this part and was near in the all-rel32 layout, then widen any that does
    // not fit and lay out again until nothing changes (widening only, so this ends).
    let mut laid = Laid { offs: Vec::with_capacity(part.units.len()), unpadded: 0, size: 0, short: Vec::new() };
    let (mut marks, bigs) = layout_marks(part, align, big);
    layout_once(part, &marks, &bigs, &mut laid, map);
    let lo = part.units.first().map_or(0, |u| u.in_off);
    let hi = part.units.last().map_or(0, |u| u.in_off);
    // The candidates: (unit, map entry of the target) of the local branches with a rel8
    // form (one `LocalBranch` fixup each, see `local_branch`) whose target lies in this
    // part and was near in the all-rel32 layout. A target's map entry stays where it is
    // from one layout to the next (only its offset changes), so it is searched once.
    let mut near: Vec<(usize, usize)> = Vec::with_capacity(part.fixups.len());
    for f in &part.fixups {
        let Stored::LocalBranch { target } = f.kind() else { continue };
        let k = f.unit as usize;
        if part.units[k].short == 0 || target < lo || target > hi {
            continue;
        }
        let Ok(j) = map.binary_search_by_key(&target, |&(i, _)| i) else { continue };
        if (i64::from(map[j].1) - i64::from(laid.offs[k])).abs() < 100 {
            near.push((k, j));
        }
    }
    if near.is_empty() {
        return laid;
    }
    for &(k, _) in &near {
        marks[k] |= M_SHORT;
    }
    for _ in 0..16 {
        layout_once(part, &marks, &bigs, &mut laid, map);
        let mut changed = false;
        for &(k, j) in &near {
            if marks[k] & M_SHORT != 0 {
                let rel = i64::from(map[j].1) - i64::from(laid.offs[k] + 2);
                if !(-128..=127).contains(&rel) {
                    marks[k] &= !M_SHORT;
                    changed = true;
                }
            }
        }
        if !changed {
            laid.short = marks.iter().map(|&m| m & M_SHORT != 0).collect();
            return laid;
        }
    }
    for m in marks.iter_mut() {
        *m &= !M_SHORT;
    }
    layout_once(part, &marks, &bigs, &mut laid, map);
    laid
}

/// Places the units of a part (offsets only) into `laid`, reusing its buffers, and its
/// map entries into `map` (one per first unit), as `marks` ([`layout_marks`]) say.
fn layout_once(part: &Emitter, marks: &[u8], bigs: &[u32], laid: &mut Laid, map: &mut [(u32, u32)]) {
    let offs = &mut laid.offs;
    offs.clear();
    let mut m = 0;
    let mut bi = 0;
    let mut cur = 0u32;
    let to_bundle = |cur: u32| (BUNDLE - cur % BUNDLE) % BUNDLE;
    offs.reserve(part.units.len());
    for (u, &mk) in part.units.iter().zip(marks) {
        // Most units: an instruction (or the first unit of one), no call, no alignment,
        // no rel8 form. The same steps as below, without the tests that do not apply.
        if mk & !M_FIRST == 0 {
            let len = u32::from(u.len);
            if mk != 0 {
                map[m] = (u.in_off, cur);
                m += 1;
            }
            if cur % BUNDLE + len > BUNDLE {
                cur += BUNDLE - cur % BUNDLE;
            }
            offs.push(cur);
            cur += len;
            continue;
        }
        if mk & M_ALIGN != 0 {
            cur += to_bundle(cur);
        }
        if mk & M_BIG != 0 {
            cur = cur.next_multiple_of(bigs[bi]);
            bi += 1;
        }
        let len = if mk & M_SHORT != 0 { 2 } else { u32::from(u.len) };
        // The map points at the padding before a call (NOPs fall through into it), so a
        // bundle-aligned instruction keeps its bundle-aligned address.
        if mk & M_FIRST != 0 {
            map[m] = (u.in_off, cur);
            m += 1;
        }
        if mk & M_CALL != 0 {
            cur += to_bundle(cur + len);
        } else if len > 0 && cur % BUNDLE + len > BUNDLE {
            cur += BUNDLE - cur % BUNDLE;
        }
        offs.push(cur);
        cur += len;
    }
    laid.unpadded = cur;
    laid.size = cur + to_bundle(cur);
}

/// Writes a placed part into `out` (its `size` bytes): the units at their offsets, NOPs
/// in between and up to the bundle end.
fn fill_part(part: &Emitter, laid: &Laid, out: &mut [u8]) {
    let mut at = 0usize;
    let mut start = 0usize;
    for (k, u) in part.units.iter().enumerate() {
        let off = laid.offs[k] as usize;
        fill_nops(out, at, off - at);
        let long = usize::from(u.len);
        if laid.short.get(k).copied().unwrap_or(false) {
            out[off..off + 2].copy_from_slice(&[u.short, 0]);
            at = off + 2;
        } else {
            // Units are short: copy a fixed 16 bytes where both sides have them (one
            // move instead of a call of memcpy per unit). The bytes past the unit are
            // overwritten by what follows it, since every byte of `out` is written in
            // order from here on (NOPs, the next units, the final padding).
            match (part.bytes.get(start..start + 16), out.get_mut(off..off + 16)) {
                (Some(src), Some(dst)) if long <= 16 => dst.copy_from_slice(src),
                _ => out[off..off + long].copy_from_slice(&part.bytes[start..start + long]),
            }
            at = off + long;
        }
        start += long;
    }
    fill_nops(out, at, out.len() - at);
}

/// Step 2: bundle layout of a decoded section. `align` lists the input offsets that
/// must start a bundle (sorted, deduplicated).
pub fn emit(ctx: &SectionCtx<'_, '_>, d: &Decoded, align: &[u32]) -> Result<Rewritten> {
    use rayon::prelude::*;
    // Alignments above a bundle (`__attribute__((aligned(64)))` on a function,
    // `-falign-functions=64`): the assembler pads the input so that such a symbol's
    // offset is a multiple of its alignment, and the section's alignment is the largest
    // asked for. Every symbol keeps the alignment its input offset has, up to the
    // section's (up to a page), as GNU ld keeps all offsets modulo the section's
    // alignment; a symbol that lies there by chance is over-aligned, which only pads.
    // (An audit found a 64-aligned function at 32 mod 64: bundles are 32 bytes.)
    let sec_align = ctx.sec.align.min(zvcore::form::PAGE) as u32;
    let big_at: Vec<(u32, u32)> = if sec_align > BUNDLE {
        ctx.symbols
            .iter()
            .filter_map(|&(o, _)| {
                let o = u32::try_from(o).ok()?;
                let a = if o == 0 { sec_align } else { (1u32 << o.trailing_zeros()).min(sec_align) };
                (a > BUNDLE).then_some((o, a))
            })
            .collect()
    } else {
        Vec::new()
    };
    let big = Aligned { at: &big_at };
    // Every part starts a bundle (a chunk starts at a symbol, which is an indirect-branch
    // target; a stub part starts with an aligned stub), so parts are placed
    // independently, in parallel, then written into one buffer, in parallel.
    // The offset map is laid out in place: each part writes its entries (relative to
    // the part) into its own slice, and the part's base is added below.
    let mut map: Vec<(u32, u32)> = vec![(0, 0); d.parts.iter().map(|p| p.firsts as usize).sum::<usize>() + 1];
    // Each part's slice of the map (the last entry, the section's end, is set below).
    fn map_slices<'m>(parts: &[Emitter], map: &'m mut [(u32, u32)]) -> Vec<&'m mut [(u32, u32)]> {
        let mut slices = Vec::with_capacity(parts.len());
        let mut rest = map;
        for p in parts {
            let (here, tail) = std::mem::take(&mut rest).split_at_mut(p.firsts as usize);
            slices.push(here);
            rest = tail;
        }
        slices
    }
    let laid: Vec<Laid> = d
        .parts
        .par_iter()
        .zip(map_slices(&d.parts, &mut map))
        .with_max_len(1)
        .map(|(p, m)| layout_part(p, align, big, m))
        .collect();
    // Parts follow each other: each one's base is the sum of the sizes before it.
    // A part whose symbols are aligned above a bundle starts at a multiple of the largest
    // of them: the part before it grows by NOPs up to there (GNU ld pads the same gap).
    // The section's end offset keeps its alignment too (a label after `.balign 64`).
    let mut sizes: Vec<u32> = laid.iter().map(|l| l.size).collect();
    let mut bases = Vec::with_capacity(laid.len());
    let mut base = 0u32;
    let mut code_end = 0u32;
    let end_align = big_at.last().filter(|&&(o, _)| o == d.size).map_or(1, |&(_, a)| a);
    for (pi, l) in laid.iter().enumerate() {
        let want = base.next_multiple_of(part_need(&d.parts[pi], big));
        if pi > 0 {
            sizes[pi - 1] += want - base;
        }
        base = want;
        bases.push(base);
        if pi < d.stubs_from {
            code_end = (base + l.unpadded).next_multiple_of(end_align);
            sizes[pi] = sizes[pi].max(code_end - base);
        }
        base += sizes[pi];
    }
    let mut out: Vec<u8> = vec![0; base as usize];
    // Each part is written into its bytes and its map entries and unit offsets are made
    // relative to the section, in parallel.
    let (unit_out, shorts): (Vec<Vec<u32>>, Vec<Vec<bool>>) = {
        let mut jobs = Vec::with_capacity(laid.len());
        let mut rest: &mut [u8] = &mut out;
        for ((((p, l), m), &b), &size) in
            d.parts.iter().zip(laid).zip(map_slices(&d.parts, &mut map)).zip(&bases).zip(&sizes)
        {
            let (dst, tail) = std::mem::take(&mut rest).split_at_mut(size as usize);
            rest = tail;
            jobs.push((p, l, m, b, dst));
        }
        type Job<'j> = (&'j Emitter, Laid, &'j mut [(u32, u32)], u32, &'j mut [u8]);
        let place = |(p, l, m, b, dst): Job<'_>| {
            fill_part(p, &l, dst);
            for e in m.iter_mut() {
                e.1 += b;
            }
            (l.offs.into_iter().map(|o| o + b).collect::<Vec<u32>>(), l.short)
        };
        if jobs.len() > 1 {
            jobs.into_par_iter().with_max_len(1).map(place).unzip()
        } else {
            jobs.into_iter().map(place).unzip()
        }
    };
    let last = map.len() - 1;
    map[last] = (d.size, code_end);

    let stubs = d.stubs.iter().map(|(pi, s)| (s.table_sec, s.reloc_off, unit_out[*pi][s.unit as usize])).collect();
    let mut rw = Rewritten { bytes: Vec::new(), map, relocs: Vec::new(), stubs, buckets: Vec::new() };
    rw.build_buckets();
    // The fixups of each part write only into that part's bytes (a unit lies inside its
    // part), so the parts are fixed up in parallel against the finished offset map.
    let mut bytes = out;
    let mut slices: Vec<(usize, u32, &mut [u8])> = Vec::with_capacity(d.parts.len());
    {
        let mut rest: &mut [u8] = &mut bytes;
        for (pi, &size) in sizes.iter().enumerate() {
            let (here, tail) = std::mem::take(&mut rest).split_at_mut(size as usize);
            slices.push((pi, bases[pi], here));
            rest = tail;
        }
    }
    let fix_part = |(pi, base, dst): (usize, u32, &mut [u8])| -> Result<Vec<OutReloc>> {
        let part = &d.parts[pi];
        let mut relocs = Vec::new();
        for f in &part.fixups {
            // Offsets in the section, and in `dst` (the part's bytes).
            let at = unit_out[pi][f.unit as usize] + u32::from(f.at);
            let local = (at - base) as usize;
            match f.kind() {
                Stored::Reloc(i) => {
                    let mut r = part.relocs[i as usize];
                    r.at = at;
                    relocs.push(r);
                }
                Stored::LocalBranch { target } | Stored::LocalRip { target, .. } => {
                    let bias = match f.kind() {
                        Stored::LocalRip { bias, .. } => u32::from(bias),
                        _ => 4,
                    };
                    let Some(t) = rw.lookup(u64::from(target)) else {
                        let u = &part.units[f.unit as usize];
                        return Err(ctx.err(
                            u64::from(u.in_off),
                            "",
                            format!("branch or reference to offset {target:#x}, which is not an instruction start"),
                            "zvld moves every instruction when it rewrites: a branch or a RIP-relative reference inside \
                             the section must name an instruction's first byte (in hand-written assembly, a label)",
                        ));
                    };
                    if shorts[pi].get(f.unit as usize).copied().unwrap_or(false) {
                        // The rel8 form: the displacement follows the one-byte opcode.
                        let at = unit_out[pi][f.unit as usize] + 1;
                        let rel = t as i64 - i64::from(at + 1);
                        let Ok(rel8) = i8::try_from(rel) else {
                            return Err(ctx.err(
                                0,
                                "",
                                format!("internal error: relaxed branch to {target:#x} out of rel8 range"),
                                "",
                            ));
                        };
                        dst[(at - base) as usize] = rel8 as u8;
                        continue;
                    }
                    let rel = t as i64 - i64::from(at + bias);
                    dst[local..local + 4].copy_from_slice(&(rel as i32).to_le_bytes());
                }
            }
        }
        Ok(relocs)
    };
    let per_part: Vec<Result<Vec<OutReloc>>> = if slices.len() > 1 {
        slices.into_par_iter().map(fix_part).collect()
    } else {
        slices.into_iter().map(fix_part).collect()
    };
    let mut relocs = Vec::with_capacity(d.parts.iter().map(|p| p.relocs.len()).sum());
    for r in per_part {
        relocs.extend(r?); // the first error in input order, whichever thread hit it
    }
    rw.relocs = relocs;
    rw.bytes = bytes;
    Ok(rw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{Class, SymDef, Symbol};

    const X: u32 = 1;
    const GET_ADDR: u32 = 2;
    const OTHER: u32 = 3;

    fn object(code: &[u8], relocs: Vec<Reloc>) -> Object<'_> {
        let sym = |name, def, kind| Symbol { name, def, global: true, weak: false, kind, size: 0 };
        let section =
            |name, class, data, relocs| Section { name, class, data, size: 0, align: 16, relocs, discarded: false };
        Object {
            exec_stack: false,
            writable_code: Vec::new(),
            name: "tls.o".into(),
            sections: vec![
                section("", Class::Drop, &[], Vec::new()),
                section(".text", Class::Code, code, relocs),
                section(".tbss", Class::TBss, &[], Vec::new()),
            ],
            symbols: vec![
                sym("", SymDef::Undefined, 0),
                sym("x", SymDef::Section { sec: 2, value: 0 }, elf::STT_TLS),
                sym(TLS_GET_ADDR, SymDef::Undefined, 0),
                sym("other", SymDef::Undefined, 0),
            ],
            comdats: Vec::new(),
        }
    }

    fn reloc(offset: u64, r_type: u32, sym: u32) -> Reloc {
        Reloc { offset, r_type, sym, addend: -4 }
    }

    /// The context of `obj`'s code section, one function `f` at 0.
    fn ctx_of<'o, 'a>(obj: &'o Object<'a>) -> SectionCtx<'o, 'a> {
        SectionCtx {
            obj,
            sec: &obj.sections[1],
            symbols: vec![(0, "f")],
            functions: vec![0],
            emulate_cpuid: false,
            cold_parts: Default::default(),
        }
    }

    /// Rewrites `code` (function `f` at 0) with `relocs`.
    fn rewrite(code: &[u8], relocs: Vec<Reloc>) -> Result<Rewritten> {
        let obj = object(code, relocs);
        let ctx = ctx_of(&obj);
        let d = decode(&ctx)?;
        emit(&ctx, &d, &[0])
    }

    /// Every form zvcore's fast decoder claims in the rewriter's input, built from each
    /// opcode of the one-byte and 0F maps with prefix sets (some it must refuse), REX
    /// bytes, every ModRM byte and SIB bytes for each addressing case, and displacements
    /// and immediates that make a branch land in its section or outside it: rewritten
    /// with the fast decoder and with iced alone, the units, bytes and fixups (or the
    /// error) must be the same.
    #[test]
    fn the_fast_decoder_rewrites_every_form_it_claims_as_iced_does() {
        let prefix_sets: &[&[u8]] = &[
            &[],
            &[0x66],
            &[0x67],
            &[0xF2],
            &[0xF3],
            &[0x66, 0x67],
            &[0x66, 0xF2],
            &[0x67, 0xF3],
            &[0x2E],
            &[0x66, 0x66, 0x2E],
            &[0x3E],
            &[0x64],
            &[0xF0],
        ];
        let rexes: &[&[u8]] = &[&[], &[0x41], &[0x42], &[0x44], &[0x48], &[0x4F]];
        let sibs = [0x24u8, 0x25, 0x20, 0x65, 0xE4, 0x04, 0x2C];
        // After the opcode (and ModRM, SIB): zero (a branch to the section's end), 0xE0
        // (`and $-32`), 0xFB (a branch back before the section), others.
        let fillers: [&[u8]; 3] =
            [&[0x00; 12], &[0xE0, 0x00, 0x80, 0xFF, 0x50, 0x60, 0x70, 0x08, 0x01, 0x02, 0x03, 0x04], &[0xFB; 12]];
        let mut opcodes: Vec<Vec<u8>> = (0..=255u8).filter(|&o| o != 0x0F).map(|o| vec![o]).collect();
        opcodes.extend((0..=255u8).map(|o| vec![0x0F, o]));
        let mut seen = std::collections::HashSet::new();
        let (mut keep, mut addr32, mut branch) = (0usize, 0usize, 0usize);
        for opc in &opcodes {
            for pre in prefix_sets {
                for rex in rexes {
                    for modrm in 0..=255u8 {
                        let needs_sib = modrm >> 6 != 3 && modrm & 7 == 4;
                        let sib_choices: &[u8] = if needs_sib { &sibs } else { &[0x00] };
                        for &sib in sib_choices {
                            for filler in fillers {
                                let mut cand: Vec<u8> = [*pre, rex, &opc[..]].concat();
                                let opcode_end = cand.len();
                                cand.push(modrm);
                                if needs_sib {
                                    cand.push(sib);
                                }
                                cand.extend_from_slice(filler);
                                let Some(f) = zvcore::decode_input(&cand, 0, cand.len()) else { continue };
                                let code = &cand[..f.length()];
                                if f.length() < opcode_end || !seen.insert(code.to_vec()) {
                                    continue;
                                }
                                match f {
                                    zvcore::InputForm::Keep(_) => keep += 1,
                                    zvcore::InputForm::Addr32(_) => addr32 += 1,
                                    zvcore::InputForm::Branch { .. } => branch += 1,
                                }
                                let obj = object(code, Vec::new());
                                let ctx = ctx_of(&obj);
                                let size = code.len() as u32;
                                let run = |fast| match decode_range(&ctx, 0, u64::from(size), size, fast) {
                                    Ok((e, se, stubs)) => {
                                        assert!(se.units.is_empty() && stubs.is_empty());
                                        Ok((e.bytes, e.units, e.fixups, e.relocs.len()))
                                    }
                                    Err(err) => Err(err.to_string()),
                                };
                                let (a, b) = (run(true), run(false));
                                assert_eq!(a, b, "{} (claimed as {f:?})", zvcore::verify::hex(code));
                            }
                        }
                    }
                }
            }
        }
        eprintln!("the fast decoder claims {keep} kept, {addr32} addr32 and {branch} branch forms");
        assert!(keep > 100_000 && addr32 > 100_000 && branch >= 40, "{keep} {addr32} {branch}");
    }

    /// `may_mention_r11` is never wrong. It rules an instruction out only when it has no
    /// REX prefix with R, X or B and no VEX, EVEX or XOP prefix; over each opcode of the
    /// one-byte, 0F, 0F38 and 0F3A maps with such prefixes (none, 0x40, REX.W, and a
    /// REX.B that a later prefix cancels), prefix sets, every ModRM register and
    /// register-or-base field and SIB bytes, no instruction that iced says names r11 is
    /// ruled out; and the filter does rule out most of them (else it would save nothing).
    /// REX.B and REX.R forms are there too, so that the check is seen to find r11.
    #[test]
    fn may_mention_r11_lets_every_use_of_r11_through() {
        let prefix_sets: &[&[u8]] = &[&[], &[0x66], &[0xF3]];
        let rexes: &[&[u8]] = &[&[], &[0x40], &[0x48], &[0x41, 0x66], &[0x41], &[0x4C]];
        let mut opcodes: Vec<Vec<u8>> = (0..=255u8).filter(|&o| o != 0x0F).map(|o| vec![o]).collect();
        opcodes.extend((0..=255u8).filter(|&o| o != 0x38 && o != 0x3A).map(|o| vec![0x0F, o]));
        opcodes.extend((0..=255u8).map(|o| vec![0x0F, 0x38, o]));
        opcodes.extend((0..=255u8).map(|o| vec![0x0F, 0x3A, o]));
        // VEX (BMI: andn with vvvv = r11d, shlx), EVEX and XOP forms.
        opcodes.extend([
            vec![0xC4, 0xE2, 0x20, 0xF2],
            vec![0xC4, 0x62, 0x78, 0xF7],
            vec![0xC5, 0xF8, 0x77],
            vec![0x62, 0xF1, 0x7C, 0x48, 0x10],
            vec![0x8F, 0xE9, 0x78, 0x81],
        ]);
        let modrms: Vec<u8> = [0u8, 3].iter().flat_map(|&m| (0..64u8).map(move |rr| m << 6 | rr)).collect();
        let (mut named, mut ruled_out, mut decoded) = (0usize, 0usize, 0usize);
        for opc in &opcodes {
            for pre in prefix_sets {
                for rex in rexes {
                    for &modrm in &modrms {
                        let sibs: &[u8] = if modrm >> 6 != 3 && modrm & 7 == 4 { &[0x24, 0xDB, 0x1C] } else { &[0x11] };
                        for &sib in sibs {
                            let mut cand: Vec<u8> = [*pre, rex, &opc[..]].concat();
                            cand.push(modrm);
                            cand.push(sib);
                            cand.extend_from_slice(&[0x11; 10]);
                            let mut d = Decoder::with_ip(64, &cand, 0, DecoderOptions::NONE);
                            let ins = d.decode();
                            if ins.is_invalid() {
                                continue;
                            }
                            decoded += 1;
                            let raw = &cand[..ins.len()];
                            if mentions_r11(&ins) {
                                named += 1;
                                assert!(may_mention_r11(raw), "{} names r11 ({ins})", zvcore::verify::hex(raw));
                            } else if !may_mention_r11(raw) {
                                ruled_out += 1;
                            }
                        }
                    }
                }
            }
        }
        eprintln!("{decoded} instructions, {named} name r11, {ruled_out} ruled out by the bytes alone");
        assert!(named > 10_000 && ruled_out > decoded / 3, "{decoded} {named} {ruled_out}");
    }

    /// `Listing::function_uses_r11` gives the reference's answer on functions that use
    /// r11, use it only in a stack-clash probe loop, use r11d in a BMI instruction, or
    /// use r8-r15 but not r11.
    #[test]
    fn function_uses_r11_agrees_with_decoding_everything() {
        let probe: &[u8] = &[
            0x4C, 0x8D, 0x9C, 0x24, 0x00, 0xE0, 0xFF, 0xFF, // lea -0x2000(%rsp),%r11
            0x48, 0x81, 0xEC, 0x00, 0x10, 0x00, 0x00, // sub $0x1000,%rsp
            0x48, 0x83, 0x0C, 0x24, 0x00, // orq $0,(%rsp)
            0x4C, 0x39, 0xDC, // cmp %r11,%rsp
            0x75, 0xEF, // jne (the sub)
        ];
        let others: &[u8] = &[0x4D, 0x89, 0xC2, 0x49, 0x8B, 0x07, 0x48, 0x89, 0xC3]; // mov %r8,%r10; mov (%r15),%rax; mov %rax,%rbx
        let uses: &[&[u8]] = &[
            &[0x4D, 0x89, 0xD3],             // mov %r10,%r11
            &[0x49, 0x8B, 0x03],             // mov (%r11),%rax
            &[0x4A, 0x8B, 0x04, 0x18],       // mov (%rax,%r11,1),%rax
            &[0xC4, 0xE2, 0x20, 0xF2, 0xC1], // andn %ecx,%r11d,%eax (vvvv)
            &[0x41, 0x53],                   // push %r11
        ];
        let mut functions: Vec<Vec<u8>> = vec![others.to_vec(), [probe, others].concat(), [others, probe].concat()];
        for u in uses {
            functions.push([others, u].concat());
            functions.push([probe, u, others].concat());
        }
        functions.push([probe, &probe[..20]].concat()); // a loop cut short: r11 used
        for (n, code) in functions.iter().enumerate() {
            let obj = object(code, Vec::new());
            let ctx = ctx_of(&obj);
            let size = code.len() as u32;
            let (mut items, mut full) = (Vec::new(), Vec::new());
            decode_items(&ctx, 0, size, code, true, &mut items, &mut full).expect("decodes");
            let listing = Listing {
                items: &items,
                full: &full,
                decoder: std::cell::RefCell::new(Decoder::with_ip(64, code, 0, DecoderOptions::NONE)),
            };
            let all: Vec<(Instruction, ())> =
                (0..listing.len()).map(|k| (listing.get(k).expect("listed").0, ())).collect();
            let expected = function_uses_r11(&all);
            assert_eq!(
                listing.function_uses_r11(code, 0..listing.len()),
                expected,
                "function {n}: {}",
                zvcore::verify::hex(code)
            );
            assert_eq!(expected, n >= 3, "function {n}");
        }
    }

    const GD_LEA: [u8; 8] = [0x66, 0x48, 0x8D, 0x3D, 0, 0, 0, 0];
    const LD_LEA: [u8; 7] = [0x48, 0x8D, 0x3D, 0, 0, 0, 0];
    const MOV_TP_RAX: [u8; 4] = [0x48, 0x8B, 0x04, 0x25];

    #[test]
    fn tls_sequence_byte_patterns() {
        assert!(tls_lea_ok(true, &GD_LEA));
        assert!(!tls_lea_ok(true, &LD_LEA), "general dynamic needs the data16 prefix");
        assert!(tls_lea_ok(false, &LD_LEA));
        assert!(!tls_lea_ok(false, &[0x48, 0x8D, 0x35, 0, 0, 0, 0]), "lea into %rsi");
        let direct = Some(TlsCall { field: 4, indirect: false });
        assert_eq!(tls_call_form(true, &[0x66, 0x66, 0x48, 0xE8, 0, 0, 0, 0]), direct);
        assert_eq!(tls_call_form(true, &[0x66, 0x48, 0x67, 0xE8, 0, 0, 0, 0]), direct);
        assert_eq!(
            tls_call_form(true, &[0x66, 0x48, 0xFF, 0x15, 0, 0, 0, 0]),
            Some(TlsCall { field: 4, indirect: true })
        );
        assert_eq!(tls_call_form(true, &[0xE8, 0, 0, 0, 0]), None, "a plain call does not end a GD sequence");
        assert_eq!(tls_call_form(false, &[0xE8, 0, 0, 0, 0]), Some(TlsCall { field: 1, indirect: false }));
        assert_eq!(tls_call_form(false, &[0x67, 0xE8, 0, 0, 0, 0]), Some(TlsCall { field: 2, indirect: false }));
        assert_eq!(tls_call_form(false, &[0xFF, 0x15, 0, 0, 0, 0]), Some(TlsCall { field: 2, indirect: true }));
        assert_eq!(tls_call_form(false, &[0xFF, 0xD0]), None, "call *%rax (large model) is not recognised");
    }

    /// GD, PLT, GOT or addr32 call: `mov __zv_tp,%rax; lea x@tpoff(%rax),%rax`, no call left and
    /// no relocation against __tls_get_addr.
    #[test]
    fn general_dynamic_becomes_local_exec() {
        for (call, r_type) in [
            ([0x66, 0x66, 0x48, 0xE8], elf::R_X86_64_PLT32),
            ([0x66, 0x48, 0xFF, 0x15], elf::R_X86_64_GOTPCRELX),
            ([0x66, 0x48, 0x67, 0xE8], elf::R_X86_64_PC32),
        ] {
            let mut code = GD_LEA.to_vec();
            code.extend_from_slice(&call);
            code.extend_from_slice(&[0, 0, 0, 0, 0x48, 0x8B, 0x00, 0xC3]); // mov (%rax),%rax; ret
            let rw = rewrite(&code, vec![reloc(4, elf::R_X86_64_TLSGD, X), reloc(12, r_type, GET_ADDR)]).unwrap();
            assert_eq!(rw.bytes[..4], MOV_TP_RAX);
            assert_eq!(rw.bytes[8..11], [0x48, 0x8D, 0x80], "lea x@tpoff(%rax),%rax");
            assert_eq!(rw.bytes[15..18], [0x67, 0x48, 0x8B], "the next instruction follows: {:x?}", rw.bytes);
            let r: Vec<(u32, u32, RelSym, i64)> = rw.relocs.iter().map(|r| (r.at, r.r_type, r.sym, r.addend)).collect();
            assert_eq!(
                r,
                [(4, elf::R_X86_64_32S, RelSym::Global("__zv_tp"), 0), (11, elf::R_X86_64_TPOFF32, RelSym::Obj(X), 0)]
            );
            assert_eq!(rw.lookup(0), Some(0));
            assert_eq!(rw.lookup(8), None, "the call is gone");
            assert_eq!(rw.lookup(16), Some(15));
        }
    }

    /// LD: `mov __zv_tp,%rax`; the DTPOFF32 that follows moves with its field.
    #[test]
    fn local_dynamic_becomes_a_thread_pointer_load() {
        for (call, field, r_type) in [
            (&[0xE8][..], 8, elf::R_X86_64_PLT32),
            (&[0xFF, 0x15][..], 9, elf::R_X86_64_GOTPCRELX),
            (&[0x67, 0xE8][..], 9, elf::R_X86_64_PC32),
        ] {
            let mut code = LD_LEA.to_vec();
            code.extend_from_slice(call);
            code.extend_from_slice(&[0, 0, 0, 0]);
            let mov = code.len() as u64;
            code.extend_from_slice(&[0x8B, 0x80, 0, 0, 0, 0, 0xC3]); // mov x@dtpoff(%rax),%eax; ret
            let relocs = vec![
                reloc(3, elf::R_X86_64_TLSLD, X),
                reloc(field, r_type, GET_ADDR),
                Reloc { offset: mov + 2, r_type: elf::R_X86_64_DTPOFF32, sym: X, addend: 0 },
            ];
            let rw = rewrite(&code, relocs).unwrap();
            assert_eq!(rw.bytes[..4], MOV_TP_RAX);
            assert_eq!(rw.bytes[8..11], [0x67, 0x8B, 0x80], "the DTPOFF access follows: {:x?}", rw.bytes);
            let r: Vec<(u32, u32)> = rw.relocs.iter().map(|r| (r.at, r.r_type)).collect();
            assert_eq!(r, [(4, elf::R_X86_64_32S), (11, elf::R_X86_64_DTPOFF32)]);
        }
    }

    fn rewrite_error(code: &[u8], relocs: Vec<Reloc>) -> String {
        match rewrite(code, relocs) {
            Ok(rw) => panic!("rewritten: {:x?}", rw.bytes),
            Err(e @ LinkError::Rewrite { .. }) => e.to_string(),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    #[test]
    fn a_tls_lea_without_its_call_is_an_error() {
        // GD followed by an ordinary call.
        let mut code = vec![0x90];
        code.extend_from_slice(&GD_LEA);
        code.extend_from_slice(&[0xE8, 0, 0, 0, 0, 0xC3]);
        let e = rewrite_error(&code, vec![reloc(5, elf::R_X86_64_TLSGD, X), reloc(10, elf::R_X86_64_PLT32, OTHER)]);
        assert!(e.contains("tls.o(.text+0x9) in function f+0x9"), "{e}");
        assert!(e.contains("R_X86_64_TLSGD against `x`: it is not followed by a call of __tls_get_addr"), "{e}");
        assert!(e.contains("66 66 48 e8"), "says what was expected: {e}");
        // The right bytes calling another function.
        let mut code = GD_LEA.to_vec();
        code.extend_from_slice(&[0x66, 0x66, 0x48, 0xE8, 0, 0, 0, 0, 0xC3]);
        let e = rewrite_error(&code, vec![reloc(4, elf::R_X86_64_TLSGD, X), reloc(12, elf::R_X86_64_PLT32, OTHER)]);
        assert!(e.contains("the call that follows it is not a call of __tls_get_addr"), "{e}");
        // TLSGD on a lea without the data16 prefix.
        let mut code = LD_LEA.to_vec();
        code.extend_from_slice(&[0xE8, 0, 0, 0, 0, 0xC3]);
        let e = rewrite_error(&code, vec![reloc(3, elf::R_X86_64_TLSGD, X), reloc(8, elf::R_X86_64_PLT32, GET_ADDR)]);
        assert!(e.contains("tls.o(.text+0x0) in function f+0x0"), "{e}");
        assert!(e.contains("the instruction is not the sequence's `lea`"), "{e}");
        // TLSLD as the last instruction of the section.
        let e = rewrite_error(&LD_LEA, vec![reloc(3, elf::R_X86_64_TLSLD, X)]);
        assert!(e.contains("R_X86_64_TLSLD against `x`: no instruction follows it"), "{e}");
        assert!(e.contains("`call __tls_get_addr@PLT` (e8)"), "{e}");
    }
}
