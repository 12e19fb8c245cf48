//! Export: the comments of a workspace with their text, enrichments and metadata, as a table in a
//! CSV or Parquet file, for analysts and other systems (`xsignal export`).
//!
//! In: the stored comments ([`Comment`]: text, pseudonymous author, rating, metadata) joined by id
//! with their enrichments ([`EnrichedComment`]: sentiment, topic) and the topic labels. Out: one row
//! per comment, in the order given, with the columns [`BASE_COLUMNS`] and then one column per
//! metadata field that any exported comment has (sorted by name; a field named like a base column
//! gets the prefix `meta.`). Metadata values that are not strings are written as JSON.
//!
//! Parquet is written with the `parquet` crate's column writers (no Arrow layer: the table is a
//! handful of flat columns, and Arrow would add several minutes to a clean build), uncompressed,
//! one row group per [`ROW_GROUP_ROWS`] rows. Times are `TIMESTAMP(MICROS, UTC)`.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, TimeUnit, TimestampType, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::error::{Error, Result};
use crate::types::{Comment, EnrichedComment, Topic};

/// The columns every export has, in order.
pub const BASE_COLUMNS: &[&str] = &[
    "id",
    "text",
    "timestamp",
    "source",
    "language",
    "sentiment",
    "sentiment_score",
    "topic",
    "topic_label",
    "author",
    "rating",
];

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 50_000;

/// The file formats of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// One exported comment.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Comment id.
    pub id: String,
    /// The text (personal data already replaced by placeholders).
    pub text: String,
    /// When it was written, in microseconds since the epoch.
    pub timestamp_micros: Option<i64>,
    /// Source or channel.
    pub source: Option<String>,
    /// Language code.
    pub language: String,
    /// Sentiment label, when the comment was scored.
    pub sentiment: Option<String>,
    /// Sentiment polarity in [-1, 1].
    pub sentiment_score: Option<f64>,
    /// Topic id.
    pub topic: Option<i64>,
    /// Topic label.
    pub topic_label: Option<String>,
    /// Pseudonymous author id.
    pub author: Option<String>,
    /// Rating.
    pub rating: Option<f64>,
    /// Metadata values by column, in the order of [`Table::meta_columns`].
    pub meta: Vec<Option<String>>,
}

/// The rows and the metadata columns of an export.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Names of the metadata columns (after the base columns).
    pub meta_columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Table {
    /// Joins `comments` (in this order) with their enrichments and topic labels.
    pub fn build(comments: &[&Comment], enriched: &[EnrichedComment], topics: &[Topic]) -> Table {
        let enriched_by_id: HashMap<&str, &EnrichedComment> = enriched
            .iter()
            .map(|comment| (comment.id.as_str(), comment))
            .collect();
        let labels: HashMap<u32, &str> = topics
            .iter()
            .map(|topic| (topic.id, topic.label.as_str()))
            .collect();
        let meta_names: BTreeSet<&str> = comments
            .iter()
            .flat_map(|comment| comment.meta.keys().map(String::as_str))
            .collect();
        let meta_columns: Vec<String> = meta_names
            .iter()
            .map(|name| {
                if BASE_COLUMNS.contains(name) {
                    format!("meta.{name}")
                } else {
                    name.to_string()
                }
            })
            .collect();
        let rows = comments
            .iter()
            .map(|comment| {
                let enrichment = enriched_by_id.get(comment.id.as_str());
                let topic = enrichment.and_then(|enriched| enriched.topic);
                Row {
                    id: comment.id.clone(),
                    text: comment.text.clone(),
                    timestamp_micros: comment.timestamp.map(|time| time.timestamp_micros()),
                    source: comment.source.clone(),
                    language: comment.lang.code().to_string(),
                    sentiment: enrichment
                        .map(|enriched| enriched.sentiment.label.as_str().to_string()),
                    sentiment_score: enrichment.map(|enriched| f64::from(enriched.sentiment.score)),
                    topic: topic.map(i64::from),
                    topic_label: topic
                        .and_then(|id| labels.get(&id))
                        .map(|label| label.to_string()),
                    author: comment.author.clone(),
                    rating: comment.rating,
                    meta: meta_names
                        .iter()
                        .map(|name| comment.meta.get(*name).map(meta_text))
                        .collect(),
                }
            })
            .collect();
        Table { meta_columns, rows }
    }

    /// Every column name, base columns first.
    pub fn columns(&self) -> Vec<String> {
        BASE_COLUMNS
            .iter()
            .map(|name| name.to_string())
            .chain(self.meta_columns.iter().cloned())
            .collect()
    }
}

fn meta_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Writes `table` to `out` as CSV: a header row, then one row per comment; absent values are
/// empty, times RFC 3339 UTC.
pub fn write_csv(table: &Table, out: impl Write) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let to_error = |error: csv::Error| Error::Invalid(format!("writing CSV: {error}"));
    writer.write_record(table.columns()).map_err(to_error)?;
    for row in &table.rows {
        let time = row
            .timestamp_micros
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        let number = |value: Option<f64>| value.map(|value| value.to_string());
        let mut record: Vec<String> = vec![
            row.id.clone(),
            row.text.clone(),
            time.unwrap_or_default(),
            row.source.clone().unwrap_or_default(),
            row.language.clone(),
            row.sentiment.clone().unwrap_or_default(),
            number(row.sentiment_score).unwrap_or_default(),
            row.topic.map(|topic| topic.to_string()).unwrap_or_default(),
            row.topic_label.clone().unwrap_or_default(),
            row.author.clone().unwrap_or_default(),
            number(row.rating).unwrap_or_default(),
        ];
        record.extend(
            row.meta
                .iter()
                .map(|value| value.clone().unwrap_or_default()),
        );
        writer.write_record(&record).map_err(to_error)?;
    }
    writer
        .flush()
        .map_err(|error| Error::Invalid(format!("writing CSV: {error}")))?;
    Ok(())
}

