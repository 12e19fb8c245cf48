//! Tests of the topics stage.

use super::*;
use crate::text::is_stopword;
use kmeans::{dot, SplitMix64};
use std::collections::HashMap;

const DIM: usize = 384;

/// A standard normal sample (Box-Muller).
fn gaussian(rng: &mut SplitMix64) -> f32 {
    let u1 = rng.next_f64().max(1e-12);
    let u2 = rng.next_f64();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

fn normalized(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    vector.iter_mut().for_each(|v| *v /= norm);
    vector
}

fn random_direction(rng: &mut SplitMix64) -> Vec<f32> {
    normalized((0..DIM).map(|_| gaussian(rng)).collect())
}

/// A unit vector near `center` (cosine about 0.9).
fn near(center: &[f32], rng: &mut SplitMix64) -> Vec<f32> {
    normalized(center.iter().map(|c| c + 0.025 * gaussian(rng)).collect())
}

/// Owned comment data; `inputs()` borrows it as `TopicInput`s.
struct Corpus {
    ids: Vec<String>,
    texts: Vec<String>,
    embeddings: Vec<Vec<f32>>,
    duplicate: Vec<bool>,
}

impl Corpus {
    fn new() -> Corpus {
        Corpus {
            ids: Vec::new(),
            texts: Vec::new(),
            embeddings: Vec::new(),
            duplicate: Vec::new(),
        }
    }

    fn push(&mut self, text: &str, embedding: Vec<f32>, duplicate: bool) {
        self.ids.push(format!("c{}", self.ids.len()));
        self.texts.push(text.to_string());
        self.embeddings.push(embedding);
        self.duplicate.push(duplicate);
    }

    fn add_blob(&mut self, center: &[f32], texts: &[&str], count: usize, rng: &mut SplitMix64) {
        for i in 0..count {
            self.push(texts[i % texts.len()], near(center, rng), false);
        }
    }

    fn inputs(&self) -> Vec<TopicInput<'_>> {
        (0..self.ids.len())
            .map(|i| TopicInput {
                id: &self.ids[i],
                text: &self.texts[i],
                lang: Lang::En,
                embedding: &self.embeddings[i],
                sentiment: if i % 3 == 0 {
                    SentimentLabel::Negative
                } else {
                    SentimentLabel::Neutral
                },
                duplicate: self.duplicate[i],
                author: None,
            })
            .collect()
    }
}

const BATTERY: [&str; 5] = [
    "The battery drains fast",
    "battery drains so fast after the update",
    "my battery drains overnight",
    "Battery drains quickly, battery life is terrible",
    "battery drains while the phone is idle",
];
const DELIVERY: [&str; 5] = [
    "delivery was late",
    "The delivery was late again",
    "late delivery and the courier was rude",
    "my delivery was late by a week",
    "Delivery late, package damaged",
];
const PAYMENT: [&str; 4] = [
    "payment failed at checkout",
    "the payment failed twice",
    "payment failed with my credit card",
    "checkout payment failed again",
];

fn two_blobs(seed: u64) -> (Corpus, Vec<Vec<f32>>, SplitMix64) {
    let mut rng = SplitMix64::new(seed);
    let centers = vec![random_direction(&mut rng), random_direction(&mut rng)];
    let mut corpus = Corpus::new();
    corpus.add_blob(&centers[0], &BATTERY, 60, &mut rng);
    corpus.add_blob(&centers[1], &DELIVERY, 40, &mut rng);
    (corpus, centers, rng)
}

fn topic_of(result: &TopicsResult, index: usize) -> Option<TopicId> {
    result.assignments[index].map(|assignment| assignment.topic)
}

