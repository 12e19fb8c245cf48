//! The clients: HTTP calls, the fixed request mix, and the loop each client thread runs.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::Server;

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

/// Why a request failed.
pub enum Failure {
    Status(u16),
    Transport(String),
}

impl Failure {
    pub fn describe(&self) -> String {
        match self {
            Failure::Status(code) => format!("HTTP {code}"),
            Failure::Transport(kind) => format!("transport: {kind}"),
        }
    }
}

/// GETs `url` and reads the whole body (so that the connection is kept).
pub fn call(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, Failure> {
    let response = match agent.get(url).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(code, response)) => {
            let _ = std::io::copy(&mut response.into_reader(), &mut std::io::sink());
            return Err(Failure::Status(code));
        }
        Err(ureq::Error::Transport(transport)) => {
            return Err(Failure::Transport(transport.kind().to_string()))
        }
    };
    let mut body = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut body)
        .map_err(|error| Failure::Transport(error.kind().to_string()))?;
    Ok(body)
}

/// GETs `url` as JSON; panics on any failure (setup requests, not measured).
pub fn json(agent: &ureq::Agent, url: &str) -> Value {
    match call(agent, url) {
        Ok(body) => serde_json::from_slice(&body).expect("a JSON body"),
        Err(failure) => panic!("GET {url}: {}", failure.describe()),
    }
}

/// Polls `url` until it answers 200; the time since `since`.
pub fn first_ok(agent: &ureq::Agent, url: &str, since: Instant) -> Duration {
    let limit = Instant::now() + Duration::from_secs(120);
    loop {
        if call(agent, url).is_ok() {
            return since.elapsed();
        }
        assert!(Instant::now() < limit, "GET {url} never answered 200");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Route groups of the mix, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Search,
    SearchFacets,
    Signals,
    Signal,
    Topics,
    Themes,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Search => "`/v1/search`",
            Group::SearchFacets => "`/v1/search` with facets",
            Group::Signals => "`/v1/signals`",
            Group::Signal => "`/v1/signals/{id}`",
            Group::Topics => "`/v1/topics`",
            Group::Themes => "`/v1/themes`",
        }
    }
}

/// One step of the mix.
pub enum Step {
    /// A fixed path and query.
    Get(Group, String),
    /// The next signal of the last list this client got.
    Signal,
}

/// A path with its query string encoded.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

/// The fixed request mix; `source` is the workspace's most frequent source.
fn mix(source: &str) -> Vec<Step> {
    let search = |pairs: &[(&str, &str)]| with_query("/v1/search", pairs);
    vec![
        Step::Get(Group::Signals, "/v1/signals".to_string()),
        Step::Get(
            Group::Search,
            search(&[("q", "firmware update"), ("facets", "false")]),
        ),
        Step::Signal,
        Step::Get(
            Group::SearchFacets,
            search(&[("q", "lieferung"), ("language", "de")]),
        ),
        Step::Get(Group::Topics, "/v1/topics".to_string()),
        Step::Get(
            Group::Search,
            search(&[("q", "battery"), ("sort", "time"), ("facets", "false")]),
        ),
        Step::Signal,
        Step::Get(
            Group::SearchFacets,
            search(&[("q", "app"), ("source", source)]),
        ),
        Step::Get(Group::Themes, "/v1/themes".to_string()),
        Step::Get(
            Group::Search,
            search(&[
                ("q", "kundenservice"),
                ("language", "de"),
                ("sort", "time"),
                ("facets", "false"),
            ]),
        ),
        Step::Signal,
        Step::Get(Group::SearchFacets, search(&[("limit", "20")])),
        Step::Get(
            Group::Search,
            search(&[
                ("q", "\"customer service\" OR support"),
                ("facets", "false"),
            ]),
        ),
    ]
}

/// What one request gave.
pub enum Outcome {
    Ok,
    /// 404 for a signal listed before the commit (gone from the new run): not an error.
    Stale,
    Error(String),
}

pub struct Record {
    pub group: Group,
    /// When it was sent, from the start of the load.
    pub started: Duration,
    pub latency: Duration,
    pub outcome: Outcome,
}

