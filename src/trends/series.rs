//! Per-item significance scan (SigniTrend-style EWMA baseline with gates).
//!
//! In: the counted comments that carry one item (in time order, with their bucket and author), and
//! the per-bucket denominator the item's rate is a share of. Out: the episodes in which the item
//! passed every gate, each with the numbers and gate values that made it pass.

use std::collections::HashMap;

use super::novelty::{NoveltyScan, NoveltySettings};

/// The parameters of one window scale.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    /// Window length in buckets.
    pub window: usize,
    /// Minimum distinct authors in the window.
    pub min_authors: usize,
    /// EWMA weight of one new baseline observation.
    pub alpha: f64,
    /// The slow-burn scale: its baseline is the plain mean of the first `1 / alpha` observations
    /// (a slow EWMA would otherwise keep its first observation for weeks); it does not hold open
    /// an item flagged by a shorter scale, and does not flag a window that still holds buckets of
    /// the item's last episode (it would flag every spike again once it closes).
    pub slow: bool,
    /// A stricter z threshold for this scale than the scan's.
    pub z_threshold: Option<f64>,
}

/// Scan parameters shared by all scales.
#[derive(Clone, Debug)]
pub(crate) struct ScanSettings {
    /// Window scales, shortest first.
    pub scales: Vec<Scale>,
    /// Buckets from the start of the data before anything may be flagged.
    pub warmup_buckets: usize,
    /// z threshold.
    pub z_threshold: f64,
    /// Pseudo-count giving an unseen item a small baseline rate (prior_count / history volume).
    pub prior_count: f64,
    /// Floor (in counts) for the expected value and added to the std (SigniTrend's beta).
    pub beta: f64,
    /// Minimum ratio of observed to expected count.
    pub min_lift: f64,
    /// Minimum distinct counted comments in the window.
    pub min_count: usize,
    /// Consecutive passing evaluations required.
    pub persistence: usize,
    /// Minimum number of buckets of the window that hold supporting comments.
    pub min_spread_buckets: usize,
    /// Minimum share of the window's authors outside its busiest bucket.
    pub min_outside_peak_share: f64,
    /// z below which an open item counts as fallen back.
    pub close_z: f64,
    /// Consecutive fallen-back evaluations that close an open item.
    pub close_after: usize,
    /// The novelty path (`novelty.rs`), if on.
    pub novelty: Option<NoveltySettings>,
}

/// One counted comment that carries the item.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unit {
    /// Position in the time-sorted comment list.
    pub position: u32,
    /// Bucket index.
    pub bucket: u32,
    /// Author key (unique per comment when the author is unknown).
    pub author: u64,
}

/// The numbers of one gate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Gate {
    /// The measured value.
    pub value: f64,
    /// Its threshold.
    pub threshold: f64,
    /// Whether it passed.
    pub passed: bool,
}

impl Gate {
    /// A gate that passes when `value` is at least `threshold`.
    pub(crate) fn at_least(value: f64, threshold: f64) -> Gate {
        Gate {
            value,
            threshold,
            passed: value >= threshold,
        }
    }
}

/// Counts one more passing evaluation in a row (or starts again at none) and gates on `required`
/// of them.
pub(crate) fn count_persistence(consecutive: &mut usize, passed: bool, required: usize) -> Gate {
    if passed {
        *consecutive += 1;
    } else {
        *consecutive = 0;
    }
    Gate::at_least(*consecutive as f64, required as f64)
}

