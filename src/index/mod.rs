//! Index stage: writes the comments and their enrichments into a tantivy full-text index.
//!
//! In: [`Comment`]s paired with their [`EnrichedComment`]s ([`IndexDoc`]). Out: a tantivy index in a
//! folder of the workspace, which [`crate::query`] searches.
//!
//! Each comment's text is indexed in the field of its language so that it is stemmed with the right
//! rules: English text in `text_en` (tokenizer [`TOKENIZER_EN`]), German text in `text_de`
//! ([`TOKENIZER_DE`]), anything else in `text_other` (tantivy's `default` tokenizer). The original
//! text is stored, not indexed, in `text`. Metadata (time, author, source, language, sentiment, topic,
//! duplicate flag) are indexed as exact terms and fast fields, so they can filter a search and be
//! counted ([`crate::query::facets`]). The text
//! values among them (author, source, language, sentiment) are indexed lowercased
//! ([`TOKENIZER_KEYWORD`]), so `source:Twitter` finds `twitter`; the stored value and the fast
//! field keep the original. Every other field of the input row (the comment's `meta`) is indexed in
//! the JSON field `meta` under its lowercased name, values lowercased, so `meta.team:sales` (and,
//! through [`crate::query`], `team:sales`) filters on it.
//!
//! The build is deterministic: documents are added in the given order by one indexing thread and
//! committed once. A hidden fast field `id_order` holds each document's rank among all ids sorted
//! ascending; searches use it to break score ties by id without reading stored documents.

mod readonly;

use std::path::Path;

use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, NumericOptions,
    OwnedValue, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};
use tantivy::{Index, TantivyDocument};

use crate::error::{Error, Result};
use crate::types::{Comment, EnrichedComment, Lang};

/// Name of the English analyzer: simple tokens, long tokens dropped, lowercase, English stems,
/// ASCII folding.
pub const TOKENIZER_EN: &str = "xs_en";
/// Name of the German analyzer: simple tokens, long tokens dropped, lowercase, `ae`/`oe`/`ue` read as
/// umlauts, German stems, plural `-s` of loanwords removed (`Akkus` -> `akku`), ASCII folding.
pub const TOKENIZER_DE: &str = "xs_de";

/// Name of the analyzer of exact values (source, language, sentiment, author, metadata): the whole
/// value as one token, lowercased.
pub const TOKENIZER_KEYWORD: &str = "xs_keyword";

/// Tokens longer than this many bytes are dropped (they are usually URLs or garbage).
const MAX_TOKEN_BYTES: usize = 40;
/// tantivy refuses writer memory budgets below this (per thread).
const MIN_WRITER_MEMORY_BYTES: usize = 15_000_000;
/// tantivy refuses writer memory budgets above this (per thread).
const MAX_WRITER_MEMORY_BYTES: usize = u32::MAX as usize - 1_000_000;

/// Field names of the index schema.
pub mod field_names {
    /// Comment id (exact term, stored).
    pub const ID: &str = "id";
    /// Rank of the id among all ids sorted ascending (fast field, used to break score ties).
    pub const ID_ORDER: &str = "id_order";
    /// The original text (stored only).
    pub const TEXT: &str = "text";
    /// Text of English comments, English analyzer.
    pub const TEXT_EN: &str = "text_en";
    /// Text of German comments, German analyzer.
    pub const TEXT_DE: &str = "text_de";
    /// Text of other comments, tantivy's default analyzer.
    pub const TEXT_OTHER: &str = "text_other";
    /// When the comment was written (date, microsecond precision in the fast field).
    pub const TIMESTAMP: &str = "timestamp";
    /// Author id (exact term).
    pub const AUTHOR: &str = "author";
    /// Source or channel (exact term).
    pub const SOURCE: &str = "source";
    /// Language code: `en`, `de` or `other` (exact term).
    pub const LANG: &str = "lang";
    /// Sentiment label: `negative`, `neutral` or `positive` (exact term).
    pub const SENTIMENT: &str = "sentiment";
    /// Sentiment polarity in [-1, 1].
    pub const SENTIMENT_SCORE: &str = "sentiment_score";
    /// Topic id (u64), absent when unassigned.
    pub const TOPIC: &str = "topic";
    /// True when the comment duplicates an earlier one.
    pub const DUPLICATE: &str = "duplicate";
    /// The row's other fields (JSON object, names and text values lowercased, indexed only).
    pub const META: &str = "meta";
}

