//! Ingested rows against the workspace's store: which comments are new, which are already there,
//! and which reuse a stored id for different content (rejected). Rejects of earlier runs are kept
//! once each.

use std::collections::{HashMap, HashSet};

use crate::types::{Comment, Reject};

/// Ingested comments sorted against the store.
#[derive(Debug, Default)]
pub struct Sorted {
    /// Comments whose id is not in the store, in input order.
    pub new: Vec<Comment>,
    /// Rows whose id is stored with the same text, timestamp and author (nothing changes).
    pub already_present: u64,
    /// Rows whose id is stored with other content.
    pub rejects: Vec<Reject>,
}

/// Sorts `ingested` against `stored`.
pub fn sort_against_store(stored: &[Comment], ingested: Vec<Comment>) -> Sorted {
    let known: HashMap<&str, &Comment> = stored
        .iter()
        .map(|comment| (comment.id.as_str(), comment))
        .collect();
    let mut sorted = Sorted::default();
    for comment in ingested {
        match known.get(comment.id.as_str()) {
            Some(old)
                if old.text == comment.text
                    && old.timestamp == comment.timestamp
                    && old.author == comment.author =>
            {
                sorted.already_present += 1;
            }
            Some(old) => sorted.rejects.push(Reject {
                file: comment.origin.file.clone(),
                line: comment.origin.line,
                field: "id".into(),
                reason: format!(
                    "id {:?} is already in the workspace with different content (from {}:{})",
                    comment.id, old.origin.file, old.origin.line
                ),
            }),
            None => sorted.new.push(comment),
        }
    }
    sorted
}

/// The rejects of all runs: `earlier` followed by the ones of `fresh` not seen before (same file,
/// line, field, reason).
pub fn merge_rejects(mut earlier: Vec<Reject>, fresh: &[Reject]) -> Vec<Reject> {
    let mut seen: HashSet<Reject> = earlier.iter().cloned().collect();
    for reject in fresh {
        if seen.insert(reject.clone()) {
            earlier.push(reject.clone());
        }
    }
    earlier
}
