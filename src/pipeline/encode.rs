//! The encoder passes of a run, in order: the topic vectors of every comment and of each sentence
//! of a multi-sentence comment, and their sentiment.
//!
//! When the sentiment model is the topic encoder's model (the default: multilingual-e5-small with
//! the sentiment adapters), one pass serves both. The model's plain vectors feed the sentiment head,
//! and the topic vectors are made from them by the model's center ([`embed::derive_cached`]).
//! Otherwise the topic encoder runs first and is dropped, then the sentiment model runs, so the
//! two never hold memory at the same time.

use std::path::Path;

use crate::config::Config;
use crate::embed::{self, EmbeddingCache, Encoder};
use crate::error::Result;
use crate::failpoint;
use crate::sentiment::sentences::{self, Scored, SentimentModel};
use crate::types::Lang;
use crate::workspace::WorkspaceWriter;

use super::Timer;

/// The topic encoder's work in a run: the cache slots of the comments and of the sentences of
/// multi-sentence comments.
pub(super) struct Encoded {
    pub comments: Vec<usize>,
    pub sentences: Vec<usize>,
    /// Texts newly encoded (the rest came from the cache).
    pub count: u64,
    /// Comments longer than the encoder's windows.
    pub cut_texts: u64,
}

/// What a run encodes: the comments' texts, their languages and their sentence spans (from
/// [`sentences::sentence_spans`]); and where: the workspace (for the sentiment model's cache), the
/// config and the models folder.
pub(super) struct Units<'a> {
    pub texts: &'a [&'a str],
    pub langs: &'a [Lang],
    pub spans: &'a [Vec<std::ops::Range<usize>>],
    pub workspace: &'a WorkspaceWriter,
    pub config: &'a Config,
    pub models_dir: &'a Path,
}

/// Gives every comment and sentence of `units` its topic vector in `cache` (the topic encoder's
/// cache) and every comment its sentiment; `encoder` is the topic encoder, dropped when done.
pub(super) fn embed_and_score(
    encoder: Encoder,
    cache: &mut EmbeddingCache,
    units: &Units,
    timer: &mut Timer,
) -> Result<(Encoded, Vec<Scored>)> {
    let config = units.config;
    if config.sentiment.shares_encoder(&config.embed) {
        return one_pass(encoder, cache, units, timer);
    }
    let encoded = encode(encoder, cache, units, timer)?;
    let total = units.texts.len() as u64;
    let scored = timer.time("sentiment", total, || {
        let model = SentimentModel::load(&config.sentiment, units.models_dir, &config.embed)?;
        Ok(score(&model, units, &|_| {})?.scored)
    })?;
    failpoint::hit("sentiment.done");
    Ok((encoded, scored))
}

/// The one-pass path: the sentiment model encodes (its cache holds the plain vectors), then the
/// topic vectors are derived from them.
fn one_pass(
    encoder: Encoder,
    cache: &mut EmbeddingCache,
    units: &Units,
    timer: &mut Timer,
) -> Result<(Encoded, Vec<Scored>)> {
    let total = units.texts.len() as u64;
    let (plain, centring) = encoder.split_center();
    let (scoring, plain_slots, cut_texts) = timer.time_with_bar("sentiment", total, |bar| {
        let model = SentimentModel::with_encoder(&units.config.sentiment, units.models_dir, plain)?;
        let mut scoring = score(&model, units, &|done| bar.inc(done as u64))?;
        // Every text is cached now: this only looks their slots up (anew, as an erasure has
        // compacted the cache since the scorer read it).
        let sentence_texts = sentences::sentence_texts(units.texts, units.spans);
        let slots = [units.texts, &sentence_texts[..]].map(|texts| {
            embed::embed_cached(&model.encoder, &mut scoring.cache, texts, None, &|_| {})
        });
        let [comments, sentences] = slots;
        let cut_texts = model.encoder.cut_texts() as u64;
        Ok((scoring, (comments?, sentences?), cut_texts))
    })?;
    failpoint::hit("sentiment.done");
    let encoded = timer.time("embed", total, || {
        let comments = embed::derive_cached(
            &centring,
            cache,
            units.texts,
            units.langs,
            &scoring.cache,
            &plain_slots.0,
        )?;
        let (sentence_texts, sentence_langs) =
            sentences::sentence_texts_and_langs(units.texts, units.langs, units.spans);
        let sentences = embed::derive_cached(
            &centring,
            cache,
            &sentence_texts,
            &sentence_langs,
            &scoring.cache,
            &plain_slots.1,
        )?;
        Ok(Encoded {
            comments,
            sentences,
            count: scoring.encoded,
            cut_texts,
        })
    })?;
    failpoint::hit("embed.done");
    failpoint::hit("sentences.done");
    Ok((encoded, scoring.scored))
}

/// What [`score`] gives.
struct Scoring {
    scored: Vec<Scored>,
    /// The sentiment model's cache, holding the vectors of every comment and sentence.
    cache: EmbeddingCache,
    /// Texts newly encoded (the rest came from the cache).
    encoded: u64,
}

/// Scores `units` with `model` through its cache in the workspace. `progress` counts comments as
/// they are finished.
fn score(
    model: &SentimentModel,
    units: &Units,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Scoring> {
    let workspace = units.workspace;
    let mut cache = EmbeddingCache::open(
        &workspace.shared_path("sentiment-embeddings.bin"),
        model.encoder.dim(),
    )?;
    let cached_before = cache.len();
    let scored = model.scorer(&units.config.sentiment).score(
        &mut cache,
        units.texts,
        units.langs,
        units.spans,
        progress,
    )?;
    // Counted before an erasure compacts the cache, which may leave it smaller than it was.
    let encoded = (cache.len() - cached_before) as u64;
    if workspace.erased().is_some() {
        cache.keep_only_used()?;
    }
    Ok(Scoring {
        scored,
        encoded,
        cache,
    })
}

/// Encodes the comments and sentences of `units` through `cache`, then drops the encoder (its
/// sessions hold a few hundred MB; the later stages do not need them).
fn encode(
    encoder: Encoder,
    cache: &mut EmbeddingCache,
    units: &Units,
    timer: &mut Timer,
) -> Result<Encoded> {
    let cached_before = cache.len();
    let total = units.texts.len() as u64;
    let comments = timer.time_with_bar("embed", total, |bar| {
        embed::embed_cached(&encoder, cache, units.texts, Some(units.langs), &|done| {
            bar.inc(done as u64)
        })
    })?;
    failpoint::hit("embed.done");
    let cut_texts = encoder.cut_texts() as u64;
    let sentences = timer.time("sentences", total, || {
        let (sentence_texts, sentence_langs) =
            sentences::sentence_texts_and_langs(units.texts, units.langs, units.spans);
        embed::embed_cached(
            &encoder,
            cache,
            &sentence_texts,
            Some(&sentence_langs),
            &|_| {},
        )
    })?;
    failpoint::hit("sentences.done");
    Ok(Encoded {
        comments,
        sentences,
        count: (cache.len() - cached_before) as u64,
        cut_texts,
    })
}
