use std::path::PathBuf;

use super::*;
use crate::types::Lang;

fn write(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn ingest(paths: &[PathBuf]) -> IngestOutput {
    ingest_files(paths, &ColumnMap::default(), &IngestConfig::default()).unwrap()
}

fn ids(output: &IngestOutput) -> Vec<&str> {
    output.comments.iter().map(|c| c.id.as_str()).collect()
}

/// Asserts that there is exactly one reject and that it matches.
fn assert_single_reject(
    output: &IngestOutput,
    path: &Path,
    line: u64,
    field: &str,
    fragment: &str,
) {
    assert_eq!(output.rejects.len(), 1, "rejects: {:?}", output.rejects);
    let only = &output.rejects[0];
    assert_eq!(only.file, path.display().to_string());
    assert_eq!(only.line, line, "{only:?}");
    assert_eq!(only.field, field, "{only:?}");
    assert!(
        only.reason.contains(fragment),
        "reason {:?} lacks {fragment:?}",
        only.reason
    );
}

const HEADER: &str = "id,text,timestamp,author,source,lang,rating\n";

fn csv_file(dir: &tempfile::TempDir, rows: &str) -> PathBuf {
    write(dir, "in.csv", format!("{HEADER}{rows}").as_bytes())
}

#[test]
fn csv_reads_all_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "in.csv",
        b"id,text,timestamp,author,source,lang,rating,store\n\
          a1,\"  Great app, love it \",2024-03-01T10:00:00+01:00, u1 ,appstore,en,4.5,de\n\
          a2,\"Zwei\nZeilen\",,,,de,,\n",
    );
    let output = ingest(std::slice::from_ref(&path));
    assert!(output.rejects.is_empty(), "{:?}", output.rejects);
    assert_eq!(ids(&output), ["a1", "a2"]);
    let first = &output.comments[0];
    assert_eq!(first.text, "Great app, love it");
    assert_eq!(
        first.timestamp.unwrap().to_rfc3339(),
        "2024-03-01T09:00:00+00:00"
    );
    assert_eq!(first.author.as_deref(), Some("u1"));
    assert_eq!(first.source.as_deref(), Some("appstore"));
    assert_eq!((first.lang, first.lang_detected), (Lang::En, false));
    assert_eq!(first.rating, Some(4.5));
    assert_eq!(first.meta.get("store"), Some(&serde_json::json!("de")));
    assert_eq!(
        first.origin,
        Origin {
            file: path.display().to_string(),
            line: 2
        }
    );
    let second = &output.comments[1];
    assert_eq!(second.text, "Zwei\nZeilen");
    assert_eq!(second.origin.line, 3);
    assert_eq!(
        (second.timestamp, second.author.as_deref(), second.rating),
        (None, None, None)
    );
    assert_eq!(second.meta.get("store"), Some(&serde_json::json!("")));
    assert_eq!(
        output.files,
        vec![FileStats {
            file: path.display().to_string(),
            format: "csv".to_string(),
            rows: 2,
            accepted: 2,
            rejected: 0,
            duplicate_rows: 0,
        }]
    );
}

#[test]
fn jsonl_reads_all_fields_and_keeps_meta_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "in.ndjson",
        br#"{"id": 17, "text": " Slow checkout ", "timestamp": 1709287200, "author": 42, "rating": "3", "lang": "en-US", "extra": {"a": [1, 2]}, "n": 1.5}
{"text": "second", "timestamp": null, "author": "  ", "lang": ""}
"#,
    );
    let output = ingest(std::slice::from_ref(&path));
    assert!(output.rejects.is_empty(), "{:?}", output.rejects);
    let first = &output.comments[0];
    assert_eq!(first.id, "17");
    assert_eq!(first.text, "Slow checkout");
    assert_eq!(
        first.timestamp.unwrap().to_rfc3339(),
        "2024-03-01T10:00:00+00:00"
    );
    assert_eq!(first.author.as_deref(), Some("42"));
    assert_eq!(first.rating, Some(3.0));
    assert_eq!(first.lang, Lang::En);
    assert_eq!(
        first.meta.get("extra"),
        Some(&serde_json::json!({"a": [1, 2]}))
    );
    assert_eq!(first.meta.get("n"), Some(&serde_json::json!(1.5)));
    assert_eq!(first.meta.len(), 2);
    let second = &output.comments[1];
    assert!(second.id.starts_with('h'));
    assert_eq!((second.timestamp, second.author.as_deref()), (None, None));
    assert!(second.lang_detected);
    assert_eq!(output.files[0].format, "jsonl");
}

