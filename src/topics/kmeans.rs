//! Spherical k-means (cosine) over unit vectors: k-means++ seeding from a seeded PRNG, Lloyd
//! iterations, merging of near-identical centroids and dissolving of small clusters.
//!
//! Every step gives the same result whatever the number of rayon threads: work is split into blocks
//! of a fixed size, a point's nearest centroid depends only on its own row, and partial sums are
//! added in block order. Memory stays O(n·d + k·d); no n×n or n×k matrix is ever built.

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::{AutoClusters, TopicsConfig};

/// Rows gathered into one block for the similarity product (fixed, so results do not depend on threads).
const NEAREST_BLOCK_ROWS: usize = 256;

/// Rows per partial centroid sum (fixed, so results do not depend on threads). Small in tests so that
/// the chunked merge is exercised on small data.
const SUM_BLOCK_ROWS: usize = if cfg!(test) { 64 } else { 4096 };

/// At most this many rounds of dissolving small clusters and recomputing the survivors.
const DISSOLVE_MAX_ROUNDS: usize = 10;

/// A row-major matrix of embeddings in one contiguous buffer.
pub(crate) struct Matrix {
    data: Vec<f32>,
    dim: usize,
}

impl Matrix {
    /// Wraps `data`, which holds `data.len() / dim` rows of `dim` values.
    pub(crate) fn new(data: Vec<f32>, dim: usize) -> Matrix {
        debug_assert!(dim == 0 || data.len().is_multiple_of(dim));
        Matrix { data, dim }
    }

    /// Length of one row.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Row `index`.
    pub(crate) fn row(&self, index: usize) -> &[f32] {
        &self.data[index * self.dim..(index + 1) * self.dim]
    }

    /// Row `index`, to change.
    pub(crate) fn row_mut(&mut self, index: usize) -> &mut [f32] {
        &mut self.data[index * self.dim..(index + 1) * self.dim]
    }
}

pub(crate) use crate::rng::SplitMix64;

/// Dot product with eight independent accumulators (vectorises well), added in a fixed order.
pub(crate) fn dot(left: &[f32], right: &[f32]) -> f32 {
    debug_assert_eq!(left.len(), right.len());
    let left_chunks = left.chunks_exact(8);
    let right_chunks = right.chunks_exact(8);
    let mut tail = 0.0f32;
    for (a, b) in left_chunks.remainder().iter().zip(right_chunks.remainder()) {
        tail += a * b;
    }
    let mut lanes = [0.0f32; 8];
    for (a, b) in left_chunks.zip(right_chunks) {
        for lane in 0..8 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    let pairs = [
        lanes[0] + lanes[4],
        lanes[1] + lanes[5],
        lanes[2] + lanes[6],
        lanes[3] + lanes[7],
    ];
    (pairs[0] + pairs[2]) + (pairs[1] + pairs[3]) + tail
}

/// Writes `sum / |sum|` into `out`; returns false (and leaves `out` alone) when the norm is zero or
/// not finite.
pub(crate) fn normalize_into(sum: &[f64], out: &mut [f32]) -> bool {
    let norm = sum.iter().map(|value| value * value).sum::<f64>().sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return false;
    }
    for (target, value) in out.iter_mut().zip(sum) {
        *target = (value / norm) as f32;
    }
    true
}

/// For each of `rows`, the nearest of the `centroids` (flattened, `dim` values each) and its cosine;
/// `None` when there are no centroids. Ties go to the lower centroid index.
pub(crate) fn nearest(
    matrix: &Matrix,
    rows: &[usize],
    centroids: &[f32],
) -> Vec<Option<(usize, f32)>> {
    let dim = matrix.dim();
    if dim == 0 || centroids.is_empty() {
        return vec![None; rows.len()];
    }
    let centroid_count = centroids.len() / dim;
    let centroid_view = ArrayView2::from_shape((centroid_count, dim), centroids)
        .expect("centroid buffer holds whole rows");
    let blocks: Vec<Vec<Option<(usize, f32)>>> = rows
        .par_chunks(NEAREST_BLOCK_ROWS)
        .map(|block| {
            let mut buffer = Vec::with_capacity(block.len() * dim);
            for &row in block {
                buffer.extend_from_slice(matrix.row(row));
            }
            let block_view = ArrayView2::from_shape((block.len(), dim), &buffer[..])
                .expect("block buffer holds whole rows");
            let similarities = block_view.dot(&centroid_view.t());
            similarities
                .outer_iter()
                .map(|row_similarities| {
                    let mut best = 0;
                    let mut best_similarity = f32::NEG_INFINITY;
                    for (index, &similarity) in row_similarities.iter().enumerate() {
                        if similarity > best_similarity {
                            best = index;
                            best_similarity = similarity;
                        }
                    }
                    Some((best, best_similarity))
                })
                .collect()
        })
        .collect();
    blocks.into_iter().flatten().collect()
}

