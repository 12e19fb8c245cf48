//! Clustering quality metrics: agreement with gold labels (NMI, ARI) and key-phrase quality (NPMI
//! coherence, topic diversity).
//!
//! Predicted `None` (an outlier) is treated as one more cluster of its own, as BERTopic's `-1` topic is.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Keywords per topic used by [`npmi_coherence`].
const COHERENCE_TOP_N: usize = 10;

/// Contingency counts of two labelings: cell counts, row (gold) sums, column (predicted) sums.
struct Contingency {
    cells: Vec<u64>,
    gold_sums: Vec<u64>,
    predicted_sums: Vec<u64>,
    total: u64,
}

fn contingency(gold: &[usize], predicted: &[Option<u32>]) -> Contingency {
    assert_eq!(
        gold.len(),
        predicted.len(),
        "gold and predicted labelings differ in length"
    );
    let mut gold_index: BTreeMap<usize, usize> = BTreeMap::new();
    let mut predicted_index: BTreeMap<Option<u32>, usize> = BTreeMap::new();
    for &label in gold {
        let next = gold_index.len();
        gold_index.entry(label).or_insert(next);
    }
    for &label in predicted {
        let next = predicted_index.len();
        predicted_index.entry(label).or_insert(next);
    }
    let columns = predicted_index.len();
    let mut cells = vec![0u64; gold_index.len() * columns];
    let mut gold_sums = vec![0u64; gold_index.len()];
    let mut predicted_sums = vec![0u64; columns];
    for (label, cluster) in gold.iter().zip(predicted) {
        let row = gold_index[label];
        let column = predicted_index[cluster];
        cells[row * columns + column] += 1;
        gold_sums[row] += 1;
        predicted_sums[column] += 1;
    }
    Contingency {
        cells,
        gold_sums,
        predicted_sums,
        total: gold.len() as u64,
    }
}

fn entropy(sums: &[u64], total: f64) -> f64 {
    sums.iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = count as f64 / total;
            -p * p.ln()
        })
        .sum()
}

/// Normalised mutual information between gold labels and predicted clusters, normalised by the
/// arithmetic mean of the two entropies (scikit-learn's default). 1 for identical partitions (also
/// when both have a single cluster), 0 for independent ones.
///
/// # Panics
/// When the two slices differ in length.
pub fn nmi(gold: &[usize], predicted: &[Option<u32>]) -> f64 {
    let table = contingency(gold, predicted);
    let classes = table.gold_sums.len();
    let clusters = table.predicted_sums.len();
    if (classes == 1 && clusters == 1) || (classes == 0 && clusters == 0) {
        return 1.0;
    }
    let total = table.total as f64;
    let mut mutual_information = 0.0;
    for (row, &gold_sum) in table.gold_sums.iter().enumerate() {
        for (column, &predicted_sum) in table.predicted_sums.iter().enumerate() {
            let count = table.cells[row * clusters + column];
            if count == 0 {
                continue;
            }
            let joint = count as f64 / total;
            mutual_information +=
                joint * ((count as f64 * total) / (gold_sum as f64 * predicted_sum as f64)).ln();
        }
    }
    let gold_entropy = entropy(&table.gold_sums, total);
    let predicted_entropy = entropy(&table.predicted_sums, total);
    let normaliser = (gold_entropy + predicted_entropy) / 2.0;
    if mutual_information <= 0.0 || normaliser <= 0.0 {
        return 0.0;
    }
    (mutual_information / normaliser).min(1.0)
}