#[test]
fn well_separated_blobs_become_labelled_topics() {
    let (corpus, _, _) = two_blobs(1);
    let result = cluster(&corpus.inputs(), None, &TopicsConfig::default());
    assert_eq!(result.topics.len(), 2, "{:?}", result.topics);
    // The bigger blob gets id 0.
    assert!((0..60).all(|i| topic_of(&result, i) == Some(0)));
    assert!((60..100).all(|i| topic_of(&result, i) == Some(1)));
    assert!(result
        .assignments
        .iter()
        .flatten()
        .all(|a| a.confidence > 0.7));
    let battery = &result.topics[0];
    let delivery = &result.topics[1];
    assert_eq!((battery.size, delivery.size), (60, 40));
    assert_eq!(battery.sentiment.total(), 60);
    assert_eq!(battery.sentiment.negative, 20);
    assert!(battery.label.contains("battery"), "{}", battery.label);
    assert!(delivery.label.contains("delivery"), "{}", delivery.label);
    assert!(!battery.keywords.iter().any(|k| k.contains("deliver")));
    for topic in &result.topics {
        assert!(topic.keywords.len() <= 8);
        assert!(topic.label.split(", ").count() <= 3);
        for word in topic.label.split([',', ' ']).filter(|w| !w.is_empty()) {
            assert!(
                !is_stopword(word, Lang::En),
                "stopword {word} in {}",
                topic.label
            );
        }
        assert_eq!(topic.representatives.len(), 5);
    }
    assert_eq!(result.state.next_id, 2);
    assert_eq!(
        result
            .state
            .topics
            .iter()
            .map(|t| (t.id, t.size))
            .collect::<Vec<_>>(),
        vec![(0, 60), (1, 40)]
    );
}

#[test]
fn identical_results_on_one_and_two_threads() {
    let (mut corpus, _, mut rng) = two_blobs(2);
    let third = random_direction(&mut rng);
    corpus.add_blob(&third, &PAYMENT, 500, &mut rng);
    let inputs = corpus.inputs();
    let config = TopicsConfig::default();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| cluster(&inputs, None, &config))
    };
    let single = run(1);
    let double = run(2);
    assert_eq!(single, double);
    assert_eq!(single.topics.len(), 3);
    let incremental_single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| cluster(&inputs, Some(&single.state), &config));
    let incremental_double = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| cluster(&inputs, Some(&single.state), &config));
    assert_eq!(incremental_single, incremental_double);
}

#[test]
fn incremental_run_keeps_ids_and_adds_new_topic() {
    let (mut corpus, _, mut rng) = two_blobs(3);
    let config = TopicsConfig::default();
    let first = cluster(&corpus.inputs(), None, &config);
    assert_eq!(first.topics.len(), 2);
    let old_topics: Vec<Option<TopicId>> = (0..100).map(|i| topic_of(&first, i)).collect();

    let planted = random_direction(&mut rng);
    corpus.add_blob(&planted, &PAYMENT, 30, &mut rng);
    let second = cluster(&corpus.inputs(), Some(&first.state), &config);
    for (i, old) in old_topics.iter().enumerate() {
        assert_eq!(topic_of(&second, i), *old, "comment {i} changed topic");
    }
    assert!((100..130).all(|i| topic_of(&second, i) == Some(2)));
    assert_eq!(second.topics.len(), 3);
    assert!(
        second.topics[2].label.contains("payment"),
        "{}",
        second.topics[2].label
    );
    assert_eq!(second.state.next_id, 3);
    let ids: Vec<TopicId> = second.state.topics.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![0, 1, 2]);
    // Lineage: the planted subject is born; nothing else changed.
    let previous: std::collections::HashMap<String, TopicId> = (0..100)
        .filter_map(|i| Some((corpus.ids[i].clone(), old_topics[i]?)))
        .collect();
    let now: Vec<(&str, Option<TopicId>)> = (0..130)
        .map(|i| (corpus.ids[i].as_str(), topic_of(&second, i)))
        .collect();
    let events = lineage::events(
        Some(&first.state),
        &second.state,
        &second.merges,
        &previous,
        &now,
        second.state.run,
        None,
        2,
    );
    let kinds: Vec<(TopicEventKind, TopicId)> = events.iter().map(|e| (e.event, e.topic)).collect();
    assert_eq!(kinds, vec![(TopicEventKind::Born, 2)]);
    assert_eq!((events[0].seq, events[0].run, events[0].size), (3, 2, 30));

    // Without the battery comments, topic 0 stays in the state with size 0 and is not listed;
    // a further new blob gets a fresh id, never 0 again.
    let mut later = Corpus::new();
    for i in 60..130 {
        later.push(&corpus.texts[i], corpus.embeddings[i].clone(), false);
    }
    let fresh = random_direction(&mut rng);
    later.add_blob(
        &fresh,
        &["screen cracked", "cracked screen again"],
        20,
        &mut rng,
    );
    let third = cluster(&later.inputs(), Some(&second.state), &config);
    let listed: Vec<TopicId> = third.topics.iter().map(|t| t.id).collect();
    assert_eq!(listed, vec![1, 2, 3]);
    assert_eq!(third.state.topics[0].id, 0);
    assert_eq!(third.state.topics[0].size, 0);
    assert_eq!(
        third.state.topics[0].centroid,
        second.state.topics[0].centroid
    );
    assert_eq!(third.state.next_id, 4);
    let now: Vec<(&str, Option<TopicId>)> = (0..later.ids.len())
        .map(|i| (later.ids[i].as_str(), topic_of(&third, i)))
        .collect();
    let events = lineage::events(
        Some(&second.state),
        &third.state,
        &third.merges,
        &std::collections::HashMap::new(),
        &now,
        third.state.run,
        None,
        3,
    );
    let kinds: Vec<(TopicEventKind, TopicId)> = events.iter().map(|e| (e.event, e.topic)).collect();
    assert!(kinds.contains(&(TopicEventKind::Born, 3)), "{kinds:?}");
    assert!(kinds.contains(&(TopicEventKind::Died, 0)), "{kinds:?}");
}

