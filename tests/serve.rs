//! `xsignal serve` against a small workspace built through the library (no model): paging,
//! filters, scopes, authentication, routing and the switch to a newly committed run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use xsignal::feed::lifecycle::{FeedEvent, FeedEventKind};
use xsignal::index::{build, IndexDoc};
use xsignal::topics::themes::Theme;
use xsignal::types::{
    Comment, EnrichedComment, Lang, Origin, Sentiment, SentimentCounts, SentimentLabel, Signal,
    SignalKind, Topic, Window,
};
use xsignal::workspace::{Wait, WorkspaceWriter};

use crate::common::xsignal;

/// Comment `n` of the fixture: sources cycle through appstore, Twitter and employee; the
/// employee comments carry `team: Sales`.
fn comment(n: u32, text: &str) -> (Comment, EnrichedComment) {
    let source = ["appstore", "Twitter", "employee"][n as usize % 3];
    let timestamp = Utc.with_ymd_and_hms(2026, 3, 1 + n % 5, 10, 0, 0).single();
    let mut meta = serde_json::Map::new();
    if source == "employee" {
        meta.insert("team".to_string(), json!("Sales"));
    }
    let comment = Comment {
        id: format!("c{n:02}"),
        text: text.to_string(),
        timestamp,
        author: Some(format!("author-{}", n % 4)),
        source: Some(source.to_string()),
        lang: if n.is_multiple_of(2) {
            Lang::En
        } else {
            Lang::De
        },
        lang_detected: false,
        rating: Some(f64::from(n % 5)),
        meta,
        origin: Origin {
            file: "fixture.csv".to_string(),
            line: u64::from(n) + 2,
        },
    };
    let label = [
        SentimentLabel::Negative,
        SentimentLabel::Neutral,
        SentimentLabel::Positive,
    ][n as usize % 3];
    let enriched = EnrichedComment {
        id: comment.id.clone(),
        lang: comment.lang,
        timestamp,
        source: comment.source.clone(),
        sentiment: Sentiment {
            label,
            score: 0.0,
            confidence: 0.9,
        },
        sentences: Vec::new(),
        topic: Some(n % 2),
        topic_confidence: Some(0.8),
        duplicate_of: None,
    };
    (comment, enriched)
}

fn corpus(count: u32) -> Vec<(Comment, EnrichedComment)> {
    (0..count)
        .map(|n| {
            let text = if n.is_multiple_of(2) {
                format!("The thermostat reboots after the firmware update, case {n}")
            } else {
                format!("Die Lieferung kam zu spät, Fall {n}")
            };
            comment(n, &text)
        })
        .collect()
}

