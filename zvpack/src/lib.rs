//! zvpack as a library: build images from a nexe, a manifest and data files (verifying
//! the nexe and validating the manifest first, so that `create` never writes an image
//! that `check` or zvrun would refuse), and inspect or check existing images. The image
//! format and its reader live in `zvcore::image`; this crate adds the policy a command
//! needs.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::io::{Seek, Write};
use std::path::Path;

use serde_json::json;
use zvcore::image::{self, Image, ImageChannel, ImageManifest, Source};
use zvcore::manifest::{ChannelType, Limits, UNLIMITED};

/// A zvpack failure and the exit status it maps to.
#[derive(Debug)]
pub enum PackError {
    /// The image or the nexe is invalid (status 1).
    Invalid(String),
    /// Usage or I/O error (status 2).
    Usage(String),
}

impl PackError {
    /// The exit status.
    pub fn status(&self) -> i32 {
        match self {
            PackError::Invalid(_) => 1,
            PackError::Usage(_) => 2,
        }
    }
}

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackError::Invalid(m) | PackError::Usage(m) => f.write_str(m),
        }
    }
}

/// A byte count with an optional K, M or G suffix (binary: `64M` is 64 MiB), spelled as
/// zvrun's `--memory` spells it, so the same value works for both commands.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.as_bytes().last() {
        Some(b'K' | b'k') => (&t[..t.len() - 1], 10),
        Some(b'M' | b'm') => (&t[..t.len() - 1], 20),
        Some(b'G' | b'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("`{s}` is not a byte count (digits, then optionally K, M or G)"))
}

/// Parses a channel option: `alias=source[,type[,gets,get_size,puts,put_size]]` where
/// source is stdin, stdout, stderr, none, host:PATH or image:PATH.
pub fn parse_channel(s: &str) -> Result<ImageChannel, String> {
    let (alias, rest) = s.split_once('=').ok_or_else(|| format!("--channel `{s}`: expected alias=source[,...]"))?;
    let f: Vec<&str> = rest.split(',').map(str::trim).collect();
    let source = match f[0] {
        "stdin" => Source::Stdin,
        "stdout" => Source::Stdout,
        "stderr" => Source::Stderr,
        "none" => Source::Unbound,
        x if x.starts_with("host:") && x.len() > 5 => Source::Host(x[5..].to_string()),
        x if x.starts_with("image:") => {
            Source::Image(image::check_member_path(&x[6..]).map_err(|e| format!("--channel `{s}`: {e}"))?)
        }
        x => {
            return Err(format!(
                "--channel `{s}`: source `{x}` is not stdin, stdout, stderr, none, host:PATH or image:PATH"
            ))
        }
    };
    let kind = match f.get(1) {
        Some(t) => t
            .parse::<i64>()
            .ok()
            .and_then(ChannelType::from_number)
            .ok_or_else(|| format!("--channel `{s}`: type `{t}` is not 0-3"))?,
        None if matches!(source, Source::Image(_)) => ChannelType::RandReadSeqWrite,
        None => ChannelType::SeqReadSeqWrite,
    };
    let limits = match f.len() {
        1 | 2 => {
            // The direction follows the source, and for an unbound channel the alias, as
            // zvrun's `--channel` defaults do (a standard input bound later must not be
            // opened, and created, for writing).
            let (r, w) = (UNLIMITED, UNLIMITED);
            match source {
                Source::Unbound => zvcore::manifest::default_limits(alias),
                Source::Stdout | Source::Stderr => Limits { gets: 0, get_size: 0, puts: w, put_size: w },
                Source::Stdin | Source::Image(_) => Limits { gets: r, get_size: r, puts: 0, put_size: 0 },
                Source::Host(_) => Limits { gets: r, get_size: r, puts: w, put_size: w },
            }
        }
        6 => {
            let n = |i: usize| {
                f[i].parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| format!("--channel `{s}`: `{}` is not a count", f[i]))
            };
            Limits { gets: n(2)?, get_size: n(3)?, puts: n(4)?, put_size: n(5)? }
        }
        _ => return Err(format!("--channel `{s}`: give source, type, and either no limits or all four")),
    };
    if alias.is_empty() {
        return Err(format!("--channel `{s}`: empty alias"));
    }
    Ok(ImageChannel { alias: alias.to_string(), kind, limits, etag: false, source })
}

