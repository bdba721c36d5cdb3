//! Errors of the IBM client, classified for the reconcilers.
//!
//! Every HTTP-level error carries an [`ErrorContext`]: the [`Operation`], the HTTP status (when a
//! response arrived), the `X-Global-Transaction-Id` (when the service sent one) and a message taken
//! from the response body. Messages never contain credentials: the client never puts them into
//! messages, and it scrubs any configured secret from text that came from the network before it
//! builds an error.
//!
//! # The 401 rule
//!
//! IBM answers **401** both for bad credentials and for a customization id that does not exist or
//! belongs to another service instance. The client tells them apart by what the request targets:
//!
//! * a 401 on a path that names a customization id (`/v1/customizations/{id}/...`,
//!   `/v1/acoustic_customizations/{id}/...`) is [`Error::NotFoundOrForbidden`];
//! * a 401 on a collection path (`/v1/customizations`, `/v1/models`, `/v1/user_data`, ...) is
//!   [`Error::Unauthorized`];
//! * a failed IAM token exchange is [`Error::Iam`], a failed Cloud Pak for Data one
//!   [`Error::CloudPakToken`] (credentials class for 400/401).
//!
//! Before a model-scoped 401 reaches the caller, the client confirms it with one collection call
//! (`GET /v1/customizations`) using the same credentials: when that is refused too, the error is
//! [`Error::Unauthorized`] (a revoked Bearer token, a wrong password, an expired token), so a
//! caller never takes refused credentials for a vanished model (issue 15, case 8).

use std::fmt;
use std::time::Duration;

use crate::errors::{Classified, RetryClass};

use super::Operation;

/// The message IBM returns (HTTP 400) when a training or an upgrade has nothing new to work on.
pub const NO_INPUT_MODIFIED: &str = "No input data modified since last training";

/// What every request-level error carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorContext {
    /// The IBM operation that failed.
    pub operation: Operation,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The `X-Global-Transaction-Id` response header, when present.
    pub transaction_id: Option<String>,
    /// A human-readable message (from the response body, or a description of the failure).
    pub message: String,
}

impl ErrorContext {
    /// A context without a response (transport failures, argument checks).
    pub fn new(operation: Operation, message: impl Into<String>) -> Self {
        ErrorContext {
            operation,
            status: None,
            transaction_id: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.transaction_id {
            write!(f, " [transaction id {id}]")?;
        }
        Ok(())
    }
}

/// What kind of transport failure happened; decides whether a non-idempotent call may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection could not be established: the request was never sent.
    Connect,
    /// The request or the response timed out.
    Timeout,
    /// Anything else (connection reset mid-request, body read failure, ...).
    Other,
}

