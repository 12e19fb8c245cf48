//! Delivery against a receiver on loopback that refuses, loses an answer, goes away and comes
//! back; positions across restarts; the config rules.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;
use crate::feed::lifecycle::tests::{at, signal};
use crate::feed::lifecycle::{self, FeedEventKind};
use crate::types::Signal;
use crate::workspace::{Wait, WorkspaceWriter};

const SECRET: &str = "whsec_loopback";

/// One `analyze` run's worth of feed: the lifecycle events of `signals` at `data_end`, appended
/// to the committed feed and committed as the next generation.
fn commit_run(root: &Path, signals: &[Signal], data_end: i64) -> Vec<FeedEvent> {
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    let previous: Vec<FeedEvent> = writer
        .current()
        .map(|current| current.feed().unwrap())
        .unwrap_or_default();
    let run = previous.last().map_or(1, |event| event.run + 1);
    let events = lifecycle::events(&previous, signals, at(data_end), run);
    writer.append_jsonl("feed.jsonl", &events).unwrap();
    writer.commit().unwrap();
    events
}

/// A request as the receiver saw it.
#[derive(Clone, Debug)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// The status it answered; `None`: it closed the connection without an answer.
    answered: Option<u16>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }

    fn seq(&self) -> u64 {
        self.header(sign::SEQ_HEADER).parse().unwrap()
    }
}

/// What the receiver does with the requests it gets, in order.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// The first this many requests are answered 503.
    refuse: usize,
    /// Then one request is read and its connection closed without an answer (a lost ack).
    lose_one_answer: bool,
    /// Then the listener is closed for this long (connections are refused) before it comes back.
    away: Duration,
    /// The status of every later request.
    then: u16,
}

const ALWAYS_OK: Plan = Plan {
    refuse: 0,
    lose_one_answer: false,
    away: Duration::ZERO,
    then: 200,
};

