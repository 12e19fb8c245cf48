//! What a topic is and what it is called, for an analyst scanning the list: its kind (a subject,
//! or one author's spam, or a copy-paste flood) and a label that no other topic shares.
//!
//! - **Kind.** A topic in which one author wrote at least [`DOMINANT_SHARE`] of the comments is
//!   `spam`; one in which at least that share are exact copies of an earlier comment is `flood`.
//!   Either is still a topic (its comments are assigned and searchable), but it is marked as such in
//!   `topics.jsonl` and the report, and never joins a theme with real subjects.
//! - **Unique labels.** A label is the topic's first three key phrases. Topics are labelled in order
//!   of size (ties: id); when a label is taken, the topic's later key phrases replace its third,
//!   then its second, until the label is free; a topic whose key phrases run out gets its id
//!   appended (`topic ID` when it has none).

use std::collections::{BTreeMap, HashSet};

use super::TopicInput;
use crate::types::{Topic, TopicKind};

/// The share of a topic's comments that one author, or copies of one text, must reach for the topic
/// to be marked `spam` or `flood`.
pub const DOMINANT_SHARE: f64 = 0.5;

/// A topic needs this many comments to be judged spam or flood (a three-comment topic by one
/// author is a small subject, not a campaign).
const MIN_JUDGED: usize = 10;

/// The kind of a topic with members `rows` (indexes into `inputs`).
pub(crate) fn kind(inputs: &[TopicInput], rows: &[usize]) -> TopicKind {
    if rows.len() < MIN_JUDGED {
        return TopicKind::Subject;
    }
    let size = rows.len() as f64;
    let copies = rows.iter().filter(|&&row| inputs[row].duplicate).count();
    if copies as f64 >= DOMINANT_SHARE * size {
        return TopicKind::Flood;
    }
    let mut by_author: BTreeMap<&str, usize> = BTreeMap::new();
    for &row in rows {
        if let Some(author) = inputs[row].author {
            *by_author.entry(author).or_default() += 1;
        }
    }
    let top = by_author.values().copied().max().unwrap_or(0);
    if top as f64 >= DOMINANT_SHARE * size {
        return TopicKind::Spam;
    }
    TopicKind::Subject
}

/// Gives every topic a label no other topic has (see the module doc).
pub(crate) fn make_unique(topics: &mut [Topic]) {
    let mut order: Vec<usize> = (0..topics.len()).collect();
    order.sort_by(|&a, &b| {
        topics[b]
            .size
            .cmp(&topics[a].size)
            .then(topics[a].id.cmp(&topics[b].id))
    });
    let mut taken: HashSet<String> = HashSet::new();
    for index in order {
        let topic = &mut topics[index];
        let label = candidates(&topic.keywords)
            .find(|label| !taken.contains(label))
            .unwrap_or_else(|| match candidates(&topic.keywords).next() {
                Some(first) => format!("{first} #{}", topic.id),
                None => format!("topic {}", topic.id),
            });
        taken.insert(label.clone());
        topic.label = label;
    }
}

/// Labels from `keywords` in order of preference: the first three; then the first two with each
/// later phrase; then the first with each pair of later phrases.
fn candidates(keywords: &[String]) -> impl Iterator<Item = String> + '_ {
    let n = keywords.len();
    let join = |picked: &[usize]| {
        picked
            .iter()
            .map(|&i| keywords[i].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first = (n > 0).then(|| join(&(0..n.min(3)).collect::<Vec<_>>()));
    let third_replaced = (3..n).map(move |k| join(&[0, 1, k]));
    let second_replaced = (2..n).flat_map(move |j| (j + 1..n).map(move |k| join(&[0, j, k])));
    first
        .into_iter()
        .chain(third_replaced)
        .chain(second_replaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SentimentLabel;

    fn topic(id: u32, size: u64, keywords: &[&str]) -> Topic {
        Topic {
            size,
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            ..Topic::for_test(id, "")
        }
    }

    #[test]
    fn no_two_topics_share_a_label_and_the_larger_keeps_its_own() {
        let mut topics = vec![
            topic(
                27,
                40,
                &["crashed update", "works fine", "update works", "restart"],
            ),
            topic(
                51,
                90,
                &["crashed update", "works fine", "update works", "login"],
            ),
            topic(60, 10, &["crashed update", "works fine", "update works"]),
            topic(61, 5, &["crashed update", "works fine", "update works"]),
            topic(70, 3, &[]),
        ];
        make_unique(&mut topics);
        let labels: Vec<&str> = topics.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "crashed update, works fine, restart",
                "crashed update, works fine, update works",
                "crashed update, works fine, update works #60",
                "crashed update, works fine, update works #61",
                "topic 70",
            ]
        );
        let distinct: HashSet<&str> = labels.iter().copied().collect();
        assert_eq!(distinct.len(), labels.len());
    }

    fn input<'a>(id: &'a str, author: Option<&'a str>, duplicate: bool) -> TopicInput<'a> {
        TopicInput {
            id,
            text: "",
            lang: crate::types::Lang::En,
            embedding: &[],
            sentiment: SentimentLabel::Neutral,
            duplicate,
            author,
        }
    }

    #[test]
    fn one_author_or_one_copied_text_marks_the_topic() {
        let ids: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let authors: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
        let varied: Vec<TopicInput> = (0..20)
            .map(|i| input(&ids[i], Some(&authors[i]), false))
            .collect();
        let rows: Vec<usize> = (0..20).collect();
        assert_eq!(kind(&varied, &rows), TopicKind::Subject);
        // Eleven of twenty by one author.
        let spam: Vec<TopicInput> = (0..20)
            .map(|i| {
                input(
                    &ids[i],
                    Some(if i < 11 { "bot" } else { &authors[i] }),
                    false,
                )
            })
            .collect();
        assert_eq!(kind(&spam, &rows), TopicKind::Spam);
        // Ten of twenty are copies.
        let flood: Vec<TopicInput> = (0..20)
            .map(|i| input(&ids[i], Some(&authors[i]), i % 2 == 0))
            .collect();
        assert_eq!(kind(&flood, &rows), TopicKind::Flood);
        // Too small to judge.
        assert_eq!(kind(&spam, &rows[..5]), TopicKind::Subject);
    }
}
