//! Authentication: the [`Auth`] modes and the IAM token cache.
//!
//! IAM tokens are fetched with the API-key grant, cached, and refreshed the way the IBM SDK cores
//! do it:
//!
//! * a token is **never used within 10 s of its expiry**: a caller that finds no usable token
//!   waits for a fetch;
//! * after **80 % of its lifetime** a token is refreshed proactively: one caller fetches while
//!   the others keep using the current token; if that refresh fails the current token is kept and
//!   the next attempt is pushed 60 s ahead (or to the hard limit, whichever comes first);
//! * **single flight**: at most one fetch runs at a time per client; callers that waited for a
//!   fetch take its result (token or error) instead of starting their own.
//!
//! The lifetime comes from `expires_in`, else `expiration - now`, else the JWT's `exp - iat`
//! (decoded without verifying the signature, as the SDKs do). A freshly fetched token is always
//! used at least once, even if its lifetime is shorter than the 10 s margin.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;
use url::Url;

use super::Operation;
use super::error::{Error, ErrorContext};

/// The default IAM base URL (IBM Cloud public).
pub const DEFAULT_IAM_URL: &str = "https://iam.cloud.ibm.com";

/// A token is not used when it expires within this margin.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// After a failed proactive refresh, the next attempt waits this long (bounded by the margin).
pub const REFRESH_RETRY_DELAY: Duration = Duration::from_secs(60);

const IAM_GRANT_TYPE: &str = "urn:ibm:params:oauth:grant-type:apikey";
/// The IAM grant of a compute resource token (trusted profiles).
const CR_TOKEN_GRANT_TYPE: &str = "urn:ibm:params:oauth:grant-type:cr-token";

/// How the client authenticates to the service. Secrets are [`SecretString`]s: they appear in no
/// `Debug` output, log line or error.
#[derive(Clone)]
pub enum Auth {
    /// An IBM Cloud API key exchanged for IAM bearer tokens at `url` (a base URL such as
    /// `https://iam.cloud.ibm.com`; `/identity/token` is appended unless already present).
    Iam {
        /// The API key.
        api_key: SecretString,
        /// The IAM base URL (or the full token URL).
        url: Url,
    },
    /// A bearer token managed by the caller (e.g. Cloud Pak for Data).
    Bearer(SecretString),
    /// HTTP Basic credentials. An API key sent directly is `username = "apikey"`, see
    /// [`Auth::api_key_basic`].
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password or API key.
        password: SecretString,
    },
    /// Cloud Pak for Data: a username with a password or an API key exchanged for a bearer token
    /// at `url` (`/v1/authorize` is appended unless present, as the IBM SDKs'
    /// `CloudPakForDataAuthenticator` does); the token is refreshed before its JWT `exp`.
    CloudPakForData {
        /// The authorization base URL, e.g. `https://cpd.example.com/icp4d-api`.
        url: Url,
        /// The user name (not secret).
        username: String,
        /// The password or the API key.
        secret: CloudPakSecret,
    },
    /// An IBM Cloud trusted profile: the compute resource token in `token_file` (a projected
    /// service-account token) exchanged at IAM with the `cr-token` grant for the profile, as
    /// the IBM SDKs' `ContainerAuthenticator` does. The file is read at every exchange (the
    /// kubelet rotates it).
    TrustedProfile {
        /// The IAM base URL (or the full token URL).
        url: Url,
        /// The file holding the compute resource token.
        token_file: std::path::PathBuf,
        /// The trusted profile.
        profile: TrustedProfileRef,
    },
    /// No `Authorization` header.
    None,
}

/// What a Cloud Pak for Data user authenticates with.
#[derive(Clone)]
pub enum CloudPakSecret {
    /// The user's password (`{"username", "password"}`).
    Password(SecretString),
    /// The user's API key (`{"username", "api_key"}`).
    ApiKey(SecretString),
}

/// A trusted profile, by ID or by name (IAM's `profile_id` or `profile_name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedProfileRef {
    /// `profile_id`, e.g. `Profile-9ac9b9ac-...`.
    Id(String),
    /// `profile_name`.
    Name(String),
}