/// Checks that an image holding `manifest` and the data files named `files` would be
/// accepted by an image reader (`zvpack check`, zvrun): the manifest as it will be
/// written parses and validates (`zvcore::image::ImageManifest::parse`, the reader's own
/// validation, for example an `{"image": ...}` source with write limits is refused), and
/// every `{"image": ...}` source names a data file. Errors are [`PackError::Invalid`].
pub fn validate_manifest(manifest: &ImageManifest, files: &[&str]) -> Result<(), PackError> {
    let written = ImageManifest::parse(manifest.to_json().as_bytes())
        .map_err(|e| PackError::Invalid(format!("the manifest would make an invalid image: {e}")))?;
    for (i, c) in written.channels.iter().enumerate() {
        if let Source::Image(p) = &c.source {
            if !files.iter().any(|f| image::check_member_path(f).ok().as_deref() == Some(p.as_str())) {
                return Err(PackError::Invalid(format!(
                    "the manifest would make an invalid image: channel {i} ({}) reads image file `{p}`, \
                     which is not added with --file",
                    c.alias
                )));
            }
        }
    }
    Ok(())
}

/// The manifest's memory holds the program's data and bss and the stack, as zvrun
/// requires when it lays the session out (status 125 there; refused here instead, by
/// the check zvverify also makes: [`ImageManifest::check_memory`]).
pub fn check_memory(manifest: &ImageManifest, nexe: &[u8]) -> Result<(), PackError> {
    let Ok(n) = zvcore::nexe::Nexe::parse(nexe) else { return Ok(()) }; // verification reports it
    manifest.check_memory(n.data_bytes()).map_err(|e| PackError::Invalid(e.0))
}

/// Verifies `nexe`, validates the manifest ([`validate_manifest`]) and writes the image to
/// `out` atomically (a temporary file renamed into place, so a failed run never leaves a
/// partial image). Before the rename, the written image is read back with the image
/// reader `zvpack check` and zvrun use, so an image it would refuse is never put in place.
/// A stream (`-o /dev/stdout`, a pipe: [`zvcore::output::is_stream`]) is written through
/// instead.
pub fn create(out: &Path, nexe: &[u8], manifest: &ImageManifest, files: &[(String, Vec<u8>)]) -> Result<(), PackError> {
    if let Err(rej) = zvcore::verify_nexe(nexe, zvcore::Options { max_violations: 20 }) {
        let list: Vec<String> = rej.violations.iter().take(10).map(|v| format!("  {v}")).collect();
        return Err(PackError::Invalid(format!(
            "the nexe fails verification ({} violation{}); refusing to pack it:\n{}",
            rej.violation_count,
            if rej.violation_count == 1 { "" } else { "s" },
            list.join("\n")
        )));
    }
    let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
    validate_manifest(manifest, &names)?;
    check_memory(manifest, nexe)
        .map_err(|e| PackError::Invalid(format!("the manifest would make an invalid image: {e}")))?;
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if zvcore::output::is_stream(out) {
        return write_stream(out, manifest, nexe, files);
    }
    let base = out.file_name().and_then(|n| n.to_str()).unwrap_or("image");
    // A new file (O_EXCL: never an existing file or a symlink someone planted, which
    // would be written through and then renamed into place) with a name of our own.
    let mut n = 0u32;
    let (tmp, f) = loop {
        let tmp = dir.join(format!(".{base}.{}.{n}.zvpack-tmp", std::process::id()));
        match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(PackError::Usage(format!("cannot create {}: {e}", shown(&tmp)))),
        }
    };
    let write = || -> Result<(), PackError> {
        let mut w = std::io::BufWriter::new(f);
        image::write_image(&mut w, manifest, nexe, files).map_err(|e| PackError::Usage(e.0))?;
        w.flush().map_err(|e| PackError::Usage(format!("cannot write {}: {e}", shown(&tmp))))?;
        w.get_ref().sync_all().map_err(|e| PackError::Usage(format!("cannot write {}: {e}", shown(&tmp))))?;
        // The last word: what was written reads back as a valid image (through the same
        // descriptor: not whatever file has that name by now).
        let mut f = w.into_inner().map_err(|e| PackError::Usage(format!("cannot write {}: {e}", shown(&tmp))))?;
        f.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| PackError::Usage(format!("cannot read {}: {e}", shown(&tmp))))?;
        Image::read(f).map_err(|e| PackError::Invalid(format!("the image would be invalid: {e}")))?;
        std::fs::rename(&tmp, out).map_err(|e| PackError::Usage(format!("cannot rename to {}: {e}", shown(out))))
    };
    let r = write();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// [`create`]'s write to a stream: the image is built in memory and read back there
