//! The topic hierarchy: topics merge into themes, so an analyst can zoom out.
//!
//! Agglomerative clustering of the topic centroids: each topic starts as its own theme; the two
//! themes whose centroids (size-weighted mean of their topics' centroids, normalised) are most
//! similar merge, until no pair reaches `theme_similarity`. With at most a few hundred topics this is
//! instant, and it needs no comment-level matrix. Ties break by the smaller topic ids, so the result
//! is deterministic.

use serde::{Deserialize, Serialize};

use super::kmeans::dot;
use crate::types::TopicId;

/// A group of related topics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Theme {
    /// The smallest id of its topics (stable while that topic stays in it).
    pub id: TopicId,
    /// The first key phrase of each of its largest topics (up to three, without repeats).
    pub label: String,
    /// Its topics, largest first (ties: smaller id).
    pub topics: Vec<TopicId>,
    /// Comments in its topics.
    pub size: u64,
}

/// One topic as the hierarchy sees it.
pub struct ThemeInput<'a> {
    /// Topic id.
    pub id: TopicId,
    /// Unit-length centroid.
    pub centroid: &'a [f32],
    /// Members.
    pub size: u64,
    /// Key phrases, best first.
    pub keywords: &'a [String],
}

struct Group {
    topics: Vec<usize>,
    sum: Vec<f32>,
    unit: Vec<f32>,
}

fn unit(sum: &[f32]) -> Vec<f32> {
    let norm = dot(sum, sum).sqrt();
    if norm > 0.0 {
        sum.iter().map(|v| v / norm).collect()
    } else {
        sum.to_vec()
    }
}

/// Groups `topics` into themes; returns them sorted by id.
pub fn themes(topics: &[ThemeInput], min_similarity: f64) -> Vec<Theme> {
    let mut groups: Vec<Option<Group>> = topics
        .iter()
        .enumerate()
        .map(|(index, topic)| {
            let weight = topic.size.max(1) as f32;
            let sum: Vec<f32> = topic.centroid.iter().map(|v| v * weight).collect();
            Some(Group {
                topics: vec![index],
                unit: unit(&sum),
                sum,
            })
        })
        .collect();
    let n = groups.len();
    let mut similarity = vec![f32::NEG_INFINITY; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (groups[i].as_ref(), groups[j].as_ref());
            similarity[i * n + j] = dot(&a.expect("live").unit, &b.expect("live").unit);
        }
    }
    loop {
        let mut best: Option<(usize, usize, f32)> = None;
        for i in 0..n {
            if groups[i].is_none() {
                continue;
            }
            for j in i + 1..n {
                if groups[j].is_none() {
                    continue;
                }
                let s = similarity[i * n + j];
                if best.is_none_or(|(_, _, b)| s > b) {
                    best = Some((i, j, s));
                }
            }
        }
        let Some((i, j, s)) = best else { break };
        if (s as f64) < min_similarity {
            break;
        }
        let absorbed = groups[j].take().expect("live");
        let group = groups[i].as_mut().expect("live");
        group.topics.extend(absorbed.topics);
        for (total, v) in group.sum.iter_mut().zip(&absorbed.sum) {
            *total += v;
        }
        group.unit = unit(&group.sum);
        for k in 0..n {
            if k == i || groups[k].is_none() {
                continue;
            }
            let value = dot(
                &groups[i].as_ref().expect("live").unit,
                &groups[k].as_ref().expect("live").unit,
            );
            let (a, b) = if k < i { (k, i) } else { (i, k) };
            similarity[a * n + b] = value;
        }
    }
    let mut out: Vec<Theme> = groups
        .into_iter()
        .flatten()
        .map(|group| {
            let mut members: Vec<&ThemeInput> =
                group.topics.iter().map(|&index| &topics[index]).collect();
            members.sort_by_key(|topic| (std::cmp::Reverse(topic.size), topic.id));
            let mut phrases: Vec<&str> = Vec::new();
            for topic in &members {
                if let Some(first) = topic.keywords.first() {
                    if !phrases.contains(&first.as_str()) && phrases.len() < 3 {
                        phrases.push(first);
                    }
                }
            }
            let id = members.iter().map(|topic| topic.id).min().unwrap_or(0);
            Theme {
                id,
                label: if phrases.is_empty() {
                    format!("theme {id}")
                } else {
                    phrases.join(" / ")
                },
                topics: members.iter().map(|topic| topic.id).collect(),
                size: members.iter().map(|topic| topic.size).sum(),
            }
        })
        .collect();
    out.sort_by_key(|theme| theme.id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_topics_join_and_far_ones_stay_apart() {
        let a = [1.0, 0.0, 0.0];
        let b = [0.9, (1.0f32 - 0.81).sqrt(), 0.0];
        let c = [0.0, 0.0, 1.0];
        let words = |w: &str| vec![w.to_string()];
        let (wa, wb, wc) = (words("delivery"), words("courier"), words("refund"));
        let topics = [
            ThemeInput {
                id: 3,
                centroid: &a,
                size: 10,
                keywords: &wa,
            },
            ThemeInput {
                id: 7,
                centroid: &b,
                size: 30,
                keywords: &wb,
            },
            ThemeInput {
                id: 5,
                centroid: &c,
                size: 4,
                keywords: &wc,
            },
        ];
        let themes = themes(&topics, 0.5);
        assert_eq!(themes.len(), 2);
        assert_eq!(themes[0].id, 3);
        assert_eq!(themes[0].topics, vec![7, 3]);
        assert_eq!(themes[0].label, "courier / delivery");
        assert_eq!(themes[0].size, 40);
        assert_eq!(themes[1].topics, vec![5]);
        // A threshold above every similarity leaves each topic its own theme.
        assert_eq!(super::themes(&topics, 0.99).len(), 3);
    }
}
