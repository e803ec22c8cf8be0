//! Channels (RUNTIME.md sections 3 and 5): host files, character devices, FIFOs and the
//! standard streams behind the guest's Read and Write calls, with ZeroVM's sequential and
//! random semantics, the four quotas, and optional SHA-1 etags.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::sync::Arc;

use zvcore::manifest::{ChannelSpec, ChannelType, Limits};

/// What backs a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A regular file.
    File,
    /// A character device.
    CharDevice,
    /// A FIFO or pipe (including redirected standard streams).
    Pipe,
    /// A socket or anything else that can only stream.
    Stream,
}

impl SourceKind {
    /// The kind in words, for messages ("a character device").
    pub fn described(self) -> &'static str {
        match self {
            SourceKind::File => "a regular file",
            SourceKind::CharDevice => "a character device",
            SourceKind::Pipe => "a FIFO or pipe",
            SourceKind::Stream => "a socket or other stream",
        }
    }
}

/// An open channel.
pub struct Channel {
    /// The manifest's description.
    pub spec: ChannelSpec,
    /// The host file (shared by the channels on the files of one image: each reads its
    /// window with pread, and an image of thousands of files needs one descriptor, not
    /// one per file).
    file: Arc<File>,
    /// What the file is.
    pub source: SourceKind,
    /// The runtime's own stdin, stdout or stderr: always read and written in sequence
    /// with read/write, so redirections (`>>`, pipes, terminals) behave as for any
    /// program.
    std_stream: bool,
    /// A read-only window [offset, offset+size) of the file: a file inside an image.
    window: Option<(u64, u64)>,
    /// Size for random-read channels (RUNTIME.md section 4), else 0.
    pub size: u64,
    /// Sequential read position (regular files only; streams keep their own).
    read_pos: u64,
    /// Sequential write position (regular files only).
    write_pos: u64,
    /// Used counts: gets, get bytes, puts, put bytes.
    pub used: [i64; 4],
    etag: Option<sha1_smol::Sha1>,
    /// The channel's current size as random writes see it (random-write channels on
    /// regular files: the size at open, grown by writes; else 0). A random write may
    /// start below this plus the bytes its quota still allows (ZeroVM's rule).
    extent: u64,
    /// The host file is the one zvrun's own stderr writes to (same device and inode), so
    /// what the guest writes here and zvrun's messages share lines.
    pub shares_stderr: bool,
    /// The host error that cut the last write short after some bytes went out (EFBIG:
    /// RLIMIT_FSIZE, the file system's largest file): those bytes count, and the session
    /// then ends as for any host I/O error ([`Channel::take_cut_short`]).
    cut_short: Option<io::Error>,
}

/// Why a channel could not be opened.
#[derive(Debug)]
pub struct ChannelError(pub String);

impl std::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether the file with `meta` is the one zvrun's stderr (descriptor 2) writes to.
fn is_zvruns_stderr(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    static OURS: std::sync::OnceLock<Option<(u64, u64)>> = std::sync::OnceLock::new();
    *OURS.get_or_init(crate::sys::stderr_file_id) == Some((meta.dev(), meta.ino()))
}

/// Whether `uri` names one of zvrun's standard streams (read and written in sequence).
pub fn is_std_uri(uri: &str) -> bool {
    std_stream(uri).is_some()
}

fn std_stream(uri: &str) -> Option<i32> {
    zvcore::manifest::STD_STREAMS.iter().position(|s| *s == uri).map(|i| i as i32)
}

/// The refusal of a random channel type on a source read and written in sequence.
fn sequential_only(spec: &ChannelSpec, source: SourceKind) -> ChannelError {
    ChannelError(format!(
        "channel {} ({}): type {} needs random access, but the source is {}, which can only be read or written in sequence",
        spec.alias,
        spec.uri,
        spec.kind.number(),
        source.described()
    ))
}

