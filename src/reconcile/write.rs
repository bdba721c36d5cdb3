//! Step 4 of a model's reconcile: write the status the decision computed (only when the typed
//! status differs from the stored one: a JSON merge patch of the fields that changed), the
//! export that goes into the same write, and the Event the decision chose; say when to look
//! again. Also the two other writers of status: a failed reconcile ([`record_failure`]) and a
//! step `run --dry-run` skipped ([`skip`]).

use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType};
use kube::{Api, ResourceExt};
use tracing::{info, warn};

use super::context::memory::key_of;
use super::context::{Context, ServiceHandle};
use super::decide::{drift_interval, timing};
use super::error::Error;
use super::export;
use crate::decision::export::LanguageModel;
use crate::decision::status::{
    self as decided, EventNote, Failure, Observation, Outcome, Previous,
};
use crate::decision::text::{EVENT_NOTE_MAX_BYTES, cut};
use crate::decision::{Action, Dependency, Facts};
use crate::errors::{Classified, RetryClass};
use crate::model::ModelResource;

/// What the export needs that status does not hold; nothing is exported while deleting (the
/// garbage collector deletes the ConfigMap with the resource).
pub(crate) fn export_inputs(svc: &ServiceHandle, facts: &Facts) -> Option<export::Inputs> {
    (!facts.deleting).then(|| export::Inputs {
        service_url: svc.url().to_string(),
        language_model: match &facts.dependency {
            Dependency::None => LanguageModel::None,
            Dependency::Available {
                customization_id, ..
            } => LanguageModel::Known(customization_id.clone()),
            Dependency::Missing | Dependency::NotReady { .. } => LanguageModel::Unknown,
        },
    })
}

/// Writes the status the decision computed, emits its Event, and says when to look again.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn settle<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    prev: &Previous,
    facts: &Facts,
    seen: Observation,
    action: &Action,
    outcome: Outcome,
    export: Option<&export::Inputs>,
) -> Result<Requeue, Error> {
    let now = Timestamp::now();
    let mut update = decided::next(prev, facts, &seen, action, &outcome, now);
    // The export goes into the same status write (`None`: left as it is, e.g. while suspended).
    let exported = match export {
        Some(inputs) => Some(export::sync(obj, ctx, &mut update.model, inputs).await),
        None => None,
    };
    write_remembered(obj, ctx, api, &update).await?;
    if let Some(note) = decided::event(&prev.model, &update.model, action, facts.deleting) {
        publish(ctx, obj, &note).await;
    }
    if let Some(note) = decided::base_model_event(&prev.model, &update.model) {
        publish(ctx, obj, &note).await;
    }
    let retry_export = exported.as_ref().is_some_and(|e| e.retry);
    if let Some(note) = exported.and_then(|e| e.event) {
        publish(ctx, obj, &note).await;
    }
    let after = decided::look_again(
        action,
        &update.model,
        &timing(ctx, drift_interval(obj, ctx)),
        &facts.expected,
        now,
    );
    Ok(match (after, retry_export) {
        (Some(after), true) => Requeue::requeue(after.min(export::RETRY_AFTER)),
        (None, true) => Requeue::requeue(export::RETRY_AFTER),
        (Some(after), false) => Requeue::requeue(after),
        (None, false) => Requeue::await_change(),
    })
}

/// [`settle`] for a reconcile that ends before anything is observed (suspended, a terminal
/// failure on the same inputs): nothing seen, nothing done, nothing exported.
pub(crate) async fn settle_unobserved<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    prev: &Previous,
    facts: &Facts,
    action: &Action,
) -> Result<Requeue, Error> {
    let seen = Observation::default();
    settle(
        obj,
        ctx,
        api,
        prev,
        facts,
        seen,
        action,
        Outcome::default(),
        None,
    )
    .await
}

/// Writes `update` (when it changes the status) and feeds the written status to the metrics
/// ([`super::context::Memory::saw_status`]).
async fn write_remembered<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    update: &decided::StatusUpdate,
) -> Result<(), Error> {
    if let Some(written) = write_status(obj, api, update).await? {
        ctx.memory.saw_status(&key_of(obj), &written);
    }
    Ok(())
}

/// `run --dry-run` skipped `action`: logs it and writes only `nextAction` (`dry run: would ...`);
/// looks again at the drift interval (or on any change of the object).
pub(crate) async fn skip<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    prev: &Previous,
    facts: &Facts,
    action: &Action,
) -> Result<Requeue, Error> {
    let update = decided::skipped(prev, facts, action);
    info!(
        kind = ?K::KIND,
        name = %obj.name_any(),
        ?action,
        next_action = update.model.next_action.as_deref().unwrap_or(""),
        "dry run: skipped"
    );
    write_remembered(obj, ctx, api, &update).await?;
    Ok(Requeue::requeue(drift_interval(obj, ctx)))
}

