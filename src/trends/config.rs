//! The trends stage's settings ([`TrendsConfig`]), their checks, the bucket-length parser, and
//! how the settings become the scan's ([`ScanSettings`]).

use crate::error::{Error, Result};
use crate::validation::Checks;

use super::novelty::NoveltySettings;
use super::series::{Scale, ScanSettings};

/// Settings of this stage.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrendsConfig {
    /// Bucket length (`30m`, `1h`, `6h`, `1d`); `None` picks hourly buckets for spans up to
    /// `auto_daily_after_days` days and daily buckets beyond.
    pub bucket: Option<String>,
    /// Span (days) above which the automatic bucket is one day instead of one hour.
    pub auto_daily_after_days: f64,
    /// Short recent window, in buckets.
    pub window_buckets: usize,
    /// Long recent window, in buckets, for slowly rising issues (0 disables it).
    pub long_window_buckets: usize,
    /// Half-life of the EWMA baseline, in buckets.
    pub half_life_buckets: f64,
    /// Slow-burn window, in buckets (0, the default, disables it). It is compared with a baseline
    /// of half-life `slow_half_life_buckets`, which starts as the plain mean of the item's history,
    /// so that an issue rising over days does not become its own baseline as it does with
    /// `half_life_buckets`.
    pub slow_window_buckets: usize,
    /// Half-life of the slow-burn window's baseline, in buckets.
    pub slow_half_life_buckets: f64,
    /// Minimum distinct authors in the slow-burn window.
    pub slow_min_authors: usize,
    /// z threshold of the slow-burn window (at least `z_threshold`). Its windows overlap for days,
    /// so one item is tested many times over one rise: a stricter threshold keeps chance peaks out.
    pub slow_z_threshold: f64,
    /// Novelty window, in hours (0 disables the novelty path, `novelty.rs`): a phrase absent or
    /// near-absent from all its history that then spreads over many authors across several days
    /// is flagged when its distinct authors in this window reach `novelty_min_authors`.
    pub novelty_window_hours: f64,
    /// Minimum distinct authors in the novelty window.
    pub novelty_min_authors: usize,
    /// Minimum ratio of the novelty window's distinct authors to the count the item's whole
    /// history before the window leads one to expect at the window's volume (with `prior_count`
    /// for an item never seen): how much rarer the item was before.
    pub novelty_min_lift: f64,
    /// Minimum number of the novelty window's days (24-hour slices counted back from its end)
    /// that hold the item's comments; the busiest of them must leave `min_outside_peak_share`
    /// of the authors to the others.
    pub novelty_min_days: usize,
    /// Buckets from the start of the data before anything may be flagged.
    pub warmup_buckets: usize,
    /// Minimum z score.
    pub z_threshold: f64,
    /// Floor in counts for the expected value, also added to the std (SigniTrend's beta).
    pub beta: f64,
    /// Pseudo-count that gives an item unseen in the baseline a small rate: `prior_count` divided
    /// by the baseline's comment volume (the rule of three for a rate never observed).
    pub prior_count: f64,
    /// Minimum ratio of observed to expected count (a significant but small rise of a very common
    /// word is not a trend).
    pub min_lift: f64,
    /// Minimum ratio of observed to expected negative share for sentiment shifts.
    pub sentiment_min_lift: f64,
    /// Minimum distinct authors in the short window.
    pub min_authors: usize,
    /// Minimum distinct authors in the long window.
    pub long_min_authors: usize,
    /// Minimum distinct (non-duplicate) comments in the window.
    pub min_count: usize,
    /// Consecutive evaluations (buckets) in which all other gates must pass.
    pub persistence: usize,
    /// Minimum number of window buckets that hold supporting comments.
    pub min_spread_buckets: usize,
    /// Minimum share of the window's authors outside its busiest bucket (a one-bucket blip fails).
    pub min_outside_peak_share: f64,
    /// z below which an open trend counts as fallen back.
    pub close_z: f64,
    /// Consecutive fallen-back buckets after which an open trend closes (and may flag again).
    pub close_after_buckets: usize,
    /// z threshold for sentiment shifts (negative share within a topic).
    pub sentiment_z_threshold: f64,
    /// Floor (in comments) for sentiment shifts, the beta of the negative-share scan.
    pub sentiment_beta: f64,
    /// Largest SimHash Hamming distance (of 64 bits) between near-duplicate texts.
    pub near_dup_max_hamming: u32,
    /// Texts with fewer tokens than this are only compared exactly (after canonicalisation).
    pub near_dup_min_tokens: usize,
    /// Phrase signals whose comment sets have at least this Jaccard similarity are merged.
    pub merge_jaccard: f64,
    /// A signal whose comments lie at least this share inside an earlier signal's comments is merged.
    pub merge_containment: f64,
    /// Signals whose comments' tf-idf term vectors have at least this cosine similarity are merged.
    pub merge_cosine: f64,
    /// A signal flagged at most this many hours after a group closed may still join it. A topic
    /// joins a group of another topic only when flagged at most this many hours after the group's
    /// first signal, with `merge_cosine`.
    pub merge_hours: f64,
    /// A topic flagged at most this many hours after a group of another topic started joins it
    /// with only `cotrend_cosine`: the facets of one event start trending in the same hours.
    pub cotrend_hours: f64,
    /// Least tf-idf cosine for such a co-trending topic.
    pub cotrend_cosine: f64,
    /// Most comment ids listed per signal.
    pub max_comment_ids: usize,
    /// Rates of topics and phrases are shares of each bucket's whole traffic, so that daily and
    /// weekly cycles of traffic cancel out (the seasonality gate). `false` scans raw author counts
    /// per bucket instead; it exists to show what the gate does, and then busy hours flag.
    pub share_of_volume: bool,
}

