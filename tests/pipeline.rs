//! The whole pipeline on a small generated corpus with the real model.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::common::{
    analyze_corpus, demo_corpus, model_available, read_jsonl, run, small_corpus, xsignal,
};

/// Which truth entry (event or noise name) holds a strict majority of a signal's comments, if any.
fn majority_label(signal: &serde_json::Value, labels: &HashMap<String, String>) -> Option<String> {
    let ids = signal["comment_ids"].as_array().expect("comment_ids");
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        if let Some(label) = labels.get(id.as_str().unwrap()) {
            *counts.entry(label).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .find(|(_, count)| *count * 2 > ids.len())
        .map(|(label, _)| label.to_string())
}

fn truth_labels(corpus: &Path) -> (HashMap<String, String>, Vec<String>, Vec<String>) {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("score/truth.json")).unwrap())
            .unwrap();
    let mut labels = HashMap::new();
    let mut events = Vec::new();
    let mut noise = Vec::new();
    for (key, names) in [("events", &mut events), ("noise", &mut noise)] {
        for entry in truth[key].as_array().unwrap() {
            let name = entry["name"].as_str().unwrap().to_string();
            for id in entry["ids"].as_array().unwrap() {
                labels.insert(id.as_str().unwrap().to_string(), name.clone());
            }
            names.push(name);
        }
    }
    (labels, events, noise)
}

