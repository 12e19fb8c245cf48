use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::types::{Lang, Origin};

fn comment(id: &str) -> Comment {
    Comment {
        id: id.into(),
        text: format!("text of {id}"),
        timestamp: None,
        author: None,
        source: None,
        lang: Lang::En,
        lang_detected: false,
        rating: None,
        meta: Default::default(),
        origin: Origin {
            file: "a.jsonl".into(),
            line: 1,
        },
    }
}

fn ids(comments: &[Comment]) -> Vec<&str> {
    comments.iter().map(|comment| comment.id.as_str()).collect()
}

/// The number of lines of the committed `comments.jsonl`.
fn committed_comments(reader: &Workspace) -> usize {
    reader
        .read_jsonl::<Comment>("comments.jsonl")
        .unwrap()
        .len()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// One run: appends `new` to the store, writes `comments.jsonl` and appends `new` to
/// `topic_events.jsonl`, and commits unless `commit` is false (a run that dies).
fn run(root: &Path, new: &[&str], commit: bool) {
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    let mut all = writer.load_store().unwrap();
    let fresh: Vec<Comment> = new.iter().map(|id| comment(id)).collect();
    writer.append_store(&fresh).unwrap();
    all.extend(fresh);
    writer.write_jsonl("comments.jsonl", &all).unwrap();
    writer.append_jsonl("topic_events.jsonl", new).unwrap();
    std::fs::create_dir(writer.staged_path("index")).unwrap();
    std::fs::write(writer.staged_path("index").join("meta.json"), "{}").unwrap();
    if commit {
        writer.commit().unwrap();
    }
}

#[test]
fn a_run_that_dies_leaves_the_committed_generation_and_its_rerun_equals_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    assert!(Workspace::open_existing(&root).is_err());
    run(&root, &["1", "2"], true);
    let reader = Workspace::open_existing(&root).unwrap();
    assert_eq!(ids(&reader.load_store().unwrap()), ["1", "2"]);

    // A run dies after appending to the store and staging its files.
    run(&root, &["3"], false);
    let reader = Workspace::open_existing(&root).unwrap();
    assert_eq!(ids(&reader.load_store().unwrap()), ["1", "2"]);
    assert_eq!(committed_comments(&reader), 2);
    let events: Vec<String> = reader.read_jsonl("topic_events.jsonl").unwrap();
    assert_eq!(events, ["1", "2"]);

    // The rerun: nothing of the dead run is left, nothing duplicated.
    run(&root, &["3"], true);
    let reader = Workspace::open_existing(&root).unwrap();
    assert_eq!(ids(&reader.load_store().unwrap()), ["1", "2", "3"]);
    let events: Vec<String> = reader.read_jsonl("topic_events.jsonl").unwrap();
    assert_eq!(events, ["1", "2", "3"]);
    // The stable names follow the committed generation.
    let through_link: Vec<Comment> = read_jsonl(&root.join("comments.jsonl")).unwrap();
    assert_eq!(ids(&through_link), ["1", "2", "3"]);
    // The committed generation and the one it replaced are kept; the dead run's staging was
    // replaced by the rerun's.
    let mut generations: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("gen-"))
        .collect();
    generations.sort();
    assert_eq!(generations, ["gen-000001", "gen-000002"]);
}

#[test]
fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    run(&root, &["1"], true);
    let reader = Workspace::open_existing(&root).unwrap();
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join("store.jsonl")), 0o600);
    assert_eq!(mode(&reader.path("comments.jsonl")), 0o600);
    assert_eq!(mode(&reader.path("manifest.json")), 0o600);
    assert_eq!(mode(&reader.index_dir()), 0o700);
    assert_eq!(mode(&reader.index_dir().join("meta.json")), 0o600);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = WorkspaceWriter::open(dir.path(), Wait::No).unwrap();
    let error = WorkspaceWriter::open(dir.path(), Wait::No).unwrap_err();
    assert!(matches!(error, Error::Locked { .. }), "{error}");
    drop(first);
    WorkspaceWriter::open(dir.path(), Wait::No).unwrap();
}

#[test]
fn a_workspace_of_the_flat_layout_is_read_and_moved_into_a_generation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store: Vec<Comment> = vec![comment("1"), comment("2")];
    write_jsonl(&root.join("store.jsonl"), &store).unwrap();
    write_jsonl(&root.join("comments.jsonl"), &store).unwrap();
    std::fs::write(root.join("topic_state.json"), "{}").unwrap();
    std::fs::write(root.join("signals.jsonl.partial"), "torn").unwrap();
    std::fs::create_dir(root.join("index")).unwrap();
    std::fs::write(root.join("index").join("meta.json"), "{}").unwrap();

    let flat = Workspace::open_existing(root).unwrap();
    assert_eq!(
        flat.read_jsonl::<Comment>("comments.jsonl").unwrap().len(),
        2
    );
    assert_eq!(
        flat.read_text("topic_state.json").unwrap().as_deref(),
        Some("{}")
    );

    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    let committed = writer.current().unwrap();
    assert!(committed
        .path("comments.jsonl")
        .starts_with(root.join("gen-000001")));
    assert_eq!(writer.load_store().unwrap().len(), 2);
    drop(writer);
    for name in ["comments.jsonl", "topic_state.json", "index"] {
        let kind = std::fs::symlink_metadata(root.join(name)).unwrap();
        assert!(kind.is_symlink(), "{name} is not a link");
    }
    assert!(!root.join("signals.jsonl.partial").exists());
    let reader = Workspace::open_existing(root).unwrap();
    assert_eq!(committed_comments(&reader), 2);
    assert!(reader.index_dir().join("meta.json").is_file());
}

