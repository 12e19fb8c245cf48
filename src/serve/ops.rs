//! Operations: `/health`, `/metrics` (Prometheus text format) and the request bookkeeping behind
//! them.
//!
//! Every request is counted by route template (`/v1/signals/{id}`, never the URI: ids and query
//! strings stay out of metrics and logs) and status, and timed into a histogram. The Prometheus
//! text format is a few lines of `format!`; a metrics crate would add a global registry for four
//! series.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counts and latencies by route template.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// Records one request.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        {
            let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            *requests.entry((route.to_string(), status)).or_default() += 1;
        }
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let histogram = latency.entry(route.to_string()).or_default();
        histogram.count += 1;
        histogram.sum += seconds;
        for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP xsignal_http_requests_total HTTP requests by route template and status.\n",
        );
        out.push_str("# TYPE xsignal_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((route, status), count) in requests.iter() {
            let _ = writeln!(
                out,
                "xsignal_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                label(route)
            );
        }
        drop(requests);
        out.push_str("# HELP xsignal_http_request_duration_seconds HTTP request latency by route template.\n");
        out.push_str("# TYPE xsignal_http_request_duration_seconds histogram\n");
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        for (route, histogram) in latency.iter() {
            let route = label(route);
            for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
                let _ = writeln!(
                    out,
                    "xsignal_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "xsignal_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "xsignal_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "xsignal_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count
            );
        }
    }
}

/// A label value escaped as the text format wants.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The server's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The generation served.
    pub generation: u64,
    /// Comments in it.
    pub comments: u64,
    /// Signals in it.
    pub signals: u64,
}

/// Whether the server is up, and what it serves.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let snapshot = state.snapshots.get().await;
    Json(Health {
        status: "ok".to_string(),
        generation: snapshot.generation,
        comments: snapshot.searcher.num_docs(),
        signals: snapshot.signals.len() as u64,
    })
}

/// Metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
              (status = 401, body = super::http::ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = state.snapshots.get().await;
    let mut out = String::new();
    out.push_str("# HELP xsignal_generation The workspace generation served.\n");
    out.push_str("# TYPE xsignal_generation gauge\n");
    let _ = writeln!(out, "xsignal_generation {}", snapshot.generation);
    out.push_str("# HELP xsignal_comments Comments in the generation served.\n");
    out.push_str("# TYPE xsignal_comments gauge\n");
    let _ = writeln!(out, "xsignal_comments {}", snapshot.searcher.num_docs());
    out.push_str("# HELP xsignal_signals Signals in the generation served.\n");
    out.push_str("# TYPE xsignal_signals gauge\n");
    let _ = writeln!(out, "xsignal_signals {}", snapshot.signals.len());
    state.metrics.render(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}
