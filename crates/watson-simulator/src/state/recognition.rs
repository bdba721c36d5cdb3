//! `POST /v1/recognize` (issue 28): which base model, version, custom words and weight a
//! recognition request uses, and what it refuses. The hearing itself is [`crate::recognize`].
//!
//! Refusals, checked in this order (texts marked UNCONFIRMED in `docs/simulator.md` are the
//! simulator's own):
//! 1. a `customization_weight` that is not a number from 0 to 1: 400;
//! 2. an unknown `model` (default `en-US_BroadbandModel`, IBM's documented default): 404
//!    `Model {model} not found`, as `GET /v1/models/{model}`;
//! 3. a `language_customization_id` (or the older `customization_id`) that does not exist for
//!    these credentials: 401 `Invalid customization_id ({id}) for user`;
//! 4. a custom language model never trained successfully (or reset since): 400 `Requested
//!    custom language model is not available. Please make sure the custom model is trained.`
//!    (IBM's release-notes text); a model trained once keeps serving what it learned then
//!    while it is retrained, upgraded or has new data;
//! 5. a custom model on another base model than `model`: 400;
//! 6. a `base_model_version` the custom model (or, without one, the base model) does not have:
//!    400;
//! 7. a custom model whose version is marked defective (IBM, December 2021: such models had to
//!    be re-created): 400;
//! 8. an `acoustic_customization_id` that does not exist (401), is on another base (400) or is
//!    not `available` (400); an acoustic model changes nothing of what is heard.

use std::collections::HashMap;

use super::{SimError, State};
use crate::recognize::{Context, WORSE_DROP_EVERY};

/// The model recognition uses when the request names none (IBM's documented default).
pub const DEFAULT_MODEL: &str = "en-US_BroadbandModel";

/// The query parameters of IBM's `recognize` the simulator knows; any other is reported in the
/// answer's `warnings` (IBM's `Unexpected query parameter(s) [...] detected`). Those not used
/// here (timestamps, keywords, smart formatting, ...) change nothing in the simulator.
pub const KNOWN_PARAMETERS: &[&str] = &[
    "model",
    "language_customization_id",
    "acoustic_customization_id",
    "customization_id",
    "base_model_version",
    "customization_weight",
    "parameter_set",
    "inactivity_timeout",
    "keywords",
    "keywords_threshold",
    "max_alternatives",
    "word_alternatives_threshold",
    "word_confidence",
    "timestamps",
    "profanity_filter",
    "smart_formatting",
    "smart_formatting_version",
    "speaker_labels",
    "grammar_name",
    "redaction",
    "audio_metrics",
    "end_of_phrase_silence_time",
    "split_transcript_at_phrase_end",
    "speech_detector_sensitivity",
    "background_audio_suppression",
    "low_latency",
    "character_insertion_bias",
];

/// What a recognition request uses besides its audio.
#[derive(Clone, Debug, PartialEq)]
pub struct Recognition {
    /// Custom words, weight and the worse-on-purpose knob.
    pub context: Context,
    /// The base model's minimum sampling rate (Hz): lower-rate audio is refused.
    pub min_rate: u32,
    /// The answer's `warnings` (unknown query parameters).
    pub warnings: Vec<String>,
}

fn bad(message: String) -> SimError {
    SimError::BadRequest(message)
}

impl State {
    /// The context of a `POST /v1/recognize` with query `query` at `now` (the module's rules).
    pub fn recognition(
        &mut self,
        now: u64,
        query: &HashMap<String, String>,
    ) -> Result<Recognition, SimError> {
        let get = |k: &str| query.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let weight = match get("customization_weight") {
            None => None,
            Some(raw) => match raw.parse::<f64>() {
                Ok(w) if (0.0..=1.0).contains(&w) => Some(w),
                _ => {
                    return Err(bad(format!(
                        "The value '{raw}' of query parameter 'customization_weight' is not valid: it must be a number from 0.0 to 1.0."
                    )));
                }
            },
        };
        let model = get("model").unwrap_or(DEFAULT_MODEL).to_owned();
        let base = self
            .catalogue
            .get(&model)
            .cloned()
            .ok_or_else(|| SimError::NotFound(format!("Model {model} not found")))?;
        let mut unknown: Vec<&str> = query
            .keys()
            .map(String::as_str)
            .filter(|k| !KNOWN_PARAMETERS.contains(k))
            .collect();
        unknown.sort_unstable();
        let warnings = if unknown.is_empty() {
            Vec::new()
        } else {
            let names: Vec<String> = unknown.iter().map(|k| format!("'{k}'")).collect();
            vec![format!(
                "Unexpected query parameter(s) [{}] detected",
                names.join(", ")
            )]
        };
        if let Some(am_id) = get("acoustic_customization_id") {
            let am = self.am(am_id, now)?;
            if am.base_model_name != model {
                return Err(bad(format!(
                    "The custom acoustic model {am_id} is based on {}, not on the requested model {model}.",
                    am.base_model_name
                )));
            }
            if am.status() != super::language::ModelStatus::Available {
                return Err(bad(
                    "Requested custom acoustic model is not available. Please make sure the custom model is trained."
                        .to_owned(),
                ));
            }
        }
        let lm_id = get("language_customization_id").or_else(|| get("customization_id"));
        let Some(lm_id) = lm_id else {
            let version = match get("base_model_version") {
                Some(v) if !base.versions.iter().any(|b| b == v) => {
                    return Err(bad(format!(
                        "The base model version '{v}' is not available for model {model}."
                    )));
                }
                Some(v) => v.to_owned(),
                None => base.newest_version().to_owned(),
            };
            return Ok(Recognition {
                context: Context {
                    custom_words: Vec::new(),
                    weight: 0.0,
                    drop_every: self
                        .policy
                        .worse_versions
                        .contains(&version)
                        .then_some(WORSE_DROP_EVERY),
                },
                min_rate: base.rate,
                warnings,
            });
        };
        let worse_versions = self.policy.worse_versions.clone();
        let defective = self.policy.defective.clone();
        let lm = self.lm(lm_id, now)?;
        if !lm.trained {
            return Err(bad(
                "Requested custom language model is not available. Please make sure the custom model is trained."
                    .to_owned(),
            ));
        }
        if lm.base_model_name != model {
            return Err(bad(format!(
                "The custom language model {lm_id} is based on {}, not on the requested model {model}.",
                lm.base_model_name
            )));
        }
        let version = match get("base_model_version") {
            Some(v) if !lm.versions.iter().any(|b| b == v) => {
                return Err(bad(format!(
                    "The base model version '{v}' is not available for custom model {lm_id}; it has [{}].",
                    lm.versions.join(", ")
                )));
            }
            Some(v) => v.to_owned(),
            None => lm.versions.last().cloned().unwrap_or_default(),
        };
        if defective.contains(&version) {
            return Err(bad(format!(
                "The custom language model {lm_id} was built on base model version {version}, which can no longer be used for recognition. Create the custom model again."
            )));
        }
        Ok(Recognition {
            context: Context {
                custom_words: lm.learned.clone(),
                weight: weight.unwrap_or_else(|| lm.effective_customization_weight()),
                drop_every: (lm.worse || worse_versions.contains(&version))
                    .then_some(WORSE_DROP_EVERY),
            },
            min_rate: base.rate,
            warnings,
        })
    }
}
