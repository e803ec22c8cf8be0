//! Daemon mode (RUNTIME.md section 7, docs/zvrun.md "Daemon mode"): a session with a job
//! socket (`zvrun --serve SOCKET`, or `Job = SOCKET` in a ZeroVM manifest) runs its guest
//! until the guest's first Fork; from then on the runtime is a daemon holding the warm
//! guest. Each connection to the socket gets a copy-on-write child process, which reads
//! one request (the channels of a session like the daemon's: same aliases, types and
//! limits, with new host files), and returns 0 from Fork to the guest with those
//! channels. When the child's session ends, its report goes back on the connection.
//!
//! The client is zvrun itself (`zvrun --job SOCKET ...`, [`request`]): it builds the
//! channel list the way a session would from the same command line, opens the host files
//! with its own permissions, and sends them as descriptors (`SCM_RIGHTS`), so the daemon
//! never opens a path named by a request.
//!
//! The wire format is JSON over a `SOCK_SEQPACKET` connection. The request is one
//! message, `{"zv_job": 1, "timeout": N|null, "sent_ns": CLOCK_MONOTONIC|null, "report":
//! "json"|"zerovm"|null, "channels": [{"alias", "uri", "type", "limits": [gets,
//! get_size, puts, put_size], "etag"}]}`: the session's host channels in guest order (the
//! image's files are the session's own and are not sent), with their descriptors
//! attached in the same order.
//! The response, `{"status", "message", "stderr_line_open", "report": TEXT|null}`, comes
//! in messages of at most [`RESPONSE_PIECE`] bytes until the connection closes.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::{json, Value};
use zvcore::form;
use zvcore::manifest::{ChannelSpec, ChannelType, Limits};

use crate::channel::Channel;
use crate::session::{Ending, Outcome, SessionConfig};
use crate::sys::{self, job as sock, PROT_R, PROT_W};
use crate::trap::Calls;

/// The largest request the daemon reads (a request names at most [`sock::MAX_FDS`]
/// channels).
pub const MAX_REQUEST: usize = 256 << 10;
/// The largest response the client reads (in pieces of [`RESPONSE_PIECE`]).
pub const MAX_RESPONSE: usize = 64 << 20;
/// The version of the wire format.
const WIRE_VERSION: u64 = 1;

/// System calls the daemon needs on top of [`crate::ALLOWED_SYSCALLS`], allowed while
/// the guest warms up and while the daemon serves (docs/zvrun.md, "Daemon mode"):
/// accepting connections (accept4), receiving a request's descriptors (recvmsg), the
/// fork and reaping (wait4), looking at the received files (fstat, newfstatat, statx,
/// fstatfs; and fcntl's F_GETFL, a rule of the filter's own), leaving the daemon's
/// session (setsid). A
/// forked session adds the ordinary filter on top before its guest runs again
/// (seccomp), so requests are served under exactly the ordinary allow-list.
pub const DAEMON_EXTRA_SYSCALLS: &[i64] = &[
    libc::SYS_accept4,
    libc::SYS_recvmsg,
    libc::SYS_fork,
    libc::SYS_wait4,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_fstatfs,
    libc::SYS_setsid,
    libc::SYS_seccomp,
];

/// The allow-list of a session with a job socket: [`crate::ALLOWED_SYSCALLS`] and
/// [`DAEMON_EXTRA_SYSCALLS`].
pub fn daemon_syscalls() -> Vec<i64> {
    crate::ALLOWED_SYSCALLS.iter().chain(DAEMON_EXTRA_SYSCALLS).copied().collect()
}

/// A session's job socket, bound before the guest runs.
#[derive(Debug)]
pub struct Job {
    listener: OwnedFd,
    path: String,
    /// The session's timeout: each request's unless the request gives its own.
    timeout: Option<u64>,
    /// Whether the session installed the seccomp filter (each child then adds the
    /// ordinary one).
    seccomp: bool,
    /// How many forked sessions may run at once.
    max_jobs: u32,
}

/// How many forked sessions run at once unless `--max-jobs` says otherwise: a flood of
/// connections makes at most this many processes; the others wait in the socket's queue.
pub const DEFAULT_MAX_JOBS: u32 = 64;

