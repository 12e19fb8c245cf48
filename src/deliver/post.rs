//! One POST of one feed event to one webhook, and the wait before the next attempt.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::feed::lifecycle::FeedEvent;
use crate::rng::SplitMix64;

use super::sign;

/// Bytes of a webhook's answer that are read (and dropped) so that its connection can be reused.
const ANSWER_BYTES: u64 = 64 * 1024;

/// What became of one attempt.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A 2xx answer: the webhook has the event.
    Delivered {
        /// The HTTP status.
        status: u16,
    },
    /// Anything else: the event is sent again.
    Failed {
        /// The HTTP status, when the webhook answered.
        status: Option<u16>,
        /// What went wrong, for the log (no URL, no body).
        why: String,
        /// The wait the webhook asked for (`Retry-After` in seconds).
        retry_after: Option<Duration>,
    },
}

/// The HTTP client of one webhook: a blocking `ureq` agent that keeps its connections, follows
/// no redirects and gives up on a request after the configured timeout.
pub(crate) struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(timeout: Duration) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            .redirects(0)
            .user_agent(concat!("xsignal/", env!("CARGO_PKG_VERSION")))
            .build();
        Client { agent }
    }

    /// POSTs `body` (the JSON of `event`) to `url`, signed with `secret`; `attempt` counts from 1.
    pub(crate) fn post(
        &self,
        url: &str,
        secret: &[u8],
        event: &FeedEvent,
        body: &[u8],
        attempt: u32,
    ) -> Outcome {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let seq = event.seq.to_string();
        let kind = match event.event {
            crate::feed::lifecycle::FeedEventKind::Opened => "opened",
            crate::feed::lifecycle::FeedEventKind::Updated => "updated",
            crate::feed::lifecycle::FeedEventKind::Closed => "closed",
        };
        let answer = self
            .agent
            .post(url)
            .set("Content-Type", "application/json")
            .set(sign::TIMESTAMP_HEADER, &timestamp.to_string())
            .set(
                sign::SIGNATURE_HEADER,
                &sign::signature(secret, timestamp, body),
            )
            .set(sign::SEQ_HEADER, &seq)
            .set(sign::IDEMPOTENCY_HEADER, &seq)
            .set(sign::EVENT_HEADER, kind)
            .set(sign::ATTEMPT_HEADER, &attempt.to_string())
            .send_bytes(body);
        match answer {
            Ok(response) => {
                let status = response.status();
                drain(response);
                if (200..300).contains(&status) {
                    Outcome::Delivered { status }
                } else {
                    // 1xx and 3xx: no redirect is followed (a POST must not be repeated
                    // elsewhere unasked); configure the final URL.
                    Outcome::Failed {
                        status: Some(status),
                        why: format!("answered {status}"),
                        retry_after: None,
                    }
                }
            }
            Err(ureq::Error::Status(status, response)) => {
                let retry_after = response
                    .header("Retry-After")
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                drain(response);
                Outcome::Failed {
                    status: Some(status),
                    why: format!("answered {status}"),
                    retry_after,
                }
            }
            Err(ureq::Error::Transport(transport)) => Outcome::Failed {
                status: None,
                // The kind only: the full message repeats the URL, which may carry a token.
                why: transport.kind().to_string(),
                retry_after: None,
            },
        }
    }
}

fn drain(response: ureq::Response) {
    let _ = std::io::copy(
        &mut response.into_reader().take(ANSWER_BYTES),
        &mut std::io::sink(),
    );
}

/// The wait after the `failures`-th failed attempt of an event: `first` seconds doubled for each
/// failure before, at most `max`, then jittered to a uniform share of 50 to 100 % (so that many
/// deliverers do not retry in step); at least what the webhook asked for (capped at `max`).
pub(crate) fn backoff(
    failures: u32,
    first: f64,
    max: f64,
    asked: Option<Duration>,
    rng: &mut SplitMix64,
) -> Duration {
    let doubled = first * 2f64.powi(failures.saturating_sub(1).min(60) as i32);
    let capped = doubled.min(max);
    let jittered = Duration::from_secs_f64(capped * (0.5 + 0.5 * rng.next_f64()));
    let asked = asked.map_or(Duration::ZERO, |asked| {
        asked.min(Duration::from_secs_f64(max))
    });
    jittered.max(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_and_honours_retry_after() {
        let mut rng = SplitMix64::new(7);
        let mut bounds = Vec::new();
        for failures in 1..=12 {
            let wait = backoff(failures, 1.0, 60.0, None, &mut rng).as_secs_f64();
            let full = (2f64.powi(failures as i32 - 1)).min(60.0);
            assert!(
                wait >= full / 2.0 && wait <= full,
                "{failures}: {wait} not in [{}, {full}]",
                full / 2.0
            );
            bounds.push(full);
        }
        assert_eq!(bounds[0], 1.0);
        assert_eq!(bounds[3], 8.0);
        assert_eq!(bounds[11], 60.0);
        // Seeded: the same seed gives the same waits.
        let waits = |seed| {
            let mut rng = SplitMix64::new(seed);
            (1..=5)
                .map(|failures| backoff(failures, 1.0, 60.0, None, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(waits(3), waits(3));
        assert_ne!(waits(3), waits(4));
        // Retry-After wins when longer, up to the cap.
        let asked = backoff(1, 1.0, 60.0, Some(Duration::from_secs(30)), &mut rng);
        assert_eq!(asked, Duration::from_secs(30));
        let capped = backoff(1, 1.0, 60.0, Some(Duration::from_secs(3600)), &mut rng);
        assert_eq!(capped, Duration::from_secs(60));
        // Very many failures neither overflow nor pass the cap.
        assert!(backoff(u32::MAX, 1.0, 60.0, None, &mut rng) <= Duration::from_secs(60));
    }
}
