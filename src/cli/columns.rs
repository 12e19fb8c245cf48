//! The column flags shared by the commands that read input files (`analyze`, `eval sentiment`).

use xsignal::ingest::ColumnMap;

/// Which column (CSV/TSV) or key (JSONL) holds each field.
#[derive(clap::Args, Debug, Clone)]
pub struct ColumnArgs {
    /// Column or key holding the text.
    #[arg(long, default_value = "text")]
    pub text_col: String,
    /// Column or key holding the id.
    #[arg(long, default_value = "id")]
    pub id_col: String,
    /// Column or key holding the timestamp.
    #[arg(long, default_value = "timestamp")]
    pub time_col: String,
    /// Column or key holding the author.
    #[arg(long, default_value = "author")]
    pub author_col: String,
    /// Column or key holding the source or channel.
    #[arg(long, default_value = "source")]
    pub source_col: String,
    /// Column or key holding the language code.
    #[arg(long, default_value = "lang")]
    pub lang_col: String,
    /// Column or key holding the rating.
    #[arg(long, default_value = "rating")]
    pub rating_col: String,
    /// Read a CSV/TSV although its id or timestamp column is missing and another column looks
    /// like it (by default such a file is refused, exit 2, with the suggested flag).
    #[arg(long)]
    pub allow_missing_columns: bool,
}

impl ColumnArgs {
    /// The ingest stage's column map.
    pub fn map(&self) -> ColumnMap {
        ColumnMap {
            id: self.id_col.clone(),
            text: self.text_col.clone(),
            timestamp: self.time_col.clone(),
            author: self.author_col.clone(),
            source: self.source_col.clone(),
            lang: self.lang_col.clone(),
            rating: self.rating_col.clone(),
            allow_missing: self.allow_missing_columns,
        }
    }
}
