//! The transport shared by the STT and TTS clients: URL, query and header building,
//! authentication, the request budget, the metrics observer, retries and error classification.
//!
//! One [`Call`] describes one logical operation; [`Transport::send`] performs it with as many
//! attempts as the [`RetryPolicy`] allows.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::Operation;
use super::auth::{
    Auth, TokenCache, TokenGrant, cloud_pak_token_url, fetch_token, iam_token_url, redact_url,
};
use super::config::{Attempt, CallObserver, ClientConfig, RequestBudget};
use super::error::{
    Error, ErrorContext, FailedResponse, TransportKind, classify, describe_reqwest, transaction_id,
};
use super::retry::{Outcome, RetryPolicy, is_retryable, parse_retry_after};
use super::upload::{Progress, Upload};

/// Path segments are encoded like the IBM SDKs do (`quote(x, safe='')`): everything but ASCII
/// letters, digits and `-_.~` is percent-encoded, so `/`, `+`, `?`, spaces and non-ASCII are safe.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Largest IBM response body the client reads for most calls, in bytes: an instance's listing of
/// 1024 models takes under 1 MiB. A body past the limit is an error ([`Error::Decode`]) read no
/// further, so a remote cannot make the operator hold more than this per call.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Largest body of a word listing (`list_words`, `list_voice_words`), in bytes: IBM allows 90,000
/// words in a custom language model, about 120 bytes each in JSON.
pub const MAX_WORDS_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The response limit of an operation.
pub fn response_limit(op: Operation) -> usize {
    match op {
        Operation::ListWords | Operation::ListVoiceWords => MAX_WORDS_RESPONSE_BYTES,
        _ => MAX_RESPONSE_BYTES,
    }
}

/// Why a response body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The connection failed while reading.
    Transport(reqwest::Error),
    /// The body (announced or read so far) passed the limit.
    TooLarge,
    /// No byte arrived for this long (the idle timeout).
    Idle(Duration),
}

/// Reads a response body of at most `limit` bytes, chunk by chunk: an announced length past the
/// limit is refused before reading, and a body longer than announced (or not announced) stops
/// at the limit. A wait of more than `idle` for the next chunk ends the read.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    idle: Duration,
) -> Result<Bytes, BodyError> {
    if response.content_length().is_some_and(|l| l > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = tokio::time::timeout(idle, response.chunk())
        .await
        .map_err(|_| BodyError::Idle(idle))?
        .map_err(BodyError::Transport)?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

const WATSON_METADATA: &str = "x-watson-metadata";
const LEARNING_OPT_OUT: &str = "x-watson-learning-opt-out";
const CONTAINED_CONTENT_TYPE: &str = "contained-content-type";

/// Percent-encodes one path segment. Empty, `.` and `..` are refused: URL normalisation would
/// change the path they are part of.
pub(crate) fn segment(op: Operation, value: &str) -> Result<String, Error> {
    if value.is_empty() || value == "." || value == ".." {
        return Err(Error::InvalidArgument(ErrorContext::new(
            op,
            format!("{value:?} cannot be used as a path segment"),
        )));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

/// Whether a path names a customization id (decides how a 401 is read; see `error.rs`).
pub(crate) fn is_scoped_path(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("v1"), Some("customizations" | "acoustic_customizations"), Some(id)) if !id.is_empty()
    )
}

fn transport_kind(e: &reqwest::Error) -> TransportKind {
    if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else {
        TransportKind::Other
    }
}

/// Which IBM API answers at a service URL (people paste the URL of the other service, or a URL
/// with a path below the instance's base URL; issue 15, case 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedApi {
    /// `GET /v1/models` lists speech models.
    SpeechToText,
    /// `GET /v1/voices` lists voices.
    TextToSpeech,
    /// Neither answers: not an instance's base URL.
    Neither,
}

/// The body of a call.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    Empty,
    Json(Bytes),
    /// A body with its content type (grammars, audio, archives), in memory or streamed from its
    /// source.
    Raw {
        content_type: String,
        contained_content_type: Option<String>,
        data: Upload,
    },
    /// A corpus as the raw body, `text/plain; charset=utf-8`. Not multipart (what the IBM SDKs
    /// send): in 2017 the service stored a multipart envelope as corpus text, so boundary lines,
    /// part headers and the file name became custom words (`watson-api.md` §4.7, §16); the raw
    /// text is read the same way by every version of the service.
    CorpusText(Upload),
}

