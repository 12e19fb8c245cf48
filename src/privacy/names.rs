//! Person names in English and German text, by a first-name gazetteer and context cues.
//!
//! A name is found where
//! - a capitalised word is a known first name (`first_names.txt`, 6,232 names: the US Census 1990
//!   first names and Faker's German first names; see `PROVENANCE.md`), with the capitalised words
//!   right after it as surnames (`Anna Schmidt`, `Lena von Berg`). A first name that is also a
//!   common word (`Will`, `Mark`, `Ernst`, marked `*` in the list) counts only with a surname;
//! - a title precedes capitalised words (`Mr. Smith`, `Frau Dr. Weber`, `Herrn Yilmaz`);
//! - a cue precedes them (`my name is`, `mein Name ist`, `ich heiße`, `spoke to`, `regards,`).
//!
//! Names outside the list and without a cue are missed (measured in docs/EVALUATION.md); no
//! Rust crate offers English and German person-name recognition without a model, which is why this
//! is written here.

use std::collections::HashMap;
use std::ops::Range;

use regex::Regex;

use crate::text::is_stopword;
use crate::types::Lang;

const FIRST_NAMES: &str = include_str!("first_names.txt");

/// Words that introduce a name (lowercase, compared token by token).
const CUES: &[&[&str]] = &[
    &["my", "name", "is"],
    &["my", "name's"],
    &["call", "me"],
    &["mein", "name", "ist"],
    &["ich", "heiße"],
    &["ich", "heisse"],
    &["named"],
    &["spoke", "to"],
    &["spoke", "with"],
    &["talked", "to"],
    &["sprach", "mit"],
    &["regards"],
    &["grüße"],
    &["gruß"],
    &["sincerely"],
];

/// Titles before a name (lowercase, without a trailing period).
const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "sir",
    "herr",
    "herrn",
    "frau",
    "fräulein",
    "hr",
    "fr",
];

/// Particles inside surnames (`von der Heide`, `van Dijk`).
const PARTICLES: &[&str] = &[
    "von", "van", "de", "der", "den", "zu", "vom", "ter", "ten", "da", "di", "del",
];

/// Finds person names.
pub(crate) struct NameFinder {
    /// First name -> true when it is also a common word.
    first_names: HashMap<&'static str, bool>,
    word: Regex,
}

struct Token<'t> {
    range: Range<usize>,
    text: &'t str,
    lower: String,
}

impl NameFinder {
    pub(crate) fn new() -> NameFinder {
        let first_names = FIRST_NAMES
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| match line.strip_prefix('*') {
                Some(name) => (name, true),
                None => (line, false),
            })
            .collect();
        NameFinder {
            first_names,
            word: Regex::new(r"\p{L}[\p{L}\p{M}'’\-]*").expect("valid word pattern"),
        }
    }

    /// Byte ranges of the names in `text`.
    pub(crate) fn find(&self, text: &str) -> Vec<Range<usize>> {
        let tokens: Vec<Token> = self
            .word
            .find_iter(text)
            .map(|m| Token {
                range: m.range(),
                text: m.as_str(),
                lower: m.as_str().to_lowercase(),
            })
            .collect();
        let scan = Scan {
            text,
            tokens: &tokens,
        };
        let mut found = Vec::new();
        let mut index = 0;
        while index < tokens.len() {
            if let Some(first) = self.name_start(&scan, index) {
                let last = scan.extend_surnames(first);
                found.push(tokens[first].range.start..tokens[last].range.end);
                index = last + 1;
            } else {
                index += 1;
            }
        }
        found
    }

    /// The token where a name starts at or right after `index`, if one does.
    fn name_start(&self, scan: &Scan, index: usize) -> Option<usize> {
        let token = &scan.tokens[index];
        if TITLES.contains(&token.lower.as_str()) {
            // Titles may follow each other (`Frau Dr. Weber`).
            let mut next = index + 1;
            while next < scan.tokens.len()
                && scan.gap_is(next - 1, true)
                && TITLES.contains(&scan.tokens[next].lower.as_str())
            {
                next += 1;
            }
            if next < scan.tokens.len() && scan.gap_is(next - 1, true) && scan.surname_like(next) {
                return Some(next);
            }
        }
        for cue in CUES {
            let after = index + cue.len();
            let matches = after < scan.tokens.len()
                && cue
                    .iter()
                    .enumerate()
                    .all(|(offset, word)| scan.tokens[index + offset].lower == *word);
            if matches && scan.gap_is_cue(after - 1) && scan.surname_like(after) {
                return Some(after);
            }
        }
        if capitalised(token.text) {
            let bare = token
                .text
                .trim_end_matches("'s")
                .trim_end_matches("’s")
                .trim_end_matches(['\'', '’', '-']);
            if let Some(&also_a_word) = self.first_names.get(bare) {
                let has_surname = index + 1 < scan.tokens.len()
                    && scan.gap_is(index, false)
                    && scan.surname_like(index + 1);
                if !also_a_word || has_surname {
                    return Some(index);
                }
            }
        }
        None
    }
}

struct Scan<'a, 't> {
    text: &'t str,
    tokens: &'a [Token<'t>],
}

impl Scan<'_, '_> {
    /// The text between token `index` and the next is blanks (a period too where `period`).
    fn gap_is(&self, index: usize, period: bool) -> bool {
        let gap = &self.text[self.tokens[index].range.end..self.tokens[index + 1].range.start];
        let periods = gap.chars().filter(|&c| c == '.').count();
        !gap.is_empty()
            && gap.chars().all(|c| c == ' ' || c == '\u{a0}' || c == '.')
            && (periods == 0 || (period && periods == 1 && gap.starts_with('.')))
    }

    /// After a cue: blanks, optionally after a comma or colon (`Regards, Anna`).
    fn gap_is_cue(&self, index: usize) -> bool {
        let gap = &self.text[self.tokens[index].range.end..self.tokens[index + 1].range.start];
        let gap = gap.trim_start_matches([',', ':']);
        !gap.is_empty()
            && gap
                .trim_start_matches([' ', '\u{a0}', '\n', '\r'])
                .is_empty()
    }

    /// A capitalised word that is not a stopword or a title.
    fn surname_like(&self, index: usize) -> bool {
        let token = &self.tokens[index];
        capitalised(token.text)
            && !is_stopword(&token.lower, Lang::Other)
            && !TITLES.contains(&token.lower.as_str())
    }

    /// The last token of the name starting at `first`: up to two surnames (with particles).
    fn extend_surnames(&self, first: usize) -> usize {
        let mut last = first;
        for _ in 0..2 {
            let next = last + 1;
            if next >= self.tokens.len() || !self.gap_is(last, false) {
                break;
            }
            if self.surname_like(next) {
                last = next;
                continue;
            }
            // `von Berg`, `von der Heide`.
            let mut after = next;
            while after < self.tokens.len()
                && PARTICLES.contains(&self.tokens[after].text)
                && after + 1 < self.tokens.len()
                && self.gap_is(after, false)
            {
                after += 1;
            }
            if after > next && self.surname_like(after) {
                last = after;
                continue;
            }
            break;
        }
        last
    }
}

/// An uppercase letter followed by at least one lowercase one (not `I`, not `IBAN`).
fn capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase) && chars.any(char::is_lowercase)
}
