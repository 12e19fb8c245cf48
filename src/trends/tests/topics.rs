//! Topic signals: a topic's volume rise and negative sentiment shift, topics that do not yet
//! exist, co-trending topics of one event, and the topic and theme a signal names.

use super::*;

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
fn a_signal_names_the_topic_of_its_comments_and_that_topic_s_theme() {
    let mut owned = background(&Background::default());
    let mut planted = slow_burn(12, 3, 6.0, 100_000, 1);
    for comment in &mut planted {
        comment.topic = Some(4);
    }
    owned.extend(planted);
    let mut listed = topics();
    listed[4].theme = Some(9);
    let docs = to_docs(&owned);
    let output = detect(&docs, &listed, &TrendsConfig::default()).expect("detect runs");
    assert_eq!(output.signals.len(), 1, "{:#?}", output.signals);
    let signal = &output.signals[0];
    assert_eq!(signal.topic, Some(4), "{signal:#?}");
    assert_eq!(signal.theme, Some(9));
    assert_eq!(signal.evidence["topics"][0]["topic"], 4);
    // A phrase signal that names the topic of its comments. Without topics the same rise is a
    // phrase signal about no topic.
    assert_eq!(signal.kind, SignalKind::Phrase);
    let plain = run(&planted_stream(), &TrendsConfig::default());
    assert_eq!(plain.signals[0].topic, None);
    assert_eq!(plain.signals[0].theme, None);
}

#[test]
fn a_phrase_signal_spread_over_one_theme_s_topics_names_that_theme() {
    // The planted rise cut into three topics (facets, or languages, of one issue): none holds half
    // of its comments, their theme does.
    let stream = |themes: [TopicId; 3]| {
        let mut owned = background(&Background::default());
        let mut planted = slow_burn(12, 3, 6.0, 100_000, 1);
        for (index, comment) in planted.iter_mut().enumerate() {
            comment.topic = Some(3 + (index % 3) as TopicId);
        }
        owned.extend(planted);
        let mut listed = topics();
        for (offset, theme) in themes.into_iter().enumerate() {
            listed[3 + offset].theme = Some(theme);
        }
        let docs = to_docs(&owned);
        detect(&docs, &listed, &TrendsConfig::default()).expect("detect runs")
    };
    let phrase = |output: &TrendsOutput| {
        output
            .signals
            .iter()
            .find(|signal| signal.kind == SignalKind::Phrase)
            .cloned()
            .expect("a phrase signal")
    };
    let one_theme = phrase(&stream([9, 9, 9]));
    assert!(matches!(one_theme.topic, Some(3..=5)), "{one_theme:#?}");
    assert_eq!(one_theme.theme, Some(9));
    assert_eq!(one_theme.evidence["link"]["level"], "theme");
    // Three themes: the comments concentrate nowhere, and the signal names no topic.
    let apart = phrase(&stream([9, 10, 11]));
    assert_eq!(apart.topic, None, "{apart:#?}");
    assert_eq!(apart.theme, None);
}
