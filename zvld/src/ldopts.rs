//! GNU ld's command line, as both `zvld` and `zvcc` (`-Wl,...`, `-Xlinker`, `-u`, `-e`)
//! read it: one parser, so an option means the same thing in every spelling ld accepts
//! (`-u SYM`, `-uSYM`, `--undefined=SYM`, `--undefined SYM`; `-lm`, `-l m`,
//! `--library=m`; `-Map=F`, `-Map F`, `--Map F`, ...), whichever tool it was given to.
//!
//! Options that change the link are applied; options that zvld does not implement and
//! that would change what is linked are refused; options that only tune a dynamic or
//! incremental link mean nothing for a static nexe and are accepted. What is left is
//! reported as unknown: `zvld` refuses it (as ld does), `zvcc` lets it pass (gcc hands
//! ld options it has never heard of, and a build must not fail on a tuning flag).

use std::path::PathBuf;

use crate::link::{Config, InputArg};

/// The command line of `tool` as text: an argument that is not valid UTF-8 (a file name
/// in another encoding) is a usage error naming it, not a panic. zvld and zvcc read
/// options, symbols and paths as UTF-8 throughout; such a file needs a UTF-8 name (or a
/// symlink with one).
pub fn utf8_args(tool: &str, args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Vec<String>, String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|a| {
                format!(
                    "{tool}: argument {} is not valid UTF-8: {}; {tool} takes UTF-8 options and file names (give the \
                     file a UTF-8 name or a symlink with one)",
                    i + 1,
                    zvcore::display::escape_controls(&a.to_string_lossy())
                )
            })
        })
        .collect()
}

/// GNU ld options that change the result and that zvld does not implement: refused
/// rather than silently ignored. Both spellings count: `--wrap=malloc` and `--wrap malloc`.
fn unsupported(p: &str) -> bool {
    const EXACT: &[&str] = &[
        "--whole-archive",
        "-whole-archive",
        "-r",
        "-i",
        "--relocatable",
        "-shared",
        "-Bshareable",
        "-pie",
        "--pic-executable",
        "-T",
        "--script",
        "-c",
        "--mri-script",
        "-b",
        "--format",
        "--wrap",
        "-wrap",
        "--defsym",
        "-defsym",
        "--section-start",
        "--just-symbols",
        "--allow-multiple-definition",
        "-Ttext",
        "-Tdata",
        "-Tbss",
        "-Ttext-segment",
    ];
    const PREFIX: &[&str] = &[
        "--wrap",
        "-wrap",
        "--defsym",
        "-defsym",
        "--script=",
        "-T",
        "--section-start",
        "--format=",
        "--mri-script=",
        "--just-symbols=",
    ];
    EXACT.contains(&p) || PREFIX.iter().any(|pre| p.starts_with(pre) && p.len() > pre.len())
}