/// A tiny HTTP/1.1 receiver on loopback, one connection at a time, run on its own thread.
struct Receiver {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(address: SocketAddr, plan: Plan) -> Receiver {
        let listener = bind(address);
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let received = received.clone();
            let done = done.clone();
            std::thread::spawn(move || serve(listener, address, plan, &received, &done))
        };
        Receiver {
            address,
            received,
            done,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/xsignal?token=abc", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The seqs answered 2xx, in the order they came.
    fn acknowledged(&self) -> Vec<u64> {
        self.received()
            .iter()
            .filter(|request| request.answered.is_some_and(|status| status < 300))
            .map(Received::seq)
            .collect()
    }

    fn stop(mut self) -> Vec<Received> {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.received()
    }
}

fn bind(address: SocketAddr) -> TcpListener {
    // The port of a listener just closed can take a moment to be free again.
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(address) {
            listener.set_nonblocking(true).unwrap();
            return listener;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("cannot bind {address}");
}

fn serve(
    listener: TcpListener,
    address: SocketAddr,
    plan: Plan,
    received: &Mutex<Vec<Received>>,
    done: &AtomicBool,
) {
    let mut listener = Some(listener);
    let mut count = 0;
    let mut lost_one = false;
    let mut went_away = false;
    while !done.load(Ordering::SeqCst) {
        let Some(open) = &listener else { break };
        let stream = match open.accept() {
            Ok((stream, _)) => stream,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(error) => panic!("accept: {error}"),
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let Some((headers, body)) = read_request(&stream) else {
            continue;
        };
        count += 1;
        let answer = if count <= plan.refuse {
            Some(503)
        } else if plan.lose_one_answer && !lost_one {
            lost_one = true;
            None
        } else {
            Some(plan.then)
        };
        received.lock().unwrap().push(Received {
            headers,
            body,
            answered: answer,
        });
        match answer {
            Some(status) => {
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
            // The connection closes here, before the receiver goes away.
            None => drop(stream),
        }
        // The receiver goes away after its refusals and the lost answer, and comes back.
        let refusals_over = count >= plan.refuse + usize::from(plan.lose_one_answer);
        if !went_away && !plan.away.is_zero() && refusals_over {
            went_away = true;
            drop(listener.take());
            std::thread::sleep(plan.away);
            listener = Some(bind(address));
        }
    }
}

fn read_request(stream: &TcpStream) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST ") {
        return None;
    }
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

fn config(url: &str) -> DeliverConfig {
    DeliverConfig {
        poll_seconds: 0.05,
        timeout_seconds: 5.0,
        retry_first_seconds: 0.02,
        retry_max_seconds: 0.1,
        once_attempts: 3,
        webhook: vec![WebhookConfig {
            url: url.to_string(),
            secret: Some(SECRET.to_string()),
            secret_env: None,
        }],
    }
}

/// Checks one request as a receiver would: signature (computed here with `hmac`, apart from
/// [`sign`]), seq, idempotency key and event kind against the body, and the body against the feed.
fn check_request(request: &Received, feed: &[FeedEvent], root: &Path) {
    let timestamp = request.header(sign::TIMESTAMP_HEADER);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = format!(
        "sha256={}",
        crate::hex::encode(&mac.finalize().into_bytes())
    );
    assert_eq!(request.header(sign::SIGNATURE_HEADER), expected);
    let event: FeedEvent = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(request.seq(), event.seq);
    assert_eq!(
        request.header(sign::IDEMPOTENCY_HEADER),
        event.seq.to_string()
    );
    assert_eq!(request.header("content-type"), "application/json");
    let kind = serde_json::to_value(event.event).unwrap();
    assert_eq!(request.header(sign::EVENT_HEADER), kind.as_str().unwrap());
    assert_eq!(event, feed[event.seq as usize - 1]);
    // The body is the feed line, byte for byte.
    let lines = std::fs::read_to_string(root.join("feed.jsonl")).unwrap();
    let line = lines.lines().nth(event.seq as usize - 1).unwrap();
    assert_eq!(request.body, line.as_bytes());
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_event_arrives_in_order_signed_through_refusals_and_an_outage_and_restarts_keep_the_position(
) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    let mut feed = commit_run(
        &root,
        &[signal("a", 10, 100, 5.0), signal("b", 5, 20, 3.0)],
        50,
    );
    feed.extend(commit_run(
        &root,
        &[
            signal("a", 10, 100, 9.0),
            signal("b", 5, 20, 3.0),
            signal("c", 60, 200, 4.0),
        ],
        70,
    ));
    assert_eq!(feed.len(), 5);
    let receiver = Receiver::start(
        "127.0.0.1:0".parse().unwrap(),
        Plan {
            refuse: 3,
            lose_one_answer: true,
            away: Duration::from_millis(300),
            then: 200,
        },
    );
    let config = config(&receiver.url());
    let stop = Stop::new();
    let follower = {
        let (root, config, stop) = (root.clone(), config.clone(), stop.clone());
        std::thread::spawn(move || run(&root, &config, &stop))
    };
    wait_for("the first run's events", || {
        receiver.acknowledged().len() >= 5
    });
    // A run commits while the deliverer follows the feed.
    feed.extend(commit_run(&root, &[signal("a", 10, 100, 9.0)], 120));
    assert_eq!(feed.len(), 7);
    wait_for("the next run's events", || {
        receiver.acknowledged().len() >= 7
    });
    stop.stop();
    follower.join().unwrap().unwrap();
    let address = receiver.address;
    let requests = receiver.stop();

    // In feed order (a failed event is sent again before the next), each acknowledged once.
    let seqs: Vec<u64> = requests.iter().map(Received::seq).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] <= pair[1]), "{seqs:?}");
    let acknowledged: Vec<u64> = requests
        .iter()
        .filter(|request| request.answered == Some(200))
        .map(Received::seq)
        .collect();
    assert_eq!(acknowledged, (1..=7).collect::<Vec<_>>());
    // The refusals and the lost answer were all the first event, sent again and again.
    assert_eq!(&seqs[..5], &[1, 1, 1, 1, 1]);
    assert_eq!(requests[3].answered, None);
    let attempts: Vec<u32> = requests[..5]
        .iter()
        .map(|request| request.header(sign::ATTEMPT_HEADER).parse().unwrap())
        .collect();
    assert_eq!(attempts[..4], [1, 2, 3, 4]);
    // While the receiver was away, attempts were refused (a retry comes within 0.1 s of a
    // failure, the outage lasts 0.3 s): the one that got through is a later one.
    assert!(attempts[4] > 5, "{attempts:?}");
    for request in &requests {
        check_request(request, &feed, &root);
    }
    let state = root.join(crate::workspace::DELIVER_STATE);
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A restarted deliverer (same URL) sends only what came after its position.
    // (d opens; e opens and is already over.)
    feed.extend(commit_run(
        &root,
        &[signal("d", 130, 300, 4.0), signal("e", 125, 135, 2.0)],
        140,
    ));
    assert_eq!(feed.len(), 10);
    let receiver = Receiver::start(address, ALWAYS_OK);
    let summary = deliver_pending(&root, &config, &Stop::new()).unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!((summary[0].delivered, summary[0].position), (3, 10));
    assert!(summary[0].webhook.starts_with("0 (127.0.0.1)"));
    let again = deliver_pending(&root, &config, &Stop::new()).unwrap();
    assert_eq!((again[0].delivered, again[0].position), (0, 10));
    let requests = receiver.stop();
    let seqs: Vec<u64> = requests.iter().map(Received::seq).collect();
    assert_eq!(seqs, [8, 9, 10]);
    for request in &requests {
        check_request(request, &feed, &root);
        let event: FeedEvent = serde_json::from_slice(&request.body).unwrap();
        assert!(matches!(
            event.event,
            FeedEventKind::Opened | FeedEventKind::Closed
        ));
    }
}

