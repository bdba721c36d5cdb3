//! Lifecycle scenarios on the real API server with the simulator: upgrades in dependency order
//! with the force path, adoption and adoption mismatch, out-of-band deletion, credential
//! rotation without a restart, manual training tokens, and a model busy with someone else's
//! operation.

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::TestNamespace;
use support::fixture;
use support::operator::{self, HasModelStatus, calls, condition, is_ready, wait_for};
use watson_speech_operator::crd::{CustomAcousticModel, CustomLanguageModel};
use watson_speech_operator::watson::stt_types::{CreateLanguageModel, TrainLanguageModel};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
    cluster_name: None,
};

/// A language model with one corpus; the keys of `extra` are added or replace those.
fn lm_json(name: &str, extra: serde_json::Value) -> CustomLanguageModel {
    let corpus =
        json!({"corpora": [{"name": "c", "source": {"text": "a few words of domain text"}}]});
    fixture::language_model(name, fixture::merge(corpus, extra))
}

fn id_of(m: &impl operator::HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.customization_id.clone())
        .expect("customization id")
}

/// The namespace's Warning Events as `reason: message`, without the `BaseModel*` ones (the
/// fixture's base model, `en-US_BroadbandModel`, is withdrawn on today's service: each model says
/// so once; `decisions::base_model_lifecycle_*` tests that Event).
async fn warning_reasons(ns: &TestNamespace) -> Vec<String> {
    ns.api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| {
            !e.reason
                .as_deref()
                .unwrap_or_default()
                .starts_with("BaseModel")
        })
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn upgrade_runs_language_model_first_then_acoustic_with_force() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "upgrade").await else {
        return;
    };
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("audio".into()),
            ..Default::default()
        },
        binary_data: Some(
            [(
                "audio.tar.gz".to_string(),
                k8s_openapi::ByteString(watson_speech_operator::simulator::audio::tone_tar_gz(
                    "a.wav", 16_000, 660.0,
                )),
            )]
            .into(),
        ),
        ..Default::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await
        .expect("cm");
    let lm_api: Api<CustomLanguageModel> = ns.api();
    lm_api
        .create(&PostParams::default(), &lm_json("base", json!({})))
        .await
        .expect("lm");
    let am: CustomAcousticModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomAcousticModel",
        "metadata": {"name": "acoustic"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "languageModelRef": {"name": "base"},
                 "audio": [{"name": "a1", "contentType": "application/gzip",
                            "source": {"configMapKeyRef": {"name": "audio", "key": "audio.tar.gz"}}}]}
    }))
    .expect("am");
    let am_api: Api<CustomAcousticModel> = ns.api();
    am_api
        .create(&PostParams::default(), &am)
        .await
        .expect("am");
    let lm = wait_for(&lm_api, "base", "Ready", 120, is_ready).await;
    let am = wait_for(&am_api, "acoustic", "Ready", 180, is_ready).await;
    let (lm_id, am_id) = (id_of(&lm), id_of(&am));
    let old_version = lm
        .model()
        .and_then(|s| s.base_model_version.clone())
        .expect("version");

    // IBM releases a new version; the user asks for it on the language model.
    let new_version = admin
        .publish_base_version(
            "en-US_BroadbandModel",
            Some("en-US_BroadbandModel.v2027-01-01"),
        )
        .await
        .expect("publish");
    assert_ne!(new_version, old_version);
    lm_api
        .patch(
            "base",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"baseModelVersion": new_version}})),
        )
        .await
        .expect("ask for the new version");

    wait_for(&lm_api, "base", "upgraded and Ready", 120, |m| {
        is_ready(m)
            && m.model()
                .and_then(|s| s.base_model_version.clone())
                .as_deref()
                == Some(new_version.as_str())
    })
    .await;
    wait_for(&am_api, "acoustic", "upgraded and Ready", 180, |m| {
        is_ready(m)
            && m.model()
                .and_then(|s| s.base_model_version.clone())
                .as_deref()
                == Some(new_version.as_str())
    })
    .await;

    // Order and the force path, from the simulator's log.
    let lm_upgrades = calls(&admin, &lm_id, "upgrade_language_model").await;
    let am_upgrades = calls(&admin, &am_id, "upgrade_acoustic_model").await;
    assert_eq!(
        lm_upgrades.iter().filter(|r| r.status == 200).count(),
        1,
        "{lm_upgrades:?}"
    );
    let statuses: Vec<u16> = am_upgrades.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![400, 200],
        "first refused (nothing changed), then forced"
    );
    assert!(
        am_upgrades[0].seq > lm_upgrades.iter().map(|r| r.seq).max().unwrap_or(0),
        "the acoustic model upgraded after its language model"
    );
    let warnings = warning_reasons(&ns).await;
    assert!(
        warnings.is_empty(),
        "no Warning Events for a normal upgrade: {warnings:?}"
    );
}

