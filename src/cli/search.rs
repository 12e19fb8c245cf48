//! `xsignal search QUERY --workspace DIR [filters] [--json]`

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use xsignal::query::facets::Facets;
use xsignal::query::{self, IndexSearcher, SearchQuery};
use xsignal::types::{Lang, SentimentLabel};
use xsignal::workspace::Workspace;

use super::output::printable;
use super::{print, CliError, CliResult, EXIT_OK};

/// Flags of `search`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tantivy query syntax: words (all must match by default), "phrases", OR, -word, field:value
    /// (source, lang, sentiment, topic). Empty or * matches all.
    #[arg(default_value = "*")]
    query: String,
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Only comments at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Only comments before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// Only this sentiment label: negative, neutral, positive.
    #[arg(long)]
    sentiment: Option<String>,
    /// Only this source or channel.
    #[arg(long)]
    source: Option<String>,
    /// Only this topic id.
    #[arg(long)]
    topic: Option<u32>,
    /// Only this language: en, de, other.
    #[arg(long)]
    lang: Option<String>,
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

/// Parses RFC 3339 or a plain date (midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, CliError> {
    query::parse_time(text).ok_or_else(|| {
        CliError::usage(anyhow::anyhow!(
            "cannot parse {text:?} as a time (expected RFC 3339 or YYYY-MM-DD)"
        ))
    })
}

/// Runs `search`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let sentiment = match &args.sentiment {
        Some(label) => Some(SentimentLabel::parse(label).ok_or_else(|| {
            CliError::usage(anyhow::anyhow!(
                "unknown sentiment {label:?} (expected negative, neutral or positive)"
            ))
        })?),
        None => None,
    };
    let query = SearchQuery {
        query: args.query.clone(),
        from: args.from.as_deref().map(parse_time).transpose()?,
        to: args.to.as_deref().map(parse_time).transpose()?,
        sentiment,
        source: args.source.clone(),
        topic: args.topic,
        lang: args.lang.as_deref().map(Lang::from_code),
        limit: args.limit,
        ..SearchQuery::default()
    };
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
        let snippet: String = hit.text.chars().take(160).collect();
        out.push_str(&format!(
            "{:<14} {} {:<8} {:<3} topic {:<4} {}\n    {}\n",
            printable(&hit.id),
            when,
            hit.sentiment,
            hit.lang,
            topic,
            printable(hit.source.as_deref().unwrap_or("-")),
            printable(&snippet.replace('\n', " "))
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
