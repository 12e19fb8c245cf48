//! End-to-end throughput: `cargo bench --bench end_to_end -- [--comments N] [--input FILE]`.
//!
//! Runs `analyze` on the first N comments (default 5,000) of a stream (default the shared trend
//! benchmark stream) in a fresh temporary workspace, then prints comments/s per stage and the peak
//! resident memory of the process. Under `cargo test` (no `--bench` argument) it only checks that the
//! run works, on 200 comments unless `--comments` says otherwise.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use xsignal::config::Config;
use xsignal::ingest::ColumnMap;
use xsignal::pipeline::{self, AnalyzeOptions};
use xsignal::workspace::{Wait, WorkspaceWriter};

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let mut comments: Option<usize> = None;
    let mut benching = false;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut input = root.join("../shared/data/trends/dev/stream.jsonl");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--comments" => {
                comments = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .expect("--comments N"),
                )
            }
            "--input" => input = PathBuf::from(args.next().expect("--input FILE")),
            "--bench" => benching = true,
            _ => {}
        }
    }
    let comments = comments.unwrap_or(if benching { 5_000 } else { 200 });
    if !benching {
        println!("end_to_end: a check run under `cargo test`; measure with `cargo bench --bench end_to_end`");
    }
    if !input.is_file() {
        println!("skipping: {} is absent", input.display());
        return;
    }
    let models = root.join("models");
    if !models.join("all-MiniLM-L6-v2/model.safetensors").is_file() {
        println!("skipping: the model is absent (run `xsignal models fetch`)");
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let sample = temp.path().join("sample.jsonl");
    {
        let reader = std::io::BufReader::new(std::fs::File::open(&input).expect("input opens"));
        let mut writer = std::io::BufWriter::new(std::fs::File::create(&sample).expect("sample"));
        for line in reader.lines().take(comments) {
            writeln!(writer, "{}", line.expect("line")).expect("write");
        }
    }
    let workspace = WorkspaceWriter::open(&temp.path().join("ws"), Wait::No).expect("workspace");
    let options = AnalyzeOptions {
        files: vec![sample],
        columns: ColumnMap::default(),
        models_dir: models,
        progress: false,
    };
    let started = std::time::Instant::now();
    let summary = pipeline::analyze(workspace, &Config::default(), &options).expect("analyze");
    let total = started.elapsed().as_secs_f64();
    println!(
        "end_to_end: {} comments from {} on {} threads",
        summary.total_comments,
        input.display(),
        rayon::current_num_threads()
    );
    for timing in &summary.timings {
        let items = if timing.items == 0 {
            summary.ingest.rows_read
        } else {
            timing.items
        };
        println!(
            "  {:<10} {:>8} items {:>8.2} s {:>10.0} comments/s",
            timing.stage,
            items,
            timing.seconds,
            items as f64 / timing.seconds.max(1e-9)
        );
    }
    println!(
        "  total      {:>8} items {:>8.2} s {:>10.0} comments/s",
        summary.total_comments,
        total,
        summary.total_comments as f64 / total
    );
    match peak_rss_mb() {
        Some(mb) => println!("  peak RSS {mb:.0} MB"),
        None => println!("  peak RSS unavailable"),
    }
}