impl Job {
    /// Binds the socket at `path` for the session `cfg`. A socket file left by a daemon
    /// that is gone (nobody accepts on it) is replaced; a live one, or any other file, is
    /// an error.
    pub fn bind(path: &str, cfg: &SessionConfig) -> Result<Job, String> {
        let p = std::path::Path::new(path);
        let listener = match sock::listen(p) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                use std::os::unix::fs::FileTypeExt;
                let is_socket = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket());
                if !is_socket {
                    return Err(format!("job socket {path}: the path exists and is not a socket"));
                }
                match sock::connect(p) {
                    Ok(_) => return Err(format!("job socket {path}: another daemon is serving on it")),
                    Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                        std::fs::remove_file(p).map_err(|e| format!("job socket {path}: cannot replace it: {e}"))?;
                        sock::listen(p).map_err(|e| format!("job socket {path}: {e}"))?
                    }
                    Err(e) => return Err(format!("job socket {path}: {e}")),
                }
            }
            Err(e) => return Err(format!("job socket {path}: {e}")),
        };
        sock::default_sigchld().map_err(|e| format!("job socket {path}: cannot set SIGCHLD to its default: {e}"))?;
        Ok(Job {
            listener,
            path: path.to_string(),
            timeout: cfg.timeout,
            seccomp: cfg.seccomp,
            max_jobs: cfg.max_jobs.max(1),
        })
    }
}

/// Set once the process is a daemon (and so in each of its forked sessions).
static DAEMON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process serves in daemon mode: the daemon, or one of its forked
/// sessions (ZeroVM's report says `daemon = 1`).
pub fn in_daemon_mode() -> bool {
    DAEMON.load(std::sync::atomic::Ordering::Relaxed)
}

/// The connection of a forked session (unset in the daemon and in ordinary sessions).
static CONNECTION: OnceLock<OwnedFd> = OnceLock::new();
/// When a forked session's request was accepted.
static REQUEST_START: OnceLock<Instant> = OnceLock::new();

/// The connection this process answers on, when it is a forked session.
pub fn job_connection() -> Option<BorrowedFd<'static>> {
    CONNECTION.get().map(AsFd::as_fd)
}

/// What became of the process that handled Fork.
pub enum Served {
    /// A forked session: Fork returns 0 to its guest, which now has the request's
    /// channels.
    Child,
    /// The daemon stopped (a termination signal) or could not go on: `calls.ending` says
    /// how; the guest never runs again in this process.
    Ended,
}

/// Fork with a job socket: turns this process into the daemon. Returns only in a forked
/// session ([`Served::Child`]) or when the daemon ends ([`Served::Ended`]).
pub fn serve(job: Job, calls: &mut Calls) -> Served {
    // The session's timeout covered the warm-up; the daemon itself runs until stopped.
    sys::disarm_timeout();
    DAEMON.store(true, std::sync::atomic::Ordering::Relaxed);
    // The forked sessions running (started and not yet reaped), by process id: only
    // these count against --max-jobs (a review found children zvrun inherited through
    // exec counted off the limit).
    let mut running: std::collections::HashSet<i32> = std::collections::HashSet::new();
    let max = job.max_jobs as usize;
    loop {
        if let Some(reason) = sys::stop_reason() {
            calls.ending = Some(crate::session::stopped(reason));
            return Served::Ended;
        }
        // Reap the sessions that ended; at the limit, wait for one to end before the
        // next connection is accepted (it waits in the socket's queue meanwhile).
        let mut wait = false;
        loop {
            wait |= running.len() >= max;
            if running.is_empty() && !wait {
                break;
            }
            match sock::reap_child(wait) {
                Ok(sock::Reaped::Child(pid)) => {
                    running.remove(&pid);
                    if running.len() < max {
                        wait = false;
                    }
                }
                Ok(sock::Reaped::NoneYet) => break,
                Ok(sock::Reaped::NoChildren) => {
                    running.clear();
                    break;
                }
                Err(_) => break, // interrupted: the stop is looked at first
            }
        }
        if running.len() >= max {
            continue;
        }
        let conn = match sock::accept(job.listener.as_fd()) {
            Ok(c) => c,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::ECONNABORTED | libc::EPROTO | libc::EAGAIN | libc::ENOBUFS | libc::ENOMEM)
                ) =>
            {
                continue
            }
            Err(e) => {
                calls.ending = Some(Ending::Error(format!("daemon: accept on {}: {e}", job.path)));
                return Served::Ended;
            }
        };
        // A termination signal during the accept: the connection is dropped (its client
        // is told the connection closed) rather than served by a fork that would inherit
        // the stop (a review finding).
        if sys::stopping() {
            continue;
        }
        // The start is taken in the parent, before the fork: a forked session's time
        // includes its fork.
        let start = Instant::now();
        match sock::fork() {
            Ok(Some(pid)) => {
                running.insert(pid);
                drop(conn)
            }
            Ok(None) => {
                let _ = REQUEST_START.set(start);
                let _ = CONNECTION.set(conn);
                let Job { listener, timeout, seccomp, .. } = job;
                // (The daemon's children are its, not this session's, to reap.)
                drop(listener);
                if let Err(e) = child(calls, timeout, seccomp) {
                    calls.ending = Some(Ending::Error(format!("request refused: {e}")));
                    // The report of a refused request lists no channels (those left are
                    // the warm-up's, not the request's).
                    calls.channels.clear();
                    return Served::Ended;
                }
                return Served::Child;
            }
            Err(e) => {
                let _ = Response::refused(format!("the daemon cannot fork: {e}")).send(conn.as_fd());
            }
        }
    }
}

