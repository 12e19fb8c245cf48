//! The time per step of `analyze` (into the run's [`crate::summary::StageTiming`]s) and its
//! progress display: a bar for a step that counts its items as it goes (the embedding), a spinner
//! with the elapsed time for every other step.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::summary::StageTiming;
use indicatif::{ProgressBar, ProgressStyle};

/// Times the steps of one run; shows their progress on stderr when `progress` is set.
pub(super) struct Timer {
    pub(super) timings: Vec<StageTiming>,
    progress: bool,
}

impl Timer {
    pub(super) fn new(progress: bool) -> Timer {
        Timer {
            timings: Vec::new(),
            progress,
        }
    }

    /// Runs `step` as the step `stage` of `items` items.
    pub(super) fn time<T>(
        &mut self,
        stage: &'static str,
        items: u64,
        step: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.time_counted(stage, step, |_| items)
    }

    /// [`Timer::time`] for a step whose item count is known once it has run.
    pub(super) fn time_counted<T>(
        &mut self,
        stage: &'static str,
        step: impl FnOnce() -> Result<T>,
        count: impl FnOnce(&T) -> u64,
    ) -> Result<T> {
        let spinner = self.spinner(stage);
        let started = Instant::now();
        let value = step();
        spinner.finish_and_clear();
        let value = value?;
        self.record(stage, count(&value), started);
        Ok(value)
    }

    /// [`Timer::time`] for a step that reports each item it finishes to the bar it is given.
    pub(super) fn time_with_bar<T>(
        &mut self,
        stage: &'static str,
        items: u64,
        step: impl FnOnce(&ProgressBar) -> Result<T>,
    ) -> Result<T> {
        let bar = if self.progress {
            let bar = ProgressBar::new(items);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(stage);
            bar
        } else {
            ProgressBar::hidden()
        };
        let started = Instant::now();
        let value = step(&bar);
        bar.finish_and_clear();
        let value = value?;
        self.record(stage, items, started);
        Ok(value)
    }

    fn spinner(&self, stage: &'static str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("{msg:>10} {spinner} {elapsed}").expect("valid template"),
        );
        spinner.set_message(stage);
        spinner.enable_steady_tick(Duration::from_millis(200));
        spinner
    }

    fn record(&mut self, stage: &'static str, items: u64, started: Instant) {
        let seconds = started.elapsed().as_secs_f64();
        self.timings.push(StageTiming {
            stage: stage.to_string(),
            items,
            seconds,
        });
        tracing::info!(stage, items, seconds, "stage finished");
    }
}