impl Channel {
    /// Opens the host source of a channel. Regular files are opened read-only for
    /// read-only channels, write-only and truncated for write-only ones, read-write
    /// (created if missing, not truncated) for channels that are both.
    pub fn open(spec: &ChannelSpec) -> Result<Channel, ChannelError> {
        let (r, w) = (spec.limits.readable(), spec.limits.writable());
        let what = |e: io::Error| ChannelError(format!("channel {} ({}): {e}", spec.alias, spec.uri));
        let is_std = std_stream(&spec.uri).is_some();
        let file = if let Some(fd) = std_stream(&spec.uri) {
            // Duplicate the runtime's own stream so the channel owns its descriptor.
            let f = match fd {
                0 => io::stdin().as_fd_dup(),
                1 => io::stdout().as_fd_dup(),
                _ => io::stderr().as_fd_dup(),
            };
            let f = f.map_err(what)?;
            // A channel that puts a standard stream under another name (`/dev/stdin` on
            // /dev/stdout) and uses it in one direction only, which the stream is not open
            // for (stdout redirected to a file, read limits), is refused before the guest
            // runs: its first transfer would end the session as a host I/O error (EBADF;
            // an audit finding). A stream under its own name is left as it is (`zvrun
            // prog 0>/dev/null` runs a program that never reads), and so is a channel
            // whose limits allow both directions (manifests give generous limits).
            use std::os::fd::AsFd;
            let (can_r, can_w) = crate::sys::job::access_mode(f.as_fd()).map_err(what)?;
            let own = spec.alias == spec.uri;
            let (name, unusable) = match (r, w) {
                (true, false) if !can_r && !own => ("reading", true),
                (false, true) if !can_w && !own => ("writing", true),
                _ => ("", false),
            };
            if unusable {
                return Err(ChannelError(format!(
                    "channel {} ({}): zvrun's {} is not open for {name}, which is the channel's only direction",
                    spec.alias,
                    spec.uri,
                    ["standard input", "standard output", "standard error"][fd as usize]
                )));
            }
            f
        } else {
            let meta = std::fs::metadata(&spec.uri).ok();
            let is_file = meta.as_ref().is_none_or(|m| m.is_file());
            // A FIFO for a random type is refused before the open, which would wait for
            // the other end (an audit found the session hung there, or ended as a
            // timeout, instead of being refused as the docs say); the opened file is
            // checked again below.
            let random = (r && spec.kind.random_read()) || (w && spec.kind.random_write());
            if random && meta.as_ref().is_some_and(|m| m.file_type().is_fifo()) {
                return Err(sequential_only(spec, SourceKind::Pipe));
            }
            // Not std's open, which retries an interrupted open for ever: an open that
            // blocks (a FIFO nobody opens) ends with the timeout or a termination signal.
            crate::sys::open_stoppable(std::path::Path::new(&spec.uri), r || !w, w, is_file).map_err(what)?
        };
        Channel::from_file(spec, file, is_std, true)
    }

    /// A channel on a file a daemon-mode client opened as [`Channel::open`] does and sent
    /// with its request (crate::daemon): checked again here (the daemon trusts no
    /// client: the descriptor must be open for the channel's directions, and the checks
    /// of a file's kind apply to every descriptor), not truncated again. `std_stream`:
    /// the session's channel or the client's is a standard stream (then read and written
    /// in sequence).
    pub fn adopt(spec: &ChannelSpec, file: File, std_stream: bool) -> Result<Channel, ChannelError> {
        use std::os::fd::AsFd;
        let (r, w) = (spec.limits.readable(), spec.limits.writable());
        let what = |e: io::Error| ChannelError(format!("channel {} ({}): {e}", spec.alias, spec.uri));
        let (can_r, can_w) = crate::sys::job::access_mode(file.as_fd()).map_err(what)?;
        if (r && !can_r) || (w && !can_w) {
            let need = match (r, w) {
                (true, true) => "reading and writing",
                (true, false) => "reading",
                _ => "writing",
            };
            return Err(ChannelError(format!(
                "channel {} ({}): the descriptor sent is not open for {need}",
                spec.alias, spec.uri
            )));
        }
        Channel::from_file(spec, file, std_stream, false)
    }

