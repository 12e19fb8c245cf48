//! Near-duplicate grouping for the trend counts.
//!
//! In: the comments in time order (with the exact-duplicate marks computed upstream). Out: for each
//! comment, whether it is a copy of an earlier one and must not be counted again. Three layers:
//! exact duplicates (`duplicate_of`), a canonical form that ignores case, punctuation, emoji and drops
//! every token containing a digit (spam templates vary numbers and codes), and a 64-bit SimHash over word
//! bigrams with LSH banding for texts that differ in a word or two.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_64;

/// Settings of the near-duplicate detector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NearDupSettings {
    /// Largest Hamming distance between two SimHashes that still counts as a near-duplicate.
    pub max_hamming: u32,
    /// Texts with fewer canonical tokens than this are only compared exactly.
    pub min_tokens: usize,
}

/// Number of earlier texts compared in one LSH bucket (bounds the work on very common bands).
const MAX_BAND_CANDIDATES: usize = 64;

/// Canonical tokens: lowercase words without any token that contains a digit (numbers, prices,
/// discount codes).
pub(crate) fn canonical_tokens(text: &str) -> Vec<String> {
    crate::text::words(text)
        .into_iter()
        .filter(|word| !word.chars().any(|c| c.is_numeric()))
        .collect()
}

/// 64-bit SimHash over word bigrams (unigrams when the text has a single token).
pub(crate) fn simhash(tokens: &[String]) -> u64 {
    let mut weights = [0i32; 64];
    let mut add = |feature: u64| {
        for (bit, weight) in weights.iter_mut().enumerate() {
            if feature >> bit & 1 == 1 {
                *weight += 1;
            } else {
                *weight -= 1;
            }
        }
    };
    if tokens.len() < 2 {
        for token in tokens {
            add(xxh3_64(token.as_bytes()));
        }
    } else {
        for pair in tokens.windows(2) {
            let joined = format!("{} {}", pair[0], pair[1]);
            add(xxh3_64(joined.as_bytes()));
        }
    }
    weights.iter().enumerate().fold(
        0u64,
        |acc, (bit, weight)| if *weight > 0 { acc | 1 << bit } else { acc },
    )
}

/// Marks near-duplicates. `texts` and `exact_duplicate` are in time order; the result is true for
/// every comment that repeats an earlier one (exactly, canonically or by SimHash).
pub(crate) fn mark_duplicates(
    texts: &[&str],
    exact_duplicate: &[bool],
    settings: NearDupSettings,
) -> Vec<bool> {
    debug_assert_eq!(texts.len(), exact_duplicate.len());
    let mut is_duplicate = vec![false; texts.len()];
    let mut canonical_seen: HashMap<String, usize> = HashMap::new();
    let mut bands: HashMap<(u8, u16), Vec<u64>> = HashMap::new();
    for (position, text) in texts.iter().enumerate() {
        if exact_duplicate[position] {
            is_duplicate[position] = true;
            continue;
        }
        let tokens = canonical_tokens(text);
        let canonical = tokens.join(" ");
        if canonical_seen.contains_key(&canonical) {
            is_duplicate[position] = true;
            continue;
        }
        canonical_seen.insert(canonical, position);
        if tokens.len() < settings.min_tokens {
            continue;
        }
        let hash = simhash(&tokens);
        let mut near = false;
        for band in 0..4u8 {
            let key = (band, (hash >> (16 * band as u32)) as u16);
            if let Some(candidates) = bands.get(&key) {
                near = candidates
                    .iter()
                    .rev()
                    .take(MAX_BAND_CANDIDATES)
                    .any(|other| (other ^ hash).count_ones() <= settings.max_hamming);
                if near {
                    break;
                }
            }
        }
        if near {
            is_duplicate[position] = true;
            continue;
        }
        for band in 0..4u8 {
            let key = (band, (hash >> (16 * band as u32)) as u16);
            bands.entry(key).or_default().push(hash);
        }
    }
    is_duplicate
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: NearDupSettings = NearDupSettings {
        max_hamming: 3,
        min_tokens: 5,
    };

    #[test]
    fn spam_variants_are_near_duplicates() {
        let texts = [
            "Unbelievable. 80% discount on LED strips - shop at example.store now",
            "✨ UNBELIEVABLE!!1 35% DISCOUNT ON LED STRIPS - SHOP AT EXAMPLE.STORE NOW",
            "unbelievable 15 % discount on led strips, shop at example.store now 🤑",
            "the battery drains overnight since the last update",
        ];
        let marks = mark_duplicates(&texts, &[false; 4], SETTINGS);
        assert_eq!(marks, vec![false, true, true, false]);
    }

    #[test]
    fn simhash_is_close_for_one_changed_word_in_long_text() {
        let a = canonical_tokens(
            "the app keeps crashing when I open the settings page after the latest update on my phone today",
        );
        let b = canonical_tokens(
            "the app keeps crashing when I open the settings page after the latest update on my tablet today",
        );
        let c =
            canonical_tokens("delivery was late and the parcel arrived damaged again this week");
        let close = (simhash(&a) ^ simhash(&b)).count_ones();
        let far = (simhash(&a) ^ simhash(&c)).count_ones();
        assert!(close < far, "close {close} far {far}");
    }
}
