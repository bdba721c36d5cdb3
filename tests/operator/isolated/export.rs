//! Issue 13, item 1: `spec.export` hands a model to applications through a ConfigMap, on the real
//! API server (with kube-controller-manager, for the garbage collector) and the simulator.
//!
//! - the ConfigMap holds exactly the documented keys for each kind, is owned by the resource
//!   (controller ownerReference) and is written once per change of its content (every write is
//!   counted by a watch of the ConfigMap); an edit or a deletion by someone else is undone;
//! - an upgrade updates `baseModelVersion` (one write);
//! - a ConfigMap the operator does not own is never overwritten: `Exported` False with
//!   `ConfigMapNotOwned`, a message naming it, one Warning Event; renaming `spec.export` deletes
//!   the ConfigMap written before; removing it deletes the last one and the condition;
//! - deleting the resource deletes the ConfigMap (garbage collection).

#[path = "../../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::fixture;
use support::operator::{self, HasModelStatus, condition, is_ready, wait_for};
use support::{Options, TestNamespace, eventually};
use watson_speech_operator::crd::{CustomAcousticModel, CustomLanguageModel, CustomVoiceModel};

/// The garbage collector deletes a deleted resource's ConfigMap.
const CONTROL_PLANE: Options = Options {
    controller_manager: true,
};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
    cluster_name: None,
};

/// A language model on base model `base_model` with one corpus; the keys of `spec` are added.
fn lm(name: &str, base_model: &str, spec: serde_json::Value) -> CustomLanguageModel {
    let defaults = json!({"baseModelName": base_model,
                          "corpora": [{"name": "c", "source": {"text": "a few words of domain text"}}]});
    fixture::language_model(name, fixture::merge(defaults, spec))
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn id_of(m: &impl HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.customization_id.clone())
        .expect("customization id")
}

fn version_of(m: &impl HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.base_model_version.clone())
        .expect("base-model version")
}

/// The `Exported` condition: status, reason, message.
fn exported(m: &impl HasModelStatus) -> Option<(String, String, String)> {
    m.model()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Exported")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

type Data = BTreeMap<String, String>;
/// The changes of one ConfigMap seen by [`record_writes`].
type Writes = Arc<Mutex<Vec<(String, Data)>>>;

/// Every change of ConfigMap `name` from now on, as (`ADDED`/`MODIFIED`/`DELETED`, data): a
/// watch of that one object, so each write of it is one entry.
fn record_writes(api: Api<ConfigMap>, name: &str) -> Writes {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (out, name) = (seen.clone(), name.to_string());
    tokio::spawn(async move {
        let mut version = "0".to_string();
        loop {
            let params = WatchParams::default().fields(&format!("metadata.name={name}"));
            let Ok(stream) = api.watch(&params, &version).await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let mut stream = stream.boxed();
            while let Ok(Some(event)) = stream.try_next().await {
                let (kind, cm) = match event {
                    WatchEvent::Added(cm) => ("ADDED", cm),
                    WatchEvent::Modified(cm) => ("MODIFIED", cm),
                    WatchEvent::Deleted(cm) => ("DELETED", cm),
                    WatchEvent::Bookmark(b) => {
                        version = b.metadata.resource_version;
                        continue;
                    }
                    WatchEvent::Error(_) => break,
                };
                version = cm.resource_version().unwrap_or(version);
                if let Ok(mut seen) = out.lock() {
                    seen.push((kind.to_string(), cm.data.unwrap_or_default()));
                }
            }
        }
    });
    seen
}

fn writes(seen: &Writes) -> Vec<(String, Data)> {
    seen.lock().map(|s| s.clone()).unwrap_or_default()
}

/// Waits until ConfigMap `name` holds exactly `want`, and returns it.
async fn holds(api: &Api<ConfigMap>, name: &str, want: &BTreeMap<String, String>) -> ConfigMap {
    eventually(
        &format!("ConfigMap {name} holding {want:?}"),
        Duration::from_secs(60),
        || async move {
            let cm = api.get_opt(name).await.ok()??;
            (cm.data.as_ref() == Some(want)).then_some(cm)
        },
    )
    .await
}

async fn gone(api: &Api<ConfigMap>, name: &str, secs: u64) {
    eventually(
        &format!("ConfigMap {name} deleted"),
        Duration::from_secs(secs),
        || async move { api.get_opt(name).await.ok()?.is_none().then_some(()) },
    )
    .await;
}

/// The namespace's Events of `reason`: (note, how many times it was emitted). The recorder
/// folds repeats of one note into a series.
async fn events(ns: &TestNamespace, reason: &str) -> Vec<(String, i32)> {
    ns.api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| {
            let count = e.series.as_ref().map_or(1, |s| s.count);
            (e.note.unwrap_or_default(), count)
        })
        .collect()
}

