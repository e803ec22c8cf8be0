//! Sessions from images (docs/images.md): the image's manifest gives the program,
//! limits, arguments, environment and channels; the command line binds or overrides
//! channels and limits; every data file of the image becomes a read-only, random-read
//! channel whose alias is `/` + its path, served in place from the tar.

use std::path::Path;

use zvcore::image::{Image, Source};
use zvcore::manifest::{ChannelSpec, ChannelType, Limits, UNLIMITED};

use crate::session::{ImageSource, SessionConfig};

/// A program named on the command line, opened once at start-up.
pub enum Opened {
    /// A tar (an image), kept open for reading the image.
    Image(std::fs::File),
    /// Anything else, read as a nexe; the file when it could be opened (an error is
    /// reported when the session reads the program).
    Nexe(Option<std::fs::File>),
}

/// Opens the program at `path` and tells an image (a tar) from a nexe. Only regular
/// files are looked into: peeking at a pipe would consume what the nexe reader needs,
/// and an image needs random access anyway. The open file is kept for reading the
/// program (one open at start-up; the nexe reader seeks back to its start). The open is
/// one the timeout and the termination signals end (a FIFO that no writer opens would
/// otherwise keep zvrun waiting past `--timeout`: std's open retries for ever).
pub fn open_program(path: &Path) -> Opened {
    use std::io::Read;
    let mut head = [0u8; 512];
    let Ok(f) = crate::sys::open_stoppable(path, true, false, false) else { return Opened::Nexe(None) };
    let regular = f.metadata().is_ok_and(|m| m.file_type().is_file());
    // A file cut short inside its first header still counts (the image reader then
    // says it is truncated).
    let n = if regular { (&f).take(512).read(&mut head).unwrap_or(0) } else { 0 };
    if regular && zvcore::image::looks_like_tar(&head[..n]) {
        Opened::Image(f)
    } else {
        Opened::Nexe(Some(f))
    }
}

/// A `--channel alias=path[,type[,limits]]` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelArg {
    /// The channel's alias.
    pub alias: String,
    /// Its source: a host path.
    pub path: String,
    /// The type, when given.
    pub kind: Option<ChannelType>,
    /// The four limits, when given.
    pub limits: Option<Limits>,
}

impl ChannelArg {
    /// Binds the channel in `channels`: a channel the manifest or image already has keeps
    /// its type and limits unless this option gives them (docs/images.md); a new one is
    /// type 0 unless given, with [`zvcore::manifest::default_limits`] unless given.
    pub fn apply(&self, channels: &mut Vec<ChannelSpec>, etag: bool) {
        // Matched as the guest opens aliases: `--channel //data.txt=f` binds the image's
        // `/data.txt` as the manifest's `//data.txt` names it (audit finding: it was
        // added as a second channel and the session refused the pair).
        let canon = zvcore::manifest::canonical_alias(&self.alias);
        match channels.iter_mut().find(|c| zvcore::manifest::canonical_alias(&c.alias) == canon) {
            Some(c) => {
                c.uri = self.path.clone();
                if let Some(k) = self.kind {
                    c.kind = k;
                }
                if let Some(l) = self.limits {
                    c.limits = l;
                }
            }
            None => channels.push(ChannelSpec {
                uri: self.path.clone(),
                alias: self.alias.clone(),
                kind: self.kind.unwrap_or(ChannelType::SeqReadSeqWrite),
                etag,
                limits: self.limits.unwrap_or_else(|| zvcore::manifest::default_limits(&self.alias)),
            }),
        }
    }
}

/// Command-line settings that override an image's manifest.
#[derive(Default, Debug, Clone)]
pub struct Overrides {
    /// Extra arguments appended to argv (bytes).
    pub args: Vec<std::ffi::OsString>,
    /// Extra environment (bytes).
    pub env: Vec<std::ffi::OsString>,
    /// Memory.
    pub memory: Option<u64>,
    /// Timeout.
    pub timeout: Option<u64>,
    /// Seed.
    pub seed: Option<u64>,
    /// Time.
    pub time: Option<u64>,
    /// `--channel` bindings.
    pub channels: Vec<ChannelArg>,
    /// Etags on every channel.
    pub etag: bool,
}

