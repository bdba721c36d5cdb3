//! STT custom acoustic models (fact sheet §5, state machine §13.2): audio resources (single
//! files and archives), training with an optional helper language model, upgrade and reset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::language::ModelStatus;
use super::{Ctx, SimError, stringified_500, timing, training_warning, validate_resource_name};
use crate::audio::{self, AudioFacts, Container, MAX_AUDIO_BYTES};
use crate::catalogue::BaseModel;
use crate::clock::iso8601;

/// Minimum minutes of valid audio to train.
pub const MIN_TRAINING_SECONDS: f64 = 600.0;
/// Maximum hours of audio (IBM Cloud since Aug–Sep 2022); the default of the policy's
/// `audio_cap_hours` admin knob.
pub const MAX_TRAINING_SECONDS: f64 = crate::profile::DEFAULT_AUDIO_CAP_HOURS * 3600.0;

fn default_audio_cap_seconds() -> f64 {
    MAX_TRAINING_SECONDS
}

/// The 400 of a model over the audio cap (adding audio, training, upgrading).
fn over_cap(seconds: f64, cap_seconds: f64) -> SimError {
    SimError::BadRequest(format!(
        "The custom acoustic model contains {:.1} hours of audio; at most {} hours are allowed.",
        seconds / 3600.0,
        cap_seconds / 3600.0
    ))
}

/// Status of an audio resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioStatus {
    BeingProcessed,
    Ok,
    Invalid,
}

impl AudioStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            AudioStatus::BeingProcessed => "being_processed",
            AudioStatus::Ok => "ok",
            AudioStatus::Invalid => "invalid",
        }
    }
}

/// One audio resource (a single file or an archive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioResource {
    pub name: String,
    /// `Some` for an archive.
    pub container: Option<Container>,
    /// One entry for an audio-type resource; one per member for an archive.
    pub members: Vec<AudioFacts>,
    /// The archive could not be read (archive-level failure).
    pub archive_error: Option<String>,
    pub status: AudioStatus,
    pub until: u64,
    pub customer_id: Option<String>,
}

impl AudioResource {
    fn valid(&self) -> bool {
        self.archive_error.is_none()
            && !self.members.is_empty()
            && self.members.iter().all(|m| m.valid)
    }

    /// Total duration in seconds (sum over members).
    pub fn duration_s(&self) -> f64 {
        self.members.iter().map(|m| m.duration_s).sum()
    }

    fn settle(&mut self, now: u64) -> bool {
        if self.status == AudioStatus::BeingProcessed && now >= self.until {
            self.status = if self.valid() {
                AudioStatus::Ok
            } else {
                AudioStatus::Invalid
            };
            return true;
        }
        false
    }

    fn done(&self) -> bool {
        self.status != AudioStatus::BeingProcessed
    }

    fn member_json(m: &AudioFacts, status: &str) -> Value {
        let details = match (&m.codec, m.frequency) {
            (Some(codec), Some(freq)) => {
                json!({"type": "audio", "codec": codec, "frequency": freq})
            }
            _ => json!({"type": "undetermined"}),
        };
        json!({
            "duration": m.duration_s.round() as u64,
            "name": m.name,
            "details": details,
            "status": status,
        })
    }

    /// The `AudioResource` JSON used in listings (an archive shows as its container).
    pub fn summary_json(&self) -> Value {
        if !self.done() {
            return json!({"duration": 0, "name": self.name, "details": {}, "status": self.status.as_str()});
        }
        match self.container {
            Some(c) => json!({
                "duration": self.duration_s().round() as u64,
                "name": self.name,
                "details": {"type": "archive", "compression": c.as_str()},
                "status": self.status.as_str(),
            }),
            None => match self.members.first() {
                Some(m) => {
                    let mut v = Self::member_json(m, self.status.as_str());
                    v["name"] = json!(self.name);
                    v
                }
                None => {
                    json!({"duration": 0, "name": self.name, "details": {"type": "undetermined"}, "status": self.status.as_str()})
                }
            },
        }
    }

