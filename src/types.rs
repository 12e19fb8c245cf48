//! Shared types that the pipeline stages exchange.
//!
//! Every stage takes and returns these types; no stage reaches into another's internals.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A comment's language. Only English and German are analysed with language-specific rules;
/// everything else is `Other` and handled with language-neutral rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    En,
    /// German.
    De,
    /// Any other or unknown language.
    Other,
}

impl Lang {
    /// Parses a language code such as `en`, `de`, `en-US` or `German`; unknown codes give `Other`.
    pub fn from_code(code: &str) -> Lang {
        let lower = code.trim().to_ascii_lowercase();
        let primary = lower.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" | "eng" | "english" => Lang::En,
            "de" | "deu" | "ger" | "german" | "deutsch" => Lang::De,
            _ => Lang::Other,
        }
    }

    /// The two-letter code written to outputs (`en`, `de`, `other`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Other => "other",
        }
    }
}

/// Where a comment came from: the file and the 1-based line of its row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The input file as given on the command line.
    pub file: String,
    /// 1-based line number of the row's first line.
    pub line: u64,
}

/// One ingested comment, as stored in the workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Unique id (from the input, or derived from the content when the input has none).
    pub id: String,
    /// The comment text, trimmed, valid UTF-8.
    pub text: String,
    /// When the comment was written; `None` when the row had no timestamp (such comments are not trended).
    pub timestamp: Option<DateTime<Utc>>,
    /// Author id, if known.
    pub author: Option<String>,
    /// Source or channel (e.g. `appstore`, `survey`), if known.
    pub source: Option<String>,
    /// Language, from the row or detected.
    pub lang: Lang,
    /// True when `lang` was detected rather than given.
    pub lang_detected: bool,
    /// Rating (e.g. stars), if the row had one.
    pub rating: Option<f64>,
    /// Any other fields of the row, kept as they were.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// Where the row came from.
    pub origin: Origin,
}

/// A row that could not be ingested. Written to `rejects.jsonl`; nothing is dropped silently.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reject {
    /// The input file.
    pub file: String,
    /// 1-based line number of the row.
    pub line: u64,
    /// The field at fault (`text`, `timestamp`, `id`, `row`, ...).
    pub field: String,
    /// Why the row was rejected, lowercase, no trailing period.
    pub reason: String,
}

/// Three-way sentiment label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    /// Negative.
    Negative,
    /// Neither negative nor positive.
    Neutral,
    /// Positive.
    Positive,
}

impl SentimentLabel {
    /// All labels in a fixed order (negative, neutral, positive).
    pub const ALL: [SentimentLabel; 3] = [
        SentimentLabel::Negative,
        SentimentLabel::Neutral,
        SentimentLabel::Positive,
    ];

    /// The label as written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Negative => "negative",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Positive => "positive",
        }
    }

    /// Parses `negative`, `neutral` or `positive` (case-insensitive).
    pub fn parse(s: &str) -> Option<SentimentLabel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "negative" | "neg" => Some(SentimentLabel::Negative),
            "neutral" | "neu" => Some(SentimentLabel::Neutral),
            "positive" | "pos" => Some(SentimentLabel::Positive),
            _ => None,
        }
    }
}

/// A sentiment judgement of one comment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// The label.
    pub label: SentimentLabel,
    /// Polarity in [-1, 1]: P(positive) - P(negative).
    pub score: f32,
    /// Probability of the chosen label, in [0, 1].
    pub confidence: f32,
}

/// The sentiment of one sentence of a comment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentenceSentiment {
    /// Byte offset of the sentence's first byte in the comment text.
    pub start: usize,
    /// Byte offset just past the sentence's last byte.
    pub end: usize,
    /// The sentence's label.
    pub label: SentimentLabel,
    /// The sentence's polarity in [-1, 1].
    pub score: f32,
}

/// Topic id. Ids are never reused within a workspace.
pub type TopicId = u32;

/// Counts of comments per sentiment label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentimentCounts {
    /// Negative comments.
    pub negative: u64,
    /// Neutral comments.
    pub neutral: u64,
    /// Positive comments.
    pub positive: u64,
}

impl SentimentCounts {
    /// Adds one comment with `label`.
    pub fn add(&mut self, label: SentimentLabel) {
        match label {
            SentimentLabel::Negative => self.negative += 1,
            SentimentLabel::Neutral => self.neutral += 1,
            SentimentLabel::Positive => self.positive += 1,
        }
    }

