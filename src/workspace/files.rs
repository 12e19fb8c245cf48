//! Durable, private file operations: files created 0600 and folders 0700 (a workspace holds
//! personal data), every write followed by `fsync`, hard-linked copies of immutable files.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::failpoint;

/// Mode of workspace files.
pub const FILE_MODE: u32 = 0o600;
/// Mode of workspace folders.
pub const DIR_MODE: u32 = 0o700;

/// Open options that create a file with [`FILE_MODE`].
pub fn create_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true).mode(FILE_MODE);
    options
}

/// Creates `dir` and its missing parents with [`DIR_MODE`].
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|source| Error::io(dir, source))
}

/// Flushes a folder's entries (new, renamed and removed names) to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(|source| Error::io(dir, source))
}

/// Flushes a file's content to disk.
pub fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| Error::io(path, source))
}

/// A new file at `path` (replacing any), written by `fill` through a buffer and synced. The
/// failpoint `write/NAME` (NAME the file name) fires halfway: after `fill` has written and
/// flushed its first half (or before the first byte for one-piece files).
pub fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut PartWriter) -> std::io::Result<()>,
) -> Result<()> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    let io_error = |source| Error::io(path, source);
    let file = create_options()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io_error)?;
    let mut writer = PartWriter {
        inner: BufWriter::new(file),
        name,
    };
    fill(&mut writer).map_err(io_error)?;
    let file = writer
        .inner
        .into_inner()
        .map_err(|error| io_error(error.into_error()))?;
    file.sync_all().map_err(io_error)
}

/// The writer [`write_file`] hands its `fill`: a buffered file that knows where its halfway
/// failpoint is.
pub struct PartWriter<'a> {
    inner: BufWriter<File>,
    name: &'a str,
}

impl PartWriter<'_> {
    /// Flushes what was written so far and passes the file's `write/NAME` failpoint.
    pub fn halfway(&mut self) -> std::io::Result<()> {
        self.inner.flush()?;
        failpoint::write("write/", self.name)
    }
}

impl Write for PartWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes one JSON line per item; the failpoint fires after the first half of the lines.
pub fn write_lines<T: Serialize>(out: &mut PartWriter, items: &[T]) -> std::io::Result<()> {
    let half = items.len() / 2;
    for (index, item) in items.iter().enumerate() {
        if index == half {
            out.halfway()?;
        }
        serde_json::to_writer(&mut *out, item)?;
        out.write_all(b"\n")?;
    }
    if items.is_empty() {
        out.halfway()?;
    }
    Ok(())
}

/// Writes `text`; the failpoint fires after its first half.
pub fn write_text(out: &mut PartWriter, text: &str) -> std::io::Result<()> {
    let bytes = text.as_bytes();
    let (first, second) = bytes.split_at(bytes.len() / 2);
    out.write_all(first)?;
    out.halfway()?;
    out.write_all(second)
}

/// Copies `from` into a new file `to` and appends `items` as JSON lines (`None` or an absent
/// `from` is empty). The failpoint fires after the copy.
pub fn copy_and_append<T: Serialize>(from: Option<&Path>, to: &Path, items: &[T]) -> Result<()> {
    let mut source = match from.map(File::open) {
        Some(Ok(file)) => Some(file),
        None => None,
        Some(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => None,
        Some(Err(source)) => return Err(Error::io(from.unwrap_or(to), source)),
    };
    write_file(to, |out| {
        if let Some(source) = source.as_mut() {
            std::io::copy(source, out)?;
        }
        out.halfway()?;
        for item in items {
            serde_json::to_writer(&mut *out, item)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// Replaces the file at `path` by `bytes` atomically: written to `path` + `.tmp` (0600, synced),
/// renamed over `path`, and the folder synced, so a crash leaves the old or the new content.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut fresh = path.as_os_str().to_owned();
    fresh.push(".tmp");
    let fresh = std::path::PathBuf::from(fresh);
    write_file(&fresh, |out| out.write_all(bytes))?;
    std::fs::rename(&fresh, path).map_err(|source| Error::io(path, source))?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Hard-links the file or folder tree `from` to `to` (folders are created, files linked: the
/// files of a committed generation are never written again, so sharing them is safe).
pub fn link_tree(from: &Path, to: &Path) -> Result<()> {
    let kind = std::fs::symlink_metadata(from).map_err(|source| Error::io(from, source))?;
    if kind.is_dir() {
        create_dir(to)?;
        for entry in std::fs::read_dir(from).map_err(|source| Error::io(from, source))? {
            let entry = entry.map_err(|source| Error::io(from, source))?;
            link_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        sync_dir(to)
    } else {
        std::fs::hard_link(from, to).map_err(|source| Error::io(to, source))
    }
}

/// Makes the tree at `path` private (files [`FILE_MODE`], folders [`DIR_MODE`]) and durable
/// (every file and folder synced): for what other code wrote there, such as the index.
pub fn seal_tree(path: &Path) -> Result<()> {
    let kind = std::fs::symlink_metadata(path).map_err(|source| Error::io(path, source))?;
    if kind.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|source| Error::io(path, source))? {
            let entry = entry.map_err(|source| Error::io(path, source))?;
            seal_tree(&entry.path())?;
        }
        set_mode(path, DIR_MODE)?;
        sync_dir(path)
    } else if kind.is_file() {
        set_mode(path, FILE_MODE)?;
        sync_file(path)
    } else {
        Ok(())
    }
}

/// Sets the permission bits of `path`, when they differ.
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::io(path, source))?;
    if metadata.permissions().mode() & 0o777 == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| Error::io(path, source))
}

/// The length of `path`, 0 when it is absent.
pub fn length(path: &Path) -> Result<u64> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(metadata.len()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(Error::io(path, source)),
    }
}