#[test]
fn topics_whose_centroids_converge_merge_into_the_larger() {
    let mut rng = SplitMix64::new(11);
    let a = random_direction(&mut rng);
    // b at cosine 0.8 from a.
    let noise = random_direction(&mut rng);
    let along: f32 = a.iter().zip(&noise).map(|(x, y)| x * y).sum();
    let orthogonal = normalized(noise.iter().zip(&a).map(|(n, x)| n - along * x).collect());
    let b: Vec<f32> = a
        .iter()
        .zip(&orthogonal)
        .map(|(x, o)| 0.8 * x + 0.6 * o)
        .collect();
    let mut corpus = Corpus::new();
    corpus.add_blob(&a, &BATTERY, 60, &mut rng);
    corpus.add_blob(&b, &DELIVERY, 40, &mut rng);
    // The cosines above are the ones compared (no recentring, which would move them apart).
    let config = TopicsConfig {
        recentre: false,
        ..TopicsConfig::default()
    };
    let first = cluster(&corpus.inputs(), None, &config);
    assert_eq!(first.topics.len(), 2, "{:?}", first.topics);
    // Many comments between the two pull the centroids together.
    let middle = normalized(a.iter().zip(&b).map(|(x, y)| x + y).collect());
    corpus.add_blob(&middle, &PAYMENT, 400, &mut rng);
    let second = cluster(&corpus.inputs(), Some(&first.state), &config);
    assert_eq!(second.merges, vec![(1, 0)]);
    assert!(second
        .assignments
        .iter()
        .all(|a| a.map(|a| a.topic) == Some(0)));
    let listed: Vec<TopicId> = second.topics.iter().map(|t| t.id).collect();
    assert_eq!(listed, vec![0]);
    // The retired topic keeps its old centroid, nearer to the delivery comments than the
    // survivor's, but takes no members again, so it is not merged a second time.
    assert_eq!(second.state.topics[1].size, 0);
    let third = cluster(&corpus.inputs(), Some(&second.state), &config);
    assert_eq!(third.merges, vec![]);
    assert!((0..40)
        .map(|i| 60 + i)
        .all(|i| topic_of(&third, i) != Some(1)));
    let listed: Vec<TopicId> = third.topics.iter().map(|t| t.id).collect();
    assert!(!listed.contains(&1), "{listed:?}");
}

