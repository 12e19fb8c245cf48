//! `xsignal topics --workspace DIR [--id N] [--json]`

use std::path::PathBuf;

use std::collections::HashMap;

use xsignal::types::{Comment, EnrichedComment, Topic, TopicKind};
use xsignal::workspace::Workspace;

use super::output::{printable, snippet};
use super::{print, CliError, CliResult, EXIT_OK};

/// Most recent comments shown with `--id`.
const RECENT_COMMENTS: usize = 5;

/// Flags of `topics`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace folder.
    #[arg(long, short, default_value = "xsignal-data")]
    workspace: PathBuf,
    /// Show one topic: its keywords, sentiment, comments per day, and its representative and most
    /// recent comments with their text.
    #[arg(long)]
    id: Option<u32>,
    /// JSON lines output.
    #[arg(long)]
    json: bool,
}

/// Runs `topics`.
pub fn run(args: &Args) -> CliResult {
    let workspace = Workspace::open_existing(&args.workspace)?;
    let mut topics: Vec<Topic> = workspace.topics()?;
    topics.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    if let Some(id) = args.id {
        let topic = topics.iter().find(|topic| topic.id == id).ok_or_else(|| {
            CliError::usage(anyhow::anyhow!(
                "no topic {id} in {}",
                args.workspace.display()
            ))
        })?;
        if args.json {
            print(&(serde_json::to_string(topic)? + "\n"))?;
            return Ok(EXIT_OK);
        }
        let comments: Vec<EnrichedComment> = workspace.comments()?;
        let members: Vec<&EnrichedComment> = comments
            .iter()
            .filter(|comment| comment.topic == Some(id))
            .collect();
        let mut out = format!(
            "topic {}: {}\nkind {}  size {}  negative {}  neutral {}  positive {}\nkeywords: {}\n",
            topic.id,
            printable(&topic.label),
            topic.kind.describe(),
            topic.size,
            topic.sentiment.negative,
            topic.sentiment.neutral,
            topic.sentiment.positive,
            printable(&topic.keywords.join(", ")),
        );
        let store = workspace.load_store()?;
        let texts: HashMap<&str, &Comment> = store
            .iter()
            .map(|comment| (comment.id.as_str(), comment))
            .collect();
        let mut recent: Vec<&EnrichedComment> = members.clone();
        recent.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(a.id.cmp(&b.id)));
        let representative_ids: Vec<&str> =
            topic.representatives.iter().map(String::as_str).collect();
        let recent_ids: Vec<&str> = recent
            .iter()
            .take(RECENT_COMMENTS)
            .map(|comment| comment.id.as_str())
            .collect();
        for (title, ids) in [
            ("representative comments", representative_ids),
            ("most recent comments", recent_ids),
        ] {
            out.push_str(&format!("{title}:\n"));
            for id in ids {
                let Some(comment) = texts.get(id) else {
                    continue;
                };
                let when = comment
                    .timestamp
                    .map(|time| time.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into());
                out.push_str(&format!(
                    "  {} {}  {}\n",
                    printable(id),
                    when,
                    snippet(&comment.text)
                ));
            }
        }
        let mut by_day: std::collections::BTreeMap<String, u64> = Default::default();
        for member in &members {
            if let Some(time) = member.timestamp {
                *by_day
                    .entry(time.format("%Y-%m-%d").to_string())
                    .or_default() += 1;
            }
        }
        out.push_str("comments per day:\n");
        for (day, count) in &by_day {
            out.push_str(&format!("  {day} {count}\n"));
        }
        out.push_str(&format!(
            "see the comments: xsignal search '*' --topic {} --workspace {}\n",
            topic.id,
            args.workspace.display()
        ));
        print(&out)?;
        return Ok(EXIT_OK);
    }
    let mut out = String::new();
    for topic in &topics {
        if args.json {
            out.push_str(&serde_json::to_string(topic)?);
            out.push('\n');
        } else {
            out.push_str(&format!(
                "{:>4}  {:>6}  -{:<5} ={:<5} +{:<5} {}{}\n",
                topic.id,
                topic.size,
                topic.sentiment.negative,
                topic.sentiment.neutral,
                topic.sentiment.positive,
                printable(&topic.label),
                match topic.kind {
                    TopicKind::Subject => String::new(),
                    kind => format!("  [{}]", kind.describe()),
                }
            ));
        }
    }
    print(&out)?;
    Ok(EXIT_OK)
}
