use super::*;
use crate::types::{Lang, Origin, Sentiment, SentimentCounts, SentimentLabel, TopicKind};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::RowAccessor;

fn comment(id: &str, text: &str, meta: serde_json::Value) -> Comment {
    Comment {
        id: id.to_string(),
        text: text.to_string(),
        timestamp: chrono::DateTime::from_timestamp(1_771_632_000, 0),
        author: Some(format!("a{id}")),
        source: Some("appstore".to_string()),
        lang: Lang::De,
        lang_detected: false,
        rating: Some(2.0),
        meta: meta.as_object().cloned().unwrap_or_default(),
        origin: Origin {
            file: "in.csv".to_string(),
            line: 2,
        },
    }
}

fn enriched(id: &str, topic: Option<u32>) -> EnrichedComment {
    EnrichedComment {
        id: id.to_string(),
        lang: Lang::De,
        timestamp: None,
        source: None,
        sentiment: Sentiment {
            label: SentimentLabel::Negative,
            score: -0.5,
            confidence: 0.9,
        },
        sentences: Vec::new(),
        topic,
        topic_confidence: None,
        duplicate_of: None,
    }
}

fn table() -> Table {
    let first = comment(
        "c1",
        "Akku, \"leer\"\nschon wieder",
        serde_json::json!({"team": "sales", "text": "clash", "seats": 12}),
    );
    let mut second = comment("c2", "Grüße", serde_json::json!({"plan": "pro"}));
    second.timestamp = None;
    second.author = None;
    second.rating = None;
    let topic = Topic {
        id: 4,
        label: "akku leer".to_string(),
        keywords: Vec::new(),
        size: 1,
        sentiment: SentimentCounts::default(),
        representatives: Vec::new(),
        theme: None,
        known_from: None,
        kind: TopicKind::Subject,
    };
    Table::build(
        &[&first, &second],
        &[enriched("c1", Some(4)), enriched("c2", None)],
        &[topic],
    )
}

#[test]
fn metadata_becomes_sorted_columns_and_clashing_names_are_prefixed() {
    let table = table();
    assert_eq!(table.meta_columns, ["plan", "seats", "team", "meta.text"]);
    assert_eq!(
        table.rows[0].meta,
        [
            None,
            Some("12".to_string()),
            Some("sales".to_string()),
            Some("clash".to_string())
        ]
    );
    assert_eq!(table.rows[0].topic_label.as_deref(), Some("akku leer"));
    assert_eq!(table.rows[1].topic, None);
}

#[test]
fn csv_has_a_header_and_round_trips_text_with_quotes_and_newlines() {
    let table = table();
    let mut bytes = Vec::new();
    write_csv(&table, &mut bytes).unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, table.columns());
    let records: Vec<csv::StringRecord> = reader.records().map(|record| record.unwrap()).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(&records[0][1], "Akku, \"leer\"\nschon wieder");
    assert_eq!(&records[0][2], "2026-02-21T00:00:00Z");
    assert_eq!(&records[0][5], "negative");
    assert_eq!(&records[0][7], "4");
    assert_eq!(&records[0][9], "ac1");
    assert_eq!(&records[0][10], "2");
    assert_eq!(&records[0][13], "sales");
    assert_eq!(&records[1][2], "");
    assert_eq!(&records[1][11], "pro");
}

#[test]
fn parquet_round_trips_through_the_reader() {
    let table = table();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    write_parquet(&table, std::fs::File::create(&path).unwrap()).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let metadata = reader.metadata();
    assert_eq!(metadata.file_metadata().num_rows(), 2);
    let names: Vec<String> = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|column| column.name().to_string())
        .collect();
    assert_eq!(names, table.columns());
    let rows: Vec<parquet::record::Row> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap())
        .collect();
    assert_eq!(
        rows[0].get_string(1).unwrap(),
        "Akku, \"leer\"\nschon wieder"
    );
    assert_eq!(
        rows[0].get_timestamp_micros(2).unwrap(),
        1_771_632_000_000_000
    );
    assert_eq!(rows[0].get_long(7).unwrap(), 4);
    assert_eq!(rows[0].get_double(10).unwrap(), 2.0);
    assert_eq!(rows[0].get_string(13).unwrap(), "sales");
    assert!(rows[1].get_timestamp_micros(2).is_err(), "absent is null");
    assert_eq!(rows[1].get_string(11).unwrap(), "pro");
}
