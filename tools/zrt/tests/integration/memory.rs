//! test-corpus/c/zrt/heap_churn.c: musl's malloc, realloc and free and direct mmap,
//! mremap, munmap, MAP_FIXED and MADV_DONTNEED over zrt's page arena, in a 96 MiB session
//! that allocates about 1 GiB in total; output identical to the native build.

use std::process::Command;

use zrt_tests::*;

#[test]
fn heap_churn_matches_native_in_96_mib() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), "heap_churn");
    let native = run_ok(Command::new(&b.native), "native heap_churn");
    let native_out = String::from_utf8_lossy(&native.stdout).into_owned();
    let expected = expected("heap_churn", &native_out);
    assert_same_text("heap_churn (native build vs heap_churn.expected)", &expected, &native_out);
    let mut c = Command::new(tool("zvrun"));
    c.arg("--timeout").arg("60").arg("--memory").arg("96M").arg(&b.nexe);
    let o = run_ok(c, "zvrun heap_churn.nexe");
    assert_same_text("heap_churn (zvrun vs native)", &expected, &String::from_utf8_lossy(&o.stdout));
}
