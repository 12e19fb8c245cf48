//! Naming the columns of a CSV header in messages: a short summary of what the header has, and
//! which column probably holds a field whose column is missing.
//!
//! The header comes from the input, so it may be huge (one 50 MB line); a message lists at most
//! [`MAX_LISTED_COLUMNS`] names, each cut short. The guess is a small rule over a list of names
//! that feedback exports commonly use for each field (`body` for the text, `posted_at` for the
//! time): an exact match of a known name, else a known name as one word of the column's name
//! (`comment_text`, `created_at_utc`).

use super::row::quoted_str;
use super::ColumnMap;

/// Most column names listed in a message.
pub(crate) const MAX_LISTED_COLUMNS: usize = 20;

/// The fields a column can be mapped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnRole {
    Id,
    Text,
    Timestamp,
    Author,
    Source,
    Lang,
    Rating,
}

impl ColumnRole {
    /// Every role but the text, whose column is required.
    pub(crate) const OPTIONAL: [ColumnRole; 6] = [
        ColumnRole::Id,
        ColumnRole::Timestamp,
        ColumnRole::Author,
        ColumnRole::Source,
        ColumnRole::Lang,
        ColumnRole::Rating,
    ];

    /// The column name `columns` gives this role.
    pub(crate) fn name_in(self, columns: &ColumnMap) -> &str {
        match self {
            ColumnRole::Id => &columns.id,
            ColumnRole::Text => &columns.text,
            ColumnRole::Timestamp => &columns.timestamp,
            ColumnRole::Author => &columns.author,
            ColumnRole::Source => &columns.source,
            ColumnRole::Lang => &columns.lang,
            ColumnRole::Rating => &columns.rating,
        }
    }

    /// The `analyze` flag that maps this role.
    /// True for the fields whose absence changes what a later, corrected run can fix: the id
    /// (derived ids include the timestamp) and the timestamp (nothing without one is trended).
    pub(crate) fn refused_when_missing(self) -> bool {
        matches!(self, ColumnRole::Id | ColumnRole::Timestamp)
    }

    /// How messages name the field.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            ColumnRole::Id => "comment id",
            ColumnRole::Text => "comment text",
            ColumnRole::Timestamp => "timestamp",
            ColumnRole::Author => "author",
            ColumnRole::Source => "source",
            ColumnRole::Lang => "language",
            ColumnRole::Rating => "rating",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            ColumnRole::Id => "--id-col",
            ColumnRole::Text => "--text-col",
            ColumnRole::Timestamp => "--time-col",
            ColumnRole::Author => "--author-col",
            ColumnRole::Source => "--source-col",
            ColumnRole::Lang => "--lang-col",
            ColumnRole::Rating => "--rating-col",
        }
    }

    /// Names (lowercase, alphanumeric) that exports commonly use for this field.
    fn known_names(self) -> &'static [&'static str] {
        match self {
            ColumnRole::Id => &[
                "id",
                "reviewid",
                "commentid",
                "postid",
                "messageid",
                "uuid",
                "key",
            ],
            ColumnRole::Text => &[
                "text",
                "body",
                "comment",
                "content",
                "message",
                "review",
                "feedback",
                "answer",
                "description",
                "post",
                "tweet",
                "remarks",
                "kommentar",
                "inhalt",
                "nachricht",
            ],
            ColumnRole::Timestamp => &[
                "timestamp",
                "postedat",
                "createdat",
                "date",
                "datetime",
                "time",
                "created",
                "posted",
                "publishedat",
                "submittedat",
                "ts",
                "datum",
                "zeit",
            ],
            ColumnRole::Author => &[
                "author", "user", "username", "userid", "authorid", "reviewer", "customer", "name",
                "autor", "nutzer",
            ],
            ColumnRole::Source => &["source", "channel", "platform", "origin", "site", "quelle"],
            ColumnRole::Lang => &["lang", "language", "locale", "sprache"],
            ColumnRole::Rating => &["rating", "stars", "score", "grade", "bewertung", "sterne"],
        }
    }
}

/// The header's names for a message: the first [`MAX_LISTED_COLUMNS`], each quoted and cut short,
/// and how many more there are.
pub(crate) fn header_summary(header: &[String]) -> String {
    let listed: Vec<String> = header
        .iter()
        .take(MAX_LISTED_COLUMNS)
        .map(|name| quoted_str(name))
        .collect();
    let mut summary = format!(
        "{} column{}: {}",
        header.len(),
        if header.len() == 1 { "" } else { "s" },
        listed.join(", ")
    );
    if header.len() > MAX_LISTED_COLUMNS {
        summary.push_str(&format!(
            ", ... ({} more)",
            header.len() - MAX_LISTED_COLUMNS
        ));
    }
    summary
}

/// Lowercase letters and digits of `name`, in words (split at anything else).
fn words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The column of `header` that most probably holds `role`'s field: one whose name (letters and
/// digits, lowercase) is a known name of the field, else one with a known name as a word.
fn likely_column(header: &[String], role: ColumnRole) -> Option<&str> {
    let known = role.known_names();
    let exact = header.iter().find(|name| {
        let joined: String = words(name).concat();
        known.contains(&joined.as_str())
    });
    let by_word = || {
        header.iter().find(|name| {
            words(name)
                .iter()
                .any(|word| known.contains(&word.as_str()))
        })
    };
    exact.or_else(by_word).map(String::as_str)
}

/// A hint naming the column that probably holds `role`'s field and the flag that maps it.
pub(crate) fn missing_column_hint(header: &[String], role: ColumnRole) -> Option<String> {
    let column = likely_column(header, role)?;
    Some(format!(
        "column {} looks like it: map it with {} {}",
        quoted_str(column),
        role.flag(),
        quoted_str(column)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn likely_columns_of_a_typical_export() {
        let names = header(&["review_id", "Body", "posted_at", "user", "channel", "stars"]);
        assert_eq!(likely_column(&names, ColumnRole::Text), Some("Body"));
        assert_eq!(
            likely_column(&names, ColumnRole::Timestamp),
            Some("posted_at")
        );
        assert_eq!(likely_column(&names, ColumnRole::Id), Some("review_id"));
        assert_eq!(likely_column(&names, ColumnRole::Author), Some("user"));
        assert_eq!(likely_column(&names, ColumnRole::Source), Some("channel"));
        assert_eq!(likely_column(&names, ColumnRole::Rating), Some("stars"));
        assert_eq!(likely_column(&names, ColumnRole::Lang), None);
        let words_only = header(&["x", "comment_text_clean"]);
        assert_eq!(
            likely_column(&words_only, ColumnRole::Text),
            Some("comment_text_clean")
        );
        let hint = missing_column_hint(&names, ColumnRole::Text).unwrap();
        assert_eq!(
            hint,
            "column \"Body\" looks like it: map it with --text-col \"Body\""
        );
    }

    #[test]
    fn summary_is_bounded() {
        let huge: Vec<String> = (0..5_000)
            .map(|i| format!("{}{i}", "c".repeat(1_000)))
            .collect();
        let summary = header_summary(&huge);
        assert!(summary.len() < 2_000, "{}", summary.len());
        assert!(summary.starts_with("5000 columns: "), "{summary}");
        assert!(summary.ends_with(", ... (4980 more)"), "{summary}");
        assert_eq!(header_summary(&header(&["a"])), "1 column: \"a\"");
    }
}
