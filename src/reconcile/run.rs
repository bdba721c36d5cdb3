//! Wires the controllers: one per kind, with watches that wake a model when something it
//! depends on changes (its SpeechService, the Secrets and ConfigMaps it reads, and for acoustic
//! models their language model), so nothing needs to poll for dependencies.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::Config as WatcherConfig;
use kube::runtime::{WatchStreamExt, predicates, utils::Predicate};
use kube::{Api, Client, ResourceExt};
use tracing::info;

use super::context::{Context, Settings};
use super::error::Error;
use super::models;
use crate::crd::{CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, SpeechService};

fn error_policy<K>(_obj: Arc<K>, _err: &Error, _ctx: Arc<Context>) -> Requeue {
    // Reconcilers turn errors into conditions and requeues themselves; only Kubernetes write
    // failures of the finalizer step reach this point.
    Requeue::requeue(std::time::Duration::from_secs(10))
}

/// Which objects a model references (for the watches).
fn references(value: &serde_json::Value, kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, kind: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    if k == kind {
                        if let Some(n) = v.get("name").and_then(|n| n.as_str()) {
                            out.push(n.to_string());
                        }
                    } else {
                        walk(v, kind, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, kind, out)),
            _ => {}
        }
    }
    walk(value, kind, &mut out);
    out
}

fn mapper<K>(
    store: Store<K>,
    kind: &'static str,
) -> impl Fn(serde_json::Value, String, String) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::Serialize + 'static,
{
    move |_obj, ns, name| {
        store
            .state()
            .into_iter()
            .filter(|m| m.namespace().as_deref() == Some(ns.as_str()))
            .filter(|m| {
                let v = serde_json::to_value(m.as_ref()).unwrap_or_default();
                let spec = v.get("spec").cloned().unwrap_or_default();
                references(&spec, kind).contains(&name)
            })
            .map(|m| ObjectRef::from_obj(m.as_ref()))
            .collect()
    }
}

macro_rules! model_controller {
    ($kind:ty, $client:expr, $ctx:expr, $wc:expr, $extra:expr) => {{
        let api: Api<$kind> = Api::all($client.clone());
        let (reader, writer) = kube::runtime::reflector::store();
        // Status writes do not wake the model (no hot loop): only spec (generation),
        // annotations (train/upgrade tokens) and finalizer changes do.
        let stream = kube::runtime::watcher(api, $wc.clone())
            .default_backoff()
            .reflect(writer)
            .applied_objects()
            .predicate_filter(
                predicates::generation::<$kind>
                    .combine(predicates::annotations::<$kind>)
                    .combine(predicates::finalizers::<$kind>),
                Default::default(),
            );
        let controller = Controller::for_stream(stream, reader);
        let store = controller.store();
        let cm = mapper(store.clone(), "configMapKeyRef");
        let cm2 = mapper(store.clone(), "wordsFrom");
        let sec = mapper(store.clone(), "secretKeyRef");
        let svc = mapper(store.clone(), "serviceRef");
        let controller = controller
            .watches(Api::<ConfigMap>::all($client.clone()), $wc.clone(), move |o| {
                let ns = o.namespace().unwrap_or_default();
                let name = o.name_any();
                let mut v = cm(serde_json::Value::Null, ns.clone(), name.clone());
                v.extend(cm2(serde_json::Value::Null, ns, name));
                v
            })
            .watches(Api::<Secret>::all($client.clone()), $wc.clone(), move |o| {
                sec(serde_json::Value::Null, o.namespace().unwrap_or_default(), o.name_any())
            })
            .watches(Api::<SpeechService>::all($client.clone()), $wc.clone(), move |o| {
                svc(serde_json::Value::Null, o.namespace().unwrap_or_default(), o.name_any())
            });
        let controller = $extra(controller, store);
        controller
            .run(models::reconcile::<$kind>, error_policy, $ctx.clone())
            .for_each(|r| async move {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "controller event");
                }
            })
    }};
}

/// Runs every controller until the process stops.
pub async fn run(client: Client, settings: Settings, concurrency: u16) -> Result<(), Error> {
    let ctx = Context::new(client.clone(), settings)?;
    let wc = WatcherConfig::default();
    info!("starting controllers");
    let cfg = kube::runtime::controller::Config::default().concurrency(concurrency);

    let services = Controller::new(Api::<SpeechService>::all(client.clone()), wc.clone());
    // A credentials Secret edit re-checks the service at once; the models watch their service
    // and follow when its Ready condition changes.
    let by_secret = mapper(services.store(), "secretRef");
    let by_ca = mapper(services.store(), "caBundle");
    let services = services
        .watches(Api::<Secret>::all(client.clone()), wc.clone(), move |o| {
            by_secret(
                serde_json::Value::Null,
                o.namespace().unwrap_or_default(),
                o.name_any(),
            )
        })
        .watches(
            Api::<ConfigMap>::all(client.clone()),
            wc.clone(),
            move |o| {
                by_ca(
                    serde_json::Value::Null,
                    o.namespace().unwrap_or_default(),
                    o.name_any(),
                )
            },
        )
        .with_config(cfg.clone())
        .run(super::service::reconcile, error_policy, ctx.clone())
        .for_each(|_| async {});
    let language = model_controller!(
        CustomLanguageModel,
        client,
        ctx,
        wc,
        |c: Controller<CustomLanguageModel>, _s| c.with_config(cfg.clone())
    );
    let acoustic = model_controller!(CustomAcousticModel, client, ctx, wc, |c: Controller<
        CustomAcousticModel,
    >,
                                                                            s: Store<
        CustomAcousticModel,
    >| {
        // An acoustic model waits for its language model: wake it on every change of that model.
        let lm = mapper(s, "languageModelRef");
        c.with_config(cfg.clone()).watches(
            Api::<CustomLanguageModel>::all(client.clone()),
            wc.clone(),
            move |o| {
                lm(
                    serde_json::Value::Null,
                    o.namespace().unwrap_or_default(),
                    o.name_any(),
                )
            },
        )
    });
    let voice = model_controller!(
        CustomVoiceModel,
        client,
        ctx,
        wc,
        |c: Controller<CustomVoiceModel>, _s| c.with_config(cfg.clone())
    );
    tokio::join!(services, language, acoustic, voice);
    Ok(())
}
