//! Sentence splitting for English and German comments, by rule.
//!
//! In: a comment and its [`Lang`]. Out: the byte ranges of its sentences, in order, trimmed of
//! surrounding whitespace; together they cover every non-space character of the text (of its head
//! only, when [`split_sentences_at_most`] caps the number).
//!
//! A sentence ends at a line break, or after a run of `.`, `!`, `?` or `…` (closing quotes and
//! brackets included) that is followed by whitespace and then something that can start a sentence
//! (not a lowercase letter). A period does not end a sentence after a known abbreviation of either
//! language (`e.g.`, `Dr.`, `z.B.`, `bzw.`, `Nr.` ...), after a single letter (initials,
//! `u. a.`), or after a number in German text (ordinals: `am 3. Oktober`). Written by hand because
//! the rule-based splitters of the field (Punkt, pySBD) are Python, and segmenting crates
//! (`unicode-segmentation`'s sentence bounds) split after every abbreviation.

use std::ops::Range;

use crate::types::Lang;

/// Abbreviations (lowercase, without the final period) after which a period does not end a
/// sentence. English and German lists both apply: comments mix languages.
const ABBREVIATIONS: &[&str] = &[
    // English
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "approx", "inc",
    "ltd", "co", "corp", "no", "nos", "vol", "fig", "dept", "est", "min", "max", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed",
    "thu", "fri", "sat", "sun", "a.m", "p.m", "u.s", "u.k", "ph.d", "cf", "al",
    // German
    "z.b", "bzw", "usw", "ca", "nr", "hr", "fr", "str", "evtl", "ggf", "inkl", "exkl", "u.a", "d.h",
    "s.o", "s.u", "vgl", "jh", "mio", "mrd", "tel", "zzgl", "ggü", "o.ä", "u.ä", "v.a", "z.t",
    "bspw", "sog", "geb", "abs", "bd", "dipl", "ing", "mind", "max", "okt", "dez", "mär", "u.v.m",
    "usf", "m.e", "i.d.r", "zt", "std", "stk", "eur", "ebd",
];

/// The byte ranges of the sentences of `text`.
pub fn split_sentences(text: &str, lang: Lang) -> Vec<Range<usize>> {
    split_sentences_at_most(text, lang, 0)
}

/// The byte ranges of the first `max_sentences` sentences of `text` (0: all of them); splitting
/// stops there, so a very long text costs no more than its head.
pub fn split_sentences_at_most(text: &str, lang: Lang, max_sentences: usize) -> Vec<Range<usize>> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut index = 0;
    let full =
        |sentences: &Vec<Range<usize>>| max_sentences > 0 && sentences.len() >= max_sentences;
    while index < chars.len() {
        if full(&sentences) {
            return sentences;
        }
        let (offset, c) = chars[index];
        if c == '\n' || c == '\r' {
            push_trimmed(text, start..offset, &mut sentences);
            start = offset + c.len_utf8();
            index += 1;
            continue;
        }
        if !is_terminal(c) {
            index += 1;
            continue;
        }
        // The whole run of terminal punctuation, closing quotes and brackets.
        let mut end = index;
        while end + 1 < chars.len()
            && (is_terminal(chars[end + 1].1) || is_closer(chars[end + 1].1))
        {
            end += 1;
        }
        let after = chars.get(end + 1).map_or(text.len(), |&(offset, _)| offset);
        let followed_by_space = chars.get(end + 1).is_none_or(|&(_, c)| c.is_whitespace());
        let next_word = chars[end + 1..]
            .iter()
            .find(|(_, c)| !c.is_whitespace())
            .map(|&(_, c)| c);
        let lone_period = c == '.'
            && (index..=end).all(|i| matches!(chars[i].1, '.') || is_closer(chars[i].1))
            && (index..=end).filter(|&i| chars[i].1 == '.').count() == 1;
        let ends = followed_by_space
            && next_word.is_none_or(|c| !c.is_lowercase())
            && !(lone_period && period_is_not_an_end(text, start, offset, lang));
        if ends {
            push_trimmed(text, start..after, &mut sentences);
            start = after;
        }
        index = end + 1;
    }
    if !full(&sentences) {
        push_trimmed(text, start..text.len(), &mut sentences);
    }
    sentences
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？')
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '»' | '«' | '“' | '”' | '’' | '‘'
    )
}

