//! Shared state of the reconcilers: the Kubernetes client, settings, the Event recorder, and one
//! [`ServiceHandle`] per SpeechService (IBM clients, request budget, shared model listings).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client, ResourceExt};
use parking_lot::Mutex;
use secrecy::SecretString;

use super::budget::ServiceBudget;
use super::error::Error;
use super::inputs::{InputError, Resolver};
use crate::crd::SpeechService;
use crate::crd::speech_service::{AuthType, ServiceKind};
use crate::decision::ModelKind;
use crate::watson::stt_types::{AcousticModel, LanguageModel};
use crate::watson::tts_types::VoiceModel;
use crate::watson::{Auth, ClientConfig, RequestBudget, SttClient, TtsClient};

/// Settings of the reconcilers (from the command line).
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often an Available model (and each service) is checked for drift.
    pub drift_interval: Duration,
    /// Longest wait between two checks of a running operation.
    pub max_poll_interval: Duration,
    /// Expected duration of a language-model training, until the model's history says better.
    pub expected_training: Duration,
    /// Request timeout for IBM calls.
    pub request_timeout: Duration,
    /// The per-instance limit of custom models of one kind (1024 on IBM Cloud). The operator
    /// never sends a create past it and warns at 90 %.
    pub model_quota: usize,
    /// Poll running operations at this fixed interval instead of progress-aware polling (the
    /// benchmarks' baseline; IBM's samples use 10 s).
    pub fixed_poll: Option<Duration>,
    /// Expected duration of the service's analysis of one corpus, grammar or audio resource.
    pub expected_analysis: Duration,
    /// An operation running longer than this many times its expected duration is flagged
    /// (`OperationOverdue`); nothing is re-created or deleted.
    pub overdue_factor: u32,
    /// Expected seconds of acoustic-model training per second of audio, until the model's
    /// history says better (IBM: about as long as the audio, so 1).
    pub training_per_audio_second: f64,
    /// `run --dry-run`: decide and report (status with `nextAction` marked `dry run`), read the
    /// service, but make no call that changes it and release no finalizer; each skipped step is
    /// logged at info.
    pub dry_run: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            drift_interval: Duration::from_secs(600),
            max_poll_interval: Duration::from_secs(300),
            expected_training: Duration::from_secs(600),
            model_quota: 1024,
            fixed_poll: None,
            request_timeout: Duration::from_secs(60),
            expected_analysis: Duration::from_secs(600),
            overdue_factor: 3,
            training_per_audio_second: 1.0,
            dry_run: false,
        }
    }
}

/// A service's request budget with the `spec.requestBudget` it was built for.
type Budget = (Option<(u32, u32)>, Arc<ServiceBudget>);

/// Everything a reconcile needs.
pub struct Context {
    pub client: Client,
    pub settings: Settings,
    pub recorder: Recorder,
    pub http: reqwest::Client,
    services: Mutex<HashMap<String, Arc<ServiceHandle>>>,
    budgets: Mutex<HashMap<String, Budget>>,
    /// What this process remembers of each object between its reconciles, by object key;
    /// dropped when the object is deleted ([`Context::forget`]).
    objects: Mutex<HashMap<String, Remembered>>,
    /// Prometheus metrics (reconciles, IBM calls), when served.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Wakes a SpeechService (namespace, name) whose model count changed: a model was created
    /// or deleted on its instance, so its `modelsInUse` is right at once, not a drift later.
    pub service_changed: tokio::sync::broadcast::Sender<(String, String)>,
    /// Wakes a model (kind, namespace, name) whose wait on the service a shared listing shows
    /// ended ([`ServiceHandle::await_listing`]).
    pub model_woken: tokio::sync::broadcast::Sender<Woken>,
}

/// A model a shared listing woke: its kind, namespace and name.
pub type Woken = (ModelKind, String, String);

impl Context {
    /// Builds the context without metrics.
    pub fn new(client: Client, settings: Settings) -> Result<Arc<Self>, Error> {
        Self::new_with_metrics(client, settings, None)
    }