impl Auth {
    /// IAM with the default IBM Cloud IAM endpoint.
    pub fn iam(api_key: SecretString) -> Result<Auth, Error> {
        let url = Url::parse(DEFAULT_IAM_URL)
            .map_err(|e| Error::Config(format!("default IAM URL: {e}")))?;
        Ok(Auth::Iam { api_key, url })
    }

    /// Basic authentication with the literal user name `apikey`, as in IBM's curl examples.
    pub fn api_key_basic(api_key: SecretString) -> Auth {
        Auth::Basic {
            username: "apikey".to_string(),
            password: api_key,
        }
    }

    /// The secret values of this mode (for scrubbing text that came from the network).
    pub(crate) fn secrets(&self) -> Vec<SecretString> {
        match self {
            Auth::Iam { api_key, .. } => vec![api_key.clone()],
            Auth::Bearer(token) => vec![token.clone()],
            Auth::Basic { password, .. } => vec![password.clone()],
            Auth::CloudPakForData {
                secret: CloudPakSecret::Password(s) | CloudPakSecret::ApiKey(s),
                ..
            } => vec![s.clone()],
            Auth::TrustedProfile { .. } | Auth::None => Vec::new(),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Iam { url, .. } => f
                .debug_struct("Iam")
                .field("api_key", &"[REDACTED]")
                .field("url", &url.as_str())
                .finish(),
            Auth::Bearer(_) => f.debug_tuple("Bearer").field(&"[REDACTED]").finish(),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Auth::CloudPakForData {
                url,
                username,
                secret,
            } => f
                .debug_struct("CloudPakForData")
                .field("url", &url.as_str())
                .field("username", username)
                .field(
                    match secret {
                        CloudPakSecret::Password(_) => "password",
                        CloudPakSecret::ApiKey(_) => "api_key",
                    },
                    &"[REDACTED]",
                )
                .finish(),
            Auth::TrustedProfile {
                url,
                token_file,
                profile,
            } => f
                .debug_struct("TrustedProfile")
                .field("url", &url.as_str())
                .field("token_file", token_file)
                .field("profile", profile)
                .finish(),
            Auth::None => f.write_str("None"),
        }
    }
}

/// The Cloud Pak for Data token URL: `/v1/authorize` appended unless the path already ends with
/// it; a trailing `/` is ignored.
pub fn cloud_pak_token_url(base: &Url) -> Result<Url, Error> {
    let mut url = base.clone();
    let path = url.path().trim_end_matches('/').to_string();
    if !path.ends_with("/v1/authorize") {
        url.set_path(&format!("{path}/v1/authorize"));
    }
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "Cloud Pak for Data URL must be http(s): {}",
            redact_url(base)
        )));
    }
    Ok(url)
}

/// How a token is obtained: the grant and where to send it. Built once per client.
pub(crate) enum TokenGrant {
    /// IAM, API-key grant.
    IamApiKey {
        api_key: SecretString,
        token_url: Url,
    },
    /// IAM, `cr-token` grant with the token read from a file.
    TrustedProfile {
        token_url: Url,
        token_file: std::path::PathBuf,
        profile: TrustedProfileRef,
    },
    /// Cloud Pak for Data `/v1/authorize`.
    CloudPak {
        token_url: Url,
        username: String,
        secret: CloudPakSecret,
    },
}

impl TokenGrant {
    /// The URL tokens come from (for messages and `Debug`).
    pub(crate) fn token_url(&self) -> &Url {
        match self {
            TokenGrant::IamApiKey { token_url, .. }
            | TokenGrant::TrustedProfile { token_url, .. }
            | TokenGrant::CloudPak { token_url, .. } => token_url,
        }
    }
}

