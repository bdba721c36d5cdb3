//! Bad input is refused by the real API server with a message that names the field: every
//! manifest in `tests/fixtures/invalid/` (its first line says `# expect: <text>`), immutable
//! fields on update, and the shipped examples are accepted.

use crate::support;

use std::path::Path;

use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::json;
use support::control_plane;

fn api_for(client: &Client, ns: &str, obj: &DynamicObject) -> Api<DynamicObject> {
    let types = obj.types.clone().expect("apiVersion and kind");
    let (group, version) = types
        .api_version
        .split_once('/')
        .unwrap_or(("", types.api_version.as_str()));
    let plural = match types.kind.as_str() {
        "SpeechService" => "speechservices".to_string(),
        "CustomLanguageModel" => "customlanguagemodels".to_string(),
        "CustomAcousticModel" => "customacousticmodels".to_string(),
        "CustomVoiceModel" => "customvoicemodels".to_string(),
        other => format!("{}s", other.to_lowercase()),
    };
    let ar = ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: types.api_version.clone(),
        kind: types.kind.clone(),
        plural,
    };
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn documents(path: &Path) -> Vec<DynamicObject> {
    let text = std::fs::read_to_string(path).expect("read manifest");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| <serde_yaml::Value as serde::Deserialize>::deserialize(d).expect("yaml"))
        .filter(|v| !v.is_null())
        .map(|v| serde_yaml::from_value(v).expect("object"))
        .collect()
}

#[tokio::test]
async fn invalid_manifests_are_refused_with_a_message_naming_the_field() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("invalid").await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: first line must be `# expect: ...`", f.display()))
            .to_string();
        for obj in documents(f) {
            let api = api_for(&ns.client, &ns.name, &obj);
            match api.create(&PostParams::default(), &obj).await {
                Ok(_) => failures.push(format!("{}: accepted", f.display())),
                Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains(&expect) => {}
                Err(e) => failures.push(format!(
                    "{}: expected 422 containing {expect:?}, got {e}",
                    f.display()
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{} invalid manifests refused as expected", files.len());
}

#[tokio::test]
async fn immutable_fields_cannot_change() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("immutable").await;
    let lm: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "m"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel", "dialect": "en-US", "suspend": true}
    }))
    .expect("lm");
    let api = api_for(&ns.client, &ns.name, &lm);
    api.create(&PostParams::default(), &lm)
        .await
        .expect("create");
    let cases = [
        (
            json!({"spec": {"baseModelName": "de-DE_BroadbandModel"}}),
            "spec.baseModelName may change only within its locale",
        ),
        (
            json!({"spec": {"dialect": "en-GB"}}),
            "spec.dialect is immutable",
        ),
        (
            json!({"spec": {"dialect": null}}),
            "spec.dialect is immutable",
        ),
        (
            json!({"spec": {"customizationId": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}}),
            "spec.customizationId is immutable",
        ),
    ];
    for (patch, expect) in cases {
        let err = api
            .patch("m", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect_err("immutable change refused");
        assert!(err.to_string().contains(expect), "{patch}: {err}");
    }
    // Mutable fields still change.
    api.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"description": "now described"}})),
    )
    .await
    .expect("mutable change accepted");
    // Another base model of the same locale is a migration (issue 27): accepted, except on an
    // adopted model.
    api.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"baseModelName": "en-US"}})),
    )
    .await
    .expect("a base model of the same locale is accepted");
    let adopted: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "adopted"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_Telephony",
                 "customizationId": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "suspend": true}
    }))
    .expect("adopted");
    api.create(&PostParams::default(), &adopted)
        .await
        .expect("create adopted");
    let err = api
        .patch(
            "adopted",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"baseModelName": "en-US"}})),
        )
        .await
        .expect_err("an adopted model keeps its base");
    assert!(
        err.to_string()
            .contains("spec.baseModelName is immutable on an adopted model"),
        "{err}"
    );

    let vm: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomVoiceModel",
        "metadata": {"name": "v"},
        "spec": {"serviceRef": {"name": "tts"}, "language": "en-US", "suspend": true}
    }))
    .expect("vm");
    let vapi = api_for(&ns.client, &ns.name, &vm);
    vapi.create(&PostParams::default(), &vm)
        .await
        .expect("create vm");
    let err = vapi
        .patch(
            "v",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"language": "de-DE"}})),
        )
        .await
        .expect_err("language immutable");
    assert!(
        err.to_string().contains("spec.language is immutable"),
        "{err}"
    );
}

#[tokio::test]
async fn shipped_examples_are_accepted() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("examples").await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    let mut n = 0;
    // deploy/examples/ and deploy/examples/legacy/ (acoustic customization, legacy service).
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("deploy/examples")
        .chain(std::fs::read_dir(dir.join("legacy")).expect("deploy/examples/legacy"))
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    for path in paths {
        if path.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        for mut obj in documents(&path) {
            obj.metadata.namespace = None;
            let api = api_for(&ns.client, &ns.name, &obj);
            let pp = PostParams {
                dry_run: true,
                ..Default::default()
            };
            api.create(&pp, &obj)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 8, "only {n} example objects");
}

/// `watson-speech-operator crd | head`: the reader closes the pipe before the CRDs (about
/// 100 KB, more than a pipe holds) are written. A filter whose reader left has done its job:
/// exit 0, nothing on stderr (it panicked with "failed printing to stdout: Broken pipe").
#[test]
fn crd_output_to_a_closed_pipe_is_not_an_error() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_watson-speech-operator"))
        .arg("crd")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run crd");
    // The only read end goes away: every write past the pipe's buffer fails.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.is_empty(), "stderr: {stderr}");
}
