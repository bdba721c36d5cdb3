//! Request and response types of the Text to Speech customization API (custom models and words).

use serde::{Deserialize, Serialize};

use open_enum::open_enum;

open_enum! {
    /// Japanese part of speech of a custom word.
    pub enum PartOfSpeech {
        /// Verb.
        Dosi = "Dosi",
        /// Adverb.
        Fuku = "Fuku",
        /// Inflectional suffix.
        Gobi = "Gobi",
        /// Other.
        Hoka = "Hoka",
        /// Auxiliary verb.
        Jodo = "Jodo",
        /// Particle.
        Josi = "Josi",
        /// Interjection.
        Kato = "Kato",
        /// Adjective.
        Kedo = "Kedo",
        /// Adjectival noun.
        Keyo = "Keyo",
        /// Symbol.
        Kigo = "Kigo",
        /// Proper noun.
        Koyu = "Koyu",
        /// Noun.
        Mesi = "Mesi",
        /// Pronoun.
        Reta = "Reta",
        /// Prefix.
        Stbi = "Stbi",
        /// Suffix.
        Stto = "Stto",
        /// Counter suffix.
        Stzo = "Stzo",
        /// Numeral.
        Suji = "Suji",
    }
}

open_enum! {
    /// The status of a Tune by Example prompt.
    pub enum PromptStatus {
        /// Being processed.
        Processing = "processing",
        /// Usable.
        Available = "available",
        /// Failed (see `error`).
        Failed = "failed",
    }
}

/// `POST /v1/customizations` (TTS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreateVoiceModel {
    /// Name (at most 256 characters).
    pub name: String,
    /// Language (service default `en-US`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Description (at most 128 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /v1/customizations/{id}` (TTS): change metadata and add or replace words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdateVoiceModel {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Words to add or replace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<VoiceWord>,
}

/// A word and its translation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct VoiceWord {
    /// The word (at most 49 characters).
    pub word: String,
    /// A sounds-like phrase or SSML `<phoneme>` (at most 499 characters).
    #[serde(default)]
    pub translation: String,
    /// Japanese only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of_speech: Option<PartOfSpeech>,
}

/// The translation of one word (`GET`/`PUT .../words/{word}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Translation {
    /// The translation.
    #[serde(default)]
    pub translation: String,
    /// Japanese only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of_speech: Option<PartOfSpeech>,
}

/// A Tune by Example prompt.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Prompt {
    /// The prompt id.
    pub prompt_id: String,
    /// The prompt text.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<PromptStatus>,
    /// Why processing failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The speaker model, if any.
    #[serde(default)]
    pub speaker_id: Option<String>,
}

/// A custom voice model (`words`/`prompts` only from `get_custom_model`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct VoiceModel {
    /// Its id.
    pub customization_id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Language.
    #[serde(default)]
    pub language: Option<String>,
    /// Owner GUID.
    #[serde(default)]
    pub owner: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Last modification time.
    #[serde(default)]
    pub last_modified: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Words (alphabetical).
    #[serde(default)]
    pub words: Vec<VoiceWord>,
    /// Prompts.
    #[serde(default)]
    pub prompts: Vec<Prompt>,
}

/// `GET /v1/customizations` (TTS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct VoiceModels {
    /// The models (without words and prompts).
    #[serde(default)]
    pub customizations: Vec<VoiceModel>,
}

/// `GET /v1/customizations/{id}/words` (TTS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct VoiceWords {
    /// The words.
    #[serde(default)]
    pub words: Vec<VoiceWord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_model_decodes() {
        let m: VoiceModel = serde_json::from_str(
            r#"{"customization_id":"c","name":"n","language":"ja-JP","created":"t","last_modified":"t",
                "words":[{"word":"IBM","translation":"アイビーエム","part_of_speech":"Koyu"},
                         {"word":"x","translation":"y","part_of_speech":"Zzzz"}],
                "prompts":[],"new":1}"#,
        )
        .expect("decodes");
        assert_eq!(m.words[0].part_of_speech, Some(PartOfSpeech::Koyu));
        assert_eq!(
            m.words[1].part_of_speech,
            Some(PartOfSpeech::Unknown("Zzzz".into()))
        );
    }

    #[test]
    fn update_omits_unset_fields() {
        let u = UpdateVoiceModel {
            description: Some("d".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&u).expect("ser"),
            serde_json::json!({"description":"d"})
        );
    }
}