/// Writes the failure the decision computed and its Warning Event.
pub(crate) async fn record_failure<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    err: &Error,
) {
    let prev = obj.previous();
    let mut message = err.to_string();
    if err.retry_class() == RetryClass::WaitForService {
        message.push_str(
            "; the service has refused changes to this model several times in a row: the operator keeps retrying with backoff; if it lasts, the model may be locked on IBM's side (ask IBM support, naming the customization ID)",
        );
    }
    let last_inputs = ctx.memory.last_inputs(&key_of(obj));
    let deleting = obj.meta().deletion_timestamp.is_some();
    let failure = Failure {
        category: err.category(),
        message: &message,
        dependency: matches!(
            err,
            Error::Service(_)
                | Error::ServiceMissing(_)
                | Error::Input(_)
                | Error::WrongService(_)
                | Error::Unconfirmed(_)
                | Error::ModelsVanished(_)
        ) || err.retry_class() == RetryClass::Credentials,
        terminal: err.retry_class_deleting(deleting) == RetryClass::WaitForSpecChange,
        stalled: err.needs_user(),
        inputs_digest: last_inputs.as_deref(),
        dry_run: ctx.settings.dry_run,
    };
    let (model, event) = decided::after_failure(
        &prev.model,
        &failure,
        obj.meta().generation,
        Timestamp::now(),
    );
    let update = decided::StatusUpdate {
        trained_with_language_model: prev.trained_with_language_model,
        model,
        resources: prev.resources,
        word_count: prev.word_count,
        words_digest: prev.words_digest,
    };
    let _ = write_remembered(obj, ctx, api, &update).await;
    if let Some(mut note) = event {
        if let Some(tx) = err.transaction_id() {
            note.message.push_str(&format!(" (IBM transaction {tx})"));
        }
        publish(ctx, obj, &note).await;
    }
}

async fn publish<K: ModelResource>(ctx: &Context, obj: &K, note: &EventNote) {
    let reference = obj.object_ref(&());
    let event = Event {
        type_: if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: note.reason.clone(),
        note: Some(cut(&note.message, EVENT_NOTE_MAX_BYTES)),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        warn!(error = %e, "cannot publish Event");
    }
}

/// Patches status when (and only when) the typed status changed: a JSON merge patch of the
/// top-level fields that differ, `null` for the ones that went away. Returns the object as the
/// API server stored it, `None` when there was nothing to write.
async fn write_status<K: ModelResource>(
    obj: &K,
    api: &Api<K>,
    update: &decided::StatusUpdate,
) -> Result<Option<K>, Error> {
    let new = obj.status_from(update);
    let old = obj.status().cloned().unwrap_or_default();
    if new == old {
        return Ok(None);
    }
    let Some(patch) = merge_patch(&old, &new) else {
        return Ok(None);
    };
    let written = api
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({ "status": patch })),
        )
        .await?;
    Ok(Some(written))
}

/// The JSON merge patch (RFC 7386) from `old` to `new` (both typed statuses); `None` when equal.
/// A merge patch merges nested objects key by key, so a key gone from a nested object (say
/// `status.successor.wordCount`) is sent as `null` too, not just left out.
pub(crate) fn merge_patch<S: serde::Serialize>(old: &S, new: &S) -> Option<serde_json::Value> {
    let as_value = |s: &S| serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
    diff(&as_value(old), &as_value(new))
}

/// The merge patch turning `before` into `after`: objects key by key (removed keys `null`),
/// anything else replaced whole; `None` when equal.
fn diff(before: &serde_json::Value, after: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value;
    if before == after {
        return None;
    }
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return Some(after.clone());
    };
    let mut patch = serde_json::Map::new();
    for (k, v) in a {
        match b.get(k) {
            Some(old) => {
                if let Some(d) = diff(old, v) {
                    patch.insert(k.clone(), d);
                }
            }
            None => {
                patch.insert(k.clone(), v.clone());
            }
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_patch_names_changed_and_removed_fields_only() {
        let old = serde_json::json!({"phase": "Ready", "warnings": ["w"], "progress": 0});
        let new = serde_json::json!({"phase": "Available", "progress": 0});
        assert_eq!(
            merge_patch(&old, &new),
            Some(serde_json::json!({"phase": "Available", "warnings": null}))
        );
        assert_eq!(merge_patch(&new, &new), None);
    }

    /// Every typed status written by merge patch goes through this diff, so a field cleared in
    /// it is removed: `status.evaluation.candidate` once taken at the switch (issue 28), a
    /// SpeechService's `modelsInUse` once unknown.
    #[test]
    fn cleared_fields_of_the_evaluation_and_service_statuses_are_removed() {
        use crate::crd::evaluation::{EvaluationStatus, Measurement};
        let m = Measurement {
            customization_id: "new".into(),
            base_model_version: None,
            trained_inputs_digest: None,
            key: "k".into(),
            wer_basis_points: Some(0),
            wer: Some("0.00%".into()),
            items: 1,
            words: 1,
            errors: 0,
            measured_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
        };
        let held = EvaluationStatus {
            candidate: Some(m.clone()),
            message: Some("x".into()),
            ..Default::default()
        };
        let taken = EvaluationStatus {
            current: Some(m),
            ..Default::default()
        };
        let patch = merge_patch(&held, &taken).expect("patch");
        assert_eq!(patch["candidate"], serde_json::Value::Null);
        assert_eq!(patch["message"], serde_json::Value::Null);
        let old = crate::crd::SpeechServiceStatus {
            models_in_use: Some(3),
            ..Default::default()
        };
        let new = crate::crd::SpeechServiceStatus::default();
        assert_eq!(
            merge_patch(&old, &new),
            Some(serde_json::json!({"modelsInUse": null}))
        );
    }

    /// A key gone from a nested object is removed (`null`), since a merge patch merges nested
    /// objects: `status.successor.wordCount` must not outlive the value that cleared it.
    #[test]
    fn the_status_patch_removes_keys_of_nested_objects() {
        let old = serde_json::json!({"successor": {"id": "a", "wordCount": 0}, "phase": "Ready"});
        let new = serde_json::json!({"successor": {"id": "a"}, "phase": "Ready"});
        assert_eq!(
            merge_patch(&old, &new),
            Some(serde_json::json!({"successor": {"wordCount": null}}))
        );
    }
}