/// One document to index: a comment and what the pipeline learned about it.
#[derive(Clone, Copy, Debug)]
pub struct IndexDoc<'a> {
    /// The ingested comment.
    pub comment: &'a Comment,
    /// Its enrichments; `enriched.id` must equal `comment.id`.
    pub enriched: &'a EnrichedComment,
}

/// What [`build`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    /// Number of documents in the index.
    pub docs: u64,
}

/// The schema's fields, resolved once.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// See [`field_names::ID`].
    pub id: Field,
    /// See [`field_names::ID_ORDER`].
    pub id_order: Field,
    /// See [`field_names::TEXT`].
    pub text: Field,
    /// See [`field_names::TEXT_EN`].
    pub text_en: Field,
    /// See [`field_names::TEXT_DE`].
    pub text_de: Field,
    /// See [`field_names::TEXT_OTHER`].
    pub text_other: Field,
    /// See [`field_names::TIMESTAMP`].
    pub timestamp: Field,
    /// See [`field_names::AUTHOR`].
    pub author: Field,
    /// See [`field_names::SOURCE`].
    pub source: Field,
    /// See [`field_names::LANG`].
    pub lang: Field,
    /// See [`field_names::SENTIMENT`].
    pub sentiment: Field,
    /// See [`field_names::SENTIMENT_SCORE`].
    pub sentiment_score: Field,
    /// See [`field_names::TOPIC`].
    pub topic: Field,
    /// See [`field_names::DUPLICATE`].
    pub duplicate: Field,
    /// See [`field_names::META`]; `None` in an index written before metadata was indexed (the
    /// next `analyze` rebuilds it).
    pub meta: Option<Field>,
}

impl Fields {
    /// Resolves the fields in `schema`; fails when the schema is not an xsignal index schema
    /// (for instance an index written by an older build).
    pub fn resolve(schema: &Schema) -> Result<Fields> {
        let get = |name: &str| {
            schema.get_field(name).map_err(|_| {
                Error::Invalid(format!(
                    "index schema has no field `{name}`: rebuild it with `xsignal analyze`"
                ))
            })
        };
        Ok(Fields {
            id: get(field_names::ID)?,
            id_order: get(field_names::ID_ORDER)?,
            text: get(field_names::TEXT)?,
            text_en: get(field_names::TEXT_EN)?,
            text_de: get(field_names::TEXT_DE)?,
            text_other: get(field_names::TEXT_OTHER)?,
            timestamp: get(field_names::TIMESTAMP)?,
            author: get(field_names::AUTHOR)?,
            source: get(field_names::SOURCE)?,
            lang: get(field_names::LANG)?,
            sentiment: get(field_names::SENTIMENT)?,
            sentiment_score: get(field_names::SENTIMENT_SCORE)?,
            topic: get(field_names::TOPIC)?,
            duplicate: get(field_names::DUPLICATE)?,
            meta: schema.get_field(field_names::META).ok(),
        })
    }
}

