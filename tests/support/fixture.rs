//! The fixture builder: what most tests set up in their namespace, in one place. The credentials
//! Secret, the SpeechServices pointing at a simulator, and the manifests of the three model kinds.
//! Every name and value a test relies on is a parameter; the defaults are the ones the tests
//! shared before (Secret `creds` with key `apikey`, SpeechServices `stt` and `tts`, base model
//! `en-US_BroadbandModel`).
//!
//! ```ignore
//! let ns = cp.namespace("mine").await;
//! fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;
//! let lm = fixture::language_model("lm", json!({"words": [{"word": "tomato"}]}));
//! ```

use k8s_openapi::api::core::v1::Secret;
use kube::Resource;
use kube::api::{ObjectMeta, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use watson_speech_operator::crd::{
    CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, SpeechService,
};

use super::TestNamespace;

/// The credentials Secret most tests use.
pub const SECRET: &str = "creds";
/// The base model of the language and acoustic model builders.
pub const BASE_MODEL: &str = "en-US_BroadbandModel";

/// One of the two SpeechServices of [`credentials_and_services`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `stt`: SpeechToText at `<base>/speech-to-text`.
    Stt,
    /// `tts`: TextToSpeech at `<base>/text-to-speech`.
    Tts,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Stt => "stt",
            Service::Tts => "tts",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Service::Stt => "SpeechToText",
            Service::Tts => "TextToSpeech",
        }
    }

    /// The service's URL on a simulator whose base URL is `sim_base`.
    pub fn url(self, sim_base: &str) -> String {
        match self {
            Service::Stt => format!("{sim_base}/speech-to-text"),
            Service::Tts => format!("{sim_base}/text-to-speech"),
        }
    }
}

/// The Secret `name` with `data` as its string data.
pub fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

/// IAM authentication with the API key in Secret `secret` (key `apikey`), tokens from `iam_url`.
pub fn iam_auth(iam_url: &str, secret: &str) -> Value {
    json!({"type": "IAM", "iamUrl": iam_url, "secretRef": {"name": secret}})
}

/// Bearer authentication with the token in Secret `secret` (key `token`).
pub fn bearer_auth(secret: &str) -> Value {
    json!({"type": "Bearer", "secretRef": {"name": secret}})
}

/// The SpeechService `name` of kind `kind` (`SpeechToText`, `TextToSpeech`) at `url`.
pub fn speech_service(name: &str, kind: &str, url: &str, auth: Value) -> SpeechService {
    manifest(name, json!({"service": kind, "url": url, "auth": auth}))
}

/// Creates `obj` in the test's namespace and returns what the API server stored.
pub async fn create<K>(ns: &TestNamespace, obj: &K) -> K
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    ns.api::<K>()
        .create(&PostParams::default(), obj)
        .await
        .unwrap_or_else(|e| panic!("create {} {:?}: {e}", K::kind(&()), obj.meta().name))
}

/// The usual set-up of a namespace: the Secret `creds` holding `apikey: api_key`, and each of
/// `services` (IAM with that Secret, tokens from `sim_base`) on the simulator at `sim_base`.
pub async fn credentials_and_services(
    ns: &TestNamespace,
    api_key: &str,
    sim_base: &str,
    services: &[Service],
) {
    create(ns, &secret(SECRET, &[("apikey", api_key)])).await;
    for s in services {
        let auth = iam_auth(sim_base, SECRET);
        create(
            ns,
            &speech_service(s.name(), s.kind(), &s.url(sim_base), auth),
        )
        .await;
    }
}

/// `base` with the top-level keys of `extra` added or replaced (both JSON objects).
pub fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(extra)) = (base.as_object_mut(), extra) {
        b.extend(extra);
    }
    base
}

/// A manifest of kind `K` named `name` with `spec` as its spec.
pub fn manifest<K>(name: &str, spec: Value) -> K
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    serde_json::from_value(json!({
        "apiVersion": K::api_version(&()), "kind": K::kind(&()),
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap_or_else(|e| panic!("{} {name}: {e}", K::kind(&())))
}

/// A CustomLanguageModel on SpeechService `stt` with base model [`BASE_MODEL`]; the keys of
/// `spec` are added or replace those.
pub fn language_model(name: &str, spec: Value) -> CustomLanguageModel {
    let base = json!({"serviceRef": {"name": "stt"}, "baseModelName": BASE_MODEL});
    manifest(name, merge(base, spec))
}

/// A CustomAcousticModel on SpeechService `stt` with base model [`BASE_MODEL`]; the keys of
/// `spec` are added or replace those.
pub fn acoustic_model(name: &str, spec: Value) -> CustomAcousticModel {
    let base = json!({"serviceRef": {"name": "stt"}, "baseModelName": BASE_MODEL});
    manifest(name, merge(base, spec))
}

/// A CustomVoiceModel on SpeechService `tts`; the keys of `spec` are added or replace that.
pub fn voice_model(name: &str, spec: Value) -> CustomVoiceModel {
    manifest(name, merge(json!({"serviceRef": {"name": "tts"}}), spec))
}
