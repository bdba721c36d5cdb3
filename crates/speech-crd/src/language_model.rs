//! `CustomLanguageModel`: an IBM Speech to Text custom language model with its corpora, custom
//! words and grammars.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    ConfigMapKeyRef, DeletionPolicy, Export, ManagementPolicy, ModelStatus, ResourceStatus,
    ServiceRef, Source, TrainingPolicy, UpgradePolicy,
};
use super::evaluation::{Evaluation, EvaluationStatus};

/// A custom language model of IBM Watson Speech to Text: created on a base model, fed with
/// corpora, words and grammars, trained, and upgraded when the base model gets a new version.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A custom language model of IBM Watson Speech to Text: created on a base model, fed with corpora, words and grammars, trained, and upgraded when the base model gets a new version. Annotations: speech.watson.dev/recreate-requested-at (any new value: build a new IBM model beside the current one, feed and train it, switch status.customizationId and the export to it, delete the old one; echoed in status.recreateRequestToken), speech.watson.dev/reconcile-requested-at (any new value: look now, re-reading the model and all its data on the service; echoed in status.reconcileRequestToken), speech.watson.dev/drift-interval (a duration such as 10m: how often this model is compared with the service, at least the operator's --min-drift-interval-seconds).",
    group = "speech.watson.dev",
    version = "v1alpha1",
    kind = "CustomLanguageModel",
    namespaced,
    shortname = "clm",
    category = "watson",
    status = "CustomLanguageModelStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Progress","type":"integer","jsonPath":".status.progress"}"#,
    printcolumn = r#"{"name":"Base","type":"string","jsonPath":".spec.baseModelName"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.baseModelVersion"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"WER","type":"string","description":"Word error rate of the model as it is now on spec.evaluation's test set","jsonPath":".status.evaluation.wer"}"#,
    printcolumn = r#"{"name":"ETA","type":"string","description":"When the running training or upgrade is expected to finish (UTC)","jsonPath":".status.currentOperation.expectedFinishAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.customizationId","priority":1}"#,
    printcolumn = r#"{"name":"Policy","type":"string","description":"Manage, or ObserveOnly (read and reported, never changed)","jsonPath":".spec.managementPolicy","priority":1}"#,
    printcolumn = r#"{"name":"Next","type":"string","description":"What the operator does next and why (status.nextAction)","jsonPath":".status.nextAction","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.dialect) == has(oldSelf.dialect) && (!has(self.dialect) || self.dialect == oldSelf.dialect)").message("spec.dialect is immutable: create a new resource for another dialect"))]
#[x_kube(validation = Rule::new("has(self.customizationId) == has(oldSelf.customizationId) && (!has(self.customizationId) || self.customizationId == oldSelf.customizationId)").message("spec.customizationId is immutable: create a new resource to adopt another model"))]
#[x_kube(validation = Rule::new("!has(self.corpora) || !has(self.grammars) || self.corpora.all(c, !self.grammars.exists(g, g.name == c.name))").message("spec.corpora and spec.grammars must not share a name (the service keeps them in one namespace)"))]
#[x_kube(validation = Rule::new("!has(oldSelf.customizationId) || self.baseModelName == oldSelf.baseModelName").message("spec.baseModelName is immutable on an adopted model (spec.customizationId): the operator re-creates only models it created"))]
#[x_kube(validation = Rule::new("!has(self.managementPolicy) || self.managementPolicy != 'ObserveOnly' || has(self.customizationId)").message("spec.managementPolicy ObserveOnly requires spec.customizationId: the operator only observes an existing model and never creates one"))]
#[x_kube(validation = Rule::new("!has(self.grammars) || size(self.grammars) == 0 || self.baseModelName.contains('_')").message("spec.grammars: a large speech model (a base model named by its locale alone, e.g. en-US) does not support grammars; remove spec.grammars or use a next-generation base model such as en-US_Telephony"))]
pub struct CustomLanguageModelSpec {
    /// The SpeechService (SpeechToText, same namespace) the model lives in.
    pub service_ref: ServiceRef,
    /// The base model, e.g. `en-US_BroadbandModel`, `en-US_Telephony` or `en-US`. It may change
    /// to another base model of the same locale (the part before `_`, e.g. from
    /// `en-US_Telephony` to the large speech model `en-US`): the operator then re-creates the
    /// model on the new base without downtime (a new model beside the current one, fed, trained,
    /// then switched to; docs/operations.md, "Migrating to a large speech model"). Not on an
    /// adopted model (`spec.customizationId`).
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self == oldSelf || self.split('_')[0] == oldSelf.split('_')[0]").message("spec.baseModelName may change only within its locale (the part before '_', e.g. en-US_Telephony to en-US): create a new resource for another language"))]
    pub base_model_name: String,
    /// The dialect (for example `es-LA` on Spanish previous-generation models). Usually omitted.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z]{2}-[a-zA-Z]{2}$"))]
    pub dialect: Option<String>,
    /// The model name on the service; defaults to `<namespace>-<name>`. At most 256 characters,
    /// without `\ / : = & ?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[^\\/:=&?]+$"))]
    pub model_name: Option<String>,
    /// A description of the model. At most 85 characters: the service allows 128 and the
    /// operator appends a 43-character ownership marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 85))]
    pub description: Option<String>,
    /// The base-model version to be on, e.g. `en-US_BroadbandModel.v2020-01-16`. Empty means the
    /// newest the service offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 160), regex(pattern = r"^[^\s]+\.v\d{4}-\d{2}-\d{2}$"))]
    pub base_model_version: Option<String>,
    /// Upgrade automatically when a newer base-model version is known, or only on request.
    #[serde(default)]
    pub upgrade_policy: UpgradePolicy,
    /// Text corpora (domain sentences). Names are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub corpora: Vec<Corpus>,
    /// Custom words with their pronunciations and display forms. Words are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10000))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["word".into()]))]
    pub words: Vec<CustomWord>,
    /// More words from a ConfigMap key holding a YAML or JSON list of word entries
    /// (same fields and limits as `words`, at most 10,000 entries, at most 1 MiB; YAML anchors
    /// and aliases are refused). Entries in `words` win over the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_from: Option<WordsFrom>,
    /// Grammars (SRGS, ABNF or XML) restricting recognition to defined phrases. Names are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub grammars: Vec<Grammar>,
    /// Training parameters and policy.
    #[serde(default)]
    pub training: LanguageTraining,
    /// Delete (default) or Retain the IBM model when this resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Hands the model to applications: a ConfigMap the operator writes and keeps current with
    /// the customization ID, base model, base-model version and service URL. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
    /// Adopt this existing IBM model instead of creating one. Its base model must match.
    /// Immutable. An adopted model is never re-created by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    ))]
    pub customization_id: Option<String>,
    /// Stop all calls to the service for this model (status keeps the last known state).
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
    /// Measure the model on a test set of your own after every training and upgrade: word error
    /// rate in `status.evaluation`, the `WER` column, the `wso_model_wer` metric and an Event
    /// when it changes. Unset: never measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
}

