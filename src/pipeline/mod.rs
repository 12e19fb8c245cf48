//! The orchestrator of `xsignal analyze`: ingest -> redact -> store -> dedup -> embed -> sentiment ->
//! topics -> trends -> feed -> index -> outputs. Each step is a call into its stage module, and every
//! file is read and staged through [`crate::workspace`]; this file only sequences them.

use std::path::PathBuf;

use crate::config::Config;
use crate::embed::{EmbeddingCache, Encoder};
use crate::error::Result;
use crate::ingest::{self, ColumnMap, IngestOutput};
use crate::sentiment::sentences;
use crate::summary::{IngestCounts, RunCounts};
use crate::types::{Comment, Lang, Reject};
use crate::workspace::{RunOutputs, WorkspaceWriter};
use crate::{failpoint, feed, index, privacy, text, topics, trends};

/// What `analyze` needs besides the config.
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Input files (CSV, TSV, JSONL).
    pub files: Vec<PathBuf>,
    /// Column names for the inputs.
    pub columns: ColumnMap,
    /// Folder with the model files.
    pub models_dir: PathBuf,
    /// Show progress on stderr.
    pub progress: bool,
}

mod encode;
mod join;
mod timer;

pub use crate::summary::{AnalyzeSummary, StageTiming};
use timer::Timer;

/// Memory budget of the tantivy writer (more only saves merges; indexing is a small share of the run).
const INDEX_WRITER_MEMORY: usize = 64_000_000;

/// Runs the whole pipeline over `options.files`, adding to the workspace, and commits the new
/// generation (a run that fails or dies leaves the committed one as it was).
pub fn analyze(
    workspace: WorkspaceWriter,
    config: &Config,
    options: &AnalyzeOptions,
) -> Result<AnalyzeSummary> {
    let mut timer = Timer::new(options.progress);
    // Load the topic encoder and check the sentiment model first: a missing model fails before any
    // work is done. By default the topic encoder is the sentiment model, which then runs once
    // (`encode.rs`); another topic encoder is dropped before the sentiment model is loaded, so the
    // two never hold memory at the same time.
    let encoder = Encoder::load(&options.models_dir, &config.embed)?;
    config.sentiment.check(&options.models_dir, &config.embed)?;
    let encoder_fingerprint = encoder.fingerprint().to_string();
    let previous_state = workspace.topic_state(&encoder_fingerprint)?;
    let config_toml = config.to_toml();

    let mut comments = workspace.load_store()?;
    let new = ingest_new(&workspace, &comments, config, options, &mut timer)?;
    if new.counts.added == 0 {
        if let Some(kept) = workspace.kept_outputs(&config_toml)? {
            // Re-ingesting known ids changes nothing: keep every output, record only new rejects.
            workspace.stage_rejects(&ingest::known::merge_rejects(kept.rejects, &new.rejects))?;
            let (topics, signals) = (kept.topics.len() as u64, kept.signals.len() as u64);
            let summary = AnalyzeSummary::unchanged(
                new.counts,
                &kept.comments,
                topics,
                signals,
                timer.timings,
            );
            workspace.stage_timings(&summary.timings)?;
            workspace.commit()?;
            return Ok(summary);
        }
    }
    workspace.append_store(&new.comments)?;
    comments.extend(new.comments);
    let history = workspace.history(previous_state.is_some())?;
    let total = comments.len() as u64;
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    let langs: Vec<Lang> = comments.iter().map(|c| c.lang).collect();
    let duplicate_of = text::exact_duplicates(&texts);

    // Embed every comment, and each sentence of a multi-sentence comment (so that it can count for
    // the topic nearest to it), once: cached by content hash. Score their sentiment.
    let spans = sentences::sentence_spans(&config.sentiment, &texts, &langs);
    let mut cache = EmbeddingCache::open(&workspace.shared_path("embeddings.bin"), encoder.dim())?;
    let units = encode::Units {
        texts: &texts,
        langs: &langs,
        spans: &spans,
        workspace: &workspace,
        config,
        models_dir: &options.models_dir,
    };
    let (encoded, scored) = encode::embed_and_score(encoder, &mut cache, &units, &mut timer)?;

    // Topics, continued from the previous run's state in data-time epochs.
    let embeddings: Vec<&[f32]> = encoded
        .comments
        .iter()
        .map(|&slot| cache.vector(slot))
        .collect();
    let timestamps: Vec<_> = comments.iter().map(|c| c.timestamp).collect();
    let plan = topics::plan_epochs(&timestamps, previous_state.as_ref(), &config.topics);
    let (mut clustered, topic_events) = timer.time("topics", total, || {
        let inputs = topics::inputs(&comments, &embeddings, &scored, &duplicate_of);
        Ok(topics::cluster_epochs(
            &inputs,
            &plan,
            previous_state.as_ref(),
            history.comment_topics,
            &config.topics,
            history.last_topic_event,
        ))
    })?;
    failpoint::hit("topics.done");
    let sentence_vectors: Vec<&[f32]> =
        encoded.sentences.iter().map(|&s| cache.vector(s)).collect();
    topics::sentence_sentiment(
        &mut clustered.topics,
        &clustered.state,
        &topics::sentiment_units(&scored, &clustered.assignments, &sentence_vectors),
        config.topics.sentence_min_similarity,
    );
    clustered.state.encoder = Some(encoder_fingerprint);
    if workspace.erased().is_some() {
        // An erasure keeps only the vectors of the comments that stayed.
        cache.keep_only_used()?;
    }
    let enriched = join::enrich(&comments, scored, &clustered.assignments, &duplicate_of);

    // Trends over the timestamped comments, and the lifecycle feed since the last run.
    let trend_docs = trends::docs(&comments, &enriched, &duplicate_of);
    let trended = timer.time("trends", trend_docs.len() as u64, || {
        trends::detect(&trend_docs, &clustered.topics, &config.trends)
    })?;
    failpoint::hit("trends.done");
    let feed_events = trend_docs
        .iter()
        .map(|doc| doc.timestamp)
        .max()
        .map(|data_end| {
            feed::lifecycle::events(
                &history.feed,
                &trended.signals,
                data_end,
                clustered.state.run,
            )
        });
    drop(trend_docs);

    timer.time("index", total, || {
        index::build(
            &workspace.staged_path("index"),
            &join::index_docs(&comments, &enriched),
            INDEX_WRITER_MEMORY,
        )
    })?;
    failpoint::hit("index.done");

    let listed = clustered.listed();
    let all_rejects = ingest::known::merge_rejects(history.rejects, &new.rejects);
    let run = RunCounts {
        stored: &comments,
        comments: &enriched,
        topics: listed.len() as u64,
        signals: trended.signals.len() as u64,
        encoded: encoded.count,
        cut_texts: encoded.cut_texts,
        bucket_seconds: trended.bucket_seconds,
    };
    let summary = AnalyzeSummary::finished(new.counts, run, timer.timings);
    let report = feed::report(
        &summary,
        &listed,
        &clustered.themes,
        &trended.signals,
        &all_rejects,
    );
    workspace.stage_outputs(&RunOutputs {
        topic_state: &clustered.state,
        topic_events: &topic_events,
        feed_events: feed_events.as_deref(),
        themes: &clustered.themes,
        comments: &enriched,
        topics: &listed,
        signals: &trended.signals,
        rejects: &all_rejects,
        config: &config_toml,
        report: &report,
    })?;
    workspace.stage_timings(&summary.timings)?;
    workspace.commit()?;
    Ok(summary)
}

