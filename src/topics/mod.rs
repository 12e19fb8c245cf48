//! Topics stage: clusters comments into topics with readable labels.
//!
//! In: one [`TopicInput`] per comment (text, language, L2-normalised sentence embedding, sentiment,
//! duplicate flag) and the [`TopicState`] of the previous run, if any. Out: a [`TopicsResult`] with one
//! optional [`Assignment`] per comment, the described [`Topic`]s and the state to persist.
//!
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

mod epochs;
mod keywords;
mod kmeans;
mod labels;
pub mod lineage;
mod reduce;
mod sentiment;
mod stored;
pub mod themes;

use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{Lang, SentimentCounts, SentimentLabel, Topic, TopicId, TopicKind};
use crate::validation::Checks;
pub use epochs::{cluster_epochs, plan_epochs, EpochPlan};
use kmeans::{dot, member_sums, nearest, normalize_into, Matrix};
pub use lineage::{TopicEvent, TopicEventKind};
pub use sentiment::{inputs, sentence_sentiment, sentiment_units, SentimentUnit};
pub use themes::Theme;

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

/// What steps 1-4 of clustering leave: the embeddings, each input's slot in `topics`, the topics
/// (every topic ever created, sizes set) and the merges.
struct Fitted {
    matrix: Matrix,
    slot_of: Vec<Option<usize>>,
    topics: Vec<TopicCentroid>,
    next_id: TopicId,
    merges: Vec<(TopicId, TopicId)>,
}

impl Fitted {
    /// Each input's topic id.
    fn topic_ids(&self) -> Vec<Option<TopicId>> {
        self.slot_of
            .iter()
            .map(|slot| slot.map(|slot| self.topics[slot].id))
            .collect()
    }
}

