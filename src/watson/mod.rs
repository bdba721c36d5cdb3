//! The typed client for the IBM Speech to Text and Text to Speech customization APIs.
//!
//! * [`SttClient`] / [`TtsClient`]: one method per IBM operation (see `stt.rs`, `tts.rs`).
//! * [`ClientConfig`] and [`Auth`]: URL, credentials (IAM API key, bearer, basic, none), custom CA
//!   bundle, timeouts, customer-data label, retry policy, metrics observer, request budget.
//! * [`Error`]: classified errors (see `error.rs` for the 401 rule); every error implements
//!   [`crate::errors::Classified`].
//! * [`RetryPolicy`]: bounded, jittered retries of transient failures (see `retry.rs` for which
//!   calls are retried).
//!
//! Secrets are [`secrecy::SecretString`]s; no `Debug`, `Display`, log line or error shows them.
//! The fact sheet behind this module is `shared/watson-api.md`.

mod open_enum;

pub mod auth;
pub mod config;
pub mod error;
mod http;
pub mod operation;
pub mod retry;
pub mod stt;
pub mod stt_types;
pub mod tts;
pub mod tts_types;

pub use auth::Auth;
pub use config::{Attempt, CallObserver, ClientConfig, RequestBudget};
pub use error::{Error, ErrorContext, NO_INPUT_MODIFIED, TransportKind};
pub use operation::Operation;
pub use retry::RetryPolicy;
pub use stt::SttClient;
pub use tts::TtsClient;
