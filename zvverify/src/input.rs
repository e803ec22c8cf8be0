//! Reading one input with bounded memory (docs/zvverify.md, "Limits on hostile input").
//!
//! An input is opened only when it is a regular file (a FIFO named on the command line
//! would block `open`, a socket cannot be opened, a device never ends), and then read in
//! steps: its first [`HEAD`] bytes decide what it is (a nexe by its ELF magic, an image by
//! its tar header, anything else is skipped or failed by the caller); of a nexe, only the
//! bytes [`zvcore::nexe::Nexe::parse`] reads are loaded (the ELF header, the program
//! header table and the segments, as zvrun loads them), so a huge file of garbage costs
//! a few kilobytes. The whole file is read only for diagnostics of a failing nexe
//! (symbols and DWARF lines live in sections outside the segments) and for the exact
//! message of a nexe whose headers point outside it, and only up to [`MAX_WHOLE`].
//!
//! The verdict never depends on how much was read: the prefix holds every byte the
//! parser and the verifier look at, so they decide exactly as on the whole file (a test
//! compares both on thousands of damaged nexes).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use zvcore::display::OpenError;
use zvcore::image::{tar_checksum_ok, tar_octal};

/// Bytes read first from every input: the ELF header and, in practice, the program
/// headers; or the first tar header.
pub const HEAD: u64 = 4096;
/// Most bytes of headers and segments read to verify one nexe (as zvrun's limit for a
/// nexe read from a stream). A nexe whose headers place more in the file fails (`ELF`).
pub const MAX_LOADED: u64 = zvcore::nexe::MAX_LOADED;
/// Largest nexe read whole: for the symbols and source lines of a failing nexe, and for
/// the exact message of a nexe whose headers point outside it.
pub const MAX_WHOLE: u64 = zvcore::nexe::MAX_READ_WHOLE;
/// Most tar headers looked at when deciding whether a tar might be an image.
const MAX_TAR_HEADERS: usize = 100_000;
/// Largest tar extension record (PAX or GNU long name) looked into.
const MAX_TAR_EXTENSION: u64 = 1 << 20;

/// Why an input could not be read.
#[derive(Debug)]
pub enum InputError {
    /// `stat` or `open` failed.
    Open(std::io::Error),
    /// The path is not a regular file (what it is instead).
    NotRegular(&'static str),
    /// A regular file that reports size 0 but has content (a file of `/proc` or `/sys`).
    SizeUnknown,
    /// A read failed.
    Read(std::io::Error),
    /// The file ended before the bytes its size promised (it changed while being read).
    Shrank {
        /// Bytes wanted.
        wanted: u64,
        /// Bytes there were.
        got: u64,
    },
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Open(e) => write!(f, "cannot open: {e}"),
            InputError::SizeUnknown => write!(
                f,
                "reports size 0 but has content (a file of /proc or /sys?): its size is not known, so it is not read"
            ),
            InputError::NotRegular(what) => {
                write!(f, "is a {what}, not a regular file (zvverify reads only regular files)")
            }
            InputError::Read(e) => write!(f, "cannot read: {e}"),
            InputError::Shrank { wanted, got } => {
                write!(f, "cannot read: the file changed while it was read ({got} of {wanted} bytes there)")
            }
        }
    }
}

impl std::error::Error for InputError {}

/// Opens `path` for reading if it is a regular file, with its size
/// ([`zvcore::display::open_regular`]; `known`: a walk already read its type).
///
/// A file that reports size 0 is read once to see whether it is empty: files of the
/// kernel's interface file systems (`/proc/self/mem`, `/proc/self/status`) report 0 and
/// then have content or fail to read, and the verdict must be the whole file's, not an
/// empty one's (audit finding: `zvverify /proc/self/mem` said "missing ELF magic").
/// Such a file is an input that cannot be read (status 2).
pub fn open_regular(path: &Path, known: bool) -> Result<(File, u64), InputError> {
    let (f, len) = zvcore::display::open_regular(path, known).map_err(|e| match e {
        OpenError::Open(e) => InputError::Open(e),
        OpenError::Stat(e) => InputError::Read(e),
        OpenError::NotRegular(what) => InputError::NotRegular(what),
    })?;
    if len == 0 {
        let mut probe = [0u8; 1];
        if (&f).read(&mut probe).map_err(InputError::Read)? != 0 {
            return Err(InputError::SizeUnknown);
        }
    }
    Ok((f, len))
}

