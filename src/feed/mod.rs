//! Outputs for people and other systems: the readable `report.md` of a run.
//!
//! The machine-readable feeds (`comments.jsonl`, `topics.jsonl`, `signals.jsonl`, `rejects.jsonl`) are
//! the serialised shared types, written by [`crate::pipeline`]. The report holds no comment text:
//! only ids, labels, counts and the evidence of each signal.

pub mod lifecycle;

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::summary::AnalyzeSummary;
use crate::topics::themes::Theme;
use crate::types::{Reject, Signal, Topic, TopicId, TopicKind};

/// Renders the run report as Markdown. Deterministic: no wall-clock times.
pub fn report(
    summary: &AnalyzeSummary,
    topics: &[&Topic],
    themes: &[Theme],
    signals: &[Signal],
    rejects: &[Reject],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# xsignal report\n");
    let _ = writeln!(out, "## Ingest\n");
    table(
        &mut out,
        &[
            "file",
            "format",
            "rows",
            "accepted",
            "rejected",
            "repeated rows",
        ],
        summary.ingest.files.iter().map(|file| {
            vec![
                file.file.clone(),
                file.format.clone(),
                file.rows.to_string(),
                file.accepted.to_string(),
                file.rejected.to_string(),
                file.duplicate_rows.to_string(),
            ]
        }),
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "- this run: {} rows read, {} comments added, {} already in the workspace, {} rejected (see `rejects.jsonl`)",
        summary.ingest.rows_read, summary.ingest.added, summary.ingest.already_present, summary.ingest.rejected
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
    if summary.ingest.erased > 0 {
        let _ = writeln!(
            out,
            "- erased before this run: {} comments (`xsignal forget` or `[privacy] retain_days`); every output was re-derived from the comments that stayed",
            summary.ingest.erased
        );
    }
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
        table(
            &mut out,
            &[
                "first flagged",
                "kind",
                "label",
                "topic",
                "this window: observed",
                "baseline mean ± std",
                "score",
                "authors (all)",
                "duplicates ignored",
                "comments (all)",
            ],
            signals.iter().map(|signal| {
                vec![
                    signal.first_flagged.format("%Y-%m-%d %H:%M").to_string(),
                    format!("{:?}", signal.kind),
                    signal.label.clone(),
                    signal
                        .topic
                        .map_or_else(String::new, |topic| topic.to_string()),
                    format!("{:.2}", signal.observed),
                    format!("{:.2} ± {:.2}", signal.baseline_mean, signal.baseline_std),
                    format!("{:.1}", signal.score),
                    signal.distinct_authors.to_string(),
                    signal.duplicates_ignored.to_string(),
                    signal.comment_ids.len().to_string(),
                ]
            }),
        );
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

    let _ = writeln!(out, "## Themes and their topics\n");
    let _ = writeln!(
        out,
        "{} topics; {} comments unassigned. Size counts comments; the sentiment columns count \
         sentences (each for the topic nearest to it). Themes group related topics (`themes.jsonl`), \
         largest first.\n",
        summary.topics, summary.unassigned
    );
    let by_id: BTreeMap<TopicId, &Topic> = topics.iter().map(|topic| (topic.id, *topic)).collect();
    let mut listed_themes: Vec<&Theme> = themes.iter().collect();
    listed_themes.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    for theme in listed_themes.iter().take(REPORTED_THEMES) {
        let _ = writeln!(
            out,
            "### Theme {}: {} ({} comments)\n",
            theme.id,
            theme.label.replace('|', "/"),
            theme.size
        );
        let members: Vec<&Topic> = theme
            .topics
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .collect();
        topic_table(&mut out, &members);
    }
    if listed_themes.len() > REPORTED_THEMES {
        let _ = writeln!(
            out,
            "{} smaller themes in `themes.jsonl`.\n",
            listed_themes.len() - REPORTED_THEMES
        );
    }
    let mut alone: Vec<&Topic> = topics
        .iter()
        .copied()
        .filter(|topic| topic.theme.is_none() && topic.kind == TopicKind::Subject)
        .collect();
    alone.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    if !alone.is_empty() {
        let _ = writeln!(out, "### Topics in no theme\n");
        topic_table(&mut out, &alone[..alone.len().min(REPORTED_TOPICS)]);
        if alone.len() > REPORTED_TOPICS {
            let _ = writeln!(
                out,
                "{} smaller topics in `topics.jsonl`.\n",
                alone.len() - REPORTED_TOPICS
            );
        }
    }
    let not_subjects: Vec<&Topic> = topics
        .iter()
        .copied()
        .filter(|topic| topic.kind != TopicKind::Subject)
        .collect();
    if !not_subjects.is_empty() {
        let _ = writeln!(
            out,
            "### Not subjects: one author's spam or a copy-paste flood\n"
        );
        topic_table(&mut out, &not_subjects);
    }
    out
}

/// Themes listed in the report (the rest are in `themes.jsonl`).
const REPORTED_THEMES: usize = 15;
/// Topics in no theme listed in the report (the rest are in `topics.jsonl`).
const REPORTED_TOPICS: usize = 20;

/// One Markdown table of topics, in the given order.
fn topic_table(out: &mut String, topics: &[&Topic]) {
    table(
        out,
        &[
            "id", "label", "kind", "size", "negative", "neutral", "positive",
        ],
        topics.iter().map(|topic| {
            vec![
                topic.id.to_string(),
                topic.label.clone(),
                topic.kind.describe().to_string(),
                topic.size.to_string(),
                topic.sentiment.negative.to_string(),
                topic.sentiment.neutral.to_string(),
                topic.sentiment.positive.to_string(),
            ]
        }),
    );
    let _ = writeln!(out);
}

/// Writes a Markdown table: the header, its rule and one line per row; a `|` inside a cell becomes
/// `/` so that it cannot break the table.
fn table(out: &mut String, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|cell| cell.replace('|', "/")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

fn join_counts(counts: &BTreeMap<&str, u64>) -> String {
    counts
        .iter()
        .map(|(key, count)| format!("{key} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}
