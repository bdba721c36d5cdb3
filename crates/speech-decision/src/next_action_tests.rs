//! Table tests of `status.nextAction` (`next_action::text`): one line per action variant, the
//! dry-run marking, and that the line is part of the status the decision computes.

use super::next_action::{self, MAX_CHARS};
use super::status::{self as st, Observation, Outcome, Previous};
use super::tests::{acoustic, base};
use super::{
    Action, Dependency, Facts, ModelKind, Observing, OperationKind, ServiceStatus, WaitReason,
    decide,
};
use crate::crd::Phase;
use k8s_openapi::jiff::Timestamp;

type Row = (&'static str, fn(&mut Facts), Action, &'static str);

fn none(_: &mut Facts) {}

fn wait(reason: WaitReason) -> Action {
    Action::Wait { reason }
}

fn observing(drift: Vec<String>) -> Action {
    Action::Observe(Observing {
        phase: Phase::Available,
        service_status: "available".into(),
        drift,
        ignored: vec![],
        upgrade_available: None,
    })
}

#[test]
fn every_action_has_its_line() {
    let rows: Vec<Row> = vec![
        (
            "suspended",
            none,
            Action::Suspended,
            "none: spec.suspend is true",
        ),
        (
            "suspended while deleting",
            |f| f.deleting = true,
            Action::Suspended,
            "none: spec.suspend is true; the deletion waits until it is false",
        ),
        (
            "await spec change",
            none,
            Action::AwaitSpecChange,
            "none: the last failure needs a change of the spec or its inputs",
        ),
        (
            "release: never created",
            |f| f.recorded.customization_id = None,
            Action::ReleaseFinalizer,
            "release the finalizer: no model on the service to delete",
        ),
        (
            "release: retained",
            |f| f.retain_on_delete = true,
            Action::ReleaseFinalizer,
            "release the finalizer: deletionPolicy Retain keeps the model on the service",
        ),
        (
            "release: observed only",
            |f| f.observe_only = true,
            Action::ReleaseFinalizer,
            "release the finalizer: observe-only, the model stays on the service",
        ),
        (
            "delete the model",
            |f| f.deleting = true,
            Action::DeleteModel,
            "delete model id1: the resource is being deleted",
        ),
        (
            "adopt by spec",
            none,
            Action::Adopt {
                customization_id: "id9".into(),
                recovered: false,
            },
            "adopt model id9: spec.customizationId",
        ),
        (
            "adopt by marker",
            none,
            Action::Adopt {
                customization_id: "id9".into(),
                recovered: true,
            },
            "adopt model id9: it carries this resource's ownership marker (created before a restart)",
        ),
        (
            "create",
            |f| f.recorded.customization_id = None,
            Action::Create,
            "create the model: none exists on the service yet",
        ),
        (
            "reset",
            none,
            Action::Reset,
            "reset the model: requested (annotation speech.watson.dev/reset-requested-at)",
        ),
        (
            "recreate",
            none,
            Action::Recreate,
            "re-create the model: model id1 was deleted outside the operator",
        ),
        (
            "adopted model missing",
            none,
            Action::AdoptedModelMissing,
            "none: the adopted model id1 no longer exists on the service (not re-created)",
        ),
        (
            "delete a corpus",
            |f| {
                f.desired.resources.clear();
            },
            Action::DeleteResource { name: "c1".into() },
            "delete corpus c1: no longer in the spec",
        ),
        (
            "delete a grammar",
            |f| {
                f.desired.resources.clear();
                if let Some(o) = f.observed.as_mut() {
                    o.grammars.insert("c1".into());
                }
            },
            Action::DeleteResource { name: "c1".into() },
            "delete grammar c1: no longer in the spec",
        ),
        (
            "corpus turned grammar",
            |f| {
                f.desired
                    .resources
                    .insert("c1".into(), "grammar:application/srgs:abc".into());
            },
            Action::DeleteResource { name: "c1".into() },
            "delete corpus c1: it is a grammar in the spec now",
        ),
        (
            "add a corpus",
            |f| {
                f.desired.resources.insert("c2".into(), "d2".into());
            },
            Action::AddResource {
                name: "c2".into(),
                overwrite: false,
            },
            "add corpus c2",
        ),
        (
            "add a grammar",
            |f| {
                f.desired
                    .resources
                    .insert("g1".into(), "grammar:application/srgs:abc".into());
            },
            Action::AddResource {
                name: "g1".into(),
                overwrite: false,
            },
            "add grammar g1",
        ),
        (
            "replace a corpus",
            |f| {
                f.desired.resources.insert("c1".into(), "d1-new".into());
            },
            Action::AddResource {
                name: "c1".into(),
                overwrite: true,
            },
            "replace corpus c1: its content changed",
        ),
        (
            "a corpus gone from the service",
            none,
            Action::AddResource {
                name: "c1".into(),
                overwrite: false,
            },
            "add corpus c1: missing on the service",
        ),
        (
            "add audio",
            |f| {
                *f = acoustic();
                f.desired.resources.insert("a2".into(), "audio:x".into());
            },
            Action::AddResource {
                name: "a2".into(),
                overwrite: false,
            },
            "add audio a2",
        ),
        (
            "add words",
            none,
            Action::AddWords {
                words: vec!["tomato".into(), "potato".into()],
            },
            "add 2 custom words: new or changed in the spec",
        ),
        (
            "add one translation",
            |f| f.kind = ModelKind::Voice,
            Action::AddWords {
                words: vec!["IEEE".into()],
            },
            "add 1 word translation: new or changed in the spec",
        ),
        (
            "delete a word",
            none,
            Action::DeleteWord {
                word: "tomato".into(),
            },
            "delete the word \"tomato\": no longer in the spec",
        ),
        (
            "upgrade automatically",
            |f| f.newest_version = Some("b.v2021-01-01".into()),
            Action::Upgrade {
                custom_language_model_id: None,
            },
            "upgrade to b.v2021-01-01: a newer base-model version is available (upgradePolicy Automatic)",
        ),
        (
            "upgrade on request",
            |f| {
                f.newest_version = Some("b.v2021-01-01".into());
                f.desired.upgrade_automatic = false;
                f.desired.upgrade_token = Some("t1".into());
            },
            Action::Upgrade {
                custom_language_model_id: None,
            },
            "upgrade to b.v2021-01-01: requested (annotation speech.watson.dev/upgrade-requested-at)",
        ),
        (
            "upgrade to the spec's version",
            |f| f.desired.target_version = Some("b.v2022-01-01".into()),
            Action::Upgrade {
                custom_language_model_id: None,
            },
            "upgrade to b.v2022-01-01: spec.baseModelVersion",
        ),
        (
            "upgrade after the language model",
            none,
            Action::Upgrade {
                custom_language_model_id: Some("lm1".into()),
            },
            "upgrade: the language model is on a newer base-model version",
        ),
        (
            "train: inputs changed",
            |f| f.desired.inputs_digest = "in2".into(),
            Action::Train {
                custom_language_model_id: None,
            },
            "train: the inputs changed since the last training",
        ),
        (
            "train: first time",
            |f| f.recorded.trained_inputs_digest = None,
            Action::Train {
                custom_language_model_id: None,
            },
            "train: not trained yet",
        ),
        (
            "train: requested",
            |f| f.desired.train_token = Some("t1".into()),
            Action::Train {
                custom_language_model_id: None,
            },
            "train: requested (annotation speech.watson.dev/train-requested-at)",
        ),
        (
            "train: the service says untrained",
            none,
            Action::Train {
                custom_language_model_id: None,
            },
            "train: the service reports the model untrained",
        ),
        (
            "finish training",
            none,
            Action::Finish {
                kind: OperationKind::Train,
                succeeded: true,
            },
            "record the finished training",
        ),
        (
            "failed training",
            none,
            Action::Finish {
                kind: OperationKind::Train,
                succeeded: false,
            },
            "record the failed training",
        ),
        (
            "finish upgrade",
            none,
            Action::Finish {
                kind: OperationKind::Upgrade,
                succeeded: true,
            },
            "record the finished upgrade",
        ),
        (
            "failed upgrade",
            none,
            Action::Finish {
                kind: OperationKind::Upgrade,
                succeeded: false,
            },
            "record the failed upgrade",
        ),
        (
            "wait: training",
            none,
            wait(WaitReason::Training),
            "wait: the service is training the model",
        ),
        (
            "wait: training, then delete",
            |f| f.deleting = true,
            wait(WaitReason::Training),
            "wait: the service is training the model, then delete it",
        ),
        (
            "wait: upgrading",
            none,
            wait(WaitReason::Upgrading),
            "wait: the service is upgrading the model",
        ),
        (
            "wait: processing",
            none,
            wait(WaitReason::Processing),
            "wait: the service is analysing the model's data",
        ),
        (
            "wait: the language model",
            none,
            wait(WaitReason::Dependency(
                "waiting for CustomLanguageModel helpdesk to be Ready (now Training)".into(),
            )),
            "wait for CustomLanguageModel helpdesk to be Ready (now Training)",
        ),
        (
            "wait: another dependency message",
            none,
            wait(WaitReason::Dependency(
                "the language model does not exist".into(),
            )),
            "wait: the language model does not exist",
        ),
        (
            "training failed",
            none,
            wait(WaitReason::TrainingFailed),
            "none: training failed on these inputs; change them to retry",
        ),
        (
            "manual training",
            none,
            wait(WaitReason::TrainingRequested),
            "wait: the inputs changed; training.policy is Manual: set the annotation speech.watson.dev/train-requested-at to train",
        ),
        (
            "manual upgrade",
            none,
            wait(WaitReason::UpgradeRequested),
            "wait: a newer base-model version is available; upgradePolicy is Manual: set the annotation speech.watson.dev/upgrade-requested-at to upgrade",
        ),
        (
            "no data",
            none,
            wait(WaitReason::NoData),
            "wait: no data to train on (add corpora, words, grammars or audio)",
        ),
        (
            "invalid resource, over two lines",
            none,
            wait(WaitReason::InvalidResource("c1: bad\n  encoding".into())),
            "none: the service rejected c1: bad encoding; fix the content",
        ),
        (
            "unknown status",
            none,
            wait(WaitReason::UnknownStatus("frozen".into())),
            "wait: the service reports the unknown status \"frozen\"",
        ),
        (
            "up to date",
            none,
            Action::UpToDate,
            "none: Available on the current spec",
        ),
        (
            "observed",
            none,
            observing(vec![]),
            "none: observe only (the service reports the model available)",
        ),
        (
            "observed with drift",
            none,
            observing(vec!["word x".into()]),
            "none: observe only (the service reports the model available; the spec differs, see Ready)",
        ),
    ];
    for (name, setup, action, want) in rows {
        let mut f = base();
        setup(&mut f);
        assert_eq!(next_action::text(&action, &f), want, "{name}");
    }
}

