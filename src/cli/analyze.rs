//! `xsignal analyze FILE... --workspace DIR`

use std::path::PathBuf;

use xsignal::config::Config;
use xsignal::pipeline::{self, AnalyzeOptions};
use xsignal::workspace::{Wait, Workspace, WorkspaceWriter};

use super::columns::ColumnArgs;
use super::{CliError, CliResult, GlobalOpts, EXIT_OK, EXIT_REJECTS};

/// Flags of `analyze`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input files: .csv, .tsv (header row) or .jsonl / .ndjson.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Workspace folder: holds the index and all state; a later run adds to it.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Pipeline config (TOML). Default: the workspace's config.toml if present, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Trend bucket width, e.g. 1h, 6h, 1d (default: from the data's span).
    #[arg(long)]
    bucket: Option<String>,
    /// Encoder backend, overriding the config's `embed.backend` (default onnx-int8): onnx-int8,
    /// onnx, candle, or rust-bert (builds with the `rust-bert` feature).
    #[arg(long, value_enum)]
    backend: Option<xsignal::embed::Backend>,
    #[command(flatten)]
    columns: ColumnArgs,
    /// Exit with code 3 when any row was rejected.
    #[arg(long)]
    fail_on_rejects: bool,
    /// Wait for another run writing the workspace to finish (default: exit 4 at once).
    #[arg(long)]
    wait: bool,
}

/// Runs `analyze`.
pub fn run(args: &Args, global: &GlobalOpts) -> CliResult {
    // The config is read and checked before anything is written to the workspace.
    let config_path = args.config.clone().or_else(|| {
        let used = Workspace::open_existing(&args.workspace)
            .ok()?
            .path("config.toml");
        used.is_file().then_some(used)
    });
    let mut config = match &config_path {
        Some(path) => Config::load(path).map_err(CliError::usage)?,
        None => Config::default(),
    };
    if let Some(bucket) = &args.bucket {
        xsignal::trends::parse_bucket(bucket).map_err(CliError::usage)?;
        config.trends.bucket = Some(bucket.clone());
    }
    if let Some(backend) = args.backend {
        config.embed.backend = backend;
    }
    config.validate().map_err(CliError::usage)?;
    let wait = if args.wait { Wait::Yes } else { Wait::No };
    let workspace = WorkspaceWriter::open(&args.workspace, wait)?;
    let options = AnalyzeOptions {
        files: args.files.clone(),
        columns: args.columns.map(),
        models_dir: global.models_dir(),
        progress: !global.quiet,
    };
    let root = workspace.root().to_path_buf();
    let summary = pipeline::analyze(workspace, &config, &options)?;
    let mut text = format!(
        "analyzed {} rows: {} added, {} already present, {} rejected; workspace holds {} comments\n\
         {} topics ({} comments unassigned), {} signals, {} comments without timestamp (not trended)\n",
        summary.rows_read,
        summary.added,
        summary.already_present,
        summary.rejected,
        summary.total_comments,
        summary.topics,
        summary.unassigned,
        summary.signals,
        summary.without_timestamp
    );
    if summary.cut_texts > 0 {
        text.push_str(&format!(
            "{} comments longer than the encoder's windows: encoded from their head, indexed whole\n",
            summary.cut_texts
        ));
    }
    text.push_str(&format!(
        "personal data replaced: {}\n",
        summary.redactions_text()
    ));
    if summary.unchanged {
        text.push_str("nothing new to analyze: outputs unchanged\n");
    }
    for timing in &summary.timings {
        text.push_str(&format!(
            "  {:<10} {:>8} items {:>8.1} s\n",
            timing.stage, timing.items, timing.seconds
        ));
    }
    text.push_str(&format!(
        "outputs in {}: comments.jsonl topics.jsonl signals.jsonl rejects.jsonl report.md\n",
        root.display()
    ));
    eprint!("{text}");
    if args.fail_on_rejects && summary.rejected > 0 {
        return Ok(EXIT_REJECTS);
    }
    Ok(EXIT_OK)
}