#[tokio::test]
async fn exported_configmap_holds_the_model_is_restored_and_goes_with_the_resource() {
    let Some((ns, _admin, base)) = operator::setup_with(CONTROL_PLANE, OPTIONS, "export").await
    else {
        return;
    };
    let cms: Api<ConfigMap> = ns.api();
    let log = record_writes(cms.clone(), "helpdesk-model");
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &lm(
            "helpdesk",
            "en-US_BroadbandModel",
            json!({"export": {"configMapName": "helpdesk-model"}}),
        ),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "helpdesk", "Ready and Exported", 120, |m| {
        is_ready(m) && condition(m, "Exported") == Some(("True".into(), "Exported".into()))
    })
    .await;
    let want = map(&[
        ("customizationId", &id_of(&m)),
        ("baseModelName", "en-US_BroadbandModel"),
        ("baseModelVersion", &version_of(&m)),
        ("serviceUrl", &format!("{base}/speech-to-text")),
    ]);
    let cm = holds(&cms, "helpdesk-model", &want).await;
    assert_eq!(
        exported(&m).map(|c| c.2),
        Some(
            "ConfigMap helpdesk-model holds baseModelName, baseModelVersion, customizationId, serviceUrl"
                .to_string()
        )
    );
    assert_eq!(
        m.model().and_then(|s| s.exported_config_map.as_deref()),
        Some("helpdesk-model")
    );
    // Owned by the resource, as its controller; labelled; nothing else.
    let owners = cm.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(
        (
            owners[0].kind.as_str(),
            owners[0].name.as_str(),
            owners[0].uid.as_str(),
            owners[0].controller
        ),
        (
            "CustomLanguageModel",
            "helpdesk",
            m.uid().expect("uid").as_str(),
            Some(true)
        )
    );
    assert_eq!(
        cm.labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("watson-speech-operator")
    );
    assert!(cm.binary_data.is_none());

    // Written once, whatever the number of reconciles: wake the model (annotations wake it) and
    // let a few drift checks (3 s) pass.
    for i in 0..3 {
        api.patch(
            "helpdesk",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"example.com/touch": i.to_string()}}}),
            ),
        )
        .await
        .expect("touch");
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(writes(&log), vec![("ADDED".to_string(), want.clone())]);

    // Someone edits it: restored by the next reconcile (woken by the ConfigMap watch).
    cms.patch(
        "helpdesk-model",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"customizationId": "tampered", "extra": "x"}})),
    )
    .await
    .expect("edit");
    holds(&cms, "helpdesk-model", &want).await;
    // Someone deletes it: created again.
    cms.delete("helpdesk-model", &Default::default())
        .await
        .expect("delete");
    holds(&cms, "helpdesk-model", &want).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let kinds: Vec<String> = writes(&log).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        ["ADDED", "MODIFIED", "MODIFIED", "DELETED", "ADDED"],
        "the operator's create, the edit, its one restoring update, the deletion, its one re-create"
    );
    let notes = events(&ns, "Exported").await;
    assert_eq!(
        notes.iter().map(|(_, n)| n).sum::<i32>(),
        3,
        "one Normal Event per write: {notes:?}"
    );
    assert!(
        notes.iter().all(|(note, _)| note
            == "wrote ConfigMap helpdesk-model: baseModelName, baseModelVersion, customizationId, serviceUrl"),
        "{notes:?}"
    );

    // Deleting the resource deletes the ConfigMap (garbage collector).
    api.delete("helpdesk", &Default::default())
        .await
        .expect("delete model");
    gone(&cms, "helpdesk-model", 120).await;
}

