//! Manifold reduction before clustering: a UMAP layout (McInnes, Healy and Melville 2018) of the
//! comments' embeddings in a few dimensions, and Euclidean k-means in that layout.
//!
//! k-means on 384-dimensional sentence embeddings cuts subjects that are long and curved in that
//! space; the layout keeps each comment near its nearest neighbours and pulls apart what is not
//! connected, so k-means there follows the subjects (NMI numbers in `docs/EVALUATION.md`). This is
//! the step BERTopic takes with umap-learn; it is written here because the Rust UMAP crates run their
//! gradient descent on several threads at once (the result then depends on the thread count) or
//! need a GPU framework, and the topics must be the same at any thread count.
//!
//! The steps follow umap-learn 0.5 with `min_dist = 0`, cosine metric and PCA initialisation:
//! exact k nearest neighbours (by blocks of rows in parallel: each row's list depends only on that
//! row), the fuzzy simplicial set (per-point `rho` and `sigma`, fuzzy union), the principal
//! components of the sample scaled to [0, 10], and stochastic gradient descent with negative
//! sampling, run on one thread from a seeded PRNG. The neighbour search is quadratic in the number
//! of rows, so at most `reduce_sample` rows are laid out (a seeded sample); the others join their
//! nearest cluster by cosine to its mean embedding.

use rayon::prelude::*;

use super::kmeans::{
    candidate_counts, distance_matrix, mean_silhouette, sample_rows, square_root_count, Matrix,
    SAMPLE_SEED_SALT, SILHOUETTE_MIN_POINTS,
};
use super::{AutoClusters, TopicsConfig};
use crate::rng::SplitMix64;

/// Mixed into `topics.seed` for the sample of rows laid out.
const LAYOUT_SEED_SALT: u64 = 0x1a70_0075;

/// Curve parameters `a` and `b` of umap-learn for `min_dist = 0`, `spread = 1`.
const CURVE_A: f64 = 1.932_808_398_005_290_1;
const CURVE_B: f64 = 0.790_494_973_695_876_5;
/// Negative samples per positive one, as in umap-learn.
const NEGATIVE_SAMPLE_RATE: f64 = 5.0;
/// Gradient clip, as in umap-learn.
const CLIP: f64 = 4.0;

/// Where the layout of `rows` puts each of them: `dims` coordinates per row, in row order.
pub(crate) struct Layout {
    /// The rows laid out (indices into the matrix).
    pub rows: Vec<usize>,
    /// Coordinates, `dims` per row.
    pub coords: Vec<f64>,
    /// Number of coordinates per row.
    pub dims: usize,
}

impl Layout {
    fn point(&self, position: usize) -> &[f64] {
        &self.coords[position * self.dims..(position + 1) * self.dims]
    }
}

