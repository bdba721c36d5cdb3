//! The reconcilers of the three model kinds: gather facts, [`decide`], perform the one action,
//! write status (only when it changed) and Events (on phase changes and failures).
//!
//! The three kinds share the shell in this file; what differs (which IBM calls, which resources)
//! sits in small per-kind functions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{info, warn};

use super::context::{Context, ServiceHandle};
use super::decide::{
    self, Action, Dependency, Desired, Facts, ModelKind, Observed, OperationKind, Recorded,
    ResourceState, ServiceStatus, WaitReason, WordDef,
};
use super::error::Error;
use super::inputs::{digest, parse_word_list};
use super::status::{self, DEPENDENCIES_READY, READY, TRAINED, UP_TO_DATE};
use crate::crd::acoustic_model::CustomAcousticModel;
use crate::crd::language_model::{CustomLanguageModel, CustomWord, WordTypeToAdd};
use crate::crd::voice_model::{CustomVoiceModel, VoiceWord};
use crate::crd::{
    DeletionPolicy, FINALIZER, ModelStatus, OperationRecord, Phase, ResourceStatus,
    TRAIN_REQUESTED_AT, TrainingPolicy, UPGRADE_REQUESTED_AT, UpgradePolicy,
};
use crate::errors::{Classified, RetryClass};
use crate::watson::stt_types::{
    AudioFormat, CreateAcousticModel, CreateLanguageModel, GrammarFormat, ListWords,
    TrainAcousticModel, TrainLanguageModel, UpgradeAcousticModel, WordDefinition, WordType,
};
use crate::watson::tts_types::CreateVoiceModel;

/// The ownership marker put in the description of every model the operator creates, so a model
/// created just before a crash is found again instead of duplicated.
pub fn marker(uid: &str) -> String {
    format!(" [wso:{uid}]")
}

/// The ID of the model whose description carries the ownership marker of the object `uid`, from
/// `(description, customization id)` pairs of a listing.
fn marked<'a>(
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

/// How fresh the shared listing must be while work is in flight.
const IN_FLIGHT_AGE: Duration = Duration::from_millis(500);

/// A delete whose model is already gone has done its job.
fn gone_is_fine(result: Result<(), crate::watson::Error>) -> Result<(), Error> {
    match result {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
}

/// Everything gathered about one model before the decision.
pub(crate) struct Gathered {
    facts: Facts,
    /// Resource contents by name (text or audio bytes), for uploads.
    contents: BTreeMap<String, Vec<u8>>,
    /// Per-resource status from the service.
    resource_status: Vec<ResourceStatus>,
    /// The IBM status string and versions.
    service_status: Option<String>,
    versions: Vec<String>,
}

/// Dispatches the three kinds through one shell.
pub trait ModelResource:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const KIND: ModelKind;
    fn model_status(&self) -> Option<&ModelStatus>;
    fn service_name(&self) -> &str;
    fn suspended(&self) -> bool;
    fn deletion_policy(&self) -> DeletionPolicy;
    fn adopt_id(&self) -> Option<&str>;
    /// Builds the status object to patch from the common part and extras.
    fn status_patch(
        &self,
        model: &ModelStatus,
        resources: &[ResourceStatus],
        extra: serde_json::Value,
    ) -> serde_json::Value;
}

impl ModelResource for CustomLanguageModel {
    const KIND: ModelKind = ModelKind::Language;
    fn model_status(&self) -> Option<&ModelStatus> {
        self.status.as_ref().map(|s| &s.model)
    }
    fn service_name(&self) -> &str {
        &self.spec.service_ref.name
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }
    fn adopt_id(&self) -> Option<&str> {
        self.spec.customization_id.as_deref()
    }
    fn status_patch(
        &self,
        model: &ModelStatus,
        resources: &[ResourceStatus],
        extra: serde_json::Value,
    ) -> serde_json::Value {
        let corpora: Vec<&ResourceStatus> = resources
            .iter()
            .filter(|r| self.spec.corpora.iter().any(|c| c.name == r.name))
            .collect();
        let grammars: Vec<&ResourceStatus> = resources
            .iter()
            .filter(|r| self.spec.grammars.iter().any(|g| g.name == r.name))
            .collect();
        let mut v = serde_json::to_value(model).unwrap_or_default();
        v["corpora"] = serde_json::to_value(corpora).unwrap_or_default();
        v["grammars"] = serde_json::to_value(grammars).unwrap_or_default();
        merge(&mut v, extra);
        v
    }
}

impl ModelResource for CustomAcousticModel {
    const KIND: ModelKind = ModelKind::Acoustic;
    fn model_status(&self) -> Option<&ModelStatus> {
        self.status.as_ref().map(|s| &s.model)
    }
    fn service_name(&self) -> &str {
        &self.spec.service_ref.name
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }
    fn adopt_id(&self) -> Option<&str> {
        self.spec.customization_id.as_deref()
    }
    fn status_patch(
        &self,
        model: &ModelStatus,
        resources: &[ResourceStatus],
        extra: serde_json::Value,
    ) -> serde_json::Value {
        let mut v = serde_json::to_value(model).unwrap_or_default();
        v["audio"] = serde_json::to_value(resources).unwrap_or_default();
        merge(&mut v, extra);
        v
    }
}

impl ModelResource for CustomVoiceModel {
    const KIND: ModelKind = ModelKind::Voice;
    fn model_status(&self) -> Option<&ModelStatus> {
        self.status.as_ref().map(|s| &s.model)
    }
    fn service_name(&self) -> &str {
        &self.spec.service_ref.name
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }
    fn adopt_id(&self) -> Option<&str> {
        self.spec.customization_id.as_deref()
    }
    fn status_patch(
        &self,
        model: &ModelStatus,
        _resources: &[ResourceStatus],
        extra: serde_json::Value,
    ) -> serde_json::Value {
        let mut v = serde_json::to_value(model).unwrap_or_default();
        merge(&mut v, extra);
        v
    }
}

fn merge(into: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), extra) {
        a.extend(b);
    }
}

fn key_of<K: ModelResource>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

/// Entry point for kube-runtime: reconcile one model of any kind. Errors never escape: they
/// become conditions, Events and a requeue chosen by their retry class.
pub(crate) async fn reconcile<K: KindOps>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Requeue, Error> {
    let started = std::time::Instant::now();
    let key = key_of(&*obj);
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);

    // Finalizer first (never for objects already being deleted).
    if obj.meta().deletion_timestamp.is_none() && !obj.finalizers().iter().any(|f| f == FINALIZER) {
        let mut fins = obj.finalizers().to_vec();
        fins.push(FINALIZER.to_string());
        let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": obj.resource_version()}});
        api.patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        return Ok(Requeue::await_change());
    }
    if obj.meta().deletion_timestamp.is_some() && !obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Requeue::await_change());
    }

    // One span per reconcile: every log line of it carries the object and its IBM model.
    let span = tracing::info_span!(
        "reconcile",
        kind = %K::kind(&()),
        namespace = %ns,
        name = %obj.name_any(),
        customization_id = obj
            .model_status()
            .and_then(|s| s.customization_id.as_deref())
            .unwrap_or(""),
    );
    // The cache may lag behind our own last status write (a watch re-establishing after an API
    // server restart, say). Acting on the older copy would repeat the last step, so read the
    // object itself when the cache is older than what we wrote.
    let obj = match fresher(&*obj, &ctx, &api).await {
        Some(fresh) => Arc::new(fresh),
        None => obj,
    };
    let result = tracing::Instrument::instrument(shell(&*obj, &ctx, &api), span).await;
    let kind = K::kind(&());
    match result {
        Ok(requeue) => {
            ctx.succeeded(&key);
            if let Some(m) = &ctx.metrics {
                m.reconciled(
                    &kind,
                    crate::metrics::result::SUCCESS,
                    "",
                    started.elapsed(),
                );
            }
            Ok(requeue)
        }
        Err(err) => {
            let class = err.retry_class();
            let wait = match class {
                RetryClass::WaitForService => Duration::from_secs(5),
                RetryClass::Backoff => ctx.backoff(&key, Duration::from_secs(5)),
                RetryClass::Credentials => ctx.backoff(&key, Duration::from_secs(30)),
                RetryClass::WaitForSpecChange => Duration::from_secs(3600),
            };
            if class != RetryClass::WaitForService {
                record_failure(&*obj, &ctx, &api, &err).await;
            }
            if let Some(m) = &ctx.metrics {
                let result = if class == RetryClass::WaitForService {
                    crate::metrics::result::BUSY
                } else {
                    crate::metrics::result::ERROR
                };
                m.reconciled(&kind, result, err.category(), started.elapsed());
            }
            warn!(object = %key, category = err.category(), error = %err, "reconcile failed; retrying in {:?}", wait);
            Ok(Requeue::requeue(wait))
        }
    }
}

