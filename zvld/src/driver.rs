//! The logic of `zvcc`, the gcc-compatible compiler driver (TOOLCHAIN.md section 1).
//!
//! `zvcc` runs the system gcc with zv's code-generation flags and the musl + zrt sysroot
//! for every compile, and links with zvld (in-process) instead of ld. It takes gcc's
//! arguments: with `-c`, `-S` or `-E` it only compiles; otherwise sources are compiled
//! to temporary objects and everything is linked, in command-line order, between the
//! sysroot's crt objects and `libzrt.a libc.a libgcc.a`. In link mode it reads `@FILE`
//! response files, sources from standard input (`-x LANG -`), `-x` per source, names
//! one-step `-MD`/`-MMD` dependency files as gcc does, and answers `-v` alone, `-###` and
//! `-dumpmachine` (`x86_64-linux-musl`) itself. `-l` searches the `-L` directories, the
//! sysroot's `lib/`, those of `LIBRARY_PATH`, then the linker's `-Wl,-L` ones, as gcc
//! orders them. Sanitizers other
//! than UndefinedBehaviorSanitizer made to trap are refused (a nexe has no sanitizer
//! runtime). zvcc's own output to a reader that has gone is dropped, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ldopts::{LdArgs, LdOptionError};
use crate::link::{Config, InputArg};

/// The code-generation flags every object in a nexe is compiled with. scripts/build-sysroot
/// builds musl and zrt with the same list.
///
/// Beyond TOOLCHAIN.md's list: [`NOT_IN_FORM_1`] (after the others), and `-fno-lto`,
/// since zvld reads machine code, not GCC's LTO bytecode.
pub const ZV_CFLAGS: &[&str] =
    &["-fno-pic", "-fno-pie", "-ffixed-r11", "-mno-tls-direct-seg-refs", "-fcf-protection=none", "-fno-lto"];

/// The instruction-set extensions gcc (11 and later) knows that FORM.md's C3 does not
/// allow, turned off after the build's own flags, so that `-march=native` (or
/// `-march=alderlake`, `-march=bdver2`, ...) gives code that verifies while keeping what
/// form 1 allows (AVX2, FMA, BMI2, ...): gcc vectorizes dot products with AVX-VNNI
/// (`vpdpwssd`) and AVX-512, and loops with XOP and FMA4; the others are reached only
/// through intrinsics, whose feature macros (`__RDRND__`, `__VAES__`, ...) are then
/// undefined, so portable code takes its fallback. Not listed: `-mno-xsave` (it turns
/// AVX off too; gcc emits xsave only for its intrinsics) and `-mno-hle` (gcc emits HLE
/// prefixes for `__ATOMIC_HLE_*` whatever it says).
pub const NOT_IN_FORM_1: &[&str] = &[
    "-mno-avx512f",
    "-mno-avxvnni",
    "-mno-xop",
    "-mno-fma4",
    "-mno-tbm",
    "-mno-sse4a",
    "-mno-lwp",
    "-mno-gfni",
    "-mno-vaes",
    "-mno-vpclmulqdq",
    "-mno-rtm",
    "-mno-tsxldtrk",
    "-mno-rdrnd",
    "-mno-rdseed",
    "-mno-rdpid",
    "-mno-clflushopt",
    "-mno-clwb",
    "-mno-cldemote",
    "-mno-movdiri",
    "-mno-movdir64b",
    "-mno-serialize",
    "-mno-waitpkg",
    "-mno-enqcmd",
    "-mno-uintr",
    "-mno-hreset",
    "-mno-kl",
    "-mno-widekl",
    "-mno-amx-tile",
    "-mno-amx-int8",
    "-mno-amx-bf16",
    "-mno-pku",
    "-mno-ptwrite",
    "-mno-sgx",
    "-mno-pconfig",
    "-mno-wbnoinvd",
    "-mno-shstk",
    "-mno-prefetchwt1",
    "-mno-mwaitx",
    "-mno-clzero",
];

/// Errors of the driver.
#[derive(Debug)]
pub enum DriverError {
    /// No sysroot found.
    NoSysroot(PathBuf),
    /// A subprocess failed (its status is passed on).
    Tool(String, i32),
    /// A usage error.
    Usage(String),
    /// The link failed.
    Link(crate::LinkError),
    /// I/O.
    Io(String),
    /// SIGINT, SIGTERM or SIGHUP arrived: the child was stopped and the temporary files
    /// are removed on the way out; zvcc then ends by the same signal.
    Interrupted(i32),
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::NoSysroot(p) => write!(
                f,
                "no zv sysroot at {} (musl + zrt); run scripts/build-sysroot, or set ZV_SYSROOT to a sysroot it built",
                p.display()
            ),
            DriverError::Tool(what, code) => write!(f, "{what} failed (status {code})"),
            DriverError::Usage(s) => write!(f, "{s}"),
            DriverError::Link(e) => write!(f, "{e}"),
            DriverError::Io(s) => write!(f, "{s}"),
            DriverError::Interrupted(sig) => write!(f, "interrupted by signal {sig}"),
        }
    }
}

impl std::error::Error for DriverError {}

impl From<LdOptionError> for DriverError {
    fn from(e: LdOptionError) -> Self {
        DriverError::Usage(e.0)
    }
}