/// An error of the IBM client. See the module docs for how 401 is interpreted.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// HTTP 409: another operation on the same custom model is running.
    #[error("the custom model is busy: {0}")]
    Busy(ErrorContext),
    /// HTTP 400: the request is invalid in the model's current state (including
    /// [`NO_INPUT_MODIFIED`], see [`Error::is_no_input_modified`]).
    #[error("invalid request: {0}")]
    InvalidRequest(ErrorContext),
    /// HTTP 400 whose message says the instance's plan does not include customization (IBM's
    /// Lite plan: "not available for the Lite plan ... upgrade to a paid plan",
    /// `watson-api.md` §4.2, §16). Terminal for the instance until its plan changes.
    #[error(
        "the service plan does not allow customization (upgrade the instance to a paid plan): {0}"
    )]
    PlanNotSupported(ErrorContext),
    /// HTTP 401 on a request that names a customization id: the id is unknown, or owned by another
    /// service instance.
    #[error("customization not found or not owned by these credentials: {0}")]
    NotFoundOrForbidden(ErrorContext),
    /// HTTP 404, e.g. an unknown base model.
    #[error("not found: {0}")]
    NotFound(ErrorContext),
    /// HTTP 401 on a collection path, or 403: the credentials are wrong.
    #[error("unauthorized: {0}")]
    Unauthorized(ErrorContext),
    /// HTTP 429, with the parsed `Retry-After`.
    #[error("rate limited: {context}")]
    RateLimited {
        /// The common context.
        context: ErrorContext,
        /// How long the service asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// HTTP 5xx.
    #[error("service unavailable: {0}")]
    ServiceUnavailable(ErrorContext),
    /// Any other non-success status (405, 406, 413, 415, 3xx, ...): the request shape is wrong.
    #[error("unsupported request: {0}")]
    Unsupported(ErrorContext),
    /// The request could not be sent or the response could not be read.
    #[error("transport failure: {context}")]
    Transport {
        /// The common context (no status).
        context: ErrorContext,
        /// Which kind of transport failure.
        kind: TransportKind,
    },
    /// A success response whose body could not be decoded.
    #[error("cannot decode the response: {0}")]
    Decode(ErrorContext),
    /// The IAM token exchange failed (non-2xx, transport failure or undecodable answer).
    #[error("IAM token request failed: {0}")]
    Iam(ErrorContext),
    /// The Cloud Pak for Data token request (`/v1/authorize`) failed (non-2xx, transport failure
    /// or undecodable answer).
    #[error("Cloud Pak for Data token request failed: {0}")]
    CloudPakToken(ErrorContext),
    /// An argument was rejected before sending (e.g. a path segment `..`).
    #[error("invalid argument: {0}")]
    InvalidArgument(ErrorContext),
    /// The client configuration is unusable (bad URL, CA bundle, customer id, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The common context, for every variant but [`Error::Config`].
    pub fn context(&self) -> Option<&ErrorContext> {
        match self {
            Error::Busy(c)
            | Error::InvalidRequest(c)
            | Error::PlanNotSupported(c)
            | Error::NotFoundOrForbidden(c)
            | Error::NotFound(c)
            | Error::Unauthorized(c)
            | Error::ServiceUnavailable(c)
            | Error::Unsupported(c)
            | Error::Decode(c)
            | Error::Iam(c)
            | Error::CloudPakToken(c)
            | Error::InvalidArgument(c) => Some(c),
            Error::RateLimited { context, .. } | Error::Transport { context, .. } => Some(context),
            Error::Config(_) => None,
        }
    }

    /// The operation that failed.
    pub fn operation(&self) -> Option<crate::Operation> {
        self.context().map(|c| c.operation)
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.context().and_then(|c| c.status)
    }

    /// The `X-Global-Transaction-Id` of the failed response, when present.
    pub fn transaction_id(&self) -> Option<&str> {
        self.context().and_then(|c| c.transaction_id.as_deref())
    }

    /// The message (from the response body when there was one).
    pub fn message(&self) -> &str {
        match self {
            Error::Config(m) => m,
            other => other
                .context()
                .map(|c| c.message.as_str())
                .unwrap_or_default(),
        }
    }

    /// The `Retry-After` the service sent with a 429.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True for the 400 `No input data modified since last training` (train or upgrade with
    /// nothing new; retry the upgrade with `force=true`, or treat a train as already done).
    pub fn is_no_input_modified(&self) -> bool {
        matches!(self, Error::InvalidRequest(c)
            if c.message.to_ascii_lowercase().contains(&NO_INPUT_MODIFIED.to_ascii_lowercase()))
    }

    /// True for IBM's 400 to an add without `allow_overwrite` whose resource (corpus, grammar,
    /// audio) already exists under that name in the same class ("Corpus 'x' already exists. Set
    /// the 'allow_overwrite' flag to 'true' to replace it."): after an add whose answer was lost,
    /// the resource is there. A name taken by the other class (a grammar named like the corpus)
    /// is not this case: overwriting would not help.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::InvalidRequest(c) if {
            let m = c.message.to_ascii_lowercase();
            m.contains("already exists") && m.contains("allow_overwrite")
        })
    }

    /// True for the 400 to an upgrade of a model that is already on the newest version of its
    /// base model ("The custom model is already based on the latest version of base model ..."):
    /// after an upgrade whose answer was lost, the upgrade has been done.
    pub fn is_already_latest(&self) -> bool {
        matches!(self, Error::InvalidRequest(c)
            if c.message.to_ascii_lowercase().contains("already based on the latest version"))
    }

    /// True when the customization id is unknown to these credentials (401 on a model path).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFoundOrForbidden(_) | Error::NotFound(_))
    }
}

