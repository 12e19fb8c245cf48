//! Splits CSV/TSV bytes into raw records (sequential, cheap) and converts one record into a comment
//! (run in parallel by the caller).
//!
//! Records are read with the `csv` crate's `ByteRecord` reader, so invalid UTF-8 only affects the
//! row it is in. A row whose quoted field never closes swallows the following lines; such a row is
//! rejected and reading restarts on the line after the row's first line, so later good rows survive.
//! A stray quote that pairs up with a quote on a later row (`q2,"opens...` ... `q11,with "inner"
//! quotes`) shows as a record over several lines whose quoted field closes with text right after
//! the closing quote; it is treated the same way, so only the row with the stray quote is rejected.
//! A legitimate quoted field over several lines closes right before a delimiter or the line end.

use csv::ByteRecord;
use serde_json::Value;

use super::columns::ColumnRole;
use super::columns::{header_summary, missing_column_hint};
use super::row::{build_comment, quoted_str, Cell, RowCells, RowLimits, RowProblem};
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
            return Err(Error::MissingColumn(format!(
                "{file}: no column {} for the comment text; the header has {}{}",
                quoted_str(&columns.text),
                header_summary(&header),
                missing_column_hint(&header, ColumnRole::Text)
                    .map(|hint| format!("; {hint}"))
                    .unwrap_or_default()
            )));
        };
        for role in ColumnRole::OPTIONAL {
            if find_column(&header, role.name_in(columns)).is_some() {
                continue;
            }
            let Some(hint) = missing_column_hint(&header, role) else {
                continue;
            };
            // Without an id column ids are derived from the content (timestamp included), and
            // without a timestamp nothing is trended: a file whose likely column went unmapped is
            // refused rather than read into comments that a corrected rerun would not replace.
            if role.refused_when_missing() && !columns.allow_missing {
                return Err(Error::MissingColumn(format!(
                    "{file}: no column {} for the {}; the header has {}; {hint}, or pass \
                     --allow-missing-columns to read the file without it",
                    quoted_str(role.name_in(columns)),
                    role.describe(),
                    header_summary(&header),
                )));
            }
            tracing::warn!(file = %file, "no column {}: {hint}", quoted_str(role.name_in(columns)));
        }
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

/// How the quotes of one record's bytes read under strict CSV rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quoting {
    /// Every quoted field closes, each right before a delimiter or the end of the record.
    Clean,
    /// A quoted field closes and more text follows before the next delimiter (`"a"b`). The csv
    /// reader accepts this; in a record that spans lines it means a stray quote paired up with a
    /// quote of a later row.
    TextAfterClosingQuote,
    /// The record ends inside a quoted field.
    Unterminated,
}

/// Reads `raw` (one record's bytes) the way the csv reader splits it and says how its quotes
/// close. A quote opens a quoted field only at the start of a field; `""` inside is an escaped quote.
fn quoting(raw: &[u8], delimiter: u8) -> Quoting {
    const QUOTE: u8 = b'"';
    let mut at_field_start = true;
    let mut in_quotes = false;
    let mut just_closed = false;
    let mut text_after_close = false;
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
                just_closed = true;
            }
        } else if byte == QUOTE && at_field_start {
            in_quotes = true;
            at_field_start = false;
        } else {
            let ends_field = byte == delimiter || byte == b'\n' || byte == b'\r';
            if just_closed && !ends_field {
                text_after_close = true;
            }
            just_closed = false;
            at_field_start = ends_field;
        }
        index += 1;
    }
    if in_quotes {
        Quoting::Unterminated
    } else if text_after_close {
        Quoting::TextAfterClosingQuote
    } else {
        Quoting::Clean
    }
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
            let quotes = quoting(body, delimiter);
            let unterminated = quotes == Quoting::Unterminated;
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
            let stray_quote = multi_line && quotes == Quoting::TextAfterClosingQuote;
            if unterminated || stray_quote || (multi_line && record.len() != expected) {
                let last_line = lines.line_of(row_start + body.len().saturating_sub(1));
                let reason = if unterminated {
                    format!("unterminated quoted field (the row runs from line {line} to the end of the file)")
                } else if stray_quote {
                    format!(
                        "unterminated quoted field: the quote opened on line {line} closes on line {last_line} with text after it"
                    )
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
                format!("invalid utf-8 at byte {at} of column {}", quoted_str(name)),
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
    limits: &RowLimits,
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
    build_comment(&cells, meta, origin, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_state() {
        assert_eq!(quoting(b"a,\"b,c\",d", b','), Quoting::Clean);
        assert_eq!(quoting(b"a,\"b,c", b','), Quoting::Unterminated);
        assert_eq!(quoting(b"a,\"b \"\"x\"\" c\"", b','), Quoting::Clean);
        assert_eq!(quoting(b"a,5\" screen", b','), Quoting::Clean);
        assert_eq!(quoting(b"a\t\"open", b'\t'), Quoting::Unterminated);
        assert_eq!(quoting(b"a,\"two\nlines\"\r\n", b','), Quoting::Clean);
        assert_eq!(
            quoting(b"a,\"opens\nb,with \"inner\" quotes", b','),
            Quoting::TextAfterClosingQuote
        );
        assert_eq!(quoting(b"a\t\"b\"\tc", b'\t'), Quoting::Clean);
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
