//! `xsignal forget --workspace DIR (--author ID | --id ID | --query Q | --before TIME) [--dry-run]`

use std::path::PathBuf;

use xsignal::config::Config;
use xsignal::embed::Encoder;
use xsignal::pipeline::{self, AnalyzeOptions};
use xsignal::privacy::forget::{self, AuditEntry, Selector};
use xsignal::privacy::PseudonymKey;
use xsignal::workspace::{Wait, Workspace, WorkspaceWriter};

use super::filters::parse_time;
use super::{CliError, CliResult, GlobalOpts, EXIT_OK};

/// Flags of `forget`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("selector").required(true).multiple(false)))]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Every comment of this author id, as it was in the input (matched through its pseudonym).
    #[arg(long, group = "selector")]
    author: Option<String>,
    /// The comment with this id.
    #[arg(long, group = "selector")]
    id: Option<String>,
    /// Every comment this search query matches (the syntax of `xsignal search`).
    #[arg(long, group = "selector")]
    query: Option<String>,
    /// Every comment dated before this time (RFC 3339 or YYYY-MM-DD, midnight UTC).
    #[arg(long, group = "selector")]
    before: Option<String>,
    /// Print how many comments would be removed and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Wait for another run writing the workspace to finish (default: exit 4 at once).
    #[arg(long)]
    wait: bool,
}

impl Args {
    fn selector(&self) -> Result<Selector, CliError> {
        Ok(match (&self.author, &self.id, &self.query, &self.before) {
            (Some(author), _, _, _) => Selector::Author(author.clone()),
            (_, Some(id), _, _) => Selector::Id(id.clone()),
            (_, _, Some(query), _) => Selector::Query(query.clone()),
            (_, _, _, Some(before)) => Selector::Before(parse_time(before)?),
            _ => unreachable!("clap requires one selector"),
        })
    }
}

/// Runs `forget`.
pub fn run(args: &Args, global: &GlobalOpts) -> CliResult {
    let selector = args.selector()?;
    // What the committed run holds: the config that made it, its index, its key.
    let committed = Workspace::open_existing(&args.workspace)?;
    let key = PseudonymKey::load(&args.workspace)?;
    if args.dry_run {
        let stored = committed.load_store()?;
        let marked = selector.select(&stored, &key, &committed.index_dir())?;
        let count = marked.iter().filter(|&&remove| remove).count();
        println!("would remove {count} of {} comments", stored.len());
        return Ok(EXIT_OK);
    }
    let config = Config::of_workspace(&committed).map_err(CliError::usage)?;
    // The models the run that follows needs are checked before anything is erased.
    Encoder::check(&global.models_dir(), &config.embed)?;
    config
        .sentiment
        .check(&global.models_dir(), &config.embed)?;

    let wait = if args.wait { Wait::Yes } else { Wait::No };
    let mut writer = WorkspaceWriter::open(&args.workspace, wait)?;
    let stored = writer.load_store()?;
    let total = stored.len();
    let marked = selector.select(&stored, &key, &committed.index_dir())?;
    let removed = forget::erase(&mut writer, stored, &marked)?;
    writer.append_audit(&AuditEntry::request(&selector, &key, removed))?;
    if writer.erased().is_none() {
        writer.discard()?;
        println!("removed 0 of {total} comments: nothing matched, nothing changed");
        return Ok(EXIT_OK);
    }
    // Everything is re-derived from the comments that stayed, as if the others had never come.
    let options = AnalyzeOptions {
        files: Vec::new(),
        columns: Default::default(),
        models_dir: global.models_dir(),
        progress: !global.quiet,
    };
    let summary = pipeline::analyze(writer, &config, &options)?;
    println!(
        "removed {removed} of {total} comments; the workspace holds {} comments, {} topics, {} signals, re-derived from them",
        summary.total_comments, summary.topics, summary.signals
    );
    Ok(EXIT_OK)
}
