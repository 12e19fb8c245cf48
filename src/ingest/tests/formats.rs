//! Reading CSV and JSONL: every field, malformed rows rejected on their own line while the rest of
//! the file is kept, invalid UTF-8 and a byte order mark, and the same output at one and two
//! threads.

use super::*;

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
