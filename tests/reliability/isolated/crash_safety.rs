//! Crash-safe creation: the operator process is killed between creating the IBM model and
//! recording its ID in status; after a restart there is exactly one model, adopted through the
//! ownership marker, and the resource reaches Ready.

#[path = "../../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::process::OperatorProcess;

use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::json;
use support::fixture::{self, Service};
use support::{control_plane, eventually};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::simulator;

const API_KEY: &str = "crash-api-key";

/// The operator as a real process (killed on drop), optionally aborting at a failpoint.
fn start_operator(
    cp: &support::ControlPlane,
    crash_at: Option<&str>,
    life: &str,
) -> OperatorProcess {
    let args = [
        "--drift-interval-seconds",
        "30",
        "--expected-training-seconds",
        "2",
        "--max-poll-seconds",
        "5",
        "--log-level",
        "watson_speech_operator=info",
    ];
    let env: Vec<(&str, &str)> = crash_at.map(|p| ("WSO_CRASH_AT", p)).into_iter().collect();
    let log = cp.dir.join(format!("crash-safety-{life}.log"));
    OperatorProcess::start(&cp.kubeconfig, &args, &env, &log)
}

#[tokio::test]
async fn crash_between_create_and_status_write_leaves_exactly_one_model() {
    let Some(cp) = control_plane() else { return };
    let sim = support::operator::own_simulator(API_KEY, 0.002).await;
    let admin = sim.admin();
    let ns = cp.namespace("crash").await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;

    // First life: aborts right after the create call.
    let mut first = start_operator(cp, Some("after_create"), "first");
    let lm: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "fragile"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "corpora": [{"name": "c", "source": {"text": "crash test corpus"}}]}
    }))
    .expect("lm");
    let api: Api<CustomLanguageModel> = ns.api();
    let created = api
        .create(&PostParams::default(), &lm)
        .await
        .expect("create");
    let uid = created.uid().expect("uid");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = first.exited() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the operator did not reach the failpoint"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "the operator aborted at the failpoint");
    let marked = |models: &[simulator::SimModel]| {
        models
            .iter()
            .filter(|m| m.description.contains(&uid))
            .map(|m| m.customization_id.clone())
            .collect::<Vec<_>>()
    };
    let after_crash = marked(&admin.models().await.expect("models"));
    assert_eq!(
        after_crash.len(),
        1,
        "the create went through before the crash"
    );
    let st = api.get("fragile").await.expect("get").status;
    assert!(
        st.and_then(|s| s.model.customization_id).is_none(),
        "status never learnt the ID"
    );

    // Second life: recovers the marked model instead of creating another.
    let _second = start_operator(cp, None, "second");
    let m = eventually(
        "the model to become Ready",
        Duration::from_secs(120),
        || {
            let api = api.clone();
            async move {
                let m = api.get("fragile").await.ok()?;
                let s = m.status.as_ref()?;
                s.model
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
                    .then_some(m)
            }
        },
    )
    .await;
    let models = admin.models().await.expect("models");
    assert_eq!(
        marked(&models),
        after_crash,
        "exactly one model, the one created before the crash"
    );
    assert_eq!(
        m.status.and_then(|s| s.model.customization_id),
        after_crash.first().cloned(),
        "status records the recovered model"
    );
    let creates = admin
        .counters()
        .await
        .expect("counters")
        .by_operation
        .get("create_language_model")
        .and_then(|m| m.get("201"))
        .copied()
        .unwrap_or(0);
    assert_eq!(creates, 1, "one create call in total");
}
