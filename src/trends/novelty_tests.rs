//! Tests of the novelty path (`novelty.rs`) on synthetic streams: a background of ordinary and
//! rare words from many authors, a new phrase that spreads slowly, and the noise that must not pass
//! for it (one author's spam, a copy-paste flood, a one-hour blip, the fading tail of a burst, a
//! surge of all traffic).

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::rng::SplitMix64;

/// Words every background comment draws from: 40 common ones and 2,000 rare ones (`rare0` ...),
/// so that a surge of all traffic brings rare words in numbers too.
const COMMON: &[&str] = &[
    "delivery", "price", "service", "staff", "store", "order", "quality", "website", "account",
    "payment", "support", "product", "shipping", "package", "colour", "size", "parking", "queue",
    "menu", "table", "receipt", "discount", "voucher", "branch", "manager", "email", "phone",
    "password", "login", "screen", "button", "garden", "kitchen", "window", "door", "chair",
    "lamp", "carpet", "shelf", "mirror",
];

/// Rare words per common one.
const RARE_WORDS: u64 = 2_000;

struct Comment {
    id: String,
    timestamp: DateTime<Utc>,
    author: String,
    text: String,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn at(rng: &mut SplitMix64, hour: i64) -> DateTime<Utc> {
    start() + Duration::seconds(hour * 3600 + (rng.next_u64() % 3600) as i64)
}

/// Twenty days of background, `per_hour` comments an hour from 5,000 authors, five words each (one
/// in five rare); hours `surge` carry three times the traffic.
fn background(per_hour: u64, surge: std::ops::Range<i64>) -> Vec<Comment> {
    let mut rng = SplitMix64::new(11);
    let mut out = Vec::new();
    for hour in 0..20 * 24 {
        let count = if surge.contains(&hour) {
            3 * per_hour
        } else {
            per_hour
        };
        for _ in 0..count {
            let words: Vec<String> = (0..5)
                .map(|_| {
                    let draw = rng.next_u64();
                    if draw.is_multiple_of(5) {
                        format!("rare{}", (draw >> 8) % RARE_WORDS)
                    } else {
                        COMMON[(draw >> 8) as usize % COMMON.len()].to_string()
                    }
                })
                .collect();
            out.push(Comment {
                id: format!("b{}", out.len()),
                timestamp: at(&mut rng, hour),
                author: format!("a{}", rng.next_u64() % 5_000),
                text: words.join(" "),
            });
        }
    }
    out
}

/// A new phrase ("thermostat reboots") from `from_day`: `per_day(day)` comments on each day after
/// it, each by an author drawn by `author(n)`, worded around background words.
fn planted(
    from_day: i64,
    per_day: impl Fn(i64) -> u64,
    author: impl Fn(u64) -> String,
    seed: u64,
) -> Vec<Comment> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    for day in from_day..20 {
        for _ in 0..per_day(day - from_day) {
            let hour = day * 24 + (rng.next_u64() % 24) as i64;
            let word = |rng: &mut SplitMix64| COMMON[rng.next_u64() as usize % COMMON.len()];
            let text = format!(
                "{} thermostat reboots {} {}",
                word(&mut rng),
                word(&mut rng),
                word(&mut rng)
            );
            out.push(Comment {
                id: format!("p{seed}_{}", out.len()),
                timestamp: at(&mut rng, hour),
                author: author(out.len() as u64),
                text,
            });
        }
    }
    out
}

fn detect_in(comments: &[Comment], config: &TrendsConfig) -> TrendsOutput {
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    let duplicate_of = crate::text::exact_duplicates(&texts);
    let docs: Vec<TrendDoc> = comments
        .iter()
        .zip(duplicate_of)
        .map(|(comment, duplicate_of)| TrendDoc {
            id: &comment.id,
            timestamp: comment.timestamp,
            author: Some(&comment.author),
            text: &comment.text,
            lang: Lang::En,
            duplicate_of,
            topic: None,
            sentiment: SentimentLabel::Neutral,
        })
        .collect();
    detect(&docs, &[], config).expect("detect runs")
}

fn without_novelty() -> TrendsConfig {
    TrendsConfig {
        novelty_window_hours: 0.0,
        ..TrendsConfig::default()
    }
}

/// Signals about the planted phrase.
fn about_thermostat(output: &TrendsOutput) -> Vec<&Signal> {
    output
        .signals
        .iter()
        .filter(|signal| signal.id.contains("thermostat") || signal.id.contains("reboot"))
        .collect()
}

/// From day 12, a slow burn: 2 comments on its first day, 2 more each day, every one by a new
/// author.
fn slow_burn() -> Vec<Comment> {
    let mut comments = background(20, 0..0);
    comments.extend(planted(
        12,
        |day| 2 + 2 * day as u64,
        |n| format!("u{n}"),
        1,
    ));
    comments
}

