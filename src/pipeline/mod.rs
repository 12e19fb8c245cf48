//! The orchestrator of `xsignal analyze`: ingest -> store -> dedup -> embed -> sentiment -> topics ->
//! trends -> index -> outputs. Each step is a call into its stage module; this file only wires them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::embed::{self, EmbeddingCache, Encoder};
use crate::error::{Error, Result};
use crate::feed::lifecycle::FeedEvent;
use crate::ingest::{self, ColumnMap, FileStats, IngestOutput};
use crate::sentiment;
use crate::text::normalize_for_dedup;
use crate::topics::{self, SentimentUnit, TopicEvent, TopicInput, TopicState};
use crate::trends::{self, TrendDoc};
use crate::types::{Comment, EnrichedComment, Lang, Reject, Sentiment, Signal, Topic, TopicId};
use crate::workspace::{Workspace, WorkspaceWriter};
use crate::{failpoint, feed, index};

/// What `analyze` needs besides the config.
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Input files (CSV, TSV, JSONL).
    pub files: Vec<PathBuf>,
    /// Column names for the inputs.
    pub columns: ColumnMap,
    /// Folder with the model files.
    pub models_dir: PathBuf,
    /// Show progress bars on stderr.
    pub progress: bool,
}

/// Seconds spent and items handled per step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StageTiming {
    /// Step name.
    pub stage: String,
    /// Items handled.
    pub items: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The outcome of one `analyze` run.
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzeSummary {
    /// Per-file ingest statistics of this run.
    pub files: Vec<FileStats>,
    /// Rows read in this run.
    pub rows_read: u64,
    /// Comments added to the workspace in this run.
    pub added: u64,
    /// Rows whose id was already in the workspace with the same content (nothing changed).
    pub already_present: u64,
    /// Rows rejected in this run.
    pub rejected: u64,
    /// Comments in the workspace after the run.
    pub total_comments: u64,
    /// Comments without a timestamp (indexed and scored, not trended).
    pub without_timestamp: u64,
    /// Comments marked as exact duplicates of an earlier one.
    pub duplicates: u64,
    /// Comments newly encoded (the rest came from the embedding cache).
    pub encoded: u64,
    /// Topics with at least one comment.
    pub topics: u64,
    /// Comments left without a topic.
    pub unassigned: u64,
    /// Signals flagged.
    pub signals: u64,
    /// Trend bucket width in seconds; `None` when the run kept the earlier outputs.
    pub bucket_seconds: Option<i64>,
    /// True when nothing new was added and the config is unchanged: the outputs were kept as they
    /// were (only new rejects were recorded).
    pub unchanged: bool,
    /// Time per step.
    pub timings: Vec<StageTiming>,
}

