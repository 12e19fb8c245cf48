//! Splits CSV/TSV bytes into raw records (sequential, cheap) and converts one record into a comment
//! (run in parallel by the caller).
//!
//! Records are read with the `csv` crate's `ByteRecord` reader, so invalid UTF-8 only affects the
//! row it is in. A row whose quoted field never closes swallows the following lines; such a row is
//! rejected and reading restarts on the line after the row's first line, so later good rows survive.

use csv::ByteRecord;
use serde_json::Value;

use super::row::{build_comment, Cell, RowCells, RowProblem};
use super::ColumnMap;
use crate::error::Error;
use crate::types::{Comment, Origin};

/// One record as split from the file, before validation.
#[derive(Debug)]
pub(crate) enum CsvRow {
    /// A record with as many fields as the header.
    Record {
        /// 1-based line where the record starts.
        line: u64,
        /// Its fields, as bytes.
        record: ByteRecord,
    },
    /// A record that is broken as a whole (field count, quoting).
    Broken {
        /// 1-based line where the record starts.
        line: u64,
        /// Why.
        reason: String,
    },
}

/// Where each mapped column is in a record, and the names of the other columns.
#[derive(Debug)]
pub(crate) struct CsvLayout {
    id: Option<usize>,
    text: usize,
    timestamp: Option<usize>,
    author: Option<usize>,
    source: Option<usize>,
    lang: Option<usize>,
    rating: Option<usize>,
    /// Unmapped columns, kept in `meta`: (index, name), header order, first of duplicate names.
    meta: Vec<(usize, String)>,
    /// All column names in header order, to name the column in a utf-8 reject.
    names: Vec<String>,
}

/// Finds the column named `wanted`: an exact match first, else an ASCII case-insensitive one.
fn find_column(header: &[String], wanted: &str) -> Option<usize> {
    header.iter().position(|name| name == wanted).or_else(|| {
        header
            .iter()
            .position(|name| name.eq_ignore_ascii_case(wanted))
    })
}

impl CsvLayout {
    fn new(header: Vec<String>, columns: &ColumnMap, file: &str) -> crate::Result<CsvLayout> {
        let Some(text) = find_column(&header, &columns.text) else {
            let listed: Vec<String> = header.iter().map(|name| format!("{name:?}")).collect();
            return Err(Error::Invalid(format!(
                "{file}: no column {:?} for the comment text; the header has {}",
                columns.text,
                listed.join(", ")
            )));
        };
        let id = find_column(&header, &columns.id);
        let timestamp = find_column(&header, &columns.timestamp);
        let author = find_column(&header, &columns.author);
        let source = find_column(&header, &columns.source);
        let lang = find_column(&header, &columns.lang);
        let rating = find_column(&header, &columns.rating);
        let mapped = [Some(text), id, timestamp, author, source, lang, rating];
        let mut meta: Vec<(usize, String)> = Vec::new();
        for (index, name) in header.iter().enumerate() {
            let is_mapped = mapped.contains(&Some(index));
            let is_repeat = meta.iter().any(|(_, seen)| seen == name);
            if !is_mapped && !is_repeat {
                meta.push((index, name.clone()));
            }
        }
        Ok(CsvLayout {
            id,
            text,
            timestamp,
            author,
            source,
            lang,
            rating,
            meta,
            names: header,
        })
    }
}

/// Sorted byte offsets of every `\n`, to turn a byte offset into a 1-based line number.
struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(content: &[u8]) -> LineIndex {
        let newlines = content
            .iter()
            .enumerate()
            .filter_map(|(offset, byte)| (*byte == b'\n').then_some(offset))
            .collect();
        LineIndex { newlines }
    }

    /// The 1-based line that holds byte `offset`.
    fn line_of(&self, offset: usize) -> u64 {
        self.newlines.partition_point(|&newline| newline < offset) as u64 + 1
    }
}

/// True when `raw` (one record's bytes) ends inside a quoted field, as the csv reader parses it.
fn ends_inside_quotes(raw: &[u8], delimiter: u8) -> bool {
    const QUOTE: u8 = b'"';
    let mut at_field_start = true;
    let mut in_quotes = false;
    let mut index = 0;
    while index < raw.len() {
        let byte = raw[index];
        if in_quotes {
            if byte == QUOTE {
                if raw.get(index + 1) == Some(&QUOTE) {
                    index += 2;
                    continue;
                }
                in_quotes = false;
            }
        } else if byte == QUOTE && at_field_start {
            in_quotes = true;
            at_field_start = false;
        } else {
            at_field_start = byte == delimiter || byte == b'\n' || byte == b'\r';
        }
        index += 1;
    }
    in_quotes
}

fn trim_line_end(raw: &[u8]) -> &[u8] {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &raw[..end]
}

fn field_count(count: usize) -> String {
    if count == 1 {
        "1 field".to_string()
    } else {
        format!("{count} fields")
    }
}

