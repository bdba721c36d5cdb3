//! Issue 28, points 3 and 6: the evaluation gate end to end, on the real API server and a
//! simulator of the test's own (`ibm-cloud` profile). A language model with `policy: Gate` is
//! measured after its first training; a corpus change that makes the word error rate worse is
//! built beside and held back (applications keep the model in service); a better one is then
//! trained into the same new model, measured and switched to; an upgrade to a base version the
//! simulator marks worse is held back the same way, until a `promote-requested-at` token
//! promotes it anyway. A watch of the export ConfigMap shows applications only ever saw a
//! trained model, and only the promoted ones.

use crate::support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::fixture::language_model;
use support::operator::{HasModelStatus, wait_for};
use watson_speech_operator::crd::{CustomLanguageModel, PROMOTE_REQUESTED_AT};

use crate::evaluation::{create_test_set, current_wer, evaluation, events};
use crate::recreate::{count, exported, ibm_cloud, on_service, watch_export};
use crate::{apply, id_of, is_available};

const BASE: &str = "en-US_Telephony";
/// Holds both words of the test set: WER 0.00 %.
const GOOD: &str = "Take ibuprofen or paracetamol with water after food.";
/// Holds neither: both are misheard, 2 errors in 12 words (16.67 %).
const POOR: &str = "Take two with water after food.";
/// Holds both, and more.
const BETTER: &str = "Take ibuprofen or paracetamol with water after food. Call the doctor.";

/// The gated model's spec: `corpus`, the test set, `policy: Gate` (tolerance 0), exported to
/// `gated-cm`; `version` pins `baseModelVersion`.
fn spec(test_set: &serde_json::Value, corpus: &str, version: Option<&str>) -> serde_json::Value {
    let mut evaluation = test_set.clone();
    evaluation["policy"] = json!("Gate");
    let mut s = json!({
        "baseModelName": BASE,
        "corpora": [{"name": "c", "source": {"text": corpus}}],
        "evaluation": evaluation,
        "export": {"configMapName": "gated-cm"},
    });
    if let Some(v) = version {
        s["baseModelVersion"] = json!(v);
    }
    s
}

/// The condition `Promoted`: status, reason, message.
fn promoted(m: &CustomLanguageModel) -> (String, String, String) {
    m.model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Promoted"))
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
        .unwrap_or_default()
}

fn held(m: &CustomLanguageModel) -> bool {
    promoted(m).1 == "QualityGateFailed"
}

/// The new model beside the one in service (`status.successor`), if any.
fn beside(m: &CustomLanguageModel) -> Option<String> {
    m.model()?.successor.as_ref()?.customization_id.clone()
}

/// The export ConfigMap's `customizationId` and `baseModelVersion`.
async fn export_of(cms: &Api<ConfigMap>) -> (Option<String>, Option<String>) {
    let cm = cms.get("gated-cm").await.expect("export");
    let version = cm
        .data
        .as_ref()
        .and_then(|d| d.get("baseModelVersion").cloned());
    (exported(&cm), version)
}

