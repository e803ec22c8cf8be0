//! Channels: regular files, character devices, FIFOs and the standard streams;
//! sequential and random access; quotas; etags.

use crate::{json_report, program, run, run_with, s};

#[test]
fn stdin_to_stdout_through_a_pipe() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let out = run_with(&[s(&program("echo"))], &data);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == data);
}

/// A channel alias under another (`/data` and `/data/x`) would be opened through a file:
/// refused with 125, as an image refuses members `d` and `d/x` (audit finding).
#[test]
fn an_alias_under_another_is_refused() {
    let t = tempfile::tempdir().expect("tmp");
    let f = t.path().join("f");
    std::fs::write(&f, b"x").expect("write");
    let (a, b) = (format!("/data={},1", s(&f)), format!("//data/./x={},1", s(&f)));
    let out = run(&["--channel", &a, "--channel", &b, s(&program("hello"))]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("channel alias //data/./x lies under /data, which is a file for the guest"), "{err}");
}

#[test]
fn file_channels_and_a_character_device() {
    let t = tempfile::tempdir().expect("tmp");
    let input = t.path().join("in.bin");
    let output = t.path().join("out.bin");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&input, &data).expect("write");
    std::fs::write(&output, b"old contents that must be truncated away, longer than nothing").expect("write");
    let out = run(&[
        "--channel",
        &format!("/dev/stdin={}", s(&input)),
        "--channel",
        &format!("/dev/stdout={},0,0,0,1000000,100000000", s(&output)),
        s(&program("echo")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&output).expect("read") == data);
    // /dev/zero is a character device: reading it never ends, so bound it with a quota.
    let out = run(&[
        "--channel",
        "/dev/stdin=/dev/zero,0,3,10000,0,0",
        "--channel",
        "/dev/stdout=/dev/null",
        s(&program("echo")),
    ]);
    // The fourth Read exceeds gets=3: echo exits with EDQUOT (122).
    assert_eq!(out.status.code(), Some(122));
}

#[test]
fn a_fifo_channel() {
    let t = tempfile::tempdir().expect("tmp");
    let fifo = t.path().join("fifo");
    let st = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let f2 = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::write(f2, b"through a fifo\n").expect("write fifo"));
    let out = run(&["--channel", &format!("/dev/stdin={}", s(&fifo)), s(&program("echo"))]);
    writer.join().expect("writer");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"through a fifo\n");
}

