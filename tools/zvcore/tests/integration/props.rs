//! Property tests of the verifier engine (proptest).
//!
//! - Random byte strings and random sequences of instruction fragments never panic
//!   `verify_region`, whatever it accepts passes the oracle, and every never-allowed
//!   instruction that decoding from a bundle start reaches is reported as C3 at its
//!   address.
//! - Random mutations (byte flips and sets, insertions, deletions, splices) of valid
//!   generated code: the same three facts.
//! - A forbidden instruction planted in valid code at a bundle start (or at an instruction
//!   start with room left in its bundle), the rest of the bundle padded with NOPs, is
//!   rejected with the expected rule at exactly that address, and with nothing else.
//! - Random mutations of a valid nexe's ELF structure (byte flips in the headers, u16/u64
//!   fields set to edge values, truncation) never panic the reader or the verifier.
//!
//! Case counts are chosen so that each property runs in a few seconds in debug mode.

use iced_x86::{Decoder, DecoderOptions, Instruction};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use zvcore::form::{self, Rule, BUNDLE, CODE_START};
use zvcore::oracle::{self, NEVER_ALLOWED};
use zvcore::{testgen, verify_region, Options, RegionKind, Rejected, VerifiedCode};

const CASES: u32 = 256;

/// Offsets of the never-allowed instructions that decoding from every bundle start
/// reaches: each bundle is decoded from its start until an instruction is
/// invalid or crosses into the next bundle, exactly as FORM.md C2 describes.
fn reachable_never_allowed(code: &[u8]) -> Vec<usize> {
    let b = BUNDLE as usize;
    let mut found = Vec::new();
    let mut d = Decoder::with_ip(64, code, CODE_START, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    let mut start = 0;
    while start < code.len() {
        let end = start + b;
        let mut pos = start;
        while pos < end && pos < code.len() {
            if d.set_position(pos).is_err() {
                break;
            }
            d.set_ip(CODE_START + pos as u64);
            d.decode_out(&mut ins);
            if ins.is_invalid() || pos + ins.len() > end {
                break;
            }
            if NEVER_ALLOWED.contains(&ins.mnemonic()) {
                found.push(pos);
            }
            pos += ins.len();
        }
        start = end;
    }
    found
}

/// Verifies `code` as both kinds of region and checks: no panic (implicitly), the oracle
/// holds on an accepted region, and every reachable never-allowed instruction is
/// reported as C3 at its address.
fn check_region(code: &[u8]) -> Result<(), TestCaseError> {
    let forbidden = reachable_never_allowed(code);
    for kind in [RegionKind::CodeSegment, RegionKind::Jail] {
        let r = verify_region(CODE_START, code, kind, Options::default());
        if let Err(f) = oracle::check_result(CODE_START, code, &r) {
            return Err(TestCaseError::fail(format!("{kind:?}: {f}\ncode: {}", zvcore::verify::hex(code))));
        }
        for &off in &forbidden {
            let addr = CODE_START + off as u64;
            let reported = match &r {
                Ok(_) => false,
                Err(rej) => rej.violations.iter().any(|v| v.rule == Rule::C3 && v.addr == addr),
            };
            prop_assert!(
                reported,
                "{:?}: never-allowed instruction at {:#x} not reported as C3 (result ok: {})\ncode: {}",
                kind,
                addr,
                r.is_ok(),
                zvcore::verify::hex(code)
            );
        }
    }
    Ok(())
}

/// Instruction fragments that are valid anywhere in a bundle (pseudo-instructions whole).
const SAFE: &[&[u8]] = &[
    &[0x90],
    &[0x66, 0x90],
    &[0x0F, 0x1F, 0x40, 0x00],
    &[0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x48, 0x89, 0xC3],
    &[0x01, 0xD8],
    &[0x67, 0x48, 0x8B, 0x40, 0x08],
    &[0x67, 0x8B, 0x04, 0x98],
    &[0x48, 0x8B, 0x44, 0x24, 0x08],
    &[0x48, 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00],
    &[0x50],
    &[0x58],
    &[0x41, 0x57],
    &[0xB8, 0x01, 0x00, 0x00, 0x00],
    &[0x83, 0xEC, 0x10],
    &[0x67, 0xF3, 0xAB],
    &[0xF2, 0x0F, 0x58, 0xC1],
    &[0xC5, 0xF8, 0x77],
    &[0xEB, 0xFE],
    &[0xF4],
    &[0xCC],
    &[0x0F, 0x0B],
    &[0x83, 0xE0, 0xE0, 0xFF, 0xE0],
    &[0x41, 0x83, 0xE3, 0xE0, 0x41, 0xFF, 0xE3],
    &[0x48, 0x81, 0x24, 0x24, 0xE0, 0xFF, 0xFF, 0x7F, 0xC3],
];

/// Hostile fragments: forbidden instructions, broken pseudo-instructions, stray prefixes.
const HOSTILE: &[&[u8]] = &[
    &[0x0F, 0x05],
    &[0x0F, 0x34],
    &[0x0F, 0xA2],
    &[0x0F, 0x31],
    &[0xCD, 0x80],
    &[0xC3],
    &[0xC2, 0x08, 0x00],
    &[0xFF, 0xE0],
    &[0xFF, 0xD0],
    &[0x83, 0xE0, 0xE0],
    &[0x48, 0x81, 0x24, 0x24, 0xE0, 0xFF, 0xFF, 0x7F],
    &[0xE8, 0x00, 0x00, 0x00, 0x00],
    &[0xF3, 0x48, 0xAB],
    &[0xF3, 0x0F, 0x1E, 0xFA],
    &[0x48, 0x89, 0xC4],
    &[0x48, 0x8B, 0x00],
    &[0x66],
    &[0x67],
    &[0x2E],
    &[0x64],
    &[0xF0],
    &[0xF3],
    &[0x48],
    &[0x0F],
];

/// Code built from fragments, mostly safe ones, each placed so that it does not cross a
/// bundle (a stray prefix still merges with the next fragment), often accepted.
fn fragments() -> impl Strategy<Value = Vec<u8>> {
    let pick = prop_oneof![
        20 => any::<Index>().prop_map(|i| SAFE[i.index(SAFE.len())]),
        1 => any::<Index>().prop_map(|i| HOSTILE[i.index(HOSTILE.len())]),
    ];
    vec(pick, 0..48).prop_map(|frags| {
        let mut a = testgen::Asm::new();
        for f in frags {
            a.emit(f);
        }
        a.code
    })
}

/// One mutation of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// Copies `len` bytes from the first index and inserts them at the second.
    Splice(Index, Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), any::<Index>(), 1usize..128).prop_map(|(s, d, n)| Mutation::Splice(s, d, n)),
    ]
}