#[test]
fn once_gives_up_after_its_attempts_and_keeps_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    commit_run(&root, &[signal("a", 10, 100, 5.0)], 50);
    let receiver = Receiver::start(
        "127.0.0.1:0".parse().unwrap(),
        Plan {
            then: 400,
            ..ALWAYS_OK
        },
    );
    let config = config(&receiver.url());
    let error = deliver_pending(&root, &config, &Stop::new()).unwrap_err();
    assert!(matches!(error, Error::Delivery { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("feed event 1 not taken after 3 attempts (last: answered 400)"),
        "{message}"
    );
    // The message names the host, never the URL's path or token.
    assert!(!message.contains("token"), "{message}");
    assert_eq!(receiver.stop().len(), 3);
    assert!(!root.join(crate::workspace::DELIVER_STATE).exists());
}

#[test]
fn a_raised_stop_ends_the_retries_of_an_unreachable_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    commit_run(&root, &[signal("a", 10, 100, 5.0)], 50);
    // A port with no listener: every attempt is refused.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = config(&format!("http://{closed}/"));
    config.retry_max_seconds = 60.0;
    let stop = Stop::new();
    let follower = {
        let (root, config, stop) = (root.clone(), config.clone(), stop.clone());
        std::thread::spawn(move || run(&root, &config, &stop))
    };
    std::thread::sleep(Duration::from_millis(200));
    stop.stop();
    follower.join().unwrap().unwrap();
    assert!(!root.join(crate::workspace::DELIVER_STATE).exists());
    // A second deliverer of the same workspace is refused while one holds it.
    let _held = crate::workspace::lock_delivery(&root).unwrap();
    let error = deliver_pending(&root, &config, &Stop::new()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("another xsignal process delivers"),
        "{error}"
    );
}

#[test]
fn a_feed_started_over_is_delivered_from_its_start() {
    let body = |seq: u64| {
        let event = FeedEvent {
            schema: 1,
            seq,
            run: 1,
            event: FeedEventKind::Closed,
            signal_id: format!("s{seq}"),
            as_of: at(0),
            digest: String::new(),
            reason: Some("withdrawn".into()),
            signal: None,
        };
        let body = serde_json::to_vec(&event).unwrap();
        (event, body)
    };
    let feed: Vec<(FeedEvent, Vec<u8>)> = (1..=3).map(body).collect();
    let position = |seq: u64, body: &[u8]| state::Position {
        seq,
        body_sha256: state::body_digest(body),
    };
    assert_eq!(state::first_pending(&feed, None), (0, false));
    assert_eq!(
        state::first_pending(&feed, Some(&position(2, &feed[1].1))),
        (2, false)
    );
    assert_eq!(
        state::first_pending(&feed, Some(&position(3, &feed[2].1))),
        (3, false)
    );
    // Another event under the delivered seq, or a feed shorter than the position: started over.
    assert_eq!(
        state::first_pending(&feed, Some(&position(2, b"other"))),
        (0, true)
    );
    assert_eq!(
        state::first_pending(&feed, Some(&position(7, &feed[1].1))),
        (0, true)
    );
    assert_eq!(
        state::first_pending(&[], Some(&position(7, &feed[1].1))),
        (0, false)
    );
}