#[test]
fn empty_and_missing_text_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(&dir, "1,good one,,,,,\n2,   ,,,,,\n3,good two,,,,,\n");
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(&output, &path, 3, "text", "text is empty");
    assert_eq!(ids(&output), ["1", "3"]);

    let path = write(&dir, "in.jsonl", b"{\"id\":\"1\",\"text\":\"ok\"}\n{\"id\":\"2\"}\n{\"id\":\"3\",\"text\":null}\n{\"id\":\"4\",\"text\":\"ok\"}\n");
    let output = ingest(std::slice::from_ref(&path));
    assert_eq!(output.rejects.len(), 2);
    assert_eq!(
        output
            .rejects
            .iter()
            .map(|r| (r.line, r.field.as_str(), r.reason.as_str()))
            .collect::<Vec<_>>(),
        [
            (2, "text", "text is missing"),
            (3, "text", "text is missing")
        ]
    );
    assert_eq!(ids(&output), ["1", "4"]);
}

#[test]
fn over_long_text_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let long = "ä".repeat(40);
    let path = csv_file(
        &dir,
        &format!("1,short,,,,,\n2,{long},,,,,\n3,also short,,,,,\n"),
    );
    let config = IngestConfig {
        max_text_bytes: 50,
        ..IngestConfig::default()
    };
    let output = ingest_files(std::slice::from_ref(&path), &ColumnMap::default(), &config).unwrap();
    assert_single_reject(
        &output,
        &path,
        3,
        "text",
        "text is 80 bytes, over the limit of 50 (ingest.max_text_bytes)",
    );
    assert_eq!(ids(&output), ["1", "3"]);
    let unlimited = IngestConfig {
        max_text_bytes: 0,
        ..IngestConfig::default()
    };
    let output = ingest_files(&[path], &ColumnMap::default(), &unlimited).unwrap();
    assert_eq!(output.comments.len(), 3);
}

#[test]
fn bad_timestamp_is_rejected_and_missing_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(
        &dir,
        "1,fine,2024-03-01,,,,\n2,when?,yesterday,,,,\n3,no time,,,,,\n",
    );
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(
        &output,
        &path,
        3,
        "timestamp",
        "cannot parse \"yesterday\" as a timestamp (expected RFC 3339, \"YYYY-MM-DD HH:MM:SS\", \"YYYY-MM-DD\" or unix seconds)",
    );
    assert_eq!(ids(&output), ["1", "3"]);
    assert_eq!(output.comments[1].timestamp, None);
}

#[test]
fn timestamp_forms_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(
        &dir,
        "1,a,2024-03-01T12:00:00+02:00,,,,\n2,b,2024-03-01 10:00:00,,,,\n3,c,2024-03-01T10:00:00,,,,\n\
         4,d,2024-03-01,,,,\n5,e,1709287200,,,,\n6,f,2024-03-01T10:00:00Z,,,,\n",
    );
    let output = ingest(&[path]);
    assert!(output.rejects.is_empty(), "{:?}", output.rejects);
    let stamps: Vec<String> = output
        .comments
        .iter()
        .map(|c| c.timestamp.unwrap().format("%Y-%m-%d %H:%M:%S").to_string())
        .collect();
    assert_eq!(
        stamps,
        [
            "2024-03-01 10:00:00",
            "2024-03-01 10:00:00",
            "2024-03-01 10:00:00",
            "2024-03-01 00:00:00",
            "2024-03-01 10:00:00",
            "2024-03-01 10:00:00"
        ]
    );
}

