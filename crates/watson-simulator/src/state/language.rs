//! STT custom language models (fact sheet §4, state machine §13.1): corpora, grammars, words,
//! training, upgrade and reset.
//!
//! Status is derived ([`LanguageModel::status`]) from the in-flight job, the resources being
//! analysed and three facts: `trained` (a training succeeded once), `dirty` (data changed since
//! the last successful training) and `failed` (the last training failed and nothing was fixed
//! since).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::words::{self, CustomWord, Word, WordSort, WordType};
use super::{Ctx, SimError, stringified_500, timing, training_warning, validate_resource_name};
use crate::catalogue::{BaseModel, Family};
use crate::clock::iso8601;
use crate::vocabulary;

/// Corpus and grammar names the service reserves.
pub const RESERVED_NAMES: &[&str] = &["user", "base_lm", "default_lm"];

/// The grammar content types.
pub const GRAMMAR_CONTENT_TYPES: &[&str] = &["application/srgs", "application/srgs+xml"];

/// The status of a custom language or acoustic model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    Pending,
    Ready,
    Training,
    Available,
    Upgrading,
    Failed,
}

impl ModelStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Pending => "pending",
            ModelStatus::Ready => "ready",
            ModelStatus::Training => "training",
            ModelStatus::Available => "available",
            ModelStatus::Upgrading => "upgrading",
            ModelStatus::Failed => "failed",
        }
    }
}

/// Analysis state of a corpus or grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Analysis {
    BeingProcessed,
    Analyzed,
    Undetermined,
}

impl Analysis {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Analysis::BeingProcessed => "being_processed",
            Analysis::Analyzed => "analyzed",
            Analysis::Undetermined => "undetermined",
        }
    }
}

/// A corpus or a grammar: both are text resources analysed asynchronously.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextResource {
    pub name: String,
    /// Words counted (corpora only).
    pub total_words: u64,
    /// OOV words and their occurrences, computed at add time, revealed when analysed.
    pub oov: BTreeMap<String, u64>,
    /// Whether analysis will succeed.
    pub valid: bool,
    pub status: Analysis,
    /// When analysis finishes (Unix ms).
    pub until: u64,
    pub customer_id: Option<String>,
    /// Grammar only: the content type it was added with.
    pub content_type: Option<String>,
    /// Corpora: the out-of-vocabulary words of the text, whatever the base's family (the
    /// words recognition learns from the corpus; `oov` stays empty on next-generation and large
    /// speech models, which do not list them).
    #[serde(default)]
    pub heard: std::collections::BTreeSet<String>,
}

impl TextResource {
    fn settle(&mut self, now: u64) -> bool {
        if self.status == Analysis::BeingProcessed && now >= self.until {
            self.status = if self.valid {
                Analysis::Analyzed
            } else {
                Analysis::Undetermined
            };
            return true;
        }
        false
    }

    fn corpus_json(&self) -> Value {
        let done = self.status != Analysis::BeingProcessed;
        let mut v = json!({
            "name": self.name,
            "total_words": if done && self.valid { self.total_words } else { 0 },
            "out_of_vocabulary_words": if done && self.valid { self.oov.len() } else { 0 },
            "status": self.status.as_str(),
        });
        if self.status == Analysis::Undetermined {
            v["error"] = json!(format!(
                "Analysis of corpus '{}' failed. Please try adding the corpus again by setting the 'allow_overwrite' flag to 'true'.",
                self.name
            ));
        }
        v
    }

    fn grammar_json(&self) -> Value {
        let done = self.status != Analysis::BeingProcessed;
        let mut v = json!({
            "name": self.name,
            "out_of_vocabulary_words": if done && self.valid { self.oov.len() } else { 0 },
            "status": self.status.as_str(),
        });
        if self.status == Analysis::Undetermined {
            v["error"] = json!(format!(
                "Analysis of grammar '{}' failed. Please try fixing the error or adding the grammar again by setting the 'allow_overwrite' flag to 'true'.",
                self.name
            ));
        }
        v
    }
}

/// The model-level asynchronous operation in flight, if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LmJob {
    /// A POSTed words batch is being validated.
    Words { until: u64 },
    /// Training; `fail` makes it end `failed`; `adopt_version` is the newer base version a
    /// next-generation/large speech model moves to by training.
    Training {
        until: u64,
        fail: bool,
        adopt_version: Option<String>,
    },
    /// Upgrading to `version`.
    Upgrading { until: u64, version: String },
}

