//! Data-time epochs: `analyze` clusters new comments one epoch at a time.
//!
//! Topics are fitted incrementally: each step assigns every comment seen so far to the topics the
//! previous step left, clusters what fits none and merges topics that converged (`fit` in
//! `fit.rs`). If a run fitted all of its new comments in one step, the topics would depend on how
//! the data were cut into runs: a stream analysed in one go would get other topics (and so other
//! topic trends) than the same stream analysed as daily files. So steps follow data time: each new
//! comment belongs to the epoch of its timestamp (UTC days by default), and a run takes the epochs of
//! its new comments in order, each step seeing every comment of that epoch or earlier. One run over
//! days 1-3 makes the same three steps as three runs over one day each, hence the same topics,
//! assignments and trends.
//!
//! A comment whose epoch was clustered by an earlier run (a late row, or a file cut in the middle of
//! a day) joins the run's first open epoch; a comment without a timestamp joins the run's last.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::lineage::{self, TopicEvent};
use super::{finish, fit, TopicCentroid, TopicInput, TopicState, TopicsConfig, TopicsResult};
use crate::types::TopicId;

/// The step of comments that an earlier run has clustered, and of a run without epochs.
const SEEN: i64 = i64::MIN;

/// Which comments each clustering step of a run sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochPlan {
    /// Per comment, the step in which it joins (the start of its epoch, Unix seconds); `i64::MIN`
    /// for comments the previous state has already seen.
    pub joins: Vec<i64>,
    /// The steps in order. `[i64::MIN]` for a run that re-fits without epochs (no new comments, or
    /// `epoch_hours` 0).
    pub steps: Vec<i64>,
}

/// Plans the steps of a run. `timestamps` has one entry per workspace comment in store order; the
/// first `previous.comments` of them were seen by the previous run.
pub fn plan_epochs(
    timestamps: &[Option<DateTime<Utc>>],
    previous: Option<&TopicState>,
    config: &TopicsConfig,
) -> EpochPlan {
    let seen = previous.map_or(0, |state| {
        usize::try_from(state.comments)
            .unwrap_or(usize::MAX)
            .min(timestamps.len())
    });
    let mut joins = vec![SEEN; timestamps.len()];
    let seconds = epoch_seconds(config);
    if seconds <= 0 || seen == timestamps.len() {
        return EpochPlan {
            joins,
            steps: vec![SEEN],
        };
    }
    let first_open = previous
        .and_then(|state| state.through)
        .map(|through| through.div_euclid(seconds) + 1);
    let epoch_of = |timestamp: &DateTime<Utc>| {
        let epoch = timestamp.timestamp().div_euclid(seconds);
        first_open.map_or(epoch, |open| epoch.max(open))
    };
    let last = timestamps[seen..]
        .iter()
        .flatten()
        .map(epoch_of)
        .max()
        .or(first_open)
        .unwrap_or(0);
    for (join, timestamp) in joins[seen..].iter_mut().zip(&timestamps[seen..]) {
        *join = timestamp
            .as_ref()
            .map_or(last, epoch_of)
            .saturating_mul(seconds);
    }
    let epochs: Vec<i64> = joins[seen..]
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let most = config.max_epoch_steps.max(1);
    if epochs.len() <= most {
        return EpochPlan {
            joins,
            steps: epochs,
        };
    }
    // Too many epochs: consecutive ones are grouped into `most` steps, each named by its last epoch.
    let count = epochs.len();
    let mut last_of_group = vec![SEEN; most];
    for (index, &epoch) in epochs.iter().enumerate() {
        last_of_group[index * most / count] = epoch;
    }
    let step_of: HashMap<i64, i64> = epochs
        .iter()
        .enumerate()
        .map(|(index, &epoch)| (epoch, last_of_group[index * most / count]))
        .collect();
    for join in &mut joins[seen..] {
        *join = step_of[join];
    }
    EpochPlan {
        joins,
        steps: last_of_group,
    }
}

/// Length of one epoch in seconds (0 or less: no epochs).
fn epoch_seconds(config: &TopicsConfig) -> i64 {
    let hours = if config.epoch_hours.is_finite() {
        config.epoch_hours.max(0.0)
    } else {
        0.0
    };
    (hours * 3600.0).round() as i64
}

