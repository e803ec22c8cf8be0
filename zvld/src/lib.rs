//! zvld: the rewriting linker of zv (TOOLCHAIN.md section 2).
//!
//! Stock gcc (or clang) output and archives go in; a nexe in the ZV64 form (FORM.md)
//! comes out, checked by zvcore's verifier before it is written. The linker is a
//! pipeline of phases, one module each, each borrowing the results of the earlier ones:
//!
//! - [`inputs`]: read objects and archives;
//! - [`resolve`]: symbol resolution, archive member selection, COMDAT;
//! - [`rewrite`]: per code section (in parallel), the rewrites of the form and bundle
//!   layout, with an old-to-new offset map ([`flags`] keeps jump-table dispatch correct
//!   when gcc leaves the status flags live across it);
//! - [`layout`]: addresses of code, read-only data, data, bss, TLS, the GOT;
//! - [`relocate`]: relocation through the offset maps;
//! - [`write`]: the ELF file; [`debugline`] remaps `.debug_line`, [`debuginfo`] the
//!   address ranges of `.debug_info` and `.debug_rnglists`.
//!
//! [`link`] runs them in order; [`driver`] is the gcc-compatible logic of `zvcc`, and
//! [`ldopts`] the GNU ld command line both `zvld` and `zvcc` read.
#![deny(missing_docs)]
// Unsafe code is confined to `sys` (mapping input files), which allows it.
#![deny(unsafe_code)]
// Link errors carry their whole context (object, section, function, hint); they are
// built once on the cold path, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod debugframe;
pub mod debuginfo;
pub mod debugline;
pub mod driver;
pub mod error;
pub mod flags;
pub mod fuzzing;
pub mod fxhash;
pub mod inputs;
pub mod layout;
pub mod ldopts;
pub mod link;
pub mod relocate;
pub mod resolve;
pub mod rewrite;
#[allow(unsafe_code)]
pub mod sys;
pub mod write;

pub use error::{LinkError, Location};
pub use link::{link, link_bytes, Config, InputArg, Stats};