    /// Total number of comments counted.
    pub fn total(&self) -> u64 {
        self.negative + self.neutral + self.positive
    }
}

/// One line of `comments.jsonl`: the enriched-comment feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnrichedComment {
    /// Comment id.
    pub id: String,
    /// Language.
    pub lang: Lang,
    /// When it was written, if known.
    pub timestamp: Option<DateTime<Utc>>,
    /// Source or channel, if known.
    pub source: Option<String>,
    /// Sentiment (of a comment of several sentences: aggregated from them).
    pub sentiment: Sentiment,
    /// The sentences with their sentiment, when the comment has more than one (absent: one sentence).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentences: Vec<SentenceSentiment>,
    /// Topic, or `None` when unassigned.
    pub topic: Option<TopicId>,
    /// Similarity of the comment to its topic's centroid (cosine), when assigned.
    pub topic_confidence: Option<f32>,
    /// The id of the first comment with the same normalised text, or `None`.
    pub duplicate_of: Option<String>,
}

/// One line of `topics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// Stable id.
    pub id: TopicId,
    /// Short readable name built from the key phrases.
    pub label: String,
    /// Key phrases, best first.
    pub keywords: Vec<String>,
    /// Number of comments assigned.
    pub size: u64,
    /// Sentiment mix of the topic: its comments' sentences, each counted for the topic nearest it.
    pub sentiment: SentimentCounts,
    /// Ids of representative comments, most typical first.
    pub representatives: Vec<String>,
    /// The theme (group of related topics, see `themes.jsonl`) the topic belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<TopicId>,
    /// Data time from which the topic exists (the end of the data day whose comments created it);
    /// trends do not flag the topic before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_from: Option<DateTime<Utc>>,
    /// A subject, or comments dominated by one author (`spam`) or by copies of one text (`flood`).
    #[serde(default)]
    pub kind: TopicKind,
}

#[cfg(test)]
impl Topic {
    /// A subject topic of one comment with `label`, no keywords and no sentiment (for tests).
    pub(crate) fn for_test(id: TopicId, label: &str) -> Topic {
        Topic {
            id,
            label: label.to_string(),
            keywords: Vec::new(),
            size: 1,
            sentiment: SentimentCounts::default(),
            representatives: Vec::new(),
            theme: None,
            known_from: None,
            kind: TopicKind::Subject,
        }
    }
}

/// What a topic is, for an analyst scanning the list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicKind {
    /// A subject people write about.
    #[default]
    Subject,
    /// At least half of the comments are by one author.
    Spam,
    /// At least half of the comments are exact copies of an earlier one.
    Flood,
}

impl TopicKind {
    /// How the report and the CLI name the kind.
    pub fn describe(self) -> &'static str {
        match self {
            TopicKind::Subject => "subject",
            TopicKind::Spam => "spam (one author)",
            TopicKind::Flood => "flood (copies of one text)",
        }
    }
}

/// What kind of trend a signal reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A topic whose volume rose above its baseline.
    Topic,
    /// A term or term pair whose volume rose above its baseline.
    Phrase,
    /// A topic whose negative share rose above its baseline.
    SentimentShift,
}

/// A time window `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// One line of `signals.jsonl`: a flagged emerging trend with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable id (derived from kind and what fired).
    pub id: String,
    /// What kind of trend.
    pub kind: SignalKind,
    /// Readable label.
    pub label: String,
    /// End of the bucket in which the signal first passed every gate.
    pub first_flagged: DateTime<Utc>,
    /// The recent window that was compared with the baseline.
    pub window: Window,
    /// Observed value in the window (distinct-text count, or negative share for sentiment shifts).
    pub observed: f64,
    /// Baseline mean of the same quantity.
    pub baseline_mean: f64,
    /// Baseline standard deviation of the same quantity.
    pub baseline_std: f64,
    /// Significance score (z-like).
    pub score: f64,
    /// Distinct authors among the supporting comments.
    pub distinct_authors: u64,
    /// Comments in the window that were ignored as duplicates.
    pub duplicates_ignored: u64,
    /// Topic the signal is about: the topic of a topic or sentiment-shift signal, or the topic that
    /// holds at least half of a phrase signal's comments.
    pub topic: Option<TopicId>,
    /// The theme of that topic, if it belongs to one.
    #[serde(default)]
    pub theme: Option<TopicId>,
    /// Supporting comment ids.
    pub comment_ids: Vec<String>,
    /// Further evidence: top phrases, gates and why each passed.
    pub evidence: serde_json::Value,
}
