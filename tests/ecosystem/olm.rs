//! The OLM bundle (`bundle/`, `make bundle`): it is what the chart's sources generate today
//! (regenerated into a temporary directory and compared file by file, so the bundle and the chart
//! cannot drift), it passes the OLM validators of `github.com/operator-framework/api` (the
//! defaults of `operator-sdk bundle validate` and its `operatorframework` suite: OperatorHub,
//! standard capabilities and categories, good practices, deprecated APIs) with no error and no
//! warning, a bundle the validators must refuse is refused, and the CSV's pod meets OpenShift's
//! restricted-v2 and reads its watched namespaces from the OperatorGroup.

use crate::chart::repo;
use crate::openshift::restricted_v2_violations;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Builds (or reuses) wso-olm; fails loudly: this test never skips.
fn olm_tool() -> PathBuf {
    let out = Command::new(repo().join("tools/olm/build.sh"))
        .output()
        .expect("run tools/olm/build.sh");
    assert!(
        out.status.success(),
        "tools/olm/build.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    PathBuf::from(stdout.lines().last().expect("the tool's path").trim())
}

/// `wso-olm validate <dir>`: whether it passed, and what it printed.
fn validate(dir: &Path) -> (bool, String) {
    let out = Command::new(olm_tool())
        .arg("validate")
        .arg(dir)
        .output()
        .expect("run wso-olm validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files(from) {
        let target = to.join(&f);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(from.join(&f), &target).expect("copy");
    }
}

fn csv(dir: &Path) -> Value {
    let text = std::fs::read_to_string(
        dir.join("manifests/watson-speech-operator.clusterserviceversion.yaml"),
    )
    .expect("the CSV");
    serde_yaml::from_str(&text).expect("CSV yaml")
}

#[test]
fn bundle_is_what_the_chart_sources_generate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("bundle");
    let run = Command::new(repo().join("tools/olm/bundle.sh"))
        .arg(&out)
        .env("WSO_K8S_BINS", crate::support::bins_dir())
        .output()
        .expect("run tools/olm/bundle.sh");
    assert!(
        run.status.success(),
        "tools/olm/bundle.sh: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let committed = repo().join("bundle");
    assert_eq!(
        files(&out),
        files(&committed),
        "bundle/ holds other files than `make bundle` writes: run `make bundle`"
    );
    for f in files(&out) {
        let fresh = std::fs::read(out.join(&f)).expect("generated");
        let old = std::fs::read(committed.join(&f)).expect("committed");
        assert!(
            fresh == old,
            "bundle/{} is stale: run `make bundle`",
            f.display()
        );
    }
}

#[test]
fn bundle_passes_the_olm_validators_and_a_bad_one_does_not() {
    let (ok, text) = validate(&repo().join("bundle"));
    assert!(ok, "{text}");
    assert!(text.contains(": 0 problems"), "{text}");

    // The validators do look: a category OperatorHub does not know is refused.
    // (The loader skips hidden directories, as the temporary one is: a folder inside it.)
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bundle");
    copy_dir(&repo().join("bundle"), &bad);
    let path = bad.join("manifests/watson-speech-operator.clusterserviceversion.yaml");
    let text = std::fs::read_to_string(&path).expect("CSV");
    let broken = text.replace(
        "categories: AI/Machine Learning",
        "categories: Speech Things",
    );
    assert_ne!(broken, text);
    std::fs::write(&path, broken).expect("write");
    let (ok, out) = validate(&bad);
    assert!(!ok, "{out}");
    assert!(
        out.contains("standard categories") && out.contains("Speech Things"),
        "{out}"
    );
}

#[test]
fn csv_installs_in_every_mode_with_a_restricted_v2_pod_and_its_examples() {
    let csv = csv(&repo().join("bundle"));
    let modes: Vec<(&str, bool)> = csv["spec"]["installModes"]
        .as_array()
        .expect("installModes")
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap_or_default(),
                m["supported"].as_bool() == Some(true),
            )
        })
        .collect();
    assert_eq!(
        modes,
        [
            ("OwnNamespace", true),
            ("SingleNamespace", true),
            ("MultiNamespace", true),
            ("AllNamespaces", true)
        ]
    );
    let deployments = &csv["spec"]["install"]["spec"]["deployments"];
    let template = &deployments[0]["spec"]["template"];
    let violations = restricted_v2_violations(template);
    assert!(violations.is_empty(), "{violations:#?}");
    let env = template["spec"]["containers"][0]["env"]
        .as_array()
        .expect("env");
    let namespaces = env
        .iter()
        .find(|e| e["name"] == "WSO_NAMESPACES")
        .expect("WSO_NAMESPACES");
    assert_eq!(
        namespaces["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['olm.targetNamespaces']"
    );
    let image = template["spec"]["containers"][0]["image"]
        .as_str()
        .expect("image");
    assert_eq!(csv["metadata"]["annotations"]["containerImage"], image);

    // Every kind is owned with a description and has an example.
    let examples: Vec<Value> = serde_json::from_str(
        csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .expect("alm-examples"),
    )
    .expect("alm-examples is JSON");
    let owned = csv["spec"]["customresourcedefinitions"]["owned"]
        .as_array()
        .expect("owned CRDs");
    assert_eq!(owned.len(), 4);
    for crd in owned {
        let kind = crd["kind"].as_str().expect("kind");
        let description = crd["description"].as_str().unwrap_or_default();
        assert!(
            description.len() > 30 && !description.contains("Auto-generated"),
            "{kind}: {description:?}"
        );
        assert!(
            examples.iter().any(|e| e["kind"] == kind),
            "no example of {kind}"
        );
    }
}
