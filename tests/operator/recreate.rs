//! Issue 27, point 5, end to end on the real API server with the shared operator and a simulator
//! of each test's own on the default `ibm-cloud` profile (the service as IBM sells it today; the
//! shared simulator plays the legacy one): re-create without downtime. The annotation
//! `speech.watson.dev/recreate-requested-at` and a change of `spec.baseModelName` build a new
//! model beside the current one, feed and train it, then switch `status.customizationId` and the
//! export ConfigMap at once and delete the old model. A test watches the export ConfigMap through
//! the whole switch; a failed new model leaves the old one serving with the reason in status; a
//! deletion in the middle leaves nothing on the service. Every assertion is a state or a count,
//! none a duration.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;
use support::fixture::{self, Service, language_model};
use support::operator::{self, HasModelStatus, condition, wait_for};
use watson_speech_operator::crd::{CustomLanguageModel, Phase, RECREATE_REQUESTED_AT};
use watson_speech_operator::simulator::admin::AdminClient;
use watson_speech_operator::simulator::{self, Profile, RunningSimulator, SimulatorConfig};
use watson_speech_operator::watson::SttClient;

use crate::{OPTIONS, apply, id_of, is_available as available};

/// A namespace on the shared operator whose SpeechService `stt` talks to a simulator of the
/// test's own on the `ibm-cloud` profile (kept alive by the returned handle).
pub(crate) async fn ibm_cloud(
    prefix: &str,
) -> Option<(
    support::TestNamespace,
    RunningSimulator,
    AdminClient,
    SttClient,
)> {
    let cp = support::control_plane()?;
    operator::start(cp, OPTIONS);
    let sim = simulator::start(SimulatorConfig {
        profile: Profile::IbmCloud,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![operator::API_KEY.to_string()],
        auth_required: true,
        time_scale: OPTIONS.time_scale,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let ns = cp.namespace(prefix).await;
    let base = sim.base_url();
    fixture::credentials_and_services(&ns, operator::API_KEY, &base, &[Service::Stt]).await;
    let admin = sim.admin();
    let stt = operator::stt_client(&base);
    Some((ns, sim, admin, stt))
}

/// A language model on `base` with one corpus and one word, exported to the ConfigMap `<name>-cm`.
fn model(name: &str, base: &str) -> CustomLanguageModel {
    language_model(
        name,
        json!({
            "baseModelName": base,
            "corpora": [{"name": "c", "source": {"text": "the caller asks for the claims desk"}}],
            "words": [{"word": "claimsdesk", "displayAs": "claims desk"}],
            "export": {"configMapName": format!("{name}-cm")}
        }),
    )
}

/// Sets the re-create request token.
async fn request_recreate(api: &Api<CustomLanguageModel>, name: &str, token: &str) {
    let patch = json!({"metadata": {"annotations": {RECREATE_REQUESTED_AT: token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate");
}

/// Whether the simulator holds model `id`, trained (`available`).
async fn trained_on_service(stt: &SttClient, id: &str) -> bool {
    stt.get_language_model(id)
        .await
        .is_ok_and(|m| m.status.as_ref().is_some_and(|s| s.as_str() == "available"))
}

/// The IDs of every language model the simulator holds.
pub(crate) async fn on_service(stt: &SttClient) -> Vec<String> {
    stt.list_language_models(None)
        .await
        .expect("list")
        .customizations
        .into_iter()
        .map(|m| m.customization_id)
        .collect()
}

/// Successful calls of `op` in the (own) simulator's log.
pub(crate) async fn count(admin: &AdminClient, op: &str) -> usize {
    admin.successful_calls(op, 0).await.expect("log")
}

/// The customization ID the export ConfigMap names, if any.
pub(crate) fn exported(cm: &ConfigMap) -> Option<String> {
    cm.data.as_ref()?.get("customizationId").cloned()
}

/// What the watch of the export ConfigMap saw: the IDs it named, in order (repeats collapsed),
/// and every moment it named a model that was not trained on the service while it named it.
#[derive(Default)]
pub(crate) struct Watched {
    pub(crate) ids: Vec<String>,
    pub(crate) violations: Vec<String>,
}

/// Watches the ConfigMap `name` until dropped: every version is checked against the simulator
/// (the model it names must exist and be trained). A version already replaced when the check
/// runs is judged by the ConfigMap as it is now (it moved on: nothing was served from it).
pub(crate) fn watch_export(
    cms: Api<ConfigMap>,
    name: String,
    stt: SttClient,
) -> (Arc<Mutex<Watched>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Watched::default()));
    let out = seen.clone();
    let task = tokio::spawn(async move {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut events = std::pin::pin!(watcher::watcher(cms.clone(), config));
        while let Some(event) = events.next().await {
            let cm = match event {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => cm,
                _ => continue,
            };
            let Some(id) = exported(&cm) else { continue };
            if !trained_on_service(&stt, &id).await {
                let now = cms.get(&name).await.ok().as_ref().and_then(exported);
                if now.as_deref() == Some(id.as_str()) {
                    out.lock().expect("lock").violations.push(format!(
                        "the ConfigMap names {id}, not trained on the service"
                    ));
                }
            }
            let mut w = out.lock().expect("lock");
            if w.ids.last() != Some(&id) {
                w.ids.push(id);
            }
        }
    });
    (seen, task)
}

/// The resource switched to a new model (not `old`), Available, `Recreated` True.
fn switched_from(old: &str) -> impl Fn(&CustomLanguageModel) -> bool + '_ {
    move |m| {
        available(m)
            && m.model()
                .and_then(|s| s.customization_id.as_deref())
                .is_some_and(|id| id != old)
            && condition(m, "Recreated").is_some_and(|(s, r)| s == "True" && r == "Recreated")
    }
}

/// (1) A re-create on request of a trained model: the export ConfigMap, watched throughout,
/// always names a model trained on the service and changes exactly once, from the old model to
/// the new; one create; the old model is deleted at the end.
#[tokio::test]
async fn a_requested_re_create_switches_the_export_once_without_downtime() {
    let Some((ns, _sim, admin, stt)) = ibm_cloud("recreate-token").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    apply(&api, &model("lm", "en-US_Telephony")).await;
    let old = id_of(&wait_for(&api, "lm", "Available", 90, available).await);
    let cms: Api<ConfigMap> = ns.api();
    wait_for_export(&cms, "lm-cm", &old).await;
    let creates_before = count(&admin, "create_language_model").await;
    let (watched, task) = watch_export(cms.clone(), "lm-cm".into(), stt.clone());
    // The watch has seen the current ConfigMap before the request.
    support::eventually("the watch sees the export", Duration::from_secs(30), || {
        let w = watched.clone();
        async move { (!w.lock().expect("lock").ids.is_empty()).then_some(()) }
    })
    .await;

    request_recreate(&api, "lm", "2026-12-07T19:00:00Z").await;
    let m = wait_for(
        &api,
        "lm",
        "switched to a new model",
        120,
        switched_from(&old),
    )
    .await;
    let new = id_of(&m);
    let st = m.model().expect("status");
    assert_eq!(
        st.recreate_request_token.as_deref(),
        Some("2026-12-07T19:00:00Z")
    );
    assert!(st.successor.is_none(), "{:?}", st.successor);
    let (stt_ref, old_ref) = (&stt, &old);
    support::eventually(
        "the old model deleted",
        Duration::from_secs(60),
        || async move { (!on_service(stt_ref).await.contains(old_ref)).then_some(()) },
    )
    .await;
    assert!(trained_on_service(&stt, &new).await);
    wait_for_export(&cms, "lm-cm", &new).await;
    task.abort();
    let (ids, violations) = {
        let w = watched.lock().expect("lock");
        (w.ids.clone(), w.violations.clone())
    };
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(ids, vec![old.clone(), new.clone()], "exactly one change");
    assert_eq!(
        count(&admin, "create_language_model").await,
        creates_before + 1,
        "exactly one create"
    );
    assert_eq!(on_service(&stt).await, vec![new]);
}

/// Waits until the export ConfigMap `name` names `id`.
async fn wait_for_export(cms: &Api<ConfigMap>, name: &str, id: &str) {
    support::eventually(
        &format!("{name} names {id}"),
        Duration::from_secs(60),
        || async move {
            let cm = cms.get(name).await.ok()?;
            (exported(&cm).as_deref() == Some(id)).then_some(())
        },
    )
    .await;
}

/// (2) Migrating from a next-generation model to the large speech model of its locale by
/// changing `spec.baseModelName`: a new model on `en-US`, trained, switched to (the export names
/// it and its base), the old one deleted. CEL refuses another locale.
#[tokio::test]
async fn changing_the_base_model_migrates_to_the_large_speech_model() {
    let Some((ns, _sim, _admin, stt)) = ibm_cloud("recreate-migrate").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    apply(&api, &model("lm", "en-US_Telephony")).await;
    let old = id_of(&wait_for(&api, "lm", "Available", 90, available).await);

    let other_locale = json!({"spec": {"baseModelName": "de-DE_Telephony"}});
    let refused = api
        .patch("lm", &PatchParams::default(), &Patch::Merge(&other_locale))
        .await
        .expect_err("another locale is refused");
    assert!(
        refused.to_string().contains("within its locale"),
        "{refused}"
    );

    apply(&api, &model("lm", "en-US")).await;
    let m = wait_for(&api, "lm", "migrated", 120, switched_from(&old)).await;
    let new = id_of(&m);
    assert_eq!(
        m.model().and_then(|s| s.base_model_name.as_deref()),
        Some("en-US")
    );
    let on = stt.get_language_model(&new).await.expect("new model");
    assert_eq!(on.base_model_name.as_deref(), Some("en-US"));
    let cms: Api<ConfigMap> = ns.api();
    wait_for_export(&cms, "lm-cm", &new).await;
    let cm = cms.get("lm-cm").await.expect("export");
    let data = cm.data.expect("data");
    assert_eq!(data.get("baseModelName").map(String::as_str), Some("en-US"));
    assert!(
        data.get("baseModelVersion")
            .is_some_and(|v| v.starts_with("en-US.")),
        "{data:?}"
    );
    let (stt_ref, old_ref) = (&stt, &old);
    support::eventually(
        "the old model deleted",
        Duration::from_secs(60),
        || async move { (!on_service(stt_ref).await.contains(old_ref)).then_some(()) },
    )
    .await;
    // Steady on the new base: no further re-create.
    let m = wait_for(&api, "lm", "Available", 30, available).await;
    assert_eq!(id_of(&m), new);
}

/// Waits until `status.successor` names a new model in flight; returns its ID.
async fn successor_of(api: &Api<CustomLanguageModel>, name: &str) -> String {
    let m = wait_for(api, name, "a new model in flight", 60, |m| {
        m.model()
            .and_then(|s| s.successor.as_ref())
            .is_some_and(|s| s.customization_id.is_some())
    })
    .await;
    m.model()
        .and_then(|s| s.successor.as_ref())
        .and_then(|s| s.customization_id.clone())
        .expect("successor id")
}

/// (3) The new model's training fails on the service: it is deleted, the old model keeps serving
/// (status and export unchanged, trained on the service), the reason is in status (condition
/// `Recreated` False, `status.successor`, `nextAction`); a new token then re-creates.
#[tokio::test]
async fn a_failed_new_model_leaves_the_old_one_serving_and_a_new_token_retries() {
    let Some((ns, _sim, admin, stt)) = ibm_cloud("recreate-fail").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    apply(&api, &model("lm", "en-US_Telephony")).await;
    let old = id_of(&wait_for(&api, "lm", "Available", 90, available).await);

    request_recreate(&api, "lm", "t1").await;
    let next = successor_of(&api, "lm").await;
    // Held, its data is not analysed, so it cannot train before its training is set to fail.
    admin.hold(&next, true).await.expect("hold");
    admin.fail_next_training(&next).await.expect("fault");
    admin.hold(&next, false).await.expect("release");

    let m = wait_for(&api, "lm", "the re-create failed", 120, |m| {
        condition(m, "Recreated").is_some_and(|(s, r)| s == "False" && r == "RecreateFailed")
    })
    .await;
    let st = m.model().expect("status");
    assert_eq!(st.customization_id.as_deref(), Some(old.as_str()));
    assert!(operator::is_ready(&m), "the old model still serves");
    let failed = st.successor.clone().expect("the failure is recorded");
    assert_eq!(failed.customization_id, None);
    assert_eq!(failed.phase, Some(Phase::Failed));
    assert!(
        failed
            .message
            .as_deref()
            .is_some_and(|msg| msg.contains("training")),
        "{failed:?}"
    );
    assert_eq!(st.recreate_request_token.as_deref(), Some("t1"));
    let (stt_ref, next_ref) = (&stt, &next);
    support::eventually(
        "the failed model deleted",
        Duration::from_secs(30),
        || async move { (!on_service(stt_ref).await.contains(next_ref)).then_some(()) },
    )
    .await;
    assert!(trained_on_service(&stt, &old).await);
    let cms: Api<ConfigMap> = ns.api();
    assert_eq!(
        exported(&cms.get("lm-cm").await.expect("export")).as_deref(),
        Some(old.as_str())
    );
    let m = wait_for(&api, "lm", "says why in nextAction", 30, |m| {
        m.model()
            .and_then(|s| s.next_action.as_deref())
            .is_some_and(|n| n.contains("re-create failed"))
    })
    .await;
    assert_eq!(id_of(&m), old);

    request_recreate(&api, "lm", "t2").await;
    let m = wait_for(&api, "lm", "re-created on t2", 120, switched_from(&old)).await;
    assert_eq!(
        m.model().and_then(|s| s.recreate_request_token.as_deref()),
        Some("t2")
    );
}

/// (4) Deleting the resource while its new model is being built deletes both models: nothing is
/// left on the service.
#[tokio::test]
async fn deleting_in_the_middle_of_a_re_create_leaves_nothing_on_the_service() {
    let Some((ns, _sim, _admin, stt)) = ibm_cloud("recreate-delete").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    apply(&api, &model("lm", "en-US_Telephony")).await;
    wait_for(&api, "lm", "Available", 90, available).await;
    request_recreate(&api, "lm", "t1").await;
    let next = successor_of(&api, "lm").await;
    assert_eq!(on_service(&stt).await.len(), 2, "the old and the new model");
    assert!(on_service(&stt).await.contains(&next));

    api.delete("lm", &DeleteParams::default())
        .await
        .expect("delete");
    let api_ref = &api;
    support::eventually(
        "the resource gone",
        Duration::from_secs(90),
        || async move { api_ref.get_opt("lm").await.ok()?.is_none().then_some(()) },
    )
    .await;
    assert_eq!(on_service(&stt).await, Vec::<String>::new());
}

/// A migration to a base model the service no longer offers is refused before anything is
/// created: recorded as the re-create's failure; the old model keeps serving, Ready, exported.
#[tokio::test]
async fn a_refused_migration_leaves_the_old_model_serving() {
    let Some((ns, _sim, admin, stt)) = ibm_cloud("recreate-refused").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    apply(&api, &model("lm", "en-US_Telephony")).await;
    let old = id_of(&wait_for(&api, "lm", "Available", 90, available).await);
    admin
        .withdraw_base_model("en-US_Multimedia")
        .await
        .expect("withdraw");
    apply(&api, &model("lm", "en-US_Multimedia")).await;
    let m = wait_for(&api, "lm", "the migration refused", 60, |m| {
        condition(m, "Recreated").is_some_and(|(s, r)| s == "False" && r == "RecreateFailed")
    })
    .await;
    let st = m.model().expect("status");
    assert_eq!(st.customization_id.as_deref(), Some(old.as_str()));
    assert_eq!(st.base_model_name.as_deref(), Some("en-US_Telephony"));
    assert!(operator::is_ready(&m), "{:?}", st.conditions);
    let failed = st.successor.clone().expect("the refusal is recorded");
    assert_eq!(failed.base_model_name, "en-US_Multimedia");
    assert!(failed.message.is_some(), "{failed:?}");
    assert_eq!(on_service(&stt).await, vec![old.clone()]);
    let cms: Api<ConfigMap> = ns.api();
    let cm = cms.get("lm-cm").await.expect("export");
    assert_eq!(exported(&cm).as_deref(), Some(old.as_str()));
    assert_eq!(
        cm.data
            .and_then(|d| d.get("baseModelName").cloned())
            .as_deref(),
        Some("en-US_Telephony")
    );
}