/// Query parameters of `POST .../train`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainParams {
    pub strict: bool,
    pub force: bool,
    pub customization_weight: Option<f64>,
    pub word_type_to_add_user: bool,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            strict: true,
            force: false,
            customization_weight: None,
            word_type_to_add_user: false,
        }
    }
}

/// Parses a boolean query parameter (`true`/`false`, case-insensitive).
pub fn parse_bool(
    query: &HashMap<String, String>,
    key: &str,
    default: bool,
) -> Result<bool, SimError> {
    match query.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(SimError::BadRequest(format!(
            "Invalid value '{v}' for query parameter '{key}'. Use true or false."
        ))),
    }
}

impl TrainParams {
    /// Parses the query string of a train request.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, SimError> {
        let customization_weight = match query.get("customization_weight") {
            None => None,
            Some(v) => match v.parse::<f64>() {
                Ok(w) if (0.0..=1.0).contains(&w) => Some(w),
                _ => {
                    return Err(SimError::BadRequest(format!(
                        "Invalid value '{v}' for query parameter 'customization_weight'. The value must be between 0.0 and 1.0."
                    )));
                }
            },
        };
        let word_type_to_add_user = match query.get("word_type_to_add").map(String::as_str) {
            None | Some("all") => false,
            Some("user") => true,
            Some(v) => {
                return Err(SimError::BadRequest(format!(
                    "Invalid value '{v}' for query parameter 'word_type_to_add'. Use all or user."
                )));
            }
        };
        Ok(TrainParams {
            strict: parse_bool(query, "strict", true)?,
            force: parse_bool(query, "force", false)?,
            customization_weight,
            word_type_to_add_user,
        })
    }
}

/// A custom language model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageModel {
    pub id: String,
    pub name: String,
    pub description: String,
    pub base_model_name: String,
    pub family: Family,
    pub language: String,
    pub dialect: String,
    pub owner: String,
    pub created: u64,
    pub updated: u64,
    pub versions: Vec<String>,
    pub corpora: BTreeMap<String, TextResource>,
    pub grammars: BTreeMap<String, TextResource>,
    pub words: BTreeMap<String, Word>,
    pub job: Option<LmJob>,
    pub trained: bool,
    pub dirty: bool,
    pub failed: bool,
    pub error: Option<String>,
    pub customization_weight: Option<f64>,
    pub fail_next_training: bool,
    /// Admin knob: the `error` text the next failed training stores instead of the default
    /// stringified 500 (e.g. a whole JSON error document with an internal path, as IBM users saw).
    #[serde(default)]
    pub failure_error: Option<String>,
    /// Quirk `status_lag_seconds`: until this time (Unix ms) the model reads this status, the
    /// one it had before a train or upgrade call (IBM's status can lag right after a 200).
    #[serde(default)]
    pub lagging: Option<(u64, ModelStatus)>,
    /// Admin knob: nothing of this model finishes (analyses, training, upgrade) until released,
    /// as public IBM reports describe for models stuck in `pending` or `training`.
    #[serde(default)]
    pub held: bool,
    /// Scaled milliseconds spent in asynchronous operations.
    pub busy_ms: u64,
    /// Profile rule (refreshed from the policy on every access): the December 2025
    /// `sounds_like` validation applies.
    #[serde(default)]
    pub strict_sounds_like: bool,
    /// Profile rule (refreshed): the base is an improved next-generation model, upgraded by a
    /// forced retrain only.
    #[serde(default)]
    pub improved: bool,
    /// Profile rule (refreshed): the model's version is marked defective; it must be
    /// re-created.
    #[serde(default)]
    pub defective: bool,
    /// What recognition hears with this model: its vocabulary as of the last successful
    /// training (valid words of the words resource and the out-of-vocabulary words of its
    /// analysed corpora), so data added since changes nothing until the next training.
    #[serde(default)]
    pub learned: Vec<crate::recognize::CustomWord>,
    /// Admin knob (`POST /_simulator/models/{id}/worse`): recognition with this model loses
    /// every [`crate::recognize::WORSE_DROP_EVERY`]-th word.
    #[serde(default)]
    pub worse: bool,
}

