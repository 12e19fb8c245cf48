//! Crash safety of `analyze`: killed at every failpoint (and by SIGKILL at arbitrary moments), a
//! run leaves the workspace showing either the previous run or the finished one, never a mix; the
//! rerun gives the same bytes as a run that was never interrupted. Also: the writer lock, a full
//! disk, and readers that write nothing.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{model_available, run, xsignal};

/// Workspace files compared byte for byte (`timings.json` holds wall-clock times and is left out;
/// the index is compared through `search`, its segment names are random).
const OUTPUTS: &[&str] = &[
    "comments.jsonl",
    "topics.jsonl",
    "themes.jsonl",
    "topic_events.jsonl",
    "signals.jsonl",
    "feed.jsonl",
    "rejects.jsonl",
    "report.md",
    "config.toml",
    "topic_state.json",
];
/// The shared state files, compared after a rerun.
const STATE: &[&str] = &["store.jsonl", "embeddings.bin", "sentiment-embeddings.bin"];

const SUBJECTS: &[&str] = &[
    "The battery drains within two hours after the update",
    "App crashes every time I open the camera",
    "Love the new dark mode, looks great",
    "Der Akku ist nach dem Update sehr schnell leer",
    "Login fails with an error since yesterday",
    "Customer support answered quickly and solved it",
];

