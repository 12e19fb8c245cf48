//! How sentiment labels agree with a rating column (star reviews): per rating value, the share of
//! texts labelled negative, neutral and positive, and the two shares that show disagreement at a
//! glance (the top rating labelled negative, the bottom rating labelled positive). `analyze` puts it
//! in the report when comments carry ratings; `xsignal eval sentiment` prints it for any rated file.

use serde::Serialize;

use crate::types::SentimentLabel;

fn class_index(label: SentimentLabel) -> usize {
    SentimentLabel::ALL
        .iter()
        .position(|&l| l == label)
        .expect("a label is one of the three")
}

/// Predicted labels of the texts with one rating value.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RatingCounts {
    /// The rating (for example stars, 1 to 5).
    pub rating: f64,
    /// Texts with this rating.
    pub rows: u64,
    /// Of them labelled negative, neutral, positive.
    pub labelled: [u64; 3],
}

/// How predicted labels agree with a rating column: per rating value, and the two shares that
/// show disagreement at a glance.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RatingAgreement {
    /// One entry per rating value, ascending.
    pub ratings: Vec<RatingCounts>,
    /// Share of the texts with the highest rating that are labelled negative.
    pub top_labelled_negative: f64,
    /// Share of the texts with the lowest rating that are labelled positive.
    pub bottom_labelled_positive: f64,
}

/// Counts predicted labels per rating value (`None` when no text has a rating).
pub fn agreement(rows: &[(f64, SentimentLabel)]) -> Option<RatingAgreement> {
    let mut by_rating: Vec<RatingCounts> = Vec::new();
    let mut sorted: Vec<(f64, SentimentLabel)> = rows
        .iter()
        .filter(|(r, _)| r.is_finite())
        .copied()
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (rating, label) in sorted {
        match by_rating.last_mut() {
            Some(last) if last.rating == rating => {
                last.rows += 1;
                last.labelled[class_index(label)] += 1;
            }
            _ => {
                let mut labelled = [0; 3];
                labelled[class_index(label)] += 1;
                by_rating.push(RatingCounts {
                    rating,
                    rows: 1,
                    labelled,
                });
            }
        }
    }
    let share = |counts: &RatingCounts, class: usize| {
        counts.labelled[class] as f64 / counts.rows.max(1) as f64
    };
    let top = by_rating.last()?;
    let bottom = by_rating.first()?;
    Some(RatingAgreement {
        top_labelled_negative: share(top, 0),
        bottom_labelled_positive: share(bottom, 2),
        ratings: by_rating.clone(),
    })
}

/// The agreement as a Markdown table (readable on a terminal too) and a closing line.
pub fn render(agreement: &RatingAgreement) -> String {
    let mut out =
        String::from("| rating | texts | negative | neutral | positive |\n|---|---|---|---|---|\n");
    for counts in &agreement.ratings {
        let share = |class: usize| 100.0 * counts.labelled[class] as f64 / counts.rows as f64;
        out.push_str(&format!(
            "| {} | {} | {:.1} % | {:.1} % | {:.1} % |\n",
            counts.rating,
            counts.rows,
            share(0),
            share(1),
            share(2)
        ));
    }
    if let (Some(top), Some(bottom)) = (agreement.ratings.last(), agreement.ratings.first()) {
        out.push_str(&format!(
            "\nrated {} labelled negative {:.1} %; rated {} labelled positive {:.1} %\n",
            top.rating,
            100.0 * agreement.top_labelled_negative,
            bottom.rating,
            100.0 * agreement.bottom_labelled_positive
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_agreement_counts_labels_per_rating() {
        use SentimentLabel::*;
        let rows = [
            (5.0, Positive),
            (5.0, Negative),
            (5.0, Positive),
            (5.0, Neutral),
            (1.0, Negative),
            (1.0, Positive),
            (3.0, Neutral),
            (f64::NAN, Positive),
        ];
        let counted = agreement(&rows).unwrap();
        assert_eq!(counted.ratings.len(), 3);
        assert_eq!(counted.ratings[0].rating, 1.0);
        assert_eq!(counted.ratings[2].labelled, [1, 1, 2]);
        assert_eq!(counted.top_labelled_negative, 0.25);
        assert_eq!(counted.bottom_labelled_positive, 0.5);
        assert!(render(&counted).contains("rated 5 labelled negative 25.0 %"));
        assert!(agreement(&[]).is_none());
    }
}
