//! Failpoints: named places where a test can make the process die or a write fail, to prove that
//! the workspace survives a crash or a full disk at that moment.
//!
//! The environment variable `XSIGNAL_FAILPOINT=NAME[:N][:enospc]` arms one failpoint: the `N`-th
//! time (default 1) the process passes `NAME` it aborts at once ([`std::process::abort`]: no
//! destructors, no flushing, like `kill -9`), or, with `:enospc`, the write at that place fails
//! with [`std::io::ErrorKind::StorageFull`]. Without the variable a failpoint costs one read of a
//! `OnceLock` and a branch. The names in use are listed in [`POINTS`]; the kill test
//! (`tests/crash.rs`) visits each of them.
//!
//! Written by hand: the `fail` crate arms points through a global registry behind a mutex and
//! needs a feature flag to compile them in; this needs one point at a time, from the environment,
//! in release builds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Every failpoint, in the order a run passes them. `write/NAME` fails or dies halfway through
/// writing the workspace file `NAME`.
pub const POINTS: &[&str] = &[
    "lock.acquired",
    "ingest.done",
    "store.mid",
    "store.appended",
    "embed.batch",
    "cache.flush",
    "embed.done",
    "sentences.done",
    "sentiment.done",
    "topics.done",
    "write/topic_state.json",
    "write/topic_events.jsonl",
    "write/themes.jsonl",
    "trends.done",
    "write/feed.jsonl",
    "index.commit",
    "index.done",
    "write/comments.jsonl",
    "write/topics.jsonl",
    "write/signals.jsonl",
    "write/rejects.jsonl",
    "write/config.toml",
    "write/report.md",
    "write/timings.json",
    "commit.carried",
    "commit.synced",
    "commit.manifest",
    "commit.switched",
    "commit.cleaned",
];

/// What an armed failpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Abort,
    StorageFull,
}

struct Armed {
    name: String,
    nth: u64,
    action: Action,
    passed: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| parse(&std::env::var("XSIGNAL_FAILPOINT").ok()?))
        .as_ref()
}

fn parse(spec: &str) -> Option<Armed> {
    let mut parts = spec.split(':');
    let name = parts.next().filter(|name| !name.is_empty())?.to_string();
    let mut nth = 1;
    let mut action = Action::Abort;
    for part in parts {
        match part {
            "enospc" => action = Action::StorageFull,
            "abort" => action = Action::Abort,
            count => nth = count.parse().ok().filter(|&n| n > 0)?,
        }
    }
    Some(Armed {
        name,
        nth,
        action,
        passed: AtomicU64::new(0),
    })
}

/// The action due when the process passes the failpoint `prefix` + `detail` now.
fn due(prefix: &str, detail: &str) -> Option<Action> {
    let armed = armed()?;
    let matches = armed.name.len() == prefix.len() + detail.len()
        && armed.name.starts_with(prefix)
        && armed.name.ends_with(detail);
    if !matches {
        return None;
    }
    let passed = armed.passed.fetch_add(1, Ordering::SeqCst) + 1;
    (passed == armed.nth).then_some(armed.action)
}

fn act(action: Option<Action>) -> std::io::Result<()> {
    match action {
        None => Ok(()),
        Some(Action::Abort) => {
            eprintln!("xsignal: failpoint reached, aborting");
            std::process::abort()
        }
        Some(Action::StorageFull) => Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device (failpoint)",
        )),
    }
}

/// Passes the failpoint `name`: dies here when it is armed and due (an `enospc` failpoint is
/// ignored where no write can fail).
pub fn hit(name: &str) {
    let _ = act(due(name, ""));
}

/// Passes the failpoint `prefix` + `detail` before a write: dies, or fails with
/// [`std::io::ErrorKind::StorageFull`], when it is armed and due.
pub fn write(prefix: &str, detail: &str) -> std::io::Result<()> {
    act(due(prefix, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let armed = parse("write/comments.jsonl:2:enospc").unwrap();
        assert_eq!(armed.name, "write/comments.jsonl");
        assert_eq!(armed.nth, 2);
        assert_eq!(armed.action, Action::StorageFull);
        let armed = parse("ingest.done").unwrap();
        assert_eq!((armed.nth, armed.action), (1, Action::Abort));
        assert!(parse("").is_none());
        assert!(parse("x:0").is_none());
        assert!(parse("x:many").is_none());
    }

    #[test]
    fn point_names_are_unique() {
        let mut names: Vec<&str> = POINTS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), POINTS.len());
    }
}
