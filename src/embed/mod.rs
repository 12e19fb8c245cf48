//! The sentence encoder: a BERT-family transformer (all-MiniLM-L6-v2 by default), run offline from the
//! files in `models/` by one of three backends (see [`Backend`]).
//!
//! In: comment texts. Out: one L2-normalised, mean-pooled embedding per text (384 floats for MiniLM).
//! The same embedding feeds sentiment and topics, so each comment passes through the encoder once.
//!
//! The work that does not depend on the backend lives here: texts are tokenised in parallel, split
//! into windows when too long, sorted by token length and cut into batches padded to the batch's
//! longest text (little work is wasted on padding). A batch holds at most
//! [`EmbedConfig::batch_tokens`] padded word pieces, so long windows go a few at a time: the
//! runtime's working memory grows with the batch, and small batches of long windows are no slower.
//! The backend runs the batches, on one or more workers; a batch's composition never depends on
//! the number of workers, so the output does not.
//!
//! **Long texts** are split, not cut at the first window. A text of more than
//! [`EmbedConfig::max_tokens`] word pieces is split into windows of at most that many pieces, each
//! ending at a sentence end (`.`, `!`, `?`) where one falls in the window's second half; each window
//! is encoded like a text of its own, and the text's embedding is the token-weighted mean of its
//! windows' embeddings, re-normalised. Only the first [`EmbedConfig::max_windows`] windows (four:
//! 512 word pieces) are encoded; how many texts went past them is logged.

mod cache;
mod candle;
#[cfg(feature = "onnx")]
mod onnx;
#[cfg(feature = "rust-bert")]
mod rust_bert;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokenizers::Tokenizer;

pub use cache::EmbeddingCache;

use crate::error::{Error, Result};
use crate::types::Lang;
use crate::validation::Checks;

/// Which inference stack runs the transformer. All load the same model folder and agree to a cosine
/// of at least 0.999 on the same text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// candle: pure Rust, always compiled in; one model, parallel inside each matrix product.
    Candle,
    /// ONNX Runtime through `ort` (cargo feature `onnx`): the runtime library and the ONNX graph
    /// come from `xsignal models fetch`; one session per worker, one thread each.
    Onnx,
    /// ONNX Runtime on the int8 graph (`model-int8.onnx`, built by `scripts/export_onnx.py`: int8
    /// weights per output channel, activations quantised per token, so a text's vector does not
    /// depend on its batch). About twice as fast as fp32; embeddings within a cosine of ~0.99 of
    /// fp32 (not the 0.999 of the fp32 backends).
    OnnxInt8,
    /// rust-bert on libtorch (cargo feature `rust-bert`; libtorch from `scripts/setup-libtorch`);
    /// one model per worker.
    RustBert,
}

impl Backend {
    /// The name used in the config file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Candle => "candle",
            Backend::Onnx => "onnx",
            Backend::OnnxInt8 => "onnx-int8",
            Backend::RustBert => "rust-bert",
        }
    }

    /// The backend's name and the revision of what it computes: part of the embedding cache key, so
    /// vectors of an earlier graph are not reused after the graph changes.
    fn revision(self) -> &'static str {
        match self {
            Backend::OnnxInt8 => "onnx-int8/per-token-v1",
            other => other.name(),
        }
    }

    /// The cargo feature that compiles the backend in (`None` for candle, always compiled).
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Backend::Candle => None,
            Backend::Onnx | Backend::OnnxInt8 => Some("onnx"),
            Backend::RustBert => Some("rust-bert"),
        }
    }

    /// Whether this build has the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Candle => true,
            Backend::Onnx | Backend::OnnxInt8 => cfg!(feature = "onnx"),
            Backend::RustBert => cfg!(feature = "rust-bert"),
        }
    }

    /// The backends compiled into this build.
    pub fn compiled() -> Vec<Backend> {
        [
            Backend::Candle,
            Backend::Onnx,
            Backend::OnnxInt8,
            Backend::RustBert,
        ]
        .into_iter()
        .filter(|backend| backend.is_compiled())
        .collect()
    }

    /// The default: the fastest backend this build has (the int8 graph's quality cost is measured in
    /// docs/EVALUATION.md and is within a point on the sentiment and topic sets).
    pub fn fastest_compiled() -> Backend {
        if Backend::OnnxInt8.is_compiled() {
            Backend::OnnxInt8
        } else {
            Backend::Candle
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Default of [`EmbedConfig::max_windows`].
pub const MAX_WINDOWS: usize = 4;

/// Default of [`EmbedConfig::batch_tokens`].
pub const BATCH_TOKENS: usize = 512;

/// Cuts windows sorted by length (ascending) into consecutive batches of at most `max_windows`
/// windows and at most `max_tokens` word pieces once padded to the batch's longest window (always
/// at least one window). Returns the index ranges of the batches.
fn token_batches(
    sorted_lengths: &[usize],
    max_windows: usize,
    max_tokens: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < sorted_lengths.len() {
        let mut end = start + 1;
        while end < sorted_lengths.len()
            && end - start < max_windows
            && (end + 1 - start) * sorted_lengths[end] <= max_tokens
        {
            end += 1;
        }
        batches.push(start..end);
        start = end;
    }
    batches
}

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
            model: "all-MiniLM-L6-v2".to_string(),
            backend: Backend::fastest_compiled(),
            max_tokens: 128,
            max_windows: MAX_WINDOWS,
            batch_size: 32,
            batch_tokens: BATCH_TOKENS,
            workers: 0,
        }
    }
}

