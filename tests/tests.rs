//! Integration tests: one binary that runs the `xsignal` command line end to end.

mod cli;
mod common;
mod crash;
mod pipeline;
