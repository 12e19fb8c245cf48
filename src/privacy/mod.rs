//! Personal data: redaction of comment text and pseudonymous authors, applied to every comment
//! right after ingest and before anything is stored, so the store, the index, the embeddings, the
//! topics, the signals, the feed and every output only ever see placeholders and pseudonyms.
//!
//! In: ingested [`Comment`]s, the `[privacy]` config and the workspace's pseudonym key. Out: the
//! same comments with their text (and string metadata) redacted, each finding replaced by a typed
//! placeholder (`[EMAIL]`, `[PHONE]`, `[IBAN]`, `[CARD]`, `[IP]`, `[URL]`, `[HANDLE]`, `[NAME]`;
//! [`Redactor`]), their author id replaced by a keyed hash ([`PseudonymKey`]), and the number of
//! redactions per kind. This module owns the redaction patterns and validators, the first-name
//! gazetteer (`first_names.txt`, checked against `PROVENANCE.md`) and the key file
//! `privacy.key`. Erasure and retention (`forget.rs`) decide which stored comments go and keep
//! the audit log's entries.

pub mod forget;
mod names;
mod pseudonym;
mod redact;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use pseudonym::{PseudonymKey, KEY_ENV, KEY_FILE};
pub use redact::{Finding, PiiKind, Redactor};

use crate::types::Comment;
use crate::validation::Checks;

/// Settings of the privacy stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// The kinds of personal data replaced by placeholders before comments are stored: `email`,
    /// `phone`, `iban`, `card`, `ip`, `url_secret`, `handle`, `name` (all by default; an empty
    /// list stores texts as they came). Author ids are always pseudonymised.
    pub redact: Vec<PiiKind>,
    /// Comments dated more than this many days before the newest comment of the workspace are
    /// erased at the start of each `analyze` run, as `xsignal forget` erases (0: kept forever).
    pub retain_days: u64,
}

/// The longest retention limit accepted (a century; longer guards nothing).
const MAX_RETAIN_DAYS: u64 = 36_525;

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            redact: PiiKind::ALL.to_vec(),
            retain_days: 0,
        }
    }
}

impl PrivacyConfig {
    /// Records the problems of this section's values.
    pub fn check_values(&self, checks: &mut Checks) {
        checks.require(
            self.retain_days <= MAX_RETAIN_DAYS,
            "retain_days",
            format!(
                "must be from 0 (keep forever) to {MAX_RETAIN_DAYS} (got {})",
                self.retain_days
            ),
        );
    }
}

/// Redactions per kind (kinds with none are left out).
pub type RedactionCounts = BTreeMap<PiiKind, u64>;

/// Redacts the text and string metadata of `comments` and pseudonymises their authors, in
/// parallel (the result does not depend on the thread count); returns the redactions per kind.
pub fn protect(
    comments: &mut [Comment],
    redactor: &Redactor,
    key: &PseudonymKey,
) -> RedactionCounts {
    let totals = comments
        .par_iter_mut()
        .map(|comment| {
            let mut counts = [0u64; PiiKind::ALL.len()];
            let mut redact_in_place = |text: &mut String| {
                let (redacted, findings) = redactor.redact(text);
                for finding in &findings {
                    counts[finding.kind.index()] += 1;
                }
                if !findings.is_empty() {
                    *text = redacted;
                }
            };
            redact_in_place(&mut comment.text);
            for value in comment.meta.values_mut() {
                if let serde_json::Value::String(text) = value {
                    redact_in_place(text);
                }
            }
            if let Some(author) = &comment.author {
                comment.author = Some(key.pseudonym(author));
            }
            counts
        })
        .reduce(
            || [0u64; PiiKind::ALL.len()],
            |mut left, right| {
                for (total, count) in left.iter_mut().zip(right) {
                    *total += count;
                }
                left
            },
        );
    PiiKind::ALL
        .iter()
        .zip(totals)
        .filter(|(_, count)| *count > 0)
        .map(|(&kind, count)| (kind, count))
        .collect()
}
