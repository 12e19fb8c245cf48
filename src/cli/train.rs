//! `xsignal train sentiment`: trains the sentiment head on the shared training splits
//! (`xsignal train calibration` is in `calibration.rs`).

use std::path::{Path, PathBuf};

use ndarray::Array2;
use xsignal::embed::{self, EmbedConfig, EmbeddingCache, Encoder};
use xsignal::eval::{self, LabelledRow};
use xsignal::sentiment::train::{fit, TrainOptions};
use xsignal::sentiment::SentimentHead;
use xsignal::types::SentimentLabel;

use super::{CliError, CliResult, GlobalOpts, EXIT_OK};

/// Flags of `train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: TrainCommand,
}

#[derive(clap::Subcommand, Debug)]
enum TrainCommand {
    /// Train the sentiment head (softmax regression on frozen embeddings).
    Sentiment(SentimentArgs),
    /// Fit the sentiment model's per-language calibration on the validation sets.
    Calibration(super::calibration::CalibrationArgs),
}

#[derive(clap::Args, Debug)]
struct SentimentArgs {
    /// The shared data folder (with sentiment/...).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// The frozen encoder (a model folder under the models directory).
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    model: String,
    /// Where to write the head.
    #[arg(long, default_value = "models/sentiment-head.json")]
    out: PathBuf,
    /// Embedding cache folder (reused between runs).
    #[arg(long, default_value = ".xsignal-cache")]
    cache: PathBuf,
    /// Optimisation steps.
    #[arg(long, default_value_t = 600)]
    epochs: usize,
    /// L2 penalty.
    #[arg(long, default_value_t = 1e-4)]
    l2: f32,
}

/// One training source: file, how many rows at most (a deterministic sample by id), and whether rows
/// of the hold-out rule are excluded (for sets whose only split is a training split).
struct Source {
    path: &'static str,
    max_rows: usize,
    exclude_holdout: bool,
}

const SOURCES: &[Source] = &[
    Source {
        path: "sentiment/sst2/train.jsonl",
        max_rows: 8000,
        exclude_holdout: false,
    },
    Source {
        path: "sentiment/imdb/train.jsonl",
        max_rows: 2000,
        exclude_holdout: false,
    },
    Source {
        path: "sentiment/airline/train.jsonl",
        max_rows: usize::MAX,
        exclude_holdout: true,
    },
    Source {
        path: "sentiment/umsab/de_train.jsonl",
        max_rows: usize::MAX,
        exclude_holdout: false,
    },
];

fn load_sources(data: &Path) -> Result<Vec<(String, LabelledRow)>, CliError> {
    let mut rows = Vec::new();
    for source in SOURCES {
        let path = data.join(source.path);
        let mut file_rows: Vec<LabelledRow> = eval::read_labelled(&path)?
            .into_iter()
            .filter(|row| !(source.exclude_holdout && eval::is_holdout(&row.id)))
            .collect();
        file_rows.sort_by_key(|row| eval::sample_key(&row.id));
        file_rows.truncate(source.max_rows);
        eprintln!("{}: {} rows", source.path, file_rows.len());
        rows.extend(
            file_rows
                .into_iter()
                .map(|row| (source.path.to_string(), row)),
        );
    }
    Ok(rows)
}

/// Runs `train`.
pub fn run(args: &Args, global: &GlobalOpts) -> CliResult {
    let args = match &args.command {
        TrainCommand::Sentiment(args) => args,
        TrainCommand::Calibration(args) => return super::calibration::run(args, global),
    };
    let config = EmbedConfig {
        model: args.model.clone(),
        ..EmbedConfig::default()
    };
    let encoder = Encoder::load(&global.models_dir(), &config)?;
    let rows = load_sources(&args.data)?;
    let mut labels = Vec::with_capacity(rows.len());
    for (source, row) in &rows {
        let label = SentimentLabel::parse(&row.label).ok_or_else(|| {
            anyhow::anyhow!("{source}: row {}: unknown label {:?}", row.id, row.label)
        })?;
        labels.push(match label {
            SentimentLabel::Negative => 0,
            SentimentLabel::Neutral => 1,
            SentimentLabel::Positive => 2,
        });
    }
    std::fs::create_dir_all(&args.cache)?;
    let mut cache = EmbeddingCache::open(&args.cache.join("embeddings.bin"), encoder.dim())?;
    let texts: Vec<&str> = rows.iter().map(|(_, row)| row.text.as_str()).collect();
    let bar = indicatif::ProgressBar::new(texts.len() as u64);
    let slots = embed::embed_cached(&encoder, &mut cache, &texts, None, &|done| {
        bar.inc(done as u64)
    })?;
    let vectors: Vec<Vec<f32>> = slots
        .iter()
        .map(|&slot| cache.vector(slot).to_vec())
        .collect();
    bar.finish_and_clear();
    let dim = encoder.dim();
    let flat: Vec<f32> = vectors.into_iter().flatten().collect();
    let x = Array2::from_shape_vec((rows.len(), dim), flat)?;
    let options = TrainOptions {
        epochs: args.epochs,
        l2: args.l2,
        ..Default::default()
    };
    let (weights, bias) = fit(&x, &labels, 3, &options);
    let counts: Vec<usize> = (0..3)
        .map(|class| labels.iter().filter(|&&l| l == class).count())
        .collect();
    let head = SentimentHead {
        version: 1,
        encoder: encoder.fingerprint().to_string(),
        dim,
        labels: SentimentLabel::ALL.to_vec(),
        weights: weights.rows().into_iter().map(|row| row.to_vec()).collect(),
        bias: bias.to_vec(),
        provenance: serde_json::json!({
            "command": format!("xsignal train sentiment --epochs {} --l2 {}", args.epochs, args.l2),
            "method": "softmax regression, class-balanced weights, L2, full-batch Adam (lr 0.05), on frozen mean-pooled all-MiniLM-L6-v2 embeddings",
            "data": SOURCES.iter().map(|source| serde_json::json!({
                "file": format!("../shared/data/{}", source.path),
                "max_rows": if source.max_rows == usize::MAX { serde_json::Value::Null } else { source.max_rows.into() },
                "sample": "rows sorted by sha256(\"xsignal-sample\\0\" + id), first max_rows",
                "excludes_holdout": source.exclude_holdout,
            })).collect::<Vec<_>>(),
            "holdout_rule": "airline: rows with sha256(id)[0] % 5 == 0 are held out for validation",
            "rows": rows.len(),
            "class_counts": {"negative": counts[0], "neutral": counts[1], "positive": counts[2]},
            "seed": "none needed: the fit is deterministic",
            "metrics": "see docs/EVALUATION.md (xsignal eval sentiment)",
        }),
    };
    head.save(&args.out)?;
    eprintln!(
        "wrote {} ({} training rows)",
        args.out.display(),
        rows.len()
    );
    Ok(EXIT_OK)
}