impl LanguageModel {
    /// A new model in `pending` on the base model's newest version.
    pub fn new(
        id: String,
        name: String,
        description: String,
        base: &BaseModel,
        dialect: String,
        owner: String,
        now: u64,
    ) -> Self {
        LanguageModel {
            id,
            name,
            description,
            base_model_name: base.name.clone(),
            family: base.family,
            language: base.language.clone(),
            dialect,
            owner,
            created: now,
            updated: now,
            versions: vec![base.newest_version().to_owned()],
            corpora: BTreeMap::new(),
            grammars: BTreeMap::new(),
            words: BTreeMap::new(),
            job: None,
            trained: false,
            dirty: false,
            failed: false,
            error: None,
            customization_weight: None,
            fail_next_training: false,
            failure_error: None,
            lagging: None,
            held: false,
            busy_ms: 0,
            strict_sounds_like: false,
            improved: false,
            defective: false,
            learned: Vec::new(),
            worse: false,
        }
    }

    /// The words recognition would use if the model were trained now: the valid words of the
    /// words resource, then the out-of-vocabulary words of its analysed corpora that the words
    /// resource does not hold (next-generation and large speech models keep those out of it).
    pub fn vocabulary_now(&self) -> Vec<crate::recognize::CustomWord> {
        let mut out: Vec<crate::recognize::CustomWord> = self
            .words
            .values()
            .filter(|w| w.is_valid())
            .map(|w| crate::recognize::CustomWord {
                word: w.word.clone(),
                sounds_like: w.sounds_like.clone(),
                display_as: (!w.display_as.is_empty() && w.display_as != w.word)
                    .then(|| w.display_as.clone()),
            })
            .collect();
        for r in self.corpora.values() {
            if r.status != Analysis::Analyzed || !r.valid {
                continue;
            }
            for word in &r.heard {
                if !self.words.contains_key(word) && !out.iter().any(|w| &w.word == word) {
                    out.push(crate::recognize::CustomWord {
                        word: word.clone(),
                        ..Default::default()
                    });
                }
            }
        }
        out
    }

    /// The `customization_weight` recognition uses when none is given: the one the last
    /// training stored, else the default of the base's family.
    pub fn effective_customization_weight(&self) -> f64 {
        self.customization_weight.unwrap_or_else(|| {
            crate::profile::default_customization_weight(self.family, self.improved)
        })
    }

    fn counts_occurrences(&self) -> bool {
        self.family == Family::PreviousGeneration
    }

    fn japanese(&self) -> bool {
        self.language == "ja-JP"
    }

    /// Applies every transition whose deadline has passed.
    pub fn settle(&mut self, now: u64) {
        if self
            .lagging
            .as_ref()
            .is_some_and(|(until, _)| now >= *until)
        {
            self.lagging = None;
        }
        if self.held {
            return;
        }
        let mut finished: Vec<(bool, String)> = Vec::new();
        for r in self.corpora.values_mut() {
            if r.settle(now) {
                finished.push((true, r.name.clone()));
            }
        }
        for r in self.grammars.values_mut() {
            if r.settle(now) {
                finished.push((false, r.name.clone()));
            }
        }
        for (is_corpus, name) in finished {
            self.finish_analysis(is_corpus, &name);
        }
        let done = match &self.job {
            Some(LmJob::Words { until })
            | Some(LmJob::Training { until, .. })
            | Some(LmJob::Upgrading { until, .. }) => now >= *until,
            None => false,
        };
        if !done {
            return;
        }
        match self.job.take() {
            Some(LmJob::Training {
                until,
                fail,
                adopt_version,
            }) => {
                self.updated = until;
                if fail {
                    self.failed = true;
                    self.dirty = true;
                    self.error = Some(self.failure_error.take().unwrap_or_else(|| {
                        stringified_500(
                            "Training of the custom language model failed because of an internal error.",
                        )
                    }));
                } else {
                    self.trained = true;
                    self.dirty = false;
                    self.failed = false;
                    self.error = None;
                    self.learned = self.vocabulary_now();
                    if let Some(v) = adopt_version
                        && self.versions.last() != Some(&v)
                    {
                        self.versions.push(v);
                    }
                }
            }
            Some(LmJob::Upgrading { until, version }) => {
                self.updated = until;
                if self.versions.last() != Some(&version) {
                    self.versions.push(version);
                }
            }
            Some(LmJob::Words { .. }) | None => {}
        }
    }

