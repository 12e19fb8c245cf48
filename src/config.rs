//! The versioned pipeline configuration (`xsignal.toml`).
//!
//! Pipeline semantics (limits, models, thresholds, windows) live here; runtime knobs (threads, paths,
//! log level) are command-line flags. The config that produced a workspace is written into it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validation::Checks;

/// The config file version this build reads and writes.
pub const CONFIG_VERSION: u32 = 1;

/// The whole pipeline configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Config format version; must be [`CONFIG_VERSION`].
    pub version: u32,
    /// Ingest limits.
    #[serde(default)]
    pub ingest: crate::ingest::IngestConfig,
    /// Encoder settings.
    #[serde(default)]
    pub embed: crate::embed::EmbedConfig,
    /// Sentiment settings.
    #[serde(default)]
    pub sentiment: crate::sentiment::SentimentConfig,
    /// Topic clustering settings.
    #[serde(default)]
    pub topics: crate::topics::TopicsConfig,
    /// Trend detection settings.
    #[serde(default)]
    pub trends: crate::trends::TrendsConfig,
    /// Personal-data settings (redaction before storing).
    #[serde(default)]
    pub privacy: crate::privacy::PrivacyConfig,
    /// Feed delivery to webhooks (left out of the written config while it is all defaults).
    #[serde(
        default,
        skip_serializing_if = "crate::deliver::DeliverConfig::is_default"
    )]
    pub deliver: crate::deliver::DeliverConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: CONFIG_VERSION,
            ingest: Default::default(),
            embed: Default::default(),
            sentiment: Default::default(),
            topics: Default::default(),
            trends: Default::default(),
            privacy: Default::default(),
            deliver: Default::default(),
        }
    }
}

impl Config {
    /// Reads and validates a TOML config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::io(path, source))?;
        Config::parse(&text, path)
    }

    /// The config of the workspace's committed run (its `config.toml`), or the defaults when it
    /// has none: what `forget`, `xsignal deliver` and a server read.
    pub fn of_workspace(workspace: &crate::workspace::Workspace) -> Result<Config> {
        let path = workspace.path("config.toml");
        if path.is_file() {
            Config::load(&path)
        } else {
            Ok(Config::default())
        }
    }

    /// Parses TOML text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|error| Error::Config {
            path: path.to_path_buf(),
            message: error.message().to_string(),
        })?;
        if config.version != CONFIG_VERSION {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "unsupported version {} (this build reads version {CONFIG_VERSION})",
                    config.version
                ),
            });
        }
        config.validate().map_err(|error| Error::Config {
            path: path.to_path_buf(),
            message: match error {
                Error::ConfigValues(message) => message,
                other => other.to_string(),
            },
        })?;
        Ok(config)
    }

    /// Range-checks every section; the error lists every value out of range
    /// ([`Error::ConfigValues`]). [`Config::parse`] runs it; run it again after changing values.
    pub fn validate(&self) -> Result<()> {
        let mut checks = Checks::new("ingest");
        self.ingest.check_values(&mut checks);
        checks.enter("embed");
        self.embed.check_values(&mut checks);
        checks.enter("sentiment");
        self.sentiment.check_values(&mut checks);
        checks.enter("topics");
        self.topics.check_values(&mut checks);
        checks.enter("trends");
        self.trends.check_values(&mut checks);
        checks.enter("privacy");
        self.privacy.check_values(&mut checks);
        checks.enter("deliver");
        self.deliver.check_values(&mut checks);
        checks.into_result()
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises to toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_round_trips() {
        let config = Config::default();
        let text = config.to_toml();
        let parsed = Config::parse(&text, Path::new("test.toml")).unwrap();
        assert_eq!(parsed, config);
    }

    #[test]
    fn default_config_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_keys() {
        let cases = [
            ("[topics]\nepoch_hours = -24.0", "topics.epoch_hours"),
            ("[topics]\nepoch_hours = nan", "topics.epoch_hours"),
            ("[topics]\nepoch_hours = 0.001", "topics.epoch_hours"),
            ("[topics]\nmax_clusters = 0", "topics.max_clusters"),
            ("[topics]\nmin_topic_size = 0", "topics.min_topic_size"),
            (
                "[topics]\nmerge_similarity = 1.5",
                "topics.merge_similarity",
            ),
            ("[trends]\nz_threshold = -1.0", "trends.z_threshold"),
            ("[trends]\nwindow_buckets = 0", "trends.window_buckets"),
            ("[trends]\nbeta = inf", "trends.beta"),
            (
                "[trends]\nmin_outside_peak_share = 2.0",
                "trends.min_outside_peak_share",
            ),
            ("[trends]\nbucket = \"0h\"", "trends.bucket"),
            ("[embed]\nbatch_size = 0", "embed.batch_size"),
            ("[embed]\nmax_tokens = 2", "embed.max_tokens"),
            ("[sentiment]\nwhole_weight = -0.1", "sentiment.whole_weight"),
            (
                "[ingest]\nmax_future_hours = -1.0",
                "ingest.max_future_hours",
            ),
        ];
        for (section, key) in cases {
            let text = format!("version = 1\n{section}\n");
            let error = Config::parse(&text, Path::new("x.toml")).unwrap_err();
            assert!(matches!(error, Error::Config { .. }), "{section}: {error}");
            let message = error.to_string();
            assert!(message.contains(key), "{section}: {message}");
            assert!(message.starts_with("config x.toml: "), "{message}");
        }
        // Every problem is listed, not only the first.
        let mut config = Config::default();
        config.trends.window_buckets = 0;
        config.topics.min_topic_size = 0;
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("trends.window_buckets"), "{message}");
        assert!(message.contains("topics.min_topic_size"), "{message}");
        // 0 epoch hours is a documented setting (no epochs).
        config = Config::default();
        config.topics.epoch_hours = 0.0;
        config.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_versions_are_refused() {
        let error = Config::parse("version = 1\nbogus = 3\n", Path::new("x.toml")).unwrap_err();
        assert!(error.to_string().contains("bogus"), "{error}");
        let error = Config::parse("version = 9\n", Path::new("x.toml")).unwrap_err();
        assert!(
            error.to_string().contains("unsupported version 9"),
            "{error}"
        );
    }
}