/// What the clients share.
pub struct Shared {
    pub base: String,
    pub mix: Vec<Step>,
    pub origin: Instant,
    pub stop: AtomicBool,
    /// When the new run was committed, in µs from `origin`; `u64::MAX` until then.
    pub committed_micros: AtomicU64,
}

/// The detail URLs of the signals of a `/v1/signals` page.
fn signal_urls(base: &str, page: &Value) -> Option<Vec<String>> {
    let base = url::Url::parse(base).expect("server address");
    let mut urls = Vec::new();
    for item in page["items"].as_array()? {
        let mut url = base.clone();
        url.path_segments_mut()
            .expect("a base URL")
            .clear()
            .extend(["v1", "signals", item["id"].as_str()?]);
        urls.push(url.to_string());
    }
    Some(urls)
}

/// One client: its own connection, the mix from step `first` on, until `stop` or `budget`
/// requests.
fn client(shared: &Shared, first: usize, budget: usize) -> Vec<Record> {
    let agent = agent();
    let mut records = Vec::new();
    let mut signals: Vec<String> = Vec::new();
    let mut listed_at = Duration::ZERO;
    let mut next_signal = first;
    for step in shared.mix.iter().cycle().skip(first % shared.mix.len()) {
        if records.len() >= budget || shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let (group, url) = match step {
            Step::Get(group, path) => (*group, format!("{}{path}", shared.base)),
            Step::Signal if signals.is_empty() => continue,
            Step::Signal => {
                next_signal += 1;
                (Group::Signal, signals[next_signal % signals.len()].clone())
            }
        };
        let started = shared.origin.elapsed();
        let answer = call(&agent, &url);
        let latency = shared.origin.elapsed().saturating_sub(started);
        let outcome = match answer {
            Ok(body) if group == Group::Signals => {
                let listed = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|page| signal_urls(&shared.base, &page));
                match listed {
                    Some(urls) => {
                        signals = urls;
                        listed_at = started;
                        Outcome::Ok
                    }
                    None => Outcome::Error("not a page of signals".to_string()),
                }
            }
            Ok(_) => Outcome::Ok,
            Err(Failure::Status(404)) if group == Group::Signal => {
                let committed = shared.committed_micros.load(Ordering::Relaxed);
                if committed != u64::MAX && listed_at < Duration::from_micros(committed) {
                    Outcome::Stale
                } else {
                    Outcome::Error(Failure::Status(404).describe())
                }
            }
            Err(failure) => Outcome::Error(failure.describe()),
        };
        records.push(Record {
            group,
            started,
            latency,
            outcome,
        });
    }
    records
}

/// Runs `clients` clients until `shared.stop` or `budget` requests each.
pub fn spawn_clients(
    shared: &Arc<Shared>,
    clients: usize,
    budget: usize,
) -> Vec<std::thread::JoinHandle<Vec<Record>>> {
    (0..clients)
        .map(|index| {
            let shared = Arc::clone(shared);
            std::thread::spawn(move || client(&shared, index, budget))
        })
        .collect()
}

pub fn join(handles: Vec<std::thread::JoinHandle<Vec<Record>>>) -> Vec<Record> {
    handles
        .into_iter()
        .flat_map(|handle| handle.join().expect("client thread"))
        .collect()
}

/// The shared state of a server, with the mix built from what it serves.
pub fn shared_for(server: &Server, agent: &ureq::Agent) -> Shared {
    let everything = json(agent, &server.url("/v1/search?limit=1"));
    let source = everything["facets"]["sources"]
        .as_object()
        .and_then(|sources| {
            sources
                .iter()
                .max_by_key(|(name, count)| (count.as_u64(), std::cmp::Reverse(name.as_str())))
                .map(|(name, _)| name.clone())
        })
        .unwrap_or_else(|| "web".to_string());
    Shared {
        base: server.base.clone(),
        mix: mix(&source),
        origin: Instant::now(),
        stop: AtomicBool::new(false),
        committed_micros: AtomicU64::new(u64::MAX),
    }
}