/// The object from the API server when the cached copy is older than our last status write.
async fn fresher<K: ModelResource>(obj: &K, ctx: &Context, api: &Api<K>) -> Option<K> {
    let written = ctx.written.lock().get(&key_of(obj)).cloned()?;
    let cached = obj.resource_version()?;
    // resourceVersions are opaque, but etcd-backed servers issue increasing integers; when
    // they do not parse, trust the cache.
    let (w, c) = (written.parse::<u64>().ok()?, cached.parse::<u64>().ok()?);
    if c >= w {
        return None;
    }
    api.get_opt(&obj.name_any()).await.ok().flatten()
}

/// Writes the failure into the Ready condition and emits one Warning Event per change of reason.
async fn record_failure<K: ModelResource>(obj: &K, ctx: &Context, api: &Api<K>, err: &Error) {
    let mut model = obj.model_status().cloned().unwrap_or_default();
    let reason = err.category();
    let previous =
        status::condition(&model.conditions, READY).map(|c| (c.reason.clone(), c.message.clone()));
    let message = status::stable_message(&err.to_string());
    let mut note = message.clone();
    if let Some(tx) = err.transaction_id() {
        note.push_str(&format!(" (IBM transaction {tx})"));
    }
    let gen_ = obj.meta().generation;
    status::set_condition(
        &mut model.conditions,
        READY,
        false,
        reason,
        message.clone(),
        gen_,
    );
    let dependency = matches!(err, Error::Service(_) | Error::Input(_))
        || matches!(err.retry_class(), RetryClass::Credentials);
    if dependency {
        status::set_condition(
            &mut model.conditions,
            DEPENDENCIES_READY,
            false,
            reason,
            message.clone(),
            gen_,
        );
        model.phase = Some(Phase::WaitingForDependency);
    } else if err.retry_class() == RetryClass::WaitForSpecChange {
        model.phase = Some(Phase::Failed);
    }
    model.observed_generation = gen_;
    if let Some(d) = ctx.last_inputs.lock().get(&key_of(obj)) {
        model.inputs_digest = Some(d.clone());
    }
    if obj.model_status() != Some(&model) {
        let extra = serde_json::json!({});
        let body = obj.status_patch(&model, &[], extra);
        let _ = api
            .patch_status(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({"status": strip_resources(body)})),
            )
            .await;
    }
    if previous.as_ref().map(|(r, m)| (r.as_str(), m.as_str())) != Some((reason, message.as_str()))
    {
        publish(ctx, obj, EventType::Warning, reason, &note, "Reconcile").await;
    }
}

/// A failure write must not wipe per-resource status lists.
fn strip_resources(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["corpora", "grammars", "audio"] {
            if o.get(k)
                .is_some_and(|x| x.as_array().is_some_and(|a| a.is_empty()))
            {
                o.remove(k);
            }
        }
    }
    v
}

async fn publish<K: ModelResource>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: &str,
    action: &str,
) {
    let reference = obj.object_ref(&());
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        warn!(error = %e, "cannot publish Event");
    }
}

/// Kind-specific fact gathering and actions.
pub(crate) trait KindOps: ModelResource {
    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error>;
    async fn dependency(&self, ctx: &Context) -> Result<Dependency, Error>;
    async fn observe(
        &self,
        svc: &ServiceHandle,
        id: &str,
        steady: bool,
        desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<ObservedFull>, Error>;
    /// Kind-specific status fields (word counts, audio minutes).
    fn extra_status(&self, desired: &Desired, resources: &[ResourceStatus]) -> serde_json::Value;
    async fn find_marked(&self, svc: &ServiceHandle) -> Result<Option<String>, Error>;
    async fn execute(
        &self,
        svc: &ServiceHandle,
        id: Option<&str>,
        action: &Action,
        g: &Gathered,
    ) -> Result<Executed, Error>;
    fn expected_duration(&self, kind: OperationKind, ctx: &Context) -> Duration;
}

/// The observed model plus what status shows about its resources.
pub(crate) struct ObservedFull {
    observed: Observed,
    service_status: Option<String>,
    resource_status: Vec<ResourceStatus>,
    base_model: Option<String>,
    /// The newest base-model version any model of the instance on the same base model has.
    newest_version: Option<String>,
}

/// What an executed action produced.
#[derive(Default)]
pub(crate) struct Executed {
    created_id: Option<String>,
    warnings: Vec<String>,
    /// A train refused with "No input data modified since last training": treat as trained.
    already_trained: bool,
}

async fn shell<K: KindOps>(obj: &K, ctx: &Context, api: &Api<K>) -> Result<Requeue, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let generation = obj.meta().generation;
    let old = obj.model_status().cloned().unwrap_or_default();
    let deleting = obj.meta().deletion_timestamp.is_some();

    if obj.suspended() && !deleting {
        let mut st = old.clone();
        st.phase = Some(Phase::Suspended);
        st.observed_generation = generation;
        status::set_condition(
            &mut st.conditions,
            READY,
            false,
            "Suspended",
            "spec.suspend is true: no calls are made for this model",
            generation,
        );
        write_status(obj, api, &st, None, serde_json::json!({})).await?;
        return Ok(Requeue::await_change());
    }

    let svc = ctx.service(&ns, obj.service_name()).await?;
    let (desired, contents) = if deleting {
        (Desired::default(), BTreeMap::new())
    } else {
        obj.desired(ctx).await?
    };

    if !deleting {
        ctx.last_inputs
            .lock()
            .insert(key_of(obj), desired.inputs_digest.clone());
    }

    // Terminal failure on these exact inputs: wait for a change, make no calls.
    if !deleting
        && let Some(c) = status::condition(&old.conditions, READY)
        && status::TERMINAL_REASONS.contains(&c.reason.as_str())
        && c.observed_generation == generation
        && old.inputs_digest.as_deref() == Some(desired.inputs_digest.as_str())
        && c.reason != "TrainingFailed"
    {
        return Ok(Requeue::await_change());
    }

