//! Loading an [`Encoder`]: the model folder's files (checked without loading by
//! [`Encoder::check`]), the tokenizer, the backend's runner, the optional `center.json` with its
//! text prefix, and the fingerprints that key the embedding cache.

use std::path::Path;
use std::sync::atomic::AtomicUsize;

use serde::Deserialize;
use sha2::Digest;
use tokenizers::Tokenizer;

use super::backend::{checked_model, load_runner};
use super::{model_dir, worker_count, EmbedConfig, Encoder};
use crate::error::{Error, Result};
use crate::types::Lang;

/// A model folder's `center.json`: the mean vector of a broad sample of texts, overall and per
/// language. Models such as multilingual-e5-small give every pair of texts a cosine of about 0.8;
/// with the mean removed, cosines spread around 0 as those of all-MiniLM-L6-v2 do, so the same
/// topic thresholds hold. Removing each language's own mean also removes most of what separates
/// an English text from a German one on the same subject.
#[derive(Clone, Debug, serde::Serialize, Deserialize)]
pub struct Center {
    /// Format version (1).
    pub version: u32,
    /// The model folder it was computed for.
    pub model: String,
    /// How it was computed: the command and the texts.
    pub provenance: serde_json::Value,
    /// Text put before every text, as the model was trained to expect (multilingual-e5-small:
    /// `query: `); the mean was computed with it.
    #[serde(default)]
    pub prefix: String,
    /// The mean of the texts' L2-normalised vectors (for texts of a language without its own).
    pub mean: Vec<f32>,
    /// The mean per language code (`en`, `de`).
    #[serde(default)]
    pub by_language: std::collections::BTreeMap<String, Vec<f32>>,
    /// Orthonormal directions projected out after the mean is removed: for the sentiment model,
    /// the rows of its head, along which its fine-tuning spreads texts by sentiment, not subject
    /// (`examples/center.rs --remove-head`). Empty for other models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<Vec<f32>>,
}

impl Center {
    /// The mean to remove from a text in `lang` (its language's, else the overall one).
    fn mean_for(&self, lang: Option<Lang>) -> &[f32] {
        lang.and_then(|lang| self.by_language.get(lang.code()))
            .unwrap_or(&self.mean)
    }

    /// True when it has a mean per language, so that a text's vector depends on its language.
    pub fn varies_by_language(&self) -> bool {
        !self.by_language.is_empty()
    }

    /// Turns a model's L2-normalised vector for a text in `lang` into the centred one: the mean
    /// removed, the [`Center::remove`] directions projected out, normalised again.
    pub fn apply(&self, vector: &mut [f32], lang: Option<Lang>) {
        for (x, c) in vector.iter_mut().zip(self.mean_for(lang)) {
            *x -= c;
        }
        for direction in &self.remove {
            let dot: f32 = vector.iter().zip(direction).map(|(x, d)| x * d).sum();
            for (x, d) in vector.iter_mut().zip(direction) {
                *x -= dot * d;
            }
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        vector.iter_mut().for_each(|x| *x /= norm);
    }

    /// Checks that every vector has `dim` values and that the removed directions are orthonormal.
    pub(super) fn check(&self, dim: usize, path: &Path) -> Result<()> {
        let invalid = |what: String| Err(Error::Invalid(format!("{}: {what}", path.display())));
        let means = std::iter::once(("mean", &self.mean)).chain(
            self.by_language
                .iter()
                .map(|(lang, mean)| (lang.as_str(), mean)),
        );
        for (name, vector) in means.chain(self.remove.iter().map(|d| ("remove", d))) {
            if vector.len() != dim {
                return invalid(format!(
                    "{name} has {} values, the model {dim}",
                    vector.len()
                ));
            }
        }
        for (i, a) in self.remove.iter().enumerate() {
            for (j, b) in self.remove.iter().enumerate().skip(i) {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                if (dot - expected).abs() > 1e-3 {
                    return invalid(format!("remove directions {i} and {j} are not orthonormal"));
                }
            }
        }
        Ok(())
    }
}

/// An encoder's center and cache keys, split off its model by [`Encoder::split_center`]: what
/// [`super::derive_cached`] needs to give the encoder's vectors from its uncentred model's.
pub struct Centring {
    pub(super) cache_fingerprint: String,
    pub(super) center: Option<Center>,
}

impl Centring {
    /// True when a text's vector depends on its language (see [`Encoder::centres_by_language`]).
    pub fn by_language(&self) -> bool {
        self.center.as_ref().is_some_and(Center::varies_by_language)
    }
}

/// What [`Encoder::check`] learns without loading a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelCheck {
    /// The fingerprint the loaded encoder will have.
    pub fingerprint: String,
    /// Embedding width.
    pub dim: usize,
}

