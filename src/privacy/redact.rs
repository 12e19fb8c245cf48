//! The redactor: finds personal data in a text and replaces each finding by a typed placeholder.
//!
//! Patterns are regular expressions (the `regex` crate); a candidate is kept only when its
//! validator agrees: the IBAN checksum (ISO 13616, mod 97), the Luhn digit of a card number, the
//! digit count of a phone number, the parse of an IPv6 address, a credential or token in a URL.
//! Names come from [`super::names`]. Overlapping findings are resolved leftmost-longest.

use std::ops::Range;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::names::NameFinder;

/// A kind of personal data the redactor finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// E-mail addresses.
    Email,
    /// Phone numbers, international and national (German and North American formats).
    Phone,
    /// IBANs with a valid mod-97 checksum.
    Iban,
    /// Payment card numbers with a valid Luhn digit.
    Card,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// URLs carrying credentials (`user:pass@`) or tokens (`token=`, `key=`, `sig=`, ...).
    UrlSecret,
    /// Social-media handles (`@name`).
    Handle,
    /// Person names (English and German).
    Name,
}

impl PiiKind {
    /// Every kind, in placeholder order.
    pub const ALL: [PiiKind; 8] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Ip,
        PiiKind::UrlSecret,
        PiiKind::Handle,
        PiiKind::Name,
    ];

    /// The placeholder that replaces a finding in the stored text.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Card => "[CARD]",
            PiiKind::Ip => "[IP]",
            PiiKind::UrlSecret => "[URL]",
            PiiKind::Handle => "[HANDLE]",
            PiiKind::Name => "[NAME]",
        }
    }

    /// The name used in the config, the summary and the report (`email`, `url_secret`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Iban => "iban",
            PiiKind::Card => "card",
            PiiKind::Ip => "ip",
            PiiKind::UrlSecret => "url_secret",
            PiiKind::Handle => "handle",
            PiiKind::Name => "name",
        }
    }

    /// Position in [`PiiKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One finding: byte offsets into the original text and its kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// What was found.
    pub kind: PiiKind,
}

/// Finds and replaces the configured kinds of personal data.
pub struct Redactor {
    enabled: [bool; 8],
    email: Regex,
    url: Regex,
    iban: Regex,
    card: Regex,
    phone: Regex,
    ipv4: Regex,
    ipv6: Regex,
    handle: Regex,
    names: NameFinder,
}

/// Query parameters whose value is a secret (compared lowercase; names containing `token`,
/// `secret` or `passw` count too).
const SECRET_PARAMETERS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "sig",
    "signature",
    "pwd",
    "pass",
    "auth",
    "code",
    "session",
    "sessionid",
    "sid",
    "x-amz-signature",
    "x-amz-credential",
];