#[test]
fn the_config_section_round_trips_and_bad_webhooks_are_refused_by_key() {
    use crate::Config;
    let default_text = Config::default().to_toml();
    assert!(!default_text.contains("deliver"), "{default_text}");
    let text = "version = 1\n[deliver]\nretry_max_seconds = 60.0\n\
                [[deliver.webhook]]\nurl = \"https://hooks.example.com/xsignal\"\nsecret_env = \"HOOK_SECRET\"\n\
                [[deliver.webhook]]\nurl = \"http://127.0.0.1:9000/\"\nsecret = \"s3cret\"\n";
    let config = Config::parse(text, Path::new("x.toml")).unwrap();
    assert_eq!(config.deliver.webhook.len(), 2);
    assert_eq!(config.deliver.retry_max_seconds, 60.0);
    assert_eq!(config.deliver.poll_seconds, 2.0);
    let again = Config::parse(&config.to_toml(), Path::new("x.toml")).unwrap();
    assert_eq!(again, config);
    assert!(!format!("{:?}", config.deliver).contains("s3cret"));

    let cases = [
        (
            "url = \"ftp://x/\"\nsecret = \"s\"",
            "deliver.webhook[0].url must be an http or https URL",
        ),
        (
            "url = \"not a url\"\nsecret = \"s\"",
            "deliver.webhook[0].url is not a URL",
        ),
        (
            "url = \"https://x/\"\nsecret = \"\"",
            "deliver.webhook[0].secret must not be empty",
        ),
        (
            "url = \"https://x/\"",
            "deliver.webhook[0].secret is missing",
        ),
        (
            "url = \"https://x/\"\nsecret = \"s\"\nsecret_env = \"E\"",
            "deliver.webhook[0].secret and secret_env",
        ),
        (
            "url = \"https://x/\"\nsecret_env = \"\"",
            "deliver.webhook[0].secret_env must name",
        ),
    ];
    for (webhook, expected) in cases {
        let text = format!("version = 1\n[[deliver.webhook]]\n{webhook}\n");
        let message = Config::parse(&text, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(message.contains(expected), "{webhook}: {message}");
    }
    let text = "version = 1\n[deliver]\nretry_first_seconds = 10.0\nretry_max_seconds = 1.0\npoll_seconds = 0.0\n";
    let message = Config::parse(text, Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("deliver.retry_first_seconds must not exceed"),
        "{message}"
    );
    assert!(
        message.contains("deliver.poll_seconds must be a number from 0.001 to 86400"),
        "{message}"
    );
    let text = "version = 1\n[deliver]\nretry_max_seconds = 1e300\ntimeout_seconds = nan\n";
    let message = Config::parse(text, Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("deliver.retry_max_seconds"), "{message}");
    assert!(message.contains("deliver.timeout_seconds"), "{message}");

    // A secret from an unset variable is an error naming the variable, before anything is sent.
    let mut deliver = config.deliver.clone();
    deliver.webhook[0].secret_env = Some("XSIGNAL_TEST_UNSET_WEBHOOK_SECRET".into());
    let dir = tempfile::tempdir().unwrap();
    let error = deliver_pending(dir.path(), &deliver, &Stop::new()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("XSIGNAL_TEST_UNSET_WEBHOOK_SECRET"),
        "{error}"
    );
    // No webhooks: nothing to do.
    let none = DeliverConfig::default();
    assert!(deliver_pending(dir.path(), &none, &Stop::new())
        .unwrap()
        .is_empty());
}
