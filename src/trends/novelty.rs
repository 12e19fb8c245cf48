//! Novelty path of the per-item scan: something new that spreads.
//!
//! In: the counted comments that carry one item (as for [`super::series::scan`]), the per-bucket
//! denominator's prefix sums and the scan settings. Out, bucket by bucket: whether the item passes
//! the novelty gates now (a candidate [`Episode`]) and whether an episode it opened is still
//! elevated.
//!
//! The rate scales compare a window with an EWMA of the windows just before it. An issue that
//! starts at a few comments a day and grows for weeks never stands out against that baseline: each
//! short window holds too few authors for the author gate, and by the time it does, the baseline has
//! grown with it. What such an issue has from its first days is novelty: it speaks of something its
//! history never mentioned, and more and more distinct people say it, day after day.
//!
//! The novelty window is `novelty_window_hours` long (several days). Its baseline is the item's
//! whole history before the window: the item's comments per counted comment, with the
//! `prior_count` pseudo-count for an item never seen (the rule of three; at least one comment's
//! worth), scaled to the window's volume as `expected`. The window is flagged when
//! - `novelty_lift`: its distinct authors are at least `novelty_min_lift` times `expected` (the
//!   item was absent or near-absent before), once `warmup_buckets` of history precede the window;
//! - `distinct_authors`: at least `novelty_min_authors` distinct authors (one author's spam is one);
//! - `min_count`: at least `min_count` counted comments (copies of one text count once, so a
//!   copy-paste flood is one comment);
//! - `novelty_days`: the authors fall on at least `novelty_min_days` of the window's days (24-hour
//!   slices counted back from its end; one bucket each when buckets are a day or longer), so a
//!   one-hour blip fails;
//! - `spread`: at least `min_outside_peak_share` of the authors fall outside the busiest day;
//! - `novelty_growth`: at least half of the authors wrote in the later half of the time from the
//!   item's first comment in the window to the window's end (an author who wrote in both halves
//!   counts in both): the item is spreading, not a burst and its fading tail (a burst is the rate
//!   scales' to judge);
//! - `persistence` (and `topic_known` for an item that is a topic), as on the rate scales.
//!
//! The stage runs it on phrases only: a topic's history is rebuilt by its latest fit, and a topic
//! split off from another is new as a cluster, not as a subject (`mod.rs`).
//!
//! Rates are shares of all counted traffic, so a whole-stream surge lifts an item's count and its
//! `expected` alike. The score is SigniTrend's z of the window against `expected`. An episode opened
//! here stays open while that z is at least `close_z` (the item keeps coming, above its history), so
//! the rate scales that catch up with the issue later find it open and the issue stays one episode;
//! it does not hold open an episode a rate scale opened. Like the slow-burn scale it does not flag
//! a window that still holds buckets of the item's last episode.
//!
//! All of it is exact counting over the item's units in time order (no sampling, no floating
//! accumulation across threads), so the result is the same at any thread count and, since the
//! window ends at the bucket being evaluated, the same in a run cut off at that bucket. Written
//! here for the reason the rate scan is (`series.rs`): no crate scans counts with author,
//! duplicate and spread gates.

use std::collections::HashMap;

use super::series::{count_persistence, Episode, Gate, ScanSettings, Unit};

/// Settings of the novelty path (in buckets; see the module doc).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoveltySettings {
    /// Window length in buckets.
    pub window: usize,
    /// Buckets per day (1 when a bucket is a day or longer).
    pub buckets_per_day: usize,
    /// Minimum distinct authors in the window.
    pub min_authors: usize,
    /// Minimum ratio of the window's authors to the count its history leads one to expect.
    pub min_lift: f64,
    /// Minimum number of the window's days that hold the item's authors.
    pub min_days: usize,
}

impl NoveltySettings {
    /// The settings for `window_hours` and the other config values with buckets of
    /// `bucket_seconds`; `None` when the window is 0 (the path is off).
    pub(crate) fn for_buckets(
        window_hours: f64,
        bucket_seconds: i64,
        min_authors: usize,
        min_lift: f64,
        min_days: usize,
    ) -> Option<NoveltySettings> {
        if window_hours <= 0.0 || bucket_seconds <= 0 {
            return None;
        }
        let window = (window_hours * 3600.0 / bucket_seconds as f64)
            .ceil()
            .max(1.0) as usize;
        Some(NoveltySettings {
            window,
            buckets_per_day: usize::try_from(86_400 / bucket_seconds).unwrap_or(1).max(1),
            min_authors,
            min_lift,
            min_days,
        })
    }
}

/// How an item's authors fall over a window.
struct Spread {
    /// Days (24-hour slices counted back from the window's end) that hold its comments.
    days: usize,
    /// Distinct authors of the busiest day.
    peak_day_authors: usize,
    /// Distinct authors in the earlier half of the time from the item's first comment in the
    /// window to the window's end.
    earlier_half_authors: usize,
    /// Distinct authors in the later half of that time.
    later_half_authors: usize,
}

/// What the novelty path says about one bucket.
pub(crate) struct Step {
    /// z of the window against its history is at least `close_z`.
    pub elevated: bool,
    /// The window passed every gate.
    pub candidate: Option<Episode>,
}

/// The running state of the novelty window over one item.
pub(crate) struct NoveltyScan {
    settings: NoveltySettings,
    author_counts: HashMap<u64, u32>,
    units_in_window: usize,
    /// Counted comments of the item before the window.
    history_units: usize,
    consecutive: usize,
}

impl NoveltyScan {
    pub(crate) fn new(settings: NoveltySettings) -> NoveltyScan {
        NoveltyScan {
            settings,
            author_counts: HashMap::new(),
            units_in_window: 0,
            history_units: 0,
            consecutive: 0,
        }
    }

