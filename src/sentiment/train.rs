//! Training of the sentiment head (`xsignal train sentiment`): softmax regression with per-row
//! weights and L2 regularisation, fitted by full-batch Adam on frozen sentence embeddings; and the
//! distant supervision it can add (plain review sentences as neutral, [`plain_sentences`]).
//!
//! Hand-written because it is forty lines of ndarray: a machine-learning crate would add a large
//! dependency for one convex fit. The fit is deterministic (no sampling).
//!
//! A fit can start from a prior head and be pulled towards it (the L2 penalty then applies to the
//! difference): refitting the fine-tuned model's head on more data moves it only as far as that
//! data asks, so what the fine-tuning learnt from its own data is kept.

use std::collections::HashSet;

use ndarray::{Array1, Array2, Axis};

use crate::text::split_sentences;
use crate::types::Lang;

/// Options of the fit.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// Full-batch optimisation steps.
    pub epochs: usize,
    /// Adam step size.
    pub learning_rate: f32,
    /// L2 penalty on the weights.
    pub l2: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 600,
            learning_rate: 0.05,
            l2: 1e-4,
        }
    }
}

/// Fits `classes` x `dim` weights and `classes` biases to rows `x` (n x dim) with labels `y` in
/// `0..classes`. Each class's examples are weighted so every class present weighs the same in total.
pub fn fit(
    x: &Array2<f32>,
    y: &[usize],
    classes: usize,
    options: &TrainOptions,
) -> (Array2<f32>, Array1<f32>) {
    let groups = vec![0; y.len()];
    let weights = balanced_weights(y, &groups, &[1.0], classes);
    fit_weighted(x, y, &weights, classes, None, options)
}

/// Row weights that balance the classes within each group (a training source) and give group `g`
/// the total weight `group_weight[g]`; rows of a group are `groups[i] == g`.
pub fn balanced_weights(
    y: &[usize],
    groups: &[usize],
    group_weight: &[f32],
    classes: usize,
) -> Vec<f32> {
    let mut counts = vec![vec![0usize; classes]; group_weight.len()];
    for (&label, &group) in y.iter().zip(groups) {
        counts[group][label] += 1;
    }
    y.iter()
        .zip(groups)
        .map(|(&label, &group)| {
            let present = counts[group].iter().filter(|&&count| count > 0).count();
            group_weight[group] / (present * counts[group][label]) as f32
        })
        .collect()
}

/// [`fit`] with the given row weights; with a `prior` head (weights, biases), the fit starts there
/// and the L2 penalty pulls weights and biases towards it instead of towards zero.
pub fn fit_weighted(
    x: &Array2<f32>,
    y: &[usize],
    row_weight: &[f32],
    classes: usize,
    prior: Option<(&Array2<f32>, &Array1<f32>)>,
    options: &TrainOptions,
) -> (Array2<f32>, Array1<f32>) {
    let (rows, dim) = x.dim();
    assert_eq!(rows, y.len(), "one label per row");
    assert_eq!(rows, row_weight.len(), "one weight per row");
    let sample_weight = Array1::from(row_weight.to_vec());
    let weight_sum: f32 = sample_weight.sum();
    let mut targets = Array2::<f32>::zeros((rows, classes));
    for (row, &label) in y.iter().enumerate() {
        targets[[row, label]] = 1.0;
    }

    let (prior_weights, prior_bias) = match prior {
        Some((weights, bias)) => (weights.clone(), bias.clone()),
        None => (Array2::zeros((classes, dim)), Array1::zeros(classes)),
    };
    let mut weights = prior_weights.clone();
    let mut bias = prior_bias.clone();
    let mut adam_w = Adam::new((classes, dim));
    let mut adam_b = Adam::new((1, classes));
    for step in 1..=options.epochs {
        let mut logits = x.dot(&weights.t());
        logits += &bias;
        let probabilities = softmax_rows(logits);
        let mut residual = probabilities - &targets;
        residual *= &sample_weight.view().insert_axis(Axis(1));
        residual /= weight_sum;
        let grad_w = residual.t().dot(x) + &((&weights - &prior_weights) * options.l2);
        let mut grad_b = residual.sum_axis(Axis(0));
        if prior.is_some() {
            grad_b += &((&bias - &prior_bias) * options.l2);
        }
        adam_w.step(&mut weights, &grad_w, options.learning_rate, step);
        let mut bias_2d = bias.clone().insert_axis(Axis(0));
        adam_b.step(
            &mut bias_2d,
            &grad_b.insert_axis(Axis(0)),
            options.learning_rate,
            step,
        );
        bias = bias_2d.remove_axis(Axis(0));
    }
    (weights, bias)
}