#[test]
fn novelty_flags_a_slow_burn_before_the_rate_scales() {
    let comments = slow_burn();
    let output = detect_in(&comments, &TrendsConfig::default());
    let flagged = about_thermostat(&output);
    // One signal: the rate scales that catch up later find the novelty episode open.
    assert_eq!(flagged.len(), 1, "{:#?}", output.signals);
    assert_eq!(output.signals.len(), 1, "{:#?}", output.signals);
    let signal = flagged[0];
    let gates = signal.evidence["gates"].as_object().expect("gates");
    for name in [
        "novelty_lift",
        "distinct_authors",
        "min_count",
        "novelty_days",
        "spread",
        "persistence",
    ] {
        assert_eq!(gates[name]["passed"], true, "gate {name}: {gates:?}");
    }
    assert!(gates["novelty_lift"]["value"].as_f64() >= Some(10.0));
    assert!(gates["distinct_authors"]["value"].as_f64() >= Some(10.0));
    assert!(gates["novelty_days"]["value"].as_f64() >= Some(3.0));
    assert_eq!(signal.evidence["window_buckets"], 96);
    // By the end of day 14 it has 2 + 4 + 6 = 12 authors over three days, where its twelve days of
    // history (never a mention) lead one to expect about 1.1 (3 per 5,280 comments of history, at
    // the window's 1,932).
    assert!(
        signal.first_flagged <= start() + Duration::days(15),
        "{signal:#?}"
    );

    // The rate scales alone flag it later, or not at all.
    let plain = detect_in(&comments, &without_novelty());
    let rate = about_thermostat(&plain);
    assert!(
        rate.iter()
            .all(|rate_signal| rate_signal.first_flagged > signal.first_flagged),
        "{rate:#?}"
    );
    // The background alone flags nothing either way.
    assert!(detect_in(&background(20, 0..0), &TrendsConfig::default())
        .signals
        .is_empty());
}

#[test]
fn novelty_output_is_the_same_at_any_thread_count() {
    let comments = slow_burn();
    let in_pool = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| detect_in(&comments, &TrendsConfig::default()))
    };
    let one = in_pool(1);
    assert!(!one.signals.is_empty());
    assert_eq!(one, in_pool(3));
}

#[test]
fn one_author_s_spam_of_a_new_phrase_is_not_flagged() {
    // The same growth as the slow burn, all from one author (different wording each time).
    let mut comments = background(20, 0..0);
    comments.extend(planted(
        12,
        |day| 2 + 2 * day as u64,
        |_| "spammer".into(),
        2,
    ));
    let output = detect_in(&comments, &TrendsConfig::default());
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
    // A control: the same comments from distinct authors are flagged.
    let mut comments = background(20, 0..0);
    comments.extend(planted(
        12,
        |day| 2 + 2 * day as u64,
        |n| format!("u{n}"),
        2,
    ));
    assert!(!detect_in(&comments, &TrendsConfig::default())
        .signals
        .is_empty());
}

#[test]
fn a_copy_paste_flood_over_several_days_is_not_flagged() {
    // 240 distinct authors post one new text over four days.
    let mut comments = background(20, 0..0);
    let mut rng = SplitMix64::new(5);
    for n in 0..240i64 {
        comments.push(Comment {
            id: format!("f{n}"),
            timestamp: at(&mut rng, 10 * 24 + n * 96 / 240),
            author: format!("flooder{n}"),
            text: "Boycott Zorgplex now! Share this everywhere".into(),
        });
    }
    let output = detect_in(&comments, &TrendsConfig::default());
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
}

#[test]
fn a_one_hour_blip_of_a_new_word_is_not_flagged() {
    // 40 distinct authors use a new word within one hour of day 10, and never again.
    let mut comments = background(20, 0..0);
    let mut rng = SplitMix64::new(6);
    for n in 0..40 {
        let word = COMMON[n % COMMON.len()];
        comments.push(Comment {
            id: format!("z{n}"),
            timestamp: at(&mut rng, 10 * 24 + 14),
            author: format!("blip{n}"),
            text: format!("zorblax {word} seen tonight {n}"),
        });
    }
    let output = detect_in(&comments, &TrendsConfig::default());
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
}

#[test]
fn the_fading_tail_of_a_burst_is_not_flagged_as_new() {
    // 16 authors over four days, most of them on the first: a burst too small for the rate scales
    // and its tail.
    let per_day = |counts: [u64; 4]| move |day: i64| counts.get(day as usize).copied().unwrap_or(0);
    let mut fading = background(20, 0..0);
    fading.extend(planted(12, per_day([9, 4, 2, 1]), |n| format!("u{n}"), 3));
    let output = detect_in(&fading, &TrendsConfig::default());
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
    // A control: the same authors in the opposite order are spreading, and flagged.
    let mut growing = background(20, 0..0);
    growing.extend(planted(12, per_day([1, 2, 4, 9]), |n| format!("u{n}"), 3));
    let output = detect_in(&growing, &TrendsConfig::default());
    assert_eq!(about_thermostat(&output).len(), 1, "{:#?}", output.signals);
    let gates = &output.signals[0].evidence["gates"];
    assert!(
        gates["novelty_growth"]["value"].as_f64() >= Some(0.5),
        "{gates}"
    );
}

#[test]
fn a_surge_of_all_traffic_is_not_flagged() {
    // All traffic triples for two days: rare words come in numbers, but no more often per comment.
    let comments = background(20, 10 * 24..12 * 24);
    let output = detect_in(&comments, &TrendsConfig::default());
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
    // A control: counted as authors per bucket instead of shares of the traffic, it flags.
    let raw = TrendsConfig {
        share_of_volume: false,
        ..TrendsConfig::default()
    };
    assert!(!detect_in(&comments, &raw).signals.is_empty());
}

#[test]
fn novelty_settings_are_range_checked() {
    let too_many_days = TrendsConfig {
        novelty_window_hours: 48.0,
        novelty_min_days: 3,
        ..TrendsConfig::default()
    };
    let error = too_many_days
        .validate()
        .expect_err("3 days of a 2-day window");
    assert!(error.to_string().contains("novelty_min_days"), "{error}");
    for bad in [
        TrendsConfig {
            novelty_window_hours: -1.0,
            ..TrendsConfig::default()
        },
        TrendsConfig {
            novelty_min_lift: 0.0,
            ..TrendsConfig::default()
        },
        TrendsConfig {
            novelty_min_authors: 0,
            ..TrendsConfig::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    // Off is valid whatever the day count.
    assert!(TrendsConfig {
        novelty_window_hours: 0.0,
        novelty_min_days: 9,
        ..TrendsConfig::default()
    }
    .validate()
    .is_ok());
}
