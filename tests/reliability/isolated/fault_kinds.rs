//! Other faults, one after the other on the same models (they share one simulator and one API
//! server, so they run in sequence): two seconds of added latency per call, dropped
//! connections, an IAM outage while tokens expire, the API server restarting mid-run, and a
//! training that fails on the service. After each, the models converge again with no manual
//! step; the failed training shows as such and is retried only when the inputs change.

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use support::operator::{self, HasModelStatus, calls, condition, is_ready, wait_for};
use support::{control_plane, fixture};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::simulator::api::{ConfigPatch, Faults};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.005,
    drift_seconds: 5,
    model_quota: 1024,
    cluster_name: None,
};
const MODELS: usize = 3;

fn lm(i: usize) -> CustomLanguageModel {
    let corpus = json!({"corpora": [{"name": "c", "source": {"text": "initial text"}}]});
    fixture::language_model(&format!("f{i}"), corpus)
}

async fn edit_all(api: &Api<CustomLanguageModel>, text: &str) {
    for i in 0..MODELS {
        api.patch(
            &format!("f{i}"),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"corpora": [{"name": "c", "source": {"text": text}}]}})),
        )
        .await
        .expect("edit");
    }
}

async fn all_ready(api: &Api<CustomLanguageModel>, what: &str) {
    for i in 0..MODELS {
        wait_for(api, &format!("f{i}"), what, 240, |m| {
            is_ready(m)
                && m.model()
                    .is_some_and(|s| s.observed_generation == m.metadata.generation)
        })
        .await;
    }
}

#[tokio::test]
async fn latency_drops_iam_outage_apiserver_restart_and_failed_training() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start(cp, OPTIONS);
    let (ns, admin) = operator::namespace(cp, base, "faults").await;
    let api: Api<CustomLanguageModel> = ns.api();
    for i in 0..MODELS {
        api.create(&PostParams::default(), &lm(i))
            .await
            .expect("create");
    }
    all_ready(&api, "Ready").await;

    // 1. Two seconds of added latency on every call.
    admin
        .set_faults(&Faults {
            latency_ms: 2000,
            ..Default::default()
        })
        .await
        .expect("latency");
    edit_all(&api, "slow service").await;
    all_ready(&api, "Ready with 2 s latency").await;
    admin.clear_faults().await.expect("clear");

    // 2. One connection in five dropped without a response.
    admin
        .set_faults(&Faults {
            drop_rate: 0.2,
            ..Default::default()
        })
        .await
        .expect("drops");
    edit_all(&api, "flaky network").await;
    all_ready(&api, "Ready with dropped connections").await;
    admin.clear_faults().await.expect("clear");

    // 3. IAM down while tokens expire every few seconds.
    admin
        .set_config(&ConfigPatch {
            token_ttl_seconds: Some(15),
            ..Default::default()
        })
        .await
        .expect("short tokens");
    admin
        .set_faults(&Faults {
            iam_outage: true,
            ..Default::default()
        })
        .await
        .expect("iam outage");
    edit_all(&api, "no tokens").await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    admin.clear_faults().await.expect("clear");
    all_ready(&api, "Ready after the IAM outage").await;

    // 4. The API server goes away for a few seconds mid-run.
    edit_all(&api, "api server restart").await;
    cp.restart_apiserver(Duration::from_secs(3)).await;
    all_ready(&api, "Ready after the API server restart").await;

    // 5. A training that fails on the service: shown, not retried until the inputs change.
    let id = api
        .get("f0")
        .await
        .expect("get")
        .model()
        .and_then(|s| s.customization_id.clone())
        .expect("id");
    admin.fail_next_training(&id).await.expect("fail next");
    let before = calls(&admin, &id, "train_language_model").await.len();
    api.patch(
        "f0",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"corpora": [{"name": "c", "source": {"text": "doomed"}}]}})),
    )
    .await
    .expect("edit");
    let m = wait_for(&api, "f0", "TrainingFailed", 120, |m| {
        condition(m, "Ready").is_some_and(|(s, r)| s == "False" && r == "TrainingFailed")
    })
    .await;
    assert_eq!(
        m.model().and_then(|s| s.phase.as_ref()).map(|p| p.as_str()),
        Some("Failed")
    );
    assert_eq!(
        m.model()
            .and_then(|s| s.history.first())
            .and_then(|h| h.outcome.as_ref())
            .map(|o| o.as_str()),
        Some("Failed")
    );
    let after_failure = calls(&admin, &id, "train_language_model").await.len();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        calls(&admin, &id, "train_language_model").await.len(),
        after_failure,
        "a failed training is not retried on the same inputs"
    );
    assert_eq!(after_failure, before + 1);
    api.patch(
        "f0",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"corpora": [{"name": "c", "source": {"text": "fixed"}}]}})),
    )
    .await
    .expect("fix");
    wait_for(&api, "f0", "Ready after new inputs", 120, is_ready).await;
}
