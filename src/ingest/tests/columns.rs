//! The column mapping (custom names, TSV, a likely column left unmapped) and the errors that fail
//! the whole call (no text column, an unknown format, a missing or empty file, a huge header).

use super::*;

#[test]
fn custom_column_names_and_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "in.tsv",
        "Comment ID\tFeedback\tCreated\tUser\tChannel\tLanguage\tStars\tTeam\n\
         c1\tDie Wartezeit war viel zu lang\t2024-01-05\tu9\tsurvey\tde\t2\tops\n"
            .as_bytes(),
    );
    let columns = ColumnMap {
        id: "Comment ID".to_string(),
        text: "feedback".to_string(), // case-insensitive fallback
        timestamp: "Created".to_string(),
        author: "User".to_string(),
        source: "Channel".to_string(),
        lang: "Language".to_string(),
        rating: "Stars".to_string(),
        allow_missing: false,
    };
    let output = ingest_files(
        std::slice::from_ref(&path),
        &columns,
        &IngestConfig::default(),
    )
    .unwrap();
    assert!(output.rejects.is_empty(), "{:?}", output.rejects);
    let comment = &output.comments[0];
    assert_eq!(comment.id, "c1");
    assert_eq!(comment.text, "Die Wartezeit war viel zu lang");
    assert_eq!(comment.author.as_deref(), Some("u9"));
    assert_eq!(comment.source.as_deref(), Some("survey"));
    assert_eq!((comment.lang, comment.lang_detected), (Lang::De, false));
    assert_eq!(comment.rating, Some(2.0));
    assert_eq!(comment.meta.len(), 1);
    assert_eq!(comment.meta.get("Team"), Some(&serde_json::json!("ops")));
    assert_eq!(output.files[0].format, "tsv");
}

#[test]
fn missing_text_column_unknown_format_and_missing_file_fail_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "no_text.csv", b"id,body\n1,hello\n");
    let error = ingest_files(&[path], &ColumnMap::default(), &IngestConfig::default()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::MissingColumn(_)));
    assert!(message.contains("no_text.csv"), "{message}");
    assert!(message.contains("no column \"text\""), "{message}");
    assert!(message.contains("\"id\", \"body\""), "{message}");
    assert!(
        message.contains("column \"body\" looks like it: map it with --text-col \"body\""),
        "{message}"
    );

    let good = write(&dir, "good.csv", b"id,text\n1,hello\n");
    let unknown = write(&dir, "data.xlsx", b"whatever");
    let error = ingest_files(
        &[good.clone(), unknown],
        &ColumnMap::default(),
        &IngestConfig::default(),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("data.xlsx: unknown input format (expected .csv, .tsv, .jsonl or .ndjson)"),
        "{error}"
    );

    let missing = dir.path().join("missing.jsonl");
    let error = ingest_files(
        &[good, missing],
        &ColumnMap::default(),
        &IngestConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error}");

    let empty = write(&dir, "empty.csv", b"");
    let error =
        ingest_files(&[empty], &ColumnMap::default(), &IngestConfig::default()).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
}

#[test]
fn a_huge_header_without_the_text_column_gives_a_short_error() {
    let dir = tempfile::tempdir().unwrap();
    // One header line of about 5 MB: 50,000 columns of 100 bytes.
    let names: Vec<String> = (0..50_000)
        .map(|i| format!("{}{i:05}", "column_name_".repeat(8)))
        .collect();
    let content = format!(
        "{}\n{}\n",
        names.join(","),
        vec!["x"; names.len()].join(",")
    );
    let path = write(&dir, "wide.csv", content.as_bytes());
    let error = ingest_files(&[path], &ColumnMap::default(), &IngestConfig::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.len() < 2_500, "{} bytes", message.len());
    assert!(message.contains("50000 columns"), "{message}");
    assert!(message.contains("(49980 more)"), "{message}");
}

#[test]
fn a_likely_timestamp_or_id_column_left_unmapped_refuses_the_file_with_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "posted.csv",
        b"id,text,posted_at,user\nq1,Battery drains fast,2026-02-01T10:00:00Z,u1\n",
    );
    let error = ingest_files(
        std::slice::from_ref(&path),
        &ColumnMap::default(),
        &IngestConfig::default(),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::MissingColumn(_)), "{message}");
    assert!(
        message.contains("posted.csv: no column \"timestamp\""),
        "{message}"
    );
    assert!(
        message.contains("\"id\", \"text\", \"posted_at\", \"user\""),
        "{message}"
    );
    assert!(message.contains("--time-col \"posted_at\""), "{message}");
    assert!(message.contains("--allow-missing-columns"), "{message}");

    // Mapped: the timestamp is read; the id comes from the id column, so it is the same id as a
    // run that had opted out of the timestamp, and the store skips it instead of duplicating it.
    let mapped = ColumnMap {
        timestamp: "posted_at".to_string(),
        ..ColumnMap::default()
    };
    let output = ingest_files(
        std::slice::from_ref(&path),
        &mapped,
        &IngestConfig::default(),
    )
    .unwrap();
    assert_eq!(output.comments.len(), 1);
    assert!(output.comments[0].timestamp.is_some());
    let opted_out = ColumnMap {
        allow_missing: true,
        ..ColumnMap::default()
    };
    let without = ingest_files(
        std::slice::from_ref(&path),
        &opted_out,
        &IngestConfig::default(),
    )
    .unwrap();
    assert_eq!(without.comments[0].timestamp, None);
    assert_eq!(without.comments[0].id, output.comments[0].id);

    // A missing id column with a likely one is refused too: derived ids would change with the
    // mapping. Columns without a likely match stay optional.
    let review = write(&dir, "review.csv", b"review_id,text\nr1,Fine\n");
    let error =
        ingest_files(&[review], &ColumnMap::default(), &IngestConfig::default()).unwrap_err();
    assert!(
        error.to_string().contains("--id-col \"review_id\""),
        "{error}"
    );
    let plain = write(&dir, "plain.csv", b"text,team\nFine,ops\n");
    let output = ingest_files(&[plain], &ColumnMap::default(), &IngestConfig::default()).unwrap();
    assert_eq!(output.comments.len(), 1);
}