/// Obtains a token with `grant`. Returns the status of the answer (if any) and the token with its
/// lifetime. Every failure is an [`Error::Iam`] or [`Error::CloudPakToken`] whose message has the
/// secrets scrubbed by `scrub`.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    grant: &TokenGrant,
    timeout: Duration,
    scrub: &(dyn Fn(&str) -> String + Send + Sync),
) -> (Option<u16>, Result<(SecretString, Duration), Error>) {
    match grant {
        TokenGrant::IamApiKey { api_key, token_url } => {
            let form = [
                ("grant_type", IAM_GRANT_TYPE),
                ("apikey", api_key.expose_secret()),
                ("response_type", "cloud_iam"),
            ];
            fetch_iam_token(http, token_url, &form, timeout, scrub).await
        }
        TokenGrant::TrustedProfile {
            token_url,
            token_file,
            profile,
        } => {
            // Read at every exchange: the kubelet rotates a projected token.
            let cr_token = match tokio::fs::read_to_string(token_file).await {
                Ok(t) if !t.trim().is_empty() => SecretString::from(t.trim().to_string()),
                Ok(_) => {
                    let message = format!(
                        "the trusted profile token file {} is empty",
                        token_file.display()
                    );
                    return (None, Err(token_file_error(message)));
                }
                Err(e) => {
                    let message = format!(
                        "cannot read the trusted profile token file {}: {e}",
                        token_file.display()
                    );
                    return (None, Err(token_file_error(message)));
                }
            };
            let (key, value) = match profile {
                TrustedProfileRef::Id(id) => ("profile_id", id.as_str()),
                TrustedProfileRef::Name(name) => ("profile_name", name.as_str()),
            };
            let form = [
                ("grant_type", CR_TOKEN_GRANT_TYPE),
                ("cr_token", cr_token.expose_secret()),
                (key, value),
                ("response_type", "cloud_iam"),
            ];
            let scrub_cr = |t: &str| scrub(&t.replace(cr_token.expose_secret(), "[REDACTED]"));
            fetch_iam_token(http, token_url, &form, timeout, &scrub_cr).await
        }
        TokenGrant::CloudPak {
            token_url,
            username,
            secret,
        } => fetch_cloud_pak_token(http, token_url, username, secret, timeout, scrub).await,
    }
}

/// An unreadable token file: no answer, so not the credentials class; the operator retries with
/// backoff (the kubelet may not have written the projected token yet).
fn token_file_error(message: String) -> Error {
    Error::Iam(ErrorContext::new(Operation::GetToken, message))
}

/// The IAM token URL for a configured IAM URL: `/identity/token` is appended unless the path
/// already ends with it; a trailing `/` is ignored.
pub fn iam_token_url(base: &Url) -> Result<Url, Error> {
    let mut url = base.clone();
    let path = url.path().trim_end_matches('/').to_string();
    let path = if path.ends_with("/identity/token") {
        path
    } else {
        format!("{path}/identity/token")
    };
    url.set_path(&path);
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "IAM URL must be http(s): {}",
            redact_url(base)
        )));
    }
    Ok(url)
}

/// Largest IAM token response read, in bytes (a token answer is a few KiB).
pub const MAX_IAM_RESPONSE_BYTES: usize = 1024 * 1024;

/// A URL for messages and logs: user info, query and fragment removed (either may hold a
/// credential: `user:password@`, a signed query).
pub(crate) fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The freshness of a cached token at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Use it.
    Fresh,
    /// Still usable, but one caller should refresh it.
    RefreshDue,
    /// Must not be used (within the expiry margin or past expiry).
    Expired,
}

/// When a token was fetched, when it should be refreshed, and when it expires. Pure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenTiming {
    pub refresh_at: Instant,
    pub expires_at: Instant,
}

impl TokenTiming {
    /// Timing of a token fetched at `fetched_at` with lifetime `lifetime`.
    pub fn new(fetched_at: Instant, lifetime: Duration) -> Self {
        TokenTiming {
            refresh_at: fetched_at + lifetime.mul_f64(0.8),
            expires_at: fetched_at + lifetime,
        }
    }

    pub fn freshness(&self, now: Instant) -> Freshness {
        if now + EXPIRY_MARGIN >= self.expires_at {
            Freshness::Expired
        } else if now >= self.refresh_at {
            Freshness::RefreshDue
        } else {
            Freshness::Fresh
        }
    }

