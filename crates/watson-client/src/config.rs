//! Client configuration and the hooks the operator plugs in (metrics observer, request budget).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use super::Operation;
use super::auth::Auth;
use super::retry::RetryPolicy;

/// Receives one observation per HTTP attempt (retries and IAM token fetches included, the latter
/// as [`Operation::GetToken`]). `status` is `None` when no response arrived. The latency covers
/// sending the request and reading the response, not the wait for the request budget.
pub trait CallObserver: Send + Sync {
    /// Records one attempt.
    fn observe(&self, op: Operation, status: Option<u16>, latency: Duration);
}

/// A request budget awaited before every attempt sent to the Speech service (retries included).
/// IAM token fetches do not consume it: they go to another service with its own limits, and they
/// must not be starved by the calls that need the token.
///
/// Implemented for [`governor::DefaultDirectRateLimiter`]; the operator shares one per
/// SpeechService.
#[async_trait]
pub trait RequestBudget: Send + Sync {
    /// Waits until one request may be sent.
    async fn acquire(&self);

    /// Told how every acquired attempt ended, so an adaptive budget can slow down while the
    /// service is failing (429 with its `Retry-After`, 5xx, no response) and recover after a
    /// success. Called exactly once per `acquire`.
    fn feedback(&self, _attempt: Attempt) {}

    /// Like [`RequestBudget::acquire`], but gives up when the wait would be longer than
    /// `patience`: `Err` with how long the caller would have waited (nothing was taken, no
    /// [`RequestBudget::feedback`] follows). The default waits as long as `acquire` does.
    async fn acquire_within(&self, patience: Duration) -> Result<(), Duration> {
        let _ = patience;
        self.acquire().await;
        Ok(())
    }
}

/// How an attempt that passed the [`RequestBudget`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The request could not be built; nothing was sent.
    NotSent,
    /// Sent, but no response arrived (connection refused, reset, timeout).
    NoResponse,
    /// A response with this status and, for 429, the `Retry-After` the service asked for.
    Status(u16, Option<Duration>),
}

#[async_trait]
impl RequestBudget for governor::DefaultDirectRateLimiter {
    async fn acquire(&self) {
        self.until_ready().await;
    }
}

/// The configuration of an [`SttClient`](super::SttClient) or [`TtsClient`](super::TtsClient).
#[derive(Clone)]
pub struct ClientConfig {
    /// The service URL including the instance part, e.g.
    /// `https://api.us-south.speech-to-text.watson.cloud.ibm.com/instances/{id}`. Must not carry
    /// user info (credentials go in [`ClientConfig::auth`]).
    pub url: Url,
    /// How to authenticate.
    pub auth: Auth,
    /// Extra trusted root certificates (PEM, one or more), merged with the system roots. Also used
    /// for the IAM endpoint.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Longest wait for a connection to the service (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest wait for the response headers once the request body was sent (the service's
    /// think time; IBM answers an upload only after reading all of it).
    pub first_byte_timeout: Duration,
    /// Longest time no byte moves while the request body is sent or the response body is read.
    /// A large upload on a slow link is not cut as long as it keeps moving: no attempt has an
    /// overall limit (the operator's reconcile deadline bounds a reconcile).
    pub idle_timeout: Duration,
    /// Timeout of one IAM token request.
    pub token_timeout: Duration,
    /// Labels added data with `X-Watson-Metadata: customer_id={id}` (on the calls IBM documents);
    /// `DELETE /v1/user_data` removes such data. Must not contain `;` or `=`.
    pub customer_id: Option<String>,
    /// Sends `X-Watson-Learning-Opt-Out: true` on every request.
    pub learning_opt_out: bool,
    /// Automatic retries of transient failures.
    pub retry: RetryPolicy,
    /// Per-attempt metrics hook.
    pub observer: Option<Arc<dyn CallObserver>>,
    /// Request budget shared by the clients of one service instance.
    pub budget: Option<Arc<dyn RequestBudget>>,
    /// The longest a call waits, for the [`ClientConfig::budget`] or before a retry. A longer
    /// wait ends the call at once with [`Error::RateLimited`](crate::Error::RateLimited) (its
    /// `retry_after` says how long, when known) or the failure that asked for the retry, so the
    /// caller can come back later instead of holding on. `None`: wait as long as the budget and
    /// the [`RetryPolicy`] say.
    pub patience: Option<Duration>,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// A configuration with defaults: 10 s connect, 60 s first-byte and 60 s idle timeouts, 30 s
    /// token timeout, the default
    /// [`RetryPolicy`], no customer id, no hooks.
    pub fn new(url: Url, auth: Auth) -> Self {
        ClientConfig {
            url,
            auth,
            ca_bundle_pem: None,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            token_timeout: Duration::from_secs(30),
            customer_id: None,
            learning_opt_out: false,
            retry: RetryPolicy::default(),
            observer: None,
            budget: None,
            patience: None,
            user_agent: concat!("watson-speech-operator/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &super::auth::redact_url(&self.url))
            .field("auth", &self.auth)
            .field(
                "ca_bundle_pem",
                &self
                    .ca_bundle_pem
                    .as_ref()
                    .map(|b| format!("{} bytes", b.len())),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("token_timeout", &self.token_timeout)
            .field("customer_id", &self.customer_id)
            .field("learning_opt_out", &self.learning_opt_out)
            .field("retry", &self.retry)
            .field("observer", &self.observer.as_ref().map(|_| "set"))
            .field("patience", &self.patience)
            .field("budget", &self.budget.as_ref().map(|_| "set"))
            .field("user_agent", &self.user_agent)
            .finish()
    }
}