    let mut recorded = recorded_from(&old);
    let steady = old.phase == Some(Phase::Available)
        && old.trained_inputs_digest.as_deref() == Some(desired.inputs_digest.as_str())
        && old.observed_generation == generation;
    let observed = match &recorded.customization_id {
        Some(id) => obj.observe(&svc, id, steady, &desired, ctx).await?,
        None => None,
    };
    // What the operator uploaded, per resource, as recorded in status.
    if let Some(o) = &observed {
        for r in &o.resource_status {
            if let Some(d) = &r.digest {
                recorded.resources.insert(r.name.clone(), d.clone());
            }
        }
    }
    let marked_model = if recorded.customization_id.is_none() || observed.is_none() {
        obj.find_marked(&svc).await?
    } else {
        None
    };
    let dependency = if deleting {
        Dependency::None
    } else {
        obj.dependency(ctx).await?
    };

    // Adoption: the adopted model's base model must match.
    if let (Some(id), Some(o)) = (obj.adopt_id(), observed.as_ref()) {
        same_base_model(obj, id, o)?;
    }

    let facts = Facts {
        kind: K::KIND,
        suspended: false,
        deleting,
        retain_on_delete: obj.deletion_policy() == DeletionPolicy::Retain,
        adopt_id: obj.adopt_id().map(str::to_string),
        marked_model,
        desired,
        recorded,
        observed: observed.as_ref().map(|o| o.observed.clone()),
        newest_version: observed.as_ref().and_then(|o| o.newest_version.clone()),
        dependency,
    };
    let g = Gathered {
        service_status: observed.as_ref().and_then(|o| o.service_status.clone()),
        versions: observed
            .as_ref()
            .map(|o| o.observed.versions.clone())
            .unwrap_or_default(),
        resource_status: observed
            .as_ref()
            .map(|o| o.resource_status.clone())
            .unwrap_or_default(),
        facts,
        contents,
    };
    let action = decide::decide(&g.facts);
    info!(kind = ?K::KIND, name = %obj.name_any(), ?action, "decided");

    // Perform.
    let id = g.facts.recorded.customization_id.clone();
    let executed = match &action {
        Action::ReleaseFinalizer => {
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
            return Ok(Requeue::await_change());
        }
        Action::Wait { .. }
        | Action::UpToDate
        | Action::Suspended
        | Action::AdoptedModelMissing
        | Action::Finish { .. } => Executed::default(),
        Action::Adopt {
            customization_id, ..
        } => {
            // Verify it exists, on the right base model, before recording it.
            let Some(found) = obj
                .observe(&svc, customization_id, false, &g.facts.desired, ctx)
                .await?
            else {
                return Err(Error::AdoptionMismatch(format!(
                    "model {customization_id} does not exist on the service (or belongs to other credentials): fix spec.customizationId"
                )));
            };
            same_base_model(obj, customization_id, &found)?;
            Executed::default()
        }
        other => {
            // Creates count the instance's models first, under a per-service lock, and never
            // go past the quota.
            let _create_guard = match other {
                Action::Create | Action::Recreate if K::KIND != ModelKind::Voice => {
                    let guard = svc.create_lock.lock().await;
                    let in_use = match K::KIND {
                        ModelKind::Acoustic => svc.acoustic_models(Duration::ZERO).await?.len(),
                        _ => svc.language_models(Duration::ZERO).await?.len(),
                    };
                    if in_use >= ctx.settings.model_quota {
                        return Err(Error::QuotaExceeded(format!(
                            "{in_use} of {} custom {} models of this service instance are in use: delete unused models (or models of other resources) to make room; the model is created as soon as there is",
                            ctx.settings.model_quota,
                            if K::KIND == ModelKind::Acoustic {
                                "acoustic"
                            } else {
                                "language"
                            }
                        )));
                    }
                    Some(guard)
                }
                _ => None,
            };
            let e = match obj.execute(&svc, id.as_deref(), other, &g).await {
                Ok(e) => e,
                Err(Error::Watson(w))
                    if matches!(other, Action::Train { .. }) && w.is_no_input_modified() =>
                {
                    Executed {
                        already_trained: true,
                        ..Default::default()
                    }
                }
                Err(Error::Watson(crate::watson::Error::Busy(_))) => {
                    // Busy is normal: the service is working on the model. Look again soon.
                    return Ok(Requeue::requeue(Duration::from_secs(5)));
                }
                Err(e) => return Err(e),
            };
            svc.invalidate().await;
            if e.created_id.is_some() {
                crate::failpoint::hit("after_create");
            }
            e
        }
    };

    // New status.
    let mut st = old.clone();
    st.observed_generation = generation;
    st.inputs_digest = Some(g.facts.desired.inputs_digest.clone())
        .filter(|d| !d.is_empty())
        .or(old.inputs_digest.clone());
    if let Some(s) = &g.service_status {
        st.service_status = Some(s.clone());
        st.progress = Some(if s == "available" { 100 } else { 0 });
    }
    if !g.versions.is_empty() {
        st.versions = g.versions.clone();
        st.base_model_version = g.versions.last().cloned();
    }
    let mut resources = g.resource_status.clone();
    let now = Time(status::now());
    match &action {
        Action::Create | Action::Recreate => {
            st.customization_id = executed.created_id.clone();
            st.adopted = None;
            st.trained_inputs_digest = None;
            st.current_operation = None;
            st.service_status = Some("pending".into());
            st.versions.clear();
            st.base_model_version = None;
            resources.clear();
        }
        Action::Adopt {
            customization_id,
            recovered,
        } => {
            st.customization_id = Some(customization_id.clone());
            st.adopted = (!recovered).then_some(true);
        }
        Action::AddResource { name, .. } => {
            let d = g.facts.desired.resources.get(name).cloned();
            if let Some(r) = resources.iter_mut().find(|r| &r.name == name) {
                r.digest = d;
                r.service_status = Some("being_processed".into());
                r.error = None;
            } else {
                resources.push(ResourceStatus {
                    name: name.clone(),
                    digest: d,
                    service_status: Some("being_processed".into()),
                    ..Default::default()
                });
            }
        }
        Action::DeleteResource { name } => resources.retain(|r| &r.name != name),
        Action::Train { .. } => {
            if executed.already_trained {
                st.trained_inputs_digest = Some(g.facts.desired.inputs_digest.clone());
            } else {
                st.current_operation = Some(OperationRecord {
                    kind: "Train".into(),
                    started_at: now.clone(),
                    inputs_digest: Some(g.facts.desired.inputs_digest.clone()),
                    finished_at: None,
                    outcome: None,
                    duration_seconds: None,
                    message: None,
                });
                st.service_status = Some("training".into());
                st.warnings = executed.warnings.clone();
            }
            st.train_request_token = g
                .facts
                .desired
                .train_token
                .clone()
                .or(st.train_request_token);
        }
        Action::Upgrade { .. } => {
            st.current_operation = Some(OperationRecord {
                kind: "Upgrade".into(),
                started_at: now.clone(),
                inputs_digest: Some(g.facts.desired.inputs_digest.clone()),
                finished_at: None,
                outcome: None,
                duration_seconds: None,
                message: None,
            });
            st.service_status = Some("upgrading".into());
            st.upgrade_request_token = g
                .facts
                .desired
                .upgrade_token
                .clone()
                .or(st.upgrade_request_token);
        }
        Action::Finish { kind, succeeded } => {
            if let Some(mut op) = st.current_operation.take() {
                op.finished_at = Some(now.clone());
                op.duration_seconds = Some(now.0.as_second() - op.started_at.0.as_second());
                op.outcome = Some(if *succeeded { "Succeeded" } else { "Failed" }.into());
                if *kind == OperationKind::Train {
                    if *succeeded {
                        st.trained_inputs_digest = op.inputs_digest.clone();
                    } else {
                        op.message = Some(
                            "the service reported the training as failed; see the resource errors"
                                .into(),
                        );
                    }
                }
                st.history.insert(0, op);
                st.history.truncate(10);
            }
            if *kind == OperationKind::Train && !succeeded {
                // Remember which inputs failed so they are not retried until they change.
                st.warnings = vec![format!(
                    "training failed for inputs {}",
                    g.facts.desired.inputs_digest
                )];
            }
        }
        _ => {}
    }

