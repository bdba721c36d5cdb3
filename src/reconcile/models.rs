//! The reconcile shell of the three model kinds: gather facts, call the decision
//! ([`crate::decision`]), perform the one action, write the status the decision computed (only
//! when it changed) and the Event it chose.
//!
//! What differs per kind (which IBM calls, which resources) sits in [`KindOps`], implemented in
//! `language.rs`, `acoustic.rs` and `voice.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use tracing::{info, warn};

use super::context::{Context, ServiceHandle};
use super::error::Error;
use super::watches::{Dependent, Router};
use crate::crd::{FINALIZER, ResourceServiceStatus};
use crate::decision::export::LanguageModel;
use crate::decision::status::{
    self as decided, EventNote, Failure, Observation, Outcome, Previous, ResourceClass, Timing,
    TrackedResource,
};
use crate::decision::{
    self, Action, Dependency, Desired, Facts, ModelKind, Observed, Recorded, ResourceState,
    ServiceStatus,
};
use crate::errors::{Classified, RetryClass};
pub use crate::model::ModelResource;

/// The ownership marker put in the description of every model the operator creates, so a model
/// created just before a crash is found again instead of duplicated.
pub fn marker(uid: &str) -> String {
    format!(" [wso:{uid}]")
}

/// The ID of the model whose description carries the ownership marker of the object `uid`, from
/// `(description, customization id)` pairs of a listing.
pub(crate) fn marked<'a>(
    uid: &str,
    models: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
) -> Option<String> {
    let mark = marker(uid);
    let mark = mark.trim();
    models
        .into_iter()
        .find(|(description, _)| description.is_some_and(|d| d.contains(mark)))
        .map(|(_, id)| id.to_string())
}

/// The description sent on create: the user's, then the ownership marker.
pub(crate) fn description(user: Option<&str>, uid: &str) -> String {
    format!("{}{}", user.unwrap_or(""), marker(uid))
        .trim()
        .to_string()
}

/// The model name sent on create: `spec.modelName`, else `<namespace>-<name>`.
pub(crate) fn model_name<K: ModelResource>(obj: &K) -> String {
    obj.model_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}-{}", obj.namespace().unwrap_or_default(), obj.name_any()))
}

/// How fresh the shared listing must be while work is in flight.
pub(crate) const IN_FLIGHT_AGE: Duration = Duration::from_millis(500);

/// How old the model count behind the quota check may be. The count follows the operator's own
/// creates and deletes at once ([`ServiceHandle::model_count`]), so only models made by others
/// in the last minute can be missed; the service refuses a create past its own limit anyway.
pub(crate) const QUOTA_COUNT_AGE: Duration = Duration::from_secs(60);

/// The listing age for a check: the drift interval when the model is steady, else fresh.
pub(crate) fn listing_age(steady: bool, ctx: &Context) -> Duration {
    if steady {
        ctx.settings.drift_interval
    } else {
        IN_FLIGHT_AGE
    }
}

/// A delete whose model is already gone has done its job.
pub(crate) fn gone_is_fine(result: Result<(), crate::watson::Error>) -> Result<(), Error> {
    match result {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
}

/// What the shared listing says of one STT model: its status, versions and `error` text, for the
/// decision and for status. `None` for the status when the service gave none. The raw `error`
/// (which can hold a whole internal JSON error document) goes to the debug log only; status
/// shows the summary the decision makes of it.
pub(crate) fn from_listing(
    status: Option<&str>,
    versions: &[String],
    error: Option<&str>,
) -> (Observed, Observation) {
    if let Some(raw) = error {
        tracing::debug!(
            service_error = raw,
            "the service reports an error on the model"
        );
    }
    let observed = Observed {
        status: status.map(ServiceStatus::parse),
        versions: versions.to_vec(),
        ..Default::default()
    };
    let seen = Observation {
        service_status: status.map(ServiceStatus::parse),
        versions: versions.to_vec(),
        service_error: error.map(str::to_string),
        ..Default::default()
    };
    (observed, seen)
}

/// The data as recorded, when [`data_from_record`](crate::decision::status::data_from_record)
/// allows it: each recorded resource in the state its recorded service status says, except that
/// an analysis recorded as running has ended once the listing no longer says `pending` (IBM
/// keeps a model `pending` while it analyses, watson-api.md §8.3); how it ended is read before
/// the training.
pub(crate) fn trust_record(
    recorded: Vec<TrackedResource>,
    observed: &mut Observed,
    seen: &mut Observation,
) {
    let analysing = !matches!(&observed.status, Some(s) if *s != ServiceStatus::Pending);
    for r in recorded {
        let name = r.status.name.clone();
        if r.class == ResourceClass::Grammar {
            observed.grammars.insert(name.clone());
        }
        let state = match &r.status.service_status {
            Some(ResourceServiceStatus::BeingProcessed) if analysing => ResourceState::Processing,
            Some(ResourceServiceStatus::Undetermined | ResourceServiceStatus::Invalid) => {
                ResourceState::Invalid(r.status.error.clone().unwrap_or_default())
            }
            _ => ResourceState::Valid,
        };
        observed.resources.insert(name, state);
        seen.resources.push(r);
    }
}

/// What a check of a model knows before it calls the service: the record, read once for this
/// reconcile, and whether the model is steady (Available on its current inputs and spec).
pub(crate) struct Check<'a> {
    pub steady: bool,
    pub prev: &'a Previous,
    /// The model waits for its dependency (an acoustic model's language model is missing or
    /// not Available).
    pub waits_for_dependency: bool,
}

