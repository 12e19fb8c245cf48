//! The workspace folder: the one owner of everything `analyze` keeps between runs and everything
//! it writes. Stages hand it what they produced; no other module opens a workspace file.
//!
//! Layout (`DIR` is the workspace folder):
//!
//! | path | what |
//! |---|---|
//! | `DIR/current` | symlink to the committed generation, `gen-NNNNNN` (switched by one atomic rename) |
//! | `DIR/gen-NNNNNN/` | one complete run: the files below, `index/` and `manifest.json` |
//! | `DIR/comments.jsonl`, ... | symlinks `current/NAME` for every file of a generation, so the documented paths stay |
//! | `DIR/store.jsonl` | every ingested comment with its text (appended; committed length in the manifest) |
//! | `DIR/embeddings.bin`, `DIR/sentiment-embeddings.bin` | embedding caches ([`crate::embed::EmbeddingCache`]; appended, committed length in the manifest) |
//! | `DIR/lock` | the writer lock |
//! | `DIR/erasure.json` | an erasure that began and has not committed yet ([`erasure`]) |
//! | `DIR/audit.jsonl` | the erasure audit log: what was requested, when, how many comments went (appended, never content) |
//! | `DIR/deliver.json`, `DIR/deliver.lock` | the webhook delivery positions ([`crate::deliver`]; replaced atomically) and the deliverer's lock |
//!
//! A generation holds `topic_state.json` (centroids, next topic id, run number), `topic_events.jsonl`
//! and `feed.jsonl` (append-only for their readers: each run copies them and appends),
//! `themes.jsonl`, `comments.jsonl`, `topics.jsonl`, `signals.jsonl`, `rejects.jsonl`, `report.md`,
//! `config.toml`, `timings.json` and the tantivy `index/`.
//!
//! Guarantees: a writer ([`WorkspaceWriter`]) holds the exclusive lock ([`lock`]); what it writes
//! becomes visible all at once when it commits ([`generation`]), or not at all; a writer that
//! opens a workspace drops what a killed run left (uncommitted tails of the shared files, staged
//! generations), so a rerun gives the same bytes as a run that was never interrupted. Readers
//! ([`Workspace`]) take no lock and write nothing: they read the generation `current` names.
//! Files are created 0600 and folders 0700. A workspace of the flat layout of earlier versions
//! (plain files, no `current`) is read as it is and moved into generation 1 by the first writer.

pub mod erasure;
pub mod files;
pub mod generation;
pub mod lock;
pub mod run;

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::failpoint;
use crate::types::Comment;
use generation::{Manifest, STORE};
pub use lock::Wait;
pub use run::{History, KeptOutputs, RunOutputs};

/// A read-only view of a workspace: the committed generation.
#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
    dir: PathBuf,
    manifest: Option<Manifest>,
}

impl Workspace {
    /// Opens an existing workspace for reading; a folder without analysis results is an error that
    /// says what to run.
    pub fn open_existing(root: &Path) -> Result<Workspace> {
        if let Some((dir, manifest)) = generation::read_current(root)? {
            return Ok(Workspace {
                root: root.to_path_buf(),
                dir,
                manifest: Some(manifest),
            });
        }
        if generation::is_flat_layout(root) {
            return Ok(Workspace {
                root: root.to_path_buf(),
                dir: root.to_path_buf(),
                manifest: None,
            });
        }
        Err(Error::Invalid(format!(
            "{} is not an xsignal workspace (no committed run): run `xsignal analyze FILE... --workspace {}` first",
            root.display(),
            root.display()
        )))
    }

    /// The workspace folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The committed generation's number; `None` for a workspace of the flat layout.
    pub fn generation(&self) -> Option<u64> {
        self.manifest.as_ref().map(|manifest| manifest.generation)
    }

    /// The generation `current` names now (one `readlink`, no manifest read): a reader that holds
    /// generation `n` compares this with `Some(n)` to learn that a newer run was committed.
    pub fn committed_generation(root: &Path) -> Option<u64> {
        let target = std::fs::read_link(root.join(generation::CURRENT)).ok()?;
        generation::parse_folder_name(target.to_str()?)
    }

