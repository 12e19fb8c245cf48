//! Query stage: searches the index that [`crate::index`] built.
//!
//! In: a [`SearchQuery`] (tantivy query syntax plus structured filters). Out: [`SearchResults`], the
//! number of matching comments and the best hits with their stored fields.
//!
//! The query text is parsed against the three language fields (`text_en`, `text_de`, `text_other`),
//! each with its own analyzer, so an English word is stemmed the English way for English comments and
//! a German word the German way for German comments. Terms are combined with AND unless the query
//! says otherwise (`battery OR akku`). Filters are added as non-scoring must-clauses, so they never
//! change the order of the hits. Hits are ordered by score, ties by id ascending. Query length and
//! nesting are bounded and the number of hits clamped (`limits.rs`). Values of exact fields match
//! whatever their case (`source:Twitter`, `--source Twitter`), and a field name the index does not
//! have is read as a metadata field (`team:sales`, `metadata.rs`). A scope (the sources a caller
//! may read) is one more filter. Hits come by relevance or newest first, from an offset, for
//! paging. [`facets`] counts the matches per source, language, sentiment, topic and day, and their
//! distinct authors.

pub mod facets;
#[cfg(test)]
mod fuzz_tests;
mod limits;
mod metadata;

pub use limits::{MAX_HITS, MAX_QUERY_BYTES, MAX_QUERY_DEPTH};

use std::cmp::Reverse;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tantivy::collector::{Count, ScoreSegmentTweaker, ScoreTweaker, TopDocs};
use tantivy::columnar::ColumnValues;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, DocId, Score, SegmentReader, TantivyDocument, Term};

use crate::error::Result;
use crate::index::{field_names, Fields};
use crate::types::{Lang, SentimentLabel, TopicId};

/// A search: query text and filters.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// tantivy query syntax (`AND`, `OR`, `NOT`/`-`, `"phrases"`, `field:value`); empty or `*` matches
    /// every comment.
    pub query: String,
    /// Only comments written at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only comments written before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only comments with this sentiment label.
    pub sentiment: Option<SentimentLabel>,
    /// Only comments from this source (any case).
    pub source: Option<String>,
    /// Only comments whose metadata field (name and value in any case) has this value.
    pub meta: Vec<(String, String)>,
    /// Only comments assigned to this topic.
    pub topic: Option<TopicId>,
    /// Only comments in this language.
    pub lang: Option<Lang>,
    /// Only comments from one of these sources (case-insensitive); `None`: every comment. A
    /// caller restricted to some sources passes them here.
    pub scope: Option<Vec<String>>,
    /// Order of the hits.
    pub sort: SortOrder,
    /// Hits to skip before the first returned (paging).
    pub offset: usize,
    /// Most hits to return (clamped to the number of comments and to [`MAX_HITS`]).
    pub limit: usize,
}

/// Parses a time of a filter: RFC 3339, or a plain date `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// How hits are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Best score first, ties by id ascending.
    #[default]
    Relevance,
    /// Newest first (comments without a time last), ties by id ascending.
    Time,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            query: String::new(),
            from: None,
            to: None,
            sentiment: None,
            source: None,
            meta: Vec::new(),
            topic: None,
            lang: None,
            scope: None,
            sort: SortOrder::Relevance,
            offset: 0,
            limit: 10,
        }
    }
}

/// One matching comment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hit {
    /// Comment id.
    pub id: String,
    /// Relevance score (BM25; 1 for every hit of a match-all query).
    pub score: f32,
    /// The comment text.
    pub text: String,
    /// When it was written, if known.
    pub timestamp: Option<DateTime<Utc>>,
    /// Author id, if known.
    pub author: Option<String>,
    /// Source, if known.
    pub source: Option<String>,
    /// Language code (`en`, `de`, `other`).
    pub lang: String,
    /// Sentiment label.
    pub sentiment: String,
    /// Sentiment polarity in [-1, 1].
    pub sentiment_score: f64,
    /// Topic, if assigned.
    pub topic: Option<TopicId>,
}

/// The answer to a [`SearchQuery`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchResults {
    /// Number of matching comments (may exceed `hits.len()`).
    pub total: usize,
    /// The best `limit` hits, by score, ties by id ascending.
    pub hits: Vec<Hit>,
}