/// Words that turn or strengthen an opinion without carrying one: a sentence with one of them is
/// not taken as plain.
const OPINION_TURNS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "nor", "neither", "nowhere", "cannot",
    "without", "hardly", "barely", "rarely", "seldom", "but", "however", "although", "though",
];

/// Distant supervision for "neutral" in reviews: of each English review, the first sentence of 6
/// to 30 words with no word of the opinion `lexicon` (lowercase words), no negation or contrast
/// word, no `!` or `?`, no shouted word and no rating (`7/10`). Such sentences say what a product
/// or film is or what happened ("The movie was filmed in 1976 in Ohio."): the statements a model
/// trained on complaint tweets reads as negative. The rule is noisy (an opinion in words the
/// lexicon lacks passes), so these rows get a small weight.
pub fn plain_sentences(reviews: &[&str], lexicon: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for review in reviews {
        let plain = split_sentences(review, Lang::En)
            .into_iter()
            .map(|range| review[range].trim())
            .find(|sentence| {
                let count = sentence.split_whitespace().count();
                let words = crate::text::words(sentence);
                (6..=30).contains(&count)
                    && !sentence.contains(['!', '?'])
                    && !sentence.contains("/10")
                    && !sentence.split_whitespace().any(|word| {
                        word.chars().filter(|c| c.is_alphabetic()).count() > 2
                            && word.chars().all(|c| !c.is_lowercase())
                    })
                    && !words.iter().any(|word| {
                        lexicon.contains(word.as_str())
                            || OPINION_TURNS.contains(&word.as_str())
                            || word.ends_with("n't")
                    })
            });
        if let Some(sentence) = plain {
            out.push(sentence.to_string());
        }
    }
    out
}

