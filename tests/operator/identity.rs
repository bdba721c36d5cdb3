//! Issue 25, point 2: identity that survives a rebuild. The shared operator runs with
//! `--cluster-name` (`support::operator::CLUSTER_NAME`), so its ownership markers are derived
//! from the cluster name and each resource's kind, namespace and name.

use crate::support;

use kube::Api;
use kube::api::DeleteParams;
use serde_json::json;
use support::fixture::language_model;
use support::operator::{self, CLUSTER_NAME, HasModelStatus, condition, wait_for};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::decision::ownership::named_token;
use watson_speech_operator::simulator::admin::AdminClient;
use watson_speech_operator::watson::stt_types::CreateLanguageModel;

use crate::{OPTIONS, apply, id_of, is_available as available};

/// Answered calls of `op` about models named `name` from `since` on.
async fn calls_named(admin: &AdminClient, name: &str, op: &str, since: u64) -> usize {
    admin
        .requests(since)
        .await
        .expect("log")
        .requests
        .iter()
        .filter(|r| r.model_name.as_deref() == Some(name) && r.operation.as_deref() == Some(op))
        .filter(|r| r.status < 300)
        .count()
}

/// Deletes `name` and waits until it is gone.
async fn delete_and_wait(api: &Api<CustomLanguageModel>, name: &str) {
    api.delete(name, &DeleteParams::default())
        .await
        .expect("delete");
    support::eventually(
        &format!("{name} gone"),
        std::time::Duration::from_secs(60),
        || async move {
            api.get_opt(name)
                .await
                .expect("get")
                .is_none()
                .then_some(())
        },
    )
    .await;
}

/// A cluster rebuilt from the same manifests (the resource deleted with `deletionPolicy:
/// Retain`, so its IBM model stays, then applied again: a new UID and no status) re-finds its
/// model by the marker derived from the cluster name: no create, no training, the status rebuilt
/// from the service with the same customization ID.
#[tokio::test]
async fn a_rebuilt_cluster_re_finds_its_models_without_creating_any() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "rebuild").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    let spec = json!({"deletionPolicy": "Retain", "words": [{"word": "tomato"}]});
    let manifest = language_model("kept", spec);
    apply(&api, &manifest).await;
    let first = wait_for(&api, "kept", "Available", 90, available).await;
    let id = id_of(&first);
    let old_uid = first.metadata.uid.clone().expect("uid");
    delete_and_wait(&api, "kept").await;
    let mark = admin.requests(0).await.expect("log").next_seq;
    apply(&api, &manifest).await;
    let again = wait_for(&api, "kept", "Available", 90, available).await;
    assert_ne!(
        again.metadata.uid.as_deref(),
        Some(old_uid.as_str()),
        "a new UID"
    );
    assert_eq!(id_of(&again), id, "the same IBM model");
    let name = format!("{}-kept", ns.name);
    assert_eq!(
        calls_named(&admin, &name, "create_language_model", mark).await,
        0
    );
    assert_eq!(
        calls_named(&admin, &name, "train_language_model", mark).await,
        0
    );
    assert_eq!(
        admin
            .models()
            .await
            .expect("models")
            .iter()
            .filter(|m| m.name == name)
            .count(),
        1
    );
    // The model is the cluster's again: deleting the resource (Retain) leaves it; clean up.
    delete_and_wait(&api, "kept").await;
    admin.delete_model(&id).await.expect("cleanup");
}

/// Another cluster (another `--cluster-name`) sharing the instance made a model for a resource
/// with the same kind, namespace and name (the simulator holds it with that cluster's marker, as
/// that cluster's operator writes it): this cluster creates its own model instead of taking it,
/// refuses to adopt it by ID, and deleting its own resource leaves the other cluster's model.
#[tokio::test]
async fn two_clusters_sharing_an_instance_never_take_each_others_models() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "twoclusters").await else {
        return;
    };
    let name = format!("{}-same", ns.name);
    let theirs_token = named_token("another-cluster", "CustomLanguageModel", &ns.name, "same");
    assert_ne!(
        theirs_token,
        named_token(CLUSTER_NAME, "CustomLanguageModel", &ns.name, "same")
    );
    let theirs = operator::stt_client(&base)
        .create_language_model(&CreateLanguageModel {
            name: name.clone(),
            base_model_name: "en-US_BroadbandModel".into(),
            dialect: None,
            description: Some(format!("[wso:{theirs_token}]")),
        })
        .await
        .expect("create")
        .customization_id;
    let mark = admin.requests(0).await.expect("log").next_seq;
    let api: Api<CustomLanguageModel> = ns.api();
    apply(
        &api,
        &language_model("same", json!({"words": [{"word": "tomato"}]})),
    )
    .await;
    let ours = id_of(&wait_for(&api, "same", "Available", 90, available).await);
    assert_ne!(ours, theirs, "not adopted");
    assert_eq!(
        calls_named(&admin, &name, "create_language_model", mark).await,
        1
    );
    // Adopting theirs by ID is refused.
    apply(
        &api,
        &language_model("adopt-theirs", json!({"customizationId": theirs})),
    )
    .await;
    let refused = wait_for(&api, "adopt-theirs", "AdoptionMismatch", 60, |m| {
        condition(m, "Ready") == Some(("False".into(), "AdoptionMismatch".into()))
    })
    .await;
    let message = refused
        .model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("another cluster"), "{message}");
    // Deleting ours (deletionPolicy Delete) deletes ours and every model with our marker only.
    api.delete("adopt-theirs", &DeleteParams::default())
        .await
        .expect("delete");
    delete_and_wait(&api, "same").await;
    let left: Vec<String> = admin
        .models()
        .await
        .expect("models")
        .into_iter()
        .filter(|m| m.name == name)
        .map(|m| m.customization_id)
        .collect();
    assert_eq!(left, vec![theirs.clone()]);
    let changed = admin
        .requests(mark)
        .await
        .expect("log")
        .requests
        .iter()
        .filter(|r| r.customization_id.as_deref() == Some(theirs.as_str()) && r.method != "GET")
        .count();
    assert_eq!(changed, 0, "their model was never changed");
    admin.delete_model(&theirs).await.expect("cleanup");
}
