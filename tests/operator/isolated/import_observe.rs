//! Issue 13, items 4 and 6: `watson-speech-operator import` prints manifests that adopt an
//! instance's models, and applying them (management policy ObserveOnly) makes every model
//! Available with no write to the service: no create, no upload, no training, no reset, and no
//! delete when the resources are deleted (asserted from the simulator's request log). Drift is
//! reported, not fixed; a reset request is reported as ignored. Bad input to `import` (an
//! unreachable URL, refused credentials, a missing variable) exits non-zero with one `Error:`
//! line naming the fix.
//!
//! The import test is the only test of this binary that uses the shared simulator, so "no
//! write at all since the manifests were applied" is exact.

#[path = "../../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use support::operator::{self, HasModelStatus, condition, is_ready, wait_for};
use support::{TestNamespace, control_plane, eventually};
use watson_speech_operator::crd::{CustomAcousticModel, CustomLanguageModel, CustomVoiceModel};
use watson_speech_operator::simulator;
use watson_speech_operator::watson::stt_types::{CustomWord, WordDefinition};
use watson_speech_operator::watson::{Auth, ClientConfig, SttClient};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
    cluster_name: None,
};

const BIN: &str = env!("CARGO_BIN_EXE_watson-speech-operator");
const KEY_VAR: &str = "WSO_IMPORT_TEST_APIKEY";

/// Runs `watson-speech-operator import ARGS` with the API key in `KEY_VAR`: (exit ok, stdout,
/// stderr).
async fn import(args: &[&str], key: &str) -> (bool, String, String) {
    let out = tokio::process::Command::new(BIN)
        .arg("import")
        .args(args)
        .env(KEY_VAR, key)
        .output()
        .await
        .expect("run import");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn documents(yaml: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| <serde_json::Value as serde::Deserialize>::deserialize(d).expect("yaml"))
        .filter(|v| !v.is_null())
        .collect()
}

fn id_of(m: &impl HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.customization_id.clone())
        .expect("customization id")
}

fn ready_message(m: &impl HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn observed_available(m: &impl HasModelStatus) -> bool {
    condition(m, "Ready") == Some(("True".into(), "Observed".into()))
        && m.model().and_then(|s| s.phase.as_ref()).map(|p| p.as_str()) == Some("Available")
}

/// Makes one model of each kind on the service with the operator (deletionPolicy Retain), then
/// deletes the resources: the models stay, as if made by a script. Returns their IDs.
async fn models_made_elsewhere(ns: &TestNamespace) -> (String, String, String) {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("audio".into()),
            ..Default::default()
        },
        binary_data: Some(
            [(
                "audio.tar.gz".to_string(),
                k8s_openapi::ByteString(simulator::audio::tone_tar_gz("a.wav", 16_000, 660.0)),
            )]
            .into(),
        ),
        ..Default::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await
        .expect("cm");
    let lm: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "src-lm"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_Telephony",
                 "modelName": "Help Desk - Calls 2026", "description": "help desk calls",
                 "deletionPolicy": "Retain",
                 "corpora": [{"name": "faq", "source": {"text": "how do I reset my password"}}],
                 "grammars": [{"name": "yesno", "contentType": "abnf",
                               "source": {"text": "#ABNF 1.0;\nroot $yn;\n$yn = yes | no;"}}],
                 "words": [{"word": "tomato", "soundsLike": ["tomahto"]},
                           {"word": "IEEE", "soundsLike": ["I. triple E."], "displayAs": "IEEE"}]}
    }))
    .expect("lm");
    // The acoustic model needs a previous-generation base (the legacy service); the language
    // model is on today's next-generation base.
    let am: CustomAcousticModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomAcousticModel",
        "metadata": {"name": "src-am"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "modelName": "Help Desk - Calls 2026", "deletionPolicy": "Retain",
                 "audio": [{"name": "calls", "contentType": "application/gzip",
                            "source": {"configMapKeyRef": {"name": "audio", "key": "audio.tar.gz"}}}]}
    }))
    .expect("am");
    let vm: CustomVoiceModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomVoiceModel",
        "metadata": {"name": "src-vm"},
        "spec": {"serviceRef": {"name": "tts"}, "deletionPolicy": "Retain",
                 "words": [{"word": "IEEE", "translation": "I triple E"}]}
    }))
    .expect("vm");
    let (lms, ams, vms) = (
        ns.api::<CustomLanguageModel>(),
        ns.api::<CustomAcousticModel>(),
        ns.api::<CustomVoiceModel>(),
    );
    let pp = PostParams::default();
    lms.create(&pp, &lm).await.expect("lm");
    ams.create(&pp, &am).await.expect("am");
    vms.create(&pp, &vm).await.expect("vm");
    let lm_id = id_of(&wait_for(&lms, "src-lm", "Ready", 120, is_ready).await);
    let am_id = id_of(&wait_for(&ams, "src-am", "Ready", 120, is_ready).await);
    let vm_id = id_of(&wait_for(&vms, "src-vm", "Ready", 120, is_ready).await);
    let dp = DeleteParams::default();
    lms.delete("src-lm", &dp).await.expect("delete");
    ams.delete("src-am", &dp).await.expect("delete");
    vms.delete("src-vm", &dp).await.expect("delete");
    eventually("the source resources gone", Duration::from_secs(60), || {
        let (lms, ams, vms) = (lms.clone(), ams.clone(), vms.clone());
        async move {
            let gone = lms.get_opt("src-lm").await.ok()?.is_none()
                && ams.get_opt("src-am").await.ok()?.is_none()
                && vms.get_opt("src-vm").await.ok()?.is_none();
            gone.then_some(())
        }
    })
    .await;
    (lm_id, am_id, vm_id)
}

