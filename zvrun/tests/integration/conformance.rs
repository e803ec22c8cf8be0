//! RUNTIME.md sections 3, 5 and 6 read sentence by sentence, through drive.S: a guest
//! that makes the calls a test sends it (records of six words on stdin) and writes each
//! result to stdout, so every error code is checked on the real trap path.

use crate::{json_report, program, run_with, s, zvrun};

const READ: u64 = 0x6461_6552;
const WRITE: u64 = 0x7469_7257;
const JAIL: u64 = 0x6c69_614a;
const UNJAIL: u64 = 0x6c6a_6e55;
const EXIT: u64 = 0x7469_7845;
const FORK: u64 = 0x6b72_6f46;
/// drive.S pseudo-ids.
const FAULT: u64 = 1;
const SPIN: u64 = 2;
const ARGS_AT: u64 = 3;

const EPERM: i64 = -1;
const EFAULT: i64 = -14;
const EINVAL: i64 = -22;
const EDQUOT: i64 = -122;
const G: u64 = 0x10000;

/// Addresses drive.S rebases (see its header).
fn he(o: u64) -> u64 {
    0x4845 << 48 | o
}
fn en(o: u64) -> u64 {
    0x454E << 48 | o
}
fn ro(o: u64) -> u64 {
    0x524F << 48 | o
}
fn st(o: u64) -> u64 {
    0x5354 << 48 | o
}
fn mf(o: u64) -> u64 {
    0x4D46 << 48 | o
}

/// One call record (id, 0, a, b, c, d) followed by `data` (what a Read of channel 0 in
/// this record reads).
fn rec(id: u64, args: &[u64], data: &[u8]) -> Vec<u8> {
    let mut w = [0u64; 6];
    w[0] = id;
    w[2..2 + args.len()].copy_from_slice(args);
    let mut v: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    v.extend_from_slice(data);
    v
}

fn c(id: u64, args: &[u64]) -> Vec<u8> {
    rec(id, args, b"")
}

