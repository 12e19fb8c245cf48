//! Topic descriptions: key phrases by class-based TF-IDF (BERTopic's c-TF-IDF) and representative
//! comments.
//!
//! A term is a content word's stem (unigram) or two adjacent content words' stems (bigram), counted
//! once per comment. A term's score in a topic is `tf * ln(1 + A / total_tf)`, where `tf` counts the
//! topic's comments with the term, `total_tf` counts them over all topics and `A` is the average
//! number of terms per topic. Each term is shown by its most frequent surface form in the topic.
//!
//! Near-duplicates are dropped while walking down the ranking: a phrase with the same stems (or the
//! same surface form) as a chosen one, a word that is part of a chosen two-word phrase, and a
//! two-word phrase whose words were already chosen alone unless it is at least half as frequent as
//! each of them, in which case it takes the place of those words.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::TopicInput;
use crate::text::{content_terms, normalize_for_dedup, strip_links, LangStemmer};

/// Key phrases and representative comment ids of one topic.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TopicDescription {
    /// Key phrases, best first.
    pub(crate) keywords: Vec<String>,
    /// Ids of representative comments, most typical first.
    pub(crate) representatives: Vec<String>,
}

/// One term of one comment: its key (stems, space separated) and its surface form (lowercase words).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TermOccurrence {
    key: String,
    surface: String,
}

/// The distinct terms of a comment (unigrams and bigrams of content terms), sorted by key; for a
/// term that occurs more than once, the first surface form is kept.
fn comment_terms(input: &TopicInput, stemmer: &LangStemmer) -> Vec<TermOccurrence> {
    let terms = content_terms(&strip_links(input.text), input.lang, stemmer);
    let mut occurrences: Vec<TermOccurrence> = Vec::with_capacity(terms.len() * 2);
    for (word, stem) in &terms {
        occurrences.push(TermOccurrence {
            key: stem.clone(),
            surface: word.clone(),
        });
    }
    for pair in terms.windows(2) {
        let (first_word, first_stem) = &pair[0];
        let (second_word, second_stem) = &pair[1];
        if first_stem == second_stem {
            continue;
        }
        occurrences.push(TermOccurrence {
            key: format!("{first_stem} {second_stem}"),
            surface: format!("{first_word} {second_word}"),
        });
    }
    // A stable sort keeps occurrences of one key in text order, so dedup keeps the first surface.
    occurrences.sort_by(|a, b| a.key.cmp(&b.key));
    occurrences.dedup_by(|later, earlier| later.key == earlier.key);
    occurrences
}

/// Describes each topic. `members[t]` lists the input indices of topic `t` (ascending);
/// `confidence[i]` is input `i`'s cosine to its topic's centroid.
pub(crate) fn describe(
    inputs: &[TopicInput],
    members: &[Vec<usize>],
    confidence: &[f32],
    keyword_count: usize,
    representative_count: usize,
) -> Vec<TopicDescription> {
    // Keywords come from the non-duplicate members; a topic made only of duplicates uses them all.
    let keyword_docs: Vec<Vec<usize>> = members
        .iter()
        .map(|topic_members| {
            let originals: Vec<usize> = topic_members
                .iter()
                .copied()
                .filter(|&index| !inputs[index].duplicate)
                .collect();
            if originals.is_empty() {
                topic_members.clone()
            } else {
                originals
            }
        })
        .collect();
    let flat_docs: Vec<usize> = keyword_docs.iter().flatten().copied().collect();
    let flat_terms: Vec<Vec<TermOccurrence>> = flat_docs
        .par_iter()
        .map_init(LangStemmer::default, |stemmer, &index| {
            comment_terms(&inputs[index], stemmer)
        })
        .collect();
    let mut per_topic_terms: Vec<&[Vec<TermOccurrence>]> = Vec::with_capacity(members.len());
    let mut offset = 0;
    for docs in &keyword_docs {
        per_topic_terms.push(&flat_terms[offset..offset + docs.len()]);
        offset += docs.len();
    }

    let mut total_tf: HashMap<&str, u64> = HashMap::new();
    let mut total_terms = 0u64;
    for doc in &flat_terms {
        for term in doc {
            *total_tf.entry(term.key.as_str()).or_insert(0) += 1;
            total_terms += 1;
        }
    }
    let average_terms_per_topic = total_terms as f64 / members.len().max(1) as f64;

    per_topic_terms
        .par_iter()
        .zip(members.par_iter())
        .map(|(docs, topic_members)| TopicDescription {
            keywords: topic_keywords(docs, &total_tf, average_terms_per_topic, keyword_count),
            representatives: representatives(
                inputs,
                topic_members,
                confidence,
                representative_count,
            ),
        })
        .collect()
}

