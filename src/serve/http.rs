//! The HTTP plumbing every handler shares: JSON errors, query-string parsing that answers bad
//! input with a JSON 400, and cursor paging.
//!
//! A cursor is opaque to clients: the hex of `GENERATION:OFFSET`. A cursor of an older generation
//! is refused with 409 (the list may have changed under it; start again from the first page), so a
//! client never pages across two runs without knowing.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Items per page when the request names no limit.
pub const DEFAULT_PAGE: usize = 50;
/// Most items per page; larger limits are clamped.
pub const MAX_PAGE: usize = 500;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, lowercase.
    pub error: String,
}

/// An error answered as JSON with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404: no such item (or not visible to the caller).
    pub fn not_found(what: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no such {what}"),
        }
    }

    /// Any other status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(error: crate::error::Error) -> ApiError {
        use crate::error::Error;
        match error {
            Error::Query(_) | Error::QueryRefused(_) => ApiError::bad_request(error.to_string()),
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

/// Query-string parameters; a parameter that does not parse is a JSON 400.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Number of items in the whole list.
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Paging of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size (clamped to 1..=500; default 50).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Where a page starts and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Items to skip.
    pub offset: usize,
    /// Items to return (1 to [`MAX_PAGE`]).
    pub limit: usize,
    /// The generation the cursor belongs to.
    pub generation: u64,
}

impl PageRequest {
    /// The page `cursor` (none: the first) of `limit` items (clamped), in `generation`.
    pub fn parse(
        cursor: Option<&str>,
        limit: Option<u64>,
        generation: u64,
    ) -> Result<PageRequest, ApiError> {
        let limit = limit.map_or(DEFAULT_PAGE, |limit| {
            usize::try_from(limit)
                .unwrap_or(MAX_PAGE)
                .clamp(1, MAX_PAGE)
        });
        let offset = match cursor.filter(|cursor| !cursor.is_empty()) {
            None => 0,
            Some(cursor) => {
                let (cursor_generation, offset) =
                    decode_cursor(cursor).ok_or_else(|| ApiError::bad_request("invalid cursor"))?;
                if cursor_generation != generation {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "the workspace has a newer run than this cursor: start again from the first page",
                    ));
                }
                offset
            }
        };
        Ok(PageRequest {
            offset,
            limit,
            generation,
        })
    }

    /// The page of `items` (the whole list).
    pub fn page<T: ToSchema>(&self, items: Vec<T>) -> Page<T> {
        let total = items.len();
        let items: Vec<T> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        Page {
            next_cursor: self.next(total),
            total: total as u64,
            items,
        }
    }

    /// The cursor after this page when the list has `total` items.
    pub fn next(&self, total: usize) -> Option<String> {
        let end = self.offset.saturating_add(self.limit);
        (end < total).then(|| encode_cursor(self.generation, end))
    }
}

fn encode_cursor(generation: u64, offset: usize) -> String {
    crate::hex::encode(format!("{generation}:{offset}").as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<(u64, usize)> {
    let bytes = crate::hex::decode(cursor)?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (generation, offset) = text.split_once(':')?;
    Some((generation.parse().ok()?, offset.parse().ok()?))
}

/// Parses parameter `name`: an RFC 3339 time or a plain date (midnight UTC).
pub fn parse_time(name: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    crate::query::parse_time(text).ok_or_else(|| {
        ApiError::bad_request(format!("{name}: expected an RFC 3339 time or YYYY-MM-DD"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_pages_end() {
        let first = PageRequest::parse(None, Some(2), 7).unwrap();
        let page = first.page(vec![1, 2, 3, 4, 5]);
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.total, 5);
        let next = PageRequest::parse(page.next_cursor.as_deref(), Some(2), 7).unwrap();
        assert_eq!(next.page(vec![1, 2, 3, 4, 5]).items, [3, 4]);
        let last = PageRequest::parse(
            next.page(vec![1, 2, 3, 4, 5]).next_cursor.as_deref(),
            Some(2),
            7,
        )
        .unwrap();
        let page = last.page(vec![1, 2, 3, 4, 5]);
        assert_eq!((page.items, page.next_cursor), (vec![5], None));
    }

    #[test]
    fn limits_are_clamped_and_bad_cursors_refused() {
        assert_eq!(PageRequest::parse(None, Some(0), 1).unwrap().limit, 1);
        assert_eq!(
            PageRequest::parse(None, Some(u64::MAX), 1).unwrap().limit,
            MAX_PAGE
        );
        assert_eq!(
            PageRequest::parse(Some("zz"), None, 1).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let stale = encode_cursor(1, 10);
        assert_eq!(
            PageRequest::parse(Some(&stale), None, 2)
                .unwrap_err()
                .status,
            StatusCode::CONFLICT
        );
    }
}