/// A text corpus.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Corpus {
    /// The corpus name on the service (at most 128 characters; `user`, `base_lm` and
    /// `default_lm` are reserved).
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    )]
    #[x_kube(validation = Rule::new("!(self in ['user', 'base_lm', 'default_lm'])").message("name: 'user', 'base_lm' and 'default_lm' are reserved by the service"))]
    pub name: String,
    /// Where the text comes from.
    pub source: Source,
}

/// A grammar.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grammar {
    /// The grammar name on the service (at most 128 characters; `user`, `base_lm` and
    /// `default_lm` are reserved).
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    )]
    #[x_kube(validation = Rule::new("!(self in ['user', 'base_lm', 'default_lm'])").message("name: 'user', 'base_lm' and 'default_lm' are reserved by the service"))]
    pub name: String,
    /// `abnf` (application/srgs) or `xml` (application/srgs+xml).
    pub content_type: GrammarType,
    /// Where the grammar text comes from.
    pub source: Source,
}

/// The grammar format.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GrammarType {
    /// Augmented Backus-Naur Form (`application/srgs`).
    Abnf,
    /// SRGS XML (`application/srgs+xml`).
    Xml,
}

impl GrammarType {
    /// The Content-Type the service expects.
    pub fn content_type(self) -> &'static str {
        match self {
            GrammarType::Abnf => "application/srgs",
            GrammarType::Xml => "application/srgs+xml",
        }
    }
}

/// A custom word.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomWord {
    /// The word as written in audio transcripts (avoid spaces; join compounds with `-` or `_`).
    #[schemars(length(min = 1, max = 128))]
    pub word: String,
    /// Up to 5 pronunciations, each at most 40 characters, numbers spelled out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 5),
        inner(length(min = 1, max = 40), regex(pattern = r"^[^0-9]*$"))
    )]
    pub sounds_like: Vec<String>,
    /// How the word appears in transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub display_as: Option<String>,
    /// Next-generation models: only map the spelling to `displayAs` in transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_only: Option<bool>,
}

/// A ConfigMap key holding a list of word entries.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WordsFrom {
    /// The ConfigMap key (YAML or JSON list).
    pub config_map_key_ref: ConfigMapKeyRef,
}

/// Training parameters for a language model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LanguageTraining {
    /// Previous-generation models: `all` (default) or `user` (only words the user added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_type_to_add: Option<WordTypeToAdd>,
    /// Weight of the custom model against the base model, 0.0 to 1.0 (the service's default
    /// depends on the base model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub customization_weight: Option<f64>,
    /// True (default): fail training when any resource is invalid. False: train on the valid
    /// ones and report the others as warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// OnChange (default) trains whenever the inputs changed; Manual waits for the annotation
    /// `speech.watson.dev/train-requested-at`.
    #[serde(default)]
    pub policy: TrainingPolicy,
}

/// Which words training uses.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WordTypeToAdd {
    /// All words (default).
    All,
    /// Only words added or modified by the user.
    User,
}

/// Observed state of a CustomLanguageModel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomLanguageModelStatus {
    #[serde(flatten)]
    pub model: ModelStatus,
    /// Each corpus as the service reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corpora: Vec<ResourceStatus>,
    /// Each grammar as the service reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grammars: Vec<ResourceStatus>,
    /// Digest of the custom words the service holds, as the operator last read them or sent them
    /// (absent when unknown). While it matches the spec's words, checks do not list the words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_digest: Option<String>,
    /// Number of custom words on the service at the last word listing (absent until listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_count: Option<i64>,
    /// The word error rate of the model on `spec.evaluation`'s test set, per version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<EvaluationStatus>,
}