#[test]
fn a_shared_part_of_every_vector_does_not_make_distinct_subjects_one_topic() {
    // Three subjects whose centres share a common part, every pair at a cosine of about 0.9, as an
    // encoder's vectors of one kind of text (news, forum posts) do: above `merge_similarity`.
    let mut rng = SplitMix64::new(21);
    let common = random_direction(&mut rng);
    let centers: Vec<Vec<f32>> = (0..3)
        .map(|_| {
            let own = random_direction(&mut rng);
            normalized(common.iter().zip(&own).map(|(c, o)| 3.0 * c + o).collect())
        })
        .collect();
    assert!(dot(&centers[0], &centers[1]) > 0.85);
    let mut corpus = Corpus::new();
    corpus.add_blob(&centers[0], &BATTERY, 60, &mut rng);
    corpus.add_blob(&centers[1], &DELIVERY, 50, &mut rng);
    corpus.add_blob(&centers[2], &PAYMENT, 40, &mut rng);
    let distinct_topics = |result: &TopicsResult, rows: [usize; 3]| {
        let topics: std::collections::BTreeSet<Option<TopicId>> =
            rows.iter().map(|&i| topic_of(result, i)).collect();
        topics.len()
    };

    let config = TopicsConfig::default();
    let recentred = cluster(&corpus.inputs(), None, &config);
    assert_eq!(recentred.topics.len(), 3, "{:?}", recentred.topics);
    for (start, end) in [(0, 60), (60, 110), (110, 150)] {
        assert!((start..end).all(|i| topic_of(&recentred, i) == topic_of(&recentred, start)));
    }
    assert_eq!(distinct_topics(&recentred, [0, 60, 110]), 3);
    let offset = recentred
        .state
        .offset
        .clone()
        .expect("150 comments fix the offset");

    // The encoder's vectors as they are: one topic.
    let plain = TopicsConfig {
        recentre: false,
        ..TopicsConfig::default()
    };
    let merged = cluster(&corpus.inputs(), None, &plain);
    assert_eq!(merged.topics.len(), 1, "{:?}", merged.topics);
    assert_eq!(merged.state.offset, None);

    // Later runs keep the first fit's offset, whatever comes next.
    let fourth = normalized(
        common
            .iter()
            .zip(random_direction(&mut rng))
            .map(|(c, o)| 3.0 * c + o)
            .collect(),
    );
    corpus.add_blob(&fourth, &DELIVERY, 80, &mut rng);
    let next = cluster(&corpus.inputs(), Some(&recentred.state), &config);
    assert_eq!(next.state.offset.as_ref(), Some(&offset));

    // Too few comments say more about themselves than about their corpus: a first fit of 60
    // leaves the offset to a later run, which moves the topics it finds into the new space.
    let mut small = Corpus::new();
    small.add_blob(&centers[0], &BATTERY, 30, &mut rng);
    small.add_blob(&centers[1], &DELIVERY, 30, &mut rng);
    let early = cluster(&small.inputs(), None, &config);
    assert_eq!(early.state.offset, None);
    assert_eq!(early.topics.len(), 1, "{:?}", early.topics);
    small.add_blob(&centers[2], &PAYMENT, 60, &mut rng);
    let later = cluster(&small.inputs(), Some(&early.state), &config);
    assert!(later.state.offset.is_some());
    assert_eq!(
        distinct_topics(&later, [0, 30, 60]),
        3,
        "{:?}",
        later.topics
    );
}

#[test]
fn themes_group_related_topics() {
    let (mut corpus, centers, mut rng) = two_blobs(5);
    // A third subject close to the delivery one (cosine about 0.75 between the centres).
    let related = normalized(
        centers[1]
            .iter()
            .zip(random_direction(&mut rng))
            .map(|(c, r)| c + 0.85 * r)
            .collect(),
    );
    corpus.add_blob(&related, &PAYMENT, 30, &mut rng);
    // Three topics (the silhouette would see two subjects, as the themes below do), compared at
    // the cosines above (no recentring).
    let config = TopicsConfig {
        auto_clusters: AutoClusters::Sqrt,
        recentre: false,
        ..TopicsConfig::default()
    };
    let result = cluster(&corpus.inputs(), None, &config);
    assert_eq!(result.topics.len(), 3, "{:?}", result.topics);
    assert_eq!(result.themes.len(), 2, "{:?}", result.themes);
    let delivery = topic_of(&result, 60).unwrap();
    let payment = topic_of(&result, 100).unwrap();
    let battery = topic_of(&result, 0).unwrap();
    let theme_of = |id: TopicId| result.topics.iter().find(|t| t.id == id).unwrap().theme;
    assert_eq!(theme_of(delivery), theme_of(payment));
    assert_ne!(theme_of(delivery), theme_of(battery));
}

