//! `xsignal search QUERY --workspace DIR [filters] [--json]`

use std::path::PathBuf;

use xsignal::query;
use xsignal::workspace::Workspace;

use super::filters::Filters;
use super::output::{printable, snippet};
use super::{print, CliResult, EXIT_OK};

/// Flags of `search`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tantivy query syntax: words (all must match by default), "phrases", OR, -word, field:value
    /// (source, lang, sentiment, author, topic, or any metadata field of the input rows, e.g.
    /// team:sales; values and field names in any case). Empty or * matches all.
    #[arg(default_value = "*")]
    query: String,
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    #[command(flatten)]
    filters: Filters,
    /// Most hits to show (at most the number of comments, and at most 100000).
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// JSON output (one object: total and hits).
    #[arg(long)]
    json: bool,
}

/// Runs `search`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let query = args.filters.query(&args.query, args.limit)?;
    let results = query::search(&workspace.path("index"), &query)?;
    if args.json {
        print(&(serde_json::to_string(&results)? + "\n"))?;
        return Ok(EXIT_OK);
    }
    let mut out = format!("{} matching comments\n", results.total);
    for hit in &results.hits {
        let when = hit
            .timestamp
            .map(|time| time.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into());
        let topic = hit
            .topic
            .map(|topic| topic.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<14} {} {:<8} {:<3} topic {:<4} {}\n    {}\n",
            printable(&hit.id),
            when,
            hit.sentiment,
            hit.lang,
            topic,
            printable(hit.source.as_deref().unwrap_or("-")),
            snippet(&hit.text)
        ));
    }
    print(&out)?;
    Ok(EXIT_OK)
}
