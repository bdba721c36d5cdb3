//! Status vocabulary: conditions with stable reasons, phases from decisions, and the rule that
//! status is written only when something changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::decide::{Action, WaitReason};
use crate::crd::Phase;

pub const READY: &str = "Ready";
pub const TRAINED: &str = "Trained";
pub const UP_TO_DATE: &str = "UpToDate";
pub const DEPENDENCIES_READY: &str = "DependenciesReady";

/// Reasons after which the operator waits for the user to change something.
pub const TERMINAL_REASONS: &[&str] = &[
    "InvalidRequest",
    "InvalidSpec",
    "AdoptionMismatch",
    "UnsupportedRequest",
    "TrainingFailed",
    "InputMalformed",
    "InputTooLarge",
];

/// Sets (or replaces) a condition; the transition time only moves when the status changes.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) {
    let status_s = if status { "True" } else { "False" }.to_string();
    let message = message.into();
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status_s {
            c.last_transition_time = Time(now());
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
            last_transition_time: Time(now()),
        });
    }
}

/// The condition of a type, if set.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A condition message for an error that stays the same while the failure does: the IBM
/// transaction id (new on every call) goes to the Event and the log, not the condition, so a
/// repeated failure does not rewrite status.
pub fn stable_message(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(start) = out.find(" [transaction id ") {
        match out[start..].find(']') {
            Some(end) => out.replace_range(start..start + end + 1, ""),
            None => break,
        }
    }
    out
}

/// The current time as the type k8s-openapi uses.
pub fn now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

/// The phase people see for a decision.
pub fn phase_for(action: &Action) -> Phase {
    match action {
        Action::Suspended => Phase::Suspended,
        Action::ReleaseFinalizer | Action::DeleteModel => Phase::Deleting,
        Action::Adopt { .. } | Action::Create | Action::Recreate => Phase::Creating,
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
            WaitReason::TrainingFailed | WaitReason::InvalidResource(_) => Phase::Failed,
            WaitReason::TrainingRequested
            | WaitReason::UpgradeRequested
            | WaitReason::NoData
            | WaitReason::UnknownStatus(_) => Phase::Ready,
        },
        Action::UpToDate => Phase::Available,
    }
}

/// Reason and message of the Ready condition for a decision that is not "up to date".
pub fn not_ready_reason(action: &Action) -> (&'static str, String) {
    match action {
        Action::Suspended => ("Suspended", "spec.suspend is true: no calls are made for this model".into()),
        Action::ReleaseFinalizer | Action::DeleteModel => ("Deleting", "the model is being deleted".into()),
        Action::Adopt { .. } => ("Adopting", "taking over the existing model".into()),
        Action::Create => ("Creating", "creating the model on the service".into()),
        Action::Recreate => ("Recreating", "the model was deleted outside the operator and is being re-created".into()),
        Action::AdoptedModelMissing => ("AdoptedModelMissing", "the adopted model no longer exists on the service; it is not re-created automatically: set spec.customizationId to an existing model or remove it and re-create the resource".into()),
        Action::DeleteResource { name } => ("Processing", format!("removing {name} from the model")),
        Action::AddResource { name, .. } => ("Processing", format!("adding {name} to the model")),
        Action::AddWords { words } => ("Processing", format!("adding {} custom words", words.len())),
        Action::DeleteWord { word } => ("Processing", format!("removing the word {word:?}")),
        Action::Upgrade { .. } => ("Upgrading", "upgrading to the newer base-model version".into()),
        Action::Train { .. } => ("Training", "training on the current inputs".into()),
        Action::Finish { .. } => ("Processing", "recording the finished operation".into()),
        Action::Wait { reason } => match reason {
            WaitReason::Training => ("Training", "the service is training the model".into()),
            WaitReason::Upgrading => ("Upgrading", "the service is upgrading the model".into()),
            WaitReason::Processing => ("Processing", "the service is analysing the model's data".into()),
            WaitReason::Dependency(m) => ("WaitingForDependency", m.clone()),
            WaitReason::TrainingFailed => ("TrainingFailed", "training failed on these inputs; see the history and the resource errors, then change the inputs to retry".into()),
            WaitReason::TrainingRequested => ("TrainingPending", "the inputs changed; training.policy is Manual: set the annotation speech.watson.dev/train-requested-at to a new value to train".into()),
            WaitReason::UpgradeRequested => ("UpgradeAvailable", "a newer base-model version is available; upgradePolicy is Manual: set the annotation speech.watson.dev/upgrade-requested-at to a new value to upgrade".into()),
            WaitReason::NoData => ("NoData", "the model has no valid data to train on yet: add corpora, words, grammars or audio".into()),
            WaitReason::InvalidResource(m) => (
                "ResourceInvalid",
                format!("the service rejected {m}; fix the content and the operator uploads it again"),
            ),
            WaitReason::UnknownStatus(s) => ("UnknownServiceStatus", format!("the service reports the unknown status {s:?}")),
        },
        Action::UpToDate => ("Available", "the model is available, trained on the current inputs".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_messages_drop_transaction_ids() {
        assert_eq!(
            stable_message(
                "get_token (HTTP 400): bad key [transaction id sim-1] and [transaction id x]"
            ),
            "get_token (HTTP 400): bad key and"
        );
        assert_eq!(stable_message("plain"), "plain");
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut c = Vec::new();
        set_condition(&mut c, READY, false, "A", "m1", Some(1));
        let t0 = c[0].last_transition_time.clone();
        std::thread::sleep(std::time::Duration::from_millis(5));
        set_condition(&mut c, READY, false, "B", "m2", Some(2));
        assert_eq!(
            c[0].last_transition_time, t0,
            "same status keeps its transition time"
        );
        assert_eq!(
            (c[0].reason.as_str(), c[0].observed_generation),
            ("B", Some(2))
        );
        set_condition(&mut c, READY, true, "C", "m3", Some(2));
        assert_ne!(c[0].last_transition_time, t0);
        assert_eq!(c.len(), 1);
    }
}
