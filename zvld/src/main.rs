//! zvld, the rewriting linker (TOOLCHAIN.md section 2): a thin command line over the
//! `zvld` library. The options it shares with GNU ld (`-o`, `-L`, `-l`, `-e`, `-u`,
//! `-Map`, `-M`, `-s`) are read in every spelling ld accepts by `zvld::ldopts`, the
//! parser zvcc's `-Wl,` options go through too; options that mean nothing for a static
//! nexe (`-static`, `--start-group`, `--gc-sections`, `-m elf_x86_64`, ...) are accepted
//! and ignored, those that would change the link and are not implemented are refused.
//!
//! Exit status: 0 linked (the nexe verified and was written), 1 link error, 2 usage
//! (135, SIGBUS, if another process truncates an input during the link: inputs are mapped).

use std::path::PathBuf;

use std::process::ExitCode;

use zvcore::output::message;
use zvld::ldopts::{LdArgs, Taken};
use zvld::Config;

const USAGE: &str =
    "usage: zvld [-o OUT] [-L DIR] [-l NAME] [-e SYM] [-u SYM] [-Map FILE] [-M] [-s|-S] [--stats] [--emulate-cpuid] INPUT...
Links ELF64 x86-64 objects and archives into a verified nexe (ZV64 form 1).
GNU ld's other spellings of these options are accepted (-uSYM, --undefined=SYM, --library=NAME, ...),
and so are the options that mean nothing for a static nexe (-static, --gc-sections, -z KEYWORD, ...).";

fn parse(args: Vec<String>) -> Result<(Config, bool), String> {
    // Without -o, a.out, as GNU ld and zvcc (gcc) name it (it was a.nexe: an audit
    // found a build that ran the linker directly looking for a.out).
    let mut cfg = Config { output: PathBuf::from("a.out"), ..Default::default() };
    let mut inputs = Vec::new();
    let mut stats = false;
    let mut ld = LdArgs::default();
    for a in args {
        // zvld's own options, unless they are the argument of the option before.
        if !ld.waiting() {
            match a.as_str() {
                "--stats" => {
                    stats = true;
                    continue;
                }
                "-h" | "--help" => return Err(USAGE.to_string()),
                "--version" | "-v" | "-V" => return Err(zvld::link::version_line()),
                _ => {}
            }
        }
        match ld.arg(&a, &a, &mut cfg, &mut inputs).map_err(|e| format!("zvld: {e}"))? {
            Taken::Applied | Taken::Ignored => {}
            Taken::Unknown => return Err(format!("zvld: unknown option {a}\n{USAGE}")),
        }
    }
    ld.finish().map_err(|e| format!("zvld: {e}"))?;
    cfg.inputs = inputs;
    if cfg.inputs.is_empty() {
        return Err(format!("zvld: no input files\n{USAGE}"));
    }
    Ok((cfg, stats))
}

fn main() -> ExitCode {
    zvld::sys::tune_allocator();
    zvld::link::exit_after_link();
    // GNU ld reads `@FILE` response files before anything else.
    let parsed = zvld::ldopts::utf8_args("zvld", std::env::args_os().skip(1))
        .and_then(|a| zvld::ldopts::expand_response_files(&a).map_err(|e| format!("zvld: {e}")))
        .and_then(parse);
    let (cfg, stats) = match parsed {
        Ok(x) => x,
        Err(msg) => {
            let usage_ok = msg.starts_with("usage") || msg.starts_with("zvld 0");
            message(format_args!("{msg}"));
            return if usage_ok { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    match zvld::link(&cfg) {
        Ok(s) => {
            for w in &s.warnings {
                message(format_args!("zvld: warning: {w}"));
            }
            if stats {
                message(format_args!(
                    "zvld: {} objects, {} code sections, code {} -> {} bytes (+{:.1}%), file {} bytes",
                    s.objects,
                    s.code_sections,
                    s.code_in,
                    s.code_out,
                    (s.code_out as f64 / s.code_in.max(1) as f64 - 1.0) * 100.0,
                    s.file_size
                ));
                for (phase, ms) in &s.phase_ms {
                    message(format_args!("zvld:   {phase:16} {ms:9.2} ms"));
                }
                if s.code_verified_early {
                    message(format_args!("zvld: code verified during layout; the file's check found the same bytes"));
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            message(format_args!("zvld: error: {e}"));
            ExitCode::from(1)
        }
    }
}
