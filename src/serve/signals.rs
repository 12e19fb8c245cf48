//! `/v1/signals`: the flagged trends, one with its evidence, chart series, breakdowns and examples.
//!
//! A caller limited to some sources sees a signal only when every supporting comment is from
//! those sources (the detector's figures come from those comments); breakdowns and examples are
//! counted over the comments the caller may see.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Scope;
use super::http::{parse_time, ApiError, ErrorBody, Page, PageRequest, Paging, Params};
use super::views::{topic_summary, Breakdown, CommentView, Tally, TopicSummary};
use super::AppState;
use crate::types::{SentimentLabel, Signal, SignalKind, TopicId};

/// Example comments shown with a signal.
const EXAMPLES: usize = 5;
/// Windows of history drawn before a signal's window in its chart.
const CHART_WINDOWS_BEFORE: i64 = 3;
/// Most points in a chart.
const MAX_POINTS: i64 = 500;
/// Most points in a list's sparkline.
const SPARKLINE_POINTS: usize = 40;

/// Kind of a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindParam {
    /// A topic whose volume rose.
    Topic,
    /// A term or term pair whose volume rose.
    Phrase,
    /// A topic whose negative share rose.
    SentimentShift,
}

impl From<SignalKind> for KindParam {
    fn from(kind: SignalKind) -> KindParam {
        match kind {
            SignalKind::Topic => KindParam::Topic,
            SignalKind::Phrase => KindParam::Phrase,
            SignalKind::SentimentShift => KindParam::SentimentShift,
        }
    }
}

/// Whether a signal's trend is still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still above its baseline.
    Open,
    /// Fallen back, or no longer flagged.
    Closed,
}

/// Filters of the signal list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignalFilters {
    /// Only signals of this kind.
    kind: Option<KindParam>,
    /// Only open or only closed signals.
    status: Option<Status>,
    /// Only signals first flagged at or after this time (RFC 3339 or YYYY-MM-DD).
    since: Option<String>,
    /// Only signals about this topic.
    topic: Option<TopicId>,
    /// Only signals with supporting comments from this source (case-insensitive).
    source: Option<String>,
    /// Page size (clamped to 1..=500; default 50).
    limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A signal in a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignalSummary {
    /// Stable id.
    pub id: String,
    /// What kind of trend.
    pub kind: KindParam,
    /// Readable label.
    pub label: String,
    /// Open or closed (the feed's last event).
    pub status: Status,
    /// End of the bucket in which the signal first passed every gate.
    pub first_flagged: DateTime<Utc>,
    /// Start of the window compared with the baseline.
    pub window_start: DateTime<Utc>,
    /// End of that window.
    pub window_end: DateTime<Utc>,
    /// Observed value in the window (distinct-text count, or negative share).
    pub observed: f64,
    /// Baseline mean of the same quantity.
    pub baseline_mean: f64,
    /// Significance (z-like).
    pub score: f64,
    /// Distinct authors among the supporting comments.
    pub distinct_authors: u64,
    /// Supporting comments listed.
    pub comments: u64,
    /// The topic the signal is about.
    pub topic: Option<TopicId>,
    /// That topic's theme.
    pub theme: Option<TopicId>,
    /// The chart's observed values (see [`SeriesPoint::observed`]), consecutive buckets summed
    /// (averaged for a sentiment shift) to at most 40 points, oldest first.
    pub sparkline: Vec<f64>,
}

/// One bucket of a signal's chart.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// The signal's comments in the bucket (topic signals: the topic's comments; phrase signals:
    /// the supporting comments), or for a sentiment shift the negative share of the topic's
    /// comments in the bucket.
    pub observed: f64,
    /// The baseline the detector held when it flagged, per bucket (the window's baseline mean
    /// divided by its buckets; a share for sentiment shifts).
    pub baseline_mean: f64,
    /// The value per bucket above which the window was significant: (max(baseline, beta) +
    /// z_threshold × (baseline std + beta)) divided by the window's buckets.
    pub threshold: f64,
}

/// A signal's chart: observed against baseline and threshold per bucket.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Series {
    /// Bucket length in seconds: the detector's bucket, or several of them merged when the chart
    /// would otherwise have more than 500 points.
    pub bucket_seconds: i64,
    /// Chart buckets in the flagged window (at least 1).
    pub window_buckets: i64,
    /// The buckets from a few windows before the flagged window to its end (or to when the trend
    /// fell back).
    pub points: Vec<SeriesPoint>,
}

