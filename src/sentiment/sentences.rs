//! Sentence-level sentiment and its aggregation to the comment.
//!
//! In: comments (text, language) and their sentence spans ([`sentence_spans`]). Out: per comment,
//! its sentences' spans and sentiment (when it has more than one sentence) and the comment's
//! sentiment aggregated from them. Sentences come from [`crate::text::split_sentences`]; the comment
//! and each sentence of a multi-sentence comment are encoded by the sentiment encoder (through its
//! embedding cache) and scored by the same head. The comment's class probabilities are
//! `whole_weight · P(comment) + (1 − whole_weight) · Σ (len_i / Σ len) · P(sentence_i)`:
//! a comment of one strongly negative sentence among neutral ones leans negative, and an analyst
//! sees which sentence it was.

use rayon::prelude::*;

use super::{sentiment_from_probabilities, SentimentConfig, SentimentHead};
use crate::embed::{embed_cached, EmbeddingCache, Encoder};
use crate::error::Result;
use crate::text::split_sentences_at_most;
use crate::types::{Lang, SentenceSentiment, Sentiment};

/// The sentiment of one comment.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// The comment's class probabilities (negative, neutral, positive), aggregated.
    pub probabilities: [f32; 3],
    /// Label, score and confidence from `probabilities`.
    pub sentiment: Sentiment,
    /// The sentences, when there is more than one.
    pub sentences: Vec<SentenceSentiment>,
    /// The embedding-cache slots of the sentences (parallel to `sentences`).
    pub sentence_slots: Vec<usize>,
}

/// Mixes the whole comment's probabilities with its sentences' (each weighted by its length).
pub fn aggregate(whole: [f32; 3], sentences: &[([f32; 3], usize)], whole_weight: f32) -> [f32; 3] {
    let total: usize = sentences.iter().map(|(_, length)| length).sum();
    if sentences.is_empty() || total == 0 {
        return whole;
    }
    let mut mixed = whole.map(|p| p * whole_weight);
    for (probabilities, length) in sentences {
        let weight = (1.0 - whole_weight) * *length as f32 / total as f32;
        for (m, p) in mixed.iter_mut().zip(probabilities) {
            *m += weight * p;
        }
    }
    let sum: f32 = mixed.iter().sum();
    mixed.map(|m| m / sum.max(f32::MIN_POSITIVE))
}

/// What scores comments: the head, the encoder it was trained on, and the settings.
pub struct Scorer<'a> {
    /// The trained head.
    pub head: &'a SentimentHead,
    /// The sentiment encoder (whole comments and sentences are encoded with it).
    pub encoder: &'a Encoder,
    /// `sentences` and `whole_weight` are used.
    pub config: &'a SentimentConfig,
}

/// The sentence spans of each text as the sentiment stage uses them: empty for every text when
/// `config.sentences` is off (whole comments only), otherwise the first `config.max_sentences`
/// sentences ([`split_sentences_at_most`]).
pub fn sentence_spans(
    config: &SentimentConfig,
    texts: &[&str],
    langs: &[Lang],
) -> Vec<Vec<std::ops::Range<usize>>> {
    if !config.sentences {
        return vec![Vec::new(); texts.len()];
    }
    texts
        .par_iter()
        .zip(langs)
        .map(|(text, &lang)| split_sentences_at_most(text, lang, config.max_sentences))
        .collect()
}

/// The texts of the sentences to encode: those of the texts with more than one sentence, in order.
pub fn sentence_texts<'t>(
    texts: &[&'t str],
    spans: &[Vec<std::ops::Range<usize>>],
) -> Vec<&'t str> {
    texts
        .iter()
        .zip(spans)
        .filter(|(_, ranges)| ranges.len() > 1)
        .flat_map(|(text, ranges)| ranges.iter().map(move |range| &text[range.clone()]))
        .collect()
}

impl Scorer<'_> {
    /// Scores `texts` split at `spans` (from [`sentence_spans`]): encodes each text and the
    /// sentences of multi-sentence texts through `cache` (which must belong to `encoder`), and mixes
    /// whole text and sentences by `config.whole_weight`.
    pub fn score(
        &self,
        cache: &mut EmbeddingCache,
        texts: &[&str],
        spans: &[Vec<std::ops::Range<usize>>],
    ) -> Result<Vec<Scored>> {
        score_comments(self, cache, texts, spans)
    }
}

