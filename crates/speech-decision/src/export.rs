//! The export of a model to applications (`spec.export`), pure: what the ConfigMap holds
//! ([`contents`]), whether a ConfigMap found under that name is the resource's own
//! ([`owned_by`]), what to do about it ([`step`]), which ConfigMap written before is now stale
//! ([`stale`]), and the `Exported` condition and Events that follow ([`record`], [`event`]).
//!
//! The rules (issue 13, item 1):
//! - the ConfigMap is written only once the model has a customization ID, and only when its
//!   `data` differs from what it should hold (a write per change, not per reconcile);
//! - it is the resource's own only when an ownerReference with `controller: true` names the
//!   resource's UID; any other ConfigMap of that name is never overwritten (`ConfigMapNotOwned`);
//! - the keys are stable, documented names ([`keys`]) an application can take with `envFrom`;
//!   the service URL loses any user information, query and fragment, so no credential is ever
//!   exported.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;

use super::status::{EventNote, condition, set_condition};
use crate::crd::ModelStatus;

/// Condition type: the ConfigMap named by `spec.export` holds the model's current identifiers.
pub const EXPORTED: &str = "Exported";

/// Condition reason (True): the ConfigMap holds the current identifiers.
pub const REASON_EXPORTED: &str = "Exported";
/// Condition reason (False): the model has no customization ID (or base-model version) yet.
pub const REASON_WAITING: &str = "WaitingForModel";
/// Condition reason (False): a ConfigMap of that name exists and the resource does not own it.
pub const REASON_NOT_OWNED: &str = "ConfigMapNotOwned";
/// Condition reason (False): the Kubernetes API refused or failed a read or write.
pub const REASON_FAILED: &str = "ExportFailed";

/// The label every exported ConfigMap carries (`kubectl get cm -l ...` lists them).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "watson-speech-operator");

/// The keys of an exported ConfigMap: stable names, documented in `docs/crds.md`. A key whose
/// value is unknown is left out rather than written empty.
pub mod keys {
    /// The model's customization ID (all kinds): `language_customization_id` of a recognize
    /// call for a language model, `acoustic_customization_id` for an acoustic model,
    /// `customization_id` of a synthesize call for a voice model.
    pub const CUSTOMIZATION_ID: &str = "customizationId";
    /// The base model (language and acoustic models): the `model` of a recognize call.
    pub const BASE_MODEL_NAME: &str = "baseModelName";
    /// The base-model version the model is on (language and acoustic models, once known): the
    /// `base_model_version` of a recognize call.
    pub const BASE_MODEL_VERSION: &str = "baseModelVersion";
    /// The customization ID of the language model an acoustic model is trained with (acoustic
    /// models with `spec.languageModelRef`): the `language_customization_id` of a recognize call.
    pub const LANGUAGE_CUSTOMIZATION_ID: &str = "languageCustomizationId";
    /// The language of a voice model (e.g. `en-US`): pick a voice of it.
    pub const LANGUAGE: &str = "language";
    /// The SpeechService's URL (the instance's base URL), without credentials.
    pub const SERVICE_URL: &str = "serviceUrl";
}

/// What an acoustic model knows of the language model it is trained with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LanguageModel {
    /// No language model (language and voice models; acoustic models without one).
    None,
    /// Its customization ID.
    Known(String),
    /// It is referenced but not readable now (not Ready, missing): keep what the ConfigMap
    /// holds, so an application never loses the ID while the language model retrains.
    Unknown,
}

/// What an export is made of, read from the spec and the status about to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct Source<'a> {
    pub customization_id: Option<&'a str>,
    pub base_model_name: Option<&'a str>,
    pub base_model_version: Option<&'a str>,
    /// Voice models: `spec.language`.
    pub language: Option<&'a str>,
    pub language_model: &'a LanguageModel,
    /// The SpeechService's `spec.url` as written.
    pub service_url: &'a str,
}

