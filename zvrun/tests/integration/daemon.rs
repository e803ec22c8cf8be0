//! Daemon mode (RUNTIME.md section 7): `zvrun --serve SOCKET` (or `Job` in a manifest)
//! runs the guest until its first Fork, then serves requests (`zvrun --job SOCKET ...`),
//! each in a copy-on-write fork of the warm guest with the request's channels. The guest
//! is test-corpus/asm/rt/daemon.S: "warm" on stderr before Fork; after it, its tag byte,
//! channel 3's size (when there is a channel 3), then stdin copied to stdout, and the
//! number of bytes copied as its exit code.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{json_report, program, run_with, s, wait_or_fail, zvrun};

/// A daemon serving in a temporary directory; killed when dropped.
struct Daemon {
    child: Option<Child>,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `zvrun --serve SOCKET ARGS...` and waits until it accepts connections
    /// (a guard of 20 s against a daemon that never serves, not a timing assertion).
    fn start(args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().expect("tmp");
        let socket = dir.path().join("job.sock");
        Daemon::start_at(dir, socket, args)
    }

    fn start_at(dir: tempfile::TempDir, socket: PathBuf, args: &[&str]) -> Daemon {
        let mut c = zvrun();
        c.arg("--serve").arg(&socket).args(args).stdin(Stdio::null());
        Daemon::spawn(dir, socket, c)
    }

