//! The simulated service state and its state machines, as pure functions over data and a time
//! (`now`, Unix ms). Nothing here does I/O; the HTTP handlers are thin wrappers.
//!
//! Models are *settled* lazily: every accessor first applies the transitions whose deadlines
//! have passed (analysis finished, training finished, ...). A model's observable status is
//! derived from its data and in-flight job, never stored.

pub mod acoustic;
pub mod grammar;
pub mod language;
pub mod recognition;
pub mod voice;
pub mod words;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::catalogue::{BaseModel, Catalogue};
use super::clock::scaled_ms;
use super::profile::{Policy, Profile};
pub use acoustic::AcousticModel;
pub use language::LanguageModel;
pub use voice::VoiceModel;

/// A request the service refuses; maps to an HTTP status and the `error` text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 401 for a customization id that does not exist for these credentials.
    #[error("Invalid customization_id ({0}) for user")]
    UnknownModel(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: the model is busy.
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl SimError {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            SimError::BadRequest(_) => 400,
            SimError::UnknownModel(_) => 401,
            SimError::NotFound(_) => 404,
            SimError::Conflict(_) => 409,
            SimError::PayloadTooLarge(_) => 413,
            SimError::UnsupportedMediaType(_) => 415,
        }
    }

    /// The 409 for a busy model.
    pub fn busy(id: &str) -> Self {
        SimError::Conflict(format!(
            "The custom model {id} is currently being processed by another request. Wait for that request to finish and try again."
        ))
    }

    fn bad(msg: impl Into<String>) -> Self {
        SimError::BadRequest(msg.into())
    }
}

/// Nominal durations (seconds of simulated service time), multiplied by the time scale.
pub mod timing {
    /// Corpus analysis: fixed part.
    pub const CORPUS_BASE_S: f64 = 5.0;
    /// Corpus analysis: per word of the corpus.
    pub const CORPUS_PER_WORD_S: f64 = 0.0005;
    /// Grammar analysis.
    pub const GRAMMAR_S: f64 = 5.0;
    /// Validation of a POSTed words batch: fixed part.
    pub const WORDS_BASE_S: f64 = 1.0;
    /// Validation of a POSTed words batch: per word.
    pub const WORDS_PER_WORD_S: f64 = 0.01;
    /// LM training: fixed part.
    pub const LM_TRAIN_BASE_S: f64 = 300.0;
    /// LM training: per corpus word.
    pub const LM_TRAIN_PER_WORD_S: f64 = 0.001;
    /// LM training: extra when a next-generation/large speech model has user words.
    pub const LM_TRAIN_USER_WORDS_S: f64 = 60.0;
    /// LM upgrade: fixed part.
    pub const LM_UPGRADE_BASE_S: f64 = 120.0;
    /// LM upgrade: per corpus word.
    pub const LM_UPGRADE_PER_WORD_S: f64 = 0.0005;
    /// Audio analysis: fixed part.
    pub const AUDIO_BASE_S: f64 = 2.0;
    /// Audio analysis: per second of audio.
    pub const AUDIO_PER_AUDIO_S: f64 = 0.01;
    /// AM reset (the model refuses requests meanwhile).
    pub const AM_RESET_S: f64 = 5.0;
}

/// The time context of one operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ctx {
    /// Unix ms.
    pub now: u64,
    /// Multiplier applied to every nominal duration.
    pub time_scale: f64,
}

impl Ctx {
    /// The deadline and scaled duration (ms) of an operation of `nominal_s` seconds.
    pub fn schedule(&self, nominal_s: f64) -> (u64, u64) {
        let ms = scaled_ms(nominal_s, self.time_scale);
        (self.now.saturating_add(ms), ms)
    }
}

/// Model-create request fields shared by LMs and AMs.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CreateModel {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub base_model_name: Option<String>,
    #[serde(default)]
    pub dialect: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Characters a model name must not contain.
pub const FORBIDDEN_NAME_CHARS: &[char] = &['\\', '/', ':', '=', '&', '?'];