/// A random type on a FIFO is refused before the guest starts (125), for a read-only or
/// write-only channel too, whose open would otherwise wait for the FIFO's other end (an
/// audit found the session hung there, with no timeout, or ended as one).
#[test]
fn a_random_type_on_a_fifo_is_refused_without_waiting_for_its_other_end() {
    let t = tempfile::tempdir().expect("tmp");
    let fifo = t.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    for (spec, what) in [("1,1,1,0,0", "read"), ("2,0,0,1,1", "write"), ("3", "both")] {
        let out = run(&["--timeout", "20", "--channel", &format!("/x={},{spec}", s(&fifo)), s(&program("hello"))]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{what}: {err}");
        assert!(err.contains("needs random access"), "{what}: {err}");
        assert!(err.contains("the source is a FIFO or pipe"), "{what}: {err}");
    }
    // The source's kind in words (audit finding: the message said "a CharDevice").
    let out = run(&["--timeout", "20", "--channel", "/x=/dev/null,1", s(&program("hello"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("the source is a character device"), "{err}");
}

#[test]
fn random_read_and_random_write_channels() {
    let t = tempfile::tempdir().expect("tmp");
    let data = t.path().join("data.txt");
    let rw = t.path().join("rw.txt");
    std::fs::write(&data, b"0123456789abcdefghij").expect("write");
    std::fs::write(&rw, b"........").expect("write");
    let out = run(&[
        "--channel",
        &format!("/dev/data={},1,10,1000,0,0", s(&data)),
        "--channel",
        &format!("/dev/rw={},3,10,1000,10,1000", s(&rw)),
        s(&program("random")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"abcde");
    assert_eq!(std::fs::read(&rw).expect("read"), b"....XY..\0\0\0\0\0\0\0\0\0\0\0\0XY");
    // (random.S also wrote "XY" at offset 20 and, on this type-3 channel, read it back
    // past the file's first size.)
    // Type 2 (sequential read, random write) writes at the offset too.
    std::fs::write(&rw, b"........").expect("write");
    let out = run(&[
        "--channel",
        &format!("/dev/data={},1,10,1000,0,0", s(&data)),
        "--channel",
        &format!("/dev/rw={},2,10,1000,10,1000", s(&rw)),
        s(&program("random")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&rw).expect("read"), b"....XY..\0\0\0\0\0\0\0\0\0\0\0\0XY");
    // A random type on a pipe is refused before the guest starts.
    let out = run(&["--channel", "/dev/stdin=/dev/stdin,1", s(&program("echo"))]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("random access"));
}

#[test]
fn quotas_clip_and_then_refuse() {
    // put_size 5: the Write is clipped to 5 bytes.
    let out = run_with(&["--channel", "/dev/stdout=/dev/stdout,0,0,0,100,5", s(&program("echo"))], b"hello world");
    assert_eq!(out.stdout, b"hello");
    assert_eq!(out.status.code(), Some(0));
    // puts 1: echo's second Write (its input takes two 4 KiB Reads) gets -EDQUOT and
    // echo exits with EDQUOT (122).
    let data = vec![b'z'; 5000];
    let out = run_with(&["--channel", "/dev/stdout=/dev/stdout,0,0,0,1,100000", s(&program("echo"))], &data);
    assert_eq!(out.stdout.len(), 4096);
    assert_eq!(out.status.code(), Some(122));
}

#[test]
fn etags_are_the_sha1_of_the_bytes_through_a_channel() {
    let t = tempfile::tempdir().expect("tmp");
    let rep = t.path().join("r.json");
    let data = b"some bytes for the etag".to_vec();
    let out = run_with(&["--etag", "--report", "json", "--report-file", s(&rep), s(&program("echo"))], &data);
    assert_eq!(out.status.code(), Some(0));
    let r = json_report(&rep);
    let want = sha1_smol::Sha1::from(&data).digest().to_string();
    assert_eq!(r["channels"][0]["etag"], want.as_str());
    assert_eq!(r["channels"][1]["etag"], want.as_str());
    assert_eq!(r["channels"][0]["get_bytes"], data.len());
    assert_eq!(r["channels"][1]["put_bytes"], data.len());
}

/// zvrun starts with its own C `main` (no Rust runtime start-up), so it must itself do
/// what that start-up did: closed standard descriptors are reopened on /dev/null, so the
/// files zvrun opens (here, the nexe) never become the guest's stdout.
#[test]
fn closed_standard_streams_become_dev_null() {
    let dir = tempfile::tempdir().expect("tmp");
    let nexe = dir.path().join("hello.nexe");
    std::fs::copy(program("hello"), &nexe).expect("copy");
    let before = std::fs::read(&nexe).expect("read");
    let report = dir.path().join("r.json");
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" --no-cache --report json --report-file "$2" "$1" >&- <&-"#)
        .arg(env!("CARGO_BIN_EXE_zvrun"))
        .arg(&nexe)
        .arg(&report)
        .status()
        .expect("sh runs");
    assert_eq!(st.code(), Some(0), "the guest's writes to a closed stdout go to /dev/null");
    assert_eq!(std::fs::read(&nexe).expect("read"), before, "the nexe was not written to");
    let r = json_report(&report);
    let stdout = r["channels"].as_array().expect("channels").iter().find(|c| c["alias"] == "/dev/stdout");
    assert!(stdout.expect("stdout channel")["puts"].as_i64().unwrap_or(0) > 0, "{r}");
}

/// A guest writing to a pipe nobody reads: zvrun is not killed by SIGPIPE in the middle
/// of the Write (it ignores it, as Rust's start-up would); it ends the session, writes
/// its report ("killed" by SIGPIPE), and only then dies of SIGPIPE, as the native program
/// would have (status 141 to a shell; until the fifteenth session this was 125, "could
/// not run the session", which `zvrun prog | head` under pipefail reported as a failure).
#[test]
fn a_closed_pipe_ends_the_session_after_the_report_as_sigpipe() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("tmp");
    let report = dir.path().join("r.json");
    let mut child = crate::zvrun()
        .args(["--report", "json", "--report-file", s(&report), s(&program("echo"))])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The reader goes away before the guest writes anything.
    drop(child.stdout.take());
    let mut input = child.stdin.take().expect("stdin");
    let _ = input.write_all(b"into a closed pipe\n");
    drop(input);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
    assert!(out.stderr.is_empty(), "silent, as a native program: {}", String::from_utf8_lossy(&out.stderr));
    let r = json_report(&report);
    assert_eq!(r["state"], "killed", "{r}");
    assert_eq!(r["status"], 141, "{r}");
}

/// zvrun's own messages to a stderr whose reader is gone: the write fails (SIGPIPE is
/// ignored) and zvrun still ends with the documented status (no panic, no abort).
#[test]
fn a_closed_stderr_does_not_change_the_exit_status() {
    let script = "import os, subprocess, sys\n\
                  r, w = os.pipe()\n\
                  os.close(r)\n\
                  p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=w)\n\
                  print(p.returncode)\n";
    let status = |args: &[&str]| {
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_zvrun"))
            .args(args)
            .output()
            .expect("python3 runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(status(&["/nonexistent/program.nexe"]), "125", "a session that cannot run");
    assert_eq!(status(&["--timeout", "0", "x.nexe"]), "125", "a usage error");
    assert_eq!(status(&[s(&program("fault")), "hlt"]), (128 + 11).to_string(), "a guest fault, described on stderr");
}

/// docs/zvrun.md: zvrun's standard streams as a channel's uri are always read and
/// written in sequence, whatever they are redirected to; a random type is refused.
#[test]
fn standard_streams_refuse_random_types_even_when_redirected_from_a_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, b"abcdefghij").expect("write");
    let out = crate::zvrun()
        .args(["--channel", "/in=/dev/stdin,1", s(&program("random"))])
        .stdin(std::fs::File::open(&input).expect("open"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("standard streams are read and written in sequence"), "{err}");
}

/// zvrun's own stdout and stderr are written as any program writes them: a file they are
/// appended to (`>>`) or shared with other writers keeps what it held (QA finding: the
/// files behind them were truncated).
#[test]
fn the_files_behind_zvruns_standard_streams_are_not_truncated() {
    let t = tempfile::tempdir().expect("tmp");
    let out_file = t.path().join("out.txt");
    let err_file = t.path().join("err.txt");
    std::fs::write(&out_file, b"before\n").unwrap();
    std::fs::write(&err_file, b"kept\n").unwrap();
    let append = |p: &std::path::Path| std::fs::OpenOptions::new().append(true).open(p).unwrap();
    let st = crate::zvrun()
        .arg(program("hello"))
        .stdout(append(&out_file))
        .stderr(append(&err_file))
        .status()
        .expect("zvrun runs");
    assert_eq!(st.code(), Some(0));
    assert_eq!(std::fs::read(&out_file).unwrap(), b"before\nhello, world\n");
    assert_eq!(std::fs::read(&err_file).unwrap(), b"kept\n");
    // A shared file opened for writing, not appending, at an offset: zvrun writes there.
    std::fs::write(&out_file, b"first\n").unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(&out_file).unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(6)).unwrap();
    let st = crate::zvrun().arg(program("hello")).stdout(f).status().expect("zvrun runs");
    assert_eq!(st.code(), Some(0));
    assert_eq!(std::fs::read(&out_file).unwrap(), b"first\nhello, world\n");
}

/// Channels may not use the kernel's interface file systems, checked on the opened file:
/// a type-3 channel on /proc/self/mem let a guest overwrite its own verified code and
/// run raw system calls (security review); /proc/self/maps would show it zvrun's layout.
#[test]
fn channels_on_proc_and_sys_are_refused() {
    let t = tempfile::tempdir().expect("tmp");
    let link = t.path().join("mem-link");
    std::os::unix::fs::symlink("/proc/self/mem", &link).unwrap();
    for (spec, fs) in [
        ("/mem=/proc/self/mem,3".to_string(), "proc"),
        ("/mem=/proc/thread-self/mem,2,0,0,10,1000000".to_string(), "proc"),
        (format!("/mem={},3", link.display()), "proc"),
        ("/maps=/proc/self/maps,1,10,100000,0,0".to_string(), "proc"),
        ("/k=/sys/kernel/mm/transparent_hugepage/enabled,0,10,1000,0,0".to_string(), "sysfs"),
    ] {
        if fs == "sysfs" && !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            continue;
        }
        let out = run(&["--channel", &spec, s(&program("hello"))]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{spec}: {err}");
        assert!(err.contains(&format!("kernel's {fs} file system")), "{spec}: {err}");
        assert!(out.stdout.is_empty(), "{spec}: the guest ran");
    }
}

/// A read-only channel on a directory opened, the guest ran, and its first Read ended the
/// session with a host I/O error (QA finding): a directory is no channel source, refused
/// before the guest runs, whatever the channel's direction.
#[test]
fn a_channel_on_a_directory_is_refused_before_the_guest_runs() {
    let t = tempfile::tempdir().expect("tmp");
    let dir = s(t.path());
    for spec in [format!("/d={dir},0,1,1,0,0"), format!("/d={dir},1,1,1,0,0"), format!("/d={dir}")] {
        let out = run(&["--channel", &spec, s(&program("hello"))]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{spec}: {err}");
        assert!(err.contains("channel /d") && err.contains("directory"), "{spec}: {err}");
        assert!(out.stdout.is_empty(), "{spec}: the guest ran");
    }
}

/// A channel on a standard stream used in one direction only, which that stream is not
/// open for (`/dev/stdin=/dev/stdout` with read limits while stdout is a file), is
/// refused before the guest runs (125, naming the stream), not ended at its first
/// transfer as a host I/O error (an audit finding); a channel whose limits allow both
/// directions keeps working as long as the guest uses the open one.
#[test]
fn a_one_way_channel_on_a_standard_stream_not_open_that_way_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let out_file = dir.path().join("out.txt");
    let run_to_file = |channel: &str| {
        let f = std::fs::File::create(&out_file).expect("create");
        crate::zvrun()
            .args(["--no-cache", "--channel", channel, s(&program("hello"))])
            .stdout(f)
            .output()
            .expect("zvrun runs")
    };
    let out = run_to_file("/dev/stdin=/dev/stdout,0,1,100,0,0");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("standard output is not open for reading"), "{err}");
    // Under its own name a stream open the other way is left alone: a program that
    // never reads runs with stdin open for writing only.
    let out = crate::zvrun()
        .args(["--no-cache", s(&program("hello"))])
        .stdin(std::fs::File::create(dir.path().join("in.txt")).expect("create"))
        .output()
        .expect("zvrun runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_to_file("/dev/stdout=/dev/stdout,0,100,100,100,100");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&out_file).expect("read"), b"hello, world\n");
}
