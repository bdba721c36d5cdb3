//! The Helm chart on the real API server: `helm lint`, `helm template` with default values,
//! with watched namespaces and with monitoring on, every rendered object accepted by
//! kube-apiserver (server-side apply, dry run, strict field validation), the pod template
//! admitted under Pod Security "restricted", RBAC without wildcards, with read-only Secrets and
//! ConfigMaps written only as `spec.export` needs (create, update, delete), the committed `deploy/operator.yaml` and chart CRDs current, and the operator
//! running as the chart's ServiceAccount (a token for that identity, the chart's Roles only)
//! taking a language model to Ready and exporting it to a ConfigMap.
//!
//! ServiceMonitor: the API server only accepts it when its CRD exists, so the test installs a
//! minimal ServiceMonitor CRD whose schema covers the fields the chart renders (selector,
//! namespaceSelector, endpoints) with the Prometheus Operator's duration pattern. With strict
//! field validation a misspelt field is refused, which `--api-versions` alone would not prove.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams, ValidationDirective,
};
use kube::{Api, Client};
use serde_json::{Value, json};
use support::fixture::{self, Service};
use support::{ControlPlane, control_plane, eventually};
use watson_speech_operator::crd::CustomLanguageModel;

const CHART: &str = "charts/watson-speech-operator";
const API_KEY: &str = "chart-api-key";

pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn helm(cp: &ControlPlane, args: &[&str]) -> String {
    let out = Command::new(cp.bins.join("helm"))
        .args(args)
        .current_dir(repo())
        .env("HELM_CACHE_HOME", cp.dir.join("helm-cache"))
        .env("HELM_CONFIG_HOME", cp.dir.join("helm-config"))
        .env("HELM_DATA_HOME", cp.dir.join("helm-data"))
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `helm template` of the chart into `namespace` with `sets`; every document as JSON.
pub(crate) fn render(cp: &ControlPlane, namespace: &str, sets: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "template",
        "wso",
        CHART,
        "--namespace",
        namespace,
        "--include-crds",
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    parse_docs(&helm(cp, &args))
}

pub(crate) fn parse_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| {
            let v: Value = serde::Deserialize::deserialize(d).expect("yaml");
            (!v.is_null()).then_some(v)
        })
        .collect()
}

pub(crate) fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

/// Server-side applies `obj` (dry run unless `for_real`), with strict field validation.
async fn apply(client: &Client, obj: &Value, for_real: bool) -> Result<(), String> {
    let (group, version) = match obj["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .split_once('/')
    {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            obj["apiVersion"].as_str().unwrap_or_default().to_string(),
        ),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, kind(obj));
    let (ar, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|e| format!("discovery of {gvk:?}: {e}"))?;
    let api: Api<DynamicObject> = match obj["metadata"]["namespace"].as_str() {
        Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
            Api::namespaced_with(client.clone(), ns, &ar)
        }
        _ => Api::all_with(client.clone(), &ar),
    };
    let mut pp = PatchParams::apply("wso-chart-test").force();
    pp.field_validation = Some(ValidationDirective::Strict);
    if !for_real {
        pp = pp.dry_run();
    }
    api.patch(name(obj), &pp, &Patch::Apply(obj))
        .await
        .map(|_| ())
        .map_err(|e| format!("{} {}: {e}", kind(obj), name(obj)))
}

pub(crate) async fn restricted_namespace(
    cp: &'static ControlPlane,
    prefix: &str,
) -> support::TestNamespace {
    let ns = cp.namespace(prefix).await;
    Api::<Namespace>::all(ns.client.clone())
        .patch(
            &ns.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest"
            }}})),
        )
        .await
        .expect("label namespace");
    ns
}

/// A ServiceMonitor CRD covering the fields the chart renders.
async fn install_service_monitor_crd(client: &Client) {
    let duration = "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com", "scope": "Namespaced",
            "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList",
                      "plural": "servicemonitors", "singular": "servicemonitor"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": {"type": "object", "required": ["selector", "endpoints"], "properties": {
                        "selector": {"type": "object", "properties": {
                            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "matchExpressions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                        }},
                        "namespaceSelector": {"type": "object", "properties": {
                            "any": {"type": "boolean"},
                            "matchNames": {"type": "array", "items": {"type": "string"}}
                        }},
                        "endpoints": {"type": "array", "items": {"type": "object", "properties": {
                            "port": {"type": "string"}, "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": duration},
                            "scrapeTimeout": {"type": "string", "pattern": duration}
                        }}}
                    }}
                }
            }}}]
        }
    }))
    .expect("crd");
    support::install_crd_objects(client, &[crd])
        .await
        .expect("ServiceMonitor CRD");
}

