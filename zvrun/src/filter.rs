//! The seccomp filter zvrun installs before entering the guest (docs/zvrun.md,
//! "Defense in depth"), written as a compact classic-BPF program.
//!
//! The policy: x86-64 system calls only; the calls in [`crate::ALLOWED_SYSCALLS`]; mprotect
//! only when the new protection is not both writable and executable; mmap only without
//! PROT_EXEC; fcntl only with F_GETFD; anything else kills the process. seccompiler compiles the same policy to a
//! linear chain of 165 instructions; the kernel checks and JIT-compiles a
//! filter at a cost that grows with its length (about 1.5 us per instruction in the virtual
//! machines measured, 190 us for seccompiler's program), and evaluates it on every system
//! call, so zvrun builds a short one: bitmaps for call numbers below 64 and a short chain
//! above. The tests prove it decides exactly as seccompiler's program does, by running
//! both on every call number (native and x32), architecture and argument that matters.

use seccompiler::{sock_filter, BpfProgram};

/// `offsetof(struct seccomp_data, nr)`.
const NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
const ARCH: u32 = 4;
/// Offset of the low 32 bits of argument `i` (little-endian).
const fn arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;

// Classic BPF opcodes.
const LD_W_ABS: u16 = 0x20;
const LD_IMM: u16 = 0x00;
const ALU_SUB_K: u16 = 0x14;
const ALU_AND_K: u16 = 0x54;
const ALU_LSH_X: u16 = 0x6c;
const MISC_TAX: u16 = 0x07;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

/// A program under construction whose jumps name labels, resolved by [`Asm::finish`].
struct Asm {
    code: Vec<(sock_filter, Option<Label>, Option<Label>)>,
    at: [Option<usize>; 7],
}

#[derive(Clone, Copy)]
enum Label {
    Allow = 0,
    Kill = 1,
    Mid = 2,
    High = 3,
    Special = 4,
    Fcntl = 5,
    Mmap = 6,
}

/// Where a conditional jump goes when its condition is true or false.
#[derive(Clone, Copy)]
enum To {
    Next,
    L(Label),
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((stmt(code, k), None, None));
    }
    fn jump(&mut self, code: u16, k: u32, t: To, f: To) {
        let l = |x: To| if let To::L(l) = x { Some(l) } else { None };
        self.code.push((stmt(code, k), l(t), l(f)));
    }
    fn label(&mut self, l: Label) {
        self.at[l as usize] = Some(self.code.len());
    }
    fn finish(self) -> Result<BpfProgram, String> {
        let mut out = Vec::with_capacity(self.code.len());
        for (i, (mut ins, t, f)) in self.code.into_iter().enumerate() {
            let off = |l: Option<Label>| -> Result<u8, String> {
                let Some(l) = l else { return Ok(0) };
                let target = self.at[l as usize].ok_or("seccomp filter: unplaced label")?;
                u8::try_from(target.checked_sub(i + 1).ok_or("seccomp filter: backward jump")?)
                    .map_err(|_| "seccomp filter: jump too far".to_string())
            };
            ins.jt = off(t)?;
            ins.jf = off(f)?;
            out.push(ins);
        }
        Ok(out)
    }
}

/// The compact filter for `allowed` (plus the mprotect and fcntl rules above).
pub fn compact(allowed: &[i64]) -> Result<BpfProgram, String> {
    compact_with(allowed, false)
}