/// Finds the sysroot: `$ZV_SYSROOT`, else `target/zv-sysroot` next to the build
/// directory of this executable, else the one in the source tree it was built from.
pub fn sysroot() -> Result<PathBuf, DriverError> {
    if let Some(s) = std::env::var_os("ZV_SYSROOT") {
        let p = PathBuf::from(s);
        return if p.join("lib/libc.a").is_file() { Ok(p) } else { Err(DriverError::NoSysroot(p)) };
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/zvcc or target/<profile>/deps/...
        for anc in exe.ancestors().skip(1).take(3) {
            candidates.push(anc.join("zv-sysroot"));
        }
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/zv-sysroot");
    candidates.push(built_from.clone());
    for c in candidates {
        if c.join("lib/libc.a").is_file() {
            return Ok(c);
        }
    }
    Err(DriverError::NoSysroot(built_from))
}

pub use zvcore::output::message;

/// Writes zvcc's own answer (`-dumpmachine`, a sysroot query) to standard output
/// ([`zvcore::output::to_stdout`]: a reader that has gone is not an error).
pub fn print_stdout(text: &str) -> Result<(), DriverError> {
    zvcore::output::to_stdout(text).map_err(|e| DriverError::Io(format!("cannot write to standard output: {e}")))
}

/// The directories of the `LIBRARY_PATH` environment variable, which gcc searches for `-l`
/// after the `-L` directories and its own (for zvcc, the sysroot's `lib/`), and lists in
/// `-print-search-dirs`: colon-separated, an empty element (or an empty value) meaning the
/// current directory, as gcc reads it.
fn library_path() -> Vec<PathBuf> {
    let Some(v) = std::env::var_os("LIBRARY_PATH") else { return Vec::new() };
    std::env::split_paths(&v).map(|d| if d.as_os_str().is_empty() { PathBuf::from(".") } else { d }).collect()
}

fn gcc() -> String {
    std::env::var("ZVCC_GCC").unwrap_or_else(|_| "gcc".to_string())
}

fn gcc_output(args: &[&str]) -> Option<String> {
    let o = Command::new(gcc()).args(args).output().ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The record scripts/build-sysroot keeps in the sysroot of the system gcc's answers to
/// the path queries zvcc makes on every compile and link (`gcc=` the gcc it asked, then
/// `QUERY=ANSWER` lines), so that zvcc does not start gcc once more each time only to ask.
const GCC_PATHS: &str = "gcc-paths";

/// gcc's answer to a path query (`-print-libgcc-file-name`, `-print-file-name=include`):
/// the sysroot's record of it when zvcc runs the very gcc the record names (no
/// `ZVCC_GCC`, and `gcc` on `PATH` resolves to the same file) and the path it gives
/// exists, else gcc's own answer.
fn gcc_path(sysroot: &Path, query: &str) -> Option<String> {
    recorded_gcc_path(sysroot, query).or_else(|| gcc_output(&[query]))
}

fn recorded_gcc_path(sysroot: &Path, query: &str) -> Option<String> {
    if std::env::var_os("ZVCC_GCC").is_some() {
        return None;
    }
    let record = std::fs::read_to_string(sysroot.join(GCC_PATHS)).ok()?;
    let mut lines = record.lines();
    let recorded_gcc = lines.next()?.strip_prefix("gcc=")?;
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("gcc")).find(|g| g.is_file()))
        .and_then(|g| std::fs::canonicalize(g).ok())?;
    if on_path != Path::new(recorded_gcc) {
        return None;
    }
    let answer = lines.find_map(|l| l.strip_prefix(query)?.strip_prefix('='))?;
    Path::new(answer).exists().then(|| answer.to_string())
}

/// The arguments zvcc adds to every gcc compile.
pub fn compile_flags(sysroot: &Path) -> Vec<String> {
    let mut v: Vec<String> = vec!["-nostdinc".into(), "-isystem".into(), sysroot.join("include").display().to_string()];
    if let Some(inc) = gcc_path(sysroot, "-print-file-name=include") {
        v.push("-isystem".into());
        v.push(inc);
    }
    v.extend(ZV_CFLAGS.iter().chain(NOT_IN_FORM_1).map(|s| s.to_string()));
    // zvld reads uncompressed debug sections only: a build's `-gz` is undone, as
    // `-fPIC` is by the flags above.
    v.push("-gz=none".into());
    v
}

/// A header gcc compiles to a precompiled header (`.gch`), never linked.
fn is_header(path: &str, lang: Option<&str>) -> bool {
    match lang {
        Some(l) => l.ends_with("-header"),
        None => [".h", ".hh", ".H", ".hp", ".hxx", ".hpp", ".HPP", ".h++", ".tcc"].iter().any(|e| path.ends_with(e)),
    }
}

fn is_source(a: &str) -> bool {
    [".c", ".s", ".S", ".sx", ".i", ".cc", ".cpp", ".cxx", ".c++", ".cp", ".CPP", ".C", ".ii"]
        .iter()
        .any(|e| a.ends_with(e))
}

/// The target triple zvcc reports for `-dumpmachine`: x86-64 code over musl (not the
/// host's `x86_64-linux-gnu`, whose multiarch directories hold glibc's files).
pub const DUMPMACHINE: &str = "x86_64-linux-musl";

/// gcc's `-print-*` queries in one spelling: `--print-X` (Meson's) is `-print-X`, and
/// `--print-file-name NAME` / `--print-prog-name NAME` are `-print-...=NAME`.
fn normalize_queries(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.strip_prefix("--print-") {
            Some(q @ ("file-name" | "prog-name")) => {
                out.push(format!("-print-{q}={}", it.next().map_or("", |s| s.as_str())))
            }
            Some(q) => out.push(format!("-print-{q}")),
            None => out.push(a.clone()),
        }
    }
    out
}

/// zvcc's own answer (with its newline) to the query gcc would answer first (gcc's order:
/// `-print-search-dirs`, `-print-file-name=`, `-print-prog-name=`, `-print-multi-lib`,
/// `-print-multi-directory`, `-print-sysroot`, `-print-multi-os-directory`,
/// `-print-multiarch`), or None for gcc's answer:
/// - `-print-search-dirs`: gcc's, with `libraries:` the directories `-l` searches after
///   the `-L` ones, the sysroot's `lib/` then `LIBRARY_PATH`'s (Meson's and libtool's
///   library searches read this line, and the host's multiarch directories hold glibc's
///   builds, which a nexe never links);
/// - `-print-file-name=NAME`: the sysroot's file, else gcc's own answer from its own
///   directory (`libgcc.a`, `crtbegin.o`) or a `LIBRARY_PATH` directory, else NAME alone
///   (gcc's "not found") for what only the host's multiarch directories hold;
/// - `-print-multi-lib`: `.;` alone (zvcc refuses the other multilibs, -m32 and -mx32);
/// - `-print-sysroot`: the sysroot; `-print-multiarch`: empty, as for a gcc built for musl
///   (`x86_64-linux-gnu` would send build systems to glibc's directories).
fn sysroot_query(queries: &[String], root: &Path) -> Option<String> {
    let first = |p: &str| queries.iter().find(|a| a.starts_with(p)).map(String::as_str);
    if first("-print-search-dirs").is_some() {
        let dirs = gcc_output(&["-print-search-dirs"])?;
        // gcc writes each directory with a trailing slash.
        let dirs_of_l: Vec<String> = std::iter::once(root.join("lib"))
            .chain(library_path())
            .map(|d| format!("{}/", d.display().to_string().trim_end_matches('/')))
            .collect();
        let libs = format!("libraries: ={}", dirs_of_l.join(":"));
        let lines: Vec<&str> =
            dirs.lines().map(|l| if l.starts_with("libraries:") { libs.as_str() } else { l }).collect();
        return Some(format!("{}\n", lines.join("\n")));
    }
    if let Some(name) = first("-print-file-name=").and_then(|q| q.strip_prefix("-print-file-name=")) {
        let p = root.join("lib").join(name);
        if !name.is_empty() && !name.contains('/') && p.exists() {
            return Some(format!("{}\n", p.display()));
        }
        // gcc would find other libraries in the host's multiarch directories (glibc's
        // builds, which a nexe never links): only gcc's own directory and LIBRARY_PATH's
        // count, and otherwise the name comes back alone, gcc's "not found".
        let found = gcc_output(&[&format!("-print-file-name={name}")])?;
        let own = gcc_output(&["-print-libgcc-file-name"]).and_then(|l| Path::new(&l).parent().map(Path::to_path_buf));
        let found_in = Path::new(&found).parent();
        let searched = own.is_some_and(|d| found_in == Some(d.as_path()))
            || library_path().iter().any(|d| found_in == Some(d.as_path()));
        return Some(format!("{}\n", if searched || !Path::new(&found).is_absolute() { found.as_str() } else { name }));
    }
    let has = |q: &str| queries.iter().any(|a| a == q);
    // (`-print-libgcc-file-name` is gcc's file-name query.)
    if has("-print-libgcc-file-name") || first("-print-prog-name=").is_some() {
        return None;
    }
    // One multilib, the default (gcc's `.;`): zvcc refuses -m32 and -mx32, whose libraries
    // gcc would list (audit finding).
    if has("-print-multi-lib") {
        return Some(".;\n".to_string());
    }
    if has("-print-multi-directory") {
        return None;
    }
    if has("-print-sysroot") {
        return Some(format!("{}\n", root.display()));
    }
    if has("-print-multiarch") && !has("-print-multi-os-directory") {
        return Some("\n".to_string());
    }
    None
}

