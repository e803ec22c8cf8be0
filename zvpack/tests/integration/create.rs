//! Creating, inspecting and checking images.

use crate::{exit7_nexe, s, zvpack};

#[test]
fn create_inspect_check() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let data = t.path().join("data.txt");
    std::fs::write(&data, b"some data").expect("write");
    let img = t.path().join("app.tar");
    let out = zvpack(&[
        "create",
        "-o",
        s(&img),
        s(&nexe),
        "--memory",
        "67108864",
        "--timeout",
        "5",
        "--arg",
        "app",
        "--arg",
        "-x",
        "--env",
        "A=1",
        "--seed",
        "9",
        "--file",
        &format!("files/data.txt={}", s(&data)),
        "--channel",
        "/dev/extra=image:files/data.txt",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = zvpack(&["inspect", s(&img)]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["manifest.json", "app.nexe", "files/data.txt", "verification: pass", "\"seed\": 9", "\"timeout\": 5"] {
        assert!(text.contains(want), "inspect lacks {want}:\n{text}");
    }
    let out = zvpack(&["inspect", "--json", s(&img)]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["verification"]["verdict"], "pass");
    assert_eq!(j["manifest"]["args"], serde_json::json!(["app", "-x"]));
    assert_eq!(j["manifest"]["env"]["A"], "1");
    let members = j["members"].as_array().expect("members");
    assert_eq!(members[1]["path"], "app.nexe");
    assert_eq!(members[1]["offset"].as_u64().expect("offset") % 4096, 0, "the nexe is 4 KiB-aligned");
    assert_eq!(members[2]["size"], 9);
    let out = zvpack(&["check", s(&img)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn two_creates_give_identical_bytes() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let d1 = t.path().join("b.txt");
    let d2 = t.path().join("a.txt");
    std::fs::write(&d1, b"bbb").expect("write");
    std::fs::write(&d2, b"aaa").expect("write");
    let mut images = Vec::new();
    for (i, order) in [[&d1, &d2], [&d2, &d1]].iter().enumerate() {
        let img = t.path().join(format!("{i}.tar"));
        // Different mtimes and argument order must not change the bytes.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(order[0], std::fs::read(order[0]).expect("read")).expect("touch");
        let files: Vec<String> =
            order.iter().map(|p| format!("{}={}", p.file_name().expect("name").to_string_lossy(), s(p))).collect();
        let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--file", &files[0], "--file", &files[1]]);
        assert_eq!(out.status.code(), Some(0));
        images.push(std::fs::read(&img).expect("read"));
    }
    assert!(images[0] == images[1], "two creates differ");
}

#[test]
fn an_invalid_nexe_is_refused_and_nothing_is_written() {
    let t = tempfile::tempdir().expect("tmp");
    let bad = t.path().join("bad.nexe");
    std::fs::write(&bad, zvcore::attacks::bytes_nexe(&[0x0F, 0x05])).expect("write");
    let img = t.path().join("bad.tar");
    let out = zvpack(&["create", "-o", s(&img), s(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("C3"));
    assert!(!img.exists());
    assert_eq!(std::fs::read_dir(t.path()).expect("dir").count(), 1, "no temporary file left behind");
}

/// A declared channel whose alias names a data file's (`/` + its path) with another
/// source would hide the file from the guest: refused however the alias is spelled, as
/// zrt opens `//x`, `/./x` and `/d/../x` as `/x` (audit finding: only the exact
/// spelling was refused, and the guest read the host file instead of the image's).
/// Two channels whose aliases name one path are refused the same way.
#[test]
fn an_alias_that_would_hide_a_data_file_is_refused_however_spelled() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let data = t.path().join("a.txt");
    std::fs::write(&data, b"image data").expect("write");
    let host = t.path().join("h.txt");
    std::fs::write(&host, b"host data").expect("write");
    let img = t.path().join("hide.tar");
    let file = format!("x={}", s(&data));
    for alias in ["/x", "//x", "/./x", "/d/../x", "x"] {
        let ch = format!("{alias}=host:{}", s(&host));
        let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--channel", &ch, "--file", &file]);
        assert_eq!(out.status.code(), Some(1), "{alias}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is the alias of the image file `x`, which this channel's source would hide"),
            "{alias}: {err}"
        );
        assert!(!img.exists(), "{alias}");
    }
    let a = format!("/y=host:{}", s(&host));
    let b = format!("//y=host:{}", s(&host));
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--channel", &a, "--channel", &b]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("given twice (as the guest opens it, `/y`)"));
}

#[test]
fn a_manifest_file_is_used_and_usage_errors_give_2() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("x.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let m = t.path().join("m.json");
    std::fs::write(&m, br#"{"version":1,"program":"bin/prog","memory":33554432}"#).expect("write");
    let img = t.path().join("m.tar");
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--manifest", s(&m)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&zvpack(&["inspect", "--json", s(&img)]).stdout).expect("json");
    assert_eq!(j["manifest"]["program"], "bin/prog");
    assert_eq!(j["manifest"]["memory"], 33554432);
    for args in
        [&["create", "-o", "x.tar"][..], &["frobnicate"], &["create", "-o", s(&img), s(&nexe), "--file", "nohost"]]
    {
        assert_eq!(zvpack(args).status.code(), Some(2), "{args:?}");
    }
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--file", "../up=/etc/hostname"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Regression: an invalid manifest given with `--manifest` exited 2 (usage or I/O error);
/// it is an invalid image, status 1. A manifest file that cannot be read is still 2.
#[test]
fn regress_an_invalid_manifest_file_gives_1_and_an_unreadable_one_2() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("x.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let m = t.path().join("m.json");
    let img = t.path().join("m.tar");
    for (text, want) in [
        (&br#"{"version":1,"program":"p","bogus":1}"#[..], "unknown key `bogus`"),
        (br#"{"version":1,"program":"p","timeout":0}"#, "timeout"),
        (b"{not json", "not valid JSON"),
    ] {
        std::fs::write(&m, text).expect("write");
        let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--manifest", s(&m)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(want), "`{err}` lacks `{want}`");
        assert!(!img.exists());
    }
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--manifest", s(&t.path().join("absent.json"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    // Inputs that are not regular files are refused, never read: /dev/zero filled memory
    // and a FIFO without a writer blocked forever (QA finding).
    for (flag, path) in [("--manifest", "/dev/zero"), ("--file", "x=/dev/zero"), ("--file", "x=/dev/null")] {
        let out = zvpack(&["create", "-o", s(&img), s(&nexe), flag, path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {path}: {err}");
        assert!(err.contains("character device, not a regular file"), "{err}");
    }
    let fifo = t.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let out = zvpack(&["create", "-o", s(&img), s(&fifo)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIFO"));
    assert!(!img.exists());
}

/// Regression: `create` wrote (status 0) an image with an `{"image": ...}` channel
/// allowed to write, which `check` and zvrun then refused. `create` now refuses every
/// manifest `check` would refuse, with status 1, and writes nothing.
#[test]
fn regress_create_refuses_a_manifest_that_check_would_refuse() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("hello.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let one = t.path().join("one.txt");
    std::fs::write(&one, b"one").expect("write");
    let img = t.path().join("o3.tar");
    let file = format!("d={}", s(&one));
    for (args, want) in [
        (&["--file", &file, "--channel", "/d=image:d,1,1,1,1,1"][..], "read-only"),
        (&["--file", &file, "--channel", "/d=image:d,1,0,0,5,5"], "read-only"),
        (&["--channel", "/d=image:d"], "not added with --file"),
        (&["--env", "=x"], "env"),
    ] {
        let out = zvpack(&[&["create", "-o", s(&img), s(&nexe)][..], args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: `{err}` lacks `{want}`");
        assert!(!img.exists(), "{args:?}: an image was written");
        assert_eq!(std::fs::read_dir(t.path()).expect("dir").count(), 2, "{args:?}: no temporary file left behind");
    }
    // The same channel, read-only, is fine, and what create writes, check accepts.
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--file", &file, "--channel", "/d=image:d,1,1,1,0,0"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(zvpack(&["check", s(&img)]).status.code(), Some(0));
}

/// The temporary file `create` writes first is never a path someone else can plant: a
/// symlink at the old fixed name `.NAME.zvpack-tmp` pointing outside the directory must
/// neither be written through nor renamed into place.
#[cfg(unix)]
#[test]
fn regress_create_does_not_write_through_a_planted_temporary_symlink() {
    let t = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("tmp");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious").expect("write");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let out_dir = t.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    std::os::unix::fs::symlink(&victim, out_dir.join(".app.tar.zvpack-tmp")).expect("symlink");
    let img = out_dir.join("app.tar");
    let out = zvpack(&["create", "-o", s(&img), s(&nexe)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&victim).expect("read"), b"precious", "written through the symlink");
    assert!(std::fs::symlink_metadata(&img).expect("stat").file_type().is_file(), "the image is not a regular file");
    assert_eq!(zvpack(&["check", s(&img)]).status.code(), Some(0));
}

/// QA findings: an unbound standard input declared on the command line is read-only (as
/// zvrun's `--channel` defaults: binding it later must not open the file for writing),
/// and `check` on a nexe says it is one, not a tar checksum error.
#[test]
fn unbound_stdin_is_read_only_and_check_names_a_nexe() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let img = t.path().join("n.tar");
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--channel", "/dev/stdin=none"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = zvpack(&["inspect", "--json", s(&img)]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let stdin =
        doc["manifest"]["channels"].as_array().expect("channels").iter().find(|c| c["alias"] == "/dev/stdin").cloned();
    let limits = &stdin.expect("stdin")["limits"];
    assert_eq!(limits["puts"], 0, "{limits}");
    assert!(limits["gets"].as_i64().unwrap_or(0) > 0, "{limits}");
    let out = zvpack(&["check", s(&nexe)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is an ELF file (a nexe?), not an image"));
    // `inspect --json` prints a document for an invalid image too.
    let out = zvpack(&["inspect", "--json", s(&nexe)]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["valid"], false);
    assert!(doc["error"].as_str().unwrap_or("").contains("not an image"), "{doc}");
    let out = zvpack(&["inspect", "--json", s(&img)]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["valid"], true);
}

/// docs/images.md: the options override the `--manifest` file: `--arg` replaces its `args`
/// (argv in full), `--env` adds to its `env` (the option wins on a shared key), and
/// `--channel` replaces a channel of the same alias.
#[test]
fn options_override_the_manifest_file() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let m = t.path().join("m.json");
    std::fs::write(&m, r#"{"version": 1, "program": "app.nexe", "args": ["m0", "m1"], "env": {"A": "1", "C": "4"}}"#)
        .expect("write");
    let img = t.path().join("app.tar");
    let out = zvpack(&[
        "create",
        "-o",
        s(&img),
        s(&nexe),
        "--manifest",
        s(&m),
        "--arg",
        "c0",
        "--env",
        "A=3",
        "--env",
        "B=2",
        "--channel",
        "/dev/stdout=stdout,0,0,0,5,500",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = zvpack(&["inspect", "--json", s(&img)]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["manifest"]["args"], serde_json::json!(["c0"]));
    assert_eq!(j["manifest"]["env"], serde_json::json!({"A": "3", "B": "2", "C": "4"}));
    let chans = j["manifest"]["channels"].as_array().expect("channels");
    let stdout: Vec<_> = chans.iter().filter(|c| c["alias"] == "/dev/stdout").collect();
    assert_eq!(stdout.len(), 1, "{chans:?}");
    assert_eq!(stdout[0]["limits"]["puts"], 5);
    assert_eq!(stdout[0]["limits"]["put_size"], 500);
}

/// QA findings: `--memory` takes zvrun's spelling (K, M, G suffixes; `64M` was a clap
/// error), and a `--time` past 2^63 - 1, which the guest's signed `time_t` would read as
/// negative (zvrun's `--time` refuses it), makes an invalid image (status 1, naming
/// `time`), as such a manifest.json does for `check` and zvrun.
#[test]
fn memory_takes_suffixes_and_a_time_past_i64_is_refused() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let img = t.path().join("app.tar");
    for (m, bytes) in [("64M", 64u64 << 20), ("65536k", 64 << 20), ("1G", 1 << 30), ("67108864", 64 << 20)] {
        let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--memory", m]);
        assert_eq!(out.status.code(), Some(0), "{m}: {}", String::from_utf8_lossy(&out.stderr));
        let out = zvpack(&["inspect", "--json", s(&img)]);
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(j["manifest"]["memory"], bytes, "{m}");
    }
    for m in ["64MB", "1.5G", "-1", "", "18446744073709551615K"] {
        let out = zvpack(&["create", "-o", s(&img), s(&nexe), &format!("--memory={m}")]);
        assert_eq!(out.status.code(), Some(2), "{m}");
    }
    std::fs::remove_file(&img).expect("rm");
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--time", "9223372036854775808"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("key `time`"), "{err}");
    assert!(!img.exists(), "an image was written");
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--time", "9223372036854775807"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Regression: a `--file` path an image may not hold is a usage error (status 2,
/// docs/images.md), but a path under `dev/` or one that is both a file and a directory
/// of another (`d` and `d/x`) was refused only when the written image was read back, as
/// an invalid image (status 1, "the image would be invalid: member ..."). They are refused
/// with status 2, naming the option, like `../up` and duplicates; nothing is written.
#[test]
fn regress_file_paths_an_image_may_not_hold_are_usage_errors() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("x.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let data = t.path().join("data");
    std::fs::write(&data, b"data").expect("write");
    let img = t.path().join("out.tar");
    let f = |inside: &str| format!("{inside}={}", s(&data));
    for files in [
        vec![f("dev/x")],
        vec![f("dev")],
        vec![f("d"), f("d/x")],
        vec![f("d/x/y"), f("d/x")],
        vec![f("x.nexe/y")],
        vec![f("manifest.json/y")],
        vec![f("a"), f("./a")],
        vec![f("../up")],
    ] {
        let mut args = vec!["create", "-o", s(&img), s(&nexe)];
        for x in &files {
            args.extend(["--file", x.as_str()]);
        }
        let out = zvpack(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{files:?}: {err}");
        assert!(err.contains("--file"), "{files:?}: the message names the option: {err}");
        assert!(!img.exists(), "{files:?}: nothing is written");
    }
    // The program's own path is the manifest's: an invalid image, status 1, as before.
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--name", "dev/app"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let out = zvpack(&["create", "-o", s(&img), s(&nexe), "--file", &f("d/x"), "--file", &f("dx")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `--channel` of an alias the manifest already has replaces that channel in its place
/// (the guest sees the channels in manifest order); a new alias goes at the end.
#[test]
fn a_replaced_channel_keeps_its_place() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let img = t.path().join("app.tar");
    let out = zvpack(&[
        "create",
        "-o",
        s(&img),
        s(&nexe),
        "--channel",
        "/dev/stdin=none,0,5,500,0,0",
        "--channel",
        "/dev/new=none,0,1,1,0,0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = zvpack(&["inspect", "--json", s(&img)]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let aliases: Vec<&str> =
        j["manifest"]["channels"].as_array().expect("channels").iter().map(|c| c["alias"].as_str().unwrap()).collect();
    assert_eq!(aliases, ["/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/new"], "{j}");
    assert_eq!(j["manifest"]["channels"][0]["limits"]["gets"], 5, "{j}");
    assert_eq!(j["manifest"]["channels"][0]["source"], "none", "{j}");
}

/// `-o` naming a stream (here a symlink to zvpack's own standard output, a pipe, as
/// `/dev/stdout` is one) writes the image through it and keeps the symlink: a temporary
/// file renamed over `/dev/stdout` would leave a regular file there for every later
/// program. The same bytes as an image written to a file.
#[test]
fn an_image_written_to_a_stream_goes_through_it() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = t.path().join("app.nexe");
    std::fs::write(&nexe, exit7_nexe()).expect("write");
    let link = t.path().join("stdout-link");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).expect("symlink");
    let out = zvpack(&["create", "-o", s(&link), s(&nexe)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).expect("lstat").file_type().is_symlink(), "the symlink was replaced");
    let img = t.path().join("app.tar");
    let file = zvpack(&["create", "-o", s(&img), s(&nexe)]);
    assert_eq!(file.status.code(), Some(0));
    assert!(!out.stdout.is_empty() && out.stdout == std::fs::read(&img).expect("read"), "stdout holds another image");
}
