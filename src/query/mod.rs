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
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::index::tests::{day, sample};
    use crate::index::{build, IndexDoc};
    use crate::types::{Comment, EnrichedComment};

    fn corpus() -> Vec<(Comment, EnrichedComment)> {
        let mut corpus = plain_corpus();
        let meta = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(name, value)| (name.to_string(), serde_json::json!(value)))
                .collect()
        };
        corpus[0].0.source = Some("AppStore".to_string());
        corpus[0].0.meta = meta(&[("Team", "Sales"), ("plan", "Pro Max")]);
        corpus[2].0.meta = meta(&[("team", "sales")]);
        corpus[5].0.meta = meta(&[("team", "Support")]);
        corpus
    }

    fn plain_corpus() -> Vec<(Comment, EnrichedComment)> {
        use SentimentLabel::*;
        vec![
            sample(
                "e1",
                "The batteries drain fast",
                Lang::En,
                Some(day(1)),
                Some("appstore"),
                Negative,
                Some(1),
            ),
            sample(
                "e2",
                "Battery life is great",
                Lang::En,
                Some(day(2)),
                Some("survey"),
                Positive,
                Some(1),
            ),
            sample(
                "e3",
                "Delivery was late again",
                Lang::En,
                Some(day(3)),
                Some("appstore"),
                Negative,
                Some(2),
            ),
            sample(
                "e4",
                "fast delivery, drain the swamp",
                Lang::En,
                Some(day(4)),
                Some("survey"),
                Neutral,
                None,
            ),
            sample(
                "d1",
                "Die Akkus sind schnell leer",
                Lang::De,
                Some(day(5)),
                Some("appstore"),
                Negative,
                Some(1),
            ),
            sample(
                "d2",
                "Die Lieferungen kommen immer zu spät",
                Lang::De,
                Some(day(6)),
                Some("survey"),
                Negative,
                Some(2),
            ),
            sample(
                "d3",
                "Viele Grüße an das Team",
                Lang::De,
                None,
                None,
                Positive,
                None,
            ),
            sample(
                "o1",
                "la batterie est vide",
                Lang::Other,
                Some(day(7)),
                Some("appstore"),
                Neutral,
                None,
            ),
        ]
    }

    #[test]
    fn source_values_and_field_names_match_in_any_case() {
        let dir = indexed();
        let mut request = query("*");
        request.source = Some("AppStore".to_string());
        assert_eq!(
            ids(&search(dir.path(), &request).unwrap()),
            ["d1", "e1", "e3", "o1"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("Source:SURVEY AND delivery")).unwrap()),
            ["e4"]
        );
        let hit = &search(dir.path(), &query("source:appstore AND battery"))
            .unwrap()
            .hits[0];
        // The stored value keeps its case.
        assert_eq!(hit.source.as_deref(), Some("AppStore"));
    }

    #[test]
    fn any_metadata_field_filters_in_query_text_and_as_a_filter() {
        let dir = indexed();
        assert_eq!(
            ids(&search(dir.path(), &query("team:sales")).unwrap()),
            ["e1", "e3"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("TEAM:Sales AND delivery")).unwrap()),
            ["e3"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("meta.team:support")).unwrap()),
            ["d2"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("plan:\"Pro Max\"")).unwrap()),
            ["e1"]
        );
        assert_eq!(
            search(dir.path(), &query("nosuchfield:foo")).unwrap().total,
            0
        );
        let mut request = query("*");
        request.meta = vec![("Team".to_string(), "SALES".to_string())];
        assert_eq!(ids(&search(dir.path(), &request).unwrap()), ["e1", "e3"]);
        request
            .meta
            .push(("plan".to_string(), "pro max".to_string()));
        assert_eq!(ids(&search(dir.path(), &request).unwrap()), ["e1"]);
        // Words of the query text never search metadata values.
        assert_eq!(search(dir.path(), &query("sales")).unwrap().total, 0);
    }

    fn build_corpus(dir: &Path, corpus: &[(Comment, EnrichedComment)]) {
        let docs: Vec<IndexDoc> = corpus
            .iter()
            .map(|(comment, enriched)| IndexDoc { comment, enriched })
            .collect();
        build(dir, &docs, 20_000_000).unwrap();
    }

    fn ids(results: &SearchResults) -> Vec<&str> {
        let mut ids: Vec<&str> = results.hits.iter().map(|hit| hit.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    fn query(text: &str) -> SearchQuery {
        SearchQuery {
            query: text.to_string(),
            limit: 100,
            ..SearchQuery::default()
        }
    }

    fn indexed() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        build_corpus(dir.path(), &corpus());
        dir
    }

    #[test]
    fn english_words_match_stemmed_forms() {
        let dir = indexed();
        let results = search(dir.path(), &query("battery")).unwrap();
        assert_eq!(ids(&results), ["e1", "e2"]);
        assert_eq!(results.total, 2);
        let hit = results.hits.iter().find(|hit| hit.id == "e1").unwrap();
        assert_eq!(hit.text, "The batteries drain fast");
        assert_eq!(hit.lang, "en");
        assert_eq!(hit.sentiment, "negative");
        assert_eq!(hit.source.as_deref(), Some("AppStore"));
        assert_eq!(hit.author.as_deref(), Some("author-e1"));
        assert_eq!(hit.timestamp, Some(day(1)));
        assert_eq!(hit.topic, Some(1));
        assert!((hit.sentiment_score + 0.8).abs() < 1e-6);
    }

    #[test]
    fn german_words_match_stemmed_forms() {
        let dir = indexed();
        assert_eq!(ids(&search(dir.path(), &query("Akku")).unwrap()), ["d1"]);
        assert_eq!(
            ids(&search(dir.path(), &query("Lieferung")).unwrap()),
            ["d2"]
        );
        assert_eq!(ids(&search(dir.path(), &query("gruesse")).unwrap()), ["d3"]);
    }

    #[test]
    fn terms_are_and_by_default_and_operators_work() {
        let dir = indexed();
        assert_eq!(
            ids(&search(dir.path(), &query("drain fast")).unwrap()),
            ["e1", "e4"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("battery OR akku")).unwrap()),
            ["d1", "e1", "e2"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("battery -great")).unwrap()),
            ["e1"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("source:survey AND delivery")).unwrap()),
            ["e4"]
        );
    }

    #[test]
    fn phrases_respect_word_order() {
        let dir = indexed();
        assert_eq!(
            ids(&search(dir.path(), &query("\"drain fast\"")).unwrap()),
            ["e1"]
        );
        assert_eq!(
            ids(&search(dir.path(), &query("\"fast drain\"")).unwrap()),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn empty_and_star_match_everything() {
        let dir = indexed();
        assert_eq!(search(dir.path(), &query("")).unwrap().total, 8);
        assert_eq!(search(dir.path(), &query(" * ")).unwrap().total, 8);
    }

    #[test]
    fn date_range_is_inclusive_exclusive() {
        let dir = indexed();
        let mut request = query("*");
        request.from = Some(day(2));
        request.to = Some(day(4));
        assert_eq!(ids(&search(dir.path(), &request).unwrap()), ["e2", "e3"]);
        request.to = None;
        // d3 has no timestamp and never matches a date filter.
        assert_eq!(search(dir.path(), &request).unwrap().total, 6);
    }

    #[test]
    fn structured_filters_narrow_the_text_query() {
        let dir = indexed();
        let mut request = query("*");
        request.sentiment = Some(SentimentLabel::Negative);
        assert_eq!(
            ids(&search(dir.path(), &request).unwrap()),
            ["d1", "d2", "e1", "e3"]
        );
        request.source = Some("appstore".to_string());
        assert_eq!(
            ids(&search(dir.path(), &request).unwrap()),
            ["d1", "e1", "e3"]
        );
        request.topic = Some(1);
        assert_eq!(ids(&search(dir.path(), &request).unwrap()), ["d1", "e1"]);
        request.lang = Some(Lang::De);
        assert_eq!(ids(&search(dir.path(), &request).unwrap()), ["d1"]);
        let mut request = query("battery");
        request.sentiment = Some(SentimentLabel::Positive);
        assert_eq!(ids(&search(dir.path(), &request).unwrap()), ["e2"]);
    }

    #[test]
    fn filters_do_not_change_scores() {
        let dir = indexed();
        let plain = search(dir.path(), &query("battery")).unwrap();
        let mut request = query("battery");
        request.source = Some("appstore".to_string());
        let filtered = search(dir.path(), &request).unwrap();
        let plain_e1 = plain.hits.iter().find(|hit| hit.id == "e1").unwrap().score;
        assert_eq!(filtered.hits[0].score, plain_e1);
    }

    #[test]
    fn total_counts_all_matches_while_hits_are_limited_and_tie_broken_by_id() {
        let dir = indexed();
        let mut request = query("*");
        request.limit = 3;
        let results = search(dir.path(), &request).unwrap();
        assert_eq!(results.total, 8);
        let in_order: Vec<&str> = results.hits.iter().map(|hit| hit.id.as_str()).collect();
        assert_eq!(in_order, ["d1", "d2", "d3"]);
        request.limit = 0;
        let results = search(dir.path(), &request).unwrap();
        assert_eq!((results.total, results.hits.len()), (8, 0));
    }

    #[test]
    fn time_order_is_newest_first_and_pages_by_offset() {
        let dir = indexed();
        let mut request = query("*");
        request.sort = SortOrder::Time;
        let in_order = |request: &SearchQuery| -> Vec<String> {
            search(dir.path(), request)
                .unwrap()
                .hits
                .into_iter()
                .map(|hit| hit.id)
                .collect()
        };
        assert_eq!(
            in_order(&request),
            ["o1", "d2", "d1", "e4", "e3", "e2", "e1", "d3"]
        );
        request.offset = 6;
        request.limit = 5;
        assert_eq!(in_order(&request), ["e1", "d3"]);
    }

    #[test]
    fn source_filters_and_scopes_ignore_case() {
        let dir = indexed();
        let mut request = query("*");
        request.source = Some("APPSTORE".to_string());
        assert_eq!(
            ids(&search(dir.path(), &request).unwrap()),
            ["d1", "e1", "e3", "o1"]
        );
        request.source = None;
        request.scope = Some(vec!["Survey".to_string()]);
        assert_eq!(
            ids(&search(dir.path(), &request).unwrap()),
            ["d2", "e2", "e4"]
        );
        request.scope = Some(vec!["nowhere".to_string()]);
        assert_eq!(search(dir.path(), &request).unwrap().total, 0);
    }

    #[test]
    fn facets_count_every_match() {
        let dir = indexed();
        let searcher = IndexSearcher::open(dir.path()).unwrap();
        let facets = searcher.facets(&query("*")).unwrap();
        assert_eq!(facets.total, 8);
        // Facets keep the values as written (e1's source is `AppStore`).
        assert_eq!(facets.sources["appstore"], 3);
        assert_eq!(facets.sources["AppStore"], 1);
        assert_eq!(facets.sources["survey"], 3);
        assert_eq!(
            (
                facets.languages["en"],
                facets.languages["de"],
                facets.languages["other"]
            ),
            (4, 3, 1)
        );
        assert_eq!(facets.topics.get(&1), Some(&3));
        assert_eq!(facets.topics.get(&2), Some(&2));
        assert_eq!(facets.days.values().sum::<u64>(), 7);
        assert_eq!(facets.distinct_authors, 8);
        let battery = searcher.facets(&query("battery")).unwrap();
        assert_eq!(battery.total, 2);
        assert_eq!(battery.sentiments["negative"], 1);
        assert_eq!(battery.sentiments["positive"], 1);
    }

    #[test]
    fn hits_are_ordered_by_score() {
        let dir = indexed();
        let results = search(dir.path(), &query("drain OR fast")).unwrap();
        let scores: Vec<f32> = results.hits.iter().map(|hit| hit.score).collect();
        assert!(
            scores.windows(2).all(|pair| pair[0] >= pair[1]),
            "{scores:?}"
        );
        assert_eq!(results.hits[0].id, "e1");
    }

    #[test]
    fn bad_query_is_a_query_error() {
        let dir = indexed();
        let error = search(dir.path(), &query("battery AND (drain")).unwrap_err();
        assert!(matches!(error, Error::Query(_)), "{error}");
    }

    #[test]
    fn search_without_index_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let error = search(dir.path(), &query("battery")).unwrap_err();
        assert!(
            error.to_string().contains("run `xsignal analyze` first"),
            "{error}"
        );
    }

    #[test]
    fn rebuild_replaces_old_documents() {
        let dir = indexed();
        build_corpus(dir.path(), &corpus());
        assert_eq!(search(dir.path(), &query("*")).unwrap().total, 8);
        assert_eq!(search(dir.path(), &query("battery")).unwrap().total, 2);
        build_corpus(dir.path(), &corpus()[..2]);
        assert_eq!(search(dir.path(), &query("*")).unwrap().total, 2);
        assert_eq!(search(dir.path(), &query("akku")).unwrap().total, 0);
    }

    #[test]
    fn results_do_not_depend_on_document_order() {
        let dir = indexed();
        let mut reversed = corpus();
        reversed.reverse();
        let other = tempfile::tempdir().unwrap();
        build_corpus(other.path(), &reversed);
        for text in ["*", "battery OR delivery OR akku", "fast"] {
            let mut request = query(text);
            request.limit = 4;
            assert_eq!(
                search(dir.path(), &request).unwrap(),
                search(other.path(), &request).unwrap(),
                "{text}"
            );
        }
    }
}
