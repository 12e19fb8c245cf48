//! The versioned pipeline configuration (`xsignal.toml`).
//!
//! Pipeline semantics (limits, models, thresholds, windows) live here; runtime knobs (threads, paths,
//! log level) are command-line flags. The config that produced a workspace is written into it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
        }
    }
}

impl Config {
    /// Reads and validates a TOML config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::io(path, source))?;
        Config::parse(&text, path)
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
        Ok(config)
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
