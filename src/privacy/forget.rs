//! Erasure: which stored comments a request to forget removes (`xsignal forget`), which ones the
//! retention limit removes (`privacy.retain_days`), and the audit record of each erasure.
//!
//! In: the stored comments and a [`Selector`] (an author id, matched through its pseudonym under
//! the workspace's key; a comment id; a search query, matched through the committed run's index),
//! or the retention limit. Out: the comments that stay, handed to the workspace
//! ([`WorkspaceWriter::erase`]), which rewrites the store at once and has the run that follows
//! start over from it: the index, the caches, topics, lineage, signals, the feed and every output
//! are re-derived from the remaining comments alone, and every older generation is removed
//! ([`crate::workspace::erasure`]). The audit log (`audit.jsonl`) gets one [`AuditEntry`] per
//! request: its kind, a keyed hash of the selector's value (never the value), the time and the
//! number of comments removed.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::PseudonymKey;
use crate::error::{Error, Result};
use crate::query::{self, SearchQuery};
use crate::types::Comment;
use crate::workspace::WorkspaceWriter;

/// Which comments a request to forget names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Every comment of this author id (as it came in the input, before pseudonymisation).
    Author(String),
    /// The comment with this id.
    Id(String),
    /// Every comment the search query matches (the syntax of `xsignal search`).
    Query(String),
    /// Every comment dated before this time (a deadline by the clock, where retention counts in
    /// data time).
    Before(DateTime<Utc>),
}

impl Selector {
    /// The kind of selector: `author`, `id` or `query`.
    pub fn kind(&self) -> &'static str {
        match self {
            Selector::Author(_) => "author",
            Selector::Id(_) => "id",
            Selector::Query(_) => "query",
            Selector::Before(_) => "before",
        }
    }

    fn value(&self) -> String {
        match self {
            Selector::Author(value) | Selector::Id(value) | Selector::Query(value) => value.clone(),
            Selector::Before(time) => time.to_rfc3339(),
        }
    }

    /// The keyed hash of the selector recorded in the audit log: the workspace's HMAC of kind and
    /// value under a prefix of its own, so it never equals an author's pseudonym and cannot be
    /// tied back to the value without the key.
    pub fn keyed_hash(&self, key: &PseudonymKey) -> String {
        key.pseudonym(&format!("audit/{}/{}", self.kind(), self.value()))
    }

    /// Marks the comments of `stored` that the selector names; `index_dir` is the committed
    /// run's index (for [`Selector::Query`]).
    pub fn select(
        &self,
        stored: &[Comment],
        key: &PseudonymKey,
        index_dir: &Path,
    ) -> Result<Vec<bool>> {
        match self {
            Selector::Author(author) => {
                let pseudonym = key.pseudonym(author);
                Ok(stored
                    .iter()
                    .map(|comment| comment.author.as_deref() == Some(pseudonym.as_str()))
                    .collect())
            }
            Selector::Id(id) => Ok(stored.iter().map(|comment| &comment.id == id).collect()),
            Selector::Before(time) => Ok(stored
                .iter()
                .map(|comment| comment.timestamp.is_some_and(|timestamp| timestamp < *time))
                .collect()),
            Selector::Query(text) => {
                if text.trim().is_empty() || text.trim() == "*" {
                    return Err(Error::QueryRefused(
                        "the query to forget is empty: it would match every comment".into(),
                    ));
                }
                let search = SearchQuery {
                    query: text.clone(),
                    limit: stored.len(),
                    ..SearchQuery::default()
                };
                let results = query::search(index_dir, &search)?;
                if results.total > results.hits.len() {
                    return Err(Error::Invalid(format!(
                        "the query matches {} comments, more than the {} one erasure may remove; \
                         narrow it",
                        results.total,
                        results.hits.len()
                    )));
                }
                let ids: HashSet<String> = results.hits.into_iter().map(|hit| hit.id).collect();
                Ok(stored
                    .iter()
                    .map(|comment| ids.contains(&comment.id))
                    .collect())
            }
        }
    }
}

/// Marks the comments dated more than `retain_days` days before the newest timestamp of `stored`
/// (data time, so the outcome does not depend on when the run happens). Comments without a
/// timestamp are kept; `retain_days` 0 keeps everything.
pub fn expired(stored: &[Comment], retain_days: u64) -> Vec<bool> {
    let newest = stored.iter().filter_map(|comment| comment.timestamp).max();
    let cutoff: Option<DateTime<Utc>> = match (retain_days, newest) {
        (0, _) | (_, None) => None,
        (days, Some(newest)) => i64::try_from(days)
            .ok()
            .and_then(Duration::try_days)
            .and_then(|span| newest.checked_sub_signed(span)),
    };
    stored
        .iter()
        .map(|comment| match (cutoff, comment.timestamp) {
            (Some(cutoff), Some(timestamp)) => timestamp < cutoff,
            _ => false,
        })
        .collect()
}

/// Removes the marked comments of `stored` through `writer` (see the module doc); returns how
/// many. Nothing happens when none is marked.
pub fn erase(writer: &mut WorkspaceWriter, stored: Vec<Comment>, marked: &[bool]) -> Result<u64> {
    debug_assert_eq!(stored.len(), marked.len());
    let removed = marked.iter().filter(|&&remove| remove).count() as u64;
    if removed == 0 {
        return Ok(0);
    }
    let remaining: Vec<Comment> = stored
        .into_iter()
        .zip(marked)
        .filter_map(|(comment, &remove)| (!remove).then_some(comment))
        .collect();
    writer.erase(&remaining, removed)?;
    tracing::info!(removed, "comments erased from the store");
    Ok(removed)
}

/// Erases the comments past `retain_days` (see [`expired`]) through `writer` and records the
/// erasure in the audit log; returns how many. A run that erases none writes nothing.
pub fn apply_retention(writer: &mut WorkspaceWriter, retain_days: u64) -> Result<u64> {
    if retain_days == 0 {
        return Ok(0);
    }
    let stored = writer.load_store()?;
    let marked = expired(&stored, retain_days);
    let removed = erase(writer, stored, &marked)?;
    if removed > 0 {
        writer.append_audit(&AuditEntry::retention(retain_days, removed))?;
    }
    Ok(removed)
}

/// One line of the audit log: what was requested, when and how many comments it removed; never
/// comment content, author ids or queries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When the erasure was carried out (the clock of the machine).
    pub time: DateTime<Utc>,
    /// `forget` (a request) or `retention` (`privacy.retain_days`).
    pub action: &'static str,
    /// The selector's kind (`author`, `id`, `query`, `before`) of a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<&'static str>,
    /// The keyed hash of the selector's value ([`Selector::keyed_hash`]) of a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector_hash: Option<String>,
    /// The retention limit in days of a retention erasure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_days: Option<u64>,
    /// Comments removed.
    pub removed: u64,
}

impl AuditEntry {
    /// The entry of a request to forget.
    pub fn request(selector: &Selector, key: &PseudonymKey, removed: u64) -> AuditEntry {
        AuditEntry {
            time: Utc::now(),
            action: "forget",
            selector: Some(selector.kind()),
            selector_hash: Some(selector.keyed_hash(key)),
            retain_days: None,
            removed,
        }
    }

    /// The entry of a retention erasure.
    pub fn retention(retain_days: u64, removed: u64) -> AuditEntry {
        AuditEntry {
            time: Utc::now(),
            action: "retention",
            selector: None,
            selector_hash: None,
            retain_days: Some(retain_days),
            removed,
        }
    }
}
