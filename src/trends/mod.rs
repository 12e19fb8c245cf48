//! Trends stage: flags phrases, topics and sentiment shifts that rise significantly above their own
//! baseline, carried by many distinct authors and sustained.
//!
//! In: time-stamped comments ([`TrendDoc`]) with their topic and sentiment, and the topic list.
//! Out: [`TrendsOutput`], the flagged [`Signal`]s sorted by (`first_flagged`, `id`).
//!
//! Method (SigniTrend-style): the time axis is cut into buckets; every tracked item (each stemmed
//! content term, each topic, each topic's negative share) is scanned over sliding windows of a few
//! buckets. Its rate is a *share* (of all counted comments, or of the topic's comments for the
//! negative share), so volume surges and daily or weekly cycles do not move it. An EWMA of the
//! window share before the window gives the baseline mean and variance; the window is flagged when
//! `z = (observed - max(expected, beta)) / (std + beta) >= z_threshold` and the author, count,
//! spread and persistence gates pass. Exact and near-duplicate comments count once, one author counts
//! once per item and window. Co-trending items with overlapping comment sets become one signal.
//!
//! Topics are assigned with the latest fit, so a topic created from later data has members back to
//! the start. Those members are its baseline, but it is flagged only in windows that end at or after
//! its `known_from` (the `topic_known` gate): the detector never reports a topic before it existed.

mod dedup;
mod series;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use rayon::prelude::*;
use serde_json::json;

use crate::error::{Error, Result};
use crate::text::{content_terms, strip_links, LangStemmer};
use crate::types::{
    Lang, SentimentCounts, SentimentLabel, Signal, SignalKind, Topic, TopicId, Window,
};
use crate::validation::Checks;

use series::{Episode, Scale, ScanSettings, Unit};

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

/// One comment as the trends stage sees it.
#[derive(Clone, Debug)]
pub struct TrendDoc<'a> {
    /// Comment id.
    pub id: &'a str,
    /// When it was written.
    pub timestamp: DateTime<Utc>,
    /// Author id, if known (unknown authors count as distinct).
    pub author: Option<&'a str>,
    /// The text.
    pub text: &'a str,
    /// Language.
    pub lang: Lang,
    /// Index (into the docs slice) of the first doc with the same normalised text; `None` for originals.
    pub duplicate_of: Option<usize>,
    /// Topic, if assigned.
    pub topic: Option<TopicId>,
    /// Sentiment label.
    pub sentiment: SentimentLabel,
}

/// Exact-duplicate links among the items that become docs. `duplicate_of[i]` is the index of item
/// `i`'s original among all items (`None` for an original) and `kept[i]` says whether item `i`
/// becomes a doc (items without a timestamp do not). The result has one entry per kept item, in
/// order: the doc index of the first kept member of its group, or `None` for that first member.
pub fn duplicates_among_kept(duplicate_of: &[Option<usize>], kept: &[bool]) -> Vec<Option<usize>> {
    let mut first_doc: HashMap<usize, usize> = HashMap::new();
    let mut links = Vec::new();
    for (item, original) in duplicate_of.iter().enumerate() {
        if !kept[item] {
            continue;
        }
        let doc = links.len();
        let first = *first_doc.entry(original.unwrap_or(item)).or_insert(doc);
        links.push((first != doc).then_some(first));
    }
    links
}

/// What [`detect`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendsOutput {
    /// Flagged signals, sorted by (`first_flagged`, `id`).
    pub signals: Vec<Signal>,
    /// Bucket length used, in seconds.
    pub bucket_seconds: i64,
    /// Number of buckets.
    pub buckets: usize,
    /// Comments counted (not duplicates).
    pub docs_used: usize,
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

/// What a tracked item is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ItemKey {
    Topic(TopicId),
    Negative(TopicId),
    Term(String),
}

