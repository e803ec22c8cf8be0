//! Source locations for diagnostics: `function+offset` from the nexe's symbol table and
//! `file:line` from its DWARF line tables (gimli). Both are optional and untrusted; any
//! malformed table simply yields no location.

use gimli::{AttributeValue, DebugLine, DebugLineOffset, EndianSlice, LittleEndian};
use zvcore::nexe::{self, Nexe, Symbol};

type R<'a> = EndianSlice<'a, LittleEndian>;

/// Symbol and line tables of one nexe, built only for files that have violations.
pub struct DebugInfo {
    symbols: Vec<Symbol>,
    /// (address, file, line) rows sorted by address; `None` file marks a sequence end.
    rows: Vec<(u64, Option<u32>, u32)>,
    files: Vec<String>,
}

/// Upper bound on line rows read from one file, so hostile DWARF cannot exhaust memory.
const MAX_ROWS: usize = 4_000_000;

impl DebugInfo {
    /// Reads the symbol table and `.debug_line` of a parsed nexe.
    pub fn load(n: &Nexe<'_>) -> DebugInfo {
        let symbols = n.symbols();
        let mut d = DebugInfo { symbols, rows: Vec::new(), files: Vec::new() };
        if let Some(line) = n.section_data(".debug_line") {
            let line_str = n.section_data(".debug_line_str").unwrap_or(&[]);
            let str_sec = n.section_data(".debug_str").unwrap_or(&[]);
            d.read_lines(line, line_str, str_sec);
            d.rows.sort_by_key(|r| r.0);
        }
        d
    }

    fn read_lines(&mut self, line: &[u8], line_str: &[u8], str_sec: &[u8]) {
        let dl = DebugLine::new(line, LittleEndian);
        let mut off = 0usize;
        let mut programs = 0;
        while off < line.len() && programs < 100_000 {
            programs += 1;
            let Ok(prog) = dl.program(DebugLineOffset(off), 8, None, None) else {
                break;
            };
            let h = prog.header();
            let unit = h.unit_length() + usize::from(h.format().initial_length_size());
            if unit == 0 {
                break;
            }
            off = off.saturating_add(unit);
            let header = h.clone();
            let mut file_ids = std::collections::HashMap::new();
            let mut rows = prog.rows();
            while let Ok(Some((_, row))) = rows.next_row() {
                if self.rows.len() >= MAX_ROWS {
                    return;
                }
                if row.end_sequence() {
                    self.rows.push((row.address(), None, 0));
                    continue;
                }
                let fi = row.file_index();
                let id = *file_ids.entry(fi).or_insert_with(|| {
                    let name = file_name(&header, fi, line_str, str_sec).unwrap_or_else(|| "?".into());
                    self.files.push(name);
                    (self.files.len() - 1) as u32
                });
                let l = row.line().map_or(0, |l| l.get().min(u64::from(u32::MAX)) as u32);
                self.rows.push((row.address(), Some(id), l));
            }
        }
    }

    /// `function+0xoff` for an address.
    pub fn symbol(&self, addr: u64) -> Option<String> {
        nexe::symbolize(&self.symbols, addr)
    }

    /// `file:line` for an address.
    pub fn source(&self, addr: u64) -> Option<String> {
        let i = self.rows.partition_point(|r| r.0 <= addr);
        let (_, file, line) = self.rows.get(i.checked_sub(1)?)?;
        let f = self.files.get((*file)? as usize)?;
        Some(format!("{f}:{line}"))
    }
}

fn attr_str(v: AttributeValue<R<'_>>, line_str: &[u8], str_sec: &[u8]) -> Option<String> {
    let cstr = |sec: &[u8], o: usize| {
        let rest = sec.get(o..)?;
        let n = rest.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&rest[..n]).into_owned())
    };
    match v {
        AttributeValue::String(s) => Some(s.to_string_lossy().into_owned()),
        AttributeValue::DebugLineStrRef(o) => cstr(line_str, o.0),
        AttributeValue::DebugStrRef(o) => cstr(str_sec, o.0),
        _ => None,
    }
}

fn file_name(h: &gimli::LineProgramHeader<R<'_>>, index: u64, line_str: &[u8], str_sec: &[u8]) -> Option<String> {
    let f = h.file(index)?;
    let name = attr_str(f.path_name(), line_str, str_sec)?;
    if name.starts_with('/') {
        return Some(name);
    }
    match f.directory(h).and_then(|d| attr_str(d, line_str, str_sec)) {
        Some(dir) if !dir.is_empty() => Some(format!("{dir}/{name}")),
        _ => Some(name),
    }
}