#[tokio::test]
async fn a_gate_holds_a_worse_change_back_and_promotes_a_better_one() {
    let Some((ns, _sim, admin, stt)) = ibm_cloud("gate").await else {
        return;
    };
    let test_set = create_test_set(&ns).await;
    let api = ns.api::<CustomLanguageModel>();
    let cms = ns.api::<ConfigMap>();

    // The first training is made in place (nothing to compare with), measured, promoted.
    apply(&api, &language_model("gated", spec(&test_set, GOOD, None))).await;
    let m = wait_for(&api, "gated", "measured and promoted", 120, |m| {
        current_wer(m).as_deref() == Some("0.00%") && promoted(m).1 == "Promoted"
    })
    .await;
    let first = id_of(&m);
    let first_version = m
        .model()
        .and_then(|s| s.base_model_version.clone())
        .expect("version");
    assert_eq!(export_of(&cms).await.0.as_deref(), Some(first.as_str()));
    let (watched, watch) = watch_export(cms.clone(), "gated-cm".into(), stt.clone());

    // A corpus without the test set's words: built beside, measured worse, held back.
    apply(&api, &language_model("gated", spec(&test_set, POOR, None))).await;
    let m = wait_for(&api, "gated", "held back", 180, held).await;
    let (status, _, message) = promoted(&m);
    assert_eq!(status, "False");
    for part in [
        "16.67%",
        "0.00%",
        "16.67 points worse",
        PROMOTE_REQUESTED_AT,
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    let new = beside(&m).expect("the new model is kept beside, trained");
    assert_eq!(id_of(&m), first, "status still names the model in service");
    assert!(is_available(&m), "the model in service stays Ready");
    assert_eq!(export_of(&cms).await.0.as_deref(), Some(first.as_str()));
    let candidate = evaluation(&m).candidate.expect("candidate measured");
    assert_eq!(
        (
            candidate.customization_id.as_str(),
            candidate.wer.as_deref()
        ),
        (new.as_str(), Some("16.67%"))
    );
    let mut service = on_service(&stt).await;
    service.sort();
    let mut both = vec![first.clone(), new.clone()];
    both.sort();
    assert_eq!(service, both, "one extra model while the change is held");
    assert_eq!(events(&ns, "QualityGateFailed").await.len(), 1);

    // A better corpus: the held model takes it, is retrained, measured and switched to.
    apply(
        &api,
        &language_model("gated", spec(&test_set, BETTER, None)),
    )
    .await;
    let m = wait_for(&api, "gated", "promoted", 180, |m| {
        id_of(m) != first && promoted(m).0 == "True" && is_available(m)
    })
    .await;
    assert_eq!(
        id_of(&m),
        new,
        "the held model was retrained, no third made"
    );
    let m = wait_for(&api, "gated", "measurement taken", 60, |m| {
        evaluation(m)
            .current
            .is_some_and(|c| c.customization_id == new)
    })
    .await;
    let e = evaluation(&m);
    let current = e.current.expect("current");
    assert_eq!(
        (current.customization_id.as_str(), current.wer.as_deref()),
        (new.as_str(), Some("0.00%")),
        "the candidate's measurement is taken at the switch"
    );
    assert_eq!(e.candidate, None, "taken at the switch");
    assert_eq!(export_of(&cms).await.0.as_deref(), Some(new.as_str()));
    for _ in 0..60 {
        if !on_service(&stt).await.contains(&first) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        on_service(&stt).await,
        vec![new.clone()],
        "the old model goes"
    );

    // An upgrade to a version that recognises worse: built beside on the new version, held;
    // applications stay on the model in service and its version.
    let newer = admin
        .publish_worse_base_version(BASE)
        .await
        .expect("publish a worse version");
    apply(
        &api,
        &language_model("gated", spec(&test_set, BETTER, Some(&newer))),
    )
    .await;
    let m = wait_for(&api, "gated", "the upgrade held back", 180, held).await;
    assert!(promoted(&m).2.contains("25.00%"), "{}", promoted(&m).2);
    assert_eq!(id_of(&m), new);
    let upgraded = beside(&m).expect("the upgraded model beside");
    assert_eq!(
        m.model()
            .and_then(|s| s.successor.as_ref())
            .and_then(|s| s.versions.last().cloned()),
        Some(newer.clone())
    );
    assert_eq!(
        export_of(&cms).await,
        (Some(new.clone()), Some(first_version.clone())),
        "applications keep the model in service on the older version"
    );

    // Promoted anyway: the token switches to the held model whatever its WER.
    let patch = json!({"metadata": {"annotations": {PROMOTE_REQUESTED_AT: "p1"}}});
    api.patch("gated", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate");
    let m = wait_for(&api, "gated", "promoted anyway", 120, |m| {
        id_of(m) == upgraded && promoted(m).0 == "True"
    })
    .await;
    assert!(promoted(&m).2.contains(PROMOTE_REQUESTED_AT));
    assert_eq!(
        m.model().and_then(|s| s.promote_request_token.as_deref()),
        Some("p1")
    );
    assert_eq!(
        export_of(&cms).await,
        (Some(upgraded.clone()), Some(newer.clone()))
    );
    let m = wait_for(&api, "gated", "measurement taken", 60, |m| {
        current_wer(m).as_deref() == Some("25.00%")
    })
    .await;
    assert_eq!(id_of(&m), upgraded);

    // Applications only ever saw a trained model, and only the promoted ones, in order.
    watch.abort();
    {
        let w = watched.lock().expect("lock");
        assert!(w.violations.is_empty(), "{:?}", w.violations);
        assert_eq!(w.ids, vec![first.clone(), new.clone(), upgraded.clone()]);
    }
    // One measurement per model or version: 4 rounds of 2 items; the switches measured nothing
    // again.
    assert_eq!(count(&admin, "recognize").await, 8);
}