/// One inference stack with a loaded model. Batches are token ids of equal-ish length, already
/// framed by the special tokens; the result is one L2-normalised mean-pooled vector per sequence.
pub(crate) trait Runner: Send + Sync {
    /// How many batches may run at once (`encode_batch` is called with `worker < workers()`).
    fn workers(&self) -> usize;
    /// Encodes one batch on `worker`.
    fn encode_batch(&self, worker: usize, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>>;
}

/// A loaded sentence encoder.
pub struct Encoder {
    runner: Box<dyn Runner>,
    tokenizer: Tokenizer,
    backend: Backend,
    dim: usize,
    max_tokens: usize,
    max_windows: usize,
    batch_size: usize,
    batch_tokens: usize,
    fingerprint: String,
    cache_fingerprint: String,
    /// Subtracted from every text's vector before the final normalisation (`center.json` in the
    /// model folder), for models whose vectors share one dominant direction.
    center: Option<Center>,
    /// Put before every text (the center's `prefix`), and its word pieces.
    prefix: String,
    prefix_ids: Vec<u32>,
    /// Texts encoded from their first `max_windows` windows only, since the encoder was loaded.
    cut_texts: AtomicUsize,
}

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
}

impl Center {
    /// The mean to remove from a text in `lang` (its language's, else the overall one).
    fn mean_for(&self, lang: Option<Lang>) -> &[f32] {
        lang.and_then(|lang| self.by_language.get(lang.code()))
            .unwrap_or(&self.mean)
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

/// The model's `config.json` fields the backends need.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ModelShape {
    pub hidden_size: usize,
}

/// Fails with [`Error::ModelMissing`] unless every file in `names` is in `dir`.
pub(crate) fn require_files(dir: &Path, names: &[&str]) -> Result<()> {
    for name in names {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(Error::ModelMissing { path });
        }
    }
    Ok(())
}

/// What [`Encoder::check`] learns without loading a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelCheck {
    /// The fingerprint the loaded encoder will have.
    pub fingerprint: String,
    /// Embedding width.
    pub dim: usize,
}

