//! Per-stage criterion benches: `cargo bench --bench stages`.
//!
//! Inputs are generated in code (deterministic), except the encoder bench, which needs the model
//! and is skipped with a printed reason when it is absent.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xsignal::config::Config;
use xsignal::embed::Encoder;
use xsignal::ingest::{self, ColumnMap};
use xsignal::rng::SplitMix64;
use xsignal::text::{content_terms, LangStemmer};
use xsignal::topics::{self, TopicInput};
use xsignal::trends::{self, TrendDoc};
use xsignal::types::{Lang, SentimentLabel};

const WORDS: &[&str] = &[
    "battery",
    "delivery",
    "login",
    "price",
    "support",
    "update",
    "screen",
    "schedule",
    "heating",
    "manager",
    "team",
    "workload",
    "career",
    "app",
    "crash",
    "slow",
    "great",
    "terrible",
    "helpful",
    "expensive",
];

/// Deterministic inputs from the library's splitmix64.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn sentence(&mut self) -> String {
        let length = 5 + (self.next() % 12) as usize;
        (0..length)
            .map(|_| WORDS[(self.next() % WORDS.len() as u64) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn bench_ingest(c: &mut Criterion) {
    let temp = tempfile::tempdir().expect("temp dir");
    let path = temp.path().join("bench.jsonl");
    let mut rng = Rng::new(1);
    let rows = 10_000;
    {
        let mut file = std::fs::File::create(&path).expect("file");
        for index in 0..rows {
            let line = serde_json::json!({"id": format!("c{index}"), "text": rng.sentence(),
                "timestamp": "2026-01-05T10:00:00Z", "author": format!("u{}", rng.next() % 500),
                "source": "appstore", "lang": "en"});
            writeln!(file, "{line}").expect("write");
        }
    }
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(rows));
    group.sample_size(10);
    group.bench_function("jsonl_10k", |b| {
        b.iter(|| {
            ingest::ingest_files(
                std::slice::from_ref(&path),
                &ColumnMap::default(),
                &Default::default(),
            )
            .expect("ingest")
        })
    });
    group.finish();
}

fn bench_text(c: &mut Criterion) {
    let mut rng = Rng::new(2);
    let texts: Vec<String> = (0..1000).map(|_| rng.sentence()).collect();
    let stemmer = LangStemmer::default();
    let mut group = c.benchmark_group("text");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("content_terms_1k", |b| {
        b.iter(|| {
            for text in &texts {
                black_box(content_terms(text, Lang::En, &stemmer));
            }
        })
    });
    group.finish();
}

fn unit_vectors(count: usize, dim: usize, centers: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    let center_vectors: Vec<Vec<f32>> = (0..centers)
        .map(|_| {
            (0..dim)
                .map(|_| (rng.next() % 2000) as f32 / 1000.0 - 1.0)
                .collect()
        })
        .collect();
    (0..count)
        .map(|index| {
            let center = &center_vectors[index % centers];
            let mut vector: Vec<f32> = center
                .iter()
                .map(|value| value + ((rng.next() % 2000) as f32 / 1000.0 - 1.0) * 0.5)
                .collect();
            let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
            vector.iter_mut().for_each(|v| *v /= norm);
            vector
        })
        .collect()
}

fn bench_topics(c: &mut Criterion) {
    let mut rng = Rng::new(3);
    let count = 5_000;
    let vectors = unit_vectors(count, 384, 20, &mut rng);
    let texts: Vec<String> = (0..count).map(|_| rng.sentence()).collect();
    let ids: Vec<String> = (0..count).map(|index| format!("c{index}")).collect();
    let inputs: Vec<TopicInput> = (0..count)
        .map(|index| TopicInput {
            id: &ids[index],
            text: &texts[index],
            lang: Lang::En,
            embedding: &vectors[index],
            sentiment: SentimentLabel::Neutral,
            duplicate: false,
            author: None,
        })
        .collect();
    let config = Config::default();
    let mut group = c.benchmark_group("topics");
    group.throughput(Throughput::Elements(count as u64));
    group.sample_size(10);
    group.bench_function("cluster_5k", |b| {
        b.iter(|| topics::cluster(&inputs, None, &config.topics))
    });
    group.finish();
}

fn bench_trends(c: &mut Criterion) {
    let mut rng = Rng::new(4);
    let count = 20_000;
    let start = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .expect("valid time");
    let texts: Vec<String> = (0..count).map(|_| rng.sentence()).collect();
    let ids: Vec<String> = (0..count).map(|index| format!("c{index}")).collect();
    let authors: Vec<String> = (0..count)
        .map(|_| format!("u{}", rng.next() % 2000))
        .collect();
    let docs: Vec<TrendDoc> = (0..count)
        .map(|index| TrendDoc {
            id: &ids[index],
            timestamp: start + Duration::seconds((index as i64) * 120),
            author: Some(&authors[index]),
            text: &texts[index],
            lang: Lang::En,
            duplicate_of: None,
            topic: Some((index % 10) as u32),
            sentiment: SentimentLabel::Neutral,
        })
        .collect();
    let config = Config::default();
    let mut group = c.benchmark_group("trends");
    group.throughput(Throughput::Elements(count as u64));
    group.sample_size(10);
    group.bench_function("detect_20k", |b| {
        b.iter(|| trends::detect(&docs, &[], &config.trends).expect("detect"))
    });
    group.finish();
}

fn bench_encoder(c: &mut Criterion) {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let encoder = match Encoder::load(&models, &Config::default().embed) {
        Ok(encoder) => encoder,
        Err(error) => {
            println!("skipping encoder bench: {error}");
            return;
        }
    };
    let mut rng = Rng::new(5);
    let texts: Vec<String> = (0..64).map(|_| rng.sentence()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("embed");
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.sample_size(10);
    group.bench_function("minilm_64", |b| {
        b.iter(|| encoder.embed(&refs, &|_| {}).expect("embed"))
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_ingest,
    bench_text,
    bench_topics,
    bench_trends,
    bench_encoder
);
criterion_main!(benches);
