//! A session: from a [`SessionConfig`] (built from the command line, a ZeroVM manifest or
//! an image) to a running guest and an [`Outcome`]. Loading follows RUNTIME.md section 2:
//! reserve, copy and verify, map with exact permissions, build the start-up block, enter.

use std::time::Instant;

use zvcore::form;
use zvcore::manifest::{ChannelSpec, ChannelType, Limits, UNLIMITED};
use zvcore::nexe::Nexe;

use crate::channel::Channel;
use crate::sys::{self, GuestMemory, RunEnd, PAGE, PROT_R, PROT_W};
use crate::trap::Calls;

/// Default memory limit: data + bss + heap + stack (RUNTIME.md section 6).
pub const DEFAULT_MEMORY: u64 = 256 << 20;

/// Auxiliary-vector types zv adds for zrt (ignored by musl): the manifest's fixed time
/// (seconds since the epoch) and its seed.
pub const AT_ZV_TIME: u64 = 0x5A56_0001;
/// See [`AT_ZV_TIME`].
pub const AT_ZV_SEED: u64 = 0x5A56_0002;

/// Everything needed to run one session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Host path of the nexe (or the image, for messages).
    pub program: String,
    /// The image the session comes from, when it does: the nexe's bytes are read from
    /// it and channels with a uri `image:PATH` read its members in place.
    pub image: Option<ImageSource>,
    /// argv as the guest sees it (argv[0] first): bytes, as the kernel passes them.
    pub argv: Vec<std::ffi::OsString>,
    /// Environment, `KEY=VALUE` (bytes).
    pub env: Vec<std::ffi::OsString>,
    /// Memory limit in bytes.
    pub memory: u64,
    /// Wall-clock timeout in seconds.
    pub timeout: Option<u64>,
    /// Channels (any order; stdin, stdout, stderr must be among them).
    pub channels: Vec<ChannelSpec>,
    /// Seed for AT_RANDOM and zrt's generator.
    pub seed: u64,
    /// Fixed time for zrt's clocks (seconds since the epoch).
    pub time: u64,
    /// Install the seccomp filter before entering the guest.
    pub seccomp: bool,
    /// Verdict-cache directory (`None`: verify every time). See [`crate::cache`].
    pub verdict_cache: Option<std::path::PathBuf>,
    /// Measure the session's phases and total time (for a report). Off, the session
    /// reads no clock (the first read of the vDSO clock costs microseconds).
    pub timed: bool,
    /// The job socket of daemon mode (RUNTIME.md section 7, [`crate::daemon`]): the
    /// guest's first Fork turns the session into a daemon serving requests on it.
    pub serve: Option<String>,
    /// Daemon mode: how many forked sessions may run at once (`--max-jobs`).
    pub max_jobs: u32,
    /// The nexe at `program`, already open (see [`crate::image::open_program`]); when
    /// `None` and there is no image, `program` is opened.
    pub program_file: Option<std::sync::Arc<std::fs::File>>,
}

/// An image backing a session.
#[derive(Clone, Debug)]
pub struct ImageSource {
    /// Host path of the tar.
    pub path: std::path::PathBuf,
    /// Members: path inside the image -> (offset, size) in the tar.
    pub members: std::collections::BTreeMap<String, (u64, u64)>,
    /// Path of the program inside the image.
    pub program: String,
    /// The image, already open (the program is read through it).
    pub file: Option<std::sync::Arc<std::fs::File>>,
}

/// The standard channels of a session without a manifest.
pub fn default_channels() -> Vec<ChannelSpec> {
    let r = Limits { gets: UNLIMITED, get_size: UNLIMITED, puts: 0, put_size: 0 };
    let w = Limits { gets: 0, get_size: 0, puts: UNLIMITED, put_size: UNLIMITED };
    ["/dev/stdin", "/dev/stdout", "/dev/stderr"]
        .into_iter()
        .enumerate()
        .map(|(i, a)| ChannelSpec {
            uri: a.into(),
            alias: a.into(),
            kind: ChannelType::SeqReadSeqWrite,
            etag: false,
            limits: if i == 0 { r } else { w },
        })
        .collect()
}

/// How the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The guest called Exit with this code.
    Exit(i64),
    /// The timeout expired.
    Timeout,
    /// A termination signal (SIGTERM, SIGINT, SIGHUP) ended the session, or SIGPIPE: a
    /// Write to a pipe whose reader closed it (zvrun then dies of it, as a native
    /// program would).
    Killed(i32),
    /// A guest fault.
    Fault {
        /// Signal number.
        signal: i32,
        /// Faulting data address (si_addr).
        addr: u64,
        /// Guest instruction address.
        pc: u64,
    },
    /// The program failed verification.
    Invalid(String),
    /// The session could not run (usage, unreadable program, bad channel, memory).
    Error(String),
}

/// Per-channel accounting for the report.
#[derive(Clone, Debug)]
pub struct ChannelReport {
    /// Alias.
    pub alias: String,
    /// Gets, get bytes, puts, put bytes used.
    pub used: [i64; 4],
    /// Etag, when enabled.
    pub etag: Option<String>,
}

