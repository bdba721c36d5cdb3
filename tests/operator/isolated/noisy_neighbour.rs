//! Fair share (issue 26, point 3): no wait on one service holds a reconcile slot. A second
//! simulator answers every request with 429 and a `Retry-After` of a day; 50 language models use
//! it through the SpeechService `flooded`. Every one of them is reconciled (each shows a failed
//! Ready condition, none sits in a slot waiting for the day to pass), the flooded service sees a
//! handful of requests in all (the request budget's gate closes on the first 429), and a model on
//! the healthy service goes from apply to Ready with the same calls as a model made before the
//! neighbour came. Counts are asserted; the times are printed (docs/operations.md, "Fair share").
//!
//! Before issue 26 the budget's wait happened inside the reconcile: the first 429 closed the gate
//! for a day, and the next 8 reconciles of the flooded models (the operator's concurrency) slept
//! in it, holding every slot of the kind, so the healthy model never got a status.
//!
//! A binary of its own: it injects a fault that hits everything on its simulator, and counts
//! every request that simulator saw.

#[path = "../../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kube::Api;
use serde_json::json;
use support::control_plane;
use support::fixture::{self, Service};
use support::operator::{self, HasModelStatus, condition, is_ready, wait_for};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::simulator::{self, admin::AdminClient, api::Faults};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 600,
    model_quota: 1024,
    cluster_name: None,
};

/// Models on the flooded service.
const NEIGHBOURS: usize = 50;
/// The flooded service's `Retry-After`: a day.
const A_DAY: u64 = 86_400;

/// Every request the healthy simulator saw naming the model `name` (its create included), and
/// the model.
async fn calls_of(
    api: &Api<CustomLanguageModel>,
    admin: &AdminClient,
    name: &str,
) -> (usize, Vec<String>) {
    let m = api.get(name).await.expect("model");
    let id = m
        .model()
        .and_then(|s| s.customization_id.clone())
        .expect("customization id");
    let ops: Vec<String> = admin
        .requests(0)
        .await
        .expect("request log")
        .requests
        .into_iter()
        .filter(|r| r.customization_id.as_deref() == Some(id.as_str()))
        .map(|r| r.operation.unwrap_or(r.path))
        .collect();
    (ops.len() + 1, ops)
}

fn model(name: &str, service: &str) -> CustomLanguageModel {
    fixture::language_model(
        name,
        json!({"serviceRef": {"name": service},
               "corpora": [{"name": "c", "source": {"text": "fair share for every tenant"}}]}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_service_does_not_stall_another() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start(cp, OPTIONS);
    let ns = cp.namespace("neighbour").await;
    fixture::credentials_and_services(&ns, operator::API_KEY, base, &[Service::Stt]).await;
    let healthy = AdminClient::new(base.to_string()).expect("admin");
    let api: Api<CustomLanguageModel> = ns.api();

    // The baseline: a model with no neighbour.
    let started = Instant::now();
    fixture::create(&ns, &model("alone", "stt")).await;
    wait_for(&api, "alone", "Ready", 120, is_ready).await;
    let alone_time = started.elapsed();
    let (alone_calls, alone_ops) = calls_of(&api, &healthy, "alone").await;

    // The neighbour: every request answered 429, Retry-After a day.
    let flooded_sim = simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        auth_required: false,
        time_scale: OPTIONS.time_scale,
        ..Default::default()
    })
    .await
    .expect("flooded simulator");
    let flooded = AdminClient::new(flooded_sim.base_url()).expect("admin");
    flooded
        .set_faults(&Faults {
            error_rates: [("429".to_string(), 1.0)].into_iter().collect(),
            retry_after_seconds: A_DAY,
            ..Faults::default()
        })
        .await
        .expect("faults");
    fixture::create(&ns, &fixture::secret("token", &[("token", "any")])).await;
    fixture::create(
        &ns,
        &fixture::speech_service(
            "flooded",
            "SpeechToText",
            &Service::Stt.url(&flooded_sim.base_url()),
            fixture::bearer_auth("token"),
        ),
    )
    .await;
    let started = Instant::now();
    for i in 0..NEIGHBOURS {
        fixture::create(&ns, &model(&format!("n{i}"), "flooded")).await;
    }
    // Every neighbour is reconciled and told why it waits: none of them sleeps in a slot.
    for i in 0..NEIGHBOURS {
        let name = format!("n{i}");
        let m = wait_for(&api, &name, "a failed Ready condition", 120, |m| {
            condition(m, "Ready").is_some_and(|(s, _)| s == "False")
        })
        .await;
        assert!(!is_ready(&m));
    }
    let neighbours_time = started.elapsed();

    // A model on the healthy service, beside them.
    let started = Instant::now();
    fixture::create(&ns, &model("beside", "stt")).await;
    wait_for(&api, "beside", "Ready", 120, is_ready).await;
    let beside_time = started.elapsed();
    let (beside_calls, beside_ops) = calls_of(&api, &healthy, "beside").await;

    let flooded_requests = flooded.requests(0).await.expect("log").requests;
    let reasons: std::collections::BTreeMap<String, usize> = {
        let mut r = std::collections::BTreeMap::new();
        for i in 0..NEIGHBOURS {
            let m = api.get(&format!("n{i}")).await.expect("neighbour");
            let reason = condition(&m, "Ready").map(|(_, r)| r).unwrap_or_default();
            *r.entry(reason).or_default() += 1;
        }
        r
    };
    println!(
        "fair share: alone Ready in {:.1} s ({alone_calls} calls); {NEIGHBOURS} neighbours on a \
         service answering 429 (Retry-After {A_DAY} s) all reconciled in {:.1} s ({} requests \
         to it, reasons {reasons:?}); beside them Ready in {:.1} s ({beside_calls} calls)",
        alone_time.as_secs_f64(),
        neighbours_time.as_secs_f64(),
        flooded_requests.len(),
        beside_time.as_secs_f64(),
    );
    // The gate closes on the first 429: at most the reconciles already admitted before it
    // (the per-service cap, 4, plus the service's own check) reach the flooded service.
    assert!(
        (1..=6).contains(&flooded_requests.len()),
        "requests to the flooded service: {flooded_requests:?}"
    );
    // Beside a flooded neighbour, the model needs no more calls than alone (a poll more at most:
    // training is timed by the simulator's clock).
    assert!(
        beside_calls <= alone_calls + 1,
        "alone: {alone_ops:?}; beside: {beside_ops:?}"
    );
    // The neighbours wait for their day without asking again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        flooded.requests(0).await.expect("log").requests.len(),
        flooded_requests.len(),
        "the flooded service was asked again before its Retry-After"
    );
    drop(flooded_sim);
}
