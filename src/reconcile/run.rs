//! Wires the controllers: one per kind and scope, with one stream per watched kind (see
//! [`super::watches`]) whose events wake a model when something it depends on changes (its
//! SpeechService, the Secrets and ConfigMaps it reads, and for acoustic models their language
//! model), so nothing needs to poll for dependencies.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Config as WatcherConfig;
use kube::runtime::{WatchStreamExt, predicates, utils::Predicate};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::context::memory::object_key;
use super::context::{Context, Settings};
use super::error::Error;
use super::models;
use super::watches::{Dependent, Router, Wakeups, strip};
use crate::crd::{CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, SpeechService};
use crate::metrics::Metrics;
use crate::model::RefKind;

fn error_policy<K>(_obj: Arc<K>, _err: &Error, _ctx: Arc<Context>) -> Requeue {
    // Reconcilers turn errors into conditions and requeues themselves; only Kubernetes write
    // failures of the finalizer step reach this point.
    Requeue::requeue(std::time::Duration::from_secs(10))
}

/// Nothing more to do with a primary stream's events (see the `also` hook of
/// `model_controller!`).
fn nothing<K>(_: &Result<kube::runtime::watcher::Event<K>, kube::runtime::watcher::Error>) {}

/// One model controller: its primary stream, metadata only (`PartialObjectMetadata`, cached
/// without managedFields: the reconcile reads the object itself, issue 11), and the wake-ups
/// the scope's [`Router`] sends it. `$also` sees every event of the primary stream (the
/// language models' stream wakes the acoustic models that train with them).
macro_rules! model_controller {
    ($kind:ty, $who:expr, $scope:expr, $also:expr) => {{
        let scope: &Scope = $scope;
        let api: Api<PartialObjectMeta<$kind>> = scoped(&scope.client, scope.ns.as_deref());
        let (reader, writer) = kube::runtime::reflector::store();
        let ctx = scope.ctx.clone();
        // Status writes do not wake the model (no hot loop): only spec (generation),
        // annotations (train/upgrade tokens) and finalizer changes do.
        let stream = kube::runtime::watcher(api, scope.wc.clone())
            .default_backoff()
            .modify(|o: &mut PartialObjectMeta<$kind>| strip(&mut o.metadata))
            .reflect(writer)
            .inspect(scope.sync.hook())
            .inspect(scope.router.track_holders::<PartialObjectMeta<$kind>>(
                $who,
                move |ns, name| {
                    ctx.memory.forget(&object_key(
                        &<$kind as kube::Resource>::kind(&()),
                        ns,
                        name,
                    ))
                },
            ))
            .inspect($also)
            .applied_objects()
            .predicate_filter(
                predicates::generation::<PartialObjectMeta<$kind>>
                    .combine(predicates::annotations::<PartialObjectMeta<$kind>>)
                    .combine(predicates::finalizers::<PartialObjectMeta<$kind>>),
                Default::default(),
            );
        let router = scope.router.clone();
        let cache = reader.clone();
        Controller::for_stream(stream, reader)
            .reconcile_on(scope.wakeups.lock().take::<PartialObjectMeta<$kind>>($who))
            .reconcile_on(woken::<$kind>(
                scope.ctx.notices.model_woken.subscribe(),
                scope.ns.clone(),
            ))
            .with_config(scope.cfg.clone())
            .graceful_shutdown_on(scope.stop())
            .run(
                move |meta, ctx| {
                    models::reconcile::<$kind>(meta, ctx, router.clone(), cache.clone())
                },
                error_policy,
                scope.ctx.clone(),
            )
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

/// Objects per page of a watch's initial LIST, on an API server that cannot stream it (see
/// [`streams_initial_events`]).
pub const WATCH_PAGE_SIZE: u32 = 100;

/// Whether the API server streams a watch's initial state, object by object, instead of the
/// watch starting with a LIST (Kubernetes streaming lists, KEP-3157 "WatchList": the
/// `sendInitialEvents` watch parameter; beta and on by default in 1.32, off by default in 1.33,
/// on again from 1.34).
///
/// A LIST page is decoded whole, `managedFields` included, before the cache strips it: with
/// hundreds of models that is the operator's start-up memory peak (issue 11). A streamed
/// initial state is decoded one object at a time.
///
/// Asked once at start-up with a watch that matches nothing (SpeechServices with a label no
/// object carries, in `namespace` or cluster-wide, as the operator's RBAC allows): the server
/// must answer with the bookmark that ends the initial events (annotation
/// `k8s.io/initial-events-end`) within 5 s. A server that refuses the parameter (422 while the
/// feature gate is off) or ignores it gets the paged LIST instead.
pub async fn streams_initial_events(client: &Client, namespace: Option<&str>) -> bool {
    use kube::api::{WatchEvent, WatchParams};
    let api: Api<SpeechService> = scoped(client, namespace);
    let wp = WatchParams::streaming_lists()
        .labels("speech.watson.dev/streaming-list-probe=none")
        .timeout(5);
    let probe = async {
        let Ok(stream) = api.watch(&wp, "0").await else {
            return false;
        };
        let mut stream = std::pin::pin!(stream);
        while let Some(Ok(event)) = stream.next().await {
            if let WatchEvent::Bookmark(b) = event
                && b.metadata
                    .annotations
                    .contains_key("k8s.io/initial-events-end")
            {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(std::time::Duration::from_secs(6), probe)
        .await
        .unwrap_or(false)
}

/// What every controller of one scope (a namespace, or the cluster) shares.
struct Scope {
    client: Client,
    ns: Option<String>,
    wc: WatcherConfig,
    cfg: kube::runtime::controller::Config,
    shutdown: CancellationToken,
    sync: SyncTracker,
    ctx: Arc<Context>,
    router: Arc<Router>,
    wakeups: parking_lot::Mutex<Wakeups>,
}

impl Scope {
    fn stop(&self) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
        let token = self.shutdown.clone();
        async move { token.cancelled().await }
    }

    /// The metadata-only watch of `K` (Secrets or ConfigMaps): one stream for the scope, whose
    /// events wake the objects that reference the changed one. Ends at shutdown.
    fn dependency_watch<K>(&self, kind: RefKind) -> BoxFuture<'static, ()>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
    {
        let router = self.router.clone();
        Box::pin(
            kube::runtime::watcher(
                scoped::<PartialObjectMeta<K>>(&self.client, self.ns.as_deref()),
                self.wc.clone(),
            )
            .default_backoff()
            .take_until(self.stop())
            .for_each(move |event| {
                if let Ok(event) = event {
                    router.observe(kind, &event);
                }
                futures::future::ready(())
            }),
        )
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
/// the service at once (through the scope's router); its own stream also wakes its models when
/// its spec or Ready condition changes (not on every status write: the model count changes
/// often).
fn service_controller(scope: &Scope) -> BoxFuture<'static, ()> {
    let (reader, writer) = kube::runtime::reflector::store();
    let router = scope.router.clone();
    let stream = kube::runtime::watcher(
        scoped::<SpeechService>(&scope.client, scope.ns.as_deref()),
        scope.wc.clone(),
    )
    .default_backoff()
    .modify(|s: &mut SpeechService| strip(&mut s.metadata))
    .reflect(writer)
    .inspect(scope.sync.hook())
    .inspect({
        // A SpeechService has no finalizer: its watch's Delete, or a re-listing that no longer
        // lists it, is the only signal that its handle and budget can go.
        let ctx = scope.ctx.clone();
        scope
            .router
            .track::<SpeechService>(Dependent::Service, move |ns, name| {
                ctx.forget_service(ns, name)
            })
    })
    .inspect(move |event| {
        if let Ok(event) = event {
            router.observe_with(RefKind::SpeechService, event, |s| {
                service_readiness(s).map(|h| h.to_string())
            });
        }
    })
    .applied_objects()
    // Like the models, services ignore their own status writes; a spec or annotation change
    // (an erasure request) wakes them.
    .predicate_filter(
        predicates::generation::<SpeechService>.combine(predicates::annotations::<SpeechService>),
        Default::default(),
    );
    // Models created or deleted on a service's instance wake it (its model count changed).
    let changed = named_in_scope::<_, SpeechService>(
        scope.ctx.notices.service_changed.subscribe(),
        scope.ns.clone(),
        Some,
    );
    Box::pin(
        Controller::for_stream(stream, reader)
            .reconcile_on(changed)
            .reconcile_on(
                scope
                    .wakeups
                    .lock()
                    .take::<SpeechService>(Dependent::Service),
            )
            .with_config(scope.cfg.clone())
            .graceful_shutdown_on(scope.stop())
            .run(super::service::reconcile, error_policy, scope.ctx.clone())
            .for_each(|_| async {}),
    )
}

/// The objects named on a broadcast channel that belong to the scope `namespace` (`None`: every
/// namespace), as a stream of references: `named` gives a message's (namespace, name), `None`
/// for a message not meant for this stream. Every scope's controllers hear the channel; a
/// lagging receiver skips what it missed (the objects still look again on their own schedule).
fn named_in_scope<T, K>(
    rx: tokio::sync::broadcast::Receiver<T>,
    namespace: Option<String>,
    named: fn(T) -> Option<(String, String)>,
) -> impl futures::Stream<Item = ObjectRef<K>> + Send + 'static
where
    T: Clone + Send + 'static,
    K: kube::Resource<DynamicType = ()> + 'static,
{
    futures::stream::unfold((rx, namespace), move |(mut rx, namespace)| async move {
        loop {
            match rx.recv().await {
                Ok(message) => match named(message) {
                    Some((ns, name)) if namespace.as_ref().is_none_or(|n| *n == ns) => {
                        return Some((ObjectRef::new(&name).within(&ns), (rx, namespace)));
                    }
                    _ => continue,
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// The models of kind `K` in the scope `namespace` that a shared listing found done waiting
/// ([`super::context::ServiceHandle::await_listing`]).
fn woken<K>(
    rx: tokio::sync::broadcast::Receiver<super::context::Woken>,
    namespace: Option<String>,
) -> impl futures::Stream<Item = ObjectRef<PartialObjectMeta<K>>> + Send + 'static
where
    K: crate::model::ModelResource + kube::Resource<DynamicType = ()> + 'static,
{
    named_in_scope(rx, namespace, |(kind, ns, name)| {
        (kind == K::KIND).then_some((ns, name))
    })
}

/// How [`run_with`] runs the controllers.
#[derive(Default)]
pub struct RunOptions {
    /// Namespaces to watch; empty watches all (needs cluster-wide read rights).
    pub namespaces: Vec<String>,
    /// Where metrics go (the status-derived ones are fed by each reconcile).
    pub metrics: Option<Arc<Metrics>>,
    /// Set to `true` once every controller's cache has listed its objects.
    pub synced: Option<tokio::sync::watch::Sender<bool>>,
    /// Cancelled to stop: the controllers finish the reconciles in flight, then return.
    pub shutdown: CancellationToken,
    /// Ask the API server to stream the watches' initial state where it can (`run
    /// --streaming-lists`; see [`streams_initial_events`]); else paged LISTs.
    pub streaming_lists: bool,
    /// Told when a served CRD carries another schema than this operator's (`/readyz`).
    pub health: Option<Arc<crate::telemetry::Health>>,
}

/// The kind name as a `'static` metric label.
fn static_kind(kind: &str) -> &'static str {
    match kind {
        "SpeechService" => "SpeechService",
        "CustomLanguageModel" => "CustomLanguageModel",
        "CustomAcousticModel" => "CustomAcousticModel",
        "CustomVoiceModel" => "CustomVoiceModel",
        _ => "unknown",
    }
}

/// The kinds whose served CRD does not carry the schema this operator was built for
/// ([`crate::crd::SCHEMA_VERSION_ANNOTATION`]), checked once at start-up (issue 25: no schema
/// skew): each is logged, and `wso_crd_schema_current{kind}` says 1 or 0. A CRD the operator
/// may not read (no cluster-wide rights) is assumed current, with a warning.
pub async fn stale_schemas(client: &Client, metrics: Option<&Metrics>) -> BTreeSet<String> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut stale = BTreeSet::new();
    for ours in crate::crd::all() {
        let name = ours.metadata.name.clone().unwrap_or_default();
        let kind = static_kind(&ours.spec.names.kind);
        let served = match api.get_opt(&name).await {
            Ok(Some(crd)) => crd
                .metadata
                .annotations
                .and_then(|a| a.get(crate::crd::SCHEMA_VERSION_ANNOTATION).cloned()),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(crd = %name, error = %e, "cannot read the CRD to check its schema version; assuming it is current");
                Some(crate::crd::SCHEMA_VERSION.to_string())
            }
        };
        let current = served.as_deref() == Some(crate::crd::SCHEMA_VERSION);
        if !current {
            tracing::error!(
                crd = %name,
                served = served.as_deref().unwrap_or("none"),
                expected = crate::crd::SCHEMA_VERSION,
                "the served CRD does not carry the schema this operator was built for: {kind} is not reconciled (nothing is read, written or deleted for it) until this release's CRDs are applied and the operator restarted"
            );
            stale.insert(ours.spec.names.kind.clone());
        }
        if let Some(m) = metrics {
            m.crd_schema_current(kind, current);
        }
    }
    stale
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
    let stale = stale_schemas(&client, options.metrics.as_deref()).await;
    if let Some(h) = &options.health {
        h.set_schema_stale(!stale.is_empty());
    }
    let _ = ctx.stale_kinds.set(stale);
    let scopes: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    info!(namespaces = ?options.namespaces, "starting controllers");
    let streaming =
        options.streaming_lists && streams_initial_events(&client, scopes[0].as_deref()).await;
    info!(
        streaming,
        "initial listings: {}",
        if streaming {
            "streamed by the API server (sendInitialEvents)"
        } else {
            "paged LISTs"
        }
    );
    let wc = if streaming {
        WatcherConfig::default().streaming_lists()
    } else {
        WatcherConfig::default().page_size(WATCH_PAGE_SIZE)
    };
    let mut controllers: Vec<BoxFuture<'static, ()>> = Vec::new();
    // One initial listing per primary stream and scope: 4 per scope.
    let sync = SyncTracker::new(scopes.len() * 4, options.synced);

    for ns in scopes {
        let (router, wakeups) = Router::new();
        let scope = Scope {
            client: client.clone(),
            ns,
            // Streamed where the server can (see `streams_initial_events`), else pages of 100
            // objects, not kube's 500: a page is decoded whole, with managedFields, before the
            // cache strips it, and that start-up peak stays in the allocator's arenas (issue
            // 11: memory). A thousand models cost 10 LISTs instead of 2.
            wc: wc.clone(),
            cfg: kube::runtime::controller::Config::default().concurrency(concurrency),
            shutdown: options.shutdown.clone(),
            sync: sync.clone(),
            ctx: ctx.clone(),
            router,
            wakeups: parking_lot::Mutex::new(wakeups),
        };
        // One stream per watched kind and scope: the two metadata-only dependency watches here,
        // one per custom resource kind below.
        controllers.push(scope.dependency_watch::<Secret>(RefKind::Secret));
        controllers.push(scope.dependency_watch::<ConfigMap>(RefKind::ConfigMap));
        controllers.push(service_controller(&scope));

        let router = scope.router.clone();
        let language = model_controller!(
            CustomLanguageModel,
            Dependent::Language,
            &scope,
            // An acoustic model waits for its language model: every change of it wakes them.
            move |event: &Result<_, _>| {
                if let Ok(event) = event {
                    router.observe(RefKind::LanguageModel, event);
                }
            }
        );
        controllers.push(Box::pin(language));
        let acoustic = model_controller!(CustomAcousticModel, Dependent::Acoustic, &scope, nothing);
        controllers.push(Box::pin(acoustic));
        let voice = model_controller!(CustomVoiceModel, Dependent::Voice, &scope, nothing);
        controllers.push(Box::pin(voice));
    }

    futures::future::join_all(controllers).await;
    info!("controllers stopped");
    Ok(())
}
