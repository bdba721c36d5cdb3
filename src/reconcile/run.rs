//! Wires the controllers: one per kind, with watches that wake a model when something it
//! depends on changes (its SpeechService, the Secrets and ConfigMaps it reads, and for acoustic
//! models their language model), so nothing needs to poll for dependencies.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::Config as WatcherConfig;
use kube::runtime::{WatchStreamExt, predicates, utils::Predicate};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::context::{Context, Settings};
use super::error::Error;
use super::models;
use crate::crd::{CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, SpeechService};
use crate::metrics::{self, Metrics};
use crate::model::{RefKind, Referencing};

fn error_policy<K>(_obj: Arc<K>, _err: &Error, _ctx: Arc<Context>) -> Requeue {
    // Reconcilers turn errors into conditions and requeues themselves; only Kubernetes write
    // failures of the finalizer step reach this point.
    Requeue::requeue(std::time::Duration::from_secs(10))
}

/// Maps an event of a ConfigMap, Secret, SpeechService or language model (namespace, name) to
/// the cached objects that reference it by `kind` (typed spec access, see [`Referencing`]).
fn mapper<K>(store: Store<K>, kind: RefKind) -> impl Fn(String, String) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + Referencing + 'static,
{
    move |ns, name| {
        store
            .state()
            .into_iter()
            .filter(|m| m.namespace().as_deref() == Some(ns.as_str()))
            .filter(|m| m.references(kind).contains(&name.as_str()))
            .map(|m| ObjectRef::from_obj(m.as_ref()))
            .collect()
    }
}