/// A fresh fit's clusters, found in the layout: the rows laid out (at most `reduce_sample` of
/// `train`, seeded) and each one's cluster (0..k). `None` when the layout is off
/// (`reduce_dims = 0`) or there are fewer than 100 rows; the caller then clusters the embeddings.
///
/// The number of clusters is `clusters` when set, the square-root rule under `auto_clusters =
/// "sqrt"`, and otherwise the candidate whose layout clustering has the best mean silhouette under
/// the cosine distance of the embeddings, on a sample of `silhouette_sample` rows (ties: the
/// smaller k). The silhouette is judged on the embeddings, not on the layout: the layout's own
/// distances favour a few far-apart islands.
pub(crate) fn clusters_in_layout(
    matrix: &Matrix,
    train: &[usize],
    config: &TopicsConfig,
) -> Option<(Vec<usize>, Vec<usize>)> {
    if config.reduce_dims == 0 || train.len() < SILHOUETTE_MIN_POINTS || matrix.dim() == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(config.seed ^ LAYOUT_SEED_SALT);
    let rows = sample_rows(
        train,
        config.reduce_sample.max(SILHOUETTE_MIN_POINTS),
        &mut rng,
    );
    let layout = layout(
        matrix,
        &rows,
        config.reduce_dims,
        config.reduce_neighbors,
        config.seed,
    );
    let cluster = |k: usize| kmeans(&layout, k, config.max_iterations, config.seed);
    let wanted = match (config.clusters, config.auto_clusters) {
        (Some(clusters), _) => clusters,
        (None, AutoClusters::Sqrt) => square_root_count(train.len(), config),
        (None, AutoClusters::Silhouette) => {
            let positions: Vec<usize> = (0..rows.len()).collect();
            let mut rng = SplitMix64::new(config.seed ^ SAMPLE_SEED_SALT);
            let sample = sample_rows(
                &positions,
                config.silhouette_sample.max(SILHOUETTE_MIN_POINTS),
                &mut rng,
            );
            let sample_rows: Vec<usize> = sample.iter().map(|&p| rows[p]).collect();
            let distances = distance_matrix(matrix, &sample_rows);
            let mut best: Option<(f64, usize)> = None;
            for k in candidate_counts(train.len(), sample.len(), config) {
                let labels = cluster(k);
                let count = labels.iter().max().map_or(0, |&max| max + 1);
                let sampled: Vec<usize> = sample.iter().map(|&p| labels[p]).collect();
                let score = mean_silhouette(&distances, &sampled, count);
                tracing::debug!(k, silhouette = score, "number of clusters in the layout");
                if best.is_none_or(|(best_score, _)| score > best_score) {
                    best = Some((score, k));
                }
            }
            best.map_or_else(|| square_root_count(train.len(), config), |(_, k)| k)
        }
    };
    let labels = cluster(wanted);
    Some((rows, labels))
}

/// Lays `rows` out in `dims` dimensions with `neighbors` nearest neighbours per row.
pub(crate) fn layout(
    matrix: &Matrix,
    rows: &[usize],
    dims: usize,
    neighbors: usize,
    seed: u64,
) -> Layout {
    let count = rows.len();
    // As in umap-learn, `neighbors` counts the row itself: its strengths add up to log2(neighbors)
    // over the `neighbors - 1` others.
    let target = (neighbors.max(2) as f64).log2();
    let others = (neighbors.max(2) - 1).min(count.saturating_sub(1)).max(1);
    let started = std::time::Instant::now();
    let (indices, distances) = nearest_neighbors(matrix, rows, others);
    let edges = fuzzy_union(&indices, &distances, others, target);
    let graph_seconds = started.elapsed().as_secs_f64();
    let mut coords = principal_components(matrix, rows, dims);
    let epochs = if count <= 10_000 { 500 } else { 200 };
    optimize(&mut coords, dims, count, &edges, epochs, seed);
    tracing::debug!(
        rows = count,
        edges = edges.len(),
        graph_seconds,
        total_seconds = started.elapsed().as_secs_f64(),
        "UMAP layout"
    );
    Layout {
        rows: rows.to_vec(),
        coords,
        dims,
    }
}

/// Rows per block of the neighbour search: each block's similarities to all rows are one matrix
/// product (`BLOCK_ROWS × n` values).
const BLOCK_ROWS: usize = 256;