impl Check<'_> {
    /// The listing age for this check: the drift interval when steady, else fresh.
    pub fn listing_age(&self, ctx: &Context) -> Duration {
        listing_age(self.steady, ctx)
    }

    /// Whether this check may take the model's data from its record (see
    /// [`data_from_record`](crate::decision::status::data_from_record)); `words` is the
    /// recorded word count and whether the spec asks for words.
    pub fn may_trust(
        &self,
        observed: &Observed,
        words: crate::decision::status::Words,
        ctx: &Context,
    ) -> bool {
        crate::decision::status::data_from_record(
            observed.status.as_ref(),
            self.steady,
            &self.prev.model,
            &self.prev.resources,
            words,
            self.waits_for_dependency,
            ctx.settings.expected_analysis,
            k8s_openapi::jiff::Timestamp::now(),
        )
    }
}

/// The newest base-model version any model of the instance on base model `base` has, from
/// `(base model, versions)` pairs of the shared listing.
pub(crate) fn newest_version<'a>(
    base: Option<&str>,
    listing: impl Iterator<Item = (Option<&'a str>, &'a [String])>,
) -> Option<String> {
    listing
        .filter(|(b, _)| *b == base)
        .filter_map(|(_, versions)| versions.last())
        .max()
        .cloned()
}

/// Everything gathered about one model before the decision.
pub(crate) struct Gathered {
    pub facts: Facts,
    /// Resource contents by name (text or audio bytes), for uploads.
    pub contents: BTreeMap<String, Vec<u8>>,
    /// What status shows of the model as observed.
    pub seen: Observation,
}

/// The observed model plus what status shows about it.
pub(crate) struct ObservedFull {
    pub observed: Observed,
    pub seen: Observation,
    pub base_model: Option<String>,
    /// The newest base-model version any model of the instance on the same base model has.
    pub newest_version: Option<String>,
}

