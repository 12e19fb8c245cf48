//! What one `analyze` run reads from the committed generation and what it hands back to be staged:
//! the run's files by name, so that the pipeline never names a workspace file itself.
//!
//! - [`WorkspaceWriter::topic_state`]: the topic centroids the run continues from.
//! - [`WorkspaceWriter::kept_outputs`]: the committed outputs, when a run that adds nothing with an
//!   unchanged config can keep them.
//! - [`WorkspaceWriter::history`]: what the run appends to or continues (each comment's earlier
//!   topic, the last topic event, the feed so far, the rejects so far).
//! - [`WorkspaceWriter::stage_outputs`]: everything the run produced, staged in the next
//!   generation; [`WorkspaceWriter::commit`] then switches it in.

use std::collections::HashMap;

use crate::error::Result;
use crate::feed::lifecycle::FeedEvent;
use crate::summary::StageTiming;
use crate::topics::{Theme, TopicEvent, TopicState};
use crate::types::{EnrichedComment, Reject, Signal, Topic, TopicId};

use super::{Workspace, WorkspaceWriter};

const TOPIC_STATE: &str = "topic_state.json";
const TOPIC_EVENTS: &str = "topic_events.jsonl";
const FEED: &str = "feed.jsonl";
const THEMES: &str = "themes.jsonl";
const COMMENTS: &str = "comments.jsonl";
const TOPICS: &str = "topics.jsonl";
const SIGNALS: &str = "signals.jsonl";
const REJECTS: &str = "rejects.jsonl";
const CONFIG: &str = "config.toml";
const REPORT: &str = "report.md";
const TIMINGS: &str = "timings.json";

/// The committed outputs a run keeps when it adds nothing and the config is unchanged.
#[derive(Debug)]
pub struct KeptOutputs {
    /// `comments.jsonl`.
    pub comments: Vec<EnrichedComment>,
    /// `topics.jsonl`.
    pub topics: Vec<Topic>,
    /// `signals.jsonl`.
    pub signals: Vec<Signal>,
    /// `rejects.jsonl`.
    pub rejects: Vec<Reject>,
}

/// What a run that recomputes its outputs continues from the committed generation.
#[derive(Debug, Default)]
pub struct History {
    /// Each comment's topic before this run (empty when the run has no topic state to continue;
    /// topic lineage needs it).
    pub comment_topics: HashMap<String, TopicId>,
    /// The sequence number of the last topic event (0: none).
    pub last_topic_event: u64,
    /// The lifecycle feed so far.
    pub feed: Vec<FeedEvent>,
    /// Every row rejected so far.
    pub rejects: Vec<Reject>,
}

/// Everything a run produced, for [`WorkspaceWriter::stage_outputs`].
pub struct RunOutputs<'a> {
    /// The topic state to continue from next time.
    pub topic_state: &'a TopicState,
    /// This run's topic events (appended to the committed ones).
    pub topic_events: &'a [TopicEvent],
    /// This run's feed events (appended to the committed ones); `None` when the run had no
    /// timestamped comment to date them by, which leaves the feed as it was.
    pub feed_events: Option<&'a [FeedEvent]>,
    /// Themes.
    pub themes: &'a [Theme],
    /// One line per comment.
    pub comments: &'a [EnrichedComment],
    /// The listed topics (those with members).
    pub topics: &'a [&'a Topic],
    /// Signals.
    pub signals: &'a [Signal],
    /// Every row rejected so far.
    pub rejects: &'a [Reject],
    /// The config the outputs were made with, as TOML.
    pub config: &'a str,
    /// The Markdown report.
    pub report: &'a str,
}

/// The two fields of a `comments.jsonl` line that lineage needs.
#[derive(serde::Deserialize)]
struct CommentTopic {
    id: String,
    topic: Option<TopicId>,
}

impl Workspace {
    /// The committed `comments.jsonl`: one line per comment.
    pub fn comments(&self) -> Result<Vec<EnrichedComment>> {
        self.read_jsonl(COMMENTS)
    }

    /// The committed `topics.jsonl`.
    pub fn topics(&self) -> Result<Vec<Topic>> {
        self.read_jsonl(TOPICS)
    }

    /// The committed `themes.jsonl`.
    pub fn themes(&self) -> Result<Vec<Theme>> {
        self.read_jsonl(THEMES)
    }