/// The `neighbors` nearest other rows of each row (cosine distance; ties by position), as
/// positions into `rows`, with their distances, `neighbors` per row. Blocks of rows are multiplied
/// with the whole sample in parallel; each block's product, and so each row's list, does not
/// depend on the thread count.
fn nearest_neighbors(matrix: &Matrix, rows: &[usize], neighbors: usize) -> (Vec<u32>, Vec<f32>) {
    let width = matrix.dim();
    let mut flat = Vec::with_capacity(rows.len() * width);
    for &row in rows {
        flat.extend_from_slice(matrix.row(row));
    }
    let all =
        ndarray::Array2::from_shape_vec((rows.len(), width), flat).expect("rows × width values");
    let all_t = all.t();
    let blocks: Vec<(Vec<u32>, Vec<f32>)> = (0..rows.len().div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|block| {
            let start = block * BLOCK_ROWS;
            let end = (start + BLOCK_ROWS).min(rows.len());
            let similarities = all.slice(ndarray::s![start..end, ..]).dot(&all_t);
            let mut indices = Vec::with_capacity((end - start) * neighbors);
            let mut distances = Vec::with_capacity((end - start) * neighbors);
            let mut best: Vec<(f32, u32)> = Vec::with_capacity(neighbors + 1);
            for (offset, line) in similarities.outer_iter().enumerate() {
                let position = start + offset;
                best.clear();
                for (other, &similarity) in line.iter().enumerate() {
                    if other == position {
                        continue;
                    }
                    let distance = (1.0 - similarity).max(0.0);
                    if best.len() == neighbors && distance >= best[neighbors - 1].0 {
                        continue;
                    }
                    let at = best.partition_point(|&(d, _)| d <= distance);
                    best.insert(at, (distance, other as u32));
                    best.truncate(neighbors);
                }
                for slot in 0..neighbors {
                    let (distance, index) =
                        best.get(slot).copied().unwrap_or((f32::INFINITY, u32::MAX));
                    indices.push(index);
                    distances.push(distance);
                }
            }
            (indices, distances)
        })
        .collect();
    let mut indices = Vec::with_capacity(rows.len() * neighbors);
    let mut distances = Vec::with_capacity(rows.len() * neighbors);
    for (block_indices, block_distances) in blocks {
        indices.extend(block_indices);
        distances.extend(block_distances);
    }
    (indices, distances)
}

/// One directed edge of the fuzzy graph.
#[derive(Clone, Copy, Debug)]
struct Edge {
    head: u32,
    tail: u32,
    weight: f64,
}

/// Membership strengths of each row's neighbours (`rho` = distance to the nearest neighbour,
/// `sigma` such that the strengths add up to `target`), combined by fuzzy union (a + b − ab) over
/// both directions. Both directions of every pair are returned, sorted by (head, tail).
fn fuzzy_union(indices: &[u32], distances: &[f32], neighbors: usize, target: f64) -> Vec<Edge> {
    let count = distances.len() / neighbors.max(1);
    let mean_all = {
        let finite: Vec<f64> = distances
            .iter()
            .filter(|d| d.is_finite())
            .map(|&d| f64::from(d))
            .collect();
        finite.iter().sum::<f64>() / finite.len().max(1) as f64
    };
    let mut directed: Vec<(u32, u32, f64)> = Vec::with_capacity(count * neighbors * 2);
    for point in 0..count {
        let list = &distances[point * neighbors..(point + 1) * neighbors];
        let ids = &indices[point * neighbors..(point + 1) * neighbors];
        let finite: Vec<f64> = list
            .iter()
            .filter(|d| d.is_finite())
            .map(|&d| f64::from(d))
            .collect();
        if finite.is_empty() {
            continue;
        }
        let rho = finite.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
        let (mut low, mut high, mut sigma) = (0.0f64, f64::INFINITY, 1.0f64);
        for _ in 0..64 {
            let sum: f64 = finite
                .iter()
                .map(|&d| {
                    let excess = d - rho;
                    if excess > 0.0 {
                        (-excess / sigma).exp()
                    } else {
                        1.0
                    }
                })
                .sum();
            if (sum - target).abs() < 1e-5 {
                break;
            }
            if sum > target {
                high = sigma;
                sigma = (low + high) / 2.0;
            } else {
                low = sigma;
                sigma = if high.is_finite() {
                    (low + high) / 2.0
                } else {
                    sigma * 2.0
                };
            }
        }
        let mean_own = finite.iter().sum::<f64>() / finite.len() as f64;
        let floor = 1e-3 * if rho > 0.0 { mean_own } else { mean_all };
        sigma = sigma.max(floor).max(f64::MIN_POSITIVE);
        for (&id, &distance) in ids.iter().zip(list) {
            if id == u32::MAX {
                continue;
            }
            let excess = f64::from(distance) - rho;
            let weight = if excess > 0.0 {
                (-excess / sigma).exp()
            } else {
                1.0
            };
            directed.push((point as u32, id, weight));
            directed.push((id, point as u32, 0.0));
        }
    }
    // After sorting, each (a, b) pair holds a's strength for b (0 when b is not among a's
    // neighbours) and, under (b, a) written as (a, b) with weight 0, the marker of b's edge; the
    // strengths of both directions are then looked up and joined.
    directed.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(y.2.total_cmp(&x.2)));
    directed.dedup_by(|later, earlier| later.0 == earlier.0 && later.1 == earlier.1);
    let strength = |from: u32, to: u32| -> f64 {
        directed
            .binary_search_by(|probe| (probe.0, probe.1).cmp(&(from, to)))
            .map_or(0.0, |at| directed[at].2)
    };
    directed
        .iter()
        .map(|&(head, tail, forward)| {
            let backward = strength(tail, head);
            Edge {
                head,
                tail,
                weight: forward + backward - forward * backward,
            }
        })
        .filter(|edge| edge.weight > 0.0)
        .collect()
}

