//! Where the tools' outputs go: whether an output path names a stream to write through
//! rather than a file to replace (zvld's nexe, zvpack's image), and the tools' own
//! messages and answers on the standard streams, which never panic when a stream is closed.

use std::path::Path;

/// Whether `path` names something to write through rather than a file to replace with
/// a new one: anything that is not a regular file and not a directory (a pipe, a
/// device), a symlink to such a thing, or any symlink in `/dev` or `/proc`
/// (`/dev/stdout`, `/proc/self/fd/1`, which name the process's own streams: replaced by
/// a regular file, `/dev/stdout` would stay one for every later program). A regular
/// file, a symlink elsewhere to a regular file or a directory, a dangling symlink and
/// nothing at all are not.
pub fn is_stream(path: &Path) -> bool {
    let Ok(m) = std::fs::symlink_metadata(path) else { return false };
    let t = m.file_type();
    if t.is_file() || t.is_dir() {
        return false;
    }
    if !t.is_symlink() {
        return true;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let special = std::fs::canonicalize(dir).map_or(true, |d| d.starts_with("/dev") || d.starts_with("/proc"));
    special || std::fs::metadata(path).is_ok_and(|t| !t.is_file() && !t.is_dir())
}

/// Writes one line of a tool's messages to standard error. A line that cannot be written
/// (a closed pipe, `2>&-`) is dropped: there is nowhere left to say so, and the exit
/// status still tells (`eprintln!` panicked instead, status 101: audit finding).
pub fn message(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes a tool's answer to standard output. A reader that has gone (`| head`, `| true`)
/// is not an error (`println!` panicked); any other failure to write is.
pub fn to_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
