//! `xsignal deliver --workspace DIR [--config FILE] [--once]`

use std::path::PathBuf;

use xsignal::config::Config;
use xsignal::deliver::{self, Stop};
use xsignal::workspace::Workspace;

use super::{print, CliError, CliResult, EXIT_OK};

/// Flags of `deliver`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Config with the `[[deliver.webhook]]` entries. Default: the workspace's config.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Deliver the events each webhook has not acknowledged yet, then exit (exit 1 when a
    /// webhook failed one event `deliver.once_attempts` times). Without it, follow the feed
    /// until Ctrl-C.
    #[arg(long)]
    once: bool,
}

/// Runs `deliver`.
pub fn run(args: &Args) -> CliResult {
    let (config, source) = match &args.config {
        Some(path) => (Config::load(path).map_err(CliError::usage)?, path.clone()),
        None => {
            let workspace = Workspace::open_existing(&args.workspace)?;
            let config = Config::of_workspace(&workspace).map_err(CliError::usage)?;
            (config, workspace.path("config.toml"))
        }
    };
    if config.deliver.webhook.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "{}: no webhooks configured: add a [[deliver.webhook]] entry with url and secret_env \
             (see the README, Feed delivery)",
            source.display()
        )));
    }
    let stop = Stop::new();
    let on_interrupt = stop.clone();
    ctrlc::set_handler(move || on_interrupt.stop())?;
    if args.once {
        let summaries = deliver::deliver_pending(&args.workspace, &config.deliver, &stop)?;
        let mut out = String::new();
        for summary in &summaries {
            out.push_str(&format!(
                "webhook {}: {} events delivered, position {}\n",
                summary.webhook, summary.delivered, summary.position
            ));
        }
        print(&out)?;
    } else {
        deliver::run(&args.workspace, &config.deliver, &stop)?;
    }
    Ok(EXIT_OK)
}