    /// A file or folder of the committed generation.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The committed generation's index folder.
    pub fn index_dir(&self) -> PathBuf {
        self.path("index")
    }

    /// Reads a JSONL file of the committed generation (absent: empty).
    pub fn read_jsonl<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Vec<T>> {
        read_jsonl(&self.path(name))
    }

    /// Reads a text file of the committed generation; `None` when it is absent.
    pub fn read_text(&self, name: &str) -> Result<Option<String>> {
        let path = self.path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::io(&path, source)),
        }
    }

    /// Reads every committed comment of the store, in the order they were ingested.
    pub fn load_store(&self) -> Result<Vec<Comment>> {
        let committed = self
            .manifest
            .as_ref()
            .map(|manifest| manifest.committed.get(STORE).copied().unwrap_or(0));
        read_jsonl_prefix(&self.root.join(STORE), committed)
    }
}

/// The one writer of a workspace: holds the lock, reads the committed generation, stages the next
/// one and commits it.
#[derive(Debug)]
pub struct WorkspaceWriter {
    root: PathBuf,
    _lock: lock::WriterLock,
    current: Option<Workspace>,
    staged: u64,
    staging: PathBuf,
    /// Comments removed by an erasure this run carries out; `None` when it builds on the committed
    /// generation as usual.
    erased: Option<u64>,
}

impl WorkspaceWriter {
    /// Opens (creating if needed) the workspace at `root` for writing: takes the lock (or fails
    /// with [`Error::Locked`], or waits), moves a flat-layout workspace into generation 1, drops
    /// what an interrupted run left, and stages the next generation.
    pub fn open(root: &Path, wait: Wait) -> Result<WorkspaceWriter> {
        refuse_foreign_folder(root)?;
        files::create_dir(root)?;
        files::set_mode(root, files::DIR_MODE)?;
        let writer_lock = lock::acquire(root, wait)?;
        if generation::is_flat_layout(root) {
            generation::migrate_flat_layout(root)?;
        }
        let current = generation::read_current(root)?;
        let resumed = erasure::resume(
            root,
            current.as_ref().map(|(_, manifest)| manifest.generation),
        )?;
        let committed = match (&resumed, &current) {
            (Some(resumed), _) => resumed.committed.clone(),
            (None, Some((_, manifest))) => manifest.committed.clone(),
            (None, None) => generation::first_run_base(root)?,
        };
        generation::drop_uncommitted(root, &committed)?;
        let staged = match &current {
            Some((dir, manifest)) => {
                generation::tidy(root, dir, manifest)?;
                manifest.generation + 1
            }
            None => 1,
        };
        let staging = root.join(generation::folder_name(staged));
        generation::remove_if_present(&staging)?;
        files::create_dir(&staging)?;
        failpoint::hit("lock.acquired");
        // An interrupted erasure is finished by this run: it starts over from the store.
        let current = current.filter(|_| resumed.is_none());
        Ok(WorkspaceWriter {
            root: root.to_path_buf(),
            _lock: writer_lock,
            current: current.map(|(dir, manifest)| Workspace {
                root: root.to_path_buf(),
                dir,
                manifest: Some(manifest),
            }),
            staged,
            staging,
            erased: resumed.map(|resumed| resumed.removed),
        })
    }

    /// The workspace folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The committed generation this run builds on; `None` in a new workspace.
    pub fn current(&self) -> Option<&Workspace> {
        self.current.as_ref()
    }

    /// Starts over: the next generation builds on nothing and the store is emptied (the embedding
    /// caches stay). Until it commits, the workspace has no committed run.
    pub fn reset(&mut self) -> Result<()> {
        generation::remove_if_present(&self.root.join(generation::CURRENT))?;
        files::sync_dir(&self.root)?;
        self.current = None;
        let store = self.root.join(STORE);
        files::create_options()
            .write(true)
            .truncate(true)
            .open(&store)
            .and_then(|file| file.sync_all())
            .map_err(|source| Error::io(&store, source))?;
        generation::record_first_run_base(&self.root).map(drop)
    }