/// A forked session's set-up: reads the request, checks it against the session's
/// channels, puts its channels in place (and their sizes in the user manifest), arms
/// the timeout and adds the ordinary seccomp filter.
fn child(calls: &mut Calls, timeout: Option<u64>, seccomp: bool) -> Result<(), String> {
    // The request must come within REQUEST_WAIT seconds (or the session's timeout, when
    // shorter): a client that connects and sends nothing does not keep a fork of the
    // daemon for good (a review finding: without a session timeout it did).
    sock::detach_from_daemon();
    // Forked as a termination signal reached the daemon: not served.
    if sys::stopping() {
        return Err("the daemon is stopping".into());
    }
    sys::arm_timeout(timeout.map_or(REQUEST_WAIT, |t| t.min(REQUEST_WAIT)));
    let conn = job_connection().ok_or("no connection")?;
    let (bytes, fds) = sock::recv(conn, MAX_REQUEST).map_err(|e| format!("cannot read the request: {e}"))?;
    if bytes.is_empty() {
        return Err("the client sent no request".into());
    }
    let req = Request::parse(&bytes)?;
    let _ = REPORT.set(req.report);
    // The descriptors are looked at (fstat, fstatfs, fcntl) still under the wait's timer:
    // a file on a hung network file system does not hold the session for good.
    let channels = req.channels_for(&calls.channels, fds)?;
    sys::disarm_timeout();
    // The request's timeout, else the session's, from here (arming again after a
    // disarm: a review found the request's ignored whenever the session had one), less
    // the time the request waited in the socket's queue: the client counts its timeout
    // from when it sent the request, and a request that waited it all out is not run
    // (a review found one writing into the client's files after the client reported a
    // timeout).
    if let Some(t) = req.timeout.or(timeout) {
        let waited_ms = req.sent_ns.map_or(0, |sent| sys::monotonic_ns().saturating_sub(sent) / 1_000_000);
        let left = t.saturating_mul(1000).saturating_sub(waited_ms);
        if left == 0 {
            return Err(format!("the request waited its whole timeout ({t} s) in the daemon's queue"));
        }
        sys::arm_timeout_ms(left);
    }
    // A client that gave up (its own timeout) while the request waited in the socket's
    // queue is gone by now: its request is not run (a review found it writing into the
    // client's files after the client had reported a timeout).
    if sock::peer_closed(conn) {
        return Err("the client went away before its request was served".into());
    }
    patch_manifest_sizes(calls, &channels)?;
    calls.channels = channels;
    calls.stderr_line_open = false;
    sock::close_daemon_streams();
    if seccomp {
        sock::add_filter(crate::ALLOWED_SYSCALLS)?;
    }
    Ok(())
}

