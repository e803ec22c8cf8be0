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
