//! Finding inputs: files named on the command line and every regular file under named
//! directories (recursively, without following directory symlinks, in sorted order so
//! that runs are deterministic), and splitting them into shards.
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
    /// What went wrong.
    pub error: std::io::Error,
}

/// A file found by [`find_files`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    /// The path to open (root joined with `rel`).
    pub path: PathBuf,
    /// The path relative to the root it was found under (decides its shard).
    pub rel: String,
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
                    let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                    found.push(Found { path, rel });
                }
            }
            Ok(_) => found.push(Found { path: root.clone(), rel: root.to_string_lossy().into_owned() }),
            Err(error) => errors.push(WalkError { path: root.clone(), error }),
        }
    }
    found.sort();
    found.dedup_by(|a, b| a.path == b.path);
    (found, errors)
}

fn walk_dir(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<WalkError>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(error) => {
            errors.push(WalkError { path: dir.to_path_buf(), error });
            return;
        }
    };
    for ent in rd {
        let ent = match ent {
            Ok(e) => e,
            Err(error) => {
                errors.push(WalkError { path: dir.to_path_buf(), error });
                continue;
            }
        };
        let path = ent.path();
        match ent.file_type() {
            Ok(t) if t.is_dir() => walk_dir(&path, files, errors),
            Ok(t) if t.is_file() => files.push(path),
            Ok(t) if t.is_symlink() => {
                // Follow symlinks to files, never to directories (no cycles).
                if std::fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
                    files.push(path);
                }
            }
            Ok(_) => {}
            Err(error) => errors.push(WalkError { path, error }),
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

    #[test]
    fn shards_partition_and_are_balanced_on_large_sets() {
        let files: Vec<Found> =
            (0..3000).map(|i| Found { path: PathBuf::from(format!("r/{i}.nexe")), rel: format!("{i}.nexe") }).collect();
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
}
