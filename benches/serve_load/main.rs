//! Load on the HTTP API, end to end: `cargo bench --bench serve_load -- --workspace DIR [...]`.
//!
//! Drives the built `xsignal` binary as a subprocess on a copy of the analysed workspace DIR (the
//! caller's folder is never touched), in one of two modes:
//!
//! - Load (`--clients N`, default 200; `--seconds S`, default 30; `--commit FILE`): starts
//!   `xsignal serve --no-deliver` on the copy, then N client threads, each with its own keep-alive
//!   connection, loop over a fixed mix of requests until S seconds have passed: searches in English
//!   and German with and without facets, with source and language filters and time order; the
//!   signal list and the signals it listed; topics; themes. After a warm-up, `xsignal analyze`
//!   adds FILE to the copy, so that a run commits under load (default FILE: the social stream of
//!   `xsignal-corpus` with another seed, dated after the workspace's last comment, its ids
//!   prefixed so that they are new). The load goes on past S seconds until the server has served
//!   the new generation (`/health` reports it) for a few seconds. Prints markdown tables of
//!   requests, requests/s, latency percentiles and errors (transport errors and any answer other
//!   than 2xx) per route group and per phase (before `analyze`, while it runs, after the switch),
//!   and exits non-zero when there were errors or the new run was not served.
//! - Startup (`--startup`): three times, the time from spawning `serve` to its `listening` line
//!   and to the first 200 on `/v1/signals` and then on `/v1/search`, and the server's resident
//!   memory (VmRSS, VmHWM) after startup and after a short burst of requests; prints the medians.
//!   The copy was just written, so its files are in the page cache.
//!
//! Without `--workspace` it prints how to run it and measures nothing: it needs an analysed
//! workspace (`scripts/demo` writes one to `xsignal-data`). Under `cargo test` (no `--bench`) a
//! given workspace gets a short run (4 clients, 3 s). The clients, the server and `analyze` share
//! the machine, so on few cores the numbers measure them together.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use xsignal::workspace::Workspace;

use clients::{
    agent, call, first_ok, join, json, shared_for, spawn_clients, with_query, Group, Outcome,
    Record,
};
use report::{median, phases, print_table, Row};
use server::{tail, Server, XSIGNAL};

mod clients;
mod report;
mod server;

const CORPUS: &str = env!("CARGO_BIN_EXE_xsignal-corpus");

/// How long the load goes on after `/health` first reported the new generation.
const AFTER_SWITCH: Duration = Duration::from_secs(3);
/// Longest wait, after the commit, for the server to serve the new generation.
const SWITCH_LIMIT: Duration = Duration::from_secs(120);
/// How often the orchestrating thread looks at `current`, `analyze` and `/health`.
const POLL: Duration = Duration::from_millis(20);
const HEALTH_POLL: Duration = Duration::from_millis(100);
/// Startup mode: runs, and the burst after each startup.
const STARTUP_RUNS: usize = 3;
const BURST_CLIENTS: usize = 4;
const BURST_REQUESTS_PER_CLIENT: usize = 60;
/// The generated commit file: `xsignal-corpus` flags and the id prefix.
const COMMIT_SEED: &str = "8";
const COMMIT_DAYS: &str = "30";
const COMMIT_RATE_PER_DAY: &str = "10";
const COMMIT_ID_PREFIX: &str = "load-";

struct Args {
    workspace: Option<PathBuf>,
    clients: usize,
    seconds: f64,
    commit: Option<PathBuf>,
    startup: bool,
}

/// A flag's value, a number above zero; panics with `usage` otherwise.
fn positive<T: std::str::FromStr + PartialOrd + Default>(value: Option<String>, usage: &str) -> T {
    value
        .and_then(|value| value.parse().ok())
        .filter(|number| *number > T::default())
        .unwrap_or_else(|| panic!("{usage}: a number above 0"))
}

fn parse_args() -> Args {
    let mut workspace = None;
    let mut clients = None;
    let mut seconds = None;
    let mut commit = None;
    let mut startup = false;
    let mut benching = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--workspace" => workspace = Some(PathBuf::from(args.next().expect("--workspace DIR"))),
            "--clients" => clients = Some(positive(args.next(), "--clients N")),
            "--seconds" => seconds = Some(positive(args.next(), "--seconds S")),
            "--commit" => commit = Some(PathBuf::from(args.next().expect("--commit FILE"))),
            "--startup" => startup = true,
            "--bench" => benching = true,
            _ => {}
        }
    }
    Args {
        workspace,
        clients: clients.unwrap_or(if benching { 200 } else { 4 }),
        seconds: seconds.unwrap_or(if benching { 30.0 } else { 3.0 }),
        commit,
        startup,
    }
}