fn progress_bar(show: bool, length: u64, message: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

struct Timer {
    timings: Vec<StageTiming>,
}

impl Timer {
    fn time<T>(&mut self, stage: &str, items: u64, step: impl FnOnce() -> Result<T>) -> Result<T> {
        self.time_counted(stage, step, |_| items)
    }

    /// [`Timer::time`] for a stage whose item count is known once it has run.
    fn time_counted<T>(
        &mut self,
        stage: &str,
        step: impl FnOnce() -> Result<T>,
        count: impl FnOnce(&T) -> u64,
    ) -> Result<T> {
        let started = Instant::now();
        let value = step()?;
        let items = count(&value);
        self.timings.push(StageTiming {
            stage: stage.to_string(),
            items,
            seconds: started.elapsed().as_secs_f64(),
        });
        tracing::info!(
            stage,
            items,
            seconds = started.elapsed().as_secs_f64(),
            "stage finished"
        );
        Ok(value)
    }
}

/// The first comment id for each normalised text: `duplicate_of[i]` is the index of the first
/// comment with the same normalised text, or `None` for the first one.
pub fn exact_duplicates(comments: &[Comment]) -> Vec<Option<usize>> {
    let normalised: Vec<String> = comments
        .par_iter()
        .map(|comment| normalize_for_dedup(&comment.text))
        .collect();
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(comments.len());
    normalised
        .iter()
        .enumerate()
        .map(|(index, text)| {
            if text.is_empty() {
                return None;
            }
            match first.get(text.as_str()) {
                Some(&original) => Some(original),
                None => {
                    first.insert(text.as_str(), index);
                    None
                }
            }
        })
        .collect()
}

/// Memory budget of the tantivy writer (more only saves merges; indexing is a small share of the run).
const INDEX_WRITER_MEMORY: usize = 64_000_000;

/// Runs the whole pipeline over `options.files`, adding to the workspace, and commits the new
/// generation (a run that fails or dies leaves the committed one as it was).
pub fn analyze(
    workspace: WorkspaceWriter,
    config: &Config,
    options: &AnalyzeOptions,
) -> Result<AnalyzeSummary> {
    let mut timer = Timer {
        timings: Vec::new(),
    };
    // Load the topic encoder and check the sentiment model first: a missing model fails before any
    // work is done. The sentiment model is loaded after the topic encoder is dropped, so the two
    // never hold memory at the same time.
    let encoder = Encoder::load(&options.models_dir, &config.embed)?;
    config.sentiment.check(&options.models_dir, &config.embed)?;
    let encoder_fingerprint = encoder.fingerprint().to_string();
    let committed = workspace.current();
    let previous = match committed {
        Some(committed) => read_topic_state(committed, &encoder_fingerprint)?,
        None => None,
    };

    let ingested = timer.time_counted(
        "ingest",
        || ingest::ingest_files(&options.files, &options.columns, &config.ingest),
        IngestOutput::rows_read,
    )?;
    let rows_read = ingested.rows_read();
    failpoint::hit("ingest.done");

    let mut stored = workspace.load_store()?;
    let known: HashMap<&str, usize> = stored
        .iter()
        .enumerate()
        .map(|(index, comment)| (comment.id.as_str(), index))
        .collect();
    let mut new_comments = Vec::new();
    let mut rejects: Vec<Reject> = ingested.rejects;
    let mut already_present = 0u64;
    for comment in ingested.comments {
        match known.get(comment.id.as_str()) {
            Some(&index) => {
                let old = &stored[index];
                if old.text == comment.text
                    && old.timestamp == comment.timestamp
                    && old.author == comment.author
                {
                    already_present += 1;
                } else {
                    rejects.push(Reject {
                        file: comment.origin.file.clone(),
                        line: comment.origin.line,
                        field: "id".into(),
                        reason: format!(
                            "id {:?} is already in the workspace with different content (from {}:{})",
                            comment.id, old.origin.file, old.origin.line
                        ),
                    });
                }
            }
            None => new_comments.push(comment),
        }
    }
    let added = new_comments.len() as u64;
    if let Some(committed) =
        committed.filter(|committed| added == 0 && outputs_are_current(committed, config))
    {
        // Re-ingesting known ids changes nothing: keep every output, record only new rejects.
        let rejects = merge_rejects(committed, rejects)?;
        let enriched: Vec<EnrichedComment> = committed.read_jsonl("comments.jsonl")?;
        let topics: Vec<Topic> = committed.read_jsonl("topics.jsonl")?;
        let signals: Vec<Signal> = committed.read_jsonl("signals.jsonl")?;
        let summary = AnalyzeSummary {
            files: ingested.files,
            rows_read,
            added,
            already_present,
            rejected: rejects.this_run,
            total_comments: enriched.len() as u64,
            without_timestamp: enriched.iter().filter(|c| c.timestamp.is_none()).count() as u64,
            duplicates: enriched.iter().filter(|c| c.duplicate_of.is_some()).count() as u64,
            encoded: 0,
            topics: topics.len() as u64,
            unassigned: enriched.iter().filter(|c| c.topic.is_none()).count() as u64,
            signals: signals.len() as u64,
            bucket_seconds: None,
            unchanged: true,
            timings: timer.timings,
        };
        workspace.write_jsonl("rejects.jsonl", &rejects.all)?;
        write_timings(&workspace, &summary)?;
        workspace.commit()?;
        return Ok(summary);
    }
    workspace.append_store(&new_comments)?;
    stored.extend(new_comments);
    let comments = stored;
    let total = comments.len() as u64;

    let duplicate_of = exact_duplicates(&comments);

    // Embed every comment once (cached by content hash).
    let mut cache = EmbeddingCache::open(&workspace.shared_path("embeddings.bin"), encoder.dim())?;
    let cached_before = cache.len();
    let texts: Vec<&str> = comments
        .iter()
        .map(|comment| comment.text.as_str())
        .collect();
    let langs: Vec<Lang> = comments.iter().map(|comment| comment.lang).collect();
    let bar = progress_bar(options.progress, total, "embed");
    let slots = timer.time("embed", total, || {
        embed::embed_cached(&encoder, &mut cache, &texts, Some(&langs), &|done| {
            bar.inc(done as u64)
        })
    })?;
    bar.finish_and_clear();
    failpoint::hit("embed.done");
    let encoded_comments = (cache.len() - cached_before) as u64;

    // Sentences of multi-sentence comments: encoded by the topic encoder too, so each can count
    // for the topic nearest to it.
    let spans = sentiment::sentences::sentence_spans(&config.sentiment, &texts, &langs);
    let sentence_slots = timer.time("sentences", total, || {
        let sentence_texts = sentiment::sentences::sentence_texts(&texts, &spans);
        // A sentence is in its comment's language.
        let sentence_langs: Vec<Lang> = langs
            .iter()
            .zip(&spans)
            .filter(|(_, ranges)| ranges.len() > 1)
            .flat_map(|(&lang, ranges)| std::iter::repeat_n(lang, ranges.len()))
            .collect();
        embed::embed_cached(
            &encoder,
            &mut cache,
            &sentence_texts,
            Some(&sentence_langs),
            &|_| {},
        )
    })?;
    failpoint::hit("sentences.done");
    // The encoder's sessions hold a few hundred MB; the later stages do not need them.
    drop(encoder);
    let encoded = (cache.len() - cached_before) as u64;
    tracing::debug!(
        "encoded {encoded_comments} comments and {} sentences",
        encoded - encoded_comments
    );

    // Sentiment of comments and sentences, by the sentiment model (its own embedding cache).
    let mut scored = timer.time("sentiment", total, || {
        let (sentiment_encoder, head) =
            config.sentiment.load(&options.models_dir, &config.embed)?;
        let mut sentiment_cache = EmbeddingCache::open(
            &workspace.shared_path("sentiment-embeddings.bin"),
            sentiment_encoder.dim(),
        )?;
        let scorer = sentiment::sentences::Scorer {
            head: &head,
            encoder: &sentiment_encoder,
            config: &config.sentiment,
        };
        scorer.score(&mut sentiment_cache, &texts, &spans)
    })?;
    failpoint::hit("sentiment.done");
    // The sentences' topic-encoder vectors.
    let mut next = 0;
    for scored in scored.iter_mut() {
        if !scored.sentences.is_empty() {
            let count = scored.sentences.len();
            scored.sentence_slots = sentence_slots[next..next + count].to_vec();
            next += count;
        }
    }
    let embeddings: Vec<&[f32]> = slots.iter().map(|&slot| cache.vector(slot)).collect();
    let sentiments: Vec<Sentiment> = scored.iter().map(|scored| scored.sentiment).collect();

    let topic_inputs: Vec<TopicInput> = comments
        .iter()
        .zip(&embeddings)
        .zip(&sentiments)
        .zip(&duplicate_of)
        .map(
            |(((comment, embedding), sentiment), duplicate)| TopicInput {
                id: &comment.id,
                text: &comment.text,
                lang: comment.lang,
                embedding,
                sentiment: sentiment.label,
                duplicate: duplicate.is_some(),
            },
        )
        .collect();
    // Lineage needs each comment's topic before this run.
    let previous_topic: HashMap<String, TopicId> = match (&previous, committed) {
        (Some(_), Some(committed)) => committed
            .read_jsonl::<CommentTopic>("comments.jsonl")?
            .into_iter()
            .filter_map(|comment| Some((comment.id, comment.topic?)))
            .collect(),
        _ => HashMap::new(),
    };
    let last_seq = match committed {
        Some(committed) => committed
            .read_jsonl::<TopicEvent>("topic_events.jsonl")?
            .last()
            .map_or(0, |event| event.seq),
        None => 0,
    };
    let timestamps: Vec<Option<DateTime<Utc>>> =
        comments.iter().map(|comment| comment.timestamp).collect();
    let plan = topics::plan_epochs(&timestamps, previous.as_ref(), &config.topics);
    drop(timestamps);
    let (mut clustered, topic_events) = timer.time("topics", total, || {
        Ok(topics::cluster_epochs(
            &topic_inputs,
            &plan,
            previous.as_ref(),
            previous_topic,
            &config.topics,
            last_seq,
        ))
    })?;
    drop(topic_inputs);
    failpoint::hit("topics.done");
    // Topic sentiment counts sentences: a sentence counts for the topic nearest to it.
    let units: Vec<SentimentUnit> = scored
        .iter()
        .zip(&clustered.assignments)
        .flat_map(|(scored, assignment)| {
            if scored.sentences.is_empty() {
                vec![SentimentUnit::Comment(
                    assignment.as_ref().map(|assignment| assignment.topic),
                    scored.sentiment.label,
                )]
            } else {
                scored
                    .sentences
                    .iter()
                    .zip(&scored.sentence_slots)
                    .map(|(sentence, &slot)| {
                        SentimentUnit::Sentence(
                            cache.vector(slot),
                            assignment.as_ref().map(|assignment| assignment.topic),
                            sentence.label,
                        )
                    })
                    .collect()
            }
        })
        .collect();
    topics::sentence_sentiment(
        &mut clustered.topics,
        &clustered.state,
        &units,
        config.topics.sentence_min_similarity,
    );
    drop(units);

    clustered.state.encoder = Some(encoder_fingerprint);
    let state_text = serde_json::to_string(&clustered.state).expect("topic state serialises");
    workspace.write_text("topic_state.json", &state_text)?;
    workspace.append_jsonl("topic_events.jsonl", &topic_events)?;
    workspace.write_jsonl("themes.jsonl", &clustered.themes)?;

    let enriched: Vec<EnrichedComment> = comments
        .iter()
        .enumerate()
        .map(|(index, comment)| EnrichedComment {
            id: comment.id.clone(),
            lang: comment.lang,
            timestamp: comment.timestamp,
            source: comment.source.clone(),
            sentiment: sentiments[index],
            sentences: std::mem::take(&mut scored[index].sentences),
            topic: clustered.assignments[index]
                .as_ref()
                .map(|assignment| assignment.topic),
            topic_confidence: clustered.assignments[index]
                .as_ref()
                .map(|assignment| assignment.confidence),
            duplicate_of: duplicate_of[index].map(|original| comments[original].id.clone()),
        })
        .collect();

    // Comments without a timestamp are left out, so duplicate links are re-keyed to doc indices.
    let kept: Vec<bool> = comments.iter().map(|c| c.timestamp.is_some()).collect();
    let mut doc_duplicates = trends::duplicates_among_kept(&duplicate_of, &kept).into_iter();
    let trend_docs: Vec<TrendDoc> = comments
        .iter()
        .enumerate()
        .filter_map(|(index, comment)| {
            let timestamp = comment.timestamp?;
            Some(TrendDoc {
                id: &comment.id,
                timestamp,
                author: comment.author.as_deref(),
                text: &comment.text,
                lang: comment.lang,
                duplicate_of: doc_duplicates.next().flatten(),
                topic: enriched[index].topic,
                sentiment: sentiments[index].label,
            })
        })
        .collect();
    let without_timestamp = total - trend_docs.len() as u64;
    let trended = timer.time("trends", trend_docs.len() as u64, || {
        trends::detect(&trend_docs, &clustered.topics, &config.trends)
    })?;
    let data_end = trend_docs.iter().map(|doc| doc.timestamp).max();
    drop(trend_docs);
    failpoint::hit("trends.done");

    // The lifecycle feed: opened / updated / closed per signal since the last run.
    if let Some(data_end) = data_end {
        let feed_so_far: Vec<FeedEvent> = match committed {
            Some(committed) => committed.read_jsonl("feed.jsonl")?,
            None => Vec::new(),
        };
        let feed_events = feed::lifecycle::events(
            &feed_so_far,
            &trended.signals,
            data_end,
            clustered.state.run,
        );
        workspace.append_jsonl("feed.jsonl", &feed_events)?;
    }

    let index_docs: Vec<index::IndexDoc> = comments
        .iter()
        .zip(&enriched)
        .map(|(comment, enriched)| index::IndexDoc { comment, enriched })
        .collect();
    timer.time("index", total, || {
        index::build(
            &workspace.staged_path("index"),
            &index_docs,
            INDEX_WRITER_MEMORY,
        )
    })?;
    failpoint::hit("index.done");

    let rejects = match committed {
        Some(committed) => merge_rejects(committed, rejects)?,
        None => MergedRejects {
            this_run: rejects.len() as u64,
            all: rejects,
        },
    };
    let summary = AnalyzeSummary {
        files: ingested.files,
        rows_read,
        added,
        already_present,
        rejected: rejects.this_run,
        total_comments: total,
        without_timestamp,
        duplicates: duplicate_of.iter().filter(|d| d.is_some()).count() as u64,
        encoded,
        topics: clustered
            .topics
            .iter()
            .filter(|topic| topic.size > 0)
            .count() as u64,
        unassigned: enriched
            .iter()
            .filter(|comment| comment.topic.is_none())
            .count() as u64,
        signals: trended.signals.len() as u64,
        bucket_seconds: Some(trended.bucket_seconds),
        unchanged: false,
        timings: timer.timings,
    };
    write_outputs(
        &workspace,
        config,
        &enriched,
        &clustered.topics,
        &trended.signals,
        &rejects.all,
        &summary,
    )?;
    write_timings(&workspace, &summary)?;
    workspace.commit()?;
    Ok(summary)
}

/// Seconds per stage, for `timings.json`.
fn write_timings(workspace: &WorkspaceWriter, summary: &AnalyzeSummary) -> Result<()> {
    let timings = serde_json::to_string_pretty(&summary.timings).expect("timings serialise");
    workspace.write_text("timings.json", &(timings + "\n"))
}

/// The two fields of a `comments.jsonl` line that lineage needs.
#[derive(serde::Deserialize)]
struct CommentTopic {
    id: String,
    topic: Option<TopicId>,
}

/// The workspace's topic state, if any. Fails when its topics were built from another encoder's
/// vectors: their centroids cannot be compared with this encoder's (a state written before
/// encoders were recorded passes).
fn read_topic_state(workspace: &Workspace, fingerprint: &str) -> Result<Option<TopicState>> {
    match workspace.read_text("topic_state.json")? {
        Some(text) => {
            parse_topic_state(&text, &workspace.path("topic_state.json"), fingerprint).map(Some)
        }
        None => Ok(None),
    }
}

/// [`read_topic_state`] of the text of `state_path`.
fn parse_topic_state(text: &str, state_path: &Path, fingerprint: &str) -> Result<TopicState> {
    let state: TopicState = serde_json::from_str(text).map_err(|source| Error::Json {
        path: state_path.to_path_buf(),
        source,
    })?;
    match &state.encoder {
        Some(built) if built != fingerprint => Err(Error::Invalid(format!(
            "{}: the workspace's topics were built with the encoder {built}, this config's is \
             {fingerprint}; set embed.model back or start a new workspace",
            state_path.display()
        ))),
        _ => Ok(state),
    }
}

/// True when the committed generation holds outputs made with exactly this config.
fn outputs_are_current(workspace: &Workspace, config: &Config) -> bool {
    let outputs = [
        "comments.jsonl",
        "topics.jsonl",
        "signals.jsonl",
        "report.md",
    ];
    outputs.iter().all(|name| workspace.path(name).is_file())
        && workspace.read_text("config.toml").ok().flatten().as_deref()
            == Some(config.to_toml().as_str())
}

struct MergedRejects {
    all: Vec<Reject>,
    this_run: u64,
}

/// Rejects of earlier runs are kept; a reject seen before (same file, line, field, reason) is not repeated.
fn merge_rejects(workspace: &Workspace, fresh: Vec<Reject>) -> Result<MergedRejects> {
    let mut all: Vec<Reject> = workspace.read_jsonl("rejects.jsonl")?;
    let this_run = fresh.len() as u64;
    let mut seen: HashSet<Reject> = all.iter().cloned().collect();
    for reject in fresh {
        if seen.insert(reject.clone()) {
            all.push(reject);
        }
    }
    Ok(MergedRejects { all, this_run })
}

fn write_outputs(
    workspace: &WorkspaceWriter,
    config: &Config,
    enriched: &[EnrichedComment],
    topics: &[Topic],
    signals: &[Signal],
    rejects: &[Reject],
    summary: &AnalyzeSummary,
) -> Result<()> {
    workspace.write_jsonl("comments.jsonl", enriched)?;
    let listed: Vec<&Topic> = topics.iter().filter(|topic| topic.size > 0).collect();
    workspace.write_jsonl("topics.jsonl", &listed)?;
    workspace.write_jsonl("signals.jsonl", signals)?;
    workspace.write_jsonl("rejects.jsonl", rejects)?;
    workspace.write_text("config.toml", &config.to_toml())?;
    workspace.write_text(
        "report.md",
        &feed::report(summary, &listed, signals, rejects),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_of_another_encoder_are_refused() {
        let path = Path::new("topic_state.json");
        // A state from before encoders were recorded passes.
        let minilm = "all-MiniLM-L6-v2/max_tokens=128";
        assert!(parse_topic_state(r#"{"next_id":0,"topics":[]}"#, path, minilm).is_ok());
        let state = r#"{"next_id":0,"topics":[],"encoder":"all-MiniLM-L6-v2/max_tokens=128"}"#;
        let read = parse_topic_state(state, path, minilm).unwrap();
        assert_eq!(read.encoder.as_deref(), Some(minilm));
        let error = parse_topic_state(state, path, "multilingual-e5-small/max_tokens=128")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("all-MiniLM-L6-v2") && error.contains("multilingual-e5-small"),
            "{error}"
        );
    }
}