impl Classified for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::Busy(_) => "ModelBusy",
            Error::InvalidRequest(_) => "InvalidRequest",
            Error::PlanNotSupported(_) => "PlanNotSupported",
            Error::NotFoundOrForbidden(_) => "NotFoundOrForbidden",
            Error::NotFound(_) => "NotFound",
            Error::Unauthorized(_) => "Unauthorized",
            Error::RateLimited { .. } => "RateLimited",
            Error::ServiceUnavailable(_) => "ServiceUnavailable",
            Error::Unsupported(_) => "UnsupportedRequest",
            Error::Transport { .. } => "TransportError",
            Error::Decode(_) => "DecodeError",
            Error::Iam(_) => "IamTokenFailure",
            Error::CloudPakToken(_) => "CloudPakTokenFailure",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::Config(_) => "InvalidClientConfig",
        }
    }

    fn retry_class(&self) -> RetryClass {
        match self {
            Error::Busy(_) => RetryClass::WaitForService,
            Error::InvalidRequest(_)
            | Error::PlanNotSupported(_)
            | Error::NotFoundOrForbidden(_)
            | Error::NotFound(_)
            | Error::Unsupported(_)
            | Error::InvalidArgument(_)
            | Error::Config(_) => RetryClass::WaitForSpecChange,
            Error::Unauthorized(_) => RetryClass::Credentials,
            Error::RateLimited { .. }
            | Error::ServiceUnavailable(_)
            | Error::Transport { .. }
            | Error::Decode(_) => RetryClass::Backoff,
            Error::Iam(c) | Error::CloudPakToken(c) => match c.status {
                Some(400) | Some(401) => RetryClass::Credentials,
                _ => RetryClass::Backoff,
            },
        }
    }
}

/// Extracts the message of an IBM error body: `error` → `message` → `errorMessage` →
/// `errors[0].message`, else `None` (the caller falls back to the reason phrase).
pub fn body_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = value.as_object()?;
    let as_text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Null | serde_json::Value::String(_) => None,
        other => Some(other.to_string()),
    };
    for key in ["error", "message", "errorMessage"] {
        if let Some(text) = obj.get(key).and_then(as_text) {
            return Some(text);
        }
    }
    obj.get("errors")
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("message"))
        .and_then(as_text)
}

/// Whether a 400 message says the instance's plan does not allow the request: it names a plan and
/// tells the user to upgrade it or that the feature is not available on it (the Lite-plan answer
/// users reported; the exact wording is UNCONFIRMED, so the rule is loose).
pub fn is_plan_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("plan")
        && (m.contains("upgrade") || m.contains("not available") || m.contains("lite"))
}

/// Everything needed to classify a non-success response.
#[derive(Debug)]
pub struct FailedResponse<'a> {
    pub operation: Operation,
    pub status: u16,
    /// Whether the request path names a customization id (see the module docs).
    pub scoped: bool,
    pub body: &'a [u8],
    pub transaction_id: Option<String>,
    pub retry_after: Option<Duration>,
}

