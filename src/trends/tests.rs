//! Tests of the trends stage on synthetic streams: a daily-cycle background of ordinary words from
//! many authors, with planted trends and planted noise.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::text::normalize_for_dedup;
use crate::types::{SentimentCounts, SentimentLabel, Topic};

const VOCAB: &[&str] = &[
    "coffee",
    "delivery",
    "price",
    "service",
    "staff",
    "friendly",
    "store",
    "order",
    "quality",
    "website",
    "account",
    "payment",
    "support",
    "product",
    "shipping",
    "return",
    "package",
    "colour",
    "size",
    "fabric",
    "weekend",
    "morning",
    "evening",
    "parking",
    "queue",
    "menu",
    "table",
    "receipt",
    "discount",
    "voucher",
    "newsletter",
    "branch",
    "manager",
    "email",
    "phone",
    "password",
    "login",
    "screen",
    "button",
    "garden",
    "kitchen",
    "window",
    "door",
    "chair",
    "lamp",
    "carpet",
    "shelf",
    "mirror",
    "pillow",
    "blanket",
    "towel",
    "soap",
    "bottle",
    "glass",
    "plate",
    "spoon",
    "fork",
    "knife",
    "bread",
    "cheese",
    "butter",
    "apple",
    "banana",
    "orange",
    "tomato",
    "potato",
    "carrot",
    "onion",
    "pepper",
    "salt",
    "sugar",
    "flour",
    "honey",
    "juice",
    "water",
    "milk",
    "tea",
    "cake",
    "cookie",
    "pizza",
    "pasta",
    "salad",
    "soup",
    "sandwich",
    "burger",
    "ticket",
    "train",
    "bus",
    "taxi",
    "bicycle",
    "airport",
    "hotel",
    "room",
    "bed",
    "pool",
    "beach",
    "mountain",
    "river",
    "forest",
    "park",
    "museum",
    "cinema",
    "theatre",
    "music",
    "song",
    "guitar",
    "piano",
    "camera",
    "photo",
    "picture",
    "book",
    "magazine",
    "newspaper",
    "letter",
    "pencil",
    "paper",
    "notebook",
    "calendar",
    "clock",
    "watch",
    "ring",
    "necklace",
    "jacket",
    "shirt",
    "trousers",
    "shoes",
    "socks",
    "hat",
    "scarf",
    "gloves",
    "umbrella",
    "bag",
    "wallet",
    "key",
    "card",
    "gift",
    "flower",
    "tree",
    "grass",
    "stone",
    "sand",
    "cloud",
    "rain",
    "snow",
    "wind",
    "sun",
    "moon",
    "star",
    "sky",
    "ocean",
    "island",
    "village",
    "city",
    "street",
];

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(crate::rng::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn words(&mut self, n: usize) -> Vec<&'static str> {
        (0..n).map(|_| VOCAB[self.below(VOCAB.len())]).collect()
    }
}

/// An owned synthetic comment.
#[derive(Clone, Debug)]
struct Owned {
    id: String,
    timestamp: DateTime<Utc>,
    author: String,
    text: String,
    topic: Option<TopicId>,
    sentiment: SentimentLabel,
}

fn start() -> DateTime<Utc> {
    // A Monday.
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0)
        .single()
        .expect("valid date")
}

struct Background {
    days: i64,
    rate_per_hour: f64,
    daily_amplitude: f64,
    weekend_factor: f64,
    /// (first hour, hours, factor) of a volume surge.
    surge: Option<(i64, i64, f64)>,
    seed: u64,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            days: 20,
            rate_per_hour: 40.0,
            daily_amplitude: 0.6,
            weekend_factor: 1.0,
            surge: None,
            seed: 7,
        }
    }
}

