//! Generations: each `analyze` run writes a new folder `gen-NNNNNN/` beside the committed one and
//! switches it in with one atomic rename of the symlink `current`.
//!
//! A generation holds everything a run rewrites or appends to that other programs read: the
//! outputs, the topic state, the lineage and the feed (copied and appended, so a reader of the
//! old generation never sees a half-appended line), and the index (built from scratch in the new
//! folder). Its `manifest.json` records the committed length of each shared append-only file that
//! stays in the workspace folder because copying it would cost too much: the store and the two
//! embedding caches. A writer that opens the workspace truncates those files to their committed
//! lengths, which drops whatever a killed run appended after the last commit.
//!
//! The commit, in order: files a run did not rewrite are hard-linked from the committed generation;
//! every file and folder of the new one is synced; the shared files are synced and their lengths
//! written to the manifest; the new `current` symlink is renamed over the old one and the
//! workspace folder synced. Only then are older generations removed (the one just replaced is
//! kept until the next commit, for readers that opened it a moment before). A generation that
//! carries out an erasure ([`super::erasure`]) builds on none, so its commit removes every other
//! one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use crate::error::{Error, Result};
use crate::failpoint;

/// The symlink naming the committed generation.
pub const CURRENT: &str = "current";
/// The manifest file in a generation.
pub const MANIFEST: &str = "manifest.json";
/// Shared append-only files, kept in the workspace folder; the manifest records their committed
/// lengths.
pub const SHARED: &[&str] = &["store.jsonl", "embeddings.bin", "sentiment-embeddings.bin"];
/// The store among [`SHARED`].
pub const STORE: &str = "store.jsonl";
/// Files and folders of a generation that the workspace folder shows under their own name, as a
/// symlink `NAME -> current/NAME` (created once; they follow every switch).
pub const LINKED: &[&str] = &[
    "comments.jsonl",
    "topics.jsonl",
    "themes.jsonl",
    "topic_events.jsonl",
    "signals.jsonl",
    "feed.jsonl",
    "rejects.jsonl",
    "report.md",
    "config.toml",
    "timings.json",
    "topic_state.json",
    "index",
];
/// Before the first commit: the shared files' lengths when the first run started (files copied
/// into a new workspace, such as caches, are kept; what a killed first run appended is dropped).
pub const FIRST_RUN: &str = "first-run.json";
/// Version of the manifest format.
const MANIFEST_FORMAT: u32 = 1;

/// `gen-NNNNNN/manifest.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Version of this format.
    pub format: u32,
    /// This generation's number.
    pub generation: u64,
    /// The generation it replaced, kept until the next commit.
    pub previous: Option<u64>,
    /// Committed length in bytes of each shared file ([`SHARED`]).
    pub committed: BTreeMap<String, u64>,
}

/// The folder name of generation `number`.
pub fn folder_name(number: u64) -> String {
    format!("gen-{number:06}")
}

pub(crate) fn parse_folder_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("gen-")?;
    (digits.len() >= 6 && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The committed generation of the workspace `root`: its folder and manifest; `None` when none
/// was committed yet.
pub fn read_current(root: &Path) -> Result<Option<(PathBuf, Manifest)>> {
    let pointer = root.join(CURRENT);
    let target = match std::fs::read_link(&pointer) {
        Ok(target) => target,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::io(&pointer, source)),
    };
    let number = target.to_str().and_then(parse_folder_name).ok_or_else(|| {
        Error::Invalid(format!(
            "{}: points to {}, not to a generation folder",
            pointer.display(),
            target.display()
        ))
    })?;
    let dir = root.join(folder_name(number));
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|source| Error::io(&manifest_path, source))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: manifest_path.clone(),
        source,
    })?;
    if manifest.generation != number || manifest.format != MANIFEST_FORMAT {
        return Err(Error::Invalid(format!(
            "{}: generation {} format {} does not match its folder {}",
            manifest_path.display(),
            manifest.generation,
            manifest.format,
            folder_name(number)
        )));
    }
    Ok(Some((dir, manifest)))
}

