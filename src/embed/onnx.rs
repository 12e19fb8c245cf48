//! The ONNX Runtime backend (cargo feature `onnx`), through the `ort` crate.
//!
//! The runtime library is loaded at run time from `models/onnxruntime/` (or the file named by
//! `ORT_DYLIB_PATH`); `xsignal models fetch` takes it from the `onnxruntime` wheel on PyPI. The
//! graph, `model.onnx` in the model folder, is built from the shipped safetensors by
//! `scripts/export_onnx.py` (run by `xsignal models fetch`), with ONNX Runtime's fused attention and
//! layer-norm operators and the pooling inside the graph.
//!
//! One session per worker, each with one intra-op thread: on small batches, two single-threaded
//! sessions keep both cores busy where one two-threaded session waits on its own synchronisation.
//! The sessions share their pre-packed weight matrices and, for a large vocabulary, one copy of the
//! word-embedding table (multilingual-e5-small's is 384 MB; each session would hold its own).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorRef};

use super::backend::Runner;
use crate::error::{Error, Result};

/// The ONNX Runtime library `xsignal models fetch` installs, relative to the models folder.
pub(crate) const RUNTIME_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.31.1";

pub(crate) struct OnnxRunner {
    sessions: Vec<Mutex<Session>>,
}

fn failed(message: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: "onnx",
        message: message.to_string(),
    }
}

/// The runtime library: `ORT_DYLIB_PATH` when set, else the one under `models_dir`.
pub(crate) fn runtime_library(models_dir: &Path) -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| models_dir.join(RUNTIME_LIBRARY))
}

/// The process's one ONNX Runtime environment, made on first use from `library`.
fn environment(library: &Path) -> Result<Environment> {
    static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);
    let mut slot = ENVIRONMENT.lock().expect("no panics while held");
    if let Some(environment) = slot.as_ref() {
        return Ok(environment.clone());
    }
    let environment = ort::init_from(library)
        .map_err(|error| failed(format!("{}: {error}", library.display())))?
        .with_name("xsignal")
        .with_telemetry(false)
        .build()
        .map_err(failed)?;
    *slot = Some(environment.clone());
    Ok(environment)
}

