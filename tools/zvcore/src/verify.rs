//! The verifier engine: proves that a code region is in the ZV64 form (FORM.md section 3).
//!
//! This is the trusted computing base of zv. It decodes with iced-x86 (decoder and
//! instruction-info only), checks every rule C1-C10 on every instruction, collects every
//! violation (it never stops at the first), and is the only place that can construct a
//! [`VerifiedCode`]. It never panics on any input: all slicing goes through `get`.
//!
//! The walk is linear. Because no instruction may cross a bundle boundary (C2), a linear
//! decode that resynchronises at the next bundle boundary after any failure decodes
//! exactly the instructions that "decoding from every bundle boundary" would.
//!
//! Whole bundles of the common instruction forms go through the bundle automaton first
//! ([`crate::automaton`], one table load a byte), single instructions of those forms
//! through a table-driven decoder ([`crate::fastpath`]); both only ever skip iced for
//! instructions iced would accept without a word. [`Decoding::IcedOnly`] turns them off,
//! and tests and fuzzers require both ways to give the same verdict, violations,
//! instruction starts and second halves.
//!
//! Memory is bounded by the code, whatever the code (a guest's Jail chooses it): bitmaps
//! of one bit per code byte, and no list of branches (see [`Targets`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use iced_x86::{
    Code, CpuidFeature, Decoder, DecoderOptions, FlowControl, InstructionInfoFactory, InstructionInfoOptions, Mnemonic,
    OpAccess, OpKind, Register,
};

use crate::automaton;
use crate::fastpath::{self, Fast};
use crate::form::{self, Rule};
use crate::nexe::{LayoutViolation, Nexe, NexeError};

/// How the verifier decodes. The verdict, the violations and the instruction starts are
/// the same either way; `Fast` is the default everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Decoding {
    /// The bundle automaton and the table-driven decoder for common forms, iced-x86 for
    /// everything else.
    #[default]
    Fast,
    /// iced-x86 for every instruction: the reference the fast path is checked against.
    IcedOnly,
}

/// One broken rule at one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule id, verbatim from FORM.md.
    pub rule: Rule,
    /// Guest address of the instruction (or segment, for layout rules).
    pub addr: u64,
    /// The instruction's bytes (empty for layout rules).
    pub bytes: Vec<u8>,
    /// Short instruction text (the mnemonic; renderers may disassemble `bytes` fully).
    pub instruction: String,
    /// One-line reason.
    pub reason: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {:#x}", self.rule, self.addr)?;
        if !self.bytes.is_empty() {
            write!(f, " [{}]", hex(&self.bytes))?;
        }
        if !self.instruction.is_empty() {
            write!(f, " {}", self.instruction)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Lowercase hex bytes separated by spaces.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// What kind of region is being verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// The nexe's code segment: C1's HLT sled is required.
    CodeSegment,
    /// A heap region offered to the Jail call (RUNTIME.md section 3); C7's "inside the
    /// code being verified" means inside this region.
    Jail,
}

/// Options of one verification.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Violations kept in the result; the rest are counted in
    /// [`Rejected::violation_count`]. Bounds memory on hostile input.
    pub max_violations: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_violations: 100_000 }
    }
}

/// Code that passed every rule. Only this module can construct it, so a function that
/// takes `VerifiedCode` cannot be handed unverified bytes. The bytes are either borrowed
/// from the buffer the caller verified, or a private copy (for regions verified in
/// memory the guest may write, such as a Jail region). A borrow keeps Rust code from
/// changing the buffer, not another process: callers must verify private memory (zvrun
/// reads the file into a `Vec`), never a shared or file-backed mapping.
#[derive(Debug)]
pub struct VerifiedCode<'a> {
    base: u64,
    kind: RegionKind,
    bytes: std::borrow::Cow<'a, [u8]>,
}

impl VerifiedCode<'_> {
    /// Guest address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }
    /// The verified bytes, exactly as checked.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Whether the region is empty (never true for verified code).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// The same verdict over a private copy of the bytes, for a caller whose memory may
    /// change after verification.
    pub fn into_private(self) -> VerifiedCode<'static> {
        VerifiedCode { base: self.base, kind: self.kind, bytes: std::borrow::Cow::Owned(self.bytes.into_owned()) }
    }
}

/// A rejected file or region: every violation found (up to the limit) and their count.
#[derive(Clone, Debug, Default)]
pub struct Rejected {
    /// Bytes of code that were examined.
    pub code_bytes: u64,
    /// The violations, sorted by address.
    pub violations: Vec<Violation>,
    /// Total number of violations, including those beyond `Options::max_violations`.
    pub violation_count: usize,
}

/// A nexe whose code verified, with the parsed file.
#[derive(Debug)]
pub struct VerifiedNexe<'a> {
    /// The parsed file.
    pub nexe: Nexe<'a>,
    /// The verified code segment (borrowed from the file's bytes).
    pub code: VerifiedCode<'a>,
}

/// Verifies a whole nexe file: structure (ELF), layout (C1, C10) and code (C1-C9).
pub fn verify_nexe(data: &[u8], opts: Options) -> Result<VerifiedNexe<'_>, Rejected> {
    verify_nexe_parallel(data, opts, 1)
}

/// [`verify_nexe`] with the code decoded by up to `threads` threads when it is at least
/// [`PARALLEL_MIN`] bytes: it is split at bundle boundaries, where decoding state resets,
/// and C7 is checked once over the merged results, so the verdict and the violations are
/// exactly those of one thread.
pub fn verify_nexe_parallel(data: &[u8], opts: Options, threads: usize) -> Result<VerifiedNexe<'_>, Rejected> {
    match Nexe::parse(data) {
        Ok(n) => verify_parsed(n, opts, threads, None),
        Err(e) => Err(reject_malformed(&e)),
    }
}

/// Layout and code rules of a parsed nexe (the body of [`verify_nexe_parallel`]).
fn verify_parsed<'a>(
    nexe: Nexe<'a>,
    opts: Options,
    threads: usize,
    stop: Option<&AtomicBool>,
) -> Result<VerifiedNexe<'a>, Rejected> {
    let mut out = Sink::new(opts);
    for LayoutViolation { rule, addr, message } in &nexe.layout_violations {
        out.push(*rule, *addr, &[], "", message.clone());
    }
    let Some(seg) = nexe.code_segment() else {
        return Err(out.finish(0));
    };
    let bytes = nexe.segment_bytes(&seg);
    check_code(seg.vaddr, bytes, RegionKind::CodeSegment, &mut out, threads, Decoding::Fast, stop);
    if out.count > 0 {
        return Err(out.finish(bytes.len() as u64));
    }
    let code = VerifiedCode { base: seg.vaddr, kind: RegionKind::CodeSegment, bytes: bytes.into() };
    Ok(VerifiedNexe { nexe, code })
}

/// The identity of this verifier build: a digest of zvcore's sources, its version and
/// the decoder's version (computed by `build.rs`). Part of every [`CodeRecord`].
pub const VERIFIER_ID: &str = env!("ZV_VERIFIER_ID");

/// One accepted code region as a [`VerdictCache`] stores it: a record of this verifier's
/// identity ([`VERIFIER_ID`]), the region's kind, base address and length, and its bytes
/// (the trailing HLT sled by its length, which determines the same bytes). A cache finds
/// a stored record by its [`CodeKey`] and then compares it byte for byte
/// ([`CodeRecord::matches`]): a hit means the stored bytes are exactly these, so the
/// cache needs no cryptographic digest (hashing was most of a cached start-up) and no
/// collision can pass one region off as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeRecord<'a> {
    base: u64,
    kind: RegionKind,
    code: &'a [u8],
    /// `code` without its trailing HLT bytes.
    body: usize,
}

/// The first bytes of every record (a format change changes them).
const RECORD_MAGIC: &[u8; 8] = b"zvvc\x001\x00\x00";

impl<'a> CodeRecord<'a> {
    /// The record of `code` verified as `kind` at guest address `base`.
    pub fn new(base: u64, code: &'a [u8], kind: RegionKind) -> CodeRecord<'a> {
        CodeRecord { base, kind, code, body: code.len() - trailing_hlt(code) }
    }

    /// The record's header: the magic, [`VERIFIER_ID`] (with its length), the kind, the
    /// base, the code's length and the body's length, little-endian.
    pub fn header(&self) -> Vec<u8> {
        let id = VERIFIER_ID.as_bytes();
        let mut h = Vec::with_capacity(RECORD_MAGIC.len() + 8 + id.len() + 25);
        h.extend_from_slice(RECORD_MAGIC);
        h.extend_from_slice(&(id.len() as u64).to_le_bytes());
        h.extend_from_slice(id);
        h.push(match self.kind {
            RegionKind::CodeSegment => 1,
            RegionKind::Jail => 2,
        });
        h.extend_from_slice(&self.base.to_le_bytes());
        h.extend_from_slice(&(self.code.len() as u64).to_le_bytes());
        h.extend_from_slice(&(self.body as u64).to_le_bytes());
        h
    }

    /// The bytes stored after the header: the code without its trailing HLT sled.
    pub fn body(&self) -> &'a [u8] {
        self.code.get(..self.body).unwrap_or(&[])
    }