/// True when `root` holds a workspace of the flat layout of earlier versions (outputs as plain
/// files in the folder, no generations).
pub fn is_flat_layout(root: &Path) -> bool {
    !root.join(CURRENT).exists()
        && ["comments.jsonl", "topic_state.json"]
            .iter()
            .any(|name| std::fs::symlink_metadata(root.join(name)).is_ok_and(|kind| kind.is_file()))
}

/// Truncates each shared file to its committed length (dropping what a killed run appended).
pub fn drop_uncommitted(root: &Path, committed: &BTreeMap<String, u64>) -> Result<()> {
    for name in SHARED {
        let path = root.join(name);
        let length = files::length(&path)?;
        let keep = committed.get(*name).copied().unwrap_or(0);
        if length > keep {
            tracing::info!(
                file = name,
                dropped = length - keep,
                "dropping the uncommitted tail of an interrupted run"
            );
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|source| Error::io(&path, source))?;
            file.set_len(keep)
                .and_then(|()| file.sync_all())
                .map_err(|source| Error::io(&path, source))?;
        } else if length < keep && *name == STORE {
            return Err(Error::Invalid(format!(
                "{}: holds {length} bytes, its last committed run wrote {keep}: the file was \
                 changed outside xsignal; restore it from a backup or start a new workspace",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The lengths the shared files must be cut back to when no run was committed yet: those recorded
/// in [`FIRST_RUN`] by the first run that started, or (recorded now) their lengths as they are.
pub fn first_run_base(root: &Path) -> Result<BTreeMap<String, u64>> {
    let path = root.join(FIRST_RUN);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return serde_json::from_str(&text).map_err(|source| Error::Json { path, source })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::io(&path, source)),
    }
    record_first_run_base(root)
}

/// Records the shared files' lengths as they are in [`FIRST_RUN`] and returns them.
pub fn record_first_run_base(root: &Path) -> Result<BTreeMap<String, u64>> {
    let mut base = BTreeMap::new();
    for name in SHARED {
        base.insert(name.to_string(), files::length(&root.join(name))?);
    }
    let text = serde_json::to_string(&base).expect("lengths serialise") + "\n";
    files::write_file(&root.join(FIRST_RUN), |out| {
        std::io::Write::write_all(out, text.as_bytes())
    })?;
    files::sync_dir(root)?;
    Ok(base)
}

/// Commits the staged generation `number` in `root`: see the module doc for the steps.
/// `previous` is the committed generation it replaces (whose files not staged are carried over).
pub fn commit(root: &Path, number: u64, previous: Option<(&Path, &Manifest)>) -> Result<()> {
    let staging = root.join(folder_name(number));
    if let Some((previous_dir, _)) = previous {
        for entry in
            std::fs::read_dir(previous_dir).map_err(|source| Error::io(previous_dir, source))?
        {
            let entry = entry.map_err(|source| Error::io(previous_dir, source))?;
            let name = entry.file_name();
            let target = staging.join(&name);
            if name != MANIFEST && std::fs::symlink_metadata(&target).is_err() {
                files::link_tree(&entry.path(), &target)?;
            }
        }
    }
    failpoint::hit("commit.carried");
    files::seal_tree(&staging)?;
    let mut committed = BTreeMap::new();
    for name in SHARED {
        let path = root.join(name);
        if path.is_file() {
            files::set_mode(&path, files::FILE_MODE)?;
            files::sync_file(&path)?;
            committed.insert(name.to_string(), files::length(&path)?);
        }
    }
    failpoint::hit("commit.synced");
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        generation: number,
        previous: previous.map(|(_, manifest)| manifest.generation),
        committed,
    };
    let manifest_path = staging.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises") + "\n";
    files::write_file(&manifest_path, |out| {
        std::io::Write::write_all(out, text.as_bytes())
    })?;
    files::sync_dir(&staging)?;
    failpoint::hit("commit.manifest");
    switch(root, number)?;
    failpoint::hit("commit.switched");
    tidy(root, &staging, &manifest)?;
    failpoint::hit("commit.cleaned");
    Ok(())
}

/// Points `current` at generation `number`: a new symlink renamed over the old one.
fn switch(root: &Path, number: u64) -> Result<()> {
    let pointer = root.join(CURRENT);
    let fresh = root.join(format!("{CURRENT}.new"));
    remove_if_present(&fresh)?;
    std::os::unix::fs::symlink(folder_name(number), &fresh)
        .map_err(|source| Error::io(&fresh, source))?;
    std::fs::rename(&fresh, &pointer).map_err(|source| Error::io(&pointer, source))?;
    files::sync_dir(root)
}

/// After a commit (or when a writer opens the workspace): the stable names link into `current`,
/// and generations other than the committed one and the one it replaced are gone, as are the
/// leftovers of interrupted runs.
pub fn tidy(root: &Path, current_dir: &Path, manifest: &Manifest) -> Result<()> {
    for name in LINKED {
        if current_dir.join(name).exists() {
            link_stable_name(root, name)?;
        }
    }
    let keep: Vec<u64> = std::iter::once(manifest.generation)
        .chain(manifest.previous)
        .collect();
    for entry in std::fs::read_dir(root).map_err(|source| Error::io(root, source))? {
        let entry = entry.map_err(|source| Error::io(root, source))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = match parse_folder_name(name) {
            Some(number) => !keep.contains(&number),
            None => {
                name.ends_with(".partial")
                    || name == "index.old"
                    || name == "current.new"
                    || name == FIRST_RUN
            }
        };
        if stale {
            remove_if_present(&entry.path())?;
        }
    }
    files::sync_dir(root)
}

/// Makes `root/NAME` the symlink `current/NAME`, replacing a plain file or folder of the flat
/// layout (a file by an atomic rename; a folder is moved aside first).
fn link_stable_name(root: &Path, name: &str) -> Result<()> {
    let path = root.join(name);
    let target = Path::new(CURRENT).join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(kind) if kind.is_symlink() => return Ok(()),
        Ok(kind) if kind.is_dir() => {
            let aside = root.join(format!("{name}.old"));
            remove_if_present(&aside)?;
            std::fs::rename(&path, &aside).map_err(|source| Error::io(&path, source))?;
        }
        _ => {}
    }
    let fresh = root.join(format!("{name}.partial"));
    remove_if_present(&fresh)?;
    std::os::unix::fs::symlink(&target, &fresh).map_err(|source| Error::io(&fresh, source))?;
    std::fs::rename(&fresh, &path).map_err(|source| Error::io(&path, source))
}

/// Removes a file, symlink or folder tree if it is there.
pub fn remove_if_present(path: &Path) -> Result<()> {
    let outcome = match std::fs::symlink_metadata(path) {
        Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    };
    outcome.map_err(|source| Error::io(path, source))
}

/// Turns a workspace of the flat layout into generation 1: its files are hard-linked into
/// `gen-000001/` and committed; the shared files' lengths as they are become the committed ones.
pub fn migrate_flat_layout(root: &Path) -> Result<()> {
    let number = 1;
    let staging = root.join(folder_name(number));
    remove_if_present(&staging)?;
    files::create_dir(&staging)?;
    for name in LINKED {
        let path = root.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|kind| !kind.is_symlink()) {
            files::link_tree(&path, &staging.join(name))?;
        }
    }
    tracing::info!("moving a workspace of the flat layout into generation 1");
    commit(root, number, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_round_trip() {
        assert_eq!(folder_name(7), "gen-000007");
        assert_eq!(parse_folder_name("gen-000007"), Some(7));
        assert_eq!(parse_folder_name("gen-1234567"), Some(1_234_567));
        assert_eq!(parse_folder_name("gen-7"), None);
        assert_eq!(parse_folder_name("gen-00000x"), None);
        assert_eq!(parse_folder_name("index"), None);
    }
}
