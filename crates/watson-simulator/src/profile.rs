//! Which IBM service the simulator plays (`simulate --profile`), and the rules that differ
//! between them (fact sheet `watson-api.md` §17; `docs/simulator.md`, "Profiles").
//!
//! - [`Profile::IbmCloud`] (the default): the service as IBM sells it today. Previous-generation
//!   base models are withdrawn (discontinued 1 August 2023), so no acoustic customization is
//!   possible; the "improved" next-generation bases of February 2023 refuse `upgrade_model`
//!   (the upgrade is `train?force=true`); `sounds_like` is validated the stricter way of
//!   December 2025; TTS `part_of_speech` is for ja-JP only.
//! - [`Profile::Legacy`]: the service of the seed pages (2021–2022): every base model, acoustic
//!   customization, `upgrade_model` everywhere.
//!
//! The [`Policy`] is part of the simulated state; admin knobs change it at run time (withdraw a
//! base model, mark a base version defective, change the audio cap).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, Family};

/// The service the simulator plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// IBM Cloud today (2026): previous-generation models withdrawn, large speech models and
    /// next-generation models with today's rules.
    #[default]
    IbmCloud,
    /// The seed pages' service (2021–2022): previous-generation models and acoustic
    /// customization, `upgrade_model` on every family.
    Legacy,
}

impl Profile {
    /// The name used on the command line and in the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::IbmCloud => "ibm-cloud",
            Profile::Legacy => "legacy",
        }
    }
}

/// The acoustic audio cap per model, in hours, on both profiles (IBM Cloud since Aug–Sep 2022;
/// the seed pages give the same figure). Admin knob: `PUT /_simulator/config`
/// `{"audio_cap_hours": 200}`.
pub const DEFAULT_AUDIO_CAP_HOURS: f64 = 50.0;

/// The "improved" next-generation bases of 27 February 2023 that refuse `upgrade_model`
/// (release notes, "Known issue"); of these, the catalogue holds the ones listed.
pub const IMPROVED_NEXT_GENERATION: &[&str] = &[
    "en-US_Telephony",
    "en-US_Multimedia",
    "en-GB_Telephony",
    "en-GB_Multimedia",
    "en-AU_Telephony",
    "en-AU_Multimedia",
    "en-IN_Telephony",
    "ja-JP_Telephony",
    "ja-JP_Multimedia",
];

/// Locales whose next-generation and large speech models validate `sounds_like` strictly since
/// 10 December 2025 (release notes): English (US, AU, GB, IN), every Spanish, French, German,
/// Italian.
fn strict_sounds_like_language(language: &str) -> bool {
    matches!(language, "en-US" | "en-AU" | "en-GB" | "en-IN")
        || language.starts_with("es-")
        || language.starts_with("fr-")
        || language.starts_with("de-")
        || language.starts_with("it-")
}

/// The rules of one profile, plus what the admin changed at run time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub profile: Profile,
    /// Base models no new custom model can use (and that `GET /v1/models` no longer lists).
    /// Custom models already on them keep serving.
    pub withdrawn: BTreeSet<String>,
    /// Base model versions (`name.vYYYY-MM-DD`) whose custom models must be re-created (IBM,
    /// December 2021): upgrade and reset do not help; the models carry a warning.
    pub defective: BTreeSet<String>,
    /// Base models whose upgrade is a forced retrain (`upgrade_model` refused).
    pub retrain_to_upgrade: BTreeSet<String>,
    /// Maximum hours of audio per acoustic model (adding audio, training and upgrading beyond
    /// it are refused).
    pub audio_cap_hours: f64,
    /// `sounds_like` validated the December 2025 way.
    pub strict_sounds_like: bool,
    /// TTS `part_of_speech` accepted for ja-JP voices only.
    pub part_of_speech_ja_jp_only: bool,
    /// Base model versions the admin marked worse at recognition (issue 28): recognition on
    /// them loses every [`crate::recognize::WORSE_DROP_EVERY`]-th word, so a test can make an
    /// upgrade regress.
    #[serde(default)]
    pub worse_versions: BTreeSet<String>,
}

impl Default for Policy {
    /// The legacy rules (what a state file written before profiles existed was simulating).
    fn default() -> Self {
        Policy::new(Profile::Legacy, &Catalogue::default())
    }
}

