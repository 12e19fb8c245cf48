//! Erasure end to end: `xsignal forget` by author and by query leaves no byte of the forgotten
//! comments anywhere under the workspace and outputs equal to a fresh run without them; a dry run
//! changes nothing; the audit log holds no content; `privacy.retain_days` erases through the same
//! path.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use xsignal::privacy::PseudonymKey;

use crate::common::{contains, files, model_available, read_jsonl, run, xsignal};

const KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
/// The author whose comments are forgotten by `--author`.
const AUTHOR: &str = "zqxforgetme42";
/// A word only that author's comments carry.
const AUTHOR_WORD: &str = "velociraptorwidget";
/// A word only the comments forgotten by `--query` carry (other authors).
const QUERY_WORD: &str = "quibblefrotz";
/// A word only the comments past the retention limit carry.
const OLD_WORD: &str = "paleozoicgadget";

const SUBJECTS: &[&str] = &[
    "the thermostat reboots every night since the firmware update",
    "battery drains within a few hours of normal use",
    "the app login fails with an error after the update",
    "delivery was late and the box arrived damaged",
    "great sound quality and the setup was quick",
    "der Akku ist nach zwei Stunden leer",
];

/// Writes `first_days` and `second_days` as two input files under `dir`.
fn two_inputs(
    dir: &Path,
    first_days: &[(String, String)],
    second_days: &[(String, String)],
) -> (PathBuf, PathBuf) {
    let (first, second) = (dir.join("first.jsonl"), dir.join("second.jsonl"));
    write(&first, first_days, &|_| false);
    write(&second, second_days, &|_| false);
    (first, second)
}

/// One input row.
fn row(id: &str, text: &str, day: u32, hour: u32, author: &str, lang: &str) -> String {
    serde_json::json!({
        "id": id,
        "text": text,
        "timestamp": format!("2026-03-{day:02}T{hour:02}:00:00Z"),
        "author": author,
        "lang": lang,
    })
    .to_string()
        + "\n"
}

/// Rows of days `days`, 12 a day; `planted(index)` gives a row's extra word and author, if any.
fn rows(
    days: std::ops::RangeInclusive<u32>,
    planted: &dyn Fn(u32) -> Option<(&'static str, String)>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for day in days {
        for slot in 0..12u32 {
            let index = day * 12 + slot;
            let subject_index = (index as usize * 7) % SUBJECTS.len();
            let subject = SUBJECTS[subject_index];
            let lang = if subject_index == 5 { "de" } else { "en" };
            let id = format!("c{index:04}");
            let (text, author) = match planted(index) {
                Some((word, author)) => (format!("{word} {subject}, case {index}"), author),
                None => (
                    format!("{subject}, case {index}"),
                    format!("user{}", index % 37),
                ),
            };
            out.push((id.clone(), row(&id, &text, day, slot * 2, &author, lang)));
        }
    }
    out
}

fn write(path: &Path, rows: &[(String, String)], skip: &dyn Fn(&str) -> bool) {
    let text: String = rows
        .iter()
        .filter(|(_, line)| !skip(line))
        .map(|(_, line)| line.as_str())
        .collect();
    std::fs::write(path, text).unwrap();
}

fn analyze(workspace: &Path, inputs: &[&Path], config: Option<&Path>) -> std::process::Output {
    let mut command = xsignal();
    command
        .env("XSIGNAL_PSEUDONYM_KEY", KEY)
        .args(["--threads", "2", "analyze", "--workspace"])
        .arg(workspace);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let output = run(command.args(inputs));
    assert!(output.status.success());
    output
}

fn forget(workspace: &Path, flags: &[&str]) -> std::process::Output {
    let output = run(xsignal()
        .env("XSIGNAL_PSEUDONYM_KEY", KEY)
        .args(["--log", "trace", "forget", "--workspace"])
        .arg(workspace)
        .args(flags));
    assert!(output.status.success());
    output
}

/// Every file and symlink under `dir` with its bytes (a symlink: its target).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let kind = std::fs::symlink_metadata(&path).unwrap();
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            out.insert(path, target.into_os_string().into_encoded_bytes());
        } else if kind.is_dir() {
            out.insert(path.clone(), Vec::new());
            out.extend(snapshot(&path));
        } else {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    out
}

/// The outputs a run derives from its comments: every file of a generation but the report and the
/// timings, which also describe the run itself (files read, seconds), and the index folder.
fn derived() -> impl Iterator<Item = &'static str> {
    xsignal::workspace::generation::LINKED
        .iter()
        .copied()
        .filter(|name| !["report.md", "timings.json", "index"].contains(name))
}

