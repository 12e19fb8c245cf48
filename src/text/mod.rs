//! Language-aware text helpers shared by the stages: word tokens, stopwords, stemming, normalisation.
//!
//! In: comment text and its [`Lang`]. Out: lowercase word tokens, stems, and a normalised form used
//! to recognise exact duplicates. All offsets are byte offsets into the original `&str`.

use std::collections::HashSet;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::types::Lang;

mod sentences;

pub use sentences::{split_sentences, split_sentences_at_most};

static STOP_EN: OnceLock<HashSet<&'static str>> = OnceLock::new();
static STOP_DE: OnceLock<HashSet<&'static str>> = OnceLock::new();

fn stop_en() -> &'static HashSet<&'static str> {
    STOP_EN.get_or_init(|| {
        include_str!("stopwords_en.txt")
            .split_whitespace()
            .collect()
    })
}

fn stop_de() -> &'static HashSet<&'static str> {
    STOP_DE.get_or_init(|| {
        include_str!("stopwords_de.txt")
            .split_whitespace()
            .collect()
    })
}

/// True when `word` (lowercase) is a stopword of `lang`. For `Other`, both lists apply.
///
/// English stopwords are also applied to German text and vice versa, because mixed-language
/// comments are common and a stopword of either language never makes a useful key phrase.
pub fn is_stopword(word: &str, _lang: Lang) -> bool {
    stop_en().contains(word) || stop_de().contains(word)
}

/// Splits `text` into lowercase word tokens (letters and digits; inner apostrophes and hyphens kept),
/// with their byte offsets in `text`.
pub fn word_spans(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((index, ch)) = chars.next() {
        let is_word_char = ch.is_alphanumeric();
        let is_joiner = (ch == '\'' || ch == '-' || ch == '’')
            && start.is_some()
            && chars.peek().is_some_and(|(_, next)| next.is_alphanumeric());
        if is_word_char || is_joiner {
            if start.is_none() {
                start = Some(index);
            }
        } else if let Some(begin) = start.take() {
            out.push((
                begin,
                index,
                text[begin..index].to_lowercase().replace('’', "'"),
            ));
        }
    }
    if let Some(begin) = start {
        out.push((
            begin,
            text.len(),
            text[begin..].to_lowercase().replace('’', "'"),
        ));
    }
    out
}

/// Lowercase word tokens of `text`.
pub fn words(text: &str) -> Vec<String> {
    word_spans(text)
        .into_iter()
        .map(|(_, _, word)| word)
        .collect()
}

/// A stemmer for one language; `Other` leaves words unchanged.
pub struct LangStemmer {
    en: Stemmer,
    de: Stemmer,
}

impl Default for LangStemmer {
    fn default() -> Self {
        LangStemmer {
            en: Stemmer::create(Algorithm::English),
            de: Stemmer::create(Algorithm::German),
        }
    }
}

impl LangStemmer {
    /// Stems one lowercase word.
    pub fn stem(&self, word: &str, lang: Lang) -> String {
        match lang {
            Lang::En => self.en.stem(word).into_owned(),
            Lang::De => self.de.stem(word).into_owned(),
            Lang::Other => word.to_string(),
        }
    }
}

/// True when the word at `start..end` of `text` is a placeholder of redacted personal data: an
/// uppercase ASCII word in square brackets (`[EMAIL]`, `[NAME]`, see [`crate::privacy`]).
pub fn is_placeholder(text: &str, start: usize, end: usize) -> bool {
    let word = &text[start..end];
    start > 0
        && text[..start].ends_with('[')
        && text[end..].starts_with(']')
        && word
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte == b'_')
}

/// Content words of `text`: lowercase tokens that are not stopwords, not pure numbers, not
/// placeholders of redacted personal data, and at least two characters long, each paired with its
/// stem.
pub fn content_terms(text: &str, lang: Lang, stemmer: &LangStemmer) -> Vec<(String, String)> {
    word_spans(text)
        .into_iter()
        .filter(|(start, end, _)| !is_placeholder(text, *start, *end))
        .map(|(_, _, word)| word)
        .filter(|word| word.chars().count() >= 2)
        .filter(|word| !word.chars().all(|c| c.is_numeric()))
        .filter(|word| !is_stopword(word, lang))
        .map(|word| {
            let stem = stemmer.stem(&word, lang);
            (word, stem)
        })
        .collect()
}