/// Requests since `since` that may change something (anything but a GET and the IAM token).
async fn writes_since(admin: &simulator::admin::AdminClient, since: u64) -> Vec<String> {
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

#[tokio::test]
async fn imported_models_are_observed_available_and_never_written_to() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start(cp, OPTIONS);
    let (ns, admin) = operator::namespace(cp, base, "import").await;
    let (lm_id, am_id, vm_id) = models_made_elsewhere(&ns).await;
    let ours = [lm_id.clone(), am_id.clone(), vm_id.clone()];

    // Import both services of the instance.
    let mut docs = Vec::new();
    for (kind, path, service) in [
        ("speech-to-text", "speech-to-text", "stt"),
        ("text-to-speech", "text-to-speech", "tts"),
    ] {
        let url = format!("{base}/{path}");
        let (ok, out, err) = import(
            &[
                "--url",
                &url,
                "--service-kind",
                kind,
                "--iam-url",
                base,
                "--apikey-env",
                KEY_VAR,
                "--service-ref",
                service,
            ],
            operator::API_KEY,
        )
        .await;
        assert!(ok, "import {kind} failed: {err}");
        assert!(
            !out.contains(operator::API_KEY) && !err.contains(operator::API_KEY),
            "the API key is never printed"
        );
        assert!(
            out.contains("cannot be downloaded from IBM") || kind == "text-to-speech",
            "a comment says why the sources are placeholders:\n{out}"
        );
        docs.extend(documents(&out));
    }
    // Other tests' models may be on the shared simulator: apply ours only.
    let mine: BTreeMap<String, serde_json::Value> = docs
        .into_iter()
        .filter_map(|d| {
            let id = d["spec"]["customizationId"].as_str()?.to_string();
            ours.contains(&id).then_some((id, d))
        })
        .collect();
    assert_eq!(mine.len(), 3, "one manifest per model: {mine:#?}");
    let lm = &mine[&lm_id];
    assert_eq!(lm["kind"], "CustomLanguageModel");
    assert_eq!(lm["metadata"]["name"], "help-desk-calls-2026");
    assert_eq!(lm["spec"]["managementPolicy"], "ObserveOnly");
    assert_eq!(lm["spec"]["serviceRef"]["name"], "stt");
    assert_eq!(lm["spec"]["baseModelName"], "en-US_Telephony");
    assert_eq!(lm["spec"]["modelName"], "Help Desk - Calls 2026");
    assert_eq!(
        lm["spec"]["description"], "help desk calls",
        "the ownership marker is not imported"
    );
    assert_eq!(
        lm["spec"]["corpora"],
        json!([{"name": "faq", "source": {"configMapKeyRef": {"name": "wso-import-placeholder-content", "key": "faq"}}}])
    );
    assert_eq!(lm["spec"]["grammars"][0]["name"], "yesno");
    assert_eq!(
        lm["spec"]["words"],
        json!([{"word": "IEEE", "soundsLike": ["I. triple E."]},
               {"word": "tomato", "soundsLike": ["tomahto"]}]),
        "the custom words in full"
    );
    let am = &mine[&am_id];
    assert_eq!(
        am["metadata"]["name"],
        format!("help-desk-calls-2026-{}", &am_id[..8]),
        "a unique name when two models share one"
    );
    assert_eq!(am["spec"]["audio"][0]["name"], "calls");
    assert_eq!(am["spec"]["audio"][0]["contentType"], "application/gzip");
    let vm = &mine[&vm_id];
    assert_eq!(
        vm["spec"]["words"],
        json!([{"word": "IEEE", "translation": "I triple E"}])
    );

    // Apply: every model Available, with no write to the service.
    let since = admin.requests(0).await.expect("log").next_seq;
    let pp = PostParams::default();
    let (lms, ams, vms) = (
        ns.api::<CustomLanguageModel>(),
        ns.api::<CustomAcousticModel>(),
        ns.api::<CustomVoiceModel>(),
    );
    let name = |d: &serde_json::Value| d["metadata"]["name"].as_str().expect("name").to_string();
    let (lm_name, am_name, vm_name) = (name(lm), name(am), name(vm));
    lms.create(&pp, &serde_json::from_value(lm.clone()).expect("typed"))
        .await
        .expect("apply lm");
    ams.create(&pp, &serde_json::from_value(am.clone()).expect("typed"))
        .await
        .expect("apply am");
    vms.create(&pp, &serde_json::from_value(vm.clone()).expect("typed"))
        .await
        .expect("apply vm");
    let m = wait_for(&lms, &lm_name, "observed Available", 60, observed_available).await;
    assert_eq!(id_of(&m), lm_id);
    assert_eq!(m.model().and_then(|s| s.adopted), Some(true));
    assert!(
        ready_message(&m).starts_with("observed only"),
        "{}",
        ready_message(&m)
    );
    wait_for(&ams, &am_name, "observed Available", 60, observed_available).await;
    wait_for(&vms, &vm_name, "observed Available", 60, observed_available).await;
    // Several drift checks (3 s each) later, still nothing was written.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let m = lms.get(&lm_name).await.expect("lm");
    assert!(
        !ready_message(&m).contains("differs"),
        "the imported spec matches the service: {}",
        ready_message(&m)
    );
    assert_eq!(writes_since(&admin, since).await, Vec::<String>::new());

    // Drift is reported, not fixed: a word added behind the operator's back.
    let stt = SttClient::new(ClientConfig::new(
        url::Url::parse(&format!("{base}/speech-to-text")).expect("url"),
        Auth::Iam {
            api_key: operator::API_KEY.to_string().into(),
            url: url::Url::parse(base).expect("iam"),
        },
    ))
    .expect("client");
    let before_word = admin.requests(0).await.expect("log").next_seq;
    stt.add_words(
        &lm_id,
        &[CustomWord {
            word: "extra".into(),
            definition: WordDefinition::default(),
        }],
    )
    .await
    .expect("out-of-band word");
    let after_word = admin.requests(0).await.expect("log").next_seq;
    let m = wait_for(&lms, &lm_name, "drift reported", 60, |m| {
        ready_message(m).contains("words on the service, not in the spec: extra")
    })
    .await;
    assert!(
        is_ready(&m),
        "drift does not make an observed model unready"
    );

    // A reset request is reported as ignored, and not made.
    let token =
        json!({"metadata": {"annotations": {"speech.watson.dev/reset-requested-at": "r1"}}});
    lms.patch(&lm_name, &PatchParams::default(), &Patch::Merge(&token))
        .await
        .expect("annotate");
    wait_for(&lms, &lm_name, "reset reported as ignored", 60, |m| {
        ready_message(m).contains("not acted on: annotation speech.watson.dev/reset-requested-at")
    })
    .await;
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events");
    assert!(
        events.items.iter().any(|e| {
            e.reason.as_deref() == Some("RequestIgnored")
                && e.type_.as_deref() == Some("Warning")
                && e.involved_object.name.as_deref() == Some(lm_name.as_str())
        }),
        "a Warning Event RequestIgnored"
    );

    // Deleting (deletionPolicy defaults to Delete) leaves every model on the service.
    let dp = DeleteParams::default();
    lms.delete(&lm_name, &dp).await.expect("delete");
    ams.delete(&am_name, &dp).await.expect("delete");
    vms.delete(&vm_name, &dp).await.expect("delete");
    eventually(
        "the observed resources gone",
        Duration::from_secs(60),
        || {
            let (lms, ams, vms) = (lms.clone(), ams.clone(), vms.clone());
            let (a, b, c) = (lm_name.clone(), am_name.clone(), vm_name.clone());
            async move {
                let gone = lms.get_opt(&a).await.ok()?.is_none()
                    && ams.get_opt(&b).await.ok()?.is_none()
                    && vms.get_opt(&c).await.ok()?.is_none();
                gone.then_some(())
            }
        },
    )
    .await;
    let on_service: Vec<String> = admin
        .models()
        .await
        .expect("models")
        .into_iter()
        .map(|m| m.customization_id)
        .collect();
    for id in &ours {
        assert!(
            on_service.contains(id),
            "model {id} is still on the service"
        );
    }
    let mut writes = writes_since(&admin, since).await;
    writes.retain(|w| {
        let seq: u64 = w
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        !(before_word..after_word).contains(&seq)
    });
    assert_eq!(
        writes,
        Vec::<String>::new(),
        "no create, upload, training, reset or delete (only the test's own word)"
    );
}

