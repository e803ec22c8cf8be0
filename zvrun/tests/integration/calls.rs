//! The six calls: every error path, the register promises, Jail/Unjail, Exit, Fork.

use crate::{program, run, s};

#[test]
fn hello_writes_to_stdout() {
    let out = run(&[s(&program("hello"))]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"hello, world\n");
}

#[test]
fn every_call_error_path_and_register_promise() {
    // calls.S exits with the number of the first failing check: bad id -EPERM (1, 2),
    // bad channel -EINVAL (3), negative size -EFAULT (4), negative offset -EINVAL (5),
    // unmapped buffer -EINVAL (6), read-only buffer for Read -EINVAL (7), write-only
    // channel for Read -EINVAL (8), unreadable argument array -EFAULT (9), Fork 0 (10),
    // callee-saved registers kept (11), others zeroed (12), vector registers zeroed
    // (13), Jail 0 and the jailed function callable (14, 15), Jail of unverifiable
    // code -EPERM (16), unaligned -EINVAL (17), outside the heap -EINVAL (18), size 0
    // -EINVAL (19), Unjail 0 and writable again (20), Fork with its reserved word
    // unreadable -EFAULT (21; QA finding: it returned 0), Unjail by the id RUNTIME.md
    // spells, "Unja", as well as by its hex value (22, 23).
    let out = run(&[s(&program("calls"))]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "check {:?} failed: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Jail's verifier copies the region: large regions and many Jails allocate while the
/// guest runs, after the seccomp lock-down, which the allocator must survive (glibc's
/// first malloc asks for random bytes, a call the filter kills) and give memory back.
#[test]
fn large_and_repeated_jails_work_under_the_filter() {
    let out = run(&["--memory", "64M", s(&program("jailmany"))]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "jailmany failed at step {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_jailed_region_is_not_writable() {
    let out = run(&[s(&program("calls")), "w"]);
    assert_eq!(out.status.code(), Some(128 + 11));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGSEGV"));
}

#[test]
fn exit_status_is_the_low_byte_and_argv_reaches_the_guest() {
    let out = run(&[s(&program("exit"))]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[s(&program("args")), "foo", "bar"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"foo\n");
}