fn apply(code: &mut Vec<u8>, m: &Mutation) {
    let len = code.len();
    match m {
        Mutation::Flip(i, mask) if len > 0 => code[i.index(len)] ^= mask,
        Mutation::Set(i, b) if len > 0 => code[i.index(len)] = *b,
        Mutation::Insert(i, v) => {
            let at = i.index(len + 1);
            code.splice(at..at, v.iter().copied());
        }
        Mutation::Delete(i, n) if len > 0 => {
            let at = i.index(len);
            code.drain(at..(at + n).min(len));
        }
        Mutation::Splice(s, d, n) if len > 0 => {
            let from = s.index(len);
            let chunk = code[from..(from + n).min(len)].to_vec();
            let at = d.index(len + 1);
            code.splice(at..at, chunk);
        }
        _ => {}
    }
}

/// Forbidden instructions with the rule that must reject them at a bundle start.
const PLANTS: &[(&[u8], Rule, &str)] = &[
    (&[0x0F, 0x05], Rule::C3, "syscall"),
    (&[0x0F, 0xA2], Rule::C3, "cpuid"),
    (&[0xCD, 0x80], Rule::C3, "int 0x80"),
    (&[0x0F, 0x31], Rule::C3, "rdtsc"),
    (&[0x0F, 0x34], Rule::C3, "sysenter"),
    (&[0xC3], Rule::C9, "bare ret"),
    (&[0xFF, 0xE0], Rule::C9, "unmasked jmp *%rax"),
];

/// Overwrites `code[at..]` up to the end of its bundle with `bytes` and then NOPs.
fn plant(code: &mut [u8], at: usize, bytes: &[u8]) {
    let end = (at / BUNDLE as usize + 1) * BUNDLE as usize;
    code[at..at + bytes.len()].copy_from_slice(bytes);
    code[at + bytes.len()..end].fill(0x90);
}

/// Asserts that `r` is a rejection whose violations are all `rule` at `addr` (the planted
/// instruction is the only thing wrong with the code).
fn assert_only(
    r: &Result<VerifiedCode, Rejected>,
    rule: Rule,
    addr: u64,
    what: &str,
    code: &[u8],
) -> Result<(), TestCaseError> {
    let Err(rej) = r else {
        return Err(TestCaseError::fail(format!(
            "{what} at {addr:#x} was accepted\ncode: {}",
            zvcore::verify::hex(code)
        )));
    };
    prop_assert!(
        rej.violations.iter().any(|v| v.rule == rule && v.addr == addr),
        "{} at {:#x}: expected {} there, got {:?}",
        what,
        addr,
        rule,
        rej.violations
    );
    prop_assert!(
        rej.violations.iter().all(|v| v.rule == rule && v.addr == addr),
        "{} at {:#x}: unexpected extra violations: {:?}",
        what,
        addr,
        rej.violations
    );
    Ok(())
}