/// How long a forked session waits for its request (seconds) when the session's timeout
/// is longer or absent.
pub const REQUEST_WAIT: u64 = 10;

/// How much longer than its request's timeout a client waits for the report (seconds).
pub const CLIENT_MARGIN: u64 = 2;

/// How long a forked session tries to deliver its response (seconds).
pub const RESPONSE_WAIT: u64 = 10;

/// The report format the request asked for (set once the request is read).
static REPORT: OnceLock<ReportFormat> = OnceLock::new();

/// Which report a client wants back: the response carries only that one (a review
/// found a response with both reports of a session with thousands of channels larger
/// than one socket message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// None: status and message only.
    None,
    /// The JSON report.
    Json,
    /// ZeroVM's six lines.
    Zerovm,
}

/// Writes each channel's size (RUNTIME.md section 4: random-read channels' sizes, else
/// 0) into the user manifest, which is read-only to the guest.
fn patch_manifest_sizes(calls: &mut Calls, channels: &[Channel]) -> Result<(), String> {
    let mem = &mut calls.mem;
    let at = mem
        .read(form::MANIFEST_PTR, 4)
        .and_then(|b| b.try_into().ok())
        .map(|b: [u8; 4]| u64::from(u32::from_le_bytes(b)))
        .ok_or("the user manifest is not readable")?;
    let start = at & !(form::PAGE - 1);
    let len = form::STACK_START - start;
    let err = |e: std::io::Error| format!("cannot update the user manifest: {e}");
    mem.protect(start, len, PROT_R | PROT_W).map_err(err)?;
    let array = at + zvcore::abi::USER_MANIFEST_SIZE;
    for (i, c) in channels.iter().enumerate() {
        let field = array + i as u64 * zvcore::abi::CHANNEL_SIZE + 32;
        let dst = mem.write(field, 8).ok_or("the user manifest's channel array is out of place")?;
        dst.copy_from_slice(&c.size.to_le_bytes());
    }
    mem.protect(start, len, PROT_R).map_err(err)
}

/// A request as the daemon reads it.
#[derive(Debug)]
struct Request {
    timeout: Option<u64>,
    /// When the client sent it (CLOCK_MONOTONIC, ns: the machine's one clock).
    sent_ns: Option<u64>,
    report: ReportFormat,
    channels: Vec<ChannelSpec>,
}