/// The index schema.
pub fn schema() -> Schema {
    let mut builder = Schema::builder();
    let analyzed = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    builder.add_text_field(field_names::ID, STRING | STORED);
    builder.add_u64_field(field_names::ID_ORDER, FAST);
    builder.add_text_field(field_names::TEXT, STORED);
    builder.add_text_field(field_names::TEXT_EN, analyzed(TOKENIZER_EN));
    builder.add_text_field(field_names::TEXT_DE, analyzed(TOKENIZER_DE));
    builder.add_text_field(field_names::TEXT_OTHER, analyzed("default"));
    builder.add_date_field(
        field_names::TIMESTAMP,
        DateOptions::from(INDEXED | FAST | STORED).set_precision(DateTimePrecision::Microseconds),
    );
    let keyword_indexing = || {
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER_KEYWORD)
            .set_index_option(IndexRecordOption::Basic)
    };
    let keyword = TextOptions::default()
        .set_indexing_options(keyword_indexing())
        .set_stored();
    // The fast field keeps the value as it came (no normaliser).
    let keyword_fast = keyword.clone().set_fast(None);
    // Authors are a fast field too, for the distinct-author count of facets.
    builder.add_text_field(field_names::AUTHOR, keyword.set_fast(None));
    builder.add_text_field(field_names::SOURCE, keyword_fast.clone());
    builder.add_text_field(field_names::LANG, keyword_fast.clone());
    builder.add_text_field(field_names::SENTIMENT, keyword_fast);
    builder.add_f64_field(field_names::SENTIMENT_SCORE, FAST | STORED);
    builder.add_u64_field(field_names::TOPIC, INDEXED | FAST | STORED);
    builder.add_bool_field(field_names::DUPLICATE, NumericOptions::from(INDEXED | FAST));
    builder.add_json_field(
        field_names::META,
        JsonObjectOptions::default()
            .set_indexing_options(keyword_indexing())
            .set_expand_dots_enabled(),
    );
    builder.build()
}

/// Registers the custom analyzers ([`TOKENIZER_EN`], [`TOKENIZER_DE`]) on `index`. [`build`] and
/// [`open`] do this; call it only for an index opened some other way.
pub fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(TOKENIZER_EN, english_analyzer());
    index.tokenizers().register(TOKENIZER_DE, german_analyzer());
    index
        .tokenizers()
        .register(TOKENIZER_KEYWORD, keyword_analyzer());
}

fn keyword_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .build()
}

fn english_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .filter(AsciiFoldingFilter)
        .build()
}

fn german_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(TokenMap(german_digraphs_to_umlauts))
        .filter(Stemmer::new(Language::German))
        .filter(TokenMap(strip_german_plural_s))
        .filter(AsciiFoldingFilter)
        .build()
}

/// Reads the transliterations `ae`, `oe`, `ue` as `ä`, `ö`, `ü` (not `ue` after `q`), as Snowball's
/// `german2` variant does, so that "Gruesse" and "Grüße" get the same stem. Returns `None` when the
/// word has none.
fn german_digraphs_to_umlauts(word: &str) -> Option<String> {
    if !(word.contains("ae") || word.contains("oe") || word.contains("ue")) {
        return None;
    }
    let mut out = String::with_capacity(word.len());
    let mut previous: Option<char> = None;
    let mut chars = word.chars().peekable();
    while let Some(ch) = chars.next() {
        let umlaut = match (ch, chars.peek()) {
            ('a', Some('e')) => Some('ä'),
            ('o', Some('e')) => Some('ö'),
            ('u', Some('e')) if previous != Some('q') => Some('ü'),
            _ => None,
        };
        match umlaut {
            Some(umlaut) => {
                chars.next();
                out.push(umlaut);
                previous = Some(umlaut);
            }
            None => {
                out.push(ch);
                previous = Some(ch);
            }
        }
    }
    Some(out)
}

/// Removes the plural `-s` of loanwords after a vowel (`akkus` -> `akku`, `autos` -> `auto`,
/// `handys` -> `handy`), which the Snowball German stemmer keeps. Applied to stems of at least five
/// characters, at index and query time alike, so it only conflates, never loses, matches.
fn strip_german_plural_s(stem: &str) -> Option<String> {
    let mut reversed = stem.chars().rev();
    let last = reversed.next()?;
    let before_last = reversed.next()?;
    let long_enough = stem.chars().count() >= 5;
    if last == 's' && matches!(before_last, 'a' | 'i' | 'o' | 'u' | 'y') && long_enough {
        let mut out = stem.to_string();
        out.pop();
        return Some(out);
    }
    None
}

/// A token filter that rewrites each token's text with a function (`None` keeps the text).
#[derive(Clone, Copy)]
struct TokenMap(fn(&str) -> Option<String>);

impl TokenFilter for TokenMap {
    type Tokenizer<T: Tokenizer> = TokenMapTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> TokenMapTokenizer<T> {
        TokenMapTokenizer {
            inner: tokenizer,
            map: self.0,
        }
    }
}

