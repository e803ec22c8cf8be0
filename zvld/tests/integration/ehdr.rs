//! `__ehdr_start`: when a program references it, zvld loads the ELF header and program
//! headers at the start of the read-only segment (mapped from file offset 0) and
//! defines the symbol as their address. A guest program prints what it reads there and
//! the test compares it with the nexe file's own header; a program that does not
//! reference the symbol keeps the plain layout. (test-corpus/c/ehdr_start.c checks the
//! facts a native build shares.)

use std::path::Path;
use std::process::Command;

use crate::common::*;

const PROGRAM: &str = r#"#include <elf.h>
#include <stdio.h>
extern const Elf64_Ehdr __ehdr_start;
int main(void) {
  const Elf64_Ehdr *h = &__ehdr_start;
  const Elf64_Phdr *p = (const Elf64_Phdr *)((const char *)h + h->e_phoff);
  printf("at %#lx ident %02x%02x%02x%02x type %u phoff %lu phnum %u entry %#lx\n", (unsigned long)h,
         h->e_ident[0], h->e_ident[1], h->e_ident[2], h->e_ident[3], h->e_type, (unsigned long)h->e_phoff,
         h->e_phnum, (unsigned long)h->e_entry);
  for (int i = 0; i < h->e_phnum; i++)
    printf("phdr %u %u %#lx %#lx %#lx %#lx\n", p[i].p_type, p[i].p_flags, (unsigned long)p[i].p_offset,
           (unsigned long)p[i].p_vaddr, (unsigned long)p[i].p_filesz, (unsigned long)p[i].p_memsz);
  return 0;
}
"#;

/// The program headers of a file: (type, flags, offset, vaddr, filesz, memsz).
fn phdrs(file: &[u8]) -> Vec<[u64; 6]> {
    let (phoff, phnum) = (u64_at(file, 32) as usize, u16_at(file, 56) as usize);
    (0..phnum)
        .map(|i| {
            let o = phoff + 56 * i;
            [
                u32_at(file, o),
                u32_at(file, o + 4),
                u64_at(file, o + 8),
                u64_at(file, o + 16),
                u64_at(file, o + 32),
                u64_at(file, o + 40),
            ]
        })
        .collect()
}

fn build(dir: &Path, name: &str, src: &str) -> Vec<u8> {
    let c_file = dir.join(format!("{name}.c"));
    std::fs::write(&c_file, src).unwrap();
    let nexe = dir.join(format!("{name}.nexe"));
    let mut c = zvcc();
    c.arg("-O2").arg(&c_file).arg("-o").arg(&nexe);
    run_ok(c, &format!("zvcc {name}.c"));
    verify(&nexe);
    std::fs::read(&nexe).unwrap()
}

#[test]
fn ehdr_start_reads_the_files_own_headers() {
    let dir = tempfile::tempdir().unwrap();
    let file = build(dir.path(), "ehdr", PROGRAM);
    let ph = phdrs(&file);
    // The segment that maps file offset 0 is the read-only one after the code.
    let loads: Vec<&[u64; 6]> = ph.iter().filter(|p| p[0] == 1).collect();
    assert_eq!(loads[0][1], 5, "the code segment stays the first PT_LOAD: {ph:x?}");
    assert_eq!(loads[0][3], 0x20000);
    let ro = loads.iter().find(|p| p[2] == 0).unwrap_or_else(|| panic!("no PT_LOAD maps file offset 0: {ph:x?}"));
    assert_eq!(ro[1], 4, "the headers are read-only: {ph:x?}");
    // C's `%#lx`: 0 has no prefix.
    let x = |v: u64| if v == 0 { "0".to_string() } else { format!("{v:#x}") };
    let mut want = format!(
        "at {} ident 7f454c46 type 2 phoff {} phnum {} entry {}\n",
        x(ro[3]),
        u64_at(&file, 32),
        ph.len(),
        x(u64_at(&file, 24))
    );
    for p in &ph {
        want.push_str(&format!("phdr {} {} {} {} {} {}\n", p[0], p[1], x(p[2]), x(p[3]), x(p[4]), x(p[5])));
    }
    let mut run = Command::new(sibling_binary("zvrun"));
    run.arg("--timeout").arg("60").arg(dir.path().join("ehdr.nexe"));
    let got = run_ok(run, "zvrun ehdr");
    assert_same_text("__ehdr_start in the guest vs the nexe's header", &want, &String::from_utf8_lossy(&got.stdout));
}

#[test]
fn without_ehdr_start_no_segment_maps_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let file = build(dir.path(), "plain", "int main(void) { return 0; }\n");
    let ph = phdrs(&file);
    assert!(ph.iter().all(|p| p[0] != 1 || p[2] != 0), "a PT_LOAD maps the headers: {ph:x?}");
}
