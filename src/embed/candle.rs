//! The candle backend: pure Rust, always compiled. One model; candle parallelises inside each
//! matrix product, so batches run one after another.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};

use super::backend::{require_files, Runner};
use crate::error::{Error, Result};

pub(crate) struct CandleRunner {
    model: BertModel,
    device: Device,
}

impl CandleRunner {
    /// Loads `model.safetensors` from `dir`, with `config_text` (the model's `config.json`).
    pub(crate) fn load(dir: &Path, config_text: &str) -> Result<CandleRunner> {
        require_files(dir, &["model.safetensors"])?;
        let bert_config: BertConfig =
            serde_json::from_str(config_text).map_err(|source| Error::Json {
                path: dir.join("config.json"),
                source,
            })?;
        let device = Device::Cpu;
        let weights = dir.join("model.safetensors");
        // SAFETY: the weights file is memory-mapped read-only and not modified while the model lives.
        let var_builder =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device)? };
        let model = BertModel::load(var_builder, &bert_config)?;
        Ok(CandleRunner { model, device })
    }
}

impl Runner for CandleRunner {
    fn workers(&self) -> usize {
        1
    }

    /// Runs one padded batch through the model: mean pooling over real tokens, then L2 norm.
    fn encode_batch(&self, _worker: usize, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let longest = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut input_ids = Vec::with_capacity(batch.len() * longest);
        let mut mask = Vec::with_capacity(batch.len() * longest);
        for ids in batch {
            input_ids.extend_from_slice(ids);
            input_ids.extend(std::iter::repeat_n(0u32, longest - ids.len()));
            mask.extend(std::iter::repeat_n(1u32, ids.len()));
            mask.extend(std::iter::repeat_n(0u32, longest - ids.len()));
        }
        let shape = (batch.len(), longest);
        let input_ids = Tensor::from_vec(input_ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_type_ids = input_ids.zeros_like()?;
        let hidden = self
            .model
            .forward(&input_ids, &token_type_ids, Some(&mask))?;
        let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?;
        let counts = mask_f.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        let normalised = mean.broadcast_div(&norms)?;
        Ok(normalised.to_vec2::<f32>()?)
    }
}