/// Kind-specific fact gathering and actions.
pub(crate) trait KindOps: ModelResource {
    /// The desired inputs, resolved, with their contents.
    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error>;
    /// The language model an acoustic model trains with.
    async fn dependency(&self, ctx: &Context) -> Result<Dependency, Error>;
    /// The model `id` as the service reports it (`None`: gone). `check` says how far the
    /// record may be trusted and how old the shared listing may be.
    async fn observe(
        &self,
        svc: &ServiceHandle,
        id: &str,
        check: &Check<'_>,
        desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<ObservedFull>, Error>;
    /// A model carrying this object's ownership marker.
    async fn find_marked(&self, svc: &ServiceHandle) -> Result<Option<String>, Error>;
    /// Performs a service action.
    async fn execute(
        &self,
        svc: &ServiceHandle,
        id: Option<&str>,
        action: &Action,
        g: &Gathered,
    ) -> Result<Outcome, Error>;
    /// Seconds of audio recorded in status (acoustic models), for the expected training length.
    fn audio_seconds(&self) -> i64 {
        0
    }
}

/// The key [`Context`] remembers an object by: `Kind/namespace/name`. `K` may be the model
/// kind or its metadata (`PartialObjectMeta<K>`, the same kind).
pub(crate) fn key_of<K: kube::Resource<DynamicType = ()>>(obj: &K) -> String {
    object_key(
        &K::kind(&()),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    )
}

/// [`key_of`] from the kind, namespace and name.
pub(crate) fn object_key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

fn timing(ctx: &Context) -> Timing {
    Timing {
        drift_interval: ctx.settings.drift_interval,
        max_poll_interval: ctx.settings.max_poll_interval,
        expected_training: ctx.settings.expected_training,
        fixed_poll: ctx.settings.fixed_poll,
        expected_analysis: ctx.settings.expected_analysis,
        overdue_factor: ctx.settings.overdue_factor,
        training_per_audio_second: ctx.settings.training_per_audio_second,
    }
}

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
    let started = std::time::Instant::now();
    let key = key_of(&*meta);
    let ns = meta.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let (obj, result) = match read(&meta, &ctx, &router, &cache, &api).await {
        Ok(None) => return Ok(Requeue::await_change()),
        // A failed read is a failed reconcile like any other (backoff, warning, metric), with
        // no object to record it in.
        Err(err) => (None, Err(err)),
        Ok(Some(obj)) => {
            // A failed finalizer write goes to the controller's error policy (see run.rs).
            if let Some(done) = finalizer_first(&obj, &ctx, &api, &key).await? {
                return Ok(done);
            }
            let result = traced_shell(&obj, &ctx, &api).await;
            (Some(obj), result)
        }
    };
    let kind = K::kind(&());
    let (requeue, outcome) = match result {
        Ok(requeue) => {
            ctx.succeeded(&key);
            (requeue, Ok(()))
        }
        Err(err) => {
            let class = err.retry_class();
            let wait = match class {
                // Busy (409): usually brief, so at first look again soon and say nothing; a
                // model that stays busy (IBM users saw models stay locked until IBM support
                // freed them) backs off like a transient failure and, from the third refusal in
                // a row, says so in its status and a Warning Event.
                RetryClass::WaitForService | RetryClass::Backoff => {
                    ctx.backoff(&key, Duration::from_secs(5))
                }
                RetryClass::Credentials => ctx.backoff(&key, Duration::from_secs(30)),
                RetryClass::WaitForSpecChange => Duration::from_secs(3600),
            };
            let refusals = ctx.failures(&key);
            if let Some(obj) = &obj
                && (class != RetryClass::WaitForService || refusals >= STILL_BUSY_AFTER)
            {
                record_failure(obj, &ctx, &api, &err).await;
            }
            warn!(object = %key, category = err.category(), error = %err, "reconcile failed; retrying in {:?}", wait);
            (Requeue::requeue(wait), Err((class, err.category())))
        }
    };
    if let Some(m) = &ctx.metrics {
        use crate::metrics::result::{BUSY, ERROR, SUCCESS};
        let (result, category) = match outcome {
            Ok(()) => (SUCCESS, ""),
            Err((RetryClass::WaitForService, c)) => (BUSY, c),
            Err((_, c)) => (ERROR, c),
        };
        m.reconciled(&kind, result, category, started.elapsed());
    }
    Ok(requeue)
}

/// Finalizer first (never for objects already being deleted): adds it, or forgets an object
/// being deleted without it. `Some` when that ends this reconcile.
async fn finalizer_first<K: ModelResource>(
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
            ctx.forget(key);
            Ok(Some(Requeue::await_change()))
        }
        _ => Ok(None),
    }
}

/// [`shell`] in one span: every log line of the reconcile carries the object and its IBM model.
async fn traced_shell<K: KindOps>(obj: &K, ctx: &Context, api: &Api<K>) -> Result<Requeue, Error> {
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
    tracing::Instrument::instrument(shell(obj, ctx, api), span).await
}

