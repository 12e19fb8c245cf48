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
//! once per item and window. Beside the rate scales, a novelty path (`novelty.rs`) flags a phrase
//! absent or near-absent from its whole history that then spreads over many distinct authors across
//! several days, long before a slow burn clears the rate scales' gates. Co-trending items with
//! overlapping comment sets become one signal; a phrase signal whose comments concentrate in one
//! topic names that topic, and every signal names its topic's theme (`assemble.rs`).
//!
//! Topics are assigned with the latest fit, so a topic created from later data has members back to
//! the start. Those members are its baseline, but it is flagged only in windows that end at or after
//! its `known_from` (the `topic_known` gate): the detector never reports a topic before it existed.
//!
//! Files: the settings and their checks in `config.rs`, the per-item scan in `series.rs`, the
//! novelty path in `novelty.rs`, duplicate handling in `dedup.rs`, signal assembly in
//! `assemble.rs`; the tests in `tests/` and `novelty_tests.rs`.

mod assemble;
mod config;
mod dedup;
mod novelty;
mod series;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use rayon::prelude::*;

use crate::error::Result;
use crate::text::{content_terms, strip_links, LangStemmer};
use crate::types::{
    Comment, EnrichedComment, Lang, SentimentCounts, SentimentLabel, Signal, Topic, TopicId,
};

use config::scan_settings;
pub use config::{parse_bucket, TrendsConfig};
use series::{Episode, ScanSettings, Unit};

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

/// One [`TrendDoc`] per stored comment with a timestamp (the others are not trended), with its
/// topic and sentiment from `enriched` (parallel to `comments`) and its exact-duplicate link
/// (`duplicate_of`, indices into `comments`) re-keyed to doc indices.
pub fn docs<'a>(
    comments: &'a [Comment],
    enriched: &[EnrichedComment],
    duplicate_of: &[Option<usize>],
) -> Vec<TrendDoc<'a>> {
    let kept: Vec<bool> = comments.iter().map(|c| c.timestamp.is_some()).collect();
    let mut doc_duplicates = duplicates_among_kept(duplicate_of, &kept).into_iter();
    comments
        .iter()
        .zip(enriched)
        .filter_map(|(comment, enriched)| {
            Some(TrendDoc {
                id: &comment.id,
                timestamp: comment.timestamp?,
                author: comment.author.as_deref(),
                text: &comment.text,
                lang: comment.lang,
                duplicate_of: doc_duplicates.next().flatten(),
                topic: enriched.topic,
                sentiment: enriched.sentiment.label,
            })
        })
        .collect()
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

    let phrase_settings = scan_settings(config, false, prepared.bucket_seconds);
    // A topic's history is rebuilt by the latest fit, and a topic split off from another is new as
    // a cluster, not as a subject: the novelty path scans phrases only.
    let topic_settings = ScanSettings {
        novelty: None,
        ..phrase_settings.clone()
    };
    let sentiment_settings = scan_settings(config, true, prepared.bucket_seconds);
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
                ItemKey::Term(_) => (phrase_denominator, &phrase_settings),
                ItemKey::Topic(_) => (phrase_denominator, &topic_settings),
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
    let topic_themes: HashMap<TopicId, TopicId> = topics
        .iter()
        .filter_map(|topic| Some((topic.id, topic.theme?)))
        .collect();
    let context = assemble::AssemblyContext {
        docs,
        idf: &idf,
        prepared: &prepared,
        terms: &terms,
        surface: &surface,
        topic_labels: &topic_labels,
        topic_known_from: &topic_known_from,
        topic_themes: &topic_themes,
        config,
    };
    let signals = assemble::merge_and_assemble(raw, &context);
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

#[cfg(test)]
mod novelty_tests;
#[cfg(test)]
mod tests;