    /// The stored record's length in bytes (header and body).
    pub fn stored_len(&self) -> u64 {
        (RECORD_MAGIC.len() + 8 + VERIFIER_ID.len() + 25 + self.body) as u64
    }

    /// The name to store and find the record by: a 128-bit digest of the header and the
    /// body. Not cryptographic (two regions may share a key; the byte comparison tells
    /// them apart): a few microseconds for a 64 KiB code segment.
    pub fn key(&self) -> CodeKey {
        let mut d = Digest::new();
        d.update(&self.header());
        d.update(self.body());
        CodeKey(d.finish())
    }

    /// Whether `stored` yields exactly this record (header and body) and then ends. Reads
    /// through a fixed buffer; a read error is a mismatch.
    pub fn matches(&self, stored: &mut dyn std::io::Read) -> bool {
        const CHUNK: usize = 16 * 1024;
        let mut buf = [0u8; CHUNK];
        let header = self.header();
        for part in [header.as_slice(), self.body()].into_iter().flat_map(|s| s.chunks(CHUNK)) {
            if stored.read_exact(&mut buf[..part.len()]).is_err() || !same_bytes(&buf[..part.len()], part) {
                return false;
            }
        }
        loop {
            match stored.read(&mut buf[..1]) {
                Ok(0) => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => return false,
            }
        }
    }
}

/// Whether `a` and `b` hold the same bytes, compared eight at a time: slice equality
/// calls the C library's `memcmp`, and musl's (zvrun's static build) compares one byte
/// per step, ~25 us for a 40 KiB record.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8], i: usize| u64::from_ne_bytes(c[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let (mut x, mut y) = (a.chunks_exact(64), b.chunks_exact(64));
    for (p, q) in (&mut x).zip(&mut y) {
        if (0..8).fold(0, |d, i| d | (word(p, i) ^ word(q, i))) != 0 {
            return false;
        }
    }
    x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

/// The index a [`VerdictCache`] files a [`CodeRecord`] under ([`CodeRecord::key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeKey([u8; 16]);

impl CodeKey {
    /// The key as 32 lowercase hex digits (a file name).
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(32);
        for b in self.0 {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        s
    }
}

/// A fast non-cryptographic 128-bit digest (four multiply-xor lanes over 32-byte blocks,
/// then a final mix): the index of [`CodeKey`], never a proof of anything.
struct Digest {
    lanes: [u64; 4],
    tail: Vec<u8>,
    len: u64,
}

impl Digest {
    const K: [u64; 4] = [0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 0x85EB_CA77_C2B2_AE63];

    fn new() -> Digest {
        Digest { lanes: Digest::K, tail: Vec::new(), len: 0 }
    }

    fn block(&mut self, b: &[u8]) {
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            let w = b.get(i * 8..i * 8 + 8).map_or(0, |c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
            *lane = (*lane ^ w).wrapping_mul(Digest::K[i] | 1).rotate_left(29);
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.tail.is_empty() {
            let take = (32 - self.tail.len()).min(data.len());
            self.tail.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.tail.len() < 32 {
                return;
            }
            let t = std::mem::take(&mut self.tail);
            self.block(&t);
        }
        let mut blocks = data.chunks_exact(32);
        for b in &mut blocks {
            self.block(b);
        }
        self.tail.extend_from_slice(blocks.remainder());
    }

    fn finish(mut self) -> [u8; 16] {
        let mut last = std::mem::take(&mut self.tail);
        last.resize(32, 0);
        self.block(&last);
        let mix = |mut x: u64| {
            x ^= x >> 33;
            x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
            x ^= x >> 33;
            x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
            x ^ (x >> 33)
        };
        let [a, b, c, d] = self.lanes;
        let lo = mix(a ^ c.rotate_left(17) ^ self.len);
        let hi = mix(b ^ d.rotate_left(41) ^ lo);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&mix(lo ^ hi).to_le_bytes());
        out[8..].copy_from_slice(&hi.to_le_bytes());
        out
    }
}

/// A store of code regions this verifier accepted before (the idea of Native Client's
/// validation cache). It only ever holds acceptances: a hit stands for "these exact bytes,
/// at this address, passed every rule of this exact verifier". The store is trusted: it
/// must be writable only by the user running the runtime (zvrun's implementation checks
/// that). Rejections are never cached, so diagnostics always come from a full pass.
pub trait VerdictCache {
    /// Whether `record` was stored as accepted: a stored record equal to it byte for byte.
    fn contains(&self, record: &CodeRecord) -> bool;
    /// Stores `record` as accepted. Failures are the store's business (a miss later).
    fn insert(&self, record: &CodeRecord);
}

/// Whether [`verify_nexe_cached`] found the code in the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Accepted by an earlier full verification of the same bytes; not decoded now.
    Hit,
    /// Verified now (and recorded when accepted).
    Miss,
}

/// [`verify_nexe_parallel`] with a verdict cache: the file's structure and layout (ELF,
/// C1, C10) are checked every time; the code's rules are skipped when the cache holds the
/// code's [`CodeKey`], and an acceptance is recorded. The result is the one a full
/// verification gives: the key covers every input `check_code` depends on.
pub fn verify_nexe_cached<'a>(
    data: &'a [u8],
    opts: Options,
    threads: usize,
    cache: &dyn VerdictCache,
) -> Result<(VerifiedNexe<'a>, CacheUse), Rejected> {
    verify_nexe_cached_until(data, opts, threads, cache, None)
}

/// [`verify_nexe_cached`] that gives up soon after it sees `stop` set (as
/// [`verify_region_until`]): the file is then rejected, never accepted or recorded.
/// zvrun verifies at load this way, so that a session's timeout covers verification.
pub fn verify_nexe_cached_until<'a>(
    data: &'a [u8],
    opts: Options,
    threads: usize,
    cache: &dyn VerdictCache,
    stop: Option<&AtomicBool>,
) -> Result<(VerifiedNexe<'a>, CacheUse), Rejected> {
    let nexe = Nexe::parse(data).map_err(|e| reject_malformed(&e))?;
    // Only a file with a clean layout and a code segment can be accepted at all.
    let code = nexe.code_segment().filter(|_| nexe.layout_violations.is_empty()).map(|seg| {
        let bytes = nexe.segment_bytes(&seg);
        (seg.vaddr, bytes, CodeRecord::new(seg.vaddr, bytes, RegionKind::CodeSegment))
    });
    match code {
        Some((base, bytes, record)) if cache.contains(&record) => {
            let code = VerifiedCode { base, kind: RegionKind::CodeSegment, bytes: bytes.into() };
            Ok((VerifiedNexe { nexe, code }, CacheUse::Hit))
        }
        _ => {
            let v = verify_parsed(nexe, opts, threads, stop)?;
            if let Some((_, _, record)) = code {
                cache.insert(&record);
            }
            Ok((v, CacheUse::Miss))
        }
    }
}

/// The number of HLT bytes `code` ends with (eight at a time: code segments end in up to
/// 64 KiB of them).
fn trailing_hlt(code: &[u8]) -> usize {
    const EIGHT: u64 = u64::from_le_bytes([form::HLT; 8]);
    let mut n = 0;
    let mut chunks = code.rchunks_exact(8);
    for c in &mut chunks {
        if u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) != EIGHT {
            return n + c.iter().rev().take_while(|&&b| b == form::HLT).count();
        }
        n += 8;
    }
    n + chunks.remainder().iter().rev().take_while(|&&b| b == form::HLT).count()
}

/// The rejection of a file that is not a well-formed nexe.
pub fn reject_malformed(e: &NexeError) -> Rejected {
    Rejected {
        code_bytes: 0,
        violations: vec![Violation {
            rule: Rule::Elf,
            addr: e.offset.unwrap_or(0),
            bytes: Vec::new(),
            instruction: String::new(),
            reason: e.to_string(),
        }],
        violation_count: 1,
    }
}

/// Verifies a code region at guest address `base`.
pub fn verify_region(
    base: u64,
    code: &[u8],
    kind: RegionKind,
    opts: Options,
) -> Result<VerifiedCode<'static>, Rejected> {
    verify_region_parallel(base, code, kind, opts, 1)
}

/// [`verify_region`] on up to `threads` threads (see [`verify_nexe_parallel`]).
pub fn verify_region_parallel(
    base: u64,
    code: &[u8],
    kind: RegionKind,
    opts: Options,
    threads: usize,
) -> Result<VerifiedCode<'static>, Rejected> {
    verify_region_with(base, code, kind, opts, threads, Decoding::Fast)
}

