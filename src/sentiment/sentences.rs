//! Sentence-level sentiment and its aggregation to the comment.
//!
//! In: comments (text, language) and their sentence spans ([`sentence_spans`]). Out: per comment,
//! its sentences' spans and sentiment (when it has more than one sentence) and the comment's
//! sentiment aggregated from them. Sentences come from [`crate::text::split_sentences`]; the comment
//! and each sentence of a multi-sentence comment are encoded by the sentiment encoder (through its
//! embedding cache) and scored by the same head. The comment's class probabilities are
//! `whole_weight · P(comment) + (1 − whole_weight) · Σ w_i · P(sentence_i)`, with `w_i` proportional
//! to the sentence's length times its polarity `1 − P_i(neutral)` ([`SentenceWeighting`]): a comment
//! of one strongly negative sentence among neutral ones leans negative, and an analyst sees which
//! sentence it was, while a neutral filler sentence does not drag a clearly positive or negative
//! comment towards the other pole. The mix, and each sentence, are then calibrated for the
//! comment's language ([`super::calibrate`]).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::calibrate::{Calibration, LanguageCalibration};
use super::{sentiment_from_probabilities, SentimentConfig, SentimentHead};
use std::path::Path;

use crate::embed::{embed_cached, EmbedConfig, EmbeddingCache, Encoder};
use crate::error::Result;
use crate::text::split_sentences_at_most;
use crate::types::{Lang, SentenceSentiment, Sentiment};

/// The sentiment of one comment.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// The comment's class probabilities (negative, neutral, positive), aggregated and calibrated.
    pub probabilities: [f32; 3],
    /// The head's probabilities for the whole comment, before aggregation and calibration.
    pub whole: [f32; 3],
    /// The head's probabilities for each sentence (parallel to `sentences`), uncalibrated.
    pub sentence_probabilities: Vec<[f32; 3]>,
    /// Label, score and confidence from `probabilities`.
    pub sentiment: Sentiment,
    /// The sentences, when there is more than one.
    pub sentences: Vec<SentenceSentiment>,
}

/// How the sentences of a comment are weighted against each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SentenceWeighting {
    /// By length times polarity (`1 − P(neutral)`): a neutral filler sentence ("We have one in the
    /// living room.") barely moves a comment whose other sentences take a side.
    #[default]
    Polarity,
    /// By length alone.
    Length,
}

/// Mixes the whole comment's probabilities with its sentences' (each weighted as `weighting` says).
pub fn aggregate(
    whole: [f32; 3],
    sentences: &[([f32; 3], usize)],
    whole_weight: f32,
    weighting: SentenceWeighting,
) -> [f32; 3] {
    let weight_of = |(probabilities, length): &([f32; 3], usize)| -> f32 {
        let length = *length as f32;
        match weighting {
            SentenceWeighting::Length => length,
            // The small floor keeps a comment of neutral sentences a weighted mean of them.
            SentenceWeighting::Polarity => length * ((1.0 - probabilities[1]).max(0.0) + 1e-3),
        }
    };
    let total: f32 = sentences.iter().map(weight_of).sum();
    if sentences.is_empty() || total <= 0.0 {
        return whole;
    }
    let mut mixed = whole.map(|p| p * whole_weight);
    for sentence in sentences {
        let weight = (1.0 - whole_weight) * weight_of(sentence) / total;
        for (m, p) in mixed.iter_mut().zip(&sentence.0) {
            *m += weight * p;
        }
    }
    let sum: f32 = mixed.iter().sum();
    mixed.map(|m| m / sum.max(f32::MIN_POSITIVE))
}

/// The sentiment model as a run uses it: the encoder, the head trained on it and the calibration
/// fitted for it (`None` when `sentiment.calibration` is empty), loaded together.
pub struct SentimentModel {
    /// The sentiment encoder.
    pub encoder: Encoder,
    /// The head trained on `encoder`.
    pub head: SentimentHead,
    /// The per-language calibration fitted for `head`.
    pub calibration: Option<Calibration>,
}

impl SentimentModel {
    /// Loads the configured model, checking that head and calibration belong to its encoder.
    pub fn load(
        config: &SentimentConfig,
        models_dir: &Path,
        embed: &EmbedConfig,
    ) -> Result<SentimentModel> {
        let (encoder, head) = config.load(models_dir, embed)?;
        Self::with_head(config, models_dir, encoder, head)
    }

    /// The configured model on an encoder already loaded (uncentred, see
    /// [`crate::embed::Encoder::split_center`]).
    pub fn with_encoder(
        config: &SentimentConfig,
        models_dir: &Path,
        encoder: Encoder,
    ) -> Result<SentimentModel> {
        let head = config.head_for(models_dir, &encoder)?;
        Self::with_head(config, models_dir, encoder, head)
    }

    fn with_head(
        config: &SentimentConfig,
        models_dir: &Path,
        encoder: Encoder,
        head: SentimentHead,
    ) -> Result<SentimentModel> {
        let calibration = config.load_calibration(models_dir, &head)?;
        Ok(SentimentModel {
            encoder,
            head,
            calibration,
        })
    }

