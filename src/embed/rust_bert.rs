//! The rust-bert backend (cargo feature `rust-bert`): rust-bert's `BertModel` on libtorch 2.4
//! through tch, CPU only. libtorch comes from `scripts/setup-libtorch`, which also prints the
//! environment the build and the run need.
//!
//! In: batches of token ids framed by the special tokens. Out: one L2-normalised mean-pooled vector
//! per sequence, as the other backends give.
//!
//! **One model per worker.** tch tensors may move between threads (`Send`) but not be shared
//! (`!Sync`), so a model cannot serve two batches at once. Each worker owns a model of its own
//! behind a `Mutex` (only that worker ever takes it, so the lock is never contended); `Mutex<T>` is
//! `Sync` for a `Send` `T`, which makes the runner `Send + Sync` without any `unsafe`. libtorch is
//! limited to one intra-op thread: `workers` models × 1 thread fill the cores without
//! oversubscribing them, and a batch's result does not depend on how many threads computed it.
//!
//! The weights are read straight from `model.safetensors` (no conversion to rust-bert's `.ot`
//! format); the tensor names must have no `bert.` prefix, as sentence-transformers saves them.

use std::path::Path;
use std::sync::Mutex;

use rust_bert::bert::{BertConfig, BertEmbeddings, BertModel};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::backend::{mean_pool, require_files, Runner};
use crate::error::{Error, Result};

/// The backend's error with `message`.
fn backend_error(message: impl Into<String>) -> Error {
    Error::Backend {
        backend: "rust-bert",
        message: message.into(),
    }
}

/// A libtorch error as the backend's error.
fn tch_error(error: tch::TchError) -> Error {
    backend_error(error.to_string())
}

/// One worker's model. The var store owns the weights the model's layers point to.
struct WorkerModel {
    model: BertModel<BertEmbeddings>,
    _weights: VarStore,
}

/// rust-bert models, one per worker.
pub(crate) struct RustBertRunner {
    models: Vec<Mutex<WorkerModel>>,
    hidden_size: usize,
    max_positions: usize,
}

impl RustBertRunner {
    /// Loads `config.json` and `model.safetensors` from `dir` into `workers` models (at least one),
    /// and limits libtorch to one intra-op thread (a process-wide setting).
    pub(crate) fn load(dir: &Path, workers: usize) -> Result<RustBertRunner> {
        require_files(dir, &["config.json", "model.safetensors"])?;
        let config_path = dir.join("config.json");
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|source| Error::io(&config_path, source))?;
        let config: BertConfig =
            serde_json::from_str(&config_text).map_err(|source| Error::Json {
                path: config_path.clone(),
                source,
            })?;
        let hidden_size = usize::try_from(config.hidden_size)
            .map_err(|_| backend_error(format!("invalid hidden_size {}", config.hidden_size)))?;
        let max_positions = usize::try_from(config.max_position_embeddings).map_err(|_| {
            backend_error(format!(
                "invalid max_position_embeddings {}",
                config.max_position_embeddings
            ))
        })?;
        tch::set_num_threads(1);
        let weights_path = dir.join("model.safetensors");
        let mut models = Vec::with_capacity(workers.max(1));
        for _ in 0..workers.max(1) {
            let mut weights = VarStore::new(Device::Cpu);
            let model = BertModel::<BertEmbeddings>::new_with_optional_pooler(
                weights.root(),
                &config,
                false,
            );
            weights.load(&weights_path).map_err(|error| {
                backend_error(format!("loading {}: {error}", weights_path.display()))
            })?;
            models.push(Mutex::new(WorkerModel {
                model,
                _weights: weights,
            }));
        }
        Ok(RustBertRunner {
            models,
            hidden_size,
            max_positions,
        })
    }
}

impl Runner for RustBertRunner {
    fn workers(&self) -> usize {
        self.models.len()
    }

