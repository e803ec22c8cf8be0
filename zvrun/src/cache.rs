//! zvrun's verdict cache (docs/zvrun.md, "Verdict cache"): a directory of empty files
//! named by [`zvcore::CodeKey`]s, one per code segment this build's verifier accepted.
//! A hit lets a session skip decoding code that was verified before; it never skips
//! parsing the file or checking its layout, and rejections are never stored.
//!
//! The cache is only as trustworthy as the directory, so a directory is used only when it
//! is owned by the effective user and nobody else may write to it (checked on an open
//! descriptor, through which every lookup then goes), and an entry counts only when it is
//! an empty regular file (not a link, one name) owned by the effective user with mode
//! exactly 0500, which no file a session's channel creates can have. Anything else (missing
//! directory, foreign owner, group- or world-writable, I/O errors) is a miss, never an
//! error: the cache can only make a session faster, not change its outcome.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zvcore::{CodeKey, VerdictCache};

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
/// Entries must also be empty and have one link.
const ENTRY_MODE: u32 = 0o500;

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
    fn contains(&self, key: &CodeKey) -> bool {
        let Some(dir) = &self.handle else { return false };
        // Not following links, relative to the checked directory.
        crate::sys::stat_at(dir, &key.to_hex()).is_some_and(|e| {
            e.regular && e.uid == self.uid && e.mode & 0o7777 == ENTRY_MODE && e.size == 0 && e.links == 1
        })
    }

    fn insert(&self, key: &CodeKey) {
        if self.handle.is_none() {
            let _ = fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir);
            if open_trusted(&self.dir, self.uid).is_none() {
                return;
            }
        }
        // An empty file; create_new never follows or reuses an existing name. (Created by
        // path: if the directory was swapped meanwhile, the entry lands where no lookup
        // trusts it.) Its mode is set exactly, whatever the umask.
        let path = self.dir.join(key.to_hex());
        let create = || fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path);
        let file = match create() {
            // Something else has the name (a file a channel created, an entry of a wrong
            // mode): replace it once.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !self.contains(key) => {
                let _ = fs::remove_file(&path);
                create()
            }
            other => other,
        };
        if let Ok(f) = file {
            if f.set_permissions(fs::Permissions::from_mode(ENTRY_MODE)).is_err() {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CodeKey {
        CodeKey::of(0x20000, &[n; 64], zvcore::RegionKind::CodeSegment)
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
        fs::write(other.join(key(2).to_hex()), b"").unwrap();
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
        fs::write(dir.join(key(1).to_hex()), b"").unwrap();
        let c = DirCache::open(dir.clone());
        assert!(!c.contains(&key(1)), "a plain file counted");
        c.insert(&key(1));
        assert!(c.contains(&key(1)));
        let m = fs::symlink_metadata(dir.join(key(1).to_hex())).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, ENTRY_MODE);
    }

    #[test]
    fn group_or_world_writable_directories_are_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        for mode in [0o770, 0o707, 0o777] {
            let dir = tmp.path().join(format!("d{mode:o}"));
            fs::create_dir(&dir).unwrap();
            fs::write(dir.join(key(1).to_hex()), b"").unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let c = DirCache::open(dir.clone());
            assert!(!c.contains(&key(1)), "mode {mode:o}");
            c.insert(&key(2));
            assert!(!dir.join(key(2).to_hex()).exists(), "mode {mode:o}: wrote into it");
        }
    }
}