    /// A scorer with this model and `config`'s sentence settings.
    pub fn scorer<'a>(&'a self, config: &'a SentimentConfig) -> Scorer<'a> {
        Scorer {
            head: &self.head,
            encoder: &self.encoder,
            config,
            calibration: self.calibration.as_ref(),
        }
    }
}

/// What scores comments: the head, the encoder it was trained on, and the settings.
pub struct Scorer<'a> {
    /// The trained head.
    pub head: &'a SentimentHead,
    /// The sentiment encoder (whole comments and sentences are encoded with it).
    pub encoder: &'a Encoder,
    /// `sentences` and `whole_weight` are used.
    pub config: &'a SentimentConfig,
    /// Per-language calibration of the head's probabilities (`None`: as the head gives them).
    pub calibration: Option<&'a Calibration>,
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

/// [`sentence_texts`] with each sentence's language (its comment's).
pub fn sentence_texts_and_langs<'t>(
    texts: &[&'t str],
    langs: &[Lang],
    spans: &[Vec<std::ops::Range<usize>>],
) -> (Vec<&'t str>, Vec<Lang>) {
    let sentence_langs = langs
        .iter()
        .zip(spans)
        .filter(|(_, ranges)| ranges.len() > 1)
        .flat_map(|(&lang, ranges)| std::iter::repeat_n(lang, ranges.len()))
        .collect();
    (sentence_texts(texts, spans), sentence_langs)
}

impl Scorer<'_> {
    /// Scores `texts` split at `spans` (from [`sentence_spans`]): encodes each text and the
    /// sentences of multi-sentence texts through `cache` (which must belong to `encoder`), and mixes
    /// whole text and sentences by `config.whole_weight`. `progress` counts texts as their whole
    /// text is encoded.
    pub fn score(
        &self,
        cache: &mut EmbeddingCache,
        texts: &[&str],
        langs: &[Lang],
        spans: &[Vec<std::ops::Range<usize>>],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Scored>> {
        score_comments(self, cache, texts, langs, spans, progress)
    }
}