impl Policy {
    /// The rules of `profile` over `catalogue`.
    pub fn new(profile: Profile, catalogue: &Catalogue) -> Self {
        match profile {
            Profile::Legacy => Policy {
                profile,
                withdrawn: BTreeSet::new(),
                defective: BTreeSet::new(),
                retrain_to_upgrade: BTreeSet::new(),
                audio_cap_hours: DEFAULT_AUDIO_CAP_HOURS,
                strict_sounds_like: false,
                part_of_speech_ja_jp_only: false,
                worse_versions: BTreeSet::new(),
            },
            Profile::IbmCloud => Policy {
                profile,
                withdrawn: catalogue
                    .models
                    .iter()
                    .filter(|m| m.family == Family::PreviousGeneration)
                    .map(|m| m.name.clone())
                    .collect(),
                defective: BTreeSet::new(),
                retrain_to_upgrade: IMPROVED_NEXT_GENERATION
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                audio_cap_hours: DEFAULT_AUDIO_CAP_HOURS,
                strict_sounds_like: true,
                part_of_speech_ja_jp_only: true,
                worse_versions: BTreeSet::new(),
            },
        }
    }

    /// The audio cap in seconds.
    pub fn audio_cap_seconds(&self) -> f64 {
        self.audio_cap_hours * 3600.0
    }

    /// Whether a base model is withdrawn.
    pub fn is_withdrawn(&self, base: &str) -> bool {
        self.withdrawn.contains(base)
    }

    /// Whether custom models on `base` upgrade by a forced retrain only.
    pub fn upgrades_by_retrain(&self, base: &str) -> bool {
        self.retrain_to_upgrade.contains(base)
    }

    /// Whether words of a custom model of this family and language get the strict
    /// `sounds_like` validation.
    pub fn strict_sounds_like_for(&self, family: Family, language: &str) -> bool {
        self.strict_sounds_like
            && family != Family::PreviousGeneration
            && strict_sounds_like_language(language)
    }
}

/// The default `customization_weight` of a custom language model on a base of `family`
/// (`custom.md`, `models-migrate.md`): previous generation 0.3, next generation 0.2 (0.1 on
/// the improved bases), large speech models 0.5.
pub fn default_customization_weight(family: Family, improved: bool) -> f64 {
    match family {
        Family::PreviousGeneration => 0.3,
        Family::NextGeneration if improved => 0.1,
        Family::NextGeneration => 0.2,
        Family::LargeSpeech => 0.5,
    }
}

/// The December 2025 `sounds_like` rule (exact wording UNCONFIRMED): an entry holds letters,
/// spaces, apostrophes, hyphens and periods only. Returns the error text of a bad entry.
pub fn strict_sounds_like_error(entry: &str) -> Option<String> {
    let bad = entry
        .chars()
        .find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '\'' | '-' | '.')))?;
    Some(format!(
        "Sounds-like pronunciations can contain only letters, spaces, apostrophes, hyphens and periods; '{bad}' is not allowed."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_cloud_withdraws_every_previous_generation_model_and_nothing_else() {
        let c = Catalogue::default();
        let p = Policy::new(Profile::IbmCloud, &c);
        assert!(p.is_withdrawn("en-US_BroadbandModel"));
        assert!(p.is_withdrawn("ja-JP_BroadbandModel"));
        assert!(!p.is_withdrawn("en-US_Telephony"));
        assert!(!p.is_withdrawn("en-US"));
        assert!(p.upgrades_by_retrain("en-US_Telephony"));
        assert!(!p.upgrades_by_retrain("de-DE_Telephony"));
        let legacy = Policy::new(Profile::Legacy, &c);
        assert!(legacy.withdrawn.is_empty());
        assert!(!legacy.upgrades_by_retrain("en-US_Telephony"));
        assert!(!legacy.strict_sounds_like_for(Family::NextGeneration, "en-US"));
    }

    #[test]
    fn strict_sounds_like_applies_to_the_listed_languages_and_families() {
        let p = Policy::new(Profile::IbmCloud, &Catalogue::default());
        assert!(p.strict_sounds_like_for(Family::LargeSpeech, "en-US"));
        assert!(p.strict_sounds_like_for(Family::NextGeneration, "es-LA"));
        assert!(!p.strict_sounds_like_for(Family::NextGeneration, "ja-JP"));
        assert!(!p.strict_sounds_like_for(Family::PreviousGeneration, "en-US"));
        assert!(strict_sounds_like_error("tee eye").is_none());
        assert!(strict_sounds_like_error("o'neil-smith jr.").is_none());
        assert!(
            strict_sounds_like_error("I/O")
                .expect("slash")
                .contains("'/' is not allowed")
        );
    }

    #[test]
    fn default_weights_per_family() {
        assert_eq!(
            default_customization_weight(Family::LargeSpeech, false),
            0.5
        );
        assert_eq!(
            default_customization_weight(Family::NextGeneration, true),
            0.1
        );
        assert_eq!(
            default_customization_weight(Family::NextGeneration, false),
            0.2
        );
    }
}
