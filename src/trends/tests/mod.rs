//! Tests of the trends stage on synthetic streams: a daily-cycle background of ordinary words from
//! many authors, with planted trends and planted noise.
//!
//! Files: `mod.rs` builds the streams (the background, slow burns, the planted stream) and runs the
//! stage on them; `phrases.rs` tests phrase signals and the gates that keep noise out (authors,
//! duplicates, persistence, seasonality, the slow window); `topics.rs` topic and sentiment-shift
//! signals, merging co-trending topics and naming a signal's topic and theme; `config.rs` the
//! settings and the determinism of the output.

mod config;
mod phrases;
mod topics;

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::text::normalize_for_dedup;
use crate::types::SignalKind;
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
