//! Turning flagged items into signals: co-trending items with overlapping comments or shared
//! vocabulary become one signal (`merge_and_assemble`), and each signal gets its label, id, counts,
//! topic and evidence (`assemble`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ItemKey, Prepared, RawSignal, TrendDoc, TrendsConfig};
use crate::types::{Signal, SignalKind, TopicId, Window};

/// A phrase signal is about the topic that holds at least this share of its comments; failing
/// that, about the theme whose topics hold that share (and, in it, the topic holding most).
const TOPIC_LINK_SHARE: f64 = 0.5;

pub(super) struct AssemblyContext<'a, 'd> {
    pub(super) docs: &'a [TrendDoc<'d>],
    pub(super) prepared: &'a Prepared,
    pub(super) terms: &'a [Vec<(String, String)>],
    pub(super) surface: &'a HashMap<&'a str, BTreeMap<&'a str, u32>>,
    pub(super) topic_labels: &'a HashMap<TopicId, &'a str>,
    pub(super) topic_known_from: &'a HashMap<TopicId, DateTime<Utc>>,
    pub(super) topic_themes: &'a HashMap<TopicId, TopicId>,
    pub(super) idf: &'a HashMap<&'a str, (u32, f64)>,
    pub(super) config: &'a TrendsConfig,
}

/// The topic a phrase signal with `support` comments is about, given how many of them each topic
/// holds (`topic_counts`, most first), and the share's level: the topic holding at least
/// [`TOPIC_LINK_SHARE`] of them (`"topic"`); else, when one theme's topics hold that share
/// together, its topic holding most of them (`"theme"`): an issue that the topics cut into facets
/// or languages (the reboots, the lost Wi-Fi; English, German) is still one subject. Returns the
/// topic with the comments of the level's share.
fn phrase_link(
    topic_counts: &[(TopicId, u64)],
    support: usize,
    topic_themes: &HashMap<TopicId, TopicId>,
) -> (Option<(TopicId, u64)>, &'static str) {
    let enough = |comments: u64| comments as f64 >= TOPIC_LINK_SHARE * support as f64;
    if let Some(&(topic, comments)) = topic_counts.first().filter(|(_, c)| enough(*c)) {
        return (Some((topic, comments)), "topic");
    }
    let mut per_theme: BTreeMap<TopicId, u64> = BTreeMap::new();
    for (topic, comments) in topic_counts {
        if let Some(&theme) = topic_themes.get(topic) {
            *per_theme.entry(theme).or_default() += comments;
        }
    }
    let best = per_theme
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .filter(|&(_, comments)| enough(comments));
    let linked = best.and_then(|(theme, comments)| {
        topic_counts
            .iter()
            .find(|(topic, _)| topic_themes.get(topic) == Some(&theme))
            .map(|&(topic, _)| (topic, comments))
    });
    (linked, "theme")
}

/// A sparse tf-idf vector of the terms in a set of comments.
type TermVector = BTreeMap<u32, f64>;

fn term_vector(support: &[u32], context: &AssemblyContext) -> TermVector {
    let mut vector = TermVector::new();
    for &position in support {
        for (stem, _) in &context.terms[position as usize] {
            if let Some((term_id, idf)) = context.idf.get(stem.as_str()) {
                *vector.entry(*term_id).or_insert(0.0) += idf;
            }
        }
    }
    vector
}

fn cosine(a: &TermVector, b: &TermVector) -> f64 {
    let dot: f64 = a
        .iter()
        .filter_map(|(term, weight)| b.get(term).map(|other| weight * other))
        .sum();
    let norm = |v: &TermVector| v.values().map(|w| w * w).sum::<f64>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator > 0.0 {
        dot / denominator
    } else {
        0.0
    }
}

