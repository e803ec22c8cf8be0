//! The zvverify command: verify nexes and trees of nexes, in parallel, and report.
//!
//! Exit status: 0 every file verifies; 1 any file fails; 2 usage or I/O error (unreadable
//! files are reported and the rest still verified). A closed stdout is not an error.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use zvcore::output::message;
use zvverify::{render, Report, RunConfig};

#[derive(Parser)]
#[command(
    name = "zvverify",
    version,
    about = "Prove that nexes are in the zv sandbox form (FORM.md)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Nexes, images and directories. Directories are walked recursively, skipping (and
    /// counting) files that are neither nexes nor images; a file named here is always
    /// verified and fails when it is not a nexe or an image.
    paths: Vec<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Verify only shard K of N: the files whose path (relative to the directory walked,
    /// or as given) hashes (FNV-1a) to K-1 modulo N.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Violations listed per file (the rest are counted).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    max_violations: usize,
    /// No summary line on stderr.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Merge JSON reports of shards into one JSON report.
    Merge {
        /// JSON reports written by `zvverify --format json`.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Output format of the merged report.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// Write the merged report to FILE instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
}

fn render(r: &Report, f: Format) -> String {
    match f {
        Format::Human => render::human(r),
        Format::Json => render::json(r) + "\n",
        Format::Sarif => render::sarif(r) + "\n",
    }
}

fn emit(text: &str, output: Option<&PathBuf>) -> Result<(), String> {
    match output {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display())),
        None => zvcore::output::to_stdout(text).map_err(|e| format!("cannot write to stdout: {e}")),
    }
}

fn usage_error(msg: &str) -> ! {
    message(format_args!("zvverify: {msg}"));
    std::process::exit(2);
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Some(Cmd::Merge { reports, format, output }) = cli.cmd {
        let mut parsed = Vec::new();
        for p in &reports {
            let text = read_report(p).unwrap_or_else(|e| usage_error(&format!("cannot read {}: {e}", p.display())));
            let r: Report = serde_json::from_str(&text)
                .unwrap_or_else(|e| usage_error(&format!("{} is not a zvverify JSON report: {e}", p.display())));
            parsed.push(r);
        }
        let merged = zvverify::merge(parsed).unwrap_or_else(|e| usage_error(&e));
        if let Err(e) = emit(&render(&merged, format), output.as_ref()) {
            usage_error(&e);
        }
        std::process::exit(merged.exit_status());
    }
    if cli.paths.is_empty() {
        usage_error("no paths given (try `zvverify --help`)");
    }
    let shard = cli.shard.as_deref().map(|s| zvverify::walk::parse_shard(s).unwrap_or_else(|e| usage_error(&e)));
    if cli.jobs == Some(0) {
        usage_error("-j needs at least 1 thread");
    }
    // More threads than MAX_JOBS only cost time to start (thousands take seconds).
    let jobs = cli.jobs.unwrap_or(0).min(zvverify::MAX_JOBS);
    let cfg = RunConfig { jobs, shard, max_violations: cli.max_violations };
    let bar = if std::io::stderr().is_terminal() && !cli.quiet {
        let total = zvverify::count_files(&cli.paths, shard) as u64;
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {per_sec} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let tick = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    };
    let report = zvverify::run(&cli.paths, &cfg, &tick).unwrap_or_else(|e| usage_error(&e));
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Err(e) = emit(&render(&report, cli.format), cli.output.as_ref()) {
        usage_error(&e);
    }
    if !cli.quiet {
        message(format_args!("{}", render::summary(&report)));
    }
    std::process::exit(report.exit_status());
}

/// Largest shard report `merge` reads (a report of millions of files is well below it):
/// `merge /dev/zero` read until memory ran out (audit finding).
const MAX_REPORT: u64 = 1 << 30;

/// A shard report's text, refused past [`MAX_REPORT`] bytes.
fn read_report(p: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(p)?.take(MAX_REPORT + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_REPORT {
        return Err(std::io::Error::other(format!("larger than {MAX_REPORT} bytes, not a zvverify report")));
    }
    Ok(text)
}