/// Sum of the member vectors (`cluster_count × dim`, row-major) and member count of each cluster;
/// `labels[i]` is the cluster of `rows[i]`, rows labelled `None` are skipped.
pub(crate) fn member_sums(
    matrix: &Matrix,
    rows: &[usize],
    labels: &[Option<usize>],
    cluster_count: usize,
) -> (Vec<f64>, Vec<usize>) {
    debug_assert_eq!(rows.len(), labels.len());
    let dim = matrix.dim();
    let partials: Vec<(Vec<f64>, Vec<usize>)> = rows
        .par_chunks(SUM_BLOCK_ROWS)
        .zip(labels.par_chunks(SUM_BLOCK_ROWS))
        .map(|(chunk_rows, chunk_labels)| {
            let mut sums = vec![0.0f64; cluster_count * dim];
            let mut counts = vec![0usize; cluster_count];
            for (&row, label) in chunk_rows.iter().zip(chunk_labels) {
                let Some(cluster) = *label else { continue };
                counts[cluster] += 1;
                let target = &mut sums[cluster * dim..(cluster + 1) * dim];
                for (sum, &value) in target.iter_mut().zip(matrix.row(row)) {
                    *sum += f64::from(value);
                }
            }
            (sums, counts)
        })
        .collect();
    // Add the partial sums in chunk order: the result does not depend on how rayon split the work.
    let mut sums = vec![0.0f64; cluster_count * dim];
    let mut counts = vec![0usize; cluster_count];
    for (partial_sums, partial_counts) in partials {
        for (sum, partial) in sums.iter_mut().zip(&partial_sums) {
            *sum += partial;
        }
        for (count, partial) in counts.iter_mut().zip(&partial_counts) {
            *count += partial;
        }
    }
    (sums, counts)
}

/// Nearest centroid index of each row.
fn nearest_labels(matrix: &Matrix, rows: &[usize], centroids: &[f32]) -> Vec<Option<usize>> {
    nearest(matrix, rows, centroids)
        .into_iter()
        .map(|found| found.map(|(index, _)| index))
        .collect()
}

/// Number of clusters by the square-root rule: about sqrt(n/2) for `point_count` points, within
/// [2, `max_clusters`] and at most one per `min_topic_size` points (or `config.clusters` when set).
pub(crate) fn square_root_count(point_count: usize, config: &TopicsConfig) -> usize {
    let requested = match config.clusters {
        Some(clusters) => clusters,
        None => {
            let automatic = (point_count as f64 / 2.0).sqrt().round() as usize;
            automatic
                .clamp(2, config.max_clusters.max(2))
                .min(most_useful(point_count, config))
        }
    };
    requested.clamp(1, point_count.max(1))
}

/// Most clusters worth having: one per `min_topic_size` points.
fn most_useful(point_count: usize, config: &TopicsConfig) -> usize {
    (point_count / config.min_topic_size.max(1)).max(1)
}

/// Mixed into `topics.seed` for the silhouette sample, so that the sample's draws differ from
/// the k-means++ seeding's.
pub(crate) const SAMPLE_SEED_SALT: u64 = 0x5111_0e77e;

/// Fewest points for the silhouette choice; below it the square-root rule decides.
pub(crate) const SILHOUETTE_MIN_POINTS: usize = 100;

/// Candidate numbers of clusters for the silhouette choice (each about 1.5× the one before); the
/// upper bound is added when it falls between two of them.
const SILHOUETTE_GRID: [usize; 16] = [
    2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384,
];