/// Every rendered object is accepted (dry run); the Deployment's pod template is admitted as a
/// Pod in a namespace enforcing "restricted" (and a pod without hardening is not, which proves
/// the namespace enforces).
pub(crate) async fn accept_all(client: &Client, objs: &[Value], release_ns: &str) {
    for o in objs {
        apply(client, o, false)
            .await
            .unwrap_or_else(|e| panic!("rejected: {e}"));
    }
    // A pod needs its ServiceAccount to exist.
    for o in objs.iter().filter(|o| kind(o) == "ServiceAccount") {
        apply(client, o, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let deployment = objs
        .iter()
        .find(|o| kind(o) == "Deployment")
        .expect("a Deployment");
    let template = &deployment["spec"]["template"];
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "wso-template-check", "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }))
    .expect("pod");
    let pods: Api<Pod> = Api::namespaced(client.clone(), release_ns);
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    pods.create(&dry, &pod)
        .await
        .expect("the chart's pod template is admitted under Pod Security restricted");
    let mut bare = pod.clone();
    if let Some(spec) = bare.spec.as_mut() {
        spec.security_context = None;
        for c in &mut spec.containers {
            c.security_context = None;
        }
    }
    let refused = pods.create(&dry, &bare).await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(s)) if s.code == 403),
        "a pod without hardening must be refused in the restricted namespace: {refused:?}"
    );
}

/// No wildcard anywhere; Secrets read-only; ConfigMaps read-only except create, update and delete
/// for `spec.export` (with `rbac.exportConfigMaps`, the default) in Roles only, never in the
/// ClusterRole; only the four kinds of the group.
fn check_rules(objs: &[Value], export_config_maps: bool) {
    let mut seen = 0;
    for o in objs
        .iter()
        .filter(|o| matches!(kind(o), "ClusterRole" | "Role"))
    {
        for rule in o["rules"].as_array().expect("rules") {
            seen += 1;
            let list = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (groups, resources, verbs) = (list("apiGroups"), list("resources"), list("verbs"));
            for v in groups.iter().chain(&resources).chain(&verbs) {
                assert!(
                    !v.contains('*'),
                    "wildcard in {} {}: {rule}",
                    kind(o),
                    name(o)
                );
            }
            assert!(rule.get("nonResourceURLs").is_none(), "{rule}");
            if resources.iter().any(|r| r == "secrets") {
                // Read, and patched in a rule of its own for the in-use finalizer (issue 24);
                // never created, updated or deleted.
                let read_only = verbs
                    .iter()
                    .all(|v| ["get", "list", "watch"].contains(&v.as_str()));
                let finalizer_only = verbs == ["patch"] && resources == ["secrets"];
                assert!(
                    read_only || finalizer_only,
                    "Secrets: read, or patch alone (the in-use finalizer): {rule}"
                );
            }
            if resources.iter().any(|r| r == "configmaps") {
                assert!(
                    !resources.iter().any(|r| r == "secrets"),
                    "ConfigMaps are written (spec.export): never in one rule with Secrets: {rule}"
                );
                // Read for inputs; create, update and delete for spec.export; never patch or
                // deletecollection.
                let allowed: &[&str] = if export_config_maps {
                    &["get", "list", "watch", "create", "update", "delete"]
                } else {
                    &["get", "list", "watch"]
                };
                assert!(
                    verbs.iter().all(|v| allowed.contains(&v.as_str())),
                    "ConfigMaps: at most {allowed:?}: {rule}"
                );
                // Least privilege (issue 26): never a cluster-wide ConfigMap write.
                if kind(o) == "ClusterRole" {
                    assert!(
                        verbs
                            .iter()
                            .all(|v| ["get", "list", "watch"].contains(&v.as_str())),
                        "ConfigMap writes only in Roles, where models export: {rule}"
                    );
                }
            }
            if groups.iter().any(|g| g == "speech.watson.dev") {
                for r in &resources {
                    let base = r.split('/').next().unwrap_or_default();
                    assert!(
                        [
                            "speechservices",
                            "customlanguagemodels",
                            "customacousticmodels",
                            "customvoicemodels"
                        ]
                        .contains(&base),
                        "{r}"
                    );
                }
                assert!(
                    !verbs
                        .iter()
                        .any(|v| v == "create" || v == "delete" || v == "deletecollection"),
                    "the operator never creates or deletes the users' objects: {rule}"
                );
            }
        }
    }
    assert!(seen > 0, "no RBAC rules rendered");
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let generated = std::fs::read(repo().join("crds/speech.watson.dev.yaml")).expect("crds/");
    let chart = std::fs::read(repo().join(CHART).join("files/crds/speech.watson.dev.yaml"))
        .expect("chart files/crds/");
    assert!(
        generated == chart,
        "charts/watson-speech-operator/files/crds/ differs from crds/: run `make deploy-manifests`"
    );
}