/// The model's config text and shape, after checking that the backend is compiled and that every
/// file it needs is there.
fn checked_model(models_dir: &Path, config: &EmbedConfig) -> Result<(String, ModelShape)> {
    let backend = config.backend;
    if !backend.is_compiled() {
        return Err(Error::BackendNotCompiled {
            backend: backend.name(),
            feature: backend.feature().unwrap_or_default(),
        });
    }
    let dir = model_dir(models_dir, config);
    require_files(&dir, &["config.json", "tokenizer.json"])?;
    let weights = match backend {
        Backend::Candle | Backend::RustBert => "model.safetensors",
        Backend::Onnx => "model.onnx",
        Backend::OnnxInt8 => "model-int8.onnx",
    };
    require_files(&dir, &[weights])?;
    #[cfg(feature = "onnx")]
    if matches!(backend, Backend::Onnx | Backend::OnnxInt8) {
        let library = onnx::runtime_library(models_dir);
        if !library.is_file() {
            return Err(Error::ModelMissing { path: library });
        }
    }
    let config_path = dir.join("config.json");
    let config_text =
        std::fs::read_to_string(&config_path).map_err(|source| Error::io(&config_path, source))?;
    let shape: ModelShape = serde_json::from_str(&config_text).map_err(|source| Error::Json {
        path: config_path.clone(),
        source,
    })?;
    Ok((config_text, shape))
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
        let runner: Box<dyn Runner> = match backend {
            Backend::Candle => Box::new(candle::CandleRunner::load(&dir, &config_text)?),
            #[cfg(feature = "onnx")]
            Backend::Onnx => Box::new(onnx::OnnxRunner::load(
                models_dir,
                &dir.join("model.onnx"),
                workers,
            )?),
            #[cfg(feature = "onnx")]
            Backend::OnnxInt8 => Box::new(onnx::OnnxRunner::load(
                models_dir,
                &dir.join("model-int8.onnx"),
                workers,
            )?),
            #[cfg(feature = "rust-bert")]
            Backend::RustBert => Box::new(rust_bert::RustBertRunner::load(&dir, workers)?),
            #[allow(unreachable_patterns)]
            _ => unreachable!("checked by is_compiled above"),
        };
        let _ = workers;
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
                for (name, mean) in std::iter::once(("mean", &center.mean)).chain(
                    center
                        .by_language
                        .iter()
                        .map(|(lang, mean)| (lang.as_str(), mean)),
                ) {
                    if mean.len() != shape.hidden_size {
                        return Err(Error::Invalid(format!(
                            "{}: {name} has {} values, the model {}",
                            center_path.display(),
                            mean.len(),
                            shape.hidden_size
                        )));
                    }
                }
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

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of texts encoded from their first `max_windows` windows only (longer than the
    /// limit), since the encoder was loaded.
    pub fn cut_texts(&self) -> usize {
        self.cut_texts.load(Ordering::Relaxed)
    }

    /// The same encoder without its center: vectors as the model pools them (used to compute a
    /// center). Its cache key space is its own.
    pub fn uncentred(mut self) -> Encoder {
        if self.center.take().is_some() {
            self.cache_fingerprint.push_str("/uncentred");
        }
        self
    }

    /// True when a text's vector depends on its language (the center has per-language means).
    pub fn centres_by_language(&self) -> bool {
        self.center
            .as_ref()
            .is_some_and(|center| !center.by_language.is_empty())
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

    /// The backend running the model.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Identifies the model and settings; a sentiment head trained on embeddings of one
    /// fingerprint works on embeddings of the same fingerprint, from any backend.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Identifies model, settings and backend: the key space of the embedding cache, so that
    /// embeddings of different backends (equal only to about 1e-4) are never mixed.
    pub fn cache_fingerprint(&self) -> &str {
        &self.cache_fingerprint
    }

    /// Largest number of word pieces per window.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Tokenises `text` into one or more windows (at most `max_windows`, when that is set) of at
    /// most `max_tokens` ids, each framed by the tokenizer's special tokens.
    #[cfg(test)]
    fn windows(&self, text: &str) -> Result<Vec<Vec<u32>>> {
        self.split(text).map(|(windows, _)| windows)
    }

    /// [`Encoder::windows`], and whether the text went past the last window allowed.
    fn split(&self, text: &str) -> Result<(Vec<Vec<u32>>, bool)> {
        let prefixed;
        let text = if self.prefix.is_empty() {
            text
        } else {
            prefixed = format!("{}{text}", self.prefix);
            prefixed.as_str()
        };
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        let ids = encoding.get_ids();
        if ids.len() <= self.max_tokens {
            return Ok((vec![ids.to_vec()], false));
        }
        let special = encoding.get_special_tokens_mask();
        let mut head = special.iter().take_while(|&&s| s == 1).count();
        // Every window starts with the prefix.
        if !self.prefix_ids.is_empty() && ids[head..].starts_with(&self.prefix_ids) {
            head += self.prefix_ids.len();
        }
        let tail = special.iter().rev().take_while(|&&s| s == 1).count();
        let (prefix, body, suffix) = (
            &ids[..head],
            &ids[head..ids.len() - tail],
            &ids[ids.len() - tail..],
        );
        let offsets = &encoding.get_offsets()[head..ids.len() - tail];
        let room = self.max_tokens.saturating_sub(head + tail).max(1);
        let ends_sentence = |index: usize| {
            let (start, end) = offsets[index];
            matches!(text.get(start..end), Some("." | "!" | "?" | "…"))
        };
        let mut windows = Vec::new();
        let mut start = 0;
        while start < body.len() && (self.max_windows == 0 || windows.len() < self.max_windows) {
            let mut end = (start + room).min(body.len());
            if end < body.len() {
                // Prefer to end at the last sentence end in the window's second half.
                if let Some(cut) = (start + room / 2..end).rev().find(|&i| ends_sentence(i)) {
                    end = cut + 1;
                }
            }
            let mut window = Vec::with_capacity(end - start + head + tail);
            window.extend_from_slice(prefix);
            window.extend_from_slice(&body[start..end]);
            window.extend_from_slice(suffix);
            windows.push(window);
            start = end;
        }
        Ok((windows, start < body.len()))
    }

    /// Embeds `texts`; `progress` is called with the number of texts finished as batches finish
    /// (a text split into windows counts when its first window is done).
    /// The result has one L2-normalised vector per text, in the order given.
    pub fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>> {
        self.embed_in(texts, None, progress)
    }

    /// [`Encoder::embed`] for texts of known languages (`langs[i]` is the language of
    /// `texts[i]`): a model centred per language removes each text's own language's mean.
    pub fn embed_in(
        &self,
        texts: &[&str],
        langs: Option<&[Lang]>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>> {
        let (windows, cut): (Vec<Vec<Vec<u32>>>, Vec<bool>) = texts
            .par_iter()
            .map(|text| self.split(text))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let cut = cut.iter().filter(|&&cut| cut).count();
        self.cut_texts.fetch_add(cut, Ordering::Relaxed);
        if cut > 0 {
            tracing::debug!(
                texts = cut,
                max_windows = self.max_windows,
                max_tokens = self.max_tokens,
                "texts longer than the windows allowed: encoded from their first windows"
            );
        }
        // Every window, as (text, window) pairs.
        let units: Vec<(usize, usize)> = windows
            .iter()
            .enumerate()
            .flat_map(|(text, list)| (0..list.len()).map(move |window| (text, window)))
            .collect();
        // Length-sorted batches: ties broken by position, so batch composition is deterministic.
        let mut order: Vec<usize> = (0..units.len()).collect();
        order.sort_by_key(|&unit| {
            let (text, window) = units[unit];
            (windows[text][window].len(), unit)
        });
        let lengths: Vec<usize> = order
            .iter()
            .map(|&unit| {
                let (text, window) = units[unit];
                windows[text][window].len()
            })
            .collect();
        let batches: Vec<&[usize]> = token_batches(&lengths, self.batch_size, self.batch_tokens)
            .into_iter()
            .map(|range| &order[range])
            .collect();
        let results: Vec<Mutex<Option<Vec<Vec<f32>>>>> =
            batches.iter().map(|_| Mutex::new(None)).collect();
        let run = |worker: usize, batch_index: usize| -> Result<()> {
            let batch = batches[batch_index];
            let ids: Vec<&[u32]> = batch
                .iter()
                .map(|&unit| {
                    let (text, window) = units[unit];
                    windows[text][window].as_slice()
                })
                .collect();
            let vectors = self.runner.encode_batch(worker, &ids)?;
            let first_windows = batch.iter().filter(|&&unit| units[unit].1 == 0).count();
            *results[batch_index].lock().expect("no panics while held") = Some(vectors);
            progress(first_windows);
            Ok(())
        };
        let workers = self.runner.workers().clamp(1, batches.len().max(1));
        if workers == 1 {
            for batch_index in 0..batches.len() {
                run(0, batch_index)?;
            }
        } else {
            // Each worker pulls the next batch; the first error stops the others.
            let next = AtomicUsize::new(0);
            let failed: Mutex<Option<Error>> = Mutex::new(None);
            std::thread::scope(|scope| {
                for worker in 0..workers {
                    let (next, failed, run, batches) = (&next, &failed, &run, &batches);
                    scope.spawn(move || loop {
                        let batch_index = next.fetch_add(1, Ordering::Relaxed);
                        if batch_index >= batches.len() {
                            break;
                        }
                        if let Err(error) = run(worker, batch_index) {
                            failed
                                .lock()
                                .expect("no panics while held")
                                .get_or_insert(error);
                            next.store(batches.len(), Ordering::Relaxed);
                            break;
                        }
                    });
                }
            });
            if let Some(error) = failed.into_inner().expect("no panics while held") {
                return Err(error);
            }
        }
        // Gather: one window is the text's vector; several are averaged by their token counts.
        let mut unit_vectors: Vec<Vec<f32>> = vec![Vec::new(); units.len()];
        for (batch, result) in batches.iter().zip(results) {
            let vectors = result
                .into_inner()
                .expect("no panics while held")
                .expect("every batch ran");
            for (&unit, vector) in batch.iter().zip(vectors) {
                unit_vectors[unit] = vector;
            }
        }
        let mut output: Vec<Vec<f32>> = Vec::with_capacity(texts.len());
        let mut unit = 0;
        for list in &windows {
            if list.len() == 1 {
                output.push(std::mem::take(&mut unit_vectors[unit]));
            } else {
                let mut sum = vec![0f32; self.dim];
                for (window, vector) in list.iter().zip(&unit_vectors[unit..unit + list.len()]) {
                    let weight = window.len() as f32;
                    for (s, v) in sum.iter_mut().zip(vector) {
                        *s += weight * v;
                    }
                }
                let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                sum.iter_mut().for_each(|x| *x /= norm);
                output.push(sum);
            }
            unit += list.len();
        }
        if let Some(center) = &self.center {
            for (index, vector) in output.iter_mut().enumerate() {
                let mean = center.mean_for(langs.map(|langs| langs[index]));
                for (x, c) in vector.iter_mut().zip(mean) {
                    *x -= c;
                }
                let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                vector.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(output)
    }
}

/// Mean pooling over the first `lengths[i]` rows of each sequence, then L2 normalisation, of a
/// row-major `[batch, longest, dim]` hidden-state buffer. Shared by the backends that return
/// token states.
#[allow(dead_code)]
pub(crate) fn mean_pool(
    hidden: &[f32],
    lengths: &[usize],
    longest: usize,
    dim: usize,
) -> Vec<Vec<f32>> {
    lengths
        .iter()
        .enumerate()
        .map(|(row, &length)| {
            let mut sum = vec![0f32; dim];
            for token in 0..length {
                let start = (row * longest + token) * dim;
                for (s, v) in sum.iter_mut().zip(&hidden[start..start + dim]) {
                    *s += v;
                }
            }
            let count = length.max(1) as f32;
            sum.iter_mut().for_each(|x| *x /= count);
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().for_each(|x| *x /= norm);
            sum
        })
        .collect()
}

/// Cosine similarity of two L2-normalised vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Embeds `texts`, taking what is cached and encoding (and caching) only the rest, and returns each
/// text's cache slot (read the vector with [`EmbeddingCache::vector`]; vectors are not copied).
/// `progress` counts texts as they are finished, cached ones included.
pub fn embed_cached(
    encoder: &Encoder,
    cache: &mut EmbeddingCache,
    texts: &[&str],
    langs: Option<&[Lang]>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<usize>> {
    let by_language = encoder.centres_by_language();
    let keys: Vec<cache::CacheKey> = texts
        .par_iter()
        .enumerate()
        .map(|(index, text)| match langs {
            Some(langs) if by_language => EmbeddingCache::key(
                &format!(
                    "{}/lang={}",
                    encoder.cache_fingerprint(),
                    langs[index].code()
                ),
                text,
            ),
            _ => EmbeddingCache::key(encoder.cache_fingerprint(), text),
        })
        .collect();
    let mut missing: Vec<usize> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        if cache.get(key).is_none() && seen.insert(*key) {
            missing.push(index);
        }
    }
    progress(texts.len() - missing.len());
    let cut_before = encoder.cut_texts();
    // Encode in slices, each flushed to the cache file (the workspace commits the cache with the
    // run's generation, so a killed run's vectors are dropped and a rerun encodes the same texts).
    for slice in missing.chunks(4096) {
        let slice_texts: Vec<&str> = slice.iter().map(|&index| texts[index]).collect();
        let slice_langs: Option<Vec<Lang>> =
            langs.map(|langs| slice.iter().map(|&index| langs[index]).collect());
        let vectors = encoder.embed_in(&slice_texts, slice_langs.as_deref(), progress)?;
        for (&index, vector) in slice.iter().zip(&vectors) {
            cache.insert(keys[index], vector);
        }
        cache.flush()?;
        crate::failpoint::hit("embed.batch");
    }
    let cut = encoder.cut_texts() - cut_before;
    if cut > 0 {
        tracing::info!(
            texts = cut,
            encoded = missing.len(),
            max_windows = encoder.max_windows,
            max_tokens = encoder.max_tokens,
            "texts longer than the windows allowed: encoded from their first windows"
        );
    }
    let slots: Vec<usize> = keys
        .iter()
        .map(|key| cache.slot(key).expect("every text is cached now"))
        .collect();
    for &slot in &slots {
        cache.mark_used(slot);
    }
    Ok(slots)
}

#[cfg(test)]
mod tests;
