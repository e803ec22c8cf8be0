//! zvrun's command line, parsed by hand: clap spent about 95 us building its parser on
//! every start-up, an eighth of a small program's whole session (docs/zvrun.md,
//! "Start-up"). The grammar is small: options (`--name VALUE` or `--name=VALUE`), then the
//! program and its arguments, which are never taken for options; `--` ends the options.
//! The guest's arguments and `--env` values are bytes, as the kernel passes them (they
//! need not be UTF-8); option names and the other values must be text.

use std::ffi::OsString;

/// The parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cli {
    /// `--manifest FILE`.
    pub manifest: Option<String>,
    /// `--memory BYTES` (unparsed: K, M, G suffixes).
    pub memory: Option<String>,
    /// `--timeout SECONDS`.
    pub timeout: Option<u64>,
    /// `--channel SPEC`, in order.
    pub channels: Vec<String>,
    /// `--env KEY=VALUE`, in order (bytes: values need not be UTF-8).
    pub env: Vec<OsString>,
    /// `--seed N`.
    pub seed: Option<u64>,
    /// `--time SECONDS`.
    pub time: Option<u64>,
    /// `--etag`.
    pub etag: bool,
    /// `--report json|zerovm`.
    pub report: Option<String>,
    /// `--report-file FILE`.
    pub report_file: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--no-seccomp` (undocumented: for debugging the runtime itself).
    pub no_seccomp: bool,
    /// `--serve SOCKET`: daemon mode (RUNTIME.md section 7).
    pub serve: Option<String>,
    /// `--max-jobs N`: daemon mode's limit on forked sessions running at once.
    pub max_jobs: Option<u64>,
    /// `--job SOCKET`: send this session's channels as a request to the daemon there.
    pub job: Option<String>,
    /// The nexe or image, then the guest's arguments (bytes).
    pub rest: Vec<OsString>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
// Made once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// Run a session.
    Run(Cli),
    /// Print this text on stdout and exit 0 (`--help`, `--version`).
    Print(String),
}

/// The `--help` text.
pub const HELP: &str = "\
Run a verified nexe in the zv sandbox (RUNTIME.md)

Usage: zvrun [OPTIONS] NEXE|IMAGE [ARGS]...
       zvrun --manifest FILE [OPTIONS] [ARGS]...
       zvrun --serve SOCKET [OPTIONS] NEXE|IMAGE [ARGS]...   (daemon mode)
       zvrun --job SOCKET [OPTIONS] NEXE|IMAGE               (a request to a daemon)
       zvrun --job SOCKET --manifest FILE [OPTIONS]

Options:
      --manifest <FILE>        ZeroVM 1.x text manifest (RUNTIME.md section 5) describing the session
      --memory <BYTES>         Memory limit for data + bss + heap + stack (bytes; K, M, G suffixes)
      --timeout <SECONDS>      Wall-clock timeout in seconds (status 124 when it expires)
      --channel <SPEC>         Extra channel: alias=path[,type[,gets,get_size,puts,put_size]] (repeatable)
      --env <KEY=VALUE>        Environment variable for the guest (repeatable)
      --seed <SEED>            Seed for AT_RANDOM and the guest's random numbers (default 0, or the image's)
      --time <TIME>            Fixed time the guest's clocks show, seconds since the epoch (default 0, or the image's)
      --etag                   Compute SHA-1 etags for every channel
      --report <FORMAT>        Write a report: json or zerovm
      --report-file <FILE>     Where to write the report (default: stderr; alone, it asks for a JSON report)
      --serve <SOCKET>         Daemon mode (RUNTIME.md section 7): at the guest's first Fork, serve requests on
                               this Unix socket, each in a copy-on-write fork of the warm guest
      --max-jobs <N>           Daemon mode: forked sessions running at once, 1 or more (default 64; more
                               connections wait)
      --job <SOCKET>           Send this command line's channels and timeout (the daemon's command line, other
                               files) as a request to the daemon on SOCKET; its status and report are this command's
      --no-cache               Verify the code even when the verdict cache says it was accepted before, and do
                               not record the verdict (the cache is $ZV_CACHE_DIR, else $XDG_CACHE_HOME/zv/verified,
                               else ~/.cache/zv/verified; ZV_CACHE_DIR=off also disables it)
  -h, --help                   Print help
  -V, --version                Print version

Exit status: the guest's exit code; 124 timeout; 125 the session could not run;
126 the program fails verification; 128+N the guest died of signal N.
";

fn number(name: &str, v: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid value '{v}' for '--{name} <{}>': {why}", name.to_uppercase());
    let n = v.parse::<u64>().map_err(|_| {
        if v.strip_prefix('-').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
            bad("must not be negative")
        } else {
            bad("not a number")
        }
    })?;
    // The guest's time_t is signed: a larger time would come back negative.
    if name == "time" && n > i64::MAX as u64 {
        return Err(bad(&format!("at most {} seconds since the epoch", i64::MAX)));
    }
    Ok(n)
}

/// Parses the arguments after argv[0].
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Parsed, String> {
    parse_partial(args).0
}

/// Like [`parse`], and also gives what was parsed before an error: a usage error still
/// gets the report that `--report` (and `--report-file`) before it asked for (RUNTIME.md
/// section 6: the report is written in every case).
pub fn parse_partial<I: IntoIterator<Item = OsString>>(args: I) -> (Result<Parsed, String>, Cli) {
    let mut cli = Cli::default();
    let r = parse_into(&mut cli, args);
    // A report file asks for a report: JSON unless --report names the format (it used to
    // leave an empty file and write nothing).
    if cli.report_file.is_some() && cli.report.is_none() {
        cli.report = Some("json".to_string());
    }
    (r.map(|p| if let Parsed::Print(t) = p { Parsed::Print(t) } else { Parsed::Run(std::mem::take(&mut cli)) }), cli)
}

/// The parser proper: fills `cli`; `Ok(Parsed::Run(_))` means `cli` is complete (its
/// value inside is a placeholder).
fn parse_into<I: IntoIterator<Item = OsString>>(cli: &mut Cli, args: I) -> Result<Parsed, String> {
    let mut it = args.into_iter();
    // Options that take one value or are flags may be given once (as clap had it); only
    // --channel and --env repeat.
    let mut seen: Vec<String> = Vec::new();
    let mut once = |name: &str| -> Result<(), String> {
        if seen.iter().any(|s| s == name) {
            return Err(format!("option '--{name}' given more than once"));
        }
        seen.push(name.to_string());
        Ok(())
    };
    let text = |a: OsString| a.into_string().map_err(|a| format!("argument {a:?} is not valid UTF-8"));
    while let Some(arg) = it.next() {
        if arg == "--" {
            cli.rest.extend(it);
            break;
        }
        if !arg.as_encoded_bytes().starts_with(b"-") || arg == "-" {
            cli.rest.push(arg);
            cli.rest.extend(it);
            break;
        }
        // `--env=KEY=VALUE` keeps its value as bytes.
        if let Some(v) = arg.as_encoded_bytes().strip_prefix(b"--env=") {
            cli.env.push(os_from_bytes(v));
            continue;
        }
        if arg == "--env" {
            let v = it.next().ok_or_else(|| "option '--env' needs a value (see zvrun --help)".to_string())?;
            cli.env.push(v);
            continue;
        }
        let arg = text(arg)?;
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Print(HELP.to_string())),
            "-V" | "--version" => return Ok(Parsed::Print(format!("zvrun {}\n", env!("CARGO_PKG_VERSION")))),
            "--etag" | "--no-cache" | "--no-seccomp" => {
                once(&arg[2..])?;
                match arg.as_str() {
                    "--etag" => cli.etag = true,
                    "--no-cache" => cli.no_cache = true,
                    _ => cli.no_seccomp = true,
                }
            }
            _ => {
                let Some(body) = arg.strip_prefix("--") else {
                    return Err(format!("unexpected argument '{arg}' (see zvrun --help)"));
                };
                let (name, inline) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (body, None),
                };
                const TAKES_VALUE: &[&str] = &[
                    "manifest",
                    "memory",
                    "timeout",
                    "channel",
                    "seed",
                    "time",
                    "report",
                    "report-file",
                    "serve",
                    "job",
                    "max-jobs",
                ];
                if !TAKES_VALUE.contains(&name) {
                    return Err(match inline {
                        Some(_) if ["etag", "no-cache", "no-seccomp", "help", "version"].contains(&name) => {
                            format!("option '--{name}' takes no value")
                        }
                        _ => format!("unexpected argument '{arg}' (see zvrun --help)"),
                    });
                }
                if name != "channel" {
                    once(name)?;
                }
                let value = match inline {
                    Some(v) => v,
                    None => {
                        text(it.next().ok_or_else(|| format!("option '--{name}' needs a value (see zvrun --help)"))?)?
                    }
                };
                match name {
                    "manifest" => cli.manifest = Some(value),
                    "memory" => cli.memory = Some(value),
                    "timeout" => cli.timeout = Some(number(name, &value)?),
                    "channel" => cli.channels.push(value),
                    "seed" => cli.seed = Some(number(name, &value)?),
                    "time" => cli.time = Some(number(name, &value)?),
                    "report" => {
                        if value != "json" && value != "zerovm" {
                            return Err(format!("invalid value '{value}' for '--report <FORMAT>': use json or zerovm"));
                        }
                        cli.report = Some(value);
                    }
                    "serve" => cli.serve = Some(value),
                    "job" => cli.job = Some(value),
                    "max-jobs" => {
                        let n = number(name, &value)?;
                        if n == 0 || n > u64::from(u32::MAX) {
                            return Err(format!(
                                "invalid value '{value}' for '--max-jobs <N>': from 1 to {}",
                                u32::MAX
                            ));
                        }
                        cli.max_jobs = Some(n);
                    }
                    _ => cli.report_file = Some(value),
                }
                if cli.serve.is_some() && cli.job.is_some() {
                    return Err("--serve (be the daemon) and --job (send it a request) exclude each other".into());
                }
            }
        }
    }
    Ok(Parsed::Run(Cli::default()))
}

/// An `OsString` of raw bytes (Unix: any bytes are a valid `OsStr`).
fn os_from_bytes(b: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(b).to_os_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Cli, String> {
        match parse(args.iter().map(OsString::from))? {
            Parsed::Run(c) => Ok(c),
            Parsed::Print(t) => Err(format!("printed {t}")),
        }
    }

    #[test]
    fn serve_and_job_take_a_socket_and_exclude_each_other() {
        let c = run(&["--serve", "/run/a.sock", "app.tar"]).expect("serve");
        assert_eq!(c.serve.as_deref(), Some("/run/a.sock"));
        let c = run(&["--job=/run/a.sock", "app.tar"]).expect("job");
        assert_eq!(c.job.as_deref(), Some("/run/a.sock"));
        let e = run(&["--serve", "a", "--job", "a", "app.tar"]).expect_err("both");
        assert!(e.contains("exclude each other"), "{e}");
        assert!(run(&["--job"]).expect_err("no value").contains("needs a value"));
        assert_eq!(run(&["--max-jobs", "8", "a"]).expect("max-jobs").max_jobs, Some(8));
        assert!(run(&["--max-jobs", "0", "a"]).expect_err("zero").contains("from 1 to"));
        assert!(run(&["--max-jobs", "x", "a"]).expect_err("not a number").contains("not a number"));
    }

    #[test]
    fn options_then_program_and_its_arguments() {
        let c = run(&[
            "--memory",
            "64M",
            "--timeout=5",
            "--channel",
            "/dev/in=a.txt,1",
            "--channel=/x=y",
            "--env",
            "A=1",
            "--seed",
            "7",
            "--time=9",
            "--etag",
            "--report",
            "zerovm",
            "--report-file",
            "r.txt",
            "--no-cache",
            "app.nexe",
            "--memory",
            "-x",
            "--",
        ])
        .unwrap();
        assert_eq!(c.memory.as_deref(), Some("64M"));
        assert_eq!((c.timeout, c.seed, c.time), (Some(5), Some(7), Some(9)));
        assert_eq!(c.channels, ["/dev/in=a.txt,1", "/x=y"]);
        assert_eq!(c.env, ["A=1"]);
        assert!(c.etag && c.no_cache && !c.no_seccomp);
        assert_eq!(c.report.as_deref(), Some("zerovm"));
        assert_eq!(c.report_file.as_deref(), Some("r.txt"));
        assert_eq!(c.rest, ["app.nexe", "--memory", "-x", "--"], "the guest's arguments are never options");
    }

    #[test]
    fn a_report_file_alone_asks_for_a_json_report() {
        let c = run(&["--report-file", "r.json", "app.nexe"]).unwrap();
        assert_eq!((c.report.as_deref(), c.report_file.as_deref()), (Some("json"), Some("r.json")));
        // Named, the format stays the one named; without a file, no report.
        let c = run(&["--report-file", "r.txt", "--report", "zerovm", "app.nexe"]).unwrap();
        assert_eq!(c.report.as_deref(), Some("zerovm"));
        assert_eq!(run(&["app.nexe"]).unwrap().report, None);
        // A usage error after it still gets its report (the partial parse has the format).
        let (r, partial) = parse_partial(["--report-file", "r.json", "--bogus"].map(OsString::from));
        assert!(r.is_err());
        assert_eq!(partial.report.as_deref(), Some("json"));
    }

    #[test]
    fn double_dash_ends_options() {
        let c = run(&["--etag", "--", "--weird-name.nexe", "a"]).unwrap();
        assert_eq!(c.rest, ["--weird-name.nexe", "a"]);
        let c = run(&["--manifest", "m.txt", "arg1"]).unwrap();
        assert_eq!((c.manifest.as_deref(), c.rest.as_slice()), (Some("m.txt"), &[OsString::from("arg1")][..]));
        assert_eq!(run(&[]).unwrap(), Cli::default());
    }

    #[test]
    fn errors_name_the_option() {
        for (args, want) in [
            (&["--bogus", "a.nexe"][..], "'--bogus'"),
            (&["-x", "a.nexe"][..], "'-x'"),
            (&["--timeout"][..], "'--timeout' needs a value"),
            (&["--timeout", "soon", "a.nexe"][..], "'soon'"),
            (&["--seed=-1", "a.nexe"][..], "'-1'"),
            (&["--report", "xml", "a.nexe"][..], "'xml'"),
            (&["--etag=yes", "a.nexe"][..], "'--etag' takes no value"),
            (&["--memory", "1M", "--memory=2M", "a.nexe"][..], "'--memory' given more than once"),
            (&["--etag", "--etag", "a.nexe"][..], "'--etag' given more than once"),
            // QA findings: a negative value is not "not a number", and a time past
            // i64::MAX would reach the guest's signed time_t negative.
            (&["--time", "-86400", "a.nexe"][..], "must not be negative"),
            (&["--time", "9223372036854775808", "a.nexe"][..], "at most 9223372036854775807 seconds"),
        ] {
            let e = run(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn what_came_before_an_error_is_kept() {
        let args = ["--report", "json", "--report-file=r.json", "--bogus", "a.nexe"];
        let (r, c) = parse_partial(args.iter().map(OsString::from));
        assert!(r.unwrap_err().contains("'--bogus'"));
        assert_eq!((c.report.as_deref(), c.report_file.as_deref()), (Some("json"), Some("r.json")));
        let (r, c) = parse_partial(["--report", "xml"].iter().map(OsString::from));
        assert!(r.is_err() && c.report.is_none());
    }

    #[test]
    fn help_and_version_print() {
        for a in ["--help", "-h"] {
            assert!(matches!(parse([OsString::from(a)]), Ok(Parsed::Print(t)) if t.contains("Usage: zvrun")));
        }
        for a in ["--version", "-V"] {
            assert!(matches!(parse([OsString::from(a)]), Ok(Parsed::Print(t)) if t.starts_with("zvrun ")));
        }
    }
}