#[test]
fn duplicates_do_not_move_centroids_or_keywords() {
    let (mut corpus, centers, mut rng) = two_blobs(4);
    // One original far off the delivery centre but still in that topic...
    let off_center = normalized(
        centers[1]
            .iter()
            .zip(random_direction(&mut rng))
            .map(|(c, r)| c + 0.9 * r)
            .collect(),
    );
    corpus.push("refund refund refund please", off_center.clone(), false);
    let config = TopicsConfig::default();
    let without = cluster(&corpus.inputs(), None, &config);
    // ...then a flood of 300 exact copies of it.
    for _ in 0..300 {
        corpus.push("refund refund refund please", off_center.clone(), true);
    }
    let with = cluster(&corpus.inputs(), None, &config);
    assert_eq!(with.state.topics.len(), without.state.topics.len());
    for (a, b) in with.state.topics.iter().zip(&without.state.topics) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.centroid, b.centroid, "duplicates moved topic {}", a.id);
    }
    let flood_topic = topic_of(&with, 100).expect("the original is assigned");
    assert!((101..401).all(|i| topic_of(&with, i) == Some(flood_topic)));
    let topic = with.topics.iter().find(|t| t.id == flood_topic).unwrap();
    assert!(topic.size >= 300);
    assert!(!topic.label.contains("refund"), "{}", topic.label);
    let duplicate_ids: Vec<&String> = corpus.ids[101..].iter().collect();
    assert!(!topic
        .representatives
        .iter()
        .any(|id| duplicate_ids.contains(&id)));
}

#[test]
fn orthogonal_outliers_stay_unassigned() {
    let (mut corpus, centers, mut rng) = two_blobs(5);
    for _ in 0..3 {
        // Remove the components along both blob centres: cosine to every centroid stays ~0.
        let mut vector = random_direction(&mut rng);
        for center in &centers {
            let along = dot(&vector, center);
            vector
                .iter_mut()
                .zip(center)
                .for_each(|(v, c)| *v -= along * c);
        }
        corpus.push("something else entirely", normalized(vector), false);
    }
    corpus.push("no embedding", Vec::new(), false);
    corpus.push("bad embedding", vec![f32::NAN; DIM], false);
    let result = cluster(&corpus.inputs(), None, &TopicsConfig::default());
    assert_eq!(result.topics.len(), 2);
    assert!((100..105).all(|i| result.assignments[i].is_none()));
    assert!((0..100).all(|i| result.assignments[i].is_some()));
    let incremental = cluster(
        &corpus.inputs(),
        Some(&result.state),
        &TopicsConfig::default(),
    );
    assert!((100..105).all(|i| incremental.assignments[i].is_none()));
}

#[test]
fn empty_and_tiny_inputs_give_no_topics() {
    let empty = cluster(&[], None, &TopicsConfig::default());
    assert!(empty.assignments.is_empty() && empty.topics.is_empty());
    assert_eq!(
        empty.state,
        TopicState {
            through: None,
            comments: 0,
            encoder: None,
            offset: None,
            next_id: 0,
            topics: Vec::new(),
            run: 1,
        }
    );

    let mut rng = SplitMix64::new(6);
    let center = random_direction(&mut rng);
    let mut corpus = Corpus::new();
    corpus.add_blob(&center, &BATTERY, 3, &mut rng);
    let tiny = cluster(&corpus.inputs(), None, &TopicsConfig::default());
    assert!(tiny.topics.is_empty());
    assert!(tiny.assignments.iter().all(Option::is_none));
}

#[test]
fn config_round_trips_through_toml_and_rejects_unknown_fields() {
    let config = TopicsConfig::default();
    let text = toml::to_string(&config).unwrap();
    assert_eq!(toml::from_str::<TopicsConfig>(&text).unwrap(), config);
    let custom: TopicsConfig = toml::from_str("clusters = 12\nmin_topic_size = 3").unwrap();
    assert_eq!(custom.clusters, Some(12));
    assert_eq!(custom.min_topic_size, 3);
    assert_eq!(custom.merge_similarity, 0.85);
    assert!(toml::from_str::<TopicsConfig>("clusterz = 3").is_err());
}

