//! Tests of the ingest stage on small files written to a temporary folder.
//!
//! Files: `mod.rs` holds the helpers (writing a file, ingesting it, checking a reject);
//! `formats.rs` tests reading CSV and JSONL (fields, malformed rows confined to their line,
//! encodings, the same output at any thread count); `fields.rs` the checks of a row's text,
//! timestamp and rating; `columns.rs` the column mapping and the errors that refuse a whole file;
//! `ids.rs` derived and duplicate ids; `language.rs` language detection.

mod columns;
mod fields;
mod formats;
mod ids;
mod language;

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
