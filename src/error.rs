//! The library's error type. Context variants say where a failure happened (file, line).

use std::path::PathBuf;

/// Errors returned by the xsignal library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON document in a workspace or model file could not be read.
    #[error("{path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The configuration file is invalid.
    #[error("config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Config values out of range (every problem, `section.key ...`, joined by `; `).
    #[error("invalid config: {0}")]
    ConfigValues(String),
    /// A model file is missing.
    #[error("model not found: {path} is missing; run `xsignal models fetch` first")]
    ModelMissing {
        /// The missing file or folder.
        path: PathBuf,
    },
    /// The configured encoder backend is not compiled into this build.
    #[error("encoder backend `{backend}` is not in this build: rebuild with `--features {feature}` (or use `--backend candle`)")]
    BackendNotCompiled {
        /// The backend asked for.
        backend: &'static str,
        /// The cargo feature that compiles it in.
        feature: &'static str,
    },
    /// An encoder backend other than candle failed.
    #[error("encoder ({backend}): {message}")]
    Backend {
        /// The backend.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The transformer failed.
    #[error("encoder")]
    Candle(#[from] candle_core::Error),
    /// The tokenizer failed (its errors are boxed strings upstream).
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The search index failed.
    #[error("index")]
    Index(#[from] tantivy::TantivyError),
    /// A search query could not be parsed.
    #[error("query")]
    Query(#[from] tantivy::query::QueryParserError),
    /// A search query is longer or nested deeper than allowed.
    #[error("query: {0}")]
    QueryRefused(String),
    /// An input or argument is invalid.
    #[error("{0}")]
    Invalid(String),
    /// An input file's header lacks a column the column map names (a usage error: map the
    /// column with its flag).
    #[error("{0}")]
    MissingColumn(String),
    /// Another process is writing the workspace.
    #[error("{path}: another xsignal run is writing this workspace; wait for it to finish or pass --wait")]
    Locked {
        /// The workspace folder.
        path: PathBuf,
    },
    /// An external command (such as `pip`) failed.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