/// Adjusted Rand index between gold labels and predicted clusters (scikit-learn's pair-counting
/// formula): 1 for identical partitions, about 0 for independent ones, negative when worse than chance.
///
/// # Panics
/// When the two slices differ in length.
pub fn ari(gold: &[usize], predicted: &[Option<u32>]) -> f64 {
    let table = contingency(gold, predicted);
    let total = table.total as f64;
    let squares = |values: &[u64]| values.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
    let sum_squares = squares(&table.cells);
    // Pair confusion matrix: pairs together in both, in predicted only, in gold only, in neither.
    let together_both = sum_squares - total;
    let predicted_only = squares(&table.predicted_sums) - sum_squares;
    let gold_only = squares(&table.gold_sums) - sum_squares;
    let neither = total * total - predicted_only - gold_only - sum_squares;
    if predicted_only == 0.0 && gold_only == 0.0 {
        return 1.0;
    }
    let numerator = 2.0 * (together_both * neither - gold_only * predicted_only);
    let denominator = (together_both + gold_only) * (gold_only + neither)
        + (together_both + predicted_only) * (predicted_only + neither);
    if denominator == 0.0 {
        return 0.0;
    }
    numerator / denominator
}

/// Mean NPMI coherence of the topics' top 10 keywords over `docs` (each document's set of terms,
/// normalised as the keywords are): the mean over topics of the mean NPMI over keyword pairs. A pair
/// that never co-occurs counts as -1; a pair that occurs in every document counts as 1. Topics with
/// fewer than two keywords are skipped; 0 when no topic has a pair.
pub fn npmi_coherence(topic_keywords: &[Vec<String>], docs: &[Vec<String>]) -> f64 {
    let wanted: HashSet<&str> = topic_keywords
        .iter()
        .flat_map(|keywords| keywords.iter().take(COHERENCE_TOP_N))
        .map(String::as_str)
        .collect();
    // Documents containing each wanted keyword (ascending, each once).
    let mut postings: HashMap<&str, Vec<usize>> = HashMap::new();
    for (doc_index, doc) in docs.iter().enumerate() {
        let distinct: HashSet<&str> = doc
            .iter()
            .map(String::as_str)
            .filter(|term| wanted.contains(term))
            .collect();
        for term in distinct {
            postings.entry(term).or_default().push(doc_index);
        }
    }
    let doc_count = docs.len() as f64;
    let mut topic_scores = Vec::new();
    for keywords in topic_keywords {
        let top: Vec<&str> = keywords
            .iter()
            .take(COHERENCE_TOP_N)
            .map(String::as_str)
            .collect();
        let mut pair_scores = Vec::new();
        for (position, first) in top.iter().enumerate() {
            for second in &top[position + 1..] {
                let empty = Vec::new();
                let first_docs = postings.get(first).unwrap_or(&empty);
                let second_docs = postings.get(second).unwrap_or(&empty);
                let joint = intersection_size(first_docs, second_docs);
                pair_scores.push(npmi(
                    first_docs.len() as f64 / doc_count,
                    second_docs.len() as f64 / doc_count,
                    joint as f64 / doc_count,
                ));
            }
        }
        if !pair_scores.is_empty() {
            topic_scores.push(pair_scores.iter().sum::<f64>() / pair_scores.len() as f64);
        }
    }
    if topic_scores.is_empty() {
        return 0.0;
    }
    topic_scores.iter().sum::<f64>() / topic_scores.len() as f64
}

/// NPMI of two terms from their document probabilities and their joint probability.
fn npmi(first: f64, second: f64, joint: f64) -> f64 {
    if joint.is_nan() || joint <= 0.0 {
        return -1.0;
    }
    if joint >= 1.0 {
        return 1.0;
    }
    ((joint / (first * second)).ln() / -joint.ln()).clamp(-1.0, 1.0)
}

