//! zvpack's integration tests: create, inspect and check real images with the real
//! binary, determinism, refusal of invalid nexes, and every hostile-image case.

mod create;
mod hostile;

use std::path::Path;
use std::process::{Command, Output};

/// Runs zvpack.
pub fn zvpack(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_zvpack")).args(args).output().expect("zvpack runs");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "zvpack panicked");
    out
}

/// A valid nexe that exits with status 7 (built from literal bytes).
pub fn exit7_nexe() -> Vec<u8> {
    use zvcore::testgen::Asm;
    let mut a = Asm::new();
    a.emit(&[0x83, 0xEC, 0x18]); // sub $24,%esp
    a.emit(&[0x48, 0xC7, 0x04, 0x24, 0x45, 0x78, 0x69, 0x74]); // movq $"Exit",(%rsp)
    a.emit(&[0x48, 0xC7, 0x44, 0x24, 0x08, 0, 0, 0, 0]); // movq $0,8(%rsp)
    a.emit(&[0x48, 0xC7, 0x44, 0x24, 0x10, 7, 0, 0, 0]); // movq $7,16(%rsp)
    a.emit(&[0x48, 0x89, 0xE7]); // mov %rsp,%rdi
    a.call(zvcore::form::CODE_START, zvcore::form::TRAP_ENTRY);
    a.emit(&[0xF4]);
    zvcore::writer::NexeWriter::with_code(a.finish()).build()
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

pub use zvcore::testgen::raw_tar;

/// A minimal valid manifest for program `app.nexe`.
pub const MANIFEST: &[u8] = br#"{"version":1,"program":"app.nexe"}"#;
