//! The status to write for a decision, pure: phase, conditions with stable reasons and messages,
//! the operation record and history, warnings, the Event to emit and when to look again.
//!
//! Status remembers what was observed and uploaded, never what was asked for: the per-resource
//! lists come from the service's listings (plus the digest of what the operator uploaded), the
//! word count from the last word listing. Conditions follow the Kubernetes API conventions
//! (`type`, `status`, `reason`, `message`, `observedGeneration`; the transition time moves only
//! when the status changes).
//!
//! By concern: [`conditions`] (phase, conditions, the Reconciling/Stalled table, Events),
//! [`history`] (the operation record, history, expected durations and overdue operations),
//! [`polling`] (when to look again, listing wake-ups, data taken from the record), [`failures`]
//! (terminal reasons, the status of a failed reconcile, IBM's error field); this file holds the
//! shapes and [`next`], which puts them together. No submodule reads the clock: the time of the
//! write is an argument.

pub mod conditions;
pub mod failures;
pub mod history;
pub mod polling;
pub mod recreate;

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// What kind of data a resource is (defined with the facts; re-exported where status uses it).
pub use crate::ResourceClass;
pub use conditions::*;
pub use failures::*;
pub use history::*;
pub use polling::*;
pub use recreate::RECREATED;

use crate::crd::acoustic_model::TrainedWith;
use crate::crd::{ModelStatus, OperationOutcome, Phase, ResourceStatus};
use crate::{Action, Dependency, Facts, ModelKind, OperationKind, ServiceStatus, WaitReason};
use history::{WordRecord, record_action};

/// One data resource as status shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedResource {
    pub class: ResourceClass,
    pub status: ResourceStatus,
}

/// The status fields the decision computes for every kind; the typed per-kind status is built
/// from it (the operator's `model::ModelResource::status_from`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusUpdate {
    pub model: ModelStatus,
    /// Corpora, grammars or audio as last observed (plus what was just uploaded).
    pub resources: Vec<TrackedResource>,
    /// Custom words on the service at the last word listing; `None` when unknown (words were just
    /// sent or deleted, or never listed).
    pub word_count: Option<i64>,
    /// Digest of the custom words the service holds ([`crate::digest::language_words`]), as the
    /// operator last read them or sent them (`status.wordsDigest`); `None` when unknown. While it
    /// matches the spec's words, a check does not list the words (issue 11).
    pub words_digest: Option<String>,
    /// The language model an acoustic model's last training started with
    /// (`status.trainedWithLanguageModel`); `None` for the other kinds, and for an acoustic
    /// model never trained or trained without one.
    pub trained_with_language_model: Option<TrainedWith>,
}

/// What the shell saw of the model on the service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// The service's status string (`pending`, `ready`, `training`, `available`, ...).
    pub service_status: Option<ServiceStatus>,
    /// Base-model versions the model supports.
    pub versions: Vec<String>,
    /// The model's resources (from the listings, or the record when it was trusted).
    pub resources: Vec<TrackedResource>,
    /// User words counted by a word listing made in this reconcile.
    pub word_count: Option<i64>,
    /// The digest of the words that listing found ([`crate::digest::language_words`]).
    pub words_digest: Option<String>,
    /// The model's `error` field as the service reports it (raw; see [`service_error_summary`]).
    pub service_error: Option<String>,
    /// The model's last-change time as the listing shows it (`updated`; TTS `last_modified`).
    pub service_updated: Option<String>,
}

/// What performing the action produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The customization ID of a model just created.
    pub created_id: Option<String>,
    /// Training warnings from the service.
    pub warnings: Vec<String>,
    /// A train refused with "No input data modified since last training": treat as trained.
    pub already_trained: bool,
}

/// An Event to emit after the status write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

/// Polling settings (plain data from the operator's flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Between drift checks of Available models and while waiting for the user.
    pub drift_interval: Duration,
    /// Longest wait between two checks of a running operation.
    pub max_poll_interval: Duration,
    /// Expected training length before the model has a history of its own.
    pub expected_training: Duration,
    /// A fixed interval for every wait on the service (the benchmarks' baseline), if set.
    pub fixed_poll: Option<Duration>,
    /// Expected analysis length of one resource.
    pub expected_analysis: Duration,
    /// Operations longer than this many times their expected length are overdue.
    pub overdue_factor: u32,
    /// Expected seconds of acoustic training per second of audio (IBM: 1).
    pub training_per_audio_second: f64,
}

/// The recorded status, as the decision reads it: the same shape as what it writes.
pub type Previous = StatusUpdate;

