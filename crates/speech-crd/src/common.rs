//! Parts shared by the custom resource kinds: references, data sources, policies and the status
//! vocabulary (phases, conditions, operations).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::values::{
    OperationOutcome, OperationType, Phase, ResourceServiceStatus, ServiceStatus,
};

/// The API group of every kind of this operator.
pub const GROUP: &str = "speech.watson.dev";
/// The finalizer that guards the IBM model while the custom resource exists.
pub const FINALIZER: &str = "speech.watson.dev/model";
/// The finalizer a SpeechService and its credentials Secret carry while a model resource uses
/// them (the way Kubernetes protects a PersistentVolumeClaim in use): deleting a model with
/// `deletionPolicy: Delete` needs both, so they go only after the last model resource using them.
pub const IN_USE_FINALIZER: &str = "speech.watson.dev/in-use";
/// Annotation on a model resource: `"true"` lets its deletion finish without any call to IBM
/// (the IBM model, if any, is kept on the service). For a resource whose SpeechService or
/// credentials are gone for good (a mistyped `spec.serviceRef`, a deleted instance).
pub const RELEASE_WITHOUT_DELETING: &str = "speech.watson.dev/release-without-deleting";
/// Annotation: set it to a new value to request one training (with `training.policy: Manual`).
pub const TRAIN_REQUESTED_AT: &str = "speech.watson.dev/train-requested-at";
/// Annotation: set it to a new value to request one upgrade (with `upgradePolicy: Manual`).
pub const UPGRADE_REQUESTED_AT: &str = "speech.watson.dev/upgrade-requested-at";
/// Annotation: set it to a new value to reset a language or acoustic model once (IBM's reset
/// removes all its data); the operator then adds the data again and trains.
pub const RESET_REQUESTED_AT: &str = "speech.watson.dev/reset-requested-at";
/// Annotation on a SpeechService: set it to a new value to delete, once, all data the instance
/// holds labelled with the service's `spec.customerId` (`DELETE /v1/user_data`), after every
/// model resource that uses the service is gone.
pub const ERASE_CUSTOMER_DATA_REQUESTED_AT: &str =
    "speech.watson.dev/erase-customer-data-requested-at";
/// Annotation on a model resource: set it to a new value to make the operator look at once and
/// read everything it would normally skip: a new listing of the service's models, and the
/// model's corpora, grammars, words or audio. The value is echoed into
/// `status.reconcileRequestToken` once that read is done (issue 29).
pub const RECONCILE_REQUESTED_AT: &str = "speech.watson.dev/reconcile-requested-at";
/// Annotation on a language model resource: set it to a new value to re-create the IBM model
/// without downtime: the operator builds a new model beside the current one (same data,
/// trained), then switches `status.customizationId` and the export to it in one status write,
/// then deletes the old one. The value is echoed into `status.recreateRequestToken` once the
/// switch is done or the new model has failed (issue 27).
pub const RECREATE_REQUESTED_AT: &str = "speech.watson.dev/recreate-requested-at";
/// Annotation on a language model resource with `spec.evaluation.policy: Gate`: set it to a new
/// value to promote the new model built beside the one in service as soon as it is trained,
/// whatever its word error rate (the override of a `QualityGateFailed`). The value is echoed into
/// `status.promoteRequestToken` once acted on (issue 28).
pub const PROMOTE_REQUESTED_AT: &str = "speech.watson.dev/promote-requested-at";
/// Annotation on a model resource: how often this model is checked for changes made elsewhere
/// while it is Available (a duration such as `90s`, `10m` or `1h30m`), instead of the operator's
/// `--drift-interval-seconds`; never shorter than the operator's `--min-drift-interval-seconds`
/// (issue 29).
pub const DRIFT_INTERVAL: &str = "speech.watson.dev/drift-interval";

/// A reference to a SpeechService in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ServiceRef {
    /// Name of the SpeechService (same namespace) that holds the endpoint and credentials.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A reference to another custom resource in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalRef {
    /// Name of the referenced object (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A key of a ConfigMap in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the ConfigMap's `data` (text) or `binaryData` (bytes).
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A key of a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A URL held in a Secret: for a presigned URL (its query is a credential) or a URL that carries
/// credentials, which `url` refuses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrlFrom {
    /// The Secret key whose value is the URL (one line; `https` unless the operator allows
    /// `http`; the same address rules as `url`). Status, Events and logs name the Secret and key,
    /// never the URL. The Secret is read again at every drift check, so a rotated presigned URL
    /// is picked up; a new URL serving the same content changes nothing on the service.
    pub secret_key_ref: SecretKeyRef,
}

