//! The HTTP API (`xsignal serve`): a read-only JSON view of a workspace's committed run for
//! analysts and other systems, and a dashboard over it.
//!
//! Owns the server: routing, authentication and scopes (`auth.rs`), paging and errors
//! (`http.rs`), the loaded generation and the switch to a newer one (`snapshot.rs`), the
//! resources (`signals.rs`, `topics.rs`, `search.rs`, `feed.rs`), health and metrics (`ops.rs`),
//! the dashboard at `/` (`dashboard.rs`, its files in `assets/`) and the OpenAPI 3 document,
//! generated from the handlers' annotations with utoipa and served at `/openapi.json`. It reads
//! the workspace through [`crate::workspace::Workspace`] and [`crate::query`] and writes nothing.
//!
//! Built on axum and tokio, with tower-http for timeouts, body limits and CORS. Each request
//! passes, outermost first: the request timeout, the body limit, CORS (only when origins are
//! configured), the bookkeeping (count and latency by route template; the log line names the
//! route template and status, never the URI, its query string or any comment text), the
//! query-string length limit and the token check, which attaches the caller's [`auth::Scope`].

pub mod auth;
mod dashboard;
mod feed;
pub mod http;
mod ops;
mod search;
mod signals;
pub mod snapshot;
mod topics;
mod views;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;

use crate::error::{Error, Result};
use auth::{Scope, ServeSettings, Tokens};
use http::ApiError;
use snapshot::Snapshots;

/// Longest a request may take; long polls wait less (at most 20 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body accepted (the API takes none; anything larger is refused unread).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest query string accepted, in bytes (the query text itself is bounded by
/// [`crate::query::MAX_QUERY_BYTES`]).
pub const MAX_QUERY_STRING_BYTES: usize = 4 * 1024;

/// What `xsignal serve` needs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The workspace folder.
    pub workspace: PathBuf,
    /// Address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// Tokens and CORS.
    pub settings: ServeSettings,
    /// Deliver the feed to the webhooks of the workspace config while serving (as `xsignal
    /// deliver` does; one deliverer per workspace).
    pub deliver: bool,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    snapshots: Arc<Snapshots>,
    metrics: Arc<ops::Metrics>,
    tokens: Arc<Tokens>,
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "xsignal", description = "Emerging signals in experience data: signals, topics, themes, search and the lifecycle feed of one workspace."),
    paths(
        signals::list, signals::detail, signals::comments, topics::list, topics::detail, topics::themes,
        search::search, search::comment, feed::feed, ops::health, ops::metrics
    ),
    components(schemas(search::SentimentParam, search::SortParam, signals::KindParam, signals::Status)),
    modifiers(&BearerScheme),
    tags(
        (name = "signals", description = "Flagged trends"),
        (name = "topics", description = "Topics and themes"),
        (name = "search", description = "Comments"),
        (name = "feed", description = "Signal lifecycle events"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

/// The API's routes and layers over `state`.
pub fn router(state: AppState, cors_origins: &[String]) -> Result<Router> {
    let api = Router::new()
        .route("/v1/signals", get(signals::list))
        .route("/v1/signals/{id}", get(signals::detail))
        .route("/v1/signals/{id}/comments", get(signals::comments))
        .route("/v1/topics", get(topics::list))
        .route("/v1/topics/{id}", get(topics::detail))
        .route("/v1/themes", get(topics::themes))
        .route("/v1/search", get(search::search))
        .route("/v1/comments/{id}", get(search::comment))
        .route("/v1/feed", get(feed::feed))
        .route("/metrics", get(ops::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    let mut app = Router::new()
        .route("/health", get(ops::health))
        .route("/openapi.json", get(openapi_json))
        .route("/", get(dashboard::index))
        .route("/assets/{name}", get(dashboard::file))
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn(limit_query_string))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    if !cors_origins.is_empty() {
        let mut origins = Vec::new();
        for origin in cors_origins {
            origins.push(HeaderValue::from_str(origin).map_err(|_| {
                Error::Invalid(format!(
                    "serve.cors_origins: {origin:?} is not a valid origin"
                ))
            })?);
        }
        app = app.layer(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET])
                .allow_headers([header::AUTHORIZATION]),
        );
    }
    Ok(app
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        )))
}