/// See [`Scorer::score`].
fn score_comments(
    scorer: &Scorer,
    cache: &mut EmbeddingCache,
    texts: &[&str],
    spans: &[Vec<std::ops::Range<usize>>],
) -> Result<Vec<Scored>> {
    let (head, encoder) = (scorer.head, scorer.encoder);
    let whole_weight = if scorer.config.sentences {
        scorer.config.whole_weight
    } else {
        1.0
    };
    let comment_slots = embed_cached(encoder, cache, texts, None, &|_| {})?;
    let sentence_texts = sentence_texts(texts, spans);
    let sentence_slots = embed_cached(encoder, cache, &sentence_texts, None, &|_| {})?;
    let cache: &EmbeddingCache = cache;
    let mut next = 0;
    let mut scored = Vec::with_capacity(texts.len());
    for (ranges, &slot) in spans.iter().zip(&comment_slots) {
        let whole = head.probabilities(cache.vector(slot));
        if ranges.len() <= 1 {
            scored.push(Scored {
                probabilities: whole,
                sentiment: sentiment_from_probabilities(whole),
                sentences: Vec::new(),
                sentence_slots: Vec::new(),
            });
            continue;
        }
        let slots = &sentence_slots[next..next + ranges.len()];
        next += ranges.len();
        let parts: Vec<([f32; 3], usize)> = slots
            .iter()
            .zip(ranges)
            .map(|(&slot, range)| (head.probabilities(cache.vector(slot)), range.len()))
            .collect();
        let sentences = parts
            .iter()
            .zip(ranges)
            .map(|((probabilities, _), range)| {
                let sentiment = sentiment_from_probabilities(*probabilities);
                SentenceSentiment {
                    start: range.start,
                    end: range.end,
                    label: sentiment.label,
                    score: sentiment.score,
                }
            })
            .collect();
        let probabilities = aggregate(whole, &parts, whole_weight);
        scored.push(Scored {
            probabilities,
            sentiment: sentiment_from_probabilities(probabilities),
            sentences,
            sentence_slots: slots.to_vec(),
        });
    }
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::EmbedConfig;
    use crate::types::SentimentLabel::{self, Negative, Neutral, Positive};

    #[test]
    fn sentences_per_comment_are_capped() {
        let text = "One thing. Two things. Three things. Four things.";
        let capped = SentimentConfig {
            max_sentences: 2,
            ..SentimentConfig::default()
        };
        let spans = sentence_spans(&capped, &[text], &[Lang::En]);
        assert_eq!(spans[0], vec![0..10, 11..22]);
        let unlimited = SentimentConfig {
            max_sentences: 0,
            ..SentimentConfig::default()
        };
        assert_eq!(sentence_spans(&unlimited, &[text], &[Lang::En])[0].len(), 4);
    }

    /// Clear-cut sentences of customer feedback in both languages, with the label any reader gives.
    const FROZEN: &[(&str, Lang, SentimentLabel)] = &[
        ("I love this app, it works perfectly.", Lang::En, Positive),
        (
            "Fantastic support, they fixed it in minutes!",
            Lang::En,
            Positive,
        ),
        ("Best purchase I have made this year.", Lang::En, Positive),
        (
            "The battery dies after two hours, terrible.",
            Lang::En,
            Negative,
        ),
        (
            "Worst customer service ever, nobody answers.",
            Lang::En,
            Negative,
        ),
        ("The app crashes every time I open it.", Lang::En, Negative),
        (
            "My flight was cancelled and I lost my luggage.",
            Lang::En,
            Negative,
        ),
        ("The store opens at 9 am on Mondays.", Lang::En, Neutral),
        (
            "Ich bin sehr zufrieden, alles hat super geklappt.",
            Lang::De,
            Positive,
        ),
        (
            "Tolles Produkt, absolut empfehlenswert!",
            Lang::De,
            Positive,
        ),
        (
            "Der Kundenservice ist eine Katastrophe.",
            Lang::De,
            Negative,
        ),
        (
            "Die Lieferung kam kaputt an und niemand hilft.",
            Lang::De,
            Negative,
        ),
        ("Nie wieder, totaler Schrott.", Lang::De, Negative),
    ];

    /// The default sentiment encoder and head of this checkout, or `None` (with a printed reason).
    fn load_models() -> Option<(Encoder, SentimentHead)> {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        match SentimentConfig::default().load(&models, &EmbedConfig::default()) {
            Ok(loaded) => Some(loaded),
            Err(error) => {
                eprintln!("skipping: {error:#}");
                None
            }
        }
    }

    /// The frozen sentences of `lang` that the default model labels wrongly (model files absent:
    /// `None`, with a printed reason).
    fn frozen_misses(lang: Lang) -> Option<Vec<String>> {
        let (encoder, head) = load_models()?;
        let frozen: Vec<_> = FROZEN.iter().filter(|(_, l, _)| *l == lang).collect();
        let texts: Vec<&str> = frozen.iter().map(|(text, _, _)| *text).collect();
        let vectors = encoder.embed(&texts, &|_| {}).unwrap();
        let mut wrong = Vec::new();
        for ((text, _, expected), vector) in frozen.iter().zip(&vectors) {
            let got = head.predict(vector).label;
            if got != *expected {
                wrong.push(format!("{text:?}: {got:?}, expected {expected:?}"));
            }
        }
        Some(wrong)
    }

    #[test]
    fn frozen_english_sentences_get_their_labels() {
        if let Some(wrong) = frozen_misses(Lang::En) {
            assert!(wrong.is_empty(), "{wrong:#?}");
        }
    }

    #[test]
    fn frozen_german_sentences_get_their_labels() {
        if let Some(wrong) = frozen_misses(Lang::De) {
            assert!(wrong.is_empty(), "{wrong:#?}");
        }
    }

    #[test]
    fn a_mixed_comment_keeps_its_sentences_labels_and_spans() {
        let Some((encoder, head)) = load_models() else {
            return;
        };
        let text = "Delivery was fast and the packaging was lovely. But the battery died after one day, terrible.";
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EmbeddingCache::open(&dir.path().join("e.bin"), encoder.dim()).unwrap();
        let config = SentimentConfig::default();
        let spans = sentence_spans(&config, &[text], &[Lang::En]);
        let scorer = Scorer {
            head: &head,
            encoder: &encoder,
            config: &config,
        };
        let scored = scorer.score(&mut cache, &[text], &spans).unwrap();
        let sentences = &scored[0].sentences;
        assert_eq!(sentences.len(), 2);
        assert_eq!(
            &text[sentences[0].start..sentences[0].end],
            "Delivery was fast and the packaging was lovely."
        );
        assert_eq!(sentences[0].label, Positive);
        assert_eq!(sentences[1].label, Negative);
        // The comment's score lies between its sentences'.
        let score = scored[0].sentiment.score;
        assert!(
            sentences[1].score < score && score < sentences[0].score,
            "{score}"
        );
    }

    #[test]
    fn aggregation_weights_the_whole_and_the_sentences_by_length() {
        let whole = [0.2, 0.6, 0.2];
        let negative = [0.9, 0.05, 0.05];
        let neutral = [0.1, 0.8, 0.1];
        // Only the whole comment.
        assert_eq!(aggregate(whole, &[(negative, 10)], 1.0), whole);
        // Only the sentences: a long negative sentence outweighs a short neutral one.
        let mixed = aggregate(whole, &[(negative, 30), (neutral, 10)], 0.0);
        assert!(
            (mixed[0] - (0.75 * 0.9 + 0.25 * 0.1)).abs() < 1e-6,
            "{mixed:?}"
        );
        assert_eq!(
            sentiment_from_probabilities(mixed).label,
            crate::types::SentimentLabel::Negative
        );
        // Half and half, and the result is a distribution.
        let half = aggregate(whole, &[(negative, 1)], 0.5);
        assert!((half[0] - 0.55).abs() < 1e-6);
        assert!((half.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // No sentences: the whole comment.
        assert_eq!(aggregate(whole, &[], 0.0), whole);
    }
}