    /// Builds the context; `metrics` observes reconciles and every IBM call.
    pub fn new_with_metrics(
        client: Client,
        settings: Settings,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Result<Arc<Self>, Error> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Error::InvalidSpec(format!("HTTP client: {e}")))?;
        let reporter = Reporter {
            controller: "watson-speech-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Ok(Arc::new(Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            settings,
            http,
            services: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
            objects: Mutex::new(HashMap::new()),
            metrics,
            service_changed: tokio::sync::broadcast::channel(256).0,
            model_woken: tokio::sync::broadcast::channel(1024).0,
        }))
    }

    /// An input resolver for a namespace.
    pub fn resolver(&self, namespace: &str) -> Resolver {
        Resolver::new(self.client.clone(), namespace, self.http.clone())
    }

    /// The handle for `namespace/name`, building (or rebuilding after a spec, Secret or CA
    /// change) its IBM client. Credentials are read on every call, so a rotated Secret is used
    /// without a restart.
    pub async fn service(&self, namespace: &str, name: &str) -> Result<Arc<ServiceHandle>, Error> {
        let api: Api<SpeechService> = Api::namespaced(self.client.clone(), namespace);
        let svc = api.get_opt(name).await?.ok_or_else(|| {
            Error::Service(format!(
                "SpeechService {name} does not exist in namespace {namespace}: create it or fix spec.serviceRef"
            ))
        })?;
        let resolver = self.resolver(namespace);
        let (auth, secret_version) = self.auth_for(&svc, namespace).await?;
        let (ca, ca_digest) = match &svc.spec.ca_bundle {
            Some(r) => {
                let pem = resolver.config_map_key(r).await?;
                let d = crate::decision::digest::sha256_hex(&pem);
                (Some(pem), d)
            }
            None => (None, String::new()),
        };
        let key = format!(
            "{}/{}/{}/{}",
            svc.metadata.generation.unwrap_or_default(),
            svc.uid().unwrap_or_default(),
            secret_version,
            ca_digest
        );
        let id = format!("{namespace}/{name}");
        if let Some(h) = self.services.lock().get(&id)
            && h.key == key
        {
            return Ok(h.clone());
        }
        let url = url::Url::parse(&svc.spec.url)
            .map_err(|e| Error::InvalidSpec(format!("spec.url {:?}: {e}", svc.spec.url)))?;
        let mut config = ClientConfig::new(url, auth);
        config.ca_bundle_pem = ca;
        config.timeout = self.settings.request_timeout;
        config.customer_id = svc.spec.customer_id.clone();
        config.learning_opt_out = svc.spec.learning_opt_out;
        config.budget = self.budget(&id, &svc);
        config.observer = self
            .metrics
            .clone()
            .map(|m| m as Arc<dyn crate::watson::CallObserver>);
        let (stt, tts) = match svc.spec.service {
            ServiceKind::SpeechToText => (Some(SttClient::new(config)?), None),
            ServiceKind::TextToSpeech => (None, Some(TtsClient::new(config)?)),
        };
        let handle = Arc::new(ServiceHandle {
            key,
            kind: svc.spec.service,
            stt,
            tts,
            listings: tokio::sync::Mutex::new(Listings::empty()),
            woken: self.model_woken.clone(),
            waiting: parking_lot::Mutex::new(HashMap::new()),
            create_lock: tokio::sync::Mutex::new(()),
            identity: tokio::sync::Mutex::new(None),
            url: svc.spec.url.clone(),
        });
        // Two reconciles may build the handle at once: the first one stored wins, so every
        // model of the service shares one listing and one record of the operator's changes.
        let mut services = self.services.lock();
        if let Some(h) = services.get(&id)
            && h.key == handle.key
        {
            return Ok(h.clone());
        }
        services.insert(id, handle.clone());
        Ok(handle)
    }

    /// The service's budget: kept across client rebuilds (a Secret rotation must not reset a
    /// storm's pause), rebuilt only when `spec.requestBudget` changes.
    fn budget(&self, id: &str, svc: &SpeechService) -> Option<Arc<dyn RequestBudget>> {
        let wanted = svc.spec.request_budget.as_ref().map(|b| {
            let rps = b.requests_per_second.max(1);
            (rps, b.burst.unwrap_or(rps).max(1))
        });
        let mut budgets = self.budgets.lock();
        if let Some((w, b)) = budgets.get(id)
            && *w == wanted
        {
            return Some(b.clone() as Arc<dyn RequestBudget>);
        }
        let limiter = wanted.and_then(|(rps, burst)| {
            let quota = governor::Quota::per_second(NonZeroU32::new(rps)?)
                .allow_burst(NonZeroU32::new(burst)?);
            Some(governor::RateLimiter::direct(quota))
        });
        let budget = Arc::new(ServiceBudget::new(limiter));
        budgets.insert(id.to_string(), (wanted, budget.clone()));
        Some(budget as Arc<dyn RequestBudget>)
    }

    async fn auth_for(
        &self,
        svc: &SpeechService,
        namespace: &str,
    ) -> Result<(Auth, String), Error> {
        let auth = &svc.spec.auth;
        if auth.kind == AuthType::None {
            return Ok((Auth::None, String::new()));
        }
        let Some(r) = &auth.secret_ref else {
            return Err(Error::InvalidSpec(
                "spec.auth.secretRef is required unless spec.auth.type is None".into(),
            ));
        };
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api
            .get_opt(&r.name)
            .await?
            .ok_or_else(|| InputError::NotFound {
                kind: "Secret",
                name: r.name.clone(),
                detail: "(credentials) does not exist".into(),
            })?;
        let version = secret.resource_version().unwrap_or_default();
        let read = |key: &Option<String>, default: &str| -> Result<SecretString, Error> {
            let key = key.as_deref().unwrap_or(default);
            let bytes = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| b.0.clone())
                .ok_or_else(|| InputError::NotFound {
                    kind: "Secret",
                    name: r.name.clone(),
                    detail: format!("(credentials) has no key {key:?}"),
                })?;
            let text = String::from_utf8(bytes).map_err(|_| {
                InputError::Malformed(format!("Secret {} key {key:?} is not UTF-8", r.name))
            })?;
            Ok(SecretString::from(text.trim().to_string()))
        };
        let auth = match auth.kind {
            AuthType::Iam => {
                let api_key = read(&r.api_key_key, "apikey")?;
                let iam_url = auth
                    .iam_url
                    .as_deref()
                    .unwrap_or("https://iam.cloud.ibm.com");
                let url = url::Url::parse(iam_url)
                    .map_err(|e| Error::InvalidSpec(format!("spec.auth.iamUrl: {e}")))?;
                Auth::Iam { api_key, url }
            }
            AuthType::Bearer => Auth::Bearer(read(&r.token_key, "token")?),
            AuthType::Basic => {
                let user = read(&r.username_key, "username")?;
                Auth::Basic {
                    username: secrecy::ExposeSecret::expose_secret(&user).to_string(),
                    password: read(&r.password_key, "password")?,
                }
            }
            AuthType::None => Auth::None,
        };
        Ok((auth, version))
    }

    /// The inputs digest `key` was last reconciled with.
    pub fn last_inputs(&self, key: &str) -> Option<String> {
        self.objects.lock().get(key)?.last_inputs.clone()
    }

    /// Remembers the inputs digest `key` is reconciled with, so a failure recorded in status
    /// says which inputs failed (a terminal failure then waits for them to change).
    pub fn remember_inputs(&self, key: &str, digest: &str) {
        let mut objects = self.objects.lock();
        let entry = objects.entry(key.to_string()).or_default();
        if entry.last_inputs.as_deref() != Some(digest) {
            entry.last_inputs = Some(digest.to_string());
        }
    }

    /// A model's status as a reconcile read it from the API server or wrote it: feeds the
    /// status-derived metrics ([`crate::metrics::Metrics::model_status`]).
    pub fn saw_status<K: crate::model::ModelResource>(&self, key: &str, obj: &K) {
        if let Some(m) = &self.metrics {
            m.model_status(&K::kind(&()), key, &crate::metrics::ModelSnapshot::of(obj));
        }
    }

    /// Consecutive failures of `key` so far.
    pub fn failures(&self, key: &str) -> u32 {
        self.objects.lock().get(key).map_or(0, |o| o.failures)
    }

    /// Forgets everything about `key`: its object is gone (finalizer released, or its watch
    /// saw it deleted), and it leaves the status metrics. Without this,
    /// every object ever reconciled would stay in memory (issue 11).
    pub fn forget(&self, key: &str) {
        self.objects.lock().remove(key);
        if let Some(m) = &self.metrics {
            m.model_gone(key);
        }
    }

    /// Forgets a deleted SpeechService: its client handle (with the shared listings of its
    /// instance's models), its request budget and its failures. The same leak as [`forget`]
    /// for models: a SpeechService has no finalizer, so its watch (a Delete, or a re-listing
    /// that no longer lists it) is the only signal.
    ///
    /// [`forget`]: Context::forget
    pub fn forget_service(&self, namespace: &str, name: &str) {
        let id = format!("{namespace}/{name}");
        self.services.lock().remove(&id);
        self.budgets.lock().remove(&id);
        self.forget(&super::service::key(namespace, name));
    }

    /// The model `id` of the SpeechService `namespace/service` waits no more (its finalizer was
    /// released): its entry goes, without building the service's handle.
    pub fn stop_awaiting(&self, namespace: &str, service: &str, id: &str) {
        let handle = self
            .services
            .lock()
            .get(&format!("{namespace}/{service}"))
            .cloned();
        if let Some(h) = handle {
            h.waiting.lock().remove(id);
        }
    }

    /// Objects remembered now (for tests and diagnostics).
    pub fn remembered(&self) -> usize {
        self.objects.lock().len()
    }

    /// Records a failure of `key` and returns the next backoff (jittered exponential from
    /// `base`, capped at 1 minute for transient failures and 10 minutes for credentials).
    pub fn backoff(&self, key: &str, base: Duration) -> Duration {
        let n = {
            let mut objects = self.objects.lock();
            let o = objects.entry(key.to_string()).or_default();
            o.failures = o.failures.saturating_add(1);
            o.failures
        };
        let exp = base.saturating_mul(1u32 << (n.min(8) - 1));
        // Transient failures (base 5 s) retry at least every minute, so work resumes soon after
        // an outage; credential failures (base 30 s) slow down to 10 minutes.
        let cap = if base < Duration::from_secs(30) {
            Duration::from_secs(60)
        } else {
            Duration::from_secs(600)
        };
        let capped = exp.min(cap);
        let jitter = rand::random::<f64>() * 0.3 + 0.85;
        capped.mul_f64(jitter)
    }

    /// Clears the failure count of `key` after a success.
    pub fn succeeded(&self, key: &str) {
        let mut objects = self.objects.lock();
        if let Some(o) = objects.get_mut(key) {
            o.failures = 0;
            if o.last_inputs.is_none() {
                objects.remove(key);
            }
        }
    }
}

