//! Runs the trends stage on a benchmark stream (phrases only) and writes the signals as JSONL.
//!
//! Usage: `cargo run --example trend_phrases -- STREAM.jsonl OUT.jsonl [CONFIG.toml]`
//! The stream has one `{"id","text","timestamp","author","source","lang"}` object per line; the
//! optional TOML file holds a `TrendsConfig` (the `[trends]` table's fields).

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};

use chrono::{DateTime, Utc};
use xsignal::text::normalize_for_dedup;
use xsignal::trends::{detect, TrendDoc, TrendsConfig};
use xsignal::types::{Lang, SentimentLabel};

#[derive(serde::Deserialize)]
struct Row {
    id: String,
    text: String,
    timestamp: DateTime<Utc>,
    author: Option<String>,
    lang: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        anyhow::bail!("usage: trend_phrases STREAM.jsonl OUT.jsonl [CONFIG.toml]");
    }
    let config: TrendsConfig = match args.get(3) {
        Some(path) => toml::from_str(&std::fs::read_to_string(path)?)?,
        None => TrendsConfig::default(),
    };
    let file = std::io::BufReader::new(std::fs::File::open(&args[1])?);
    let mut rows = Vec::new();
    for (number, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(&line)
            .map_err(|error| anyhow::anyhow!("{}:{}: {error}", args[1], number + 1))?;
        rows.push(row);
    }
    let mut first_by_text: HashMap<String, usize> = HashMap::new();
    let mut docs = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let normalised = normalize_for_dedup(&row.text);
        let first = *first_by_text.entry(normalised).or_insert(index);
        docs.push(TrendDoc {
            id: &row.id,
            timestamp: row.timestamp,
            author: row.author.as_deref(),
            text: &row.text,
            lang: Lang::from_code(row.lang.as_deref().unwrap_or("")),
            duplicate_of: (first != index).then_some(first),
            topic: None,
            sentiment: SentimentLabel::Neutral,
        });
    }
    let started = std::time::Instant::now();
    let output = detect(&docs, &[], &config)?;
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
