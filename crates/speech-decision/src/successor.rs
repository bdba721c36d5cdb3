//! Re-create without downtime (issue 27, point 5), the decision half: a new IBM model beside the
//! current one, fed and trained like it, then switched to in one step, while the current model
//! keeps serving.
//!
//! A re-create is wanted for a language model the operator created (never an adopted or
//! observed one) on a new `speech.watson.dev/recreate-requested-at` token, or when
//! `spec.baseModelName` names another base than the one the current model is on (the migration
//! to a large speech model), or, under an evaluation gate, for a retraining or an upgrade
//! ([`crate::gate::change`]). Its steps, one per reconcile:
//!
//! 1. [`Action::CreateSuccessor`]: the new model, on the spec's base, with the resource's
//!    ownership marker (so a crash never orphans it: an unrecorded one is a duplicate and goes);
//! 2. [`Action::Successor`]: the stages of an ordinary model on the new one (record a finished
//!    training, wait while busy, data, training), decided by the same functions on
//!    [`sub_facts`];
//! 3. [`Action::SwitchToSuccessor`] once it is trained on the current inputs: one status write
//!    names it in `status.customizationId` and the export. This is the one step an evaluation
//!    gate goes before ([`crate::gate::at_switch`]);
//! 4. the old model then carries the marker without being the model kept: the duplicate stage
//!    deletes it ([`Action::DeleteMarked`]).
//!
//! A new model that fails (its training failed, the service rejected its data, it vanished) is
//! deleted and recorded ([`Action::AbandonSuccessor`]); the current model keeps serving, and the
//! same request on the same base and inputs is not retried: a new token, base or inputs is.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::action::{decide_busy, decide_data, decide_finished, decide_training};
use crate::crd::SuccessorStatus;
use crate::status::Observation;
use crate::{
    Action, Dependency, Desired, Facts, ModelKind, OperationKind, Recorded, ServiceStatus,
    WaitReason,
};

/// The new model as the decision knows it: the record (`status.successor`) and what the service
/// reports of it in this reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Successor {
    /// `status.successor` as recorded.
    pub record: SuccessorStatus,
    /// The model on the service; `None` when it does not exist (gone, or deleted after a
    /// failure).
    pub observed: Option<crate::Observed>,
    /// What status shows of it after this reconcile's look (resources with the digests uploaded,
    /// words, versions, service status).
    pub seen: Observation,
    /// How long ago its recorded operation started (set by the shell from the clock).
    pub operation_age: Option<Duration>,
}

impl Successor {
    /// The new model's ID while it is being built (`None` once a failed one was deleted).
    pub fn in_flight(&self) -> Option<&str> {
        self.record.customization_id.as_deref()
    }
}

impl Action {
    /// True for the steps that work on the new model while the current one keeps serving
    /// (create it, build it, give it up): the current model's Ready condition and phase stay as
    /// they are. The switch is not one of them: it changes the model the resource serves.
    pub fn on_successor(&self) -> bool {
        matches!(
            self,
            Action::CreateSuccessor | Action::Successor(_) | Action::AbandonSuccessor { .. }
        )
    }
}

/// Why a new model is wanted, in a few words for `status.nextAction`; `None` when it is not.
pub fn wanted(f: &Facts) -> Option<String> {
    if f.kind != ModelKind::Language || f.observe_only || f.recorded.adopted || f.adopt_id.is_some()
    {
        return None;
    }
    let base_change = match (&f.base_model_name, &f.current_base) {
        (Some(want), Some(have)) if want != have => {
            Some(format!("spec.baseModelName changed from {have} to {want}"))
        }
        _ => None,
    };
    let why = match (f.recreate_requested(), base_change) {
        (true, _) => format!(
            "requested (annotation {})",
            crate::crd::RECREATE_REQUESTED_AT
        ),
        (false, Some(change)) => change,
        // Under an evaluation gate, a retraining or an upgrade is built beside too.
        (false, None) => crate::gate::change(f)?,
    };
    // A failed attempt is not repeated on the same request, base model and inputs.
    if let Some(failed) = f.successor.as_ref().filter(|s| s.in_flight().is_none()) {
        let r = &failed.record;
        let same = Some(&r.base_model_name) == f.base_model_name.as_ref()
            && r.inputs_digest.as_deref() == Some(f.desired.inputs_digest.as_str())
            && (!f.recreate_requested() || r.request_token == f.desired.recreate_token);
        if same {
            return None;
        }
    }
    Some(why)
}