/// The result of a session.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// Wall-clock seconds from start to end.
    pub seconds: f64,
    /// Channels.
    pub channels: Vec<ChannelReport>,
    /// Bytes of code verified.
    pub code_bytes: u64,
    /// Heap size given to the guest.
    pub heap_size: u64,
    /// Where the time went: (phase, seconds), in order.
    pub phases: Vec<(&'static str, f64)>,
    /// Whether the code's verdict came from the verdict cache (`None`: cache off).
    pub verdict_cache: Option<zvcore::CacheUse>,
    /// The guest left a partial line in the file zvrun's stderr writes to: zvrun's own
    /// message or report then starts with a newline.
    pub stderr_line_open: bool,
    /// The session got as far as opening its channels (`channels` is then what they
    /// used; before, [`run`] lists the configured ones with nothing used).
    pub channels_opened: bool,
}

impl Outcome {
    /// A session that could not run (status 125), before anything ran.
    pub fn error(msg: String) -> Outcome {
        Outcome {
            ending: Ending::Error(msg),
            seconds: 0.0,
            channels: Vec::new(),
            code_bytes: 0,
            heap_size: 0,
            phases: Vec::new(),
            verdict_cache: None,
            stderr_line_open: false,
            channels_opened: false,
        }
    }

    /// A session that could not start (status 125), or, when the timeout or a
    /// termination signal cut short what it was doing (reading the manifest, opening the
    /// program or the report file: FIFOs that block), one that ended as that stop
    /// (124, or the signal).
    pub fn refused(msg: String) -> Outcome {
        let mut out = Outcome::error(msg);
        if let Some(reason) = sys::stop_reason() {
            out.ending = stopped(reason);
        }
        out
    }

    /// zvrun's exit status (RUNTIME.md section 6).
    pub fn exit_status(&self) -> i32 {
        match &self.ending {
            Ending::Exit(c) => (*c & 0xFF) as i32,
            Ending::Timeout => 124,
            Ending::Killed(signal) => 128 + signal,
            Ending::Fault { signal, .. } => 128 + signal,
            Ending::Invalid(_) => 126,
            Ending::Error(_) => 125,
        }
    }
}

/// Orders channels as the guest sees them: stdin, stdout, stderr, then by alias.
pub fn order_channels(mut ch: Vec<ChannelSpec>) -> Result<Vec<ChannelSpec>, String> {
    let mut out = Vec::new();
    for a in ["/dev/stdin", "/dev/stdout", "/dev/stderr"] {
        let i = ch.iter().position(|c| c.alias == a).ok_or_else(|| format!("missing the {a} channel"))?;
        out.push(ch.remove(i));
    }
    ch.sort_by(|a, b| a.alias.cmp(&b.alias));
    // Two aliases the guest opens as one path (`/x`, `//x`, `/d/../x`: zrt canonicalises
    // them) would let one channel hide another: refused like a repeated alias.
    let all: Vec<&str> = out.iter().chain(&ch).map(|c| c.alias.as_str()).collect();
    if let Some((i, j, canon)) = zvcore::manifest::repeated_alias(all.iter().copied()) {
        return Err(if all[i] == all[j] {
            format!("channel alias {} given twice", all[i])
        } else {
            format!("channel aliases {} and {} name the same path for the guest ({canon})", all[j], all[i])
        });
    }
    if let Some((i, j)) = zvcore::manifest::nested_alias(all.iter().copied()) {
        return Err(format!(
            "channel alias {} lies under {}, which is a file for the guest",
            zvcore::display::escape_controls(all[i]),
            zvcore::display::escape_controls(all[j])
        ));
    }
    out.extend(ch);
    Ok(out)
}

struct Layout {
    heap_start: u64,
    heap_size: u64,
}

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

/// No verdict cache (`--no-cache`): nothing is found, nothing recorded.
struct NoCache;

impl zvcore::VerdictCache for NoCache {
    fn contains(&self, _: &zvcore::CodeRecord) -> bool {
        false
    }
    fn insert(&self, _: &zvcore::CodeRecord) {}
}

