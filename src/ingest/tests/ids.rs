//! Comment ids: a derived id is stable across runs and formats (the same content is a duplicate
//! row), and a duplicate id is rejected naming where it was first seen.

use super::*;

#[test]
fn derived_ids_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        &dir,
        "a.csv",
        b"text,author,timestamp\nSame words,u1,2024-03-01\nSame words,u2,2024-03-01\n",
    );
    let jsonl = write(
        &dir,
        "b.jsonl",
        b"{\"text\":\"Same words\",\"author\":\"u1\",\"timestamp\":\"2024-03-01T00:00:00Z\"}\n",
    );
    let first = ingest(std::slice::from_ref(&csv));
    let again = ingest(std::slice::from_ref(&csv));
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(first.comments.len(), 2);
    assert_ne!(first.comments[0].id, first.comments[1].id);
    assert!(first
        .comments
        .iter()
        .all(|c| c.id.len() == 17 && c.id.starts_with('h')));
    // Same content in another format, another timestamp spelling: the same id, so a duplicate row.
    let both = ingest(&[csv, jsonl]);
    assert_eq!(both.comments.len(), 2);
    assert_eq!(both.files[1].duplicate_rows, 1);
    assert!(both.rejects.is_empty());
}

#[test]
fn duplicate_ids() {
    let dir = tempfile::tempdir().unwrap();
    let first = csv_file(
        &dir,
        "x,hello,2024-03-01,u1,,,\ny,other,,,,,\nx,hello,2024-03-01,u1,web,,\n",
    );
    let second = write(
        &dir,
        "more.jsonl",
        b"{\"id\":\"x\",\"text\":\"hello again\"}\n{\"id\":\"z\",\"text\":\"new\"}\n{\"id\":\"y\",\"text\":\"other\"}\n",
    );
    let output = ingest(&[first.clone(), second.clone()]);
    assert_single_reject(
        &output,
        &second,
        1,
        "id",
        &format!("duplicate id \"x\" (first seen at {}:2)", first.display()),
    );
    assert_eq!(ids(&output), ["x", "y", "z"]);
    // The same content again (source does not count) is a duplicate row, not a reject.
    assert_eq!(output.comments[0].source, None);
    assert_eq!(
        (
            output.files[0].rows,
            output.files[0].accepted,
            output.files[0].duplicate_rows
        ),
        (3, 2, 1)
    );
    assert_eq!(
        (
            output.files[1].rows,
            output.files[1].accepted,
            output.files[1].rejected,
            output.files[1].duplicate_rows
        ),
        (3, 1, 1, 1)
    );
}
