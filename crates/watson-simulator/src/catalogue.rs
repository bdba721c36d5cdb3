//! The base-model catalogue (`GET /v1/models`): previous-generation, next-generation and large
//! speech models, each with its list of versions (`{name}.vYYYY-MM-DD`, oldest first). The
//! admin API can publish new versions, which is what drives upgrades.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The generation a base model belongs to; it decides what customization it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// `*_BroadbandModel` / `*_NarrowbandModel`: LM (mostly) and AM customization, OOV words.
    PreviousGeneration,
    /// `*_Telephony` / `*_Multimedia`: LM customization and grammars, no AM, no OOV words.
    NextGeneration,
    /// The locale itself (`en-US`): LM customization without grammars, no AM.
    LargeSpeech,
}

/// One base model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaseModel {
    pub name: String,
    pub language: String,
    pub rate: u32,
    pub description: String,
    pub family: Family,
    pub custom_language_model: bool,
    pub custom_acoustic_model: bool,
    /// Oldest first; never empty.
    pub versions: Vec<String>,
}

impl BaseModel {
    /// The newest version string.
    pub fn newest_version(&self) -> &str {
        self.versions.last().map(String::as_str).unwrap_or_default()
    }

    /// The dialect a custom LM gets when none is given (Spanish previous-gen models map to
    /// `es-ES`, `es-LA` or `es-US`; everything else to the language).
    pub fn default_dialect(&self) -> String {
        if self.family == Family::PreviousGeneration && self.language.starts_with("es-") {
            match self.language.as_str() {
                "es-ES" => "es-ES",
                "es-MX" => "es-US",
                _ => "es-LA",
            }
            .to_owned()
        } else {
            self.language.clone()
        }
    }

    /// Whether grammars can be added to LMs on this model (not on large speech models).
    pub fn supports_grammars(&self) -> bool {
        self.family != Family::LargeSpeech
    }

    /// Whether corpora produce out-of-vocabulary words (previous generation only).
    pub fn extracts_oov_words(&self) -> bool {
        self.family == Family::PreviousGeneration
    }

    /// The `SpeechModel` JSON, with `url` under the given STT service URL.
    pub fn to_json(&self, service_url: &str) -> Value {
        let mut features = json!({
            "custom_language_model": self.custom_language_model,
            "custom_acoustic_model": self.custom_acoustic_model,
            "speaker_labels": true,
        });
        if self.family != Family::PreviousGeneration {
            features["low_latency"] = json!(self.family == Family::NextGeneration);
        }
        json!({
            "name": self.name,
            "language": self.language,
            "rate": self.rate,
            "url": format!("{service_url}/v1/models/{}", self.name),
            "description": self.description,
            "supported_features": features,
        })
    }
}

/// The set of base models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    pub models: Vec<BaseModel>,
}

impl Catalogue {
    /// Finds a model by exact name.
    pub fn get(&self, name: &str) -> Option<&BaseModel> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Publishes a new version of `name`. `version` defaults to one day after the newest.
    /// Returns the version string, or `None` for an unknown model. A version that is not
    /// newer than the newest is refused with `Err`.
    pub fn publish(&mut self, name: &str, version: Option<&str>) -> Option<Result<String, String>> {
        let model = self.models.iter_mut().find(|m| m.name == name)?;
        let newest = model.newest_version().to_owned();
        let version = match version {
            Some(v) => v.to_owned(),
            None => match next_day_version(&model.name, &newest) {
                Some(v) => v,
                None => return Some(Err(format!("cannot derive a version after {newest}"))),
            },
        };
        let prefix = format!("{}.v", model.name);
        if !version.starts_with(&prefix) {
            return Some(Err(format!("version must start with '{prefix}'")));
        }
        if version <= newest {
            return Some(Err(format!("version must be newer than {newest}")));
        }
        model.versions.push(version.clone());
        Some(Ok(version))
    }
}

fn next_day_version(name: &str, newest: &str) -> Option<String> {
    let date = newest.rsplit(".v").next()?;
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let next = d.succ_opt()?;
    Some(format!("{name}.v{}", next.format("%Y-%m-%d")))
}

