//! Request and response types of the Speech to Text customization API.
//!
//! Response types are lenient: identifiers are required, every other field is optional (or an
//! empty list when absent), unknown fields are ignored and status enums are open.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use open_enum::open_enum;

open_enum! {
    /// The status of a custom language or acoustic model.
    pub enum ModelStatus {
        /// Created, or waiting for added data to be analysed.
        Pending = "pending",
        /// Has valid data and can be trained.
        Ready = "ready",
        /// Training.
        Training = "training",
        /// Trained and usable.
        Available = "available",
        /// Upgrading to a new base model version.
        Upgrading = "upgrading",
        /// The last training failed.
        Failed = "failed",
    }
}

open_enum! {
    /// The status of a corpus or a grammar.
    pub enum ResourceStatus {
        /// Analysed successfully.
        Analyzed = "analyzed",
        /// Analysis running.
        BeingProcessed = "being_processed",
        /// Analysis failed (see `error`).
        Undetermined = "undetermined",
    }
}

open_enum! {
    /// The status of an audio resource.
    pub enum AudioStatus {
        /// Valid.
        Ok = "ok",
        /// Analysis running.
        BeingProcessed = "being_processed",
        /// Invalid (format, sampling rate, corrupt member, ...).
        Invalid = "invalid",
    }
}

open_enum! {
    /// The `type` of an audio resource's details.
    pub enum AudioType {
        /// A single audio file.
        Audio = "audio",
        /// An archive of audio files.
        Archive = "archive",
        /// Not recognised as audio.
        Undetermined = "undetermined",
    }
}

open_enum! {
    /// The code of a training warning.
    pub enum TrainingWarningCode {
        /// Invalid audio files were skipped.
        InvalidAudioFiles = "invalid_audio_files",
        /// Invalid corpora were skipped.
        InvalidCorpusFiles = "invalid_corpus_files",
        /// Invalid grammars were skipped.
        InvalidGrammarFiles = "invalid_grammar_files",
        /// Invalid words were skipped.
        InvalidWords = "invalid_words",
    }
}

/// Which words a training uses (previous-generation models).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordTypeToAdd {
    /// All words (`all`).
    All,
    /// Only words added or modified by the user (`user`).
    User,
}

impl WordTypeToAdd {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            WordTypeToAdd::All => "all",
            WordTypeToAdd::User => "user",
        }
    }
}

/// The order of `list_words`. Rendered with an explicit `+`/`-` prefix (sent as `%2B`/`-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordSort {
    /// `+alphabetical` (the service default).
    AlphabeticalAscending,
    /// `-alphabetical`.
    AlphabeticalDescending,
    /// `+count`.
    CountAscending,
    /// `-count`.
    CountDescending,
}

impl WordSort {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            WordSort::AlphabeticalAscending => "+alphabetical",
            WordSort::AlphabeticalDescending => "-alphabetical",
            WordSort::CountAscending => "+count",
            WordSort::CountDescending => "-count",
        }
    }
}

/// Base model capabilities.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SupportedFeatures {
    /// Whether custom language models may be based on it.
    #[serde(default)]
    pub custom_language_model: Option<bool>,
    /// Whether custom acoustic models may be based on it.
    #[serde(default)]
    pub custom_acoustic_model: Option<bool>,
    /// Speaker labels (always `true` in practice).
    #[serde(default)]
    pub speaker_labels: Option<bool>,
    /// Low-latency support (next-generation models).
    #[serde(default)]
    pub low_latency: Option<bool>,
}

/// A base model (`GET /v1/models/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct SpeechModel {
    /// The model name, e.g. `en-US_BroadbandModel`.
    pub name: String,
    /// Its language, e.g. `en-US`.
    #[serde(default)]
    pub language: Option<String>,
    /// Minimum sampling rate in Hz.
    #[serde(default)]
    pub rate: Option<u32>,
    /// Its URL.
    #[serde(default)]
    pub url: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// Capabilities.
    #[serde(default)]
    pub supported_features: Option<SupportedFeatures>,
}

/// `GET /v1/models`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SpeechModels {
    /// The models (order may change between calls).
    #[serde(default)]
    pub models: Vec<SpeechModel>,
}

/// The answer of a create call: only the new id.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct CustomizationId {
    /// The new model's id.
    pub customization_id: String,
}