#[test]
fn bad_rating_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(&dir, "1,ok,,,,,5\n2,meh,,,,,five stars\n3,ok too,,,,,\n");
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(
        &output,
        &path,
        3,
        "rating",
        "cannot parse \"five stars\" as a rating",
    );
    assert_eq!(ids(&output), ["1", "3"]);
    assert_eq!(output.comments[0].rating, Some(5.0));
}

#[test]
fn csv_wrong_field_count_rejects_only_that_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(&dir, "1,ok,,,,,\n2,short,,,\n3,long,,,,,,,\n4,fine,,,,,\n");
    let output = ingest(std::slice::from_ref(&path));
    assert_eq!(output.rejects.len(), 2, "{:?}", output.rejects);
    assert_eq!(
        (output.rejects[0].line, output.rejects[0].field.as_str()),
        (3, "row")
    );
    assert_eq!(output.rejects[0].reason, "row has 5 fields, header has 7");
    assert_eq!(output.rejects[1].line, 4);
    assert_eq!(output.rejects[1].reason, "row has 9 fields, header has 7");
    assert_eq!(ids(&output), ["1", "4"]);
    assert_eq!(output.files[0].rows, 4);
    assert_eq!(output.files[0].rejected, 2);
}

#[test]
fn csv_unterminated_quote_mid_file_keeps_later_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(
        &dir,
        "1,ok,,,,,\n2,\"broken quote,,,,,\n3,still good,,,,,\n4,\"quoted, fine\",,,,,\n5,last,,,,,\n",
    );
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(&output, &path, 3, "row", "unterminated quoted field");
    assert_eq!(ids(&output), ["1", "3", "4", "5"]);
    assert_eq!(output.comments[2].text, "quoted, fine");
    assert_eq!(output.comments[3].origin.line, 6);
}

#[test]
fn csv_unterminated_quote_to_end_of_file_keeps_later_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(
        &dir,
        "1,ok,,,,,\n2,\"never closed,,,,,\n3,good,,,,,\n4,good too,,,,,\n",
    );
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(&output, &path, 3, "row", "unterminated quoted field");
    assert_eq!(ids(&output), ["1", "3", "4"]);
    assert_eq!(output.comments[2].origin.line, 5);

    // The last row itself is unterminated.
    let path = csv_file(&dir, "1,ok,,,,,\n2,\"never closed,,,,,");
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(&output, &path, 3, "row", "to the end of the file");
    assert_eq!(ids(&output), ["1"]);
}

#[test]
fn csv_stray_quote_is_confined_to_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = String::from("q1,First row,,,,,\n");
    rows.push_str("q2,\"opens a quote that never closes,,,,,\n");
    for n in 3..=10 {
        rows.push_str(&format!("q{n},Good row number {n},,,,,\n"));
    }
    rows.push_str("q11,Row with \"inner quotes\" in it,,,,,\n");
    rows.push_str("q12,\"A quoted field\nover two lines\",,,,,\n");
    rows.push_str("q13,Last row,,,,,\n");
    let path = csv_file(&dir, &rows);
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(&output, &path, 3, "row", "unterminated quoted field");
    let expected: Vec<String> = [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
        .iter()
        .map(|n| format!("q{n}"))
        .collect();
    assert_eq!(ids(&output), expected);
    assert_eq!(output.comments[9].text, "Row with \"inner quotes\" in it");
    assert_eq!(output.comments[10].text, "A quoted field\nover two lines");
    assert_eq!(output.comments[11].origin.line, 15);
    assert_eq!(output.files[0].rows, 13);
}

#[test]
fn csv_blank_lines_are_skipped_and_lines_stay_right() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(&dir, "\n1,a,,,,,\n\n\n2,b,,,,,\r\n   \n3,,,,,,\n");
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(&output, &path, 8, "text", "text is empty");
    let lines: Vec<u64> = output.comments.iter().map(|c| c.origin.line).collect();
    assert_eq!(lines, [3, 6]);
    assert_eq!(output.files[0].rows, 3);
}

