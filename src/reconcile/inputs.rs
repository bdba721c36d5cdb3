//! Resolving the inputs a model references (inline text, ConfigMap keys, Secret keys, URLs) into
//! bytes and digests. Digests let the decision notice a change without keeping the content.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};

use super::sources::SourcePolicy;
use crate::crd::language_model::CustomWord;
use crate::crd::voice_model::VoiceWord;
use crate::crd::{ConfigMapKeyRef, SecretKeyRef};
use crate::decision::text::redact_url;
use crate::errors::{Classified, RetryClass};
use crate::watson::{Upload, UploadError, UploadStream};

/// Largest URL download accepted (the service's own limit for audio is 100 MB).
pub const MAX_URL_BYTES: usize = 100 * 1024 * 1024;

/// Largest word list accepted, in bytes: a ConfigMap holds at most 1 MiB (etcd's object limit
/// in practice), so a larger value cannot come from the API server; the check keeps the parser's
/// input bounded whatever the source.
pub const MAX_WORD_LIST_BYTES: usize = 1024 * 1024;

/// A missing or unusable input. Messages name the field and the object, never the content:
/// status and Events are readable by more people than the ConfigMap or Secret may be.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The ConfigMap or Secret, or its key, does not exist.
    #[error("{kind} {name} {detail}: create it or fix the reference")]
    NotFound {
        kind: &'static str,
        name: String,
        detail: String,
    },
    /// The content could not be parsed (e.g. a word list); the text says where, not what.
    #[error("{0}")]
    Malformed(String),
    /// A URL could not be fetched (`url` as [`redact_url`] shows it).
    #[error("fetching {url}: {detail}")]
    Fetch { url: String, detail: String },
    /// A `url` source the operator's policy does not fetch ([`SourcePolicy`]): plain http, or
    /// an address (loopback, link-local, metadata) the administrator has not allowed.
    #[error("{url} is not fetched: {why}")]
    NotAllowed { url: String, why: String },
    /// An input is larger than allowed: `what` names it (a field and object, or a redacted URL),
    /// `limit` says the bound that was passed.
    #[error("{what} is larger than allowed: {limit}")]
    TooLarge { what: String, limit: String },
    /// Kubernetes API failure while reading an input.
    #[error("reading {0}")]
    Kube(#[from] kube::Error),
}

impl Classified for InputError {
    fn category(&self) -> &'static str {
        match self {
            InputError::NotFound { .. } => "InputNotFound",
            InputError::Malformed(_) => "InputMalformed",
            InputError::Fetch { .. } => "InputFetchFailed",
            InputError::TooLarge { .. } => "InputTooLarge",
            InputError::NotAllowed { .. } => "InputNotAllowed",
            InputError::Kube(_) => "KubernetesError",
        }
    }

    fn retry_class(&self) -> RetryClass {
        match self {
            // Woken by the ConfigMap/Secret watches.
            InputError::NotFound { .. }
            | InputError::Malformed(_)
            | InputError::TooLarge { .. }
            | InputError::NotAllowed { .. } => RetryClass::WaitForSpecChange,
            InputError::Fetch { .. } | InputError::Kube(_) => RetryClass::Backoff,
        }
    }
}

/// How many URL sources [`UrlDigests`] remembers: beyond, the least recently read is forgotten
/// (and read whole at its next use). An entry is about 200 bytes.
pub const URL_DIGESTS: usize = 4096;

/// What the last full read of a URL source found, for a conditional GET next time.
#[derive(Clone, Debug)]
pub struct Validated {
    /// The `ETag` the server sent with the content.
    etag: Option<reqwest::header::HeaderValue>,
    /// The `Last-Modified` the server sent with the content.
    last_modified: Option<reqwest::header::HeaderValue>,
    /// The content's digest and length.
    streamed: Streamed,
}

impl Validated {
    /// The response's `ETag` and `Last-Modified`, or `None` when it has neither (a conditional
    /// GET is then impossible).
    fn validators_of(
        resp: &reqwest::Response,
    ) -> Option<(
        Option<reqwest::header::HeaderValue>,
        Option<reqwest::header::HeaderValue>,
    )> {
        let h = resp.headers();
        let etag = h.get(reqwest::header::ETAG).cloned();
        let modified = h.get(reqwest::header::LAST_MODIFIED).cloned();
        (etag.is_some() || modified.is_some()).then_some((etag, modified))
    }
}

/// The validators and digests of the URL sources read last, at most [`URL_DIGESTS`] of them,
/// keyed by the SHA-256 of the URL (a presigned URL's signature is not kept a second time).
/// Shared by every reconcile of the process.
pub struct UrlDigests(parking_lot::Mutex<lru::LruCache<String, Validated>>);

impl Default for UrlDigests {
    fn default() -> Self {
        Self::with_capacity(URL_DIGESTS)
    }
}

