//! Session descriptions: the ZeroVM 1.x text manifest (RUNTIME.md section 5), parsed as
//! hostile input. Unlike ZeroVM, every malformed or unknown line is an error naming the
//! line. The parsed [`Manifest`] is the model zvrun runs; image manifests (JSON) map to
//! the same model.

/// The manifest version zv accepts (ZeroVM 1.x).
pub const ZEROVM_VERSION: &str = "20130611";
/// Largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;
/// Most channels a session may have.
pub const MAX_CHANNELS: usize = 1024;
/// The standard streams' aliases, channels 0, 1 and 2 (RUNTIME.md section 4): every
/// manifest has them, and as a host source zvrun takes these paths for its own streams.
pub const STD_STREAMS: [&str; 3] = ["/dev/stdin", "/dev/stdout", "/dev/stderr"];

/// Channel access pattern (RUNTIME.md section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelType {
    /// 0: sequential read / sequential write.
    SeqReadSeqWrite,
    /// 1: random read / sequential (append) write.
    RandReadSeqWrite,
    /// 2: sequential read / random write.
    SeqReadRandWrite,
    /// 3: random read / random write.
    RandReadRandWrite,
}

impl ChannelType {
    /// From the manifest number.
    pub fn from_number(n: i64) -> Option<ChannelType> {
        Some(match n {
            0 => ChannelType::SeqReadSeqWrite,
            1 => ChannelType::RandReadSeqWrite,
            2 => ChannelType::SeqReadRandWrite,
            3 => ChannelType::RandReadRandWrite,
            _ => return None,
        })
    }
    /// The manifest number.
    pub fn number(self) -> u32 {
        match self {
            ChannelType::SeqReadSeqWrite => 0,
            ChannelType::RandReadSeqWrite => 1,
            ChannelType::SeqReadRandWrite => 2,
            ChannelType::RandReadRandWrite => 3,
        }
    }
    /// Reads use the offset argument.
    pub fn random_read(self) -> bool {
        matches!(self, ChannelType::RandReadSeqWrite | ChannelType::RandReadRandWrite)
    }
    /// Writes use the offset argument.
    pub fn random_write(self) -> bool {
        matches!(self, ChannelType::SeqReadRandWrite | ChannelType::RandReadRandWrite)
    }
}

/// I/O limits of a channel: gets, get_size, puts, put_size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Number of Read calls allowed.
    pub gets: i64,
    /// Bytes that may be read.
    pub get_size: i64,
    /// Number of Write calls allowed.
    pub puts: i64,
    /// Bytes that may be written.
    pub put_size: i64,
}

impl Limits {
    /// ZeroVM's rule: readable if gets and get_size are both > 0.
    pub fn readable(&self) -> bool {
        self.gets > 0 && self.get_size > 0
    }
    /// ZeroVM's rule: writable if puts and put_size are both > 0.
    pub fn writable(&self) -> bool {
        self.puts > 0 && self.put_size > 0
    }
    /// The four values in manifest order.
    pub fn as_array(&self) -> [i64; 4] {
        [self.gets, self.get_size, self.puts, self.put_size]
    }
}

/// Effectively unlimited (what the default standard channels get).
pub const UNLIMITED: i64 = i64::MAX;

/// Limits of a channel declared without them (zvrun's `--channel`, zvpack's `--channel`
/// with no source yet): the standard aliases keep their direction (so a FIFO given as
/// stdin is opened for reading only and sees its end, and a file bound later is never
/// created for writing), others may be read and written; all unlimited.
pub fn default_limits(alias: &str) -> Limits {
    let read = alias != "/dev/stdout" && alias != "/dev/stderr";
    let write = alias != "/dev/stdin";
    let (g, p) = (if read { UNLIMITED } else { 0 }, if write { UNLIMITED } else { 0 });
    Limits { gets: g, get_size: g, puts: p, put_size: p }
}

