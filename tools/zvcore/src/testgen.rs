//! Generators shared by tests, fuzz targets and benchmarks: a tiny bundle-aware
//! assembler over literal bytes ([`Asm`]), a deterministic PRNG ([`Rng`]) and a generator
//! of large, valid, realistically mixed form-1 code from a table of allowed encodings
//! ([`valid_code`]). Nothing here is used by the verifier itself.

use crate::form;

/// The recommended multi-byte NOPs, indexed by length - 1.
pub const NOPS: [&[u8]; 9] = [
    &[0x90],
    &[0x66, 0x90],
    &[0x0F, 0x1F, 0x00],
    &[0x0F, 0x1F, 0x40, 0x00],
    &[0x0F, 0x1F, 0x44, 0x00, 0x00],
    &[0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
    &[0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
    &[0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/// A bundle-aware byte assembler: `emit` never lets an instruction cross a bundle.
#[derive(Clone, Debug, Default)]
pub struct Asm {
    /// The code so far.
    pub code: Vec<u8>,
}

impl Asm {
    /// An empty assembler.
    pub fn new() -> Self {
        Asm::default()
    }
    /// Current offset.
    pub fn pos(&self) -> usize {
        self.code.len()
    }
    /// Appends NOPs up to offset `to`, never letting one cross a bundle boundary.
    pub fn nop_to(&mut self, to: usize) {
        while self.code.len() < to {
            let room = form::BUNDLE as usize - self.code.len() % form::BUNDLE as usize;
            let n = (to - self.code.len()).min(NOPS.len()).min(room);
            self.code.extend_from_slice(NOPS[n - 1]);
        }
    }
    /// Pads with NOPs to the next bundle boundary (nothing if already on one).
    pub fn align(&mut self) {
        let to = self.code.len().next_multiple_of(form::BUNDLE as usize);
        self.nop_to(to);
    }
    /// Appends one instruction, first padding to the next bundle if it would cross one.
    /// Returns its offset.
    pub fn emit(&mut self, bytes: &[u8]) -> usize {
        let b = form::BUNDLE as usize;
        if self.code.len() % b + bytes.len() > b {
            self.align();
        }
        self.raw(bytes)
    }
    /// Appends bytes with no padding at all (for building attacks).
    pub fn raw(&mut self, bytes: &[u8]) -> usize {
        let at = self.code.len();
        self.code.extend_from_slice(bytes);
        at
    }
    /// Appends a call-like sequence so that it ends exactly at a bundle boundary.
    pub fn emit_at_bundle_end(&mut self, bytes: &[u8]) -> usize {
        let b = form::BUNDLE as usize;
        if self.code.len() % b + bytes.len() > b {
            self.align();
        }
        let end = (self.code.len() + bytes.len()).next_multiple_of(b);
        self.nop_to(end - bytes.len());
        self.raw(bytes)
    }
    /// `call rel32` to guest address `target`, placed to end at a bundle boundary, with
    /// `base` the guest address of offset 0.
    pub fn call(&mut self, base: u64, target: u64) -> usize {
        let b = form::BUNDLE as usize;
        if self.code.len() % b + 5 > b {
            self.align();
        }
        let end = (self.code.len() + 5).next_multiple_of(b);
        let rel = target.wrapping_sub(base + end as u64) as u32;
        let mut ins = vec![0xE8];
        ins.extend_from_slice(&rel.to_le_bytes());
        self.emit_at_bundle_end(&ins)
    }
    /// P2: `andq $0x7fffffe0,(%rsp); ret`.
    pub fn p2(&mut self) -> usize {
        let mut v = form::P2_MASK_BYTES.to_vec();
        v.push(0xC3);
        self.emit(&v)
    }
    /// P1 on register number `r` (0-15, not 4): `and $-32,%eR; jmp *%rR` (or `call`,
    /// placed to end at a bundle boundary).
    pub fn p1(&mut self, r: u8, call: bool) -> usize {
        let v = p1_bytes(r, call);
        if call {
            self.emit_at_bundle_end(&v)
        } else {
            self.emit(&v)
        }
    }
    /// Pads to a bundle and appends a HLT sled of `n` bytes; returns the code.
    pub fn finish_with_sled(mut self, n: usize) -> Vec<u8> {
        self.align();
        self.code.resize(self.code.len() + n, form::HLT);
        self.code
    }
    /// Pads to a bundle and appends the minimal 32-byte HLT sled.
    pub fn finish(self) -> Vec<u8> {
        self.finish_with_sled(form::HLT_SLED_MIN as usize)
    }
}

/// The bytes of P1 on register number `r`.
pub fn p1_bytes(r: u8, call: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let lo = r & 7;
    if r >= 8 {
        v.push(0x41);
    }
    v.extend_from_slice(&[0x83, 0xE0 | lo, 0xE0]);
    if r >= 8 {
        v.push(0x41);
    }
    v.extend_from_slice(&[0xFF, if call { 0xD0 } else { 0xE0 } | lo]);
    v
}

/// A small deterministic PRNG (splitmix64), so generated inputs are reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// A general-purpose register number that is not rsp (4).
fn gpr(rng: &mut Rng) -> u8 {
    loop {
        let r = rng.below(16) as u8;
        if r != 4 {
            return r;
        }
    }
}

/// REX prefix with W and the high bits of reg (R) and rm (B).
fn rex(w: bool, reg: u8, rm: u8) -> u8 {
    0x40 | (u8::from(w) << 3) | ((reg >> 3) << 2) | (rm >> 3)
}

/// Emits one randomly chosen allowed instruction (or pseudo-instruction) from a table of
/// encodings with a mix resembling compiled C: moves, ALU, loads and stores through all
/// three memory forms, SSE arithmetic, compares and branches, calls and returns.
pub fn emit_random_instruction(a: &mut Asm, rng: &mut Rng, base: u64) {
    let (r1, r2) = (gpr(rng), gpr(rng));
    let modrm_rr = 0xC0 | ((r1 & 7) << 3) | (r2 & 7);
    let d8 = rng.byte();
    let pick = rng.below(100);
    match pick {
        // mov/ALU reg, reg (64-bit)
        0..=19 => {
            let op = [0x89, 0x8B, 0x01, 0x29, 0x21, 0x09, 0x31, 0x39, 0x85][rng.below(9) as usize];
            a.emit(&[rex(true, r1, r2), op, modrm_rr]);
        }
        // 32-bit ALU reg, reg
        20..=27 => {
            let op = [0x89, 0x01, 0x29, 0x31, 0x39][rng.below(5) as usize];
            if r1 >= 8 || r2 >= 8 {
                a.emit(&[rex(false, r1, r2), op, modrm_rr]);
            } else {
                a.emit(&[op, modrm_rr]);
            }
        }
        // M1 load/store: 67 REX.W 8b/89 modrm(mod=01, rm=base) disp8, base not esp/ebp-free
        28..=44 => {
            let b = loop {
                let b = gpr(rng);
                if b & 7 != 4 {
                    break b;
                }
            };
            let op = if rng.below(3) == 0 { 0x89 } else { 0x8B };
            a.emit(&[0x67, rex(true, r1, b), op, 0x40 | ((r1 & 7) << 3) | (b & 7), d8]);
        }
        // M1 with SIB: 67 REX.W 8b modrm(01,reg,100) sib disp8
        45..=50 => {
            let (b, x) = (gpr(rng), gpr(rng));
            let sib = ((rng.below(4) as u8) << 6) | ((x & 7) << 3) | (b & 7);
            let rx = 0x48 | ((r1 >> 3) << 2) | ((x >> 3) << 1) | (b >> 3);
            a.emit(&[0x67, rx, 0x8B, 0x44 | ((r1 & 7) << 3), sib, d8]);
        }
        // M2: disp8(%rsp) loads and stores
        51..=58 => {
            let op = if rng.below(2) == 0 { 0x89 } else { 0x8B };
            a.emit(&[rex(true, r1, 0), op, 0x44 | ((r1 & 7) << 3), 0x24, d8 & 0xF8]);
        }
        // M2: rip-relative load
        59..=61 => {
            let mut v = vec![rex(true, r1, 0), 0x8B, 0x05 | ((r1 & 7) << 3)];
            v.extend_from_slice(&(rng.below(0x1000) as u32).to_le_bytes());
            a.emit(&v);
        }
        // mov $imm32, %r32
        62..=66 => {
            let mut v = Vec::new();
            if r1 >= 8 {
                v.push(0x41);
            }
            v.push(0xB8 | (r1 & 7));
            v.extend_from_slice(&(rng.next_u64() as u32).to_le_bytes());
            a.emit(&v);
        }
        // lea disp8(%r64), %r64 (no sandboxing needed)
        67..=70 => {
            let b = loop {
                let b = gpr(rng);
                if b & 7 != 4 {
                    break b;
                }
            };
            a.emit(&[rex(true, r1, b), 0x8D, 0x40 | ((r1 & 7) << 3) | (b & 7), d8]);
        }
        // push/pop pairs
        71..=73 => {
            let p = if r1 >= 8 { vec![0x41, 0x50 | (r1 & 7)] } else { vec![0x50 | r1] };
            a.emit(&p);
            let q = if r1 >= 8 { vec![0x41, 0x58 | (r1 & 7)] } else { vec![0x58 | r1] };
            a.emit(&q);
        }
        // SSE2 scalar double arithmetic reg, reg and M1 load
        74..=79 => {
            let op = [0x58, 0x59, 0x5C, 0x5E, 0x10][rng.below(5) as usize];
            let (x1, x2) = (rng.below(8) as u8, rng.below(8) as u8);
            if rng.below(2) == 0 {
                a.emit(&[0xF2, 0x0F, op, 0xC0 | (x1 << 3) | x2]);
            } else {
                let b = loop {
                    let b = rng.below(8) as u8;
                    if b != 4 {
                        break b;
                    }
                };
                a.emit(&[0x67, 0xF2, 0x0F, op, 0x40 | (x1 << 3) | b, d8]);
            }
        }
        // shifts, imul, cmov
        80..=84 => match rng.below(3) {
            0 => {
                a.emit(&[rex(true, 0, r2), 0xC1, 0xE0 | (r2 & 7), d8 & 63]);
            }
            1 => {
                a.emit(&[rex(true, r1, r2), 0x0F, 0xAF, modrm_rr]);
            }
            _ => {
                a.emit(&[rex(true, r1, r2), 0x0F, 0x40 | (rng.below(16) as u8), modrm_rr]);
            }
        },
        // jcc rel8 back to the start of the current bundle (always a valid target)
        85..=90 => {
            let bstart = a.pos() & !(form::BUNDLE as usize - 1);
            let room = form::BUNDLE as usize - a.pos() % form::BUNDLE as usize;
            if room < 2 {
                a.align();
            }
            let bstart = if room < 2 { a.pos() } else { bstart };
            let rel = bstart as i64 - (a.pos() as i64 + 2);
            a.emit(&[0x70 | (rng.below(16) as u8), rel as i8 as u8]);
        }
        // call rel32 to the start of the code
        91..=93 => {
            a.call(base, base);
        }
        // P2 return
        94..=96 => {
            a.p2();
        }
        // P1 jmp or call through a register
        _ => {
            let r = gpr(rng);
            a.p1(r, rng.below(2) == 0);
        }
    }
}

/// `size` bytes (rounded up to a bundle, at least 64) of valid form-1 code at guest
/// address `base`, ending in a 32-byte HLT sled.
pub fn valid_code(seed: u64, size: usize, base: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut a = Asm::new();
    let body = size.max(64).next_multiple_of(32) - form::HLT_SLED_MIN as usize;
    // Each emission adds at most 31 bytes of padding and 9 of instruction.
    while a.pos() + 64 < body {
        emit_random_instruction(&mut a, &mut rng, base);
    }
    a.nop_to(body);
    a.finish()
}

/// A complete valid nexe with `code_size` bytes of generated code and a small data
/// segment, with a few function symbols.
pub fn valid_nexe(seed: u64, code_size: usize) -> Vec<u8> {
    let code = valid_code(seed, code_size, form::CODE_START);
    let len = code.len() as u64;
    let data_at = (form::CODE_START + len).next_multiple_of(form::PAGE);
    crate::writer::NexeWriter::with_code(code)
        .segment(data_at, crate::writer::RW, vec![1, 2, 3, 4], 0x2000)
        .symbol("_start", form::CODE_START, 64)
        .symbol("main", form::CODE_START + 64, len.saturating_sub(96))
        .build()
}

/// One raw ustar header block with a correct checksum, for building hostile tars that
/// no well-behaved writer would produce.
pub fn raw_header(name: &[u8], typeflag: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[148..156].copy_from_slice(b"        ");
    h[156] = typeflag;
    h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// One raw tar entry: name, typeflag, data, link target.
pub type RawEntry<'a> = (&'a [u8], u8, &'a [u8], &'a [u8]);

/// A tar from raw entries, with the end marker.
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, t, data, link) in entries {
        out.extend_from_slice(&raw_header(name, *t, data.len() as u64, link));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}
