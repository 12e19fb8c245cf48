//! Sentiment metrics: accuracy, macro-F1, macro-recall, per-class precision/recall, confusion matrix
//! and expected calibration error, and the majority-class baseline beside them. For rated texts
//! (star reviews), how labels agree with the stars is [`crate::sentiment::ratings`].

use serde::Serialize;

use crate::types::SentimentLabel;

/// One prediction to score.
#[derive(Clone, Copy, Debug)]
pub struct Scored {
    /// Gold label.
    pub gold: SentimentLabel,
    /// Class probabilities (negative, neutral, positive).
    pub probabilities: [f32; 3],
}

/// Per-class figures.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClassMetrics {
    /// The class.
    pub label: SentimentLabel,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Gold rows of this class.
    pub support: u64,
}

/// The metrics of one evaluation.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SentimentMetrics {
    /// Rows scored.
    pub rows: u64,
    /// True when the gold data has no neutral class; neutral predictions are then mapped to the more
    /// probable of negative and positive.
    pub binary: bool,
    /// Accuracy (= micro-F1 for single-label data).
    pub accuracy: f64,
    /// Macro-F1 over the gold classes present.
    pub macro_f1: f64,
    /// Macro-recall over the gold classes present.
    pub macro_recall: f64,
    /// Per-class figures (classes present in gold or predictions).
    pub classes: Vec<ClassMetrics>,
    /// `confusion[gold][predicted]`, classes in the order negative, neutral, positive.
    pub confusion: [[u64; 3]; 3],
    /// Expected calibration error of the chosen label's probability (10 equal-width bins).
    pub ece: f64,
}

/// The predicted class index for a row, with the binary mapping rule applied.
pub fn predicted_class(probabilities: [f32; 3], binary: bool) -> usize {
    if binary {
        return if probabilities[2] >= probabilities[0] {
            2
        } else {
            0
        };
    }
    let mut best = 0;
    for class in 1..3 {
        if probabilities[class] > probabilities[best] {
            best = class;
        }
    }
    best
}

fn class_index(label: SentimentLabel) -> usize {
    match label {
        SentimentLabel::Negative => 0,
        SentimentLabel::Neutral => 1,
        SentimentLabel::Positive => 2,
    }
}

