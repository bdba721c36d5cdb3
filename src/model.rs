//! One trait over the three model kinds: typed access to the spec fields the operator reads and to
//! the recorded status, and the typed status built from a decision. No JSON round trips.

use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crd::acoustic_model::{CustomAcousticModelStatus, TrainedWith};
use crate::crd::language_model::CustomLanguageModelStatus;
use crate::crd::voice_model::CustomVoiceModelStatus;
use crate::crd::{
    CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, DeletionPolicy, ModelStatus,
    ResourceServiceStatus, ResourceStatus,
};
use crate::decision::ModelKind;
use crate::decision::status::{Previous, ResourceClass, StatusUpdate, TrackedResource};

/// A custom model resource of any kind.
pub trait ModelResource:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind, for the decision.
    const KIND: ModelKind;
    /// The kind's typed status.
    type Status: Serialize + Clone + PartialEq + Default + Send + Sync;

    /// The kind's status, if any.
    fn status(&self) -> Option<&Self::Status>;
    /// The status fields shared by every kind.
    fn model_status(&self) -> Option<&ModelStatus>;
    /// `spec.serviceRef.name`.
    fn service_name(&self) -> &str;
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `spec.deletionPolicy`.
    fn deletion_policy(&self) -> DeletionPolicy;
    /// `spec.customizationId`: a model to adopt.
    fn adopt_id(&self) -> Option<&str>;
    /// `spec.managementPolicy` is `ObserveOnly`: read and report, never write to the service.
    fn observe_only(&self) -> bool;
    /// `spec.baseModelName` (STT kinds; voice models have a language instead).
    fn base_model_name(&self) -> Option<&str>;
    /// `spec.modelName`.
    fn model_name(&self) -> Option<&str>;
    /// `spec.description`.
    fn description(&self) -> Option<&str>;
    /// `spec.export.configMapName`: the ConfigMap that hands the model to applications.
    fn export_config_map(&self) -> Option<&str>;
    /// The language of a voice model (`spec.language`); `None` for the STT kinds.
    fn language(&self) -> Option<&str> {
        None
    }
    /// The per-resource statuses recorded (corpora and grammars, or audio), with their class.
    fn recorded_resources(&self) -> Vec<TrackedResource>;
    /// The recorded count of custom words on the service.
    fn recorded_word_count(&self) -> Option<i64>;
    /// The recorded digest of the custom words on the service (language models only).
    fn recorded_words_digest(&self) -> Option<String> {
        None
    }
    /// The recorded `status.trainedWithLanguageModel` (acoustic models only).
    fn recorded_trained_with(&self) -> Option<TrainedWith> {
        None
    }
    /// The typed status for a decision's update.
    fn status_from(&self, update: &StatusUpdate) -> Self::Status;

    /// What the decision needs of the recorded status.
    fn previous(&self) -> Previous {
        Previous {
            model: self.model_status().cloned().unwrap_or_default(),
            resources: self.recorded_resources(),
            word_count: self.recorded_word_count(),
            words_digest: self.recorded_words_digest(),
            trained_with_language_model: self.recorded_trained_with(),
        }
    }
}

fn tracked(class: ResourceClass, list: &[ResourceStatus]) -> impl Iterator<Item = TrackedResource> {
    list.iter().map(move |status| TrackedResource {
        class,
        status: status.clone(),
    })
}

fn of_class(update: &StatusUpdate, class: ResourceClass) -> Vec<ResourceStatus> {
    update
        .resources
        .iter()
        .filter(|r| r.class == class)
        .map(|r| r.status.clone())
        .collect()
}

/// The accessors whose spec and status fields have the same names in the three kinds.
macro_rules! common_accessors {
    () => {
        fn status(&self) -> Option<&Self::Status> {
            self.status.as_ref()
        }
        fn model_status(&self) -> Option<&ModelStatus> {
            self.status.as_ref().map(|s| &s.model)
        }
        fn service_name(&self) -> &str {
            &self.spec.service_ref.name
        }
        fn suspended(&self) -> bool {
            self.spec.suspend
        }
        fn deletion_policy(&self) -> DeletionPolicy {
            self.spec.deletion_policy
        }
        fn adopt_id(&self) -> Option<&str> {
            self.spec.customization_id.as_deref()
        }
        fn observe_only(&self) -> bool {
            self.spec.management_policy == crate::crd::ManagementPolicy::ObserveOnly
        }
        fn model_name(&self) -> Option<&str> {
            self.spec.model_name.as_deref()
        }
        fn description(&self) -> Option<&str> {
            self.spec.description.as_deref()
        }
        fn export_config_map(&self) -> Option<&str> {
            self.spec
                .export
                .as_ref()
                .map(|e| e.config_map_name.as_str())
        }
    };
}

