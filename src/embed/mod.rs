//! The sentence encoder: a BERT-family transformer, run offline from the files in `models/` by one
//! of three backends (see [`Backend`]). By default it is the sentiment model (multilingual-e5-small
//! with the sentiment adapters, [`DEFAULT_MODEL`]); all-MiniLM-L6-v2 (English) and the plain
//! multilingual-e5-small are options (`embed.model`).
//!
//! In: comment texts. Out: one L2-normalised, mean-pooled embedding per text (384 floats). A model
//! folder's `center.json` ([`Center`]) turns the model's vectors into topic vectors: the mean of the
//! text's language removed, the sentiment head's directions projected out, normalised again. When
//! the topic encoder is the sentiment model, one pass serves both: the sentiment stage encodes, and
//! [`derive_cached`] applies the center to its vectors ([`Encoder::split_center`]).
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
pub use config::{model_dir, worker_count, EmbedConfig, BATCH_TOKENS, DEFAULT_MODEL, MAX_WINDOWS};
pub use load::{Center, Centring, ModelCheck};

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
        self.center.as_ref().is_some_and(Center::varies_by_language)
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
    let keys = cache_keys(
        encoder.cache_fingerprint(),
        encoder.centres_by_language(),
        texts,
        langs,
    );
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
    Ok(used_slots(cache, &keys))
}

/// The slots of `keys`, all cached by now, marked as used by this run.
fn used_slots(cache: &mut EmbeddingCache, keys: &[cache::CacheKey]) -> Vec<usize> {
    let slots: Vec<usize> = keys
        .iter()
        .map(|key| cache.slot(key).expect("every text is cached now"))
        .collect();
    for &slot in &slots {
        cache.mark_used(slot);
    }
    slots
}

/// The cache key of each text: its content under `fingerprint`, and under its language too when
/// the vectors depend on it.
fn cache_keys(
    fingerprint: &str,
    by_language: bool,
    texts: &[&str],
    langs: Option<&[Lang]>,
) -> Vec<cache::CacheKey> {
    texts
        .par_iter()
        .enumerate()
        .map(|(index, text)| match langs {
            Some(langs) if by_language => {
                EmbeddingCache::key(&format!("{fingerprint}/lang={}", langs[index].code()), text)
            }
            _ => EmbeddingCache::key(fingerprint, text),
        })
        .collect()
}

/// Gives `texts` the vectors of the encoder `centring` was split from, as [`embed_cached`] would,
/// without running a model: each text missing from `cache` gets its uncentred model's vector
/// (`plain.vector(plain_slots[i])`) with the center applied. Returns each text's slot in `cache`.
pub fn derive_cached(
    centring: &Centring,
    cache: &mut EmbeddingCache,
    texts: &[&str],
    langs: &[Lang],
    plain: &EmbeddingCache,
    plain_slots: &[usize],
) -> Result<Vec<usize>> {
    let keys = cache_keys(
        &centring.cache_fingerprint,
        centring.by_language(),
        texts,
        Some(langs),
    );
    for ((key, &slot), &lang) in keys.iter().zip(plain_slots).zip(langs) {
        if cache.get(key).is_none() {
            let mut vector = plain.vector(slot).to_vec();
            if let Some(center) = &centring.center {
                center.apply(&mut vector, Some(lang));
            }
            cache.insert(*key, &vector);
        }
    }
    cache.flush()?;
    Ok(used_slots(cache, &keys))
}

#[cfg(test)]
mod tests;