/// Issue 25, point 3: the CRDs are templates, so `helm upgrade` upgrades them (a chart's `crds/`
/// folder is never upgraded), rendered without `--include-crds`; each carries the schema
/// version and, unless `crds.keep=false`, `helm.sh/resource-policy: keep`; `crds.enabled=false`
/// renders none.
#[tokio::test]
async fn crds_are_templates_kept_on_uninstall() {
    let Some(cp) = control_plane() else {
        return;
    };
    let crds = |sets: &[&str]| -> Vec<Value> {
        let mut args = vec!["template", "wso", CHART, "--namespace", "wso"];
        for s in sets {
            args.push("--set");
            args.push(s);
        }
        parse_docs(&helm(cp, &args))
            .into_iter()
            .filter(|o| kind(o) == "CustomResourceDefinition")
            .collect()
    };
    let generated = watson_speech_operator::crd::all();
    let default = crds(&[]);
    assert_eq!(default.len(), generated.len());
    for (rendered, ours) in default.iter().zip(&generated) {
        assert_eq!(
            rendered["metadata"]["name"].as_str(),
            ours.metadata.name.as_deref()
        );
        let annotations = &rendered["metadata"]["annotations"];
        assert_eq!(annotations["helm.sh/resource-policy"], "keep");
        assert_eq!(
            annotations[watson_speech_operator::crd::SCHEMA_VERSION_ANNOTATION],
            watson_speech_operator::crd::SCHEMA_VERSION
        );
        let spec: Value = serde_json::to_value(&ours.spec).expect("spec");
        assert_eq!(rendered["spec"], spec, "the generated schema, unchanged");
    }
    let not_kept = crds(&["crds.keep=false"]);
    assert_eq!(not_kept.len(), generated.len());
    assert!(
        not_kept
            .iter()
            .all(|o| o["metadata"]["annotations"]["helm.sh/resource-policy"].is_null())
    );
    assert!(crds(&["crds.enabled=false"]).is_empty());
}

#[tokio::test]
async fn helm_lint_and_deploy_manifest_is_current() {
    let Some(cp) = control_plane() else {
        return;
    };
    helm(cp, &["lint", "--strict", CHART]);
    helm(
        cp,
        &[
            "lint",
            "--strict",
            CHART,
            "--set",
            "watchNamespaces={team-a,team-b}",
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "networkPolicy.enabled=true",
        ],
    );
    // The values schema refuses a wrong type.
    let bad = Command::new(cp.bins.join("helm"))
        .args([
            "template",
            "wso",
            CHART,
            "--set",
            "operator.concurrency=zero",
        ])
        .current_dir(repo())
        .output()
        .expect("helm");
    assert!(
        !bad.status.success(),
        "values.schema.json must refuse concurrency=zero"
    );
    // Two replicas without leader election are refused.
    let bad = Command::new(cp.bins.join("helm"))
        .args([
            "template",
            "wso",
            CHART,
            "--set",
            "replicaCount=2",
            "--set",
            "leaderElection.enabled=false",
        ])
        .current_dir(repo())
        .output()
        .expect("helm");
    assert!(!bad.status.success(), "replicas > 1 need leader election");

    // deploy/operator.yaml = the Namespace + `helm template` with defaults (make deploy-manifests).
    let rendered = helm(
        cp,
        &[
            "template",
            "watson-speech-operator",
            CHART,
            "--namespace",
            "watson-speech-operator",
            "--include-crds",
        ],
    );
    let expected = format!(
        "# Generated by `make deploy-manifests`: the Namespace, then `helm template` of\n\
         # charts/watson-speech-operator with default values and its CRDs. Do not edit.\n\
         apiVersion: v1\nkind: Namespace\nmetadata:\n  name: watson-speech-operator\n  labels:\n    \
         pod-security.kubernetes.io/enforce: restricted\n{rendered}"
    );
    let committed = std::fs::read_to_string(repo().join("deploy/operator.yaml")).expect("deploy/");
    assert!(
        committed == expected,
        "deploy/operator.yaml is stale: run `make deploy-manifests`"
    );
}