#[test]
fn small_corpus_end_to_end_is_deterministic() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let corpus = temp.path().join("corpus");
    small_corpus(&corpus);
    let one = temp.path().join("ws1");
    let two = temp.path().join("ws2");
    analyze_corpus(&corpus, &one, 1);
    analyze_corpus(&corpus, &two, 2);

    // Deterministic at any thread count.
    for name in [
        "comments.jsonl",
        "topics.jsonl",
        "signals.jsonl",
        "rejects.jsonl",
        "report.md",
        "themes.jsonl",
        "topic_events.jsonl",
        "feed.jsonl",
    ] {
        let a = std::fs::read(one.join(name)).unwrap();
        let b = std::fs::read(two.join(name)).unwrap();
        assert!(a == b, "{name} differs between 1 and 2 threads");
    }

    // Every comment has an enriched line; duplicates point to an earlier comment.
    let comments = read_jsonl(&one.join("comments.jsonl"));
    let ids: HashSet<&str> = comments.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), comments.len(), "ids are unique");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("score/truth.json")).unwrap())
            .unwrap();
    let flood_ids: HashSet<&str> = truth["noise"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|noise| noise["kind"] == "duplicate_flood")
        .flat_map(|noise| noise["ids"].as_array().unwrap())
        .map(|id| id.as_str().unwrap())
        .collect();
    assert!(flood_ids.len() > 10);
    let flood_marked = comments
        .iter()
        .filter(|c| flood_ids.contains(c["id"].as_str().unwrap()) && !c["duplicate_of"].is_null())
        .count();
    assert_eq!(
        flood_marked,
        flood_ids.len() - 1,
        "every copy of the flood but the first is marked duplicate_of"
    );
    for comment in &comments {
        let score = comment["sentiment"]["score"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&score));
        if let Some(original) = comment["duplicate_of"].as_str() {
            assert!(ids.contains(original));
        }
    }
    let topics = read_jsonl(&one.join("topics.jsonl"));
    assert!(topics.len() >= 3, "several topics");
    for topic in &topics {
        assert!(!topic["label"].as_str().unwrap().is_empty());
        assert!(!topic["representatives"].as_array().unwrap().is_empty());
    }

    // Bad rows are reported with file, line, field and reason.
    let rejects = read_jsonl(&one.join("rejects.jsonl"));
    assert!(rejects.len() >= 4, "bad rows rejected: {}", rejects.len());
    for reject in &rejects {
        assert!(reject["file"].as_str().unwrap().contains("bad_rows"));
        assert!(reject["line"].as_u64().unwrap() >= 2);
        assert!(!reject["field"].as_str().unwrap().is_empty());
        assert!(!reject["reason"].as_str().unwrap().is_empty());
    }

    // Lineage and lifecycle feeds: versioned lines with gapless sequence numbers.
    for name in ["topic_events.jsonl", "feed.jsonl"] {
        let events = read_jsonl(&one.join(name));
        assert!(
            name == "feed.jsonl" || !events.is_empty(),
            "{name} is empty"
        );
        for (index, event) in events.iter().enumerate() {
            let schema = if name == "feed.jsonl" { 1 } else { 2 };
            assert_eq!(event["schema"], schema, "{name}");
            assert_eq!(event["seq"].as_u64(), Some(index as u64 + 1), "{name}");
        }
    }
    // Two runs (the CSV, then the JSONL files): every listed topic was born in one of them.
    let events = read_jsonl(&one.join("topic_events.jsonl"));
    for topic in &topics {
        assert!(
            events
                .iter()
                .any(|event| event["event"] == "born" && event["topic"] == topic["id"]),
            "topic {} has no born event",
            topic["id"]
        );
    }
    assert!(events.iter().any(|event| event["run"] == 2));
    let themes = read_jsonl(&one.join("themes.jsonl"));
    let themed: usize = themes
        .iter()
        .map(|theme| theme["topics"].as_array().unwrap().len())
        .sum();
    // Spam and floods are not subjects: they are in no theme; every subject is in one.
    let subjects: Vec<_> = topics
        .iter()
        .filter(|topic| topic["kind"] == "subject")
        .collect();
    assert!(
        subjects.len() < topics.len(),
        "the planted spam or flood is marked"
    );
    assert!(topics
        .iter()
        .filter(|topic| topic["kind"] != "subject")
        .all(|topic| topic["theme"].is_null()));
    assert_eq!(
        themed,
        subjects.len(),
        "every subject topic is in one theme"
    );

    // Re-ingesting the same files changes nothing, feeds included.
    let before: Vec<Vec<u8>> = ["comments.jsonl", "topic_events.jsonl", "feed.jsonl"]
        .iter()
        .map(|name| std::fs::read(one.join(name)).unwrap())
        .collect();
    analyze_corpus(&corpus, &one, 2);
    for (name, before) in ["comments.jsonl", "topic_events.jsonl", "feed.jsonl"]
        .iter()
        .zip(&before)
    {
        assert!(
            *before == std::fs::read(one.join(name)).unwrap(),
            "re-ingest changed {name}"
        );
    }
    assert_eq!(
        read_jsonl(&one.join("rejects.jsonl")).len(),
        rejects.len(),
        "rejects are not repeated"
    );

    // Queries for analysts.
    let output = run(xsignal()
        .args(["search", "firmware", "--json", "--workspace"])
        .arg(&one));
    assert!(output.status.success());
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        results["total"].as_u64().unwrap() > 10,
        "search finds the planted issue"
    );
    let output = run(xsignal()
        .args([
            "search",
            "*",
            "--sentiment",
            "negative",
            "--json",
            "--workspace",
        ])
        .arg(&one));
    let negatives: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for hit in negatives["hits"].as_array().unwrap() {
        assert_eq!(hit["sentiment"], "negative");
    }
    let output = run(xsignal()
        .args(["topics", "--json", "--workspace"])
        .arg(&one));
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        topics.len()
    );

    // Filters match values in any case.
    let count = |args: &[&str]| {
        let output = run(xsignal()
            .args(["search", "--json", "--limit", "0", "--workspace"])
            .arg(&one)
            .args(args));
        assert!(output.status.success(), "{args:?}");
        let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        results["total"].as_u64().unwrap()
    };
    let appstore = count(&["--source", "appstore"]);
    assert!(appstore > 0);
    assert_eq!(count(&["--source", "AppStore"]), appstore);
    assert_eq!(count(&["source:APPSTORE"]), appstore);

    // Export: every comment with its text, as CSV and Parquet.
    let csv_path = temp.path().join("all.csv");
    let output = run(xsignal()
        .args(["export", "--workspace"])
        .arg(&one)
        .arg("--out")
        .arg(&csv_path));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(&reader.headers().unwrap()[1], "text");
    let exported = reader.records().count();
    assert_eq!(exported, comments.len());
    let parquet_path = temp.path().join("appstore.parquet");
    let output = run(xsignal()
        .args(["export", "--source", "AppStore", "--workspace"])
        .arg(&one)
        .arg("--out")
        .arg(&parquet_path));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!("wrote {appstore} comments")),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(&std::fs::read(&parquet_path).unwrap()[..4], b"PAR1");

    // One topic with its representative and most recent comments, with their text.
    let first_topic = topics[0]["id"].as_u64().unwrap().to_string();
    let output = run(xsignal()
        .args(["topics", "--id", &first_topic, "--workspace"])
        .arg(&one));
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("representative comments:\n  "), "{text}");
    assert!(text.contains("most recent comments:\n  "), "{text}");

    // A signal explained as text by its number.
    if !read_jsonl(&one.join("signals.jsonl")).is_empty() {
        let output = run(xsignal()
            .args(["trends", "--explain", "1", "--workspace"])
            .arg(&one));
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.starts_with("#1  "), "{text}");
        assert!(text.contains("baseline "), "{text}");
        assert!(text.contains("its comments "), "{text}");
    }
}