impl Redactor {
    /// A redactor for `kinds` (an empty list redacts nothing).
    pub fn new(kinds: &[PiiKind]) -> Redactor {
        let mut enabled = [false; 8];
        for kind in kinds {
            enabled[kind.index()] = true;
        }
        let compile = |pattern: &str| Regex::new(pattern).expect("valid redaction pattern");
        Redactor {
            enabled,
            email: compile(
                r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}",
            ),
            url: compile(r#"(?i)\b(?:https?|ftp)://[^\s<>"'`{}|\\^\[\]]+"#),
            iban: compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}"),
            card: compile(r"\b[1-6][0-9](?:[ \-]?[0-9]){10,17}"),
            phone: compile(concat!(
                r"(?:(?:\+|\b00)[1-9][0-9]{0,2}(?:[ .\-/]?\(0\))?[ .\-/]?\(?[0-9]{1,5}\)?(?:[ .\-/]?[0-9]{2,}){1,4}",
                r"|\(0[0-9]{1,5}\)[ .\-/]?[0-9]{3,}(?:[ \-]?[0-9]{2,}){0,3}",
                r"|\b0[0-9]{2,5}(?:[ .\-/][0-9]{2,}){1,4}",
                r"|\b0[0-9]{5,14}",
                r"|(?:\b1[ .\-])?(?:\([0-9]{3}\)|\b[0-9]{3})[ .\-]?[0-9]{3}[ .\-][0-9]{4})",
                r"(?:[ ]?(?:x|ext\.?|Durchwahl|DW)[ ]?[0-9]{1,5})?",
            )),
            ipv4: compile(
                r"\b(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}\b",
            ),
            ipv6: compile(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}"),
            handle: compile(r"@[A-Za-z0-9_]{2,30}"),
            names: NameFinder::new(),
        }
    }

    /// True when `kind` is redacted.
    pub fn is_enabled(&self, kind: PiiKind) -> bool {
        self.enabled[kind.index()]
    }

    /// The findings in `text`, sorted and non-overlapping.
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut candidates: Vec<Finding> = Vec::new();
        let mut add = |kind: PiiKind, ranges: Vec<Range<usize>>| {
            if self.is_enabled(kind) {
                candidates.extend(ranges.into_iter().map(|range| Finding {
                    start: range.start,
                    end: range.end,
                    kind,
                }));
            }
        };
        add(PiiKind::UrlSecret, self.secret_urls(text));
        add(PiiKind::Email, self.emails(text));
        add(PiiKind::Iban, self.ibans(text));
        add(PiiKind::Card, self.cards(text));
        add(PiiKind::Ip, self.ips(text));
        add(PiiKind::Phone, self.phones(text));
        add(PiiKind::Handle, self.handles(text));
        if self.is_enabled(PiiKind::Name) {
            add(PiiKind::Name, self.names.find(text));
        }
        // Leftmost first, then longest, then the kind listed first.
        candidates
            .sort_by_key(|finding| (finding.start, std::cmp::Reverse(finding.end), finding.kind));
        let mut kept: Vec<Finding> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            if kept.last().is_none_or(|last| candidate.start >= last.end) {
                kept.push(candidate);
            }
        }
        kept
    }

    /// `text` with every finding replaced by its placeholder, and the findings (offsets into `text`).
    pub fn redact(&self, text: &str) -> (String, Vec<Finding>) {
        let findings = self.find(text);
        if findings.is_empty() {
            return (text.to_string(), findings);
        }
        let mut redacted = String::with_capacity(text.len());
        let mut position = 0;
        for finding in &findings {
            redacted.push_str(&text[position..finding.start]);
            redacted.push_str(finding.kind.placeholder());
            position = finding.end;
        }
        redacted.push_str(&text[position..]);
        (redacted, findings)
    }

    fn emails(&self, text: &str) -> Vec<Range<usize>> {
        self.email.find_iter(text).map(|m| m.range()).collect()
    }

    fn secret_urls(&self, text: &str) -> Vec<Range<usize>> {
        self.url
            .find_iter(text)
            .filter_map(|m| {
                let url = m
                    .as_str()
                    .trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
                url_has_secret(url).then(|| m.start()..m.start() + url.len())
            })
            .collect()
    }

    fn ibans(&self, text: &str) -> Vec<Range<usize>> {
        self.iban
            .find_iter(text)
            .filter_map(|m| {
                // The pattern may run into a following word: take the longest valid prefix that
                // ends at a word boundary.
                longest_valid_prefix(text, m.range(), |compact| {
                    (15..=34).contains(&compact.len()) && iban_checksum_valid(compact)
                })
            })
            .collect()
    }

    fn cards(&self, text: &str) -> Vec<Range<usize>> {
        self.card
            .find_iter(text)
            .filter(|m| !preceded_by(text, m.start(), |c| c == '+' || c.is_alphanumeric()))
            .filter_map(|m| {
                longest_valid_prefix(text, m.range(), |digits| {
                    card_number_plausible(digits) && luhn_valid(digits)
                })
            })
            .collect()
    }

    fn ips(&self, text: &str) -> Vec<Range<usize>> {
        let mut found: Vec<Range<usize>> = self
            .ipv4
            .find_iter(text)
            .filter(|m| {
                !preceded_by(text, m.start(), |c| c == '.' || c.is_alphanumeric())
                    && !followed_by(text, m.end(), |c| c.is_alphanumeric())
                    && !dot_then(text, m.end(), |c| c.is_ascii_digit())
            })
            .map(|m| m.range())
            .collect();
        found.extend(
            self.ipv6
                .find_iter(text)
                .filter(|m| {
                    m.as_str().chars().filter(|c| c.is_ascii_hexdigit()).count() >= 2
                        && !preceded_by(text, m.start(), |c| c.is_alphanumeric() || c == ':')
                        && !followed_by(text, m.end(), |c| c.is_alphanumeric() || c == ':')
                        && m.as_str().parse::<std::net::Ipv6Addr>().is_ok()
                })
                .map(|m| m.range()),
        );
        found
    }

    fn phones(&self, text: &str) -> Vec<Range<usize>> {
        self.phone
            .find_iter(text)
            .filter(|m| {
                !preceded_by(text, m.start(), |c| {
                    c.is_alphanumeric() || c == '.' || c == '-'
                }) && !followed_by(text, m.end(), |c| c.is_ascii_digit())
            })
            .filter(|m| {
                // The digits before an extension: a real number has 7 to 15.
                let number = m.as_str().split(['x', 'e', 'D']).next().unwrap_or_default();
                let digits = number.chars().filter(|c| c.is_ascii_digit()).count();
                (7..=15).contains(&digits)
            })
            .map(|m| m.range())
            .collect()
    }

    fn handles(&self, text: &str) -> Vec<Range<usize>> {
        self.handle
            .find_iter(text)
            .filter(|m| {
                let name = &m.as_str()[1..];
                !preceded_by(text, m.start(), |c| {
                    c.is_alphanumeric() || matches!(c, '.' | '@' | '/' | '_' | '-' | '+')
                }) && !followed_by(text, m.end(), |c| c == '@')
                    && !dot_then(text, m.end(), char::is_alphanumeric)
                    && name.chars().any(|c| c.is_ascii_alphabetic())
            })
            .map(|m| m.range())
            .collect()
    }
}