#[tokio::test]
async fn default_values_render_objects_the_api_server_accepts() {
    let Some(cp) = control_plane() else {
        return;
    };
    let ns = restricted_namespace(cp, "chart-default").await;
    let objs = render(cp, &ns.name, &[]);
    let kinds: Vec<&str> = objs.iter().map(kind).collect();
    for k in [
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(!kinds.contains(&"ServiceMonitor") && !kinds.contains(&"NetworkPolicy"));
    check_rules(&objs, true);
    accept_all(&ns.client, &objs, &ns.name).await;

    // The committed all-in-one manifest is accepted as well (its Namespace created for real,
    // the rest dry run).
    let text = std::fs::read_to_string(repo().join("deploy/operator.yaml")).expect("deploy/");
    for o in parse_docs(&text) {
        apply(&ns.client, &o, kind(&o) == "Namespace")
            .await
            .unwrap_or_else(|e| panic!("deploy/operator.yaml rejected: {e}"));
    }
}

#[tokio::test]
async fn watched_namespaces_get_roles_not_a_cluster_role() {
    let Some(cp) = control_plane() else {
        return;
    };
    let ns = restricted_namespace(cp, "chart-scoped").await;
    let (a, b) = (cp.namespace("team-a").await, cp.namespace("team-b").await);
    let set = format!("watchNamespaces={{{},{}}}", a.name, b.name);
    let objs = render(cp, &ns.name, &[&set]);
    assert!(
        !objs
            .iter()
            .any(|o| matches!(kind(o), "ClusterRole" | "ClusterRoleBinding")),
        "no cluster-wide rights with watchNamespaces"
    );
    for team in [&a.name, &b.name] {
        assert!(objs.iter().any(
            |o| kind(o) == "Role" && o["metadata"]["namespace"].as_str() == Some(team.as_str())
        ));
        assert!(objs.iter().any(|o| kind(o) == "RoleBinding"
            && o["metadata"]["namespace"].as_str() == Some(team.as_str())));
    }
    let deployment = objs
        .iter()
        .find(|o| kind(o) == "Deployment")
        .expect("deployment");
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("env");
    assert!(env.iter().any(|e| e["name"] == "WSO_NAMESPACES"
        && e["value"].as_str() == Some(format!("{},{}", a.name, b.name).as_str())));
    check_rules(&objs, true);
    accept_all(&ns.client, &objs, &ns.name).await;
}

#[tokio::test]
async fn monitoring_on_renders_service_monitor_and_network_policy() {
    let Some(cp) = control_plane() else {
        return;
    };
    let ns = restricted_namespace(cp, "chart-monitoring").await;
    install_service_monitor_crd(&ns.client).await;
    let objs = render(
        cp,
        &ns.name,
        &[
            "metrics.serviceMonitor.enabled=true",
            "networkPolicy.enabled=true",
            "replicaCount=2",
        ],
    );
    let kinds: Vec<&str> = objs.iter().map(kind).collect();
    assert!(kinds.contains(&"ServiceMonitor") && kinds.contains(&"NetworkPolicy"));
    check_rules(&objs, true);
    accept_all(&ns.client, &objs, &ns.name).await;
    // Without spec.export rights, ConfigMaps are read-only.
    check_rules(
        &render(cp, &ns.name, &["rbac.exportConfigMaps=false"]),
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_as_the_chart_service_account_takes_a_language_model_to_ready() {
    let Some(cp) = control_plane() else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("WSO_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        ))
        .with_test_writer()
        .try_init();
    let home = cp.namespace("chart-home").await;
    let watched = cp.namespace("chart-watched").await;
    let set = format!("watchNamespaces={{{}}}", watched.name);
    let objs = render(cp, &home.name, &[&set]);
    // The identity and its rights, for real (the Deployment cannot run without a scheduler).
    for o in objs
        .iter()
        .filter(|o| matches!(kind(o), "ServiceAccount" | "Role" | "RoleBinding"))
    {
        apply(&home.client, o, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let sa = objs
        .iter()
        .find(|o| kind(o) == "ServiceAccount")
        .map(|o| name(o).to_string())
        .expect("service account");
    let client = cp.service_account_client(&home.name, &sa).await;

    // Leader election works with the chart's Lease rights.
    let lease_name = "watson-speech-operator";
    let health = watson_speech_operator::telemetry::Health::new(true);
    let metrics = std::sync::Arc::new(watson_speech_operator::metrics::Metrics::new());
    let mut elector = watson_speech_operator::leader::Elector::start(
        client.clone(),
        watson_speech_operator::leader::LeaseConfig::new(&home.name, lease_name),
        health.clone(),
        metrics.clone(),
    )
    .await
    .expect("lease as the chart's service account");
    tokio::time::timeout(Duration::from_secs(20), elector.acquired())
        .await
        .expect("elected within 20 s");

    let sim = support::operator::own_simulator(API_KEY, 0.002).await;
    let base = sim.base_url();
    let (synced_tx, mut synced_rx) = tokio::sync::watch::channel(false);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let settings = watson_speech_operator::reconcile::context::Settings {
        drift_interval: Duration::from_secs(30),
        max_poll_interval: Duration::from_secs(5),
        expected_training: Duration::from_secs(2),
        ..Default::default()
    };
    let operator = tokio::spawn(watson_speech_operator::reconcile::run::run_with(
        client,
        settings,
        4,
        watson_speech_operator::reconcile::run::RunOptions {
            namespaces: vec![watched.name.clone()],
            metrics: Some(metrics.clone()),
            synced: Some(synced_tx),
            shutdown: shutdown.clone(),
            ..Default::default()
        },
    ));
    tokio::time::timeout(Duration::from_secs(30), synced_rx.wait_for(|s| *s))
        .await
        .expect("caches synced as the service account (list/watch allowed)")
        .expect("synced");

    // The user's objects (created by an administrator).
    fixture::credentials_and_services(&watched, API_KEY, &base, &[Service::Stt]).await;
    let lm: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "rbac"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "corpora": [{"name": "c", "source": {"text": "the operator runs with least privilege"}}],
                 "export": {"configMapName": "rbac-model"}}
    }))
    .expect("lm");
    let lms: Api<CustomLanguageModel> = watched.api();
    lms.create(&PostParams::default(), &lm)
        .await
        .expect("create lm");
    eventually("the language model Ready", Duration::from_secs(120), || {
        let lms = lms.clone();
        async move {
            let m = lms.get("rbac").await.ok()?;
            m.status?
                .model
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
                .then_some(())
        }
    })
    .await;
    // spec.export: the ConfigMap is written with the chart's rights.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = watched.api();
    let id = lms
        .get("rbac")
        .await
        .expect("lm")
        .status
        .and_then(|s| s.model.customization_id)
        .expect("customization id");
    eventually("the exported ConfigMap", Duration::from_secs(30), || {
        let (cms, id) = (cms.clone(), id.clone());
        async move {
            let cm = cms.get_opt("rbac-model").await.ok()??;
            (cm.data?.get("customizationId") == Some(&id)).then_some(())
        }
    })
    .await;
    // Events were written with the chart's rights.
    let events: Api<k8s_openapi::api::events::v1::Event> = watched.api();
    eventually(
        "an Event from the operator",
        Duration::from_secs(30),
        || {
            let events = events.clone();
            async move {
                let list = events.list(&Default::default()).await.ok()?;
                list.items
                    .iter()
                    .any(|e| e.reporting_controller.as_deref() == Some("watson-speech-operator"))
                    .then_some(())
            }
        },
    )
    .await;
    // Deletion: the finalizer is released with the chart's rights.
    lms.delete("rbac", &Default::default())
        .await
        .expect("delete");
    eventually("the language model gone", Duration::from_secs(60), || {
        let lms = lms.clone();
        async move { lms.get_opt("rbac").await.ok()?.is_none().then_some(()) }
    })
    .await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), operator)
        .await
        .expect("graceful stop")
        .expect("join")
        .expect("operator");
    elector.release().await;
}

