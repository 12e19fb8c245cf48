//! The encoder stage's settings ([`EmbedConfig`], the `[embed]` section of the config file) and
//! what follows from them alone: the model folder and the number of workers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Backend;
use crate::validation::Checks;

/// Default of [`EmbedConfig::model`]: the sentiment model (multilingual-e5-small with the sentiment
/// adapters, built by `xsignal models fetch`), whose folder's center turns its vectors into topic
/// vectors, so that one pass of it serves topics and sentiment in English and German alike.
pub const DEFAULT_MODEL: &str = "sentiment-e5";

/// Default of [`EmbedConfig::max_windows`].
pub const MAX_WINDOWS: usize = 4;

/// Default of [`EmbedConfig::batch_tokens`].
pub const BATCH_TOKENS: usize = 512;

/// Settings of the encoder stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// Model folder name under the models directory.
    pub model: String,
    /// The inference stack.
    pub backend: Backend,
    /// Word pieces per window, special tokens included; longer texts are split into windows.
    pub max_tokens: usize,
    /// Most windows per text (0: no limit): the rest of a longer text is not encoded, as
    /// sentence encoders cut a text at their longest input. Four windows of 128 hold 512 word
    /// pieces, more than almost any comment; a long post's head carries its subject, and the rest
    /// would cost time in proportion to its length.
    pub max_windows: usize,
    /// Most windows per encoder batch.
    pub batch_size: usize,
    /// Most word pieces per encoder batch (windows × the longest window's length, padding
    /// included): long windows go in smaller batches, which keeps the runtime's working memory
    /// small. At least one window per batch.
    pub batch_tokens: usize,
    /// Encoder workers (0: one per core). Used by the backends that run one model per worker.
    pub workers: usize,
}

impl EmbedConfig {
    /// Records the problems of this section's values.
    pub fn check_values(&self, checks: &mut Checks) {
        checks.require(
            !self.model.trim().is_empty(),
            "model",
            "must name a model folder",
        );
        // Room for the special tokens and at least a few word pieces.
        checks.at_least("max_tokens", self.max_tokens, 8);
        checks.at_least("batch_size", self.batch_size, 1);
        checks.at_least("batch_tokens", self.batch_tokens, 1);
    }
}

impl Default for EmbedConfig {
    fn default() -> Self {
        EmbedConfig {
            model: DEFAULT_MODEL.to_string(),
            backend: Backend::fastest_compiled(),
            max_tokens: 128,
            max_windows: MAX_WINDOWS,
            batch_size: 32,
            batch_tokens: BATCH_TOKENS,
            workers: 0,
        }
    }
}

/// The folder of the configured model under `models_dir`.
pub fn model_dir(models_dir: &Path, config: &EmbedConfig) -> PathBuf {
    models_dir.join(&config.model)
}

/// The number of encoder workers for `configured` (0 means one per available core).
pub fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