/// GNU ld options without an argument that mean nothing for a static nexe (zvld always
/// links statically, lays out the nexe of RUNTIME.md section 1 and keeps no dynamic
/// sections): accepted and ignored.
const IGNORED: &[&str] = &[
    "--push-state",
    "--pop-state",
    "--no-undefined-version",
    "--undefined-version",
    "--warn-textrel",
    "--print-memory-usage",
    "--print-map-discarded",
    "--no-print-map-discarded",
    "--no-warnings",
    "--emit-relocs",
    "--dynamic-list-data",
    "--dynamic-list-cpp-new",
    "--dynamic-list-cpp-typeinfo",
    "--compress-debug-sections",
    "--traditional-format",
    "--unique",
    "--strip-discarded",
    "--no-strip-discarded",
    "--ctf-variables",
    "--no-ctf-variables",
    "-Bgroup",
    "-Bno-symbolic",
    "--force-group-allocation",
    "--warn-alternate-em",
    "--accept-unknown-input-arch",
    "--no-accept-unknown-input-arch",
    "-Qy",
    "-static",
    "--static",
    "-Bstatic",
    "-Bdynamic",
    "-dn",
    "-non_shared",
    "-no-pie",
    "--no-pie",
    "--gc-sections",
    "--no-gc-sections",
    "--print-gc-sections",
    "--no-print-gc-sections",
    "--as-needed",
    "--no-as-needed",
    "--no-whole-archive",
    "--build-id",
    "-nostdlib",
    "--eh-frame-hdr",
    "--no-eh-frame-hdr",
    "--export-dynamic",
    "--no-export-dynamic",
    "-E",
    "--no-undefined",
    "-x",
    "--discard-all",
    "-X",
    "--discard-locals",
    "--discard-none",
    "--fatal-warnings",
    "--no-fatal-warnings",
    "--warn-common",
    "--warn-once",
    "--warn-constructors",
    "--warn-section-align",
    "--no-warn-mismatch",
    "--no-warn-search-mismatch",
    "--warn-rwx-segments",
    "--no-warn-rwx-segments",
    "--warn-execstack",
    "--no-warn-execstack",
    "--cref",
    "--verbose",
    "-Bsymbolic",
    "-Bsymbolic-functions",
    "--sort-common",
    "--relax",
    "--no-relax",
    "--enable-new-dtags",
    "--disable-new-dtags",
    "--demangle",
    "--no-demangle",
    "-g",
    "-EL",
    "-n",
    "-N",
    "--nmagic",
    "--omagic",
    "--no-omagic",
    "--no-dynamic-linker",
    "--copy-dt-needed-entries",
    "--no-copy-dt-needed-entries",
    "--no-keep-memory",
    "--reduce-memory-overheads",
    "--threads",
    "--no-threads",
    "--no-define-common",
    "--ld-generated-unwind-info",
    "--no-ld-generated-unwind-info",
    "--error-unresolved-symbols",
    "--warn-unresolved-symbols",
    "--no-allow-shlib-undefined",
    "--allow-shlib-undefined",
    "--check-sections",
    "--no-check-sections",
    "--stats",
    "-O0",
    "-O1",
    "-O2",
    "-O3",
];

/// Prefixes of ignored options with a joined value (`-zKEYWORD`, `--hash-style=gnu`).
const IGNORED_PREFIX: &[&str] = &[
    "-z",
    "--hash-style=",
    "--build-id=",
    "--threads=",
    "--sort-section=",
    "--compress-debug-sections=",
    "--dynamic-linker=",
    "--version-script=",
    "--exclude-libs=",
    "--unresolved-symbols=",
    "--orphan-handling=",
    "-soname=",
    "--soname=",
    "-rpath=",
    "--rpath=",
    "-rpath-link=",
    "--rpath-link=",
    "-plugin-opt=",
    "--plugin-opt=",
    "--image-base=",
    "--trace-symbol=",
    "--retain-symbols-file=",
    "--spare-dynamic-tags=",
    "--error-handling-script=",
    "--dynamic-list=",
    "--hash-size=",
    "--max-cache-size=",
    "--sysroot=",
    "--ctf-share-types=",
    "--ignore-unresolved-symbol=",
    "--export-dynamic-symbol=",
    "--export-dynamic-symbol-list=",
    "--package-metadata=",
];

/// GNU ld options that mean nothing for a static nexe and take a separate argument
/// (`-rpath DIR`, `-soname NAME`): the argument is skipped.
const IGNORED_WITH_ARG: &[&str] = &[
    "--ignore-unresolved-symbol",
    "-rpath",
    "--rpath",
    "-rpath-link",
    "--rpath-link",
    "-soname",
    "--soname",
    "-h",
    "-I",
    "--dynamic-linker",
    "--version-script",
    "--dynamic-list",
    "--exclude-libs",
    "-y",
    "--trace-symbol",
    "-Y",
    "--retain-symbols-file",
    "--hash-style",
    "--sort-section",
    "--spare-dynamic-tags",
    "--out-implib",
    "-plugin",
    "--plugin",
    "-plugin-opt",
    "--plugin-opt",
    "--image-base",
    "-A",
    "--architecture",
    "-F",
    "--filter",
    "-f",
    "--auxiliary",
    "-P",
    "--depaudit",
    "--audit",
    "-G",
    "--gpsize",
    "--unresolved-symbols",
    "--orphan-handling",
    "--section-ordering-file",
    "--error-handling-script",
    "-O",
    "-a",
    "--export-dynamic-symbol",
    "--export-dynamic-symbol-list",
    "-assert",
];

