//! The reconcilers. The decision of the next action is pure and lives in [`decide`]; the
//! reconcilers gather facts, call it, perform one action and write status.
//!
//! - [`models`]: the shell shared by the three model kinds.
//! - [`service`]: SpeechService readiness and quota.
//! - [`context`]: shared state (IBM clients per service, listings, backoff).
//! - [`inputs`]: ConfigMap/Secret/URL inputs and digests.
//! - [`status`]: conditions, phases, reasons.
//! - [`run`]: the controllers and their watches.
pub mod budget;
pub mod context;
pub mod decide;
pub mod error;
pub mod inputs;
pub mod models;
pub mod run;
pub mod service;
pub mod status;
