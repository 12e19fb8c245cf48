//! Steps 5-7 of clustering ([`finish`]), on what [`fit`](super::fit::fit) left: each comment's
//! confidence, the topics' labels, key phrases, representatives and sentiment, and the themes.

use std::collections::BTreeMap;

use super::fit::Fitted;
use super::kmeans::dot;
use super::{
    keywords, labels, themes, Assignment, TopicInput, TopicState, TopicsConfig, TopicsResult,
};
use crate::types::{SentimentCounts, Topic, TopicId, TopicKind};

/// Steps 5-7 on a fit: confidences, labels and representatives, themes.
pub(super) fn finish(inputs: &[TopicInput], fitted: Fitted, config: &TopicsConfig) -> TopicsResult {
    let Fitted {
        matrix,
        slot_of,
        topics,
        next_id,
        merges,
        offset,
    } = fitted;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); topics.len()];
    for (row, slot) in slot_of.iter().enumerate() {
        if let Some(slot) = *slot {
            members[slot].push(row);
        }
    }
    let mut confidence = vec![0.0f32; inputs.len()];
    let assignments: Vec<Option<Assignment>> = slot_of
        .iter()
        .enumerate()
        .map(|(row, slot)| {
            slot.map(|slot| {
                let similarity = dot(matrix.row(row), &topics[slot].centroid);
                confidence[row] = similarity;
                Assignment {
                    topic: topics[slot].id,
                    confidence: similarity,
                }
            })
        })
        .collect();

    // 5. Labels of the topics that have members.
    let listed: Vec<usize> = (0..topics.len())
        .filter(|&slot| !members[slot].is_empty())
        .collect();
    let listed_members: Vec<Vec<usize>> =
        listed.iter().map(|&slot| members[slot].clone()).collect();
    let descriptions = keywords::describe(
        inputs,
        &listed_members,
        &confidence,
        config.keywords,
        config.representatives,
    );
    let mut described: Vec<Topic> = listed
        .iter()
        .zip(descriptions)
        .map(|(&slot, description)| {
            let mut sentiment = SentimentCounts::default();
            for &row in &members[slot] {
                sentiment.add(inputs[row].sentiment);
            }
            Topic {
                id: topics[slot].id,
                label: String::new(),
                kind: labels::kind(inputs, &members[slot]),
                keywords: description.keywords,
                size: topics[slot].size,
                sentiment,
                representatives: description.representatives,
                theme: None,
                known_from: topics[slot].known_from,
            }
        })
        .collect();
    described.sort_by_key(|topic| topic.id);
    labels::make_unique(&mut described);

    // 6. Themes over the listed topics.
    let centroid_of: BTreeMap<TopicId, &[f32]> = topics
        .iter()
        .map(|topic| (topic.id, topic.centroid.as_slice()))
        .collect();
    // Spam and floods are not subjects: they never group real topics into their theme.
    let theme_inputs: Vec<themes::ThemeInput> = described
        .iter()
        .filter(|topic| topic.kind == TopicKind::Subject)
        .map(|topic| themes::ThemeInput {
            id: topic.id,
            centroid: centroid_of[&topic.id],
            size: topic.size,
            keywords: &topic.keywords,
        })
        .collect();
    let themes = themes::themes(&theme_inputs, config.theme_similarity);
    drop(theme_inputs);
    let theme_of: BTreeMap<TopicId, TopicId> = themes
        .iter()
        .flat_map(|theme| theme.topics.iter().map(move |&topic| (topic, theme.id)))
        .collect();
    for topic in &mut described {
        topic.theme = theme_of.get(&topic.id).copied();
    }
    TopicsResult {
        assignments,
        topics: described,
        state: TopicState {
            next_id,
            topics,
            run: 0,
            through: None,
            comments: inputs.len() as u64,
            encoder: None,
            offset,
        },
        merges,
        themes,
    }
}