    /// Merges a finished analysis into the words resource (previous generation) or records a
    /// grammar compile failure.
    fn finish_analysis(&mut self, is_corpus: bool, name: &str) {
        let resource = if is_corpus {
            self.corpora.get(name)
        } else {
            self.grammars.get(name)
        };
        let Some(r) = resource else { return };
        if !r.valid {
            if !is_corpus {
                self.error = Some(stringified_500(&format!(
                    "Cannot compile grammar '{name}': no root rule was found."
                )));
            }
            return;
        }
        if self.family != Family::PreviousGeneration {
            return;
        }
        let oov = r.oov.clone();
        for (word, count) in oov {
            self.words
                .entry(word.clone())
                .and_modify(|w| w.add_source(name, count))
                .or_insert_with(|| Word::from_source(&word, name, count));
        }
    }

    /// Whether any operation on the model is in progress (adds, train, reset, upgrade and
    /// deletes are then refused with 409).
    pub fn is_busy(&self) -> bool {
        self.job.is_some()
            || self
                .corpora
                .values()
                .chain(self.grammars.values())
                .any(|r| r.status == Analysis::BeingProcessed)
    }

    fn has_valid_data(&self) -> bool {
        self.corpora
            .values()
            .chain(self.grammars.values())
            .any(|r| r.status == Analysis::Analyzed)
            || self.words.values().any(Word::is_valid)
    }

    fn has_data(&self) -> bool {
        !self.corpora.is_empty() || !self.grammars.is_empty() || !self.words.is_empty()
    }

    /// The observable status.
    pub fn status(&self) -> ModelStatus {
        match &self.job {
            Some(LmJob::Training { .. }) => return ModelStatus::Training,
            Some(LmJob::Upgrading { .. }) => return ModelStatus::Upgrading,
            Some(LmJob::Words { .. }) => return ModelStatus::Pending,
            None => {}
        }
        if self.is_busy() {
            ModelStatus::Pending
        } else if self.failed {
            ModelStatus::Failed
        } else if self.trained && !self.dirty {
            ModelStatus::Available
        } else if self.has_valid_data() {
            ModelStatus::Ready
        } else {
            ModelStatus::Pending
        }
    }

    /// The `LanguageModel` JSON.
    pub fn to_json(&self) -> Value {
        let status = self
            .lagging
            .map(|(_, shown)| shown)
            .unwrap_or_else(|| self.status());
        let mut v = json!({
            "customization_id": self.id,
            "created": iso8601(self.created),
            "updated": iso8601(self.updated),
            "language": self.language,
            "dialect": self.dialect,
            "versions": self.versions,
            "owner": self.owner,
            "name": self.name,
            "description": self.description,
            "base_model_name": self.base_model_name,
            "status": status.as_str(),
            "progress": if status == ModelStatus::Available { 100 } else { 0 },
        });
        if let Some(e) = &self.error {
            v["error"] = json!(e);
        }
        if self.defective {
            v["warnings"] = json!(super::defective_message(
                self.versions.last().map(String::as_str).unwrap_or_default()
            ));
        }
        v
    }

    fn ensure_idle(&self) -> Result<(), SimError> {
        if self.is_busy() {
            Err(SimError::busy(&self.id))
        } else {
            Ok(())
        }
    }

    /// Records a data change: the model needs training again and is no longer `failed`.
    fn touch(&mut self, now: u64) {
        self.dirty = true;
        self.failed = false;
        self.updated = now;
    }

    fn check_text_resource_name(&self, kind: &str, name: &str) -> Result<(), SimError> {
        validate_resource_name(kind, name)?;
        if RESERVED_NAMES.contains(&name) {
            return Err(SimError::BadRequest(format!(
                "The {kind} name '{name}' is reserved by the service."
            )));
        }
        Ok(())
    }

    /// Drops the words that came only from `source` (and were not touched by the user).
    fn remove_source_words(&mut self, source: &str) {
        self.words.retain(|_, w| !w.remove_source(source));
    }

    // ---- corpora ----

