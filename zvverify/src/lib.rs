//! zvverify as a library: find nexes in trees, verify them in parallel with the one
//! verifier engine in zvcore, and describe the results as a [`Report`] that renders as
//! human text, JSON or SARIF and that shards can merge.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod debuginfo;
pub mod input;
pub mod render;
pub mod walk;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use zvcore::image::ImageManifest;
use zvcore::nexe::{looks_like_elf, Nexe};
use zvcore::{Options, Rejected};

/// Version of the JSON report schema.
pub const REPORT_VERSION: u32 = 1;

/// The verdict on one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every rule holds.
    Pass,
    /// At least one rule is broken (or the file is not a well-formed nexe).
    Fail,
    /// The file could not be read.
    Error,
}

/// One violation, located.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationReport {
    /// Rule id as in FORM.md (`C1`..`C10`, or `ELF`).
    pub rule: String,
    /// Guest address (or file offset for `ELF`), as `0x...`.
    pub address: String,
    /// `function+0xoff` from the symbol table, when present.
    pub symbol: Option<String>,
    /// `file:line` from DWARF line tables, when present.
    pub source: Option<String>,
    /// The instruction in AT&T syntax.
    pub instruction: Option<String>,
    /// The instruction bytes in hex.
    pub bytes: Option<String>,
    /// One-line reason.
    pub message: String,
}

/// The result for one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// The path as found.
    pub path: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Bytes of code verified.
    pub code_bytes: u64,
    /// Violations (empty on pass).
    pub violations: Vec<ViolationReport>,
    /// Violations found beyond those listed (the per-file limit).
    #[serde(default)]
    pub violations_omitted: usize,
    /// The I/O error, for verdict `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Totals over a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Inputs: files verified, files that could not be read, and paths that could not
    /// be walked (passed + failed + errors).
    pub files: usize,
    /// Files that passed.
    pub passed: usize,
    /// Files that failed.
    pub failed: usize,
    /// Files that could not be read, plus paths that could not be walked (each listed in
    /// [`Report::walk_errors`]: a missing path, an unreadable directory, a dangling symlink).
    pub errors: usize,
    /// Files found while walking a directory that are neither nexes nor images: skipped.
    pub skipped: usize,
    /// Total violations.
    pub violations: usize,
    /// Total bytes of code verified.
    pub code_bytes: u64,
}

/// Speed of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Wall-clock seconds of the verification (summed over merged shards).
    pub seconds: f64,
    /// Code bytes per second, in MB/s (10^6).
    pub mb_per_s: f64,
    /// Files per second.
    pub files_per_s: f64,
    /// Worker threads.
    pub threads: usize,
}

/// Which shard a report covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Shard indices (1-based) included.
    pub indices: Vec<usize>,
    /// Number of shards.
    pub count: usize,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Schema version ([`REPORT_VERSION`]).
    pub version: u32,
    /// Tool name and version.
    pub tool: String,
    /// Per-file results, in path order.
    pub files: Vec<FileReport>,
    /// Totals.
    pub totals: Totals,
    /// Throughput.
    pub throughput: Throughput,
    /// Shard, when `--shard` was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Paths that could not be walked (`path: what: error`); counted in `totals.errors`.
    #[serde(default)]
    pub walk_errors: Vec<String>,
}

impl Report {
    /// The exit status this report maps to: 2 on I/O errors, else 1 if any file failed,
    /// else 0.
    pub fn exit_status(&self) -> i32 {
        if self.totals.errors > 0 || !self.walk_errors.is_empty() {
            2
        } else if self.totals.failed > 0 {
            1
        } else {
            0
        }
    }

    /// Recomputes the totals from the file list and the walk errors (the skipped count is
    /// kept).
    pub fn recount(&mut self) {
        let skipped = self.totals.skipped;
        let walk = self.walk_errors.len();
        let mut t = Totals { skipped, files: walk, errors: walk, ..Totals::default() };
        for f in &self.files {
            t.files += 1;
            match f.verdict {
                Verdict::Pass => t.passed += 1,
                Verdict::Fail => t.failed += 1,
                Verdict::Error => t.errors += 1,
            }
            t.violations += f.violations.len() + f.violations_omitted;
            t.code_bytes += f.code_bytes;
        }
        self.totals = t;
        let s = self.throughput.seconds;
        if s > 0.0 {
            self.throughput.mb_per_s = t.code_bytes as f64 / s / 1e6;
            self.throughput.files_per_s = t.files as f64 / s;
        }
    }
}