/// What [`Context`] remembers of one object between its reconciles.
#[derive(Default)]
struct Remembered {
    /// The inputs digest of the last reconcile.
    last_inputs: Option<String>,
    /// Consecutive failures, for jittered exponential backoff.
    failures: u32,
}

/// One listing of a service's models of one kind, shared by every model of it: many models in
/// flight cost one LIST per interval instead of one GET each.
struct Listing<T> {
    at: Instant,
    /// Read again before any use but counting (after an adoption: a model made moments ago by
    /// a script may be missing).
    stale: bool,
    /// The models the operator changed (created, fed, trained, deleted, ...) since the LIST:
    /// their entries may be out of date, every other entry is as current as the LIST. The
    /// membership stays right: the operator's own creates and deletes are applied to `ids`.
    changed: std::collections::BTreeSet<String>,
    models: Arc<Vec<T>>,
    /// The customization IDs the service holds, as far as the operator knows.
    ids: std::collections::BTreeSet<String>,
    /// Entries the operator wrote itself, with when: models it created since the LIST. Such an
    /// entry is as current as its own time, not the LIST's.
    own: std::collections::BTreeMap<String, Instant>,
}

impl<T> Listing<T> {
    fn new(models: Vec<T>, id: fn(&T) -> &str) -> Self {
        let ids = models.iter().map(|m| id(m).to_string()).collect();
        Listing {
            at: Instant::now(),
            stale: false,
            changed: Default::default(),
            models: Arc::new(models),
            ids,
            own: Default::default(),
        }
    }

