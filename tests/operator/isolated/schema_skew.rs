//! Issue 25, point 3: no schema skew. An operator started while the API server serves the
//! previous release's CustomLanguageModel CRD (`tests/fixtures/previous-release/`: an older schema,
//! without the `speech.watson.dev/schema-version` annotation, as `helm upgrade` leaves a chart's
//! `crds/`) reconciles nothing of that kind: no finalizer, no status, no call to the service; it
//! says why in its log, `wso_crd_schema_current{kind}` and `/readyz`, while the kinds whose CRDs
//! are current work. A CRD annotated with another version is refused the same way. With this
//! release's CRD served again and the operator restarted, the model is created.
//!
//! Its own test binary: it changes a CRD every test of a binary shares.

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use support::fixture::{self, Service, language_model, voice_model};
use support::operator::{API_KEY, HasModelStatus};
use support::process::OperatorProcess;
use support::{control_plane, eventually, free_port};
use watson_speech_operator::crd::{
    CustomLanguageModel, CustomVoiceModel, SCHEMA_VERSION, SCHEMA_VERSION_ANNOTATION,
};
use watson_speech_operator::simulator::admin::AdminClient;

const LANGUAGE_CRD: &str = "customlanguagemodels.speech.watson.dev";

/// Sets the schema-version annotation of the language-model CRD.
async fn set_schema_version(crds: &Api<CustomResourceDefinition>, version: &str) {
    let patch = json!({"metadata": {"annotations": {SCHEMA_VERSION_ANNOTATION: version}}});
    crds.patch(LANGUAGE_CRD, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch CRD");
}

/// Serves `crd` as the language-model CRD (a replace of the one served).
async fn serve(crds: &Api<CustomResourceDefinition>, mut crd: CustomResourceDefinition) {
    let served = crds.get(LANGUAGE_CRD).await.expect("served CRD");
    crd.metadata.resource_version = served.metadata.resource_version;
    crds.replace(LANGUAGE_CRD, &PostParams::default(), &crd)
        .await
        .expect("replace CRD");
}

/// The previous release's language-model CRD.
fn previous_release() -> CustomResourceDefinition {
    let crd: CustomResourceDefinition = serde_yaml::from_str(include_str!(
        "../../fixtures/previous-release/customlanguagemodels.yaml"
    ))
    .expect("fixture");
    assert!(
        crd.metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(SCHEMA_VERSION_ANNOTATION)),
        "the previous release's CRD carries no schema version"
    );
    crd
}

/// This release's language-model CRD, as `crd` prints it.
fn this_release() -> CustomResourceDefinition {
    watson_speech_operator::crd::all()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some(LANGUAGE_CRD))
        .expect("language-model CRD")
}

