//! Phase and conditions: the Ready condition's reason and message for each decision, the
//! `Reconciling`/`Stalled` table GitOps tools read (kstatus, Flux, kpt), the other conditions, and
//! the Event of a change of phase. Conditions follow the Kubernetes API conventions (`type`,
//! `status`, `reason`, `message`, `observedGeneration`; the transition time moves only when the
//! status changes).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::EventNote;
use crate::crd::{ModelStatus, OperationType, Phase};
use crate::{Action, Facts, ModelKind, Observing, OperationKind, ServiceStatus, WaitReason};

/// Condition type: the model is usable and trained on the current inputs.
pub const READY: &str = "Ready";

/// Condition type: the trained model reflects the current inputs.
pub const TRAINED: &str = "Trained";

/// Condition type: the model is on the newest base-model version it should be on.
pub const UP_TO_DATE: &str = "UpToDate";
/// True while the model's base model is IBM's current line; False with reason `Withdrawn` or
/// `NewerFamilyRecommended` and the migration in the message (issue 27, point 4).
pub const BASE_MODEL_CURRENT: &str = "BaseModelCurrent";

/// Condition type: the service, its credentials, every input and the language model are there.
pub const DEPENDENCIES_READY: &str = "DependenciesReady";

/// Condition type (kstatus, Flux, kpt): the operator or the service is working towards the spec.
pub const RECONCILING: &str = "Reconciling";

/// Condition type (kstatus, Flux, kpt): nothing will change without the user.
pub const STALLED: &str = "Stalled";

/// Ready reasons after which nothing changes until the user acts: `Stalled` True (kstatus
/// `Failed`). Errors are judged by their retry class instead
/// ([`Failure::stalled`](super::Failure::stalled)).
pub const STALLED_REASONS: &[&str] = &[
    "TrainingFailed",
    "ResourceInvalid",
    "AdoptedModelMissing",
    "NoData",
    "UnknownServiceStatus",
    "ServiceNotFound",
];

/// Ready reasons of a model that is settled on a choice of the user: neither reconciling nor
/// stalled (kstatus `Current` once observed): usable, suspended, or waiting for a manual request.
pub const SETTLED_REASONS: &[&str] = &[
    "Available",
    "Suspended",
    "TrainingPending",
    "UpgradeAvailable",
];

/// Sets (or replaces) a condition; the transition time moves to `at` only when the status
/// changes (Kubernetes API conventions, `lastTransitionTime`). The message is cut to the API
/// server's limit ([`crate::text::CONDITION_MESSAGE_MAX_BYTES`]).
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    at: Timestamp,
) {
    let status_s = if status { "True" } else { "False" }.to_string();
    let message = crate::text::cut(&message.into(), crate::text::CONDITION_MESSAGE_MAX_BYTES);
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status_s {
            c.last_transition_time = Time(at);
        }
        c.status = status_s;
        c.reason = reason.to_string();
        c.message = message;
        c.observed_generation = generation;
    } else {
        conditions.push(Condition {
            type_: type_.to_string(),
            status: status_s,
            reason: reason.to_string(),
            message,
            observed_generation: generation,
            last_transition_time: Time(at),
        });
    }
}

