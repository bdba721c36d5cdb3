//! Issue 13 item 7: `run --dry-run` decides and reports but changes nothing. The operator of this
//! binary runs with `Settings::dry_run`; the simulator's request log proves that a new model with
//! a corpus and words causes no call that changes the service, its `status.nextAction` says what
//! the operator would do, and deleting it leaves the resource waiting (no finalizer released).

#[path = "../../support/mod.rs"]
mod support;

use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::control_plane;
use support::operator::{self, HasModelStatus, wait_for};
use watson_speech_operator::crd::{CustomLanguageModel, FINALIZER};
use watson_speech_operator::simulator::admin::AdminClient;

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
    cluster_name: None,
};

/// Requests since `since` that may change something (anything but a GET and the IAM token).
async fn writes_since(admin: &AdminClient, since: u64) -> Vec<String> {
    admin
        .requests(since)
        .await
        .expect("request log")
        .requests
        .into_iter()
        .filter(|r| r.method != "GET" && r.operation.as_deref() != Some("get_token"))
        .map(|r| format!("{} {} ({:?}) seq {}", r.method, r.path, r.operation, r.seq))
        .collect()
}

fn next_action(m: &CustomLanguageModel) -> Option<&str> {
    m.model().and_then(|s| s.next_action.as_deref())
}

#[tokio::test]
async fn a_dry_run_reports_what_it_would_do_and_changes_nothing() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start_dry_run(cp, OPTIONS);
    let (ns, admin) = operator::namespace(cp, base, "dryrun").await;
    let api: Api<CustomLanguageModel> = ns.api();
    let lm: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "helpdesk"},
        "spec": {
            "serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
            "corpora": [{"name": "c1", "source": {"text": "a few words of domain text"}}],
            "words": [{"word": "tomato", "soundsLike": ["tomahto"]}]
        }
    }))
    .expect("lm");
    api.patch(
        "helpdesk",
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&lm),
    )
    .await
    .expect("apply");
    let would_create = "dry run: would create the model: none exists on the service yet";
    let m = wait_for(
        &api,
        "helpdesk",
        "nextAction says it would create",
        60,
        |m| next_action(m) == Some(would_create),
    )
    .await;
    // Nothing happened on the service, and status records nothing that did not happen.
    let status = m.model().expect("status");
    assert_eq!(status.customization_id, None);
    assert_eq!(status.phase, None);
    assert!(m.finalizers().iter().any(|f| f == FINALIZER));
    // A few more checks (drift interval 3 s) still make no write, to the service or to status.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(writes_since(&admin, 0).await, Vec::<String>::new());
    let later = api.get("helpdesk").await.expect("get");
    assert_eq!(
        later.resource_version(),
        m.resource_version(),
        "no status rewrite"
    );
    assert!(
        admin
            .requests(0)
            .await
            .expect("log")
            .requests
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/customizations")),
        "the dry run still reads the service"
    );

    // Deleting the resource releases no finalizer: the operator says it would.
    api.delete("helpdesk", &DeleteParams::default())
        .await
        .expect("delete");
    let m = wait_for(
        &api,
        "helpdesk",
        "nextAction says it would release",
        60,
        |m| {
            next_action(m)
                == Some("dry run: would release the finalizer: no model on the service to delete")
        },
    )
    .await;
    assert!(m.metadata.deletion_timestamp.is_some());
    assert!(m.finalizers().iter().any(|f| f == FINALIZER));
    assert_eq!(writes_since(&admin, 0).await, Vec::<String>::new());

    // Let the namespace go (the harness deletes it): take the finalizer off by hand.
    api.patch(
        "helpdesk",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizer");
}
