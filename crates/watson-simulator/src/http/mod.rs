//! The HTTP shell: the shared [`Sim`] context, the router, the global middleware (transaction
//! ids, fault injection, authentication, request log, error-shape normalisation) and the accept
//! loop (plain TCP or TLS, HTTP/1.1 via hyper).

pub mod admin;
pub mod errors;
pub mod iam;
pub mod stt;
pub mod tts;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use super::api::{Faults, Quirks, RequestRecord, RuntimeConfig};
use super::auth::{self, TokenIssuer};
use super::clock::SharedClock;
use super::faults::{self, FaultAction};
use super::log::{RequestLog, classify};
use super::state::{Ctx, State};
use errors::{ApiError, error_response};

/// Largest request body accepted (audio resources are limited to 100 MB by the API).
pub const BODY_LIMIT: usize = 110 * 1024 * 1024;

/// Everything the handlers share.
#[derive(Debug)]
pub struct Sim {
    pub clock: SharedClock,
    pub state: Mutex<State>,
    pub runtime: Mutex<RuntimeConfig>,
    pub faults: Mutex<Faults>,
    /// IBM behaviours switched on by the admin API (none by default).
    pub quirks: Mutex<Quirks>,
    /// Models that stay locked (admin knob): every non-GET request naming one answers 409, as
    /// for a model busy with another request, while its status reads as usual.
    pub locked: Mutex<HashSet<String>>,
    pub log: Mutex<RequestLog>,
    pub api_keys: HashSet<String>,
    pub auth_required: bool,
    pub tokens: TokenIssuer,
    /// Set on every mutating request; the state-file writer clears it.
    pub changed: AtomicBool,
    /// `http` or `https`.
    pub scheme: &'static str,
}

impl Sim {
    /// The time context for an operation now.
    pub fn ctx(&self) -> Ctx {
        Ctx {
            now: self.clock.now_ms(),
            time_scale: self.runtime.lock().time_scale,
        }
    }

    /// Now, Unix ms.
    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The model cap.
    pub fn model_cap(&self) -> usize {
        self.runtime.lock().model_cap
    }
}

/// Marker extension: the accept loop closes the connection instead of answering.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// The error the hyper service returns to abort a connection.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
pub struct Dropped;

/// Query string as a map (later duplicates win); never fails.
pub fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The `customer_id` of an `X-Watson-Metadata` header.
pub fn customer_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("x-watson-metadata")?.to_str().ok()?;
    v.split(';').find_map(|kv| {
        let (k, val) = kv.split_once('=')?;
        (k.trim() == "customer_id" && !val.trim().is_empty()).then(|| val.trim().to_owned())
    })
}

/// The `Content-Type` header, if readable.
pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE)?.to_str().ok()
}

/// Parses a JSON body (400 when malformed; an empty body parses as `{}`).
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "The request body is not valid JSON for this operation: {e}"
        ))
    })
}

/// A JSON response.
pub fn json_response(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// An empty response.
pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// The base URL a client used (`scheme://host`), for URLs in responses.
pub fn request_base(sim: &Sim, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", sim.scheme)
}

fn transaction_id() -> String {
    let bytes: [u8; 12] = rand::random();
    format!("sim-{}", hex::encode(bytes))
}

/// Builds the application.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .nest("/speech-to-text", stt::router())
        .nest("/text-to-speech", tts::router())
        .route("/identity/token", axum::routing::post(iam::token))
        .route(
            "/icp4d-api/v1/authorize",
            axum::routing::post(iam::cloud_pak_authorize),
        )
        .nest("/_simulator", admin::router())
        .fallback(|| async { error_response(404, "No such child resource.") })
        .layer(middleware::from_fn_with_state(sim.clone(), global))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(sim)
}

/// The middleware every request goes through.
async fn global(AxState(sim): AxState<Arc<Sim>>, req: Request, next: Next) -> Response {
    let txn = transaction_id();
    let admin = req.uri().path().starts_with("/_simulator");
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        sim.changed.store(true, Ordering::Relaxed);
    }
    let mut resp = if admin {
        next.run(req).await
    } else {
        api_request(&sim, req, next).await
    };
    resp = normalise_error(resp).await;
    if let Ok(v) = HeaderValue::from_str(&txn) {
        resp.headers_mut().insert("x-global-transaction-id", v);
    }
    resp
}