/// The condition of a type, if set.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The phase people see for a decision.
pub fn phase_for(action: &Action) -> Phase {
    match action {
        Action::Suspended => Phase::Suspended,
        Action::AwaitSpecChange => Phase::Failed,
        Action::ReleaseFinalizer | Action::DeleteModel => Phase::Deleting,
        Action::DeleteMarked {
            duplicate: false, ..
        } => Phase::Deleting,
        Action::DeleteMarked { .. } => Phase::Processing,
        Action::Adopt { .. } | Action::Create | Action::Recreate => Phase::Creating,
        Action::Reset => Phase::Processing,
        Action::AdoptedModelMissing => Phase::Failed,
        Action::DeleteResource { .. }
        | Action::AddResource { .. }
        | Action::AddWords { .. }
        | Action::DeleteWord { .. } => Phase::Processing,
        Action::Upgrade { .. } => Phase::Upgrading,
        Action::Train { .. } => Phase::Training,
        Action::Finish {
            succeeded: false, ..
        } => Phase::Failed,
        Action::Finish { .. } => Phase::Processing,
        Action::Wait { reason } => match reason {
            WaitReason::Training => Phase::Training,
            WaitReason::Upgrading => Phase::Upgrading,
            WaitReason::Processing => Phase::Processing,
            WaitReason::Dependency(_) => Phase::WaitingForDependency,
            WaitReason::ServiceMissing { .. } => Phase::Deleting,
            WaitReason::TrainingFailed | WaitReason::InvalidResource(_) => Phase::Failed,
            WaitReason::NoData => Phase::WaitingForData,
            WaitReason::TrainingRequested
            | WaitReason::UpgradeRequested
            | WaitReason::UnknownStatus(_) => Phase::Ready,
            // Only ever a step of the new model beside the one in service.
            WaitReason::Measuring(_) | WaitReason::QualityGateFailed(_) => Phase::Available,
        },
        Action::UpToDate => Phase::Available,
        Action::Observe(o) => o.phase.clone(),
        // The current model serves meanwhile; status keeps its phase (see `set_conditions`).
        Action::CreateSuccessor | Action::Successor(_) | Action::AbandonSuccessor { .. } => {
            Phase::Available
        }
        Action::SwitchToSuccessor => Phase::Available,
    }
}

/// The Ready message of an observe-only model: what the service reports, that the operator
/// changes nothing, how the spec differs from the service and what is not acted on.
pub fn observed_message(o: &Observing) -> String {
    let mut m = format!(
        "observed only (spec.managementPolicy ObserveOnly): the service reports the model {}; the operator never changes it",
        o.service_status
    );
    if !o.drift.is_empty() {
        m.push_str(&format!(
            "; the spec differs from the service (reported, not fixed): {}",
            o.drift.join("; ")
        ));
    }
    if !o.ignored.is_empty() {
        m.push_str(&format!(
            "; not acted on: {} (switch spec.managementPolicy to Manage to let the operator act)",
            o.ignored.join(", ")
        ));
    }
    m
}

