//! The workspace folder: everything `analyze` keeps between runs and everything it writes.
//!
//! | file | what |
//! |---|---|
//! | `store.jsonl` | every ingested comment with its text (appended; an id is stored once) |
//! | `embeddings.bin` | embedding cache by content hash ([`crate::embed::EmbeddingCache`]) |
//! | `topic_state.json` | topic centroids, the next free topic id and the run number |
//! | `sentiment-embeddings.bin` | the sentiment model's embedding cache |
//! | `topic_events.jsonl` | topic lineage events (appended; born, split_from, grew, merged_into, died) |
//! | `themes.jsonl` | topics grouped into themes |
//! | `feed.jsonl` | signal lifecycle events (appended; opened, updated, closed) |
//! | `index/` | the tantivy index |
//! | `config.toml` | the pipeline config that produced the outputs |
//! | `comments.jsonl`, `topics.jsonl`, `signals.jsonl`, `rejects.jsonl`, `report.md` | outputs |

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::types::Comment;

/// A workspace folder.
#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Opens (creating if needed) the workspace at `root`.
    pub fn create(root: &Path) -> Result<Workspace> {
        std::fs::create_dir_all(root).map_err(|source| Error::io(root, source))?;
        Ok(Workspace {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing workspace; a folder without analysis results is an error that says what to run.
    pub fn open_existing(root: &Path) -> Result<Workspace> {
        let workspace = Workspace {
            root: root.to_path_buf(),
        };
        if !workspace.path("store.jsonl").is_file() {
            return Err(Error::Invalid(format!(
                "{} is not an xsignal workspace (no store.jsonl): run `xsignal analyze FILE... --workspace {}` first",
                root.display(),
                root.display()
            )));
        }
        Ok(workspace)
    }

    /// The workspace folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file or folder in the workspace.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Reads every stored comment, in the order they were ingested.
    pub fn load_store(&self) -> Result<Vec<Comment>> {
        read_jsonl(&self.path("store.jsonl"))
    }

    /// Appends comments to the store.
    pub fn append_store(&self, comments: &[Comment]) -> Result<()> {
        append_jsonl(&self.path("store.jsonl"), comments)
    }
}

/// Appends one JSON line per item to `path` (created if absent).
pub fn append_jsonl<T: Serialize>(path: &Path, items: &[T]) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| Error::io(path, source))?;
    write_lines(file, items, path, path)
}

/// Writes one JSON line per item to `file` (named `path` in serialisation errors and `written` in
/// I/O errors) and flushes it.
fn write_lines<T: Serialize>(
    file: std::fs::File,
    items: &[T],
    path: &Path,
    written: &Path,
) -> Result<()> {
    let mut writer = BufWriter::new(file);
    for item in items {
        serde_json::to_writer(&mut writer, item).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        writer
            .write_all(b"\n")
            .map_err(|source| Error::io(written, source))?;
    }
    writer.flush().map_err(|source| Error::io(written, source))
}

/// Reads a JSONL file of `T`; an absent file is empty; a bad line is an error naming `file:line`.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::io(path, source)),
    };
    let mut out = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
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

/// Writes `items` as JSONL, atomically (a temporary file renamed over the target).
pub fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> Result<()> {
    let partial = path.with_extension("jsonl.partial");
    let file = std::fs::File::create(&partial).map_err(|source| Error::io(&partial, source))?;
    write_lines(file, items, path, &partial)?;
    std::fs::rename(&partial, path).map_err(|source| Error::io(path, source))
}

/// Writes a text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(|source| Error::io(&partial, source))?;
    std::fs::rename(&partial, path).map_err(|source| Error::io(path, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Lang, Origin};

    #[test]
    fn store_appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::create(dir.path()).unwrap();
        assert!(Workspace::open_existing(dir.path()).is_err());
        let comment = Comment {
            id: "1".into(),
            text: "hello".into(),
            timestamp: None,
            author: None,
            source: None,
            lang: Lang::En,
            lang_detected: false,
            rating: None,
            meta: Default::default(),
            origin: Origin {
                file: "a.jsonl".into(),
                line: 1,
            },
        };
        workspace
            .append_store(std::slice::from_ref(&comment))
            .unwrap();
        workspace
            .append_store(std::slice::from_ref(&comment))
            .unwrap();
        assert_eq!(workspace.load_store().unwrap().len(), 2);
        assert!(Workspace::open_existing(dir.path()).is_ok());
    }
}
