//! Sentiment: a transformer fine-tuned for three-class sentiment, English and German.
//!
//! In: comment texts. Out: a [`Sentiment`] per comment (label, score in [-1, 1], confidence) and per
//! sentence ([`sentences`]). The model is multilingual-e5-small with LoRA adapters and a softmax head
//! on its L2-normalised mean-pooled embedding, trained by `scripts/train-sentiment` and committed as
//! `models/sentiment-e5-lora.safetensors`; `xsignal models fetch` merges the adapters into the base
//! weights and writes the model folder `models/sentiment-e5` (with `head.json`), which any encoder
//! backend runs. The head format also serves heads trained on frozen embeddings of another encoder
//! ([`train`], `xsignal train sentiment`), the baseline measured in docs/EVALUATION.md. The head's
//! probabilities are calibrated per language ([`calibrate`], `xsignal train calibration`).

pub mod calibrate;
pub mod ratings;
pub mod sentences;
pub mod train;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::embed::{EmbedConfig, Encoder};
use crate::error::{Error, Result};
use crate::types::{Sentiment, SentimentLabel};

/// The sentiment model's folder under the models directory (the `sentiment.model` default; `xsignal
/// models fetch` builds it). It is the default topic encoder too ([`crate::embed::DEFAULT_MODEL`]).
pub const SENTIMENT_MODEL: &str = crate::embed::DEFAULT_MODEL;

/// Settings of the sentiment stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SentimentConfig {
    /// Encoder model folder under the models directory (the embed settings apply to it, backend
    /// included). Empty: the topic encoder (`embed.model`), as in configs written before the
    /// sentiment model existed, whose heads were trained on that encoder's embeddings.
    #[serde(default)]
    pub model: String,
    /// The trained head's file, relative to the models directory.
    pub head: String,
    /// Weight of the whole comment's prediction against its sentences' (0: sentences only, 1:
    /// whole comment only) in the sentiment of a comment of several sentences.
    pub whole_weight: f32,
    /// Score the sentences of multi-sentence comments (encoding them costs about half the
    /// encoder's time again); `false` scores whole comments only.
    pub sentences: bool,
    /// Most sentences of one comment scored one by one (0: no limit); the rest of a longer
    /// comment counts through the whole comment's score only, as the encoder reads only a long
    /// text's first windows. 32 sentences hold more than the 512 word pieces of the encoder's four
    /// default windows.
    pub max_sentences: usize,
    /// How the sentences of a comment are weighted: `polarity` (length times `1 − P(neutral)`) or
    /// `length`.
    pub weighting: sentences::SentenceWeighting,
    /// The calibration file, relative to the models directory; empty for none. It must have been
    /// fitted for the head's encoder.
    pub calibration: String,
}

impl Default for SentimentConfig {
    fn default() -> Self {
        SentimentConfig {
            model: SENTIMENT_MODEL.to_string(),
            head: format!("{SENTIMENT_MODEL}/head.json"),
            whole_weight: 0.5,
            sentences: true,
            max_sentences: MAX_SENTENCES,
            weighting: sentences::SentenceWeighting::Polarity,
            calibration: format!("{SENTIMENT_MODEL}-calibration.json"),
        }
    }
}

/// Default of [`SentimentConfig::max_sentences`].
pub const MAX_SENTENCES: usize = 32;

impl SentimentConfig {
    /// Records the problems of this section's values.
    pub fn check_values(&self, checks: &mut crate::validation::Checks) {
        checks.require(
            !self.head.trim().is_empty(),
            "head",
            "must name the head's file",
        );
        checks.share("whole_weight", f64::from(self.whole_weight));
    }

    /// The encoder settings of the sentiment model: `embed`'s, with this model.
    pub fn encoder_config(&self, embed: &EmbedConfig) -> EmbedConfig {
        if self.model.is_empty() {
            return embed.clone();
        }
        EmbedConfig {
            model: self.model.clone(),
            ..embed.clone()
        }
    }

    /// True when the sentiment model is the topic encoder's model (`embed`): one pass of it then
    /// serves both (see [`crate::embed::Encoder::split_center`]).
    pub fn shares_encoder(&self, embed: &EmbedConfig) -> bool {
        self.encoder_config(embed) == *embed
    }

    /// Loads the sentiment encoder and head, checking that the head was trained on that encoder.
    /// The encoder gives the vectors as the model pools them, whatever center its folder has
    /// (the head was trained on those).
    pub fn load(&self, models_dir: &Path, embed: &EmbedConfig) -> Result<(Encoder, SentimentHead)> {
        let encoder = Encoder::load(models_dir, &self.encoder_config(embed))?.uncentred();
        let head = self.head_for(models_dir, &encoder)?;
        Ok((encoder, head))
    }

