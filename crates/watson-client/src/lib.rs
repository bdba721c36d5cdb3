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
//! The fact sheet behind this crate is `shared/watson-api.md`.
//!
//! Layers: this crate knows nothing of Kubernetes (no kube, no k8s-openapi). The wire types
//! ([`stt_types`], [`tts_types`], [`Operation`]) are always built; the HTTP client and everything
//! it needs sit behind the default feature `client`, so the simulator can depend on the wire
//! types only (`default-features = false`).
#![forbid(unsafe_code)]

pub mod operation;
pub mod stt_types;
pub mod tts_types;

#[cfg(feature = "client")]
pub mod auth;
#[cfg(feature = "client")]
pub mod config;
#[cfg(feature = "client")]
pub mod error;
#[cfg(feature = "client")]
pub mod errors;
#[cfg(feature = "client")]
mod http;
#[cfg(feature = "client")]
pub mod retry;
#[cfg(feature = "client")]
pub mod stt;
#[cfg(feature = "client")]
pub mod tls;
#[cfg(feature = "client")]
pub mod tts;
#[cfg(feature = "client")]
pub mod upload;

pub use operation::Operation;

#[cfg(feature = "client")]
pub use auth::{Auth, CloudPakSecret, TrustedProfileRef};
/// The chunk type of an [`UploadStream`].
#[cfg(feature = "client")]
pub use bytes::Bytes;
#[cfg(feature = "client")]
pub use config::{Attempt, CallObserver, ClientConfig, RequestBudget};
#[cfg(feature = "client")]
pub use error::{Error, ErrorContext, NO_INPUT_MODIFIED, TransportKind};
#[cfg(feature = "client")]
pub use http::{MAX_RESPONSE_BYTES, MAX_WORDS_RESPONSE_BYTES, ServedApi, response_limit};
#[cfg(feature = "client")]
pub use retry::RetryPolicy;
#[cfg(feature = "client")]
pub use stt::SttClient;
#[cfg(feature = "client")]
pub use tts::TtsClient;
#[cfg(feature = "client")]
pub use upload::{Upload, UploadError, UploadStream};