impl UrlDigests {
    /// A cache of at most `capacity` URLs (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = std::num::NonZeroUsize::new(capacity).unwrap_or(std::num::NonZeroUsize::MIN);
        UrlDigests(parking_lot::Mutex::new(lru::LruCache::new(capacity)))
    }

    fn key(url: &str) -> String {
        crate::decision::digest::sha256_hex(url.as_bytes())
    }

    fn get(&self, key: &str) -> Option<Validated> {
        self.0.lock().get(key).cloned()
    }

    /// Remembers a full read; `None` (no validators) forgets the URL.
    fn put(&self, key: String, validated: Option<Validated>) {
        let mut cache = self.0.lock();
        match validated {
            Some(v) => {
                cache.put(key, v);
            }
            None => {
                cache.pop(&key);
            }
        }
    }

    /// How many URLs are remembered.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A data source's content for the desired state ([`Resolver::content`]).
#[derive(Debug)]
pub struct Content {
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// The content; `None` for a `url` or `urlFrom` source, which the upload streams again.
    pub bytes: Option<Vec<u8>>,
}

/// A `url` or `urlFrom` source, resolved: the URL, and how messages name it.
#[derive(Clone)]
pub struct UrlSource {
    url: String,
    /// For a URL held in a Secret: the Secret and key, shown instead of the URL.
    label: Option<String>,
}

impl std::fmt::Debug for UrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.label {
            Some(label) => f.write_str(label),
            None => f.write_str(&redact_url(&self.url)),
        }
    }
}

impl UrlSource {
    /// `e` naming this source: a URL held in a Secret is never shown, its Secret and key are.
    fn relabel(&self, e: InputError) -> InputError {
        let Some(label) = &self.label else {
            return e;
        };
        match e {
            InputError::Fetch { detail, .. } => InputError::Fetch {
                url: label.clone(),
                detail,
            },
            InputError::NotAllowed { why, .. } => InputError::NotAllowed {
                url: label.clone(),
                why,
            },
            InputError::TooLarge { limit, .. } => InputError::TooLarge {
                what: label.clone(),
                limit,
            },
            other => other,
        }
    }
}

/// Longest wait for a `url` source's answer once the request was sent.
pub const URL_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest time no byte of a `url` source arrives while it is read: a large download on a slow
/// link is not cut as long as it keeps moving.
pub const URL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What reading a `url` source to its end, without keeping it, tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streamed {
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Its length in bytes.
    pub length: u64,
}

fn too_large(url: &str) -> InputError {
    InputError::TooLarge {
        what: redact_url(url),
        limit: format!("{MAX_URL_BYTES} bytes"),
    }
}

fn changed(url: &str, was: u64, now: u64) -> InputError {
    InputError::Fetch {
        url: redact_url(url),
        detail: format!(
            "the content changed while it was uploaded ({was} bytes when read, now {now}); it is read again"
        ),
    }
}

/// [`Resolver::open_url`] without a resolver (an upload's stream owns its client and policy).
async fn open_url(
    http: &reqwest::Client,
    policy: &SourcePolicy,
    url: &str,
) -> Result<reqwest::Response, InputError> {
    open_url_if(http, policy, url, None).await
}