/// Offsets of the instructions of valid generated code (a linear decode is exact for it).
fn instruction_starts(code: &[u8]) -> Vec<usize> {
    let mut d = Decoder::with_ip(64, code, CODE_START, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    let mut v = Vec::new();
    while d.can_decode() {
        let pos = d.position();
        d.decode_out(&mut ins);
        v.push(pos);
    }
    v
}

/// Offsets of 8-byte and 2-byte fields of the ELF header and of the first `phnum`
/// program headers that the reader interprets.
fn elf_fields(phnum: usize) -> (Vec<usize>, Vec<usize>) {
    let mut u64s = vec![24, 32, 40];
    let u16s = vec![16, 18, 54, 56, 58, 60, 62];
    for i in 0..phnum {
        let ph = 64 + 56 * i;
        u64s.extend([ph, ph + 8, ph + 16, ph + 24, ph + 32, ph + 40, ph + 48]);
    }
    (u64s, u16s)
}

/// One mutation of a nexe's structure.
#[derive(Clone, Debug)]
enum ElfMutation {
    /// XOR a byte of the ELF header or program-header table.
    FlipHeader(Index, u8),
    /// XOR a byte anywhere in the file.
    FlipAny(Index, u8),
    /// Set an interpreted u64 field (header, program header or section header).
    SetU64(Index, u64),
    /// Set an interpreted u16 field of the ELF header.
    SetU16(Index, u16),
    /// Set a random 8-byte-aligned u64 anywhere in the file.
    SetAnyU64(Index, u64),
    /// Cut the file.
    Truncate(Index),
}

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(31),
        Just(32),
        Just(56),
        Just(64),
        Just(0x1000),
        Just(CODE_START),
        Just(CODE_START + 1),
        Just(form::CODE_LIMIT),
        Just(form::CODE_LIMIT - 32),
        Just(0xFFFF_FFFF),
        Just(0x1_0000_0000),
        Just(i64::MAX as u64),
        Just(1 << 63),
        Just(u64::MAX - 31),
        Just(u64::MAX),
        0u64..0x10000,
        any::<u64>(),
    ]
}

fn edge_u16() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), Just(1), Just(2), Just(56), Just(64), Just(65), Just(0xFF00), Just(u16::MAX), any::<u16>(),]
}

fn elf_mutation() -> impl Strategy<Value = ElfMutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(i, m)| ElfMutation::FlipHeader(i, m)),
        1 => (any::<Index>(), 1u8..=255).prop_map(|(i, m)| ElfMutation::FlipAny(i, m)),
        3 => (any::<Index>(), edge_u64()).prop_map(|(i, v)| ElfMutation::SetU64(i, v)),
        2 => (any::<Index>(), edge_u16()).prop_map(|(i, v)| ElfMutation::SetU16(i, v)),
        1 => (any::<Index>(), edge_u64()).prop_map(|(i, v)| ElfMutation::SetAnyU64(i, v)),
        1 => any::<Index>().prop_map(ElfMutation::Truncate),
    ]
}

