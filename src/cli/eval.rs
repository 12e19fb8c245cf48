//! `xsignal eval sentiment FILE.jsonl` and `xsignal eval topics FILE.jsonl`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use xsignal::embed::{self, EmbeddingCache, Encoder};
use xsignal::eval::{self, clustering, sentiment};
use xsignal::sentiment::sentences::{sentence_spans, SentimentModel};
use xsignal::text::{content_terms, LangStemmer};
use xsignal::topics;
use xsignal::types::{Lang, SentimentLabel};
use xsignal::Config;

use super::columns::ColumnArgs;
use super::{print, CliError, CliResult, GlobalOpts, EXIT_OK};

/// Flags of `eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: EvalCommand,
}

#[derive(clap::Subcommand, Debug)]
enum EvalCommand {
    /// Score the sentiment model on a labelled file (JSONL `{"id","text","label","lang"}`, or any
    /// CSV/TSV/JSONL input with a label and/or a rating column).
    Sentiment(Box<SentimentArgs>),
    /// Cluster a labelled JSONL file and compare with the gold labels.
    Topics(TopicsArgs),
}

#[derive(clap::Args, Debug)]
struct SentimentArgs {
    /// Input file (.jsonl, .csv, .tsv): texts with a gold label, a rating, or both.
    file: PathBuf,
    /// Column or key holding the gold label (negative, neutral, positive).
    #[arg(long, default_value = "label")]
    label_col: String,
    #[command(flatten)]
    columns: ColumnArgs,
    /// Score only the rows of the hold-out rule (for sets that have only a training split).
    #[arg(long)]
    holdout: bool,
    /// Replace personal data by placeholders first, as `analyze` does before it stores and scores
    /// a comment (the config's `privacy.redact` kinds).
    #[arg(long)]
    redact: bool,
    /// Encoder backend (default: the config's `embed.backend`, onnx-int8 unless changed): onnx-int8,
    /// onnx, candle, or rust-bert (builds with the `rust-bert` feature).
    #[arg(long, value_enum)]
    backend: Option<xsignal::embed::Backend>,
    /// Weight of the whole text against its sentences (default: the config's
    /// `sentiment.whole_weight`).
    #[arg(long)]
    whole_weight: Option<f32>,
    /// Sentiment encoder folder under the models directory (default: the config's
    /// `sentiment.model`); with `--head`, compares other models, e.g. `--model all-MiniLM-L6-v2
    /// --head sentiment-head.json` for the head on frozen MiniLM embeddings.
    #[arg(long)]
    model: Option<String>,
    /// Head file relative to the models directory (default: the config's `sentiment.head`).
    #[arg(long)]
    head: Option<String>,
    /// Calibration file relative to the models directory, `none` for the head's own probabilities
    /// (default: the config's `sentiment.calibration`).
    #[arg(long)]
    calibration: Option<String>,
    /// How sentences are weighted (default: the config's `sentiment.weighting`).
    #[arg(long, value_enum)]
    weighting: Option<xsignal::sentiment::sentences::SentenceWeighting>,
    /// Write predictions (JSONL) here.
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Embedding cache folder.
    #[arg(long, default_value = ".xsignal-cache")]
    cache: PathBuf,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct TopicsArgs {
    /// Labelled JSONL file.
    file: PathBuf,
    /// Encoder backend (default: the config's `embed.backend`, onnx-int8 unless changed): onnx-int8,
    /// onnx, candle, or rust-bert (builds with the `rust-bert` feature).
    #[arg(long, value_enum)]
    backend: Option<xsignal::embed::Backend>,
    /// Encoder folder under the models directory (default: the config's `embed.model`).
    #[arg(long)]
    model: Option<String>,
    /// Most encoder windows per text, 0 for no limit (default: the config's `embed.max_windows`).
    #[arg(long)]
    max_windows: Option<usize>,
    /// Pipeline config (TOML; default: built-in defaults); its `embed` and `topics` settings apply.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Number of k-means clusters to start from (default: the config's `topics.clusters`, unset
    /// = chosen as `topics.auto_clusters` says).
    #[arg(long)]
    clusters: Option<usize>,
    /// Embedding cache folder.
    #[arg(long, default_value = ".xsignal-cache")]
    cache: PathBuf,
    /// Replace personal data by placeholders first, as `analyze` does before it stores a comment
    /// (the config's `privacy.redact` kinds).
    #[arg(long)]
    redact: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Runs `eval`.
pub fn run(args: &Args, global: &GlobalOpts) -> CliResult {
    match &args.command {
        EvalCommand::Sentiment(args) => run_sentiment(args, global),
        EvalCommand::Topics(args) => run_topics(args, global),
    }
}

fn embed_rows(
    encoder: &Encoder,
    cache_dir: &std::path::Path,
    texts: &[&str],
    langs: &[xsignal::types::Lang],
) -> Result<Vec<Vec<f32>>, CliError> {
    std::fs::create_dir_all(cache_dir)?;
    let mut cache = EmbeddingCache::open(&cache_dir.join("embeddings.bin"), encoder.dim())?;
    let bar = indicatif::ProgressBar::new(texts.len() as u64);
    let slots = embed::embed_cached(encoder, &mut cache, texts, Some(langs), &|done| {
        bar.inc(done as u64)
    })?;
    let vectors: Vec<Vec<f32>> = slots
        .iter()
        .map(|&slot| cache.vector(slot).to_vec())
        .collect();
    bar.finish_and_clear();
    Ok(vectors)
}

fn run_sentiment(args: &SentimentArgs, global: &GlobalOpts) -> CliResult {
    let mut config = Config::default();
    if let Some(backend) = args.backend {
        config.embed.backend = backend;
    }
    if let Some(model) = &args.model {
        config.sentiment.model = model.clone();
    }
    if let Some(head) = &args.head {
        config.sentiment.head = head.clone();
    }
    if let Some(whole_weight) = args.whole_weight {
        config.sentiment.whole_weight = whole_weight;
    }
    if let Some(calibration) = &args.calibration {
        config.sentiment.calibration = match calibration.as_str() {
            "none" => String::new(),
            file => file.to_string(),
        };
    }
    if let Some(weighting) = args.weighting {
        config.sentiment.weighting = weighting;
    }
    let model = SentimentModel::load(&config.sentiment, &global.models_dir(), &config.embed)?;
    let (mut rows, gold) = read_sentiment_rows(
        &args.file,
        &args.columns.map(),
        &args.label_col,
        &config.ingest,
        args.holdout,
    )?;
    if args.redact {
        redact_texts(rows.iter_mut().map(|row| &mut row.text), &config);
    }
    let ratings: Vec<(f64, usize)> = rows
        .iter()
        .enumerate()
        .filter_map(|(index, row)| row.rating.map(|rating| (rating, index)))
        .collect();
    if gold.is_empty() && ratings.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "{}: no row has a label ({:?}) or a rating ({:?}): nothing to compare with",
            args.file.display(),
            args.label_col,
            args.columns.rating_col
        )));
    }
    let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
    let langs: Vec<Lang> = rows.iter().map(|row| row.lang).collect();
    let started = Instant::now();
    // The same path as `analyze`: whole comment and sentences, aggregated.
    let mut cache = sentiment_cache(&args.cache, &config, &model.encoder)?;
    let scorer = model.scorer(&config.sentiment);
    let spans = sentence_spans(&config.sentiment, &texts, &langs);
    let scored_rows = scorer.score(&mut cache, &texts, &langs, &spans, &|_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let probabilities: Vec<[f32; 3]> = scored_rows.iter().map(|s| s.probabilities).collect();
    let scored: Vec<sentiment::Scored> = gold
        .iter()
        .zip(&probabilities)
        .map(|(&gold, &probabilities)| sentiment::Scored {
            gold,
            probabilities,
        })
        .collect();
    let metrics = (!scored.is_empty()).then(|| sentiment::score(&scored));
    let baseline = (!gold.is_empty()).then(|| sentiment::majority_baseline(&gold));
    let binary = metrics.as_ref().is_some_and(|m| m.binary);
    let predicted: Vec<SentimentLabel> = probabilities
        .iter()
        .map(|&p| SentimentLabel::ALL[sentiment::predicted_class(p, binary)])
        .collect();
    let stars = xsignal::sentiment::ratings::agreement(
        &ratings
            .iter()
            .map(|&(rating, index)| (rating, predicted[index]))
            .collect::<Vec<_>>(),
    );
    if let Some(path) = &args.predictions {
        let lines: Vec<serde_json::Value> = rows
            .iter()
            .zip(&scored_rows)
            .zip(&predicted)
            .map(|((row, s), predicted)| {
                let p = s.probabilities;
                let sentences: Vec<serde_json::Value> = s
                    .sentences
                    .iter()
                    .zip(&s.sentence_probabilities)
                    .map(|(sentence, q)| {
                        serde_json::json!({"start": sentence.start, "end": sentence.end, "probabilities": q})
                    })
                    .collect();
                serde_json::json!({"id": row.id, "lang": row.lang.code(),
                                   "gold": row.meta.get(&args.label_col), "rating": row.rating,
                                   "predicted": predicted,
                                   "probabilities": {"negative": p[0], "neutral": p[1], "positive": p[2]},
                                   "whole": s.whole, "sentences": sentences})
            })
            .collect();
        xsignal::workspace::write_jsonl(path, &lines)?;
    }
    if args.json {
        let report = serde_json::json!({
            "rows": rows.len(),
            "metrics": metrics,
            "majority_baseline": baseline,
            "stars": stars,
        });
        print(&(serde_json::to_string(&report)? + "\n"))?;
    } else {
        let mut text = format!(
            "{}{}\n",
            args.file.display(),
            if args.holdout { " (hold-out rows)" } else { "" }
        );
        if args.redact {
            text.push_str("personal data redacted as `analyze` does\n");
        }
        if let (Some(metrics), Some(baseline)) = (&metrics, &baseline) {
            text.push_str(&sentiment::render(metrics));
            text.push_str(&format!(
                "majority baseline (always {}): accuracy {:.4}  macro_f1 {:.4}  macro_recall {:.4}\n",
                baseline
                    .classes
                    .iter()
                    .find(|class| class.recall > 0.0)
                    .map_or("-", |class| class.label.as_str()),
                baseline.accuracy,
                baseline.macro_f1,
                baseline.macro_recall
            ));
        }
        if let Some(stars) = &stars {
            text.push_str("labels per rating (agreement with the stars)\n");
            text.push_str(&xsignal::sentiment::ratings::render(stars));
        }
        print(&text)?;
        eprintln!(
            "({} rows embedded or read from cache and scored in {:.1} s)",
            rows.len(),
            seconds
        );
    }
    Ok(EXIT_OK)
}

