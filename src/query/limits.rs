//! Bounds on a search request: how long and how deeply nested the query text may be, and how many
//! hits are collected.
//!
//! tantivy's query grammar backtracks: each level of nested parentheses about doubles the parse
//! time (timing `QueryParser::parse_query` on `((...battery...))` in a release build: 0.18 ms at
//! depth 6, 1.2 ms at 10, 80 ms at 14, 0.63 s at 18), and its top-k collector allocates room for
//! `limit` hits up front (a limit of 10^12 asks for terabytes, one of 2^62 overflows). Queries
//! past these bounds are refused with [`Error::QueryRefused`] before they reach the parser; the
//! limit is clamped to the number of documents. So is the one input the property test found that
//! makes the grammar panic: a `-` or `+` and a space before a lone `*` (`- *`).

use crate::error::{Error, Result};

/// Longest query text, in bytes.
pub const MAX_QUERY_BYTES: usize = 1_000;

/// Deepest nesting of parentheses in a query.
pub const MAX_QUERY_DEPTH: usize = 6;

/// Most hits one search returns, whatever the limit asked.
pub const MAX_HITS: usize = 100_000;

/// Refuses query text longer than [`MAX_QUERY_BYTES`] or nested deeper than [`MAX_QUERY_DEPTH`].
/// Parentheses inside `"phrases"` and escaped ones (`\(`) do not count.
pub(crate) fn check_query_text(text: &str) -> Result<()> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(Error::QueryRefused(format!(
            "the query is {} bytes long, over the limit of {MAX_QUERY_BYTES}",
            text.len()
        )));
    }
    let depth = nesting_depth(text);
    if depth > MAX_QUERY_DEPTH {
        return Err(Error::QueryRefused(format!(
            "the query nests parentheses {depth} deep, over the limit of {MAX_QUERY_DEPTH}"
        )));
    }
    if has_signed_lone_star(text) {
        return Err(Error::QueryRefused(
            "a lone * after - or + and a space cannot be parsed (remove the space or the *)"
                .to_string(),
        ));
    }
    Ok(())
}

/// Characters that end a word in tantivy's query grammar, besides whitespace.
const ENDS_WORD: &[char] = &['^', '`', ':', '{', '}', '"', '\'', '[', ']', '(', ')', '\\'];

/// True when, outside phrases, a `-` or `+` is followed by whitespace and then a `*` that ends
/// there (whitespace, a word-ending character or the end of the text follows).
/// tantivy-query-grammar 0.25 panics on that ("Exist query without a field").
fn has_signed_lone_star(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut in_phrase = false;
    for (index, &c) in chars.iter().enumerate() {
        if c == '"' {
            in_phrase = !in_phrase;
        }
        if in_phrase || !matches!(c, '-' | '+') {
            continue;
        }
        let spaces = chars[index + 1..]
            .iter()
            .take_while(|c| c.is_whitespace())
            .count();
        let star = index + 1 + spaces;
        let lone_star = chars.get(star) == Some(&'*')
            && chars
                .get(star + 1)
                .is_none_or(|next| next.is_whitespace() || ENDS_WORD.contains(next));
        if spaces > 0 && lone_star {
            return true;
        }
    }
    false
}

/// The deepest nesting of parentheses outside phrases; unbalanced closing ones are ignored.
fn nesting_depth(text: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_phrase = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => in_phrase = !in_phrase,
            '(' if !in_phrase => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' if !in_phrase => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// How many hits to collect for `limit` over an index of `documents` documents: at most the
/// documents there are and at most [`MAX_HITS`].
pub(crate) fn hits_to_collect(limit: usize, documents: u64) -> usize {
    let documents = usize::try_from(documents).unwrap_or(usize::MAX);
    limit.min(documents).min(MAX_HITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_parentheses_outside_phrases() {
        assert_eq!(nesting_depth("a AND b"), 0);
        assert_eq!(nesting_depth("(a OR (b AND c)) OR (d)"), 2);
        assert_eq!(nesting_depth("\"((((\" AND (x)"), 1);
        assert_eq!(nesting_depth("\\(\\(\\( a"), 0);
        assert_eq!(nesting_depth("))) ((a"), 2);
    }

    #[test]
    fn long_or_deep_queries_are_refused() {
        let deep = format!("{}a{}", "(".repeat(24), ")".repeat(24));
        let error = check_query_text(&deep).unwrap_err();
        assert!(matches!(error, Error::QueryRefused(_)));
        assert!(error.to_string().contains("24 deep"), "{error}");
        let nested_ok = format!(
            "{}a{}",
            "(".repeat(MAX_QUERY_DEPTH),
            ")".repeat(MAX_QUERY_DEPTH)
        );
        check_query_text(&nested_ok).unwrap();
        let long = "word ".repeat(MAX_QUERY_BYTES);
        let error = check_query_text(&long).unwrap_err();
        assert!(error.to_string().contains("bytes long"), "{error}");
        // The message never quotes the query.
        assert!(!error.to_string().contains("word"), "{error}");
    }

    #[test]
    fn signed_lone_stars_are_refused() {
        for query in ["- *", "a - *", "+ *", "-\n*", "(- *)", "- *(", "a -\t* b"] {
            assert!(has_signed_lone_star(query), "{query:?}");
            assert!(check_query_text(query).is_err(), "{query:?}");
        }
        for query in ["-*", "- *x", "-a *", "\"- *\"", "a -b", "*", "a*"] {
            assert!(!has_signed_lone_star(query), "{query:?}");
        }
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(hits_to_collect(20, 1_000), 20);
        assert_eq!(hits_to_collect(1_000_000_000_000, 7), 7);
        assert_eq!(hits_to_collect(usize::MAX, 0), 0);
        assert_eq!(hits_to_collect(1 << 62, u64::MAX), MAX_HITS);
    }
}