/// `kubectl apply <args>` (reading stdin when given); returns stderr.
fn kubectl_apply(cp: &ControlPlane, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(cp.bins.join("kubectl"))
        .args([
            "--kubeconfig",
            &cp.kubeconfig.display().to_string(),
            "apply",
        ])
        .args(args)
        .current_dir(repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("kubectl");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "kubectl apply {args:?} failed:\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// A clean install: the CRDs, the chart and deploy/operator.yaml apply without a single warning
/// from the API server (issue 14: `unrecognized format "uint32"`).
#[tokio::test]
async fn the_install_prints_no_warning() {
    let Some(cp) = control_plane() else { return };
    let crds = kubectl_apply(
        cp,
        &["--server-side", "-f", "crds/speech.watson.dev.yaml"],
        None,
    );
    assert!(!crds.contains("Warning"), "CRDs: {crds}");
    // For real, server-side (as the README says): a fresh namespace of its own.
    let manifest = kubectl_apply(
        cp,
        &[
            "--server-side",
            "--force-conflicts",
            "-f",
            "deploy/operator.yaml",
        ],
        None,
    );
    assert!(
        !manifest.contains("Warning"),
        "deploy/operator.yaml: {manifest}"
    );
    let ns = restricted_namespace(cp, "clean-install").await;
    let rendered = helm(
        cp,
        &[
            "template",
            "wso",
            CHART,
            "--namespace",
            &ns.name,
            "--set",
            "metrics.grafanaDashboard.enabled=true",
            "--set",
            "argocdHealth.enabled=true",
        ],
    );
    let chart = kubectl_apply(
        cp,
        &[
            "--server-side",
            "--force-conflicts",
            "--namespace",
            &ns.name,
            "-f",
            "-",
        ],
        Some(&rendered),
    );
    assert!(!chart.contains("Warning"), "the chart: {chart}");
}

/// Deletion protection without a webhook (issue 13): the chart's ValidatingAdmissionPolicy refuses
/// deleting a model annotated `speech.watson.dev/deletion-protection: "true"` with a clear
/// message; without the annotation the delete goes through.
#[tokio::test]
async fn a_protected_model_cannot_be_deleted_until_the_annotation_goes() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("protect").await;
    let objs = render(cp, &ns.name, &[]);
    let protection = |o: &&Value| {
        kind(o).starts_with("ValidatingAdmissionPolicy") && name(o).ends_with("deletion-protection")
    };
    for o in objs.iter().filter(protection) {
        apply(&ns.client, o, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        objs.iter().filter(protection).count(),
        2,
        "the chart ships the policy and its binding by default"
    );
    let models: Api<CustomLanguageModel> = ns.api();
    let lm: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "keep", "annotations": {"speech.watson.dev/deletion-protection": "true"}},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "corpora": [{"name": "c", "source": {"text": "protected corpus"}}]}
    }))
    .expect("lm");
    models
        .create(&PostParams::default(), &lm)
        .await
        .expect("create");
    // The policy takes effect once the API server has loaded it.
    let refusal = support::eventually("the delete is refused", Duration::from_secs(30), || async {
        match models.delete("keep", &Default::default()).await {
            Err(kube::Error::Api(s)) if s.code == 403 || s.code == 422 => Some(s.message),
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => {
                // Not enforced yet: create it again and retry.
                let _ = models.create(&PostParams::default(), &lm).await;
                None
            }
        }
    })
    .await;
    assert!(
        refusal.contains("protected from deletion")
            && refusal.contains("speech.watson.dev/deletion-protection"),
        "{refusal}"
    );
    assert!(models.get_opt("keep").await.expect("get").is_some());
    let unprotect =
        json!({"metadata": {"annotations": {"speech.watson.dev/deletion-protection": null}}});
    models
        .patch("keep", &PatchParams::default(), &Patch::Merge(&unprotect))
        .await
        .expect("remove the annotation");
    models
        .delete("keep", &Default::default())
        .await
        .expect("deleted without the annotation");
}

