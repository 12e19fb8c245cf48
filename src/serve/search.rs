//! `/v1/search` (full-text search with filters, sort and facets) and `/v1/comments/{id}`.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Scope;
use super::http::{parse_time, ApiError, ErrorBody, PageRequest, Params, MAX_PAGE};
use super::views::CommentView;
use super::AppState;
use crate::query::facets::Facets;
use crate::query::{SearchQuery, SortOrder, MAX_HITS};
use crate::types::{Lang, SentimentLabel, TopicId};

/// Hit order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortParam {
    /// Best match first.
    #[default]
    Relevance,
    /// Newest first.
    Time,
}

/// Sentiment label filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentParam {
    /// Negative.
    Negative,
    /// Neutral.
    Neutral,
    /// Positive.
    Positive,
}

/// A search request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Query text (tantivy syntax: words, "phrases", OR, -word); empty or `*` matches all.
    q: Option<String>,
    /// Only this source (case-insensitive).
    source: Option<String>,
    /// Only this language: `en`, `de` or `other`.
    language: Option<String>,
    /// Only this sentiment.
    sentiment: Option<SentimentParam>,
    /// Only this topic.
    topic: Option<TopicId>,
    /// Only comments at or after this time (RFC 3339 or YYYY-MM-DD).
    since: Option<String>,
    /// Only comments before this time (RFC 3339 or YYYY-MM-DD).
    until: Option<String>,
    /// Metadata filters, `field:value` pairs separated by commas (values case-insensitive), e.g.
    /// `team:sales,plan:pro`.
    meta: Option<String>,
    /// `relevance` (default) or `time` (newest first).
    sort: Option<SortParam>,
    /// Include facets (default true).
    facets: Option<bool>,
    /// Page size (clamped to 1..=500; default 50).
    limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One hit.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// Relevance score (1 for every hit when sorted by time or matching all).
    pub score: f32,
    /// The comment.
    #[serde(flatten)]
    pub comment: CommentView,
}

/// A page of hits with the facets of all matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// The hits of this page.
    pub items: Vec<SearchHit>,
    /// Number of matching comments.
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Counts of all matches per source, language, sentiment, topic and day, and distinct authors.
    pub facets: Option<Facets>,
}

fn meta_filters(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (field, value) = pair.split_once(':').ok_or_else(|| {
                ApiError::bad_request("meta: expected field:value pairs separated by commas")
            })?;
            if field.trim().is_empty() {
                return Err(ApiError::bad_request("meta: empty field name"));
            }
            Ok((field.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// Searches the comments.
#[utoipa::path(get, path = "/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Params(params): Params<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    let snapshot = state.snapshots.get().await;
    let page = PageRequest::parse(params.cursor.as_deref(), params.limit, snapshot.generation)?;
    let sentiment = params.sentiment.map(|label| match label {
        SentimentParam::Negative => SentimentLabel::Negative,
        SentimentParam::Neutral => SentimentLabel::Neutral,
        SentimentParam::Positive => SentimentLabel::Positive,
    });
    let query = SearchQuery {
        query: params.q.clone().unwrap_or_default(),
        from: params
            .since
            .as_deref()
            .map(|text| parse_time("since", text))
            .transpose()?,
        to: params
            .until
            .as_deref()
            .map(|text| parse_time("until", text))
            .transpose()?,
        sentiment,
        source: params.source.clone(),
        topic: params.topic,
        lang: params.language.as_deref().map(Lang::from_code),
        meta: params
            .meta
            .as_deref()
            .map(meta_filters)
            .transpose()?
            .unwrap_or_default(),
        scope: scope.search_scope(),
        sort: match params.sort.unwrap_or_default() {
            SortParam::Relevance => SortOrder::Relevance,
            SortParam::Time => SortOrder::Time,
        },
        offset: page.offset.min(MAX_HITS),
        limit: page
            .limit
            .min(MAX_PAGE)
            .min(MAX_HITS.saturating_sub(page.offset)),
    };
    let with_facets = params.facets.unwrap_or(true);
    let searcher = snapshot.clone();
    let (results, facets) = tokio::task::spawn_blocking(move || {
        let results = searcher.searcher.search(&query)?;
        let facets = if with_facets {
            Some(searcher.searcher.facets(&query)?)
        } else {
            None
        };
        Ok::<_, crate::error::Error>((results, facets))
    })
    .await
    .map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )
    })??;
    let items: Vec<SearchHit> = results
        .hits
        .iter()
        .filter_map(|hit| {
            Some(SearchHit {
                score: hit.score,
                comment: CommentView::of(&snapshot, &scope, &hit.id)?,
            })
        })
        .collect();
    let reachable = results.total.min(MAX_HITS);
    Ok(Json(SearchPage {
        next_cursor: page.next(reachable),
        total: results.total as u64,
        items,
        facets,
    }))
}

/// One comment with its text and metadata.
#[utoipa::path(get, path = "/v1/comments/{id}", tag = "search",
    params(("id" = String, Path, description = "Comment id")),
    responses((status = 200, body = CommentView), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn comment(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
) -> Result<Json<CommentView>, ApiError> {
    let snapshot = state.snapshots.get().await;
    CommentView::of(&snapshot, &scope, &id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("comment"))
}