/// Two batches of a small corpus: 24 comments over four days, then 18 over the next three (one
/// row without text, rejected).
fn corpus(dir: &Path) -> (PathBuf, PathBuf) {
    let mut batches = Vec::new();
    for (batch, (first_day, days, per_day)) in [(1u32, 4u32, 6usize), (5, 3, 6)].iter().enumerate()
    {
        let mut lines = Vec::new();
        for day in *first_day..first_day + days {
            for slot in 0..*per_day {
                let n = lines.len() + batch * 100;
                let subject = SUBJECTS[(n * 7 + day as usize) % SUBJECTS.len()];
                let lang = if subject.starts_with("Der") {
                    "de"
                } else {
                    "en"
                };
                lines.push(
                    serde_json::json!({
                        "id": format!("c{n:04}"),
                        "text": format!("{subject} (note {n})"),
                        "timestamp": format!("2026-03-{day:02}T{:02}:15:00Z", 8 + slot),
                        "author": format!("u{}", n % 11),
                        "lang": lang,
                    })
                    .to_string(),
                );
            }
        }
        lines.push(r#"{"id":"empty","text":""}"#.to_string());
        let path = dir.join(format!("batch{}.jsonl", batch + 1));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        batches.push(path);
    }
    (batches.remove(0), batches.remove(0))
}

fn analyze_command(workspace: &Path, input: &Path, failpoint: Option<&str>) -> Command {
    let mut command = xsignal();
    command
        .args(["--threads", "2", "analyze", "--workspace"])
        .arg(workspace)
        .arg(input);
    match failpoint {
        Some(point) => command.env("XSIGNAL_FAILPOINT", point),
        None => command.env_remove("XSIGNAL_FAILPOINT"),
    };
    command
}

fn analyze(workspace: &Path, input: &Path, failpoint: Option<&str>) -> Output {
    analyze_command(workspace, input, failpoint)
        .output()
        .expect("analyze starts")
}

fn analyze_ok(workspace: &Path, input: &Path) {
    let output = run(&mut analyze_command(workspace, input, None));
    assert!(output.status.success(), "analyze failed");
}

/// The visible outputs: every output file (through its stable name) and every comment `search`
/// finds, in order.
fn outputs(workspace: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for name in OUTPUTS {
        files.insert(
            name.to_string(),
            std::fs::read(workspace.join(name)).unwrap_or_default(),
        );
    }
    let search = run(xsignal()
        .args(["search", "*", "--json", "--limit", "1000", "--workspace"])
        .arg(workspace));
    files.insert("search".into(), search.stdout);
    files
}

/// [`outputs`] and the shared state files.
fn everything(workspace: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = outputs(workspace);
    for name in STATE {
        files.insert(
            name.to_string(),
            std::fs::read(workspace.join(name)).unwrap_or_default(),
        );
    }
    files
}

fn differing(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .filter(|name| a.get(*name) != b.get(*name))
        .cloned()
        .collect()
}

fn copy_workspace(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A workspace after batch 1, and what a clean run of batch 2 on it gives.
struct Reference {
    _temp: tempfile::TempDir,
    batch1: PathBuf,
    batch2: PathBuf,
    base: PathBuf,
    base_outputs: BTreeMap<String, Vec<u8>>,
    base_everything: BTreeMap<String, Vec<u8>>,
    clean: BTreeMap<String, Vec<u8>>,
    clean_outputs: BTreeMap<String, Vec<u8>>,
    clean_seconds: f64,
}

fn reference() -> Reference {
    let temp = tempfile::tempdir().unwrap();
    let (batch1, batch2) = corpus(temp.path());
    let base = temp.path().join("base");
    analyze_ok(&base, &batch1);
    let clean_dir = temp.path().join("clean");
    copy_workspace(&base, &clean_dir);
    let started = Instant::now();
    analyze_ok(&clean_dir, &batch2);
    let clean_seconds = started.elapsed().as_secs_f64();
    let clean = everything(&clean_dir);
    let base_everything = everything(&base);
    Reference {
        base_outputs: outputs(&base),
        clean_outputs: outputs(&clean_dir),
        base_everything,
        clean,
        clean_seconds,
        _temp: temp,
        batch1,
        batch2,
        base,
    }
}

/// Kills batch 2's run at every failpoint; each time the workspace shows batch 1 or the finished
/// run, and the rerun equals the clean run.
#[test]
fn killed_at_any_failpoint_the_rerun_equals_a_clean_run() {
    if !model_available() {
        return;
    }
    let reference = reference();
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (number, point) in xsignal::failpoint::POINTS.iter().enumerate() {
        let workspace = scratch.path().join(format!("ws{number}"));
        copy_workspace(&reference.base, &workspace);
        let killed = analyze(&workspace, &reference.batch2, Some(point));
        if killed.status.signal() != Some(libc_sigabrt()) {
            failures.push(format!("{point}: not reached ({:?})", killed.status));
            continue;
        }
        let seen = outputs(&workspace);
        if seen != reference.base_outputs && seen != reference.clean_outputs {
            failures.push(format!(
                "{point}: after the kill the workspace shows a mix: {:?} differ from the previous run",
                differing(&seen, &reference.base_outputs)
            ));
        }
        analyze_ok(&workspace, &reference.batch2);
        let rerun = everything(&workspace);
        if rerun != reference.clean {
            failures.push(format!(
                "{point}: the rerun differs in {:?}",
                differing(&rerun, &reference.clean)
            ));
        }
        std::fs::remove_dir_all(&workspace).unwrap();
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A first run killed before its first commit leaves no workspace to read; its rerun equals a
/// clean first run.
#[test]
fn a_first_run_killed_and_rerun_equals_a_clean_first_run() {
    if !model_available() {
        return;
    }
    let reference = reference();
    let scratch = tempfile::tempdir().unwrap();
    for point in [
        "store.appended",
        "cache.flush",
        "index.commit",
        "commit.manifest",
        "commit.switched",
    ] {
        let workspace = scratch.path().join(point);
        let killed = analyze(&workspace, &reference.batch1, Some(point));
        assert_eq!(killed.status.signal(), Some(libc_sigabrt()), "{point}");
        analyze_ok(&workspace, &reference.batch1);
        let rerun = everything(&workspace);
        assert_eq!(
            rerun,
            reference.base_everything,
            "{point}: {:?}",
            differing(&rerun, &reference.base_everything)
        );
    }
}

/// SIGKILL at moments spread over the run (whatever it was doing then), then a rerun.
#[test]
fn sigkill_at_any_moment_and_rerun_equals_a_clean_run() {
    if !model_available() {
        return;
    }
    let reference = reference();
    let scratch = tempfile::tempdir().unwrap();
    for (number, share) in [0.35, 0.7, 0.9].iter().enumerate() {
        let workspace = scratch.path().join(format!("ws{number}"));
        copy_workspace(&reference.base, &workspace);
        let mut child = analyze_command(&workspace, &reference.batch2, None)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs_f64(reference.clean_seconds * share));
        // SIGKILL (a run that already finished is fine too: its rerun changes nothing).
        let _ = child.kill();
        child.wait().unwrap();
        let seen = outputs(&workspace);
        assert!(
            seen == reference.base_outputs || seen == reference.clean_outputs,
            "a mix after SIGKILL at {share}: {:?}",
            differing(&seen, &reference.base_outputs)
        );
        analyze_ok(&workspace, &reference.batch2);
        let rerun = everything(&workspace);
        assert_eq!(
            rerun,
            reference.clean,
            "{:?}",
            differing(&rerun, &reference.clean)
        );
    }
}

/// A write that finds the disk full fails with a message naming the file, leaves the previous
/// run in place, and the rerun equals a clean run.
#[test]
fn a_full_disk_fails_clearly_and_keeps_the_previous_run() {
    if !model_available() {
        return;
    }
    eprintln!(
        "note: a real full tmpfs needs mount privileges; the full disk is simulated by the \
         failpoint on the write path"
    );
    let reference = reference();
    let scratch = tempfile::tempdir().unwrap();
    for point in ["write/comments.jsonl:1:enospc", "write/feed.jsonl:1:enospc"] {
        let workspace = scratch.path().join(point.replace('/', "_"));
        copy_workspace(&reference.base, &workspace);
        let failed = analyze(&workspace, &reference.batch2, Some(point));
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert_eq!(failed.status.code(), Some(1), "{stderr}");
        let file = point
            .trim_start_matches("write/")
            .split(':')
            .next()
            .unwrap();
        assert!(
            stderr.contains(file) && stderr.contains("disk is full"),
            "{stderr}"
        );
        assert_eq!(outputs(&workspace), reference.base_outputs, "{point}");
        analyze_ok(&workspace, &reference.batch2);
        assert_eq!(everything(&workspace), reference.clean, "{point}");
    }
}

/// A second writer fails at once with exit 4, or waits with `--wait`; readers write nothing, not
/// even a lock file.
#[test]
fn one_writer_at_a_time_and_readers_write_nothing() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let (batch1, batch2) = corpus(temp.path());
    let workspace = temp.path().join("ws");
    analyze_ok(&workspace, &batch1);

    let listing = |dir: &Path| {
        let output = Command::new("find")
            .arg(dir)
            .arg("-printf")
            .arg("%p %s %T@ %m\n")
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let before = listing(&workspace);
    for args in [vec!["search", "battery"], vec!["topics"], vec!["trends"]] {
        let output = run(xsignal().args(&args).arg("--workspace").arg(&workspace));
        assert!(output.status.success(), "{args:?}");
    }
    assert_eq!(
        listing(&workspace),
        before,
        "a reader changed the workspace"
    );

    let held = std::fs::File::open(workspace.join("lock")).unwrap();
    held.try_lock().unwrap();
    let refused = analyze(&workspace, &batch2, None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("another xsignal run"), "{stderr}");
    let current = std::fs::read_link(workspace.join("current")).unwrap();
    let mut waiting = analyze_command(&workspace, &batch2, None)
        .arg("--wait")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(waiting.try_wait().unwrap().is_none(), "--wait did not wait");
    assert_eq!(
        std::fs::read_link(workspace.join("current")).unwrap(),
        current
    );
    drop(held);
    assert!(waiting.wait().unwrap().success());
    assert_ne!(
        std::fs::read_link(workspace.join("current")).unwrap(),
        current
    );
}

/// The signal `std::process::abort` raises.
fn libc_sigabrt() -> i32 {
    6
}
