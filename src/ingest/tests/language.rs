//! Language detection: a row without a language gets a detected one and a given one is kept; the
//! detector measured on the shared labelled data (skipped when it is absent).

use super::*;

#[test]
fn language_is_detected_when_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "in.jsonl",
        "{\"id\":\"en\",\"text\":\"The delivery was late again and nobody answered my emails about it.\"}\n\
         {\"id\":\"de\",\"text\":\"Die Lieferung kam wieder zu spät und niemand hat auf meine E-Mails geantwortet.\"}\n\
         {\"id\":\"given\",\"text\":\"The delivery was late again and nobody answered my emails about it.\",\"lang\":\"de\"}\n"
            .as_bytes(),
    );
    let output = ingest(&[path]);
    let langs: Vec<(Lang, bool)> = output
        .comments
        .iter()
        .map(|c| (c.lang, c.lang_detected))
        .collect();
    assert_eq!(
        langs,
        [(Lang::En, true), (Lang::De, true), (Lang::De, false)]
    );
}

/// Measures language detection on the shared labelled data (skipped when it is absent).
#[test]
fn language_detection_on_shared_data() {
    let sets = [
        ("../shared/data/sentiment/sst2/dev.jsonl", Lang::En),
        (
            "../shared/data/sentiment/tweeteval/validation.jsonl",
            Lang::En,
        ),
        ("../shared/data/sentiment/germeval2017/dev.jsonl", Lang::De),
        (
            "../shared/data/sentiment/umsab/de_validation.jsonl",
            Lang::De,
        ),
    ];
    for (file, expected) in sets {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        if !path.exists() {
            println!("skipping {file}: not present");
            continue;
        }
        // Drop the given language so that it is detected.
        let columns = ColumnMap {
            lang: "no-such-key".to_string(),
            ..ColumnMap::default()
        };
        let output = ingest_files(&[path], &columns, &IngestConfig::default()).unwrap();
        let total = output.comments.len();
        let right = output
            .comments
            .iter()
            .filter(|c| c.lang == expected)
            .count();
        let accuracy = right as f64 / total.max(1) as f64;
        println!("{file}: {right}/{total} detected as {expected:?} ({accuracy:.3})");
        assert!(accuracy > 0.9, "{file}: accuracy {accuracy:.3}");
    }
}