/// One signal with everything an analyst needs to judge it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignalDetail {
    /// The signal.
    #[serde(flatten)]
    pub summary: SignalSummary,
    /// Baseline standard deviation.
    pub baseline_std: f64,
    /// Comments in the window ignored as duplicates.
    pub duplicates_ignored: u64,
    /// The detector's evidence: top phrases, gates and why each passed, merged items.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// Observed against baseline and threshold per bucket.
    pub series: Series,
    /// The supporting comments (visible to the caller), counted.
    pub breakdown: Breakdown,
    /// Sentiment of the signal's topic in the windows before the flagged one (absent without a
    /// topic).
    pub sentiment_before: Option<super::views::SentimentMix>,
    /// Supporting comment ids (visible to the caller).
    pub comment_ids: Vec<String>,
    /// A few supporting comments, duplicates left out.
    pub examples: Vec<CommentView>,
    /// The topic the signal is about.
    pub topic_detail: Option<TopicSummary>,
}

/// True when `scope` sees `signal`: every supporting comment is in scope.
pub fn visible(state_snapshot: &super::snapshot::Snapshot, scope: &Scope, signal: &Signal) -> bool {
    match scope {
        Scope::All => true,
        Scope::Sources(_) => signal.comment_ids.iter().all(|id| {
            state_snapshot
                .comment(id)
                .is_some_and(|comment| scope.allows(comment.source.as_deref()))
        }),
    }
}

/// The signal `id` when `scope` sees it; 404 otherwise.
fn find<'a>(
    snapshot: &'a super::snapshot::Snapshot,
    scope: &Scope,
    id: &str,
) -> Result<&'a Signal, ApiError> {
    snapshot
        .signals
        .iter()
        .find(|signal| signal.id == id)
        .filter(|signal| visible(snapshot, scope, signal))
        .ok_or_else(|| ApiError::not_found("signal"))
}

fn summary(snapshot: &super::snapshot::Snapshot, scope: &Scope, signal: &Signal) -> SignalSummary {
    let series = series(snapshot, scope, signal);
    SignalSummary {
        sparkline: sparkline(&series, signal.kind == SignalKind::SentimentShift),
        id: signal.id.clone(),
        kind: signal.kind.into(),
        label: signal.label.clone(),
        status: if snapshot.is_closed(&signal.id) {
            Status::Closed
        } else {
            Status::Open
        },
        first_flagged: signal.first_flagged,
        window_start: signal.window.start,
        window_end: signal.window.end,
        observed: signal.observed,
        baseline_mean: signal.baseline_mean,
        score: signal.score,
        distinct_authors: signal.distinct_authors,
        comments: signal.comment_ids.len() as u64,
        topic: signal.topic,
        theme: signal.theme,
    }
}

