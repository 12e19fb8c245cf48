//! `xsignal trends --workspace DIR [--explain ID] [--json]`

use std::path::PathBuf;

use xsignal::types::Signal;
use xsignal::workspace::{read_jsonl, Workspace};

use super::output::printable;
use super::{print, CliError, CliResult, EXIT_OK};

/// Flags of `trends`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Print one signal's full evidence.
    #[arg(long)]
    explain: Option<String>,
    /// JSON lines output.
    #[arg(long)]
    json: bool,
}

/// Runs `trends`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let signals: Vec<Signal> = read_jsonl(&workspace.path("signals.jsonl"))?;
    if let Some(id) = &args.explain {
        let signal = signals
            .iter()
            .find(|signal| &signal.id == id)
            .ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "no signal {id:?} in {}",
                    args.workspace.display()
                ))
            })?;
        print(&(serde_json::to_string_pretty(signal)? + "\n"))?;
        return Ok(EXIT_OK);
    }
    let mut out = String::new();
    if !args.json && signals.is_empty() {
        out.push_str("no signals\n");
    }
    for signal in &signals {
        if args.json {
            out.push_str(&serde_json::to_string(signal)?);
            out.push('\n');
        } else {
            out.push_str(&format!(
                "{}  {:<15} score {:>6.1}  observed {:>7.2} vs {:.2}±{:.2}  authors {:>4}  dup ignored {:>4}  {}\n    id {}\n",
                signal.first_flagged.format("%Y-%m-%d %H:%M"),
                format!("{:?}", signal.kind),
                signal.score,
                signal.observed,
                signal.baseline_mean,
                signal.baseline_std,
                signal.distinct_authors,
                signal.duplicates_ignored,
                printable(&signal.label),
                printable(&signal.id)
            ));
        }
    }
    print(&out)?;
    Ok(EXIT_OK)
}