/// Groups co-trending raw signals and builds one [`Signal`] per group.
///
/// A raw signal joins an earlier group when it is flagged while the group is still open (or within
/// `merge_hours` of its close) and its comments overlap the group's (Jaccard or containment) or use
/// the same distinctive vocabulary (tf-idf cosine of the comments' terms).
pub(super) fn merge_and_assemble(
    mut raw: Vec<RawSignal>,
    context: &AssemblyContext,
) -> Vec<Signal> {
    raw.sort_by(|a, b| {
        (a.first_flagged, &a.key)
            .cmp(&(b.first_flagged, &b.key))
            .then(b.episode.z.total_cmp(&a.episode.z))
    });
    let merge_seconds = (context.config.merge_hours * 3600.0) as i64;
    let cotrend_seconds = (context.config.cotrend_hours * 3600.0) as i64;
    struct Group {
        members: Vec<usize>,
        support: BTreeSet<u32>,
        vector: TermVector,
        started: DateTime<Utc>,
        active_until: DateTime<Utc>,
    }
    impl Group {
        /// Takes `other`'s members, comments and vocabulary; stays open while either is.
        fn absorb(&mut self, other: Group) {
            self.members.extend(other.members);
            self.members.sort_unstable();
            self.support.extend(other.support);
            for (term, weight) in other.vector {
                *self.vector.entry(term).or_insert(0.0) += weight;
            }
            self.active_until = self.active_until.max(other.active_until);
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    for (index, signal) in raw.iter().enumerate() {
        let own = &signal.support_set;
        let own_vector = term_vector(&signal.support, context);
        let own_open_until = context.prepared.bucket_start(signal.episode.open_until + 1);
        let mut target = None;
        for (group_index, group) in groups.iter().enumerate() {
            if (signal.first_flagged - group.active_until).num_seconds() > merge_seconds {
                continue;
            }
            let topic_of = |key: &ItemKey| match key {
                ItemKey::Topic(topic) | ItemKey::Negative(topic) => Some(*topic),
                ItemKey::Term(_) => None,
            };
            let similarity = cosine(&own_vector, &group.vector);
            if let Some(topic) = topic_of(&signal.key) {
                // A second episode of the same topic (or shift) is a signal of its own.
                let same_kind = group.members.iter().any(|&m| {
                    topic_of(&raw[m].key) == Some(topic)
                        && std::mem::discriminant(&raw[m].key)
                            == std::mem::discriminant(&signal.key)
                });
                if same_kind {
                    continue;
                }
                // Another topic joins only when it co-trends: flagged within `merge_hours` of the
                // group's first signal, with the same distinctive vocabulary (`merge_cosine`), or
                // within `cotrend_hours` of it with some shared vocabulary (`cotrend_cosine`):
                // one event's facets (the news, the prayers) start trending in the same hours.
                // Overlapping comments are not enough: a broad topic overlaps many phrases.
                // Sentiment shifts never join another topic's signals.
                let others: Vec<&ItemKey> = group
                    .members
                    .iter()
                    .map(|&m| &raw[m].key)
                    .filter(|key| topic_of(key).is_some_and(|other| other != topic))
                    .collect();
                if !others.is_empty() {
                    let volumes = matches!(signal.key, ItemKey::Topic(_))
                        && others.iter().all(|key| matches!(key, ItemKey::Topic(_)));
                    if !volumes {
                        continue;
                    }
                    let since_start = (signal.first_flagged - group.started).num_seconds();
                    let required = if since_start <= cotrend_seconds {
                        context.config.cotrend_cosine
                    } else {
                        context.config.merge_cosine
                    };
                    if since_start <= merge_seconds && similarity >= required {
                        target = Some(group_index);
                        break;
                    }
                    continue;
                }
            }
            // Jaccard against each member; containment of this signal's comments in the group's.
            let jaccard_overlap = group.members.iter().any(|&m| {
                let other = &raw[m].support_set;
                let intersection = own.intersection(other).count() as f64;
                let union = (own.len() + other.len()) as f64 - intersection;
                union > 0.0 && intersection / union >= context.config.merge_jaccard
            });
            let contained =
                own.intersection(&group.support).count() as f64 / own.len().max(1) as f64;
            let overlaps = jaccard_overlap || contained >= context.config.merge_containment;
            if overlaps || similarity >= context.config.merge_cosine {
                target = Some(group_index);
                break;
            }
        }
        let single = Group {
            members: vec![index],
            support: own.clone(),
            vector: own_vector,
            started: signal.first_flagged,
            active_until: own_open_until,
        };
        match target {
            Some(group_index) => groups[group_index].absorb(single),
            None => groups.push(single),
        }
    }
    // A group of phrases whose comments lie `merge_containment` inside an earlier group's, as that
    // group stands once every member has joined, and that started while it was active, is merged
    // into it: the earlier group may have grown after the phrases were weighed against it (the
    // German and English phrases of one issue flagged on different days).
    let phrases_only = |group: &Group| {
        group
            .members
            .iter()
            .all(|&member| matches!(raw[member].key, ItemKey::Term(_)))
    };
    let mut merged_groups: Vec<Group> = Vec::with_capacity(groups.len());
    for group in groups {
        let into = phrases_only(&group)
            .then(|| {
                merged_groups.iter().position(|earlier| {
                    let inside = group.support.intersection(&earlier.support).count() as f64;
                    (group.started - earlier.active_until).num_seconds() <= merge_seconds
                        && inside / group.support.len().max(1) as f64
                            >= context.config.merge_containment
                })
            })
            .flatten();
        match into {
            Some(earlier_index) => merged_groups[earlier_index].absorb(group),
            None => merged_groups.push(group),
        }
    }
    let mut signals: Vec<Signal> = merged_groups
        .iter()
        .map(|group| assemble(&raw, &group.members, &group.support, context))
        .collect();
    signals.sort_by(|a, b| (a.first_flagged, &a.id).cmp(&(b.first_flagged, &b.id)));
    signals
}

fn item_description(key: &ItemKey, context: &AssemblyContext) -> (String, String) {
    match key {
        ItemKey::Term(stem) => {
            let word = context
                .surface
                .get(stem.as_str())
                .and_then(|words| words.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))))
                .map(|(word, _)| word.to_string())
                .unwrap_or_else(|| stem.clone());
            (format!("phrase:{stem}"), word)
        }
        ItemKey::Topic(topic) => (format!("topic:{topic}"), topic_label(*topic, context)),
        ItemKey::Negative(topic) => (
            format!("sentiment:{topic}"),
            format!("{} turning negative", topic_label(*topic, context)),
        ),
    }
}

