//! The checks of a row's fields: empty, missing and over-long texts, timestamps (their forms and
//! bounds) and ratings.

use super::*;

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
