//! Training of the sentiment head (`xsignal train sentiment`): softmax regression with class-balanced
//! weights and L2 regularisation, fitted by full-batch Adam on frozen sentence embeddings.
//!
//! Hand-written because it is forty lines of ndarray: a machine-learning crate would add a large
//! dependency for one convex fit. The fit is deterministic (no sampling).

use ndarray::{Array1, Array2, Axis};

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
    let (rows, dim) = x.dim();
    assert_eq!(rows, y.len(), "one label per row");
    let mut counts = vec![0usize; classes];
    for &label in y {
        counts[label] += 1;
    }
    let present = counts.iter().filter(|&&count| count > 0).count().max(1) as f32;
    let sample_weight: Array1<f32> = y
        .iter()
        .map(|&label| rows as f32 / (present * counts[label] as f32))
        .collect();
    let weight_sum: f32 = sample_weight.sum();
    let mut targets = Array2::<f32>::zeros((rows, classes));
    for (row, &label) in y.iter().enumerate() {
        targets[[row, label]] = 1.0;
    }

    let mut weights = Array2::<f32>::zeros((classes, dim));
    let mut bias = Array1::<f32>::zeros(classes);
    let mut adam_w = Adam::new((classes, dim));
    let mut adam_b = Adam::new((1, classes));
    for step in 1..=options.epochs {
        let mut logits = x.dot(&weights.t());
        logits += &bias;
        let probabilities = softmax_rows(logits);
        let mut residual = probabilities - &targets;
        residual *= &sample_weight.view().insert_axis(Axis(1));
        residual /= weight_sum;
        let grad_w = residual.t().dot(x) + &(&weights * options.l2);
        let grad_b = residual.sum_axis(Axis(0));
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
