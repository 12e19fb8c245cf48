//! Phrase signals, and the gates that keep a rise from few authors, duplicate floods, one-bucket
//! blips and the traffic's daily and weekly cycles from flagging.

use super::*;

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
    // baselines (half-life 72 buckets) rise with it. (The novelty path, off here, flags it earlier:
    // `novelty_tests.rs`.)
    let mut owned = background(&Background::default());
    owned.extend(slow_burn(6, 12, 0.8, 100_000, 3));
    let rate_scales = TrendsConfig {
        novelty_window_hours: 0.0,
        ..TrendsConfig::default()
    };
    let output = run(&owned, &rate_scales);
    assert!(output.signals.is_empty(), "{:#?}", output.signals);
    let slow = TrendsConfig {
        slow_window_buckets: 72,
        ..rate_scales
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