/// [`verify_region_parallel`] with the decoding chosen: tests, fuzzers and benchmarks
/// compare [`Decoding::Fast`] with [`Decoding::IcedOnly`].
pub fn verify_region_with(
    base: u64,
    code: &[u8],
    kind: RegionKind,
    opts: Options,
    threads: usize,
    decoding: Decoding,
) -> Result<VerifiedCode<'static>, Rejected> {
    // A private copy: the caller's memory may change after this returns.
    verify_region_in_place(base, code, kind, opts, threads, decoding).map(VerifiedCode::into_private)
}

/// [`verify_region`] that gives up soon after it sees `stop` set (the decoder looks at it
/// every 4096 instructions): the region is then rejected (a `C1` violation saying so),
/// never accepted. zvrun verifies Jail regions this way, so that a session's timeout ends it
/// even while it verifies a large region. The verdict, when not stopped, is
/// [`verify_region`]'s.
pub fn verify_region_until(
    base: u64,
    code: &[u8],
    kind: RegionKind,
    opts: Options,
    stop: &AtomicBool,
) -> Result<VerifiedCode<'static>, Rejected> {
    // A private copy, as verify_region_with makes.
    region_in_place(base, code, kind, opts, 1, Decoding::Fast, Some(stop)).map(VerifiedCode::into_private)
}

/// [`verify_region_with`] without the private copy: the result borrows `code`, which no
/// Rust code can change while it is borrowed. As with [`verify_nexe_parallel`], the
/// caller must verify private memory, never a shared or file-backed mapping (zvld
/// verifies the code it built in its own buffer, then writes that buffer).
pub fn verify_region_in_place(
    base: u64,
    code: &[u8],
    kind: RegionKind,
    opts: Options,
    threads: usize,
    decoding: Decoding,
) -> Result<VerifiedCode<'_>, Rejected> {
    region_in_place(base, code, kind, opts, threads, decoding, None)
}

/// The region rules on `code` where it lies, stopping when `stop` is set (see
/// [`verify_region_until`]); the body of the region functions.
fn region_in_place<'a>(
    base: u64,
    code: &'a [u8],
    kind: RegionKind,
    opts: Options,
    threads: usize,
    decoding: Decoding,
    stop: Option<&AtomicBool>,
) -> Result<VerifiedCode<'a>, Rejected> {
    let mut out = Sink::new(opts);
    check_code(base, code, kind, &mut out, threads, decoding, stop);
    if out.count > 0 {
        return Err(out.finish(code.len() as u64));
    }
    Ok(VerifiedCode { base, kind, bytes: std::borrow::Cow::Borrowed(code) })
}

/// [`verify_nexe_parallel`] for a file whose code the caller has verified already (zvld
/// verifies the code it built while it builds the rest of the file): the file's structure
/// and layout (ELF, C1, C10) are checked every time, and the code's rules are skipped
/// only when the file's code segment is exactly `known`: the same base address and the
/// same bytes (compared byte for byte), verified as a code segment. Anything else is
/// verified in full. The result is the one a full verification gives, as with
/// [`verify_nexe_cached`], whose hit this is without a digest.
pub fn verify_nexe_known<'a>(
    data: &'a [u8],
    opts: Options,
    threads: usize,
    known: &VerifiedCode<'_>,
) -> Result<(VerifiedNexe<'a>, CacheUse), Rejected> {
    let nexe = Nexe::parse(data).map_err(|e| reject_malformed(&e))?;
    // Only a file with a clean layout and a code segment can be accepted at all.
    let same = nexe.code_segment().filter(|_| nexe.layout_violations.is_empty()).and_then(|seg| {
        let bytes = nexe.segment_bytes(&seg);
        let same = known.kind == RegionKind::CodeSegment && known.base == seg.vaddr && *known.bytes == *bytes;
        same.then_some((seg.vaddr, bytes))
    });
    match same {
        Some((base, bytes)) => {
            let code = VerifiedCode { base, kind: RegionKind::CodeSegment, bytes: bytes.into() };
            Ok((VerifiedNexe { nexe, code }, CacheUse::Hit))
        }
        None => Ok((verify_parsed(nexe, opts, threads, None)?, CacheUse::Miss)),
    }
}

struct Sink {
    opts: Options,
    count: usize,
    v: Vec<Violation>,
}

impl Sink {
    fn new(opts: Options) -> Self {
        Sink { opts, count: 0, v: Vec::new() }
    }
    fn push(&mut self, rule: Rule, addr: u64, bytes: &[u8], insn: &str, reason: String) {
        // A layout problem found twice (by the nexe's layout check and again by the code
        // walk, such as a code size that is not a multiple of 32) is one violation.
        if bytes.is_empty()
            && self.v.iter().any(|v| v.rule == rule && v.addr == addr && v.bytes.is_empty() && v.reason == reason)
        {
            return;
        }
        self.count += 1;
        if self.v.len() < self.opts.max_violations {
            self.v.push(Violation { rule, addr, bytes: bytes.to_vec(), instruction: insn.to_string(), reason });
        }
    }
    fn absorb(&mut self, other: Sink) {
        self.count += other.count;
        let room = self.opts.max_violations.saturating_sub(self.v.len());
        self.v.extend(other.v.into_iter().take(room));
    }
    fn finish(mut self, code_bytes: u64) -> Rejected {
        self.v.sort_by_key(|v| (v.addr, v.rule));
        Rejected { code_bytes, violations: self.v, violation_count: self.count }
    }
}

// ---- the per-Code classification table, built once from iced's metadata ----

const DENY: u8 = 1;
const C5_EXEMPT: u8 = 2;
const IS_NOP: u8 = 4;
const BT_REG: u8 = 8;
const MOFFS: u8 = 16;
/// iced's instruction info says this form writes the stack pointer implicitly.
const IMPLICIT_RSP: u8 = 32;

/// CPUID features whose instructions Form 1 allows (FORM.md C3), subject to the deny
/// list below.
const ALLOWED_FEATURES: &[CpuidFeature] = &[
    CpuidFeature::INTEL8086,
    CpuidFeature::INTEL186,
    CpuidFeature::INTEL286,
    CpuidFeature::INTEL386,
    CpuidFeature::INTEL486,
    CpuidFeature::X64,
    CpuidFeature::CMOV,
    CpuidFeature::CX8,
    CpuidFeature::CMPXCHG16B,
    CpuidFeature::FPU,
    CpuidFeature::FPU287,
    CpuidFeature::FPU387,
    CpuidFeature::MMX,
    CpuidFeature::SSE,
    CpuidFeature::SSE2,
    CpuidFeature::SSE3,
    CpuidFeature::SSSE3,
    CpuidFeature::SSE4_1,
    CpuidFeature::SSE4_2,
    CpuidFeature::AVX,
    CpuidFeature::AVX2,
    CpuidFeature::FMA,
    CpuidFeature::F16C,
    CpuidFeature::BMI1,
    CpuidFeature::BMI2,
    CpuidFeature::LZCNT,
    CpuidFeature::POPCNT,
    CpuidFeature::ADX,
    CpuidFeature::MOVBE,
    CpuidFeature::AES,
    CpuidFeature::PCLMULQDQ,
    CpuidFeature::SHA,
    CpuidFeature::MULTIBYTENOP,
    CpuidFeature::PAUSE,
    CpuidFeature::PREFETCHW,
];

/// Instructions of allowed feature sets that Form 1 still rejects: system and
/// privileged instructions, I/O, interrupts, far control transfer, segment loads,
/// flags save/restore, `enter`/`leave`, and the non-deterministic ones.
const DENIED_MNEMONICS: &[Mnemonic] = &[
    Mnemonic::Syscall,
    Mnemonic::Sysret,
    Mnemonic::Sysretq,
    Mnemonic::Sysenter,
    Mnemonic::Sysexit,
    Mnemonic::Sysexitq,
    Mnemonic::Int,
    Mnemonic::Int1,
    Mnemonic::Into,
    Mnemonic::Iret,
    Mnemonic::Iretd,
    Mnemonic::Iretq,
    Mnemonic::Retf,
    Mnemonic::In,
    Mnemonic::Out,
    Mnemonic::Insb,
    Mnemonic::Insw,
    Mnemonic::Insd,
    Mnemonic::Outsb,
    Mnemonic::Outsw,
    Mnemonic::Outsd,
    Mnemonic::Cli,
    Mnemonic::Sti,
    Mnemonic::Clts,
    Mnemonic::Lgdt,
    Mnemonic::Lidt,
    Mnemonic::Lldt,
    Mnemonic::Ltr,
    Mnemonic::Lmsw,
    Mnemonic::Smsw,
    Mnemonic::Sgdt,
    Mnemonic::Sidt,
    Mnemonic::Sldt,
    Mnemonic::Str,
    Mnemonic::Lar,
    Mnemonic::Lsl,
    Mnemonic::Verr,
    Mnemonic::Verw,
    Mnemonic::Arpl,
    Mnemonic::Invd,
    Mnemonic::Wbinvd,
    Mnemonic::Invlpg,
    Mnemonic::Rdmsr,
    Mnemonic::Wrmsr,
    Mnemonic::Rsm,
    Mnemonic::Swapgs,
    Mnemonic::Lds,
    Mnemonic::Les,
    Mnemonic::Lfs,
    Mnemonic::Lgs,
    Mnemonic::Lss,
    Mnemonic::Pushf,
    Mnemonic::Pushfd,
    Mnemonic::Pushfq,
    Mnemonic::Popf,
    Mnemonic::Popfd,
    Mnemonic::Popfq,
    Mnemonic::Enter,
    Mnemonic::Leave,
    Mnemonic::Ud0,
    Mnemonic::Ud1,
    Mnemonic::Cpuid,
    Mnemonic::Rdtsc,
    Mnemonic::Rdtscp,
    Mnemonic::Rdpmc,
    Mnemonic::Bound,
    Mnemonic::Salc,
    Mnemonic::Loadall,
    Mnemonic::Hlt, // re-allowed below: listed so the intent is explicit in review
];

