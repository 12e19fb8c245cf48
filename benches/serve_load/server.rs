//! The server under load: `xsignal serve` as a subprocess, its address and its memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const XSIGNAL: &str = env!("CARGO_BIN_EXE_xsignal");

/// A running `xsignal serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub spawned: Instant,
    pub listening: Duration,
    pub log: PathBuf,
}

impl Server {
    /// Spawns `serve` on `workspace` (its log goes to `log`) and waits for its `listening` line.
    pub fn start(workspace: &Path, log: &Path) -> Server {
        let log_file = std::fs::File::create(log).expect("server log");
        let spawned = Instant::now();
        let mut child = Command::new(XSIGNAL)
            .args([
                "serve",
                "--no-deliver",
                "--log",
                "warn",
                "--bind",
                "127.0.0.1:0",
            ])
            .arg("--workspace")
            .arg(workspace)
            .env_remove("XSIGNAL_TOKEN")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("xsignal serve starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        let listening = spawned.elapsed();
        let mut server = Server {
            child,
            base: String::new(),
            spawned,
            listening,
            log: log.to_path_buf(),
        };
        match line.trim().strip_prefix("listening on ") {
            Some(base) => server.base = base.to_string(),
            None => panic!(
                "serve printed {line:?}, not its address; its log:\n{}",
                tail(&server.log)
            ),
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// VmRSS and VmHWM of the server, in MB.
    pub fn memory_mb(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/PID/status");
        let field = |name: &str| -> f64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
