//! `xsignal search QUERY --workspace DIR [filters] [--json]`

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use xsignal::query::{self, SearchQuery};
use xsignal::types::{Lang, SentimentLabel};
use xsignal::workspace::Workspace;

use super::output::printable;
use super::{print, CliError, CliResult, EXIT_OK};

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
    /// Only comments at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Only comments before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// Only this sentiment label: negative, neutral, positive.
    #[arg(long)]
    sentiment: Option<String>,
    /// Only this source or channel (any case: Twitter finds twitter).
    #[arg(long)]
    source: Option<String>,
    /// Only comments whose metadata field NAME (a column of the input kept as metadata) has this
    /// value, in any case; repeat for several.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_meta_filter)]
    meta: Vec<(String, String)>,
    /// Only this topic id.
    #[arg(long)]
    topic: Option<u32>,
    /// Only this language: en, de, other.
    #[arg(long)]
    lang: Option<String>,
    /// Most hits to show (at most the number of comments, and at most 100000).
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// JSON output (one object: total and hits).
    #[arg(long)]
    json: bool,
}

/// Parses `NAME=VALUE`.
pub fn parse_meta_filter(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected NAME=VALUE, got {text:?}")),
    }
}

/// Parses RFC 3339 or a plain date (midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    Err(CliError::usage(anyhow::anyhow!(
        "cannot parse {text:?} as a time (expected RFC 3339 or YYYY-MM-DD)"
    )))
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
        meta: args.meta.clone(),
        topic: args.topic,
        lang: args.lang.as_deref().map(Lang::from_code),
        limit: args.limit,
    };
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
