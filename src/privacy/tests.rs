use super::forget::Selector;
use super::redact::{iban_checksum_valid, luhn_valid};
use super::*;
use crate::types::{Lang, Origin};

fn redact(text: &str) -> String {
    Redactor::new(&PiiKind::ALL).redact(text).0
}

fn kinds(text: &str) -> Vec<PiiKind> {
    Redactor::new(&PiiKind::ALL)
        .find(text)
        .into_iter()
        .map(|finding| finding.kind)
        .collect()
}

#[test]
fn emails_and_handles() {
    assert_eq!(
        redact("Mail me at jane.doe+app@example.co.uk or ping @jdoe_42!"),
        "Mail me at [EMAIL] or ping [HANDLE]!"
    );
    // Not handles: the middle of an address, a price, a bare @.
    assert_eq!(redact("meet @ 5, costs 3@4"), "meet @ 5, costs 3@4");
}

#[test]
fn phone_numbers_international_german_and_american() {
    for phone in [
        "+49 30 12345678",
        "+49 (0) 151 23456789",
        "0049 89 1234567",
        "030 12345678",
        "(030) 1234567",
        "0151-23456789",
        "015123456789",
        "(555) 123-4567",
        "555.123.4567",
        "+1-555-123-4567x123",
    ] {
        let text = format!("Call {phone} please");
        assert_eq!(redact(&text), "Call [PHONE] please", "{phone}");
    }
    // Dates, versions, prices, zip codes and years are not phone numbers.
    for text in [
        "since 2026-02-20 on 4.2.1",
        "paid 1.299,00 EUR in 10115 Berlin",
        "order 12345",
    ] {
        assert_eq!(redact(text), text);
    }
}

#[test]
fn ibans_need_a_valid_checksum() {
    assert!(iban_checksum_valid("DE89370400440532013000"));
    assert!(!iban_checksum_valid("DE88370400440532013000"));
    assert_eq!(
        redact("IBAN DE89 3704 0044 0532 0130 00 Danke"),
        "IBAN [IBAN] Danke"
    );
    assert_eq!(redact("to GB82WEST12345698765432."), "to [IBAN].");
    let wrong = "IBAN DE88 3704 0044 0532 0130 00";
    assert!(!kinds(wrong).contains(&PiiKind::Iban), "{:?}", kinds(wrong));
}

#[test]
fn cards_need_a_valid_luhn_digit() {
    assert!(luhn_valid("4111111111111111"));
    assert!(!luhn_valid("4111111111111112"));
    assert_eq!(
        redact("card 4111 1111 1111 1111 expired"),
        "card [CARD] expired"
    );
    assert_eq!(redact("Amex 3782-822463-10005."), "Amex [CARD].");
    assert!(!kinds("ref 4111 1111 1111 1112").contains(&PiiKind::Card));
    // A 12-digit Maestro and a 15-digit JCB 1800 number; other 12-digit numbers are not cards.
    assert_eq!(
        redact("Maestro 502020435397 und 180036898039447"),
        "Maestro [CARD] und [CARD]"
    );
    assert!(!kinds("Bestellung 402020435395").contains(&PiiKind::Card));
}

#[test]
fn ip_addresses() {
    assert_eq!(
        redact("from 192.168.0.17 and 2001:db8::8a2e:370:7334 at 12:30:00"),
        "from [IP] and [IP] at 12:30:00"
    );
    assert_eq!(
        redact("not 300.1.1.1 nor 1.2.3.4.5"),
        "not 300.1.1.1 nor 1.2.3.4.5"
    );
}

#[test]
fn urls_with_credentials_or_tokens() {
    assert_eq!(
        redact("see https://bob:hunter2@example.com/x and https://a.io/cb?access_token=abc123."),
        "see [URL] and [URL]."
    );
    assert_eq!(
        redact("link https://s3.example.com/f.pdf?X-Amz-Signature=ff00&sig=1 ok"),
        "link [URL] ok"
    );
    // A plain link stays.
    let plain = "see https://example.com/help?page=2";
    assert_eq!(redact(plain), plain);
}

