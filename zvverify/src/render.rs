//! Rendering a [`Report`]: human text (one line per failing file, then its violations),
//! JSON (the report itself) and SARIF 2.1.0 for CI code scanning.

use std::fmt::Write as _;

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter};
use serde_json::{json, Value};
use zvcore::Rule;

use zvcore::display::escape_controls;

use crate::{Report, Verdict};

/// AT&T text of the first instruction in `bytes` at `addr` (`(bad)` when undecodable).
pub fn disassemble(bytes: &[u8], addr: u64) -> String {
    let ins = Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE).decode();
    if ins.is_invalid() {
        return "(bad)".into();
    }
    let mut f = GasFormatter::new();
    // Lowercase hex, as objdump and every other number in the report.
    f.options_mut().set_uppercase_hex(false);
    f.options_mut().set_space_after_operand_separator(false);
    f.options_mut().set_branch_leading_zeros(false);
    f.options_mut().set_displacement_leading_zeros(false);
    let mut s = String::new();
    f.format(&ins, &mut s);
    s
}

/// Human-readable report: failing files with their violations, then a summary line.
pub fn human(r: &Report) -> String {
    let mut s = String::new();
    for f in &r.files {
        let path = escape_controls(&f.path);
        match f.verdict {
            Verdict::Pass => {}
            Verdict::Error => {
                let e = escape_controls(f.error.as_deref().unwrap_or("unknown error"));
                let _ = writeln!(s, "ERROR {path}: {e}");
            }
            Verdict::Fail => {
                let n = f.violations.len() + f.violations_omitted;
                let _ = writeln!(s, "FAIL {path} ({} violation{})", n, if n == 1 { "" } else { "s" });
                for v in &f.violations {
                    let mut loc = v.address.clone();
                    if let Some(sym) = &v.symbol {
                        let _ = write!(loc, " {sym}");
                    }
                    if let Some(src) = &v.source {
                        let _ = write!(loc, " ({src})");
                    }
                    let insn = v.instruction.as_deref().map(|i| format!(" `{i}`")).unwrap_or_default();
                    let line = format!("{loc}{insn}: {}", v.message);
                    let _ = writeln!(s, "  {:<4}{}", v.rule, escape_controls(&line));
                }
                if f.violations_omitted > 0 {
                    let _ = writeln!(s, "  ... and {} more", f.violations_omitted);
                }
            }
        }
    }
    for e in &r.walk_errors {
        let _ = writeln!(s, "ERROR {}", escape_controls(e));
    }
    s
}

/// The one-line summary printed after the report.
pub fn summary(r: &Report) -> String {
    let t = &r.totals;
    format!(
        "zvverify: {} file{} verified: {} passed, {} failed, {} unreadable, {} skipped (neither nexe nor image); {:.1} MB of code in {:.3} s ({:.1} MB/s, {} thread{})",
        t.files,
        if t.files == 1 { "" } else { "s" },
        t.passed,
        t.failed,
        t.errors,
        t.skipped,
        t.code_bytes as f64 / 1e6,
        r.throughput.seconds,
        r.throughput.mb_per_s,
        r.throughput.threads,
        if r.throughput.threads == 1 { "" } else { "s" },
    )
}

/// A path as a SARIF `artifactLocation.uri`: a URI reference (RFC 3986) with every byte
/// but the unreserved characters and `/` percent-encoded (a space, `#`, `%`, `?` or `:`
/// in a name would otherwise make it an invalid or a different URI); an absolute path is
/// a `file://` URI.
pub fn uri(path: &str) -> String {
    uri_of_bytes(path.as_bytes())
}

/// The URI of a file the report names by its path text ([`crate::walk::path_text`]):
/// the name's own bytes are encoded, so `a\xff.nexe` (the byte 0xFF) is `a%FF.nexe`,
/// not a file whose name spells a backslash (audit finding).
fn report_uri(path: &str) -> String {
    uri_of_bytes(&crate::walk::path_bytes(path))
}

fn uri_of_bytes(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    if path.starts_with(b"/") {
        out.push_str("file://");
    }
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The JSON report.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise report: {e}\"}}"))
}

/// SARIF 2.1.0: one result per violation, with its rule's `ruleId` and `ruleIndex`. The
/// physical location is the source line when DWARF gives one (a `region`), else the nexe
/// file and the `address` in it; the symbol is a logical location; the guest address,
/// bytes and nexe path are also in the result's `properties`.
pub fn sarif(r: &Report) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id(),
                "name": rule.title().replace(' ', ""),
                "shortDescription": { "text": format!("{} {}", rule.id(), rule.title()) },
                "helpUri": "https://zv.invalid/docs/FORM.md#3-verification-rules",
            })
        })
        .collect();
    let mut results = Vec::new();
    // Files that could not be read and paths that could not be walked broke no rule:
    // they are notifications of the tool's execution, which then was not successful.
    let mut notes = Vec::new();
    for f in &r.files {
        if f.verdict == Verdict::Error {
            notes.push(json!({
                "level": "error",
                "message": { "text": format!("cannot read {}: {}", f.path, f.error.as_deref().unwrap_or("")) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": report_uri(&f.path) } } }],
            }));
        }
        for v in &f.violations {
            let mut text = format!("{} at {}", v.message, v.address);
            if let Some(i) = &v.instruction {
                let _ = write!(text, " `{i}`");
            }
            if let Some(sym) = &v.symbol {
                let _ = write!(text, " in {sym}");
            }
            let physical = match v.source.as_deref().and_then(|s| s.rsplit_once(':')) {
                Some((file, line)) if line.parse::<u64>().map(|l| l > 0).unwrap_or(false) => {
                    json!({
                        "artifactLocation": { "uri": uri(file) },
                        "region": { "startLine": line.parse::<u64>().unwrap_or(1) },
                    })
                }
                // Without a source line, the place is the address in the nexe: the guest
                // address of an instruction or a segment, or for `ELF` a file offset.
                _ => {
                    let mut p = json!({ "artifactLocation": { "uri": report_uri(&f.path) } });
                    if let Some(a) = v.address.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok()) {
                        p["address"] = json!({ "absoluteAddress": a });
                        if v.bytes.is_some() {
                            p["address"]["kind"] = json!("instruction");
                        }
                    }
                    p
                }
            };
            let mut loc = json!({ "physicalLocation": physical });
            if let Some(sym) = &v.symbol {
                loc["logicalLocations"] = json!([{ "name": sym, "kind": "function" }]);
            }
            let mut result = json!({
                "ruleId": v.rule,
                "level": "error",
                "message": { "text": text },
                "locations": [loc],
                "properties": { "nexe": f.path, "address": v.address, "bytes": v.bytes },
            });
            if let Some(i) = Rule::ALL.iter().position(|r| r.id() == v.rule) {
                result["ruleIndex"] = json!(i);
            }
            results.push(result);
        }
    }
    for e in &r.walk_errors {
        notes.push(json!({ "level": "error", "message": { "text": e } }));
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "zvverify",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://zv.invalid/",
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": notes.is_empty(),
                "toolExecutionNotifications": notes,
            }],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
