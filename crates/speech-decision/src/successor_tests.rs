//! Table tests of the re-create (issue 27, point 5): when a new model is made, each step of its
//! lifecycle, the one switch, a failure, a deletion in the middle, and what status records.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::crd::{OperationRecord, OperationType, Phase, ResourceStatus, SuccessorStatus};
use crate::status::{self, Observation, Outcome, Previous, TrackedResource};
use crate::successor::Successor;
use crate::tests::base;
use crate::{
    Action, Facts, ModelKind, Observed, OperationKind, ResourceClass, ResourceState, ServiceStatus,
    WaitReason,
};

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("time")
}

/// A language model Available on `en-US_Telephony` (the base fixture), its spec on the same base.
fn serving() -> Facts {
    let mut f = base();
    f.base_model_name = Some("en-US_Telephony".into());
    f.current_base = Some("en-US_Telephony".into());
    f
}

/// A new model `new1` in flight with the service reporting `status`; `uploaded`: corpus c1 was
/// uploaded to it (with the spec's digest) and the words were added.
fn in_flight(status: ServiceStatus, uploaded: bool) -> Successor {
    let mut seen = Observation {
        service_status: Some(status.clone()),
        versions: vec!["b.v2020-01-01".into()],
        ..Default::default()
    };
    let mut observed = Observed {
        status: Some(status),
        versions: vec!["b.v2020-01-01".into()],
        ..Default::default()
    };
    if uploaded {
        seen.resources.push(TrackedResource {
            class: ResourceClass::Corpus,
            status: ResourceStatus {
                name: "c1".into(),
                digest: Some("d1".into()),
                ..Default::default()
            },
        });
        observed.resources.insert("c1".into(), ResourceState::Valid);
        observed.words = base().desired.words;
    }
    Successor {
        record: SuccessorStatus {
            customization_id: Some("new1".into()),
            base_model_name: "en-US_Telephony".into(),
            request_token: Some("t1".into()),
            started_at: Some(Time(now())),
            inputs_digest: Some("in1".into()),
            ..Default::default()
        },
        observed: Some(observed),
        seen,
        operation_age: None,
    }
}

fn training_record() -> OperationRecord {
    OperationRecord {
        kind: OperationType::Train,
        started_at: Time(now()),
        inputs_digest: Some("in1".into()),
        expected_finish_at: None,
        running_seen_at: Some(Time(now())),
        started_from: Some(ServiceStatus::Ready),
        finished_at: None,
        outcome: None,
        duration_seconds: None,
        message: None,
    }
}

fn with(mut f: Facts, s: Successor) -> Facts {
    f.successor = Some(s);
    f.desired.recreate_token = Some("t1".into());
    f
}

fn on(a: Action) -> Action {
    Action::Successor(Box::new(a))
}

