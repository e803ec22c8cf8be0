//! The zvrun command: `zvrun [OPTIONS] app.nexe|app.tar [ARGS...]` or
//! `zvrun --manifest FILE [ARGS...]`. Exit status per RUNTIME.md section 6: the guest's
//! exit code, 124 timeout, 128+signal on a guest fault, 125 when the session could not
//! run, 126 when the program fails verification.
#![no_main]

use std::io::Write;

use zvcore::manifest::{self, ChannelType, Limits};
use zvrun::cli::{self, Parsed};
use zvrun::image::{ChannelArg, Opened};
use zvrun::report;
use zvrun::session::{self, Ending, Outcome, SessionConfig};

/// Writes a line to stderr; a closed or broken stderr is not an error (no panic).
fn say(msg: std::fmt::Arguments<'_>) {
    let _ = write_own(&mut std::io::stderr(), format!("zvrun: {msg}\n").as_bytes());
}

/// Writes all of `bytes` (zvrun's own message or report) to `w`, unless a termination
/// signal came: zvrun catches SIGTERM, SIGINT and SIGHUP to report, so a write blocked
/// on a full pipe (a guest filled stderr, `2>&1 | reader` that stopped reading) would
/// otherwise keep it alive for good, where the signal's default action ends a program.
/// Once one came, each write is interrupted within 10 ms if it blocks, and given up.
fn write_own(w: &mut dyn Write, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        if zvrun::sys::terminated() {
            zvrun::sys::interrupt_soon();
        }
        match w.write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted && !zvrun::sys::terminated() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn fail(msg: &str) -> ! {
    say(format_args!("{msg}"));
    std::process::exit(125);
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mul)).ok_or_else(|| format!("`{s}` is not a byte count"))
}

fn parse_channel(s: &str) -> Result<ChannelArg, String> {
    let (alias, rest) = s.split_once('=').ok_or_else(|| format!("--channel `{s}`: expected alias=path[,...]"))?;
    let f: Vec<&str> = rest.split(',').map(str::trim).collect();
    if alias.is_empty() || f[0].is_empty() {
        return Err(format!("--channel `{s}`: alias and path must not be empty"));
    }
    let kind = match f.get(1) {
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .and_then(ChannelType::from_number)
                .ok_or_else(|| format!("--channel `{s}`: type `{t}` is not 0-3"))?,
        ),
        None => None,
    };
    let limits = match f.len() {
        1 | 2 => None,
        6 => {
            let n = |i: usize| {
                f[i].parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| format!("--channel `{s}`: limit `{}` is not a count", f[i]))
            };
            Some(Limits { gets: n(2)?, get_size: n(3)?, puts: n(4)?, put_size: n(5)? })
        }
        _ => return Err(format!("--channel `{s}`: give path, type, and either no limits or all four")),
    };
    Ok(ChannelArg { alias: alias.to_string(), path: zvrun::image::host_uri(f[0]), kind, limits })
}

/// A manifest's bytes as text; bytes that are not UTF-8 make their line malformed, and
/// the error names it like the parser's do (RUNTIME.md section 5).
fn manifest_text(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        format!("manifest line {line}: not UTF-8 text")
    })
}

/// See [`zvrun::sys::Arena`]: no system calls for the start-up's small allocations.
#[global_allocator]
static ALLOCATOR: zvrun::sys::Arena = zvrun::sys::Arena;

// The process entry: zvrun has its own C `main` (see zvrun::sys::process_start for why).
zvrun::process_entry!(run);

