//! Settings and input generators shared by the property tests that feed generated input to the
//! parsers (CSV, JSONL, timestamps, query text) and check that none of them panics.
//!
//! Each such test runs [`DEFAULT_CASES`] cases unless the environment variable
//! `XSIGNAL_FUZZ_CASES` says otherwise (more for a long local run, fewer while editing). Inputs are
//! built from pieces that matter to the parser (quotes, delimiters, line ends, invalid UTF-8,
//! nesting), so that short inputs reach the interesting states; failures are not written into the
//! source tree.

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per fuzz test when `XSIGNAL_FUZZ_CASES` is not set.
pub(crate) const DEFAULT_CASES: u32 = 100_000;

/// The proptest settings of a fuzz test.
pub(crate) fn config() -> Config {
    let cases = std::env::var("XSIGNAL_FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Inputs made of up to `most` pieces drawn from `pieces`, concatenated; one piece in eight is a
/// random byte instead.
pub(crate) fn pieces(
    pieces: &'static [&'static [u8]],
    most: usize,
) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        7 => proptest::sample::select(pieces).prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|byte| vec![byte]),
    ];
    proptest::collection::vec(piece, 0..most).prop_map(|parts| parts.concat())
}
