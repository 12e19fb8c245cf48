//! The outcome of one `analyze` run: what the pipeline produces and the report, the command line
//! and the backtest read. It lives apart from [`crate::pipeline`] so that the stages rendering it
//! ([`crate::feed`]) do not depend on the orchestrator that calls them.

use serde::Serialize;

use crate::ingest::FileStats;
use crate::privacy::RedactionCounts;

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
    /// Comments erased before this run, by `xsignal forget` or by `privacy.retain_days` (the run
    /// then re-derived everything from the comments that stayed).
    pub erased: u64,
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
    pub ratings: Option<crate::sentiment::ratings::RatingAgreement>,
    /// Trend bucket width in seconds; `None` when the run kept the earlier outputs.
    pub bucket_seconds: Option<i64>,
    /// True when nothing new was added and the config is unchanged: the outputs were kept as they
    /// were (only new rejects were recorded).
    pub unchanged: bool,
    /// Time per step.
    pub timings: Vec<StageTiming>,
}

impl AnalyzeSummary {
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
