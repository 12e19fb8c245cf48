//! The `[deliver]` section of the workspace config: the webhooks and the retry policy.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validation::Checks;

/// How the feed is delivered, and to which webhooks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverConfig {
    /// Seconds between two looks at the feed when every webhook is up to date.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: f64,
    /// Seconds one POST may take (connect, send, answer) before it counts as failed.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: f64,
    /// Seconds before the first retry of a failed event; each further retry waits twice as long.
    #[serde(default = "default_retry_first_seconds")]
    pub retry_first_seconds: f64,
    /// The longest wait between two attempts, in seconds.
    #[serde(default = "default_retry_max_seconds")]
    pub retry_max_seconds: f64,
    /// `xsignal deliver --once` gives up on a webhook after this many failed attempts of one
    /// event (following the feed retries without end).
    #[serde(default = "default_once_attempts")]
    pub once_attempts: u32,
    /// The webhooks (`[[deliver.webhook]]`), each receiving every feed event.
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
}

/// One webhook: where events go and the secret that signs them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The `http://` or `https://` URL events are POSTed to. It names the webhook's delivery
    /// position: another URL starts from the beginning of the feed.
    pub url: String,
    /// The signing secret (prefer `secret_env`: the config is copied into every run's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The environment variable holding the signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| ".."))
            .field("secret_env", &self.secret_env)
            .finish()
    }
}

/// The shortest time a `[deliver]` setting may have, in seconds.
pub const MIN_SECONDS: f64 = 0.001;
/// The longest time a `[deliver]` setting may have, in seconds (a day).
pub const MAX_SECONDS: f64 = 86_400.0;

fn default_poll_seconds() -> f64 {
    2.0
}

fn default_timeout_seconds() -> f64 {
    10.0
}

fn default_retry_first_seconds() -> f64 {
    1.0
}

fn default_retry_max_seconds() -> f64 {
    300.0
}

fn default_once_attempts() -> u32 {
    8
}

impl Default for DeliverConfig {
    fn default() -> Self {
        DeliverConfig {
            poll_seconds: default_poll_seconds(),
            timeout_seconds: default_timeout_seconds(),
            retry_first_seconds: default_retry_first_seconds(),
            retry_max_seconds: default_retry_max_seconds(),
            once_attempts: default_once_attempts(),
            webhook: Vec::new(),
        }
    }
}

impl DeliverConfig {
    /// True when the section is all defaults (it is then left out of the written config).
    pub fn is_default(&self) -> bool {
        *self == DeliverConfig::default()
    }

    /// Range-checks the values (section `deliver`): times from [`MIN_SECONDS`] to
    /// [`MAX_SECONDS`], a first retry no longer than the longest, at least one attempt, and for each webhook an http(s) URL with a host and
    /// exactly one of a non-empty `secret` or `secret_env`.
    pub fn check_values(&self, checks: &mut Checks) {
        for (key, value) in [
            ("poll_seconds", self.poll_seconds),
            ("timeout_seconds", self.timeout_seconds),
            ("retry_first_seconds", self.retry_first_seconds),
            ("retry_max_seconds", self.retry_max_seconds),
        ] {
            checks.within(key, value, MIN_SECONDS, MAX_SECONDS);
        }
        checks.require(
            self.retry_first_seconds <= self.retry_max_seconds,
            "retry_first_seconds",
            format!(
                "must not exceed retry_max_seconds (got {} > {})",
                self.retry_first_seconds, self.retry_max_seconds
            ),
        );
        checks.at_least("once_attempts", self.once_attempts as usize, 1);
        for (index, webhook) in self.webhook.iter().enumerate() {
            let key = |name: &str| format!("webhook[{index}].{name}");
            if let Err(why) = parse_url(&webhook.url) {
                checks.require(false, &key("url"), why);
            }
            match (&webhook.secret, &webhook.secret_env) {
                (Some(_), Some(_)) => {
                    checks.require(false, &key("secret"), "and secret_env: give only one")
                }
                (None, None) => checks.require(
                    false,
                    &key("secret"),
                    "is missing: give secret or secret_env",
                ),
                (Some(secret), None) => {
                    checks.require(!secret.is_empty(), &key("secret"), "must not be empty")
                }
                (None, Some(name)) => checks.require(
                    !name.is_empty() && !name.contains('='),
                    &key("secret_env"),
                    "must name an environment variable",
                ),
            }
        }
    }
}

/// `text` as an http(s) URL with a host, or why not (the URL itself is not repeated: it may
/// carry a token).
pub(crate) fn parse_url(text: &str) -> std::result::Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|error| format!("is not a URL ({error})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "must be an http or https URL (got scheme {:?})",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_string());
    }
    Ok(url)
}

impl WebhookConfig {
    /// The signing secret: `secret`, or the value of the variable `secret_env` names.
    pub fn resolve_secret(&self, label: &str) -> Result<Vec<u8>> {
        let missing = |message: String| Error::Delivery {
            webhook: label.to_string(),
            message,
        };
        match (&self.secret, &self.secret_env) {
            (Some(secret), _) if !secret.is_empty() => Ok(secret.as_bytes().to_vec()),
            (_, Some(name)) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(value.into_bytes()),
                _ => Err(missing(format!(
                    "the environment variable {name} (secret_env) is not set or empty"
                ))),
            },
            _ => Err(missing("no secret configured".to_string())),
        }
    }
}