/// The sentiment model's embedding cache in `folder` (created if needed), kept between `eval` and
/// `train calibration` runs.
pub(super) fn sentiment_cache(
    folder: &std::path::Path,
    config: &Config,
    encoder: &Encoder,
) -> Result<EmbeddingCache, CliError> {
    std::fs::create_dir_all(folder)?;
    let file = folder.join(format!("{}.bin", config.sentiment.model));
    Ok(EmbeddingCache::open(&file, encoder.dim())?)
}

/// Reads a file through the ingest stage (texts trimmed and checked as `analyze` does) and returns
/// its rows (only those of the hold-out rule with `holdout`) and their gold labels from
/// `label_col`: one per row, or none when no row has that field.
pub(super) fn read_sentiment_rows(
    file: &std::path::Path,
    columns: &xsignal::ingest::ColumnMap,
    label_col: &str,
    ingest: &xsignal::ingest::IngestConfig,
    holdout: bool,
) -> Result<(Vec<xsignal::types::Comment>, Vec<SentimentLabel>), CliError> {
    let input = xsignal::ingest::ingest_files(&[file.to_path_buf()], columns, ingest)?;
    if let Some(first) = input.rejects.first() {
        eprintln!(
            "{} rows could not be read (first: {}:{}, field {}: {})",
            input.rejects.len(),
            first.file,
            first.line,
            first.field,
            first.reason
        );
    }
    let rows: Vec<_> = input
        .comments
        .into_iter()
        .filter(|row| !holdout || eval::is_holdout(&row.id))
        .collect();
    let mut gold = Vec::new();
    for row in &rows {
        let Some(value) = row.meta.get(label_col) else {
            continue;
        };
        let label = value
            .as_str()
            .and_then(SentimentLabel::parse)
            .ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "{}:{}: field {:?}: unknown label {}",
                    row.origin.file,
                    row.origin.line,
                    label_col,
                    value
                ))
            })?;
        gold.push(label);
    }
    if !gold.is_empty() && gold.len() != rows.len() {
        return Err(CliError::usage(anyhow::anyhow!(
            "{}: {} of {} rows have a {:?} field: label every row or none",
            file.display(),
            gold.len(),
            rows.len(),
            label_col
        )));
    }
    Ok((rows, gold))
}