/// Asserts that the outputs of `erased` equal those of a fresh run into `fresh` over `inputs`. The
/// fresh run starts with copies of the erased workspace's embedding caches, as a replay does in
/// the pipeline tests (vectors differ in their last bits with the batch a text is encoded in):
/// it must find every vector it needs there, so the caches do not grow.
fn assert_same_as_fresh(erased: &Path, fresh: &Path, inputs: &[&Path], config: Option<&Path>) {
    std::fs::create_dir_all(fresh).unwrap();
    for cache in CACHES {
        std::fs::copy(erased.join(cache), fresh.join(cache)).unwrap();
    }
    analyze(fresh, inputs, config);
    for name in derived() {
        let left = std::fs::read(erased.join(name)).unwrap_or_default();
        let right = std::fs::read(fresh.join(name)).unwrap_or_default();
        let first_difference = String::from_utf8_lossy(&left)
            .lines()
            .zip(String::from_utf8_lossy(&right).lines())
            .find(|(left, right)| left != right)
            .map(|(left, right)| format!("{left}\n{right}"));
        assert!(
            left == right,
            "{name} differs from a fresh run without the erased comments: {first_difference:?}"
        );
    }
    for cache in CACHES {
        assert_eq!(
            std::fs::read(erased.join(cache)).unwrap(),
            std::fs::read(fresh.join(cache)).unwrap(),
            "{cache} lacks vectors a fresh run needs"
        );
    }
}

/// Asserts that the caches of `erased` hold as many vectors as those of a fresh run over `inputs`
/// from nothing (with [`assert_same_as_fresh`]: exactly the vectors it needs).
fn assert_caches_hold_no_more(erased: &Path, fresh: &Path, inputs: &[&Path]) {
    analyze(fresh, inputs, None);
    for cache in CACHES {
        let left = std::fs::metadata(erased.join(cache)).unwrap().len();
        let right = std::fs::metadata(fresh.join(cache)).unwrap().len();
        assert_eq!(
            left, right,
            "{cache} holds other vectors than a fresh run's"
        );
    }
}

const CACHES: &[&str] = &["embeddings.bin", "sentiment-embeddings.bin"];

fn assert_nowhere(workspace: &Path, planted: &[&str]) {
    let all = files(workspace);
    assert!(all.iter().any(|path| path.ends_with("store.jsonl")));
    assert!(all
        .iter()
        .any(|path| path.to_string_lossy().contains("/index/")));
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        for word in planted {
            assert!(!contains(&bytes, word), "{} holds {word:?}", path.display());
        }
    }
}

#[test]
fn forgotten_comments_leave_no_trace_and_outputs_equal_a_fresh_run() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let planted = |index: u32| -> Option<(&'static str, String)> {
        match index % 29 {
            3 => Some((AUTHOR_WORD, AUTHOR.to_string())),
            11 => Some((QUERY_WORD, format!("other{index}"))),
            _ => None,
        }
    };
    let first_days = rows(1..=5, &planted);
    let second_days = rows(6..=10, &planted);
    let (first, second) = two_inputs(temp.path(), &first_days, &second_days);
    let workspace = temp.path().join("ws");
    // Two runs: the second generation hard-links the files the first wrote.
    analyze(&workspace, &[&first], None);
    analyze(&workspace, &[&second], None);
    let store = read_jsonl(&workspace.join("store.jsonl"));
    let pseudonym = PseudonymKey::from_hex(KEY).unwrap().pseudonym(AUTHOR);
    let by_author = store
        .iter()
        .filter(|c| c["author"] == pseudonym.as_str())
        .count();
    assert!(
        by_author >= 4,
        "the fixture plants the author ({by_author})"
    );
    assert!(contains(
        &std::fs::read(workspace.join("store.jsonl")).unwrap(),
        &pseudonym
    ));

    // A dry run counts and changes nothing.
    let before = snapshot(&workspace);
    let dry = forget(&workspace, &["--author", AUTHOR, "--dry-run"]);
    assert!(
        contains(
            &dry.stdout,
            &format!("would remove {by_author} of {}", store.len())
        ),
        "{}",
        String::from_utf8_lossy(&dry.stdout)
    );
    assert!(
        before == snapshot(&workspace),
        "a dry run changed the workspace"
    );

    let by_author_out = forget(&workspace, &["--author", AUTHOR]);
    let by_query_out = forget(&workspace, &["--query", QUERY_WORD]);
    assert!(
        contains(&by_query_out.stdout, "removed "),
        "{}",
        String::from_utf8_lossy(&by_query_out.stdout)
    );

    // The rebuild after an erasure encodes nothing: every vector it needs is cached, and the
    // caches shrink (the count must not go negative with them).
    let report = std::fs::read_to_string(workspace.join("report.md")).unwrap();
    assert!(
        report.contains("- 0 comments encoded in this run,"),
        "{report}"
    );

    // No byte of them anywhere: store, index segments, caches, every generation, the audit log.
    assert_nowhere(&workspace, &[AUTHOR_WORD, QUERY_WORD, AUTHOR, &pseudonym]);
    let generations: Vec<_> = std::fs::read_dir(&workspace)
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().into_string().ok())
        .filter(|name| name.starts_with("gen-"))
        .collect();
    assert_eq!(
        generations.len(),
        1,
        "older generations are gone: {generations:?}"
    );
    assert!(!workspace.join("erasure.json").exists());
    // The logs carry neither the author id nor the query.
    for output in [&by_author_out, &by_query_out] {
        for secret in [AUTHOR, QUERY_WORD, &pseudonym] {
            assert!(
                !contains(&output.stderr, secret),
                "the log carries {secret:?}"
            );
        }
    }

    // The audit log: what, when, how many; private; no content.
    let audit_path = workspace.join("audit.jsonl");
    let mode = std::fs::metadata(&audit_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let audit = read_jsonl(&audit_path);
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["action"], "forget");
    assert_eq!(audit[0]["selector"], "author");
    assert_eq!(audit[0]["removed"], by_author as u64);
    assert_eq!(audit[1]["selector"], "query");
    let query_removed = audit[1]["removed"].as_u64().unwrap();
    assert!(query_removed >= 4, "{query_removed}");
    for entry in &audit {
        assert!(entry["time"]
            .as_str()
            .is_some_and(|time| time.starts_with("20")));
        let hash = entry["selector_hash"].as_str().unwrap();
        assert!(hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            hash, pseudonym,
            "the audit hash is not the author's pseudonym"
        );
    }
    let remaining = read_jsonl(&workspace.join("store.jsonl"));
    assert_eq!(
        remaining.len(),
        store.len() - by_author - query_removed as usize
    );

    // The outputs are those of a fresh run on the input without the forgotten comments.
    let forgotten = |line: &str| line.contains(AUTHOR_WORD) || line.contains(QUERY_WORD);
    let (first_kept, second_kept) = (temp.path().join("a.jsonl"), temp.path().join("b.jsonl"));
    write(&first_kept, &first_days, &forgotten);
    write(&second_kept, &second_days, &forgotten);
    let kept_inputs: [&Path; 2] = [&first_kept, &second_kept];
    assert_same_as_fresh(&workspace, &temp.path().join("fresh"), &kept_inputs, None);
    assert_caches_hold_no_more(&workspace, &temp.path().join("unseeded"), &kept_inputs);
    let report = std::fs::read_to_string(workspace.join("report.md")).unwrap();
    assert!(
        report.contains(&format!("erased before this run: {query_removed} comments")),
        "{report}"
    );
}

