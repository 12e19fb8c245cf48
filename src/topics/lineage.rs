//! Topic lineage: what happened to each topic between two runs, as events for `topic_events.jsonl`.
//!
//! In: the topic state before and after a run, the merges the run made, and each comment's topic
//! before (from the previous `comments.jsonl`) and now. Out: [`TopicEvent`]s in a fixed order
//! (born and split_from, grew, merged_into, died; then by topic id), numbered on from the last
//! sequence number of the file. The file is append-only: a consumer reads the lines after the last
//! sequence number it has seen.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TopicState;
use crate::types::TopicId;

/// Version of the `topic_events.jsonl` line format.
pub const EVENT_SCHEMA: u32 = 2;

/// What happened to a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicEventKind {
    /// A new topic (new id).
    Born,
    /// A new topic most of whose members, already in the workspace, belonged to `other` before.
    SplitFrom,
    /// An existing topic gained members.
    Grew,
    /// The topic's centroid came so close to `other`'s that the two became one; its members are
    /// `other`'s now and its id is retired.
    MergedInto,
    /// An existing topic was left without members; its id is retired.
    Died,
}

/// One line of `topic_events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicEvent {
    /// Line format version ([`EVENT_SCHEMA`]).
    pub schema: u32,
    /// Gapless sequence number over the file, from 1.
    pub seq: u64,
    /// The `analyze` run (1 for the first) that produced the event.
    pub run: u64,
    /// Start of the data-time epoch whose comments produced the event (absent when the run clustered
    /// without epochs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<DateTime<Utc>>,
    /// What happened.
    pub event: TopicEventKind,
    /// The topic it happened to.
    pub topic: TopicId,
    /// The other topic: the parent of `split_from`, the survivor of `merged_into`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<TopicId>,
    /// Members before this run (0 for a new topic).
    pub previous_size: u64,
    /// Members after this run.
    pub size: u64,
}