#[derive(Clone)]
struct TokenMapTokenizer<T> {
    inner: T,
    map: fn(&str) -> Option<String>,
}

impl<T: Tokenizer> Tokenizer for TokenMapTokenizer<T> {
    type TokenStream<'a> = TokenMapStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        TokenMapStream {
            tail: self.inner.token_stream(text),
            map: self.map,
        }
    }
}

struct TokenMapStream<S> {
    tail: S,
    map: fn(&str) -> Option<String>,
}

impl<S: TokenStream> TokenStream for TokenMapStream<S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(mapped) = (self.map)(&token.text) {
            token.text = mapped;
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Converts a chrono time to tantivy's, at the microsecond precision the index keeps.
pub(crate) fn to_tantivy_date(time: chrono::DateTime<chrono::Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_micros(time.timestamp_micros())
}

/// Converts a tantivy time back to chrono; `None` when out of chrono's range.
pub(crate) fn from_tantivy_date(time: tantivy::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_micros(time.into_timestamp_micros())
}

/// True when `dir` holds (part of) a tantivy index.
fn looks_like_index(dir: &Path) -> bool {
    dir.join("meta.json").is_file() || dir.join(".managed.json").is_file()
}

/// Makes `dir` an empty folder: creates it, or removes the index in it. Refuses to delete a
/// non-empty folder that does not look like an index.
fn prepare_empty_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if looks_like_index(dir) {
            std::fs::remove_dir_all(dir).map_err(|source| Error::io(dir, source))?;
        } else {
            let mut entries = std::fs::read_dir(dir).map_err(|source| Error::io(dir, source))?;
            if entries.next().is_some() {
                return Err(Error::Invalid(format!(
                    "{}: folder is not empty and holds no index; refusing to replace it",
                    dir.display()
                )));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::io(dir, source))
}

/// Ranks of the ids of `docs` in ascending id order, in document order. Equal ids share a rank.
fn id_ranks(docs: &[IndexDoc]) -> Vec<u64> {
    let mut sorted: Vec<&str> = docs.iter().map(|doc| doc.comment.id.as_str()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    docs.iter()
        .map(|doc| {
            let rank = sorted.partition_point(|id| *id < doc.comment.id.as_str());
            rank as u64
        })
        .collect()
}

fn to_document(fields: &Fields, doc: &IndexDoc, id_order: u64) -> TantivyDocument {
    let comment = doc.comment;
    let enriched = doc.enriched;
    debug_assert_eq!(
        comment.id, enriched.id,
        "index doc pairs two different comments"
    );
    let mut document = TantivyDocument::default();
    document.add_text(fields.id, &comment.id);
    document.add_u64(fields.id_order, id_order);
    document.add_text(fields.text, &comment.text);
    let text_field = match comment.lang {
        Lang::En => fields.text_en,
        Lang::De => fields.text_de,
        Lang::Other => fields.text_other,
    };
    document.add_text(text_field, &comment.text);
    if let Some(timestamp) = comment.timestamp {
        document.add_date(fields.timestamp, to_tantivy_date(timestamp));
    }
    if let Some(author) = &comment.author {
        document.add_text(fields.author, author);
    }
    if let Some(source) = &comment.source {
        document.add_text(fields.source, source);
    }
    document.add_text(fields.lang, comment.lang.code());
    document.add_text(fields.sentiment, enriched.sentiment.label.as_str());
    document.add_f64(fields.sentiment_score, f64::from(enriched.sentiment.score));
    if let Some(topic) = enriched.topic {
        document.add_u64(fields.topic, u64::from(topic));
    }
    document.add_bool(fields.duplicate, enriched.duplicate_of.is_some());
    if let (Some(meta_field), false) = (fields.meta, comment.meta.is_empty()) {
        let lowered: serde_json::Map<String, serde_json::Value> = comment
            .meta
            .iter()
            // tantivy separates JSON path segments with control bytes: such names cannot be
            // indexed (and no query can name them).
            .filter(|(name, _)| !name.chars().any(char::is_control))
            .map(|(name, value)| (name.to_lowercase(), value.clone()))
            .collect();
        document.add_field_value(meta_field, &OwnedValue::from(lowered));
    }
    document
}

/// Rebuilds the index in `dir` from scratch: creates the folder, or replaces the index in it.
///
/// Documents are added in the given order by a single indexing thread with a memory budget of
/// `writer_memory_bytes` (clamped to what tantivy accepts), then committed once.
pub fn build(dir: &Path, docs: &[IndexDoc], writer_memory_bytes: usize) -> Result<IndexStats> {
    prepare_empty_dir(dir)?;
    let index = Index::create_in_dir(dir, schema())?;
    register_tokenizers(&index);
    let fields = Fields::resolve(&index.schema())?;
    let memory = writer_memory_bytes.clamp(MIN_WRITER_MEMORY_BYTES, MAX_WRITER_MEMORY_BYTES);
    let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, memory)?;
    let ranks = id_ranks(docs);
    for (doc, rank) in docs.iter().zip(ranks) {
        writer.add_document(to_document(&fields, doc, rank))?;
    }
    writer.commit()?;
    crate::failpoint::hit("index.commit");
    writer.wait_merging_threads()?;
    tracing::debug!(docs = docs.len(), dir = %dir.display(), "index built");
    Ok(IndexStats {
        docs: docs.len() as u64,
    })
}

/// Opens the index in `dir` read-only (no lock file, no write access needed), with the custom
/// analyzers registered.
pub fn open(dir: &Path) -> Result<Index> {
    if !dir.join("meta.json").is_file() {
        return Err(Error::Invalid(format!(
            "no index in {}: run `xsignal analyze` first",
            dir.display()
        )));
    }
    let index = Index::open(readonly::ReadOnlyDirectory::open(dir)?)?;
    register_tokenizers(&index);
    Ok(index)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{Origin, Sentiment, SentimentLabel};
    use chrono::{DateTime, TimeZone, Utc};

    fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// A comment and its enrichment, for tests here and in `query`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sample(
        id: &str,
        text: &str,
        lang: Lang,
        timestamp: Option<DateTime<Utc>>,
        source: Option<&str>,
        label: SentimentLabel,
        topic: Option<u32>,
    ) -> (Comment, EnrichedComment) {
        let comment = Comment {
            id: id.to_string(),
            text: text.to_string(),
            timestamp,
            author: Some(format!("author-{id}")),
            source: source.map(str::to_string),
            lang,
            lang_detected: false,
            rating: None,
            meta: Default::default(),
            origin: Origin {
                file: "test.csv".to_string(),
                line: 1,
            },
        };
        let score = match label {
            SentimentLabel::Negative => -0.8,
            SentimentLabel::Neutral => 0.0,
            SentimentLabel::Positive => 0.7,
        };
        let enriched = EnrichedComment {
            id: id.to_string(),
            lang,
            timestamp,
            source: source.map(str::to_string),
            sentiment: Sentiment {
                label,
                score,
                confidence: 0.9,
            },
            sentences: Vec::new(),
            topic,
            topic_confidence: topic.map(|_| 0.5),
            duplicate_of: None,
        };
        (comment, enriched)
    }

