//! A content-addressed embedding cache kept in the workspace, so a rerun does not re-encode.
//!
//! File layout (`embeddings.bin`): the magic `XSEMB2\n`, a little-endian u32 width, then records of a
//! 32-byte key (sha256 of the encoder fingerprint and the text), `width` little-endian f32 and the
//! little-endian xxh3-64 checksum of key and vector. New records are appended.
//!
//! The cache heals itself: the file is streamed record by record (never held in memory beside the
//! vectors); a record whose checksum fails is skipped; a torn tail (an interrupted write) is cut off
//! before the next append, so later records stay aligned. A file with a corrupt record, or in the
//! checksum-less format `XSEMB1` (whose records are read and kept), is rewritten whole on the next
//! flush (a temporary file renamed over it).

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};

const MAGIC: &[u8; 7] = b"XSEMB2\n";
/// The format before records carried a checksum.
const MAGIC_V1: &[u8; 7] = b"XSEMB1\n";
const HEADER_LEN: u64 = 11;
const CHECKSUM_LEN: usize = 8;

/// Key of one cached embedding.
pub type CacheKey = [u8; 32];

/// How the file on disk relates to the records in memory.
#[derive(Clone, Copy, Debug, PartialEq)]
enum OnDisk {
    /// No usable file: the next flush writes it whole.
    Rewrite,
    /// The file's first `valid_len` bytes are intact records; anything after them is cut off
    /// before appending.
    Append { valid_len: u64, file_len: u64 },
}

/// Embeddings by content hash, loaded in memory, appended to disk.
pub struct EmbeddingCache {
    path: PathBuf,
    dim: usize,
    index: HashMap<CacheKey, usize>,
    vectors: Vec<f32>,
    pending: Vec<(CacheKey, usize)>,
    on_disk: OnDisk,
    /// Slots handed out since the cache was opened ([`EmbeddingCache::mark_used`]).
    used: Vec<bool>,
}

/// The checksum stored after a record's key and vector bytes.
fn record_checksum(record_body: &[u8]) -> [u8; CHECKSUM_LEN] {
    xxh3_64(record_body).to_le_bytes()
}