#[test]
fn each_step_of_a_re_create_in_order() {
    let token = |mut f: Facts| {
        f.desired.recreate_token = Some("t1".into());
        f
    };
    let migrate = |mut f: Facts| {
        f.base_model_name = Some("en-US".into());
        f
    };
    let adopted = |mut f: Facts| {
        f.recorded.adopted = true;
        f
    };
    let busy = |mut f: Facts| {
        f.observed.as_mut().expect("observed").status = Some(ServiceStatus::Training);
        f
    };
    let done = |mut f: Facts| {
        f.recorded.recreate_token = Some("t1".into());
        f
    };
    let training = {
        let mut s = in_flight(ServiceStatus::Training, true);
        s.record.current_operation = Some(training_record());
        s
    };
    let trained_now = {
        let mut s = in_flight(ServiceStatus::Available, true);
        s.record.current_operation = Some(training_record());
        s
    };
    let failed_training = {
        let mut s = in_flight(ServiceStatus::Failed, true);
        s.record.current_operation = Some(training_record());
        s
    };
    let trained = {
        let mut s = in_flight(ServiceStatus::Available, true);
        s.record.trained_inputs_digest = Some("in1".into());
        s
    };
    let stale = {
        let mut s = trained.clone();
        s.record.trained_inputs_digest = Some("in0".into());
        s
    };
    let gone = {
        let mut s = in_flight(ServiceStatus::Pending, false);
        s.observed = None;
        s
    };
    let cases: Vec<(&str, Facts, Action)> = vec![
        ("nothing asked", serving(), Action::UpToDate),
        ("a new token", token(serving()), Action::CreateSuccessor),
        (
            "a token already acted on",
            done(token(serving())),
            Action::UpToDate,
        ),
        (
            "a new base model",
            migrate(serving()),
            Action::CreateSuccessor,
        ),
        (
            "an adopted model is never re-created",
            adopted(token(serving())),
            Action::UpToDate,
        ),
        (
            "the current model is busy first",
            busy(token(serving())),
            Action::Wait {
                reason: WaitReason::Training,
            },
        ),
        (
            "data first",
            with(serving(), in_flight(ServiceStatus::Pending, false)),
            on(Action::AddResource {
                name: "c1".into(),
                overwrite: false,
            }),
        ),
        (
            "then training",
            with(serving(), in_flight(ServiceStatus::Ready, true)),
            on(Action::Train {
                custom_language_model_id: None,
            }),
        ),
        (
            "wait while it trains",
            with(serving(), training),
            on(Action::Wait {
                reason: WaitReason::Training,
            }),
        ),
        (
            "record the end",
            with(serving(), trained_now),
            on(Action::Finish {
                kind: OperationKind::Train,
                succeeded: true,
            }),
        ),
        (
            "then the one switch",
            with(serving(), trained.clone()),
            Action::SwitchToSuccessor,
        ),
        (
            "trained on older inputs: train again, never switch",
            with(serving(), stale),
            on(Action::Train {
                custom_language_model_id: None,
            }),
        ),
        (
            "its training failed",
            with(serving(), failed_training),
            Action::AbandonSuccessor {
                reason: "the training of the new model new1 failed on the service".into(),
            },
        ),
        (
            "it vanished",
            with(serving(), gone),
            Action::AbandonSuccessor {
                reason: "the new model new1 vanished from the service".into(),
            },
        ),
    ];
    for (name, facts, want) in cases {
        assert_eq!(crate::decide(&facts), want, "{name}");
    }
}

#[test]
fn a_failed_re_create_is_retried_only_on_a_new_request_base_or_inputs() {
    let failed = |token: &str, base: &str| {
        let mut s = in_flight(ServiceStatus::Failed, false);
        s.observed = None;
        s.record.customization_id = None;
        s.record.phase = Some(Phase::Failed);
        s.record.request_token = Some(token.into());
        s.record.base_model_name = base.into();
        s.record.message = Some("the training of the new model new1 failed".into());
        s
    };
    // The same token, recorded as acted upon: the model stays as it is and says why.
    let mut f = with(serving(), failed("t1", "en-US_Telephony"));
    f.recorded.recreate_token = Some("t1".into());
    assert_eq!(crate::decide(&f), Action::UpToDate);
    assert!(
        crate::next_action::text(&Action::UpToDate, &f).contains("the re-create failed"),
        "{}",
        crate::next_action::text(&Action::UpToDate, &f)
    );
    // A new token retries.
    f.desired.recreate_token = Some("t2".into());
    assert_eq!(crate::decide(&f), Action::CreateSuccessor);
    // A migration that failed is not retried on the same base and inputs, but on new inputs.
    let mut m = with(serving(), failed("", "en-US"));
    m.desired.recreate_token = None;
    m.base_model_name = Some("en-US".into());
    assert_eq!(crate::decide(&m), Action::UpToDate);
    m.desired.inputs_digest = "in2".into();
    m.recorded.trained_inputs_digest = Some("in2".into());
    assert_eq!(crate::decide(&m), Action::CreateSuccessor);
}

#[test]
fn deleting_in_the_middle_deletes_the_current_model_then_the_new_one() {
    let mut f = with(serving(), in_flight(ServiceStatus::Ready, true));
    f.deleting = true;
    assert_eq!(crate::decide(&f), Action::DeleteModel);
    f.observed = None;
    assert_eq!(
        crate::decide(&f),
        Action::DeleteMarked {
            customization_id: "new1".into(),
            duplicate: false
        }
    );
    f.successor = None;
    assert_eq!(crate::decide(&f), Action::ReleaseFinalizer);
}