/// Checks `name` (≤ 256 chars, none of `\ / : = & ?`) and `description` (≤ 128 chars).
pub fn validate_name_description(
    name: Option<&str>,
    description: Option<&str>,
    name_required: bool,
) -> Result<(), SimError> {
    match name {
        None | Some("") if name_required => {
            return Err(SimError::bad("Required parameter 'name' is missing."));
        }
        Some(n) if n.chars().count() > 256 => {
            return Err(SimError::bad(
                "The name of the custom model can have at most 256 characters.",
            ));
        }
        Some(n) if n.contains(FORBIDDEN_NAME_CHARS) => {
            return Err(SimError::bad(format!(
                "The name '{n}' contains a character that is not allowed: \\ / : = & ?"
            )));
        }
        _ => {}
    }
    if description.is_some_and(|d| d.chars().count() > 128) {
        return Err(SimError::bad(
            "The description of the custom model can have at most 128 characters.",
        ));
    }
    Ok(())
}

/// Checks a corpus, grammar or audio resource name.
pub fn validate_resource_name(kind: &str, name: &str) -> Result<(), SimError> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err(SimError::bad(format!(
            "The {kind} name must have between 1 and 128 characters."
        )));
    }
    Ok(())
}

/// The whole simulated service instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// The owner GUID of every model (all API keys belong to one service instance).
    pub owner: String,
    pub catalogue: Catalogue,
    pub language: HashMap<String, LanguageModel>,
    pub acoustic: HashMap<String, AcousticModel>,
    pub voice: HashMap<String, VoiceModel>,
    /// The profile's rules and the admin's run-time changes to them (a state file written
    /// before profiles existed reads as the legacy profile).
    #[serde(default)]
    pub policy: Policy,
}

impl State {
    /// An empty instance with the default catalogue and the legacy profile's rules.
    pub fn new(owner: String) -> Self {
        Self::with_profile(owner, Profile::Legacy)
    }

    /// An empty instance with the default catalogue and the rules of `profile`.
    pub fn with_profile(owner: String, profile: Profile) -> Self {
        let catalogue = Catalogue::default();
        let policy = Policy::new(profile, &catalogue);
        State {
            owner,
            catalogue,
            language: HashMap::new(),
            acoustic: HashMap::new(),
            voice: HashMap::new(),
            policy,
        }
    }

    /// The base models `GET /v1/models` lists: the catalogue without withdrawn models.
    pub fn offered_base_models(&self) -> impl Iterator<Item = &BaseModel> {
        self.catalogue
            .models
            .iter()
            .filter(|m| !self.policy.is_withdrawn(&m.name))
    }

    /// `GET /v1/models/{id}`: a base model that is offered (a withdrawn one is a 404, as an
    /// unknown one).
    pub fn offered_base_model(&self, name: &str) -> Option<&BaseModel> {
        self.catalogue
            .get(name)
            .filter(|m| !self.policy.is_withdrawn(&m.name))
    }

    /// Brings a language model's copy of the run-time rules up to date.
    fn apply_policy_lm(policy: &Policy, m: &mut LanguageModel) {
        m.strict_sounds_like = policy.strict_sounds_like_for(m.family, &m.language);
        m.improved = policy.upgrades_by_retrain(&m.base_model_name);
        m.defective = m
            .versions
            .last()
            .is_some_and(|v| policy.defective.contains(v));
    }