async fn api_request(sim: &Sim, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at_ms = sim.now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (operation, customization_id) = classify(&method, &path);
    // A recognition names its custom model in the query: the log shows which model it used.
    let customization_id = customization_id.or_else(|| {
        (operation == Some(watson_client::Operation::Recognize))
            .then(|| {
                url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "language_customization_id")
                    .map(|(_, v)| v.into_owned())
            })
            .flatten()
    });
    let (req, model_name) = model_name_of(sim, req, operation, customization_id.as_deref()).await;
    let f = sim.faults.lock().clone();
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    // The token endpoints (IAM, Cloud Pak for Data) need no Authorization and share the IAM faults.
    let is_iam = path.starts_with("/identity/") || path.starts_with("/icp4d-api/");
    let action = if f == Faults::default() {
        FaultAction::Pass
    } else {
        faults::decide(&f, is_iam, rand::random(), rand::random())
    };
    let resp = match action {
        FaultAction::Drop => {
            let mut r = Response::new(Body::empty());
            r.extensions_mut().insert(DropConnection);
            r
        }
        FaultAction::Fail(status) => {
            let mut r = error_response(
                status,
                &format!("Injected fault: {}", errors::code_description(status)),
            );
            if matches!(status, 429 | 503)
                && let Ok(v) = HeaderValue::from_str(&f.retry_after_seconds.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        FaultAction::Pass => {
            let needs_auth = sim.auth_required && !is_iam;
            let auth_header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok());
            if needs_auth
                && !auth::authorized(auth_header, &sim.api_keys, &sim.tokens, at_ms / 1000)
            {
                errors::unauthorized()
            } else if sim.quirks.lock().lite_plan && is_customization(&path) {
                error_response(400, super::api::LITE_PLAN_MESSAGE)
            } else if method != http::Method::GET
                && let Some(id) = customization_id
                    .as_deref()
                    .filter(|id| sim.locked.lock().contains(*id))
            {
                let busy = super::state::SimError::busy(id);
                error_response(busy.status(), &busy.to_string())
            } else {
                let resp = next.run(req).await;
                // The service acted; the answer may still be lost on the way back.
                let lost = !is_iam
                    && faults::lose_answer(
                        &mut sim.faults.lock(),
                        method != http::Method::GET,
                        operation.map(|o| o.as_str()),
                        customization_id.as_deref(),
                        model_name.as_deref(),
                        resp.status().as_u16(),
                        rand::random(),
                    );
                if lost {
                    sim.log.lock().lost_answer();
                    let mut r = Response::new(Body::empty());
                    r.extensions_mut().insert(DropConnection);
                    r
                } else {
                    resp
                }
            }
        }
    };
    let status = if resp.extensions().get::<DropConnection>().is_some() {
        0
    } else {
        resp.status().as_u16()
    };
    let record = RequestRecord {
        seq: 0,
        at_ms,
        method: method.to_string(),
        path,
        operation: operation.map(|o| o.as_str().to_owned()),
        status,
        customization_id,
        model_name,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    sim.log.lock().record(record, operation);
    resp
}

/// The name of the model a request is about, read before the service acts (a delete leaves
/// nothing to look up afterwards): the `name` a create sends (its body is read and put back),
/// else the name of the model `customization_id` names, if it exists.
async fn model_name_of(
    sim: &Sim,
    req: Request,
    operation: Option<watson_client::Operation>,
    customization_id: Option<&str>,
) -> (Request, Option<String>) {
    use watson_client::Operation::{CreateAcousticModel, CreateLanguageModel, CreateVoiceModel};
    if let Some(id) = customization_id {
        return (req, sim.state.lock().model_name(id));
    }
    if !matches!(
        operation,
        Some(CreateLanguageModel | CreateAcousticModel | CreateVoiceModel)
    ) {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        // Too large or broken: the handler answers it as it would (an empty body).
        return (Request::from_parts(parts, Body::empty()), None);
    };
    let name = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("name")?.as_str().map(str::to_owned));
    (Request::from_parts(parts, Body::from(bytes)), name)
}

/// Whether `path` is a customization request of either service (what a Lite-plan instance
/// refuses); base-model and voice listings are not.
fn is_customization(path: &str) -> bool {
    ["/speech-to-text/v1/", "/text-to-speech/v1/"]
        .iter()
        .filter_map(|prefix| path.strip_prefix(prefix))
        .any(|rest| {
            ["customizations", "acoustic_customizations", "user_data"]
                .iter()
                .any(|c| rest == *c || rest.starts_with(&format!("{c}/")))
        })
}

/// Rewrites error responses that did not come from our handlers (axum rejections, 405) into
/// IBM's error shape.
async fn normalise_error(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if message.is_empty() {
        errors::code_description(status.as_u16()).to_owned()
    } else {
        message
    };
    let mut fresh = error_response(status.as_u16(), &message);
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(k.clone(), v.clone());
        }
    }
    fresh
}

/// Serves `router` on `listener` until `shutdown` flips to true, then drains connections.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let watcher = graceful.watcher();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let router = router.clone();
                        async move {
                            let resp = match router.oneshot(req.map(Body::new)).await {
                                Ok(r) => r,
                                Err(never) => match never {},
                            };
                            if resp.extensions().get::<DropConnection>().is_some() {
                                Err(Dropped)
                            } else {
                                Ok::<_, Dropped>(resp)
                            }
                        }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    let result = match tls {
                        None => {
                            let io = hyper_util::rt::TokioIo::new(stream);
                            watcher.watch(builder.serve_connection(io, service)).await
                        }
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(s) => {
                                let io = hyper_util::rt::TokioIo::new(s);
                                watcher.watch(builder.serve_connection(io, service)).await
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                        },
                    };
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}
