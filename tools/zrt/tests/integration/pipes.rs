//! test-corpus/c/zrt/pipes.c: pipes inside the guest (pipe.c), poll and select (poll.c)
//! and the one CPU (misc.c).
//!
//! Where Linux answers at once the zvrun run is compared line by line with the native
//! build (pipes.expected); where Linux would block forever (a read of an empty pipe, a
//! write to a full one, poll and select without a timeout) only the zvrun run is checked,
//! against docs/zrt.md ("Pipes"); the CPU count is checked under zvrun and for
//! consistency natively; SIGPIPE ends both runs with the same status.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use zrt_tests::*;

use crate::files::{host_input, input_channel};

/// Runs pipes.nexe with this argument (and the /data/input.bin channel); returns stdout.
fn run_zv(nexe: &std::path::Path, dir: &std::path::Path, arg: Option<&str>) -> std::process::Output {
    let input = host_input(dir);
    let mut c = Command::new(tool("zvrun"));
    c.arg("--timeout").arg("60").arg("--channel").arg(input_channel(&input)).arg(nexe);
    c.args(arg);
    run_with_stdin(c, b"", &format!("zvrun pipes.nexe {}", arg.unwrap_or("")))
}

#[test]
fn pipes_poll_and_select_match_native() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "pipes");
    let root = dir.path().join("native-root");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/input.bin"), input_bytes()).unwrap();
    let mut n = Command::new(&b.native);
    n.current_dir(&root);
    let native = run_ok(n, "native pipes");
    let native_out = String::from_utf8_lossy(&native.stdout);
    let expected = expected("pipes", &native_out);
    assert_same_text("pipes (native build vs pipes.expected)", &expected, &native_out);
    // What the comparison covers, so that a pipes.c that no longer checks it fails here.
    for line in [
        "pipe: 0 fds 3 4",
        "read: 11 [hello, pipe]",
        "FIONREAD: 11 11",
        "fstat: fifo 1 1 mode 600 600 size 0 same inode 1",
        "lseek: -1 ESPIPE",
        "F_GETFL: 0 1",
        "F_GETPIPE_SZ: 65536",
        "pipe2 F_GETFL: 4000 4001",
        "pipe2 F_GETFD: 1 1",
        "pipe2 O_APPEND: -1 EINVAL fds -1 -1",
        "eof: read -1 EAGAIN with a dup of the write end open",
        "eof: read 0 at the end",
        "eof: poll read end 0x10 at the end",
        "epipe: write -1 EPIPE",
        "epipe: poll write end 0xc",
        "nonblock: read empty -1 EAGAIN",
        "fill: write 65536",
        "full: write -1 EAGAIN",
        "full: poll 0x1 0",
        "drain: write 1 -1 EAGAIN",
        "drained: 73728 bytes, last read -1 EAGAIN, same bytes 1",
        "dup2 over stdout: 1 fifo 1, read back 21 [through the pipe: 42|], then 0",
        "writev: 6",
        "readv: 6 [abcd] [ef]",
        "poll before a write: 4 [0 0x4 0x5 0x5 0x20 0]",
        "poll after a write: 2 [0x1 0x4]",
        "poll with a 5 ms timeout, nothing ready: 0 [0]",
        "select empty: 1 read 0 write 1 except 0",
        "select after a write: 3 read 1 write 1 file 1",
        "select on a closed fd: -1 EBADF",
        "fsync: -1 EINVAL",
        "pselect after the write end closed: 1 read 1",
        "churn: 300 pipes of 64 KiB, then pipe fds 3 4",
    ] {
        assert!(expected.lines().any(|l| l == line), "pipes.expected has no line `{line}`:\n{expected}");
    }

    let o = run_zv(&b.nexe, dir.path(), None);
    check_ok(&o, "zvrun pipes.nexe");
    assert_same_text("pipes (zvrun vs native)", &expected, &String::from_utf8_lossy(&o.stdout));
}

/// 300 full pipes made and closed in a 32 MiB session (16 MiB of stack, under 16 MiB of heap): each close gives the 64 KiB back.
#[test]
fn closed_pipes_give_their_buffers_back() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "pipes");
    let input = host_input(dir.path());
    let mut c = Command::new(tool("zvrun"));
    c.arg("--timeout").arg("60").arg("--memory").arg("32M");
    c.arg("--channel").arg(input_channel(&input)).arg(&b.nexe);
    let o = run_ok(c, "zvrun pipes.nexe --memory 32M");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("churn: 300 pipes of 64 KiB, then pipe fds 3 4\n"), "{out}");
}