/// Counts, times and logs each request by its route template.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.record(&route, status, elapsed);
    tracing::info!(route = %route, status, micros = elapsed.as_micros() as u64, "request");
    response
}

/// Refuses query strings longer than [`MAX_QUERY_STRING_BYTES`].
async fn limit_query_string(request: Request, next: Next) -> Response {
    let length = request.uri().query().map_or(0, str::len);
    if length > MAX_QUERY_STRING_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the query string is {length} bytes long, over the limit of {MAX_QUERY_STRING_BYTES}"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Checks the bearer token and attaches the caller's scope.
async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let header_value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let Some(scope) = state.tokens.scope_of(header_value) else {
        let mut response =
            ApiError::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
                .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    request.extensions_mut().insert::<Scope>(scope);
    next.run(request).await
}

/// Serves the workspace until interrupted (Ctrl-C or SIGTERM). Prints `listening on http://ADDR`
/// on stdout once the socket is bound (so a caller that asked for port 0 learns the port).
pub fn run(options: &ServeOptions) -> Result<()> {
    let tokens = Tokens::new(&options.settings);
    auth::check_bind(&options.bind, &tokens)?;
    let snapshots = Snapshots::open(&options.workspace)?;
    let state = AppState {
        snapshots: Arc::new(snapshots),
        metrics: Arc::new(ops::Metrics::default()),
        tokens: Arc::new(tokens),
    };
    let app = router(state, &options.settings.cors_origins)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::io(&options.workspace, source))?;
    let delivery = if options.deliver {
        start_delivery(&options.workspace)?
    } else {
        None
    };
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .map_err(|error| {
                Error::Invalid(format!("cannot listen on {}: {error}", options.bind))
            })?;
        let address = listener.local_addr().map_err(|error| {
            Error::Invalid(format!("cannot listen on {}: {error}", options.bind))
        })?;
        {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "listening on http://{address}");
            let _ = stdout.flush();
        }
        tracing::info!(%address, "serving");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|error| Error::Invalid(format!("server stopped: {error}")))
    });
    if let Some((stop, deliverer)) = delivery {
        stop.stop();
        let _ = deliverer.join();
    }
    served
}

/// Starts delivering the feed to the webhooks of the workspace config on a thread of its own,
/// when any are configured; `None` otherwise. A deliverer that stops (another process delivers
/// this workspace, or a webhook's config is unusable) is logged and does not stop the server.
fn start_delivery(
    workspace: &std::path::Path,
) -> Result<Option<(crate::deliver::Stop, std::thread::JoinHandle<()>)>> {
    let committed = crate::workspace::Workspace::open_existing(workspace)?;
    let config = crate::config::Config::of_workspace(&committed)?.deliver;
    if config.webhook.is_empty() {
        return Ok(None);
    }
    let stop = crate::deliver::Stop::new();
    let (root, signal) = (workspace.to_path_buf(), stop.clone());
    let deliverer = std::thread::spawn(move || {
        if let Err(error) = crate::deliver::run(&root, &config, &signal) {
            tracing::warn!(%error, "webhook delivery stopped; the API is still served");
        }
    });
    tracing::info!("delivering the feed to the configured webhooks");
    Ok(Some((stop, deliverer)))
}

async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child.as_str()) {
                        ("$ref", Some(target)) => out.push(target.to_string()),
                        _ => refs(child, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_of_the_document_resolves() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut targets = Vec::new();
        refs(&document, &mut targets);
        assert!(!targets.is_empty());
        for target in targets {
            let pointer = target.strip_prefix('#').expect("local reference");
            assert!(
                document.pointer(pointer).is_some(),
                "{target} does not resolve"
            );
        }
        for path in [
            "/v1/signals",
            "/v1/signals/{id}",
            "/v1/search",
            "/v1/feed",
            "/metrics",
        ] {
            assert!(document["paths"][path]["get"].is_object(), "{path}");
        }
        // JSON object keys are strings, whatever the map's key type in Rust.
        let topic_keys = &document["components"]["schemas"]["Facets"]["properties"]["topics"];
        assert_ne!(topic_keys["propertyNames"]["type"], "integer");
    }
}
