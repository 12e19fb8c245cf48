//! `/v1/topics` and `/v1/themes`: topics and themes with keywords, representatives, sentiment,
//! lineage and size per day.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Scope;
use super::http::{ApiError, ErrorBody, Page, PageRequest, Paging, Params};
use super::snapshot::Snapshot;
use super::views::{
    topic_breakdown, topic_summary, Breakdown, CommentView, SentimentMix, TopicSummary,
};
use super::AppState;
use crate::topics::lineage::TopicEvent;
use crate::types::{SentimentCounts, TopicId};

/// Representative comments shown with a topic or theme.
const REPRESENTATIVES: usize = 5;
/// Keywords shown with a theme.
const THEME_KEYWORDS: usize = 10;

/// One lineage event of a topic.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineageEvent {
    /// Sequence number in `topic_events.jsonl`.
    pub seq: u64,
    /// `born`, `split_from`, `grew`, `merged_into` or `died`.
    pub event: String,
    /// The topic it happened to.
    pub topic: TopicId,
    /// The parent of a split, the survivor of a merge.
    pub other: Option<TopicId>,
    /// The data day whose comments produced it.
    pub epoch: Option<DateTime<Utc>>,
    /// Members before.
    pub previous_size: u64,
    /// Members after.
    pub size: u64,
}

impl From<&TopicEvent> for LineageEvent {
    fn from(event: &TopicEvent) -> LineageEvent {
        LineageEvent {
            seq: event.seq,
            event: super::views::serde_name(event.event),
            topic: event.topic,
            other: event.other,
            epoch: event.epoch,
            previous_size: event.previous_size,
            size: event.size,
        }
    }
}

/// One topic in full.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TopicDetail {
    /// The topic.
    #[serde(flatten)]
    pub summary: TopicSummary,
    /// Its most typical comments (visible to the caller).
    pub representatives: Vec<CommentView>,
    /// Its comments counted by source, language, sentiment and day, and their authors.
    pub breakdown: Breakdown,
    /// What happened to it, run by run.
    pub lineage: Vec<LineageEvent>,
}

/// A group of related topics.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ThemeView {
    /// Theme id (its smallest topic id).
    pub id: TopicId,
    /// Readable name.
    pub label: String,
    /// Its topics, largest first.
    pub topics: Vec<TopicId>,
    /// Comments in its topics (visible to the caller).
    pub size: u64,
    /// Key phrases of its topics, largest topic first, without repeats.
    pub keywords: Vec<String>,
    /// Sentiment of its comments.
    pub sentiment: SentimentMix,
    /// Comments per UTC day.
    pub size_per_day: BTreeMap<String, u64>,
    /// The most typical comment of each of its largest topics (visible to the caller).
    pub representatives: Vec<CommentView>,
    /// Lineage events of its topics.
    pub lineage: Vec<LineageEvent>,
}

fn representatives(snapshot: &Snapshot, scope: &Scope, ids: &[String]) -> Vec<CommentView> {
    ids.iter()
        .filter_map(|id| CommentView::of(snapshot, scope, id))
        .take(REPRESENTATIVES)
        .collect()
}

fn lineage(snapshot: &Snapshot, topics: &[TopicId]) -> Vec<LineageEvent> {
    snapshot
        .topic_events
        .iter()
        .filter(|event| topics.contains(&event.topic))
        .map(LineageEvent::from)
        .collect()
}

/// The topics, largest first.
#[utoipa::path(get, path = "/v1/topics", tag = "topics", params(Paging),
    responses((status = 200, body = Page<TopicSummary>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<TopicSummary>>, ApiError> {
    let snapshot = state.snapshots.get().await;
    let page = PageRequest::parse(paging.cursor.as_deref(), paging.limit, snapshot.generation)?;
    let mut topics: Vec<TopicSummary> = snapshot
        .topics
        .iter()
        .map(|topic| topic_summary(&snapshot, &scope, topic))
        .filter(|topic| topic.size > 0 || scope == Scope::All)
        .collect();
    topics.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    Ok(Json(page.page(topics)))
}

/// One topic: keywords, representatives, breakdowns, size per day and lineage.
#[utoipa::path(get, path = "/v1/topics/{id}", tag = "topics",
    params(("id" = u32, Path, description = "Topic id")),
    responses((status = 200, body = TopicDetail), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
) -> Result<Json<TopicDetail>, ApiError> {
    let id: TopicId = id
        .parse()
        .map_err(|_| ApiError::bad_request("topic id: expected a number"))?;
    let snapshot = state.snapshots.get().await;
    let topic = snapshot
        .topics
        .iter()
        .find(|topic| topic.id == id)
        .ok_or_else(|| ApiError::not_found("topic"))?;
    let summary = topic_summary(&snapshot, &scope, topic);
    if summary.size == 0 && scope != Scope::All {
        return Err(ApiError::not_found("topic"));
    }
    Ok(Json(TopicDetail {
        summary,
        representatives: representatives(&snapshot, &scope, &topic.representatives),
        breakdown: topic_breakdown(&snapshot, &scope, topic.id),
        lineage: lineage(&snapshot, &[topic.id]),
    }))
}

/// The themes, largest first, with their keywords, representatives, sentiment, lineage and size
/// per day.
#[utoipa::path(get, path = "/v1/themes", tag = "topics", params(Paging),
    responses((status = 200, body = Page<ThemeView>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn themes(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<ThemeView>>, ApiError> {
    let snapshot = state.snapshots.get().await;
    let page = PageRequest::parse(paging.cursor.as_deref(), paging.limit, snapshot.generation)?;
    // One pass over the comments: per topic, the visible comments by day and sentiment.
    let mut per_topic: HashMap<TopicId, (BTreeMap<String, u64>, SentimentCounts)> = HashMap::new();
    for enriched in &snapshot.enriched {
        let Some(topic) = enriched.topic else {
            continue;
        };
        if !scope.allows(enriched.source.as_deref()) {
            continue;
        }
        let (days, sentiment) = per_topic.entry(topic).or_default();
        sentiment.add(enriched.sentiment.label);
        if let Some(time) = enriched.timestamp {
            *days.entry(time.format("%Y-%m-%d").to_string()).or_default() += 1;
        }
    }
    let mut views = Vec::new();
    for theme in &snapshot.themes {
        let mut size_per_day = BTreeMap::new();
        let mut sentiment = SentimentCounts::default();
        let mut keywords: Vec<String> = Vec::new();
        let mut representative_ids = Vec::new();
        for topic_id in &theme.topics {
            if let Some((days, counts)) = per_topic.get(topic_id) {
                for (day, count) in days {
                    *size_per_day.entry(day.clone()).or_default() += count;
                }
                sentiment.negative += counts.negative;
                sentiment.neutral += counts.neutral;
                sentiment.positive += counts.positive;
            }
            if let Some(topic) = snapshot.topics.iter().find(|topic| topic.id == *topic_id) {
                for keyword in &topic.keywords {
                    if keywords.len() < THEME_KEYWORDS && !keywords.contains(keyword) {
                        keywords.push(keyword.clone());
                    }
                }
                representative_ids.extend(topic.representatives.first().cloned());
            }
        }
        let size = sentiment.total();
        if size == 0 && scope != Scope::All {
            continue;
        }
        views.push(ThemeView {
            id: theme.id,
            label: theme.label.clone(),
            topics: theme.topics.clone(),
            size,
            keywords,
            sentiment: sentiment.into(),
            size_per_day,
            representatives: representatives(&snapshot, &scope, &representative_ids),
            lineage: lineage(&snapshot, &theme.topics),
        });
    }
    views.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    Ok(Json(page.page(views)))
}
