//! An independent test oracle for the verifier, shared by the fuzz targets (`fuzz/`) and
//! the integration tests (`tests/integration/`).
//!
//! It re-checks code that the verifier accepted with a deliberately simple, separate
//! procedure: a plain linear decode with iced-x86 from the region's first byte, which
//! for accepted code must meet every instruction the verifier decoded (C2: no instruction
//! crosses a bundle, so a linear walk and a walk from every bundle start coincide). On
//! that walk it asserts a few facts no accepted region may break, checked by mnemonic and
//! not by the verifier's per-`Code` table, so a bug in the table cannot hide itself:
//!
//! - every byte decodes to a valid instruction (C2);
//! - no instruction crosses a bundle boundary (C2);
//! - no instruction is one of [`NEVER_ALLOWED`] (C3): no `syscall`, `sysenter`, `int n`,
//!   `cpuid`, `rdtsc` and a few more that are never in Form 1.
//!
//! [`exercise_nexe`] and [`exercise_region`] are the bodies of the two fuzz targets; the
//! corpus replay test calls the same functions, so fuzzing and `cargo test` make exactly
//! the same calls on every corpus file.
//!
//! The oracle is not used by the verifier itself and is not part of the security
//! boundary; it exists to catch the boundary accepting what it must not.

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic};

use crate::form;
use crate::verify::{Options, RegionKind, Rejected, VerifiedCode};

/// Mnemonics that no Form-1 region may ever contain (FORM.md C3), whatever their
/// operands or prefixes. The first five are the ones the fuzzing brief names; the rest
/// are other system, time and randomness instructions FORM.md rejects by name.
pub const NEVER_ALLOWED: &[Mnemonic] = &[
    Mnemonic::Syscall,
    Mnemonic::Sysenter,
    Mnemonic::Int,
    Mnemonic::Cpuid,
    Mnemonic::Rdtsc,
    Mnemonic::Rdtscp,
    Mnemonic::Rdpmc,
    Mnemonic::Rdrand,
    Mnemonic::Rdseed,
    Mnemonic::Rdpid,
    Mnemonic::Int1,
    Mnemonic::Into,
    Mnemonic::Iret,
    Mnemonic::Iretd,
    Mnemonic::Iretq,
    Mnemonic::Sysret,
    Mnemonic::Sysretq,
    Mnemonic::Sysexit,
    Mnemonic::Sysexitq,
    Mnemonic::Swapgs,
    Mnemonic::Wrfsbase,
    Mnemonic::Wrgsbase,
    Mnemonic::Rdfsbase,
    Mnemonic::Rdgsbase,
    Mnemonic::Wrpkru,
    Mnemonic::Rdpkru,
    Mnemonic::Xgetbv,
    Mnemonic::In,
    Mnemonic::Out,
];

/// One fact the oracle found broken in a region the verifier accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OracleFailure {
    /// Guest address of the offending instruction.
    pub addr: u64,
    /// Its bytes (at most 15).
    pub bytes: Vec<u8>,
    /// What is wrong, in one line.
    pub what: String,
}

impl std::fmt::Display for OracleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oracle: at {:#x} [{}]: {}", self.addr, crate::verify::hex(&self.bytes), self.what)
    }
}