    /// When the entry of `id` was current: when the operator wrote it, else when it was listed.
    fn entry_at(&self, id: &str) -> Instant {
        self.own.get(id).copied().unwrap_or(self.at)
    }

    /// Adds the entry of a model the operator has just created (current now).
    fn add_own(&mut self, id: &str, entry: T)
    where
        T: Clone,
    {
        self.ids.insert(id.to_string());
        self.changed.remove(id);
        self.own.insert(id.to_string(), Instant::now());
        Arc::make_mut(&mut self.models).push(entry);
    }
}

/// Model listings of one service, by kind.
struct Listings {
    language: Option<Listing<LanguageModel>>,
    acoustic: Option<Listing<AcousticModel>>,
    voice: Option<Listing<VoiceModel>>,
}

/// How to read a listing entry: its customization ID and its status.
type EntryFields<T> = (fn(&T) -> &str, fn(&T) -> Option<&str>);

/// A language model's listing entry: customization ID and status.
const LANGUAGE: EntryFields<LanguageModel> = (
    |m| m.customization_id.as_str(),
    |m| m.status.as_ref().map(|s| s.as_str()),
);

/// An acoustic model's listing entry: customization ID and status.
const ACOUSTIC: EntryFields<AcousticModel> = (
    |m| m.customization_id.as_str(),
    |m| m.status.as_ref().map(|s| s.as_str()),
);

/// The status `slot`'s listing shows for the model `id` (`None` when it does not list it).
fn entry_status<T>(
    slot: &Option<Listing<T>>,
    id: &str,
    (entry_id, status): EntryFields<T>,
) -> Option<Option<String>> {
    slot.as_ref()?
        .models
        .iter()
        .find(|m| entry_id(m) == id)
        .map(|m| status(m).map(str::to_string))
}

/// The models waiting for an operation on the service, by customization ID (see
/// [`ServiceHandle::await_listing`]). Only models in flight: a steady model has no entry.
type Waiting = HashMap<String, Awaiting>;

/// After a LIST of `kind` (`models`) made for a look at `about`: the waiting models of that kind
/// whose wait it shows ended ([`crate::decision::status::listing_wakes`]), removed from the
/// waiting ones; the others remember the status it shows. `about` itself is not woken: the
/// reconcile that listed sees the LIST, and records its wait again or ends it.
fn woken<T>(
    waiting: &mut Waiting,
    kind: ModelKind,
    models: &[T],
    (id, status): EntryFields<T>,
    about: Option<&str>,
) -> Vec<Woken> {
    if !waiting.values().any(|a| a.kind == kind) {
        return Vec::new();
    }
    let listed: HashMap<&str, Option<&str>> = models
        .iter()
        .filter(|m| waiting.contains_key(id(m)))
        .map(|m| (id(m), status(m)))
        .collect();
    let mut woken = Vec::new();
    waiting.retain(|cid, a| {
        if a.kind != kind || about == Some(cid.as_str()) {
            return true;
        }
        let now = listed.get(cid.as_str()).copied();
        if crate::decision::status::listing_wakes(a.last.as_deref(), now.flatten()) {
            woken.push((
                a.kind,
                std::mem::take(&mut a.namespace),
                std::mem::take(&mut a.name),
            ));
            return false;
        }
        a.last = now.flatten().map(str::to_string);
        true
    });
    woken
}

/// A model waiting for an operation on the service to end.
struct Awaiting {
    kind: ModelKind,
    namespace: String,
    name: String,
    /// The status the last listing (or the model's own look) showed.
    last: Option<String>,
}

impl Listings {
    const fn empty() -> Self {
        Listings {
            language: None,
            acoustic: None,
            voice: None,
        }
    }

    /// The status the current listing shows for the model `id` of `kind` (`None` when it does
    /// not list it; voice models have no status).
    fn status_of(&self, kind: ModelKind, id: &str) -> Option<Option<String>> {
        match kind {
            ModelKind::Language => entry_status(&self.language, id, LANGUAGE),
            ModelKind::Acoustic => entry_status(&self.acoustic, id, ACOUSTIC),
            ModelKind::Voice => None,
        }
    }

    fn ids_mut(&mut self, kind: ModelKind) -> Option<&mut std::collections::BTreeSet<String>> {
        match kind {
            ModelKind::Language => self.language.as_mut().map(|l| &mut l.ids),
            ModelKind::Acoustic => self.acoustic.as_mut().map(|l| &mut l.ids),
            ModelKind::Voice => self.voice.as_mut().map(|l| &mut l.ids),
        }
    }

    /// The `stale` flag and `changed` set of every listing (customization IDs are unique
    /// across kinds).
    fn marks_mut(
        &mut self,
    ) -> impl Iterator<Item = (&mut bool, &mut std::collections::BTreeSet<String>)> {
        let Listings {
            language,
            acoustic,
            voice,
        } = self;
        [
            language.as_mut().map(|l| (&mut l.stale, &mut l.changed)),
            acoustic.as_mut().map(|l| (&mut l.stale, &mut l.changed)),
            voice.as_mut().map(|l| (&mut l.stale, &mut l.changed)),
        ]
        .into_iter()
        .flatten()
    }

