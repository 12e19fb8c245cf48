//! Generated query text for the query parser: no panic, and text past the bounds of `limits.rs`
//! is refused as [`Error::QueryRefused`]. See [`crate::fuzz`] for the case count.

use proptest::prelude::*;

use super::*;
use crate::error::Error;
use crate::fuzz;

const QUERY_PIECES: &[&[u8]] = &[
    b"(",
    b")",
    b"(",
    b")",
    b"\"",
    b" ",
    b" ",
    b"AND ",
    b"OR ",
    b"NOT ",
    b"-",
    b"+",
    b"*",
    b"battery",
    b"akku",
    b"text_en:",
    b"source:",
    b"topic:",
    b"lang:",
    b"nosuch:",
    b"[",
    b"]",
    b"{",
    b"}",
    b" TO ",
    b"~2",
    b"^2",
    b"\\",
    b":",
    b"'",
    b"IN ",
    b"1",
    b"\xc3\xa4",
    b"\0",
];

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn query_parser_never_panics(raw in fuzz::pieces(QUERY_PIECES, 24)) {
        thread_local! {
            static INDEX: (tantivy::Index, Fields) = {
                let index = tantivy::Index::create_in_ram(crate::index::schema());
                crate::index::register_tokenizers(&index);
                let fields = Fields::resolve(&index.schema()).expect("the schema has every field");
                (index, fields)
            };
        }
        let text = String::from_utf8_lossy(&raw);
        INDEX.with(|(index, fields)| {
            match parse_text_query(index, &text_parser(index, fields), text.trim()) {
                Ok(_) | Err(Error::Query(_)) => Ok(()),
                Err(Error::QueryRefused(message)) => {
                    prop_assert!(limits::check_query_text(text.trim()).is_err(), "{}", message);
                    Ok(())
                }
                Err(other) => Err(TestCaseError::fail(format!("unexpected error {other}"))),
            }
        })?;
    }
}