    /// Runs `command` (a daemon that serves on `socket`, with its output piped) and waits
    /// until it accepts connections (a guard of 20 s against a daemon that never serves,
    /// not a timing assertion).
    fn spawn(dir: tempfile::TempDir, socket: PathBuf, mut command: Command) -> Daemon {
        let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn the daemon");
        let mut d = Daemon { child: Some(child), socket, dir };
        let start = Instant::now();
        // Listening (a probe connection, which a forked session then finds empty).
        while zvrun::sys::job::connect(&d.socket).is_err() {
            if let Some(st) = d.child.as_mut().expect("child").try_wait().expect("wait") {
                let out = d.child.take().expect("child").wait_with_output().expect("output");
                panic!("the daemon ended ({st}) before serving: {}", String::from_utf8_lossy(&out.stderr));
            }
            assert!(start.elapsed() < Duration::from_secs(20), "the daemon never bound its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// Sends SIGTERM and returns the daemon's status, stdout and stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String, String) {
        let child = self.child.take().expect("running");
        crate::signal(&child, "TERM");
        let out = child.wait_with_output().expect("daemon output");
        (out.status, String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn job(d: &Daemon, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut a = vec!["--job", s(&d.socket)];
    a.extend_from_slice(args);
    run_with(&a, stdin)
}

fn size_of(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// A `zvrun --job` client with `args` whose stdin is a pipe the test keeps open (the
/// forked session's Read waits until a timeout ends it); its status.
fn request_with_stdin_held(d: &Daemon, args: &[&str], what: &str) -> std::process::ExitStatus {
    let mut c = zvrun()
        .args(["--job", s(&d.socket)])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdin = c.stdin.take();
    let st = wait_or_fail(c, 30, what);
    drop(stdin);
    st
}

/// A request for the three standard channels, unlimited, as a hostile client might make
/// it by hand (the wire format of zvrun/src/daemon.rs).
fn standard_request() -> serde_json::Value {
    let m = i64::MAX;
    let chan = |alias: &str, l: [i64; 4]| serde_json::json!({"alias": alias, "uri": alias, "type": 0, "limits": l, "etag": false});
    serde_json::json!({"zv_job": 1, "timeout": null, "report": null, "channels": [
        chan("/dev/stdin", [m, m, 0, 0]), chan("/dev/stdout", [0, 0, m, m]), chan("/dev/stderr", [0, 0, m, m])]})
}

#[test]
fn a_daemon_serves_each_request_in_a_fork_of_the_warm_guest() {
    let nexe = program("daemon");
    let tmp = tempfile::tempdir().expect("tmp");
    let (small, large) = (tmp.path().join("small"), tmp.path().join("large"));
    std::fs::write(&small, b"12345").expect("write");
    std::fs::write(&large, vec![7u8; 70_000]).expect("write");
    let d = Daemon::start(&["--channel", &format!("/dev/data={},1", s(&small)), s(&nexe)]);

    // Each request: its own stdin and stdout, its own data file (the user manifest gives
    // that file's size), the tag as the warm-up left it (each fork has its own copy).
    for (data, input) in [(&large, &b"hello"[..]), (&small, b"second request"), (&large, b"")] {
        let rep = tmp.path().join("r.json");
        let out =
            job(&d, &["--channel", &format!("/dev/data={},1", s(data)), "--report-file", s(&rep), s(&nexe)], input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(input.len() as i32), "{err}");
        assert_eq!(out.stdout[0], b'W', "the warm-up's state");
        assert_eq!(size_of(&out.stdout[1..]), std::fs::metadata(data).expect("meta").len());
        assert_eq!(&out.stdout[9..], input);
        assert!(!err.contains("warm"), "the warm-up ran once, in the daemon: {err}");
        let r = json_report(&rep);
        assert_eq!(r["state"], "exit");
        assert_eq!(r["exit_code"], input.len());
        assert_eq!(r["channels"][0]["get_bytes"], input.len(), "the request's own counts: {r}");
        assert_eq!(r["channels"][1]["put_bytes"], 9 + input.len());
    }
    let (st, _, err) = d.stop();
    assert_eq!(st.code(), None, "the daemon dies of SIGTERM: {err}");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(libc::SIGTERM));
    assert_eq!(err.matches("warm").count(), 1, "{err}");
    assert!(err.contains("killed by SIGTERM"), "{err}");
}

#[test]
fn requests_that_do_not_match_the_session_are_refused() {
    let nexe = program("daemon");
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    std::fs::write(&data, b"x").expect("write");
    let spec = format!("/dev/data={},1", s(&data));
    let d = Daemon::start(&["--channel", &spec, s(&nexe)]);
    for (args, says) in [
        (vec![s(&nexe)], "the request has 3 channels, the session 4"),
        (
            vec!["--channel", &format!("/dev/data={},0", s(&data)), s(&nexe)],
            "the request has type 0, the session type 1",
        ),
        (
            vec!["--channel", &format!("/dev/other={},1", s(&data)), s(&nexe)],
            "the session's channel at this place is /dev/data",
        ),
        (
            vec!["--channel", &format!("/dev/data={},1,1,1,0,0", s(&data)), s(&nexe)],
            "the request has limits 1 1 0 0, the session limits 9223372036854775807",
        ),
    ] {
        let rep = tmp.path().join("refused.json");
        let mut with_report = vec!["--report-file", s(&rep)];
        with_report.extend_from_slice(&args);
        let out = job(&d, &with_report, b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        let r = json_report(&rep);
        assert_eq!(r["state"], "error", "{r}");
        assert_eq!(r["channels"], serde_json::json!([]), "no channels of the warm-up in a refusal: {r}");
        assert!(err.contains("request refused") && err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "the guest did not run: {args:?}");
    }
    // The daemon goes on serving after refusals.
    let out = job(&d, &["--channel", &spec, s(&nexe)], b"ok");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_request_has_its_own_timeout() {
    let nexe = program("daemon");
    let d = Daemon::start(&[s(&nexe)]);
    let st = request_with_stdin_held(&d, &["--timeout", "1", "--report", "json", s(&nexe)], "a request, 1 s");
    assert_eq!(st.code(), Some(124));
}

#[test]
fn without_a_job_socket_fork_returns_zero_and_the_session_goes_on() {
    let out = run_with(&[s(&program("daemon"))], b"abc");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"Wabc");
    assert_eq!(out.stderr, b"warm\n");
}

#[test]
fn a_session_with_a_socket_that_never_forks_is_an_ordinary_one() {
    // echo never calls Fork.
    let tmp = tempfile::tempdir().expect("tmp");
    let out = run_with(&["--serve", s(&tmp.path().join("s")), s(&program("echo"))], b"abc");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"abc");
}

#[test]
fn job_sockets_are_checked() {
    let nexe = program("daemon");
    let tmp = tempfile::tempdir().expect("tmp");
    // A file that is not a socket is never replaced.
    let file = tmp.path().join("not-a-socket");
    std::fs::write(&file, b"keep").expect("write");
    let out = run_with(&["--serve", s(&file), s(&nexe)], b"");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a socket"));
    assert_eq!(std::fs::read(&file).expect("kept"), b"keep");
    // A second daemon on a live socket is refused; a socket left by a daemon that is gone
    // (killed with SIGKILL) is replaced.
    let d = Daemon::start(&[s(&nexe)]);
    let out = run_with(&["--serve", s(&d.socket), s(&nexe)], b"");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another daemon is serving"));
    let mut d = d;
    let mut child = d.child.take().expect("running");
    child.kill().expect("kill");
    child.wait().expect("reaped");
    // Gone means nobody accepts on the socket: a session the killed daemon had just
    // forked holds the listening descriptor until it closes it, first thing (under a
    // loaded CI machine that took long enough for the new daemon to find the socket
    // live and refuse it). A guard of 20 s, not a timing assertion.
    let start = Instant::now();
    while zvrun::sys::job::connect(&d.socket).is_ok() {
        assert!(start.elapsed() < Duration::from_secs(20), "the killed daemon's socket stays live");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = std::mem::replace(&mut d.dir, tempfile::tempdir().expect("tmp"));
    let d = Daemon::start_at(dir, d.socket.clone(), &[s(&nexe)]);
    let out = job(&d, &[s(&nexe)], b"again");
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    // No daemon: the client says so.
    let out = run_with(&["--job", s(&tmp.path().join("nobody")), s(&nexe)], b"");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect to the job socket"));
}

#[test]
fn a_zerovm_manifest_job_line_makes_a_daemon() {
    let nexe = program("daemon");
    let dir = tempfile::tempdir().expect("tmp");
    let socket = dir.path().join("m.sock");
    let manifest = dir.path().join("m.manifest");
    let text = format!(
        "Version = 20130611\nProgram = {}\nMemory = 67108864, 0\nTimeout = 10\nJob = {}\n\
         Channel = /dev/stdin, /dev/stdin, 0, 0, 1000, 1000000, 0, 0\n\
         Channel = /dev/stdout, /dev/stdout, 0, 0, 0, 0, 1000, 1000000\n\
         Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 1000, 1000000\n",
        s(&nexe),
        s(&socket)
    );
    std::fs::write(&manifest, &text).expect("write");
    let mut c = zvrun();
    c.args(["--manifest", s(&manifest)]).stdin(Stdio::null());
    let d = Daemon::spawn(dir, socket, c);
    // The request: the same manifest (the client goes to the socket --job names; the
    // manifest's Job line is the daemon's).
    let out = job(&d, &["--manifest", s(&manifest), "--report", "zerovm"], b"from a manifest");
    assert_eq!(out.status.code(), Some(15), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(&out.stdout[..], b"Wfrom a manifest");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("daemon = 1\nuser return code = 15\n"), "ZeroVM's report of a request: {err}");
}

#[test]
fn an_image_daemon_keeps_its_image_files_and_takes_the_host_channels() {
    use zvcore::image::{write_image, ImageChannel, ImageManifest, Source};
    use zvcore::manifest::{ChannelType, Limits};
    let tmp = tempfile::tempdir().expect("tmp");
    let mut m = ImageManifest::new("daemon.nexe");
    m.channels.push(ImageChannel {
        alias: "/dev/data".into(),
        kind: ChannelType::RandReadSeqWrite,
        limits: Limits { gets: 100, get_size: 1 << 20, puts: 0, put_size: 0 },
        etag: false,
        source: Source::Image("table.bin".into()),
    });
    let img = tmp.path().join("app.tar");
    let files = vec![("table.bin".to_string(), vec![1u8; 1234])];
    let nexe = std::fs::read(program("daemon")).expect("nexe");
    write_image(std::fs::File::create(&img).expect("create"), &m, &nexe, &files).expect("image");
    let d = Daemon::start(&[s(&img)]);
    for input in [&b"one"[..], b"two!"] {
        // The same command line with --job: the request carries stdin, stdout and
        // stderr; the image's file is the daemon's own.
        let out = job(&d, &[s(&img)], input);
        assert_eq!(out.status.code(), Some(input.len() as i32), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout[0], b'W');
        assert_eq!(size_of(&out.stdout[1..]), 1234, "the image file's size");
        assert_eq!(&out.stdout[9..], input);
    }
}

#[test]
fn a_request_timeout_replaces_the_daemons() {
    // A review finding: with a daemon timeout the request's was ignored (30 s here).
    let nexe = program("daemon");
    let d = Daemon::start(&["--timeout", "30", s(&nexe)]);
    let st = request_with_stdin_held(&d, &["--timeout", "1", s(&nexe)], "a request, 1 s, to a daemon, 30 s");
    assert_eq!(st.code(), Some(124));
}

#[test]
fn a_connection_that_sends_nothing_is_answered_at_the_deadline() {
    // The forked session waits for its request at most the session's timeout (1 s here).
    let nexe = program("daemon");
    let d = Daemon::start(&["--timeout", "1", s(&nexe)]);
    let conn = zvrun::sys::job::connect(&d.socket).expect("connect");
    let start = Instant::now();
    let mut got = Vec::new();
    loop {
        use std::os::fd::AsFd;
        let (piece, _) = zvrun::sys::job::recv(conn.as_fd(), 1 << 16).expect("recv");
        if piece.is_empty() {
            break;
        }
        got.extend_from_slice(&piece);
    }
    assert!(start.elapsed() < Duration::from_secs(20), "answered");
    let v: serde_json::Value = serde_json::from_slice(&got).expect("a response");
    assert_eq!(v["status"], 124, "{v}");
}

#[test]
fn a_client_does_not_wait_for_good_on_a_daemon_that_never_serves() {
    // `loop` never calls Fork: the request waits in the socket's queue; the client gives
    // up after its timeout and a margin.
    let d = Daemon::start(&[s(&program("loop"))]);
    let c = zvrun()
        .args(["--job", s(&d.socket), "--timeout", "1", s(&program("loop"))])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let st = wait_or_fail(c, 30, "a client of a daemon that never serves");
    assert_eq!(st.code(), Some(124));
}

#[test]
fn descriptors_are_checked_for_the_channels_directions() {
    use std::os::fd::{AsFd, AsRawFd};
    let nexe = program("daemon");
    let d = Daemon::start(&[s(&nexe)]);
    let tmp = tempfile::tempdir().expect("tmp");
    let f = tmp.path().join("f");
    std::fs::write(&f, b"x").expect("write");
    let ro = std::fs::File::open(&f).expect("open");
    let stdin = std::fs::File::open("/dev/null").expect("null");
    let req = standard_request();
    let conn = zvrun::sys::job::connect(&d.socket).expect("connect");
    // stdout sent as a read-only descriptor.
    let fds = [stdin.as_raw_fd(), ro.as_raw_fd(), ro.as_raw_fd()];
    zvrun::sys::job::send(conn.as_fd(), req.to_string().as_bytes(), &fds).expect("send");
    let (resp, _) = zvrun::sys::job::recv(conn.as_fd(), 1 << 16).expect("recv");
    let v: serde_json::Value = serde_json::from_slice(&resp).expect("a response");
    assert_eq!(v["status"], 125, "{v}");
    let msg = v["message"].as_str().expect("message");
    assert!(msg.contains("channel /dev/stdout") && msg.contains("not open for writing"), "{msg}");
}

#[test]
fn a_report_of_thousands_of_channels_comes_back_whole() {
    // A review finding: a response larger than one socket message was lost (125).
    use zvcore::image::{write_image, ImageManifest};
    let tmp = tempfile::tempdir().expect("tmp");
    let m = ImageManifest::new("daemon.nexe");
    let img = tmp.path().join("many.tar");
    let files: Vec<(String, Vec<u8>)> = (0..3000).map(|i| (format!("d/f{i:05}"), vec![b'x'])).collect();
    let nexe = std::fs::read(program("daemon")).expect("nexe");
    write_image(std::fs::File::create(&img).expect("create"), &m, &nexe, &files).expect("image");
    let d = Daemon::start(&[s(&img)]);
    let rep = tmp.path().join("r.json");
    let out = job(&d, &["--report-file", s(&rep), s(&img)], b"abc");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_report(&rep);
    assert_eq!(r["channels"].as_array().expect("channels").len(), 3003, "every channel reported");
    assert!(std::fs::metadata(&rep).expect("report").len() > 256 << 10, "larger than one message");
}

#[test]
fn a_request_whose_client_went_away_is_not_run() {
    use std::os::fd::{AsFd, AsRawFd};
    // The daemon's warm-up waits for its stdin: the request waits in the socket's queue,
    // and its client leaves before the daemon serves.
    let nexe = program("lateserve");
    let dir = tempfile::tempdir().expect("tmp");
    let socket = dir.path().join("late.sock");
    let mut c = zvrun();
    c.arg("--serve").arg(&socket).arg(&nexe).stdin(Stdio::piped());
    let mut d = Daemon::spawn(dir, socket, c);
    let warmup_stdin = d.child.as_mut().expect("running").stdin.take();
    let conn = zvrun::sys::job::connect(&d.socket).expect("connect");
    let out = d.dir.path().join("late.out");
    let f = std::fs::File::create(&out).expect("create");
    let null = std::fs::File::open("/dev/null").expect("null");
    let req = standard_request();
    let fds = [null.as_raw_fd(), f.as_raw_fd(), f.as_raw_fd()];
    zvrun::sys::job::send(conn.as_fd(), req.to_string().as_bytes(), &fds).expect("send");
    drop(conn);
    drop((f, null));
    // Now the daemon warms up and serves: the queued request's client is gone.
    drop(warmup_stdin);
    // A request made now is served, after the one that was dropped.
    let served = job(&d, &[s(&nexe)], b"");
    assert_eq!(served.status.code(), Some(0), "{}", String::from_utf8_lossy(&served.stderr));
    assert_eq!(served.stdout, b"served\n");
    assert_eq!(std::fs::read(&out).expect("read"), b"", "the abandoned request did not run");
}

#[test]
fn a_client_bound_to_its_own_stdout_appends_to_it() {
    // The session's stdout is a file; the client binds the channel to its own stdout, a
    // file with a header: the guest's output goes after the header (a review found it
    // written at offset 0).
    let nexe = program("daemon");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = Daemon::start(&["--channel", &format!("/dev/stdout={}", s(&tmp.path().join("daemon.out"))), s(&nexe)]);
    let log = tmp.path().join("log");
    std::fs::write(&log, b"HEADER\n").expect("write");
    let f = std::fs::OpenOptions::new().append(true).open(&log).expect("open");
    let st = zvrun()
        .args(["--job", s(&d.socket), "--channel", "/dev/stdout=/dev/stdout", s(&nexe)])
        .stdin(Stdio::null())
        .stdout(f)
        .status()
        .expect("run");
    assert_eq!(st.code(), Some(0));
    assert_eq!(std::fs::read(&log).expect("read"), b"HEADER\nW");
}

#[test]
fn a_client_that_cannot_be_served_still_reports_and_times_out_on_its_own_inputs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let nexe = program("daemon");
    // No daemon: status 125 and a report saying why.
    let rep = tmp.path().join("r.json");
    let out = run_with(&["--job", s(&tmp.path().join("none")), "--report-file", s(&rep), s(&nexe)], b"");
    assert_eq!(out.status.code(), Some(125));
    let r = json_report(&rep);
    assert_eq!(r["state"], "error", "{r}");
    assert!(r["message"].as_str().is_some_and(|m| m.contains("cannot connect")), "{r}");
    // A manifest FIFO nobody writes: the client's --timeout covers reading it (124).
    let fifo = tmp.path().join("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let c = zvrun()
        .args(["--job", s(&tmp.path().join("none")), "--timeout", "1", "--manifest", s(&fifo)])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    assert_eq!(wait_or_fail(c, 20, "a client reading a FIFO manifest").code(), Some(124));
}

#[test]
fn max_jobs_bounds_the_sessions_running_at_once() {
    use std::io::Read;
    let nexe = program("daemon");
    let d = Daemon::start(&["--max-jobs", "1", s(&nexe)]);
    // A: served, and waiting for its stdin.
    let mut a = held_request(&d, s(&nexe));
    // B waits in the queue while A runs: the limit is one session.
    let mut b = zvrun()
        .args(["--job", s(&d.socket), s(&nexe)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn b");
    std::thread::sleep(Duration::from_millis(500));
    assert!(b.try_wait().expect("wait").is_none(), "b was served while a ran");
    // A ends; then B is served.
    drop(a.stdin.take());
    assert_eq!(wait_or_fail(a, 20, "a").code(), Some(0));
    let mut b_out = b.stdout.take().expect("stdout");
    assert_eq!(wait_or_fail(b, 20, "b after a").code(), Some(0));
    let mut got = Vec::new();
    b_out.read_to_end(&mut got).expect("read");
    assert_eq!(got, b"W");
}

/// A `--job` client whose stdin the test holds open, once its forked session runs (its
/// tag byte came); the caller ends it by dropping its stdin.
fn held_request(d: &Daemon, nexe: &str) -> std::process::Child {
    use std::io::Read;
    let mut a = zvrun()
        .args(["--job", s(&d.socket), nexe])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 1];
    a.stdout.as_mut().expect("stdout").read_exact(&mut first).expect("the session runs");
    assert_eq!(&first, b"W", "daemon.S's tag byte");
    a
}

/// A daemon started through `sh -c 'PREFIX zvrun --serve ...'` (PREFIX ends in `exec`
/// or a program that execs zvrun).
fn daemon_via_shell(prefix: &str, args: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("tmp");
    let socket = dir.path().join("sh.sock");
    let cmd = format!("{prefix} {} --serve {} {args}", env!("CARGO_BIN_EXE_zvrun"), s(&socket));
    let mut c = Command::new("sh");
    c.args(["-c", &cmd]).stdin(Stdio::null());
    Daemon::spawn(dir, socket, c)
}

#[test]
fn max_jobs_counts_only_the_daemons_own_sessions() {
    // The shell's `sleep` becomes zvrun's child through exec: its end must not free a
    // place (a review finding: it did, and two sessions ran with --max-jobs 1).
    let nexe = program("daemon");
    let d = daemon_via_shell("sleep 0.3 & exec", &format!("--max-jobs 1 {}", s(&nexe)));
    let mut a = held_request(&d, s(&nexe));
    let mut b =
        zvrun().args(["--job", s(&d.socket), s(&nexe)]).stdin(Stdio::null()).stdout(Stdio::null()).spawn().expect("b");
    std::thread::sleep(Duration::from_millis(1000));
    assert!(b.try_wait().expect("wait").is_none(), "b was served while a ran");
    drop(a.stdin.take());
    assert_eq!(wait_or_fail(a, 20, "a").code(), Some(0));
    assert_eq!(wait_or_fail(b, 20, "b").code(), Some(0));
}

#[test]
fn a_daemon_started_with_sigchld_ignored_still_frees_its_places() {
    // Ignored SIGCHLD (a supervisor's setting) made the kernel reap sessions the daemon
    // then still counted (a review finding: C waited for A with --max-jobs 2).
    let nexe = program("daemon");
    let d = daemon_via_shell("exec env --ignore-signal=CHLD", &format!("--max-jobs 2 {}", s(&nexe)));
    let mut a = held_request(&d, s(&nexe));
    for what in ["b", "c", "d"] {
        let out = job(&d, &[s(&nexe)], b"x");
        assert_eq!(out.status.code(), Some(1), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    }
    drop(a.stdin.take());
    assert_eq!(wait_or_fail(a, 20, "a").code(), Some(0));
}
