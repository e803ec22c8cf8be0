//! Verifier throughput benchmark (`cargo bench -p zvverify --bench throughput`, or
//! `scripts/bench-verify`).
//!
//! It measures and prints; it asserts no timing. In one run it prints, side by side:
//!
//! 1. single-thread verification throughput on one large realistic nexe (64 MiB of code
//!    from `zvcore::testgen::valid_nexe`, a table of allowed encodings with a compiled-C
//!    instruction mix): `zvcore::verify_nexe` in-process (best of 3 and median) and the
//!    release `zvverify -j 1` binary on the same file (process wall-clock);
//! 2. `objdump` (binutils) disassembling the same code bytes, for scale. The writer in
//!    zvcore emits no section header for the code (only `.symtab`, `.strtab`,
//!    `.shstrtab`), so `objdump -d` finds nothing to disassemble in the nexe; the bench
//!    checks `objdump -h` for a CODE section and, when there is none, disassembles a file
//!    holding just the raw code bytes with `objdump -D -b binary -m i386:x86-64`. The
//!    output says which form was used;
//! 3. corpus throughput: 1,000 generated nexes of 16-256 KiB of code each (seeds
//!    0..1000, about 136 MB in all, generated once into `target/bench-tmp/corpus/` and
//!    reused), verified by the release binary with `-j 1` and `-j 2` (after a warm-up run
//!    so the files are in the page cache; 3 runs each, interleaved, median): files/s,
//!    MB/s and the speedup of `-j 2` over `-j 1`. Both the process wall-clock and the
//!    verification time the binary reports in its JSON (`throughput.seconds`, which
//!    excludes start-up, the directory walk and rendering) are shown; the difference
//!    is per-process overhead.
//!
//! `cargo bench` builds this file in the `bench` profile but does not build the
//! `zvverify` binary, so the bench first runs `cargo build --release -p zvverify` and
//! then times `target/release/zvverify`. MB are 10^6 bytes of code (the code segment
//! only, not headers or symbols). Targets (printed, not enforced): single-thread
//! verification >= 100 MB/s, `-j 2` speedup >= 1.7x on two cores.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zvcore::testgen::Rng;
use zvcore::{verify_nexe, Options};