/// The best `wanted` key phrases of one topic, near-duplicates dropped.
fn topic_keywords(
    docs: &[Vec<TermOccurrence>],
    total_tf: &HashMap<&str, u64>,
    average_terms_per_topic: f64,
    wanted: usize,
) -> Vec<String> {
    let mut tf: HashMap<&str, u64> = HashMap::new();
    let mut surfaces: HashMap<&str, HashMap<&str, u64>> = HashMap::new();
    for doc in docs {
        for term in doc {
            *tf.entry(term.key.as_str()).or_insert(0) += 1;
            *surfaces
                .entry(term.key.as_str())
                .or_default()
                .entry(term.surface.as_str())
                .or_insert(0) += 1;
        }
    }
    let mut ranked: Vec<(&str, f64)> = tf
        .iter()
        .map(|(&key, &count)| {
            let total = total_tf.get(key).copied().unwrap_or(count).max(1);
            let score = count as f64 * (1.0 + average_terms_per_topic / total as f64).ln();
            (key, score)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));

    let best_surface = |key: &str| -> String {
        surfaces
            .get(key)
            .and_then(|forms| {
                forms
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                    .map(|(form, _)| form.to_string())
            })
            .unwrap_or_else(|| key.to_string())
    };

    let mut chosen: Vec<Keyword> = Vec::new();
    for (key, _) in ranked {
        if chosen.len() >= wanted {
            break;
        }
        let mut stems: Vec<&str> = key.split(' ').collect();
        let term_tf = tf.get(key).copied().unwrap_or(0);
        let surface = best_surface(key);
        stems.sort_unstable();
        if chosen
            .iter()
            .any(|keyword| keyword.stems == stems || keyword.surface == surface)
        {
            continue;
        }
        if stems.len() == 1 {
            let covered = chosen
                .iter()
                .any(|keyword| keyword.stems.len() > 1 && keyword.stems.contains(&stems[0]));
            if !covered {
                chosen.push(Keyword {
                    stems,
                    surface,
                    tf: term_tf,
                });
            }
            continue;
        }
        // A phrase whose words were already chosen alone replaces them when it is frequent enough
        // (at least half as frequent as each); otherwise it repeats them and is left out.
        let covered: Vec<usize> = (0..chosen.len())
            .filter(|&position| {
                chosen[position].stems.len() == 1 && stems.contains(&chosen[position].stems[0])
            })
            .collect();
        if covered.is_empty() {
            chosen.push(Keyword {
                stems,
                surface,
                tf: term_tf,
            });
            continue;
        }
        if covered
            .iter()
            .any(|&position| term_tf * 2 < chosen[position].tf)
        {
            continue;
        }
        let first = covered[0];
        for &position in covered.iter().rev() {
            chosen.remove(position);
        }
        chosen.insert(
            first,
            Keyword {
                stems,
                surface,
                tf: term_tf,
            },
        );
    }
    chosen.into_iter().map(|keyword| keyword.surface).collect()
}