#[test]
fn sentence_sentiment_counts_each_sentence_for_its_nearest_topic() {
    let topic = |id: TopicId| Topic::for_test(id, &format!("topic {id}"));
    let mut topics = vec![topic(1), topic(2)];
    let state = TopicState {
        through: None,
        comments: 0,
        encoder: None,
        offset: None,
        next_id: 4,
        run: 1,
        topics: vec![
            TopicCentroid {
                id: 1,
                centroid: vec![1.0, 0.0, 0.0],
                size: 1,
                known_from: None,
            },
            TopicCentroid {
                id: 2,
                centroid: vec![0.0, 1.0, 0.0],
                size: 1,
                known_from: None,
            },
            // A dead topic is never chosen.
            TopicCentroid {
                id: 3,
                centroid: vec![0.0, 0.0, 1.0],
                size: 0,
                known_from: None,
            },
        ],
    };
    let delivery = [0.9f32, 0.1, 0.0];
    let battery = [0.1f32, 0.95, 0.0];
    let elsewhere = [0.0f32, 0.05, 1.0];
    let units = [
        SentimentUnit::Sentence(&delivery, Some(2), SentimentLabel::Positive),
        SentimentUnit::Sentence(&battery, Some(2), SentimentLabel::Negative),
        // Near no live topic: counts for its comment's topic, or nowhere.
        SentimentUnit::Sentence(&elsewhere, Some(1), SentimentLabel::Negative),
        SentimentUnit::Sentence(&elsewhere, None, SentimentLabel::Negative),
        SentimentUnit::Comment(Some(2), SentimentLabel::Neutral),
        SentimentUnit::Comment(None, SentimentLabel::Positive),
    ];
    sentence_sentiment(&mut topics, &state, &units, 0.5);
    assert_eq!(topics[0].sentiment.positive, 1);
    assert_eq!(topics[0].sentiment.negative, 1);
    assert_eq!(topics[0].sentiment.total(), 2);
    assert_eq!(topics[1].sentiment.negative, 1);
    assert_eq!(topics[1].sentiment.neutral, 1);
    assert_eq!(topics[1].sentiment.total(), 2);
}

#[test]
fn state_round_trips_through_json() {
    let (corpus, _, _) = two_blobs(7);
    let result = cluster(&corpus.inputs(), None, &TopicsConfig::default());
    let json = serde_json::to_string(&result.state).unwrap();
    let back: TopicState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, result.state);
}

fn day(d: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(d * 86_400 + 3_600, 0)
}

#[test]
fn epochs_follow_data_days_and_late_comments_join_the_first_open_one() {
    let config = TopicsConfig::default();
    let plan = plan_epochs(&[day(2), day(1), None, day(2)], None, &config);
    assert_eq!(plan.steps, vec![86_400, 2 * 86_400]);
    assert_eq!(plan.joins, vec![2 * 86_400, 86_400, 2 * 86_400, 2 * 86_400]);
    // A state that has seen two comments and day 2: day 1 and day 2 arrive late.
    let state = TopicState {
        next_id: 0,
        topics: Vec::new(),
        run: 1,
        through: Some(2 * 86_400),
        comments: 2,
        encoder: None,
        offset: None,
    };
    let plan = plan_epochs(
        &[day(2), day(2), day(1), day(5), None],
        Some(&state),
        &config,
    );
    assert_eq!(plan.steps, vec![3 * 86_400, 5 * 86_400]);
    assert_eq!(plan.joins[..2], [i64::MIN, i64::MIN]);
    assert_eq!(plan.joins[2..], [3 * 86_400, 5 * 86_400, 5 * 86_400]);
    // Nothing new: one re-fit; epochs off: one step.
    let plan = plan_epochs(&[day(2), day(2)], Some(&state), &config);
    assert_eq!(plan.steps, vec![i64::MIN]);
    let off = TopicsConfig {
        epoch_hours: 0.0,
        ..TopicsConfig::default()
    };
    let plan = plan_epochs(&[day(1), day(3)], None, &off);
    assert_eq!(
        (plan.steps, plan.joins),
        (vec![i64::MIN], vec![i64::MIN; 2])
    );
    // More epochs than steps allowed: consecutive ones are grouped.
    let capped = TopicsConfig {
        max_epoch_steps: 2,
        ..TopicsConfig::default()
    };
    let plan = plan_epochs(&[day(1), day(2), day(3), day(4)], None, &capped);
    assert_eq!(plan.steps, vec![2 * 86_400, 4 * 86_400]);
    assert_eq!(
        plan.joins,
        vec![2 * 86_400, 2 * 86_400, 4 * 86_400, 4 * 86_400]
    );
}