/// The status after `action` was performed with `outcome`. Pure; `now` is the time of the write.
pub fn next(
    prev: &Previous,
    facts: &Facts,
    seen: &Observation,
    action: &Action,
    outcome: &Outcome,
    now: Timestamp,
) -> StatusUpdate {
    let generation = facts.generation;
    if matches!(action, Action::Suspended) {
        return suspended(prev, facts, action, now);
    }
    if matches!(action, Action::AwaitSpecChange) {
        return prev.clone();
    }
    let mut st = prev.model.clone();
    st.observed_generation = generation;
    let digest = facts.desired.inputs_digest.clone();
    if !digest.is_empty() {
        st.inputs_digest = Some(digest.clone());
    }
    if let Some(s) = &seen.service_status {
        st.service_status = Some(s.clone());
        st.progress = Some(if *s == ServiceStatus::Available {
            100
        } else {
            0
        });
        // The service has taken up the operation: from now on, a status like the one before the
        // call is its end, not the service's lag.
        if let Some(op) = st.current_operation.as_mut()
            && op.running_seen_at.is_none()
            && matches!(s, ServiceStatus::Training | ServiceStatus::Upgrading)
        {
            op.running_seen_at = Some(Time(now));
        }
    }
    if seen.service_updated.is_some() {
        st.service_updated = seen.service_updated.clone();
    }
    // The check that carried a new `reconcile-requested-at` read everything: done.
    if facts.reconcile_requested() {
        st.reconcile_request_token = facts.desired.reconcile_token.clone();
    }
    if !seen.versions.is_empty() {
        st.versions = seen.versions.clone();
        st.base_model_version = seen.versions.last().cloned();
    }
    if let Some(base) = &facts.current_base {
        st.base_model_name = Some(base.clone());
    }
    let mut resources = seen.resources.clone();
    let mut words = WordRecord {
        count: seen.word_count.or(prev.word_count),
        digest: seen.words_digest.clone().or(prev.words_digest.clone()),
    };
    if action.on_successor() || *action == Action::SwitchToSuccessor {
        recreate::record(
            &mut st,
            &mut resources,
            &mut words,
            facts,
            action,
            outcome,
            now,
        );
    } else {
        record_action(
            &mut st,
            &mut resources,
            &mut words,
            facts,
            action,
            outcome,
            now,
        );
        recreate::forget(&mut st, facts, action);
    }
    let mut ready = overdue(&st, &resources, action, &facts.expected, now)
        .map(|m| ("OperationOverdue", m))
        .unwrap_or_else(|| ready_reason(action, facts.deleting));
    let training_failed = matches!(
        action,
        Action::Finish {
            kind: OperationKind::Train,
            succeeded: false
        } | Action::Wait {
            reason: WaitReason::TrainingFailed
        }
    );
    if training_failed
        && let Some(summary) = seen
            .service_error
            .as_deref()
            .and_then(service_error_summary)
    {
        let message = format!(
            "training failed on the service: {summary}; change the inputs (or train again with the annotation speech.watson.dev/train-requested-at) to retry"
        );
        if let Some(last) = st.history.first_mut()
            && last.outcome == Some(OperationOutcome::Failed)
            && matches!(action, Action::Finish { .. })
        {
            last.message = Some(format!("the service reported: {summary}"));
        }
        ready = ("TrainingFailed", message);
    }
    set_conditions(&mut st, facts, action, ready, now);
    recreate::set_recreated(&mut st, facts, action, now);
    crate::gate::set_promoted(&mut st, facts, action, now);
    // A `promote-requested-at` token is used by the switch it allows, or seen while no new
    // model is built (then it promotes nothing: a later change is gated again).
    let building = facts
        .successor
        .as_ref()
        .and_then(|s| s.in_flight())
        .is_some()
        || *action == Action::CreateSuccessor;
    if facts.promote_requested() && (*action == Action::SwitchToSuccessor || !building) {
        st.promote_request_token = facts.desired.promote_token.clone();
    }
    st.next_action = Some(crate::next_action::text(action, facts));
    if facts.kind == ModelKind::Voice && *action == Action::UpToDate {
        st.trained_inputs_digest = Some(digest);
    }
    StatusUpdate {
        model: st,
        resources,
        word_count: words.count,
        words_digest: words.digest,
        trained_with_language_model: trained_with(prev, facts, action, outcome),
    }
}

/// The status of a suspended model: the record as it was, the phase `Suspended`, the Ready
/// condition saying so (and whether a deletion waits), and neither reconciling nor stalled.
fn suspended(prev: &Previous, facts: &Facts, action: &Action, now: Timestamp) -> StatusUpdate {
    let generation = facts.generation;
    let mut model = prev.model.clone();
    model.phase = Some(Phase::Suspended);
    model.observed_generation = generation;
    model.next_action = Some(crate::next_action::text(action, facts));
    let (reason, message) = ready_reason(action, facts.deleting);
    let conditions = &mut model.conditions;
    set_condition(
        conditions,
        READY,
        false,
        reason,
        message.clone(),
        generation,
        now,
    );
    set_progress(
        conditions,
        Progress::Settled,
        reason,
        &message,
        generation,
        now,
    );
    StatusUpdate {
        model,
        ..prev.clone()
    }
}

/// What `status.trainedWithLanguageModel` says after `action`: the language model (and its
/// base-model version) a training call just started with, nothing for a new or reset model, else
/// what it said before.
fn trained_with(
    prev: &Previous,
    facts: &Facts,
    action: &Action,
    outcome: &Outcome,
) -> Option<TrainedWith> {
    match action {
        Action::Train {
            custom_language_model_id,
        } if !outcome.already_trained => {
            let id = custom_language_model_id.as_ref()?;
            let base_model_version = match &facts.dependency {
                Dependency::Available { version, .. } => version.clone(),
                _ => None,
            };
            Some(TrainedWith {
                customization_id: id.clone(),
                base_model_version,
            })
        }
        Action::Create | Action::Recreate | Action::Reset => None,
        _ => prev.trained_with_language_model.clone(),
    }
}

/// The status when `run --dry-run` skipped `action` ([`Action::skipped_in_dry_run`]): the
/// recorded status unchanged (nothing happened on the service) but for `nextAction`, which says
/// what would have been done (`dry run: would ...`).
pub fn skipped(prev: &Previous, facts: &Facts, action: &Action) -> StatusUpdate {
    let mut update = prev.clone();
    update.model.next_action = Some(crate::next_action::text(action, facts));
    update
}
