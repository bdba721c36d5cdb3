//! Wire types of the admin API (`/_simulator/...`), shared by the server and
//! [`AdminClient`](super::admin::AdminClient).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kind of a simulated model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Language,
    Acoustic,
    Voice,
}

/// One model as the admin API lists it (`GET /_simulator/models`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimModel {
    pub customization_id: String,
    pub kind: ModelKind,
    pub name: String,
    pub description: String,
    pub base_model_name: Option<String>,
    pub language: String,
    /// `None` for voice models (they have no status).
    pub status: Option<String>,
    pub versions: Vec<String>,
    /// Scaled real seconds the simulator spent in this model's asynchronous operations
    /// (analysis, training, upgrade, reset).
    pub busy_seconds: f64,
    /// Language models: the `customization_weight` recognition uses by default (the one the
    /// last training stored, else the family's default: large speech models 0.5,
    /// next-generation 0.2 or 0.1 on the improved bases, previous-generation 0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customization_weight: Option<f64>,
    /// Creation time (Unix ms), used for ordering; not part of the wire format.
    #[serde(skip)]
    pub created_ms: u64,
}

/// `GET /_simulator/models`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SimModels {
    pub models: Vec<SimModel>,
}

/// Injected faults (`PUT /_simulator/faults`). Every field is optional on the wire.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Probability per HTTP status (keys are status codes as strings, e.g. `"503"`).
    pub error_rates: BTreeMap<String, f64>,
    /// `Retry-After` seconds sent with injected 429 (and 503) responses.
    pub retry_after_seconds: u64,
    /// Delay added before every API request.
    pub latency_ms: u64,
    /// Probability that a request's connection is closed without a response.
    pub drop_rate: f64,
    /// `/identity/token` answers 503.
    pub iam_outage: bool,
    /// Probability that a write (any request but a GET, IAM excluded) is **performed** and its
    /// response then dropped: the service did it, the caller never hears (unlike `drop_rate`,
    /// which drops a request before the service acts).
    pub lost_answer_rate: f64,
    /// One-shot lost answers, by operation and/or model: the next `count` successful answers
    /// each rule matches are lost after the request was performed.
    pub lose_answers: Vec<LoseAnswers>,
    /// Models whose name starts with one of these are left out of the STT model listings
    /// (`GET /v1/customizations`, `/v1/acoustic_customizations`); a GET of a model's own ID
    /// still finds it: a partial listing, as during an IBM incident (issue 25). Scope it to a
    /// test's models by their name prefix.
    pub hidden_from_listings: Vec<String>,
    /// Models whose name starts with one of these look gone without being deleted: left out of
    /// the STT model listings, and a GET of their own ID answers as for an unknown ID (401
    /// `Invalid customization_id`). Clearing the fault brings them back: an empty or partial
    /// listing confirmed by lookups, as during an IBM incident (issue 25). `""` matches every
    /// model (an empty listing).
    pub vanished: Vec<String>,
    /// The next this many answers to the base-model listings (`GET /v1/models` of STT,
    /// `GET /v1/voices` of TTS) are a 404, as a passing fault of the service's front end
    /// (one-shot; counts down): flapping `/v1/models` (issue 25).
    pub flap_base_listings: u32,
}

/// A rule of [`Faults::lose_answers`]: which answers to lose after the service acted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoseAnswers {
    /// The operation name ([`watson_client::Operation::as_str`], e.g. `create_language_model`,
    /// `add_corpus`); `None`: any write.
    pub operation: Option<String>,
    /// The customization ID the request names; `None`: any model.
    pub customization_id: Option<String>,
    /// Only requests about a model whose name starts with this (the name a create sends, else
    /// the name of the model the request names): the models of one test, e.g. the operator's
    /// `<namespace>-<name>`; `None`: any model.
    pub name_prefix: Option<String>,
    /// How many answers are still to be lost.
    pub count: u32,
}

/// IBM behaviours that users met but that are not the simulator's default
/// (`PUT /_simulator/quirks`; every field optional on the wire, `POST /_simulator/reset` clears
/// them). `docs/simulator.md` says which IBM report each one stands for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quirks {
    /// The service of 2017: a `multipart/form-data` corpus body is stored as corpus text,
    /// envelope and all (boundary lines, part headers and the file name become words).
    pub multipart_corpus_as_text: bool,
    /// The instance is on IBM's Lite plan: every customization request (STT and TTS, listings
    /// included) answers 400 with the plan message [`LITE_PLAN_MESSAGE`].
    pub lite_plan: bool,
    /// After a 200 to train or upgrade, the model keeps reading the status it had before the
    /// call (`ready`/`available`) for this many real seconds (beta-era SDK docs warned of it,
    /// `watson-api.md` §16). 0: off.
    pub status_lag_seconds: f64,
}