    /// Forgets the passing streak (an episode has opened).
    pub(crate) fn reset_persistence(&mut self) {
        self.consecutive = 0;
    }

    /// Moves the window to end at `bucket` and evaluates it. `previous_end` is the last bucket of
    /// the item's last closed episode.
    pub(crate) fn step<'u>(
        &mut self,
        bucket: usize,
        units_of: &impl Fn(usize) -> &'u [Unit],
        denominator_prefix: &[u64],
        scan: &ScanSettings,
        first_flag_bucket: Option<usize>,
        previous_end: Option<usize>,
    ) -> Step {
        let window = self.settings.window;
        for unit in units_of(bucket) {
            *self.author_counts.entry(unit.author).or_insert(0) += 1;
            self.units_in_window += 1;
        }
        if bucket >= window {
            for unit in units_of(bucket - window) {
                if let Some(count) = self.author_counts.get_mut(&unit.author) {
                    *count -= 1;
                    if *count == 0 {
                        self.author_counts.remove(&unit.author);
                    }
                }
                self.units_in_window -= 1;
                self.history_units += 1;
            }
        }
        let quiet = Step {
            elevated: false,
            candidate: None,
        };
        let window_start = (bucket + 1).saturating_sub(window);
        let volume = (denominator_prefix[bucket + 1] - denominator_prefix[window_start]) as f64;
        let history = denominator_prefix[window_start] as f64;
        if volume <= 0.0 || history <= 0.0 || self.author_counts.is_empty() {
            self.consecutive = 0;
            return quiet;
        }
        let authors = self.author_counts.len();
        let observed = authors as f64;
        let history_count = (self.history_units as f64 + scan.prior_count).max(1.0);
        let expected = volume * history_count / history;
        let z = (observed - expected.max(scan.beta)) / (expected.sqrt() + scan.beta);
        let elevated = z >= scan.close_z;

        let warm = bucket >= scan.warmup_buckets + window;
        let lift = observed / expected;
        let lift_gate = Gate {
            value: lift,
            threshold: self.settings.min_lift,
            passed: lift >= self.settings.min_lift && warm,
        };
        let author_gate = Gate::at_least(observed, self.settings.min_authors as f64);
        let count_gate = Gate::at_least(self.units_in_window as f64, scan.min_count as f64);
        let known_gate = first_flag_bucket.map(|first| Gate {
            value: bucket as f64 - first as f64,
            threshold: 0.0,
            passed: bucket >= first,
        });
        let fresh = previous_end.is_none_or(|end| window_start > end);
        let core = lift_gate.passed
            && author_gate.passed
            && count_gate.passed
            && known_gate.is_none_or(|gate| gate.passed)
            && fresh;
        if !core {
            self.consecutive = 0;
            return Step {
                elevated,
                candidate: None,
            };
        }
        let spread = self.spread(units_of, window_start, bucket);
        let outside_share = authors.saturating_sub(spread.peak_day_authors) as f64 / observed;
        let later_share = spread.later_half_authors as f64
            / (spread.later_half_authors + spread.earlier_half_authors).max(1) as f64;
        let growth_gate = Gate::at_least(later_share, 0.5);
        let days_gate = Gate::at_least(spread.days as f64, self.settings.min_days as f64);
        let spread_gate = Gate::at_least(outside_share, scan.min_outside_peak_share);
        let persistence_gate = count_persistence(
            &mut self.consecutive,
            days_gate.passed && spread_gate.passed && growth_gate.passed,
            scan.persistence,
        );
        if !persistence_gate.passed {
            return Step {
                elevated,
                candidate: None,
            };
        }
        let mut gates = vec![
            ("novelty_lift", lift_gate),
            ("distinct_authors", author_gate),
            ("min_count", count_gate),
            ("novelty_days", days_gate),
            ("spread", spread_gate),
            ("novelty_growth", growth_gate),
            ("persistence", persistence_gate),
        ];
        gates.extend(known_gate.map(|gate| ("topic_known", gate)));
        Step {
            elevated,
            candidate: Some(Episode {
                flag_bucket: bucket,
                window_start,
                open_until: bucket,
                observed,
                volume,
                baseline_share: self.history_units as f64 / history,
                baseline_share_std: expected.sqrt() / volume,
                z,
                window,
                novelty: true,
                gates,
            }),
        }
    }

    /// How the item's authors fall over the window `[start, end]`.
    fn spread<'u>(
        &self,
        units_of: &impl Fn(usize) -> &'u [Unit],
        start: usize,
        end: usize,
    ) -> Spread {
        let per_day = self.settings.buckets_per_day;
        let mut authors_by_day: Vec<Vec<u64>> = vec![Vec::new(); (end - start) / per_day + 1];
        let mut halves: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        // The halves of the time since the item's first comment in the window.
        let first = (start..=end)
            .find(|&bucket| !units_of(bucket).is_empty())
            .unwrap_or(start);
        let half = (end + 1 - first).div_ceil(2);
        for bucket in first..=end {
            let authors = units_of(bucket).iter().map(|unit| unit.author);
            authors_by_day[(end - bucket) / per_day].extend(authors.clone());
            halves[usize::from(end - bucket < half)].extend(authors);
        }
        let distinct = |authors: &mut Vec<u64>| {
            authors.sort_unstable();
            authors.dedup();
            authors.len()
        };
        let mut days = 0;
        let mut peak_day_authors = 0;
        for authors in &mut authors_by_day {
            if !authors.is_empty() {
                days += 1;
                peak_day_authors = peak_day_authors.max(distinct(authors));
            }
        }
        let [earlier, later] = &mut halves;
        Spread {
            days,
            peak_day_authors,
            earlier_half_authors: distinct(earlier),
            later_half_authors: distinct(later),
        }
    }
}
