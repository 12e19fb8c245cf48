//! Requests to the read commands: limits and queries within bounds, exit 2 past them, and output
//! that carries no raw control characters. The workspace is built through the library (no model).

use std::path::Path;

use chrono::{TimeZone, Utc};
use xsignal::index::{build, IndexDoc};
use xsignal::types::{
    Comment, EnrichedComment, Lang, Origin, Sentiment, SentimentCounts, SentimentLabel, Topic,
};

use crate::common::{run, xsignal};

const HOSTILE_TEXT: &str = "Battery drains \u{1b}]0;pwned\u{7} fast \u{1b}[1A overwritten";
const HOSTILE_ID: &str = "id\u{1b}[2J";

fn comment(id: &str, text: &str, day: u32) -> (Comment, EnrichedComment) {
    let timestamp = Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).single();
    let comment = Comment {
        id: id.to_string(),
        text: text.to_string(),
        timestamp,
        author: Some(format!("author-{day}")),
        source: Some("app\u{1b}[31mstore".to_string()),
        lang: Lang::En,
        lang_detected: false,
        rating: None,
        meta: Default::default(),
        origin: Origin {
            file: "in.csv".to_string(),
            line: u64::from(day) + 1,
        },
    };
    let enriched = EnrichedComment {
        id: id.to_string(),
        lang: Lang::En,
        timestamp,
        source: comment.source.clone(),
        sentiment: Sentiment {
            label: SentimentLabel::Negative,
            score: -0.5,
            confidence: 0.9,
        },
        sentences: Vec::new(),
        topic: Some(0),
        topic_confidence: Some(0.5),
        duplicate_of: None,
    };
    (comment, enriched)
}

/// A workspace with an index of three comments (one with escape sequences in its id, text and
/// source) and one topic whose label and representatives carry escape sequences.
fn hostile_workspace(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("store.jsonl"), "").unwrap();
    let corpus = [
        comment(HOSTILE_ID, HOSTILE_TEXT, 1),
        comment("b", "Battery life is poor", 2),
        comment("c", "Delivery was late", 3),
    ];
    let docs: Vec<IndexDoc> = corpus
        .iter()
        .map(|(comment, enriched)| IndexDoc { comment, enriched })
        .collect();
    build(&root.join("index"), &docs, 20_000_000).unwrap();
    let topic = Topic {
        id: 0,
        label: "battery \u{1b}]0;pwned\u{7}".to_string(),
        keywords: vec!["battery\u{1b}[1A".to_string()],
        size: 3,
        sentiment: SentimentCounts {
            negative: 3,
            neutral: 0,
            positive: 0,
        },
        representatives: vec![HOSTILE_ID.to_string()],
        theme: None,
        known_from: None,
        kind: Default::default(),
    };
    let line = serde_json::to_string(&topic).unwrap() + "\n";
    std::fs::write(root.join("topics.jsonl"), line).unwrap();
    std::fs::write(root.join("comments.jsonl"), "").unwrap();
}

fn stdout_has_no_control_characters(stdout: &[u8]) {
    let text = String::from_utf8_lossy(stdout);
    let raw: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(raw.is_empty(), "raw control characters {raw:?} in {text}");
}

#[test]
fn search_output_is_sanitised_and_huge_limits_are_clamped() {
    let temp = tempfile::tempdir().unwrap();
    let workspace = temp.path().join("ws");
    hostile_workspace(&workspace);
    for limit in [
        "1000000000000",
        "4611686018427387904",
        "18446744073709551615",
    ] {
        let output = run(xsignal()
            .args(["search", "battery", "--limit", limit, "--workspace"])
            .arg(&workspace));
        assert_eq!(output.status.code(), Some(0), "limit {limit}");
        stdout_has_no_control_characters(&output.stdout);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.starts_with("2 matching comments"), "{stdout}");
        assert!(stdout.contains("\\u{1b}]0;pwned\\u{7}"), "{stdout}");
        assert!(stdout.contains("id\\u{1b}[2J"), "{stdout}");
    }
    // JSON stays JSON: the encoder escapes control characters itself.
    let output = run(xsignal()
        .args([
            "search",
            "*",
            "--json",
            "--limit",
            "1000000000000",
            "--workspace",
        ])
        .arg(&workspace));
    assert_eq!(output.status.code(), Some(0));
    stdout_has_no_control_characters(&output.stdout);
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results["total"], 3);
    assert_eq!(results["hits"].as_array().unwrap().len(), 3);
    let texts: Vec<&str> = results["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&HOSTILE_TEXT), "{texts:?}");
}

#[test]
fn topics_output_is_sanitised() {
    let temp = tempfile::tempdir().unwrap();
    let workspace = temp.path().join("ws");
    hostile_workspace(&workspace);
    for extra in [&[][..], &["--id", "0"][..]] {
        let output = run(xsignal()
            .arg("topics")
            .args(extra)
            .arg("--workspace")
            .arg(&workspace));
        assert_eq!(output.status.code(), Some(0), "{extra:?}");
        stdout_has_no_control_characters(&output.stdout);
        assert!(String::from_utf8_lossy(&output.stdout).contains("battery \\u{1b}]0;pwned"));
    }
}

#[test]
fn deep_or_long_queries_exit_with_2() {
    let temp = tempfile::tempdir().unwrap();
    let workspace = temp.path().join("ws");
    hostile_workspace(&workspace);
    let deep = format!("{}battery{}", "(".repeat(30), ")".repeat(30));
    let long = "battery ".repeat(10_000);
    for (query, says) in [(deep, "deep"), (long, "bytes long")] {
        let output = run(xsignal()
            .args(["search", &query, "--workspace"])
            .arg(&workspace));
        assert_eq!(output.status.code(), Some(2), "{says}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.len() < 300, "{stderr}");
    }
    // Nesting within the bound still works.
    let output = run(xsignal()
        .args(["search", "((battery) AND (poor))", "--workspace"])
        .arg(&workspace));
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("1 matching comments"));
}