/// True when the character before `position` passes `test`.
fn preceded_by(text: &str, position: usize, test: impl Fn(char) -> bool) -> bool {
    text[..position].chars().next_back().is_some_and(test)
}

/// True when the character at `position` passes `test`.
fn followed_by(text: &str, position: usize, test: impl Fn(char) -> bool) -> bool {
    text.get(position..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(test)
}

/// True when a period is at `position` and the character after it passes `test` (`1.2.3.4.5`,
/// `@name.com`).
fn dot_then(text: &str, position: usize, test: impl Fn(char) -> bool) -> bool {
    text[position..].starts_with('.') && followed_by(text, position + 1, test)
}

/// The longest prefix of `range` that ends after an alphanumeric character, is not followed by
/// one, and whose alphanumeric characters (spaces and hyphens removed) pass `valid`.
fn longest_valid_prefix(
    text: &str,
    range: Range<usize>,
    valid: impl Fn(&str) -> bool,
) -> Option<Range<usize>> {
    let candidate = &text[range.clone()];
    let mut ends: Vec<(usize, String)> = Vec::new();
    let mut compact = String::new();
    for (offset, ch) in candidate.char_indices() {
        if ch.is_ascii_alphanumeric() {
            compact.push(ch);
            ends.push((range.start + offset + ch.len_utf8(), compact.clone()));
        }
    }
    ends.into_iter()
        .rev()
        .find(|(end, compact)| !followed_by(text, *end, |c| c.is_alphanumeric()) && valid(compact))
        .map(|(end, _)| range.start..end)
}

/// ISO 13616: the first four characters moved to the end, letters as 10..35, mod 97 == 1.
pub(crate) fn iban_checksum_valid(compact: &str) -> bool {
    if compact.len() < 5 || !compact.is_ascii() {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u32 = 0;
    for ch in tail.chars().chain(head.chars()) {
        let value = match ch.to_digit(36) {
            Some(value) => value,
            None => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// A length and prefix that card networks issue: 13 to 19 digits starting with 2 to 6 (Visa,
/// Mastercard, Amex, Diners, Discover, JCB, UnionPay, Maestro), 12 for Maestro (50, 56 to 69), 15
/// for the old JCB prefix 1800.
fn card_number_plausible(digits: &str) -> bool {
    let maestro = digits.starts_with("50")
        || digits.starts_with('6')
        || ["56", "57", "58", "59"]
            .iter()
            .any(|prefix| digits.starts_with(prefix));
    match digits.len() {
        12 => maestro,
        15 if digits.starts_with("1800") => true,
        13..=19 => !digits.starts_with('1'),
        _ => false,
    }
}

/// The Luhn check of a digit string.
pub(crate) fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (position, ch) in digits.chars().rev().enumerate() {
        let Some(mut digit) = ch.to_digit(10) else {
            return false;
        };
        if position % 2 == 1 {
            digit *= 2;
            if digit > 9 {
                digit -= 9;
            }
        }
        sum += digit;
    }
    sum.is_multiple_of(10)
}

/// True when `url` carries credentials in its authority or a secret query or fragment parameter.
fn url_has_secret(url: &str) -> bool {
    let Some((_, after_scheme)) = url.split_once("://") else {
        return false;
    };
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    if after_scheme[..authority_end].contains('@') {
        return true;
    }
    let parameters = &after_scheme[authority_end..];
    parameters
        .split(['?', '&', '#', ';'])
        .filter_map(|pair| pair.split_once('='))
        .any(|(name, value)| {
            let name = name.to_ascii_lowercase();
            !value.is_empty()
                && (SECRET_PARAMETERS.contains(&name.as_str())
                    || name.contains("token")
                    || name.contains("secret")
                    || name.contains("passw"))
        })
}
