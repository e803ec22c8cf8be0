//! Writes the seed corpora of the fuzz targets (`fuzz/README.md`) into a directory:
//! `cargo run -p zvcore --example gen_fuzz_seeds -- fuzz/corpus`.
//!
//! `nexe/` gets every attack of the catalogue (`zvcore::attacks`, the same files as
//! `test-corpus/attacks/`) and a few valid nexes from `zvcore::testgen::valid_nexe`, one
//! with a `.debug_line` section; `verify/` gets raw code: the code segment of every attack,
//! valid generated code, and a few hand-written snippets around the pseudo-instructions.
//! Files are named `seed-*` so they are told apart from inputs the fuzzer found.

use zvcore::{form, nexe::Nexe, testgen, writer::NexeWriter};

fn write(dir: &str, name: &str, bytes: &[u8]) {
    let path = format!("{dir}/{name}");
    if let Err(e) = std::fs::write(&path, bytes) {
        eprintln!("gen_fuzz_seeds: cannot write {path}: {e}");
        std::process::exit(2);
    }
}

fn main() {
    let root = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus".into());
    let nexe_dir = format!("{root}/nexe");
    let verify_dir = format!("{root}/verify");
    for d in [&nexe_dir, &verify_dir] {
        if let Err(e) = std::fs::create_dir_all(d) {
            eprintln!("gen_fuzz_seeds: cannot create {d}: {e}");
            std::process::exit(2);
        }
    }

    manifest_and_image_seeds(&root);
    for a in zvcore::attacks::attacks() {
        write(&nexe_dir, &format!("seed-attack-{}.nexe", a.name), &a.nexe);
        if let Ok(n) = Nexe::parse(&a.nexe) {
            if let Some(seg) = n.code_segment() {
                write(&verify_dir, &format!("seed-attack-{}.code", a.name), n.segment_bytes(&seg));
            }
        }
    }

    for (seed, size) in [(1u64, 2048usize), (2, 4096), (3, 8192)] {
        write(&nexe_dir, &format!("seed-valid-{seed}.nexe"), &testgen::valid_nexe(seed, size));
    }
    // A valid nexe with a (fake) .debug_line section, so section_data() has data to find.
    let mut w =
        NexeWriter::with_code(testgen::valid_code(4, 1024, form::CODE_START)).symbol("_start", form::CODE_START, 64);
    w.extra_sections.push((".debug_line".into(), (0u8..=255).cycle().take(300).collect()));
    write(&nexe_dir, "seed-valid-debug-line.nexe", &w.build());

    for (seed, size) in [(11u64, 256usize), (12, 1024), (13, 4096)] {
        write(&verify_dir, &format!("seed-valid-{seed}.code"), &testgen::valid_code(seed, size, form::CODE_START));
    }
    // Hand-written snippets: P1 and P2 in one bundle each, a call ending a bundle, and
    // the minimal accepted code segment (a bare HLT sled).
    let mut a = testgen::Asm::new();
    a.p1(0, false);
    a.align();
    a.p1(9, true);
    a.p2();
    a.call(form::CODE_START, form::CODE_START);
    write(&verify_dir, "seed-pseudo.code", &a.finish());
    write(&verify_dir, "seed-hlt-sled.code", &[form::HLT; 32]);
}

/// Seeds for the `manifest` and `image` targets.
fn manifest_and_image_seeds(dir: &str) {
    for d in ["manifest", "image"] {
        std::fs::create_dir_all(format!("{dir}/{d}")).expect("create seed dir");
    }
    let z = "Version = 20130611\nProgram = app.nexe\nMemory = 268435456, 0\nTimeout = 5\nChannel = /dev/stdin, /dev/stdin, 0, 0, 100, 1000, 0, 0\nChannel = /dev/stdout, /dev/stdout, 0, 1, 0, 0, 100, 1000\nChannel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 1000\nChannel = data.bin, /dev/input, 1, 0, 10, 100000, 0, 0\n";
    std::fs::write(format!("{dir}/manifest/seed-zerovm.txt"), z).expect("seed");
    let mut m = zvcore::image::ImageManifest::new("app.nexe");
    m.args = Some(vec!["a".into(), "b".into()]);
    m.env.insert("K".into(), "V".into());
    m.timeout = Some(3);
    m.channels.push(zvcore::image::ImageChannel {
        alias: "/d".into(),
        kind: zvcore::manifest::ChannelType::RandReadSeqWrite,
        limits: zvcore::manifest::Limits { gets: 1, get_size: 2, puts: 0, put_size: 0 },
        etag: true,
        source: zvcore::image::Source::Image("d.txt".into()),
    });
    std::fs::write(format!("{dir}/manifest/seed-image.json"), m.to_json()).expect("seed");
    std::fs::write(format!("{dir}/manifest/seed-minimal.json"), br#"{"version":1,"program":"app.nexe"}"#)
        .expect("seed");
    let mut img = Vec::new();
    zvcore::image::write_image(
        &mut img,
        &m,
        &zvcore::testgen::valid_nexe(1, 2048),
        &[("d.txt".into(), b"data".to_vec())],
    )
    .expect("seed");
    std::fs::write(format!("{dir}/image/seed-image.tar"), &img).expect("seed");
    let man: &[u8] = br#"{"version":1,"program":"app.nexe"}"#;
    let t = zvcore::testgen::raw_tar(&[
        (b"manifest.json", b'0', man, b""),
        (b"app.nexe", b'0', b"x", b""),
        (b"dir/", b'5', b"", b""),
        (b"l", b'2', b"", b"/etc/passwd"),
    ]);
    std::fs::write(format!("{dir}/image/seed-symlink.tar"), &t).expect("seed");
    let t = zvcore::testgen::raw_tar(&[(b"manifest.json", b'0', man, b""), (b"app.nexe", b'0', b"x", b"")]);
    std::fs::write(format!("{dir}/image/seed-raw.tar"), &t).expect("seed");
}
