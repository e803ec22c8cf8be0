//! Status flags across jump-table dispatch.
//!
//! P1's mask `and $-32,%eR` writes the status flags. gcc sometimes keeps flags live
//! across a switch dispatch: it hoists a comparison that every case needs above
//! `jmp *T(,%reg,8)` and the case blocks start with `ja`/`je`/... on those flags. After
//! rewriting, the mask between the comparison and the jump would silently change the
//! program. The verifier cannot see this (it is a semantic, not a safety, problem), so
//! zvld must.
//!
//! For every `jmp *T(,%reg,8)` whose table `T` (relocations in a data section of the same
//! object) points into the same function, this module checks, with iced's flag
//! information, whether any case block reads a status flag before writing it. If so,
//! the last flag-writing instruction before the jump must be a side-effect-free
//! comparison (`cmp`/`test` on registers and immediates) whose inputs nothing between it
//! and the jump writes; zvld then emits, per live case, a bundle-aligned stub that
//! replays the comparison and jumps to the case, and points the table entry at the stub.
//! Anything else is an error that says to compile the file with `-fno-jump-tables`.

use iced_x86::{
    Code, ConstantOffsets, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register,
    RflagsBits,
};
use object::elf;

use crate::error::Result;
use crate::inputs::{Reloc, SymDef};
use crate::rewrite::{Listing, SectionCtx};

/// The status flags (OF, SF, ZF, AF, CF, PF).
const STATUS: u32 = RflagsBits::OF | RflagsBits::SF | RflagsBits::ZF | RflagsBits::AF | RflagsBits::CF | RflagsBits::PF;

/// One table entry to redirect to a stub.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Section (in the same object) holding the table.
    pub table_sec: u32,
    /// Offset of the entry's relocation in that section.
    pub reloc_off: u64,
    /// The case label (input offset in the code section).
    pub target: u64,
}

/// A dispatch whose flags must be replayed: the comparison's bytes and the entries.
#[derive(Debug)]
pub struct Replay {
    /// Index (in the chunk's instructions) of the `jmp`.
    pub jmp: usize,
    /// Bytes of the comparison to replay, in the form (a memory operand with 0x67 unless
    /// it is M2/M3).
    pub compare: Vec<u8>,
    /// Table entries whose case reads the flags.
    pub entries: Vec<Entry>,
}

/// Whether some status flag may be read at `t` before being written, following
/// fall-through, direct jumps and both sides of conditional branches (within a budget;
/// anything unknown counts as a read). `functions` are the starts of the section's
/// STT_FUNC symbols and `this` the dispatching function's: a direct jump to another
/// function is a tail call, after which the flags are dead (the ABI passes none).
/// The work list and visited states of [`live_at`], kept from one call to the next (a
/// dispatch has up to hundreds of cases).
#[derive(Default)]
struct Walk {
    work: Vec<(usize, u32)>,
    seen: std::collections::HashSet<(usize, u32), std::hash::BuildHasherDefault<crate::fxhash::FxHasher>>,
}