/// Size of the intersection of two ascending lists.
fn intersection_size(first: &[usize], second: &[usize]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < first.len() && j < second.len() {
        match first[i].cmp(&second[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// Topic diversity (Dieng et al. 2020): distinct keywords among each topic's top `top_n`, divided by
/// the number of keywords looked at (topics × `top_n` when every topic has that many). 1 means no
/// keyword is shared; 0 when there are no keywords.
pub fn topic_diversity(topic_keywords: &[Vec<String>], top_n: usize) -> f64 {
    let mut distinct: HashSet<&str> = HashSet::new();
    let mut looked_at = 0usize;
    for keywords in topic_keywords {
        for keyword in keywords.iter().take(top_n) {
            distinct.insert(keyword.as_str());
            looked_at += 1;
        }
    }
    if looked_at == 0 {
        return 0.0;
    }
    distinct.len() as f64 / looked_at as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn identical_partitions_score_one_whatever_the_names() {
        let gold = [0, 0, 1, 1, 2, 2];
        let predicted = [Some(7), Some(7), Some(3), Some(3), None, None];
        assert!(close(nmi(&gold, &predicted), 1.0));
        assert!(close(ari(&gold, &predicted), 1.0));
        assert!(close(nmi(&[0, 0], &[Some(1), Some(1)]), 1.0));
        assert!(close(nmi(&[], &[]), 1.0));
    }

    #[test]
    fn small_example_matches_hand_computation() {
        // sklearn: nmi([0,0,1,1],[0,0,1,2]) = 0.8 and ari(...) = 0.5714285714285715.
        // By hand: MI = ln 2, H(gold) = ln 2, H(pred) = 1.5 ln 2, NMI = ln2 / 1.25 ln2 = 0.8;
        // pairs: index = 1, expected = 2*1/6 = 1/3, max = 1.5, ARI = (2/3)/(7/6) = 4/7.
        let gold = [0, 0, 1, 1];
        let predicted = [Some(0), Some(0), Some(1), Some(2)];
        assert!(close(nmi(&gold, &predicted), 0.8));
        assert!(close(ari(&gold, &predicted), 4.0 / 7.0));
    }

    #[test]
    fn outliers_form_their_own_cluster() {
        // The None cluster {2, 3} equals gold class 1: a perfect match.
        let gold = [0, 0, 1, 1];
        assert!(close(ari(&gold, &[Some(5), Some(5), None, None]), 1.0));
        // All predicted None: one cluster, no information.
        assert!(close(nmi(&gold, &[None; 4]), 0.0));
        assert!(close(ari(&gold, &[None; 4]), 0.0));
    }

    #[test]
    fn independent_labels_give_ari_near_zero() {
        // Gold alternates with period 2, prediction with period 3 over 600 items: independent.
        let gold: Vec<usize> = (0..600).map(|i| i % 2).collect();
        let predicted: Vec<Option<u32>> = (0..600).map(|i| Some((i / 2 % 3) as u32)).collect();
        assert!(ari(&gold, &predicted).abs() < 0.01);
        assert!(nmi(&gold, &predicted) < 0.01);
        // sklearn: ari([0,0,1,1],[0,1,0,1]) = -0.5.
        assert!(close(
            ari(&[0, 0, 1, 1], &[Some(0), Some(1), Some(0), Some(1)]),
            -0.5
        ));
    }

    #[test]
    fn npmi_coherence_by_hand() {
        let docs = vec![
            words(&["battery", "drain"]),
            words(&["battery", "drain"]),
            words(&["delivery"]),
            words(&["delivery", "late", "battery"]),
        ];
        // battery/drain: p = 3/4, 2/4, joint 2/4: ln((1/2)/(3/8)) / -ln(1/2) = ln(4/3)/ln 2.
        let expected = (4.0f64 / 3.0).ln() / 2.0f64.ln();
        let score = npmi_coherence(&[words(&["battery", "drain"])], &docs);
        assert!(close(score, expected), "{score}");
        // drain/late never co-occur: -1. Mean over two topics.
        let two = npmi_coherence(
            &[words(&["battery", "drain"]), words(&["drain", "late"])],
            &docs,
        );
        assert!(close(two, (expected - 1.0) / 2.0));
        assert!(close(npmi_coherence(&[words(&["only"])], &docs), 0.0));
    }

    #[test]
    fn diversity_counts_shared_keywords_once() {
        let topics = vec![words(&["a", "b", "c"]), words(&["a", "d", "e"])];
        assert!(close(topic_diversity(&topics, 3), 5.0 / 6.0));
        assert!(close(topic_diversity(&topics, 1), 0.5));
        assert!(close(topic_diversity(&[], 5), 0.0));
    }
}
