//! The inputs digest is pinned: literal values, and the objects the first release wrote.

use std::collections::BTreeMap;

use super::digest;
use super::{
    Action, Dependency, Facts, ModelKind, Observed, Recorded, ResourceState, ServiceStatus, WordDef,
};
use crate::crd::TrainingPolicy;
use crate::crd::language_model::{GrammarType, LanguageTraining, WordTypeToAdd};
use crate::crd::{CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, Source};

#[test]
fn literal_digests() {
    assert_eq!(
        digest::corpus(b"hello"),
        "corpus:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    let resources: BTreeMap<String, String> = [("c".to_string(), digest::corpus(b"hello"))].into();
    let words: BTreeMap<String, WordDef> = [(
        "IBM".to_string(),
        WordDef {
            sounds_like: vec!["I B M".into()],
            display_as: Some("IBM".into()),
            mapping_only: None,
            translation: None,
            part_of_speech: None,
        },
    )]
    .into();
    let training = LanguageTraining {
        word_type_to_add: Some(WordTypeToAdd::User),
        customization_weight: Some(0.3),
        strict: Some(false),
        policy: TrainingPolicy::OnChange,
    };
    // sha256 of {"resources":{"c":"corpus:2cf2…"},"training":["Some(User)","Some(0.3)","Some(false)"],"words":{"IBM":[["I B M"],"IBM",null]}}
    assert_eq!(
        digest::language(&resources, &words, &training),
        LANGUAGE_PINNED
    );
    assert_eq!(
        digest::audio("application/gzip", Some("audio/l16;rate=16000"), b""),
        "audio:application/gzip:Some(\"audio/l16;rate=16000\"):e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// Computed independently of this code: `python3 -c` over the documented string above.
const LANGUAGE_PINNED: &str = "2114e845529dac45254eebe160d519d1705f7edb6728b23061b1460b8cf7bee9";

fn items<T: serde::de::DeserializeOwned>(yaml: &str) -> Vec<T> {
    #[derive(serde::Deserialize)]
    struct List<T> {
        items: Vec<T>,
    }
    serde_yaml::from_str::<List<T>>(yaml)
        .expect("fixture")
        .items
}

/// The ConfigMaps of the fixture: (name, key) → bytes.
fn config_maps() -> BTreeMap<(String, String), Vec<u8>> {
    let cms: Vec<k8s_openapi::api::core::v1::ConfigMap> = items(include_str!(
        "../../../tests/fixtures/release-0.1.0/configmaps.yaml"
    ));
    let mut out = BTreeMap::new();
    for cm in cms {
        let name = cm.metadata.name.clone().unwrap_or_default();
        for (k, v) in cm.data.unwrap_or_default() {
            out.insert((name.clone(), k), v.into_bytes());
        }
        for (k, v) in cm.binary_data.unwrap_or_default() {
            out.insert((name.clone(), k), v.0);
        }
    }
    out
}

fn text_source(s: &Source, cms: &BTreeMap<(String, String), Vec<u8>>) -> Vec<u8> {
    match (&s.text, &s.config_map_key_ref) {
        (Some(t), _) => t.clone().into_bytes(),
        (_, Some(r)) => cms[&(r.name.clone(), r.key.clone())].clone(),
        _ => panic!("the fixture uses inline text and ConfigMaps only"),
    }
}

#[test]
fn digests_of_the_first_release() {
    let cms = config_maps();
    let lms: Vec<CustomLanguageModel> = items(include_str!(
        "../../../tests/fixtures/release-0.1.0/clm.yaml"
    ));
    assert_eq!(lms.len(), 2);
    for lm in &lms {
        let mut resources = BTreeMap::new();
        for c in &lm.spec.corpora {
            resources.insert(
                c.name.clone(),
                digest::corpus(&text_source(&c.source, &cms)),
            );
        }
        for g in &lm.spec.grammars {
            let d = digest::grammar(g.content_type, &text_source(&g.source, &cms));
            resources.insert(g.name.clone(), d);
        }
        let words: BTreeMap<String, WordDef> = lm
            .spec
            .words
            .iter()
            .map(|w| {
                let d = WordDef {
                    sounds_like: w.sounds_like.clone(),
                    display_as: w.display_as.clone(),
                    mapping_only: w.mapping_only,
                    translation: None,
                    part_of_speech: None,
                };
                (w.word.clone(), d)
            })
            .collect();
        let status = lm.status.as_ref().expect("status");
        // Every resource digest the release recorded is what the encoding gives today.
        for r in status.corpora.iter().chain(&status.grammars) {
            assert_eq!(r.digest.as_ref(), resources.get(&r.name), "{}", r.name);
        }
        let inputs = digest::language(&resources, &words, &lm.spec.training);
        assert_eq!(
            status.model.trained_inputs_digest.as_deref(),
            Some(inputs.as_str()),
            "{}",
            lm.metadata.name.as_deref().unwrap_or_default()
        );
        // And the decision sees nothing to do: no training after an operator upgrade.
        let facts = steady_facts(ModelKind::Language, &status.model, resources, words, inputs);
        assert_eq!(super::decide(&facts), Action::UpToDate);
    }
    let _ = GrammarType::Abnf;
}

#[test]
fn acoustic_and_voice_digests_of_the_first_release() {
    let cms = config_maps();
    let ams: Vec<CustomAcousticModel> = items(include_str!(
        "../../../tests/fixtures/release-0.1.0/cam.yaml"
    ));
    for am in &ams {
        let mut resources = BTreeMap::new();
        for a in &am.spec.audio {
            let r = a
                .source
                .config_map_key_ref
                .as_ref()
                .expect("ConfigMap audio");
            let bytes = &cms[&(r.name.clone(), r.key.clone())];
            let d = digest::audio(&a.content_type, a.contained_content_type.as_deref(), bytes);
            resources.insert(a.name.clone(), d);
        }
        let lm = am.spec.language_model_ref.as_ref().map(|r| r.name.as_str());
        let inputs = digest::acoustic(&resources, am.spec.training.strict, lm);
        let status = am.status.as_ref().expect("status");
        assert_eq!(
            status.audio[0].digest.as_ref(),
            resources.get(&status.audio[0].name)
        );
        assert_eq!(
            status.model.trained_inputs_digest.as_deref(),
            Some(inputs.as_str())
        );
    }
    let vms: Vec<CustomVoiceModel> = items(include_str!(
        "../../../tests/fixtures/release-0.1.0/cvm.yaml"
    ));
    for vm in &vms {
        let words: BTreeMap<String, WordDef> = vm
            .spec
            .words
            .iter()
            .map(|w| {
                let d = WordDef {
                    sounds_like: Vec::new(),
                    display_as: None,
                    mapping_only: None,
                    translation: Some(w.translation.clone()),
                    part_of_speech: w.part_of_speech.clone(),
                };
                (w.word.clone(), d)
            })
            .collect();
        let status = vm.status.as_ref().expect("status");
        assert_eq!(
            status.model.trained_inputs_digest.as_deref(),
            Some(digest::voice(&words).as_str())
        );
    }
}

fn steady_facts(
    kind: ModelKind,
    st: &crate::crd::ModelStatus,
    resources: BTreeMap<String, String>,
    words: BTreeMap<String, WordDef>,
    inputs_digest: String,
) -> Facts {
    let mut recorded = Recorded::from_status(st);
    recorded.resources = resources.clone();
    Facts {
        kind,
        generation: st.observed_generation,
        suspended: false,
        deleting: false,
        retain_on_delete: false,
        observe_only: false,
        adopt_id: None,
        marked_model: None,
        duplicates: Vec::new(),
        release_requested: false,
        service_missing: None,
        observed: Some(Observed {
            status: Some(ServiceStatus::Available),
            versions: st.versions.clone(),
            resources: resources
                .keys()
                .map(|k| (k.clone(), ResourceState::Valid))
                .collect(),
            grammars: resources
                .iter()
                .filter(|(_, d)| d.starts_with("grammar:"))
                .map(|(k, _)| k.clone())
                .collect(),
            words: words.clone(),
        }),
        desired: super::Desired {
            resources,
            words,
            inputs_digest,
            upgrade_automatic: true,
            train_on_change: true,
            strict: true,
            ..Default::default()
        },
        recorded,
        newest_version: st.base_model_version.clone(),
        dependency: Dependency::None,
        expected: Default::default(),
        dry_run: false,
        audio_seconds: 0,
        base_model_name: None,
        current_base: None,
        successor: None,
        gate: None,
    }
}

/// Issue 25, point 3: the CRDs' schema version ([`crate::crd::SCHEMA_VERSION`], the annotation
/// the operator checks at start-up) is bumped whenever the generated schema changes. This pins
/// the version to a hash of every CRD's spec: a schema change fails here until the version is
/// bumped and the pair below updated.
#[test]
fn the_crd_schema_version_is_bumped_when_the_schema_changes() {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for crd in crate::crd::all() {
        hasher.update(serde_json::to_vec(&crd.spec).expect("spec"));
    }
    let hash = hex::encode(hasher.finalize());
    const PINNED: (&str, &str) = ("2026-12-07.3", "6dacc8fb4157bda8");
    assert_eq!(
        (crate::crd::SCHEMA_VERSION, &hash[..16]),
        PINNED,
        "the CRD schema changed: bump crd::SCHEMA_VERSION and pin the new pair here"
    );
    for crd in crate::crd::all() {
        let annotations = crd.metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations
                .get(crate::crd::SCHEMA_VERSION_ANNOTATION)
                .map(String::as_str),
            Some(crate::crd::SCHEMA_VERSION)
        );
    }
}
