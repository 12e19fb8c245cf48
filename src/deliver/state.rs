//! The delivery position of each webhook, kept in the workspace (`deliver.json`) so that it
//! survives restarts: the `seq` of the last event the webhook acknowledged and a digest of that
//! event's body. The file is replaced atomically after every acknowledged event
//! ([`crate::workspace::write_deliver_state`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::feed::lifecycle::FeedEvent;
use crate::workspace;

/// Version of the `deliver.json` format.
const STATE_FORMAT: u32 = 1;

/// `deliver.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: u32,
    /// Position per webhook URL.
    webhooks: BTreeMap<String, Position>,
}

/// Where one webhook stands in the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// The `seq` of the last event the webhook acknowledged.
    pub seq: u64,
    /// sha256 of that event's body, in hex: tells a feed that was started over (a reset
    /// workspace) from the one delivered.
    pub body_sha256: String,
}

/// The positions of every webhook of a workspace, shared by the webhooks' threads.
#[derive(Debug)]
pub(crate) struct Positions {
    root: PathBuf,
    state: Mutex<StateFile>,
}

impl Positions {
    /// Reads the positions of the workspace `root` (none yet: every webhook starts at the
    /// beginning of the feed).
    pub(crate) fn load(root: &Path) -> Result<Positions> {
        let state = match workspace::read_deliver_state(root)? {
            None => StateFile {
                format: STATE_FORMAT,
                webhooks: BTreeMap::new(),
            },
            Some(text) => {
                let path = root.join(workspace::DELIVER_STATE);
                let state: StateFile =
                    serde_json::from_str(&text).map_err(|source| Error::Json {
                        path: path.clone(),
                        source,
                    })?;
                if state.format != STATE_FORMAT {
                    return Err(Error::Invalid(format!(
                        "{}: format {} (this build reads format {STATE_FORMAT})",
                        path.display(),
                        state.format
                    )));
                }
                state
            }
        };
        Ok(Positions {
            root: root.to_path_buf(),
            state: Mutex::new(state),
        })
    }

    /// The position of the webhook `url`.
    pub(crate) fn get(&self, url: &str) -> Option<Position> {
        self.lock().webhooks.get(url).cloned()
    }

    /// Records that the webhook `url` acknowledged the event `seq` with `body`, on disk before
    /// it returns.
    pub(crate) fn record(&self, url: &str, seq: u64, body: &[u8]) -> Result<()> {
        let mut state = self.lock();
        state.webhooks.insert(
            url.to_string(),
            Position {
                seq,
                body_sha256: body_digest(body),
            },
        );
        let text = serde_json::to_string_pretty(&*state).expect("positions serialise") + "\n";
        workspace::write_deliver_state(&self.root, &text)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateFile> {
        // A thread that panicked mid-update left the map whole (insert is the only change).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// sha256 of an event body, in hex.
pub(crate) fn body_digest(body: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(body))
}

/// The index in `events` of the first event not yet delivered from `position`; `restarted` is
/// true when the feed no longer holds the delivered event (it was started over), and delivery
/// starts again at its beginning.
pub(crate) fn first_pending(
    events: &[(FeedEvent, Vec<u8>)],
    position: Option<&Position>,
) -> (usize, bool) {
    let Some(position) = position else {
        return (0, false);
    };
    let found = events
        .iter()
        .position(|(event, _)| event.seq == position.seq);
    match found {
        Some(index) if body_digest(&events[index].1) == position.body_sha256 => (index + 1, false),
        // An empty feed has nothing to send either way.
        None if events.is_empty() => (0, false),
        _ => (0, true),
    }
}