/// `POST /v1/customizations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreateLanguageModel {
    /// Name (at most 256 characters, none of `\ / : = & ?`).
    pub name: String,
    /// A base model whose `custom_language_model` feature is true.
    pub base_model_name: String,
    /// Dialect (usually omitted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// Description (at most 128 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A custom language model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct LanguageModel {
    /// Its id.
    pub customization_id: String,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created: Option<String>,
    /// Last update time (ISO 8601).
    #[serde(default)]
    pub updated: Option<String>,
    /// Language, e.g. `en-US`.
    #[serde(default)]
    pub language: Option<String>,
    /// Dialect.
    #[serde(default)]
    pub dialect: Option<String>,
    /// Base model versions the model supports (more than one after an upgrade).
    #[serde(default)]
    pub versions: Vec<String>,
    /// The owning credentials' GUID.
    #[serde(default)]
    pub owner: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Base model name.
    #[serde(default)]
    pub base_model_name: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<ModelStatus>,
    /// 0 or 100.
    #[serde(default)]
    pub progress: Option<u32>,
    /// An error (possibly a stringified JSON error), e.g. a grammar compile failure.
    #[serde(default)]
    pub error: Option<String>,
    /// A warning **string** (e.g. unknown query parameters).
    #[serde(default)]
    pub warnings: Option<String>,
}

/// `GET /v1/customizations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct LanguageModels {
    /// The models.
    #[serde(default)]
    pub customizations: Vec<LanguageModel>,
}

/// Query parameters of `POST /v1/customizations/{id}/train`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainLanguageModel {
    /// `word_type_to_add` (previous-generation only).
    pub word_type_to_add: Option<WordTypeToAdd>,
    /// `customization_weight` (0.0–1.0).
    pub customization_weight: Option<f64>,
    /// `strict` (service default `true`).
    pub strict: Option<bool>,
    /// `force`: train even if nothing changed.
    pub force: Option<bool>,
}

/// A training warning.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrainingWarning {
    /// The warning code.
    #[serde(default)]
    pub code: Option<TrainingWarningCode>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
}

/// The answer of a train call (`{}` or with warnings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrainingResponse {
    /// Warnings: resources excluded from training (`strict=false`). An **array**, unlike
    /// [`LanguageModel::warnings`].
    #[serde(default)]
    pub warnings: Vec<TrainingWarning>,
}

/// A corpus.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Corpus {
    /// Its name.
    pub name: String,
    /// Words in the corpus (0 while processing).
    #[serde(default)]
    pub total_words: Option<u64>,
    /// Out-of-vocabulary words (previous-generation models).
    #[serde(default)]
    pub out_of_vocabulary_words: Option<u64>,
    /// Status.
    #[serde(default)]
    pub status: Option<ResourceStatus>,
    /// Why the analysis failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET .../corpora`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Corpora {
    /// The corpora.
    #[serde(default)]
    pub corpora: Vec<Corpus>,
}

/// The definition of a custom word (the body of `PUT .../words/{word}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct WordDefinition {
    /// Up to 5 pronunciations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sounds_like: Option<Vec<String>>,
    /// The spelling shown in transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_as: Option<String>,
    /// Next-generation models: only map `display_as`, don't add the word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_only: Option<bool>,
}

/// A custom word in a `POST .../words` batch.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct CustomWord {
    /// The word.
    pub word: String,
    /// Its definition.
    #[serde(flatten)]
    pub definition: WordDefinition,
}

/// A word of a custom language model.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Word {
    /// The word.
    pub word: String,
    /// Pronunciations.
    #[serde(default)]
    pub sounds_like: Vec<String>,
    /// Display form.
    #[serde(default)]
    pub display_as: Option<String>,
    /// Occurrences (previous-generation), else 1.
    #[serde(default)]
    pub count: Option<u64>,
    /// Corpus/grammar names and/or `user`.
    #[serde(default)]
    pub source: Vec<String>,
    /// Echo of the user's `mapping_only`.
    #[serde(default)]
    pub mapping_only: Option<bool>,
    /// Validation errors: single-key objects `{offending element: message}`.
    #[serde(default)]
    pub error: Option<Vec<HashMap<String, String>>>,
}

/// `GET .../words`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Words {
    /// The words.
    #[serde(default)]
    pub words: Vec<Word>,
}

/// Query parameters of `GET .../words`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListWords {
    /// Which words.
    pub word_type: Option<WordType>,
    /// The order.
    pub sort: Option<WordSort>,
}

/// Which words `list_words` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordType {
    /// `all`.
    All,
    /// `user`.
    User,
    /// `corpora`.
    Corpora,
    /// `grammars`.
    Grammars,
}

impl WordType {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            WordType::All => "all",
            WordType::User => "user",
            WordType::Corpora => "corpora",
            WordType::Grammars => "grammars",
        }
    }
}

