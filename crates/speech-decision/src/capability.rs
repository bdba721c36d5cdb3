//! What a base model can do, and the refusals made before any write when the spec asks for more
//! (issue 27, point 2; `watson-api.md` §17).
//!
//! The service tells what a base model supports (`GET /v1/models/{id}`, `supported_features`);
//! the shell caches that per SpeechService and calls [`check`] before it creates a model or adds
//! data. The family a base model belongs to follows from its name alone ([`Family::of`]), which
//! is what the CRDs' CEL rules use where the name decides (a large speech model takes no
//! grammars).

use crate::ModelKind;

/// The generation of a base model, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `*_BroadbandModel`, `*_NarrowbandModel`: discontinued on IBM Cloud on 1 August 2023; the
    /// only family that ever supported acoustic customization.
    PreviousGeneration,
    /// `*_Telephony`, `*_Multimedia` and the like: language models and grammars.
    NextGeneration,
    /// The bare locale (`en-US`, `ja-JP`): language models without grammars; IBM's main line.
    LargeSpeech,
}

impl Family {
    /// The family a base model name belongs to.
    pub fn of(base_model_name: &str) -> Self {
        if base_model_name.ends_with("BroadbandModel")
            || base_model_name.ends_with("NarrowbandModel")
        {
            Family::PreviousGeneration
        } else if base_model_name.contains('_') {
            Family::NextGeneration
        } else {
            Family::LargeSpeech
        }
    }
}

/// `supported_features` of a base model, as the service reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub custom_language_model: bool,
    pub custom_acoustic_model: bool,
}

/// What the spec asks of the base model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked<'a> {
    pub kind: ModelKind,
    /// `spec.baseModelName`.
    pub base_model_name: &'a str,
    /// The features the service reports; `None`: the service does not offer the base model
    /// (unknown, or withdrawn as the previous-generation models were).
    pub features: Option<Features>,
    /// Names of the grammars in the spec.
    pub grammars: Vec<&'a str>,
}

/// The refusal of a spec the base model cannot serve: the field, a reason for the condition and
/// a message naming both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The field at fault (`spec.baseModelName`, `spec.grammars`).
    pub field: &'static str,
    /// CamelCase reason (`BaseModelNotOffered`, `NoAcousticCustomization`, ...).
    pub reason: &'static str,
    pub message: String,
}

/// The migration advice of `models-migrate.md`: a large speech model first.
fn migration_hint(base: &str) -> String {
    let locale = base.split('_').next().unwrap_or(base);
    format!(
        "a large speech model ({locale}) or a next-generation model ({locale}_Telephony, {locale}_Multimedia)"
    )
}

/// Refuses a spec the base model cannot serve, before any write. Voice models are not checked
/// here (their rules are in the CRD).
pub fn check(a: &Asked<'_>) -> Result<(), Refusal> {
    if a.kind == ModelKind::Voice {
        return Ok(());
    }
    let base = a.base_model_name;
    let Some(features) = a.features else {
        let why = if Family::of(base) == Family::PreviousGeneration {
            "previous-generation models were discontinued (IBM Cloud: 1 August 2023)"
        } else {
            "it is unknown or withdrawn"
        };
        return Err(Refusal {
            field: "spec.baseModelName",
            reason: "BaseModelNotOffered",
            message: format!(
                "spec.baseModelName: the service does not offer base model {base} ({why}); use {}",
                migration_hint(base)
            ),
        });
    };
    match a.kind {
        ModelKind::Acoustic if !features.custom_acoustic_model => Err(Refusal {
            field: "spec.baseModelName",
            reason: "NoAcousticCustomization",
            message: format!(
                "spec.baseModelName: base model {base} does not support acoustic customization (supported_features.custom_acoustic_model is false); only previous-generation models did, and IBM Cloud withdrew them: use a custom language model instead"
            ),
        }),
        ModelKind::Language if !features.custom_language_model => Err(Refusal {
            field: "spec.baseModelName",
            reason: "NoLanguageCustomization",
            message: format!(
                "spec.baseModelName: base model {base} does not support language model customization (supported_features.custom_language_model is false)"
            ),
        }),
        ModelKind::Language
            if Family::of(base) == Family::LargeSpeech && !a.grammars.is_empty() =>
        {
            Err(Refusal {
                field: "spec.grammars",
                reason: "GrammarsNotSupported",
                message: format!(
                    "spec.grammars: base model {base} is a large speech model, which does not support grammars ({}); remove them or use a next-generation base model such as {base}_Telephony",
                    a.grammars.join(", ")
                ),
            })
        }
        _ => Ok(()),
    }
}

/// Locales with a large speech model (IBM's release notes, GA English May 2024 to it-IT May
/// 2026).
pub const LARGE_SPEECH_LOCALES: &[&str] = &[
    "en-US", "en-GB", "en-AU", "en-IN", "es-ES", "es-LA", "es-MX", "es-AR", "es-CL", "es-CO",
    "es-PE", "pt-BR", "pt-PT", "de-DE", "fr-FR", "fr-CA", "ja-JP", "nl-NL", "it-IT",
];

/// The lifecycle state of a base model, from its name (`watson-api.md` §17): the condition
/// `BaseModelCurrent` and the metric `wso_models_by_base_model{state}` use its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// IBM's main line for the locale (a large speech model, or a next-generation model where
    /// no large speech model exists).
    Current,
    /// IBM recommends another family: a next-generation model whose locale has a large speech
    /// model (`models-migrate.md`).
    NewerFamilyRecommended,
    /// Discontinued: the previous-generation models (IBM Cloud 1 August 2023).
    Withdrawn,
}

