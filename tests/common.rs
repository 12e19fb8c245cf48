//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when the encoder model is present; otherwise prints why the caller skips.
pub fn model_available() -> bool {
    for model in ["all-MiniLM-L6-v2", "sentiment-e5"] {
        let weights = root().join("models").join(model).join("model.safetensors");
        if !weights.is_file() {
            eprintln!(
                "skipping: {} is missing (run `xsignal models fetch`)",
                weights.display()
            );
            return false;
        }
    }
    true
}

/// The `xsignal` binary, with the repository's models folder.
pub fn xsignal() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xsignal"));
    command
        .env("XSIGNAL_MODELS", root().join("models"))
        .arg("--quiet");
    command
}

/// Runs a command and returns its output, printing stderr on failure.
pub fn run(command: &mut Command) -> Output {
    let output = command.output().expect("command starts");
    if !output.status.success() {
        eprintln!("stderr: {}", String::from_utf8_lossy(&output.stderr));
    }
    output
}

/// Generates the small test corpus (30 days, 40 comments a day) into `dir`.
pub fn small_corpus(dir: &Path) {
    corpus(dir, &["--days", "30", "--rate-per-day", "40"]);
}

/// Generates the bundled demo corpus (the generator's defaults) into `dir`.
pub fn demo_corpus(dir: &Path) {
    corpus(dir, &[]);
}

fn corpus(dir: &Path, flags: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_xsignal-corpus"))
        .args(flags)
        .arg("--out")
        .arg(dir)
        .status()
        .expect("generator runs");
    assert!(status.success());
}

/// Analyzes the corpus in `corpus` into `workspace` the way the demo does (CSV with its own column
/// names, then the JSONL files).
pub fn analyze_corpus(corpus: &Path, workspace: &Path, threads: usize) {
    let threads = threads.to_string();
    let output = run(xsignal()
        .args(["--threads", &threads, "analyze", "--workspace"])
        .arg(workspace)
        .args([
            "--text-col",
            "body",
            "--id-col",
            "review_id",
            "--time-col",
            "posted_at",
            "--author-col",
            "user",
            "--source-col",
            "channel",
            "--lang-col",
            "language",
            "--rating-col",
            "stars",
        ])
        .arg(corpus.join("reviews.csv"))
        .arg(corpus.join("bad_rows.csv")));
    assert!(output.status.success());
    let output = run(xsignal()
        .args(["--threads", &threads, "analyze", "--workspace"])
        .arg(workspace)
        .arg(corpus.join("social.jsonl"))
        .arg(corpus.join("feedback360.jsonl"))
        .arg(corpus.join("bad_rows.jsonl")));
    assert!(output.status.success());
}

/// Reads a JSONL file into JSON values.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("valid json line"))
        .collect()
}

/// Every file under `dir`, recursively (symlinks are not followed).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let kind = std::fs::symlink_metadata(&path).unwrap();
        if kind.is_dir() {
            found.extend(files(&path));
        } else if kind.is_file() {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}