/// Normalises text for exact-duplicate detection: lowercase, words only, single spaces.
/// Punctuation, emoji, case and whitespace differences do not make two texts different.
pub fn normalize_for_dedup(text: &str) -> String {
    words(text).join(" ")
}

/// The text without links (`http://...`, `https://...`, `www....`): their fragments ("co" of
/// `t.co`) are not content.
pub fn strip_links(text: &str) -> String {
    text.split_whitespace()
        .filter(|token| {
            let lower = token.to_ascii_lowercase();
            !(lower.contains("http://") || lower.contains("https://") || lower.starts_with("www."))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Exact duplicates after normalisation: `duplicate_of[i]` is the index of the first text with
/// the same normalised text as text `i`, or `None` for the first one (and for empty ones).
pub fn exact_duplicates(texts: &[&str]) -> Vec<Option<usize>> {
    use rayon::prelude::*;
    let normalised: Vec<String> = texts
        .par_iter()
        .map(|text| normalize_for_dedup(text))
        .collect();
    let mut first: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(texts.len());
    normalised
        .iter()
        .enumerate()
        .map(|(index, text)| {
            if text.is_empty() {
                return None;
            }
            match first.get(text.as_str()) {
                Some(&original) => Some(original),
                None => {
                    first.insert(text.as_str(), index);
                    None
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_spans_are_byte_offsets() {
        let text = "Grüße, Welt! don't";
        let spans = word_spans(text);
        assert_eq!(spans.len(), 3);
        assert_eq!(&text[spans[0].0..spans[0].1], "Grüße");
        assert_eq!(spans[0].2, "grüße");
        assert_eq!(spans[2].2, "don't");
    }

    #[test]
    fn stopword_lists_match_their_provenance() {
        use sha2::{Digest, Sha256};
        let provenance = include_str!("PROVENANCE.md");
        for (name, text) in [
            ("stopwords_en.txt", include_str!("stopwords_en.txt")),
            ("stopwords_de.txt", include_str!("stopwords_de.txt")),
        ] {
            let digest = crate::hex::encode(&Sha256::digest(text.as_bytes()));
            let row = provenance
                .lines()
                .find(|line| line.contains(name))
                .expect("listed in PROVENANCE.md");
            assert!(
                row.contains(&digest),
                "{name}: sha256 {digest} is not the one in PROVENANCE.md"
            );
            let words = text.split_whitespace().count();
            assert!(
                row.contains(&format!("| {words} |")),
                "{name}: {words} words"
            );
        }
    }

    #[test]
    fn stopwords_cover_both_languages() {
        assert!(is_stopword("the", Lang::En));
        assert!(is_stopword("und", Lang::De));
        assert!(!is_stopword("battery", Lang::En));
    }

    #[test]
    fn content_terms_are_stemmed_per_language() {
        let stemmer = LangStemmer::default();
        let en = content_terms("The batteries are draining", Lang::En, &stemmer);
        assert_eq!(
            en,
            vec![
                ("batteries".into(), "batteri".into()),
                ("draining".into(), "drain".into())
            ]
        );
        let de = content_terms("Die Akkus sind leer", Lang::De, &stemmer);
        assert_eq!(de[0].1, "akkus");
    }

    #[test]
    fn placeholders_are_not_content() {
        let stemmer = LangStemmer::default();
        let terms = content_terms(
            "[NAME] sent [EMAIL] twice, email broken",
            Lang::En,
            &stemmer,
        );
        let words: Vec<&str> = terms.iter().map(|(word, _)| word.as_str()).collect();
        assert_eq!(words, vec!["sent", "twice", "email", "broken"]);
    }

    #[test]
    fn dedup_normalisation_ignores_case_and_punctuation() {
        assert_eq!(
            normalize_for_dedup("Great app!!! 😀"),
            normalize_for_dedup("great   APP")
        );
    }
}
