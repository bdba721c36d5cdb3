//! Crash injection at random moments: the operator process is SIGKILLed again and again while
//! models go through their lifecycles, the simulator loses answers after acting on them (the
//! lost-answer fault, issue 24), and resources are deleted in the middle of every phase
//! (creating, processing data, training, available: one resource each, deleted when a look
//! between two kills finds it in that phase). After it converges: exactly one IBM model per live
//! resource, none for deleted resources, every resource Ready, no manual step. It prints the
//! counts `docs/reliability.md` reports: resources, kills, lost answers, models left for deleted
//! resources, duplicates, and the phases a deletion hit.
//!
//! `WSO_KILLS` sets the number of kills (default 8 in CI; `make reliability` runs 1000);
//! `WSO_LOST_ANSWER_RATE` the share of writes whose answer is lost (default 0.1).

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
    let sim = support::operator::own_simulator(API_KEY, 0.005).await;
    let admin = sim.admin();
    let ns = cp.namespace("crashstorm").await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;

    let lost_rate: f64 = std::env::var("WSO_LOST_ANSWER_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.1);
    admin
        .set_faults(&simulator::Faults {
            lost_answer_rate: lost_rate,
            ..Default::default()
        })
        .await
        .expect("faults");
    let api: Api<CustomLanguageModel> = ns.api();
    let total = 10;
    // The resources deleted during the storm, one per phase, chosen among these when a look
    // finds one in that phase.
    let candidates = ["m6", "m7", "m8", "m9"];
    let phases = ["Creating", "Processing", "Training", "Available"];
    let mut doomed: Vec<String> = Vec::new();
    let mut hit: Vec<&str> = Vec::new();
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
        // A deletion in the middle of each phase not hit yet, of a resource now in it.
        for name in candidates {
            if doomed.iter().any(|d| d == name) {
                continue;
            }
            let Ok(m) = api.get(name).await else { continue };
            let phase = m
                .status
                .as_ref()
                .and_then(|s| s.model.phase.as_ref())
                .map(|p| p.to_string())
                .unwrap_or_else(|| "Creating".into());
            if let Some(p) = phases.iter().find(|p| **p == phase && !hit.contains(p)) {
                api.delete(name, &Default::default()).await.expect("delete");
                doomed.push(name.to_string());
                hit.push(p);
            }
        }
        op.kill();
    }
    // Candidates no phase caught are deleted now (a short storm may not see every phase).
    for name in candidates {
        if !doomed.iter().any(|d| d == name) {
            api.delete(name, &Default::default()).await.expect("delete");
            doomed.push(name.to_string());
        }
    }
    // The last life runs to the end.
    let _last = start_operator(cp, &ns.name, kills);
    for (name, _) in uids.iter().filter(|(n, _)| !doomed.contains(n)) {
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
    for name in &doomed {
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
    let lost = admin.counters().await.expect("counters").lost_answers;
    admin.clear_faults().await.expect("faults");
    let (mut left_for_deleted, mut duplicates) = (0, 0);
    for (name, uid) in &uids {
        let n = models
            .iter()
            .filter(|m| m.description.contains(uid.as_str()))
            .count();
        if doomed.contains(name) {
            left_for_deleted += n;
        } else {
            duplicates += n.saturating_sub(1);
        }
    }
    eprintln!(
        "crash storm: {total} resources ({} deleted during the storm, phases hit: {hit:?}), {kills} kills, {lost} lost answers (rate {lost_rate}), {left_for_deleted} models left for deleted resources, {duplicates} duplicates; converged {:.1} s after the first start; {} IBM models for {} live resources",
        doomed.len(),
        started.elapsed().as_secs_f64(),
        models.len(),
        total - doomed.len()
    );
    for (name, uid) in &uids {
        let n = models
            .iter()
            .filter(|m| m.description.contains(uid.as_str()))
            .count();
        let want = usize::from(!doomed.contains(name));
        assert_eq!(n, want, "{name}: {n} IBM models (want {want})");
    }
}