#[test]
fn demo_corpus_flags_the_planted_issue_and_no_noise() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let corpus = temp.path().join("corpus");
    demo_corpus(&corpus);
    let one = temp.path().join("ws");
    analyze_corpus(&corpus, &one, 2);
    // The planted issue is flagged; none of the planted noise is.
    let (labels, events, noise) = truth_labels(&corpus);
    let signals = read_jsonl(&one.join("signals.jsonl"));
    let flagged: Vec<Option<String>> = signals
        .iter()
        .map(|signal| majority_label(signal, &labels))
        .collect();
    for event in &events {
        // One signal per event, not one per facet or language.
        let about: Vec<&serde_json::Value> = signals
            .iter()
            .zip(&flagged)
            .filter(|(_, label)| label.as_ref() == Some(event))
            .map(|(signal, _)| signal)
            .collect();
        assert_eq!(about.len(), 1, "event {event}: {flagged:?}");
        // The planted issue (onset 2026-02-12, a few comments a day at first) is new: nobody wrote
        // about its subject before. The novelty path flags it within its first five days.
        let first_flagged = about[0]["first_flagged"].as_str().unwrap();
        assert!(
            first_flagged < "2026-02-17T00:00:01",
            "event {event} first flagged {first_flagged}"
        );
    }
    for name in &noise {
        assert!(
            !flagged.iter().any(|label| label.as_ref() == Some(name)),
            "noise {name} flagged"
        );
    }
    for signal in &signals {
        for key in [
            "id",
            "kind",
            "label",
            "first_flagged",
            "window",
            "observed",
            "baseline_mean",
            "baseline_std",
            "score",
            "distinct_authors",
            "duplicates_ignored",
            "topic",
            "comment_ids",
        ] {
            assert!(signal.get(key).is_some(), "signal lacks {key}");
        }
    }

    // The backtest scorer agrees: the event is found (its latency is long: a slow burn), no noise.
    let output = run(xsignal()
        .args([
            "backtest",
            "--score-only",
            "--tolerance-hours",
            "1000",
            "--json",
        ])
        .arg("--truth")
        .arg(corpus.join("score/truth.json"))
        .arg("--workspace")
        .arg(&one));
    assert!(output.status.success());
    let scores: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(scores["recall"], 1.0, "{scores}");
    for (kind, count) in scores["noise_flags"].as_object().unwrap() {
        assert_eq!(count, 0, "{kind} flagged");
    }
    // Every signal was opened in the lifecycle feed.
    let feed = read_jsonl(&one.join("feed.jsonl"));
    for signal in &signals {
        assert!(feed
            .iter()
            .any(|event| event["event"] == "opened" && event["signal_id"] == signal["id"]));
    }

    let first = &signals[0];
    {
        let id = first["id"].as_str().unwrap();
        let output = run(xsignal()
            .args(["trends", "--explain", id, "--workspace"])
            .arg(&one));
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout);
        for expected in ["first flagged", "observed", "baseline", "its comments"] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let output = run(xsignal()
            .args(["trends", "--explain", id, "--json", "--workspace"])
            .arg(&one));
        assert!(output.status.success());
        let explained: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(explained["id"], first["id"]);
        assert!(explained["evidence"].is_object());
    }
}

/// Analyzes `files` into `workspace` in one run.
fn analyze_files(workspace: &Path, files: &[&Path]) {
    let output = run(xsignal()
        .args(["--threads", "2", "analyze", "--workspace"])
        .arg(workspace)
        .args(files));
    assert!(output.status.success());
}

