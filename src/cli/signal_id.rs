//! Signal ids an analyst can type: the full id, a unique prefix of it, or the row number that
//! `xsignal trends` prints (`1` for its first signal). Every command that takes a signal id reads it
//! through [`find_signal`].

use xsignal::types::Signal;

use super::output::printable;
use super::CliError;

/// Ambiguous prefixes list at most this many candidates.
const MAX_CANDIDATES: usize = 10;

/// The signal `reference` names in `signals` (in the order `trends` lists them): a row number
/// (1-based), the exact id, or a prefix (case-insensitive) that only one id starts with. An unknown
/// or ambiguous reference is a usage error; an ambiguous one lists the candidates.
pub fn find_signal<'a>(signals: &'a [Signal], reference: &str) -> Result<&'a Signal, CliError> {
    let wanted = reference.trim().trim_start_matches('#');
    if wanted.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!("empty signal id")));
    }
    if let Some(exact) = signals.iter().find(|signal| signal.id == wanted) {
        return Ok(exact);
    }
    if wanted.bytes().all(|byte| byte.is_ascii_digit()) {
        return wanted
            .parse::<usize>()
            .ok()
            .and_then(|row| row.checked_sub(1))
            .and_then(|index| signals.get(index))
            .ok_or_else(|| {
                CliError::usage(anyhow::anyhow!(
                    "no signal number {wanted}: `xsignal trends` lists {} signal(s), numbered from 1",
                    signals.len()
                ))
            });
    }
    let lowered = wanted.to_lowercase();
    let candidates: Vec<(usize, &Signal)> = signals
        .iter()
        .enumerate()
        .filter(|(_, signal)| signal.id.to_lowercase().starts_with(&lowered))
        .collect();
    match candidates.as_slice() {
        [(_, only)] => Ok(only),
        [] => Err(CliError::usage(anyhow::anyhow!(
            "no signal id starts with {:?} (`xsignal trends` lists the ids and their numbers)",
            printable(wanted)
        ))),
        many => {
            let mut listed: Vec<String> = many
                .iter()
                .take(MAX_CANDIDATES)
                .map(|(index, signal)| format!("  {:>3}  {}", index + 1, printable(&signal.id)))
                .collect();
            if many.len() > MAX_CANDIDATES {
                listed.push(format!("  ... and {} more", many.len() - MAX_CANDIDATES));
            }
            Err(CliError::usage(anyhow::anyhow!(
                "{:?} is the start of {} signal ids; type more of the id or its number:\n{}",
                printable(wanted),
                many.len(),
                listed.join("\n")
            )))
        }
    }
}

/// The shortest prefix of each signal's id (at least `min_len` characters, or the whole id) that
/// no other id starts with, in the order of `signals`.
pub fn short_ids(signals: &[Signal], min_len: usize) -> Vec<String> {
    let lowered: Vec<String> = signals
        .iter()
        .map(|signal| signal.id.to_lowercase())
        .collect();
    signals
        .iter()
        .enumerate()
        .map(|(index, signal)| {
            for (end, _) in signal.id.char_indices().skip(min_len.max(1)) {
                let prefix = signal.id.get(..end).unwrap_or(&signal.id).to_lowercase();
                let unique = lowered
                    .iter()
                    .enumerate()
                    .all(|(other, id)| other == index || !id.starts_with(&prefix));
                if unique {
                    return signal.id.get(..end).unwrap_or(&signal.id).to_string();
                }
            }
            signal.id.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(id: &str) -> Signal {
        let time = chrono::DateTime::from_timestamp(1_770_000_000, 0).unwrap();
        Signal {
            id: id.to_string(),
            kind: xsignal::types::SignalKind::Phrase,
            label: id.to_string(),
            first_flagged: time,
            window: xsignal::types::Window {
                start: time,
                end: time,
            },
            observed: 1.0,
            baseline_mean: 0.0,
            baseline_std: 0.0,
            score: 1.0,
            distinct_authors: 1,
            duplicates_ignored: 0,
            topic: None,
            theme: None,
            comment_ids: Vec::new(),
            evidence: serde_json::Value::Null,
        }
    }

    fn signals() -> Vec<Signal> {
        vec![
            signal("phrase:firmwar+thermostat@20260221T20"),
            signal("phrase:firmwar+updat@20260301T04"),
            signal("topic:12@20260221T20"),
        ]
    }

    #[test]
    fn numbers_exact_ids_and_unique_prefixes_find_one_signal() {
        let signals = signals();
        assert_eq!(find_signal(&signals, "3").ok().unwrap().id, signals[2].id);
        assert_eq!(find_signal(&signals, "#1").ok().unwrap().id, signals[0].id);
        assert_eq!(
            find_signal(&signals, "phrase:firmwar+updat@20260301T04")
                .ok()
                .unwrap()
                .id,
            signals[1].id
        );
        assert_eq!(find_signal(&signals, "TOP").ok().unwrap().id, signals[2].id);
        assert_eq!(
            find_signal(&signals, "phrase:firmwar+t").ok().unwrap().id,
            signals[0].id
        );
    }

    #[test]
    fn ambiguous_prefixes_list_the_candidates() {
        let signals = signals();
        let error = find_signal(&signals, "phrase:firm").err().unwrap();
        let message = error.error.to_string();
        assert_eq!(error.code, super::super::EXIT_USAGE);
        assert!(message.contains("2 signal ids"), "{message}");
        assert!(
            message.contains("    1  phrase:firmwar+thermostat@20260221T20"),
            "{message}"
        );
        assert!(
            message.contains("    2  phrase:firmwar+updat@20260301T04"),
            "{message}"
        );
        assert!(!message.contains("topic:12"), "{message}");
    }

    #[test]
    fn unknown_ids_and_numbers_out_of_range_are_usage_errors() {
        let signals = signals();
        for reference in ["4", "0", "sentiment", "", "99999999999999999999999"] {
            let error = find_signal(&signals, reference).err().unwrap();
            assert_eq!(error.code, super::super::EXIT_USAGE, "{reference}");
        }
    }

    #[test]
    fn short_ids_are_unique_prefixes() {
        let signals = signals();
        let short = short_ids(&signals, 3);
        assert_eq!(short, ["phrase:firmwar+t", "phrase:firmwar+u", "top"]);
        for (index, prefix) in short.iter().enumerate() {
            assert_eq!(
                find_signal(&signals, prefix).ok().unwrap().id,
                signals[index].id
            );
        }
    }
}