/// Runs a session to its end. Never returns early without an [`Outcome`].
///
/// The timeout covers the whole session, reading and verifying the program included
/// (RUNTIME.md section 6; a security review ran a 1 GiB code segment's verification
/// many seconds past `--timeout 1`): the timer starts first, verification stops when it
/// expires, and a session it ends before the guest runs ends as a timeout.
pub fn run(cfg: &SessionConfig) -> Outcome {
    // The handlers first: the timeout and the termination signals cover the whole
    // session, loading and verification included.
    if let Err(e) = sys::install_signal_handlers() {
        return Outcome::error(format!("cannot install signal handlers: {e}"));
    }
    if let Some(t) = cfg.timeout {
        sys::arm_timeout(t);
    }
    let t0 = cfg.timed.then(Instant::now);
    let mut out = run_session(cfg, t0);
    // A session that ended before it opened its channels (a rejected program, a memory
    // limit too small) still lists them, each with nothing used (RUNTIME.md section 6:
    // per-channel counts in every report), in the order an opened session reports them.
    // (A daemon's refused request opened them and lists none on purpose: daemon.rs.)
    if !out.channels_opened && out.channels.is_empty() {
        let specs = order_channels(cfg.channels.clone()).unwrap_or_else(|_| cfg.channels.clone());
        out.channels = specs.into_iter().map(|c| ChannelReport { alias: c.alias, used: [0; 4], etag: None }).collect();
    }
    // Every session reports the time it took, also one that ended before the guest ran
    // (a refused channel, a memory limit too small, a rejected program).
    out.seconds = t0.map_or(0.0, |t| t.elapsed().as_secs_f64());
    // Work cut short by the stop (verification, a read) ends as the stop, not as an error.
    if let Some(reason) = sys::stop_reason() {
        if matches!(out.ending, Ending::Error(_) | Ending::Invalid(_)) {
            out.ending = stopped(reason);
        }
    }
    out
}

/// How a session that was stopped ends: SIGALRM is the timeout, any other signal a
/// termination signal ([`sys::TERMINATING`]).
pub(crate) fn stopped(reason: i32) -> Ending {
    if reason == libc::SIGALRM {
        Ending::Timeout
    } else {
        Ending::Killed(reason)
    }
}