    // Phase and conditions.
    let phase = status::phase_for(&action);
    st.phase = Some(phase);
    let (ready, (reason, message)) = match &action {
        Action::UpToDate => (true, status::not_ready_reason(&action)),
        Action::Finish { kind: OperationKind::Train, succeeded: false } => (false, ("TrainingFailed", "training failed on the service; see status.history and the resource errors, then change the inputs to retry".to_string())),
        a => (false, status::not_ready_reason(a)),
    };
    status::set_condition(
        &mut st.conditions,
        READY,
        ready,
        reason,
        message.clone(),
        generation,
    );
    let trained =
        st.trained_inputs_digest.as_deref() == Some(g.facts.desired.inputs_digest.as_str());
    if K::KIND != ModelKind::Voice {
        let (tr, tm) = if trained {
            (
                "TrainedOnCurrentInputs",
                "the model is trained on the current inputs".to_string(),
            )
        } else if let Some(c) = st.current_operation.as_ref().filter(|c| c.kind == "Train") {
            (
                "Training",
                format!("training started at {}", c.started_at.0),
            )
        } else {
            (reason, message.clone())
        };
        status::set_condition(&mut st.conditions, TRAINED, trained, tr, tm, generation);
        let upgrade_pending = matches!(
            action,
            Action::Upgrade { .. }
                | Action::Wait {
                    reason: WaitReason::UpgradeRequested | WaitReason::Upgrading
                }
        );
        let (ur, um) = if upgrade_pending {
            (
                "UpgradeAvailable",
                "a newer base-model version is available".to_string(),
            )
        } else {
            (
                "UpToDate",
                format!(
                    "on base-model version {}",
                    st.base_model_version
                        .clone()
                        .unwrap_or_else(|| "unknown".into())
                ),
            )
        };
        status::set_condition(
            &mut st.conditions,
            UP_TO_DATE,
            !upgrade_pending,
            ur,
            um,
            generation,
        );
    }
    let (dr, dm, dok) = match &action {
        Action::Wait {
            reason: WaitReason::Dependency(m),
        } => ("LanguageModelNotReady", m.clone(), false),
        _ => (
            "DependenciesReady",
            "the service, its credentials and every input are available".to_string(),
            true,
        ),
    };
    status::set_condition(
        &mut st.conditions,
        DEPENDENCIES_READY,
        dok,
        dr,
        dm,
        generation,
    );

    // Failed trainings are remembered through the TrainingFailed reason + inputs digest.
    let phase_changed = old.phase != st.phase;
    if K::KIND == ModelKind::Voice && action == Action::UpToDate {
        st.trained_inputs_digest = Some(g.facts.desired.inputs_digest.clone());
    }
    let extra = obj.extra_status(&g.facts.desired, &resources);
    if let Some(rv) = write_status(obj, api, &st, Some(&resources), extra).await? {
        ctx.written.lock().insert(key_of(obj), rv);
    }

    if phase_changed {
        let (t, r) = match (&action, phase) {
            (Action::Recreate, _) => (EventType::Warning, "ExternalModelRecreated"),
            (Action::AdoptedModelMissing, _) => (EventType::Warning, "AdoptedModelMissing"),
            (_, Phase::Failed) => (EventType::Warning, reason),
            _ => (EventType::Normal, phase.as_str()),
        };
        publish(ctx, obj, t, r, &message, "Reconcile").await;
    }

    // When to look again.
    let requeue = match &action {
        Action::UpToDate => ctx.settings.drift_interval,
        Action::Wait {
            reason: WaitReason::Training | WaitReason::Upgrading,
        } => {
            let (elapsed, kind) = st
                .current_operation
                .as_ref()
                .map(|o| {
                    let secs =
                        (status::now().as_second() - o.started_at.0.as_second()).max(0) as u64;
                    (
                        Duration::from_secs(secs),
                        if o.kind == "Upgrade" {
                            OperationKind::Upgrade
                        } else {
                            OperationKind::Train
                        },
                    )
                })
                .unwrap_or((Duration::ZERO, OperationKind::Train));
            decide::poll_after(
                elapsed,
                obj.expected_duration(kind, ctx),
                ctx.settings.max_poll_interval,
            )
        }
        Action::Wait {
            reason: WaitReason::Processing,
        } => Duration::from_secs(2),
        // Woken by watches (language model, annotations, spec); a slow check covers the rest.
        Action::Wait { .. } | Action::AdoptedModelMissing => ctx.settings.drift_interval,
        Action::Train { .. } | Action::Upgrade { .. } => Duration::from_secs(2),
        _ => Duration::from_millis(200),
    };
    // The baseline the benchmarks compare against: a fixed interval for every wait on the
    // service, as IBM's documentation and samples poll.
    let requeue = match (ctx.settings.fixed_poll, &action) {
        (
            Some(fixed),
            Action::Wait {
                reason: WaitReason::Training | WaitReason::Upgrading | WaitReason::Processing,
            }
            | Action::Train { .. }
            | Action::Upgrade { .. },
        ) => fixed,
        _ => requeue,
    };
    Ok(Requeue::requeue(requeue))
}

/// An adopted (or recovered) model must be on the base model the spec names; a mismatch
/// changes nothing on the service.
fn same_base_model<K: ModelResource>(obj: &K, id: &str, found: &ObservedFull) -> Result<(), Error> {
    match (&found.base_model, base_model_of(obj)) {
        (Some(base), Some(want)) if *base != want => Err(Error::AdoptionMismatch(format!(
            "model {id} is on base model {base}, but spec.baseModelName is {want}: fix spec.baseModelName or adopt another model; the model was not changed"
        ))),
        _ => Ok(()),
    }
}

fn base_model_of<K: ModelResource>(obj: &K) -> Option<String> {
    let v = serde_json::to_value(obj).ok()?;
    v.get("spec")?
        .get("baseModelName")?
        .as_str()
        .map(str::to_string)
}

fn recorded_from(st: &ModelStatus) -> Recorded {
    Recorded {
        customization_id: st.customization_id.clone(),
        adopted: st.adopted.unwrap_or(false),
        resources: BTreeMap::new(),
        trained_inputs_digest: st.trained_inputs_digest.clone(),
        failed_inputs_digest: st
            .history
            .first()
            .filter(|h| h.kind == "Train" && h.outcome.as_deref() == Some("Failed"))
            .and_then(|h| h.inputs_digest.clone()),
        train_token: st.train_request_token.clone(),
        upgrade_token: st.upgrade_request_token.clone(),
        operation: st.current_operation.as_ref().map(|o| {
            (
                if o.kind == "Upgrade" {
                    OperationKind::Upgrade
                } else {
                    OperationKind::Train
                },
                o.inputs_digest.clone().unwrap_or_default(),
            )
        }),
    }
}

