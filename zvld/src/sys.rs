//! The one module of zvld with `unsafe` code (STYLE.md): input files are mapped into
//! memory read-only instead of read (TOOLCHAIN.md section 2, "Speed"), so the kernel
//! hands zvld the page cache's pages and only the pages a link touches are faulted in
//! (a large archive contributes a few members; a stripped link never touches DWARF).

use std::fs::File;
use std::io;

/// The bytes of an input file, mapped read-only for the duration of the link.
pub struct Mapped(Option<memmap2::Mmap>);

impl Mapped {
    /// Maps `file` whole. An empty file maps to no bytes (mmap refuses length 0).
    pub fn new(file: &File) -> io::Result<Mapped> {
        if file.metadata()?.len() == 0 {
            return Ok(Mapped(None));
        }
        // SAFETY: the mapping is private and read-only, and it lives as long as every
        // slice borrowed from it (the `&[u8]` of `bytes` borrows `self`). Rust's aliasing
        // rules would only be broken if another process wrote to or truncated the file
        // while zvld runs; a linker's inputs are not modified during the link (GNU gold,
        // lld and mold map their inputs under the same assumption), and a truncation
        // would end the process with SIGBUS rather than let it read freed memory. The
        // output that zvld writes is verified from its own buffer, never from a mapping.
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(Mapped(Some(map)))
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.as_deref().unwrap_or(&[])
    }
}