/// [`open_url`], as a conditional GET when `known` holds validators of an earlier full read
/// (`If-None-Match` with its `ETag`, `If-Modified-Since` with its `Last-Modified`: RFC 9110
/// §13.1). Then a `304 Not Modified` is an answer too: the content is still `known`'s.
async fn open_url_if(
    http: &reqwest::Client,
    policy: &SourcePolicy,
    url: &str,
    known: Option<&Validated>,
) -> Result<reqwest::Response, InputError> {
    let shown = redact_url(url);
    let fetch = |detail: String| InputError::Fetch {
        url: shown.clone(),
        detail,
    };
    let parsed = url::Url::parse(url).map_err(|_| InputError::NotAllowed {
        url: shown.clone(),
        why: "not a valid URL".into(),
    })?;
    if let Some(why) = policy.refuses_url(&parsed) {
        return Err(InputError::NotAllowed {
            url: shown.clone(),
            why,
        });
    }
    let mut request = http.get(url);
    if let Some(known) = known {
        if let Some(etag) = &known.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag.clone());
        }
        if let Some(modified) = &known.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified.clone());
        }
    }
    let resp = tokio::time::timeout(URL_FIRST_BYTE_TIMEOUT, request.send())
        .await
        .map_err(|_| {
            fetch(format!(
                "no answer within {} s",
                URL_FIRST_BYTE_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| fetch(fetch_detail(e)))?;
    if known.is_some() && resp.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(resp);
    }
    if !resp.status().is_success() {
        return Err(fetch(format!("HTTP {}", resp.status())));
    }
    if resp
        .content_length()
        .is_some_and(|l| l > MAX_URL_BYTES as u64)
    {
        return Err(too_large(url));
    }
    Ok(resp)
}

/// The next chunk of a `url` source, or `None` at its end; a wait over [`URL_IDLE_TIMEOUT`] is
/// an error.
async fn next_chunk(
    resp: &mut reqwest::Response,
    url: &str,
) -> Result<Option<crate::watson::Bytes>, InputError> {
    let fetch = |detail: String| InputError::Fetch {
        url: redact_url(url),
        detail,
    };
    tokio::time::timeout(URL_IDLE_TIMEOUT, resp.chunk())
        .await
        .map_err(|_| {
            fetch(format!(
                "no data for {} s while reading",
                URL_IDLE_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| fetch(fetch_detail(e)))
}

/// A reqwest error and its sources on one line, without the URL (which may hold what
/// [`redact_url`] leaves out).
pub fn fetch_detail(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// Reads inputs for one model (a namespace, and for URL sources the policy and the HTTP client
/// built from it: [`SourcePolicy::http_client`]).
#[derive(Clone)]
pub struct Resolver {
    client: Client,
    namespace: String,
    http: reqwest::Client,
    policy: SourcePolicy,
    digests: Option<std::sync::Arc<UrlDigests>>,
}

impl Resolver {
    /// A resolver for objects in `namespace`; `http` must come from `policy`.
    pub fn new(
        client: Client,
        namespace: &str,
        http: reqwest::Client,
        policy: SourcePolicy,
    ) -> Self {
        Resolver {
            client,
            namespace: namespace.to_string(),
            http,
            policy,
            digests: None,
        }
    }

    /// This resolver, remembering what URL sources were ([`Resolver::url_sha256`]) in `digests`
    /// (shared by every reconcile, so a model's steady state does not download its sources again).
    pub fn with_digests(mut self, digests: std::sync::Arc<UrlDigests>) -> Self {
        self.digests = Some(digests);
        self
    }

    /// The bytes of a ConfigMap key (`data` as UTF-8, or `binaryData`).
    pub async fn config_map_key(&self, r: &ConfigMapKeyRef) -> Result<Vec<u8>, InputError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let cm = api
            .get_opt(&r.name)
            .await?
            .ok_or_else(|| InputError::NotFound {
                kind: "ConfigMap",
                name: r.name.clone(),
                detail: "does not exist".into(),
            })?;
        if let Some(v) = cm.data.as_ref().and_then(|d| d.get(&r.key)) {
            return Ok(v.as_bytes().to_vec());
        }
        if let Some(v) = cm.binary_data.as_ref().and_then(|d| d.get(&r.key)) {
            return Ok(v.0.clone());
        }
        Err(InputError::NotFound {
            kind: "ConfigMap",
            name: r.name.clone(),
            detail: format!("has no key {:?}", r.key),
        })
    }

    /// The bytes of a Secret key.
    pub async fn secret_key(&self, r: &SecretKeyRef) -> Result<Vec<u8>, InputError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let s = api
            .get_opt(&r.name)
            .await?
            .ok_or_else(|| InputError::NotFound {
                kind: "Secret",
                name: r.name.clone(),
                detail: "does not exist".into(),
            })?;
        if let Some(v) = s.data.as_ref().and_then(|d| d.get(&r.key)) {
            return Ok(v.0.clone());
        }
        if let Some(v) = s.string_data.as_ref().and_then(|d| d.get(&r.key)) {
            return Ok(v.as_bytes().to_vec());
        }
        Err(InputError::NotFound {
            kind: "Secret",
            name: r.name.clone(),
            detail: format!("has no key {:?}", r.key),
        })
    }

    /// Checks `url` against the policy and sends the GET: the response, once its status is a
    /// success and its announced length (if any) within [`MAX_URL_BYTES`]. Errors show the URL
    /// without userinfo and query ([`redact_url`]) and reqwest's text without its URL.
    async fn open_url(&self, url: &str) -> Result<reqwest::Response, InputError> {
        open_url(&self.http, &self.policy, url).await
    }

    /// Downloads a URL with a size limit ([`MAX_URL_BYTES`]), read chunk by chunk so that a
    /// body larger than announced (or announced not at all) stops at the limit. For text
    /// sources (corpora, grammars) a model keeps in memory anyway; audio is never read whole
    /// ([`Resolver::url_sha256`], [`Resolver::url_upload`]).
    pub async fn url(&self, url: &str) -> Result<Vec<u8>, InputError> {
        let mut resp = self.open_url(url).await?;
        let mut body = Vec::new();
        while let Some(chunk) = next_chunk(&mut resp, url).await? {
            if body.len() + chunk.len() > MAX_URL_BYTES {
                return Err(too_large(url));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Reads a URL to its end without keeping it: its SHA-256 (hex) and length. Memory stays
    /// at one chunk whatever the size; the limit ([`MAX_URL_BYTES`]) is enforced as it reads.
    ///
    /// With a [`UrlDigests`] cache ([`Resolver::with_digests`]) and a server that sent an `ETag`
    /// or `Last-Modified` at the last full read, the GET is conditional: a `304 Not Modified`
    /// gives the remembered digest without the body (object stores such as S3, GCS and Azure
    /// Blob answer so, also for presigned URLs). Every call still sends a request, so a source
    /// that became unreadable (an expired signature, a deleted object) is seen at once and one
    /// namespace never learns from another's read what it could not read itself.
    pub async fn url_sha256(&self, url: &str) -> Result<Streamed, InputError> {
        let key = UrlDigests::key(url);
        let known = self.digests.as_ref().and_then(|d| d.get(&key));
        let mut resp = open_url_if(&self.http, &self.policy, url, known.as_ref()).await?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED
            && let Some(known) = known
        {
            return Ok(known.streamed);
        }
        let validators = Validated::validators_of(&resp);
        let mut hasher = crate::decision::digest::Hasher::default();
        let mut length = 0usize;
        while let Some(chunk) = next_chunk(&mut resp, url).await? {
            length += chunk.len();
            if length > MAX_URL_BYTES {
                return Err(too_large(url));
            }
            hasher.update(&chunk);
        }
        let streamed = Streamed {
            sha256: hasher.finish_hex(),
            length: length as u64,
        };
        if let Some(digests) = &self.digests {
            digests.put(
                key,
                validators.map(|(etag, last_modified)| Validated {
                    etag,
                    last_modified,
                    streamed: streamed.clone(),
                }),
            );
        }
        Ok(streamed)
    }

    /// The body of an upload that streams `url` to the service: every attempt fetches the URL
    /// again and passes its chunks on as they arrive, so the operator holds a few chunks of it,
    /// never the whole. One GET here learns the length the source announces, sent as
    /// `Content-Length` (a source announcing none is sent chunked); a source that later
    /// announces or yields another length, or more than [`MAX_URL_BYTES`], fails the attempt (the
    /// next reconcile reads it again). The policy is checked at every GET and by the client's
    /// resolver at every connection.
    pub async fn url_upload(&self, url: &str) -> Result<Upload, InputError> {
        self.upload_of(UrlSource {
            url: url.to_string(),
            label: None,
        })
        .await
    }

    /// [`Resolver::url_upload`] of `source`: every error, the first GET's and those of each
    /// attempt's stream, names the source as [`UrlSource::relabel`] does (a URL held in a
    /// Secret by its Secret and key, never the URL).
    async fn upload_of(&self, source: UrlSource) -> Result<Upload, InputError> {
        let url = source.url.clone();
        let announced = self
            .open_url(&url)
            .await
            .map_err(|e| source.relabel(e))?
            .content_length();
        let limit = announced.unwrap_or(MAX_URL_BYTES as u64);
        let http = self.http.clone();
        let policy = self.policy.clone();
        Ok(Upload::new(announced, move || {
            enum Step {
                Start,
                Body(reqwest::Response, u64),
                Done,
            }
            let http = http.clone();
            let policy = policy.clone();
            let url = url.clone();
            let source = source.clone();
            let stream = futures::stream::unfold(Step::Start, move |step| {
                let http = http.clone();
                let policy = policy.clone();
                let url = url.clone();
                let source = source.clone();
                async move {
                    let fail = |e: InputError| -> Option<(Result<crate::watson::Bytes, UploadError>, Step)> {
                        Some((Err(Box::new(source.relabel(e)) as UploadError), Step::Done))
                    };
                    let (mut resp, read) = match step {
                        Step::Done => return None,
                        Step::Body(resp, read) => (resp, read),
                        Step::Start => match open_url(&http, &policy, &url).await {
                            Ok(resp) => match (announced, resp.content_length()) {
                                (Some(was), Some(now)) if was != now => {
                                    return fail(changed(&url, was, now));
                                }
                                _ => (resp, 0),
                            },
                            Err(e) => return fail(e),
                        },
                    };
                    match next_chunk(&mut resp, &url).await {
                        Ok(Some(chunk)) => {
                            let read = read + chunk.len() as u64;
                            if read > limit {
                                return fail(match announced {
                                    Some(was) => changed(&url, was, read),
                                    None => too_large(&url),
                                });
                            }
                            Some((Ok(chunk), Step::Body(resp, read)))
                        }
                        Ok(None) => match announced {
                            Some(was) if read != was => fail(changed(&url, was, read)),
                            _ => None,
                        },
                        Err(e) => fail(e),
                    }
                }
            });
            Box::pin(stream) as UploadStream
        }))
    }

    /// The URL of a `url` (as written) or `urlFrom` source (read from its Secret: one line,
    /// surrounding whitespace ignored), or `None` for another kind of source.
    pub async fn url_source(
        &self,
        url: Option<&str>,
        from: Option<&crate::crd::UrlFrom>,
    ) -> Result<Option<UrlSource>, InputError> {
        if let Some(u) = url {
            return Ok(Some(UrlSource {
                url: u.to_string(),
                label: None,
            }));
        }
        let Some(from) = from else {
            return Ok(None);
        };
        let r = &from.secret_key_ref;
        let label = format!("the URL in Secret {} key {:?}", r.name, r.key);
        let url = String::from_utf8(self.secret_key(r).await?)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
            .ok_or_else(|| {
                InputError::Malformed(format!("{label} is not a URL (one line of text expected)"))
            })?;
        Ok(Some(UrlSource {
            url,
            label: Some(label),
        }))
    }

    /// A data source as the desired state takes it: a `url` or `urlFrom` source (`url`,
    /// `url_from`) is read to its end for its SHA-256 and not kept (the upload streams it again);
    /// any other is read whole by `read` (a ConfigMap or Secret key, inline text). With `skip`
    /// (an observed model, whose data is never uploaded) nothing is read: the content is empty.
    pub async fn content(
        &self,
        skip: bool,
        url: Option<&str>,
        url_from: Option<&crate::crd::UrlFrom>,
        read: impl std::future::Future<Output = Result<Vec<u8>, InputError>>,
    ) -> Result<Content, InputError> {
        let bytes = match skip {
            true => Vec::new(),
            false => match self.url_source(url, url_from).await? {
                Some(u) => {
                    return Ok(Content {
                        sha256: self.source_sha256(&u).await?.sha256,
                        bytes: None,
                    });
                }
                None => read.await?,
            },
        };
        Ok(Content {
            sha256: crate::decision::digest::sha256_hex(&bytes),
            bytes: Some(bytes),
        })
    }

    /// [`Resolver::url_sha256`] of a resolved `url` or `urlFrom` source.
    pub async fn source_sha256(&self, s: &UrlSource) -> Result<Streamed, InputError> {
        self.url_sha256(&s.url).await.map_err(|e| s.relabel(e))
    }

    /// [`Resolver::url_upload`] of a resolved `url` or `urlFrom` source.
    pub async fn source_upload(&self, s: &UrlSource) -> Result<Upload, InputError> {
        self.upload_of(s.clone()).await
    }

    /// Resolves a text source (corpus, grammar).
    pub async fn source(&self, s: &crate::crd::Source) -> Result<Vec<u8>, InputError> {
        if let Some(t) = &s.text {
            return Ok(t.as_bytes().to_vec());
        }
        if let Some(r) = &s.config_map_key_ref {
            return self.config_map_key(r).await;
        }
        if let Some(r) = &s.secret_key_ref {
            return self.secret_key(r).await;
        }
        if let Some(u) = self
            .url_source(s.url.as_deref(), s.url_from.as_ref())
            .await?
        {
            return self.url(&u.url).await.map_err(|e| u.relabel(e));
        }
        Err(InputError::Malformed("source: no content set".into()))
    }
}

/// An entry of a word list (`wordsFrom`), checked against the same limits as the inline
/// `spec.words` (the CRD schema of [`CustomWord`] and [`VoiceWord`], which the API server
/// enforces for `spec.words` but cannot for a ConfigMap's content).
pub trait WordEntry: serde::de::DeserializeOwned {
    /// Most entries a list may hold: `maxItems` of the kind's `spec.words`.
    const MAX_ENTRIES: usize;
    /// What breaks the limits of `spec.words`, if anything (a field name and its bound).
    fn problem(&self) -> Option<String>;
}

/// `Some(text)` when `value`'s length in characters is outside `min..=max`.
fn length(field: &str, value: &str, min: usize, max: usize) -> Option<String> {
    let n = value.chars().count();
    (n < min || n > max).then(|| format!("{field} must have {min} to {max} characters"))
}

impl WordEntry for CustomWord {
    const MAX_ENTRIES: usize = 10_000;

    fn problem(&self) -> Option<String> {
        length("word", &self.word, 1, 128)
            .or_else(|| {
                (self.sounds_like.len() > 5).then(|| "soundsLike has more than 5 entries".into())
            })
            .or_else(|| {
                self.sounds_like
                    .iter()
                    .find_map(|s| length("soundsLike", s, 1, 40))
            })
            .or_else(|| {
                self.sounds_like
                    .iter()
                    .any(|s| s.chars().any(|c| c.is_ascii_digit()))
                    .then(|| "soundsLike must spell numbers out (no digits)".into())
            })
            .or_else(|| {
                self.display_as
                    .as_deref()
                    .and_then(|d| length("displayAs", d, 0, 128))
            })
    }
}

/// The parts of speech IBM accepts for Japanese custom words (`spec.words[].partOfSpeech`).
const PARTS_OF_SPEECH: &[&str] = &[
    "Dosi", "Fuku", "Gobi", "Hoka", "Jodo", "Josi", "Kato", "Kedo", "Keyo", "Kigo", "Koyu", "Mesi",
    "Reta", "Stbi", "Stto", "Stzo", "Suji",
];

impl WordEntry for VoiceWord {
    const MAX_ENTRIES: usize = 20_000;

    fn problem(&self) -> Option<String> {
        length("word", &self.word, 1, 49)
            .or_else(|| length("translation", &self.translation, 1, 499))
            .or_else(|| {
                self.part_of_speech
                    .as_deref()
                    .filter(|p| !PARTS_OF_SPEECH.contains(p))
                    .map(|_| format!("partOfSpeech must be one of {}", PARTS_OF_SPEECH.join(", ")))
            })
    }
}

/// The parser's budget for a word list: no anchors or aliases at all (a word list has no use
/// for them, and an alias is how a small document expands to gigabytes: `serde_yaml` bounded
/// the number of alias jumps, not the bytes they produce), one document, shallow nesting, and
/// node and scalar totals a list of `MAX_ENTRIES` full entries stays well within.
fn word_list_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = 0;
    budget.max_anchors = 0;
    budget.max_merge_keys = 0;
    budget.max_documents = 1;
    budget.max_depth = 8;
    budget.max_inclusion_depth = 0;
    budget.max_nodes = 500_000;
    budget.max_events = 1_000_000;
    budget.max_total_scalar_bytes = 2 * MAX_WORD_LIST_BYTES;
    budget.max_reader_input_bytes = Some(MAX_WORD_LIST_BYTES);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // The snippet would quote the ConfigMap's content into status and Events.
    options.with_snippet = false;
    options
}

/// ` at line L, column C` when the parser knows where.
fn at(e: &serde_saphyr::Error) -> String {
    e.location()
        .filter(|l| l.line() > 0)
        .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
        .unwrap_or_default()
}

/// Parses a word list: a YAML or JSON list of entries with the fields of `spec.words`, read
/// from `field` (e.g. `spec.wordsFrom (ConfigMap words key words.yaml)`, the name every
/// message starts with).
///
/// Bounded: at most [`MAX_WORD_LIST_BYTES`] of input, no YAML anchors or aliases, at most
/// `T::MAX_ENTRIES` entries, each within the limits of `spec.words` ([`WordEntry::problem`]).
/// Errors: [`InputError::TooLarge`] for the size and entry bounds, [`InputError::Malformed`]
/// otherwise, with the line and column where known and never the content itself.
pub fn parse_word_list<T: WordEntry>(bytes: &[u8], field: &str) -> Result<Vec<T>, InputError> {
    let malformed = |what: String| InputError::Malformed(format!("{field}: {what}"));
    if bytes.len() > MAX_WORD_LIST_BYTES {
        return Err(InputError::TooLarge {
            what: field.to_string(),
            limit: format!("{MAX_WORD_LIST_BYTES} bytes"),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        malformed(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let list: Vec<T> =
        serde_saphyr::from_str_with_options(text, word_list_options()).map_err(|e| {
            use serde_saphyr::budget::BudgetBreach as B;
            let where_ = at(&e);
            match e.without_snippet() {
                serde_saphyr::Error::Budget {
                    breach: B::Aliases { .. } | B::Anchors { .. } | B::MergeKeys { .. },
                    ..
                } => malformed(format!(
                    "uses YAML anchors, aliases or merge keys{where_}, which word lists do not accept: write each entry out"
                )),
                serde_saphyr::Error::Budget { .. } => InputError::TooLarge {
                    what: field.to_string(),
                    limit: format!(
                        "a list of at most {} entries with the fields of spec.words, in one document, found{where_}",
                        T::MAX_ENTRIES
                    ),
                },
                _ => malformed(format!(
                    "not a YAML or JSON list of word entries{where_}: each entry needs the fields of spec.words"
                )),
            }
        })?;
    if list.len() > T::MAX_ENTRIES {
        return Err(InputError::TooLarge {
            what: field.to_string(),
            limit: format!("at most {} entries, found {}", T::MAX_ENTRIES, list.len()),
        });
    }
    for (i, entry) in list.iter().enumerate() {
        if let Some(problem) = entry.problem() {
            // The index, not the word: a word over the limit could be anything.
            return Err(malformed(format!("entry {i}: {problem}")));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::language_model::CustomWord;
    use crate::decision::digest::sha256_hex as digest;

    /// A loopback server answering every GET with the next of `bodies` (the last one repeats),
    /// with Content-Length; a resolver allowed to fetch from it.
    async fn serving(bodies: Vec<Vec<u8>>) -> (String, Resolver) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let mut n = 0usize;
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = bodies[n.min(bodies.len() - 1)].clone();
                n += 1;
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                });
            }
        });
        let policy = SourcePolicy {
            allow_http: true,
            allowed_networks: vec!["127.0.0.1".parse().expect("net")],
        };
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        let http = policy.http_client().expect("http");
        (base, Resolver::new(client, "ns", http, policy))
    }

    async fn drain(upload: &Upload) -> Result<Vec<u8>, String> {
        use futures::StreamExt;
        let mut stream = upload.open();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_url_is_hashed_without_keeping_it_and_streamed_again_for_the_upload() {
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (base, resolver) = serving(vec![content.clone()]).await;
        let url = format!("{base}/audio.wav");
        let streamed = resolver.url_sha256(&url).await.expect("hashed");
        assert_eq!(streamed.sha256, digest(&content));
        assert_eq!(streamed.length, content.len() as u64);
        let upload = resolver.url_upload(&url).await.expect("upload");
        assert_eq!(upload.length(), Some(content.len() as u64));
        // Every attempt fetches the source again.
        for _ in 0..2 {
            assert_eq!(drain(&upload).await.expect("streamed"), content);
        }
    }

    /// A loopback object store: the current body with an `ETag` of its version, `304 Not
    /// Modified` to a GET whose `If-None-Match` names the current version; counts the bodies sent.
    async fn object_store(
        version: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        bodies_sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> (String, Resolver) {
        use std::sync::atomic::Ordering::SeqCst;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let version = version.clone();
                let bodies_sent = bodies_sent.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                    let v = version.load(SeqCst);
                    let etag = format!("\"v{v}\"");
                    let head = if request.contains(&format!("if-none-match: {etag}")) {
                        format!(
                            "HTTP/1.1 304 Not Modified\r\netag: {etag}\r\nconnection: close\r\n\r\n"
                        )
                    } else {
                        bodies_sent.fetch_add(1, SeqCst);
                        let body = format!("version {v} of the corpus");
                        format!(
                            "HTTP/1.1 200 OK\r\netag: {etag}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let _ = socket.write_all(head.as_bytes()).await;
                });
            }
        });
        let policy = SourcePolicy {
            allow_http: true,
            allowed_networks: vec!["127.0.0.1".parse().expect("net")],
        };
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        let http = policy.http_client().expect("http");
        (base, Resolver::new(client, "ns", http, policy))
    }

    /// The steady state does not download a source again: the second read of an unchanged
    /// object is a `304` with the remembered digest; a changed object is read whole and its new
    /// digest returned; without the cache every read is whole.
    #[tokio::test]
    async fn an_unchanged_url_source_is_not_downloaded_again() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let version = Arc::new(AtomicUsize::new(1));
        let sent = Arc::new(AtomicUsize::new(0));
        let (base, plain) = object_store(version.clone(), sent.clone()).await;
        let url = format!("{base}/corpus.txt?X-Amz-Signature=s3cr3t");
        let digests = Arc::new(UrlDigests::default());
        let cached = Resolver::new(
            plain.client.clone(),
            "ns",
            plain.http.clone(),
            plain.policy.clone(),
        )
        .with_digests(digests.clone());

        let first = cached.url_sha256(&url).await.expect("first read");
        assert_eq!(first.sha256, digest(b"version 1 of the corpus"));
        assert_eq!(sent.load(SeqCst), 1);
        let again = cached.url_sha256(&url).await.expect("second read");
        assert_eq!(again, first);
        assert_eq!(
            sent.load(SeqCst),
            1,
            "an unchanged object is not sent again"
        );
        assert_eq!(digests.len(), 1);

        version.store(2, SeqCst);
        let changed = cached.url_sha256(&url).await.expect("changed");
        assert_eq!(changed.sha256, digest(b"version 2 of the corpus"));
        assert_eq!(sent.load(SeqCst), 2);

        // Without the cache, every read downloads the object.
        plain.url_sha256(&url).await.expect("plain");
        plain.url_sha256(&url).await.expect("plain again");
        assert_eq!(sent.load(SeqCst), 4);
    }

    #[test]
    fn the_url_cache_is_bounded_and_forgets_the_least_recently_read() {
        let digests = UrlDigests::with_capacity(2);
        let v = |s: &str| Validated {
            etag: Some(reqwest::header::HeaderValue::from_static("\"e\"")),
            last_modified: None,
            streamed: Streamed {
                sha256: s.into(),
                length: 1,
            },
        };
        digests.put(UrlDigests::key("a"), Some(v("a")));
        digests.put(UrlDigests::key("b"), Some(v("b")));
        assert!(digests.get(&UrlDigests::key("a")).is_some());
        digests.put(UrlDigests::key("c"), Some(v("c")));
        assert_eq!(digests.len(), 2);
        assert!(
            digests.get(&UrlDigests::key("b")).is_none(),
            "b was read least recently"
        );
        // A read without validators forgets the URL.
        digests.put(UrlDigests::key("a"), None);
        assert_eq!(digests.len(), 1);
    }

    #[tokio::test]
    async fn a_source_that_changes_length_between_reads_fails_the_attempt() {
        // The first GET (the length) sees 10 bytes, the upload's GET 12.
        let (base, resolver) = serving(vec![vec![1; 10], vec![2; 12]]).await;
        let upload = resolver
            .url_upload(&format!("{base}/c.txt?sig=s3cr3t"))
            .await
            .expect("upload");
        let e = drain(&upload).await.expect_err("changed");
        assert!(e.contains("changed while it was uploaded"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        // A URL held in a Secret: the error names the Secret and key, not even the host.
        let (base, resolver) = serving(vec![vec![1; 10], vec![2; 12]]).await;
        let held = UrlSource {
            url: format!("{base}/c.txt?sig=s3cr3t"),
            label: Some("the URL in Secret presigned key \"url\"".into()),
        };
        let upload = resolver.source_upload(&held).await.expect("upload");
        let e = drain(&upload).await.expect_err("changed");
        assert!(
            e.contains("the URL in Secret presigned key \"url\"")
                && e.contains("changed while it was uploaded"),
            "{e}"
        );
        assert!(!e.contains("127.0.0.1") && !e.contains("c.txt"), "{e}");
    }

    /// The ConfigMap of the report: about 270 KB, one anchor holding a long string and
    /// thousands of aliases to it (serde_yaml expanded it to over 1.5 GiB).
    pub(crate) fn alias_bomb() -> Vec<u8> {
        let mut doc = format!("- word: &long \"{}\"\n", "x".repeat(30_000));
        while doc.len() < 270_000 {
            doc.push_str("- word: *long\n");
        }
        doc.into_bytes()
    }

    const FIELD: &str = "spec.wordsFrom (ConfigMap words key list)";

    #[test]
    fn word_lists_parse_from_yaml_and_json() {
        let yaml = b"- word: tomato\n  soundsLike: [tomahto]\n- word: IBM\n  displayAs: I.B.M.\n";
        let words: Vec<CustomWord> = parse_word_list(yaml, FIELD).expect("yaml");
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].sounds_like, vec!["tomahto".to_string()]);
        let json = br#"[{"word":"x","soundsLike":["ex"]}]"#;
        let words: Vec<CustomWord> = parse_word_list(json, FIELD).expect("json");
        assert_eq!(words[0].word, "x");
        let voice = br#"[{"word":"IEEE","translation":"I triple E","partOfSpeech":"Mesi"}]"#;
        let words: Vec<VoiceWord> = parse_word_list(voice, FIELD).expect("voice json");
        assert_eq!(words[0].translation, "I triple E");
    }

    #[test]
    fn the_alias_bomb_is_refused_without_expanding_it() {
        let bomb = alias_bomb();
        assert!(bomb.len() >= 270_000);
        let err = parse_word_list::<CustomWord>(&bomb, FIELD).expect_err("aliases");
        assert_eq!(err.category(), "InputMalformed");
        let text = err.to_string();
        assert!(text.starts_with(FIELD), "{text}");
        assert!(text.contains("anchors, aliases"), "{text}");
        assert!(text.contains("line 1, column"), "{text}");
        assert!(!text.contains("xxx"), "the content is repeated: {text}");
        // A single anchor, without any alias, is refused too, as are merge keys.
        let err = parse_word_list::<CustomWord>(b"- word: &w tomato\n", FIELD).expect_err("anchor");
        assert!(err.to_string().contains("anchors"), "{err}");
        let err = parse_word_list::<VoiceWord>(
            b"- &base {word: a, translation: b}\n- <<: *base\n  word: c\n",
            FIELD,
        )
        .expect_err("merge");
        assert_eq!(err.category(), "InputMalformed", "{err}");
    }

    #[test]
    fn errors_name_the_place_and_never_the_content() {
        let secret = "s3cr3t-do-not-show";
        for (input, line) in [
            (format!("word: {secret}\n"), 1),
            (format!("- word: fine\n- word: [{secret}\n"), 2),
            (format!("- word: fine\n- nope: {secret}\n"), 2),
            (
                format!("[{{\"word\": \"a\"}}, {{\"word\": 7, \"x\": \"{secret}\"}}"),
                1,
            ),
        ] {
            let err = parse_word_list::<CustomWord>(input.as_bytes(), FIELD).expect_err(&input);
            let text = err.to_string();
            assert_eq!(err.category(), "InputMalformed", "{text}");
            assert!(text.starts_with(FIELD), "{text}");
            assert!(!text.contains(secret), "{input:?} repeated in {text:?}");
            assert!(text.contains(&format!("line {line}")), "{input:?}: {text}");
        }
        let err = parse_word_list::<CustomWord>(b"- word: \xff\xfe\n", FIELD).expect_err("utf-8");
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn entries_have_the_limits_of_spec_words() {
        let bad: &[(&str, &str)] = &[
            ("- word: ''\n", "word must have 1 to 128"),
            (
                &format!("- word: {}\n", "w".repeat(129)),
                "word must have 1 to 128",
            ),
            (
                "- word: a\n  soundsLike: [a, b, c, d, e, f]\n",
                "more than 5",
            ),
            (
                &format!("- word: a\n  soundsLike: [{}]\n", "s".repeat(41)),
                "soundsLike must have",
            ),
            ("- word: a\n  soundsLike: [route 66]\n", "no digits"),
            (
                &format!("- word: a\n  displayAs: {}\n", "d".repeat(129)),
                "displayAs must have",
            ),
        ];
        for (input, want) in bad {
            let err = parse_word_list::<CustomWord>(input.as_bytes(), FIELD).expect_err(input);
            assert_eq!(err.category(), "InputMalformed");
            assert!(err.to_string().contains("entry 0: "), "{err}");
            assert!(err.to_string().contains(want), "{input:?}: {err}");
        }
        let voice_bad: &[(&str, &str)] = &[
            (
                &format!("- {{word: {}, translation: t}}\n", "w".repeat(50)),
                "word must have 1 to 49",
            ),
            (
                &format!("- {{word: w, translation: {}}}\n", "t".repeat(500)),
                "translation must",
            ),
            (
                "- {word: w, translation: t, partOfSpeech: Noun}\n",
                "partOfSpeech must be one of",
            ),
        ];
        for (input, want) in voice_bad {
            let err = parse_word_list::<VoiceWord>(input.as_bytes(), FIELD).expect_err(input);
            assert!(err.to_string().contains(want), "{input:?}: {err}");
        }
    }

    #[test]
    fn too_many_entries_or_bytes_are_too_large() {
        let many = "- word: w\n".repeat(10_001);
        let err = parse_word_list::<CustomWord>(many.as_bytes(), FIELD).expect_err("entries");
        assert_eq!(err.category(), "InputTooLarge");
        assert!(err.to_string().contains("at most 10000 entries"), "{err}");
        assert!(
            parse_word_list::<VoiceWord>(
                "- {word: w, translation: t}\n".repeat(10_001).as_bytes(),
                FIELD
            )
            .is_ok()
        );
        let big = vec![b' '; MAX_WORD_LIST_BYTES + 1];
        let err = parse_word_list::<CustomWord>(&big, FIELD).expect_err("bytes");
        assert_eq!(err.category(), "InputTooLarge");
        assert!(err.to_string().starts_with(FIELD), "{err}");
        // Nesting, even in a field the operator ignores.
        let deep = format!(
            "- word: a\n  extra: {}{}\n",
            "[".repeat(100),
            "]".repeat(100)
        );
        let err = parse_word_list::<CustomWord>(deep.as_bytes(), FIELD).expect_err("deep");
        assert_eq!(err.category(), "InputTooLarge", "{err}");
    }

    #[test]
    fn digests_are_stable_hex() {
        assert_eq!(digest(b"abc").len(), 64);
        assert_eq!(digest(b"abc"), digest(b"abc"));
        assert_ne!(digest(b"abc"), digest(b"abd"));
    }
}
