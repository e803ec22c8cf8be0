//! Hostile images: every one is refused with a clear message, never a panic.

use crate::{exit7_nexe, raw_tar, s, zvpack, MANIFEST};

/// Every hostile case: (name, tar bytes, words the error must contain).
pub fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let nexe = exit7_nexe();
    let n: &[u8] = &nexe;
    let base = |extra: (&'static [u8], u8, &'static [u8], &'static [u8])| {
        raw_tar(&[(b"manifest.json", b'0', MANIFEST, b""), (b"app.nexe", b'0', n, b""), extra])
    };
    let mut v = vec![
        ("traversal", base((b"../evil", b'0', b"x", b"")), "`..`"),
        ("absolute", base((b"/etc/evil", b'0', b"x", b"")), "absolute"),
        ("symlink", base((b"link", b'2', b"", b"/etc/passwd")), "regular files"),
        ("hardlink", base((b"hard", b'1', b"", b"app.nexe")), "regular files"),
        ("device", base((b"dev", b'3', b"", b"")), "regular files"),
        ("fifo", base((b"fifo", b'6', b"", b"")), "regular files"),
        ("duplicate", base((b"app.nexe", b'0', b"again", b"")), "appears twice"),
        ("no-manifest", raw_tar(&[(b"app.nexe", b'0', n, b"")]), "no manifest.json"),
        ("bad-json", raw_tar(&[(b"manifest.json", b'0', b"{not json", b""), (b"app.nexe", b'0', n, b"")]), "not valid JSON"),
        (
            "unknown-key",
            raw_tar(&[(b"manifest.json", b'0', br#"{"version":1,"program":"app.nexe","evil":true}"#, b""), (b"app.nexe", b'0', n, b"")]),
            "unknown key `evil`",
        ),
        ("no-program", raw_tar(&[(b"manifest.json", b'0', MANIFEST, b"")]), "not in the image"),
        (
            "missing-image-file",
            raw_tar(&[
                (
                    b"manifest.json",
                    b'0',
                    br#"{"version":1,"program":"app.nexe","channels":[{"alias":"/dev/stdin","limits":{"gets":1,"get_size":1,"puts":0,"put_size":0},"source":"stdin"},{"alias":"/dev/stdout","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stdout"},{"alias":"/dev/stderr","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stderr"},{"alias":"/x","type":1,"limits":{"gets":1,"get_size":1,"puts":0,"put_size":0},"source":{"image":"nothere"}}]}"#,
                    b"",
                ),
                (b"app.nexe", b'0', n, b""),
            ]),
            "nothere",
        ),
        ("pax-traversal", {
            let pax = b"25 path=../../etc/shadow\n";
            raw_tar(&[(b"manifest.json", b'0', MANIFEST, b""), (b"app.nexe", b'0', n, b""), (b"pax", b'x', pax, b""), (b"innocent", b'0', b"x", b"")])
        }, "`..`"),
    ];
    // QA findings (second pass): members an image may not hold, manifest values zvrun
    // could not use, and control characters in what the messages quote.
    v.push(("dev-member", base((b"dev/stdin", b'0', b"x", b"")), "`/dev` holds the standard streams"));
    v.push((
        "file-and-dir",
        {
            raw_tar(&[
                (b"manifest.json", b'0', MANIFEST, b""),
                (b"app.nexe", b'0', n, b""),
                (b"d", b'0', b"x", b""),
                (b"d/x", b'0', b"y", b""),
            ])
        },
        "one is a file the other lies under",
    ));
    let with_manifest = |m: &'static [u8]| raw_tar(&[(b"manifest.json", b'0', m, b""), (b"app.nexe", b'0', n, b"")]);
    v.push((
        "nul-in-env",
        with_manifest(br#"{"version":1,"program":"app.nexe","env":{"A\u0000":"v"}}"#),
        "contains a NUL byte",
    ));
    v.push((
        "nul-in-args",
        with_manifest(br#"{"version":1,"program":"app.nexe","args":["a\u0000b"]}"#),
        "`args[0]`: contains a NUL",
    ));
    v.push((
        "duplicate-key",
        with_manifest(br#"{"version":1,"program":"app.nexe","seed":1,"seed":2}"#),
        "duplicate key `seed`",
    ));
    v.push(("random-stdin", with_manifest(br#"{"version":1,"program":"app.nexe","channels":[{"alias":"/dev/stdin","type":1,"limits":{"gets":1,"get_size":1,"puts":0,"put_size":0},"source":"stdin"},{"alias":"/dev/stdout","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stdout"},{"alias":"/dev/stderr","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stderr"}]}"#), "on a standard stream"));
    // Security review: a channel on /proc/self/mem wrote zvrun's memory (zvrun refuses
    // it on the opened file; images spelling it evidently are refused when read).
    v.push(("proc-mem-channel", with_manifest(br#"{"version":1,"program":"app.nexe","channels":[{"alias":"/dev/stdin","limits":{"gets":1,"get_size":1,"puts":0,"put_size":0},"source":"stdin"},{"alias":"/dev/stdout","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stdout"},{"alias":"/dev/stderr","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stderr"},{"alias":"/mem","type":3,"limits":{"gets":1,"get_size":1,"puts":1,"put_size":1000000},"source":{"host":"/proc/./self/mem"}}]}"#), "kernel's /proc file system"));
    v.push(("too-little-memory", with_manifest(br#"{"version":1,"program":"app.nexe","memory":4096}"#), "too small"));
    v.push(("escape-in-program", with_manifest(b"{\"version\":1,\"program\":\"p\\u001b[31m\"}"), "p\\u{1b}[31m"));
    // Audit findings (eleventh session): tar tricks that make zv and other tar readers
    // see different members, and a manifest struct given as an array.
    v.push(("dir-with-data", base((b"dd/", b'5', b"0123456789", b"")), "declares 10 bytes of data"));
    v.push((
        "file-and-dir-entry",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"d", b'0', b"x", b""),
            (b"d/", b'5', b"", b""),
        ]),
        "a directory cannot be or lie under a file",
    ));
    v.push((
        "manifest-as-dir-too",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"manifest.json/", b'5', b"", b""),
        ]),
        "a directory cannot be or lie under a file",
    ));
    v.push((
        "dir-entry-twice",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"e/", b'5', b"", b""),
            (b"./e/", b'5', b"", b""),
        ]),
        "directory `e` appears twice",
    ));
    v.push((
        "pax-malformed-record",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"pax", b'x', b"99999 path=x\n", b""),
            (b"a.txt", b'0', b"x", b""),
        ]),
        "malformed PAX record",
    ));
    v.push((
        "pax-size-not-a-number",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"pax", b'x', b"12 size=abc\n", b""),
            (b"a.txt", b'0', b"xy", b""),
        ]),
        "PAX size `abc` is not a byte count",
    ));
    // Review findings: PAX records the tar crate reads differently from other readers.
    v.push((
        "pax-path-twice",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"pax", b'x', b"14 path=a.txt\n14 path=b.txt\n", b""),
            (b"a.txt", b'0', b"x", b""),
        ]),
        "PAX record `path` appears twice",
    ));
    v.push((
        "pax-size-twice",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"pax", b'x', b"9 size=1\n9 size=1\n", b""),
            (b"a.txt", b'0', b"x", b""),
        ]),
        "PAX record `size` appears twice",
    ));
    v.push((
        "pax-path-and-long-name",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"pax", b'x', b"14 path=b.txt\n", b""),
            (b"././@LongLink", b'L', b"readme.txt", b""),
            (b"a.txt", b'0', b"x", b""),
        ]),
        "and a GNU long name `readme.txt` disagree",
    ));
    v.push((
        "limits-as-array",
        with_manifest(br#"{"version":1,"program":"app.nexe","channels":[{"alias":"/dev/stdin","limits":[1,1,0,0],"source":"stdin"},{"alias":"/dev/stdout","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stdout"},{"alias":"/dev/stderr","limits":{"gets":0,"get_size":0,"puts":1,"put_size":1},"source":"stderr"}]}"#),
        "`channels[0].limits`: expected an object",
    ));
    // A member claiming more bytes than the file has.
    let mut t = raw_tar(&[(b"manifest.json", b'0', MANIFEST, b""), (b"app.nexe", b'0', n, b"")]);
    t.truncate(t.len() - 1024 - 512);
    v.push(("truncated", t, "past the end"));
    // A long (GNU 'L') name beyond 255 bytes.
    let long = vec![b'a'; 300];
    let longname: &'static [u8] = Box::leak(long.into_boxed_slice());
    v.push((
        "long-path",
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', n, b""),
            (b"././@LongLink", b'L', longname, b""),
            (b"x", b'0', b"x", b""),
        ]),
        "longer than 255",
    ));
    // Too many members.
    let mut many: Vec<zvcore::testgen::RawEntry<'_>> =
        vec![(b"manifest.json", b'0', MANIFEST, b""), (b"app.nexe", b'0', n, b"")];
    let names: Vec<Vec<u8>> = (0..4100).map(|i| format!("f{i}").into_bytes()).collect();
    for name in &names {
        many.push((name, b'0', b"", b""));
    }
    v.push(("too-many-members", raw_tar(&many), "more than 4096 members"));
    // A bad checksum.
    let mut bad = raw_tar(&[(b"manifest.json", b'0', MANIFEST, b""), (b"app.nexe", b'0', n, b"")]);
    bad[148] = b'7';
    v.push(("bad-checksum", bad, "tar"));
    v
}

