//! test-corpus/c/zrt/sysinfo.c under zvrun: each `key: value` line checked against the
//! session it ran in (`--time`, `--seed`, a read-only /data/input.bin channel) and zrt's
//! documented answers; the native build runs too and prints the same keys.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use zrt_tests::*;

/// Runs sysinfo.nexe with this time and seed; returns its lines by key.
pub fn run_sysinfo(dir: &Path, nexe: &Path, time: u64, seed: u64, extra: &[&str]) -> BTreeMap<String, String> {
    let input = dir.join("input.bin");
    std::fs::write(&input, input_bytes()).unwrap();
    let mut c = Command::new(tool("zvrun"));
    c.arg("--timeout").arg("60").arg("--time").arg(time.to_string()).arg("--seed").arg(seed.to_string());
    c.arg("--channel").arg(format!("/data/input.bin={},1,1000000,1000000000,0,0", input.display()));
    c.args(extra).arg(nexe);
    let o = run_with_stdin(c, STDIN, "zvrun sysinfo.nexe");
    check_ok(&o, "zvrun sysinfo.nexe");
    lines(&String::from_utf8_lossy(&o.stdout))
}

fn lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap_or_else(|| panic!("not a `key: value` line: {l}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn expect(got: &BTreeMap<String, String>, key: &str, want: &str) {
    let v = got.get(key).unwrap_or_else(|| panic!("no `{key}` line in {got:#?}"));
    assert_eq!(v, want, "`{key}`: expected {want:?}, got {v:?}");
}

#[test]
fn the_guest_sees_its_session_and_zrt_answers() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "sysinfo");
    let got = run_sysinfo(dir.path(), &b.nexe, 1_234_567_890, 7, &[]);
    expect(&got, "time", "1234567890");
    expect(&got, "clock_gettime realtime", "0 1234567890 0");
    expect(&got, "gettimeofday", "0 1234567890 0");
    expect(&got, "clock_gettime monotonic", "0");
    expect(&got, "nanosleep", "0");
    expect(&got, "getrandom sizes", "32 16");
    expect(&got, "uname", "0 Linux x86_64");
    expect(&got, "getcwd", "/");
    expect(&got, "getpid", "1");
    expect(&got, "socket", "-1 ENOSYS");
    expect(&got, "syscall 999", "-1 ENOSYS");
    expect(&got, "unlink channel", "-1 EROFS");
    expect(&got, "mkdir new", "-1 EROFS");
    // Creating a file is refused as mkdir is (it was ENOENT); opening a missing one is not.
    expect(&got, "create new", "-1 EROFS");
    expect(&got, "open missing", "-1 ENOENT");
    expect(&got, "rename channel", "-1 EROFS");
    expect(&got, "truncate read-only channel", "-1 EACCES");
    expect(&got, "lseek stdin", "-1 ESPIPE");
    expect(&got, "ioctl TIOCGWINSZ", "-1 ENOTTY");
    expect(&got, "fstat stdout", "0 chr 1");
    expect(&got, "stat /", "0 dir 1");
    expect(&got, "stat /data/input.bin", "0 size 100000");
    expect(&got, "statx /data/input.bin", "0 regular 1 size 100000");
    expect(&got, "open read-only channel for writing", "-1 EACCES");
    expect(&got, "open /data/input.bin", "3");
    expect(&got, "access W_OK", "-1 EACCES");
    expect(&got, "write /dev/null", "1");
    expect(&got, "readlink", "-1 EINVAL");
    expect(&got, "chdir /data", "0 getcwd /data open input.bin 1");
    expect(&got, "chdir to a file", "-1 ENOTDIR");
    expect(&got, "readdir /", "[./ ../ dev/ data/]");
    expect(&got, "readdir /data", "[./ ../ input.bin]");
    expect(&got, "signal", "first 1 second 1");
    expect(&got, "getrlimit", "0");
    expect(&got, "mmap zero", "1 mremap kept: 1 munmap: 0");
    expect(&got, "stack", "0 holds a local 1 at least 1 MiB 1");
    expect(&got, "mprotect data", "0");
    expect(&got, "mmap after munmap zero", "1");
    expect(&got, "close 0 then open", "0 0");

    // The native build runs and prints the same keys (with the host's values).
    let native = run_with_stdin(Command::new(&b.native), STDIN, "native sysinfo");
    check_ok(&native, "native sysinfo");
    let native = lines(&String::from_utf8_lossy(&native.stdout));
    assert_eq!(native.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
}