/// Code bytes of the large single nexe.
const BIG_CODE: usize = 64 << 20;
/// Seed of the large single nexe.
const BIG_SEED: u64 = 0x05ee_db16;
/// Files in the corpus.
const CORPUS_FILES: u64 = 1000;
/// Smallest and largest code size in the corpus.
const CORPUS_MIN: usize = 16 << 10;
const CORPUS_MAX: usize = 256 << 10;
/// Timed runs per measurement.
const RUNS: usize = 3;
/// Bumped whenever the corpus generation changes, so stale corpora are regenerated.
const CORPUS_STAMP: &str = "zvverify-bench-corpus v1: 1000 files, seeds 0..1000, 16-256 KiB";

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let tmp = target.join("bench-tmp");
    fs::create_dir_all(&tmp).expect("create target/bench-tmp");

    println!("zvverify throughput benchmark");
    println!("  cpus: {}, load average at start: {}", cpus(), loadavg());

    let bin = build_release_binary(&root, &target);
    println!("  binary: {}", bin.display());

    // ---- 1. one large nexe -------------------------------------------------------------
    let t = Instant::now();
    let big = zvcore::testgen::valid_nexe(BIG_SEED, BIG_CODE);
    let big_path = tmp.join("big.nexe");
    fs::write(&big_path, &big).expect("write big.nexe");
    // The verified code segment, exactly as checked, for the raw-bytes objdump form.
    let code_bytes = verify_nexe(&big, Options::default()).expect("generated nexe must verify").code.bytes().to_vec();
    let code_len = code_bytes.len();
    let code_start = zvcore::form::CODE_START;
    let raw_path = tmp.join("big.code.bin");
    fs::write(&raw_path, &code_bytes).expect("write big.code.bin");
    println!(
        "\n[1] one nexe: {} ({:.1} MB file, {:.1} MB of code; generated in {:.1}s)",
        big_path.display(),
        big.len() as f64 / 1e6,
        code_len as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let inproc = time_runs(RUNS, || {
        let v = verify_nexe(&big, Options::default()).expect("verifies");
        std::hint::black_box(v.code.len());
    });
    println!(
        "  verify_nexe in-process, 1 thread: best {:.3}s = {:.1} MB/s, median {:.3}s = {:.1} MB/s",
        secs(inproc.best),
        mbps(code_len, inproc.best),
        secs(inproc.median),
        mbps(code_len, inproc.median)
    );

    let json_one = tmp.join("report-one.json");
    let one_args: Vec<String> = vec![
        "-j".into(),
        "1".into(),
        "--quiet".into(),
        "--format".into(),
        "json".into(),
        "-o".into(),
        json_one.display().to_string(),
        big_path.display().to_string(),
    ];
    run_bin(&bin, &one_args); // warm-up: page cache, binary
    let one = time_runs(RUNS, || run_bin(&bin, &one_args));
    let one_internal = report_seconds(&json_one);
    println!(
        "  zvverify -j 1 (process wall-clock): best {:.3}s = {:.1} MB/s, median {:.3}s = {:.1} MB/s \
         (verification alone, as reported: {:.1} MB/s)",
        secs(one.best),
        mbps(code_len, one.best),
        secs(one.median),
        mbps(code_len, one.median),
        code_len as f64 / one_internal / 1e6
    );

    // ---- 2. objdump on the same bytes --------------------------------------------------
    let has_code_section = objdump_has_code_section(&big_path);
    let (form, objdump_args): (String, Vec<String>) = if has_code_section {
        (
            format!("objdump -d --no-show-raw-insn {}", big_path.display()),
            vec!["-d".into(), "--no-show-raw-insn".into(), big_path.display().to_string()],
        )
    } else {
        (
            format!(
                "objdump -D -b binary -m i386:x86-64 --adjust-vma={code_start:#x} \
                 --no-show-raw-insn {}",
                raw_path.display()
            ),
            vec![
                "-D".into(),
                "-b".into(),
                "binary".into(),
                "-m".into(),
                "i386:x86-64".into(),
                format!("--adjust-vma={code_start:#x}"),
                "--no-show-raw-insn".into(),
                raw_path.display().to_string(),
            ],
        )
    };
    println!(
        "\n[2] objdump: `objdump -h` on the nexe shows {} section with CODE; using\n      {form} > /dev/null",
        if has_code_section { "a" } else { "no" }
    );
    let objdump = match objdump_version() {
        Some(v) => {
            println!("  {v}");
            let r = time_runs(RUNS, || run_objdump(&objdump_args));
            println!(
                "  objdump: best {:.3}s = {:.1} MB/s, median {:.3}s = {:.1} MB/s",
                secs(r.best),
                mbps(code_len, r.best),
                secs(r.median),
                mbps(code_len, r.median)
            );
            Some(r)
        }
        None => {
            println!("  objdump not found: skipped");
            None
        }
    };

    // ---- 3. corpus --------------------------------------------------------------------
    let corpus = tmp.join("corpus");
    let t = Instant::now();
    let (generated, corpus_bytes) = ensure_corpus(&tmp, &corpus);
    println!(
        "\n[3] corpus: {} ({} files, {:.1} MB of code; {} in {:.1}s)",
        corpus.display(),
        CORPUS_FILES,
        corpus_bytes as f64 / 1e6,
        if generated { "generated" } else { "reused" },
        t.elapsed().as_secs_f64()
    );
    let corpus_args = |j: usize, out: &Path| -> Vec<String> {
        vec![
            "-j".into(),
            j.to_string(),
            "--quiet".into(),
            "--format".into(),
            "json".into(),
            "-o".into(),
            out.display().to_string(),
            corpus.display().to_string(),
        ]
    };
    let json1 = tmp.join("report-j1.json");
    let json2 = tmp.join("report-j2.json");
    let (a1, a2) = (corpus_args(1, &json1), corpus_args(2, &json2));
    run_bin(&bin, &a2); // warm-up: every file into the page cache
    check_report(&json2, corpus_bytes);
    let mut s1 = Vec::new();
    let mut s2 = Vec::new();
    for _ in 0..RUNS {
        // Interleaved, so drift in machine load hits both alike.
        let mut s = measure(|| run_bin(&bin, &a1));
        s.reported = report_seconds(&json1);
        s1.push(s);
        let mut s = measure(|| run_bin(&bin, &a2));
        s.reported = report_seconds(&json2);
        s2.push(s);
    }
    let (m1, m2) = (median_sample(&mut s1), median_sample(&mut s2));
    let n = CORPUS_FILES as f64;
    for (j, m, all) in [(1, &m1, &s1), (2, &m2, &s2)] {
        println!(
            "  zvverify -j {j}: median wall {:.3}s = {:.1} MB/s, {:.0} files/s (runs {}); \
             verification alone {:.3}s = {:.1} MB/s",
            secs(m.wall),
            mbps(corpus_bytes, m.wall),
            n / secs(m.wall),
            all.iter().map(|s| format!("{:.3}s", secs(s.wall))).collect::<Vec<_>>().join(" "),
            m.reported,
            corpus_bytes as f64 / m.reported / 1e6
        );
        println!(
            "      cores used by zvverify {:.2} (CPU {:.2}s over {:.2}s wall); other processes \
             kept {:.2} of {} cores busy",
            m.cores(),
            m.child_cpu,
            secs(m.wall),
            m.others(),
            cpus()
        );
    }
    let speedup = secs(m1.wall) / secs(m2.wall);
    let speedup_internal = m1.reported / m2.reported;
    // `median_sample` sorted the runs by wall time, so index 0 is the best run.
    let speedup_best = secs(s1[0].wall) / secs(s2[0].wall);
    println!(
        "  speedup -j2/-j1: {speedup:.2}x wall-clock (medians; {speedup_best:.2}x best of \
         {RUNS}), {speedup_internal:.2}x verification alone; per-process overhead \
         (wall - verification): -j1 {:.0} ms, -j2 {:.0} ms",
        (secs(m1.wall) - m1.reported) * 1e3,
        (secs(m2.wall) - m2.reported) * 1e3
    );

    // In-process ceiling: the same files preloaded in memory and verified with
    // `zvverify::verify_bytes` by 1 and 2 plain threads (no process, walk, I/O or rayon).
    let files: Vec<Vec<u8>> =
        (0..CORPUS_FILES).map(|i| fs::read(corpus.join(corpus_name(i))).expect("read corpus file")).collect();
    let mut p1: Vec<Sample> = (0..RUNS).map(|_| measure(|| verify_in_threads(&files, 1))).collect();
    let mut p2: Vec<Sample> = (0..RUNS).map(|_| measure(|| verify_in_threads(&files, 2))).collect();
    let (q1, q2) = (median_sample(&mut p1), median_sample(&mut p2));
    println!(
        "  in-process, files preloaded, verify_bytes: 1 thread {:.1} MB/s (cores used {:.2}, others \
         busy {:.2}); 2 threads {:.1} MB/s (cores used {:.2}, others busy {:.2}); speedup {:.2}x",
        mbps(corpus_bytes, q1.wall),
        q1.own_cores(),
        q1.others(),
        mbps(corpus_bytes, q2.wall),
        q2.own_cores(),
        q2.others(),
        secs(q1.wall) / secs(q2.wall)
    );

    // ---- table ------------------------------------------------------------------------
    let single = mbps(code_len, inproc.best);
    let bin_one = mbps(code_len, one.median);
    println!("\nload average at end: {}", loadavg());
    println!("\nsummary (MB = 10^6 bytes of code; binary rows are process wall-clock, median of {RUNS})");
    println!(
        "  single-thread verify (in-process)   {:>7.1} MB/s   (best of {RUNS}; median {:.1} MB/s)",
        single,
        mbps(code_len, inproc.median)
    );
    println!("  zvverify -j1 one 64 MiB file        {bin_one:>7.1} MB/s");
    match &objdump {
        Some(r) => println!(
            "  {:<35} {:>7.1} MB/s   ratio zvverify/objdump {:.2}x",
            if has_code_section { "objdump -d same bytes" } else { "objdump -D -b binary same bytes" },
            mbps(code_len, r.median),
            bin_one / mbps(code_len, r.median)
        ),
        None => println!("  objdump                             (not available)"),
    }
    println!(
        "  corpus {CORPUS_FILES} files -j1               {:>7.1} MB/s  {:>5.0} files/s",
        mbps(corpus_bytes, m1.wall),
        n / secs(m1.wall)
    );
    println!(
        "  corpus {CORPUS_FILES} files -j2               {:>7.1} MB/s  {:>5.0} files/s   \
         speedup {speedup:.2}x (target >= 1.7x)",
        mbps(corpus_bytes, m2.wall),
        n / secs(m2.wall)
    );
    println!("  target single-thread >= 100 MB/s    {}", if single >= 100.0 { "met" } else { "NOT met" });
    let contended: Vec<String> = [("-j1", &s1), ("-j2", &s2)]
        .iter()
        .flat_map(|(name, runs)| {
            runs.iter()
                .filter(|r| r.others() > 0.3)
                .map(move |r| format!("{name} {:.3}s ({:.2} cores busy elsewhere)", secs(r.wall), r.others()))
        })
        .collect();
    if !contended.is_empty() {
        println!(
            "  note: other processes competed for the {} cores during corpus runs: {}; \
             the corpus rows and the speedup are skewed by that (best-of-{RUNS} speedup \
             {speedup_best:.2}x)",
            cpus(),
            contended.join(", ")
        );
    }
}

