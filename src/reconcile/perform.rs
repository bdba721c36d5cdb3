//! Step 3 of a model's reconcile: perform the one action the decision chose. Creates (under the
//! quota), deletes and adoptions are written here once for every kind; the kind's other calls
//! are [`KindOps::change`]. Also the finalizer: added before anything is created on the service,
//! released when the decision says the object may go.

use std::time::Duration;

use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::{Api, ResourceExt};

use super::context::listings::Entry;
use super::context::memory::key_of;
use super::context::{Context, ServiceHandle};
use super::decide::skipped_in_dry_run;
use super::error::Error;
use super::gather::{
    Owner, marker, marker_uid, named_token, observe, same_base_model, token_cluster,
};
use super::kind::{Check, Gathered, KindOps};
use crate::crd::FINALIZER;
use crate::decision::status::{self as decided, Outcome};
use crate::decision::{self, Action, ModelKind};
use crate::model::ModelResource;

/// How old the model count behind the quota check may be. The count follows the operator's own
/// creates and deletes at once ([`ServiceHandle::model_count`]), so only models made by others
/// in the last minute can be missed; the service refuses a create past its own limit anyway.
pub(crate) const QUOTA_COUNT_AGE: Duration = Duration::from_secs(60);

/// What performing the action led to.
pub(crate) enum Performed {
    /// Done: what it returned, for the status.
    Done(Outcome),
    /// The reconcile ends here (the finalizer was released).
    Requeue(Requeue),
    /// `run --dry-run`: the action was not performed.
    Skipped,
}

/// Finalizer first (never for objects already being deleted): adds it, or forgets an object
/// being deleted without it. `Some` when that ends this reconcile.
pub(crate) async fn finalizer_first<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    key: &str,
) -> Result<Option<Requeue>, Error> {
    let has_finalizer = obj.finalizers().iter().any(|f| f == FINALIZER);
    match obj.meta().deletion_timestamp {
        None if !has_finalizer => {
            let mut fins = obj.finalizers().to_vec();
            fins.push(FINALIZER.to_string());
            let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": obj.resource_version()}});
            api.patch(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
            Ok(Some(Requeue::await_change()))
        }
        Some(_) if !has_finalizer => {
            ctx.memory.forget(key);
            Ok(Some(Requeue::await_change()))
        }
        _ => Ok(None),
    }
}

/// Removes the operator's finalizer (the model is retained, gone, never created or observed
/// only), so the object goes, and forgets what this process remembered of it.
pub(crate) async fn release_finalizer<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
) -> Result<(), Error> {
    let fins: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    let patch = serde_json::json!({"metadata": {"finalizers": fins}});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.memory.forget(&key_of(obj));
    if let Some(id) = obj.previous().model.customization_id.as_deref() {
        ctx.stop_awaiting(&obj.namespace().unwrap_or_default(), obj.service_name(), id);
    }
    // The SpeechService may be unused now: it looks again at once (its in-use finalizer).
    ctx.users.gone(&key_of(obj));
    ctx.notify_service_of(&format!(
        "{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.service_name()
    ));
    Ok(())
}

/// How soon a model waiting for its SpeechService to carry the in-use finalizer looks again.
const PROTECTION_WAIT: Duration = Duration::from_secs(1);

/// Performs the one action.
pub(crate) async fn perform<K: KindOps>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    svc: &ServiceHandle,
    action: &Action,
    g: &Gathered,
) -> Result<Performed, Error> {
    if g.facts.observe_only && action.writes_to_service() {
        // The decision never chooses a write for an observed model; this keeps it structural.
        return Err(Error::InvalidSpec(format!(
            "spec.managementPolicy is ObserveOnly: refusing to {action:?} (the operator never writes to an observed model; please report this)"
        )));
    }
    if skipped_in_dry_run(ctx, action) {
        return Ok(Performed::Skipped);
    }
    match action {
        Action::ReleaseFinalizer => {
            release_finalizer(obj, ctx, api).await?;
            Ok(Performed::Requeue(Requeue::await_change()))
        }
        Action::Wait { .. }
        | Action::UpToDate
        | Action::Suspended
        | Action::AwaitSpecChange
        | Action::AdoptedModelMissing
        | Action::Observe(_)
        | Action::SwitchToSuccessor
        | Action::Finish { .. } => Ok(Performed::Done(Outcome::default())),
        Action::Successor(inner) if !inner.writes_to_service() => {
            Ok(Performed::Done(Outcome::default()))
        }
        Action::Adopt {
            customization_id,
            recovered,
        } => {
            adopt(obj, ctx, svc, customization_id, *recovered, g).await?;
            Ok(Performed::Done(Outcome::default()))
        }
        // Nothing is created before the SpeechService (and its credentials Secret) carry the
        // in-use finalizer: the deletion of this model will need them. The service reconcile,
        // woken here, adds it.
        Action::Create | Action::Recreate | Action::CreateSuccessor
            if !ctx
                .services
                .protected(&obj.namespace().unwrap_or_default(), obj.service_name()) =>
        {
            ctx.notify_service_of(&format!(
                "{}/{}",
                obj.namespace().unwrap_or_default(),
                obj.service_name()
            ));
            Ok(Performed::Requeue(Requeue::requeue(PROTECTION_WAIT)))
        }
        other => Ok(Performed::Done(
            write_to_service(obj, ctx, svc, other, g).await?,
        )),
    }
}