/// Number of clusters for the rows `train`: `config.clusters` when set, otherwise chosen as
/// `config.auto_clusters` says.
///
/// The silhouette choice (Rousseeuw 1987) clusters a fixed-size sample of the rows (seeded, at most
/// `silhouette_sample`) with each candidate k, as [`find_clusters`] does (so near-identical clusters
/// are merged and small ones dissolved), and keeps the k whose clustering has the highest mean
/// silhouette under the cosine distance (ties: the smaller k). The sample's distance matrix is
/// computed once, so memory and time do not grow with the number of rows beyond the sampling.
pub(crate) fn cluster_count(matrix: &Matrix, train: &[usize], config: &TopicsConfig) -> usize {
    if config.clusters.is_some()
        || config.auto_clusters == AutoClusters::Sqrt
        || train.len() < SILHOUETTE_MIN_POINTS
        || matrix.dim() == 0
    {
        return square_root_count(train.len(), config);
    }
    let mut rng = SplitMix64::new(config.seed ^ SAMPLE_SEED_SALT);
    let sample = sample_rows(
        train,
        config.silhouette_sample.max(SILHOUETTE_MIN_POINTS),
        &mut rng,
    );
    let distances = distance_matrix(matrix, &sample);
    let candidates = candidate_counts(train.len(), sample.len(), config);
    let mut best: Option<(f64, usize)> = None;
    for k in candidates {
        let centroids = find_clusters(matrix, &sample, k, config);
        let labels: Vec<usize> = nearest_labels(matrix, &sample, &centroids)
            .into_iter()
            .map(|label| label.unwrap_or(0))
            .collect();
        let score = mean_silhouette(&distances, &labels, centroids.len() / matrix.dim());
        tracing::debug!(k, silhouette = score, "number of clusters");
        if best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, k));
        }
    }
    best.map_or_else(|| square_root_count(train.len(), config), |(_, k)| k)
}

/// The candidate numbers of clusters for `point_count` points whose silhouette is judged on
/// `sample_count` of them: the grid up to one cluster per `min_topic_size` points and
/// `max_clusters`, and that upper bound itself when it falls between two grid values.
pub(crate) fn candidate_counts(
    point_count: usize,
    sample_count: usize,
    config: &TopicsConfig,
) -> Vec<usize> {
    let upper = config
        .max_clusters
        .max(2)
        .min(most_useful(point_count, config));
    let mut candidates: Vec<usize> = SILHOUETTE_GRID
        .iter()
        .copied()
        .filter(|&k| k <= upper && k < sample_count)
        .collect();
    if upper < sample_count && candidates.last().is_some_and(|&last| last < upper) {
        candidates.push(upper);
    }
    candidates
}

/// `count` of the `rows` (all when there are no more), drawn without replacement by `rng`, in their
/// original order.
pub(crate) fn sample_rows(rows: &[usize], count: usize, rng: &mut SplitMix64) -> Vec<usize> {
    if rows.len() <= count {
        return rows.to_vec();
    }
    let mut pool = rows.to_vec();
    for position in 0..count {
        let pick = position + rng.below(pool.len() - position);
        pool.swap(position, pick);
    }
    pool.truncate(count);
    pool.sort_unstable();
    pool
}

/// Cosine distances (1 − cosine) between all pairs of `rows`, row-major, `rows.len()²` values.
pub(crate) fn distance_matrix(matrix: &Matrix, rows: &[usize]) -> Vec<f32> {
    let count = rows.len();
    let mut distances = vec![0.0f32; count * count];
    distances
        .par_chunks_mut(count.max(1))
        .zip(rows.par_iter())
        .for_each(|(out, &row)| {
            let vector = matrix.row(row);
            for (target, &other) in out.iter_mut().zip(rows) {
                *target = (1.0 - dot(vector, matrix.row(other))).max(0.0);
            }
        });
    distances
}

