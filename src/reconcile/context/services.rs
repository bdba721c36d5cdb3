//! The registry of service handles, one per SpeechService (`namespace/name`): built on first
//! use, rebuilt when the SpeechService's spec, its credentials Secret or its CA bundle changes,
//! forgotten when the SpeechService is deleted. Each service's request budget outlives the
//! rebuilds of its client.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use kube::{Api, Client, ResourceExt};
use parking_lot::Mutex;

use super::clients::Clients;
use super::credentials;
use super::handles::ServiceHandle;
use super::wakeups::{Waiters, Woken};
use crate::crd::SpeechService;
use crate::crd::speech_service::ServiceKind;
use crate::metrics::Metrics;
use crate::reconcile::budget::ServiceBudget;
use crate::reconcile::error::Error;
use crate::reconcile::inputs::Resolver;
use crate::watson::{ClientConfig, RequestBudget, SttClient, TtsClient};

/// A service's request budget with the `spec.requestBudget` it was built for.
type Budget = (Option<(u32, u32)>, Arc<ServiceBudget>);

/// The service handles and request budgets, by `namespace/name`.
pub struct Services {
    client: Client,
    http: reqwest::Client,
    /// The timeouts of IBM calls.
    timeouts: super::IbmTimeouts,
    /// Observes every IBM call, when metrics are served.
    metrics: Option<Arc<Metrics>>,
    /// Where the handles send the models a LIST shows done waiting.
    woken: tokio::sync::broadcast::Sender<Woken>,
    handles: Mutex<HashMap<String, Arc<ServiceHandle>>>,
    budgets: Mutex<HashMap<String, Budget>>,
    /// Where trusted-profile tokens come from (operator-level).
    trusted_profile: super::TrustedProfileSettings,
    /// Whether each SpeechService carried the in-use finalizer at its last read by
    /// [`Services::handle`].
    protected: Mutex<HashMap<String, bool>>,
    /// The client and policy of `url` sources, given to each handle so uploads can stream from
    /// them ([`Services::with_sources`]).
    sources: Option<(reqwest::Client, crate::reconcile::sources::SourcePolicy)>,
    /// When re-creation halts because models vanished in bulk (`--max-vanished-fraction`).
    vanish_rule: crate::decision::vanished::Rule,
    /// How long service-level conclusions stand (the drift interval).
    recheck: std::time::Duration,
}

impl Services {
    /// An empty registry whose clients use `client` and `http` (CA bundles, Secrets), time out
    /// as `timeouts` say and report to `metrics`.
    pub fn new(
        client: Client,
        http: reqwest::Client,
        timeouts: super::IbmTimeouts,
        metrics: Option<Arc<Metrics>>,
        woken: tokio::sync::broadcast::Sender<Woken>,
        trusted_profile: super::TrustedProfileSettings,
    ) -> Self {
        Services {
            client,
            http,
            timeouts,
            metrics,
            woken,
            handles: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
            trusted_profile,
            protected: Mutex::new(HashMap::new()),
            sources: None,
            vanish_rule: crate::decision::vanished::DEFAULT_RULE,
            recheck: std::time::Duration::from_secs(600),
        }
    }

    /// Gives every handle built from now on this rule of models vanishing in bulk, and this
    /// time (the drift interval) after which service-level conclusions are asked again.
    pub fn with_rules(
        mut self,
        rule: crate::decision::vanished::Rule,
        recheck: std::time::Duration,
    ) -> Self {
        self.vanish_rule = rule;
        self.recheck = recheck;
        self
    }

    /// Gives every handle built from now on a [`Resolver`] of its namespace with this client
    /// and policy of `url` sources (`http` built by [`SourcePolicy::http_client`]), so a model's
    /// upload can stream its source ([`ServiceHandle::sources`]).
    ///
    /// [`SourcePolicy::http_client`]: crate::reconcile::sources::SourcePolicy::http_client
    pub fn with_sources(
        mut self,
        http: reqwest::Client,
        policy: crate::reconcile::sources::SourcePolicy,
    ) -> Self {
        self.sources = Some((http, policy));
        self
    }

