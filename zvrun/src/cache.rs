//! zvrun's verdict cache (docs/zvrun.md, "Verdict cache"): a directory of files, one per
//! code segment this build's verifier accepted, each holding the segment's
//! [`zvcore::CodeRecord`] (the verifier's identity, the region and its bytes) and named by
//! its [`zvcore::CodeKey`]. A hit is a stored record equal to the code byte for byte; it
//! lets a session skip decoding code that was verified before, it never skips parsing the
//! file or checking its layout, and rejections are never stored.
//!
//! The cache is only as trustworthy as the directory, so a directory is used only when it
//! is owned by the effective user and nobody else may write to it (checked on an open
//! descriptor, through which every lookup then goes), and an entry counts only when it is
//! a regular file (not a link, one name) owned by the effective user with mode exactly
//! 0500, which no file a session's channel creates can have, and holds exactly the record. Anything else (missing
//! directory, foreign owner, group- or world-writable, I/O errors, a record that differs)
//! is a miss, never an error: the cache can only make a session faster, not change its
//! outcome.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zvcore::{CodeRecord, VerdictCache};

/// The default cache directory: `$ZV_CACHE_DIR` (empty or `off` disables the cache),
/// else `$XDG_CACHE_HOME/zv/verified`, else `$HOME/.cache/zv/verified`.
pub fn default_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(v) = std::env::var_os("ZV_CACHE_DIR") {
        return if v.is_empty() || v == "off" { None } else { Some(PathBuf::from(v)) };
    }
    if let Some(x) = var("XDG_CACHE_HOME") {
        return Some(Path::new(&x).join("zv/verified"));
    }
    var("HOME").map(|h| Path::new(&h).join(".cache/zv/verified"))
}

/// The exact mode of an entry: owner read and execute. An execute bit matters: files that
/// zvrun itself creates for a session's channels (which a hostile image's manifest may
/// point into this directory) are created with mode 0666 minus the umask, never with an
/// execute bit, and a guest cannot change modes, so no channel can produce an entry.
/// Entries must also have one link and hold exactly the record looked up. Because root
/// may write to a file whatever its mode, zvrun's channels also refuse to write to any
/// regular file of this mode ([`is_entry_like`]): a hostile image naming an entry as a
/// host file cannot rewrite it (a record of other code under a colliding key would
/// otherwise pass the byte comparison).
pub const ENTRY_MODE: u32 = 0o500;

/// Whether `m` describes a file that could be a verdict-cache entry, any user's: regular,
/// mode exactly [`ENTRY_MODE`]. (Root's sessions must not write another user's entries
/// either: a security review rewrote one through an image run by root.)
pub fn is_entry_like(m: &fs::Metadata) -> bool {
    m.file_type().is_file() && m.mode() & 0o7777 == ENTRY_MODE
}

/// A verdict-cache directory that passed the ownership checks.
pub struct DirCache {
    dir: PathBuf,
    uid: u32,
    /// The directory, opened once and checked through the descriptor: lookups go through
    /// it, so renaming another directory into its place afterwards changes nothing.
    /// `None` when it did not exist or was not trustworthy (lookups miss; inserting
    /// creates it for next time).
    handle: Option<fs::File>,
}

fn trusted(m: &fs::Metadata, uid: u32) -> bool {
    m.is_dir() && m.uid() == uid && m.mode() & 0o022 == 0
}

fn open_trusted(dir: &Path, uid: u32) -> Option<fs::File> {
    let f = fs::File::open(dir).ok()?;
    f.metadata().ok().filter(|m| trusted(m, uid)).map(|_| f)
}

impl DirCache {
    /// The cache in `dir` for the effective user.
    pub fn open(dir: PathBuf) -> DirCache {
        let uid = crate::sys::effective_uid();
        let handle = open_trusted(&dir, uid);
        DirCache { dir, uid, handle }
    }
}

