//! Backend selection: the [`Backend`] enum of the config file, the [`Runner`] trait each inference
//! stack implements (`candle.rs`, `onnx.rs`, `rust_bert.rs`), the check that a backend is compiled
//! in and its model files are there, and the mean pooling the backends share.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[cfg(feature = "onnx")]
use super::onnx;
#[cfg(feature = "rust-bert")]
use super::rust_bert;
use super::{candle, model_dir, EmbedConfig};
use crate::error::{Error, Result};

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
    pub(super) fn revision(self) -> &'static str {
        match self {
            Backend::OnnxInt8 => "onnx-int8/per-token-v1",
            other => other.name(),
        }
    }

    /// The weights file the backend loads from the model folder.
    fn weights_file(self) -> &'static str {
        match self {
            Backend::Candle | Backend::RustBert => "model.safetensors",
            Backend::Onnx => "model.onnx",
            Backend::OnnxInt8 => "model-int8.onnx",
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

/// One inference stack with a loaded model. Batches are token ids of equal-ish length, already
/// framed by the special tokens; the result is one L2-normalised mean-pooled vector per sequence.
pub(crate) trait Runner: Send + Sync {
    /// How many batches may run at once (`encode_batch` is called with `worker < workers()`).
    fn workers(&self) -> usize;
    /// Encodes one batch on `worker`.
    fn encode_batch(&self, worker: usize, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>>;
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

/// The model's config text and shape, after checking that the backend is compiled and that every
/// file it needs is there.
pub(super) fn checked_model(
    models_dir: &Path,
    config: &EmbedConfig,
) -> Result<(String, ModelShape)> {
    let backend = config.backend;
    if !backend.is_compiled() {
        return Err(Error::BackendNotCompiled {
            backend: backend.name(),
            feature: backend.feature().unwrap_or_default(),
        });
    }
    let dir = model_dir(models_dir, config);
    require_files(&dir, &["config.json", "tokenizer.json"])?;
    require_files(&dir, &[backend.weights_file()])?;
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

/// Loads `backend`'s runner for the model folder `dir` (checked by [`checked_model`]), with
/// `workers` workers where the backend runs one model per worker.
pub(super) fn load_runner(
    backend: Backend,
    models_dir: &Path,
    dir: &Path,
    config_text: &str,
    workers: usize,
) -> Result<Box<dyn Runner>> {
    let runner: Box<dyn Runner> = match backend {
        Backend::Candle => Box::new(candle::CandleRunner::load(dir, config_text)?),
        #[cfg(feature = "onnx")]
        Backend::Onnx | Backend::OnnxInt8 => Box::new(onnx::OnnxRunner::load(
            models_dir,
            &dir.join(backend.weights_file()),
            workers,
        )?),
        #[cfg(feature = "rust-bert")]
        Backend::RustBert => Box::new(rust_bert::RustBertRunner::load(dir, workers)?),
        #[allow(unreachable_patterns)]
        _ => unreachable!("checked by checked_model"),
    };
    let _ = (models_dir, workers);
    Ok(runner)
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
