//! Runs the trends stage alone on a benchmark stream and writes the signals as JSONL.
//!
//! Usage: `cargo run --release --example trend_replay -- STREAM.jsonl OUT.jsonl [CONFIG.toml]
//! [WORKSPACE]`
//! The stream has one `{"id","text","timestamp","author","source","lang"}` object per line (a
//! workspace's `store.jsonl` will do); the optional TOML file holds a `TrendsConfig` (the
//! `[trends]` table's fields; `-` for the defaults).
//! Without a workspace only phrases are scanned. With the folder of an `analyze` or `backtest` run
//! of the same stream, its topics, sentiment labels and duplicates are used as well, so the whole
//! detection is replayed in seconds (its output equals the workspace's `signals.jsonl` when the
//! config is the same).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use xsignal::text::normalize_for_dedup;
use xsignal::trends::{detect, duplicates_among_kept, TrendDoc, TrendsConfig};
use xsignal::types::{EnrichedComment, Lang, SentimentLabel, Topic};
use xsignal::workspace::read_jsonl;

#[derive(serde::Deserialize)]
struct Row {
    id: String,
    text: String,
    timestamp: Option<DateTime<Utc>>,
    author: Option<String>,
    lang: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        anyhow::bail!("usage: trend_replay STREAM.jsonl OUT.jsonl [CONFIG.toml|-] [WORKSPACE]");
    }
    let config: TrendsConfig = match args.get(3).map(String::as_str) {
        Some(path) if path != "-" => toml::from_str(&std::fs::read_to_string(path)?)?,
        _ => TrendsConfig::default(),
    };
    let stream = Path::new(&args[1]);
    if !stream.is_file() {
        anyhow::bail!("{}: no such file", stream.display());
    }
    let rows: Vec<Row> = read_jsonl(stream)?;
    let workspace = args.get(4).map(Path::new);
    let (docs, topics) = match workspace {
        Some(workspace) => {
            let comments_path = workspace.join("comments.jsonl");
            if !comments_path.is_file() {
                anyhow::bail!("{}: no such file", comments_path.display());
            }
            let comments: Vec<EnrichedComment> = read_jsonl(&comments_path)?;
            let topics: Vec<Topic> = read_jsonl(&workspace.join("topics.jsonl"))?;
            let by_id: HashMap<&str, &Row> =
                rows.iter().map(|row| (row.id.as_str(), row)).collect();
            let position: HashMap<&str, usize> = comments
                .iter()
                .enumerate()
                .map(|(index, comment)| (comment.id.as_str(), index))
                .collect();
            let mut matched = Vec::with_capacity(comments.len());
            for comment in &comments {
                let Some(row) = by_id.get(comment.id.as_str()) else {
                    anyhow::bail!(
                        "comment {} of the workspace is not in the stream",
                        comment.id
                    );
                };
                matched.push((comment, *row));
            }
            let originals: Vec<Option<usize>> = comments
                .iter()
                .map(|c| {
                    c.duplicate_of
                        .as_deref()
                        .and_then(|id| position.get(id).copied())
                })
                .collect();
            let kept: Vec<bool> = matched
                .iter()
                .map(|(_, row)| row.timestamp.is_some())
                .collect();
            let links = duplicates_among_kept(&originals, &kept);
            let docs: Vec<TrendDoc> = matched
                .iter()
                .filter_map(|(comment, row)| Some((comment, row, row.timestamp?)))
                .zip(links)
                .map(|((comment, row, timestamp), duplicate_of)| TrendDoc {
                    id: &row.id,
                    timestamp,
                    author: row.author.as_deref(),
                    text: &row.text,
                    lang: comment.lang,
                    duplicate_of,
                    topic: comment.topic,
                    sentiment: comment.sentiment.label,
                })
                .collect();
            (docs, topics)
        }
        None => {
            let mut first_by_text: HashMap<String, usize> = HashMap::new();
            let mut docs = Vec::with_capacity(rows.len());
            for row in &rows {
                let Some(timestamp) = row.timestamp else {
                    continue;
                };
                let index = docs.len();
                let normalised = normalize_for_dedup(&row.text);
                let first = *first_by_text.entry(normalised).or_insert(index);
                docs.push(TrendDoc {
                    id: &row.id,
                    timestamp,
                    author: row.author.as_deref(),
                    text: &row.text,
                    lang: Lang::from_code(row.lang.as_deref().unwrap_or("")),
                    duplicate_of: (first != index).then_some(first),
                    topic: None,
                    sentiment: SentimentLabel::Neutral,
                });
            }
            (docs, Vec::new())
        }
    };
    let started = std::time::Instant::now();
    let output = detect(&docs, &topics, &config)?;
    eprintln!(
        "{} docs, {} used, {} buckets of {} s, {} signals in {:.1} s",
        docs.len(),
        output.docs_used,
        output.buckets,
        output.bucket_seconds,
        output.signals.len(),
        started.elapsed().as_secs_f64()
    );
    let mut out = BufWriter::new(std::fs::File::create(&args[2])?);
    for signal in &output.signals {
        serde_json::to_writer(&mut out, signal)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