/// Mnemonics whose forms write the stack pointer without naming it as an operand.
/// Everything else can only write it through an explicit register operand; the test
/// `implicit_stack_writers_are_all_listed` cross-checks this list against iced's
/// instruction info on millions of decoded instructions.
const IMPLICIT_RSP_MNEMONICS: &[Mnemonic] = &[
    Mnemonic::Push,
    Mnemonic::Pop,
    Mnemonic::Call,
    Mnemonic::Ret,
    Mnemonic::Retf,
    Mnemonic::Enter,
    Mnemonic::Leave,
    Mnemonic::Pushf,
    Mnemonic::Pushfd,
    Mnemonic::Pushfq,
    Mnemonic::Popf,
    Mnemonic::Popfd,
    Mnemonic::Popfq,
    Mnemonic::Pusha,
    Mnemonic::Pushad,
    Mnemonic::Popa,
    Mnemonic::Popad,
    Mnemonic::Int,
    Mnemonic::Int1,
    Mnemonic::Int3,
    Mnemonic::Into,
    Mnemonic::Iret,
    Mnemonic::Iretd,
    Mnemonic::Iretq,
    Mnemonic::Lss,
    Mnemonic::Syscall,
    Mnemonic::Sysret,
    Mnemonic::Sysretq,
    Mnemonic::Sysenter,
    Mnemonic::Sysexit,
    Mnemonic::Sysexitq,
    Mnemonic::Uiret,
    Mnemonic::Rsm,
];

/// The MPX opcodes 0f 1a and 0f 1b, which iced decodes as reserved NOPs unless asked for
/// MPX. FORM.md C3 rejects MPX, and "`nop` in all forms" does not cover them.
fn is_mpx(code: Code) -> bool {
    matches!(
        code,
        Code::Reservednop_rm16_r16_0F1A
            | Code::Reservednop_rm32_r32_0F1A
            | Code::Reservednop_rm64_r64_0F1A
            | Code::Reservednop_rm16_r16_0F1B
            | Code::Reservednop_rm32_r32_0F1B
            | Code::Reservednop_rm64_r64_0F1B
    )
}

fn classify(code: Code) -> u8 {
    let m = code.mnemonic();
    let mut f = 0;
    let features_ok =
        !code.cpuid_features().is_empty() && code.cpuid_features().iter().all(|c| ALLOWED_FEATURES.contains(c));
    let denied = (DENIED_MNEMONICS.contains(&m) && m != Mnemonic::Hlt)
        || code.is_jmp_far()
        || code.is_call_far()
        || code.is_jmp_far_indirect()
        || code.is_call_far_indirect()
        || code == Code::INVALID;
    if !features_ok || denied || is_mpx(code) {
        f |= DENY;
    }
    if IMPLICIT_RSP_MNEMONICS.contains(&m) {
        f |= IMPLICIT_RSP;
    }
    if matches!(m, Mnemonic::Nop) {
        f |= IS_NOP | C5_EXEMPT;
    }
    if matches!(
        m,
        Mnemonic::Lea
            | Mnemonic::Prefetchnta
            | Mnemonic::Prefetcht0
            | Mnemonic::Prefetcht1
            | Mnemonic::Prefetcht2
            | Mnemonic::Prefetchw
            | Mnemonic::Prefetch
    ) {
        f |= C5_EXEMPT;
    }
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
    ) {
        f |= BT_REG;
    }
    if matches!(
        code,
        Code::Mov_AL_moffs8
            | Code::Mov_AX_moffs16
            | Code::Mov_EAX_moffs32
            | Code::Mov_RAX_moffs64
            | Code::Mov_moffs8_AL
            | Code::Mov_moffs16_AX
            | Code::Mov_moffs32_EAX
            | Code::Mov_moffs64_RAX
    ) {
        f |= MOFFS;
    }
    f
}

fn table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| Code::values().map(classify).collect())
}

/// Register is a segment, control, debug, test, bound, mask or tile register (C3).
const REG_SYSTEM: u8 = 1;
/// Register is rsp, esp, sp or spl (C6).
const REG_SP: u8 = 2;

fn register_flags(r: Register) -> u8 {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        Register::values()
            .map(|r| {
                let sys = r.is_segment_register()
                    || r.is_cr()
                    || r.is_dr()
                    || r.is_tr()
                    || r.is_bnd()
                    || r.is_k()
                    || r.is_tmm();
                (u8::from(sys) * REG_SYSTEM) | (u8::from(is_stack_pointer(r)) * REG_SP)
            })
            .collect()
    });
    // An unknown register is treated as a system register: rejected, never ignored.
    t.get(r as usize).copied().unwrap_or(REG_SYSTEM)
}

fn code_flags(code: Code) -> u8 {
    table().get(code as usize).copied().unwrap_or(DENY)
}

/// Whether Form 1's allow-list (C3, by exact `Code`) admits this instruction form,
/// before operand checks. Exposed for the rewriter's and the generators' use.
pub fn code_is_allowed(code: Code) -> bool {
    code_flags(code) & DENY == 0
}

// ---- the walk ----

struct Bits(Vec<u64>);
impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// A direct branch: (offset, target, instruction length).
type Branch = (usize, u64, u8);

/// What a scan does with the direct branches it finds (C7). Branches are not kept: a
/// region of two-byte jumps would otherwise cost many times its own size (a guest's Jail
/// of such code could exhaust the host). The first pass marks each in-region target in
/// one bit per code byte and checks each out-of-region target at once; only when some
/// target fails does a second pass find the failing branches, in order, for the report.
enum Targets<'a> {
    /// First pass: in-region targets set in `bits` (shared by the scans, hence atomic);
    /// `outside_bad` counts out-of-region targets that fail C7.
    Mark { bits: &'a [AtomicU64], outside_bad: usize },
    /// Second pass: the branches whose target fails (in-region targets failing are the
    /// bits of `bad`), at most `cap` of them kept, `count` counting them all.
    Find { bad: &'a Bits, found: Vec<Branch>, count: usize, cap: usize },
}

impl Targets<'_> {
    /// A direct branch at offset `pos` of `len` bytes, to `target`, in the region
    /// [base, base + size).
    #[inline]
    fn branch(&mut self, base: u64, size: usize, pos: usize, target: u64, len: u8) {
        let inside = target.wrapping_sub(base) < size as u64;
        match self {
            Targets::Mark { bits, outside_bad } => {
                if inside {
                    let off = (target - base) as usize;
                    if let Some(w) = bits.get(off / 64) {
                        w.fetch_or(1 << (off % 64), Ordering::Relaxed);
                    }
                } else if !outside_target_ok(target) {
                    *outside_bad += 1;
                }
            }
            Targets::Find { bad, found, count, cap } => {
                let fails = if inside { bad.get((target - base) as usize) } else { !outside_target_ok(target) };
                if fails {
                    *count += 1;
                    if found.len() < *cap {
                        found.push((pos, target, len));
                    }
                }
            }
        }
    }
}

/// C7 for a target outside the region: a bundle start below CODE_LIMIT.
fn outside_target_ok(target: u64) -> bool {
    target.is_multiple_of(form::BUNDLE) && target < form::CODE_LIMIT
}

/// One scan's range of a region's bitmap: bit `i` of the region is bit `i - from` of
/// `w`, where `from` is a multiple of 64 (a range owns whole words). Bits outside the
/// range are ignored.
struct BitsMut<'a> {
    w: &'a mut [u64],
    from: usize,
}
impl BitsMut<'_> {
    /// Sets the bits of `mask` for the 32 positions from `p` (a multiple of 32).
    fn set_bundle(&mut self, p: usize, mask: u32) {
        debug_assert!(self.from.is_multiple_of(64) && p.is_multiple_of(32));
        if let Some(w) = p.checked_sub(self.from).and_then(|j| self.w.get_mut(j / 64)) {
            *w |= u64::from(mask) << (p % 64);
        }
    }
    fn set(&mut self, i: usize) {
        if let Some(w) = i.checked_sub(self.from).and_then(|j| self.w.get_mut(j / 64)) {
            *w |= 1 << (i % 64);
        }
    }
}

