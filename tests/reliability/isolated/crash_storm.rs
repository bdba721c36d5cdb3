//! Crash injection at random moments: the operator process is SIGKILLed again and again while
//! models go through their lifecycles (and some are deleted). After it converges: exactly one
//! IBM model per live resource, none for deleted resources, every resource Ready, no manual
//! step.
//!
//! `WSO_KILLS` sets the number of kills (default 8 in CI; `make reliability` runs 1000).

#[path = "../../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::process::OperatorProcess;

use kube::api::PostParams;
use kube::{Api, ResourceExt};
use rand::Rng;
use serde_json::json;
use support::fixture::{self, Service};
use support::{control_plane, eventually};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::simulator;

const API_KEY: &str = "storm-api-key";

/// The operator as a real process (SIGKILLed by `kill` or on drop).
fn start_operator(cp: &support::ControlPlane, ns: &str, life: usize) -> OperatorProcess {
    let args = [
        "--namespaces",
        ns,
        "--expected-training-seconds",
        "2",
        "--max-poll-seconds",
        "3",
        "--drift-interval-seconds",
        "5",
        "--metrics-address",
        "127.0.0.1:0",
    ];
    let log = cp.dir.join(format!("crash-storm-{}.log", life % 2));
    OperatorProcess::start(&cp.kubeconfig, &args, &[], &log)
}

#[tokio::test]
async fn killed_again_and_again_it_converges_without_leaks_or_duplicates() {
    let Some(cp) = control_plane() else { return };
    let kills: usize = std::env::var("WSO_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let sim = simulator::start(simulator::SimulatorConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![API_KEY.to_string()],
        auth_required: true,
        time_scale: 0.005,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let admin = sim.admin();
    let ns = cp.namespace("crashstorm").await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;

    let api: Api<CustomLanguageModel> = ns.api();
    let total = 6;
    let doomed = ["m4", "m5"];
    let mut uids = Vec::new();
    for i in 0..total {
        let lm: CustomLanguageModel = serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": format!("m{i}")},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                     "corpora": [{"name": "c", "source": {"text": format!("corpus number {i}")}}],
                     "words": [{"word": "crash", "soundsLike": ["krash"]}]}
        }))
        .expect("lm");
        let created = api
            .create(&PostParams::default(), &lm)
            .await
            .expect("create");
        uids.push((created.name_any(), created.uid().expect("uid")));
    }

    let started = Instant::now();
    let mut rng = rand::rng();
    for k in 0..kills {
        let mut op = start_operator(cp, &ns.name, k);
        let alive = Duration::from_millis(rng.random_range(200..1500));
        tokio::time::sleep(alive).await;
        op.kill();
        if k == kills / 2 {
            for name in doomed {
                api.delete(name, &Default::default()).await.expect("delete");
            }
        }
    }
    if kills < 2 {
        for name in doomed {
            api.delete(name, &Default::default()).await.expect("delete");
        }
    }
    // The last life runs to the end.
    let _last = start_operator(cp, &ns.name, kills);
    for (name, _) in uids.iter().filter(|(n, _)| !doomed.contains(&n.as_str())) {
        eventually(&format!("{name} Ready"), Duration::from_secs(180), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let m = api.get(&name).await.ok()?;
                m.status?
                    .model
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
                    .then_some(())
            }
        })
        .await;
    }
    for name in doomed {
        eventually(&format!("{name} gone"), Duration::from_secs(120), || {
            let api = api.clone();
            async move {
                api.get_opt(name)
                    .await
                    .ok()
                    .flatten()
                    .is_none()
                    .then_some(())
            }
        })
        .await;
    }
    let models = admin.models().await.expect("models");
    for (name, uid) in &uids {
        let n = models
            .iter()
            .filter(|m| m.description.contains(uid.as_str()))
            .count();
        let want = usize::from(!doomed.contains(&name.as_str()));
        assert_eq!(n, want, "{name}: {n} IBM models (want {want})");
    }
    eprintln!(
        "{kills} kills; converged {:.1} s after the first start; {} IBM models for {} live resources",
        started.elapsed().as_secs_f64(),
        models.len(),
        total - doomed.len()
    );
}
