//! Table tests of the evaluation gate (issue 28, point 3): a retraining or an upgrade is built
//! beside the model in service, the switch waits for both measurements and the tolerance, a
//! promote token overrides it, and what status and Events say.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::crd::evaluation::{EvaluationStatus, Measurement};
use crate::crd::{ResourceStatus, SuccessorStatus};
use crate::evaluation::measurement_key;
use crate::gate::{Gate, PROMOTED, candidate_key, serving_key};
use crate::status::{self, Observation, Outcome, Previous, TrackedResource};
use crate::successor::Successor;
use crate::tests::base;
use crate::{
    Action, Facts, Observed, ResourceClass, ResourceState, ServiceStatus, WaitReason, decide,
};

const SPEC: &str = r#"{"testSet":"t"}"#;

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("time")
}

/// A language model in service (`id1`, trained on `in1`) with a gate of `tolerance` points and
/// no measurement yet.
fn gated(tolerance: i64) -> Facts {
    let mut f = base();
    f.base_model_name = Some("en-US_Telephony".into());
    f.current_base = Some("en-US_Telephony".into());
    f.gate = Some(Gate {
        tolerance_points: tolerance,
        measured_spec: SPEC.into(),
        recorded: EvaluationStatus::default(),
    });
    f
}

/// The spec's data changed: the model in service is trained on `in1`, the spec is `in2`.
fn changed(mut f: Facts) -> Facts {
    f.desired.inputs_digest = "in2".into();
    f
}

/// The new model `new1`, fed and trained on `in2`, idle.
fn trained_beside() -> Successor {
    Successor {
        record: SuccessorStatus {
            customization_id: Some("new1".into()),
            base_model_name: "en-US_Telephony".into(),
            started_at: Some(Time(now())),
            inputs_digest: Some("in2".into()),
            trained_inputs_digest: Some("in2".into()),
            ..Default::default()
        },
        observed: Some(Observed {
            status: Some(ServiceStatus::Available),
            versions: vec!["b.v2020-01-01".into()],
            resources: [("c1".to_string(), ResourceState::Valid)].into(),
            words: base().desired.words,
            ..Default::default()
        }),
        seen: Observation {
            service_status: Some(ServiceStatus::Available),
            versions: vec!["b.v2020-01-01".into()],
            resources: vec![TrackedResource {
                class: ResourceClass::Corpus,
                status: ResourceStatus {
                    name: "c1".into(),
                    digest: Some("d1".into()),
                    ..Default::default()
                },
            }],
            ..Default::default()
        },
        operation_age: None,
    }
}

fn measured(key: String, id: &str, bp: i64) -> Measurement {
    Measurement {
        customization_id: id.into(),
        base_model_version: Some("b.v2020-01-01".into()),
        trained_inputs_digest: None,
        key,
        wer_basis_points: Some(bp),
        wer: Some(crate::wer::percent(bp as u64)),
        items: 3,
        words: 30,
        errors: 0,
        measured_at: Time(now()),
    }
}

/// `f` with the new model beside and the measurements given (basis points; `None`: not
/// measured).
fn judged(mut f: Facts, serving: Option<i64>, candidate: Option<i64>) -> Facts {
    let s = trained_beside();
    let g = f.gate.clone().expect("gate");
    let sk = serving_key(&f, &g).expect("serving key");
    let ck = candidate_key(&s, &g).expect("candidate key");
    let gate = f.gate.as_mut().expect("gate");
    gate.recorded.current = serving.map(|bp| measured(sk, "id1", bp));
    gate.recorded.candidate = candidate.map(|bp| measured(ck, "new1", bp));
    f.successor = Some(s);
    f
}

