//! What the API returns about comments and topics, shared by several routes, and the
//! counting helpers behind breakdowns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Scope;
use super::snapshot::Snapshot;
use crate::types::{EnrichedComment, SentimentCounts, Topic, TopicId};

/// A comment with its text, metadata and enrichments.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CommentView {
    /// Comment id.
    pub id: String,
    /// The text (personal data replaced by placeholders at ingest).
    pub text: String,
    /// When it was written.
    pub timestamp: Option<DateTime<Utc>>,
    /// Pseudonymous author id.
    pub author: Option<String>,
    /// Source or channel.
    pub source: Option<String>,
    /// Language code: `en`, `de` or `other`.
    pub lang: String,
    /// Rating, if the input had one.
    pub rating: Option<f64>,
    /// Sentiment label: `negative`, `neutral` or `positive`.
    pub sentiment: Option<String>,
    /// Sentiment polarity in [-1, 1].
    pub sentiment_score: Option<f32>,
    /// Topic id.
    pub topic: Option<TopicId>,
    /// The first comment with the same text, when this one repeats it.
    pub duplicate_of: Option<String>,
    /// The input's other fields.
    #[schema(value_type = Object)]
    pub meta: serde_json::Map<String, serde_json::Value>,
}

impl CommentView {
    /// The comment `id` as `scope` may see it; `None` when unknown or out of scope.
    pub fn of(snapshot: &Snapshot, scope: &Scope, id: &str) -> Option<CommentView> {
        let comment = snapshot.comment(id)?;
        if !scope.allows(comment.source.as_deref()) {
            return None;
        }
        let enriched = snapshot.enriched(id);
        Some(CommentView {
            id: comment.id.clone(),
            text: comment.text.clone(),
            timestamp: comment.timestamp,
            author: comment.author.clone(),
            source: comment.source.clone(),
            lang: comment.lang.code().to_string(),
            rating: comment.rating,
            sentiment: enriched.map(|e| e.sentiment.label.as_str().to_string()),
            sentiment_score: enriched.map(|e| e.sentiment.score),
            topic: enriched.and_then(|e| e.topic),
            duplicate_of: enriched.and_then(|e| e.duplicate_of.clone()),
            meta: comment.meta.clone(),
        })
    }
}

/// Comments per sentiment label.
#[derive(Clone, Copy, Debug, Default, Serialize, ToSchema)]
pub struct SentimentMix {
    /// Negative comments.
    pub negative: u64,
    /// Neutral comments.
    pub neutral: u64,
    /// Positive comments.
    pub positive: u64,
}

impl From<SentimentCounts> for SentimentMix {
    fn from(counts: SentimentCounts) -> SentimentMix {
        SentimentMix {
            negative: counts.negative,
            neutral: counts.neutral,
            positive: counts.positive,
        }
    }
}

/// A topic in a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TopicSummary {
    /// Topic id.
    pub id: TopicId,
    /// Readable name.
    pub label: String,
    /// Key phrases, best first.
    pub keywords: Vec<String>,
    /// `subject`, `spam` or `flood`.
    pub kind: String,
    /// Comments in the topic (visible to the caller).
    pub size: u64,
    /// Sentiment of those comments.
    pub sentiment: SentimentMix,
    /// The theme it belongs to.
    pub theme: Option<TopicId>,
    /// Data time from which the topic exists.
    pub known_from: Option<DateTime<Utc>>,
}

/// Counts of a set of comments.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Breakdown {
    /// Comments counted.
    pub comments: u64,
    /// Comments per source.
    pub sources: BTreeMap<String, u64>,
    /// Comments per language code.
    pub languages: BTreeMap<String, u64>,
    /// Comments per sentiment label.
    pub sentiment: SentimentMix,
    /// Comments per UTC day (`YYYY-MM-DD`).
    pub days: BTreeMap<String, u64>,
    /// Distinct authors.
    pub distinct_authors: u64,
}

/// Accumulates a [`Breakdown`].
#[derive(Default)]
pub struct Tally {
    breakdown: Breakdown,
    sentiment: SentimentCounts,
    authors: BTreeSet<String>,
}

impl Tally {
    /// Counts one comment.
    pub fn add(&mut self, snapshot: &Snapshot, enriched: &EnrichedComment) {
        let counts = &mut self.breakdown;
        counts.comments += 1;
        if let Some(source) = &enriched.source {
            *counts.sources.entry(source.clone()).or_default() += 1;
        }
        *counts
            .languages
            .entry(enriched.lang.code().to_string())
            .or_default() += 1;
        self.sentiment.add(enriched.sentiment.label);
        if let Some(time) = enriched.timestamp {
            *counts
                .days
                .entry(time.format("%Y-%m-%d").to_string())
                .or_default() += 1;
        }
        if let Some(author) = snapshot
            .comment(&enriched.id)
            .and_then(|comment| comment.author.as_ref())
        {
            self.authors.insert(author.clone());
        }
    }

    /// The counts.
    pub fn finish(self) -> Breakdown {
        let mut breakdown = self.breakdown;
        breakdown.sentiment = self.sentiment.into();
        breakdown.distinct_authors = self.authors.len() as u64;
        breakdown
    }
}

/// The visible comments of topic `topic`, counted.
pub fn topic_breakdown(snapshot: &Snapshot, scope: &Scope, topic: TopicId) -> Breakdown {
    let mut tally = Tally::default();
    for enriched in &snapshot.enriched {
        if enriched.topic == Some(topic) && scope.allows(enriched.source.as_deref()) {
            tally.add(snapshot, enriched);
        }
    }
    tally.finish()
}

/// `topic` as `scope` sees it: size and sentiment counted over the visible comments (the
/// pipeline's own figures for a caller who sees everything).
pub fn topic_summary(snapshot: &Snapshot, scope: &Scope, topic: &Topic) -> TopicSummary {
    let (size, sentiment) = match scope {
        Scope::All => (topic.size, topic.sentiment.into()),
        Scope::Sources(_) => {
            let counted = topic_breakdown(snapshot, scope, topic.id);
            (counted.comments, counted.sentiment)
        }
    };
    TopicSummary {
        id: topic.id,
        label: topic.label.clone(),
        keywords: topic.keywords.clone(),
        kind: serde_name(topic.kind),
        size,
        sentiment,
        theme: topic.theme,
        known_from: topic.known_from,
    }
}

/// The name serde writes for a unit enum variant (`split_from`, `opened`, `flood`).
pub fn serde_name<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}