#[test]
fn only_language_models_the_operator_manages_are_re_created() {
    let mut f = token_facts();
    f.kind = ModelKind::Acoustic;
    assert!(crate::successor::decide(&f).is_none());
    let mut f = token_facts();
    f.observe_only = true;
    assert!(crate::successor::decide(&f).is_none());
}

fn token_facts() -> Facts {
    let mut f = serving();
    f.desired.recreate_token = Some("t1".into());
    f
}

fn previous_available() -> Previous {
    let f = serving();
    let seen = Observation {
        service_status: Some(ServiceStatus::Available),
        versions: vec!["b.v2020-01-01".into()],
        ..Default::default()
    };
    let mut prev = Previous::default();
    prev.model.customization_id = Some("id1".into());
    status::next(
        &prev,
        &f,
        &seen,
        &Action::UpToDate,
        &Outcome::default(),
        now(),
    )
}

fn ready(st: &crate::crd::ModelStatus) -> (String, String) {
    let c = status::condition(&st.conditions, status::READY).expect("Ready");
    (c.status.clone(), c.reason.clone())
}

#[test]
fn status_records_the_new_model_switches_once_and_records_a_failure() {
    let prev = previous_available();
    let seen = Observation {
        service_status: Some(ServiceStatus::Available),
        versions: vec!["b.v2020-01-01".into()],
        ..Default::default()
    };
    // Created: the successor is recorded, the serving model and its Ready stay.
    let created = Outcome {
        created_id: Some("new1".into()),
        ..Default::default()
    };
    let f = token_facts();
    let up = status::next(&prev, &f, &seen, &Action::CreateSuccessor, &created, now());
    let s = up.model.successor.clone().expect("successor");
    assert_eq!(s.customization_id.as_deref(), Some("new1"));
    assert_eq!(s.request_token.as_deref(), Some("t1"));
    assert_eq!(up.model.customization_id.as_deref(), Some("id1"));
    assert_eq!(up.model.phase, Some(Phase::Available));
    assert_eq!(ready(&up.model), ("True".into(), "Available".into()));
    let recreated = status::condition(&up.model.conditions, status::RECREATED).expect("cond");
    assert_eq!(recreated.reason, "Recreating");

    // Switch: one write names the new model, its versions and trained inputs; the token is done.
    let mut trained = in_flight(ServiceStatus::Available, true);
    trained.record.trained_inputs_digest = Some("in1".into());
    trained.seen.versions = vec!["en-US.v2024-05-01".into()];
    trained.record.base_model_name = "en-US".into();
    let f = with(serving(), trained.clone());
    let up = status::next(
        &prev,
        &f,
        &seen,
        &Action::SwitchToSuccessor,
        &Outcome::default(),
        now(),
    );
    assert_eq!(up.model.customization_id.as_deref(), Some("new1"));
    assert_eq!(up.model.base_model_name.as_deref(), Some("en-US"));
    assert_eq!(
        up.model.base_model_version.as_deref(),
        Some("en-US.v2024-05-01")
    );
    assert_eq!(up.model.trained_inputs_digest.as_deref(), Some("in1"));
    assert_eq!(up.model.recreate_request_token.as_deref(), Some("t1"));
    assert!(up.model.successor.is_none());
    assert_eq!(up.resources.len(), 1, "the new model's corpus list");
    assert_eq!(ready(&up.model), ("True".into(), "Available".into()));
    let recreated = status::condition(&up.model.conditions, status::RECREATED).expect("cond");
    assert_eq!(
        (recreated.status.as_str(), recreated.reason.as_str()),
        ("True", "Recreated")
    );
    let note =
        status::event(&prev.model, &up.model, &Action::SwitchToSuccessor, false).expect("event");
    assert_eq!(note.reason, "Recreated");

    // A failure: the new model is given up, the serving model stays, the reason is in status.
    let f = with(serving(), in_flight(ServiceStatus::Failed, true));
    let give_up = Action::AbandonSuccessor {
        reason: "the training of the new model new1 failed on the service".into(),
    };
    let up = status::next(&prev, &f, &seen, &give_up, &Outcome::default(), now());
    assert_eq!(up.model.customization_id.as_deref(), Some("id1"));
    let s = up.model.successor.clone().expect("failed successor");
    assert_eq!(s.customization_id, None);
    assert_eq!(s.phase, Some(Phase::Failed));
    assert!(s.message.as_deref().is_some_and(|m| m.contains("failed")));
    assert_eq!(up.model.recreate_request_token.as_deref(), Some("t1"));
    assert_eq!(ready(&up.model), ("True".into(), "Available".into()));
    let recreated = status::condition(&up.model.conditions, status::RECREATED).expect("cond");
    assert_eq!(
        (recreated.status.as_str(), recreated.reason.as_str()),
        ("False", "RecreateFailed")
    );
}