impl Request {
    fn parse(bytes: &[u8]) -> Result<Request, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("the request is not JSON: {e}"))?;
        let o = v.as_object().ok_or("the request is not a JSON object")?;
        if o.get("zv_job").and_then(Value::as_u64) != Some(WIRE_VERSION) {
            return Err(format!("the request is not a zv job request of version {WIRE_VERSION} (key zv_job)"));
        }
        let timeout = match o.get("timeout") {
            None | Some(Value::Null) => None,
            Some(t) => Some(t.as_u64().filter(|&t| t > 0).ok_or("timeout: expected whole seconds, at least 1")?),
        };
        let sent_ns = match o.get("sent_ns") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or("sent_ns: expected nanoseconds of CLOCK_MONOTONIC")?),
        };
        let report = match o.get("report") {
            None | Some(Value::Null) => ReportFormat::None,
            Some(v) if v == "json" => ReportFormat::Json,
            Some(v) if v == "zerovm" => ReportFormat::Zerovm,
            Some(_) => return Err("report: expected \"json\", \"zerovm\" or null".into()),
        };
        let list = o.get("channels").and_then(Value::as_array).ok_or("channels: expected an array")?;
        let mut channels = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            let e = |what: &str| format!("channel {i}: {what}");
            let s = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| e(&format!("{k}: expected a string")))
            };
            let kind = c
                .get("type")
                .and_then(Value::as_i64)
                .and_then(ChannelType::from_number)
                .ok_or_else(|| e("type: expected 0-3"))?;
            let l: Vec<i64> = c
                .get("limits")
                .and_then(Value::as_array)
                .filter(|a| a.len() == 4)
                .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>())
                .ok_or_else(|| e("limits: expected four integers"))?;
            let limits = Limits { gets: l[0], get_size: l[1], puts: l[2], put_size: l[3] };
            let etag = c.get("etag").and_then(Value::as_bool).ok_or_else(|| e("etag: expected true or false"))?;
            channels.push(ChannelSpec { uri: s("uri")?, alias: s("alias")?, kind, etag, limits });
        }
        Ok(Request { timeout, sent_ns, report, channels })
    }

    /// The request's channels, checked against the session's (`ours`, in guest order):
    /// the session's host channels, with the same aliases in the same order, the same
    /// types and limits, one descriptor each; the files inside the image are the
    /// session's own, read from the start again.
    fn channels_for(&self, ours: &[Channel], fds: Vec<OwnedFd>) -> Result<Vec<Channel>, String> {
        let host: Vec<&Channel> = ours.iter().filter(|c| !c.in_image()).collect();
        if self.channels.len() != host.len() {
            return Err(format!(
                "the request has {} channels, the session {} (a request names every host channel of the session: {})",
                self.channels.len(),
                host.len(),
                host.iter().map(|c| c.spec.alias.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        if fds.len() != self.channels.len() {
            return Err(format!(
                "the request names {} channels but carries {} descriptors",
                self.channels.len(),
                fds.len()
            ));
        }
        let mut given = self.channels.iter().zip(fds);
        let mut out = Vec::with_capacity(ours.len());
        for c in ours {
            let s = &c.spec;
            if let Some(fresh) = c.fresh(s.etag) {
                out.push(fresh);
                continue;
            }
            let (spec, fd) = given.next().ok_or("channels missing")?;
            if spec.alias != s.alias {
                return Err(format!("channel {}: the session's channel at this place is {}", spec.alias, s.alias));
            }
            if spec.kind != s.kind {
                let (a, b) = (spec.kind.number(), s.kind.number());
                return Err(format!("channel {}: the request has type {a}, the session type {b}", s.alias));
            }
            if spec.limits != s.limits {
                let l = |x: &Limits| format!("{} {} {} {}", x.gets, x.get_size, x.puts, x.put_size);
                return Err(format!(
                    "channel {}: the request has limits {}, the session limits {}",
                    s.alias,
                    l(&spec.limits),
                    l(&s.limits)
                ));
            }
            // Read and written in sequence (never at offset 0 of a file the client
            // appends to) when either side names a standard stream: the session's
            // channel is one, or the client bound it to one of its own (a review found
            // the client's `>>` output overwritten when only the session's counted).
            let std_stream = crate::channel::is_std_uri(&s.uri) || crate::channel::is_std_uri(&spec.uri);
            out.push(Channel::adopt(spec, std::fs::File::from(fd), std_stream).map_err(|e| e.0)?);
        }
        Ok(out)
    }
}

/// The answer to a request, as the client reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// zvrun's exit status for the session (RUNTIME.md section 6).
    pub status: i32,
    /// What zvrun says on stderr about how the session ended (empty when the guest
    /// called Exit).
    pub message: String,
    /// The guest left a partial line on its stderr.
    pub stderr_line_open: bool,
    /// The report the request asked for, as zvrun writes it (JSON, or ZeroVM's lines).
    pub report: Option<String>,
}

impl Response {
    fn refused(message: String) -> Response {
        Response::of(&Outcome::error(message), ReportFormat::None)
    }

    /// The response for a forked session's outcome, with the report in `format`.
    pub fn of(o: &Outcome, format: ReportFormat) -> Response {
        Response {
            status: o.exit_status(),
            message: crate::report::stderr_message(o),
            stderr_line_open: o.stderr_line_open,
            report: match format {
                ReportFormat::None => None,
                ReportFormat::Json => Some(crate::report::json(o)),
                ReportFormat::Zerovm => Some(crate::report::zerovm(o)),
            },
        }
    }

    fn to_json(&self) -> String {
        json!({
            "status": self.status,
            "message": self.message,
            "stderr_line_open": self.stderr_line_open,
            "report": self.report,
        })
        .to_string()
    }

    fn parse(bytes: &[u8]) -> Result<Response, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("the response is not JSON: {e}"))?;
        let status = v
            .get("status")
            .and_then(Value::as_i64)
            .and_then(|s| i32::try_from(s).ok())
            .ok_or("the response has no status")?;
        Ok(Response {
            status,
            message: v.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
            stderr_line_open: v.get("stderr_line_open").and_then(Value::as_bool).unwrap_or(false),
            report: v.get("report").and_then(Value::as_str).map(str::to_string),
        })
    }

    /// Sends the response as messages of at most [`RESPONSE_PIECE`] bytes (a report of
    /// thousands of channels is larger than one socket message may be); the client reads
    /// until the connection closes.
    fn send(&self, conn: BorrowedFd<'_>) -> std::io::Result<()> {
        let text = self.to_json();
        for piece in text.as_bytes().chunks(RESPONSE_PIECE) {
            sock::send(conn, piece, &[])?;
        }
        Ok(())
    }
}