    /// `POST .../corpora/{name}`.
    pub fn add_corpus(
        &mut self,
        ctx: Ctx,
        name: &str,
        body: &[u8],
        allow_overwrite: bool,
        customer_id: Option<String>,
    ) -> Result<(), SimError> {
        self.check_text_resource_name("corpus", name)?;
        self.ensure_idle()?;
        if self.grammars.contains_key(name) {
            return Err(SimError::BadRequest(format!(
                "A grammar named '{name}' already exists; corpus and grammar names must be unique."
            )));
        }
        if self.corpora.contains_key(name) && !allow_overwrite {
            return Err(SimError::BadRequest(format!(
                "Corpus '{name}' already exists. Set the 'allow_overwrite' flag to 'true' to replace it."
            )));
        }
        if body.is_empty() {
            return Err(SimError::BadRequest(
                "No input data: the corpus file is empty.".to_owned(),
            ));
        }
        if self.corpora.remove(name).is_some() {
            self.remove_source_words(name);
        }
        let mut heard = std::collections::BTreeSet::new();
        let (total_words, oov, valid) = match std::str::from_utf8(body) {
            Ok(text) => {
                let mut total = 0u64;
                let mut oov = BTreeMap::new();
                for t in vocabulary::tokens(text) {
                    total += 1;
                    if vocabulary::is_oov(t) {
                        heard.insert(t.to_lowercase());
                        if self.counts_occurrences() {
                            *oov.entry(t.to_owned()).or_insert(0u64) += 1;
                        }
                    }
                }
                (total, oov, total > 0)
            }
            Err(_) => (0, BTreeMap::new(), false),
        };
        let (until, ms) =
            ctx.schedule(timing::CORPUS_BASE_S + timing::CORPUS_PER_WORD_S * total_words as f64);
        self.busy_ms += ms;
        self.corpora.insert(
            name.to_owned(),
            TextResource {
                name: name.to_owned(),
                total_words,
                oov,
                valid,
                status: Analysis::BeingProcessed,
                until,
                customer_id,
                content_type: None,
                heard,
            },
        );
        self.touch(ctx.now);
        self.settle(ctx.now);
        Ok(())
    }

    /// `GET .../corpora`.
    pub fn list_corpora(&self) -> Value {
        json!({"corpora": self.corpora.values().map(TextResource::corpus_json).collect::<Vec<_>>()})
    }

    /// `GET .../corpora/{name}`.
    pub fn get_corpus(&self, name: &str) -> Result<Value, SimError> {
        self.corpora
            .get(name)
            .map(TextResource::corpus_json)
            .ok_or_else(|| missing("corpus", name, &self.id))
    }

    /// `DELETE .../corpora/{name}` (a missing corpus is a 400).
    pub fn delete_corpus(&mut self, now: u64, name: &str) -> Result<(), SimError> {
        if !self.corpora.contains_key(name) {
            return Err(missing("corpus", name, &self.id));
        }
        self.ensure_idle()?;
        self.corpora.remove(name);
        self.remove_source_words(name);
        self.touch(now);
        Ok(())
    }

    // ---- grammars ----