/// The content type of a grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrammarFormat {
    /// ABNF: `application/srgs`.
    Abnf,
    /// SRGS XML: `application/srgs+xml`.
    Xml,
}

impl GrammarFormat {
    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            GrammarFormat::Abnf => "application/srgs",
            GrammarFormat::Xml => "application/srgs+xml",
        }
    }
}

/// A grammar.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Grammar {
    /// Its name.
    pub name: String,
    /// Out-of-vocabulary words (previous-generation models).
    #[serde(default)]
    pub out_of_vocabulary_words: Option<u64>,
    /// Status.
    #[serde(default)]
    pub status: Option<ResourceStatus>,
    /// Why the analysis failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET .../grammars`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Grammars {
    /// The grammars.
    #[serde(default)]
    pub grammars: Vec<Grammar>,
}

/// `POST /v1/acoustic_customizations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreateAcousticModel {
    /// Name (at most 256 characters).
    pub name: String,
    /// A base model whose `custom_acoustic_model` feature is true.
    pub base_model_name: String,
    /// Description (at most 128 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A custom acoustic model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AcousticModel {
    /// Its id.
    pub customization_id: String,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Last update time.
    #[serde(default)]
    pub updated: Option<String>,
    /// Language.
    #[serde(default)]
    pub language: Option<String>,
    /// Supported base model versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Owner GUID.
    #[serde(default)]
    pub owner: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Base model name.
    #[serde(default)]
    pub base_model_name: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<ModelStatus>,
    /// 0 or 100.
    #[serde(default)]
    pub progress: Option<u32>,
    /// An error (seen on failed models although not in the SDK schema).
    #[serde(default)]
    pub error: Option<String>,
    /// A warning string.
    #[serde(default)]
    pub warnings: Option<String>,
}

/// `GET /v1/acoustic_customizations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AcousticModels {
    /// The models.
    #[serde(default)]
    pub customizations: Vec<AcousticModel>,
}

/// Query parameters of `POST /v1/acoustic_customizations/{id}/train`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrainAcousticModel {
    /// A helper custom language model (same base model version, `available`).
    pub custom_language_model_id: Option<String>,
    /// `strict`.
    pub strict: Option<bool>,
}

/// Query parameters of `POST /v1/acoustic_customizations/{id}/upgrade_model`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradeAcousticModel {
    /// The (already upgraded) language model the acoustic model was trained with.
    pub custom_language_model_id: Option<String>,
    /// Upgrade even if nothing changed (after a 400 `No input data modified since last training`).
    pub force: Option<bool>,
}

/// The details of an audio resource (`{}` while processing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AudioDetails {
    /// `audio`, `archive` or `undetermined`.
    #[serde(default, rename = "type")]
    pub kind: Option<AudioType>,
    /// Codec of an audio file, e.g. `pcm_s16le`.
    #[serde(default)]
    pub codec: Option<String>,
    /// Sampling rate of an audio file in Hz.
    #[serde(default)]
    pub frequency: Option<u32>,
    /// Compression of an archive: `zip` or `gzip`.
    #[serde(default)]
    pub compression: Option<String>,
}

/// An audio resource (or an archive member).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct AudioResource {
    /// Its name.
    pub name: String,
    /// Duration in seconds (0 while processing).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Details.
    #[serde(default)]
    pub details: Option<AudioDetails>,
    /// Status.
    #[serde(default)]
    pub status: Option<AudioStatus>,
}

/// `GET .../audio`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct AudioResources {
    /// Minutes of valid audio.
    #[serde(default)]
    pub total_minutes_of_audio: Option<f64>,
    /// The resources.
    #[serde(default)]
    pub audio: Vec<AudioResource>,
}

/// `GET .../audio/{name}`: one of two shapes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawAudioListing")]
pub enum AudioListing {
    /// A single audio file.
    Audio(AudioResource),
    /// An archive: the archive itself and one entry per member file.
    Archive {
        /// The archive (its `status` is the archive's status).
        container: AudioResource,
        /// The member files.
        audio: Vec<AudioResource>,
    },
}

impl AudioListing {
    /// The status of the resource (the container's for an archive).
    pub fn status(&self) -> Option<&AudioStatus> {
        match self {
            AudioListing::Audio(a) => a.status.as_ref(),
            AudioListing::Archive { container, .. } => container.status.as_ref(),
        }
    }

    /// The resource itself (the container for an archive).
    pub fn resource(&self) -> &AudioResource {
        match self {
            AudioListing::Audio(a) => a,
            AudioListing::Archive { container, .. } => container,
        }
    }
}