macro_rules! model_controller {
    ($kind:ty, $client:expr, $ns:expr, $ctx:expr, $wc:expr, $sync:expr, $extra:expr) => {{
        let api: Api<$kind> = scoped(&$client, $ns);
        let (reader, writer) = kube::runtime::reflector::store();
        // Status writes do not wake the model (no hot loop): only spec (generation),
        // annotations (train/upgrade tokens) and finalizer changes do.
        let stream = kube::runtime::watcher(api, $wc.clone())
            .default_backoff()
            .reflect(writer)
            .inspect($sync.hook())
            .applied_objects()
            .predicate_filter(
                predicates::generation::<$kind>
                    .combine(predicates::annotations::<$kind>)
                    .combine(predicates::finalizers::<$kind>),
                Default::default(),
            );
        let controller = Controller::for_stream(stream, reader);
        let store = controller.store();
        let cm = mapper(store.clone(), RefKind::ConfigMap);
        let sec = mapper(store.clone(), RefKind::Secret);
        let svc = mapper(store.clone(), RefKind::SpeechService);
        let controller = controller
            .watches(scoped::<ConfigMap>(&$client, $ns), $wc.clone(), move |o| {
                cm(o.namespace().unwrap_or_default(), o.name_any())
            })
            .watches(scoped::<Secret>(&$client, $ns), $wc.clone(), move |o| {
                sec(o.namespace().unwrap_or_default(), o.name_any())
            })
            // Only a spec change or a Ready flip of the service wakes its models, not every
            // status write (the model count changes often).
            .watches_stream(
                kube::runtime::watcher(scoped::<SpeechService>(&$client, $ns), $wc.clone())
                    .default_backoff()
                    .touched_objects()
                    .predicate_filter(service_readiness, Default::default()),
                move |o| svc(o.namespace().unwrap_or_default(), o.name_any()),
            );
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

/// The part of a SpeechService its models care about: its spec and whether it is Ready.
fn service_readiness(s: &SpeechService) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.metadata.generation.hash(&mut h);
    s.status
        .as_ref()
        .and_then(|st| st.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone())
        .hash(&mut h);
    Some(h.finish())
}

/// An `Api` over one namespace, or over all of them.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Signals readiness once every reflector finished its initial listing (the first
/// `InitDone`). `Store::wait_until_ready` cannot be used for this: its one-shot channel keeps a
/// single waker, and the controller's own runner already waits on it, so a second waiter would
/// steal the wake-up from one of them.
#[derive(Clone)]
struct SyncTracker {
    remaining: Arc<std::sync::atomic::AtomicUsize>,
    signal: Option<tokio::sync::watch::Sender<bool>>,
}

impl SyncTracker {
    fn new(streams: usize, signal: Option<tokio::sync::watch::Sender<bool>>) -> Self {
        SyncTracker {
            remaining: Arc::new(std::sync::atomic::AtomicUsize::new(streams)),
            signal,
        }
    }

    /// An `inspect` hook for one watcher stream: counts its first `InitDone` once.
    fn hook<K>(
        &self,
    ) -> impl FnMut(&Result<kube::runtime::watcher::Event<K>, kube::runtime::watcher::Error>)
    + Send
    + 'static {
        let tracker = self.clone();
        let mut counted = false;
        move |event| {
            if !counted && matches!(event, Ok(kube::runtime::watcher::Event::InitDone)) {
                counted = true;
                let before = tracker
                    .remaining
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                if before == 1 {
                    info!("caches synced");
                    if let Some(tx) = &tracker.signal {
                        tx.send_replace(true);
                    }
                }
            }
        }
    }
}

/// The SpeechService controller of one scope: a credentials Secret or CA bundle edit re-checks
/// the service at once; the models watch their service and follow when its Ready condition
/// changes.
fn service_controller(
    client: &Client,
    ns: Option<&str>,
    wc: &WatcherConfig,
    cfg: &kube::runtime::controller::Config,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    sync: &SyncTracker,
    ctx: &Arc<Context>,
) -> BoxFuture<'static, ()> {
    let (reader, writer) = kube::runtime::reflector::store();
    let stream = kube::runtime::watcher(scoped::<SpeechService>(client, ns), wc.clone())
        .default_backoff()
        .reflect(writer)
        .inspect(sync.hook())
        .applied_objects()
        // Like the models, services ignore their own status writes.
        .predicate_filter(predicates::generation::<SpeechService>, Default::default());
    // Models created or deleted on a service's instance wake it (its model count changed).
    let changed = tokio_stream_of(ctx.service_changed.subscribe());
    let services = Controller::for_stream(stream, reader).reconcile_on(changed);
    let by_secret = mapper(services.store(), RefKind::Secret);
    let by_ca = mapper(services.store(), RefKind::ConfigMap);
    let key = |o: &kube::core::ObjectMeta| {
        (
            o.namespace.clone().unwrap_or_default(),
            o.name.clone().unwrap_or_default(),
        )
    };
    Box::pin(
        services
            .watches(scoped::<Secret>(client, ns), wc.clone(), move |o| {
                let (ns, name) = key(&o.metadata);
                by_secret(ns, name)
            })
            .watches(scoped::<ConfigMap>(client, ns), wc.clone(), move |o| {
                let (ns, name) = key(&o.metadata);
                by_ca(ns, name)
            })
            .with_config(cfg.clone())
            .graceful_shutdown_on(stop)
            .run(super::service::reconcile, error_policy, ctx.clone())
            .for_each(|_| async {}),
    )
}

