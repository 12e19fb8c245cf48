//! The topics stage's settings ([`TopicsConfig`], the `[topics]` section of the config file).

use serde::{Deserialize, Serialize};

use crate::validation::Checks;

/// Settings of this stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Number of k-means clusters to start from; unset chooses it as `auto_clusters` says.
    /// Merging and dissolving may leave fewer topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusters: Option<usize>,
    /// How the number of clusters is chosen when `clusters` is unset: `"silhouette"` (the k with
    /// the best mean silhouette on a sample) or `"sqrt"` (about sqrt(n/2) for n comments).
    pub auto_clusters: AutoClusters,
    /// Comments sampled for the silhouette choice (its cost grows with the square of this).
    pub silhouette_sample: usize,
    /// Upper bound of the automatic number of clusters.
    pub max_clusters: usize,
    /// Dimensions of the UMAP layout a fresh fit clusters in (see `reduce.rs`); 0 clusters the
    /// embeddings themselves.
    pub reduce_dims: usize,
    /// Nearest neighbours per comment (the comment itself included) that the layout keeps close.
    pub reduce_neighbors: usize,
    /// Most comments laid out (its cost grows with the square of this); the others join their
    /// nearest cluster.
    pub reduce_sample: usize,
    /// Clusters whose centroids have at least this cosine are merged into one topic (also existing
    /// topics whose centroids have come that close: a `merged_into` event).
    pub merge_similarity: f64,
    /// Topics whose centroids have at least this cosine (centroid linkage) form one theme.
    pub theme_similarity: f64,
    /// Smallest topic, in non-duplicate comments; smaller clusters are dissolved into their neighbours.
    pub min_topic_size: usize,
    /// Comments whose cosine to every topic centroid is below this stay without a topic (outliers).
    pub min_similarity: f64,
    /// Least cosine between a sentence and another topic's centroid for the sentence's sentiment to
    /// count there instead of for its comment's topic.
    pub sentence_min_similarity: f64,
    /// In an incremental run, a comment joins an existing topic when its cosine to that topic's
    /// centroid is at least this; the others are clustered anew.
    pub assign_similarity: f64,
    /// Most k-means iterations; clustering stops earlier once at most 0.1% of the comments move.
    pub max_iterations: usize,
    /// Number of key phrases per topic.
    pub keywords: usize,
    /// Number of representative comments per topic.
    pub representatives: usize,
    /// Seed of the k-means++ initialisation.
    pub seed: u64,
    /// Length of a data-time epoch in hours (aligned to UTC midnight; 24 = calendar days). `analyze`
    /// clusters new comments epoch by epoch, each step starting from the state the previous one left,
    /// so one run over a stream gives the same topics as a replay of the stream cut into files at
    /// epoch boundaries (see `epochs.rs`). 0: each run's new comments in one step.
    pub epoch_hours: f64,
    /// Most clustering steps in one run; when new comments span more epochs, consecutive epochs are
    /// grouped into this many steps (and a replay no longer equals the single run).
    pub max_epoch_steps: usize,
    /// Recentre the topic space on the data: a workspace's first fit (of at least 100 distinct
    /// comments) fixes the mean of its comment vectors, and every vector is compared with the
    /// centroids with that mean removed (`TopicState::offset`). Off: the encoder's vectors as
    /// they are.
    pub recentre: bool,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            clusters: None,
            auto_clusters: AutoClusters::Silhouette,
            silhouette_sample: 3000,
            max_clusters: 150,
            reduce_dims: 5,
            reduce_neighbors: 15,
            reduce_sample: 20_000,
            merge_similarity: 0.85,
            theme_similarity: 0.6,
            min_topic_size: 5,
            min_similarity: 0.2,
            sentence_min_similarity: 0.5,
            assign_similarity: 0.45,
            max_iterations: 30,
            keywords: 8,
            representatives: 5,
            seed: 42,
            epoch_hours: 24.0,
            max_epoch_steps: 120,
            recentre: true,
        }
    }
}

impl TopicsConfig {
    /// Records the problems of this section's values.
    pub fn check_values(&self, checks: &mut Checks) {
        if let Some(clusters) = self.clusters {
            checks.at_least("clusters", clusters, 1);
        }
        checks.at_least("silhouette_sample", self.silhouette_sample, 2);
        checks.at_least("max_clusters", self.max_clusters, 1);
        if self.reduce_dims > 0 {
            checks.at_least("reduce_neighbors", self.reduce_neighbors, 2);
            checks.at_least("reduce_sample", self.reduce_sample, 2);
        }
        checks.cosine("merge_similarity", self.merge_similarity);
        checks.cosine("theme_similarity", self.theme_similarity);
        checks.at_least("min_topic_size", self.min_topic_size, 1);
        checks.cosine("min_similarity", self.min_similarity);
        checks.cosine("sentence_min_similarity", self.sentence_min_similarity);
        checks.cosine("assign_similarity", self.assign_similarity);
        checks.at_least("max_iterations", self.max_iterations, 1);
        // 0 is documented (no epochs); otherwise at least an hour, at most a year.
        let epoch_hours = self.epoch_hours;
        checks.require(
            epoch_hours == 0.0 || (1.0..=8_784.0).contains(&epoch_hours),
            "epoch_hours",
            format!(
                "must be 0 (no epochs) or a number of hours from 1 to 8784 (got {epoch_hours})"
            ),
        );
        checks.at_least("max_epoch_steps", self.max_epoch_steps, 1);
    }
}

/// How the automatic number of clusters is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoClusters {
    /// The candidate k (2, 3, 4, 6, 8, 12, ... up to `max_clusters`) whose k-means clustering of a
    /// seeded sample has the highest mean silhouette (cosine distance). Follows the data: a few broad
    /// subjects give few topics, many narrow ones many.
    Silhouette,
    /// About sqrt(n/2) clusters for n comments, whatever the data.
    Sqrt,
}
