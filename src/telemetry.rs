//! Logs and the operator's HTTP endpoints.
//!
//! - [`init_logging`]: tracing in text or JSON, level from the flag or `RUST_LOG` (which wins).
//! - [`Health`]: what `/readyz` answers, set by the controllers (caches synced) and the leader
//!   election (leading, or a healthy standby).
//! - [`serve`]: `/healthz` (the process and its runtime answer), `/readyz` and `/metrics`
//!   (OpenMetrics text). The HTTP side only reads [`Health`] and [`Metrics`]; it never touches
//!   the Kubernetes client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Installs the global tracing subscriber (a second call is a no-op). `RUST_LOG`, when set,
/// overrides `level`.
pub fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The readiness state of this instance.
#[derive(Debug)]
pub struct Health {
    leader_election: bool,
    synced: AtomicBool,
    leader: AtomicBool,
    lease_healthy: AtomicBool,
    shutting_down: AtomicBool,
    /// A served CRD carries another schema than this operator's (issue 25): that kind is not
    /// reconciled, and `/readyz` says so.
    schema_stale: AtomicBool,
}

impl Health {
    /// A new state; `leader_election` says whether a standby may be ready.
    pub fn new(leader_election: bool) -> Arc<Self> {
        Arc::new(Health {
            leader_election,
            synced: AtomicBool::new(false),
            leader: AtomicBool::new(false),
            lease_healthy: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            schema_stale: AtomicBool::new(false),
        })
    }

    /// The controllers' caches finished their initial listing (or were torn down: `false`).
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }

    /// This instance holds (or lost) the leader lease.
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::SeqCst);
    }

    /// The lease loop's last contact with the API server succeeded (or failed).
    pub fn set_lease_healthy(&self, healthy: bool) {
        self.lease_healthy.store(healthy, Ordering::SeqCst);
    }

    /// A served CRD carries another schema than this operator's: not ready, with the reason.
    pub fn set_schema_stale(&self, stale: bool) {
        self.schema_stale.store(stale, Ordering::SeqCst);
    }

    /// The process is stopping: no longer ready.
    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether `/readyz` answers 200, and why not.
    pub fn readiness(&self) -> Result<&'static str, &'static str> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err("shutting down");
        }
        if self.schema_stale.load(Ordering::SeqCst) {
            return Err(
                "a served CRD does not carry the schema this operator was built for (annotation speech.watson.dev/schema-version): its kind is not reconciled; apply this release's CRDs (see wso_crd_schema_current and the log)",
            );
        }
        let synced = self.synced.load(Ordering::SeqCst);
        if !self.leader_election {
            return if synced {
                Ok("ready")
            } else {
                Err("caches not synced")
            };
        }
        if !self.lease_healthy.load(Ordering::SeqCst) {
            return Err("leader election cannot reach the API server");
        }
        if self.leader.load(Ordering::SeqCst) {
            if synced {
                Ok("ready: leader")
            } else {
                Err("leader: caches not synced")
            }
        } else {
            Ok("ready: standby")
        }
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// The router of the operator's endpoints.
pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(AppState { health, metrics })
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    match s.health.readiness() {
        Ok(msg) => (StatusCode::OK, msg),
        Err(msg) => (StatusCode::SERVICE_UNAVAILABLE, msg),
    }
}

async fn metrics_handler(State(s): State<AppState>) -> impl IntoResponse {
    match s.metrics.encode() {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Binds `addr` and serves the endpoints until `shutdown` resolves. Returns the bound address
/// (useful with port 0) and the server task.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(health, metrics);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "health and metrics server failed");
        }
    });
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_without_election_follows_the_caches() {
        let h = Health::new(false);
        assert!(h.readiness().is_err());
        h.set_synced(true);
        assert_eq!(h.readiness(), Ok("ready"));
        h.set_shutting_down();
        assert!(h.readiness().is_err());
    }

    #[test]
    fn readiness_with_election_leader_or_healthy_standby() {
        let h = Health::new(true);
        assert!(h.readiness().is_err(), "lease loop not started");
        h.set_lease_healthy(true);
        assert_eq!(h.readiness(), Ok("ready: standby"));
        h.set_leader(true);
        assert!(
            h.readiness().is_err(),
            "leader before its caches are synced"
        );
        h.set_synced(true);
        assert_eq!(h.readiness(), Ok("ready: leader"));
        h.set_lease_healthy(false);
        assert!(h.readiness().is_err());
    }
}
