//! zvrun's verdict cache (docs/zvrun.md, "Verdict cache"): a directory of empty files
//! named by [`zvcore::CodeKey`]s, one per code segment this build's verifier accepted.
//! A hit lets a session skip decoding code that was verified before; it never skips
//! parsing the file or checking its layout, and rejections are never stored.
//!
//! The cache is only as trustworthy as the directory, so a directory is used only when it
//! is owned by the effective user and nobody else may write to it, and an entry counts
//! only when it is a regular file owned by the effective user. Anything else (missing
//! directory, foreign owner, group- or world-writable, I/O errors) is a miss, never an
//! error: the cache can only make a session faster, not change its outcome.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
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

/// A verdict-cache directory that passed the ownership checks.
pub struct DirCache {
    dir: PathBuf,
    uid: u32,
    /// Whether the directory existed and was trustworthy when opened (lookups are
    /// skipped otherwise; inserting creates it).
    usable: bool,
}

fn trusted_dir(dir: &Path, uid: u32) -> bool {
    match fs::metadata(dir) {
        Ok(m) => m.is_dir() && m.uid() == uid && m.mode() & 0o022 == 0,
        Err(_) => false,
    }
}

impl DirCache {
    /// The cache in `dir` for the effective user.
    pub fn open(dir: PathBuf) -> DirCache {
        let uid = crate::sys::effective_uid();
        let usable = trusted_dir(&dir, uid);
        DirCache { dir, uid, usable }
    }
}

impl VerdictCache for DirCache {
    fn contains(&self, key: &CodeKey) -> bool {
        self.usable
            && fs::symlink_metadata(self.dir.join(key.to_hex()))
                .is_ok_and(|m| m.file_type().is_file() && m.uid() == self.uid)
    }

    fn insert(&self, key: &CodeKey) {
        if !self.usable {
            let _ = fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir);
            if !trusted_dir(&self.dir, self.uid) {
                return;
            }
        }
        // An empty file; create_new never follows or reuses an existing name.
        let _ = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(self.dir.join(key.to_hex()));
    }
}