/// Reads the model for this reconcile (the controller caches its metadata only) and records
/// what it references in `router` and its status for the metrics. `None` when it is gone: the
/// GET found nothing, or the watch saw it deleted while the GET was in flight (the watch updates
/// `cache` before it forgets a deleted object, so a model `cache` no longer holds, or holds as
/// another object of the same name, was deleted): then what was just recorded goes again, and
/// cannot bring the model back.
async fn read<K: KindOps + crate::model::Referencing>(
    meta: &PartialObjectMeta<K>,
    ctx: &Context,
    router: &Router,
    cache: &Store<PartialObjectMeta<K>>,
    api: &Api<K>,
) -> Result<Option<K>, Error> {
    let (key, ns, name) = (
        key_of(meta),
        meta.namespace().unwrap_or_default(),
        meta.name_any(),
    );
    let who = Dependent::from(K::KIND);
    let obj = api.get_opt(&name).await?;
    if let Some(obj) = &obj {
        router.hold(who, obj);
        ctx.saw_status(&key, obj);
    }
    let cached = cache.get(&ObjectRef::from_obj(meta));
    match obj {
        Some(obj) if cached.is_some_and(|c| c.uid() == obj.uid()) => Ok(Some(obj)),
        _ => {
            router.release(who, &ns, &name);
            ctx.forget(&key);
            Ok(None)
        }
    }
}

/// Consecutive 409 refusals after which a busy model is reported (condition and Event).
const STILL_BUSY_AFTER: u32 = 3;

/// Writes the failure the decision computed and its Warning Event.
async fn record_failure<K: ModelResource>(obj: &K, ctx: &Context, api: &Api<K>, err: &Error) {
    let prev = obj.previous();
    let mut message = err.to_string();
    if err.retry_class() == RetryClass::WaitForService {
        message.push_str(
            "; the service has refused changes to this model several times in a row: the operator keeps retrying with backoff; if it lasts, the model may be locked on IBM's side (ask IBM support, naming the customization ID)",
        );
    }
    let last_inputs = ctx.last_inputs(&key_of(obj));
    let failure = Failure {
        category: err.category(),
        message: &message,
        dependency: matches!(
            err,
            Error::Service(_) | Error::Input(_) | Error::WrongService(_)
        ) || err.retry_class() == RetryClass::Credentials,
        terminal: err.retry_class() == RetryClass::WaitForSpecChange,
        stalled: err.needs_user(),
        inputs_digest: last_inputs.as_deref(),
        dry_run: ctx.settings.dry_run,
    };
    let (model, event) =
        decided::after_failure(&prev.model, &failure, obj.meta().generation, k8s_openapi::jiff::Timestamp::now());
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
        note: Some(note.message.chars().take(1000).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        warn!(error = %e, "cannot publish Event");
    }
}

/// The facts that need no call to the service (the inputs are resolved later).
fn standing<K: KindOps>(obj: &K, ctx: &Context, prev: &Previous) -> Facts {
    let expected = decided::expectations(&prev.model, obj.audio_seconds(), &timing(ctx));
    Facts {
        kind: K::KIND,
        generation: obj.meta().generation,
        suspended: obj.suspended(),
        deleting: obj.meta().deletion_timestamp.is_some(),
        retain_on_delete: obj.deletion_policy() == crate::crd::DeletionPolicy::Retain,
        observe_only: obj.observe_only(),
        adopt_id: obj.adopt_id().map(str::to_string),
        marked_model: None,
        desired: Desired::default(),
        recorded: Recorded {
            operation_age: prev.model.current_operation.as_ref().map(|o| {
                let secs = k8s_openapi::jiff::Timestamp::now().as_second() - o.started_at.0.as_second();
                Duration::from_secs(secs.max(0) as u64)
            }),
            ..Recorded::from_status(&prev.model)
        },
        observed: None,
        newest_version: None,
        dependency: Dependency::None,
        expected,
        dry_run: ctx.settings.dry_run,
    }
}