/// Verifies every preloaded file with `threads` threads pulling from a shared index.
fn verify_in_threads(files: &[Vec<u8>], threads: usize) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let r = zvverify::verify_bytes(String::new(), f, 1000, 1);
                assert_eq!(r.verdict, zvverify::Verdict::Pass);
            });
        }
    });
}

/// One measured run with the CPU it took and what the rest of the machine did.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    /// CPU seconds of reaped child processes (the zvverify binary).
    child_cpu: f64,
    /// CPU seconds of this process (in-process measurements).
    self_cpu: f64,
    /// Busy CPU seconds of the whole machine.
    machine_busy: f64,
    /// Verification seconds reported by the binary, when there is one.
    reported: f64,
}

impl Sample {
    /// Cores the child kept busy on average.
    fn cores(&self) -> f64 {
        self.child_cpu / secs(self.wall)
    }
    /// Cores this process kept busy on average.
    fn own_cores(&self) -> f64 {
        self.self_cpu / secs(self.wall)
    }
    /// Cores other processes kept busy on average.
    fn others(&self) -> f64 {
        ((self.machine_busy - self.child_cpu - self.self_cpu) / secs(self.wall)).max(0.0)
    }
}

fn measure(f: impl FnOnce()) -> Sample {
    let (own0, child0, busy0) = cpu_snapshot();
    let wall = time_once(f);
    let (own1, child1, busy1) = cpu_snapshot();
    Sample { wall, child_cpu: child1 - child0, self_cpu: own1 - own0, machine_busy: busy1 - busy0, reported: 0.0 }
}

