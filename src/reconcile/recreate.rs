//! Re-create without downtime (issue 27, point 5), the I/O half; the decision is
//! [`crate::decision::successor`]. Observes the new model recorded in `status.successor` the way
//! any model is observed (its entry in the shared listing, its data where the record cannot be
//! trusted), and performs a step on it: the same kind calls ([`KindOps::change`]) on its ID, with
//! the facts of the new model as a model of its own.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::context::{Context, ServiceHandle};
use super::decide::drift_interval;
use super::error::Error;
use super::gather::observe;
use super::kind::{Check, Gathered, KindOps};
use crate::crd::ModelStatus;
use crate::decision::status::{Outcome, Previous, ResourceClass, TrackedResource};
use crate::decision::successor::{Successor, sub_facts};
use crate::decision::{Action, Facts, ModelKind};

/// The record of the new model as a model's own recorded status, so it is observed exactly like
/// one (what may be taken from the record, which data is listed).
fn as_previous(s: &crate::crd::SuccessorStatus) -> Previous {
    let tracked = |class: ResourceClass, list: &[crate::crd::ResourceStatus]| {
        list.iter()
            .map(|r| TrackedResource {
                class,
                status: r.clone(),
            })
            .collect::<Vec<_>>()
    };
    let mut resources = tracked(ResourceClass::Corpus, &s.corpora);
    resources.extend(tracked(ResourceClass::Grammar, &s.grammars));
    Previous {
        model: ModelStatus {
            customization_id: s.customization_id.clone(),
            trained_inputs_digest: s.trained_inputs_digest.clone(),
            current_operation: s.current_operation.clone(),
            service_status: s.service_status.clone(),
            versions: s.versions.clone(),
            ..Default::default()
        },
        resources,
        word_count: s.word_count,
        words_digest: s.words_digest.clone(),
        trained_with_language_model: None,
    }
}

/// The new model recorded in `status.successor` (language models), with what the service
/// reports of it. A failed one (no ID) is passed as recorded; while the resource is being
/// deleted the record alone decides (the ID is deleted whatever its state).
pub(crate) async fn gather_successor<K: KindOps>(
    obj: &K,
    ctx: &Context,
    svc: &ServiceHandle,
    prev: &Previous,
    facts: &Facts,
) -> Result<Option<Successor>, Error> {
    if K::KIND != ModelKind::Language {
        return Ok(None);
    }
    let Some(record) = prev.model.successor.clone() else {
        return Ok(None);
    };
    let operation_age = record.current_operation.as_ref().map(|o| {
        let secs = Timestamp::now().as_second() - o.started_at.0.as_second();
        Duration::from_secs(secs.max(0) as u64)
    });
    let mut successor = Successor {
        record,
        observed: None,
        seen: Default::default(),
        operation_age,
    };
    let Some(id) = successor.record.customization_id.clone() else {
        return Ok(Some(successor));
    };
    if facts.deleting {
        return Ok(Some(successor));
    }
    let own = as_previous(&successor.record);
    let check = Check {
        steady: false,
        prev: &own,
        waits_for_dependency: false,
        read_all: false,
        requested: false,
        drift_interval: drift_interval(obj, ctx),
        deleting: false,
    };
    if let Some(found) = observe(obj, svc, &id, &check, &facts.desired, ctx).await? {
        successor.observed = Some(found.observed);
        successor.seen = found.seen;
    }
    Ok(Some(successor))
}

/// The new model's ID, for a step on it.
fn successor_id(facts: &Facts) -> Result<&str, Error> {
    facts
        .successor
        .as_ref()
        .and_then(|s| s.in_flight())
        .ok_or_else(|| Error::InvalidSpec("no new model recorded in status.successor".into()))
}

/// Performs `inner`, a step of the new model, on it: the kind's call on its ID with its own
/// facts (its uploads, its training), and tells the shared listing it changed.
pub(crate) async fn perform_on_successor<K: KindOps>(
    obj: &K,
    svc: &ServiceHandle,
    inner: &Action,
    g: &Gathered,
) -> Result<Outcome, Error> {
    let id = successor_id(&g.facts)?.to_string();
    let Some(s) = g.facts.successor.as_ref() else {
        return Ok(Outcome::default());
    };
    let own = Gathered {
        facts: sub_facts(&g.facts, s),
        contents: g.contents.clone(),
        seen: s.seen.clone(),
        cluster_name: g.cluster_name.clone(),
    };
    let result = obj.change(svc, &id, inner, &own).await;
    svc.changed(&id).await;
    match result {
        Err(Error::Watson(w))
            if matches!(inner, Action::Train { .. }) && w.is_no_input_modified() =>
        {
            Ok(Outcome {
                already_trained: true,
                ..Default::default()
            })
        }
        other => other,
    }
}

/// Deletes the new model that failed (a model already gone has been deleted).
pub(crate) async fn abandon<K: KindOps>(svc: &ServiceHandle, g: &Gathered) -> Result<(), Error> {
    let Ok(id) = successor_id(&g.facts) else {
        return Ok(());
    };
    match K::delete(svc, id).await {
        Err(Error::Watson(e)) if e.is_not_found() => {}
        other => other?,
    }
    svc.deleted(K::KIND, id).await;
    Ok(())
}