/// A byte range of an open file: a whole file, or the nexe member of an image.
#[derive(Clone, Copy, Debug)]
pub struct Region<'f> {
    /// The file.
    pub file: &'f File,
    /// Offset of the region's first byte in the file.
    pub base: u64,
    /// Length of the region.
    pub len: u64,
}

impl Region<'_> {
    /// Appends the region's bytes `[off, off + n)` to `buf` (one allocation of the exact
    /// size, read without zero-filling first, as `std::fs::read` does).
    pub fn read_into(&self, off: u64, n: u64, buf: &mut Vec<u8>) -> Result<(), InputError> {
        let want = usize::try_from(n).map_err(|_| InputError::Read(std::io::ErrorKind::OutOfMemory.into()))?;
        buf.try_reserve_exact(want).map_err(|_| InputError::Read(std::io::ErrorKind::OutOfMemory.into()))?;
        let at = self.base.checked_add(off).ok_or(InputError::Shrank { wanted: n, got: 0 })?;
        let mut f = self.file;
        f.seek(SeekFrom::Start(at)).map_err(InputError::Read)?;
        let before = buf.len();
        f.take(n).read_to_end(buf).map_err(InputError::Read)?;
        let got = (buf.len() - before) as u64;
        if got != n {
            return Err(InputError::Shrank { wanted: n, got });
        }
        Ok(())
    }

    /// The region's bytes `[off, off + n)`.
    pub fn read(&self, off: u64, n: u64) -> Result<Vec<u8>, InputError> {
        let mut buf = Vec::new();
        self.read_into(off, n, &mut buf)?;
        Ok(buf)
    }

    /// The region's first [`HEAD`] bytes (all of it when shorter).
    pub fn head(&self) -> Result<Vec<u8>, InputError> {
        self.read(0, self.len.min(HEAD))
    }

    /// The whole region.
    pub fn read_all(&self) -> Result<Vec<u8>, InputError> {
        self.read(0, self.len)
    }
}

/// The bytes of a nexe to verify, or why it is refused without reading them.
#[derive(Debug)]
pub enum Loaded {
    /// A prefix holding every byte the parser and the verifier read.
    Bytes {
        /// The bytes.
        data: Vec<u8>,
        /// Whether they are the whole region (else symbols and DWARF may lie beyond).
        whole: bool,
    },
    /// Not a valid nexe, decided from its headers alone (message for rule `ELF`).
    Refused(String),
}

/// How many leading bytes of `region` the nexe parser reads ([`zvcore::nexe::parsed_prefix`]).
fn parsed_prefix(region: &Region<'_>, head: &[u8]) -> Result<Option<u64>, InputError> {
    zvcore::nexe::parsed_prefix(head, region.len, |off, n| region.read(off, n))
}

/// Reads what is needed to verify the nexe in `region`, whose first bytes are `head`
/// (from [`Region::head`]).
pub fn load_nexe(region: &Region<'_>, mut head: Vec<u8>) -> Result<Loaded, InputError> {
    match parsed_prefix(region, &head)? {
        Some(n) if n <= MAX_LOADED => {
            let n_usize = usize::try_from(n).map_err(|_| InputError::Read(std::io::ErrorKind::OutOfMemory.into()))?;
            if n_usize <= head.len() {
                head.truncate(n_usize);
                return Ok(Loaded::Bytes { data: head, whole: n == region.len });
            }
            let mut data = Vec::new();
            data.try_reserve_exact(n_usize).map_err(|_| InputError::Read(std::io::ErrorKind::OutOfMemory.into()))?;
            data.extend_from_slice(&head);
            drop(head);
            let have = data.len() as u64;
            region.read_into(have, n - have, &mut data)?;
            Ok(Loaded::Bytes { data, whole: n == region.len })
        }
        Some(n) => Ok(Loaded::Refused(format!(
            "not a valid nexe: its program headers place {n} bytes of headers and segments in the file; \
             zvverify reads at most {MAX_LOADED} bytes of a nexe"
        ))),
        None if region.len <= MAX_WHOLE => Ok(Loaded::Bytes { data: region.read_all()?, whole: true }),
        None => Ok(Loaded::Refused(format!(
            "not a valid nexe: the program header table or a segment lies outside the {}-byte file",
            region.len
        ))),
    }
}