#[derive(Deserialize)]
struct RawAudioListing {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    details: Option<AudioDetails>,
    #[serde(default)]
    status: Option<AudioStatus>,
    #[serde(default)]
    container: Option<AudioResource>,
    #[serde(default)]
    audio: Option<Vec<AudioResource>>,
}

impl TryFrom<RawAudioListing> for AudioListing {
    type Error = String;

    fn try_from(raw: RawAudioListing) -> Result<Self, Self::Error> {
        if let Some(container) = raw.container {
            return Ok(AudioListing::Archive {
                container,
                audio: raw.audio.unwrap_or_default(),
            });
        }
        let name = raw
            .name
            .ok_or_else(|| "audio listing has neither `container` nor `name`".to_string())?;
        Ok(AudioListing::Audio(AudioResource {
            name,
            duration: raw.duration,
            details: raw.details,
            status: raw.status,
        }))
    }
}

/// The format of an audio resource being added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioFormat {
    /// A single audio file with its `Content-Type`, e.g. `audio/wav` or `audio/l16;rate=16000`.
    Audio {
        /// The content type.
        content_type: String,
    },
    /// A `.zip` archive (`application/zip`).
    Zip {
        /// `Contained-Content-Type` (required for alaw/basic/l16/mulaw members).
        contained_content_type: Option<String>,
    },
    /// A `.tar.gz` archive (`application/gzip`).
    Gzip {
        /// `Contained-Content-Type` (required for alaw/basic/l16/mulaw members).
        contained_content_type: Option<String>,
    },
}

impl AudioFormat {
    /// `audio/wav`.
    pub fn wav() -> Self {
        AudioFormat::Audio {
            content_type: "audio/wav".to_string(),
        }
    }

    /// `Content-Type` and `Contained-Content-Type`.
    pub fn headers(&self) -> (&str, Option<&str>) {
        match self {
            AudioFormat::Audio { content_type } => (content_type, None),
            AudioFormat::Zip {
                contained_content_type,
            } => ("application/zip", contained_content_type.as_deref()),
            AudioFormat::Gzip {
                contained_content_type,
            } => ("application/gzip", contained_content_type.as_deref()),
        }
    }
}

/// Query parameters of `POST /v1/recognize` (synchronous recognition, audio in the body), the
/// ones an evaluation needs (`watson-api.md` §17). Unset ones are not sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecognizeParams {
    /// `model`: the base model (IBM's default when unset is `en-US_BroadbandModel`, so a custom
    /// model on another base needs it).
    pub model: Option<String>,
    /// `language_customization_id`: the custom language model to recognise with.
    pub language_customization_id: Option<String>,
    /// `acoustic_customization_id`: the custom acoustic model to recognise with.
    pub acoustic_customization_id: Option<String>,
    /// `base_model_version`: the version of the base model to use (an older version of an
    /// upgraded custom model stays usable this way).
    pub base_model_version: Option<String>,
    /// `customization_weight`, 0.0 to 1.0: the weight of the custom language model against
    /// the base model (default: the one the last training stored, else the base's default).
    pub customization_weight: Option<f64>,
    /// `parameter_set` (large speech models: `enhanced`).
    pub parameter_set: Option<String>,
}

/// One alternative of a recognition result.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SpeechAlternative {
    /// The words heard (IBM ends a final transcript with a space).
    #[serde(default)]
    pub transcript: String,
    /// 0 to 1; IBM sends it for the best alternative of a final result only.
    #[serde(default)]
    pub confidence: Option<f64>,
}

/// One result (a stretch of speech) of a recognition.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SpeechRecognitionResult {
    /// `final`: whether the result is final.
    #[serde(default, rename = "final")]
    pub is_final: bool,
    /// The alternatives, best first.
    #[serde(default)]
    pub alternatives: Vec<SpeechAlternative>,
}

