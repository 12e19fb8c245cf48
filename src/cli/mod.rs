//! Command-line interface: one file per subcommand, each with an `Args` struct and a `run`.
//!
//! Exit codes: 0 success; 1 runtime failure (I/O, missing model, corrupt workspace); 2 usage error
//! (bad flags, bad config, unknown input format); 3 `analyze --fail-on-rejects` finished but rejected
//! rows; 4 another run is writing the workspace (`analyze` and `backtest` without `--wait`). A closed
//! output pipe ends quietly with 0.

mod analyze;
mod backtest;
mod calibration;
mod columns;
mod deliver;
mod eval;
mod explain;
mod export;
mod filters;
mod forget;
mod models;
mod output;
mod search;
mod serve;
mod signal_id;
mod topics;
mod train;
mod trends;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: `--fail-on-rejects` and rows were rejected.
pub const EXIT_REJECTS: u8 = 3;
/// Exit code: another run holds the workspace's writer lock.
pub const EXIT_LOCKED: u8 = 4;

/// xsignal finds emerging signals in English and German feedback: ingest, index, sentiment, topics, trends.
#[derive(Parser, Debug)]
#[command(name = "xsignal", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalOpts {
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Folder with the model files [default: $XSIGNAL_MODELS, else the `models` folder of the
    /// checkout the binary was built in, else $XDG_DATA_HOME/xsignal/models, i.e.
    /// ~/.local/share/xsignal/models].
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    /// Log level (off, error, warn, info, debug, trace). Logs never contain comment text.
    #[arg(
        long,
        global = true,
        default_value = "warn",
        env = "XSIGNAL_LOG",
        value_parser = ["off", "error", "warn", "info", "debug", "trace"]
    )]
    log: String,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ingest, index, embed, score sentiment, cluster topics and detect trends; adds to the workspace.
    Analyze(analyze::Args),
    /// Search the comments (tantivy query syntax) with filters.
    Search(search::Args),
    /// Write comments with their text, sentiment, topic, author pseudonym, rating and metadata to
    /// a CSV or Parquet file.
    Export(export::Args),
    /// List topics, or show one with --id.
    Topics(topics::Args),
    /// List flagged trends, or explain one.
    Trends(trends::Args),
    /// Manage model files.
    Models(models::Args),
    /// Train the sentiment head, or fit the sentiment model's calibration.
    Train(train::Args),
    /// Evaluate a stage on labelled data.
    Eval(eval::Args),
    /// Erase comments (by author id, comment id or query) from the workspace and every output.
    Forget(forget::Args),
    /// Run the pipeline over a labelled trend stream and score the flagged trends.
    Backtest(backtest::Args),
    /// POST the signal feed's events to the configured webhooks (signed, in order, retried).
    Deliver(deliver::Args),
    /// Serve the workspace's latest run over HTTP (JSON API, OpenAPI at /openapi.json).
    Serve(serve::Args),
    /// Print the default pipeline config (TOML), a starting point for `--config`.
    Config,
}

impl GlobalOpts {
    /// The models folder: `--models`, `XSIGNAL_MODELS`, the executable's checkout, the per-user
    /// data folder (`xsignal::models::location`).
    pub fn models_dir(&self) -> PathBuf {
        xsignal::models::location::resolve_models_dir(self.models.as_deref()).path
    }
}

/// An error with the exit code it should produce.
pub struct CliError {
    code: u8,
    error: anyhow::Error,
}

impl CliError {
    /// A usage error (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            code: EXIT_USAGE,
            error: error.into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(error: E) -> CliError {
        let error = error.into();
        let code = match error.downcast_ref::<xsignal::Error>() {
            Some(xsignal::Error::Config { .. })
            | Some(xsignal::Error::ConfigValues(_))
            | Some(xsignal::Error::Query(_))
            | Some(xsignal::Error::QueryRefused(_))
            | Some(xsignal::Error::MissingColumn(_)) => EXIT_USAGE,
            Some(xsignal::Error::Locked { .. }) => EXIT_LOCKED,
            Some(xsignal::Error::Invalid(message)) if message.contains("unknown input format") => {
                EXIT_USAGE
            }
            _ => EXIT_FAILURE,
        };
        CliError { code, error }
    }
}

/// What a subcommand returns.
pub type CliResult = Result<u8, CliError>;

/// Parses the command line, runs the subcommand, and maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global.log);
    if let Some(threads) = cli.global.threads {
        // The encoder's own thread pool reads this once, on first use.
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
        if let Err(error) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
        {
            eprintln!("xsignal: cannot set up {threads} threads: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    }
    let outcome = match &cli.command {
        Command::Analyze(args) => analyze::run(args, &cli.global),
        Command::Backtest(args) => backtest::run(args, &cli.global),
        Command::Forget(args) => forget::run(args, &cli.global),
        Command::Deliver(args) => deliver::run(args),
        Command::Search(args) => search::run(args),
        Command::Export(args) => export::run(args),
        Command::Topics(args) => topics::run(args),
        Command::Trends(args) => trends::run(args),
        Command::Models(args) => models::run(args, &cli.global),
        Command::Train(args) => train::run(args, &cli.global),
        Command::Eval(args) => eval::run(args, &cli.global),
        Command::Serve(args) => serve::run(args),
        Command::Config => print(&xsignal::Config::default().to_toml())
            .map(|()| EXIT_OK)
            .map_err(CliError::from),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if is_broken_pipe(&failure.error) {
                return ExitCode::from(EXIT_OK);
            }
            eprintln!("xsignal: {:#}", failure.error);
            if is_disk_full(&failure.error) {
                eprintln!(
                    "xsignal: the disk is full; the workspace still holds its last complete run \
                     (nothing of this one was committed): free space and run the command again"
                );
            }
            ExitCode::from(failure.code)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn is_disk_full(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        })
    })
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!("xsignal={level}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("xsignal=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Writes to stdout, turning a closed pipe into an error that ends the program quietly.
pub fn print(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}