/// Verifies that the model to adopt exists, on the right base model, before it is recorded:
/// against a fresh listing, since the shared one may predate a model made moments ago by a
/// script.
async fn adopt<K: KindOps>(
    obj: &K,
    ctx: &Context,
    svc: &ServiceHandle,
    customization_id: &str,
    recovered: bool,
    g: &Gathered,
) -> Result<(), Error> {
    svc.invalidate().await;
    let prev = obj.previous();
    let check = Check {
        steady: false,
        prev: &prev,
        waits_for_dependency: false,
        read_all: false,
        requested: false,
        drift_interval: ctx.settings.drift_interval,
        deleting: false,
    };
    let Some(found) = observe(obj, svc, customization_id, &check, &g.facts.desired, ctx).await?
    else {
        return Err(Error::AdoptionMismatch(format!(
            "model {customization_id} does not exist on the service (or belongs to other credentials): fix spec.customizationId"
        )));
    };
    same_base_model(obj, customization_id, &found)?;
    if !recovered {
        not_managed_by_another(obj, ctx, svc, customization_id).await?;
    }
    Ok(())
}

/// Refuses to adopt a model that carries the ownership marker of another resource of the same
/// kind that still exists: two resources would manage one model and undo each other (issue
/// 24). A marker whose resource is gone is an orphan, free to adopt.
async fn not_managed_by_another<K: KindOps>(
    obj: &K,
    ctx: &Context,
    svc: &ServiceHandle,
    customization_id: &str,
) -> Result<(), Error> {
    let list = svc
        .models::<K::Entry>(QUOTA_COUNT_AGE, Some(customization_id))
        .await?;
    let Some(owner_uid) = list
        .iter()
        .find(|m| m.id() == customization_id)
        .and_then(|m| m.description())
        .and_then(marker_uid)
        .map(str::to_string)
    else {
        return Ok(());
    };
    let cluster = ctx.settings.cluster_name.as_deref();
    let me = Owner::of(obj, cluster);
    if me.owns(&owner_uid) {
        return Ok(());
    }
    // A named marker of another cluster (issue 25, point 2): that cluster may still manage it,
    // and nothing here can tell. Never adopted.
    if let Some(tag) = token_cluster(&owner_uid)
        && me.cluster.as_deref() != Some(tag)
    {
        return Err(Error::AdoptionMismatch(format!(
            "model {customization_id} carries the ownership marker of another cluster (another --cluster-name) that shares this service instance: two clusters must not manage one model. Adopt it from that cluster, or adopt another model; the model was not changed"
        )));
    }
    // The owner is looked for where the operator may look: every namespace, else (a
    // namespaced installation) this one.
    let all: Api<K> = Api::all(ctx.client.clone());
    let owners = match all.list_metadata(&ListParams::default()).await {
        Ok(list) => list,
        Err(_) => {
            let ns: Api<K> =
                Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
            ns.list_metadata(&ListParams::default()).await?
        }
    };
    let kind = K::kind(&());
    let owns = |m: &kube::api::ObjectMeta| {
        m.uid.as_deref() == Some(owner_uid.as_str())
            || cluster.is_some_and(|c| {
                named_token(
                    c,
                    &kind,
                    m.namespace.as_deref().unwrap_or_default(),
                    m.name.as_deref().unwrap_or_default(),
                ) == owner_uid
            })
    };
    if let Some(owner) = owners.items.iter().find(|m| owns(&m.metadata)) {
        return Err(Error::AdoptionMismatch(format!(
            "model {customization_id} carries the ownership marker of {} {}/{}, which manages it: two resources must not manage one model. Delete that resource first (with deletionPolicy Retain to keep the model), or adopt another model; the model was not changed",
            K::kind(&()),
            owner.metadata.namespace.as_deref().unwrap_or_default(),
            owner.metadata.name.as_deref().unwrap_or_default()
        )));
    }
    Ok(())
}

