//! The evaluation gate (issue 28, point 3), the decision half: with `spec.evaluation.policy:
//! Gate`, applications move to a change only once it is measured on the user's test set within
//! the tolerance of the model in service.
//!
//! **Every change is built beside.** A data change (the model would be retrained on new inputs)
//! and an upgrade to the newest base-model version (the upgrade policy would make it) are not
//! made on the model in service: they are built in a new IBM model beside it, the way a
//! re-create is ([`crate::successor`]; a new model is created on the base model's newest
//! version). The model in service keeps its data and its version, so nothing has to be pinned
//! or undone: the export ConfigMap keeps naming it until the switch. An upgrade to a pinned
//! `spec.baseModelVersion` older than a version the instance's models already have is made in
//! place, as without a gate (a new model cannot be created on an older version).
//!
//! **The switch waits for the measurement.** Once the new model is trained on the current
//! inputs, [`at_switch`] compares its measurement (`status.evaluation.candidate`, made by the
//! shell's evaluation task) with the measurement of the model in service
//! (`status.evaluation.current`), both for the current test set and recognition options:
//! - either is missing: wait ([`WaitReason::Measuring`]);
//! - the new model's WER is at most the tolerance worse: switch ([`Action::SwitchToSuccessor`]);
//! - else hold ([`WaitReason::QualityGateFailed`]): the new model stays beside, trained, and the
//!   condition `Promoted` is False. A change of the data retrains and measures it again, a raised
//!   tolerance passes it without a new measurement, and a new `promote-requested-at` token
//!   promotes it anyway.
//!
//! **Cost.** At most one extra custom model per resource, while a change is built or held (the
//! quota guard counts it); one measurement per new model or version (plus one of the model in
//! service when it has none for the current test set), each recognising the whole test set once,
//! at most `spec.evaluation.maxMeasurementsPerDay` a day.

use k8s_openapi::jiff::Timestamp;

use crate::crd::ModelStatus;
use crate::crd::evaluation::{EvaluationStatus, Measurement};
use crate::evaluation::measurement_key;
use crate::status::{EventNote, condition, set_condition};
use crate::successor::Successor;
use crate::{Action, Facts, ModelKind, WaitReason};

/// Condition type (language models with `spec.evaluation.policy: Gate`): True when the model in
/// service is the newest change that passed (or no change waits); False with reason `Building`
/// while a change is built beside, `Measuring` while it waits for its measurement, and
/// `QualityGateFailed` when it measured worse than the tolerance allows.
pub const PROMOTED: &str = "Promoted";

/// What the gate knows, from the spec and `status.evaluation`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gate {
    /// `spec.evaluation.toleranceWerPoints` (default 0).
    pub tolerance_points: i64,
    /// What a measurement depends on in `spec.evaluation` ([`crate::evaluation::measured_spec`]).
    pub measured_spec: String,
    /// `status.evaluation` as recorded.
    pub recorded: EvaluationStatus,
}

/// The measurement key of the model in service as status records it: its customization ID, its
/// newest version, the inputs it was trained on.
pub fn serving_key(f: &Facts, g: &Gate) -> Option<String> {
    let id = f.recorded.customization_id.as_deref()?;
    let version = f
        .observed
        .as_ref()
        .and_then(|o| o.versions.last())
        .map(String::as_str);
    Some(measurement_key(
        id,
        version,
        f.recorded.trained_inputs_digest.as_deref(),
        &g.measured_spec,
    ))
}

/// The measurement key of the new model `s` as `status.successor` records it.
pub fn candidate_key(s: &Successor, g: &Gate) -> Option<String> {
    let r = &s.record;
    let id = r.customization_id.as_deref()?;
    let versions = if s.seen.versions.is_empty() {
        &r.versions
    } else {
        &s.seen.versions
    };
    Some(measurement_key(
        id,
        versions.last().map(String::as_str),
        r.trained_inputs_digest.as_deref(),
        &g.measured_spec,
    ))
}

/// What the gate says of a trained new model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// A measurement is missing (the message says which).
    Measuring(String),
    /// Within the tolerance (the message gives both WERs).
    Pass(String),
    /// Worse than the tolerance allows (the message gives both WERs and what to do).
    Fail(String),
}