/// Reason and message of the Ready condition for a decision.
pub fn ready_reason(action: &Action, deleting: bool) -> (&'static str, String) {
    match action {
        Action::Suspended if deleting => ("Suspended", "spec.suspend is true: no calls are made for this model; the deletion waits (the IBM model is kept) until spec.suspend is false".into()),
        Action::Suspended => ("Suspended", "spec.suspend is true: no calls are made for this model".into()),
        Action::AwaitSpecChange => ("Failed", "waiting for a change of the spec or its inputs".into()),
        Action::ReleaseFinalizer | Action::DeleteModel => ("Deleting", "the model is being deleted".into()),
        Action::DeleteMarked { customization_id, duplicate: false } => ("Deleting", format!("deleting model {customization_id}, which carries this resource's ownership marker")),
        Action::DeleteMarked { customization_id, .. } => ("DuplicateModel", format!("deleting model {customization_id}: it carries this resource's ownership marker but is not the model the resource keeps (a re-create replaced it, or a create whose answer was lost made it)")),
        Action::Adopt { .. } => ("Adopting", "taking over the existing model".into()),
        Action::Create => ("Creating", "creating the model on the service".into()),
        Action::Reset => ("Resetting", "resetting the model (annotation speech.watson.dev/reset-requested-at): the service removes its data; the operator adds it again and trains".into()),
        Action::Recreate => ("Recreating", "the model was deleted outside the operator and is being re-created".into()),
        Action::AdoptedModelMissing => ("AdoptedModelMissing", "the adopted model no longer exists on the service; it is not re-created automatically: set spec.customizationId to an existing model or remove it and re-create the resource".into()),
        Action::DeleteResource { name } => ("Processing", format!("removing {name} from the model")),
        Action::AddResource { name, .. } => ("Processing", format!("adding {name} to the model")),
        Action::AddWords { words } => ("Processing", format!("adding {} custom words", words.len())),
        Action::DeleteWord { word } => ("Processing", format!("removing the word {word:?}")),
        Action::Upgrade { .. } => ("Upgrading", "upgrading to the newer base-model version".into()),
        Action::Train { .. } => ("Training", "training on the current inputs".into()),
        Action::Finish { kind: OperationKind::Train, succeeded: false } => ("TrainingFailed", "training failed on the service; see status.history and the resource errors, then change the inputs to retry".into()),
        Action::Finish { .. } => ("Processing", "recording the finished operation".into()),
        Action::Wait { reason } => match reason {
            WaitReason::Training => ("Training", "the service is training the model".into()),
            WaitReason::Upgrading => ("Upgrading", "the service is upgrading the model".into()),
            WaitReason::Processing => ("Processing", "the service is analysing the model's data".into()),
            WaitReason::Dependency(m) => ("WaitingForDependency", m.clone()),
            WaitReason::TrainingFailed => ("TrainingFailed", "training failed on these inputs; see the history and the resource errors, then change the inputs to retry".into()),
            WaitReason::TrainingRequested => ("TrainingPending", "the inputs changed; training.policy is Manual: set the annotation speech.watson.dev/train-requested-at to a new value to train".into()),
            WaitReason::UpgradeRequested => ("UpgradeAvailable", "a newer base-model version is available; upgradePolicy is Manual: set the annotation speech.watson.dev/upgrade-requested-at to a new value to upgrade".into()),
            WaitReason::NoData => ("NoData", "the model has no data to train on: add corpora, words, grammars or audio (the service does not train a model without data)".into()),
            WaitReason::InvalidResource(m) => (
                "ResourceInvalid",
                format!("the service rejected {m}; fix the content and the operator uploads it again"),
            ),
            WaitReason::UnknownStatus(s) => ("UnknownServiceStatus", format!("the service reports the unknown status {s:?}")),
            WaitReason::Measuring(m) => ("Measuring", m.clone()),
            WaitReason::QualityGateFailed(m) => ("QualityGateFailed", m.clone()),
            WaitReason::ServiceMissing { service, customization_id } => ("ServiceNotFound", format!(
                "the deletion cannot delete model {customization_id}: SpeechService {service} (spec.serviceRef) does not exist in this namespace. Create it to let the operator delete the model, or set the annotation {}: \"true\" to release this resource without deleting anything (model {customization_id} then stays on the service)",
                crate::crd::RELEASE_WITHOUT_DELETING
            )),
        },
        Action::UpToDate => ("Available", "the model is available, trained on the current inputs".into()),
        Action::Observe(o) => ("Observed", observed_message(o)),
        Action::CreateSuccessor => ("Recreating", "creating a new model beside the current one, which keeps serving".into()),
        Action::Successor(inner) => ("Recreating", format!("building the new model ({}); the current one keeps serving", ready_reason(inner, false).1)),
        Action::SwitchToSuccessor => ("Available", "switched to the new model, trained on the current inputs".into()),
        Action::AbandonSuccessor { reason } => ("RecreateFailed", format!("{reason}; the current model keeps serving")),
    }
}

/// Where a resource stands for GitOps tools: the `Reconciling` and `Stalled` conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The operator or the service is working towards the spec (`Reconciling` True).
    Reconciling,
    /// Nothing will change without the user (`Stalled` True).
    Stalled,
    /// Neither: done, or settled on a choice of the user.
    Settled,
}

/// The table of the Ready reasons of a decision: [`STALLED_REASONS`] stall, [`SETTLED_REASONS`]
/// (and Ready itself) settle, every other reason is work in progress.
pub fn progress_of(ready: bool, reason: &str) -> Progress {
    if ready || SETTLED_REASONS.contains(&reason) {
        Progress::Settled
    } else if STALLED_REASONS.contains(&reason) {
        Progress::Stalled
    } else {
        Progress::Reconciling
    }
}

/// Sets `Reconciling` and `Stalled` (reason: the Ready reason) for `progress`.
pub fn set_progress(
    conditions: &mut Vec<Condition>,
    progress: Progress,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    at: Timestamp,
) {
    let (reconciling, stalled) = (
        progress == Progress::Reconciling,
        progress == Progress::Stalled,
    );
    let text = |on: bool, what: &str| {
        if on {
            message.to_string()
        } else {
            what.to_string()
        }
    };
    let idle = text(reconciling, "nothing is in progress");
    set_condition(
        conditions,
        RECONCILING,
        reconciling,
        reason,
        idle,
        generation,
        at,
    );
    let fine = text(stalled, "nothing waits for the user");
    set_condition(conditions, STALLED, stalled, reason, fine, generation, at);
}

