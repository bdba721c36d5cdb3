//! watson-speech-operator: a Kubernetes operator for IBM Watson Speech to Text custom language
//! and acoustic models and Text to Speech custom voice models.
//!
//! Module map (find a behaviour by its name):
//! - [`crd`]: the Kubernetes API types (one file per kind) and their shared parts.
//! - [`watson`]: the typed IBM client (auth, STT, TTS, errors, retries).
//! - [`decision`]: the pure heart: the next action and the status to write, table-tested.
//! - [`model`]: one trait over the three model kinds (typed spec access, typed status).
//! - [`reconcile`]: the thin shell around the decision, one module per step of a model's
//!   reconcile: `gather` (facts) → `decide` (calls [`decision`]) → `perform` (one action) →
//!   `write` (status, Event, next look), run in order by `models`; what differs per kind is one
//!   trait (`kind::KindOps`: `language`, `acoustic`, `voice`); `context` is what reconciles share
//!   (service handles and listings, wake-ups, per-object memory, settings); `service` checks
//!   SpeechServices; `run` wires the controllers.
//! - [`simulator`]: the faithful fake of the IBM customization APIs used by every test and the demo.
//! - [`errors`]: the error vocabulary shared by every module (category + retry class).
//! - [`metrics`], [`telemetry`], [`leader`]: Prometheus metrics, logs and the health/metrics
//!   endpoints, leader election on a Lease.
//! - [`import`]: `watson-speech-operator import`, manifests that adopt an instance's models.
//! - [`kube_client`]: the Kubernetes client built at start-up; a kubeconfig rustls refuses is
//!   explained in one line.
#![forbid(unsafe_code)]

pub mod evaluate;
pub mod failpoint;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod kube_client;
pub mod leader;
pub mod metrics;
pub mod model;
pub mod reconcile;
pub mod telemetry;

/// The Kubernetes API types (crate `speech-crd`).
pub use speech_crd as crd;
/// The pure decision (crate `speech-decision`): the next action and the status to write.
pub use speech_decision as decision;
/// The IBM client and its wire types (crate `watson-client`; no Kubernetes in it).
pub use watson_client as watson;
/// The error vocabulary shared by every layer (category + retry class).
pub use watson_client::errors;
/// Process-wide TLS set-up.
pub use watson_client::tls;
/// The fake IBM service (crate `watson-simulator`), behind the default feature `simulator`.
#[cfg(feature = "simulator")]
pub use watson_simulator as simulator;
