//! Finding inputs: files named on the command line and every regular file under named
//! directories (recursively, without following directory symlinks, in sorted order so
//! that runs are deterministic), and splitting them into shards. Paths that cannot be
//! walked (a missing path, an unreadable directory, a dangling symlink) are returned as
//! [`WalkError`]s, which the report lists and counts as errors.
//!
//! A file belongs to shard `hash(rel) % N`, where `rel` is its path relative to the
//! directory it was found under (the name as given, for files named directly) and `hash`
//! is 64-bit FNV-1a. So a file stays in its shard when other files are added or removed
//! and when the tree is checked out under another root on another machine.

use std::path::{Path, PathBuf};

/// A path that could not be walked.
#[derive(Debug)]
pub struct WalkError {
    /// The path.
    pub path: PathBuf,
    /// What was being done: `cannot read directory`, `dangling symlink`, ...
    pub what: &'static str,
    /// What went wrong.
    pub error: std::io::Error,
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", path_text(&self.path), self.what, self.error)
    }
}

/// A path as reports show it: the path itself when it is UTF-8 without a backslash;
/// otherwise each backslash doubled and each byte that is not part of valid UTF-8 written
/// as `\xNN`. Two different names never give the same text: a lossy conversion would make
/// `a\xff` and `a\xfe` both `a\u{FFFD}` (and their shard reports would not merge), and
/// without the doubled backslash the byte 0xFF and a name spelling `\xff` would coincide.
pub fn path_text(p: &Path) -> String {
    #[cfg(unix)]
    {
        use std::fmt::Write as _;
        use std::os::unix::ffi::OsStrExt;
        let bytes = p.as_os_str().as_bytes();
        if let Ok(s) = std::str::from_utf8(bytes) {
            if !s.contains('\\') {
                return s.to_string();
            }
        }
        let mut out = String::with_capacity(bytes.len() + 8);
        for chunk in bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\\' {
                    out.push_str("\\\\");
                } else {
                    out.push(c);
                }
            }
            for b in chunk.invalid() {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned()
    }
}

/// The bytes of the name whose [`path_text`] is `text`: `\\` is one backslash and `\xNN`
/// the byte NN; every other character stands for its UTF-8 bytes. A text that does not
/// come from [`path_text`] (a lone backslash) keeps the backslash.
pub fn path_bytes(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            let hex = b.get(i + 2..i + 4).and_then(|h| std::str::from_utf8(h).ok());
            if b.get(i + 1) == Some(&b'x') {
                if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// A path without `.` components (a leading `./`) and with repeated slashes folded, as
/// [`Path::components`] reads it: two spellings of one path compare equal. `..` is kept
/// (it cannot be resolved without following symlinks).
fn lexical(p: &Path) -> PathBuf {
    p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

impl std::error::Error for WalkError {}

/// A file found by [`find_files`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    /// The path to open (root joined with `rel`).
    pub path: PathBuf,
    /// The path relative to the root it was found under (decides its shard).
    pub rel: String,
    /// Named on the command line (verified whatever it holds), not found in a walk.
    pub named: bool,
}

/// Expands `roots` into a sorted, de-duplicated list of files, with the errors met.
pub fn find_files(roots: &[PathBuf]) -> (Vec<Found>, Vec<WalkError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => {
                let mut files = Vec::new();
                walk_dir(root, &mut files, &mut errors);
                for path in files {
                    let rel = path_text(path.strip_prefix(root).unwrap_or(&path));
                    found.push(Found { path, rel, named: false });
                }
            }
            // Anything else named is verified (or reported as not a regular file).
            Ok(_) => found.push(Found { path: root.clone(), rel: path_text(root), named: true }),
            // A named symlink whose target is missing is called what it is, as in a walk.
            Err(error) => {
                let dangling = std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink());
                let what = if dangling { "dangling symlink" } else { "cannot read" };
                errors.push(WalkError { path: root.clone(), what, error })
            }
        }
    }
    // A file both named and found in a walk is verified once, as named (its path and
    // shard as given), however the two spell it (`./tree` and `tree/a.nexe`): sort the
    // spellings of one path together, named first, and keep the first.
    let mut keyed: Vec<(PathBuf, bool, Found)> = found.into_iter().map(|f| (lexical(&f.path), !f.named, f)).collect();
    keyed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    keyed.dedup_by(|later, kept| later.0 == kept.0);
    let mut found: Vec<Found> = keyed.into_iter().map(|(_, _, f)| f).collect();
    found.sort();
    (found, errors)
}

fn walk_dir(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<WalkError>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(error) => {
            errors.push(WalkError { path: dir.to_path_buf(), what: "cannot read directory", error });
            return;
        }
    };
    // In sorted order, as documented: the files are sorted again at the end anyway, but
    // the errors met (dangling symlinks, unreadable subdirectories) came in the order the
    // file system lists entries, which differs between file systems and checkouts (a QA
    // finding: `b`, `self`, `a`).
    let mut entries = Vec::new();
    for ent in rd {
        match ent {
            Ok(e) => entries.push(e),
            Err(error) => errors.push(WalkError { path: dir.to_path_buf(), what: "cannot read directory", error }),
        }
    }
    entries.sort_by_key(|e| e.file_name());
    for ent in entries {
        let path = ent.path();
        match ent.file_type() {
            Ok(t) if t.is_dir() => walk_dir(&path, files, errors),
            Ok(t) if t.is_file() => files.push(path),
            Ok(t) if t.is_symlink() => match std::fs::metadata(&path) {
                // Follow symlinks to files, never to directories (no cycles).
                Ok(m) if m.is_file() => files.push(path),
                Ok(_) => {}
                // A symlink whose target is missing or cannot be reached is an error, as
                // when it is named directly.
                Err(error) => errors.push(WalkError { path, what: "dangling symlink", error }),
            },
            // FIFOs, sockets and devices found in a walk are not files to verify.
            Ok(_) => {}
            Err(error) => errors.push(WalkError { path, what: "cannot read file type", error }),
        }
    }
}

