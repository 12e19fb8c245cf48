//! The comment filters that `search` and `export` share, and how they become a [`SearchQuery`].

use chrono::{DateTime, Utc};
use xsignal::query::SearchQuery;
use xsignal::types::{Lang, SentimentLabel};

use super::CliError;

/// Filters on the comments (all must hold).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Filters {
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
}

impl Filters {
    /// The search for `text` (tantivy query syntax) with these filters, at most `limit` hits.
    pub fn query(&self, text: &str, limit: usize) -> Result<SearchQuery, CliError> {
        let sentiment = match &self.sentiment {
            Some(label) => Some(SentimentLabel::parse(label).ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "unknown sentiment {label:?} (expected negative, neutral or positive)"
                ))
            })?),
            None => None,
        };
        Ok(SearchQuery {
            query: text.to_string(),
            from: self.from.as_deref().map(parse_time).transpose()?,
            to: self.to.as_deref().map(parse_time).transpose()?,
            sentiment,
            source: self.source.clone(),
            meta: self.meta.clone(),
            topic: self.topic,
            lang: self.lang.as_deref().map(Lang::from_code),
            limit,
            ..SearchQuery::default()
        })
    }

    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.from.is_none()
            && self.to.is_none()
            && self.sentiment.is_none()
            && self.source.is_none()
            && self.meta.is_empty()
            && self.topic.is_none()
            && self.lang.is_none()
    }
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
    xsignal::query::parse_time(text).ok_or_else(|| {
        CliError::usage(anyhow::anyhow!(
            "cannot parse {text:?} as a time (expected RFC 3339 or YYYY-MM-DD)"
        ))
    })
}