#[tokio::test]
async fn an_upgrade_updates_the_exported_version_with_one_write() {
    let Some((ns, admin, base)) =
        operator::setup_with(CONTROL_PLANE, OPTIONS, "export-upgrade").await
    else {
        return;
    };
    // A base model no other test of this binary uses: the new version is seen by this model only.
    let base_model = "en-GB_BroadbandModel";
    let cms: Api<ConfigMap> = ns.api();
    let log = record_writes(cms.clone(), "uk-model");
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &lm(
            "uk",
            base_model,
            json!({"export": {"configMapName": "uk-model"}}),
        ),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "uk", "Ready", 120, is_ready).await;
    let (id, old_version) = (id_of(&m), version_of(&m));
    let url = format!("{base}/speech-to-text");
    let before = map(&[
        ("customizationId", &id),
        ("baseModelName", base_model),
        ("baseModelVersion", &old_version),
        ("serviceUrl", &url),
    ]);
    holds(&cms, "uk-model", &before).await;

    let new_version = admin
        .publish_base_version(base_model, Some("en-GB_BroadbandModel.v2027-01-01"))
        .await
        .expect("publish");
    assert_ne!(new_version, old_version);
    api.patch(
        "uk",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"baseModelVersion": new_version}})),
    )
    .await
    .expect("ask for the new version");
    wait_for(&api, "uk", "upgraded and Ready", 120, |m| {
        is_ready(m) && version_of(m) == new_version
    })
    .await;
    let after = map(&[
        ("customizationId", &id),
        ("baseModelName", base_model),
        ("baseModelVersion", &new_version),
        ("serviceUrl", &url),
    ]);
    holds(&cms, "uk-model", &after).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        writes(&log),
        vec![
            ("ADDED".to_string(), before),
            ("MODIFIED".to_string(), after)
        ],
        "one write per content: created, then the new version"
    );
}

#[tokio::test]
async fn a_configmap_the_operator_does_not_own_is_never_overwritten() {
    let Some((ns, _admin, base)) =
        operator::setup_with(CONTROL_PLANE, OPTIONS, "export-foreign").await
    else {
        return;
    };
    let cms: Api<ConfigMap> = ns.api();
    let theirs = map(&[("app", "mine")]);
    cms.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some("taken".into()),
                ..Default::default()
            },
            data: Some(theirs.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("someone's ConfigMap");
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &lm(
            "sales",
            "en-US_BroadbandModel",
            json!({"export": {"configMapName": "taken"}}),
        ),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "sales", "Ready, not exported", 120, |m| {
        is_ready(m)
            && condition(m, "Exported") == Some(("False".into(), "ConfigMapNotOwned".into()))
    })
    .await;
    let message = "ConfigMap taken already exists and is not owned by this CustomLanguageModel: the operator never overwrites it; delete that ConfigMap or set spec.export.configMapName to another name";
    assert_eq!(exported(&m).map(|c| c.2).as_deref(), Some(message));
    assert_eq!(m.model().and_then(|s| s.exported_config_map.clone()), None);
    // A few reconciles later: still untouched, one Warning Event.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let cm = cms.get("taken").await.expect("taken");
    assert_eq!(cm.data.as_ref(), Some(&theirs));
    assert!(cm.metadata.owner_references.is_none());
    assert_eq!(
        events(&ns, "ConfigMapNotOwned").await,
        vec![(message.to_string(), 1)],
        "one Warning Event"
    );

    // Renamed to a free name: written there.
    let want = map(&[
        ("customizationId", &id_of(&m)),
        ("baseModelName", "en-US_BroadbandModel"),
        ("baseModelVersion", &version_of(&m)),
        ("serviceUrl", &format!("{base}/speech-to-text")),
    ]);
    let rename = |to: serde_json::Value| {
        let api = api.clone();
        async move {
            api.patch(
                "sales",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"export": to}})),
            )
            .await
            .expect("patch export")
        }
    };
    rename(json!({"configMapName": "sales-model"})).await;
    holds(&cms, "sales-model", &want).await;
    wait_for(&api, "sales", "Exported", 30, |m| {
        condition(m, "Exported") == Some(("True".into(), "Exported".into()))
    })
    .await;
    // Renamed again: the previous one is deleted, the new one written.
    rename(json!({"configMapName": "sales-model-2"})).await;
    holds(&cms, "sales-model-2", &want).await;
    gone(&cms, "sales-model", 30).await;
    // Removed: the last one is deleted and the condition goes.
    rename(serde_json::Value::Null).await;
    gone(&cms, "sales-model-2", 30).await;
    wait_for(&api, "sales", "no Exported condition", 30, |m| {
        exported(m).is_none() && m.model().is_some_and(|s| s.exported_config_map.is_none())
    })
    .await;
    // Someone else's ConfigMap was never touched.
    assert_eq!(cms.get("taken").await.expect("taken").data, Some(theirs));
}