/// Background traffic: random ordinary words from 3000 authors, topics 0..4 (topic 5 rare), 20 %
/// negative.
fn background(spec: &Background) -> Vec<Owned> {
    let mut rng = Rng(crate::rng::SplitMix64::new(spec.seed));
    let mut out = Vec::new();
    for hour in 0..spec.days * 24 {
        let hour_of_day = (hour % 24) as f64;
        let day_of_week = (hour / 24) % 7;
        let weekly = if day_of_week >= 5 {
            spec.weekend_factor
        } else {
            1.0
        };
        let cycle = 1.0
            + spec.daily_amplitude
                * (2.0 * std::f64::consts::PI * (hour_of_day - 15.0) / 24.0).cos();
        let mut mean = spec.rate_per_hour * cycle * weekly;
        if let Some((first, length, factor)) = spec.surge {
            if hour >= first && hour < first + length {
                mean *= factor;
            }
        }
        let count = (mean * (0.8 + 0.4 * rng.unit())).round() as usize;
        for _ in 0..count {
            let seconds = hour * 3600 + rng.below(3600) as i64;
            let topic = if rng.below(50) == 0 {
                5
            } else {
                rng.below(5) as TopicId
            };
            let sentiment = if rng.below(5) == 0 {
                SentimentLabel::Negative
            } else {
                SentimentLabel::Neutral
            };
            out.push(Owned {
                id: format!("b{}", out.len()),
                timestamp: start() + Duration::seconds(seconds),
                author: format!("a{}", rng.below(3000)),
                text: rng.words(6).join(" "),
                topic: Some(topic),
                sentiment,
            });
        }
    }
    out
}

/// A phrase rising linearly over `rise_days` from `from_day`, then a plateau, written by authors drawn
/// from `authors` ids. `copies` adds that many exact copies (by other authors) of every fifth comment.
fn slow_burn(
    from_day: i64,
    rise_days: i64,
    per_hour: f64,
    authors: usize,
    seed: u64,
) -> Vec<Owned> {
    let mut rng = Rng(crate::rng::SplitMix64::new(seed));
    let mut out = Vec::new();
    for hour in from_day * 24..20 * 24 {
        let progress = ((hour - from_day * 24) as f64 / (rise_days * 24) as f64).min(1.0);
        let count = (per_hour * progress + rng.unit()).floor() as usize;
        for _ in 0..count {
            let mut words = rng.words(4);
            let at = rng.below(words.len() + 1);
            words.insert(at, "checkout freezes");
            out.push(Owned {
                id: format!("p{seed}_{}", out.len()),
                timestamp: start() + Duration::seconds(hour * 3600 + rng.below(3600) as i64),
                author: format!("u{}", rng.below(authors)),
                text: words.join(" "),
                topic: None,
                sentiment: SentimentLabel::Negative,
            });
        }
    }
    out
}

fn to_docs(owned: &[Owned]) -> Vec<TrendDoc<'_>> {
    let mut first: HashMap<String, usize> = HashMap::new();
    owned
        .iter()
        .enumerate()
        .map(|(index, comment)| {
            let original = *first
                .entry(normalize_for_dedup(&comment.text))
                .or_insert(index);
            TrendDoc {
                id: &comment.id,
                timestamp: comment.timestamp,
                author: Some(&comment.author),
                text: &comment.text,
                lang: Lang::En,
                duplicate_of: (original != index).then_some(original),
                topic: comment.topic,
                sentiment: comment.sentiment,
            }
        })
        .collect()
}

fn topics() -> Vec<Topic> {
    (0..6)
        .map(|id| Topic {
            id,
            label: format!("topic label {id}"),
            keywords: Vec::new(),
            size: 0,
            sentiment: SentimentCounts::default(),
            representatives: Vec::new(),
            theme: None,
            known_from: None,
            kind: crate::types::TopicKind::Subject,
        })
        .collect()
}

fn run(owned: &[Owned], config: &TrendsConfig) -> TrendsOutput {
    let docs = to_docs(owned);
    detect(&docs, &[], config).expect("detect runs")
}

