//! The signal lifecycle feed `feed.jsonl`: an append-only, versioned stream of `opened`, `updated`
//! and `closed` events per signal, so another system can follow changes incrementally (read the
//! lines after the last `seq` it has seen).
//!
//! After each `analyze`, the current signals are compared with the last state of each signal id in
//! the feed:
//! - an id the feed has not seen is `opened` (with the whole signal);
//! - an open signal whose content changed (more supporting comments, a merged item, new evidence)
//!   is `updated` (with the whole signal);
//! - a signal is `closed` when its trend has fallen back (its `open_until` lies before the end of the
//!   data), or when it is no longer flagged at all (`reason: "withdrawn"`). A new signal that is
//!   already over is `opened` and `closed` in the same run;
//! - a closed signal that is flagged again and not over is `opened` again under its id (later data
//!   can move past comments between topics, so a withdrawn signal may come back). This keeps a
//!   replay of daily files ending in the same state as one run.
//!
//! Event times are data times (the data's latest timestamp), never wall-clock times, so the same
//! input gives the same feed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::types::Signal;

/// Version of the `feed.jsonl` line format.
pub const FEED_SCHEMA: u32 = 1;

/// What happened to a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedEventKind {
    /// First flagged.
    Opened,
    /// Its content changed while open.
    Updated,
    /// Over: fallen back, or no longer flagged.
    Closed,
}

/// One line of `feed.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Line format version ([`FEED_SCHEMA`]).
    pub schema: u32,
    /// Gapless sequence number over the file, from 1.
    pub seq: u64,
    /// The `analyze` run that produced the event.
    pub run: u64,
    /// What happened.
    pub event: FeedEventKind,
    /// The signal's stable id.
    pub signal_id: String,
    /// Data time of the event: the latest comment timestamp of the run.
    pub as_of: DateTime<Utc>,
    /// sha256 of the signal's JSON (empty for a withdrawn signal).
    pub digest: String,
    /// Why it closed: `fell_back` or `withdrawn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The signal (opened and updated events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
}

fn digest(signal: &Signal) -> String {
    let json = serde_json::to_vec(signal).expect("signal serialises");
    crate::hex::encode(&Sha256::digest(&json))
}

/// Whether `signal`'s trend had fallen back before `data_end`.
fn is_over(signal: &Signal, data_end: DateTime<Utc>) -> bool {
    signal
        .evidence
        .get("open_until")
        .and_then(|value| value.as_str())
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .is_some_and(|open_until| open_until.with_timezone(&Utc) <= data_end)
}

