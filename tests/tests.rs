//! Integration tests: one binary that runs the `xsignal` command line end to end.

mod cli;
mod common;
mod crash;
mod forget;
mod nasty;
mod pipeline;
mod privacy;
mod requests;
mod serve;
