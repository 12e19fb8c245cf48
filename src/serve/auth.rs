//! Who may call the API and what they see: the server's settings file, bearer tokens and their
//! scopes.
//!
//! Settings come from a TOML file (`xsignal serve --config FILE`, a `[serve]` table) and the
//! environment: `serve.token` or `XSIGNAL_TOKEN` is a token that sees everything,
//! `[[serve.tokens]]` entries are tokens limited to some sources. A server that binds anything but
//! a loopback address refuses to start without a token. Once any token is configured, every
//! `/v1` and `/metrics` request needs `Authorization: Bearer TOKEN`; `/health` and
//! `/openapi.json` stay open. Tokens are compared by their SHA-256 digests, so the comparison
//! takes the same time whatever prefix matches.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The environment variable that holds the full-access token.
pub const TOKEN_ENV: &str = "XSIGNAL_TOKEN";

/// The settings file: one `[serve]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default)]
    serve: ServeSettings,
}

/// The `[serve]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// A token that sees every source.
    #[serde(default)]
    pub token: Option<String>,
    /// Tokens that see only some sources.
    #[serde(default)]
    pub tokens: Vec<ScopedToken>,
    /// Origins allowed to call the API from a browser (CORS); none: CORS is off.
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

/// A token limited to some sources.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopedToken {
    /// The bearer token.
    pub token: String,
    /// The sources it sees (compared case-insensitively).
    pub sources: Vec<String>,
}

impl ServeSettings {
    /// Reads the settings file `path` (none: defaults) and takes `XSIGNAL_TOKEN` from the
    /// environment when the file sets no full-access token.
    pub fn load(path: Option<&Path>) -> Result<ServeSettings> {
        let mut settings = match path {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| Error::io(path, source))?;
                let file: SettingsFile = toml::from_str(&text).map_err(|error| {
                    Error::Invalid(format!("{}: {}", path.display(), error.message()))
                })?;
                file.serve
            }
            None => ServeSettings::default(),
        };
        if settings.token.is_none() {
            settings.token = std::env::var(TOKEN_ENV)
                .ok()
                .filter(|token| !token.is_empty());
        }
        for (index, scoped) in settings.tokens.iter().enumerate() {
            if scoped.token.is_empty() || scoped.sources.is_empty() {
                return Err(Error::Invalid(format!(
                    "serve.tokens[{index}]: a scoped token needs a non-empty token and at least one source"
                )));
            }
        }
        if settings.token.as_deref() == Some("") {
            return Err(Error::Invalid(
                "serve.token: the token is empty".to_string(),
            ));
        }
        Ok(settings)
    }
}

/// What a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every comment.
    All,
    /// Only comments of these sources (lowercased).
    Sources(BTreeSet<String>),
}

impl Scope {
    /// True when a comment of `source` is visible.
    pub fn allows(&self, source: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Sources(sources) => {
                source.is_some_and(|source| sources.contains(&source.to_lowercase()))
            }
        }
    }

    /// The sources to restrict a search to; `None` for every comment.
    pub fn search_scope(&self) -> Option<Vec<String>> {
        match self {
            Scope::All => None,
            Scope::Sources(sources) => Some(sources.iter().cloned().collect()),
        }
    }
}

/// The configured tokens, by digest.
#[derive(Clone, Debug)]
pub struct Tokens {
    entries: Vec<([u8; 32], Scope)>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// The tokens of `settings`.
    pub fn new(settings: &ServeSettings) -> Tokens {
        let mut entries = Vec::new();
        if let Some(token) = &settings.token {
            entries.push((digest(token), Scope::All));
        }
        for scoped in &settings.tokens {
            let sources = scoped
                .sources
                .iter()
                .map(|source| source.trim().to_lowercase())
                .collect();
            entries.push((digest(&scoped.token), Scope::Sources(sources)));
        }
        Tokens { entries }
    }

    /// True when no token is configured (the API is open, on loopback only).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The scope of an `Authorization` header value; `None` when it grants nothing. With no token
    /// configured, everyone sees everything.
    pub fn scope_of(&self, authorization: Option<&str>) -> Option<Scope> {
        if self.entries.is_empty() {
            return Some(Scope::All);
        }
        let presented = authorization?.strip_prefix("Bearer ")?.trim();
        let presented = digest(presented);
        let mut granted = None;
        for (known, scope) in &self.entries {
            // Every entry is compared, whether or not an earlier one matched.
            if *known == presented && granted.is_none() {
                granted = Some(scope.clone());
            }
        }
        granted
    }
}

/// Refuses to serve on a non-loopback address without a token.
pub fn check_bind(address: &SocketAddr, tokens: &Tokens) -> Result<()> {
    if address.ip().is_loopback() || !tokens.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "refusing to serve on {address} without a token: set serve.token in the --config file or \
         {TOKEN_ENV}, or bind to a loopback address such as 127.0.0.1"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ServeSettings {
        ServeSettings {
            token: Some("full".to_string()),
            tokens: vec![ScopedToken {
                token: "staff".to_string(),
                sources: vec!["Employee".to_string()],
            }],
            cors_origins: Vec::new(),
        }
    }

    #[test]
    fn tokens_grant_their_scope_and_nothing_else() {
        let tokens = Tokens::new(&settings());
        assert_eq!(tokens.scope_of(Some("Bearer full")), Some(Scope::All));
        let staff = tokens.scope_of(Some("Bearer staff")).unwrap();
        assert!(staff.allows(Some("employee")));
        assert!(staff.allows(Some("EMPLOYEE")));
        assert!(!staff.allows(Some("appstore")));
        assert!(!staff.allows(None));
        assert_eq!(tokens.scope_of(Some("Bearer other")), None);
        assert_eq!(tokens.scope_of(Some("full")), None);
        assert_eq!(tokens.scope_of(None), None);
    }

    #[test]
    fn without_tokens_loopback_only() {
        let open = Tokens::new(&ServeSettings::default());
        assert_eq!(open.scope_of(None), Some(Scope::All));
        assert!(check_bind(&"127.0.0.1:8080".parse().unwrap(), &open).is_ok());
        assert!(check_bind(&"[::1]:8080".parse().unwrap(), &open).is_ok());
        let error = check_bind(&"0.0.0.0:8080".parse().unwrap(), &open).unwrap_err();
        assert!(error.to_string().contains("without a token"), "{error}");
        let closed = Tokens::new(&settings());
        assert!(check_bind(&"0.0.0.0:8080".parse().unwrap(), &closed).is_ok());
    }
}
