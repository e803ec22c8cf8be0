//! Daemon mode through zrt (test-corpus/c/zrt/daemon.c): `zvm_fork` writes out stdio's
//! buffered output before the Fork call, so what a warm guest printed goes out once, from
//! the daemon, and each forked session's output is its own.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zrt_tests::{corpus, run_ok, run_with_stdin, sysroot, tool};

#[test]
fn a_c_daemon_prints_its_warm_up_once_and_answers_each_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let nexe = dir.path().join("daemon.nexe");
    let mut c = Command::new(tool("zvcc"));
    c.env("ZV_SYSROOT", sysroot()).arg("-O2").arg(corpus("daemon.c")).arg("-o").arg(&nexe);
    run_ok(c, "zvcc daemon.c");
    let socket = dir.path().join("s");
    let out_file = dir.path().join("daemon.out");
    let daemon = Command::new(tool("zvrun"))
        .arg("--serve")
        .arg(&socket)
        .arg(&nexe)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).expect("create"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the daemon");
    let mut daemon = scopeguard(daemon);
    let start = Instant::now();
    while std::fs::read_to_string(&out_file).unwrap_or_default().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "the daemon never warmed up");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Native arithmetic for the expected sums.
    let table = |i: u64| (i * i + 7) % 65521;
    for input in ["1\n2\n3\n", "65535\n", ""] {
        let nums: Vec<u64> = input.lines().map(|l| l.parse().expect("number")).collect();
        let mut c = Command::new(tool("zvrun"));
        c.arg("--job").arg(&socket).arg(&nexe);
        let o = run_with_stdin(c, input.as_bytes(), "a request");
        assert_eq!(o.status.code(), Some(nums.len() as i32), "{}", String::from_utf8_lossy(&o.stderr));
        let want = format!("{} numbers, sum {}\n", nums.len(), nums.iter().map(|&n| table(n)).sum::<u64>());
        assert_eq!(String::from_utf8_lossy(&o.stdout), want, "no warm-up output in a request");
    }
    let child = &mut daemon.0;
    // The shell's built-in kill (no procps needed).
    let _ = Command::new("sh").args(["-c", "kill -s TERM \"$1\"", "sh", &child.id().to_string()]).status();
    let _ = child.wait();
    assert_eq!(std::fs::read_to_string(&out_file).expect("read"), "warm up done, ");
}

/// Kills the daemon when the test fails before it stops it.
struct Guard(std::process::Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
fn scopeguard(c: std::process::Child) -> Guard {
    Guard(c)
}
