//! `xsignal search QUERY --workspace DIR [filters] [--json]`

use std::path::PathBuf;

use xsignal::query::facets::Facets;
use xsignal::query::IndexSearcher;
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
    /// Also count the matches per source, language, sentiment, topic and day, and their distinct
    /// authors.
    #[arg(long)]
    facets: bool,
    /// JSON output (one object: total and hits, and facets with --facets).
    #[arg(long)]
    json: bool,
}

/// Runs `search`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let query = args.filters.query(&args.query, args.limit)?;
    let searcher = IndexSearcher::open(&workspace.path("index"))?;
    let results = searcher.search(&query)?;
    let facets = if args.facets {
        Some(searcher.facets(&query)?)
    } else {
        None
    };
    if args.json {
        let json = match &facets {
            Some(facets) => serde_json::json!({
                "total": results.total,
                "hits": results.hits,
                "facets": facets,
            }),
            None => serde_json::to_value(&results)?,
        };
        print(&(serde_json::to_string(&json)? + "\n"))?;
        return Ok(EXIT_OK);
    }
    let mut out = format!("{} matching comments\n", results.total);
    if let Some(facets) = &facets {
        out.push_str(&facets_text(facets));
    }
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

/// The facets as text: one line per facet, values by count (largest first, ties by value).
fn facets_text(facets: &Facets) -> String {
    fn line<K: ToString>(name: &str, counts: impl Iterator<Item = (K, u64)>) -> String {
        let mut pairs: Vec<(String, u64)> = counts
            .map(|(key, count)| (key.to_string(), count))
            .collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let listed: Vec<String> = pairs
            .iter()
            .map(|(key, count)| format!("{} {count}", printable(key)))
            .collect();
        format!(
            "{name:<11} {}\n",
            if listed.is_empty() {
                "-".to_string()
            } else {
                listed.join(", ")
            }
        )
    }
    let mut out = String::new();
    out.push_str(&format!("{:<11} {}\n", "authors", facets.distinct_authors));
    out.push_str(&line(
        "sources",
        facets.sources.iter().map(|(k, v)| (k, *v)),
    ));
    out.push_str(&line(
        "languages",
        facets.languages.iter().map(|(k, v)| (k, *v)),
    ));
    out.push_str(&line(
        "sentiments",
        facets.sentiments.iter().map(|(k, v)| (k, *v)),
    ));
    out.push_str(&line("topics", facets.topics.iter().map(|(k, v)| (k, *v))));
    let days: Vec<String> = facets
        .days
        .iter()
        .map(|(day, count)| format!("{day} {count}"))
        .collect();
    out.push_str(&format!(
        "{:<11} {}\n",
        "days",
        if days.is_empty() {
            "-".to_string()
        } else {
            days.join(", ")
        }
    ));
    out
}