fn topic_label(topic: TopicId, context: &AssemblyContext) -> String {
    context
        .topic_labels
        .get(&topic)
        .map(|label| label.to_string())
        .unwrap_or_else(|| format!("topic {topic}"))
}

fn assemble(
    raw: &[RawSignal],
    members: &[usize],
    support: &BTreeSet<u32>,
    context: &AssemblyContext,
) -> Signal {
    // The signal is named after a topic member if it has one, else after the member flagged first
    // (so later runs, in which more items join, keep its id), the strongest on a tie.
    let main_index = members
        .iter()
        .copied()
        .max_by(|&a, &b| {
            let rank = |s: &RawSignal| match s.key {
                ItemKey::Topic(_) | ItemKey::Negative(_) => 1,
                ItemKey::Term(_) => 0,
            };
            (rank(&raw[a]), std::cmp::Reverse(raw[a].first_flagged))
                .cmp(&(rank(&raw[b]), std::cmp::Reverse(raw[b].first_flagged)))
                .then(raw[a].episode.z.total_cmp(&raw[b].episode.z))
                .then(b.cmp(&a))
        })
        .unwrap_or(members[0]);
    let main = &raw[main_index];
    let prepared = context.prepared;
    let first_flagged = members
        .iter()
        .map(|&m| raw[m].first_flagged)
        .min()
        .unwrap_or(main.first_flagged);

    // Top co-occurring terms among the supporting comments.
    let mut cooccurring: BTreeMap<&str, (u32, &str)> = BTreeMap::new();
    for &position in support {
        for (stem, word) in &context.terms[position as usize] {
            let entry = cooccurring
                .entry(stem.as_str())
                .or_insert((0, word.as_str()));
            entry.0 += 1;
        }
    }
    let mut top_terms: Vec<(&str, u32, &str)> = cooccurring
        .iter()
        .map(|(stem, (count, word))| (*stem, *count, *word))
        .collect();
    top_terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));

    let (mut id_base, mut label) = item_description(&main.key, context);
    let mut kind = match main.key {
        ItemKey::Term(_) => SignalKind::Phrase,
        ItemKey::Topic(_) => SignalKind::Topic,
        ItemKey::Negative(_) => SignalKind::SentimentShift,
    };
    if let ItemKey::Term(stem) = &main.key {
        // A second term present in most supporting comments makes the label a pair.
        let half = support.len() as u32 / 2;
        if let Some((second_stem, _, second_word)) = top_terms
            .iter()
            .find(|(other, count, _)| *other != stem.as_str() && *count > half)
        {
            id_base = format!("phrase:{stem}+{second_stem}");
            label = format!("{label} {second_word}");
        }
        kind = SignalKind::Phrase;
    }
    let episode = &main.episode;
    let window_start = prepared.bucket_start(episode.window_start);
    let window_end = prepared.bucket_start(episode.flag_bucket + 1);
    let id = format!("{id_base}@{}", window_start.format("%Y%m%dT%H"));

    let support_sorted: Vec<u32> = support.iter().copied().collect();
    let comment_ids: Vec<String> = support_sorted
        .iter()
        .take(context.config.max_comment_ids)
        .map(|&position| {
            context.docs[prepared.order[position as usize]]
                .id
                .to_string()
        })
        .collect();
    let mut authors: BTreeSet<u64> = BTreeSet::new();
    for &position in &support_sorted {
        authors.insert(prepared.author[position as usize]);
    }

    let gates: serde_json::Map<String, serde_json::Value> = episode
        .gates
        .iter()
        .map(|(name, gate)| {
            (
                name.to_string(),
                json!({"value": gate.value, "threshold": gate.threshold, "passed": gate.passed}),
            )
        })
        .collect();
    let merged: Vec<serde_json::Value> = members
        .iter()
        .filter(|&&m| m != main_index)
        .map(|&m| {
            let (item, item_label) = item_description(&raw[m].key, context);
            json!({"item": item, "label": item_label, "score": raw[m].episode.z,
                   "first_flagged": raw[m].first_flagged.to_rfc3339()})
        })
        .collect();
    let is_sentiment = kind == SignalKind::SentimentShift;
    let (observed, baseline_mean, baseline_std) = if is_sentiment {
        (
            episode.observed / episode.volume.max(1.0),
            episode.baseline_share,
            episode.baseline_share_std,
        )
    } else {
        (
            episode.observed,
            episode.baseline_share * episode.volume,
            episode.baseline_share_std * episode.volume,
        )
    };
    let mut evidence = json!({
        "item": id_base,
        "window_buckets": episode.window,
        "window_volume": episode.volume,
        "baseline_share": episode.baseline_share,
        "observed_share": episode.observed / episode.volume.max(1.0),
        "top_phrases": top_terms.iter().take(8).map(|(stem, count, word)| json!({"stem": stem, "word": word, "comments": count})).collect::<Vec<_>>(),
        "sentiment_now": main.window_mix,
        "sentiment_baseline": main.baseline_mix,
        "gates": gates,
        "merged": merged,
        "open_until": prepared.bucket_start(episode.open_until + 1).to_rfc3339(),
    });
    // The topics of the signal's comments; a phrase signal whose comments concentrate in one topic
    // is about that topic.
    let mut per_topic: BTreeMap<TopicId, u64> = BTreeMap::new();
    for &position in &support_sorted {
        if let Some(topic) = context.docs[prepared.order[position as usize]].topic {
            *per_topic.entry(topic).or_default() += 1;
        }
    }
    let mut topic_counts: Vec<(TopicId, u64)> = per_topic.into_iter().collect();
    topic_counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    evidence["topics"] = json!(topic_counts
        .iter()
        .take(5)
        .map(|(topic, comments)| json!({"topic": topic, "comments": comments}))
        .collect::<Vec<_>>());
    let topic = match main.key {
        ItemKey::Topic(topic) | ItemKey::Negative(topic) => Some(topic),
        ItemKey::Term(_) => {
            let (link, level) = phrase_link(&topic_counts, support.len(), context.topic_themes);
            if let Some((_, comments)) = link {
                evidence["link"] =
                    json!({"level": level, "comments": comments, "of": support.len()});
            }
            link.map(|(topic, _)| topic)
        }
    };
    let theme = topic.and_then(|topic| context.topic_themes.get(&topic).copied());
    if let Some(known) = topic.and_then(|topic| context.topic_known_from.get(&topic)) {
        evidence["topic_known_from"] = json!(known.to_rfc3339());
    }
    Signal {
        id,
        kind,
        label,
        first_flagged,
        window: Window {
            start: window_start,
            end: window_end,
        },
        observed,
        baseline_mean,
        baseline_std,
        score: episode.z,
        distinct_authors: authors.len() as u64,
        duplicates_ignored: members.iter().map(|&m| raw[m].duplicates_ignored).sum(),
        topic,
        theme,
        comment_ids,
        evidence,
    }
}
