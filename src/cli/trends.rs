//! `xsignal trends --workspace DIR [--explain ID] [--json]`

use std::path::PathBuf;

use xsignal::topics::themes::Theme;
use xsignal::types::{EnrichedComment, Signal, SignalKind, Topic, TopicId};
use xsignal::workspace::Workspace;

use super::explain::{explain, About};
use super::output::printable;
use super::signal_id::{find_signal, short_ids};
use super::{print, CliResult, EXIT_OK};

/// Short ids have at least this many characters (`phrase:` and a few more).
const SHORT_ID_CHARS: usize = 10;

/// Flags of `trends`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Explain one signal: observed against baseline and thresholds, when it was first flagged, its
    /// topic and theme, its evidence and a sparkline of its comments per bucket. ID is the full
    /// signal id, a unique prefix of it, or the signal's number in the list (1 is the first).
    #[arg(long, value_name = "ID")]
    explain: Option<String>,
    /// JSON output: one signal per line; with --explain, the signal as pretty-printed JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `trends`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let signals: Vec<Signal> = workspace.signals()?;
    let explained = match &args.explain {
        Some(reference) => Some(find_signal(&signals, reference)?),
        None => None,
    };
    if let (Some(signal), true) = (explained, args.json) {
        print(&(serde_json::to_string_pretty(signal)? + "\n"))?;
        return Ok(EXIT_OK);
    }
    let topics: Vec<Topic> = workspace.topics()?;
    let themes: Vec<Theme> = workspace.themes()?;
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
    let about = |signal: &Signal| match (signal.topic, signal.theme) {
        (Some(topic), Some(theme)) => format!(
            "  (topic {topic} \"{}\", theme {theme} \"{}\")",
            topic_label(topic),
            theme_label(theme)
        ),
        (Some(topic), None) => format!("  (topic {topic} \"{}\")", topic_label(topic)),
        (None, _) => String::new(),
    };
    if let Some(signal) = explained {
        let row = signals
            .iter()
            .position(|other| std::ptr::eq(other, signal))
            .map_or(0, |index| index + 1);
        let comments: Vec<EnrichedComment> = workspace.comments()?;
        let labels = About {
            topic: signal
                .topic
                .map(|topic| format!("{topic} \"{}\"", topic_label(topic))),
            theme: signal
                .theme
                .map(|theme| format!("{theme} \"{}\"", theme_label(theme))),
        };
        print(&explain(signal, row, &labels, &comments))?;
        return Ok(EXIT_OK);
    }
    let short = short_ids(&signals, SHORT_ID_CHARS);
    let mut out = String::new();
    if !args.json && signals.is_empty() {
        out.push_str("no signals\n");
    }
    for (index, signal) in signals.iter().enumerate() {
        if args.json {
            out.push_str(&serde_json::to_string(signal)?);
            out.push('\n');
            continue;
        }
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
            "{:>3}  {}  {:?}  {}{}\n    this window ({} to {}): {}, score {:.1}\n    in all: {} comments listed, {} distinct authors, {} copies ignored\n    id {}  (short: {}; explain: xsignal trends --explain {})\n",
            index + 1,
            signal.first_flagged.format("%Y-%m-%d %H:%M"),
            signal.kind,
            printable(&signal.label),
            about(signal),
            signal.window.start.format("%Y-%m-%d %H:%M"),
            signal.window.end.format("%Y-%m-%d %H:%M"),
            window,
            signal.score,
            signal.comment_ids.len(),
            signal.distinct_authors,
            signal.duplicates_ignored,
            printable(&signal.id),
            printable(&short[index]),
            index + 1
        ));
    }
    print(&out)?;
    Ok(EXIT_OK)
}
