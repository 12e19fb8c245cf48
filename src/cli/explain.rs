//! `xsignal trends --explain ID` as text: what a signal observed against its baseline and the
//! gates' thresholds, when it was first flagged, its topic and theme, its evidence, and a sparkline
//! of its comments per bucket.
//!
//! The evidence object is read by key and printed whatever keys it holds, so a gate or a field
//! added to the trends stage shows up here without a change.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use xsignal::types::{EnrichedComment, Signal, SignalKind};

use super::output::{printable, sparkline};

/// Most columns of a sparkline; longer series merge neighbouring buckets.
const SPARKLINE_COLUMNS: usize = 72;
/// Example comment ids shown.
const EXAMPLE_IDS: usize = 5;

/// Labels of the signal's topic and theme, when it names them.
pub struct About {
    /// `topic N "label"`.
    pub topic: Option<String>,
    /// `theme N "label"`.
    pub theme: Option<String>,
}

/// The text explanation of `signal`, number `row` in the `trends` list; `comments` are the
/// workspace's enriched comments (for the timestamps of the signal's comments and its topic).
pub fn explain(signal: &Signal, row: usize, about: &About, comments: &[EnrichedComment]) -> String {
    let mut out = String::new();
    let evidence = &signal.evidence;
    let _ = writeln!(
        out,
        "#{row}  {}  \"{}\"\nid  {}",
        kind_name(signal.kind),
        printable(&signal.label),
        printable(&signal.id)
    );
    let _ = writeln!(
        out,
        "first flagged  {}",
        signal.first_flagged.format("%Y-%m-%d %H:%M UTC")
    );
    let buckets = evidence.get("window_buckets").and_then(Value::as_u64);
    let bucket = bucket_length(signal, buckets);
    let _ = writeln!(
        out,
        "window         {} to {}{}",
        signal.window.start.format("%Y-%m-%d %H:%M"),
        signal.window.end.format("%Y-%m-%d %H:%M"),
        buckets.map_or_else(String::new, |count| format!(
            " ({count} buckets of {})",
            describe_duration(bucket)
        ))
    );
    let (quantity, precision) = match signal.kind {
        SignalKind::SentimentShift => ("negative share of the topic's comments", 2),
        _ => ("distinct texts", 0),
    };
    let _ = writeln!(
        out,
        "observed       {:.precision$} {quantity} in the window",
        signal.observed
    );
    let _ = writeln!(
        out,
        "baseline       {:.2} ± {:.2} (mean ± std before the window)",
        signal.baseline_mean, signal.baseline_std
    );
    if let Some(z) = evidence.pointer("/gates/z") {
        let _ = writeln!(
            out,
            "score          z {:.2}, threshold {}",
            signal.score,
            number(z.get("threshold"))
        );
    } else {
        let _ = writeln!(out, "score          {:.2}", signal.score);
    }
    if let Some(topic) = &about.topic {
        let _ = writeln!(out, "topic          {topic}");
    }
    if let Some(theme) = &about.theme {
        let _ = writeln!(out, "theme          {theme}");
    }
    let _ = writeln!(
        out,
        "comments       {} listed, {} distinct authors, {} copies ignored",
        signal.comment_ids.len(),
        signal.distinct_authors,
        signal.duplicates_ignored
    );
    if let Some(Value::Object(gates)) = evidence.get("gates") {
        out.push_str("gates          value      threshold  passed\n");
        for (name, gate) in gates {
            let passed = match gate.get("passed").and_then(Value::as_bool) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            let _ = writeln!(
                out,
                "  {:<18} {:<10} {:<10} {passed}",
                printable(name),
                number(gate.get("value")),
                number(gate.get("threshold"))
            );
        }
    }
    for (key, title) in [
        ("sentiment_now", "sentiment now"),
        ("sentiment_baseline", "sentiment before"),
    ] {
        if let Some(counts) = evidence.get(key) {
            let _ = writeln!(
                out,
                "{title:<14} negative {}  neutral {}  positive {}",
                number(counts.get("negative")),
                number(counts.get("neutral")),
                number(counts.get("positive"))
            );
        }
    }
    if let Some(Value::Array(phrases)) = evidence.get("top_phrases") {
        let listed: Vec<String> = phrases
            .iter()
            .filter_map(|phrase| {
                let word = phrase.get("word").and_then(Value::as_str)?;
                Some(format!(
                    "{} ({})",
                    printable(word),
                    number(phrase.get("comments"))
                ))
            })
            .collect();
        if !listed.is_empty() {
            let _ = writeln!(out, "top phrases    {}", listed.join(", "));
        }
    }
    if let Some(Value::Array(merged)) = evidence.get("merged") {
        if !merged.is_empty() {
            let items: Vec<String> = merged.iter().map(compact).collect();
            let _ = writeln!(out, "merged         {}", printable(&items.join(", ")));
        }
    }
    // Whatever else the evidence holds, one line per key.
    const SHOWN: &[&str] = &[
        "gates",
        "sentiment_now",
        "sentiment_baseline",
        "top_phrases",
        "merged",
        "window_buckets",
    ];
    if let Value::Object(fields) = evidence {
        for (key, value) in fields
            .iter()
            .filter(|(key, _)| !SHOWN.contains(&key.as_str()))
        {
            let _ = writeln!(out, "{:<14} {}", printable(key), printable(&compact(value)));
        }
    }
    out.push_str(&sparklines(signal, bucket, comments));
    let examples: Vec<&str> = signal
        .comment_ids
        .iter()
        .take(EXAMPLE_IDS)
        .map(String::as_str)
        .collect();
    if !examples.is_empty() {
        let _ = writeln!(
            out,
            "examples       {} (xsignal export --signal {row} shows them with their text)",
            printable(&examples.join(" "))
        );
    }
    out
}

