//! Erasure on disk: the store rewritten without the erased comments, and the next generation built
//! from it alone, after which every older generation is removed.
//!
//! Files that a run leaves unchanged are hard-linked from one generation to the next, so an erased
//! comment's bytes live on in every generation made while it was stored. An erasure therefore does
//! not build on the committed generation: the writer starts over from the rewritten store (no
//! topic state, lineage, feed or rejects carried over), the pipeline re-derives everything, and
//! its commit removes every other generation.
//!
//! The steps, in order, each synced:
//!
//! 1. the comments that stay are written to `store.jsonl.erasing`;
//! 2. `erasure.json` records the generation committed before the erasure and the lengths the
//!    shared files have once the new store is in place: from here on the erasure happens, whatever
//!    stops the process;
//! 3. `store.jsonl.erasing` is renamed over `store.jsonl`;
//! 4. the run builds the next generation from the store (the caches keep only the vectors it
//!    used) and commits it; every other generation is removed;
//! 5. `erasure.json` is removed.
//!
//! A writer that opens the workspace with `erasure.json` present finishes the erasure: it renames
//! a left-over `store.jsonl.erasing` into place (step 3), cuts the shared files back to the
//! recorded lengths, and starts over as in step 4, unless the committed generation is already
//! newer than the recorded one (the process stopped between steps 4 and 5). Without the marker, a
//! left-over `store.jsonl.erasing` is removed: the erasure never happened.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files;
use super::generation::{remove_if_present, SHARED, STORE};
use crate::error::{Error, Result};
use crate::types::Comment;

/// The marker of an erasure that has begun and not yet committed.
pub const MARKER: &str = "erasure.json";
/// The rewritten store before it is renamed into place.
const STORE_ERASING: &str = "store.jsonl.erasing";

/// The content of [`MARKER`]: lengths only, never comment content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pending {
    /// The generation committed when the erasure began.
    from_generation: u64,
    /// Comments removed.
    removed: u64,
    /// Length in bytes of each shared file once the rewritten store is in place.
    committed: BTreeMap<String, u64>,
}

/// An erasure the writer carries out: the lengths to cut the shared files back to and how many
/// comments it removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    /// The committed lengths of the shared files.
    pub committed: BTreeMap<String, u64>,
    /// Comments removed by the erasure.
    pub removed: u64,
}

/// Steps 1 to 3: the store becomes `remaining` (`removed` comments fewer than the committed one).
pub fn begin(root: &Path, from_generation: u64, remaining: &[Comment], removed: u64) -> Result<()> {
    let rewritten = root.join(STORE_ERASING);
    files::write_file(&rewritten, |out| files::write_lines(out, remaining))?;
    files::sync_dir(root)?;
    let mut committed = BTreeMap::new();
    for name in SHARED {
        let path = if *name == STORE {
            rewritten.clone()
        } else {
            root.join(name)
        };
        committed.insert(name.to_string(), files::length(&path)?);
    }
    let pending = Pending {
        from_generation,
        removed,
        committed,
    };
    let text = serde_json::to_string_pretty(&pending).expect("erasure marker serialises") + "\n";
    files::write_file(&root.join(MARKER), |out| files::write_text(out, &text))?;
    files::sync_dir(root)?;
    roll_forward(root)
}

/// Step 3: the rewritten store into place (nothing to do when it is there already).
fn roll_forward(root: &Path) -> Result<()> {
    let rewritten = root.join(STORE_ERASING);
    if std::fs::symlink_metadata(&rewritten).is_err() {
        return Ok(());
    }
    let store = root.join(STORE);
    std::fs::rename(&rewritten, &store).map_err(|source| Error::io(&store, source))?;
    files::sync_dir(root)
}

/// When a writer opens the workspace (`committed_generation`: the generation `current` names):
/// the erasure it has to carry out, if one began and did not commit; leftovers of an erasure
/// that never began, or that committed, are removed.
pub fn resume(root: &Path, committed_generation: Option<u64>) -> Result<Option<Resumed>> {
    let marker = root.join(MARKER);
    let text = match std::fs::read_to_string(&marker) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            remove_if_present(&root.join(STORE_ERASING))?;
            return Ok(None);
        }
        Err(source) => return Err(Error::io(&marker, source)),
    };
    let pending: Pending = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: marker.clone(),
        source,
    })?;
    if committed_generation.is_some_and(|generation| generation > pending.from_generation) {
        return finish(root).map(|()| None);
    }
    tracing::info!("finishing an interrupted erasure");
    roll_forward(root)?;
    Ok(Some(Resumed {
        committed: pending.committed,
        removed: pending.removed,
    }))
}

/// Step 5, after the erasing generation committed.
pub fn finish(root: &Path) -> Result<()> {
    remove_if_present(&root.join(MARKER))?;
    files::sync_dir(root)
}
