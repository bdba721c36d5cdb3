//! Every printer column reads right in `kubectl get -o wide` against the real API server: an
//! object of each kind whose status holds a value for every column shows no `<invalid>`, `<none>`
//! or empty cell, and the ETA of an operation still running (a time in the future, which a column
//! of type `date` prints as `<invalid>`) shows its timestamp. The columns come from the CRDs the
//! API server serves, so a new column without a value here fails the test.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use support::fixture::{self, Service};
use support::{ControlPlane, TestNamespace, control_plane};
use watson_speech_operator::crd::{
    CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, SpeechService,
};

/// A Ready condition as the operator writes it.
fn ready(now: &str) -> Value {
    json!([{"type": "Ready", "status": "False", "reason": "Training",
        "message": "Training the model", "lastTransitionTime": now, "observedGeneration": 1}])
}

/// The status of a model halfway through a training that ends at `eta`.
fn model_status(now: &str, eta: &str) -> Value {
    json!({
        "phase": "Training", "progress": 0, "baseModelVersion": "en-US_BroadbandModel.v2020-01-16",
        "customizationId": "4a6c8a1e-0000-4000-8000-000000000001",
        "nextAction": "Waiting for the training to finish",
        "wordCount": 3,
        "conditions": ready(now),
        "currentOperation": {"type": "Train", "startedAt": now, "expectedFinishAt": eta},
    })
}

async fn set_status<K>(api: &Api<K>, name: &str, status: Value)
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .unwrap_or_else(|e| panic!("status of {name}: {e}"));
}

/// `kubectl get <resource> -o wide` in `ns`, as rows of header → cell. kubectl aligns every cell
/// under its header (which is one word), so a cell is the text from its header's column to the
/// next header's.
fn kubectl_get(cp: &ControlPlane, ns: &str, resource: &str) -> Vec<BTreeMap<String, String>> {
    let out = Command::new(cp.bins.join("kubectl"))
        .args(["--kubeconfig", &cp.kubeconfig.display().to_string()])
        .args(["get", resource, "-n", ns, "-o", "wide"])
        .output()
        .expect("run kubectl");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "kubectl get {resource}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let header = lines.next().expect("a header line");
    let mut starts = Vec::new();
    let mut previous = ' ';
    for (i, c) in header.char_indices() {
        if c != ' ' && previous == ' ' {
            starts.push(i);
        }
        previous = c;
    }
    lines
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(k, &start)| {
                    let end = starts.get(k + 1).copied().unwrap_or(usize::MAX);
                    let name = header[start..].split(' ').next().unwrap_or_default();
                    let cell = line.get(start..end.min(line.len())).unwrap_or_default();
                    (name.to_string(), cell.trim().to_string())
                })
                .collect()
        })
        .collect()
}

/// The printer columns the API server serves for `plural`, upper-cased as kubectl prints them.
async fn columns(ns: &TestNamespace, plural: &str) -> Vec<String> {
    let crd = Api::<CustomResourceDefinition>::all(ns.client.clone())
        .get(&format!("{plural}.speech.watson.dev"))
        .await
        .expect("the CRD");
    let version = crd.spec.versions.first().expect("a version");
    let mut names = vec!["NAME".to_string()];
    names.extend(
        version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.to_uppercase()),
    );
    names
}

fn check(
    cp: &ControlPlane,
    ns: &str,
    plural: &str,
    expected: &[String],
    failures: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let rows = kubectl_get(cp, ns, plural);
    assert_eq!(rows.len(), 1, "{plural}: {rows:?}");
    let row = rows.into_iter().next().unwrap_or_default();
    for column in expected {
        match row.get(column).map(String::as_str) {
            None => failures.push(format!("{plural}: no column {column} in {row:?}")),
            Some("" | "<none>" | "<invalid>" | "<unknown>") => {
                failures.push(format!("{plural}: column {column} reads {:?}", row[column]))
            }
            Some(_) => {}
        }
    }
    row
}

