//! Topic sentiment, and the per-comment inputs of this stage built from the earlier stages'
//! outputs: [`inputs`] pairs each stored comment with its embedding, sentiment and duplicate flag;
//! [`sentiment_units`] and [`sentence_sentiment`] count a multi-sentence comment's sentences for the
//! topics they are about.

use rayon::prelude::*;

use super::fit::recentre_into;
use super::{Assignment, TopicCentroid, TopicInput, TopicState};
use crate::sentiment::sentences::Scored;
use crate::types::{Comment, SentimentCounts, SentimentLabel, Topic, TopicId};

/// One [`TopicInput`] per comment: its embedding (`embeddings`, parallel to `comments`), sentiment
/// label and whether it is an exact duplicate of an earlier comment.
pub fn inputs<'a>(
    comments: &'a [Comment],
    embeddings: &[&'a [f32]],
    scored: &[Scored],
    duplicate_of: &[Option<usize>],
) -> Vec<TopicInput<'a>> {
    comments
        .iter()
        .zip(embeddings)
        .zip(scored)
        .zip(duplicate_of)
        .map(|(((comment, &embedding), scored), duplicate)| TopicInput {
            id: &comment.id,
            text: &comment.text,
            lang: comment.lang,
            embedding,
            sentiment: scored.sentiment.label,
            duplicate: duplicate.is_some(),
            author: comment.author.as_deref(),
        })
        .collect()
}

/// The units [`sentence_sentiment`] counts: each sentence of a multi-sentence comment with its
/// topic-encoder vector (`sentence_vectors`: one per sentence of the multi-sentence comments, in
/// order), each single-sentence comment whole; both carry their comment's topic.
pub fn sentiment_units<'v>(
    scored: &[Scored],
    assignments: &[Option<Assignment>],
    sentence_vectors: &[&'v [f32]],
) -> Vec<SentimentUnit<'v>> {
    let mut vectors = sentence_vectors.iter();
    let mut units = Vec::with_capacity(scored.len());
    for (scored, assignment) in scored.iter().zip(assignments) {
        let topic = assignment.as_ref().map(|assignment| assignment.topic);
        if scored.sentences.is_empty() {
            units.push(SentimentUnit::Comment(topic, scored.sentiment.label));
            continue;
        }
        for (sentence, &vector) in scored.sentences.iter().zip(vectors.by_ref()) {
            units.push(SentimentUnit::Sentence(vector, topic, sentence.label));
        }
    }
    units
}

/// One sentiment-bearing unit for [`sentence_sentiment`]: a sentence of a multi-sentence comment
/// (placed by its own embedding) or a whole single-sentence comment (placed by its assignment).
pub enum SentimentUnit<'a> {
    /// A sentence: its embedding, its comment's topic (if any) and its label.
    Sentence(&'a [f32], Option<TopicId>, SentimentLabel),
    /// A comment of one sentence: its topic (if any) and label.
    Comment(Option<TopicId>, SentimentLabel),
}

/// Topic sentiment from sentences: a sentence counts for the live topic whose centroid is nearest to
/// it when that cosine reaches `min_similarity` (short sentences are generic, so this bar is higher
/// than the one for whole comments), else for its comment's topic. Sentences are compared in the
/// state's recentred space ([`TopicState::offset`]), as comments are. "Fast delivery, but the battery
/// died" adds a positive to the delivery topic and a negative to the battery topic. Single-sentence
/// comments count for their own topic. Replaces the `sentiment` counts of `topics` (which then
/// count sentences).
pub fn sentence_sentiment(
    topics: &mut [Topic],
    state: &TopicState,
    units: &[SentimentUnit],
    min_similarity: f64,
) {
    let live: Vec<&TopicCentroid> = state
        .topics
        .iter()
        .filter(|topic| topics.binary_search_by_key(&topic.id, |t| t.id).is_ok())
        .collect();
    let placed: Vec<Option<(TopicId, SentimentLabel)>> = units
        .par_iter()
        .map(|unit| match *unit {
            SentimentUnit::Comment(topic, label) => topic.map(|topic| (topic, label)),
            SentimentUnit::Sentence(embedding, own, label) => {
                let recentred;
                let embedding = match &state.offset {
                    Some(offset) if offset.len() == embedding.len() => {
                        let mut out = vec![0.0f32; embedding.len()];
                        if !recentre_into(embedding, offset, &mut out) {
                            return own.map(|topic| (topic, label));
                        }
                        recentred = out;
                        recentred.as_slice()
                    }
                    _ => embedding,
                };
                let mut best: Option<(f32, TopicId)> = None;
                for topic in &live {
                    let similarity: f32 = topic
                        .centroid
                        .iter()
                        .zip(embedding)
                        .map(|(a, b)| a * b)
                        .sum();
                    if best.is_none_or(|(top, _)| similarity > top) {
                        best = Some((similarity, topic.id));
                    }
                }
                best.filter(|&(similarity, _)| similarity >= min_similarity as f32)
                    .map(|(_, topic)| topic)
                    .or(own)
                    .map(|topic| (topic, label))
            }
        })
        .collect();
    for topic in topics.iter_mut() {
        topic.sentiment = SentimentCounts::default();
    }
    for (topic, label) in placed.into_iter().flatten() {
        if let Ok(index) = topics.binary_search_by_key(&topic, |t| t.id) {
            topics[index].sentiment.add(label);
        }
    }
}