/// first, so that nothing is written unless it is a valid image.
fn write_stream(
    out: &Path,
    manifest: &ImageManifest,
    nexe: &[u8],
    files: &[(String, Vec<u8>)],
) -> Result<(), PackError> {
    let mut buf = Vec::new();
    image::write_image(&mut buf, manifest, nexe, files).map_err(|e| PackError::Usage(e.0))?;
    Image::read(std::io::Cursor::new(&buf[..]))
        .map_err(|e| PackError::Invalid(format!("the image would be invalid: {e}")))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(out)
        .map_err(|e| PackError::Usage(format!("cannot open {}: {e}", shown(out))))?;
    f.write_all(&buf).map_err(|e| PackError::Usage(format!("cannot write {}: {e}", shown(out))))
}

/// An opened image: its index, the bytes of the program that parsing and verification read
/// ([`image::read_program`]), and the verification verdict (bytes of code verified, or the
/// rejection).
pub type Opened = (Image, Vec<u8>, Result<u64, zvcore::Rejected>);

/// Opens an image for reading if it is a regular file (symlinks followed). A FIFO is
/// never opened for reading, which would block until a writer comes (the open is also
/// non-blocking, against one swapped in after the check); a directory or a device is
/// not an image. Each is a [`PackError::Usage`] that says what the path is.
pub fn open_regular(path: &Path) -> Result<std::fs::File, PackError> {
    zvcore::display::open_regular(path, false).map(|(f, _)| f).map_err(|e| match e {
        OpenError::Open(e) => PackError::Usage(format!("cannot open {}: {e}", shown(path))),
        OpenError::Stat(e) => PackError::Usage(format!("cannot read {}: {e}", shown(path))),
        OpenError::NotRegular(what) => {
            PackError::Usage(format!("cannot read {}: is a {what}, not a regular file", shown(path)))
        }
    })
}

use zvcore::display::{escape_controls, escape_json_controls, OpenError};

/// Reads a whole input of `create` (the nexe, the manifest, a data file) if it is a
/// regular file: a FIFO, a device or a directory is refused (status 2), never read, so
/// `/dev/zero` cannot fill memory and a FIFO without a writer cannot block; at most
/// `limit` bytes (the manifest's 1 MiB).
pub fn read_regular(path: &Path, limit: Option<u64>) -> Result<Vec<u8>, PackError> {
    use std::io::Read;
    let f = open_regular(path)?;
    let len = f.metadata().map_err(|e| PackError::Usage(format!("cannot read {}: {e}", shown(path))))?.len();
    if let Some(max) = limit.filter(|&m| len > m) {
        return Err(PackError::Usage(format!("{}: {len} bytes, more than the {max} allowed", shown(path))));
    }
    let mut v = Vec::with_capacity(len as usize);
    f.take(limit.unwrap_or(u64::MAX))
        .read_to_end(&mut v)
        .map_err(|e| PackError::Usage(format!("cannot read {}: {e}", shown(path))))?;
    Ok(v)
}

/// A path for messages, with control characters escaped.
pub fn shown(p: &Path) -> String {
    escape_controls(&p.display().to_string())
}