/// The session after the signal handlers and the timer; `t0`, when timed, is its start.
fn run_session(cfg: &SessionConfig, t0: Option<Instant>) -> Outcome {
    let mut out = Outcome::error(String::new());
    let mut mark = t0;
    let mut phase = |out: &mut Outcome, name: &'static str| {
        if let Some(m) = &mut mark {
            let now = Instant::now();
            out.phases.push((name, (now - *m).as_secs_f64()));
            *m = now;
        }
    };
    // The guest address space first: the program is read straight into it when its
    // layout allows (see `read_program`).
    let mut mem = match GuestMemory::reserve() {
        Ok(m) => m,
        Err(e) => {
            out.ending = Ending::Error(e);
            return out;
        }
    };
    let mut read_program = || -> std::io::Result<(ProgramBytes, bool)> {
        let opened;
        let f = match cfg.image.as_ref().and_then(|i| i.file.as_deref()).or(cfg.program_file.as_deref()) {
            Some(f) => f,
            None => {
                // Interruptible (a manifest's Program may name a FIFO): see sys::open_stoppable.
                let path = cfg.image.as_ref().map_or(std::path::Path::new(&cfg.program), |i| &i.path);
                opened = sys::open_stoppable(path, true, false, false)?;
                &opened
            }
        };
        let (off, size, regular) = match &cfg.image {
            None => {
                let m = f.metadata()?;
                (0, m.len(), m.file_type().is_file())
            }
            // An image is a regular file (open_program checked).
            Some(img) => img.members.get(&img.program).map(|&(o, n)| (o, n, true)).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("`{}` is not in the image", img.program))
            })?,
        };
        read_program(&mut mem, f, off, size, regular).map(|p| (p, regular))
    };
    let (program, program_regular) = match read_program() {
        Ok(d) => d,
        Err(e) => {
            out.ending = Ending::Error(format!("cannot read program {}: {e}", cfg.program));
            return out;
        }
    };
    phase(&mut out, "read");
    let data = match &program {
        ProgramBytes::Read(v) => v.as_slice(),
        ProgramBytes::Staged(st) => st.bytes(),
    };
    // An image that could not be recognised as one (from a pipe, or cut short inside its
    // first header) is a session that cannot run (125), not a nexe failing verification.
    if cfg.image.is_none() && zvcore::image::looks_like_tar(data) {
        out.ending = Ending::Error(if program_regular {
            format!(
                "{} is a tar image, not a nexe: a manifest's Program must be a nexe; run an image as \
                 `zvrun IMAGE.tar` (its manifest.json describes the session)",
                cfg.program
            )
        } else {
            format!(
                "{} is a tar image, but not a complete one in a regular file: zvrun reads images in place, so give \
                 it the image as a file (not a pipe)",
                cfg.program
            )
        });
        return out;
    }
    // A compressed file (an image packed for transport) cannot run either: 125, naming
    // the format, rather than 126 for a "nexe" without the ELF magic.
    if let Some(format) = zvcore::image::compressed(data) {
        out.ending = Ending::Error(format!(
            "{} is {format}-compressed, not a nexe or an image: zvrun runs nexes and uncompressed tar images \
             (in place, so they cannot be decompressed on the fly); decompress it first",
            cfg.program
        ));
        return out;
    }
    // Large code is verified on several threads. This is the only time zvrun runs more
    // than one thread, and they are joined before any guest code is executable (the
    // form's P2 relies on no other thread ever running while the guest does; Jail
    // verifies on the trapping thread, and the seccomp filter forbids creating threads
    // anyway). Asking for the CPU count reads cgroup files, so small programs do not ask.
    let threads = if data.len() >= zvcore::verify::PARALLEL_MIN {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    let opts = zvcore::Options { max_violations: 20 };
    let stop = Some(sys::stop_flag());
    let result = match &cfg.verdict_cache {
        Some(dir) => {
            zvcore::verify_nexe_cached_until(data, opts, threads, &crate::cache::DirCache::open(dir.clone()), stop)
        }
        None => zvcore::verify_nexe_cached_until(data, opts, threads, &NoCache, stop),
    };
    let verified = match result {
        Ok((v, used)) => {
            out.verdict_cache = cfg.verdict_cache.as_ref().map(|_| used);
            v
        }
        Err(rej) => {
            out.verdict_cache = cfg.verdict_cache.as_ref().map(|_| zvcore::CacheUse::Miss);
            let first: Vec<String> = rej.violations.iter().take(5).map(|v| v.to_string()).collect();
            out.ending = Ending::Invalid(format!(
                "{} fails verification ({} violation{}): {}",
                cfg.program,
                rej.violation_count,
                if rej.violation_count == 1 { "" } else { "s" },
                first.join("; ")
            ));
            phase(&mut out, "verify");
            return out;
        }
    };
    out.code_bytes = verified.code.len() as u64;
    phase(&mut out, "verify");
    let channels = match order_channels(cfg.channels.clone()) {
        Ok(c) => c,
        Err(e) => {
            out.ending = Ending::Error(e);
            return out;
        }
    };
    out.channels_opened = true;
    let mut open = Vec::new();
    for spec in &channels {
        let opened = match (spec.uri.strip_prefix("image:"), &cfg.image) {
            (Some(member), Some(img)) => match img.members.get(member) {
                Some(&(off, size)) => match &img.file {
                    Some(f) => Channel::open_window(spec, f.clone(), off, size),
                    None => std::fs::File::open(&img.path)
                        .map_err(|e| {
                            crate::channel::ChannelError(format!(
                                "channel {} ({}): {e}",
                                spec.alias,
                                img.path.display()
                            ))
                        })
                        .and_then(|f| Channel::open_window(spec, std::sync::Arc::new(f), off, size)),
                },
                None => {
                    Err(crate::channel::ChannelError(format!("channel {}: `{member}` is not in the image", spec.alias)))
                }
            },
            _ => Channel::open(spec),
        };
        match opened {
            Ok(c) => open.push(c),
            Err(e) => {
                out.ending = Ending::Error(e.0);
                return out;
            }
        }
    }
    phase(&mut out, "open_channels");
    // What start-up needs of the file's headers, copied now: loading a staged program
    // overwrites them (they lie in the trampoline's pages).
    let zvcore::VerifiedNexe { nexe, code } = verified;
    let (entry, phdrs, phnum) = (nexe.entry, nexe.phdr_bytes().to_vec(), nexe.phdrs.1);
    let segments = nexe_segments(&nexe);
    let data_bytes = nexe.data_bytes();
    drop(nexe);
    let staged = match &program {
        ProgramBytes::Staged(st) => Some(st),
        ProgramBytes::Read(_) => None,
    };
    let layout = match load(&mut mem, &segments, data_bytes, &code, staged, cfg, &open) {
        Ok(l) => l,
        Err(e) => {
            out.ending = Ending::Error(e);
            return out;
        }
    };
    phase(&mut out, "reserve_and_map");
    out.heap_size = layout.heap_size;
    let rsp = match build_startup(&mut mem, entry, &phdrs, phnum, cfg) {
        Ok(r) => r,
        Err(e) => {
            out.ending = Ending::Error(e);
            return out;
        }
    };
    phase(&mut out, "startup_block");
    // The signal handlers were installed by `run`; this phase asks what vector state the
    // trap must clear.
    sys::probe_vector_state();
    phase(&mut out, "signals");
    // The job socket is bound before lock-down (the filter allows no bind).
    let job = match cfg.serve.as_deref().map(|p| crate::daemon::Job::bind(p, cfg)).transpose() {
        Ok(j) => j,
        Err(e) => {
            out.ending = Ending::Error(e);
            return out;
        }
    };
    sys::prepare_c_allocator();
    if cfg.seccomp {
        let daemon = job.as_ref().map(|_| crate::daemon::daemon_syscalls());
        if let Err(e) = sys::lock_down(daemon.as_deref().unwrap_or(crate::ALLOWED_SYSCALLS), daemon.is_some()) {
            out.ending = Ending::Error(format!("cannot install the seccomp filter: {e}"));
            return out;
        }
    }
    phase(&mut out, "seccomp");
    let mut calls = Calls::new(mem, open, layout.heap_start, layout.heap_start + layout.heap_size);
    calls.job = job;
    let end = sys::run_guest(entry, rsp, &mut calls);
    // The timer is also what interrupts host code again after a termination signal.
    // (A forked session of a daemon may have a request's timeout without the session's.)
    if cfg.timeout.is_some() || sys::stopping() || crate::daemon::job_connection().is_some() {
        sys::disarm_timeout();
    }
    phase(&mut out, "guest");
    out.ending = match end {
        RunEnd::Fault { signal, addr, pc } => Ending::Fault { signal, addr, pc },
        RunEnd::Stopped(reason) => stopped(reason),
        RunEnd::Left => match calls.ending.take() {
            Some(e) => e,
            None => Ending::Error("the guest left without calling Exit".into()),
        },
    };
    for c in &mut calls.channels {
        if let Err(e) = c.flush() {
            if matches!(out.ending, Ending::Exit(_)) {
                out.ending = Ending::Error(format!("channel {}: flush failed: {e}", c.spec.alias));
            }
        }
        out.channels.push(ChannelReport { alias: c.spec.alias.clone(), used: c.used, etag: c.etag() });
    }
    out.stderr_line_open = calls.stderr_line_open;
    out
}