/// Runs drive.nexe with `args` before it and the records on stdin: (status, results,
/// stderr).
fn drive(args: &[&str], recs: &[Vec<u8>]) -> (Option<i32>, Vec<i64>, String) {
    let nexe = program("drive");
    let mut all: Vec<&str> = args.to_vec();
    all.push(s(&nexe));
    let out = run_with(&all, &recs.concat());
    let results = out.stdout.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
    (out.status.code(), results, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Section 3: the id word, the argument array, and Read/Write's checks in the
/// documented order (channel, negative size, negative offset, buffer, quota).
#[test]
fn call_ids_arguments_and_buffers() {
    let (code, r, err) = drive(
        &[],
        &[
            c(0x1234_5678, &[]),
            c(READ | 1 << 32, &[0, he(0), 1]), // upper 32 bits set
            c(ARGS_AT, &[0x5000_0000]),        // argument array not mapped
            rec(READ, &[0, en(8), 8], &WRITE.to_le_bytes()),
            c(ARGS_AT, &[en(8)]),     // a Write id in the heap's last word: no room for the rest
            c(WRITE, &[3, he(0), 1]), // no channel 3
            c(WRITE, &[u64::MAX, he(0), 1]),
            c(READ, &[1, he(0), 1]),                   // stdout is write-only
            c(WRITE, &[0, he(0), 1]),                  // stdin is read-only
            c(WRITE, &[2, he(0), u64::MAX]),           // negative size
            c(WRITE, &[2, he(0), 1, u64::MAX]),        // negative offset
            c(WRITE, &[9, he(0), u64::MAX, u64::MAX]), // the channel first
            c(WRITE, &[2, 0x5000_0000, u64::MAX, 0]),  // the size before the buffer
            c(WRITE, &[2, 0x5000_0000, 1, u64::MAX]),  // the offset before the buffer
            c(WRITE, &[2, 0x5000_0000, 8]),            // buffer not mapped
            c(WRITE, &[2, en(4), 8]),                  // straddles the heap's end
            c(WRITE, &[2, st(4), 8]),                  // straddles the end of guest memory
            c(WRITE, &[2, 0xffff_ffff_ffff_fff0, 8]),  // wraps around
            c(WRITE, &[2, he(0), 1 << 40]),            // a huge length
            c(READ, &[0, ro(0), 1]),                   // Read into read-only data
            c(READ, &[0, mf(0), 1]),                   // Read into the user manifest
            c(READ, &[0, 0x20000, 1]),                 // Read into code
            c(WRITE, &[2, ro(0), 16]),                 // Write from read-only data: fine
            c(WRITE, &[2, st(8), 8]),                  // the last bytes of the stack: fine
            c(WRITE, &[2, he(0), 0]),                  // zero length
            c(READ, &[0, he(0), 0]),
            c(FORK, &[]),
            c(EXIT, &[0x1_0000_0003]),
        ],
    );
    assert_eq!(
        r,
        [
            EPERM, EPERM, EFAULT, 8, EFAULT, EINVAL, EINVAL, EINVAL, EINVAL, EFAULT, EINVAL, EINVAL, EFAULT, EINVAL,
            EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, 16, 8, 0, 0, 0
        ],
        "{err}"
    );
    assert!(err.starts_with("read-only bytes!"), "{err}");
    assert_eq!(code, Some(3), "the low 8 bits of the 64-bit code");
}

/// Section 3: each of the four limits, clipping to the byte quota, -EDQUOT when used up
/// (also for a zero-length call), and 0 at the end of a sequential channel.
/// Of two `--channel` options for one path, the later replaces the earlier whole: limits
/// it leaves out are the defaults (read-write, unlimited), not the earlier option's
/// (audit finding: the earlier read-only limits were kept).
#[test]
fn a_later_channel_option_replaces_an_earlier_one_whole() {
    let t = tempfile::tempdir().expect("tmp");
    let f = t.path().join("f");
    std::fs::write(&f, b"0123456789").unwrap();
    let first = format!("/t={},1,1000,1000000,0,0", s(&f));
    for later in [format!("/t={},3", s(&f)), format!("//t={},3", s(&f))] {
        let (_, r, err) = drive(&["--channel", &first, "--channel", &later], &[c(WRITE, &[3, ro(0), 2, 0])]);
        assert_eq!(r, [2], "{later}: {err}");
    }
}

#[test]
fn each_of_the_four_quotas() {
    let t = tempfile::tempdir().expect("tmp");
    let f = t.path().join("ten");
    std::fs::write(&f, b"0123456789").unwrap();
    let ch = |spec: &str| format!("/dev/c={},{spec}", s(&f));
    // gets 2.
    let (_, r, _) = drive(&["--channel", &ch("0,2,100,0,0")], &vec![c(READ, &[3, he(0), 1]); 3]);
    assert_eq!(r, [1, 1, EDQUOT]);
    // get_size 5: clipped, then used up, also for zero bytes.
    let (_, r, _) = drive(
        &["--channel", &ch("0,10,5,0,0")],
        &[c(READ, &[3, he(0), 3]), c(READ, &[3, he(0), 3]), c(READ, &[3, he(0), 3]), c(READ, &[3, he(0), 0])],
    );
    assert_eq!(r, [3, 2, EDQUOT, EDQUOT]);
    // End of file on a sequential channel reads 0 (and keeps reading 0).
    let (_, r, _) = drive(&["--channel", &ch("0,10,100,0,0")], &vec![c(READ, &[3, he(0), 100]); 3]);
    assert_eq!(r, [10, 0, 0]);
    // puts 2 and put_size 5.
    let out = t.path().join("out");
    let (_, r, _) =
        drive(&["--channel", &format!("/dev/o={},0,0,0,2,100", s(&out))], &vec![c(WRITE, &[3, ro(0), 1]); 3]);
    assert_eq!(r, [1, 1, EDQUOT]);
    let (_, r, _) = drive(
        &["--channel", &format!("/dev/o={},0,0,0,10,5", s(&out))],
        &[c(WRITE, &[3, ro(0), 3]), c(WRITE, &[3, ro(3), 3]), c(WRITE, &[3, ro(0), 3]), c(WRITE, &[3, ro(0), 0])],
    );
    assert_eq!(r, [3, 2, EDQUOT, EDQUOT]);
    assert_eq!(std::fs::read(&out).unwrap(), b"read-");
    // A channel with gets > 0 but get_size 0 is not readable (ZeroVM's rule).
    let (_, r, _) = drive(&["--channel", &ch("0,10,0,10,0")], &[c(READ, &[3, he(0), 1]), c(WRITE, &[3, ro(0), 1])]);
    assert_eq!(r, [EINVAL, EINVAL]);
}

/// Section 3: sequential channels ignore the offset; random ones read at it, 0 past the
/// size.
#[test]
fn sequential_channels_ignore_the_offset_random_ones_use_it() {
    let t = tempfile::tempdir().expect("tmp");
    let f = t.path().join("ten");
    std::fs::write(&f, b"0123456789").unwrap();
    for (ty, want) in [(0, [2, 2, 2, 2]), (2, [2, 2, 2, 2]), (1, [2, 2, 0, 0]), (3, [2, 2, 0, 0])] {
        let (code, r, err) = drive(
            &["--channel", &format!("/dev/c={},{ty},10,100,0,0", s(&f))],
            &[
                c(READ, &[3, he(0), 2, 7]),
                c(WRITE, &[2, he(0), 2]),
                c(READ, &[3, he(0), 2, 10]),
                c(READ, &[3, he(0), 2, i64::MAX as u64]),
            ],
        );
        assert_eq!(code, Some(0), "type {ty}: {err}");
        assert_eq!(r, want, "type {ty}");
        assert_eq!(err, if ty % 2 == 0 { "01" } else { "78" }, "type {ty}");
    }
}

/// Section 3, "random channels use it within the channel size and quota": a random write
/// may start anywhere up to the channel's size plus the bytes its quota still allows
/// (ZeroVM's rule); further out is -EINVAL, never a sparse file of any size nor a host
/// error that ends the session.
#[test]
fn random_writes_stay_within_the_channel_size_and_quota() {
    let t = tempfile::tempdir().expect("tmp");
    let f = t.path().join("ten");
    for ty in [2, 3] {
        std::fs::write(&f, b"0123456789").unwrap();
        let (code, r, err) = drive(
            &["--channel", &format!("/dev/c={},{ty},10,100,10,100", s(&f))],
            &[
                c(WRITE, &[3, ro(0), 2, 1 << 40]),
                c(WRITE, &[3, ro(0), 2, 110]), // size 10 + 100 left
                c(WRITE, &[3, ro(0), 2, 109]),
                c(WRITE, &[3, ro(0), 2, 110]), // 98 left now, but the size grew to 111
                c(WRITE, &[3, ro(0), 2, 209]), // 111 + 96 left = 207
            ],
        );
        assert_eq!(code, Some(0), "type {ty}: {err}");
        assert_eq!(r, [EINVAL, EINVAL, 2, 2, EINVAL], "type {ty}");
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 112, "type {ty}");
        // Unlimited: offsets near 2^63 are the guest's error, not a host I/O error.
        std::fs::write(&f, b"0123456789").unwrap();
        let (code, r, err) = drive(
            &["--channel", &format!("/dev/c={},{ty}", s(&f))],
            &[c(WRITE, &[3, ro(0), 2, i64::MAX as u64 - 1]), c(WRITE, &[3, ro(0), 1, 3])],
        );
        assert_eq!((code, r), (Some(0), vec![EINVAL, 1]), "type {ty}: {err}");
        assert_eq!(std::fs::read(&f).unwrap(), b"012r456789");
    }
}

/// A write the host refuses for its size is a host I/O error, which ends the session with
/// status 125 and a report (RUNTIME.md section 3: "the guest never sees host-dependent
/// errors"; the largest file and RLIMIT_FSIZE are the host's): an offset past the file
/// system's largest file on an unlimited random channel, and a write past RLIMIT_FSIZE
/// (whose SIGXFSZ would otherwise kill zvrun before it reports). The guest gets no
/// result from the call, and runs no further.
#[test]
fn writes_too_large_for_the_host_file_end_the_session() {
    let t = tempfile::tempdir().expect("tmp");
    let f = t.path().join("big");
    std::fs::write(&f, b"").unwrap();
    let (code, r, err) = drive(
        &["--channel", &format!("/dev/c={},3", s(&f))],
        &[c(WRITE, &[3, ro(0), 2, 1 << 60]), c(WRITE, &[3, ro(0), 2, 0])],
    );
    assert_eq!((code, r), (Some(125), vec![]), "{err}");
    assert!(err.contains("channel /dev/c: host I/O error during Write"), "{err}");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 0, "the second write did not run");
    // RLIMIT_FSIZE of 100 blocks (51,200 bytes): a write at 1 MiB.
    let mut input = c(WRITE, &[3, ro(0), 2, 1 << 20]);
    input.extend(c(WRITE, &[3, ro(0), 2, 0]));
    let (code, r, rep, err) = drive_under_fsize_limit(t.path(), &format!("/dev/c={},3", s(&f)), "", &input);
    assert_eq!((code, r), (Some(125), vec![]), "{err}");
    let rep = crate::json_report(&rep);
    assert_eq!(rep["state"], "error", "{rep}");
    assert!(rep["message"].as_str().is_some_and(|m| m.contains("host I/O error during Write")), "{rep}");
}