/// A client for `user` (in `groups`) through the admin's impersonation rights.
async fn impersonating(cp: &ControlPlane, user: &str, groups: &[&str]) -> Client {
    let kc = kube::config::Kubeconfig::read_from(&cp.kubeconfig).expect("kubeconfig");
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
    config.auth_info.impersonate = Some(user.to_string());
    config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
    Client::try_from(config).expect("client")
}

/// The model or SpeechService `manifest` created as `client`: `Ok` or the refusal's message.
async fn create_as(client: &Client, ns: &str, manifest: &Value) -> Result<(), String> {
    let gvk = GroupVersionKind::gvk("speech.watson.dev", "v1alpha1", kind(manifest));
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .expect("discovery");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let obj: DynamicObject = serde_json::from_value(manifest.clone()).expect("object");
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) => Err(format!("{} {}", s.code, s.message)),
        Err(e) => panic!("create {}: {e}", name(manifest)),
    }
}

fn object(kind_: &str, name_: &str, spec: Value) -> Value {
    json!({"apiVersion": "speech.watson.dev/v1alpha1", "kind": kind_,
           "metadata": {"name": name_}, "spec": spec})
}

fn lm_spec(extra: Value) -> Value {
    fixture::merge(
        json!({"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel"}),
        extra,
    )
}

