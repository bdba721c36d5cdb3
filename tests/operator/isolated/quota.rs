//! The per-instance model quota (IBM: 1024 custom language models). With the simulator's cap
//! and the operator's quota lowered to 3: the operator never sends a create past the cap, the
//! fourth model reports QuotaExceeded, and the SpeechService warns at 90 %.

#[path = "../../support/mod.rs"]
mod support;

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;
use support::control_plane;
use support::operator::{self, condition, is_ready, wait_for};
use watson_speech_operator::crd::{CustomLanguageModel, SpeechService};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 3,
    cluster_name: None,
};

#[tokio::test]
async fn no_create_past_the_quota() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start(cp, OPTIONS);
    let (ns, admin) = operator::namespace(cp, base, "quota").await;
    let api: Api<CustomLanguageModel> = ns.api();
    for i in 0..4 {
        let lm: CustomLanguageModel = serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": format!("m{i}")},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                     "corpora": [{"name": "c", "source": {"text": "quota test"}}]}
        }))
        .expect("lm");
        api.create(&PostParams::default(), &lm)
            .await
            .expect("create");
    }
    // Three become Ready, one reports the quota; which one is a race.
    let mut ready = 0;
    let mut blocked = Vec::new();
    for i in 0..4 {
        let name = format!("m{i}");
        let m = wait_for(&api, &name, "Ready or QuotaExceeded", 120, |m| {
            is_ready(m) || condition(m, "Ready").is_some_and(|(_, r)| r == "QuotaExceeded")
        })
        .await;
        if is_ready(&m) {
            ready += 1;
        } else {
            blocked.push(name);
        }
    }
    assert_eq!((ready, blocked.len()), (3, 1), "blocked: {blocked:?}");
    let creates: Vec<u16> = admin
        .requests(0)
        .await
        .expect("log")
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("create_language_model"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        creates,
        vec![201, 201, 201],
        "no create was sent past the cap"
    );

    // The service warns at 90 % (3 of 3), with a Warning Event.
    let services: Api<SpeechService> = ns.api();
    support::eventually(
        "QuotaNearlyExhausted",
        std::time::Duration::from_secs(60),
        || {
            let services = services.clone();
            async move {
                let s = services.get("stt").await.ok()?.status?;
                s.conditions
                    .iter()
                    .any(|c| c.reason == "QuotaNearlyExhausted")
                    .then_some(())
            }
        },
    )
    .await;
    let events: Api<Event> = ns.api();
    support::eventually(
        "a QuotaNearlyExhausted Warning Event",
        std::time::Duration::from_secs(20),
        || {
            let events = events.clone();
            async move {
                events
                    .list(&ListParams::default())
                    .await
                    .ok()?
                    .items
                    .iter()
                    .any(|e| {
                        e.reason.as_deref() == Some("QuotaNearlyExhausted")
                            && e.type_.as_deref() == Some("Warning")
                    })
                    .then_some(())
            }
        },
    )
    .await;

    // Deleting one model makes room; the blocked one is created.
    let freed = ["m0", "m1", "m2", "m3"]
        .into_iter()
        .find(|n| !blocked.iter().any(|b| b == n))
        .expect("a ready model");
    api.delete(freed, &Default::default())
        .await
        .expect("delete");
    wait_for(&api, &blocked[0], "Ready once there is room", 180, is_ready).await;
}