#[test]
fn clocks_show_the_time_option() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "sysinfo");
    for t in [0u64, 1, 1_700_000_000, 4_102_444_800] {
        let got = run_sysinfo(dir.path(), &b.nexe, t, 0, &[]);
        expect(&got, "time", &t.to_string());
        expect(&got, "clock_gettime realtime", &format!("0 {t} 0"));
        expect(&got, "gettimeofday", &format!("0 {t} 0"));
    }
}

#[test]
fn getrandom_follows_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "sysinfo");
    let a = run_sysinfo(dir.path(), &b.nexe, 0, 7, &[]);
    let again = run_sysinfo(dir.path(), &b.nexe, 0, 7, &[]);
    let other = run_sysinfo(dir.path(), &b.nexe, 0, 8, &[]);
    let zero = run_sysinfo(dir.path(), &b.nexe, 0, 0, &[]);
    for key in ["getrandom 32", "getrandom 16"] {
        assert_eq!(a[key], again[key], "`{key}`: the same seed must give the same bytes");
        assert_ne!(a[key], other[key], "`{key}`: seeds 7 and 8 gave the same bytes");
        assert_ne!(a[key], zero[key], "`{key}`: seeds 7 and 0 gave the same bytes");
    }
    assert_eq!(a["getrandom 32"].len(), 64);
    assert_eq!(a["getrandom 16"].len(), 32);
    // The second call continues the stream rather than repeating it.
    assert!(!a["getrandom 32"].starts_with(&a["getrandom 16"]), "the second getrandom repeated the first");
    for r in [&a, &other, &zero] {
        assert_ne!(r["getrandom 32"], "0".repeat(64), "getrandom gave zeros");
    }
}

/// test-corpus/c/zrt/sigpending.c: a signal the guest raises while it is blocked stays
/// pending and takes effect when unblocked, as natively (QA finding: the guest ended at
/// once); kill(-1) leaves the caller out, as Linux does (QA finding: it ended the
/// guest). The `killall` mode runs only under zvrun.
#[test]
fn blocked_signals_stay_pending_and_kill_minus_one_spares_the_caller() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "sigpending");
    let native = Command::new(&b.native).arg("blocked").output().unwrap();
    assert_eq!(native.status.signal(), Some(15), "native: {:?}", native.status);
    let zv = Command::new(tool("zvrun")).arg(&b.nexe).arg("blocked").output().unwrap();
    assert_eq!(zv.status.code(), Some(143), "{}", String::from_utf8_lossy(&zv.stderr));
    let (want, got) = (String::from_utf8_lossy(&native.stdout), String::from_utf8_lossy(&zv.stdout));
    assert_same_text("sigpending blocked", &want, &got);
    assert!(want.contains("pending SIGTERM: 1, SIGINT: 0") && !want.contains("still running"), "{want}");
    let zv = Command::new(tool("zvrun")).arg(&b.nexe).arg("killall").output().unwrap();
    assert_eq!(zv.status.code(), Some(0), "{}", String::from_utf8_lossy(&zv.stderr));
    assert!(String::from_utf8_lossy(&zv.stdout).contains("kill(-1): -1 No such process"), "{zv:?}");
}

/// Builds test-corpus/c/zrt/NAME.c natively and with zvcc, requires the native run to
/// print NAME.expected and the run under zvrun to print the same; returns the builds and
/// the expected text (for the test's own checks of it).
fn same_as_native(dir: &Path, name: &str) -> (Built, String) {
    let b = build(dir, name);
    let native = Command::new(&b.native).output().unwrap();
    check_ok(&native, &format!("native {name}"));
    let native_out = String::from_utf8_lossy(&native.stdout);
    let expected = expected(name, &native_out);
    assert_same_text(&format!("{name} (native build vs {name}.expected)"), &expected, &native_out);
    let o = Command::new(tool("zvrun")).arg("--timeout").arg("60").arg(&b.nexe).output().unwrap();
    check_ok(&o, &format!("zvrun {name}.nexe"));
    assert_same_text(&format!("{name} (zvrun vs native)"), &expected, &String::from_utf8_lossy(&o.stdout));
    (b, expected)
}

