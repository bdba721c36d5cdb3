//! Issue 28, points 2 and 4 (policy Report), end to end on the real API server with the
//! simulator's model of recognition: a language model with a test set whose audio says words
//! the base model does not know is measured after its first training (WER high), after a
//! training on a corpus that holds those words (WER lower), and after an upgrade to a base
//! version the simulator marks worse (the regression shows in status and a Warning Event).

use crate::support;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, PostParams};
use serde_json::json;
use support::fixture::language_model;
use support::operator::{self, HasModelStatus, wait_for};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::crd::evaluation::EvaluationStatus;
use watson_speech_operator::simulator::recognize::wav_saying;

use crate::{OPTIONS, apply, id_of};

/// A base no other test of this binary uses: the new version and the knob are global.
const BASE: &str = "en-GB_Telephony";

/// `status.evaluation` (empty when absent).
pub(crate) fn evaluation(m: &CustomLanguageModel) -> EvaluationStatus {
    m.status
        .as_ref()
        .and_then(|s| s.evaluation.clone())
        .unwrap_or_default()
}

/// The status' current WER and the number of earlier measurements.
fn wer(m: &CustomLanguageModel) -> (Option<String>, usize) {
    let e = evaluation(m);
    (e.wer, e.history.len())
}

/// The notes of the Events in `ns` with `reason`.
pub(crate) async fn events(ns: &support::TestNamespace, reason: &str) -> Vec<String> {
    ns.api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.note.unwrap_or_default())
        .collect()
}

/// Creates the ConfigMap `testset`: a manifest and two audio items, each with a word the base
/// model does not know (`ibuprofen`, `paracetamol`; 12 words in all). Returns the
/// `spec.evaluation` that reads it (policy Report).
pub(crate) async fn create_test_set(ns: &support::TestNamespace) -> serde_json::Value {
    let audio: BTreeMap<String, ByteString> = [
        ("a.wav", "Call the doctor about ibuprofen."),
        ("b.wav", "Please give me some paracetamol, with water."),
    ]
    .into_iter()
    .map(|(k, said)| (k.to_string(), ByteString(wav_saying(said, 16_000))))
    .collect();
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("testset".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "manifest.csv".to_string(),
            "Audio File Name,Reference\na.wav,Call the doctor about ibuprofen.\nb.wav,\"Please give me some paracetamol, with water.\"\n".to_string(),
        )])),
        binary_data: Some(audio),
        ..Default::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await
        .expect("test set");
    json!({
        "testSet": {
            "manifest": {"configMapKeyRef": {"name": "testset", "key": "manifest.csv"}},
            "audio": {"configMapName": "testset"},
        },
    })
}

/// The WER of `status.evaluation.current` (as people read it), if measured.
pub(crate) fn current_wer(m: &CustomLanguageModel) -> Option<String> {
    wer(m).0
}

#[tokio::test]
async fn a_model_is_measured_after_each_training_and_upgrade() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "evaluation").await else {
        return;
    };
    let test_set = create_test_set(&ns).await;
    let api = ns.api::<CustomLanguageModel>();

    // Trained on a corpus without the test set's words: both are misheard, 2 errors in 12
    // words.
    let spec = |corpus: &str, version: Option<&str>| {
        let mut s = json!({
            "baseModelName": BASE,
            "corpora": [{"name": "c", "source": {"text": corpus}}],
            "evaluation": test_set,
        });
        if let Some(v) = version {
            s["baseModelVersion"] = json!(v);
        }
        s
    };
    apply(
        &api,
        &language_model("measured", spec("Take two with water after food.", None)),
    )
    .await;
    let m = wait_for(&api, "measured", "measured", 120, |m| wer(m).0.is_some()).await;
    let id = id_of(&m);
    assert_eq!(wer(&m), (Some("16.67%".into()), 0));
    let current = evaluation(&m).current.expect("current");
    assert_eq!(
        (current.items, current.words, current.errors),
        (2, 12, 2),
        "{current:?}"
    );
    assert_eq!(current.customization_id, id);
    assert_eq!(current.wer_basis_points, Some(1667));
    assert_eq!(events(&ns, "WerMeasured").await.len(), 1);

    // A corpus that holds both words: measured again after the training, 0 errors.
    apply(
        &api,
        &language_model(
            "measured",
            spec("Take ibuprofen or paracetamol with water after food.", None),
        ),
    )
    .await;
    let m = wait_for(&api, "measured", "measured again", 120, |m| {
        wer(m) == (Some("0.00%".into()), 1)
    })
    .await;
    let improved = events(&ns, "WerImproved").await;
    assert_eq!(improved.len(), 1, "{improved:?}");
    assert!(improved[0].contains("16.67% -> 0.00%"), "{improved:?}");
    let version = m
        .model()
        .and_then(|s| s.base_model_version.clone())
        .expect("version");

    // An upgrade to a version that recognises worse: the regression shows (policy Report: the
    // model is upgraded anyway). Every third heard word is lost: 3 errors in 12 words.
    let newer = admin
        .publish_worse_base_version(BASE)
        .await
        .expect("publish a worse version");
    apply(
        &api,
        &language_model(
            "measured",
            spec(
                "Take ibuprofen or paracetamol with water after food.",
                Some(&newer),
            ),
        ),
    )
    .await;
    let m = wait_for(&api, "measured", "measured on the new version", 120, |m| {
        wer(m) == (Some("25.00%".into()), 2)
    })
    .await;
    let e = evaluation(&m);
    let current = e.current.expect("current");
    assert_eq!(current.base_model_version.as_deref(), Some(newer.as_str()));
    assert_eq!(
        e.history[0].base_model_version.as_deref(),
        Some(version.as_str())
    );
    assert_eq!(e.history[0].wer.as_deref(), Some("0.00%"));
    let regressed = events(&ns, "WerRegressed").await;
    assert_eq!(regressed.len(), 1, "{regressed:?}");
    assert!(regressed[0].contains("0.00% -> 25.00%"), "{regressed:?}");

    // One measurement per version: three rounds of two items, nothing more over a few drift
    // intervals.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let recognitions = admin
        .requests(0)
        .await
        .expect("log")
        .requests
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some("recognize") && r.status == 200)
        .filter(|r| r.customization_id.as_deref() == Some(id.as_str()))
        .count();
    // The log is shared by the binary's tests: the recognitions with this model.
    assert_eq!(recognitions, 6);
    let _ = base;
}