/// Where the content of a corpus, grammar or audio resource comes from. Set exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "[has(self.text), has(self.configMapKeyRef), has(self.secretKeyRef), has(self.url), has(self.urlFrom)].filter(x, x).size() == 1"
).message("source: set exactly one of text, configMapKeyRef, secretKeyRef, url or urlFrom"))]
pub struct Source {
    /// The content itself, inline (text resources only: corpora and grammars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1_048_576))]
    pub text: Option<String>,
    /// A key of a ConfigMap holding the content; edits are picked up by a watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeyRef>,
    /// A key of a Secret holding the content (for sensitive data); edits are picked up by a watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
    /// An http(s) URL the operator downloads the content from (size-limited, with a timeout).
    /// The content is fetched again at every drift check; a change triggers retraining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    #[x_kube(validation = Rule::new("!self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@')").message("a URL must not hold credentials (user:password@): status, Events and logs would show them; put the URL in a Secret and use urlFrom.secretKeyRef"))]
    pub url: Option<String>,
    /// A URL held in a Secret (a presigned URL, or one with credentials), fetched like `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_from: Option<UrlFrom>,
}

/// `spec.export` of the model kinds: the ConfigMap that hands a model to applications. The field
/// doc of `config_map_name` is what `kubectl explain` shows; it states the whole contract.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    /// The ConfigMap, in the resource's namespace, that the operator writes and keeps current so
    /// applications can read the model's identifiers (for example as environment variables with
    /// `envFrom`) without any right on the custom resources. A DNS subdomain: lower case letters,
    /// digits, `-` and `.`, at most 253 characters.
    ///
    /// Keys: `customizationId` and `serviceUrl` (the SpeechService's URL, never a credential);
    /// language and acoustic models add `baseModelName` and `baseModelVersion`; an acoustic model
    /// with `languageModelRef` adds `languageCustomizationId`; a voice model adds `language`.
    ///
    /// The ConfigMap is written once the model has a customization ID, then only when its content
    /// changes (after an upgrade, say), and restored when someone edits or deletes it. It is owned
    /// by the resource (an ownerReference with `controller: true`), so Kubernetes deletes it with
    /// the resource. An existing ConfigMap the operator does not own is never overwritten: the
    /// condition `Exported` turns False with the reason `ConfigMapNotOwned`. Naming another
    /// ConfigMap, or removing `export`, deletes the one the operator wrote before.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub config_map_name: String,
}

/// What happens to the IBM model when the custom resource is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the IBM model (the default).
    #[default]
    Delete,
    /// Leave the IBM model in place; only the custom resource goes.
    Retain,
}

/// Whether the operator manages the IBM model or only observes it (`spec.managementPolicy`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ManagementPolicy {
    /// The operator creates (or adopts), feeds, trains, upgrades and deletes the model.
    #[default]
    Manage,
    /// The operator only reads the model named by `spec.customizationId` and reports it.
    ObserveOnly,
}

/// When a newer base-model version is offered, upgrade automatically or only on request.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum UpgradePolicy {
    /// Upgrade as soon as a newer version is known (language models before acoustic models).
    #[default]
    Automatic,
    /// Show `UpgradeAvailable` and wait for the annotation
    /// `speech.watson.dev/upgrade-requested-at: <token>`.
    Manual,
}

/// When to train.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum TrainingPolicy {
    /// Train whenever the inputs changed since the last training, never otherwise.
    #[default]
    OnChange,
    /// Report pending training in status and train once per new value of the annotation
    /// `speech.watson.dev/train-requested-at`.
    Manual,
}

/// A long-running IBM operation, current or past.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationRecord {
    /// Train or Upgrade.
    #[serde(rename = "type")]
    pub kind: OperationType,
    /// When the operator started it.
    pub started_at: Time,
    /// The inputs digest the operation works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
    /// When the operation is expected to finish (current operations only): its start plus the
    /// model's last successful operation of the same type, else an estimate (an upgrade takes
    /// what a training takes; an acoustic training takes about as long as its audio), else the
    /// operator's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_finish_at: Option<Time>,
    /// When the service first reported the operation running (model status training or
    /// upgrading). Until then, right after the call, IBM may still report the status from
    /// before it (watson-api.md §16), which is not taken for the operation's end; after it, it
    /// is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_seen_at: Option<Time>,
    /// The model's service status when the operator started the operation (for example
    /// `ready`). Until the service reports the operation running, only this status counts as
    /// the service's lag; any other status is the operation's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<ServiceStatus>,
    /// When it ended (past operations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Succeeded or Failed (past operations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OperationOutcome>,
    /// Wall-clock duration in seconds (past operations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// What went wrong, for failed operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How a text resource (corpus, grammar) or audio resource stands on the service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The resource name.
    pub name: String,
    /// The service's status: being_processed, analyzed, undetermined (text); ok, invalid (audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_status: Option<ResourceServiceStatus>,
    /// Digest of the content the operator uploaded (to detect changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// When the operator uploaded it (the start of the service's analysis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<Time>,
    /// Words in the corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_words: Option<i64>,
    /// Out-of-vocabulary words found (previous-generation models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_vocabulary_words: Option<i64>,
    /// Audio duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// The service's error for this resource, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The new IBM model a re-create builds beside the current one (language models; issue 27):
