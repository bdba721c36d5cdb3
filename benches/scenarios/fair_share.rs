//! Scenario 10 (issue 26, "fair share"): a model on a healthy service beside a flooded
//! neighbour. A second simulator answers every request with 429 and a `Retry-After` of a day;
//! `neighbours` language models use it through the SpeechService `flooded`. The times of a model
//! on the healthy service from apply to Ready, alone and then beside the neighbours, show that
//! no wait on one service holds a reconcile slot (`operator_noisy_neighbour` asserts the counts;
//! this reports the times).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use watson_speech_operator::crd::{CustomLanguageModel, SpeechService};
use watson_speech_operator::simulator::admin::AdminClient;
use watson_speech_operator::simulator::api::Faults;

use super::harness::*;

/// The flooded service's `Retry-After`: a day.
pub const A_DAY_S: u64 = 86_400;

/// Scenario 10's results.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FairShare {
    /// The operator binary's build (`release` under `make bench`, `debug` otherwise).
    pub build: String,
    /// Models on the flooded service.
    pub neighbours: usize,
    /// The flooded service's `Retry-After`, s.
    pub retry_after_s: u64,
    /// A model on the healthy service with no neighbour: apply to Ready, s.
    pub alone_ready_s: f64,
    /// From creating the neighbours until every one shows a failed Ready condition, s.
    pub neighbours_reconciled_s: f64,
    /// A model on the healthy service beside the neighbours: apply to Ready, s.
    pub beside_ready_s: f64,
    /// Requests the flooded service saw in all.
    pub flooded_requests: usize,
}

/// Whether the model `name` satisfies `check` (on its status as JSON).
async fn wait_model(
    api: &Api<CustomLanguageModel>,
    name: &str,
    what: &str,
    timeout_s: u64,
    check: impl Fn(&serde_json::Value) -> bool,
) {
    wait_for(what, Duration::from_secs(timeout_s), || async {
        let status = serde_json::to_value(api.get(name).await.ok()?.status?).ok()?;
        check(&status).then_some(())
    })
    .await;
}

/// The Ready condition's status of a model's status JSON.
fn ready(status: &serde_json::Value) -> Option<&str> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
}

/// Runs scenario 10 with `neighbours` models on the flooded service.
pub async fn fair_share(env: &Env, neighbours: usize, timeout_s: u64) -> FairShare {
    let healthy = start_simulator(0.01, 1024).await;
    let flooded_sim = start_simulator(0.01, 1024).await;
    let ns = namespace_with_services(env, "bench-fair-share", &[("stt", &healthy, None)]).await;
    let op = Operator::start(env, &ns.name, &OperatorFlags::scaled(0.01), "fair-share");
    op.wait_ready().await;
    let api: Api<CustomLanguageModel> = ns.api();

    let started = Instant::now();
    api.create(
        &PostParams::default(),
        &language_model("alone", "stt", true, 0),
    )
    .await
    .expect("create alone");
    wait_model(&api, "alone", "alone Ready", timeout_s, |s| {
        ready(s) == Some("True")
    })
    .await;
    let alone_ready_s = started.elapsed().as_secs_f64();

    AdminClient::new(flooded_sim.base_url())
        .expect("admin")
        .set_faults(&Faults {
            error_rates: [("429".to_string(), 1.0)].into_iter().collect(),
            retry_after_seconds: A_DAY_S,
            ..Faults::default()
        })
        .await
        .expect("faults");
    ns.api::<Secret>()
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("token".into()),
                    ..Default::default()
                },
                string_data: Some([("token".to_string(), "any".to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .expect("token secret");
    let flooded: SpeechService = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "SpeechService",
        "metadata": {"name": "flooded"},
        "spec": {"service": "SpeechToText", "url": flooded_sim.stt_url(),
                 "auth": {"type": "Bearer", "secretRef": {"name": "token"}}}
    }))
    .expect("flooded service");
    ns.api::<SpeechService>()
        .create(&PostParams::default(), &flooded)
        .await
        .expect("create flooded service");
    let started = Instant::now();
    let names: Vec<String> = (0..neighbours).map(|i| format!("n{i}")).collect();
    for name in &names {
        api.create(
            &PostParams::default(),
            &language_model(name, "flooded", true, 0),
        )
        .await
        .expect("create neighbour");
    }
    for name in &names {
        wait_model(&api, name, "a failed Ready condition", timeout_s, |s| {
            ready(s) == Some("False")
        })
        .await;
    }
    let neighbours_reconciled_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    api.create(
        &PostParams::default(),
        &language_model("beside", "stt", true, 0),
    )
    .await
    .expect("create beside");
    wait_model(&api, "beside", "beside Ready", timeout_s, |s| {
        ready(s) == Some("True")
    })
    .await;
    let beside_ready_s = started.elapsed().as_secs_f64();
    let flooded_requests = requests(&flooded_sim, 0).await.len();
    drop(op);
    let run = FairShare {
        build: build_of(env),
        neighbours,
        retry_after_s: A_DAY_S,
        alone_ready_s,
        neighbours_reconciled_s,
        beside_ready_s,
        flooded_requests,
    };
    eprintln!("fair share: {run:?}");
    run
}

/// `release` when the operator binary is a release build, else `debug`.
pub fn build_of(env: &Env) -> String {
    if env
        .operator_bin
        .components()
        .any(|c| c.as_os_str() == "release")
    {
        "release".into()
    } else {
        "debug".into()
    }
}
