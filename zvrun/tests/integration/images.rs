//! `zvrun app.tar`: images run with their manifest, serve their files to the guest
//! straight from the tar, take command-line bindings, and hostile images give 125.

use zvcore::image::{write_image, ImageChannel, ImageManifest, Source};
use zvcore::manifest::{ChannelType, Limits};

use crate::{program, run, run_with, s};

fn pack(
    dir: &std::path::Path,
    name: &str,
    m: &ImageManifest,
    nexe: &str,
    files: &[(&str, &[u8])],
) -> std::path::PathBuf {
    let p = dir.join(name);
    let files: Vec<(String, Vec<u8>)> = files.iter().map(|(a, b)| (a.to_string(), b.to_vec())).collect();
    let f = std::fs::File::create(&p).expect("create");
    write_image(f, m, &std::fs::read(program(nexe)).expect("nexe"), &files).expect("write image");
    p
}

#[test]
fn an_image_file_is_read_by_the_guest_in_place() {
    let t = tempfile::tempdir().expect("tmp");
    let m = ImageManifest::new("random.nexe");
    let img = pack(t.path(), "r.tar", &m, "random", &[("data.txt", b"0123456789abcdefghij")]);
    let out = run(&[s(&img)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"abcde");
}

/// `--channel` names a channel as the guest opens its alias: `//data.txt` binds the
/// image's `/data.txt` to the host file (audit finding: it was added as a second channel
/// and the session refused the pair); of two options naming one path, the later wins, as
/// when they are spelled alike.
#[test]
fn a_command_line_channel_binds_a_data_file_under_another_spelling() {
    let t = tempfile::tempdir().expect("tmp");
    let host = t.path().join("host.txt");
    std::fs::write(&host, b"0123456789ABCDEFGHIJ").expect("write");
    let img =
        pack(t.path(), "r.tar", &ImageManifest::new("random.nexe"), "random", &[("data.txt", b"0123456789abcdefghij")]);
    for alias in ["/data.txt", "//data.txt", "/./data.txt"] {
        let bind = format!("{alias}={}", s(&host));
        let out = run(&["--channel", &bind, s(&img)]);
        assert_eq!(out.status.code(), Some(0), "{alias}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, b"ABCDE", "{alias}");
    }
    let other = t.path().join("other.txt");
    std::fs::write(&other, b"0123456789KLMNOPQRST").expect("write");
    for (a, b) in [("/data.txt", "//data.txt"), ("/data.txt", "/data.txt")] {
        let (a, b) = (format!("{a}={}", s(&host)), format!("{b}={}", s(&other)));
        let out = run(&["--channel", &a, "--channel", &b, s(&img)]);
        assert_eq!(out.status.code(), Some(0), "{a} {b}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, b"KLMNO", "{a} {b}");
    }
}

#[test]
fn manifest_args_env_and_command_line_arguments() {
    let t = tempfile::tempdir().expect("tmp");
    let mut m = ImageManifest::new("bin/args.nexe");
    m.args = Some(vec!["prog".into(), "fromimage".into()]);
    let img = pack(t.path(), "a.tar", &m, "args", &[]);
    let out = run(&[s(&img), "extra"]);
    assert_eq!(out.stdout, b"fromimage\n");
    assert_eq!(out.status.code(), Some(3), "argc = 3: the manifest's two plus one");
    // Without args in the manifest, argv[0] is the program's name in the image.
    let m = ImageManifest::new("args.nexe");
    let img = pack(t.path(), "b.tar", &m, "args", &[]);
    let out = run(&[s(&img), "x"]);
    assert_eq!(out.stdout, b"x\n");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unbound_channels_must_be_bound_on_the_command_line() {
    let t = tempfile::tempdir().expect("tmp");
    let mut m = ImageManifest::new("echo.nexe");
    let stdin = m.channels.iter_mut().find(|c| c.alias == "/dev/stdin").expect("stdin");
    stdin.source = Source::Unbound;
    let img = pack(t.path(), "e.tar", &m, "echo", &[]);
    let out = run(&[s(&img)]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bind it with --channel /dev/stdin=PATH"));
    let input = t.path().join("in.txt");
    std::fs::write(&input, b"bound on the command line\n").expect("write");
    let out = run(&["--channel", &format!("/dev/stdin={}", s(&input)), s(&img)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"bound on the command line\n");
}

#[test]
fn a_declared_image_channel_and_limits_from_the_manifest() {
    let t = tempfile::tempdir().expect("tmp");
    let mut m = ImageManifest::new("echo.nexe");
    let stdin = m.channels.iter_mut().find(|c| c.alias == "/dev/stdin").expect("stdin");
    stdin.source = Source::Image("greeting.txt".into());
    stdin.kind = ChannelType::SeqReadSeqWrite;
    m.channels.push(ImageChannel {
        alias: "/unused".into(),
        kind: ChannelType::SeqReadSeqWrite,
        limits: Limits { gets: 0, get_size: 0, puts: 1, put_size: 1 },
        etag: false,
        source: Source::Host(s(&t.path().join("unused.out")).to_string()),
    });
    let img = pack(t.path(), "g.tar", &m, "echo", &[("greeting.txt", b"hello from inside the image\n")]);
    let out = run_with(&[s(&img)], b"not this");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"hello from inside the image\n");
}

/// A host path spelled like an image source (`image:greeting.txt`, a file of that name in
/// the working directory) is that host file, in the manifest and on the command line,
/// never the image's member of that name (audit finding: the member was served).
#[test]
fn a_host_path_spelled_image_colon_is_a_host_file() {
    let t = tempfile::tempdir().expect("tmp");
    std::fs::write(t.path().join("image:greeting.txt"), b"on the host\n").expect("write");
    let mut m = ImageManifest::new("echo.nexe");
    let stdin = m.channels.iter_mut().find(|c| c.alias == "/dev/stdin").expect("stdin");
    stdin.source = Source::Host("image:greeting.txt".into());
    let img = pack(t.path(), "h.tar", &m, "echo", &[("greeting.txt", b"inside the image\n")]);
    let out = crate::zvrun().current_dir(t.path()).arg(&img).output().expect("zvrun runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"on the host\n");
    let plain = pack(t.path(), "p.tar", &ImageManifest::new("echo.nexe"), "echo", &[("greeting.txt", b"inside\n")]);
    let out = crate::zvrun()
        .current_dir(t.path())
        .args(["--channel", "/dev/stdin=image:greeting.txt"])
        .arg(&plain)
        .output()
        .expect("zvrun runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"on the host\n");
}

/// A declared channel that serves a data file under another spelling of its alias
/// (`//greeting.txt`) is that file's channel, not a second one (audit finding: zvrun
/// added the automatic channel too and refused the pair as one path given twice, while
/// `zvpack check` accepted the image); an alias `/manifest.json` hides no data file.
#[test]
fn a_data_file_served_under_another_spelling_of_its_alias_runs() {
    let t = tempfile::tempdir().expect("tmp");
    let mut m = ImageManifest::new("hello.nexe");
    m.channels.push(ImageChannel {
        alias: "//greeting.txt".into(),
        kind: ChannelType::RandReadSeqWrite,
        limits: Limits { gets: 1, get_size: 100, puts: 0, put_size: 0 },
        etag: false,
        source: Source::Image("greeting.txt".into()),
    });
    m.channels.push(ImageChannel {
        alias: "/manifest.json".into(),
        kind: ChannelType::SeqReadSeqWrite,
        limits: Limits { gets: 0, get_size: 0, puts: 1, put_size: 100 },
        etag: false,
        source: Source::Host(s(&t.path().join("out.txt")).to_string()),
    });
    let img = pack(t.path(), "d.tar", &m, "hello", &[("greeting.txt", b"hi\n")]);
    let out = run(&[s(&img)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn hostile_images_give_125_with_a_message() {
    let t = tempfile::tempdir().expect("tmp");
    let nexe = std::fs::read(program("hello")).expect("nexe");
    let man: &[u8] = br#"{"version":1,"program":"app.nexe"}"#;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "traversal",
            zvcore::testgen::raw_tar(&[
                (b"manifest.json", b'0', man, b""),
                (b"app.nexe", b'0', &nexe, b""),
                (b"../x", b'0', b"x", b""),
            ]),
            "`..`",
        ),
        (
            "symlink",
            zvcore::testgen::raw_tar(&[
                (b"manifest.json", b'0', man, b""),
                (b"app.nexe", b'0', &nexe, b""),
                (b"l", b'2', b"", b"/etc/passwd"),
            ]),
            "regular files",
        ),
        (
            "duplicate",
            zvcore::testgen::raw_tar(&[
                (b"manifest.json", b'0', man, b""),
                (b"app.nexe", b'0', &nexe, b""),
                (b"app.nexe", b'0', b"x", b""),
            ]),
            "twice",
        ),
        (
            "bad-manifest",
            zvcore::testgen::raw_tar(&[
                (b"manifest.json", b'0', br#"{"version":1,"program":"app.nexe","memory":"lots"}"#, b""),
                (b"app.nexe", b'0', &nexe, b""),
            ]),
            "key `memory`",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = t.path().join(format!("{name}.tar"));
        std::fs::write(&p, bytes).expect("write");
        let out = run(&[s(&p)]);
        assert_eq!(out.status.code(), Some(125), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{name}: {err}");
    }
    // An image whose program fails verification: 126, as for a nexe.
    let bad = t.path().join("bad.tar");
    let m = ImageManifest::new("app.nexe");
    write_image(std::fs::File::create(&bad).expect("create"), &m, &zvcore::attacks::bytes_nexe(&[0x0F, 0x05]), &[])
        .expect("write");
    assert_eq!(run(&[s(&bad)]).status.code(), Some(126));
}

/// A nexe can come from a pipe (`zvrun /dev/stdin < app.nexe`, `zvrun <(...)`): it is
/// read whole (not peeked at as a possible image, which would consume it).
#[test]
fn a_nexe_read_from_a_pipe_runs() {
    let bytes = std::fs::read(program("hello")).expect("nexe");
    let out = run_with(&["/dev/stdin"], &bytes);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"hello, world\n");
}

/// docs/images.md: command-line `--env` overrides the manifest's value of the same key
/// (one entry per key reaches the guest; the last one given wins).
#[test]
fn command_line_env_replaces_the_images_value() {
    let t = tempfile::tempdir().expect("tmp");
    let mut m = ImageManifest::new("hello.nexe");
    m.env = [("EXIT".to_string(), "7".to_string()), ("KEEP".to_string(), "1".to_string())].into_iter().collect();
    let img = pack(t.path(), "e.tar", &m, "hello", &[]);
    let zvrun::image::Opened::Image(f) = zvrun::image::open_program(&img) else { panic!("not an image") };
    let o =
        zvrun::image::Overrides { env: vec!["EXIT=3".into(), "NEW=a".into(), "NEW=b".into()], ..Default::default() };
    let cfg = zvrun::image::session_from_open_image(&img, f, &o, true).expect("session");
    assert_eq!(cfg.env, vec!["KEEP=1", "EXIT=3", "NEW=b"]);
}

/// `--channel alias=path[,type[,limits]]` binds or overrides a channel's source, and its
/// type and limits only when given (docs/images.md). QA finding: a type without limits
/// reset a declared channel's limits to unlimited, and a data file's channel bound to a
/// host file lost its random-read type and read-only limits.
#[test]
fn a_channel_binding_keeps_what_it_does_not_give() {
    let t = tempfile::tempdir().expect("tmp");
    let input = t.path().join("in.txt");
    std::fs::write(&input, b"bound on the command line\n").expect("write");
    // stdin declared with a 5-byte read quota: a binding with a type keeps the quota.
    let mut m = ImageManifest::new("echo.nexe");
    let stdin = m.channels.iter_mut().find(|c| c.alias == "/dev/stdin").expect("stdin");
    stdin.source = Source::Unbound;
    stdin.limits = Limits { gets: 100, get_size: 5, puts: 0, put_size: 0 };
    let img = pack(t.path(), "q.tar", &m, "echo", &[]);
    for binding in [format!("/dev/stdin={}", s(&input)), format!("/dev/stdin={},0", s(&input))] {
        let out = run(&["--channel", &binding, s(&img)]);
        assert_eq!(out.stdout, b"bound", "{binding}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Limits given: they replace the declared ones.
    let out = run(&["--channel", &format!("/dev/stdin={},0,100,1000,0,0", s(&input)), s(&img)]);
    assert_eq!(out.stdout, b"bound on the command line\n");

    // A data file's channel (type 1, random reads) bound to a host file stays random-read:
    // the guest's read at offset 10 sees the host file's bytes there.
    let m = ImageManifest::new("random.nexe");
    let img = pack(t.path(), "r.tar", &m, "random", &[("data.txt", b"0123456789abcdefghij")]);
    let host = t.path().join("host.txt");
    std::fs::write(&host, b"0123456789ABCDEFGHIJ").expect("write");
    let out = run(&["--channel", &format!("/data.txt={}", s(&host)), s(&img)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"ABCDE");
}

/// Images made by hand with GNU tar run as the docs say (QA findings): `tar -C dir -cf
/// app.tar .` (its `./` root entry and `./` prefixes), a v7 tar (no magic: recognised by
/// its header checksum, as `zvpack check` reads it), while a PAX sparse member is refused
/// (its data is a sparse map, not the file) and an image piped in is an error that says
/// so (125), not a nexe failing verification.
#[test]
fn images_made_by_gnu_tar_run_or_are_refused_clearly() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path().join("root");
    std::fs::create_dir(&d).expect("mkdir");
    std::fs::copy(program("exit"), d.join("app.nexe")).expect("copy");
    std::fs::write(d.join("manifest.json"), br#"{"version":1,"program":"app.nexe"}"#).expect("write");
    let tar = |name: &str, args: &[&str]| {
        let out = t.path().join(name);
        let st =
            std::process::Command::new("tar").arg("-cf").arg(&out).args(args).current_dir(&d).status().expect("tar");
        assert!(st.success(), "tar {args:?}");
        out
    };
    let dot = tar("dot.tar", &["."]);
    let out = run(&[s(&dot)]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let v7 = tar("v7.tar", &["--format=v7", "manifest.json", "app.nexe"]);
    let out = run(&[s(&v7)]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));

    let f = std::fs::File::create(d.join("sparse.bin")).expect("create");
    f.set_len(1 << 20).expect("grow");
    drop(f);
    std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("sparse.bin"))
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(b"end")
        })
        .expect("append");
    let sparse = tar("sparse.tar", &["--format=posix", "--sparse", "manifest.json", "app.nexe", "sparse.bin"]);
    let out = run(&[s(&sparse)]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sparse"), "{}", String::from_utf8_lossy(&out.stderr));

    let piped = run_with(&["/dev/stdin"], &std::fs::read(&v7).expect("read"));
    assert_eq!(piped.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&piped.stderr).contains("is a tar image"),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );

    // A compressed image: 125, naming the compression (it was 126, "missing ELF magic",
    // as if it were a nexe failing verification: audit finding).
    let gz = d.join("v7.tar.gz");
    let status = std::process::Command::new("gzip")
        .arg("-kc")
        .arg(&v7)
        .stdout(std::fs::File::create(&gz).expect("create"))
        .status();
    assert!(status.expect("gzip").success());
    let out = run(&[s(&gz)]);
    assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is gzip-compressed, not a nexe or an image"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An image named as a ZeroVM manifest's Program: a session that cannot run (125) that
    // says to run the image itself, not a nexe failing verification (126, "missing ELF
    // magic", as a QA round found).
    let manifest = t.path().join("m.txt");
    let text = format!(
        "Version = 20130611\nProgram = {}\nMemory = 67108864, 0\nTimeout = 10\n\
         Channel = /dev/stdin, /dev/stdin, 0, 0, 1, 1, 0, 0\n\
         Channel = /dev/stdout, /dev/stdout, 0, 0, 0, 0, 100, 100000\n\
         Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 100000\n",
        s(&dot)
    );
    std::fs::write(&manifest, text).expect("write");
    let out = run(&["--manifest", s(&manifest)]);
    assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a tar image, not a nexe"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every data file of an image is a channel, and each opened the tar again: an image of a
/// thousand files (valid: images hold up to 4096 members) failed with "Too many open
/// files" under the usual limit of 1024 descriptors (QA finding). The files share the
/// image's one descriptor; here 300 files run under a limit of 64.
#[test]
fn an_image_of_many_files_needs_no_descriptor_per_file() {
    let t = tempfile::tempdir().expect("tmp");
    let names: Vec<String> = (0..300).map(|i| format!("f{i:03}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let img = pack(t.path(), "many.tar", &ImageManifest::new("hello.nexe"), "hello", &files);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n 64; exec '{}' '{}'", env!("CARGO_BIN_EXE_zvrun"), s(&img)))
        .output()
        .expect("sh runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, run(&[s(&program("hello"))]).stdout);
}
