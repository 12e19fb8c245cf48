//! Generated input for the CSV reader, the JSONL reader and the timestamp parser: no panic, and
//! every reject names a line of the input and a field. See [`crate::fuzz`] for the case count.

use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::Value;

use super::row::{check_time_bounds, parse_timestamp, Cell, RowLimits};
use super::*;
use crate::fuzz;

const CSV_PIECES: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b"\t",
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"a",
    b"word",
    b"1",
    b"-7",
    b"2026-03-01T10:00:00Z",
    b"0026-03-01",
    b"\xff",
    b"\xc3",
    b"\0",
    "ä".as_bytes(),
    "😀".as_bytes(),
    b"\xEF\xBB\xBF",
    b"id,text,timestamp\n",
    b"text",
    b"q2,\"opens",
    b"\",",
    b"{\"a\":1}",
];

const JSONL_PIECES: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\n",
    b"\r\n",
    b" ",
    b"\"text\"",
    b"\"timestamp\"",
    b"\"id\"",
    b"\"rating\"",
    b"\"lang\"",
    b"\"hello\"",
    b"1",
    b"-1",
    b"1e999",
    b"1.5",
    b"null",
    b"true",
    b"\\u0000",
    b"\\ud800",
    b"\\n",
    b"\xff",
    b"\0",
    b"\"2026-03-01 10:00:00\"",
    b"{\"text\":\"ok\"}",
    b"[1,2]",
];

fn limits() -> RowLimits {
    let now = Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap();
    RowLimits::new(&IngestConfig::default(), now)
}

/// Lines a reject may name: 1 to one past the last line.
fn line_count(content: &[u8]) -> u64 {
    content.iter().filter(|byte| **byte == b'\n').count() as u64 + 1
}

fn check_outcomes(
    outcomes: &[RowOutcome],
    content: &[u8],
) -> std::result::Result<(), TestCaseError> {
    let lines = line_count(content);
    for outcome in outcomes {
        let (line, field) = match outcome {
            RowOutcome::Accepted(comment) => (comment.origin.line, "text"),
            RowOutcome::Rejected(reject) => (reject.line, reject.field.as_str()),
        };
        prop_assert!((1..=lines).contains(&line), "line {line} of {lines}");
        prop_assert!(!field.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn csv_reader_never_panics(
        with_header in proptest::bool::weighted(0.8),
        tab in any::<bool>(),
        body in fuzz::pieces(CSV_PIECES, 40),
    ) {
        let mut content = if with_header { b"id,text,timestamp\n".to_vec() } else { Vec::new() };
        content.extend_from_slice(&body);
        let delimiter = if tab { b'\t' } else { b',' };
        let columns = ColumnMap::default();
        if let Ok(outcomes) = parse_csv(&content, delimiter, "fuzz.csv", &columns, &limits()) {
            check_outcomes(&outcomes, &content)?;
        }
    }

    #[test]
    fn jsonl_reader_never_panics(content in fuzz::pieces(JSONL_PIECES, 40)) {
        let outcomes = parse_jsonl(&content, "fuzz.jsonl", &ColumnMap::default(), &limits());
        let non_blank = content
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .count();
        // One outcome per non-blank line: nothing is lost.
        prop_assert_eq!(outcomes.len(), non_blank);
        check_outcomes(&outcomes, &content)?;
    }

    #[test]
    fn timestamp_parser_never_panics(
        text in prop_oneof![
            any::<String>(),
            "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}([T ][0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3}(\\.[0-9]{0,12})?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?",
            "-?[0-9]{1,25}",
        ],
        seconds in any::<i64>(),
        float in any::<f64>(),
    ) {
        let limits = limits();
        let number = Value::from(seconds);
        let float = serde_json::Number::from_f64(float).map_or(Value::Null, Value::Number);
        for cell in [Cell::Str(&text), Cell::Json(&number), Cell::Json(&float)] {
            if let Ok(Some(time)) = parse_timestamp(cell) {
                if check_time_bounds(time, &limits).is_ok() {
                    prop_assert!(time >= DateTime::UNIX_EPOCH && time <= limits.latest);
                }
            }
        }
    }
}
