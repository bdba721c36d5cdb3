//! A scripted HTTP server for client tests that need exact control over responses (status codes,
//! headers, bodies, timings) and a record of every request, independent of the simulator.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use parking_lot::Mutex;
use secrecy::SecretString;
use url::Url;
use watson_speech_operator::watson::{Auth, ClientConfig, RetryPolicy};

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A canned response.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Canned {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Canned {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// An IBM-style error body with a transaction id.
    pub fn ibm_error(status: u16, message: &str) -> Self {
        Canned::json(
            status,
            serde_json::json!({"code": status, "code_description": "x", "error": message}),
        )
        .with_header("x-global-transaction-id", "tx-abc")
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = Arc<dyn Fn(&Recorded, usize) -> Canned + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    requests: Arc<Mutex<Vec<Recorded>>>,
    handler: Handler,
}

/// A running scripted server.
pub struct FakeServer {
    pub url: Url,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Starts a server; `handler` gets each request and the number of earlier requests to the
    /// same path.
    pub async fn start(
        handler: impl Fn(&Recorded, usize) -> Canned + Send + Sync + 'static,
    ) -> FakeServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = ServerState {
            requests: Arc::new(Mutex::new(Vec::new())),
            handler: Arc::new(handler),
        };
        let requests = state.requests.clone();
        let app = axum::Router::new().fallback(handle).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeServer {
            url: Url::parse(&format!("http://{addr}")).expect("url"),
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().clone()
    }

    pub fn requests_to(&self, path_prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .collect()
    }

    /// A config for this server with the given auth and no retries.
    pub fn config(&self, auth: Auth) -> ClientConfig {
        let mut c = ClientConfig::new(self.url.clone(), auth);
        c.retry = RetryPolicy::none();
        c.first_byte_timeout = Duration::from_secs(10);
        c.idle_timeout = Duration::from_secs(10);
        c
    }
}

async fn handle(State(state): State<ServerState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body,
        at: Instant::now(),
    };
    let earlier = {
        let mut requests = state.requests.lock();
        let n = requests.iter().filter(|r| r.path == recorded.path).count();
        requests.push(recorded.clone());
        n
    };
    let canned = (state.handler)(&recorded, earlier);
    if !canned.delay.is_zero() {
        tokio::time::sleep(canned.delay).await;
    }
    let mut response = Response::new(Body::from(canned.body));
    *response.status_mut() = StatusCode::from_u16(canned.status).expect("status");
    for (name, value) in canned.headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).expect("header"));
    }
    response
}

/// A JWT-looking token with `iat`/`exp` claims.
pub fn fake_jwt(n: usize, ttl_secs: u64) -> String {
    use base64::Engine as _;
    let enc = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let now = chrono::Utc::now().timestamp();
    format!(
        "{}.{}.sig",
        enc(r#"{"alg":"RS256"}"#.to_string()),
        enc(format!(
            r#"{{"n":{n},"iat":{now},"exp":{}}}"#,
            now + ttl_secs as i64
        ))
    )
}

/// An IAM success answer.
pub fn iam_token(n: usize, ttl_secs: u64) -> Canned {
    Canned::json(
        200,
        serde_json::json!({
            "access_token": fake_jwt(n, ttl_secs),
            "refresh_token": "not-used",
            "token_type": "Bearer",
            "expires_in": ttl_secs,
            "expiration": chrono::Utc::now().timestamp() + ttl_secs as i64,
        }),
    )
}

/// Auth::Iam against this server.
pub fn iam_auth(server_url: &Url, key: &str) -> Auth {
    Auth::Iam {
        api_key: SecretString::from(key.to_string()),
        url: server_url.clone(),
    }
}

/// A canary used by the redaction tests.
pub const CANARY: &str = "CANARY-9f8e7d6c5b4a";

/// A URL on which nothing listens (connection refused).
pub async fn refused_url() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    Url::parse(&format!("http://{addr}")).expect("url")
}
