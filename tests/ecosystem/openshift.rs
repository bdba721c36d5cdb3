//! The chart on OpenShift: with `openshift: true`, or `auto` on a cluster serving
//! `security.openshift.io/v1`, the rendered pod meets every rule of OpenShift's default
//! `restricted-v2` SecurityContextConstraints (written down below from its definition) and is still
//! admitted under Pod Security "restricted" by the real API server; elsewhere the pod pins the
//! image's user as before.
//!
//! The rules come from the SCC OpenShift installs, `restricted-v2`
//! (openshift/cluster-kube-apiserver-operator,
//! `bindata/bootkube/scc-manifests/0000_20_kube-apiserver-operator_00_scc-restricted-v2.yaml`,
//! OpenShift 4.11 and later):
//!
//! | SCC field | value | what a pod may not do |
//! |---|---|---|
//! | `runAsUser` | `MustRunAsRange` | pin a UID (admission assigns one from the namespace's `openshift.io/sa.scc.uid-range` and refuses another) |
//! | `fsGroup` | `MustRunAs` | pin an fsGroup (assigned from `openshift.io/sa.scc.supplemental-groups`) |
//! | `seLinuxContext` | `MustRunAs` | set its own SELinux options (assigned from `openshift.io/sa.scc.mcs`) |
//! | `allowPrivilegeEscalation` | `false` | leave it unset or true on a container |
//! | `allowPrivilegedContainer` | `false` | run a privileged container |
//! | `requiredDropCapabilities` | `[ALL]` | keep any capability it does not drop |
//! | `allowedCapabilities` | `[NET_BIND_SERVICE]` | add any other capability |
//! | `seccompProfiles` | `[runtime/default]` | use another profile (`RuntimeDefault`, or unset: defaulted) |
//! | `allowHostNetwork`, `allowHostPID`, `allowHostIPC`, `allowHostPorts`, `allowHostDirVolumePlugin` | `false` | use the host's network, PIDs, IPC, ports or paths |
//! | `volumes` | `configMap, downwardAPI, emptyDir, persistentVolumeClaim, projected, secret` | mount any other volume type |
//!
//! `runAsGroup` is left unset with `runAsUser`: the assigned UID runs with group 0, as OpenShift
//! expects of images.

use crate::chart::{accept_all, helm, kind, parse_docs, render, restricted_namespace};
use crate::support::control_plane;

use serde_json::Value;

const VOLUME_TYPES: &[&str] = &[
    "configMap",
    "downwardAPI",
    "emptyDir",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Every way `template` (a pod template) breaks restricted-v2.
pub(crate) fn restricted_v2_violations(template: &Value) -> Vec<String> {
    let spec = &template["spec"];
    let mut v = Vec::new();
    let pod_sc = &spec["securityContext"];
    for field in ["runAsUser", "runAsGroup", "fsGroup", "seLinuxOptions"] {
        if !pod_sc[field].is_null() {
            v.push(format!(
                "pod securityContext.{field} is set: {}",
                pod_sc[field]
            ));
        }
    }
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[host].as_bool() == Some(true) {
            v.push(format!("pod {host}"));
        }
    }
    let seccomp = |sc: &Value| sc["seccompProfile"]["type"].as_str().map(str::to_string);
    if let Some(t) = seccomp(pod_sc).filter(|t| t != "RuntimeDefault") {
        v.push(format!("pod seccomp profile {t}"));
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let types: Vec<&String> = volume
            .as_object()
            .map(|o| o.keys().filter(|k| *k != "name").collect())
            .unwrap_or_default();
        for t in types {
            if !VOLUME_TYPES.contains(&t.as_str()) {
                v.push(format!("volume {} of type {t}", volume["name"]));
            }
        }
    }
    let containers = spec["containers"].as_array().into_iter().flatten();
    let init = spec["initContainers"].as_array().into_iter().flatten();
    for c in containers.chain(init) {
        let name = c["name"].as_str().unwrap_or_default();
        let sc = &c["securityContext"];
        for field in ["runAsUser", "runAsGroup", "seLinuxOptions"] {
            if !sc[field].is_null() {
                v.push(format!(
                    "{name}: securityContext.{field} is set: {}",
                    sc[field]
                ));
            }
        }
        if sc["allowPrivilegeEscalation"].as_bool() != Some(false) {
            v.push(format!("{name}: allowPrivilegeEscalation is not false"));
        }
        if sc["privileged"].as_bool() == Some(true) {
            v.push(format!("{name}: privileged"));
        }
        let drops: Vec<&str> = sc["capabilities"]["drop"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !drops.contains(&"ALL") {
            v.push(format!("{name}: does not drop ALL capabilities: {drops:?}"));
        }
        for add in sc["capabilities"]["add"].as_array().into_iter().flatten() {
            if add.as_str() != Some("NET_BIND_SERVICE") {
                v.push(format!("{name}: adds capability {add}"));
            }
        }
        if let Some(t) = seccomp(sc).filter(|t| t != "RuntimeDefault") {
            v.push(format!("{name}: seccomp profile {t}"));
        }
        for port in c["ports"].as_array().into_iter().flatten() {
            if !port["hostPort"].is_null() {
                v.push(format!("{name}: hostPort {}", port["hostPort"]));
            }
        }
    }
    v
}

fn pod_template(objs: &[Value]) -> &Value {
    &objs
        .iter()
        .find(|o| kind(o) == "Deployment")
        .expect("a Deployment")["spec"]["template"]
}

#[tokio::test]
async fn openshift_pod_meets_restricted_v2_and_pod_security_restricted() {
    let Some(cp) = control_plane() else { return };
    let ns = restricted_namespace(cp, "chart-openshift").await;

    let forced = render(cp, &ns.name, &["openshift=true"]);
    let violations = restricted_v2_violations(pod_template(&forced));
    assert!(violations.is_empty(), "openshift=true: {violations:#?}");
    // The trusted-profile token is a projected volume, which restricted-v2 allows.
    let trusted = render(
        cp,
        &ns.name,
        &["openshift=true", "trustedProfile.enabled=true"],
    );
    let template = pod_template(&trusted);
    assert!(
        template["spec"]["volumes"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| !v["projected"].is_null())),
        "{template}"
    );
    let violations = restricted_v2_violations(template);
    assert!(violations.is_empty(), "trustedProfile: {violations:#?}");

    // `auto` on a cluster that serves the SCC API: the same pod.
    let detected = parse_docs(&helm(
        cp,
        &[
            "template",
            "wso",
            "charts/watson-speech-operator",
            "--namespace",
            &ns.name,
            "--api-versions",
            "security.openshift.io/v1/SecurityContextConstraints",
        ],
    ));
    assert_eq!(
        pod_template(&detected),
        pod_template(&forced),
        "auto detects OpenShift from its API"
    );

    // Elsewhere (`auto` without the API, the default) the pod pins the image's user: the only
    // rules it breaks are the pinned IDs.
    let plain = render(cp, &ns.name, &[]);
    let broken = restricted_v2_violations(pod_template(&plain));
    assert_eq!(
        broken,
        vec![
            "pod securityContext.runAsUser is set: 65532".to_string(),
            "pod securityContext.runAsGroup is set: 65532".to_string(),
        ],
        "the default pins the image's user and breaks nothing else"
    );

    // Without a pinned UID the pod is still admitted under Pod Security "restricted"
    // (runAsNonRoot stays; the image's user is numeric).
    accept_all(&ns.client, &forced, &ns.name).await;
}