/// Projection of the rows on their first `dims` principal components (power iteration with
/// deflation on the covariance matrix), each coordinate then scaled to [0, 10].
fn principal_components(matrix: &Matrix, rows: &[usize], dims: usize) -> Vec<f64> {
    let width = matrix.dim();
    let count = rows.len().max(1);
    let mut mean = vec![0.0f64; width];
    for &row in rows {
        for (total, &value) in mean.iter_mut().zip(matrix.row(row)) {
            *total += f64::from(value);
        }
    }
    for value in &mut mean {
        *value /= count as f64;
    }
    // Covariance, summed over fixed blocks of rows in parallel and added in block order.
    const BLOCK: usize = 1024;
    let partials: Vec<Vec<f64>> = rows
        .par_chunks(BLOCK)
        .map(|block| {
            let mut sums = vec![0.0f64; width * width];
            let mut centred = vec![0.0f64; width];
            for &row in block {
                for ((out, &value), &average) in centred.iter_mut().zip(matrix.row(row)).zip(&mean)
                {
                    *out = f64::from(value) - average;
                }
                for (i, &left) in centred.iter().enumerate() {
                    let line = &mut sums[i * width..(i + 1) * width];
                    for (cell, &right) in line[i..].iter_mut().zip(&centred[i..]) {
                        *cell += left * right;
                    }
                }
            }
            sums
        })
        .collect();
    let mut covariance = vec![0.0f64; width * width];
    for partial in partials {
        for (total, value) in covariance.iter_mut().zip(partial) {
            *total += value;
        }
    }
    for i in 0..width {
        for j in 0..i {
            covariance[i * width + j] = covariance[j * width + i];
        }
    }
    let mut components: Vec<Vec<f64>> = Vec::with_capacity(dims);
    for component in 0..dims {
        let mut vector: Vec<f64> = (0..width)
            .map(|i| 1.0 + ((i * 7 + component * 13) % 17) as f64 / 17.0)
            .collect();
        for _ in 0..300 {
            let mut next: Vec<f64> = (0..width)
                .map(|i| {
                    covariance[i * width..(i + 1) * width]
                        .iter()
                        .zip(&vector)
                        .map(|(c, v)| c * v)
                        .sum()
                })
                .collect();
            for done in &components {
                let along: f64 = next.iter().zip(done).map(|(a, b)| a * b).sum();
                for (value, &d) in next.iter_mut().zip(done) {
                    *value -= along * d;
                }
            }
            let norm = next.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm <= 0.0 {
                break;
            }
            for value in &mut next {
                *value /= norm;
            }
            vector = next;
        }
        components.push(vector);
    }
    let mut coords = vec![0.0f64; rows.len() * dims];
    for (position, &row) in rows.iter().enumerate() {
        let values = matrix.row(row);
        for (component, direction) in components.iter().enumerate() {
            coords[position * dims + component] = values
                .iter()
                .zip(&mean)
                .zip(direction)
                .map(|((&v, m), d)| (f64::from(v) - m) * d)
                .sum();
        }
    }
    for component in 0..dims {
        let column = coords.iter().skip(component).step_by(dims);
        let (low, high) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        let span = high - low;
        for position in 0..rows.len() {
            let value = &mut coords[position * dims + component];
            *value = if span > 0.0 {
                10.0 * (*value - low) / span
            } else {
                0.0
            };
        }
    }
    coords
}

