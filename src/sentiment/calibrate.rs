//! Calibration of the sentiment head: per language, a linear map of the log-probabilities, so that
//! the label probabilities mean what they say.
//!
//! In: a comment's (or sentence's) class probabilities as the head and the sentence aggregation give
//! them, and the text's language. Out: calibrated probabilities `softmax(W · ln p + b)`, where `W` is
//! 3 × 3 and `b` has three entries ("matrix scaling", the most general of the post-hoc calibrations
//! of Guo et al. 2017: temperature scaling is `W = I / T, b = 0`). It softens an overconfident head and
//! moves the classes' prior: German web text is mostly neutral, the tweets the head was trained on
//! are not. `W` and `b` are fitted per language by [`fit`] on labelled validation data (`xsignal train
//! calibration`), minimising the negative log-likelihood plus a small pull towards the identity: a
//! convex problem in twelve parameters, solved by Newton's method, so the fit is deterministic. The
//! result is committed as `models/sentiment-e5-calibration.json` and names the encoder fingerprint of
//! the head it was fitted for.
//!
//! Written by hand: a twelve-parameter convex fit is a few dozen lines, and no crate offers matrix
//! scaling.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::softmax;
use crate::error::{Error, Result};
use crate::types::Lang;

/// One language's calibration: `softmax(weights · ln p + bias)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageCalibration {
    /// Row `k` maps the three log-probabilities to class `k`'s logit.
    pub weights: [[f32; 3]; 3],
    /// Added to the logits of negative, neutral and positive.
    pub bias: [f32; 3],
}

impl LanguageCalibration {
    /// Leaves probabilities as they are.
    pub const IDENTITY: LanguageCalibration = LanguageCalibration {
        weights: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        bias: [0.0; 3],
    };

    /// Calibrated class probabilities.
    pub fn apply(&self, probabilities: [f32; 3]) -> [f32; 3] {
        let log_p = probabilities.map(|p| p.max(1e-12).ln());
        let mut logits = self.bias;
        for (logit, row) in logits.iter_mut().zip(&self.weights) {
            *logit += row.iter().zip(&log_p).map(|(w, l)| w * l).sum::<f32>();
        }
        softmax(logits)
    }
}

/// The calibration file: one entry per language code, `*` for the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Format version of this file.
    pub version: u32,
    /// Fingerprint of the encoder whose head was calibrated.
    pub encoder: String,
    /// Digest of the calibrated head ([`super::SentimentHead::digest`]); files written before it
    /// was recorded are checked by their encoder only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// Per language code (`en`, `de`, `*` for any other).
    pub languages: BTreeMap<String, LanguageCalibration>,
    /// How it was fitted: data, rows per language, command, metrics before and after.
    pub provenance: serde_json::Value,
}

impl Calibration {
    /// The calibration of `lang`: its own, else the `*` entry, else the identity.
    pub fn for_lang(&self, lang: Lang) -> LanguageCalibration {
        self.languages
            .get(lang.code())
            .or_else(|| self.languages.get("*"))
            .copied()
            .unwrap_or(LanguageCalibration::IDENTITY)
    }

    /// Loads a calibration file. A missing file gives [`Error::ModelMissing`].
    pub fn load(path: &Path) -> Result<Calibration> {
        let calibration: Calibration = super::read_model_json(path)?;
        let finite = |c: &LanguageCalibration| {
            c.weights
                .iter()
                .flatten()
                .chain(&c.bias)
                .all(|v| v.is_finite())
        };
        if !calibration.languages.values().all(finite) {
            return Err(Error::Invalid(format!(
                "{}: a calibration's weights and biases must be finite",
                path.display()
            )));
        }
        Ok(calibration)
    }

    /// Writes the calibration as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        super::write_model_json(path, self)
    }
}

/// One labelled prediction for [`fit`].
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    /// The class probabilities to calibrate.
    pub probabilities: [f32; 3],
    /// Gold class index (0 negative, 1 neutral, 2 positive).
    pub gold: usize,
    /// Weight of the row in the likelihood (e.g. to give each data set the same total).
    pub weight: f64,
}

/// Parameters: the 3 × 3 weights row by row, then the 3 biases.
const PARAMETERS: usize = 12;

