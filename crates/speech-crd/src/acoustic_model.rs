//! `CustomAcousticModel`: an IBM Speech to Text custom acoustic model trained on audio, optionally
//! with a custom language model.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    ConfigMapKeyRef, DeletionPolicy, Export, LocalRef, ManagementPolicy, ModelStatus,
    ResourceStatus, SecretKeyRef, ServiceRef, TrainingPolicy, UpgradePolicy, UrlFrom,
};

/// A custom acoustic model of IBM Watson Speech to Text (previous-generation base models only),
/// trained on audio and, optionally, with a CustomLanguageModel of the same base model.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A custom acoustic model of IBM Watson Speech to Text (previous-generation base models only), trained on audio and, optionally, with a CustomLanguageModel of the same base model. Annotations: speech.watson.dev/reconcile-requested-at (any new value: look now, re-reading the model and all its data on the service; echoed in status.reconcileRequestToken), speech.watson.dev/drift-interval (a duration such as 10m: how often this model is compared with the service, at least the operator's --min-drift-interval-seconds).",
    group = "speech.watson.dev",
    version = "v1alpha1",
    kind = "CustomAcousticModel",
    namespaced,
    shortname = "cam",
    category = "watson",
    status = "CustomAcousticModelStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Progress","type":"integer","jsonPath":".status.progress"}"#,
    printcolumn = r#"{"name":"Base","type":"string","jsonPath":".spec.baseModelName"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.baseModelVersion"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"ETA","type":"string","description":"When the running training or upgrade is expected to finish (UTC)","jsonPath":".status.currentOperation.expectedFinishAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.customizationId","priority":1}"#,
    printcolumn = r#"{"name":"Policy","type":"string","description":"Manage, or ObserveOnly (read and reported, never changed)","jsonPath":".spec.managementPolicy","priority":1}"#,
    printcolumn = r#"{"name":"Next","type":"string","description":"What the operator does next and why (status.nextAction)","jsonPath":".status.nextAction","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.customizationId) == has(oldSelf.customizationId) && (!has(self.customizationId) || self.customizationId == oldSelf.customizationId)").message("spec.customizationId is immutable: create a new resource to adopt another model"))]
#[x_kube(validation = Rule::new("!has(self.managementPolicy) || self.managementPolicy != 'ObserveOnly' || has(self.customizationId)").message("spec.managementPolicy ObserveOnly requires spec.customizationId: the operator only observes an existing model and never creates one"))]
pub struct CustomAcousticModelSpec {
    /// The SpeechService (SpeechToText, same namespace) the model lives in.
    pub service_ref: ServiceRef,
    /// The base model; must support acoustic customization (previous generation, e.g.
    /// `en-US_BroadbandModel`). Immutable.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.baseModelName is immutable: create a new resource for another base model"))]
    pub base_model_name: String,
    /// The model name on the service; defaults to `<namespace>-<name>`. At most 256 characters,
    /// without `\ / : = & ?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[^\\/:=&?]+$"))]
    pub model_name: Option<String>,
    /// A description (at most 85 characters; the operator appends an ownership marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 85))]
    pub description: Option<String>,
    /// The base-model version to be on. Empty means the newest the service offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 160), regex(pattern = r"^[^\s]+\.v\d{4}-\d{2}-\d{2}$"))]
    pub base_model_version: Option<String>,
    /// Upgrade automatically (after the language model) or only on request.
    #[serde(default)]
    pub upgrade_policy: UpgradePolicy,
    /// A CustomLanguageModel (same namespace, same base model) used for training and upgrades.
    /// The acoustic model trains only when it is Available and on the same base-model version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_model_ref: Option<LocalRef>,
    /// Audio resources (single files or zip/tar.gz archives). Names are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub audio: Vec<AudioResource>,
    /// Training parameters and policy.
    #[serde(default)]
    pub training: AcousticTraining,
    /// Delete (default) or Retain the IBM model when this resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Hands the model to applications: a ConfigMap the operator writes and keeps current with
    /// the customization ID, base model, base-model version, the language model's customization
    /// ID and the service URL. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
    /// Adopt this existing IBM model instead of creating one. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    ))]
    pub customization_id: Option<String>,
    /// Stop all calls to the service for this model.
    #[serde(default)]
    pub suspend: bool,
    /// `Manage` (the default) or `ObserveOnly`. With `Manage` the operator creates the model (or
    /// adopts the one `spec.customizationId` names), adds and removes its data, trains, upgrades,
    /// resets on request and deletes it as `deletionPolicy` says. With `ObserveOnly` it reads the
    /// model `spec.customizationId` names (required) and reports it in status (Ready True, reason
    /// `Observed`, the phase as the service reports it, and every difference between the spec and
    /// the service in the Ready message), and never writes to the service: no create, data,
    /// training, upgrade or reset (the request annotations and `upgradePolicy` are reported as
    /// ignored), and deleting the resource always leaves the model in place, whatever
    /// `deletionPolicy` says. Sources are not read, so they may point at placeholders. Switch to
    /// `Manage` to let the operator take the model over.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// An audio resource.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.containedContentType) || self.contentType in ['application/zip', 'application/gzip']").message("containedContentType is only allowed with contentType application/zip or application/gzip"))]
pub struct AudioResource {
    /// The resource name on the service (at most 128 characters).
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    )]
    pub name: String,
    /// The audio type (e.g. `audio/wav`, `audio/l16;rate=16000`) or archive type
    /// (`application/zip`, `application/gzip`).
    #[schemars(regex(pattern = r"^(audio/[a-z0-9.+-]+(;.*)?|application/zip|application/gzip)$"))]
    pub content_type: String,
    /// For archives: the type of every member (required for alaw, basic, l16 and mulaw).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^audio/[a-z0-9.+-]+(;.*)?$"))]
    pub contained_content_type: Option<String>,
    /// Where the bytes come from.
    pub source: AudioSource,
}

/// Where audio bytes come from. Set exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.configMapKeyRef), has(self.secretKeyRef), has(self.url), has(self.urlFrom)].filter(x, x).size() == 1").message("source: set exactly one of configMapKeyRef, secretKeyRef, url or urlFrom"))]
pub struct AudioSource {
    /// An http(s) URL to download (at most 100 MB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    #[x_kube(validation = Rule::new("!self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@')").message("a URL must not hold credentials (user:password@): status, Events and logs would show them; put the URL in a Secret and use urlFrom.secretKeyRef"))]
    pub url: Option<String>,
    /// A ConfigMap key (`binaryData`) holding the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeyRef>,
    /// A Secret key holding the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
    /// A URL held in a Secret (a presigned URL, or one with credentials), fetched like `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_from: Option<UrlFrom>,
}

/// Training parameters for an acoustic model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcousticTraining {
    /// True (default): fail when any audio is invalid. False: train on the valid audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// OnChange (default) or Manual (annotation `speech.watson.dev/train-requested-at`).
    #[serde(default)]
    pub policy: TrainingPolicy,
}

/// Observed state of a CustomAcousticModel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomAcousticModelStatus {
    #[serde(flatten)]
    pub model: ModelStatus,
    /// Each audio resource as the service reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<ResourceStatus>,
    /// Minutes of valid audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_minutes_of_audio: Option<f64>,
    /// The custom language model the last training started with (`customization_id` and
    /// `base_model_version`); absent when it trained without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_with_language_model: Option<TrainedWith>,
}

/// The custom language model an acoustic model was trained with
/// (`status.trainedWithLanguageModel`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainedWith {
    /// The language model's customization ID (sent as `custom_language_model_id`).
    pub customization_id: String,
    /// Its base-model version at that training, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_version: Option<String>,
}
