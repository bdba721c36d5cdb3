//! `CustomVoiceModel`: an IBM Text to Speech custom model (word/translation pairs).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DeletionPolicy, Export, ManagementPolicy, ModelStatus, ServiceRef};
use super::language_model::WordsFrom;

/// A custom model of IBM Watson Text to Speech: words and how to pronounce them.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A custom model of IBM Watson Text to Speech: words and how to pronounce them. Annotations: speech.watson.dev/reconcile-requested-at (any new value: look now, re-reading the model and all its data on the service; echoed in status.reconcileRequestToken), speech.watson.dev/drift-interval (a duration such as 10m: how often this model is compared with the service, at least the operator's --min-drift-interval-seconds).",
    group = "speech.watson.dev",
    version = "v1alpha1",
    kind = "CustomVoiceModel",
    namespaced,
    shortname = "cvm",
    category = "watson",
    status = "CustomVoiceModelStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Language","type":"string","jsonPath":".spec.language"}"#,
    printcolumn = r#"{"name":"Words","type":"integer","jsonPath":".status.wordCount"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.customizationId","priority":1}"#,
    printcolumn = r#"{"name":"Policy","type":"string","description":"Manage, or ObserveOnly (read and reported, never changed)","jsonPath":".spec.managementPolicy","priority":1}"#,
    printcolumn = r#"{"name":"Next","type":"string","description":"What the operator does next and why (status.nextAction)","jsonPath":".status.nextAction","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.customizationId) == has(oldSelf.customizationId) && (!has(self.customizationId) || self.customizationId == oldSelf.customizationId)").message("spec.customizationId is immutable: create a new resource to adopt another model"))]
#[x_kube(validation = Rule::new("!has(self.managementPolicy) || self.managementPolicy != 'ObserveOnly' || has(self.customizationId)").message("spec.managementPolicy ObserveOnly requires spec.customizationId: the operator only observes an existing model and never creates one"))]
#[x_kube(validation = Rule::new("(has(self.language) && self.language == 'ja-JP') || !has(self.words) || self.words.all(w, !has(w.partOfSpeech))").message("spec.words[].partOfSpeech: the service accepts a part of speech for ja-JP models only (Part of speech is supported for ja-JP language only)"))]
pub struct CustomVoiceModelSpec {
    /// The SpeechService (TextToSpeech, same namespace) the model lives in.
    pub service_ref: ServiceRef,
    /// The language, e.g. `en-US` (default). The model serves every voice of it. Immutable.
    #[serde(default = "default_language")]
    #[schemars(regex(pattern = r"^[a-z]{2}-[A-Z]{2}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.language is immutable: create a new resource for another language"))]
    pub language: String,
    /// The model name on the service; defaults to `<namespace>-<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[^\\/:=&?]+$"))]
    pub model_name: Option<String>,
    /// A description (at most 85 characters; the operator appends an ownership marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 85))]
    pub description: Option<String>,
    /// Words and their translations (sounds-like text or SSML phonemes). Words are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20000))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["word".into()]))]
    pub words: Vec<VoiceWord>,
    /// More words from a ConfigMap key holding a YAML or JSON list (same fields and limits as
    /// `words`, at most 20,000 entries, at most 1 MiB; YAML anchors and aliases are refused).
    /// Entries in `words` win over the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_from: Option<WordsFrom>,
    /// Delete (default) or Retain the IBM model when this resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Hands the model to applications: a ConfigMap the operator writes and keeps current with
    /// the customization ID, language and service URL. Unset: none.
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

/// The language of a voice model whose spec names none (IBM's default, `en-US`).
pub fn default_language() -> String {
    "en-US".to_string()
}

/// A word and its translation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoiceWord {
    /// The word (at most 49 characters).
    #[schemars(length(min = 1, max = 49))]
    pub word: String,
    /// How to say it: a sounds-like phrase or an SSML `<phoneme>` (at most 499 characters).
    #[schemars(length(min = 1, max = 499))]
    pub translation: String,
    /// Japanese only: the part of speech (e.g. `Mesi` for noun).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(Dosi|Fuku|Gobi|Hoka|Jodo|Josi|Kato|Kedo|Keyo|Kigo|Koyu|Mesi|Reta|Stbi|Stto|Stzo|Suji)$"
    ))]
    pub part_of_speech: Option<String>,
}

/// Observed state of a CustomVoiceModel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomVoiceModelStatus {
    #[serde(flatten)]
    pub model: ModelStatus,
    /// Number of words in the model at the last check (absent until checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_count: Option<i64>,
}