impl VerdictCache for DirCache {
    fn contains(&self, record: &CodeRecord) -> bool {
        let Some(dir) = &self.handle else { return false };
        // Relative to the checked directory, not following links, checked on the open
        // file, then compared byte for byte.
        let Some(mut f) = crate::sys::open_at(dir, &record.key().to_hex()) else { return false };
        let entry = f.metadata().is_ok_and(|m| {
            m.file_type().is_file()
                && m.uid() == self.uid
                && m.mode() & 0o7777 == ENTRY_MODE
                && m.nlink() == 1
                && m.len() == record.stored_len()
        });
        entry && record.matches(&mut f)
    }

    fn insert(&self, record: &CodeRecord) {
        if self.handle.is_none() {
            let _ = fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir);
            if open_trusted(&self.dir, self.uid).is_none() {
                return;
            }
        }
        // Written under a temporary name (create_new never follows or reuses an existing
        // name) that has the entry's exact mode from its creation (the umask is lowered
        // for that open, which still returns a writable descriptor), then renamed over
        // the key's name in one step: a concurrent lookup sees the old entry, none, or
        // the whole new one, and there is no moment at which a session's channel could
        // open the file for writing (channels refuse files of the entry mode; see
        // `Channel::open`). (By path: if the directory was swapped meanwhile, the entry
        // lands where no lookup trusts it.)
        let name = record.key().to_hex();
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mask = crate::sys::set_umask(0o077);
            let created = fs::OpenOptions::new().write(true).create_new(true).mode(ENTRY_MODE).open(&tmp);
            crate::sys::set_umask(mask);
            let mut f = created?;
            if f.metadata()?.mode() & 0o7777 != ENTRY_MODE {
                return Err(std::io::Error::other("entry created with another mode"));
            }
            std::io::Write::write_all(&mut f, &record.header())?;
            std::io::Write::write_all(&mut f, record.body())?;
            fs::rename(&tmp, self.dir.join(&name))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const CODE: [[u8; 64]; 10] = {
        let mut c = [[0u8; 64]; 10];
        let mut i = 0;
        while i < 10 {
            c[i] = [i as u8; 64];
            i += 1;
        }
        c
    };

    fn key(n: u8) -> CodeRecord<'static> {
        CodeRecord::new(0x20000, &CODE[n as usize], zvcore::RegionKind::CodeSegment)
    }

    fn name(r: &CodeRecord) -> String {
        r.key().to_hex()
    }

    #[test]
    fn insert_then_contains_in_a_private_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        let c = DirCache::open(dir.clone());
        assert!(!c.contains(&key(1)));
        c.insert(&key(1));
        let c = DirCache::open(dir.clone());
        assert!(c.contains(&key(1)) && !c.contains(&key(2)));
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn lookups_go_through_the_directory_that_was_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        DirCache::open(dir.clone()).insert(&key(1));
        let c = DirCache::open(dir.clone());
        assert!(c.contains(&key(1)));
        // Swap another directory, with an entry for key 2, into the checked one's place.
        let other = tmp.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::set_permissions(&other, fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(other.join(name(&key(2))), b"").unwrap();
        fs::rename(&dir, tmp.path().join("moved")).unwrap();
        fs::rename(&other, &dir).unwrap();
        assert!(!c.contains(&key(2)), "a lookup followed the path to the swapped-in directory");
        assert!(c.contains(&key(1)), "the checked directory is still the one consulted");
    }

    #[test]
    fn an_invalid_file_under_a_keys_name_is_replaced_by_a_real_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        DirCache::open(dir.clone()).insert(&key(9));
        fs::write(dir.join(name(&key(1))), b"").unwrap();
        let c = DirCache::open(dir.clone());
        assert!(!c.contains(&key(1)), "a plain file counted");
        c.insert(&key(1));
        assert!(c.contains(&key(1)));
        let m = fs::symlink_metadata(dir.join(name(&key(1)))).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, ENTRY_MODE);
    }

    #[test]
    fn group_or_world_writable_directories_are_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        for mode in [0o770, 0o707, 0o777] {
            let dir = tmp.path().join(format!("d{mode:o}"));
            fs::create_dir(&dir).unwrap();
            fs::write(dir.join(name(&key(1))), b"").unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let c = DirCache::open(dir.clone());
            assert!(!c.contains(&key(1)), "mode {mode:o}");
            c.insert(&key(2));
            assert!(!dir.join(name(&key(2))).exists(), "mode {mode:o}: wrote into it");
        }
    }
}