#[test]
fn retention_erases_old_comments_through_the_same_path() {
    if !model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    // The first run holds days 1 to 8, its newest comment on day 8 at 22:00, so a limit of 6 days
    // erases what is older than day 2 at 22:00 when the second run starts: the 23 comments before
    // it (day 1 and day 2 but its last), which alone carry the old word.
    let planted =
        |index: u32| (index < 3 * 12 - 1).then(|| (OLD_WORD, format!("old{}", index % 5)));
    let first_days = rows(1..=8, &planted);
    let second_days = rows(9..=12, &planted);
    let (first, second) = two_inputs(temp.path(), &first_days, &second_days);
    let config = temp.path().join("retain.toml");
    let defaults = run(xsignal().arg("config"));
    let text = String::from_utf8(defaults.stdout)
        .unwrap()
        .replace("retain_days = 0", "retain_days = 6");
    assert!(text.contains("retain_days = 6"));
    std::fs::write(&config, text).unwrap();

    let workspace = temp.path().join("ws");
    analyze(&workspace, &[&first], None);
    let second_run = analyze(&workspace, &[&second], Some(&config));
    assert!(
        contains(&second_run.stderr, "23 comments erased"),
        "{}",
        String::from_utf8_lossy(&second_run.stderr)
    );
    assert_nowhere(&workspace, &[OLD_WORD]);
    let report = std::fs::read_to_string(workspace.join("report.md")).unwrap();
    assert!(
        report.contains("erased before this run: 23 comments"),
        "{report}"
    );
    let audit = read_jsonl(&workspace.join("audit.jsonl"));
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "retention");
    assert_eq!(audit[0]["retain_days"], 6);
    assert_eq!(audit[0]["removed"], 23);

    let kept = temp.path().join("kept.jsonl");
    write(&kept, &first_days, &|line| line.contains(OLD_WORD));
    let fresh = temp.path().join("fresh");
    assert_same_as_fresh(&workspace, &fresh, &[&kept, &second], Some(&config));

    // A limit out of range is refused before anything is written.
    let bad = temp.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("retain_days = 6", "retain_days = 99999"),
    )
    .unwrap();
    let refused = run(xsignal()
        .args(["analyze", "--workspace"])
        .arg(temp.path().join("other"))
        .arg("--config")
        .arg(&bad)
        .arg(&first));
    assert_eq!(refused.status.code(), Some(2));
    assert!(contains(&refused.stderr, "privacy.retain_days"));
}