    /// `POST .../grammars/{name}`.
    pub fn add_grammar(
        &mut self,
        ctx: Ctx,
        name: &str,
        content_type: Option<&str>,
        body: &[u8],
        allow_overwrite: bool,
        customer_id: Option<String>,
    ) -> Result<(), SimError> {
        self.check_text_resource_name("grammar", name)?;
        let ct = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .filter(|c| GRAMMAR_CONTENT_TYPES.contains(&c.as_str()))
            .ok_or_else(|| {
                SimError::UnsupportedMediaType(
                    "Invalid grammar content type. Please use 'application/srgs' or 'application/srgs+xml'."
                        .to_owned(),
                )
            })?;
        if self.family == Family::LargeSpeech {
            return Err(SimError::BadRequest(format!(
                "Grammars are not supported for custom models based on the large speech model '{}'.",
                self.base_model_name
            )));
        }
        self.ensure_idle()?;
        if self.corpora.contains_key(name) {
            return Err(SimError::BadRequest(format!(
                "A corpus named '{name}' already exists; corpus and grammar names must be unique."
            )));
        }
        if self.grammars.contains_key(name) && !allow_overwrite {
            return Err(SimError::BadRequest(format!(
                "Grammar '{name}' already exists. Set the 'allow_overwrite' flag to 'true' to replace it."
            )));
        }
        if body.is_empty() {
            return Err(SimError::BadRequest(
                "No input data: the grammar file is empty.".to_owned(),
            ));
        }
        if self.grammars.remove(name).is_some() {
            self.remove_source_words(name);
        }
        let (valid, oov) = match std::str::from_utf8(body) {
            Ok(text) => super::grammar::analyse_grammar(
                text,
                ct == "application/srgs+xml",
                self.counts_occurrences(),
            ),
            Err(_) => (false, BTreeMap::new()),
        };
        let (until, ms) = ctx.schedule(timing::GRAMMAR_S);
        self.busy_ms += ms;
        self.grammars.insert(
            name.to_owned(),
            TextResource {
                name: name.to_owned(),
                total_words: 0,
                oov,
                valid,
                status: Analysis::BeingProcessed,
                until,
                customer_id,
                content_type: Some(ct),
                heard: Default::default(),
            },
        );
        self.touch(ctx.now);
        self.settle(ctx.now);
        Ok(())
    }

    /// `GET .../grammars`.
    pub fn list_grammars(&self) -> Value {
        json!({"grammars": self.grammars.values().map(TextResource::grammar_json).collect::<Vec<_>>()})
    }

    /// `GET .../grammars/{name}`.
    pub fn get_grammar(&self, name: &str) -> Result<Value, SimError> {
        self.grammars
            .get(name)
            .map(TextResource::grammar_json)
            .ok_or_else(|| missing("grammar", name, &self.id))
    }

    /// `DELETE .../grammars/{name}`.
    pub fn delete_grammar(&mut self, now: u64, name: &str) -> Result<(), SimError> {
        if !self.grammars.contains_key(name) {
            return Err(missing("grammar", name, &self.id));
        }
        self.ensure_idle()?;
        self.grammars.remove(name);
        self.remove_source_words(name);
        self.touch(now);
        Ok(())
    }

    // ---- words ----

    /// `POST .../words`: validated asynchronously; invalid `sounds_like` is stored as `error`.
    pub fn add_words(
        &mut self,
        ctx: Ctx,
        defs: &[CustomWord],
        customer_id: Option<String>,
    ) -> Result<(), SimError> {
        self.ensure_idle()?;
        if defs.is_empty() {
            return Err(SimError::BadRequest(
                "The request must contain at least one word.".to_owned(),
            ));
        }
        let mut names = Vec::with_capacity(defs.len());
        for d in defs {
            let w = d.word.as_deref().ok_or_else(|| {
                SimError::BadRequest("Every word needs a 'word' field.".to_owned())
            })?;
            words::validate_word_name(w)?;
            names.push(w.to_owned());
        }
        let japanese = self.japanese();
        for (name, def) in names.iter().zip(defs) {
            let errors = words::validate_sounds_like(
                def.sounds_like.as_deref().unwrap_or_default(),
                japanese,
                self.strict_sounds_like,
            );
            self.upsert_user_word(name, def, errors, customer_id.clone());
        }
        let (until, ms) =
            ctx.schedule(timing::WORDS_BASE_S + timing::WORDS_PER_WORD_S * defs.len() as f64);
        self.busy_ms += ms;
        self.job = Some(LmJob::Words { until });
        self.touch(ctx.now);
        self.settle(ctx.now);
        Ok(())
    }

    fn upsert_user_word(
        &mut self,
        name: &str,
        def: &CustomWord,
        errors: Vec<words::WordError>,
        customer_id: Option<String>,
    ) {
        match self.words.get_mut(name) {
            Some(w) => w.apply_user(def, errors, customer_id),
            None => {
                self.words.insert(
                    name.to_owned(),
                    Word::new_user(name, def, errors, customer_id),
                );
            }
        }
    }