#[test]
fn a_dry_run_marks_every_line_and_says_would_for_skipped_steps() {
    let mut f = base();
    f.dry_run = true;
    f.recorded.customization_id = None;
    f.desired.inputs_digest = "in2".into();
    let rows = [
        (
            Action::Create,
            "dry run: would create the model: none exists on the service yet",
        ),
        (
            Action::Train {
                custom_language_model_id: None,
            },
            "dry run: would train: the inputs changed since the last training",
        ),
        (
            Action::AddResource {
                name: "c1".into(),
                overwrite: true,
            },
            "dry run: would replace corpus c1: its content changed",
        ),
        (
            Action::ReleaseFinalizer,
            "dry run: would release the finalizer: no model on the service to delete",
        ),
        (
            wait(WaitReason::Training),
            "dry run: wait: the service is training the model",
        ),
        (
            Action::UpToDate,
            "dry run: none: Available on the current spec",
        ),
    ];
    for (action, want) in rows {
        assert_eq!(next_action::text(&action, &f), want, "{action:?}");
        assert_eq!(
            action.skipped_in_dry_run(),
            want.starts_with("dry run: would "),
            "{action:?}"
        );
    }
}

#[test]
fn the_skipped_steps_are_the_writes_and_the_finalizer_release() {
    let skipped = [
        Action::DeleteModel,
        Action::Create,
        Action::Reset,
        Action::Recreate,
        Action::DeleteResource { name: "c".into() },
        Action::AddResource {
            name: "c".into(),
            overwrite: false,
        },
        Action::AddWords { words: vec![] },
        Action::DeleteWord { word: "w".into() },
        Action::Upgrade {
            custom_language_model_id: None,
        },
        Action::Train {
            custom_language_model_id: None,
        },
        Action::ReleaseFinalizer,
    ];
    for a in &skipped {
        assert!(a.skipped_in_dry_run(), "{a:?}");
    }
    let performed = [
        Action::Suspended,
        Action::AwaitSpecChange,
        Action::Adopt {
            customization_id: "x".into(),
            recovered: false,
        },
        Action::AdoptedModelMissing,
        Action::Finish {
            kind: OperationKind::Train,
            succeeded: true,
        },
        wait(WaitReason::Processing),
        Action::UpToDate,
        observing(vec![]),
    ];
    for a in &performed {
        assert!(!a.skipped_in_dry_run(), "{a:?}");
    }
}

