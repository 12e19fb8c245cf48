//! What the read commands (`search`, `topics`, `trends`) print as text: values from the workspace
//! made safe for a terminal, and text sparklines.
//!
//! Comment text, ids, sources and labels come from the input files, so they may hold escape
//! sequences (`ESC ] 0 ; title BEL` retitles a terminal, `ESC [ 1 A` moves the cursor and can
//! overwrite earlier lines) or bidirectional overrides that reorder what is shown. Every such value
//! passes [`printable`] before it is printed, on a terminal and in a pipe alike (a pipe often ends
//! in a terminal or a log viewer). JSON output needs none of this: its encoder escapes control
//! characters.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character (C0, DEL, C1) and bidirectional formatting character
/// written as a visible escape (`\u{1b}`); other text is unchanged (borrowed when nothing changes).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters of a comment's text that a listing shows.
pub const SNIPPET_CHARS: usize = 160;

/// The first [`SNIPPET_CHARS`] characters of `text` on one line, made printable.
pub fn snippet(text: &str) -> String {
    let head: String = text.chars().take(SNIPPET_CHARS).collect();
    printable(&head.replace('\n', " ")).into_owned()
}

/// The eight block characters of a text sparkline, lowest first.
const SPARK_LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `counts` as a line of block characters (▁▂▃▄▅▆▇█), scaled so that the largest count is `█`;
/// zero is `▁`.
pub fn sparkline(counts: &[u64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&count| {
            if max == 0 {
                return SPARK_LEVELS[0];
            }
            let top = (SPARK_LEVELS.len() - 1) as u64;
            let level = (count * top + max / 2) / max;
            SPARK_LEVELS[level as usize]
        })
        .collect()
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_largest_count() {
        assert_eq!(sparkline(&[0, 1, 2, 3, 4, 5, 6, 7]), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[1, 100]), "▁█");
        assert_eq!(sparkline(&[50, 100]), "▅█");
    }

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(
            printable("a\u{1b}]0;pwned\u{7}b"),
            "a\\u{1b}]0;pwned\\u{7}b"
        );
        assert_eq!(printable("\u{1b}[1Aup"), "\\u{1b}[1Aup");
        assert_eq!(printable("x\u{9b}y\u{7f}"), "x\\u{9b}y\\u{7f}");
        assert_eq!(printable("a\u{202e}b\nc\td"), "a\\u{202e}b\\u{a}c\\u{9}d");
        assert!(matches!(
            printable("Grüße, ok 👍"),
            Cow::Borrowed("Grüße, ok 👍")
        ));
    }
}