/// No reading by proxy (issue 26): the chart's policies ask the authorizer whether the
/// requesting user may get each Secret and ConfigMap a SpeechService or model names. Tested with
/// an impersonated user and a ServiceAccount that may get one Secret and one ConfigMap by name:
/// naming those is allowed; naming the others is refused with a message naming the object, for
/// every kind and every place a kind names one; an edit that adds no name goes through even on
/// an object naming what the editor may not read; an admin may name anything.
#[tokio::test]
async fn naming_a_secret_or_config_map_needs_the_right_to_read_it() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("proxy").await;
    let objs = render(cp, &ns.name, &[]);
    let policies: Vec<&Value> = objs
        .iter()
        .filter(|o| {
            kind(o).starts_with("ValidatingAdmissionPolicy") && name(o).contains("-references-")
        })
        .collect();
    assert_eq!(
        policies.len(),
        8,
        "a policy and a binding per kind, by default"
    );
    for o in policies {
        let mut o = o.clone();
        if kind(&o) == "ValidatingAdmissionPolicyBinding" {
            // Only this test's namespace: the binary's other tests share the API server.
            o["metadata"]["name"] = json!(format!("{}-{}", name(&o), ns.name));
            o["spec"]["matchResources"] = json!({"namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": ns.name}}});
        }
        apply(&ns.client, &o, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for (name_, value) in [("readable", "k"), ("hidden", "k")] {
        fixture::create(
            &ns,
            &fixture::secret(&format!("{name_}-secret"), &[("key", value)]),
        )
        .await;
        let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": format!("{name_}-cm")}, "data": {"key": "- word: a"}}))
        .expect("cm");
        fixture::create(&ns, &cm).await;
    }
    let role: k8s_openapi::api::rbac::v1::Role = serde_json::from_value(json!({
        "metadata": {"name": "tenant"},
        "rules": [
            {"apiGroups": ["speech.watson.dev"], "verbs": ["get", "list", "create", "update", "patch"],
             "resources": ["speechservices", "customlanguagemodels", "customacousticmodels", "customvoicemodels"]},
            {"apiGroups": [""], "verbs": ["get"], "resources": ["secrets"], "resourceNames": ["readable-secret"]},
            {"apiGroups": [""], "verbs": ["get"], "resources": ["configmaps"], "resourceNames": ["readable-cm"]}
        ]
    }))
    .expect("role");
    fixture::create(&ns, &role).await;
    let binding: k8s_openapi::api::rbac::v1::RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "tenant"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
            {"kind": "ServiceAccount", "name": "robot", "namespace": ns.name}
        ]
    }))
    .expect("binding");
    fixture::create(&ns, &binding).await;
    let alice = impersonating(cp, "alice", &["system:authenticated"]).await;
    let robot = cp.service_account_client(&ns.name, "robot").await;

    let secret_source = |n: &str| json!({"secretKeyRef": {"name": n, "key": "key"}});
    let cm_source = |n: &str| json!({"configMapKeyRef": {"name": n, "key": "key"}});
    let url_from = |n: &str| json!({"urlFrom": {"secretKeyRef": {"name": n, "key": "key"}}});
    // The policies take effect once the API server has loaded them: the first refusal waits.
    let first = object(
        "CustomLanguageModel",
        "first",
        lm_spec(json!({"corpora": [{"name": "c", "source": secret_source("hidden-secret")}]})),
    );
    let refusal = eventually("the policies are enforced", Duration::from_secs(30), || {
        let (alice, admin, first, ns) = (
            alice.clone(),
            ns.client.clone(),
            first.clone(),
            ns.name.clone(),
        );
        async move {
            match create_as(&alice, &ns, &first).await {
                Err(m) if m.starts_with("409") => panic!("{m}"),
                Err(m) => Some(m),
                Ok(()) => {
                    // Not enforced yet (alice may not delete: the admin does).
                    let api: Api<CustomLanguageModel> = Api::namespaced(admin, &ns);
                    api.delete("first", &Default::default())
                        .await
                        .expect("delete");
                    None
                }
            }
        }
    })
    .await;
    assert!(
        refusal.contains("Secret hidden-secret") && refusal.contains("CustomLanguageModel first"),
        "{refusal}"
    );
    let auth = |secret: &str| json!({"type": "IAM", "secretRef": {"name": secret}});
    let refused = [
        (
            "SpeechService",
            json!({"service": "SpeechToText", "url": "https://example.com", "auth": auth("hidden-secret")}),
            "Secret hidden-secret",
        ),
        (
            "SpeechService",
            json!({"service": "SpeechToText", "url": "https://example.com", "auth": auth("readable-secret"), "caBundle": {"name": "hidden-cm", "key": "key"}}),
            "ConfigMap hidden-cm",
        ),
        (
            "CustomLanguageModel",
            lm_spec(
                json!({"grammars": [{"name": "g", "contentType": "abnf", "source": secret_source("hidden-secret")}]}),
            ),
            "Secret hidden-secret",
        ),
        (
            "CustomLanguageModel",
            lm_spec(json!({"corpora": [{"name": "c", "source": cm_source("hidden-cm")}]})),
            "ConfigMap hidden-cm",
        ),
        (
            "CustomLanguageModel",
            lm_spec(json!({"wordsFrom": {"configMapKeyRef": {"name": "hidden-cm", "key": "key"}}})),
            "ConfigMap hidden-cm",
        ),
        (
            "CustomAcousticModel",
            lm_spec(
                json!({"audio": [{"name": "a", "contentType": "audio/wav", "source": secret_source("hidden-secret")}]}),
            ),
            "Secret hidden-secret",
        ),
        (
            "CustomAcousticModel",
            lm_spec(
                json!({"audio": [{"name": "a", "contentType": "audio/wav", "source": cm_source("hidden-cm")}]}),
            ),
            "ConfigMap hidden-cm",
        ),
        (
            "CustomLanguageModel",
            lm_spec(json!({"corpora": [{"name": "c", "source": url_from("hidden-secret")}]})),
            "Secret hidden-secret",
        ),
        (
            "CustomAcousticModel",
            lm_spec(
                json!({"audio": [{"name": "a", "contentType": "audio/wav", "source": url_from("hidden-secret")}]}),
            ),
            "Secret hidden-secret",
        ),
        (
            "CustomVoiceModel",
            json!({"serviceRef": {"name": "tts"}, "language": "en-US", "wordsFrom": {"configMapKeyRef": {"name": "hidden-cm", "key": "key"}}}),
            "ConfigMap hidden-cm",
        ),
    ];
    for (i, (kind_, spec, named)) in refused.iter().enumerate() {
        for (who, client) in [("alice", &alice), ("robot", &robot)] {
            let obj = object(kind_, &format!("refused-{i}-{who}"), spec.clone());
            let message = create_as(client, &ns.name, &obj)
                .await
                .expect_err(&format!("{who}: {kind_} {spec}"));
            assert!(
                message.contains(named) && message.contains("you may not get"),
                "{who}, {kind_}: {message}"
            );
        }
    }
    let allowed = [
        (
            "SpeechService",
            json!({"service": "SpeechToText", "url": "https://example.com", "auth": auth("readable-secret"), "caBundle": {"name": "readable-cm", "key": "key"}}),
        ),
        (
            "CustomLanguageModel",
            lm_spec(
                json!({"corpora": [{"name": "c", "source": secret_source("readable-secret")}, {"name": "d", "source": cm_source("readable-cm")}], "wordsFrom": {"configMapKeyRef": {"name": "readable-cm", "key": "key"}}}),
            ),
        ),
        (
            "CustomAcousticModel",
            lm_spec(
                json!({"audio": [{"name": "a", "contentType": "audio/wav", "source": secret_source("readable-secret")}, {"name": "b", "contentType": "audio/wav", "source": url_from("readable-secret")}]}),
            ),
        ),
        (
            "CustomVoiceModel",
            json!({"serviceRef": {"name": "tts"}, "language": "en-US", "wordsFrom": {"configMapKeyRef": {"name": "readable-cm", "key": "key"}}}),
        ),
    ];
    for (i, (kind_, spec)) in allowed.iter().enumerate() {
        for (who, client) in [("alice", &alice), ("robot", &robot)] {
            let obj = object(kind_, &format!("allowed-{i}-{who}"), spec.clone());
            create_as(client, &ns.name, &obj)
                .await
                .unwrap_or_else(|m| panic!("{who}, {kind_}: refused: {m}"));
        }
    }
    // An admin may name anything; an edit by alice that adds no name goes through, one that
    // adds a hidden name does not.
    let admins = object(
        "CustomLanguageModel",
        "admins",
        lm_spec(json!({"corpora": [{"name": "c", "source": secret_source("hidden-secret")}]})),
    );
    create_as(&ns.client, &ns.name, &admins)
        .await
        .expect("the admin may name it");
    let as_alice: Api<CustomLanguageModel> = Api::namespaced(alice.clone(), &ns.name);
    as_alice
        .patch(
            "admins",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"description": "edited by alice"}})),
        )
        .await
        .expect("an edit that names nothing new");
    let err = as_alice
        .patch(
            "admins",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"wordsFrom": {"configMapKeyRef": {"name": "hidden-cm", "key": "key"}}}})),
        )
        .await
        .expect_err("adds a hidden ConfigMap");
    assert!(err.to_string().contains("ConfigMap hidden-cm"), "{err}");
}