/// An environment: `base` (`KEY=VALUE` entries) with `overrides` applied in order, each
/// replacing any entry of the same key (so the last `--env A=...` wins, and a
/// command-line value replaces an image's).
pub fn merge_env(base: &[std::ffi::OsString], overrides: &[std::ffi::OsString]) -> Vec<std::ffi::OsString> {
    let key = |e: &std::ffi::OsString| {
        let b = e.as_encoded_bytes();
        b[..b.iter().position(|&c| c == b'=').unwrap_or(b.len())].to_vec()
    };
    let mut out: Vec<std::ffi::OsString> = Vec::with_capacity(base.len() + overrides.len());
    for e in base.iter().chain(overrides) {
        let k = key(e);
        out.retain(|x| key(x) != k);
        out.push(e.clone());
    }
    out
}

/// The inaccessible space kept between the heap's end and the user manifest pages below
/// the stack (1 MiB; only a memory limit near 4 GiB brings the heap that close).
pub const STACK_GUARD_GAP: u64 = 1 << 20;

/// A program's bytes as read for verification: a buffer, or staged in guest memory.
enum ProgramBytes {
    Read(Vec<u8>),
    Staged(sys::Staged),
}

/// Reads a nexe like [`read_loaded_prefix`], but straight into guest memory when its
/// segments' file offsets and addresses differ by one page-aligned amount that puts the
/// file's first bytes at or above the trampoline and its last inside the segments (the
/// layout zvld and GNU ld produce): every segment's bytes then already lie where they
/// load, and are verified there, with no buffer to fault in and no copy. Other layouts,
/// pipes and devices are read into a buffer.
fn read_program(
    mem: &mut GuestMemory,
    f: &std::fs::File,
    off: u64,
    size: u64,
    regular: bool,
) -> std::io::Result<ProgramBytes> {
    if !regular {
        return read_stream(f).map(ProgramBytes::Read);
    }
    let mut page = [0u8; PAGE as usize];
    let (head, needed) = read_head(f, off, size, &mut page)?;
    // An image named where a nexe must be (a ZeroVM manifest's Program), or a compressed
    // file: its first page is enough for the session to say so (a large `.tar.gz` is not
    // read whole to be refused).
    if zvcore::image::looks_like_tar(head) || zvcore::image::compressed(head).is_some() {
        return Ok(ProgramBytes::Read(head.to_vec()));
    }
    match staging_place(head, needed) {
        Some((bias, end)) => mem.stage(f, off, bias, end, head).map(ProgramBytes::Staged),
        None => buffer_prefix(f, off, size, head, needed).map(ProgramBytes::Read),
    }
}

/// Where [`read_program`] reads a nexe (first page `page`, whose parser reads its first
/// `needed` bytes) in guest memory: `(address, length)`, or `None` to read it into a
/// buffer. The bytes must start at or above the trampoline (whose pages the headers then
/// share; they are overwritten with HLT) and end inside the PT_LOAD segments.
fn staging_place(page: &[u8], needed: Option<u64>) -> Option<(u64, u64)> {
    let end = needed.filter(|&e| e > PAGE && page.len() as u64 == PAGE)?;
    let (bias, load_end) = zvcore::nexe::congruent_load_bias(page)?;
    let fits = bias >= form::TRAMPOLINE_START && load_end <= form::CODE_LIMIT;
    bias.checked_add(end).filter(|&e| fits && e <= load_end).map(|_| (bias, end))
}

/// The largest nexe read from a pipe or device (whose size is not known in advance).
pub const MAX_STREAMED_NEXE: u64 = 1 << 30;

/// Reads the bytes of a nexe (at `off`, `size` bytes long, in `f`, which is a `regular`
/// file or else a pipe or device read whole) that loading needs
/// ([`zvcore::nexe::parsed_prefix`]): headers and segments, not the debug sections and
/// tables after them. When the headers point outside the file, the whole file is read,
/// so the nexe reader reports the problem with the file's real size.
pub fn read_loaded_prefix(f: &std::fs::File, off: u64, size: u64, regular: bool) -> std::io::Result<Vec<u8>> {
    if !regular {
        return read_stream(f);
    }
    let mut page = [0u8; PAGE as usize];
    let (head, needed) = read_head(f, off, size, &mut page)?;
    buffer_prefix(f, off, size, head, needed)
}