/// gcc on the command line as given (gcc reads the response files itself) with zvcc's
/// code-generation flags: compile-only runs, and headers made into PCHs.
fn gcc_with_flags(original: &[String], verbose: bool) -> Result<i32, DriverError> {
    let root = sysroot()?;
    let mut cmd = Command::new(gcc());
    cmd.args(original).args(compile_flags(&root));
    if verbose {
        message(format_args!("zvcc: {cmd:?}"));
    }
    gcc_status(&mut cmd)
}

/// Runs a gcc command to its end; its exit status (1 when killed by a signal).
fn gcc_status(cmd: &mut Command) -> Result<i32, DriverError> {
    use crate::sys::interrupt;
    let mut child =
        cmd.spawn().map_err(|e| DriverError::Io(format!("cannot run gcc ({}, ZVCC_GCC overrides it): {e}", gcc())))?;
    interrupt::set_child(child.id());
    let st = child.wait();
    interrupt::set_child(0);
    let st = st.map_err(|e| DriverError::Io(format!("cannot run gcc ({}, ZVCC_GCC overrides it): {e}", gcc())))?;
    if let Some(sig) = interrupt::interrupted() {
        return Err(DriverError::Interrupted(sig));
    }
    Ok(st.code().unwrap_or(1))
}

fn run_gcc(args: &[String]) -> Result<i32, DriverError> {
    gcc_status(Command::new(gcc()).args(args))
}

/// A source to compile in link mode: where its object goes among the inputs, its path
/// (`-` is standard input) and the language `-x` gave it.
struct Source {
    slot: usize,
    path: String,
    lang: Option<String>,
}

/// Expands gcc's response files ([`crate::ldopts::expand_response_files`]: gcc and ld
/// read them alike).
pub fn expand_response_files(args: &[String]) -> Result<Vec<String>, DriverError> {
    crate::ldopts::expand_response_files(args).map_err(DriverError::Usage)
}

