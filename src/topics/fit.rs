//! Steps 1-4 of clustering ([`fit`]): each comment is assigned to the nearest existing topic close
//! enough to it, the rest are clustered into new topics (in the UMAP layout on a fresh fit), broad
//! topics are split, centroids recomputed and converged topics merged. Also the embedding matrix
//! and centroid helpers these steps build on.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::kmeans::{dot, member_sums, nearest, normalize_into, Matrix};
use super::{kmeans, reduce, TopicCentroid, TopicInput, TopicState, TopicsConfig};
use crate::types::TopicId;

/// What steps 1-4 of clustering leave: the embeddings, each input's slot in `topics`, the topics
/// (every topic ever created, sizes set) and the merges.
pub(super) struct Fitted {
    pub(super) matrix: Matrix,
    pub(super) slot_of: Vec<Option<usize>>,
    pub(super) topics: Vec<TopicCentroid>,
    pub(super) next_id: TopicId,
    pub(super) merges: Vec<(TopicId, TopicId)>,
    /// The topic space's offset ([`TopicState::offset`]), kept for the next fit.
    pub(super) offset: Option<Vec<f32>>,
}

impl Fitted {
    /// Each input's topic id.
    pub(super) fn topic_ids(&self) -> Vec<Option<TopicId>> {
        self.slot_of
            .iter()
            .map(|slot| slot.map(|slot| self.topics[slot].id))
            .collect()
    }
}

/// Steps 1-4: assignment to existing topics, new topics from the rest, centroids, merges.
pub(super) fn fit(
    inputs: &[TopicInput],
    previous: Option<&TopicState>,
    config: &TopicsConfig,
) -> Fitted {
    let dim = embedding_dim(inputs);
    let (mut matrix, mut valid) = build_matrix(inputs, dim);
    let kept = previous
        .and_then(|state| state.offset.clone())
        .filter(|offset| offset.len() == dim);
    let fixed_now = match kept {
        Some(_) => None,
        None => first_offset(&matrix, inputs, &valid, config),
    };
    let offset = kept.or_else(|| fixed_now.clone());
    if let Some(offset) = &offset {
        recentre_rows(&mut matrix, &mut valid, offset);
    }
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
    // Topics of the days before the offset was fixed move into the recentred space with it.
    if let Some(offset) = &fixed_now {
        for topic in &mut topics {
            let mut moved = vec![0.0f32; topic.centroid.len()];
            if topic.centroid.len() == offset.len()
                && recentre_into(&topic.centroid, offset, &mut moved)
            {
                topic.centroid = moved;
            }
        }
    }
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
        offset,
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

/// Fewest distinct comments whose mean may become a workspace's [`TopicState::offset`]: fewer
/// say more about themselves than about the corpus they come from.
const OFFSET_MIN_COMMENTS: usize = 100;

/// The offset a workspace fixes ([`TopicState::offset`]) at its first fit of at least
/// [`OFFSET_MIN_COMMENTS`] distinct comments (a stream's first days may have fewer), when
/// `config.recentre` is on: the mean of their unit vectors. Summed in row order, so it does not
/// depend on the thread count.
fn first_offset(
    matrix: &Matrix,
    inputs: &[TopicInput],
    valid: &[bool],
    config: &TopicsConfig,
) -> Option<Vec<f32>> {
    let rows: Vec<usize> = (0..inputs.len())
        .filter(|&row| valid[row] && !inputs[row].duplicate)
        .collect();
    if !config.recentre || rows.len() < OFFSET_MIN_COMMENTS {
        return None;
    }
    let mut sum = vec![0.0f64; matrix.dim()];
    for &row in &rows {
        for (total, &value) in sum.iter_mut().zip(matrix.row(row)) {
            *total += f64::from(value);
        }
    }
    Some(
        sum.iter()
            .map(|total| (total / rows.len() as f64) as f32)
            .collect(),
    )
}

/// Turns a unit vector into its place in a topic space with `offset`: the offset removed, length
/// one again. False (and `out` untouched) when nothing is left.
pub(super) fn recentre_into(vector: &[f32], offset: &[f32], out: &mut [f32]) -> bool {
    let moved: Vec<f64> = vector
        .iter()
        .zip(offset)
        .map(|(&value, &mean)| f64::from(value) - f64::from(mean))
        .collect();
    normalize_into(&moved, out)
}

/// [`recentre_into`] for every valid row of `matrix`; a row with nothing left becomes invalid.
fn recentre_rows(matrix: &mut Matrix, valid: &mut [bool], offset: &[f32]) {
    let dim = matrix.dim();
    let mut out = vec![0.0f32; dim];
    for (row, ok) in valid.iter_mut().enumerate() {
        if *ok {
            *ok = recentre_into(matrix.row(row), offset, &mut out);
            if *ok {
                matrix.row_mut(row).copy_from_slice(&out);
            }
        }
    }
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
pub(super) fn recompute_centroids(
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
