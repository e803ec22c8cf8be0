//! Determinism (issue 5, item 2): two runs with the same program, options and inputs give
//! byte-identical outputs and identical etags in `--report json`; a different seed changes
//! the output and its etag (so the comparison can fail).

use std::path::Path;
use std::process::Command;

use zrt_tests::*;

use crate::files::{host_input, input_channel, output_channels, read_outputs};

/// One run with etags: (stdout, the output files, the report's channels array).
fn run_once(nexe: &Path, dir: &Path, tag: &str, args: &[String]) -> (Vec<u8>, [Vec<u8>; 2], serde_json::Value) {
    let report = dir.join(format!("report-{tag}.json"));
    let (outputs, files) = output_channels(dir, tag);
    let mut c = Command::new(tool("zvrun"));
    c.arg("--timeout").arg("60").arg("--etag").arg("--report").arg("json").arg("--report-file").arg(&report);
    c.args(args).args(&outputs).arg(nexe);
    let o = run_with_stdin(c, STDIN, &format!("zvrun {}", nexe.display()));
    check_ok(&o, &format!("zvrun {}", nexe.display()));
    let text = std::fs::read_to_string(&report).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("report: {e}\n{text}"));
    assert_eq!(json["state"], "exit", "report: {text}");
    let channels = json["channels"].clone();
    for ch in channels.as_array().expect("channels array") {
        assert!(ch["etag"].is_string(), "channel without an etag: {ch}");
    }
    (o.stdout, read_outputs(&files), channels)
}

fn etag_of(channels: &serde_json::Value, alias: &str) -> String {
    channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["alias"] == alias)
        .unwrap_or_else(|| panic!("no channel {alias} in {channels}"))["etag"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn two_runs_give_identical_outputs_and_etags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = host_input(d);
    let files = build(d, "files");
    let args = vec!["--channel".to_string(), input_channel(&input)];
    let (out1, file1, ch1) = run_once(&files.nexe, d, "files-1", &args);
    let (out2, file2, ch2) = run_once(&files.nexe, d, "files-2", &args);
    assert!(out1 == out2, "stdout differs between two runs of files.nexe");
    assert!(!file1[0].is_empty() && !file1[1].is_empty(), "files.nexe wrote no output files");
    assert!(file1 == file2, "the output files differ between two runs");
    assert_eq!(ch1, ch2, "channel counts or etags differ between two runs");

    // A program that reads the clock and random numbers: the same seed and time give the
    // same bytes; another seed gives other bytes and another etag.
    let sysinfo = build(d, "sysinfo");
    let session = |seed: u64| {
        let mut a = args.clone();
        a.extend(["--seed".to_string(), seed.to_string(), "--time".to_string(), "1700000000".to_string()]);
        a
    };
    let (s1, _, c1) = run_once(&sysinfo.nexe, d, "sysinfo-1", &session(42));
    let (s2, _, c2) = run_once(&sysinfo.nexe, d, "sysinfo-2", &session(42));
    let (s3, _, c3) = run_once(&sysinfo.nexe, d, "sysinfo-3", &session(43));
    assert!(s1 == s2, "stdout differs between two runs with seed 42");
    assert_eq!(c1, c2, "etags differ between two runs with seed 42");
    assert!(s1 != s3, "seeds 42 and 43 gave the same stdout");
    assert_ne!(etag_of(&c1, "/dev/stdout"), etag_of(&c3, "/dev/stdout"), "seeds 42 and 43 gave the same etag");
}