/// Searches the index in `dir`.
pub fn search(dir: &Path, query: &SearchQuery) -> Result<SearchResults> {
    IndexSearcher::open(dir)?.search(query)
}

/// An opened index, for many searches (a committed index never changes: no reload, no watcher).
#[derive(Clone)]
pub struct IndexSearcher {
    index: tantivy::Index,
    fields: Fields,
    searcher: tantivy::Searcher,
}

impl IndexSearcher {
    /// Opens the index in `dir` read-only.
    pub fn open(dir: &Path) -> Result<IndexSearcher> {
        let index = crate::index::open(dir)?;
        let fields = Fields::resolve(&index.schema())?;
        let reader: tantivy::IndexReader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()?;
        Ok(IndexSearcher {
            searcher: reader.searcher(),
            index,
            fields,
        })
    }

    /// Number of comments in the index.
    pub fn num_docs(&self) -> u64 {
        self.searcher.num_docs()
    }

    /// The matches of `query`: their number and the hits from `query.offset`, at most
    /// `query.limit`.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        let parsed = self.build_query(query)?;
        let searcher = &self.searcher;
        let limit = limits::hits_to_collect(query.limit, searcher.num_docs());
        let offset = query.offset.min(MAX_HITS);
        if limit == 0 {
            let total = searcher.search(&parsed, &Count)?;
            return Ok(SearchResults {
                total,
                hits: Vec::new(),
            });
        }
        let top_docs = TopDocs::with_limit(limit)
            .and_offset(offset)
            .tweak_score(Ranking(query.sort));
        let (total, top) = searcher.search(&parsed, &(Count, top_docs))?;
        let addresses: Vec<(Score, DocAddress)> = top
            .into_iter()
            .map(|((primary, _), address)| match query.sort {
                SortOrder::Relevance => (primary as Score, address),
                SortOrder::Time => (1.0, address),
            })
            .collect();
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            hits.push(load_hit(searcher, &self.fields, address, score)?);
        }
        Ok(SearchResults { total, hits })
    }

    /// Counts the matches of `query` per source, language, sentiment, topic and day, and their
    /// distinct authors (the offset and limit do not apply).
    pub fn facets(&self, query: &SearchQuery) -> Result<facets::Facets> {
        let parsed = self.build_query(query)?;
        let counts = self.searcher.search(&parsed, &facets::FacetCollector)?;
        Ok(counts.finish())
    }

    /// The text query combined with the filters of `query`.
    fn build_query(&self, query: &SearchQuery) -> Result<Box<dyn Query>> {
        build_query(&self.index, &self.fields, query)
    }
}