fn held(a: &Action) -> Option<(&'static str, String)> {
    match a {
        Action::Successor(inner) => match inner.as_ref() {
            Action::Wait {
                reason: WaitReason::Measuring(m),
            } => Some(("Measuring", m.clone())),
            Action::Wait {
                reason: WaitReason::QualityGateFailed(m),
            } => Some(("QualityGateFailed", m.clone())),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn under_a_gate_retrainings_and_upgrades_are_built_beside_the_model_in_service() {
    let newer = |mut f: Facts| {
        f.newest_version = Some("b.v2021-01-01".into());
        f
    };
    let ungated = |mut f: Facts| {
        f.gate = None;
        f
    };
    let manual = |mut f: Facts| {
        f.desired.upgrade_automatic = false;
        f
    };
    let pinned = |mut f: Facts| {
        f.desired.target_version = Some("b.v2020-06-01".into());
        f
    };
    let failed_before = |mut f: Facts| {
        f.successor = Some(Successor {
            record: SuccessorStatus {
                base_model_name: "en-US_Telephony".into(),
                inputs_digest: Some("in2".into()),
                message: Some("training failed".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        f
    };
    let never_trained = |mut f: Facts| {
        f.recorded.trained_inputs_digest = None;
        f
    };
    let training_manual = |mut f: Facts| {
        f.desired.train_on_change = false;
        f
    };
    let cases: Vec<(&str, Facts, Action)> = vec![
        ("nothing changed", gated(0), Action::UpToDate),
        (
            "data changed: a new model beside",
            changed(gated(0)),
            Action::CreateSuccessor,
        ),
        (
            "data changed, no gate: trained in place",
            ungated(changed(gated(0))),
            Action::Train {
                custom_language_model_id: None,
            },
        ),
        (
            "a newer version, upgradePolicy Automatic: a new model beside (created on it)",
            newer(gated(0)),
            Action::CreateSuccessor,
        ),
        (
            "a newer version, no gate: upgraded in place",
            ungated(newer(gated(0))),
            Action::Upgrade {
                custom_language_model_id: None,
            },
        ),
        (
            "a newer version, upgradePolicy Manual: waits for the request as without a gate",
            manual(newer(gated(0))),
            Action::Wait {
                reason: WaitReason::UpgradeRequested,
            },
        ),
        (
            "spec.baseModelVersion pins a version older than one known: upgraded in place",
            pinned(newer(gated(0))),
            Action::Upgrade {
                custom_language_model_id: None,
            },
        ),
        (
            "spec.baseModelVersion pins a version newer than any known: a new model beside",
            {
                let mut f = gated(0);
                f.desired.upgrade_automatic = false;
                f.desired.target_version = Some("b.v2022-01-01".into());
                f
            },
            Action::CreateSuccessor,
        ),
        (
            "the attempt on these inputs failed: the model in service stays as it is",
            failed_before(changed(gated(0))),
            Action::UpToDate,
        ),
        (
            "the first training is made in place (nothing to compare with)",
            never_trained(changed(gated(0))),
            Action::Train {
                custom_language_model_id: None,
            },
        ),
        (
            "training.policy Manual: no new model until a train request",
            training_manual(changed(gated(0))),
            Action::Wait {
                reason: WaitReason::TrainingRequested,
            },
        ),
    ];
    for (what, f, want) in cases {
        assert_eq!(decide(&f), want, "{what}");
    }
    let mut requested = training_manual(changed(gated(0)));
    requested.desired.train_token = Some("now".into());
    assert_eq!(
        decide(&requested),
        Action::CreateSuccessor,
        "a train request under Manual builds beside"
    );
}

#[test]
fn the_switch_waits_for_both_measurements_and_the_tolerance() {
    let switch = Action::SwitchToSuccessor;
    let cases: Vec<(&str, Facts, Option<&str>)> = vec![
        (
            "nothing measured: measure the new model",
            judged(changed(gated(0)), None, None),
            Some("Measuring"),
        ),
        (
            "the new model measured, the model in service not: measure the baseline",
            judged(changed(gated(0)), None, Some(1000)),
            Some("Measuring"),
        ),
        (
            "equal: switch",
            judged(changed(gated(0)), Some(1000), Some(1000)),
            None,
        ),
        (
            "better: switch",
            judged(changed(gated(0)), Some(1000), Some(500)),
            None,
        ),
        (
            "10 points worse, tolerance 0: held",
            judged(changed(gated(0)), Some(1000), Some(2000)),
            Some("QualityGateFailed"),
        ),
        (
            "10 points worse, tolerance 10: switch",
            judged(changed(gated(10)), Some(1000), Some(2000)),
            None,
        ),
        (
            "10.01 points worse, tolerance 10: held",
            judged(changed(gated(10)), Some(1000), Some(2001)),
            Some("QualityGateFailed"),
        ),
    ];
    for (what, f, want) in cases {
        let got = decide(&f);
        match want {
            None => assert_eq!(got, switch, "{what}"),
            Some(reason) => assert_eq!(held(&got).map(|h| h.0), Some(reason), "{what}: {got:?}"),
        }
    }

    // The failure names both WERs, the difference, the tolerance and the three ways on.
    let f = judged(changed(gated(0)), Some(1000), Some(2000));
    let (_, message) = held(&decide(&f)).expect("held");
    for part in [
        "new1",
        "20.00%",
        "10.00%",
        "10.00 points worse",
        "id1",
        "toleranceWerPoints",
        crate::crd::PROMOTE_REQUESTED_AT,
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }

    // A measurement of an older training of the new model is not its measurement.
    let mut stale = judged(changed(gated(0)), Some(1000), Some(500));
    if let Some(c) = stale
        .gate
        .as_mut()
        .and_then(|g| g.recorded.candidate.as_mut())
    {
        c.key = measurement_key("new1", Some("b.v2020-01-01"), Some("in0"), SPEC);
    }
    assert_eq!(held(&decide(&stale)).map(|h| h.0), Some("Measuring"));

    // A promote token not acted on yet switches whatever the WER; one acted on does not.
    let mut promote = judged(changed(gated(0)), Some(1000), Some(9000));
    promote.desired.promote_token = Some("p1".into());
    assert_eq!(decide(&promote), switch);
    promote.recorded.promote_token = Some("p1".into());
    assert_eq!(
        held(&decide(&promote)).map(|h| h.0),
        Some("QualityGateFailed")
    );

    // Without a gate the trained new model is switched to at once (issue 27).
    let mut ungated = judged(changed(gated(0)), Some(1000), Some(9000));
    ungated.gate = None;
    assert_eq!(decide(&ungated), switch);
}

fn previous_available(f: &Facts) -> Previous {
    let seen = Observation {
        service_status: Some(ServiceStatus::Available),
        versions: vec!["b.v2020-01-01".into()],
        ..Default::default()
    };
    let mut prev = Previous::default();
    prev.model.customization_id = Some("id1".into());
    prev.model.trained_inputs_digest = Some("in1".into());
    let up = status::next(
        &prev,
        f,
        &seen,
        &Action::UpToDate,
        &Outcome::default(),
        now(),
    );
    Previous {
        model: up.model,
        ..prev
    }
}

fn promoted(st: &crate::crd::ModelStatus) -> (String, String, String) {
    let c = status::condition(&st.conditions, PROMOTED).expect("Promoted");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[test]
fn status_says_what_the_gate_holds_and_warns_once() {
    let f = judged(changed(gated(0)), Some(1000), Some(2000));
    let prev = previous_available(&gated(0));
    assert_eq!(promoted(&prev.model).0, "True", "in service, nothing waits");
    let seen = Observation {
        service_status: Some(ServiceStatus::Available),
        versions: vec!["b.v2020-01-01".into()],
        ..Default::default()
    };
    let action = decide(&f);
    let up = status::next(&prev, &f, &seen, &action, &Outcome::default(), now());
    let (ok, reason, message) = promoted(&up.model);
    assert_eq!(
        (ok.as_str(), reason.as_str()),
        ("False", "QualityGateFailed")
    );
    assert!(message.contains("20.00%") && message.contains("10.00%"));
    // The model in service is untouched: Ready, same ID; the hold is settled, not in progress.
    let cond = |t: &str| {
        status::condition(&up.model.conditions, t)
            .map(|c| c.status.clone())
            .unwrap_or_default()
    };
    assert_eq!(up.model.customization_id.as_deref(), Some("id1"));
    assert_eq!(
        (
            cond(status::READY),
            cond(status::RECONCILING),
            cond(status::STALLED)
        ),
        ("True".into(), "False".into(), "False".into())
    );
    assert!(
        up.model
            .next_action
            .as_deref()
            .is_some_and(|n| n.contains("hold:") && n.contains("promote-requested-at")),
        "{:?}",
        up.model.next_action
    );
    let event = status::event(&prev.model, &up.model, &action, false).expect("one Warning");
    assert_eq!(
        (event.reason.as_str(), event.warning),
        ("QualityGateFailed", true)
    );
    let again = status::next(
        &Previous {
            model: up.model.clone(),
            ..prev.clone()
        },
        &f,
        &seen,
        &action,
        &Outcome::default(),
        now(),
    );
    assert_eq!(
        status::event(&up.model, &again.model, &action, false),
        None,
        "no second Event for the same hold"
    );

    // Promoted anyway: the switch names the new model and records the token.
    let mut promote = f.clone();
    promote.desired.promote_token = Some("p1".into());
    let action = decide(&promote);
    assert_eq!(action, Action::SwitchToSuccessor);
    let up = status::next(&prev, &promote, &seen, &action, &Outcome::default(), now());
    assert_eq!(up.model.customization_id.as_deref(), Some("new1"));
    assert_eq!(up.model.promote_request_token.as_deref(), Some("p1"));
    let (ok, reason, message) = promoted(&up.model);
    assert_eq!((ok.as_str(), reason.as_str()), ("True", "Promoted"));
    assert!(message.contains("promote-requested-at"), "{message}");

    // A passing switch says both WERs; a token seen while nothing is built is used up.
    let pass = judged(changed(gated(0)), Some(1000), Some(900));
    let up = status::next(
        &prev,
        &pass,
        &seen,
        &decide(&pass),
        &Outcome::default(),
        now(),
    );
    let (ok, _, message) = promoted(&up.model);
    assert_eq!(ok, "True");
    assert!(
        message.contains("9.00%") && message.contains("10.00%"),
        "{message}"
    );
    let mut idle = gated(0);
    idle.desired.promote_token = Some("early".into());
    let up = status::next(
        &prev,
        &idle,
        &seen,
        &decide(&idle),
        &Outcome::default(),
        now(),
    );
    assert_eq!(up.model.promote_request_token.as_deref(), Some("early"));

    // Without a gate the condition goes.
    let mut off = gated(0);
    off.gate = None;
    let up = status::next(
        &prev,
        &off,
        &seen,
        &decide(&off),
        &Outcome::default(),
        now(),
    );
    assert!(status::condition(&up.model.conditions, PROMOTED).is_none());
}