fn live_at(
    insns: &Listing<'_>,
    relocs: &[Reloc],
    t: u64,
    functions: &[u64],
    this: u64,
    cold: &dyn Fn(&Reloc) -> bool,
    walk: &mut Walk,
) -> bool {
    // A branch with a relocation leaves the section: a tail call, where flags are dead,
    // unless it goes to the function's cold part, whose code `cold` checks.
    let reloc_of = |ins: &Instruction| {
        let k = relocs.partition_point(|r| r.offset < ins.ip());
        relocs.get(k).filter(|r| r.offset < ins.next_ip())
    };
    let external = |ins: &Instruction| reloc_of(ins).is_some();
    let cold_read = |ins: &Instruction| reloc_of(ins).is_some_and(cold);
    let index = |ip: u64| insns.index(ip);
    let Some(k0) = index(t) else { return true };
    let Walk { work, seen } = walk;
    work.clear();
    work.push((k0, 0u32));
    // Visited (instruction, flags written) states; looked up, never iterated.
    seen.clear();
    let mut budget = 512;
    while let Some((mut k, mut written)) = work.pop() {
        loop {
            if !seen.insert((k, written)) {
                break;
            }
            budget -= 1;
            if budget == 0 {
                return true;
            }
            let Some((ins, _)) = insns.get(k) else { return true };
            let ins = &ins;
            // `syscall` saves the flags in r11 (which gcc treats as clobbered) and zvld
            // turns it into a call of __zv_syscall: it consumes them like a call.
            if ins.code() == Code::Syscall {
                break;
            }
            if ins.rflags_read() & STATUS & !written != 0 {
                return true;
            }
            written |= ins.rflags_modified() & STATUS;
            if written == STATUS {
                break;
            }
            match ins.flow_control() {
                FlowControl::Next => k += 1,
                // The ABI does not pass flags into calls or out of returns; hlt/ud2 stop.
                FlowControl::Call | FlowControl::IndirectCall | FlowControl::Return | FlowControl::Exception => break,
                // An indirect jump is a tail call (flags dead) or another dispatch, which
                // is analysed on its own.
                FlowControl::IndirectBranch => break,
                FlowControl::Interrupt if ins.mnemonic() != Mnemonic::Int3 => return true,
                FlowControl::UnconditionalBranch if external(ins) => {
                    if cold_read(ins) {
                        return true;
                    }
                    break;
                }
                // A jump to the start of another function of the section (STT_FUNC), with
                // no relocation: gcc's tail call of a static function, after which the
                // flags are dead. A jump to any other label is followed (a plain symbol
                // inside a function is not a function boundary).
                FlowControl::UnconditionalBranch
                    if ins.op0_kind() == OpKind::NearBranch64
                        && ins.near_branch_target() != this
                        && functions.binary_search(&ins.near_branch_target()).is_ok() =>
                {
                    break
                }
                FlowControl::UnconditionalBranch if ins.op0_kind() == OpKind::NearBranch64 => {
                    let Some(n) = index(ins.near_branch_target()) else { return true };
                    k = n;
                }
                FlowControl::ConditionalBranch if external(ins) => {
                    if cold_read(ins) {
                        return true;
                    }
                    k += 1;
                }
                FlowControl::ConditionalBranch if ins.op0_kind() == OpKind::NearBranch64 => {
                    let Some(n) = index(ins.near_branch_target()) else { return true };
                    work.push((n, written));
                    k += 1;
                }
                _ => {
                    if ins.mnemonic() == Mnemonic::Hlt || ins.mnemonic() == Mnemonic::Int3 {
                        break;
                    }
                    return true;
                }
            }
        }
    }
    false
}

/// Whether a status flag may be read at offset `at` of a cold section before it is
/// written, following fall-through only: any branch is unknown, so it counts as a read.
/// A call, a return, `ud2`/`hlt`/`int3`, or writing every status flag ends the search
/// with the flags dead (a cold case is usually `call abort`).
fn cold_flags_live(data: &[u8], at: u64) -> bool {
    let Some(code) = usize::try_from(at).ok().and_then(|a| data.get(a..)) else { return true };
    let mut d = iced_x86::Decoder::with_ip(64, code, at, iced_x86::DecoderOptions::NONE);
    let mut written = 0;
    for _ in 0..64 {
        if !d.can_decode() {
            return true;
        }
        let ins = d.decode();
        if ins.is_invalid() || ins.rflags_read() & STATUS & !written != 0 {
            return true;
        }
        written |= ins.rflags_modified() & STATUS;
        if written == STATUS {
            return false;
        }
        match ins.flow_control() {
            FlowControl::Next => {}
            FlowControl::Call | FlowControl::IndirectCall | FlowControl::Return | FlowControl::Exception => {
                return false
            }
            _ if matches!(ins.mnemonic(), Mnemonic::Hlt | Mnemonic::Int3) => return false,
            _ => return true,
        }
    }
    true
}

/// A legacy prefix byte (segment, operand or address size, lock, rep).
fn is_legacy_prefix(b: u8) -> bool {
    matches!(b, 0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0x66 | 0x67 | 0xF0 | 0xF2 | 0xF3)
}

