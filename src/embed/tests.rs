use std::path::{Path, PathBuf};

use super::encode::token_batches;
use super::*;

/// The models folder of this checkout.
fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// The encoder of `backend` from this checkout's models folder, or `None` (with a printed reason)
/// when its files are absent.
fn load(backend: Backend) -> Option<Encoder> {
    load_model(&EmbedConfig::default().model, backend)
}

/// [`load`] for another model folder.
fn load_model(model: &str, backend: Backend) -> Option<Encoder> {
    let config = EmbedConfig {
        model: model.to_string(),
        backend,
        ..Default::default()
    };
    match Encoder::load(&models(), &config) {
        Ok(encoder) => Some(encoder),
        Err(error) => {
            eprintln!("skipping {backend}: {error:#}");
            None
        }
    }
}

/// The default encoder, or `None` (with a printed reason) when the model is absent.
pub(crate) fn test_encoder() -> Option<Encoder> {
    load(EmbedConfig::default().backend)
}

#[test]
fn embeddings_are_normalised_and_semantic() {
    let Some(encoder) = test_encoder() else {
        return;
    };
    let texts = [
        "The battery drains very fast",
        "My battery runs out quickly",
        "Delivery took three weeks",
    ];
    let vectors = encoder.embed(&texts, &|_| {}).unwrap();
    assert_eq!(vectors.len(), 3);
    for vector in &vectors {
        assert_eq!(vector.len(), 384);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    let similar = cosine(&vectors[0], &vectors[1]);
    let different = cosine(&vectors[0], &vectors[2]);
    assert!(similar > different + 0.2, "{similar} vs {different}");
}

#[test]
fn batching_does_not_change_embeddings() {
    let Some(encoder) = test_encoder() else {
        return;
    };
    let texts = [
        "short",
        "a somewhat longer sentence about the thermostat schedule",
        "mid length text",
    ];
    let together = encoder.embed(&texts, &|_| {}).unwrap();
    for (index, text) in texts.iter().enumerate() {
        let alone = encoder.embed(&[text], &|_| {}).unwrap();
        assert!(cosine(&alone[0], &together[index]) > 0.9999);
    }
}

/// Texts of many lengths, a long one among them, for the agreement and worker tests.
fn varied_texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "ok",
        "The app crashes every time I open the camera.",
        "Die Lieferung kam zwei Wochen zu spät und der Karton war beschädigt.",
        "Great support, they answered within minutes!",
        "Nach dem Update startet die App nicht mehr. Bitte schnell beheben.",
        "why is the checkout button greyed out on android 14???",
    ]
    .iter()
    .map(|text| text.to_string())
    .collect();
    texts.push("The thermostat loses its schedule after every power cut. ".repeat(30));
    texts
}

/// The least cosine to candle a backend must reach on every text: fp32 backends compute the same
/// function (up to float rounding), the int8 graph an approximation of it.
fn required_agreement(backend: Backend) -> f32 {
    match backend {
        Backend::OnnxInt8 => 0.98,
        _ => 0.999,
    }
}

/// One test body runs on every backend this build has: each agrees with candle (cosine ≥ 0.999
/// for fp32, ≥ 0.98 for int8) on the same texts, a long text (several windows) included.
#[test]
fn every_compiled_backend_agrees_with_candle() {
    let Some(reference) = load(Backend::Candle) else {
        return;
    };
    let texts = varied_texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let expected = reference.embed(&texts, &|_| {}).unwrap();
    for backend in Backend::compiled() {
        let Some(encoder) = load(backend) else {
            continue;
        };
        let vectors = encoder.embed(&texts, &|_| {}).unwrap();
        for (index, (got, want)) in vectors.iter().zip(&expected).enumerate() {
            let similarity = cosine(got, want);
            assert!(
                similarity >= required_agreement(backend),
                "{backend} text {index}: cosine {similarity}"
            );
        }
        eprintln!("{backend}: agrees with candle on {} texts", texts.len());
    }
}

#[test]
fn output_does_not_depend_on_worker_count() {
    for backend in Backend::compiled() {
        let encoders: Vec<Encoder> = [1, 3]
            .into_iter()
            .filter_map(|workers| {
                let config = EmbedConfig {
                    backend,
                    workers,
                    batch_size: 2,
                    ..Default::default()
                };
                Encoder::load(&models(), &config).ok()
            })
            .collect();
        if encoders.len() < 2 {
            eprintln!("skipping {backend}: model files absent");
            continue;
        }
        let texts = varied_texts();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let one = encoders[0].embed(&texts, &|_| {}).unwrap();
        let three = encoders[1].embed(&texts, &|_| {}).unwrap();
        assert_eq!(one, three, "{backend}");
    }
}