/// The re-create stage of [`crate::decide`] (after the current model's finished operation is
/// recorded and while it is idle): the next step of the new model in flight, a new one when
/// wanted ([`wanted`]), else `None` (the current model's own stages go on).
pub fn decide(f: &Facts) -> Option<Action> {
    if f.kind != ModelKind::Language || f.observe_only {
        return None;
    }
    match f.successor.as_ref().filter(|s| s.in_flight().is_some()) {
        Some(s) => Some(step(f, s)),
        None => wanted(f).map(|_| Action::CreateSuccessor),
    }
}

/// The facts of the new model as an ordinary model of its own: its record, its observation, the
/// spec's inputs (always trained on change: the re-create is the request), no dependency, no
/// upgrade, no token of the current model's.
pub fn sub_facts(f: &Facts, s: &Successor) -> Facts {
    let r = &s.record;
    let resources: BTreeMap<String, String> = s
        .seen
        .resources
        .iter()
        .filter_map(|t| Some((t.status.name.clone(), t.status.digest.clone()?)))
        .collect();
    let operation = r.current_operation.as_ref();
    Facts {
        recorded: Recorded {
            customization_id: r.customization_id.clone(),
            resources,
            trained_inputs_digest: r.trained_inputs_digest.clone(),
            operation: operation.map(|o| {
                (
                    OperationKind::of_record(&o.kind),
                    o.inputs_digest.clone().unwrap_or_default(),
                )
            }),
            operation_age: s.operation_age,
            operation_seen_running: operation.is_some_and(|o| o.running_seen_at.is_some()),
            operation_started_from: operation.and_then(|o| o.started_from.clone()),
            ..Recorded::default()
        },
        observed: s.observed.clone(),
        desired: Desired {
            train_on_change: true,
            train_token: None,
            upgrade_token: None,
            reset_token: None,
            reconcile_token: None,
            recreate_token: None,
            target_version: None,
            upgrade_automatic: false,
            ..f.desired.clone()
        },
        adopt_id: None,
        marked_model: None,
        duplicates: Vec::new(),
        newest_version: None,
        dependency: Dependency::None,
        base_model_name: Some(r.base_model_name.clone()),
        current_base: Some(r.base_model_name.clone()),
        successor: None,
        gate: None,
        ..f.clone()
    }
}

/// The next step of the new model in flight `s`.
fn step(f: &Facts, s: &Successor) -> Action {
    let id = s.in_flight().unwrap_or_default();
    let give_up = |why: String| Action::AbandonSuccessor { reason: why };
    let sub = sub_facts(f, s);
    let Some(obs) = &sub.observed else {
        return give_up(format!("the new model {id} vanished from the service"));
    };
    let status = obs.status.clone().unwrap_or(ServiceStatus::Exists);
    let on = |a: Action| Action::Successor(Box::new(a));
    if let Some(a) = decide_finished(&sub, &status) {
        return match a {
            Action::Finish {
                kind: OperationKind::Train,
                succeeded: false,
            } => give_up(format!(
                "the training of the new model {id} failed on the service"
            )),
            other => on(other),
        };
    }
    if let Some(a) = decide_busy(obs, &status) {
        return on(a);
    }
    if let Some(a) = decide_data(&sub, obs) {
        return on(a);
    }
    match decide_training(&sub, obs, &status, None) {
        // Trained on the current inputs: the switch, unless an evaluation gate holds it.
        Action::UpToDate => crate::gate::at_switch(f, s),
        Action::Wait {
            reason: WaitReason::InvalidResource(m),
        } => give_up(format!("the service rejected {m} on the new model {id}")),
        Action::Wait {
            reason: WaitReason::TrainingFailed,
        } => give_up(format!(
            "the training of the new model {id} failed on the service"
        )),
        Action::Wait {
            reason: WaitReason::NoData,
        } => give_up("the spec has no data to train the new model on".to_string()),
        other => on(other),
    }
}