/// A pipe or a device (`zvrun /dev/stdin`, `<(...)`): read whole, bounded. A read that
/// blocks ends with the timeout or a termination signal (std's `read_to_end` would retry
/// it for ever: a writer that stalls would keep zvrun past `--timeout`, and SIGTERM would
/// not end it).
fn read_stream(f: &std::fs::File) -> std::io::Result<Vec<u8>> {
    let buf = read_at_most(f, MAX_STREAMED_NEXE)?;
    if buf.len() as u64 > MAX_STREAMED_NEXE {
        return Err(std::io::Error::other(format!(
            "a nexe read from a stream is limited to {MAX_STREAMED_NEXE} bytes"
        )));
    }
    Ok(buf)
}

/// Reads a small file that may be a FIFO or a device (a manifest: `--manifest
/// <(generate)`), at most `limit` + 1 bytes (so a caller sees that it is too large; std's
/// `fs::read` of `/dev/zero` grew until memory ran out), opening and reading it so that
/// the timeout and the termination signals end a wait for a writer.
pub fn read_small_file(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_at_most(&sys::open_stoppable(path, true, false, false)?, limit)
}

/// Reads `f` to its end or past `limit` bytes (at most `limit` + 1), stopping when the
/// session is stopping.
fn read_at_most(f: &std::fs::File, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut src = f.take(limit + 1);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match src.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted && !sys::stopping() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
}

/// The first page of a nexe (or the whole of a shorter one) into `page`, and what the
/// nexe reader reads of the file ([`zvcore::nexe::parsed_prefix`]; `None` when the
/// headers point outside it).
fn read_head<'p>(
    f: &std::fs::File,
    off: u64,
    size: u64,
    page: &'p mut [u8; PAGE as usize],
) -> std::io::Result<(&'p [u8], Option<u64>)> {
    use std::os::unix::fs::FileExt;
    let head = &mut page[..size.min(PAGE) as usize];
    f.read_exact_at(head, off)?;
    let head = &*head;
    let needed = zvcore::nexe::parsed_prefix(head, size, |at, n| {
        let mut table = vec![0u8; usize::try_from(n).map_err(|_| std::io::ErrorKind::OutOfMemory)?];
        f.read_exact_at(&mut table, off + at)?;
        Ok::<_, std::io::Error>(table)
    })?;
    Ok((head, needed))
}

/// The loaded prefix (`needed` bytes, or the whole file when the headers point outside
/// it, so the reader's messages name the real size) into one allocation of its exact
/// size, `head` copied and the rest read straight into uninitialised capacity:
/// zero-filling first (calloc) would fault every page twice.
fn buffer_prefix(f: &std::fs::File, off: u64, size: u64, head: &[u8], needed: Option<u64>) -> std::io::Result<Vec<u8>> {
    let end = usize::try_from(needed.unwrap_or(size)).map_err(|_| std::io::ErrorKind::OutOfMemory)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(end).map_err(|_| std::io::ErrorKind::OutOfMemory)?;
    buf.extend_from_slice(&head[..end.min(head.len())]);
    if end > buf.len() {
        sys::pread_append(f, &mut buf, end - head.len(), off + head.len() as u64)?;
    }
    Ok(buf)
}

/// The nexe's non-code segments as `GuestMemory::load_program` takes them: (start,
/// page-rounded length, file bytes, permissions).
fn nexe_segments<'a>(nexe: &Nexe<'a>) -> Vec<(u64, u64, &'a [u8], u8)> {
    let segments = nexe.segments.iter().filter(|s| !s.flags.x());
    segments
        .map(|s| {
            let prot = if s.flags.w() { PROT_R | PROT_W } else { PROT_R };
            (s.vaddr, round_up(s.memsz, PAGE), nexe.segment_bytes(s), prot)
        })
        .collect()
}

