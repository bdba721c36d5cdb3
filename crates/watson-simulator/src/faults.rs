//! Fault injection decisions (pure; the HTTP middleware applies them).

use super::api::Faults;

/// What to do with one API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Handle normally.
    Pass,
    /// Answer with this status without running the handler.
    Fail(u16),
    /// Close the connection without a response.
    Drop,
}

/// Checks a fault configuration submitted through the admin API.
pub fn validate(f: &Faults) -> Result<(), String> {
    for (status, rate) in &f.error_rates {
        match status.parse::<u16>() {
            Ok(s) if (400..=599).contains(&s) => {}
            _ => {
                return Err(format!(
                    "error_rates key '{status}' is not an HTTP error status (400-599)"
                ));
            }
        }
        if !(0.0..=1.0).contains(rate) {
            return Err(format!("error_rates['{status}'] must be between 0 and 1"));
        }
    }
    if !(0.0..=1.0).contains(&f.drop_rate) {
        return Err("drop_rate must be between 0 and 1".to_owned());
    }
    if !(0.0..=1.0).contains(&f.lost_answer_rate) {
        return Err("lost_answer_rate must be between 0 and 1".to_owned());
    }
    for rule in &f.lose_answers {
        if let Some(op) = &rule.operation
            && watson_client::Operation::from_name(op).is_none()
        {
            return Err(format!("lose_answers: unknown operation '{op}'"));
        }
    }
    Ok(())
}

/// Whether the answer to a request the service performed (`operation`, naming
/// `customization_id`, about the model named `model_name`, answered with `status`) is lost: a successful write only (IAM and GETs
/// never), by the first one-shot rule of `f.lose_answers` that matches (its count is used up
/// here), else when `draw` (uniform in `[0, 1)`) falls under `f.lost_answer_rate`.
pub fn lose_answer(
    f: &mut Faults,
    write: bool,
    operation: Option<&str>,
    customization_id: Option<&str>,
    model_name: Option<&str>,
    status: u16,
    draw: f64,
) -> bool {
    if !write || !(200..300).contains(&status) {
        return false;
    }
    let matches = |rule: &super::api::LoseAnswers| {
        rule.count > 0
            && rule
                .operation
                .as_deref()
                .is_none_or(|o| Some(o) == operation)
            && rule
                .customization_id
                .as_deref()
                .is_none_or(|c| Some(c) == customization_id)
            && rule
                .name_prefix
                .as_deref()
                .is_none_or(|p| model_name.is_some_and(|n| n.starts_with(p)))
    };
    if let Some(rule) = f.lose_answers.iter_mut().find(|r| matches(r)) {
        rule.count -= 1;
        return true;
    }
    f.lost_answer_rate > 0.0 && draw < f.lost_answer_rate
}

/// Decides the fate of one request from two uniform random draws in `[0, 1)`.
pub fn decide(f: &Faults, is_iam: bool, drop_draw: f64, error_draw: f64) -> FaultAction {
    if is_iam && f.iam_outage {
        return FaultAction::Fail(503);
    }
    if f.drop_rate > 0.0 && drop_draw < f.drop_rate {
        return FaultAction::Drop;
    }
    let mut cumulative = 0.0;
    for (status, rate) in &f.error_rates {
        cumulative += rate;
        if error_draw < cumulative
            && let Ok(s) = status.parse()
        {
            return FaultAction::Fail(s);
        }
    }
    FaultAction::Pass
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(rates: &[(&str, f64)]) -> Faults {
        Faults {
            error_rates: rates.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            ..Faults::default()
        }
    }

    #[test]
    fn error_rates_are_cumulative_probabilities() {
        let f = faults(&[("429", 0.25), ("503", 0.5)]);
        assert_eq!(decide(&f, false, 0.9, 0.1), FaultAction::Fail(429));
        assert_eq!(decide(&f, false, 0.9, 0.6), FaultAction::Fail(503));
        assert_eq!(decide(&f, false, 0.9, 0.8), FaultAction::Pass);
        assert_eq!(
            decide(&Faults::default(), false, 0.0, 0.0),
            FaultAction::Pass
        );
    }

    #[test]
    fn iam_outage_and_drops() {
        let f = Faults {
            iam_outage: true,
            drop_rate: 0.5,
            ..Faults::default()
        };
        assert_eq!(decide(&f, true, 0.9, 0.9), FaultAction::Fail(503));
        assert_eq!(decide(&f, false, 0.4, 0.9), FaultAction::Drop);
        assert_eq!(decide(&f, false, 0.6, 0.9), FaultAction::Pass);
    }

    #[test]
    fn validation() {
        assert!(validate(&faults(&[("503", 1.0)])).is_ok());
        assert!(validate(&faults(&[("200", 0.5)])).is_err());
        assert!(validate(&faults(&[("503", 1.5)])).is_err());
    }

    #[test]
    fn answers_are_lost_after_a_successful_write_only() {
        use crate::api::LoseAnswers;
        let mut f = Faults {
            lose_answers: vec![LoseAnswers {
                operation: Some("add_corpus".into()),
                customization_id: Some("m1".into()),
                name_prefix: None,
                count: 1,
            }],
            ..Faults::default()
        };
        // In order (the one-shot rule is used up): (why, write, operation, model, status,
        // roll, lost).
        type Case = (
            &'static str,
            bool,
            &'static str,
            Option<&'static str>,
            u16,
            f64,
            bool,
        );
        let cases: [Case; 6] = [
            (
                "another operation",
                true,
                "train_language_model",
                Some("m1"),
                200,
                0.0,
                false,
            ),
            (
                "another model",
                true,
                "add_corpus",
                Some("m2"),
                201,
                0.0,
                false,
            ),
            ("a read", false, "add_corpus", Some("m1"), 200, 0.0, false),
            ("a failure", true, "add_corpus", Some("m1"), 409, 0.0, false),
            (
                "the one matching answer",
                true,
                "add_corpus",
                Some("m1"),
                201,
                0.9,
                true,
            ),
            ("only once", true, "add_corpus", Some("m1"), 201, 0.9, false),
        ];
        for (why, write, op, id, status, roll, lost) in cases {
            let got = lose_answer(&mut f, write, Some(op), id, None, status, roll);
            assert_eq!(got, lost, "{why}");
        }
        // The rate.
        f.lost_answer_rate = 0.5;
        for (roll, lost) in [(0.4, true), (0.6, false)] {
            let got = lose_answer(&mut f, true, Some("delete_corpus"), None, None, 200, roll);
            assert_eq!(got, lost, "rate 0.5, roll {roll}");
        }
        assert!(validate(&f).is_ok());
        f.lose_answers[0].operation = Some("nonsense".into());
        assert!(validate(&f).is_err());
    }

    #[test]
    fn a_name_prefix_scopes_lost_answers_to_one_test_s_models() {
        use crate::api::LoseAnswers;
        let mut f = Faults {
            lose_answers: vec![LoseAnswers {
                operation: Some("create_language_model".into()),
                name_prefix: Some("lost-1-".into()),
                count: 1,
                ..LoseAnswers::default()
            }],
            ..Faults::default()
        };
        let create = |f: &mut Faults, name: Option<&str>| {
            lose_answer(f, true, Some("create_language_model"), None, name, 201, 0.9)
        };
        // Another test's model, a request about no known model: kept.
        assert!(!create(&mut f, Some("other-lm")));
        assert!(!create(&mut f, None));
        // This test's model: lost, once.
        assert!(create(&mut f, Some("lost-1-lm")));
        assert!(!create(&mut f, Some("lost-1-lm")));
    }
}