/// what was created, uploaded and observed of it, never what was asked for. It replaces
/// `status.customizationId` once trained; a failed one is deleted and stays here, without its
/// ID, with the reason, until a new request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuccessorStatus {
    /// The new model's customization ID; absent once a failed one was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customization_id: Option<String>,
    /// The base model the new model was created on.
    pub base_model_name: String,
    /// The `recreate-requested-at` token it was created for (absent: created for a change of
    /// `spec.baseModelName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_token: Option<String>,
    /// When the operator created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// Creating, Processing, Training, Available (trained, about to be switched to) or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The status the service reports for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_status: Option<ServiceStatus>,
    /// Base-model versions it supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// The inputs digest it is being built for (a failure is not retried on the same inputs,
    /// base model and request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
    /// Digest of the inputs its finished training reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_inputs_digest: Option<String>,
    /// Its training in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<OperationRecord>,
    /// Its corpora as last observed (with the digest of what was uploaded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corpora: Vec<ResourceStatus>,
    /// Its grammars as last observed (with the digest of what was uploaded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grammars: Vec<ResourceStatus>,
    /// Digest of the custom words it holds, as last read or sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_digest: Option<String>,
    /// Number of custom words on it at the last word listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_count: Option<i64>,
    /// Why it failed (phase Failed): the current model keeps serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Status fields shared by the three model kinds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    /// The generation of the spec this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The IBM customization ID of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customization_id: Option<String>,
    /// The base model the model of `customizationId` is on, as the service lists it (it differs
    /// from `spec.baseModelName` while a language model migrates to another base model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_name: Option<String>,
    /// True when the model was adopted through `spec.customizationId` (never re-created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted: Option<bool>,
    /// Lifecycle phase for people: Creating, Processing, Ready, WaitingForData, Training,
    /// Available, Upgrading, Failed, Deleting, WaitingForDependency or Suspended (a phase written
    /// by a newer operator is kept as written). The conditions carry the detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The status the service reports (pending, ready, training, available, upgrading, failed;
    /// `exists` for a voice model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_status: Option<ServiceStatus>,
    /// The service's progress figure (0 or 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<i64>,
    /// Base-model versions the model supports (more than one after an upgrade).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// The base-model version the model is currently on (the newest of `versions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_version: Option<String>,
    /// Digest of all inputs (data and training parameters) as currently specified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
    /// Digest of the inputs the trained model reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_inputs_digest: Option<String>,
    /// The operation in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<OperationRecord>,
    /// The most recent finished operations, newest first (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<OperationRecord>,
    /// The last `train-requested-at` token acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_request_token: Option<String>,
    /// The last `upgrade-requested-at` token acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_request_token: Option<String>,
    /// The last `reset-requested-at` token acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_request_token: Option<String>,
    /// The last `reconcile-requested-at` token acted upon: the check that carried it read the
    /// model's listing and all its data from the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_request_token: Option<String>,
    /// The last `recreate-requested-at` token acted upon (language models): the re-create it
    /// asked for switched to the new model, or the new model failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreate_request_token: Option<String>,
    /// The last `promote-requested-at` token acted upon (language models with a gate): the new
    /// model it promoted, or the token seen while no new model waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_request_token: Option<String>,
    /// The new model a re-create or a change of `spec.baseModelName` builds beside the current
    /// one (language models), or the last one that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<SuccessorStatus>,
    /// The model's last-change time as the service reported it at the last check (`updated`;
    /// for voice models `last_modified`), as the service wrote it. On a model the operator left
    /// Available, another value is a change made elsewhere: the operator then reads all the
    /// model's data before it decides (issue 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_updated: Option<String>,
    /// The ConfigMap the operator last wrote for `spec.export` (and owns). When `spec.export`
    /// names another one or is removed, the operator deletes this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_config_map: Option<String>,
    /// Standard conditions: Ready, Trained, UpToDate, DependenciesReady, Reconciling, Stalled,
    /// and Exported when `spec.export` is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Warnings from the service (for example training warnings with strict: false).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the operator does next for this model and why, in one line: `<step>: <why>`, for
    /// example `train: the inputs changed since the last training`, `add corpus c2`,
    /// `wait for CustomLanguageModel helpdesk to be Ready (now Training)` or
    /// `none: Available on the current spec`. Written with the rest of the status, so it changes
    /// only when the decision does. With `run --dry-run` it starts with `dry run: ` and a step the
    /// operator skipped reads `dry run: would <step>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_action: Option<String>,
}
