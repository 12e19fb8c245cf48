//! The outcome of one `analyze` run: what the pipeline produces and the report, the command line
//! and the backtest read. It lives apart from [`crate::pipeline`] so that the stages rendering it
//! ([`crate::feed`]) do not depend on the orchestrator that calls them.

use serde::Serialize;

use crate::ingest::FileStats;
use crate::privacy::RedactionCounts;
use crate::sentiment::ratings;
use crate::types::{Comment, EnrichedComment};

/// Seconds spent and items handled per step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StageTiming {
    /// Step name.
    pub stage: String,
    /// Items handled.
    pub items: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The outcome of one `analyze` run.
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzeSummary {
    /// Per-file ingest statistics of this run.
    pub files: Vec<FileStats>,
    /// Rows read in this run.
    pub rows_read: u64,
    /// Comments added to the workspace in this run.
    pub added: u64,
    /// Rows whose id was already in the workspace with the same content (nothing changed).
    pub already_present: u64,
    /// Personal data replaced by placeholders in the rows read in this run, per kind.
    pub redactions: RedactionCounts,
    /// Rows rejected in this run.
    pub rejected: u64,
    /// Comments in the workspace after the run.
    pub total_comments: u64,
    /// Comments without a timestamp (indexed and scored, not trended).
    pub without_timestamp: u64,
    /// Comments marked as exact duplicates of an earlier one.
    pub duplicates: u64,
    /// Comments newly encoded (the rest came from the embedding cache).
    pub encoded: u64,
    /// Comments encoded in this run that were longer than the encoder's windows
    /// (`embed.max_windows`): encoded from their head only, stored and indexed whole.
    pub cut_texts: u64,
    /// Topics with at least one comment.
    pub topics: u64,
    /// Comments left without a topic.
    pub unassigned: u64,
    /// Signals flagged.
    pub signals: u64,
    /// How the comments' sentiment labels agree with their ratings (`None`: no comment has one).
    pub ratings: Option<ratings::RatingAgreement>,
    /// Trend bucket width in seconds; `None` when the run kept the earlier outputs.
    pub bucket_seconds: Option<i64>,
    /// True when nothing new was added and the config is unchanged: the outputs were kept as they
    /// were (only new rejects were recorded).
    pub unchanged: bool,
    /// Time per step.
    pub timings: Vec<StageTiming>,
}

/// What the ingest step of a run counted: the part of the summary known before the other stages.
#[derive(Clone, Debug, Default)]
pub struct IngestCounts {
    /// Per-file ingest statistics.
    pub files: Vec<FileStats>,
    /// Rows read.
    pub rows_read: u64,
    /// Comments added to the workspace.
    pub added: u64,
    /// Rows whose id was already in the workspace with the same content.
    pub already_present: u64,
    /// Personal data replaced by placeholders, per kind.
    pub redactions: RedactionCounts,
    /// Rows rejected.
    pub rejected: u64,
}

/// What a run that recomputed its outputs produced, for [`AnalyzeSummary::finished`].
pub struct RunCounts<'a> {
    /// Every stored comment (for the ratings), parallel to `comments`.
    pub stored: &'a [Comment],
    /// Every comment's outputs.
    pub comments: &'a [EnrichedComment],
    /// Topics with at least one comment.
    pub topics: u64,
    /// Signals flagged.
    pub signals: u64,
    /// Texts newly encoded by the topic encoder (comments and sentences).
    pub encoded: u64,
    /// Of the comments encoded, those cut at the encoder's windows.
    pub cut_texts: u64,
    /// Trend bucket width in seconds.
    pub bucket_seconds: i64,
}

impl AnalyzeSummary {
    /// A run that added nothing with an unchanged config: the committed outputs (`comments`,
    /// `topics` and `signals` of them) were kept.
    pub fn unchanged(
        ingest: IngestCounts,
        comments: &[EnrichedComment],
        topics: u64,
        signals: u64,
        timings: Vec<StageTiming>,
    ) -> AnalyzeSummary {
        let mut summary = AnalyzeSummary::counted(ingest, comments, timings);
        summary.topics = topics;
        summary.signals = signals;
        summary.unchanged = true;
        summary
    }

    /// A run that recomputed every output.
    pub fn finished(
        ingest: IngestCounts,
        run: RunCounts,
        timings: Vec<StageTiming>,
    ) -> AnalyzeSummary {
        let mut summary = AnalyzeSummary::counted(ingest, run.comments, timings);
        summary.topics = run.topics;
        summary.signals = run.signals;
        summary.encoded = run.encoded;
        summary.cut_texts = run.cut_texts;
        summary.bucket_seconds = Some(run.bucket_seconds);
        let rated: Vec<(f64, crate::types::SentimentLabel)> = run
            .stored
            .iter()
            .zip(run.comments)
            .filter_map(|(stored, comment)| Some((stored.rating?, comment.sentiment.label)))
            .collect();
        summary.ratings = ratings::agreement(&rated);
        summary
    }

    /// The counts every summary takes from the comments' outputs.
    fn counted(
        ingest: IngestCounts,
        comments: &[EnrichedComment],
        timings: Vec<StageTiming>,
    ) -> AnalyzeSummary {
        let count =
            |keep: fn(&EnrichedComment) -> bool| comments.iter().filter(|c| keep(c)).count();
        AnalyzeSummary {
            files: ingest.files,
            rows_read: ingest.rows_read,
            added: ingest.added,
            already_present: ingest.already_present,
            redactions: ingest.redactions,
            rejected: ingest.rejected,
            total_comments: comments.len() as u64,
            without_timestamp: count(|c| c.timestamp.is_none()) as u64,
            duplicates: count(|c| c.duplicate_of.is_some()) as u64,
            encoded: 0,
            cut_texts: 0,
            topics: 0,
            unassigned: count(|c| c.topic.is_none()) as u64,
            signals: 0,
            ratings: None,
            bucket_seconds: None,
            unchanged: false,
            timings,
        }
    }

    /// The redactions per kind as text, e.g. `email 3, name 12`, or `none`.
    pub fn redactions_text(&self) -> String {
        if self.redactions.is_empty() {
            return "none".to_string();
        }
        self.redactions
            .iter()
            .map(|(kind, count)| format!("{} {count}", kind.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