/// How one of gcc's `--long` option spellings is written in the short form.
#[derive(Clone, Copy)]
enum Long {
    /// The short option, no argument (`--compile` is `-c`).
    Plain(&'static str),
    /// The short option, then its argument as the next word (`--output F` is `-o F`).
    Separate(&'static str),
    /// The short option with its argument joined (`--define-macro X` is `-DX`).
    Joined(&'static str),
    /// An optional argument, given only after `=` (`--optimize=2` is `-O2`).
    Optional(&'static str),
}

/// gcc's long spellings of its options (gcc's driver translates them before it reads
/// anything else), for the link-mode parse: without this `--output F` or `--sysroot D`
/// left their argument behind as an input file.
const GCC_LONG: &[(&str, Long)] = &[
    ("--all-warnings", Long::Plain("-Wall")),
    ("--ansi", Long::Plain("-ansi")),
    ("--assemble", Long::Plain("-S")),
    ("--assert", Long::Separate("-A")),
    ("--comments", Long::Plain("-C")),
    ("--comments-in-macros", Long::Plain("-CC")),
    ("--compile", Long::Plain("-c")),
    ("--debug", Long::Optional("-g")),
    ("--define-macro", Long::Joined("-D")),
    ("--dependencies", Long::Plain("-M")),
    ("--dumpbase", Long::Separate("-dumpbase")),
    ("--dumpdir", Long::Separate("-dumpdir")),
    ("--dump", Long::Joined("-d")),
    ("--extra-warnings", Long::Plain("-W")),
    ("--for-assembler", Long::Joined("-Wa,")),
    ("--for-linker", Long::Separate("-Xlinker")),
    ("--force-link", Long::Separate("-u")),
    ("--imacros", Long::Separate("-imacros")),
    ("--include", Long::Separate("-include")),
    ("--include-barrier", Long::Plain("-I-")),
    ("--include-directory", Long::Joined("-I")),
    ("--include-directory-after", Long::Separate("-idirafter")),
    ("--include-prefix", Long::Separate("-iprefix")),
    ("--include-with-prefix", Long::Separate("-iwithprefix")),
    ("--include-with-prefix-after", Long::Separate("-iwithprefix")),
    ("--include-with-prefix-before", Long::Separate("-iwithprefixbefore")),
    ("--language", Long::Separate("-x")),
    ("--library-directory", Long::Separate("-L")),
    ("--machine", Long::Joined("-m")),
    ("--no-canonical-prefixes", Long::Plain("-no-canonical-prefixes")),
    ("--no-integrated-cpp", Long::Plain("-no-integrated-cpp")),
    ("--no-line-commands", Long::Plain("-P")),
    ("--no-standard-includes", Long::Plain("-nostdinc")),
    ("--no-standard-libraries", Long::Plain("-nostdlib")),
    ("--no-warnings", Long::Plain("-w")),
    ("--optimize", Long::Optional("-O")),
    ("--output", Long::Separate("-o")),
    ("--pass-exit-codes", Long::Plain("-pass-exit-codes")),
    ("--pedantic", Long::Plain("-pedantic")),
    ("--pedantic-errors", Long::Plain("-pedantic-errors")),
    ("--pie", Long::Plain("-pie")),
    ("--pipe", Long::Plain("-pipe")),
    ("--prefix", Long::Separate("-B")),
    ("--preprocess", Long::Plain("-E")),
    ("--print-missing-file-dependencies", Long::Plain("-MG")),
    ("--profile", Long::Plain("-p")),
    ("--save-temps", Long::Plain("-save-temps")),
    ("--shared", Long::Plain("-shared")),
    ("--specs", Long::Joined("-specs=")),
    ("--static", Long::Plain("-static")),
    ("--std", Long::Joined("-std=")),
    ("--symbolic", Long::Plain("-symbolic")),
    ("--sysroot", Long::Joined("--sysroot=")),
    ("--time", Long::Plain("-time")),
    ("--trace-includes", Long::Plain("-H")),
    ("--traditional", Long::Plain("-traditional")),
    ("--traditional-cpp", Long::Plain("-traditional-cpp")),
    ("--trigraphs", Long::Plain("-trigraphs")),
    ("--undefine-macro", Long::Joined("-U")),
    ("--user-dependencies", Long::Plain("-MM")),
    ("--verbose", Long::Plain("-v")),
    ("--write-dependencies", Long::Plain("-MD")),
    ("--write-user-dependencies", Long::Plain("-MMD")),
];

/// gcc options whose argument is the next word, which is never translated (`-Xlinker
/// --verbose` is ld's `--verbose`, not gcc's `-v`).
const SEPARATE_ARG: &[&str] = &[
    "-Xlinker",
    "-Xassembler",
    "-Xpreprocessor",
    "-o",
    "-x",
    "-MF",
    "-MT",
    "-MQ",
    "-include",
    "-imacros",
    "-I",
    "-D",
    "-U",
    "-L",
    "-l",
    "-u",
    "-e",
    "-z",
    "-T",
    "-isystem",
    "-iquote",
    "-idirafter",
    "-iprefix",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-isysroot",
    "-imultilib",
    "-imultiarch",
    "-dumpbase",
    "-dumpbase-ext",
    "-dumpdir",
    "-B",
    "-A",
    "--param",
    "-aux-info",
];

/// gcc's own options spelled with two dashes, kept as they are (the link-mode parse
/// reads `--entry` and `--coverage` itself; `--param` takes the next word).
const DOUBLE_DASH_OWN: &[&str] =
    &["--version", "--target-help", "--param", "--completion", "--no-sysroot-suffix", "--entry", "--coverage"];

/// Rewrites gcc's `--long` option spellings into the short ones, as gcc's driver does:
/// an exact name from [`GCC_LONG`] with its argument after `=` or in the next word,
/// `--warn-X` as `-WX`, `--machine-X` as `-mX`, and any other `--X` as `-fX` (gcc's
/// last rule: `--fast-math` is `-ffast-math`). The `--print-*` queries, `--help`, gcc's
/// own double-dash options and the argument of an option that takes the next word stay
/// as they are. (gcc also takes unambiguous abbreviations of its long names against its
/// whole option table; zvcc does not guess at those.)
fn translate_long_options(args: &[String]) -> Result<Vec<String>, DriverError> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if SEPARATE_ARG.contains(&a.as_str()) {
            out.push(a.clone());
            out.extend(it.next().cloned());
            continue;
        }
        let own = DOUBLE_DASH_OWN.iter().any(|o| a == o || a.strip_prefix(o).is_some_and(|r| r.starts_with('=')));
        let keep = !a.starts_with("--") || a == "--" || a.starts_with("--print-") || a.starts_with("--help") || own;
        if keep {
            out.push(a.clone());
            continue;
        }
        if let Some(rest) = a.strip_prefix("--warn-") {
            out.push(format!("-W{rest}"));
            continue;
        }
        if let Some(rest) = a.strip_prefix("--machine-") {
            out.push(format!("-m{rest}"));
            continue;
        }
        let (name, value) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (a.as_str(), None),
        };
        let Some(&(long, how)) = GCC_LONG.iter().find(|(n, _)| *n == name) else {
            // gcc's last rule: `--X` is `-fX` (`--fast-math`, `--no-builtin`).
            out.push(format!("-f{}", &a[2..]));
            continue;
        };
        let mut arg = |short: &str| -> Result<String, DriverError> {
            match value {
                Some(v) => Ok(v.to_string()),
                None => {
                    it.next().cloned().ok_or_else(|| DriverError::Usage(format!("{long} ({short}) needs an argument")))
                }
            }
        };
        match how {
            Long::Plain(short) if value.is_none() => out.push(short.to_string()),
            Long::Plain(_) => return Err(DriverError::Usage(format!("{a}: {long} takes no argument"))),
            Long::Separate(short) => {
                let v = arg(short)?;
                out.push(short.to_string());
                out.push(v);
            }
            Long::Joined(short) => {
                let v = arg(short)?;
                out.push(format!("{short}{v}"));
            }
            Long::Optional(short) => out.push(format!("{short}{}", value.unwrap_or(""))),
        }
    }
    Ok(out)
}

/// Runs zvcc with `args` (without the program name). Returns the exit status to use.
pub fn run(args: &[String]) -> Result<i32, DriverError> {
    let original = args;
    let expanded = translate_long_options(&expand_response_files(args)?)?;
    let args = &expanded[..];
    let verbose = args.iter().any(|a| a == "-v");
    let dry_run = args.iter().any(|a| a == "-###");
    if args.iter().any(|a| a == "-dumpmachine") {
        print_stdout(&format!("{DUMPMACHINE}\n"))?;
        return Ok(0);
    }
    // Queries that autoconf and build systems make: gcc answers them, whatever else is on
    // the line, and compiles nothing; zvcc answers those that concern the sysroot.
    let queries = normalize_queries(args);
    if args.is_empty()
        || queries
            .iter()
            .any(|a| a == "--version" || a == "-dumpversion" || a == "-dumpfullversion" || a.starts_with("-print-"))
    {
        if let Ok(root) = sysroot() {
            if let Some(answer) = sysroot_query(&queries, &root) {
                print_stdout(&answer)?;
                return Ok(0);
            }
        }
        return run_gcc(original);
    }
    if let Some(a) = args.iter().find(|a| matches!(a.as_str(), "-m32" | "-mx32" | "-m16")) {
        return Err(DriverError::Usage(format!("{a}: a nexe is x86-64 code (zvcc compiles for -m64 only)")));
    }
    // Before anything is compiled, so that a configure check of the flag fails as the
    // build would have (`-fsanitize=undefined` compiled and linked `return 0;`).
    check_sanitizers(args)?;
    // Compiling without linking, and gcc's help (`--help`, `-Q --help=target`: what the
    // options are with zvcc's code-generation flags), are gcc's with those flags.
    let compile_only = args.iter().any(|a| {
        matches!(
            a.as_str(),
            "-c" | "-S" | "-E" | "-M" | "-MM" | "-fsyntax-only" | "--help" | "--target-help" | "-dumpspecs"
        ) || a.starts_with("--help=")
    });
    // gcc ignores -shared when it does not link (build systems pass their link flags to
    // every step); a link with it is refused.
    if compile_only {
        return gcc_with_flags(original, verbose);
    }
    if args.iter().any(|a| a == "-shared") {
        return Err(DriverError::Usage(
            "-shared is not supported: a nexe is a static executable; build the library as a static archive \
             (`ar rcs libNAME.a *.o`) and link it into the program with -lNAME"
                .into(),
        ));
    }
    // Split stacks grow through libgcc's __morestack and its unwinder, which a nexe does
    // not link: the link failed on an undefined `_Unwind_Resume` that named no cause.
    if args.iter().any(|a| a == "-fsplit-stack") {
        return Err(DriverError::Usage(
            "-fsplit-stack is not supported: a guest's stack is one fixed region (RUNTIME.md section 2); build without it"
                .into(),
        ));
    }

    // Link mode: split the arguments.
    let mut compile_args: Vec<String> = Vec::new();
    let mut cfg = Config { output: PathBuf::from("a.out"), ..Default::default() };
    // The driver's own `-L` directories; `cfg.lib_paths` collects the linker's
    // (`-Wl,-L`, `-Xlinker -L`), searched after them and after the sysroot, as gcc orders
    // them on ld's command line (its `-L` options first, its own directories next, the
    // linker options where they stood among the inputs; audit finding: zvcc searched
    // both in command-line order and linked another library of the same name).
    let mut own_lib_paths: Vec<PathBuf> = Vec::new();
    let mut explicit_output = false;
    let mut user_inputs: Vec<InputArg> = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    let (mut nostart, mut nolibs, mut nodefaultlibs) = (false, false, false);
    let mut lang_x: Option<String> = None;
    let mut ld = LdArgs::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let next = |i: &mut usize| -> Result<String, DriverError> {
            *i += 1;
            args.get(*i).cloned().ok_or_else(|| DriverError::Usage(format!("{a} needs an argument")))
        };
        match a.as_str() {
            "-o" => {
                cfg.output = PathBuf::from(next(&mut i)?);
                explicit_output = true;
            }
            "-L" => own_lib_paths.push(PathBuf::from(next(&mut i)?)),
            "-l" => user_inputs.push(InputArg::Lib(next(&mut i)?)),
            "-static" | "-pie" | "-no-pie" | "-rdynamic" | "-s" | "-v" | "-###" => {
                if a == "-s" {
                    cfg.strip_debug = true;
                    cfg.strip_all = true;
                }
            }
            "-nostdlib" => {
                nostart = true;
                nolibs = true;
            }
            "-nostartfiles" => nostart = true,
            "-nodefaultlibs" => nodefaultlibs = true,
            "-r" | "-Ur" => {
                return Err(DriverError::Usage(format!(
                    "{a}: a partial link (an object made of objects) is not supported: zvld writes only nexes; \
                     link the objects into the program, or combine them with `ar rcs libx.a ...`"
                )))
            }
            "-x" => {
                // Applies to the sources after it (each is compiled with its own `-x`).
                let l = next(&mut i)?;
                lang_x = if l == "none" { None } else { Some(l) };
            }
            "-" => {
                // Standard input, as with gcc: only with a language.
                if lang_x.is_none() {
                    return Err(DriverError::Usage("-E or -x required when input is from standard input".into()));
                }
                sources.push(Source { slot: user_inputs.len(), path: a.clone(), lang: lang_x.clone() });
                user_inputs.push(InputArg::Path(PathBuf::new()));
            }
            "-I" | "-D" | "-U" | "-include" | "-isystem" | "-iquote" | "-idirafter" | "-imacros" | "-MF" | "-MT"
            | "-MQ" | "-Xpreprocessor" | "-Xassembler" | "--param" | "-aux-info" | "-iprefix" | "-iwithprefix"
            | "-iwithprefixbefore" | "-isysroot" | "-imultilib" | "-imultiarch" | "-dumpbase" | "-dumpbase-ext"
            | "-dumpdir" | "-B" | "-A" => {
                compile_args.push(a.clone());
                compile_args.push(next(&mut i)?);
            }
            // gcc's linker options with a separate argument: given to zvld as gcc gives
            // them to ld (`-u SYM`, `-e SYM`, `-z KEYWORD`, `-Xlinker ARG`).
            "-u" | "-e" | "--entry" | "-z" => {
                let v = next(&mut i)?;
                ld.arg(a, a, &mut cfg, &mut user_inputs)?;
                ld.arg(&v, &v, &mut cfg, &mut user_inputs)?;
            }
            "-Xlinker" => {
                let v = next(&mut i)?;
                linker_args(&mut ld, &v, &format!("-Xlinker {v}"), &mut cfg, &mut user_inputs)?;
            }
            "-undef" => compile_args.push(a.clone()),
            _ => {
                if let Some(v) = a.strip_prefix("-Wl,") {
                    for part in v.split(',') {
                        linker_args(&mut ld, part, &format!("-Wl,{part}"), &mut cfg, &mut user_inputs)?;
                    }
                } else if a.starts_with("-u") || a.starts_with("-e") || a.starts_with("--entry=") {
                    // `-uSYM`, `-eSYM`, `--entry=SYM`: gcc passes them to ld as they are.
                    ld.arg(a, a, &mut cfg, &mut user_inputs)?;
                } else if a.starts_with("-z") {
                    // `-zKEYWORD`: a linker keyword, meaningless for a static nexe.
                } else if a.starts_with("-T") {
                    return Err(DriverError::Usage(format!(
                        "{a}: zvld does not support linker scripts (the nexe layout is fixed)"
                    )));
                } else if let Some(v) = a.strip_prefix("-L") {
                    own_lib_paths.push(PathBuf::from(v));
                } else if let Some(v) = a.strip_prefix("-l") {
                    user_inputs.push(InputArg::Lib(v.to_string()));
                } else if let Some(v) = a.strip_prefix("-o") {
                    cfg.output = PathBuf::from(v);
                    explicit_output = true;
                } else if let Some(l) = a.strip_prefix("-x") {
                    lang_x = if l == "none" { None } else { Some(l.to_string()) };
                } else if a.starts_with('-') {
                    compile_args.push(a.clone());
                } else if lang_x.is_some() || is_source(a) || is_header(a, None) {
                    sources.push(Source { slot: user_inputs.len(), path: a.clone(), lang: lang_x.clone() });
                    user_inputs.push(InputArg::Path(PathBuf::new()));
                } else {
                    user_inputs.push(InputArg::Path(PathBuf::from(a)));
                }
            }
        }
        i += 1;
    }
    ld.finish()?;
    if cfg.print_version {
        // `-Wl,--version` (how Meson identifies the linker): ld prints its version and
        // links nothing.
        print_stdout(&format!("{}\n", crate::link::version_line()))?;
        return Ok(0);
    }
    // gcc refuses an output that is one of the sources (zvld removes and recreates its
    // output; an object or library among its inputs it refuses itself, in link::link).
    if explicit_output {
        for p in sources.iter().map(|s| PathBuf::from(&s.path)) {
            if crate::link::same_file(&p, &cfg.output) {
                return Err(DriverError::Link(crate::LinkError::Usage(format!(
                    "input file '{}' is the same as output file",
                    p.display()
                ))));
            }
        }
    }
    // Only headers: gcc makes the precompiled header(s), as with -c.
    if !sources.is_empty()
        && sources.len() == user_inputs.len()
        && sources.iter().all(|s| is_header(&s.path, s.lang.as_deref()))
    {
        return gcc_with_flags(original, verbose);
    }
    if user_inputs.is_empty() {
        if verbose {
            // `zvcc -v` alone (autoconf logs it): what gcc -v says, after zvcc's own line.
            message(format_args!(
                "zvcc {} (zv: gcc with zv's code generation flags, linked by zvld; sysroot {})",
                env!("CARGO_PKG_VERSION"),
                sysroot().map_or_else(|e| e.to_string(), |p| p.display().to_string())
            ));
            return run_gcc(&["-v".to_string()]);
        }
        return Err(DriverError::Usage("no input files".into()));
    }
    let root = sysroot()?;
    // (Asking gcc for its include directory only when there is something to compile.)
    let flags = if sources.is_empty() { Vec::new() } else { compile_flags(&root) };
    // Dependency files of a one-step build (`-MD`/`-MMD` without `-c`) are named and
    // targeted as gcc names them: `OUT.d` (OUT without its suffix) with target OUT when
    // `-o OUT` is given, else `a-STEM.d` with target `STEM.o`, not after the temporary
    // objects zvcc compiles into.
    let deps = compile_args.iter().any(|a| a == "-MD" || a == "-MMD");
    let has_mf = compile_args.iter().any(|a| a.starts_with("-MF"));
    let has_mt = compile_args.iter().any(|a| a.starts_with("-MT") || a.starts_with("-MQ"));
    let has_dump = compile_args.iter().any(|a| a.starts_with("-dumpdir") || a.starts_with("-dumpbase"));
    let save_temps = compile_args.iter().any(|a| a == "-save-temps" || a.starts_with("-save-temps="));
    // gcc's link spec adds libgcov for profiling (`%{fprofile-arcs|fprofile-generate*|coverage:-lgcov}`).
    let gcov = compile_args
        .iter()
        .any(|a| a == "--coverage" || a == "-coverage" || a == "-fprofile-arcs" || a.starts_with("-fprofile-generate"));
    // Compile the sources.
    let tmp = TempDir::new()?;
    for (k, src) in sources.iter().enumerate() {
        let stem = if src.path == "-" {
            "stdin".to_string()
        } else {
            Path::new(&src.path).file_stem().map_or("src".into(), |s| s.to_string_lossy().into_owned())
        };
        let header = is_header(&src.path, src.lang.as_deref());
        let dumpdir = if explicit_output { format!("{}-", cfg.output.display()) } else { "a-".to_string() };
        // With -save-temps gcc keeps the object too, named like the other temporaries.
        let keep = save_temps && !has_dump && src.path != "-" && !header;
        let obj = if keep {
            PathBuf::from(format!("{dumpdir}{stem}.o"))
        } else {
            tmp.0.join(format!("{k}-{stem}.{}", if header { "gch" } else { "o" }))
        };
        let mut cmd = Command::new(gcc());
        cmd.args(&compile_args);
        if deps && !has_mt {
            let target = if explicit_output { cfg.output.display().to_string() } else { format!("{stem}.o") };
            cmd.arg("-MT").arg(target);
        }
        if deps && !has_mf {
            let dfile =
                if explicit_output { cfg.output.with_extension("d") } else { PathBuf::from(format!("a-{stem}.d")) };
            cmd.arg("-MF").arg(dfile);
        }
        if let Some(l) = &src.lang {
            cmd.arg("-x").arg(l);
        }
        // Auxiliary outputs (`--coverage`'s .gcno, `-save-temps`, `-gsplit-dwarf`'s .dwo)
        // are named as gcc names them in a one-step build, `OUT-STEM.EXT` beside the
        // output (`a-STEM.EXT` without -o), not after the temporary object.
        if !has_dump && src.path != "-" {
            cmd.arg("-dumpdir").arg(&dumpdir).arg("-dumpbase").arg(&stem);
            if let Some(ext) = Path::new(&src.path).extension() {
                cmd.arg("-dumpbase-ext").arg(format!(".{}", ext.to_string_lossy()));
            }
        }
        cmd.arg("-c").arg(&src.path).arg("-o").arg(&obj).args(&flags);
        if verbose || dry_run {
            message(format_args!("zvcc: {cmd:?}"));
        }
        if src.path != "-" {
            // Messages name the object as `gcc -c` would have named it, not its
            // temporary path.
            cfg.input_names.push((obj.clone(), Path::new(&src.path).with_extension("o").display().to_string()));
        }
        // A header on the link line is compiled (gcc checks it and makes a precompiled
        // header it then drops) and not linked, as with gcc.
        user_inputs[src.slot] = if header { InputArg::Path(PathBuf::new()) } else { InputArg::Path(obj) };
        if dry_run {
            continue; // `-###`: show the commands, run none
        }
        let status = gcc_status(&mut cmd)?;
        if status != 0 {
            return Ok(status);
        }
    }
    user_inputs.retain(|i| !matches!(i, InputArg::Path(p) if p.as_os_str().is_empty()));
    // gcc's own libraries live in gcc's directory, not the sysroot: `-lgcc` and
    // `-lgcc_eh` (common with -nostdlib) name them; the rest of that directory is built
    // for glibc and is not searched.
    for i in user_inputs.iter_mut() {
        if let InputArg::Lib(n) = i {
            if n == "gcc" || n == "gcc_eh" {
                if let Some(p) =
                    gcc_output(&[&format!("-print-file-name=lib{n}.a")]).filter(|p| Path::new(p).is_absolute())
                {
                    *i = InputArg::Path(PathBuf::from(p));
                }
            }
        }
    }
    let lib = root.join("lib");
    let linker_lib_paths = std::mem::replace(&mut cfg.lib_paths, own_lib_paths);
    cfg.lib_paths.push(lib.clone());
    // Then LIBRARY_PATH's directories, after the sysroot's as after gcc's own (a library
    // in both is the sysroot's); like gcc's, only those that exist.
    cfg.lib_paths.extend(library_path().into_iter().filter(|d| d.is_dir()));
    cfg.lib_paths.extend(linker_lib_paths);
    if !nostart {
        cfg.inputs.push(InputArg::Path(lib.join("crt1.o")));
        cfg.inputs.push(InputArg::Path(lib.join("crti.o")));
    }
    cfg.inputs.extend(user_inputs);
    // -nostdlib is -nostartfiles plus -nodefaultlibs.
    let nolibs = nolibs || nodefaultlibs;
    let nostdlib = nolibs && nostart;
    if !nolibs {
        if gcov {
            if let Some(libgcov) = gcc_output(&["-print-file-name=libgcov.a"]) {
                cfg.inputs.push(InputArg::Path(PathBuf::from(libgcov)));
            }
        }
        cfg.inputs.push(InputArg::Path(lib.join("libc.a")));
        if let Some(libgcc) = gcc_path(&root, "-print-libgcc-file-name") {
            cfg.inputs.push(InputArg::Path(PathBuf::from(libgcc)));
        }
    }
    // zrt is the runtime's half inside the guest, like crt1.o: -nodefaultlibs (the C
    // library and libgcc left to the user, `-lc -lgcc`) keeps it; only -nostdlib drops it.
    if !nostdlib {
        cfg.inputs.push(InputArg::Path(lib.join("libzrt.a")));
        cfg.undefined.push("__zv_syscall".into());
        cfg.undefined.push("__zv_tp".into());
        if cfg.emulate_cpuid {
            cfg.undefined.push("__zv_cpuid".into());
            cfg.undefined.push("__zv_xgetbv".into());
        }
    }
    if !nostart {
        // gcc's end files before crtn.o: `crtfastmath.o` (its constructor sets the SSE
        // flush-to-zero and denormals-are-zero modes that -ffast-math code expects) and
        // `crtprecNN.o` (the x87 precision -mpcNN asks for).
        for name in gcc_end_files(&compile_args) {
            match gcc_output(&[&format!("-print-file-name={name}")]).filter(|p| Path::new(p).is_absolute()) {
                Some(p) => cfg.inputs.push(InputArg::Path(PathBuf::from(p))),
                None => {
                    return Err(DriverError::Usage(format!("gcc's {name} was not found (gcc -print-file-name={name})")))
                }
            }
        }
        cfg.inputs.push(InputArg::Path(lib.join("crtn.o")));
    }
    if verbose || dry_run {
        message(format_args!("zvcc: zvld {cfg:?}"));
    }
    if dry_run {
        return Ok(0);
    }
    let stats = crate::link::link(&cfg).map_err(DriverError::Link)?;
    if let Some(sig) = crate::sys::interrupt::interrupted() {
        return Err(DriverError::Interrupted(sig));
    }
    for w in &stats.warnings {
        message(format_args!("zvcc: warning: {w}"));
    }
    Ok(0)
}

