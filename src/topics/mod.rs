//! Topics stage: clusters comments into topics with readable labels.
//!
//! In: one [`TopicInput`] per comment (text, language, L2-normalised sentence embedding, sentiment,
//! duplicate flag) and the [`TopicState`] of the previous run, if any. Out: a [`TopicsResult`] with one
//! optional [`Assignment`] per comment, the described [`Topic`]s and the state to persist.
//!
//! - Every comparison happens in a recentred space (`topics.recentre`): the first fit of at least
//!   100 distinct comments fixes their mean vector in the state ([`TopicState::offset`]), and every
//!   vector is compared with that mean removed. An encoder's vectors of one kind of text share a
//!   part that makes all pairs look alike (news articles: a mean pair cosine of 0.38 with the
//!   default encoder), which pushed distinct subjects over the merge and theme thresholds.
//! - A fresh run lays the comments out in a few dimensions (UMAP, `reduce.rs`; at most
//!   `reduce_sample` of them, the others join the nearest cluster mean) and clusters them there with
//!   Euclidean k-means; with `reduce_dims = 0` it clusters the embeddings with spherical k-means
//!   (cosine, k-means++ seeding from a seeded PRNG) in `kmeans.rs`. Clusters whose centroids are
//!   nearly identical are merged and small ones dissolved. Ids are
//!   given 0, 1, 2, ... by descending number of non-duplicate members (ties: smallest member index).
//!   The number of clusters is the one whose clustering of a sample has the best mean silhouette
//!   (`auto_clusters`). A comment is an outlier only when it is far from every cluster of the finer
//!   square-root rule too, so broad topics do not turn their edges into outliers.
//! - An incremental step (all comments again, old and new) keeps every comment close enough to an
//!   existing topic there, clusters the rest finely (square-root rule), and turns each big enough and
//!   tight enough new cluster into a topic with a fresh id. While there are fewer topics than the
//!   silhouette choice for all comments, the broadest topic is bisected (a split). Ids are never
//!   reused; topics left without members (merged or died) stay in the state with size 0, are not
//!   listed and take no members again.
//! - `analyze` takes new comments in data-time steps (`epochs.rs`), so that one run over a stream and
//!   a replay of it as daily files give the same topics.
//! - Exact duplicates are assigned but never move a centroid nor count for key phrases, so a
//!   copy-paste flood cannot become a topic's identity.
//! - Labels come from class-based TF-IDF over the members' content terms (see `keywords.rs`); no two
//!   topics share one, and a topic dominated by one author or one copied text is marked `spam` or
//!   `flood` and kept out of themes (`labels.rs`).
//!
//! Everything is deterministic: the same inputs and config give the same result whatever the number
//! of rayon threads.
//!
//! Files: `mod.rs` holds the stage's types and its entry point [`cluster`]; `config.rs` the
//! settings; `fit.rs` steps 1-4 (assignment, new topics, splits, merges) and `finish.rs` steps 5-7
//! (confidences, labels, themes), which `cluster` and `epochs.rs` (data-time steps) run;
//! `kmeans.rs` and `reduce.rs` the clustering they build on; `keywords.rs` and `labels.rs` the
//! descriptions; `themes.rs` and `lineage.rs` how topics relate; `sentiment.rs` the stage's inputs
//! and topic sentiment; `stored.rs` reading a saved state.

mod config;
mod epochs;
mod finish;
mod fit;
mod keywords;
mod kmeans;
mod labels;
pub mod lineage;
mod reduce;
mod sentiment;
mod stored;
pub mod themes;

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};

use crate::types::{Lang, SentimentLabel, Topic, TopicId};
pub use config::{AutoClusters, TopicsConfig};
pub use epochs::{cluster_epochs, plan_epochs, EpochPlan};
use finish::finish;
use fit::fit;
pub use lineage::{TopicEvent, TopicEventKind};
pub use sentiment::{inputs, sentence_sentiment, sentiment_units, SentimentUnit};
pub use themes::Theme;

