//! What a run reports: the summary of `analyze`, the time per step, and the progress bars.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::error::Result;
use crate::ingest::FileStats;

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
    /// Topics with at least one comment.
    pub topics: u64,
    /// Comments left without a topic.
    pub unassigned: u64,
    /// Signals flagged.
    pub signals: u64,
    /// Trend bucket width in seconds; `None` when the run kept the earlier outputs.
    pub bucket_seconds: Option<i64>,
    /// True when nothing new was added and the config is unchanged: the outputs were kept as they
    /// were (only new rejects were recorded).
    pub unchanged: bool,
    /// Time per step.
    pub timings: Vec<StageTiming>,
}

pub(super) fn progress_bar(show: bool, length: u64, message: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

pub(super) struct Timer {
    pub(super) timings: Vec<StageTiming>,
}

impl Timer {
    pub(super) fn time<T>(
        &mut self,
        stage: &str,
        items: u64,
        step: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.time_counted(stage, step, |_| items)
    }

    /// [`Timer::time`] for a stage whose item count is known once it has run.
    pub(super) fn time_counted<T>(
        &mut self,
        stage: &str,
        step: impl FnOnce() -> Result<T>,
        count: impl FnOnce(&T) -> u64,
    ) -> Result<T> {
        let started = Instant::now();
        let value = step()?;
        let items = count(&value);
        self.timings.push(StageTiming {
            stage: stage.to_string(),
            items,
            seconds: started.elapsed().as_secs_f64(),
        });
        tracing::info!(
            stage,
            items,
            seconds = started.elapsed().as_secs_f64(),
            "stage finished"
        );
        Ok(value)
    }
}
