//! One committed generation of the workspace, loaded whole, and the switch to a newer one.
//!
//! A [`Snapshot`] holds everything the API reads: the opened index, the signals, topics, themes,
//! lineage and feed, the enriched comments and the store (text and metadata). It is built from
//! the generation `current` names ([`Workspace::open_existing`]), so it never sees a run that is
//! still being written, and it is immutable: a request works on one snapshot from start to end.
//! [`Snapshots::get`] compares the generation it holds with the one `current` names (one
//! `readlink`) on every request and loads the newer one when they differ; until the load
//! finishes, requests keep the old one. A generation that cannot be loaded (removed by two quick
//! commits while it was read) is logged and tried again on the next request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::error::Result;
use crate::feed::lifecycle::{FeedEvent, FeedEventKind};
use crate::query::IndexSearcher;
use crate::topics::lineage::TopicEvent;
use crate::topics::themes::Theme;
use crate::types::{Comment, EnrichedComment, Signal, Topic};
use crate::workspace::Workspace;

/// Everything the API serves from one committed generation.
pub struct Snapshot {
    /// The generation's number (0 for a workspace of the flat layout).
    pub generation: u64,
    /// The opened index.
    pub searcher: IndexSearcher,
    /// `signals.jsonl`.
    pub signals: Vec<Signal>,
    /// `topics.jsonl`.
    pub topics: Vec<Topic>,
    /// `themes.jsonl`.
    pub themes: Vec<Theme>,
    /// `topic_events.jsonl`.
    pub topic_events: Vec<TopicEvent>,
    /// `feed.jsonl`, in `seq` order.
    pub feed: Vec<FeedEvent>,
    /// `comments.jsonl`.
    pub enriched: Vec<EnrichedComment>,
    /// The committed store: text, author and metadata of every comment.
    pub store: Vec<Comment>,
    /// The pipeline config the run used (`config.toml`; the default when absent).
    pub config: Config,
    enriched_by_id: HashMap<String, usize>,
    store_by_id: HashMap<String, usize>,
    closed: HashMap<String, bool>,
}

impl Snapshot {
    /// Loads the committed generation of the workspace `root`.
    pub fn load(root: &Path) -> Result<Snapshot> {
        let workspace = Workspace::open_existing(root)?;
        let searcher = IndexSearcher::open(&workspace.index_dir())?;
        let config = Config::of_workspace(&workspace)?;
        let enriched: Vec<EnrichedComment> = workspace.comments()?;
        let store = workspace.load_store()?;
        let mut feed: Vec<FeedEvent> = workspace.feed()?;
        feed.sort_by_key(|event| event.seq);
        let mut closed = HashMap::new();
        for event in &feed {
            closed.insert(
                event.signal_id.clone(),
                event.event == FeedEventKind::Closed,
            );
        }
        let index_of = |ids: &mut dyn Iterator<Item = &String>| -> HashMap<String, usize> {
            let mut map = HashMap::new();
            for (position, id) in ids.enumerate() {
                // The first occurrence wins, as in the store.
                map.entry(id.clone()).or_insert(position);
            }
            map
        };
        Ok(Snapshot {
            generation: workspace.generation().unwrap_or(0),
            searcher,
            signals: workspace.signals()?,
            topics: workspace.topics()?,
            themes: workspace.themes()?,
            topic_events: workspace.topic_events()?,
            enriched_by_id: index_of(&mut enriched.iter().map(|comment| &comment.id)),
            store_by_id: index_of(&mut store.iter().map(|comment| &comment.id)),
            enriched,
            store,
            feed,
            config,
            closed,
        })
    }

    /// The stored comment `id`.
    pub fn comment(&self, id: &str) -> Option<&Comment> {
        self.store_by_id.get(id).map(|&index| &self.store[index])
    }

    /// The enrichments of comment `id`.
    pub fn enriched(&self, id: &str) -> Option<&EnrichedComment> {
        self.enriched_by_id
            .get(id)
            .map(|&index| &self.enriched[index])
    }

    /// True when the feed's last event of signal `id` closed it.
    pub fn is_closed(&self, id: &str) -> bool {
        self.closed.get(id).copied().unwrap_or(false)
    }
}

/// The snapshot being served, and the switch to a newer generation.
pub struct Snapshots {
    root: PathBuf,
    current: RwLock<Arc<Snapshot>>,
    loading: tokio::sync::Mutex<()>,
}

impl Snapshots {
    /// Loads the committed generation of `root` (an error when there is none).
    pub fn open(root: &Path) -> Result<Snapshots> {
        let first = Snapshot::load(root)?;
        Ok(Snapshots {
            root: root.to_path_buf(),
            current: RwLock::new(Arc::new(first)),
            loading: tokio::sync::Mutex::new(()),
        })
    }

    fn held(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn is_current(&self, held: &Snapshot) -> bool {
        match Workspace::committed_generation(&self.root) {
            Some(generation) => generation == held.generation,
            // A flat-layout workspace has no generations; nothing to switch to.
            None => held.generation == 0,
        }
    }

    /// The snapshot of the committed generation, loading it first when `current` moved on.
    pub async fn get(&self) -> Arc<Snapshot> {
        let held = self.held();
        if self.is_current(&held) {
            return held;
        }
        let _loading = self.loading.lock().await;
        let held = self.held();
        if self.is_current(&held) {
            return held;
        }
        let root = self.root.clone();
        match tokio::task::spawn_blocking(move || Snapshot::load(&root)).await {
            Ok(Ok(loaded)) => {
                let loaded = Arc::new(loaded);
                tracing::info!(generation = loaded.generation, "serving a new generation");
                *self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = loaded.clone();
                loaded
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot load the new generation yet; serving the previous one");
                held
            }
            Err(error) => {
                tracing::warn!(%error, "loading the new generation failed; serving the previous one");
                held
            }
        }
    }
}
