//! What status records of a re-create (issue 27, point 5; the decision is
//! [`crate::successor`]): `status.successor` (the new model as created, fed, trained and
//! observed), the switch (`status.customizationId`, the base model, versions, trained inputs and
//! data lists of the new model, in one write), the condition `Recreated` and its Events.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::history::{WordRecord, record_action};
use super::{
    EventNote, Outcome, ResourceClass, TrackedResource, condition, phase_for, set_condition,
};
use crate::crd::{ModelStatus, Phase, ResourceStatus, SuccessorStatus};
use crate::successor::{Successor, sub_facts};
use crate::{Action, Facts, ServiceStatus};

/// Condition type (language models that were re-created or are being re-created): True once the
/// resource switched to a new model, False with reason `Recreating` while one is built and
/// `RecreateFailed` when it failed (the current model keeps serving).
pub const RECREATED: &str = "Recreated";

/// The resources status shows for the successor: the ones seen now, else the record's.
fn successor_resources(s: &Successor) -> Vec<TrackedResource> {
    if s.observed.is_some() {
        return s.seen.resources.clone();
    }
    let tracked = |class: ResourceClass, list: &[ResourceStatus]| {
        list.iter()
            .map(move |r| TrackedResource {
                class,
                status: r.clone(),
            })
            .collect::<Vec<_>>()
    };
    let mut all = tracked(ResourceClass::Corpus, &s.record.corpora);
    all.extend(tracked(ResourceClass::Grammar, &s.record.grammars));
    all
}

/// What `status.successor` forgets on the current model's own steps: a new model deleted with
/// the resource, and a failed attempt on another base model than the spec's (the user went back
/// to the current base, or elsewhere: the failure no longer applies; its `Recreated` condition
/// goes with it).
pub(super) fn forget(st: &mut ModelStatus, facts: &Facts, action: &Action) {
    if let Action::DeleteMarked {
        customization_id, ..
    } = action
        && st
            .successor
            .as_ref()
            .is_some_and(|s| s.customization_id.as_ref() == Some(customization_id))
    {
        st.successor = None;
    }
    let moved_on = st.successor.as_ref().is_some_and(|s| {
        s.customization_id.is_none()
            && facts.base_model_name.as_ref() != Some(&s.base_model_name)
            && facts.base_model_name.is_some()
            && facts.base_model_name == facts.current_base
    });
    if moved_on && !facts.deleting {
        st.successor = None;
        st.conditions
            .retain(|c| !(c.type_ == RECREATED && c.reason == "RecreateFailed"));
    }
}

/// The effect of a re-create step on status (`resources` and `words` are the current model's,
/// replaced by the new model's at the switch). Other actions change nothing here.
pub(super) fn record(
    st: &mut ModelStatus,
    resources: &mut Vec<TrackedResource>,
    words: &mut WordRecord,
    facts: &Facts,
    action: &Action,
    outcome: &Outcome,
    now: Timestamp,
) {
    let successor = facts.successor.as_ref();
    match (action, successor) {
        (Action::CreateSuccessor, _) => {
            st.successor = Some(SuccessorStatus {
                customization_id: outcome.created_id.clone(),
                base_model_name: facts.base_model_name.clone().unwrap_or_default(),
                request_token: facts
                    .recreate_requested()
                    .then(|| facts.desired.recreate_token.clone())
                    .flatten(),
                started_at: Some(Time(now)),
                phase: Some(Phase::Creating),
                service_status: Some(ServiceStatus::Pending),
                inputs_digest: Some(facts.desired.inputs_digest.clone()),
                // A new model holds no words: the first look lists none.
                word_count: Some(0),
                ..Default::default()
            });
        }
        (Action::Successor(inner), Some(s)) => {
            st.successor = Some(built(facts, s, inner, outcome, now));
        }
        (Action::SwitchToSuccessor, Some(s)) => {
            let r = &s.record;
            st.customization_id = r.customization_id.clone();
            st.base_model_name = Some(r.base_model_name.clone());
            st.adopted = None;
            if !s.seen.versions.is_empty() {
                st.versions = s.seen.versions.clone();
            } else {
                st.versions = r.versions.clone();
            }
            st.base_model_version = st.versions.last().cloned();
            st.trained_inputs_digest = r.trained_inputs_digest.clone();
            st.current_operation = None;
            st.service_status = s.seen.service_status.clone().or(r.service_status.clone());
            st.service_updated = s.seen.service_updated.clone();
            st.warnings.clear();
            if r.request_token.is_some() {
                st.recreate_request_token = r.request_token.clone();
            }
            st.successor = None;
            *resources = successor_resources(s);
            *words = WordRecord {
                count: s.seen.word_count.or(r.word_count),
                digest: s.seen.words_digest.clone().or(r.words_digest.clone()),
            };
        }
        // Refused before it existed (the create): the attempt is recorded as failed.
        (Action::AbandonSuccessor { reason }, None) => {
            let token = facts
                .recreate_requested()
                .then(|| facts.desired.recreate_token.clone())
                .flatten();
            if token.is_some() {
                st.recreate_request_token = token.clone();
            }
            st.successor = Some(SuccessorStatus {
                base_model_name: facts.base_model_name.clone().unwrap_or_default(),
                request_token: token,
                started_at: Some(Time(now)),
                phase: Some(Phase::Failed),
                inputs_digest: Some(facts.desired.inputs_digest.clone()),
                message: Some(reason.clone()),
                ..Default::default()
            });
        }
        (Action::AbandonSuccessor { reason }, Some(s)) => {
            let mut r = s.record.clone();
            let detail = s
                .seen
                .service_error
                .as_deref()
                .and_then(super::service_error_summary)
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            r.customization_id = None;
            r.phase = Some(Phase::Failed);
            r.current_operation = None;
            r.inputs_digest = Some(facts.desired.inputs_digest.clone());
            r.message = Some(format!("{reason}{detail}; the new model was deleted"));
            if r.request_token.is_some() {
                st.recreate_request_token = r.request_token.clone();
            }
            st.successor = Some(r);
        }
        _ => {}
    }
}

