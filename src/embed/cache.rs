//! A content-addressed embedding cache kept in the workspace, so a rerun does not re-encode.
//!
//! File layout (`embeddings.bin`): the magic `XSEMB1\n`, a little-endian u32 width, then records of a
//! 32-byte key (sha256 of the encoder fingerprint and the text) followed by `width` little-endian f32.
//! New records are appended; a truncated tail record (an interrupted run) is ignored.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: &[u8; 7] = b"XSEMB1\n";

/// Key of one cached embedding.
pub type CacheKey = [u8; 32];

/// Embeddings by content hash, loaded in memory, appended to disk.
pub struct EmbeddingCache {
    path: PathBuf,
    dim: usize,
    index: HashMap<CacheKey, usize>,
    vectors: Vec<f32>,
    pending: Vec<(CacheKey, usize)>,
}

impl EmbeddingCache {
    /// The key of `text` under an encoder `fingerprint`.
    pub fn key(fingerprint: &str, text: &str) -> CacheKey {
        let mut hasher = Sha256::new();
        hasher.update(fingerprint.as_bytes());
        hasher.update([0u8]);
        hasher.update(text.as_bytes());
        hasher.finalize().into()
    }

    /// Opens the cache at `path` for vectors of width `dim` (an absent file is an empty cache; a file
    /// of another width is ignored and will be rewritten).
    pub fn open(path: &Path, dim: usize) -> Result<EmbeddingCache> {
        let mut cache = EmbeddingCache {
            path: path.to_path_buf(),
            dim,
            index: HashMap::new(),
            vectors: Vec::new(),
            pending: Vec::new(),
        };
        let mut bytes = Vec::new();
        match std::fs::File::open(path) {
            Ok(mut file) => {
                file.read_to_end(&mut bytes)
                    .map_err(|source| Error::io(path, source))?;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(source) => return Err(Error::io(path, source)),
        }
        if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
            return Ok(cache);
        }
        let stored_dim = u32::from_le_bytes(bytes[7..11].try_into().expect("4 bytes")) as usize;
        if stored_dim != dim {
            return Ok(cache);
        }
        let record = 32 + 4 * dim;
        for chunk in bytes[11..].chunks_exact(record) {
            let key: CacheKey = chunk[..32].try_into().expect("32 bytes");
            if cache.index.contains_key(&key) {
                continue;
            }
            let slot = cache.index.len();
            cache.index.insert(key, slot);
            cache.vectors.extend(
                chunk[32..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))),
            );
        }
        Ok(cache)
    }

    /// Number of cached vectors.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The cached vector for `key`.
    pub fn get(&self, key: &CacheKey) -> Option<&[f32]> {
        self.slot(key).map(|slot| self.vector(slot))
    }

    /// The slot of `key`'s vector, if cached.
    pub fn slot(&self, key: &CacheKey) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// The vector in `slot` (a value returned by [`EmbeddingCache::slot`]).
    pub fn vector(&self, slot: usize) -> &[f32] {
        &self.vectors[slot * self.dim..(slot + 1) * self.dim]
    }

    /// Adds a vector (kept in memory until [`EmbeddingCache::flush`]).
    pub fn insert(&mut self, key: CacheKey, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dim);
        if self.index.contains_key(&key) {
            return;
        }
        let slot = self.index.len();
        self.index.insert(key, slot);
        self.vectors.extend_from_slice(vector);
        self.pending.push((key, slot));
    }

    /// Appends the vectors added since the last flush to the file.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let fresh = !self.path.is_file() || self.pending.len() == self.index.len();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(!fresh)
            .write(true)
            .truncate(fresh)
            .open(&self.path)
            .map_err(|source| Error::io(&self.path, source))?;
        let mut writer = BufWriter::new(file);
        let write_error = |source| Error::io(&self.path, source);
        if fresh {
            writer.write_all(MAGIC).map_err(write_error)?;
            writer
                .write_all(&(self.dim as u32).to_le_bytes())
                .map_err(write_error)?;
        }
        let half = self.pending.len() / 2;
        for (done, (key, slot)) in self.pending.iter().enumerate() {
            if done == half && done > 0 {
                writer.flush().map_err(write_error)?;
                crate::failpoint::hit("cache.flush");
            }
            writer.write_all(key).map_err(write_error)?;
            for value in &self.vectors[slot * self.dim..(slot + 1) * self.dim] {
                writer
                    .write_all(&value.to_le_bytes())
                    .map_err(write_error)?;
            }
        }
        writer.flush().map_err(write_error)?;
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_round_trips_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.bin");
        let mut cache = EmbeddingCache::open(&path, 3).unwrap();
        let first = EmbeddingCache::key("m", "hello");
        cache.insert(first, &[1.0, 2.0, 3.0]);
        cache.flush().unwrap();
        let mut reopened = EmbeddingCache::open(&path, 3).unwrap();
        assert_eq!(reopened.get(&first), Some(&[1.0f32, 2.0, 3.0][..]));
        let second = EmbeddingCache::key("m", "world");
        reopened.insert(second, &[4.0, 5.0, 6.0]);
        reopened.flush().unwrap();
        let again = EmbeddingCache::open(&path, 3).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again.get(&second), Some(&[4.0f32, 5.0, 6.0][..]));
        assert_ne!(
            EmbeddingCache::key("m", "hello"),
            EmbeddingCache::key("other", "hello")
        );
    }

    #[test]
    fn other_width_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.bin");
        let mut cache = EmbeddingCache::open(&path, 2).unwrap();
        cache.insert(EmbeddingCache::key("m", "x"), &[1.0, 2.0]);
        cache.flush().unwrap();
        assert!(EmbeddingCache::open(&path, 3).unwrap().is_empty());
    }
}