/// One logical operation.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub op: Operation,
    pub method: Method,
    /// Already encoded, starting with `/v1/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub payload: Payload,
    /// Safe to repeat after an unseen outcome (see `retry.rs`).
    pub idempotent: bool,
    /// Send `X-Watson-Metadata` (when a customer id is configured).
    pub metadata: bool,
    /// Send `Accept: application/json`.
    pub accept_json: bool,
}

impl Call {
    /// GET, PUT and DELETE are idempotent; POST is not unless marked.
    pub fn new(op: Operation, method: Method, path: String) -> Self {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE);
        Call {
            op,
            method,
            path,
            query: Vec::new(),
            payload: Payload::Empty,
            idempotent,
            metadata: false,
            accept_json: true,
        }
    }

    pub fn get(op: Operation, path: String) -> Self {
        Call::new(op, Method::GET, path)
    }

    pub fn post(op: Operation, path: String) -> Self {
        Call::new(op, Method::POST, path)
    }

    pub fn put(op: Operation, path: String) -> Self {
        Call::new(op, Method::PUT, path)
    }

    pub fn delete(op: Operation, path: String) -> Self {
        Call::new(op, Method::DELETE, path)
    }

    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    pub fn with_metadata(mut self) -> Self {
        self.metadata = true;
        self
    }

    pub fn without_accept(mut self) -> Self {
        self.accept_json = false;
        self
    }

    pub fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    pub fn query_opt<V: ToString>(self, key: &'static str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::InvalidArgument(ErrorContext::new(self.op, format!("cannot encode: {e}")))
        })?;
        self.payload = Payload::Json(Bytes::from(bytes));
        Ok(self)
    }

    pub fn payload(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }

    fn scoped(&self) -> bool {
        is_scoped_path(&self.path)
    }
}

/// A success response.
#[derive(Debug)]
pub(crate) struct Success {
    pub status: u16,
    pub transaction_id: Option<String>,
    pub body: Bytes,
}

enum AuthState {
    /// A token obtained with a grant (IAM API key, trusted profile, Cloud Pak for Data), cached.
    Token {
        grant: Box<TokenGrant>,
        cache: Box<TokenCache>,
    },
    /// A precomputed, sensitive `Authorization` value (Bearer or Basic).
    Header(HeaderValue),
    None,
}

/// A failed attempt and what the retry logic needs to know about it.
struct Failure {
    error: Error,
    outcome: Option<Outcome>,
}

/// The shared transport. Cheap to share behind an `Arc`.
pub(crate) struct Transport {
    http: reqwest::Client,
    base: String,
    auth: AuthState,
    customer_header: Option<HeaderValue>,
    learning_opt_out: bool,
    retry: RetryPolicy,
    observer: Option<Arc<dyn CallObserver>>,
    budget: Option<Arc<dyn RequestBudget>>,
    patience: Option<Duration>,
    token_timeout: Duration,
    first_byte_timeout: Duration,
    idle_timeout: Duration,
    secrets: Vec<SecretString>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            AuthState::Token { grant, .. } => format!("Token({})", grant.token_url()),
            AuthState::Header(_) => "Header([REDACTED])".to_string(),
            AuthState::None => "None".to_string(),
        };
        f.debug_struct("Transport")
            .field("base", &self.base)
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