/// The 400 message of a customization request on a Lite-plan instance (after the one users
/// reported, `watson-api.md` §16).
pub const LITE_PLAN_MESSAGE: &str = "This feature is not available for the Lite plan. Please upgrade to a paid plan to activate this feature.";

/// `POST /_simulator/models/{id}/fail-next-training` (the body is optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailNextTraining {
    /// The model's `error` text after the failure (default: a stringified 500), e.g. a whole
    /// JSON error document with an internal file path, as a failed acoustic training showed
    /// (`watson-api.md` §16).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One entry of the request log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub seq: u64,
    /// Unix ms when the request arrived.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    /// The [`Operation`](watson_client::Operation) name, if the request matched one.
    pub operation: Option<String>,
    /// The status sent; 0 when the connection was dropped by a fault.
    pub status: u16,
    pub customization_id: Option<String>,
    /// The name of the model the request is about (the name a create sends, else the name of
    /// the model `customization_id` names when the request arrived), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    pub latency_ms: u64,
}

/// `GET /_simulator/requests?since=SEQ`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestPage {
    pub requests: Vec<RequestRecord>,
    /// Pass this as `since` to get only newer requests.
    pub next_seq: u64,
}

/// `GET /_simulator/counters`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub total: u64,
    /// Answers lost after the request was performed ([`Faults::lost_answer_rate`],
    /// [`Faults::lose_answers`]); such requests are logged with status 0.
    #[serde(default)]
    pub lost_answers: u64,
    /// Operation name → status code (as a string) → count.
    pub by_operation: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Counters {
    /// The count for one operation and status.
    pub fn get(&self, operation: watson_client::Operation, status: u16) -> u64 {
        self.by_operation
            .get(operation.as_str())
            .and_then(|m| m.get(&status.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// All requests of one operation, whatever the status.
    pub fn total_for(&self, operation: watson_client::Operation) -> u64 {
        self.by_operation
            .get(operation.as_str())
            .map(|m| m.values().sum())
            .unwrap_or(0)
    }
}

/// Settings that can change at run time (`GET /_simulator/config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    pub time_scale: f64,
    pub model_cap: usize,
    pub token_ttl_seconds: u64,
    /// The profile the simulator plays (`ibm-cloud` or `legacy`); fixed at start.
    #[serde(default)]
    pub profile: crate::profile::Profile,
    /// Maximum hours of audio per acoustic model (default 50).
    #[serde(default = "default_audio_cap_hours")]
    pub audio_cap_hours: f64,
}

fn default_audio_cap_hours() -> f64 {
    crate::profile::DEFAULT_AUDIO_CAP_HOURS
}

/// `PUT /_simulator/config`: only the given fields change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_cap: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl_seconds: Option<u64>,
    /// Changes the acoustic audio cap at run time (hours, > 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_cap_hours: Option<f64>,
}

/// `PUT /_simulator/base-models/{name}/lifecycle`: withdraw a base model (or offer it again) and
/// mark versions of it defective (or repaired).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseModelLifecycle {
    /// `Some(true)`: no new custom model can use the base, and `GET /v1/models` no longer
    /// lists it; `Some(false)`: offered again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<bool>,
    /// Versions (`name.vYYYY-MM-DD`) to mark defective: custom models on them must be
    /// re-created (`upgrade_model` refused, a warning on the model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defective_versions: Vec<String>,
    /// Versions to unmark.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repaired_versions: Vec<String>,
    /// `Some(true)`: custom models on the base upgrade by a forced retrain only
    /// (`upgrade_model` refused, as on IBM's improved next-generation bases); `Some(false)`:
    /// `upgrade_model` works again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_by_retrain: Option<bool>,
    /// Versions to mark worse at recognition (`POST /v1/recognize` on them loses every third
    /// heard word; issue 28): an upgrade to such a version makes a model's word error rate
    /// regress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worse_versions: Vec<String>,
    /// Versions to unmark (recognition as usual again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored_versions: Vec<String>,
}

/// `POST /_simulator/base-models/{name}/versions` request and response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishVersion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
