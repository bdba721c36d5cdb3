//! What every reconcile shares, in parts with one job each:
//!
//! - [`settings`]: the reconcilers' settings (command-line flags);
//! - [`services`]: one [`ServiceHandle`] per SpeechService (the type in [`handles`], built by
//!   `Services::handle` from
//!   [`clients`] and [`credentials`]), with the shared model [`listings`] of its instance and
//!   its request budget;
//! - [`wakeups`]: the channels that wake a SpeechService or a model before its next look;
//! - [`memory`]: what this process remembers of each object between its reconciles (inputs
//!   digest, failures for backoff) and the status metrics it feeds;
//! - [`users`]: which model resources use which SpeechService (the in-use finalizer's hint).
//!
//! [`Context`] holds one of each, plus the Kubernetes client and the Event recorder.

pub mod clients;
pub mod credentials;
pub mod handles;
pub mod listings;
pub mod memory;
pub mod services;
pub mod settings;
pub mod slots;
pub mod users;
pub mod wakeups;

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

pub use handles::ServiceHandle;
pub use memory::Memory;
pub use services::Services;
pub use settings::{IbmTimeouts, MIN_DRIFT_INTERVAL_SECONDS, Settings, TrustedProfileSettings};
pub use slots::Slots;
pub use users::Users;
pub use wakeups::{Notices, Woken};

use super::error::Error;
use super::evaluate::Measurements;
use super::inputs::{Resolver, UrlDigests};
use crate::metrics::Metrics;

/// Everything a reconcile needs.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// The reconcilers' settings.
    pub settings: Settings,
    /// Publishes the Events of every kind.
    pub recorder: Recorder,
    /// The HTTP client the services' IBM clients are built from.
    pub http: reqwest::Client,
    /// The HTTP client of `url` sources, under [`Settings::sources`] (redirects to the same host
    /// only, refused addresses left out by its resolver).
    pub sources_http: reqwest::Client,
    /// Prometheus metrics (reconciles, IBM calls), when served.
    pub metrics: Option<Arc<Metrics>>,
    /// The service handles, by SpeechService.
    pub services: Services,
    /// What this process remembers of each object, by object key.
    pub memory: Memory,
    /// The wake-up channels.
    pub notices: Notices,
    /// In-flight reconciles per SpeechService ([`Slots`]).
    pub slots: Slots,
    /// Which model resources use which SpeechService.
    pub users: Users,
    /// What `url` sources were at their last read, for conditional GETs ([`UrlDigests`]).
    pub url_digests: Arc<UrlDigests>,
    /// The measurements of models on their test sets in flight ([`Measurements`]).
    pub measurements: Measurements,
    /// The kinds whose served CRD does not carry this operator's schema, set once at start-up
    /// (`run::stale_schemas`): none of them is reconciled (issue 25).
    pub stale_kinds: std::sync::OnceLock<std::collections::BTreeSet<String>>,
}

impl Context {
    /// Whether `kind`'s served CRD carries another schema than this operator's: its objects
    /// are left as they are (no read, write or call).
    pub fn schema_stale(&self, kind: &str) -> bool {
        self.stale_kinds.get().is_some_and(|s| s.contains(kind))
    }
}

impl Context {
    /// Builds the context without metrics.
    pub fn new(client: Client, settings: Settings) -> Result<Arc<Self>, Error> {
        Self::new_with_metrics(client, settings, None)
    }

    /// Builds the context; `metrics` observes reconciles and every IBM call.
    pub fn new_with_metrics(
        client: Client,
        settings: Settings,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Arc<Self>, Error> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Error::InvalidSpec(format!("HTTP client: {e}")))?;
        let reporter = Reporter {
            controller: "watson-speech-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let sources_http = settings
            .sources
            .http_client()
            .map_err(|e| Error::InvalidSpec(format!("HTTP client for url sources: {e}")))?;
        let notices = Notices::new();
        let settings_cap = settings.max_reconciles_per_service;
        let services = Services::new(
            client.clone(),
            http.clone(),
            settings.ibm_timeouts,
            metrics.clone(),
            notices.model_woken.clone(),
            settings.trusted_profile.clone(),
        )
        .with_sources(sources_http.clone(), settings.sources.clone())
        .with_rules(settings.vanish_rule, settings.drift_interval);
        Ok(Arc::new(Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            settings,
            http,
            sources_http,
            memory: Memory::new(metrics.clone()),
            metrics,
            services,
            notices,
            slots: Slots::new(settings_cap),
            users: Users::default(),
            url_digests: Default::default(),
            measurements: Measurements::default(),
            stale_kinds: std::sync::OnceLock::new(),
        }))
    }

    /// An input resolver for a namespace.
    pub fn resolver(&self, namespace: &str) -> Resolver {
        Resolver::new(
            self.client.clone(),
            namespace,
            self.sources_http.clone(),
            self.settings.sources.clone(),
        )
        .with_digests(self.url_digests.clone())
    }

    /// Forgets a deleted SpeechService: its handle (with the shared listings of its instance's
    /// models), its request budget and its failures. The same leak as [`Memory::forget`] for
    /// models: a SpeechService has no finalizer, so its watch (a Delete, or a re-listing that
    /// no longer lists it) is the only signal.
    pub fn forget_service(&self, namespace: &str, name: &str) {
        self.services.forget(namespace, name);
        self.slots.forget(namespace, name);
        self.memory.forget(&memory::service_key(namespace, name));
    }

    /// Wakes the SpeechService `namespace/name` (as [`Users::gone`] returns it): its models
    /// changed (one was created, deleted or released). Nobody listening (no controller running)
    /// is fine.
    pub fn notify_service_of(&self, service: &str) {
        if let Some((ns, name)) = service.split_once('/') {
            let _ = self
                .notices
                .service_changed
                .send((ns.to_string(), name.to_string()));
        }
    }

    /// The model `id` of the SpeechService `namespace/service` waits no more (its finalizer was
    /// released): its entry goes, without building the service's handle.
    pub fn stop_awaiting(&self, namespace: &str, service: &str, id: &str) {
        if let Some(h) = self.services.built(namespace, service) {
            h.waiters.stop(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deleted SpeechService is forgotten: its failures go (its budget: `services`' test).
    #[tokio::test]
    async fn a_deleted_service_is_forgotten() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        let ctx = Context::new(client, Settings::default()).expect("context");
        let key = memory::service_key("ns", "s");
        ctx.memory.backoff(&key, std::time::Duration::from_secs(10));
        assert_eq!(ctx.memory.remembered(), 1);
        ctx.forget_service("ns", "s");
        assert_eq!(ctx.memory.remembered(), 0);
    }
}
