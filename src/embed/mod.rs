//! The sentence encoder: a BERT-family transformer (all-MiniLM-L6-v2 by default) run with candle,
//! pure Rust, offline, from the files in `models/`.
//!
//! In: comment texts. Out: one L2-normalised, mean-pooled embedding per text (384 floats for MiniLM).
//! The same embedding feeds sentiment and topics, so each comment passes through the encoder once.
//! Texts are tokenised in parallel, sorted by token length and encoded in batches padded to the
//! batch's longest text, which wastes little work on padding. Texts longer than
//! [`EmbedConfig::max_tokens`] word pieces are truncated (the first `max_tokens` pieces are kept).

mod cache;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

pub use cache::EmbeddingCache;

use crate::error::{Error, Result};

/// Settings of the encoder stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// Model folder name under the models directory.
    pub model: String,
    /// Word pieces per text, including the special tokens; longer texts are truncated.
    pub max_tokens: usize,
    /// Texts per encoder batch.
    pub batch_size: usize,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        EmbedConfig {
            model: "all-MiniLM-L6-v2".to_string(),
            max_tokens: 128,
            batch_size: 32,
        }
    }
}

/// A loaded sentence encoder.
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    max_tokens: usize,
    batch_size: usize,
    fingerprint: String,
}

/// The folder of the configured model under `models_dir`.
pub fn model_dir(models_dir: &Path, config: &EmbedConfig) -> PathBuf {
    models_dir.join(&config.model)
}

impl Encoder {
    /// Loads the model in `models_dir/<config.model>` (`config.json`, `tokenizer.json`,
    /// `model.safetensors`). A missing file gives [`Error::ModelMissing`].
    pub fn load(models_dir: &Path, config: &EmbedConfig) -> Result<Encoder> {
        let dir = model_dir(models_dir, config);
        let required = ["config.json", "tokenizer.json", "model.safetensors"];
        for name in required {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(Error::ModelMissing { path });
            }
        }
        let config_path = dir.join("config.json");
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|source| Error::io(&config_path, source))?;
        let bert_config: BertConfig =
            serde_json::from_str(&config_text).map_err(|source| Error::Json {
                path: config_path.clone(),
                source,
            })?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: config.max_tokens,
                ..Default::default()
            }))
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        let device = Device::Cpu;
        let weights = dir.join("model.safetensors");
        // SAFETY: the weights file is memory-mapped read-only and not modified while the model lives.
        let var_builder =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device)? };
        let model = BertModel::load(var_builder, &bert_config)?;
        Ok(Encoder {
            model,
            tokenizer,
            device,
            dim: bert_config.hidden_size,
            max_tokens: config.max_tokens,
            batch_size: config.batch_size.max(1),
            fingerprint: format!("{}/max_tokens={}", config.model, config.max_tokens),
        })
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Identifies the model and settings; embeddings cached under another fingerprint are not reused.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Largest number of word pieces per text.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Embeds `texts`; `progress` is called with the number of texts finished after each batch.
    /// The result has one L2-normalised vector per text, in the order given.
    pub fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>> {
        let encodings: Vec<Vec<u32>> = texts
            .par_iter()
            .map(|text| {
                self.tokenizer
                    .encode(*text, true)
                    .map(|encoding| encoding.get_ids().to_vec())
                    .map_err(|error| Error::Tokenizer(error.to_string()))
            })
            .collect::<Result<_>>()?;
        // Length-sorted batches: ties broken by position, so batch composition is deterministic.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&index| (encodings[index].len(), index));
        let mut output: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for batch in order.chunks(self.batch_size) {
            let batch_ids: Vec<&[u32]> = batch
                .iter()
                .map(|&index| encodings[index].as_slice())
                .collect();
            let vectors = self.encode_batch(&batch_ids)?;
            for (&index, vector) in batch.iter().zip(vectors) {
                output[index] = vector;
            }
            progress(batch.len());
        }
        Ok(output)
    }

    /// Runs one padded batch through the model: mean pooling over real tokens, then L2 norm.
    fn encode_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
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
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<usize>> {
    let keys: Vec<cache::CacheKey> = texts
        .par_iter()
        .map(|text| EmbeddingCache::key(encoder.fingerprint(), text))
        .collect();
    let mut missing: Vec<usize> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        if cache.get(key).is_none() && seen.insert(*key) {
            missing.push(index);
        }
    }
    progress(texts.len() - missing.len());
    // Encode in slices so an interrupted run keeps what it finished.
    for slice in missing.chunks(4096) {
        let slice_texts: Vec<&str> = slice.iter().map(|&index| texts[index]).collect();
        let vectors = encoder.embed(&slice_texts, progress)?;
        for (&index, vector) in slice.iter().zip(&vectors) {
            cache.insert(keys[index], vector);
        }
        cache.flush()?;
    }
    Ok(keys
        .iter()
        .map(|key| cache.slot(key).expect("every text is cached now"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The models folder of this checkout, or `None` (with a printed reason) when the model is absent.
    pub(crate) fn test_encoder() -> Option<Encoder> {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        match Encoder::load(&models, &EmbedConfig::default()) {
            Ok(encoder) => Some(encoder),
            Err(error) => {
                eprintln!("skipping: {error}");
                None
            }
        }
    }

    #[test]
    fn embeddings_are_normalised_and_semantic() {
        let Some(encoder) = test_encoder() else {
            return;
        };
        let texts = [
            "The battery drains very fast",
            "My battery runs out quickly",
            "Delivery took three weeks",
        ];
        let vectors = encoder.embed(&texts, &|_| {}).unwrap();
        assert_eq!(vectors.len(), 3);
        for vector in &vectors {
            assert_eq!(vector.len(), 384);
            let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
        }
        let similar = cosine(&vectors[0], &vectors[1]);
        let different = cosine(&vectors[0], &vectors[2]);
        assert!(similar > different + 0.2, "{similar} vs {different}");
    }

    #[test]
    fn batching_does_not_change_embeddings() {
        let Some(encoder) = test_encoder() else {
            return;
        };
        let texts = [
            "short",
            "a somewhat longer sentence about the thermostat schedule",
            "mid length text",
        ];
        let together = encoder.embed(&texts, &|_| {}).unwrap();
        for (index, text) in texts.iter().enumerate() {
            let alone = encoder.embed(&[text], &|_| {}).unwrap();
            assert!(cosine(&alone[0], &together[index]) > 0.9999);
        }
    }

    #[test]
    fn missing_model_says_how_to_fetch() {
        let config = EmbedConfig {
            model: "no-such-model".into(),
            ..Default::default()
        };
        let error = Encoder::load(Path::new("/nonexistent"), &config)
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("xsignal models fetch"),
            "{error}"
        );
    }
}