#[test]
fn daily_files_replay_equals_one_run() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let corpus = temp.path().join("corpus");
    demo_corpus(&corpus);
    // Every comment of the demo as a JSONL row, in timestamp order (file order on ties)...
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut reader = csv::Reader::from_path(corpus.join("reviews.csv")).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let row = serde_json::json!({
            "id": &record[0], "text": &record[1], "timestamp": &record[2], "author": &record[3],
            "source": &record[4], "lang": &record[5], "rating": record[6].parse::<f64>().unwrap(),
        });
        rows.push((record[2].to_string(), row.to_string()));
    }
    for name in ["social.jsonl", "feedback360.jsonl"] {
        for line in std::fs::read_to_string(corpus.join(name)).unwrap().lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            rows.push((
                row["timestamp"].as_str().unwrap().to_string(),
                line.to_string(),
            ));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    // ... in one file, and cut into one file per UTC day.
    let mut days: Vec<(String, String)> = Vec::new();
    for (timestamp, line) in &rows {
        let day = &timestamp[..10];
        match days.last_mut() {
            Some((last, text)) if last == day => text.push_str(&format!("{line}\n")),
            _ => days.push((day.to_string(), format!("{line}\n"))),
        }
    }
    assert!(days.len() >= 30, "{} days", days.len());
    let all = temp.path().join("all.jsonl");
    std::fs::write(
        &all,
        days.iter()
            .map(|(_, text)| text.as_str())
            .collect::<String>(),
    )
    .unwrap();

    let single = temp.path().join("single");
    analyze_files(&single, &[&all]);
    // The replay starts with the single run's embedding caches: it encodes nothing.
    let replay = temp.path().join("replay");
    std::fs::create_dir_all(&replay).unwrap();
    for cache in ["embeddings.bin", "sentiment-embeddings.bin"] {
        std::fs::copy(single.join(cache), replay.join(cache)).unwrap();
    }
    for (day, text) in &days {
        let file = temp.path().join(format!("{day}.jsonl"));
        std::fs::write(&file, text).unwrap();
        analyze_files(&replay, &[&file]);
    }

    let signals = read_jsonl(&single.join("signals.jsonl"));
    assert!(!signals.is_empty(), "the stream has signals to compare");
    for name in [
        "signals.jsonl",
        "topics.jsonl",
        "comments.jsonl",
        "themes.jsonl",
    ] {
        let a = std::fs::read(single.join(name)).unwrap();
        let b = std::fs::read(replay.join(name)).unwrap();
        assert!(a == b, "{name}: the daily replay differs from one run");
    }
    // The replay's lineage is dated by data day, like the single run's: same born events.
    let born = |workspace: &Path| -> Vec<(serde_json::Value, serde_json::Value)> {
        read_jsonl(&workspace.join("topic_events.jsonl"))
            .into_iter()
            .filter(|event| event["event"] == "born")
            .map(|event| (event["topic"].clone(), event["epoch"].clone()))
            .collect()
    };
    assert_eq!(born(&single), born(&replay));
    // Its feed grew day by day: gapless, and each signal's last state is the single run's.
    let last_events = |workspace: &Path| -> HashMap<String, serde_json::Value> {
        let feed = read_jsonl(&workspace.join("feed.jsonl"));
        for (index, event) in feed.iter().enumerate() {
            assert_eq!(event["seq"].as_u64(), Some(index as u64 + 1));
        }
        feed.into_iter()
            .map(|event| (event["signal_id"].as_str().unwrap().to_string(), event))
            .collect()
    };
    let (single_feed, replay_feed) = (last_events(&single), last_events(&replay));
    let history = |id: &str| -> Vec<String> {
        read_jsonl(&replay.join("feed.jsonl"))
            .into_iter()
            .filter(|event| event["signal_id"] == id)
            .map(|event| format!("{} {} {}", event["as_of"], event["event"], event["reason"]))
            .collect()
    };
    for signal in &signals {
        let id = signal["id"].as_str().unwrap();
        let (a, b) = (&single_feed[id], &replay_feed[id]);
        assert_ne!(b["event"], "closed", "{id}: {:?}", history(id));
        assert_eq!(a["digest"], b["digest"], "{id}");
    }
}

