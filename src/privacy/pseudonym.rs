//! Pseudonymous authors: an author id becomes HMAC-SHA256(key, id), its first 8 bytes in hex.
//!
//! The key is 32 random bytes per workspace, made on first use and kept as `privacy.key` (mode
//! 0600), or given in the environment as 64 hex digits (`XSIGNAL_PSEUDONYM_KEY`), which then wins.
//! The same id always gets the same pseudonym under one key, so distinct-author counts and the
//! spam gates work unchanged; without the key a pseudonym cannot be tied back to an id, and with it
//! the pseudonym of a known id can be computed again ([`PseudonymKey::pseudonym`]), e.g. to find a
//! person's comments.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The environment variable that supplies the key as hex.
pub const KEY_ENV: &str = "XSIGNAL_PSEUDONYM_KEY";

/// The key's file in the workspace.
pub const KEY_FILE: &str = "privacy.key";

const KEY_LEN: usize = 32;

/// Bytes of the HMAC kept in a pseudonym (16 hex digits).
const PSEUDONYM_BYTES: usize = 8;

/// The secret that turns author ids into pseudonyms.
#[derive(Clone)]
pub struct PseudonymKey {
    bytes: [u8; KEY_LEN],
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    /// The key from the environment, or the workspace's key file, made on first use.
    pub fn load(workspace_root: &Path) -> Result<PseudonymKey> {
        match std::env::var(KEY_ENV) {
            Ok(hex) => PseudonymKey::from_hex(&hex),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Invalid(format!(
                "{KEY_ENV} must be {} hex digits",
                2 * KEY_LEN
            ))),
            Err(std::env::VarError::NotPresent) => {
                PseudonymKey::load_file(&workspace_root.join(KEY_FILE))
            }
        }
    }

    /// A key given as hex digits.
    pub fn from_hex(hex: &str) -> Result<PseudonymKey> {
        crate::hex::decode(hex.trim())
            .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok())
            .map(|bytes| PseudonymKey { bytes })
            .ok_or_else(|| Error::Invalid(format!("{KEY_ENV} must be {} hex digits", 2 * KEY_LEN)))
    }

    /// The key in `path`, made (32 random bytes, mode 0600) when the file does not exist.
    pub(super) fn load_file(path: &Path) -> Result<PseudonymKey> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = <[u8; KEY_LEN]>::try_from(bytes).map_err(|bytes| {
                    Error::Invalid(format!(
                        "{}: a pseudonym key is {KEY_LEN} bytes, this file has {}",
                        path.display(),
                        bytes.len()
                    ))
                })?;
                Ok(PseudonymKey { bytes })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; KEY_LEN];
                getrandom::fill(&mut bytes)
                    .map_err(|error| Error::io(path, std::io::Error::other(error.to_string())))?;
                // Private like every workspace file; `create_new` keeps a key another process
                // made in the meantime.
                let mut options = crate::workspace::files::create_options();
                options.write(true).create_new(true);
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(&bytes)
                            .and_then(|()| file.sync_all())
                            .map_err(|source| Error::io(path, source))?;
                        Ok(PseudonymKey { bytes })
                    }
                    // Made by another process in the meantime: use that one.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        PseudonymKey::load_file(path)
                    }
                    Err(source) => Err(Error::io(path, source)),
                }
            }
            Err(source) => Err(Error::io(path, source)),
        }
    }

    /// The pseudonym of an author id: 16 lowercase hex digits.
    pub fn pseudonym(&self, author: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.bytes).expect("HMAC takes a key of any length");
        mac.update(author.as_bytes());
        crate::hex::encode(&mac.finalize().into_bytes()[..PSEUDONYM_BYTES])
    }
}