#[tokio::test]
async fn every_printer_column_reads_right_in_kubectl_get() {
    let Some(cp) = control_plane() else { return };
    let ns = cp.namespace("columns").await;
    let now = "2026-01-01T00:00:00Z";
    // An hour from now: a running operation's expected finish lies in the future.
    let eta = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();

    let auth = fixture::iam_auth("https://iam.example", fixture::SECRET);
    fixture::create(
        &ns,
        &fixture::speech_service("stt", Service::Stt.kind(), "https://stt.example", auth),
    )
    .await;
    fixture::create(&ns, &fixture::language_model("lm", json!({}))).await;
    fixture::create(&ns, &fixture::acoustic_model("am", json!({}))).await;
    fixture::create(&ns, &fixture::voice_model("vm", json!({}))).await;

    let status = model_status(now, &eta);
    // A language model's WER column reads its measured word error rate (issue 28).
    let mut measured = status.clone();
    measured["evaluation"] = json!({"wer": "12.34%"});
    set_status(&ns.api::<CustomLanguageModel>(), "lm", measured).await;
    set_status(&ns.api::<CustomAcousticModel>(), "am", status.clone()).await;
    set_status(&ns.api::<CustomVoiceModel>(), "vm", status).await;
    set_status(
        &ns.api::<SpeechService>(),
        "stt",
        json!({"conditions": ready(now), "modelsInUse": 2}),
    )
    .await;

    let mut failures = Vec::new();
    for plural in [
        "speechservices",
        "customlanguagemodels",
        "customacousticmodels",
        "customvoicemodels",
    ] {
        let expected = columns(&ns, plural).await;
        let row = check(cp, &ns.name, plural, &expected, &mut failures);
        if row.contains_key("ETA") {
            assert_eq!(row["ETA"], eta, "{plural}: the ETA is the expected finish");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // No operation running: the ETA cell is blank (kubectl prints an absent string so), the other
    // columns still read.
    let lms = ns.api::<CustomLanguageModel>();
    lms.patch_status(
        "lm",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"currentOperation": null}})),
    )
    .await
    .expect("no operation");
    let row = kubectl_get(cp, &ns.name, "customlanguagemodels")
        .into_iter()
        .next()
        .unwrap_or_default();
    assert_eq!(row.get("ETA").map(String::as_str), Some(""), "{row:?}");
    assert_eq!(row.get("PHASE").map(String::as_str), Some("Training"));
    assert_eq!(row.get("WER").map(String::as_str), Some("12.34%"));
}

/// `kubectl explain` of each model kind names the two per-resource annotations (issue 29 point
/// 4), and the status field that echoes a reconcile request explains itself, as the API server
/// publishes the CRDs.
#[tokio::test]
async fn kubectl_explain_names_the_reconcile_and_drift_annotations() {
    let Some(cp) = control_plane() else { return };
    let explain = |what: &str| {
        let out = Command::new(cp.bins.join("kubectl"))
            .args(["--kubeconfig", &cp.kubeconfig.display().to_string()])
            .args(["explain", what])
            .output()
            .expect("run kubectl");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    };
    for kind in [
        "customlanguagemodels",
        "customacousticmodels",
        "customvoicemodels",
    ] {
        // The API server publishes a CRD's OpenAPI a moment after it is established.
        let text = support::eventually(
            "kubectl explain",
            std::time::Duration::from_secs(30),
            || async { explain(kind) },
        )
        .await;
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for annotation in [
            "speech.watson.dev/reconcile-requested-at",
            "speech.watson.dev/drift-interval",
        ] {
            assert!(flat.contains(annotation), "{kind}: {annotation} in {text}");
        }
        let field = explain(&format!("{kind}.status.reconcileRequestToken")).expect("explain");
        assert!(
            field.contains("reconcile-requested-at"),
            "{kind}.status.reconcileRequestToken: {field}"
        );
    }
}