    fn new_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn base_model(&self, name: Option<&str>) -> Result<&BaseModel, SimError> {
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SimError::bad("Required parameter 'base_model_name' is missing."))?;
        let base = self
            .catalogue
            .get(name)
            .ok_or_else(|| SimError::bad(format!("The base model '{name}' is not valid.")))?;
        if self.policy.is_withdrawn(name) {
            return Err(SimError::bad(withdrawn_message(name)));
        }
        Ok(base)
    }

    // ---- language models ----

    /// `POST /v1/customizations`.
    pub fn create_language_model(
        &mut self,
        ctx: Ctx,
        req: &CreateModel,
        cap: usize,
    ) -> Result<String, SimError> {
        validate_name_description(req.name.as_deref(), req.description.as_deref(), true)?;
        let base = self.base_model(req.base_model_name.as_deref())?;
        if !base.custom_language_model {
            return Err(SimError::bad(format!(
                "The base model '{}' does not support language model customization.",
                base.name
            )));
        }
        let dialect = base.default_dialect();
        if let Some(d) = req.dialect.as_deref().filter(|d| !d.is_empty())
            && !d.eq_ignore_ascii_case(&dialect)
        {
            return Err(SimError::bad(format!(
                "The dialect '{d}' is not valid for base model '{}'; use '{dialect}'.",
                base.name
            )));
        }
        if self.language.len() >= cap {
            return Err(SimError::bad(format!(
                "The maximum number of custom language models ({cap}) for this service instance has been reached. Delete a model and try again."
            )));
        }
        let id = Self::new_id();
        let model = LanguageModel::new(
            id.clone(),
            req.name.clone().unwrap_or_default(),
            req.description.clone().unwrap_or_default(),
            base,
            dialect,
            self.owner.clone(),
            ctx.now,
        );
        self.language.insert(id.clone(), model);
        Ok(id)
    }

    /// A settled language model, or 401.
    pub fn lm(&mut self, id: &str, now: u64) -> Result<&mut LanguageModel, SimError> {
        let m = self
            .language
            .get_mut(id)
            .ok_or_else(|| SimError::UnknownModel(id.to_owned()))?;
        m.settle(now);
        Self::apply_policy_lm(&self.policy, m);
        Ok(m)
    }

    /// `GET /v1/customizations`.
    pub fn list_language_models(&mut self, now: u64, language: Option<&str>) -> Vec<Value> {
        let mut out: Vec<&mut LanguageModel> = self
            .language
            .values_mut()
            .filter(|m| language.is_none_or(|l| m.language == l))
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out.into_iter()
            .map(|m| {
                m.settle(now);
                Self::apply_policy_lm(&self.policy, m);
                m.to_json()
            })
            .collect()
    }

    /// `DELETE /v1/customizations/{id}`.
    pub fn delete_language_model(&mut self, id: &str, now: u64) -> Result<(), SimError> {
        let m = self.lm(id, now)?;
        if m.is_busy() {
            return Err(SimError::busy(id));
        }
        self.language.remove(id);
        Ok(())
    }

    /// `POST /v1/customizations/{id}/upgrade_model`.
    pub fn upgrade_language_model(&mut self, ctx: Ctx, id: &str) -> Result<(), SimError> {
        let m = self.lm(id, ctx.now)?;
        let base_name = m.base_model_name.clone();
        if m.defective {
            return Err(SimError::bad(defective_message(
                m.versions.last().map(String::as_str).unwrap_or_default(),
            )));
        }
        if m.improved {
            // Release notes 27 Feb 2023, "Known issue" (exact text UNCONFIRMED).
            return Err(SimError::bad(format!(
                "Upgrading custom models based on the improved version of the base model '{base_name}' is not supported. To upgrade the model, retrain it with the 'force' query parameter set to 'true'."
            )));
        }
        let target = self
            .catalogue
            .get(&base_name)
            .map(|b| b.newest_version().to_owned())
            .unwrap_or_default();
        self.lm(id, ctx.now)?.upgrade(ctx, &target)
    }

    /// `POST /v1/customizations/{id}/train`.
    pub fn train_language_model(
        &mut self,
        ctx: Ctx,
        id: &str,
        params: &language::TrainParams,
    ) -> Result<Value, SimError> {
        let base_name = self.lm(id, ctx.now)?.base_model_name.clone();
        let newest = self
            .catalogue
            .get(&base_name)
            .map(|b| b.newest_version().to_owned())
            .unwrap_or_default();
        let m = self.lm(id, ctx.now)?;
        let before = m.versions.last().cloned();
        let out = m.train(ctx, params, &newest)?;
        // On the improved next-generation bases, the forced retrain that upgrades the model
        // drops a customization weight that is not sent again (custom-upgrade.md).
        if m.improved
            && params.force
            && params.customization_weight.is_none()
            && before.as_deref() != Some(newest.as_str())
        {
            m.customization_weight = None;
        }
        Ok(out)
    }

    // ---- acoustic models ----

    /// `POST /v1/acoustic_customizations`.
    pub fn create_acoustic_model(
        &mut self,
        ctx: Ctx,
        req: &CreateModel,
        cap: usize,
    ) -> Result<String, SimError> {
        validate_name_description(req.name.as_deref(), req.description.as_deref(), true)?;
        let base = self.base_model(req.base_model_name.as_deref())?;
        if !base.custom_acoustic_model {
            return Err(SimError::bad(format!(
                "The base model '{}' does not support acoustic model customization.",
                base.name
            )));
        }
        if self.acoustic.len() >= cap {
            return Err(SimError::bad(format!(
                "The maximum number of custom acoustic models ({cap}) for this service instance has been reached. Delete a model and try again."
            )));
        }
        let id = Self::new_id();
        let model = AcousticModel::new(
            id.clone(),
            req.name.clone().unwrap_or_default(),
            req.description.clone().unwrap_or_default(),
            base,
            self.owner.clone(),
            ctx.now,
        );
        self.acoustic.insert(id.clone(), model);
        Ok(id)
    }

    /// A settled acoustic model, or 401.
    pub fn am(&mut self, id: &str, now: u64) -> Result<&mut AcousticModel, SimError> {
        let m = self
            .acoustic
            .get_mut(id)
            .ok_or_else(|| SimError::UnknownModel(id.to_owned()))?;
        m.settle(now);
        m.audio_cap_seconds = self.policy.audio_cap_seconds();
        Ok(m)
    }

    /// `GET /v1/acoustic_customizations`.
    pub fn list_acoustic_models(&mut self, now: u64, language: Option<&str>) -> Vec<Value> {
        let mut out: Vec<&mut AcousticModel> = self
            .acoustic
            .values_mut()
            .filter(|m| language.is_none_or(|l| m.language == l))
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out.into_iter()
            .map(|m| {
                m.settle(now);
                m.to_json()
            })
            .collect()
    }

    /// `DELETE /v1/acoustic_customizations/{id}`.
    pub fn delete_acoustic_model(&mut self, id: &str, now: u64) -> Result<(), SimError> {
        let m = self.am(id, now)?;
        if m.is_busy() {
            return Err(SimError::busy(id));
        }
        self.acoustic.remove(id);
        Ok(())
    }

    /// Facts about a helper LM for AM training/upgrade: `(base model, latest version,
    /// status)`.
    fn helper_lm(&mut self, lm_id: &str, now: u64) -> Result<acoustic::HelperLm, SimError> {
        let lm = self.language.get_mut(lm_id).ok_or_else(|| {
            SimError::bad(format!(
                "The custom language model {lm_id} does not exist or is not owned by these credentials."
            ))
        })?;
        lm.settle(now);
        Ok(acoustic::HelperLm {
            id: lm_id.to_owned(),
            base_model_name: lm.base_model_name.clone(),
            version: lm.versions.last().cloned().unwrap_or_default(),
            available: lm.status() == language::ModelStatus::Available,
        })
    }

    /// `POST /v1/acoustic_customizations/{id}/train`.
    pub fn train_acoustic_model(
        &mut self,
        ctx: Ctx,
        id: &str,
        custom_lm: Option<&str>,
        strict: bool,
    ) -> Result<Value, SimError> {
        self.am(id, ctx.now)?;
        let helper = custom_lm.map(|l| self.helper_lm(l, ctx.now)).transpose();
        self.am(id, ctx.now)?.train(ctx, helper?, strict)
    }

    /// `POST /v1/acoustic_customizations/{id}/upgrade_model`.
    pub fn upgrade_acoustic_model(
        &mut self,
        ctx: Ctx,
        id: &str,
        custom_lm: Option<&str>,
        force: bool,
    ) -> Result<(), SimError> {
        let base_name = self.am(id, ctx.now)?.base_model_name.clone();
        let target = self
            .catalogue
            .get(&base_name)
            .map(|b| b.newest_version().to_owned())
            .unwrap_or_default();
        let helper = custom_lm.map(|l| self.helper_lm(l, ctx.now)).transpose();
        self.am(id, ctx.now)?.upgrade(ctx, &target, helper?, force)
    }

    // ---- voice models ----

    /// A voice model, or 401.
    pub fn voice(&mut self, id: &str) -> Result<&mut VoiceModel, SimError> {
        let m = self
            .voice
            .get_mut(id)
            .ok_or_else(|| SimError::UnknownModel(id.to_owned()))?;
        m.part_of_speech_ja_jp_only = self.policy.part_of_speech_ja_jp_only;
        Ok(m)
    }

    /// `POST /text-to-speech/v1/customizations`.
    pub fn create_voice_model(
        &mut self,
        ctx: Ctx,
        req: &voice::CreateVoiceModel,
    ) -> Result<String, SimError> {
        let id = Self::new_id();
        let mut model = VoiceModel::create(id.clone(), self.owner.clone(), req, ctx.now)?;
        model.part_of_speech_ja_jp_only = self.policy.part_of_speech_ja_jp_only;
        self.voice.insert(id.clone(), model);
        Ok(id)
    }

    // ---- cross-cutting ----

    /// STT `DELETE /v1/user_data?customer_id=`: removes every corpus, grammar, word and audio
    /// resource labelled with the id. Busy models are not spared (deletion of labelled data is
    /// a privacy operation).
    pub fn delete_stt_customer_data(&mut self, now: u64, customer_id: &str) {
        for m in self.language.values_mut() {
            m.settle(now);
            m.remove_customer_data(now, customer_id);
        }
        for m in self.acoustic.values_mut() {
            m.settle(now);
            m.remove_customer_data(now, customer_id);
        }
    }

    /// TTS `DELETE /v1/user_data?customer_id=`: removes every word labelled with the id.
    pub fn delete_tts_customer_data(&mut self, now: u64, customer_id: &str) {
        for m in self.voice.values_mut() {
            m.remove_customer_data(now, customer_id);
        }
    }

    /// Holds (or releases) a model: while held, none of its analyses, trainings or upgrades
    /// finishes. Returns false for unknown ids.
    pub fn hold(&mut self, id: &str, held: bool) -> bool {
        if let Some(m) = self.language.get_mut(id) {
            m.held = held;
            true
        } else if let Some(m) = self.acoustic.get_mut(id) {
            m.held = held;
            true
        } else {
            false
        }
    }

    /// The status of a language or acoustic model now (settled), for the `status_lag_seconds`
    /// quirk.
    pub fn status_of(&mut self, id: &str, now: u64) -> Option<language::ModelStatus> {
        if let Some(m) = self.language.get_mut(id) {
            m.settle(now);
            Some(m.status())
        } else if let Some(m) = self.acoustic.get_mut(id) {
            m.settle(now);
            Some(m.status())
        } else {
            None
        }
    }

    /// Quirk `status_lag_seconds`: the model reads `status` (the one before a train or upgrade
    /// call) until `until` (Unix ms), whatever it does meanwhile.
    pub fn show_status_until(&mut self, id: &str, status: language::ModelStatus, until: u64) {
        if let Some(m) = self.language.get_mut(id) {
            m.lagging = Some((until, status));
        } else if let Some(m) = self.acoustic.get_mut(id) {
            m.lagging = Some((until, status));
        }
    }

    /// Marks a model so that its next training ends `failed`, with `error` as the model's
    /// `error` field (default: a stringified 500). Returns false for unknown ids.
    pub fn fail_next_training(&mut self, id: &str, error: Option<String>) -> bool {
        if let Some(m) = self.language.get_mut(id) {
            m.fail_next_training = true;
            m.failure_error = error;
            true
        } else if let Some(m) = self.acoustic.get_mut(id) {
            m.fail_next_training = true;
            m.failure_error = error;
            true
        } else {
            false
        }
    }

    /// The name of the model `id`, of any kind.
    pub fn model_name(&self, id: &str) -> Option<String> {
        self.language
            .get(id)
            .map(|m| m.name.clone())
            .or_else(|| self.acoustic.get(id).map(|m| m.name.clone()))
            .or_else(|| self.voice.get(id).map(|m| m.name.clone()))
    }

    /// Out-of-band delete of any model. Returns false for unknown ids.
    pub fn remove_any(&mut self, id: &str) -> bool {
        self.language.remove(id).is_some()
            || self.acoustic.remove(id).is_some()
            || self.voice.remove(id).is_some()
    }

    /// Every model, settled, for the admin API.
    pub fn admin_models(&mut self, now: u64) -> Vec<super::api::SimModel> {
        use super::api::{ModelKind, SimModel};
        let mut out =
            Vec::with_capacity(self.language.len() + self.acoustic.len() + self.voice.len());
        for m in self.language.values_mut() {
            m.settle(now);
            Self::apply_policy_lm(&self.policy, m);
            out.push(SimModel {
                customization_weight: Some(m.effective_customization_weight()),
                customization_id: m.id.clone(),
                kind: ModelKind::Language,
                name: m.name.clone(),
                description: m.description.clone(),
                base_model_name: Some(m.base_model_name.clone()),
                language: m.language.clone(),
                status: Some(m.status().as_str().to_owned()),
                versions: m.versions.clone(),
                busy_seconds: m.busy_ms as f64 / 1000.0,
                created_ms: m.created,
            });
        }
        for m in self.acoustic.values_mut() {
            m.settle(now);
            out.push(SimModel {
                customization_weight: None,
                customization_id: m.id.clone(),
                kind: ModelKind::Acoustic,
                name: m.name.clone(),
                description: m.description.clone(),
                base_model_name: Some(m.base_model_name.clone()),
                language: m.language.clone(),
                status: Some(m.status().as_str().to_owned()),
                versions: m.versions.clone(),
                busy_seconds: m.busy_ms as f64 / 1000.0,
                created_ms: m.created,
            });
        }
        for m in self.voice.values() {
            out.push(SimModel {
                customization_weight: None,
                customization_id: m.id.clone(),
                kind: ModelKind::Voice,
                name: m.name.clone(),
                description: m.description.clone(),
                base_model_name: None,
                language: m.language.clone(),
                status: None,
                versions: Vec::new(),
                busy_seconds: 0.0,
                created_ms: m.created,
            });
        }
        out.sort_by(|a, b| {
            a.created_ms
                .cmp(&b.created_ms)
                .then_with(|| a.customization_id.cmp(&b.customization_id))
        });
        out
    }
}

