//! ZeroVM text manifests: good files run, bad ones are refused naming the line.

use crate::{program, run, run_with, s};

fn manifest(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("session.manifest");
    std::fs::write(&p, body).expect("write manifest");
    p
}

#[test]
fn a_good_manifest_runs() {
    let t = tempfile::tempdir().expect("tmp");
    let out_file = t.path().join("out.txt");
    let m = manifest(
        t.path(),
        &format!(
            "Version = 20130611\nProgram = {}\nMemory = 67108864, 0\nTimeout = 10\n\
Channel = /dev/stdin, /dev/stdin, 0, 0, 100, 100000, 0, 0\n\
Channel = {}, /dev/stdout, 0, 0, 0, 0, 100, 100000\n\
Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 100000\n",
            s(&program("echo")),
            s(&out_file)
        ),
    );
    let out = run_with(&["--manifest", s(&m)], b"via manifest\n");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&out_file).expect("out"), b"via manifest\n");
}

#[test]
fn bad_manifests_name_the_line_and_give_125() {
    let t = tempfile::tempdir().expect("tmp");
    let head = format!("Version = 20130611\nProgram = {}\nMemory = 67108864, 0\n", s(&program("hello")));
    let std3 = "Channel = /dev/stdin, /dev/stdin, 0, 0, 1, 1, 0, 0\nChannel = /dev/stdout, /dev/stdout, 0, 0, 0, 0, 1, 1\nChannel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 1, 1\n";
    for (extra, needle) in [
        ("Colour = blue\n", "line 7: unknown key `Colour`"),
        ("Channel = x, y, 9, 0, 1, 1, 1, 1\n", "line 7: Channel type 9"),
        ("Timeout = soon\n", "line 7: Timeout `soon` is not an integer"),
        ("Channel = a, b\n", "line 7: Channel needs 8 fields"),
    ] {
        let m = manifest(t.path(), &format!("{head}{std3}{extra}"));
        let out = run(&["--manifest", s(&m)]);
        assert_eq!(out.status.code(), Some(125), "{extra}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{extra}: {err}");
    }
    let m = manifest(t.path(), &head);
    let out = run(&["--manifest", s(&m)]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing the /dev/stdin channel"));
    // RUNTIME.md section 5: Timeout is one of the keys (only Job is optional).
    let m = manifest(t.path(), &format!("{head}{std3}"));
    let out = run(&["--manifest", s(&m)]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing `Timeout = seconds`"));
}

/// docs/zvrun.md, "Exit status": the report is written in every case, also when the
/// session is refused for its manifest or options before anything runs.
#[test]
fn a_refused_configuration_still_gets_its_report() {
    let t = tempfile::tempdir().expect("tmp");
    let report = t.path().join("r.json");
    let bad = t.path().join("bad.manifest");
    std::fs::write(&bad, format!("Version = 20130611\nProgram = {}\nFoo = 1\n", s(&program("hello")))).unwrap();
    let job = t.path().join("job.manifest");
    std::fs::write(
        &job,
        format!(
            "Version = 20130611\nProgram = {}\nJob = /nonexistent/job.sock\nMemory = 67108864, 0\nTimeout = 10\n\
             Channel = /dev/stdin, /dev/stdin, 0, 0, 1, 1, 0, 0\n\
             Channel = /dev/stdout, /dev/stdout, 0, 0, 0, 0, 1, 1\n\
             Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 1, 1\n",
            s(&program("hello"))
        ),
    )
    .unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--manifest".into(), s(&bad).into()], "line 3: unknown key `Foo`"),
        (vec!["--channel".into(), "bad".into(), s(&program("hello")).into()], "--channel `bad`"),
        (vec!["--env".into(), "NOEQ".into(), s(&program("hello")).into()], "--env `NOEQ`: expected KEY=VALUE"),
        (vec!["--manifest".into(), s(&job).into()], "job socket /nonexistent/job.sock: No such file or directory"),
    ];
    for (args, want) in cases {
        let _ = std::fs::remove_file(&report);
        let mut all = vec!["--report".to_string(), "json".into(), "--report-file".into(), s(&report).into()];
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = run(&refs);
        assert_eq!(out.status.code(), Some(125), "{all:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{all:?}: {err}");
        let r = crate::json_report(&report);
        assert_eq!(r["state"], "error", "{r}");
        assert_eq!(r["status"], 125, "{r}");
        assert!(r["message"].as_str().is_some_and(|e| e.contains(want)), "{r}");
    }
}
