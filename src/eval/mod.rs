//! Evaluation of the stages on labelled data (`xsignal eval ...`) in the shared JSONL layout
//! (`{"id", "text", "label", "lang"}`).

pub mod clustering;
pub mod sentiment;
pub mod trendbench;

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::types::Lang;

/// One labelled row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledRow {
    /// Row id.
    pub id: String,
    /// Text.
    pub text: String,
    /// Gold label.
    pub label: String,
    /// Language.
    pub lang: Lang,
}

#[derive(Deserialize)]
struct RawRow {
    id: serde_json::Value,
    text: String,
    label: serde_json::Value,
    #[serde(default)]
    lang: Option<String>,
}

/// The topics stage's inputs for labelled rows and their embeddings (`vectors[i]` of `rows[i]`): no
/// sentiment, no duplicates, as `xsignal eval topics` clusters them.
pub fn topic_inputs<'a>(
    rows: &'a [LabelledRow],
    vectors: &'a [Vec<f32>],
) -> Vec<crate::topics::TopicInput<'a>> {
    rows.iter()
        .zip(vectors)
        .map(|(row, vector)| crate::topics::TopicInput {
            id: &row.id,
            text: &row.text,
            lang: row.lang,
            embedding: vector,
            sentiment: crate::types::SentimentLabel::Neutral,
            duplicate: false,
            author: None,
        })
        .collect()
}

/// Reads a labelled JSONL file; a malformed line is an error naming `file:line`.
pub fn read_labelled(path: &Path) -> Result<Vec<LabelledRow>> {
    let file = std::fs::File::open(path).map_err(|source| Error::io(path, source))?;
    let mut rows = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::io(path, source))?;
        if line.trim().is_empty() {
            continue;
        }
        let raw: RawRow = serde_json::from_str(&line).map_err(|error| {
            Error::Invalid(format!("{}:{}: {error}", path.display(), index + 1))
        })?;
        let as_string = |value: serde_json::Value| match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        rows.push(LabelledRow {
            id: as_string(raw.id),
            text: raw.text,
            label: as_string(raw.label),
            lang: raw.lang.as_deref().map(Lang::from_code).unwrap_or(Lang::En),
        });
    }
    Ok(rows)
}

/// The deterministic hold-out rule for data sets that ship only a training split: a row is held out
/// when the first byte of sha256(id) is divisible by 5 (about 20 % of rows).
pub fn is_holdout(id: &str) -> bool {
    Sha256::digest(id.as_bytes())[0] % 5 == 0
}

/// A deterministic pseudo-random order key for sub-sampling rows by id.
pub fn sample_key(id: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"xsignal-sample\0");
    hasher.update(id.as_bytes());
    hasher.finalize().into()
}