    pub(crate) fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, d, 12, 0, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn english_analyzer_stems_and_folds() {
        let mut analyzer = english_analyzer();
        assert_eq!(
            analyze(&mut analyzer, "Batteries drain FAST"),
            ["batteri", "drain", "fast"]
        );
        assert_eq!(analyze(&mut analyzer, "battery café"), ["batteri", "cafe"]);
        let long = "x".repeat(60);
        assert_eq!(analyze(&mut analyzer, &format!("ok {long}")), ["ok"]);
    }

    #[test]
    fn german_analyzer_conflates_plurals_and_umlaut_spellings() {
        let mut analyzer = german_analyzer();
        assert_eq!(
            analyze(&mut analyzer, "Akku"),
            analyze(&mut analyzer, "Akkus")
        );
        assert_eq!(
            analyze(&mut analyzer, "Lieferung"),
            analyze(&mut analyzer, "Lieferungen")
        );
        assert_eq!(
            analyze(&mut analyzer, "Grüße"),
            analyze(&mut analyzer, "Gruesse")
        );
        assert_eq!(
            analyze(&mut analyzer, "Grüße"),
            analyze(&mut analyzer, "grusse")
        );
        assert_eq!(
            analyze(&mut analyzer, "Qualität"),
            analyze(&mut analyzer, "Qualitaet")
        );
        assert_eq!(
            analyze(&mut analyzer, "Autos"),
            analyze(&mut analyzer, "Auto")
        );
        // "Haus" is too short for the plural rule and keeps its stem apart from "hauen".
        assert_ne!(
            analyze(&mut analyzer, "Haus"),
            analyze(&mut analyzer, "hauen")
        );
    }