fn run(argv: Vec<std::ffi::OsString>) -> ! {
    let (parsed, partial) = cli::parse_partial(argv);
    let (cli, usage_error) = match parsed {
        Ok(Parsed::Run(c)) => (c, None),
        Ok(Parsed::Print(text)) => {
            // No session: a termination signal held since the start ends zvrun as usual.
            zvrun::sys::hold_termination(false);
            let _ = std::io::stdout().write_all(text.as_bytes());
            std::process::exit(0);
        }
        // A usage error still gets the report asked for before it (RUNTIME.md section 6:
        // the report is written in every case); without one it is only a message.
        Err(e) if partial.report.is_none() => {
            zvrun::sys::hold_termination(false);
            fail(&e)
        }
        Err(e) => (partial, Some(e)),
    };
    // The timeout and the termination signals cover everything from here (RUNTIME.md
    // section 6, docs/zvrun.md: the whole session): the report file, the manifest and the
    // program may be FIFOs whose other end never comes (a QA finding: `--timeout 1` with a
    // program or manifest FIFO nobody wrote waited for good, and SIGTERM left no report).
    let t0 = cli.report.is_some().then(std::time::Instant::now);
    if let Err(e) = zvrun::sys::install_signal_handlers() {
        zvrun::sys::hold_termination(false);
        fail(&format!("cannot install signal handlers: {e}"));
    }
    // Held since the process entry (sys::hold_termination): one that came meanwhile is
    // delivered now, to the handlers, and ends the session with its report.
    zvrun::sys::hold_termination(false);
    // A request's timeout is its forked session's (the daemon's child ends it and
    // reports); the client waits for that report a margin longer, and its timeout covers
    // reading its own manifest and report file too (FIFOs).
    let margin = if cli.job.is_some() { zvrun::daemon::CLIENT_MARGIN } else { 0 };
    if let Some(t) = cli.timeout.filter(|_| usage_error.is_none()) {
        zvrun::sys::arm_timeout(t.saturating_add(margin));
    }
    // The report destination is opened first (and before the session: no opens after
    // lock-down), so that a session refused for its configuration (a bad manifest,
    // channel or option) still gets its report.
    let mut report_file = cli.report_file.as_ref().map(|p| {
        create_report_file(p).unwrap_or_else(|e| {
            let msg = format!("cannot create report file {p}: {e}");
            // Stopped while waiting for a reader of a FIFO: the stop's status, no report.
            let outcome = Outcome::refused(msg.clone());
            if matches!(outcome.ending, Ending::Error(_)) {
                fail(&msg);
            }
            say(format_args!("{}", report::describe(&outcome)));
            end(&outcome)
        })
    });
    let mut outcome = match usage_error.map_or_else(|| config(&cli), Err) {
        Ok(cfg) if cli.job.is_some() => {
            let mut out = client(&cli, &cfg, report_file.as_mut());
            out.seconds = t0.map_or(0.0, |t| t.elapsed().as_secs_f64());
            out
        }
        Ok(cfg) => session::run(&cfg),
        Err(msg) => {
            let mut out = Outcome::refused(msg);
            out.seconds = t0.map_or(0.0, |t| t.elapsed().as_secs_f64());
            out
        }
    };
    // A session forked by a daemon answers its client, and says nothing of its own.
    if zvrun::daemon::respond(&mut outcome) {
        zvrun::sys::exit_now(outcome.exit_status());
    }
    let message = report::stderr_message(&outcome);
    let text =
        cli.report.as_deref().map(|fmt| if fmt == "json" { report::json(&outcome) } else { report::zerovm(&outcome) });
    tell(outcome.stderr_line_open, &message, text.as_deref(), report_file.as_mut());
    end(&outcome)
}

/// What zvrun says when a session ends: `message` (how it ended, empty when the guest
/// called Exit) on stderr, then the report `text`, if one was asked for, in the report
/// file or on stderr. When the guest left a partial line in the file zvrun's stderr
/// writes to (`line_open`), zvrun's first output there starts on a new line
/// (docs/zvrun.md, "Exit status"). A JSON report ends with a newline here.
fn tell(mut line_open: bool, message: &str, text: Option<&str>, report_file: Option<&mut std::fs::File>) {
    let mut to_stderr = |text: &str| {
        let mut e = std::io::stderr().lock();
        if std::mem::take(&mut line_open) {
            let _ = write_own(&mut e, b"\n");
        }
        write_own(&mut e, text.as_bytes())
    };
    if !message.is_empty() {
        let _ = to_stderr(&format!("zvrun: {message}\n"));
    }
    if let Some(text) = text {
        let text = if text.ends_with('\n') { text.to_string() } else { format!("{text}\n") };
        let r = match report_file {
            Some(f) => write_own(f, text.as_bytes()),
            None => to_stderr(&text),
        };
        if let Err(e) = r {
            say(format_args!("cannot write the report: {e}"));
        }
    }
}

