//! Encodes the first N texts of a JSONL file and reports the encoder's speed: xsignal's half of
//! `scripts/bench-encoder`.
//!
//! Usage: `encode --input FILE.jsonl [--limit N] [--backend candle|onnx|rust-bert] [--workers W]
//! [--batch-size B] [--models DIR] [--out VECTORS.f32]`
//! Prints one JSON line (`comments`, `seconds`, `comments_per_s`, ...); `--out` receives the N×dim
//! matrix as little-endian f32 in input order. One untimed warm-up batch runs first, as in the peer.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use xsignal::embed::{Backend, EmbedConfig, Encoder};

#[derive(Parser)]
struct Args {
    /// JSONL file with a `text` field per line.
    #[arg(long)]
    input: PathBuf,
    /// Texts to encode (the first N lines).
    #[arg(long, default_value_t = 5000)]
    limit: usize,
    /// Encoder backend (default: the build's fastest).
    #[arg(long, value_enum)]
    backend: Option<Backend>,
    /// Encoder workers (0: one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Texts per batch.
    #[arg(long, default_value_t = EmbedConfig::default().batch_size)]
    batch_size: usize,
    /// Models folder.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Where to write the embeddings.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct Row {
    text: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = std::io::BufReader::new(std::fs::File::open(&args.input)?);
    let mut texts = Vec::new();
    for line in file.lines().take(args.limit) {
        let row: Row = serde_json::from_str(&line?)?;
        texts.push(row.text);
    }
    let defaults = EmbedConfig::default();
    let config = EmbedConfig {
        backend: args.backend.unwrap_or(defaults.backend),
        workers: args.workers,
        batch_size: args.batch_size,
        ..defaults
    };
    let encoder = Encoder::load(&args.models, &config)?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    encoder.embed(&texts[..texts.len().min(64)], &|_| {})?;
    let start = Instant::now();
    let vectors = encoder.embed(&texts, &|_| {})?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(path) = &args.out {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for value in vectors.iter().flatten() {
            out.write_all(&value.to_le_bytes())?;
        }
        out.flush()?;
    }
    let report = serde_json::json!({
        "engine": "xsignal",
        "backend": encoder.backend().name(),
        "workers": xsignal::embed::worker_count(args.workers),
        "batch_size": args.batch_size,
        "comments": texts.len(),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "comments_per_s": (texts.len() as f64 / seconds * 10.0).round() / 10.0,
    });
    println!("{report}");
    Ok(())
}