impl Default for TrendsConfig {
    fn default() -> Self {
        TrendsConfig {
            bucket: None,
            auto_daily_after_days: 120.0,
            window_buckets: 6,
            long_window_buckets: 24,
            half_life_buckets: 72.0,
            slow_window_buckets: 0,
            slow_half_life_buckets: 720.0,
            slow_min_authors: 12,
            slow_z_threshold: 6.0,
            novelty_window_hours: 96.0,
            novelty_min_authors: 10,
            novelty_min_lift: 10.0,
            novelty_min_days: 3,
            warmup_buckets: 48,
            z_threshold: 4.0,
            beta: 2.0,
            prior_count: 3.0,
            min_lift: 2.0,
            sentiment_min_lift: 1.3,
            min_authors: 8,
            long_min_authors: 8,
            min_count: 8,
            persistence: 1,
            min_spread_buckets: 2,
            min_outside_peak_share: 0.3,
            close_z: 1.5,
            close_after_buckets: 12,
            sentiment_z_threshold: 4.0,
            sentiment_beta: 2.0,
            near_dup_max_hamming: 3,
            near_dup_min_tokens: 5,
            merge_jaccard: 0.3,
            merge_containment: 0.5,
            merge_cosine: 0.5,
            merge_hours: 24.0,
            cotrend_hours: 6.0,
            cotrend_cosine: 0.25,
            max_comment_ids: 500,
            share_of_volume: true,
        }
    }
}