/// Mean silhouette of a labelling of the points behind `distances` (row-major, n×n). A point alone in
/// its cluster scores 0, as in Rousseeuw's definition.
pub(crate) fn mean_silhouette(distances: &[f32], labels: &[usize], cluster_count: usize) -> f64 {
    let count = labels.len();
    if count == 0 || cluster_count < 2 {
        return 0.0;
    }
    let mut sizes = vec![0usize; cluster_count];
    for &label in labels {
        sizes[label] += 1;
    }
    let scores: Vec<f64> = (0..count)
        .into_par_iter()
        .map(|point| {
            let own = labels[point];
            if sizes[own] <= 1 {
                return 0.0;
            }
            let mut sums = vec![0.0f64; cluster_count];
            for (&distance, &label) in distances[point * count..(point + 1) * count]
                .iter()
                .zip(labels)
            {
                sums[label] += f64::from(distance);
            }
            let within = sums[own] / (sizes[own] - 1) as f64;
            let nearest_other = (0..cluster_count)
                .filter(|&cluster| cluster != own && sizes[cluster] > 0)
                .map(|cluster| sums[cluster] / sizes[cluster] as f64)
                .fold(f64::INFINITY, f64::min);
            if !nearest_other.is_finite() {
                return 0.0;
            }
            let larger = within.max(nearest_other);
            if larger > 0.0 {
                (nearest_other - within) / larger
            } else {
                0.0
            }
        })
        .collect();
    scores.iter().sum::<f64>() / count as f64
}