/// A channel's uri for the host path `p`. Channels read from the image are `image:PATH`
/// uris, so a host path spelled that way (a file named `image:x` in the working
/// directory) becomes `./image:x`, the same file, and is never taken for the image's
/// member `x` (audit finding: it was served from the image).
pub fn host_uri(p: &str) -> String {
    if p.starts_with("image:") {
        format!("./{p}")
    } else {
        p.to_string()
    }
}

/// Builds the session for an image already open (from [`open_program`]). Errors name what
/// is wrong (status 125).
pub fn session_from_open_image(
    path: &Path,
    f: std::fs::File,
    o: &Overrides,
    seccomp: bool,
) -> Result<SessionConfig, String> {
    let img = Image::read(&f).map_err(|e| format!("{}: {e}", path.display()))?;
    let m = &img.manifest;
    let mut channels = Vec::new();
    for c in &m.channels {
        let uri = match &c.source {
            Source::Stdin => "/dev/stdin".to_string(),
            Source::Stdout => "/dev/stdout".to_string(),
            Source::Stderr => "/dev/stderr".to_string(),
            Source::Host(p) => host_uri(p),
            Source::Image(p) => format!("image:{p}"),
            Source::Unbound => String::new(),
        };
        channels.push(ChannelSpec {
            uri,
            alias: c.alias.clone(),
            kind: c.kind,
            etag: c.etag || o.etag,
            limits: c.limits,
        });
    }
    // Every data file is a read-only, random-read channel unless the manifest names its
    // alias; the command line then binds or overrides any of them (a data file's channel
    // bound to a host file keeps its type and read-only limits unless given).
    // Compared as the guest opens aliases: `//x` declared in the manifest is `/x` (audit
    // finding: both were added and the session refused them as the same path). A set,
    // not a search per file (audit finding: 4,000 data files took 1.5 s to start).
    let declared: std::collections::HashSet<String> =
        channels.iter().map(|c| zvcore::manifest::canonical_alias(&c.alias)).collect();
    for f in img.data_files() {
        let alias = format!("/{}", f.path);
        if declared.contains(&alias) {
            continue;
        }
        channels.push(ChannelSpec {
            uri: format!("image:{}", f.path),
            alias,
            kind: ChannelType::RandReadSeqWrite,
            etag: o.etag,
            limits: Limits { gets: UNLIMITED, get_size: UNLIMITED, puts: 0, put_size: 0 },
        });
    }
    for c in &o.channels {
        c.apply(&mut channels, o.etag);
    }
    if let Some(c) = channels.iter().find(|c| c.uri.is_empty()) {
        return Err(format!(
            "{}: channel {} has no source; bind it with --channel {}=PATH",
            path.display(),
            c.alias,
            c.alias
        ));
    }
    let mut argv: Vec<std::ffi::OsString> =
        m.args.clone().unwrap_or_else(|| vec![m.program.clone()]).into_iter().map(Into::into).collect();
    argv.extend(o.args.iter().cloned());
    let base: Vec<std::ffi::OsString> = m.env.iter().map(|(k, v)| format!("{k}={v}").into()).collect();
    let env = crate::session::merge_env(&base, &o.env);
    Ok(SessionConfig {
        program: format!("{}:{}", path.display(), m.program),
        image: Some(ImageSource {
            path: path.to_path_buf(),
            members: img.members.iter().map(|x| (x.path.clone(), (x.offset, x.size))).collect(),
            program: m.program.clone(),
            file: Some(std::sync::Arc::new(f)),
        }),
        argv,
        env,
        memory: o.memory.unwrap_or(m.memory),
        timeout: o.timeout.or(m.timeout),
        channels,
        seed: o.seed.unwrap_or(m.seed),
        time: o.time.unwrap_or(m.time),
        seccomp,
        verdict_cache: None,
        timed: false,
        serve: None,
        max_jobs: crate::daemon::DEFAULT_MAX_JOBS,
        program_file: None,
    })
}