/// [`compact`], with fcntl's F_GETFL allowed besides F_GETFD when `getfl` (daemon mode:
/// the access mode of a request's descriptors, crate::daemon).
pub fn compact_with(allowed: &[i64], getfl: bool) -> Result<BpfProgram, String> {
    let (mprotect, fcntl, mmap) = (libc::SYS_mprotect as u32, libc::SYS_fcntl as u32, libc::SYS_mmap as u32);
    let mut low = 0u64;
    let mut high = Vec::new();
    for &nr in allowed {
        let nr = u32::try_from(nr).map_err(|_| format!("seccomp filter: bad call number {nr}"))?;
        if nr == mprotect || nr == fcntl || nr == mmap {
            return Err("seccomp filter: mprotect, mmap and fcntl have their own rules".into());
        }
        if nr < 64 {
            low |= 1 << nr;
        } else {
            high.push(nr);
        }
    }
    high.sort_unstable();
    high.dedup();
    let mut a = Asm { code: Vec::new(), at: [None; 7] };
    use Label::*;
    use To::{Next, L};
    // X = A (both 0): no effect on the verdict. When a filter is attached, the kernel
    // emulates it for every call number of every architecture it knows, under the
    // signal lock, to find the calls it may allow without running the filter
    // (seccomp_cache_prepare); the emulation gives up at the first instruction it does
    // not model, and TAX is one. Starting with it makes attaching ~15-20 us cheaper. The
    // calls a trap makes (read, write, pread, pwrite: all below 64) were never cached
    // (the bitmap part of the program is not modelled either); the few allowed calls
    // above 64 (futex, gettid, exit_group, ...) now run the short filter, tens of ns.
    a.op(MISC_TAX, 0);
    a.op(LD_W_ABS, ARCH);
    a.jump(JEQ_K, AUDIT_ARCH_X86_64, Next, L(Kill));
    a.op(LD_W_ABS, NR);
    a.jump(JEQ_K, mprotect, L(Special), Next);
    a.jump(JEQ_K, fcntl, L(Special), Next);
    a.jump(JEQ_K, mmap, L(Special), Next);
    a.jump(JGE_K, 64, L(High), Next);
    a.jump(JGE_K, 32, L(Mid), Next);
    // nr < 32: allowed when bit nr of the low mask is set.
    a.op(MISC_TAX, 0);
    a.op(LD_IMM, 1);
    a.op(ALU_LSH_X, 0);
    a.jump(JSET_K, low as u32, L(Allow), L(Kill));
    a.label(Mid);
    a.op(ALU_SUB_K, 32);
    a.op(MISC_TAX, 0);
    a.op(LD_IMM, 1);
    a.op(ALU_LSH_X, 0);
    a.jump(JSET_K, (low >> 32) as u32, L(Allow), L(Kill));
    a.label(High);
    for nr in high {
        a.jump(JEQ_K, nr, L(Allow), Next);
    }
    a.op(RET_K, RET_KILL_PROCESS);
    a.label(Special);
    // A still holds nr: mprotect, mmap or fcntl.
    a.jump(JEQ_K, fcntl, L(Fcntl), Next);
    a.jump(JEQ_K, mmap, L(Mmap), Next);
    // mprotect: kill when PROT_WRITE and PROT_EXEC are both asked for.
    a.op(LD_W_ABS, arg_lo(2));
    a.op(ALU_AND_K, (libc::PROT_WRITE | libc::PROT_EXEC) as u32);
    a.jump(JEQ_K, (libc::PROT_WRITE | libc::PROT_EXEC) as u32, L(Kill), L(Allow));
    // mmap: never executable (after lock-down only the allocator maps memory).
    a.label(Mmap);
    a.op(LD_W_ABS, arg_lo(2));
    a.jump(JSET_K, libc::PROT_EXEC as u32, L(Kill), L(Allow));
    // fcntl: only F_GETFD (and F_GETFL when asked for).
    a.label(Fcntl);
    a.op(LD_W_ABS, arg_lo(1));
    if getfl {
        a.jump(JEQ_K, libc::F_GETFL as u32, L(Allow), Next);
    }
    a.jump(JEQ_K, libc::F_GETFD as u32, L(Allow), L(Kill));
    a.label(Allow);
    a.op(RET_K, RET_ALLOW);
    a.label(Kill);
    a.op(RET_K, RET_KILL_PROCESS);
    a.finish()
}