/// Marks the topics created by a step (ids from `first_new` on) as known from the step's end: the
/// data time by which the step's comments, which created them, have all been written.
fn mark_known(topics: &mut [TopicCentroid], first_new: TopicId, known_from: Option<DateTime<Utc>>) {
    for topic in topics.iter_mut().filter(|topic| topic.id >= first_new) {
        topic.known_from = known_from;
    }
}

/// Runs the steps of `plan` from `previous` and returns the last step's result (every comment) and
/// the lineage events of all steps, numbered on from `last_seq`. `previous_topic` maps the ids of
/// the comments the previous run saw to their topic then.
/// Topics created by a step are known from the step's end (`TopicCentroid::known_from`).
pub fn cluster_epochs(
    inputs: &[TopicInput],
    plan: &EpochPlan,
    previous: Option<&TopicState>,
    previous_topic: HashMap<String, TopicId>,
    config: &TopicsConfig,
    last_seq: u64,
) -> (TopicsResult, Vec<TopicEvent>) {
    assert_eq!(inputs.len(), plan.joins.len(), "one join per input");
    let run = previous.map_or(0, |state| state.run) + 1;
    let through = |step: i64, before: Option<&TopicState>| {
        if step == SEEN {
            before.and_then(|state| state.through)
        } else {
            Some(step)
        }
    };
    let epoch_start = |step: i64| {
        (step != SEEN)
            .then(|| DateTime::from_timestamp(step, 0))
            .flatten()
    };
    let seconds = epoch_seconds(config);
    let epoch_end = |step: i64| {
        (step != SEEN && seconds > 0)
            .then(|| DateTime::from_timestamp(step.saturating_add(seconds), 0))
            .flatten()
    };
    let mut state = previous.cloned();
    let mut previous_topic = previous_topic;
    let mut events: Vec<TopicEvent> = Vec::new();
    let mut merges = Vec::new();
    let (&last_step, early) = plan.steps.split_last().expect("a plan has a step");
    for &step in early {
        let rows: Vec<usize> = (0..inputs.len())
            .filter(|&row| plan.joins[row] <= step)
            .collect();
        let subset: Vec<TopicInput> = rows.iter().map(|&row| inputs[row]).collect();
        let mut fitted = fit(&subset, state.as_ref(), config);
        let first_new = state.as_ref().map_or(0, |state| state.next_id);
        mark_known(&mut fitted.topics, first_new, epoch_end(step));
        let topic_ids = fitted.topic_ids();
        let next = TopicState {
            next_id: fitted.next_id,
            topics: fitted.topics,
            run,
            through: through(step, state.as_ref()),
            comments: state.as_ref().map_or(0, |state| state.comments),
            encoder: state.as_ref().and_then(|state| state.encoder.clone()),
            offset: fitted.offset,
        };
        let current = with_topics(&subset, &topic_ids);
        let seq = events.last().map_or(last_seq, |event| event.seq);
        events.extend(lineage::events(
            state.as_ref(),
            &next,
            &fitted.merges,
            &previous_topic,
            &current,
            run,
            epoch_start(step),
            seq,
        ));
        previous_topic = current
            .iter()
            .filter_map(|(id, topic)| Some((id.to_string(), (*topic)?)))
            .collect();
        merges.extend(fitted.merges);
        state = Some(next);
    }
    debug_assert!(plan.joins.iter().all(|&join| join <= last_step));
    let mut fitted = fit(inputs, state.as_ref(), config);
    let first_new = state.as_ref().map_or(0, |state| state.next_id);
    mark_known(&mut fitted.topics, first_new, epoch_end(last_step));
    let topic_ids = fitted.topic_ids();
    let last_merges = fitted.merges.clone();
    let mut result = finish(inputs, fitted, config);
    merges.extend(last_merges.iter().copied());
    result.merges = merges;
    result.state.run = run;
    result.state.through = through(last_step, state.as_ref());
    let current = with_topics(inputs, &topic_ids);
    let seq = events.last().map_or(last_seq, |event| event.seq);
    events.extend(lineage::events(
        state.as_ref(),
        &result.state,
        &last_merges,
        &previous_topic,
        &current,
        run,
        epoch_start(last_step),
        seq,
    ));
    (result, events)
}

/// Each input's id with its topic.
fn with_topics<'a>(
    inputs: &[TopicInput<'a>],
    topic_ids: &[Option<TopicId>],
) -> Vec<(&'a str, Option<TopicId>)> {
    inputs
        .iter()
        .zip(topic_ids)
        .map(|(input, topic)| (input.id, *topic))
        .collect()
}
