//! Resolving the inputs a model references (inline text, ConfigMap keys, Secret keys, URLs) into
//! bytes and digests. Digests let the decision notice a change without keeping the content.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};

use crate::crd::{ConfigMapKeyRef, SecretKeyRef};
use crate::errors::{Classified, RetryClass};

/// Largest URL download accepted (the service's own limit for audio is 100 MB).
pub const MAX_URL_BYTES: usize = 100 * 1024 * 1024;

/// A missing or unusable input.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The ConfigMap or Secret, or its key, does not exist.
    #[error("{kind} {name} {detail}: create it or fix the reference")]
    NotFound {
        kind: &'static str,
        name: String,
        detail: String,
    },
    /// The content could not be parsed (e.g. a word list).
    #[error("{0}")]
    Malformed(String),
    /// A URL could not be fetched.
    #[error("fetching {url}: {detail}")]
    Fetch { url: String, detail: String },
    /// A URL's content is larger than allowed.
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
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
            InputError::Kube(_) => "KubernetesError",
        }
    }

    fn retry_class(&self) -> RetryClass {
        match self {
            // Woken by the ConfigMap/Secret watches.
            InputError::NotFound { .. }
            | InputError::Malformed(_)
            | InputError::TooLarge { .. } => RetryClass::WaitForSpecChange,
            InputError::Fetch { .. } | InputError::Kube(_) => RetryClass::Backoff,
        }
    }
}

/// Reads inputs for one model (a namespace and an HTTP client for URL sources).
#[derive(Clone)]
pub struct Resolver {
    client: Client,
    namespace: String,
    http: reqwest::Client,
}

impl Resolver {
    /// A resolver for objects in `namespace`.
    pub fn new(client: Client, namespace: &str, http: reqwest::Client) -> Self {
        Resolver {
            client,
            namespace: namespace.to_string(),
            http,
        }
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

    /// Downloads a URL with a size limit.
    pub async fn url(&self, url: &str) -> Result<Vec<u8>, InputError> {
        let fetch = |detail: String| InputError::Fetch {
            url: url.to_string(),
            detail,
        };
        let mut resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| fetch(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fetch(format!("HTTP {}", resp.status())));
        }
        if resp
            .content_length()
            .is_some_and(|l| l as usize > MAX_URL_BYTES)
        {
            return Err(InputError::TooLarge {
                url: url.to_string(),
                limit: MAX_URL_BYTES,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fetch(e.to_string()))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_URL_BYTES {
                return Err(InputError::TooLarge {
                    url: url.to_string(),
                    limit: MAX_URL_BYTES,
                });
            }
        }
        Ok(body)
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
        if let Some(u) = &s.url {
            return self.url(u).await;
        }
        Err(InputError::Malformed("source: no content set".into()))
    }
}

/// Parses a word list (YAML or JSON list of entries).
pub fn parse_word_list<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    origin: &str,
) -> Result<Vec<T>, InputError> {
    serde_yaml::from_slice(bytes)
        .map_err(|e| InputError::Malformed(format!("{origin}: not a list of word entries: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::language_model::CustomWord;
    use crate::decision::digest::sha256_hex as digest;

    #[test]
    fn word_lists_parse_from_yaml_and_json_with_clear_errors() {
        let yaml = b"- word: tomato\n  soundsLike: [tomahto]\n- word: IBM\n  displayAs: I.B.M.\n";
        let words: Vec<CustomWord> = parse_word_list(yaml, "cm/key").expect("yaml");
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].sounds_like, vec!["tomahto".to_string()]);
        let json = br#"[{"word":"x","soundsLike":["ex"]}]"#;
        let words: Vec<CustomWord> = parse_word_list(json, "cm/key").expect("json");
        assert_eq!(words[0].word, "x");
        let err = parse_word_list::<CustomWord>(b"word: lonely", "cm/key").expect_err("not a list");
        assert!(err.to_string().contains("cm/key"), "{err}");
        assert_eq!(err.category(), "InputMalformed");
    }

    #[test]
    fn digests_are_stable_hex() {
        assert_eq!(digest(b"abc").len(), 64);
        assert_eq!(digest(b"abc"), digest(b"abc"));
        assert_ne!(digest(b"abc"), digest(b"abd"));
    }
}