    /// The `AudioListing` JSON: the summary for an audio-type resource, `container` + `audio`
    /// for an archive.
    pub fn listing_json(&self) -> Value {
        if self.container.is_none() {
            return self.summary_json();
        }
        let members: Vec<Value> = if self.done() {
            self.members
                .iter()
                .map(|m| {
                    Self::member_json(
                        m,
                        if m.valid {
                            AudioStatus::Ok.as_str()
                        } else {
                            AudioStatus::Invalid.as_str()
                        },
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        json!({"container": self.summary_json(), "audio": members})
    }
}

/// The in-flight model-level operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AmJob {
    Training {
        until: u64,
        fail: bool,
    },
    Upgrading {
        until: u64,
        version: String,
    },
    /// Reset takes a moment; the model refuses requests meanwhile and shows `pending`.
    Resetting {
        until: u64,
    },
}

/// What an AM operation needs to know about a helper language model.
#[derive(Clone, Debug, PartialEq)]
pub struct HelperLm {
    pub id: String,
    pub base_model_name: String,
    /// The LM's newest version.
    pub version: String,
    pub available: bool,
}

/// A custom acoustic model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcousticModel {
    pub id: String,
    pub name: String,
    pub description: String,
    pub base_model_name: String,
    pub language: String,
    /// The base model's sampling rate: audio below it is invalid.
    pub min_rate: u32,
    pub owner: String,
    pub created: u64,
    pub updated: u64,
    pub versions: Vec<String>,
    pub audio: BTreeMap<String, AudioResource>,
    pub job: Option<AmJob>,
    pub trained: bool,
    pub dirty: bool,
    pub failed: bool,
    pub error: Option<String>,
    /// The helper LM of the last training started.
    pub trained_with_lm: Option<String>,
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
    pub busy_ms: u64,
    /// The audio cap (seconds) of the policy, refreshed on every access (admin knob
    /// `audio_cap_hours`): a model over it keeps serving but cannot take audio, train or
    /// upgrade.
    #[serde(default = "default_audio_cap_seconds")]
    pub audio_cap_seconds: f64,
}

impl AcousticModel {
    /// A new model in `pending`.
    pub fn new(
        id: String,
        name: String,
        description: String,
        base: &BaseModel,
        owner: String,
        now: u64,
    ) -> Self {
        AcousticModel {
            id,
            name,
            description,
            base_model_name: base.name.clone(),
            language: base.language.clone(),
            min_rate: base.rate,
            owner,
            created: now,
            updated: now,
            versions: vec![base.newest_version().to_owned()],
            audio: BTreeMap::new(),
            job: None,
            trained: false,
            dirty: false,
            failed: false,
            error: None,
            trained_with_lm: None,
            fail_next_training: false,
            failure_error: None,
            lagging: None,
            held: false,
            busy_ms: 0,
            audio_cap_seconds: MAX_TRAINING_SECONDS,
        }
    }

    /// Seconds of all audio resources, whatever their status.
    fn all_seconds(&self) -> f64 {
        self.audio.values().map(AudioResource::duration_s).sum()
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
        for a in self.audio.values_mut() {
            a.settle(now);
        }
        let done = match &self.job {
            Some(AmJob::Training { until, .. })
            | Some(AmJob::Upgrading { until, .. })
            | Some(AmJob::Resetting { until }) => now >= *until,
            None => false,
        };
        if !done {
            return;
        }
        match self.job.take() {
            Some(AmJob::Training { until, fail }) => {
                self.updated = until;
                if fail {
                    self.failed = true;
                    self.dirty = true;
                    self.error = Some(self.failure_error.take().unwrap_or_else(|| {
                        stringified_500(
                            "Training of the custom acoustic model failed because of an internal error.",
                        )
                    }));
                } else {
                    self.trained = true;
                    self.dirty = false;
                    self.failed = false;
                    self.error = None;
                }
            }
            Some(AmJob::Upgrading { until, version }) => {
                self.updated = until;
                if self.versions.last() != Some(&version) {
                    self.versions.push(version);
                }
            }
            Some(AmJob::Resetting { until }) => self.updated = until,
            None => {}
        }
    }

    fn any_processing(&self) -> bool {
        self.audio
            .values()
            .any(|a| a.status == AudioStatus::BeingProcessed)
    }

    /// Whether train, upgrade, reset and delete are refused (409).
    pub fn is_busy(&self) -> bool {
        self.job.is_some() || self.any_processing()
    }

    fn ok_seconds(&self) -> f64 {
        self.audio
            .values()
            .filter(|a| a.status == AudioStatus::Ok)
            .map(AudioResource::duration_s)
            .sum()
    }

    /// The observable status.
    pub fn status(&self) -> ModelStatus {
        match &self.job {
            Some(AmJob::Training { .. }) => return ModelStatus::Training,
            Some(AmJob::Upgrading { .. }) => return ModelStatus::Upgrading,
            Some(AmJob::Resetting { .. }) => return ModelStatus::Pending,
            None => {}
        }
        if self.any_processing() {
            ModelStatus::Pending
        } else if self.failed {
            ModelStatus::Failed
        } else if self.trained && !self.dirty {
            ModelStatus::Available
        } else if self.audio.values().any(|a| a.status == AudioStatus::Ok) {
            ModelStatus::Ready
        } else {
            ModelStatus::Pending
        }
    }

    /// The `AcousticModel` JSON.
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
        v
    }

    fn ensure_no_job(&self) -> Result<(), SimError> {
        if self.job.is_some() {
            Err(SimError::busy(&self.id))
        } else {
            Ok(())
        }
    }

    fn ensure_idle(&self) -> Result<(), SimError> {
        if self.is_busy() {
            Err(SimError::busy(&self.id))
        } else {
            Ok(())
        }
    }

    fn touch(&mut self, now: u64) {
        self.dirty = true;
        self.failed = false;
        self.updated = now;
    }

    /// `POST .../audio/{name}`. Several different resources may be processed at once.
    /// `prepared` comes from [`prepare_audio`] (done outside the state lock).
    pub fn add_audio(
        &mut self,
        ctx: Ctx,
        prepared: PreparedAudio,
        allow_overwrite: bool,
        customer_id: Option<String>,
    ) -> Result<(), SimError> {
        self.ensure_no_job()?;
        let name = prepared.name;
        if self.audio.contains_key(&name) && !allow_overwrite {
            return Err(SimError::BadRequest(format!(
                "Audio resource '{name}' already exists. Set the 'allow_overwrite' flag to 'true' to replace it."
            )));
        }
        let duration: f64 = prepared.members.iter().map(|m| m.duration_s).sum();
        let kept = self.all_seconds()
            - self
                .audio
                .get(&name)
                .map(AudioResource::duration_s)
                .unwrap_or(0.0);
        if kept + duration > self.audio_cap_seconds {
            return Err(over_cap(kept + duration, self.audio_cap_seconds));
        }
        let (until, ms) = ctx.schedule(timing::AUDIO_BASE_S + timing::AUDIO_PER_AUDIO_S * duration);
        self.busy_ms += ms;
        self.audio.insert(
            name.clone(),
            AudioResource {
                name,
                container: prepared.container,
                members: prepared.members,
                archive_error: prepared.archive_error,
                status: AudioStatus::BeingProcessed,
                until,
                customer_id,
            },
        );
        self.touch(ctx.now);
        self.settle(ctx.now);
        Ok(())
    }

    /// `GET .../audio`.
    pub fn list_audio(&self) -> Value {
        json!({
            "total_minutes_of_audio": self.ok_seconds() / 60.0,
            "audio": self.audio.values().map(AudioResource::summary_json).collect::<Vec<_>>(),
        })
    }

    /// `GET .../audio/{name}`.
    pub fn get_audio(&self, name: &str) -> Result<Value, SimError> {
        self.audio
            .get(name)
            .map(AudioResource::listing_json)
            .ok_or_else(|| missing_audio(name, &self.id))
    }

    /// `DELETE .../audio/{name}` (allowed while other audio is processed, not during training).
    pub fn delete_audio(&mut self, now: u64, name: &str) -> Result<(), SimError> {
        if !self.audio.contains_key(name) {
            return Err(missing_audio(name, &self.id));
        }
        self.ensure_no_job()?;
        self.audio.remove(name);
        self.touch(now);
        Ok(())
    }

    fn fail(&mut self, now: u64, message: String) -> SimError {
        self.failed = true;
        self.dirty = true;
        self.updated = now;
        SimError::BadRequest(message)
    }

    /// `POST .../train`.
    pub fn train(
        &mut self,
        ctx: Ctx,
        helper: Option<HelperLm>,
        strict: bool,
    ) -> Result<Value, SimError> {
        self.ensure_idle()?;
        if self.audio.is_empty() {
            return Err(SimError::BadRequest(
                "The custom acoustic model contains no audio resources to train on.".to_owned(),
            ));
        }
        let invalid: Vec<String> = self
            .audio
            .values()
            .filter(|a| a.status == AudioStatus::Invalid)
            .map(|a| a.name.clone())
            .collect();
        if !invalid.is_empty() && strict {
            return Err(self.fail(
                ctx.now,
                format!(
                    "Training failed because the custom model contains invalid audio resources: [{}]. Fix or delete them, or train with strict=false.",
                    invalid.join(", ")
                ),
            ));
        }
        let seconds = self.ok_seconds();
        if seconds < MIN_TRAINING_SECONDS {
            return Err(self.fail(
                ctx.now,
                format!(
                    "The custom acoustic model contains {:.1} minutes of valid audio; at least 10 minutes are required for training.",
                    seconds / 60.0
                ),
            ));
        }
        if seconds > self.audio_cap_seconds {
            let message = over_cap(seconds, self.audio_cap_seconds).to_string();
            return Err(self.fail(ctx.now, message));
        }
        if let Some(h) = &helper
            && let Err(msg) = self.check_helper(
                h,
                self.versions.last().map(String::as_str).unwrap_or_default(),
            )
        {
            return Err(self.fail(ctx.now, msg));
        }
        let (until, ms) = ctx.schedule(seconds);
        self.busy_ms += ms;
        self.job = Some(AmJob::Training {
            until,
            fail: std::mem::take(&mut self.fail_next_training),
        });
        self.trained_with_lm = helper.map(|h| h.id);
        self.updated = ctx.now;
        self.settle(ctx.now);
        Ok(if invalid.is_empty() {
            json!({})
        } else {
            json!({"warnings": [training_warning("invalid_audio_files", "audio files", &invalid, "acoustic")]})
        })
    }

    fn check_helper(&self, h: &HelperLm, version: &str) -> Result<(), String> {
        if !h.available {
            return Err(format!(
                "The custom language model {} is not available; it must be trained before it can be used.",
                h.id
            ));
        }
        if h.base_model_name != self.base_model_name || h.version != version {
            return Err(format!(
                "The custom language model {} ({}) and the custom acoustic model ({}) must be based on the same version of the same base model.",
                h.id, h.version, version
            ));
        }
        Ok(())
    }

    /// `POST .../reset`: asynchronous; the model shows `pending` and refuses requests until done.
    pub fn reset(&mut self, ctx: Ctx) -> Result<(), SimError> {
        self.ensure_idle()?;
        self.audio.clear();
        self.trained = false;
        self.dirty = false;
        self.failed = false;
        self.error = None;
        self.trained_with_lm = None;
        let (until, ms) = ctx.schedule(timing::AM_RESET_S);
        self.busy_ms += ms;
        self.job = Some(AmJob::Resetting { until });
        self.updated = ctx.now;
        self.settle(ctx.now);
        Ok(())
    }

    /// `POST .../upgrade_model` towards `target` (the base model's newest version).
    pub fn upgrade(
        &mut self,
        ctx: Ctx,
        target: &str,
        helper: Option<HelperLm>,
        force: bool,
    ) -> Result<(), SimError> {
        self.ensure_idle()?;
        let status = self.status();
        if !matches!(status, ModelStatus::Ready | ModelStatus::Available) || self.audio.is_empty() {
            return Err(SimError::BadRequest(format!(
                "The custom model must contain audio and be in the ready or available state to be upgraded; its status is '{}'.",
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
        if self.all_seconds() > self.audio_cap_seconds {
            return Err(over_cap(self.all_seconds(), self.audio_cap_seconds));
        }
        if let Some(h) = &helper {
            self.check_helper(h, target).map_err(SimError::BadRequest)?;
            if self.trained && !self.dirty && !force {
                return Err(SimError::BadRequest(
                    "No input data modified since last training".to_owned(),
                ));
            }
        }
        let (until, ms) = ctx.schedule(self.ok_seconds());
        self.busy_ms += ms;
        self.job = Some(AmJob::Upgrading {
            until,
            version: target.to_owned(),
        });
        self.updated = ctx.now;
        self.settle(ctx.now);
        Ok(())
    }

    /// Removes every audio resource labelled with `customer_id`.
    pub fn remove_customer_data(&mut self, now: u64, customer_id: &str) {
        let before = self.audio.len();
        self.audio
            .retain(|_, a| a.customer_id.as_deref() != Some(customer_id));
        if self.audio.len() != before {
            self.touch(now);
        }
    }
}

/// An audio resource inspected and ready to be added.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedAudio {
    pub name: String,
    pub container: Option<Container>,
    pub members: Vec<AudioFacts>,
    pub archive_error: Option<String>,
}

/// Validates the request-level parts of an audio add (name, content types, size) and inspects
/// the audio against the base model's sampling rate `min_rate`.
pub fn prepare_audio(
    name: &str,
    content_type: Option<&str>,
    contained_content_type: Option<&str>,
    body: &[u8],
    min_rate: u32,
) -> Result<PreparedAudio, SimError> {
    validate_resource_name("audio resource", name)?;
    let (container, contained, media) = audio::classify(content_type, contained_content_type)?;
    if body.is_empty() {
        return Err(SimError::BadRequest(
            "No input data: the audio resource is empty.".to_owned(),
        ));
    }
    if body.len() > MAX_AUDIO_BYTES {
        return Err(SimError::PayloadTooLarge(
            "The audio resource exceeds the maximum size of 100 MB.".to_owned(),
        ));
    }
    let (members, archive_error) = match container {
        None => (
            vec![audio::inspect(name, Some(&media), body, min_rate)],
            None,
        ),
        Some(c) => match audio::inspect_archive(c, contained.as_ref(), body, min_rate) {
            Ok(m) => (m, None),
            Err(e) => (Vec::new(), Some(e)),
        },
    };
    Ok(PreparedAudio {
        name: name.to_owned(),
        container,
        members,
        archive_error,
    })
}

fn missing_audio(name: &str, id: &str) -> SimError {
    SimError::BadRequest(format!(
        "The audio resource '{name}' does not exist in custom model {id}."
    ))
}
