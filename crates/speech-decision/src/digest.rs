//! The inputs digest: one SHA-256 over everything that a training depends on. A model is
//! retrained when it changes, so its encoding is part of the contract with every model already
//! trained on IBM Cloud: it must not change when code is renamed or refactored.
//!
//! # Canonical encoding
//!
//! Each resource digest is a string naming the resource's class, its format and the SHA-256 (lower
//! case hex) of its bytes:
//! - corpus: `corpus:<sha256>`;
//! - grammar: `grammar:<content type>:<sha256>` (`application/srgs` or `application/srgs+xml`);
//! - audio: `audio:<content type>:<contained>:<sha256>`, where `<contained>` is `None` or
//!   `Some("<contained content type>")` (the string escaped as by Rust's `str::escape_debug`).
//!
//! The inputs digest is the SHA-256 of compact JSON (no spaces, keys sorted by byte order, strings
//! escaped as JSON requires) of one object per kind:
//! - language model: `{"resources":{<name>:<resource digest>},"training":[<wordTypeToAdd>,
//!   <customizationWeight>,<strict>],"words":{<word>:[[<soundsLike>...],<displayAs>|null,
//!   <mappingOnly>|null]}}`; the three training values are strings: `None`, or `Some(All)` /
//!   `Some(User)`, `Some(<weight>)` with the weight in Rust's shortest round-trip form (`0.3`,
//!   `1.0`), `Some(true)` / `Some(false)`;
//! - acoustic model: `{"languageModel":<name>|null,"resources":{...},"strict":<as above>}`;
//! - voice model: `{<word>:[<translation>|null,<part of speech>|null]}`.
//!
//! These are exactly the bytes the first release (0.1.0) hashed, so upgrading the operator
//! retrains nothing; `tests::digests_of_the_first_release` pins literal values and
//! `tests/fixtures/release-0.1.0/` holds objects that release wrote.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::WordDef;
use crate::crd::language_model::{GrammarType, LanguageTraining, WordTypeToAdd};

/// SHA-256 of `bytes`, lower-case hex (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 computed over content read in pieces (a source streamed, never held whole).
#[derive(Clone, Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Adds the next piece.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Lower-case hex of everything added (what [`sha256_hex`] gives for the whole).
    pub fn finish_hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The resource digest of a corpus.
pub fn corpus(bytes: &[u8]) -> String {
    corpus_of(&sha256_hex(bytes))
}

/// The resource digest of a corpus whose SHA-256 (hex) is `sha256`.
pub fn corpus_of(sha256: &str) -> String {
    format!("corpus:{sha256}")
}

/// The resource digest of a grammar.
pub fn grammar(content_type: GrammarType, bytes: &[u8]) -> String {
    grammar_of(content_type, &sha256_hex(bytes))
}

/// The resource digest of a grammar whose SHA-256 (hex) is `sha256`.
pub fn grammar_of(content_type: GrammarType, sha256: &str) -> String {
    format!("grammar:{}:{sha256}", content_type.content_type())
}

/// The resource digest of an audio resource.
pub fn audio(content_type: &str, contained: Option<&str>, bytes: &[u8]) -> String {
    audio_of(content_type, contained, &sha256_hex(bytes))
}

/// The resource digest of an audio resource whose SHA-256 (hex) is `sha256`.
pub fn audio_of(content_type: &str, contained: Option<&str>, sha256: &str) -> String {
    format!(
        "audio:{content_type}:{}:{sha256}",
        option_text(contained.map(|c| format!("\"{}\"", c.escape_debug()))),
    )
}

/// The inputs digest of a language model.
pub fn language(
    resources: &BTreeMap<String, String>,
    words: &BTreeMap<String, WordDef>,
    training: &LanguageTraining,
) -> String {
    let word_type = training.word_type_to_add.map(|w| match w {
        WordTypeToAdd::All => "All".to_string(),
        WordTypeToAdd::User => "User".to_string(),
    });
    let training = Value::Array(vec![
        Value::String(option_text(word_type)),
        Value::String(option_text(
            training.customization_weight.map(|w| format!("{w:?}")),
        )),
        Value::String(option_text(training.strict.map(|s| s.to_string()))),
    ]);
    hash_object([
        ("resources", string_map(resources)),
        ("training", training),
        ("words", language_words_value(words)),
    ])
}

/// The digest of a language model's custom words alone (`status.wordsDigest`): the SHA-256 of
/// the compact JSON of the `words` object of [`language`]'s encoding.
pub fn language_words(words: &BTreeMap<String, WordDef>) -> String {
    sha256_hex(language_words_value(words).to_string().as_bytes())
}

/// `{<word>:[[<soundsLike>...],<displayAs>|null,<mappingOnly>|null]}`, keys sorted.
fn language_words_value(words: &BTreeMap<String, WordDef>) -> Value {
    Value::Object(
        words
            .iter()
            .map(|(w, d)| {
                let def = Value::Array(vec![
                    Value::Array(d.sounds_like.iter().cloned().map(Value::String).collect()),
                    opt_string(d.display_as.as_deref()),
                    d.mapping_only.map(Value::Bool).unwrap_or(Value::Null),
                ]);
                (w.clone(), def)
            })
            .collect(),
    )
}

/// The inputs digest of an acoustic model.
pub fn acoustic(
    resources: &BTreeMap<String, String>,
    strict: Option<bool>,
    language_model: Option<&str>,
) -> String {
    hash_object([
        ("languageModel", opt_string(language_model)),
        ("resources", string_map(resources)),
        (
            "strict",
            Value::String(option_text(strict.map(|s| s.to_string()))),
        ),
    ])
}

/// The inputs digest of a voice model.
pub fn voice(words: &BTreeMap<String, WordDef>) -> String {
    let entries = words.iter().map(|(w, d)| {
        let def = Value::Array(vec![
            opt_string(d.translation.as_deref()),
            opt_string(d.part_of_speech.as_deref()),
        ]);
        (w.as_str(), def)
    });
    hash_object(entries)
}

/// `None` or `Some(<text>)`.
fn option_text(v: Option<String>) -> String {
    match v {
        None => "None".to_string(),
        Some(t) => format!("Some({t})"),
    }
}

fn opt_string(v: Option<&str>) -> Value {
    v.map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// SHA-256 of the compact JSON of an object whose keys are inserted in sorted order, so the
/// bytes are the same whether serde_json keeps insertion order or sorts (`preserve_order`).
fn hash_object<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> String {
    let sorted: BTreeMap<&str, Value> = entries.into_iter().collect();
    let object: Map<String, Value> = sorted
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    sha256_hex(Value::Object(object).to_string().as_bytes())
}