fn phrase_signals_with<'s>(output: &'s TrendsOutput, stem: &str) -> Vec<&'s Signal> {
    output
        .signals
        .iter()
        .filter(|signal| {
            signal.id.contains(stem)
                || signal.evidence["merged"].as_array().is_some_and(|merged| {
                    merged
                        .iter()
                        .any(|m| m["item"].as_str().is_some_and(|i| i.contains(stem)))
                })
        })
        .collect()
}

fn planted_stream() -> Vec<Owned> {
    let mut owned = background(&Background::default());
    let planted = slow_burn(12, 3, 6.0, 100_000, 1);
    // Exact copies of every fifth planted comment, by other authors, a minute later.
    let copies: Vec<Owned> = planted
        .iter()
        .step_by(5)
        .enumerate()
        .map(|(n, comment)| Owned {
            id: format!("copy{n}"),
            timestamp: comment.timestamp + Duration::minutes(1),
            author: format!("copier{n}"),
            ..comment.clone()
        })
        .collect();
    owned.extend(planted);
    owned.extend(copies);
    owned
}

#[test]
fn background_alone_flags_nothing() {
    let output = run(
        &background(&Background::default()),
        &TrendsConfig::default(),
    );
    assert_eq!(output.bucket_seconds, 3600);
    assert!(output.signals.is_empty(), "{:?}", output.signals);
}