/// Clusters `tests/fixtures/bilingual_topics.jsonl` (English and German comments on eight
/// subjects, eight of each per language) with `model` and returns, over pairs of comments on the same
/// subject, the share in one topic: (pairs of an English and a German comment, pairs in one
/// language).
fn same_topic_shares(model: &str) -> (f64, f64) {
    use xsignal::embed::{EmbedConfig, Encoder};
    use xsignal::topics::{cluster, TopicsConfig};
    use xsignal::types::Lang;

    let rows = xsignal::eval::read_labelled(
        &crate::common::root().join("tests/fixtures/bilingual_topics.jsonl"),
    )
    .expect("fixture reads");
    let config = EmbedConfig {
        model: model.to_string(),
        ..EmbedConfig::default()
    };
    let encoder =
        Encoder::load(&crate::common::root().join("models"), &config).expect("model loads");
    let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
    let langs: Vec<Lang> = rows.iter().map(|row| row.lang).collect();
    let vectors = encoder
        .embed_in(&texts, Some(&langs), &|_| {})
        .expect("embeds");
    let inputs = xsignal::eval::topic_inputs(&rows, &vectors);
    let result = cluster(&inputs, None, &TopicsConfig::default());
    let (mut cross, mut cross_same, mut within, mut within_same) = (0, 0, 0, 0);
    for (i, a) in rows.iter().enumerate() {
        for (j, b) in rows.iter().enumerate().skip(i + 1) {
            if a.label != b.label {
                continue;
            }
            let same = result.assignments[i].map(|x| x.topic).is_some()
                && result.assignments[i].map(|x| x.topic) == result.assignments[j].map(|x| x.topic);
            if a.lang == b.lang {
                within += 1;
                within_same += usize::from(same);
            } else {
                cross += 1;
                cross_same += usize::from(same);
            }
        }
    }
    (
        cross_same as f64 / cross as f64,
        within_same as f64 / within as f64,
    )
}

#[test]
fn english_and_german_on_one_subject_share_a_topic() {
    if !model_available() {
        return;
    }
    let default = xsignal::embed::EmbedConfig::default().model;
    for model in [default.as_str(), "multilingual-e5-small"] {
        let (cross, within) = same_topic_shares(model);
        eprintln!("{model}: same topic for {cross:.3} of cross-language pairs, {within:.3} within a language");
        assert!(cross >= 0.9, "{model}: {cross}");
        assert!(cross >= within - 0.1, "{model}: {cross} against {within}");
    }
    // Control: the English-only encoder keeps the languages apart.
    let (cross, within) = same_topic_shares("all-MiniLM-L6-v2");
    eprintln!("all-MiniLM-L6-v2: same topic for {cross:.3} of cross-language pairs, {within:.3} within a language");
    assert!(cross < 0.5, "{cross}");
}

#[test]
fn one_pass_gives_the_topic_encoders_vectors() {
    use xsignal::embed::{derive_cached, embed_cached, EmbedConfig, EmbeddingCache, Encoder};
    use xsignal::types::Lang;

    if !model_available() {
        return;
    }
    // The default topic encoder is the sentiment model with its center: the vectors a run derives
    // from the sentiment pass equal the ones the centred encoder gives directly.
    let config = EmbedConfig::default();
    let encoder =
        Encoder::load(&crate::common::root().join("models"), &config).expect("model loads");
    let texts = [
        "The thermostat reboots every night since the update.",
        "Seit dem Update startet das Thermostat jede Nacht neu.",
        "Great support, they called back the same day!",
    ];
    let langs = [Lang::En, Lang::De, Lang::En];
    let direct = encoder.embed_in(&texts, Some(&langs), &|_| {}).unwrap();
    let (plain, centring) = encoder.split_center();
    let temp = tempfile::tempdir().unwrap();
    let mut plain_cache =
        EmbeddingCache::open(&temp.path().join("plain.bin"), plain.dim()).unwrap();
    let slots = embed_cached(&plain, &mut plain_cache, &texts, None, &|_| {}).unwrap();
    let mut cache = EmbeddingCache::open(&temp.path().join("topics.bin"), plain.dim()).unwrap();
    let derived =
        derive_cached(&centring, &mut cache, &texts, &langs, &plain_cache, &slots).unwrap();
    for (index, (vector, &slot)) in direct.iter().zip(&derived).enumerate() {
        let cosine = xsignal::embed::cosine(vector, cache.vector(slot));
        assert!(cosine > 0.9999, "text {index}: {cosine}");
        // The plain vector is another one: the sentiment head reads it, the topics do not.
        assert!(xsignal::embed::cosine(vector, plain_cache.vector(slots[index])) < 0.9);
    }
}