/// The `data` the ConfigMap should hold; `None` while the model has no customization ID or, for
/// a Speech to Text model, while its base-model version is not known yet (the first listing after
/// the create reports it): the ConfigMap is then written once, complete, rather than twice.
/// `found` is the `data` of the resource's own ConfigMap, if any (for [`LanguageModel::Unknown`]).
pub fn contents(
    src: &Source<'_>,
    found: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let id = src.customization_id.filter(|id| !id.is_empty())?;
    if src.base_model_name.is_some() && src.base_model_version.is_none_or(str::is_empty) {
        return None;
    }
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            data.insert(k.to_string(), v.to_string());
        }
    };
    put(keys::CUSTOMIZATION_ID, Some(id));
    put(keys::BASE_MODEL_NAME, src.base_model_name);
    put(keys::BASE_MODEL_VERSION, src.base_model_version);
    put(keys::LANGUAGE, src.language);
    put(keys::SERVICE_URL, Some(&service_url(src.service_url)));
    match src.language_model {
        LanguageModel::None => {}
        LanguageModel::Known(lm) => put(keys::LANGUAGE_CUSTOMIZATION_ID, Some(lm)),
        LanguageModel::Unknown => put(
            keys::LANGUAGE_CUSTOMIZATION_ID,
            found
                .and_then(|f| f.get(keys::LANGUAGE_CUSTOMIZATION_ID))
                .map(String::as_str),
        ),
    }
    Some(data)
}

/// The service URL without user information (`https://user:pass@host`), query or fragment: the
/// ConfigMap is readable by anyone who may read ConfigMaps, so it never carries a credential. A
/// URL that does not parse is dropped entirely (empty), for the same reason.
pub fn service_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return String::new();
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    let s = url.to_string();
    // `Url` adds a `/` to an empty path; keep the URL as the user wrote it otherwise.
    if !raw.ends_with('/') && url.path() == "/" {
        s.trim_end_matches('/').to_string()
    } else {
        s
    }
}

/// Whether a ConfigMap with these ownerReferences is the resource's own: an ownerReference with
/// `controller: true` naming the resource's UID. The name alone is not enough (a resource deleted
/// and created again under the same name has a new UID; its predecessor's ConfigMap waits for the
/// garbage collector).
pub fn owned_by(owners: &[OwnerReference], uid: &str) -> bool {
    owners
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

/// A ConfigMap found under the wanted name.
#[derive(Clone, Debug, PartialEq)]
pub enum Found<'a> {
    /// No ConfigMap of that name.
    Absent,
    /// One exists: its ownerReferences and contents.
    Present {
        owners: &'a [OwnerReference],
        data: Option<&'a BTreeMap<String, String>>,
        /// It has `binaryData` (never written by the operator; an update removes it).
        binary: bool,
    },
}

/// What to do about the wanted ConfigMap.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// No customization ID (or base-model version) yet: write nothing.
    WaitForModel,
    /// Create it with this `data` (and the controller ownerReference).
    Create(BTreeMap<String, String>),
    /// Replace its `data` (it is ours and differs).
    Update(BTreeMap<String, String>),
    /// Ours and current: no write.
    Current,
    /// Someone else's: never overwritten. `owner` names its controller, if any
    /// (`Kind/name`).
    NotOwned { owner: Option<String> },
}

/// What to do, given the resource's UID, the contents it should hold ([`contents`]) and what
/// was found. A foreign ConfigMap is reported even before the model has an ID, so the user can
/// fix the name early.
pub fn step(uid: &str, desired: Option<BTreeMap<String, String>>, found: &Found<'_>) -> Step {
    match found {
        Found::Present { owners, .. } if !owned_by(owners, uid) => Step::NotOwned {
            owner: owners
                .iter()
                .find(|o| o.controller == Some(true))
                .map(|o| format!("{}/{}", o.kind, o.name)),
        },
        _ if desired.is_none() => Step::WaitForModel,
        Found::Absent => Step::Create(desired.unwrap_or_default()),
        Found::Present { data, binary, .. } => {
            let want = desired.unwrap_or_default();
            let empty = BTreeMap::new();
            if !binary && data.unwrap_or(&empty) == &want {
                Step::Current
            } else {
                Step::Update(want)
            }
        }
    }
}