/// The sparklines: the signal's comments per bucket from the window's start to its last comment,
/// and for a signal about a topic, the topic's comments per bucket over the same span and as long
/// again before it (its baseline).
fn sparklines(signal: &Signal, bucket: Duration, comments: &[EnrichedComment]) -> String {
    let by_id: BTreeMap<&str, &EnrichedComment> = comments
        .iter()
        .map(|comment| (comment.id.as_str(), comment))
        .collect();
    let signal_times: Vec<DateTime<Utc>> = signal
        .comment_ids
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).and_then(|comment| comment.timestamp))
        .collect();
    let Some(&last) = signal_times.iter().max() else {
        return String::new();
    };
    let start = signal.window.start;
    let seconds = bucket.num_seconds().max(1);
    let last_bucket = (last - start).num_seconds().max(0) / seconds;
    let window_buckets = ((signal.window.end - start).num_seconds() + seconds - 1) / seconds;
    let buckets = (last_bucket + 1).max(window_buckets).max(1) as usize;
    let mut out = String::new();
    out.push_str(&sparkline_line(
        "its comments",
        &signal_times,
        start,
        buckets,
        bucket,
    ));
    if let Some(topic) = signal.topic {
        let topic_times: Vec<DateTime<Utc>> = comments
            .iter()
            .filter(|comment| comment.topic == Some(topic))
            .filter_map(|comment| comment.timestamp)
            .collect();
        let before = start - bucket * buckets as i32;
        out.push_str(&sparkline_line(
            "its topic",
            &topic_times,
            before,
            2 * buckets,
            bucket,
        ));
    }
    out
}

/// One sparkline of `times` over `buckets` buckets of `bucket` from `start` (neighbours merged to
/// fit [`SPARKLINE_COLUMNS`]), with its span, what one mark covers and the largest count.
fn sparkline_line(
    title: &str,
    times: &[DateTime<Utc>],
    start: DateTime<Utc>,
    buckets: usize,
    bucket: Duration,
) -> String {
    let per_column = buckets.div_ceil(SPARKLINE_COLUMNS);
    let counts = column_counts(times, start, buckets, per_column, bucket);
    let end = start + bucket * (counts.len() * per_column) as i32;
    format!(
        "{title:<14} {}  ({} to {}, {} per mark, max {})\n",
        sparkline(&counts),
        start.format("%Y-%m-%d %H:%M"),
        end.format("%Y-%m-%d %H:%M"),
        describe_duration(bucket * per_column as i32),
        counts.iter().max().copied().unwrap_or(0)
    )
}

/// Counts of the times in `buckets` buckets of `bucket` from `start`, `per_column` buckets to a
/// column.
fn column_counts(
    times: &[DateTime<Utc>],
    start: DateTime<Utc>,
    buckets: usize,
    per_column: usize,
    bucket: Duration,
) -> Vec<u64> {
    let seconds = bucket.num_seconds().max(1);
    let per_column = per_column.max(1);
    let mut counts = vec![0u64; buckets.div_ceil(per_column)];
    for &time in times.iter().filter(|time| **time >= start) {
        let index = ((time - start).num_seconds() / seconds) as usize / per_column;
        if let Some(count) = counts.get_mut(index) {
            *count += 1;
        }
    }
    counts
}

/// The bucket length: the window's length over its bucket count (one hour when unknown).
fn bucket_length(signal: &Signal, buckets: Option<u64>) -> Duration {
    let window = signal.window.end - signal.window.start;
    match buckets {
        Some(count) if count > 0 && window > Duration::zero() => {
            Duration::seconds((window.num_seconds() / count as i64).max(60))
        }
        _ => Duration::hours(1),
    }
}

