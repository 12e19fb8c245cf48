//! Personal data end to end: nothing planted in comments reaches the workspace, the outputs or the
//! logs except as placeholders and pseudonyms.

use std::path::Path;

use xsignal::privacy::PseudonymKey;

use crate::common::{contains, files, model_available, read_jsonl, run, xsignal};

const EMAIL: &str = "mira.quokkason@example.org";
const PHONE: &str = "+49 30 41927356";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";
const NAME: &str = "Priya Raghunathan";
const AUTHOR: &str = "zqxauthor7731";
/// A plain word of the texts: stored and indexed, but never logged.
const WORD: &str = "zebraquokka";
const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn write_comments(path: &Path) {
    let subjects = [
        "the thermostat reboots every night",
        "battery drains within hours",
        "app login fails after the update",
        "der Akku ist nach zwei Stunden leer",
    ];
    let mut lines = String::new();
    for index in 0..24 {
        let subject = subjects[index % subjects.len()];
        let text = match index % 4 {
            0 => format!("{WORD}: {subject}, mail me at {EMAIL}"),
            1 => format!("{WORD} {subject}. My name is {NAME}, call {PHONE}"),
            2 => format!("{WORD} {subject}; refund to {IBAN} please"),
            _ => format!("{WORD} {subject}"),
        };
        let author = if index % 3 == 0 {
            AUTHOR.to_string()
        } else {
            format!("user{index}")
        };
        let row = serde_json::json!({
            "id": format!("p{index:02}"),
            "text": text,
            "timestamp": format!("2026-03-{:02}T10:00:00Z", 1 + index % 6),
            "author": author,
            "lang": if index % 4 == 3 { "de" } else { "en" },
        });
        lines.push_str(&row.to_string());
        lines.push('\n');
    }
    std::fs::write(path, lines).unwrap();
}

#[test]
fn personal_data_never_reaches_the_workspace_or_the_logs() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let input = temp.path().join("comments.jsonl");
    write_comments(&input);
    let workspace = temp.path().join("ws");
    let analyzed = run(xsignal()
        .env("XSIGNAL_PSEUDONYM_KEY", KEY)
        .args(["--log", "trace", "--threads", "2", "analyze", "--workspace"])
        .arg(&workspace)
        .arg(&input));
    assert!(analyzed.status.success());
    let searched = run(xsignal()
        .args(["--log", "trace", "search", WORD, "--json", "--workspace"])
        .arg(&workspace));
    assert!(searched.status.success());
    assert!(
        contains(&searched.stdout, "p00"),
        "the search finds the planted word"
    );

    // The logs are there (trace level) and carry none of it, nor the query.
    let logs = [analyzed.stderr, searched.stderr].concat();
    assert!(
        contains(&logs, "stage finished"),
        "{}",
        String::from_utf8_lossy(&logs)
    );
    let digits = PHONE.replace(' ', "");
    let compact_iban = IBAN.replace(' ', "");
    for planted in [
        EMAIL,
        PHONE,
        &digits,
        IBAN,
        &compact_iban,
        NAME,
        AUTHOR,
        WORD,
    ] {
        assert!(!contains(&logs, planted), "the log carries {planted:?}");
    }

    // No byte of the personal data is anywhere in the workspace: store, index, caches, outputs
    // (the index's term dictionary and document store are compressed, so it is searched too).
    for planted in [
        "quokkason",
        "Raghunathan",
        "41927356",
        &compact_iban,
        AUTHOR,
    ] {
        let found = run(xsignal()
            .args(["search", planted, "--json", "--workspace"])
            .arg(&workspace));
        assert!(
            contains(&found.stdout, r#""total":0"#),
            "the index holds {planted:?}"
        );
    }
    let all_files = files(&workspace);
    assert!(all_files.iter().any(|path| path.ends_with("store.jsonl")));
    for path in &all_files {
        let bytes = std::fs::read(path).unwrap();
        for planted in [
            EMAIL,
            "Raghunathan",
            "41927356",
            &compact_iban,
            "0532 0130",
            AUTHOR,
        ] {
            assert!(
                !contains(&bytes, planted),
                "{} holds {planted:?}",
                path.display()
            );
        }
    }
    // The key came from the environment: no key file, and the pseudonym is computable from the id.
    assert!(!workspace.join("privacy.key").exists());
    let pseudonym = PseudonymKey::from_hex(KEY).unwrap().pseudonym(AUTHOR);
    let store = read_jsonl(&workspace.join("store.jsonl"));
    assert_eq!(store[0]["author"], pseudonym.as_str());
    assert!(contains(&searched.stdout, &pseudonym));
    assert_eq!(
        store[0]["text"],
        format!("{WORD}: the thermostat reboots every night, mail me at [EMAIL]")
    );
    assert_eq!(
        store[1]["text"],
        format!("{WORD} battery drains within hours. My name is [NAME], call [PHONE]")
    );
    let report = std::fs::read_to_string(workspace.join("report.md")).unwrap();
    assert!(
        report.contains(
            "personal data replaced in this run's rows: email 6, phone 6, iban 6, name 6"
        ),
        "{report}"
    );
    // Placeholders never become key phrases.
    for topic in read_jsonl(&workspace.join("topics.jsonl")) {
        let keywords = topic["keywords"].to_string().to_lowercase();
        for placeholder in ["email", "phone", "iban", "\"name\""] {
            assert!(!keywords.contains(placeholder), "{keywords}");
        }
    }
}