    /// `PUT .../words/{name}`: synchronous; an invalid `sounds_like` is a 400 and nothing is
    /// stored.
    pub fn put_word(
        &mut self,
        now: u64,
        name: &str,
        def: &CustomWord,
        customer_id: Option<String>,
    ) -> Result<(), SimError> {
        words::validate_word_name(name)?;
        self.ensure_idle()?;
        let errors = words::validate_sounds_like(
            def.sounds_like.as_deref().unwrap_or_default(),
            self.japanese(),
            self.strict_sounds_like,
        );
        if let Some(first) = errors.first() {
            let message = first
                .iter()
                .next()
                .map(|(k, m)| format!("Invalid sounds_like '{k}': {m}"))
                .unwrap_or_default();
            return Err(SimError::BadRequest(message));
        }
        self.upsert_user_word(name, def, Vec::new(), customer_id);
        self.touch(now);
        Ok(())
    }

    /// `GET .../words`.
    pub fn list_words(&self, word_type: WordType, sort: WordSort) -> Value {
        let mut list: Vec<&Word> = self
            .words
            .values()
            .filter(|w| match word_type {
                WordType::All => true,
                WordType::User => w.user,
                WordType::Corpora => w.sources.iter().any(|(s, _)| self.corpora.contains_key(s)),
                WordType::Grammars => w.sources.iter().any(|(s, _)| self.grammars.contains_key(s)),
            })
            .collect();
        let counts = self.counts_occurrences();
        words::sort_words(&mut list, sort, counts);
        json!({"words": list.into_iter().map(|w| w.to_json(counts)).collect::<Vec<_>>()})
    }

    /// `GET .../words/{name}`.
    pub fn get_word(&self, name: &str) -> Result<Value, SimError> {
        self.words
            .get(name)
            .map(|w| w.to_json(self.counts_occurrences()))
            .ok_or_else(|| missing("word", name, &self.id))
    }

    /// `DELETE .../words/{name}`: removes the word whatever its source.
    pub fn delete_word(&mut self, now: u64, name: &str) -> Result<(), SimError> {
        if !self.words.contains_key(name) {
            return Err(missing("word", name, &self.id));
        }
        self.ensure_idle()?;
        self.words.remove(name);
        self.touch(now);
        Ok(())
    }

    // ---- model operations ----

    /// `POST .../train`. `newest_version` is the base model's newest version.
    pub fn train(
        &mut self,
        ctx: Ctx,
        params: &TrainParams,
        newest_version: &str,
    ) -> Result<Value, SimError> {
        self.ensure_idle()?;
        if self.trained && !self.dirty && !params.force {
            return Err(SimError::BadRequest(
                "No input data modified since last training".to_owned(),
            ));
        }
        let bad_corpora: Vec<String> = self
            .corpora
            .values()
            .filter(|r| r.status == Analysis::Undetermined)
            .map(|r| r.name.clone())
            .collect();
        let bad_grammars: Vec<String> = self
            .grammars
            .values()
            .filter(|r| r.status == Analysis::Undetermined)
            .map(|r| r.name.clone())
            .collect();
        let bad_words: Vec<String> = self
            .words
            .values()
            .filter(|w| !w.is_valid())
            .map(|w| w.word.clone())
            .collect();
        let has_invalid =
            !bad_corpora.is_empty() || !bad_grammars.is_empty() || !bad_words.is_empty();
        if has_invalid && params.strict {
            self.failed = true;
            self.dirty = true;
            self.updated = ctx.now;
            let mut parts = Vec::new();
            if !bad_corpora.is_empty() {
                parts.push(format!("corpora [{}]", bad_corpora.join(", ")));
            }
            if !bad_grammars.is_empty() {
                parts.push(format!("grammars [{}]", bad_grammars.join(", ")));
            }
            if !bad_words.is_empty() {
                parts.push(format!("words [{}]", bad_words.join(", ")));
            }
            return Err(SimError::BadRequest(format!(
                "Training failed because the custom model contains invalid resources: {}. Fix or delete them, or train with strict=false.",
                parts.join("; ")
            )));
        }
        if !self.has_valid_data() {
            return Err(SimError::BadRequest(
                "The custom model contains no valid data (corpora, grammars or words) to train on."
                    .to_owned(),
            ));
        }
        let mut warnings = Vec::new();
        if !bad_corpora.is_empty() {
            warnings.push(training_warning(
                "invalid_corpus_files",
                "corpus files",
                &bad_corpora,
                "language",
            ));
        }
        if !bad_grammars.is_empty() {
            warnings.push(training_warning(
                "invalid_grammar_files",
                "grammar files",
                &bad_grammars,
                "language",
            ));
        }
        if !bad_words.is_empty() {
            warnings.push(training_warning(
                "invalid_words",
                "words",
                &bad_words,
                "language",
            ));
        }
        let corpus_words: u64 = self.corpora.values().map(|c| c.total_words).sum();
        let mut nominal =
            timing::LM_TRAIN_BASE_S + timing::LM_TRAIN_PER_WORD_S * corpus_words as f64;
        if self.family != Family::PreviousGeneration && self.words.values().any(|w| w.user) {
            nominal += timing::LM_TRAIN_USER_WORDS_S;
        }
        let (until, ms) = ctx.schedule(nominal);
        self.busy_ms += ms;
        let adopt_version = (self.family != Family::PreviousGeneration
            && !newest_version.is_empty()
            && self.versions.last().map(String::as_str) != Some(newest_version))
        .then(|| newest_version.to_owned());
        self.job = Some(LmJob::Training {
            until,
            fail: std::mem::take(&mut self.fail_next_training),
            adopt_version,
        });
        if params.customization_weight.is_some() {
            self.customization_weight = params.customization_weight;
        }
        self.updated = ctx.now;
        self.settle(ctx.now);
        Ok(if warnings.is_empty() {
            json!({})
        } else {
            json!({ "warnings": warnings })
        })
    }

