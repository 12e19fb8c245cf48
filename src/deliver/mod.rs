//! Feed delivery: pushes every event of `feed.jsonl` (`opened`, `updated`, `closed`, see
//! [`crate::feed::lifecycle`]) to the webhooks of the workspace config (`[[deliver.webhook]]`).
//!
//! Owns the webhook config ([`DeliverConfig`], checked by [`crate::Config::validate`]), the
//! request format and its signature ([`sign`]), the retry policy, and the delivery position of
//! each webhook (`deliver.json` in the workspace folder, [`state`]). It reads the feed of the
//! committed generation through [`crate::workspace::Workspace`] and writes nothing else.
//!
//! Guarantees, per webhook:
//! - **In feed order, one at a time**: event `seq` N+1 is sent only after N was acknowledged, so
//!   a failing event holds back the ones after it (the webhooks do not wait for each other: each
//!   has its own thread).
//! - **At least once**: an event counts as delivered on a 2xx answer, and only then is the
//!   position written (atomically, synced); an event whose answer was lost, or that was acked
//!   just before a crash, is sent again. Receivers deduplicate by `seq` (`Idempotency-Key`).
//! - **Retries without giving up**: any other outcome (no connection, a timeout, 3xx, 4xx, 5xx)
//!   is retried after a backoff that doubles from `retry_first_seconds` to `retry_max_seconds`,
//!   with jitter drawn from the seeded generator ([`crate::rng`]), and at least the
//!   `Retry-After` a 429 or 503 asked for. 4xx answers other than 408 and 429 are retried too:
//!   skipping an event would break the order and the at-least-once promise, so a receiver that
//!   refuses an event (a bad secret, a wrong URL) holds the webhook until it is fixed, and each
//!   failure is logged at `warn` with its status. `xsignal deliver --once` stops after
//!   `once_attempts` failures of one event and reports the webhook as failed.
//! - **Survives restarts**: the position is kept per webhook URL with a digest of the last
//!   acknowledged event; a feed that no longer holds that event (a reset workspace) is
//!   delivered again from its start.
//!
//! One deliverer per workspace at a time (the lock `deliver.lock`). Logs name the webhook by
//! its number and host and the event by `seq`; they never carry the body, the URL's path or
//! query, or any comment text.
//!
//! The client is `ureq` (blocking, rustls): one thread per webhook sends one request at a time,
//! which is all the ordering allows, so an async client would add a runtime and buy no
//! concurrency; ureq compiles in seconds and the same version is already in the lock file. A
//! server on tokio runs [`run`] on a thread of its own (`std::thread::spawn` or
//! `tokio::task::spawn_blocking`) and ends it with [`Stop::stop`].

mod config;
mod post;
pub mod sign;
pub mod state;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::feed::lifecycle::FeedEvent;
use crate::rng::SplitMix64;
use crate::workspace::{self, Workspace};
pub use config::{DeliverConfig, WebhookConfig, MAX_SECONDS, MIN_SECONDS};
use post::{Client, Outcome};
use state::Positions;

/// A shutdown signal for [`run`]: cheap to clone; [`Stop::stop`] from any thread ends the
/// deliverer's waits at once (a request in flight finishes first, within `timeout_seconds`).
#[derive(Clone, Debug, Default)]
pub struct Stop {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Stop {
    /// A signal not yet raised.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Raises the signal.
    pub fn stop(&self) {
        let (flag, wake) = &*self.inner;
        *flag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        wake.notify_all();
    }

    /// True once the signal was raised.
    pub fn is_stopped(&self) -> bool {
        *self
            .inner
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits `duration`, or less when the signal is raised; true when it was raised.
    pub fn wait(&self, duration: Duration) -> bool {
        let (flag, wake) = &*self.inner;
        let guard = flag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (guard, _) = wake
            .wait_timeout_while(guard, duration, |stopped| !*stopped)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard
    }
}

/// What one webhook got in a call of [`deliver_pending`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSummary {
    /// The webhook: its number in the config and its host.
    pub webhook: String,
    /// Events it acknowledged in this call.
    pub delivered: u64,
    /// The `seq` of the last event it acknowledged (0: none yet).
    pub position: u64,
}

/// Follows the feed of the workspace `workspace` and delivers every event to every webhook of
/// `config` (read once: a changed config takes effect at the next start; see
/// [`crate::Config::of_workspace`]), until `stop` is raised. Returns at once when no webhook is configured. Blocks: run
/// it on a thread of its own. A webhook that cannot be reached is retried without end; a feed
/// that cannot be read is read again at the next poll; only a failure to keep the positions (or
/// a missing secret) ends it with an error, and raises `stop` for the other webhooks.
pub fn run(workspace: &Path, config: &DeliverConfig, stop: &Stop) -> Result<()> {
    deliver(workspace, config, stop, Mode::Follow).map(drop)
}

/// Delivers the events each webhook has not acknowledged yet, then returns (`xsignal deliver
/// --once`). A webhook that fails one event `once_attempts` times is an error
/// ([`Error::Delivery`]) once the other webhooks are done.
pub fn deliver_pending(
    workspace: &Path,
    config: &DeliverConfig,
    stop: &Stop,
) -> Result<Vec<WebhookSummary>> {
    deliver(workspace, config, stop, Mode::Once)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Once,
    Follow,
}

/// One configured webhook, ready to send.
struct Target<'a> {
    label: String,
    url: &'a str,
    secret: Vec<u8>,
}