impl OnnxRunner {
    /// Loads the runtime (once per process) and `workers` sessions of the `graph` file.
    pub(crate) fn load(models_dir: &Path, graph: &Path, workers: usize) -> Result<OnnxRunner> {
        if !graph.is_file() {
            return Err(Error::ModelMissing {
                path: graph.to_path_buf(),
            });
        }
        let library = runtime_library(models_dir);
        if !library.is_file() {
            return Err(Error::ModelMissing { path: library });
        }
        let environment = environment(&library)?;
        // The sessions share their pre-packed weight matrices, and a large vocabulary table.
        let prepacked = ort::session::builder::PrepackedWeights::new();
        let workers = workers.max(1);
        let table = match graph.parent() {
            Some(dir) if workers > 1 => shared_vocabulary(&dir.join("model.safetensors"))?,
            _ => None,
        };
        let sessions = (0..workers)
            .map(|_| {
                let builder = Session::builder(&environment)
                    .map_err(failed)?
                    .with_optimization_level(GraphOptimizationLevel::All)
                    .map_err(failed)?
                    .with_intra_threads(1)
                    .map_err(failed)?
                    .with_inter_threads(1)
                    .map_err(failed)?
                    .with_prepacked_weights(&prepacked)
                    .map_err(failed)?;
                let mut builder = match &table {
                    Some(table) => builder
                        .with_initializer(VOCABULARY_INITIALIZER, Arc::clone(table))
                        .map_err(failed)?,
                    None => builder,
                };
                builder
                    .commit_from_file(graph)
                    .map(Mutex::new)
                    .map_err(failed)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(OnnxRunner { sessions })
    }
}

/// Name of the word-embedding table in graphs from `scripts/export_onnx.py`.
const VOCABULARY_INITIALIZER: &str = "word_embeddings";
/// The same table in the model's `model.safetensors`.
const VOCABULARY_TENSOR: &str = "embeddings.word_embeddings.weight";
/// Tables at least this large (bytes) are shared between sessions.
const SHARED_TABLE_BYTES: usize = 64 << 20;

/// The word-embedding table of `weights` (a `model.safetensors`) as one tensor for all sessions,
/// when it is an f32 table of at least [`SHARED_TABLE_BYTES`]; `None` otherwise or when the file
/// is absent. Only the table's bytes are read.
fn shared_vocabulary(weights: &Path) -> Result<Option<Arc<DynValue>>> {
    let mut file = match File::open(weights) {
        Ok(file) => file,
        Err(_) => return Ok(None),
    };
    let invalid = |reason: &str| Error::Invalid(format!("{}: {reason}", weights.display()));
    let mut length = [0u8; 8];
    file.read_exact(&mut length)
        .map_err(|source| Error::io(weights, source))?;
    let header_length = usize::try_from(u64::from_le_bytes(length))
        .ok()
        .filter(|&length| length <= 100 << 20)
        .ok_or_else(|| invalid("safetensors header too large"))?;
    let mut header = vec![0u8; header_length];
    file.read_exact(&mut header)
        .map_err(|source| Error::io(weights, source))?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| invalid("unreadable safetensors header"))?;
    let Some(info) = header.get(VOCABULARY_TENSOR) else {
        return Ok(None);
    };
    let shape: Vec<usize> = info["shape"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|size| size.as_u64().and_then(|size| usize::try_from(size).ok()))
        .collect();
    let offsets: Vec<u64> = info["data_offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    let count: usize = shape.iter().product();
    let bytes = count.saturating_mul(4);
    if info["dtype"] != "F32" || shape.len() != 2 || bytes < SHARED_TABLE_BYTES {
        return Ok(None);
    }
    if offsets.len() != 2 || offsets[1].checked_sub(offsets[0]) != Some(bytes as u64) {
        return Err(invalid(
            "word-embedding table size does not match its shape",
        ));
    }
    file.seek(SeekFrom::Start(8 + header_length as u64 + offsets[0]))
        .map_err(|source| Error::io(weights, source))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut values = Vec::with_capacity(count);
    let mut chunk = vec![0u8; 1 << 20];
    while values.len() < count {
        let take = ((count - values.len()) * 4).min(chunk.len());
        reader
            .read_exact(&mut chunk[..take])
            .map_err(|source| Error::io(weights, source))?;
        values.extend(
            chunk[..take]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    let tensor = Tensor::from_array(([shape[0], shape[1]], values)).map_err(failed)?;
    Ok(Some(Arc::new(tensor.into_dyn())))
}

impl Runner for OnnxRunner {
    fn workers(&self) -> usize {
        self.sessions.len()
    }

    fn encode_batch(&self, worker: usize, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let longest = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut input_ids = vec![0i32; batch.len() * longest];
        let mut mask = vec![0i32; batch.len() * longest];
        for (row, ids) in batch.iter().enumerate() {
            for (column, &id) in ids.iter().enumerate() {
                input_ids[row * longest + column] = id as i32;
                mask[row * longest + column] = 1;
            }
        }
        let shape = [batch.len(), longest];
        let ids_tensor =
            TensorRef::from_array_view((shape, input_ids.as_slice())).map_err(failed)?;
        let mask_tensor = TensorRef::from_array_view((shape, mask.as_slice())).map_err(failed)?;
        let mut session = self.sessions[worker].lock().expect("no panics while held");
        let outputs = session
            .run(ort::inputs!["input_ids" => ids_tensor, "attention_mask" => mask_tensor])
            .map_err(failed)?;
        let (out_shape, data) = outputs["embedding"]
            .try_extract_tensor::<f32>()
            .map_err(failed)?;
        let dim = usize::try_from(out_shape[1]).map_err(failed)?;
        Ok(data.chunks_exact(dim).map(<[f32]>::to_vec).collect())
    }
}
