//! The verdict cache (docs/zvrun.md, "Verdict cache"): a hit skips decoding code that
//! this verifier accepted before, and nothing else; a directory or an entry that someone
//! else could have written is never trusted; changed code is verified again.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;

use super::{json_report, program, s, zvrun};

/// Runs `nexe` with the cache in `dir` (or the given ZV_CACHE_DIR value); returns the
/// output and the report's `verdict_cache`.
fn run_cached(cache: &str, extra: &[&str], nexe: &Path) -> (Output, String) {
    let tmp = tempfile::tempdir().expect("tmp");
    let rep = tmp.path().join("r.json");
    let out = zvrun()
        .env("ZV_CACHE_DIR", cache)
        .args(["--report", "json", "--report-file", s(&rep)])
        .args(extra)
        .arg(nexe)
        .output()
        .expect("zvrun runs");
    let v = json_report(&rep)["verdict_cache"].as_str().unwrap_or("absent").to_string();
    (out, v)
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).map(|r| r.map(|e| e.expect("entry").path()).collect()).unwrap_or_default()
}

#[test]
fn first_run_verifies_and_records_second_run_hits_with_the_same_result() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("verdicts");
    let hello = program("hello");
    let (a, va) = run_cached(s(&dir), &[], &hello);
    let (b, vb) = run_cached(s(&dir), &[], &hello);
    assert_eq!((va.as_str(), vb.as_str()), ("miss", "hit"));
    assert_eq!(a.status.code(), Some(0));
    assert_eq!((a.status.code(), &a.stdout), (b.status.code(), &b.stdout));
    let e = entries(&dir);
    assert_eq!(e.len(), 1, "one entry per accepted code segment");
    let name = e[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(name.len() == 32 && name.bytes().all(|c| c.is_ascii_hexdigit()), "entry name {name}");
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "the cache directory is private");
}

#[test]
fn no_cache_and_off_neither_read_nor_write() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("verdicts");
    let hello = program("hello");
    assert_eq!(run_cached(s(&dir), &["--no-cache"], &hello).1, "off");
    assert!(!dir.exists(), "--no-cache created the cache");
    assert_eq!(run_cached("off", &[], &hello).1, "off");
    assert_eq!(run_cached("", &[], &hello).1, "off");
}

#[test]
fn a_directory_others_can_write_is_never_used() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let hello = program("hello");
    assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss");
    assert!(entries(&dir).is_empty(), "an entry was written into a world-writable directory");
    // Even with an entry planted under the right name (recorded in a private cache).
    let private = tmp.path().join("private");
    run_cached(s(&private), &[], &hello);
    let real = entries(&private).remove(0);
    let planted = dir.join(real.file_name().unwrap());
    std::fs::copy(&real, &planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o500)).unwrap();
    assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss");
    assert_eq!(run_cached(s(&private), &[], &hello).1, "hit", "the planted copy is a real entry elsewhere");
}