    /// The number of models of `kind`, when listed at most `max_age` ago (stale or not).
    fn count(&self, kind: ModelKind, max_age: Duration) -> Option<usize> {
        let (at, n) = match kind {
            ModelKind::Language => self.language.as_ref().map(|l| (l.at, l.ids.len()))?,
            ModelKind::Acoustic => self.acoustic.as_ref().map(|l| (l.at, l.ids.len()))?,
            ModelKind::Voice => self.voice.as_ref().map(|l| (l.at, l.ids.len()))?,
        };
        (at.elapsed() <= max_age).then_some(n)
    }
}

/// Stores a new LIST of `models` in `slot` (nothing changed since, membership from it) and
/// returns them.
fn store<T>(slot: &mut Option<Listing<T>>, models: Vec<T>, id: fn(&T) -> &str) -> Arc<Vec<T>> {
    let listing = Listing::new(models, id);
    let shared = listing.models.clone();
    *slot = Some(listing);
    shared
}

/// A listing's models when they are current for a look at `about` (one model: its entry not
/// changed by the operator since; `None`, the whole list: nothing changed since), at most
/// `max_age` old.
fn current<T>(
    slot: &Option<Listing<T>>,
    max_age: Duration,
    about: Option<&str>,
) -> Option<Arc<Vec<T>>> {
    slot.as_ref()
        .filter(|l| !l.stale)
        .filter(|l| match about {
            // A model missing from the listing is confirmed by a new LIST before anyone takes
            // it for deleted out of band.
            Some(id) => {
                !l.changed.contains(id) && l.ids.contains(id) && l.entry_at(id).elapsed() <= max_age
            }
            None => l.changed.is_empty() && l.at.elapsed() <= max_age,
        })
        .map(|l| l.models.clone())
}

/// A model the operator has just created, as the service now holds it (see
/// [`ServiceHandle::created`]).
#[derive(Clone, Debug)]
pub enum NewModel {
    Language(LanguageModel),
    Acoustic(AcousticModel),
    Voice(VoiceModel),
}

/// One SpeechService's IBM client(s) and shared listings.
pub struct ServiceHandle {
    key: String,
    pub kind: ServiceKind,
    pub stt: Option<SttClient>,
    pub tts: Option<TtsClient>,
    listings: tokio::sync::Mutex<Listings>,
    /// Where the models a LIST shows done waiting are sent ([`Context::model_woken`]).
    woken: tokio::sync::broadcast::Sender<Woken>,
    /// The models waiting for an operation on this service (a plain mutex: never held across
    /// a call, so a model recording its wait does not wait for a LIST in flight).
    waiting: parking_lot::Mutex<Waiting>,
    /// Held while counting models and creating one, so concurrent creates cannot overshoot the
    /// quota.
    pub create_lock: tokio::sync::Mutex<()>,
    /// Which API answers at `spec.url`, once known (`Ok`: the right one; `Err`: the condition
    /// message). Asked once per handle, so once per SpeechService generation and credentials.
    identity: tokio::sync::Mutex<Option<Result<(), String>>>,
    /// `spec.url`, for messages.
    url: String,
}

impl ServiceHandle {
    /// `spec.url` of the SpeechService, as written (exported to applications without its user
    /// information: [`crate::decision::export::service_url`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Checks that `spec.url` serves the API of `spec.service` (people paste the URL of the other
    /// service, or one with a path below the instance's base URL, and the other service then
    /// answers some calls in a confusing way). One probe per handle ([`crate::watson::ServedApi`],
    /// at most two GETs), shared by the service check and every model of the service, so models
    /// of a wrong URL make no call of their own. Transient and credential failures are not
    /// remembered.
    pub async fn verify(&self) -> Result<(), Error> {
        let mut known = self.identity.lock().await;
        if let Some(result) = known.as_ref() {
            return result.clone().map_err(Error::WrongService);
        }
        let served = match (&self.stt, &self.tts) {
            (Some(c), _) => c.served_api().await?,
            (_, Some(c)) => c.served_api().await?,
            (None, None) => return Ok(()),
        };
        let result = identity_verdict(self.kind, served, &self.url);
        *known = Some(result.clone());
        result.map_err(Error::WrongService)
    }

    /// The STT client, or an error naming the mismatch.
    pub fn stt(&self) -> Result<&SttClient, Error> {
        self.stt.as_ref().ok_or_else(|| {
            Error::InvalidSpec(
                "spec.serviceRef names a TextToSpeech SpeechService; language and acoustic models need SpeechToText".into(),
            )
        })
    }

    /// The TTS client, or an error naming the mismatch.
    pub fn tts(&self) -> Result<&TtsClient, Error> {
        self.tts.as_ref().ok_or_else(|| {
            Error::InvalidSpec(
                "spec.serviceRef names a SpeechToText SpeechService; voice models need TextToSpeech".into(),
            )
        })
    }

    /// All language models of the instance, listed at most `max_age` ago, for a look at the
    /// model `about` (its entry not changed by the operator since, and present: a missing model
    /// is confirmed by a new LIST) or, with `None`, at the whole list (nothing changed since). One LIST shared by every model of the service: a change to
    /// one model makes only its own next look list again.
    pub async fn language_models(
        &self,
        max_age: Duration,
        about: Option<&str>,
    ) -> Result<Arc<Vec<LanguageModel>>, Error> {
        let mut l = self.listings.lock().await;
        if let Some(v) = current(&l.language, max_age, about) {
            return Ok(v);
        }
        let list = self.stt()?.list_language_models(None).await?.customizations;
        let woken = woken(
            &mut self.waiting.lock(),
            ModelKind::Language,
            &list,
            LANGUAGE,
            about,
        );
        self.wake(woken);
        Ok(store(&mut l.language, list, LANGUAGE.0))
    }