/// Steps 1-4: assignment to existing topics, new topics from the rest, centroids, merges.
fn fit(inputs: &[TopicInput], previous: Option<&TopicState>, config: &TopicsConfig) -> Fitted {
    let dim = embedding_dim(inputs);
    let (matrix, valid) = build_matrix(inputs, dim);
    let invalid_count = valid.iter().filter(|&&ok| !ok).count();
    if invalid_count > 0 {
        tracing::warn!(
            count = invalid_count,
            dim,
            "comments with missing or malformed embeddings are left without a topic"
        );
    }
    let min_size = config.min_topic_size.max(1);
    let mut topics: Vec<TopicCentroid> = previous
        .map(|state| state.topics.clone())
        .unwrap_or_default();
    let mut next_id = previous.map_or(0, |state| state.next_id);
    if let Some(highest) = topics.iter().map(|topic| topic.id).max() {
        next_id = next_id.max(highest.saturating_add(1));
    }
    let valid_rows: Vec<usize> = (0..inputs.len()).filter(|&row| valid[row]).collect();
    let mut slot_of: Vec<Option<usize>> = vec![None; inputs.len()];

    // 1. Comments close enough to an existing topic stay there.
    let (old_slots, old_centroids) = usable_centroids(&topics, dim);
    let mut best_old: Vec<Option<(usize, f32)>> = vec![None; inputs.len()];
    let mut remaining = Vec::new();
    for (&row, found) in valid_rows
        .iter()
        .zip(nearest(&matrix, &valid_rows, &old_centroids))
    {
        if let Some((index, similarity)) = found {
            best_old[row] = Some((old_slots[index], similarity));
            if similarity >= config.assign_similarity as f32 {
                slot_of[row] = Some(old_slots[index]);
                continue;
            }
        }
        remaining.push(row);
    }

    // 2. The rest is clustered; big enough clusters become new topics.
    let train: Vec<usize> = remaining
        .iter()
        .copied()
        .filter(|&row| !inputs[row].duplicate)
        .collect();
    // A fresh fit chooses the number of clusters from the data. Next to existing topics the
    // leftovers are cut finely (square-root rule), and only tight clusters are kept below.
    // A fresh fit clusters in the UMAP layout when it is on: the laid-out comments keep the
    // layout's clusters, the others join the nearest cluster mean.
    let in_layout = if old_slots.is_empty() {
        reduce::clusters_in_layout(&matrix, &train, config)
    } else {
        None
    };
    let (wanted, new_centroids, new_found) = match in_layout {
        Some((rows, labels)) => {
            let count = labels.iter().max().map_or(0, |&max| max + 1);
            let optional: Vec<Option<usize>> = labels.iter().copied().map(Some).collect();
            let (sums, _) = member_sums(&matrix, &rows, &optional, count);
            let mut centroids = vec![0.0f32; count * dim];
            for cluster in 0..count {
                normalize_into(
                    &sums[cluster * dim..(cluster + 1) * dim],
                    &mut centroids[cluster * dim..(cluster + 1) * dim],
                );
            }
            let mut label_of: Vec<Option<usize>> = vec![None; inputs.len()];
            for (&row, &label) in rows.iter().zip(&labels) {
                label_of[row] = Some(label);
            }
            let mut found = nearest(&matrix, &remaining, &centroids);
            for (&row, slot) in remaining.iter().zip(found.iter_mut()) {
                if let Some(label) = label_of[row] {
                    let similarity =
                        dot(matrix.row(row), &centroids[label * dim..(label + 1) * dim]);
                    *slot = Some((label, similarity));
                }
            }
            (count, centroids, found)
        }
        None => {
            let wanted = if old_slots.is_empty() {
                kmeans::cluster_count(&matrix, &train, config)
            } else {
                kmeans::square_root_count(train.len(), config)
            };
            let centroids = kmeans::find_clusters(&matrix, &train, wanted, config);
            let found = nearest(&matrix, &remaining, &centroids);
            (wanted, centroids, found)
        }
    };
    let new_count = new_centroids.len().checked_div(dim).unwrap_or(0);
    // Outliers are judged at the square-root rule's granularity: a comment far from the centroid
    // of a broad topic is still no junk when it is close to one of the finer clusters.
    let fine_count = kmeans::square_root_count(train.len(), config);
    let mut near_fine = vec![false; inputs.len()];
    if wanted < fine_count {
        let fine = kmeans::find_clusters(&matrix, &train, fine_count, config);
        for (&row, found) in remaining.iter().zip(nearest(&matrix, &remaining, &fine)) {
            near_fine[row] =
                found.is_some_and(|(_, similarity)| similarity >= config.min_similarity as f32);
        }
    }
    let accepted =
        |row: usize, similarity: f32| similarity >= config.min_similarity as f32 || near_fine[row];
    let mut originals = vec![0usize; new_count];
    let mut first_original = vec![usize::MAX; new_count];
    let mut cohesion = vec![0.0f64; new_count];
    for (&row, found) in remaining.iter().zip(&new_found) {
        if let Some((cluster, similarity)) = *found {
            if accepted(row, similarity) && !inputs[row].duplicate {
                originals[cluster] += 1;
                first_original[cluster] = first_original[cluster].min(row);
                cohesion[cluster] += f64::from(similarity);
            }
        }
    }
    // Next to existing topics, a new cluster must be as tight as a topic a comment would join
    // (mean cosine to its centroid at least `assign_similarity`): the comments that fit no topic
    // are mostly loose one-offs, and their clusters are not subjects.
    let tight_enough = |cluster: usize| {
        old_slots.is_empty()
            || cohesion[cluster] / originals[cluster].max(1) as f64 >= config.assign_similarity
    };
    let mut kept: Vec<usize> = (0..new_count)
        .filter(|&cluster| originals[cluster] >= min_size && tight_enough(cluster))
        .collect();
    kept.sort_by_key(|&cluster| (Reverse(originals[cluster]), first_original[cluster]));
    let mut slot_of_new: Vec<Option<usize>> = vec![None; new_count];
    let mut kept_slots = Vec::with_capacity(kept.len());
    let mut kept_centroids = Vec::with_capacity(kept.len() * dim);
    for &cluster in &kept {
        let centroid = new_centroids[cluster * dim..(cluster + 1) * dim].to_vec();
        slot_of_new[cluster] = Some(topics.len());
        kept_slots.push(topics.len());
        kept_centroids.extend_from_slice(&centroid);
        topics.push(TopicCentroid {
            id: next_id,
            centroid,
            size: 0,
            known_from: None,
        });
        next_id = next_id.saturating_add(1);
    }

    // 3. Whatever is left goes to its nearest topic, old or new, unless it is an outlier.
    let mut leftover = Vec::new();
    for (&row, found) in remaining.iter().zip(&new_found) {
        let new_slot = found
            .filter(|&(_, similarity)| accepted(row, similarity))
            .and_then(|(cluster, _)| slot_of_new[cluster]);
        match new_slot {
            Some(slot) => slot_of[row] = Some(slot),
            None => leftover.push(row),
        }
    }
    for (&row, found) in leftover
        .iter()
        .zip(nearest(&matrix, &leftover, &kept_centroids))
    {
        let from_new = found.map(|(index, similarity)| (kept_slots[index], similarity));
        let best = match (best_old[row], from_new) {
            (Some(old), Some(new)) if new.1 > old.1 => Some(new),
            (Some(old), _) => Some(old),
            (None, new) => new,
        };
        if let Some((slot, similarity)) = best {
            if accepted(row, similarity) {
                slot_of[row] = Some(slot);
            }
        }
    }

    // 4. Centroids and sizes from the members; topics whose centroids converged become one;
    //    confidences against the new centroids.
    recompute_centroids(&matrix, inputs, &slot_of, &mut topics);
    let merges = merge_converged(
        &matrix,
        inputs,
        &mut slot_of,
        &mut topics,
        config.merge_similarity,
    );
    if !old_slots.is_empty() {
        let originals: Vec<usize> = valid_rows
            .iter()
            .copied()
            .filter(|&row| !inputs[row].duplicate)
            .collect();
        let wanted = kmeans::cluster_count(&matrix, &originals, config);
        split_broad(
            &matrix,
            inputs,
            &mut slot_of,
            &mut topics,
            &mut next_id,
            wanted,
            config,
        );
    }
    let mut sizes = vec![0u64; topics.len()];
    for slot in slot_of.iter().flatten() {
        sizes[*slot] += 1;
    }
    for (topic, size) in topics.iter_mut().zip(sizes) {
        topic.size = size;
    }
    Fitted {
        matrix,
        slot_of,
        topics,
        next_id,
        merges,
    }
}