/// Scores predictions against gold labels.
pub fn score(rows: &[Scored]) -> SentimentMetrics {
    let binary = !rows.iter().any(|row| row.gold == SentimentLabel::Neutral);
    let mut confusion = [[0u64; 3]; 3];
    let mut bins = [(0u64, 0f64, 0f64); 10];
    for row in rows {
        let predicted = predicted_class(row.probabilities, binary);
        let gold = class_index(row.gold);
        confusion[gold][predicted] += 1;
        let confidence = if binary {
            let pair = row.probabilities[0] + row.probabilities[2];
            f64::from(row.probabilities[predicted] / pair.max(1e-12))
        } else {
            f64::from(row.probabilities[predicted])
        };
        let bin = ((confidence * 10.0) as usize).min(9);
        bins[bin].0 += 1;
        bins[bin].1 += confidence;
        bins[bin].2 += f64::from(u8::from(predicted == gold));
    }
    let total = rows.len() as u64;
    let correct: u64 = (0..3).map(|class| confusion[class][class]).sum();
    let mut classes = Vec::new();
    let mut f1_sum = 0.0;
    let mut recall_sum = 0.0;
    let mut gold_classes = 0;
    for (class, gold_row) in confusion.iter().enumerate() {
        let support: u64 = gold_row.iter().sum();
        let predicted: u64 = (0..3).map(|gold| confusion[gold][class]).sum();
        if support == 0 && predicted == 0 {
            continue;
        }
        let hits = gold_row[class] as f64;
        let precision = if predicted > 0 {
            hits / predicted as f64
        } else {
            0.0
        };
        let recall = if support > 0 {
            hits / support as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if support > 0 {
            f1_sum += f1;
            recall_sum += recall;
            gold_classes += 1;
        }
        classes.push(ClassMetrics {
            label: SentimentLabel::ALL[class],
            precision,
            recall,
            f1,
            support,
        });
    }
    let ece = bins
        .iter()
        .filter(|bin| bin.0 > 0)
        .map(|&(count, confidence_sum, correct_sum)| {
            let count_f = count as f64;
            (count_f / total.max(1) as f64) * ((confidence_sum - correct_sum) / count_f).abs()
        })
        .sum();
    let divisor = f64::from(gold_classes.max(1));
    SentimentMetrics {
        rows: total,
        binary,
        accuracy: correct as f64 / total.max(1) as f64,
        macro_f1: f1_sum / divisor,
        macro_recall: recall_sum / divisor,
        classes,
        confusion,
        ece,
    }
}

/// The scores of always answering the gold data's most frequent class (ties: the first in the
/// order negative, neutral, positive): what a model has to beat.
pub fn majority_baseline(gold: &[SentimentLabel]) -> SentimentMetrics {
    let mut counts = [0u64; 3];
    for &label in gold {
        counts[class_index(label)] += 1;
    }
    let majority = (0..3).fold(0, |best, class| {
        if counts[class] > counts[best] {
            class
        } else {
            best
        }
    });
    let mut one_hot = [0f32; 3];
    one_hot[majority] = 1.0;
    let rows: Vec<Scored> = gold
        .iter()
        .map(|&gold| Scored {
            gold,
            probabilities: one_hot,
        })
        .collect();
    score(&rows)
}

/// The metrics as a readable text block.
pub fn render(metrics: &SentimentMetrics) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "rows {}{}\naccuracy {:.4}\nmacro_f1 {:.4}\nmacro_recall {:.4}\nece {:.4}\n",
        metrics.rows,
        if metrics.binary {
            " (binary gold: neutral predictions mapped to the more probable of negative/positive)"
        } else {
            ""
        },
        metrics.accuracy,
        metrics.macro_f1,
        metrics.macro_recall,
        metrics.ece
    ));
    out.push_str("class      precision recall  f1      support\n");
    for class in &metrics.classes {
        out.push_str(&format!(
            "{:<10} {:<9.4} {:<7.4} {:<7.4} {}\n",
            class.label.as_str(),
            class.precision,
            class.recall,
            class.f1,
            class.support
        ));
    }
    out.push_str("confusion (rows gold, columns predicted: negative neutral positive)\n");
    for (class, row) in metrics.confusion.iter().enumerate() {
        out.push_str(&format!(
            "{:<10} {:>7} {:>7} {:>7}\n",
            SentimentLabel::ALL[class].as_str(),
            row[0],
            row[1],
            row[2]
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(gold: SentimentLabel, probabilities: [f32; 3]) -> Scored {
        Scored {
            gold,
            probabilities,
        }
    }

    #[test]
    fn three_class_metrics_match_hand_computation() {
        use SentimentLabel::*;
        let rows = [
            scored(Negative, [0.8, 0.1, 0.1]),
            scored(Negative, [0.1, 0.8, 0.1]),
            scored(Neutral, [0.1, 0.8, 0.1]),
            scored(Positive, [0.1, 0.1, 0.8]),
        ];
        let metrics = score(&rows);
        assert!(!metrics.binary);
        assert_eq!(metrics.accuracy, 0.75);
        assert_eq!(metrics.confusion[0], [1, 1, 0]);
        // recalls: neg 0.5, neu 1, pos 1
        assert!((metrics.macro_recall - 2.5 / 3.0).abs() < 1e-9);
        // f1: neg 2/3, neu 2/3 (p 0.5, r 1), pos 1
        assert!((metrics.macro_f1 - (2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn majority_baseline_always_answers_the_most_frequent_class() {
        use SentimentLabel::*;
        let baseline = majority_baseline(&[Neutral, Neutral, Neutral, Negative, Positive]);
        assert_eq!(baseline.accuracy, 0.6);
        assert_eq!(baseline.confusion[0], [0, 1, 0]);
        // recalls 0, 1, 0; F1 of neutral 0.75, the others 0.
        assert!((baseline.macro_recall - 1.0 / 3.0).abs() < 1e-9);
        assert!((baseline.macro_f1 - 0.25).abs() < 1e-9);
    }

    #[test]
    fn binary_gold_maps_neutral_predictions() {
        use SentimentLabel::*;
        let rows = [
            scored(Negative, [0.3, 0.6, 0.1]),
            scored(Positive, [0.1, 0.6, 0.3]),
        ];
        let metrics = score(&rows);
        assert!(metrics.binary);
        assert_eq!(metrics.accuracy, 1.0);
        assert_eq!(metrics.confusion[1], [0, 0, 0]);
    }
}