    /// All acoustic models of the instance, as [`Self::language_models`].
    pub async fn acoustic_models(
        &self,
        max_age: Duration,
        about: Option<&str>,
    ) -> Result<Arc<Vec<AcousticModel>>, Error> {
        let mut l = self.listings.lock().await;
        if let Some(v) = current(&l.acoustic, max_age, about) {
            return Ok(v);
        }
        let list = self.stt()?.list_acoustic_models(None).await?.customizations;
        let woken = woken(
            &mut self.waiting.lock(),
            ModelKind::Acoustic,
            &list,
            ACOUSTIC,
            about,
        );
        self.wake(woken);
        Ok(store(&mut l.acoustic, list, ACOUSTIC.0))
    }

    /// All voice models of the instance, as [`Self::language_models`].
    pub async fn voice_models(
        &self,
        max_age: Duration,
        about: Option<&str>,
    ) -> Result<Arc<Vec<VoiceModel>>, Error> {
        let mut l = self.listings.lock().await;
        if let Some(v) = current(&l.voice, max_age, about) {
            return Ok(v);
        }
        let list = self.tts()?.list_custom_models(None).await?.customizations;
        Ok(store(&mut l.voice, list, |m: &VoiceModel| {
            m.customization_id.as_str()
        }))
    }

    /// How many models of `kind` the instance holds (for the quota and the SpeechService's
    /// `modelsInUse`): from a listing at most `max_age` old plus the operator's own creates and
    /// deletes since ([`Self::created`], [`Self::deleted`]), else from a new LIST. Models created
    /// or deleted by others since the listing are not counted until the next one.
    pub async fn model_count(&self, kind: ModelKind, max_age: Duration) -> Result<usize, Error> {
        if let Some(n) = self.listings.lock().await.count(kind, max_age) {
            return Ok(n);
        }
        Ok(match kind {
            ModelKind::Language => self.language_models(Duration::ZERO, None).await?.len(),
            ModelKind::Acoustic => self.acoustic_models(Duration::ZERO, None).await?.len(),
            ModelKind::Voice => self.voice_models(Duration::ZERO, None).await?.len(),
        })
    }

    /// Before an adoption: every look lists again (a model made moments ago by a script may be
    /// missing from the listing); the membership stays.
    pub async fn invalidate(&self) {
        for (stale, _) in self.listings.lock().await.marks_mut() {
            *stale = true;
        }
    }

    /// After the operator changed the model `id` (any call but a read): its next look lists
    /// again, and so does a look at the whole list; other models keep using the listing.
    pub async fn changed(&self, id: &str) {
        for (_, changed) in self.listings.lock().await.marks_mut() {
            changed.insert(id.to_string());
        }
    }

    /// The operator created a model: counted at once, and its entry is what the create's answer
    /// says (IBM answers a create with the customization ID only, and a new model is `pending`
    /// and holds nothing: watson-api.md §13 items 1 and 7), so the next look at it makes no LIST.
    /// Without a listing of the kind yet, the next look lists.
    pub async fn created(&self, model: NewModel) {
        let mut l = self.listings.lock().await;
        match model {
            NewModel::Language(m) => {
                if let Some(listing) = l.language.as_mut() {
                    listing.add_own(&m.customization_id.clone(), m);
                }
            }
            NewModel::Acoustic(m) => {
                if let Some(listing) = l.acoustic.as_mut() {
                    listing.add_own(&m.customization_id.clone(), m);
                }
            }
            NewModel::Voice(m) => {
                if let Some(listing) = l.voice.as_mut() {
                    listing.add_own(&m.customization_id.clone(), m);
                }
            }
        }
    }

    /// The operator deleted the model `id` of `kind` (or found it gone): no longer counted.
    pub async fn deleted(&self, kind: ModelKind, id: &str) {
        self.waiting.lock().remove(id);
        if let Some(ids) = self.listings.lock().await.ids_mut(kind) {
            ids.remove(id);
        }
    }

    /// The model `namespace/name` (customization ID `id`, last seen with `status`) waits for an
    /// operation on the service (`waits`, from
    /// [`crate::decision::status::awaits_listing`]), or no longer does. A waiting model is
    /// woken ([`Context::model_woken`]) by the first LIST of its kind, made for any model of
    /// the service, that shows the wait over; its own next look stays scheduled as well, so a
    /// missed wake-up only costs the time it always did.
    ///
    /// A LIST made since the model's look (for another model) may already show the end: then
    /// the model is woken at once. With a LIST in flight, that LIST compares when it arrives.
    pub fn await_listing(
        &self,
        kind: ModelKind,
        id: &str,
        (namespace, name): (&str, &str),
        status: Option<&str>,
        waits: bool,
    ) {
        if !waits {
            self.waiting.lock().remove(id);
            return;
        }
        self.waiting.lock().insert(
            id.to_string(),
            Awaiting {
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
                last: status.map(str::to_string),
            },
        );
        let listed = match self.listings.try_lock() {
            Ok(l) => l.status_of(kind, id),
            Err(_) => return,
        };
        if let Some(now) = listed
            && crate::decision::status::listing_wakes(status, now.as_deref())
            && self.waiting.lock().remove(id).is_some()
        {
            self.wake(vec![(kind, namespace.to_string(), name.to_string())]);
        }
    }