/// UndefinedBehaviorSanitizer's checks, each one gcc can make trap (`ud2`: the guest ends
/// with SIGILL) instead of calling libubsan, with `-fsanitize-undefined-trap-on-error`
/// (newer gcc's `-fsanitize-trap[=all]`). The first [`UNDEFINED_GROUP`] are gcc's
/// `-fsanitize=undefined` (without `vptr`, which instruments C++ only); `shift` is
/// `shift-exponent` and `shift-base`.
const UBSAN_CHECKS: &[&str] = &[
    "shift-exponent",
    "shift-base",
    "integer-divide-by-zero",
    "unreachable",
    "vla-bound",
    "null",
    "return",
    "signed-integer-overflow",
    "bool",
    "enum",
    "bounds",
    "alignment",
    "nonnull-attribute",
    "returns-nonnull-attribute",
    "object-size",
    "pointer-overflow",
    "builtin",
    "float-divide-by-zero",
    "float-cast-overflow",
    "bounds-strict",
];

/// How many of [`UBSAN_CHECKS`] `-fsanitize=undefined` turns on.
const UNDEFINED_GROUP: usize = UBSAN_CHECKS.len() - 3;

/// The checks a `-fsanitize=` list element stands for: gcc's groups expanded (`all` is
/// every UBSan check, which is what `-fsanitize-trap=all` can make trap), anything else
/// itself.
fn sanitizer_checks(name: &str) -> Vec<&str> {
    match name {
        "undefined" => UBSAN_CHECKS[..UNDEFINED_GROUP].to_vec(),
        "shift" => UBSAN_CHECKS[..2].to_vec(),
        "all" => UBSAN_CHECKS.to_vec(),
        _ => vec![name],
    }
}

