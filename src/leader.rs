//! Leader election on a `coordination.k8s.io/v1` Lease, so that with several replicas only one
//! reconciles.
//!
//! The lease protocol (acquire, renew before expiry, take over an expired lease, release) is
//! kube-lease-manager's (0.13: kube 5, k8s-openapi 0.29; server-side apply makes two concurrent
//! acquisitions conflict instead of both succeeding). This module adds what an operator needs
//! around it:
//!
//! - a **fence**: while leading, the Lease is read every [`LeaseConfig::check_every`]; when it
//!   names another holder, or our last renewal is about to expire (the API server unreachable,
//!   say), leadership is declared lost *before* another replica may take over. The caller must
//!   then stop reconciling at once; the election goes on with a fresh lease manager (a standby),
//!   so after an API-server outage the process campaigns again instead of exiting (issue 26).
//!   kube-lease-manager only reports changes it sees, so without the fence a leader cut off from
//!   the API server would keep calling IBM after its lease expired.
//! - health for `/readyz`: the last contact with the API server succeeded (see
//!   [`crate::telemetry::Health`]);
//! - the `wso_leader` metric;
//! - release on shutdown, so a rolling update hands over within a fence period instead of a
//!   lease duration: kube-lease-manager 0.13's standby only re-reads the Lease when the lease it
//!   last saw would expire, so the standby's fence, on seeing the lease released (no holder),
//!   starts a fresh manager that takes it at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::telemetry::Health;

/// Where the lease is and how long it lasts.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This instance's identity (unique per process: pod name plus a random suffix).
    pub identity: String,
    /// How long a lease is valid after its last renewal; a standby takes over this long after
    /// the leader stopped renewing.
    pub duration: Duration,
    /// The leader renews this long before expiry.
    pub grace: Duration,
    /// How often the fence reads the Lease.
    pub check_every: Duration,
}

impl LeaseConfig {
    /// Defaults: 15 s lease, renewed 5 s before expiry, fenced every 2 s.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: default_identity(),
            duration: Duration::from_secs(15),
            grace: Duration::from_secs(5),
            check_every: Duration::from_secs(2),
        }
    }
}

/// `POD_NAME` (or the host name) plus a random suffix: a restarted process never mistakes the
/// previous one's lease for its own.
pub fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "watson-speech-operator".to_string());
    format!("{base}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Errors of the election.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lease could not be set up (RBAC, namespace, API server).
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    /// Invalid durations.
    #[error("leader election: {0}")]
    Config(String),
}

/// A running election. Drop-safe: dropping it stops the loop without releasing (use
/// [`Elector::release`] for a clean hand-over).
pub struct Elector {
    leading: watch::Receiver<bool>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    identity: String,
}