#[test]
fn slow_burning_issue_is_flagged_with_evidence() {
    let output = run(&planted_stream(), &TrendsConfig::default());
    assert_eq!(output.signals.len(), 1, "{:#?}", output.signals);
    let signal = &output.signals[0];
    assert_eq!(signal.kind, SignalKind::Phrase);
    assert!(signal.id.starts_with("phrase:checkout") || signal.id.starts_with("phrase:freez"));
    assert!(signal.label.contains("checkout") || signal.label.contains("freezes"));
    assert!(signal.first_flagged > start() + Duration::days(12));
    assert!(signal.first_flagged < start() + Duration::days(15));
    assert!(signal.distinct_authors >= 8);
    assert!(
        signal.duplicates_ignored > 0,
        "copies must be counted as ignored"
    );
    assert!(signal.score >= 4.0);
    assert!(signal.observed > signal.baseline_mean);
    let gates = signal.evidence["gates"].as_object().expect("gates");
    for name in [
        "z",
        "lift",
        "distinct_authors",
        "min_count",
        "spread",
        "persistence",
    ] {
        assert_eq!(gates[name]["passed"], true, "gate {name}");
    }
    assert!(signal.evidence["top_phrases"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    assert!(signal.evidence["sentiment_now"]["negative"].as_u64() > Some(0));
    // Supporting comments are sorted by time and are not copies.
    assert!(signal.comment_ids.iter().all(|id| !id.starts_with("copy")));
    assert!(signal.comment_ids.iter().all(|id| id.starts_with('p')));
}

#[test]
fn authors_gate_blocks_a_rise_from_few_authors() {
    let mut owned = background(&Background::default());
    owned.extend(slow_burn(12, 3, 6.0, 3, 2));
    let output = run(&owned, &TrendsConfig::default());
    assert!(
        phrase_signals_with(&output, "checkout").is_empty(),
        "{:#?}",
        output.signals
    );
    assert!(output.signals.is_empty());
    // With a z threshold low enough for 6 authors to pass it, the authors gate (8) still blocks.
    let loose = TrendsConfig {
        z_threshold: 1.0,
        ..TrendsConfig::default()
    };
    let mut few = background(&Background::default());
    few.extend(slow_burn(12, 3, 6.0, 6, 3));
    let output = run(&few, &loose);
    assert!(
        phrase_signals_with(&output, "checkout").is_empty(),
        "{:#?}",
        output.signals
    );
    // Control: without the authors gate the same rise is flagged.
    let no_gate = TrendsConfig {
        min_authors: 1,
        long_min_authors: 1,
        ..loose
    };
    let output = run(&few, &no_gate);
    assert!(
        !phrase_signals_with(&output, "checkout").is_empty(),
        "{:#?}",
        output.signals
    );
}

#[test]
fn exact_duplicate_flood_is_not_flagged() {
    for hours in [1, 3] {
        let mut owned = background(&Background::default());
        let total_background = owned.len();
        for n in 0..300 {
            owned.push(Owned {
                id: format!("f{n}"),
                timestamp: start() + Duration::hours(24 * 13) + Duration::seconds(n * 12 * hours),
                author: format!("flooder{n}"),
                text: "Please share: Langrio wants to charge extra for paper receipts! #boycott"
                    .into(),
                topic: Some(1),
                sentiment: SentimentLabel::Negative,
            });
        }
        let output = run(&owned, &TrendsConfig::default());
        assert!(
            output.signals.is_empty(),
            "{hours} h: {:#?}",
            output.signals
        );
        assert_eq!(output.docs_used, total_background + 1, "copies count once");
    }
}

#[test]
fn near_duplicate_spam_from_one_author_is_not_flagged() {
    let mut owned = background(&Background::default());
    let mut rng = Rng(crate::rng::SplitMix64::new(99));
    let emoji = ["✨", "🤑", "💥", ""];
    for n in 0..300 {
        let text = format!(
            "{} UNBELIEVABLE!! {}% discount on LED strips - code X{}Q shop at ketusdy.store{}",
            emoji[rng.below(emoji.len())],
            5 + rng.below(90),
            rng.below(1000),
            if n % 2 == 0 { "!" } else { "?" }
        );
        owned.push(Owned {
            id: format!("s{n}"),
            timestamp: start() + Duration::hours(24 * 13) + Duration::seconds(n * 36),
            author: "spammer".into(),
            text: if n % 3 == 0 {
                text.to_lowercase()
            } else {
                text
            },
            topic: Some(2),
            sentiment: SentimentLabel::Positive,
        });
    }
    let base_len = owned.len() - 300;
    let output = run(&owned, &TrendsConfig::default());
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
    assert_eq!(output.docs_used, base_len + 1, "near-duplicates count once");
}

#[test]
fn single_bucket_blip_fails_the_persistence_gate() {
    // A config loose enough that the blip passes z, authors and count: only persistence stops it.
    let loose = TrendsConfig {
        min_authors: 5,
        long_min_authors: 5,
        min_count: 5,
        z_threshold: 1.5,
        ..TrendsConfig::default()
    };
    let blip = |spacing_minutes: i64| {
        let mut owned = background(&Background::default());
        let mut rng = Rng(crate::rng::SplitMix64::new(5));
        for n in 0..6 {
            owned.push(Owned {
                id: format!("r{n}"),
                timestamp: start()
                    + Duration::hours(24 * 14 + 10)
                    + Duration::minutes(n * spacing_minutes),
                author: format!("blipper{n}"),
                text: format!("is the zorblax worth it {}", rng.words(2).join(" ")),
                topic: Some(3),
                sentiment: SentimentLabel::Neutral,
            });
        }
        owned
    };
    let one_hour = run(&blip(8), &loose);
    assert!(
        phrase_signals_with(&one_hour, "zorblax").is_empty(),
        "{:#?}",
        one_hour.signals
    );
    // Control: the same six comments spread over three hours do pass under this config.
    let spread = run(&blip(30), &loose);
    assert_eq!(
        phrase_signals_with(&spread, "zorblax").len(),
        1,
        "{:#?}",
        spread.signals
    );
}

/// Strong daily and weekly cycles (weekends at 0.4) and a 4-hour doubling of all traffic.
fn seasonal_background() -> Vec<Owned> {
    background(&Background {
        daily_amplitude: 0.9,
        weekend_factor: 0.4,
        surge: Some((24 * 13 + 9, 4, 2.0)),
        seed: 11,
        ..Background::default()
    })
}

#[test]
fn seasonality_and_volume_surge_flag_nothing() {
    let owned = seasonal_background();
    let docs = to_docs(&owned);
    let output = detect(&docs, &topics(), &TrendsConfig::default()).expect("detect runs");
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
    // Control: without rates as shares of the traffic, the same stream's busy hours flag.
    let raw_counts = TrendsConfig {
        share_of_volume: false,
        ..TrendsConfig::default()
    };
    let output = detect(&docs, &topics(), &raw_counts).expect("detect runs");
    assert!(
        !output.signals.is_empty(),
        "no signal without the seasonality gate"
    );
}

#[test]
fn topic_volume_rise_and_negative_shift_are_flagged() {
    let mut owned = background(&Background::default());
    let mut rng = Rng(crate::rng::SplitMix64::new(21));
    // Topic 5 (normally 2 % of traffic) gains up to 8 comments an hour from day 12.
    for hour in 12 * 24..20 * 24 {
        let progress = ((hour - 12 * 24) as f64 / 48.0).min(1.0);
        for _ in 0..(8.0 * progress + rng.unit()).floor() as usize {
            owned.push(Owned {
                id: format!("t{}", owned.len()),
                timestamp: start() + Duration::seconds(hour * 3600 + rng.below(3600) as i64),
                author: format!("a{}", rng.below(3000)),
                text: rng.words(6).join(" "),
                topic: Some(5),
                sentiment: SentimentLabel::Neutral,
            });
        }
    }
    // Topic 3 turns negative from day 12 without changing its volume.
    for comment in owned.iter_mut() {
        if comment.topic == Some(3)
            && comment.timestamp >= start() + Duration::days(12)
            && rng.below(2) == 0
        {
            comment.sentiment = SentimentLabel::Negative;
        }
    }
    let docs = to_docs(&owned);
    let output = detect(&docs, &topics(), &TrendsConfig::default()).expect("detect runs");
    let topic_signals: Vec<&Signal> = output
        .signals
        .iter()
        .filter(|s| s.kind == SignalKind::Topic)
        .collect();
    let shifts: Vec<&Signal> = output
        .signals
        .iter()
        .filter(|s| s.kind == SignalKind::SentimentShift)
        .collect();
    assert_eq!(topic_signals.len(), 1, "{:#?}", output.signals);
    assert_eq!(topic_signals[0].topic, Some(5));
    assert_eq!(topic_signals[0].label, "topic label 5");
    assert!(topic_signals[0].id.starts_with("topic:5@"));
    assert_eq!(shifts.len(), 1, "{:#?}", output.signals);
    assert_eq!(shifts[0].topic, Some(3));
    assert_eq!(shifts[0].label, "topic label 3 turning negative");
    assert!(shifts[0].observed > shifts[0].baseline_mean);
    assert!(shifts[0].observed <= 1.0);
    assert_eq!(output.signals.len(), 2, "{:#?}", output.signals);
}

#[test]
fn a_topic_is_not_flagged_before_it_exists() {
    let mut owned = background(&Background::default());
    let mut rng = Rng(crate::rng::SplitMix64::new(23));
    // Topic 5 (normally 2 % of traffic) gets up to 8 more comments an hour on days 12 and 13.
    rise(&mut owned, &mut rng, 5, "", 12 * 24, 48, 8.0);
    let docs = to_docs(&owned);
    let flagged_with = |known_from: Option<DateTime<Utc>>| -> Vec<Signal> {
        let mut topics = topics();
        topics[5].known_from = known_from;
        let output = detect(&docs, &topics, &TrendsConfig::default()).expect("detect runs");
        output
            .signals
            .into_iter()
            .filter(|s| s.kind == SignalKind::Topic)
            .collect()
    };
    // Known from the start (or fitted without steps): flagged during the rise.
    let always = flagged_with(None);
    assert_eq!(always.len(), 1, "{always:#?}");
    assert!(always[0].first_flagged < start() + Duration::days(13));
    assert_eq!(always[0].evidence.get("topic_known_from"), None);
    // Created from day 12's comments, so known from the end of day 12: flagged then, not before.
    let known = start() + Duration::days(13);
    let next_day = flagged_with(Some(known));
    assert_eq!(next_day.len(), 1, "{next_day:#?}");
    assert!(next_day[0].first_flagged >= known);
    assert!(next_day[0].first_flagged < known + Duration::days(1));
    assert_eq!(
        next_day[0].evidence["topic_known_from"],
        serde_json::json!(known.to_rfc3339())
    );
    assert_eq!(
        next_day[0].evidence["gates"]["topic_known"]["passed"],
        serde_json::json!(true)
    );
    // Created long after the rise was over: never flagged for it.
    assert!(flagged_with(Some(start() + Duration::days(17))).is_empty());
}

#[test]
fn output_is_deterministic_across_threads_and_input_order() {
    let owned = planted_stream();
    let config = TrendsConfig::default();
    let in_pool = |threads: usize, comments: &[Owned]| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| run(comments, &config))
    };
    let one = in_pool(1, &owned);
    let two = in_pool(2, &owned);
    assert!(!one.signals.is_empty());
    assert_eq!(one, two);
    let mut shuffled = owned.clone();
    let mut rng = Rng(crate::rng::SplitMix64::new(3));
    for index in (1..shuffled.len()).rev() {
        let other = rng.below(index + 1);
        shuffled.swap(index, other);
    }
    assert_eq!(in_pool(2, &shuffled), one);
}