/// Stochastic gradient descent of umap-learn's cross-entropy layout (attraction along each edge as
/// often as its weight says, `NEGATIVE_SAMPLE_RATE` repulsions from random points per attraction,
/// learning rate falling linearly from 1 to 0 over `epochs`), on one thread.
fn optimize(
    coords: &mut [f64],
    dims: usize,
    count: usize,
    edges: &[Edge],
    epochs: usize,
    seed: u64,
) {
    let Some(max_weight) = edges.iter().map(|edge| edge.weight).reduce(f64::max) else {
        return;
    };
    let edges: Vec<&Edge> = edges
        .iter()
        .filter(|edge| edge.weight >= max_weight / epochs as f64)
        .collect();
    let per_sample: Vec<f64> = edges.iter().map(|edge| max_weight / edge.weight).collect();
    let per_negative: Vec<f64> = per_sample
        .iter()
        .map(|every| every / NEGATIVE_SAMPLE_RATE)
        .collect();
    let mut next_sample = per_sample.clone();
    let mut next_negative = per_negative.clone();
    let mut rng = SplitMix64::new(seed);
    let mut head_point = vec![0.0f64; dims];
    for epoch in 0..epochs {
        let alpha = 1.0 - epoch as f64 / epochs as f64;
        let now = epoch as f64;
        for (index, edge) in edges.iter().enumerate() {
            if next_sample[index] > now {
                continue;
            }
            let head = edge.head as usize;
            let tail = edge.tail as usize;
            head_point.copy_from_slice(&coords[head * dims..(head + 1) * dims]);
            let squared = squared_distance(&head_point, &coords[tail * dims..(tail + 1) * dims]);
            let coefficient = if squared > 0.0 {
                let power = (CURVE_B * squared.ln()).exp();
                -2.0 * CURVE_A * CURVE_B * (power / squared) / (CURVE_A * power + 1.0)
            } else {
                0.0
            };
            for d in 0..dims {
                let gradient =
                    (coefficient * (head_point[d] - coords[tail * dims + d])).clamp(-CLIP, CLIP);
                head_point[d] += gradient * alpha;
                coords[tail * dims + d] -= gradient * alpha;
            }
            next_sample[index] += per_sample[index];
            let negatives = ((now - next_negative[index]) / per_negative[index]).max(0.0) as usize;
            for _ in 0..negatives {
                let other = rng.below(count);
                if other == head {
                    continue;
                }
                let other_point = &coords[other * dims..(other + 1) * dims];
                let squared = squared_distance(&head_point, other_point);
                if squared <= 0.0 {
                    continue;
                }
                let power = (CURVE_B * squared.ln()).exp();
                let coefficient = 2.0 * CURVE_B / ((0.001 + squared) * (CURVE_A * power + 1.0));
                for d in 0..dims {
                    let gradient =
                        (coefficient * (head_point[d] - other_point[d])).clamp(-CLIP, CLIP);
                    head_point[d] += gradient * alpha;
                }
            }
            next_negative[index] += negatives as f64 * per_negative[index];
            coords[head * dims..(head + 1) * dims].copy_from_slice(&head_point);
        }
    }
}