fn describe_duration(duration: Duration) -> String {
    let minutes = duration.num_minutes();
    if minutes % (24 * 60) == 0 {
        format!("{}d", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

fn kind_name(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::Topic => "topic",
        SignalKind::Phrase => "phrase",
        SignalKind::SentimentShift => "sentiment shift",
    }
}

/// A number from the evidence: integers as integers, others with two decimals.
fn number(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(number)) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => integer.to_string(),
            (None, Some(float)) if float.fract() == 0.0 && float.abs() < 1e15 => {
                format!("{float:.0}")
            }
            (None, Some(float)) => format!("{float:.2}"),
            _ => number.to_string(),
        },
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(Value::String(text)) => printable(text).into_owned(),
        Some(other) => compact(other),
        None => "-".to_string(),
    }
}

/// A JSON value on one line (strings without quotes).
fn compact(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(_) => number(Some(value)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xsignal::types::{Lang, Sentiment, SentimentLabel, Window};

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_771_632_000, 0).unwrap() + Duration::hours(hours)
    }

    fn comment(id: &str, hours: i64, topic: Option<u32>) -> EnrichedComment {
        EnrichedComment {
            id: id.to_string(),
            lang: Lang::En,
            timestamp: Some(at(hours)),
            source: None,
            sentiment: Sentiment {
                label: SentimentLabel::Negative,
                score: -0.5,
                confidence: 0.8,
            },
            sentences: Vec::new(),
            topic,
            topic_confidence: None,
            duplicate_of: None,
        }
    }

    fn signal() -> Signal {
        Signal {
            id: "topic:7@20260221T00".to_string(),
            kind: SignalKind::Topic,
            label: "firmware reboot".to_string(),
            first_flagged: at(6),
            window: Window {
                start: at(0),
                end: at(6),
            },
            observed: 12.0,
            baseline_mean: 1.5,
            baseline_std: 0.75,
            score: 5.25,
            distinct_authors: 11,
            duplicates_ignored: 1,
            topic: Some(7),
            theme: None,
            comment_ids: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            evidence: serde_json::json!({
                "window_buckets": 6,
                "gates": {
                    "z": {"value": 5.25, "threshold": 4.0, "passed": true},
                    "distinct_authors": {"value": 11.0, "threshold": 8.0, "passed": true}
                },
                "sentiment_now": {"negative": 9, "neutral": 2, "positive": 1},
                "top_phrases": [{"word": "firmware", "stem": "firmwar", "comments": 10}],
                "topic_known_from": "2026-02-20T00:00:00Z"
            }),
        }
    }

    #[test]
    fn explains_observed_baseline_gates_and_evidence_in_text() {
        let comments = vec![
            comment("a", 0, Some(7)),
            comment("b", 1, Some(7)),
            comment("c", 1, Some(7)),
            comment("d", 5, Some(7)),
            comment("old", -3, Some(7)),
            comment("other", 1, Some(8)),
        ];
        let about = About {
            topic: Some("7 \"firmware reboot\"".into()),
            theme: None,
        };
        let text = explain(&signal(), 2, &about, &comments);
        for expected in [
            "#2  topic  \"firmware reboot\"",
            "id  topic:7@20260221T00",
            "first flagged  2026-02-21 06:00 UTC",
            "(6 buckets of 1h)",
            "observed       12 distinct texts in the window",
            "baseline       1.50 ± 0.75",
            "score          z 5.25, threshold 4",
            "topic          7 \"firmware reboot\"",
            "4 listed, 11 distinct authors, 1 copies ignored",
            "  z                  5.25       4          yes",
            "sentiment now  negative 9  neutral 2  positive 1",
            "top phrases    firmware (10)",
            "topic_known_from 2026-02-20T00:00:00Z",
            // Hours 0..5: 1, 2, 0, 0, 0, 1.
            "its comments   ▅█▁▁▁▅  (2026-02-21 00:00 to 2026-02-21 06:00, 1h per mark, max 2)",
            // Hours -5..5: the old comment at -3, then the window.
            "its topic      ▁▁▁▅▁▁▅█▁▁▁▅  (2026-02-20 18:00 to 2026-02-21 06:00, 1h per mark, max 2)",
            "examples       a b c d",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn long_series_merge_buckets_to_fit_the_line() {
        let times: Vec<DateTime<Utc>> = (0..500).map(at).collect();
        let counts = column_counts(
            &times,
            at(0),
            500,
            500usize.div_ceil(72),
            Duration::hours(1),
        );
        assert_eq!(counts.len(), 72);
        assert_eq!(counts.iter().sum::<u64>(), 500);
        assert_eq!(counts[0], 7);
    }
}