#[test]
fn parse_bucket_accepts_units_and_rejects_garbage() {
    assert_eq!(parse_bucket("30m").expect("30m"), 1800);
    assert_eq!(parse_bucket("1h").expect("1h"), 3600);
    assert_eq!(parse_bucket("6h").expect("6h"), 21_600);
    assert_eq!(parse_bucket("1d").expect("1d"), 86_400);
    for bad in ["", "h", "0h", "1w", "1.5h", "-1h", "1 h"] {
        let error = parse_bucket(bad).expect_err(bad).to_string();
        assert!(error.starts_with("invalid bucket"), "{error}");
    }
}

#[test]
fn explicit_daily_bucket_is_used() {
    let config = TrendsConfig {
        bucket: Some("1d".into()),
        ..TrendsConfig::default()
    };
    let output = run(&background(&Background::default()), &config);
    assert_eq!(output.bucket_seconds, 86_400);
    assert_eq!(output.buckets, 20);
}

#[test]
fn config_round_trips_through_toml() {
    let config = TrendsConfig::default();
    let text = toml::to_string(&config).expect("serialise");
    let back: TrendsConfig = toml::from_str(&text).expect("parse");
    assert_eq!(back, config);
    assert!(toml::from_str::<TrendsConfig>("no_such_field = 1").is_err());
}