/// The ConfigMap written before that is no longer wanted (`spec.export` renamed or removed):
/// the operator deletes it if it still owns it.
pub fn stale<'a>(recorded: Option<&'a str>, wanted: Option<&str>) -> Option<&'a str> {
    recorded.filter(|r| Some(*r) != wanted)
}

/// How the export went this time, for status.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The wanted ConfigMap holds the current contents; `wrote` when this reconcile wrote it.
    Done { keys: Vec<String>, wrote: bool },
    /// Nothing written yet: no customization ID (or base-model version).
    WaitingForModel,
    /// A ConfigMap of that name belongs to someone else.
    NotOwned { owner: Option<String> },
    /// The Kubernetes API failed (the message says what); retried.
    Failed(String),
}

/// The outcome of a [`Step`] that needed no write.
pub fn outcome_without_write(step: &Step, current: &BTreeMap<String, String>) -> Option<Outcome> {
    match step {
        Step::WaitForModel => Some(Outcome::WaitingForModel),
        Step::Current => Some(Outcome::Done {
            keys: current.keys().cloned().collect(),
            wrote: false,
        }),
        Step::NotOwned { owner } => Some(Outcome::NotOwned {
            owner: owner.clone(),
        }),
        Step::Create(_) | Step::Update(_) => None,
    }
}

/// Records the export in status: the `Exported` condition (removed with `spec.export`) and
/// `exportedConfigMap`, the ConfigMap the operator owns and must delete when it is no longer
/// wanted. `kind` is the resource's kind (for messages); `stale_left` a stale ConfigMap whose
/// deletion failed (kept, to try again); `now` the time of the write (a condition's transition
/// time).
pub fn record(
    st: &mut ModelStatus,
    kind: &str,
    wanted: Option<&str>,
    outcome: Option<&Outcome>,
    stale_left: Option<&str>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let (Some(name), Some(outcome)) = (wanted, outcome) else {
        st.conditions.retain(|c| c.type_ != EXPORTED);
        st.exported_config_map = stale_left.map(str::to_string);
        return;
    };
    let (ok, reason, message) = match outcome {
        Outcome::Done { keys, .. } => (
            true,
            REASON_EXPORTED,
            format!("ConfigMap {name} holds {}", keys.join(", ")),
        ),
        Outcome::WaitingForModel => (
            false,
            REASON_WAITING,
            format!(
                "ConfigMap {name} is written once the model has a customization ID (and a base-model version)"
            ),
        ),
        Outcome::NotOwned { owner } => (
            false,
            REASON_NOT_OWNED,
            format!(
                "ConfigMap {name} already exists and is not owned by this {kind}{}: the operator never overwrites it; delete that ConfigMap or set spec.export.configMapName to another name",
                owner
                    .as_deref()
                    .map(|o| format!(" (its controller is {o})"))
                    .unwrap_or_default()
            ),
        ),
        Outcome::Failed(m) => (
            false,
            REASON_FAILED,
            format!("cannot write ConfigMap {name}: {m}; retrying"),
        ),
    };
    set_condition(
        &mut st.conditions,
        EXPORTED,
        ok,
        reason,
        message,
        generation,
        now,
    );
    // The ConfigMap to delete when no longer wanted: the wanted one once written (or kept while
    // it was ours), else a stale one still to delete.
    let ours_before = st.exported_config_map.as_deref() == Some(name);
    st.exported_config_map = match outcome {
        Outcome::Done { .. } => Some(name.to_string()),
        Outcome::Failed(_) if ours_before => Some(name.to_string()),
        _ => stale_left.map(str::to_string),
    };
}