/// The events of one run. `previous_topic` maps the ids of comments that were in the workspace before
/// to their topic then; `current_topic` maps every comment id to its topic now. `merges` lists
/// `(retired, survivor)` pairs. `last_seq` is the last sequence number already in the file.
#[allow(clippy::too_many_arguments)]
pub fn events(
    previous: Option<&TopicState>,
    current: &TopicState,
    merges: &[(TopicId, TopicId)],
    previous_topic: &HashMap<String, TopicId>,
    current_topic: &[(&str, Option<TopicId>)],
    run: u64,
    epoch: Option<DateTime<Utc>>,
    last_seq: u64,
) -> Vec<TopicEvent> {
    let before: BTreeMap<TopicId, u64> = previous
        .map(|state| {
            state
                .topics
                .iter()
                .map(|topic| (topic.id, topic.size))
                .collect()
        })
        .unwrap_or_default();
    let merged: BTreeMap<TopicId, TopicId> = merges.iter().copied().collect();
    // For each new topic, where its members that were already here came from.
    let mut origins: BTreeMap<TopicId, BTreeMap<TopicId, u64>> = BTreeMap::new();
    let mut members_now: BTreeMap<TopicId, u64> = BTreeMap::new();
    for (id, topic) in current_topic {
        let Some(topic) = topic else { continue };
        if before.contains_key(topic) {
            continue;
        }
        *members_now.entry(*topic).or_default() += 1;
        if let Some(&old) = previous_topic.get(*id) {
            *origins.entry(*topic).or_default().entry(old).or_default() += 1;
        }
    }

    let mut out: Vec<(TopicEventKind, TopicId, Option<TopicId>, u64, u64)> = Vec::new();
    for topic in &current.topics {
        let previous_size = before.get(&topic.id).copied();
        match previous_size {
            None if topic.size > 0 => {
                out.push((TopicEventKind::Born, topic.id, None, 0, topic.size));
                let total = members_now.get(&topic.id).copied().unwrap_or(0);
                let parent = origins.get(&topic.id).and_then(|counts| {
                    // The largest origin, smallest id on ties.
                    counts
                        .iter()
                        .max_by_key(|(id, count)| (**count, std::cmp::Reverse(**id)))
                        .map(|(id, count)| (*id, *count))
                });
                if let Some((parent, count)) = parent {
                    if total > 0 && count * 2 > total {
                        out.push((
                            TopicEventKind::SplitFrom,
                            topic.id,
                            Some(parent),
                            0,
                            topic.size,
                        ));
                    }
                }
            }
            None => {}
            Some(old) if old > 0 => {
                if let Some(&survivor) = merged.get(&topic.id) {
                    out.push((TopicEventKind::MergedInto, topic.id, Some(survivor), old, 0));
                } else if topic.size == 0 {
                    out.push((TopicEventKind::Died, topic.id, None, old, 0));
                } else if topic.size > old {
                    out.push((TopicEventKind::Grew, topic.id, None, old, topic.size));
                }
            }
            Some(_) => {}
        }
    }
    out.sort_by_key(|(kind, topic, ..)| (*kind, *topic));
    out.into_iter()
        .enumerate()
        .map(
            |(index, (event, topic, other, previous_size, size))| TopicEvent {
                schema: EVENT_SCHEMA,
                seq: last_seq + 1 + index as u64,
                run,
                epoch,
                event,
                topic,
                other,
                previous_size,
                size,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::TopicCentroid;

    fn state(sizes: &[(TopicId, u64)]) -> TopicState {
        TopicState {
            next_id: sizes.iter().map(|(id, _)| id + 1).max().unwrap_or(0),
            topics: sizes
                .iter()
                .map(|&(id, size)| TopicCentroid {
                    id,
                    centroid: vec![1.0],
                    size,
                    known_from: None,
                })
                .collect(),
            run: 1,
            through: None,
            comments: 0,
            encoder: None,
            offset: None,
        }
    }

    #[test]
    fn each_change_gets_its_event_in_order_with_gapless_numbers() {
        let before = state(&[(0, 10), (1, 5), (2, 4), (3, 3)]);
        // 0 grew, 1 unchanged, 2 merged into 0, 3 died, 4 is new: three of its four members were
        // in topic 1 before (a split), 5 is new from new comments only.
        let after = state(&[(0, 16), (1, 5), (2, 0), (3, 0), (4, 4), (5, 6)]);
        let previous: HashMap<String, TopicId> = [("a", 1), ("b", 1), ("c", 1), ("d", 0)]
            .into_iter()
            .map(|(id, topic)| (id.to_string(), topic))
            .collect();
        let mut current: Vec<(&str, Option<TopicId>)> = vec![
            ("a", Some(4)),
            ("b", Some(4)),
            ("c", Some(4)),
            ("d", Some(4)),
        ];
        current.extend(std::iter::repeat_n(("new", Some(5)), 6));
        let events = events(
            Some(&before),
            &after,
            &[(2, 0)],
            &previous,
            &current,
            2,
            None,
            7,
        );
        let got: Vec<(TopicEventKind, TopicId, Option<TopicId>)> = events
            .iter()
            .map(|event| (event.event, event.topic, event.other))
            .collect();
        use TopicEventKind::*;
        assert_eq!(
            got,
            vec![
                (Born, 4, None),
                (Born, 5, None),
                (SplitFrom, 4, Some(1)),
                (Grew, 0, None),
                (MergedInto, 2, Some(0)),
                (Died, 3, None),
            ]
        );
        let seqs: Vec<u64> = events.iter().map(|event| event.seq).collect();
        assert_eq!(seqs, (8..14).collect::<Vec<_>>());
        assert!(events.iter().all(|event| event.run == 2));
    }

    #[test]
    fn a_first_run_makes_every_topic_born() {
        let after = state(&[(0, 3), (1, 2)]);
        let current = vec![("a", Some(0))];
        let events = events(None, &after, &[], &HashMap::new(), &current, 1, None, 0);
        assert_eq!(events.len(), 2);
        assert!(events
            .iter()
            .all(|event| event.event == TopicEventKind::Born && event.previous_size == 0));
        assert_eq!(events[0].seq, 1);
    }
}
