//! The orchestrator of `xsignal analyze`: ingest -> store -> dedup -> embed -> sentiment -> topics ->
//! trends -> index -> outputs. Each step is a call into its stage module; this file only wires them.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::embed::{self, EmbeddingCache, Encoder};
use crate::error::Result;
use crate::feed::lifecycle::FeedEvent;
use crate::ingest::{self, ColumnMap, IngestOutput};
use crate::privacy;
use crate::sentiment;
use crate::topics::{self, SentimentUnit, TopicEvent, TopicInput, TopicState};
use crate::trends::{self, TrendDoc};
use crate::types::{EnrichedComment, Lang, Reject, Sentiment, Signal, Topic, TopicId};
use crate::workspace::{Workspace, WorkspaceWriter};
use crate::{failpoint, feed, index, text};

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

mod timer;

pub use crate::summary::{AnalyzeSummary, StageTiming};
use timer::{progress_bar, Timer};

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

    let pseudonym_key = privacy::PseudonymKey::load(workspace.root())?;
    let mut ingested = timer.time_counted(
        "ingest",
        || ingest::ingest_files(&options.files, &options.columns, &config.ingest),
        IngestOutput::rows_read,
    )?;
    let rows_read = ingested.rows_read();
    // Nothing is stored before personal data is redacted and authors are pseudonymised.
    let redactor = privacy::Redactor::new(&config.privacy.redact);
    let redactions = timer.time("redact", rows_read, || {
        Ok(privacy::protect(
            &mut ingested.comments,
            &redactor,
            &pseudonym_key,
        ))
    })?;
    failpoint::hit("ingest.done");

    let mut stored = workspace.load_store()?;
    let sorted = ingest::known::sort_against_store(&stored, ingested.comments);
    let new_comments = sorted.new;
    let already_present = sorted.already_present;
    let mut rejects: Vec<Reject> = ingested.rejects;
    rejects.extend(sorted.rejects);
    let added = new_comments.len() as u64;
    if let Some(committed) =
        committed.filter(|committed| added == 0 && outputs_are_current(committed, config))
    {
        // Re-ingesting known ids changes nothing: keep every output, record only new rejects.
        let all_rejects =
            ingest::known::merge_rejects(committed.read_jsonl("rejects.jsonl")?, &rejects);
        let enriched: Vec<EnrichedComment> = committed.read_jsonl("comments.jsonl")?;
        let topics: Vec<Topic> = committed.read_jsonl("topics.jsonl")?;
        let signals: Vec<Signal> = committed.read_jsonl("signals.jsonl")?;
        let summary = AnalyzeSummary {
            files: ingested.files,
            rows_read,
            added,
            already_present,
            redactions,
            erased: workspace.erased().unwrap_or(0),
            rejected: rejects.len() as u64,
            total_comments: enriched.len() as u64,
            without_timestamp: enriched.iter().filter(|c| c.timestamp.is_none()).count() as u64,
            duplicates: enriched.iter().filter(|c| c.duplicate_of.is_some()).count() as u64,
            encoded: 0,
            cut_texts: 0,
            topics: topics.len() as u64,
            unassigned: enriched.iter().filter(|c| c.topic.is_none()).count() as u64,
            signals: signals.len() as u64,
            ratings: None,
            bucket_seconds: None,
            unchanged: true,
            timings: timer.timings,
        };
        workspace.write_jsonl("rejects.jsonl", &all_rejects)?;
        write_timings(&workspace, &summary)?;
        workspace.commit()?;
        return Ok(summary);
    }
    workspace.append_store(&new_comments)?;
    stored.extend(new_comments);
    let comments = stored;
    let total = comments.len() as u64;

    let texts: Vec<&str> = comments
        .iter()
        .map(|comment| comment.text.as_str())
        .collect();
    let duplicate_of = text::exact_duplicates(&texts);

    // Embed every comment once (cached by content hash).
    let mut cache = EmbeddingCache::open(&workspace.shared_path("embeddings.bin"), encoder.dim())?;
    let cached_before = cache.len();
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
    let cut_texts = encoder.cut_texts() as u64;

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
        let calibration = config
            .sentiment
            .load_calibration(&options.models_dir, sentiment_encoder.fingerprint())?;
        let mut sentiment_cache = EmbeddingCache::open(
            &workspace.shared_path("sentiment-embeddings.bin"),
            sentiment_encoder.dim(),
        )?;
        let scorer = sentiment::sentences::Scorer {
            head: &head,
            encoder: &sentiment_encoder,
            config: &config.sentiment,
            calibration: calibration.as_ref(),
        };
        let scored = scorer.score(&mut sentiment_cache, &texts, &langs, &spans)?;
        if workspace.erased().is_some() {
            sentiment_cache.keep_only_used()?;
        }
        Ok(scored)
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
                author: comment.author.as_deref(),
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
    if workspace.erased().is_some() {
        // An erasure keeps only the vectors of the comments that stayed.
        cache.keep_only_used()?;
    }

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

    let earlier_rejects = match committed {
        Some(committed) => committed.read_jsonl("rejects.jsonl")?,
        None => Vec::new(),
    };
    let all_rejects = ingest::known::merge_rejects(earlier_rejects, &rejects);
    let summary = AnalyzeSummary {
        files: ingested.files,
        rows_read,
        added,
        already_present,
        redactions,
        erased: workspace.erased().unwrap_or(0),
        rejected: rejects.len() as u64,
        total_comments: total,
        without_timestamp,
        duplicates: duplicate_of.iter().filter(|d| d.is_some()).count() as u64,
        encoded,
        cut_texts,
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
        ratings: sentiment::ratings::agreement(
            &comments
                .iter()
                .zip(&sentiments)
                .filter_map(|(comment, sentiment)| Some((comment.rating?, sentiment.label)))
                .collect::<Vec<_>>(),
        ),
        bucket_seconds: Some(trended.bucket_seconds),
        unchanged: false,
        timings: timer.timings,
    };
    write_outputs(
        &workspace,
        config,
        &enriched,
        &clustered,
        &trended.signals,
        &all_rejects,
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

/// The committed generation's topic state, if any (refused when built from another encoder).
fn read_topic_state(workspace: &Workspace, fingerprint: &str) -> Result<Option<TopicState>> {
    match workspace.read_text("topic_state.json")? {
        Some(text) => {
            TopicState::from_stored(&text, &workspace.path("topic_state.json"), fingerprint)
                .map(Some)
        }
        None => Ok(None),
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

fn write_outputs(
    workspace: &WorkspaceWriter,
    config: &Config,
    enriched: &[EnrichedComment],
    clustered: &topics::TopicsResult,
    signals: &[Signal],
    rejects: &[Reject],
    summary: &AnalyzeSummary,
) -> Result<()> {
    workspace.write_jsonl("comments.jsonl", enriched)?;
    let listed: Vec<&Topic> = clustered
        .topics
        .iter()
        .filter(|topic| topic.size > 0)
        .collect();
    workspace.write_jsonl("topics.jsonl", &listed)?;
    workspace.write_jsonl("signals.jsonl", signals)?;
    workspace.write_jsonl("rejects.jsonl", rejects)?;
    workspace.write_text("config.toml", &config.to_toml())?;
    workspace.write_text(
        "report.md",
        &feed::report(summary, &listed, &clustered.themes, signals, rejects),
    )?;
    Ok(())
}
