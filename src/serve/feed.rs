//! `/v1/feed`: the signal lifecycle events after a sequence number, with long polling.
//!
//! A client keeps the last `seq` it has seen and asks for the events after it. With `wait`, a
//! request that finds none waits up to that many seconds (at most [`MAX_WAIT_SECONDS`], below the
//! request timeout) for an `analyze` run to commit new ones, checking every half second.

use std::time::Duration;

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Scope;
use super::http::{ApiError, ErrorBody, Params, DEFAULT_PAGE, MAX_PAGE};
use super::signals::visible;
use super::snapshot::Snapshot;
use super::AppState;
use crate::feed::lifecycle::FeedEvent;

/// Longest long poll, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 20;
/// How often a long poll looks for a new generation.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Where to read the feed from.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Return events with a larger `seq` (default 0: from the start).
    after: Option<u64>,
    /// Most events to return (clamped to 1..=500; default 50).
    limit: Option<u64>,
    /// When there are none yet, wait up to this many seconds for new events (0 to 20).
    wait: Option<u64>,
}

/// One lifecycle event.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FeedEventView {
    /// Gapless sequence number, from 1.
    pub seq: u64,
    /// The `analyze` run that produced it.
    pub run: u64,
    /// `opened`, `updated` or `closed`.
    pub event: String,
    /// The signal's id.
    pub signal_id: String,
    /// Data time of the event.
    pub as_of: DateTime<Utc>,
    /// sha256 of the signal's JSON (empty for a withdrawn signal).
    pub digest: String,
    /// Why it closed: `fell_back` or `withdrawn`.
    pub reason: Option<String>,
    /// The whole signal (opened and updated events).
    #[schema(value_type = Option<Object>)]
    pub signal: Option<serde_json::Value>,
}

/// Events after `after`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// The events, in `seq` order.
    pub events: Vec<FeedEventView>,
    /// Pass as `after` next time: the last `seq` returned, or `after` when none was.
    pub last_seq: u64,
    /// True when more events follow.
    pub more: bool,
    /// The generation served.
    pub generation: u64,
}

fn event_visible(snapshot: &Snapshot, scope: &Scope, event: &FeedEvent) -> bool {
    match (scope, &event.signal) {
        (Scope::All, _) => true,
        (_, Some(signal)) => visible(snapshot, scope, signal),
        (_, None) => snapshot
            .signals
            .iter()
            .find(|signal| signal.id == event.signal_id)
            .is_some_and(|signal| visible(snapshot, scope, signal)),
    }
}

fn read(snapshot: &Snapshot, scope: &Scope, after: u64, limit: usize) -> FeedPage {
    let start = snapshot.feed.partition_point(|event| event.seq <= after);
    let mut events = Vec::new();
    let mut more = false;
    let mut last_seq = after;
    for event in &snapshot.feed[start..] {
        if events.len() == limit {
            more = true;
            break;
        }
        last_seq = event.seq;
        if !event_visible(snapshot, scope, event) {
            continue;
        }
        events.push(FeedEventView {
            seq: event.seq,
            run: event.run,
            event: super::views::serde_name(event.event),
            signal_id: event.signal_id.clone(),
            as_of: event.as_of,
            digest: event.digest.clone(),
            reason: event.reason.clone(),
            signal: event
                .signal
                .as_ref()
                .and_then(|signal| serde_json::to_value(signal).ok()),
        });
    }
    FeedPage {
        events,
        last_seq,
        more,
        generation: snapshot.generation,
    }
}

/// The lifecycle events after `after`, waiting up to `wait` seconds for new ones.
#[utoipa::path(get, path = "/v1/feed", tag = "feed", params(FeedParams),
    responses((status = 200, body = FeedPage), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    Extension(scope): Extension<Scope>,
    Params(params): Params<FeedParams>,
) -> Result<Json<FeedPage>, ApiError> {
    let after = params.after.unwrap_or(0);
    let limit = params.limit.map_or(DEFAULT_PAGE, |limit| {
        usize::try_from(limit)
            .unwrap_or(MAX_PAGE)
            .clamp(1, MAX_PAGE)
    });
    let wait = Duration::from_secs(params.wait.unwrap_or(0).min(MAX_WAIT_SECONDS));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let snapshot = state.snapshots.get().await;
        let page = read(&snapshot, &scope, after, limit);
        if page.last_seq > after || tokio::time::Instant::now() >= deadline {
            return Ok(Json(page));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