/// Fits the weights and biases that minimise the weighted negative log-likelihood of `rows`, with
/// weights normalised to sum 1, plus `1e-3 / 2 · ‖θ − identity‖²` (which makes the solution unique
/// and keeps a class that is rare in the data from driving its parameters to infinity). Newton's
/// method with step halving; the objective is convex.
pub fn fit(rows: &[Observation]) -> LanguageCalibration {
    const RIDGE: f64 = 1e-3;
    let total: f64 = rows
        .iter()
        .map(|row| row.weight)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    let identity = to_theta(&LanguageCalibration::IDENTITY);
    // Features of a row: the three log-probabilities and 1.
    let features: Vec<[f64; 4]> = rows
        .iter()
        .map(|row| {
            let l = row.probabilities.map(|p| f64::from(p.max(1e-12)).ln());
            [l[0], l[1], l[2], 1.0]
        })
        .collect();
    let class_probabilities = |theta: &[f64; PARAMETERS], x: &[f64; 4]| -> ([f64; 3], f64) {
        let mut z = [0f64; 3];
        for (k, value) in z.iter_mut().enumerate() {
            *value = (0..3).map(|j| theta[3 * k + j] * x[j]).sum::<f64>() + theta[9 + k];
        }
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exps = z.map(|v| (v - max).exp());
        let sum: f64 = exps.iter().sum();
        (exps.map(|e| e / sum), max + sum.ln())
    };
    let objective = |theta: &[f64; PARAMETERS]| -> f64 {
        let data: f64 = rows
            .iter()
            .zip(&features)
            .map(|(row, x)| {
                let (q, _) = class_probabilities(theta, x);
                -row.weight / total * q[row.gold].max(1e-300).ln()
            })
            .sum();
        let penalty: f64 = theta
            .iter()
            .zip(&identity)
            .map(|(t, i)| (t - i).powi(2))
            .sum();
        data + 0.5 * RIDGE * penalty
    };
    // The parameter index of class k's coefficient of feature f (f = 3 is the bias).
    let index = |k: usize, f: usize| if f < 3 { 3 * k + f } else { 9 + k };
    let mut theta = identity;
    let mut value = objective(&theta);
    for _ in 0..50 {
        let mut gradient = [0f64; PARAMETERS];
        let mut hessian = [[0f64; PARAMETERS]; PARAMETERS];
        for (row, x) in rows.iter().zip(&features) {
            let weight = row.weight / total;
            let (q, _) = class_probabilities(&theta, x);
            for k in 0..3 {
                let residual = q[k] - if k == row.gold { 1.0 } else { 0.0 };
                for f in 0..4 {
                    gradient[index(k, f)] += weight * residual * x[f];
                }
                for l in 0..3 {
                    let curvature = weight * (if k == l { q[k] } else { 0.0 } - q[k] * q[l]);
                    for f in 0..4 {
                        for g in 0..4 {
                            hessian[index(k, f)][index(l, g)] += curvature * x[f] * x[g];
                        }
                    }
                }
            }
        }
        for i in 0..PARAMETERS {
            gradient[i] += RIDGE * (theta[i] - identity[i]);
            hessian[i][i] += RIDGE;
        }
        let step = solve(hessian, gradient);
        let mut size = 1.0;
        let mut accepted = None;
        while size > 1e-8 {
            let mut candidate = theta;
            for (c, s) in candidate.iter_mut().zip(&step) {
                *c -= size * s;
            }
            let candidate_value = objective(&candidate);
            if candidate_value <= value {
                accepted = Some((candidate, candidate_value));
                break;
            }
            size *= 0.5;
        }
        let Some((candidate, candidate_value)) = accepted else {
            break;
        };
        let gain = value - candidate_value;
        theta = candidate;
        value = candidate_value;
        if gain < 1e-12 {
            break;
        }
    }
    from_theta(&theta)
}

fn to_theta(calibration: &LanguageCalibration) -> [f64; PARAMETERS] {
    let mut theta = [0f64; PARAMETERS];
    for k in 0..3 {
        for j in 0..3 {
            theta[3 * k + j] = f64::from(calibration.weights[k][j]);
        }
        theta[9 + k] = f64::from(calibration.bias[k]);
    }
    theta
}