/// A raw (unmerged) flagged episode with its supporting comments.
struct RawSignal {
    key: ItemKey,
    episode: Episode,
    first_flagged: DateTime<Utc>,
    /// Supporting positions (window at flag time plus while open), sorted.
    support: Vec<u32>,
    /// The same positions as a set.
    support_set: BTreeSet<u32>,
    /// Duplicates ignored in the flagged window.
    duplicates_ignored: u64,
    /// Sentiment mix of the item's comments in the window.
    window_mix: SentimentCounts,
    /// Sentiment mix of the item's comments in the baseline (up to `BASELINE_MIX_WINDOWS` windows before).
    baseline_mix: SentimentCounts,
}

/// How many window lengths before the window the baseline sentiment mix covers.
const BASELINE_MIX_WINDOWS: usize = 7;

/// The time-sorted view of the input.
struct Prepared {
    order: Vec<usize>,
    bucket_of: Vec<u32>,
    author: Vec<u64>,
    counted: Vec<bool>,
    start_seconds: i64,
    bucket_seconds: i64,
    buckets: usize,
}

impl Prepared {
    fn bucket_start(&self, bucket: usize) -> DateTime<Utc> {
        let seconds = self.start_seconds + bucket as i64 * self.bucket_seconds;
        Utc.timestamp_opt(seconds, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

fn prepare(docs: &[TrendDoc], config: &TrendsConfig) -> Result<Prepared> {
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by(|&a, &b| {
        (docs[a].timestamp, docs[a].id, a).cmp(&(docs[b].timestamp, docs[b].id, b))
    });
    let first = order.first().map(|&i| docs[i].timestamp.timestamp());
    let last = order.last().map(|&i| docs[i].timestamp.timestamp());
    let span_seconds = match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => 0,
    };
    let bucket_seconds = match &config.bucket {
        Some(text) => parse_bucket(text)?,
        None => {
            if span_seconds as f64 <= config.auto_daily_after_days * 86_400.0 {
                3600
            } else {
                86_400
            }
        }
    };
    let start_seconds = first.unwrap_or(0).div_euclid(bucket_seconds) * bucket_seconds;
    let bucket_of: Vec<u32> = order
        .iter()
        .map(|&i| ((docs[i].timestamp.timestamp() - start_seconds) / bucket_seconds) as u32)
        .collect();
    let buckets = bucket_of.last().map_or(0, |&b| b as usize + 1);

    let mut author_ids: HashMap<&str, u64> = HashMap::new();
    let author: Vec<u64> = order
        .iter()
        .enumerate()
        .map(|(position, &i)| match docs[i].author {
            Some(name) => {
                let next = author_ids.len() as u64;
                *author_ids.entry(name).or_insert(next)
            }
            None => (1u64 << 40) + position as u64,
        })
        .collect();

    let texts: Vec<&str> = order.iter().map(|&i| docs[i].text).collect();
    // Exact-duplicate groups are keyed by their original's index; in time order the first member of
    // a group counts, whatever order the input had.
    let mut groups_seen: BTreeSet<usize> = BTreeSet::new();
    let exact: Vec<bool> = order
        .iter()
        .map(|&i| {
            let group = docs[i]
                .duplicate_of
                .filter(|&o| o < docs.len())
                .unwrap_or(i);
            !groups_seen.insert(group)
        })
        .collect();
    let duplicate = dedup::mark_duplicates(
        &texts,
        &exact,
        dedup::NearDupSettings {
            max_hamming: config.near_dup_max_hamming,
            min_tokens: config.near_dup_min_tokens,
        },
    );
    let counted = duplicate.iter().map(|d| !d).collect();
    Ok(Prepared {
        order,
        bucket_of,
        author,
        counted,
        start_seconds,
        bucket_seconds,
        buckets,
    })
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

fn scan_settings(config: &TrendsConfig, sentiment: bool) -> ScanSettings {
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
    }
}

/// Per-item series: counted units and ignored duplicate positions.
#[derive(Default)]
struct ItemData {
    units: Vec<Unit>,
    ignored: Vec<u32>,
}

/// Detects emerging trends in `docs`.
pub fn detect(docs: &[TrendDoc], topics: &[Topic], config: &TrendsConfig) -> Result<TrendsOutput> {
    config.validate()?;
    let prepared = prepare(docs, config)?;
    let buckets = prepared.buckets;
    if buckets == 0 {
        return Ok(TrendsOutput {
            signals: Vec::new(),
            bucket_seconds: prepared.bucket_seconds,
            buckets: 0,
            docs_used: 0,
        });
    }
    let docs_used = prepared.counted.iter().filter(|c| **c).count();

    // Terms of every comment (in time order), computed in parallel; order is kept by collect.
    let stemmer = LangStemmer::default();
    let terms: Vec<Vec<(String, String)>> = prepared
        .order
        .par_iter()
        .map(|&i| {
            let mut seen = BTreeMap::new();
            let text = strip_links(docs[i].text);
            for (word, stem) in content_terms(&text, docs[i].lang, &stemmer) {
                seen.entry(stem).or_insert(word);
            }
            seen.into_iter().collect()
        })
        .collect();

    let mut volume = vec![0u32; buckets];
    let mut items: BTreeMap<ItemKey, ItemData> = BTreeMap::new();
    let mut topic_volume: BTreeMap<TopicId, Vec<u32>> = BTreeMap::new();
    let mut surface: HashMap<&str, BTreeMap<&str, u32>> = HashMap::new();
    let mut term_index: HashMap<&str, ItemData> = HashMap::new();
    for (position, &doc_index) in prepared.order.iter().enumerate() {
        let doc = &docs[doc_index];
        let bucket = prepared.bucket_of[position];
        let unit = Unit {
            position: position as u32,
            bucket,
            author: prepared.author[position],
        };
        let counted = prepared.counted[position];
        if counted {
            volume[bucket as usize] += 1;
        }
        let mut keys: Vec<ItemKey> = Vec::new();
        if let Some(topic) = doc.topic {
            keys.push(ItemKey::Topic(topic));
            if counted {
                topic_volume
                    .entry(topic)
                    .or_insert_with(|| vec![0; buckets])[bucket as usize] += 1;
            }
            if doc.sentiment == SentimentLabel::Negative {
                keys.push(ItemKey::Negative(topic));
            }
        }
        for key in keys {
            let data = items.entry(key).or_default();
            if counted {
                data.units.push(unit);
            } else {
                data.ignored.push(position as u32);
            }
        }
        for (stem, word) in &terms[position] {
            let data = term_index.entry(stem.as_str()).or_default();
            if counted {
                data.units.push(unit);
                *surface
                    .entry(stem.as_str())
                    .or_default()
                    .entry(word.as_str())
                    .or_insert(0) += 1;
            } else {
                data.ignored.push(position as u32);
            }
        }
    }
    let min_units = config.min_count.max(1);
    for (stem, data) in term_index {
        if data.units.len() >= min_units {
            items.insert(ItemKey::Term(stem.to_string()), data);
        }
    }

    let phrase_settings = scan_settings(config, false);
    let sentiment_settings = scan_settings(config, true);
    let empty = vec![0u32; buckets];
    let per_bucket = vec![1u32; buckets];
    let phrase_denominator = if config.share_of_volume {
        &volume
    } else {
        &per_bucket
    };
    let item_list: Vec<(&ItemKey, &ItemData)> = items
        .iter()
        .filter(|(_, data)| data.units.len() >= min_units)
        .collect();
    // A topic fitted from later data has members back to the start, but it cannot be reported
    // before it existed: its first flaggable bucket is the first that ends at or after `known_from`.
    let topic_known_from: HashMap<TopicId, DateTime<Utc>> = topics
        .iter()
        .filter_map(|topic| Some((topic.id, topic.known_from?)))
        .collect();
    let first_flag_bucket: HashMap<TopicId, usize> = topic_known_from
        .iter()
        .map(|(&topic, known)| {
            let ahead = known.timestamp().saturating_sub(prepared.start_seconds);
            let bucket = ahead
                .saturating_add(prepared.bucket_seconds - 1)
                .div_euclid(prepared.bucket_seconds)
                - 1;
            (topic, usize::try_from(bucket.max(0)).unwrap_or(usize::MAX))
        })
        .collect();
    let raw: Vec<RawSignal> = item_list
        .par_iter()
        .flat_map_iter(|(key, data)| {
            let (denominator, settings) = match key {
                ItemKey::Term(_) | ItemKey::Topic(_) => (phrase_denominator, &phrase_settings),
                ItemKey::Negative(topic) => (
                    topic_volume.get(topic).unwrap_or(&empty),
                    &sentiment_settings,
                ),
            };
            let first_flag = match key {
                ItemKey::Topic(topic) | ItemKey::Negative(topic) => {
                    first_flag_bucket.get(topic).copied()
                }
                ItemKey::Term(_) => None,
            };
            series::scan(&data.units, denominator, settings, first_flag)
                .into_iter()
                .map(|episode| raw_signal(key, data, episode, &prepared, docs))
                .collect::<Vec<_>>()
        })
        .collect();

    let topic_labels: HashMap<TopicId, &str> = topics
        .iter()
        .map(|topic| (topic.id, topic.label.as_str()))
        .collect();
    // Inverse document frequency of every term over the counted comments (ids in sorted order).
    let mut stems: Vec<(&str, u32)> = surface
        .iter()
        .map(|(stem, words)| (*stem, words.values().sum::<u32>()))
        .collect();
    stems.sort_unstable();
    let idf: HashMap<&str, (u32, f64)> = stems
        .iter()
        .enumerate()
        .map(|(term_id, (stem, df))| {
            let weight = ((docs_used as f64 + 1.0) / (f64::from(*df) + 1.0)).ln();
            (*stem, (term_id as u32, weight))
        })
        .collect();
    let context = AssemblyContext {
        docs,
        idf: &idf,
        prepared: &prepared,
        terms: &terms,
        surface: &surface,
        topic_labels: &topic_labels,
        topic_known_from: &topic_known_from,
        config,
    };
    let signals = merge_and_assemble(raw, &context);
    Ok(TrendsOutput {
        signals,
        bucket_seconds: prepared.bucket_seconds,
        buckets,
        docs_used,
    })
}

fn raw_signal(
    key: &ItemKey,
    data: &ItemData,
    episode: Episode,
    prepared: &Prepared,
    docs: &[TrendDoc],
) -> RawSignal {
    let mut window_mix = SentimentCounts::default();
    let mut baseline_mix = SentimentCounts::default();
    let baseline_start = episode
        .window_start
        .saturating_sub(BASELINE_MIX_WINDOWS * episode.window) as u32;
    for unit in &data.units {
        let sentiment = docs[prepared.order[unit.position as usize]].sentiment;
        let bucket = unit.bucket as usize;
        if bucket >= episode.window_start && bucket <= episode.flag_bucket {
            window_mix.add(sentiment);
        } else if unit.bucket >= baseline_start && bucket < episode.window_start {
            baseline_mix.add(sentiment);
        }
    }
    let window_start = episode.window_start as u32;
    let open_until = episode.open_until as u32;
    let flag_bucket = episode.flag_bucket as u32;
    // Supporting comments: the flagged window plus everything while open, one per author and bucket
    // is not needed here (authors are capped in the counts; every comment is evidence).
    let support: Vec<u32> = data
        .units
        .iter()
        .filter(|unit| unit.bucket >= window_start && unit.bucket <= open_until)
        .map(|unit| unit.position)
        .collect();
    let mut window_authors: BTreeMap<u64, u32> = BTreeMap::new();
    for unit in &data.units {
        if unit.bucket >= window_start && unit.bucket <= flag_bucket {
            *window_authors.entry(unit.author).or_insert(0) += 1;
        }
    }
    let repeated_authors: u32 = window_authors.values().map(|count| count - 1).sum();
    let ignored = data
        .ignored
        .iter()
        .filter(|&&position| {
            let bucket = prepared.bucket_of[position as usize];
            bucket >= window_start && bucket <= flag_bucket
        })
        .count() as u64;
    let first_flagged = prepared.bucket_start(episode.flag_bucket + 1);
    RawSignal {
        key: key.clone(),
        episode,
        first_flagged,
        support_set: support.iter().copied().collect(),
        support,
        duplicates_ignored: ignored + u64::from(repeated_authors),
        window_mix,
        baseline_mix,
    }
}

struct AssemblyContext<'a, 'd> {
    docs: &'a [TrendDoc<'d>],
    prepared: &'a Prepared,
    terms: &'a [Vec<(String, String)>],
    surface: &'a HashMap<&'a str, BTreeMap<&'a str, u32>>,
    topic_labels: &'a HashMap<TopicId, &'a str>,
    topic_known_from: &'a HashMap<TopicId, DateTime<Utc>>,
    idf: &'a HashMap<&'a str, (u32, f64)>,
    config: &'a TrendsConfig,
}

/// A sparse tf-idf vector of the terms in a set of comments.
type TermVector = BTreeMap<u32, f64>;

fn term_vector(support: &[u32], context: &AssemblyContext) -> TermVector {
    let mut vector = TermVector::new();
    for &position in support {
        for (stem, _) in &context.terms[position as usize] {
            if let Some((term_id, idf)) = context.idf.get(stem.as_str()) {
                *vector.entry(*term_id).or_insert(0.0) += idf;
            }
        }
    }
    vector
}

fn cosine(a: &TermVector, b: &TermVector) -> f64 {
    let dot: f64 = a
        .iter()
        .filter_map(|(term, weight)| b.get(term).map(|other| weight * other))
        .sum();
    let norm = |v: &TermVector| v.values().map(|w| w * w).sum::<f64>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator > 0.0 {
        dot / denominator
    } else {
        0.0
    }
}

/// Groups co-trending raw signals and builds one [`Signal`] per group.
///
/// A raw signal joins an earlier group when it is flagged while the group is still open (or within
/// `merge_hours` of its close) and its comments overlap the group's (Jaccard or containment) or use
/// the same distinctive vocabulary (tf-idf cosine of the comments' terms).
fn merge_and_assemble(mut raw: Vec<RawSignal>, context: &AssemblyContext) -> Vec<Signal> {
    raw.sort_by(|a, b| {
        (a.first_flagged, &a.key)
            .cmp(&(b.first_flagged, &b.key))
            .then(b.episode.z.total_cmp(&a.episode.z))
    });
    let merge_seconds = (context.config.merge_hours * 3600.0) as i64;
    let cotrend_seconds = (context.config.cotrend_hours * 3600.0) as i64;
    struct Group {
        members: Vec<usize>,
        support: BTreeSet<u32>,
        vector: TermVector,
        started: DateTime<Utc>,
        active_until: DateTime<Utc>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (index, signal) in raw.iter().enumerate() {
        let own = &signal.support_set;
        let own_vector = term_vector(&signal.support, context);
        let own_open_until = context.prepared.bucket_start(signal.episode.open_until + 1);
        let mut target = None;
        for (group_index, group) in groups.iter().enumerate() {
            if (signal.first_flagged - group.active_until).num_seconds() > merge_seconds {
                continue;
            }
            let topic_of = |key: &ItemKey| match key {
                ItemKey::Topic(topic) | ItemKey::Negative(topic) => Some(*topic),
                ItemKey::Term(_) => None,
            };
            let similarity = cosine(&own_vector, &group.vector);
            if let Some(topic) = topic_of(&signal.key) {
                // A second episode of the same topic (or shift) is a signal of its own.
                let same_kind = group.members.iter().any(|&m| {
                    topic_of(&raw[m].key) == Some(topic)
                        && std::mem::discriminant(&raw[m].key)
                            == std::mem::discriminant(&signal.key)
                });
                if same_kind {
                    continue;
                }
                // Another topic joins only when it co-trends: flagged within `merge_hours` of the
                // group's first signal, with the same distinctive vocabulary (`merge_cosine`), or
                // within `cotrend_hours` of it with some shared vocabulary (`cotrend_cosine`):
                // one event's facets (the news, the prayers) start trending in the same hours.
                // Overlapping comments are not enough: a broad topic overlaps many phrases.
                // Sentiment shifts never join another topic's signals.
                let others: Vec<&ItemKey> = group
                    .members
                    .iter()
                    .map(|&m| &raw[m].key)
                    .filter(|key| topic_of(key).is_some_and(|other| other != topic))
                    .collect();
                if !others.is_empty() {
                    let volumes = matches!(signal.key, ItemKey::Topic(_))
                        && others.iter().all(|key| matches!(key, ItemKey::Topic(_)));
                    if !volumes {
                        continue;
                    }
                    let since_start = (signal.first_flagged - group.started).num_seconds();
                    let required = if since_start <= cotrend_seconds {
                        context.config.cotrend_cosine
                    } else {
                        context.config.merge_cosine
                    };
                    if since_start <= merge_seconds && similarity >= required {
                        target = Some(group_index);
                        break;
                    }
                    continue;
                }
            }
            // Jaccard against each member; containment of this signal's comments in the group's.
            let jaccard_overlap = group.members.iter().any(|&m| {
                let other = &raw[m].support_set;
                let intersection = own.intersection(other).count() as f64;
                let union = (own.len() + other.len()) as f64 - intersection;
                union > 0.0 && intersection / union >= context.config.merge_jaccard
            });
            let contained =
                own.intersection(&group.support).count() as f64 / own.len().max(1) as f64;
            let overlaps = jaccard_overlap || contained >= context.config.merge_containment;
            if overlaps || similarity >= context.config.merge_cosine {
                target = Some(group_index);
                break;
            }
        }
        match target {
            Some(group_index) => {
                let group = &mut groups[group_index];
                group.members.push(index);
                group.support.extend(own.iter().copied());
                for (term, weight) in own_vector {
                    *group.vector.entry(term).or_insert(0.0) += weight;
                }
                group.active_until = group.active_until.max(own_open_until);
            }
            None => groups.push(Group {
                members: vec![index],
                support: own.clone(),
                vector: own_vector,
                started: signal.first_flagged,
                active_until: own_open_until,
            }),
        }
    }
    let mut signals: Vec<Signal> = groups
        .iter()
        .map(|group| assemble(&raw, &group.members, &group.support, context))
        .collect();
    signals.sort_by(|a, b| (a.first_flagged, &a.id).cmp(&(b.first_flagged, &b.id)));
    signals
}

fn item_description(key: &ItemKey, context: &AssemblyContext) -> (String, String) {
    match key {
        ItemKey::Term(stem) => {
            let word = context
                .surface
                .get(stem.as_str())
                .and_then(|words| words.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))))
                .map(|(word, _)| word.to_string())
                .unwrap_or_else(|| stem.clone());
            (format!("phrase:{stem}"), word)
        }
        ItemKey::Topic(topic) => (format!("topic:{topic}"), topic_label(*topic, context)),
        ItemKey::Negative(topic) => (
            format!("sentiment:{topic}"),
            format!("{} turning negative", topic_label(*topic, context)),
        ),
    }
}