/// The instruction before the current one in the same bundle, as far as pseudo-
/// instructions care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    None,
    /// The exact P1 mask `and $-32,%eR` on this 64-bit register.
    P1Mask(Register),
    /// The exact P2 mask `andq $0x7fffffe0,(%rsp)`.
    P2Mask,
    Other,
}

#[derive(Default, Clone, Copy)]
struct Prefixes {
    seg: u8,
    seg_non_cs: bool,
    p66: bool,
    p67: bool,
    /// An f2 or f3 prefix (rep, bnd, xacquire, xrelease or a mandatory prefix).
    rep: bool,
    /// How many f2 prefixes (on a branch: `bnd`).
    f2: u8,
    /// How many f3 prefixes (on a direct branch: ignored by the CPU, and allowed by C4).
    f3: u8,
    legacy: u8,
    count: usize,
}

fn scan_prefixes(raw: &[u8]) -> Prefixes {
    let mut p = Prefixes::default();
    for &b in raw {
        match b {
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 => {
                // Remember the first prefix that is not CS, so the message names it.
                if !p.seg_non_cs {
                    p.seg = b;
                }
                p.seg_non_cs |= b != 0x2E;
                p.legacy += 1;
            }
            0x66 => {
                p.p66 = true;
                p.legacy += 1;
            }
            0x67 => {
                p.p67 = true;
                p.legacy += 1;
            }
            0xF0 => p.legacy += 1,
            0xF2 | 0xF3 => {
                p.rep = true;
                p.f2 += u8::from(b == 0xF2);
                p.f3 += u8::from(b == 0xF3);
                p.legacy += 1;
            }
            0x40..=0x4F => {}
            _ => break,
        }
        p.count += 1;
    }
    p
}

/// C3 for an instruction with an f2 or f3 prefix byte: Hardware Lock Elision (TSX) is
/// rejected: xacquire/xrelease, or f2/f3 on any instruction that can elide a lock
/// (lock-prefixed, or xchg/mov to memory), whatever order the prefixes come in. Out of
/// line: few instructions have such a byte, and `scan` runs for every one. A lock-prefixed
/// instruction or an `xchg` with memory can elide with either byte (xacquire f2, xrelease
/// f3); a `mov` to memory only with xrelease (f3): f2 on it is no HLE hint (the CPU
/// ignores it, as iced's decoding says), so it is not rejected.
#[cold]
#[inline(never)]
fn check_hle(ins: &iced_x86::Instruction, addr: u64, raw: &[u8], has_f3: bool, out: &mut Sink) {
    let to_memory = ins.op0_kind() == OpKind::Memory;
    let lock_elidable = ins.has_lock_prefix()
        || (ins.mnemonic() == Mnemonic::Xchg && to_memory)
        || (ins.mnemonic() == Mnemonic::Mov && to_memory && has_f3);
    if ins.has_xacquire_prefix() || ins.has_xrelease_prefix() || lock_elidable {
        out.push(
            Rule::C3,
            addr,
            raw,
            &mnemonic_text(ins.mnemonic()),
            "xacquire/xrelease prefix: Hardware Lock Elision is TSX, which form 1 rejects".into(),
        );
    }
}