/// Splits `content` (BOM already removed) into the header layout and raw rows, in file order.
pub(crate) fn split_rows(
    content: &[u8],
    delimiter: u8,
    columns: &ColumnMap,
    file: &str,
) -> crate::Result<(CsvLayout, Vec<CsvRow>)> {
    let lines = LineIndex::new(content);
    let mut header: Option<Vec<String>> = None;
    let mut rows: Vec<CsvRow> = Vec::new();
    let mut segment_start = 0usize;
    'segments: while segment_start < content.len() {
        let segment = &content[segment_start..];
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(segment);
        loop {
            let mut record = ByteRecord::new();
            let more = match reader.read_byte_record(&mut record) {
                Ok(more) => more,
                Err(error) => {
                    // Reading from memory with `flexible` set, the reader reports no errors; should
                    // one appear, keep what was read and say where it stopped.
                    let stop = segment_start + reader.position().byte() as usize;
                    rows.push(CsvRow::Broken {
                        line: lines.line_of(stop),
                        reason: format!("unreadable row, the rest of the file is skipped: {error}"),
                    });
                    break 'segments;
                }
            };
            if !more {
                break 'segments;
            }
            let record_start = segment_start + record.position().map_or(0, |p| p.byte() as usize);
            let record_end = (segment_start + reader.position().byte() as usize).min(content.len());
            let raw = content.get(record_start..record_end).unwrap_or(&[]);
            // The reader's start position is before any blank lines it skipped; move past them.
            let leading_blank = raw
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            let row_start = record_start + leading_blank;
            let body = trim_line_end(&raw[leading_blank..]);
            if body.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = lines.line_of(row_start);
            let unterminated = ends_inside_quotes(body, delimiter);
            let multi_line = body.contains(&b'\n');

            let Some(header_names) = &header else {
                if unterminated {
                    return Err(Error::Invalid(format!(
                        "{file}: the header row has an unterminated quoted field"
                    )));
                }
                header = Some(
                    record
                        .iter()
                        .map(|name| String::from_utf8_lossy(name).trim().to_string())
                        .collect(),
                );
                continue;
            };
            let expected = header_names.len();
            if unterminated || (multi_line && record.len() != expected) {
                let last_line = lines.line_of(row_start + body.len().saturating_sub(1));
                let reason = if unterminated {
                    format!("unterminated quoted field (the row runs from line {line} to the end of the file)")
                } else {
                    format!(
                        "unterminated quoted field: the row runs from line {line} to line {last_line} and has {}, header has {expected}",
                        field_count(record.len())
                    )
                };
                rows.push(CsvRow::Broken { line, reason });
                // Restart on the line after the row's first line.
                match content[row_start..].iter().position(|b| *b == b'\n') {
                    Some(newline) => {
                        segment_start = row_start + newline + 1;
                        continue 'segments;
                    }
                    None => break 'segments,
                }
            }
            if record.len() != expected {
                rows.push(CsvRow::Broken {
                    line,
                    reason: format!(
                        "row has {}, header has {expected}",
                        field_count(record.len())
                    ),
                });
                continue;
            }
            rows.push(CsvRow::Record { line, record });
        }
    }
    let Some(header_names) = header else {
        return Err(Error::Invalid(format!(
            "{file}: the file is empty (expected a header row)"
        )));
    };
    let layout = CsvLayout::new(header_names, columns, file)?;
    Ok((layout, rows))
}

/// A field as UTF-8; the problem names the column when it is not valid.
fn field_str<'r>(
    record: &'r ByteRecord,
    index: usize,
    layout: &CsvLayout,
) -> Result<&'r str, RowProblem> {
    let bytes = record.get(index).unwrap_or(&[]);
    std::str::from_utf8(bytes).map_err(|error| {
        let at = error.valid_up_to();
        if index == layout.text {
            RowProblem::new("text", format!("invalid utf-8 at byte {at} of the text"))
        } else {
            let name = layout.names.get(index).map(String::as_str).unwrap_or("");
            RowProblem::new(
                "row",
                format!("invalid utf-8 at byte {at} of column {name:?}"),
            )
        }
    })
}

fn optional_cell<'r>(
    record: &'r ByteRecord,
    index: Option<usize>,
    layout: &CsvLayout,
) -> Result<Cell<'r>, RowProblem> {
    match index {
        None => Ok(Cell::Absent),
        Some(index) => field_str(record, index, layout).map(Cell::Str),
    }
}

/// Converts one record into a comment.
pub(crate) fn convert_record(
    record: &ByteRecord,
    layout: &CsvLayout,
    origin: Origin,
    max_text_bytes: usize,
) -> Result<Comment, RowProblem> {
    let cells = RowCells {
        text: Cell::Str(field_str(record, layout.text, layout)?),
        id: optional_cell(record, layout.id, layout)?,
        timestamp: optional_cell(record, layout.timestamp, layout)?,
        author: optional_cell(record, layout.author, layout)?,
        source: optional_cell(record, layout.source, layout)?,
        lang: optional_cell(record, layout.lang, layout)?,
        rating: optional_cell(record, layout.rating, layout)?,
    };
    let mut meta = serde_json::Map::new();
    for (index, name) in &layout.meta {
        let value = field_str(record, *index, layout)?;
        meta.insert(name.clone(), Value::String(value.to_string()));
    }
    build_comment(&cells, meta, origin, max_text_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_state() {
        assert!(!ends_inside_quotes(b"a,\"b,c\",d", b','));
        assert!(ends_inside_quotes(b"a,\"b,c", b','));
        assert!(!ends_inside_quotes(b"a,\"b \"\"x\"\" c\"", b','));
        assert!(!ends_inside_quotes(b"a,5\" screen", b','));
        assert!(ends_inside_quotes(b"a\t\"open", b'\t'));
    }

    #[test]
    fn line_index() {
        let index = LineIndex::new(b"ab\ncd\n\nef");
        assert_eq!(index.line_of(0), 1);
        assert_eq!(index.line_of(2), 1);
        assert_eq!(index.line_of(3), 2);
        assert_eq!(index.line_of(7), 4);
    }
}