/// The largest message of a response.
pub const RESPONSE_PIECE: usize = 64 << 10;

/// A forked session's end: its report goes back on the connection. Returns whether this
/// process is a forked session (the caller then exits with the session's status and
/// writes nothing of its own).
pub fn respond(outcome: &mut Outcome) -> bool {
    let Some(conn) = job_connection() else { return false };
    if let Some(t) = REQUEST_START.get() {
        outcome.seconds = t.elapsed().as_secs_f64();
    }
    // The warm-up's phases are the daemon's, not the request's.
    outcome.phases.clear();
    let format = REPORT.get().copied().unwrap_or(ReportFormat::None);
    // A client that does not read its response does not keep the session for good: the
    // response has RESPONSE_WAIT seconds of its own (after the session's timer).
    sys::disarm_timeout();
    sys::arm_timeout(RESPONSE_WAIT);
    // A client that went away has no one to tell; the status is this process's.
    let _ = Response::of(outcome, format).send(conn);
    true
}

/// The client's side (`zvrun --job SOCKET ...`): sends the session `cfg` describes as a
/// request (its host channels, opened here, its timeout and the report wanted) to the
/// daemon at `socket`, and waits for the response.
pub fn request(socket: &str, cfg: &SessionConfig, report: ReportFormat) -> Result<Response, String> {
    let specs = crate::session::order_channels(cfg.channels.clone())?;
    let mut opened = Vec::new();
    let mut list = Vec::with_capacity(specs.len());
    // The files inside the image stay the daemon's (the same rule as a session's).
    let in_image = |s: &ChannelSpec| cfg.image.is_some() && s.uri.starts_with("image:");
    for spec in specs.iter().filter(|s| !in_image(s)) {
        opened.push(Channel::open(spec).map_err(|e| e.0)?);
        let l = &spec.limits;
        list.push(json!({
            "alias": spec.alias,
            "uri": spec.uri,
            "type": spec.kind.number(),
            "limits": [l.gets, l.get_size, l.puts, l.put_size],
            "etag": spec.etag,
        }));
    }
    if opened.len() > sock::MAX_FDS {
        return Err(format!("a request carries at most {} host channels", sock::MAX_FDS));
    }
    let report = match report {
        ReportFormat::None => Value::Null,
        ReportFormat::Json => "json".into(),
        ReportFormat::Zerovm => "zerovm".into(),
    };
    let req = json!({
        "zv_job": WIRE_VERSION,
        "timeout": cfg.timeout,
        "sent_ns": sys::monotonic_ns(),
        "report": report,
        "channels": list,
    })
    .to_string();
    let conn = loop {
        match sock::connect(std::path::Path::new(socket)) {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted && !sys::stopping() => {}
            Err(e) => return Err(format!("cannot connect to the job socket {socket}: {e}")),
        }
    };
    let fds: Vec<i32> = opened.iter().map(Channel::raw_fd).collect();
    sock::send(conn.as_fd(), req.as_bytes(), &fds).map_err(|e| format!("cannot send the request to {socket}: {e}"))?;
    // The session has the descriptors now; the client keeps nothing open on them.
    drop(opened);
    let mut bytes = Vec::new();
    loop {
        let (piece, _) = sock::recv(conn.as_fd(), RESPONSE_PIECE)
            .map_err(|e| format!("cannot read the response from {socket}: {e}"))?;
        if piece.is_empty() {
            break;
        }
        if bytes.len() + piece.len() > MAX_RESPONSE {
            return Err(format!("the response from {socket} is larger than {MAX_RESPONSE} bytes"));
        }
        bytes.extend_from_slice(&piece);
    }
    if bytes.is_empty() {
        return Err(format!("the daemon at {socket} closed the connection without a report (the session died)"));
    }
    Response::parse(&bytes)
}