/// The service refuses the new model's create (a base it does not offer): the attempt is recorded
/// as failed, the serving model stays Ready, and the same request is not repeated.
#[test]
fn a_refused_create_is_recorded_as_the_failure_of_the_re_create() {
    let prev = previous_available();
    let mut f = token_facts();
    f.base_model_name = Some("en-US".into());
    let refused = Action::AbandonSuccessor {
        reason: "the new model was refused: base model en-US is not offered".into(),
    };
    let seen = Observation::default();
    let up = status::next(&prev, &f, &seen, &refused, &Outcome::default(), now());
    let s = up.model.successor.clone().expect("the failed attempt");
    assert_eq!(
        (s.customization_id, s.phase.clone()),
        (None, Some(Phase::Failed))
    );
    assert_eq!(s.base_model_name, "en-US");
    assert_eq!(up.model.recreate_request_token.as_deref(), Some("t1"));
    assert_eq!(ready(&up.model), ("True".into(), "Available".into()));
    let mut again = f.clone();
    again.recorded.recreate_token = Some("t1".into());
    again.successor = Some(Successor {
        record: up.model.successor.clone().expect("record"),
        ..Default::default()
    });
    assert_eq!(crate::decide(&again), Action::UpToDate);
    // Back on the current base: the failed attempt no longer applies and goes from status.
    let failed = status::next(&prev, &again, &seen, &refused, &Outcome::default(), now());
    again.base_model_name = Some("en-US_Telephony".into());
    let back = status::next(
        &failed,
        &again,
        &seen,
        &Action::UpToDate,
        &Outcome::default(),
        now(),
    );
    assert!(back.model.successor.is_none());
    assert!(status::condition(&back.model.conditions, status::RECREATED).is_none());
}

#[test]
fn a_step_on_the_new_model_records_its_upload_and_its_training() {
    let prev = previous_available();
    let seen = Observation::default();
    let f = with(serving(), in_flight(ServiceStatus::Pending, false));
    let add = on(Action::AddResource {
        name: "c1".into(),
        overwrite: false,
    });
    let up = status::next(&prev, &f, &seen, &add, &Outcome::default(), now());
    let s = up.model.successor.expect("successor");
    assert_eq!(s.corpora.len(), 1);
    assert_eq!(s.corpora[0].digest.as_deref(), Some("d1"));
    assert!(
        up.resources.is_empty(),
        "the serving model's lists are untouched"
    );
    let f = with(serving(), in_flight(ServiceStatus::Ready, true));
    let train = on(Action::Train {
        custom_language_model_id: None,
    });
    let up = status::next(&prev, &f, &seen, &train, &Outcome::default(), now());
    let s = up.model.successor.expect("successor");
    assert_eq!(s.phase, Some(Phase::Training));
    assert!(s.current_operation.is_some());
    assert!(up.model.current_operation.is_none());
    assert!(
        up.model
            .next_action
            .as_deref()
            .is_some_and(|n| n.starts_with("new model new1: train")),
        "{:?}",
        up.model.next_action
    );
}
