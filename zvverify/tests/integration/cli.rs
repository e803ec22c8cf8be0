//! Exit statuses, formats, tree walking and the usage errors of the command line.

use std::path::Path;

use crate::{json_report, no_panic, repo, run, valid_tree, zvverify};

#[test]
fn valid_tree_passes_with_status_0_and_counts_skipped() {
    let t = tempfile::tempdir().expect("tmp");
    valid_tree(t.path(), 12);
    let out = run(&["--format", "json", t.path().to_str().expect("utf8")]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_report(&out);
    assert_eq!(r["totals"]["files"], 12);
    assert_eq!(r["totals"]["passed"], 12);
    assert_eq!(r["totals"]["skipped"], 1);
    assert!(r["totals"]["code_bytes"].as_u64().expect("code bytes") > 12 * 4096);
    assert!(r["throughput"]["mb_per_s"].as_f64().is_some());
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 files verified: 12 passed, 0 failed"));
}

#[test]
fn one_failure_among_passes_gives_status_1() {
    let t = tempfile::tempdir().expect("tmp");
    valid_tree(t.path(), 3);
    std::fs::copy(repo().join("test-corpus/attacks/syscall.nexe"), t.path().join("bad.nexe")).expect("copy");
    let out = run(&[t.path().to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().filter(|l| l.starts_with("FAIL ")).count(), 1, "{text}");
}

#[test]
fn unreadable_input_gives_status_2_and_the_rest_is_still_verified() {
    let t = tempfile::tempdir().expect("tmp");
    valid_tree(t.path(), 2);
    let missing = t.path().join("missing.nexe");
    let bad = repo().join("test-corpus/attacks/cpuid.nexe");
    let out = run(&[
        "--format",
        "json",
        missing.to_str().expect("utf8"),
        bad.to_str().expect("utf8"),
        t.path().to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let r = json_report(&out);
    assert_eq!(r["totals"]["failed"], 1);
    assert_eq!(r["totals"]["passed"], 2);
    assert!(r["walk_errors"][0].as_str().expect("walk error").contains("missing.nexe"));
    // A directory where a file is expected to be read is an I/O error for that file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().expect("tmp");
        symlink("/nonexistent/target", d.path().join("dangling.nexe")).expect("symlink");
        let out = run(&["--format", "json", d.path().join("dangling.nexe").to_str().expect("utf8")]);
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn usage_errors_give_status_2() {
    for args in [
        &[][..],
        &["--shard", "3/2", "x"],
        &["--shard", "0/2", "x"],
        &["--shard", "a", "x"],
        &["--format", "xml", "x"],
        &["-j", "0", "x"],
        &["--no-such-flag"],
    ] {
        let out = run(args);
        no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
        assert!(!out.stderr.is_empty(), "args {args:?}: a message is printed");
    }
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--shard"));
}

#[test]
fn sarif_has_one_result_per_violation() {
    let dir = repo().join("test-corpus/attacks");
    let out = run(&["--format", "sarif", "--quiet", dir.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let s = json_report(&out);
    assert_eq!(s["version"], "2.1.0");
    let results = s["runs"][0]["results"].as_array().expect("results");
    let json = json_report(&run(&["--format", "json", "--quiet", dir.to_str().expect("utf8")]));
    assert_eq!(results.len() as u64, json["totals"]["violations"].as_u64().expect("count"));
    let rules: Vec<&str> = s["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().expect("ruleId")));
        assert_eq!(r["level"], "error");
    }
}

#[test]
fn thread_counts_give_identical_reports() {
    let t = tempfile::tempdir().expect("tmp");
    valid_tree(t.path(), 20);
    std::fs::copy(repo().join("test-corpus/attacks/leave.nexe"), t.path().join("leave.nexe")).expect("copy");
    let one = json_report(&run(&["-j", "1", "--format", "json", t.path().to_str().expect("utf8")]));
    let two = json_report(&run(&["-j", "2", "--format", "json", t.path().to_str().expect("utf8")]));
    assert_eq!(one["files"], two["files"]);
    assert_eq!(one["throughput"]["threads"], 1);
    assert_eq!(two["throughput"]["threads"], 2);
}

#[test]
fn closed_stdout_is_not_an_error() {
    let dir = repo().join("test-corpus/attacks");
    let mut child = zvverify()
        .arg(dir.to_str().expect("utf8"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    no_panic(&out);
    // The verdict (1: attacks fail) is still the exit status; no broken-pipe error.
    assert_eq!(out.status.code(), Some(1));
}

/// Regression: an empty file, a text file or any other non-nexe named on the command line
/// passed with status 0 ("1 not ELF (skipped)"). Named, it is verified and fails with
/// rule `ELF`; found in a walk it is still skipped.
#[test]
fn regress_named_non_nexe_files_fail_with_rule_elf() {
    let t = tempfile::tempdir().expect("tmp");
    let empty = t.path().join("empty.nexe");
    let text = t.path().join("notes.txt");
    std::fs::write(&empty, b"").expect("write");
    std::fs::write(&text, b"just text\n").expect("write");
    for p in [&empty, &text] {
        let out = run(&["--format", "json", p.to_str().expect("utf8")]);
        no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{}", p.display());
        let r = json_report(&out);
        assert_eq!(r["totals"]["failed"], 1);
        assert_eq!(r["totals"]["skipped"], 0);
        let v = &r["files"][0]["violations"][0];
        assert_eq!(v["rule"], "ELF");
        assert!(v["message"].as_str().expect("message").contains("missing ELF magic"), "{v}");
        let human = run(&[p.to_str().expect("utf8")]);
        assert!(String::from_utf8_lossy(&human.stdout).contains("FAIL "), "human output names the failure");
    }
    // The same files found while walking are skipped.
    let out = run(&["--format", "json", t.path().to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0));
    let r = json_report(&out);
    assert_eq!(r["totals"]["skipped"], 2);
    assert_eq!(r["totals"]["files"], 0);
}

/// Regression: `mkfifo f; zvverify f` blocked forever in open(). A FIFO, socket or device
/// named on the command line is an error (status 2) that says what it is.
#[cfg(unix)]
#[test]
fn regress_named_fifo_or_device_is_an_error_not_a_hang() {
    let t = tempfile::tempdir().expect("tmp");
    let fifo = t.path().join("f");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs").success());
    let sock = t.path().join("s");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    for (p, what) in
        [(fifo.as_path(), "FIFO"), (sock.as_path(), "socket"), (Path::new("/dev/null"), "character device")]
    {
        let mut child = zvverify()
            .args(["--format", "json"])
            .arg(p)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // Not a timing assertion: a generous bound that only stops a hung test.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("zvverify hangs on {}", p.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("output");
        no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{}", p.display());
        let r = json_report(&out);
        assert_eq!(r["files"][0]["verdict"], "error");
        assert_eq!(r["totals"]["errors"], 1);
        let e = r["files"][0]["error"].as_str().expect("error");
        assert!(e.contains(what) && e.contains("not a regular file"), "{e}");
    }
    // Inside a walked directory they are ignored.
    let out = run(&["--format", "json", t.path().to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_report(&out)["totals"]["files"], 0);
}

/// Files of the kernel's interface file systems report size 0 and then have content
/// (`/proc/self/status`) or fail to read (`/proc/self/mem`): they are inputs that cannot
/// be read (status 2), not empty files failing with "missing ELF magic" (audit finding).
/// `merge` reads at most 1 GiB of a report (`merge /dev/zero` read until memory ran
/// out: audit finding).
#[test]
fn files_that_lie_about_their_size_and_endless_reports_are_errors() {
    for (p, what) in [("/proc/self/status", "reports size 0 but has content"), ("/proc/self/mem", "cannot read")] {
        let out = run(&["--format", "json", p]);
        no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{p}");
        let e = json_report(&out)["files"][0]["error"].as_str().expect("error").to_string();
        assert!(e.contains(what), "{p}: {e}");
    }
    let out = run(&["merge", "/dev/zero"]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a zvverify report"));
}

/// Regression: a dangling symlink inside a walked directory was silently ignored, and a
/// missing path showed as "1 unreadable" in the summary but `totals.errors` 0 in JSON.
/// Walk errors are listed in `walk_errors`, counted in `totals.errors` (and
/// `totals.files`), and the summary shows the same count.
#[cfg(unix)]
#[test]
fn regress_walk_errors_are_counted_the_same_in_summary_and_json() {
    let t = tempfile::tempdir().expect("tmp");
    valid_tree(t.path(), 2);
    std::os::unix::fs::symlink("/nonexistent/target", t.path().join("dangling.nexe")).expect("symlink");
    let missing = t.path().join("missing.nexe");
    let out = run(&["--format", "json", t.path().to_str().expect("utf8"), missing.to_str().expect("utf8")]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    let r = json_report(&out);
    let walk: Vec<&str> =
        r["walk_errors"].as_array().expect("walk errors").iter().map(|e| e.as_str().expect("str")).collect();
    assert_eq!(walk.len(), 2, "{walk:?}");
    assert!(walk.iter().any(|e| e.contains("dangling.nexe: dangling symlink: ")), "{walk:?}");
    assert!(walk.iter().any(|e| e.contains("missing.nexe: ")), "{walk:?}");
    assert_eq!(r["totals"]["errors"], 2);
    assert_eq!(r["totals"]["passed"], 2);
    assert_eq!(r["totals"]["files"], 4, "files = passed + failed + errors");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("4 files verified: 2 passed, 0 failed, 2 unreadable"), "{summary}");
    let human = run(&[t.path().to_str().expect("utf8")]);
    assert_eq!(human.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&human.stdout).contains("ERROR "), "human output lists the walk error");
}

/// Regression: `--help` said shards are "every N-th file of the sorted list"; they are
/// chosen by an FNV-1a hash of the relative path.
#[test]
fn regress_help_describes_shards_by_path_hash() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("FNV-1a"), "{help}");
    assert!(!help.contains("every N-th file"), "{help}");
}

/// `-j` has no useful upper bound, and starting tens of thousands of threads took
/// seconds to minutes (QA finding): it is clamped to zvverify::MAX_JOBS, and no more
/// workers start than there are files.
#[test]
fn huge_job_counts_are_clamped() {
    let t = tempfile::tempdir().expect("tmp");
    valid_tree(t.path(), 3);
    for j in ["100000", "99999999999"] {
        let out = run(&["--format", "json", "-j", j, t.path().to_str().expect("utf8")]);
        no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "-j {j}: {}", String::from_utf8_lossy(&out.stderr));
        let r = json_report(&out);
        assert_eq!(r["throughput"]["threads"], zvverify::MAX_JOBS as u64, "-j {j}");
        assert_eq!(r["totals"]["passed"], 3);
    }
}

/// Regression: walk errors were listed in the order the file system returned directory
/// entries (on ext4, by hash), though directories are walked in sorted order and reports
/// are deterministic: two trees with the same names gave their dangling symlinks in
/// different orders. They are listed in walk order, which is sorted.
#[cfg(unix)]
#[test]
fn regress_walk_errors_are_listed_in_sorted_order() {
    let t = tempfile::tempdir().expect("tmp");
    let names: Vec<String> = (0..40).map(|i| format!("d{:02}", (i * 17) % 40)).collect();
    for n in &names {
        std::os::unix::fs::symlink("/nonexistent/target", t.path().join(n)).expect("symlink");
    }
    std::fs::create_dir(t.path().join("sub")).expect("mkdir");
    std::os::unix::fs::symlink("/nonexistent/target", t.path().join("sub/z")).expect("symlink");
    let out = run(&["--format", "json", "-q", t.path().to_str().expect("utf8")]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    let r = json_report(&out);
    let got: Vec<String> = r["walk_errors"]
        .as_array()
        .expect("walk errors")
        .iter()
        .map(|e| e.as_str().expect("str").split(": ").next().expect("path").to_string())
        .collect();
    let mut want: Vec<String> = names.iter().map(|n| t.path().join(n).display().to_string()).collect();
    want.push(t.path().join("sub/z").display().to_string());
    want.sort();
    assert_eq!(got, want);
}

/// Regression: a SARIF result without a DWARF source line had a physical location that
/// named only the nexe, with no `address` or `region` (SARIF 2.1.0 section 3.29): a
/// code-scanning viewer could not tell where in the file the violation is, and the
/// address was only in free-form `properties`. It has `address.absoluteAddress` (the guest
/// address; a file offset for `ELF`), and `ruleIndex` points at its rule in
/// `tool.driver.rules`, which lists the eleven ids of docs/zvverify.md once each.
#[test]
fn regress_sarif_results_locate_the_address_in_the_nexe() {
    let t = tempfile::tempdir().expect("tmp");
    let attacks = repo().join("test-corpus/attacks");
    std::fs::write(t.path().join("text.nexe"), b"not a nexe\n").expect("write");
    let text = t.path().join("text.nexe");
    let out = run(&["--format", "sarif", "-q", attacks.to_str().expect("utf8"), text.to_str().expect("utf8")]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let s = json_report(&out);
    assert_eq!(s["version"], "2.1.0");
    assert!(s["$schema"].as_str().expect("$schema").contains("sarif-2.1.0"));
    let run0 = &s["runs"][0];
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(rules, ["ELF", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10"]);
    let results = run0["results"].as_array().expect("results");
    let mut kinds = std::collections::BTreeSet::new();
    for r in results {
        let rule = r["ruleId"].as_str().expect("ruleId");
        let index = r["ruleIndex"].as_u64().unwrap_or_else(|| panic!("no ruleIndex: {r}"));
        assert_eq!(rules[index as usize], rule, "{r}");
        assert_eq!(r["level"], "error");
        assert!(!r["message"]["text"].as_str().expect("text").is_empty());
        let p = &r["locations"][0]["physicalLocation"];
        assert!(p["artifactLocation"]["uri"].is_string(), "{r}");
        let want = r["properties"]["address"].as_str().expect("address");
        let got = p["address"]["absoluteAddress"].as_u64().unwrap_or_else(|| panic!("no address: {r}"));
        assert_eq!(format!("{got:#x}"), want, "{r}");
        kinds.insert((rule == "ELF", p["address"]["kind"].as_str().map(str::to_string)));
    }
    assert!(kinds.contains(&(false, Some("instruction".into()))), "{kinds:?}");
    assert!(kinds.contains(&(true, None)), "ELF violations have a file offset, not an instruction: {kinds:?}");
}

/// Closed standard streams lose zvverify's report and messages, never end it with a Rust
/// panic (status 101; audit finding): the status stays the verdict's.
#[test]
fn closed_standard_streams_do_not_make_zvverify_panic() {
    for (name, status) in [("syscall.nexe", 1), ("bare-ret.nexe", 1)] {
        let (r, w) = std::io::pipe().expect("pipe");
        drop(r);
        let w2 = w.try_clone().expect("pipe");
        let st = zvverify()
            .arg(repo().join("test-corpus/attacks").join(name))
            .stdout(w)
            .stderr(w2)
            .status()
            .expect("zvverify runs");
        assert_eq!(st.code(), Some(status), "zvverify {name}: {st:?}");
    }
}
