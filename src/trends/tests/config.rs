//! The stage's settings (bucket parsing, an explicit bucket, the TOML round trip) and the
//! determinism of its output across thread counts and input order.

use super::*;

#[test]
fn output_is_deterministic_across_threads_and_input_order() {
    let owned = planted_stream();
    let config = TrendsConfig::default();
    let in_pool = |threads: usize, comments: &[Owned]| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| run(comments, &config))
    };
    let one = in_pool(1, &owned);
    let two = in_pool(2, &owned);
    assert!(!one.signals.is_empty());
    assert_eq!(one, two);
    let mut shuffled = owned.clone();
    let mut rng = Rng(crate::rng::SplitMix64::new(3));
    for index in (1..shuffled.len()).rev() {
        let other = rng.below(index + 1);
        shuffled.swap(index, other);
    }
    assert_eq!(in_pool(2, &shuffled), one);
}

#[test]
fn parse_bucket_accepts_units_and_rejects_garbage() {
    assert_eq!(parse_bucket("30m").expect("30m"), 1800);
    assert_eq!(parse_bucket("1h").expect("1h"), 3600);
    assert_eq!(parse_bucket("6h").expect("6h"), 21_600);
    assert_eq!(parse_bucket("1d").expect("1d"), 86_400);
    for bad in ["", "h", "0h", "1w", "1.5h", "-1h", "1 h"] {
        let error = parse_bucket(bad).expect_err(bad).to_string();
        assert!(error.starts_with("invalid bucket"), "{error}");
    }
}

#[test]
fn explicit_daily_bucket_is_used() {
    let config = TrendsConfig {
        bucket: Some("1d".into()),
        ..TrendsConfig::default()
    };
    let output = run(&background(&Background::default()), &config);
    assert_eq!(output.bucket_seconds, 86_400);
    assert_eq!(output.buckets, 20);
}

#[test]
fn config_round_trips_through_toml() {
    let config = TrendsConfig::default();
    let text = toml::to_string(&config).expect("serialise");
    let back: TrendsConfig = toml::from_str(&text).expect("parse");
    assert_eq!(back, config);
    assert!(toml::from_str::<TrendsConfig>("no_such_field = 1").is_err());
}