    /// Runs one batch, right-padded with id 0 to its longest sequence, on `worker`'s model:
    /// mean pooling over the real tokens, then L2 norm.
    fn encode_batch(&self, worker: usize, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let longest = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        if longest > self.max_positions {
            return Err(backend_error(format!(
                "a sequence of {longest} tokens is longer than the model's {} positions",
                self.max_positions
            )));
        }
        let slot = self
            .models
            .get(worker)
            .ok_or_else(|| backend_error(format!("no worker {worker}")))?;
        let lengths: Vec<usize> = batch.iter().map(|ids| ids.len()).collect();
        let mut input_ids: Vec<i64> = Vec::with_capacity(batch.len() * longest);
        let mut mask: Vec<i64> = Vec::with_capacity(batch.len() * longest);
        for ids in batch {
            input_ids.extend(ids.iter().map(|&id| i64::from(id)));
            input_ids.extend(std::iter::repeat_n(0, longest - ids.len()));
            mask.extend(std::iter::repeat_n(1, ids.len()));
            mask.extend(std::iter::repeat_n(0, longest - ids.len()));
        }
        // Both fit in i64: a batch holds far fewer than 2^63 tokens.
        let shape = [batch.len() as i64, longest as i64];
        let hidden: Vec<f32> = tch::no_grad(|| -> Result<Vec<f32>> {
            let input_ids = Tensor::from_slice(&input_ids)
                .f_view(shape)
                .map_err(tch_error)?;
            let mask = Tensor::from_slice(&mask).f_view(shape).map_err(tch_error)?;
            let token_type_ids =
                Tensor::f_zeros(shape, (Kind::Int64, Device::Cpu)).map_err(tch_error)?;
            let worker_model = slot
                .lock()
                .map_err(|_| backend_error(format!("worker {worker}'s model was poisoned")))?;
            let output = worker_model
                .model
                .forward_t(
                    Some(&input_ids),
                    Some(&mask),
                    Some(&token_type_ids),
                    None,
                    None,
                    None,
                    None,
                    false,
                )
                .map_err(|error| backend_error(error.to_string()))?;
            drop(worker_model);
            let flat = output
                .hidden_state
                .f_to_kind(Kind::Float)
                .and_then(|states| states.f_contiguous())
                .and_then(|states| states.f_view([-1]))
                .map_err(tch_error)?;
            Vec::<f32>::try_from(&flat).map_err(tch_error)
        })?;
        let expected = batch.len() * longest * self.hidden_size;
        if hidden.len() != expected {
            return Err(backend_error(format!(
                "hidden states have {} values, expected {expected}",
                hidden.len()
            )));
        }
        Ok(mean_pool(&hidden, &lengths, longest, self.hidden_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::cosine;

    /// The runner with `workers` models from this checkout's models folder, or `None` (with a
    /// printed reason) when the model files are absent.
    fn runner(workers: usize) -> Option<RustBertRunner> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
        match RustBertRunner::load(&dir, workers) {
            Ok(runner) => Some(runner),
            Err(error) => {
                eprintln!("skipping rust-bert: {error}");
                None
            }
        }
    }

    #[test]
    fn padding_does_not_change_a_sequence_embedding() {
        let Some(runner) = runner(1) else {
            return;
        };
        // [CLS] hello world [SEP] and a longer sequence that forces padding of the first.
        let short: &[u32] = &[101, 7592, 2088, 102];
        let long: &[u32] = &[
            101, 1996, 4860, 2003, 2524, 2000, 2330, 1999, 1996, 2851, 102,
        ];
        let alone = runner.encode_batch(0, &[short]).unwrap();
        let padded = runner.encode_batch(0, &[short, long]).unwrap();
        assert_eq!(padded.len(), 2);
        assert_eq!(padded[0].len(), 384);
        let norm: f32 = padded[1].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        let similarity = cosine(&alone[0], &padded[0]);
        assert!(similarity > 0.9999, "cosine {similarity}");
        assert!(cosine(&padded[0], &padded[1]) < 0.99);
    }

    #[test]
    fn every_worker_gives_the_same_vectors() {
        let Some(runner) = runner(2) else {
            return;
        };
        assert_eq!(runner.workers(), 2);
        let ids: &[u32] = &[101, 7592, 2088, 102];
        let first = runner.encode_batch(0, &[ids]).unwrap();
        let second = runner.encode_batch(1, &[ids]).unwrap();
        assert_eq!(first, second);
        assert!(runner.encode_batch(2, &[ids]).is_err());
    }

    #[test]
    fn too_long_a_sequence_is_an_error_not_a_panic() {
        let Some(runner) = runner(1) else {
            return;
        };
        let ids = vec![1000u32; 600];
        let error = runner.encode_batch(0, &[&ids]).unwrap_err();
        assert!(error.to_string().contains("positions"), "{error}");
    }

    #[test]
    fn missing_weights_say_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let error = RustBertRunner::load(dir.path(), 1).err().unwrap();
        assert!(error.to_string().contains("models fetch"), "{error}");
    }
}