fn mentions_manifest(bytes: &[u8]) -> bool {
    let name = zvcore::image::MANIFEST_NAME.as_bytes();
    bytes.windows(name.len()).any(|w| w == name)
}

/// Whether a path from a tar header (`bytes`, up to a NUL) may be the image's manifest
/// as the image reader finds it: its last component is `manifest.json` and any before it
/// are empty or `.` (`./manifest.json`, as `tar -C dir -cf app.tar .` writes it). A
/// `manifest.json` in a directory (`ext/manifest.json`, a browser extension's sources) is
/// another file: an image's manifest lies at its root.
fn may_be_root_manifest(bytes: &[u8]) -> bool {
    let path = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
    let mut parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    let name = zvcore::image::MANIFEST_NAME.as_bytes();
    parts.split_last().is_some_and(|(last, dirs)| *last == name && dirs.iter().all(|d| d.is_empty() || *d == b"."))
}

/// Whether a plain tar header (not a PAX or GNU extension record) may name the image's
/// manifest: its path, the ustar prefix and name joined as the tar reader joins them, is
/// [`may_be_root_manifest`], or the name appears anywhere else in the header (its link
/// name, other fields: answered `true`, to be safe).
fn header_may_name_manifest(h: &[u8]) -> bool {
    // The ustar magic and version, as the tar reader requires before it reads a prefix.
    let ustar = h.get(257..263) == Some(&b"ustar\0"[..]) && h.get(263..265) == Some(&b"00"[..]);
    let mut rest = h.to_vec();
    rest[..100].fill(0);
    if ustar {
        rest[345..500].fill(0);
    }
    if mentions_manifest(&rest) {
        return true;
    }
    let field = |f: &[u8]| f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())].to_vec();
    let (name, prefix) = (field(&h[..100]), if ustar { field(&h[345..500]) } else { Vec::new() });
    let path = if prefix.is_empty() { name } else { [prefix, b"/".to_vec(), name].concat() };
    may_be_root_manifest(&path)
}

