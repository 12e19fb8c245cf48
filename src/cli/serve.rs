//! `xsignal serve --workspace DIR [--bind ADDR] [--config FILE]`

use std::net::SocketAddr;
use std::path::PathBuf;

use xsignal::serve::auth::ServeSettings;
use xsignal::serve::{self, ServeOptions};

use super::{CliError, CliResult, EXIT_OK};

/// Flags of `serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Address to listen on; anything but a loopback address needs a token (port 0: any free
    /// port, printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Settings file with a [serve] table: token, tokens (scoped to sources), cors_origins. The
    /// token may also come from XSIGNAL_TOKEN.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Do not deliver the feed to the webhooks of the workspace config (by default `serve` does,
    /// as `xsignal deliver` would, unless another process already delivers it).
    #[arg(long)]
    no_deliver: bool,
}

/// Runs `serve` until interrupted.
pub fn run(args: &Args) -> CliResult {
    let settings = ServeSettings::load(args.config.as_deref()).map_err(CliError::usage)?;
    serve::run(&ServeOptions {
        workspace: args.workspace.clone(),
        bind: args.bind,
        settings,
        deliver: !args.no_deliver,
    })?;
    Ok(EXIT_OK)
}