/// One channel of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Host source: a path (`/dev/stdin`, `/dev/stdout`, `/dev/stderr` mean the
    /// runtime's own standard streams).
    pub uri: String,
    /// The name the guest sees.
    pub alias: String,
    /// Access pattern.
    pub kind: ChannelType,
    /// Compute the SHA-1 etag of the bytes through the channel.
    pub etag: bool,
    /// Limits.
    pub limits: Limits,
}

/// A session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Path of the nexe.
    pub program: String,
    /// Memory limit in bytes (data + bss + heap + stack).
    pub memory: u64,
    /// Whether the memory etag was requested (accepted, reported as not computed).
    pub memory_etag: bool,
    /// Wall-clock timeout in seconds (None: no timeout).
    pub timeout: Option<u64>,
    /// Channels, in manifest order.
    pub channels: Vec<ChannelSpec>,
    /// Job socket for daemon mode, with the line that gives it.
    pub job: Option<(usize, String)>,
}

/// A manifest error, naming the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line number (0 when the problem is the manifest as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "manifest: {}", self.message)
        } else {
            write!(f, "manifest line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

/// An error about line `line`. Its message may quote the line, which can be up to the
/// manifest's 1 MiB long: it is cut at 1000 bytes, as image errors are (a QA finding:
/// zvrun printed a 900 KB line back, on stderr and in the report).
fn err(line: usize, message: impl Into<String>) -> ManifestError {
    const MAX: usize = 1000;
    let mut message = message.into();
    if message.len() > MAX {
        let cut = (0..=MAX).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
        message.truncate(cut);
        message.push_str("... (cut)");
    }
    ManifestError { line, message }
}

/// A decimal integer (`strtoll`'s syntax, as ZeroVM reads them: an optional sign and
/// digits); digits that do not fit in 64 bits are out of range, not "not an integer".
fn int(line: usize, what: &str, s: &str) -> Result<i64, ManifestError> {
    let t = s.trim();
    t.parse::<i64>().map_err(|_| {
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            err(line, format!("{what} `{t}` is out of range (64-bit signed)"))
        } else {
            err(line, format!("{what} `{t}` is not an integer"))
        }
    })
}

fn nonneg(line: usize, what: &str, s: &str) -> Result<i64, ManifestError> {
    let v = int(line, what, s)?;
    if v < 0 {
        return Err(err(line, format!("{what} {v} is negative")));
    }
    Ok(v)
}

fn flag(line: usize, what: &str, s: &str) -> Result<bool, ManifestError> {
    match s.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        o => Err(err(line, format!("{what} `{o}` must be 0 or 1"))),
    }
}

/// The path a guest opens a channel by: its alias as zrt reads it (docs/zrt.md), relative
/// to `/`, without empty, `.` or `..` components (`..` drops the component before it,
/// nothing at the root). Two aliases with the same canonical path name one file for the
/// guest, so duplicates are looked for among these, not among the spellings.
pub fn canonical_alias(alias: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in alias.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The first alias that names, as the guest opens it ([`canonical_alias`]), the same path
/// as an earlier one: (its index, the earlier one's index, the path). Every manifest
/// reader and zvrun's channel list refuse such a pair: one channel would hide the other.
pub fn repeated_alias<'a>(aliases: impl IntoIterator<Item = &'a str>) -> Option<(usize, usize, String)> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, a) in aliases.into_iter().enumerate() {
        let canon = canonical_alias(a);
        if let Some(&j) = seen.get(&canon) {
            return Some((i, j, canon));
        }
        seen.insert(canon, i);
    }
    None
}

/// The first pair of aliases where one names, as the guest opens it
/// ([`canonical_alias`]), a path under the other's (`/d` and `/d/x`): (the index of the
/// one under, the index of the other). The guest would see `/d` as a file and yet open
/// `/d/x` through it, where zrt's path walk answers `ENOTDIR`; every reader of channels
/// refuses the pair, as an image refuses members `d` and `d/x` (audit finding: zvrun ran
/// with both).
pub fn nested_alias<'a>(aliases: impl IntoIterator<Item = &'a str>) -> Option<(usize, usize)> {
    let canon: Vec<String> = aliases.into_iter().map(canonical_alias).collect();
    let index: std::collections::HashMap<&str, usize> =
        canon.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    for (i, c) in canon.iter().enumerate() {
        let mut end = c.len();
        while let Some(slash) = c[..end].rfind('/').filter(|&s| s > 0) {
            if let Some(&j) = index.get(&c[..slash]) {
                return Some((i, j));
            }
            end = slash;
        }
    }
    None
}

