//! Scoring of flagged trends against a labelled stream, with the definitions of
//! `../shared/tools/trendbench/README.md` (its Python scorer is the referee; `xsignal backtest`
//! reports the same numbers).
//!
//! A signal's known ids K are its comment ids that occur in the stream (each once). It **matches
//! event E** when strictly more than half of K are E's comments, is a **noise flag** of injection N
//! when strictly more than half are N's, and is a **background false alarm** otherwise (background
//! majority, no strict majority, or K empty). An event is **detected** when a signal matches it and,
//! with a tolerance, its first match comes at most that many hours after the onset. Recall = detected
//! / events; precision = matching signals (late ones included) / signals; duplicate signals = Σ
//! (matches − 1) over matched events, their rate = duplicates / matching signals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The parts of `truth.json` the scorer reads.
#[derive(Clone, Debug, Deserialize)]
pub struct Truth {
    /// The planted events.
    pub events: Vec<TruthEvent>,
    /// The noise injections.
    pub noise: Vec<TruthNoise>,
}

/// A planted event.
#[derive(Clone, Debug, Deserialize)]
pub struct TruthEvent {
    /// Its name.
    pub name: String,
    /// When its intensity starts.
    pub onset: DateTime<Utc>,
    /// Its comments.
    pub ids: Vec<String>,
}

/// A noise injection.
#[derive(Clone, Debug, Deserialize)]
pub struct TruthNoise {
    /// Its name.
    pub name: String,
    /// spam, duplicate_flood, rare_blip or background_surge.
    pub kind: String,
    /// Its comments.
    pub ids: Vec<String>,
}

impl Truth {
    /// Reads a `truth.json`.
    pub fn load(path: &Path) -> Result<Truth> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::io(path, source))?;
        serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A flagged signal as the scorer sees it.
#[derive(Clone, Debug, Deserialize)]
pub struct ScoredSignal {
    /// When the detector first reported it.
    pub first_flagged: DateTime<Utc>,
    /// The comments supporting it.
    pub comment_ids: Vec<String>,
}

/// What one signal was classified as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "category", content = "label", rename_all = "snake_case")]
pub enum Category {
    /// It matches this event.
    Event(String),
    /// It flags this noise injection.
    Noise(String),
    /// A background false alarm.
    Background,
}

/// One event's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventOutcome {
    /// The event.
    pub name: String,
    /// Matching signals.
    pub matches: usize,
    /// Hours from onset to the first matching signal.
    pub latency_hours: Option<f64>,
    /// Counted for recall.
    pub detected: bool,
}

/// The scores of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrendScores {
    /// Signals scored.
    pub signals: usize,
    /// Planted events.
    pub events: usize,
    /// Events detected (within the tolerance).
    pub detected: usize,
    /// detected / events.
    pub recall: f64,
    /// matching signals / signals (`None` without signals).
    pub precision: Option<f64>,
    /// Harmonic mean of precision and recall.
    pub f1: Option<f64>,
    /// Σ (matches − 1) over matched events.
    pub duplicate_signals: usize,
    /// duplicate signals / matching signals.
    pub duplicate_rate: Option<f64>,
    /// Noise flags per kind (every kind of the truth listed, 0 included).
    pub noise_flags: BTreeMap<String, usize>,
    /// Background false alarms.
    pub false_alarms: usize,
    /// Signals none of whose ids occur in the stream.
    pub signals_without_known_ids: usize,
    /// Median latency over detected events, hours.
    pub median_latency_hours: Option<f64>,
    /// Mean latency over detected events, hours.
    pub mean_latency_hours: Option<f64>,
    /// Per event.
    pub per_event: Vec<EventOutcome>,
    /// Per signal, in input order.
    pub categories: Vec<Category>,
}

