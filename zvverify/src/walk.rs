//! Finding inputs: files named on the command line and every regular file under named
//! directories (recursively, without following directory symlinks, in sorted order so
//! that runs and shards are deterministic).

use std::path::{Path, PathBuf};

/// A path that could not be walked.
#[derive(Debug)]
pub struct WalkError {
    /// The path.
    pub path: PathBuf,
    /// What went wrong.
    pub error: std::io::Error,
}

/// Expands `roots` into a sorted, de-duplicated list of files, with the errors met.
pub fn find_files(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<WalkError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => walk_dir(root, &mut files, &mut errors),
            Ok(_) => files.push(root.clone()),
            Err(error) => errors.push(WalkError {
                path: root.clone(),
                error,
            }),
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

fn walk_dir(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<WalkError>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(error) => {
            errors.push(WalkError {
                path: dir.to_path_buf(),
                error,
            });
            return;
        }
    };
    for ent in rd {
        let ent = match ent {
            Ok(e) => e,
            Err(error) => {
                errors.push(WalkError {
                    path: dir.to_path_buf(),
                    error,
                });
                continue;
            }
        };
        let path = ent.path();
        match ent.file_type() {
            Ok(t) if t.is_dir() => walk_dir(&path, files, errors),
            Ok(t) if t.is_file() => files.push(path),
            Ok(t) if t.is_symlink() => {
                // Follow symlinks to files, never to directories (no cycles).
                if std::fs::metadata(&path)
                    .map(|m| m.is_file())
                    .unwrap_or(false)
                {
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
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("shard `{s}` is not K/N"))?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("shard `{s}`: K is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("shard `{s}`: N is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard `{s}`: need 1 <= K <= N"));
    }
    Ok((k, n))
}

/// The files of shard K of N: every N-th file of the sorted list, starting at K-1.
/// Shards are disjoint, cover every file, and differ in size by at most one.
pub fn shard<T>(files: Vec<T>, k: usize, n: usize) -> Vec<T> {
    files
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, f)| f)
        .collect()
}