fn main() {
    let args = parse_args();
    let Some(workspace) = args.workspace.clone() else {
        println!(
            "serve_load: needs an analysed workspace: cargo bench --bench serve_load -- \
             --workspace DIR [--clients N] [--seconds S] [--commit FILE] | [--startup]"
        );
        return;
    };
    if let Err(error) = Workspace::open_existing(&workspace) {
        eprintln!("serve_load: {}: {error}", workspace.display());
        std::process::exit(2);
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let copy = temp.path().join("ws");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&workspace)
        .arg(&copy)
        .status()
        .expect("cp runs");
    assert!(copied.success(), "copying {} failed", workspace.display());
    let passed = if args.startup {
        startup(&workspace, &copy, temp.path())
    } else {
        load(&args, &workspace, &copy, temp.path())
    };
    drop(temp);
    if !passed {
        std::process::exit(1);
    }
}

/// The generation `/health` reports.
fn served_generation(agent: &ureq::Agent, server: &Server) -> Option<u64> {
    let body = call(agent, &server.url("/health")).ok()?;
    serde_json::from_slice::<Value>(&body).ok()?["generation"].as_u64()
}

/// A stream of new comments for `copy`: the social stream of `xsignal-corpus` with another seed,
/// starting the UTC day after the workspace's last comment, its ids prefixed.
fn generated_commit_file(copy: &Path, dir: &Path) -> PathBuf {
    let committed = Workspace::open_existing(copy).expect("workspace");
    let last: Option<DateTime<Utc>> = committed
        .comments()
        .expect("comments.jsonl")
        .iter()
        .filter_map(|comment| comment.timestamp)
        .max();
    let corpus = dir.join("corpus");
    let mut command = Command::new(CORPUS);
    command
        .args(["--seed", COMMIT_SEED, "--days", COMMIT_DAYS])
        .args(["--rate-per-day", COMMIT_RATE_PER_DAY, "--out"])
        .arg(&corpus);
    if let Some(last) = last {
        let next_day = last.date_naive().succ_opt().expect("a next day");
        let start = next_day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        command.args(["--start", &start.format("%Y-%m-%dT%H:%M:%SZ").to_string()]);
    }
    let generated = command.output().expect("xsignal-corpus runs");
    assert!(
        generated.status.success(),
        "xsignal-corpus failed: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let social = corpus.join("social.jsonl");
    let input = BufReader::new(std::fs::File::open(&social).expect("social.jsonl"));
    let path = dir.join("commit.jsonl");
    let mut output = std::io::BufWriter::new(std::fs::File::create(&path).expect("commit file"));
    for (number, line) in input.lines().enumerate() {
        let line = line.expect("a line");
        let mut comment: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("{}:{}: {error}", social.display(), number + 1));
        let id = comment["id"].as_str().expect("an id").to_string();
        comment["id"] = Value::String(format!("{COMMIT_ID_PREFIX}{id}"));
        writeln!(output, "{comment}").expect("write");
    }
    output.flush().expect("write");
    path
}

/// Times of the run committed under load, from the start of the load.
#[derive(Default)]
struct Commit {
    analyze_started: Option<Duration>,
    analyze_ended: Option<(Duration, ExitStatus)>,
    committed: Option<(Duration, u64)>,
    served: Option<Duration>,
}

/// What a load gave.
struct LoadRun {
    records: Vec<Record>,
    commit: Commit,
    duration: Duration,
}

fn load(args: &Args, workspace: &Path, copy: &Path, temp: &Path) -> bool {
    let commit_file = match &args.commit {
        Some(file) => file.clone(),
        None => generated_commit_file(copy, temp),
    };
    let server = Server::start(copy, &temp.join("serve.log"));
    let health = json(&agent(), &server.url("/health"));
    let analyze_log = temp.join("analyze.log");
    let run = drive(args, copy, &server, &commit_file, &analyze_log);
    println!(
        "serve_load: {} clients for {:.1} s (asked {:.1} s) on a copy of {} ({} comments, {} \
         signals, generation {}); commit file {}",
        args.clients,
        run.duration.as_secs_f64(),
        args.seconds,
        workspace.display(),
        health["comments"],
        health["signals"],
        health["generation"],
        commit_file.display()
    );
    println!();
    let passed = report_load(&run);
    let warnings = std::fs::read_to_string(&server.log)
        .unwrap_or_default()
        .lines()
        .count();
    println!("- lines in the server's log (level warn): {warnings}");
    if !passed {
        println!("serve log:\n{}", tail(&server.log));
        println!("analyze log:\n{}", tail(&analyze_log));
    }
    passed
}