impl ModelResource for CustomLanguageModel {
    const KIND: ModelKind = ModelKind::Language;
    type Status = CustomLanguageModelStatus;
    common_accessors!();
    fn base_model_name(&self) -> Option<&str> {
        Some(&self.spec.base_model_name)
    }
    fn recorded_resources(&self) -> Vec<TrackedResource> {
        let Some(s) = &self.status else {
            return Vec::new();
        };
        tracked(ResourceClass::Corpus, &s.corpora)
            .chain(tracked(ResourceClass::Grammar, &s.grammars))
            .collect()
    }
    fn recorded_word_count(&self) -> Option<i64> {
        self.status.as_ref().and_then(|s| s.word_count)
    }
    fn recorded_words_digest(&self) -> Option<String> {
        self.status.as_ref().and_then(|s| s.words_digest.clone())
    }
    fn status_from(&self, update: &StatusUpdate) -> Self::Status {
        CustomLanguageModelStatus {
            model: update.model.clone(),
            corpora: of_class(update, ResourceClass::Corpus),
            grammars: of_class(update, ResourceClass::Grammar),
            word_count: update.word_count,
            words_digest: update.words_digest.clone(),
            // Written by the evaluation (reconcile/evaluate.rs), kept as recorded.
            evaluation: self.status.as_ref().and_then(|s| s.evaluation.clone()),
        }
    }
}

impl ModelResource for CustomAcousticModel {
    const KIND: ModelKind = ModelKind::Acoustic;
    type Status = CustomAcousticModelStatus;
    common_accessors!();
    fn base_model_name(&self) -> Option<&str> {
        Some(&self.spec.base_model_name)
    }
    fn recorded_resources(&self) -> Vec<TrackedResource> {
        self.status
            .as_ref()
            .map(|s| tracked(ResourceClass::Audio, &s.audio).collect())
            .unwrap_or_default()
    }
    fn recorded_word_count(&self) -> Option<i64> {
        None
    }
    fn recorded_trained_with(&self) -> Option<TrainedWith> {
        self.status
            .as_ref()
            .and_then(|s| s.trained_with_language_model.clone())
    }
    fn status_from(&self, update: &StatusUpdate) -> Self::Status {
        let audio = of_class(update, ResourceClass::Audio);
        let secs: i64 = audio
            .iter()
            .filter(|r| r.service_status == Some(ResourceServiceStatus::Ok))
            .filter_map(|r| r.duration_seconds)
            .sum();
        CustomAcousticModelStatus {
            model: update.model.clone(),
            audio,
            total_minutes_of_audio: Some((secs as f64 / 60.0 * 100.0).round() / 100.0),
            trained_with_language_model: update.trained_with_language_model.clone(),
        }
    }
}

impl ModelResource for CustomVoiceModel {
    const KIND: ModelKind = ModelKind::Voice;
    type Status = CustomVoiceModelStatus;
    common_accessors!();
    fn base_model_name(&self) -> Option<&str> {
        None
    }
    fn language(&self) -> Option<&str> {
        Some(&self.spec.language)
    }
    fn recorded_resources(&self) -> Vec<TrackedResource> {
        Vec::new()
    }
    fn recorded_word_count(&self) -> Option<i64> {
        self.status.as_ref().and_then(|s| s.word_count)
    }
    fn status_from(&self, update: &StatusUpdate) -> Self::Status {
        CustomVoiceModelStatus {
            model: update.model.clone(),
            word_count: update.word_count,
        }
    }
}

/// What an object names in its own namespace, for the watches that wake it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefKind {
    /// ConfigMaps it reads (sources, `wordsFrom`, a CA bundle) or writes (`spec.export`: an edit
    /// or deletion by someone else wakes the model, which restores it).
    ConfigMap,
    /// Secrets it reads (sources, credentials).
    Secret,
    /// Its SpeechService.
    SpeechService,
    /// The language model an acoustic model trains with.
    LanguageModel,
}

/// The names an object references, read from its typed spec.
pub trait Referencing {
    /// The names of the objects of `kind` this object references.
    fn references(&self, kind: RefKind) -> Vec<&str>;
}

/// ConfigMap or Secret names of a text source.
fn source_refs(s: &crate::crd::Source, kind: RefKind) -> Option<&str> {
    match kind {
        RefKind::ConfigMap => s.config_map_key_ref.as_ref().map(|r| r.name.as_str()),
        RefKind::Secret => s
            .secret_key_ref
            .as_ref()
            .or(s.url_from.as_ref().map(|u| &u.secret_key_ref))
            .map(|r| r.name.as_str()),
        _ => None,
    }
}

