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