/// Parses a ZeroVM 1.x text manifest.
pub fn parse_zerovm(text: &str) -> Result<Manifest, ManifestError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(err(0, format!("larger than {MAX_MANIFEST_BYTES} bytes")));
    }
    let mut version = None;
    let mut program = None;
    let mut memory = None;
    let mut timeout = None;
    let mut job = None;
    let mut channels: Vec<ChannelSpec> = Vec::new();
    let mut seen_aliases: std::collections::HashSet<String> = std::collections::HashSet::new();
    // A byte-order mark (editors on some systems write one) is not part of the first key:
    // it read as "unknown key `\u{feff}Version`", the mark invisible in the message.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        // A NUL byte would end the C string the guest reads: an alias `/dev/a\0x` showed
        // as `/dev/a`, so two channels could look alike (image manifests refuse it too).
        if raw.contains('\0') {
            return Err(err(n, "contains a NUL byte (a manifest is text)"));
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(n, format!("`{line}` is not `Key = value`")));
        };
        let (key, value) = (key.trim(), value.trim());
        let once = |slot: bool| if slot { Err(err(n, format!("{key} given twice"))) } else { Ok(()) };
        match key {
            "Version" => {
                once(version.is_some())?;
                if value != ZEROVM_VERSION {
                    return Err(err(n, format!("Version {value} is not {ZEROVM_VERSION}")));
                }
                version = Some(n);
            }
            "Program" => {
                once(program.is_some())?;
                if value.is_empty() {
                    return Err(err(n, "Program is empty"));
                }
                program = Some(value.to_string());
            }
            "Memory" => {
                once(memory.is_some())?;
                let f: Vec<&str> = value.split(',').collect();
                if f.len() != 2 {
                    return Err(err(n, "Memory needs `bytes, etag`"));
                }
                let bytes = nonneg(n, "Memory", f[0])?;
                if bytes == 0 {
                    // Refused here, where the line is known (an audit found the session's
                    // later "too small" message naming no line).
                    return Err(err(n, "Memory must be at least 1 byte (it bounds data, bss, heap and stack)"));
                }
                memory = Some((bytes as u64, flag(n, "Memory etag", f[1])?));
            }
            "Timeout" => {
                once(timeout.is_some())?;
                let t = nonneg(n, "Timeout", value)?;
                if t == 0 {
                    return Err(err(n, "Timeout must be at least 1 second"));
                }
                timeout = Some(t as u64);
            }
            "Channel" => {
                let f: Vec<&str> = value.split(',').map(str::trim).collect();
                if f.len() != 8 {
                    return Err(err(
                        n,
                        format!(
                            "Channel needs 8 fields (uri, alias, type, etag, gets, get_size, puts, put_size), got {}",
                            f.len()
                        ),
                    ));
                }
                if f[0].is_empty() || f[1].is_empty() {
                    return Err(err(n, "Channel uri and alias must not be empty"));
                }
                let t = int(n, "Channel type", f[2])?;
                let kind = ChannelType::from_number(t).ok_or_else(|| err(n, format!("Channel type {t} is not 0-3")))?;
                let limits = Limits {
                    gets: nonneg(n, "gets", f[4])?,
                    get_size: nonneg(n, "get_size", f[5])?,
                    puts: nonneg(n, "puts", f[6])?,
                    put_size: nonneg(n, "put_size", f[7])?,
                };
                // As the guest opens them (`repeated_alias`'s rule), line by line.
                let canon = canonical_alias(f[1]);
                if seen_aliases.contains(&canon) {
                    return Err(err(n, format!("Channel alias {} given twice (as the guest opens it, {canon})", f[1])));
                }
                seen_aliases.insert(canon);
                if channels.len() >= MAX_CHANNELS {
                    return Err(err(n, format!("more than {MAX_CHANNELS} channels")));
                }
                channels.push(ChannelSpec {
                    uri: f[0].to_string(),
                    alias: f[1].to_string(),
                    kind,
                    etag: flag(n, "Channel etag", f[3])?,
                    limits,
                });
            }
            "Job" => {
                once(job.is_some())?;
                if value.is_empty() {
                    return Err(err(n, "Job needs the path of the job socket"));
                }
                job = Some((n, value.to_string()));
            }
            other => return Err(err(n, format!("unknown key `{other}`"))),
        }
    }
    if version.is_none() {
        return Err(err(0, format!("missing `Version = {ZEROVM_VERSION}`")));
    }
    let program = program.ok_or_else(|| err(0, "missing `Program`"))?;
    let (memory, memory_etag) = memory.ok_or_else(|| err(0, "missing `Memory`"))?;
    for std in STD_STREAMS {
        if !channels.iter().any(|c| c.alias == std) {
            return Err(err(0, format!("missing the {std} channel")));
        }
    }
    // RUNTIME.md section 5 lists Timeout among the keys and only Job as optional, as
    // in ZeroVM 1.x, whose manifests always carry one.
    if timeout.is_none() {
        return Err(err(0, "missing `Timeout = seconds`"));
    }
    Ok(Manifest { program, memory, memory_etag, timeout, channels, job })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Version = 20130611\nProgram = app.nexe\nMemory = 268435456, 0\nTimeout = 5\n\