impl Elector {
    /// Creates the Lease if needed and starts campaigning.
    pub async fn start(
        client: Client,
        config: LeaseConfig,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, Error> {
        let duration = config.duration.as_secs();
        let grace = config.grace.as_secs();
        if duration == 0 || grace == 0 || grace >= duration {
            return Err(Error::Config(format!(
                "need 0 < renew grace ({grace} s) < lease duration ({duration} s)"
            )));
        }
        // The fence steps down when less than `check_every` + 1 s of the lease is left; a renewal
        // scheduled later than that would make the leader resign every lease period.
        let fence = config.check_every + Duration::from_secs(1);
        if config.grace <= fence {
            return Err(Error::Config(format!(
                "the renew grace ({grace} s) must be longer than {} s (the fence's check period plus a second)",
                fence.as_secs()
            )));
        }
        let manager = build_manager(&client, &config).await?;
        health.set_lease_healthy(true);
        info!(lease = %config.name, namespace = %config.namespace, identity = %config.identity, "campaigning for leadership");
        let (tx, leading) = watch::channel(false);
        let stop = CancellationToken::new();
        let identity = config.identity.clone();
        let task = tokio::spawn(campaign(
            manager,
            client.clone(),
            Api::namespaced(client, &config.namespace),
            config,
            tx,
            stop.clone(),
            health,
            metrics,
        ));
        Ok(Elector {
            leading,
            stop,
            task,
            identity,
        })
    }

    /// This instance's identity in the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Resolves once this instance leads (`true`), or `false` when the election stopped.
    pub async fn acquired(&mut self) -> bool {
        self.leading.wait_for(|l| *l).await.is_ok()
    }

    /// Resolves when leadership is lost (or the election stopped).
    pub async fn lost(&mut self) {
        let _ = self.leading.wait_for(|l| !*l).await;
    }

    /// Whether this instance leads now.
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Stops campaigning and releases the lease if held, so a standby takes over at once.
    pub async fn release(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// A lease manager for `config` (durations in whole seconds, as the Lease stores them).
async fn build_manager(client: &Client, config: &LeaseConfig) -> Result<LeaseManager, Error> {
    Ok(
        LeaseManagerBuilder::new(client.clone(), config.name.clone())
            .with_namespace(config.namespace.clone())
            .with_identity(config.identity.clone())
            .with_duration(config.duration.as_secs())
            .with_grace(config.grace.as_secs())
            .build()
            .await?,
    )
}

#[allow(clippy::too_many_arguments)]
async fn campaign(
    mut manager: LeaseManager,
    client: Client,
    leases: Api<Lease>,
    config: LeaseConfig,
    tx: watch::Sender<bool>,
    stop: CancellationToken,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) {
    let set = |leading: bool| {
        health.set_leader(leading);
        metrics.set_leader(leading);
        tx.send_replace(leading);
    };
    let mut failures: u32 = 0;
    let mut fence = tokio::time::interval(config.check_every);
    fence.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading = false;
    // Until when the lease was last seen ours (for when the Lease cannot be read).
    let mut last_until: Option<SystemTime> = None;
    // kube-lease-manager's standby sleeps until the lease it last saw would expire; when the
    // fence sees the lease released (no holder), a fresh manager re-reads it and takes it now.
    let mut released_seen = false;
    // After stepping down, the old manager may still believe it leads: campaign again only with
    // a fresh one (built once the API server answers).
    let mut rebuild = false;
    loop {
        if (std::mem::take(&mut released_seen) && !leading) || rebuild {
            match build_manager(&client, &config).await {
                Ok(m) => {
                    info!(identity = %config.identity, "campaigning for the lease (again)");
                    manager = m;
                    rebuild = false;
                }
                Err(e) => warn!(error = %e, "leader election: cannot rebuild the lease manager"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            changed = manager.changed(), if !rebuild => match changed {
                Ok(now_leading) => {
                    failures = 0;
                    health.set_lease_healthy(true);
                    if now_leading != leading {
                        leading = now_leading;
                        if leading {
                            info!(identity = %config.identity, "became the leader");
                        } else {
                            warn!(identity = %config.identity, "lost the leadership");
                        }
                        set(leading);
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    warn!(error = %e, "leader election: lease update failed");
                    let wait = Duration::from_millis(250u64 << failures.min(5));
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            },
            _ = fence.tick() => {
                // Bounded by the fence period: a hung read must not keep a leader past its lease.
                let read = tokio::time::timeout(config.check_every, leases.get_opt(&config.name))
                    .await
                    .map_err(|_| format!("no answer within {:?}", config.check_every))
                    .and_then(|r| r.map_err(|e| e.to_string()));
                match read {
                    Ok(lease) => {
                        health.set_lease_healthy(true);
                        released_seen = !leading
                            && lease
                                .as_ref()
                                .and_then(|l| l.spec.as_ref())
                                .is_some_and(|spec| spec.holder_identity.is_none());
                        last_until = valid_until(lease.as_ref(), &config);
                        if leading && !safe_until(last_until, &config, SystemTime::now()) {
                            warn!(identity = %config.identity, "lease no longer ours or about to expire: stepping down");
                            leading = false;
                            set(false);
                            rebuild = true;
                        }
                    }
                    Err(e) => {
                        health.set_lease_healthy(false);
                        warn!(error = %e, "leader election: cannot read the lease");
                        if leading && !safe_until(last_until, &config, SystemTime::now()) {
                            warn!(identity = %config.identity, "lease about to expire unrenewed: stepping down; campaigning again once the API server answers");
                            leading = false;
                            set(false);
                            rebuild = true;
                        }
                    }
                }
            }
        }
    }
    if leading {
        match manager.release().await {
            Ok(()) => info!(identity = %config.identity, "released the lease"),
            Err(e) => warn!(error = %e, "could not release the lease; it expires by itself"),
        }
    }
    set(false);
}

/// Until when `lease` is ours: `None` when it names another holder (or nobody).
pub fn valid_until(lease: Option<&Lease>, config: &LeaseConfig) -> Option<SystemTime> {
    let spec = lease.and_then(|l| l.spec.as_ref())?;
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return None;
    }
    let renewed: SystemTime = spec.renew_time.as_ref()?.0.into();
    let secs = spec
        .lease_duration_seconds
        .map_or(config.duration, |d| Duration::from_secs(d.max(0) as u64));
    Some(renewed + secs)
}

/// Whether a lease valid until `until` leaves enough time to be renewed before another
/// instance may take it: at least one fence period plus a second.
pub fn safe_until(until: Option<SystemTime>, config: &LeaseConfig, now: SystemTime) -> bool {
    until.is_some_and(|u| now + config.check_every + Duration::from_secs(1) < u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn lease(holder: &str, renewed: SystemTime, secs: i32) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                renew_time: Some(MicroTime(
                    k8s_openapi::jiff::Timestamp::try_from(renewed).expect("time"),
                )),
                lease_duration_seconds: Some(secs),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn fence_steps_down_before_expiry_or_on_another_holder() {
        let mut c = LeaseConfig::new("ns", "l");
        c.identity = "me".into();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ok = |l: Option<&Lease>, at: u64| {
            safe_until(valid_until(l, &c), &c, t0 + Duration::from_secs(at))
        };
        assert!(ok(Some(&lease("me", t0, 15)), 0));
        assert!(ok(Some(&lease("me", t0, 15)), 11));
        // 15 s lease, fence every 2 s + 1 s margin: step down 3 s before expiry.
        assert!(!ok(Some(&lease("me", t0, 15)), 12));
        assert!(!ok(Some(&lease("other", t0, 15)), 0));
        assert!(!ok(None, 0));
        assert!(!ok(Some(&Lease::default()), 0));
    }

    #[test]
    fn identities_are_unique_per_process() {
        assert_ne!(default_identity(), default_identity());
    }
}