fn reads(info: &mut InstructionInfoFactory, ins: &Instruction) -> Vec<Register> {
    info.info(ins)
        .used_registers()
        .iter()
        .filter(|u| {
            matches!(u.access(), OpAccess::Read | OpAccess::CondRead | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
        })
        .map(|u| u.register().full_register())
        .collect()
}

/// The registers `ins` writes (full registers), and whether it may write memory (an
/// explicit or implicit memory operand it writes), from one look at iced's information.
fn writes(info: &mut InstructionInfoFactory, ins: &Instruction) -> (Vec<Register>, bool) {
    let is_write = |a: OpAccess| {
        matches!(a, OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
    };
    let inf = info.info(ins);
    let regs = inf.used_registers().iter().filter(|u| is_write(u.access())).map(|u| u.register().full_register());
    (regs.collect(), inf.used_memory().iter().any(|m| is_write(m.access())))
}

/// The input offsets of a chunk that other code may branch to (symbols, branch
/// targets): one bit per offset of [start, end), so that neither sorting nor searching
/// is needed (the few questions asked do not pay for sorting every branch target).
pub(crate) struct Labels {
    start: u64,
    end: u64,
    bits: Vec<u64>,
}

impl Labels {
    /// No labels in the chunk [start, end).
    pub(crate) fn new(start: u64, end: u64) -> Labels {
        Labels { start, end, bits: vec![0; (end.saturating_sub(start) as usize).div_ceil(64)] }
    }

    /// Adds `off` (offsets outside the chunk are never asked about and are left out).
    pub(crate) fn insert(&mut self, off: u64) {
        if (self.start..self.end).contains(&off) {
            let k = (off - self.start) as usize;
            self.bits[k / 64] |= 1 << (k % 64);
        }
    }

    /// Whether `off` is a label.
    fn contains(&self, off: u64) -> bool {
        (self.start..self.end).contains(&off) && {
            let k = (off - self.start) as usize;
            self.bits[k / 64] & (1 << (k % 64)) != 0
        }
    }
}

/// Finds the jump-table dispatches of a chunk whose flags are live at some case.
/// `labels` are input offsets that other code may branch to (symbols, branch targets).
pub(crate) fn analyse(
    ctx: &SectionCtx<'_, '_>,
    insns: &Listing<'_>,
    relocs: &[Reloc],
    labels: &Labels,
    functions: &[u64],
    range: (u64, u64),
) -> Result<Vec<Replay>> {
    // Every dispatch `jmp *T(,%reg,8)` of the chunk and its table T (section, offset).
    let table_of = |ins: &Instruction, co: &ConstantOffsets| -> Option<(u32, u64)> {
        if ins.code() != Code::Jmp_rm64 || ins.op0_kind() != OpKind::Memory || ins.memory_base() != Register::None {
            return None;
        }
        if ins.memory_index() == Register::None || ins.memory_index_scale() != 8 || !co.has_displacement() {
            return None;
        }
        let disp_at = ins.ip() + co.displacement_offset() as u64;
        let k = relocs.partition_point(|r| r.offset < disp_at);
        let r = relocs.get(k).filter(|r| r.offset == disp_at)?;
        let SymDef::Section { sec, value } = ctx.obj.symbols[r.sym as usize].def else { return None };
        Some((sec, value.wrapping_add(r.addend as u64)))
    };
    // Every `jmp *mem` is among the instructions iced decoded in the first pass.
    let sites: Vec<(usize, (u32, u64))> = (0..insns.len())
        .filter_map(|j| insns.decoded(j).and_then(|(ins, co)| table_of(ins, co)).map(|t| (j, t)))
        .collect();
    let mut starts: Vec<(u32, u64)> = sites.iter().map(|&(_, t)| t).collect();
    starts.sort_unstable();
    let mut out = Vec::new();
    let mut walk = Walk::default();
    let mut info = InstructionInfoFactory::new();
    // A relocated branch (rel32, at the end of its instruction) into a cold section: may
    // the code at its target read the flags first?
    let cold = |r: &Reloc| -> bool {
        let SymDef::Section { sec, value } = ctx.obj.symbols[r.sym as usize].def else { return false };
        match ctx.obj.sections.get(sec as usize) {
            Some(s) if s.name.starts_with(".text.unlikely") => {
                cold_flags_live(s.data, value.wrapping_add(r.addend as u64).wrapping_add(4))
            }
            _ => false,
        }
    };
    for &(j, (table_sec, table_off)) in &sites {
        let ins = &insns.decoded(j).expect("a site was decoded").0;
        let Some(table) = ctx.obj.sections.get(table_sec as usize) else { continue };
        // Cases must lie in the function that dispatches.
        let f = functions.partition_point(|&o| o <= ins.ip());
        let lo = if f == 0 { range.0 } else { functions[f - 1].max(range.0) };
        let hi = functions.get(f).copied().unwrap_or(range.1).min(range.1);
        let mut entries = Vec::new();
        // Entries into the function's cold part (gcc's hot/cold partitioning moves
        // unlikely cases, such as `default: abort()`, to `.text.unlikely`): part of the
        // table, but not code this chunk decodes.
        let mut cold_live = false;
        let mut n = 0u64;
        let mut k = table.relocs.partition_point(|x| x.offset < table_off);
        while let Some(x) = table.relocs.get(k) {
            if x.offset != table_off + 8 * n || x.r_type != elf::R_X86_64_64 {
                break;
            }
            if n >= 4096 {
                // Entries past this would go unchecked: refuse rather than guess.
                return Err(ctx_err(
                    ctx,
                    ins,
                    "a jump table of more than 4096 entries (zvld checks each case for live status flags)".into(),
                    "compile this file with -fno-jump-tables",
                ));
            }
            if n > 0 && starts.binary_search(&(table_sec, x.offset)).is_ok() {
                break; // the next table
            }
            let sym = &ctx.obj.symbols[x.sym as usize];
            let SymDef::Section { sec, value } = sym.def else { break };
            let target = value.wrapping_add(x.addend as u64);
            let Some(target_sec) = ctx.obj.sections.get(sec as usize) else { break };
            if std::ptr::eq(target_sec, ctx.sec) {
                if target < lo || target >= hi {
                    break;
                }
                entries.push(Entry { table_sec, reloc_off: x.offset, target });
            } else if target_sec.name.starts_with(".text.unlikely") {
                cold_live |= cold_flags_live(target_sec.data, target);
            } else {
                break;
            }
            n += 1;
            k += 1;
        }
        if cold_live {
            return Err(ctx_err(
                ctx,
                ins,
                "a case of this jump-table dispatch lies in the function's cold part (.text.unlikely) and may read the status flags, which P1's mask changes".into(),
                "compile this file with -fno-jump-tables or -fno-reorder-blocks-and-partition",
            ));
        }
        let live: Vec<Entry> =
            entries.into_iter().filter(|e| live_at(insns, relocs, e.target, functions, lo, &cold, &mut walk)).collect();
        if live.is_empty() {
            continue;
        }
        // The comparison to replay: the last flag writer before the jump.
        let hint = "compile this file with -fno-jump-tables";
        let fail = |why: &str| {
            Err(ctx_err(
                ctx,
                ins,
                format!(
                    "the status flags are live across this jump-table dispatch (P1's mask would change them) and {why}"
                ),
                hint,
            ))
        };
        let mut w = j;
        let found = loop {
            if w == 0 || j - w >= 8 {
                break None;
            }
            w -= 1;
            let Some((c, _)) = insns.get(w) else { break None };
            // The range check `cmp $N,%r; ja default` before a dispatch falls through to
            // the jump and keeps the flags: the comparison is above it.
            if c.flow_control() == FlowControl::ConditionalBranch && c.is_jcc_short_or_near() {
                continue;
            }
            if c.flow_control() != FlowControl::Next {
                break None;
            }
            if c.rflags_modified() & STATUS != 0 {
                break Some(w);
            }
        };
        let Some(w) = found else { return fail("no comparison to replay was found") };
        let (cmp, _) = insns.get(w).expect("found above");
        let cmp = &cmp;
        let raw = &ctx.sec.data[cmp.ip() as usize..cmp.next_ip() as usize];
        // A memory operand (gcc -Os compares the switch value where it lies: `cmpl
        // $10,0x28(%rsp)`) is replayed too, when nothing between the comparison and the
        // jump writes memory or the address registers, and the operand does not depend
        // on where the instruction is (RIP-relative) or on a segment.
        let mem = (0..cmp.op_count()).any(|i| cmp.op_kind(i) == OpKind::Memory);
        let mem_ok = !mem
            || (cmp.memory_base() != Register::RIP
                && cmp.segment_prefix() == Register::None
                && (0..cmp.op_count()).all(|i| {
                    !matches!(cmp.op_kind(i), OpKind::MemorySegRSI | OpKind::MemorySegRDI | OpKind::MemoryESRDI)
                }));
        let pure = matches!(cmp.mnemonic(), Mnemonic::Cmp | Mnemonic::Test) && mem_ok;
        if !pure || relocs.iter().any(|r| r.offset >= cmp.ip() && r.offset < cmp.next_ip()) {
            return fail("the instruction that sets them is not a `cmp` or `test` of registers, immediates and a stack or register-addressed memory operand");
        }
        let inputs = reads(&mut info, cmp);
        for (mid, _) in (w + 1..j).filter_map(|m| insns.get(m)) {
            let mid = &mid;
            let (regs, memory) = writes(&mut info, mid);
            if !keeps_compared_value(cmp, mid) && regs.iter().any(|r| inputs.contains(r)) {
                return fail("the comparison's inputs change before the jump");
            }
            if mem && memory {
                return fail("the memory the comparison reads may change before the jump");
            }
            if labels.contains(mid.ip()) {
                return fail("another path joins between the comparison and the jump");
            }
        }
        if labels.contains(ins.ip()) {
            return fail("another path joins at the jump");
        }
        // The stub's copy is in the form, as the rewriter makes the original: a memory
        // operand that is not M2/M3 (rsp or no base, no index) gets the 0x67 prefix.
        let m2_or_m3 =
            cmp.memory_index() == Register::None && matches!(cmp.memory_base(), Register::RSP | Register::None);
        let mut compare = Vec::with_capacity(raw.len() + 1);
        if mem && !m2_or_m3 && !raw.iter().take_while(|&&b| is_legacy_prefix(b)).any(|&b| b == 0x67) {
            compare.push(0x67);
        }
        compare.extend_from_slice(raw);
        out.push(Replay { jmp: j, compare, entries: live });
    }
    Ok(out)
}

/// Whether `mid` leaves the value `cmp` compares as it was although it writes one of its
/// registers: `mov %eR,%eR` (gcc zero-extends the switch index before `jmp *T(,%rR,8)`)
/// keeps the low 32 bits, so a comparison of `%eR` (or a narrower part) gives the same
/// flags before and after it.
fn keeps_compared_value(cmp: &Instruction, mid: &Instruction) -> bool {
    let self_move = matches!(mid.code(), Code::Mov_r32_rm32 | Code::Mov_rm32_r32)
        && mid.op0_kind() == OpKind::Register
        && mid.op1_kind() == OpKind::Register
        && mid.op0_register() == mid.op1_register();
    self_move
        && (0..cmp.op_count()).all(|i| {
            cmp.op_kind(i) != OpKind::Register
                || cmp.op_register(i).full_register() != mid.op0_register().full_register()
                || cmp.op_register(i).size() <= 4
        })
}

fn ctx_err(ctx: &SectionCtx<'_, '_>, ins: &Instruction, reason: String, hint: &str) -> crate::error::LinkError {
    crate::error::LinkError::Rewrite {
        at: ctx.location(ins.ip()),
        instruction: crate::rewrite::text(ins),
        reason,
        hint: hint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::keeps_compared_value;
    use iced_x86::{Decoder, DecoderOptions, Instruction};

    fn decode(bytes: &[u8]) -> Instruction {
        Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE).decode()
    }

    /// `mov %esi,%esi` keeps what `cmp $10,%esi` compares, not what `cmp $10,%rsi` does
    /// (the upper half is cleared), and a move between two registers is a real write.
    #[test]
    fn self_move_keeps_only_the_low_half() {
        let mov_esi = decode(&[0x89, 0xF6]); // mov %esi,%esi
        let mov_esi_alt = decode(&[0x8B, 0xF6]); // mov %esi,%esi (the other encoding)
        let mov_eax_esi = decode(&[0x89, 0xC6]); // mov %eax,%esi
        let cmp_esi = decode(&[0x83, 0xFE, 0x0A]); // cmp $10,%esi
        let cmp_si = decode(&[0x66, 0x83, 0xFE, 0x0A]); // cmp $10,%si
        let cmp_rsi = decode(&[0x48, 0x83, 0xFE, 0x0A]); // cmp $10,%rsi
        let cmp_edi = decode(&[0x83, 0xFF, 0x0A]); // cmp $10,%edi
        assert!(keeps_compared_value(&cmp_esi, &mov_esi));
        assert!(keeps_compared_value(&cmp_esi, &mov_esi_alt));
        assert!(keeps_compared_value(&cmp_si, &mov_esi));
        assert!(!keeps_compared_value(&cmp_rsi, &mov_esi));
        assert!(!keeps_compared_value(&cmp_esi, &mov_eax_esi));
        // Another register is untouched anyway (the general check allows it).
        assert!(keeps_compared_value(&cmp_edi, &mov_esi));
    }
}