#[test]
fn jsonl_bad_lines_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "in.jsonl",
        b"{\"id\":\"1\",\"text\":\"ok\"}\n\
          {\"id\":\"2\",\"text\":\"oops\"\n\
          \n\
          [1,2,3]\n\
          {\"id\":\"4\",\"text\":12}\n\
          {\"id\":\"5\",\"text\":\"ok\"}\n",
    );
    let output = ingest(std::slice::from_ref(&path));
    let got: Vec<(u64, &str)> = output
        .rejects
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect();
    assert_eq!(got, [(2, "row"), (4, "row"), (5, "text")]);
    assert!(
        output.rejects[0].reason.starts_with("malformed json: "),
        "{:?}",
        output.rejects[0]
    );
    assert_eq!(output.rejects[1].reason, "expected a json object");
    assert_eq!(output.rejects[2].reason, "expected a string");
    assert!(output
        .rejects
        .iter()
        .all(|r| r.file == path.display().to_string()));
    assert_eq!(ids(&output), ["1", "5"]);
    assert_eq!(output.comments[1].origin.line, 6);
    assert_eq!(output.files[0].rows, 5);
}

#[test]
fn invalid_utf8_rejects_only_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = HEADER.as_bytes().to_vec();
    content.extend_from_slice(
        b"1,ok,,,,,\n2,bad \xff text,,,,,\n3,fine,,bad\xc3author,,,\n4,\xc3\xa4 good,,,,,\n",
    );
    let path = write(&dir, "in.csv", &content);
    let output = ingest(std::slice::from_ref(&path));
    assert_eq!(output.rejects.len(), 2, "{:?}", output.rejects);
    assert_eq!(
        (
            output.rejects[0].line,
            output.rejects[0].field.as_str(),
            output.rejects[0].reason.as_str()
        ),
        (3, "text", "invalid utf-8 at byte 4 of the text")
    );
    assert_eq!(
        (output.rejects[1].line, output.rejects[1].field.as_str()),
        (4, "row")
    );
    assert!(output.rejects[1]
        .reason
        .contains("invalid utf-8 at byte 3 of column \"author\""));
    assert_eq!(ids(&output), ["1", "4"]);
    assert_eq!(output.comments[1].text, "ä good");

    let path = write(&dir, "in.jsonl", b"{\"id\":\"1\",\"text\":\"ok\"}\n{\"id\":\"2\",\"text\":\"b\xffd\"}\n{\"id\":\"3\",\"text\":\"ok\"}\n");
    let output = ingest(std::slice::from_ref(&path));
    assert_single_reject(&output, &path, 2, "text", "invalid utf-8 at byte");
    assert_eq!(ids(&output), ["1", "3"]);
}

#[test]
fn byte_order_mark_is_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = b"\xEF\xBB\xBF".to_vec();
    csv.extend_from_slice(b"id,text\n1,hello\n");
    let csv_path = write(&dir, "bom.csv", &csv);
    let mut jsonl = b"\xEF\xBB\xBF".to_vec();
    jsonl.extend_from_slice(b"{\"id\":\"2\",\"text\":\"hi\"}\n");
    let jsonl_path = write(&dir, "bom.jsonl", &jsonl);
    let output = ingest(&[csv_path, jsonl_path]);
    assert!(output.rejects.is_empty(), "{:?}", output.rejects);
    assert_eq!(ids(&output), ["1", "2"]);
    assert!(output.comments[0].meta.is_empty());
}

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
fn derived_ids_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        &dir,
        "a.csv",
        b"text,author,timestamp\nSame words,u1,2024-03-01\nSame words,u2,2024-03-01\n",
    );
    let jsonl = write(
        &dir,
        "b.jsonl",
        b"{\"text\":\"Same words\",\"author\":\"u1\",\"timestamp\":\"2024-03-01T00:00:00Z\"}\n",
    );
    let first = ingest(std::slice::from_ref(&csv));
    let again = ingest(std::slice::from_ref(&csv));
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(first.comments.len(), 2);
    assert_ne!(first.comments[0].id, first.comments[1].id);
    assert!(first
        .comments
        .iter()
        .all(|c| c.id.len() == 17 && c.id.starts_with('h')));
    // Same content in another format, another timestamp spelling: the same id, so a duplicate row.
    let both = ingest(&[csv, jsonl]);
    assert_eq!(both.comments.len(), 2);
    assert_eq!(both.files[1].duplicate_rows, 1);
    assert!(both.rejects.is_empty());
}

