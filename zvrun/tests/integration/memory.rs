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

/// A copy of `nexe` with junk (0xAA) in every byte of its loaded prefix that no segment,
/// header or note covers, and, with `note_after_data`, the section headers dropped and
/// the note moved to just after the data segment's file bytes (inside its .bss pages).
fn with_junk(nexe: &[u8], note_after_data: bool) -> Vec<u8> {
    let u16_at = |d: &[u8], o: usize| u16::from_le_bytes([d[o], d[o + 1]]) as usize;
    let u64_at = |d: &[u8], o: usize| u64::from_le_bytes(d[o..o + 8].try_into().expect("8 bytes")) as usize;
    let (phoff, phnum) = (u64_at(nexe, 32), u16_at(nexe, 56));
    let ph = |i: usize| phoff + i * 56;
    let mut covered = vec![(0, phoff + phnum * 56)];
    let (mut data_end, mut note) = (0, None);
    for i in 0..phnum {
        let (ty, off, filesz) = (nexe[ph(i)], u64_at(nexe, ph(i) + 8), u64_at(nexe, ph(i) + 32));
        covered.push((off, off + filesz));
        if ty == 1 {
            data_end = data_end.max(off + filesz);
        }
        if ty == 4 {
            note = Some((i, off, filesz));
        }
    }
    let mut out = nexe.to_vec();
    for (i, b) in out.iter_mut().enumerate().take(data_end) {
        if !covered.iter().any(|&(a, e)| a <= i && i < e) {
            *b = 0xAA;
        }
    }
    if note_after_data {
        let (i, off, filesz) = note.expect("a PT_NOTE");
        let bytes = nexe[off..off + filesz].to_vec();
        out.truncate(data_end);
        out.resize(data_end.next_multiple_of(4), 0xAA);
        let at = out.len() as u64;
        out.extend_from_slice(&bytes);
        out[ph(i) + 8..ph(i) + 16].copy_from_slice(&at.to_le_bytes());
        out[ph(i) + 16..ph(i) + 32].fill(0); // p_vaddr, p_paddr
        out[40..48].fill(0); // e_shoff
        out[60..64].fill(0); // e_shnum, e_shstrndx
    }
    out
}

/// A copy of `nexe` with one more PT_LOAD, empty (p_memsz 0, which the parser ignores),
/// whose file offset lies 64 KiB past the end of the file, which is padded with junk to
/// it: a placement that reads file bytes over where the heap will be.
fn with_empty_load(nexe: &[u8]) -> Vec<u8> {
    let u64_at = |d: &[u8], o: usize| u64::from_le_bytes(d[o..o + 8].try_into().expect("8 bytes"));
    let (phoff, phnum) = (u64_at(nexe, 32) as usize, u16::from_le_bytes([nexe[56], nexe[57]]) as usize);
    let at = phoff + phnum * 56;
    let mut out = nexe.to_vec();
    assert!(out[at..at + 56].iter().all(|&b| b == 0), "room for one more program header");
    // The data segment (the last PT_LOAD): its bias puts the empty segment in the heap.
    let data = (0..phnum).map(|i| phoff + i * 56).rfind(|&p| out[p] == 1).expect("PT_LOAD");
    let bias = u64_at(nexe, data + 16) - u64_at(nexe, data + 8);
    let off = (nexe.len() as u64).next_multiple_of(0x1000) + 0x1_0000;
    let mut ph = [0u8; 56];
    ph[0] = 1; // PT_LOAD
    ph[4] = 4; // R
    ph[8..16].copy_from_slice(&off.to_le_bytes());
    ph[16..24].copy_from_slice(&(off + bias).to_le_bytes());
    ph[24..32].copy_from_slice(&(off + bias).to_le_bytes());
    ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
    out[at..at + 56].copy_from_slice(&ph);
    out[56..58].copy_from_slice(&((phnum + 1) as u16).to_le_bytes());
    out.resize(off as usize, 0xAA);
    out
}

/// zvrun reads a nexe whose segments' file offsets and addresses agree straight into
/// guest memory and verifies it there; what the guest then sees must be what a copy of
/// the segments gives: HLT after the code and in the trampoline, zeros after read-only
/// data, data, in .bss and in the heap, whatever else the file holds in its padding (junk
/// here), after the data (the note, which puts file bytes in .bss's first page) or where
/// an empty PT_LOAD points (over the heap).
#[test]
fn a_program_read_in_place_sees_only_its_segments() {
    let dir = tempfile::tempdir().expect("tmp");
    let nexe = std::fs::read(program("staged")).expect("staged.nexe");
    for (name, bytes) in [
        ("plain", nexe.clone()),
        ("junk", with_junk(&nexe, false)),
        ("note-in-bss", with_junk(&nexe, true)),
        ("empty-load", with_empty_load(&nexe)),
    ] {
        assert!(name == "plain" || bytes != nexe, "{name}: the junk changed nothing");
        let p = dir.path().join(format!("{name}.nexe"));
        std::fs::write(&p, &bytes).expect("write");
        let v = zvrun().arg("--no-cache").arg(&p).output().expect("zvrun runs");
        assert_eq!(v.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&v.stderr));
        // The same file through a pipe is read into a buffer and copied: the same result.
        let piped = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cat '{}' | '{}' --no-cache /dev/stdin", p.display(), env!("CARGO_BIN_EXE_zvrun")))
            .output()
            .expect("sh runs");
        assert_eq!(piped.status.code(), Some(0), "{name} piped: {}", String::from_utf8_lossy(&piped.stderr));
    }
}

/// With a memory limit of 4 GiB the heap would reach the user manifest pages below the
/// stack; it stops 1 MiB short of them (a guard gap a stack overflow cannot step over),
/// and no shorter than it must.
#[test]
fn a_large_heap_stops_a_guard_gap_below_the_stack() {
    let dir = tempfile::tempdir().expect("tmp");
    let rep = dir.path().join("r.json");
    let nexe = program("exit");
    let out = crate::run(&["--memory", "4G", "--report", "json", "--report-file", s(&rep), s(&nexe)]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let heap = crate::json_report(&rep)["heap_bytes"].as_u64().expect("heap_bytes");
    let bytes = std::fs::read(&nexe).expect("nexe");
    let n = zvcore::nexe::Nexe::parse(&bytes).expect("parses");
    let heap_start = n.segments.iter().map(|s| s.vaddr + s.memsz).max().expect("segments").next_multiple_of(0x1_0000);
    let manifest_start = 0xFEFF_F000u64; // one manifest page: three channels
    let gap = manifest_start - (heap_start + heap);
    assert!((1 << 20..(1 << 20) + 0x1_0000).contains(&gap), "gap {gap:#x} below the manifest");
}