    /// Sends the wake-ups of a LIST. Nobody listening (in unit tests) is fine.
    fn wake(&self, woken: Vec<Woken>) {
        for w in woken {
            let _ = self.woken.send(w);
        }
    }
}

/// Whether the API that answers at `url` (`served`) is the one `kind` needs; `Err` carries the
/// condition message (what is wrong and the fix). Pure.
pub fn identity_verdict(
    kind: ServiceKind,
    served: crate::watson::ServedApi,
    url: &str,
) -> Result<(), String> {
    use crate::watson::ServedApi;
    match (kind, served) {
        (ServiceKind::SpeechToText, ServedApi::SpeechToText)
        | (ServiceKind::TextToSpeech, ServedApi::TextToSpeech) => Ok(()),
        (ServiceKind::TextToSpeech, ServedApi::SpeechToText) => Err(format!(
            "this URL serves Speech to Text, not Text to Speech ({url}): set spec.url to the Text to Speech instance's URL, or spec.service to SpeechToText"
        )),
        (ServiceKind::SpeechToText, ServedApi::TextToSpeech) => Err(format!(
            "this URL serves Text to Speech, not Speech to Text ({url}): set spec.url to the Speech to Text instance's URL, or spec.service to TextToSpeech"
        )),
        (_, ServedApi::Neither) => Err(format!(
            "neither Speech to Text nor Text to Speech answers at {url} (GET /v1/models and /v1/voices were not found): set spec.url to the instance's base URL, e.g. https://api.us-south.speech-to-text.watson.cloud.ibm.com/instances/<id>, without /v1 or any further path"
        )),
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;
    use crate::watson::ServedApi;

    #[test]
    fn the_api_at_the_url_must_match_the_kind() {
        let url = "https://h/instances/1";
        assert_eq!(
            identity_verdict(ServiceKind::SpeechToText, ServedApi::SpeechToText, url),
            Ok(())
        );
        assert_eq!(
            identity_verdict(ServiceKind::TextToSpeech, ServedApi::TextToSpeech, url),
            Ok(())
        );
        let wrong = identity_verdict(ServiceKind::TextToSpeech, ServedApi::SpeechToText, url)
            .expect_err("wrong service");
        assert!(wrong.starts_with("this URL serves Speech to Text, not Text to Speech"));
        let wrong = identity_verdict(ServiceKind::SpeechToText, ServedApi::TextToSpeech, url)
            .expect_err("wrong service");
        assert!(wrong.starts_with("this URL serves Text to Speech, not Speech to Text"));
        for kind in [ServiceKind::SpeechToText, ServiceKind::TextToSpeech] {
            let neither = identity_verdict(kind, ServedApi::Neither, url).expect_err("neither");
            assert!(neither.contains("base URL"), "{neither}");
        }
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    fn context() -> Arc<Context> {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        Context::new(client, Settings::default()).expect("context")
    }

    /// Issue 11: per-object memory went with neither deletion nor success; a fleet that churns
    /// models grew without bound.
    #[tokio::test]
    async fn per_object_memory_goes_with_the_object() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let ctx = Context::new_with_metrics(client, Settings::default(), Some(metrics.clone()))
            .expect("context");
        let lm: crate::crd::CustomLanguageModel = serde_json::from_value(serde_json::json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": "a", "namespace": "ns"},
            "spec": {"serviceRef": {"name": "s"}, "baseModelName": "en-US_Multimedia"},
            "status": {"phase": "Training"}
        }))
        .expect("model");
        let key = "CustomLanguageModel/ns/a";
        ctx.remember_inputs(key, "digest-1");
        ctx.saw_status(key, &lm);
        ctx.backoff(key, Duration::from_secs(5));
        ctx.backoff(key, Duration::from_secs(5));
        assert_eq!(ctx.failures(key), 2);
        assert_eq!(ctx.last_inputs(key).as_deref(), Some("digest-1"));
        assert_eq!(metrics.models_counted(), 1);
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Training"} 1"#),
            "{text}"
        );
        // A success clears the failures and keeps what later reconciles read.
        ctx.succeeded(key);
        assert_eq!(ctx.failures(key), 0);
        assert_eq!(ctx.last_inputs(key).as_deref(), Some("digest-1"));
        // A key holding only failures (a SpeechService) goes at its success.
        ctx.backoff("sps/ns/s", Duration::from_secs(10));
        assert_eq!(ctx.remembered(), 2);
        ctx.succeeded("sps/ns/s");
        assert_eq!(ctx.remembered(), 1);
        // The finalizer released (or the watch saw it deleted): nothing is left, and the model
        // leaves the phase counts.
        ctx.forget(key);
        assert_eq!(ctx.remembered(), 0);
        assert_eq!(ctx.last_inputs(key), None);
        assert_eq!(metrics.models_counted(), 0);
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Training"} 0"#),
            "{text}"
        );
    }

    /// The same for a deleted SpeechService: its budget and failures go with it.
    #[tokio::test]
    async fn a_deleted_service_is_forgotten() {
        let ctx = context();
        let svc: SpeechService = serde_json::from_value(serde_json::json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "SpeechService",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"service": "SpeechToText", "url": "https://example.test",
                     "auth": {"type": "None"}, "requestBudget": {"requestsPerSecond": 5}},
        }))
        .expect("service");
        assert!(ctx.budget("ns/s", &svc).is_some());
        ctx.backoff(
            &crate::reconcile::service::key("ns", "s"),
            Duration::from_secs(10),
        );
        assert_eq!((ctx.budgets.lock().len(), ctx.remembered()), (1, 1));
        ctx.forget_service("ns", "s");
        assert_eq!((ctx.budgets.lock().len(), ctx.remembered()), (0, 0));
    }
}