/// The most worker threads a run uses (`-j` above it is clamped): far more than any
/// machine's cores. Threads start only for work: one per file at most, and zvcore splits
/// a file's code into chunks of at least 64 KiB.
pub const MAX_JOBS: usize = 1024;

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Worker threads (0 = all cores; at most [`MAX_JOBS`] are started).
    pub jobs: usize,
    /// Shard (K, N).
    pub shard: Option<(usize, usize)>,
    /// Violations kept per file.
    pub max_violations: usize,
}

/// What happened to one input path.
pub enum Outcome {
    /// Verified (pass or fail) or unreadable.
    File(FileReport),
    /// Found while walking a directory and neither a nexe nor an image: skipped and counted.
    Skipped,
}

fn unreadable(path: String, e: &input::InputError) -> FileReport {
    FileReport {
        path,
        verdict: Verdict::Error,
        code_bytes: 0,
        violations: Vec::new(),
        violations_omitted: 0,
        error: Some(e.to_string()),
    }
}

/// A failure with one `ELF` violation at file offset 0 (counted, not listed, under
/// `--max-violations 0`).
fn not_valid(path: String, message: String, max_violations: usize) -> FileReport {
    let mut r = not_valid_listed(path, message);
    if max_violations == 0 {
        r.violations.clear();
        r.violations_omitted = 1;
    }
    r
}

fn not_valid_listed(path: String, message: String) -> FileReport {
    FileReport {
        path,
        verdict: Verdict::Fail,
        code_bytes: 0,
        violations: vec![ViolationReport {
            rule: zvcore::Rule::Elf.id().to_string(),
            address: "0x0".into(),
            symbol: None,
            source: None,
            instruction: None,
            bytes: None,
            message,
        }],
        violations_omitted: 0,
        error: None,
    }
}

/// Verifies one file. `named`: the path was given on the command line (it is verified
/// whatever it holds, and fails with `ELF` when it is not a nexe or an image), rather than
/// found while walking a directory (where files that are neither nexes nor images are
/// skipped). `threads` > 1 splits a large code segment across threads (used when there
/// are fewer files than worker threads). Memory is bounded as [`input`] describes.
pub fn verify_file(path: &Path, named: bool, max_violations: usize, threads: usize) -> Outcome {
    let shown = walk::path_text(path);
    // A file found in a walk is a regular file (the walk read its type): no second stat.
    let (file, len) = match input::open_regular(path, !named) {
        Ok(f) => f,
        Err(e) => return Outcome::File(unreadable(shown, &e)),
    };
    let region = input::Region { file: &file, base: 0, len };
    let head = match region.head() {
        Ok(h) => h,
        Err(e) => return Outcome::File(unreadable(shown, &e)),
    };
    if looks_like_elf(&head) {
        return Outcome::File(verify_region(shown, &region, head, None, max_violations, threads));
    }
    if zvcore::image::looks_like_tar(&head) {
        let report = verify_image_file(shown, &file, max_violations, threads);
        // In a walk, a tar that is not an image (no manifest.json) is skipped like any
        // other file that zvrun could not run.
        if !named && report.verdict == Verdict::Fail && !input::tar_may_hold_manifest(&file, len) {
            return Outcome::Skipped;
        }
        return Outcome::File(report);
    }
    if named {
        // Not a nexe: the parser says why ("missing ELF magic"); it needs only the head.
        return Outcome::File(verify_region(shown, &region, head, None, max_violations, threads));
    }
    Outcome::Skipped
}