    /// The checks and the state of a channel on the open `file`. `opened_here`: zvrun
    /// opened it for this session (a write-only regular file is then emptied, as opening
    /// it names it, and zvrun's own stderr is recognised by its inode); else a daemon-mode
    /// client did, and its `/dev/stderr` is the stderr the client reports on.
    fn from_file(spec: &ChannelSpec, file: File, is_std: bool, opened_here: bool) -> Result<Channel, ChannelError> {
        let (r, w) = (spec.limits.readable(), spec.limits.writable());
        let what = |e: io::Error| ChannelError(format!("channel {} ({}): {e}", spec.alias, spec.uri));
        // One fstat serves the source kind, the sizes, the stderr and the cache checks.
        let mut meta = file.metadata().map_err(what)?;
        // Checked on the opened file (symlinks, relative paths and /dev/fd lead there
        // too): a channel on /proc/self/mem would let the guest write zvrun's memory,
        // its own verified code included (a security review ran raw system calls so).
        // A client's descriptors are all checked, its standard streams included (the
        // daemon did not open them).
        if let Some(fs) = (!is_std || !opened_here).then(|| crate::sys::kernel_fs(&file)).flatten() {
            return Err(ChannelError(format!(
                "channel {} ({}): the file is on the kernel's {fs} file system, which channels may not use \
                 (/proc/self/mem would expose zvrun's own memory to the guest)",
                spec.alias, spec.uri
            )));
        }
        if w && (!is_std || !opened_here) && crate::cache::is_entry_like(&meta) {
            return Err(ChannelError(format!(
                "channel {} ({}): a regular file of mode 0500 is what zvrun's verdict cache trusts, so zvrun \
                 does not write to one (change the file's mode, or use another file)",
                spec.alias, spec.uri
            )));
        }
        // Write-only files named as the source are truncated once the check above passed
        // (not by the open). Never zvrun's own standard streams: whatever they are
        // redirected to (`>>`, a file shared with other writers) is written as any
        // program writes it.
        if opened_here && w && !r && !is_std && meta.file_type().is_file() && meta.len() > 0 {
            file.set_len(0).map_err(what)?;
            meta = file.metadata().map_err(what)?;
        }
        let ft = meta.file_type();
        // A directory opens read-only, but no Read of it can succeed: refused here, before
        // the guest runs, rather than ending the session at its first Read (a QA finding).
        if ft.is_dir() {
            return Err(ChannelError(format!(
                "channel {} ({}): is a directory; a channel's source is a file, a character device, a FIFO or a \
                 standard stream",
                spec.alias, spec.uri
            )));
        }
        let source = if ft.is_file() {
            SourceKind::File
        } else if ft.is_char_device() {
            SourceKind::CharDevice
        } else if ft.is_fifo() {
            SourceKind::Pipe
        } else {
            SourceKind::Stream
        };
        let random = (r && spec.kind.random_read()) || (w && spec.kind.random_write());
        if random && is_std {
            return Err(ChannelError(format!(
                "channel {} ({}): type {} needs random access, but zvrun's standard streams are read and written in sequence (use type 0, or name the file itself as the uri)",
                spec.alias,
                spec.uri,
                spec.kind.number()
            )));
        }
        if random && source != SourceKind::File {
            return Err(sequential_only(spec, source));
        }
        let size = if source == SourceKind::File && spec.kind.random_read() && r { meta.len() } else { 0 };
        let mut file = file;
        let mut write_pos = 0;
        if source == SourceKind::File && w && !spec.kind.random_write() && r && !is_std {
            // Sequential (append) writes on a read-write file start at its end.
            write_pos = file.seek(SeekFrom::End(0)).map_err(what)?;
        }
        let extent = if source == SourceKind::File && w && spec.kind.random_write() { meta.len() } else { 0 };
        let shares_stderr =
            w && if opened_here { is_zvruns_stderr(&meta) } else { is_std && spec.alias == "/dev/stderr" };
        Ok(Channel {
            spec: spec.clone(),
            file: Arc::new(file),
            source,
            std_stream: is_std,
            window: None,
            size,
            read_pos: 0,
            write_pos,
            used: [0; 4],
            etag: spec.etag.then(sha1_smol::Sha1::new),
            extent,
            shares_stderr,
            cut_short: None,
        })
    }

