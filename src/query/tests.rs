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