/// Steps 5-7 on a fit: confidences, labels and representatives, themes.
fn finish(inputs: &[TopicInput], fitted: Fitted, config: &TopicsConfig) -> TopicsResult {
    let Fitted {
        matrix,
        slot_of,
        topics,
        next_id,
        merges,
    } = fitted;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); topics.len()];
    for (row, slot) in slot_of.iter().enumerate() {
        if let Some(slot) = *slot {
            members[slot].push(row);
        }
    }
    let mut confidence = vec![0.0f32; inputs.len()];
    let assignments: Vec<Option<Assignment>> = slot_of
        .iter()
        .enumerate()
        .map(|(row, slot)| {
            slot.map(|slot| {
                let similarity = dot(matrix.row(row), &topics[slot].centroid);
                confidence[row] = similarity;
                Assignment {
                    topic: topics[slot].id,
                    confidence: similarity,
                }
            })
        })
        .collect();

    // 5. Labels of the topics that have members.
    let listed: Vec<usize> = (0..topics.len())
        .filter(|&slot| !members[slot].is_empty())
        .collect();
    let listed_members: Vec<Vec<usize>> =
        listed.iter().map(|&slot| members[slot].clone()).collect();
    let descriptions = keywords::describe(
        inputs,
        &listed_members,
        &confidence,
        config.keywords,
        config.representatives,
    );
    let mut described: Vec<Topic> = listed
        .iter()
        .zip(descriptions)
        .map(|(&slot, description)| {
            let mut sentiment = SentimentCounts::default();
            for &row in &members[slot] {
                sentiment.add(inputs[row].sentiment);
            }
            Topic {
                id: topics[slot].id,
                label: String::new(),
                kind: labels::kind(inputs, &members[slot]),
                keywords: description.keywords,
                size: topics[slot].size,
                sentiment,
                representatives: description.representatives,
                theme: None,
                known_from: topics[slot].known_from,
            }
        })
        .collect();
    described.sort_by_key(|topic| topic.id);
    labels::make_unique(&mut described);

    // 6. Themes over the listed topics.
    let centroid_of: BTreeMap<TopicId, &[f32]> = topics
        .iter()
        .map(|topic| (topic.id, topic.centroid.as_slice()))
        .collect();
    // Spam and floods are not subjects: they never group real topics into their theme.
    let theme_inputs: Vec<themes::ThemeInput> = described
        .iter()
        .filter(|topic| topic.kind == TopicKind::Subject)
        .map(|topic| themes::ThemeInput {
            id: topic.id,
            centroid: centroid_of[&topic.id],
            size: topic.size,
            keywords: &topic.keywords,
        })
        .collect();
    let themes = themes::themes(&theme_inputs, config.theme_similarity);
    drop(theme_inputs);
    let theme_of: BTreeMap<TopicId, TopicId> = themes
        .iter()
        .flat_map(|theme| theme.topics.iter().map(move |&topic| (topic, theme.id)))
        .collect();
    for topic in &mut described {
        topic.theme = theme_of.get(&topic.id).copied();
    }
    TopicsResult {
        assignments,
        topics: described,
        state: TopicState {
            next_id,
            topics,
            run: 0,
            through: None,
            comments: inputs.len() as u64,
            encoder: None,
        },
        merges,
        themes,
    }
}