#[test]
fn duplicate_ids() {
    let dir = tempfile::tempdir().unwrap();
    let first = csv_file(
        &dir,
        "x,hello,2024-03-01,u1,,,\ny,other,,,,,\nx,hello,2024-03-01,u1,web,,\n",
    );
    let second = write(
        &dir,
        "more.jsonl",
        b"{\"id\":\"x\",\"text\":\"hello again\"}\n{\"id\":\"z\",\"text\":\"new\"}\n{\"id\":\"y\",\"text\":\"other\"}\n",
    );
    let output = ingest(&[first.clone(), second.clone()]);
    assert_single_reject(
        &output,
        &second,
        1,
        "id",
        &format!("duplicate id \"x\" (first seen at {}:2)", first.display()),
    );
    assert_eq!(ids(&output), ["x", "y", "z"]);
    // The same content again (source does not count) is a duplicate row, not a reject.
    assert_eq!(output.comments[0].source, None);
    assert_eq!(
        (
            output.files[0].rows,
            output.files[0].accepted,
            output.files[0].duplicate_rows
        ),
        (3, 2, 1)
    );
    assert_eq!(
        (
            output.files[1].rows,
            output.files[1].accepted,
            output.files[1].rejected,
            output.files[1].duplicate_rows
        ),
        (3, 1, 1, 1)
    );
}

#[test]
fn language_is_detected_when_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "in.jsonl",
        "{\"id\":\"en\",\"text\":\"The delivery was late again and nobody answered my emails about it.\"}\n\
         {\"id\":\"de\",\"text\":\"Die Lieferung kam wieder zu spät und niemand hat auf meine E-Mails geantwortet.\"}\n\
         {\"id\":\"given\",\"text\":\"The delivery was late again and nobody answered my emails about it.\",\"lang\":\"de\"}\n"
            .as_bytes(),
    );
    let output = ingest(&[path]);
    let langs: Vec<(Lang, bool)> = output
        .comments
        .iter()
        .map(|c| (c.lang, c.lang_detected))
        .collect();
    assert_eq!(
        langs,
        [(Lang::En, true), (Lang::De, true), (Lang::De, false)]
    );
}

#[test]
fn output_is_the_same_at_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from(HEADER);
    let mut jsonl = String::new();
    for index in 0..600 {
        let text = if index % 2 == 0 {
            format!("The app number {index} keeps crashing when I open the settings page")
        } else {
            format!("Die App Nummer {index} stürzt ab, sobald ich die Einstellungen öffne")
        };
        let timestamp = if index % 97 == 0 {
            "soon"
        } else {
            "2024-03-01 10:00:00"
        };
        let id = if index % 50 == 0 {
            String::new()
        } else {
            format!("c{}", index % 550)
        };
        csv.push_str(&format!("{id},\"{text}\",{timestamp},u{},,,\n", index % 13));
        jsonl.push_str(&serde_json::json!({"id": format!("j{index}"), "text": text}).to_string());
        jsonl.push('\n');
    }
    let paths = [
        write(&dir, "big.csv", csv.as_bytes()),
        write(&dir, "big.jsonl", jsonl.as_bytes()),
    ];
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| ingest(&paths))
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one, two);
    assert!(!one.rejects.is_empty());
    assert!(one.comments.len() > 1000);
}