    /// The committed `signals.jsonl`.
    pub fn signals(&self) -> Result<Vec<Signal>> {
        self.read_jsonl(SIGNALS)
    }

    /// The committed lifecycle feed, `feed.jsonl`.
    pub fn feed(&self) -> Result<Vec<FeedEvent>> {
        self.read_jsonl(FEED)
    }

    /// The committed `topic_events.jsonl`.
    pub fn topic_events(&self) -> Result<Vec<TopicEvent>> {
        self.read_jsonl(TOPIC_EVENTS)
    }

    /// The committed `rejects.jsonl`.
    pub fn rejects(&self) -> Result<Vec<Reject>> {
        self.read_jsonl(REJECTS)
    }
}

impl WorkspaceWriter {
    /// The committed topic state, if any; refused when it was built from another encoder than
    /// `encoder_fingerprint`'s.
    pub fn topic_state(&self, encoder_fingerprint: &str) -> Result<Option<TopicState>> {
        let Some(committed) = self.current() else {
            return Ok(None);
        };
        match committed.read_text(TOPIC_STATE)? {
            Some(text) => {
                TopicState::from_stored(&text, &committed.path(TOPIC_STATE), encoder_fingerprint)
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    /// The committed outputs when they were made with exactly `config` (as TOML), else `None`.
    pub fn kept_outputs(&self, config: &str) -> Result<Option<KeptOutputs>> {
        let Some(committed) = self.current().filter(|c| outputs_are_current(c, config)) else {
            return Ok(None);
        };
        Ok(Some(KeptOutputs {
            comments: committed.comments()?,
            topics: committed.topics()?,
            signals: committed.signals()?,
            rejects: committed.rejects()?,
        }))
    }

    /// What the run continues; `with_topics` reads each comment's earlier topic (needed only when
    /// there is a topic state to continue).
    pub fn history(&self, with_topics: bool) -> Result<History> {
        let Some(committed) = self.current() else {
            return Ok(History::default());
        };
        let comment_topics = if with_topics {
            committed
                .read_jsonl::<CommentTopic>(COMMENTS)?
                .into_iter()
                .filter_map(|comment| Some((comment.id, comment.topic?)))
                .collect()
        } else {
            HashMap::new()
        };
        let last_topic_event = committed
            .topic_events()?
            .last()
            .map_or(0, |event| event.seq);
        Ok(History {
            comment_topics,
            last_topic_event,
            feed: committed.feed()?,
            rejects: committed.rejects()?,
        })
    }

    /// Stages every output of a run in the next generation.
    pub fn stage_outputs(&self, outputs: &RunOutputs) -> Result<()> {
        let state = serde_json::to_string(outputs.topic_state).expect("topic state serialises");
        self.write_text(TOPIC_STATE, &state)?;
        self.append_jsonl(TOPIC_EVENTS, outputs.topic_events)?;
        self.write_jsonl(THEMES, outputs.themes)?;
        if let Some(feed_events) = outputs.feed_events {
            self.append_jsonl(FEED, feed_events)?;
        }
        self.write_jsonl(COMMENTS, outputs.comments)?;
        self.write_jsonl(TOPICS, outputs.topics)?;
        self.write_jsonl(SIGNALS, outputs.signals)?;
        self.stage_rejects(outputs.rejects)?;
        self.write_text(CONFIG, outputs.config)?;
        self.write_text(REPORT, outputs.report)
    }

    /// Stages `rejects.jsonl` (a run that keeps the other outputs still records new rejects).
    pub fn stage_rejects(&self, rejects: &[Reject]) -> Result<()> {
        self.write_jsonl(REJECTS, rejects)
    }

    /// Stages `timings.json`.
    pub fn stage_timings(&self, timings: &[StageTiming]) -> Result<()> {
        let text = serde_json::to_string_pretty(timings).expect("timings serialise");
        self.write_text(TIMINGS, &(text + "\n"))
    }
}

/// True when the committed generation holds outputs made with exactly `config`.
fn outputs_are_current(committed: &Workspace, config: &str) -> bool {
    [COMMENTS, TOPICS, SIGNALS, REPORT]
        .iter()
        .all(|name| committed.path(name).is_file())
        && committed.read_text(CONFIG).ok().flatten().as_deref() == Some(config)
}