/// One flagged episode of an item.
#[derive(Clone, Debug)]
pub(crate) struct Episode {
    /// Bucket in which every gate first passed.
    pub flag_bucket: usize,
    /// First bucket of the window that passed.
    pub window_start: usize,
    /// Last bucket while the item stayed open (inclusive).
    pub open_until: usize,
    /// Observed author-distinct count in the window.
    pub observed: f64,
    /// Denominator (volume) of the window.
    pub volume: f64,
    /// Baseline share (mean) before the window.
    pub baseline_share: f64,
    /// Baseline std of the share.
    pub baseline_share_std: f64,
    /// The z score.
    pub z: f64,
    /// Window length (buckets) of the scale that passed.
    pub window: usize,
    /// Whether the novelty path flagged it (`novelty.rs`).
    pub novelty: bool,
    /// The gates: z, lift, authors, count, spread, persistence (and topic_known for a topic); a
    /// novelty episode's are listed in `novelty.rs`.
    pub gates: Vec<(&'static str, Gate)>,
}

struct ScaleState {
    author_counts: HashMap<u64, u32>,
    units_in_window: usize,
    shares: Vec<f64>,
    mean: f64,
    variance: f64,
    observations: usize,
    consecutive: usize,
}

/// Scans one item over all buckets. `units` are sorted by position; `denominator` has one entry per
/// bucket. `first_flag_bucket` is set for an item that does not exist from the start (a topic): no
/// window ending before that bucket is flagged (the `topic_known` gate), though the baseline learns
/// from the whole history.
pub(crate) fn scan(
    units: &[Unit],
    denominator: &[u32],
    settings: &ScanSettings,
    first_flag_bucket: Option<usize>,
) -> Vec<Episode> {
    let buckets = denominator.len();
    let mut denominator_prefix = vec![0u64; buckets + 1];
    for (bucket, value) in denominator.iter().enumerate() {
        denominator_prefix[bucket + 1] = denominator_prefix[bucket] + u64::from(*value);
    }
    // Offsets of each bucket's units.
    let mut bucket_offsets = vec![0usize; buckets + 1];
    for unit in units {
        bucket_offsets[unit.bucket as usize + 1] += 1;
    }
    for bucket in 0..buckets {
        bucket_offsets[bucket + 1] += bucket_offsets[bucket];
    }
    let units_of = |bucket: usize| &units[bucket_offsets[bucket]..bucket_offsets[bucket + 1]];

    let mut states: Vec<ScaleState> = settings
        .scales
        .iter()
        .map(|_| ScaleState {
            author_counts: HashMap::new(),
            units_in_window: 0,
            shares: vec![f64::NAN; buckets],
            mean: 0.0,
            variance: 0.0,
            observations: 0,
            consecutive: 0,
        })
        .collect();
    let mut novelty = settings.novelty.map(NoveltyScan::new);
    let mut episodes = Vec::new();
    let mut open: Option<Episode> = None;
    let mut fallen_back = 0usize;

    for bucket in 0..buckets {
        let mut best: Option<Episode> = None;
        let mut any_elevated = false;
        for (scale, state) in settings.scales.iter().zip(states.iter_mut()) {
            for unit in units_of(bucket) {
                *state.author_counts.entry(unit.author).or_insert(0) += 1;
                state.units_in_window += 1;
            }
            if bucket >= scale.window {
                for unit in units_of(bucket - scale.window) {
                    if let Some(count) = state.author_counts.get_mut(&unit.author) {
                        *count -= 1;
                        if *count == 0 {
                            state.author_counts.remove(&unit.author);
                        }
                    }
                    state.units_in_window -= 1;
                }
            }
            let window_start = (bucket + 1).saturating_sub(scale.window);
            let volume = (denominator_prefix[bucket + 1] - denominator_prefix[window_start]) as f64;
            let authors = state.author_counts.len();
            if volume > 0.0 {
                state.shares[bucket] = authors as f64 / volume;
            }
            // The baseline learns the window that ended right before this one, unless the item
            // is open (an anomaly must not become its own baseline).
            if bucket >= scale.window && open.is_none() {
                let lagged = state.shares[bucket - scale.window];
                if lagged.is_finite() {
                    if state.observations == 0 {
                        state.mean = lagged;
                        state.variance = 0.0;
                    } else {
                        let weight = if scale.slow {
                            scale.alpha.max(1.0 / (state.observations + 1) as f64)
                        } else {
                            scale.alpha
                        };
                        let difference = lagged - state.mean;
                        let increment = weight * difference;
                        state.mean += increment;
                        state.variance = (1.0 - weight) * (state.variance + difference * increment);
                    }
                    state.observations += 1;
                }
            }
            if volume <= 0.0 || state.observations == 0 {
                state.consecutive = 0;
                continue;
            }
            let observed = authors as f64;
            // A rate never seen in the history is not known to be zero: with H counted comments of
            // history, `prior_count / H` is a plausible upper rate (rule of three).
            let history = denominator_prefix[window_start] as f64;
            let memory = if window_start > 0 {
                history.min(history / window_start as f64 / scale.alpha)
            } else {
                history
            };
            let prior_share = if memory > 0.0 {
                settings.prior_count / memory
            } else {
                0.0
            };
            let expected = state.mean.max(prior_share) * volume;
            // The count noise is at least Poisson, whatever the EWMA variance says.
            let std = (state.variance.max(0.0).sqrt() * volume).max(expected.sqrt());
            let z = (observed - expected.max(settings.beta)) / (std + settings.beta);
            let holds_open = !scale.slow || open.as_ref().is_some_and(|e| e.window == scale.window);
            if z >= settings.close_z && holds_open {
                any_elevated = true;
            }
            // The baseline needs `warmup_buckets` of history before the window.
            let warm = bucket >= settings.warmup_buckets + scale.window;
            let z_threshold = settings.z_threshold.max(scale.z_threshold.unwrap_or(0.0));
            let z_gate = Gate {
                value: z,
                threshold: z_threshold,
                passed: z >= z_threshold && warm,
            };
            let author_gate = Gate {
                value: observed,
                threshold: scale.min_authors as f64,
                passed: authors >= scale.min_authors,
            };
            let lift = observed / expected.max(settings.beta);
            let lift_gate = Gate {
                value: lift,
                threshold: settings.min_lift,
                passed: lift >= settings.min_lift,
            };
            let count_gate = Gate {
                value: state.units_in_window as f64,
                threshold: settings.min_count as f64,
                passed: state.units_in_window >= settings.min_count,
            };
            let fresh = !scale.slow
                || episodes
                    .last()
                    .is_none_or(|done: &Episode| window_start > done.open_until);
            let known_gate = first_flag_bucket.map(|first| Gate {
                value: bucket as f64 - first as f64,
                threshold: 0.0,
                passed: bucket >= first,
            });
            let core = z_gate.passed
                && lift_gate.passed
                && author_gate.passed
                && count_gate.passed
                && known_gate.is_none_or(|gate| gate.passed)
                && fresh;
            let (spread_buckets, peak_authors) = if core {
                spread(&units_of, window_start, bucket)
            } else {
                (0, 0)
            };
            let outside_share = if authors > 0 {
                (authors.saturating_sub(peak_authors)) as f64 / authors as f64
            } else {
                0.0
            };
            let spread_gate = Gate {
                value: spread_buckets as f64,
                threshold: settings.min_spread_buckets as f64,
                passed: spread_buckets >= settings.min_spread_buckets
                    && outside_share >= settings.min_outside_peak_share,
            };
            let persistence_gate = count_persistence(
                &mut state.consecutive,
                core && spread_gate.passed,
                settings.persistence,
            );
            if persistence_gate.passed && best.as_ref().is_none_or(|b| z > b.z) {
                let mut gates = vec![
                    ("z", z_gate),
                    ("lift", lift_gate),
                    ("distinct_authors", author_gate),
                    ("min_count", count_gate),
                    (
                        "spread",
                        Gate {
                            value: outside_share,
                            threshold: settings.min_outside_peak_share,
                            passed: spread_gate.passed,
                        },
                    ),
                    ("persistence", persistence_gate),
                ];
                gates.extend(known_gate.map(|gate| ("topic_known", gate)));
                best = Some(Episode {
                    flag_bucket: bucket,
                    window_start,
                    open_until: bucket,
                    observed,
                    volume,
                    baseline_share: state.mean,
                    baseline_share_std: state.variance.max(0.0).sqrt(),
                    z,
                    window: scale.window,
                    novelty: false,
                    gates,
                });
            }
        }
        if let Some(novelty) = novelty.as_mut() {
            let previous_end = episodes.last().map(|done: &Episode| done.open_until);
            let step = novelty.step(
                bucket,
                &units_of,
                &denominator_prefix,
                settings,
                first_flag_bucket,
                previous_end,
            );
            if step.elevated && open.as_ref().is_some_and(|episode| episode.novelty) {
                any_elevated = true;
            }
            if let Some(candidate) = step.candidate {
                if best.as_ref().is_none_or(|b| candidate.z > b.z) {
                    best = Some(candidate);
                }
            }
        }
        match open.as_mut() {
            Some(episode) => {
                if any_elevated {
                    fallen_back = 0;
                } else {
                    fallen_back += 1;
                }
                if fallen_back >= settings.close_after {
                    if let Some(done) = open.take() {
                        episodes.push(done);
                    }
                } else {
                    episode.open_until = bucket;
                }
            }
            None => {
                if let Some(episode) = best {
                    open = Some(episode);
                    fallen_back = 0;
                    for state in states.iter_mut() {
                        state.consecutive = 0;
                    }
                    if let Some(novelty) = novelty.as_mut() {
                        novelty.reset_persistence();
                    }
                }
            }
        }
    }
    if let Some(done) = open.take() {
        episodes.push(done);
    }
    episodes
}

/// Number of buckets in `[start, end]` with supporting comments, and the distinct authors of the
/// busiest one.
fn spread<'u>(units_of: &impl Fn(usize) -> &'u [Unit], start: usize, end: usize) -> (usize, usize) {
    let mut non_empty = 0;
    let mut peak = 0;
    for bucket in start..=end {
        let in_bucket = units_of(bucket);
        if in_bucket.is_empty() {
            continue;
        }
        non_empty += 1;
        let mut authors: Vec<u64> = in_bucket.iter().map(|unit| unit.author).collect();
        authors.sort_unstable();
        authors.dedup();
        peak = peak.max(authors.len());
    }
    (non_empty, peak)
}