    /// `POST .../reset`: synchronous; back to the as-created state (versions are kept).
    pub fn reset(&mut self, now: u64) -> Result<(), SimError> {
        self.ensure_idle()?;
        self.corpora.clear();
        self.grammars.clear();
        self.words.clear();
        self.trained = false;
        self.learned.clear();
        self.dirty = false;
        self.failed = false;
        self.error = None;
        self.customization_weight = None;
        self.updated = now;
        Ok(())
    }

    /// `POST .../upgrade_model` towards `target` (the base model's newest version).
    pub fn upgrade(&mut self, ctx: Ctx, target: &str) -> Result<(), SimError> {
        self.ensure_idle()?;
        let status = self.status();
        if !matches!(status, ModelStatus::Ready | ModelStatus::Available) || !self.has_data() {
            return Err(SimError::BadRequest(format!(
                "The custom model must contain data and be in the ready or available state to be upgraded; its status is '{}'.",
                status.as_str()
            )));
        }
        let latest = self.versions.last().cloned().unwrap_or_default();
        if target.is_empty() || latest.as_str() >= target {
            return Err(SimError::BadRequest(format!(
                "The custom model is already based on the latest version of base model '{}' ({latest}).",
                self.base_model_name
            )));
        }
        let corpus_words: u64 = self.corpora.values().map(|c| c.total_words).sum();
        let (until, ms) = ctx.schedule(
            timing::LM_UPGRADE_BASE_S + timing::LM_UPGRADE_PER_WORD_S * corpus_words as f64,
        );
        self.busy_ms += ms;
        self.job = Some(LmJob::Upgrading {
            until,
            version: target.to_owned(),
        });
        self.updated = ctx.now;
        self.settle(ctx.now);
        Ok(())
    }

    /// Removes everything labelled with `customer_id`.
    pub fn remove_customer_data(&mut self, now: u64, customer_id: &str) {
        let labelled = |r: &TextResource| r.customer_id.as_deref() == Some(customer_id);
        let corpora: Vec<String> = self
            .corpora
            .values()
            .filter(|r| labelled(r))
            .map(|r| r.name.clone())
            .collect();
        let grammars: Vec<String> = self
            .grammars
            .values()
            .filter(|r| labelled(r))
            .map(|r| r.name.clone())
            .collect();
        let words_before = self.words.len();
        for name in &corpora {
            self.corpora.remove(name);
            self.remove_source_words(name);
        }
        for name in &grammars {
            self.grammars.remove(name);
            self.remove_source_words(name);
        }
        self.words
            .retain(|_, w| w.customer_id.as_deref() != Some(customer_id));
        if !corpora.is_empty() || !grammars.is_empty() || self.words.len() != words_before {
            self.touch(now);
        }
    }
}

fn missing(kind: &str, name: &str, id: &str) -> SimError {
    SimError::BadRequest(format!(
        "The {kind} '{name}' does not exist in custom model {id}."
    ))
}