fn writes(a: OpAccess) -> bool {
    matches!(a, OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
}

fn is_stack_pointer(r: Register) -> bool {
    matches!(r, Register::RSP | Register::ESP | Register::SP | Register::SPL)
}

fn is_rsp_family(r: Register) -> bool {
    matches!(r, Register::RSP | Register::SP | Register::SPL)
}

fn mnemonic_text(m: Mnemonic) -> String {
    crate::names::mnemonic(m).to_string()
}

/// Regions at least this large are split across threads by the `_parallel` functions.
pub const PARALLEL_MIN: usize = 256 * 1024;

/// Ranges per thread a parallel verification splits its region into (each at least
/// `PARALLEL_MIN / 4`): the threads take them in turn, which evens out ranges that cost
/// more than others.
const RANGES_PER_THREAD: usize = 4;

fn check_code(
    base: u64,
    code: &[u8],
    kind: RegionKind,
    out: &mut Sink,
    threads: usize,
    decoding: Decoding,
    stop: Option<&AtomicBool>,
) {
    let len = code.len();
    if !base.is_multiple_of(form::BUNDLE) {
        // Bundles are counted from the region's start, so it must be a bundle start.
        out.push(Rule::C1, base, &[], "", format!("region base {base:#x} is not bundle-aligned"));
        return;
    }
    if len == 0 {
        out.push(Rule::C1, base, &[], "", "empty code region".into());
        return;
    }
    // All executable guest memory lies in [CODE_START, CODE_LIMIT) (C1; the Jail call
    // refuses regions outside it too). Beyond CODE_LIMIT nothing is decoded: addresses
    // there could wrap the address space.
    let end = base.checked_add(len as u64);
    if base < form::CODE_START || end.is_none_or(|e| e > form::CODE_LIMIT) {
        out.push(
            Rule::C1,
            base,
            &[],
            "",
            format!(
                "region [{base:#x}, +{len:#x}) does not lie inside [CODE_START, CODE_LIMIT) = [{:#x}, {:#x})",
                form::CODE_START,
                form::CODE_LIMIT
            ),
        );
        if end.is_none_or(|e| e > form::CODE_LIMIT) {
            return;
        }
    }
    if !(len as u64).is_multiple_of(form::BUNDLE) {
        out.push(Rule::C1, base, &[], "", format!("code size {len:#x} is not a positive multiple of 32"));
    }
    if kind == RegionKind::CodeSegment {
        let sled = trailing_hlt(code);
        if (sled as u64) < form::HLT_SLED_MIN {
            out.push(
                Rule::C1,
                base + len.saturating_sub(form::HLT_SLED_MIN as usize) as u64,
                &[],
                "",
                format!("code does not end in a HLT sled of at least 32 bytes (found {sled})"),
            );
        }
    }

    let opts = out.opts;
    let threads = threads.max(1);
    // Chunks end on 64-byte boundaries: bundle boundaries (where decoding state resets,
    // C2 and C9) that are also bitmap-word boundaries. Small regions are not split.
    // No chunk is smaller than PARALLEL_MIN / 4: more threads than that would cost more
    // to start than they save (and a huge thread count would take seconds to spawn).
    let chunk = if threads == 1 || len < PARALLEL_MIN {
        len
    } else {
        len.div_ceil(threads.saturating_mul(RANGES_PER_THREAD)).max(PARALLEL_MIN / 4).next_multiple_of(64)
    };
    // One bitmap of instruction starts and one of second halves for the whole region;
    // each scan sets bits only for its own range, whose words it owns (a range starts on
    // a multiple of 64), so the scans write into disjoint slices and nothing is merged.
    // Branch targets may lie in any range: their bitmap is shared and atomic.
    let mut starts = Bits::new(len);
    let mut second = Bits::new(len);
    let targets: Vec<AtomicU64> = (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
    let ranges: Vec<(usize, usize)> =
        (0..len.div_ceil(chunk)).map(|k| (k * chunk, ((k + 1) * chunk).min(len))).collect();
    let words = chunk / 64;
    // One job per range: its words of the two bitmaps (all of them for a single range,
    // whose length need not be a multiple of 64).
    let jobs: Vec<ScanJob<'_>> = if ranges.len() == 1 {
        vec![(&mut starts.0[..], &mut second.0[..], (0, len))]
    } else {
        starts
            .0
            .chunks_mut(words)
            .zip(second.0.chunks_mut(words))
            .zip(ranges.iter().copied())
            .map(|((st, se), r)| (st, se, r))
            .collect()
    };
    let scans: Vec<(usize, Sink)> = in_parallel(jobs, threads, |(st, se, (s, e))| {
        let mut sink = Sink::new(opts);
        let (st, se) = (BitsMut { w: st, from: s }, BitsMut { w: se, from: s });
        let mut t = Targets::Mark { bits: &targets, outside_bad: 0 };
        scan(base, code, s, e, &mut sink, st, se, &mut t, decoding, stop);
        let Targets::Mark { outside_bad, .. } = t else { unreachable!("the first pass marks") };
        (outside_bad, sink)
    });
    // Stopped (the scans may have ended early): rejected without a word on the code.
    let stopped = || stop.is_some_and(|f| f.load(Ordering::SeqCst));
    let say_stopped = |out: &mut Sink| {
        out.push(Rule::C1, base, &[], "", "verification stopped before its end (the caller's time ran out)".into());
    };
    if stopped() {
        say_stopped(out);
        return;
    }
    let outside_bad: usize = scans.iter().map(|(n, _)| n).sum();
    // C7 for in-region targets, a word at a time: a target must be an instruction start
    // and not the second half of a pseudo-instruction, or a bundle start below
    // CODE_LIMIT (C7 allows those anywhere; in valid code a bundle start is always an
    // instruction start, so this only keeps a C7 off a branch to a bundle that fails C2).
    let bad = Bits(
        targets
            .into_iter()
            .zip(starts.0.iter().zip(&second.0))
            .enumerate()
            .map(|(i, (t, (&st, &se)))| t.into_inner() & (!st | se) & !bundle_starts(base, i))
            .collect(),
    );
    let bad_targets: usize = bad.0.iter().map(|w| w.count_ones() as usize).sum();
    if outside_bad == 0 && bad_targets == 0 {
        scans.into_iter().for_each(|(_, sink)| out.absorb(sink));
        return;
    }
    // Some target fails: a second pass finds the failing branches, in order. Its own
    // findings on C2-C9 are the first pass's again and are dropped.
    let cap = opts.max_violations;
    let find = |s: usize, e: usize| {
        let mut t = Targets::Find { bad: &bad, found: Vec::new(), count: 0, cap };
        let none = || BitsMut { w: &mut [], from: s };
        scan(base, code, s, e, &mut Sink::new(Options { max_violations: 0 }), none(), none(), &mut t, decoding, stop);
        let Targets::Find { found, count, .. } = t else { unreachable!("the second pass finds") };
        (found, count)
    };
    let finds: Vec<(Vec<Branch>, usize)> = in_parallel(ranges, threads, |(s, e)| find(s, e));
    // Stopped during the second pass: rejected without a word on the code, as above.
    if stopped() {
        say_stopped(out);
        return;
    }
    scans.into_iter().for_each(|(_, sink)| out.absorb(sink));
    let found: usize = finds.iter().map(|(_, count)| count).sum();
    // Every failing target is the target of at least one branch the second pass meets
    // again, and every failing out-of-region branch is met again: fewer means the passes
    // disagree, and the region is rejected (fail closed) rather than trusted.
    if found < outside_bad + bad_targets {
        out.push(
            Rule::C7,
            base,
            &[],
            "",
            format!(
                "internal error: {} failing branch targets found, {found} failing branches found again",
                outside_bad + bad_targets
            ),
        );
    }
    let unlisted: usize = finds.iter().map(|(f, count)| count - f.len()).sum();
    check_branches(base, code, &starts, &second, finds.iter().flat_map(|(f, _)| f), out);
    out.count += unlisted;
}

/// A first-pass scan's words of the start and second-half bitmaps, and its range.
type ScanJob<'a> = (&'a mut [u64], &'a mut [u64], (usize, usize));

/// Runs `f` on each job and returns the results in order of the jobs. `workers`
/// threads (the caller's and `workers - 1` scoped ones) take the jobs one at a time, in
/// order, until none is left, so that a range that costs more than the others (code the
/// fast paths do not claim) does not leave the other threads idle. A thread that cannot
/// be started (a process or memory limit) only means fewer workers: the results are the
/// same.
fn in_parallel<J: Send, T: Send>(jobs: Vec<J>, workers: usize, f: impl Fn(J) -> T + Sync) -> Vec<T> {
    if jobs.len() <= 1 || workers <= 1 {
        return jobs.into_iter().map(f).collect();
    }
    let n = jobs.len();
    let slots: Vec<std::sync::Mutex<(Option<J>, Option<T>)>> =
        jobs.into_iter().map(|j| std::sync::Mutex::new((Some(j), None))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= n {
            break;
        }
        let lock = |k: usize| slots[k].lock().unwrap_or_else(|e| e.into_inner());
        let job = lock(k).0.take();
        if let Some(job) = job {
            let r = f(job);
            lock(k).1 = Some(r);
        }
    };
    std::thread::scope(|sc| {
        let handles: Vec<_> =
            (1..workers.min(n)).filter_map(|_| std::thread::Builder::new().spawn_scoped(sc, work).ok()).collect();
        work();
        for h in handles {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()).1.expect("every job runs once"))
        .collect()
}

/// Decodes and checks [start, end) of `code` (both bundle boundaries): C2-C6, C8, C9;
/// marks instruction starts and second halves of pseudo-instructions in `starts` and
/// `second` (the range's words of the region's bitmaps), and hands every direct branch
/// to `targets` (C7).
#[allow(clippy::too_many_arguments)]
fn scan(
    base: u64,
    code: &[u8],
    start: usize,
    end: usize,
    out: &mut Sink,
    mut starts: BitsMut<'_>,
    mut second: BitsMut<'_>,
    targets: &mut Targets<'_>,
    decoding: Decoding,
    stop: Option<&AtomicBool>,
) {
    let len = code.len();
    let mut steps = 0u32;
    let mut stopped = false;
    let mut decoder = Decoder::with_ip(64, code, base, DecoderOptions::NONE);
    let mut ins = iced_x86::Instruction::default();
    let mut info = InstructionInfoFactory::new();
    let mut prev = Prev::None;
    // A bundle the automaton read and refused (the second of a pair).
    let mut refused = usize::MAX;
    if start > 0 && !resync(&mut decoder, base, start) {
        return;
    }

    let b = form::BUNDLE as usize;
    while decoder.can_decode() && decoder.position() < end {
        // A caller's stop flag, looked at every 4096 steps (check_code then rejects).
        steps = steps.wrapping_add(1);
        if steps.is_multiple_of(4096) && stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
            break;
        }
        let pos = decoder.position();
        // The bundle automaton (crate::automaton): whole bundles of fast forms, marked
        // and skipped; the first bundle it does not claim is checked below.
        if decoding == Decoding::Fast && pos.is_multiple_of(b) && pos != refused {
            let mut p = pos;
            loop {
                // Two bundles at a time where there are two, else one.
                let (first, next) = match code.get(p..p + 2 * b).filter(|_| p + 2 * b <= end) {
                    Some(w) => automaton::run2(w.try_into().expect("64 bytes")),
                    None => match code.get(p..p + b).filter(|_| p + b <= end) {
                        Some(w) => (automaton::run(w.try_into().expect("32 bytes")), None),
                        None => (None, None),
                    },
                };
                let Some(bundle) = first else { break };
                if !apply_bundle(base, p, code, bundle, &mut starts, &mut second, targets) {
                    break;
                }
                p += b;
                let Some(bundle) = next else {
                    refused = p; // read already: straight to the table decoder and iced
                    break;
                };
                if !apply_bundle(base, p, code, bundle, &mut starts, &mut second, targets) {
                    break;
                }
                p += b;
                steps = steps.wrapping_add(1);
                if steps.is_multiple_of(256) && stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
                    stopped = true;
                    break;
                }
            }
            if stopped {
                break;
            }
            if p != pos {
                prev = Prev::None;
                if !resync(&mut decoder, base, p) {
                    break;
                }
                continue;
            }
        }
        // Fast path for whole bundles of HLT (the sled and the padding to 64 KiB): each
        // byte is a one-byte `hlt`, allowed, with no operands, so it is exactly what
        // decoding them one by one would conclude.
        if pos.is_multiple_of(b) && code.get(pos..pos + b).is_some_and(|w| w.iter().all(|&x| x == form::HLT)) {
            for i in pos..pos + b {
                starts.set(i);
            }
            prev = Prev::None;
            if !resync(&mut decoder, base, pos + b) {
                break;
            }
            continue;
        }
        // The fast path (crate::fastpath): a run of instructions it proves admissible is
        // marked and skipped; the first one it does not claim is decoded by iced below.
        if decoding == Decoding::Fast {
            let mut p = pos;
            while p < end {
                let bundle_end = (p | (b - 1)) + 1;
                let Some(f) = fastpath::decode(code, p, bundle_end) else { break };
                starts.set(p);
                let len = match f {
                    Fast::Plain(len) => usize::from(len),
                    Fast::Branch { len, rel } => {
                        let next = base.wrapping_add((p + usize::from(len)) as u64);
                        targets.branch(base, code.len(), p, next.wrapping_add(rel as u64), len);
                        usize::from(len)
                    }
                };
                p += len;
                prev = if p == bundle_end { Prev::None } else { Prev::Other };
                if p == bundle_end {
                    // The next bundle: the automaton above (so a run here never passes a
                    // bundle, and the outer loop's look at the stop flag comes soon).
                    break;
                }
            }
            if p != pos {
                if !resync(&mut decoder, base, p) {
                    break;
                }
                continue;
            }
        }
        decoder.decode_out(&mut ins);
        let addr = base + pos as u64;
        let bundle_end = (pos | (form::BUNDLE as usize - 1)) + 1;
        let ilen = ins.len();
        let raw = code.get(pos..(pos + ilen.max(1)).min(len)).unwrap_or(&[]);
        if ins.is_invalid() {
            let shown = code.get(pos..(pos + 15).min(bundle_end).min(len)).unwrap_or(&[]);
            out.push(Rule::C2, addr, shown, "(bad)", "bytes do not decode to a valid x86-64 instruction".into());
            if !resync(&mut decoder, base, bundle_end) {
                break;
            }
            prev = Prev::None;
            continue;
        }
        let mtext = || mnemonic_text(ins.mnemonic());
        if pos + ilen > bundle_end {
            out.push(
                Rule::C2,
                addr,
                raw,
                &mtext(),
                format!("instruction crosses the bundle boundary at {:#x}", base + bundle_end as u64),
            );
            if !resync(&mut decoder, base, bundle_end) {
                break;
            }
            prev = Prev::None;
            continue;
        }
        starts.set(pos);
        let flags = code_flags(ins.code());
        let pfx = scan_prefixes(raw);
        let fc = ins.flow_control();
        let mut this = Prev::Other;

        // C3: allow-list on the exact Code, then register classes. A rejected form is
        // reported once, under C3, except `leave` and `enter`, which FORM.md names under
        // C6 as well (they write rsp in 64-bit form) and lists among the C6 attacks.
        if flags & DENY != 0 {
            let why = if is_mpx(ins.code()) {
                "MPX (0f 1a/0f 1b: bndmov, bndcl, bndcu, bndcn, bndmk, bndldx, bndstx) is rejected by C3; \
                 decoded without MPX these are reserved NOPs, which it does not make them allowed"
                    .to_string()
            } else {
                let feats: Vec<&str> = ins.cpuid_features().iter().map(|&f| crate::names::cpuid_feature(f)).collect();
                format!("{} is not on the form-1 allow-list (CPUID features: {})", mtext(), feats.join(", "))
            };
            out.push(Rule::C3, addr, raw, &mtext(), why);
            if matches!(ins.mnemonic(), Mnemonic::Leave | Mnemonic::Enter) {
                out.push(Rule::C6, addr, raw, &mtext(), format!("{} writes %rsp (64-bit)", mtext()));
            }
            prev = if pos + ilen == bundle_end { Prev::None } else { Prev::Other };
            continue;
        }
        // HLE: an f2/f3 prefix on an instruction that can elide a lock (lock-prefixed, or
        // xchg/mov to memory), whatever order the prefixes come in. xacquire and xrelease
        // are f2 and f3, so only instructions with one of those bytes are asked (this runs
        // for every instruction).
        if pfx.rep {
            check_hle(&ins, addr, raw, pfx.f3 > 0, out);
        }
        if flags & BT_REG != 0 && ins.op0_kind() == OpKind::Memory {
            out.push(
                Rule::C3,
                addr,
                raw,
                &mtext(),
                "bit test with a register bit offset on memory reaches +-2^63 bits".into(),
            );
        }

        // C4: prefixes.
        let is_branch = matches!(
            fc,
            FlowControl::UnconditionalBranch
                | FlowControl::ConditionalBranch
                | FlowControl::Call
                | FlowControl::IndirectBranch
                | FlowControl::IndirectCall
                | FlowControl::Return
        );
        if pfx.seg != 0 && (pfx.seg_non_cs || flags & IS_NOP == 0) {
            out.push(
                Rule::C4,
                addr,
                raw,
                &mtext(),
                format!("segment-override prefix {:#04x} (only 0x2e on a nop is allowed)", pfx.seg),
            );
        } else if is_branch {
            // FORM.md names the `bnd` prefix (f2 on a branch) under C3, with MPX; C4 names
            // branch hints, `notrack` (segment prefixes, above), 0x66 and 0x67. f3 (`rep`)
            // on a branch is in neither list: the CPU ignores it (`rep ret` was AMD's
            // advice for years), so a direct branch may carry it; P1's branch and P2's
            // `ret` must be exact anyway (C9).
            if pfx.f2 != 0 {
                out.push(Rule::C3, addr, raw, &mtext(), "bnd prefix (f2) on a branch: MPX, which C3 rejects".into());
            }
            if pfx.legacy > pfx.f2 + pfx.f3 {
                out.push(
                    Rule::C4,
                    addr,
                    raw,
                    &mtext(),
                    "prefix on a branch (no 0x66, 0x67, lock, hints or notrack on branches)".into(),
                );
            }
        }

        // C3 register classes and C5 memory operands, in one pass over the operands.
        let mut names_sp = false;
        for i in 0..ins.op_count() {
            match ins.op_kind(i) {
                OpKind::Register => {
                    let r = ins.op_register(i);
                    let rf = register_flags(r);
                    names_sp |= rf & REG_SP != 0;
                    if rf & REG_SYSTEM != 0 {
                        out.push(
                            Rule::C3,
                            addr,
                            raw,
                            &mtext(),
                            format!("accesses the system register {}", crate::names::register(r)),
                        );
                    }
                }
                OpKind::Memory => {
                    if flags & C5_EXEMPT != 0 {
                        continue;
                    }
                    let b = ins.memory_base();
                    let x = ins.memory_index();
                    if pfx.p67 {
                        // M1: 32-bit address size; iced must agree that the registers are 32-bit.
                        let base_ok = b == Register::None || b == Register::EIP || b.is_gpr32();
                        // xlat's index is %al.
                        let index_ok =
                            x == Register::None || x == Register::AL || x.is_gpr32() || x.is_xmm() || x.is_ymm();
                        if !(base_ok && index_ok) {
                            out.push(Rule::C5, addr, raw, &mtext(), "inconsistent 32-bit memory operand".into());
                        }
                    } else if flags & MOFFS != 0 {
                        out.push(
                            Rule::C5,
                            addr,
                            raw,
                            &mtext(),
                            "64-bit moffs address; moffs operands are allowed only as M1 (0x67)".into(),
                        );
                    } else if x == Register::None && matches!(b, Register::RSP | Register::RIP | Register::None) {
                        // M2 (rsp/rip + disp32) or M3 (absolute disp32).
                    } else {
                        let why = if x.is_xmm() || x.is_ymm() || x.is_zmm() {
                            "VSIB operand without 0x67; gathers are allowed only as M1".to_string()
                        } else {
                            format!(
                                "memory operand with 64-bit {} is not M1 (needs 0x67), M2 (rsp/rip, no index) or M3 (absolute)",
                                operand_regs(b, x)
                            )
                        };
                        out.push(Rule::C5, addr, raw, &mtext(), why);
                    }
                }
                OpKind::MemorySegRSI | OpKind::MemorySegRDI | OpKind::MemoryESRDI => {
                    out.push(
                        Rule::C5,
                        addr,
                        raw,
                        &mtext(),
                        "implicit memory operand through rsi/rdi without 0x67".into(),
                    );
                }
                OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI => {
                    out.push(Rule::C5, addr, raw, &mtext(), "16-bit implicit memory operand".into());
                }
                _ => {}
            }
        }

        // C6: writes to the stack pointer, from iced's full list of written registers.
        let m = ins.mnemonic();
        let stack_op = matches!(m, Mnemonic::Push | Mnemonic::Pop | Mnemonic::Call | Mnemonic::Ret);
        if stack_op {
            if m == Mnemonic::Pop && ins.op0_kind() == OpKind::Register && is_rsp_family(ins.op0_register()) {
                out.push(Rule::C6, addr, raw, &mtext(), "pop into the stack pointer".into());
            }
        } else if names_sp || flags & IMPLICIT_RSP != 0 {
            // Only forms that name the stack pointer or write it implicitly (per iced's
            // per-Code table above) can write it; ask iced for the exact accesses.
            let inf = info.info_options(&ins, InstructionInfoOptions::NO_MEMORY_USAGE);
            let writes_rsp = inf.used_registers().iter().any(|u| writes(u.access()) && is_stack_pointer(u.register()));
            if writes_rsp {
                // iced reports a write of %esp as a write of %rsp (it zero-extends), so the
                // explicit operands it writes decide: a 64-, 16- or 8-bit stack-pointer
                // destination is the forbidden kind, a 32-bit one the allowed kind, none at
                // all an implicit write (and so is any write by an implicit-writer form).
                // Operands that are only read (`movzwl %sp,%esp`) do not count.
                let regs: Vec<Register> = (0..ins.op_count())
                    .filter(|&i| ins.op_kind(i) == OpKind::Register && writes(inf.op_access(i)))
                    .map(|i| ins.op_register(i))
                    .collect();
                let why = if let Some(r) = regs.iter().find(|r| is_rsp_family(**r)) {
                    Some(format!(
                        "writes %{} (only 32-bit writes to %esp zero-extend into range)",
                        crate::names::register(*r)
                    ))
                } else if regs.contains(&Register::ESP) && flags & IMPLICIT_RSP == 0 {
                    None
                } else {
                    Some("writes the stack pointer implicitly".to_string())
                };
                if let Some(why) = why {
                    out.push(Rule::C6, addr, raw, &mtext(), why);
                }
            }
        }

        // C7, C8, C9: control flow.
        match fc {
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch | FlowControl::Call => {
                if ins.op0_kind() == OpKind::NearBranch64 {
                    targets.branch(base, len, pos, ins.near_branch_target(), ilen as u8);
                } else {
                    out.push(Rule::C3, addr, raw, &mtext(), "branch that is not a near relative branch".into());
                }
                if fc == FlowControl::Call && !(pos + ilen).is_multiple_of(form::BUNDLE as usize) {
                    out.push(Rule::C8, addr, raw, &mtext(), call_misaligned(base, pos + ilen));
                }
            }
            FlowControl::IndirectBranch | FlowControl::IndirectCall => {
                if ins.op0_kind() != OpKind::Register {
                    out.push(
                        Rule::C9,
                        addr,
                        raw,
                        &mtext(),
                        "indirect branch through memory; load the target into a register and use P1".into(),
                    );
                } else {
                    let r = ins.op0_register();
                    let exact = raw.len() == 2 || (raw.len() == 3 && (0x40..=0x4F).contains(&raw[0]));
                    if r == Register::RSP {
                        out.push(Rule::C9, addr, raw, &mtext(), "P1 on %rsp is not allowed".into());
                    } else if !exact {
                        out.push(Rule::C9, addr, raw, &mtext(), "P1's branch may carry at most a REX prefix".into());
                    } else if prev != Prev::P1Mask(r) {
                        let why = match prev {
                            Prev::P1Mask(other) => format!(
                                "P1 register mismatch: masked %{} but branches through %{}",
                                crate::names::register(other),
                                crate::names::register(r)
                            ),
                            _ => format!(
                                "unmasked indirect branch; P1 needs `and $-32,%e..` on %{} immediately before it in the same bundle",
                                crate::names::register(r)
                            ),
                        };
                        out.push(Rule::C9, addr, raw, &mtext(), why);
                    } else {
                        second.set(pos);
                    }
                }
                if fc == FlowControl::IndirectCall && !(pos + ilen).is_multiple_of(form::BUNDLE as usize) {
                    out.push(Rule::C8, addr, raw, &mtext(), call_misaligned(base, pos + ilen));
                }
            }
            FlowControl::Return => {
                if ins.code() != Code::Retnq || raw != [0xC3] {
                    out.push(
                        Rule::C9,
                        addr,
                        raw,
                        &mtext(),
                        "only a bare `ret` (c3) as the end of P2 may return".into(),
                    );
                } else if prev != Prev::P2Mask {
                    out.push(
                        Rule::C9,
                        addr,
                        raw,
                        &mtext(),
                        "bare ret; P2 needs `andq $0x7fffffe0,(%rsp)` immediately before it in the same bundle".into(),
                    );
                } else {
                    second.set(pos);
                }
            }
            _ => {}
        }

        // Remember this instruction if it is the first half of a pseudo-instruction.
        if raw == form::P2_MASK_BYTES {
            this = Prev::P2Mask;
        } else if ins.code() == Code::And_rm32_imm8 && ins.op0_kind() == OpKind::Register {
            let exact = match raw {
                [0x83, m, form::P1_MASK_IMM8] => (0xE0..=0xE7).contains(m),
                [0x41, 0x83, m, form::P1_MASK_IMM8] => (0xE0..=0xE7).contains(m),
                _ => false,
            };
            if exact {
                this = Prev::P1Mask(ins.op0_register().full_register());
            }
        }
        prev = if pos + ilen == bundle_end { Prev::None } else { this };
    }
}