/// zrt's answers where Linux would block forever (docs/zrt.md, "Pipes"): -EAGAIN for a
/// read of an empty pipe and a write to a full one, a short count for a write larger than
/// the space, 0 from poll and select without a timeout; the buffer is 64 KiB of the heap
/// while it holds bytes and is given back when both ends are closed.
#[test]
fn where_linux_would_block_zrt_answers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "pipes");
    let o = run_zv(&b.nexe, dir.path(), Some("blocking"));
    check_ok(&o, "zvrun pipes.nexe blocking");
    let want = "blocking read, empty: -1 EAGAIN\n\
                blocking write 70000: 65536\n\
                blocking write 4096 when full: -1 EAGAIN\n\
                blocking write 1 when full: -1 EAGAIN\n\
                poll forever, nothing ready: 0\n\
                select forever, nothing ready: 0\n\
                read back: 65536 same 1\n\
                buffer memory: 65536 while full, 0 after close\n";
    assert_same_text("pipes blocking (zvrun)", want, &String::from_utf8_lossy(&o.stdout));
}

/// One CPU under zvrun (sched_getaffinity, musl's sysconf, get_nprocs, getcpu); natively
/// the host's count, the same through every call.
#[test]
fn the_guest_has_one_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "pipes");
    let o = run_zv(&b.nexe, dir.path(), Some("cpus"));
    check_ok(&o, "zvrun pipes.nexe cpus");
    let want = "sched_getaffinity: 0 count 1 cpu0 1\n\
                sysconf: onln 1 conf 1\n\
                get_nprocs: 1\n\
                sched_getcpu: 0\n\
                sched_setaffinity cpu0: 0\n";
    assert_same_text("pipes cpus (zvrun)", want, &String::from_utf8_lossy(&o.stdout));

    let mut n = Command::new(&b.native);
    n.arg("cpus");
    let native = run_ok(n, "native pipes cpus");
    let text = String::from_utf8_lossy(&native.stdout);
    let first = text.lines().next().unwrap_or_default();
    let count: usize = first
        .strip_prefix("sched_getaffinity: 0 count ")
        .and_then(|r| r.split(' ').next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("native: unexpected first line `{first}`"));
    assert!(count >= 1, "{text}");
    assert!(text.contains(&format!("sysconf: onln {count} ")), "native sysconf disagrees with the mask:\n{text}");
}

/// A write to a pipe without a read end with SIGPIPE at its default disposition ends the
/// process (natively killed by signal 13; under zvrun Exit(128 + 13)), stdout as flushed
/// before; with SIGPIPE blocked the write fails with EPIPE in both.
#[test]
fn sigpipe_ends_the_guest_as_natively() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "pipes");
    let native = Command::new(&b.native).arg("sigpipe").output().unwrap();
    assert_eq!(native.status.signal(), Some(13), "native: {:?}", native.status);
    let zv = run_zv(&b.nexe, dir.path(), Some("sigpipe"));
    assert_eq!(zv.status.code(), Some(141), "zvrun: {}", String::from_utf8_lossy(&zv.stderr));
    assert_same_text(
        "pipes sigpipe stdout",
        &String::from_utf8_lossy(&native.stdout),
        &String::from_utf8_lossy(&zv.stdout),
    );
    assert_eq!(String::from_utf8_lossy(&zv.stdout), "before the write\n");

    let mut n = Command::new(&b.native);
    n.arg("sigpipe-blocked");
    let native = run_ok(n, "native pipes sigpipe-blocked");
    let zv = run_zv(&b.nexe, dir.path(), Some("sigpipe-blocked"));
    check_ok(&zv, "zvrun pipes.nexe sigpipe-blocked");
    let want = "before the write\nafter the write: -1 EPIPE\n";
    assert_same_text("pipes sigpipe-blocked (native)", want, &String::from_utf8_lossy(&native.stdout));
    assert_same_text("pipes sigpipe-blocked (zvrun)", want, &String::from_utf8_lossy(&zv.stdout));
}
