//! `spec.evaluation` and `status.evaluation` of the model kinds (issue 28): a test set of audio
//! items with reference transcripts, recognition options and a policy; the word error rate (WER)
//! measured per model version.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Source;

/// How the operator measures a model: after every change that produces a new model or version
/// (a training finished, an upgrade finished, a re-created model), it recognises each audio item of the test set
/// with the model (`POST /v1/recognize`, billed by IBM as recognition minutes) and compares the
/// transcripts with the references by word error rate (IBM's normalisation: lower case,
/// punctuation removed, hesitations dropped). At most 200 items, each at most 10 MiB of audio,
/// at most 100 MiB per test set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// The test set: a manifest naming audio items with what they say, and where the audio is.
    pub test_set: TestSet,
    /// The audio `Content-Type` sent to the service, e.g. `audio/wav`, `audio/flac` or
    /// `audio/l16;rate=16000` (default `audio/wav`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^audio/[a-z0-9.+-]+(;.*)?$")
    )]
    pub content_type: Option<String>,
    /// `customization_weight` for recognition, 0.0 to 1.0 (default: the weight the model was
    /// trained with, else the base model's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub customization_weight: Option<f64>,
    /// `parameter_set` for recognition (large speech models: `enhanced`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub parameter_set: Option<String>,
    /// `Report` (default): measure and show the result in status, a metric and Events.
    /// `Gate`: applications move to a change only once it is measured within
    /// `toleranceWerPoints` of the model in service. A data change, an upgrade to a newer
    /// base-model version, a re-create and a migration are all built in a second IBM model
    /// beside the one in service (one extra custom model while a change is proved; the quota
    /// guard counts it), measured, then switched to; the export ConfigMap keeps naming the model
    /// in service until then. A change that fails stays beside, with the condition `Promoted`
    /// False, reason `QualityGateFailed` (see `docs/operations.md`, "Gated promotion").
    #[serde(default)]
    pub policy: EvaluationPolicy,
    /// How much worse, in WER percentage points, a new model or version may be than the one in
    /// service and still pass (`Gate`), 0 to 100 (default 0). Changing it measures nothing again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub tolerance_wer_points: Option<i32>,
    /// Most measurements of this model in any 24 hours (default 10, 1 to 100): each recognises
    /// the whole test set once, so IBM bills at most this many times the test set's audio
    /// minutes a day. A measurement over the limit waits until the oldest of the day is 24
    /// hours old (`status.evaluation.message` says when); under `Gate` the change waits with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_measurements_per_day: Option<i32>,
}

/// What the operator does with a measurement.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum EvaluationPolicy {
    /// Measure and show.
    #[default]
    Report,
    /// Measure and hold a worse change back from applications.
    Gate,
}

/// A test set: a manifest and the place of the audio files it names.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "[has(self.audio.configMapName), has(self.audio.secretName), has(self.audio.baseUrl)].filter(x, x).size() == 1"
).message("spec.evaluation.testSet.audio: set exactly one of configMapName, secretName or baseUrl"))]
pub struct TestSet {
    /// The manifest, a CSV text in the format of IBM's `watson-stt-wer-python` tool: a header
    /// line `Audio File Name,Reference`, then one line per item: the audio file's name and what
    /// it says (quote a reference that holds a comma with `"`, and a `"` in it as `""`). Empty
    /// lines are ignored. Same source types as corpora (text, ConfigMap, Secret, URL).
    pub manifest: Source,
    /// Where the audio files named by the manifest are.
    pub audio: TestAudio,
}

/// Where a test set's audio files are. Set exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestAudio {
    /// A ConfigMap (same namespace) whose `binaryData` (or `data`) keys are the file names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub config_map_name: Option<String>,
    /// A Secret (same namespace) whose keys are the file names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: Option<String>,
    /// An http(s) URL; each file is fetched from this URL, a `/` and its name (same rules as a
    /// corpus `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s@]+$"))]
    pub base_url: Option<String>,
}

/// `status.evaluation`: the measurements of the model's versions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationStatus {
    /// The WER of the model as it is now, as people read it (`12.34%`); absent until measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wer: Option<String>,
    /// The latest measurement (of the model as it is now, once measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Measurement>,
    /// `Gate`: the latest measurement of the new model built beside the one in service
    /// (`status.successor`), compared with `current` before the switch; it becomes `current` at
    /// the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Measurement>,
    /// Earlier measurements, newest first (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Measurement>,
    /// Why the model is not measured now, or what went wrong (the last attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The measurement key of the last failed attempt (tried again 5 minutes after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_key: Option<String>,
    /// When the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<Time>,
}

/// One measurement of one model version on the test set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// The custom model measured.
    pub customization_id: String,
    /// The base-model version recognition used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_version: Option<String>,
    /// Digest of the inputs the measured model was trained on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_inputs_digest: Option<String>,
    /// What was measured: the model, its version, its trained inputs and the evaluation spec
    /// (the operator measures again when it changes).
    pub key: String,
    /// The word error rate in basis points (1/100 of a percentage point: 1234 is 12.34 %);
    /// absent when the references hold no word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wer_basis_points: Option<i64>,
    /// The same, as people read it: `12.34%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wer: Option<String>,
    /// Items recognised.
    pub items: i64,
    /// Words in the (normalised) references.
    pub words: i64,
    /// Substitutions, deletions and insertions.
    pub errors: i64,
    /// When the measurement ended.
    pub measured_at: Time,
}