/// Adds `per_hour` comments an hour (after a 12-hour ramp) of `topic` from `from_hour` for `hours`,
/// each text a few background words around `words`.
fn rise(
    owned: &mut Vec<Owned>,
    rng: &mut Rng,
    topic: TopicId,
    words: &str,
    from_hour: i64,
    hours: i64,
    per_hour: f64,
) {
    for hour in from_hour..from_hour + hours {
        let progress = ((hour - from_hour) as f64 / 12.0).min(1.0);
        for _ in 0..(per_hour * progress + rng.unit()).floor() as usize {
            owned.push(Owned {
                id: format!("t{}", owned.len()),
                timestamp: start() + Duration::seconds(hour * 3600 + rng.below(3600) as i64),
                author: format!("a{}", rng.below(3000)),
                text: format!("{words} {}", rng.words(3).join(" ")),
                topic: Some(topic),
                sentiment: SentimentLabel::Neutral,
            });
        }
    }
}

#[test]
fn co_trending_topics_of_one_event_merge_but_not_later_ones() {
    let mut owned = background(&Background::default());
    let mut rng = Rng(crate::rng::SplitMix64::new(5));
    // Two facets of one event (new topics) rise in the same hours and share a word; a third new
    // topic with the first one's words rises four days later.
    for (topic, words, from_hour) in [
        (6, "quakeville quake damage", 12 * 24),
        (7, "quakeville prayers victims", 12 * 24),
        (8, "quakeville quake damage", 16 * 24),
    ] {
        rise(&mut owned, &mut rng, topic, words, from_hour, 48, 8.0);
    }
    let mut sorted = owned;
    sorted.sort_by_key(|comment| comment.timestamp);
    let output = run(&sorted, &TrendsConfig::default());
    let topic_groups: Vec<Vec<TopicId>> = output
        .signals
        .iter()
        .map(|signal| {
            let merged = signal.evidence["merged"].as_array().expect("merged list");
            let mut topics: Vec<TopicId> = merged
                .iter()
                .filter_map(|member| {
                    member["item"]
                        .as_str()?
                        .strip_prefix("topic:")?
                        .parse()
                        .ok()
                })
                .collect();
            topics.extend(signal.topic);
            topics.sort_unstable();
            topics.dedup();
            topics
        })
        .filter(|topics| !topics.is_empty())
        .collect();
    let summary: Vec<(String, Vec<String>)> = output
        .signals
        .iter()
        .map(|signal| {
            let merged = signal.evidence["merged"].as_array().expect("merged list");
            let items = merged.iter().map(|m| m["item"].to_string()).collect();
            (signal.id.clone(), items)
        })
        .collect();
    assert_eq!(topic_groups, vec![vec![6, 7], vec![8]], "{summary:?}");

    // Without the co-trending rule, and with a `merge_cosine` that asks for near-identical
    // vocabulary, the three topics stay apart.
    let strict = TrendsConfig {
        cotrend_hours: 0.0,
        merge_cosine: 0.9,
        ..TrendsConfig::default()
    };
    let output = run(&sorted, &strict);
    let topic_signals = output
        .signals
        .iter()
        .filter(|signal| signal.kind == SignalKind::Topic)
        .count();
    assert_eq!(topic_signals, 3, "{:#?}", output.signals);
}