/// Clusters the rows `train` (unit vectors, duplicates already left out) into about `wanted`
/// clusters and returns the centroids (flattened, `dim` values each) of the clusters that survive
/// merging and dissolving: each is the nearest centroid of at least `config.min_topic_size` of the
/// rows. Empty when there are too few rows.
pub(crate) fn find_clusters(
    matrix: &Matrix,
    train: &[usize],
    wanted: usize,
    config: &TopicsConfig,
) -> Vec<f32> {
    let min_size = config.min_topic_size.max(1);
    if matrix.dim() == 0 || train.is_empty() || train.len() < min_size {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(config.seed);
    let mut centroids = seed_plus_plus(matrix, train, wanted.clamp(1, train.len()), &mut rng);
    lloyd(matrix, train, &mut centroids, config.max_iterations);
    let merged = merge_similar(matrix, train, centroids, config.merge_similarity as f32);
    dissolve_small(matrix, train, merged, min_size)
}

/// k-means++ seeding (Arthur and Vassilvitskii 2007) with distance `1 - cosine`, which is half the
/// squared Euclidean distance between unit vectors. Stops early when every point coincides with a seed.
fn seed_plus_plus(
    matrix: &Matrix,
    train: &[usize],
    wanted: usize,
    rng: &mut SplitMix64,
) -> Vec<f32> {
    let dim = matrix.dim();
    let mut centroids = Vec::with_capacity(wanted * dim);
    let first = train[rng.below(train.len())];
    centroids.extend_from_slice(matrix.row(first));
    let first_center = matrix.row(first);
    let mut distance: Vec<f32> = train
        .par_iter()
        .map(|&row| (1.0 - dot(matrix.row(row), first_center)).max(0.0))
        .collect();
    while centroids.len() / dim < wanted {
        let total: f64 = distance.iter().map(|&value| f64::from(value)).sum();
        if !(total.is_finite() && total > 0.0) {
            break;
        }
        let target = rng.next_f64() * total;
        let mut cumulative = 0.0f64;
        let mut chosen = None;
        for (position, &value) in distance.iter().enumerate() {
            if value <= 0.0 {
                continue;
            }
            cumulative += f64::from(value);
            chosen = Some(position);
            if cumulative > target {
                break;
            }
        }
        let Some(position) = chosen else { break };
        let center = matrix.row(train[position]);
        centroids.extend_from_slice(center);
        distance
            .par_iter_mut()
            .zip(train.par_iter())
            .for_each(|(current, &row)| {
                let candidate = (1.0 - dot(matrix.row(row), center)).max(0.0);
                if candidate < *current {
                    *current = candidate;
                }
            });
    }
    centroids
}

/// Lloyd iterations: assign to the nearest centroid, move each centroid to the normalised mean of its
/// members. An empty cluster is re-seeded with the point farthest from its own centroid. Stops after
/// `max_iterations` or when at most one point in a thousand changed cluster.
fn lloyd(matrix: &Matrix, train: &[usize], centroids: &mut [f32], max_iterations: usize) {
    let dim = matrix.dim();
    let cluster_count = centroids.len() / dim;
    let tolerance = train.len() / 1000;
    let mut labels: Vec<Option<usize>> = vec![None; train.len()];
    for _ in 0..max_iterations.max(1) {
        let found = nearest(matrix, train, centroids);
        let new_labels: Vec<Option<usize>> =
            found.iter().map(|f| f.map(|(index, _)| index)).collect();
        let changed = new_labels
            .iter()
            .zip(&labels)
            .filter(|(new, old)| new != old)
            .count();
        labels = new_labels;
        let (sums, counts) = member_sums(matrix, train, &labels, cluster_count);
        let mut empty = Vec::new();
        for cluster in 0..cluster_count {
            if counts[cluster] == 0 {
                empty.push(cluster);
                continue;
            }
            normalize_into(
                &sums[cluster * dim..(cluster + 1) * dim],
                &mut centroids[cluster * dim..(cluster + 1) * dim],
            );
        }
        if !empty.is_empty() {
            let mut by_fit: Vec<(f32, usize)> = found
                .iter()
                .enumerate()
                .map(|(position, f)| (f.map_or(f32::NEG_INFINITY, |(_, sim)| sim), position))
                .collect();
            by_fit.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (&cluster, &(_, position)) in empty.iter().zip(&by_fit) {
                centroids[cluster * dim..(cluster + 1) * dim]
                    .copy_from_slice(matrix.row(train[position]));
            }
        }
        if changed <= tolerance && empty.is_empty() {
            break;
        }
    }
}

/// Greedily merges the two most similar clusters while their centroids' cosine is at least
/// `threshold`; a merged centroid is the normalised sum of both clusters' members. Clusters without
/// members are dropped.
fn merge_similar(
    matrix: &Matrix,
    train: &[usize],
    centroids: Vec<f32>,
    threshold: f32,
) -> Vec<f32> {
    let dim = matrix.dim();
    let cluster_count = centroids.len() / dim;
    let labels = nearest_labels(matrix, train, &centroids);
    let (mut sums, counts) = member_sums(matrix, train, &labels, cluster_count);
    let mut current = centroids;
    let mut alive: Vec<bool> = counts.iter().map(|&count| count > 0).collect();
    for cluster in 0..cluster_count {
        if alive[cluster] {
            normalize_into(
                &sums[cluster * dim..(cluster + 1) * dim],
                &mut current[cluster * dim..(cluster + 1) * dim],
            );
        }
    }
    let centroid =
        |data: &[f32], index: usize| -> Vec<f32> { data[index * dim..(index + 1) * dim].to_vec() };
    let mut similarity = vec![f32::NEG_INFINITY; cluster_count * cluster_count];
    for a in 0..cluster_count {
        for b in (a + 1)..cluster_count {
            if alive[a] && alive[b] {
                similarity[a * cluster_count + b] = dot(
                    &current[a * dim..(a + 1) * dim],
                    &current[b * dim..(b + 1) * dim],
                );
            }
        }
    }
    loop {
        let mut best: Option<(usize, usize, f32)> = None;
        for a in 0..cluster_count {
            for b in (a + 1)..cluster_count {
                let value = similarity[a * cluster_count + b];
                if alive[a]
                    && alive[b]
                    && value >= threshold
                    && best.is_none_or(|(_, _, top)| value > top)
                {
                    best = Some((a, b, value));
                }
            }
        }
        let Some((keep, absorbed, _)) = best else {
            break;
        };
        let absorbed_sum = sums[absorbed * dim..(absorbed + 1) * dim].to_vec();
        for (sum, value) in sums[keep * dim..(keep + 1) * dim]
            .iter_mut()
            .zip(&absorbed_sum)
        {
            *sum += value;
        }
        alive[absorbed] = false;
        normalize_into(
            &sums[keep * dim..(keep + 1) * dim],
            &mut current[keep * dim..(keep + 1) * dim],
        );
        let kept_centroid = centroid(&current, keep);
        for other in 0..cluster_count {
            if other == keep || !alive[other] {
                continue;
            }
            let value = dot(&kept_centroid, &current[other * dim..(other + 1) * dim]);
            let (low, high) = if other < keep {
                (other, keep)
            } else {
                (keep, other)
            };
            similarity[low * cluster_count + high] = value;
        }
    }
    (0..cluster_count)
        .filter(|&cluster| alive[cluster])
        .flat_map(|cluster| centroid(&current, cluster))
        .collect()
}

/// Drops clusters that are the nearest centroid of fewer than `min_size` rows, moves their members to
/// the nearest surviving centroid and recomputes the survivors, until every cluster is big enough.
fn dissolve_small(
    matrix: &Matrix,
    train: &[usize],
    centroids: Vec<f32>,
    min_size: usize,
) -> Vec<f32> {
    let dim = matrix.dim();
    let mut current = centroids;
    for round in 0..=DISSOLVE_MAX_ROUNDS {
        let cluster_count = current.len() / dim;
        if cluster_count == 0 {
            return current;
        }
        let labels = nearest_labels(matrix, train, &current);
        let mut counts = vec![0usize; cluster_count];
        for cluster in labels.iter().flatten() {
            counts[*cluster] += 1;
        }
        if counts.iter().all(|&count| count >= min_size) {
            return current;
        }
        let survivors: Vec<f32> = (0..cluster_count)
            .filter(|&cluster| counts[cluster] >= min_size)
            .flat_map(|cluster| current[cluster * dim..(cluster + 1) * dim].to_vec())
            .collect();
        if survivors.is_empty() || round == DISSOLVE_MAX_ROUNDS {
            return survivors;
        }
        let survivor_count = survivors.len() / dim;
        let survivor_labels = nearest_labels(matrix, train, &survivors);
        let (sums, survivor_counts) = member_sums(matrix, train, &survivor_labels, survivor_count);
        current = survivors;
        for cluster in 0..survivor_count {
            if survivor_counts[cluster] > 0 {
                normalize_into(
                    &sums[cluster * dim..(cluster + 1) * dim],
                    &mut current[cluster * dim..(cluster + 1) * dim],
                );
            }
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(values: &[f32]) -> Vec<f32> {
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        values.iter().map(|v| v / norm).collect()
    }

    #[test]
    fn splitmix_is_deterministic_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..100 {
            let value = a.next_f64();
            assert_eq!(value, b.next_f64());
            assert!((0.0..1.0).contains(&value));
            assert!(a.below(3) < 3);
            b.below(3);
        }
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }

    #[test]
    fn dot_matches_naive_sum() {
        let left: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let right: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = left.iter().zip(&right).map(|(a, b)| a * b).sum();
        assert!((dot(&left, &right) - naive).abs() < 1e-4);
    }

    #[test]
    fn nearest_picks_highest_cosine_and_member_sums_add_up() {
        let rows = [
            unit(&[1.0, 0.1, 0.0]),
            unit(&[0.0, 1.0, 0.1]),
            unit(&[0.9, 0.0, 0.2]),
        ];
        let matrix = Matrix::new(rows.concat(), 3);
        let centroids = [unit(&[1.0, 0.0, 0.0]), unit(&[0.0, 1.0, 0.0])].concat();
        let all = [0, 1, 2];
        let found = nearest(&matrix, &all, &centroids);
        let labels: Vec<Option<usize>> = found.iter().map(|f| f.map(|(i, _)| i)).collect();
        assert_eq!(labels, vec![Some(0), Some(1), Some(0)]);
        assert!((found[0].unwrap().1 - dot(matrix.row(0), &centroids[0..3])).abs() < 1e-6);
        let (sums, counts) = member_sums(&matrix, &all, &labels, 2);
        assert_eq!(counts, vec![2, 1]);
        assert!((sums[0] - f64::from(rows[0][0] + rows[2][0])).abs() < 1e-6);
        assert!(nearest(&matrix, &all, &[]).iter().all(Option::is_none));
    }

    #[test]
    fn near_identical_clusters_are_merged_and_small_ones_dissolved() {
        // Two directions, each split over two forced clusters, plus two lone points.
        let mut rows = Vec::new();
        for i in 0..20 {
            let wobble = (i % 5) as f32 * 0.01;
            rows.push(unit(&[1.0, wobble, 0.0, 0.0]));
            rows.push(unit(&[0.0, wobble, 1.0, 0.0]));
        }
        rows.push(unit(&[0.0, 0.0, 0.0, 1.0]));
        rows.push(unit(&[0.0, 1.0, 0.0, 0.3]));
        let matrix = Matrix::new(rows.concat(), 4);
        let train: Vec<usize> = (0..rows.len()).collect();
        let config = TopicsConfig::default();
        let centroids = find_clusters(&matrix, &train, 6, &config);
        assert_eq!(centroids.len() / 4, 2, "expected the two directions only");
        let axes: Vec<usize> = (0..2)
            .map(|c| {
                let row = &centroids[c * 4..(c + 1) * 4];
                (0..4).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap()
            })
            .collect();
        let mut sorted = axes.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 2]);
    }

    /// `groups` random directions in 32 dimensions with `per_group` unit vectors near each.
    fn blobs(groups: usize, per_group: usize, seed: u64) -> (Matrix, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let mut gaussian = move || {
            let u1 = rng.next_f64().max(1e-12);
            let u2 = rng.next_f64();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        };
        let mut data = Vec::new();
        for _ in 0..groups {
            let center: Vec<f32> = (0..32).map(|_| gaussian()).collect();
            let center = unit(&center);
            for _ in 0..per_group {
                let point: Vec<f32> = center.iter().map(|c| c + 0.05 * gaussian()).collect();
                data.extend(unit(&point));
            }
        }
        (Matrix::new(data, 32), (0..groups * per_group).collect())
    }

    #[test]
    fn silhouette_choice_finds_the_number_of_separated_groups() {
        let config = TopicsConfig::default();
        for groups in [3, 12] {
            let (matrix, train) = blobs(groups, 40, groups as u64);
            // The chosen k may be larger when near-identical clusters are merged back.
            let chosen = cluster_count(&matrix, &train, &config);
            let found = find_clusters(&matrix, &train, chosen, &config).len() / 32;
            assert_eq!(found, groups, "k = {chosen}");
        }
        // The square-root rule ignores the structure: about sqrt(n/2).
        let (matrix, train) = blobs(3, 200, 1);
        let sqrt_rule = TopicsConfig {
            auto_clusters: AutoClusters::Sqrt,
            ..TopicsConfig::default()
        };
        assert_eq!(cluster_count(&matrix, &train, &sqrt_rule), 17);
        assert_eq!(cluster_count(&matrix, &train, &config), 3);
        // A fixed number wins over both, and too few points fall back to the square-root rule.
        let fixed = TopicsConfig {
            clusters: Some(5),
            ..TopicsConfig::default()
        };
        assert_eq!(cluster_count(&matrix, &train, &fixed), 5);
        assert_eq!(cluster_count(&matrix, &train[..50], &config), 5);
    }

    #[test]
    fn mean_silhouette_matches_a_hand_computed_example() {
        // Points 0, 1, 4, 5 on a line, clustered {0, 1} and {4, 5}: silhouettes 7/9, 5/7, 5/7, 7/9.
        let points = [0.0f32, 1.0, 4.0, 5.0];
        let distances: Vec<f32> = points
            .iter()
            .flat_map(|a| points.iter().map(move |b| (a - b).abs()))
            .collect();
        let expected = (7.0 / 9.0 + 5.0 / 7.0) / 2.0;
        assert!((mean_silhouette(&distances, &[0, 0, 1, 1], 2) - expected).abs() < 1e-9);
        // A point alone in its cluster scores 0: {0}, {1, 4, 5}.
        let alone = mean_silhouette(&distances, &[0, 1, 1, 1], 2);
        let point_1 = (1.0 - 3.5) / 3.5;
        let point_4 = (4.0 - 2.0) / 4.0;
        let point_5 = (5.0 - 2.5) / 5.0;
        assert!((alone - (point_1 + point_4 + point_5) / 4.0).abs() < 1e-9);
        assert_eq!(mean_silhouette(&distances, &[0, 0, 0, 0], 1), 0.0);
    }

    #[test]
    fn sample_is_deterministic_sorted_and_without_repeats() {
        let rows: Vec<usize> = (0..1000).map(|i| i * 3).collect();
        let first = sample_rows(&rows, 100, &mut SplitMix64::new(9));
        assert_eq!(first, sample_rows(&rows, 100, &mut SplitMix64::new(9)));
        assert_eq!(first.len(), 100);
        assert!(first.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(first.iter().all(|row| row % 3 == 0));
        assert_eq!(
            sample_rows(&rows[..10], 100, &mut SplitMix64::new(9)),
            rows[..10]
        );
    }

    #[test]
    fn too_few_points_give_no_clusters() {
        let matrix = Matrix::new(unit(&[1.0, 0.0]).repeat(3), 2);
        assert!(find_clusters(&matrix, &[0, 1, 2], 2, &TopicsConfig::default()).is_empty());
    }
}