/// Scores `signals` against `truth`. `stream_ids`: the ids of the stream (ids outside it are
/// ignored); `None` counts every id outside the truth as background. `tolerance_hours`: the latest a
/// first match may come for the event to count as detected.
pub fn score(
    truth: &Truth,
    signals: &[ScoredSignal],
    stream_ids: Option<&HashSet<String>>,
    tolerance_hours: Option<f64>,
) -> TrendScores {
    // Label of each labelled id: Ok(event index) or Err(noise index).
    let mut label: HashMap<&str, std::result::Result<usize, usize>> = HashMap::new();
    for (index, event) in truth.events.iter().enumerate() {
        for id in &event.ids {
            label.insert(id, Ok(index));
        }
    }
    for (index, noise) in truth.noise.iter().enumerate() {
        for id in &noise.ids {
            label.insert(id, Err(index));
        }
    }
    let mut categories = Vec::with_capacity(signals.len());
    let mut first_match: Vec<Option<DateTime<Utc>>> = vec![None; truth.events.len()];
    let mut matches = vec![0usize; truth.events.len()];
    let mut noise_flags: BTreeMap<String, usize> = truth
        .noise
        .iter()
        .map(|noise| (noise.kind.clone(), 0))
        .collect();
    let (mut false_alarms, mut without_known) = (0, 0);
    for signal in signals {
        let known: HashSet<&str> = signal
            .comment_ids
            .iter()
            .map(String::as_str)
            .filter(|id| stream_ids.is_none_or(|stream| stream.contains(*id)))
            .collect();
        let mut counts: HashMap<Option<std::result::Result<usize, usize>>, usize> = HashMap::new();
        for id in &known {
            *counts.entry(label.get(id).copied()).or_default() += 1;
        }
        let majority = counts
            .iter()
            .find(|(_, &count)| count * 2 > known.len())
            .map(|(label, _)| *label);
        let category = match majority {
            Some(Some(Ok(event))) => {
                matches[event] += 1;
                let first = &mut first_match[event];
                if first.is_none_or(|at| signal.first_flagged < at) {
                    *first = Some(signal.first_flagged);
                }
                Category::Event(truth.events[event].name.clone())
            }
            Some(Some(Err(noise))) => {
                *noise_flags
                    .entry(truth.noise[noise].kind.clone())
                    .or_default() += 1;
                Category::Noise(truth.noise[noise].name.clone())
            }
            _ => {
                false_alarms += 1;
                if known.is_empty() {
                    without_known += 1;
                }
                Category::Background
            }
        };
        categories.push(category);
    }
    let per_event: Vec<EventOutcome> = truth
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let latency =
                first_match[index].map(|at| (at - event.onset).num_seconds() as f64 / 3600.0);
            EventOutcome {
                name: event.name.clone(),
                matches: matches[index],
                latency_hours: latency,
                detected: latency.is_some_and(|hours| tolerance_hours.is_none_or(|t| hours <= t)),
            }
        })
        .collect();
    let detected = per_event.iter().filter(|event| event.detected).count();
    let matching: usize = matches.iter().sum();
    let duplicate_signals: usize = matches.iter().map(|&m| m.saturating_sub(1)).sum();
    let recall = if truth.events.is_empty() {
        0.0
    } else {
        detected as f64 / truth.events.len() as f64
    };
    let precision = (!signals.is_empty()).then(|| matching as f64 / signals.len() as f64);
    let f1 = precision
        .filter(|p| p + recall > 0.0)
        .map(|p| 2.0 * p * recall / (p + recall));
    let mut latencies: Vec<f64> = per_event
        .iter()
        .filter(|event| event.detected)
        .filter_map(|event| event.latency_hours)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let median = match latencies.len() {
        0 => None,
        n if n % 2 == 1 => Some(latencies[n / 2]),
        n => Some((latencies[n / 2 - 1] + latencies[n / 2]) / 2.0),
    };
    let mean =
        (!latencies.is_empty()).then(|| latencies.iter().sum::<f64>() / latencies.len() as f64);
    TrendScores {
        signals: signals.len(),
        events: truth.events.len(),
        detected,
        recall,
        precision,
        f1,
        duplicate_signals,
        duplicate_rate: (matching > 0).then(|| duplicate_signals as f64 / matching as f64),
        noise_flags,
        false_alarms,
        signals_without_known_ids: without_known,
        median_latency_hours: median,
        mean_latency_hours: mean,
        per_event,
        categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::hours(hours)
    }

    fn ids(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    fn truth() -> Truth {
        Truth {
            events: vec![
                TruthEvent {
                    name: "quake".into(),
                    onset: at(10),
                    ids: ids("q", 10),
                },
                TruthEvent {
                    name: "flood".into(),
                    onset: at(20),
                    ids: ids("f", 10),
                },
            ],
            noise: vec![TruthNoise {
                name: "spam1".into(),
                kind: "spam".into(),
                ids: ids("s", 10),
            }],
        }
    }

    fn signal(hours: i64, ids: &[&str]) -> ScoredSignal {
        ScoredSignal {
            first_flagged: at(hours),
            comment_ids: ids.iter().map(|id| id.to_string()).collect(),
        }
    }

    #[test]
    fn signals_are_classified_by_strict_majority() {
        let signals = vec![
            signal(14, &["q0", "q1", "b1"]),        // quake, 4 h
            signal(12, &["q2", "q3", "q4", "b2"]),  // quake again, earlier: 2 h
            signal(30, &["s1", "s2", "s3"]),        // spam
            signal(31, &["f1", "b3"]),              // tie: false alarm
            signal(32, &["zz"]),                    // unknown to the stream: false alarm
            signal(100, &["f2", "f3", "f1", "f1"]), // flood, 80 h: late with a 48 h tolerance
        ];
        let stream: HashSet<String> = ["q0", "q1", "q2", "q3", "q4", "b1", "b2", "b3"]
            .iter()
            .map(|s| s.to_string())
            .chain(ids("s", 10))
            .chain(ids("f", 10))
            .collect();
        let scores = score(&truth(), &signals, Some(&stream), Some(48.0));
        assert_eq!(scores.detected, 1);
        assert_eq!(scores.recall, 0.5);
        assert_eq!(scores.precision, Some(3.0 / 6.0));
        assert_eq!(scores.duplicate_signals, 1);
        assert_eq!(scores.duplicate_rate, Some(1.0 / 3.0));
        assert_eq!(scores.noise_flags["spam"], 1);
        assert_eq!(scores.false_alarms, 2);
        assert_eq!(scores.signals_without_known_ids, 1);
        assert_eq!(scores.per_event[0].latency_hours, Some(2.0));
        assert_eq!(scores.per_event[1].latency_hours, Some(80.0));
        assert!(!scores.per_event[1].detected);
        assert_eq!(scores.median_latency_hours, Some(2.0));
        // Without a tolerance the late match counts.
        let loose = score(&truth(), &signals, Some(&stream), None);
        assert_eq!(loose.recall, 1.0);
        assert_eq!(loose.median_latency_hours, Some(41.0));
    }
}