/// The SpeechServices named on a broadcast channel, as a stream of references (lagging
/// receivers skip what they missed: the drift check covers it).
fn tokio_stream_of(
    rx: tokio::sync::broadcast::Receiver<(String, String)>,
) -> impl futures::Stream<Item = ObjectRef<SpeechService>> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok((ns, name)) => {
                    return Some((ObjectRef::new(&name).within(&ns), rx));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// How [`run_with`] runs the controllers.
#[derive(Default)]
pub struct RunOptions {
    /// Namespaces to watch; empty watches all (needs cluster-wide read rights).
    pub namespaces: Vec<String>,
    /// Where metrics go (status-derived metrics are sampled from the controllers' caches).
    pub metrics: Option<Arc<Metrics>>,
    /// Set to `true` once every controller's cache has listed its objects.
    pub synced: Option<tokio::sync::watch::Sender<bool>>,
    /// Cancelled to stop: the controllers finish the reconciles in flight, then return.
    pub shutdown: CancellationToken,
}

/// Runs every controller until the process stops.
pub async fn run(client: Client, settings: Settings, concurrency: u16) -> Result<(), Error> {
    run_with(client, settings, concurrency, RunOptions::default()).await
}

/// Runs every controller, per watched namespace (or cluster-wide), until `options.shutdown`.
pub async fn run_with(
    client: Client,
    settings: Settings,
    concurrency: u16,
    options: RunOptions,
) -> Result<(), Error> {
    let ctx = Context::new_with_metrics(client.clone(), settings, options.metrics.clone())?;
    let wc = WatcherConfig::default();
    let cfg = kube::runtime::controller::Config::default().concurrency(concurrency);
    let scopes: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    info!(namespaces = ?options.namespaces, "starting controllers");
    let shutdown = options.shutdown.clone();
    let stop = move || {
        let token = shutdown.clone();
        async move { token.cancelled().await }
    };
    let mut controllers: Vec<BoxFuture<'static, ()>> = Vec::new();
    // One initial listing per watched kind and scope: 4 per scope.
    let sync = SyncTracker::new(scopes.len() * 4, options.synced);
    let (mut lm_src, mut am_src, mut vm_src) = (Vec::new(), Vec::new(), Vec::new());

    for scope in &scopes {
        let ns = scope.as_deref();
        let services = service_controller(&client, ns, &wc, &cfg, stop(), &sync, &ctx);
        controllers.push(Box::pin(services));

        let mut language_extra = |c: Controller<CustomLanguageModel>,
                                  s: Store<CustomLanguageModel>| {
            lm_src.push(metrics::store_source(s));
            c.with_config(cfg.clone()).graceful_shutdown_on(stop())
        };
        let language = model_controller!(
            CustomLanguageModel,
            client,
            ns,
            ctx,
            wc,
            sync,
            language_extra
        );
        controllers.push(Box::pin(language));

        let mut acoustic_extra = |c: Controller<CustomAcousticModel>,
                                  s: Store<CustomAcousticModel>| {
            am_src.push(metrics::store_source(s.clone()));
            // An acoustic model waits for its language model: wake it on every change of that
            // model.
            let lm = mapper(s, RefKind::LanguageModel);
            c.with_config(cfg.clone())
                .graceful_shutdown_on(stop())
                .watches(
                    scoped::<CustomLanguageModel>(&client, ns),
                    wc.clone(),
                    move |o| lm(o.namespace().unwrap_or_default(), o.name_any()),
                )
        };
        let acoustic = model_controller!(
            CustomAcousticModel,
            client,
            ns,
            ctx,
            wc,
            sync,
            acoustic_extra
        );
        controllers.push(Box::pin(acoustic));

        let mut voice_extra = |c: Controller<CustomVoiceModel>, s: Store<CustomVoiceModel>| {
            vm_src.push(metrics::store_source(s));
            c.with_config(cfg.clone()).graceful_shutdown_on(stop())
        };
        let voice = model_controller!(CustomVoiceModel, client, ns, ctx, wc, sync, voice_extra);
        controllers.push(Box::pin(voice));
    }

    let sampler = options.metrics.map(|m| {
        tokio::spawn(metrics::sample_forever(
            m,
            vec![
                ("CustomLanguageModel", lm_src),
                ("CustomAcousticModel", am_src),
                ("CustomVoiceModel", vm_src),
            ],
            std::time::Duration::from_secs(2),
        ))
    });
    futures::future::join_all(controllers).await;
    if let Some(s) = sampler {
        s.abort();
    }
    info!("controllers stopped");
    Ok(())
}
