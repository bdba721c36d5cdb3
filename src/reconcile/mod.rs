//! The reconcile shell: gathers facts, calls the pure decision ([`crate::decision`]), performs one
//! action and writes the status the decision computed. A model's reconcile, step by step:
//!
//! - [`models`]: the steps in order (and the failure tail: backoff, condition, Event, metric);
//! - [`gather`]: step 1, the facts (the model, its inputs, what the service holds);
//! - [`decide`]: step 2, thin: the pure decision;
//! - [`perform`]: step 3, the one action (create, delete, adopt, the finalizer; the rest per
//!   kind);
//! - [`write`]: step 4, the status the decision computed, the export, the Event, the next look.
//!
//! What differs per kind is one trait, [`kind::KindOps`], implemented in [`language`],
//! [`acoustic`] and [`voice`] (inputs, observation, IBM calls).
//!
//! Around them:
//! - [`service`]: the SpeechService reconcile (credentials check, models in use, erasure).
//! - [`context`]: what reconciles share (service handles and listings, wake-ups, per-object
//!   memory, settings).
//! - [`inputs`]: ConfigMap/Secret/URL inputs; [`export`]: the ConfigMap that hands a model to
//!   applications (`spec.export`); [`budget`]: a service's request budget; [`error`]: the
//!   shell's errors with their category (condition reason, Event reason, metric label) and retry
//!   class.
//! - [`evaluate`]: measuring a language model on its test set (`spec.evaluation`), beside the
//!   reconcile.
//! - [`recreate`]: the new model a re-create builds beside the current one (observed and
//!   changed like any model; the decision is `decision::successor`).
//! - [`run`]: the controllers; [`watches`]: the shared dependency watches and their index.
pub mod acoustic;
pub mod budget;
pub mod context;
pub mod decide;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod gather;
pub mod inputs;
pub mod kind;
pub mod language;
pub mod models;
pub mod perform;
pub mod protection;
pub mod recreate;
pub mod run;
pub mod service;
pub mod sources;
pub mod voice;
pub mod watches;
pub mod write;