/// Writes `bytes` to `path` (replacing it) with mode `mode`.
fn put(path: &Path, bytes: &[u8], mode: u32) {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn entries_that_are_links_owned_by_others_or_not_the_exact_record_do_not_count() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("verdicts");
    let hello = program("hello");
    run_cached(s(&dir), &[], &hello);
    let entry = entries(&dir).remove(0);
    let record = std::fs::read(&entry).unwrap();
    assert_eq!(std::fs::metadata(&entry).unwrap().mode() & 0o7777, 0o500);
    // A link to a copy of the real entry.
    let target = tmp.path().join("elsewhere");
    put(&target, &record, 0o500);
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&target, &entry).unwrap();
    assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss", "a symlink entry was trusted");
    // The exact record, written as any program (or a session's channel) writes a file:
    // mode 0666 minus the umask, never an execute bit.
    put(&entry, &record, 0o600);
    assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss", "an entry without the entry mode was trusted");
    put(&entry, &record, 0o500);
    assert_eq!(run_cached(s(&dir), &[], &hello).1, "hit");
    // Not exactly the record: one byte changed (in the header and in the code), one
    // byte short, one byte more, empty.
    let mut changed = vec![];
    for at in [0, 12, record.len() / 2, record.len() - 1] {
        let mut r = record.clone();
        r[at] ^= 1;
        changed.push(r);
    }
    changed.push(record[..record.len() - 1].to_vec());
    changed.push([record.as_slice(), b"x"].concat());
    changed.push(Vec::new());
    for (i, r) in changed.iter().enumerate() {
        put(&entry, r, 0o500);
        assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss", "altered record {i} was trusted");
        // The miss verified the code again and wrote the real record back.
        assert_eq!(std::fs::read(&entry).unwrap(), record, "altered record {i} was not replaced");
    }
    // A FIFO under the entry's name: a miss, and zvrun does not block opening it.
    std::fs::remove_file(&entry).unwrap();
    let made = std::process::Command::new("mkfifo").arg("-m").arg("500").arg(&entry).status();
    if made.is_ok_and(|st| st.success()) {
        assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss", "a FIFO entry was trusted");
    }
    // A second name.
    put(&entry, &record, 0o500);
    std::fs::hard_link(&entry, tmp.path().join("second-name")).unwrap();
    assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss", "an entry with two links was trusted");
    std::fs::remove_file(tmp.path().join("second-name")).unwrap();
    assert_eq!(run_cached(s(&dir), &[], &hello).1, "hit");
    // Root can give the entry to another user.
    if std::os::unix::fs::lchown(&entry, Some(54321), Some(54321)).is_ok() {
        assert_eq!(run_cached(s(&dir), &[], &hello).1, "miss", "an entry owned by another user was trusted");
    } else {
        eprintln!("not root: the foreign-owner case is covered only when tests run as root (CI does)");
    }
}

#[test]
fn changed_code_is_verified_again_and_rejected() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("verdicts");
    let nexe = tmp.path().join("hello.nexe");
    std::fs::copy(program("hello"), &nexe).unwrap();
    assert_eq!(run_cached(s(&dir), &[], &nexe).1, "miss");
    assert_eq!(run_cached(s(&dir), &[], &nexe).1, "hit");
    // Plant `syscall` (C3) at the entry point, in place: same size, same path.
    let mut bytes = std::fs::read(&nexe).unwrap();
    let n = zvcore::nexe::Nexe::parse(&bytes).unwrap();
    let seg = n.code_segment().unwrap();
    let at = (seg.offset + (n.entry - seg.vaddr)) as usize;
    bytes[at..at + 2].copy_from_slice(&[0x0f, 0x05]);
    std::fs::write(&nexe, &bytes).unwrap();
    let (out, v) = run_cached(s(&dir), &[], &nexe);
    assert_eq!(out.status.code(), Some(126), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(v, "miss");
    assert_eq!(entries(&dir).len(), 1, "a rejection was recorded");
}

