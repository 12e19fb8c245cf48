//! `xsignal train sentiment`: trains the sentiment head on the shared training splits
//! (`xsignal train calibration` is in `calibration.rs`).

use std::path::{Path, PathBuf};

use ndarray::Array2;
use xsignal::embed::{self, EmbedConfig, EmbeddingCache, Encoder};
use xsignal::eval::{self, LabelledRow};
use xsignal::sentiment::train::{balanced_weights, fit_weighted, plain_sentences, TrainOptions};
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
    /// Adam step size.
    #[arg(long, default_value_t = 0.05)]
    learning_rate: f32,
    /// L2 penalty (towards `--prior` when given, else towards zero).
    #[arg(long, default_value_t = 1e-4)]
    l2: f32,
    /// Start from this head (relative to the models directory) and pull the fit towards it:
    /// refits the fine-tuned model's head on more data without losing what it learnt. Its digest
    /// goes into the provenance (`prior_digest`), which `models fetch` checks before it installs
    /// the refitted head.
    #[arg(long)]
    prior: Option<String>,
    /// Balance the classes within each source and weigh the sources as `SOURCES` says, instead of
    /// balancing the classes over all rows.
    #[arg(long)]
    per_source: bool,
    /// AG News texts added as neutral (news states facts).
    #[arg(long, default_value_t = 0)]
    news_rows: usize,
    /// Plain IMDB review sentences added as neutral ([`xsignal::sentiment::train::plain_sentences`]);
    /// needs `--lexicon`.
    #[arg(long, default_value_t = 0)]
    review_neutral_rows: usize,
    /// VADER's `vader_lexicon.txt` (PyPI `vaderSentiment==3.3.2`): its words mark opinions.
    #[arg(long)]
    lexicon: Option<PathBuf>,
}

/// One training source: file, how many rows at most (a deterministic sample by id), whether rows
/// of the hold-out rule are excluded (for sets whose only split is a training split), and its
/// total weight under `--per-source`.
struct Source {
    path: &'static str,
    max_rows: usize,
    exclude_holdout: bool,
    weight: f32,
}

const SOURCES: &[Source] = &[
    Source {
        path: "sentiment/sst2/train.jsonl",
        weight: 1.0,
        max_rows: 8000,
        exclude_holdout: false,
    },
    Source {
        path: "sentiment/imdb/train.jsonl",
        weight: 0.5,
        max_rows: 2000,
        exclude_holdout: false,
    },
    Source {
        path: "sentiment/airline/train.jsonl",
        weight: 1.0,
        max_rows: usize::MAX,
        exclude_holdout: true,
    },
    Source {
        path: "sentiment/umsab/de_train.jsonl",
        weight: 1.0,
        max_rows: usize::MAX,
        exclude_holdout: false,
    },
];

/// AG News under `--news-rows`, its total weight under `--per-source`.
const NEWS: &str = "topics/ag_news/train_sample.jsonl";
const NEWS_WEIGHT: f32 = 0.5;
/// The plain review sentences under `--review-neutral-rows`: from IMDB reviews after the first
/// `REVIEW_SKIP` of the sample order (the `imdb` source draws from the head of that order).
const REVIEWS: &str = "sentiment/imdb/train.jsonl";
const REVIEW_SKIP: usize = 10_000;
const REVIEW_WEIGHT: f32 = 0.5;