/// The events of one run, given the feed so far (`previous`), the run's signals, the latest
/// timestamp of the data and the run number.
pub fn events(
    previous: &[FeedEvent],
    signals: &[Signal],
    data_end: DateTime<Utc>,
    run: u64,
) -> Vec<FeedEvent> {
    // Last state per signal id: (open?, digest).
    let mut state: BTreeMap<&str, (bool, &str)> = BTreeMap::new();
    for event in previous {
        state.insert(
            &event.signal_id,
            (event.event != FeedEventKind::Closed, &event.digest),
        );
    }
    let mut seq = previous.last().map_or(0, |event| event.seq);
    let mut out = Vec::new();
    let mut push = |event: FeedEventKind,
                    signal_id: &str,
                    digest: String,
                    reason: Option<&str>,
                    signal: Option<&Signal>| {
        seq += 1;
        out.push(FeedEvent {
            schema: FEED_SCHEMA,
            seq,
            run,
            event,
            signal_id: signal_id.to_string(),
            as_of: data_end,
            digest,
            reason: reason.map(str::to_string),
            signal: signal.cloned(),
        });
    };
    let mut sorted: Vec<&Signal> = signals.iter().collect();
    sorted.sort_by(|a, b| (a.first_flagged, &a.id).cmp(&(b.first_flagged, &b.id)));
    for signal in &sorted {
        let now = digest(signal);
        let over = is_over(signal, data_end);
        // A new signal opens; an open one whose content changed is updated. A closed one stays
        // closed while it is over (a new episode gets a new id), and opens again when it is
        // flagged and not over: later data can change which comments an item had in the past
        // (topics refitted), so a withdrawn signal may come back.
        let change = match state.get(signal.id.as_str()) {
            None => Some(FeedEventKind::Opened),
            Some((true, before)) if *before != now => Some(FeedEventKind::Updated),
            Some((true, _)) => None,
            Some((false, _)) if over => continue,
            Some((false, _)) => Some(FeedEventKind::Opened),
        };
        if let Some(kind) = change {
            push(kind, &signal.id, now.clone(), None, Some(signal));
        }
        if over {
            push(
                FeedEventKind::Closed,
                &signal.id,
                now,
                Some("fell_back"),
                None,
            );
        }
    }
    let current: std::collections::HashSet<&str> =
        signals.iter().map(|signal| signal.id.as_str()).collect();
    for (id, (open, _)) in &state {
        if *open && !current.contains(id) {
            push(
                FeedEventKind::Closed,
                id,
                String::new(),
                Some("withdrawn"),
                None,
            );
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{SignalKind, Window};

    /// `hours` after 2026-03-01T00:00:00Z.
    pub(crate) fn at(hours: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::hours(hours)
    }

    /// A phrase signal flagged at `flagged`, open until `open_until` (hours after [`at`]'s origin).
    pub(crate) fn signal(id: &str, flagged: i64, open_until: i64, observed: f64) -> Signal {
        Signal {
            id: id.into(),
            kind: SignalKind::Phrase,
            label: "late delivery".into(),
            first_flagged: at(flagged),
            window: Window {
                start: at(flagged - 24),
                end: at(flagged),
            },
            observed,
            baseline_mean: 1.0,
            baseline_std: 1.0,
            score: 5.0,
            distinct_authors: 10,
            duplicates_ignored: 0,
            topic: None,
            theme: None,
            comment_ids: vec!["c1".into()],
            evidence: serde_json::json!({"open_until": at(open_until).to_rfc3339()}),
        }
    }

    #[test]
    fn signals_open_update_and_close_with_gapless_numbers() {
        let kinds = |events: &[FeedEvent]| -> Vec<(FeedEventKind, String)> {
            events
                .iter()
                .map(|e| (e.event, e.signal_id.clone()))
                .collect()
        };
        use FeedEventKind::*;
        // Run 1: a is open (open until after the data's end), b is already over.
        let run1 = events(
            &[],
            &[signal("a", 10, 100, 5.0), signal("b", 5, 20, 3.0)],
            at(50),
            1,
        );
        assert_eq!(
            kinds(&run1),
            vec![
                (Opened, "b".to_string()),
                (Closed, "b".to_string()),
                (Opened, "a".to_string())
            ]
        );
        assert_eq!(run1[1].reason.as_deref(), Some("fell_back"));
        // Run 2: a grew, c is new; the same signals again change nothing.
        let mut feed = run1.clone();
        let three = [
            signal("a", 10, 100, 9.0),
            signal("b", 5, 20, 3.0),
            signal("c", 60, 200, 4.0),
        ];
        let run2 = events(&feed, &three, at(70), 2);
        assert_eq!(
            kinds(&run2),
            vec![(Updated, "a".to_string()), (Opened, "c".to_string())]
        );
        feed.extend(run2);
        let same = events(&feed, &three, at(70), 3);
        assert!(same.is_empty());
        // Run 3: a fell back, c is no longer flagged.
        let run3 = events(&feed, &[signal("a", 10, 100, 9.0)], at(120), 3);
        assert_eq!(
            kinds(&run3),
            vec![(Closed, "a".to_string()), (Closed, "c".to_string())]
        );
        assert_eq!(run3[1].reason.as_deref(), Some("withdrawn"));
        feed.extend(run3);
        // Run 4: c is flagged again and not over: it opens again; a, still over, stays closed.
        let run4 = events(
            &feed,
            &[signal("a", 10, 100, 9.0), signal("c", 60, 200, 4.0)],
            at(130),
            4,
        );
        assert_eq!(kinds(&run4), vec![(Opened, "c".to_string())]);
        feed.extend(run4);
        let seqs: Vec<u64> = feed.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=feed.len() as u64).collect::<Vec<_>>());
    }
}