    /// The head for `encoder` (an uncentred encoder of the configured model), checked against it.
    pub fn head_for(&self, models_dir: &Path, encoder: &Encoder) -> Result<SentimentHead> {
        self.matching_head(models_dir, encoder.fingerprint(), encoder.dim())
    }

    /// Checks what [`SentimentConfig::load`] and [`SentimentConfig::load_calibration`] need (the
    /// model's files, a head trained on it, a calibration fitted for it) without loading the model.
    pub fn check(&self, models_dir: &Path, embed: &EmbedConfig) -> Result<()> {
        let model = Encoder::check(models_dir, &self.encoder_config(embed))?;
        let head = self.matching_head(models_dir, &model.fingerprint, model.dim)?;
        self.load_calibration(models_dir, &head)?;
        Ok(())
    }

    /// Loads the configured calibration (`None` when `calibration` is empty), checking that it was
    /// fitted for `head` (the configured head, loaded and checked against its encoder): for its
    /// encoder, and for the head itself when the file names one.
    pub fn load_calibration(
        &self,
        models_dir: &Path,
        head: &SentimentHead,
    ) -> Result<Option<calibrate::Calibration>> {
        if self.calibration.is_empty() {
            return Ok(None);
        }
        let calibration = calibrate::Calibration::load(&models_dir.join(&self.calibration))?;
        if calibration.encoder != head.encoder {
            return Err(Error::Invalid(format!(
                "sentiment calibration {} was fitted for encoder {:?} but the configured encoder is {:?}",
                self.calibration, calibration.encoder, head.encoder
            )));
        }
        if let Some(digest) = &calibration.head {
            if head.digest() != *digest {
                return Err(Error::Invalid(format!(
                    "sentiment calibration {} was fitted for another head than {}: run `xsignal models fetch` to install the head it belongs to, or refit it for this head with `xsignal train calibration`",
                    self.calibration, self.head
                )));
            }
        }
        Ok(Some(calibration))
    }

    fn matching_head(
        &self,
        models_dir: &Path,
        fingerprint: &str,
        dim: usize,
    ) -> Result<SentimentHead> {
        let head = SentimentHead::load(&models_dir.join(&self.head))?;
        if head.encoder != fingerprint || head.dim != dim {
            return Err(Error::Invalid(format!(
                "sentiment head {} was trained on encoder {:?} but the configured encoder is {:?}",
                self.head, head.encoder, fingerprint
            )));
        }
        Ok(head)
    }
}

/// A trained softmax-regression head: `p = softmax(W x + b)` over negative, neutral, positive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentimentHead {
    /// Format version of this file.
    pub version: u32,
    /// The encoder fingerprint the head was trained on; embeddings must come from the same encoder.
    pub encoder: String,
    /// Embedding width.
    pub dim: usize,
    /// Class order of the rows of `weights`: always negative, neutral, positive.
    pub labels: Vec<SentimentLabel>,
    /// One row of `dim` weights per class.
    pub weights: Vec<Vec<f32>>,
    /// One bias per class.
    pub bias: Vec<f32>,
    /// How the head was trained: data, command, seed, metrics.
    pub provenance: serde_json::Value,
}

impl SentimentHead {
    /// Loads a head file. A missing file gives [`Error::ModelMissing`].
    pub fn load(path: &Path) -> Result<SentimentHead> {
        let head: SentimentHead = read_model_json(path)?;
        if head.labels != SentimentLabel::ALL
            || head.weights.len() != 3
            || head.bias.len() != 3
            || head.weights.iter().any(|row| row.len() != head.dim)
        {
            return Err(Error::Invalid(format!(
                "{}: sentiment head has inconsistent shapes",
                path.display()
            )));
        }
        Ok(head)
    }

    /// Writes the head as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_model_json(path, self)
    }

    /// Class probabilities (negative, neutral, positive) for one embedding.
    pub fn probabilities(&self, embedding: &[f32]) -> [f32; 3] {
        debug_assert_eq!(embedding.len(), self.dim);
        let mut logits = [0f32; 3];
        for (class, logit) in logits.iter_mut().enumerate() {
            let dot: f32 = self.weights[class]
                .iter()
                .zip(embedding)
                .map(|(w, x)| w * x)
                .sum();
            *logit = dot + self.bias[class];
        }
        softmax(logits)
    }

    /// A digest of the head's weights and biases (sha256 of their little-endian f32 bytes, hex): a
    /// calibration records the head it was fitted for by it.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for value in self.weights.iter().flatten().chain(&self.bias) {
            hasher.update(value.to_le_bytes());
        }
        crate::hex::encode(&hasher.finalize())
    }

    /// The sentiment of one embedding: the most probable label, `score = P(pos) - P(neg)`, and the
    /// probability of the chosen label as confidence.
    pub fn predict(&self, embedding: &[f32]) -> Sentiment {
        sentiment_from_probabilities(self.probabilities(embedding))
    }
}