/// The answer of `POST /v1/recognize`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SpeechRecognitionResults {
    /// The results, in order (empty when nothing was heard).
    #[serde(default)]
    pub results: Vec<SpeechRecognitionResult>,
    /// The index of the first result.
    #[serde(default)]
    pub result_index: Option<u32>,
    /// Warnings (an array of strings on recognition, e.g. unknown query parameters or a custom
    /// model on an older base version).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl SpeechRecognitionResults {
    /// The transcript: the best alternative of each final result, joined by spaces (IBM's
    /// trailing spaces trimmed).
    pub fn transcript(&self) -> String {
        self.results
            .iter()
            .filter(|r| r.is_final)
            .filter_map(|r| r.alternatives.first())
            .map(|a| a.transcript.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_model_is_lenient() {
        let json = r#"{"customization_id":"74f4807e","created":"2016-06-01T14:21:26.894Z",
            "versions":["en-US_BroadbandModel.v2018-07-31"],"status":"weird_new_status",
            "progress":0,"warnings":"Unexpected query parameter(s) ['p1'] detected",
            "brand_new_field":{"x":1}}"#;
        let m: LanguageModel = serde_json::from_str(json).expect("decodes");
        assert_eq!(
            m.status,
            Some(ModelStatus::Unknown("weird_new_status".into()))
        );
        assert_eq!(
            m.warnings.as_deref(),
            Some("Unexpected query parameter(s) ['p1'] detected")
        );
        let minimal: LanguageModel =
            serde_json::from_str(r#"{"customization_id":"x"}"#).expect("decodes");
        assert!(minimal.versions.is_empty());
        assert!(serde_json::from_str::<LanguageModel>("{}").is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            "pending",
            "ready",
            "training",
            "available",
            "upgrading",
            "failed",
        ] {
            let st: ModelStatus = serde_json::from_str(&format!("\"{s}\"")).expect("status");
            assert!(!matches!(st, ModelStatus::Unknown(_)));
            assert_eq!(serde_json::to_string(&st).expect("ser"), format!("\"{s}\""));
        }
    }

    #[test]
    fn training_response_warnings_array() {
        let r: TrainingResponse = serde_json::from_str(
            r#"{"warnings":[{"code":"invalid_words","message":"Analysis of the following words has not completed successfully: [x]."}]}"#,
        )
        .expect("decodes");
        assert_eq!(r.warnings[0].code, Some(TrainingWarningCode::InvalidWords));
        let empty: TrainingResponse = serde_json::from_str("{}").expect("decodes");
        assert!(empty.warnings.is_empty());
    }

    #[test]
    fn word_error_is_a_list_of_maps() {
        let w: Word = serde_json::from_str(
            r#"{"word":"75","sounds_like":["75 dollars"],"display_as":"75","count":1,"source":["user"],
                "mapping_only":false,
                "error":[{"75 dollars":"Numbers are not allowed in sounds_like."}]}"#,
        )
        .expect("decodes");
        let errors = w.error.expect("error");
        assert_eq!(
            errors[0].get("75 dollars").map(String::as_str),
            Some("Numbers are not allowed in sounds_like.")
        );
        assert_eq!(w.mapping_only, Some(false));
    }

    #[test]
    fn custom_word_serialization() {
        let w = CustomWord {
            word: "IEEE".into(),
            definition: WordDefinition {
                sounds_like: Some(vec!["I. triple E.".into()]),
                display_as: None,
                mapping_only: Some(true),
            },
        };
        assert_eq!(
            serde_json::to_value(&w).expect("ser"),
            serde_json::json!({"word":"IEEE","sounds_like":["I. triple E."],"mapping_only":true})
        );
        assert_eq!(
            serde_json::to_value(WordDefinition::default()).expect("ser"),
            serde_json::json!({})
        );
    }

    #[test]
    fn audio_listing_shapes() {
        let single: AudioListing = serde_json::from_str(
            r#"{"duration":131,"name":"audio1","details":{"codec":"pcm_s16le","type":"audio","frequency":22050},"status":"ok"}"#,
        )
        .expect("single");
        match &single {
            AudioListing::Audio(a) => {
                assert_eq!(a.name, "audio1");
                assert_eq!(a.details.as_ref().and_then(|d| d.frequency), Some(22050));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(single.status(), Some(&AudioStatus::Ok));
        let archive: AudioListing = serde_json::from_str(
            r#"{"container":{"duration":60,"name":"arch","details":{"type":"archive","compression":"zip"},"status":"being_processed"},
                "audio":[{"duration":30,"name":"a.wav","details":{},"status":"ok"},{"duration":30,"name":"b.wav","details":{},"status":"ok"}]}"#,
        )
        .expect("archive");
        match &archive {
            AudioListing::Archive { container, audio } => {
                assert_eq!(container.name, "arch");
                assert_eq!(audio.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(archive.status(), Some(&AudioStatus::BeingProcessed));
        assert!(serde_json::from_str::<AudioListing>("{}").is_err());
    }

    #[test]
    fn audio_format_headers() {
        assert_eq!(AudioFormat::wav().headers(), ("audio/wav", None));
        let zip = AudioFormat::Zip {
            contained_content_type: Some("audio/l16;rate=16000".into()),
        };
        assert_eq!(
            zip.headers(),
            ("application/zip", Some("audio/l16;rate=16000"))
        );
    }
}
