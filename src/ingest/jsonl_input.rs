//! Splits JSONL bytes into lines (sequential, cheap) and converts one line into a comment (run in
//! parallel by the caller).

use serde_json::Value;

use super::row::{build_comment, Cell, RowCells, RowLimits, RowProblem};
use super::ColumnMap;
use crate::types::{Comment, Origin};

/// Splits `content` (BOM already removed) at `\n` into (1-based line, bytes without the line end);
/// blank lines are left out.
pub(crate) fn split_lines(content: &[u8]) -> Vec<(u64, &[u8])> {
    content
        .split(|byte| *byte == b'\n')
        .enumerate()
        .filter_map(|(index, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let blank = line.iter().all(u8::is_ascii_whitespace);
            (!blank).then_some((index as u64 + 1, line))
        })
        .collect()
}

/// Converts one JSON line into a comment.
pub(crate) fn convert_line(
    bytes: &[u8],
    columns: &ColumnMap,
    origin: Origin,
    limits: &RowLimits,
) -> Result<Comment, RowProblem> {
    let line = match std::str::from_utf8(bytes) {
        Ok(line) => line,
        Err(error) => return Err(invalid_utf8(bytes, error.valid_up_to(), columns)),
    };
    let value: Value = serde_json::from_str(line)
        .map_err(|error| RowProblem::new("row", format!("malformed json: {error}")))?;
    let Value::Object(mut object) = value else {
        return Err(RowProblem::new("row", "expected a json object"));
    };
    let mapped = [
        &columns.id,
        &columns.text,
        &columns.timestamp,
        &columns.author,
        &columns.source,
        &columns.lang,
        &columns.rating,
    ];
    let mut meta = serde_json::Map::new();
    let mut mapped_values = serde_json::Map::new();
    for (key, value) in std::mem::take(&mut object) {
        if mapped.contains(&&key) {
            mapped_values.insert(key, value);
        } else {
            meta.insert(key, value);
        }
    }
    let cell = |key: &String| Cell::from_json(mapped_values.get(key));
    let cells = RowCells {
        id: cell(&columns.id),
        text: cell(&columns.text),
        timestamp: cell(&columns.timestamp),
        author: cell(&columns.author),
        source: cell(&columns.source),
        lang: cell(&columns.lang),
        rating: cell(&columns.rating),
    };
    build_comment(&cells, meta, origin, limits)
}

/// The reject for a line with invalid UTF-8: field `text` when the bad bytes are in the text value
/// (judged on a lossy decoding of the line), else `row`.
fn invalid_utf8(bytes: &[u8], valid_up_to: usize, columns: &ColumnMap) -> RowProblem {
    let reason = format!("invalid utf-8 at byte {valid_up_to} of the line");
    let lossy = String::from_utf8_lossy(bytes);
    let in_text = serde_json::from_str::<Value>(&lossy)
        .ok()
        .and_then(|value| {
            value
                .get(&columns.text)
                .and_then(Value::as_str)
                .map(|text| text.contains(char::REPLACEMENT_CHARACTER))
        })
        .unwrap_or(false);
    RowProblem::new(if in_text { "text" } else { "row" }, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_skips_blank_ones() {
        let lines = split_lines(b"{\"a\":1}\r\n\n  \n{\"b\":2}");
        assert_eq!(lines, vec![(1, &b"{\"a\":1}"[..]), (4, &b"{\"b\":2}"[..])]);
    }

    #[test]
    fn invalid_utf8_field_attribution() {
        let columns = ColumnMap::default();
        let in_text = invalid_utf8(b"{\"text\":\"ab\xff\"}", 11, &columns);
        assert_eq!(in_text.field, "text");
        let elsewhere = invalid_utf8(b"{\"text\":\"ab\",\"x\":\"\xff\"}", 18, &columns);
        assert_eq!(elsewhere.field, "row");
        assert_eq!(elsewhere.reason, "invalid utf-8 at byte 18 of the line");
    }
}