/// Phase and the conditions; `ready` is the Ready condition's reason and message.
pub(super) fn set_conditions(
    st: &mut ModelStatus,
    facts: &Facts,
    action: &Action,
    ready_text: (&str, String),
    now: Timestamp,
) {
    let generation = facts.generation;
    let (reason, message) = ready_text;
    if action.on_successor() {
        // The current model is untouched while the new one is built: its phase and Ready stay;
        // the work shows in Reconciling (and the condition `Recreated`).
        let progress = match action {
            // A change held back by the evaluation gate waits for the user, while the model
            // in service is fine: settled (the condition `Promoted` says why).
            Action::AbandonSuccessor { .. } => Progress::Settled,
            Action::Successor(inner)
                if matches!(
                    inner.as_ref(),
                    Action::Wait {
                        reason: WaitReason::QualityGateFailed(_)
                    }
                ) =>
            {
                Progress::Settled
            }
            _ => Progress::Reconciling,
        };
        set_progress(
            &mut st.conditions,
            progress,
            reason,
            &message,
            generation,
            now,
        );
        return;
    }
    let phase = phase_for(action);
    st.phase = Some(phase);
    let observing = match action {
        Action::Observe(o) => Some(o),
        _ => None,
    };
    let ready =
        matches!(action, Action::UpToDate | Action::SwitchToSuccessor) || observing.is_some();
    let set = |st: &mut ModelStatus, t: &str, ok: bool, r: &str, m: String| {
        set_condition(&mut st.conditions, t, ok, r, m, generation, now)
    };
    set(st, READY, ready, reason, message.clone());
    let progress = progress_of(ready, reason);
    set_progress(
        &mut st.conditions,
        progress,
        reason,
        &message,
        generation,
        now,
    );
    if let Some(o) = observing.filter(|_| facts.kind != ModelKind::Voice) {
        let trained = o.service_status == ServiceStatus::Available;
        let said = format!(
            "observed only: the service reports the model {}",
            o.service_status
        );
        set(st, TRAINED, trained, "Observed", said);
        let (ok, um) = match &o.upgrade_available {
            Some(v) => (
                false,
                format!(
                    "{v} is available; spec.managementPolicy is ObserveOnly: the operator does not upgrade the model"
                ),
            ),
            None => {
                let version = st.base_model_version.as_deref().unwrap_or("unknown");
                (true, format!("on base-model version {version}"))
            }
        };
        let ur = if ok { "UpToDate" } else { "UpgradeAvailable" };
        set(st, UP_TO_DATE, ok, ur, um);
    } else if facts.kind != ModelKind::Voice {
        let trained =
            st.trained_inputs_digest.as_deref() == Some(facts.desired.inputs_digest.as_str());
        let (tr, tm) = if trained {
            (
                "TrainedOnCurrentInputs",
                "the model is trained on the current inputs".to_string(),
            )
        } else if let Some(c) = st
            .current_operation
            .as_ref()
            .filter(|c| c.kind == OperationType::Train)
        {
            (
                "Training",
                format!("training started at {}", c.started_at.0),
            )
        } else {
            (reason, message.clone())
        };
        set(st, TRAINED, trained, tr, tm);
        let upgrade_pending = matches!(
            action,
            Action::Upgrade { .. }
                | Action::Wait {
                    reason: WaitReason::UpgradeRequested | WaitReason::Upgrading
                }
        );
        let blocked = crate::upgrade_blocked(facts);
        let (ur, um) = if upgrade_pending {
            (
                "UpgradeAvailable",
                "a newer base-model version is available".to_string(),
            )
        } else if let Some(why) = &blocked {
            ("AudioOverCap", why.clone())
        } else {
            let version = st.base_model_version.as_deref().unwrap_or("unknown");
            ("UpToDate", format!("on base-model version {version}"))
        };
        set(
            st,
            UP_TO_DATE,
            !upgrade_pending && blocked.is_none(),
            ur,
            um,
        );
        // The base the serving model is on (it differs from the spec's while a migration runs).
        if let Some(base) = st
            .base_model_name
            .as_deref()
            .or(facts.base_model_name.as_deref())
        {
            let (state, message) = crate::capability::lifecycle(base);
            let current = state == crate::capability::Lifecycle::Current;
            set(st, BASE_MODEL_CURRENT, current, state.as_str(), message);
        }
    }
    let (dr, dm, dok) = match action {
        Action::Wait {
            reason: WaitReason::Dependency(m),
        } => ("LanguageModelNotReady", m.clone(), false),
        _ => (
            "DependenciesReady",
            "the service, its credentials and every input are available".to_string(),
            true,
        ),
    };
    set(st, DEPENDENCIES_READY, dok, dr, dm);
}