/// Least privilege (issue 26): watching every namespace, the ClusterRole reads ConfigMaps only;
/// `spec.export` writes come from a Role in each namespace of `rbac.exportNamespaces`, and with
/// `rbac.exportConfigMaps=false` there is none.
#[tokio::test]
async fn config_map_writes_are_never_cluster_wide() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("cmwrites").await;
    let writes = |objs: &[Value]| -> Vec<(String, String)> {
        objs.iter()
            .filter(|o| matches!(kind(o), "ClusterRole" | "Role"))
            .filter(|o| {
                o["rules"].as_array().is_some_and(|rules| {
                    rules.iter().any(|r| {
                        r["resources"]
                            .as_array()
                            .is_some_and(|rs| rs.iter().any(|x| x == "configmaps"))
                            && r["verbs"]
                                .as_array()
                                .is_some_and(|vs| vs.iter().any(|v| v == "create"))
                    })
                })
            })
            .map(|o| {
                (
                    kind(o).to_string(),
                    o["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    };
    let default = render(cp, &ns.name, &[]);
    check_rules(&default, true);
    assert!(writes(&default).is_empty(), "{:?}", writes(&default));
    let listed = render(cp, &ns.name, &["rbac.exportNamespaces={team-a,team-b}"]);
    check_rules(&listed, true);
    assert_eq!(
        writes(&listed),
        vec![
            ("Role".to_string(), "team-a".to_string()),
            ("Role".to_string(), "team-b".to_string())
        ]
    );
    let off = render(
        cp,
        &ns.name,
        &[
            "rbac.exportNamespaces={team-a}",
            "rbac.exportConfigMaps=false",
        ],
    );
    assert!(writes(&off).is_empty());
}

/// Issue 26, least privilege: with `networkPolicy.enabled`, the operator's egress is DNS, the API
/// server (at the addresses given) and HTTPS to public addresses (IBM endpoints have no fixed
/// ones) only: in-cluster ranges, loopback and the link-local metadata endpoint are left out.
/// The rendered policy is accepted by the API server; `restrictEgress: false` leaves egress open.
#[tokio::test]
async fn network_policy_allows_egress_to_dns_the_api_server_and_ibm_only() {
    let Some(cp) = control_plane() else {
        return;
    };
    let ns = restricted_namespace(cp, "chart-netpol").await;
    let objs = render(
        cp,
        &ns.name,
        &[
            "networkPolicy.enabled=true",
            "networkPolicy.apiServer.cidrs={10.0.0.5/32}",
        ],
    );
    let policy = objs
        .iter()
        .find(|o| kind(o) == "NetworkPolicy")
        .expect("a NetworkPolicy");
    let spec = &policy["spec"];
    assert!(
        spec["policyTypes"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "Egress")),
        "egress is restricted: {spec}"
    );
    let rules = spec["egress"].as_array().expect("egress rules");
    let ports = |r: &Value| -> Vec<(i64, String)> {
        r["ports"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        (
                            p["port"].as_i64().unwrap_or(0),
                            p["protocol"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        rules.len(),
        3,
        "DNS, API server, IBM and nothing else: {rules:#?}"
    );
    assert_eq!(
        ports(&rules[0]),
        vec![(53, "UDP".to_string()), (53, "TCP".to_string())]
    );
    assert!(rules[0].get("to").is_none(), "DNS to any resolver");
    assert_eq!(
        ports(&rules[1]),
        vec![(443, "TCP".to_string()), (6443, "TCP".to_string())]
    );
    assert_eq!(
        rules[1]["to"],
        json!([{"ipBlock": {"cidr": "10.0.0.5/32"}}])
    );
    assert_eq!(ports(&rules[2]), vec![(443, "TCP".to_string())]);
    let block = &rules[2]["to"][0]["ipBlock"];
    assert_eq!(block["cidr"], "0.0.0.0/0");
    let except: Vec<&str> = block["except"]
        .as_array()
        .expect("except")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for private in [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
    ] {
        assert!(except.contains(&private), "{private} left out: {except:?}");
    }
    accept_all(&ns.client, &objs, &ns.name).await;

    let open = render(
        cp,
        &ns.name,
        &[
            "networkPolicy.enabled=true",
            "networkPolicy.restrictEgress=false",
        ],
    );
    let policy = open
        .iter()
        .find(|o| kind(o) == "NetworkPolicy")
        .expect("a NetworkPolicy");
    assert!(
        policy["spec"]["policyTypes"]
            .as_array()
            .is_some_and(|t| !t.iter().any(|t| t == "Egress")),
        "{policy}"
    );
}