#[tokio::test]
async fn adoption_takes_over_and_a_mismatch_changes_nothing() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "adopt").await else {
        return;
    };
    let stt = operator::stt_client(&base);
    let existing = stt
        .create_language_model(&CreateLanguageModel {
            name: "made-by-a-script".into(),
            base_model_name: "en-US_BroadbandModel".into(),
            dialect: None,
            description: Some("pre-existing".into()),
        })
        .await
        .expect("create")
        .customization_id;
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &lm_json("adopted", json!({"customizationId": existing})),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "adopted", "Ready", 120, is_ready).await;
    assert_eq!(id_of(&m), existing, "the existing model was adopted");
    assert_eq!(m.model().and_then(|s| s.adopted), Some(true));
    assert!(
        calls(&admin, &existing, "train_language_model")
            .await
            .iter()
            .any(|r| r.status == 200)
    );

    // Mismatch: the same model adopted with another base model.
    let models_before = admin.models().await.expect("models");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": "mismatch"},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_Telephony",
                     "customizationId": existing}
        }))
        .expect("lm"),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "mismatch", "AdoptionMismatch", 60, |m| {
        condition(m, "Ready") == Some(("False".into(), "AdoptionMismatch".into()))
    })
    .await;
    let msg = m
        .model()
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == "Ready")
                .map(|c| c.message.clone())
        })
        .unwrap_or_default();
    assert!(
        msg.contains("en-US_BroadbandModel") && msg.contains("en-US_Telephony"),
        "{msg}"
    );
    let models_after = admin.models().await.expect("models");
    let find = |ms: &[watson_speech_operator::simulator::SimModel]| {
        ms.iter().find(|x| x.customization_id == existing).cloned()
    };
    assert_eq!(
        find(&models_before).map(|x| (x.name, x.versions)),
        find(&models_after).map(|x| (x.name, x.versions)),
        "the mismatched adoption did not touch the model"
    );
}

#[tokio::test]
async fn a_model_deleted_out_of_band_is_recreated() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "drift").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(&PostParams::default(), &lm_json("drifty", json!({})))
        .await
        .expect("create");
    let m = wait_for(&api, "drifty", "Ready", 120, is_ready).await;
    let first = id_of(&m);
    admin
        .delete_model(&first)
        .await
        .expect("delete out of band");
    let m = wait_for(&api, "drifty", "re-created and Ready", 120, |m| {
        is_ready(m)
            && m.model()
                .and_then(|s| s.customization_id.clone())
                .is_some_and(|id| id != first)
    })
    .await;
    let second = id_of(&m);
    assert!(
        admin
            .models()
            .await
            .expect("models")
            .iter()
            .any(|x| x.customization_id == second)
    );
    assert!(
        warning_reasons(&ns)
            .await
            .iter()
            .any(|r| r.starts_with("ExternalModelRecreated:")),
        "Event ExternalModelRecreated"
    );
}

#[tokio::test]
async fn rotated_credentials_are_used_without_a_restart() {
    let Some((ns, _admin, _)) = operator::setup(OPTIONS, "rotate").await else {
        return;
    };
    // Break the credentials: the service and the model report it.
    ns.api::<Secret>()
        .patch(
            "creds",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"apikey": "wrong-key"}})),
        )
        .await
        .expect("break");
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(&PostParams::default(), &lm_json("rotating", json!({})))
        .await
        .expect("create");
    let m = wait_for(&api, "rotating", "credentials failure", 60, |m| {
        condition(m, "Ready").is_some_and(|(s, r)| s == "False" && r == "IamTokenFailure")
    })
    .await;
    assert!(m.model().and_then(|s| s.customization_id.clone()).is_none());
    // Rotate to another valid key: the same operator picks it up.
    ns.api::<Secret>()
        .patch(
            "creds",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"apikey": operator::OTHER_API_KEY}})),
        )
        .await
        .expect("rotate");
    wait_for(&api, "rotating", "Ready", 120, is_ready).await;
}

#[tokio::test]
async fn manual_training_waits_for_a_token_and_trains_once_per_token() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "manual").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &lm_json("manual", json!({"training": {"policy": "Manual"}})),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "manual", "TrainingPending", 60, |m| {
        condition(m, "Ready").is_some_and(|(_, r)| r == "TrainingPending")
    })
    .await;
    let id = id_of(&m);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        calls(&admin, &id, "train_language_model").await.is_empty(),
        "no training without a token"
    );

    let token =
        |t: &str| json!({"metadata": {"annotations": {"speech.watson.dev/train-requested-at": t}}});
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(token("t1")),
    )
    .await
    .expect("token");
    let m = wait_for(&api, "manual", "Ready after the token", 120, is_ready).await;
    assert_eq!(
        m.model()
            .and_then(|s| s.train_request_token.clone())
            .as_deref(),
        Some("t1")
    );
    let trained = calls(&admin, &id, "train_language_model").await;
    assert_eq!(trained.iter().filter(|r| r.status == 200).count(), 1);
    // The same token again (another annotation changes) does not train again.
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"unrelated": "x"}}})),
    )
    .await
    .expect("touch");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        calls(&admin, &id, "train_language_model")
            .await
            .iter()
            .filter(|r| r.status == 200)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_busy_model_is_waited_for_not_failed() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "busy").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(&PostParams::default(), &lm_json("busy", json!({})))
        .await
        .expect("create");
    let m = wait_for(&api, "busy", "Ready", 120, is_ready).await;
    let id = id_of(&m);
    // Someone else starts a training (LM training takes 3 s at this time scale) ...
    operator::stt_client(&base)
        .train_language_model(
            &id,
            &TrainLanguageModel {
                force: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("out-of-band training");
    // ... while the user adds a word.
    api.patch(
        "busy",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"words": [{"word": "tomato", "soundsLike": ["tomahto"]}]}})),
    )
    .await
    .expect("add a word");
    let m = wait_for(&api, "busy", "Ready with the word", 120, |m| {
        is_ready(m)
            && m.model()
                .is_some_and(|s| s.observed_generation == m.metadata.generation)
    })
    .await;
    assert_eq!(m.status.as_ref().and_then(|s| s.word_count), Some(1));
    let words = calls(&admin, &id, "add_words").await;
    assert!(words.iter().any(|r| r.status == 201), "{words:?}");
    let reasons = warning_reasons(&ns).await;
    assert!(
        reasons.is_empty(),
        "waiting for a busy model is not a failure: {reasons:?}"
    );
    let _ = m.name_any();
}