/// The Warning Event when the model's base model stops being current (withdrawn, another family
/// recommended): one per change of the `BaseModelCurrent` condition to False.
pub fn base_model_event(prev: &ModelStatus, next: &ModelStatus) -> Option<EventNote> {
    let now = condition(&next.conditions, BASE_MODEL_CURRENT).filter(|c| c.status == "False")?;
    let before = condition(&prev.conditions, BASE_MODEL_CURRENT);
    if before.is_some_and(|b| b.status == now.status && b.reason == now.reason) {
        return None;
    }
    Some(EventNote {
        warning: true,
        reason: format!("BaseModel{}", now.reason),
        message: now.message.clone(),
    })
}

/// The Event for a decision: one per change of phase.
pub fn event(
    prev: &ModelStatus,
    next: &ModelStatus,
    action: &Action,
    deleting: bool,
) -> Option<EventNote> {
    if let Some(note) = super::recreate::event(next, action) {
        return Some(note);
    }
    if let Some(note) = crate::gate::event(prev, next) {
        return Some(note);
    }
    let phase = next.phase.as_ref()?;
    let reason_of = |s: &ModelStatus| condition(&s.conditions, READY).map(|c| c.reason.clone());
    if let Some(c) = condition(&next.conditions, READY).filter(|c| c.reason == "OperationOverdue")
        && reason_of(prev).as_deref() != Some("OperationOverdue")
    {
        return Some(EventNote {
            warning: true,
            reason: c.reason.clone(),
            message: c.message.clone(),
        });
    }
    if let Action::Observe(o) = action {
        // One Event per change of what is observed (status, drift, ignored requests).
        let message = observed_message(o);
        let before = condition(&prev.conditions, READY).map(|c| c.message.as_str());
        if before == Some(message.as_str()) {
            return None;
        }
        let reason = if !o.ignored.is_empty() {
            "RequestIgnored"
        } else if !o.drift.is_empty() {
            "DriftObserved"
        } else {
            "Observed"
        };
        return Some(EventNote {
            warning: reason != "Observed",
            reason: reason.to_string(),
            message,
        });
    }
    if let Action::DeleteMarked {
        customization_id,
        duplicate: true,
    } = action
    {
        // One Event per duplicate deleted, whatever the phase (issue 24).
        let kept = next.customization_id.as_deref().unwrap_or("(none)");
        return Some(EventNote {
            warning: true,
            reason: "DuplicateModelDeleted".into(),
            message: format!(
                "deleted model {customization_id}: it carried this resource's ownership marker, like model {kept}, which the resource keeps (a re-create replaced it, or a create whose answer was lost, then repeated, made two)"
            ),
        });
    }
    if prev.phase == next.phase {
        return None;
    }
    let (reason, message) = ready_reason(action, deleting);
    let (warning, reason) = match (action, phase) {
        (Action::Recreate, _) => (true, "ExternalModelRecreated"),
        (Action::AdoptedModelMissing, _) => (true, "AdoptedModelMissing"),
        (_, Phase::Failed) => (true, reason),
        _ => (false, phase.as_str()),
    };
    Some(EventNote {
        warning,
        reason: reason.to_string(),
        message,
    })
}