/// Runs the binary against an address nothing listens on, and with a refused key against a
/// simulator of the test's own: one `Error:` line naming the fix, a failing exit code, no secret.
#[tokio::test]
async fn import_refuses_bad_input_in_one_line_naming_the_fix() {
    let one_error_line = |err: &str| {
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(lines[0].starts_with("Error: "), "{err}");
        lines[0].to_string()
    };
    // Nothing listens on port 1.
    let (ok, out, err) = import(
        &[
            "--url",
            "http://127.0.0.1:1/speech-to-text",
            "--service-kind",
            "speech-to-text",
            "--auth-type",
            "None",
            "--service-ref",
            "stt",
        ],
        "unused",
    )
    .await;
    assert!(!ok && out.is_empty(), "{out}");
    let line = one_error_line(&err);
    assert!(
        line.contains("cannot reach http://127.0.0.1:1/speech-to-text")
            && line.contains("check --url"),
        "{line}"
    );

    // A missing variable.
    let (ok, _, err) = import(
        &[
            "--url",
            "http://127.0.0.1:1/x",
            "--service-kind",
            "speech-to-text",
            "--apikey-env",
            "WSO_IMPORT_TEST_UNSET_VARIABLE",
            "--service-ref",
            "stt",
        ],
        "unused",
    )
    .await;
    assert!(!ok);
    let line = one_error_line(&err);
    assert!(
        line.contains("WSO_IMPORT_TEST_UNSET_VARIABLE (--apikey-env) is not set"),
        "{line}"
    );

    // Refused credentials.
    let sim = simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec!["the-right-key".into()],
        auth_required: true,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let base = sim.base_url();
    let url = format!("{base}/speech-to-text");
    let wrong = "a-wrong-key-0123456789";
    let (ok, out, err) = import(
        &[
            "--url",
            &url,
            "--service-kind",
            "speech-to-text",
            "--iam-url",
            &base,
            "--apikey-env",
            KEY_VAR,
            "--service-ref",
            "stt",
        ],
        wrong,
    )
    .await;
    assert!(!ok && out.is_empty(), "{out}");
    let line = one_error_line(&err);
    assert!(
        line.contains("the credentials were refused")
            && line.contains(&format!("${KEY_VAR}"))
            && line.contains("--iam-url"),
        "{line}"
    );
    assert!(!line.contains(wrong), "the key is never printed: {line}");

    // The other service behind the URL.
    let (ok, _, err) = import(
        &[
            "--url",
            &url,
            "--service-kind",
            "text-to-speech",
            "--iam-url",
            &base,
            "--apikey-env",
            KEY_VAR,
            "--service-ref",
            "tts",
        ],
        "the-right-key",
    )
    .await;
    assert!(!ok);
    let line = one_error_line(&err);
    assert!(line.contains("--service-kind speech-to-text"), "{line}");
}