/// Turns a non-success service response into an [`Error`]. Pure.
pub fn classify(resp: FailedResponse<'_>) -> Error {
    let reason = http::StatusCode::from_u16(resp.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown status");
    let context = ErrorContext {
        operation: resp.operation,
        status: Some(resp.status),
        transaction_id: resp.transaction_id,
        message: body_message(resp.body).unwrap_or_else(|| reason.to_string()),
    };
    match resp.status {
        400 if is_plan_message(&context.message) => Error::PlanNotSupported(context),
        400 => Error::InvalidRequest(context),
        401 if resp.scoped => Error::NotFoundOrForbidden(context),
        401 | 403 => Error::Unauthorized(context),
        404 => Error::NotFound(context),
        409 => Error::Busy(context),
        429 => Error::RateLimited {
            context,
            retry_after: resp.retry_after,
        },
        500..=599 => Error::ServiceUnavailable(context),
        _ => Error::Unsupported(context),
    }
}

const TRANSACTION_ID: &str = "x-global-transaction-id";

/// The `X-Global-Transaction-Id` of a response.
pub(crate) fn transaction_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(TRANSACTION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A reqwest error with its causes (no credentials: they never appear in URLs, see
/// `Transport::new` in `http.rs`).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(status: u16, scoped: bool, body: &str) -> Error {
        classify(FailedResponse {
            operation: Operation::TrainLanguageModel,
            status,
            scoped,
            body: body.as_bytes(),
            transaction_id: Some("tx-1".into()),
            retry_after: Some(Duration::from_secs(3)),
        })
    }

    #[test]
    fn message_parsing_order() {
        assert_eq!(
            body_message(br#"{"error":"a","message":"b","errorMessage":"c"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            body_message(br#"{"message":"b","errorMessage":"c"}"#).as_deref(),
            Some("b")
        );
        assert_eq!(
            body_message(br#"{"errorMessage":"c","errors":[{"message":"d"}]}"#).as_deref(),
            Some("c")
        );
        assert_eq!(
            body_message(br#"{"errors":[{"message":"d"}]}"#).as_deref(),
            Some("d")
        );
        assert_eq!(body_message(b"<html>oops</html>"), None);
        assert_eq!(body_message(b""), None);
        assert_eq!(body_message(br#"{"error":""}"#), None);
    }

    #[test]
    fn classification_by_status_and_path() {
        let cases: &[(u16, bool, &str, RetryClass)] = &[
            (400, true, "InvalidRequest", RetryClass::WaitForSpecChange),
            (
                401,
                true,
                "NotFoundOrForbidden",
                RetryClass::WaitForSpecChange,
            ),
            (401, false, "Unauthorized", RetryClass::Credentials),
            (403, true, "Unauthorized", RetryClass::Credentials),
            (404, false, "NotFound", RetryClass::WaitForSpecChange),
            (
                405,
                true,
                "UnsupportedRequest",
                RetryClass::WaitForSpecChange,
            ),
            (
                406,
                true,
                "UnsupportedRequest",
                RetryClass::WaitForSpecChange,
            ),
            (409, true, "ModelBusy", RetryClass::WaitForService),
            (
                415,
                true,
                "UnsupportedRequest",
                RetryClass::WaitForSpecChange,
            ),
            (429, true, "RateLimited", RetryClass::Backoff),
            (500, true, "ServiceUnavailable", RetryClass::Backoff),
            (503, false, "ServiceUnavailable", RetryClass::Backoff),
            (
                301,
                false,
                "UnsupportedRequest",
                RetryClass::WaitForSpecChange,
            ),
        ];
        for (status, scoped, category, class) in cases {
            let e = failed(*status, *scoped, r#"{"code":1,"error":"boom"}"#);
            assert_eq!(e.category(), *category, "status {status}");
            assert_eq!(e.retry_class(), *class, "status {status}");
            assert_eq!(e.status(), Some(*status));
            assert_eq!(e.transaction_id(), Some("tx-1"));
            assert_eq!(e.operation(), Some(Operation::TrainLanguageModel));
            assert_eq!(e.message(), "boom");
        }
    }

    #[test]
    fn rate_limited_keeps_retry_after() {
        let e = failed(429, false, "");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(e.message(), "Too Many Requests");
    }

    #[test]
    fn recognises_no_input_modified() {
        let e = failed(
            400,
            true,
            r#"{"code":400,"code_description":"Bad Request","error":"No input data modified since last training"}"#,
        );
        assert!(e.is_no_input_modified());
        assert!(!failed(400, true, r#"{"error":"other"}"#).is_no_input_modified());
        assert!(
            !failed(
                409,
                true,
                r#"{"error":"No input data modified since last training"}"#
            )
            .is_no_input_modified()
        );
    }

    /// After a lost answer (issue 24): IBM's "already exists" to an add without
    /// `allow_overwrite`, and "already based on the latest version" to an upgrade, are told apart
    /// from other 400s (a name taken by the other class is not "already exists").
    #[test]
    fn the_answers_after_a_lost_answer_are_recognised() {
        let exists = failed(
            400,
            true,
            r#"{"error":"Corpus 'c' already exists. Set the 'allow_overwrite' flag to 'true' to replace it."}"#,
        );
        assert!(exists.is_already_exists());
        let other_class = failed(
            400,
            true,
            r#"{"error":"A grammar named 'c' already exists; corpus and grammar names must be unique."}"#,
        );
        assert!(!other_class.is_already_exists());
        let latest = failed(
            400,
            true,
            r#"{"error":"The custom model is already based on the latest version of base model 'en-US_BroadbandModel' (en-US_BroadbandModel.v2020-01-16)."}"#,
        );
        assert!(latest.is_already_latest());
        assert!(!exists.is_already_latest());
        assert!(
            !failed(409, true, r#"{"error":"already exists allow_overwrite"}"#).is_already_exists()
        );
    }

    #[test]
    fn iam_retry_class_depends_on_status() {
        let mut c = ErrorContext::new(Operation::GetToken, "nope");
        c.status = Some(400);
        assert_eq!(Error::Iam(c.clone()).retry_class(), RetryClass::Credentials);
        c.status = Some(401);
        assert_eq!(Error::Iam(c.clone()).retry_class(), RetryClass::Credentials);
        c.status = Some(503);
        assert_eq!(Error::Iam(c.clone()).retry_class(), RetryClass::Backoff);
        c.status = None;
        assert_eq!(Error::Iam(c).retry_class(), RetryClass::Backoff);
    }

    #[test]
    fn display_includes_operation_status_and_transaction() {
        let text = failed(409, true, r#"{"error":"locked"}"#).to_string();
        assert!(text.contains("train_language_model"), "{text}");
        assert!(text.contains("HTTP 409"), "{text}");
        assert!(text.contains("tx-1"), "{text}");
        assert!(text.contains("locked"), "{text}");
    }
}