/// The training rows: (source name, source index for weighting, row).
fn load_sources(
    data: &Path,
    args: &SentimentArgs,
) -> Result<Vec<(String, usize, LabelledRow)>, CliError> {
    let mut rows = Vec::new();
    for (index, source) in SOURCES.iter().enumerate() {
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
                .map(|row| (source.path.to_string(), index, row)),
        );
    }
    let neutral = |id: String, text: String| LabelledRow {
        id,
        text,
        label: "neutral".to_string(),
        lang: xsignal::types::Lang::En,
    };
    if args.news_rows > 0 {
        let mut news = eval::read_labelled(&data.join(NEWS))?;
        news.sort_by_key(|row| eval::sample_key(&row.id));
        news.truncate(args.news_rows);
        eprintln!("{NEWS}: {} rows as neutral", news.len());
        rows.extend(
            news.into_iter()
                .map(|row| (NEWS.to_string(), SOURCES.len(), neutral(row.id, row.text))),
        );
    }
    if args.review_neutral_rows > 0 {
        let path = args.lexicon.as_ref().ok_or_else(|| {
            anyhow::anyhow!("--review-neutral-rows needs --lexicon (vader_lexicon.txt)")
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
        let lexicon: std::collections::HashSet<String> = text
            .lines()
            .filter_map(|line| line.split('\t').next())
            .filter(|word| !word.is_empty())
            .map(str::to_string)
            .collect();
        let mut reviews = eval::read_labelled(&data.join(REVIEWS))?;
        reviews.sort_by_key(|row| eval::sample_key(&row.id));
        let texts: Vec<String> = reviews
            .iter()
            .skip(REVIEW_SKIP)
            .map(|row| row.text.replace("<br />", " "))
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut plain = plain_sentences(&texts, &lexicon);
        plain.truncate(args.review_neutral_rows);
        eprintln!("{REVIEWS}: {} plain sentences as neutral", plain.len());
        rows.extend(plain.into_iter().enumerate().map(|(index, text)| {
            (
                "imdb plain sentences".to_string(),
                SOURCES.len() + 1,
                neutral(format!("imdb-plain-{index}"), text),
            )
        }));
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
    // A head reads the vectors as the model pools them, whatever center its folder has.
    let encoder = Encoder::load(&global.models_dir(), &config)?.uncentred();
    let rows = load_sources(&args.data, args)?;
    let mut labels = Vec::with_capacity(rows.len());
    for (source, _, row) in &rows {
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
    let texts: Vec<&str> = rows.iter().map(|(_, _, row)| row.text.as_str()).collect();
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
        learning_rate: args.learning_rate,
        l2: args.l2,
    };
    let (groups, group_weight): (Vec<usize>, Vec<f32>) = if args.per_source {
        let weights = SOURCES.iter().map(|source| source.weight);
        (
            rows.iter().map(|(_, group, _)| *group).collect(),
            weights.chain([NEWS_WEIGHT, REVIEW_WEIGHT]).collect(),
        )
    } else {
        (vec![0; rows.len()], vec![1.0])
    };
    let row_weight = balanced_weights(&labels, &groups, &group_weight, 3);
    let prior = match &args.prior {
        Some(path) => {
            let head = SentimentHead::load(&global.models_dir().join(path))?;
            if head.encoder != encoder.fingerprint() || head.dim != dim {
                return Err(anyhow::anyhow!(
                    "--prior {path}: trained on another encoder than {}",
                    args.model
                )
                .into());
            }
            let weights = Array2::from_shape_vec((3, dim), head.weights.concat())?;
            Some((
                weights,
                ndarray::Array1::from(head.bias.clone()),
                head.digest(),
            ))
        }
        None => None,
    };
    let (weights, bias) = fit_weighted(
        &x,
        &labels,
        &row_weight,
        3,
        prior.as_ref().map(|(w, b, _)| (w, b)),
        &options,
    );
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
            "command": std::env::args().skip(1).collect::<Vec<_>>().join(" "),
            "method": format!(
                "softmax regression, {} weights, L2 {} towards {}, full-batch Adam (lr {}, {} steps), on frozen mean-pooled {} embeddings",
                if args.per_source { "per-source class-balanced" } else { "class-balanced" },
                args.l2,
                args.prior.as_deref().unwrap_or("zero"),
                args.learning_rate,
                args.epochs,
                args.model,
            ),
            "prior_digest": prior.as_ref().map(|(_, _, digest)| digest.clone()),
            "news_rows": args.news_rows,
            "review_neutral_rows": args.review_neutral_rows,
            "lexicon": "vader_lexicon.txt of PyPI vaderSentiment==3.3.2 (MIT), when review_neutral_rows > 0",
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