#[tokio::test]
async fn an_older_crd_is_not_reconciled_and_says_why() {
    let Some(cp) = control_plane() else { return };
    let client = cp.client().await.expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    serve(&crds, previous_release()).await;

    let sim = support::operator::own_simulator(API_KEY, 0.002).await;
    let admin = AdminClient::new(sim.base_url()).expect("admin");
    let ns = cp.namespace("skew").await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt, Service::Tts])
        .await;
    let port = free_port();
    let metrics_address = format!("127.0.0.1:{port}");
    let args = support::process::watching_args(&metrics_address, &ns.name);
    let log = cp.dir.join("schema-skew-operator.log");
    let mut operator = OperatorProcess::start(&cp.kubeconfig, &args, &[], &log);

    let lms: Api<CustomLanguageModel> = ns.api();
    let vms: Api<CustomVoiceModel> = ns.api();
    let lm = language_model("skewed", json!({"words": [{"word": "tomato"}]}));
    lms.create(&Default::default(), &lm)
        .await
        .expect("create lm");
    let vm = voice_model(
        "current",
        json!({"words": [{"word": "IEEE", "translation": "I triple E"}]}),
    );
    vms.create(&Default::default(), &vm)
        .await
        .expect("create vm");

    // The voice model (its CRD is current) is reconciled to Available by the same operator.
    let vms_ref = &vms;
    eventually(
        "the voice model Available",
        Duration::from_secs(90),
        || async move {
            let m = vms_ref.get("current").await.ok()?;
            (m.model()?.phase == Some(watson_speech_operator::crd::Phase::Available)).then_some(())
        },
    )
    .await;
    // /readyz and the metric say why; the log names the kind.
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    let why = ready.text().await.expect("body");
    assert!(why.contains("schema"), "{why}");
    let metrics = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains("wso_crd_schema_current{kind=\"CustomLanguageModel\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wso_crd_schema_current{kind=\"CustomVoiceModel\"} 1"),
        "{metrics}"
    );
    assert!(
        operator
            .log_text()
            .contains("CustomLanguageModel is not reconciled")
    );
    // The language model was left as it is: no finalizer, no status, no call about it.
    let m = lms.get("skewed").await.expect("get");
    assert!(m.metadata.finalizers.unwrap_or_default().is_empty());
    assert!(m.status.is_none());
    let requests = admin.requests(0).await.expect("log").requests;
    assert!(
        !requests
            .iter()
            .any(|r| r.operation.as_deref() == Some("create_language_model")),
        "no language model created"
    );

    // This release's CRD again, the operator restarted: the model is created.
    serve(&crds, this_release()).await;
    assert_eq!(
        crds.get(LANGUAGE_CRD)
            .await
            .expect("crd")
            .metadata
            .annotations
            .unwrap_or_default()
            .get(SCHEMA_VERSION_ANNOTATION)
            .map(String::as_str),
        Some(SCHEMA_VERSION)
    );
    operator.kill();
    let _operator = OperatorProcess::start(&cp.kubeconfig, &args, &[], &log);
    let lms_ref = &lms;
    eventually(
        "the language model Available",
        Duration::from_secs(90),
        || async move {
            let m = lms_ref.get("skewed").await.ok()?;
            (m.model()?.phase == Some(watson_speech_operator::crd::Phase::Available)).then_some(())
        },
    )
    .await;
    // A CRD annotated with another version is refused the same way; this one's is not.
    let client = cp.client().await.expect("client");
    set_schema_version(&crds, "2025-01-01.1").await;
    let stale = watson_speech_operator::reconcile::run::stale_schemas(&client, None).await;
    assert_eq!(
        stale.into_iter().collect::<Vec<_>>(),
        vec!["CustomLanguageModel".to_string()]
    );
    set_schema_version(&crds, SCHEMA_VERSION).await;
    let stale = watson_speech_operator::reconcile::run::stale_schemas(&client, None).await;
    assert!(stale.is_empty(), "{stale:?}");

    // A status a newer operator wrote (read after a rollback): a phase, a service status and a
    // condition reason this release does not know (the schema's open enums keep them; fields it
    // does not know are pruned by the API server). The model still reads, and once the operator
    // acts on it (a reconcile request) its status is written in this release's form.
    let newer = json!({"status": {
        "phase": "Migrating",
        "serviceStatus": "quantum",
        "futureField": {"from": "a newer operator"},
    }});
    lms.patch_status("skewed", &PatchParams::default(), &Patch::Merge(&newer))
        .await
        .expect("newer status");
    let m = lms.get("skewed").await.expect("a newer status reads");
    assert_eq!(
        m.model().and_then(|s| s.phase.clone()),
        Some(watson_speech_operator::crd::Phase::Unknown(
            "Migrating".into()
        ))
    );
    let request = json!({"metadata": {"annotations": {
        watson_speech_operator::crd::RECONCILE_REQUESTED_AT: "after-rollback"}}});
    lms.patch("skewed", &PatchParams::default(), &Patch::Merge(&request))
        .await
        .expect("request a reconcile");
    eventually(
        "the status rewritten in this release's form",
        Duration::from_secs(60),
        || async move {
            let m = lms_ref.get("skewed").await.ok()?;
            let s = m.model()?;
            (s.reconcile_request_token.as_deref() == Some("after-rollback")
                && s.phase == Some(watson_speech_operator::crd::Phase::Available))
            .then_some(())
        },
    )
    .await;
}