/// C7: every direct branch lands on a valid target.
fn check_branches<'b>(
    base: u64,
    code: &[u8],
    starts: &Bits,
    second: &Bits,
    branches: impl Iterator<Item = &'b Branch>,
    out: &mut Sink,
) {
    let len = code.len();
    let end = base + len as u64;
    for &(pos, target, ilen) in branches {
        let inside = target >= base && target < end;
        let bundle_start = target % form::BUNDLE == 0 && target < form::CODE_LIMIT;
        let ok = if inside {
            let off = (target - base) as usize;
            (starts.get(off) && !second.get(off)) || bundle_start
        } else {
            bundle_start
        };
        if !ok {
            let raw = code.get(pos..pos + ilen as usize).unwrap_or(&[]);
            let why = if inside && second.get((target - base) as usize) {
                format!("branch target {target:#x} is the second instruction of a pseudo-instruction")
            } else if inside {
                format!("branch target {target:#x} is not an instruction start")
            } else {
                format!("branch target {target:#x} is outside the code and not a bundle start below CODE_LIMIT")
            };
            let mut d = Decoder::with_ip(64, raw, base + pos as u64, DecoderOptions::NONE);
            let m = mnemonic_text(d.decode().mnemonic());
            out.push(Rule::C7, base + pos as u64, raw, &m, why);
        }
    }
}

