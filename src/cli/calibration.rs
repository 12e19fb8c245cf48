//! `xsignal train calibration`: fits the sentiment head's per-language calibration on the labelled
//! validation sets of `../shared/data` and reports it cross-fitted (each row scored by a
//! calibration fitted without it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use xsignal::eval::sentiment::{score, Scored, SentimentMetrics};
use xsignal::sentiment::calibrate::{fit, Calibration, LanguageCalibration, Observation};
use xsignal::sentiment::sentences::{sentence_spans, SentimentModel};
use xsignal::types::{Lang, SentimentLabel};
use xsignal::Config;

use super::eval::{read_sentiment_rows, sentiment_cache};
use super::{CliResult, GlobalOpts, EXIT_OK};

/// Flags of `train calibration`.
#[derive(clap::Args, Debug)]
pub struct CalibrationArgs {
    /// The shared data folder (with sentiment/...).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Where to write the calibration, relative to the models directory (default: the config's
    /// `sentiment.calibration`).
    #[arg(long)]
    out: Option<String>,
    /// Embedding cache folder (reused between runs).
    #[arg(long, default_value = ".xsignal-cache")]
    cache: PathBuf,
}

/// One calibration set: a labelled file of three-class validation data never trained on, the
/// language it calibrates, and whether only the rows of the hold-out rule count.
struct Source {
    path: &'static str,
    lang: Lang,
    holdout: bool,
}

/// English: tweets of many subjects and airline complaints; German: tweets and web text about a
/// rail operator. Within a language each set weighs the same, whatever its size.
const SOURCES: &[Source] = &[
    Source {
        path: "sentiment/tweeteval/validation.jsonl",
        lang: Lang::En,
        holdout: false,
    },
    Source {
        path: "sentiment/airline/train.jsonl",
        lang: Lang::En,
        holdout: true,
    },
    Source {
        path: "sentiment/umsab/de_validation.jsonl",
        lang: Lang::De,
        holdout: false,
    },
    Source {
        path: "sentiment/germeval2017/dev.jsonl",
        lang: Lang::De,
        holdout: false,
    },
];

/// The cross-fitting fold of a row: a bit of sha256(id) that the airline hold-out rule (the first
/// byte) does not use.
fn fold(id: &str) -> usize {
    usize::from(Sha256::digest(id.as_bytes())[1] % 2)
}

/// One scored row of a calibration set.
struct Row {
    source: usize,
    fold: usize,
    probabilities: [f32; 3],
    gold: usize,
}

/// Fits one calibration on the rows that `keep` selects, each set weighing the same.
fn fit_rows(rows: &[Row], keep: impl Fn(&Row) -> bool) -> LanguageCalibration {
    let mut per_source: BTreeMap<usize, f64> = BTreeMap::new();
    for row in rows.iter().filter(|row| keep(row)) {
        *per_source.entry(row.source).or_default() += 1.0;
    }
    let observations: Vec<Observation> = rows
        .iter()
        .filter(|row| keep(row))
        .map(|row| Observation {
            probabilities: row.probabilities,
            gold: row.gold,
            weight: 1.0 / per_source[&row.source],
        })
        .collect();
    fit(&observations)
}

fn metrics(rows: &[&Row], calibrate: impl Fn(&Row) -> [f32; 3]) -> SentimentMetrics {
    let scored: Vec<Scored> = rows
        .iter()
        .map(|row| Scored {
            gold: SentimentLabel::ALL[row.gold],
            probabilities: calibrate(row),
        })
        .collect();
    score(&scored)
}

fn summary(metrics: &SentimentMetrics) -> serde_json::Value {
    let round = |value: f64| (value * 10_000.0).round() / 10_000.0;
    serde_json::json!({
        "accuracy": round(metrics.accuracy),
        "macro_f1": round(metrics.macro_f1),
        "macro_recall": round(metrics.macro_recall),
        "ece": round(metrics.ece),
    })
}