async fn shell<K: KindOps>(obj: &K, ctx: &Context, api: &Api<K>) -> Result<Requeue, Error> {
    // The recorded status, read once for the whole reconcile.
    let prev = obj.previous();
    // Suspend first: no call at all, not even to resolve inputs or for a deletion.
    let mut facts = standing(obj, ctx, &prev);
    if let Some(action) = decision::precheck(&facts) {
        if action == Action::ReleaseFinalizer {
            if skipped_in_dry_run(ctx, &action) {
                return skip(obj, ctx, api, &prev, &facts, &action).await;
            }
            // An observe-only model being deleted: the model stays, no call.
            release_finalizer(obj, ctx, api).await?;
            return Ok(Requeue::await_change());
        }
        let seen = Observation::default();
        return settle(
            obj,
            ctx,
            api,
            &prev,
            &facts,
            seen,
            &action,
            Outcome::default(),
            None,
        )
        .await;
    }
    let svc = ctx
        .service(&obj.namespace().unwrap_or_default(), obj.service_name())
        .await?;
    svc.verify().await?;
    let mut contents = BTreeMap::new();
    if !facts.deleting {
        let (desired, c) = obj.desired(ctx).await?;
        ctx.remember_inputs(&key_of(obj), &desired.inputs_digest);
        (facts.desired, contents) = (desired, c);
        // A terminal failure on these inputs: still no call.
        if let Some(action) = decision::precheck(&facts) {
            let seen = Observation::default();
            return settle(
                obj,
                ctx,
                api,
                &prev,
                &facts,
                seen,
                &action,
                Outcome::default(),
                None,
            )
            .await;
        }
    }
    let g = gather(obj, ctx, &svc, &prev, facts, contents).await?;
    let action = decision::decide(&g.facts);
    info!(kind = ?K::KIND, name = %obj.name_any(), ?action, "decided");
    let outcome = match perform(obj, ctx, api, &svc, &action, &g).await? {
        Performed::Done(outcome) => outcome,
        Performed::Requeue(r) => return Ok(r),
        Performed::Skipped => return skip(obj, ctx, api, &prev, &g.facts, &action).await,
    };
    // A model waiting on the service is also woken by the LISTs other models make.
    if K::KIND != ModelKind::Voice
        && let Some(id) = g.facts.recorded.customization_id.as_deref()
    {
        let seen = g.facts.observed.as_ref().and_then(|o| o.status.as_ref());
        svc.await_listing(
            K::KIND,
            id,
            (&obj.namespace().unwrap_or_default(), &obj.name_any()),
            seen.map(|s| s.as_str()),
            !g.facts.deleting && decided::awaits_listing(&action),
        );
    }
    // What the export needs that status does not hold; nothing is exported while deleting (the
    // garbage collector deletes the ConfigMap with the resource).
    let export = (!g.facts.deleting).then(|| super::export::Inputs {
        service_url: svc.url().to_string(),
        language_model: match &g.facts.dependency {
            Dependency::None => LanguageModel::None,
            Dependency::Available {
                customization_id, ..
            } => LanguageModel::Known(customization_id.clone()),
            Dependency::Missing | Dependency::NotReady { .. } => LanguageModel::Unknown,
        },
    });
    settle(
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

/// Observes the model, its marker, its dependency; checks an adopted model's base model.
async fn gather<K: KindOps>(
    obj: &K,
    ctx: &Context,
    svc: &ServiceHandle,
    prev: &Previous,
    mut facts: Facts,
    contents: BTreeMap<String, Vec<u8>>,
) -> Result<Gathered, Error> {
    let old = &prev.model;
    // Available, or just done recording the operation that made it so (`Finish`): nothing
    // changed since the last full comparison (the data was locked during the operation).
    let steady = matches!(
        old.phase,
        Some(crate::crd::Phase::Available | crate::crd::Phase::Processing)
    ) && old.trained_inputs_digest.as_deref()
        == Some(facts.desired.inputs_digest.as_str())
        && old.observed_generation == facts.generation;
    // An observed model's words may change behind the operator's back: always list them.
    let unsure;
    let prev = if facts.observe_only {
        unsure = Previous {
            word_count: None,
            words_digest: None,
            ..prev.clone()
        };
        &unsure
    } else {
        prev
    };
    // The dependency first: while the model waits for it, a check may take the data from the
    // record (see `data_from_record`).
    if !facts.deleting && !facts.observe_only {
        facts.dependency = obj.dependency(ctx).await?;
    }
    let waits_for_dependency = matches!(
        facts.dependency,
        Dependency::Missing | Dependency::NotReady { .. }
    );
    let observed = match &facts.recorded.customization_id {
        Some(id) => {
            let check = Check {
                steady,
                prev,
                waits_for_dependency,
            };
            obj.observe(svc, id, &check, &facts.desired, ctx).await?
        }
        None => None,
    };
    // What the operator uploaded, per resource, as recorded in status.
    if let Some(o) = &observed {
        for r in &o.seen.resources {
            if let Some(d) = &r.status.digest {
                facts
                    .recorded
                    .resources
                    .insert(r.status.name.clone(), d.clone());
            }
        }
    }
    if facts.recorded.customization_id.is_none() || observed.is_none() {
        facts.marked_model = obj.find_marked(svc).await?;
    }
    // Adoption: the adopted model's base model must match.
    if let (Some(id), Some(o)) = (obj.adopt_id(), observed.as_ref()) {
        same_base_model(obj, id, o)?;
    }
    let seen = observed
        .as_ref()
        .map(|o| o.seen.clone())
        .unwrap_or_default();
    facts.newest_version = observed.as_ref().and_then(|o| o.newest_version.clone());
    facts.observed = observed.map(|o| o.observed);
    Ok(Gathered {
        facts,
        contents,
        seen,
    })
}

enum Performed {
    Done(Outcome),
    Requeue(Requeue),
    /// `run --dry-run`: the action was not performed.
    Skipped,
}

/// Writes `update` (when it changes the status) and feeds the written status to the metrics
/// ([`Context::saw_status`]).
async fn write_remembered<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    update: &decided::StatusUpdate,
) -> Result<(), Error> {
    if let Some(written) = write_status(obj, api, update).await? {
        ctx.saw_status(&key_of(obj), &written);
    }
    Ok(())
}

/// Whether this run leaves `action` undone (`run --dry-run`, [`Action::skipped_in_dry_run`]);
/// the one test for both paths that act (the precheck's and [`perform`]).
fn skipped_in_dry_run(ctx: &Context, action: &Action) -> bool {
    ctx.settings.dry_run && action.skipped_in_dry_run()
}

/// `run --dry-run` skipped `action`: logs it and writes only `nextAction` (`dry run: would ...`);
/// looks again at the drift interval (or on any change of the object).
async fn skip<K: KindOps>(
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
    Ok(Requeue::requeue(ctx.settings.drift_interval))
}

/// Performs the one action.
async fn perform<K: KindOps>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    svc: &ServiceHandle,
    action: &Action,
    g: &Gathered,
) -> Result<Performed, Error> {
    let id = g.facts.recorded.customization_id.as_deref();
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
        | Action::Finish { .. } => Ok(Performed::Done(Outcome::default())),
        Action::Adopt {
            customization_id, ..
        } => {
            // Verify it exists, on the right base model, before recording it: against a fresh
            // listing, since the shared one may predate a model made moments ago by a script.
            svc.invalidate().await;
            let prev = obj.previous();
            let check = Check {
                steady: false,
                prev: &prev,
                waits_for_dependency: false,
            };
            let Some(found) = obj
                .observe(svc, customization_id, &check, &g.facts.desired, ctx)
                .await?
            else {
                return Err(Error::AdoptionMismatch(format!(
                    "model {customization_id} does not exist on the service (or belongs to other credentials): fix spec.customizationId"
                )));
            };
            same_base_model(obj, customization_id, &found)?;
            Ok(Performed::Done(Outcome::default()))
        }
        other => {
            // Creates count the instance's models first, under a per-service lock, and never
            // go past the quota.
            let _create_guard = match other {
                Action::Create | Action::Recreate if K::KIND != ModelKind::Voice => {
                    let guard = svc.create_lock.lock().await;
                    let in_use = svc.model_count(K::KIND, QUOTA_COUNT_AGE).await?;
                    decision::quota_guard(K::KIND, in_use, ctx.settings.model_quota)
                        .map_err(Error::QuotaExceeded)?;
                    Some(guard)
                }
                _ => None,
            };
            let outcome = match obj.execute(svc, id, other, g).await {
                Ok(o) => o,
                Err(Error::Watson(w))
                    if matches!(other, Action::Train { .. }) && w.is_no_input_modified() =>
                {
                    Outcome {
                        already_trained: true,
                        ..Default::default()
                    }
                }
                // Busy (409) goes to the error path, which looks again soon at first and backs
                // off (and says so) when the model stays busy.
                Err(e) => return Err(e),
            };
            if let Some(changed) = id {
                svc.changed(changed).await;
            }
            // A create already put its model in the shared listing (`execute`).
            if outcome.created_id.is_some() {
                crate::failpoint::hit("after_create");
            }
            if let (Action::DeleteModel, Some(deleted)) = (other, id) {
                svc.deleted(K::KIND, deleted).await;
            }
            if matches!(
                other,
                Action::Create | Action::Recreate | Action::DeleteModel
            ) {
                // The service's model count changed: let it recount now. Nobody listening
                // (no controller running) is fine.
                let ns = obj.namespace().unwrap_or_default();
                let _ = ctx
                    .service_changed
                    .send((ns, obj.service_name().to_string()));
            }
            Ok(Performed::Done(outcome))
        }
    }
}