    /// The handle for `namespace/name`, building (or rebuilding after a spec, Secret or CA
    /// change) its IBM client. Credentials are read on every call, so a rotated Secret is used
    /// without a restart.
    pub async fn handle(&self, namespace: &str, name: &str) -> Result<Arc<ServiceHandle>, Error> {
        let api: Api<SpeechService> = Api::namespaced(self.client.clone(), namespace);
        let svc = api.get_opt(name).await?.ok_or_else(|| {
            Error::ServiceMissing(format!(
                "SpeechService {name} does not exist in namespace {namespace}: create it or fix spec.serviceRef"
            ))
        })?;
        let in_use = crate::reconcile::protection::carries_finalizer(&svc);
        self.protected
            .lock()
            .insert(format!("{namespace}/{name}"), in_use);
        let (auth, secret_version) =
            credentials::auth(&self.client, &svc, namespace, &self.trusted_profile).await?;
        let (ca, ca_digest) = match &svc.spec.ca_bundle {
            Some(r) => {
                // A ConfigMap key only: no URL, so the strictest source policy.
                let resolver = Resolver::new(
                    self.client.clone(),
                    namespace,
                    self.http.clone(),
                    Default::default(),
                );
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
        if let Some(h) = self.handles.lock().get(&id)
            && h.key == key
        {
            return Ok(h.clone());
        }
        let url = url::Url::parse(&svc.spec.url)
            .map_err(|e| Error::InvalidSpec(format!("spec.url {:?}: {e}", svc.spec.url)))?;
        let mut config = ClientConfig::new(url, auth);
        config.ca_bundle_pem = ca;
        self.timeouts.apply(&mut config);
        config.customer_id = svc.spec.customer_id.clone();
        config.learning_opt_out = svc.spec.learning_opt_out;
        config.budget = self.budget(&id, &svc);
        config.patience = Some(crate::reconcile::budget::PATIENCE);
        config.observer = self
            .metrics
            .clone()
            .map(|m| m as Arc<dyn crate::watson::CallObserver>);
        let clients = match svc.spec.service {
            ServiceKind::SpeechToText => Clients {
                kind: svc.spec.service,
                stt: Some(SttClient::new(config)?),
                tts: None,
            },
            ServiceKind::TextToSpeech => Clients {
                kind: svc.spec.service,
                stt: None,
                tts: Some(TtsClient::new(config)?),
            },
        };
        let waiters = Waiters::new(self.woken.clone());
        let mut handle = ServiceHandle::new(key, clients, waiters, svc.spec.url.clone())
            .with_vanish_rule(self.vanish_rule)
            .with_recheck(self.recheck);
        if let Some((http, policy)) = &self.sources {
            handle = handle.with_sources(Resolver::new(
                self.client.clone(),
                namespace,
                http.clone(),
                policy.clone(),
            ));
        }
        let handle = Arc::new(handle);
        // Two reconciles may build the handle at once: the first one stored wins, so every
        // model of the service shares one listing and one record of the operator's changes.
        let mut handles = self.handles.lock();
        if let Some(h) = handles.get(&id)
            && h.key == handle.key
        {
            return Ok(h.clone());
        }
        handles.insert(id, handle.clone());
        Ok(handle)
    }

    /// Whether the SpeechService `namespace/name` carried the in-use finalizer when
    /// [`Services::handle`] last read it: a model creates nothing on the service before it does
    /// (the deletion of that model will need the service and its credentials).
    pub fn protected(&self, namespace: &str, name: &str) -> bool {
        self.protected
            .lock()
            .get(&format!("{namespace}/{name}"))
            .copied()
            .unwrap_or(false)
    }

    /// The handle of `namespace/name` if one was built, without building one.
    pub fn built(&self, namespace: &str, name: &str) -> Option<Arc<ServiceHandle>> {
        self.handles
            .lock()
            .get(&format!("{namespace}/{name}"))
            .cloned()
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

    /// Forgets a deleted SpeechService's handle (with the shared listings of its instance's
    /// models) and its request budget.
    pub fn forget(&self, namespace: &str, name: &str) {
        let id = format!("{namespace}/{name}");
        self.handles.lock().remove(&id);
        self.budgets.lock().remove(&id);
        self.protected.lock().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deleted SpeechService's budget goes with it (issue 11).
    #[tokio::test]
    async fn a_forgotten_service_loses_its_budget() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        let services = Services::new(
            client,
            reqwest::Client::new(),
            Default::default(),
            None,
            tokio::sync::broadcast::channel(1).0,
            Default::default(),
        );
        let svc: SpeechService = serde_json::from_value(serde_json::json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "SpeechService",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"service": "SpeechToText", "url": "https://example.test",
                     "auth": {"type": "None"}, "requestBudget": {"requestsPerSecond": 5}},
        }))
        .expect("service");
        assert!(services.budget("ns/s", &svc).is_some());
        assert_eq!(services.budgets.lock().len(), 1);
        services.forget("ns", "s");
        assert_eq!(services.budgets.lock().len(), 0);
    }
}