/// `zvrun --job SOCKET ...`: the request and its answer. The daemon's forked session
/// ran it; its message goes to stderr and its report where `--report` asks, and zvrun
/// ends with its status. A request that could not be made or answered comes back as the
/// outcome zvrun then reports as for any session: an error (125), the client's timeout
/// (124) or a termination signal.
fn client(cli: &cli::Cli, cfg: &SessionConfig, report_file: Option<&mut std::fs::File>) -> Outcome {
    use zvrun::daemon::ReportFormat;
    let socket = cli.job.as_deref().unwrap_or_default();
    // What the request does not carry: the guest is the daemon's, already started.
    let ignored: Vec<&str> = [
        (cli.rest.len() > usize::from(cli.manifest.is_none()), "arguments"),
        (!cli.env.is_empty(), "--env"),
        (cli.memory.is_some(), "--memory"),
        (cli.seed.is_some(), "--seed"),
        (cli.time.is_some(), "--time"),
        (cli.max_jobs.is_some(), "--max-jobs"),
    ]
    .into_iter()
    .filter_map(|(given, what)| given.then_some(what))
    .collect();
    if !ignored.is_empty() {
        say(format_args!(
            "warning: a request carries only channels and a timeout; the daemon's guest is already started, so {} \
             given here are not used",
            ignored.join(", ")
        ));
    }
    let format = match cli.report.as_deref() {
        Some("json") => ReportFormat::Json,
        Some(_) => ReportFormat::Zerovm,
        None => ReportFormat::None,
    };
    // The client waits for the forked session's report at most its timeout and a margin
    // (a daemon still warming up, or one that never calls Fork, would keep it waiting
    // for good).
    if let Some(t) = cfg.timeout {
        zvrun::sys::arm_timeout(t.saturating_add(zvrun::daemon::CLIENT_MARGIN));
    }
    let r = match zvrun::daemon::request(socket, cfg, format) {
        Ok(r) => r,
        // Interrupted (Ctrl-C) or out of time: the client ends as that stop (its report
        // says so); the forked session goes on to its own end, as a session whose client
        // went away.
        Err(e) => return Outcome::refused(e),
    };
    tell(r.stderr_line_open, &r.message, r.report.as_deref(), report_file);
    zvrun::sys::exit_now(r.status)
}

/// Ends zvrun with the session's status: everything zvrun writes is written (channels
/// were flushed and closed by the session, stderr and the report file are unbuffered).
/// Rust's exit would first set up its stdout buffer only to flush it (~10 us of a hello
/// session). After a termination signal zvrun dies of it.
fn end(outcome: &Outcome) -> ! {
    if let Ending::Killed(sig) = outcome.ending {
        zvrun::sys::die_of(sig)
    }
    zvrun::sys::exit_now(outcome.exit_status())
}

/// Creates (or truncates) the report file, in a way the timeout and the termination
/// signals interrupt (a FIFO with no reader blocks the open; std's open retries for ever).
fn create_report_file(p: &str) -> std::io::Result<std::fs::File> {
    let f = zvrun::sys::open_stoppable(std::path::Path::new(p), false, true, true)?;
    if f.metadata()?.file_type().is_file() {
        f.set_len(0)?;
    }
    Ok(f)
}