/// Removes the operator's finalizer (the model is retained, gone, never created or observed
/// only), so the object goes, and forgets what this process remembered of it.
async fn release_finalizer<K: ModelResource>(
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
    ctx.forget(&key_of(obj));
    if let Some(id) = obj.previous().model.customization_id.as_deref() {
        ctx.stop_awaiting(&obj.namespace().unwrap_or_default(), obj.service_name(), id);
    }
    Ok(())
}

/// Writes the status the decision computed, emits its Event, and says when to look again.
#[allow(clippy::too_many_arguments)]
async fn settle<K: KindOps>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    prev: &Previous,
    facts: &Facts,
    seen: Observation,
    action: &Action,
    outcome: Outcome,
    export: Option<&super::export::Inputs>,
) -> Result<Requeue, Error> {
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut update = decided::next(prev, facts, &seen, action, &outcome, now);
    // The export goes into the same status write (`None`: left as it is, e.g. while suspended).
    let exported = match export {
        Some(inputs) => Some(super::export::sync(obj, ctx, &mut update.model, inputs).await),
        None => None,
    };
    write_remembered(obj, ctx, api, &update).await?;
    if let Some(note) = decided::event(&prev.model, &update.model, action, facts.deleting) {
        publish(ctx, obj, &note).await;
    }
    let retry_export = exported.as_ref().is_some_and(|e| e.retry);
    if let Some(note) = exported.and_then(|e| e.event) {
        publish(ctx, obj, &note).await;
    }
    let after = decided::look_again(action, &update.model, &timing(ctx), &facts.expected, now);
    Ok(match (after, retry_export) {
        (Some(after), true) => Requeue::requeue(after.min(super::export::RETRY_AFTER)),
        (None, true) => Requeue::requeue(super::export::RETRY_AFTER),
        (Some(after), false) => Requeue::requeue(after),
        (None, false) => Requeue::await_change(),
    })
}