#[test]
fn duplicate_links_follow_the_docs_that_are_kept() {
    // Items 0..6; item 1 has no timestamp. Groups: {0, 3}, {1, 4, 5} (original 1 is dropped, so 4
    // becomes the group's first doc), {2}.
    let duplicate_of = [None, None, None, Some(0), Some(1), Some(1)];
    let kept = [true, false, true, true, true, true];
    let links = duplicates_among_kept(&duplicate_of, &kept);
    // Doc indices: 0 -> item 0, 1 -> item 2, 2 -> item 3, 3 -> item 4, 4 -> item 5.
    assert_eq!(links, vec![None, None, Some(0), None, Some(3)]);
}

#[test]
fn slow_window_flags_a_slow_burn_the_default_windows_miss() {
    // From day 6 a phrase rises linearly over 12 days to 0.8 comments an hour: the default
    // baselines (half-life 72 buckets) rise with it.
    let mut owned = background(&Background::default());
    owned.extend(slow_burn(6, 12, 0.8, 100_000, 3));
    let output = run(&owned, &TrendsConfig::default());
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
    let slow = TrendsConfig {
        slow_window_buckets: 72,
        ..TrendsConfig::default()
    };
    let output = run(&owned, &slow);
    assert_eq!(output.signals.len(), 1, "{:#?}", output.signals);
    let signal = &output.signals[0];
    assert!(signal.id.starts_with("phrase:checkout") || signal.id.starts_with("phrase:freez"));
    assert_eq!(signal.evidence["window_buckets"], 72);
    assert!(signal.score >= slow.slow_z_threshold);
    assert_eq!(
        signal.evidence["gates"]["z"]["threshold"].as_f64(),
        Some(slow.slow_z_threshold)
    );
    assert!(signal.first_flagged > start() + Duration::days(9));
    assert!(signal.first_flagged < start() + Duration::days(15));
    // Neither the plain background nor daily and weekly cycles with a surge flag with it.
    assert!(run(&background(&Background::default()), &slow)
        .signals
        .is_empty());
    let seasonal = seasonal_background();
    let docs = to_docs(&seasonal);
    let output = detect(&docs, &topics(), &slow).expect("detect runs");
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
}