/// Opens and fully checks an image: tar, manifest and the nexe's verification.
pub fn open(path: &Path) -> Result<Opened, PackError> {
    let mut f = open_regular(path)?;
    let img = Image::read(&mut f).map_err(|e| {
        // Only when it is not an image: is it a nexe given by mistake?
        let mut head = [0u8; 4];
        let elf = std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).is_ok()
            && std::io::Read::read_exact(&mut f, &mut head).is_ok()
            && zvcore::nexe::looks_like_elf(&head);
        PackError::Invalid(if elf {
            format!(
                "{}: is an ELF file (a nexe?), not an image; make one with `zvpack create -o app.tar {}`",
                shown(path),
                shown(path)
            )
        } else {
            format!("{}: {e}", shown(path))
        })
    })?;
    let m = img.member(&img.manifest.program).cloned().ok_or_else(|| PackError::Invalid("program missing".into()))?;
    let nexe = image::read_program(&mut f, &m).map_err(|e| PackError::Invalid(format!("{}: {e}", shown(path))))?;
    check_memory(&img.manifest, &nexe).map_err(|e| PackError::Invalid(format!("{}: {e}", shown(path))))?;
    let verdict = zvcore::verify_nexe(&nexe, zvcore::Options { max_violations: 20 }).map(|v| v.code.len() as u64);
    Ok((img, nexe, verdict))
}

/// `zvpack inspect`: manifest, members, sizes and the verification result.
pub fn inspect(path: &Path, as_json: bool) -> Result<(String, bool), PackError> {
    let (img, _, verdict) = open(path)?;
    let ok = verdict.is_ok();
    let verification = match &verdict {
        Ok(n) => json!({ "verdict": "pass", "code_bytes": n }),
        Err(r) => json!({
            "verdict": "fail",
            "violations": r.violations.iter().map(|v| json!({ "rule": v.rule.id(), "address": format!("{:#x}", v.addr), "message": v.reason })).collect::<Vec<_>>(),
        }),
    };
    if as_json {
        let manifest: serde_json::Value = serde_json::from_str(&img.manifest.to_json()).unwrap_or_default();
        let doc = json!({
            "image": path.display().to_string(),
            "valid": ok,
            "size": img.file_len,
            "manifest": manifest,
            "members": img.members.iter().map(|m| json!({ "path": m.path, "offset": m.offset, "size": m.size })).collect::<Vec<_>>(),
            "verification": verification,
        });
        return Ok((escape_json_controls(&serde_json::to_string_pretty(&doc).unwrap_or_default()) + "\n", ok));
    }
    let mut s = format!(
        "image {} ({} bytes)\n\nmanifest.json:\n{}\n\nmembers:\n",
        shown(path),
        img.file_len,
        escape_json_controls(&img.manifest.to_json())
    );
    s.push_str(&format!("  {:>10} {:>10}  path\n", "offset", "size"));
    for m in &img.members {
        s.push_str(&format!("  {:>10} {:>10}  {}\n", m.offset, m.size, escape_controls(&m.path)));
    }
    match &verdict {
        Ok(n) => s.push_str(&format!("\nverification: pass ({n} bytes of code)\n")),
        Err(r) => {
            s.push_str(&format!("\nverification: FAIL ({} violations)\n", r.violation_count));
            for v in &r.violations {
                s.push_str(&format!("  {v}\n"));
            }
        }
    }
    Ok((s, ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_an_image_reader_refuses_are_invalid() {
        let mut m = ImageManifest::new("app.nexe");
        assert!(validate_manifest(&m, &[]).is_ok());
        m.channels.push(parse_channel("/d=image:d,1,1,1,1,1").expect("parses"));
        let e = validate_manifest(&m, &["d"]).expect_err("writable image source");
        assert_eq!(e.status(), 1);
        assert!(e.to_string().contains("read-only"), "{e}");
        m.channels.pop();
        m.channels.push(parse_channel("/d=image:d").expect("parses"));
        assert!(validate_manifest(&m, &["d"]).is_ok());
        assert_eq!(validate_manifest(&m, &[]).map_err(|e| e.status()), Err(1), "image source not added");
        m.env.insert(String::new(), "x".into());
        assert_eq!(validate_manifest(&m, &["d"]).map_err(|e| e.status()), Err(1), "empty variable name");
    }
}