/// An adopted (or recovered) model must be on the base model the spec names; a mismatch
/// changes nothing on the service.
fn same_base_model<K: ModelResource>(obj: &K, id: &str, found: &ObservedFull) -> Result<(), Error> {
    match (&found.base_model, obj.base_model_name()) {
        (Some(base), Some(want)) if base != want => Err(Error::AdoptionMismatch(format!(
            "model {id} is on base model {base}, but spec.baseModelName is {want}: fix spec.baseModelName or adopt another model; the model was not changed"
        ))),
        _ => Ok(()),
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

/// The top-level merge patch from `old` to `new` (both typed statuses); `None` when equal.
fn merge_patch<S: serde::Serialize>(old: &S, new: &S) -> Option<serde_json::Value> {
    let as_map = |s: &S| match serde_json::to_value(s) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_map(old), as_map(new));
    let mut patch = serde_json::Map::new();
    for (k, v) in &after {
        if before.get(k) != Some(v) {
            patch.insert(k.clone(), v.clone());
        }
    }
    for k in before.keys() {
        if !after.contains_key(k) {
            patch.insert(k.clone(), serde_json::Value::Null);
        }
    }
    (!patch.is_empty()).then_some(serde_json::Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ownership_marker_finds_only_its_own_model() {
        let listing = [
            (Some("sales calls [wso:other-uid]"), "id-1"),
            (None, "id-2"),
            (Some("helpdesk [wso:my-uid]"), "id-3"),
        ];
        assert_eq!(marked("my-uid", listing), Some("id-3".to_string()));
        assert_eq!(marked("absent", listing), None);
        assert_eq!(
            description(Some("helpdesk"), "my-uid"),
            "helpdesk [wso:my-uid]"
        );
    }

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
}