/// The 400 for a custom model on a withdrawn base model (exact text UNCONFIRMED; IBM's
/// discontinuation notice names the model and points to the migration page).
pub fn withdrawn_message(base: &str) -> String {
    format!(
        "The base model '{base}' has been discontinued and is no longer available. Use a large speech model or a next-generation model instead (https://cloud.ibm.com/docs/speech-to-text?topic=speech-to-text-models-migrate)."
    )
}

/// The text of a custom model on a defective base version (IBM, December 2021: re-create it).
pub fn defective_message(version: &str) -> String {
    format!(
        "The custom model is based on version '{version}' of its base model, which has a defect. Re-create the model: create a new custom model, add the same data, train it, and delete this one."
    )
}

/// The stringified 500 error stored in a model's `error` field after an asynchronous failure.
pub fn stringified_500(message: &str) -> String {
    json!({"code": 500, "code_description": "Internal Server Error", "error": message}).to_string()
}

/// The documented training-warning message.
pub fn training_warning(
    code: &str,
    resource_type: &str,
    names: &[String],
    model_type: &str,
) -> Value {
    json!({
        "code": code,
        "message": format!(
            "Analysis of the following {resource_type} has not completed successfully: [{}]. They will be excluded from custom {model_type} model training.",
            names.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests;