/// The text query combined with the filters of `query`.
fn build_query(
    index: &tantivy::Index,
    fields: &Fields,
    query: &SearchQuery,
) -> Result<Box<dyn Query>> {
    let text = query.query.trim();
    let parser = text_parser(index, fields);
    let text_query = parse_text_query(index, &parser, text)?;
    let mut filters: Vec<Box<dyn Query>> = Vec::new();
    if query.from.is_some() || query.to.is_some() {
        let date_term = |time: DateTime<Utc>| {
            Term::from_field_date(fields.timestamp, crate::index::to_tantivy_date(time))
        };
        let lower = query
            .from
            .map_or(Bound::Unbounded, |from| Bound::Included(date_term(from)));
        let upper = query
            .to
            .map_or(Bound::Unbounded, |to| Bound::Excluded(date_term(to)));
        filters.push(Box::new(RangeQuery::new(lower, upper)));
    }
    let exact = |field, value: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        ))
    };
    if let Some(label) = query.sentiment {
        filters.push(exact(fields.sentiment, label.as_str()));
    }
    if let Some(source) = &query.source {
        filters.push(metadata::value_filter(
            &parser,
            field_names::SOURCE,
            source,
        )?);
    }
    if let Some(scope) = &query.scope {
        let mut any_source: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for source in scope {
            let filter = metadata::value_filter(&parser, field_names::SOURCE, source)?;
            any_source.push((Occur::Should, filter));
        }
        // No clause matches nothing.
        filters.push(Box::new(BooleanQuery::new(any_source)));
    }
    for (name, value) in &query.meta {
        let path = metadata::metadata_path(name);
        filters.push(metadata::value_filter(&parser, &path, value)?);
    }
    if let Some(lang) = query.lang {
        filters.push(exact(fields.lang, lang.code()));
    }
    if let Some(topic) = query.topic {
        let term = Term::from_field_u64(fields.topic, u64::from(topic));
        filters.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    if filters.is_empty() {
        return Ok(text_query);
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query)];
    for filter in filters {
        // Filters score zero so that they select without reordering.
        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

/// The parser of query text: words search the three language fields, AND by default.
fn text_parser(index: &tantivy::Index, fields: &Fields) -> QueryParser {
    let mut parser = QueryParser::for_index(
        index,
        vec![fields.text_en, fields.text_de, fields.text_other],
    );
    parser.set_conjunction_by_default();
    parser
}

/// Parses query text (trimmed): empty or `*` matches everything; text past the bounds of
/// `limits.rs` is refused before it reaches the parser.
fn parse_text_query(
    index: &tantivy::Index,
    parser: &QueryParser,
    text: &str,
) -> Result<Box<dyn Query>> {
    if text.is_empty() || text == "*" {
        return Ok(Box::new(AllQuery));
    }
    limits::check_query_text(text)?;
    metadata::parse_with_metadata(parser, &index.schema(), text)
}

fn load_hit(
    searcher: &tantivy::Searcher,
    fields: &Fields,
    address: DocAddress,
    score: Score,
) -> Result<Hit> {
    let document: TantivyDocument = searcher.doc(address)?;
    let text_of = |field| {
        document
            .get_first(field)
            .and_then(|value| value.as_str())
            .map(str::to_string)
    };
    Ok(Hit {
        id: text_of(fields.id).unwrap_or_default(),
        score,
        text: text_of(fields.text).unwrap_or_default(),
        timestamp: document
            .get_first(fields.timestamp)
            .and_then(|value| value.as_datetime())
            .and_then(crate::index::from_tantivy_date),
        author: text_of(fields.author),
        source: text_of(fields.source),
        lang: text_of(fields.lang).unwrap_or_default(),
        sentiment: text_of(fields.sentiment).unwrap_or_default(),
        sentiment_score: document
            .get_first(fields.sentiment_score)
            .and_then(|value| value.as_f64())
            .unwrap_or_default(),
        topic: document
            .get_first(fields.topic)
            .and_then(|value| value.as_u64())
            .and_then(|topic| TopicId::try_from(topic).ok()),
    })
}

/// Ranks by score (or, sorting by time, newest first; no time ranks last), then by id ascending
/// (through the `id_order` fast field, the id's rank among all ids), so results do not depend on
/// how documents fall into segments.
struct Ranking(SortOrder);

/// The ranking key: higher is better. Scores are f32 and times in microseconds stay below 2^53,
/// so both are exact as f64.
type RankKey = (f64, Reverse<u64>);

struct RankingSegment {
    sort: SortOrder,
    timestamp: tantivy::columnar::Column<tantivy::DateTime>,
    id_order: Arc<dyn ColumnValues<u64>>,
}

impl ScoreTweaker<RankKey> for Ranking {
    type Child = RankingSegment;

    fn segment_tweaker(&self, segment_reader: &SegmentReader) -> tantivy::Result<RankingSegment> {
        let fast = segment_reader.fast_fields();
        Ok(RankingSegment {
            sort: self.0,
            timestamp: fast.date(field_names::TIMESTAMP)?,
            id_order: fast
                .u64(field_names::ID_ORDER)?
                .first_or_default_col(u64::MAX),
        })
    }
}

impl ScoreSegmentTweaker<RankKey> for RankingSegment {
    fn score(&mut self, doc: DocId, score: Score) -> RankKey {
        let primary = match self.sort {
            SortOrder::Relevance => f64::from(score),
            SortOrder::Time => self.timestamp.first(doc).map_or(f64::NEG_INFINITY, |time| {
                time.into_timestamp_micros() as f64
            }),
        };
        (primary, Reverse(self.id_order.get_val(doc)))
    }
}

#[cfg(test)]
mod tests;