/// Refuses, before any write, a spec the base model cannot serve: an acoustic model on a base
/// without acoustic customization, grammars on a large speech model, a base the service does
/// not offer ([`decision::capability::check`]). Voice models have no base model.
async fn check_base_model<K: KindOps>(
    obj: &K,
    svc: &ServiceHandle,
    g: &Gathered,
) -> Result<(), Error> {
    use decision::capability::{Asked, check};
    let Some(base) = obj.base_model_name() else {
        return Ok(());
    };
    if K::KIND == ModelKind::Voice {
        return Ok(());
    }
    let features = svc.base_model_features(base).await?;
    let grammars = g
        .facts
        .desired
        .resources
        .iter()
        .filter(|(_, d)| decision::ResourceClass::of_digest(d) == decision::ResourceClass::Grammar)
        .map(|(n, _)| n.as_str())
        .collect();
    check(&Asked {
        kind: K::KIND,
        base_model_name: base,
        features,
        grammars,
    })
    .map_err(Error::Unsupported)
}

/// Performs an action that writes to the service, then tells the shared listing (and, when the
/// model count changed, the SpeechService).
async fn write_to_service<K: KindOps>(
    obj: &K,
    ctx: &Context,
    svc: &ServiceHandle,
    action: &Action,
    g: &Gathered,
) -> Result<Outcome, Error> {
    let id = g.facts.recorded.customization_id.as_deref();
    // Before a model is created, the base model must be able to serve the spec (issue 27):
    // what it supports comes from the service (`GET /v1/models/{id}`, cached per service).
    if matches!(
        action,
        Action::Create | Action::Recreate | Action::CreateSuccessor
    ) {
        check_base_model(obj, svc, g).await?;
    }
    // A step of a re-create's new model: on its own ID, with its own facts.
    if let Action::Successor(inner) = action {
        return super::recreate::perform_on_successor(obj, svc, inner, g).await;
    }
    // Creates count the instance's models first, under a per-service lock, and never go past
    // the quota.
    let _create_guard = match action {
        Action::Create | Action::Recreate | Action::CreateSuccessor
            if K::KIND != ModelKind::Voice =>
        {
            let guard = svc.create_lock.lock().await;
            let in_use = svc.model_count(K::KIND, QUOTA_COUNT_AGE).await?;
            decision::quota_guard(K::KIND, in_use, ctx.settings.model_quota)
                .map_err(Error::QuotaExceeded)?;
            Some(guard)
        }
        _ => None,
    };
    let outcome = match execute(obj, svc, id, action, g).await {
        Ok(o) => o,
        Err(Error::Watson(w))
            if matches!(action, Action::Train { .. }) && w.is_no_input_modified() =>
        {
            Outcome {
                already_trained: true,
                ..Default::default()
            }
        }
        // An upgrade whose answer was lost (issue 24) has been done: the service says so.
        Err(Error::Watson(w))
            if matches!(action, Action::Upgrade { .. }) && w.is_already_latest() =>
        {
            Outcome::default()
        }
        // Busy (409) goes to the error path, which looks again soon at first and backs off (and
        // says so) when the model stays busy. Whatever failed, the service may have acted (an
        // answer lost on the way back): the next look at the model reads a fresh listing.
        Err(e) => {
            if let Some(changed) = id {
                svc.changed(changed).await;
            }
            // A create whose answer never came may have made a marked model all the same: the
            // next look for it lists again.
            if matches!(
                action,
                Action::Create | Action::Recreate | Action::CreateSuccessor
            ) {
                svc.invalidate().await;
            }
            return Err(e);
        }
    };
    if let Some(changed) = id {
        svc.changed(changed).await;
    }
    // A create already put its model in the shared listing (`create`).
    if outcome.created_id.is_some() {
        crate::failpoint::hit("after_create");
    }
    if let (Action::DeleteModel, Some(deleted)) = (action, id) {
        svc.deleted(K::KIND, deleted).await;
    }
    if let Action::DeleteMarked {
        customization_id, ..
    } = action
    {
        svc.deleted(K::KIND, customization_id).await;
    }
    if matches!(
        action,
        Action::Create
            | Action::Recreate
            | Action::CreateSuccessor
            | Action::AbandonSuccessor { .. }
            | Action::DeleteModel
            | Action::DeleteMarked { .. }
    ) {
        // The service's model count changed: let it recount now. Nobody listening (no
        // controller running) is fine.
        let ns = obj.namespace().unwrap_or_default();
        let _ = ctx
            .notices
            .service_changed
            .send((ns, obj.service_name().to_string()));
    }
    Ok(outcome)
}

