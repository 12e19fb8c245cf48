//! Facets of a search: how many matching comments per source, language, sentiment, topic and
//! UTC day, and how many distinct authors wrote them.
//!
//! A tantivy [`Collector`]: each segment counts its matches from the fast fields (term ordinals
//! for the text fields, so no stored document is read), turns the ordinals into values when it is
//! done, and the segments' counts merge by adding (authors by union). The one implementation
//! behind `xsignal search --facets` and the HTTP API's search facets.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::index::field_names;
use crate::types::TopicId;

/// Counts of the matching comments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Facets {
    /// Number of matching comments.
    pub total: u64,
    /// Matches per source (comments without a source are not counted here).
    pub sources: BTreeMap<String, u64>,
    /// Matches per language code.
    pub languages: BTreeMap<String, u64>,
    /// Matches per sentiment label.
    pub sentiments: BTreeMap<String, u64>,
    /// Matches per topic id (unassigned comments are not counted here).
    #[schema(value_type = BTreeMap<String, u64>)]
    pub topics: BTreeMap<TopicId, u64>,
    /// Matches per UTC day (`YYYY-MM-DD`; comments without a time are not counted here).
    pub days: BTreeMap<String, u64>,
    /// Distinct authors among the matches (comments without an author are not counted).
    pub distinct_authors: u64,
}

/// The counts of one or more segments, before the authors are reduced to their number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FacetCounts {
    total: u64,
    sources: BTreeMap<String, u64>,
    languages: BTreeMap<String, u64>,
    sentiments: BTreeMap<String, u64>,
    topics: BTreeMap<TopicId, u64>,
    days: BTreeMap<String, u64>,
    authors: BTreeSet<String>,
}

impl FacetCounts {
    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: FacetCounts) {
        self.total += other.total;
        add_all(&mut self.sources, other.sources);
        add_all(&mut self.languages, other.languages);
        add_all(&mut self.sentiments, other.sentiments);
        add_all(&mut self.topics, other.topics);
        add_all(&mut self.days, other.days);
        self.authors.extend(other.authors);
    }

    /// The facets, authors counted.
    pub fn finish(self) -> Facets {
        Facets {
            total: self.total,
            sources: self.sources,
            languages: self.languages,
            sentiments: self.sentiments,
            topics: self.topics,
            days: self.days,
            distinct_authors: self.authors.len() as u64,
        }
    }
}

fn add_all<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (key, count) in from {
        *into.entry(key).or_default() += count;
    }
}

/// Collects [`FacetCounts`] of the matching documents.
pub struct FacetCollector;

/// Counts by term ordinal of one segment.
pub struct FacetSegment {
    total: u64,
    source: Option<OrdinalCounts>,
    lang: Option<OrdinalCounts>,
    sentiment: Option<OrdinalCounts>,
    author: Option<OrdinalCounts>,
    topic: Column<u64>,
    topics: HashMap<u64, u64>,
    timestamp: Column<tantivy::DateTime>,
    days: HashMap<i64, u64>,
}

/// A text fast field and the number of matches per term ordinal.
struct OrdinalCounts {
    column: StrColumn,
    counts: HashMap<u64, u64>,
}

impl OrdinalCounts {
    fn open(segment: &SegmentReader, field: &str) -> tantivy::Result<Option<OrdinalCounts>> {
        Ok(segment
            .fast_fields()
            .str(field)?
            .map(|column| OrdinalCounts {
                column,
                counts: HashMap::new(),
            }))
    }

    fn add(&mut self, doc: DocId) {
        for ordinal in self.column.term_ords(doc) {
            *self.counts.entry(ordinal).or_default() += 1;
        }
    }

    fn values(&self) -> tantivy::Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        let mut value = String::new();
        for (&ordinal, &count) in &self.counts {
            value.clear();
            if self.column.ord_to_str(ordinal, &mut value)? {
                *out.entry(value.clone()).or_default() += count;
            }
        }
        Ok(out)
    }
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _segment_ordinal: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let fast = segment.fast_fields();
        Ok(FacetSegment {
            total: 0,
            source: OrdinalCounts::open(segment, field_names::SOURCE)?,
            lang: OrdinalCounts::open(segment, field_names::LANG)?,
            sentiment: OrdinalCounts::open(segment, field_names::SENTIMENT)?,
            author: OrdinalCounts::open(segment, field_names::AUTHOR)?,
            topic: fast.u64(field_names::TOPIC)?,
            topics: HashMap::new(),
            timestamp: fast.date(field_names::TIMESTAMP)?,
            days: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut merged = FacetCounts::default();
        for fruit in fruits {
            merged.merge(fruit);
        }
        Ok(merged)
    }
}

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

impl SegmentCollector for FacetSegment {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        for counts in [
            &mut self.source,
            &mut self.lang,
            &mut self.sentiment,
            &mut self.author,
        ]
        .into_iter()
        .flatten()
        {
            counts.add(doc);
        }
        if let Some(topic) = self.topic.first(doc) {
            *self.topics.entry(topic).or_default() += 1;
        }
        if let Some(time) = self.timestamp.first(doc) {
            let day = time.into_timestamp_micros().div_euclid(MICROS_PER_DAY);
            *self.days.entry(day).or_default() += 1;
        }
    }

    fn harvest(self) -> FacetCounts {
        // Reading a term of the segment's own dictionary fails only on a corrupt index; such a
        // term is left out of the counts.
        let values = |counts: &Option<OrdinalCounts>| {
            counts
                .as_ref()
                .and_then(|counts| counts.values().ok())
                .unwrap_or_default()
        };
        let days = self
            .days
            .iter()
            .filter_map(|(&day, &count)| {
                let start = DateTime::<Utc>::from_timestamp(day * 86_400, 0)?;
                Some((start.format("%Y-%m-%d").to_string(), count))
            })
            .collect();
        FacetCounts {
            total: self.total,
            sources: values(&self.source),
            languages: values(&self.lang),
            sentiments: values(&self.sentiment),
            topics: self
                .topics
                .iter()
                .filter_map(|(&topic, &count)| Some((TopicId::try_from(topic).ok()?, count)))
                .collect(),
            days,
            authors: values(&self.author).into_keys().collect(),
        }
    }
}