fn signal(id: &str, kind: SignalKind, topic: u32, comment_ids: Vec<String>, day: u32) -> Signal {
    Signal {
        id: id.to_string(),
        kind,
        label: format!("signal {id}"),
        first_flagged: Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap(),
        window: Window {
            start: Utc.with_ymd_and_hms(2026, 3, day, 6, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap(),
        },
        observed: 12.0,
        baseline_mean: 2.0,
        baseline_std: 1.0,
        score: 5.0,
        distinct_authors: 4,
        duplicates_ignored: 0,
        topic: Some(topic),
        theme: Some(0),
        comment_ids,
        evidence: json!({"window_buckets": 6, "open_until": "2026-03-05T00:00:00Z"}),
    }
}

fn topic(id: u32, label: &str, representatives: Vec<String>) -> Topic {
    Topic {
        id,
        label: label.to_string(),
        keywords: vec![label.to_string()],
        size: 6,
        sentiment: SentimentCounts {
            negative: 2,
            neutral: 2,
            positive: 2,
        },
        representatives,
        theme: Some(0),
        known_from: None,
        kind: Default::default(),
    }
}

fn feed_event(seq: u64, run: u64, signal: &Signal) -> FeedEvent {
    FeedEvent {
        schema: 1,
        seq,
        run,
        event: FeedEventKind::Opened,
        signal_id: signal.id.clone(),
        as_of: signal.first_flagged,
        digest: "0".repeat(64),
        reason: None,
        signal: Some(signal.clone()),
    }
}

/// Commits a run of `count` comments with `signals` (the feed opens each) to `root`.
fn commit_run(root: &Path, count: u32, signals: &[Signal], run: u64) {
    let writer = WorkspaceWriter::open(root, Wait::Yes).unwrap();
    let all = corpus(count);
    let known = writer.load_store().unwrap().len();
    let fresh: Vec<Comment> = all[known..].iter().map(|(c, _)| c.clone()).collect();
    writer.append_store(&fresh).unwrap();
    let docs: Vec<IndexDoc> = all
        .iter()
        .map(|(comment, enriched)| IndexDoc { comment, enriched })
        .collect();
    build(&writer.staged_path("index"), &docs, 20_000_000).unwrap();
    let enriched: Vec<EnrichedComment> = all.iter().map(|(_, e)| e.clone()).collect();
    writer.write_jsonl("comments.jsonl", &enriched).unwrap();
    writer
        .write_jsonl(
            "topics.jsonl",
            &[
                topic(0, "thermostat", vec!["c00".into(), "c02".into()]),
                topic(1, "lieferung", vec!["c01".into(), "c03".into()]),
            ],
        )
        .unwrap();
    writer
        .write_jsonl(
            "themes.jsonl",
            &[Theme {
                id: 0,
                label: "thermostat".to_string(),
                topics: vec![0, 1],
                size: u64::from(count),
            }],
        )
        .unwrap();
    writer.write_jsonl("signals.jsonl", signals).unwrap();
    let last_seq = writer
        .current()
        .map(|current| current.read_jsonl::<FeedEvent>("feed.jsonl").unwrap().len() as u64)
        .unwrap_or(0);
    let events: Vec<FeedEvent> = signals
        .iter()
        .enumerate()
        .skip(last_seq as usize)
        .map(|(index, signal)| feed_event(index as u64 + 1, run, signal))
        .collect();
    writer.append_jsonl("feed.jsonl", &events).unwrap();
    writer.commit().unwrap();
}

fn ids(comment_numbers: &[u32]) -> Vec<String> {
    comment_numbers.iter().map(|n| format!("c{n:02}")).collect()
}

/// The first run: 12 comments, two signals (one over all sources, one over employee comments).
fn fixture(root: &Path) {
    commit_run(
        root,
        12,
        &[
            signal("topic:0", SignalKind::Topic, 0, ids(&[0, 4, 6, 10]), 3),
            signal("phrase:lieferung", SignalKind::Phrase, 1, ids(&[5, 11]), 4),
        ],
        1,
    );
}

/// A running `xsignal serve`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(workspace: &Path, config: Option<&Path>) -> Server {
    let mut command = xsignal();
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--workspace"])
        .arg(workspace)
        .env_remove("XSIGNAL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command.spawn().expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, base }
}

/// GET `path`: the status and the JSON body.
fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = ureq::get(&format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = match request.call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{path}: {error}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn ok(server: &Server, path: &str) -> Value {
    let (status, body) = get(server, path, None);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn item_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("ws");
    fixture(&root);
    (temp, root)
}

#[test]
fn serve_pages_filters_and_details() {
    let (_temp, root) = workspace();
    let server = serve(&root, None);
    let health = ok(&server, "/health");
    assert_eq!(
        (health["generation"].as_u64(), health["comments"].as_u64()),
        (Some(1), Some(12))
    );

    // Signals: newest first, one per page, the cursor leads to the next page.
    let first = ok(&server, "/v1/signals?limit=1");
    assert_eq!(item_ids(&first), ["phrase:lieferung"]);
    assert_eq!(first["total"], 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = ok(&server, &format!("/v1/signals?limit=1&cursor={cursor}"));
    assert_eq!(item_ids(&second), ["topic:0"]);
    assert!(second["next_cursor"].is_null());
    assert_eq!(
        item_ids(&ok(&server, "/v1/signals?kind=topic")),
        ["topic:0"]
    );
    assert_eq!(
        item_ids(&ok(&server, "/v1/signals?topic=1")),
        ["phrase:lieferung"]
    );
    assert!(item_ids(&ok(&server, "/v1/signals?status=closed")).is_empty());
    assert_eq!(
        item_ids(&ok(&server, "/v1/signals?since=2026-03-04")),
        ["phrase:lieferung"]
    );
    // c05 and c11 are employee comments; the topic signal's are appstore and Twitter.
    assert_eq!(
        item_ids(&ok(&server, "/v1/signals?source=EMPLOYEE")),
        ["phrase:lieferung"]
    );
    assert_eq!(get(&server, "/v1/signals?kind=nonsense", None).0, 400);
    assert_eq!(get(&server, "/v1/signals?cursor=zz", None).0, 400);

    let detail = ok(&server, "/v1/signals/topic:0");
    assert_eq!(detail["breakdown"]["comments"], 4);
    assert_eq!(
        detail["breakdown"]["sources"],
        json!({"appstore": 2, "Twitter": 2})
    );
    assert_eq!(detail["examples"].as_array().unwrap().len(), 4);
    assert!(detail["examples"][0]["text"]
        .as_str()
        .unwrap()
        .contains("thermostat"));
    assert_eq!(detail["topic_detail"]["label"], "thermostat");
    let points = detail["series"]["points"].as_array().unwrap();
    assert_eq!(detail["series"]["bucket_seconds"], 3600);
    assert!(points
        .iter()
        .any(|point| point["observed"].as_f64() > Some(0.0)));
    assert!(points
        .iter()
        .all(|point| point["threshold"].as_f64() > point["baseline_mean"].as_f64()));
    assert!(detail["sentiment_before"].is_object());
    assert_eq!(get(&server, "/v1/signals/nope", None).0, 404);
    let sparkline = ok(&server, "/v1/signals?topic=0")["items"][0]["sparkline"].clone();
    let sparkline: Vec<f64> = serde_json::from_value(sparkline).unwrap();
    assert!(!sparkline.is_empty() && sparkline.len() <= 40);
    assert_eq!(
        sparkline.iter().sum::<f64>(),
        points
            .iter()
            .map(|point| point["observed"].as_f64().unwrap())
            .sum::<f64>()
    );

    // The signal's own comments, paged, with text.
    let first = ok(&server, "/v1/signals/topic:0/comments?limit=3");
    assert_eq!(first["total"], 4);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = ok(
        &server,
        &format!("/v1/signals/topic:0/comments?limit=3&cursor={cursor}"),
    );
    let mut listed = item_ids(&first);
    listed.extend(item_ids(&rest));
    let expected: Vec<Value> = detail["comment_ids"].as_array().unwrap().clone();
    assert_eq!(
        listed,
        expected
            .iter()
            .map(|id| id.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    assert!(first["items"][0]["text"].is_string());
    assert_eq!(get(&server, "/v1/signals/nope/comments", None).0, 404);

    // Search: case-insensitive source and metadata filters, time order, facets.
    let search = ok(&server, "/v1/search?q=thermostat&sort=time&limit=2");
    assert_eq!(search["total"], 6);
    assert_eq!(item_ids(&search), ["c04", "c08"]);
    let facets = &search["facets"];
    assert_eq!(facets["languages"], json!({"en": 6}));
    assert_eq!(
        facets["sources"],
        json!({"appstore": 2, "Twitter": 2, "employee": 2})
    );
    assert_eq!(facets["distinct_authors"], 2);
    let days: u64 = facets["days"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(days, 6);
    let twitter = ok(&server, "/v1/search?source=twitter&facets=false");
    assert_eq!(twitter["total"], 4);
    assert!(twitter["facets"].is_null());
    let sales = ok(&server, "/v1/search?meta=team:SALES");
    assert_eq!(sales["total"], 4);
    assert!(item_ids(&sales)
        .iter()
        .all(|id| ["c02", "c05", "c08", "c11"].contains(&id.as_str())));
    let paged = ok(&server, "/v1/search?limit=5");
    let rest = ok(
        &server,
        &format!(
            "/v1/search?limit=5&cursor={}",
            paged["next_cursor"].as_str().unwrap()
        ),
    );
    assert_eq!(item_ids(&rest).len(), 5);
    assert!(item_ids(&rest)
        .iter()
        .all(|id| !item_ids(&paged).contains(id)));
    assert_eq!(get(&server, "/v1/search?q=((((((((a))))))))", None).0, 400);
    let long = format!("/v1/search?q={}", "a".repeat(5000));
    assert_eq!(get(&server, &long, None).0, 414);

    let comment = ok(&server, "/v1/comments/c02");
    assert_eq!(comment["meta"]["team"], "Sales");
    assert_eq!(comment["source"], "employee");
    assert_eq!(comment["author"], "author-2");

    let topics = ok(&server, "/v1/topics");
    assert_eq!(topics["total"], 2);
    let topic = ok(&server, "/v1/topics/1");
    assert_eq!(topic["breakdown"]["comments"], 6);
    assert_eq!(topic["representatives"][0]["id"], "c01");
    assert_eq!(get(&server, "/v1/topics/x", None).0, 400);
    let themes = ok(&server, "/v1/themes");
    let theme = &themes["items"][0];
    assert_eq!(theme["size"], 12);
    assert_eq!(theme["keywords"], json!(["thermostat", "lieferung"]));
    let per_day: u64 = theme["size_per_day"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_day, 12);

    let feed = ok(&server, "/v1/feed?after=1");
    assert_eq!(feed["events"].as_array().unwrap().len(), 1);
    assert_eq!(feed["last_seq"], 2);
    let metrics = get(&server, "/metrics", None).1;
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains("xsignal_generation 1"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/signals/{id}\""), "{metrics}");
    assert!(
        !metrics.contains("topic:0"),
        "ids stay out of metrics: {metrics}"
    );
    let openapi = ok(&server, "/openapi.json");
    assert!(openapi["paths"]["/v1/search"].is_object());
}

#[test]
fn the_dashboard_is_served_from_the_binary_with_a_strict_policy() {
    let (_temp, root) = workspace();
    let server = serve(&root, None);
    for (path, kind) in [
        ("/", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let response = ureq::get(&format!("{}{path}", server.base)).call().unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.content_type().starts_with(kind), "{path}");
        let policy = response.header("content-security-policy").unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    }
    for path in [
        "/assets/",
        "/assets/main.rs",
        "/assets/..%2fmod.rs",
        "/assets/app.js.map",
    ] {
        assert_eq!(get(&server, path, None).0, 404, "{path}");
    }
}

#[test]
fn routes_never_reach_the_file_system() {
    let (_temp, root) = workspace();
    let server = serve(&root, None);
    for path in [
        "/v1/comments/..%2F..%2Fstore.jsonl",
        "/v1/comments/%2e%2e%2fmanifest.json",
        "/../store.jsonl",
        "/current/store.jsonl",
        "/v1/../store.jsonl",
        "/static/..%2f..%2fetc%2fpasswd",
    ] {
        let (status, body) = get(&server, path, None);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}

#[test]
fn tokens_are_required_and_scopes_limit_what_is_seen() {
    let (temp, root) = workspace();
    let config = temp.path().join("serve.toml");
    std::fs::write(
        &config,
        "[serve]\ntoken = \"full-secret\"\n\n[[serve.tokens]]\ntoken = \"staff-secret\"\nsources = [\"Employee\"]\n",
    )
    .unwrap();
    let server = serve(&root, Some(&config));
    assert_eq!(get(&server, "/health", None).0, 200);
    assert_eq!(get(&server, "/openapi.json", None).0, 200);
    // The dashboard's files hold no data; its API calls carry the token.
    assert_eq!(get(&server, "/", None).0, 200);
    for path in [
        "/v1/signals",
        "/v1/signals/topic:0/comments",
        "/v1/search",
        "/metrics",
        "/v1/comments/c00",
    ] {
        assert_eq!(get(&server, path, None).0, 401, "{path}");
        assert_eq!(get(&server, path, Some("wrong")).0, 401, "{path}");
    }
    assert_eq!(
        get(&server, "/v1/signals", Some("full-secret")).1["total"],
        2
    );

    let staff = Some("staff-secret");
    let (_, signals) = get(&server, "/v1/signals", staff);
    assert_eq!(item_ids(&signals), ["phrase:lieferung"]);
    assert_eq!(get(&server, "/v1/signals/topic:0", staff).0, 404);
    let (_, search) = get(&server, "/v1/search", staff);
    assert_eq!(search["total"], 4);
    assert_eq!(search["facets"]["sources"], json!({"employee": 4}));
    let (_, other) = get(&server, "/v1/search?source=appstore", staff);
    assert_eq!(other["total"], 0);
    assert_eq!(get(&server, "/v1/comments/c00", staff).0, 404);
    assert_eq!(get(&server, "/v1/comments/c02", staff).0, 200);
    let (_, topic) = get(&server, "/v1/topics/0", staff);
    assert_eq!(topic["size"], 2);
    assert_eq!(topic["representatives"][0]["id"], "c02");
    assert_eq!(topic["representatives"].as_array().unwrap().len(), 1);
    let (_, feed) = get(&server, "/v1/feed", staff);
    let seen: Vec<&str> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["signal_id"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ["phrase:lieferung"]);
    assert_eq!(feed["last_seq"], 2);
}

#[test]
fn non_loopback_bind_without_token_is_refused() {
    let (_temp, root) = workspace();
    let output = xsignal()
        .args(["serve", "--bind", "0.0.0.0:0", "--workspace"])
        .arg(&root)
        .env_remove("XSIGNAL_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without a token"), "{stderr}");
}

#[test]
fn a_new_run_is_served_without_restart() {
    let (_temp, root) = workspace();
    let server = serve(&root, None);
    let first = ok(&server, "/v1/search?limit=5");
    let stale = first["next_cursor"].as_str().unwrap().to_string();
    // A long poll started now sees the next run's feed event.
    let base = server.base.clone();
    let poll = std::thread::spawn(move || {
        let body: Value = ureq::get(&format!("{base}/v1/feed?after=2&wait=15"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        body
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    commit_run(
        &root,
        15,
        &[
            signal("topic:0", SignalKind::Topic, 0, ids(&[0, 4, 6, 10]), 3),
            signal("phrase:lieferung", SignalKind::Phrase, 1, ids(&[5, 11]), 4),
            signal("topic:1", SignalKind::Topic, 1, ids(&[13]), 5),
        ],
        2,
    );
    let health = ok(&server, "/health");
    assert_eq!(
        (health["generation"].as_u64(), health["comments"].as_u64()),
        (Some(2), Some(15))
    );
    assert_eq!(ok(&server, "/v1/signals")["total"], 3);
    assert_eq!(ok(&server, "/v1/comments/c14")["id"], "c14");
    assert_eq!(
        get(&server, &format!("/v1/search?cursor={stale}"), None).0,
        409
    );
    let polled = poll.join().unwrap();
    assert_eq!(polled["last_seq"], 3);
    assert_eq!(polled["events"][0]["signal_id"], "topic:1");
}

/// Reads one HTTP request from `listener` (waiting up to 30 s), answers 200, and returns its head
/// and body.
fn receive_one(listener: &std::net::TcpListener) -> (String, String) {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    listener.set_nonblocking(true).unwrap();
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(std::time::Instant::now() < deadline, "no delivery arrived");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(error) => panic!("accept: {error}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a content length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .unwrap();
    (head, String::from_utf8(body).unwrap())
}

#[test]
fn serve_delivers_the_feed_to_the_webhooks_of_the_workspace_config() {
    let (_temp, root) = workspace();
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = format!(
        "version = {}\n[[deliver.webhook]]\nurl = \"http://{}/hook\"\nsecret = \"test-secret\"\n",
        xsignal::config::CONFIG_VERSION,
        receiver.local_addr().unwrap()
    );
    let writer = WorkspaceWriter::open(&root, Wait::Yes).unwrap();
    writer.write_text("config.toml", &config).unwrap();
    writer.commit().unwrap();

    let server = serve(&root, None);
    let (head, body) = receive_one(&receiver);
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("post /hook"), "{head}");
    assert!(head.contains("x-xsignal-signature: sha256="), "{head}");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["seq"], 1);
    assert_eq!(event["signal_id"], "topic:0");
    // The API is served meanwhile.
    assert_eq!(ok(&server, "/health")["status"], "ok");
}
