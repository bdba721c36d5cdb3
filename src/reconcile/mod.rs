//! The reconcile shell: gathers facts, calls the pure decision ([`crate::decision`]), performs one
//! action and writes the status the decision computed.
//!
//! - [`models`]: the shell shared by the three model kinds; [`language`], [`acoustic`], [`voice`]:
//!   what differs per kind (IBM calls, resources).
//! - [`service`]: SpeechService readiness and quota.
//! - [`context`]: shared state (IBM clients per service, listings, backoff).
//! - [`inputs`]: ConfigMap/Secret/URL inputs.
//! - [`export`]: the ConfigMap that hands a model to applications (`spec.export`).
//! - [`run`]: the controllers; [`watches`]: the shared dependency watches and their index.
pub mod acoustic;
pub mod budget;
pub mod context;
pub mod error;
pub mod export;
pub mod inputs;
pub mod language;
pub mod models;
pub mod run;
pub mod service;
pub mod voice;
pub mod watches;