/// The bits of word `i` of a region's target bitmap (bit k: offset 64 i + k from
/// `base`) at bundle starts below CODE_LIMIT, which C7 accepts as targets wherever they
/// are.
fn bundle_starts(base: u64, i: usize) -> u64 {
    let first = base.wrapping_add(64 * i as u64);
    let r = (form::BUNDLE - first % form::BUNDLE) % form::BUNDLE;
    let mut mask = 0u64;
    for k in [r, r + form::BUNDLE] {
        if k < 64 && first.checked_add(k).is_some_and(|a| a < form::CODE_LIMIT) {
            mask |= 1 << k;
        }
    }
    mask
}

fn call_misaligned(base: u64, end: usize) -> String {
    format!("call ends at {:#x}, not at a bundle boundary", base + end as u64)
}

fn operand_regs(b: Register, x: Register) -> String {
    let n = |r: Register| format!("%{}", crate::names::register(r));
    match (b, x) {
        (Register::None, x) => format!("index {}", n(x)),
        (b, Register::None) => format!("base {}", n(b)),
        (b, x) => format!("base {} and index {}", n(b), n(x)),
    }
}

/// The instruction starts and pseudo-instruction second halves one scan of all of `code`
/// marks (one thread), for comparing the two decodings (tests and the fuzz oracle).
pub(crate) fn scan_bitmaps(base: u64, code: &[u8], decoding: Decoding) -> (Vec<u64>, Vec<u64>) {
    let mut out = Sink::new(Options::default());
    let (mut st, mut se) = (Bits::new(code.len()), Bits::new(code.len()));
    let targets: Vec<AtomicU64> = (0..code.len().div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
    scan(
        base,
        code,
        0,
        code.len(),
        &mut out,
        BitsMut { w: &mut st.0, from: 0 },
        BitsMut { w: &mut se.0, from: 0 },
        &mut Targets::Mark { bits: &targets, outside_bad: 0 },
        decoding,
        None,
    );
    (st.0, se.0)
}

/// Records a bundle the automaton read, at `p`: its instruction starts, its
/// pseudo-instructions' second halves and its direct branches. `false` (and nothing
/// recorded) when a call in it does not end the bundle: C8, which the full check reports.
#[allow(clippy::too_many_arguments)]
#[inline]
fn apply_bundle(
    base: u64,
    p: usize,
    code: &[u8],
    bundle: automaton::Bundle,
    starts: &mut BitsMut<'_>,
    second: &mut BitsMut<'_>,
    targets: &mut Targets<'_>,
) -> bool {
    let w = &code[p..p + form::BUNDLE as usize];
    // The instruction that ended at byte k started at the last start at or before k.
    let insn = |k: usize| &w[31 - (bundle.starts & (u32::MAX >> (31 - k))).leading_zeros() as usize..=k];
    let mut early = bundle.actions & !(1 << 31);
    while early != 0 {
        let k = early.trailing_zeros() as usize;
        early &= early - 1;
        if matches!(automaton::ended(insn(k)), automaton::Ended::Call | automaton::Ended::P1 { call: true }) {
            return false;
        }
    }
    starts.set_bundle(p, bundle.starts);
    let mut acts = bundle.actions;
    while acts != 0 {
        let k = acts.trailing_zeros() as usize;
        acts &= acts - 1;
        let i = insn(k);
        let (first, end) = (p + k + 1 - i.len(), p + k + 1);
        let next = base + end as u64;
        match automaton::ended(i) {
            automaton::Ended::Branch { rel32: false } => {
                let rel = i64::from(w[k] as i8);
                targets.branch(base, code.len(), first, next.wrapping_add(rel as u64), i.len() as u8);
            }
            automaton::Ended::Branch { rel32: true } | automaton::Ended::Call => {
                let rel = i64::from(i32::from_le_bytes([w[k - 3], w[k - 2], w[k - 1], w[k]]));
                targets.branch(base, code.len(), first, next.wrapping_add(rel as u64), i.len() as u8);
            }
            automaton::Ended::P1 { .. } | automaton::Ended::P2 => second.set(first),
        }
    }
    true
}

fn resync(decoder: &mut Decoder<'_>, base: u64, to: usize) -> bool {
    if decoder.set_position(to).is_err() {
        return false;
    }
    decoder.set_ip(base + to as u64);
    true
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