fn topic_label(topic: TopicId, context: &AssemblyContext) -> String {
    context
        .topic_labels
        .get(&topic)
        .map(|label| label.to_string())
        .unwrap_or_else(|| format!("topic {topic}"))
}

fn assemble(
    raw: &[RawSignal],
    members: &[usize],
    support: &BTreeSet<u32>,
    context: &AssemblyContext,
) -> Signal {
    let main_index = members
        .iter()
        .copied()
        .max_by(|&a, &b| {
            let rank = |s: &RawSignal| match s.key {
                ItemKey::Topic(_) | ItemKey::Negative(_) => 1,
                ItemKey::Term(_) => 0,
            };
            (rank(&raw[a]), raw[a].episode.z)
                .partial_cmp(&(rank(&raw[b]), raw[b].episode.z))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.cmp(&a))
        })
        .unwrap_or(members[0]);
    let main = &raw[main_index];
    let prepared = context.prepared;
    let first_flagged = members
        .iter()
        .map(|&m| raw[m].first_flagged)
        .min()
        .unwrap_or(main.first_flagged);

    // Top co-occurring terms among the supporting comments.
    let mut cooccurring: BTreeMap<&str, (u32, &str)> = BTreeMap::new();
    for &position in support {
        for (stem, word) in &context.terms[position as usize] {
            let entry = cooccurring
                .entry(stem.as_str())
                .or_insert((0, word.as_str()));
            entry.0 += 1;
        }
    }
    let mut top_terms: Vec<(&str, u32, &str)> = cooccurring
        .iter()
        .map(|(stem, (count, word))| (*stem, *count, *word))
        .collect();
    top_terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));

    let (mut id_base, mut label) = item_description(&main.key, context);
    let mut kind = match main.key {
        ItemKey::Term(_) => SignalKind::Phrase,
        ItemKey::Topic(_) => SignalKind::Topic,
        ItemKey::Negative(_) => SignalKind::SentimentShift,
    };
    if let ItemKey::Term(stem) = &main.key {
        // A second term present in most supporting comments makes the label a pair.
        let half = support.len() as u32 / 2;
        if let Some((second_stem, _, second_word)) = top_terms
            .iter()
            .find(|(other, count, _)| *other != stem.as_str() && *count > half)
        {
            id_base = format!("phrase:{stem}+{second_stem}");
            label = format!("{label} {second_word}");
        }
        kind = SignalKind::Phrase;
    }
    let episode = &main.episode;
    let window_start = prepared.bucket_start(episode.window_start);
    let window_end = prepared.bucket_start(episode.flag_bucket + 1);
    let id = format!("{id_base}@{}", window_start.format("%Y%m%dT%H"));

    let support_sorted: Vec<u32> = support.iter().copied().collect();
    let comment_ids: Vec<String> = support_sorted
        .iter()
        .take(context.config.max_comment_ids)
        .map(|&position| {
            context.docs[prepared.order[position as usize]]
                .id
                .to_string()
        })
        .collect();
    let mut authors: BTreeSet<u64> = BTreeSet::new();
    for &position in &support_sorted {
        authors.insert(prepared.author[position as usize]);
    }

    let gates: serde_json::Map<String, serde_json::Value> = episode
        .gates
        .iter()
        .map(|(name, gate)| {
            (
                name.to_string(),
                json!({"value": gate.value, "threshold": gate.threshold, "passed": gate.passed}),
            )
        })
        .collect();
    let merged: Vec<serde_json::Value> = members
        .iter()
        .filter(|&&m| m != main_index)
        .map(|&m| {
            let (item, item_label) = item_description(&raw[m].key, context);
            json!({"item": item, "label": item_label, "score": raw[m].episode.z,
                   "first_flagged": raw[m].first_flagged.to_rfc3339()})
        })
        .collect();
    let is_sentiment = kind == SignalKind::SentimentShift;
    let (observed, baseline_mean, baseline_std) = if is_sentiment {
        (
            episode.observed / episode.volume.max(1.0),
            episode.baseline_share,
            episode.baseline_share_std,
        )
    } else {
        (
            episode.observed,
            episode.baseline_share * episode.volume,
            episode.baseline_share_std * episode.volume,
        )
    };
    let mut evidence = json!({
        "item": id_base,
        "window_buckets": episode.window,
        "window_volume": episode.volume,
        "baseline_share": episode.baseline_share,
        "observed_share": episode.observed / episode.volume.max(1.0),
        "top_phrases": top_terms.iter().take(8).map(|(stem, count, word)| json!({"stem": stem, "word": word, "comments": count})).collect::<Vec<_>>(),
        "sentiment_now": main.window_mix,
        "sentiment_baseline": main.baseline_mix,
        "gates": gates,
        "merged": merged,
        "open_until": prepared.bucket_start(episode.open_until + 1).to_rfc3339(),
    });
    let topic = match main.key {
        ItemKey::Topic(topic) | ItemKey::Negative(topic) => Some(topic),
        ItemKey::Term(_) => None,
    };
    if let Some(known) = topic.and_then(|topic| context.topic_known_from.get(&topic)) {
        evidence["topic_known_from"] = json!(known.to_rfc3339());
    }
    Signal {
        id,
        kind,
        label,
        first_flagged,
        window: Window {
            start: window_start,
            end: window_end,
        },
        observed,
        baseline_mean,
        baseline_std,
        score: episode.z,
        distinct_authors: authors.len() as u64,
        duplicates_ignored: members.iter().map(|&m| raw[m].duplicates_ignored).sum(),
        topic,
        comment_ids,
        evidence,
    }
}

#[cfg(test)]
mod tests;