/// Whether the tar `file` might hold a member named `manifest.json` at its root (and so
/// be an image that zvrun would run). `false` only when a walk over its headers, made as
/// the tar reader makes it, meets no header or PAX / GNU long-name record that may name
/// it: a header's path that is `manifest.json` (or `./manifest.json`), a GNU long name
/// that is, or any mention of the name elsewhere (a PAX record, a link name); anything
/// unexpected (a bad checksum, a number field it might read differently, a PAX `size`, a
/// truncated header, a read error) answers `true`.
pub fn tar_may_hold_manifest(file: &File, len: u64) -> bool {
    let region = Region { file, base: 0, len };
    let mut pos = 0u64;
    for _ in 0..MAX_TAR_HEADERS {
        if pos >= len {
            return false; // the tar reader meets the end of the file: the end of the archive
        }
        let h = match region.read(pos, 512.min(len - pos)) {
            Ok(h) if h.len() == 512 => h,
            _ => return true,
        };
        if h.iter().all(|&b| b == 0) {
            return false; // the end-of-archive block
        }
        let extension = matches!(h[156], b'x' | b'g' | b'L' | b'K');
        if if extension { mentions_manifest(&h) } else { header_may_name_manifest(&h) } {
            return true;
        }
        let Some(size) = tar_octal(&h[124..136]).filter(|_| tar_checksum_ok(&h)) else {
            return true;
        };
        if extension {
            if size > MAX_TAR_EXTENSION {
                return true;
            }
            let Ok(data) = region.read(pos + 512, size.min(len.saturating_sub(pos + 512))) else {
                return true;
            };
            let pax = matches!(h[156], b'x' | b'g');
            // A GNU long name is a path; anything else that mentions the name counts.
            let named = if h[156] == b'L' { may_be_root_manifest(&data) } else { mentions_manifest(&data) };
            if named || (pax && data.windows(5).any(|w| w == b"size=")) {
                return true;
            }
        }
        // A GNU sparse member's header is followed by extension blocks of sparse map
        // entries while its `isextended` byte (482, then 504 of each block) is set; its
        // data comes after them. (An audit found the walk taking the first extension
        // block, all zeros, for the end of the archive and skipping the image after it.)
        let mut data_at = pos.saturating_add(512);
        if h[156] == b'S' {
            let mut extended = h[482] != 0;
            let mut blocks = 0;
            while extended {
                blocks += 1;
                let block = match region.read(data_at, 512.min(len.saturating_sub(data_at))) {
                    Ok(b) if b.len() == 512 && blocks <= MAX_TAR_HEADERS => b,
                    _ => return true,
                };
                extended = block[504] != 0;
                data_at = data_at.saturating_add(512);
            }
        }
        let Some(next) = size.checked_next_multiple_of(512).and_then(|s| data_at.checked_add(s)) else {
            return true;
        };
        pos = next;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(bytes: &[u8]) -> (tempfile::TempDir, File) {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("f");
        std::fs::File::create(&p).and_then(|mut f| f.write_all(bytes)).expect("write");
        let f = File::open(&p).expect("open");
        (d, f)
    }

    /// The verdict with every violation and message (`Rejected` has no `PartialEq`).
    fn verdict(data: &[u8]) -> String {
        format!("{:?}", zvcore::verify_nexe(data, zvcore::Options { max_violations: 1000 }).map(|v| v.code.len()))
    }

    /// Verifying the prefix `load_nexe` reads decides exactly as verifying the whole
    /// file (same verdict, same violations and messages), on valid nexes with trailing
    /// bytes and on thousands of damaged ones.
    #[test]
    fn the_loaded_prefix_decides_as_the_whole_file() {
        let mut rng = zvcore::testgen::Rng::new(7);
        let mut partial = 0;
        for i in 0..1500u64 {
            let mut f = zvcore::testgen::valid_nexe(i, 4096 + 64 * (i as usize % 200));
            // Trailing bytes the parser never reads (as symbols and DWARF would be).
            let padded = f.len() + (i as usize % 5) * 3000;
            f.resize(padded, 0xAB);
            match i % 4 {
                0 => {}
                1 => f.truncate(rng.below(f.len() as u64) as usize),
                2 => {
                    for _ in 0..4 {
                        let at = rng.below(512.min(f.len() as u64)) as usize;
                        f[at] = rng.byte();
                    }
                }
                _ => {
                    let at = 32 + rng.below(32) as usize;
                    f[at] = rng.byte();
                }
            }
            let (_d, file) = temp_file(&f);
            let region = Region { file: &file, base: 0, len: f.len() as u64 };
            let head = region.head().expect("head");
            match load_nexe(&region, head).expect("load") {
                Loaded::Bytes { data, whole } => {
                    assert!(f.starts_with(&data), "case {i}: not a prefix");
                    assert_eq!(whole, data.len() == f.len(), "case {i}");
                    partial += usize::from(!whole);
                    assert_eq!(verdict(&data), verdict(&f), "case {i}");
                }
                Loaded::Refused(m) => panic!("case {i}: refused a small file: {m}"),
            }
        }
        assert!(partial > 300, "only {partial} cases read less than the whole file");
    }

    #[test]
    fn garbage_is_decided_from_its_first_bytes() {
        let mut g = b"\x7fELF\x01\x01\x01".to_vec(); // ELFCLASS32
        g.resize(1 << 20, 0x41);
        let (_d, file) = temp_file(&g);
        let region = Region { file: &file, base: 0, len: g.len() as u64 };
        let Loaded::Bytes { data, whole } = load_nexe(&region, region.head().expect("head")).expect("load") else {
            panic!("refused")
        };
        assert_eq!((data.len(), whole), (64, false));
        assert_eq!(verdict(&data), verdict(&g));
        let text = b"just some text\n".repeat(1000);
        let (_d, file) = temp_file(&text);
        let region = Region { file: &file, base: 0, len: text.len() as u64 };
        let Loaded::Bytes { data, .. } = load_nexe(&region, region.head().expect("head")).expect("load") else {
            panic!("refused")
        };
        assert_eq!(data.len(), 64);
    }

    #[test]
    fn plain_tars_are_told_from_possible_images() {
        let n = zvcore::testgen::valid_nexe(1, 4096);
        let man: &[u8] = br#"{"version":1,"program":"app.nexe"}"#;
        let plain = zvcore::testgen::raw_tar(&[(b"a.txt", b'0', b"hello", b""), (b"link", b'2', b"", b"a.txt")]);
        let image = zvcore::testgen::raw_tar(&[(b"manifest.json", b'0', man, b""), (b"app.nexe", b'0', &n, b"")]);
        let late = zvcore::testgen::raw_tar(&[(b"a.txt", b'0', b"hello", b""), (b"manifest.json", b'0', man, b"")]);
        let long = zvcore::testgen::raw_tar(&[(b"././@LongLink", b'L', b"manifest.json", b""), (b"x", b'0', b"", b"")]);
        let pax = zvcore::testgen::raw_tar(&[(b"p", b'x', b"22 path=manifest.json\n", b""), (b"x", b'0', b"", b"")]);
        let mut broken = plain.clone();
        broken[148] = b'7';
        // QA finding: a tar holding `ext/manifest.json` (not an image: its manifest would
        // lie at the root) was checked as an image in a walk and failed with "the image
        // has no manifest.json".
        let nested = zvcore::testgen::raw_tar(&[(b"ext/manifest.json", b'0', man, b""), (b"app.nexe", b'0', &n, b"")]);
        let long_nested =
            zvcore::testgen::raw_tar(&[(b"././@LongLink", b'L', b"ext/manifest.json", b""), (b"x", b'0', b"", b"")]);
        let renamed = zvcore::testgen::raw_tar(&[(b"manifest.json.bak", b'0', man, b"")]);
        let dotted = zvcore::testgen::raw_tar(&[(b"./manifest.json", b'0', man, b"")]);
        let linked = zvcore::testgen::raw_tar(&[(b"m", b'2', b"", b"manifest.json")]);
        // A ustar prefix: `a` + `manifest.json` is `a/manifest.json`; `.` + it is the root's.
        let with_prefix = |prefix: &[u8]| {
            let mut t = zvcore::testgen::raw_tar(&[(b"manifest.json", b'0', man, b"")]);
            t[345..345 + prefix.len()].copy_from_slice(prefix);
            t[148..156].copy_from_slice(b"        ");
            let sum: u32 = t[..512].iter().map(|&b| u32::from(b)).sum();
            t[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            t
        };
        let (in_dir, in_dot) = (with_prefix(b"a"), with_prefix(b"."));
        // A GNU sparse member with `extensions` extension blocks (all zeros but the
        // `isextended` byte of all but the last), then `rest`'s members (audit finding:
        // the walk took the first block for the end of the archive).
        let sparse = |extensions: usize, rest: &[u8]| {
            let mut t = zvcore::testgen::raw_tar(&[(b"s", b'S', b"data", b"")]);
            t.truncate(t.len() - 1024);
            t[482] = u8::from(extensions > 0);
            t[148..156].copy_from_slice(b"        ");
            let sum: u32 = t[..512].iter().map(|&b| u32::from(b)).sum();
            t[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            let mut blocks = vec![0u8; 512 * extensions];
            for k in 1..extensions {
                blocks[512 * k - 8] = 1;
            }
            t.splice(512..512, blocks);
            t.extend_from_slice(rest);
            t
        };
        let (sparse_image, sparse_image2) = (sparse(1, &image), sparse(2, &image));
        let (sparse_plain, sparse_plain0) = (sparse(2, &plain), sparse(0, &plain));
        for (name, tar, want) in [
            ("sparse then image", &sparse_image, true),
            ("sparse (2 blocks) then image", &sparse_image2, true),
            ("sparse then plain", &sparse_plain, false),
            ("sparse (no blocks) then plain", &sparse_plain0, false),
            ("plain", &plain, false),
            ("image", &image, true),
            ("late", &late, true),
            ("long", &long, true),
            ("pax", &pax, true),
            ("broken", &broken, true),
            ("nested", &nested, false),
            ("long nested", &long_nested, false),
            ("renamed", &renamed, false),
            ("dotted", &dotted, true),
            ("linked", &linked, true),
            ("prefix a", &in_dir, false),
            ("prefix .", &in_dot, true),
        ] {
            let (_d, file) = temp_file(tar);
            assert_eq!(tar_may_hold_manifest(&file, tar.len() as u64), want, "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_not_opened() {
        let d = tempfile::tempdir().expect("tmp");
        let fifo = d.path().join("fifo");
        let st = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(st.success());
        for (p, what) in [(fifo.as_path(), "FIFO"), (Path::new("/dev/null"), "character device")] {
            match open_regular(p, false) {
                Err(e @ InputError::NotRegular(_)) => assert!(e.to_string().contains(what), "{e}"),
                other => panic!("{}: {other:?}", p.display()),
            }
        }
    }
}