#[test]
fn person_names_english_and_german() {
    assert_eq!(
        redact("My name is Priya Raghunathan and Kevin Smith helped."),
        "My name is [NAME] and [NAME] helped."
    );
    assert_eq!(
        redact(
            "Frau Dr. Weber und Herr Yilmaz waren freundlich, Jürgen Müller-Lüdenscheidt nicht."
        ),
        "Frau Dr. [NAME] und Herr [NAME] waren freundlich, [NAME] nicht."
    );
    assert_eq!(
        redact("Ich heiße Zoltan. Gruß, Lena von Berg"),
        "Ich heiße [NAME]. Gruß, [NAME]"
    );
    assert_eq!(redact("Mr. Thompson was rude"), "Mr. [NAME] was rude");
    // First names that are also words need a surname; capitalised nouns are not names.
    let words = "Will the update fix it? May is too late. Der Akku ist leer. I AM ANGRY";
    assert_eq!(redact(words), words);
    assert_eq!(redact("Will Jackson fixed it"), "[NAME] fixed it");
}

#[test]
fn only_configured_kinds_are_redacted() {
    let text = "mail a@b.de, call 030 12345678";
    let redactor = Redactor::new(&[PiiKind::Phone]);
    assert_eq!(redactor.redact(text).0, "mail a@b.de, call [PHONE]");
    assert_eq!(Redactor::new(&[]).redact(text).0, text);
}

#[test]
fn findings_are_offsets_into_the_original() {
    let text = "Grüße an jürgen@例え.de? nein: jurgen@example.de";
    let findings = Redactor::new(&PiiKind::ALL).find(text);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        &text[findings[0].start..findings[0].end],
        "jurgen@example.de"
    );
}

fn comment(id: &str, text: &str, author: Option<&str>) -> Comment {
    Comment {
        id: id.into(),
        text: text.into(),
        timestamp: None,
        author: author.map(str::to_string),
        source: None,
        lang: Lang::En,
        lang_detected: false,
        rating: None,
        meta: serde_json::Map::from_iter([(
            "contact".to_string(),
            serde_json::Value::String(format!("{id}@example.com")),
        )]),
        origin: Origin {
            file: "f.jsonl".into(),
            line: 1,
        },
    }
}

#[test]
fn protect_redacts_text_and_meta_and_pseudonymises_authors() {
    let key = PseudonymKey::from_hex(&"ab".repeat(32)).unwrap();
    let mut comments: Vec<Comment> = (0..50)
        .map(|i| {
            comment(
                &format!("c{i}"),
                &format!("call +49 30 1234{i:04} or mail x{i}@example.org"),
                Some(if i % 2 == 0 { "alice" } else { "bob" }),
            )
        })
        .collect();
    let counts = protect(&mut comments, &Redactor::new(&PiiKind::ALL), &key);
    assert_eq!(counts.get(&PiiKind::Phone), Some(&50));
    assert_eq!(counts.get(&PiiKind::Email), Some(&100));
    assert_eq!(counts.get(&PiiKind::Name), None);
    assert_eq!(comments[7].text, "call [PHONE] or mail [EMAIL]");
    assert_eq!(comments[7].meta["contact"], "[EMAIL]");
    let alice = key.pseudonym("alice");
    assert_eq!(alice.len(), 16);
    assert_eq!(comments[0].author.as_deref(), Some(alice.as_str()));
    assert_eq!(comments[2].author, comments[0].author);
    assert_ne!(comments[1].author, comments[0].author);
    // The summary serialises kinds by name.
    assert_eq!(
        serde_json::to_string(&counts).unwrap(),
        r#"{"email":100,"phone":50}"#
    );
}

#[test]
fn pseudonyms_depend_on_the_key() {
    let one = PseudonymKey::from_hex(&"01".repeat(32)).unwrap();
    let two = PseudonymKey::from_hex(&"02".repeat(32)).unwrap();
    assert_eq!(one.pseudonym("u2211"), one.pseudonym("u2211"));
    assert_ne!(one.pseudonym("u2211"), two.pseudonym("u2211"));
    assert_ne!(one.pseudonym("u2211"), one.pseudonym("u2212"));
    assert!(PseudonymKey::from_hex("abcd").is_err());
    assert!(PseudonymKey::from_hex(&"zz".repeat(32)).is_err());
    assert_eq!(format!("{one:?}"), "PseudonymKey(..)");
}