/// One comment as the topics stage sees it.
#[derive(Clone, Copy, Debug)]
pub struct TopicInput<'a> {
    /// Comment id.
    pub id: &'a str,
    /// Comment text.
    pub text: &'a str,
    /// Language, for stopwords and stemming of key phrases.
    pub lang: Lang,
    /// L2-normalised sentence embedding. An empty, zero, non-finite or wrongly sized embedding leaves
    /// the comment without a topic.
    pub embedding: &'a [f32],
    /// Sentiment label, for the topic's sentiment counts.
    pub sentiment: SentimentLabel,
    /// True for an exact duplicate of an earlier comment: assigned, but it neither moves centroids
    /// nor counts for key phrases.
    pub duplicate: bool,
    /// Author id, if known: a topic dominated by one author is marked `spam` (`labels.rs`).
    pub author: Option<&'a str>,
}

/// Topic centroids persisted between runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TopicState {
    /// The id the next new topic gets.
    pub next_id: TopicId,
    /// Every topic ever created, in creation order (size 0 when it has no members now).
    pub topics: Vec<TopicCentroid>,
    /// Number of runs that led to this state (1 after the first).
    #[serde(default)]
    pub run: u64,
    /// Start (Unix seconds) of the last data-time epoch clustered; comments of that epoch or earlier
    /// that arrive later are clustered with the next epoch (see [`plan_epochs`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<i64>,
    /// Number of workspace comments (a prefix of the append-only store) this state has seen.
    #[serde(default)]
    pub comments: u64,
    /// Fingerprint of the encoder whose vectors the centroids are means of (set by the pipeline);
    /// vectors of another encoder must not be compared with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<String>,
    /// The mean of the workspace's first fit's comment vectors (`topics.recentre`), removed from
    /// every vector (and normalised again) before it is compared with a centroid, which lives in
    /// the same recentred space. An encoder's vectors of texts of one kind (news, forum posts)
    /// share a common part that makes every pair look alike; without it, cosines spread around 0
    /// whatever the corpus, so the similarity thresholds mean the same on any data. Fixed once,
    /// so later runs and a replay of the same days keep one space. Unset until a fit has 100
    /// distinct comments (the first days of a stream, a workspace of an earlier version); the
    /// topics found until then move into the recentred space when it is fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Vec<f32>>,
}

/// One topic's centroid.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TopicCentroid {
    /// Topic id.
    pub id: TopicId,
    /// Unit-length mean of the non-duplicate members' embeddings.
    pub centroid: Vec<f32>,
    /// Number of comments assigned in the run that produced this state, duplicates included.
    pub size: u64,
    /// Data time from which the topic exists: the end of the data-time step that created it
    /// (`epochs.rs`); unset when it was fitted without steps. Trends never flag it earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_from: Option<DateTime<Utc>>,
}

/// A comment's topic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Assignment {
    /// The topic.
    pub topic: TopicId,
    /// Cosine between the comment and the topic's centroid (as returned in the state).
    pub confidence: f32,
}

/// What [`cluster`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicsResult {
    /// One entry per input, same order; `None` for outliers.
    pub assignments: Vec<Option<Assignment>>,
    /// Topics with at least one member, sorted by id.
    pub topics: Vec<Topic>,
    /// State to persist for the next incremental run.
    pub state: TopicState,
    /// Existing topics merged in this run: (retired id, surviving id).
    pub merges: Vec<(TopicId, TopicId)>,
    /// The topics with members grouped into themes.
    pub themes: Vec<Theme>,
}

impl TopicsResult {
    /// The topics `topics.jsonl` lists: those with members.
    pub fn listed(&self) -> Vec<&Topic> {
        self.topics.iter().filter(|topic| topic.size > 0).collect()
    }
}

/// Clusters `inputs` into topics; `previous` is the state of the last run, whose topics keep their
/// ids (see the module documentation).
pub fn cluster(
    inputs: &[TopicInput],
    previous: Option<&TopicState>,
    config: &TopicsConfig,
) -> TopicsResult {
    let fitted = fit(inputs, previous, config);
    let mut result = finish(inputs, fitted, config);
    result.state.run = previous.map_or(0, |state| state.run) + 1;
    result.state.through = previous.and_then(|state| state.through);
    result
}

#[cfg(test)]
mod tests;