#[test]
fn long_texts_are_split_into_sentence_windows() {
    // MiniLM's word pieces: a WordPiece sentence has the same pieces alone as after another one,
    // which the counts below rely on (a SentencePiece model's trailing space is a piece alone).
    let Some(encoder) = load_model("all-MiniLM-L6-v2", Backend::Candle) else {
        return;
    };
    let sentence = "The thermostat loses its schedule after every power cut. ";
    let text = sentence.repeat(30);
    let windows = encoder.windows(&text).unwrap();
    assert!(windows.len() > 1);
    let all = encoder.windows(sentence).unwrap();
    let (cls, sep) = (all[0][0], *all[0].last().unwrap());
    let pieces_per_sentence = all[0].len() - 2;
    let mut total = 0;
    for window in &windows {
        assert!(window.len() <= encoder.max_tokens());
        assert_eq!((window[0], *window.last().unwrap()), (cls, sep));
        // Every window but the last ends at a sentence end: whole sentences only.
        total += window.len() - 2;
    }
    for window in &windows[..windows.len() - 1] {
        assert_eq!((window.len() - 2) % pieces_per_sentence, 0);
    }
    // Nothing is lost: every word piece is in exactly one window.
    assert_eq!(total, pieces_per_sentence * 30);
    // Each full window holds the same sentences as a text of one window's worth of them, so the long
    // text's embedding is that text's (a cut text would be too, but only by losing the rest).
    let one_window = sentence.repeat(encoder.max_tokens() / (pieces_per_sentence + 2));
    let vectors = encoder.embed(&[&text, &one_window], &|_| {}).unwrap();
    let similarity = cosine(&vectors[0], &vectors[1]);
    assert!(similarity > 0.99, "{similarity}");
}

#[test]
fn a_text_is_encoded_from_at_most_max_windows_windows() {
    let Some(mut encoder) = load(Backend::Candle) else {
        return;
    };
    let sentence = "The thermostat loses its schedule after every power cut. ";
    let text = sentence.repeat(200);
    assert_eq!(encoder.max_windows, MAX_WINDOWS);
    let (windows, cut) = encoder.split(&text).unwrap();
    assert_eq!(windows.len(), MAX_WINDOWS);
    assert!(cut);
    let (short, cut) = encoder.split(sentence).unwrap();
    assert_eq!(short.len(), 1);
    assert!(!cut);
    // Without a limit every word piece is encoded.
    encoder.max_windows = 0;
    let (all, cut) = encoder.split(&text).unwrap();
    assert!(all.len() > 4 * MAX_WINDOWS);
    assert!(!cut);
    assert_eq!(&all[..MAX_WINDOWS], windows.as_slice());
    // The texts cut at the limit are counted (the report shows the count).
    encoder.max_windows = MAX_WINDOWS;
    assert_eq!(encoder.cut_texts(), 0);
    encoder.embed(&[text.as_str(), sentence], &|_| {}).unwrap();
    assert_eq!(encoder.cut_texts(), 1);
}

#[test]
fn missing_model_says_how_to_fetch() {
    let config = EmbedConfig {
        model: "no-such-model".into(),
        backend: Backend::Candle,
        ..Default::default()
    };
    let error = Encoder::load(Path::new("/nonexistent"), &config)
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("xsignal models fetch"),
        "{error}"
    );
}

#[test]
fn a_backend_not_compiled_in_is_an_error_not_a_panic() {
    for backend in [Backend::Onnx, Backend::RustBert] {
        if backend.is_compiled() {
            continue;
        }
        let config = EmbedConfig {
            backend,
            ..Default::default()
        };
        let error = Encoder::load(&models(), &config).err().unwrap();
        let message = error.to_string();
        assert!(message.contains("--features"), "{message}");
    }
}

/// The plain multilingual encoder (centred, with its prefix), or `None` with a printed reason.
fn multilingual() -> Option<Encoder> {
    load_model(crate::models::BASE_E5_MODEL, EmbedConfig::default().backend)
}