#[test]
fn workspace_key_is_made_once_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(KEY_FILE);
    let made = PseudonymKey::load_file(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = PseudonymKey::load_file(&path).unwrap();
    assert_eq!(made.pseudonym("x"), again.pseudonym("x"));
    let other = tempfile::tempdir().unwrap();
    let fresh = PseudonymKey::load_file(&other.path().join(KEY_FILE)).unwrap();
    assert_ne!(made.pseudonym("x"), fresh.pseudonym("x"));
    std::fs::write(&path, b"short").unwrap();
    let error = PseudonymKey::load_file(&path).unwrap_err().to_string();
    assert!(error.contains("32 bytes"), "{error}");
}

#[test]
fn first_name_list_matches_its_provenance() {
    use sha2::{Digest, Sha256};
    let list = include_str!("first_names.txt");
    let provenance = include_str!("PROVENANCE.md");
    let digest = crate::hex::encode(&Sha256::digest(list.as_bytes()));
    let row = provenance
        .lines()
        .find(|line| line.contains("first_names.txt"))
        .expect("listed in PROVENANCE.md");
    assert!(
        row.contains(&digest),
        "sha256 {digest} is not the one in PROVENANCE.md"
    );
    let names = list.lines().count();
    assert!(row.contains(&format!("| {names} |")), "{names} names");
}

#[test]
fn default_config_redacts_everything() {
    let config = PrivacyConfig::default();
    assert_eq!(config.redact, PiiKind::ALL.to_vec());
    let parsed: PrivacyConfig = toml::from_str("redact = [\"email\", \"url_secret\"]").unwrap();
    assert_eq!(parsed.redact, vec![PiiKind::Email, PiiKind::UrlSecret]);
    assert!(toml::from_str::<PrivacyConfig>("redact = [\"passport\"]").is_err());
}

/// A comment dated `day` of March 2026 at noon (or undated).
fn dated(id: &str, day: Option<u32>) -> Comment {
    let mut dated = comment(id, "", None);
    dated.timestamp = day.map(|day| {
        chrono::DateTime::parse_from_rfc3339(&format!("2026-03-{day:02}T12:00:00Z"))
            .unwrap()
            .with_timezone(&chrono::Utc)
    });
    dated
}

#[test]
fn retention_counts_days_back_from_the_newest_comment() {
    let stored = [
        dated("a", Some(1)),
        dated("b", Some(3)),
        dated("c", None),
        dated("d", Some(10)),
        dated("e", Some(4)),
    ];
    // Newest: day 10 at noon; 6 days before is day 4 at noon, which is kept.
    assert_eq!(
        forget::expired(&stored, 6),
        [true, true, false, false, false]
    );
    assert_eq!(forget::expired(&stored, 0), [false; 5]);
    assert_eq!(forget::expired(&stored, 36_525), [false; 5]);
    assert_eq!(forget::expired(&[dated("x", None)], 1), [false]);
}

#[test]
fn an_author_is_matched_through_the_pseudonym_and_an_id_exactly() {
    let key = PseudonymKey::from_hex(&"ab".repeat(32)).unwrap();
    let pseudonym = key.pseudonym("u42");
    let stored = [
        comment("1", "", Some(&pseudonym)),
        comment("2", "", Some("u42")),
        comment("3", "", None),
        comment("10", "", Some(&pseudonym)),
    ];
    let nowhere = std::path::Path::new("/nonexistent");
    let by_author = Selector::Author("u42".into());
    assert_eq!(
        by_author.select(&stored, &key, nowhere).unwrap(),
        [true, false, false, true]
    );
    let by_id = Selector::Id("1".into());
    assert_eq!(
        by_id.select(&stored, &key, nowhere).unwrap(),
        [true, false, false, false]
    );
    let noon = |day: u32| dated("t", Some(day)).timestamp.unwrap();
    let dated = [dated("a", Some(2)), dated("b", None), dated("c", Some(3))];
    assert_eq!(
        Selector::Before(noon(3))
            .select(&dated, &key, nowhere)
            .unwrap(),
        [true, false, false]
    );
    assert!(Selector::Query(" * ".into())
        .select(&stored, &key, nowhere)
        .is_err());
    // The audit hash is keyed, differs by kind, and is never the author's pseudonym.
    let hash = by_author.keyed_hash(&key);
    assert_eq!(hash.len(), 16);
    assert_ne!(hash, pseudonym);
    assert_ne!(hash, Selector::Id("u42".into()).keyed_hash(&key));
    let other_key = PseudonymKey::from_hex(&"cd".repeat(32)).unwrap();
    assert_ne!(hash, by_author.keyed_hash(&other_key));
}
