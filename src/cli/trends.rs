//! `xsignal trends --workspace DIR [--explain ID] [--json]`

use std::path::PathBuf;

use xsignal::topics::themes::Theme;
use xsignal::types::{Signal, SignalKind, Topic, TopicId};
use xsignal::workspace::{read_jsonl, Workspace};

use super::output::printable;
use super::{print, CliError, CliResult, EXIT_OK};

/// Flags of `trends`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Print one signal's full evidence.
    #[arg(long)]
    explain: Option<String>,
    /// JSON lines output.
    #[arg(long)]
    json: bool,
}

/// Runs `trends`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let signals: Vec<Signal> = read_jsonl(&workspace.path("signals.jsonl"))?;
    if let Some(id) = &args.explain {
        let signal = signals
            .iter()
            .find(|signal| &signal.id == id)
            .ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "no signal {id:?} in {}",
                    args.workspace.display()
                ))
            })?;
        print(&(serde_json::to_string_pretty(signal)? + "\n"))?;
        return Ok(EXIT_OK);
    }
    let topics: Vec<Topic> = read_jsonl(&workspace.path("topics.jsonl"))?;
    let themes: Vec<Theme> = read_jsonl(&workspace.path("themes.jsonl"))?;
    let topic_label = |id: TopicId| {
        topics.iter().find(|topic| topic.id == id).map_or_else(
            || format!("topic {id}"),
            |topic| printable(&topic.label).into_owned(),
        )
    };
    let theme_label = |id: TopicId| {
        themes.iter().find(|theme| theme.id == id).map_or_else(
            || format!("theme {id}"),
            |theme| printable(&theme.label).into_owned(),
        )
    };
    let mut out = String::new();
    if !args.json && signals.is_empty() {
        out.push_str("no signals\n");
    }
    for signal in &signals {
        if args.json {
            out.push_str(&serde_json::to_string(signal)?);
            out.push('\n');
            continue;
        }
        let about = match (signal.topic, signal.theme) {
            (Some(topic), Some(theme)) => format!(
                "  (topic {topic} \"{}\", theme {theme} \"{}\")",
                topic_label(topic),
                theme_label(theme)
            ),
            (Some(topic), None) => format!("  (topic {topic} \"{}\")", topic_label(topic)),
            (None, _) => String::new(),
        };
        // What `observed` counts: distinct texts in the window, or the negative share for a
        // sentiment shift.
        let window = if signal.kind == SignalKind::SentimentShift {
            format!(
                "negative share {:.2}, baseline {:.2} ± {:.2}",
                signal.observed, signal.baseline_mean, signal.baseline_std
            )
        } else {
            format!(
                "{:.0} distinct texts, baseline {:.2} ± {:.2}",
                signal.observed, signal.baseline_mean, signal.baseline_std
            )
        };
        out.push_str(&format!(
            "{}  {:?}  {}{}\n    this window ({} to {}): {}, score {:.1}\n    in all: {} comments listed, {} distinct authors, {} copies ignored\n    id {}\n",
            signal.first_flagged.format("%Y-%m-%d %H:%M"),
            signal.kind,
            printable(&signal.label),
            about,
            signal.window.start.format("%Y-%m-%d %H:%M"),
            signal.window.end.format("%Y-%m-%d %H:%M"),
            window,
            signal.score,
            signal.comment_ids.len(),
            signal.distinct_authors,
            signal.duplicates_ignored,
            printable(&signal.id)
        ));
    }
    print(&out)?;
    Ok(EXIT_OK)
}