#[tokio::test]
async fn acoustic_and_voice_models_export_what_their_calls_need() {
    let Some((ns, _admin, base)) =
        operator::setup_with(CONTROL_PLANE, OPTIONS, "export-kinds").await
    else {
        return;
    };
    let cms: Api<ConfigMap> = ns.api();
    cms.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some("audio".into()),
                ..Default::default()
            },
            binary_data: Some(
                [(
                    "audio.tar.gz".to_string(),
                    k8s_openapi::ByteString(watson_speech_operator::simulator::audio::tone_tar_gz(
                        "a.wav", 16_000, 660.0,
                    )),
                )]
                .into(),
            ),
            ..Default::default()
        },
    )
    .await
    .expect("audio");
    let lms: Api<CustomLanguageModel> = ns.api();
    lms.create(
        &PostParams::default(),
        &lm("words", "en-US_BroadbandModel", json!({})),
    )
    .await
    .expect("lm");
    let am: CustomAcousticModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomAcousticModel",
        "metadata": {"name": "voices"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "languageModelRef": {"name": "words"},
                 "export": {"configMapName": "voices-model"},
                 "audio": [{"name": "a1", "contentType": "application/gzip",
                            "source": {"configMapKeyRef": {"name": "audio", "key": "audio.tar.gz"}}}]}
    }))
    .expect("am");
    let ams: Api<CustomAcousticModel> = ns.api();
    ams.create(&PostParams::default(), &am).await.expect("am");
    let vm: CustomVoiceModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomVoiceModel",
        "metadata": {"name": "brand"},
        "spec": {"serviceRef": {"name": "tts"}, "export": {"configMapName": "brand-voice"},
                 "words": [{"word": "IBM", "translation": "I B M"}]}
    }))
    .expect("vm");
    let vms: Api<CustomVoiceModel> = ns.api();
    vms.create(&PostParams::default(), &vm).await.expect("vm");

    let lm = wait_for(&lms, "words", "Ready", 120, is_ready).await;
    let am = wait_for(&ams, "voices", "Ready", 180, is_ready).await;
    let vm = wait_for(&vms, "brand", "Ready", 60, is_ready).await;
    holds(
        &cms,
        "voices-model",
        &map(&[
            ("customizationId", &id_of(&am)),
            ("baseModelName", "en-US_BroadbandModel"),
            ("baseModelVersion", &version_of(&am)),
            ("languageCustomizationId", &id_of(&lm)),
            ("serviceUrl", &format!("{base}/speech-to-text")),
        ]),
    )
    .await;
    holds(
        &cms,
        "brand-voice",
        &map(&[
            ("customizationId", &id_of(&vm)),
            ("language", "en-US"),
            ("serviceUrl", &format!("{base}/text-to-speech")),
        ]),
    )
    .await;
}