    /// After a failed proactive refresh: try again later, but before the token becomes unusable.
    pub fn postpone_refresh(&mut self, now: Instant) {
        let hard = self
            .expires_at
            .checked_sub(EXPIRY_MARGIN)
            .unwrap_or(self.expires_at);
        self.refresh_at = (now + REFRESH_RETRY_DELAY).min(hard);
    }
}

#[derive(Clone)]
struct Cached {
    token: SecretString,
    timing: TokenTiming,
}

#[derive(Default)]
struct CacheState {
    current: Option<Cached>,
    /// Incremented when a fetch finishes (success or failure).
    generation: u64,
    /// The error of the last fetch, if it failed.
    last_error: Option<Error>,
}

/// The clock of a [`TokenCache`] (injected in tests).
pub(crate) type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A single-flight token cache. The fetch function and the clock are injected, so the timing
/// and concurrency rules are tested without a server.
pub(crate) struct TokenCache {
    state: parking_lot::Mutex<CacheState>,
    fetch_lock: tokio::sync::Mutex<()>,
    clock: Clock,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::with_clock(Arc::new(Instant::now))
    }
}

impl TokenCache {
    /// A cache reading time from `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        TokenCache {
            state: parking_lot::Mutex::new(CacheState::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            clock,
        }
    }

    fn now(&self) -> Instant {
        (self.clock)()
    }

    /// Forgets the cached token (e.g. after the service rejected it).
    pub fn invalidate(&self) {
        self.state.lock().current = None;
    }

    /// Returns a usable token, fetching one if needed. `fetch` returns the token and its lifetime.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<SecretString, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), Error>>,
    {
        let (snapshot, seen_generation) = {
            let state = self.state.lock();
            (state.current.clone(), state.generation)
        };
        let now = self.now();
        match snapshot.as_ref().map(|c| c.timing.freshness(now)) {
            Some(Freshness::Fresh) => {
                if let Some(c) = snapshot {
                    return Ok(c.token);
                }
            }
            Some(Freshness::RefreshDue) => {
                // Only the caller that wins the lock refreshes; the others keep the current token.
                if let (Some(current), Ok(_guard)) = (snapshot, self.fetch_lock.try_lock()) {
                    return Ok(self.proactive_refresh(current, fetch).await);
                }
                if let Some(c) = self.state.lock().current.clone() {
                    return Ok(c.token);
                }
            }
            Some(Freshness::Expired) | None => {}
        }
        // No usable token: wait for the single fetch.
        let _guard = self.fetch_lock.lock().await;
        {
            let state = self.state.lock();
            if let Some(c) = &state.current
                && c.timing.freshness(self.now()) != Freshness::Expired
            {
                return Ok(c.token.clone());
            }
            if state.generation != seen_generation
                && let Some(e) = &state.last_error
            {
                // A fetch finished (and failed) while we waited: share its result.
                return Err(e.clone());
            }
        }
        let fetched_at = self.now();
        let result = fetch().await;
        let mut state = self.state.lock();
        state.generation += 1;
        match result {
            Ok((token, lifetime)) => {
                state.current = Some(Cached {
                    token: token.clone(),
                    timing: TokenTiming::new(fetched_at, lifetime),
                });
                state.last_error = None;
                Ok(token)
            }
            Err(e) => {
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn proactive_refresh<F, Fut>(&self, current: Cached, fetch: F) -> SecretString
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), Error>>,
    {
        // Someone may have refreshed between our snapshot and the lock.
        if let Some(c) = &self.state.lock().current
            && c.timing.freshness(self.now()) == Freshness::Fresh
        {
            return c.token.clone();
        }
        let fetched_at = self.now();
        let result = fetch().await;
        let mut state = self.state.lock();
        state.generation += 1;
        match result {
            Ok((token, lifetime)) => {
                state.current = Some(Cached {
                    token: token.clone(),
                    timing: TokenTiming::new(fetched_at, lifetime),
                });
                state.last_error = None;
                token
            }
            Err(e) => {
                tracing::warn!(error = %e, "proactive IAM token refresh failed; keeping the current token");
                let mut kept = current;
                kept.timing.postpone_refresh(self.now());
                state.current = Some(kept.clone());
                kept.token
            }
        }
    }
}

/// The IAM token response (unknown fields ignored; `refresh_token` is not kept).
#[derive(Deserialize)]
struct IamTokenResponse {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    expiration: Option<f64>,
}

/// The lifetime of a token from the IAM response fields, else from the JWT claims. Pure.
pub(crate) fn token_lifetime(
    expires_in: Option<f64>,
    expiration: Option<f64>,
    now_epoch_secs: f64,
    jwt: &str,
) -> Duration {
    let secs = expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .or_else(|| {
            expiration
                .map(|e| e - now_epoch_secs)
                .filter(|s| s.is_finite() && *s > 0.0)
        })
        .or_else(|| jwt_lifetime(jwt))
        .unwrap_or(0.0);
    Duration::from_secs_f64(secs.clamp(0.0, 365.0 * 24.0 * 3600.0))
}

/// `exp - iat` of a JWT, decoded without verifying the signature.
fn jwt_lifetime(jwt: &str) -> Option<f64> {
    #[derive(Deserialize)]
    struct Claims {
        exp: f64,
        iat: f64,
    }
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    Some(claims.exp - claims.iat).filter(|s| s.is_finite() && *s > 0.0)
}

/// Exchanges a grant (`form`) for an IAM token. Returns the token and its lifetime. Every failure
/// is an [`Error::Iam`] whose message has the secrets scrubbed by the caller-supplied `scrub`.
async fn fetch_iam_token(
    http: &reqwest::Client,
    token_url: &Url,
    form: &[(&str, &str)],
    timeout: Duration,
    scrub: &(dyn Fn(&str) -> String + Send + Sync),
) -> (Option<u16>, Result<(SecretString, Duration), Error>) {
    let iam_error = |status: Option<u16>, message: String| {
        Error::Iam(ErrorContext {
            operation: Operation::GetToken,
            status,
            transaction_id: None,
            message: scrub(&message),
        })
    };
    let response = http
        .post(token_url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .timeout(timeout)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return (
                None,
                Err(iam_error(None, super::error::describe_reqwest(&e))),
            );
        }
    };
    let status = response.status();
    let code = Some(status.as_u16());
    let transaction_id = super::error::transaction_id(response.headers());
    let body = match super::http::read_body(response, MAX_IAM_RESPONSE_BYTES, timeout).await {
        Ok(b) => b,
        Err(super::http::BodyError::Transport(e)) => {
            return (
                code,
                Err(iam_error(code, super::error::describe_reqwest(&e))),
            );
        }
        Err(super::http::BodyError::TooLarge) => {
            return (
                code,
                Err(iam_error(
                    code,
                    format!("the answer is larger than {MAX_IAM_RESPONSE_BYTES} bytes"),
                )),
            );
        }
        Err(super::http::BodyError::Idle(idle)) => {
            return (
                code,
                Err(iam_error(
                    code,
                    format!(
                        "timed out: the answer made no progress for {} s",
                        idle.as_secs()
                    ),
                )),
            );
        }
    };
    if !status.is_success() {
        let message = super::error::body_message(&body)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("IAM error").to_string());
        let mut err = iam_error(code, message);
        if let Error::Iam(c) = &mut err {
            c.transaction_id = transaction_id;
        }
        return (code, Err(err));
    }
    let parsed: IamTokenResponse = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                code,
                Err(iam_error(
                    code,
                    format!("cannot decode the IAM response: {e}"),
                )),
            );
        }
    };
    let now_epoch = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let lifetime = token_lifetime(
        parsed.expires_in,
        parsed.expiration,
        now_epoch,
        parsed.access_token.expose_secret(),
    );
    (code, Ok((parsed.access_token, lifetime)))
}