#[cfg(test)]
mod wake_tests {
    use super::*;

    /// Listing entries of language models from (customization ID, status) pairs.
    pub(super) fn listed(models: &[(&str, &str)]) -> Vec<LanguageModel> {
        models
            .iter()
            .map(|(id, status)| {
                serde_json::from_value(serde_json::json!({
                    "customization_id": id, "status": status
                }))
                .expect("model")
            })
            .collect()
    }

    fn woken_about(l: &mut Waiting, models: &[(&str, &str)], about: Option<&str>) -> Vec<Woken> {
        super::woken(l, ModelKind::Language, &listed(models), LANGUAGE, about)
    }

    fn woken(l: &mut Waiting, models: &[(&str, &str)]) -> Vec<Woken> {
        woken_about(l, models, None)
    }

    fn waiting(l: &mut Waiting, kind: ModelKind, id: &str, name: &str, last: &str) {
        l.insert(
            id.into(),
            Awaiting {
                kind,
                namespace: "ns".into(),
                name: name.into(),
                last: Some(last.into()),
            },
        );
    }

    /// Issue 11 (language-model overhead): a model's training end is seen by the first LIST any
    /// model of the service makes, not only at its own next look; the entry goes with the wake.
    #[test]
    fn a_listing_wakes_the_models_whose_operation_ended() {
        let mut l = Waiting::new();
        waiting(&mut l, ModelKind::Language, "a", "lm-a", "ready");
        waiting(&mut l, ModelKind::Language, "b", "lm-b", "training");
        waiting(&mut l, ModelKind::Language, "gone", "lm-gone", "training");
        waiting(&mut l, ModelKind::Acoustic, "c", "am-c", "training");
        // The listing lags the train call of a (still `ready`), b still trains, "gone" was
        // deleted out of band, and the acoustic model is not in a language listing at all.
        let w = woken(
            &mut l,
            &[("a", "ready"), ("b", "training"), ("x", "available")],
        );
        assert_eq!(
            w,
            vec![(ModelKind::Language, "ns".into(), "lm-gone".into())]
        );
        // a is seen training (work in progress: no wake, remembered), b ends.
        let w = woken(&mut l, &[("a", "training"), ("b", "available")]);
        assert_eq!(w, vec![(ModelKind::Language, "ns".into(), "lm-b".into())]);
        assert_eq!(l["a"].last.as_deref(), Some("training"));
        // a LIST made for a's own look does not wake a (its reconcile sees the LIST itself).
        assert!(woken_about(&mut l, &[("a", "failed")], Some("a")).is_empty());
        assert_eq!(l["a"].last.as_deref(), Some("training"));
        // a fails: woken once, then no longer waiting; the acoustic model still waits.
        let w = woken(&mut l, &[("a", "failed")]);
        assert_eq!(w, vec![(ModelKind::Language, "ns".into(), "lm-a".into())]);
        assert!(woken(&mut l, &[("a", "available")]).is_empty());
        assert_eq!(l.len(), 1);
        assert!(l.contains_key("c"));
    }
}

#[cfg(test)]
mod await_tests {
    use super::*;

    fn handle(listed: &[(&str, &str)]) -> (ServiceHandle, tokio::sync::broadcast::Receiver<Woken>) {
        let (tx, rx) = tokio::sync::broadcast::channel(16);
        let models = super::wake_tests::listed(listed);
        let mut listings = Listings::empty();
        listings.language = Some(Listing::new(models, LANGUAGE.0));
        let h = ServiceHandle {
            key: "k".into(),
            kind: ServiceKind::SpeechToText,
            stt: None,
            tts: None,
            listings: tokio::sync::Mutex::new(listings),
            woken: tx,
            waiting: parking_lot::Mutex::new(HashMap::new()),
            create_lock: tokio::sync::Mutex::new(()),
            identity: tokio::sync::Mutex::new(None),
            url: "http://sim".into(),
        };
        (h, rx)
    }

    /// A LIST made for another model between a model's look and its recording of the wait
    /// already shows the end: the model is woken at once, not at its own next look (review of
    /// issue 11's wake-ups).
    #[test]
    fn a_wait_the_current_listing_shows_ended_wakes_at_once() {
        let (h, mut rx) = handle(&[("a", "available"), ("b", "training")]);
        h.await_listing(
            ModelKind::Language,
            "a",
            ("ns", "lm-a"),
            Some("training"),
            true,
        );
        assert_eq!(
            rx.try_recv().expect("woken"),
            (ModelKind::Language, "ns".to_string(), "lm-a".to_string())
        );
        assert!(h.waiting.lock().is_empty());
        // Still running as the listing shows it: recorded, no wake.
        h.await_listing(
            ModelKind::Language,
            "b",
            ("ns", "lm-b"),
            Some("training"),
            true,
        );
        assert!(rx.try_recv().is_err());
        assert!(h.waiting.lock().contains_key("b"));
        // The wait ends with the reconcile: the entry goes.
        h.await_listing(
            ModelKind::Language,
            "b",
            ("ns", "lm-b"),
            Some("available"),
            false,
        );
        assert!(h.waiting.lock().is_empty());
    }
}
