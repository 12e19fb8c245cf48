//! The writer lock: one `analyze` (or `backtest`) at a time per workspace; and the delivery lock:
//! one deliverer ([`crate::deliver`]) at a time per workspace.
//!
//! An exclusive advisory lock (`flock` on Unix, through [`std::fs::File::try_lock`]) on the file
//! `lock` in the workspace folder. The kernel drops it when the process ends, however it ends, so
//! a killed run never leaves a stale lock behind. Readers never take it.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the lock file in the workspace folder.
pub const LOCK_FILE: &str = "lock";

/// Whether a writer waits for another writer to finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Fail at once with [`Error::Locked`].
    No,
    /// Block until the other writer is done.
    Yes,
}

/// A held writer lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

/// Name of the delivery lock file in the workspace folder.
pub const DELIVER_LOCK_FILE: &str = "deliver.lock";

/// Takes the writer lock of the workspace `root` (which must exist).
pub fn acquire(root: &Path, wait: Wait) -> Result<WriterLock> {
    acquire_file(root, LOCK_FILE, wait)?.ok_or_else(|| Error::Locked {
        path: root.to_path_buf(),
    })
}

/// Takes the delivery lock of the workspace `root` (which must exist); `None` when another
/// deliverer holds it.
pub fn try_acquire_delivery(root: &Path) -> Result<Option<WriterLock>> {
    acquire_file(root, DELIVER_LOCK_FILE, Wait::No)
}

/// Takes the lock on the file `name` in `root`; `None` when another process holds it and `wait`
/// is [`Wait::No`].
fn acquire_file(root: &Path, name: &str, wait: Wait) -> Result<Option<WriterLock>> {
    let path: PathBuf = root.join(name);
    let file = super::files::create_options()
        .read(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| Error::io(&path, source))?;
    match wait {
        Wait::Yes => file.lock().map_err(|source| Error::io(&path, source))?,
        Wait::No => match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(source)) => return Err(Error::io(&path, source)),
        },
    }
    Ok(Some(WriterLock { _file: file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_until_the_first_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), Wait::No).unwrap();
        let error = acquire(dir.path(), Wait::No).unwrap_err();
        assert!(matches!(error, Error::Locked { .. }), "{error}");
        drop(first);
        acquire(dir.path(), Wait::No).unwrap();
    }

    #[test]
    fn the_delivery_lock_is_apart_from_the_writer_lock() {
        let dir = tempfile::tempdir().unwrap();
        let _writer = acquire(dir.path(), Wait::No).unwrap();
        let first = try_acquire_delivery(dir.path()).unwrap().expect("free");
        assert!(try_acquire_delivery(dir.path()).unwrap().is_none());
        drop(first);
        assert!(try_acquire_delivery(dir.path()).unwrap().is_some());
    }
}