/// What a sanitizer check calls at run time, for the refusal.
fn sanitizer_runtime(check: &str) -> &'static str {
    match check {
        "address" | "kernel-address" | "pointer-compare" | "pointer-subtract" => "AddressSanitizer's runtime (libasan)",
        "hwaddress" | "kernel-hwaddress" => "HWAddressSanitizer's runtime (libhwasan)",
        "thread" => "ThreadSanitizer's runtime (libtsan)",
        "leak" => "LeakSanitizer's runtime (liblsan)",
        c if UBSAN_CHECKS.contains(&c) => "UndefinedBehaviorSanitizer's runtime (libubsan)",
        _ => "a sanitizer runtime",
    }
}

/// Refuses the `-fsanitize=` options whose code would call a sanitizer runtime: a nexe
/// links none, so the link failed on undefined `__asan_*` symbols, or (UBSan on code that
/// has nothing to check, leak) succeeded, and configure checks such as AX_CHECK_LINK_FLAG
/// enabled the option. The options are read in order as gcc reads them (`-fno-sanitize=`
/// turns checks off again, `all` every one); UBSan's checks need no runtime when they trap
/// (`-fsanitize-undefined-trap-on-error`, or newer gcc's `-fsanitize-trap[=LIST]`).
fn check_sanitizers(args: &[String]) -> Result<(), DriverError> {
    // Each check turned on, with the option that did it.
    let mut on: Vec<(&str, &str)> = Vec::new();
    let mut trapped: Vec<&str> = Vec::new();
    for a in args {
        if let Some(list) = a.strip_prefix("-fsanitize=") {
            // (`-fsanitize=all` is not gcc's: refused as it stands.)
            for check in list.split(',').flat_map(|n| if n == "all" { vec![n] } else { sanitizer_checks(n) }) {
                on.retain(|(c, _)| *c != check);
                on.push((check, a));
            }
        } else if let Some(list) = a.strip_prefix("-fno-sanitize=") {
            if list.split(',').any(|n| n == "all") {
                on.clear();
            }
            let off: Vec<&str> = list.split(',').flat_map(sanitizer_checks).collect();
            on.retain(|(c, _)| !off.contains(c));
        } else if a == "-fsanitize-undefined-trap-on-error" || a == "-fsanitize-trap" {
            trapped = UBSAN_CHECKS.to_vec();
        } else if a == "-fno-sanitize-undefined-trap-on-error" || a == "-fno-sanitize-trap" {
            trapped.clear();
        } else if let Some(list) = a.strip_prefix("-fsanitize-trap=") {
            trapped.extend(list.split(',').flat_map(sanitizer_checks));
        } else if let Some(list) = a.strip_prefix("-fno-sanitize-trap=") {
            let off: Vec<&str> = list.split(',').flat_map(sanitizer_checks).collect();
            trapped.retain(|c| !off.contains(c));
        }
    }
    let Some((check, option)) = on.into_iter().find(|(c, _)| !(UBSAN_CHECKS.contains(c) && trapped.contains(c))) else {
        return Ok(());
    };
    let what = sanitizer_runtime(check);
    let trap = if UBSAN_CHECKS.contains(&check) {
        "; or make its checks trap with -fsanitize-undefined-trap-on-error (a failed check then ends the program \
         with SIGILL)"
    } else {
        ""
    };
    Err(DriverError::Usage(format!(
        "{option} needs {what}, which zv does not provide (a nexe links no sanitizer runtime): build without that \
         option{trap}"
    )))
}

