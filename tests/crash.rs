//! Crash safety of `analyze`: killed at every failpoint (and by SIGKILL at arbitrary moments), a
//! run leaves the workspace showing either the previous run or the finished one, never a mix; the
//! rerun gives the same bytes as a run that was never interrupted. Also: the writer lock, a full
//! disk, and readers that write nothing.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use xsignal::workspace::generation::{LINKED, SHARED};

use crate::common::{model_available, run, xsignal};

/// Workspace files compared byte for byte: every file a generation shows under its own name
/// but `timings.json` (wall-clock times) and the index (compared through `search`: its segment
/// names are random).
fn output_names() -> impl Iterator<Item = &'static str> {
    LINKED
        .iter()
        .copied()
        .filter(|name| *name != "timings.json" && *name != "index")
}

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
    // One pseudonym key for every workspace, so that stores compare byte for byte.
    command
        .env("XSIGNAL_PSEUDONYM_KEY", "0f".repeat(32))
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
    for name in output_names() {
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
    // The shared files: the store and the embedding caches.
    for name in SHARED {
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

/// One way to interrupt a run, checked on its own copy of the workspace.
#[derive(Clone, Debug)]
enum Case {
    /// Batch 2's run dies at this failpoint.
    Failpoint(&'static str),
    /// The first run (batch 1, fresh workspace) dies at this failpoint.
    FirstRun(&'static str),
    /// Batch 2's run gets SIGKILL after this share of a clean run's time.
    Sigkill(f64),
    /// A write of batch 2's run finds the disk full (a failpoint with `:enospc`).
    DiskFull(&'static str),
}

/// Every failpoint, a first run, SIGKILL at moments spread over the run, and a full disk: after
/// the interruption the workspace shows the previous run or the finished one, never a mix; the
/// rerun gives the same bytes as a clean run. Cases run [`WORKERS`] at a time (a run spends most
/// of its time loading models, not computing).
#[test]
fn interrupted_anywhere_the_rerun_equals_a_clean_run() {
    if !model_available() {
        return;
    }
    eprintln!(
        "note: a real full tmpfs needs mount privileges; the full disk is simulated by a failpoint \
         on the write path"
    );
    let reference = reference();
    let mut cases: Vec<Case> = xsignal::failpoint::POINTS
        .iter()
        .map(|point| Case::Failpoint(point))
        .collect();
    cases.extend(
        ["store.appended", "commit.manifest"]
            .into_iter()
            .map(Case::FirstRun),
    );
    cases.extend([0.4, 0.8].into_iter().map(Case::Sigkill));
    cases.extend(
        ["write/comments.jsonl:1:enospc", "write/feed.jsonl:1:enospc"]
            .into_iter()
            .map(Case::DiskFull),
    );
    let scratch = tempfile::tempdir().unwrap();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let number = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(case) = cases.get(number) else { break };
                let workspace = scratch.path().join(format!("ws{number}"));
                if let Err(failure) = check(&reference, case, &workspace) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{case:?}: {failure}"));
                }
                let _ = std::fs::remove_dir_all(&workspace);
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
}

fn check(reference: &Reference, case: &Case, workspace: &Path) -> Result<(), String> {
    let (input, before, after, finished) = match case {
        Case::FirstRun(_) => (
            &reference.batch1,
            None,
            &reference.base_outputs,
            &reference.base_everything,
        ),
        _ => {
            copy_workspace(&reference.base, workspace);
            (
                &reference.batch2,
                Some(&reference.base_outputs),
                &reference.clean_outputs,
                &reference.clean,
            )
        }
    };
    match case {
        Case::Failpoint(point) | Case::FirstRun(point) => {
            let killed = analyze(workspace, input, Some(point));
            if killed.status.signal() != Some(SIGABRT) {
                return Err(format!("not reached ({:?})", killed.status));
            }
        }
        Case::Sigkill(share) => {
            let mut child = analyze_command(workspace, input, None)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_secs_f64(reference.clean_seconds * share));
            // SIGKILL (a run that already finished is fine too: its rerun changes nothing).
            let _ = child.kill();
            child.wait().unwrap();
        }
        Case::DiskFull(point) => {
            let failed = analyze(workspace, input, Some(point));
            let stderr = String::from_utf8_lossy(&failed.stderr);
            let file = point
                .trim_start_matches("write/")
                .split(':')
                .next()
                .unwrap();
            if failed.status.code() != Some(1)
                || !stderr.contains(file)
                || !stderr.contains("disk is full")
            {
                return Err(format!("exit {:?}: {stderr}", failed.status.code()));
            }
            if Some(&outputs(workspace)) != before {
                return Err("the previous run is not intact".into());
            }
        }
    }
    match before {
        // A first run that died committed nothing: there is nothing to read.
        None => {
            let reader = run(xsignal().arg("topics").arg("--workspace").arg(workspace));
            if reader.status.code() != Some(1) {
                return Err("a reader found a workspace before the first commit".into());
            }
        }
        Some(before) => {
            let seen = outputs(workspace);
            if &seen != before && &seen != after {
                return Err(format!(
                    "the workspace shows a mix: {:?} differ from the previous run",
                    differing(&seen, before)
                ));
            }
        }
    }
    analyze_ok(workspace, input);
    let rerun = everything(workspace);
    if &rerun != finished {
        return Err(format!(
            "the rerun differs in {:?}",
            differing(&rerun, finished)
        ));
    }
    Ok(())
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
        .stderr(std::process::Stdio::null())
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

/// Cases checked at the same time.
const WORKERS: usize = 3;

/// The signal `std::process::abort` raises.
const SIGABRT: i32 = 6;