/// Runs `train calibration`.
pub fn run(args: &CalibrationArgs, global: &GlobalOpts) -> CliResult {
    let mut config = Config::default();
    // The head's own probabilities, aggregated as `analyze` aggregates them.
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.sentiment.calibration.clone());
    config.sentiment.calibration = String::new();
    let model = SentimentModel::load(&config.sentiment, &global.models_dir(), &config.embed)?;
    let mut cache = sentiment_cache(&args.cache, &config, &model.encoder)?;
    let scorer = model.scorer(&config.sentiment);
    let mut rows = Vec::new();
    for (index, source) in SOURCES.iter().enumerate() {
        let path = args.data.join(source.path);
        let (comments, gold) = read_sentiment_rows(
            &path,
            &Default::default(),
            "label",
            &config.ingest,
            source.holdout,
        )?;
        let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
        let langs: Vec<Lang> = comments.iter().map(|c| c.lang).collect();
        let spans = sentence_spans(&config.sentiment, &texts, &langs);
        let scored = scorer.score(&mut cache, &texts, &langs, &spans, &|_| {})?;
        eprintln!("{}: {} rows", source.path, comments.len());
        for ((comment, label), scored) in comments.iter().zip(&gold).zip(&scored) {
            rows.push(Row {
                source: index,
                fold: fold(&comment.id),
                probabilities: scored.probabilities,
                gold: SentimentLabel::ALL
                    .iter()
                    .position(|l| l == label)
                    .expect("a label is one of the three"),
            });
        }
    }
    let lang_of = |row: &Row| SOURCES[row.source].lang;
    let mut languages = BTreeMap::new();
    let mut folds: BTreeMap<(Lang, usize), LanguageCalibration> = BTreeMap::new();
    for lang in [Lang::En, Lang::De] {
        languages.insert(
            lang.code().to_string(),
            fit_rows(&rows, |row| lang_of(row) == lang),
        );
        for held_out in 0..2 {
            folds.insert(
                (lang, held_out),
                fit_rows(&rows, |row| lang_of(row) == lang && row.fold != held_out),
            );
        }
    }
    languages.insert("*".to_string(), fit_rows(&rows, |_| true));
    let mut report = Vec::new();
    for (index, source) in SOURCES.iter().enumerate() {
        let set: Vec<&Row> = rows.iter().filter(|row| row.source == index).collect();
        let before = metrics(&set, |row| row.probabilities);
        let cross_fitted = metrics(&set, |row| {
            folds[&(source.lang, row.fold)].apply(row.probabilities)
        });
        eprintln!(
            "{}: accuracy {:.4} -> {:.4}, macro-F1 {:.4} -> {:.4}, macro-recall {:.4} -> {:.4}, ECE {:.4} -> {:.4} (cross-fitted)",
            source.path,
            before.accuracy,
            cross_fitted.accuracy,
            before.macro_f1,
            cross_fitted.macro_f1,
            before.macro_recall,
            cross_fitted.macro_recall,
            before.ece,
            cross_fitted.ece
        );
        report.push(serde_json::json!({
            "file": format!("../shared/data/{}", source.path),
            "lang": source.lang.code(),
            "rows": set.len(),
            "hold-out rows only": source.holdout,
            "uncalibrated": summary(&before),
            "calibrated, cross-fitted": summary(&cross_fitted),
        }));
    }
    let calibration = Calibration {
        version: 1,
        encoder: model.encoder.fingerprint().to_string(),
        head: Some(model.head.digest()),
        languages,
        provenance: serde_json::json!({
            "command": "xsignal train calibration",
            "method": "matrix scaling of the log-probabilities per language (softmax(W ln p + b)), weighted negative log-likelihood with each set weighing the same within its language, ridge 1e-3 towards the identity, Newton's method; fitted on the comments' aggregated probabilities (whole comment and sentences, as analyze scores them); '*' is fitted on all sets",
            "cross-fitting": "rows split in two folds by sha256(id)[1] % 2; each row is scored by the calibration fitted on the other fold",
            "sets": report,
        }),
    };
    let path = global.models_dir().join(&out);
    calibration.save(&path)?;
    eprintln!("wrote {}", path.display());
    Ok(EXIT_OK)
}