    /// Erases comments: the store becomes `remaining` (`removed` comments fewer) at once, and this
    /// run starts over from it, building on no earlier generation; its commit removes every other
    /// generation (see [`erasure`]). Needs a committed run.
    pub fn erase(&mut self, remaining: &[Comment], removed: u64) -> Result<()> {
        let committed_generation = match (&self.current, self.erased) {
            (Some(current), _) => current
                .manifest
                .as_ref()
                .map_or(0, |manifest| manifest.generation),
            // Finishing an interrupted erasure: the generation it began from is still committed.
            (None, Some(_)) => self.staged - 1,
            (None, None) => {
                return Err(Error::Invalid(format!(
                    "{} has no committed run to erase from",
                    self.root.display()
                )))
            }
        };
        let total = self.erased.unwrap_or(0) + removed;
        erasure::begin(&self.root, committed_generation, remaining, total)?;
        self.current = None;
        self.erased = Some(total);
        Ok(())
    }

    /// Comments removed by the erasure this run carries out (`None`: no erasure, the run builds
    /// on the committed generation).
    pub fn erased(&self) -> Option<u64> {
        self.erased
    }

    /// A shared file of the workspace folder (an embedding cache), as the last commit left it.
    pub fn shared_path(&self, name: &str) -> PathBuf {
        debug_assert!(generation::SHARED.contains(&name), "{name} is not shared");
        self.root.join(name)
    }

    /// A file or folder of the generation being staged (for a stage that writes a folder itself,
    /// such as the index).
    pub fn staged_path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Reads every comment of the store, in the order they were ingested.
    pub fn load_store(&self) -> Result<Vec<Comment>> {
        read_jsonl(&self.root.join(STORE))
    }

    /// Appends comments to the store (committed with the generation).
    pub fn append_store(&self, comments: &[Comment]) -> Result<()> {
        let path = self.root.join(STORE);
        let file = files::create_options()
            .append(true)
            .open(&path)
            .map_err(|source| Error::io(&path, source))?;
        let mut writer = std::io::BufWriter::new(file);
        let half = comments.len() / 2;
        for (index, comment) in comments.iter().enumerate() {
            if index == half {
                writer.flush().map_err(|source| Error::io(&path, source))?;
                failpoint::hit("store.mid");
            }
            serde_json::to_writer(&mut writer, comment)
                .map_err(std::io::Error::from)
                .and_then(|()| writer.write_all(b"\n"))
                .map_err(|source| Error::io(&path, source))?;
        }
        writer.flush().map_err(|source| Error::io(&path, source))?;
        failpoint::hit("store.appended");
        Ok(())
    }

    /// Writes `items` as the staged generation's JSONL file `name`.
    pub fn write_jsonl<T: Serialize>(&self, name: &str, items: &[T]) -> Result<()> {
        files::write_file(&self.staged_path(name), |out| {
            files::write_lines(out, items)
        })
    }

    /// Writes the staged generation's text file `name`.
    pub fn write_text(&self, name: &str, text: &str) -> Result<()> {
        files::write_file(&self.staged_path(name), |out| files::write_text(out, text))
    }

    /// The committed generation's JSONL file `name` with `items` appended, as the staged
    /// generation's `name` (the committed file is left as it is).
    pub fn append_jsonl<T: Serialize>(&self, name: &str, items: &[T]) -> Result<()> {
        let committed = self.current.as_ref().map(|current| current.path(name));
        files::copy_and_append(committed.as_deref(), &self.staged_path(name), items)
    }

    /// Makes the staged generation the committed one. Files it lacks are carried over from the
    /// committed generation unchanged.
    pub fn commit(self) -> Result<()> {
        let previous = self
            .current
            .as_ref()
            .and_then(|current| Some((current.dir.as_path(), current.manifest.as_ref()?)));
        generation::commit(&self.root, self.staged, previous)?;
        if self.erased.is_some() {
            // Committed without a previous generation: every older one is gone.
            erasure::finish(&self.root)?;
        }
        Ok(())
    }