fn wer(m: &Measurement) -> String {
    m.wer.clone().unwrap_or_else(|| "no words".to_string())
}

/// Compares the new model `s` (trained) with the model in service.
pub fn judge(f: &Facts, g: &Gate, s: &Successor) -> Judgement {
    let serving = f.recorded.customization_id.as_deref().unwrap_or("(none)");
    let new = s.in_flight().unwrap_or_default();
    let keyed = |m: Option<&Measurement>, key: Option<String>| {
        m.filter(|m| key.as_deref() == Some(m.key.as_str()))
            .cloned()
    };
    let candidate_key = candidate_key(s, g);
    let serving_key = serving_key(f, g);
    let candidate = keyed(g.recorded.candidate.as_ref(), candidate_key.clone());
    let baseline = keyed(g.recorded.current.as_ref(), serving_key.clone());
    // The last failed attempt, when it was at one of these two.
    let failed = g
        .recorded
        .failed_key
        .as_ref()
        .filter(|k| Some(*k) == candidate_key.as_ref() || Some(*k) == serving_key.as_ref())
        .and(g.recorded.message.as_ref())
        .map(|m| format!("; the last attempt failed: {m}"))
        .unwrap_or_default();
    let Some(candidate) = candidate else {
        return Judgement::Measuring(format!(
            "the new model {new} is trained; measuring it on the test set (spec.evaluation) before applications use it; model {serving} keeps serving{failed}"
        ));
    };
    let Some(baseline) = baseline else {
        return Judgement::Measuring(format!(
            "measuring model {serving}, in service, on the test set to compare the new model {new} (WER {}) with it{failed}",
            wer(&candidate)
        ));
    };
    let (c, b) = (
        candidate.wer_basis_points.unwrap_or(0),
        baseline.wer_basis_points.unwrap_or(0),
    );
    let tolerance = g.tolerance_points;
    if c <= b + tolerance * 100 {
        return Judgement::Pass(format!(
            "the new model {new} measured WER {} on the test set; model {serving} had {} (tolerance {tolerance} points)",
            wer(&candidate),
            wer(&baseline)
        ));
    }
    let points = (c - b) as f64 / 100.0;
    Judgement::Fail(format!(
        "the new model {new} measured WER {} on the test set, {points:.2} points worse than model {serving} in service ({}), over the tolerance of {tolerance} points: it is held back and model {serving} keeps serving. To go on: fix the data in the spec (the new model is retrained and measured again), raise spec.evaluation.toleranceWerPoints, or promote it anyway with a new value of the annotation {}",
        wer(&candidate),
        wer(&baseline),
        crate::crd::PROMOTE_REQUESTED_AT
    ))
}

/// The step of a new model trained on the current inputs: the switch, unless a gate holds it.
pub fn at_switch(f: &Facts, s: &Successor) -> Action {
    let Some(g) = &f.gate else {
        return Action::SwitchToSuccessor;
    };
    if f.promote_requested() {
        return Action::SwitchToSuccessor;
    }
    let wait = |reason| Action::Successor(Box::new(Action::Wait { reason }));
    match judge(f, g, s) {
        Judgement::Pass(_) => Action::SwitchToSuccessor,
        Judgement::Measuring(m) => wait(WaitReason::Measuring(m)),
        Judgement::Fail(m) => wait(WaitReason::QualityGateFailed(m)),
    }
}