/// GNU ld's long options (or their prefixes) that start like a short option with a
/// joined argument (`-e`, `-u`, `-l`) and that ld also accepts after a single dash. Not
/// those that start with `o`: ld reads `-output x` as `-o utput` and the input `x`
/// (checked with GNU ld 2.40; a review found zvld wrote to `x`).
const ONE_DASH_LONG: &[&str] = &[
    "export-dynamic",
    "export-dynamic-symbol",
    "export-dynamic-symbol-list",
    "eh-frame-hdr",
    "embedded-relocs",
    "enable-",
    "emit-relocs",
    "end-group",
    "error-",
    "exclude-",
    "entry",
    "undefined",
    "undefined-version",
    "unique",
    "unresolved-symbols",
    "use-",
    "library",
    "library-path",
    "ld-generated-unwind-info",
    "lto-",
];

/// Whether `l` (`--name` or `--name=VALUE`) is a long option zvld knows: applied,
/// ignored or refused, as [`LdArgs::arg`] reads it (tried on a scratch parser, so that
/// no second list of names has to follow the parser's), or an ignored option that takes
/// a separate argument written with `=`.
fn known_long(l: &str) -> bool {
    let (mut cfg, mut inputs) = (Config::default(), Vec::new());
    let taken = LdArgs::default().arg(l, l, &mut cfg, &mut inputs);
    !matches!(taken, Ok(Taken::Unknown)) || l.split_once('=').is_some_and(|(n, _)| IGNORED_WITH_ARG.contains(&n))
}

/// Whether `q` (a word after one dash) is the ld long option `l`: the name itself or
/// `name=VALUE`, or any option of a family (`enable-...`); `-entry_point` is `-e
/// ntry_point`, as with ld.
fn one_dash_long(q: &str, l: &str) -> bool {
    if l.ends_with('-') {
        return q.starts_with(l);
    }
    q.strip_prefix(l).is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
}

/// What the next linker argument is, after a GNU ld option that takes a separate one.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Output,
    Map,
    DependencyFile,
    Entry,
    Undefined,
    RequireDefined,
    Lib,
    LibPath,
    Emulation,
    /// `-R DIR` is `-rpath DIR` (meaningless here); `-R FILE` is `--just-symbols`.
    RpathOrSymbols,
    /// The argument of an option that means nothing for a static nexe (`-rpath DIR`).
    Skip,
    /// `-z KEYWORD`: meaningless for a static nexe, except the ones [`z_unsupported`] names.
    Z,
    /// `--oformat FORMAT`: a nexe is `elf64-x86-64`.
    Oformat,
}

/// `--oformat FORMAT`: zvld writes nexes, which are ELF64 x86-64 files; any other output
/// format (`binary`, `ihex`) would be a different file, so it is refused, not ignored.
fn check_oformat(v: &str) -> Result<(), LdOptionError> {
    if v == "elf64-x86-64" {
        Ok(())
    } else {
        Err(LdOptionError(format!("--oformat {v}: zvld writes only nexes, whose format is elf64-x86-64")))
    }
}