/// The window limit's part of the cache key (none without a limit, the key of earlier versions).
fn window_limit_key(max_windows: usize) -> String {
    match max_windows {
        0 => String::new(),
        limit => format!("/max_windows={limit}"),
    }
}

/// The encoder fingerprint of a config (model name and token limit).
fn fingerprint(config: &EmbedConfig) -> String {
    format!("{}/max_tokens={}", config.model, config.max_tokens)
}

impl Encoder {
    /// Checks, without loading anything big, that [`Encoder::load`] will find every file it needs;
    /// returns the fingerprint and width the encoder will have.
    pub fn check(models_dir: &Path, config: &EmbedConfig) -> Result<ModelCheck> {
        let (_, shape) = checked_model(models_dir, config)?;
        Ok(ModelCheck {
            fingerprint: fingerprint(config),
            dim: shape.hidden_size,
        })
    }

    /// Loads the model in `models_dir/<config.model>` with the configured backend. A missing file
    /// gives [`Error::ModelMissing`]; a backend this build lacks gives [`Error::BackendNotCompiled`].
    pub fn load(models_dir: &Path, config: &EmbedConfig) -> Result<Encoder> {
        let backend = config.backend;
        let (config_text, shape) = checked_model(models_dir, config)?;
        let dir = model_dir(models_dir, config);
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        let workers = worker_count(config.workers);
        let runner = load_runner(backend, models_dir, &dir, &config_text, workers)?;
        let fingerprint = fingerprint(config);
        // A folder built by `xsignal models fetch` from parts (the sentiment model) records them in
        // source.txt: new parts, new cache keys.
        let source = match std::fs::read(dir.join("source.txt")) {
            Ok(bytes) => {
                let digest = sha2::Sha256::digest(&bytes);
                format!("/source={}", crate::hex::encode(&digest[..8]))
            }
            Err(_) => String::new(),
        };
        let center_path = dir.join("center.json");
        let center = match std::fs::read_to_string(&center_path) {
            Ok(text) => {
                let center: Center = serde_json::from_str(&text).map_err(|source| Error::Json {
                    path: center_path.clone(),
                    source,
                })?;
                center.check(shape.hidden_size, &center_path)?;
                Some(center)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(Error::io(&center_path, source)),
        };
        let prefix = center
            .as_ref()
            .map(|center| center.prefix.clone())
            .unwrap_or_default();
        let encoder = Encoder {
            runner,
            tokenizer,
            backend,
            center,
            prefix: String::new(),
            prefix_ids: Vec::new(),
            cut_texts: AtomicUsize::new(0),
            dim: shape.hidden_size,
            max_tokens: config.max_tokens.max(8),
            max_windows: config.max_windows,
            batch_size: config.batch_size.max(1),
            batch_tokens: config.batch_tokens,
            cache_fingerprint: format!(
                "{fingerprint}/windows/{}{source}{}",
                backend.revision(),
                window_limit_key(config.max_windows)
            ),
            fingerprint,
        };
        if prefix.is_empty() {
            Ok(encoder)
        } else {
            encoder.with_prefix(&prefix)
        }
    }

    /// The same encoder without its center: vectors as the model pools them (used to compute a
    /// center, and what a sentiment head trained on the model reads). Its cache key space is its
    /// own.
    pub fn uncentred(self) -> Encoder {
        self.split_center().0
    }

    /// Splits this encoder in two: the same model without its center ([`Encoder::uncentred`]),
    /// and what turns that model's vectors into this encoder's without running it again
    /// ([`Centring`]). One pass of the model then serves a head that reads its plain vectors and
    /// the topics that read the centred ones.
    pub fn split_center(mut self) -> (Encoder, Centring) {
        let centring = Centring {
            cache_fingerprint: self.cache_fingerprint.clone(),
            center: self.center.take(),
        };
        if centring.center.is_some() {
            self.cache_fingerprint.push_str("/uncentred");
        }
        (self, centring)
    }

    /// Puts `prefix` before every text (see [`Center::prefix`]).
    pub fn with_prefix(mut self, prefix: &str) -> Result<Encoder> {
        self.prefix = prefix.to_string();
        self.prefix_ids = if prefix.trim().is_empty() {
            Vec::new()
        } else {
            self.tokenizer
                .encode(prefix.trim_end(), false)
                .map_err(|error| Error::Tokenizer(error.to_string()))?
                .get_ids()
                .to_vec()
        };
        self.cache_fingerprint
            .push_str(&format!("/prefix={prefix:?}"));
        Ok(self)
    }
}
