//! The export of a model to applications (`spec.export`), the I/O half: reads the wanted
//! ConfigMap, creates or replaces it when [`crate::decision::export`] says so, deletes the one
//! written before when `spec.export` was renamed or removed, and records the outcome (the
//! `Exported` condition, `status.exportedConfigMap`) in the status about to be written, so a
//! reconcile still makes one status write.
//!
//! Costs: nothing without `spec.export`; otherwise one GET of a small ConfigMap per reconcile, and
//! a write only when its `data` differs (create, or a replace carrying the `resourceVersion` that
//! was read, so a concurrent change is never overwritten blindly). No watch of its own: the
//! ConfigMap is one of the model's references (`crate::model::Referencing`), so the scope's
//! metadata-only ConfigMap stream wakes the model when someone edits or deletes it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use tracing::{info, warn};

use super::context::Context;
use crate::crd::ModelStatus;
use crate::decision::export::{self, Found, LanguageModel, Outcome, Step};
use crate::decision::status::EventNote;
use crate::model::ModelResource;

/// The field manager of the operator's ConfigMap writes (shown in `managedFields`).
pub const FIELD_MANAGER: &str = "watson-speech-operator";

/// How soon to look again after a failed read, write or delete.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// What the export needs beyond the object and the status about to be written: facts the
/// reconcile gathered.
pub(crate) struct Inputs {
    /// The SpeechService's `spec.url`.
    pub service_url: String,
    /// For an acoustic model, its language model's customization ID.
    pub language_model: LanguageModel,
}

/// What the export did, for the shell.
pub(crate) struct Exported {
    /// The Event to publish, if any.
    pub event: Option<EventNote>,
    /// A read, write or delete failed: look again after [`RETRY_AFTER`] at the latest.
    pub retry: bool,
}

/// Brings the exported ConfigMap in line with `st` (the status about to be written) and records
/// the outcome in `st`. Never fails: a Kubernetes error becomes the `Exported` condition
/// (`ExportFailed`) and a retry.
pub(crate) async fn sync<K: ModelResource>(
    obj: &K,
    ctx: &Context,
    st: &mut ModelStatus,
    inputs: &Inputs,
) -> Exported {
    let wanted = obj.export_config_map();
    let recorded = st.exported_config_map.clone();
    if wanted.is_none() && recorded.is_none() {
        // Never exported: no call, and no condition to remove.
        export::record(
            st,
            &K::kind(&()),
            None,
            None,
            None,
            obj.meta().generation,
            Timestamp::now(),
        );
        return Exported {
            event: None,
            retry: false,
        };
    }
    let api: Api<ConfigMap> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let uid = obj.uid().unwrap_or_default();
    let before = st.clone();

    let mut stale_left = None;
    if let Some(old) = export::stale(recorded.as_deref(), wanted) {
        match delete_if_ours(&api, old, &uid).await {
            Ok(deleted) => {
                if deleted {
                    info!(
                        config_map = old,
                        "deleted the ConfigMap spec.export no longer names"
                    );
                }
            }
            Err(e) => {
                warn!(config_map = old, error = %e, "cannot delete the ConfigMap spec.export no longer names");
                stale_left = Some(old.to_string());
            }
        }
    }
    let outcome = match wanted {
        Some(name) => Some(write(obj, &api, name, &uid, st, inputs).await),
        None => None,
    };
    export::record(
        st,
        &K::kind(&()),
        wanted,
        outcome.as_ref(),
        stale_left.as_deref(),
        obj.meta().generation,
        Timestamp::now(),
    );
    Exported {
        event: export::event(&before, st, outcome.as_ref()),
        retry: stale_left.is_some() || matches!(outcome, Some(Outcome::Failed(_))),
    }
}

/// Reads the wanted ConfigMap and writes it when it is missing or differs.
async fn write<K: ModelResource>(
    obj: &K,
    api: &Api<ConfigMap>,
    name: &str,
    uid: &str,
    st: &ModelStatus,
    inputs: &Inputs,
) -> Outcome {
    let found = match api.get_opt(name).await {
        Ok(found) => found,
        Err(e) => return Outcome::Failed(describe(&e)),
    };
    let view = match &found {
        None => Found::Absent,
        Some(cm) => Found::Present {
            owners: cm.metadata.owner_references.as_deref().unwrap_or_default(),
            data: cm.data.as_ref(),
            binary: cm.binary_data.as_ref().is_some_and(|b| !b.is_empty()),
        },
    };
    let ours = found
        .as_ref()
        .filter(|cm| {
            export::owned_by(
                cm.metadata.owner_references.as_deref().unwrap_or_default(),
                uid,
            )
        })
        .and_then(|cm| cm.data.as_ref());
    let source = export::Source {
        customization_id: st.customization_id.as_deref(),
        // The base of the model named (while a migration builds its successor, the spec
        // already names the new base).
        base_model_name: st.base_model_name.as_deref().or(obj.base_model_name()),
        base_model_version: st.base_model_version.as_deref(),
        language: obj.language(),
        language_model: &inputs.language_model,
        service_url: &inputs.service_url,
    };
    let desired = export::contents(&source, ours);
    let step = export::step(uid, desired, &view);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    let done = |data: &BTreeMap<String, String>| Outcome::Done {
        keys: data.keys().cloned().collect(),
        wrote: true,
    };
    match step {
        Step::Create(data) => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: obj.namespace(),
                    labels: Some(
                        [(
                            export::MANAGED_BY.0.to_string(),
                            export::MANAGED_BY.1.to_string(),
                        )]
                        .into(),
                    ),
                    owner_references: obj.controller_owner_ref(&()).map(|o| vec![o]),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            };
            match api.create(&params, &cm).await {
                Ok(written) => done(written.data.as_ref().unwrap_or(&BTreeMap::new())),
                Err(e) => Outcome::Failed(describe(&e)),
            }
        }
        Step::Update(data) => {
            let Some(mut cm) = found else {
                return Outcome::Failed(format!("ConfigMap {name} vanished while being updated"));
            };
            // The resourceVersion read above stays in the request: a concurrent change makes
            // the replace fail (409) instead of being overwritten; the next reconcile reads again.
            cm.metadata.managed_fields = None;
            cm.data = Some(data);
            cm.binary_data = None;
            match api.replace(name, &params, &cm).await {
                Ok(written) => done(written.data.as_ref().unwrap_or(&BTreeMap::new())),
                Err(e) => Outcome::Failed(describe(&e)),
            }
        }
        other => export::outcome_without_write(&other, ours.unwrap_or(&BTreeMap::new()))
            .unwrap_or_else(|| Outcome::Failed("unexpected export step".to_string())),
    }
}

/// Deletes the ConfigMap `name` if the resource `uid` owns it (with a UID precondition, so a
/// ConfigMap created anew under that name in between is left alone). `Ok(false)`: not there, or
/// not ours.
async fn delete_if_ours(api: &Api<ConfigMap>, name: &str, uid: &str) -> Result<bool, String> {
    let Some(cm) = api.get_opt(name).await.map_err(|e| describe(&e))? else {
        return Ok(false);
    };
    if !export::owned_by(
        cm.metadata.owner_references.as_deref().unwrap_or_default(),
        uid,
    ) {
        return Ok(false);
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: cm.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(describe(&e)),
    }
}

/// A Kubernetes error as one line for a condition: the API server's message and code (its
/// `Display` repeats the whole response).
fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!(
            "{} (403): the operator needs get, create, update and delete on ConfigMaps in this namespace (the chart's role grants them)",
            s.message
        ),
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}
