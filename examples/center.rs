//! Computes a model's center (`center.json`): the mean of the L2-normalised vectors of a broad
//! sample of texts, overall and per language, which `Encoder` removes before the final
//! normalisation.
//!
//! Usage: `center --model multilingual-e5-small --prefix "query: " --out
//! models/multilingual-e5-small-center.json FILE.jsonl:N [FILE.jsonl:N ...]` (the first N rows of
//! each file, by their `text` and `lang` fields, `lang` defaulting to `en`; the models folder is
//! `models`). The model's own `center.json`, if any, is ignored while computing.
//!
//! `--remove-head HEAD.json` also records the directions of a sentiment head trained on the model
//! (its weight rows, made orthonormal) as directions to project out: the sentiment model's
//! fine-tuning spreads texts along them by sentiment, which topics must not see.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use clap::Parser;
use xsignal::embed::{Center, EmbedConfig, Encoder};
use xsignal::sentiment::SentimentHead;

#[derive(Parser)]
struct Args {
    /// Model folder name under `models`.
    #[arg(long)]
    model: String,
    /// Where to write the center.
    #[arg(long)]
    out: PathBuf,
    /// Models folder.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Text put before every text (recorded in the center; e5 models expect `query: `).
    #[arg(long, default_value = "")]
    prefix: String,
    /// A sentiment head (`head.json`) trained on the model: its directions are projected out.
    #[arg(long)]
    remove_head: Option<PathBuf>,
    /// Input files with the number of lines to take: `FILE.jsonl:N`.
    inputs: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Row {
    text: String,
    #[serde(default)]
    lang: Option<String>,
}

/// The mean of `vectors`, summed in f64.
fn mean<'a>(vectors: impl Iterator<Item = &'a Vec<f32>>, dim: usize) -> Vec<f32> {
    let mut sum = vec![0f64; dim];
    let mut count = 0usize;
    for vector in vectors {
        for (s, v) in sum.iter_mut().zip(vector) {
            *s += f64::from(*v);
        }
        count += 1;
    }
    sum.iter()
        .map(|s| (s / count.max(1) as f64) as f32)
        .collect()
}

/// Gram-Schmidt in f64: an orthonormal basis of the span of `rows`.
fn orthonormal(rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for row in rows {
        let mut v: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
        for b in &basis {
            let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-9 {
            basis.push(v.iter().map(|x| x / norm).collect());
        }
    }
    basis
        .iter()
        .map(|b| b.iter().map(|&x| x as f32).collect())
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut texts = Vec::new();
    let mut langs = Vec::new();
    let mut sources = serde_json::Map::new();
    for input in &args.inputs {
        let (path, limit) = input
            .rsplit_once(':')
            .ok_or_else(|| anyhow::anyhow!("{input}: expected FILE.jsonl:N"))?;
        let limit: usize = limit.parse()?;
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        let before = texts.len();
        for line in file.lines().take(limit) {
            let row: Row = serde_json::from_str(&line?)?;
            texts.push(row.text);
            langs.push(row.lang.unwrap_or_else(|| "en".to_string()));
        }
        let name = path.rsplit("data/").next().unwrap_or(path).to_string();
        sources.insert(name, (texts.len() - before).into());
    }
    let config = EmbedConfig {
        model: args.model.clone(),
        ..EmbedConfig::default()
    };
    let encoder = Encoder::load(&args.models, &config)?
        .uncentred()
        .with_prefix(&args.prefix)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = encoder.embed(&refs, &|_| {})?;
    let dim = encoder.dim();
    let mut by_language = BTreeMap::new();
    let codes: std::collections::BTreeSet<&String> = langs.iter().collect();
    for code in codes {
        let of_language = vectors
            .iter()
            .zip(&langs)
            .filter(|(_, lang)| *lang == code)
            .map(|(vector, _)| vector);
        by_language.insert(code.clone(), mean(of_language, dim));
    }
    let remove = match &args.remove_head {
        Some(path) => orthonormal(&SentimentHead::load(path)?.weights),
        None => Vec::new(),
    };
    let remove_arg = args
        .remove_head
        .as_ref()
        .map(|path| format!(" --remove-head {}", path.display()))
        .unwrap_or_default();
    let center = Center {
        version: 1,
        model: args.model.clone(),
        provenance: serde_json::json!({
            "command": format!(
                "cargo run --release --example center -- --model {} --prefix {:?}{remove_arg} --out {} {}",
                args.model, args.prefix, args.out.display(), args.inputs.join(" ")
            ),
            "texts": sources,
            "backend": encoder.backend().name(),
        }),
        prefix: args.prefix.clone(),
        mean: mean(vectors.iter(), dim),
        by_language,
        remove,
    };
    std::fs::write(&args.out, serde_json::to_string_pretty(&center)? + "\n")?;
    eprintln!(
        "wrote {}: means of {} texts ({:?})",
        args.out.display(),
        vectors.len(),
        center.by_language.keys().collect::<Vec<_>>()
    );
    Ok(())
}