/// Section 3: Jail and Unjail's alignment and range errors.
#[test]
fn jail_and_unjail_alignment_and_range() {
    let (code, r, err) = drive(
        &[],
        &[
            c(JAIL, &[he(0), G]), // zeros do not verify
            c(JAIL, &[he(0x1000), G]),
            c(JAIL, &[he(0), G + 0x1000]),
            c(JAIL, &[he(0), 0]),
            c(JAIL, &[he(0), u64::MAX - G + 1]), // wraps
            c(JAIL, &[en(G), 2 * G]),            // past the heap's end
            c(JAIL, &[0x20000, G]),              // the code segment
            c(JAIL, &[0xFF00_0000, G]),          // the stack
            c(JAIL, &[0x5000_0000 << 4, G]),     // above CODE_LIMIT
            c(UNJAIL, &[he(8), G]),
            c(UNJAIL, &[he(0), 0]),
            c(UNJAIL, &[he(0), G]),
            rec(READ, &[0, en(16), 16], &[JAIL.to_le_bytes(), [0; 8]].concat()),
            c(ARGS_AT, &[en(16)]), // Jail needs four words; two are readable
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        r,
        [EPERM, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, 0, 16, EFAULT]
    );
}

/// Section 3: CODE_LIMIT bounds Jail (executable memory ends there), not Unjail: heap
/// above it was never jailed, and Unjail of never-jailed heap is 0 (an audit found it
/// -EINVAL, which RUNTIME.md lists for Jail only). With 3 GiB the heap passes 2 GiB.
#[test]
fn unjail_of_heap_above_code_limit_is_0_and_jail_there_is_einval() {
    let above = 0x9000_0000u64; // 2.25 GiB, 64 KiB-aligned
    let (code, r, err) = drive(
        &["--memory", &(3u64 << 30).to_string()],
        &[c(UNJAIL, &[above, G]), c(JAIL, &[above, G]), c(UNJAIL, &[above, 2 * G])],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(r, [0, EINVAL, 0]);
}

/// Section 6: the exit status and both reports for every ending the guest can cause.
#[test]
fn exit_codes_and_reports_for_every_guest_ending() {
    let t = tempfile::tempdir().expect("tmp");
    let rep = t.path().join("r.json");
    let json = ["--report", "json", "--report-file", s(&rep)];
    for (code, status) in [(0u64, 0), (255, 255), (256, 0), (u64::MAX, 255), (1 << 63 | 124, 124)] {
        let (st, _, _) = drive(&json, &[c(EXIT, &[code])]);
        assert_eq!(st, Some(status), "{code:#x}");
        let r = json_report(&rep);
        assert_eq!(r["exit_code"], code as i64, "the report keeps all 64 bits: {r}");
        assert_eq!((r["state"].as_str(), r["status"].as_i64()), (Some("exit"), Some(i64::from(status))));
    }
    // A fault: signal and guest address, counts of what the guest did before it.
    let (st, _, _) = drive(&json, &[rec(READ, &[0, he(0), 3], b"abc"), c(WRITE, &[2, he(0), 3]), c(FAULT, &[])]);
    assert_eq!(st, Some(139));
    let r = json_report(&rep);
    assert_eq!((r["state"].as_str(), r["fault"]["name"].as_str()), (Some("fault"), Some("SIGSEGV")), "{r}");
    assert!(r["fault"]["pc"].as_str().is_some_and(|p| p.starts_with("0x2")), "{r}");
    assert_eq!((r["channels"][2]["puts"].as_i64(), r["channels"][2]["put_bytes"].as_i64()), (Some(1), Some(3)));
    assert!(r["exit_code"].is_null(), "{r}");
    // The timeout: 124, "timeout" in both reports, with the channel counts.
    let (st, _, _) = drive(&["--timeout", "1", "--report", "zerovm", "--report-file", s(&rep)], &[c(SPIN, &[])]);
    assert_eq!(st, Some(124));
    let z = std::fs::read_to_string(&rep).unwrap();
    let lines: Vec<&str> = z.lines().collect();
    assert_eq!(lines.len(), 6, "{z}");
    assert_eq!(lines[5], "exit state = timeout");
    assert!(lines[4].ends_with(" 1 48 0 0"), "one get of 48 bytes (the record): {z}");
    let (st, _, _) = drive(&["--timeout", "1", "--report", "json", "--report-file", s(&rep)], &[c(SPIN, &[])]);
    assert_eq!(st, Some(124));
    assert_eq!(json_report(&rep)["state"], "timeout");
}

/// A guest's partial last line on stderr: zvrun's own message (a fault, the timeout, the
/// report) starts on a new line when its stderr is the file the guest wrote to, and only
/// then.
#[test]
fn zvruns_message_starts_on_a_new_line_after_a_partial_guest_line() {
    let partial = |tail: &[u8]| rec(READ, &[0, he(0), 3], &[b"ab", tail].concat());
    let (st, _, err) = drive(&[], &[partial(b"c"), c(WRITE, &[2, he(0), 3]), c(FAULT, &[])]);
    assert_eq!(st, Some(139));
    assert!(err.starts_with("abc\nzvrun: guest fault: SIGSEGV"), "{err:?}");
    let (st, _, err) = drive(&["--timeout", "1"], &[partial(b"c"), c(WRITE, &[2, he(0), 3]), c(SPIN, &[])]);
    assert_eq!(st, Some(124));
    assert_eq!(err, "abc\nzvrun: timeout\n");
    // Also the report, when it goes to stderr after a guest that exits.
    let (st, _, err) = drive(&["--report", "zerovm"], &[partial(b"c"), c(WRITE, &[2, he(0), 3]), c(EXIT, &[0])]);
    assert_eq!(st, Some(0));
    assert!(err.starts_with("abc\nvalidator state = 0\n"), "{err:?}");
    // The last byte was a newline: no blank line.
    let (_, _, err) = drive(&[], &[partial(b"\n"), c(WRITE, &[2, he(0), 3]), c(FAULT, &[])]);
    assert!(err.starts_with("ab\nzvrun: guest fault"), "{err:?}");
    // A partial line on stderr followed by a whole line: the last byte counts.
    let (_, _, err) = drive(&[], &[partial(b"\n"), c(WRITE, &[2, he(0), 2]), c(WRITE, &[2, he(0), 3]), c(FAULT, &[])]);
    assert!(err.starts_with("abab\nzvrun: guest fault"), "{err:?}");
    // The guest's stderr channel is another file: zvrun's stderr is left alone.
    let t = tempfile::tempdir().expect("tmp");
    let other = t.path().join("err.txt");
    let (_, _, err) = drive(
        &["--channel", &format!("/dev/stderr={}", s(&other))],
        &[partial(b"c"), c(WRITE, &[2, he(0), 3]), c(FAULT, &[])],
    );
    assert!(err.starts_with("zvrun: guest fault"), "{err:?}");
    assert_eq!(std::fs::read(&other).unwrap(), b"abc");
    // Nothing written at all: no newline either.
    let (_, _, err) = drive(&[], &[c(FAULT, &[])]);
    assert!(err.starts_with("zvrun: guest fault"), "{err:?}");
}

/// Section 5: every malformed line is an error naming the line, also one that is not
/// UTF-8 text; keys ZeroVM 1.x does not have (Environment, CommandLine: zrt's nvram
/// channel carried those) are unknown keys.
#[test]
fn manifest_lines_are_named() {
    let t = tempfile::tempdir().expect("tmp");
    let head = format!(
        "Version = 20130611\nProgram = {}\nMemory = 67108864, 0\n\
         Channel = /dev/stdin, /dev/stdin, 0, 0, 100, 100000, 0, 0\n\
         Channel = /dev/stdout, /dev/stdout, 0, 0, 0, 0, 100, 100000\n\
         Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 100, 100000\n",
        s(&program("drive"))
    );
    // Every key but Timeout: the cases below add a line 7, and a Timeout when theirs is
    // not the line under test (it is required: RUNTIME.md section 5).
    let m = t.path().join("m");
    let cases: &[(&[u8], &str)] = &[
        (b"Environment = A, 1\n", "line 7: unknown key `Environment`"),
        (b"CommandLine = a b\n", "line 7: unknown key `CommandLine`"),
        (b"version = 20130611\n", "line 7: unknown key `version`"),
        (b"Version = 20130611\n", "line 7: Version given twice"),
        (b"Program = x\n", "line 7: Program given twice"),
        (b"Memory = 1, 0\n", "line 7: Memory given twice"),
        (b"Timeout = 5 # five\n", "line 7: Timeout `5 # five` is not an integer"),
        (b"Timeout = 0\n", "line 7: Timeout must be at least 1"),
        (b"Timeout = -3\n", "line 7: Timeout -3 is negative"),
        (b"Channel = a, /dev/a, 0, 0, 1, 1, 1, 1, 1\n", "line 7: Channel needs 8 fields"),
        (b"Channel = a, /dev/a, 4, 0, 1, 1, 1, 1\n", "line 7: Channel type 4 is not 0-3"),
        (b"Channel = a, /dev/a, 0, 0, 99999999999999999999, 1, 1, 1\n", "line 7: gets"),
        (b"Channel = a, , 0, 0, 1, 1, 1, 1\n", "line 7: Channel uri and alias must not be empty"),
        (b"Job\n", "line 7: `Job` is not `Key = value`"),
        (b"# fine\n\n  \nJob = /nonexistent/x\n", "job socket /nonexistent/x: No such file or directory"),
        (b"Job =\n", "line 7: Job needs the path of the job socket"),
        (b"Job = \xff\xfe\n", "line 7: not UTF-8"),
        (b"\nTimeout = \xc3\n", "line 8: not UTF-8"),
    ];
    for (extra, want) in cases {
        let timeout: &[u8] = if extra.windows(7).any(|w| w == b"Timeout") { b"" } else { b"Timeout = 9\n" };
        std::fs::write(&m, [head.as_bytes(), extra, timeout].concat()).unwrap();
        let out = run_with(&["--manifest", s(&m)], b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    // CRLF line ends, blank lines, comments and spacing are fine.
    let crlf = format!("# a session\r\n\r\n{}Timeout=5\r\n", head.replace('\n', "\r\n").replace(" = ", "   =\t"));
    std::fs::write(&m, crlf).unwrap();
    let out = run_with(&["--manifest", s(&m)], &c(EXIT, &[9]));
    assert_eq!(out.status.code(), Some(9), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Section 2, items 4 and 5: the start-up block (argc, argv with argv[0] as given, envp,
/// the auxv entries and what they point to) and the registers at entry.
#[test]
fn the_startup_block_and_the_registers_at_entry() {
    let nexe = program("entry");
    let file = std::fs::read(&nexe).expect("nexe");
    let word = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let out = run_with(&["--env", "A=1", "--env", "B=x=y", "--seed", "5", s(&nexe), "one", ""], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let o = &out.stdout;
    assert_eq!(word(o, 0), 0, "general registers other than rsp are zero");
    assert_eq!((word(o, 8), word(o, 16)), (0, 0), "xmm0-xmm15 are zero");
    assert_eq!(u32::from_le_bytes(o[24..28].try_into().unwrap()), 0x1F80, "MXCSR");
    assert_eq!(u16::from_le_bytes(o[28..30].try_into().unwrap()), 0x37F, "x87 control word");
    let rsp = word(o, 32);
    assert_eq!(rsp % 16, 0, "rsp {rsp:#x} is 16-byte aligned");
    assert_eq!(word(o, 40), 1, "DF is clear");
    // The status flags are clear, as in a native process (audit finding: ZF and PF were
    // left set by zvrun's last comparison before the jump).
    assert_eq!(&o[48..53], &[0; 5], "CF, PF, ZF, SF, OF clear");
    let block = &o[56..];
    assert_eq!(block.len() as u64, (1u64 << 32) - rsp);
    let at = |addr: u64| (addr - rsp) as usize;
    let cstr = |addr: u64| {
        let b = &block[at(addr)..];
        String::from_utf8(b[..b.iter().position(|&c| c == 0).unwrap()].to_vec()).unwrap()
    };
    let argc = word(block, 0) as usize;
    let argv: Vec<String> = (0..argc).map(|i| cstr(word(block, 8 + 8 * i))).collect();
    assert_eq!(argv, [s(&nexe), "one", ""]);
    assert_eq!(word(block, 8 + 8 * argc), 0);
    let mut p = 16 + 8 * argc;
    let mut env = Vec::new();
    while word(block, p) != 0 {
        env.push(cstr(word(block, p)));
        p += 8;
    }
    assert_eq!(env, ["A=1", "B=x=y"]);
    p += 8;
    let mut aux = std::collections::BTreeMap::new();
    loop {
        let (k, v) = (word(block, p), word(block, p + 8));
        p += 16;
        if k == 0 {
            break;
        }
        assert!(aux.insert(k, v).is_none(), "auxv key {k} once");
    }
    let (phoff, entry) = (word(&file, 32) as usize, word(&file, 24));
    let phnum = u16::from_le_bytes(file[56..58].try_into().unwrap()) as u64;
    assert_eq!((aux[&4], aux[&5], aux[&6], aux[&9], aux[&23]), (56, phnum, 4096, entry, 0));
    let phdrs = &block[at(aux[&3])..at(aux[&3]) + 56 * phnum as usize];
    assert_eq!(phdrs, &file[phoff..phoff + 56 * phnum as usize], "AT_PHDR points to the program headers");
    let mut h = sha1_smol::Sha1::new();
    h.update(b"zv AT_RANDOM");
    h.update(&5u64.to_le_bytes());
    assert_eq!(&block[at(aux[&25])..at(aux[&25]) + 16], &h.digest().bytes()[..16], "AT_RANDOM from the seed");
}

/// Arguments and `--env` values are bytes, as the kernel passes them: a guest gets
/// non-UTF-8 ones unchanged (zvrun refused them with status 125, "not valid UTF-8", so
/// `grep '[\x81]'` could not run). Option values that name things zvrun reads (paths,
/// numbers) must still be text.
#[test]
fn arguments_and_environment_are_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let nexe = program("entry");
    let os = |b: &[u8]| std::ffi::OsStr::from_bytes(b).to_os_string();
    let out = zvrun()
        .arg("--env")
        .arg(os(b"X=\xff\xfe"))
        .arg(os(b"--env=Y=a\x80b"))
        .arg(&nexe)
        .arg(os(b"\x81"))
        .arg(os(b"caf\xe9"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("zvrun runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let word = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let rsp = word(&out.stdout, 32);
    let block = &out.stdout[56..];
    let cstr = |addr: u64| {
        let b = &block[(addr - rsp) as usize..];
        b[..b.iter().position(|&c| c == 0).unwrap()].to_vec()
    };
    let argc = word(block, 0) as usize;
    let argv: Vec<Vec<u8>> = (1..argc).map(|i| cstr(word(block, 8 + 8 * i))).collect();
    assert_eq!(argv, [b"\x81".to_vec(), b"caf\xe9".to_vec()]);
    let env: Vec<Vec<u8>> = (0..2).map(|i| cstr(word(block, 16 + 8 * argc + 8 * i))).collect();
    assert_eq!(env, [b"X=\xff\xfe".to_vec(), b"Y=a\x80b".to_vec()]);
    // A program whose name is not UTF-8 runs, and a missing one is named.
    let odd = std::env::temp_dir().join(os(b"zv-entry-\xff.nexe"));
    std::fs::copy(&nexe, &odd).unwrap();
    let out = zvrun().arg(&odd).stdin(std::process::Stdio::null()).output().expect("zvrun runs");
    let _ = std::fs::remove_file(&odd);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = zvrun().arg(os(b"/nonexistent/\xff.nexe")).output().expect("zvrun runs");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file"));
    // A path option is still text, and says so.
    let out = zvrun().arg("--manifest").arg(os(b"m\xff")).output().expect("zvrun runs");
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid UTF-8"));
}

/// Section 6, "per-channel counts and bytes": a Write blocked on a full pipe that the
/// timeout interrupts after part of it went out reports exactly the bytes the channel
/// received (QA finding: the bytes of the cut-short write were missing from put_bytes,
/// so the report said 57,400 bytes where the reader got 65,536).
#[test]
fn a_write_cut_short_by_the_timeout_counts_what_went_out() {
    use std::io::Read;
    let t = tempfile::tempdir().expect("tmp");
    let rep = t.path().join("r.json");
    let input = t.path().join("in");
    std::fs::write(&input, c(WRITE, &[1, he(0), 1 << 20])).unwrap();
    let mut child = zvrun()
        .args(["--timeout", "1", "--etag", "--report", "json", "--report-file", s(&rep), s(&program("drive"))])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Nothing reads the pipe until zvrun has ended: the write blocks once it is full.
    let mut stdout = child.stdout.take().expect("stdout");
    let status = crate::wait_or_fail(child, 60, "a write blocked on a full pipe");
    assert_eq!(status.code(), Some(124));
    let mut got = Vec::new();
    stdout.read_to_end(&mut got).unwrap();
    assert!(!got.is_empty() && got.len() < 1 << 20, "{} bytes", got.len());
    let r = json_report(&rep);
    assert_eq!(r["state"], "timeout", "{r}");
    let ch = &r["channels"][1];
    assert_eq!((ch["puts"].as_u64(), ch["put_bytes"].as_u64()), (Some(1), Some(got.len() as u64)), "{r}");
    let sha = {
        let mut h = sha1_smol::Sha1::new();
        h.update(&got);
        h.digest().to_string()
    };
    assert_eq!(ch["etag"].as_str(), Some(sha.as_str()), "the etag covers what went out: {r}");
}

/// A write that crosses RLIMIT_FSIZE writes the bytes below the limit; they count against
/// the channel's quota and in its etag (security review: they were written, then the
/// call counted nothing, so every such Write put up to the limit's worth of bytes past
/// put_size and the etag), and the session then ends as for any host I/O error (the
/// short count is the host's, so the guest does not see it).
#[test]
fn a_write_cut_short_by_the_file_size_limit_counts_what_went_out() {
    let t = tempfile::tempdir().expect("tmp");
    let f = t.path().join("big");
    std::fs::write(&f, vec![1u8; 51_100]).unwrap();
    // RLIMIT_FSIZE of 100 blocks (51,200 bytes): writes of 4,096 bytes at 51,100 (the
    // file's end), on a channel allowed 300 bytes.
    let mut input = Vec::new();
    for _ in 0..3 {
        input.extend(c(WRITE, &[3, he(0), 4096, 51_100]));
    }
    let (code, r, rep, err) =
        drive_under_fsize_limit(t.path(), &format!("/dev/c={},3,1,1,100,300", s(&f)), "--etag", &input);
    // 100 bytes fit below the limit; the call returns nothing and the session ends.
    assert_eq!((code, r), (Some(125), vec![]), "{err}");
    let rep = crate::json_report(&rep);
    assert_eq!(rep["state"], "error", "{rep}");
    let ch = rep["channels"].as_array().expect("channels").iter().find(|c| c["alias"] == "/dev/c").expect("/dev/c");
    assert_eq!((ch["puts"].as_i64(), ch["put_bytes"].as_i64()), (Some(1), Some(100)), "{rep}");
    let zeros = sha1_smol::Sha1::from(vec![0u8; 100]).digest().to_string();
    assert_eq!(ch["etag"], zeros.as_str(), "{rep}");
    assert_eq!(std::fs::metadata(&f).expect("file").len(), 51_200);
}

/// The same on a standard stream (a sequential write, not a file channel's positioned
/// one): stdout redirected to a file under RLIMIT_FSIZE of 4 blocks (2,048 bytes); a
/// Write of 4,096 bytes puts 2,048 in the file, which the report counts, and the session
/// ends with 125 (review finding: the bytes were not counted).
#[test]
fn a_standard_stream_write_cut_short_by_the_file_size_limit_counts_what_went_out() {
    let t = tempfile::tempdir().expect("tmp");
    let stdin = t.path().join("in");
    std::fs::write(&stdin, c(WRITE, &[1, he(0), 4096, 0])).unwrap();
    let (rep, out) = (t.path().join("r.json"), t.path().join("out"));
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 4; exec '{}' --report json --report-file '{}' '{}' < '{}' > '{}'",
            env!("CARGO_BIN_EXE_zvrun"),
            s(&rep),
            s(&program("drive")),
            s(&stdin),
            s(&out)
        ))
        .output()
        .expect("sh runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(err.contains("channel /dev/stdout: host I/O error during Write"), "{err}");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 2048);
    let rep = crate::json_report(&rep);
    let ch =
        rep["channels"].as_array().expect("channels").iter().find(|c| c["alias"] == "/dev/stdout").expect("stdout");
    assert_eq!((ch["puts"].as_i64(), ch["put_bytes"].as_i64()), (Some(1), Some(2048)), "{rep}");
}

/// Runs the `drive` program (its calls read from stdin, each result written to stdout as
/// 8 bytes) under RLIMIT_FSIZE of 100 blocks (51,200 bytes, set by the shell) with
/// `channel`, the option `extra` (or none) and a JSON report in `dir`: its status, the
/// results, the report's path and its stderr.
fn drive_under_fsize_limit(
    dir: &std::path::Path,
    channel: &str,
    extra: &str,
    calls: &[u8],
) -> (Option<i32>, Vec<i64>, std::path::PathBuf, String) {
    let stdin = dir.join("in");
    std::fs::write(&stdin, calls).unwrap();
    let rep = dir.join("r.json");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 100; exec '{}' {extra} --report json --report-file '{}' --channel '{channel}' '{}' < '{}'",
            env!("CARGO_BIN_EXE_zvrun"),
            s(&rep),
            s(&program("drive")),
            s(&stdin)
        ))
        .output()
        .expect("sh runs");
    let r = out.stdout.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
    (out.status.code(), r, rep, String::from_utf8_lossy(&out.stderr).into_owned())
}