/// The Cloud Pak for Data answer: `{"token": "<JWT>"}` (other fields ignored).
#[derive(Deserialize)]
struct CloudPakTokenResponse {
    token: SecretString,
}

/// Exchanges a Cloud Pak for Data username and password (or API key) for a token at
/// `/v1/authorize` (JSON body, as the IBM SDKs send it). The lifetime comes from the JWT
/// (`exp - iat`). Every failure is an [`Error::CloudPakToken`], secrets scrubbed.
async fn fetch_cloud_pak_token(
    http: &reqwest::Client,
    token_url: &Url,
    username: &str,
    secret: &CloudPakSecret,
    timeout: Duration,
    scrub: &(dyn Fn(&str) -> String + Send + Sync),
) -> (Option<u16>, Result<(SecretString, Duration), Error>) {
    let fail = |status: Option<u16>, transaction_id: Option<String>, message: String| {
        Error::CloudPakToken(ErrorContext {
            operation: Operation::GetToken,
            status,
            transaction_id,
            message: scrub(&message),
        })
    };
    let body = match secret {
        CloudPakSecret::Password(p) => {
            serde_json::json!({"username": username, "password": p.expose_secret()})
        }
        CloudPakSecret::ApiKey(k) => {
            serde_json::json!({"username": username, "api_key": k.expose_secret()})
        }
    };
    let response = http
        .post(token_url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&body)
        .timeout(timeout)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return (
                None,
                Err(fail(None, None, super::error::describe_reqwest(&e))),
            );
        }
    };
    let status = response.status();
    let code = Some(status.as_u16());
    let transaction_id = super::error::transaction_id(response.headers());
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            let message = super::error::describe_reqwest(&e);
            return (code, Err(fail(code, transaction_id, message)));
        }
    };
    if !status.is_success() {
        let message = super::error::body_message(&bytes).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("Cloud Pak for Data error")
                .to_string()
        });
        return (code, Err(fail(code, transaction_id, message)));
    }
    let parsed: CloudPakTokenResponse = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            let message = format!("cannot decode the Cloud Pak for Data answer: {e}");
            return (code, Err(fail(code, transaction_id, message)));
        }
    };
    let now_epoch = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let lifetime = token_lifetime(None, None, now_epoch, parsed.token.expose_secret());
    (code, Ok((parsed.token, lifetime)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A manual clock for the cache.
    #[derive(Clone)]
    struct ManualClock(Arc<parking_lot::Mutex<Instant>>);

    impl ManualClock {
        fn new() -> Self {
            ManualClock(Arc::new(parking_lot::Mutex::new(Instant::now())))
        }
        fn advance(&self, d: Duration) {
            *self.0.lock() += d;
        }
        fn cache(&self) -> TokenCache {
            let c = self.0.clone();
            TokenCache::with_clock(Arc::new(move || *c.lock()))
        }
    }

    #[test]
    fn token_url_building() {
        let cases = [
            (
                "https://iam.cloud.ibm.com",
                "https://iam.cloud.ibm.com/identity/token",
            ),
            (
                "https://iam.cloud.ibm.com/",
                "https://iam.cloud.ibm.com/identity/token",
            ),
            (
                "https://iam.cloud.ibm.com/identity/token",
                "https://iam.cloud.ibm.com/identity/token",
            ),
            (
                "http://127.0.0.1:8080/",
                "http://127.0.0.1:8080/identity/token",
            ),
            ("http://h/prefix/", "http://h/prefix/identity/token"),
        ];
        for (base, want) in cases {
            let url = iam_token_url(&Url::parse(base).expect("url")).expect("token url");
            assert_eq!(url.as_str(), want, "{base}");
        }
        assert!(iam_token_url(&Url::parse("ftp://h").expect("url")).is_err());
    }

    #[test]
    fn cloud_pak_token_url_building() {
        let build = |u: &str| {
            cloud_pak_token_url(&Url::parse(u).expect("url"))
                .expect("token url")
                .to_string()
        };
        assert_eq!(
            build("https://cpd.example.com/icp4d-api"),
            "https://cpd.example.com/icp4d-api/v1/authorize"
        );
        assert_eq!(
            build("https://cpd.example.com/icp4d-api/"),
            "https://cpd.example.com/icp4d-api/v1/authorize"
        );
        assert_eq!(
            build("https://cpd.example.com/icp4d-api/v1/authorize"),
            "https://cpd.example.com/icp4d-api/v1/authorize"
        );
    }

    #[test]
    fn new_modes_redact_their_secrets() {
        let cp4d = Auth::CloudPakForData {
            url: Url::parse("https://cpd.example.com/icp4d-api").expect("url"),
            username: "admin".into(),
            secret: CloudPakSecret::Password(SecretString::from("hunter2")),
        };
        let text = format!("{cp4d:?}");
        assert!(
            text.contains("admin") && !text.contains("hunter2"),
            "{text}"
        );
        assert_eq!(cp4d.secrets().len(), 1);
        let profile = Auth::TrustedProfile {
            url: Url::parse("https://iam.cloud.ibm.com").expect("url"),
            token_file: "/var/run/secrets/tokens/sa-token".into(),
            profile: TrustedProfileRef::Name("speech".into()),
        };
        assert!(format!("{profile:?}").contains("sa-token"));
    }

    #[test]
    fn timing_rules() {
        let t0 = Instant::now();
        let timing = TokenTiming::new(t0, Duration::from_secs(3600));
        assert_eq!(timing.freshness(t0), Freshness::Fresh);
        assert_eq!(
            timing.freshness(t0 + Duration::from_secs(2879)),
            Freshness::Fresh
        );
        assert_eq!(
            timing.freshness(t0 + Duration::from_secs(2880)),
            Freshness::RefreshDue
        );
        assert_eq!(
            timing.freshness(t0 + Duration::from_secs(3589)),
            Freshness::RefreshDue
        );
        assert_eq!(
            timing.freshness(t0 + Duration::from_secs(3590)),
            Freshness::Expired
        );
        assert_eq!(
            timing.freshness(t0 + Duration::from_secs(4000)),
            Freshness::Expired
        );

        // Short tokens: the 10 s margin wins over the 80 % rule.
        let short = TokenTiming::new(t0, Duration::from_secs(12));
        assert_eq!(short.freshness(t0), Freshness::Fresh);
        assert_eq!(
            short.freshness(t0 + Duration::from_secs(2)),
            Freshness::Expired
        );
        let tiny = TokenTiming::new(t0, Duration::from_secs(5));
        assert_eq!(tiny.freshness(t0), Freshness::Expired);
    }

    #[test]
    fn postponed_refresh_stays_before_the_margin() {
        let t0 = Instant::now();
        let mut timing = TokenTiming::new(t0, Duration::from_secs(3600));
        let now = t0 + Duration::from_secs(2900);
        timing.postpone_refresh(now);
        assert_eq!(timing.refresh_at, now + REFRESH_RETRY_DELAY);
        let late = t0 + Duration::from_secs(3570);
        timing.postpone_refresh(late);
        assert_eq!(timing.refresh_at, t0 + Duration::from_secs(3590));
    }

    #[test]
    fn lifetime_sources() {
        let jwt = {
            let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!(
                "{}.{}.sig",
                enc(r#"{"alg":"none"}"#),
                enc(r#"{"iat":1000,"exp":1600}"#)
            )
        };
        assert_eq!(
            token_lifetime(Some(3600.0), Some(9e9), 0.0, &jwt),
            Duration::from_secs(3600)
        );
        assert_eq!(
            token_lifetime(None, Some(1300.0), 1000.0, &jwt),
            Duration::from_secs(300)
        );
        assert_eq!(
            token_lifetime(None, None, 0.0, &jwt),
            Duration::from_secs(600)
        );
        assert_eq!(
            token_lifetime(Some(0.0), None, 0.0, "opaque"),
            Duration::ZERO
        );
    }

    #[test]
    fn debug_redacts() {
        let auth = Auth::Iam {
            api_key: SecretString::from("CANARY-KEY"),
            url: Url::parse("http://iam").expect("url"),
        };
        let text = format!("{auth:?}");
        assert!(!text.contains("CANARY"), "{text}");
        let basic = Auth::api_key_basic(SecretString::from("CANARY-KEY"));
        let text = format!("{basic:?}");
        assert!(
            !text.contains("CANARY") && text.contains("apikey"),
            "{text}"
        );
        let bearer = Auth::Bearer(SecretString::from("CANARY-KEY"));
        assert!(!format!("{bearer:?}").contains("CANARY"));
    }

    type FetchFuture =
        std::pin::Pin<Box<dyn Future<Output = Result<(SecretString, Duration), Error>> + Send>>;

    fn counting_fetch(
        counter: Arc<AtomicUsize>,
        lifetime: Duration,
    ) -> impl FnOnce() -> FetchFuture {
        move || {
            Box::pin(async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok((SecretString::from(format!("token-{n}")), lifetime))
            })
        }
    }

    #[tokio::test]
    async fn single_flight_under_concurrency() {
        let cache = Arc::new(TokenCache::default());
        let counter = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let cache = cache.clone();
            let counter = counter.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get(counting_fetch(counter, Duration::from_secs(3600)))
                    .await
                    .map(|t| t.expose_secret().to_string())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("join").expect("token"), "token-1");
        }
        assert_eq!(counter.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn proactive_refresh_and_expiry() {
        let clock = ManualClock::new();
        let cache = clock.cache();
        let counter = Arc::new(AtomicUsize::new(0));
        let ttl = Duration::from_secs(100);
        let get = |c: &Arc<AtomicUsize>| counting_fetch(c.clone(), ttl);
        assert_eq!(
            cache.get(get(&counter)).await.expect("t").expose_secret(),
            "token-1"
        );
        clock.advance(Duration::from_secs(50));
        assert_eq!(
            cache.get(get(&counter)).await.expect("t").expose_secret(),
            "token-1"
        );
        assert_eq!(counter.load(Ordering::SeqCst), 1);
        // Past 80 %: refreshed.
        clock.advance(Duration::from_secs(31));
        assert_eq!(
            cache.get(get(&counter)).await.expect("t").expose_secret(),
            "token-2"
        );
        // Expired (within 10 s of the end of token-2): refetched.
        clock.advance(Duration::from_secs(95));
        assert_eq!(
            cache.get(get(&counter)).await.expect("t").expose_secret(),
            "token-3"
        );
        assert_eq!(counter.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn failed_proactive_refresh_keeps_token_and_postpones() {
        let clock = ManualClock::new();
        let cache = clock.cache();
        let ok = Arc::new(AtomicUsize::new(0));
        let ttl = Duration::from_secs(1000);
        cache.get(counting_fetch(ok.clone(), ttl)).await.expect("t");
        clock.advance(Duration::from_secs(850));
        let failures = Arc::new(AtomicUsize::new(0));
        let failing = |f: Arc<AtomicUsize>| {
            move || async move {
                f.fetch_add(1, Ordering::SeqCst);
                Err::<(SecretString, Duration), _>(Error::Iam(ErrorContext::new(
                    Operation::GetToken,
                    "down",
                )))
            }
        };
        let t = cache
            .get(failing(failures.clone()))
            .await
            .expect("old token kept");
        assert_eq!(t.expose_secret(), "token-1");
        // Postponed: no new attempt right away.
        let t = cache
            .get(failing(failures.clone()))
            .await
            .expect("old token kept");
        assert_eq!(t.expose_secret(), "token-1");
        assert_eq!(failures.load(Ordering::SeqCst), 1);
        // Once unusable, the error surfaces.
        clock.advance(Duration::from_secs(145));
        assert!(cache.get(failing(failures.clone())).await.is_err());
        assert_eq!(failures.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn waiters_share_a_failure() {
        let cache = Arc::new(TokenCache::default());
        let attempts = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let cache = cache.clone();
            let attempts = attempts.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get(move || async move {
                        attempts.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Err::<(SecretString, Duration), _>(Error::Iam(ErrorContext::new(
                            Operation::GetToken,
                            "down",
                        )))
                    })
                    .await
                    .is_err()
            }));
        }
        for t in tasks {
            assert!(t.await.expect("join"));
        }
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }
}