/// The session the command line describes; an error says what is wrong (status 125).
fn config(cli: &cli::Cli) -> Result<SessionConfig, String> {
    let memory = cli.memory.as_ref().map(|m| parse_bytes(m).map_err(|e| format!("--memory: {e}"))).transpose()?;
    if cli.timeout == Some(0) {
        return Err("--timeout must be at least 1 second".into());
    }
    for e in &cli.env {
        if !e.as_encoded_bytes().iter().skip(1).any(|&c| c == b'=') || e.as_encoded_bytes().first() == Some(&b'=') {
            return Err(format!("--env `{}`: expected KEY=VALUE", e.to_string_lossy()));
        }
    }
    let mut channel_args: Vec<ChannelArg> = cli.channels.iter().map(|c| parse_channel(c)).collect::<Result<_, _>>()?;
    // Of two options naming one path (as the guest opens it), the later replaces the
    // earlier whole: a type or limits it leaves out are the defaults, not the earlier
    // option's (audit finding: `--channel /t=F,1,... --channel /t=F,3` stayed
    // read-only). A manifest's or image's channel keeps its own unless given (apply).
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<ChannelArg> =
        channel_args.into_iter().rev().filter(|c| seen.insert(zvcore::manifest::canonical_alias(&c.alias))).collect();
    kept.reverse();
    channel_args = kept;
    let (image, program_file) = match (&cli.manifest, cli.rest.first()) {
        (None, Some(p)) => match zvrun::image::open_program(std::path::Path::new(p)) {
            // The open was cut short by the timeout or a termination signal.
            _ if zvrun::sys::stopping() => return Err(format!("cannot open program {}", p.to_string_lossy())),
            Opened::Image(f) => (Some((p.clone(), f)), None),
            // A name that is not UTF-8 cannot be opened again later by its (lossy) text:
            // its open error is reported here.
            Opened::Nexe(None) if p.to_str().is_none() => {
                let e = std::fs::File::open(p).err().map_or_else(|| "cannot open".to_string(), |e| e.to_string());
                return Err(format!("cannot read program {}: {e}", p.to_string_lossy()));
            }
            Opened::Nexe(f) => (None, f.map(std::sync::Arc::new)),
        },
        _ => (None, None),
    };
    let mut cfg = if let Some((path, file)) = image {
        let o = zvrun::image::Overrides {
            args: cli.rest[1..].to_vec(),
            env: cli.env.clone(),
            memory,
            timeout: cli.timeout,
            seed: cli.seed,
            time: cli.time,
            channels: channel_args,
            etag: cli.etag,
        };
        zvrun::image::session_from_open_image(std::path::Path::new(&path), file, &o, !cli.no_seccomp)?
    } else {
        let mut cfg = SessionConfig {
            program: String::new(),
            image: None,
            argv: Vec::new(),
            env: session::merge_env(&[], &cli.env),
            memory: session::DEFAULT_MEMORY,
            timeout: None,
            channels: session::default_channels(),
            seed: cli.seed.unwrap_or(0),
            time: cli.time.unwrap_or(0),
            seccomp: !cli.no_seccomp,
            verdict_cache: None,
            timed: false,
            serve: None,
            max_jobs: zvrun::daemon::DEFAULT_MAX_JOBS,
            program_file,
        };
        let mut args = cli.rest.clone();
        if let Some(path) = &cli.manifest {
            // At most one byte more than a manifest may hold (`/dev/zero` is no manifest),
            // from a file, a FIFO or `<(generator)` alike.
            let limit = manifest::MAX_MANIFEST_BYTES as u64;
            let bytes = session::read_small_file(std::path::Path::new(path), limit)
                .map_err(|e| format!("cannot read manifest {path}: {e}"))?;
            if bytes.len() as u64 > limit {
                return Err(format!("{path}: manifest: larger than {limit} bytes"));
            }
            let text = manifest_text(bytes).map_err(|e| format!("{path}: {e}"))?;
            let m = manifest::parse_zerovm(&text).map_err(|e| format!("{path}: {e}"))?;
            cfg.serve = m.job.as_ref().map(|(_, socket)| socket.clone());
            cfg.program = m.program.clone();
            cfg.memory = m.memory;
            cfg.timeout = m.timeout;
            cfg.channels = m.channels.clone();
            args.insert(0, m.program.into());
        } else {
            if args.is_empty() {
                return Err(
                    "no program given (usage: zvrun [OPTIONS] app.nexe|app.tar [ARGS...] or zvrun --manifest FILE)"
                        .into(),
                );
            }
            cfg.program = args[0].to_string_lossy().into_owned();
        }
        cfg.argv = args;
        if let Some(m) = memory {
            cfg.memory = m;
        }
        if cli.timeout.is_some() {
            cfg.timeout = cli.timeout;
        }
        for c in &channel_args {
            c.apply(&mut cfg.channels, false);
        }
        if cli.etag {
            for c in &mut cfg.channels {
                c.etag = true;
            }
        }
        cfg
    };
    if let Some(s) = &cli.serve {
        cfg.serve = Some(s.clone());
    }
    if let Some(n) = cli.max_jobs {
        cfg.max_jobs = n as u32;
    }
    cfg.verdict_cache = if cli.no_cache { None } else { zvrun::cache::default_dir() };
    cfg.timed = cli.report.is_some();
    Ok(cfg)
}