    #[test]
    fn digraphs_keep_qu() {
        assert_eq!(
            german_digraphs_to_umlauts("quelle"),
            Some("quelle".to_string())
        );
        assert_eq!(
            german_digraphs_to_umlauts("gruesse"),
            Some("grüsse".to_string())
        );
        assert_eq!(german_digraphs_to_umlauts("akku"), None);
    }

    #[test]
    fn id_ranks_follow_sorted_ids() {
        let (c1, e1) = sample(
            "b",
            "x",
            Lang::En,
            None,
            None,
            SentimentLabel::Neutral,
            None,
        );
        let (c2, e2) = sample(
            "a",
            "x",
            Lang::En,
            None,
            None,
            SentimentLabel::Neutral,
            None,
        );
        let (c3, e3) = sample(
            "c",
            "x",
            Lang::En,
            None,
            None,
            SentimentLabel::Neutral,
            None,
        );
        let docs = [
            IndexDoc {
                comment: &c1,
                enriched: &e1,
            },
            IndexDoc {
                comment: &c2,
                enriched: &e2,
            },
            IndexDoc {
                comment: &c3,
                enriched: &e3,
            },
        ];
        assert_eq!(id_ranks(&docs), vec![1, 0, 2]);
    }

    #[test]
    fn open_without_index_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let error = open(dir.path()).unwrap_err();
        assert!(error.to_string().contains("no index in"), "{error}");
        assert!(error.to_string().contains("xsignal analyze"), "{error}");
    }

    #[test]
    fn build_refuses_to_replace_a_folder_that_is_not_an_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
        let error = build(dir.path(), &[], 20_000_000).unwrap_err();
        assert!(error.to_string().contains("refusing"), "{error}");
        assert!(dir.path().join("precious.txt").exists());
    }

    #[test]
    fn build_writes_all_fields_and_rebuild_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let index_dir = dir.path().join("index");
        let (c1, e1) = sample(
            "c1",
            "The batteries drain fast",
            Lang::En,
            Some(day(1)),
            Some("appstore"),
            SentimentLabel::Negative,
            Some(7),
        );
        let (c2, mut e2) = sample(
            "c2",
            "Die Akkus sind leer",
            Lang::De,
            None,
            None,
            SentimentLabel::Neutral,
            None,
        );
        e2.duplicate_of = Some("c1".to_string());
        let docs = [
            IndexDoc {
                comment: &c1,
                enriched: &e1,
            },
            IndexDoc {
                comment: &c2,
                enriched: &e2,
            },
        ];
        let stats = build(&index_dir, &docs, 1).unwrap();
        assert_eq!(stats.docs, 2);
        let stats = build(&index_dir, &docs[..1], 50_000_000).unwrap();
        assert_eq!(stats.docs, 1);
        let index = open(&index_dir).unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.num_docs(), 1);
        let fields = Fields::resolve(&index.schema()).unwrap();
        let document: TantivyDocument = searcher.doc(tantivy::DocAddress::new(0, 0)).unwrap();
        use tantivy::schema::Value;
        let id = document
            .get_first(fields.id)
            .and_then(|value| value.as_str());
        assert_eq!(id, Some("c1"));
        let topic = document
            .get_first(fields.topic)
            .and_then(|value| value.as_u64());
        assert_eq!(topic, Some(7));
        let time = document
            .get_first(fields.timestamp)
            .and_then(|value| value.as_datetime());
        assert_eq!(time.and_then(from_tantivy_date), Some(day(1)));
    }
}