/// The signals, newest first.
#[utoipa::path(get, path = "/v1/signals", tag = "signals", params(SignalFilters),
    responses((status = 200, body = Page<SignalSummary>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Params(filters): Params<SignalFilters>,
) -> Result<Json<Page<SignalSummary>>, ApiError> {
    let snapshot = state.snapshots.get().await;
    let page = PageRequest::parse(
        filters.cursor.as_deref(),
        filters.limit,
        snapshot.generation,
    )?;
    let since = filters
        .since
        .as_deref()
        .map(|text| parse_time("since", text))
        .transpose()?;
    let source = filters.source.as_deref().map(str::to_lowercase);
    let mut selected: Vec<&Signal> = snapshot
        .signals
        .iter()
        .filter(|signal| {
            filters
                .kind
                .is_none_or(|kind| KindParam::from(signal.kind) == kind)
        })
        .filter(|signal| since.is_none_or(|since| signal.first_flagged >= since))
        .filter(|signal| {
            filters
                .topic
                .is_none_or(|topic| signal.topic == Some(topic))
        })
        .filter(|signal| {
            filters
                .status
                .is_none_or(|status| (status == Status::Closed) == snapshot.is_closed(&signal.id))
        })
        .filter(|signal| {
            source.as_ref().is_none_or(|source| {
                signal.comment_ids.iter().any(|id| {
                    snapshot.comment(id).is_some_and(|comment| {
                        comment
                            .source
                            .as_deref()
                            .is_some_and(|own| own.to_lowercase() == *source)
                    })
                })
            })
        })
        .filter(|signal| visible(&snapshot, &scope, signal))
        .collect();
    selected.sort_by(|a, b| {
        b.first_flagged
            .cmp(&a.first_flagged)
            .then_with(|| a.id.cmp(&b.id))
    });
    let items = selected
        .into_iter()
        .map(|signal| summary(&snapshot, &scope, signal))
        .collect();
    Ok(Json(page.page(items)))
}

/// One signal: evidence, chart, breakdowns, examples and its topic.
#[utoipa::path(get, path = "/v1/signals/{id}", tag = "signals",
    params(("id" = String, Path, description = "Signal id")),
    responses((status = 200, body = SignalDetail), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
) -> Result<Json<SignalDetail>, ApiError> {
    let snapshot = state.snapshots.get().await;
    let signal = find(&snapshot, &scope, &id)?;
    let mut tally = Tally::default();
    let mut comment_ids = Vec::new();
    let mut examples = Vec::new();
    for id in &signal.comment_ids {
        let Some(enriched) = snapshot.enriched(id) else {
            continue;
        };
        if !scope.allows(enriched.source.as_deref()) {
            continue;
        }
        tally.add(&snapshot, enriched);
        comment_ids.push(id.clone());
        if examples.len() < EXAMPLES && enriched.duplicate_of.is_none() {
            examples.extend(CommentView::of(&snapshot, &scope, id));
        }
    }
    let topic_detail = signal
        .topic
        .and_then(|topic| {
            snapshot
                .topics
                .iter()
                .find(|candidate| candidate.id == topic)
        })
        .map(|topic| topic_summary(&snapshot, &scope, topic));
    Ok(Json(SignalDetail {
        summary: summary(&snapshot, &scope, signal),
        baseline_std: signal.baseline_std,
        duplicates_ignored: signal.duplicates_ignored,
        evidence: signal.evidence.clone(),
        series: series(&snapshot, &scope, signal),
        breakdown: tally.finish(),
        sentiment_before: signal
            .topic
            .map(|topic| sentiment_before(&snapshot, &scope, signal, topic)),
        comment_ids,
        examples,
        topic_detail,
    }))
}

/// The supporting comments of one signal (those visible to the caller), in the signal's order.
#[utoipa::path(get, path = "/v1/signals/{id}/comments", tag = "signals",
    params(("id" = String, Path, description = "Signal id"), Paging),
    responses((status = 200, body = Page<CommentView>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn comments(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<CommentView>>, ApiError> {
    let snapshot = state.snapshots.get().await;
    let signal = find(&snapshot, &scope, &id)?;
    let page = PageRequest::parse(paging.cursor.as_deref(), paging.limit, snapshot.generation)?;
    let visible_ids: Vec<String> = signal
        .comment_ids
        .iter()
        .filter(|id| {
            snapshot
                .comment(id)
                .is_some_and(|comment| scope.allows(comment.source.as_deref()))
        })
        .cloned()
        .collect();
    let ids = page.page(visible_ids);
    Ok(Json(Page {
        items: ids
            .items
            .iter()
            .filter_map(|id| CommentView::of(&snapshot, &scope, id))
            .collect(),
        total: ids.total,
        next_cursor: ids.next_cursor,
    }))
}

/// `series`' observed values in at most [`SPARKLINE_POINTS`] groups of consecutive buckets,
/// summed, or averaged when `share` (a sentiment shift's negative share).
fn sparkline(series: &Series, share: bool) -> Vec<f64> {
    let group = series.points.len().div_ceil(SPARKLINE_POINTS).max(1);
    series
        .points
        .chunks(group)
        .map(|chunk| {
            let sum: f64 = chunk.iter().map(|point| point.observed).sum();
            if share {
                sum / chunk.len() as f64
            } else {
                sum
            }
        })
        .collect()
}

fn window_buckets(signal: &Signal) -> i64 {
    signal
        .evidence
        .get("window_buckets")
        .and_then(|value| value.as_i64())
        .filter(|buckets| *buckets > 0)
        .unwrap_or(1)
}

/// The span the chart covers: a few windows before the flagged one, to its end or to when the
/// trend fell back, whichever is later. Returns its start, the chart's bucket length, its buckets
/// and how many of the detector's buckets each holds: one, unless the span would take more than
/// [`MAX_POINTS`] buckets, when consecutive buckets are merged.
fn chart_span(signal: &Signal) -> (DateTime<Utc>, i64, i64, i64) {
    let buckets = window_buckets(signal);
    let window = signal.window.end - signal.window.start;
    let detector_bucket = (window.num_seconds() / buckets).max(1);
    let open_until = signal
        .evidence
        .get("open_until")
        .and_then(|value| value.as_str())
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc));
    let start = signal.window.start - window * CHART_WINDOWS_BEFORE as i32;
    let end = open_until.map_or(signal.window.end, |until| until.max(signal.window.end));
    let span = (end - start).num_seconds().max(1);
    let merged = ceil_div(ceil_div(span, detector_bucket), MAX_POINTS).max(1);
    let bucket_seconds = detector_bucket * merged;
    let points = ceil_div(span, bucket_seconds).clamp(1, MAX_POINTS);
    (start, bucket_seconds, points, merged)
}

/// `a / b` rounded up, for positive `a` and `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

fn series(snapshot: &super::snapshot::Snapshot, scope: &Scope, signal: &Signal) -> Series {
    let buckets = window_buckets(signal);
    let (start, bucket_seconds, points, merged) = chart_span(signal);
    let bucket_of = |time: DateTime<Utc>| -> Option<usize> {
        let offset = (time - start).num_seconds();
        (offset >= 0 && offset / bucket_seconds < points)
            .then(|| (offset / bucket_seconds) as usize)
    };
    let mut counts = vec![0f64; points as usize];
    let mut negatives = vec![0f64; points as usize];
    let trends = &snapshot.config.trends;
    match (signal.kind, signal.topic) {
        (SignalKind::Phrase, _) | (_, None) => {
            let supporting: BTreeSet<&str> =
                signal.comment_ids.iter().map(String::as_str).collect();
            for id in supporting {
                if let Some(enriched) = snapshot.enriched(id) {
                    if !scope.allows(enriched.source.as_deref()) {
                        continue;
                    }
                    if let Some(bucket) = enriched.timestamp.and_then(bucket_of) {
                        counts[bucket] += 1.0;
                    }
                }
            }
        }
        (_, Some(topic)) => {
            for enriched in &snapshot.enriched {
                if enriched.topic != Some(topic) || !scope.allows(enriched.source.as_deref()) {
                    continue;
                }
                if let Some(bucket) = enriched.timestamp.and_then(bucket_of) {
                    counts[bucket] += 1.0;
                    if enriched.sentiment.label == SentimentLabel::Negative {
                        negatives[bucket] += 1.0;
                    }
                }
            }
        }
    }
    // The window's figures spread over its buckets, as many of them as a chart bucket holds.
    let per_bucket = buckets as f64 / merged as f64;
    let points = (0..points as usize)
        .map(|index| {
            let bucket_start = start + Duration::seconds(bucket_seconds * index as i64);
            if signal.kind == SignalKind::SentimentShift {
                let share = if counts[index] > 0.0 {
                    negatives[index] / counts[index]
                } else {
                    0.0
                };
                SeriesPoint {
                    start: bucket_start,
                    observed: share,
                    baseline_mean: signal.baseline_mean,
                    threshold: signal.baseline_mean
                        + trends.sentiment_z_threshold * signal.baseline_std,
                }
            } else {
                SeriesPoint {
                    start: bucket_start,
                    observed: counts[index],
                    baseline_mean: signal.baseline_mean / per_bucket,
                    threshold: (signal.baseline_mean.max(trends.beta)
                        + trends.z_threshold * (signal.baseline_std + trends.beta))
                        / per_bucket,
                }
            }
        })
        .collect();
    Series {
        bucket_seconds,
        window_buckets: (buckets / merged).max(1),
        points,
    }
}

fn sentiment_before(
    snapshot: &super::snapshot::Snapshot,
    scope: &Scope,
    signal: &Signal,
    topic: TopicId,
) -> super::views::SentimentMix {
    let window = signal.window.end - signal.window.start;
    let from = signal.window.start - window * CHART_WINDOWS_BEFORE as i32;
    let mut counts = crate::types::SentimentCounts::default();
    for enriched in &snapshot.enriched {
        let before = enriched
            .timestamp
            .is_some_and(|time| time >= from && time < signal.window.start);
        if before && enriched.topic == Some(topic) && scope.allows(enriched.source.as_deref()) {
            counts.add(enriched.sentiment.label);
        }
    }
    counts.into()
}
