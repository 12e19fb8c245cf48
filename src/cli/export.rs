//! `xsignal export --workspace DIR [--query Q] [filters] [--signal ID] --format csv|parquet --out FILE`

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use xsignal::export::{self, Format, Table};
use xsignal::query::{self, MAX_HITS};
use xsignal::types::{Comment, EnrichedComment, Signal, Topic};
use xsignal::workspace::Workspace;

use super::filters::Filters;
use super::signal_id::find_signal;
use super::{CliError, CliResult, EXIT_OK};

/// Flags of `export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Only comments matching this query (the syntax of `xsignal search`; default: all).
    #[arg(long)]
    query: Option<String>,
    #[command(flatten)]
    filters: Filters,
    /// Only the comments of this signal: its number in `xsignal trends`, its id or a unique prefix.
    #[arg(long, value_name = "ID")]
    signal: Option<String>,
    /// File format [default: from the extension of --out, else csv].
    #[arg(long, value_parser = ["csv", "parquet"])]
    format: Option<String>,
    /// The file to write (created readable by its owner only: it holds the comments' text).
    #[arg(long, short)]
    out: PathBuf,
}

fn format_of(args: &Args) -> Format {
    let named = args.format.as_deref().or_else(|| {
        args.out
            .extension()
            .and_then(|extension| extension.to_str())
    });
    match named {
        Some(name) if name.eq_ignore_ascii_case("parquet") || name.eq_ignore_ascii_case("pq") => {
            Format::Parquet
        }
        _ => Format::Csv,
    }
}

/// Runs `export`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let store = workspace.load_store()?;
    let selected = select(args, &workspace, &store)?;
    let enriched: Vec<EnrichedComment> = workspace.comments()?;
    let topics: Vec<Topic> = workspace.topics()?;
    let table = Table::build(&selected, &enriched, &topics);
    let format = format_of(args);
    write(&args.out, &table, format)?;
    eprintln!(
        "wrote {} comments ({} columns) to {}",
        table.rows.len(),
        table.columns().len(),
        args.out.display()
    );
    Ok(EXIT_OK)
}

/// The stored comments the flags select, in store order.
fn select<'a>(
    args: &Args,
    workspace: &Workspace,
    store: &'a [Comment],
) -> Result<Vec<&'a Comment>, CliError> {
    let mut wanted: Option<HashSet<String>> = None;
    if let Some(reference) = &args.signal {
        let signals: Vec<Signal> = workspace.signals()?;
        let signal = find_signal(&signals, reference)?;
        wanted = Some(signal.comment_ids.iter().cloned().collect());
    }
    let text = args.query.as_deref().unwrap_or("*");
    let searches = !args.filters.is_empty() || !matches!(text.trim(), "" | "*");
    if searches {
        let request = args.filters.query(text, MAX_HITS)?;
        let results = query::search(&workspace.path("index"), &request)?;
        if results.total > results.hits.len() {
            return Err(CliError::usage(anyhow::anyhow!(
                "{} comments match, more than the {MAX_HITS} one export of a query writes: \
                 narrow the query or filters (or export everything without them)",
                results.total
            )));
        }
        let matching: HashSet<String> = results.hits.into_iter().map(|hit| hit.id).collect();
        wanted = Some(match wanted {
            Some(signal_ids) => signal_ids.intersection(&matching).cloned().collect(),
            None => matching,
        });
    }
    Ok(store
        .iter()
        .filter(|comment| wanted.as_ref().is_none_or(|ids| ids.contains(&comment.id)))
        .collect())
}

fn write(path: &Path, table: &Table, format: Format) -> anyhow::Result<()> {
    use anyhow::Context;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    match format {
        Format::Csv => export::write_csv(table, &mut out),
        Format::Parquet => export::write_parquet(table, &mut out),
    }
    .with_context(|| format!("writing {}", path.display()))?;
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
