//! Ingest stage: reads comment dumps into [`Comment`]s.
//!
//! In: CSV (`.csv`), TSV (`.tsv`) with a header row, or JSONL (`.jsonl`, `.ndjson`) files, UTF-8 with
//! or without a BOM, and a [`ColumnMap`] naming the fields. Out: [`IngestOutput`]: the accepted
//! comments, one [`Reject`] per row that could not be used (nothing is dropped silently), and
//! per-file counts.
//!
//! Each file is read as bytes and split into raw rows sequentially (JSONL at `\n`, CSV with the
//! `csv` crate's byte-record reader); the rows are then validated and converted in parallel on
//! rayon, language detection included. Duplicate ids are resolved afterwards in input order, so the
//! output is the same whatever the thread count.
//!
//! A file that cannot be read, has an unknown extension, or a CSV header without the text column
//! fails the whole call; a bad row only rejects that row.

mod columns;
mod csv_input;
mod jsonl_input;
pub mod known;
mod row;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{Comment, Origin, Reject};
use crate::validation::Checks;

use row::{RowLimits, RowProblem};

/// Column names (CSV header names, JSONL keys) of the input fields.
///
/// CSV header names match exactly, else ignoring ASCII case; JSONL keys match exactly. Every other
/// column or key is kept in [`Comment::meta`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnMap {
    /// Comment id; rows without one get an id derived from their content.
    pub id: String,
    /// Comment text (required).
    pub text: String,
    /// When the comment was written.
    pub timestamp: String,
    /// Author id.
    pub author: String,
    /// Source or channel.
    pub source: String,
    /// Language code; when absent the language is detected.
    pub lang: String,
    /// Numeric rating.
    pub rating: String,
    /// Read a CSV/TSV whose id or timestamp column is missing although another column looks like
    /// it (otherwise the file is refused with the suggested mapping).
    pub allow_missing: bool,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            id: "id".to_string(),
            text: "text".to_string(),
            timestamp: "timestamp".to_string(),
            author: "author".to_string(),
            source: "source".to_string(),
            lang: "lang".to_string(),
            rating: "rating".to_string(),
            allow_missing: false,
        }
    }
}

/// Settings of the ingest stage (`[ingest]` in the config file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Longest accepted comment text in bytes, after trimming; longer rows are rejected.
    /// 0 means no limit. Default 1 MiB (1,048,576): a long post is not bad input. The whole text
    /// is stored and indexed; the encoder reads its first windows (`embed.max_windows`).
    pub max_text_bytes: usize,
    /// How far past the time of the run a timestamp may lie, in hours (default 24: clocks and time
    /// zones disagree by up to a day). Later timestamps, and those before 1970-01-01T00:00:00Z,
    /// are rejected: one mistyped year would stretch the data's span over centuries.
    pub max_future_hours: f64,
}

/// Default of [`IngestConfig::max_text_bytes`].
pub const MAX_TEXT_BYTES: usize = 1 << 20;

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_text_bytes: MAX_TEXT_BYTES,
            max_future_hours: 24.0,
        }
    }
}

impl IngestConfig {
    /// Records the problems of this section's values.
    pub fn check_values(&self, checks: &mut Checks) {
        // Past a century the bound no longer guards anything; the number also has to fit a duration.
        checks.within("max_future_hours", self.max_future_hours, 0.0, 876_000.0);
    }
}

/// Counts for one input file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    /// The file as given.
    pub file: String,
    /// Its format: `csv`, `tsv` or `jsonl`.
    pub format: String,
    /// Rows read (blank lines are not rows): `accepted + rejected + duplicate_rows`.
    pub rows: u64,
    /// Rows that became comments.
    pub accepted: u64,
    /// Rows rejected (see [`IngestOutput::rejects`]).
    pub rejected: u64,
    /// Rows skipped because an earlier row had the same id and the same content.
    pub duplicate_rows: u64,
}

/// What [`ingest_files`] returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestOutput {
    /// Accepted comments: files in the order given, rows in file order.
    pub comments: Vec<Comment>,
    /// Rejected rows, in the same order.
    pub rejects: Vec<Reject>,
    /// One entry per file, in the order given.
    pub files: Vec<FileStats>,
}

impl IngestOutput {
    /// Rows read from all files, accepted and rejected.
    pub fn rows_read(&self) -> u64 {
        self.files.iter().map(|file| file.rows).sum()
    }
}

/// Input formats, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InputFormat {
    Csv,
    Tsv,
    Jsonl,
}

impl InputFormat {
    fn of(path: &Path) -> Option<InputFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(InputFormat::Csv),
            "tsv" => Some(InputFormat::Tsv),
            "jsonl" | "ndjson" => Some(InputFormat::Jsonl),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::Tsv => "tsv",
            InputFormat::Jsonl => "jsonl",
        }
    }
}

/// One row's result, before duplicate ids are resolved.
enum RowOutcome {
    Accepted(Comment),
    Rejected(Reject),
}

fn reject(file: &str, line: u64, problem: RowProblem) -> Reject {
    Reject {
        file: file.to_string(),
        line,
        field: problem.field.to_string(),
        reason: problem.reason,
    }
}