    /// The channel's host descriptor (a daemon-mode client sends it with its request).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.file.as_raw_fd()
    }

    /// Whether the channel is a file inside the session's image.
    pub fn in_image(&self) -> bool {
        self.window.is_some()
    }

    /// The same file inside the image, read from its start again with nothing used
    /// (a forked session of a daemon, crate::daemon); `None` for other channels.
    pub fn fresh(&self, etag: bool) -> Option<Channel> {
        let (offset, size) = self.window?;
        let mut spec = self.spec.clone();
        spec.etag = etag;
        Channel::open_window(&spec, self.file.clone(), offset, size).ok()
    }

    /// A read-only channel on the bytes [offset, offset+size) of `file` (a member of an
    /// image, read in place through the image's one descriptor: a QA finding, an image of
    /// a thousand files opened the tar a thousand times and failed under the usual limit
    /// of 1024 descriptors).
    pub fn open_window(spec: &ChannelSpec, file: Arc<File>, offset: u64, size: u64) -> Result<Channel, ChannelError> {
        if spec.limits.writable() {
            return Err(ChannelError(format!("channel {}: files inside the image are read-only", spec.alias)));
        }
        Ok(Channel {
            spec: spec.clone(),
            file,
            source: SourceKind::File,
            std_stream: false,
            window: Some((offset, size)),
            size: if spec.kind.random_read() { size } else { 0 },
            read_pos: 0,
            write_pos: 0,
            used: [0; 4],
            etag: spec.etag.then(sha1_smol::Sha1::new),
            extent: 0,
            shares_stderr: false,
            cut_short: None,
        })
    }

    /// Limits of the channel.
    pub fn limits(&self) -> Limits {
        self.spec.limits
    }

    /// The channel's type.
    pub fn kind(&self) -> ChannelType {
        self.spec.kind
    }

    /// Reads up to `buf.len()` bytes (already clipped to the quota by the caller) at
    /// `offset` for random channels or at the channel's position otherwise.
    pub fn read(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let n = if let Some((base, len)) = self.window {
            let at = if self.spec.kind.random_read() { offset } else { self.read_pos };
            let n = if at >= len {
                0
            } else {
                let want = buf.len().min((len - at) as usize);
                read_full_at(&self.file, &mut buf[..want], base + at)?
            };
            if !self.spec.kind.random_read() {
                self.read_pos += n as u64;
            }
            n
        } else if self.spec.kind.random_read() {
            if offset >= self.size {
                0
            } else {
                let want = buf.len().min((self.size - offset) as usize);
                read_full_at(&self.file, &mut buf[..want], offset)?
            }
        } else if self.source == SourceKind::File && !self.std_stream {
            let n = read_full_at(&self.file, buf, self.read_pos)?;
            self.read_pos += n as u64;
            n
        } else {
            read_retry(&self.file, buf)?
        };
        if let Some(h) = &mut self.etag {
            h.update(&buf[..n]);
        }
        Ok(n)
    }

    /// Whether a random write of `n` bytes (already clipped to the quota, which leaves
    /// `tail` bytes) may start at `offset` (RUNTIME.md section 3: random channels use the
    /// offset "within the channel size and quota"): below the channel's size plus `tail`
    /// (ZeroVM's rule: the channel grows by at most what the quota still allows), and
    /// ending at a file offset the host can represent. Else the call gives -EINVAL.
    pub fn random_write_fits(&self, offset: u64, n: u64, tail: u64) -> bool {
        offset < self.extent.saturating_add(tail) && offset.checked_add(n).is_some_and(|e| e <= i64::MAX as u64)
    }

    /// Writes all of `data` at `offset` for random channels or sequentially otherwise.
    pub fn write(&mut self, data: &[u8], offset: u64) -> io::Result<usize> {
        let (n, end) = if self.spec.kind.random_write() {
            let n = write_full_at(&self.file, data, offset, &mut self.cut_short)?;
            let end = offset + n as u64;
            if n > 0 {
                self.extent = self.extent.max(end);
            }
            (n, end)
        } else if self.source == SourceKind::File && !self.std_stream {
            let n = write_full_at(&self.file, data, self.write_pos, &mut self.cut_short)?;
            self.write_pos += n as u64;
            (n, self.write_pos)
        } else {
            // The timeout may cut a write to a pipe short: what went out is counted.
            let n = write_retry(&self.file, data, &mut self.cut_short)?;
            if let Some(h) = &mut self.etag {
                h.update(&data[..n]);
            }
            return Ok(n);
        };
        // A channel that is read at random sees what was written to it: its size grows.
        if self.spec.kind.random_read() && self.spec.limits.readable() && n > 0 {
            self.size = self.size.max(end);
        }
        if let Some(h) = &mut self.etag {
            h.update(&data[..n]);
        }
        Ok(n)
    }

    /// The host error that cut the last write short, if one did (see `cut_short`).
    pub fn take_cut_short(&mut self) -> Option<io::Error> {
        self.cut_short.take()
    }

    /// Flushes buffered data to the host.
    pub fn flush(&mut self) -> io::Result<()> {
        (&*self.file).flush()
    }

    /// The etag (hex SHA-1 of the bytes through the channel), when enabled.
    pub fn etag(&self) -> Option<String> {
        self.etag.as_ref().map(|h| h.digest().to_string())
    }
}