/// The Parquet schema of `table`.
fn parquet_schema(table: &Table) -> Result<Type> {
    let string = |name: &str, repetition| {
        Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
            .with_repetition(repetition)
            .with_logical_type(Some(LogicalType::String))
            .build()
    };
    let double = |name: &str| {
        Type::primitive_type_builder(name, PhysicalType::DOUBLE)
            .with_repetition(Repetition::OPTIONAL)
            .build()
    };
    let mut fields = vec![
        string("id", Repetition::REQUIRED),
        string("text", Repetition::REQUIRED),
        Type::primitive_type_builder("timestamp", PhysicalType::INT64)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(Some(LogicalType::Timestamp(TimestampType {
                is_adjusted_to_u_t_c: true,
                unit: TimeUnit::MICROS,
            })))
            .build(),
        string("source", Repetition::OPTIONAL),
        string("language", Repetition::REQUIRED),
        string("sentiment", Repetition::OPTIONAL),
        double("sentiment_score"),
        Type::primitive_type_builder("topic", PhysicalType::INT64)
            .with_repetition(Repetition::OPTIONAL)
            .build(),
        string("topic_label", Repetition::OPTIONAL),
        string("author", Repetition::OPTIONAL),
        double("rating"),
    ];
    for name in &table.meta_columns {
        fields.push(string(name, Repetition::OPTIONAL));
    }
    let fields = fields
        .into_iter()
        .map(|field| field.map(Arc::new))
        .collect::<parquet::errors::Result<Vec<_>>>()
        .map_err(parquet_error)?;
    Type::group_type_builder("comment")
        .with_fields(fields)
        .build()
        .map_err(parquet_error)
}

fn parquet_error(error: parquet::errors::ParquetError) -> Error {
    Error::Invalid(format!("writing Parquet: {error}"))
}

/// Values and definition levels of one optional column.
fn optional<T: Clone>(values: impl Iterator<Item = Option<T>>) -> (Vec<T>, Vec<i16>) {
    let mut present = Vec::new();
    let mut levels = Vec::new();
    for value in values {
        levels.push(i16::from(value.is_some()));
        present.extend(value);
    }
    (present, levels)
}

/// One column's values for a row group.
enum ColumnValues {
    Strings(Vec<ByteArray>, Option<Vec<i16>>),
    Int64(Vec<i64>, Vec<i16>),
    Double(Vec<f64>, Vec<i16>),
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ColumnValues {
    ColumnValues::Strings(values.map(ByteArray::from).collect(), None)
}

fn optional_strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ColumnValues {
    let (present, levels) = optional(values.map(|value| value.map(ByteArray::from)));
    ColumnValues::Strings(present, Some(levels))
}

fn row_group_columns(table: &Table, rows: &[Row]) -> Vec<ColumnValues> {
    let mut columns = vec![
        strings(rows.iter().map(|row| row.id.as_str())),
        strings(rows.iter().map(|row| row.text.as_str())),
        {
            let (values, levels) = optional(rows.iter().map(|row| row.timestamp_micros));
            ColumnValues::Int64(values, levels)
        },
        optional_strings(rows.iter().map(|row| row.source.as_deref())),
        strings(rows.iter().map(|row| row.language.as_str())),
        optional_strings(rows.iter().map(|row| row.sentiment.as_deref())),
        {
            let (values, levels) = optional(rows.iter().map(|row| row.sentiment_score));
            ColumnValues::Double(values, levels)
        },
        {
            let (values, levels) = optional(rows.iter().map(|row| row.topic));
            ColumnValues::Int64(values, levels)
        },
        optional_strings(rows.iter().map(|row| row.topic_label.as_deref())),
        optional_strings(rows.iter().map(|row| row.author.as_deref())),
        {
            let (values, levels) = optional(rows.iter().map(|row| row.rating));
            ColumnValues::Double(values, levels)
        },
    ];
    for index in 0..table.meta_columns.len() {
        columns.push(optional_strings(
            rows.iter().map(|row| row.meta[index].as_deref()),
        ));
    }
    columns
}

/// Writes `table` to `out` as Parquet.
pub fn write_parquet<W: Write + Send>(table: &Table, out: W) -> Result<()> {
    let schema = Arc::new(parquet_schema(table)?);
    let properties = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(out, schema, properties).map_err(parquet_error)?;
    for rows in table.rows.chunks(ROW_GROUP_ROWS) {
        let mut group = writer.next_row_group().map_err(parquet_error)?;
        for values in row_group_columns(table, rows) {
            let Some(mut column) = group.next_column().map_err(parquet_error)? else {
                return Err(Error::Invalid(
                    "writing Parquet: more values than columns".to_string(),
                ));
            };
            match values {
                ColumnValues::Strings(values, levels) => column
                    .typed::<ByteArrayType>()
                    .write_batch(&values, levels.as_deref(), None),
                ColumnValues::Int64(values, levels) => {
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)
                }
                ColumnValues::Double(values, levels) => {
                    column
                        .typed::<DoubleType>()
                        .write_batch(&values, Some(&levels), None)
                }
            }
            .map_err(parquet_error)?;
            column.close().map_err(parquet_error)?;
        }
        group.close().map_err(parquet_error)?;
    }
    writer.close().map_err(parquet_error)?;
    Ok(())
}

#[cfg(test)]
mod tests;
