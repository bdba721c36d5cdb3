//! The optional kube-controller-manager: ownerReference garbage collection works on the test
//! ground (the operator relies on it for objects it owns).

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ObjectMeta, PostParams};
use support::{Options, control_plane_with, eventually};

#[tokio::test]
async fn owned_objects_are_collected_with_their_owner() {
    let Some(cp) = control_plane_with(Options {
        controller_manager: true,
    }) else {
        return;
    };
    let ns = cp.namespace("gc").await;
    let api = ns.api::<ConfigMap>();
    let owner = api
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("owner");
    let child = ConfigMap {
        metadata: ObjectMeta {
            name: Some("child".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "owner".into(),
                uid: owner.metadata.uid.clone().expect("uid"),
                ..Default::default()
            }]),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &child)
        .await
        .expect("child");
    api.delete("owner", &Default::default())
        .await
        .expect("delete owner");
    eventually(
        "the garbage collector to delete the child",
        Duration::from_secs(90),
        || {
            let api = api.clone();
            async move {
                api.get_opt("child")
                    .await
                    .ok()
                    .flatten()
                    .is_none()
                    .then_some(())
            }
        },
    )
    .await;
}