fn read_full_at(f: &File, buf: &mut [u8], mut at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], at) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !crate::sys::stopping() => continue,
            // Cut short by the stop after some bytes: those were read (and count).
            Err(e) if e.kind() == io::ErrorKind::Interrupted && done > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes `data` to a file at `at`; returns the bytes written: all of them, or fewer when
/// the file-size limit (EFBIG: RLIMIT_FSIZE, the file system's largest file) or the
/// session's stop cut the write short after some went out. Those were written, so they
/// count (quota, etag, position); the file-size error is left in `cut` and ends the
/// session, like any host I/O error (RUNTIME.md section 3: the guest never sees a
/// host-dependent result, and a short count would be one). (std's `write_all_at`
/// returned the error and counted nothing, so a Write across RLIMIT_FSIZE put bytes past
/// the channel's quota.)
fn write_full_at(f: &File, data: &[u8], mut at: u64, cut: &mut Option<io::Error>) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match f.write_at(&data[done..], at) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing")),
            Ok(n) => {
                done += n;
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !crate::sys::stopping() => continue,
            Err(e) if done > 0 && e.kind() == io::ErrorKind::Interrupted => break,
            Err(e) if done > 0 => {
                *cut = Some(e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn read_retry(mut f: &File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match f.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !crate::sys::stopping() => continue,
            r => return r,
        }
    }
}

/// Writes all of `data` to a stream; returns the bytes written, fewer only when the
/// session's stop (the timeout, a termination signal) interrupted a blocked write after some went out (the session then
/// ends, and the report counts exactly what the channel received).
/// Writes `data` in sequence (standard streams, pipes, devices); returns the bytes
/// written. An error after some bytes went out (EFBIG past RLIMIT_FSIZE on a redirected
/// stream, a closed pipe) is left in `cut`: those bytes count, then the session ends, as
/// in [`write_full_at`].
fn write_retry(mut f: &File, data: &[u8], cut: &mut Option<io::Error>) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match f.write(&data[done..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing")),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !crate::sys::stopping() => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted && done > 0 => break,
            Err(e) if done > 0 => {
                *cut = Some(e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

trait DupFd {
    fn as_fd_dup(&self) -> io::Result<File>;
}

impl<T: std::os::fd::AsFd> DupFd for T {
    fn as_fd_dup(&self) -> io::Result<File> {
        Ok(File::from(self.as_fd().try_clone_to_owned()?))
    }
}