impl Lifecycle {
    /// The condition reason and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Current => "Current",
            Lifecycle::NewerFamilyRecommended => "NewerFamilyRecommended",
            Lifecycle::Withdrawn => "Withdrawn",
        }
    }
}

/// Every lifecycle state, for zero-filled metrics.
pub const LIFECYCLE_STATES: &[Lifecycle] = &[
    Lifecycle::Current,
    Lifecycle::NewerFamilyRecommended,
    Lifecycle::Withdrawn,
];

/// The lifecycle of base model `base` and the message naming the migration.
pub fn lifecycle(base: &str) -> (Lifecycle, String) {
    let locale = base.split('_').next().unwrap_or(base);
    let has_lsm = LARGE_SPEECH_LOCALES.contains(&locale);
    match Family::of(base) {
        Family::PreviousGeneration => (
            Lifecycle::Withdrawn,
            format!(
                "base model {base} was discontinued by IBM (IBM Cloud: 1 August 2023; Cloud Pak for Data: 31 July 2023); migrate to {} (docs/operations.md, \"Migrating to a large speech model\")",
                if has_lsm {
                    format!("the large speech model {locale}")
                } else {
                    format!("a next-generation model ({locale}_Telephony or {locale}_Multimedia)")
                }
            ),
        ),
        Family::NextGeneration if has_lsm => (
            Lifecycle::NewerFamilyRecommended,
            format!(
                "IBM recommends the large speech model {locale} over {base} (models-migrate.md); migrate when grammars are not needed (docs/operations.md, \"Migrating to a large speech model\")"
            ),
        ),
        _ => (Lifecycle::Current, format!("base model {base} is current")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LM: Features = Features {
        custom_language_model: true,
        custom_acoustic_model: false,
    };
    const PG: Features = Features {
        custom_language_model: true,
        custom_acoustic_model: true,
    };

    fn asked(
        kind: ModelKind,
        base: &str,
        features: Option<Features>,
        grammars: &[&'static str],
    ) -> Asked<'static> {
        Asked {
            kind,
            base_model_name: Box::leak(base.to_owned().into_boxed_str()),
            features,
            grammars: grammars.to_vec(),
        }
    }

    #[test]
    fn families_follow_from_the_name() {
        assert_eq!(
            Family::of("en-US_BroadbandModel"),
            Family::PreviousGeneration
        );
        assert_eq!(
            Family::of("en-US_ShortForm_NarrowbandModel"),
            Family::PreviousGeneration
        );
        assert_eq!(Family::of("en-US_Telephony"), Family::NextGeneration);
        assert_eq!(
            Family::of("en-WW_Medical_Telephony"),
            Family::NextGeneration
        );
        assert_eq!(Family::of("en-US"), Family::LargeSpeech);
    }

    #[test]
    fn lifecycles_name_the_migration() {
        let (l, m) = lifecycle("en-US_BroadbandModel");
        assert_eq!(l, Lifecycle::Withdrawn);
        assert!(m.contains("large speech model en-US"), "{m}");
        let (l, m) = lifecycle("ar-MS_BroadbandModel");
        assert_eq!(l, Lifecycle::Withdrawn);
        assert!(m.contains("ar-MS_Telephony"), "{m}");
        let (l, m) = lifecycle("en-US_Telephony");
        assert_eq!(l, Lifecycle::NewerFamilyRecommended);
        assert!(m.contains("large speech model en-US"), "{m}");
        assert_eq!(lifecycle("en-WW_Medical_Telephony").0, Lifecycle::Current);
        assert_eq!(lifecycle("en-US").0, Lifecycle::Current);
    }

    #[test]
    fn the_table() {
        use ModelKind::*;
        let cases: &[(Asked<'static>, Option<(&str, &str)>)] = &[
            (asked(Language, "en-US", Some(LM), &[]), None),
            (asked(Language, "en-US_Telephony", Some(LM), &["g"]), None),
            (asked(Acoustic, "en-US_BroadbandModel", Some(PG), &[]), None),
            (
                asked(Language, "en-US", Some(LM), &["yesno"]),
                Some(("spec.grammars", "GrammarsNotSupported")),
            ),
            (
                asked(Acoustic, "en-US", Some(LM), &[]),
                Some(("spec.baseModelName", "NoAcousticCustomization")),
            ),
            (
                asked(Acoustic, "en-US_Telephony", Some(LM), &[]),
                Some(("spec.baseModelName", "NoAcousticCustomization")),
            ),
            (
                asked(
                    Language,
                    "ar-MS_BroadbandModel",
                    Some(Features::default()),
                    &[],
                ),
                Some(("spec.baseModelName", "NoLanguageCustomization")),
            ),
            (
                asked(Language, "en-US_BroadbandModel", None, &[]),
                Some(("spec.baseModelName", "BaseModelNotOffered")),
            ),
            (asked(Voice, "", None, &[]), None),
        ];
        for (a, want) in cases {
            let got = check(a).err();
            assert_eq!(
                got.as_ref().map(|r| (r.field, r.reason)),
                *want,
                "{a:?}: {got:?}"
            );
            if let Some(r) = got {
                assert!(r.message.starts_with(r.field), "{}", r.message);
                assert!(r.message.contains(a.base_model_name), "{}", r.message);
            }
        }
        let withdrawn =
            check(&asked(Language, "en-US_BroadbandModel", None, &[])).expect_err("refused");
        assert!(
            withdrawn.message.contains("discontinued")
                && withdrawn.message.contains("en-US_Telephony"),
            "{}",
            withdrawn.message
        );
    }
}
