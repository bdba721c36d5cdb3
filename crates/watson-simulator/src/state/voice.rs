//! TTS custom models (fact sheet §10, state machine §13.3): synchronous create/update/delete and
//! word/translation entries. Prompts and speaker models (Tune by Example, deprecated in 2026)
//! are not simulated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{SimError, validate_name_description};
use crate::clock::iso8601;

/// Maximum entries per model.
pub const MAX_WORDS: usize = 20_000;
/// Maximum word length.
pub const MAX_WORD_LEN: usize = 49;
/// Maximum translation length.
pub const MAX_TRANSLATION_LEN: usize = 499;

/// Languages a TTS custom model can have.
pub const LANGUAGES: &[&str] = &[
    "ar-MS", "cs-CZ", "de-DE", "en-AU", "en-GB", "en-US", "es-ES", "es-LA", "es-US", "fr-CA",
    "fr-FR", "it-IT", "ja-JP", "ko-KR", "nl-BE", "nl-NL", "pt-BR", "sv-SE", "zh-CN",
];

/// Japanese parts of speech.
pub const PARTS_OF_SPEECH: &[&str] = &[
    "Dosi", "Fuku", "Gobi", "Hoka", "Jodo", "Josi", "Kato", "Kedo", "Keyo", "Kigo", "Koyu", "Mesi",
    "Reta", "Stbi", "Stto", "Stzo", "Suji",
];

/// `POST /v1/customizations` body.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CreateVoiceModel {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A word entry as sent by a client.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct WordDef {
    #[serde(default)]
    pub word: Option<String>,
    #[serde(default)]
    pub translation: Option<String>,
    #[serde(default)]
    pub part_of_speech: Option<String>,
}

/// `POST /v1/customizations/{id}` body.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UpdateVoiceModel {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub words: Option<Vec<WordDef>>,
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoiceWord {
    pub translation: String,
    pub part_of_speech: Option<String>,
    pub customer_id: Option<String>,
}

/// A TTS custom model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoiceModel {
    pub id: String,
    pub name: String,
    pub description: String,
    pub language: String,
    pub owner: String,
    pub created: u64,
    pub last_modified: u64,
    pub words: BTreeMap<String, VoiceWord>,
    /// Profile rule (refreshed from the policy on every access): `part_of_speech` only on
    /// ja-JP models (400 `Part of speech is supported for ja-JP language only`).
    #[serde(default)]
    pub part_of_speech_ja_jp_only: bool,
}

fn validate_entry(
    word: &str,
    translation: Option<&str>,
    pos: Option<&str>,
) -> Result<(), SimError> {
    if word.is_empty() || word.chars().count() > MAX_WORD_LEN {
        return Err(SimError::BadRequest(format!(
            "The word '{word}' must have between 1 and {MAX_WORD_LEN} characters."
        )));
    }
    match translation {
        None | Some("") => {
            return Err(SimError::BadRequest(format!(
                "A translation is required for the word '{word}'."
            )));
        }
        Some(t) if t.chars().count() > MAX_TRANSLATION_LEN => {
            return Err(SimError::BadRequest(format!(
                "The translation of '{word}' can have at most {MAX_TRANSLATION_LEN} characters."
            )));
        }
        _ => {}
    }
    if let Some(p) = pos
        && !PARTS_OF_SPEECH.contains(&p)
    {
        return Err(SimError::BadRequest(format!(
            "Invalid part_of_speech '{p}' for the word '{word}'."
        )));
    }
    Ok(())
}

impl VoiceModel {
    /// Validates and builds a new model (language defaults to `en-US`).
    pub fn create(
        id: String,
        owner: String,
        req: &CreateVoiceModel,
        now: u64,
    ) -> Result<Self, SimError> {
        validate_name_description(req.name.as_deref(), req.description.as_deref(), true)?;
        let language = req.language.clone().unwrap_or_else(|| "en-US".to_owned());
        if !LANGUAGES.contains(&language.as_str()) {
            return Err(SimError::BadRequest(format!(
                "The language '{language}' is not supported."
            )));
        }
        Ok(VoiceModel {
            id,
            name: req.name.clone().unwrap_or_default(),
            description: req.description.clone().unwrap_or_default(),
            language,
            owner,
            created: now,
            last_modified: now,
            words: BTreeMap::new(),
            part_of_speech_ja_jp_only: false,
        })
    }

    /// The `CustomModel` JSON; `full` adds `words` and `prompts` (GET of one model).
    pub fn to_json(&self, full: bool) -> Value {
        let mut v = json!({
            "customization_id": self.id,
            "name": self.name,
            "language": self.language,
            "owner": self.owner,
            "created": iso8601(self.created),
            "last_modified": iso8601(self.last_modified),
            "description": self.description,
        });
        if full {
            v["words"] = self.words_json();
            v["prompts"] = json!([]);
        }
        v
    }