/// Issue 29: `import` reads with Cloud Pak for Data credentials (password or API key) and with a
/// trusted profile; a wrong password and a missing flag are one line each.
#[tokio::test]
async fn import_reads_with_cloud_pak_and_trusted_profile_credentials() {
    let sim = simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec!["the-right-key".into()],
        auth_required: true,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let base = sim.base_url();
    let url = format!("{base}/speech-to-text");
    let cloud_pak_url = format!("{base}/icp4d-api");
    let common = [
        "--url",
        url.as_str(),
        "--service-kind",
        "speech-to-text",
        "--service-ref",
        "stt",
    ];
    let cp4d = |extra: &[&'static str]| {
        let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        for a in [
            "--auth-type",
            "CloudPakForData",
            "--cloud-pak-url",
            cloud_pak_url.as_str(),
            "--username",
            "admin",
            "--apikey-env",
            KEY_VAR,
        ] {
            args.push(a.to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    for extra in [&[][..], &["--cloud-pak-api-key"][..]] {
        let args = cp4d(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = import(&args, "the-right-key").await;
        assert!(ok, "{err}");
    }
    let args = cp4d(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, err) = import(&args, "a-wrong-password-42").await;
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Invalid user or password") && !err.contains("a-wrong-password-42"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("vault-token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln").expect("token");
    let token = token.display().to_string();
    let mut args: Vec<&str> = common.to_vec();
    args.extend([
        "--auth-type",
        "TrustedProfile",
        "--profile-name",
        "simulator-profile",
        "--cr-token-file",
        token.as_str(),
        "--iam-url",
        base.as_str(),
    ]);
    let (ok, _, err) = import(&args, "unused").await;
    assert!(ok, "{err}");

    let mut args: Vec<&str> = common.to_vec();
    args.extend(["--auth-type", "TrustedProfile"]);
    let (ok, _, err) = import(&args, "unused").await;
    assert!(!ok);
    assert!(
        err.contains("--profile-id or --profile-name is required"),
        "{err}"
    );
}