/// The IBM call of an action that writes to the service: create and delete for every kind here,
/// the rest by the kind ([`KindOps::change`]) on the recorded model `id`.
async fn execute<K: KindOps>(
    obj: &K,
    svc: &ServiceHandle,
    id: Option<&str>,
    action: &Action,
    g: &Gathered,
) -> Result<Outcome, Error> {
    let id_or = || id.ok_or_else(|| Error::InvalidSpec("no customization id recorded".into()));
    match action {
        // The new model of a re-create is made like the first (the spec's base model, name and
        // the ownership marker): a crash before its ID is recorded leaves a marked duplicate,
        // which goes.
        Action::Create | Action::Recreate | Action::CreateSuccessor => {
            let owner = Owner::of(obj, g.cluster_name.as_deref());
            let entry = obj
                .create(
                    svc,
                    model_name(obj),
                    description(obj.description(), owner.written()),
                )
                .await?;
            let created_id = entry.id().to_string();
            // The create's answer is the new model's entry: the next look at it makes no LIST.
            svc.created(entry).await;
            Ok(Outcome {
                created_id: Some(created_id),
                ..Default::default()
            })
        }
        Action::DeleteModel => delete::<K>(svc, id_or()?).await,
        Action::AbandonSuccessor { .. } => {
            super::recreate::abandon::<K>(svc, g).await?;
            Ok(Outcome::default())
        }
        Action::DeleteMarked {
            customization_id, ..
        } => delete::<K>(svc, customization_id).await,
        other => obj.change(svc, id_or()?, other, g).await,
    }
}

/// Deletes the model `id`; a model already gone (IBM's 401 "Invalid customization_id" or a 404,
/// confirmed by the client with a collection call the credentials pass) has been deleted.
async fn delete<K: KindOps>(svc: &ServiceHandle, id: &str) -> Result<Outcome, Error> {
    match K::delete(svc, id).await {
        Err(Error::Watson(e)) if e.is_not_found() => Ok(Outcome::default()),
        Err(e) => Err(e),
        Ok(()) => Ok(Outcome::default()),
    }
}

/// The description sent on create: the user's, then the ownership marker of `token`
/// ([`Owner::written`]).
pub(crate) fn description(user: Option<&str>, token: &str) -> String {
    format!("{}{}", user.unwrap_or(""), marker(token))
        .trim()
        .to_string()
}

/// The model name sent on create: `spec.modelName`, else `<namespace>-<name>`.
pub(crate) fn model_name<K: ModelResource>(obj: &K) -> String {
    obj.model_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}-{}", obj.namespace().unwrap_or_default(), obj.name_any()))
}

/// After the action: a model waiting on the service (training, upgrading, data being analysed)
/// is also woken by the LISTs other models make ([`ServiceHandle::await_listing`]); any other
/// model waits no more.
pub(crate) fn await_listing<K: ModelResource>(
    obj: &K,
    svc: &ServiceHandle,
    action: &Action,
    g: &Gathered,
) {
    if K::KIND == ModelKind::Voice {
        return;
    }
    let Some(id) = g.facts.recorded.customization_id.as_deref() else {
        return;
    };
    let seen = g.facts.observed.as_ref().and_then(|o| o.status.as_ref());
    svc.await_listing(
        K::KIND,
        id,
        (&obj.namespace().unwrap_or_default(), &obj.name_any()),
        seen,
        !g.facts.deleting && decided::awaits_listing(action),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_ends_with_the_ownership_marker() {
        assert_eq!(
            description(Some("helpdesk"), "my-uid"),
            "helpdesk [wso:my-uid]"
        );
        assert_eq!(description(None, "my-uid"), "[wso:my-uid]");
    }
}
