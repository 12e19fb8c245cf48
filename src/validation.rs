//! Range checks of configuration values.
//!
//! Owns the rules that every config section applies to its values (a count of at least one, a
//! finite positive number, a share in [0, 1], a cosine in [-1, 1]) and the wording of what is
//! wrong. Each stage's config checks its own section with a [`Checks`]; [`crate::Config::validate`]
//! runs them all, so a bad value is refused before a run writes anything.

use std::fmt::Display;

use crate::error::{Error, Result};

/// Collects the problems of one config section, one message per bad key (`section.key ...`).
#[derive(Debug)]
pub struct Checks {
    section: &'static str,
    problems: Vec<String>,
}

impl Checks {
    /// Checks for the section named `section` (`trends`, `topics`, ...).
    pub fn new(section: &'static str) -> Checks {
        Checks {
            section,
            problems: Vec::new(),
        }
    }

    /// Goes on with the section named `section`; the problems found so far are kept.
    pub fn enter(&mut self, section: &'static str) {
        self.section = section;
    }

    /// Records a problem with `key` unless `ok`.
    pub fn require(&mut self, ok: bool, key: &str, why: impl Display) {
        if !ok {
            self.problems.push(format!("{}.{key} {why}", self.section));
        }
    }

    /// A count of at least `min`.
    pub fn at_least(&mut self, key: &str, value: usize, min: usize) {
        self.require(
            value >= min,
            key,
            format!("must be at least {min} (got {value})"),
        );
    }

    /// A finite number in `[min, max]`.
    pub fn within(&mut self, key: &str, value: f64, min: f64, max: f64) {
        self.require(
            value.is_finite() && (min..=max).contains(&value),
            key,
            format!("must be a number from {min} to {max} (got {value})"),
        );
    }

    /// A finite number above zero.
    pub fn positive(&mut self, key: &str, value: f64) {
        self.require(
            value.is_finite() && value > 0.0,
            key,
            format!("must be a finite number above 0 (got {value})"),
        );
    }

    /// A finite number of zero or more.
    pub fn non_negative(&mut self, key: &str, value: f64) {
        self.require(
            value.is_finite() && value >= 0.0,
            key,
            format!("must be a finite number of 0 or more (got {value})"),
        );
    }

    /// A finite number.
    pub fn finite(&mut self, key: &str, value: f64) {
        self.require(
            value.is_finite(),
            key,
            format!("must be a finite number (got {value})"),
        );
    }

    /// A share or probability in `[0, 1]`.
    pub fn share(&mut self, key: &str, value: f64) {
        self.within(key, value, 0.0, 1.0);
    }

    /// A cosine similarity in `[-1, 1]`.
    pub fn cosine(&mut self, key: &str, value: f64) {
        self.within(key, value, -1.0, 1.0);
    }

    /// The problems found so far.
    pub fn into_problems(self) -> Vec<String> {
        self.problems
    }

    /// `Ok` when nothing was found, else [`Error::ConfigValues`] listing every problem.
    pub fn into_result(self) -> Result<()> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::ConfigValues(self.problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_the_key_and_the_value() {
        let mut checks = Checks::new("trends");
        checks.at_least("window_buckets", 0, 1);
        checks.positive("z_threshold", -1.0);
        checks.positive("beta", f64::NAN);
        checks.non_negative("merge_hours", f64::INFINITY);
        checks.share("min_outside_peak_share", 1.5);
        checks.cosine("merge_cosine", -2.0);
        checks.finite("close_z", f64::NEG_INFINITY);
        checks.at_least("persistence", 1, 1);
        checks.share("merge_jaccard", 0.3);
        checks.enter("topics");
        checks.at_least("min_topic_size", 0, 1);
        let problems = checks.into_problems();
        assert_eq!(problems.len(), 8, "{problems:?}");
        assert_eq!(
            problems[0],
            "trends.window_buckets must be at least 1 (got 0)"
        );
        assert!(problems[1].contains("z_threshold") && problems[1].contains("-1"));
        assert!(problems[2].contains("NaN"));
        assert!(problems[3].contains("inf"));
        assert_eq!(
            problems[7],
            "topics.min_topic_size must be at least 1 (got 0)"
        );
        let mut checks = Checks::new("embed");
        checks.at_least("batch_size", 0, 1);
        let error = checks.into_result().unwrap_err();
        assert!(matches!(error, Error::ConfigValues(_)));
        assert!(Checks::new("embed").into_result().is_ok());
    }
}
