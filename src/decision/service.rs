//! The status of a SpeechService, pure: what its check found (the models in use, or the error)
//! → `Ready`, `Reconciling`, `Stalled`, the model count, and the Event to emit.

use k8s_openapi::jiff::Timestamp;

use super::status::{EventNote, Progress, READY, condition, set_condition, set_progress};
use crate::crd::SpeechServiceStatus;

/// What checking a SpeechService found.
pub enum Check<'a> {
    /// The credentials work; this many custom models (of the larger kind) are in use.
    Connected { models_in_use: i64 },
    /// The check failed with this error category and message; `needs_user`: refused credentials
    /// or a wrong spec (`Stalled`), else a transient failure (`Reconciling`).
    Failed {
        category: &'static str,
        message: &'a str,
        needs_user: bool,
    },
}

/// The status after a check of a service with a model quota of `quota`, and the Event: one per
/// change of the Ready reason (a failure, the 90 % quota warning, recovery).
pub fn next(
    prev: &SpeechServiceStatus,
    check: &Check<'_>,
    quota: i64,
    generation: Option<i64>,
    now: Timestamp,
) -> (SpeechServiceStatus, Option<EventNote>) {
    let mut st = prev.clone();
    st.observed_generation = generation;
    st.model_quota = Some(quota);
    let (ready, reason, message, progress) = match check {
        Check::Connected { models_in_use } => {
            let count = *models_in_use;
            st.models_in_use = Some(count);
            if count * 10 >= quota * 9 {
                let m = format!(
                    "{count} of {quota} custom models in use: delete unused models before the limit blocks new ones"
                );
                (true, "QuotaNearlyExhausted", m, Progress::Settled)
            } else {
                let m = format!("credentials accepted; {count} custom models in use");
                (true, "Connected", m, Progress::Settled)
            }
        }
        Check::Failed {
            category,
            message,
            needs_user,
        } => {
            let progress = if *needs_user {
                Progress::Stalled
            } else {
                Progress::Reconciling
            };
            let m = super::status::stable_message(message);
            (false, *category, m, progress)
        }
    };
    set_condition(
        &mut st.conditions,
        READY,
        ready,
        reason,
        message.clone(),
        generation,
    );
    set_progress(
        &mut st.conditions,
        progress,
        reason,
        &message,
        generation,
        now,
    );
    let before = condition(&prev.conditions, READY).map(|c| c.reason.clone());
    let event = (before.as_deref() != Some(reason)).then(|| EventNote {
        warning: !ready || reason == "QuotaNearlyExhausted",
        reason: reason.to_string(),
        message,
    });
    (st, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("valid")
    }

    #[test]
    fn a_service_check_sets_ready_progress_and_one_event_per_reason() {
        let prev = SpeechServiceStatus::default();
        let ok = Check::Connected { models_in_use: 3 };
        let (st, event) = next(&prev, &ok, 1024, Some(1), t0());
        assert_eq!(st.models_in_use, Some(3));
        let reasons: Vec<(&str, &str)> = st
            .conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("Ready", "True"),
                ("Reconciling", "False"),
                ("Stalled", "False")
            ]
        );
        let event = event.expect("first check");
        assert_eq!((event.warning, event.reason.as_str()), (false, "Connected"));
        assert_eq!(
            next(&st, &ok, 1024, Some(1), t0()).1,
            None,
            "same reason: no Event"
        );
        // 90 % of the quota: a warning, still Ready.
        let full = Check::Connected { models_in_use: 922 };
        let (st2, event) = next(&st, &full, 1024, Some(1), t0());
        assert_eq!(
            event.map(|e| (e.warning, e.reason)),
            Some((true, "QuotaNearlyExhausted".into()))
        );
        assert_eq!(
            condition(&st2.conditions, READY).map(|c| c.status.as_str()),
            Some("True")
        );
        // Refused credentials stall; a transient failure keeps reconciling.
        let refused = Check::Failed {
            category: "Unauthorized",
            message: "bad key [transaction id x]",
            needs_user: true,
        };
        let (st3, _) = next(&st, &refused, 1024, Some(1), t0());
        let stalled = condition(&st3.conditions, "Stalled").expect("Stalled");
        assert_eq!(
            (stalled.status.as_str(), stalled.message.as_str()),
            ("True", "bad key")
        );
        let flaky = Check::Failed {
            category: "ServiceUnavailable",
            message: "503",
            needs_user: false,
        };
        let (st4, _) = next(&st, &flaky, 1024, Some(1), t0());
        assert_eq!(
            condition(&st4.conditions, "Reconciling").map(|c| c.status.as_str()),
            Some("True")
        );
    }
}
