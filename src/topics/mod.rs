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
//! - Labels come from class-based TF-IDF over the members' content terms (see `keywords.rs`).
//!
//! Everything is deterministic: the same inputs and config give the same result whatever the number
//! of rayon threads.

mod epochs;
mod keywords;
mod kmeans;
pub mod lineage;
mod reduce;
mod stored;
pub mod themes;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{Lang, SentimentCounts, SentimentLabel, Topic, TopicId};
pub use epochs::{cluster_epochs, plan_epochs, EpochPlan};
use kmeans::{dot, member_sums, nearest, normalize_into, Matrix};
pub use lineage::{TopicEvent, TopicEventKind};
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
            let label = if description.keywords.is_empty() {
                format!("topic {}", topics[slot].id)
            } else {
                description
                    .keywords
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Topic {
                id: topics[slot].id,
                label,
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

    // 6. Themes over the listed topics.
    let centroid_of: BTreeMap<TopicId, &[f32]> = topics
        .iter()
        .map(|topic| (topic.id, topic.centroid.as_slice()))
        .collect();
    let theme_inputs: Vec<themes::ThemeInput> = described
        .iter()
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

/// One sentiment-bearing unit for [`sentence_sentiment`]: a sentence of a multi-sentence comment
/// (placed by its own embedding) or a whole single-sentence comment (placed by its assignment).
pub enum SentimentUnit<'a> {
    /// A sentence: its embedding, its comment's topic (if any) and its label.
    Sentence(&'a [f32], Option<TopicId>, SentimentLabel),
    /// A comment of one sentence: its topic (if any) and label.
    Comment(Option<TopicId>, SentimentLabel),
}

/// Topic sentiment from sentences: a sentence counts for the live topic whose centroid is nearest to
/// it when that cosine reaches `min_similarity` (short sentences are generic, so this bar is higher
/// than the one for whole comments), else for its comment's topic. "Fast delivery, but the battery
/// died" adds a positive to the delivery topic and a negative to the battery topic. Single-sentence
/// comments count for their own topic. Replaces the `sentiment` counts of `topics` (which then
/// count sentences).
pub fn sentence_sentiment(
    topics: &mut [Topic],
    state: &TopicState,
    units: &[SentimentUnit],
    min_similarity: f64,
) {
    let live: Vec<&TopicCentroid> = state
        .topics
        .iter()
        .filter(|topic| topics.binary_search_by_key(&topic.id, |t| t.id).is_ok())
        .collect();
    let placed: Vec<Option<(TopicId, SentimentLabel)>> = units
        .par_iter()
        .map(|unit| match *unit {
            SentimentUnit::Comment(topic, label) => topic.map(|topic| (topic, label)),
            SentimentUnit::Sentence(embedding, own, label) => {
                let mut best: Option<(f32, TopicId)> = None;
                for topic in &live {
                    let similarity: f32 = topic
                        .centroid
                        .iter()
                        .zip(embedding)
                        .map(|(a, b)| a * b)
                        .sum();
                    if best.is_none_or(|(top, _)| similarity > top) {
                        best = Some((similarity, topic.id));
                    }
                }
                best.filter(|&(similarity, _)| similarity >= min_similarity as f32)
                    .map(|(_, topic)| topic)
                    .or(own)
                    .map(|topic| (topic, label))
            }
        })
        .collect();
    for topic in topics.iter_mut() {
        topic.sentiment = SentimentCounts::default();
    }
    for (topic, label) in placed.into_iter().flatten() {
        if let Ok(index) = topics.binary_search_by_key(&topic, |t| t.id) {
            topics[index].sentiment.add(label);
        }
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
mod tests {
    use super::*;
    use crate::text::is_stopword;
    use kmeans::SplitMix64;
    use std::collections::HashMap;

    const DIM: usize = 384;

    /// A standard normal sample (Box-Muller).
    fn gaussian(rng: &mut SplitMix64) -> f32 {
        let u1 = rng.next_f64().max(1e-12);
        let u2 = rng.next_f64();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    fn normalized(mut vector: Vec<f32>) -> Vec<f32> {
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        vector.iter_mut().for_each(|v| *v /= norm);
        vector
    }

    fn random_direction(rng: &mut SplitMix64) -> Vec<f32> {
        normalized((0..DIM).map(|_| gaussian(rng)).collect())
    }

    /// A unit vector near `center` (cosine about 0.9).
    fn near(center: &[f32], rng: &mut SplitMix64) -> Vec<f32> {
        normalized(center.iter().map(|c| c + 0.025 * gaussian(rng)).collect())
    }

    /// Owned comment data; `inputs()` borrows it as `TopicInput`s.
    struct Corpus {
        ids: Vec<String>,
        texts: Vec<String>,
        embeddings: Vec<Vec<f32>>,
        duplicate: Vec<bool>,
    }

    impl Corpus {
        fn new() -> Corpus {
            Corpus {
                ids: Vec::new(),
                texts: Vec::new(),
                embeddings: Vec::new(),
                duplicate: Vec::new(),
            }
        }

        fn push(&mut self, text: &str, embedding: Vec<f32>, duplicate: bool) {
            self.ids.push(format!("c{}", self.ids.len()));
            self.texts.push(text.to_string());
            self.embeddings.push(embedding);
            self.duplicate.push(duplicate);
        }

        fn add_blob(&mut self, center: &[f32], texts: &[&str], count: usize, rng: &mut SplitMix64) {
            for i in 0..count {
                self.push(texts[i % texts.len()], near(center, rng), false);
            }
        }

        fn inputs(&self) -> Vec<TopicInput<'_>> {
            (0..self.ids.len())
                .map(|i| TopicInput {
                    id: &self.ids[i],
                    text: &self.texts[i],
                    lang: Lang::En,
                    embedding: &self.embeddings[i],
                    sentiment: if i % 3 == 0 {
                        SentimentLabel::Negative
                    } else {
                        SentimentLabel::Neutral
                    },
                    duplicate: self.duplicate[i],
                })
                .collect()
        }
    }

    const BATTERY: [&str; 5] = [
        "The battery drains fast",
        "battery drains so fast after the update",
        "my battery drains overnight",
        "Battery drains quickly, battery life is terrible",
        "battery drains while the phone is idle",
    ];
    const DELIVERY: [&str; 5] = [
        "delivery was late",
        "The delivery was late again",
        "late delivery and the courier was rude",
        "my delivery was late by a week",
        "Delivery late, package damaged",
    ];
    const PAYMENT: [&str; 4] = [
        "payment failed at checkout",
        "the payment failed twice",
        "payment failed with my credit card",
        "checkout payment failed again",
    ];

    fn two_blobs(seed: u64) -> (Corpus, Vec<Vec<f32>>, SplitMix64) {
        let mut rng = SplitMix64::new(seed);
        let centers = vec![random_direction(&mut rng), random_direction(&mut rng)];
        let mut corpus = Corpus::new();
        corpus.add_blob(&centers[0], &BATTERY, 60, &mut rng);
        corpus.add_blob(&centers[1], &DELIVERY, 40, &mut rng);
        (corpus, centers, rng)
    }

    fn topic_of(result: &TopicsResult, index: usize) -> Option<TopicId> {
        result.assignments[index].map(|assignment| assignment.topic)
    }

    #[test]
    fn well_separated_blobs_become_labelled_topics() {
        let (corpus, _, _) = two_blobs(1);
        let result = cluster(&corpus.inputs(), None, &TopicsConfig::default());
        assert_eq!(result.topics.len(), 2, "{:?}", result.topics);
        // The bigger blob gets id 0.
        assert!((0..60).all(|i| topic_of(&result, i) == Some(0)));
        assert!((60..100).all(|i| topic_of(&result, i) == Some(1)));
        assert!(result
            .assignments
            .iter()
            .flatten()
            .all(|a| a.confidence > 0.7));
        let battery = &result.topics[0];
        let delivery = &result.topics[1];
        assert_eq!((battery.size, delivery.size), (60, 40));
        assert_eq!(battery.sentiment.total(), 60);
        assert_eq!(battery.sentiment.negative, 20);
        assert!(battery.label.contains("battery"), "{}", battery.label);
        assert!(delivery.label.contains("delivery"), "{}", delivery.label);
        assert!(!battery.keywords.iter().any(|k| k.contains("deliver")));
        for topic in &result.topics {
            assert!(topic.keywords.len() <= 8);
            assert!(topic.label.split(", ").count() <= 3);
            for word in topic.label.split([',', ' ']).filter(|w| !w.is_empty()) {
                assert!(
                    !is_stopword(word, Lang::En),
                    "stopword {word} in {}",
                    topic.label
                );
            }
            assert_eq!(topic.representatives.len(), 5);
        }
        assert_eq!(result.state.next_id, 2);
        assert_eq!(
            result
                .state
                .topics
                .iter()
                .map(|t| (t.id, t.size))
                .collect::<Vec<_>>(),
            vec![(0, 60), (1, 40)]
        );
    }

    #[test]
    fn identical_results_on_one_and_two_threads() {
        let (mut corpus, _, mut rng) = two_blobs(2);
        let third = random_direction(&mut rng);
        corpus.add_blob(&third, &PAYMENT, 500, &mut rng);
        let inputs = corpus.inputs();
        let config = TopicsConfig::default();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| cluster(&inputs, None, &config))
        };
        let single = run(1);
        let double = run(2);
        assert_eq!(single, double);
        assert_eq!(single.topics.len(), 3);
        let incremental_single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| cluster(&inputs, Some(&single.state), &config));
        let incremental_double = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(|| cluster(&inputs, Some(&single.state), &config));
        assert_eq!(incremental_single, incremental_double);
    }

    #[test]
    fn incremental_run_keeps_ids_and_adds_new_topic() {
        let (mut corpus, _, mut rng) = two_blobs(3);
        let config = TopicsConfig::default();
        let first = cluster(&corpus.inputs(), None, &config);
        assert_eq!(first.topics.len(), 2);
        let old_topics: Vec<Option<TopicId>> = (0..100).map(|i| topic_of(&first, i)).collect();

        let planted = random_direction(&mut rng);
        corpus.add_blob(&planted, &PAYMENT, 30, &mut rng);
        let second = cluster(&corpus.inputs(), Some(&first.state), &config);
        for (i, old) in old_topics.iter().enumerate() {
            assert_eq!(topic_of(&second, i), *old, "comment {i} changed topic");
        }
        assert!((100..130).all(|i| topic_of(&second, i) == Some(2)));
        assert_eq!(second.topics.len(), 3);
        assert!(
            second.topics[2].label.contains("payment"),
            "{}",
            second.topics[2].label
        );
        assert_eq!(second.state.next_id, 3);
        let ids: Vec<TopicId> = second.state.topics.iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![0, 1, 2]);
        // Lineage: the planted subject is born; nothing else changed.
        let previous: std::collections::HashMap<String, TopicId> = (0..100)
            .filter_map(|i| Some((corpus.ids[i].clone(), old_topics[i]?)))
            .collect();
        let now: Vec<(&str, Option<TopicId>)> = (0..130)
            .map(|i| (corpus.ids[i].as_str(), topic_of(&second, i)))
            .collect();
        let events = lineage::events(
            Some(&first.state),
            &second.state,
            &second.merges,
            &previous,
            &now,
            second.state.run,
            None,
            2,
        );
        let kinds: Vec<(TopicEventKind, TopicId)> =
            events.iter().map(|e| (e.event, e.topic)).collect();
        assert_eq!(kinds, vec![(TopicEventKind::Born, 2)]);
        assert_eq!((events[0].seq, events[0].run, events[0].size), (3, 2, 30));

        // Without the battery comments, topic 0 stays in the state with size 0 and is not listed;
        // a further new blob gets a fresh id, never 0 again.
        let mut later = Corpus::new();
        for i in 60..130 {
            later.push(&corpus.texts[i], corpus.embeddings[i].clone(), false);
        }
        let fresh = random_direction(&mut rng);
        later.add_blob(
            &fresh,
            &["screen cracked", "cracked screen again"],
            20,
            &mut rng,
        );
        let third = cluster(&later.inputs(), Some(&second.state), &config);
        let listed: Vec<TopicId> = third.topics.iter().map(|t| t.id).collect();
        assert_eq!(listed, vec![1, 2, 3]);
        assert_eq!(third.state.topics[0].id, 0);
        assert_eq!(third.state.topics[0].size, 0);
        assert_eq!(
            third.state.topics[0].centroid,
            second.state.topics[0].centroid
        );
        assert_eq!(third.state.next_id, 4);
        let now: Vec<(&str, Option<TopicId>)> = (0..later.ids.len())
            .map(|i| (later.ids[i].as_str(), topic_of(&third, i)))
            .collect();
        let events = lineage::events(
            Some(&second.state),
            &third.state,
            &third.merges,
            &std::collections::HashMap::new(),
            &now,
            third.state.run,
            None,
            3,
        );
        let kinds: Vec<(TopicEventKind, TopicId)> =
            events.iter().map(|e| (e.event, e.topic)).collect();
        assert!(kinds.contains(&(TopicEventKind::Born, 3)), "{kinds:?}");
        assert!(kinds.contains(&(TopicEventKind::Died, 0)), "{kinds:?}");
    }

    #[test]
    fn topics_whose_centroids_converge_merge_into_the_larger() {
        let mut rng = SplitMix64::new(11);
        let a = random_direction(&mut rng);
        // b at cosine 0.8 from a.
        let noise = random_direction(&mut rng);
        let along: f32 = a.iter().zip(&noise).map(|(x, y)| x * y).sum();
        let orthogonal = normalized(noise.iter().zip(&a).map(|(n, x)| n - along * x).collect());
        let b: Vec<f32> = a
            .iter()
            .zip(&orthogonal)
            .map(|(x, o)| 0.8 * x + 0.6 * o)
            .collect();
        let mut corpus = Corpus::new();
        corpus.add_blob(&a, &BATTERY, 60, &mut rng);
        corpus.add_blob(&b, &DELIVERY, 40, &mut rng);
        let config = TopicsConfig::default();
        let first = cluster(&corpus.inputs(), None, &config);
        assert_eq!(first.topics.len(), 2, "{:?}", first.topics);
        // Many comments between the two pull the centroids together.
        let middle = normalized(a.iter().zip(&b).map(|(x, y)| x + y).collect());
        corpus.add_blob(&middle, &PAYMENT, 400, &mut rng);
        let second = cluster(&corpus.inputs(), Some(&first.state), &config);
        assert_eq!(second.merges, vec![(1, 0)]);
        assert!(second
            .assignments
            .iter()
            .all(|a| a.map(|a| a.topic) == Some(0)));
        let listed: Vec<TopicId> = second.topics.iter().map(|t| t.id).collect();
        assert_eq!(listed, vec![0]);
        // The retired topic keeps its old centroid, nearer to the delivery comments than the
        // survivor's, but takes no members again, so it is not merged a second time.
        assert_eq!(second.state.topics[1].size, 0);
        let third = cluster(&corpus.inputs(), Some(&second.state), &config);
        assert_eq!(third.merges, vec![]);
        assert!((0..40)
            .map(|i| 60 + i)
            .all(|i| topic_of(&third, i) != Some(1)));
        let listed: Vec<TopicId> = third.topics.iter().map(|t| t.id).collect();
        assert!(!listed.contains(&1), "{listed:?}");
    }

    #[test]
    fn themes_group_related_topics() {
        let (mut corpus, centers, mut rng) = two_blobs(5);
        // A third subject close to the delivery one (cosine about 0.75 between the centres).
        let related = normalized(
            centers[1]
                .iter()
                .zip(random_direction(&mut rng))
                .map(|(c, r)| c + 0.85 * r)
                .collect(),
        );
        corpus.add_blob(&related, &PAYMENT, 30, &mut rng);
        // Three topics (the silhouette would see two subjects, as the themes below do).
        let config = TopicsConfig {
            auto_clusters: AutoClusters::Sqrt,
            ..TopicsConfig::default()
        };
        let result = cluster(&corpus.inputs(), None, &config);
        assert_eq!(result.topics.len(), 3, "{:?}", result.topics);
        assert_eq!(result.themes.len(), 2, "{:?}", result.themes);
        let delivery = topic_of(&result, 60).unwrap();
        let payment = topic_of(&result, 100).unwrap();
        let battery = topic_of(&result, 0).unwrap();
        let theme_of = |id: TopicId| result.topics.iter().find(|t| t.id == id).unwrap().theme;
        assert_eq!(theme_of(delivery), theme_of(payment));
        assert_ne!(theme_of(delivery), theme_of(battery));
    }

    #[test]
    fn duplicates_do_not_move_centroids_or_keywords() {
        let (mut corpus, centers, mut rng) = two_blobs(4);
        // One original far off the delivery centre but still in that topic...
        let off_center = normalized(
            centers[1]
                .iter()
                .zip(random_direction(&mut rng))
                .map(|(c, r)| c + 0.9 * r)
                .collect(),
        );
        corpus.push("refund refund refund please", off_center.clone(), false);
        let config = TopicsConfig::default();
        let without = cluster(&corpus.inputs(), None, &config);
        // ...then a flood of 300 exact copies of it.
        for _ in 0..300 {
            corpus.push("refund refund refund please", off_center.clone(), true);
        }
        let with = cluster(&corpus.inputs(), None, &config);
        assert_eq!(with.state.topics.len(), without.state.topics.len());
        for (a, b) in with.state.topics.iter().zip(&without.state.topics) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.centroid, b.centroid, "duplicates moved topic {}", a.id);
        }
        let flood_topic = topic_of(&with, 100).expect("the original is assigned");
        assert!((101..401).all(|i| topic_of(&with, i) == Some(flood_topic)));
        let topic = with.topics.iter().find(|t| t.id == flood_topic).unwrap();
        assert!(topic.size >= 300);
        assert!(!topic.label.contains("refund"), "{}", topic.label);
        let duplicate_ids: Vec<&String> = corpus.ids[101..].iter().collect();
        assert!(!topic
            .representatives
            .iter()
            .any(|id| duplicate_ids.contains(&id)));
    }

    #[test]
    fn orthogonal_outliers_stay_unassigned() {
        let (mut corpus, centers, mut rng) = two_blobs(5);
        for _ in 0..3 {
            // Remove the components along both blob centres: cosine to every centroid stays ~0.
            let mut vector = random_direction(&mut rng);
            for center in &centers {
                let along = dot(&vector, center);
                vector
                    .iter_mut()
                    .zip(center)
                    .for_each(|(v, c)| *v -= along * c);
            }
            corpus.push("something else entirely", normalized(vector), false);
        }
        corpus.push("no embedding", Vec::new(), false);
        corpus.push("bad embedding", vec![f32::NAN; DIM], false);
        let result = cluster(&corpus.inputs(), None, &TopicsConfig::default());
        assert_eq!(result.topics.len(), 2);
        assert!((100..105).all(|i| result.assignments[i].is_none()));
        assert!((0..100).all(|i| result.assignments[i].is_some()));
        let incremental = cluster(
            &corpus.inputs(),
            Some(&result.state),
            &TopicsConfig::default(),
        );
        assert!((100..105).all(|i| incremental.assignments[i].is_none()));
    }

    #[test]
    fn empty_and_tiny_inputs_give_no_topics() {
        let empty = cluster(&[], None, &TopicsConfig::default());
        assert!(empty.assignments.is_empty() && empty.topics.is_empty());
        assert_eq!(
            empty.state,
            TopicState {
                through: None,
                comments: 0,
                encoder: None,
                next_id: 0,
                topics: Vec::new(),
                run: 1,
            }
        );

        let mut rng = SplitMix64::new(6);
        let center = random_direction(&mut rng);
        let mut corpus = Corpus::new();
        corpus.add_blob(&center, &BATTERY, 3, &mut rng);
        let tiny = cluster(&corpus.inputs(), None, &TopicsConfig::default());
        assert!(tiny.topics.is_empty());
        assert!(tiny.assignments.iter().all(Option::is_none));
    }

    #[test]
    fn config_round_trips_through_toml_and_rejects_unknown_fields() {
        let config = TopicsConfig::default();
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<TopicsConfig>(&text).unwrap(), config);
        let custom: TopicsConfig = toml::from_str("clusters = 12\nmin_topic_size = 3").unwrap();
        assert_eq!(custom.clusters, Some(12));
        assert_eq!(custom.min_topic_size, 3);
        assert_eq!(custom.merge_similarity, 0.85);
        assert!(toml::from_str::<TopicsConfig>("clusterz = 3").is_err());
    }

    #[test]
    fn sentence_sentiment_counts_each_sentence_for_its_nearest_topic() {
        let topic = |id: TopicId| Topic {
            id,
            label: format!("topic {id}"),
            keywords: Vec::new(),
            size: 1,
            sentiment: SentimentCounts::default(),
            representatives: Vec::new(),
            theme: None,
            known_from: None,
        };
        let mut topics = vec![topic(1), topic(2)];
        let state = TopicState {
            through: None,
            comments: 0,
            encoder: None,
            next_id: 4,
            run: 1,
            topics: vec![
                TopicCentroid {
                    id: 1,
                    centroid: vec![1.0, 0.0, 0.0],
                    size: 1,
                    known_from: None,
                },
                TopicCentroid {
                    id: 2,
                    centroid: vec![0.0, 1.0, 0.0],
                    size: 1,
                    known_from: None,
                },
                // A dead topic is never chosen.
                TopicCentroid {
                    id: 3,
                    centroid: vec![0.0, 0.0, 1.0],
                    size: 0,
                    known_from: None,
                },
            ],
        };
        let delivery = [0.9f32, 0.1, 0.0];
        let battery = [0.1f32, 0.95, 0.0];
        let elsewhere = [0.0f32, 0.05, 1.0];
        let units = [
            SentimentUnit::Sentence(&delivery, Some(2), SentimentLabel::Positive),
            SentimentUnit::Sentence(&battery, Some(2), SentimentLabel::Negative),
            // Near no live topic: counts for its comment's topic, or nowhere.
            SentimentUnit::Sentence(&elsewhere, Some(1), SentimentLabel::Negative),
            SentimentUnit::Sentence(&elsewhere, None, SentimentLabel::Negative),
            SentimentUnit::Comment(Some(2), SentimentLabel::Neutral),
            SentimentUnit::Comment(None, SentimentLabel::Positive),
        ];
        sentence_sentiment(&mut topics, &state, &units, 0.5);
        assert_eq!(topics[0].sentiment.positive, 1);
        assert_eq!(topics[0].sentiment.negative, 1);
        assert_eq!(topics[0].sentiment.total(), 2);
        assert_eq!(topics[1].sentiment.negative, 1);
        assert_eq!(topics[1].sentiment.neutral, 1);
        assert_eq!(topics[1].sentiment.total(), 2);
    }

    #[test]
    fn state_round_trips_through_json() {
        let (corpus, _, _) = two_blobs(7);
        let result = cluster(&corpus.inputs(), None, &TopicsConfig::default());
        let json = serde_json::to_string(&result.state).unwrap();
        let back: TopicState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, result.state);
    }

    fn day(d: i64) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(d * 86_400 + 3_600, 0)
    }

    #[test]
    fn epochs_follow_data_days_and_late_comments_join_the_first_open_one() {
        let config = TopicsConfig::default();
        let plan = plan_epochs(&[day(2), day(1), None, day(2)], None, &config);
        assert_eq!(plan.steps, vec![86_400, 2 * 86_400]);
        assert_eq!(plan.joins, vec![2 * 86_400, 86_400, 2 * 86_400, 2 * 86_400]);
        // A state that has seen two comments and day 2: day 1 and day 2 arrive late.
        let state = TopicState {
            next_id: 0,
            topics: Vec::new(),
            run: 1,
            through: Some(2 * 86_400),
            comments: 2,
            encoder: None,
        };
        let plan = plan_epochs(
            &[day(2), day(2), day(1), day(5), None],
            Some(&state),
            &config,
        );
        assert_eq!(plan.steps, vec![3 * 86_400, 5 * 86_400]);
        assert_eq!(plan.joins[..2], [i64::MIN, i64::MIN]);
        assert_eq!(plan.joins[2..], [3 * 86_400, 5 * 86_400, 5 * 86_400]);
        // Nothing new: one re-fit; epochs off: one step.
        let plan = plan_epochs(&[day(2), day(2)], Some(&state), &config);
        assert_eq!(plan.steps, vec![i64::MIN]);
        let off = TopicsConfig {
            epoch_hours: 0.0,
            ..TopicsConfig::default()
        };
        let plan = plan_epochs(&[day(1), day(3)], None, &off);
        assert_eq!(
            (plan.steps, plan.joins),
            (vec![i64::MIN], vec![i64::MIN; 2])
        );
        // More epochs than steps allowed: consecutive ones are grouped.
        let capped = TopicsConfig {
            max_epoch_steps: 2,
            ..TopicsConfig::default()
        };
        let plan = plan_epochs(&[day(1), day(2), day(3), day(4)], None, &capped);
        assert_eq!(plan.steps, vec![2 * 86_400, 4 * 86_400]);
        assert_eq!(
            plan.joins,
            vec![2 * 86_400, 2 * 86_400, 4 * 86_400, 4 * 86_400]
        );
    }

    #[test]
    fn one_run_over_three_days_equals_three_daily_runs() {
        // Day 1: battery; day 2: delivery; day 3: payment, plus more battery.
        let mut rng = SplitMix64::new(11);
        let centers: Vec<Vec<f32>> = (0..3).map(|_| random_direction(&mut rng)).collect();
        let mut corpus = Corpus::new();
        let mut days = Vec::new();
        for (d, (center, texts)) in centers
            .iter()
            .zip([&BATTERY[..], &DELIVERY[..], &PAYMENT[..]])
            .enumerate()
        {
            corpus.add_blob(center, texts, 30, &mut rng);
            days.extend(std::iter::repeat_n(day(d as i64 + 1), 30));
        }
        corpus.add_blob(&centers[0], &BATTERY, 10, &mut rng);
        days.extend(std::iter::repeat_n(day(3), 10));
        let config = TopicsConfig::default();
        let inputs = corpus.inputs();

        let plan = plan_epochs(&days, None, &config);
        assert_eq!(plan.steps.len(), 3);
        let (single, single_events) =
            cluster_epochs(&inputs, &plan, None, HashMap::new(), &config, 0);
        // Each subject is born on its own day.
        let born: Vec<(TopicId, Option<chrono::DateTime<chrono::Utc>>)> = single_events
            .iter()
            .filter(|event| event.event == TopicEventKind::Born)
            .map(|event| (event.topic, event.epoch))
            .collect();
        let midnight = |d: i64| chrono::DateTime::from_timestamp(d * 86_400, 0);
        assert_eq!(
            born,
            vec![(0, midnight(1)), (1, midnight(2)), (2, midnight(3))]
        );
        // Each is known from the end of that day, in the state and in the listing.
        let known: Vec<(TopicId, Option<chrono::DateTime<chrono::Utc>>)> = single
            .state
            .topics
            .iter()
            .map(|topic| (topic.id, topic.known_from))
            .collect();
        assert_eq!(
            known,
            vec![(0, midnight(2)), (1, midnight(3)), (2, midnight(4))]
        );
        assert!(single
            .topics
            .iter()
            .all(|topic| topic.known_from == midnight(topic.id as i64 + 2)));

        let mut state: Option<TopicState> = None;
        let mut previous_topic = HashMap::new();
        let mut replayed = None;
        for end in [30, 60, 100] {
            let plan = plan_epochs(&days[..end], state.as_ref(), &config);
            assert_eq!(plan.steps.len(), 1);
            let (result, _) = cluster_epochs(
                &inputs[..end],
                &plan,
                state.as_ref(),
                previous_topic,
                &config,
                0,
            );
            previous_topic = (0..end)
                .filter_map(|i| Some((corpus.ids[i].clone(), topic_of(&result, i)?)))
                .collect();
            state = Some(result.state.clone());
            replayed = Some(result);
        }
        let mut replayed = replayed.unwrap();
        assert_eq!(replayed.state.run, 3);
        replayed.state.run = 1;
        assert_eq!(replayed, single);
    }

    /// Timing on a large synthetic corpus; run with
    /// `cargo test --release --lib topics::tests::large_corpus_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn large_corpus_timing() {
        let count: usize = std::env::var("XSIGNAL_TOPICS_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let mut rng = SplitMix64::new(8);
        let centers: Vec<Vec<f32>> = (0..60).map(|_| random_direction(&mut rng)).collect();
        let words = [
            "battery", "delivery", "payment", "screen", "login", "refund",
        ];
        let mut corpus = Corpus::new();
        for i in 0..count {
            let center = &centers[i % centers.len()];
            let text = format!("{} problem number {}", words[i % words.len()], i % 97);
            corpus.push(&text, near(center, &mut rng), i % 50 == 49);
        }
        let inputs = corpus.inputs();
        let start = std::time::Instant::now();
        let result = cluster(&inputs, None, &TopicsConfig::default());
        let fresh = start.elapsed();
        let start = std::time::Instant::now();
        let again = cluster(&inputs, Some(&result.state), &TopicsConfig::default());
        let incremental = start.elapsed();
        println!(
            "n={count} threads={} fresh={fresh:?} topics={} incremental={incremental:?} topics={}",
            rayon::current_num_threads(),
            result.topics.len(),
            again.topics.len()
        );
    }
}
