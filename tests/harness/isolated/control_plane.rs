//! Proves the test ground is a real Kubernetes API server: CRUD and watches, structural CRDs with
//! a status subresource and CEL validation, RBAC, server-side apply conflicts, and that a broken
//! control plane fails loudly instead of skipping.

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::{
    Api, CustomResource, CustomResourceExt, KubeSchema,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
    runtime::{WatchStreamExt, watcher},
};
use serde::{Deserialize, Serialize};
use support::{control_plane, eventually};

fn cm(name: &str, key: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([(key.to_string(), value.to_string())].into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn configmap_crud_and_watch() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("crud").await;
    let api: Api<ConfigMap> = ns.api();

    // Watch first, so the stream sees the create, the update and the delete.
    let mut events = watcher(api.clone(), watcher::Config::default())
        .touched_objects()
        .boxed();

    api.create(&PostParams::default(), &cm("greeting", "text", "hello"))
        .await
        .expect("create");
    let got = api.get("greeting").await.expect("get");
    assert_eq!(
        got.data
            .as_ref()
            .and_then(|d| d.get("text"))
            .map(String::as_str),
        Some("hello")
    );

    let patch = serde_json::json!({"data": {"text": "bonjour"}});
    let updated = api
        .patch("greeting", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    assert_ne!(
        updated.metadata.resource_version,
        got.metadata.resource_version
    );

    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(obj) = events.try_next().await.expect("watch stream") {
            let text = obj.data.as_ref().and_then(|d| d.get("text")).cloned();
            if text.as_deref() == Some("bonjour") {
                return text;
            }
        }
        None
    })
    .await
    .expect("watch saw the update in time");
    assert_eq!(seen.as_deref(), Some("bonjour"));

    api.delete("greeting", &Default::default())
        .await
        .expect("delete");
    let gone = api.get_opt("greeting").await.expect("get_opt");
    assert!(gone.is_none(), "ConfigMap still there after delete");
}

/// A small CRD with a status subresource and CEL rules, standing in for the operator's kinds.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug)]
#[kube(
    group = "harness.watson.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
#[x_kube(validation = Rule::new("self.min <= self.max").message("spec.min must not exceed spec.max"))]
pub struct WidgetSpec {
    pub min: i32,
    pub max: i32,
    /// Immutable once set.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.color is immutable"))]
    pub color: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, schemars::JsonSchema)]
pub struct WidgetStatus {
    pub seen: bool,
}

fn widget(name: &str, min: i32, max: i32, color: &str) -> Widget {
    Widget::new(
        name,
        WidgetSpec {
            min,
            max,
            color: color.into(),
        },
    )
}

#[tokio::test]
async fn crd_with_status_subresource_and_cel_rules() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("crd").await;
    support::install_crd_objects(&ns.client, &[Widget::crd()])
        .await
        .expect("install Widget CRD");
    let api: Api<Widget> = ns.api();

    // CEL across fields: refused with the rule's message.
    let err = api
        .create(&PostParams::default(), &widget("bad", 5, 1, "red"))
        .await
        .expect_err("min > max must be refused");
    let msg = err.to_string();
    assert!(msg.contains("spec.min must not exceed spec.max"), "{msg}");

    // Valid object.
    let created = api
        .create(&PostParams::default(), &widget("good", 1, 5, "red"))
        .await
        .expect("valid widget");
    assert_eq!(created.metadata.generation, Some(1));

    // Transition rule: immutable field.
    let patch = serde_json::json!({"spec": {"color": "blue"}});
    let err = api
        .patch("good", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect_err("color change must be refused");
    assert!(err.to_string().contains("spec.color is immutable"), "{err}");

    // Status subresource: a status write neither changes the spec nor bumps the generation, and
    // a status field sent to the main resource is ignored.
    let status = serde_json::json!({"status": {"seen": true}});
    let after = api
        .patch_status("good", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status patch");
    assert_eq!(after.status.as_ref().map(|s| s.seen), Some(true));
    assert_eq!(after.metadata.generation, Some(1));
    let main = serde_json::json!({"spec": {"max": 6}, "status": {"seen": false}});
    let after = api
        .patch("good", &PatchParams::default(), &Patch::Merge(&main))
        .await
        .expect("spec patch");
    assert_eq!(after.metadata.generation, Some(2));
    assert_eq!(
        after.status.map(|s| s.seen),
        Some(true),
        "status changed via main resource"
    );
}

#[tokio::test]
async fn rbac_denies_a_service_account_without_rights() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("rbac").await;
    let sa_client = cp.service_account_client(&ns.name, "nobody").await;
    let as_sa: Api<ConfigMap> = Api::namespaced(sa_client.clone(), &ns.name);

    let err = as_sa
        .list(&Default::default())
        .await
        .expect_err("no rights yet");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403, "{s:?}");
            assert!(
                s.message
                    .contains(&format!("system:serviceaccount:{}:nobody", ns.name)),
                "{}",
                s.message
            );
        }
        other => panic!("expected 403, got {other}"),
    }

    // Grant read-only access to ConfigMaps: list works, create is still denied.
    let role = Role {
        metadata: ObjectMeta {
            name: Some("cm-reader".into()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["configmaps".into()]),
            verbs: vec!["get".into(), "list".into()],
            ..Default::default()
        }]),
    };
    ns.api::<Role>()
        .create(&PostParams::default(), &role)
        .await
        .expect("role");
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("cm-reader".into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "cm-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "nobody".into(),
            namespace: Some(ns.name.clone()),
            ..Default::default()
        }]),
    };
    ns.api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await
        .expect("binding");

    eventually(
        "the binding to take effect",
        Duration::from_secs(20),
        || {
            let as_sa = as_sa.clone();
            async move { as_sa.list(&Default::default()).await.ok() }
        },
    )
    .await;
    let err = as_sa
        .create(&PostParams::default(), &cm("x", "k", "v"))
        .await
        .expect_err("create still denied");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err}"
    );
}

