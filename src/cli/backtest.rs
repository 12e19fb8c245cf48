//! `xsignal backtest --stream S.jsonl --truth T.json`: runs the pipeline over a labelled stream and
//! scores the flagged trends (`xsignal::eval::trendbench`).

use std::collections::HashSet;
use std::path::PathBuf;

use xsignal::config::Config;
use xsignal::eval::trendbench::{self, ScoredSignal, Truth};
use xsignal::ingest::ColumnMap;
use xsignal::pipeline::{self, AnalyzeOptions};
use xsignal::workspace::{self, Wait, Workspace, WorkspaceWriter};

use super::{CliError, CliResult, GlobalOpts, EXIT_OK};

/// Flags of `backtest`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The labelled stream (`stream.jsonl` of a trendbench folder). Required unless
    /// `--score-only`, which takes the stream's ids from the workspace.
    #[arg(long, required_unless_present = "score_only")]
    stream: Option<PathBuf>,
    /// Its truth file (default: `truth.json` beside the stream).
    #[arg(long, required_unless_present = "stream")]
    truth: Option<PathBuf>,
    /// Workspace of the run. Earlier outputs and state there are removed first; the embedding caches
    /// are kept, so a second backtest of the same stream encodes nothing.
    #[arg(long, default_value = "xsignal-backtest")]
    workspace: PathBuf,
    /// Pipeline config (TOML; default: built-in defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Latest first match, in hours after an event's onset, that counts for recall.
    #[arg(long, default_value_t = 48.0)]
    tolerance_hours: f64,
    /// Score the signals already in the workspace instead of running the pipeline.
    #[arg(long)]
    score_only: bool,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `backtest`.
pub fn run(args: &Args, global: &GlobalOpts) -> CliResult {
    let truth_path = match (&args.truth, &args.stream) {
        (Some(truth), _) => truth.clone(),
        (None, Some(stream)) => stream
            .parent()
            .unwrap_or_else(|| std::path::Path::new("."))
            .join("truth.json"),
        (None, None) => unreachable!("clap requires --truth without --stream"),
    };
    let truth = Truth::load(&truth_path).map_err(CliError::usage)?;
    // Read and checked before the workspace is reset.
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(CliError::usage)?,
        None => Config::default(),
    };
    if let (false, Some(stream)) = (args.score_only, &args.stream) {
        let mut writer = WorkspaceWriter::open(&args.workspace, Wait::No)?;
        writer.reset()?;
        let options = AnalyzeOptions {
            files: vec![stream.clone()],
            columns: ColumnMap::default(),
            models_dir: global.models_dir(),
            progress: !global.quiet,
        };
        pipeline::analyze(writer, &config, &options)?;
    }
    let workspace = Workspace::open_existing(&args.workspace)?;
    let signals: Vec<ScoredSignal> = workspace.read_jsonl("signals.jsonl")?;
    #[derive(serde::Deserialize)]
    struct StreamId {
        id: String,
    }
    let ids: Vec<StreamId> = match &args.stream {
        Some(stream) => workspace::read_jsonl(stream)?,
        None => workspace
            .load_store()?
            .into_iter()
            .map(|comment| StreamId { id: comment.id })
            .collect(),
    };
    let stream: HashSet<String> = ids.into_iter().map(|row| row.id).collect();
    let scores = trendbench::score(&truth, &signals, Some(&stream), Some(args.tolerance_hours));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&scores)?);
        return Ok(EXIT_OK);
    }
    let fmt = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.3}"));
    println!(
        "signals {}  events {}  detected {} (tolerance {} h)",
        scores.signals, scores.events, scores.detected, args.tolerance_hours
    );
    println!(
        "recall {:.3}  precision {}  f1 {}  duplicate signals {} (rate {})",
        scores.recall,
        fmt(scores.precision),
        fmt(scores.f1),
        scores.duplicate_signals,
        fmt(scores.duplicate_rate)
    );
    let noise: Vec<String> = scores
        .noise_flags
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    println!(
        "noise flags: {}  background false alarms {} ({} without known ids)",
        noise.join(", "),
        scores.false_alarms,
        scores.signals_without_known_ids
    );
    println!(
        "latency hours: median {}  mean {}",
        fmt(scores.median_latency_hours),
        fmt(scores.mean_latency_hours)
    );
    for event in &scores.per_event {
        println!(
            "  {:<28} matches {:>2}  latency {:>7}  {}",
            event.name,
            event.matches,
            fmt(event.latency_hours),
            if event.detected {
                "detected"
            } else if event.matches > 0 {
                "late"
            } else {
                "missed"
            }
        );
    }
    Ok(EXIT_OK)
}