/// Runs the clients against `server` and, after the warm-up, `analyze` of `commit_file` on
/// `copy`, until the load's time is up and the new run has been served for a while.
fn drive(
    args: &Args,
    copy: &Path,
    server: &Server,
    commit_file: &Path,
    analyze_log: &Path,
) -> LoadRun {
    let initial_generation = Workspace::committed_generation(copy);
    let monitor = agent();
    let shared = Arc::new(shared_for(server, &monitor));
    let warm_up = Duration::from_secs_f64((args.seconds / 5.0).clamp(1.0, 5.0));
    let seconds = Duration::from_secs_f64(args.seconds);
    let handles = spawn_clients(&shared, args.clients, usize::MAX);

    let mut commit = Commit::default();
    let mut analyze: Option<Child> = None;
    let mut last_health = Duration::ZERO;
    loop {
        let now = shared.origin.elapsed();
        if commit.analyze_started.is_none() && now >= warm_up {
            let log = std::fs::File::create(analyze_log).expect("analyze log");
            let child = Command::new(XSIGNAL)
                .args(["analyze", "--quiet", "--log", "warn", "--workspace"])
                .arg(copy)
                .arg(commit_file)
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("xsignal analyze starts");
            analyze = Some(child);
            commit.analyze_started = Some(now);
        }
        if let Some(child) = analyze.as_mut() {
            if let Some(status) = child.try_wait().expect("analyze status") {
                commit.analyze_ended = Some((now, status));
                analyze = None;
            }
        }
        if commit.committed.is_none() {
            let generation = Workspace::committed_generation(copy);
            if let Some(generation) = generation.filter(|_| generation != initial_generation) {
                commit.committed = Some((now, generation));
                shared
                    .committed_micros
                    .store(now.as_micros() as u64, Ordering::Relaxed);
            }
        }
        if let Some((_, generation)) = commit.committed {
            if commit.served.is_none() && now >= last_health + HEALTH_POLL {
                last_health = now;
                if served_generation(&monitor, server) == Some(generation) {
                    commit.served = Some(now);
                }
            }
        }
        let settled = match (commit.served, commit.committed, &commit.analyze_ended) {
            (Some(served), _, _) => now >= served + AFTER_SWITCH,
            (None, Some((committed, _)), _) => now >= committed + SWITCH_LIMIT,
            (None, None, ended) => ended.is_some(),
        };
        if now >= seconds && settled {
            break;
        }
        std::thread::sleep(POLL);
    }
    shared.stop.store(true, Ordering::Relaxed);
    let records = join(handles);
    let duration = shared.origin.elapsed();
    if let Some(mut child) = analyze {
        let status = child.wait().expect("analyze ends");
        commit.analyze_ended = Some((shared.origin.elapsed(), status));
    }
    LoadRun {
        records,
        commit,
        duration,
    }
}

/// Prints the tables and the commit's times; true when there was no error and the new run was
/// served.
fn report_load(run: &LoadRun) -> bool {
    let LoadRun {
        records,
        commit,
        duration,
    } = run;
    let mut by_group: BTreeMap<Group, Vec<&Record>> = BTreeMap::new();
    for record in records {
        by_group.entry(record.group).or_default().push(record);
    }
    let mut rows: Vec<Row> = by_group
        .into_iter()
        .map(|(group, list)| (group.name().to_string(), list, *duration))
        .collect();
    rows.push(("all".to_string(), records.iter().collect(), *duration));
    print_table("route", &rows);
    println!();
    print_table(
        "phase",
        &phases(records, commit.analyze_started, commit.served, *duration),
    );
    println!();

    let mut errors: BTreeMap<(Group, &str), usize> = BTreeMap::new();
    let mut errors_after_switch = 0;
    let mut stale = 0;
    for record in records {
        match &record.outcome {
            Outcome::Ok => {}
            Outcome::Stale => stale += 1,
            Outcome::Error(kind) => {
                *errors.entry((record.group, kind.as_str())).or_default() += 1;
                if commit.served.is_some_and(|served| record.started >= served) {
                    errors_after_switch += 1;
                }
            }
        }
    }
    for ((group, kind), count) in &errors {
        println!("- error: {} {kind} × {count}", group.name());
    }
    println!("- 404 for a signal listed before the commit (not errors): {stale}");
    let at = |time: Duration| format!("{:.2} s", time.as_secs_f64());
    match commit.analyze_started {
        Some(started) => println!("- `analyze` started at {}", at(started)),
        None => println!("- `analyze` did not start"),
    }
    let analyze_ok = match &commit.analyze_ended {
        Some((ended, status)) => {
            println!("- `analyze` ended at {} ({status})", at(*ended));
            status.success()
        }
        None => false,
    };
    if let Some((committed, generation)) = commit.committed {
        println!("- generation {generation} committed at {}", at(committed));
    }
    let served = match commit.served {
        Some(served) => {
            let requests = records
                .iter()
                .filter(|record| record.started >= served)
                .count();
            println!(
                "- served (first `/health` with it) at {}; after that {requests} requests, \
                 {errors_after_switch} errors",
                at(served)
            );
            true
        }
        None => {
            println!("- the new run was NOT served");
            false
        }
    };
    let passed = served && analyze_ok && errors.is_empty();
    println!(
        "- result: {}",
        if passed {
            "no errors; the new run was committed under load and served without errors"
        } else {
            "FAILED"
        }
    );
    passed
}

