//! Kubernetes faults (issue 26, point 6): an operator process with leader election rides out an
//! API-server outage of a minute. kube-apiserver is stopped for 60 s while the operator leads:
//! the process never exits (it used to exit after about 12 s, and repeated exits end in
//! CrashLoopBackOff), `/readyz` answers 503 while the API server is away, the leader steps down
//! and campaigns again, and once the API server is back it leads again, is ready, and a model
//! created after the outage reaches Ready (a model from before stays Ready).
//!
//! A binary of its own: it stops the API server, which hits everyone. The times are printed.

#[path = "../../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kube::Api;
use serde_json::json;
use support::fixture::{self, Service};
use support::operator::{is_ready, wait_for};
use support::process::OperatorProcess;
use support::{control_plane, eventually, free_port};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::simulator;

const API_KEY: &str = "outage-api-key";
/// How long kube-apiserver stays away.
const OUTAGE: Duration = Duration::from_secs(60);

fn model(name: &str) -> CustomLanguageModel {
    fixture::language_model(
        name,
        json!({"corpora": [{"name": "c", "source": {"text": format!("outage test {name}")}}]}),
    )
}

/// `/readyz`: the status code, `None` when nothing answered.
async fn readyz(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_outage_of_a_minute_is_ridden_out() {
    let Some(cp) = control_plane() else { return };
    let sim = simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        api_keys: vec![API_KEY.to_string()],
        auth_required: true,
        time_scale: 0.01,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let ns = cp.namespace("outage").await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;
    let dir = tempfile::Builder::new()
        .prefix("wso-outage-")
        .tempdir()
        .expect("tempdir");
    let address = format!("127.0.0.1:{}", free_port());
    let args = [
        "--leader-election",
        "--leader-election-namespace",
        &ns.name,
        "--lease-name",
        "wso-outage",
        "--lease-duration-seconds",
        "8",
        "--lease-grace-seconds",
        "4",
        "--namespaces",
        &ns.name,
        "--metrics-address",
        &address,
        "--expected-training-seconds",
        "2",
        "--max-poll-seconds",
        "2",
    ];
    let env = [("RUST_LOG", "watson_speech_operator=info")];
    let mut operator = OperatorProcess::start(
        &cp.kubeconfig,
        &args,
        &env,
        &dir.path().join("operator.log"),
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("http");
    let ready_url = format!("http://{address}/readyz");
    let api: Api<CustomLanguageModel> = ns.api();
    fixture::create(&ns, &model("before")).await;
    wait_for(&api, "before", "Ready", 120, is_ready).await;
    assert_eq!(readyz(&http, &ready_url).await, Some(200), "ready before");

    // The outage, with /readyz and the process watched every second.
    let outage = cp.restart_apiserver(OUTAGE);
    let watch = async {
        let mut seen = Vec::new();
        let until = Instant::now() + OUTAGE;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(1)).await;
            seen.push(readyz(&http, &ready_url).await);
        }
        seen
    };
    let started = Instant::now();
    let ((), during) = tokio::join!(outage, watch);
    let back = Instant::now();
    let log_path = dir.path().join("operator.log");
    let log = || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    let exit = operator.exited();
    assert!(
        exit.is_none(),
        "the operator exited during the outage: {exit:?}\n{}",
        log()
    );
    // Not ready from the first failed read of the Lease (a fence period, 2 s, plus its timeout).
    assert!(
        during.len() > 15 && during.iter().skip(15).all(|s| *s == Some(503)),
        "/readyz 503 from 15 s into the outage on: {during:?}"
    );

    // Full recovery: ready as the leader again, and new work done.
    eventually(
        "ready again as the leader",
        Duration::from_secs(90),
        || async {
            let r = http.get(&ready_url).send().await.ok()?;
            (r.status().as_u16() == 200 && r.text().await.ok()?.contains("leader")).then_some(())
        },
    )
    .await;
    let ready_again = back.elapsed();
    fixture::create(&ns, &model("after")).await;
    wait_for(&api, "after", "Ready", 120, is_ready).await;
    let after_ready = back.elapsed();
    assert!(is_ready(&api.get("before").await.expect("before")));
    assert!(
        operator.exited().is_none(),
        "the operator exited\n{}",
        log()
    );
    let text = operator.log_text();
    assert!(
        text.contains("stepping down") && text.contains("elected again"),
        "the leader steps down and is elected again:\n{}",
        log()
    );
    println!(
        "API server away {:.0} s (restart included: {:.1} s): /readyz {during:?}; ready again as the leader \
         {:.1} s and a new model Ready {:.1} s after the API server was back; no exit",
        OUTAGE.as_secs_f64(),
        (back - started).as_secs_f64(),
        ready_again.as_secs_f64(),
        after_ready.as_secs_f64(),
    );
    drop(sim);
}