/// The files gcc's link spec adds before crtn.o for these compiler options
/// (`%{Ofast|ffast-math|funsafe-math-optimizations:crtfastmath.o} %{mpc32:crtprec32.o}
/// ...`), where a later negative or other level cancels an option, as gcc prunes them:
/// `-Ofast -O2` and `-ffast-math -fno-fast-math` add nothing.
fn gcc_end_files(compile_args: &[String]) -> Vec<&'static str> {
    let (mut ofast, mut fast_math, mut unsafe_math) = (false, false, false);
    let mut pc = [false; 3];
    for a in compile_args {
        match a.as_str() {
            "-ffast-math" => fast_math = true,
            "-fno-fast-math" => fast_math = false,
            "-funsafe-math-optimizations" => unsafe_math = true,
            "-fno-unsafe-math-optimizations" => unsafe_math = false,
            "-mpc32" => pc[0] = true,
            "-mpc64" => pc[1] = true,
            "-mpc80" => pc[2] = true,
            o if o.starts_with("-O") => ofast = o == "-Ofast",
            _ => {}
        }
    }
    let mut files = Vec::new();
    if ofast || fast_math || unsafe_math {
        files.push("crtfastmath.o");
    }
    // Each -mpcNN named adds its file, as gcc's spec has one clause for each.
    for (on, f) in pc.into_iter().zip(["crtprec32.o", "crtprec64.o", "crtprec80.o"]) {
        if on {
            files.push(f);
        }
    }
    files
}

