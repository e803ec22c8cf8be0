//! The JSON and ZeroVM reports.

use crate::{json_report, program, run, s};

#[test]
fn json_report_keeps_the_whole_exit_code() {
    let t = tempfile::tempdir().expect("tmp");
    let rep = t.path().join("r.json");
    let out = run(&["--report", "json", "--report-file", s(&rep), s(&program("exit"))]);
    assert_eq!(out.status.code(), Some(2));
    let r = json_report(&rep);
    assert_eq!(r["exit_code"], 0x1_0000_0102u64);
    assert_eq!(r["state"], "exit");
    assert_eq!(r["validation"], "ok");
    assert_eq!(r["channels"].as_array().expect("channels").len(), 3);
}

#[test]
fn zerovm_report_has_six_lines() {
    let out = run(&["--report", "zerovm", s(&program("hello"))]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 6, "{err}");
    assert_eq!(lines[0], "validator state = 0");
    assert_eq!(lines[2], "user return code = 0");
    assert!(lines[4].starts_with("accounting = "));
    assert!(lines[4].ends_with(" 0 0 1 13"), "one put of 13 bytes: {}", lines[4]);
    assert_eq!(lines[5], "exit state = ok");
}

/// ZeroVM's validator state: 0 verified, 1 rejected, 2 never verified (the session ended
/// first). QA finding: a session that never reached verification said 0.
#[test]
fn zerovm_validator_state_says_whether_verification_ran() {
    let state = |args: &[&str]| {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.lines().find(|l| l.starts_with("validator state = ")).map(str::to_string).unwrap_or(err)
    };
    let bad = crate::repo().join("test-corpus/attacks/bare-ret.nexe");
    assert_eq!(state(&["--report", "zerovm", s(&program("hello"))]), "validator state = 0");
    assert_eq!(state(&["--report", "zerovm", s(&bad)]), "validator state = 1");
    assert_eq!(state(&["--report", "zerovm", "/nonexistent/app.nexe"]), "validator state = 2");
}

#[test]
fn reports_are_written_when_the_program_is_invalid() {
    let t = tempfile::tempdir().expect("tmp");
    let rep = t.path().join("r.json");
    let bad = crate::repo().join("test-corpus/attacks/bare-ret.nexe");
    let out = run(&["--report", "json", "--report-file", s(&rep), s(&bad)]);
    assert_eq!(out.status.code(), Some(126));
    let r = json_report(&rep);
    assert_eq!(r["validation"], "failed");
    assert!(r["message"].as_str().expect("message").contains("C9"));
    // The verification's time and the channels the session would have opened, each with
    // nothing used (audit finding: `"channels": []` and no verify phase).
    assert!(r["phases"]["verify"].is_number(), "{r}");
    let aliases: Vec<&str> =
        r["channels"].as_array().expect("channels").iter().filter_map(|c| c["alias"].as_str()).collect();
    assert_eq!(aliases, ["/dev/stdin", "/dev/stdout", "/dev/stderr"], "{r}");
    assert!(r["channels"].as_array().expect("channels").iter().all(|c| c["puts"] == 0 && c["gets"] == 0), "{r}");
}

/// A program whose name holds newlines and fails verification: ZeroVM's report keeps its
/// six lines and stderr its one (audit finding: the name's lines were kept, so an image
/// could add `exit state = ok` and `validator state = 0` lines to the report).
#[test]
fn a_program_name_cannot_add_lines_to_the_report() {
    let t = tempfile::tempdir().expect("tmp");
    let bad = t.path().join("x\nuser return code = 0\nexit state = ok\nvalidator state = 0");
    std::fs::copy(crate::repo().join("test-corpus/attacks/bare-ret.nexe"), &bad).expect("copy");
    let rep = t.path().join("r.txt");
    let out = run(&["--report", "zerovm", "--report-file", s(&rep), s(&bad)]);
    assert_eq!(out.status.code(), Some(126));
    let report = std::fs::read_to_string(&rep).expect("report");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 6, "{report}");
    assert_eq!(lines[0], "validator state = 1", "{report}");
    let last = lines[5];
    assert!(last.starts_with("exit state = validation failed: ") && last.contains("\\n"), "{report}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.lines().any(|l| l == "exit state = ok" || l == "validator state = 0"), "{err}");
}

/// RUNTIME.md section 6, "the report is written in every case" (QA finding): a usage
/// error after `--report` (an unknown option, a value that is not a number) wrote only a
/// message; now the report asked for before it is written too, with the message and
/// status 125. Without `--report` it stays a message.
#[test]
fn a_usage_error_after_report_still_writes_the_report() {
    let t = tempfile::tempdir().expect("tmp");
    let rep = t.path().join("r.json");
    let hello = program("hello");
    for (args, want) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (&["--seed", "many"][..], "invalid value 'many' for '--seed <SEED>'"),
        (&["--etag", "--etag"][..], "'--etag' given more than once"),
    ] {
        let _ = std::fs::remove_file(&rep);
        let mut all = vec!["--report", "json", "--report-file", s(&rep)];
        all.extend_from_slice(args);
        all.push(s(&hello));
        let out = run(&all);
        assert_eq!(out.status.code(), Some(125), "{all:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(want), "{all:?}");
        let r = json_report(&rep);
        assert_eq!((r["state"].as_str(), r["status"].as_i64()), (Some("error"), Some(125)), "{r}");
        assert!(r["message"].as_str().is_some_and(|m| m.contains(want)), "{r}");
    }
    let out = run(&["--report", "zerovm", "--timeout", "soon", s(&hello)]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exit state = error: invalid value 'soon'"), "{err}");
    // No report asked for before the error: the message alone.
    let out = run(&["--bogus", "--report", "zerovm", s(&hello)]);
    assert_eq!(out.status.code(), Some(125));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("validator state"));
}

/// The JSON report's `seconds` is the session's time also when it ended before the guest
/// ran (QA finding: a memory limit too small reported its phases but `"seconds": 0.0`).
#[test]
fn a_session_refused_after_loading_reports_its_time() {
    let t = tempfile::tempdir().expect("tmp");
    let rep = t.path().join("r.json");
    let out = run(&["--report", "json", "--report-file", s(&rep), "--memory", "1K", s(&program("hello"))]);
    assert_eq!(out.status.code(), Some(125));
    let r = json_report(&rep);
    let phases: f64 = r["phases"].as_object().expect("phases").values().filter_map(|v| v.as_f64()).sum();
    let seconds = r["seconds"].as_f64().expect("seconds");
    assert!(phases > 0.0 && seconds >= phases, "seconds {seconds} < phases {phases}: {r}");
}