impl Referencing for CustomLanguageModel {
    fn references(&self, kind: RefKind) -> Vec<&str> {
        let spec = &self.spec;
        let sources = spec
            .corpora
            .iter()
            .map(|c| &c.source)
            .chain(spec.grammars.iter().map(|g| &g.source));
        let mut out: Vec<&str> = sources.filter_map(|s| source_refs(s, kind)).collect();
        match kind {
            RefKind::ConfigMap => out.extend(
                spec.words_from
                    .as_ref()
                    .map(|w| w.config_map_key_ref.name.as_str())
                    .into_iter()
                    .chain(self.export_config_map()),
            ),
            RefKind::SpeechService => out.push(&spec.service_ref.name),
            _ => {}
        }
        out
    }
}

impl Referencing for CustomAcousticModel {
    fn references(&self, kind: RefKind) -> Vec<&str> {
        let spec = &self.spec;
        match kind {
            RefKind::ConfigMap => spec
                .audio
                .iter()
                .filter_map(|a| a.source.config_map_key_ref.as_ref())
                .map(|r| r.name.as_str())
                .chain(self.export_config_map())
                .collect(),
            RefKind::Secret => spec
                .audio
                .iter()
                .filter_map(|a| {
                    a.source.secret_key_ref.as_ref().or(a
                        .source
                        .url_from
                        .as_ref()
                        .map(|u| &u.secret_key_ref))
                })
                .map(|r| r.name.as_str())
                .collect(),
            RefKind::SpeechService => vec![spec.service_ref.name.as_str()],
            RefKind::LanguageModel => spec
                .language_model_ref
                .iter()
                .map(|r| r.name.as_str())
                .collect(),
        }
    }
}

impl Referencing for CustomVoiceModel {
    fn references(&self, kind: RefKind) -> Vec<&str> {
        match kind {
            RefKind::ConfigMap => self
                .spec
                .words_from
                .iter()
                .map(|w| w.config_map_key_ref.name.as_str())
                .chain(self.export_config_map())
                .collect(),
            RefKind::SpeechService => vec![self.spec.service_ref.name.as_str()],
            _ => Vec::new(),
        }
    }
}

impl Referencing for crate::crd::SpeechService {
    fn references(&self, kind: RefKind) -> Vec<&str> {
        match kind {
            RefKind::Secret => self
                .spec
                .auth
                .secret_ref
                .iter()
                .map(|r| r.name.as_str())
                .collect(),
            RefKind::ConfigMap => self
                .spec
                .ca_bundle
                .iter()
                .map(|r| r.name.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_come_from_the_typed_spec() {
        let lm: CustomLanguageModel = serde_json::from_value(serde_json::json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": "m", "namespace": "n"},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                     "corpora": [{"name": "a", "source": {"configMapKeyRef": {"name": "cm1", "key": "k"}}},
                                 {"name": "b", "source": {"secretKeyRef": {"name": "s1", "key": "k"}}},
                                 {"name": "c", "source": {"urlFrom": {"secretKeyRef": {"name": "u1", "key": "url"}}}}],
                     "grammars": [{"name": "g", "contentType": "abnf",
                                   "source": {"configMapKeyRef": {"name": "cm2", "key": "k"}}}],
                     "wordsFrom": {"configMapKeyRef": {"name": "cm3", "key": "k"}},
                     "export": {"configMapName": "out"}}
        }))
        .expect("lm");
        assert_eq!(
            lm.references(RefKind::ConfigMap),
            vec!["cm1", "cm2", "cm3", "out"]
        );
        assert_eq!(lm.references(RefKind::Secret), vec!["s1", "u1"]);
        assert_eq!(lm.references(RefKind::SpeechService), vec!["stt"]);
        assert!(lm.references(RefKind::LanguageModel).is_empty());
        let am: CustomAcousticModel = serde_json::from_value(serde_json::json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomAcousticModel",
            "metadata": {"name": "a", "namespace": "n"},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                     "languageModelRef": {"name": "m"},
                     "audio": [{"name": "x", "contentType": "audio/wav",
                                "source": {"secretKeyRef": {"name": "s2", "key": "k"}}},
                               {"name": "y", "contentType": "audio/wav",
                                "source": {"urlFrom": {"secretKeyRef": {"name": "u2", "key": "url"}}}}]}
        }))
        .expect("am");
        assert_eq!(am.references(RefKind::LanguageModel), vec!["m"]);
        assert_eq!(am.references(RefKind::Secret), vec!["s2", "u2"]);
        assert!(am.references(RefKind::ConfigMap).is_empty());
    }
}