/// Verifies the nexe in `region` (a file, or an image's member) whose first bytes are
/// `head`, reading only what verification needs (and the whole region, up to
/// [`input::MAX_WHOLE`], to locate the violations of a failing nexe). `image`: the
/// manifest of the image the nexe is in, whose memory must hold the program (else the
/// image is not valid, as `zvpack check` and zvrun say).
fn verify_region(
    path: String,
    region: &input::Region<'_>,
    head: Vec<u8>,
    image: Option<&ImageManifest>,
    max_violations: usize,
    threads: usize,
) -> FileReport {
    let (mut data, whole) = match input::load_nexe(region, head) {
        Ok(input::Loaded::Bytes { data, whole }) => (data, whole),
        Ok(input::Loaded::Refused(message)) => return not_valid(path, message, max_violations),
        Err(e) => return unreadable(path, &e),
    };
    // The loaded prefix holds the program headers; a nexe that does not parse fails below.
    if let (Some(m), Ok(n)) = (image, Nexe::parse(&data)) {
        if let Err(e) = m.check_memory(n.data_bytes()) {
            return not_valid(path, format!("not a valid image: {e}"), max_violations);
        }
    }
    match zvcore::verify_nexe_parallel(&data, Options { max_violations: max_violations.max(1) }, threads) {
        Ok(v) => passed(path, v.code.len() as u64),
        Err(mut rej) => {
            rej.violations.truncate(max_violations);
            // Symbols and DWARF lines lie outside the loaded prefix; they are looked up
            // only when the parser got past the headers (`ELF` violations have none).
            let parsed = rej.violations.iter().any(|v| v.rule != zvcore::Rule::Elf);
            // The rest of the file is appended to the prefix already read.
            if !whole && parsed && region.len <= input::MAX_WHOLE {
                let have = data.len();
                if region.read_into(have as u64, region.len - have as u64, &mut data).is_err() {
                    data.truncate(have);
                }
            }
            failed(path, &data, &rej)
        }
    }
}

/// Verifies the nexe inside an image tar (docs/images.md): the index and manifest are
/// read from the tar, the nexe member as a [`input::Region`] (with the same bounds as a
/// nexe file). A malformed image fails with the id `ELF` and a message saying what is
/// wrong with it.
fn verify_image_file(path: String, file: &std::fs::File, max_violations: usize, threads: usize) -> FileReport {
    let img = match zvcore::image::Image::read(file) {
        Ok(img) => img,
        Err(e) => return not_valid(path, format!("not a valid image: {e}"), max_violations),
    };
    let Some(m) = img.member(&img.manifest.program) else {
        return not_valid(path, "not a valid image: no program".into(), max_violations);
    };
    let region = input::Region { file, base: m.offset, len: m.size };
    match region.head() {
        Ok(head) => verify_region(path, &region, head, Some(&img.manifest), max_violations, threads),
        Err(e) => unreadable(path, &e),
    }
}

/// Verifies the bytes of one nexe and locates its violations.
pub fn verify_bytes(path: String, data: &[u8], max_violations: usize, threads: usize) -> FileReport {
    match zvcore::verify_nexe_parallel(data, Options { max_violations: max_violations.max(1) }, threads) {
        Ok(v) => passed(path, v.code.len() as u64),
        Err(mut rej) => {
            rej.violations.truncate(max_violations);
            failed(path, data, &rej)
        }
    }
}

fn passed(path: String, code_bytes: u64) -> FileReport {
    FileReport { path, verdict: Verdict::Pass, code_bytes, violations: Vec::new(), violations_omitted: 0, error: None }
}

/// The report of a rejected nexe; `data` is the file (or its prefix) to read symbols and
/// DWARF lines from.
fn failed(path: String, data: &[u8], rej: &Rejected) -> FileReport {
    FileReport {
        path,
        verdict: Verdict::Fail,
        code_bytes: rej.code_bytes,
        violations_omitted: rej.violation_count.saturating_sub(rej.violations.len()),
        violations: locate(data, rej),
        error: None,
    }
}

fn locate(data: &[u8], rej: &Rejected) -> Vec<ViolationReport> {
    let dbg = Nexe::parse(data).ok().map(|n| debuginfo::DebugInfo::load(&n));
    rej.violations
        .iter()
        .map(|v| {
            let is_elf = v.rule == zvcore::Rule::Elf;
            ViolationReport {
                rule: v.rule.id().to_string(),
                address: format!("{:#x}", v.addr),
                symbol: if is_elf { None } else { dbg.as_ref().and_then(|d| d.symbol(v.addr)) },
                source: if is_elf { None } else { dbg.as_ref().and_then(|d| d.source(v.addr)) },
                instruction: if v.bytes.is_empty() { None } else { Some(render::disassemble(&v.bytes, v.addr)) },
                bytes: if v.bytes.is_empty() { None } else { Some(zvcore::verify::hex(&v.bytes)) },
                message: v.reason.clone(),
            }
        })
        .collect()
}

/// The order of files in a report: by path components, as a walk visits them (`a/x`
/// before `a-b/x`, though `-` sorts before `/` in a string). A run and a merge of its
/// shards sort by this one key, on the paths as reports show them, so they list the same
/// files in the same order.
pub fn report_order(a: &str, b: &str) -> std::cmp::Ordering {
    Path::new(a).cmp(Path::new(b))
}