/// Reads as many bytes as are there, up to `buffer.len()` (a short count means end of file).
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
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
    /// of another width or an unknown format is ignored and will be rewritten).
    pub fn open(path: &Path, dim: usize) -> Result<EmbeddingCache> {
        let mut cache = EmbeddingCache {
            path: path.to_path_buf(),
            dim,
            index: HashMap::new(),
            vectors: Vec::new(),
            pending: Vec::new(),
            on_disk: OnDisk::Rewrite,
            used: Vec::new(),
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(source) => return Err(Error::io(path, source)),
        };
        let read_error = |source| Error::io(path, source);
        let file_len = file.metadata().map_err(read_error)?.len();
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut header = [0u8; HEADER_LEN as usize];
        if read_full(&mut reader, &mut header).map_err(read_error)? < header.len() {
            return Ok(cache);
        }
        let checksummed = match &header[..MAGIC.len()] {
            magic if magic == MAGIC => true,
            magic if magic == MAGIC_V1 => false,
            _ => return Ok(cache),
        };
        let stored_dim = u32::from_le_bytes(header[7..11].try_into().expect("4 bytes")) as usize;
        if stored_dim != dim {
            return Ok(cache);
        }
        let body_len = 32 + 4 * dim;
        let record_len = body_len + if checksummed { CHECKSUM_LEN } else { 0 };
        let mut record = vec![0u8; record_len];
        let mut valid_len = HEADER_LEN;
        let mut corrupt = 0u64;
        loop {
            let filled = read_full(&mut reader, &mut record).map_err(read_error)?;
            if filled < record_len {
                break;
            }
            let (body, checksum) = record.split_at(body_len);
            if checksummed && checksum != record_checksum(body) {
                corrupt += 1;
                continue;
            }
            valid_len += record_len as u64;
            let key: CacheKey = body[..32].try_into().expect("32 bytes");
            if cache.index.contains_key(&key) {
                continue;
            }
            cache.index.insert(key, cache.index.len());
            cache.vectors.extend(
                body[32..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))),
            );
        }
        let torn =
            file_len - HEADER_LEN - (file_len - HEADER_LEN) / record_len as u64 * record_len as u64;
        if corrupt > 0 || torn > 0 {
            tracing::warn!(
                file = %path.display(),
                corrupt_records = corrupt,
                torn_tail_bytes = torn,
                "embedding cache damaged; intact records kept, the damage is repaired on the next write"
            );
        }
        cache.on_disk = if checksummed && corrupt == 0 {
            OnDisk::Append {
                valid_len,
                file_len,
            }
        } else {
            OnDisk::Rewrite
        };
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

    /// Records that the vector in `slot` is in use (see [`EmbeddingCache::keep_only_used`]).
    pub fn mark_used(&mut self, slot: usize) {
        if self.used.len() <= slot {
            self.used.resize(self.index.len().max(slot + 1), false);
        }
        self.used[slot] = true;
    }

    /// Drops every vector not marked used since the cache was opened and rewrites the file with
    /// the rest (a temporary file renamed over it, so the dropped records' bytes leave the file).
    /// Slots handed out before are void afterwards. Nothing happens when every vector is in use.
    pub fn keep_only_used(&mut self) -> Result<()> {
        let is_used = |slot: usize| self.used.get(slot).copied().unwrap_or(false);
        if (0..self.index.len()).all(is_used) {
            return Ok(());
        }
        let mut keys = vec![[0u8; 32]; self.index.len()];
        for (key, &slot) in &self.index {
            keys[slot] = *key;
        }
        let mut index = HashMap::new();
        let mut vectors = Vec::new();
        for (slot, key) in keys.iter().enumerate() {
            if is_used(slot) {
                index.insert(*key, index.len());
                vectors.extend_from_slice(self.vector(slot));
            }
        }
        tracing::debug!(
            dropped = self.index.len() - index.len(),
            kept = index.len(),
            "embedding cache keeps only the vectors in use"
        );
        self.used = vec![true; index.len()];
        self.index = index;
        self.vectors = vectors;
        self.pending.clear();
        self.on_disk = OnDisk::Rewrite;
        if self.index.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io(&self.path, error))
                }
                _ => Ok(()),
            };
        }
        self.flush()
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

    fn write_records(
        &self,
        writer: &mut impl Write,
        records: impl Iterator<Item = (CacheKey, usize)>,
    ) -> std::io::Result<u64> {
        let mut body = Vec::with_capacity(32 + 4 * self.dim);
        let mut written = 0u64;
        for (key, slot) in records {
            body.clear();
            body.extend_from_slice(&key);
            for value in self.vector(slot) {
                body.extend_from_slice(&value.to_le_bytes());
            }
            writer.write_all(&body)?;
            writer.write_all(&record_checksum(&body))?;
            written += (body.len() + CHECKSUM_LEN) as u64;
        }
        Ok(written)
    }

    /// Writes the vectors added since the last flush to the file: appended after the last intact
    /// record, or, when the file must be repaired or converted, the whole cache rewritten.
    pub fn flush(&mut self) -> Result<()> {
        let write_error = |source| Error::io(&self.path, source);
        match self.on_disk {
            OnDisk::Append { .. } if self.pending.is_empty() => return Ok(()),
            OnDisk::Rewrite if self.index.is_empty() => return Ok(()),
            OnDisk::Append {
                valid_len,
                file_len,
            } => {
                let file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&self.path)
                    .map_err(write_error)?;
                if file_len != valid_len {
                    file.set_len(valid_len).map_err(write_error)?;
                }
                let mut writer = BufWriter::new(file);
                // Written in two halves, with a failpoint between them: a run killed there leaves
                // a torn tail that the next open cuts off.
                let half = self.pending.len() / 2;
                let mut written = self
                    .write_records(&mut writer, self.pending[..half].iter().copied())
                    .map_err(write_error)?;
                if half > 0 {
                    writer.flush().map_err(write_error)?;
                    crate::failpoint::hit("cache.flush");
                }
                written += self
                    .write_records(&mut writer, self.pending[half..].iter().copied())
                    .map_err(write_error)?;
                writer.flush().map_err(write_error)?;
                let valid_len = valid_len + written;
                self.on_disk = OnDisk::Append {
                    valid_len,
                    file_len: valid_len,
                };
            }
            OnDisk::Rewrite => {
                let mut keys = vec![[0u8; 32]; self.index.len()];
                for (key, &slot) in &self.index {
                    keys[slot] = *key;
                }
                let mut temporary = self.path.clone().into_os_string();
                temporary.push(".partial");
                let temporary = PathBuf::from(temporary);
                let temporary_error = |source| Error::io(&temporary, source);
                let file = std::fs::File::create(&temporary).map_err(temporary_error)?;
                let mut writer = BufWriter::new(file);
                writer.write_all(MAGIC).map_err(temporary_error)?;
                writer
                    .write_all(&(self.dim as u32).to_le_bytes())
                    .map_err(temporary_error)?;
                let written = self
                    .write_records(&mut writer, keys.into_iter().zip(0..))
                    .map_err(temporary_error)?;
                writer.flush().map_err(temporary_error)?;
                drop(writer);
                std::fs::rename(&temporary, &self.path).map_err(write_error)?;
                let valid_len = HEADER_LEN + written;
                self.on_disk = OnDisk::Append {
                    valid_len,
                    file_len: valid_len,
                };
            }
        }
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
    fn keeping_only_the_used_vectors_rewrites_the_file_without_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.bin");
        let mut cache = EmbeddingCache::open(&path, 3).unwrap();
        let keys: Vec<CacheKey> = ["kept", "erased", "also kept"]
            .iter()
            .map(|text| EmbeddingCache::key("m", text))
            .collect();
        for (index, key) in keys.iter().enumerate() {
            cache.insert(*key, &[index as f32 + 7.5; 3]);
        }
        cache.flush().unwrap();
        let mut cache = EmbeddingCache::open(&path, 3).unwrap();
        cache.keep_only_used().unwrap();
        assert!(
            cache.is_empty(),
            "nothing was used since the cache was opened"
        );
        assert!(!path.exists());

        let mut cache = EmbeddingCache::open(&path, 3).unwrap();
        for (index, key) in keys.iter().enumerate() {
            cache.insert(*key, &[index as f32 + 7.5; 3]);
        }
        cache.flush().unwrap();
        let mut cache = EmbeddingCache::open(&path, 3).unwrap();
        for key in [keys[0], keys[2]] {
            let slot = cache.slot(&key).unwrap();
            cache.mark_used(slot);
        }
        let before = std::fs::metadata(&path).unwrap().len();
        cache.keep_only_used().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            before - record_len(3)
        );
        let bytes = std::fs::read(&path).unwrap();
        let erased_value = 8.5f32.to_le_bytes();
        assert!(!bytes.windows(4).any(|window| window == erased_value));
        assert!(!bytes.windows(32).any(|window| window == keys[1]));
        let reopened = EmbeddingCache::open(&path, 3).unwrap();
        assert_eq!(reopened.len(), 2);
        assert_eq!(reopened.get(&keys[2]), Some(&[9.5f32; 3][..]));
        assert!(reopened.get(&keys[1]).is_none());
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

    fn record_len(dim: usize) -> u64 {
        (32 + 4 * dim + CHECKSUM_LEN) as u64
    }

    /// A cache file with `count` records of width 3; record `i` holds `[i, i + 0.5, -i]`.
    fn filled(path: &Path, count: usize) -> Vec<(CacheKey, [f32; 3])> {
        let mut cache = EmbeddingCache::open(path, 3).unwrap();
        let records: Vec<(CacheKey, [f32; 3])> = (0..count)
            .map(|i| {
                let value = i as f32;
                (
                    EmbeddingCache::key("m", &format!("text {i}")),
                    [value, value + 0.5, -value],
                )
            })
            .collect();
        for (key, vector) in &records {
            cache.insert(*key, vector);
        }
        cache.flush().unwrap();
        records
    }

    fn assert_hits(path: &Path, records: &[(CacheKey, [f32; 3])]) -> EmbeddingCache {
        let cache = EmbeddingCache::open(path, 3).unwrap();
        for (key, vector) in records {
            assert_eq!(cache.get(key), Some(&vector[..]));
        }
        cache
    }

    #[test]
    fn torn_tail_is_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.bin");
        let mut records = filled(&path, 5);
        for round in 0..3 {
            // An interrupted write leaves part of a record.
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            file.write_all(&[7u8; 13]).unwrap();
            drop(file);
            let mut cache = assert_hits(&path, &records);
            assert_eq!(cache.len(), records.len());
            let key = EmbeddingCache::key("m", &format!("round {round}"));
            let vector = [round as f32, 1.0, 2.0];
            cache.insert(key, &vector);
            cache.flush().unwrap();
            records.push((key, vector));
            let reopened = assert_hits(&path, &records);
            assert_eq!(reopened.len(), records.len());
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                HEADER_LEN + records.len() as u64 * record_len(3)
            );
        }
    }

    #[test]
    fn corrupt_record_is_skipped_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.bin");
        let records = filled(&path, 5);
        let mut bytes = std::fs::read(&path).unwrap();
        let damaged = (HEADER_LEN + 2 * record_len(3) + 40) as usize;
        bytes[damaged] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let intact: Vec<_> = records
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, record)| *record)
            .collect();
        let mut cache = assert_hits(&path, &intact);
        assert_eq!(cache.len(), 4);
        assert_eq!(cache.get(&records[2].0), None);
        // The run re-encodes the lost text; the file is rewritten without the damaged record.
        cache.insert(records[2].0, &records[2].1);
        cache.flush().unwrap();
        let repaired = assert_hits(&path, &records);
        assert_eq!(repaired.len(), 5);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            HEADER_LEN + 5 * record_len(3)
        );
    }

    #[test]
    fn checksum_less_format_is_read_and_converted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.bin");
        let key = EmbeddingCache::key("m", "old");
        let mut bytes = MAGIC_V1.to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&key);
        for value in [1.0f32, 2.0, 3.0] {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        bytes.extend_from_slice(&[1, 2, 3]); // a torn tail
        std::fs::write(&path, &bytes).unwrap();
        let mut cache = EmbeddingCache::open(&path, 3).unwrap();
        assert_eq!(cache.get(&key), Some(&[1.0f32, 2.0, 3.0][..]));
        cache.flush().unwrap();
        let converted = std::fs::read(&path).unwrap();
        assert_eq!(&converted[..7], MAGIC);
        assert_eq!(converted.len() as u64, HEADER_LEN + record_len(3));
        assert_eq!(
            EmbeddingCache::open(&path, 3).unwrap().get(&key),
            Some(&[1.0f32, 2.0, 3.0][..])
        );
    }
}