Channel = /dev/stdin, /dev/stdin, 0, 0, 100, 1000, 0, 0\n\
Channel = /dev/stdout, /dev/stdout, 0, 1, 0, 0, 100, 1000\n\
Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 1000\n\
# a comment\n\
Channel = data.bin, /dev/input, 1, 0, 10, 100000, 0, 0\n";

    #[test]
    fn parses_a_good_manifest() {
        let m = parse_zerovm(GOOD).expect("parses");
        assert_eq!(m.program, "app.nexe");
        assert_eq!(m.memory, 256 << 20);
        assert_eq!(m.timeout, Some(5));
        assert_eq!(m.channels.len(), 4);
        assert_eq!(m.channels[3].kind, ChannelType::RandReadSeqWrite);
        assert!(m.channels[1].etag);
        assert!(m.channels[3].limits.readable() && !m.channels[3].limits.writable());
        // With a byte-order mark first (a QA finding: "unknown key `\u{feff}Version`"),
        // and with CRLF line ends: the same manifest.
        let with_bom = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
        assert_eq!(parse_zerovm(&with_bom).expect("parses"), m);
        // Only at the very start: elsewhere it is part of a key, and named as such.
        let later = GOOD.replace("Timeout", "\u{feff}Timeout");
        assert!(parse_zerovm(&later).unwrap_err().to_string().contains("unknown key"));
    }

    #[test]
    fn aliases_are_compared_as_the_guest_opens_them() {
        for (a, want) in [
            ("/dev/stdin", "/dev/stdin"),
            ("//x", "/x"),
            ("/./x/", "/x"),
            ("/d/../x", "/x"),
            ("/../x", "/x"),
            ("x", "/x"),
            ("/", "/"),
        ] {
            assert_eq!(canonical_alias(a), want, "{a}");
        }
    }

    #[test]
    fn an_alias_under_another_is_found_however_spelled() {
        let n = |a: &[&str]| nested_alias(a.iter().copied());
        assert_eq!(n(&["/data", "/data/x"]), Some((1, 0)));
        assert_eq!(n(&["/d/./x", "//d"]), Some((0, 1)));
        assert_eq!(n(&["/a/b/c", "/a"]), Some((0, 1)));
        assert_eq!(n(&["/data", "/data-1", "/datax", "/dev/stdin", "/dev/stdout"]), None);
        assert_eq!(n(&["/"]), None);
    }

    #[test]
    fn every_bad_line_is_named() {
        let cases: &[(&str, usize, &str)] = &[
            ("Bogus = 1", 10, "unknown key"),
            ("Channel = a, b, 0, 0, 1, 1, 1", 10, "8 fields"),
            ("Channel = a, b, 7, 0, 1, 1, 1, 1", 10, "not 0-3"),
            ("Channel = a, b, 0, 2, 1, 1, 1, 1", 10, "0 or 1"),
            ("Channel = a, b, 0, 0, -1, 1, 1, 1", 10, "negative"),
            ("Channel = a, b, 0, 0, x, 1, 1, 1", 10, "not an integer"),
            ("Channel = a, b, 0, 0, 1-, 1, 1, 1", 10, "not an integer"),
            ("Channel = a, b, 0, 0, 1, 99999999999999999999, 1, 1", 10, "out of range"),
            ("Channel = a, /dev/stdin, 0, 0, 1, 1, 1, 1", 10, "given twice"),
            // The guest opens `//dev/./stdin` as `/dev/stdin`: one channel would hide the
            // other (audit finding for images; the same rule here).
            ("Channel = a, //dev/./stdin, 0, 0, 1, 1, 1, 1", 10, "given twice (as the guest opens it, /dev/stdin)"),
            ("Timeout = 3", 10, "given twice"),
            ("just words", 10, "not `Key = value`"),
            // QA finding: an alias with a NUL byte reached the guest cut at the NUL.
            ("Channel = a, /dev/a\0x, 0, 0, 1, 1, 1, 1", 10, "NUL byte"),
            ("Channel = a\0b, /dev/a, 0, 0, 1, 1, 1, 1", 10, "NUL byte"),
            ("# a comment \0", 10, "NUL byte"),
        ];
        for (extra, line, msg) in cases {
            let text = format!("{GOOD}{extra}\n");
            let e = parse_zerovm(&text).expect_err(extra);
            assert_eq!(e.line, *line, "{extra}: {e}");
            assert!(e.message.contains(msg), "{extra}: {e}");
            assert!(e.to_string().starts_with(&format!("manifest line {line}:")));
        }
    }

    #[test]
    fn a_long_line_is_quoted_cut_short() {
        for extra in [
            "x".repeat(900_000),
            format!("{} = 1", "é".repeat(300_000)),
            format!("Channel = a, b, 0, 0, {}, 1, 1, 1", "y".repeat(900_000)),
        ] {
            let text = format!("{GOOD}{extra}\nProgram = again\n");
            let e = parse_zerovm(&text).expect_err("long line");
            assert_eq!(e.line, 10);
            assert!(e.message.len() < 1100 && e.message.ends_with("... (cut)"), "{} bytes", e.message.len());
        }
    }

    #[test]
    fn zero_timeout_is_refused() {
        let e = parse_zerovm(&GOOD.replace("Timeout = 5", "Timeout = 0")).expect_err("0");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("at least 1"));
    }

    #[test]
    fn missing_required_keys() {
        let no_version = GOOD.replace("Version = 20130611\n", "");
        assert!(parse_zerovm(&no_version).expect_err("v").message.contains("Version"));
        let bad_version = GOOD.replace("20130611", "20120101");
        assert_eq!(parse_zerovm(&bad_version).expect_err("v").line, 1);
        let no_stderr = GOOD.replace("Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 1000\n", "");
        assert!(parse_zerovm(&no_stderr).expect_err("stderr").message.contains("/dev/stderr"));
        let no_mem = GOOD.replace("Memory = 268435456, 0\n", "");
        assert!(parse_zerovm(&no_mem).expect_err("mem").message.contains("Memory"));
        let zero_mem = GOOD.replace("Memory = 268435456, 0", "Memory = 0, 0");
        let e = parse_zerovm(&zero_mem).expect_err("zero memory");
        assert!(e.message.contains("Memory must be at least 1 byte") && e.line == 3, "{e:?}");
        let no_timeout = GOOD.replace("Timeout = 5\n", "");
        assert!(parse_zerovm(&no_timeout).expect_err("timeout").message.contains("missing `Timeout"));
    }
}