/// test-corpus/c/zrt/procstate.c: calls zrt answers on its own check their arguments as
/// Linux does and report back what was set (QA findings: nanosleep and clock_nanosleep
/// returned 0 for an invalid timespec or clock, umask always said 022, setrlimit took a
/// soft limit above the hard one, getcwd(NULL, 0) was EFAULT, sigaltstack, getpgrp,
/// getpgid, getsid and getresuid were ENOSYS). Identical to the native build.
#[test]
fn sleeps_umask_and_process_state_check_their_arguments_as_natively() {
    let dir = tempfile::tempdir().unwrap();
    let (_, expected) = same_as_native(dir.path(), "procstate");
    assert!(expected.contains("nanosleep(&(struct timespec){0, -1}, NULL)   -1 Invalid argument"), "{expected}");
}

/// test-corpus/c/zrt/badptr.c: a bad pointer given to some thirty calls is EFAULT, as
/// the kernel answers (the guest faulted: audit finding); timed waits on a semaphore, a
/// condition variable and mutexes time out (they spun until the session's timeout: audit
/// finding); a process without children waits with ECHILD. Identical to the native build.
#[test]
fn bad_pointers_are_efault_and_timed_waits_time_out_as_natively() {
    let dir = tempfile::tempdir().unwrap();
    let (_, expected) = same_as_native(dir.path(), "badptr");
    assert!(expected.contains("syscall(SYS_fstat, 1, BAD)                           -1 Bad address"), "{expected}");
    assert!(
        expected.contains("sem_timedwait(&s, &t)                                -1 Operation timed out"),
        "{expected}"
    );
}

/// test-corpus/c/zrt/sigwait.c: sigtimedwait, sigwait and sigwaitinfo take a pending
/// signal (thread-directed ones before process-directed ones, as Linux dequeues them)
/// and sigtimedwait's zero timeout with none pending is EAGAIN (QA finding: ENOSYS);
/// SIG_IGN discards a pending signal (QA finding: it stayed pending and ended the guest
/// with 140 once unblocked under SIG_DFL); setitimer/getitimer record the timers, so
/// alarm(0) reports an earlier alarm's seconds (QA finding: ENOSYS, alarm(0) said 0).
/// Identical to the native build.
#[test]
fn pending_signals_are_taken_by_sigwait_and_discarded_by_sig_ign_and_timers_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (_, expected) = same_as_native(dir.path(), "sigwait");
    assert!(expected.contains("still running after unblocking") && expected.contains("alarm(0)   "), "{expected}");
}

/// test-corpus/c/zrt/devices.c: /dev/zero, /dev/full, /dev/random and /dev/urandom exist
/// beside /dev/null, as on every Linux system (QA finding: ENOENT, so a program reading
/// /dev/urandom for a seed or mapping /dev/zero failed): reads, writes, seeks, stat,
/// access, mmap of /dev/zero and the /dev listing identical to the native build; the
/// random devices read the session's getrandom stream, so they follow `--seed`.
#[test]
fn memory_devices_exist_and_the_random_ones_follow_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (b, expected) = same_as_native(dir.path(), "devices");
    assert!(expected.contains("32 random bytes all zero: 0"), "{expected}");
    let hex = |seed: &str| {
        let o = Command::new(tool("zvrun")).arg("--seed").arg(seed).arg(&b.nexe).arg("hex").output().unwrap();
        check_ok(&o, "zvrun devices.nexe hex");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (a, again, other) = (hex("5"), hex("5"), hex("6"));
    assert_eq!(a.trim().len(), 32, "{a:?}");
    assert_eq!(a, again, "the same seed must give the same /dev/urandom bytes");
    assert_ne!(a, other, "another seed must give other /dev/urandom bytes");
}

/// Standard streams whose channels allow no reading or no writing: the I/O is EBADF
/// (test-corpus/c/zrt/stdlimits.c; it was EFAULT: audit finding).
#[test]
fn standard_streams_without_a_direction_are_ebadf() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "stdlimits");
    let mut c = Command::new(tool("zvrun"));
    c.args(["--channel", "/dev/stdin=/dev/null,0,0,0,0,0", "--channel", "/dev/stdout=/dev/null,0,0,0,0,0"]);
    c.arg(&b.nexe);
    let o = run_with_stdin(c, b"", "zvrun stdlimits.nexe");
    check_ok(&o, "zvrun stdlimits.nexe");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("read stdin: -1 EBADF\n"), "{err}");
    assert!(err.contains("write stdout: -1 EBADF\n"), "{err}");
}
