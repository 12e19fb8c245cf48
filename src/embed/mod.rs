//! The sentence encoder: a BERT-family transformer (all-MiniLM-L6-v2 by default), run offline from the
//! files in `models/` by one of three backends (see [`Backend`]).
//!
//! In: comment texts. Out: one L2-normalised, mean-pooled embedding per text (384 floats for MiniLM).
//! The same embedding feeds sentiment and topics, so each comment passes through the encoder once.
//!
//! Backend-independent work (`encode.rs`): texts are tokenised in parallel, split
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
//!
//! Files: `mod.rs` holds the [`Encoder`] type, its accessors and [`embed_cached`] (the stage's entry
//! point with the cache); `config.rs` the settings ([`EmbedConfig`]); `backend.rs` the backend
//! selection ([`Backend`], the runner trait, model file checks, mean pooling) with one file per
//! backend (`candle.rs`, `onnx.rs`, `rust_bert.rs`); `load.rs` loading a model folder ([`Center`],
//! fingerprints); `encode.rs` windows, batches and pooling; `cache.rs` the embedding cache.

mod backend;
mod cache;
mod candle;
mod config;
mod encode;
mod load;
#[cfg(feature = "onnx")]
mod onnx;
#[cfg(feature = "rust-bert")]
mod rust_bert;

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use tokenizers::Tokenizer;

pub use backend::Backend;
pub use cache::EmbeddingCache;
pub use config::{model_dir, worker_count, EmbedConfig, BATCH_TOKENS, MAX_WINDOWS};
pub use load::{Center, ModelCheck};

use crate::error::Result;
use crate::types::Lang;

/// A loaded sentence encoder.
pub struct Encoder {
    runner: Box<dyn backend::Runner>,
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

impl Encoder {
    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of texts encoded from their first `max_windows` windows only (longer than the
    /// limit), since the encoder was loaded.
    pub fn cut_texts(&self) -> usize {
        self.cut_texts.load(Ordering::Relaxed)
    }

    /// True when a text's vector depends on its language (the center has per-language means).
    pub fn centres_by_language(&self) -> bool {
        self.center
            .as_ref()
            .is_some_and(|center| !center.by_language.is_empty())
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