/// The Event for an export: Normal `Exported` for each write (one per change of content),
/// Warning with the condition's reason when it turns to `ConfigMapNotOwned` or `ExportFailed` or
/// its message changes.
pub fn event(
    prev: &ModelStatus,
    next: &ModelStatus,
    outcome: Option<&Outcome>,
) -> Option<EventNote> {
    let now = condition(&next.conditions, EXPORTED)?;
    if let Some(Outcome::Done { wrote: true, keys }) = outcome {
        return Some(EventNote {
            warning: false,
            reason: REASON_EXPORTED.to_string(),
            message: format!(
                "wrote ConfigMap {}: {}",
                next.exported_config_map.as_deref().unwrap_or_default(),
                keys.join(", ")
            ),
        });
    }
    let before = condition(&prev.conditions, EXPORTED);
    let changed = before.is_none_or(|b| b.reason != now.reason || b.message != now.message);
    (changed && [REASON_NOT_OWNED, REASON_FAILED].contains(&now.reason.as_str())).then(|| {
        EventNote {
            warning: true,
            reason: now.reason.clone(),
            message: now.message.clone(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time of every status write in these tests.
    const T0: Timestamp = Timestamp::UNIX_EPOCH;

    fn owner(uid: &str, controller: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "speech.watson.dev/v1alpha1".into(),
            kind: "CustomLanguageModel".into(),
            name: "helpdesk".into(),
            uid: uid.into(),
            controller,
            block_owner_deletion: None,
        }
    }

    type Data = BTreeMap<String, String>;

    fn map(pairs: &[(&str, &str)]) -> Data {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const URL: &str = "https://api.us-south.speech-to-text.watson.cloud.ibm.com/instances/abc";

    fn language<'a>(lm: &'a LanguageModel) -> Source<'a> {
        Source {
            customization_id: Some("id-1"),
            base_model_name: Some("en-US_BroadbandModel"),
            base_model_version: Some("en-US_BroadbandModel.v2020-01-16"),
            language: None,
            language_model: lm,
            service_url: URL,
        }
    }

    /// One fixture per kind; each case a change of it and the exact `data`.
    #[test]
    fn contents_per_kind_and_state() {
        let none = LanguageModel::None;
        let known = LanguageModel::Known("lm-1".into());
        let unknown = LanguageModel::Unknown;
        let found = map(&[("languageCustomizationId", "lm-old")]);
        let cases: Vec<(&str, Source<'_>, Option<&Data>, Option<Data>)> = vec![
            (
                "language model",
                language(&none),
                None,
                Some(map(&[
                    ("customizationId", "id-1"),
                    ("baseModelName", "en-US_BroadbandModel"),
                    ("baseModelVersion", "en-US_BroadbandModel.v2020-01-16"),
                    ("serviceUrl", URL),
                ])),
            ),
            (
                "no customization ID yet",
                Source {
                    customization_id: None,
                    ..language(&none)
                },
                None,
                None,
            ),
            (
                "an empty ID is none",
                Source {
                    customization_id: Some(""),
                    ..language(&none)
                },
                None,
                None,
            ),
            (
                "version not known yet (right after the create): not yet",
                Source {
                    base_model_version: None,
                    ..language(&none)
                },
                None,
                None,
            ),
            (
                "acoustic with its language model",
                language(&known),
                Some(&found),
                Some(map(&[
                    ("customizationId", "id-1"),
                    ("baseModelName", "en-US_BroadbandModel"),
                    ("baseModelVersion", "en-US_BroadbandModel.v2020-01-16"),
                    ("languageCustomizationId", "lm-1"),
                    ("serviceUrl", URL),
                ])),
            ),
            (
                "acoustic, language model not readable: the exported ID is kept",
                language(&unknown),
                Some(&found),
                Some(map(&[
                    ("customizationId", "id-1"),
                    ("baseModelName", "en-US_BroadbandModel"),
                    ("baseModelVersion", "en-US_BroadbandModel.v2020-01-16"),
                    ("languageCustomizationId", "lm-old"),
                    ("serviceUrl", URL),
                ])),
            ),
            (
                "acoustic, language model not readable, nothing exported before",
                language(&unknown),
                None,
                Some(map(&[
                    ("customizationId", "id-1"),
                    ("baseModelName", "en-US_BroadbandModel"),
                    ("baseModelVersion", "en-US_BroadbandModel.v2020-01-16"),
                    ("serviceUrl", URL),
                ])),
            ),
            (
                "voice model",
                Source {
                    customization_id: Some("v-1"),
                    base_model_name: None,
                    base_model_version: None,
                    language: Some("en-US"),
                    language_model: &none,
                    service_url: "https://api.eu-de.text-to-speech.watson.cloud.ibm.com/instances/x",
                },
                None,
                Some(map(&[
                    ("customizationId", "v-1"),
                    ("language", "en-US"),
                    (
                        "serviceUrl",
                        "https://api.eu-de.text-to-speech.watson.cloud.ibm.com/instances/x",
                    ),
                ])),
            ),
        ];
        for (name, src, found, want) in cases {
            assert_eq!(contents(&src, found), want, "{name}");
        }
    }

    #[test]
    fn the_service_url_never_carries_a_credential() {
        for (raw, want) in [
            (URL, URL),
            (
                "http://127.0.0.1:8089/speech-to-text",
                "http://127.0.0.1:8089/speech-to-text",
            ),
            (
                "https://apikey:s3cret@host.example/instances/1",
                "https://host.example/instances/1",
            ),
            (
                "https://host.example/instances/1?token=abc#f",
                "https://host.example/instances/1",
            ),
            ("https://host.example/", "https://host.example/"),
            ("https://host.example", "https://host.example"),
            ("not a url", ""),
        ] {
            assert_eq!(service_url(raw), want, "{raw}");
        }
    }

    #[test]
    fn only_a_controller_reference_with_our_uid_is_ours() {
        assert!(owned_by(&[owner("u1", Some(true))], "u1"));
        assert!(owned_by(&[owner("x", None), owner("u1", Some(true))], "u1"));
        assert!(!owned_by(&[owner("u1", None)], "u1"), "not the controller");
        assert!(!owned_by(&[owner("u1", Some(false))], "u1"));
        assert!(
            !owned_by(&[owner("u0", Some(true))], "u1"),
            "a predecessor of the same name"
        );
        assert!(!owned_by(&[], "u1"), "made by hand");
    }

    #[test]
    fn steps() {
        let want = map(&[("customizationId", "id-1")]);
        let ours = [owner("u1", Some(true))];
        let theirs = [OwnerReference {
            kind: "Deployment".into(),
            name: "web".into(),
            ..owner("u9", Some(true))
        }];
        let other = map(&[("customizationId", "id-0")]);
        let present = |owners, data, binary| Found::Present {
            owners,
            data,
            binary,
        };
        let cases: Vec<(&str, Option<Data>, Found<'_>, Step)> = vec![
            (
                "absent: create",
                Some(want.clone()),
                Found::Absent,
                Step::Create(want.clone()),
            ),
            (
                "ours and equal: no write",
                Some(want.clone()),
                present(&ours, Some(&want), false),
                Step::Current,
            ),
            (
                "ours, edited: restore",
                Some(want.clone()),
                present(&ours, Some(&other), false),
                Step::Update(want.clone()),
            ),
            (
                "ours, emptied: restore",
                Some(want.clone()),
                present(&ours, None, false),
                Step::Update(want.clone()),
            ),
            (
                "ours with binaryData added: restore",
                Some(want.clone()),
                present(&ours, Some(&want), true),
                Step::Update(want.clone()),
            ),
            ("no ID yet", None, Found::Absent, Step::WaitForModel),
            (
                "no ID yet, ours",
                None,
                present(&ours, Some(&other), false),
                Step::WaitForModel,
            ),
            (
                "made by hand",
                Some(want.clone()),
                present(&[], Some(&want), false),
                Step::NotOwned { owner: None },
            ),
            (
                "someone else's controller, even before the ID",
                None,
                present(&theirs, None, false),
                Step::NotOwned {
                    owner: Some("Deployment/web".into()),
                },
            ),
        ];
        for (name, desired, found, expected) in cases {
            assert_eq!(step("u1", desired, &found), expected, "{name}");
        }
    }

    #[test]
    fn a_renamed_or_removed_export_leaves_the_old_configmap_stale() {
        assert_eq!(stale(Some("a"), Some("b")), Some("a"));
        assert_eq!(stale(Some("a"), None), Some("a"));
        assert_eq!(stale(Some("a"), Some("a")), None);
        assert_eq!(stale(None, Some("a")), None);
    }

    fn exported(st: &ModelStatus) -> Option<(String, String, String)> {
        condition(&st.conditions, EXPORTED)
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    }

    #[test]
    fn status_and_events_per_outcome() {
        let kind = "CustomLanguageModel";
        let done = Outcome::Done {
            keys: vec!["customizationId".into(), "serviceUrl".into()],
            wrote: true,
        };
        let mut st = ModelStatus::default();
        record(
            &mut st,
            kind,
            Some("cm"),
            Some(&Outcome::WaitingForModel),
            None,
            Some(1),
            T0,
        );
        assert_eq!(
            exported(&st),
            Some((
                "False".into(),
                "WaitingForModel".into(),
                "ConfigMap cm is written once the model has a customization ID (and a base-model version)".into()
            ))
        );
        assert_eq!(st.exported_config_map, None);
        assert_eq!(
            event(
                &ModelStatus::default(),
                &st,
                Some(&Outcome::WaitingForModel)
            ),
            None
        );

        let before = st.clone();
        record(&mut st, kind, Some("cm"), Some(&done), None, Some(1), T0);
        assert_eq!(
            exported(&st),
            Some((
                "True".into(),
                "Exported".into(),
                "ConfigMap cm holds customizationId, serviceUrl".into()
            ))
        );
        assert_eq!(st.exported_config_map.as_deref(), Some("cm"));
        assert_eq!(
            event(&before, &st, Some(&done)),
            Some(EventNote {
                warning: false,
                reason: "Exported".into(),
                message: "wrote ConfigMap cm: customizationId, serviceUrl".into()
            })
        );
        // Current: no write, no Event, nothing changes.
        let current = Outcome::Done {
            keys: vec!["customizationId".into(), "serviceUrl".into()],
            wrote: false,
        };
        let before = st.clone();
        record(&mut st, kind, Some("cm"), Some(&current), None, Some(1), T0);
        assert_eq!(st, before);
        assert_eq!(event(&before, &st, Some(&current)), None);

        // A transient failure keeps the ConfigMap recorded as ours; one Warning per message.
        let failed = Outcome::Failed("Kubernetes API: 503".into());
        record(&mut st, kind, Some("cm"), Some(&failed), None, Some(1), T0);
        assert_eq!(st.exported_config_map.as_deref(), Some("cm"));
        let note = event(&before, &st, Some(&failed)).expect("warning");
        assert!(note.warning && note.reason == "ExportFailed", "{note:?}");
        assert_eq!(
            event(&st.clone(), &st, Some(&failed)),
            None,
            "once per message"
        );

        // Renamed to a foreign ConfigMap: the old one was deleted, the new one is refused.
        let foreign = Outcome::NotOwned {
            owner: Some("Deployment/web".into()),
        };
        let before = st.clone();
        record(
            &mut st,
            kind,
            Some("theirs"),
            Some(&foreign),
            None,
            Some(2),
            T0,
        );
        assert_eq!(
            exported(&st),
            Some((
                "False".into(),
                "ConfigMapNotOwned".into(),
                "ConfigMap theirs already exists and is not owned by this CustomLanguageModel (its controller is Deployment/web): the operator never overwrites it; delete that ConfigMap or set spec.export.configMapName to another name".into()
            ))
        );
        assert_eq!(st.exported_config_map, None);
        let note = event(&before, &st, Some(&foreign)).expect("warning");
        assert_eq!(
            (note.warning, note.reason.as_str()),
            (true, "ConfigMapNotOwned")
        );
        assert_eq!(event(&st.clone(), &st, Some(&foreign)), None, "once");

        // A stale ConfigMap whose deletion failed stays recorded, to be deleted later.
        record(
            &mut st,
            kind,
            Some("theirs"),
            Some(&foreign),
            Some("cm"),
            Some(2),
            T0,
        );
        assert_eq!(st.exported_config_map.as_deref(), Some("cm"));

        // spec.export removed: the condition goes.
        record(&mut st, kind, None, None, None, Some(3), T0);
        assert_eq!(exported(&st), None);
        assert_eq!(st.exported_config_map, None);
    }
}