/// Top-level status keys without nulls and empty lists, for comparison.
fn normalized(v: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_null() && !v.as_array().is_some_and(|a| a.is_empty()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Patches status when (and only when) it changed. With `resources: None` the per-resource lists
/// stay as they are.
async fn write_status<K: ModelResource>(
    obj: &K,
    api: &Api<K>,
    new: &ModelStatus,
    resources: Option<&[ResourceStatus]>,
    extra: serde_json::Value,
) -> Result<Option<String>, Error> {
    let current = serde_json::to_value(obj)
        .ok()
        .and_then(|v| v.get("status").cloned())
        .unwrap_or(serde_json::Value::Null);
    let mut body = obj.status_patch(new, resources.unwrap_or(&[]), extra);
    if resources.is_none()
        && let Some(b) = body.as_object_mut()
    {
        for k in ["corpora", "grammars", "audio"] {
            match current.get(k) {
                Some(v) => {
                    b.insert(k.to_string(), v.clone());
                }
                None => {
                    b.remove(k);
                }
            }
        }
    }
    let (before, after) = (normalized(&current), normalized(&body));
    if before == after {
        return Ok(None);
    }
    let mut patch = serde_json::Value::Object(after.clone());
    if let Some(p) = patch.as_object_mut() {
        for k in before.keys() {
            if !after.contains_key(k) {
                p.insert(k.clone(), serde_json::Value::Null);
            }
        }
    }
    let written = api
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({ "status": patch })),
        )
        .await?;
    Ok(written.resource_version())
}

// ------------------------------------------------------------------------------------------
// Language models

fn word_def(w: &CustomWord) -> WordDef {
    WordDef {
        sounds_like: w.sounds_like.clone(),
        display_as: w.display_as.clone(),
        mapping_only: w.mapping_only,
        translation: None,
        part_of_speech: None,
    }
}

/// True when the service's word matches what the user asked for (the service may fill in a
/// display form or a generated pronunciation the user left out).
fn word_matches(
    want: &WordDef,
    word: &str,
    sounds_like: &[String],
    display_as: Option<&str>,
    mapping_only: Option<bool>,
) -> bool {
    let sl_ok = want.sounds_like.is_empty() || want.sounds_like == sounds_like;
    let da_ok = match &want.display_as {
        None => display_as.is_none_or(|d| d.is_empty() || d == word),
        Some(d) => display_as == Some(d.as_str()),
    };
    let mo_ok = want.mapping_only.unwrap_or(false) == mapping_only.unwrap_or(false);
    sl_ok && da_ok && mo_ok
}

impl KindOps for CustomLanguageModel {
    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error> {
        let ns = self.namespace().unwrap_or_default();
        let resolver = ctx.resolver(&ns);
        let mut resources = BTreeMap::new();
        let mut contents = BTreeMap::new();
        for c in &self.spec.corpora {
            let bytes = resolver.source(&c.source).await?;
            resources.insert(c.name.clone(), format!("corpus:{}", digest(&bytes)));
            contents.insert(c.name.clone(), bytes);
        }
        for gr in &self.spec.grammars {
            let bytes = resolver.source(&gr.source).await?;
            resources.insert(
                gr.name.clone(),
                format!(
                    "grammar:{}:{}",
                    gr.content_type.content_type(),
                    digest(&bytes)
                ),
            );
            contents.insert(gr.name.clone(), bytes);
        }
        let mut words: BTreeMap<String, WordDef> = BTreeMap::new();
        if let Some(from) = &self.spec.words_from {
            let r = &from.config_map_key_ref;
            let bytes = resolver.config_map_key(r).await?;
            let list: Vec<CustomWord> =
                parse_word_list(&bytes, &format!("ConfigMap {} key {}", r.name, r.key))?;
            for w in &list {
                words.insert(w.word.clone(), word_def(w));
            }
        }
        for w in &self.spec.words {
            words.insert(w.word.clone(), word_def(w));
        }
        let t = &self.spec.training;
        let inputs = serde_json::json!({
            "resources": resources,
            "words": words.iter().map(|(k, v)| (k, (&v.sounds_like, &v.display_as, v.mapping_only))).collect::<BTreeMap<_, _>>(),
            "training": [format!("{:?}", t.word_type_to_add), format!("{:?}", t.customization_weight), format!("{:?}", t.strict)],
        });
        let annotations = self.annotations();
        Ok((
            Desired {
                resources,
                words,
                inputs_digest: digest(inputs.to_string().as_bytes()),
                target_version: self.spec.base_model_version.clone(),
                upgrade_automatic: self.spec.upgrade_policy == UpgradePolicy::Automatic,
                train_on_change: t.policy == TrainingPolicy::OnChange,
                train_token: annotations.get(TRAIN_REQUESTED_AT).cloned(),
                upgrade_token: annotations.get(UPGRADE_REQUESTED_AT).cloned(),
                strict: t.strict.unwrap_or(true),
            },
            contents,
        ))
    }

    async fn dependency(&self, _ctx: &Context) -> Result<Dependency, Error> {
        Ok(Dependency::None)
    }

