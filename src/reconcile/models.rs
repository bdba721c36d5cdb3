//! The reconcile of one model of any kind, its steps in order: read the model and add the
//! finalizer, then [`gather`](super::gather) facts → [`decide`](super::decide) →
//! [`perform`](super::perform) one action → [`write`](super::write) the status the decision
//! computed. A failure of any step ends here too: backoff by retry class, a condition and a
//! Warning Event, the reconcile metric.
//!
//! What differs per kind is [`KindOps`] (`kind.rs`), implemented in `language.rs`, `acoustic.rs`
//! and `voice.rs`.

use std::sync::Arc;
use std::time::Duration;

use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};
use tracing::warn;

use super::context::Context;
use super::context::memory::key_of;
use super::decide::{self, skipped_in_dry_run};
use super::error::Error;
use super::kind::KindOps;
use super::perform::{self, Performed};
use super::watches::Router;
use super::{gather, write};
use crate::decision::Action;
use crate::errors::{Classified, RetryClass};
use crate::model::ModelResource;

/// Consecutive 409 refusals after which a busy model is reported (condition and Event).
const STILL_BUSY_AFTER: u32 = 3;

/// Entry point for kube-runtime: reconcile one model of any kind. Errors never escape: they
/// become conditions, Events and a requeue chosen by their retry class.
///
/// The controller caches only each model's metadata (issue 11: memory per resource), so the
/// reconcile reads the object itself first: one GET, never older than this process's last
/// status write. It then records in `router` what the object references (its SpeechService,
/// Secrets, ConfigMaps, language model), so a change of any of them wakes it; `cache` (the
/// controller's metadata cache) tells whether the watch saw the model deleted meanwhile.
pub(crate) async fn reconcile<K: KindOps + crate::model::Referencing>(
    meta: Arc<PartialObjectMeta<K>>,
    ctx: Arc<Context>,
    router: Arc<Router>,
    cache: Store<PartialObjectMeta<K>>,
) -> Result<Requeue, Error> {
    // A served CRD of another schema (issue 25): nothing is read, written or called; the
    // start-up check logged it, and `/readyz` and `wso_crd_schema_current` say so.
    if ctx.schema_stale(&K::kind(&())) {
        return Ok(Requeue::await_change());
    }
    let started = std::time::Instant::now();
    let key = key_of(&*meta);
    let ns = meta.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let (obj, result) = match gather::read(&meta, &ctx, &router, &cache, &api).await {
        Ok(None) => return Ok(Requeue::await_change()),
        // A failed read is a failed reconcile like any other (backoff, warning, metric), with
        // no object to record it in.
        Err(err) => (None, Err(err)),
        Ok(Some(obj)) => {
            // A failed finalizer write goes to the controller's error policy (see run.rs).
            if let Some(done) = perform::finalizer_first(&obj, &ctx, &api, &key).await? {
                return Ok(done);
            }
            // At most a few reconciles per SpeechService at once (issue 26): one over the cap
            // comes back shortly, without a call.
            let Some(_slot) = ctx.slots.try_take(&ns, obj.service_name()) else {
                if let Some(m) = &ctx.metrics {
                    m.reconciled(
                        &K::kind(&()),
                        crate::metrics::result::DEFERRED,
                        "",
                        started.elapsed(),
                    );
                }
                return Ok(Requeue::requeue(over_the_cap_retry()));
            };
            // A deadline, so a call that hangs (Kubernetes or IBM) cannot hold the slot forever.
            let deadline = ctx.settings.reconcile_deadline;
            let result = tokio::time::timeout(deadline, traced_steps(&obj, &ctx, &api))
                .await
                .unwrap_or(Err(Error::Deadline(deadline)));
            if result.is_ok() {
                obj.after_reconcile(&ctx);
            }
            (Some(obj), result)
        }
    };
    let (requeue, outcome) = match result {
        Ok(requeue) => {
            ctx.memory.succeeded(&key);
            (requeue, Ok(()))
        }
        Err(err) => {
            let (requeue, class) = failed(obj.as_ref(), &ctx, &api, &key, &err).await;
            (requeue, Err((class, err.category())))
        }
    };
    if let Some(m) = &ctx.metrics {
        use crate::metrics::result::{BUSY, ERROR, SUCCESS};
        let (result, category) = match outcome {
            Ok(()) => (SUCCESS, ""),
            Err((RetryClass::WaitForService, c)) => (BUSY, c),
            Err((_, c)) => (ERROR, c),
        };
        m.reconciled(&K::kind(&()), result, category, started.elapsed());
    }
    Ok(requeue)
}

/// When a reconcile over its service's cap looks again: 1-2 s, spread so the refused ones do
/// not all come back at once.
fn over_the_cap_retry() -> Duration {
    Duration::from_millis(1000 + rand::random_range(0..1000))
}