/// Parses a bucket length such as `30m`, `1h`, `6h` or `1d` into seconds.
pub fn parse_bucket(s: &str) -> Result<i64> {
    let trimmed = s.trim();
    let invalid = || {
        Error::Invalid(format!(
            "invalid bucket {trimmed:?}: expected a positive number followed by m, h or d (e.g. 1h)"
        ))
    };
    let unit_start = trimmed
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map(|(index, _)| index)
        .ok_or_else(invalid)?;
    let (number, unit) = trimmed.split_at(unit_start);
    let amount: i64 = number.parse().map_err(|_| invalid())?;
    let unit_seconds = match unit {
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    if amount <= 0 {
        return Err(invalid());
    }
    amount.checked_mul(unit_seconds).ok_or_else(invalid)
}

impl TrendsConfig {
    /// Records the problems of this section's values.
    pub fn check_values(&self, checks: &mut Checks) {
        if let Some(bucket) = &self.bucket {
            if let Err(error) = parse_bucket(bucket) {
                checks.require(false, "bucket", error);
            }
        }
        checks.positive("auto_daily_after_days", self.auto_daily_after_days);
        checks.at_least("window_buckets", self.window_buckets, 1);
        checks.positive("half_life_buckets", self.half_life_buckets);
        checks.positive("slow_half_life_buckets", self.slow_half_life_buckets);
        checks.positive("slow_z_threshold", self.slow_z_threshold);
        checks.non_negative("novelty_window_hours", self.novelty_window_hours);
        checks.at_least("novelty_min_authors", self.novelty_min_authors, 1);
        checks.positive("novelty_min_lift", self.novelty_min_lift);
        checks.at_least("novelty_min_days", self.novelty_min_days, 1);
        let window_days = (self.novelty_window_hours / 24.0).ceil();
        checks.require(
            self.novelty_window_hours <= 0.0 || self.novelty_min_days as f64 <= window_days,
            "novelty_min_days",
            format!(
                "must be at most the {window_days} days of novelty_window_hours (got {})",
                self.novelty_min_days
            ),
        );
        checks.positive("z_threshold", self.z_threshold);
        checks.positive("beta", self.beta);
        checks.non_negative("prior_count", self.prior_count);
        checks.non_negative("min_lift", self.min_lift);
        checks.non_negative("sentiment_min_lift", self.sentiment_min_lift);
        checks.at_least("persistence", self.persistence, 1);
        checks.share("min_outside_peak_share", self.min_outside_peak_share);
        checks.finite("close_z", self.close_z);
        checks.at_least("close_after_buckets", self.close_after_buckets, 1);
        checks.positive("sentiment_z_threshold", self.sentiment_z_threshold);
        checks.positive("sentiment_beta", self.sentiment_beta);
        checks.require(
            self.near_dup_max_hamming <= 64,
            "near_dup_max_hamming",
            format!(
                "must be at most 64, the bits of a hash (got {})",
                self.near_dup_max_hamming
            ),
        );
        checks.share("merge_jaccard", self.merge_jaccard);
        checks.share("merge_containment", self.merge_containment);
        checks.share("merge_cosine", self.merge_cosine);
        checks.non_negative("merge_hours", self.merge_hours);
        checks.non_negative("cotrend_hours", self.cotrend_hours);
        checks.share("cotrend_cosine", self.cotrend_cosine);
    }

    /// Checks this section alone (see [`crate::Config::validate`] for the whole config).
    pub fn validate(&self) -> Result<()> {
        let mut checks = Checks::new("trends");
        self.check_values(&mut checks);
        checks.into_result()
    }
}

pub(super) fn scan_settings(
    config: &TrendsConfig,
    sentiment: bool,
    bucket_seconds: i64,
) -> ScanSettings {
    let alpha = |half_life: f64| 1.0 - 0.5f64.powf(1.0 / half_life);
    let mut scales = vec![Scale {
        window: config.window_buckets,
        min_authors: config.min_authors,
        alpha: alpha(config.half_life_buckets),
        slow: false,
        z_threshold: None,
    }];
    if config.long_window_buckets > config.window_buckets {
        scales.push(Scale {
            window: config.long_window_buckets,
            min_authors: config.long_min_authors,
            alpha: alpha(config.half_life_buckets),
            slow: false,
            z_threshold: None,
        });
    }
    if config.slow_window_buckets > config.window_buckets.max(config.long_window_buckets) {
        scales.push(Scale {
            window: config.slow_window_buckets,
            min_authors: config.slow_min_authors,
            alpha: alpha(config.slow_half_life_buckets),
            slow: true,
            z_threshold: Some(config.slow_z_threshold),
        });
    }
    ScanSettings {
        scales,
        warmup_buckets: config.warmup_buckets,
        z_threshold: if sentiment {
            config.sentiment_z_threshold
        } else {
            config.z_threshold
        },
        beta: if sentiment {
            config.sentiment_beta
        } else {
            config.beta
        },
        prior_count: config.prior_count,
        min_lift: if sentiment {
            config.sentiment_min_lift
        } else {
            config.min_lift
        },
        min_count: config.min_count,
        persistence: config.persistence,
        min_spread_buckets: config.min_spread_buckets,
        min_outside_peak_share: config.min_outside_peak_share,
        close_z: config.close_z,
        close_after: config.close_after_buckets,
        // Novelty is a rate absent before; a sentiment shift is a share of a topic's comments.
        novelty: if sentiment {
            None
        } else {
            NoveltySettings::for_buckets(
                config.novelty_window_hours,
                bucket_seconds,
                config.novelty_min_authors,
                config.novelty_min_lift,
                config.novelty_min_days,
            )
        },
    }
}
