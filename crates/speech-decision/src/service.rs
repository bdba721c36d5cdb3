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
        now,
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

/// The condition type of a customer data erasure (present once one was requested).
pub const CUSTOMER_DATA_ERASED: &str = "CustomerDataErased";

/// What to do about the annotation `speech.watson.dev/erase-customer-data-requested-at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Erasure {
    /// No request, or the request already carried out: nothing to do.
    Idle,
    /// Not now (a condition False with this reason and message, and one Event per change);
    /// looked at again when the service or its models change.
    Blocked {
        reason: &'static str,
        message: String,
    },
    /// `DELETE /v1/user_data?customer_id=<customer_id>`, then record `token`.
    Erase { token: String, customer_id: String },
}

/// Decides a customer data erasure (watson-api.md: `DELETE /v1/user_data` deletes all data
/// labelled with the customer ID, whatever model holds it). `requested`: the annotation's value;
/// `done`: the last request recorded; `users`: the model resources (kind/name) that use this
/// service, including those being deleted.
///
/// Erasing while a model resource uses the service would not last: the operator would upload
/// its corpora, words, grammars or audio again, labelled with the same ID (and a GitOps tool
/// would re-create a resource the operator deleted). So the erasure waits, naming them, until
/// the user has removed every model resource of the service; models kept on the service with
/// `deletionPolicy: Retain` lose their labelled data, which is the point.
pub fn erasure(
    requested: Option<&str>,
    done: Option<&crate::crd::speech_service::CustomerDataErasure>,
    customer_id: Option<&str>,
    users: &[String],
) -> Erasure {
    let Some(token) = requested.filter(|t| !t.is_empty()) else {
        return Erasure::Idle;
    };
    if done.is_some_and(|d| d.requested_at == token) {
        return Erasure::Idle;
    }
    let Some(customer_id) = customer_id else {
        return Erasure::Blocked {
            reason: "NoCustomerId",
            message: "spec.customerId is not set, so the operator labelled no data and has nothing to erase: set spec.customerId before adding data, or remove the annotation speech.watson.dev/erase-customer-data-requested-at".into(),
        };
    };
    if !users.is_empty() {
        let mut names = users.to_vec();
        names.sort();
        let shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
        let more = names.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        return Erasure::Blocked {
            reason: "ModelsStillUseService",
            message: format!(
                "waiting to erase the data of customer ID {customer_id}: delete the model resources that use this service first ({}{more}), or the operator would upload their data again",
                shown.join(", ")
            ),
        };
    }
    Erasure::Erase {
        token: token.to_string(),
        customer_id: customer_id.to_string(),
    }
}

/// The status after an erasure step: `Blocked` or a failure (`failed`: category and message)
/// sets the condition False; a carried-out erasure records it and sets the condition True. The
/// Event: one per change of the condition's reason.
pub fn after_erasure(
    prev: &SpeechServiceStatus,
    step: &Erasure,
    failed: Option<(&'static str, &str)>,
    generation: Option<i64>,
    now: Timestamp,
) -> (SpeechServiceStatus, Option<EventNote>) {
    let mut st = prev.clone();
    let (ok, reason, message) = match (step, failed) {
        (Erasure::Idle, _) => return (st, None),
        (Erasure::Blocked { reason, message }, _) => (false, *reason, message.clone()),
        (Erasure::Erase { customer_id, .. }, Some((category, message))) => (
            false,
            category,
            format!(
                "erasing the data of customer ID {customer_id} failed: {}",
                super::status::stable_message(message)
            ),
        ),
        (Erasure::Erase { token, customer_id }, None) => {
            st.customer_data_erasure = Some(crate::crd::speech_service::CustomerDataErasure {
                requested_at: token.clone(),
                customer_id: customer_id.clone(),
                erased_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
            });
            (
                true,
                "Erased",
                format!(
                    "the service deleted all data labelled with customer ID {customer_id} (request {token})"
                ),
            )
        }
    };
    let before = condition(&prev.conditions, CUSTOMER_DATA_ERASED)
        .map(|c| (c.reason.clone(), c.message.clone()));
    set_condition(
        &mut st.conditions,
        CUSTOMER_DATA_ERASED,
        ok,
        reason,
        message.clone(),
        generation,
        now,
    );
    let changed =
        before.as_ref().map(|(r, m)| (r.as_str(), m.as_str())) != Some((reason, message.as_str()));
    let event = changed.then(|| EventNote {
        warning: !ok,
        reason: if ok {
            "CustomerDataErased".to_string()
        } else {
            reason.to_string()
        },
        message,
    });
    (st, event)
}

/// What to do with the in-use finalizer a SpeechService and its credentials Secret carry while
/// model resources use them (issue 24; the way Kubernetes protects a PersistentVolumeClaim in
/// use: deleting a model with `deletionPolicy: Delete` needs both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// Add it, to the Secret first, then to the SpeechService.
    Add,
    /// Remove it, from the Secret first (unless another protected SpeechService uses the same
    /// Secret), then from the SpeechService.
    Release,
    /// Nothing to change.
    Keep,
}