/// Row-wise softmax.
pub fn softmax_rows(mut logits: Array2<f32>) -> Array2<f32> {
    for mut row in logits.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|value| (value - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    logits
}

struct Adam {
    first: Array2<f32>,
    second: Array2<f32>,
}

impl Adam {
    fn new(shape: (usize, usize)) -> Adam {
        Adam {
            first: Array2::zeros(shape),
            second: Array2::zeros(shape),
        }
    }

    fn step(
        &mut self,
        params: &mut Array2<f32>,
        grad: &Array2<f32>,
        learning_rate: f32,
        step: usize,
    ) {
        const BETA1: f32 = 0.9;
        const BETA2: f32 = 0.999;
        const EPSILON: f32 = 1e-8;
        self.first = &self.first * BETA1 + grad * (1.0 - BETA1);
        self.second = &self.second * BETA2 + &(grad * grad) * (1.0 - BETA2);
        let correction1 = 1.0 - BETA1.powi(step as i32);
        let correction2 = 1.0 - BETA2.powi(step as i32);
        let update =
            (&self.first / correction1) / ((&self.second / correction2).mapv(f32::sqrt) + EPSILON);
        *params -= &(update * learning_rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_classes_are_learned() {
        // Three clusters along distinct axes.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for index in 0..90 {
            let class = index % 3;
            let mut row = vec![0.05 * ((index * 7 % 11) as f32 - 5.0); 3];
            row[class] += 1.0;
            rows.extend(row);
            labels.push(class);
        }
        let x = Array2::from_shape_vec((90, 3), rows).unwrap();
        let (weights, bias) = fit(
            &x,
            &labels,
            3,
            &TrainOptions {
                epochs: 300,
                ..Default::default()
            },
        );
        let mut logits = x.dot(&weights.t());
        logits += &bias;
        let predictions = softmax_rows(logits);
        for (row, &label) in labels.iter().enumerate() {
            let best = (0..3)
                .max_by(|&a, &b| predictions[[row, a]].total_cmp(&predictions[[row, b]]))
                .unwrap();
            assert_eq!(best, label);
        }
    }

    #[test]
    fn a_prior_head_is_kept_where_the_data_does_not_pull_and_moved_where_it_does() {
        // The prior calls feature 0 class 0 and feature 1 class 1; the data only says that
        // feature 2 is class 2.
        let prior_w = ndarray::arr2(&[[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]]);
        let prior_b = ndarray::arr1(&[0.0, 0.0, 0.0]);
        let x = ndarray::arr2(&[[0.0, 0.0, 1.0], [0.0, 0.0, 0.9]]);
        let y = [2, 2];
        let options = TrainOptions {
            l2: 0.01,
            ..Default::default()
        };
        let (weights, _) =
            fit_weighted(&x, &y, &[1.0, 1.0], 3, Some((&prior_w, &prior_b)), &options);
        assert!((weights[[0, 0]] - 4.0).abs() < 0.05, "{weights}");
        assert!((weights[[1, 1]] - 4.0).abs() < 0.05, "{weights}");
        assert!(weights[[2, 2]] > 1.0, "{weights}");
        // Without the prior the penalty pulls the untouched weights to zero.
        let (free, _) = fit_weighted(&x, &y, &[1.0, 1.0], 3, None, &options);
        assert!(free[[0, 0]].abs() < 0.05, "{free}");
    }

    #[test]
    fn balanced_weights_give_each_source_its_share_and_balance_its_classes() {
        let y = [0, 0, 0, 1, 1, 1, 1, 1];
        let groups = [0, 0, 0, 0, 1, 1, 1, 1];
        let weights = balanced_weights(&y, &groups, &[1.0, 0.5], 3);
        assert_eq!(&weights[..4], &[1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0, 0.5]);
        assert_eq!(&weights[4..], &[0.125; 4]);
    }

    #[test]
    fn plain_sentences_leave_out_opinions_questions_and_negations() {
        let lexicon: HashSet<String> = ["great", "boring", "love"]
            .iter()
            .map(|w| w.to_string())
            .collect();
        let reviews = [
            "A great film. It was shot in 1976 in a small town in Ohio. I love it.",
            "Is this the worst film ever made by anyone at all? It was not shot in Ohio at all, sadly.",
            "Boring. THE END was the best part of this whole thing for me and my friends.",
            "The sequel came out two years later with the same cast and crew.",
        ];
        let plain = plain_sentences(&reviews, &lexicon);
        assert_eq!(
            plain,
            [
                "It was shot in 1976 in a small town in Ohio.",
                "The sequel came out two years later with the same cast and crew."
            ]
        );
    }

    #[test]
    fn minority_class_is_not_ignored() {
        // 95 negatives and 5 positives, separable on one feature: balanced weights must keep recall.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for index in 0..100 {
            let positive = index < 5;
            rows.extend([if positive { 0.6 } else { 0.4 }, 1.0]);
            labels.push(usize::from(positive));
        }
        let x = Array2::from_shape_vec((100, 2), rows).unwrap();
        let (weights, bias) = fit(&x, &labels, 2, &TrainOptions::default());
        let mut logits = x.dot(&weights.t());
        logits += &bias;
        let predictions = softmax_rows(logits);
        assert!(predictions[[0, 1]] > 0.5, "minority class recalled");
        assert!(predictions[[50, 0]] > 0.5);
    }
}
