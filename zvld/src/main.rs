//! zvld, the rewriting linker (TOOLCHAIN.md section 2): a thin command line over the
//! `zvld` library. GNU ld spelling for the options it shares (`-o`, `-L`, `-l`, `-e`,
//! `-u`, `-Map`, `-s`); options that mean nothing for a static nexe (`-static`,
//! `--start-group`, `--gc-sections`, `-m elf_x86_64`, ...) are accepted and ignored.
//!
//! Exit status: 0 linked (the nexe verified and was written), 1 link error, 2 usage
//! (135, SIGBUS, if another process truncates an input during the link: inputs are mapped).

use std::path::PathBuf;
use std::process::ExitCode;

use zvld::{Config, InputArg};

const USAGE: &str =
    "usage: zvld [-o OUT] [-L DIR] [-l NAME] [-e SYM] [-u SYM] [-Map FILE] [-s] [--stats] [--emulate-cpuid] INPUT...
Links ELF64 x86-64 objects and archives into a verified nexe (ZV64 form 1).";

fn parse(args: Vec<String>) -> Result<(Config, bool), String> {
    let mut cfg = Config { output: PathBuf::from("a.nexe"), ..Default::default() };
    let mut stats = false;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("zvld: {name} needs an argument"));
        match a.as_str() {
            "-o" => cfg.output = PathBuf::from(value("-o")?),
            "-L" => cfg.lib_paths.push(PathBuf::from(value("-L")?)),
            "-l" => cfg.inputs.push(InputArg::Lib(value("-l")?)),
            "-e" | "--entry" => cfg.entry = Some(value("-e")?),
            "-u" | "--undefined" => cfg.undefined.push(value("-u")?),
            "-Map" | "--Map" => cfg.map = Some(PathBuf::from(value("-Map")?)),
            // GNU ld's `-M` prints the map on standard output; it takes no argument.
            "-M" | "--print-map" => cfg.map = Some(PathBuf::from("/dev/stdout")),
            "-m" => {
                let _ = value("-m")?;
            }
            "-s" | "-S" | "--strip-all" | "--strip-debug" => cfg.strip_debug = true,
            "--stats" => stats = true,
            "--emulate-cpuid" => cfg.emulate_cpuid = true,
            "-static" | "--static" | "-Bstatic" | "--start-group" | "--end-group" | "-(" | "-)" | "--gc-sections"
            | "--no-gc-sections" | "--as-needed" | "--no-as-needed" | "-O1" | "-O2" | "--build-id" | "-nostdlib"
            | "--eh-frame-hdr" | "-znoexecstack" => {}
            "-h" | "--help" => return Err(USAGE.to_string()),
            "--version" | "-v" => {
                return Err(format!(
                    "zvld {} (zv form version {})",
                    env!("CARGO_PKG_VERSION"),
                    zvcore::form::FORM_VERSION
                ))
            }
            _ => {
                if let Some(v) = a.strip_prefix("-L") {
                    cfg.lib_paths.push(PathBuf::from(v));
                } else if let Some(v) = a.strip_prefix("-l") {
                    cfg.inputs.push(InputArg::Lib(v.to_string()));
                } else if let Some(v) = a.strip_prefix("-Map=").or_else(|| a.strip_prefix("--Map=")) {
                    cfg.map = Some(PathBuf::from(v));
                } else if let Some(v) = a.strip_prefix("--entry=") {
                    cfg.entry = Some(v.to_string());
                } else if let Some(v) = a.strip_prefix("-o") {
                    cfg.output = PathBuf::from(v);
                } else if a.starts_with("-z") || a.starts_with("--hash-style") || a.starts_with("--build-id") {
                } else if a.starts_with('-') && a != "-" {
                    return Err(format!("zvld: unknown option {a}\n{USAGE}"));
                } else {
                    cfg.inputs.push(InputArg::Path(PathBuf::from(a)));
                }
            }
        }
    }
    if cfg.inputs.is_empty() {
        return Err(format!("zvld: no input files\n{USAGE}"));
    }
    Ok((cfg, stats))
}

fn main() -> ExitCode {
    let (cfg, stats) = match parse(std::env::args().skip(1).collect()) {
        Ok(x) => x,
        Err(msg) => {
            let usage_ok = msg.starts_with("usage") || msg.starts_with("zvld 0");
            eprintln!("{msg}");
            return if usage_ok { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    match zvld::link(&cfg) {
        Ok(s) => {
            if stats {
                eprintln!(
                    "zvld: {} objects, {} code sections, code {} -> {} bytes (+{:.1}%), file {} bytes",
                    s.objects,
                    s.code_sections,
                    s.code_in,
                    s.code_out,
                    (s.code_out as f64 / s.code_in.max(1) as f64 - 1.0) * 100.0,
                    s.file_size
                );
                for (phase, ms) in &s.phase_ms {
                    eprintln!("zvld:   {phase:16} {ms:9.2} ms");
                }
                if s.code_verified_early {
                    eprintln!("zvld: code verified during layout; the file's check found the same bytes");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zvld: error: {e}");
            ExitCode::from(1)
        }
    }
}