/// Reads `paths` in order and returns their comments, rejected rows and per-file counts; the time
/// of the run is now (see [`ingest_files_at`]).
///
/// Fails with [`Error::Invalid`] for an unknown extension (checked for every path before any file is
/// read) or a CSV without the text column, and with [`Error::Io`] for a file that cannot be read.
pub fn ingest_files(
    paths: &[PathBuf],
    columns: &ColumnMap,
    config: &IngestConfig,
) -> Result<IngestOutput> {
    ingest_files_at(paths, columns, config, Utc::now())
}

/// [`ingest_files`] for a run at time `now`: rows dated after `now` plus
/// [`IngestConfig::max_future_hours`] are rejected. This is the one input of ingest besides the
/// files and the config: the same rows give the same output as long as none of them is dated that
/// far ahead of the run.
pub fn ingest_files_at(
    paths: &[PathBuf],
    columns: &ColumnMap,
    config: &IngestConfig,
    now: DateTime<Utc>,
) -> Result<IngestOutput> {
    let limits = RowLimits::new(config, now);
    let mut formats = Vec::with_capacity(paths.len());
    for path in paths {
        let format = InputFormat::of(path).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: unknown input format (expected .csv, .tsv, .jsonl or .ndjson)",
                path.display()
            ))
        })?;
        formats.push(format);
    }

    let mut output = IngestOutput::default();
    // id -> index of the first comment with it in `output.comments`.
    let mut first_by_id: HashMap<String, usize> = HashMap::new();
    for (path, format) in paths.iter().zip(formats) {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::io(path, source))?;
        let content = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let outcomes = match format {
            InputFormat::Csv => parse_csv(content, b',', &file, columns, &limits)?,
            InputFormat::Tsv => parse_csv(content, b'\t', &file, columns, &limits)?,
            InputFormat::Jsonl => parse_jsonl(content, &file, columns, &limits),
        };

        let mut stats = FileStats {
            file: file.clone(),
            format: format.name().to_string(),
            ..FileStats::default()
        };
        for outcome in outcomes {
            stats.rows += 1;
            let comment = match outcome {
                RowOutcome::Rejected(rejected_row) => {
                    stats.rejected += 1;
                    output.rejects.push(rejected_row);
                    continue;
                }
                RowOutcome::Accepted(comment) => comment,
            };
            if let Some(&first_index) = first_by_id.get(&comment.id) {
                let first = &output.comments[first_index];
                let same_content = first.text == comment.text
                    && first.timestamp == comment.timestamp
                    && first.author == comment.author;
                if same_content {
                    stats.duplicate_rows += 1;
                } else {
                    stats.rejected += 1;
                    output.rejects.push(Reject {
                        file: file.clone(),
                        line: comment.origin.line,
                        field: "id".to_string(),
                        reason: format!(
                            "duplicate id {:?} (first seen at {}:{})",
                            comment.id, first.origin.file, first.origin.line
                        ),
                    });
                }
                continue;
            }
            stats.accepted += 1;
            first_by_id.insert(comment.id.clone(), output.comments.len());
            output.comments.push(comment);
        }
        debug_assert_eq!(
            stats.rows,
            stats.accepted + stats.rejected + stats.duplicate_rows
        );
        tracing::debug!(
            file = %file,
            format = stats.format,
            rows = stats.rows,
            accepted = stats.accepted,
            rejected = stats.rejected,
            duplicate_rows = stats.duplicate_rows,
            "ingested file"
        );
        output.files.push(stats);
    }
    Ok(output)
}

fn parse_csv(
    content: &[u8],
    delimiter: u8,
    file: &str,
    columns: &ColumnMap,
    limits: &RowLimits,
) -> Result<Vec<RowOutcome>> {
    let (layout, rows) = csv_input::split_rows(content, delimiter, columns, file)?;
    let outcomes = rows
        .par_iter()
        .map(|raw_row| match raw_row {
            csv_input::CsvRow::Broken { line, reason } => RowOutcome::Rejected(Reject {
                file: file.to_string(),
                line: *line,
                field: "row".to_string(),
                reason: reason.clone(),
            }),
            csv_input::CsvRow::Record { line, record } => {
                let origin = Origin {
                    file: file.to_string(),
                    line: *line,
                };
                match csv_input::convert_record(record, &layout, origin, limits) {
                    Ok(comment) => RowOutcome::Accepted(comment),
                    Err(problem) => RowOutcome::Rejected(reject(file, *line, problem)),
                }
            }
        })
        .collect();
    Ok(outcomes)
}

fn parse_jsonl(
    content: &[u8],
    file: &str,
    columns: &ColumnMap,
    limits: &RowLimits,
) -> Vec<RowOutcome> {
    let lines = jsonl_input::split_lines(content);
    lines
        .par_iter()
        .map(|&(line, bytes)| {
            let origin = Origin {
                file: file.to_string(),
                line,
            };
            match jsonl_input::convert_line(bytes, columns, origin, limits) {
                Ok(comment) => RowOutcome::Accepted(comment),
                Err(problem) => RowOutcome::Rejected(reject(file, line, problem)),
            }
        })
        .collect()
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