/// Parses a shard spec `K/N` (1 <= K <= N).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or_else(|| format!("shard `{s}` is not K/N"))?;
    let k: usize = k.trim().parse().map_err(|_| format!("shard `{s}`: K is not a number"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("shard `{s}`: N is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard `{s}`: need 1 <= K <= N"));
    }
    Ok((k, n))
}

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The files of shard K of N (1-based): those whose relative path hashes to K-1.
/// Shards are disjoint and together cover every file.
pub fn shard(files: Vec<Found>, k: usize, n: usize) -> Vec<Found> {
    files.into_iter().filter(|f| fnv1a(f.rel.as_bytes()) % n as u64 == (k - 1) as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn path_texts_of_different_names_differ() {
        use std::os::unix::ffi::OsStrExt;
        let text = |n: &[u8]| path_text(Path::new(std::ffi::OsStr::from_bytes(n)));
        let names: [&[u8]; 12] = [
            br"x\xffy",
            br"x\\xffy",
            br"x\\\xffy",
            br"x\y",
            br"x\\y",
            b"plain",
            br"a\nb",
            b"a\nb",
            b"x\xffy",
            b"x\xfey",
            b"x\\\xffy",
            b"x\xff\\y",
        ];
        let texts: Vec<String> = names.iter().map(|n| text(n)).collect();
        let unique: std::collections::BTreeSet<&String> = texts.iter().collect();
        assert_eq!(unique.len(), texts.len(), "{texts:?}");
        assert_eq!(text(b"plain/a.nexe"), "plain/a.nexe");
        assert_eq!(text(b"x\xffy"), r"x\xffy");
        assert_eq!(text(br"x\xffy"), r"x\\xffy");
        // The text gives the name back (SARIF's URIs encode the name's bytes).
        for n in names {
            assert_eq!(path_bytes(&text(n)), n, "{}", text(n));
        }
    }

    #[test]
    fn shards_partition_and_are_balanced_on_large_sets() {
        let files: Vec<Found> = (0..3000)
            .map(|i| Found { path: PathBuf::from(format!("r/{i}.nexe")), rel: format!("{i}.nexe"), named: false })
            .collect();
        let sizes: Vec<usize> = (1..=4).map(|k| shard(files.clone(), k, 4).len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 3000);
        assert!(sizes.iter().all(|&s| (650..=850).contains(&s)), "{sizes:?}");
    }

    #[test]
    fn shard_specs() {
        assert_eq!(parse_shard("2/5"), Ok((2, 5)));
        assert!(parse_shard("0/5").is_err());
        assert!(parse_shard("6/5").is_err());
        assert!(parse_shard("5").is_err());
        assert!(parse_shard("a/b").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn dangling_symlinks_in_a_walk_are_errors_and_named_files_are_marked() {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::write(d.path().join("a.nexe"), b"x").expect("write");
        std::os::unix::fs::symlink("/nonexistent/target", d.path().join("dangling")).expect("symlink");
        std::os::unix::fs::symlink(d.path(), d.path().join("loop")).expect("symlink");
        let named = d.path().join("a.nexe");
        let (found, errors) = find_files(&[d.path().to_path_buf(), named.clone()]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].named && found[0].path == named);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].to_string().contains("dangling: dangling symlink: "), "{}", errors[0]);
    }

    /// Errors met in a walk come in sorted order, whatever order the file system lists the
    /// entries in.
    #[cfg(unix)]
    #[test]
    fn walk_errors_come_in_sorted_order() {
        let d = tempfile::tempdir().expect("tmp");
        let names: Vec<String> = (0..40u32).map(|i| format!("l{:02}", (i * 17) % 40)).collect();
        for n in &names {
            std::os::unix::fs::symlink("/nonexistent/target", d.path().join(n)).expect("symlink");
            std::fs::create_dir(d.path().join(format!("d{n}"))).expect("dir");
            std::os::unix::fs::symlink("/nonexistent/target", d.path().join(format!("d{n}/x"))).expect("symlink");
        }
        let (_, errors) = find_files(&[d.path().to_path_buf()]);
        let got: Vec<String> =
            errors.iter().map(|e| e.path.strip_prefix(d.path()).unwrap().display().to_string()).collect();
        let mut want = got.clone();
        want.sort();
        assert_eq!(got.len(), 80);
        assert_eq!(got, want);
    }

    /// A dangling symlink named on the command line is reported as one, as in a walk (it
    /// said "cannot read: No such file or directory", like a missing path).
    #[cfg(unix)]
    #[test]
    fn a_named_dangling_symlink_is_called_one() {
        let d = tempfile::tempdir().expect("tmp");
        let link = d.path().join("app.nexe");
        std::os::unix::fs::symlink("/nonexistent/target", &link).expect("symlink");
        let (found, errors) = find_files(&[link, d.path().join("missing.nexe")]);
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].to_string().contains("app.nexe: dangling symlink: "), "{}", errors[0]);
        assert!(errors[1].to_string().contains("missing.nexe: cannot read: "), "{}", errors[1]);
    }
}