fn deliver(
    root: &Path,
    config: &DeliverConfig,
    stop: &Stop,
    mode: Mode,
) -> Result<Vec<WebhookSummary>> {
    if config.webhook.is_empty() {
        return Ok(Vec::new());
    }
    let mut targets = Vec::new();
    for (index, webhook) in config.webhook.iter().enumerate() {
        let host = config::parse_url(&webhook.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
            .unwrap_or_default();
        let label = format!("{index} ({host})");
        let secret = webhook.resolve_secret(&label)?;
        targets.push(Target {
            label,
            url: &webhook.url,
            secret,
        });
    }
    let _lock = workspace::lock_delivery(root)?;
    let positions = Positions::load(root)?;
    let outcomes: Vec<Result<WebhookSummary>> = std::thread::scope(|scope| {
        let workers: Vec<_> = targets
            .iter()
            .map(|target| {
                let positions = &positions;
                scope.spawn(move || {
                    let outcome = follow(root, target, config, positions, stop, mode);
                    if let (Err(error), Mode::Follow) = (&outcome, mode) {
                        tracing::error!(webhook = %target.label, error = %error, "delivery stopped");
                        stop.stop();
                    }
                    outcome
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a delivery thread panicked"))
            .collect()
    });
    outcomes.into_iter().collect()
}

/// Delivers to one webhook: everything pending (once), or on and on until `stop` (follow).
fn follow(
    root: &Path,
    target: &Target,
    config: &DeliverConfig,
    positions: &Positions,
    stop: &Stop,
    mode: Mode,
) -> Result<WebhookSummary> {
    let client = Client::new(Duration::from_secs_f64(config.timeout_seconds));
    let poll = Duration::from_secs_f64(config.poll_seconds);
    // Jitter differs between webhooks and is the same from run to run.
    let mut rng = SplitMix64::new(xxhash_rust::xxh3::xxh3_64(target.url.as_bytes()));
    let mut summary = WebhookSummary {
        webhook: target.label.clone(),
        delivered: 0,
        position: positions.get(target.url).map_or(0, |position| position.seq),
    };
    loop {
        if stop.is_stopped() {
            return Ok(summary);
        }
        let events = match read_feed(root) {
            Ok(events) => events,
            Err(error) if mode == Mode::Follow => {
                tracing::warn!(webhook = %target.label, error = %error, "cannot read the feed; reading it again at the next poll");
                if stop.wait(poll) {
                    return Ok(summary);
                }
                continue;
            }
            Err(error) => return Err(error),
        };
        let (start, restarted) = state::first_pending(&events, positions.get(target.url).as_ref());
        if restarted {
            tracing::warn!(
                webhook = %target.label,
                position = summary.position,
                "the feed no longer holds the last delivered event (the workspace was started over); delivering it from its start"
            );
        }
        for (event, body) in &events[start..] {
            if !send_until_taken(target, config, &client, &mut rng, event, body, stop, mode)? {
                return Ok(summary);
            }
            positions.record(target.url, event.seq, body)?;
            summary.delivered += 1;
            summary.position = event.seq;
        }
        if mode == Mode::Once || stop.wait(poll) {
            return Ok(summary);
        }
    }
}

/// The committed feed with each event's body (its JSON line as sent).
fn read_feed(root: &Path) -> Result<Vec<(FeedEvent, Vec<u8>)>> {
    let events = Workspace::open_existing(root)?.feed()?;
    Ok(events
        .into_iter()
        .map(|event| {
            let body = serde_json::to_vec(&event).expect("feed events serialise");
            (event, body)
        })
        .collect())
}

/// Sends one event until the webhook acknowledges it: true when it did, false when `stop` was
/// raised first; an error when `--once` ran out of attempts.
#[allow(clippy::too_many_arguments)]
fn send_until_taken(
    target: &Target,
    config: &DeliverConfig,
    client: &Client,
    rng: &mut SplitMix64,
    event: &FeedEvent,
    body: &[u8],
    stop: &Stop,
    mode: Mode,
) -> Result<bool> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match client.post(target.url, &target.secret, event, body, attempt) {
            Outcome::Delivered { status } => {
                tracing::info!(webhook = %target.label, seq = event.seq, status, attempt, "delivered");
                return Ok(true);
            }
            Outcome::Failed {
                status,
                why,
                retry_after,
            } => {
                if mode == Mode::Once && attempt >= config.once_attempts {
                    return Err(Error::Delivery {
                        webhook: target.label.clone(),
                        message: format!(
                            "feed event {} not taken after {attempt} attempts (last: {why})",
                            event.seq
                        ),
                    });
                }
                let wait = post::backoff(
                    attempt,
                    config.retry_first_seconds,
                    config.retry_max_seconds,
                    retry_after,
                    rng,
                );
                tracing::warn!(
                    webhook = %target.label,
                    seq = event.seq,
                    attempt,
                    status,
                    error = %why,
                    retry_in_ms = wait.as_millis() as u64,
                    "delivery failed; retrying"
                );
                if stop.wait(wait) {
                    return Ok(false);
                }
            }
        }
    }
}