fn load(
    mem: &mut GuestMemory,
    segments: &[(u64, u64, &[u8], u8)],
    data_bytes: u64,
    code: &zvcore::VerifiedCode,
    staged: Option<&sys::Staged>,
    cfg: &SessionConfig,
    channels: &[Channel],
) -> Result<Layout, String> {
    let e = |what: &str, err: std::io::Error| format!("cannot map {what}: {err}");
    let code_end = code.base() + round_up(code.len() as u64, PAGE);
    let last_end = segments.iter().map(|s| s.0 + s.1).fold(code_end, u64::max);
    mem.load_program(code, segments, staged).map_err(|err| e("the program", err))?;
    // The user manifest: read-only pages ending at the stack, with its address at
    // MANIFEST_PTR.
    let heap_start = round_up(last_end, form::JAIL_GRANULE);
    let names: u64 = channels.iter().map(|c| c.spec.alias.len() as u64 + 1).sum();
    let mbytes = zvcore::abi::USER_MANIFEST_SIZE + zvcore::abi::CHANNEL_SIZE * channels.len() as u64 + names + 4;
    let manifest_start = (form::STACK_START - mbytes) & !(PAGE - 1);
    let manifest_at = manifest_start;
    let budget = cfg.memory.checked_sub(data_bytes + form::STACK_SIZE).ok_or_else(|| {
        format!(
            "memory limit {} bytes (the manifest's memory, or --memory) is too small: data and bss need \
             {data_bytes} and the stack {} bytes; give at least {}",
            cfg.memory,
            form::STACK_SIZE,
            data_bytes.saturating_add(form::STACK_SIZE)
        )
    })?;
    // A stack overflow must fault, not run into the heap: at least STACK_GUARD_GAP of
    // inaccessible pages below the manifest pages (which are read-only, but a large
    // alloca steps over them), as Linux keeps a guard gap below a growing stack.
    let room = manifest_start.saturating_sub(heap_start + STACK_GUARD_GAP) & !(form::JAIL_GRANULE - 1);
    let heap_size = (budget & !(form::JAIL_GRANULE - 1)).min(room).min(u64::from(u32::MAX) & !(form::JAIL_GRANULE - 1));
    mem.protect(heap_start, heap_size, PROT_R | PROT_W).map_err(|err| e("the heap", err))?;
    let list: Vec<(i64, i64, i64, i64, i64, u32, &str)> = channels
        .iter()
        .map(|c| {
            let l = c.limits();
            (l.gets, l.get_size, l.puts, l.put_size, c.size as i64, c.kind().number(), c.spec.alias.as_str())
        })
        .collect();
    let mut image =
        zvcore::abi::user_manifest_bytes(manifest_at, heap_start, heap_size as u32, form::STACK_SIZE as u32, &list);
    let ptr_off = (form::MANIFEST_PTR - manifest_start) as usize;
    if image.len() > ptr_off {
        return Err("the user manifest is too large".into());
    }
    image.resize(ptr_off, 0);
    image.extend_from_slice(&(manifest_at as u32).to_le_bytes());
    mem.load(manifest_start, form::STACK_START - manifest_start, &image, PROT_R)
        .map_err(|err| e("the user manifest", err))?;
    mem.protect(form::STACK_START, form::STACK_SIZE, PROT_R | PROT_W).map_err(|err| e("the stack", err))?;
    Ok(Layout { heap_start, heap_size })
}