/// One startup: seconds to `listening` and to the first 200s, MB after startup and after a burst.
struct Startup {
    listening: f64,
    signals: f64,
    search: f64,
    started_mb: (f64, f64),
    burst_mb: (f64, f64),
    burst_errors: usize,
    /// Comments served (`/health`).
    comments: Value,
}

fn startup_once(copy: &Path, log: &Path) -> Startup {
    let server = Server::start(copy, log);
    let agent = agent();
    let signals = first_ok(&agent, &server.url("/v1/signals"), server.spawned);
    let search = first_ok(
        &agent,
        &server.url(&with_query("/v1/search", &[("q", "firmware update")])),
        server.spawned,
    );
    let started_mb = server.memory_mb();
    let comments = json(&agent, &server.url("/health"))["comments"].clone();
    let shared = Arc::new(shared_for(&server, &agent));
    let records = join(spawn_clients(
        &shared,
        BURST_CLIENTS,
        BURST_REQUESTS_PER_CLIENT,
    ));
    let burst_errors = records
        .iter()
        .filter(|record| matches!(record.outcome, Outcome::Error(_)))
        .count();
    Startup {
        listening: server.listening.as_secs_f64(),
        signals: signals.as_secs_f64(),
        search: search.as_secs_f64(),
        started_mb,
        burst_mb: server.memory_mb(),
        burst_errors,
        comments,
    }
}

fn startup(workspace: &Path, copy: &Path, temp: &Path) -> bool {
    let runs: Vec<Startup> = (0..STARTUP_RUNS)
        .map(|_| startup_once(copy, &temp.join("serve.log")))
        .collect();
    let comments = &runs[0].comments;
    let burst = BURST_CLIENTS * BURST_REQUESTS_PER_CLIENT;
    println!(
        "serve_load --startup: a copy of {} ({comments} comments), median of {STARTUP_RUNS} runs",
        workspace.display()
    );
    println!();
    println!("| measure | median | runs |");
    println!("|---|---:|---|");
    let row = |label: &str, unit: &str, value: &dyn Fn(&Startup) -> f64| {
        let values: Vec<f64> = runs.iter().map(value).collect();
        let digits = if unit == "s" { 3 } else { 0 };
        let each: Vec<String> = values
            .iter()
            .map(|value| format!("{value:.digits$}"))
            .collect();
        println!(
            "| {label} | {:.digits$} {unit} | {} |",
            median(&values),
            each.join(", ")
        );
    };
    row("spawn to `listening`", "s", &|run| run.listening);
    row("spawn to first 200 on `/v1/signals`", "s", &|run| {
        run.signals
    });
    row(
        "spawn to first 200 on `/v1/search` (after that)",
        "s",
        &|run| run.search,
    );
    row("VmRSS after startup", "MB", &|run| run.started_mb.0);
    row("VmHWM after startup", "MB", &|run| run.started_mb.1);
    row(&format!("VmRSS after {burst} requests"), "MB", &|run| {
        run.burst_mb.0
    });
    row(&format!("VmHWM after {burst} requests"), "MB", &|run| {
        run.burst_mb.1
    });
    let errors: usize = runs.iter().map(|run| run.burst_errors).sum();
    println!();
    println!("- errors in the bursts: {errors}");
    errors == 0
}