fn apply_elf(file: &mut Vec<u8>, m: &ElfMutation) {
    let len = file.len();
    if len == 0 {
        return;
    }
    let phnum = file.get(56..58).map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]]))).min(8);
    let put = |file: &mut Vec<u8>, at: usize, bytes: &[u8]| {
        if let Some(dst) = at.checked_add(bytes.len()).and_then(|end| file.get_mut(at..end)) {
            dst.copy_from_slice(bytes);
        }
    };
    match m {
        ElfMutation::FlipHeader(i, mask) => {
            let hdr = (64 + 56 * phnum.max(1)).min(len);
            file[i.index(hdr)] ^= mask;
        }
        ElfMutation::FlipAny(i, mask) => file[i.index(len)] ^= mask,
        ElfMutation::SetU64(i, v) => {
            let (mut u64s, _) = elf_fields(phnum);
            // Section-header fields: offset and size of each of the first few sections.
            if let Some(b) = file.get(40..48) {
                let shoff = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
                if let Ok(shoff) = usize::try_from(shoff) {
                    for s in 0..6usize {
                        let h = shoff.saturating_add(64 * s);
                        u64s.extend([h.saturating_add(24), h.saturating_add(32)]);
                    }
                }
            }
            let at = u64s[i.index(u64s.len())];
            put(file, at, &v.to_le_bytes());
        }
        ElfMutation::SetU16(i, v) => {
            let (_, u16s) = elf_fields(0);
            put(file, u16s[i.index(u16s.len())], &v.to_le_bytes());
        }
        ElfMutation::SetAnyU64(i, v) => {
            let at = i.index(len / 8 + 1) * 8;
            put(file, at, &v.to_le_bytes());
        }
        ElfMutation::Truncate(i) => file.truncate(i.index(len + 1)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// (a) Random bytes never panic the verifier; accepted code passes the oracle;
    /// reachable never-allowed instructions are reported as C3.
    #[test]
    fn random_bytes(code in vec(any::<u8>(), 0..4096)) {
        check_region(&code)?;
        // The fuzz target's body as well (it also tries the code padded with the sled).
        oracle::exercise_region(&code);
    }

    /// (a) The same on sequences of instruction fragments, padded with the HLT sled so
    /// that many of them are accepted and the oracle has something to check.
    #[test]
    fn random_fragments(mut code in fragments()) {
        code.resize(code.len().next_multiple_of(BUNDLE as usize) + 32, form::HLT);
        check_region(&code)?;
    }

    /// (b) Mutated valid code never panics the verifier, and the same facts hold.
    #[test]
    fn mutated_valid_code(seed in any::<u64>(), muts in vec(mutation(), 1..8)) {
        let mut code = testgen::valid_code(seed, 4096, CODE_START);
        for m in &muts {
            apply(&mut code, m);
        }
        check_region(&code)?;
    }

    /// (b) A forbidden instruction planted at a bundle start of valid code is rejected
    /// with the expected rule at that address, and nothing else is reported.
    #[test]
    fn planted_at_bundle_start(
        seed in any::<u64>(),
        bundle in any::<Index>(),
        which in 0..PLANTS.len(),
    ) {
        let mut code = testgen::valid_code(seed, 4096, CODE_START);
        let b = BUNDLE as usize;
        // Any bundle but the HLT sled.
        let body_bundles = (code.len() - form::HLT_SLED_MIN as usize) / b;
        let at = bundle.index(body_bundles) * b;
        let (bytes, rule, what) = PLANTS[which];
        plant(&mut code, at, bytes);
        let addr = CODE_START + at as u64;
        for kind in [RegionKind::CodeSegment, RegionKind::Jail] {
            let r = verify_region(CODE_START, &code, kind, Options::default());
            assert_only(&r, rule, addr, what, &code)?;
        }
    }

    /// (b) The C3 ones also when planted at any instruction start with room left in its
    /// bundle (after the instruction before it, which stays as it was).
    #[test]
    fn planted_at_instruction_start(
        seed in any::<u64>(),
        pick in any::<Index>(),
        which in 0..5usize,
    ) {
        let mut code = testgen::valid_code(seed, 4096, CODE_START);
        let b = BUNDLE as usize;
        let body = code.len() - form::HLT_SLED_MIN as usize;
        let (bytes, rule, what) = PLANTS[which];
        prop_assert_eq!(rule, Rule::C3);
        let starts: Vec<usize> = instruction_starts(&code)
            .into_iter()
            .filter(|&pos| pos < body && pos % b + bytes.len() <= b)
            .collect();
        let at = starts[pick.index(starts.len())];
        plant(&mut code, at, bytes);
        let addr = CODE_START + at as u64;
        let r = verify_region(CODE_START, &code, RegionKind::CodeSegment, Options::default());
        assert_only(&r, rule, addr, what, &code)?;
    }

    /// (c) Structural mutations of a valid nexe never panic the reader, its symbol and
    /// section accessors, or the verifier; accepted files pass the oracle.
    #[test]
    fn mutated_nexe(seed in 0u64..1024, muts in vec(elf_mutation(), 1..6)) {
        let mut file = testgen::valid_nexe(seed, 8192);
        for m in &muts {
            apply_elf(&mut file, m);
        }
        if let Ok(n) = zvcore::nexe::Nexe::parse(&file) {
            let _ = n.symbols();
            let _ = n.sections();
            let _ = n.section_data(".debug_line");
            let _ = n.phdr_bytes();
        }
        let _ = zvcore::verify_nexe(&file, Options::default());
        oracle::exercise_nexe(&file);
    }
}

/// The planted-instruction property's premise: unplanted valid code is accepted, so the
/// rejection it sees comes from the plant.
#[test]
fn generated_code_is_valid() {
    for seed in 0..32 {
        let code = testgen::valid_code(seed, 4096, CODE_START);
        for kind in [RegionKind::CodeSegment, RegionKind::Jail] {
            let r = verify_region(CODE_START, &code, kind, Options::default());
            assert!(r.is_ok(), "seed {seed} {kind:?}: {:?}", r.err());
        }
        assert!(reachable_never_allowed(&code).is_empty());
    }
}