/// A chosen key phrase: its sorted stems, surface form and document frequency in the topic.
struct Keyword<'t> {
    stems: Vec<&'t str>,
    surface: String,
    tf: u64,
}

/// Up to `wanted` member ids closest to the centroid, skipping duplicates and repeated normalised
/// texts. A topic made only of duplicates falls back to them.
fn representatives(
    inputs: &[TopicInput],
    members: &[usize],
    confidence: &[f32],
    wanted: usize,
) -> Vec<String> {
    let mut by_closeness: Vec<usize> = members.to_vec();
    by_closeness.sort_by(|&a, &b| confidence[b].total_cmp(&confidence[a]).then(a.cmp(&b)));
    let pick = |allow_duplicates: bool| -> Vec<String> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut chosen = Vec::new();
        for &index in &by_closeness {
            if chosen.len() >= wanted {
                break;
            }
            if inputs[index].duplicate && !allow_duplicates {
                continue;
            }
            if seen.insert(normalize_for_dedup(inputs[index].text)) {
                chosen.push(inputs[index].id.to_string());
            }
        }
        chosen
    };
    let chosen = pick(false);
    if chosen.is_empty() {
        pick(true)
    } else {
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Lang, SentimentLabel};

    fn input<'a>(id: &'a str, text: &'a str, duplicate: bool) -> TopicInput<'a> {
        TopicInput {
            id,
            text,
            lang: Lang::En,
            embedding: &[],
            sentiment: SentimentLabel::Neutral,
            duplicate,
            author: None,
        }
    }

    #[test]
    fn terms_are_counted_once_per_comment_with_bigrams() {
        let stemmer = LangStemmer::default();
        let terms = comment_terms(
            &input("a", "Battery drains, battery drains!", false),
            &stemmer,
        );
        let keys: Vec<&str> = terms.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["batteri", "batteri drain", "drain", "drain batteri"]
        );
        assert_eq!(terms[0].surface, "battery");
    }

    #[test]
    fn bigram_covers_its_unigrams_and_reversed_phrases_are_dropped() {
        let texts = [
            "battery drains",
            "battery drains fast",
            "the battery drains overnight",
            "drains battery",
            "screen cracked",
            "screen cracked again",
        ];
        let inputs: Vec<TopicInput> = texts.iter().map(|t| input("x", t, false)).collect();
        let members = vec![vec![0, 1, 2, 3], vec![4, 5]];
        let described = describe(&inputs, &members, &[1.0; 6], 8, 2);
        let battery = &described[0].keywords;
        assert_eq!(battery[0], "battery drains");
        assert!(!battery.contains(&"battery".to_string()));
        assert!(!battery.contains(&"drains".to_string()));
        assert!(!battery.contains(&"drains battery".to_string()));
        assert_eq!(described[1].keywords[0], "screen cracked");
    }

    #[test]
    fn most_frequent_surface_form_is_shown() {
        let texts = [
            "Batteries drain",
            "batteries drain",
            "battery drains",
            "screen broke",
        ];
        let inputs: Vec<TopicInput> = texts.iter().map(|t| input("x", t, false)).collect();
        let described = describe(&inputs, &[vec![0, 1, 2], vec![3]], &[1.0; 4], 8, 2);
        assert_eq!(described[0].keywords[0], "batteries drain");
    }

    #[test]
    fn duplicates_do_not_count_and_representatives_are_distinct() {
        let inputs = vec![
            input("a", "delivery late", false),
            input("b", "Delivery late!", false),
            input("c", "parcel lost", false),
            input("d", "refund now", true),
            input("e", "refund now", true),
        ];
        let confidence = [0.9, 0.95, 0.5, 0.99, 0.99];
        let described = describe(&inputs, &[vec![0, 1, 2, 3, 4]], &confidence, 8, 5);
        assert!(!described[0].keywords.iter().any(|k| k.contains("refund")));
        assert_eq!(described[0].representatives, vec!["b", "c"]);
    }
}
