//! The markdown tables: latency percentiles and errors per group of requests, and medians.

use std::time::Duration;

use crate::clients::{Outcome, Record};

/// A row of a table: its label, its requests and the time they took to send, for the rate.
pub type Row<'a> = (String, Vec<&'a Record>, Duration);

/// The requests of a load of `duration` by the phase they were sent in: before `analyze`
/// (started at `analyze_started`), while it runs and the old run is served, after the new run
/// was first served (at `served`).
pub fn phases(
    records: &[Record],
    analyze_started: Option<Duration>,
    served: Option<Duration>,
    duration: Duration,
) -> Vec<Row<'_>> {
    let started = analyze_started.unwrap_or(duration);
    let served = served.unwrap_or(duration).max(started);
    let between = |from: Duration, to: Duration| -> Vec<&Record> {
        records
            .iter()
            .filter(|record| record.started >= from && record.started < to)
            .collect()
    };
    vec![
        (
            "before `analyze`".to_string(),
            between(Duration::ZERO, started),
            started,
        ),
        (
            "`analyze` running, old run served".to_string(),
            between(started, served),
            served - started,
        ),
        (
            "new run served".to_string(),
            between(served, duration),
            duration.saturating_sub(served),
        ),
    ]
}

/// The latency at quantile `q` of sorted latencies (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A markdown table: one row per (label, records, span).
pub fn print_table(first: &str, rows: &[Row]) {
    println!("| {first} | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (label, records, span) in rows {
        let mut latencies: Vec<Duration> = records.iter().map(|record| record.latency).collect();
        latencies.sort();
        let errors = records
            .iter()
            .filter(|record| matches!(record.outcome, Outcome::Error(_)))
            .count();
        let ms = |q: f64| quantile(&latencies, q).as_secs_f64() * 1000.0;
        let rate = if span.is_zero() {
            0.0
        } else {
            records.len() as f64 / span.as_secs_f64()
        };
        println!(
            "| {label} | {} | {rate:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {errors} |",
            records.len(),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0)
        );
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