#[test]
fn a_long_service_message_is_cut_to_one_short_line() {
    let f = base();
    let action = wait(WaitReason::InvalidResource("x".repeat(500)));
    let line = next_action::text(&action, &f);
    assert_eq!(line.chars().count(), MAX_CHARS);
    assert!(line.ends_with('…'));
}

#[test]
fn the_line_is_part_of_the_computed_status_and_stays_put_while_nothing_changes() {
    let mut f = base();
    f.dependency = Dependency::None;
    let action = decide(&f);
    assert_eq!(action, Action::UpToDate);
    let seen = Observation {
        service_status: Some("available".into()),
        versions: vec!["b.v2020-01-01".into()],
        ..Default::default()
    };
    let first = st::next(
        &Previous::default(),
        &f,
        &seen,
        &action,
        &Outcome::default(),
        Timestamp::UNIX_EPOCH,
    );
    assert_eq!(
        first.model.next_action.as_deref(),
        Some("none: Available on the current spec")
    );
    // The same decision again: the same status, so the shell writes nothing.
    let again = st::next(
        &first,
        &f,
        &seen,
        &action,
        &Outcome::default(),
        Timestamp::UNIX_EPOCH,
    );
    assert_eq!(again.model, first.model);
    // The inputs change: the decision and the line change with it.
    f.desired.inputs_digest = "in2".into();
    let action = decide(&f);
    assert!(matches!(action, Action::Train { .. }), "{action:?}");
    if let Some(o) = f.observed.as_mut() {
        o.status = Some(ServiceStatus::Available);
    }
    let trained = st::next(
        &first,
        &f,
        &seen,
        &action,
        &Outcome::default(),
        Timestamp::UNIX_EPOCH,
    );
    assert_eq!(
        trained.model.next_action.as_deref(),
        Some("train: the inputs changed since the last training")
    );
}

#[test]
fn a_failure_says_whether_it_is_retried() {
    assert_eq!(
        next_action::after_failure("InvalidSpec", true, true, false),
        "none: InvalidSpec: the spec or its inputs must change (see Ready)"
    );
    assert_eq!(
        next_action::after_failure("CredentialsRejected", false, true, false),
        "retry: CredentialsRejected: needs the user (see Ready)"
    );
    assert_eq!(
        next_action::after_failure("ServiceUnavailable", false, false, true),
        "dry run: retry: ServiceUnavailable (with backoff)"
    );
}