/// The same policy compiled by seccompiler (the reference the tests compare with).
#[cfg(test)]
fn reference(allowed: &[i64], getfl: bool) -> Result<BpfProgram, String> {
    use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};
    use std::collections::BTreeMap;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in allowed {
        rules.insert(nr, vec![]);
    }
    let wx = (libc::PROT_WRITE | libc::PROT_EXEC) as u64;
    let mut mp = Vec::new();
    for v in [0, libc::PROT_WRITE as u64, libc::PROT_EXEC as u64] {
        let c = SeccompCondition::new(2, SeccompCmpArgLen::Dword, SeccompCmpOp::MaskedEq(wx), v)
            .map_err(|e| format!("seccomp condition: {e}"))?;
        mp.push(SeccompRule::new(vec![c]).map_err(|e| format!("seccomp rule: {e}"))?);
    }
    rules.insert(libc::SYS_mprotect, mp);
    let no_exec = SeccompCondition::new(2, SeccompCmpArgLen::Dword, SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64), 0)
        .map_err(|e| format!("seccomp condition: {e}"))?;
    rules.insert(libc::SYS_mmap, vec![SeccompRule::new(vec![no_exec]).map_err(|e| format!("seccomp rule: {e}"))?]);
    let mut cmds = vec![libc::F_GETFD];
    if getfl {
        cmds.push(libc::F_GETFL);
    }
    let mut fc = Vec::new();
    for cmd in cmds {
        let c = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, cmd as u64)
            .map_err(|e| format!("seccomp condition: {e}"))?;
        fc.push(SeccompRule::new(vec![c]).map_err(|e| format!("seccomp rule: {e}"))?);
    }
    rules.insert(libc::SYS_fcntl, fc);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        std::env::consts::ARCH.try_into().map_err(|e| format!("seccomp arch: {e:?}"))?,
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    filter.try_into().map_err(|e| format!("seccomp compile: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the instructions seccomp filters use, over a
    /// `struct seccomp_data` image. Returns the filter's verdict.
    fn run(prog: &[sock_filter], data: &[u8; 64]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let mut mem = [0u32; 16];
        for _ in 0..10_000 {
            let ins = &prog[pc];
            pc += 1;
            let k = ins.k;
            let word = |o: u32| u32::from_le_bytes(data[o as usize..o as usize + 4].try_into().unwrap());
            let jump = |c: bool| if c { ins.jt as usize } else { ins.jf as usize };
            match ins.code {
                0x20 => a = word(k),
                0x00 => a = k,
                0x01 => x = k,
                0x60 => a = mem[k as usize],
                0x02 => mem[k as usize] = a,
                0x04 => a = a.wrapping_add(k),
                0x14 => a = a.wrapping_sub(k),
                0x54 => a &= k,
                0x44 => a |= k,
                0x64 => a <<= k,
                0x6c => a = a.checked_shl(x).unwrap_or(0),
                0x74 => a >>= k,
                0x07 => x = a,
                0x87 => a = x,
                0x05 => pc += k as usize,
                0x15 => pc += jump(a == k),
                0x25 => pc += jump(a > k),
                0x35 => pc += jump(a >= k),
                0x45 => pc += jump(a & k != 0),
                0x1d => pc += jump(a == x),
                0x06 => return k,
                0x16 => return a,
                c => panic!("opcode {c:#x} not interpreted"),
            }
        }
        panic!("filter did not return");
    }

    fn data(arch: u32, nr: u32, args: [u64; 6]) -> [u8; 64] {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr.to_le_bytes());
        d[4..8].copy_from_slice(&arch.to_le_bytes());
        d[8..16].copy_from_slice(&0x1234_5678u64.to_le_bytes());
        for (i, v) in args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        d
    }

    #[test]
    fn compact_filter_decides_exactly_as_seccompilers() {
        same_as_seccompiler(crate::ALLOWED_SYSCALLS, false);
    }

    /// The daemon's policy (crate::daemon) too: the ordinary calls and the daemon's, and
    /// fcntl's F_GETFL.
    #[test]
    fn the_daemon_filter_decides_exactly_as_seccompilers() {
        same_as_seccompiler(&crate::daemon::daemon_syscalls(), true);
    }

    fn same_as_seccompiler(allowed: &[i64], getfl: bool) {
        let ours = compact_with(allowed, getfl).unwrap();
        let theirs = reference(allowed, getfl).unwrap();
        assert!(ours.len() * 2 < theirs.len(), "compact {} vs seccompiler {}", ours.len(), theirs.len());
        let mut checked = 0;
        let mut allowed_seen = 0;
        for arch in [AUDIT_ARCH_X86_64, 0x4000_0003 /* i386 */, 0xC000_00B7 /* aarch64 */] {
            for nr in (0..1024u32).chain((0..1024).map(|n| n | 0x4000_0000)).chain([u32::MAX, 0x8000_0000]) {
                let mut arg_sets = vec![[0u64; 6], [7, 0xffff_ffff, 0xffff_ffff_0000_0000, 3, 3, 3]];
                for p in 0..16u64 {
                    arg_sets.push([0x1000, 0x2000, p, 0, 0, 0]);
                    arg_sets.push([3, p, 1 << 32 | p, 0, 0, 0]);
                }
                for args in arg_sets {
                    let d = data(arch, nr, args);
                    let (o, t) = (run(&ours, &d), run(&theirs, &d));
                    assert_eq!(o, t, "arch {arch:#x} nr {nr:#x} args {args:x?}");
                    checked += 1;
                    allowed_seen += usize::from(o == RET_ALLOW);
                }
            }
        }
        assert!(checked > 100_000 && allowed_seen > 0);
    }

    #[test]
    fn compact_filter_kills_what_the_policy_forbids() {
        let p = compact(crate::ALLOWED_SYSCALLS).unwrap();
        let x = AUDIT_ARCH_X86_64;
        let wx = (libc::PROT_WRITE | libc::PROT_EXEC) as u64;
        let nr = |n: i64| n as u32;
        assert_eq!(run(&p, &data(x, nr(libc::SYS_write), [0; 6])), RET_ALLOW);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_openat), [0; 6])), RET_KILL_PROCESS);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_execve), [0; 6])), RET_KILL_PROCESS);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_clone), [0; 6])), RET_KILL_PROCESS);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_write) | 0x4000_0000, [0; 6])), RET_KILL_PROCESS);
        assert_eq!(run(&p, &data(0x4000_0003, nr(libc::SYS_write), [0; 6])), RET_KILL_PROCESS);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_mprotect), [0, 0, wx, 0, 0, 0])), RET_KILL_PROCESS);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_mprotect), [0, 0, 5, 0, 0, 0])), RET_ALLOW);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_fcntl), [0, libc::F_SETFL as u64, 0, 0, 0, 0])), RET_KILL_PROCESS);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_fcntl), [0, libc::F_GETFD as u64, 0, 0, 0, 0])), RET_ALLOW);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_mmap), [0, 4096, 3, 0x22, u64::MAX, 0])), RET_ALLOW);
        assert_eq!(run(&p, &data(x, nr(libc::SYS_mmap), [0, 4096, 5, 0x22, u64::MAX, 0])), RET_KILL_PROCESS);
        assert!(compact(&[libc::SYS_mprotect]).is_err());
        assert!(compact(&[libc::SYS_mmap]).is_err());
    }
}