#[test]
fn one_run_over_three_days_equals_three_daily_runs() {
    // Day 1: battery; day 2: delivery; day 3: payment, plus more battery.
    let mut rng = SplitMix64::new(11);
    let centers: Vec<Vec<f32>> = (0..3).map(|_| random_direction(&mut rng)).collect();
    let mut corpus = Corpus::new();
    let mut days = Vec::new();
    for (d, (center, texts)) in centers
        .iter()
        .zip([&BATTERY[..], &DELIVERY[..], &PAYMENT[..]])
        .enumerate()
    {
        corpus.add_blob(center, texts, 30, &mut rng);
        days.extend(std::iter::repeat_n(day(d as i64 + 1), 30));
    }
    corpus.add_blob(&centers[0], &BATTERY, 10, &mut rng);
    days.extend(std::iter::repeat_n(day(3), 10));
    let config = TopicsConfig::default();
    let inputs = corpus.inputs();

    let plan = plan_epochs(&days, None, &config);
    assert_eq!(plan.steps.len(), 3);
    let (single, single_events) = cluster_epochs(&inputs, &plan, None, HashMap::new(), &config, 0);
    // Each subject is born on its own day.
    let born: Vec<(TopicId, Option<chrono::DateTime<chrono::Utc>>)> = single_events
        .iter()
        .filter(|event| event.event == TopicEventKind::Born)
        .map(|event| (event.topic, event.epoch))
        .collect();
    let midnight = |d: i64| chrono::DateTime::from_timestamp(d * 86_400, 0);
    assert_eq!(
        born,
        vec![(0, midnight(1)), (1, midnight(2)), (2, midnight(3))]
    );
    // Each is known from the end of that day, in the state and in the listing.
    let known: Vec<(TopicId, Option<chrono::DateTime<chrono::Utc>>)> = single
        .state
        .topics
        .iter()
        .map(|topic| (topic.id, topic.known_from))
        .collect();
    assert_eq!(
        known,
        vec![(0, midnight(2)), (1, midnight(3)), (2, midnight(4))]
    );
    assert!(single
        .topics
        .iter()
        .all(|topic| topic.known_from == midnight(topic.id as i64 + 2)));

    let mut state: Option<TopicState> = None;
    let mut previous_topic = HashMap::new();
    let mut replayed = None;
    for end in [30, 60, 100] {
        let plan = plan_epochs(&days[..end], state.as_ref(), &config);
        assert_eq!(plan.steps.len(), 1);
        let (result, _) = cluster_epochs(
            &inputs[..end],
            &plan,
            state.as_ref(),
            previous_topic,
            &config,
            0,
        );
        previous_topic = (0..end)
            .filter_map(|i| Some((corpus.ids[i].clone(), topic_of(&result, i)?)))
            .collect();
        state = Some(result.state.clone());
        replayed = Some(result);
    }
    let mut replayed = replayed.unwrap();
    assert_eq!(replayed.state.run, 3);
    replayed.state.run = 1;
    assert_eq!(replayed, single);
}

/// Timing on a large synthetic corpus; run with
/// `cargo test --release --lib topics::tests::large_corpus_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn large_corpus_timing() {
    let count: usize = std::env::var("XSIGNAL_TOPICS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut rng = SplitMix64::new(8);
    let centers: Vec<Vec<f32>> = (0..60).map(|_| random_direction(&mut rng)).collect();
    let words = [
        "battery", "delivery", "payment", "screen", "login", "refund",
    ];
    let mut corpus = Corpus::new();
    for i in 0..count {
        let center = &centers[i % centers.len()];
        let text = format!("{} problem number {}", words[i % words.len()], i % 97);
        corpus.push(&text, near(center, &mut rng), i % 50 == 49);
    }
    let inputs = corpus.inputs();
    let start = std::time::Instant::now();
    let result = cluster(&inputs, None, &TopicsConfig::default());
    let fresh = start.elapsed();
    let start = std::time::Instant::now();
    let again = cluster(&inputs, Some(&result.state), &TopicsConfig::default());
    let incremental = start.elapsed();
    println!(
        "n={count} threads={} fresh={fresh:?} topics={} incremental={incremental:?} topics={}",
        rayon::current_num_threads(),
        result.topics.len(),
        again.topics.len()
    );
}