/// True when the period at byte `period` follows an abbreviation, an initial, or (German) a number.
fn period_is_not_an_end(text: &str, sentence_start: usize, period: usize, lang: Lang) -> bool {
    let before = &text[sentence_start..period];
    let word: &str = before
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"')
        .next()
        .unwrap_or("");
    if word.is_empty() {
        return false;
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    let mut letters = word.chars();
    if let (Some(first), None) = (letters.next(), letters.next()) {
        // A single letter: an initial ("J. Smith") or part of "u. a.".
        if first.is_alphabetic() {
            return true;
        }
    }
    lang == Lang::De && word.chars().all(|c| c.is_ascii_digit())
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let slice = &text[range.clone()];
    let leading = slice.len() - slice.trim_start().len();
    let trailing = slice.len() - slice.trim_end().len();
    if leading + trailing < slice.len() {
        out.push(range.start + leading..range.end - trailing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_keeps_the_first_sentences() {
        let text = "One. Two! Three? Four.\nFive";
        let all = split_sentences(text, Lang::En);
        assert_eq!(all.len(), 5);
        assert_eq!(split_sentences_at_most(text, Lang::En, 0), all);
        assert_eq!(
            split_sentences_at_most(text, Lang::En, 2),
            all[..2].to_vec()
        );
        assert_eq!(
            split_sentences_at_most(text, Lang::En, 4),
            all[..4].to_vec()
        );
        assert_eq!(split_sentences_at_most(text, Lang::En, 5), all);
        assert_eq!(split_sentences_at_most(text, Lang::En, 9), all);
        let long = "Short sentence here. ".repeat(10_000);
        assert_eq!(split_sentences_at_most(&long, Lang::En, 32).len(), 32);
    }

    fn split(text: &str, lang: Lang) -> Vec<&str> {
        split_sentences(text, lang)
            .into_iter()
            .map(|range| &text[range])
            .collect()
    }

    #[test]
    fn english_sentences_and_abbreviations() {
        assert_eq!(
            split(
                "Delivery was fast. But the battery died after 2 days!! Dr. Smith e.g. agreed.",
                Lang::En
            ),
            [
                "Delivery was fast.",
                "But the battery died after 2 days!!",
                "Dr. Smith e.g. agreed."
            ]
        );
        assert_eq!(
            split(
                "Version 4.2 broke it... Why? I paid $3.50 for J. R. R. Tolkien's book.",
                Lang::En
            ),
            [
                "Version 4.2 broke it...",
                "Why?",
                "I paid $3.50 for J. R. R. Tolkien's book."
            ]
        );
        // A lowercase continuation is not a new sentence.
        assert_eq!(
            split("wait... what happened", Lang::En),
            ["wait... what happened"]
        );
        // Quotes and brackets close the sentence they end.
        assert_eq!(
            split(
                "He said \"never again.\" Then he left (for good.) Done",
                Lang::En
            ),
            [
                "He said \"never again.\"",
                "Then he left (for good.)",
                "Done"
            ]
        );
    }

    #[test]
    fn german_sentences_abbreviations_and_ordinals() {
        assert_eq!(
            split(
                "Die App stürzt ab, z.B. beim Start. Seit dem 3. Oktober geht nichts mehr! Bitte beheben.",
                Lang::De
            ),
            [
                "Die App stürzt ab, z.B. beim Start.",
                "Seit dem 3. Oktober geht nichts mehr!",
                "Bitte beheben."
            ]
        );
        assert_eq!(
            split(
                "Lieferung kam nach ca. 2 Wochen bzw. zu spät. Nr. 5 fehlte u. a. auch.",
                Lang::De
            ),
            [
                "Lieferung kam nach ca. 2 Wochen bzw. zu spät.",
                "Nr. 5 fehlte u. a. auch."
            ]
        );
    }

    #[test]
    fn line_breaks_split_and_nothing_is_lost() {
        let text = "  Great support\nterrible app.  \n\n Would not buy again ";
        let ranges = split_sentences(text, Lang::En);
        let parts: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(
            parts,
            ["Great support", "terrible app.", "Would not buy again"]
        );
        let kept: String = parts.concat().split_whitespace().collect();
        let all: String = text.split_whitespace().collect();
        assert_eq!(kept, all);
    }

    #[test]
    fn edge_cases() {
        assert!(split_sentences("", Lang::En).is_empty());
        assert!(split_sentences("   \n ", Lang::En).is_empty());
        assert_eq!(split("?!", Lang::En), ["?!"]);
        assert_eq!(
            split("Ünïcödé. Ärger! 😡 Schade.", Lang::De),
            ["Ünïcödé.", "Ärger!", "😡 Schade."]
        );
    }

    proptest::proptest! {
        #[test]
        fn ranges_are_ordered_char_boundaries_covering_all_words(text in "\\PC{0,120}") {
            let ranges = split_sentences(&text, Lang::De);
            let mut last = 0;
            for range in &ranges {
                proptest::prop_assert!(range.start >= last && range.start < range.end);
                proptest::prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
                last = range.end;
            }
            let kept: String = ranges.iter().map(|r| &text[r.clone()]).collect::<String>().split_whitespace().collect();
            let all: String = text.split_whitespace().collect();
            proptest::prop_assert_eq!(kept, all);
        }
    }
}