/// A failed reconcile of `key` (`obj`: the model, when it was read): the next look by retry
/// class, and the failure in status and a Warning Event (a busy model only once it stays busy).
async fn failed<K: ModelResource>(
    obj: Option<&K>,
    ctx: &Context,
    api: &Api<K>,
    key: &str,
    err: &Error,
) -> (Requeue, RetryClass) {
    // A deletion never stalls: any failure is retried (issue 24).
    let deleting = obj.is_some_and(|o| o.meta().deletion_timestamp.is_some());
    let class = err.retry_class_deleting(deleting);
    let wait = match class {
        // Busy (409): usually brief, so at first look again soon and say nothing; a model that
        // stays busy (IBM users saw models stay locked until IBM support freed them) backs off
        // like a transient failure and, from the third refusal in a row, says so in its status
        // and a Warning Event.
        RetryClass::WaitForService | RetryClass::Backoff => {
            ctx.memory.backoff(key, Duration::from_secs(5))
        }
        RetryClass::Credentials => ctx.memory.backoff(key, Duration::from_secs(30)),
        // A conclusion about the service (what answers at its URL, what a base model
        // supports) is asked again at the drift interval (issue 25: one answer is not a
        // verdict for ever); one about the spec waits for its edit.
        RetryClass::WaitForSpecChange if err.about_service() => ctx.settings.drift_interval,
        RetryClass::WaitForSpecChange => Duration::from_secs(3600),
    };
    // The service (or its request budget) said how long to wait: come back then, never sooner
    // (issue 26: the wait is not spent in a reconcile slot).
    let wait = err
        .retry_after()
        .map_or(wait, |after| after.max(Duration::from_secs(1)));
    let refusals = ctx.memory.failures(key);
    if let Some(obj) = obj
        && (class != RetryClass::WaitForService || refusals >= STILL_BUSY_AFTER)
    {
        write::record_failure(obj, ctx, api, err).await;
    }
    warn!(object = %key, category = err.category(), error = %err, "reconcile failed; retrying in {:?}", wait);
    (Requeue::requeue(wait), class)
}

/// [`steps`] in one span: every log line of the reconcile carries the object and its IBM model.
async fn traced_steps<K: KindOps>(obj: &K, ctx: &Context, api: &Api<K>) -> Result<Requeue, Error> {
    let span = tracing::info_span!(
        "reconcile",
        kind = %K::kind(&()),
        namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
        customization_id = obj
            .model_status()
            .and_then(|s| s.customization_id.as_deref())
            .unwrap_or(""),
    );
    tracing::Instrument::instrument(steps(obj, ctx, api), span).await
}

/// Gather → decide → perform → write, for a model that has its finalizer.
async fn steps<K: KindOps>(obj: &K, ctx: &Context, api: &Api<K>) -> Result<Requeue, Error> {
    // The recorded status, read once for the whole reconcile.
    let prev = obj.previous();
    // Suspend first: no call at all, not even to resolve inputs or for a deletion.
    let mut facts = gather::standing(obj, ctx, &prev);
    if let Some(action) = decide::precheck(&facts) {
        if action == Action::ReleaseFinalizer {
            if skipped_in_dry_run(ctx, &action) {
                return write::skip(obj, ctx, api, &prev, &facts, &action).await;
            }
            // An observe-only model being deleted: the model stays, no call.
            perform::release_finalizer(obj, ctx, api).await?;
            return Ok(Requeue::await_change());
        }
        return write::settle_unobserved(obj, ctx, api, &prev, &facts, &action).await;
    }
    let svc = match ctx
        .services
        .handle(&obj.namespace().unwrap_or_default(), obj.service_name())
        .await
    {
        Ok(svc) => svc,
        // Deleting without a SpeechService: no call can be made; the decision says whether the
        // resource may go (nothing recorded) or waits for the user.
        Err(Error::ServiceMissing(_)) if facts.deleting => {
            facts.service_missing = Some(obj.service_name().to_string());
            let action = decide::decide(obj, &facts);
            if action == Action::ReleaseFinalizer && !skipped_in_dry_run(ctx, &action) {
                perform::release_finalizer(obj, ctx, api).await?;
                return Ok(Requeue::await_change());
            }
            return write::settle_unobserved(obj, ctx, api, &prev, &facts, &action).await;
        }
        Err(e) => return Err(e),
    };
    svc.verify().await?;
    let mut contents = Default::default();
    if !facts.deleting {
        contents = gather::inputs(obj, ctx, &mut facts).await?;
        // A terminal failure on these inputs: still no call.
        if let Some(action) = decide::precheck(&facts) {
            return write::settle_unobserved(obj, ctx, api, &prev, &facts, &action).await;
        }
    }
    let g = gather::gather(obj, ctx, &svc, &prev, facts, contents).await?;
    let mut action = decide::decide(obj, &g.facts);
    let performed = match perform::perform(obj, ctx, api, &svc, &action, &g).await {
        // The service (or the capability check) refused the new model of a re-create, a refusal
        // only a change fixes: recorded as the re-create's failure; the current model, untouched,
        // keeps serving and stays Ready.
        Err(e)
            if action == Action::CreateSuccessor
                && e.retry_class() == RetryClass::WaitForSpecChange =>
        {
            action = Action::AbandonSuccessor {
                reason: format!("the new model was refused: {e}"),
            };
            Performed::Done(Default::default())
        }
        other => other?,
    };
    let outcome = match performed {
        Performed::Done(outcome) => outcome,
        Performed::Requeue(r) => return Ok(r),
        Performed::Skipped => return write::skip(obj, ctx, api, &prev, &g.facts, &action).await,
    };
    perform::await_listing(obj, &svc, &action, &g);
    let export = write::export_inputs(&svc, &g.facts);
    write::settle(
        obj,
        ctx,
        api,
        &prev,
        &g.facts,
        g.seen.clone(),
        &action,
        outcome,
        export.as_ref(),
    )
    .await
}