/// Response files: an argument `@FILE` stands for the arguments written in FILE,
/// separated by white space, with `'...'`, `"..."` and backslash quoting, themselves
/// expanded (to a depth of 16; deeper, as a file that names itself gives, is an error);
/// `@FILE` stays as it is when FILE cannot be read; one that is not UTF-8 is an error.
/// gcc and GNU ld (libiberty's `expandargv`) read them alike, so zvcc, zvld and
/// `-Wl,@FILE` share this.
pub fn expand_response_files(args: &[String]) -> Result<Vec<String>, String> {
    fn split(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let (mut in_word, mut quote) = (false, None::<char>);
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                    in_word = true;
                }
                (q, Some(open)) if q == open => quote = None,
                (c, Some(_)) => cur.push(c),
                ('\'' | '"', None) => {
                    quote = Some(c);
                    in_word = true;
                }
                (c, None) if c.is_whitespace() => {
                    if in_word {
                        out.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                (c, None) => {
                    cur.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            out.push(cur);
        }
        out
    }
    fn expand(args: &[String], depth: u32, out: &mut Vec<String>) -> Result<(), String> {
        for a in args {
            let bytes = a.strip_prefix('@').and_then(|f| std::fs::read(f).ok());
            match bytes {
                Some(_) if depth >= 16 => {
                    return Err(format!(
                        "response file {a}: response files nested more than 16 deep (does one name itself?)"
                    ))
                }
                Some(b) => {
                    let t = String::from_utf8(b).map_err(|_| {
                        format!("response file {a} is not UTF-8 text (zvcc and zvld take UTF-8 options and file names)")
                    })?;
                    expand(&split(&t), depth + 1, out)?
                }
                None => out.push(a.clone()),
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    expand(args, 0, &mut out)?;
    Ok(out)
}

/// Where `-Map FILE` writes: `-` is standard output, as with GNU ld.
fn map_path(v: &str) -> PathBuf {
    PathBuf::from(if v == "-" { "/dev/stdout" } else { v })
}

/// `-z` keywords that change what is linked: `muldefs` is `--allow-multiple-definition`.
fn z_unsupported(keyword: &str) -> Result<(), LdOptionError> {
    if keyword == "muldefs" {
        return Err(LdOptionError(format!(
            "-z {keyword}: zvld does not support this linker option (it would change what is linked: it is \
             --allow-multiple-definition)"
        )));
    }
    Ok(())
}

/// What [`LdArgs::arg`] made of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Applied to the link, or waiting for its separate argument.
    Applied,
    /// A GNU ld option that means nothing for a static nexe.
    Ignored,
    /// Not a GNU ld option zvld knows.
    Unknown,
}

/// A linker argument zvld cannot honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdOptionError(pub String);

impl std::fmt::Display for LdOptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LdOptionError {}

/// Linker arguments as ld receives them. An option and its argument may arrive in
/// separate pieces (`-Wl,-Map -Wl,x.map`), so what the last option still waits for is
/// kept between calls. A library or file named here is an input at this position, as
/// with ld.
#[derive(Default)]
pub struct LdArgs {
    pending: Option<(Pending, String)>,
    /// `--start-group`s not yet ended. zvld searches every archive until nothing more
    /// resolves, so a group changes nothing, but an `--end-group` with no group open is
    /// an error, as GNU ld makes it.
    groups: u32,
}

impl LdArgs {
    fn apply(what: Pending, v: &str, cfg: &mut Config, inputs: &mut Vec<InputArg>) -> Result<(), LdOptionError> {
        match what {
            Pending::Output => cfg.output = PathBuf::from(v),
            Pending::Map => cfg.map = Some(map_path(v)),
            Pending::DependencyFile => cfg.dependency_file = Some(PathBuf::from(v)),
            Pending::Entry => cfg.entry = Some(v.to_string()),
            Pending::Undefined => cfg.undefined.push(v.to_string()),
            Pending::RequireDefined => cfg.require_defined.push(v.to_string()),
            Pending::Lib => inputs.push(InputArg::Lib(v.to_string())),
            Pending::LibPath => cfg.lib_paths.push(PathBuf::from(v)),
            Pending::Emulation => check_emulation(v)?,
            Pending::RpathOrSymbols => {
                if !std::path::Path::new(v).is_dir() {
                    return Err(LdOptionError(format!(
                        "-R {v}: zvld does not support --just-symbols (-R with a file; -R with a directory is -rpath)"
                    )));
                }
            }
            Pending::Skip => {}
            Pending::Z => z_unsupported(v)?,
            Pending::Oformat => check_oformat(v)?,
        }
        Ok(())
    }

    /// One argument for ld (`shown` names where it came from, for messages).
    pub fn arg(
        &mut self,
        p: &str,
        shown: &str,
        cfg: &mut Config,
        inputs: &mut Vec<InputArg>,
    ) -> Result<Taken, LdOptionError> {
        if let Some((what, _)) = self.pending.take() {
            Self::apply(what, p, cfg, inputs)?;
            return Ok(Taken::Applied);
        }
        if !p.starts_with('-') || p == "-" {
            inputs.push(InputArg::Path(PathBuf::from(p)));
            return Ok(Taken::Applied);
        }
        // ld matches its long options written with one dash before short options with a
        // joined argument: `-export-dynamic` is `--export-dynamic`, not `-e xport-dynamic`.
        // So are all of ld's other long options (getopt_long_only; ld's one exception is
        // names that start with `o`): `-dynamic-linker X`, `-version-script=F`,
        // `-start-group` (audit finding: they were unknown, and their value became an
        // input file).
        let long;
        let p = match p.strip_prefix('-') {
            Some(q)
                if !q.starts_with('-')
                    && (ONE_DASH_LONG.iter().any(|l| one_dash_long(q, l))
                        || (q.len() > 1 && !q.starts_with('o') && known_long(&format!("--{q}")))) =>
            {
                long = format!("-{p}");
                long.as_str()
            }
            _ => p,
        };
        let with_arg = match p {
            "-o" | "--output" => Some(Pending::Output),
            "-Map" | "--Map" => Some(Pending::Map),
            "--dependency-file" => Some(Pending::DependencyFile),
            "-e" | "--entry" => Some(Pending::Entry),
            "-u" | "--undefined" => Some(Pending::Undefined),
            "--require-defined" => Some(Pending::RequireDefined),
            "-l" | "--library" => Some(Pending::Lib),
            "-L" | "--library-path" => Some(Pending::LibPath),
            "-m" => Some(Pending::Emulation),
            "-R" => Some(Pending::RpathOrSymbols),
            "-z" => Some(Pending::Z),
            "--oformat" => Some(Pending::Oformat),
            _ if IGNORED_WITH_ARG.contains(&p) => Some(Pending::Skip),
            _ => None,
        };
        if let Some(w) = with_arg {
            self.pending = Some((w, shown.to_string()));
            return Ok(Taken::Applied);
        }
        if let Some(k) = p.strip_prefix("-z").filter(|k| !k.is_empty()) {
            z_unsupported(k)?;
        }
        if unsupported(p) {
            return Err(LdOptionError(format!(
                "{shown}: zvld does not support this linker option (it would change what is linked)"
            )));
        }
        // `--entry=SYM` or `-eSYM`, and so on.
        let joined = |long: &str, short: &str| {
            p.strip_prefix(long).or_else(|| p.strip_prefix(short).filter(|v| !v.is_empty() && !v.starts_with('-')))
        };
        match p {
            "--start-group" | "-(" => self.groups += 1,
            "--end-group" | "-)" => {
                self.groups = self.groups.checked_sub(1).ok_or_else(|| {
                    LdOptionError(format!("{shown}: group ended before it began (no --start-group before it)"))
                })?;
            }
            "--emulate-cpuid" => cfg.emulate_cpuid = true,
            "--version" | "-v" | "-V" => cfg.print_version = true,
            "-s" | "--strip-all" => {
                cfg.strip_debug = true;
                cfg.strip_all = true;
            }
            "-S" | "--strip-debug" => cfg.strip_debug = true,
            // GNU ld's -t names each input file as it reads it.
            "-t" | "--trace" => cfg.trace = true,
            // GNU ld's `-M` prints the map on standard output.
            "-M" | "--print-map" => cfg.map = Some(PathBuf::from("/dev/stdout")),
            _ => {
                if let Some(v) = p.strip_prefix("-Map=").or_else(|| p.strip_prefix("--Map=")) {
                    cfg.map = Some(map_path(v));
                } else if let Some(v) = p.strip_prefix("--dependency-file=") {
                    cfg.dependency_file = Some(PathBuf::from(v));
                } else if let Some(v) = p.strip_prefix("--output=").or_else(|| joined("--output=", "-o")) {
                    cfg.output = PathBuf::from(v);
                } else if let Some(v) = joined("--entry=", "-e") {
                    cfg.entry = Some(v.to_string());
                } else if let Some(v) = p.strip_prefix("--require-defined=") {
                    cfg.require_defined.push(v.to_string());
                } else if let Some(v) = joined("--undefined=", "-u") {
                    cfg.undefined.push(v.to_string());
                } else if let Some(v) = joined("--library=", "-l") {
                    inputs.push(InputArg::Lib(v.to_string()));
                } else if let Some(v) = joined("--library-path=", "-L") {
                    cfg.lib_paths.push(PathBuf::from(v));
                } else if let Some(v) = p.strip_prefix("-m").filter(|v| !v.is_empty()) {
                    check_emulation(v)?;
                } else if let Some(v) = p.strip_prefix("--oformat=") {
                    check_oformat(v)?;
                } else if IGNORED.contains(&p) || IGNORED_PREFIX.iter().any(|pre| p.starts_with(pre)) {
                    return Ok(Taken::Ignored);
                } else {
                    return Ok(Taken::Unknown);
                }
            }
        }
        Ok(Taken::Applied)
    }

    /// Whether the last option still waits for its separate argument.
    pub fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// At the end of the command line: an option still waiting for its argument is an
    /// error, as with ld.
    pub fn finish(&self) -> Result<(), LdOptionError> {
        match &self.pending {
            Some((_, shown)) => Err(LdOptionError(format!("{shown}: the linker option needs an argument"))),
            None => Ok(()),
        }
    }
}

/// `-m EMULATION`: a nexe is x86-64 ELF; any other emulation is a mistake to report.
fn check_emulation(v: &str) -> Result<(), LdOptionError> {
    if v == "elf_x86_64" {
        Ok(())
    } else {
        Err(LdOptionError(format!("-m {v}: zvld links x86-64 only (emulation elf_x86_64)")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_that_are_not_utf8_are_a_usage_error_naming_them() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec!["-o".into(), std::ffi::OsString::from_vec(b"a\xffb.o".to_vec())];
        let e = super::utf8_args("zvld", args).unwrap_err();
        assert!(e.starts_with("zvld: argument 2 is not valid UTF-8: a\u{fffd}b.o;"), "{e}");
        assert_eq!(super::utf8_args("zvld", vec!["x".into()]), Ok(vec!["x".to_string()]));
    }

    use super::*;

    fn parse(args: &[&str]) -> Result<(Config, Vec<InputArg>, Vec<Taken>), LdOptionError> {
        let mut cfg = Config::default();
        let mut inputs = Vec::new();
        let mut ld = LdArgs::default();
        let mut taken = Vec::new();
        for a in args {
            taken.push(ld.arg(a, a, &mut cfg, &mut inputs)?);
        }
        ld.finish()?;
        Ok((cfg, inputs, taken))
    }

    #[test]
    fn every_spelling_of_an_option_means_the_same() {
        for spelling in [&["-u", "f"][..], &["-uf"], &["--undefined=f"], &["--undefined", "f"], &["-undefined=f"]] {
            let (cfg, _, _) = parse(spelling).unwrap();
            assert_eq!(cfg.undefined, vec!["f".to_string()], "{spelling:?}");
            assert!(cfg.require_defined.is_empty());
        }
        for spelling in [&["--require-defined", "f"][..], &["--require-defined=f"]] {
            let (cfg, _, _) = parse(spelling).unwrap();
            assert_eq!(cfg.require_defined, vec!["f".to_string()], "{spelling:?}");
            assert!(cfg.undefined.is_empty(), "{spelling:?}");
        }
        for spelling in [&["-e", "go"][..], &["-ego"], &["--entry=go"], &["--entry", "go"], &["-entry=go"]] {
            let (cfg, _, _) = parse(spelling).unwrap();
            assert_eq!(cfg.entry.as_deref(), Some("go"), "{spelling:?}");
        }
        for spelling in [&["-o", "x"][..], &["-ox"], &["--output=x"], &["--output", "x"]] {
            let (cfg, _, _) = parse(spelling).unwrap();
            assert_eq!(cfg.output, PathBuf::from("x"), "{spelling:?}");
        }
        for spelling in [&["-lm"][..], &["-l", "m"], &["--library=m"], &["--library", "m"]] {
            let (_, inputs, _) = parse(spelling).unwrap();
            assert!(matches!(&inputs[..], [InputArg::Lib(l)] if l == "m"), "{spelling:?}");
        }
        for spelling in [&["-Map", "m"][..], &["-Map=m"], &["--Map", "m"], &["--Map=m"]] {
            let (cfg, _, _) = parse(spelling).unwrap();
            assert_eq!(cfg.map, Some(PathBuf::from("m")), "{spelling:?}");
        }
        let (cfg, _, _) = parse(&["-M"]).unwrap();
        assert_eq!(cfg.map, Some(PathBuf::from("/dev/stdout")));
    }

    #[test]
    fn one_dash_long_options_are_not_short_options_with_a_value() {
        let (cfg, _, taken) = parse(&["-export-dynamic", "-eh-frame-hdr"]).unwrap();
        assert_eq!(cfg.entry, None);
        assert_eq!(taken, vec![Taken::Ignored, Taken::Ignored]);
    }

    /// ld takes every long option after one dash too (audit finding: these were
    /// unknown, and their value became an input file); names that start with `o` keep
    /// meaning `-o` with a value, as in ld.
    #[test]
    fn every_long_option_may_follow_one_dash() {
        let (cfg, inputs, taken) = parse(&[
            "-dynamic-linker",
            "/lib/ld.so",
            "-version-script",
            "v.map",
            "-hash-style=gnu",
            "-compress-debug-sections=none",
            "-start-group",
            "a.o",
            "-end-group",
            "-dependency-file",
            "d.mk",
        ])
        .unwrap();
        assert!(matches!(&inputs[..], [InputArg::Path(p)] if p == &PathBuf::from("a.o")), "{inputs:?}");
        assert_eq!(cfg.dependency_file, Some(PathBuf::from("d.mk")));
        assert!(!taken.contains(&Taken::Unknown), "{taken:?}");
        let (cfg, _, _) = parse(&["-output-file"]).unwrap();
        assert_eq!(cfg.output, PathBuf::from("utput-file"));
        for (spelling, out) in [("-output", "utput"), ("-oformat", "format"), ("-omagic", "magic")] {
            let (cfg, _, _) = parse(&[spelling]).unwrap();
            assert_eq!(cfg.output, PathBuf::from(out), "{spelling}");
        }
    }

    #[test]
    fn files_are_inputs_in_order() {
        let (_, inputs, _) = parse(&["a.o", "-lc", "b.o"]).unwrap();
        let names: Vec<String> = inputs
            .iter()
            .map(|i| match i {
                InputArg::Path(p) => p.display().to_string(),
                InputArg::Lib(l) => format!("-l{l}"),
            })
            .collect();
        assert_eq!(names, ["a.o", "-lc", "b.o"]);
    }

    /// `--dependency-file` and `-t` do what GNU ld does (audit finding: both were accepted
    /// and ignored, so a make rule waiting for the dependency file failed).
    #[test]
    fn dependency_file_and_trace_are_applied() {
        for spelling in [&["--dependency-file=d.d"][..], &["--dependency-file", "d.d"]] {
            let (cfg, _, taken) = parse(spelling).unwrap();
            assert_eq!(cfg.dependency_file, Some(PathBuf::from("d.d")), "{spelling:?}");
            assert!(taken.iter().all(|t| *t == Taken::Applied), "{spelling:?}");
        }
        for spelling in ["-t", "--trace"] {
            assert!(parse(&[spelling]).unwrap().0.trace, "{spelling}");
        }
    }

    #[test]
    fn unsupported_ignored_and_unknown_options_are_told_apart() {
        for bad in ["--whole-archive", "-T", "-Tfoo.ld", "--wrap=malloc", "-shared", "-pie", "--defsym=a=1"] {
            let e = parse(&[bad, "x"]).unwrap_err();
            assert!(e.0.contains("does not support"), "{bad}: {e}");
        }
        let (_, _, taken) =
            parse(&["--gc-sections", "-znoexecstack", "-z", "relro", "--hash-style=gnu", "-O1"]).unwrap();
        assert_eq!(
            taken,
            vec![Taken::Ignored, Taken::Ignored, Taken::Applied, Taken::Applied, Taken::Ignored, Taken::Ignored]
        );
        assert_eq!(parse(&["--frobnicate"]).unwrap().2, vec![Taken::Unknown]);
        assert!(parse(&["-m", "elf_i386"]).unwrap_err().0.contains("x86-64 only"));
        assert!(parse(&["-melf_x86_64"]).is_ok());
        assert!(parse(&["-Map"]).unwrap_err().0.contains("needs an argument"));
    }

    /// `-z muldefs` is `--allow-multiple-definition` and is refused like it, in both
    /// spellings (QA finding: it was ignored with the other `-z` keywords).
    #[test]
    fn z_muldefs_is_refused_like_allow_multiple_definition() {
        for args in [&["-z", "muldefs"][..], &["-zmuldefs"]] {
            let e = parse(args).unwrap_err();
            assert!(e.0.contains("does not support") && e.0.contains("--allow-multiple-definition"), "{args:?}: {e}");
        }
        assert!(parse(&["-z", "now", "-znoexecstack"]).is_ok());
    }

    /// `-Map -` and `-Map=-` write the map on standard output, as with GNU ld (QA finding:
    /// zvld wrote a file named `-`).
    #[test]
    fn map_dash_is_standard_output() {
        for args in [&["-Map", "-"][..], &["-Map=-"], &["--Map=-"]] {
            assert_eq!(parse(args).unwrap().0.map, Some(PathBuf::from("/dev/stdout")), "{args:?}");
        }
        assert_eq!(parse(&["-Map", "x.map"]).unwrap().0.map, Some(PathBuf::from("x.map")));
    }
}
