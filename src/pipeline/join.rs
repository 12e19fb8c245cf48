//! The records that join several stages' outputs per comment: a `comments.jsonl` line
//! ([`EnrichedComment`]: stored comment, sentiment, topic, duplicate link) and an index document.

use crate::index::IndexDoc;
use crate::sentiment::sentences::Scored;
use crate::topics::Assignment;
use crate::types::{Comment, EnrichedComment};

/// One [`EnrichedComment`] per stored comment, from the parallel outputs of sentiment (`scored`),
/// topics (`assignments`) and exact-duplicate detection (`duplicate_of`, indices into `comments`).
pub(super) fn enrich(
    comments: &[Comment],
    scored: Vec<Scored>,
    assignments: &[Option<Assignment>],
    duplicate_of: &[Option<usize>],
) -> Vec<EnrichedComment> {
    comments
        .iter()
        .zip(scored)
        .zip(assignments)
        .zip(duplicate_of)
        .map(
            |(((comment, scored), assignment), duplicate)| EnrichedComment {
                id: comment.id.clone(),
                lang: comment.lang,
                timestamp: comment.timestamp,
                source: comment.source.clone(),
                sentiment: scored.sentiment,
                sentences: scored.sentences,
                topic: assignment.as_ref().map(|assignment| assignment.topic),
                topic_confidence: assignment.as_ref().map(|assignment| assignment.confidence),
                duplicate_of: duplicate.map(|original| comments[original].id.clone()),
            },
        )
        .collect()
}

/// One index document per comment.
pub(super) fn index_docs<'a>(
    comments: &'a [Comment],
    enriched: &'a [EnrichedComment],
) -> Vec<IndexDoc<'a>> {
    comments
        .iter()
        .zip(enriched)
        .map(|(comment, enriched)| IndexDoc { comment, enriched })
        .collect()
}