    fn words_json(&self) -> Value {
        // BTreeMap order is byte order: upper case before lower case.
        Value::Array(
            self.words
                .iter()
                .map(|(w, e)| {
                    let mut v = json!({"word": w, "translation": e.translation});
                    if let Some(p) = &e.part_of_speech {
                        v["part_of_speech"] = json!(p);
                    }
                    v
                })
                .collect(),
        )
    }

    /// `GET .../words`.
    pub fn list_words(&self) -> Value {
        json!({"words": self.words_json()})
    }

    /// Adds or overwrites entries, all or nothing.
    pub fn add_words(
        &mut self,
        now: u64,
        defs: &[WordDef],
        customer_id: Option<&str>,
    ) -> Result<(), SimError> {
        let mut entries = Vec::with_capacity(defs.len());
        for d in defs {
            let word = d.word.as_deref().ok_or_else(|| {
                SimError::BadRequest("Every entry needs a 'word' field.".to_owned())
            })?;
            validate_entry(word, d.translation.as_deref(), d.part_of_speech.as_deref())?;
            if d.part_of_speech.is_some()
                && self.part_of_speech_ja_jp_only
                && self.language != "ja-JP"
            {
                // One such entry refuses the whole batch (text-to-speech release notes).
                return Err(SimError::BadRequest(
                    "Part of speech is supported for ja-JP language only".to_owned(),
                ));
            }
            entries.push((word, d));
        }
        let new = entries
            .iter()
            .filter(|(w, _)| !self.words.contains_key(*w))
            .count();
        if self.words.len() + new > MAX_WORDS {
            return Err(SimError::BadRequest(format!(
                "A custom model can contain at most {MAX_WORDS} entries."
            )));
        }
        for (word, d) in entries {
            self.words.insert(
                word.to_owned(),
                VoiceWord {
                    translation: d.translation.clone().unwrap_or_default(),
                    part_of_speech: d.part_of_speech.clone(),
                    customer_id: customer_id.map(str::to_owned),
                },
            );
        }
        if !defs.is_empty() {
            self.last_modified = now;
        }
        Ok(())
    }

    /// `POST /v1/customizations/{id}`.
    pub fn update(
        &mut self,
        now: u64,
        req: &UpdateVoiceModel,
        customer_id: Option<&str>,
    ) -> Result<(), SimError> {
        validate_name_description(req.name.as_deref(), req.description.as_deref(), false)?;
        if let Some(words) = &req.words {
            self.add_words(now, words, customer_id)?;
        }
        if let Some(n) = req.name.as_deref().filter(|n| !n.is_empty()) {
            self.name = n.to_owned();
        }
        if let Some(d) = &req.description {
            self.description = d.clone();
        }
        self.last_modified = now;
        Ok(())
    }

    /// `PUT .../words/{word}`.
    pub fn put_word(
        &mut self,
        now: u64,
        word: &str,
        def: &WordDef,
        customer_id: Option<&str>,
    ) -> Result<(), SimError> {
        let entry = WordDef {
            word: Some(word.to_owned()),
            translation: def.translation.clone(),
            part_of_speech: def.part_of_speech.clone(),
        };
        self.add_words(now, std::slice::from_ref(&entry), customer_id)
    }

    /// `GET .../words/{word}`: a missing word is a 400.
    pub fn get_word(&self, word: &str) -> Result<Value, SimError> {
        let e = self.words.get(word).ok_or_else(|| self.missing(word))?;
        let mut v = json!({"translation": e.translation});
        if let Some(p) = &e.part_of_speech {
            v["part_of_speech"] = json!(p);
        }
        Ok(v)
    }

    /// `DELETE .../words/{word}`: a missing word is a 400.
    pub fn delete_word(&mut self, now: u64, word: &str) -> Result<(), SimError> {
        self.words.remove(word).ok_or_else(|| self.missing(word))?;
        self.last_modified = now;
        Ok(())
    }

    fn missing(&self, word: &str) -> SimError {
        SimError::BadRequest(format!(
            "Word: {word} not found in customization: {}",
            self.id
        ))
    }

    /// Removes the entries labelled with `customer_id`.
    pub fn remove_customer_data(&mut self, now: u64, customer_id: &str) {
        let before = self.words.len();
        self.words
            .retain(|_, w| w.customer_id.as_deref() != Some(customer_id));
        if self.words.len() != before {
            self.last_modified = now;
        }
    }
}