fn median_sample(v: &mut [Sample]) -> Sample {
    v.sort_by_key(|s| s.wall);
    v[v.len() / 2]
}

/// (own CPU s, reaped children's CPU s, machine busy CPU s) from /proc (0 elsewhere).
/// Clock ticks are taken as 100 Hz (USER_HZ on Linux).
fn cpu_snapshot() -> (f64, f64, f64) {
    const HZ: f64 = 100.0;
    let (mut own, mut child, mut busy) = (0.0, 0.0, 0.0);
    if let Ok(s) = fs::read_to_string("/proc/self/stat") {
        if let Some((_, rest)) = s.rsplit_once(')') {
            // Fields from 3 (state): utime 14, stime 15, cutime 16, cstime 17.
            let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
            if f.len() > 14 {
                own = (f[11] + f[12]) / HZ;
                child = (f[13] + f[14]) / HZ;
            }
        }
    }
    if let Ok(s) = fs::read_to_string("/proc/stat") {
        if let Some(line) = s.lines().next() {
            // cpu user nice system idle iowait irq softirq steal ...
            let f: Vec<f64> = line.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0.0)).collect();
            if f.len() >= 8 {
                busy = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / HZ;
            }
        }
    }
    (own, child, busy)
}

/// Best and median of several timed runs.
struct Timing {
    best: Duration,
    median: Duration,
}