/// The successor's record after `inner` was performed on it: the operation, uploads and words
/// as for any model ([`record_action`] on its own facts), with what the service reports of it.
fn built(
    facts: &Facts,
    s: &Successor,
    inner: &Action,
    outcome: &Outcome,
    now: Timestamp,
) -> SuccessorStatus {
    let r = &s.record;
    let sub = sub_facts(facts, s);
    let seen_status = s.seen.service_status.clone().or(r.service_status.clone());
    let mut own = ModelStatus {
        customization_id: r.customization_id.clone(),
        trained_inputs_digest: r.trained_inputs_digest.clone(),
        current_operation: r.current_operation.clone(),
        service_status: seen_status.clone(),
        ..Default::default()
    };
    if let Some(op) = own.current_operation.as_mut()
        && op.running_seen_at.is_none()
        && seen_status == Some(ServiceStatus::Training)
    {
        op.running_seen_at = Some(Time(now));
    }
    let mut resources = successor_resources(s);
    let mut words = WordRecord {
        count: s.seen.word_count.or(r.word_count),
        digest: s.seen.words_digest.clone().or(r.words_digest.clone()),
    };
    record_action(
        &mut own,
        &mut resources,
        &mut words,
        &sub,
        inner,
        outcome,
        now,
    );
    let of = |class: ResourceClass| {
        resources
            .iter()
            .filter(|t| t.class == class)
            .map(|t| t.status.clone())
            .collect()
    };
    SuccessorStatus {
        customization_id: r.customization_id.clone(),
        base_model_name: r.base_model_name.clone(),
        request_token: r.request_token.clone(),
        started_at: r.started_at.clone(),
        phase: Some(phase_for(inner)),
        service_status: own.service_status,
        versions: if s.seen.versions.is_empty() {
            r.versions.clone()
        } else {
            s.seen.versions.clone()
        },
        inputs_digest: Some(facts.desired.inputs_digest.clone()),
        trained_inputs_digest: own.trained_inputs_digest,
        current_operation: own.current_operation,
        corpora: of(ResourceClass::Corpus),
        grammars: of(ResourceClass::Grammar),
        words_digest: words.digest,
        word_count: words.count,
        message: None,
    }
}

/// The `Recreated` condition after `action`: True at the switch, False while a new model is
/// built or after one failed; left as it is otherwise (and never set on a model never
/// re-created).
pub(super) fn set_recreated(st: &mut ModelStatus, facts: &Facts, action: &Action, now: Timestamp) {
    let generation = facts.generation;
    let serving = facts
        .recorded
        .customization_id
        .as_deref()
        .unwrap_or("(none)");
    let (ok, reason, message) = match (action, &st.successor) {
        (Action::SwitchToSuccessor, _) => {
            let new = st.customization_id.as_deref().unwrap_or("(none)");
            let base = st.base_model_name.as_deref().unwrap_or("unknown");
            (
                true,
                "Recreated",
                format!(
                    "switched from model {serving} to model {new} (base model {base}), trained on the current inputs; the previous model is deleted"
                ),
            )
        }
        (_, Some(r)) if r.customization_id.is_some() => (
            false,
            "Recreating",
            format!(
                "building the new model {} on {} ({}); model {serving} keeps serving until it is trained",
                r.customization_id.as_deref().unwrap_or_default(),
                r.base_model_name,
                r.phase.as_ref().map_or("Creating", |p| p.as_str())
            ),
        ),
        (_, Some(r)) => (
            false,
            "RecreateFailed",
            format!(
                "{}; model {serving} keeps serving. To retry: set a new value of the annotation {}, or change spec.baseModelName or the inputs",
                r.message.as_deref().unwrap_or("the new model failed"),
                crate::crd::RECREATE_REQUESTED_AT
            ),
        ),
        (_, None) => return,
    };
    set_condition(
        &mut st.conditions,
        RECREATED,
        ok,
        reason,
        message,
        generation,
        now,
    );
}

/// The Event of a re-create step: one when the new model is created, at the switch and when the
/// new model fails.
pub(super) fn event(next: &ModelStatus, action: &Action) -> Option<EventNote> {
    let message = || {
        condition(&next.conditions, RECREATED)
            .map(|c| c.message.clone())
            .unwrap_or_default()
    };
    match action {
        Action::CreateSuccessor => Some(EventNote {
            warning: false,
            reason: "Recreating".into(),
            message: message(),
        }),
        Action::SwitchToSuccessor => Some(EventNote {
            warning: false,
            reason: "Recreated".into(),
            message: message(),
        }),
        Action::AbandonSuccessor { .. } => Some(EventNote {
            warning: true,
            reason: "RecreateFailed".into(),
            message: message(),
        }),
        _ => None,
    }
}