#[test]
fn every_window_starts_with_the_prefix() {
    let Some(encoder) = multilingual() else {
        return;
    };
    assert_eq!(encoder.prefix, "query: ");
    assert!(!encoder.prefix_ids.is_empty());
    let text = "The thermostat reboots every night after the update. ".repeat(40);
    let windows = encoder.windows(&text).unwrap();
    assert!(windows.len() > 1);
    for window in &windows {
        assert!(window.len() <= encoder.max_tokens());
        // The start token, then the prefix's word pieces.
        assert_eq!(
            &window[1..1 + encoder.prefix_ids.len()],
            encoder.prefix_ids.as_slice()
        );
    }
    let short = encoder.windows("Kurzer Text.").unwrap();
    assert_eq!(
        &short[0][1..1 + encoder.prefix_ids.len()],
        encoder.prefix_ids.as_slice()
    );
}

#[test]
fn centring_spreads_cosines_and_follows_the_language() {
    let Some(encoder) = multilingual() else {
        return;
    };
    let texts = [
        "The battery drains very fast",
        "Delivery took three weeks",
        "Der Akku ist sehr schnell leer",
    ];
    let langs = [Lang::En, Lang::En, Lang::De];
    let centred = encoder.embed_in(&texts, Some(&langs), &|_| {}).unwrap();
    // Each text is centred with its own language's mean: the German text's vector differs from
    // the one it gets when taken for English.
    assert!(encoder.centres_by_language());
    let as_english = encoder
        .embed_in(&texts[2..], Some(&[Lang::En]), &|_| {})
        .unwrap();
    assert!(cosine(&as_english[0], &centred[2]) < 0.999);
    let raw = encoder.uncentred().embed(&texts, &|_| {}).unwrap();
    // Raw, unrelated texts are close (about 0.8); centred, they are not.
    assert!(
        cosine(&raw[0], &raw[1]) > 0.7,
        "{}",
        cosine(&raw[0], &raw[1])
    );
    assert!(cosine(&centred[0], &centred[1]) < 0.4);
    // Same subject across languages is closer than another subject in the same language.
    assert!(cosine(&centred[0], &centred[2]) > cosine(&centred[0], &centred[1]) + 0.2);
    for vector in &centred {
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}

#[test]
fn a_center_removes_its_language_mean_and_its_directions() {
    let center = Center {
        version: 1,
        model: "m".to_string(),
        provenance: serde_json::json!({}),
        prefix: String::new(),
        mean: vec![0.5, 0.0, 0.0, 0.0],
        by_language: [("de".to_string(), vec![0.0, 0.5, 0.0, 0.0])].into(),
        remove: vec![vec![0.0, 0.0, 1.0, 0.0]],
    };
    let half = std::f32::consts::FRAC_1_SQRT_2;
    // English has no mean of its own: the overall one goes, then the third axis. German loses
    // its own mean.
    for (lang, expected) in [
        (Lang::En, [0.0, half, 0.0, half]),
        (Lang::De, [half, 0.0, 0.0, half]),
    ] {
        let mut vector = vec![0.5, 0.5, 0.5, 0.5];
        center.apply(&mut vector, Some(lang));
        let close = vector
            .iter()
            .zip(expected)
            .all(|(x, e)| (x - e).abs() < 1e-6);
        assert!(close, "{lang:?}: {vector:?}");
    }
    assert!(center.check(4, Path::new("center.json")).is_ok());
    // Directions that are not orthonormal, or of the wrong width, are refused.
    let skewed = Center {
        remove: vec![vec![0.0, 0.0, 1.0, 0.0], vec![0.0, 0.0, 0.6, 0.8]],
        ..center.clone()
    };
    let error = skewed.check(4, Path::new("center.json")).unwrap_err();
    assert!(error.to_string().contains("orthonormal"), "{error}");
    assert!(center.check(3, Path::new("center.json")).is_err());
}

#[test]
fn batches_hold_at_most_the_token_budget() {
    // Sorted lengths: short windows share a batch, long ones go a few at a time, and a window
    // longer than the budget still gets a batch of its own.
    let lengths = [3, 4, 4, 5, 60, 60, 60, 128, 128, 700];
    let batches = token_batches(&lengths, 3, 128);
    assert_eq!(batches, vec![0..3, 3..5, 5..7, 7..8, 8..9, 9..10]);
    for batch in &batches {
        let padded = batch.len() * lengths[batch.end - 1];
        assert!(batch.len() == 1 || padded <= 128, "{batch:?}");
        assert!(batch.len() <= 3);
    }
    // Every window is in exactly one batch, in order.
    let flat: Vec<usize> = batches.iter().flat_map(|batch| batch.clone()).collect();
    assert_eq!(flat, (0..lengths.len()).collect::<Vec<_>>());
    assert!(token_batches(&[], 32, 512).is_empty());
}