fn sensitive_header(value: &str) -> Result<HeaderValue, Error> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        Error::Config("credentials contain characters not allowed in a header".into())
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn check_service_url(url: &Url) -> Result<String, Error> {
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Error::Config(format!(
            "service URL must be http(s): {}",
            redact_url(url)
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "service URL must not contain credentials; use `auth`".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "service URL must not have a query or fragment: {}",
            redact_url(url)
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

impl Transport {
    /// Builds the HTTP client and validates the configuration.
    pub fn new(config: &ClientConfig) -> Result<Self, Error> {
        crate::tls::install_crypto_provider();
        let base = check_service_url(&config.url)?;
        let customer_header = match &config.customer_id {
            None => None,
            Some(id) if id.is_empty() || id.contains([';', '=']) => {
                return Err(Error::Config(
                    "customer_id must be non-empty and contain neither ';' nor '='".into(),
                ));
            }
            Some(id) => Some(
                HeaderValue::from_str(&format!("customer_id={id}"))
                    .map_err(|_| Error::Config("customer_id is not a valid header value".into()))?,
            ),
        };
        let auth = match &config.auth {
            Auth::Iam { api_key, url } => {
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(Error::Config(format!(
                        "IAM URL must not contain credentials: {}",
                        redact_url(url)
                    )));
                }
                AuthState::Token {
                    grant: Box::new(TokenGrant::IamApiKey {
                        api_key: api_key.clone(),
                        token_url: iam_token_url(url)?,
                    }),
                    cache: Box::default(),
                }
            }
            Auth::TrustedProfile {
                url,
                token_file,
                profile,
            } => AuthState::Token {
                grant: Box::new(TokenGrant::TrustedProfile {
                    token_url: iam_token_url(url)?,
                    token_file: token_file.clone(),
                    profile: profile.clone(),
                }),
                cache: Box::default(),
            },
            Auth::CloudPakForData {
                url,
                username,
                secret,
            } => AuthState::Token {
                grant: Box::new(TokenGrant::CloudPak {
                    token_url: cloud_pak_token_url(url)?,
                    username: username.clone(),
                    secret: secret.clone(),
                }),
                cache: Box::default(),
            },
            Auth::Bearer(token) => AuthState::Header(sensitive_header(&format!(
                "Bearer {}",
                token.expose_secret()
            ))?),
            Auth::Basic { username, password } => {
                use base64::Engine as _;
                let pair = format!("{username}:{}", password.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
                AuthState::Header(sensitive_header(&format!("Basic {encoded}"))?)
            }
            Auth::None => AuthState::None,
        };
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            // No overall timeout: the transport watches the connect, the first byte and idle
            // time itself (`Progress`), so a large upload that keeps moving is never cut.
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &config.ca_bundle_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Config(format!("invalid CA bundle: {e}")))?;
            if certs.is_empty() {
                return Err(Error::Config("the CA bundle holds no certificate".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| {
            Error::Config(format!(
                "cannot build the HTTP client: {}",
                describe_reqwest(&e)
            ))
        })?;
        let secrets = config
            .auth
            .secrets()
            .into_iter()
            .filter(|s| !s.expose_secret().is_empty())
            .collect();
        Ok(Transport {
            http,
            base,
            auth,
            customer_header,
            learning_opt_out: config.learning_opt_out,
            retry: config.retry.clone(),
            observer: config.observer.clone(),
            budget: config.budget.clone(),
            patience: config.patience,
            token_timeout: config.token_timeout,
            first_byte_timeout: config.first_byte_timeout,
            idle_timeout: config.idle_timeout,
            secrets,
        })
    }

    /// The service URL (without trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Replaces every configured secret in `text` with `[REDACTED]`.
    fn scrub(&self, text: &str) -> String {
        scrub_secrets(&self.secrets, text)
    }

    /// Like [`Transport::scrub`], also removing the `Authorization` value of this attempt (and
    /// its credential part), e.g. an IAM token echoed by a proxy.
    fn scrub_with(&self, text: &str, authorization: Option<&SecretString>) -> String {
        let mut out = self.scrub(text);
        if let Some(value) = authorization {
            let value = value.expose_secret();
            let credential = value.split_once(' ').map(|(_, c)| c).unwrap_or(value);
            for s in [value, credential] {
                if !s.is_empty() {
                    out = out.replace(s, "[REDACTED]");
                }
            }
        }
        out
    }

    fn observe(&self, op: Operation, status: Option<u16>, latency: Duration) {
        if let Some(observer) = &self.observer {
            observer.observe(op, status, latency);
        }
    }

    /// Performs a call, retrying as the policy allows; returns the success response.
    pub async fn send(&self, call: &Call) -> Result<Success, Error> {
        let started = Instant::now();
        let mut retry = 0u32;
        loop {
            let Failure { error, outcome } = match self.attempt(call).await {
                Ok(success) => return Ok(success),
                Err(failure) => failure,
            };
            if outcome.is_some_and(|o| is_retryable(call.idempotent, o)) {
                let delay = {
                    let mut rng = rand::rng();
                    self.retry
                        .next_delay(retry, started.elapsed(), error.retry_after(), &mut rng)
                };
                if let Some(delay) = delay {
                    // A caller with little patience comes back later instead of sleeping here.
                    if self.patience.is_some_and(|p| delay > p) {
                        return Err(error);
                    }
                    tracing::debug!(
                        operation = %call.op,
                        retry = retry + 1,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %error,
                        "retrying IBM call"
                    );
                    tokio::time::sleep(delay).await;
                    retry += 1;
                    continue;
                }
            }
            return Err(self.confirm_not_found(call, error).await);
        }
    }

    /// IBM answers 401 both for refused credentials and for a customization ID that does not
    /// exist (`watson-api.md` §1.5, §16): a 401 on a model-scoped call is only "not found" when a
    /// collection call with the same credentials succeeds. One `GET /v1/customizations` (a
    /// collection of both services) tells them apart; when it is refused too, the error is
    /// [`Error::Unauthorized`], so no caller takes refused credentials for a vanished model.
    async fn confirm_not_found(&self, call: &Call, error: Error) -> Error {
        let Error::NotFoundOrForbidden(context) = &error else {
            return error;
        };
        let probe = Call::get(call.op, "/v1/customizations".to_string());
        match self.attempt(&probe).await {
            Err(Failure {
                error: Error::Unauthorized(_),
                ..
            }) => Error::Unauthorized(context.clone()),
            Err(Failure {
                error: e @ (Error::Iam(_) | Error::CloudPakToken(_)),
                ..
            }) if matches!(e.status(), Some(400 | 401)) => Error::Unauthorized(context.clone()),
            _ => error,
        }
    }

    /// Which API answers at the service URL: `GET /v1/models` (Speech to Text, a `models` list),
    /// else `GET /v1/voices` (Text to Speech, a `voices` list), else neither. Credentials and
    /// transient failures are errors (the URL is not judged on them).
    pub async fn served_api(&self) -> Result<ServedApi, Error> {
        if self
            .answers(Operation::ListModels, "/v1/models", "models")
            .await?
        {
            return Ok(ServedApi::SpeechToText);
        }
        if self
            .answers(Operation::ListVoices, "/v1/voices", "voices")
            .await?
        {
            return Ok(ServedApi::TextToSpeech);
        }
        Ok(ServedApi::Neither)
    }

    /// Whether `GET path` answers with a JSON object holding the array `key`.
    async fn answers(&self, op: Operation, path: &str, key: &str) -> Result<bool, Error> {
        match self.send(&Call::get(op, path.to_string())).await {
            Ok(success) => Ok(serde_json::from_slice::<serde_json::Value>(&success.body)
                .ok()
                .and_then(|v| v.get(key).map(serde_json::Value::is_array))
                .unwrap_or(false)),
            Err(Error::NotFound(_) | Error::Unsupported(_) | Error::InvalidRequest(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Performs a call and decodes its JSON body (an empty body reads as `{}`).
    pub async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        let op = call.op;
        let success = self.send(&call).await?;
        decode(op, &success)
    }

    /// Performs a call and ignores its body.
    pub async fn unit(&self, call: Call) -> Result<(), Error> {
        self.send(&call).await.map(|_| ())
    }

    async fn token(&self) -> Result<Option<HeaderValue>, Failure> {
        match &self.auth {
            AuthState::None => Ok(None),
            AuthState::Header(value) => Ok(Some(value.clone())),
            AuthState::Token { grant, cache } => {
                let token = cache
                    .get(|| async {
                        let started = Instant::now();
                        let scrub = |t: &str| self.scrub(t);
                        let (status, result) =
                            fetch_token(&self.http, grant, self.token_timeout, &scrub).await;
                        self.observe(Operation::GetToken, status, started.elapsed());
                        result
                    })
                    .await
                    .map_err(|error| {
                        // A transient IAM failure: the service call was not sent, so any call may
                        // be retried; a rejected key is final.
                        let outcome = match error.status() {
                            Some(400 | 401) => None,
                            _ => Some(Outcome::Connect),
                        };
                        Failure { error, outcome }
                    })?;
                let header = sensitive_header(&format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| Failure {
                        error: Error::Iam(ErrorContext::new(
                            Operation::GetToken,
                            "the IAM token is not a valid header value",
                        )),
                        outcome: None,
                    })?;
                Ok(Some(header))
            }
        }
    }

    /// The request of one attempt, and the progress its body reports (the timeouts watch it).
    fn build(
        &self,
        call: &Call,
        authorization: Option<HeaderValue>,
    ) -> Result<(reqwest::RequestBuilder, Arc<Progress>), Error> {
        let invalid = |message: String| Error::InvalidArgument(ErrorContext::new(call.op, message));
        let url = Url::parse(&format!("{}{}", self.base, call.path))
            .map_err(|e| invalid(format!("cannot build the request URL: {e}")))?;
        let mut request = self.http.request(call.method.clone(), url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if call.accept_json {
            request = request.header(ACCEPT, "application/json");
        }
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        if call.metadata
            && let Some(value) = &self.customer_header
        {
            request = request.header(WATSON_METADATA, value.clone());
        }
        if self.learning_opt_out {
            request = request.header(LEARNING_OPT_OUT, "true");
        }
        let (content_type, body) = match &call.payload {
            Payload::Empty => return Ok((request, Progress::start(Some(0)))),
            Payload::Json(bytes) => (
                HeaderValue::from_static("application/json"),
                Upload::from_bytes(bytes.clone()),
            ),
            Payload::Raw {
                content_type,
                contained_content_type,
                data,
            } => {
                let ct = HeaderValue::from_str(content_type)
                    .map_err(|_| invalid(format!("invalid content type {content_type:?}")))?;
                if let Some(contained) = contained_content_type {
                    let v = HeaderValue::from_str(contained).map_err(|_| {
                        invalid(format!("invalid contained content type {contained:?}"))
                    })?;
                    request = request.header(CONTAINED_CONTENT_TYPE, v);
                }
                (ct, data.clone())
            }
            Payload::CorpusText(text) => (
                HeaderValue::from_static("text/plain; charset=utf-8"),
                text.clone(),
            ),
        };
        let progress = Progress::start(body.length());
        if let Some(length) = body.length() {
            request = request.header(CONTENT_LENGTH, length);
        }
        let stream = progress.track(body.open());
        let request = request
            .header(CONTENT_TYPE, content_type)
            .body(reqwest::Body::wrap_stream(stream));
        Ok((request, progress))
    }

    async fn attempt(&self, call: &Call) -> Result<Success, Failure> {
        let authorization = self.token().await?;
        let auth_text: Option<SecretString> = authorization
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(SecretString::from);
        if let Some(budget) = &self.budget {
            match self.patience {
                None => budget.acquire().await,
                Some(patience) => {
                    if let Err(wait) = budget.acquire_within(patience).await {
                        return Err(Failure {
                            error: Error::RateLimited {
                                context: ErrorContext::new(
                                    call.op,
                                    format!(
                                        "not sent: the request budget of the service is closed for {} s more",
                                        wait.as_secs().max(1)
                                    ),
                                ),
                                retry_after: Some(wait),
                            },
                            outcome: None,
                        });
                    }
                }
            }
        }
        let feedback = |attempt: Attempt| {
            if let Some(budget) = &self.budget {
                budget.feedback(attempt);
            }
        };
        let (request, progress) = self.build(call, authorization).map_err(|error| {
            feedback(Attempt::NotSent);
            Failure {
                error,
                outcome: None,
            }
        })?;
        let started = Instant::now();
        let transport_failure = |e: reqwest::Error| {
            let kind = transport_kind(&e);
            let error = Error::Transport {
                context: ErrorContext::new(
                    call.op,
                    self.scrub_with(&describe_reqwest(&e), auth_text.as_ref()),
                ),
                kind,
            };
            let outcome = if kind == TransportKind::Connect {
                Outcome::Connect
            } else {
                Outcome::Transport
            };
            Failure {
                error,
                outcome: Some(outcome),
            }
        };
        let stalled = |why: String| Failure {
            error: Error::Transport {
                context: ErrorContext::new(call.op, why),
                kind: TransportKind::Timeout,
            },
            outcome: Some(Outcome::Transport),
        };
        let sent = tokio::select! {
            sent = request.send() => sent.map_err(transport_failure),
            why = progress.stalled(self.idle_timeout, self.first_byte_timeout) => {
                Err(stalled(why.to_string()))
            }
        };
        let response = match sent {
            Ok(r) => r,
            Err(failure) => {
                self.observe(call.op, None, started.elapsed());
                feedback(Attempt::NoResponse);
                return Err(failure);
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        feedback(Attempt::Status(
            status,
            headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
        ));
        let limit = response_limit(call.op);
        let body = read_body(response, limit, self.idle_timeout).await;
        self.observe(call.op, Some(status), started.elapsed());
        let body = match body {
            Ok(body) => body,
            Err(BodyError::Transport(e)) => return Err(transport_failure(e)),
            Err(BodyError::Idle(idle)) => {
                return Err(stalled(format!(
                    "HTTP {status}: timed out: the response body made no progress for {} s",
                    idle.as_secs()
                )));
            }
            Err(BodyError::TooLarge) => {
                return Err(Failure {
                    error: Error::Decode(ErrorContext::new(
                        call.op,
                        format!(
                            "HTTP {status}: the response is larger than {limit} bytes; the client reads no more"
                        ),
                    )),
                    outcome: Some(Outcome::Status(status)),
                });
            }
        };
        let tx = transaction_id(&headers);
        tracing::debug!(
            operation = %call.op,
            method = %call.method,
            path = %call.path,
            status,
            transaction_id = tx.as_deref().unwrap_or(""),
            "IBM call"
        );
        if (200..300).contains(&status) {
            return Ok(Success {
                status,
                transaction_id: tx,
                body,
            });
        }
        let scoped = call.scoped();
        if status == 401
            && !scoped
            && let AuthState::Token { cache, .. } = &self.auth
        {
            // The service rejected the token itself: fetch a new one next time.
            cache.invalidate();
        }
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let scrubbed = self.scrub_with(&String::from_utf8_lossy(&body), auth_text.as_ref());
        let error = classify(FailedResponse {
            operation: call.op,
            status,
            scoped,
            body: scrubbed.as_bytes(),
            transaction_id: tx,
            retry_after,
        });
        Err(Failure {
            error,
            outcome: Some(Outcome::Status(status)),
        })
    }
}

/// Replaces each secret in `text` with `[REDACTED]`.
pub(crate) fn scrub_secrets(secrets: &[SecretString], text: &str) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        let s = secret.expose_secret();
        if !s.is_empty() && out.contains(s) {
            out = out.replace(s, "[REDACTED]");
        }
    }
    out
}

/// Decodes a success body; an empty body reads as `{}`.
pub(crate) fn decode<T: DeserializeOwned>(op: Operation, success: &Success) -> Result<T, Error> {
    let body: &[u8] = if success.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &success.body
    };
    serde_json::from_slice(body).map_err(|e| {
        Error::Decode(ErrorContext {
            operation: op,
            status: Some(success.status),
            transaction_id: success.transaction_id.clone(),
            message: e.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_fully_encoded() {
        let op = Operation::GetWord;
        assert_eq!(segment(op, "a/b").expect("seg"), "a%2Fb");
        assert_eq!(segment(op, "c++").expect("seg"), "c%2B%2B");
        assert_eq!(segment(op, "two words").expect("seg"), "two%20words");
        assert_eq!(segment(op, "ｚ").expect("seg"), "%EF%BD%9A");
        assert_eq!(
            segment(op, "a?b#c%d&e=f:g").expect("seg"),
            "a%3Fb%23c%25d%26e%3Df%3Ag"
        );
        assert_eq!(
            segment(op, "74f4807e-b5ff_x.y~z").expect("seg"),
            "74f4807e-b5ff_x.y~z"
        );
        for bad in ["", ".", ".."] {
            let e = segment(op, bad).expect_err("refused");
            assert_eq!(crate::errors::Classified::category(&e), "InvalidArgument");
        }
        assert_eq!(segment(op, "...").expect("seg"), "...");
    }

    #[test]
    fn scoped_paths() {
        assert!(is_scoped_path("/v1/customizations/abc"));
        assert!(is_scoped_path("/v1/customizations/abc/words/x"));
        assert!(is_scoped_path("/v1/acoustic_customizations/abc/audio"));
        assert!(!is_scoped_path("/v1/customizations"));
        assert!(!is_scoped_path("/v1/customizations/"));
        assert!(!is_scoped_path("/v1/acoustic_customizations"));
        assert!(!is_scoped_path("/v1/models/en-US_BroadbandModel"));
        assert!(!is_scoped_path("/v1/user_data"));
    }

    #[test]
    fn decode_accepts_empty_bodies() {
        #[derive(serde::Deserialize, Debug, Default)]
        struct Opt {
            #[serde(default)]
            warnings: Vec<String>,
        }
        for body in ["", "  \n", "{}", "{\"other\":1}"] {
            let s = Success {
                status: 200,
                transaction_id: None,
                body: Bytes::from(body.to_string()),
            };
            let v: Opt = decode(Operation::TrainLanguageModel, &s).expect("decodes");
            assert!(v.warnings.is_empty());
        }
        let bad = Success {
            status: 200,
            transaction_id: Some("tx".into()),
            body: Bytes::from_static(b"<html>"),
        };
        let e = decode::<Opt>(Operation::TrainLanguageModel, &bad).expect_err("fails");
        assert_eq!(crate::errors::Classified::category(&e), "DecodeError");
        assert_eq!(e.transaction_id(), Some("tx"));
    }

    #[test]
    fn scrubbing() {
        let secrets = vec![SecretString::from("s3cr3t")];
        assert_eq!(
            scrub_secrets(&secrets, "key s3cr3t is wrong; s3cr3t!"),
            "key [REDACTED] is wrong; [REDACTED]!"
        );
    }

    #[test]
    fn config_validation() {
        let auth = Auth::None;
        let bad_urls = [
            "https://user:pw@example.com/x",
            "https://example.com/x?q=1",
            "ftp://example.com",
        ];
        for url in bad_urls {
            let cfg = ClientConfig::new(Url::parse(url).expect("url"), auth.clone());
            let e = Transport::new(&cfg).expect_err(url);
            assert!(!e.to_string().contains("pw"), "{e}");
        }
        let mut cfg = ClientConfig::new(Url::parse("http://h/").expect("url"), Auth::None);
        cfg.customer_id = Some("a;b".into());
        assert!(Transport::new(&cfg).is_err());
        cfg.customer_id = Some("tenant-1".into());
        let t = Transport::new(&cfg).expect("valid");
        assert_eq!(t.base_url(), "http://h");
        cfg.ca_bundle_pem = Some(b"not a pem".to_vec());
        assert!(Transport::new(&cfg).is_err());
    }

    #[test]
    fn request_headers() {
        let mut cfg = ClientConfig::new(
            Url::parse("http://h/speech-to-text/").expect("url"),
            Auth::api_key_basic(SecretString::from("KEY")),
        );
        cfg.customer_id = Some("cust".into());
        cfg.learning_opt_out = true;
        let t = Transport::new(&cfg).expect("transport");
        let call = Call::get(Operation::ListWords, "/v1/customizations/id/words".into())
            .query("sort", "+count")
            .with_metadata();
        let auth = match &t.auth {
            AuthState::Header(h) => Some(h.clone()),
            _ => None,
        };
        let req = t
            .build(&call, auth)
            .expect("build")
            .0
            .build()
            .expect("request");
        assert_eq!(
            req.url().as_str(),
            "http://h/speech-to-text/v1/customizations/id/words?sort=%2Bcount"
        );
        let h = req.headers();
        assert_eq!(h[ACCEPT], "application/json");
        assert_eq!(h[WATSON_METADATA], "customer_id=cust");
        assert_eq!(h[LEARNING_OPT_OUT], "true");
        // base64("apikey:KEY")
        assert_eq!(h[AUTHORIZATION], "Basic YXBpa2V5OktFWQ==");
        assert!(h[AUTHORIZATION].is_sensitive());
        assert!(!format!("{h:?}").contains("YXBpa2V5"));

        let call = Call::delete(
            Operation::DeleteVoiceWord,
            "/v1/customizations/id/words/w".into(),
        )
        .without_accept();
        let req = t
            .build(&call, None)
            .expect("build")
            .0
            .build()
            .expect("request");
        assert!(req.headers().get(ACCEPT).is_none());
        assert!(req.headers().get(WATSON_METADATA).is_none());
    }
}