/// The rows of a run that are new to the workspace.
struct NewRows {
    /// New comments, redacted and pseudonymised, in input order.
    comments: Vec<Comment>,
    /// Rows rejected in this run (unreadable, or an id stored with other content).
    rejects: Vec<Reject>,
    counts: IngestCounts,
}

/// Reads the run's input files and sorts their rows against the store (`stored`); nothing is kept
/// before personal data is redacted and authors are pseudonymised.
fn ingest_new(
    workspace: &WorkspaceWriter,
    stored: &[Comment],
    config: &Config,
    options: &AnalyzeOptions,
    timer: &mut Timer,
) -> Result<NewRows> {
    let pseudonym_key = privacy::PseudonymKey::load(workspace.root())?;
    let mut ingested = timer.time_counted(
        "ingest",
        || ingest::ingest_files(&options.files, &options.columns, &config.ingest),
        IngestOutput::rows_read,
    )?;
    let rows_read = ingested.rows_read();
    let redactor = privacy::Redactor::new(&config.privacy.redact);
    let redactions = timer.time("redact", rows_read, || {
        Ok(privacy::protect(
            &mut ingested.comments,
            &redactor,
            &pseudonym_key,
        ))
    })?;
    failpoint::hit("ingest.done");
    let sorted = ingest::known::sort_against_store(stored, ingested.comments);
    let mut rejects = ingested.rejects;
    rejects.extend(sorted.rejects);
    let counts = IngestCounts {
        files: ingested.files,
        rows_read,
        added: sorted.new.len() as u64,
        already_present: sorted.already_present,
        redactions,
        erased: workspace.erased().unwrap_or(0),
        rejected: rejects.len() as u64,
    };
    Ok(NewRows {
        comments: sorted.new,
        rejects,
        counts,
    })
}