#[tokio::test]
async fn server_side_apply_conflict_between_managers() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("ssa").await;
    let api: Api<ConfigMap> = ns.api();

    let first = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "shared"},
        "data": {"owner": "alpha"}
    });
    api.patch(
        "shared",
        &PatchParams::apply("alpha"),
        &Patch::Apply(&first),
    )
    .await
    .expect("alpha applies");

    let second = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "shared"},
        "data": {"owner": "beta"}
    });
    let err = api
        .patch(
            "shared",
            &PatchParams::apply("beta"),
            &Patch::Apply(&second),
        )
        .await
        .expect_err("beta must conflict with alpha");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409, "{s:?}");
            assert!(
                s.message.contains("alpha"),
                "conflict names the manager: {}",
                s.message
            );
        }
        other => panic!("expected a 409 conflict, got {other}"),
    }

    // Forcing takes ownership.
    let forced = api
        .patch(
            "shared",
            &PatchParams::apply("beta").force(),
            &Patch::Apply(&second),
        )
        .await
        .expect("forced apply");
    assert_eq!(
        forced.data.and_then(|d| d.get("owner").cloned()).as_deref(),
        Some("beta")
    );
}

/// `make test` must fail, not skip, when the control plane cannot start. This re-runs one test
/// of this binary with the harness pointed at a directory without binaries.
#[test]
fn missing_binaries_fail_loudly_when_required() {
    if std::env::var_os("WSO_HARNESS_CHILD").is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let missing = tempfile::tempdir().expect("tempdir");
    let run = |required: &str| {
        std::process::Command::new(&exe)
            .args(["configmap_crud_and_watch", "--exact", "--nocapture"])
            .env("WSO_K8S_BINS", missing.path())
            .env("WSO_REQUIRE_CONTROL_PLANE", required)
            .env("WSO_HARNESS_CHILD", "1")
            .output()
            .expect("run child test")
    };

    let required = run("1");
    let out = String::from_utf8_lossy(&required.stdout).to_string()
        + &String::from_utf8_lossy(&required.stderr);
    assert!(
        !required.status.success(),
        "must fail when required:\n{out}"
    );
    assert!(
        out.contains("make k8s-bins"),
        "message names the fix:\n{out}"
    );

    let optional = run("0");
    let out = String::from_utf8_lossy(&optional.stderr);
    assert!(
        optional.status.success(),
        "may skip when not required:\n{out}"
    );
    assert!(
        out.contains("SKIPPING control-plane test"),
        "skip is loud:\n{out}"
    );
}

/// A test binary leaves no control-plane directory behind (etcd's data is about 130 MB per
/// binary; before the cleaner, a full `make test` filled the CI disk with them and etcd failed
/// with "no space left on device"). Re-runs one test of this binary with its own temporary
/// directory and waits for the directory it used to disappear after the binary exits.
#[test]
fn a_test_binary_leaves_no_control_plane_directory() {
    if std::env::var_os("WSO_HARNESS_CHILD").is_some() {
        return;
    }
    if control_plane().is_none() {
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(&exe)
        .args(["configmap_crud_and_watch", "--exact", "--nocapture"])
        .env("TMPDIR", tmp.path())
        .env("WSO_HARNESS_CHILD", "1")
        .env_remove("WSO_KEEP_CONTROL_PLANE_DIR")
        .output()
        .expect("run child test");
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "child test failed:\n{log}");
    let planes = || -> Vec<String> {
        std::fs::read_dir(tmp.path())
            .expect("read tempdir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("wso-controlplane-"))
            .collect()
    };
    assert!(
        log.contains(&format!("(dir {}/wso-controlplane-", tmp.path().display())),
        "the child's control plane lived in the given directory:\n{log}"
    );
    // The cleaner waits for the watchdogs (about 3 s); a generous deadline for a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !planes().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(planes(), Vec::<String>::new(), "left behind");
}