fn time_once(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn time_runs(n: usize, mut f: impl FnMut()) -> Timing {
    let mut v: Vec<Duration> = (0..n).map(|_| time_once(&mut f)).collect();
    let median = median(&mut v);
    Timing { best: v[0], median }
}

/// Sorts `v` and returns its median (the upper middle for even lengths).
fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().expect("zvverify lives in the workspace root").to_path_buf()
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Builds the release binary (cargo bench builds only the bench profile) and returns it.
fn build_release_binary(root: &Path, target: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "zvverify", "--bin", "zvverify"])
        .current_dir(root)
        .status()
        .expect("run cargo build --release -p zvverify");
    assert!(status.success(), "cargo build --release -p zvverify failed");
    let bin = target.join("release").join("zvverify");
    assert!(bin.is_file(), "{} missing after build", bin.display());
    bin
}

/// Runs the binary; every generated file verifies, so anything but exit 0 is a bug.
fn run_bin(bin: &Path, args: &[String]) {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run zvverify");
    assert!(
        out.status.success(),
        "zvverify {args:?} exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The verification seconds the binary measured itself (excludes start-up, walk, output).
fn report_seconds(json: &Path) -> f64 {
    let r: zvverify::Report = serde_json::from_str(&fs::read_to_string(json).expect("read report")).expect("parse");
    r.throughput.seconds
}

/// Checks that the binary verified every corpus file and all the code bytes.
fn check_report(json: &Path, code_bytes: usize) {
    let r: zvverify::Report = serde_json::from_str(&fs::read_to_string(json).expect("read report")).expect("parse");
    assert_eq!(r.totals.files as u64, CORPUS_FILES, "files verified");
    assert_eq!(r.totals.passed as u64, CORPUS_FILES, "files passed");
    assert_eq!(r.totals.code_bytes, code_bytes as u64, "code bytes verified");
}

fn objdump_version() -> Option<String> {
    let out = Command::new("objdump").arg("--version").output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_string)
}

/// Whether `objdump -h` lists a section flagged CODE (what `objdump -d` disassembles).
fn objdump_has_code_section(nexe: &Path) -> bool {
    let Ok(out) = Command::new("objdump").arg("-h").arg(nexe).output() else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout).contains("CODE")
}

fn run_objdump(args: &[String]) {
    let status = Command::new("objdump")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run objdump");
    assert!(status.success(), "objdump {args:?} failed: {status}");
}

/// Code size of corpus file `i`: deterministic, uniform in [16 KiB, 256 KiB].
fn corpus_size(i: u64) -> usize {
    let mut rng = Rng::new(0xc0de_5123 ^ i);
    CORPUS_MIN + rng.below((CORPUS_MAX - CORPUS_MIN + 1) as u64) as usize
}

fn corpus_name(i: u64) -> String {
    format!("n{i:04}.nexe")
}

/// Makes sure the corpus exists with the right files; returns (generated now, code bytes).
fn ensure_corpus(tmp: &Path, dir: &Path) -> (bool, usize) {
    let stamp = tmp.join("corpus.stamp");
    let fresh = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == CORPUS_STAMP)
        && fs::read_dir(dir).is_ok_and(|rd| rd.count() as u64 == CORPUS_FILES)
        && (0..CORPUS_FILES).all(|i| dir.join(corpus_name(i)).is_file());
    let code_bytes = |i: u64| corpus_size(i).next_multiple_of(32);
    let total: usize = (0..CORPUS_FILES).map(code_bytes).sum();
    if fresh {
        return (false, total);
    }
    let _ = fs::remove_file(&stamp);
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).expect("create corpus dir");
    let threads = cpus() as u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in (t..CORPUS_FILES).step_by(threads as usize) {
                    let nexe = zvcore::testgen::valid_nexe(i, corpus_size(i));
                    fs::write(dir.join(corpus_name(i)), nexe).expect("write corpus file");
                }
            });
        }
    });
    fs::write(&stamp, CORPUS_STAMP).expect("write corpus stamp");
    (true, total)
}