/// Under a gate, the change the model in service would otherwise get in place (a retraining on
/// changed inputs, an upgrade to the newest base-model version), in a few words for
/// `status.nextAction`; `None` without a gate or without such a change. The re-create stage
/// builds it beside ([`crate::successor::wanted`]); while it cannot (a failed attempt on the same
/// inputs), the model in service stays as it is ([`holds`]).
pub fn change(f: &Facts) -> Option<String> {
    f.gate.as_ref()?;
    if f.kind != ModelKind::Language || f.observe_only || f.recorded.adopted {
        return None;
    }
    let obs = f.observed.as_ref()?;
    if let Some(trained) = &f.recorded.trained_inputs_digest
        && *trained != f.desired.inputs_digest
        && (f.desired.train_on_change || f.train_requested())
    {
        return Some(
            "the spec's data changed and spec.evaluation.policy is Gate: it is trained in a new model beside the one in service and measured first".to_string(),
        );
    }
    // The version an upgrade goes to, as `decide_upgrade` sees it. IBM creates a new model on
    // the base model's newest version: a pin to an older version than one known is upgraded
    // in place.
    let target = f
        .desired
        .target_version
        .as_ref()
        .or(f.newest_version.as_ref())?;
    let current = obs.versions.last()?;
    let pinned_older = f
        .newest_version
        .as_ref()
        .is_some_and(|newest| target < newest);
    let wanted =
        f.desired.upgrade_automatic || f.desired.target_version.is_some() || f.upgrade_requested();
    (target > current
        && !obs.versions.contains(target)
        && wanted
        && !pinned_older
        && crate::action::upgrade_blocked(f).is_none())
    .then(|| {
        format!(
            "base-model version {target} is newer and spec.evaluation.policy is Gate: a new model on it is trained beside the one in service and measured first"
        )
    })
}

/// Under a gate, with a change pending that the re-create stage does not build (a failed
/// attempt on the same inputs): the model in service is left as it is.
pub fn holds(f: &Facts) -> bool {
    change(f).is_some()
}

/// The condition `Promoted` after `action` (`st` is the status about to be written): set only
/// with a gate, removed without one.
pub fn set_promoted(st: &mut ModelStatus, facts: &Facts, action: &Action, now: Timestamp) {
    if facts.gate.is_none() {
        st.conditions.retain(|c| c.type_ != PROMOTED);
        return;
    }
    if facts.deleting {
        return;
    }
    let serving = st.customization_id.as_deref().unwrap_or("(none)");
    let building = |id: &str| {
        (
            false,
            "Building",
            format!(
                "a change is built in the new model {id} beside model {serving}, which keeps serving; it is measured on the test set once trained"
            ),
        )
    };
    let (ok, reason, message) = match action {
        Action::Successor(inner) => match inner.as_ref() {
            Action::Wait {
                reason: WaitReason::Measuring(m),
            } => (false, "Measuring", m.clone()),
            Action::Wait {
                reason: WaitReason::QualityGateFailed(m),
            } => (false, "QualityGateFailed", m.clone()),
            _ => building(
                facts
                    .successor
                    .as_ref()
                    .and_then(|s| s.in_flight())
                    .unwrap_or("(new)"),
            ),
        },
        Action::CreateSuccessor => building("(being created)"),
        Action::SwitchToSuccessor => {
            let why = match (facts.promote_requested(), &facts.gate, &facts.successor) {
                (true, _, _) => format!(
                    "promoted by the annotation {} without comparing WERs",
                    crate::crd::PROMOTE_REQUESTED_AT
                ),
                (false, Some(g), Some(s)) => match judge(facts, g, s) {
                    Judgement::Pass(m) => m,
                    Judgement::Measuring(m) | Judgement::Fail(m) => m,
                },
                _ => String::new(),
            };
            (
                true,
                "Promoted",
                format!("model {serving} is in service: {why}"),
            )
        }
        _ if st
            .successor
            .as_ref()
            .is_some_and(|s| s.customization_id.is_some()) =>
        {
            return;
        }
        _ if condition(&st.conditions, PROMOTED).is_some_and(|c| c.status == "True") => return,
        _ => (
            true,
            "Promoted",
            format!(
                "model {serving} is in service and no change waits; a change is measured on the test set before applications use it"
            ),
        ),
    };
    set_condition(
        &mut st.conditions,
        PROMOTED,
        ok,
        reason,
        message,
        facts.generation,
        now,
    );
}

/// The Event of a change of the condition `Promoted`: a Warning when a change is held back
/// (`QualityGateFailed`), once per new reason or message.
pub fn event(prev: &ModelStatus, next: &ModelStatus) -> Option<EventNote> {
    let now = condition(&next.conditions, PROMOTED)?;
    if now.reason != "QualityGateFailed" {
        return None;
    }
    let before = condition(&prev.conditions, PROMOTED);
    if before.is_some_and(|b| b.reason == now.reason && b.message == now.message) {
        return None;
    }
    Some(EventNote {
        warning: true,
        reason: "QualityGateFailed".to_string(),
        message: now.message.clone(),
    })
}
