//! The nasty inputs of `tests/fixtures/nasty/` (binary garbage, NUL bytes, invalid UTF-8, stray
//! quotes, a JSON array at top level, odd timestamps, BOMs, CRLF, empty files) and a 50 MB line
//! made at run time: each file gives comments or rejects that name file, line and field, never a
//! panic, and every row is accounted for.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use xsignal::ingest::{ingest_files_at, ColumnMap, IngestConfig, IngestOutput};

use crate::common::{model_available, read_jsonl, root, run, xsignal};

fn nasty(name: &str) -> PathBuf {
    root().join("tests/fixtures/nasty").join(name)
}

/// The files and what each gives: (name, comments, rejects).
const EXPECTED: &[(&str, u64, u64)] = &[
    ("binary_garbage.jsonl", 0, 6),
    ("binary_garbage.csv", 1, 1),
    ("nul_bytes.csv", 3, 0),
    ("nul_bytes.jsonl", 1, 2),
    ("invalid_utf8.csv", 1, 2),
    ("invalid_utf8.jsonl", 1, 2),
    ("unbalanced_quotes.csv", 11, 2),
    ("json_array.jsonl", 0, 1),
    ("json_array_pretty.jsonl", 1, 3),
    ("odd_timestamps.csv", 6, 14),
    ("bom_crlf.csv", 3, 0),
    ("bom_crlf.jsonl", 2, 0),
    ("bom_only.jsonl", 0, 0),
    ("empty.jsonl", 0, 0),
    ("blank_lines.jsonl", 0, 0),
    ("header_only.csv", 0, 0),
];

fn ingest(paths: &[PathBuf]) -> IngestOutput {
    let now = Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap();
    ingest_files_at(paths, &ColumnMap::default(), &IngestConfig::default(), now).unwrap()
}

/// Every row is a comment, a reject or a repeat of an earlier row, and every reject names its file,
/// a line and a field.
fn accounted_for(output: &IngestOutput, path: &Path) {
    for file in &output.files {
        assert_eq!(
            file.rows,
            file.accepted + file.rejected + file.duplicate_rows,
            "{file:?}"
        );
    }
    let lines = std::fs::read(path)
        .unwrap()
        .iter()
        .filter(|byte| **byte == b'\n')
        .count() as u64
        + 1;
    for reject in &output.rejects {
        assert_eq!(reject.file, path.display().to_string());
        assert!((1..=lines).contains(&reject.line), "{reject:?}");
        assert!(!reject.field.is_empty(), "{reject:?}");
        assert!(
            !reject.reason.is_empty() && reject.reason.len() < 400,
            "{reject:?}"
        );
    }
}

#[test]
fn every_nasty_file_gives_comments_or_rejects() {
    for &(name, comments, rejects) in EXPECTED {
        let path = nasty(name);
        let output = ingest(std::slice::from_ref(&path));
        accounted_for(&output, &path);
        let got = (output.comments.len() as u64, output.rejects.len() as u64);
        assert_eq!(got, (comments, rejects), "{name}: {:?}", output.rejects);
        assert_eq!(output.rows_read(), comments + rejects, "{name}");
    }
    // A CSV without even a header fails as a whole, naming the file.
    let now = Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap();
    let error = ingest_files_at(
        &[nasty("empty.csv")],
        &ColumnMap::default(),
        &IngestConfig::default(),
        now,
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("empty.csv") && message.contains("empty"),
        "{message}"
    );
}

#[test]
fn a_fifty_megabyte_line_is_one_reject() {
    let temp = tempfile::tempdir().unwrap();
    let huge = "x".repeat(50 << 20);
    let jsonl = temp.path().join("huge.jsonl");
    let line =
        format!("{{\"id\":\"big\",\"text\":\"{huge}\"}}\n{{\"id\":\"small\",\"text\":\"fine\"}}\n");
    std::fs::write(&jsonl, line).unwrap();
    let csv = temp.path().join("huge.csv");
    std::fs::write(&csv, format!("id,text\nbig,{huge}\nsmall,fine\n")).unwrap();
    drop(huge);
    for path in [jsonl, csv] {
        let output = ingest(std::slice::from_ref(&path));
        accounted_for(&output, &path);
        assert_eq!(output.comments.len(), 1, "{}", path.display());
        assert_eq!(output.comments[0].id, "small");
        let reject = &output.rejects[0];
        assert_eq!(output.rejects.len(), 1);
        assert_eq!(reject.field, "text");
        assert!(
            reject.reason.contains("over the limit of 1048576"),
            "{reject:?}"
        );
    }
}

#[test]
fn analyze_takes_every_nasty_file_in_one_run() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let workspace = temp.path().join("ws");
    let paths: Vec<PathBuf> = EXPECTED.iter().map(|(name, _, _)| nasty(name)).collect();
    // What ingest makes of the files together (repeated ids across files are rejected too).
    let expected =
        xsignal::ingest::ingest_files(&paths, &ColumnMap::default(), &IngestConfig::default())
            .unwrap();
    let output = run(xsignal()
        .args(["--threads", "2", "analyze", "--workspace"])
        .arg(&workspace)
        .args(&paths));
    assert_eq!(output.status.code(), Some(0));
    let comments = read_jsonl(&workspace.join("comments.jsonl"));
    let rejects = read_jsonl(&workspace.join("rejects.jsonl"));
    assert_eq!(comments.len(), expected.comments.len());
    assert_eq!(rejects.len(), expected.rejects.len());
    assert!(!rejects.is_empty());
    for reject in &rejects {
        assert!(reject["file"]
            .as_str()
            .is_some_and(|file| file.contains("nasty")));
        assert!(reject["line"].as_u64().is_some_and(|line| line >= 1));
        assert!(reject["field"]
            .as_str()
            .is_some_and(|field| !field.is_empty()));
    }
}
