//! Command-line behaviour that needs no model: usage errors and exit codes.

use crate::common::{run, xsignal};

#[test]
fn missing_model_says_to_fetch_it() {
    let temp = tempfile::tempdir().unwrap();
    let input = temp.path().join("comments.xml");
    std::fs::write(&input, "<x/>").unwrap();
    let output = run(xsignal()
        .env("XSIGNAL_MODELS", temp.path())
        .args(["analyze", "--workspace"])
        .arg(temp.path().join("ws"))
        .arg(&input));
    // The model is loaded before any input is read, so a missing model fails first, with exit 1.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("xsignal models fetch"), "{stderr}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn queries_on_a_missing_workspace_say_what_to_run() {
    let temp = tempfile::tempdir().unwrap();
    for sub in ["search", "topics", "trends"] {
        let output = run(xsignal()
            .args([sub, "--workspace"])
            .arg(temp.path().join("nothing")));
        assert_eq!(output.status.code(), Some(1), "{sub}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("xsignal analyze"),
            "{sub}"
        );
    }
}

#[test]
fn bad_flags_exit_with_2() {
    let output = run(xsignal().args(["analyze"]));
    assert_eq!(output.status.code(), Some(2));
    let output = run(xsignal().args(["search", "x", "--sentiment", "grumpy", "--workspace", "."]));
    assert_ne!(output.status.code(), Some(0));
}

#[test]
fn bad_config_is_a_usage_error() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("x.toml");
    std::fs::write(&config, "version = 1\nnot_a_key = 2\n").unwrap();
    let input = temp.path().join("a.jsonl");
    std::fs::write(&input, "{\"text\": \"hello\"}\n").unwrap();
    let output = run(xsignal()
        .args(["analyze", "--workspace"])
        .arg(temp.path().join("ws"))
        .arg("--config")
        .arg(&config)
        .arg(&input));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not_a_key"));
}

#[test]
fn unknown_input_format_is_a_usage_error() {
    if !crate::common::model_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let input = temp.path().join("comments.xml");
    std::fs::write(&input, "<x/>").unwrap();
    let output = run(xsignal()
        .args(["analyze", "--workspace"])
        .arg(temp.path().join("ws"))
        .arg(&input));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("comments.xml: unknown input format"),
        "{stderr}"
    );
}

#[test]
fn out_of_range_config_values_exit_2_before_the_workspace_is_created() {
    let temp = tempfile::tempdir().unwrap();
    let input = temp.path().join("a.jsonl");
    std::fs::write(&input, "{\"text\": \"hello\"}\n").unwrap();
    for (section, key) in [
        ("[topics]\nepoch_hours = -24.0", "topics.epoch_hours"),
        ("[topics]\nepoch_hours = nan", "topics.epoch_hours"),
        ("[trends]\nz_threshold = -1.0", "trends.z_threshold"),
        ("[trends]\nwindow_buckets = 0", "trends.window_buckets"),
        ("[embed]\nbatch_size = 0", "embed.batch_size"),
        ("[topics]\nmax_clusters = 0", "topics.max_clusters"),
        ("[topics]\nmin_topic_size = 0", "topics.min_topic_size"),
    ] {
        let config = temp.path().join("x.toml");
        std::fs::write(&config, format!("version = 1\n{section}\n")).unwrap();
        let workspace = temp.path().join("ws");
        let output = run(xsignal()
            .args(["analyze", "--workspace"])
            .arg(&workspace)
            .arg("--config")
            .arg(&config)
            .arg(&input));
        assert_eq!(output.status.code(), Some(2), "{section}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(key),
            "{section}"
        );
        assert!(!workspace.exists(), "{section}: the workspace was created");
    }
    // A bad bucket flag is refused the same way.
    let output = run(xsignal()
        .args(["analyze", "--bucket", "0h", "--workspace"])
        .arg(temp.path().join("ws"))
        .arg(&input));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unknown_log_levels_are_refused() {
    let output = run(xsignal().args(["--log", "bogus", "config"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bogus"));
    let output = run(xsignal().env("XSIGNAL_LOG", "bogus").arg("config"));
    assert_eq!(output.status.code(), Some(2));
    let output = run(xsignal().args(["--log", "debug", "config"]));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn deliver_names_what_is_missing_and_the_webhook_that_failed() {
    use xsignal::feed::lifecycle::{FeedEvent, FeedEventKind};
    use xsignal::workspace::{Wait, WorkspaceWriter};

    let temp = tempfile::tempdir().unwrap();
    let workspace = temp.path().join("ws");
    let writer = WorkspaceWriter::open(&workspace, Wait::No).unwrap();
    let event = FeedEvent {
        schema: 1,
        seq: 1,
        run: 1,
        event: FeedEventKind::Closed,
        signal_id: "phrase:late+deliveri@20260301T00".into(),
        as_of: "2026-03-01T00:00:00Z".parse().unwrap(),
        digest: String::new(),
        reason: Some("withdrawn".into()),
        signal: None,
    };
    writer.append_jsonl("feed.jsonl", &[event]).unwrap();
    writer.commit().unwrap();
    let deliver = |config: Option<&std::path::Path>| {
        let mut command = xsignal();
        command
            .args(["deliver", "--once", "--workspace"])
            .arg(&workspace)
            .env("XSIGNAL_TEST_HOOK_SECRET", "s3cret");
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        run(&mut command)
    };

    let output = deliver(None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no webhooks configured"), "{stderr}");

    let config = temp.path().join("xsignal.toml");
    std::fs::write(
        &config,
        "version = 1\n[[deliver.webhook]]\nurl = \"file:///tmp/x\"\nsecret = \"s\"\n",
    )
    .unwrap();
    let output = deliver(Some(&config));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deliver.webhook[0].url"), "{stderr}");

    // A port nobody listens on: every attempt is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(
        &config,
        format!(
            "version = 1\n[deliver]\nonce_attempts = 2\nretry_first_seconds = 0.01\n\
             retry_max_seconds = 0.02\n[[deliver.webhook]]\nurl = \"http://{closed}/hook?token=abc\"\n\
             secret_env = \"XSIGNAL_TEST_HOOK_SECRET\"\n"
        ),
    )
    .unwrap();
    let output = deliver(Some(&config));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("webhook 0 (127.0.0.1): feed event 1 not taken after 2 attempts"),
        "{stderr}"
    );
    assert!(!stderr.contains("token"), "{stderr}");
}
