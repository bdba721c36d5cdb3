//! watson-speech-operator: a Kubernetes operator for IBM Watson Speech to Text custom language
//! and acoustic models and Text to Speech custom voice models.
//!
//! Module map (find a behaviour by its name):
//! - [`crd`]: the Kubernetes API types (one file per kind) and their shared parts.
//! - [`watson`]: the typed IBM client (auth, STT, TTS, errors, retries).
//! - [`reconcile`]: the reconcilers; the decision of the next action is pure and lives in
//!   `reconcile::decide`.
//! - [`simulator`]: the faithful fake of the IBM customization APIs used by every test and the demo.
//! - [`errors`]: the error vocabulary shared by every module (category + retry class).
//! - [`metrics`], [`telemetry`], [`leader`]: Prometheus metrics, logs and the health/metrics
//!   endpoints, leader election on a Lease.

pub mod crd;
pub mod errors;
pub mod failpoint;
#[doc(hidden)]
pub mod fuzzing;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod simulator;
pub mod telemetry;
pub mod tls;
pub mod watson;
