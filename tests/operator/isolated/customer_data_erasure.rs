//! Issue 13, item 3: customer data erasure, end to end on the real API server with the simulator.
//! The annotation `speech.watson.dev/erase-customer-data-requested-at` on a SpeechService with
//! `spec.customerId` waits (naming them) while model resources use the service, then deletes all
//! data labelled with the ID once (`DELETE /v1/user_data`), records it in status and an Event,
//! and nothing uploads the data again. Without a customer ID it is refused with no call.

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::operator::{self, HasModelStatus, is_ready, wait_for};
use support::{control_plane, fixture};
use watson_speech_operator::crd::{
    CustomLanguageModel, ERASE_CUSTOMER_DATA_REQUESTED_AT, SpeechService,
};
use watson_speech_operator::simulator::admin::AdminClient;
use watson_speech_operator::watson::{Auth, ClientConfig, SttClient};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 600,
    model_quota: 1024,
    cluster_name: None,
};

/// The `CustomerDataErased` condition of a service: (status, reason, message).
async fn erasure_condition(
    api: &Api<SpeechService>,
    name: &str,
) -> Option<(String, String, String)> {
    let s = api.get(name).await.ok()?.status?;
    s.conditions
        .iter()
        .find(|c| c.type_ == "CustomerDataErased")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn wait_erasure(
    api: &Api<SpeechService>,
    name: &str,
    reason: &str,
) -> (String, String, String) {
    let api = api.clone();
    support::eventually(
        &format!("CustomerDataErased {reason} on {name}"),
        Duration::from_secs(90),
        || {
            let api = api.clone();
            async move {
                erasure_condition(&api, name)
                    .await
                    .filter(|(_, r, _)| r == reason)
            }
        },
    )
    .await
}

async fn erasures(admin: &AdminClient) -> Vec<u16> {
    admin
        .requests(0)
        .await
        .expect("log")
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("delete_stt_user_data"))
        .map(|r| r.status)
        .collect()
}

async fn annotate(api: &Api<SpeechService>, name: &str, key: &str, value: &str) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {key: value}}})),
    )
    .await
    .expect("annotate");
}

#[tokio::test]
async fn customer_data_is_erased_once_after_the_models_are_gone() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start(cp, OPTIONS);
    let (ns, admin) = operator::namespace(cp, base, "erase").await;
    let services: Api<SpeechService> = ns.api();
    let labelled: SpeechService = fixture::manifest(
        "stt-labelled",
        json!({"service": "SpeechToText", "url": format!("{base}/speech-to-text"),
               "customerId": "tenant-a", "auth": fixture::iam_auth(base, "creds")}),
    );
    services
        .create(&PostParams::default(), &labelled)
        .await
        .expect("create service");

    // A model on the labelled service, kept on the service when its resource goes.
    let api: Api<CustomLanguageModel> = ns.api();
    let model: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "kept"},
        "spec": {"serviceRef": {"name": "stt-labelled"}, "baseModelName": "en-US_BroadbandModel",
                 "deletionPolicy": "Retain",
                 "corpora": [{"name": "c1", "source": {"text": "tenant a talks about routers"}}],
                 "words": [{"word": "tomato", "soundsLike": ["tomahto"]}]}
    }))
    .expect("lm");
    api.create(&PostParams::default(), &model)
        .await
        .expect("create lm");
    let m = wait_for(&api, "kept", "Ready", 120, is_ready).await;
    let id = m
        .model()
        .and_then(|s| s.customization_id.clone())
        .expect("customization id");
    let stt = SttClient::new(ClientConfig::new(
        url::Url::parse(&format!("{base}/speech-to-text")).expect("url"),
        Auth::Iam {
            api_key: operator::API_KEY.to_string().into(),
            url: url::Url::parse(base).expect("iam"),
        },
    ))
    .expect("client");
    let corpora = stt.list_corpora(&id).await.expect("corpora").corpora;
    assert_eq!(corpora.len(), 1, "the labelled corpus is there");

    // Requested while the model resource uses the service: it waits, naming it; no call.
    annotate(
        &services,
        "stt-labelled",
        ERASE_CUSTOMER_DATA_REQUESTED_AT,
        "t1",
    )
    .await;
    let (status, _, message) =
        wait_erasure(&services, "stt-labelled", "ModelsStillUseService").await;
    assert_eq!(status, "False");
    assert!(message.contains("CustomLanguageModel/kept"), "{message}");
    assert!(
        erasures(&admin).await.is_empty(),
        "no erasure while models remain"
    );

    // The resource goes (its model stays on the service: Retain); then the erasure runs once.
    api.delete("kept", &DeleteParams::default())
        .await
        .expect("delete");
    support::eventually("the resource gone", Duration::from_secs(60), || {
        let api = api.clone();
        async move { api.get_opt("kept").await.ok()?.is_none().then_some(()) }
    })
    .await;
    let (status, _, message) = wait_erasure(&services, "stt-labelled", "Erased").await;
    assert_eq!(status, "True");
    assert!(message.contains("tenant-a"), "{message}");
    assert_eq!(erasures(&admin).await, vec![200]);
    let record = services
        .get("stt-labelled")
        .await
        .expect("get")
        .status
        .and_then(|s| s.customer_data_erasure)
        .expect("recorded");
    assert_eq!(
        (record.requested_at.as_str(), record.customer_id.as_str()),
        ("t1", "tenant-a")
    );
    // The labelled data is gone from the model left on the service.
    assert!(
        stt.list_corpora(&id)
            .await
            .expect("corpora")
            .corpora
            .is_empty()
    );
    let events: Api<Event> = ns.api();
    let erased_events = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("CustomerDataErased"))
        .count();
    assert_eq!(erased_events, 1, "one Event");

    // Another change to the service (not a new token) erases nothing again, and nothing
    // uploads the data again.
    let mark = admin.requests(0).await.expect("log").next_seq;
    annotate(&services, "stt-labelled", "example.com/touched", "yes").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(erasures(&admin).await, vec![200], "once per token");
    let uploads: Vec<String> = admin
        .requests(mark)
        .await
        .expect("log")
        .requests
        .iter()
        .filter_map(|r| r.operation.clone())
        .filter(|op| op.starts_with("add_") || op.starts_with("create_"))
        .collect();
    assert!(uploads.is_empty(), "nothing uploaded again: {uploads:?}");

    // A service without a customer ID: refused with the field named, no call.
    annotate(&services, "stt", ERASE_CUSTOMER_DATA_REQUESTED_AT, "t1").await;
    let (status, _, message) = wait_erasure(&services, "stt", "NoCustomerId").await;
    assert_eq!(status, "False");
    assert!(message.contains("spec.customerId"), "{message}");
    assert_eq!(erasures(&admin).await, vec![200]);
    let _ = m.name_any();
}
