//! The attack corpus in test-corpus/attacks: the committed files match the catalogue in
//! zvcore, and the zvverify binary reports exactly the expected rules for each.

use std::collections::{BTreeMap, BTreeSet};

use crate::{json_report, no_panic, repo, run};

fn expected() -> BTreeMap<String, BTreeSet<String>> {
    let table = std::fs::read_to_string(repo().join("test-corpus/attacks/expected.tsv")).expect("expected.tsv");
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let file = f.next().expect("file column").to_string();
            let rules = f.next().expect("rules column").split(',').map(str::to_string).collect();
            (file, rules)
        })
        .collect()
}

#[test]
fn committed_corpus_matches_the_catalogue() {
    let dir = repo().join("test-corpus/attacks");
    let cat = zvcore::attacks::attacks();
    let table = expected();
    assert_eq!(table.len(), cat.len(), "expected.tsv and the catalogue differ in size; rerun gen_attacks");
    for a in cat {
        let file = format!("{}.nexe", a.name);
        let on_disk = std::fs::read(dir.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}; rerun gen_attacks"));
        assert!(on_disk == a.nexe, "{file} differs from the catalogue; rerun gen_attacks");
        let rules: BTreeSet<String> = a.rules.iter().map(|r| r.id().to_string()).collect();
        assert_eq!(table.get(&file), Some(&rules), "{file} rules in expected.tsv");
    }
}

#[test]
fn zvverify_reports_exactly_the_expected_rules() {
    let dir = repo().join("test-corpus/attacks");
    let out = run(&["--format", "json", "--quiet", dir.to_str().expect("utf8 path")]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "attacks must fail");
    let r = json_report(&out);
    let table = expected();
    let files = r["files"].as_array().expect("files");
    assert_eq!(files.len(), table.len());
    assert_eq!(r["totals"]["skipped"], 1, "expected.tsv is skipped as not ELF");
    let mut wrong = Vec::new();
    for f in files {
        let path = f["path"].as_str().expect("path");
        let name = path.rsplit('/').next().expect("name");
        assert_eq!(f["verdict"], "fail", "{name}");
        let got: BTreeSet<String> = f["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .map(|v| v["rule"].as_str().expect("rule").to_string())
            .collect();
        if table.get(name) != Some(&got) {
            wrong.push(format!("{name}: want {:?}, got {got:?}", table.get(name)));
        }
        for v in f["violations"].as_array().expect("violations") {
            assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{name}: message");
            assert!(v["address"].as_str().is_some_and(|a| a.starts_with("0x")), "{name}: address");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn human_output_names_rule_address_symbol_and_instruction() {
    let f = repo().join("test-corpus/attacks/unmasked-jmp-rax.nexe");
    let out = run(&[f.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL ") && text.contains("unmasked-jmp-rax.nexe"), "{text}");
    assert!(text.contains("C9  0x20000 _start `jmp *%rax`"), "{text}");
}
