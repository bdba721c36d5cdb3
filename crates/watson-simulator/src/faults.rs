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
    Ok(())
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
}