/// A hostile image whose manifest points a write channel into the cache directory, at the
/// key of code that does not verify, creates that file when zvrun opens its channels;
/// the file must never count as an acceptance.
#[test]
fn an_image_channel_cannot_forge_an_entry() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("verdicts");
    // The code to smuggle in: hello with `syscall` (C3) at its entry point.
    let evil = tmp.path().join("evil.nexe");
    let mut bytes = std::fs::read(program("hello")).unwrap();
    let n = zvcore::nexe::Nexe::parse(&bytes).unwrap();
    let seg = n.code_segment().unwrap();
    let at = (seg.offset + (n.entry - seg.vaddr)) as usize;
    bytes[at..at + 2].copy_from_slice(&[0x0f, 0x05]);
    let n = zvcore::nexe::Nexe::parse(&bytes).unwrap();
    let key = zvcore::CodeRecord::new(seg.vaddr, n.segment_bytes(&seg), zvcore::RegionKind::CodeSegment).key().to_hex();
    std::fs::write(&evil, &bytes).unwrap();
    // The helper image: a valid program, plus a write channel whose host file is the entry.
    let image = tmp.path().join("helper.tar");
    let target = dir.join(&key);
    let mut m = zvcore::image::ImageManifest::new("hello.nexe");
    m.channels.push(zvcore::image::ImageChannel {
        alias: "/dev/log".into(),
        kind: zvcore::manifest::ChannelType::SeqReadSeqWrite,
        limits: zvcore::manifest::Limits { gets: 0, get_size: 0, puts: 1, put_size: 1 },
        etag: false,
        source: zvcore::image::Source::Host(target.display().to_string()),
    });
    let f = std::fs::File::create(&image).unwrap();
    zvcore::image::write_image(f, &m, &std::fs::read(program("hello")).unwrap(), &[]).unwrap();
    // The directory exists (a private one, as zvrun makes it) before the image runs.
    run_cached(s(&dir), &[], &program("hello"));
    let (out, _) = run_cached(s(&dir), &[], &image);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(target.exists(), "the channel did not create its file: the test proves nothing");
    let (out, v) = run_cached(s(&dir), &[], &evil);
    assert_eq!(out.status.code(), Some(126), "unverified code ran: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(v, "miss");
}

/// Root may write to a file whatever its mode, so a hostile image's host channel naming
/// an existing entry could rewrite it with the record of other code whose key collides
/// (the key is not cryptographic; the byte comparison is what counts). zvrun's channels
/// refuse to write to any file of the entry mode, whichever channel type opens it, and
/// the entry stays as it was.
#[test]
fn no_channel_writes_to_an_entry() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("verdicts");
    let hello = program("hello");
    run_cached(s(&dir), &[], &hello);
    let entry = entries(&dir).remove(0);
    let record = std::fs::read(&entry).unwrap();
    for kind in ["0", "1", "2", "3"] {
        let spec = format!("/dev/log={},{kind},0,0,1,1", entry.display());
        let (out, _) = run_cached(s(&dir), &["--channel", &spec], &hello);
        assert_eq!(out.status.code(), Some(125), "type {kind}: {}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/dev/log") && err.contains("verdict cache"), "type {kind}: {err}");
        assert_eq!(std::fs::read(&entry).unwrap(), record, "type {kind} changed the entry");
    }
    // Reading one is harmless (it holds code the user ran), and the entry still counts.
    let spec = format!("/dev/log={},0,1,100000,0,0", entry.display());
    assert_eq!(run_cached(s(&dir), &["--channel", &spec], &hello).1, "hit");
    // Another user's entry too (a security review had root's image rewrite one).
    let (uid, gid) = std::fs::metadata(&entry).map(|m| (m.uid(), m.gid())).unwrap();
    if std::os::unix::fs::lchown(&entry, Some(54321), Some(54321)).is_ok() {
        let spec = format!("/dev/log={},3,0,0,1,1", entry.display());
        let (out, _) = run_cached(s(&dir), &["--channel", &spec], &hello);
        assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(&entry).unwrap(), record, "another user's entry changed");
        std::os::unix::fs::lchown(&entry, Some(uid), Some(gid)).unwrap();
    }
    // Any other file of that mode is refused alike, and a write-only channel's file is
    // truncated only after the check.
    let other = tmp.path().join("other");
    put(&other, b"keep", 0o500);
    let (out, _) = run_cached(s(&dir), &["--channel", &format!("/dev/log={},0,0,0,1,1", other.display())], &hello);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(std::fs::read(&other).unwrap(), b"keep");
    put(&other, b"gone", 0o600);
    let (out, _) = run_cached(s(&dir), &["--channel", &format!("/dev/log={},0,0,0,1,1", other.display())], &hello);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&other).unwrap(), b"", "a write-only channel's file was not truncated");
}