    async fn observe(
        &self,
        svc: &ServiceHandle,
        id: &str,
        steady: bool,
        desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<ObservedFull>, Error> {
        let max_age = if steady {
            ctx.settings.drift_interval
        } else {
            IN_FLIGHT_AGE
        };
        let list = svc.language_models(max_age).await?;
        let Some(m) = list.iter().find(|m| m.customization_id == id) else {
            return Ok(None);
        };
        let status = m.status.as_ref().map(|s| ServiceStatus::parse(s.as_str()));
        let old = self.model_status();
        let old_resources = self
            .status
            .as_ref()
            .map(|s| [s.corpora.clone(), s.grammars.clone()].concat())
            .unwrap_or_default();
        let mut observed = Observed {
            status: status.clone(),
            versions: m.versions.clone(),
            ..Default::default()
        };
        let mut resource_status = Vec::new();
        if steady && status == Some(ServiceStatus::Available) {
            // Trust the record: Available, and nothing changed since the last full comparison.
            for r in &old_resources {
                observed
                    .resources
                    .insert(r.name.clone(), ResourceState::Valid);
            }
            resource_status = old_resources;
            observed.words = desired.words.clone();
        } else {
            let stt = svc.stt()?;
            for c in stt.list_corpora(id).await?.corpora {
                let state = match c.status.as_ref().map(|s| s.as_str()) {
                    Some("being_processed") => ResourceState::Processing,
                    Some("undetermined") => {
                        ResourceState::Invalid(c.error.clone().unwrap_or_default())
                    }
                    _ => ResourceState::Valid,
                };
                observed.resources.insert(c.name.clone(), state);
                let digest = old_resources
                    .iter()
                    .find(|r| r.name == c.name)
                    .and_then(|r| r.digest.clone());
                resource_status.push(ResourceStatus {
                    name: c.name.clone(),
                    service_status: c.status.as_ref().map(|s| s.as_str().to_string()),
                    digest,
                    total_words: c.total_words.map(|v| v as i64),
                    out_of_vocabulary_words: c.out_of_vocabulary_words.map(|v| v as i64),
                    duration_seconds: None,
                    error: c.error.clone(),
                });
            }
            let had_grammars = self.status.as_ref().is_some_and(|s| !s.grammars.is_empty());
            if !self.spec.grammars.is_empty() || had_grammars {
                for gr in stt.list_grammars(id).await?.grammars {
                    let state = match gr.status.as_ref().map(|s| s.as_str()) {
                        Some("being_processed") => ResourceState::Processing,
                        Some("undetermined") => {
                            ResourceState::Invalid(gr.error.clone().unwrap_or_default())
                        }
                        _ => ResourceState::Valid,
                    };
                    observed.resources.insert(gr.name.clone(), state);
                    let digest = old_resources
                        .iter()
                        .find(|r| r.name == gr.name)
                        .and_then(|r| r.digest.clone());
                    resource_status.push(ResourceStatus {
                        name: gr.name.clone(),
                        service_status: gr.status.as_ref().map(|s| s.as_str().to_string()),
                        digest,
                        out_of_vocabulary_words: gr.out_of_vocabulary_words.map(|v| v as i64),
                        error: gr.error.clone(),
                        ..Default::default()
                    });
                }
            }
            let desired_words = &desired.words;
            let had_words = self.status.as_ref().and_then(|s| s.word_count).unwrap_or(0) > 0;
            let words = if desired_words.is_empty() && !had_words {
                Vec::new()
            } else {
                stt.list_words(
                    id,
                    ListWords {
                        word_type: Some(WordType::User),
                        sort: None,
                    },
                )
                .await?
                .words
            };
            for w in words
                .iter()
                .filter(|w| w.source.iter().any(|s| s == "user"))
            {
                let def = match desired_words.get(&w.word) {
                    Some(want)
                        if word_matches(
                            want,
                            &w.word,
                            &w.sounds_like,
                            w.display_as.as_deref(),
                            w.mapping_only,
                        ) =>
                    {
                        want.clone()
                    }
                    _ => WordDef {
                        sounds_like: w.sounds_like.clone(),
                        display_as: w.display_as.clone(),
                        mapping_only: w.mapping_only,
                        translation: None,
                        part_of_speech: None,
                    },
                };
                observed.words.insert(w.word.clone(), def);
            }
            // A POSTed word batch is still validated while the model stays pending with no
            // resource processing and every word present.
            observed.words_processing = false;
        }
        // The recorded digests (what the operator uploaded) come from status.
        let _ = old;
        Ok(Some(ObservedFull {
            observed,
            service_status: m.status.as_ref().map(|s| s.as_str().to_string()),
            resource_status,
            base_model: m.base_model_name.clone(),
            newest_version: list
                .iter()
                .filter(|x| x.base_model_name == m.base_model_name)
                .filter_map(|x| x.versions.last())
                .max()
                .cloned(),
        }))
    }

    fn extra_status(&self, desired: &Desired, _resources: &[ResourceStatus]) -> serde_json::Value {
        serde_json::json!({"wordCount": desired.words.len()})
    }

    async fn find_marked(&self, svc: &ServiceHandle) -> Result<Option<String>, Error> {
        let list = svc.language_models(IN_FLIGHT_AGE).await?;
        Ok(marked(
            &self.uid().unwrap_or_default(),
            list.iter()
                .map(|m| (m.description.as_deref(), m.customization_id.as_str())),
        ))
    }

    async fn execute(
        &self,
        svc: &ServiceHandle,
        id: Option<&str>,
        action: &Action,
        g: &Gathered,
    ) -> Result<Executed, Error> {
        let stt = svc.stt()?;
        let id_or = || id.ok_or_else(|| Error::InvalidSpec("no customization id recorded".into()));
        match action {
            Action::Create | Action::Recreate => {
                let req = CreateLanguageModel {
                    name: model_name(self),
                    base_model_name: self.spec.base_model_name.clone(),
                    dialect: self.spec.dialect.clone(),
                    description: Some(description(
                        self.spec.description.as_deref(),
                        &self.uid().unwrap_or_default(),
                    )),
                };
                let created = stt.create_language_model(&req).await?;
                Ok(Executed {
                    created_id: Some(created.customization_id),
                    ..Default::default()
                })
            }
            Action::DeleteModel => {
                gone_is_fine(stt.delete_language_model(id_or()?).await)?;
                Ok(Executed::default())
            }
            Action::DeleteResource { name } => {
                if self
                    .status
                    .as_ref()
                    .is_some_and(|s| s.grammars.iter().any(|r| &r.name == name))
                {
                    stt.delete_grammar(id_or()?, name).await?;
                } else {
                    match stt.delete_corpus(id_or()?, name).await {
                        Ok(()) => {}
                        // Not a corpus: it must be a grammar.
                        Err(crate::watson::Error::InvalidRequest(_)) => {
                            stt.delete_grammar(id_or()?, name).await?
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(Executed::default())
            }
            Action::AddResource { name, overwrite } => {
                let bytes = g.contents.get(name).cloned().unwrap_or_default();
                if let Some(gr) = self.spec.grammars.iter().find(|gr| &gr.name == name) {
                    let format = match gr.content_type {
                        crate::crd::language_model::GrammarType::Abnf => GrammarFormat::Abnf,
                        crate::crd::language_model::GrammarType::Xml => GrammarFormat::Xml,
                    };
                    stt.add_grammar(id_or()?, name, format, bytes, *overwrite)
                        .await?;
                } else {
                    stt.add_corpus(id_or()?, name, bytes, *overwrite).await?;
                }
                Ok(Executed::default())
            }
            Action::AddWords { words } => {
                let list: Vec<crate::watson::stt_types::CustomWord> = words
                    .iter()
                    .filter_map(|w| g.facts.desired.words.get(w).map(|d| (w, d)))
                    .map(|(w, d)| crate::watson::stt_types::CustomWord {
                        word: w.clone(),
                        definition: WordDefinition {
                            sounds_like: (!d.sounds_like.is_empty()).then(|| d.sounds_like.clone()),
                            display_as: d.display_as.clone(),
                            mapping_only: d.mapping_only,
                        },
                    })
                    .collect();
                stt.add_words(id_or()?, &list).await?;
                Ok(Executed::default())
            }
            Action::DeleteWord { word } => {
                stt.delete_word(id_or()?, word).await?;
                Ok(Executed::default())
            }
            Action::Train { .. } => {
                let t = &self.spec.training;
                let force = g.facts.desired.train_token.is_some()
                    && g.facts.desired.train_token != g.facts.recorded.train_token
                    && g.facts.recorded.trained_inputs_digest.as_deref()
                        == Some(g.facts.desired.inputs_digest.as_str());
                let params = TrainLanguageModel {
                    word_type_to_add: t.word_type_to_add.map(|w| match w {
                        WordTypeToAdd::All => crate::watson::stt_types::WordTypeToAdd::All,
                        WordTypeToAdd::User => crate::watson::stt_types::WordTypeToAdd::User,
                    }),
                    customization_weight: t.customization_weight,
                    strict: t.strict,
                    force: force.then_some(true),
                };
                let resp = stt.train_language_model(id_or()?, &params).await?;
                Ok(Executed {
                    warnings: resp
                        .warnings
                        .iter()
                        .filter_map(|w| w.message.clone())
                        .collect(),
                    ..Default::default()
                })
            }
            Action::Upgrade { .. } => {
                stt.upgrade_language_model(id_or()?).await?;
                Ok(Executed::default())
            }
            _ => Ok(Executed::default()),
        }
    }

    fn expected_duration(&self, kind: OperationKind, ctx: &Context) -> Duration {
        expected_from_history(self.model_status(), kind).unwrap_or(ctx.settings.expected_training)
    }
}

fn expected_from_history(st: Option<&ModelStatus>, kind: OperationKind) -> Option<Duration> {
    let name = match kind {
        OperationKind::Train => "Train",
        OperationKind::Upgrade => "Upgrade",
    };
    st?.history
        .iter()
        .find(|h| h.kind == name && h.outcome.as_deref() == Some("Succeeded"))
        .and_then(|h| h.duration_seconds)
        .map(|s| Duration::from_secs(s.max(1) as u64))
}

fn model_name<K: ModelResource>(obj: &K) -> String {
    let v = serde_json::to_value(obj).ok();
    v.as_ref()
        .and_then(|v| {
            v.get("spec")?
                .get("modelName")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("{}-{}", obj.namespace().unwrap_or_default(), obj.name_any()))
}

fn description(user: Option<&str>, uid: &str) -> String {
    format!("{}{}", user.unwrap_or(""), marker(uid))
        .trim()
        .to_string()
}

// ------------------------------------------------------------------------------------------
// Acoustic models

impl KindOps for CustomAcousticModel {
    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error> {
        let ns = self.namespace().unwrap_or_default();
        let resolver = ctx.resolver(&ns);
        let mut resources = BTreeMap::new();
        let mut contents = BTreeMap::new();
        for a in &self.spec.audio {
            let bytes = if let Some(u) = &a.source.url {
                resolver.url(u).await?
            } else if let Some(r) = &a.source.config_map_key_ref {
                resolver.config_map_key(r).await?
            } else if let Some(r) = &a.source.secret_key_ref {
                resolver.secret_key(r).await?
            } else {
                Vec::new()
            };
            resources.insert(
                a.name.clone(),
                format!(
                    "audio:{}:{:?}:{}",
                    a.content_type,
                    a.contained_content_type,
                    digest(&bytes)
                ),
            );
            contents.insert(a.name.clone(), bytes);
        }
        let inputs = serde_json::json!({
            "resources": resources,
            "strict": format!("{:?}", self.spec.training.strict),
            "languageModel": self.spec.language_model_ref.as_ref().map(|r| r.name.clone()),
        });
        let annotations = self.annotations();
        Ok((
            Desired {
                resources,
                words: BTreeMap::new(),
                inputs_digest: digest(inputs.to_string().as_bytes()),
                target_version: self.spec.base_model_version.clone(),
                upgrade_automatic: self.spec.upgrade_policy == UpgradePolicy::Automatic,
                train_on_change: self.spec.training.policy == TrainingPolicy::OnChange,
                train_token: annotations.get(TRAIN_REQUESTED_AT).cloned(),
                upgrade_token: annotations.get(UPGRADE_REQUESTED_AT).cloned(),
                strict: self.spec.training.strict.unwrap_or(true),
            },
            contents,
        ))
    }

    async fn dependency(&self, ctx: &Context) -> Result<Dependency, Error> {
        let Some(r) = &self.spec.language_model_ref else {
            return Ok(Dependency::None);
        };
        let api: Api<CustomLanguageModel> =
            Api::namespaced(ctx.client.clone(), &self.namespace().unwrap_or_default());
        let Some(lm) = api.get_opt(&r.name).await? else {
            return Ok(Dependency::Missing);
        };
        if lm.spec.base_model_name != self.spec.base_model_name {
            return Err(Error::InvalidSpec(format!(
                "spec.languageModelRef {} is on base model {}, this model on {}: both must use the same base model",
                r.name, lm.spec.base_model_name, self.spec.base_model_name
            )));
        }
        let st = lm.status.as_ref().map(|s| &s.model);
        let ready = st.is_some_and(|s| {
            status::condition(&s.conditions, READY).is_some_and(|c| c.status == "True")
        });
        match (ready, st.and_then(|s| s.customization_id.clone())) {
            (true, Some(id)) => Ok(Dependency::Available {
                customization_id: id,
                version: st.and_then(|s| s.base_model_version.clone()),
            }),
            _ => Ok(Dependency::NotReady {
                reason: format!(
                    "waiting for CustomLanguageModel {} to be Ready (now {})",
                    r.name,
                    st.and_then(|s| s.phase)
                        .map(|p| p.as_str())
                        .unwrap_or("unknown")
                ),
            }),
        }
    }

    async fn observe(
        &self,
        svc: &ServiceHandle,
        id: &str,
        steady: bool,
        _desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<ObservedFull>, Error> {
        let max_age = if steady {
            ctx.settings.drift_interval
        } else {
            IN_FLIGHT_AGE
        };
        let list = svc.acoustic_models(max_age).await?;
        let Some(m) = list.iter().find(|m| m.customization_id == id) else {
            return Ok(None);
        };
        let status = m.status.as_ref().map(|s| ServiceStatus::parse(s.as_str()));
        let old_resources = self
            .status
            .as_ref()
            .map(|s| s.audio.clone())
            .unwrap_or_default();
        let mut observed = Observed {
            status: status.clone(),
            versions: m.versions.clone(),
            ..Default::default()
        };
        let mut resource_status = Vec::new();
        if steady && status == Some(ServiceStatus::Available) {
            for r in &old_resources {
                observed
                    .resources
                    .insert(r.name.clone(), ResourceState::Valid);
            }
            resource_status = old_resources;
        } else {
            for a in svc.stt()?.list_audio(id).await?.audio {
                let state = match a.status.as_ref().map(|s| s.as_str()) {
                    Some("being_processed") => ResourceState::Processing,
                    Some("invalid") => ResourceState::Invalid("invalid audio".into()),
                    _ => ResourceState::Valid,
                };
                observed.resources.insert(a.name.clone(), state);
                resource_status.push(ResourceStatus {
                    name: a.name.clone(),
                    service_status: a.status.as_ref().map(|s| s.as_str().to_string()),
                    digest: old_resources
                        .iter()
                        .find(|r| r.name == a.name)
                        .and_then(|r| r.digest.clone()),
                    duration_seconds: a.duration.map(|d| d as i64),
                    ..Default::default()
                });
            }
        }
        Ok(Some(ObservedFull {
            observed,
            service_status: m.status.as_ref().map(|s| s.as_str().to_string()),
            resource_status,
            base_model: m.base_model_name.clone(),
            newest_version: list
                .iter()
                .filter(|x| x.base_model_name == m.base_model_name)
                .filter_map(|x| x.versions.last())
                .max()
                .cloned(),
        }))
    }

    fn extra_status(&self, _desired: &Desired, resources: &[ResourceStatus]) -> serde_json::Value {
        let secs: i64 = resources
            .iter()
            .filter(|r| r.service_status.as_deref() == Some("ok"))
            .filter_map(|r| r.duration_seconds)
            .sum();
        serde_json::json!({"totalMinutesOfAudio": (secs as f64 / 60.0 * 100.0).round() / 100.0})
    }

    async fn find_marked(&self, svc: &ServiceHandle) -> Result<Option<String>, Error> {
        let list = svc.acoustic_models(IN_FLIGHT_AGE).await?;
        Ok(marked(
            &self.uid().unwrap_or_default(),
            list.iter()
                .map(|m| (m.description.as_deref(), m.customization_id.as_str())),
        ))
    }

    async fn execute(
        &self,
        svc: &ServiceHandle,
        id: Option<&str>,
        action: &Action,
        g: &Gathered,
    ) -> Result<Executed, Error> {
        let stt = svc.stt()?;
        let id_or = || id.ok_or_else(|| Error::InvalidSpec("no customization id recorded".into()));
        match action {
            Action::Create | Action::Recreate => {
                let req = CreateAcousticModel {
                    name: model_name(self),
                    base_model_name: self.spec.base_model_name.clone(),
                    description: Some(description(
                        self.spec.description.as_deref(),
                        &self.uid().unwrap_or_default(),
                    )),
                };
                let created = stt.create_acoustic_model(&req).await?;
                Ok(Executed {
                    created_id: Some(created.customization_id),
                    ..Default::default()
                })
            }
            Action::DeleteModel => {
                gone_is_fine(stt.delete_acoustic_model(id_or()?).await)?;
                Ok(Executed::default())
            }
            Action::DeleteResource { name } => {
                stt.delete_audio(id_or()?, name).await?;
                Ok(Executed::default())
            }
            Action::AddResource { name, overwrite } => {
                let spec = self.spec.audio.iter().find(|a| &a.name == name);
                let format = match spec
                    .map(|a| (a.content_type.as_str(), a.contained_content_type.clone()))
                {
                    Some(("application/zip", c)) => AudioFormat::Zip {
                        contained_content_type: c,
                    },
                    Some(("application/gzip", c)) => AudioFormat::Gzip {
                        contained_content_type: c,
                    },
                    Some((t, _)) => AudioFormat::Audio {
                        content_type: t.to_string(),
                    },
                    None => AudioFormat::wav(),
                };
                let bytes = g.contents.get(name).cloned().unwrap_or_default();
                stt.add_audio(id_or()?, name, &format, bytes, *overwrite)
                    .await?;
                Ok(Executed::default())
            }
            Action::Train {
                custom_language_model_id,
            } => {
                let params = TrainAcousticModel {
                    custom_language_model_id: custom_language_model_id.clone(),
                    strict: self.spec.training.strict,
                };
                let resp = stt.train_acoustic_model(id_or()?, &params).await?;
                Ok(Executed {
                    warnings: resp
                        .warnings
                        .iter()
                        .filter_map(|w| w.message.clone())
                        .collect(),
                    ..Default::default()
                })
            }
            Action::Upgrade {
                custom_language_model_id,
            } => {
                let params = UpgradeAcousticModel {
                    custom_language_model_id: custom_language_model_id.clone(),
                    force: None,
                };
                match stt.upgrade_acoustic_model(id_or()?, &params).await {
                    Ok(()) => {}
                    // The documented path: nothing changed since training → repeat with force.
                    Err(e) if e.is_no_input_modified() && custom_language_model_id.is_some() => {
                        let forced = UpgradeAcousticModel {
                            force: Some(true),
                            ..params
                        };
                        stt.upgrade_acoustic_model(id_or()?, &forced).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
                Ok(Executed::default())
            }
            _ => Ok(Executed::default()),
        }
    }

    fn expected_duration(&self, kind: OperationKind, ctx: &Context) -> Duration {
        expected_from_history(self.model_status(), kind).unwrap_or_else(|| {
            // Training takes about as long as the audio.
            let secs: i64 = self
                .status
                .as_ref()
                .map(|s| s.audio.iter().filter_map(|a| a.duration_seconds).sum())
                .unwrap_or(0);
            if secs > 0 {
                Duration::from_secs(secs as u64)
            } else {
                ctx.settings.expected_training
            }
        })
    }
}

// ------------------------------------------------------------------------------------------
// Voice models

fn voice_def(w: &VoiceWord) -> WordDef {
    WordDef {
        sounds_like: Vec::new(),
        display_as: None,
        mapping_only: None,
        translation: Some(w.translation.clone()),
        part_of_speech: w.part_of_speech.clone(),
    }
}

impl KindOps for CustomVoiceModel {
    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error> {
        let ns = self.namespace().unwrap_or_default();
        let mut words = BTreeMap::new();
        if let Some(from) = &self.spec.words_from {
            let r = &from.config_map_key_ref;
            let bytes = ctx.resolver(&ns).config_map_key(r).await?;
            let list: Vec<VoiceWord> =
                parse_word_list(&bytes, &format!("ConfigMap {} key {}", r.name, r.key))?;
            for w in &list {
                words.insert(w.word.clone(), voice_def(w));
            }
        }
        for w in &self.spec.words {
            words.insert(w.word.clone(), voice_def(w));
        }
        let inputs = serde_json::json!(
            words
                .iter()
                .map(|(k, v)| (k, (&v.translation, &v.part_of_speech)))
                .collect::<BTreeMap<_, _>>()
        );
        Ok((
            Desired {
                words,
                inputs_digest: digest(inputs.to_string().as_bytes()),
                strict: true,
                ..Default::default()
            },
            BTreeMap::new(),
        ))
    }

    async fn dependency(&self, _ctx: &Context) -> Result<Dependency, Error> {
        Ok(Dependency::None)
    }

    async fn observe(
        &self,
        svc: &ServiceHandle,
        id: &str,
        steady: bool,
        desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<ObservedFull>, Error> {
        let max_age = if steady {
            ctx.settings.drift_interval
        } else {
            IN_FLIGHT_AGE
        };
        let list = svc.voice_models(max_age).await?;
        if !list.iter().any(|m| m.customization_id == id) {
            return Ok(None);
        }
        let mut observed = Observed {
            status: Some(ServiceStatus::Exists),
            ..Default::default()
        };
        if steady {
            observed.words = desired.words.clone();
        } else {
            let m = match svc.tts()?.get_custom_model(id).await {
                Ok(m) => m,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            for w in m.words {
                observed.words.insert(
                    w.word.clone(),
                    WordDef {
                        sounds_like: Vec::new(),
                        display_as: None,
                        mapping_only: None,
                        translation: Some(w.translation.clone()),
                        part_of_speech: w.part_of_speech.as_ref().map(|p| p.as_str().to_string()),
                    },
                );
            }
        }
        Ok(Some(ObservedFull {
            observed,
            service_status: None,
            resource_status: Vec::new(),
            base_model: None,
            newest_version: None,
        }))
    }

    fn extra_status(&self, desired: &Desired, _resources: &[ResourceStatus]) -> serde_json::Value {
        serde_json::json!({"wordCount": desired.words.len()})
    }

    async fn find_marked(&self, svc: &ServiceHandle) -> Result<Option<String>, Error> {
        let list = svc.voice_models(IN_FLIGHT_AGE).await?;
        Ok(marked(
            &self.uid().unwrap_or_default(),
            list.iter()
                .map(|m| (m.description.as_deref(), m.customization_id.as_str())),
        ))
    }

    async fn execute(
        &self,
        svc: &ServiceHandle,
        id: Option<&str>,
        action: &Action,
        g: &Gathered,
    ) -> Result<Executed, Error> {
        let tts = svc.tts()?;
        let id_or = || id.ok_or_else(|| Error::InvalidSpec("no customization id recorded".into()));
        match action {
            Action::Create | Action::Recreate => {
                let req = CreateVoiceModel {
                    name: model_name(self),
                    language: Some(self.spec.language.clone()),
                    description: Some(description(
                        self.spec.description.as_deref(),
                        &self.uid().unwrap_or_default(),
                    )),
                };
                let created = tts.create_custom_model(&req).await?;
                Ok(Executed {
                    created_id: Some(created.customization_id),
                    ..Default::default()
                })
            }
            Action::DeleteModel => {
                gone_is_fine(tts.delete_custom_model(id_or()?).await)?;
                Ok(Executed::default())
            }
            Action::AddWords { words } => {
                let list: Vec<crate::watson::tts_types::VoiceWord> = words
                    .iter()
                    .filter_map(|w| g.facts.desired.words.get(w).map(|d| (w, d)))
                    .map(|(w, d)| crate::watson::tts_types::VoiceWord {
                        word: w.clone(),
                        translation: d.translation.clone().unwrap_or_default(),
                        part_of_speech: d.part_of_speech.as_deref().map(Into::into),
                    })
                    .collect();
                tts.add_words(id_or()?, &list).await?;
                Ok(Executed::default())
            }
            Action::DeleteWord { word } => {
                tts.delete_word(id_or()?, word).await?;
                Ok(Executed::default())
            }
            _ => Ok(Executed::default()),
        }
    }

    fn expected_duration(&self, _kind: OperationKind, ctx: &Context) -> Duration {
        ctx.settings.expected_training
    }
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
}
