//! Secrets never leak: a canary API key (valid) and a canary bearer token (refused) go through a
//! lifecycle, a 503 storm, an IAM outage and a credentials failure with debug logging on; then
//! neither appears in any log line, Event, status or condition message.

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;
use support::process::OperatorProcess;

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;
use support::{control_plane, eventually, fixture};
use watson_speech_operator::crd::{CustomLanguageModel, SpeechService};
use watson_speech_operator::simulator::{self, api::Faults};

const CANARY_KEY: &str = "canary-key-7f3a9c1e-do-not-log";
const CANARY_TOKEN: &str = "canary-token-b5d20e44-do-not-log";

#[tokio::test]
async fn canary_credentials_never_appear_anywhere() {
    let Some(cp) = control_plane() else { return };
    let sim = simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![CANARY_KEY.to_string()],
        auth_required: true,
        time_scale: 0.005,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let admin = sim.admin();
    let ns = cp.namespace("canary").await;
    let secret = fixture::secret("creds", &[("apikey", CANARY_KEY), ("token", CANARY_TOKEN)]);
    fixture::create(&ns, &secret).await;
    for (name, auth) in [
        ("stt", fixture::iam_auth(&sim.base_url(), "creds")),
        ("bearer", fixture::bearer_auth("creds")),
    ] {
        let svc = fixture::speech_service(name, "SpeechToText", &sim.stt_url(), auth);
        fixture::create(&ns, &svc).await;
    }
    let log_path = cp.dir.join("canary-operator.log");
    let args = [
        "--namespaces",
        &ns.name,
        "--log-level",
        "debug",
        "--expected-training-seconds",
        "2",
        "--max-poll-seconds",
        "3",
        "--metrics-address",
        "127.0.0.1:0",
    ];
    let _op = OperatorProcess::start(&cp.kubeconfig, &args, &[], &log_path);
    let api: Api<CustomLanguageModel> = ns.api();
    for (name, service) in [("good", "stt"), ("refused", "bearer")] {
        let lm: CustomLanguageModel = serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": name},
            "spec": {"serviceRef": {"name": service}, "baseModelName": "en-US_BroadbandModel",
                     "corpora": [{"name": "c", "source": {"text": "canary corpus"}}]}
        }))
        .expect("lm");
        api.create(&PostParams::default(), &lm)
            .await
            .expect("create");
    }
    let ready = |api: Api<CustomLanguageModel>| async move {
        let m = api.get("good").await.ok()?;
        m.status?
            .model
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
            .then_some(())
    };
    eventually("the good model Ready", Duration::from_secs(120), || {
        ready(api.clone())
    })
    .await;

    // Faults: a 503 storm, then an IAM outage with a forced token refresh (a new Secret version
    // rebuilds the client), then back to normal.
    admin
        .set_faults(&Faults {
            error_rates: [("503".to_string(), 1.0)].into(),
            ..Default::default()
        })
        .await
        .expect("storm");
    tokio::time::sleep(Duration::from_secs(4)).await;
    admin
        .set_faults(&Faults {
            iam_outage: true,
            ..Default::default()
        })
        .await
        .expect("iam outage");
    ns.api::<Secret>()
        .patch(
            "creds",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"annotations": {"rotated": "1"}}})),
        )
        .await
        .expect("touch secret");
    tokio::time::sleep(Duration::from_secs(4)).await;
    admin.clear_faults().await.expect("clear");
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Everything a user or an attacker could read.
    let mut haystack = std::fs::read_to_string(&log_path).expect("operator log");
    assert!(haystack.contains("decided"), "debug log captured");
    for e in ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
    {
        haystack.push_str(&serde_json::to_string(&e).expect("event"));
    }
    for m in api
        .list(&ListParams::default())
        .await
        .expect("models")
        .items
    {
        haystack.push_str(&serde_json::to_string(&m.status).expect("status"));
    }
    for s in ns
        .api::<SpeechService>()
        .list(&ListParams::default())
        .await
        .expect("services")
        .items
    {
        haystack.push_str(&serde_json::to_string(&s.status).expect("status"));
    }
    let refused = api.get("refused").await.expect("refused");
    let reason = refused
        .status
        .and_then(|s| s.model.conditions.into_iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.reason)
        .unwrap_or_default();
    assert!(
        !reason.is_empty() && reason != "Available",
        "the bearer model failed: {reason}"
    );
    for canary in [CANARY_KEY, CANARY_TOKEN] {
        assert!(!haystack.contains(canary), "{canary} leaked");
        // Nor its Basic/base64 forms.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("apikey:{canary}"));
        assert!(!haystack.contains(&b64), "{canary} leaked base64-encoded");
    }
    eprintln!(
        "scanned {} bytes of logs, Events and status",
        haystack.len()
    );
}
