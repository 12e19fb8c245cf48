//! The time per step of `analyze` (into the run's [`crate::summary::StageTiming`]s) and its
//! progress bars.

use std::time::Instant;

use crate::error::Result;
use crate::summary::StageTiming;
use indicatif::{ProgressBar, ProgressStyle};

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