/// The in-use finalizer's step: `in_use` (a model resource names the service in
/// `spec.serviceRef`, being deleted or not), `has_finalizer` (the SpeechService carries it),
/// `deleting` (the SpeechService is being deleted: Kubernetes refuses new finalizers then).
pub fn protection(in_use: bool, has_finalizer: bool, deleting: bool) -> Protection {
    match (in_use, has_finalizer) {
        (true, false) if !deleting => Protection::Add,
        (false, true) => Protection::Release,
        _ => Protection::Keep,
    }
}

/// A SpeechService as the Secret sweep sees it: the Secret its `spec.auth.secretRef` names, and
/// whether it needs protection (it carries the in-use finalizer, or is about to add it, and is
/// not releasing it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretUse<'a> {
    pub secret: Option<&'a str>,
    pub protected: bool,
}

/// The Secrets of a namespace whose in-use finalizer is released: of `carrying` (the Secrets
/// that carry it), every one no SpeechService needing protection names in `services`. One rule
/// for every way a Secret stops being used: its SpeechService's `secretRef` changed, the
/// SpeechService was deleted (it is no longer listed) or no model uses it any more (it releases
/// its own finalizer); a Secret shared with another protected SpeechService is kept.
pub fn secrets_to_release<'a>(carrying: &[&'a str], services: &[SecretUse<'_>]) -> Vec<&'a str> {
    carrying
        .iter()
        .copied()
        .filter(|secret| {
            !services
                .iter()
                .any(|s| s.protected && s.secret == Some(*secret))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_data_erasure_waits_for_the_models_and_runs_once_per_token() {
        let users = vec!["CustomLanguageModel/helpdesk".to_string()];
        // (annotation, token recorded, customer ID, models using the service, decision)
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            &'a [String],
            Erasure,
        );
        let cases: Vec<Case<'_>> = vec![
            (None, None, Some("c1"), &[], Erasure::Idle),
            (Some(""), None, Some("c1"), &[], Erasure::Idle),
            (
                Some("t1"),
                None,
                Some("c1"),
                &[],
                Erasure::Erase {
                    token: "t1".into(),
                    customer_id: "c1".into(),
                },
            ),
            // Already done for this token.
            (Some("t1"), Some("t1"), Some("c1"), &[], Erasure::Idle),
            // A new token after an erasure: again.
            (
                Some("t2"),
                Some("t1"),
                Some("c1"),
                &[],
                Erasure::Erase {
                    token: "t2".into(),
                    customer_id: "c1".into(),
                },
            ),
        ];
        for (requested, done, customer, users, want) in cases {
            let done = done.map(|t| crate::crd::speech_service::CustomerDataErasure {
                requested_at: t.into(),
                customer_id: "c1".into(),
                erased_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t0()),
            });
            assert_eq!(
                erasure(requested, done.as_ref(), customer, users),
                want,
                "{requested:?} {customer:?}"
            );
        }
        let Erasure::Blocked { reason, message } = erasure(Some("t1"), None, None, &[]) else {
            panic!("no customer ID");
        };
        assert_eq!(reason, "NoCustomerId");
        assert!(message.contains("spec.customerId"), "{message}");
        let Erasure::Blocked { reason, message } = erasure(Some("t1"), None, Some("c1"), &users)
        else {
            panic!("models remain");
        };
        assert_eq!(reason, "ModelsStillUseService");
        assert!(
            message.contains("CustomLanguageModel/helpdesk"),
            "{message}"
        );
        let many: Vec<String> = (0..12)
            .map(|i| format!("CustomLanguageModel/m{i:02}"))
            .collect();
        let Erasure::Blocked { message, .. } = erasure(Some("t1"), None, Some("c1"), &many) else {
            panic!("models remain");
        };
        assert!(
            message.contains("m09") && !message.contains("m10"),
            "{message}"
        );
        assert!(message.contains("and 2 more"), "{message}");
    }

    #[test]
    fn an_erasure_is_recorded_with_its_condition_and_one_event_per_change() {
        let prev = SpeechServiceStatus::default();
        let blocked = erasure(
            Some("t1"),
            None,
            Some("c1"),
            &["CustomLanguageModel/a".to_string()],
        );
        let (st, event) = after_erasure(&prev, &blocked, None, Some(1), t0());
        let c = condition(&st.conditions, CUSTOMER_DATA_ERASED).expect("condition");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "ModelsStillUseService")
        );
        assert_eq!(
            event.map(|e| (e.warning, e.reason)),
            Some((true, "ModelsStillUseService".to_string()))
        );
        assert_eq!(after_erasure(&st, &blocked, None, Some(1), t0()).1, None);
        assert_eq!(st.customer_data_erasure, None);

        let go = erasure(Some("t1"), None, Some("c1"), &[]);
        let (failed, event) = after_erasure(
            &st,
            &go,
            Some(("ServiceUnavailable", "503 [transaction id x]")),
            Some(1),
            t0(),
        );
        assert_eq!(failed.customer_data_erasure, None, "nothing recorded");
        assert_eq!(
            event.map(|e| (e.warning, e.reason)),
            Some((true, "ServiceUnavailable".to_string()))
        );
        let (done, event) = after_erasure(&failed, &go, None, Some(1), t0());
        let rec = done.customer_data_erasure.clone().expect("recorded");
        assert_eq!(
            (rec.requested_at.as_str(), rec.customer_id.as_str()),
            ("t1", "c1")
        );
        let c = condition(&done.conditions, CUSTOMER_DATA_ERASED).expect("condition");
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "Erased"));
        assert_eq!(
            event.map(|e| (e.warning, e.reason)),
            Some((false, "CustomerDataErased".to_string()))
        );
        // Idle: no change.
        assert_eq!(
            after_erasure(&done, &Erasure::Idle, None, Some(1), t0()),
            (done.clone(), None)
        );
    }

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

    #[test]
    fn a_service_in_use_is_protected_until_its_last_user_is_gone() {
        use Protection::*;
        let cases = [
            // (in use, has the finalizer, being deleted) → step
            ((true, false, false), Add),
            ((true, true, false), Keep),
            ((true, true, true), Keep),
            ((true, false, true), Keep),
            ((false, true, false), Release),
            ((false, true, true), Release),
            ((false, false, false), Keep),
            ((false, false, true), Keep),
        ];
        for ((in_use, has, deleting), want) in cases {
            assert_eq!(
                protection(in_use, has, deleting),
                want,
                "in use {in_use}, finalizer {has}, deleting {deleting}"
            );
        }
    }

    #[test]
    fn a_secret_is_released_once_no_protected_service_names_it() {
        let used = |secret: &'static str| SecretUse {
            secret: Some(secret),
            protected: true,
        };
        let unused = |secret: &'static str| SecretUse {
            secret: Some(secret),
            protected: false,
        };
        let no_ref = SecretUse {
            secret: None,
            protected: true,
        };
        #[allow(clippy::type_complexity)]
        let cases: [(&str, &[&str], Vec<SecretUse<'_>>, &[&str]); 9] = [
            ("still used", &["a"], vec![used("a")], &[]),
            (
                "secretRef changed a → b",
                &["a", "b"],
                vec![used("b")],
                &["a"],
            ),
            ("service deleted (not listed)", &["a"], vec![], &["a"]),
            (
                "no model uses the service",
                &["a"],
                vec![unused("a")],
                &["a"],
            ),
            ("secretRef removed", &["a"], vec![no_ref], &["a"]),
            (
                "shared: another protected service keeps it",
                &["a"],
                vec![unused("a"), used("a")],
                &[],
            ),
            (
                "two services, one moved away",
                &["a", "b"],
                vec![used("b"), unused("a"), used("b")],
                &["a"],
            ),
            ("nothing carries the finalizer", &[], vec![used("a")], &[]),
            (
                "several stale at once",
                &["a", "b", "c"],
                vec![used("c")],
                &["a", "b"],
            ),
        ];
        for (case, carrying, services, want) in cases {
            assert_eq!(
                secrets_to_release(carrying, &services),
                want.to_vec(),
                "{case}"
            );
        }
    }
}
