//! Outputs for people and other systems: the readable `report.md` of a run.
//!
//! The machine-readable feeds (`comments.jsonl`, `topics.jsonl`, `signals.jsonl`, `rejects.jsonl`) are
//! the serialised shared types, written by [`crate::pipeline`]. The report holds no comment text:
//! only ids, labels, counts and the evidence of each signal.

pub mod lifecycle;

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::summary::AnalyzeSummary;
use crate::types::{Reject, Signal, Topic};

/// Renders the run report as Markdown. Deterministic: no wall-clock times.
pub fn report(
    summary: &AnalyzeSummary,
    topics: &[&Topic],
    signals: &[Signal],
    rejects: &[Reject],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# xsignal report\n");
    let _ = writeln!(out, "## Ingest\n");
    let _ = writeln!(
        out,
        "| file | format | rows | accepted | rejected | repeated rows |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for file in &summary.files {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            file.file, file.format, file.rows, file.accepted, file.rejected, file.duplicate_rows
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "- this run: {} rows read, {} comments added, {} already in the workspace, {} rejected (see `rejects.jsonl`)",
        summary.rows_read, summary.added, summary.already_present, summary.rejected
    );
    let _ = writeln!(
        out,
        "- workspace: {} comments, {} exact duplicates (counted once in trends), {} without a timestamp (indexed and scored, not trended)",
        summary.total_comments, summary.duplicates, summary.without_timestamp
    );
    let _ = writeln!(
        out,
        "- personal data replaced in this run's rows: {} (`[privacy] redact`); authors are pseudonymised",
        summary.redactions_text()
    );
    let _ = writeln!(
        out,
        "- {} comments encoded in this run, the rest from the embedding cache; {} of them longer than the encoder's windows (encoded from their head, indexed whole)\n",
        summary.encoded, summary.cut_texts
    );
    if !rejects.is_empty() {
        let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
        for reject in rejects {
            *reasons.entry(reject.field.as_str()).or_default() += 1;
        }
        let _ = writeln!(
            out,
            "Rejected rows by field (all runs): {}\n",
            join_counts(&reasons)
        );
    }

    let _ = writeln!(out, "## Emerging signals\n");
    if signals.is_empty() {
        let _ = writeln!(out, "No trend passed every gate.\n");
    } else {
        let _ = writeln!(
            out,
            "| first flagged | kind | label | topic | this window: observed | baseline mean ± std | score | authors (all) | duplicates ignored | comments (all) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        for signal in signals {
            let _ = writeln!(
                out,
                "| {} | {:?} | {} | {} | {:.2} | {:.2} ± {:.2} | {:.1} | {} | {} | {} |",
                signal.first_flagged.format("%Y-%m-%d %H:%M"),
                signal.kind,
                signal.label.replace('|', "/"),
                signal
                    .topic
                    .map_or_else(String::new, |topic| topic.to_string()),
                signal.observed,
                signal.baseline_mean,
                signal.baseline_std,
                signal.score,
                signal.distinct_authors,
                signal.duplicates_ignored,
                signal.comment_ids.len()
            );
        }
        let _ = writeln!(
            out,
            "\n`observed` counts the distinct texts in the signal's window (a sentiment shift: the \
             negative share there); authors and comments count the whole signal. Every signal's \
             evidence is in `signals.jsonl` (`xsignal trends --explain ID`).\n"
        );
    }

    if let Some(ratings) = &summary.ratings {
        let _ = writeln!(out, "## Sentiment and ratings\n");
        let _ = writeln!(
            out,
            "How the comments' sentiment labels agree with their ratings (`xsignal eval sentiment` \
             prints the same for any rated file):\n"
        );
        let _ = writeln!(out, "{}", crate::sentiment::ratings::render(ratings));
    }

    let _ = writeln!(out, "## Topics\n");
    let _ = writeln!(
        out,
        "{} topics; {} comments unassigned. Size counts comments; the sentiment columns count \
         sentences (each for the topic nearest to it).\n",
        summary.topics, summary.unassigned
    );
    let mut by_size: Vec<&&Topic> = topics.iter().collect();
    by_size.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    let _ = writeln!(
        out,
        "| id | label | kind | size | negative | neutral | positive |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for topic in by_size.iter().take(30) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            topic.id,
            topic.label.replace('|', "/"),
            topic.kind.describe(),
            topic.size,
            topic.sentiment.negative,
            topic.sentiment.neutral,
            topic.sentiment.positive
        );
    }
    if by_size.len() > 30 {
        let _ = writeln!(
            out,
            "\n{} smaller topics in `topics.jsonl`.",
            by_size.len() - 30
        );
    }
    out
}

fn join_counts(counts: &BTreeMap<&str, u64>) -> String {
    counts
        .iter()
        .map(|(key, count)| format!("{key} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}
