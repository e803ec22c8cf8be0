//! `--shard K/N` splits a tree deterministically; `zvverify merge` rebuilds the whole.

use crate::{json_report, repo, run, valid_tree};

#[test]
fn shards_are_disjoint_cover_everything_and_merge_to_the_full_report() {
    let t = tempfile::tempdir().expect("tmp");
    let outdir = tempfile::tempdir().expect("tmp");
    valid_tree(t.path(), 10);
    for a in ["syscall", "bare-ret", "mov-rsp"] {
        std::fs::copy(repo().join(format!("test-corpus/attacks/{a}.nexe")), t.path().join(format!("{a}.nexe")))
            .expect("copy");
    }
    let root = t.path().to_str().expect("utf8");
    let full = json_report(&run(&["--format", "json", root]));
    let mut shard_files = Vec::new();
    let mut paths = Vec::new();
    for k in 1..=3 {
        let out_path = outdir.path().join(format!("shard{k}.json"));
        let spec = format!("{k}/3");
        let out = run(&["--format", "json", "--shard", &spec, "-o", out_path.to_str().expect("utf8"), root]);
        assert!(matches!(out.status.code(), Some(0 | 1)));
        let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_path).expect("read")).expect("json");
        for f in r["files"].as_array().expect("files") {
            paths.push(f["path"].as_str().expect("path").to_string());
        }
        // The same shard twice gives the same files.
        let again = json_report(&run(&["--format", "json", "--shard", &spec, root]));
        assert_eq!(again["files"], r["files"]);
        shard_files.push(out_path);
    }
    let n = paths.len();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), n, "shards overlap");
    assert_eq!(n, full["files"].as_array().expect("files").len(), "shards cover every file");

    let mut args = vec!["merge".to_string()];
    args.extend(shard_files.iter().map(|p| p.to_str().expect("utf8").to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&argv);
    assert_eq!(out.status.code(), Some(1), "merged report has failures");
    let merged = json_report(&out);
    assert_eq!(merged["files"], full["files"]);
    for k in ["files", "passed", "failed", "errors", "violations", "code_bytes"] {
        assert_eq!(merged["totals"][k], full["totals"][k], "totals.{k}");
    }
    assert_eq!(merged["shard"]["indices"], serde_json::json!([1, 2, 3]));

    // Merging a shard with itself is refused.
    let dup = shard_files[0].to_str().expect("utf8");
    let out = run(&["merge", dup, dup]);
    assert_eq!(out.status.code(), Some(2));
    // Merging something that is not a report is refused with a message.
    let out = run(&["merge", repo().join("test-corpus/attacks/expected.tsv").to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a zvverify JSON report"));
}

/// Regression: `zvverify merge` sorted files by their path as a string, a run by path
/// components, so `a/x.nexe` came first in a run and after `a-b/x.nexe` and `a.c/x.nexe`
/// in the merge of its shards (`-` and `.` sort before `/`): the merged report was not the
/// full report. Both now use one order ([`zvverify::report_order`]).
#[test]
fn regress_merged_shards_list_files_in_the_order_of_a_full_run() {
    let t = tempfile::tempdir().expect("tmp");
    let outdir = tempfile::tempdir().expect("tmp");
    let nexe = zvcore::testgen::valid_nexe(1, 4096);
    for d in ["a", "a-b", "a.c", "a/b", "a b", "b"] {
        std::fs::create_dir_all(t.path().join(d)).expect("mkdir");
        std::fs::write(t.path().join(d).join("x.nexe"), &nexe).expect("write");
    }
    std::fs::write(t.path().join("a0.nexe"), &nexe).expect("write");
    let root = t.path().to_str().expect("utf8");
    let full = json_report(&run(&["--format", "json", "-q", root]));
    let mut args = vec!["merge".to_string()];
    for k in 1..=3 {
        let p = outdir.path().join(format!("s{k}.json"));
        let out = run(&["--format", "json", "-q", "--shard", &format!("{k}/3"), "-o", p.to_str().expect("utf8"), root]);
        assert_eq!(out.status.code(), Some(0));
        args.push(p.to_str().expect("utf8").to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let merged = json_report(&run(&args));
    let paths = |r: &serde_json::Value| -> Vec<String> {
        r["files"].as_array().expect("files").iter().map(|f| f["path"].as_str().expect("path").to_string()).collect()
    };
    assert_eq!(paths(&merged), paths(&full));
    assert_eq!(merged["files"], full["files"]);
}