/// Splits topics in two until there are `wanted` topics with members: topics grow as epochs add
/// comments, and without splits an incremental fit would keep the coarse topics of its first, small
/// step. The topic with the largest spread (sum of `1 - cosine` of its members to its centroid; ties:
/// lower id) is bisected by 2-means; the half with fewer members becomes a new topic (a `split_from`
/// in the lineage). A topic whose halves would be too similar (`merge_similarity`) or too small
/// (`min_topic_size`) is not split.
fn split_broad(
    matrix: &Matrix,
    inputs: &[TopicInput],
    slot_of: &mut [Option<usize>],
    topics: &mut Vec<TopicCentroid>,
    next_id: &mut TopicId,
    wanted: usize,
    config: &TopicsConfig,
) {
    let min_size = config.min_topic_size.max(1);
    let mut unsplittable = vec![false; topics.len()];
    loop {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); topics.len()];
        for (row, slot) in slot_of.iter().enumerate() {
            if let Some(slot) = *slot {
                members[slot].push(row);
            }
        }
        let live = members.iter().filter(|rows| !rows.is_empty()).count();
        if live >= wanted {
            return;
        }
        unsplittable.resize(topics.len(), false);
        let spread = |slot: usize| -> f64 {
            members[slot]
                .iter()
                .filter(|&&row| !inputs[row].duplicate)
                .map(|&row| f64::from(1.0 - dot(matrix.row(row), &topics[slot].centroid)))
                .sum()
        };
        let candidate = (0..topics.len())
            .filter(|&slot| !unsplittable[slot] && members[slot].len() >= 2 * min_size)
            .map(|slot| (spread(slot), slot))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, slot)) = candidate else {
            return;
        };
        unsplittable[slot] = true;
        let train: Vec<usize> = members[slot]
            .iter()
            .copied()
            .filter(|&row| !inputs[row].duplicate)
            .collect();
        let halves = kmeans::find_clusters(matrix, &train, 2, config);
        if halves.len() != 2 * matrix.dim() {
            continue;
        }
        let found = nearest(matrix, &members[slot], &halves);
        let mut originals = [0usize; 2];
        for (&row, found) in members[slot].iter().zip(&found) {
            if let (Some((half, _)), false) = (found, inputs[row].duplicate) {
                originals[*half] += 1;
            }
        }
        if originals.iter().any(|&count| count < min_size) {
            continue;
        }
        let smaller = usize::from(originals[1] < originals[0]);
        let new_slot = topics.len();
        topics.push(TopicCentroid {
            id: *next_id,
            centroid: halves[smaller * matrix.dim()..(smaller + 1) * matrix.dim()].to_vec(),
            size: 0,
            known_from: None,
        });
        *next_id = next_id.saturating_add(1);
        for (&row, found) in members[slot].iter().zip(&found) {
            if matches!(found, Some((half, _)) if *half == smaller) {
                slot_of[row] = Some(new_slot);
            }
        }
        unsplittable[slot] = false;
        recompute_centroids(matrix, inputs, slot_of, topics);
    }
}