/// Replaces personal data in `texts` by placeholders, as `analyze` does before it stores a comment
/// (the config's `privacy.redact` kinds), and prints how many texts changed and the count per kind.
fn redact_texts<'t>(texts: impl Iterator<Item = &'t mut String>, config: &Config) {
    let redactor = xsignal::privacy::Redactor::new(&config.privacy.redact);
    let (mut rows, mut changed) = (0usize, 0usize);
    let mut per_kind: BTreeMap<xsignal::privacy::PiiKind, usize> = BTreeMap::new();
    for text in texts {
        rows += 1;
        let (redacted, found) = redactor.redact(text);
        if found.is_empty() {
            continue;
        }
        changed += 1;
        for finding in &found {
            *per_kind.entry(finding.kind).or_default() += 1;
        }
        *text = redacted;
    }
    let kinds: Vec<String> = per_kind
        .iter()
        .map(|(kind, count)| format!("{} {count}", kind.name()))
        .collect();
    let kinds = if kinds.is_empty() {
        "nothing".to_string()
    } else {
        kinds.join(", ")
    };
    eprintln!("redacted in {changed} of {rows} rows: {kinds}");
}

fn run_topics(args: &TopicsArgs, global: &GlobalOpts) -> CliResult {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(CliError::usage)?,
        None => Config::default(),
    };
    if let Some(backend) = args.backend {
        config.embed.backend = backend;
    }
    if let Some(model) = &args.model {
        config.embed.model = model.clone();
    }
    if let Some(max_windows) = args.max_windows {
        config.embed.max_windows = max_windows;
    }
    if let Some(clusters) = args.clusters {
        config.topics.clusters = Some(clusters);
    }
    config.validate().map_err(CliError::usage)?;
    let encoder = Encoder::load(&global.models_dir(), &config.embed)?;
    let mut rows = eval::read_labelled(&args.file)?;
    if args.redact {
        redact_texts(rows.iter_mut().map(|row| &mut row.text), &config);
    }
    let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
    let langs: Vec<_> = rows.iter().map(|row| row.lang).collect();
    let vectors = embed_rows(&encoder, &args.cache, &texts, &langs)?;
    // The model's sessions are not needed for clustering: their memory is given back first.
    drop(encoder);
    let started = Instant::now();
    let inputs = eval::topic_inputs(&rows, &vectors);
    let result = topics::cluster(&inputs, None, &config.topics);
    let cluster_seconds = started.elapsed().as_secs_f64();
    let mut gold_ids: BTreeMap<&str, usize> = BTreeMap::new();
    let gold: Vec<usize> = rows
        .iter()
        .map(|row| {
            let next = gold_ids.len();
            *gold_ids.entry(row.label.as_str()).or_insert(next)
        })
        .collect();
    let predicted: Vec<Option<u32>> = result
        .assignments
        .iter()
        .map(|a| a.as_ref().map(|a| a.topic))
        .collect();
    let stemmer = LangStemmer::default();
    let docs: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            content_terms(&row.text, row.lang, &stemmer)
                .into_iter()
                .map(|(word, _)| word)
                .collect()
        })
        .collect();
    let keywords: Vec<Vec<String>> = result
        .topics
        .iter()
        .map(|topic| {
            topic
                .keywords
                .iter()
                .filter(|keyword| !keyword.contains(' '))
                .cloned()
                .collect()
        })
        .collect();
    let outliers = predicted.iter().filter(|p| p.is_none()).count();
    let report = serde_json::json!({
        "file": args.file.display().to_string(),
        "rows": rows.len(),
        "gold_classes": gold_ids.len(),
        "topics": result.topics.iter().filter(|t| t.size > 0).count(),
        "outlier_share": outliers as f64 / rows.len().max(1) as f64,
        "nmi": clustering::nmi(&gold, &predicted),
        "ari": clustering::ari(&gold, &predicted),
        "npmi": clustering::npmi_coherence(&keywords, &docs),
        "diversity": clustering::topic_diversity(&keywords, 10),
        "cluster_seconds": cluster_seconds,
    });
    if args.json {
        print(&(report.to_string() + "\n"))?;
    } else {
        let mut out = String::new();
        for (key, value) in report.as_object().expect("object") {
            out.push_str(&format!("{key} {value}\n"));
        }
        print(&out)?;
    }
    Ok(EXIT_OK)
}
