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

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use super::Runner;
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
        let model = std::fs::read(graph).map_err(|source| Error::io(graph, source))?;
        // The sessions share their pre-packed weight matrices.
        let prepacked = ort::session::builder::PrepackedWeights::new();
        let sessions = (0..workers.max(1))
            .map(|_| {
                Session::builder(&environment)
                    .map_err(failed)?
                    .with_optimization_level(GraphOptimizationLevel::All)
                    .map_err(failed)?
                    .with_intra_threads(1)
                    .map_err(failed)?
                    .with_inter_threads(1)
                    .map_err(failed)?
                    .with_prepacked_weights(&prepacked)
                    .map_err(failed)?
                    .commit_from_memory(&model)
                    .map(Mutex::new)
                    .map_err(failed)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(OnnxRunner { sessions })
    }
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
