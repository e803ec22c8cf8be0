//! The zvpack command: `zvpack create`, `zvpack inspect`, `zvpack check`.
//! Exit status: 0 success; 1 the image or the nexe is invalid (for `create`: the nexe
//! fails verification, or the manifest, from `--manifest` and the options, would make an
//! image that `check` refuses); 2 usage or I/O error (including an unreadable file).

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use zvcore::image::ImageManifest;
use zvcore::output::{message, to_stdout};
use zvpack::PackError;

#[derive(Parser)]
#[command(name = "zvpack", version, about = "Build, inspect and check zv image tars (docs/images.md)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing would only obscure the options
enum Cmd {
    /// Verify a nexe and pack it with a manifest and data files into an image.
    Create {
        /// Output image.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// The nexe.
        nexe: PathBuf,
        /// manifest.json to use (its `program` names the nexe's path in the image).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Path of the nexe inside the image (default: its file name).
        #[arg(long)]
        name: Option<String>,
        /// Memory limit in bytes (suffixes K, M, G, as zvrun's --memory).
        #[arg(long, value_parser = zvpack::parse_bytes)]
        memory: Option<u64>,
        /// Timeout in seconds.
        #[arg(long)]
        timeout: Option<u64>,
        /// argv in full (repeatable; the first is argv[0]).
        #[arg(long = "arg", allow_hyphen_values = true)]
        args: Vec<String>,
        /// Environment variable KEY=VALUE (repeatable).
        #[arg(long = "env")]
        env: Vec<String>,
        /// Seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Fixed time (seconds since the epoch).
        #[arg(long)]
        time: Option<u64>,
        /// Channel alias=source[,type[,gets,get_size,puts,put_size]]; source is stdin,
        /// stdout, stderr, none, host:PATH or image:PATH (repeatable).
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Data file inside=host (repeatable).
        #[arg(long = "file")]
        files: Vec<String>,
    },
    /// Show an image's manifest, members, sizes and verification result.
    Inspect {
        /// The image.
        image: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check an image: tar structure, manifest and the nexe's verification.
    Check {
        /// The image.
        image: PathBuf,
    },
}

fn run(cli: Cli) -> Result<i32, PackError> {
    match cli.cmd {
        Cmd::Create { output, nexe, manifest, name, memory, timeout, args, env, seed, time, channels, files } => {
            let bytes = zvpack::read_regular(&nexe, None)?;
            let default_name = nexe.file_name().and_then(|n| n.to_str()).unwrap_or("app.nexe").to_string();
            let mut m = match &manifest {
                Some(p) => {
                    let text = zvpack::read_regular(p, Some(zvcore::image::MAX_MANIFEST))?;
                    ImageManifest::parse(&text).map_err(|e| PackError::Invalid(format!("{}: {e}", p.display())))?
                }
                None => ImageManifest::new(name.as_deref().unwrap_or(&default_name)),
            };
            if let Some(n) = name {
                m.program = n;
            }
            if let Some(v) = memory {
                m.memory = v;
            }
            if let Some(v) = timeout {
                if v == 0 {
                    return Err(PackError::Usage("--timeout must be at least 1".into()));
                }
                m.timeout = Some(v);
            }
            if !args.is_empty() {
                m.args = Some(args);
            }
            for e in env {
                let (k, v) =
                    e.split_once('=').ok_or_else(|| PackError::Usage(format!("--env `{e}`: expected KEY=VALUE")))?;
                m.env.insert(k.to_string(), v.to_string());
            }
            if let Some(v) = seed {
                m.seed = v;
            }
            if let Some(v) = time {
                m.time = v;
            }
            for c in channels {
                let ch = zvpack::parse_channel(&c).map_err(PackError::Usage)?;
                // A channel of an alias already there is replaced in its place (the
                // guest sees the channels in this order); a new one is added at the end.
                match m.channels.iter_mut().find(|x| x.alias == ch.alias) {
                    Some(x) => *x = ch,
                    None => m.channels.push(ch),
                }
            }
            // Each path inside the image is checked as the image reader will check it,
            // against the manifest, the program and the files before it: a path an image
            // may not hold is a usage error naming the option (status 2), not an invalid
            // image found when the written tar is read back. (An invalid program path is
            // the manifest's error, status 1, reported when it is validated.)
            let mut paths = zvcore::image::MemberPaths::default();
            let _ = paths.add(zvcore::image::MANIFEST_NAME);
            let _ = paths.add(&m.program);
            let mut data = Vec::new();
            for f in files {
                let (inside, host) =
                    f.split_once('=').ok_or_else(|| PackError::Usage(format!("--file `{f}`: expected inside=host")))?;
                paths
                    .add(inside)
                    .map_err(|e| PackError::Usage(format!("--file `{}`: {e}", zvcore::display::escape_controls(&f))))?;
                let b = zvpack::read_regular(Path::new(host), None)?;
                data.push((inside.to_string(), b));
            }
            zvpack::create(&output, &bytes, &m, &data)?;
            Ok(0)
        }
        Cmd::Inspect { image, json } => match zvpack::inspect(&image, json) {
            Ok((text, ok)) => {
                let _ = to_stdout(&text);
                Ok(if ok { 0 } else { 1 })
            }
            // A program reading `--json` gets a document for an invalid image too (the
            // message also goes to stderr, and the status is the error's).
            Err(e) if json => {
                let doc =
                    serde_json::json!({ "image": image.to_string_lossy(), "valid": false, "error": e.to_string() });
                let _ = to_stdout(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()));
                Err(e)
            }
            Err(e) => Err(e),
        },
        Cmd::Check { image } => {
            let (img, _, verdict) = zvpack::open(&image)?;
            match verdict {
                Ok(n) => {
                    let _ = to_stdout(&format!(
                        "{}: ok ({} members, program {}, {n} bytes of code verified)\n",
                        zvpack::shown(&image),
                        img.members.len(),
                        zvcore::display::escape_controls(&img.manifest.program)
                    ));
                    Ok(0)
                }
                Err(r) => Err(PackError::Invalid(format!(
                    "{}: program {} fails verification: {}",
                    zvpack::shown(&image),
                    zvcore::display::escape_controls(&img.manifest.program),
                    r.violations.first().map(|v| v.to_string()).unwrap_or_default()
                ))),
            }
        }
    }
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
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            message(format_args!("zvpack: {e}"));
            std::process::exit(e.status());
        }
    }
}
