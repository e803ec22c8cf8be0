//! The one module of zvld with `unsafe` code (STYLE.md): input files are mapped into
//! memory read-only instead of read (TOOLCHAIN.md section 2, "Speed"), so the kernel
//! hands zvld the page cache's pages and only the pages a link touches are faulted in
//! (a large archive contributes a few members; a stripped link never touches DWARF).

use std::fs::File;
use std::io;

/// The bytes of an input file: mapped read-only for the duration of the link when it is
/// a regular file, read into memory otherwise (a pipe, `<(...)`, a character device).
pub enum Mapped {
    /// A mapping (`None` for an empty file: mmap refuses length 0).
    Map(Option<memmap2::Mmap>),
    /// Bytes read from a file that cannot be mapped.
    Read(Vec<u8>),
}

/// The most zvld reads from an input that is not a regular file.
const MAX_STREAMED: u64 = 4 << 30;

impl Mapped {
    /// The bytes of `file`: mapped when it is a regular file, read otherwise; a directory
    /// is an error that says so.
    pub fn new(file: &File) -> io::Result<Mapped> {
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "is a directory, not an object or archive"));
        }
        if !meta.is_file() {
            use std::io::Read;
            let mut v = Vec::new();
            file.take(MAX_STREAMED + 1).read_to_end(&mut v)?;
            if v.len() as u64 > MAX_STREAMED {
                return Err(io::Error::other(format!("longer than {MAX_STREAMED} bytes")));
            }
            return Ok(Mapped::Read(v));
        }
        if meta.len() == 0 {
            return Ok(Mapped::Map(None));
        }
        // SAFETY: memmap2 maps the file MAP_SHARED and read-only; the mapping lives as
        // long as every slice borrowed from it (`bytes` borrows `self`). Rust's aliasing
        // rules hold only if no other process writes to or truncates the file while zvld
        // runs. A linker's inputs are not modified during the link (GNU gold, lld and mold
        // map their inputs under the same assumption); if one is truncated anyway, a read
        // past the new end ends zvld with SIGBUS (status 135, documented) rather than
        // reading freed memory, and a concurrent write can only make the output wrong,
        // never unverified: the output is verified from zvld's own buffer.
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(Mapped::Map(Some(map)))
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Mapped::Map(m) => m.as_deref().unwrap_or(&[]),
            Mapped::Read(v) => v,
        }
    }
}

/// Tunes the C allocator for one link, before any large allocation: a link allocates
/// tens of megabytes in buffers of a few hundred kilobytes to a few megabytes, frees many
/// of them between phases and allocates others of similar sizes. By default glibc serves
/// each of those with its own mmap and returns it with munmap when freed, so every phase
/// faults in fresh zeroed pages (a third of zvld's CPU time went to page faults). With
/// the mmap threshold and the trim threshold raised, freed buffers stay in the heap and
/// the next phase reuses their pages. The memory goes back to the system at exit, a few
/// milliseconds later. Without glibc (musl), nothing is tuned.
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: mallopt only sets allocator parameters; it is called at the start of
        // main, before zvld starts threads. 32 MiB is glibc's largest mmap threshold on
        // 64-bit (larger values are refused); buffers beyond it are still mapped.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}