/// The fuzzers' entry (fuzz/fuzz_targets/job.rs): a request and a response parsed from
/// hostile bytes; a response that parses writes and parses back to itself.
#[doc(hidden)]
pub fn exercise_wire(data: &[u8]) {
    let _ = Request::parse(data);
    if let Ok(r) = Response::parse(data) {
        let again = Response::parse(r.to_json().as_bytes()).expect("a response written parses");
        assert_eq!(again, r, "a response reads back as written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_say_what_is_wrong() {
        let ok = br#"{"zv_job":1,"timeout":3,"channels":[{"alias":"/dev/stdin","uri":"/dev/stdin","type":0,
            "limits":[1,2,0,0],"etag":false}]}"#;
        let r = Request::parse(ok).expect("parses");
        assert_eq!(r.timeout, Some(3));
        assert_eq!(r.channels.len(), 1);
        assert_eq!(r.channels[0].limits, Limits { gets: 1, get_size: 2, puts: 0, put_size: 0 });
        for (bad, says) in [
            (&b"[1]"[..], "not a JSON object"),
            (br#"{"zv_job":2,"channels":[]}"#, "version 1"),
            (br#"{"zv_job":1,"timeout":0,"channels":[]}"#, "at least 1"),
            (br#"{"zv_job":1}"#, "channels"),
            (br#"{"zv_job":1,"channels":[{"alias":"a","uri":"b","type":7}]}"#, "type"),
            (br#"{"zv_job":1,"channels":[{"alias":"a","uri":"b","type":0,"limits":[1]}]}"#, "limits"),
            (br#"{"zv_job":1,"channels":[{"alias":"a","uri":"b","type":0,"limits":[1,2,3,"x",4]}]}"#, "limits"),
            (br#"{"zv_job":1,"channels":[{"alias":"a","uri":"b","type":0,"limits":[1,2,3,"x"]}]}"#, "limits"),
            (br#"{"zv_job":1,"report":"html","channels":[]}"#, "report"),
            (b"\xff", "not JSON"),
        ] {
            let e = Request::parse(bad).expect_err("refused");
            assert!(e.contains(says), "{e} should say {says}");
        }
    }

    #[test]
    fn responses_round_trip_with_the_report_asked_for() {
        let mut o = Outcome::error("boom".into());
        o.ending = Ending::Exit(3);
        for (format, want) in [
            (ReportFormat::None, None),
            (ReportFormat::Json, Some(crate::report::json(&o))),
            (ReportFormat::Zerovm, Some(crate::report::zerovm(&o))),
        ] {
            let r = Response::of(&o, format);
            let back = Response::parse(r.to_json().as_bytes()).expect("parses");
            assert_eq!(back, r);
            assert_eq!(back.status, 3);
            assert_eq!(back.message, "");
            assert_eq!(back.report, want);
        }
        let refused = Response::refused("no".into());
        assert_eq!(refused.status, 125);
        assert!(refused.message.contains("no"));
        assert_eq!(refused.report, None);
    }

    #[test]
    fn the_daemon_filter_is_the_ordinary_one_plus_the_daemon_calls() {
        let all = daemon_syscalls();
        for nr in crate::ALLOWED_SYSCALLS.iter().chain(DAEMON_EXTRA_SYSCALLS) {
            assert!(all.contains(nr));
        }
        crate::filter::compact(&all).expect("compiles");
        // Never the calls that would let a warm guest's host side open files, create
        // threads or run programs.
        for nr in [libc::SYS_open, libc::SYS_openat, libc::SYS_clone, libc::SYS_clone3, libc::SYS_execve] {
            assert!(!all.contains(&nr), "{nr}");
        }
    }

    #[test]
    fn socket_paths_too_long_are_refused() {
        let long = "/tmp/".to_string() + &"x".repeat(200);
        let e = sock::listen(std::path::Path::new(&long)).expect_err("too long");
        assert!(e.to_string().contains("1 to 107 bytes"), "{e}");
    }
}