/// Reads a model file (a head, a calibration) as JSON; a missing file gives
/// [`Error::ModelMissing`], which tells the user to run `xsignal models fetch`.
fn read_model_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    if !path.is_file() {
        return Err(Error::ModelMissing {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::io(path, source))?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a model file as pretty JSON with a final newline.
fn write_model_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("model files serialise");
    std::fs::write(path, text + "\n").map_err(|source| Error::io(path, source))
}

/// Label, score and confidence from class probabilities (negative, neutral, positive).
pub fn sentiment_from_probabilities(probabilities: [f32; 3]) -> Sentiment {
    let mut best = 0;
    for class in 1..3 {
        if probabilities[class] > probabilities[best] {
            best = class;
        }
    }
    let score = (probabilities[2] - probabilities[0]).clamp(-1.0, 1.0);
    Sentiment {
        label: SentimentLabel::ALL[best],
        score,
        confidence: probabilities[best],
    }
}

/// Numerically stable softmax of three logits.
pub fn softmax(logits: [f32; 3]) -> [f32; 3] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps = logits.map(|logit| (logit - max).exp());
    let sum: f32 = exps.iter().sum();
    exps.map(|value| value / sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_head() -> SentimentHead {
        SentimentHead {
            version: 1,
            encoder: "toy".into(),
            dim: 2,
            labels: SentimentLabel::ALL.to_vec(),
            weights: vec![vec![-4.0, 0.0], vec![0.0, 3.0], vec![4.0, 0.0]],
            bias: vec![0.0, 0.0, 0.0],
            provenance: serde_json::json!({}),
        }
    }

    #[test]
    fn prediction_follows_the_weights() {
        let head = toy_head();
        let positive = head.predict(&[1.0, 0.0]);
        assert_eq!(positive.label, SentimentLabel::Positive);
        assert!(positive.score > 0.9 && positive.score <= 1.0);
        let negative = head.predict(&[-1.0, 0.0]);
        assert_eq!(negative.label, SentimentLabel::Negative);
        assert!(negative.score < -0.9);
        let neutral = head.predict(&[0.0, 1.0]);
        assert_eq!(neutral.label, SentimentLabel::Neutral);
        assert!(neutral.score.abs() < 0.01);
    }

    #[test]
    fn configs_without_a_sentiment_model_use_the_topic_encoder() {
        let old: SentimentConfig = toml::from_str("head = \"sentiment-head.json\"").unwrap();
        let embed = EmbedConfig::default();
        assert_eq!(old.encoder_config(&embed).model, embed.model);
        let new = SentimentConfig::default();
        assert_eq!(new.encoder_config(&embed).model, SENTIMENT_MODEL);
        assert_eq!(new.encoder_config(&embed).backend, embed.backend);
    }

    #[test]
    fn softmax_sums_to_one() {
        let probabilities = softmax([1000.0, 0.0, -1000.0]);
        assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(probabilities[0] > 0.999);
    }

    #[test]
    fn a_calibration_is_refused_for_another_head_than_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let head = toy_head();
        let calibration = calibrate::Calibration {
            version: 1,
            encoder: "toy".into(),
            head: Some(head.digest()),
            languages: Default::default(),
            provenance: serde_json::json!({}),
        };
        calibration.save(&dir.path().join("cal.json")).unwrap();
        let config = SentimentConfig {
            calibration: "cal.json".into(),
            ..SentimentConfig::default()
        };
        assert!(config
            .load_calibration(dir.path(), &head)
            .unwrap()
            .is_some());
        // The same encoder, another head: refused, naming what to do.
        let mut other = head.clone();
        other.bias[1] = 0.5;
        let error = config.load_calibration(dir.path(), &other).unwrap_err();
        assert!(error.to_string().contains("another head"), "{error}");
        // Another encoder: refused too.
        let mut elsewhere = head.clone();
        elsewhere.encoder = "other".into();
        assert!(config.load_calibration(dir.path(), &elsewhere).is_err());
    }

    #[test]
    fn head_files_round_trip_and_shapes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.json");
        let head = toy_head();
        head.save(&path).unwrap();
        assert_eq!(SentimentHead::load(&path).unwrap(), head);
        let mut broken = head.clone();
        broken.weights.pop();
        broken.save(&path).unwrap();
        assert!(SentimentHead::load(&path).is_err());
        let missing = SentimentHead::load(&dir.path().join("absent.json")).unwrap_err();
        assert!(missing.to_string().contains("xsignal models fetch"));
    }
}