fn squared_distance(left: &[f64], right: &[f64]) -> f64 {
    left.iter().zip(right).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// k-means runs per clustering of the layout; the one with the least within-cluster sum of squares
/// is kept. Runs are cheap in a few dimensions, and the best of several is steadier than one.
const RESTARTS: u64 = 5;

/// Euclidean k-means of the layout into `wanted` clusters: the best of [`RESTARTS`] runs (least
/// sum of squared distances to the centres; ties: the earlier run). Returns each laid-out row's
/// cluster, in layout order; clusters are numbered 0..k without gaps.
pub(crate) fn kmeans(
    layout: &Layout,
    wanted: usize,
    max_iterations: usize,
    seed: u64,
) -> Vec<usize> {
    let mut best: Option<(f64, Vec<usize>)> = None;
    for run in 0..RESTARTS {
        let (inertia, labels) = kmeans_once(layout, wanted, max_iterations, seed.wrapping_add(run));
        if best.as_ref().is_none_or(|(least, _)| inertia < *least) {
            best = Some((inertia, labels));
        }
    }
    best.map(|(_, labels)| labels).unwrap_or_default()
}

/// One k-means run (k-means++ seeding from `seed`, Lloyd iterations until at most one point in a
/// thousand moves or `max_iterations`): the sum of squared distances to the centres and the labels.
fn kmeans_once(
    layout: &Layout,
    wanted: usize,
    max_iterations: usize,
    seed: u64,
) -> (f64, Vec<usize>) {
    let count = layout.rows.len();
    let dims = layout.dims;
    if count == 0 {
        return (0.0, Vec::new());
    }
    let wanted = wanted.clamp(1, count);
    let mut rng = SplitMix64::new(seed);
    let mut centres: Vec<f64> = Vec::with_capacity(wanted * dims);
    centres.extend_from_slice(layout.point(rng.below(count)));
    let mut nearest: Vec<f64> = (0..count)
        .map(|p| squared_distance(layout.point(p), &centres[..dims]))
        .collect();
    while centres.len() / dims < wanted {
        let total: f64 = nearest.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            break;
        }
        let target = rng.next_f64() * total;
        let mut cumulative = 0.0;
        let mut chosen = count - 1;
        for (position, &value) in nearest.iter().enumerate() {
            cumulative += value;
            if value > 0.0 && cumulative > target {
                chosen = position;
                break;
            }
        }
        let start = centres.len();
        centres.extend_from_slice(layout.point(chosen));
        let centre = centres[start..].to_vec();
        for (position, value) in nearest.iter_mut().enumerate() {
            *value = value.min(squared_distance(layout.point(position), &centre));
        }
    }
    let k = centres.len() / dims;
    let mut labels = vec![usize::MAX; count];
    for _ in 0..max_iterations.max(1) {
        let new_labels: Vec<usize> = (0..count)
            .into_par_iter()
            .map(|p| {
                let point = layout.point(p);
                (0..k)
                    .map(|c| {
                        (
                            squared_distance(point, &centres[c * dims..(c + 1) * dims]),
                            c,
                        )
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                    .map_or(0, |(_, c)| c)
            })
            .collect();
        let changed = new_labels
            .iter()
            .zip(&labels)
            .filter(|(a, b)| a != b)
            .count();
        labels = new_labels;
        let mut sums = vec![0.0f64; k * dims];
        let mut sizes = vec![0usize; k];
        for (p, &label) in labels.iter().enumerate() {
            sizes[label] += 1;
            for (sum, &value) in sums[label * dims..(label + 1) * dims]
                .iter_mut()
                .zip(layout.point(p))
            {
                *sum += value;
            }
        }
        for c in 0..k {
            if sizes[c] > 0 {
                for d in 0..dims {
                    centres[c * dims + d] = sums[c * dims + d] / sizes[c] as f64;
                }
            }
        }
        if changed <= count / 1000 {
            break;
        }
    }
    let inertia: f64 = labels
        .iter()
        .enumerate()
        .map(|(p, &label)| {
            squared_distance(layout.point(p), &centres[label * dims..(label + 1) * dims])
        })
        .sum();
    // Number the clusters that have members 0, 1, 2, ... in order of first appearance.
    let mut renumber = vec![usize::MAX; k];
    let mut next = 0;
    for label in &mut labels {
        if renumber[*label] == usize::MAX {
            renumber[*label] = next;
            next += 1;
        }
        *label = renumber[*label];
    }
    (inertia, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::kmeans::dot;

    /// `groups` tight groups of unit vectors around random directions in 32 dimensions.
    fn blobs(groups: usize, per_group: usize, seed: u64) -> (Matrix, Vec<usize>) {
        let dim = 32;
        let mut rng = SplitMix64::new(seed);
        let mut data = Vec::new();
        let mut truth = Vec::new();
        let centres: Vec<Vec<f64>> = (0..groups)
            .map(|_| (0..dim).map(|_| rng.next_f64() - 0.5).collect())
            .collect();
        for (group, centre) in centres.iter().enumerate() {
            for _ in 0..per_group {
                let mut v: Vec<f64> = centre
                    .iter()
                    .map(|c| c + 0.08 * (rng.next_f64() - 0.5))
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                data.extend(v.iter().map(|&x| x as f32));
                truth.push(group);
            }
        }
        (Matrix::new(data, dim), truth)
    }

    #[test]
    fn neighbours_are_the_closest_rows() {
        let (matrix, _) = blobs(2, 10, 3);
        let rows: Vec<usize> = (0..20).collect();
        let (indices, distances) = nearest_neighbors(&matrix, &rows, 3);
        for point in 0..20 {
            let mut all: Vec<(f32, usize)> = (0..20)
                .filter(|&other| other != point)
                .map(|other| {
                    (
                        (1.0 - dot(matrix.row(point), matrix.row(other))).max(0.0),
                        other,
                    )
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let expected: Vec<u32> = all[..3].iter().map(|&(_, o)| o as u32).collect();
            assert_eq!(&indices[point * 3..point * 3 + 3], &expected[..]);
            assert!(distances[point * 3] <= distances[point * 3 + 2]);
        }
    }

    #[test]
    fn fuzzy_union_is_symmetric_and_at_most_one() {
        let (matrix, _) = blobs(3, 15, 5);
        let rows: Vec<usize> = (0..45).collect();
        let (indices, distances) = nearest_neighbors(&matrix, &rows, 5);
        let edges = fuzzy_union(&indices, &distances, 5, 6f64.log2());
        for edge in &edges {
            assert!(edge.weight > 0.0 && edge.weight <= 1.0 + 1e-12);
            let back = edges
                .iter()
                .find(|other| other.head == edge.tail && other.tail == edge.head)
                .expect("both directions are present");
            assert!((back.weight - edge.weight).abs() < 1e-12);
        }
    }

    #[test]
    fn layout_and_kmeans_recover_planted_groups_at_any_thread_count() {
        let (matrix, truth) = blobs(6, 40, 11);
        let rows: Vec<usize> = (0..truth.len()).collect();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| {
                    let layout = layout(&matrix, &rows, 5, 10, 42);
                    (layout.coords.clone(), kmeans(&layout, 6, 50, 42))
                })
        };
        let (coords, labels) = run(1);
        let (coords_again, labels_again) = run(3);
        assert_eq!(coords, coords_again);
        assert_eq!(labels, labels_again);
        // Every planted group is one cluster, and no two groups share one.
        for group in 0..6 {
            let members: Vec<usize> = (0..truth.len()).filter(|&p| truth[p] == group).collect();
            assert!(members.iter().all(|&p| labels[p] == labels[members[0]]));
        }
        let mut firsts: Vec<usize> = (0..6).map(|g| labels[g * 40]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        assert_eq!(firsts.len(), 6);
    }
}
