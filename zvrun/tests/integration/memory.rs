//! The address space: no page is ever writable and executable, and the layout matches
//! FORM.md section 2.

use std::io::{Read, Write};
use std::process::Stdio;

use crate::{program, s, zvrun};

fn parse(line: &str) -> Option<(u64, u64, String)> {
    let mut f = line.split_whitespace();
    let range = f.next()?;
    let perms = f.next()?.to_string();
    let (a, b) = range.split_once('-')?;
    Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?, perms))
}

#[test]
fn no_wx_mapping_while_a_region_is_jailed_and_layout_is_as_documented() {
    // calls.S in mode "b" jails a heap region, then blocks reading stdin.
    let mut child = zvrun()
        .args([s(&program("calls")), "b"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    // Wait until the guest is blocked in its Read (a jailed r-x region appears in the heap).
    let mut maps = String::new();
    for _ in 0..200 {
        maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let jailed = maps
            .lines()
            .filter_map(parse)
            .any(|(a, _, p)| p.starts_with("r-x") && (0x30000..0x8000_0000).contains(&a) && a != 0x20000);
        if jailed {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"x").expect("unblock");
    drop(stdin);
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{err}");

    let entries: Vec<(u64, u64, String)> = maps.lines().filter_map(parse).collect();
    assert!(!entries.is_empty());
    for (a, b, p) in &entries {
        assert!(!(p.contains('w') && p.contains('x')), "W+X mapping {a:#x}-{b:#x} {p}\n{maps}");
    }
    let perms_at = |addr: u64| entries.iter().find(|(a, b, _)| *a <= addr && addr < *b).map(|e| e.2.clone());
    assert_eq!(perms_at(0x10000).as_deref().map(|p| &p[..3]), Some("r-x"), "trampoline");
    assert_eq!(perms_at(0x20000).as_deref().map(|p| &p[..3]), Some("r-x"), "code");
    assert_eq!(perms_at(0xFF00_0000).as_deref().map(|p| &p[..3]), Some("rw-"), "stack");
    assert_eq!(perms_at(0xFEFF_F000).as_deref().map(|p| &p[..3]), Some("r--"), "user manifest");
    assert_eq!(perms_at(0x1_0000_0000).as_deref().map(|p| &p[..3]), Some("---"), "guard [4, 8) GiB");
    assert_eq!(perms_at(0x1_FFFF_F000).as_deref().map(|p| &p[..3]), Some("---"), "guard end");
    assert!(perms_at(0x8000).is_none(), "null guard unmapped");
    // Nothing of the runtime's own lies below 8 GiB except the reservation.
    for (a, _, p) in &entries {
        if *a < 0x2_0000_0000 {
            assert!(!p.contains('x') || *a < 0x8000_0000, "host executable mapping at {a:#x}");
        }
    }
}

/// The trampoline the guest can read holds the same bytes in every run: slot 0 jumps to a
/// host stub at a fixed address, so no randomised host address shows (determinism), and
/// every other byte is HLT.
#[test]
fn the_trampoline_is_the_same_in_every_run() {
    let a = crate::run(&[crate::s(&crate::program("tramp"))]);
    let b = crate::run(&[crate::s(&crate::program("tramp"))]);
    assert_eq!(a.status.code(), Some(0), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout.len(), 64);
    assert_eq!(a.stdout, b.stdout, "the trampoline differs between runs");
    let stub = zvrun::sys::TRAP_STUB.to_le_bytes();
    assert_eq!(&a.stdout[..2], &[0x49, 0xBB], "movabs to r11");
    assert_eq!(&a.stdout[2..10], &stub, "the fixed stub address");
    assert_eq!(&a.stdout[10..13], &[0x41, 0xFF, 0xE3], "jmp *%r11");
    assert!(a.stdout[13..].iter().all(|&b| b == 0xF4), "HLT elsewhere");
}
