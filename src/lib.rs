//! xsignal finds the signal in experience data: it ingests comment dumps (CSV, JSONL), indexes them
//! in tantivy, scores sentiment with a transformer encoder, clusters topics and flags emerging trends
//! that rise above their own baseline, carried by many distinct authors.
//!
//! The stages, in pipeline order, are the modules [`ingest`], [`embed`], [`sentiment`], [`topics`],
//! [`trends`], [`index`], and [`feed`]; [`pipeline`] wires them together over a [`workspace`].
//! [`deliver`] pushes the feed to webhooks.
#![warn(missing_docs)]

pub mod config;
pub mod deliver;
pub mod embed;
pub mod error;
pub mod eval;
pub mod export;
pub mod failpoint;
pub mod feed;
#[cfg(test)]
mod fuzz;
pub mod hex;
pub mod index;
pub mod ingest;
pub mod models;
pub mod pipeline;
pub mod privacy;
pub mod query;
pub mod rng;
pub mod sentiment;
pub mod serve;
pub mod summary;
pub mod text;
pub mod topics;
pub mod trends;
pub mod types;
pub mod validation;
pub mod workspace;

pub use config::Config;
pub use error::{Error, Result};