/// See [`Scorer::score`].
fn score_comments(
    scorer: &Scorer,
    cache: &mut EmbeddingCache,
    texts: &[&str],
    langs: &[Lang],
    spans: &[Vec<std::ops::Range<usize>>],
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Scored>> {
    let (head, encoder) = (scorer.head, scorer.encoder);
    let identity = LanguageCalibration::IDENTITY;
    let whole_weight = if scorer.config.sentences {
        scorer.config.whole_weight
    } else {
        1.0
    };
    let comment_slots = embed_cached(encoder, cache, texts, None, progress)?;
    let sentence_texts = sentence_texts(texts, spans);
    let sentence_slots = embed_cached(encoder, cache, &sentence_texts, None, &|_| {})?;
    let cache: &EmbeddingCache = cache;
    let mut next = 0;
    let mut scored = Vec::with_capacity(texts.len());
    for ((ranges, &slot), &lang) in spans.iter().zip(&comment_slots).zip(langs) {
        let calibration = scorer
            .calibration
            .map_or(identity, |calibration| calibration.for_lang(lang));
        let whole = head.probabilities(cache.vector(slot));
        let slots: &[usize] = if ranges.len() > 1 {
            next += ranges.len();
            &sentence_slots[next - ranges.len()..next]
        } else {
            &[]
        };
        let parts: Vec<([f32; 3], usize)> = slots
            .iter()
            .zip(ranges)
            .map(|(&slot, range)| (head.probabilities(cache.vector(slot)), range.len()))
            .collect();
        let sentences = parts
            .iter()
            .zip(ranges)
            .map(|((probabilities, _), range)| {
                let sentiment = sentiment_from_probabilities(calibration.apply(*probabilities));
                SentenceSentiment {
                    start: range.start,
                    end: range.end,
                    label: sentiment.label,
                    score: sentiment.score,
                }
            })
            .collect();
        // Calibrated after aggregation: the calibration was fitted on aggregated probabilities.
        let probabilities = calibration.apply(aggregate(
            whole,
            &parts,
            whole_weight,
            scorer.config.weighting,
        ));
        scored.push(Scored {
            probabilities,
            whole,
            sentence_probabilities: parts.iter().map(|(p, _)| *p).collect(),
            sentiment: sentiment_from_probabilities(probabilities),
            sentences,
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
        let text = "Delivery was fast and the packaging was lovely. But the battery died after one day, terrible.";
        let Some(scored) = score_with_defaults(&[(text, Lang::En)]) else {
            return;
        };
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

    /// Scores `texts` with the default model, calibration and settings (model files absent:
    /// `None`, with a printed reason).
    fn score_with_defaults(texts: &[(&str, Lang)]) -> Option<Vec<Scored>> {
        let (encoder, head) = load_models()?;
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let config = SentimentConfig::default();
        let calibration = config.load_calibration(&models, &head).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EmbeddingCache::open(&dir.path().join("e.bin"), encoder.dim()).unwrap();
        let (strings, langs): (Vec<&str>, Vec<Lang>) = texts.iter().copied().unzip();
        let spans = sentence_spans(&config, &strings, &langs);
        let scorer = Scorer {
            head: &head,
            encoder: &encoder,
            config: &config,
            calibration: calibration.as_ref(),
        };
        Some(
            scorer
                .score(&mut cache, &strings, &langs, &spans, &|_| {})
                .unwrap(),
        )
    }

    #[test]
    fn a_clear_comment_with_a_neutral_filler_sentence_keeps_its_side() {
        let texts = [
            (
                "Great thermostat, I love it. We have one in the living room.",
                Lang::En,
            ),
            (
                "Tolles Thermostat, ich bin begeistert. Wir haben eins im Wohnzimmer.",
                Lang::De,
            ),
            (
                "Terrible app, it crashes all the time. We have one in the living room.",
                Lang::En,
            ),
        ];
        let Some(scored) = score_with_defaults(&texts) else {
            return;
        };
        let labels: Vec<SentimentLabel> = scored.iter().map(|s| s.sentiment.label).collect();
        assert_eq!(labels, [Positive, Positive, Negative], "{scored:#?}");
        // Each has its two sentences scored.
        assert!(scored.iter().all(|s| s.sentences.len() == 2));
    }

    /// A delivery time is a fact, not a complaint. The fine-tuned head read it as one (its data
    /// holds thousands of airline tweets in which a duration is a complaint); the refitted head,
    /// which learnt plain review sentences as neutral, does not (docs/EVALUATION.md,
    /// "Factual statements").
    #[test]
    fn a_factual_delivery_time_sentence_is_neutral() {
        let texts = [
            ("The thermostat arrived after 6 days.", Lang::En),
            ("Das Paket kam nach 6 Tagen an.", Lang::De),
        ];
        let Some(scored) = score_with_defaults(&texts) else {
            return;
        };
        for (scored, (text, _)) in scored.iter().zip(&texts) {
            assert_eq!(scored.sentiment.label, Neutral, "{text}: {scored:?}");
        }
    }

    #[test]
    fn aggregation_weights_the_whole_and_the_sentences_by_length() {
        use SentenceWeighting::Length;
        let whole = [0.2, 0.6, 0.2];
        let negative = [0.9, 0.05, 0.05];
        let neutral = [0.1, 0.8, 0.1];
        // Only the whole comment.
        assert_eq!(aggregate(whole, &[(negative, 10)], 1.0, Length), whole);
        // Only the sentences: a long negative sentence outweighs a short neutral one.
        let mixed = aggregate(whole, &[(negative, 30), (neutral, 10)], 0.0, Length);
        assert!(
            (mixed[0] - (0.75 * 0.9 + 0.25 * 0.1)).abs() < 1e-6,
            "{mixed:?}"
        );
        assert_eq!(sentiment_from_probabilities(mixed).label, Negative);
        // Half and half, and the result is a distribution.
        let half = aggregate(whole, &[(negative, 1)], 0.5, Length);
        assert!((half[0] - 0.55).abs() < 1e-6);
        assert!((half.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // No sentences: the whole comment.
        assert_eq!(aggregate(whole, &[], 0.0, Length), whole);
    }

    #[test]
    fn a_neutral_filler_sentence_does_not_drag_a_clear_comment() {
        use SentenceWeighting::{Length, Polarity};
        // "Great thermostat, I love it. We have one in the living room. It is in the hallway."
        let whole = [0.2, 0.45, 0.35];
        let praise = ([0.03, 0.07, 0.9], 28);
        let filler = ([0.15, 0.8, 0.05], 33);
        let parts = [praise, filler, ([0.2, 0.75, 0.05], 22)];
        // By length, the two fillers pull the comment to neutral.
        let by_length = aggregate(whole, &parts, 0.5, Length);
        assert_eq!(sentiment_from_probabilities(by_length).label, Neutral);
        // By polarity, the comment keeps the side its one opinionated sentence takes.
        let by_polarity = aggregate(whole, &parts, 0.5, Polarity);
        assert_eq!(
            sentiment_from_probabilities(by_polarity).label,
            Positive,
            "{by_polarity:?}"
        );
        // A comment of neutral sentences stays neutral, and weights follow length among equals.
        let neutral_only = aggregate([0.1, 0.8, 0.1], &[filler, filler], 0.5, Polarity);
        assert_eq!(sentiment_from_probabilities(neutral_only).label, Neutral);
        // One strongly negative sentence among neutral ones still leans the comment negative.
        let complaint = ([0.95, 0.04, 0.01], 20);
        let leaning = aggregate([0.3, 0.6, 0.1], &[filler, complaint, filler], 0.5, Polarity);
        assert!(leaning[0] > by_length[0] && leaning[0] > 0.4, "{leaning:?}");
    }
}
