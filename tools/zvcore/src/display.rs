//! Small helpers the command-line tools share for files: names printed safely, what a
//! path is when it is not a regular file, and opening only regular files.

/// `s` with control characters escaped (`\n`, `\u{1b}`): reports print one line per file,
/// member or violation, and a name with a newline or an escape sequence must neither forge
/// lines nor drive the terminal. The bidirectional formatting characters (U+061C,
/// U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) are escaped too: a right-to-left override
/// in a name reordered how the rest of its line displayed (audit finding).
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if unsafe_to_show(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A control character or a bidirectional formatting one ([`escape_controls`]).
fn unsafe_to_show(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// JSON text (serde_json's, which escapes only the characters below U+0020) with every
/// other control character (DEL, the C1 controls U+0080-U+009F) and bidirectional
/// formatting character written as a JSON `\u` escape of four hex digits (`\u202e`):
/// the same JSON value, safe to print on a terminal (audit finding: `zvpack inspect`
/// showed a manifest's right-to-left override raw, in the channel sources a reviewer is
/// told to read). Those characters are all in the Basic Multilingual Plane and, in JSON
/// text, only inside strings.
pub fn escape_json_controls(json: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if unsafe_to_show(c) && !matches!(c, '\n' | '\t' | '\r') {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// What a file type is when it is not a regular file (`None` for a regular file):
/// "directory", "FIFO (named pipe)", "socket", "character device", "block device" or
/// "special file".
pub fn non_regular(t: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("directory")
    } else if t.is_fifo() {
        Some("FIFO (named pipe)")
    } else if t.is_socket() {
        Some("socket")
    } else if t.is_char_device() {
        Some("character device")
    } else if t.is_block_device() {
        Some("block device")
    } else {
        Some("special file")
    }
}

/// Why [`open_regular`] did not open a file.
#[derive(Debug)]
pub enum OpenError {
    /// The path could not be looked up or opened.
    Open(std::io::Error),
    /// The opened file could not be examined.
    Stat(std::io::Error),
    /// Not a regular file: what it is ([`non_regular`]).
    NotRegular(&'static str),
}

/// Opens `path` for reading if it is a regular file (symlinks followed), with its size.
/// Unless the caller already knows it for a regular file (`known`: a directory walk read
/// its type), the type is checked before opening, so that a FIFO (whose open would wait
/// for a writer) or a device is never opened; it is checked again on the open file (the
/// open is non-blocking, so a FIFO swapped in meanwhile cannot block either).
pub fn open_regular(path: &std::path::Path, known: bool) -> Result<(std::fs::File, u64), OpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    if !known {
        let m = std::fs::metadata(path).map_err(OpenError::Open)?;
        if let Some(what) = non_regular(&m.file_type()) {
            return Err(OpenError::NotRegular(what));
        }
    }
    // O_NONBLOCK has no effect on regular files; it only guards against a swapped FIFO.
    let f =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(OpenError::Open)?;
    let m = f.metadata().map_err(OpenError::Stat)?;
    if let Some(what) = non_regular(&m.file_type()) {
        return Err(OpenError::NotRegular(what));
    }
    Ok((f, m.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("a\nb\u{1b}[31mé"), "a\\nb\\u{1b}[31mé");
        // Bidirectional overrides and isolates, which reorder how a line displays.
        assert_eq!(escape_controls("bad\u{202e}z.nexe"), "bad\\u{202e}z.nexe");
        assert_eq!(escape_controls("\u{2066}x\u{2069}\u{200f}"), "\\u{2066}x\\u{2069}\\u{200f}");
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_controls() {
        let v = serde_json::json!({ "host": "a\u{202e}b\u{9b}c\u{7f}d\ne", "n": [1, 2] });
        let text = escape_json_controls(&serde_json::to_string_pretty(&v).expect("json"));
        assert!(!text.chars().any(|c| c != '\n' && unsafe_to_show(c)), "{text:?}");
        assert!(text.contains("a\\u202eb\\u009bc\\u007fd\\ne"), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).expect("still JSON"), v);
    }

    #[test]
    fn file_kinds_are_named() {
        let dir = std::env::temp_dir();
        assert_eq!(non_regular(&std::fs::metadata(&dir).expect("tmp").file_type()), Some("directory"));
        assert_eq!(non_regular(&std::fs::metadata("/dev/null").expect("null").file_type()), Some("character device"));
        let exe = std::env::current_exe().expect("exe");
        assert_eq!(non_regular(&std::fs::metadata(exe).expect("exe").file_type()), None);
    }
}