#[test]
fn a_reset_starts_from_nothing_and_keeps_the_caches() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run(root, &["1"], true);
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    std::fs::write(writer.shared_path("embeddings.bin"), "cache").unwrap();
    writer.commit().unwrap();
    let mut writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    writer.reset().unwrap();
    assert!(writer.current().is_none());
    assert!(writer.load_store().unwrap().is_empty());
    assert_eq!(
        std::fs::read(root.join("embeddings.bin")).unwrap(),
        b"cache"
    );
}

#[test]
fn a_folder_that_is_not_a_workspace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt.partial"), "mine").unwrap();
    let error = WorkspaceWriter::open(dir.path(), Wait::No).unwrap_err();
    assert!(
        error.to_string().contains("not an xsignal workspace"),
        "{error}"
    );
    assert!(dir.path().join("notes.txt.partial").is_file());
}

#[test]
fn caches_copied_into_a_new_workspace_are_kept_and_a_dead_first_run_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("embeddings.bin"), "copied").unwrap();
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    writer.append_store(&[comment("1")]).unwrap();
    std::fs::write(root.join("embeddings.bin"), "copied and more").unwrap();
    drop(writer);
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    assert!(writer.load_store().unwrap().is_empty());
    assert_eq!(
        std::fs::read(root.join("embeddings.bin")).unwrap(),
        b"copied"
    );
}

fn generations(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("gen-"))
        .collect();
    names.sort();
    names
}

#[test]
fn an_erasure_starts_over_from_the_rewritten_store_and_leaves_one_generation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run(root, &["1", "2"], true);
    run(root, &["3"], true);
    assert_eq!(generations(root), ["gen-000001", "gen-000002"]);
    let mut writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    writer.erase(&[comment("1"), comment("3")], 1).unwrap();
    assert!(writer.current().is_none());
    assert_eq!(writer.erased(), Some(1));
    assert_eq!(ids(&writer.load_store().unwrap()), ["1", "3"]);
    // Readers still see the committed run until the erasing one commits.
    let reader = Workspace::open_existing(root).unwrap();
    assert_eq!(committed_comments(&reader), 3);
    writer
        .write_jsonl("comments.jsonl", &[comment("1"), comment("3")])
        .unwrap();
    writer.commit().unwrap();
    assert_eq!(generations(root), ["gen-000003"]);
    assert!(!root.join(erasure::MARKER).exists());
    let reader = Workspace::open_existing(root).unwrap();
    assert_eq!(ids(&reader.load_store().unwrap()), ["1", "3"]);
    // Nothing of the old generations is carried: not even the lineage.
    assert!(!reader.path("topic_events.jsonl").exists());
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    assert_eq!(writer.erased(), None);
}

#[test]
fn an_interrupted_erasure_is_finished_by_the_next_writer() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run(root, &["1", "2", "3"], true);
    // The process stops after the marker, before the rewritten store is renamed into place.
    let current = generation::read_current(root)
        .unwrap()
        .unwrap()
        .1
        .generation;
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    let old_store = std::fs::read(root.join("store.jsonl")).unwrap();
    erasure::begin(root, current, &[comment("2")], 2).unwrap();
    drop(writer);
    std::fs::rename(root.join("store.jsonl"), root.join("store.jsonl.erasing")).unwrap();
    std::fs::write(root.join("store.jsonl"), old_store).unwrap();

    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    assert!(writer.current().is_none(), "the next writer starts over");
    assert_eq!(writer.erased(), Some(2));
    assert_eq!(ids(&writer.load_store().unwrap()), ["2"]);
    assert!(!root.join("store.jsonl.erasing").exists());
    let marker = std::fs::read(root.join(erasure::MARKER)).unwrap();
    writer.commit().unwrap();
    assert_eq!(generations(root), ["gen-000002"]);
    assert!(!root.join(erasure::MARKER).exists());

    // Stopped after the commit, before the marker was removed: the next writer only removes it.
    std::fs::write(root.join(erasure::MARKER), marker).unwrap();
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    assert_eq!(writer.erased(), None);
    assert!(writer.current().is_some());
    assert!(!root.join(erasure::MARKER).exists());
}

#[test]
fn a_rewritten_store_without_the_marker_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run(root, &["1", "2"], true);
    std::fs::write(root.join("store.jsonl.erasing"), "partial").unwrap();
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    assert_eq!(writer.erased(), None);
    assert!(writer.current().is_some());
    assert_eq!(ids(&writer.load_store().unwrap()), ["1", "2"]);
    assert!(!root.join("store.jsonl.erasing").exists());
}

#[test]
fn the_audit_log_is_appended_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run(root, &["1"], true);
    let writer = WorkspaceWriter::open(root, Wait::No).unwrap();
    writer
        .append_audit(&serde_json::json!({"removed": 1}))
        .unwrap();
    writer
        .append_audit(&serde_json::json!({"removed": 2}))
        .unwrap();
    let lines: Vec<serde_json::Value> = read_jsonl(&root.join(AUDIT_LOG)).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["removed"], 2);
    assert_eq!(mode(&root.join(AUDIT_LOG)), 0o600);
}
