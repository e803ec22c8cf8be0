//! Odd file names and the documented options around them: control characters and
//! newlines in the human report, URIs in SARIF, names that are not UTF-8 in JSON
//! reports and merges, files named and found in a walk, `--max-violations 0`.

use std::path::Path;

use crate::{json_report, no_panic, repo, run, zvverify};

fn bad_nexe() -> Vec<u8> {
    std::fs::read(repo().join("test-corpus/attacks/syscall.nexe")).expect("attack")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// A name with a newline cannot forge report lines, and escape sequences in names or
/// messages do not reach the terminal: the human report escapes control characters.
#[cfg(unix)]
#[test]
fn regress_human_output_escapes_control_characters_in_names() {
    let t = tempfile::tempdir().expect("tmp");
    std::fs::write(t.path().join("a\nFAIL forged.nexe (0 violations)"), bad_nexe()).expect("write");
    std::fs::write(t.path().join("b\x1b[2Jc.nexe"), bad_nexe()).expect("write");
    std::os::unix::fs::symlink("/nonexistent", t.path().join("d\nERROR forged")).expect("symlink");
    let out = run(&[s(t.path())]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "{text:?}");
    for line in text.lines() {
        assert!(
            line.starts_with("FAIL ") || line.starts_with("ERROR ") || line.starts_with("  "),
            "forged or broken line {line:?} in\n{text}"
        );
        assert!(!line.starts_with("FAIL forged") && !line.starts_with("ERROR forged"), "{text}");
    }
    assert_eq!(text.lines().filter(|l| l.starts_with("FAIL ")).count(), 2, "{text}");
    assert!(text.contains("a\\nFAIL forged.nexe"), "{text}");
}

/// SARIF `artifactLocation.uri` is a URI reference (RFC 3986): spaces, `#`, `%` and `?`
/// in a name are percent-encoded, absolute paths are `file://` URIs. Unreadable files
/// and walk errors are tool notifications, not violations of a rule.
#[cfg(unix)]
#[test]
fn regress_sarif_uris_are_percent_encoded_and_errors_are_notifications() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path().join("tree");
    std::fs::create_dir(&d).expect("mkdir");
    std::fs::write(d.join("sp ace#1%?.nexe"), bad_nexe()).expect("write");
    std::os::unix::fs::symlink("/nonexistent", d.join("dangling")).expect("symlink");
    let out = zvverify().current_dir(t.path()).args(["--format", "sarif", "-q", "tree"]).output().expect("runs");
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    let sarif = json_report(&out);
    let run0 = &sarif["runs"][0];
    let uris: Vec<&str> = run0["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().expect("uri"))
        .collect();
    assert_eq!(uris, ["tree/sp%20ace%231%25%3F.nexe"], "{run0}");
    for r in run0["results"].as_array().expect("results") {
        assert_ne!(r["ruleId"], "ELF", "an I/O error is not an ELF violation: {r}");
    }
    let inv = &run0["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false, "{run0}");
    let notes = inv["toolExecutionNotifications"].as_array().expect("notifications");
    assert_eq!(notes.len(), 1, "{inv}");
    assert!(notes[0]["message"]["text"].as_str().expect("text").contains("dangling symlink"), "{inv}");
    // An absolute path is a file URI.
    let abs = t.path().join("tree/sp ace#1%?.nexe");
    let out = run(&["--format", "sarif", "-q", s(&abs)]);
    let sarif = json_report(&out);
    let uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .expect("uri")
        .to_string();
    assert!(uri.starts_with("file:///") && uri.ends_with("/tree/sp%20ace%231%25%3F.nexe"), "{uri}");
}

/// A name that is not UTF-8 has the URI of its own bytes (0xFF is `%FF`), not of the
/// report's `\xff` text, which would name a file spelling a backslash (audit finding);
/// a real backslash is `%5C`.
#[cfg(target_os = "linux")]
#[test]
fn sarif_uris_encode_the_bytes_of_names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path().join("nu");
    std::fs::create_dir(&d).expect("mkdir");
    std::fs::write(d.join(std::ffi::OsStr::from_bytes(b"a\xff.nexe")), bad_nexe()).expect("write");
    std::fs::write(d.join(std::ffi::OsStr::from_bytes(b"b\\xff.nexe")), bad_nexe()).expect("write");
    let out = zvverify().current_dir(t.path()).args(["--format", "sarif", "-q", "nu"]).output().expect("runs");
    no_panic(&out);
    let sarif = json_report(&out);
    let mut uris: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().expect("uri"))
        .collect();
    uris.sort_unstable();
    uris.dedup();
    assert_eq!(uris, ["nu/a%FF.nexe", "nu/b%5Cxff.nexe"], "{sarif}");
}