/// Builds the Linux start-up block at the stack top; returns the initial %rsp.
fn build_startup(
    mem: &mut GuestMemory,
    entry: u64,
    phdrs: &[u8],
    phnum: u16,
    cfg: &SessionConfig,
) -> Result<u64, String> {
    // Strings and blobs from the top down.
    let mut top = form::GUEST_END;
    let mut blobs: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut push = |bytes: Vec<u8>, align: u64, top: &mut u64| {
        *top = (*top - bytes.len() as u64) & !(align - 1);
        blobs.push((*top, bytes));
        *top
    };
    let mut str_ptr = |s: &std::ffi::OsStr, top: &mut u64| {
        let mut b = std::os::unix::ffi::OsStrExt::as_bytes(s).to_vec();
        b.push(0);
        push(b, 1, top)
    };
    let argv: Vec<u64> = cfg.argv.iter().map(|a| str_ptr(a, &mut top)).collect();
    let envp: Vec<u64> = cfg.env.iter().map(|a| str_ptr(a, &mut top)).collect();
    let mut random = [0u8; 16];
    let mut h = sha1_smol::Sha1::new();
    h.update(b"zv AT_RANDOM");
    h.update(&cfg.seed.to_le_bytes());
    random.copy_from_slice(&h.digest().bytes()[..16]);
    let random_at = push(random.to_vec(), 16, &mut top);
    let phdr_at = push(phdrs.to_vec(), 8, &mut top);
    let auxv: Vec<(u64, u64)> = vec![
        (3, phdr_at),          // AT_PHDR
        (4, 56),               // AT_PHENT
        (5, u64::from(phnum)), // AT_PHNUM
        (6, PAGE),             // AT_PAGESZ
        (9, entry),            // AT_ENTRY
        (23, 0),               // AT_SECURE
        (25, random_at),       // AT_RANDOM
        (AT_ZV_TIME, cfg.time),
        (AT_ZV_SEED, cfg.seed),
        (0, 0), // AT_NULL
    ];
    let words = 1 + argv.len() + 1 + envp.len() + 1 + auxv.len() * 2;
    let rsp = (top - words as u64 * 8) & !15;
    if rsp < form::STACK_START + (1 << 20) {
        return Err("arguments and environment do not fit in the first MiB of the stack".into());
    }
    let mut block = Vec::with_capacity(words * 8);
    block.extend_from_slice(&(argv.len() as u64).to_le_bytes());
    for p in argv.iter().chain([&0]) {
        block.extend_from_slice(&p.to_le_bytes());
    }
    for p in envp.iter().chain([&0]) {
        block.extend_from_slice(&p.to_le_bytes());
    }
    for (k, v) in auxv {
        block.extend_from_slice(&k.to_le_bytes());
        block.extend_from_slice(&v.to_le_bytes());
    }
    blobs.push((rsp, block));
    for (at, bytes) in blobs {
        let dst = mem.write(at, bytes.len() as u64).ok_or("start-up block outside the stack")?;
        dst.copy_from_slice(&bytes);
    }
    Ok(rsp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(data: &[u8]) -> Result<(u64, Vec<u8>, u64), Vec<zvcore::Violation>> {
        zvcore::verify_nexe(data, zvcore::Options::default())
            .map(|v| (v.code.base(), v.code.bytes().to_vec(), v.nexe.entry))
            .map_err(|r| r.violations)
    }

    /// Files whose segments' offsets and addresses agree are read into place, with their
    /// headers in the trampoline's last page; others, and placements outside the
    /// segments or below the trampoline, are read into a buffer.
    #[test]
    fn congruent_nexes_are_staged_where_their_segments_load() {
        use zvcore::writer::{NexeWriter, R, RW};
        let code = zvcore::testgen::valid_nexe(1, 0x10000);
        let code = Nexe::parse(&code).map(|n| n.segment_bytes(&n.segments[0]).to_vec()).expect("code");
        let prefix = |n: &[u8]| zvcore::nexe::parsed_prefix(n, n.len() as u64, |_, _| Err(())).expect("in head");
        let w = NexeWriter::with_code(code.clone()).segment(0x30000, R, vec![1; 100], 100).segment(
            0x31000,
            RW,
            vec![2; 10],
            0x5000,
        );
        let n = w.build();
        let page = &n[..PAGE as usize];
        let end = prefix(&n).expect("prefix");
        assert_eq!(staging_place(page, Some(end)), Some((0x1F000, end)));
        // The data segment one page further: its offset no longer agrees.
        let n = NexeWriter::with_code(code.clone()).segment(0x32000, RW, vec![2; 10], 0x5000).build();
        assert_eq!(zvcore::nexe::congruent_load_bias(&n[..PAGE as usize]), None);
        assert_eq!(staging_place(&n[..PAGE as usize], prefix(&n)), None);
        // Bytes the parser reads past the segments' end: a buffer.
        let n = w.build();
        assert_eq!(staging_place(&n[..PAGE as usize], Some(0x1F000 + 0x20000)), None);
        // Headers that would land below the trampoline: a buffer.
        let mut low = NexeWriter::with_code(code);
        low.segments[0].vaddr = 0x10000;
        low.entry = 0x10000;
        let n = low.build();
        assert_eq!(zvcore::nexe::congruent_load_bias(&n[..PAGE as usize]), Some((0xF000, 0x10000 + 0x10000)));
        assert_eq!(staging_place(&n[..PAGE as usize], prefix(&n)), None);
        // No answer from the parser's prefix (headers point outside the file): a buffer.
        assert_eq!(staging_place(&w.build()[..PAGE as usize], None), None);
    }

    /// Reading only the loaded prefix never changes what the verifier concludes, for
    /// well-formed nexes and for thousands of nexes with corrupted headers.
    #[test]
    fn the_loaded_prefix_gives_the_whole_files_verdict() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut rng = zvcore::testgen::Rng::new(7);
        let mut next = move || rng.next_u64();
        let mut shorter = 0;
        for i in 0..3000u64 {
            let mut n = zvcore::testgen::valid_nexe(i % 7, 1024 + (i as usize % 5) * 4096);
            // Debug-like bytes after everything, as real nexes have.
            n.extend(std::iter::repeat_n(0xAB, 5000));
            if i % 10 != 0 {
                for _ in 0..1 + next() % 4 {
                    let at = (next() % 0x200) as usize;
                    match next() % 3 {
                        0 => n[at] = next() as u8,
                        1 => n[at] ^= 1 << (next() % 8),
                        _ => {
                            let v = [0u64, 1, 0x1000, 0xffff_ffff, u64::MAX, n.len() as u64][(next() % 6) as usize];
                            let at = at & !7;
                            n[at..at + 8].copy_from_slice(&v.to_le_bytes());
                        }
                    }
                }
            }
            if i % 50 == 7 {
                n.truncate((next() % n.len() as u64) as usize);
            }
            let p = dir.path().join("x.nexe");
            std::fs::write(&p, &n).expect("write");
            let f = std::fs::File::open(&p).expect("open");
            let prefix = read_loaded_prefix(&f, 0, n.len() as u64, true).expect("read");
            assert_eq!(prefix.as_slice(), &n[..prefix.len()], "a prefix of the file");
            shorter += usize::from(prefix.len() < n.len());
            assert_eq!(verdict(&prefix), verdict(&n), "case {i}");
        }
        assert!(shorter > 1000, "the prefix was rarely shorter ({shorter})");
    }
}