    /// Ends this writer without committing: the staged generation is removed and the committed
    /// one stays as it was.
    pub fn discard(self) -> Result<()> {
        generation::remove_if_present(&self.staging)
    }

    /// Appends one line to the workspace's audit log (`audit.jsonl`, synced; never rewritten).
    pub fn append_audit<T: Serialize>(&self, entry: &T) -> Result<()> {
        let path = self.root.join(AUDIT_LOG);
        let mut line = serde_json::to_vec(entry).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        line.push(b'\n');
        let mut file = files::create_options()
            .append(true)
            .open(&path)
            .map_err(|source| Error::io(&path, source))?;
        file.write_all(&line)
            .and_then(|()| file.sync_all())
            .map_err(|source| Error::io(&path, source))?;
        files::sync_dir(&self.root)
    }
}

/// The erasure audit log in the workspace folder.
pub const AUDIT_LOG: &str = "audit.jsonl";

/// The file in the workspace folder that keeps the webhook delivery positions.
pub const DELIVER_STATE: &str = "deliver.json";

/// Reads the delivery positions file of the workspace `root`; `None` when it is absent.
pub fn read_deliver_state(root: &Path) -> Result<Option<String>> {
    let path = root.join(DELIVER_STATE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::io(&path, source)),
    }
}

/// Replaces the delivery positions file of the workspace `root` atomically (0600, synced, renamed).
pub fn write_deliver_state(root: &Path, text: &str) -> Result<()> {
    files::replace(&root.join(DELIVER_STATE), text.as_bytes())
}

/// Takes the delivery lock of the workspace `root`: one deliverer at a time. Fails when another
/// process holds it.
pub fn lock_delivery(root: &Path) -> Result<lock::WriterLock> {
    lock::try_acquire_delivery(root)?.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: another xsignal process delivers this workspace's feed (`xsignal deliver` or `xsignal serve`)",
            root.display()
        ))
    })
}

/// Names only a workspace folder holds; a writer refuses a non-empty folder with none of them
/// rather than tidying up (and making private) a folder that is not its own.
const MARKERS: &[&str] = &[
    generation::CURRENT,
    lock::LOCK_FILE,
    STORE,
    "comments.jsonl",
    "topic_state.json",
    "embeddings.bin",
];

fn refuse_foreign_folder(root: &Path) -> Result<()> {
    let mut entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(Error::io(root, source)),
    };
    let is_empty = entries.next().is_none();
    let is_workspace = MARKERS
        .iter()
        .any(|name| std::fs::symlink_metadata(root.join(name)).is_ok());
    if is_empty || is_workspace {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{}: the folder is not empty and is not an xsignal workspace; choose a new folder with --workspace",
        root.display()
    )))
}

/// Reads a JSONL file of `T`; an absent file is empty; a bad line is an error naming `file:line`.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    read_jsonl_prefix(path, None)
}

/// [`read_jsonl`] of the first `limit` bytes (all with `None`).
fn read_jsonl_prefix<T: serde::de::DeserializeOwned>(
    path: &Path,
    limit: Option<u64>,
) -> Result<Vec<T>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::io(path, source)),
    };
    let reader = std::io::BufReader::new(file.take(limit.unwrap_or(u64::MAX)));
    let mut out = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| Error::io(path, source))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(&line).map_err(|error| {
            Error::Invalid(format!("{}:{}: {error}", path.display(), index + 1))
        })?;
        out.push(value);
    }
    Ok(out)
}

/// Writes `items` as JSONL to a file outside a workspace, atomically (a temporary file, synced,
/// renamed over the target).
pub fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> Result<()> {
    let partial = path.with_extension("jsonl.partial");
    files::write_file(&partial, |out| files::write_lines(out, items))?;
    std::fs::rename(&partial, path).map_err(|source| Error::io(path, source))
}

#[cfg(test)]
mod tests;