/// Finds, shards and verifies everything under `roots`. `progress` is called once per
/// file from worker threads.
pub fn run(roots: &[PathBuf], cfg: &RunConfig, progress: &(dyn Fn(u64) + Sync)) -> Result<Report, String> {
    let (mut files, walk_errors) = walk::find_files(roots);
    if let Some((k, n)) = cfg.shard {
        files = walk::shard(files, k, n);
    }
    let threads = match cfg.jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(MAX_JOBS);
    // One worker per file at most: with fewer files than threads, the spare threads help
    // inside each file (zvcore splits a large code segment) instead of idling in the pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.min(files.len().max(1)))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))?;
    let per_file = if files.len() < threads { threads / files.len().max(1) } else { 1 };
    let t = Instant::now();
    let outcomes: Vec<Outcome> = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let o = verify_file(&f.path, f.named, cfg.max_violations, per_file);
                progress(1);
                o
            })
            .collect()
    });
    let seconds = t.elapsed().as_secs_f64();
    let mut skipped = 0;
    let mut reports = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        match o {
            Outcome::File(f) => reports.push(f),
            Outcome::Skipped => skipped += 1,
        }
    }
    // Already in walk order, except where a shown path (`\xNN` for a byte that is not
    // UTF-8) sorts otherwise than the name's bytes.
    reports.sort_by(|a, b| report_order(&a.path, &b.path));
    let mut report = Report {
        version: REPORT_VERSION,
        tool: format!("zvverify {}", env!("CARGO_PKG_VERSION")),
        files: reports,
        totals: Totals { skipped, ..Totals::default() },
        throughput: Throughput { seconds, threads, ..Throughput::default() },
        shard: cfg.shard.map(|(k, n)| ShardInfo { indices: vec![k], count: n }),
        walk_errors: walk_errors.iter().map(ToString::to_string).collect(),
    };
    report.recount();
    Ok(report)
}

/// Counts the files a run would visit (for the progress bar).
pub fn count_files(roots: &[PathBuf], shard: Option<(usize, usize)>) -> usize {
    let (files, _) = walk::find_files(roots);
    match shard {
        Some((k, n)) => walk::shard(files, k, n).len(),
        None => files.len(),
    }
}

/// Merges shard reports into one. Files are re-sorted by path; a path present in two
/// reports is an error (shards must be disjoint).
pub fn merge(reports: Vec<Report>) -> Result<Report, String> {
    let mut files = Vec::new();
    let mut seconds = 0.0;
    let mut threads = 0;
    let mut skipped = 0;
    let mut walk_errors = Vec::new();
    let mut indices = Vec::new();
    let mut count = None;
    for r in reports {
        if r.version != REPORT_VERSION {
            return Err(format!("report version {} is not {}", r.version, REPORT_VERSION));
        }
        seconds += r.throughput.seconds;
        threads = threads.max(r.throughput.threads);
        skipped += r.totals.skipped;
        // Every shard walks the same tree and meets the same walk errors: keep one of each.
        for e in r.walk_errors {
            if !walk_errors.contains(&e) {
                walk_errors.push(e);
            }
        }
        if let Some(s) = r.shard {
            if count.is_some_and(|c| c != s.count) {
                return Err(format!(
                    "reports come from different shard counts ({} and {})",
                    count.unwrap_or(0),
                    s.count
                ));
            }
            count = Some(s.count);
            for i in s.indices {
                if indices.contains(&i) {
                    return Err(format!("shard {i} appears twice"));
                }
                indices.push(i);
            }
        }
        files.extend(r.files);
    }
    files.sort_by(|a, b| report_order(&a.path, &b.path));
    // Two spellings of one path (`a//b`, `a/b`) sort as equal, so equal texts need not be
    // neighbours: look for repeats in a set.
    let mut seen = std::collections::HashSet::new();
    if let Some(f) = files.iter().find(|f| !seen.insert(f.path.as_str())) {
        return Err(format!("file {} appears in more than one report", f.path));
    }
    indices.sort_unstable();
    let mut report = Report {
        version: REPORT_VERSION,
        tool: format!("zvverify {}", env!("CARGO_PKG_VERSION")),
        files,
        totals: Totals { skipped, ..Totals::default() },
        throughput: Throughput { seconds, threads, ..Throughput::default() },
        shard: count.map(|count| ShardInfo { indices, count }),
        walk_errors,
    };
    report.recount();
    Ok(report)
}