/// Decodes `code` at guest address `base` linearly and returns the first fact broken
/// that no verified region may break (see the module documentation), or `None` when the
/// region passes. Meant for code the verifier accepted; never panics on any input.
pub fn check_accepted_code(base: u64, code: &[u8]) -> Option<OracleFailure> {
    let bundle = form::BUNDLE as usize;
    let mut decoder = Decoder::with_ip(64, code, base, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    while decoder.can_decode() {
        let pos = decoder.position();
        decoder.decode_out(&mut ins);
        let len = ins.len().max(1);
        let bytes = code.get(pos..pos.saturating_add(len).min(code.len())).unwrap_or(&[]).to_vec();
        let addr = base.wrapping_add(pos as u64);
        if ins.is_invalid() {
            return Some(OracleFailure { addr, bytes, what: "bytes do not decode to a valid instruction".into() });
        }
        if pos / bundle != (pos + len - 1) / bundle {
            return Some(OracleFailure { addr, bytes, what: "instruction crosses a bundle boundary".into() });
        }
        if NEVER_ALLOWED.contains(&ins.mnemonic()) {
            return Some(OracleFailure {
                addr,
                bytes,
                what: format!("never-allowed instruction {:?}", ins.mnemonic()),
            });
        }
    }
    None
}

/// Checks a verification result against the oracle: when `result` is `Ok`, the verified
/// bytes must equal `code`, start at `base`, and pass [`check_accepted_code`]. A
/// rejection always passes (the oracle only checks that nothing bad is accepted).
pub fn check_result(base: u64, code: &[u8], result: &Result<VerifiedCode, Rejected>) -> Result<(), OracleFailure> {
    let Ok(v) = result else {
        return Ok(());
    };
    if v.base() != base || v.bytes() != code {
        return Err(OracleFailure {
            addr: v.base(),
            bytes: Vec::new(),
            what: "the verified code is not the code that was checked".into(),
        });
    }
    match check_accepted_code(base, code) {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// Like [`check_result`], but panics with the failure and the region's hex when the
/// oracle does not hold: for fuzz targets and tests.
pub fn assert_result(base: u64, code: &[u8], result: &Result<VerifiedCode, Rejected>) {
    if let Err(f) = check_result(base, code, result) {
        panic!("verifier accepted a region the oracle rejects: {f}\nregion at {base:#x}: {}", crate::verify::hex(code));
    }
}

/// The body of the `nexe` fuzz target, shared with the corpus replay test so both make
/// exactly the same calls: parses `data` as a nexe and, if it parses, reads its symbols,
/// sections and `.debug_line`; then verifies it as a whole file. When the verifier
/// accepts, asserts that the file has no layout violations, that its code lies at
/// CODE_START, and that the code passes [`check_accepted_code`]. Panics only when one of
/// those assertions fails (or when the code under test panics).
pub fn exercise_nexe(data: &[u8]) {
    if let Ok(n) = crate::nexe::Nexe::parse(data) {
        let _ = n.symbols();
        let _ = n.sections();
        let _ = n.section_data(".debug_line");
    }
    if let Ok(v) = crate::verify::verify_nexe(data, crate::verify::Options::default()) {
        assert!(
            v.nexe.layout_violations.is_empty(),
            "verifier accepted a nexe with layout violations: {:?}",
            v.nexe.layout_violations
        );
        assert_eq!(v.code.base(), form::CODE_START, "verifier accepted code that is not at CODE_START");
        if let Some(f) = check_accepted_code(v.code.base(), v.code.bytes()) {
            panic!("verifier accepted a nexe the oracle rejects: {f}");
        }
    }
}

/// The body of the `verify` fuzz target, shared with the corpus replay test: verifies
/// `data` at CODE_START as a code segment and as a Jail region, and once more as a code
/// segment after padding it with HLT to a bundle boundary and appending the 32-byte HLT
/// sled (so that fuzzed code is accepted often enough for the oracle to matter). Every
/// result goes through [`assert_result`].
pub fn exercise_region(data: &[u8]) {
    use crate::verify::{verify_region, RegionKind};
    let base = form::CODE_START;
    for kind in [RegionKind::CodeSegment, RegionKind::Jail] {
        let r = verify_region(base, data, kind, Options::default());
        assert_result(base, data, &r);
        same_without_fast_path(base, data, kind, &r);
    }
    let bundle = form::BUNDLE as usize;
    let mut padded = data.to_vec();
    padded.resize(data.len().next_multiple_of(bundle) + form::HLT_SLED_MIN as usize, form::HLT);
    let r = verify_region(base, &padded, RegionKind::CodeSegment, Options::default());
    assert_result(base, &padded, &r);
    same_without_fast_path(base, &padded, RegionKind::CodeSegment, &r);
}

/// The verifier's fast path (the default) and iced alone must give the same verdict and
/// the same violations.
fn same_without_fast_path(base: u64, code: &[u8], kind: RegionKind, r: &Result<VerifiedCode<'_>, Rejected>) {
    use crate::verify::{verify_region_with, Decoding};
    let iced = verify_region_with(base, code, kind, Options::default(), 1, Decoding::IcedOnly);
    let shown = |r: &Result<VerifiedCode<'_>, Rejected>| match r {
        Ok(_) => Vec::new(),
        Err(e) => e.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
    };
    assert_eq!(r.is_ok(), iced.is_ok(), "fast path and iced disagree on the verdict");
    assert_eq!(shown(r), shown(&iced), "fast path and iced disagree on the violations");
    // And on every instruction start and second half (a length wrong on code both accept
    // would show only here, or as a C7 finding if a branch happened to target it).
    use crate::verify::scan_bitmaps;
    assert!(
        scan_bitmaps(base, code, Decoding::Fast) == scan_bitmaps(base, code, Decoding::IcedOnly),
        "fast path and iced disagree on the instruction starts"
    );
}

/// The body of the `manifest` fuzz target: the ZeroVM text manifest parser and the image
/// manifest parser on arbitrary bytes. Neither may panic; what parses must be consistent.
pub fn exercise_manifests(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = crate::manifest::parse_zerovm(text) {
            assert!(m.channels.iter().any(|c| c.alias == "/dev/stdin"), "parsed without stdin");
            assert!(m.timeout.is_some(), "parsed without Timeout");
            assert!(m.channels.len() <= crate::manifest::MAX_CHANNELS);
        }
    }
    if let Some(m) = crate::image::ImageManifest::parse_typed(data) {
        assert_eq!(crate::image::ImageManifest::parse_tree(data).as_ref(), Ok(&m), "typed manifest parse disagrees");
    }
    if let Ok(m) = crate::image::ImageManifest::parse(data) {
        // What parses must survive a round trip through the canonical form.
        let again = crate::image::ImageManifest::parse(m.to_json().as_bytes()).expect("canonical form parses");
        assert_eq!(again, m, "image manifest changed in a round trip");
    }
}

/// What reading `data` as an image gives (index and manifest, or the error), with or
/// without the plain-ustar fast path, as comparable text.
pub(crate) fn image_outcome(data: &[u8], fast: bool) -> String {
    match crate::image::Image::read_with(std::io::Cursor::new(data), fast) {
        Ok(img) => format!("ok {:?} {:?} {}", img.members, img.manifest, img.file_len),
        Err(e) => format!("err {}", e.0),
    }
}

/// The body of the `image` fuzz target: the image reader on arbitrary bytes (as a tar),
/// then every member read back. Never a panic, every member lies inside the file, and the
/// plain-ustar fast path and the tar crate give the same result.
pub fn exercise_image(data: &[u8]) {
    // The plain-ustar fast path and the tar crate must agree on every input.
    assert_eq!(
        image_outcome(data, true),
        image_outcome(data, false),
        "the fast image index disagrees with the tar crate"
    );
    let mut cur = std::io::Cursor::new(data);
    if let Ok(img) = crate::image::Image::read(&mut cur) {
        for m in &img.members {
            assert!(m.offset + m.size <= data.len() as u64, "member outside the file");
            let bytes = crate::image::read_member(&mut cur, m).expect("a listed member can be read");
            assert_eq!(bytes.len() as u64, m.size);
            assert!(crate::image::check_member_path(&m.path).is_ok(), "unchecked member path");
        }
        assert!(img.member(&img.manifest.program).is_some(), "program not in the image");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{testgen, verify_region, Options, RegionKind};

    #[test]
    fn valid_code_passes() {
        let code = testgen::valid_code(7, 8192, form::CODE_START);
        assert_eq!(check_accepted_code(form::CODE_START, &code), None);
        let r = verify_region(form::CODE_START, &code, RegionKind::CodeSegment, Options::default());
        assert!(check_result(form::CODE_START, &code, &r).is_ok());
    }

    #[test]
    fn finds_forbidden_invalid_and_straddling() {
        let mut code = vec![0x90; 64];
        code[32..34].copy_from_slice(&[0x0F, 0x05]);
        let f = check_accepted_code(form::CODE_START, &code).expect("syscall");
        assert_eq!(f.addr, form::CODE_START + 32);
        assert!(f.what.contains("Syscall"), "{f}");

        let mut code = vec![0x90; 64];
        code[30..35].copy_from_slice(&[0xB8, 1, 2, 3, 4]);
        let f = check_accepted_code(form::CODE_START, &code).expect("straddle");
        assert_eq!(f.addr, form::CODE_START + 30);

        let mut code = vec![0x90; 32];
        code[0] = 0x06; // push es: invalid in 64-bit mode
        assert!(check_accepted_code(0, &code).is_some());

        for bytes in [[0x0F, 0xA2], [0xCD, 0x80], [0x0F, 0x31], [0x0F, 0x34]] {
            let mut code = vec![0x90; 32];
            code[..2].copy_from_slice(&bytes);
            assert!(check_accepted_code(0, &code).is_some(), "{bytes:02x?}");
        }
    }
}