fn from_theta(theta: &[f64; PARAMETERS]) -> LanguageCalibration {
    let mut calibration = LanguageCalibration::IDENTITY;
    for k in 0..3 {
        for j in 0..3 {
            calibration.weights[k][j] = theta[3 * k + j] as f32;
        }
        calibration.bias[k] = theta[9 + k] as f32;
    }
    calibration
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (`a` is positive definite here).
fn solve(mut a: [[f64; PARAMETERS]; PARAMETERS], mut b: [f64; PARAMETERS]) -> [f64; PARAMETERS] {
    for column in 0..PARAMETERS {
        let pivot = (column..PARAMETERS)
            .max_by(|&i, &j| a[i][column].abs().total_cmp(&a[j][column].abs()))
            .expect("non-empty range");
        a.swap(column, pivot);
        b.swap(column, pivot);
        let pivot_row = a[column];
        for row in column + 1..PARAMETERS {
            let factor = a[row][column] / pivot_row[column];
            for (value, pivot_value) in a[row][column..].iter_mut().zip(&pivot_row[column..]) {
                *value -= factor * pivot_value;
            }
            b[row] -= factor * b[column];
        }
    }
    let mut x = [0f64; PARAMETERS];
    for row in (0..PARAMETERS).rev() {
        let tail: f64 = (row + 1..PARAMETERS).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// A temperature-and-prior map, the kind of miscalibration a fine-tuned head shows.
    fn tempered(scale: f32, bias: [f32; 3]) -> LanguageCalibration {
        let mut calibration = LanguageCalibration::IDENTITY;
        for k in 0..3 {
            calibration.weights[k][k] = scale;
        }
        calibration.bias = bias;
        calibration
    }

    /// Head outputs spread over the simplex.
    fn reported(rng: &mut SplitMix64) -> [f32; 3] {
        softmax([rng.next_f64(), rng.next_f64(), rng.next_f64()].map(|u| (8.0 * u - 4.0) as f32))
    }

    /// Rows whose true class follows `truth` applied to what the head reports.
    fn synthetic(truth: LanguageCalibration, count: usize, seed: u64) -> Vec<Observation> {
        let mut rng = SplitMix64::new(seed);
        (0..count)
            .map(|_| {
                let probabilities = reported(&mut rng);
                let true_p = truth.apply(probabilities);
                let u = rng.next_f64() as f32;
                let gold = if u < true_p[0] {
                    0
                } else if u < true_p[0] + true_p[1] {
                    1
                } else {
                    2
                };
                Observation {
                    probabilities,
                    gold,
                    weight: 1.0,
                }
            })
            .collect()
    }

    /// The largest difference between two calibrations' outputs over fresh head outputs.
    fn largest_gap(a: &LanguageCalibration, b: &LanguageCalibration) -> f32 {
        let mut rng = SplitMix64::new(99);
        (0..2_000)
            .map(|_| {
                let p = reported(&mut rng);
                let (x, y) = (a.apply(p), b.apply(p));
                (0..3).map(|k| (x[k] - y[k]).abs()).fold(0.0, f32::max)
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn the_fit_recovers_a_planted_temperature_and_prior() {
        let truth = tempered(0.5, [-0.8, 0.4, 0.0]);
        let fitted = fit(&synthetic(truth, 20_000, 7));
        let gap = largest_gap(&fitted, &truth);
        assert!(gap < 0.05, "{gap} {fitted:?}");
        // It is not the identity: the head was miscalibrated.
        assert!(largest_gap(&LanguageCalibration::IDENTITY, &truth) > 0.2);
    }

    #[test]
    fn a_calibrated_head_stays_as_it_is() {
        let fitted = fit(&synthetic(LanguageCalibration::IDENTITY, 20_000, 11));
        let gap = largest_gap(&fitted, &LanguageCalibration::IDENTITY);
        assert!(gap < 0.05, "{gap} {fitted:?}");
    }

    #[test]
    fn calibration_lowers_the_expected_calibration_error() {
        use crate::eval::sentiment::{score, Scored};
        use crate::types::SentimentLabel;
        // An overconfident head that under-reports neutral.
        let truth = tempered(0.4, [0.0, 1.0, 0.0]);
        let rows = synthetic(truth, 10_000, 3);
        let ece = |calibration: LanguageCalibration| {
            let scored: Vec<Scored> = rows
                .iter()
                .map(|row| Scored {
                    gold: SentimentLabel::ALL[row.gold],
                    probabilities: calibration.apply(row.probabilities),
                })
                .collect();
            score(&scored).ece
        };
        let before = ece(LanguageCalibration::IDENTITY);
        let after = ece(fit(&rows));
        assert!(before > 0.1, "{before}");
        assert!(after < 0.03, "{before} -> {after}");
    }

    #[test]
    fn the_fit_is_deterministic_and_weights_count() {
        let mut rows = synthetic(tempered(0.5, [0.0; 3]), 3_000, 5);
        assert_eq!(fit(&rows), fit(&rows));
        // Rows of one class weighted up move the prior towards it.
        let before = fit(&rows).apply([0.3, 0.4, 0.3]);
        for row in rows.iter_mut().filter(|row| row.gold == 2) {
            row.weight = 3.0;
        }
        let after = fit(&rows).apply([0.3, 0.4, 0.3]);
        assert!(after[2] > before[2] + 0.05, "{before:?} {after:?}");
    }

    #[test]
    fn languages_fall_back_to_the_default_entry() {
        let german = tempered(0.7, [0.0, 0.5, -0.3]);
        let calibration = Calibration {
            version: 1,
            encoder: "e".into(),
            head: None,
            languages: BTreeMap::from([("de".to_string(), german)]),
            provenance: serde_json::json!({}),
        };
        assert_eq!(calibration.for_lang(Lang::De), german);
        assert_eq!(
            calibration.for_lang(Lang::En),
            LanguageCalibration::IDENTITY
        );
        let p = [0.2, 0.3, 0.5];
        let same = LanguageCalibration::IDENTITY.apply(p);
        assert!((0..3).all(|k| (same[k] - p[k]).abs() < 1e-6), "{same:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        calibration.save(&path).unwrap();
        assert_eq!(Calibration::load(&path).unwrap(), calibration);
    }
}