/// Merges topics whose centroids have come within `min_similarity` of each other (most similar pair
/// first; the one with fewer members goes into the other, ties: the higher id goes), moving the
/// members and recomputing the centroid. Returns (retired id, surviving id) pairs.
fn merge_converged(
    matrix: &Matrix,
    inputs: &[TopicInput],
    slot_of: &mut [Option<usize>],
    topics: &mut [TopicCentroid],
    min_similarity: f64,
) -> Vec<(TopicId, TopicId)> {
    let mut merges = Vec::new();
    loop {
        let mut counts = vec![0usize; topics.len()];
        for slot in slot_of.iter().flatten() {
            counts[*slot] += 1;
        }
        let live: Vec<usize> = (0..topics.len()).filter(|&slot| counts[slot] > 0).collect();
        let mut best: Option<(usize, usize, f32)> = None;
        for (index, &a) in live.iter().enumerate() {
            for &b in &live[index + 1..] {
                let similarity = dot(&topics[a].centroid, &topics[b].centroid);
                if similarity >= min_similarity as f32
                    && best.is_none_or(|(_, _, best)| similarity > best)
                {
                    best = Some((a, b, similarity));
                }
            }
        }
        let Some((a, b, _)) = best else {
            return merges;
        };
        let (from, into) =
            if (counts[a], Reverse(topics[a].id)) < (counts[b], Reverse(topics[b].id)) {
                (a, b)
            } else {
                (b, a)
            };
        for slot in slot_of.iter_mut() {
            if *slot == Some(from) {
                *slot = Some(into);
            }
        }
        merges.push((topics[from].id, topics[into].id));
        recompute_centroids(matrix, inputs, slot_of, topics);
    }
}

/// The most common non-zero embedding length (ties: the smaller), or 0 when there is none.
fn embedding_dim(inputs: &[TopicInput]) -> usize {
    let mut lengths: BTreeMap<usize, usize> = BTreeMap::new();
    for input in inputs {
        if !input.embedding.is_empty() {
            *lengths.entry(input.embedding.len()).or_insert(0) += 1;
        }
    }
    lengths
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(length, _)| length)
}

/// The embeddings as one contiguous row-major matrix, each row re-normalised to unit length; rows
/// whose embedding is unusable are zero and marked invalid.
fn build_matrix(inputs: &[TopicInput], dim: usize) -> (Matrix, Vec<bool>) {
    let mut data = vec![0.0f32; inputs.len() * dim];
    let mut valid = vec![false; inputs.len()];
    if dim > 0 {
        for ((input, row), ok) in inputs
            .iter()
            .zip(data.chunks_exact_mut(dim))
            .zip(valid.iter_mut())
        {
            if input.embedding.len() != dim || !input.embedding.iter().all(|v| v.is_finite()) {
                continue;
            }
            let as_f64: Vec<f64> = input.embedding.iter().map(|&v| f64::from(v)).collect();
            *ok = normalize_into(&as_f64, row);
        }
    }
    (Matrix::new(data, dim), valid)
}

/// Slots and unit-length centroids (flattened) of the live topics (size above 0) whose centroid has
/// length `dim` and is not zero; other topics (retired ones, or ones from an encoder with another
/// dimension) are never matched.
fn usable_centroids(topics: &[TopicCentroid], dim: usize) -> (Vec<usize>, Vec<f32>) {
    let mut slots = Vec::new();
    let mut centroids = Vec::new();
    if dim == 0 {
        return (slots, centroids);
    }
    let mut unit = vec![0.0f32; dim];
    for (slot, topic) in topics.iter().enumerate() {
        // A topic without members was merged or died: its id is retired and takes no members.
        if topic.size == 0
            || topic.centroid.len() != dim
            || !topic.centroid.iter().all(|v| v.is_finite())
        {
            continue;
        }
        let as_f64: Vec<f64> = topic.centroid.iter().map(|&v| f64::from(v)).collect();
        if normalize_into(&as_f64, &mut unit) {
            slots.push(slot);
            centroids.extend_from_slice(&unit);
        }
    }
    (slots, centroids)
}

/// Sets each topic's centroid to the unit-length mean of its non-duplicate members; a topic without
/// such members keeps its centroid.
fn recompute_centroids(
    matrix: &Matrix,
    inputs: &[TopicInput],
    slot_of: &[Option<usize>],
    topics: &mut [TopicCentroid],
) {
    let dim = matrix.dim();
    if dim == 0 {
        return;
    }
    let originals: Vec<usize> = (0..inputs.len())
        .filter(|&row| slot_of[row].is_some() && !inputs[row].duplicate)
        .collect();
    let labels: Vec<Option<usize>> = originals.iter().map(|&row| slot_of[row]).collect();
    let (sums, counts) = member_sums(matrix, &originals, &labels, topics.len());
    for (slot, topic) in topics.iter_mut().enumerate() {
        if counts[slot] == 0 {
            continue;
        }
        let mut centroid = vec![0.0f32; dim];
        if normalize_into(&sums[slot * dim..(slot + 1) * dim], &mut centroid) {
            topic.centroid = centroid;
        }
    }
}

#[cfg(test)]
mod tests;