#[test]
fn every_hostile_image_is_refused_by_check_and_inspect() {
    let t = tempfile::tempdir().expect("tmp");
    for (name, bytes, want) in cases() {
        let p = t.path().join(format!("{name}.tar"));
        std::fs::write(&p, &bytes).expect("write");
        for cmd in ["check", "inspect"] {
            let out = zvpack(&[cmd, s(&p)]);
            assert_eq!(out.status.code(), Some(1), "{name} {cmd}: {}", String::from_utf8_lossy(&out.stderr));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(want), "{name} {cmd}: message `{err}` lacks `{want}`");
        }
    }
}

#[test]
fn a_valid_raw_image_passes() {
    let t = tempfile::tempdir().expect("tmp");
    let p = t.path().join("ok.tar");
    std::fs::write(
        &p,
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', &exit7_nexe(), b""),
            (b"dir/", b'5', b"", b""),
        ]),
    )
    .expect("write");
    let out = zvpack(&["check", s(&p)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `check` and `inspect` read only regular files: a FIFO would block the open forever,
/// and a directory or a device is not an image. Each is an I/O error (status 2) that
/// says what the path is, never a hang or "malformed tar".
#[cfg(unix)]
#[test]
fn regress_non_regular_files_are_refused_with_status_2_not_a_hang() {
    let t = tempfile::tempdir().expect("tmp");
    let fifo = t.path().join("fifo.tar");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    for (p, what) in [(fifo.as_path(), "FIFO"), (t.path(), "directory"), (std::path::Path::new("/dev/null"), "device")]
    {
        for cmd in ["check", "inspect"] {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zvpack"))
                .args([cmd, s(p)])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn");
            let start = std::time::Instant::now();
            while child.try_wait().expect("wait").is_none() {
                if start.elapsed() > std::time::Duration::from_secs(20) {
                    let _ = child.kill();
                    panic!("zvpack {cmd} {} hangs", p.display());
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let out = child.wait_with_output().expect("output");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {}: {err}", p.display());
            assert!(err.contains(what) && err.contains("not a regular file"), "{cmd} {}: {err}", p.display());
        }
    }
}

/// Member paths may hold any character but NUL and backslash; the human listing of
/// `inspect` escapes control characters so that a name cannot forge listing lines.
#[test]
fn regress_inspect_escapes_control_characters_in_member_names() {
    let t = tempfile::tempdir().expect("tmp");
    let p = t.path().join("nl.tar");
    let nexe = exit7_nexe();
    std::fs::write(
        &p,
        raw_tar(&[
            (b"manifest.json", b'0', MANIFEST, b""),
            (b"app.nexe", b'0', &nexe, b""),
            (b"x\n      0      0  fake\x1b[2J", b'0', b"data", b""),
        ]),
    )
    .expect("write");
    let out = zvpack(&["inspect", s(&p)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.lines().all(|l| !l.ends_with(" fake\\u{1b}[2J") || l.contains("x\\n")), "{text}");
    assert!(!text.lines().any(|l| l.trim_start().starts_with("0      0  fake")), "{text}");
    assert!(text.contains("x\\n"), "{text}");
}

/// The manifest `inspect` shows (human and `--json`) has no bidirectional override or C1
/// control character raw: a right-to-left override in a channel's host path would reorder
/// how the path a reviewer reads displays (audit finding). The JSON keeps its value.
#[test]
fn inspect_escapes_bidi_and_c1_controls_in_the_manifest() {
    let t = tempfile::tempdir().expect("tmp");
    let p = t.path().join("bidi.tar");
    let man = "{\"version\":1,\"program\":\"app.nexe\",\"channels\":[\
        {\"alias\":\"/dev/stdin\",\"source\":\"stdin\",\"limits\":{\"gets\":1,\"get_size\":1,\"puts\":0,\"put_size\":0}},\
        {\"alias\":\"/dev/stdout\",\"source\":\"stdout\",\"limits\":{\"gets\":0,\"get_size\":0,\"puts\":1,\"put_size\":1}},\
        {\"alias\":\"/dev/stderr\",\"source\":\"stderr\",\"limits\":{\"gets\":0,\"get_size\":0,\"puts\":1,\"put_size\":1}},\
        {\"alias\":\"/in\",\"source\":{\"host\":\"safe\u{202e}txt.exe\u{9b}\"},\"limits\":{\"gets\":1,\"get_size\":1,\"puts\":0,\"put_size\":0}}]}";
    let nexe = exit7_nexe();
    std::fs::write(&p, raw_tar(&[(b"manifest.json", b'0', man.as_bytes(), b""), (b"app.nexe", b'0', &nexe, b"")]))
        .expect("write");
    for json in [false, true] {
        let out = zvpack(&if json { vec!["inspect", "--json", s(&p)] } else { vec!["inspect", s(&p)] });
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains('\u{202e}') && !text.contains('\u{9b}'), "{text}");
        assert!(text.contains("safe\\u202etxt.exe\\u009b"), "{text}");
        if json {
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(v["manifest"]["channels"][3]["source"]["host"], "safe\u{202e}txt.exe\u{9b}", "{text}");
        }
    }
}

/// Closed standard streams lose zvpack's output and messages, never end it with a Rust
/// panic (status 101; audit finding): the status stays the command's.
#[test]
fn closed_standard_streams_do_not_make_zvpack_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("missing.tar");
    for (args, status) in
        [(vec!["inspect".to_string(), missing.display().to_string()], 2), (vec!["--version".into()], 0)]
    {
        let (r, w) = std::io::pipe().expect("pipe");
        drop(r);
        let w2 = w.try_clone().expect("pipe");
        let st = std::process::Command::new(env!("CARGO_BIN_EXE_zvpack"))
            .args(&args)
            .stdout(w)
            .stderr(w2)
            .status()
            .expect("zvpack runs");
        assert_eq!(st.code(), Some(status), "zvpack {args:?}: {st:?}");
    }
}

/// A program member that declares 4 GiB (a sparse file of a few KB): `zvpack check` and
/// `inspect` read only the nexe's headers and segments, as zvverify and zvrun do (audit
/// finding: they read the whole member, 4 GB of memory and half a minute, or an abort
/// under a memory limit). Run under a 1 GB address-space limit.
#[cfg(unix)]
#[test]
fn a_program_member_that_declares_gigabytes_is_checked_in_bounded_memory() {
    use std::io::{Seek, Write};
    const HUGE: u64 = 4 << 30;
    let dir = tempfile::tempdir().expect("tmp");
    let image = dir.path().join("huge.tar");
    let nexe = crate::exit7_nexe();
    let mut f = std::fs::File::create(&image).expect("create");
    let manifest = raw_tar(&[(b"manifest.json", b'0', MANIFEST, b"")]);
    f.write_all(&manifest[..manifest.len() - 1024]).expect("write");
    f.write_all(&zvcore::testgen::raw_header(b"app.nexe", b'0', HUGE, b"")).expect("write");
    f.write_all(&nexe).expect("write");
    // The rest of the member and the end-of-archive blocks are zeros: a sparse file.
    let end = f.stream_position().expect("pos") - nexe.len() as u64 + HUGE + 1024;
    f.set_len(end).expect("set_len");
    drop(f);
    for cmd in ["check", "inspect"] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v 1000000; exec \"$0\" {cmd} \"$1\""))
            .arg(env!("CARGO_BIN_EXE_zvpack"))
            .arg(&image)
            .output()
            .expect("zvpack runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "zvpack {cmd}: {text}");
        assert!(text.contains("128 bytes of code"), "zvpack {cmd}: {text}");
        if cmd == "inspect" {
            assert!(text.contains("4294967296"), "zvpack inspect shows the member's size: {text}");
        }
    }
}