impl Default for Catalogue {
    fn default() -> Self {
        let mut models = Vec::new();
        let mut add = |name: &str,
                       language: &str,
                       rate: u32,
                       description: &str,
                       family: Family,
                       lm: bool,
                       dates: &[&str]| {
            models.push(BaseModel {
                name: name.to_owned(),
                language: language.to_owned(),
                rate,
                description: description.to_owned(),
                family,
                custom_language_model: lm,
                custom_acoustic_model: family == Family::PreviousGeneration,
                versions: dates.iter().map(|d| format!("{name}.v{d}")).collect(),
            });
        };
        use Family::*;
        let pg = &["2018-07-31", "2020-01-16"];
        add(
            "en-US_BroadbandModel",
            "en-US",
            16000,
            "US English broadband model.",
            PreviousGeneration,
            true,
            pg,
        );
        add(
            "en-US_NarrowbandModel",
            "en-US",
            8000,
            "US English narrowband model.",
            PreviousGeneration,
            true,
            pg,
        );
        add(
            "en-US_ShortForm_NarrowbandModel",
            "en-US",
            8000,
            "US English short-form narrowband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "en-GB_BroadbandModel",
            "en-GB",
            16000,
            "GB English broadband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "en-GB_NarrowbandModel",
            "en-GB",
            8000,
            "GB English narrowband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "de-DE_BroadbandModel",
            "de-DE",
            16000,
            "German broadband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "fr-FR_BroadbandModel",
            "fr-FR",
            16000,
            "French broadband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "es-ES_BroadbandModel",
            "es-ES",
            16000,
            "Castilian Spanish broadband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "es-MX_NarrowbandModel",
            "es-MX",
            8000,
            "Mexican Spanish narrowband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "es-AR_BroadbandModel",
            "es-AR",
            16000,
            "Argentinian Spanish broadband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "ja-JP_BroadbandModel",
            "ja-JP",
            16000,
            "Japanese broadband model.",
            PreviousGeneration,
            true,
            &["2020-01-16"],
        );
        add(
            "zh-CN_BroadbandModel",
            "zh-CN",
            16000,
            "Mandarin broadband model.",
            PreviousGeneration,
            false,
            &["2020-01-16"],
        );
        add(
            "ar-MS_BroadbandModel",
            "ar-MS",
            16000,
            "Modern Standard Arabic broadband model.",
            PreviousGeneration,
            false,
            &["2020-01-16"],
        );
        add(
            "en-US_Telephony",
            "en-US",
            8000,
            "US English telephony model for narrowband audio (8 kHz).",
            NextGeneration,
            true,
            &["2021-10-04"],
        );
        add(
            "en-US_Multimedia",
            "en-US",
            16000,
            "US English multimedia model for broadband audio (16 kHz).",
            NextGeneration,
            true,
            &["2021-03-03"],
        );
        add(
            "en-GB_Telephony",
            "en-GB",
            8000,
            "UK English telephony model for narrowband audio (8 kHz).",
            NextGeneration,
            true,
            &["2021-10-04"],
        );
        add(
            "en-GB_Multimedia",
            "en-GB",
            16000,
            "UK English multimedia model for broadband audio (16 kHz).",
            NextGeneration,
            true,
            &["2021-03-03"],
        );
        add(
            "de-DE_Telephony",
            "de-DE",
            8000,
            "German telephony model for narrowband audio (8 kHz).",
            NextGeneration,
            true,
            &["2021-10-04"],
        );
        add(
            "fr-FR_Multimedia",
            "fr-FR",
            16000,
            "French multimedia model for broadband audio (16 kHz).",
            NextGeneration,
            true,
            &["2021-03-03"],
        );
        add(
            "ja-JP_Multimedia",
            "ja-JP",
            16000,
            "Japanese multimedia model for broadband audio (16 kHz).",
            NextGeneration,
            true,
            &["2021-03-03"],
        );
        add(
            "es-LA_Telephony",
            "es-LA",
            8000,
            "Latin American Spanish telephony model for narrowband audio (8 kHz).",
            NextGeneration,
            true,
            &["2021-10-04"],
        );
        add(
            "en-WW_Medical_Telephony",
            "en-WW",
            8000,
            "English medical telephony model for narrowband audio (8 kHz).",
            NextGeneration,
            true,
            &["2022-04-08"],
        );
        for (locale, desc) in [
            ("en-US", "US English large speech model."),
            ("en-GB", "UK English large speech model."),
            ("de-DE", "German large speech model."),
            ("fr-FR", "French large speech model."),
            ("ja-JP", "Japanese large speech model."),
            ("es-ES", "Castilian Spanish large speech model."),
            ("pt-BR", "Brazilian Portuguese large speech model."),
        ] {
            add(
                locale,
                locale,
                8000,
                desc,
                LargeSpeech,
                true,
                &["2024-05-01"],
            );
        }
        Catalogue { models }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_the_documented_capabilities() {
        let c = Catalogue::default();
        let bb = c.get("en-US_BroadbandModel").expect("bb");
        assert_eq!(bb.rate, 16000);
        assert!(bb.custom_acoustic_model);
        assert_eq!(c.get("en-US_NarrowbandModel").expect("nb").rate, 8000);
        assert!(!c.get("en-US_Telephony").expect("ng").custom_acoustic_model);
        assert!(!c.get("en-US").expect("lsm").supports_grammars());
        assert_eq!(bb.newest_version(), "en-US_BroadbandModel.v2020-01-16");
        assert_eq!(
            c.get("es-MX_NarrowbandModel")
                .expect("mx")
                .default_dialect(),
            "es-US"
        );
    }

    #[test]
    fn publish_defaults_to_the_next_day_and_refuses_older_versions() {
        let mut c = Catalogue::default();
        let v = c
            .publish("en-US_BroadbandModel", None)
            .expect("known")
            .expect("ok");
        assert_eq!(v, "en-US_BroadbandModel.v2020-01-17");
        assert!(
            c.publish(
                "en-US_BroadbandModel",
                Some("en-US_BroadbandModel.v2019-01-01")
            )
            .expect("known")
            .is_err()
        );
        assert!(c.publish("nope", None).is_none());
    }
}