/// Two names that differ only in bytes that are not UTF-8 stay two distinct paths in the
/// report (the bytes are written as `\xNN`), so that reports of them merge.
#[cfg(target_os = "linux")]
#[test]
fn regress_non_utf8_names_stay_distinct_and_reports_merge() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path().join("tree");
    std::fs::create_dir(&d).expect("mkdir");
    for b in [0xfe, 0xff] {
        std::fs::write(d.join(std::ffi::OsStr::from_bytes(&[b'a', b])), bad_nexe()).expect("write");
    }
    let full = t.path().join("full.json");
    let out = run(&["--format", "json", "-q", "-o", s(&full), s(&d)]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&full).expect("read")).expect("json");
    let paths: Vec<&str> =
        r["files"].as_array().expect("files").iter().map(|f| f["path"].as_str().expect("p")).collect();
    assert_eq!(paths.len(), 2);
    assert_ne!(paths[0], paths[1], "{paths:?}");
    assert!(paths[0].ends_with("a\\xfe") && paths[1].ends_with("a\\xff"), "{paths:?}");
    let out = run(&["merge", s(&full)]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let mut shards = Vec::new();
    for k in 1..=3 {
        let p = t.path().join(format!("s{k}.json"));
        run(&["--format", "json", "-q", "--shard", &format!("{k}/3"), "-o", s(&p), s(&d)]);
        shards.push(p);
    }
    let args: Vec<&str> = ["merge"].into_iter().chain(shards.iter().map(|p| s(p))).collect();
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_report(&out)["files"], r["files"]);
}

/// "A file both named and found in a walk is verified once, as named", however the
/// two spell the same path (`./tree` and `tree/`, doubled slashes).
#[test]
fn regress_a_file_named_and_found_in_a_walk_is_verified_once_as_named() {
    let t = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(t.path().join("tree")).expect("mkdir");
    std::fs::write(t.path().join("tree/a.nexe"), bad_nexe()).expect("write");
    for args in [["./tree", "tree/a.nexe"], ["tree", "./tree/a.nexe"], ["tree/", "tree//a.nexe"]] {
        let out = zvverify().current_dir(t.path()).args(["--format", "json", "-q"]).args(args).output().expect("runs");
        let r = json_report(&out);
        let files = r["files"].as_array().expect("files");
        assert_eq!(files.len(), 1, "{args:?}: {r}");
        assert_eq!(files[0]["path"], args[1], "{args:?}: verified as named");
    }
}

/// `--max-violations 0` lists no violation and counts them all.
#[test]
fn regress_max_violations_0_lists_none_and_counts_all() {
    let p = repo().join("test-corpus/attacks/syscall.nexe");
    let out = run(&["--format", "json", "-q", "--max-violations", "0", s(&p)]);
    assert_eq!(out.status.code(), Some(1));
    let r = json_report(&out);
    let f = &r["files"][0];
    assert_eq!(f["violations"].as_array().expect("violations").len(), 0, "{f}");
    assert!(f["violations_omitted"].as_u64().expect("omitted") >= 1, "{f}");
    assert_eq!(r["totals"]["violations"], f["violations_omitted"]);
    let out = run(&["-q", "--max-violations", "0", s(&p)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("FAIL ") && text.contains("... and "), "{text}");
}