/// One argument given to the linker (`-Wl,` or `-Xlinker`): `@FILE` stands for the
/// arguments in that response file (ld reads them), each handled as the others.
fn linker_args(
    ld: &mut LdArgs,
    arg: &str,
    shown: &str,
    cfg: &mut Config,
    inputs: &mut Vec<InputArg>,
) -> Result<(), DriverError> {
    let words = if arg.starts_with('@') && !ld.waiting() {
        crate::ldopts::expand_response_files(&[arg.to_string()]).map_err(DriverError::Usage)?
    } else {
        vec![arg.to_string()]
    };
    for w in &words {
        let shown = if words.len() == 1 && w == arg { shown.to_string() } else { format!("{w} (from {shown})") };
        linker_option(ld.arg(w, &shown, cfg, inputs)?, &shown)?;
    }
    Ok(())
}

/// An option given to the linker (`-Wl,` or `-Xlinker`) that zvld does not know passes
/// with a warning that names it (a build must not fail on a flag gcc would hand ld only to
/// tune it; zvld itself refuses it as ld does): the warning also explains a following
/// argument read as an input (`-Wl,-dT,x`: "cannot read x", an audit finding).
fn linker_option(t: crate::ldopts::Taken, shown: &str) -> Result<(), DriverError> {
    if t == crate::ldopts::Taken::Unknown {
        message(format_args!("zvcc: warning: {shown}: linker option unknown to zvld, ignored"));
    }
    Ok(())
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    /// In `TMPDIR` (else /tmp); when that cannot be used, in /tmp, as gcc falls back.
    fn new() -> Result<Self, DriverError> {
        let mut bases = vec![std::env::temp_dir()];
        if bases[0] != Path::new("/tmp") {
            bases.push(PathBuf::from("/tmp"));
        }
        let mut tried = Vec::new();
        for base in bases {
            let mut last = None;
            for n in 0..1000u32 {
                let p = base.join(format!("zvcc-{}-{n}", std::process::id()));
                match std::fs::create_dir(&p) {
                    Ok(()) => return Ok(TempDir(p)),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        last = Some(e);
                        break;
                    }
                }
            }
            tried.push(format!("{}: {}", base.display(), last.map_or("every name is taken".into(), |e| e.to_string())));
        }
        Err(DriverError::Io(format!("cannot create a temporary directory ({})", tried.join("; "))))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanitizers(args: &[&str]) -> Result<(), String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        check_sanitizers(&args).map_err(|e| e.to_string())
    }

    /// The sanitizer options are read in order, groups expanded, as gcc reads them, and
    /// the refusal names the option that turned the first runtime-needing check on.
    #[test]
    fn sanitizer_options_are_read_in_order_with_their_groups() {
        assert_eq!(sanitizers(&["-O2", "-fno-sanitize=address"]), Ok(()));
        assert_eq!(sanitizers(&["-fsanitize=undefined", "-fno-sanitize=undefined"]), Ok(()));
        assert_eq!(sanitizers(&["-fsanitize=shift-base", "-fno-sanitize=shift"]), Ok(()));
        assert_eq!(sanitizers(&["-fsanitize=address,leak", "-fno-sanitize=all"]), Ok(()));
        assert_eq!(sanitizers(&["-fsanitize=undefined", "-fsanitize-undefined-trap-on-error"]), Ok(()));
        assert_eq!(sanitizers(&["-fsanitize-trap=all", "-fsanitize=undefined,float-cast-overflow"]), Ok(()));
        let err = sanitizers(&["-fsanitize=shift", "-fno-sanitize=shift-base"]).unwrap_err();
        assert!(err.starts_with("-fsanitize=shift needs UndefinedBehaviorSanitizer's runtime"), "{err}");
        let err = sanitizers(&["-fsanitize=undefined", "-fsanitize-trap=shift"]).unwrap_err();
        assert!(err.starts_with("-fsanitize=undefined needs "), "{err}");
        let err = sanitizers(&["-fsanitize-undefined-trap-on-error", "-fsanitize=undefined,leak"]).unwrap_err();
        assert!(err.starts_with("-fsanitize=undefined,leak needs LeakSanitizer's runtime"), "{err}");
        assert!(!err.contains("trap"), "no trap advice for leak: {err}");
        let err = sanitizers(&["-fsanitize=address", "-fsanitize-undefined-trap-on-error"]).unwrap_err();
        assert!(err.contains("AddressSanitizer's runtime") && err.contains("build without that option"), "{err}");
        assert!(sanitizers(&["-fsanitize=all", "-fsanitize-undefined-trap-on-error"]).is_err(), "not gcc's");
    }
}