/// Measures language detection on the shared labelled data (skipped when it is absent).
#[test]
fn language_detection_on_shared_data() {
    let sets = [
        ("../shared/data/sentiment/sst2/dev.jsonl", Lang::En),
        (
            "../shared/data/sentiment/tweeteval/validation.jsonl",
            Lang::En,
        ),
        ("../shared/data/sentiment/germeval2017/dev.jsonl", Lang::De),
        (
            "../shared/data/sentiment/umsab/de_validation.jsonl",
            Lang::De,
        ),
    ];
    for (file, expected) in sets {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        if !path.exists() {
            println!("skipping {file}: not present");
            continue;
        }
        // Drop the given language so that it is detected.
        let columns = ColumnMap {
            lang: "no-such-key".to_string(),
            ..ColumnMap::default()
        };
        let output = ingest_files(&[path], &columns, &IngestConfig::default()).unwrap();
        let total = output.comments.len();
        let right = output
            .comments
            .iter()
            .filter(|c| c.lang == expected)
            .count();
        let accuracy = right as f64 / total.max(1) as f64;
        println!("{file}: {right}/{total} detected as {expected:?} ({accuracy:.3})");
        assert!(accuracy > 0.9, "{file}: accuracy {accuracy:.3}");
    }
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

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn timestamps_before_1970_or_past_the_run_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv_file(
        &dir,
        "1,ok,2026-03-01T10:00:00Z,,,,\n\
         2,typo in the year,0026-03-01T10:00:00Z,,,,\n\
         3,negative seconds,-5,,,,\n\
         4,the epoch itself,1970-01-01T00:00:00Z,,,,\n\
         5,within a day,2026-03-11T09:00:00Z,,,,\n\
         6,too far ahead,2026-03-11T10:00:01Z,,,,\n\
         7,far future,9999-12-31,,,,\n",
    );
    let now = at("2026-03-10T10:00:00Z");
    let output = ingest_files_at(
        std::slice::from_ref(&path),
        &ColumnMap::default(),
        &IngestConfig::default(),
        now,
    )
    .unwrap();
    assert_eq!(ids(&output), ["1", "4", "5"]);
    let rejected: Vec<(u64, &str, &str)> = output
        .rejects
        .iter()
        .map(|r| (r.line, r.field.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert_eq!(
        rejected[0],
        (
            3,
            "timestamp",
            "timestamp 0026-03-01T10:00:00Z is before 1970-01-01T00:00:00Z"
        )
    );
    assert_eq!(rejected[1].0, 4);
    assert!(
        rejected[1].2.contains("cannot parse \"-5\""),
        "{:?}",
        rejected[1]
    );
    assert_eq!(
        rejected[2],
        (
            7,
            "timestamp",
            "timestamp 2026-03-11T10:00:01Z is more than 24 hours after the time of the run (ingest.max_future_hours)"
        )
    );
    assert_eq!(rejected[3].0, 8);

    // JSON numbers: negative unix seconds are before 1970.
    let path = write(
        &dir,
        "in.jsonl",
        b"{\"id\":\"n\",\"text\":\"x\",\"timestamp\":-86400}\n{\"id\":\"z\",\"text\":\"y\",\"timestamp\":0}\n",
    );
    let output = ingest_files_at(
        &[path],
        &ColumnMap::default(),
        &IngestConfig::default(),
        now,
    )
    .unwrap();
    assert_eq!(ids(&output), ["z"]);
    assert!(
        output.rejects[0].reason.contains("before 1970"),
        "{:?}",
        output.rejects
    );

    // A wider allowance lets the future row in.
    let config = IngestConfig {
        max_future_hours: 48.0,
        ..IngestConfig::default()
    };
    let path = csv_file(&dir, "6,too far ahead,2026-03-11T10:00:01Z,,,,\n");
    let output = ingest_files_at(&[path], &ColumnMap::default(), &config, now).unwrap();
    assert_eq!(ids(&output), ["6"]);
}

#[test]
fn long_texts_up_to_a_mebibyte_are_accepted_whole() {
    let dir = tempfile::tempdir().unwrap();
    let long = "A long post about the update. ".repeat(2_000);
    let too_long = "x".repeat(MAX_TEXT_BYTES + 1);
    let content = format!("id,text\n61k,{long}\nhuge,{too_long}\n");
    let path = write(&dir, "long.csv", content.as_bytes());
    let output = ingest(std::slice::from_ref(&path));
    assert_eq!(ids(&output), ["61k"]);
    assert_eq!(output.comments[0].text, long.trim());
    assert_single_reject(&output, &path, 3, "text", "over the limit of 1048576");
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
